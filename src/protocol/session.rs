//! One endpoint's side of a WebSocket session: the receiver, the sender, and
//! the closing handshake that ties them together (RFC 6455, sections 5.5.1,
//! 7.1 and 7.4).
//!
//! ```text
//!                       we send close
//!        +------+  ------------------------>  +---------+
//!        | Open |                             | Closing |
//!        +------+  --+                        +---------+
//!           |        | peer's close arrives:       |
//!           |        | we answer it                | peer's close arrives
//!           |        v                             v
//!           |      +--------------------------------+
//!           +----> |             Closed             | ---> close the TCP
//!   a rule broken: +--------------------------------+      connection
//!   we send a close                                        (the server first)
//!   with its code
//! ```
//!
//! [`Session`] answers what the RFC says must be answered without asking the
//! application: a ping gets a pong with the same payload (section 5.5.2), a
//! peer's close gets a close echoing its code (section 5.5.1), a broken rule
//! gets a close with the code the rule names (section 7.1.7). Those frames
//! collect in [`Session::output`], which the I/O shell writes out. A pong that
//! nobody asked for is passed up and needs no answer (section 5.5.3).

use super::Role;
use super::close::{CloseCode, CloseFrame};
use super::frame::OpCode;
use super::receiver::{Limits, Receiver};
use super::sender::{SendError, Sender};
use super::violation::Violation;
use crate::message::Message;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// This side sent a close frame and waits for the peer's.
    Closing,
    /// Both close frames were exchanged, or the connection failed: the
    /// transport should be closed.
    Closed,
}

/// The protocol state of one WebSocket connection, without any I/O.
///
/// ```
/// use stdws::protocol::{Session, State, Role};
/// use stdws::Message;
/// let mut server = Session::new(Role::Server, Default::default());
/// // A masked ping "Hello" from the client (RFC 6455, section 5.7).
/// let ping = [0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let (used, message) = server.receive(&ping).unwrap();
/// assert_eq!((used, message), (11, Some(Message::Ping(b"Hello".to_vec()))));
/// // The pong is ready to be written, unmasked, with the same payload.
/// assert_eq!(server.output(), [0x8a, 0x05, b'H', b'e', b'l', b'l', b'o']);
/// server.clear_output();
/// assert_eq!(server.state(), State::Open);
/// ```
#[derive(Debug)]
pub struct Session {
    receiver: Receiver,
    sender: Sender,
    state: State,
    output: Vec<u8>,
    failure: Option<Violation>,
}

impl Session {
    /// A session for the endpoint playing `role`, with the given limits.
    pub fn new(role: Role, limits: Limits) -> Session {
        Session {
            receiver: Receiver::new(role, limits),
            sender: Sender::new(role),
            state: State::Open,
            output: Vec::new(),
            failure: None,
        }
    }

    /// The role this session plays.
    pub fn role(&self) -> Role {
        self.sender.role()
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The violation that failed the connection, if one did.
    pub fn failure(&self) -> Option<Violation> {
        self.failure
    }

    /// The receiving half (for its limits and frame observation).
    pub fn receiver_mut(&mut self) -> &mut Receiver {
        &mut self.receiver
    }

    /// Whether the receiver is between messages (see [`Receiver::is_idle`]).
    pub fn is_idle(&self) -> bool {
        self.receiver.is_idle()
    }

    /// Frames the session wrote on its own (pongs, close answers) that the
    /// shell must send before anything else.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Forgets the output once it has been written.
    pub fn clear_output(&mut self) {
        self.output.clear();
    }

    /// Takes the pending output.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Feeds received bytes; see [`Receiver::receive`]. Pings, closes and
    /// violations are answered in [`output`](Self::output).
    pub fn receive(&mut self, data: &[u8]) -> Result<(usize, Option<Message>), Violation> {
        if self.state == State::Closed {
            if let Some(violation) = self.failure {
                return Err(violation);
            }
            return Ok((data.len(), None));
        }
        match self.receiver.receive(data) {
            Ok((used, Some(Message::Ping(payload)))) => {
                if !self.sender.close_sent() {
                    // Cannot fail: the payload of a received ping fits a pong.
                    let _ = self
                        .sender
                        .encode(OpCode::Pong, true, &payload, &mut self.output);
                }
                Ok((used, Some(Message::Ping(payload))))
            }
            Ok((used, Some(Message::Close(frame)))) => {
                if !self.sender.close_sent() {
                    let answer = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
                    let _ = self.sender.encode_close(answer.as_ref(), &mut self.output);
                }
                self.state = State::Closed;
                Ok((used, Some(Message::Close(frame))))
            }
            Ok(other) => Ok(other),
            Err(violation) => {
                self.fail(violation);
                Err(violation)
            }
        }
    }

    /// Takes payload bytes appended straight to the receiver's message (see
    /// [`Receiver::payload_buffer`]); a broken rule fails the connection as
    /// in [`receive`](Self::receive).
    pub fn payload_appended(&mut self, appended: usize) -> Result<Option<Message>, Violation> {
        let result = self.receiver.payload_appended(appended);
        if let Err(violation) = result {
            self.fail(violation);
        }
        result
    }

    /// Fails the connection (section 7.1.7): a close frame with the rule's code
    /// goes out, unless one was sent already, and the session is closed.
    pub fn fail(&mut self, violation: Violation) {
        if !self.sender.close_sent() {
            let frame = CloseFrame::new(violation.close_code(), violation.close_reason());
            let _ = self.sender.encode_close(Some(&frame), &mut self.output);
        }
        self.failure = Some(violation);
        self.state = State::Closed;
    }

    /// Appends `message` as one frame to `out`. A [`Message::Close`] starts
    /// the closing handshake, as [`close`](Self::close) does.
    pub fn send(&mut self, message: &Message, out: &mut Vec<u8>) -> Result<(), SendError> {
        let (opcode, payload): (OpCode, &[u8]) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            Message::Pong(data) => (OpCode::Pong, data),
            Message::Close(frame) => return self.close(frame.clone(), out),
        };
        self.sender.encode(opcode, true, payload, out)
    }

    /// The sender, for shells that write headers and payloads separately.
    pub fn sender_mut(&mut self) -> &mut Sender {
        &mut self.sender
    }

    /// Starts the closing handshake: appends a close frame to `out`.
    /// `None` closes without a status code. A code that may not be sent
    /// ([`CloseCode::is_sendable`]) is refused.
    pub fn close(&mut self, frame: Option<CloseFrame>, out: &mut Vec<u8>) -> Result<(), SendError> {
        if let Some(f) = &frame {
            debug_assert!(
                f.code.is_sendable(),
                "close code {} may not be sent",
                f.code
            );
        }
        self.sender.encode_close(frame.as_ref(), out)?;
        self.state = if self.receiver.close_received() {
            State::Closed
        } else {
            State::Closing
        };
        Ok(())
    }

    /// Records that the transport ended. Returns the code to report to the
    /// application: the peer's, or 1006 when no close frame arrived.
    pub fn receive_eof(&mut self) -> CloseCode {
        let clean = self.receiver.close_received();
        self.state = State::Closed;
        if clean {
            CloseCode::NORMAL
        } else {
            CloseCode::ABNORMAL
        }
    }
}
