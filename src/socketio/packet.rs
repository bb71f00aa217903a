//! Socket.IO version 5 packets: what travels inside Engine.IO message
//! packets, and how binary arguments travel beside them.
//!
//! The specification is the README of
//! <https://github.com/socketio/socket.io-protocol>; section names below
//! are its headings.
//!
//! # Packets ("Exchange protocol")
//!
//! | type          | digit | payload                               | ack id    |
//! |---------------|-------|---------------------------------------|-----------|
//! | CONNECT       | `0`   | none, or an object (auth; the `sid` in the answer) | no |
//! | DISCONNECT    | `1`   | none                                  | no        |
//! | EVENT         | `2`   | an array: the event name, then its arguments | optional |
//! | ACK           | `3`   | an array of the answer's arguments (may be empty) | required |
//! | CONNECT_ERROR | `4`   | an object (`{"message":...}`); a string in older servers | no |
//! | BINARY_EVENT  | `5`   | as EVENT, binary arguments replaced by placeholders | optional |
//! | BINARY_ACK    | `6`   | as ACK, likewise                      | required  |
//!
//! # Encoding ("Packet encoding", "Format")
//!
//! ```text
//!   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//!
//!   2["foo"]                                     EVENT "foo" on /
//!   2/admin,13["foo"]                            the same on /admin, ack id 13
//!   51-["baz",{"_placeholder":true,"num":0}]     BINARY_EVENT, one attachment
//! ```
//!
//! The namespace is written only when it is not `/`, and then always
//! followed by a comma. A binary packet is its text followed by its
//! attachments, one Engine.IO binary message each, in the order of their
//! `num`; each placeholder in the JSON stands for one of them.
//!
//! # Binary arguments: [`Data`]
//!
//! Arguments are [`Data`]: JSON values that may also hold bytes
//! ([`Data::Binary`]) anywhere inside them. [`Packet::encode`] replaces
//! each binary with a placeholder numbered in document order and returns
//! the attachments beside the text; it writes the binary packet types (5,
//! 6) exactly when there is binary to carry, as the official parser does.
//! [`Decoder`] does the reverse and hands back an EVENT or ACK whichever
//! type it arrived as.
//!
//! # What the decoder refuses
//!
//! Every rule is a [`DecodeError`]: an unknown type digit; an attachment
//! count that is not digits followed by `-`, or over
//! [`Limits::max_attachments`]; a namespace that lacks its comma before a payload or holds a
//! control character; an ack id that overflows `u64`, is followed by
//! something other than the payload, is on a type that takes none, or is
//! missing from an ACK; malformed JSON ([`crate::json`], strict); a payload
//! of the wrong shape for its type (the table above); in a binary packet, a
//! placeholder that is malformed, out of range, repeated, or an attachment
//! that no placeholder refers to; text arriving while attachments are
//! expected, or an attachment when none is.
//!
//! The official parser lets some of these through (a repeated placeholder,
//! an unreferenced attachment, ack ids on any type); a strict decoder
//! refuses them, since no conforming encoder produces them.

use std::fmt;

use super::engineio;
use crate::json::{self, Number, Value};

/// The type of a Socket.IO packet, with its digit on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: connect to a namespace, or the server's acceptance.
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event.
    Event = 2,
    /// `3`: the answer to an event.
    Ack = 3,
    /// `4`: the server refuses a connection to a namespace.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an answer with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The type written as `digit`, if it is one.
    pub fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The digit this type is written as.
    pub fn digit(self) -> char {
        char::from(b'0' + self as u8)
    }

    /// The name the specification uses.
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Event => "EVENT",
            PacketType::Ack => "ACK",
            PacketType::ConnectError => "CONNECT_ERROR",
            PacketType::BinaryEvent => "BINARY_EVENT",
            PacketType::BinaryAck => "BINARY_ACK",
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// A namespace: `/`, or a name starting with `/` with no comma and no
/// control character in it.
///
/// ```
/// use stdws::socketio::packet::Namespace;
/// assert_eq!(Namespace::new("/admin")?.as_str(), "/admin");
/// assert!(Namespace::new("admin").is_err());
/// assert!(Namespace::new("/a,b").is_err());
/// assert!(Namespace::root().is_root());
/// # Ok::<(), stdws::socketio::packet::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// The main namespace, `/`.
    pub fn root() -> Namespace {
        Namespace("/".to_owned())
    }

    /// `name`, if it is a namespace; [`DecodeError::BadNamespace`] if not.
    pub fn new(name: &str) -> Result<Namespace, DecodeError> {
        let valid = name.starts_with('/') && !name.chars().any(|c| c == ',' || c.is_control());
        if !valid {
            return Err(DecodeError::BadNamespace(name.to_owned()));
        }
        Ok(Namespace(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`, which the encoding leaves out.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }
}

impl Default for Namespace {
    fn default() -> Namespace {
        Namespace::root()
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Namespace {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// A JSON value that may also hold binary data: the arguments of events and
/// acknowledgements.
///
/// ```
/// use stdws::socketio::packet::Data;
/// let data = Data::array([Data::from("avatar"), Data::binary([0xff, 0xd8])]);
/// assert!(data.has_binary());
/// assert_eq!(data.as_array().unwrap()[1].as_bytes(), Some(&[0xff, 0xd8][..]));
/// assert_eq!(Data::from(stdws::json::Value::from(3)).to_json(), Some(3.into()));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Data {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// Bytes, sent as an attachment.
    Binary(Vec<u8>),
    /// An array.
    Array(Vec<Data>),
    /// An object, in member order.
    Object(Vec<(String, Data)>),
}

impl Data {
    /// Binary data.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Data {
        Data::Binary(bytes.into())
    }

    /// An array of `items`.
    pub fn array(items: impl IntoIterator<Item = Data>) -> Data {
        Data::Array(items.into_iter().collect())
    }

    /// An object of `members`, in their order.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Data)>) -> Data {
        Data::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Data::Null)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Data::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is binary.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Data::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Data]> {
        match self {
            Data::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Data)]> {
        match self {
            Data::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The value of member `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Data> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether binary data is anywhere inside.
    pub fn has_binary(&self) -> bool {
        match self {
            Data::Binary(_) => true,
            Data::Array(items) => items.iter().any(Data::has_binary),
            Data::Object(members) => members.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// The same value as JSON, if it holds no binary.
    pub fn to_json(&self) -> Option<Value> {
        Some(match self {
            Data::Null => Value::Null,
            Data::Bool(b) => Value::Bool(*b),
            Data::Number(n) => Value::Number(*n),
            Data::String(s) => Value::String(s.clone()),
            Data::Binary(_) => return None,
            Data::Array(items) => {
                Value::Array(items.iter().map(Data::to_json).collect::<Option<_>>()?)
            }
            Data::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }

    /// Writes the JSON form, each binary replaced by a placeholder whose
    /// `num` is its place in `attachments`, where its bytes go.
    fn write(&self, out: &mut String, attachments: &mut Vec<Vec<u8>>) {
        match self {
            Data::Null => out.push_str("null"),
            Data::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Data::Number(n) => out.push_str(&n.to_string()),
            Data::String(s) => json::write_string(out, s),
            Data::Binary(bytes) => {
                out.push_str("{\"_placeholder\":true,\"num\":");
                out.push_str(&attachments.len().to_string());
                out.push('}');
                attachments.push(bytes.clone());
            }
            Data::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out, attachments);
                }
                out.push(']');
            }
            Data::Object(members) => {
                out.push('{');
                for (i, (key, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json::write_string(out, key);
                    out.push(':');
                    item.write(out, attachments);
                }
                out.push('}');
            }
        }
    }
}

impl From<Value> for Data {
    fn from(value: Value) -> Data {
        match value {
            Value::Null => Data::Null,
            Value::Bool(b) => Data::Bool(b),
            Value::Number(n) => Data::Number(n),
            Value::String(s) => Data::String(s),
            Value::Array(items) => Data::Array(items.into_iter().map(Data::from).collect()),
            Value::Object(members) => Data::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, Data::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Data {
        Data::String(s.to_owned())
    }
}

impl From<String> for Data {
    fn from(s: String) -> Data {
        Data::String(s)
    }
}

impl From<bool> for Data {
    fn from(b: bool) -> Data {
        Data::Bool(b)
    }
}

impl From<i64> for Data {
    fn from(n: i64) -> Data {
        Data::Number(n.into())
    }
}

impl From<u64> for Data {
    fn from(n: u64) -> Data {
        Data::Number(n.into())
    }
}

impl From<i32> for Data {
    fn from(n: i32) -> Data {
        Data::Number(i64::from(n).into())
    }
}

impl From<u32> for Data {
    fn from(n: u32) -> Data {
        Data::Number(u64::from(n).into())
    }
}

/// A finite number; NaN and the infinities, which JSON cannot hold, are
/// `null` (as `JSON.stringify` writes them).
impl From<f64> for Data {
    fn from(n: f64) -> Data {
        Number::from_f64(n).map_or(Data::Null, Data::Number)
    }
}

impl From<Vec<Data>> for Data {
    fn from(items: Vec<Data>) -> Data {
        Data::Array(items)
    }
}

/// A Socket.IO packet, as the application sees it: binary packets are
/// events and acks whose arguments hold [`Data::Binary`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Packet {
    /// CONNECT: a client asks to join `namespace`, with optional auth data;
    /// the server accepts with `{"sid": ...}`. The payload is an object.
    Connect {
        /// The namespace.
        namespace: Namespace,
        /// The payload, an object, if any.
        data: Option<Value>,
    },
    /// DISCONNECT from `namespace`.
    Disconnect {
        /// The namespace.
        namespace: Namespace,
    },
    /// EVENT (or BINARY_EVENT): the event `name` with its arguments, and an
    /// ack id if the sender wants an answer.
    Event {
        /// The namespace.
        namespace: Namespace,
        /// The event's name, the first element of the payload.
        name: String,
        /// The arguments after the name.
        args: Vec<Data>,
        /// The ack id, if an answer is wanted.
        id: Option<u64>,
    },
    /// ACK (or BINARY_ACK): the answer to the event with ack id `id`.
    Ack {
        /// The namespace.
        namespace: Namespace,
        /// The arguments of the answer.
        args: Vec<Data>,
        /// The id of the event answered.
        id: u64,
    },
    /// CONNECT_ERROR: the server refuses the connection to `namespace`;
    /// `data` is an object such as `{"message":"Not authorized"}` (or a
    /// string, from servers older than v5).
    ConnectError {
        /// The namespace.
        namespace: Namespace,
        /// The payload.
        data: Value,
    },
}

/// An encoded packet: its text, then its attachments in order.
///
/// Over Engine.IO, the text goes as a message packet and each attachment as
/// a binary message right after it ([`Encoded::into_engineio`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The packet's text.
    pub text: String,
    /// The binary attachments, `num` 0 first.
    pub attachments: Vec<Vec<u8>>,
}

impl Encoded {
    /// The Engine.IO packets that carry this one, in order.
    pub fn into_engineio(self) -> Vec<engineio::Packet> {
        let mut packets = Vec::with_capacity(1 + self.attachments.len());
        packets.push(engineio::Packet::Message(self.text));
        packets.extend(self.attachments.into_iter().map(engineio::Packet::Binary));
        packets
    }
}

impl Packet {
    /// The namespace the packet belongs to.
    pub fn namespace(&self) -> &Namespace {
        match self {
            Packet::Connect { namespace, .. }
            | Packet::Disconnect { namespace }
            | Packet::Event { namespace, .. }
            | Packet::Ack { namespace, .. }
            | Packet::ConnectError { namespace, .. } => namespace,
        }
    }

    /// Encodes the packet ("Packet encoding"): its text and attachments.
    ///
    /// ```
    /// use stdws::socketio::packet::{Data, Namespace, Packet};
    /// let packet = Packet::Event {
    ///     namespace: Namespace::root(),
    ///     name: "baz".into(),
    ///     args: vec![Data::binary([1, 2, 3, 4])],
    ///     id: None,
    /// };
    /// let encoded = packet.encode();
    /// assert_eq!(encoded.text, r#"51-["baz",{"_placeholder":true,"num":0}]"#);
    /// assert_eq!(encoded.attachments, [vec![1, 2, 3, 4]]);
    /// ```
    pub fn encode(&self) -> Encoded {
        let mut attachments = Vec::new();
        let mut payload = String::new();
        let (mut packet_type, id) = match self {
            Packet::Connect { data, .. } => {
                if let Some(data) = data {
                    payload = data.to_string();
                }
                (PacketType::Connect, None)
            }
            Packet::Disconnect { .. } => (PacketType::Disconnect, None),
            Packet::Event { name, args, id, .. } => {
                payload.push('[');
                json::write_string(&mut payload, name);
                for arg in args {
                    payload.push(',');
                    arg.write(&mut payload, &mut attachments);
                }
                payload.push(']');
                (PacketType::Event, *id)
            }
            Packet::Ack { args, id, .. } => {
                Data::write_all(args, &mut payload, &mut attachments);
                (PacketType::Ack, Some(*id))
            }
            Packet::ConnectError { data, .. } => {
                payload = data.to_string();
                (PacketType::ConnectError, None)
            }
        };
        let mut text = String::new();
        if !attachments.is_empty() {
            packet_type = match packet_type {
                PacketType::Event => PacketType::BinaryEvent,
                _ => PacketType::BinaryAck,
            };
        }
        text.push(packet_type.digit());
        if packet_type.is_binary() {
            text.push_str(&attachments.len().to_string());
            text.push('-');
        }
        let namespace = self.namespace();
        if !namespace.is_root() {
            text.push_str(namespace.as_str());
            text.push(',');
        }
        if let Some(id) = id {
            text.push_str(&id.to_string());
        }
        text.push_str(&payload);
        Encoded { text, attachments }
    }
}

impl Data {
    fn write_all(items: &[Data], out: &mut String, attachments: &mut Vec<Vec<u8>>) {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write(out, attachments);
        }
        out.push(']');
    }
}

/// Bounds on what a [`Decoder`] accepts from a peer.
///
/// ```
/// use stdws::socketio::packet::Limits;
/// let limits = Limits::default().max_attachments(4).max_attachment_bytes(1 << 20);
/// assert_eq!(limits.max_attachments, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most attachments one packet may announce (10 by default, as the
    /// official parser).
    pub max_attachments: usize,
    /// The most bytes the attachments of one packet may hold together
    /// (1,000,000 by default).
    pub max_attachment_bytes: usize,
    /// The limits on the JSON payload.
    pub json: json::Limits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
            json: json::Limits::default(),
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_attachments`].
    pub fn max_attachments(mut self, count: usize) -> Limits {
        self.max_attachments = count;
        self
    }

    /// Sets [`Limits::max_attachment_bytes`].
    pub fn max_attachment_bytes(mut self, bytes: usize) -> Limits {
        self.max_attachment_bytes = bytes;
        self
    }

    /// Sets [`Limits::json`].
    pub fn json(mut self, limits: json::Limits) -> Limits {
        self.json = limits;
        self
    }
}

/// Why a Socket.IO packet was refused. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// An empty packet.
    Empty,
    /// The first character is not a type digit `0`-`6`.
    UnknownType(char),
    /// A binary packet's attachment count is not digits followed by `-`.
    BadAttachmentCount,
    /// More attachments announced than [`Limits::max_attachments`].
    TooManyAttachments {
        /// The limit.
        limit: usize,
    },
    /// A namespace missing its `,`, not starting with `/`, or holding a
    /// control character.
    BadNamespace(String),
    /// An ack id beyond `u64`.
    AckIdOverflow,
    /// An ack id followed by something other than the payload's `[`.
    InvalidAckId,
    /// An ack id on a packet type that takes none.
    UnexpectedAckId(PacketType),
    /// An ACK without its ack id.
    MissingAckId(PacketType),
    /// The payload is not JSON.
    Json(json::Error),
    /// A packet type that needs a payload has none.
    MissingPayload(PacketType),
    /// A payload on a packet type that takes none.
    UnexpectedPayload(PacketType),
    /// The payload has the wrong shape for its type; the text says which.
    InvalidPayload(PacketType, &'static str),
    /// A placeholder that is not exactly `{"_placeholder":true,"num":N}`.
    BadPlaceholder,
    /// A placeholder whose `num` is not below the attachment count.
    PlaceholderOutOfRange(u64),
    /// Two placeholders with the same `num`.
    DuplicatePlaceholder(u64),
    /// An attachment that no placeholder refers to.
    MissingPlaceholder(usize),
    /// A text packet arrived while attachments were expected.
    UnexpectedText {
        /// How many attachments were still expected.
        expected: usize,
    },
    /// An attachment arrived when none was expected.
    UnexpectedBinary,
    /// The attachments are larger than [`Limits::max_attachment_bytes`].
    AttachmentsTooLarge {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty Socket.IO packet"),
            DecodeError::UnknownType(c) => {
                write!(f, "unknown Socket.IO packet type {c:?} (expected 0-6)")
            }
            DecodeError::BadAttachmentCount => {
                f.write_str("binary packet without an attachment count followed by '-'")
            }
            DecodeError::TooManyAttachments { limit } => write!(f, "more than {limit} attachments"),
            DecodeError::BadNamespace(n) => write!(
                f,
                "bad namespace {n:?} (it must start with '/', end with ',' and hold no control character)"
            ),
            DecodeError::AckIdOverflow => f.write_str("ack id beyond 64 bits"),
            DecodeError::InvalidAckId => f.write_str("ack id not followed by the payload's '['"),
            DecodeError::UnexpectedAckId(t) => {
                write!(f, "{} packet with an ack id, which it takes none", t.name())
            }
            DecodeError::MissingAckId(t) => write!(f, "{} packet without its ack id", t.name()),
            DecodeError::Json(e) => write!(f, "payload: {e}"),
            DecodeError::MissingPayload(t) => write!(f, "{} packet without its payload", t.name()),
            DecodeError::UnexpectedPayload(t) => {
                write!(f, "{} packet with a payload, which it takes none", t.name())
            }
            DecodeError::InvalidPayload(t, why) => write!(f, "{} payload {why}", t.name()),
            DecodeError::BadPlaceholder => {
                f.write_str("placeholder is not {\"_placeholder\":true,\"num\":N}")
            }
            DecodeError::PlaceholderOutOfRange(n) => {
                write!(f, "placeholder num {n} beyond the attachment count")
            }
            DecodeError::DuplicatePlaceholder(n) => write!(f, "two placeholders with num {n}"),
            DecodeError::MissingPlaceholder(n) => write!(f, "no placeholder for attachment {n}"),
            DecodeError::UnexpectedText { expected } => {
                write!(
                    f,
                    "text packet while {expected} attachment(s) were still expected"
                )
            }
            DecodeError::UnexpectedBinary => {
                f.write_str("binary attachment with no binary packet before it")
            }
            DecodeError::AttachmentsTooLarge { limit } => {
                write!(f, "attachments larger than {limit} bytes together")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The parts of a packet's text, before binary is put back.
#[derive(Debug)]
struct Header {
    packet_type: PacketType,
    attachments: usize,
    namespace: Namespace,
    id: Option<u64>,
    payload: Option<Value>,
}

/// Reads packets from the Engine.IO messages of one connection: a small
/// state machine that, after a binary packet's text, expects its
/// attachments.
///
/// ```text
///   Idle --text, not binary or 0 attachments--> Idle        (a packet)
///   Idle --text of a binary packet, N > 0-----> Expecting N
///   Expecting k --binary, k > 1---------------> Expecting k-1
///   Expecting 1 --binary----------------------> Idle        (a packet)
///   Idle --binary--> error       Expecting k --text--> error
/// ```
///
/// After an error the decoder is idle again; the connection should be
/// closed, as the specification asks of a receiver of a malformed packet.
///
/// ```
/// use stdws::socketio::packet::{Data, Decoder, Packet};
/// let mut decoder = Decoder::default();
/// assert_eq!(decoder.decode_text(r#"51-["baz",{"_placeholder":true,"num":0}]"#)?, None);
/// let Some(Packet::Event { name, args, .. }) = decoder.decode_binary(vec![1, 2, 3, 4])? else { panic!() };
/// assert_eq!((name.as_str(), args), ("baz", vec![Data::binary([1, 2, 3, 4])]));
/// # Ok::<(), stdws::socketio::packet::DecodeError>(())
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    header: Header,
    attachments: Vec<Vec<u8>>,
    bytes: usize,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            pending: None,
        }
    }

    /// How many attachments the decoder is waiting for (0 when idle).
    pub fn expecting(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |p| p.header.attachments - p.attachments.len())
    }

    /// Reads a packet's text (the data of an Engine.IO text message). `None`
    /// means that it is a binary packet whose attachments come next.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, DecodeError> {
        if let Some(pending) = self.pending.take() {
            let expected = pending.header.attachments - pending.attachments.len();
            return Err(DecodeError::UnexpectedText { expected });
        }
        let header = parse_header(text, &self.limits)?;
        if header.attachments == 0 {
            return Ok(Some(assemble(header, Vec::new())));
        }
        self.pending = Some(Pending {
            attachments: Vec::with_capacity(header.attachments),
            header,
            bytes: 0,
        });
        Ok(None)
    }

    /// Takes one attachment (the data of an Engine.IO binary message);
    /// returns the packet with the last one.
    pub fn decode_binary(&mut self, data: Vec<u8>) -> Result<Option<Packet>, DecodeError> {
        let Some(mut pending) = self.pending.take() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        pending.bytes = pending.bytes.saturating_add(data.len());
        if pending.bytes > self.limits.max_attachment_bytes {
            return Err(DecodeError::AttachmentsTooLarge {
                limit: self.limits.max_attachment_bytes,
            });
        }
        pending.attachments.push(data);
        if pending.attachments.len() < pending.header.attachments {
            self.pending = Some(pending);
            return Ok(None);
        }
        Ok(Some(assemble(pending.header, pending.attachments)))
    }

    /// Reads the Socket.IO content of an Engine.IO packet: message packets
    /// go to [`decode_text`](Decoder::decode_text) or
    /// [`decode_binary`](Decoder::decode_binary); other packets carry none
    /// and give `None`.
    pub fn decode(&mut self, packet: engineio::Packet) -> Result<Option<Packet>, DecodeError> {
        match packet {
            engineio::Packet::Message(text) => self.decode_text(&text),
            engineio::Packet::Binary(data) => self.decode_binary(data),
            _ => Ok(None),
        }
    }
}

/// Reads `<type>[<attachments>-][<namespace>,][<id>][<payload>]` and checks
/// the payload's shape for the type.
fn parse_header(text: &str, limits: &Limits) -> Result<Header, DecodeError> {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Empty);
    };
    let Some(packet_type) = PacketType::from_digit(first) else {
        return Err(DecodeError::UnknownType(text.chars().next().unwrap_or('?')));
    };
    let mut pos = 1;

    let mut attachments = 0;
    if packet_type.is_binary() {
        let digits = count_digits(&bytes[pos..]);
        if digits == 0 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(DecodeError::BadAttachmentCount);
        }
        let too_many = DecodeError::TooManyAttachments {
            limit: limits.max_attachments,
        };
        attachments = parse_u64(&bytes[pos..pos + digits])
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.max_attachments)
            .ok_or(too_many)?;
        pos += digits + 1;
    }

    let mut namespace = Namespace::root();
    if bytes.get(pos) == Some(&b'/') {
        // Everything up to `,` is ASCII-delimited, so these are boundaries.
        let rest = text.get(pos..).unwrap_or("");
        // A namespace that ends the packet needs no comma: the official
        // clients and test suite send `40/custom` and `41/custom`.
        match rest.find(',') {
            Some(comma) => {
                namespace = Namespace::new(&rest[..comma])?;
                pos += comma + 1;
            }
            None => {
                namespace = Namespace::new(rest)?;
                pos = bytes.len();
            }
        }
    }

    let mut id = None;
    let digits = count_digits(&bytes[pos..]);
    if digits > 0 {
        id = Some(parse_u64(&bytes[pos..pos + digits]).ok_or(DecodeError::AckIdOverflow)?);
        pos += digits;
        if !matches!(bytes.get(pos), None | Some(b'[')) {
            return Err(DecodeError::InvalidAckId);
        }
    }

    let rest = text.get(pos..).unwrap_or("");
    let payload = if rest.is_empty() {
        None
    } else {
        Some(json::parse_with(rest, limits.json).map_err(DecodeError::Json)?)
    };

    check_shape(packet_type, id, payload.as_ref())?;
    if packet_type.is_binary() {
        if let Some(payload) = &payload {
            check_placeholders(payload, attachments)?;
        }
    }
    Ok(Header {
        packet_type,
        attachments,
        namespace,
        id,
        payload,
    })
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Decimal digits as a `u64`; `None` on overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The payload and ack id each type takes ("Exchange protocol").
fn check_shape(
    packet_type: PacketType,
    id: Option<u64>,
    payload: Option<&Value>,
) -> Result<(), DecodeError> {
    use PacketType::*;
    let takes_id = matches!(packet_type, Event | Ack | BinaryEvent | BinaryAck);
    if id.is_some() && !takes_id {
        return Err(DecodeError::UnexpectedAckId(packet_type));
    }
    if id.is_none() && matches!(packet_type, Ack | BinaryAck) {
        return Err(DecodeError::MissingAckId(packet_type));
    }
    let invalid = |why| Err(DecodeError::InvalidPayload(packet_type, why));
    match (packet_type, payload) {
        (Disconnect, None) | (Connect, None) => Ok(()),
        (Disconnect, Some(_)) => Err(DecodeError::UnexpectedPayload(packet_type)),
        (_, None) => Err(DecodeError::MissingPayload(packet_type)),
        (Connect, Some(Value::Object(_))) => Ok(()),
        (Connect, Some(_)) => invalid("must be an object"),
        (ConnectError, Some(Value::Object(_) | Value::String(_))) => Ok(()),
        (ConnectError, Some(_)) => invalid("must be an object"),
        (Event | BinaryEvent, Some(Value::Array(items))) => match items.first() {
            Some(Value::String(_)) => Ok(()),
            Some(_) => invalid("must start with the event name, a string"),
            None => invalid("must not be empty"),
        },
        (Ack | BinaryAck, Some(Value::Array(_))) => Ok(()),
        (Event | BinaryEvent | Ack | BinaryAck, Some(_)) => invalid("must be an array"),
    }
}

/// The placeholder's `num`, if `value` is an object marked as one;
/// `Some(Err)` for a malformed placeholder.
fn placeholder_num(value: &Value) -> Option<Result<u64, DecodeError>> {
    let members = value.as_object()?;
    if value.get("_placeholder")? != &Value::Bool(true) {
        return None;
    }
    let num = value.get("num").and_then(Value::as_u64);
    Some(match num {
        Some(num) if members.len() == 2 => Ok(num),
        _ => Err(DecodeError::BadPlaceholder),
    })
}

/// Every placeholder in range, none twice, one for each attachment. Checked
/// on the text, before any attachment is buffered.
fn check_placeholders(payload: &Value, attachments: usize) -> Result<(), DecodeError> {
    fn walk(value: &Value, seen: &mut [bool]) -> Result<(), DecodeError> {
        if let Some(num) = placeholder_num(value) {
            let num = num?;
            let slot = usize::try_from(num)
                .ok()
                .and_then(|n| seen.get_mut(n))
                .ok_or(DecodeError::PlaceholderOutOfRange(num))?;
            if *slot {
                return Err(DecodeError::DuplicatePlaceholder(num));
            }
            *slot = true;
            return Ok(());
        }
        match value {
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, seen)),
            Value::Object(members) => members.iter().try_for_each(|(_, v)| walk(v, seen)),
            _ => Ok(()),
        }
    }
    let mut seen = vec![false; attachments];
    walk(payload, &mut seen)?;
    match seen.iter().position(|s| !s) {
        Some(missing) => Err(DecodeError::MissingPlaceholder(missing)),
        None => Ok(()),
    }
}

/// Puts the attachments in place of their placeholders (only in binary
/// packets, whose placeholders [`check_placeholders`] validated) and builds
/// the packet.
fn assemble(header: Header, attachments: Vec<Vec<u8>>) -> Packet {
    fn fill(value: Value, attachments: &mut [Option<Vec<u8>>], binary: bool) -> Data {
        if binary {
            if let Some(Ok(num)) = placeholder_num(&value) {
                let bytes = usize::try_from(num)
                    .ok()
                    .and_then(|n| attachments.get_mut(n))
                    .and_then(Option::take);
                return Data::Binary(bytes.unwrap_or_default());
            }
        }
        match value {
            Value::Array(items) => Data::Array(
                items
                    .into_iter()
                    .map(|v| fill(v, attachments, binary))
                    .collect(),
            ),
            Value::Object(members) => Data::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, fill(v, attachments, binary)))
                    .collect(),
            ),
            other => Data::from(other),
        }
    }
    let binary = header.packet_type.is_binary();
    let mut slots: Vec<Option<Vec<u8>>> = attachments.into_iter().map(Some).collect();
    let namespace = header.namespace;
    let (payload, args) = match header.payload {
        Some(Value::Array(items)) => (
            None,
            items
                .into_iter()
                .map(|v| fill(v, &mut slots, binary))
                .collect(),
        ),
        other => (other, Vec::new()),
    };
    match header.packet_type {
        PacketType::Connect => Packet::Connect {
            namespace,
            data: payload,
        },
        PacketType::Disconnect => Packet::Disconnect { namespace },
        PacketType::ConnectError => Packet::ConnectError {
            namespace,
            data: payload.unwrap_or_default(),
        },
        PacketType::Event | PacketType::BinaryEvent => {
            let mut args = args.into_iter();
            // `check_shape` made sure the first element is the name.
            let name = match args.next() {
                Some(Data::String(name)) => name,
                _ => String::new(),
            };
            Packet::Event {
                namespace,
                name,
                args: args.collect(),
                id: header.id,
            }
        }
        PacketType::Ack | PacketType::BinaryAck => Packet::Ack {
            namespace,
            args,
            id: header.id.unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str) -> Namespace {
        Namespace::new(name).unwrap()
    }

    fn event(namespace: &str, name: &str, args: Vec<Data>, id: Option<u64>) -> Packet {
        Packet::Event {
            namespace: ns(namespace),
            name: name.into(),
            args,
            id,
        }
    }

    fn ack(namespace: &str, args: Vec<Data>, id: u64) -> Packet {
        Packet::Ack {
            namespace: ns(namespace),
            args,
            id,
        }
    }

    fn obj(text: &str) -> Value {
        json::parse(text).unwrap()
    }

    /// Decodes a packet from its text and attachments, as they would arrive.
    fn decode(text: &str, attachments: &[&[u8]]) -> Result<Packet, DecodeError> {
        let mut decoder = Decoder::default();
        let mut packet = decoder.decode_text(text)?;
        for (i, a) in attachments.iter().enumerate() {
            assert!(packet.is_none(), "packet complete before attachment {i}");
            packet = decoder.decode_binary(a.to_vec())?;
        }
        assert_eq!(decoder.expecting(), 0);
        Ok(packet.expect("packet incomplete after its attachments"))
    }

    /// The packet encodes to exactly `text` and `attachments`, and decodes
    /// back from them.
    fn assert_wire(packet: Packet, text: &str, attachments: &[&[u8]]) {
        let encoded = packet.encode();
        assert_eq!(encoded.text, text);
        assert_eq!(
            encoded.attachments,
            attachments.iter().map(|a| a.to_vec()).collect::<Vec<_>>()
        );
        assert_eq!(decode(text, attachments), Ok(packet), "{text}");
    }

    fn refused(text: &str) -> DecodeError {
        Decoder::default().decode_text(text).unwrap_err()
    }

    // ---- Every example of the specification, byte for byte ----

    #[test]
    fn spec_connect_to_the_main_namespace() {
        assert_wire(
            Packet::Connect {
                namespace: ns("/"),
                data: None,
            },
            "0",
            &[],
        );
    }

    #[test]
    fn spec_connect_to_a_custom_namespace() {
        let data = Some(obj(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#));
        assert_wire(
            Packet::Connect {
                namespace: ns("/admin"),
                data,
            },
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            &[],
        );
    }

    #[test]
    fn spec_connect_with_an_auth_payload() {
        let data = Some(obj(r#"{"token":"123"}"#));
        assert_wire(
            Packet::Connect {
                namespace: ns("/admin"),
                data,
            },
            r#"0/admin,{"token":"123"}"#,
            &[],
        );
    }

    #[test]
    fn spec_connect_refused() {
        let data = obj(r#"{"message":"Not authorized"}"#);
        assert_wire(
            Packet::ConnectError {
                namespace: ns("/"),
                data,
            },
            r#"4{"message":"Not authorized"}"#,
            &[],
        );
    }

    #[test]
    fn spec_event_on_the_main_namespace() {
        assert_wire(event("/", "foo", vec![], None), r#"2["foo"]"#, &[]);
    }

    #[test]
    fn spec_event_on_a_custom_namespace() {
        assert_wire(
            event("/admin", "bar", vec![], None),
            r#"2/admin,["bar"]"#,
            &[],
        );
    }

    #[test]
    fn spec_event_with_binary_data() {
        assert_wire(
            event("/", "baz", vec![Data::binary([1, 2, 3, 4])], None),
            r#"51-["baz",{"_placeholder":true,"num":0}]"#,
            &[&[1, 2, 3, 4]],
        );
    }

    #[test]
    fn spec_event_with_multiple_attachments() {
        assert_wire(
            event(
                "/admin",
                "baz",
                vec![Data::binary([1, 2]), Data::binary([3, 4])],
                None,
            ),
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            &[&[1, 2], &[3, 4]],
        );
    }

    #[test]
    fn spec_event_with_an_ack_id() {
        assert_wire(event("/", "foo", vec![], Some(12)), r#"212["foo"]"#, &[]);
    }

    #[test]
    fn spec_ack_with_an_empty_payload() {
        // "Acknowledgement": { type: ACK, namespace: "/", data: [], id: 12 }.
        assert_wire(ack("/", vec![], 12), "312[]", &[]);
    }

    #[test]
    fn spec_ack_on_a_custom_namespace() {
        // The specification prints a stray backtick after this example.
        assert_wire(
            ack("/admin", vec!["bar".into()], 13),
            r#"3/admin,13["bar"]"#,
            &[],
        );
    }

    #[test]
    fn spec_binary_ack() {
        assert_wire(
            ack("/", vec!["bar".into(), Data::binary([1, 2, 3, 4])], 15),
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            &[&[1, 2, 3, 4]],
        );
    }

    #[test]
    fn spec_disconnect() {
        assert_wire(Packet::Disconnect { namespace: ns("/") }, "1", &[]);
        assert_wire(
            Packet::Disconnect {
                namespace: ns("/admin"),
            },
            "1/admin,",
            &[],
        );
    }

    #[test]
    fn spec_sample_session_packets() {
        // "Sample session": the Socket.IO part of each Engine.IO message.
        assert_wire(
            Packet::Connect {
                namespace: ns("/"),
                data: None,
            },
            "0",
            &[],
        );
        let sid = Some(obj(r#"{"sid":"wZX3oN0bSVIhsaknAAAI"}"#));
        assert_wire(
            Packet::Connect {
                namespace: ns("/"),
                data: sid,
            },
            r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
            &[],
        );
        assert_wire(
            event("/", "hey", vec!["Jude".into()], None),
            r#"2["hey","Jude"]"#,
            &[],
        );
        assert_wire(
            Packet::Connect {
                namespace: ns("/admin"),
                data: None,
            },
            "0/admin,",
            &[],
        );
        let sid = Some(obj(r#"{"sid":"-G5j-67EZFp-q59rADQM"}"#));
        assert_wire(
            Packet::Connect {
                namespace: ns("/admin"),
                data: sid,
            },
            r#"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#,
            &[],
        );
        assert_wire(
            event("/admin", "tellme", vec![], Some(1)),
            r#"2/admin,1["tellme"]"#,
            &[],
        );
        assert_wire(
            ack("/admin", vec![Data::binary(*b"<binary>")], 1),
            r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
            &[b"<binary>"],
        );
    }

    #[test]
    fn engineio_wraps_the_text_as_a_message_then_each_attachment() {
        // "Packet encoding": each Socket.IO packet is prefixed by "4" on the wire.
        let packets = event("/", "foo", vec![], None).encode().into_engineio();
        assert_eq!(packets, [engineio::Packet::Message(r#"2["foo"]"#.into())]);
        assert_eq!(packets[0].encode_text(), r#"42["foo"]"#);
        let packets = ack("/admin", vec![Data::binary([9])], 1)
            .encode()
            .into_engineio();
        assert_eq!(
            packets[0].encode_text(),
            r#"461-/admin,1[{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(packets[1], engineio::Packet::Binary(vec![9]));
        let mut decoder = Decoder::default();
        assert_eq!(decoder.decode(packets[0].clone()), Ok(None));
        assert_eq!(
            decoder.decode(packets[1].clone()),
            Ok(Some(ack("/admin", vec![Data::binary([9])], 1)))
        );
        assert_eq!(decoder.decode(engineio::Packet::Noop), Ok(None));
    }

    // ---- Binary data in depth ----

    #[test]
    fn nested_binaries_are_numbered_in_document_order() {
        let args = vec![
            Data::object([
                ("a", Data::binary([1])),
                ("b", Data::array([Data::from(1i64), Data::binary([2])])),
            ]),
            Data::binary([3]),
        ];
        assert_wire(
            event("/", "up", args, Some(7)),
            r#"53-7["up",{"a":{"_placeholder":true,"num":0},"b":[1,{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":2}]"#,
            &[&[1], &[2], &[3]],
        );
    }

    #[test]
    fn empty_attachments_are_carried() {
        assert_wire(
            event("/", "e", vec![Data::binary([]), Data::binary([])], None),
            r#"52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            &[&[], &[]],
        );
    }

    #[test]
    fn attachments_may_arrive_in_any_placeholder_order() {
        let packet = decode(
            r#"52-["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#,
            &[b"a", b"b"],
        );
        assert_eq!(
            packet,
            Ok(event(
                "/",
                "e",
                vec![Data::binary(*b"b"), Data::binary(*b"a")],
                None
            ))
        );
    }

    #[test]
    fn binary_packet_with_zero_attachments_is_complete_at_once() {
        assert_eq!(
            decode(r#"50-["e",1]"#, &[]),
            Ok(event("/", "e", vec![Data::from(1i64)], None))
        );
    }

    #[test]
    fn placeholders_in_non_binary_packets_stay_objects() {
        let text = r#"2["e",{"_placeholder":true,"num":0}]"#;
        let Ok(Packet::Event { args, .. }) = decode(text, &[]) else {
            panic!()
        };
        assert_eq!(args[0].get("num"), Some(&Data::from(0u64)));
    }

    // ---- What the decoder refuses ----

    #[test]
    fn empty_packet_is_refused() {
        assert_eq!(refused(""), DecodeError::Empty);
    }

    #[test]
    fn bad_type_digit_is_refused() {
        for text in ["7", "9[]", "x", "-1", "é"] {
            assert_eq!(
                refused(text),
                DecodeError::UnknownType(text.chars().next().unwrap()),
                "{text}"
            );
        }
    }

    #[test]
    fn attachment_count_must_be_digits_then_a_dash() {
        for text in [
            r#"5["e"]"#,
            r#"5-["e"]"#,
            r#"51["e"]"#,
            r#"5a-["e"]"#,
            "5",
            "61",
        ] {
            assert_eq!(refused(text), DecodeError::BadAttachmentCount, "{text}");
        }
    }

    #[test]
    fn attachment_count_over_the_limit_is_refused() {
        assert_eq!(
            refused(r#"511-["e"]"#),
            DecodeError::TooManyAttachments { limit: 10 }
        );
        assert_eq!(
            refused(r#"599999999999999999999999-["e"]"#),
            DecodeError::TooManyAttachments { limit: 10 }
        );
        let mut decoder = Decoder::new(Limits::default().max_attachments(1));
        assert_eq!(
            decoder.decode_text(r#"52-["e"]"#),
            Err(DecodeError::TooManyAttachments { limit: 1 })
        );
    }

    #[test]
    fn namespace_that_ends_the_packet_needs_no_comma() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.decode_text("1/admin"),
            Ok(Some(Packet::Disconnect {
                namespace: Namespace::new("/admin").unwrap()
            }))
        );
        // Without its comma, the payload is read as part of the namespace,
        // and the event lacks its payload.
        assert_eq!(
            refused(r#"2/admin["bar"]"#),
            DecodeError::MissingPayload(PacketType::Event)
        );
    }

    #[test]
    fn namespace_with_a_control_character_is_refused() {
        assert_eq!(
            refused("1/ad\nmin,"),
            DecodeError::BadNamespace("/ad\nmin".into())
        );
        assert!(Namespace::new("").is_err());
    }

    #[test]
    fn explicit_main_namespace_is_accepted() {
        assert_eq!(
            decode(r#"2/,["foo"]"#, &[]),
            Ok(event("/", "foo", vec![], None))
        );
    }

    #[test]
    fn ack_id_overflowing_u64_is_refused() {
        assert_eq!(
            refused(r#"218446744073709551616["e"]"#),
            DecodeError::AckIdOverflow
        );
        assert_eq!(
            decode(r#"218446744073709551615["e"]"#, &[]),
            Ok(event("/", "e", vec![], Some(u64::MAX)))
        );
    }

    #[test]
    fn ack_id_followed_by_other_than_the_payload_is_refused() {
        assert_eq!(refused(r#"212a["e"]"#), DecodeError::InvalidAckId);
        assert_eq!(refused(r#"3/admin,1.5["e"]"#), DecodeError::InvalidAckId);
        assert_eq!(refused(r#"312{}"#), DecodeError::InvalidAckId);
    }

    #[test]
    fn ack_id_on_a_type_that_takes_none_is_refused() {
        assert_eq!(
            refused("012"),
            DecodeError::UnexpectedAckId(PacketType::Connect)
        );
        assert_eq!(
            refused("1/admin,3"),
            DecodeError::UnexpectedAckId(PacketType::Disconnect)
        );
        assert_eq!(
            refused(r#"45["x"]"#),
            DecodeError::UnexpectedAckId(PacketType::ConnectError)
        );
    }

    #[test]
    fn ack_without_an_id_is_refused() {
        assert_eq!(
            refused(r#"3["bar"]"#),
            DecodeError::MissingAckId(PacketType::Ack)
        );
        assert_eq!(
            refused(r#"60-["bar"]"#),
            DecodeError::MissingAckId(PacketType::BinaryAck)
        );
    }

    #[test]
    fn malformed_json_is_refused() {
        let DecodeError::Json(err) = refused(r#"2["foo",]"#) else {
            panic!()
        };
        assert_eq!(err.kind(), &json::ErrorKind::TrailingComma);
        assert!(matches!(refused(r#"2["foo"] x"#), DecodeError::Json(_)));
        assert!(matches!(refused(r#"0{"a":1,"a":2}"#), DecodeError::Json(_)));
        assert!(matches!(refused("2x"), DecodeError::Json(_)));
    }

    #[test]
    fn event_payload_must_be_a_non_empty_array_starting_with_a_string() {
        use PacketType::Event;
        assert_eq!(refused("2"), DecodeError::MissingPayload(Event));
        assert_eq!(
            refused("2[]"),
            DecodeError::InvalidPayload(Event, "must not be empty")
        );
        assert_eq!(
            refused("2[1]"),
            DecodeError::InvalidPayload(Event, "must start with the event name, a string")
        );
        assert_eq!(
            refused(r#"2{"a":1}"#),
            DecodeError::InvalidPayload(Event, "must be an array")
        );
        assert_eq!(
            refused(r#"2"foo""#),
            DecodeError::InvalidPayload(Event, "must be an array")
        );
        assert_eq!(
            refused("50-[]"),
            DecodeError::InvalidPayload(PacketType::BinaryEvent, "must not be empty")
        );
    }

    #[test]
    fn ack_payload_must_be_an_array() {
        assert_eq!(refused("31"), DecodeError::MissingPayload(PacketType::Ack));
        assert_eq!(refused(r#"31"x""#), DecodeError::InvalidAckId);
        assert_eq!(decode("31[]", &[]), Ok(ack("/", vec![], 1)));
    }

    #[test]
    fn connect_payload_must_be_an_object() {
        use PacketType::Connect;
        assert_eq!(
            refused(r#"0"tok""#),
            DecodeError::InvalidPayload(Connect, "must be an object")
        );
        assert_eq!(
            refused("0[]"),
            DecodeError::InvalidPayload(Connect, "must be an object")
        );
        assert_eq!(
            refused("0/admin,null"),
            DecodeError::InvalidPayload(Connect, "must be an object")
        );
    }

    #[test]
    fn connect_error_payload_must_be_an_object_or_a_legacy_string() {
        use PacketType::ConnectError;
        assert_eq!(refused("4"), DecodeError::MissingPayload(ConnectError));
        assert_eq!(
            refused("4[]"),
            DecodeError::InvalidPayload(ConnectError, "must be an object")
        );
        let packet = decode(r#"4"Not authorized""#, &[]).unwrap();
        assert_eq!(
            packet,
            Packet::ConnectError {
                namespace: ns("/"),
                data: "Not authorized".into()
            }
        );
    }

    #[test]
    fn disconnect_with_a_payload_is_refused() {
        assert_eq!(
            refused("1{}"),
            DecodeError::UnexpectedPayload(PacketType::Disconnect)
        );
    }

    #[test]
    fn placeholder_num_out_of_range_is_refused() {
        assert_eq!(
            refused(r#"51-["e",{"_placeholder":true,"num":1}]"#),
            DecodeError::PlaceholderOutOfRange(1)
        );
        assert_eq!(
            refused(r#"51-["e",{"_placeholder":true,"num":18446744073709551615}]"#),
            DecodeError::PlaceholderOutOfRange(u64::MAX)
        );
        assert_eq!(
            refused(r#"50-["e",{"_placeholder":true,"num":0}]"#),
            DecodeError::PlaceholderOutOfRange(0)
        );
    }

    #[test]
    fn duplicated_placeholder_is_refused() {
        assert_eq!(
            refused(r#"52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#),
            DecodeError::DuplicatePlaceholder(0)
        );
    }

    #[test]
    fn attachment_without_a_placeholder_is_refused() {
        assert_eq!(
            refused(r#"52-["e",{"_placeholder":true,"num":1}]"#),
            DecodeError::MissingPlaceholder(0)
        );
        assert_eq!(refused(r#"51-["e"]"#), DecodeError::MissingPlaceholder(0));
    }

    #[test]
    fn malformed_placeholder_is_refused() {
        for text in [
            r#"51-["e",{"_placeholder":true,"num":-1}]"#,
            r#"51-["e",{"_placeholder":true,"num":0.0}]"#,
            r#"51-["e",{"_placeholder":true,"num":"0"}]"#,
            r#"51-["e",{"_placeholder":true}]"#,
            r#"51-["e",{"_placeholder":true,"num":0,"x":1}]"#,
        ] {
            assert_eq!(refused(text), DecodeError::BadPlaceholder, "{text}");
        }
    }

    #[test]
    fn text_while_attachments_are_expected_is_refused() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.decode_text(
                r#"52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
            ),
            Ok(None)
        );
        assert_eq!(decoder.decode_binary(vec![1]), Ok(None));
        assert_eq!(decoder.expecting(), 1);
        assert_eq!(
            decoder.decode_text(r#"2["x"]"#),
            Err(DecodeError::UnexpectedText { expected: 1 })
        );
        // The decoder is idle again after the error.
        assert_eq!(decoder.expecting(), 0);
        assert_eq!(
            decoder.decode_text(r#"2["x"]"#),
            Ok(Some(event("/", "x", vec![], None)))
        );
    }

    #[test]
    fn attachment_when_none_is_expected_is_refused() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.decode_binary(vec![1]),
            Err(DecodeError::UnexpectedBinary)
        );
        assert_eq!(
            decoder.decode_text(r#"2["x"]"#),
            Ok(Some(event("/", "x", vec![], None)))
        );
        assert_eq!(
            decoder.decode_binary(vec![1]),
            Err(DecodeError::UnexpectedBinary)
        );
    }

    #[test]
    fn attachments_over_the_byte_limit_are_refused() {
        let mut decoder = Decoder::new(Limits::default().max_attachment_bytes(4));
        let text = r#"52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(decoder.decode_text(text), Ok(None));
        assert_eq!(decoder.decode_binary(vec![0; 3]), Ok(None));
        assert_eq!(
            decoder.decode_binary(vec![0; 2]),
            Err(DecodeError::AttachmentsTooLarge { limit: 4 })
        );
        assert_eq!(decoder.expecting(), 0);
    }

    #[test]
    fn json_limits_apply_to_payloads() {
        let mut decoder =
            Decoder::new(Limits::default().json(json::Limits::default().max_depth(2)));
        assert!(decoder.decode_text(r#"2["e",[1]]"#).is_ok());
        assert!(matches!(
            decoder.decode_text(r#"2["e",[[1]]]"#),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            refused("2[1]").to_string(),
            "EVENT payload must start with the event name, a string"
        );
        assert_eq!(
            refused(r#"2["a",}"#).to_string(),
            "payload: expected a value at line 1, column 6 (byte 5)"
        );
    }

    // ---- Robustness ----

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn mutated_packets_never_panic_and_what_decodes_reencodes() {
        let seeds = [
            r#"52-/admin,7["baz",{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1}]}]"#,
            r#"0/admin,{"token":"123"}"#,
            r#"3/admin,13["bar",null,1.5]"#,
            r#"4{"message":"Not authorized"}"#,
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            "1/admin,",
        ];
        let alphabet = b"0123456789-/,[]{}\":_placeholdertruenum";
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        let limits = Limits::default()
            .max_attachments(4)
            .json(json::Limits::default().max_depth(8));
        let mut decoded = 0;
        for i in 0..20_000 {
            let mut bytes = seeds[i % seeds.len()].as_bytes().to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                    _ => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            let mut decoder = Decoder::new(limits);
            let mut result = decoder.decode_text(text);
            // Feed attachments while they are expected; the limit bounds this.
            let mut fed = 0;
            while let Ok(None) = result {
                if decoder.expecting() == 0 {
                    break;
                }
                fed += 1;
                assert!(fed <= limits.max_attachments);
                result = decoder.decode_binary(vec![fed as u8; rng.below(3)]);
            }
            if let Ok(Some(packet)) = result {
                decoded += 1;
                let encoded = packet.encode();
                let mut again = Decoder::new(limits);
                let mut back = again.decode_text(&encoded.text);
                for a in encoded.attachments {
                    back = again.decode_binary(a);
                }
                assert_eq!(back, Ok(Some(packet)), "{text}");
            }
        }
        assert!(decoded > 500, "only {decoded} mutants decoded");
    }
}
