//! One endpoint's closing handshake and the answers the protocol owes the
//! peer (RFC 6455, sections 5.5.1-5.5.3, 7.1 and 7.4): the state machine that
//! every shell drives, the blocking [`WebSocket`](crate::WebSocket), the two
//! halves of a split one and the server's workers alike.
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
//! A [`Session`] reads: it turns bytes into [`Event`]s (messages, control
//! frames, and parts of large messages when asked for them) and decides what
//! must be answered without asking the application. It does not write: the
//! answers come out as [`Answer`] values, and each shell hands them to its
//! own sending side, because the sending side differs (one thread writes for
//! a [`WebSocket`](crate::WebSocket), the writer half's lock for a split one,
//! an outbound queue shared by many threads on the server). The rules, all
//! here:
//!
//! | what arrives                  | state        | answer                           |
//! |-------------------------------|--------------|----------------------------------|
//! | ping                          | Open         | [`Answer::Pong`], same payload (5.5.2); an unanswered earlier one is replaced (5.5.3) |
//! | ping                          | Closing      | none: after our close only its answer is expected |
//! | pong                          | any          | none (5.5.3: unsolicited pongs need no answer) |
//! | close                         | Open         | [`Answer::Close`] echoing the code, not the reason (5.5.1); then Closed |
//! | close                         | Closing      | none; Closed                     |
//! | a broken rule                 | Open/Closing | [`Answer::Fail`] with the rule's code (7.1.7), unless our close went out; then Closed |
//! | anything                      | Closed       | nothing more is read             |
//!
//! A pong owed before a close goes out before it ([`Session::take_answer`]
//! yields them in that order), and no pong follows a close. Whoever sends
//! applies the last rule of section 5.5.1 too, since on the server a close
//! can come from another thread: [`Answer::encode`] writes nothing once the
//! [`Sender`] has sent a close.

use super::Role;
use super::close::{CloseCode, CloseFrame};
use super::frame::OpCode;
use super::receiver::{Limits, Receiver};
use super::sender::Sender;
use super::violation::Violation;
use crate::message::{Message, MessagePart};

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

/// What the peer sent, as far as the application is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole message, or a control frame (ping, pong, close).
    Message(Message),
    /// A part of a large message, when the session was asked for parts
    /// ([`Session::deliver_parts_from`]).
    Part(MessagePart),
}

/// A frame the protocol requires in answer to what arrived, for the shell
/// to send (see the module's table of rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A pong with the payload of the latest ping (section 5.5.2).
    Pong(Vec<u8>),
    /// The close that completes the closing handshake the peer started:
    /// its code echoed, or no code if it sent none (section 5.5.1).
    Close(Option<CloseFrame>),
    /// Fails the connection (section 7.1.7): a close with the code of the
    /// rule the peer broke. Nothing else may be sent after it.
    Fail(CloseFrame),
}

impl Answer {
    /// Frames the answer with `sender` onto `out`. Returns `false`, writing
    /// nothing, once the sender has sent a close: nothing may follow one
    /// (section 5.5.1), whichever thread sent it.
    ///
    /// ```
    /// use stdws::protocol::{Answer, Role, Sender};
    /// let mut sender = Sender::new(Role::Server);
    /// let mut out = Vec::new();
    /// assert!(Answer::Pong(b"hi".to_vec()).encode(&mut sender, &mut out));
    /// assert_eq!(out, [0x8a, 0x02, b'h', b'i']);
    /// assert!(Answer::Close(None).encode(&mut sender, &mut out));
    /// assert!(!Answer::Pong(b"late".to_vec()).encode(&mut sender, &mut out));
    /// assert_eq!(out, [0x8a, 0x02, b'h', b'i', 0x88, 0x00]);
    /// ```
    pub fn encode(&self, sender: &mut Sender, out: &mut Vec<u8>) -> bool {
        if sender.close_sent() {
            return false;
        }
        // None of these can fail: a received ping's payload fits a pong, and
        // the codes come from a received close or from the rules' own list.
        match self {
            Answer::Pong(payload) => sender.encode(OpCode::Pong, true, payload, out).is_ok(),
            Answer::Close(frame) => sender.encode_close(frame.as_ref(), out).is_ok(),
            Answer::Fail(frame) => sender.encode_close(Some(frame), out).is_ok(),
        }
    }

    /// Whether this answer is a close frame (after which nothing is sent).
    pub fn is_close(&self) -> bool {
        !matches!(self, Answer::Pong(_))
    }
}

/// The receiving side and closing state of one WebSocket connection,
/// without any I/O.
///
/// ```
/// use stdws::protocol::{Answer, Event, Role, Session, State};
/// use stdws::Message;
/// let mut server = Session::new(Role::Server, Default::default());
/// // A masked ping "Hello" from the client (RFC 6455, section 5.7).
/// let ping = [0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let (used, event) = server.receive(&ping).unwrap();
/// assert_eq!((used, event), (11, Some(Event::Message(Message::Ping(b"Hello".to_vec())))));
/// // The pong is owed, with the same payload; the shell sends it.
/// assert_eq!(server.take_answer(), Some(Answer::Pong(b"Hello".to_vec())));
/// assert_eq!(server.take_answer(), None);
/// assert_eq!(server.state(), State::Open);
/// ```
#[derive(Debug)]
pub struct Session {
    receiver: Receiver,
    role: Role,
    state: State,
    failure: Option<Violation>,
    /// The payload of the latest ping not yet answered.
    pong: Option<Vec<u8>>,
    /// The close owed: an echo or a failure. Taken after `pong`.
    close: Option<Answer>,
    /// Whether this side's close has gone out (told by the shell, or
    /// implied by taking a close answer).
    close_sent: bool,
}

impl Session {
    /// A session for the endpoint playing `role`, with the given limits.
    pub fn new(role: Role, limits: Limits) -> Session {
        Session {
            receiver: Receiver::new(role, limits),
            role,
            state: State::Open,
            failure: None,
            pong: None,
            close: None,
            close_sent: false,
        }
    }

    /// The role this session plays.
    pub fn role(&self) -> Role {
        self.role
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

    /// The receiving half, to read its state.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// Whether the receiver is between messages (see [`Receiver::is_idle`]).
    pub fn is_idle(&self) -> bool {
        self.receiver.is_idle()
    }

    /// Whether the peer's close frame has arrived.
    pub fn close_received(&self) -> bool {
        self.receiver.close_received()
    }

    /// Hands over messages of at least `size` bytes in parts
    /// ([`Event::Part`]) as they arrive (see [`Receiver::deliver_parts_from`]).
    pub fn deliver_parts_from(&mut self, size: Option<usize>) {
        self.receiver.deliver_parts_from(size);
    }

    /// Feeds received bytes; see [`Receiver::receive`] for how many are
    /// used. What must be answered is kept for [`take_answer`](Self::take_answer);
    /// a broken rule is returned, and answered with [`Answer::Fail`].
    pub fn receive(&mut self, data: &[u8]) -> Result<(usize, Option<Event>), Violation> {
        if self.state == State::Closed {
            if let Some(violation) = self.failure {
                return Err(violation);
            }
            return Ok((data.len(), None));
        }
        match self.receiver.receive(data) {
            Ok((used, message)) => Ok((used, self.event(message))),
            Err(violation) => {
                self.fail(violation);
                Err(violation)
            }
        }
    }

    /// Takes payload bytes appended straight to the receiver's message (see
    /// [`Receiver::payload_buffer`]); a broken rule fails the connection as
    /// in [`receive`](Self::receive).
    pub fn payload_appended(&mut self, appended: usize) -> Result<Option<Event>, Violation> {
        match self.receiver.payload_appended(appended) {
            Ok(message) => Ok(self.event(message)),
            Err(violation) => {
                self.fail(violation);
                Err(violation)
            }
        }
    }

    /// Applies the rules to what the receiver completed.
    fn event(&mut self, message: Option<Message>) -> Option<Event> {
        match message {
            Some(Message::Ping(payload)) => {
                if !self.close_sent && self.close.is_none() {
                    self.pong = Some(payload.clone());
                }
                Some(Event::Message(Message::Ping(payload)))
            }
            Some(Message::Close(frame)) => {
                if !self.close_sent && self.close.is_none() {
                    let echo = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
                    self.close = Some(Answer::Close(echo));
                }
                self.state = State::Closed;
                Some(Event::Message(Message::Close(frame)))
            }
            Some(message) => Some(Event::Message(message)),
            None => self.receiver.take_part().map(Event::Part),
        }
    }

    /// Fails the connection (section 7.1.7) for a rule broken on this side's
    /// watch, such as a limit the shell enforces: a close with the rule's
    /// code is owed, unless a close went out already, and the session is
    /// closed.
    pub fn fail(&mut self, violation: Violation) {
        if !self.close_sent && !matches!(self.close, Some(Answer::Fail(_))) {
            let frame = CloseFrame::new(violation.close_code(), violation.close_reason());
            // A pong owed to a peer that broke a rule is no longer owed.
            self.pong = None;
            self.close = Some(Answer::Fail(frame));
        }
        self.failure.get_or_insert(violation);
        self.state = State::Closed;
    }

    /// The next frame the shell must send: an owed pong first, then an owed
    /// close. Taking a close counts as sending it.
    pub fn take_answer(&mut self) -> Option<Answer> {
        if let Some(payload) = self.pong.take() {
            return Some(Answer::Pong(payload));
        }
        let close = self.close.take()?;
        self.sent_close();
        Some(close)
    }

    /// Whether an answer is owed.
    pub fn has_answer(&self) -> bool {
        self.pong.is_some() || self.close.is_some()
    }

    /// Records that this side sent a close frame (its own, or an answer):
    /// no pong is owed after it, and the session is closing, or closed if
    /// the peer's close has arrived.
    pub fn sent_close(&mut self) {
        self.close_sent = true;
        self.pong = None;
        if matches!(self.close, Some(Answer::Close(_))) {
            // Our own close crossed the peer's: it serves as the answer.
            self.close = None;
        }
        if self.state == State::Open {
            self.state = if self.receiver.close_received() {
                State::Closed
            } else {
                State::Closing
            };
        }
    }

    /// Records that the transport ended. Returns the code to report to the
    /// application: the peer's, or 1006 when no close frame arrived.
    pub fn receive_eof(&mut self) -> CloseCode {
        let clean = self.receiver.close_received();
        self.state = State::Closed;
        self.pong = None;
        self.close = None;
        if clean {
            CloseCode::NORMAL
        } else {
            CloseCode::ABNORMAL
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per row of the module's table, driven through the session
    //! alone.
    use super::*;

    /// Client frames, masked with a zero key (masking is tested elsewhere).
    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        frame
    }

    fn server() -> Session {
        Session::new(Role::Server, Limits::default())
    }

    fn feed(session: &mut Session, bytes: &[u8]) -> Result<Option<Event>, Violation> {
        let (used, event) = session.receive(bytes)?;
        assert_eq!(used, bytes.len());
        Ok(event)
    }

    #[test]
    fn ping_when_open_owes_a_pong_with_its_payload() {
        let mut s = server();
        let event = feed(&mut s, &masked(0x9, b"p1")).unwrap();
        assert_eq!(event, Some(Event::Message(Message::Ping(b"p1".to_vec()))));
        assert_eq!(s.take_answer(), Some(Answer::Pong(b"p1".to_vec())));
        assert_eq!(s.take_answer(), None);
    }

    #[test]
    fn a_later_ping_replaces_an_unanswered_one() {
        let mut s = server();
        feed(&mut s, &masked(0x9, b"p1")).unwrap();
        feed(&mut s, &masked(0x9, b"p2")).unwrap();
        assert_eq!(s.take_answer(), Some(Answer::Pong(b"p2".to_vec())));
        assert!(!s.has_answer());
    }

    #[test]
    fn ping_when_closing_owes_nothing() {
        let mut s = server();
        s.sent_close();
        assert_eq!(s.state(), State::Closing);
        feed(&mut s, &masked(0x9, b"p")).unwrap();
        assert_eq!(s.take_answer(), None);
    }

    #[test]
    fn pong_owes_nothing() {
        let mut s = server();
        let event = feed(&mut s, &masked(0xa, b"x")).unwrap();
        assert_eq!(event, Some(Event::Message(Message::Pong(b"x".to_vec()))));
        assert!(!s.has_answer());
    }

    #[test]
    fn close_when_open_is_echoed_without_its_reason_after_an_owed_pong() {
        let mut s = server();
        feed(&mut s, &masked(0x9, b"p")).unwrap();
        feed(&mut s, &masked(0x8, b"\x03\xe8bye")).unwrap();
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.take_answer(), Some(Answer::Pong(b"p".to_vec())));
        assert_eq!(
            s.take_answer(),
            Some(Answer::Close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))
        );
        assert_eq!(s.take_answer(), None);
    }

    #[test]
    fn close_without_a_code_is_answered_without_one() {
        let mut s = server();
        feed(&mut s, &masked(0x8, b"")).unwrap();
        assert_eq!(s.take_answer(), Some(Answer::Close(None)));
    }

    #[test]
    fn close_when_closing_owes_nothing_and_closes() {
        let mut s = server();
        s.sent_close();
        feed(&mut s, &masked(0x8, b"\x03\xe8")).unwrap();
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.take_answer(), None);
    }

    #[test]
    fn our_close_crossing_the_peers_serves_as_the_answer() {
        let mut s = server();
        feed(&mut s, &masked(0x8, b"\x03\xe8")).unwrap();
        s.sent_close();
        assert_eq!(s.take_answer(), None);
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn a_broken_rule_owes_a_close_with_its_code_and_drops_an_owed_pong() {
        let mut s = server();
        feed(&mut s, &masked(0x9, b"p")).unwrap();
        // An unmasked frame from a client (section 5.1).
        let violation = s.receive(&[0x81, 0x01, b'x']).unwrap_err();
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.failure(), Some(violation));
        let Some(Answer::Fail(frame)) = s.take_answer() else {
            panic!("a failure is answered with a close");
        };
        assert_eq!(frame.code, violation.close_code());
        assert_eq!(s.take_answer(), None);
        // Nothing more is read.
        assert_eq!(s.receive(&masked(0x9, b"p")), Err(violation));
    }

    #[test]
    fn a_broken_rule_after_our_close_owes_nothing() {
        let mut s = server();
        s.sent_close();
        let violation = s.receive(&[0x81, 0x01, b'x']).unwrap_err();
        assert_eq!(s.failure(), Some(violation));
        assert_eq!(s.take_answer(), None);
    }

    #[test]
    fn a_failure_after_the_peers_close_replaces_the_echo() {
        let mut s = server();
        feed(&mut s, &masked(0x8, b"\x03\xe8")).unwrap();
        s.fail(Violation::MessageTooBig { len: 2, max: 1 });
        assert!(matches!(s.take_answer(), Some(Answer::Fail(_))));
    }

    #[test]
    fn nothing_is_read_once_closed() {
        let mut s = server();
        feed(&mut s, &masked(0x8, b"")).unwrap();
        let more = masked(0x1, b"late");
        assert_eq!(s.receive(&more).unwrap(), (more.len(), None));
    }

    #[test]
    fn parts_come_out_as_events() {
        let mut s = server();
        s.deliver_parts_from(Some(2));
        // A text frame announcing 4 bytes, of which 3 arrive.
        let frame = masked(0x1, b"abcd");
        let (used, event) = s.receive(&frame[..frame.len() - 1]).unwrap();
        assert_eq!(used, frame.len() - 1);
        let Some(Event::Part(part)) = event else {
            panic!("expected a part, got {event:?}");
        };
        assert_eq!(
            (part.data.as_slice(), part.first, part.last),
            (&b"abc"[..], true, false)
        );
        let Some(Event::Part(part)) = feed(&mut s, &frame[frame.len() - 1..]).unwrap() else {
            panic!("expected the last part");
        };
        assert_eq!((part.data.as_slice(), part.last), (&b"d"[..], true));
    }

    #[test]
    fn the_end_of_the_stream_reports_the_close_or_1006() {
        let mut s = server();
        assert_eq!(s.receive_eof(), CloseCode::ABNORMAL);
        let mut s = server();
        feed(&mut s, &masked(0x8, b"\x03\xe8")).unwrap();
        assert_eq!(s.receive_eof(), CloseCode::NORMAL);
        assert_eq!(s.take_answer(), None);
    }

    #[test]
    fn answers_are_not_written_after_a_close() {
        let mut sender = Sender::new(Role::Server);
        let mut out = Vec::new();
        assert!(
            Answer::Fail(CloseFrame::new(CloseCode::PROTOCOL_ERROR, "x"))
                .encode(&mut sender, &mut out)
        );
        let len = out.len();
        assert!(!Answer::Close(None).encode(&mut sender, &mut out));
        assert!(!Answer::Pong(Vec::new()).encode(&mut sender, &mut out));
        assert_eq!(out.len(), len);
    }
}
