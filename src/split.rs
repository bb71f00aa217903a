//! One connection, two threads: a [`ReadHalf`] that reads messages and a
//! [`WriteHalf`] that sends them, made by [`WebSocket::split`].
//!
//! Both halves write to the socket: the writer its messages, the reader the
//! answers RFC 6455 requires of it, which the reader's
//! [`Session`] decides as it reads (a pong for
//! each ping, a close for the peer's close, a close with the broken rule's
//! code when the peer breaks one: see
//! [`protocol::session`](crate::protocol::session)). One
//! [`Sender`] frames all of them, so nothing follows
//! a close whichever half sent it, and one thread at a time holds the *write
//! turn*, so frames never interleave on the wire.
//!
//! ```text
//!     ReadHalf (own clone of the socket)          WriteHalf (Clone, &self)
//!   read() -> Session -> Message, Answers         send(), close(), ping()
//!                |                                        |
//!                | Pong: keep the latest                  | wait for the turn,
//!                | Close, Fail: encode it                 | encode, write the
//!                | (write it too if nobody                | frame, then every
//!                |  holds the turn)                       | queued control frame
//!                v                                        v
//!   +-------------------------------------------------------------------+
//!   | Mutex: Sender, owed pong, queued control frames, turn taken?      |
//!   +-------------------------------------------------------------------+
//!                                  | the turn's holder writes, lock released
//!                                  v
//!                               socket
//! ```
//!
//! The lock is held to encode, never across a socket call. The reader never
//! waits for a writer: a writer blocked on a peer that does not read (because
//! it is itself blocked writing to us) would otherwise stop the very reads
//! that let the peer go on. Its pong waits in the queue instead, and the
//! writer sends it after the frame in progress (section 5.5.2 asks for a pong
//! "as soon as is practical", and lets a pong answer only the latest ping).
//! When nobody holds the turn, the reader takes it and writes its answer
//! itself: a few bytes, which block only if the peer has stopped reading.
//!
//! Socket options (timeouts, non-blocking) are shared by the two halves, since
//! they share the socket.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::protocol::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::protocol::frame::OpCode;
use crate::protocol::{Answer, Role, Sender, Session, Violation};
use crate::trace::Tracer;
use crate::websocket::{ReadBuffer, WebSocket};

/// A [`WebSocket`] taken apart (see `WebSocket::into_parts`).
pub(crate) struct Parts<S> {
    pub(crate) stream: S,
    pub(crate) session: Session,
    pub(crate) sender: Sender,
    pub(crate) inbound: ReadBuffer,
    pub(crate) close_returned: bool,
    pub(crate) tracer: Tracer,
    pub(crate) id: u64,
}

impl WebSocket<TcpStream> {
    /// Splits the connection into a half that reads and a half that writes,
    /// for use from two threads (the socket is duplicated with
    /// [`TcpStream::try_clone`]).
    ///
    /// ```no_run
    /// use std::thread;
    /// use stdws::Message;
    ///
    /// let ws = stdws::connect("ws://127.0.0.1:8000/")?;
    /// let (mut reader, writer) = ws.split()?;
    /// let printer = thread::spawn(move || {
    ///     // Pings are answered, and the server's close too, while reading.
    ///     while let Ok(message) = reader.read() {
    ///         match message {
    ///             Message::Text(text) => println!("{text}"),
    ///             Message::Close(_) => break,
    ///             _ => {}
    ///         }
    ///     }
    /// });
    /// for line in ["one", "two", "three"] {
    ///     writer.send_text(line)?;
    /// }
    /// writer.close(stdws::CloseCode::NORMAL, "done")?;
    /// let _ = printer.join();
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn split(self) -> Result<(ReadHalf, WriteHalf)> {
        let parts = self.into_parts();
        let read_stream = parts.stream.try_clone()?;
        let role = parts.session.role();
        // The reader keeps the session, with whatever it holds of a frame in
        // progress; the writer takes the sender.
        let mut session = parts.session;
        let writer = WriteHalf {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    sender: parts.sender,
                    failure: session.failure(),
                    writing: false,
                    pong: None,
                    control: Vec::new(),
                    broken: None,
                    send_buffer: Vec::new(),
                }),
                turn_free: Condvar::new(),
                stream: parts.stream,
                role,
                tracer: parts.tracer,
                id: parts.id,
            }),
        };
        // Answers the WebSocket owed but had not yet written.
        while let Some(answer) = session.take_answer() {
            writer.answer(answer)?;
        }
        let reader = ReadHalf {
            stream: read_stream,
            inbound: parts.inbound,
            session,
            writer: writer.clone(),
            done: parts.close_returned,
        };
        Ok((reader, writer))
    }
}

/// What both halves share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Signalled whenever the write turn is given back.
    turn_free: Condvar,
    /// Written only by the holder of the write turn.
    stream: TcpStream,
    role: Role,
    tracer: Tracer,
    id: u64,
}

/// The sending state, under the lock.
#[derive(Debug)]
struct State {
    /// Frames everything either half sends.
    sender: Sender,
    /// The rule the peer broke, once the reader found one: sends fail with it.
    failure: Option<Violation>,
    /// Whether a thread holds the write turn. While it is false, `pong` is
    /// `None` and `control` is empty: the holder writes both before giving
    /// the turn back.
    writing: bool,
    /// The payload of the latest ping not yet answered.
    pong: Option<Vec<u8>>,
    /// Encoded control frames the reader queued, in order.
    control: Vec<u8>,
    /// Set when a write failed, perhaps part-way through a frame: nothing
    /// more may be written after a partial frame.
    broken: Option<io::ErrorKind>,
    /// Where the writer encodes (and masks) its frames, kept between sends.
    send_buffer: Vec<u8>,
}

/// The largest send buffer kept between messages.
const KEEP_SEND_BUFFER: usize = 4 << 20;

impl State {
    /// Refuses to write after a failed connection or a failed write.
    fn check_usable(&self) -> Result<()> {
        if let Some(violation) = self.failure {
            return Err(Error::Protocol(violation));
        }
        if let Some(kind) = self.broken {
            return Err(Error::Io(io::Error::new(
                kind,
                "an earlier write on this connection failed, perhaps part-way through a frame; drop the connection",
            )));
        }
        Ok(())
    }

    /// Encodes the pending pong after the control frames already queued.
    fn queue_pong(&mut self) {
        if let Some(payload) = self.pong.take() {
            Answer::Pong(payload).encode(&mut self.sender, &mut self.control);
        }
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Locks the state once no other thread holds the write turn.
    fn wait_for_turn(&self) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock()?;
        while state.writing {
            state = self.turn_free.wait(state).map_err(|_| poisoned())?;
        }
        Ok(state)
    }

    /// Takes the turn if it is free and writes what is queued. When another
    /// thread holds the turn, it writes the queue before giving the turn
    /// back, so there is nothing to do.
    fn write_queued(&self) -> Result<()> {
        let mut state = self.lock()?;
        if state.writing || (state.pong.is_none() && state.control.is_empty()) {
            return Ok(());
        }
        state.writing = true;
        drop(state);
        self.write_then_give_back(&[])
    }

    /// With the turn held: writes `frame`, then whatever control frames were
    /// queued meanwhile, then gives the turn back.
    fn write_then_give_back(&self, frame: &[u8]) -> Result<()> {
        let mut written = self.write_raw(frame);
        loop {
            let mut state = self.lock()?;
            if let Err(e) = &written {
                state.broken = Some(e.kind());
            } else {
                state.queue_pong();
                if !state.control.is_empty() && state.broken.is_none() {
                    let control = std::mem::take(&mut state.control);
                    drop(state);
                    written = self.write_raw(&control);
                    continue;
                }
            }
            state.pong = None;
            state.control.clear();
            state.writing = false;
            drop(state);
            self.turn_free.notify_all();
            return written.map_err(Error::Io);
        }
    }

    fn write_raw(&self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.tracer.is_on() {
            self.tracer.sent_bytes(self.id, self.role, bytes);
        }
        let mut stream = &self.stream;
        stream.write_all(bytes)?;
        stream.flush()
    }
}

fn poisoned() -> Error {
    Error::Io(io::Error::other(
        "a thread panicked while sending on this connection; drop it",
    ))
}

/// The reading half of a split [`WebSocket`]; see [`WebSocket::split`].
///
/// It answers pings and the peer's close as it reads, so keep reading
/// (here with a timeout, so that a silent peer is noticed) while the
/// [`WriteHalf`] sends from another thread:
///
/// ```no_run
/// use std::time::Duration;
/// use stdws::Message;
///
/// let ws = stdws::connect("ws://127.0.0.1:8000/")?;
/// let (mut reader, writer) = ws.split()?;
/// // Shared with the writer, since they share the socket.
/// reader.get_ref().set_read_timeout(Some(Duration::from_secs(30)))?;
/// std::thread::spawn(move || writer.send_text("subscribe"));
/// loop {
///     match reader.read() {
///         Ok(Message::Text(text)) => println!("{text}"),
///         Ok(Message::Close(_)) => break,
///         Ok(_) => {}
///         Err(e) if e.is_timeout() => println!("quiet for 30 s"),
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Debug)]
pub struct ReadHalf {
    stream: TcpStream,
    inbound: ReadBuffer,
    session: Session,
    writer: WriteHalf,
    done: bool,
}

impl ReadHalf {
    /// Reads the next message, as [`WebSocket::read`] does: pings are
    /// answered with a pong and the peer's close with a close before they
    /// are returned (when the writer is in the middle of a frame, the answer
    /// follows that frame, written by the writer's thread); a broken rule is
    /// answered with a close frame with the rule's code and returned as
    /// [`Error::Protocol`], after which the writer's sends fail with the same
    /// error.
    ///
    /// After [`Message::Close`], or any error but a timeout, every call
    /// returns [`Error::ConnectionClosed`].
    pub fn read(&mut self) -> Result<Message> {
        if self.done {
            return Err(Error::ConnectionClosed);
        }
        let shared = &self.writer.shared;
        let next = self.inbound.next_message(
            &mut self.stream,
            &mut self.session,
            &shared.tracer,
            shared.id,
        );
        match next {
            Ok(Some(message)) => {
                if let Message::Close(_) = message {
                    self.done = true;
                }
                let answered = self.write_answers();
                // A close answer is best effort: the peer may have closed
                // its side already, and its close is what matters here.
                if !self.done {
                    answered?;
                }
                Ok(message)
            }
            Ok(None) => {
                self.done = true;
                if self.session.close_received() {
                    Err(Error::ConnectionClosed)
                } else {
                    Err(Error::AbnormalClosure)
                }
            }
            Err(Error::Protocol(violation)) => {
                self.done = true;
                // Best effort: the peer may be gone already.
                let _ = self.write_answers();
                Err(Error::Protocol(violation))
            }
            Err(e) => {
                if !e.is_timeout() {
                    self.done = true;
                }
                Err(e)
            }
        }
    }

    /// The socket (shared with the writer: its timeouts apply to both).
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Hands what the session owes the peer to the writer's side.
    fn write_answers(&mut self) -> Result<()> {
        if let Some(violation) = self.session.failure() {
            if let Ok(mut state) = self.writer.shared.lock() {
                state.failure.get_or_insert(violation);
            }
        }
        while let Some(answer) = self.session.take_answer() {
            self.writer.answer(answer)?;
        }
        Ok(())
    }
}

/// The writing half of a split [`WebSocket`]; see [`WebSocket::split`].
///
/// Clones share one sending state, so several threads may send: each frame
/// is written whole, one after the other.
///
/// ```no_run
/// use std::thread;
/// use stdws::CloseCode;
///
/// let ws = stdws::connect("ws://127.0.0.1:8000/")?;
/// let (mut reader, writer) = ws.split()?;
/// let senders: Vec<_> = (0..4)
///     .map(|n| {
///         let writer = writer.clone();
///         thread::spawn(move || writer.send_text(&format!("from thread {n}")))
///     })
///     .collect();
/// for sender in senders {
///     let _ = sender.join();
/// }
/// writer.close(CloseCode::NORMAL, "done")?;
/// while reader.read().is_ok() {} // until the server's answering close
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct WriteHalf {
    shared: Arc<Shared>,
}

impl WriteHalf {
    /// Sends a message: text, binary, ping, pong, or close (which starts the
    /// closing handshake, as [`close`](Self::close) does).
    pub fn send(&self, message: impl Into<Message>) -> Result<()> {
        match message.into() {
            Message::Text(text) => self.send_frame(OpCode::Text, text.as_bytes()),
            Message::Binary(data) => self.send_frame(OpCode::Binary, &data),
            Message::Ping(data) => self.send_frame(OpCode::Ping, &data),
            Message::Pong(data) => self.send_frame(OpCode::Pong, &data),
            Message::Close(frame) => self.close_with(frame),
        }
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> Result<()> {
        self.send_frame(OpCode::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<()> {
        self.send_frame(OpCode::Binary, data)
    }

    /// Sends a ping with up to 125 bytes of payload; the reader returns the
    /// peer's pong.
    pub fn ping(&self, payload: &[u8]) -> Result<()> {
        self.send_frame(OpCode::Ping, payload)
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes). The reader then returns the peer's [`Message::Close`].
    /// Fails with [`Error::SendAfterClose`] if a close was sent already,
    /// such as the reader's answer to the peer's close.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<()> {
        self.close_with(Some(CloseFrame::new(code, reason)))
    }

    /// Ends the TCP connection in both directions at once, without a closing
    /// handshake: a reader blocked in [`ReadHalf::read`] wakes with an error,
    /// and so does a writer blocked on a peer that does not read.
    pub fn shutdown(&self) -> Result<()> {
        self.shared
            .stream
            .shutdown(Shutdown::Both)
            .map_err(Error::Io)
    }

    /// The socket (shared with the reader). Writing to it directly breaks the
    /// framing.
    pub fn get_ref(&self) -> &TcpStream {
        &self.shared.stream
    }

    fn send_frame(&self, opcode: OpCode, payload: &[u8]) -> Result<()> {
        let mut state = self.shared.wait_for_turn()?;
        state.check_usable()?;
        // The buffer of the last send is reused: no allocation per message.
        let mut frame = std::mem::take(&mut state.send_buffer);
        frame.clear();
        state.sender.encode(opcode, true, payload, &mut frame)?;
        state.writing = true;
        drop(state);
        let written = self.shared.write_then_give_back(&frame);
        if frame.capacity() <= KEEP_SEND_BUFFER {
            if let Ok(mut state) = self.shared.lock() {
                state.send_buffer = frame;
            }
        }
        written
    }

    fn close_with(&self, frame: Option<CloseFrame>) -> Result<()> {
        if let Some(f) = &frame {
            if !f.code.is_sendable() {
                return Err(Error::InvalidCloseCode(f.code));
            }
            if f.reason.len() > MAX_REASON_LEN {
                return Err(Error::ControlFrameTooLong(f.reason.len() + 2));
            }
        }
        let mut state = self.shared.wait_for_turn()?;
        state.check_usable()?;
        let mut bytes = Vec::new();
        state.sender.encode_close(frame.as_ref(), &mut bytes)?;
        state.writing = true;
        drop(state);
        self.shared.write_then_give_back(&bytes)
    }

    /// Queues what the reader's session owes the peer, and writes it if no
    /// other thread holds the write turn (the holder writes it otherwise,
    /// after the frame in progress).
    fn answer(&self, answer: Answer) -> Result<()> {
        let mut state = self.shared.lock()?;
        if state.sender.close_sent() {
            // After our close, the peer expects nothing but its close answer.
            return Ok(());
        }
        match answer {
            // Only the latest ping needs its pong (section 5.5.3).
            Answer::Pong(payload) => {
                state.check_usable()?;
                state.pong = Some(payload);
            }
            close => {
                if let Answer::Fail(_) = close {
                    // Nothing is owed to a peer that broke a rule but the close.
                    state.pong = None;
                } else {
                    state.check_usable()?;
                    // A ping that came before the close is answered before it.
                    state.queue_pong();
                }
                let State {
                    sender, control, ..
                } = &mut *state;
                close.encode(sender, control);
            }
        }
        drop(state);
        self.shared.write_queued()
    }
}
