//! Messages: what an application sends and receives (RFC 6455, sections 5.6 and 5.5).
//!
//! On the wire a message is one frame, or several frames (a fragmented
//! message) whose payloads are concatenated. Applications deal in whole
//! messages; the [protocol core](crate::protocol) assembles and splits frames.

use std::fmt;

use crate::protocol::close::CloseFrame;

/// A WebSocket message, or a control frame that the application may want to see.
///
/// Text and binary messages are what applications exchange; pings, pongs
/// and closes are shown to a reader for its information (stdws answers
/// them itself). Anything that takes `impl Into<Message>` takes a `String`
/// or `&str` (text) and a `Vec<u8>` or `&[u8]` (binary) as well.
///
/// ```
/// use stdws::Message;
///
/// let hello = Message::text("hello");
/// let bytes = Message::from(vec![1u8, 2, 3]);
/// assert_eq!(hello.as_text(), Some("hello"));
/// assert!(bytes.is_data() && bytes.as_text().is_none());
/// assert_eq!(bytes.len(), 3);
///
/// fn describe(message: &Message) -> String {
///     match message {
///         Message::Text(text) => format!("text: {text}"),
///         Message::Binary(data) => format!("{} bytes", data.len()),
///         Message::Ping(_) | Message::Pong(_) => "a heartbeat (answered already)".to_owned(),
///         Message::Close(Some(frame)) => format!("closed with {}", frame.code),
///         Message::Close(None) => "closed without a code".to_owned(),
///     }
/// }
/// assert_eq!(describe(&hello), "text: hello");
/// assert_eq!(describe(&bytes), "3 bytes");
/// ```
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

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether this is a ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// Whether this is a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// Whether this is a close.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
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

    /// The text, consumed: a text message's own, or a binary message's
    /// bytes if they are valid UTF-8; `None` otherwise (and for control
    /// frames).
    ///
    /// ```
    /// use stdws::Message;
    /// assert_eq!(Message::text("hi").into_text().as_deref(), Some("hi"));
    /// assert_eq!(Message::binary(b"hi".to_vec()).into_text().as_deref(), Some("hi"));
    /// assert_eq!(Message::binary(vec![0xff]).into_text(), None);
    /// ```
    pub fn into_text(self) -> Option<String> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(data) => String::from_utf8(data).ok(),
            _ => None,
        }
    }

    /// The payload, consumed: text as its UTF-8 bytes (for a close, the
    /// reason).
    pub fn into_data(self) -> Vec<u8> {
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

/// A text message shows as its text, anything else as what it is: `binary
/// message of 3 bytes`, `ping of 0 bytes`, `close 1000 (normal closure) "bye"`.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(text) => f.write_str(text),
            Message::Binary(data) => write!(f, "binary message of {} bytes", data.len()),
            Message::Ping(data) => write!(f, "ping of {} bytes", data.len()),
            Message::Pong(data) => write!(f, "pong of {} bytes", data.len()),
            Message::Close(Some(frame)) => write!(f, "close {} {:?}", frame.code, frame.reason),
            Message::Close(None) => f.write_str("close without a code"),
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

impl From<&String> for Message {
    fn from(text: &String) -> Message {
        Message::Text(text.clone())
    }
}

impl From<std::borrow::Cow<'_, str>> for Message {
    fn from(text: std::borrow::Cow<'_, str>) -> Message {
        Message::Text(text.into_owned())
    }
}

impl<const N: usize> From<[u8; N]> for Message {
    fn from(data: [u8; N]) -> Message {
        Message::Binary(data.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Message {
    fn from(data: &[u8; N]) -> Message {
        Message::Binary(data.to_vec())
    }
}

impl From<CloseFrame> for Message {
    fn from(frame: CloseFrame) -> Message {
        Message::Close(Some(frame))
    }
}

impl From<Message> for Vec<u8> {
    fn from(message: Message) -> Vec<u8> {
        message.into_data()
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Message {
        Message::Binary(data.to_vec())
    }
}

/// A text or binary message: what a server's handlers and callbacks
/// receive. Pings, pongs and the close are the library's business (it
/// answers them, and reports the close as the
/// [`Disconnect`](crate::server::Disconnect)), so a `match` on what a
/// handler gets has two arms, not five.
///
/// ```
/// use stdws::DataMessage;
///
/// fn describe(message: &DataMessage) -> String {
///     match message {
///         DataMessage::Text(text) => format!("text: {text}"),
///         DataMessage::Binary(data) => format!("{} bytes", data.len()),
///     }
/// }
/// assert_eq!(describe(&"hello".into()), "text: hello");
/// // It converts into a Message, so a handler sends it on as it came.
/// let echo: stdws::Message = DataMessage::from(vec![1, 2, 3]).into();
/// assert!(echo.is_binary());
/// ```
///
/// A handler is never given a ping: there is no such arm to write.
///
/// ```compile_fail
/// fn on_message(message: stdws::DataMessage) {
///     match message {
///         stdws::DataMessage::Ping(_) => {}
///         _ => {}
///     }
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum DataMessage {
    /// A text message: always valid UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl DataMessage {
    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, DataMessage::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, DataMessage::Binary(_))
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            DataMessage::Text(text) => Some(text),
            DataMessage::Binary(_) => None,
        }
    }

    /// The payload's bytes (a text's UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            DataMessage::Text(text) => text.as_bytes(),
            DataMessage::Binary(data) => data,
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

    /// The text, consumed: a text message's own, or a binary message's
    /// bytes if they are valid UTF-8.
    pub fn into_text(self) -> Option<String> {
        Message::from(self).into_text()
    }

    /// The payload, consumed: text as its UTF-8 bytes.
    pub fn into_data(self) -> Vec<u8> {
        match self {
            DataMessage::Text(text) => text.into_bytes(),
            DataMessage::Binary(data) => data,
        }
    }
}

impl fmt::Debug for DataMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Message::from(self.clone()), f)
    }
}

/// As [`Message`]'s: the text itself, or `binary message of N bytes`.
impl fmt::Display for DataMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataMessage::Text(text) => f.write_str(text),
            DataMessage::Binary(data) => write!(f, "binary message of {} bytes", data.len()),
        }
    }
}

impl From<DataMessage> for Message {
    fn from(message: DataMessage) -> Message {
        match message {
            DataMessage::Text(text) => Message::Text(text),
            DataMessage::Binary(data) => Message::Binary(data),
        }
    }
}

/// A text or binary [`Message`] converts; a control frame comes back as
/// the error.
impl TryFrom<Message> for DataMessage {
    type Error = Message;

    fn try_from(message: Message) -> Result<DataMessage, Message> {
        match message {
            Message::Text(text) => Ok(DataMessage::Text(text)),
            Message::Binary(data) => Ok(DataMessage::Binary(data)),
            other => Err(other),
        }
    }
}

impl From<String> for DataMessage {
    fn from(text: String) -> DataMessage {
        DataMessage::Text(text)
    }
}

impl From<&str> for DataMessage {
    fn from(text: &str) -> DataMessage {
        DataMessage::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for DataMessage {
    fn from(data: Vec<u8>) -> DataMessage {
        DataMessage::Binary(data)
    }
}

impl From<&[u8]> for DataMessage {
    fn from(data: &[u8]) -> DataMessage {
        DataMessage::Binary(data.to_vec())
    }
}

impl From<DataMessage> for Vec<u8> {
    fn from(message: DataMessage) -> Vec<u8> {
        message.into_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::close::CloseCode;

    #[test]
    fn conversions_and_questions() {
        let text: Message = "hi".into();
        assert!(text.is_text() && text.is_data() && !text.is_binary());
        assert_eq!(text.to_string(), "hi");
        assert_eq!(text.len(), 2);
        let binary: Message = b"\x01\x02\x03".into();
        assert!(binary.is_binary());
        assert_eq!(binary.to_string(), "binary message of 3 bytes");
        assert_eq!(Vec::from(binary), vec![1, 2, 3]);
        let close: Message = CloseFrame::new(CloseCode::NORMAL, "bye").into();
        assert!(close.is_close() && !close.is_data());
        assert_eq!(close.to_string(), "close 1000 (normal closure) \"bye\"");
        assert!(Message::Ping(vec![]).is_ping() && Message::Pong(vec![]).is_pong());
        assert_eq!(
            Message::from(std::borrow::Cow::Borrowed("x")),
            Message::text("x")
        );
    }
}

/// A piece of a large text or binary message, handed over before the whole
/// message has arrived (or sent before the whole message exists).
///
/// On the wire a message may be split into fragments (RFC 6455, section
/// 5.4); parts are the application's view of that. A server handler that
/// asks for parts (see [`Handler::message_parts_from`]) gets a large message
/// as a first part, any number of middle parts and a last part, in order,
/// with nothing of another message in between. The split follows what the
/// network delivered, not the sender's fragments.
///
/// Text is checked as it arrives: every byte of a text part belongs to valid
/// UTF-8 so far, but a part may end in the middle of a character (the rest
/// comes in the next part), so a part is bytes, not a `str`. Invalid UTF-8
/// fails the connection (1007) before the part that holds it is delivered.
///
/// Sending parts ([`Connection::send_part`]) writes each as one fragment.
///
/// [`Handler::message_parts_from`]: crate::server::Handler::message_parts_from
/// [`Connection::send_part`]: crate::server::Connection::send_part
#[derive(Clone, PartialEq, Eq)]
pub struct MessagePart {
    /// Whether the message is text (otherwise binary).
    pub text: bool,
    /// This part's bytes.
    pub data: Vec<u8>,
    /// Whether this part starts the message.
    pub first: bool,
    /// Whether this part ends the message.
    pub last: bool,
}

impl MessagePart {
    /// The first part of a binary message.
    pub fn binary_start(data: impl Into<Vec<u8>>) -> MessagePart {
        MessagePart {
            text: false,
            data: data.into(),
            first: true,
            last: false,
        }
    }

    /// The first part of a text message (it may end inside a character).
    pub fn text_start(data: impl Into<Vec<u8>>) -> MessagePart {
        MessagePart {
            text: true,
            ..MessagePart::binary_start(data)
        }
    }

    /// A later part of the message that `self` belongs to.
    pub fn next(&self, data: impl Into<Vec<u8>>) -> MessagePart {
        MessagePart {
            text: self.text,
            data: data.into(),
            first: false,
            last: false,
        }
    }

    /// This part, marked as the one that ends its message.
    pub fn ending(mut self) -> MessagePart {
        self.last = true;
        self
    }
}

impl fmt::Debug for MessagePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagePart")
            .field("text", &self.text)
            .field("len", &self.data.len())
            .field("first", &self.first)
            .field("last", &self.last)
            .finish()
    }
}
