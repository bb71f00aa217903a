//! Negotiating `permessage-deflate` in the opening handshake (RFC 7692
//! sections 5 and 7.1, over the `Sec-WebSocket-Extensions` grammar of
//! RFC 6455 section 9.1).
//!
//! Nothing here touches a socket: the server turns the offers of a request
//! into an answer with [`answer_offers`], the client writes its offer with
//! [`Compression::offer`] and checks the server's answer with
//! [`check_answer`]. Both end with an [`Agreed`] set of parameters, which the
//! shells hand to the [`Receiver`](super::Receiver) and
//! [`Sender`](super::Sender).
//!
//! ```text
//!   client                                         server
//!     | Sec-WebSocket-Extensions:                     |
//!     |   permessage-deflate; client_max_window_bits  |  answer_offers():
//!     | --------------------------------------------> |  the first valid offer
//!     |                                               |  it can accept
//!     | Sec-WebSocket-Extensions: permessage-deflate; |
//!     |   client_max_window_bits=12                   |
//!     | <-------------------------------------------- |
//!  check_answer(): every parameter valid for what was offered, or the
//!  handshake fails
//! ```
//!
//! # The rules, with their sections
//!
//! | rule | section |
//! |---|---|
//! | several offers, in one header or several, in order of preference | 5.1, RFC 6455 9.1 |
//! | a value may be a token or a quoted string holding a token | RFC 6455 9.1 |
//! | an offer with an unknown or repeated parameter, or a bad value, is declined | 7.1 |
//! | `*_no_context_takeover` take no value | 7.1.1 |
//! | `server_max_window_bits` needs a value, 8 to 15 | 7.1.2.1 |
//! | `client_max_window_bits` may have no value; with one, 8 to 15 | 7.1.2.2 |
//! | the server may add `server_no_context_takeover` unasked | 7.1.1.1 |
//! | an offered `server_max_window_bits` must be answered, with a value no larger | 7.1.2.1 |
//! | `client_max_window_bits` may be answered only if offered, no larger | 7.1.2.2 |
//! | the client fails the connection on an answer it cannot accept | 7.1 |
//!
//! Values are written without leading zeros or signs, as section 7.1.2.1's
//! grammar (`%x38-39 / "1" %x30-35`) requires, so `08` or `+9` are bad values.
//!
//! # Defaults, chosen for size and memory
//!
//! The server keeps a compression context for each client that allows it
//! (it answers without `server_no_context_takeover` unless the client asked
//! for it), as Python's `websockets`, Node's `ws` and Tornado do: a message
//! may refer back to the previous ones, which is what makes small messages
//! shrink (200 bytes of JSON to about a third, against three quarters when
//! each is compressed on its own). That context is a deflater with a
//! 2<sup>12</sup>-byte window ([`Compression::window_bits`]; the window
//! agreed stays 15, since a compressor may use a smaller one than its peer
//! allows): 22 KiB held per connection, against 165 KiB at 15 bits. And the
//! server asks the client for a 2<sup>12</sup>-byte window
//! (`client_max_window_bits=12`, when the client allows it, as browsers
//! do), as `websockets` does: the decompressor holds that window between
//! messages and nothing else.
//!
//! [`Compression::server_context_takeover`]`(false)` makes the server
//! compress each message on its own (it answers every offer with
//! `server_no_context_takeover`, as section 7.1.1.1 lets it): no
//! compressor is then held per connection (they come from a small pool
//! shared by all threads), any thread can compress for any connection, and
//! a broadcast is compressed once for every client that agreed the same
//! window, at the price of the small messages' size.
//!
//! Measured (the receiver's `an_idle_connection_holds_one_small_window`
//! test): between messages, a server connection's decompressor holds
//! 4,096 bytes. From outside, with 1,000 connections after one 4 KiB
//! message each way, compression adds 31 KB of resident memory per
//! connection at the defaults and 8 KB without a kept context, against
//! 60 KB in Python's `websockets` at its defaults (see
//! [`guide::memory`](crate::guide::memory#with-compression)). A client that
//! offers no `client_max_window_bits` makes the decompressor's window
//! 32 KiB; one that offers `client_no_context_takeover` makes it nothing,
//! since the decompressor is then dropped after each message.

use std::fmt;

use super::Role;
use crate::deflate::Level;

/// The extension's name in the handshake.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// Settings for `permessage-deflate` (RFC 7692), for a server
/// ([`ServerBuilder::compression`](crate::server::ServerBuilder::compression)),
/// a client ([`ClientBuilder::compression`](crate::client::ClientBuilder::compression)),
/// or [`accept_with_config`](crate::accept_with_config) ([`WebSocketConfig::compression`](crate::WebSocketConfig::compression)).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`enabled`](Self::enabled) | on | offer (client) or accept (server) the extension |
/// | [`level`](Self::level) | 6 | 0 (stored) to 9 (smallest) |
/// | [`window_bits`](Self::window_bits) | 15 on a client, 12 for a server's kept context | the window this end compresses with, 8 to 15 |
/// | [`context_takeover`](Self::context_takeover) | on | whether a client keeps its compression context between messages |
/// | [`server_context_takeover`](Self::server_context_takeover) | on | whether a server keeps a compression context per connection (when the client allows it) |
/// | [`peer_window_bits`](Self::peer_window_bits) | 12 on a server; a client asks nothing (15) | the window asked of the peer: what each connection's decompressor holds |
/// | [`peer_context_takeover`](Self::peer_context_takeover) | on | off asks the peer to compress each message on its own |
/// | [`threshold`](Self::threshold) | 32 | messages shorter than this go uncompressed |
///
/// ```
/// use stdws::Compression;
/// let compression = Compression::default().level(1).threshold(256);
/// assert!(compression.is_enabled());
/// assert!(!Compression::disabled().is_enabled());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    enabled: bool,
    level: Level,
    /// `None`: 15 for a client, 12 for a server's kept context.
    window_bits: Option<u8>,
    context_takeover: bool,
    server_context_takeover: bool,
    /// `None`: 12 asked by a server, nothing asked by a client.
    peer_window_bits: Option<u8>,
    peer_context_takeover: bool,
    threshold: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            enabled: true,
            level: Level::DEFAULT,
            window_bits: None,
            context_takeover: true,
            server_context_takeover: true,
            peer_window_bits: None,
            peer_context_takeover: true,
            threshold: 32,
        }
    }
}

impl Compression {
    /// Compression on, with the defaults above.
    pub fn new() -> Self {
        Compression::default()
    }

    /// Compression off: a client offers nothing, a server declines every
    /// offer.
    pub fn disabled() -> Self {
        Compression {
            enabled: false,
            ..Compression::default()
        }
    }

    /// Turns the extension on or off.
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// The compression level, 0 to 9 (larger values are taken as 9).
    pub fn level(mut self, level: u8) -> Self {
        self.level = Level::new(level.min(9)).unwrap_or(Level::BEST);
        self
    }

    /// The window this end compresses with, in bits, 8 to 15 (values outside
    /// are brought into the range). The peer may ask for a smaller one.
    ///
    /// By default 15 for a client, and 12 for the compressor a server keeps
    /// for each connection: 2<sup>15</sup> makes that compressor 165 KiB, 12
    /// makes it 22 KiB, and for messages of a few kilobytes or less (the
    /// ones a kept context helps most) the output is the same size. A
    /// server that compresses each message on its own uses the window the
    /// client allows (15 unless it asked for less), since its compressors
    /// are shared.
    pub fn window_bits(mut self, bits: u8) -> Self {
        self.window_bits = Some(bits.clamp(8, 15));
        self
    }

    /// Whether this end keeps its compression context between messages
    /// (smaller output for similar messages, a window held per connection).
    /// A server ignores it: see
    /// [`server_context_takeover`](Self::server_context_takeover).
    pub fn context_takeover(mut self, on: bool) -> Self {
        self.context_takeover = on;
        self
    }

    /// Whether a server keeps a compression context for each connection
    /// whose client allows it (on by default; a client ignores this).
    ///
    /// On, a client that does not ask for `server_no_context_takeover` gets
    /// a compressor of its own, kept between messages (RFC 7692 section
    /// 7.1.1.1): small messages that resemble the previous ones shrink
    /// several times more, at the price of that compressor's memory (about
    /// 22 KiB at the default [`window_bits`](Self::window_bits) of 12,
    /// 165 KiB at 15) and of compressing a broadcast once for each such
    /// receiver. Off, the server answers every offer with
    /// `server_no_context_takeover` and compresses each message on its
    /// own: a broadcast is compressed once for all its receivers, and no
    /// compressor is held per connection. Measured side by side in
    /// [`guide::performance`](crate::guide::performance#compression).
    ///
    /// Messages sent to such a connection from another thread while its
    /// compressor is busy (another sender compressing, or its own handler
    /// writing) go uncompressed rather than wait, which keeps the one
    /// compression history in the order of the wire. Under
    /// [`SlowClientPolicy::DropMessage`](crate::server::SlowClientPolicy::DropMessage),
    /// a compressed message that finds the queue full cannot be dropped
    /// (the client's window would miss it): the connection is closed instead.
    ///
    /// ```
    /// use stdws::Compression;
    /// use stdws::protocol::extension::answer_offers;
    /// let keep = Compression::default();
    /// let agreed = answer_offers(["permessage-deflate"], &keep).unwrap();
    /// assert!(!agreed.server_no_context_takeover);
    /// assert_eq!(agreed.response(), "permessage-deflate");
    /// // A client that asks for no context takeover still gets it.
    /// let agreed = answer_offers(["permessage-deflate; server_no_context_takeover"], &keep).unwrap();
    /// assert!(agreed.server_no_context_takeover);
    /// // And a server may choose it for everyone.
    /// let alone = Compression::default().server_context_takeover(false);
    /// let agreed = answer_offers(["permessage-deflate"], &alone).unwrap();
    /// assert_eq!(agreed.response(), "permessage-deflate; server_no_context_takeover");
    /// ```
    pub fn server_context_takeover(mut self, on: bool) -> Self {
        self.server_context_takeover = on;
        self
    }

    /// The window the peer is asked to compress with, in bits, 8 to 15: the
    /// memory of each connection's decompressor. A server can ask this only
    /// of a client that offers `client_max_window_bits`; otherwise 15.
    pub fn peer_window_bits(mut self, bits: u8) -> Self {
        self.peer_window_bits = Some(bits.clamp(8, 15));
        self
    }

    /// Whether the peer may keep its compression context between messages.
    /// Off, a client offers `server_no_context_takeover` (the stdws server
    /// always agrees to it) and a server accepts `client_no_context_takeover`
    /// when offered.
    pub fn peer_context_takeover(mut self, on: bool) -> Self {
        self.peer_context_takeover = on;
        self
    }

    /// Messages shorter than `bytes` are sent uncompressed: compressing a
    /// few bytes costs time and saves nothing.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The window a server asks of its clients.
    fn server_peer_window_bits(&self) -> u8 {
        self.peer_window_bits.unwrap_or(12)
    }

    /// Whether the extension is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The compression level.
    pub fn compression_level(&self) -> Level {
        self.level
    }

    /// The threshold below which messages go uncompressed.
    pub fn compression_threshold(&self) -> usize {
        self.threshold
    }

    /// The window a client compresses with at most, in bits.
    fn client_window_bits(&self) -> u8 {
        self.window_bits.unwrap_or(15)
    }

    /// The window of the compressor a server keeps for one connection, at
    /// most, in bits.
    pub(crate) fn server_context_window_bits(&self) -> u8 {
        self.window_bits.unwrap_or(12)
    }

    /// The client's offer: the value of its `Sec-WebSocket-Extensions`
    /// header, or `None` when compression is off.
    ///
    /// ```
    /// use stdws::Compression;
    /// assert_eq!(
    ///     Compression::default().offer().as_deref(),
    ///     Some("permessage-deflate; client_max_window_bits")
    /// );
    /// ```
    pub fn offer(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let mut offer = String::from(PERMESSAGE_DEFLATE);
        if !self.peer_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if !self.context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        // A client that offers its own limit lets the server ask for less
        // (section 7.1.2.2); without it, 15 is assumed.
        if self.client_window_bits() < 15 {
            offer.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_window_bits()
            ));
        } else {
            offer.push_str("; client_max_window_bits");
        }
        if let Some(bits) = self.peer_window_bits.filter(|&b| b < 15) {
            offer.push_str(&format!("; server_max_window_bits={bits}"));
        }
        Some(offer)
    }
}

/// The parameters both ends agreed on (RFC 7692 section 7.1), with every
/// default filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Agreed {
    /// The server compresses each message on its own (section 7.1.1.1).
    pub server_no_context_takeover: bool,
    /// The client compresses each message on its own (section 7.1.1.2).
    pub client_no_context_takeover: bool,
    /// The server's window, in bits (section 7.1.2.1).
    pub server_max_window_bits: u8,
    /// The client's window, in bits (section 7.1.2.2).
    pub client_max_window_bits: u8,
}

/// How one direction of a connection is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Direction {
    /// The window, in bits.
    pub window_bits: u8,
    /// Whether each message is compressed on its own.
    pub no_context_takeover: bool,
}

impl Agreed {
    /// What the endpoint playing `role` compresses its messages with.
    pub fn outbound(&self, role: Role) -> Direction {
        match role {
            Role::Server => Direction {
                window_bits: self.server_max_window_bits,
                no_context_takeover: self.server_no_context_takeover,
            },
            Role::Client => Direction {
                window_bits: self.client_max_window_bits,
                no_context_takeover: self.client_no_context_takeover,
            },
        }
    }

    /// What the endpoint playing `role` receives messages compressed with.
    pub fn inbound(&self, role: Role) -> Direction {
        match role {
            Role::Server => self.outbound(Role::Client),
            Role::Client => self.outbound(Role::Server),
        }
    }

    /// The value of the server's `Sec-WebSocket-Extensions` header.
    pub fn response(&self) -> String {
        let mut out = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            out.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        out
    }
}

/// One element of an extension list: a name and its parameters, values
/// unquoted (RFC 6455 section 9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension's name, as sent.
    pub name: String,
    /// Its parameters in order, each with its value, if any.
    pub params: Vec<(String, Option<String>)>,
}

/// Parses header values into extensions, in order. An element that breaks
/// the grammar is `Err` in its place, so that a server can decline just that
/// offer and a client can fail.
///
/// ```
/// use stdws::protocol::extension::parse_extensions;
/// let list = parse_extensions(["permessage-deflate; client_max_window_bits, x-foo; a=\"1\""]);
/// assert_eq!(list.len(), 2);
/// let first = list[0].as_ref().unwrap();
/// assert_eq!(first.params, [("client_max_window_bits".to_string(), None)]);
/// assert_eq!(list[1].as_ref().unwrap().params[0].1.as_deref(), Some("1"));
/// ```
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Vec<Result<Extension, ExtensionProblem>> {
    let mut out = Vec::new();
    for value in values {
        for element in split_outside_quotes(value, b',') {
            if element.trim().is_empty() {
                // RFC 7230 section 7: empty list elements are ignored.
                continue;
            }
            out.push(parse_element(element));
        }
    }
    out
}

/// Splits `s` at `sep` where it is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: u8) -> Vec<&str> {
    let bytes = s.as_bytes();
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if quoted {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_element(element: &str) -> Result<Extension, ExtensionProblem> {
    let mut pieces = split_outside_quotes(element, b';').into_iter();
    let name = pieces.next().unwrap_or("").trim();
    if !is_token(name) {
        return Err(ExtensionProblem::Syntax(element.trim().to_owned()));
    }
    let mut params = Vec::new();
    for piece in pieces {
        let (key, value) = match piece.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (piece.trim(), None),
        };
        if !is_token(key) {
            return Err(ExtensionProblem::Syntax(element.trim().to_owned()));
        }
        let value = match value {
            None => None,
            Some(v) => Some(
                unquote(v).ok_or_else(|| ExtensionProblem::Syntax(element.trim().to_owned()))?,
            ),
        };
        params.push((key.to_ascii_lowercase(), value));
    }
    Ok(Extension {
        name: name.to_owned(),
        params,
    })
}

/// A parameter value: a token, or a quoted string whose content, once
/// unescaped, is a token (RFC 6455 section 9.1).
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return is_token(v).then(|| v.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    is_token(&out).then_some(out)
}

/// Why an extension offer or answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionProblem {
    /// An element that breaks the header's grammar.
    Syntax(String),
    /// A parameter that `permessage-deflate` does not define.
    UnknownParameter(String),
    /// A parameter given twice.
    RepeatedParameter(String),
    /// A parameter with a value it may not have, or without one it needs.
    BadValue(String),
    /// An extension the client did not offer.
    NotOffered(String),
    /// More than one extension in the answer.
    SeveralAnswers,
    /// An answer valid on its own but not for the offer: a window larger
    /// than offered, or a `client_max_window_bits` the client did not offer.
    DoesNotFitOffer(String),
}

impl fmt::Display for ExtensionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionProblem::Syntax(e) => write!(
                f,
                "extension {e:?} breaks the header's grammar (RFC 6455 section 9.1)"
            ),
            ExtensionProblem::UnknownParameter(p) => write!(
                f,
                "permessage-deflate has no parameter {p:?} (RFC 7692 section 7.1)"
            ),
            ExtensionProblem::RepeatedParameter(p) => {
                write!(f, "parameter {p:?} is given twice (RFC 7692 section 7.1)")
            }
            ExtensionProblem::BadValue(p) => write!(
                f,
                "parameter {p} has an invalid value (RFC 7692 section 7.1)"
            ),
            ExtensionProblem::NotOffered(e) => {
                write!(f, "the server chose extension {e:?}, which was not offered")
            }
            ExtensionProblem::SeveralAnswers => {
                f.write_str("the server answered with more than one extension")
            }
            ExtensionProblem::DoesNotFitOffer(p) => write!(
                f,
                "the server's {p} does not fit the offer (RFC 7692 section 7.1.2)"
            ),
        }
    }
}

impl std::error::Error for ExtensionProblem {}

/// The parameters of one `permessage-deflate` offer or answer, checked on
/// their own (section 7.1). `client_max_window_bits` is `Some(None)` when
/// given without a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// `server_no_context_takeover` was given.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` was given.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits`, if given.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`, if given, and its value, if any.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// A window size as the grammar writes it: 8 to 15, no leading zero.
fn window_bits(value: &str) -> Option<u8> {
    match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => value.parse().ok(),
        _ => None,
    }
}

impl DeflateParams {
    /// Checks the parameters of a `permessage-deflate` element.
    ///
    /// ```
    /// use stdws::protocol::extension::{DeflateParams, parse_extensions};
    /// let offer = parse_extensions(["permessage-deflate; server_max_window_bits=10"]);
    /// let params = DeflateParams::from_extension(offer[0].as_ref().unwrap()).unwrap();
    /// assert_eq!(params.server_max_window_bits, Some(10));
    /// let bad = parse_extensions(["permessage-deflate; server_max_window_bits=16"]);
    /// assert!(DeflateParams::from_extension(bad[0].as_ref().unwrap()).is_err());
    /// ```
    pub fn from_extension(extension: &Extension) -> Result<DeflateParams, ExtensionProblem> {
        let mut p = DeflateParams::default();
        let mut seen = [false; 4];
        for (key, value) in &extension.params {
            let index = match key.as_str() {
                "server_no_context_takeover" => 0,
                "client_no_context_takeover" => 1,
                "server_max_window_bits" => 2,
                "client_max_window_bits" => 3,
                _ => return Err(ExtensionProblem::UnknownParameter(key.clone())),
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(ExtensionProblem::RepeatedParameter(key.clone()));
            }
            let bad = || ExtensionProblem::BadValue(key.clone());
            match (index, value.as_deref()) {
                (0, None) => p.server_no_context_takeover = true,
                (1, None) => p.client_no_context_takeover = true,
                (2, Some(v)) => p.server_max_window_bits = Some(window_bits(v).ok_or_else(bad)?),
                (3, None) => p.client_max_window_bits = Some(None),
                (3, Some(v)) => {
                    p.client_max_window_bits = Some(Some(window_bits(v).ok_or_else(bad)?))
                }
                _ => return Err(bad()),
            }
        }
        Ok(p)
    }
}

/// The server's side: picks the first valid `permessage-deflate` offer from
/// the request's `Sec-WebSocket-Extensions` values and returns what was
/// agreed (its [`response`](Agreed::response) is the header to send), or
/// `None` to decline every offer. Other extensions are ignored.
///
/// ```
/// use stdws::Compression;
/// use stdws::protocol::extension::answer_offers;
/// let agreed = answer_offers(["permessage-deflate; client_max_window_bits"], &Compression::default()).unwrap();
/// assert_eq!(
///     agreed.response(),
///     "permessage-deflate; client_max_window_bits=12"
/// );
/// // A malformed first offer is declined; the next is taken.
/// let agreed = answer_offers(
///     ["permessage-deflate; server_max_window_bits=7, permessage-deflate"],
///     &Compression::default(),
/// ).unwrap();
/// assert_eq!(agreed.client_max_window_bits, 15);
/// ```
pub fn answer_offers<'a>(
    values: impl IntoIterator<Item = &'a str>,
    settings: &Compression,
) -> Option<Agreed> {
    if !settings.enabled {
        return None;
    }
    parse_extensions(values)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .filter_map(|e| DeflateParams::from_extension(&e).ok())
        .map(|offer| Agreed {
            // Unless asked for: see the module docs.
            server_no_context_takeover: !settings.server_context_takeover
                || offer.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover,
            // A compressor may use a smaller window than agreed (the
            // decompressor's is only an upper bound on distances): a server
            // keeping a context compresses with `window_bits` in any case.
            server_max_window_bits: offer
                .server_max_window_bits
                .map_or(15, |n| n.min(settings.window_bits.unwrap_or(15))),
            client_max_window_bits: match offer.client_max_window_bits {
                None => 15,
                Some(None) => settings.server_peer_window_bits(),
                Some(Some(n)) => n.min(settings.server_peer_window_bits()),
            },
        })
        .next()
}

/// The client's side: checks the server's `Sec-WebSocket-Extensions`
/// values against the offer made with `settings`. `Ok(None)`: the server
/// declined, and messages go uncompressed.
///
/// ```
/// use stdws::Compression;
/// use stdws::protocol::extension::check_answer;
/// let settings = Compression::default();
/// let agreed = check_answer(["permessage-deflate; server_no_context_takeover"], &settings).unwrap().unwrap();
/// assert!(agreed.server_no_context_takeover);
/// assert!(check_answer(["permessage-deflate; server_max_window_bits"], &settings).is_err());
/// assert_eq!(check_answer([], &settings), Ok(None));
/// ```
pub fn check_answer<'a>(
    values: impl IntoIterator<Item = &'a str>,
    settings: &Compression,
) -> Result<Option<Agreed>, ExtensionProblem> {
    let answers = parse_extensions(values);
    let answer = match answers.as_slice() {
        [] => return Ok(None),
        [one] => one.clone()?,
        _ => return Err(ExtensionProblem::SeveralAnswers),
    };
    if !settings.enabled || !answer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return Err(ExtensionProblem::NotOffered(answer.name));
    }
    let params = DeflateParams::from_extension(&answer)?;
    let offered_peer = settings.peer_window_bits.filter(|&b| b < 15);
    let server_max_window_bits = match (params.server_max_window_bits, offered_peer) {
        (Some(n), Some(offered)) if n > offered => {
            return Err(ExtensionProblem::DoesNotFitOffer(
                "server_max_window_bits".into(),
            ));
        }
        // Section 7.1.2.1: answered when offered.
        (None, Some(_)) => {
            return Err(ExtensionProblem::DoesNotFitOffer(
                "server_max_window_bits".into(),
            ));
        }
        (Some(n), _) => n,
        (None, None) => 15,
    };
    let client_max_window_bits = match params.client_max_window_bits {
        None => settings.client_window_bits(),
        // The offer always carries client_max_window_bits; its answer needs
        // a value no larger than the one offered.
        Some(None) => {
            return Err(ExtensionProblem::BadValue("client_max_window_bits".into()));
        }
        Some(Some(n)) if n > settings.client_window_bits() => {
            return Err(ExtensionProblem::DoesNotFitOffer(
                "client_max_window_bits".into(),
            ));
        }
        Some(Some(n)) => n,
    };
    if !settings.peer_context_takeover && !params.server_no_context_takeover {
        return Err(ExtensionProblem::DoesNotFitOffer(
            "server_no_context_takeover".into(),
        ));
    }
    Ok(Some(Agreed {
        server_no_context_takeover: params.server_no_context_takeover,
        client_no_context_takeover: params.client_no_context_takeover || !settings.context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer of a server that compresses each message on its own,
    /// whose answers show every rule of the negotiation.
    fn offer(value: &str) -> Option<Agreed> {
        answer_offers([value], &alone())
    }

    fn alone() -> Compression {
        Compression::default().server_context_takeover(false)
    }

    fn agreed(snct: bool, cnct: bool, s: u8, c: u8) -> Option<Agreed> {
        Some(Agreed {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: s,
            client_max_window_bits: c,
        })
    }

    #[test]
    fn by_default_a_server_keeps_a_context_for_each_client_that_allows_it() {
        let keep = Compression::default();
        let a = answer_offers(["permessage-deflate; client_max_window_bits"], &keep).unwrap();
        assert_eq!(a, agreed(false, false, 15, 12).unwrap());
        assert_eq!(
            a.response(),
            "permessage-deflate; client_max_window_bits=12"
        );
        // Its compressor's window, smaller than the one agreed: a
        // decompressor's window is only a bound on distances.
        assert_eq!(keep.server_context_window_bits(), 12);
        assert_eq!(keep.window_bits(10).server_context_window_bits(), 10);
        let a = answer_offers(["permessage-deflate; server_no_context_takeover"], &keep);
        assert_eq!(a, agreed(true, false, 15, 15));
    }

    #[test]
    fn a_plain_offer_is_accepted_with_server_no_context_takeover_added() {
        assert_eq!(offer("permessage-deflate"), agreed(true, false, 15, 15));
        assert_eq!(
            offer("permessage-deflate").unwrap().response(),
            "permessage-deflate; server_no_context_takeover"
        );
        assert_eq!(offer("PerMessage-Deflate"), agreed(true, false, 15, 15));
    }

    #[test]
    fn client_max_window_bits_without_a_value_lets_the_server_choose() {
        // Chromium's and Firefox's offer.
        let a = offer("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(a.client_max_window_bits, 12);
        assert!(a.response().ends_with("client_max_window_bits=12"));
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits=10"),
            agreed(true, false, 15, 10)
        );
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits=15"),
            agreed(true, false, 15, 12)
        );
    }

    #[test]
    fn an_offered_server_max_window_bits_is_answered_no_larger() {
        let a = offer("permessage-deflate; server_max_window_bits=9").unwrap();
        assert_eq!(a.server_max_window_bits, 9);
        assert!(a.response().contains("server_max_window_bits=9"));
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=15")
                .unwrap()
                .response(),
            "permessage-deflate; server_no_context_takeover"
        );
    }

    #[test]
    fn context_takeover_parameters_are_echoed() {
        let a = offer("permessage-deflate; client_no_context_takeover; server_no_context_takeover")
            .unwrap();
        assert_eq!(a, agreed(true, true, 15, 15).unwrap());
        assert_eq!(
            a.response(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn offers_with_unknown_or_repeated_parameters_are_declined() {
        assert_eq!(offer("permessage-deflate; foo"), None);
        assert_eq!(offer("permessage-deflate; foo=1"), None);
        assert_eq!(
            offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
            None
        );
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits; client_max_window_bits=10"),
            None
        );
    }

    #[test]
    fn offers_with_values_out_of_range_or_not_numbers_are_declined() {
        for bad in ["7", "16", "0", "08", "+9", "-1", "ten", "1.5", "", "\"\""] {
            assert_eq!(
                offer(&format!("permessage-deflate; server_max_window_bits={bad}")),
                None,
                "{bad}"
            );
            assert_eq!(
                offer(&format!("permessage-deflate; client_max_window_bits={bad}")),
                None,
                "{bad}"
            );
        }
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits"),
            None,
            "needs a value"
        );
        assert_eq!(
            offer("permessage-deflate; server_no_context_takeover=1"),
            None
        );
        assert_eq!(
            offer("permessage-deflate; client_no_context_takeover=\"x\""),
            None
        );
    }

    #[test]
    fn quoted_values_are_unquoted() {
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits=\"10\""),
            agreed(true, false, 15, 10)
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=\"1\\0\""),
            agreed(true, false, 10, 15)
        );
        // A quoted value must hold a token.
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits=\"1 0\""),
            None
        );
        // A comma inside quotes does not split the list.
        let list = parse_extensions(["x; a=\"b,c\", y"]);
        assert_eq!(list.len(), 2);
        assert!(list[0].is_err(), "b,c is no token");
    }

    #[test]
    fn the_first_acceptable_of_several_offers_wins_over_one_or_several_headers() {
        let headers = [
            "x-webkit-deflate-frame",
            "permessage-deflate; bogus, permessage-deflate; client_max_window_bits=9",
            "permessage-deflate",
        ];
        assert_eq!(answer_offers(headers, &alone()), agreed(true, false, 15, 9));
        assert_eq!(
            offer("permessage-deflate; client_no_context_takeover, permessage-deflate"),
            agreed(true, true, 15, 15)
        );
        assert_eq!(offer("foo, bar"), None);
        assert_eq!(offer(", ,permessage-deflate,"), agreed(true, false, 15, 15));
        assert_eq!(
            offer("permessage-deflate;; x"),
            None,
            "a malformed element is declined"
        );
    }

    #[test]
    fn a_disabled_server_declines_everything() {
        assert_eq!(
            answer_offers(["permessage-deflate"], &Compression::disabled()),
            None
        );
    }

    #[test]
    fn the_clients_offer_is_what_its_settings_say() {
        let all = Compression::default()
            .context_takeover(false)
            .peer_context_takeover(false)
            .window_bits(10)
            .peer_window_bits(9);
        assert_eq!(
            all.offer().unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10; server_max_window_bits=9"
        );
        assert_eq!(Compression::disabled().offer(), None);
        // The stdws server accepts every offer the stdws client makes.
        for c in [
            Compression::default(),
            all,
            Compression::default().peer_window_bits(15),
        ] {
            let a = answer_offers([c.offer().unwrap().as_str()], &Compression::default()).unwrap();
            assert!(check_answer([a.response().as_str()], &c).unwrap().is_some());
        }
    }

    fn check(answer: &str) -> Result<Option<Agreed>, ExtensionProblem> {
        check_answer([answer], &Compression::default())
    }

    #[test]
    fn the_client_accepts_valid_answers() {
        assert_eq!(
            check("permessage-deflate"),
            Ok(agreed(false, false, 15, 15))
        );
        assert_eq!(
            check("permessage-deflate; server_no_context_takeover"),
            Ok(agreed(true, false, 15, 15))
        );
        assert_eq!(
            check("permessage-deflate; client_no_context_takeover"),
            Ok(agreed(false, true, 15, 15))
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits=8"),
            Ok(agreed(false, false, 15, 8))
        );
        assert_eq!(
            check("permessage-deflate; server_max_window_bits=10"),
            Ok(agreed(false, false, 10, 15))
        );
    }

    #[test]
    fn the_client_fails_invalid_answers() {
        assert!(matches!(
            check("permessage-deflate; foo"),
            Err(ExtensionProblem::UnknownParameter(_))
        ));
        assert!(matches!(
            check("permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
            Err(ExtensionProblem::RepeatedParameter(_))
        ));
        assert!(matches!(
            check("permessage-deflate; client_max_window_bits"),
            Err(ExtensionProblem::BadValue(_))
        ));
        assert!(matches!(
            check("permessage-deflate; server_max_window_bits=16"),
            Err(ExtensionProblem::BadValue(_))
        ));
        assert!(matches!(
            check("x-foo"),
            Err(ExtensionProblem::NotOffered(_))
        ));
        assert!(matches!(
            check("permessage-deflate, permessage-deflate"),
            Err(ExtensionProblem::SeveralAnswers)
        ));
        assert!(matches!(
            check("permessage-deflate; a=\"b c\""),
            Err(ExtensionProblem::Syntax(_))
        ));
        assert!(matches!(
            check_answer(["permessage-deflate"], &Compression::disabled()),
            Err(ExtensionProblem::NotOffered(_))
        ));
    }

    #[test]
    fn the_client_fails_answers_that_do_not_fit_its_offer() {
        let small = Compression::default().window_bits(10).peer_window_bits(9);
        let c = |answer: &str| check_answer([answer], &small);
        assert!(matches!(
            c("permessage-deflate; server_max_window_bits=9; client_max_window_bits=11"),
            Err(ExtensionProblem::DoesNotFitOffer(_))
        ));
        assert!(matches!(
            c("permessage-deflate; server_max_window_bits=10"),
            Err(ExtensionProblem::DoesNotFitOffer(_))
        ));
        assert!(
            matches!(
                c("permessage-deflate"),
                Err(ExtensionProblem::DoesNotFitOffer(_))
            ),
            "an offered server_max_window_bits must be answered"
        );
        assert_eq!(
            c("permessage-deflate; server_max_window_bits=8"),
            Ok(agreed(false, false, 8, 10))
        );
        let no_takeover = Compression::default().peer_context_takeover(false);
        assert!(check_answer(["permessage-deflate"], &no_takeover).is_err());
    }

    #[test]
    fn each_role_reads_its_own_direction() {
        let a = agreed(true, false, 10, 12).unwrap();
        assert_eq!(
            a.outbound(Role::Server),
            Direction {
                window_bits: 10,
                no_context_takeover: true
            }
        );
        assert_eq!(
            a.inbound(Role::Server),
            Direction {
                window_bits: 12,
                no_context_takeover: false
            }
        );
        assert_eq!(a.outbound(Role::Client), a.inbound(Role::Server));
    }
}
