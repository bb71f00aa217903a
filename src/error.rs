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
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed: a socket error, a reset, a timeout.
    Io(io::Error),
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
    /// A server's hook or router refused the handshake with this status.
    HandshakeRefused(u16),
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
    /// The server is shutting down or stopped.
    ServerStopped,
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
            Error::HandshakeRefused(status) => write!(f, "the opening handshake was refused with HTTP status {status}"),
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
            Error::ServerStopped => f.write_str("the server is shutting down or has stopped"),
            Error::PartOutOfOrder(what) => write!(
                f,
                "message part out of order: {what}; send a message in parts as one first part, any middle parts and one last part, with no whole message in between"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
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
            other @ (SendError::FragmentedControlFrame
            | SendError::NoMessageToContinue
            | SendError::MessageInProgress) => Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                other.to_string(),
            )),
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
            Error::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            Error::HandshakeTimeout => true,
            _ => false,
        }
    }
}
