//! Messages: what an application sends and receives (RFC 6455, sections 5.6 and 5.5).
//!
//! On the wire a message is one frame, or several frames (a fragmented
//! message) whose payloads are concatenated. Applications deal in whole
//! messages; the [protocol core](crate::protocol) assembles and splits frames.

use std::fmt;

use crate::protocol::close::CloseFrame;

/// A WebSocket message, or a control frame that the application may want to see.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message: always valid UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping. When received, the library has already answered it with a pong.
    Ping(Vec<u8>),
    /// A pong: an answer to a ping, or an unsolicited heartbeat.
    Pong(Vec<u8>),
    /// A close frame. `None` is a close without a status code (reported as 1005).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Message {
        Message::Binary(data.into())
    }

    /// Whether this is a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }

    /// The payload's bytes (for a close, the reason).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(Some(frame)) => frame.reason.as_bytes(),
            Message::Close(None) => &[],
        }
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload, consumed: text as its UTF-8 bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(Some(frame)) => frame.reason.into_bytes(),
            Message::Close(None) => Vec::new(),
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 64;
        match self {
            Message::Text(text) if text.len() <= SHOW => write!(f, "Text({text:?})"),
            Message::Text(text) => write!(f, "Text({} bytes)", text.len()),
            Message::Binary(data) if data.len() <= SHOW => write!(f, "Binary({data:02x?})"),
            Message::Binary(data) => write!(f, "Binary({} bytes)", data.len()),
            Message::Ping(data) => write!(f, "Ping({data:02x?})"),
            Message::Pong(data) => write!(f, "Pong({data:02x?})"),
            Message::Close(frame) => write!(f, "Close({frame:?})"),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data)
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Message {
        Message::Binary(data.to_vec())
    }
}
