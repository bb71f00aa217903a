//! Engine.IO version 4 packets, their two encodings, the handshake data,
//! and the checks of a request's query.
//!
//! The specification is the README of
//! <https://github.com/socketio/engine.io-protocol>; section names below
//! are its headings.
//!
//! # Packets ("Protocol")
//!
//! | type    | digit | payload                     | used for                          |
//! |---------|-------|-----------------------------|-----------------------------------|
//! | open    | `0`   | the handshake JSON          | the server's first packet         |
//! | close   | `1`   | none                        | closing the transport             |
//! | ping    | `2`   | optional (`probe`)          | heartbeat, sent by the server; upgrade probe |
//! | pong    | `3`   | optional (`probe`)          | the answer to a ping              |
//! | message | `4`   | text, or binary             | application data                  |
//! | upgrade | `5`   | none                        | the client completing an upgrade  |
//! | noop    | `6`   | none                        | ending a pending poll during an upgrade |
//!
//! # Encodings ("Packet encoding")
//!
//! Over **WebSocket**, each packet is one frame: a text frame holds the type
//! digit followed by the data (`4hello`); a binary message is a binary frame
//! holding the bytes alone, with no type byte.
//!
//! Over **HTTP long-polling**, a body (a *payload*) holds several packets
//! joined by the record separator `\x1e`; a binary message is written `b`
//! followed by its bytes in base64:
//!
//! ```text
//!   4hello \x1e 2 \x1e bAQIDBA==
//!   ^^^^^^      ^      ^^^^^^^^^
//!   message     ping   binary message <01 02 03 04>
//! ```
//!
//! The separator cannot be escaped, so a text message containing `\x1e`
//! cannot travel over polling: [`encode_payload`] refuses it rather than
//! let its tail be read as other packets. (Socket.IO packets never contain
//! one: their JSON escapes it as `\u001e`.)
//!
//! # Strictness
//!
//! The decoders refuse, with a typed error: an empty packet, an unknown type
//! digit, data after a close, upgrade or noop packet (which take none), base64
//! that is not canonical padded base64, a body that is not UTF-8, and a body
//! over [`PayloadLimits`]: more packets than `max_packets` (16 by default, the
//! number python-engineio accepts, so that what [`encode_payload`] is given
//! in groups of 16 decodes everywhere) or more bytes than `max_payload`.
//!
//! # Requests ("Transports", "Handshake")
//!
//! [`check_request`] reads the `EIO`, `transport` and `sid` query parameters
//! and the method; what it refuses is an [`EngineError`] carrying the error
//! code and message the official server answers with, in its JSON body
//! (`{"code":0,"message":"Transport unknown"}`).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::json::{self, Value};
use crate::message::Message;

/// The record separator between the packets of a polling payload.
pub const SEPARATOR: char = '\x1e';

/// The type of an Engine.IO packet, with its digit on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: the handshake data, the server's first packet.
    Open = 0,
    /// `1`: the transport can be closed.
    Close = 1,
    /// `2`: heartbeat from the server, or the client's upgrade probe.
    Ping = 2,
    /// `3`: the answer to a ping.
    Pong = 3,
    /// `4`: application data.
    Message = 4,
    /// `5`: the client completes an upgrade.
    Upgrade = 5,
    /// `6`: nothing; ends a pending poll during an upgrade.
    Noop = 6,
}

impl PacketType {
    /// The type written as `digit`, if it is one.
    pub fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
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
            PacketType::Open => "open",
            PacketType::Close => "close",
            PacketType::Ping => "ping",
            PacketType::Pong => "pong",
            PacketType::Message => "message",
            PacketType::Upgrade => "upgrade",
            PacketType::Noop => "noop",
        }
    }
}

/// An Engine.IO packet.
///
/// ```
/// use stdws::socketio::engineio::Packet;
/// assert_eq!(Packet::decode_text("2probe")?, Packet::Ping("probe".into()));
/// assert_eq!(Packet::Message("hello".into()).encode_text(), "4hello");
/// # Ok::<(), stdws::socketio::engineio::PacketError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: the handshake JSON, as [`Handshake::packet`] builds it.
    Open(String),
    /// `1`.
    Close,
    /// `2`, with its payload (`""`, or `"probe"` during an upgrade).
    Ping(String),
    /// `3`, echoing the ping's payload.
    Pong(String),
    /// `4` with text data.
    Message(String),
    /// `4` with binary data.
    Binary(Vec<u8>),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

impl Packet {
    /// The packet's type (a binary message is a [`PacketType::Message`]).
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Binary(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// The text form: the type digit and the data, with binary data as `b`
    /// and base64 (the polling form; over WebSocket use [`Packet::to_message`],
    /// which sends binary as it is).
    pub fn encode_text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) {
        let data = match self {
            Packet::Binary(bytes) => {
                out.push('b');
                BASE64.encode_string(bytes, out);
                return;
            }
            Packet::Open(data)
            | Packet::Ping(data)
            | Packet::Pong(data)
            | Packet::Message(data) => data,
            Packet::Close | Packet::Upgrade | Packet::Noop => "",
        };
        out.push(self.packet_type().digit());
        out.push_str(data);
    }

    /// Reads a packet in text form: a WebSocket text frame, or one packet of
    /// a polling payload (where `b` starts a base64 binary message).
    pub fn decode_text(text: &str) -> Result<Packet, PacketError> {
        let Some(&first) = text.as_bytes().first() else {
            return Err(PacketError::Empty);
        };
        // The first byte is ASCII (checked below) whenever it is used, so
        // `data` starts on a character boundary.
        let data = text.get(1..).unwrap_or("");
        if first == b'b' {
            return BASE64
                .decode(data)
                .map(Packet::Binary)
                .map_err(|_| PacketError::InvalidBase64);
        }
        let Some(packet_type) = PacketType::from_digit(first) else {
            let c = text.chars().next().unwrap_or('?');
            return Err(PacketError::UnknownType(c));
        };
        Ok(match packet_type {
            PacketType::Open => Packet::Open(data.to_owned()),
            PacketType::Ping => Packet::Ping(data.to_owned()),
            PacketType::Pong => Packet::Pong(data.to_owned()),
            PacketType::Message => Packet::Message(data.to_owned()),
            PacketType::Close | PacketType::Upgrade | PacketType::Noop => {
                if !data.is_empty() {
                    return Err(PacketError::UnexpectedData(packet_type));
                }
                match packet_type {
                    PacketType::Close => Packet::Close,
                    PacketType::Upgrade => Packet::Upgrade,
                    _ => Packet::Noop,
                }
            }
        })
    }

    /// The WebSocket frame for this packet ("Packet encoding", WebSocket): a
    /// text frame with the type digit, or a binary message's bytes as they are.
    pub fn to_message(&self) -> Message {
        match self {
            Packet::Binary(bytes) => Message::Binary(bytes.clone()),
            other => Message::Text(other.encode_text()),
        }
    }

    /// Reads the packet a WebSocket message carries: a text frame as
    /// [`Packet::decode_text`] reads it, with one difference: a leading `b`
    /// is not base64 there, since binary data comes in binary frames. Pings,
    /// pongs and closes of the WebSocket itself are not Engine.IO packets.
    pub fn from_message(message: Message) -> Result<Packet, PacketError> {
        match message {
            Message::Binary(bytes) => Ok(Packet::Binary(bytes)),
            Message::Text(text) if text.starts_with('b') => Err(PacketError::UnknownType('b')),
            Message::Text(text) => Packet::decode_text(&text),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Err(PacketError::NotData),
        }
    }
}

/// Why one packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketError {
    /// No type digit at all.
    Empty,
    /// The first character is not a type digit `0`-`6` (nor `b` in a
    /// polling payload).
    UnknownType(char),
    /// Data after a close, upgrade or noop packet, which take none.
    UnexpectedData(PacketType),
    /// A `b` packet whose data is not padded standard base64.
    InvalidBase64,
    /// A WebSocket ping, pong or close was given where a data frame was
    /// expected.
    NotData,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Empty => f.write_str("empty Engine.IO packet (no type digit)"),
            PacketError::UnknownType(c) => {
                write!(f, "unknown Engine.IO packet type {:?} (expected 0-6)", c)
            }
            PacketError::UnexpectedData(t) => {
                write!(
                    f,
                    "Engine.IO {} packet with data, which it takes none",
                    t.name()
                )
            }
            PacketError::InvalidBase64 => {
                f.write_str("binary Engine.IO packet whose data is not valid base64")
            }
            PacketError::NotData => {
                f.write_str("a WebSocket control frame is not an Engine.IO packet")
            }
        }
    }
}

impl std::error::Error for PacketError {}

/// Bounds on a polling payload a peer sends.
///
/// ```
/// use stdws::socketio::engineio::PayloadLimits;
/// let limits = PayloadLimits::default().max_packets(32).max_payload(100_000);
/// assert_eq!((limits.max_packets, limits.max_payload), (32, 100_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PayloadLimits {
    /// The most packets in one payload (16 by default, as python-engineio).
    pub max_packets: usize,
    /// The longest payload, in bytes (1,000,000 by default, the official
    /// server's `maxHttpBufferSize`; announce it as [`Handshake::max_payload`]).
    pub max_payload: usize,
}

impl Default for PayloadLimits {
    fn default() -> PayloadLimits {
        PayloadLimits {
            max_packets: MAX_PACKETS_PER_PAYLOAD,
            max_payload: 1_000_000,
        }
    }
}

impl PayloadLimits {
    /// Sets [`PayloadLimits::max_packets`].
    pub fn max_packets(mut self, packets: usize) -> PayloadLimits {
        self.max_packets = packets;
        self
    }

    /// Sets [`PayloadLimits::max_payload`].
    pub fn max_payload(mut self, bytes: usize) -> PayloadLimits {
        self.max_payload = bytes;
        self
    }
}

/// The most packets a payload should hold for every implementation to
/// accept it: python-engineio refuses a payload of more than 16.
pub const MAX_PACKETS_PER_PAYLOAD: usize = 16;

/// Why a polling payload could not be read, or written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// The body is longer than [`PayloadLimits::max_payload`].
    TooLarge {
        /// The limit.
        limit: usize,
        /// The body's length.
        len: usize,
    },
    /// The body holds more packets than [`PayloadLimits::max_packets`].
    TooManyPackets {
        /// The limit.
        limit: usize,
    },
    /// The body is not UTF-8 (the specification requires it).
    NotUtf8 {
        /// The byte offset of the first byte that is not.
        offset: usize,
    },
    /// Packet number `index` (from 0) is malformed.
    Packet {
        /// Which packet.
        index: usize,
        /// What is wrong with it.
        error: PacketError,
    },
    /// Packet number `index` is a text message containing the separator,
    /// which polling cannot carry.
    SeparatorInText {
        /// Which packet.
        index: usize,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::TooLarge { limit, len } => {
                write!(
                    f,
                    "polling payload of {len} bytes is over the limit of {limit}"
                )
            }
            PayloadError::TooManyPackets { limit } => {
                write!(f, "polling payload with more than {limit} packets")
            }
            PayloadError::NotUtf8 { offset } => {
                write!(f, "polling payload is not UTF-8 at byte {offset}")
            }
            PayloadError::Packet { index, error } => {
                write!(f, "packet {index} of the payload: {error}")
            }
            PayloadError::SeparatorInText { index } => write!(
                f,
                "packet {index} contains the record separator \\x1e, which polling cannot carry"
            ),
        }
    }
}

impl std::error::Error for PayloadError {}

/// Writes packets as one polling payload, joined by `\x1e`, binary messages
/// as `b` and base64.
///
/// Refuses a text packet that contains the separator. Give it at most
/// [`MAX_PACKETS_PER_PAYLOAD`] packets for every client to accept the
/// payload.
///
/// ```
/// use stdws::socketio::engineio::{encode_payload, Packet};
/// let body = encode_payload(&[
///     Packet::Message("hello".into()),
///     Packet::Binary(vec![1, 2, 3, 4]),
/// ])?;
/// assert_eq!(body, "4hello\x1ebAQIDBA==");
/// # Ok::<(), stdws::socketio::engineio::PayloadError>(())
/// ```
pub fn encode_payload(packets: &[Packet]) -> Result<String, PayloadError> {
    let mut out = String::new();
    for (index, packet) in packets.iter().enumerate() {
        if let Packet::Open(text) | Packet::Ping(text) | Packet::Pong(text) | Packet::Message(text) =
            packet
            && text.contains(SEPARATOR)
        {
            return Err(PayloadError::SeparatorInText { index });
        }
        if index > 0 {
            out.push(SEPARATOR);
        }
        packet.write_text(&mut out);
    }
    Ok(out)
}

/// Reads a polling payload (an HTTP body) into its packets, within `limits`.
///
/// ```
/// use stdws::socketio::engineio::{decode_payload, Packet, PayloadLimits};
/// let packets = decode_payload(b"4hello\x1e2\x1e4world", PayloadLimits::default())?;
/// assert_eq!(packets, [Packet::Message("hello".into()), Packet::Ping("".into()), Packet::Message("world".into())]);
/// # Ok::<(), stdws::socketio::engineio::PayloadError>(())
/// ```
pub fn decode_payload(body: &[u8], limits: PayloadLimits) -> Result<Vec<Packet>, PayloadError> {
    if body.len() > limits.max_payload {
        return Err(PayloadError::TooLarge {
            limit: limits.max_payload,
            len: body.len(),
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| PayloadError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    // Count before decoding anything, so that a refused payload costs no
    // allocation.
    if text.split(SEPARATOR).count() > limits.max_packets {
        return Err(PayloadError::TooManyPackets {
            limit: limits.max_packets,
        });
    }
    text.split(SEPARATOR)
        .enumerate()
        .map(|(index, part)| {
            Packet::decode_text(part).map_err(|error| PayloadError::Packet { index, error })
        })
        .collect()
}

/// The two transports of Engine.IO ("Transports").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling: `GET` to receive, `POST` to send.
    Polling,
    /// One WebSocket connection.
    WebSocket,
}

impl Transport {
    /// The name in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    /// The transports a session on this one may upgrade to, for
    /// [`Handshake::upgrades`].
    pub fn upgrades(self) -> &'static [&'static str] {
        match self {
            Transport::Polling => &["websocket"],
            Transport::WebSocket => &[],
        }
    }
}

/// The data of the open packet ("Handshake").
///
/// ```
/// use std::time::Duration;
/// use stdws::socketio::engineio::Handshake;
/// let handshake = Handshake {
///     sid: "lv_VI97HAXpY6yYWAAAC".into(),
///     upgrades: vec!["websocket".into()],
///     ping_interval: Duration::from_millis(25000),
///     ping_timeout: Duration::from_millis(20000),
///     max_payload: 1_000_000,
/// };
/// assert_eq!(
///     handshake.packet().encode_text(),
///     r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The session id, sent back by the client in every later request.
    pub sid: String,
    /// The transports the client may upgrade to ([`Transport::upgrades`]).
    pub upgrades: Vec<String>,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long the server waits for the pong.
    pub ping_timeout: Duration,
    /// The most bytes the client should put in one polling payload.
    pub max_payload: u64,
}

impl Handshake {
    /// The JSON, members in the order the official server writes them.
    pub fn to_json(&self) -> Value {
        let millis = |d: Duration| Value::from(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Value::object([
            ("sid", Value::from(self.sid.as_str())),
            (
                "upgrades",
                self.upgrades
                    .iter()
                    .map(|u| Value::from(u.as_str()))
                    .collect(),
            ),
            ("pingInterval", millis(self.ping_interval)),
            ("pingTimeout", millis(self.ping_timeout)),
            ("maxPayload", Value::from(self.max_payload)),
        ])
    }

    /// The open packet carrying this handshake.
    pub fn packet(&self) -> Packet {
        Packet::Open(self.to_json().to_string())
    }

    /// Reads the data of an open packet (as a client does).
    pub fn from_json(text: &str) -> Result<Handshake, HandshakeError> {
        let value = json::parse(text).map_err(HandshakeError::Json)?;
        let field = |name: &'static str| value.get(name).ok_or(HandshakeError::Missing(name));
        let millis = |name: &'static str| {
            field(name)?
                .as_u64()
                .map(Duration::from_millis)
                .ok_or(HandshakeError::Invalid(name))
        };
        let upgrades = field("upgrades")?
            .as_array()
            .ok_or(HandshakeError::Invalid("upgrades"))?
            .iter()
            .map(|u| {
                u.as_str()
                    .map(str::to_owned)
                    .ok_or(HandshakeError::Invalid("upgrades"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Handshake {
            sid: field("sid")?
                .as_str()
                .ok_or(HandshakeError::Invalid("sid"))?
                .to_owned(),
            upgrades,
            ping_interval: millis("pingInterval")?,
            ping_timeout: millis("pingTimeout")?,
            max_payload: field("maxPayload")?
                .as_u64()
                .ok_or(HandshakeError::Invalid("maxPayload"))?,
        })
    }
}

/// Why the data of an open packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not JSON.
    Json(json::Error),
    /// A member is missing.
    Missing(&'static str),
    /// A member has the wrong type (or a negative number).
    Invalid(&'static str),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Json(e) => write!(f, "Engine.IO handshake is not JSON: {e}"),
            HandshakeError::Missing(name) => write!(f, "Engine.IO handshake has no {name:?}"),
            HandshakeError::Invalid(name) => {
                write!(f, "Engine.IO handshake has an invalid {name:?}")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A request that [`check_request`] let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The `transport` parameter.
    pub transport: Transport,
    /// The `sid` parameter: `None` for a handshake, which opens a session.
    pub sid: Option<String>,
}

/// Checks the query parameters and method of an Engine.IO request
/// ("Transports", "Handshake"), in the order the official server does, so
/// that the same request gets the same error code:
///
/// 1. `transport` must be `polling` or `websocket` (code 0);
/// 2. without a `sid` (a handshake): the method must be `GET` (code 2), a
///    `websocket` transport must come as a WebSocket upgrade (code 3);
/// 3. `EIO` must be `4` (code 5); this server speaks no older version.
///
/// `websocket_upgrade` says whether the HTTP request asks for a WebSocket.
/// A `websocket` request with a `sid` is an upgrade of a polling session;
/// whether that session exists is for the caller to check
/// ([`EngineError::UnknownSid`]), as is what the application allows
/// ([`EngineError::Forbidden`]). Values are percent-decoded; `t` and any
/// other parameter are ignored; `EIO`, `transport` or `sid` given twice is a
/// bad request (code 3), as is a malformed percent escape. An empty `sid` is
/// no `sid`, as for the official server.
///
/// ```
/// use stdws::socketio::engineio::{check_request, Transport};
/// let request = check_request("GET", "EIO=4&transport=polling&t=N8hyd6w", false)?;
/// assert_eq!((request.transport, request.sid), (Transport::Polling, None));
///
/// let error = check_request("GET", "EIO=4&transport=flash", false).unwrap_err();
/// assert_eq!((error.status(), error.body()), (400, r#"{"code":0,"message":"Transport unknown"}"#.to_string()));
/// # Ok::<(), stdws::socketio::engineio::EngineError>(())
/// ```
pub fn check_request(
    method: &str,
    query: &str,
    websocket_upgrade: bool,
) -> Result<Request, EngineError> {
    let mut eio = None;
    let mut transport = None;
    let mut sid = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "EIO" => &mut eio,
            "transport" => &mut transport,
            "sid" => &mut sid,
            _ => continue,
        };
        if slot.is_some() {
            return Err(EngineError::BadRequest(BadRequest::RepeatedParameter(
                match name {
                    "EIO" => "EIO",
                    "transport" => "transport",
                    _ => "sid",
                },
            )));
        }
        *slot =
            Some(percent_decode(value).ok_or(EngineError::BadRequest(BadRequest::MalformedQuery))?);
    }
    let transport = match transport.as_deref() {
        Some("polling") => Transport::Polling,
        Some("websocket") => Transport::WebSocket,
        _ => return Err(EngineError::UnknownTransport(transport)),
    };
    let sid = sid.filter(|s| !s.is_empty());
    if sid.is_none() {
        if method != "GET" {
            return Err(EngineError::BadHandshakeMethod(method.to_owned()));
        }
        if transport == Transport::WebSocket && !websocket_upgrade {
            return Err(EngineError::BadRequest(BadRequest::WebSocketWithoutUpgrade));
        }
    }
    if websocket_upgrade && transport != Transport::WebSocket {
        return Err(EngineError::BadRequest(BadRequest::UpgradeWithoutWebSocket));
    }
    if eio.as_deref() != Some("4") {
        return Err(EngineError::UnsupportedProtocolVersion(eio));
    }
    Ok(Request { transport, sid })
}

/// Decodes `%XX` escapes and `+` (a space in a query); `None` for a
/// malformed escape or bytes that are not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A request the server refuses, with the code and message of the official
/// server (its `Server.errors` table).
///
/// Polling requests are answered with [`status`](EngineError::status) and
/// the JSON [`body`](EngineError::body); the official server answers a
/// refused WebSocket upgrade with a 400 and the bare message as text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// Code 0, "Transport unknown": `transport` missing or not one of ours.
    UnknownTransport(Option<String>),
    /// Code 1, "Session ID unknown": no session has this `sid`.
    UnknownSid(String),
    /// Code 2, "Bad handshake method": a handshake that is not a `GET`.
    BadHandshakeMethod(String),
    /// Code 3, "Bad request".
    BadRequest(BadRequest),
    /// Code 4, "Forbidden": the application refused the request, with its
    /// own message if it gave one. Answered with 403.
    Forbidden(Option<String>),
    /// Code 5, "Unsupported protocol version": `EIO` missing or not `4`.
    UnsupportedProtocolVersion(Option<String>),
}

/// What was bad about a [bad request](EngineError::BadRequest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadRequest {
    /// A malformed percent escape, or a value that is not UTF-8.
    MalformedQuery,
    /// `EIO`, `transport` or `sid` given twice.
    RepeatedParameter(&'static str),
    /// A handshake with `transport=websocket` that is not a WebSocket upgrade.
    WebSocketWithoutUpgrade,
    /// A WebSocket upgrade whose `transport` is not `websocket`.
    UpgradeWithoutWebSocket,
    /// A request on a transport the session is not using.
    TransportMismatch,
    /// A second `GET` while one is pending ("Receiving data").
    ConcurrentPoll,
    /// A second `POST` while one is in progress ("Sending data").
    ConcurrentPost,
    /// A polling body that could not be decoded.
    BadPayload,
}

impl EngineError {
    /// The error code of the official server.
    pub fn code(&self) -> u8 {
        match self {
            EngineError::UnknownTransport(_) => 0,
            EngineError::UnknownSid(_) => 1,
            EngineError::BadHandshakeMethod(_) => 2,
            EngineError::BadRequest(_) => 3,
            EngineError::Forbidden(_) => 4,
            EngineError::UnsupportedProtocolVersion(_) => 5,
        }
    }

    /// The message of the official server for this code (or the
    /// application's own, for [`EngineError::Forbidden`]).
    pub fn message(&self) -> &str {
        match self {
            EngineError::UnknownTransport(_) => "Transport unknown",
            EngineError::UnknownSid(_) => "Session ID unknown",
            EngineError::BadHandshakeMethod(_) => "Bad handshake method",
            EngineError::BadRequest(_) => "Bad request",
            EngineError::Forbidden(Some(message)) => message,
            EngineError::Forbidden(None) => "Forbidden",
            EngineError::UnsupportedProtocolVersion(_) => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for [`EngineError::Forbidden`], 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            EngineError::Forbidden(_) => 403,
            _ => 400,
        }
    }

    /// The JSON body: `{"code":N,"message":"..."}`.
    pub fn body(&self) -> String {
        Value::object([
            ("code", Value::from(u64::from(self.code()))),
            ("message", self.message().into()),
        ])
        .to_string()
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Engine.IO error {} ({}): ", self.code(), self.message())?;
        match self {
            EngineError::UnknownTransport(None) => f.write_str("no transport parameter"),
            EngineError::UnknownTransport(Some(t)) => {
                write!(f, "transport {t:?} is not polling or websocket")
            }
            EngineError::UnknownSid(sid) => write!(f, "no session has sid {sid:?}"),
            EngineError::BadHandshakeMethod(m) => write!(f, "a handshake must be a GET, not {m:?}"),
            EngineError::BadRequest(why) => fmt::Display::fmt(why, f),
            EngineError::Forbidden(_) => f.write_str("refused by the application"),
            EngineError::UnsupportedProtocolVersion(None) => f.write_str("no EIO parameter"),
            EngineError::UnsupportedProtocolVersion(Some(v)) => {
                write!(f, "EIO={v:?}, only 4 is spoken")
            }
        }
    }
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRequest::MalformedQuery => f.write_str("malformed percent-encoding in the query"),
            BadRequest::RepeatedParameter(name) => write!(f, "the query gives {name} twice"),
            BadRequest::WebSocketWithoutUpgrade => {
                f.write_str("transport=websocket on a request that is not a WebSocket upgrade")
            }
            BadRequest::UpgradeWithoutWebSocket => {
                f.write_str("a WebSocket upgrade whose transport is not websocket")
            }
            BadRequest::TransportMismatch => f.write_str("the session does not use this transport"),
            BadRequest::ConcurrentPoll => f.write_str("a second GET while one is pending"),
            BadRequest::ConcurrentPost => f.write_str("a second POST while one is in progress"),
            BadRequest::BadPayload => f.write_str("the body is not a valid payload"),
        }
    }
}

impl std::error::Error for EngineError {}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- Packets, byte for byte with the specification ----

    #[test]
    fn every_packet_type_has_its_digit() {
        let packets = [
            (Packet::Open("{}".into()), "0{}"),
            (Packet::Close, "1"),
            (Packet::Ping(String::new()), "2"),
            (Packet::Pong(String::new()), "3"),
            (Packet::Message("hello".into()), "4hello"),
            (Packet::Upgrade, "5"),
            (Packet::Noop, "6"),
        ];
        for (packet, text) in packets {
            assert_eq!(packet.encode_text(), text);
            assert_eq!(Packet::decode_text(text), Ok(packet));
        }
    }

    #[test]
    fn websocket_text_frame_is_the_digit_and_data() {
        // "Packet encoding", WebSocket: `4hello`.
        assert_eq!(
            Packet::Message("hello".into()).to_message(),
            Message::text("4hello")
        );
        assert_eq!(
            Packet::from_message(Message::text("4hello")),
            Ok(Packet::Message("hello".into()))
        );
        assert_eq!(
            Packet::Ping("probe".into()).to_message(),
            Message::text("2probe")
        );
        assert_eq!(
            Packet::from_message(Message::text("3probe")),
            Ok(Packet::Pong("probe".into()))
        );
    }

    #[test]
    fn websocket_binary_frame_is_the_raw_data_without_a_type_byte() {
        let packet = Packet::Binary(vec![1, 2, 3, 4]);
        assert_eq!(packet.to_message(), Message::binary([1, 2, 3, 4]));
        assert_eq!(
            Packet::from_message(Message::binary([0x34, 0x00])),
            Ok(Packet::Binary(vec![0x34, 0]))
        );
        assert_eq!(
            Packet::from_message(Message::binary([])),
            Ok(Packet::Binary(vec![]))
        );
    }

    #[test]
    fn websocket_text_starting_with_b_is_not_base64() {
        assert_eq!(
            Packet::from_message(Message::text("bAQIDBA==")),
            Err(PacketError::UnknownType('b'))
        );
    }

    #[test]
    fn websocket_control_frames_are_not_packets() {
        assert_eq!(
            Packet::from_message(Message::Ping(vec![])),
            Err(PacketError::NotData)
        );
        assert_eq!(
            Packet::from_message(Message::Close(None)),
            Err(PacketError::NotData)
        );
    }

    #[test]
    fn empty_packet_is_refused() {
        assert_eq!(Packet::decode_text(""), Err(PacketError::Empty));
    }

    #[test]
    fn unknown_type_digit_is_refused() {
        for text in ["7", "9x", "a", "-1", "é4", " 4"] {
            let first = text.chars().next().unwrap();
            assert_eq!(
                Packet::decode_text(text),
                Err(PacketError::UnknownType(first)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn data_on_close_upgrade_and_noop_is_refused() {
        assert_eq!(
            Packet::decode_text("1x"),
            Err(PacketError::UnexpectedData(PacketType::Close))
        );
        assert_eq!(
            Packet::decode_text("5probe"),
            Err(PacketError::UnexpectedData(PacketType::Upgrade))
        );
        assert_eq!(
            Packet::decode_text("6 "),
            Err(PacketError::UnexpectedData(PacketType::Noop))
        );
    }

    #[test]
    fn message_data_is_kept_as_utf8() {
        let packet = Packet::decode_text("4€ and 😀").unwrap();
        assert_eq!(packet, Packet::Message("€ and 😀".into()));
        assert_eq!(Packet::decode_text("4"), Ok(Packet::Message(String::new())));
    }

    // ---- Polling payloads ----

    #[test]
    fn payload_example_from_the_specification() {
        // "Packet encoding", HTTP long-polling, first example.
        let packets = [
            Packet::Message("hello".into()),
            Packet::Ping(String::new()),
            Packet::Message("world".into()),
        ];
        assert_eq!(encode_payload(&packets).unwrap(), "4hello\x1e2\x1e4world");
        assert_eq!(
            decode_payload(b"4hello\x1e2\x1e4world", PayloadLimits::default()).unwrap(),
            packets
        );
    }

    #[test]
    fn payload_binary_is_b_and_base64() {
        // "Packet encoding", HTTP long-polling, second example.
        let packets = [
            Packet::Message("hello".into()),
            Packet::Binary(vec![1, 2, 3, 4]),
        ];
        assert_eq!(encode_payload(&packets).unwrap(), "4hello\x1ebAQIDBA==");
        assert_eq!(
            decode_payload(b"4hello\x1ebAQIDBA==", PayloadLimits::default()).unwrap(),
            packets
        );
        assert_eq!(
            decode_payload(b"b", PayloadLimits::default()).unwrap(),
            [Packet::Binary(vec![])]
        );
    }

    #[test]
    fn sample_session_payload_of_two_events() {
        // socket.io-protocol, "Sample session", request 5.
        let packets =
            decode_payload(b"42[\"hello\"]\x1e42[\"world\"]", PayloadLimits::default()).unwrap();
        assert_eq!(
            packets,
            [
                Packet::Message(r#"2["hello"]"#.into()),
                Packet::Message(r#"2["world"]"#.into())
            ]
        );
    }

    #[test]
    fn payload_with_invalid_base64_is_refused() {
        for body in ["bAQIDBA=", "bAQ!DBA==", "bAQIDBA", "bAQIDBB=="] {
            let err = decode_payload(body.as_bytes(), PayloadLimits::default()).unwrap_err();
            assert_eq!(
                err,
                PayloadError::Packet {
                    index: 0,
                    error: PacketError::InvalidBase64
                },
                "{body}"
            );
        }
    }

    #[test]
    fn payload_with_an_empty_packet_is_refused() {
        for (body, index) in [("", 0), ("4a\x1e\x1e4b", 1), ("4a\x1e", 1), ("\x1e4a", 0)] {
            let err = decode_payload(body.as_bytes(), PayloadLimits::default()).unwrap_err();
            assert_eq!(
                err,
                PayloadError::Packet {
                    index,
                    error: PacketError::Empty
                },
                "{body:?}"
            );
        }
    }

    #[test]
    fn payload_over_the_packet_limit_is_refused() {
        let body = vec!["2"; 17].join("\x1e");
        let err = decode_payload(body.as_bytes(), PayloadLimits::default()).unwrap_err();
        assert_eq!(err, PayloadError::TooManyPackets { limit: 16 });
        let body = vec!["2"; 16].join("\x1e");
        assert_eq!(
            decode_payload(body.as_bytes(), PayloadLimits::default())
                .unwrap()
                .len(),
            16
        );
        let body = vec!["2"; 17].join("\x1e");
        assert!(decode_payload(body.as_bytes(), PayloadLimits::default().max_packets(17)).is_ok());
    }

    #[test]
    fn payload_over_the_size_limit_is_refused() {
        let limits = PayloadLimits::default().max_payload(6);
        assert_eq!(
            decode_payload(b"4hello!", limits),
            Err(PayloadError::TooLarge { limit: 6, len: 7 })
        );
        assert!(decode_payload(b"4hello", limits).is_ok());
    }

    #[test]
    fn payload_that_is_not_utf8_is_refused() {
        assert_eq!(
            decode_payload(b"4ab\xff", PayloadLimits::default()),
            Err(PayloadError::NotUtf8 { offset: 3 })
        );
    }

    #[test]
    fn separator_inside_text_is_refused_by_the_encoder() {
        let packets = [Packet::Noop, Packet::Message("a\x1e1".into())];
        assert_eq!(
            encode_payload(&packets),
            Err(PayloadError::SeparatorInText { index: 1 })
        );
    }

    // ---- The handshake ----

    #[test]
    fn open_packet_matches_the_sample_session() {
        // socket.io-protocol, "Sample session", request 1.
        let handshake = Handshake {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: Transport::Polling
                .upgrades()
                .iter()
                .map(|u| u.to_string())
                .collect(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(5),
            max_payload: 1_000_000,
        };
        let text = handshake.packet().encode_text();
        assert_eq!(
            text,
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#
        );
        let Packet::Open(data) = Packet::decode_text(&text).unwrap() else {
            panic!("not an open packet")
        };
        assert_eq!(Handshake::from_json(&data), Ok(handshake));
    }

    #[test]
    fn handshake_with_missing_or_mistyped_members_is_refused() {
        assert_eq!(
            Handshake::from_json(
                r#"{"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}"#
            ),
            Err(HandshakeError::Missing("sid"))
        );
        assert_eq!(
            Handshake::from_json(
                r#"{"sid":"a","upgrades":[1],"pingInterval":1,"pingTimeout":1,"maxPayload":1}"#
            ),
            Err(HandshakeError::Invalid("upgrades"))
        );
        assert_eq!(
            Handshake::from_json(
                r#"{"sid":"a","upgrades":[],"pingInterval":-1,"pingTimeout":1,"maxPayload":1}"#
            ),
            Err(HandshakeError::Invalid("pingInterval"))
        );
        assert!(matches!(
            Handshake::from_json("{"),
            Err(HandshakeError::Json(_))
        ));
    }

    // ---- Requests ----

    fn refused(method: &str, query: &str, upgrade: bool) -> EngineError {
        check_request(method, query, upgrade).unwrap_err()
    }

    #[test]
    fn polling_handshake_is_accepted() {
        let request = check_request("GET", "EIO=4&transport=polling&t=N8hyd6w", false).unwrap();
        assert_eq!(
            request,
            Request {
                transport: Transport::Polling,
                sid: None
            }
        );
    }

    #[test]
    fn websocket_handshake_and_upgrade_are_accepted() {
        let request = check_request("GET", "EIO=4&transport=websocket", true).unwrap();
        assert_eq!(
            request,
            Request {
                transport: Transport::WebSocket,
                sid: None
            }
        );
        let request = check_request(
            "GET",
            "EIO=4&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC",
            true,
        )
        .unwrap();
        assert_eq!(request.sid.as_deref(), Some("lv_VI97HAXpY6yYWAAAC"));
    }

    #[test]
    fn polling_post_with_a_sid_is_accepted() {
        let request = check_request(
            "POST",
            "EIO=4&transport=polling&t=N8hyd7H&sid=lv_VI97HAXpY6yYWAAAC",
            false,
        )
        .unwrap();
        assert_eq!(request.sid.as_deref(), Some("lv_VI97HAXpY6yYWAAAC"));
    }

    #[test]
    fn unknown_or_missing_transport_is_code_0() {
        for query in [
            "EIO=4&transport=flashsocket",
            "EIO=4",
            "EIO=4&transport=",
            "EIO=4&transport=webtransport",
        ] {
            let err = refused("GET", query, false);
            assert_eq!(
                (err.code(), err.message(), err.status()),
                (0, "Transport unknown", 400),
                "{query}"
            );
        }
        assert_eq!(
            refused("GET", "EIO=4", false).body(),
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        // The transport is checked before the version, as the official server does.
        assert_eq!(refused("GET", "EIO=3&transport=x", false).code(), 0);
    }

    #[test]
    fn unknown_sid_is_code_1() {
        let err = EngineError::UnknownSid("nope".into());
        assert_eq!(err.body(), r#"{"code":1,"message":"Session ID unknown"}"#);
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn handshake_that_is_not_a_get_is_code_2() {
        let err = refused("POST", "EIO=4&transport=polling", false);
        assert_eq!(err.body(), r#"{"code":2,"message":"Bad handshake method"}"#);
        // An empty sid is no sid.
        assert_eq!(
            refused("POST", "EIO=4&transport=polling&sid=", false).code(),
            2
        );
    }

    #[test]
    fn websocket_handshake_without_an_upgrade_is_code_3() {
        let err = refused("GET", "EIO=4&transport=websocket", false);
        assert_eq!(
            err,
            EngineError::BadRequest(BadRequest::WebSocketWithoutUpgrade)
        );
        assert_eq!(err.body(), r#"{"code":3,"message":"Bad request"}"#);
        assert_eq!(
            refused("GET", "EIO=4&transport=polling", true),
            EngineError::BadRequest(BadRequest::UpgradeWithoutWebSocket)
        );
    }

    #[test]
    fn repeated_parameters_and_bad_escapes_are_code_3() {
        assert_eq!(
            refused("GET", "EIO=4&transport=polling&transport=websocket", false),
            EngineError::BadRequest(BadRequest::RepeatedParameter("transport"))
        );
        assert_eq!(
            refused("GET", "EIO=4&EIO=4&transport=polling", false),
            EngineError::BadRequest(BadRequest::RepeatedParameter("EIO"))
        );
        for query in [
            "EIO=4&transport=polling&sid=%zz",
            "EIO=4&transport=polling&sid=%4",
            "EIO=4&transport=polling&sid=%ff",
        ] {
            assert_eq!(
                refused("GET", query, false),
                EngineError::BadRequest(BadRequest::MalformedQuery),
                "{query}"
            );
        }
    }

    #[test]
    fn values_are_percent_decoded() {
        let request =
            check_request("GET", "EIO=%34&transport=p%6Flling&sid=a%2Bb+c", false).unwrap();
        assert_eq!(request.transport, Transport::Polling);
        assert_eq!(request.sid.as_deref(), Some("a+b c"));
    }

    #[test]
    fn forbidden_is_code_4_with_status_403() {
        let err = EngineError::Forbidden(None);
        assert_eq!(
            (err.status(), err.body()),
            (403, r#"{"code":4,"message":"Forbidden"}"#.to_string())
        );
        let err = EngineError::Forbidden(Some("no \"tokens\"".into()));
        assert_eq!(err.body(), r#"{"code":4,"message":"no \"tokens\""}"#);
    }

    #[test]
    fn protocol_version_other_than_4_is_code_5() {
        for query in [
            "EIO=3&transport=polling",
            "transport=polling",
            "EIO=&transport=polling",
            "EIO=04&transport=polling",
        ] {
            let err = refused("GET", query, false);
            assert_eq!(
                err.body(),
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
                "{query}"
            );
        }
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            refused("GET", "EIO=4&transport=flash", false).to_string(),
            "Engine.IO error 0 (Transport unknown): transport \"flash\" is not polling or websocket"
        );
        assert_eq!(
            PayloadError::Packet {
                index: 2,
                error: PacketError::UnknownType('9')
            }
            .to_string(),
            "packet 2 of the payload: unknown Engine.IO packet type '9' (expected 0-6)"
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
    fn mutated_payloads_and_queries_never_panic() {
        let seeds: [&[u8]; 4] = [
            b"4hello\x1e2\x1ebAQIDBA==\x1e3probe",
            b"0{\"sid\":\"x\"}\x1e6\x1e5\x1e1",
            b"EIO=4&transport=polling&sid=a%2Bb&t=1",
            "4€😀\x1e42[\"a\"]".as_bytes(),
        ];
        let alphabet = b"0123456789b\x1e%+=&AQID/\xff\xc3";
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let limits = PayloadLimits::default().max_payload(256);
        for i in 0..20_000 {
            let mut bytes = seeds[i % seeds.len()].to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                    _ => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            if let Ok(packets) = decode_payload(&bytes, limits) {
                assert!(packets.len() <= limits.max_packets);
                // What decodes, encodes back to the same packets.
                if let Ok(body) = encode_payload(&packets) {
                    assert_eq!(
                        decode_payload(body.as_bytes(), limits.max_payload(usize::MAX)),
                        Ok(packets)
                    );
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = Packet::decode_text(text);
                let _ = check_request("GET", text, i % 2 == 0).map_err(|e| e.body());
            }
        }
    }
}
