//! The one error type of stdws.
//!
//! Each variant says what happened; its `Display` message also says what a
//! user can do about it. Following wsproto and h11, an error that arises from
//! the peer carries what was sent back: the close code of a
//! [`Violation`], the HTTP status of a refused
//! handshake.

use std::fmt;
use std::io;

use crate::protocol::close::CloseCode;
use crate::protocol::handshake::{RequestProblem, ResponseProblem};
use crate::protocol::sender::SendError;
use crate::protocol::violation::Violation;

/// A `Result` with stdws's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in stdws.
///
/// `Display` says what happened and what to do; `Debug` (what `fn main() ->
/// stdws::Result<()>` prints) names the variant and then says the same, with
/// any bytes from the peer shown as text, cut short:
///
/// ```
/// use stdws::Error;
///
/// let e = Error::Listen {
///     addr: "127.0.0.1:8000".into(),
///     source: std::io::ErrorKind::AddrInUse.into(),
/// };
/// assert!(e.to_string().starts_with("could not listen on 127.0.0.1:8000: "));
/// assert!(format!("{e:?}").starts_with("Listen: could not listen on 127.0.0.1:8000"));
/// ```
///
/// Match on the
/// variants, or ask [`is_closed`](Self::is_closed) and
/// [`is_timeout`](Self::is_timeout), to act on it. A normal end of a
/// connection is not an error: it is a [`Message::Close`](crate::Message::Close),
/// and only reads after it fail, with [`Error::ConnectionClosed`].
///
/// ```
/// use stdws::protocol::http::Response;
/// use stdws::Error;
///
/// // A port that answers HTTP, but has no WebSocket on "/".
/// let server = stdws::Server::builder()
///     .route("/ws", stdws::server::Endpoint::callbacks())
///     .http(|_request| Response::text(200, "just a page"))
///     .bind("127.0.0.1:0")?
///     .spawn()?;
///
/// match stdws::connect(&format!("ws://{}/", server.local_addr())) {
///     Ok(_) => println!("connected"),
///     Err(e @ Error::HandshakeResponse { .. }) => println!("not a WebSocket there: {e}"),
///     Err(e) => return Err(e),
/// }
/// # let url = format!("ws://{}/", server.local_addr());
/// # assert!(matches!(stdws::connect(&url), Err(Error::HandshakeResponse { .. })));
/// # server.shutdown_now();
/// # Ok::<(), stdws::Error>(())
/// ```
///
/// Reading until the end of a connection, telling its kinds of end apart:
///
/// ```no_run
/// use stdws::{Error, Message};
///
/// let mut ws = stdws::connect("ws://127.0.0.1:8000/")?;
/// loop {
///     match ws.read() {
///         Ok(Message::Text(text)) => println!("{text}"),
///         Ok(Message::Close(frame)) => println!("closed by the server: {frame:?}"),
///         Ok(_) => {}
///         Err(e) if e.is_closed() => break, // after the close: the normal end
///         Err(Error::AbnormalClosure) => break, // the server vanished (1006)
///         Err(Error::Protocol(rule)) => {
///             eprintln!("the server broke a rule and was sent close {}: {rule}", rule.close_code());
///             break;
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok::<(), stdws::Error>(())
/// ```
#[non_exhaustive]
pub enum Error {
    /// The transport failed: a socket error, a reset, a timeout.
    Io(io::Error),
    /// The server could not bind its listening socket (the port is in use,
    /// the address is not this machine's, or a port under 1024 needs
    /// privileges).
    Listen {
        /// The address as given to `bind`.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The client could not open a TCP connection to the server (or to its
    /// proxy).
    Connect {
        /// The host and port it tried.
        addr: String,
        /// What the operating system said for the last address tried.
        source: io::Error,
    },
    /// The server was set up in a way that cannot work (the message says what
    /// to change); returned by `bind` before anything listens.
    Config(String),
    /// The peer broke a rule of RFC 6455. A close frame with
    /// [`Violation::close_code`] was sent and the connection is over.
    Protocol(Violation),
    /// The closing handshake is complete: nothing more can be read or sent.
    /// This is how a normal end of a connection is reported, after the
    /// [`Message::Close`](crate::Message::Close) itself.
    ConnectionClosed,
    /// The connection ended without a closing handshake (close code 1006):
    /// the peer vanished, or its end of the TCP connection was closed.
    AbnormalClosure,
    /// A message was sent after this side had sent a close frame.
    SendAfterClose,
    /// A ping or pong payload, or a close reason, was too long for a control
    /// frame (125 bytes).
    ControlFrameTooLong(usize),
    /// A close code that may not be sent on the wire (such as 1005 or 1006).
    InvalidCloseCode(CloseCode),
    /// The server refused the client's opening handshake; the response has
    /// been sent.
    HandshakeRequest(RequestProblem),
    /// The client refused the server's answer to its opening handshake.
    HandshakeResponse {
        /// What was wrong with the answer.
        problem: ResponseProblem,
        /// The response's body (a refusal usually says why in it).
        body: Vec<u8>,
    },
    /// The peer did not complete the opening handshake in time.
    HandshakeTimeout,
    /// A URL stdws cannot connect to.
    Url(String),
    /// The outbound queue of a slow client was full (see
    /// [`SlowClientPolicy`](crate::server::SlowClientPolicy)).
    QueueFull {
        /// Whether the slow client was disconnected (otherwise the message
        /// was dropped).
        disconnected: bool,
    },
    /// No client with this id is connected.
    NoSuchClient(u64),
    /// A room could not be joined: its name is too long, or the client is
    /// in as many rooms as it may be (the message says which).
    RoomRefused(String),
    /// The server is shutting down or stopped: nothing can be sent through
    /// its handle any more.
    ServerStopped,
    /// A Socket.IO client did not acknowledge an event within the timeout
    /// given to [`Socket::emit_with_ack`](crate::socketio::Socket::emit_with_ack).
    AckTimeout,
    /// Socket.IO could not carry this (the message says why).
    SocketIo(&'static str),
    /// The server's memory budget is spent: a large message was refused and
    /// its connection closed with 1013 (try again later). See
    /// [`ServerBuilder::memory_budget`](crate::server::ServerBuilder::memory_budget).
    MemoryBudget,
    /// A control frame (ping, pong, close) was sent with FIN unset: control
    /// frames are never fragmented (RFC 6455 section 5.5).
    ControlFrameFragmented,
    /// A [`MessagePart`](crate::MessagePart) was sent out of order, or a
    /// whole message was sent while a message in parts was unfinished.
    PartOutOfOrder(&'static str),
    /// The client could not go through its proxy: the proxy refused (its
    /// status and reason, or the SOCKS reply in words), or its URL is bad.
    Proxy(crate::client::ProxyError),
    /// The peer did not answer a keepalive ping within this time: the
    /// connection was closed with 1011 (see
    /// [`ClientBuilder::ping_timeout`](crate::ClientBuilder::ping_timeout)).
    PingTimeout(std::time::Duration),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error on the connection: {e}"),
            Error::Listen { addr, source } => write!(f, "could not listen on {addr}: {}", io_words(source)),
            Error::Connect { addr, source } => {
                write!(f, "could not connect to {addr}: {}", io_words(source))?;
                // The client's own account: each address tried, and a hint.
                match source.get_ref() {
                    Some(detail) => write!(f, "; {detail}"),
                    None => Ok(()),
                }
            }
            Error::Config(why) => write!(f, "the server's setup cannot work: {why}"),
            Error::Protocol(v) => write!(f, "{v}; the connection was closed with code {}", v.close_code()),
            Error::ConnectionClosed => f.write_str("the connection is closed (the closing handshake is complete)"),
            Error::AbnormalClosure => f.write_str(
                "the connection ended without a closing handshake (code 1006): the peer went away or its network failed",
            ),
            Error::SendAfterClose => f.write_str(
                "cannot send: this side has already sent a close frame; read until the peer's close arrives",
            ),
            Error::ControlFrameTooLong(len) => write!(
                f,
                "a control frame payload (ping, pong or close reason) of {len} bytes is over the limit of 125; send the data in a message instead"
            ),
            Error::InvalidCloseCode(code) => write!(
                f,
                "close code {code} may not be sent; use 1000 (normal), 1001 (going away), or an application code from 4000 to 4999"
            ),
            Error::HandshakeRequest(p) => write!(f, "refused the opening handshake with {}: {p}", p.status()),
            Error::HandshakeResponse { problem, body } => {
                write!(f, "opening handshake failed: {problem}")?;
                let body = String::from_utf8_lossy(body);
                let body = body.trim();
                if !body.is_empty() {
                    let first: String = body.lines().next().unwrap_or("").chars().take(200).collect();
                    write!(f, " (the server said: {first})")?;
                }
                Ok(())
            }
            Error::HandshakeTimeout => f.write_str(
                "the opening handshake did not complete in time; the peer may be slow or not a WebSocket endpoint",
            ),
            Error::Url(why) => write!(f, "cannot use this URL: {why}"),
            Error::QueueFull { disconnected: true } => f.write_str(
                "the client's outbound queue was full, so it was disconnected with 1008 (raise max_queued_bytes or choose SlowClientPolicy::DropMessage)",
            ),
            Error::QueueFull { disconnected: false } => f.write_str(
                "the client's outbound queue was full, so the message was dropped (raise max_queued_bytes to keep more)",
            ),
            Error::NoSuchClient(id) => write!(f, "no client with id {id} is connected"),
            Error::Proxy(e) => e.fmt(f),
            Error::PingTimeout(after) => write!(
                f,
                "the peer did not answer a keepalive ping within {after:?}: it is gone or its network failed, so the connection was closed"
            ),
            Error::RoomRefused(why) => write!(f, "cannot join the room: {why}; raise the limit on ServerBuilder if clients need more"),
            Error::ServerStopped => f.write_str("the server is shutting down or has stopped; nothing more can be sent through it"),
            Error::AckTimeout => f.write_str(
                "the Socket.IO client did not acknowledge the event in time; give emit_with_ack a longer timeout if it is slow",
            ),
            Error::SocketIo(why) => write!(f, "Socket.IO cannot send this: {why}"),
            Error::MemoryBudget => f.write_str(
                "the server's memory budget is spent: a large message was refused with close 1013 (try again later); raise ServerBuilder::memory_budget if the machine has room",
            ),
            Error::ControlFrameFragmented => f.write_str(
                "control frames (ping, pong, close) cannot be sent in fragments (RFC 6455 section 5.5); send them with FIN set",
            ),
            Error::PartOutOfOrder(what) => write!(
                f,
                "message part out of order: {what}; send a message in parts as one first part, any middle parts and one last part, with no whole message in between"
            ),
        }
    }
}

/// An operating system error in words a user acts on: `AddrInUse` reads
/// "address already in use", not "Address already in use (os error 98)".
fn io_words(e: &io::Error) -> String {
    let words = match e.kind() {
        io::ErrorKind::AddrInUse => {
            "address already in use (another program, or another copy of this one, listens there)"
        }
        io::ErrorKind::AddrNotAvailable => "address not available on this machine",
        io::ErrorKind::PermissionDenied => "permission denied (ports under 1024 need privileges)",
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)",
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out",
        _ => return e.to_string(),
    };
    words.to_string()
}

/// `Debug` for users: the variant's name, then its message. Bytes from the
/// peer (a refusal's body) appear as text, cut short, with their length.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Error::Io(e) => return write!(f, "Io({:?}): {self}", e.kind()),
            Error::Listen { .. } => "Listen",
            Error::Connect { .. } => "Connect",
            Error::Config(_) => "Config",
            Error::Protocol(_) => "Protocol",
            Error::ConnectionClosed => "ConnectionClosed",
            Error::AbnormalClosure => "AbnormalClosure",
            Error::SendAfterClose => "SendAfterClose",
            Error::ControlFrameTooLong(_) => "ControlFrameTooLong",
            Error::InvalidCloseCode(_) => "InvalidCloseCode",
            Error::HandshakeRequest(_) => "HandshakeRequest",
            Error::HandshakeResponse { problem, body } => {
                write!(f, "HandshakeResponse: opening handshake failed: {problem}")?;
                if !body.is_empty() {
                    write!(
                        f,
                        "; body ({} bytes): {:?}",
                        body.len(),
                        text_preview(body, 200)
                    )?;
                }
                return Ok(());
            }
            Error::HandshakeTimeout => "HandshakeTimeout",
            Error::Url(_) => "Url",
            Error::QueueFull { .. } => "QueueFull",
            Error::NoSuchClient(_) => "NoSuchClient",
            Error::RoomRefused(_) => "RoomRefused",
            Error::ServerStopped => "ServerStopped",
            Error::ControlFrameFragmented => "ControlFrameFragmented",
            Error::MemoryBudget => "MemoryBudget",
            Error::AckTimeout => "AckTimeout",
            Error::SocketIo(_) => "SocketIo",
            Error::PartOutOfOrder(_) => "PartOutOfOrder",
            Error::Proxy(_) => "Proxy",
            Error::PingTimeout(_) => "PingTimeout",
        };
        write!(f, "{name}: {self}")
    }
}

/// The first `max` characters of `bytes` read as UTF-8 (invalid sequences
/// replaced), with an ellipsis when there was more.
fn text_preview(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Listen { source, .. } | Error::Connect { source, .. } => Some(source),
            Error::Protocol(v) => Some(v),
            Error::HandshakeRequest(p) => Some(p),
            Error::HandshakeResponse { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Error {
        Error::Protocol(v)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        match e {
            SendError::CloseSent => Error::SendAfterClose,
            SendError::ControlFrameTooLong(len) => Error::ControlFrameTooLong(len),
            SendError::InvalidCloseCode(code) => Error::InvalidCloseCode(code),
            SendError::FragmentedControlFrame => Error::ControlFrameFragmented,
            SendError::NoMessageToContinue => {
                Error::PartOutOfOrder("a continuation was sent with no message in parts begun")
            }
            SendError::MessageInProgress => Error::PartOutOfOrder(
                "a new message was begun while a message in parts was unfinished",
            ),
            SendError::Random(e) => Error::Io(e),
        }
    }
}

impl Error {
    /// Whether the error is the normal end of a connection (after a
    /// completed closing handshake).
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::ConnectionClosed)
    }

    /// Whether a socket timeout caused this error.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Io(e) | Error::Connect { source: e, .. } => matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            Error::HandshakeTimeout => true,
            _ => false,
        }
    }
}
