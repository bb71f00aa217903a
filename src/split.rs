//! One connection, two threads: a [`ReadHalf`] that reads messages and a
//! [`WriteHalf`] that sends them, made by [`WebSocket::split`].
//!
//! Both halves write to the socket: the writer its messages, the reader the
//! answers RFC 6455 requires of it, a pong for each ping (section 5.5.2), a
//! close for the peer's close (section 5.5.1), a close with the broken rule's
//! code when the peer fails the connection (section 7.1.7). Every frame is
//! written whole while holding one lock over the sending state, so frames never
//! interleave on the wire, and the one [`Sender`](crate::protocol::Sender)
//! refuses any frame after a close, whichever half sent it.
//!
//! ```text
//!        ReadHalf (own clone of the socket)        WriteHalf (Clone, &self)
//!   read() --> bytes --> Receiver --> Message      send(), close(), ping()
//!                            |                            |
//!                            | ping: pong                 | frames
//!                            | close: close               |
//!                            v                            v
//!                  +-------------------------------------------+
//!                  | Mutex: Session (its Sender), out buffer    | --> socket
//!                  +-------------------------------------------+
//! ```
//!
//! The lock is taken only to encode and write one frame, never while waiting
//! for input, so a reader blocked in `read` never holds up the writer. Socket
//! options (timeouts, non-blocking) are shared by the two halves, since they
//! share the socket.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::protocol::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::protocol::frame::OpCode;
use crate::protocol::{Receiver, Session};
use crate::trace::Tracer;
use crate::websocket::{ReadBuffer, WebSocket};

/// A [`WebSocket`] taken apart (see `WebSocket::into_parts`).
pub(crate) struct Parts<S> {
    pub(crate) stream: S,
    pub(crate) session: Session,
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
        let mut parts = self.into_parts();
        let read_stream = parts.stream.try_clone()?;
        let role = parts.session.role();
        let limits = parts.session.receiver_mut().limits();
        // The reader takes the receiver with whatever it holds of a frame
        // in progress; the session keeps the sender and the closing state.
        let receiver = std::mem::replace(parts.session.receiver_mut(), Receiver::new(role, limits));
        let pending = parts.session.take_output();
        let writer = WriteHalf {
            shared: Arc::new(Mutex::new(Shared {
                session: parts.session,
                out: Vec::new(),
                broken: None,
            })),
            stream: Arc::new(parts.stream),
            tracer: parts.tracer.clone(),
            id: parts.id,
        };
        if !pending.is_empty() {
            let mut shared = writer.lock()?;
            shared.out = pending;
            writer.write_out(&mut shared)?;
        }
        let reader = ReadHalf {
            stream: read_stream,
            inbound: parts.inbound,
            receiver,
            writer: writer.clone(),
            done: parts.close_returned,
        };
        Ok((reader, writer))
    }
}

/// The sending state both halves share.
#[derive(Debug)]
struct Shared {
    /// Its sender frames everything; its receiver is unused (the reader has
    /// the real one).
    session: Session,
    /// The frame being written.
    out: Vec<u8>,
    /// Set when a write failed, perhaps part-way through a frame: nothing
    /// more may be written after a partial frame.
    broken: Option<io::ErrorKind>,
}

/// The reading half of a split [`WebSocket`]; see [`WebSocket::split`].
#[derive(Debug)]
pub struct ReadHalf {
    stream: TcpStream,
    inbound: ReadBuffer,
    receiver: Receiver,
    writer: WriteHalf,
    done: bool,
}

impl ReadHalf {
    /// Reads the next message, as [`WebSocket::read`] does: pings are
    /// answered with a pong and the peer's close with a close (through the
    /// shared sending state, between the writer's frames) before they are
    /// returned; a broken rule is answered with a close frame with the rule's
    /// code and returned as [`Error::Protocol`], after which the writer's
    /// sends fail with the same error.
    ///
    /// After [`Message::Close`], or any error but a timeout, every call
    /// returns [`Error::ConnectionClosed`].
    pub fn read(&mut self) -> Result<Message> {
        if self.done {
            return Err(Error::ConnectionClosed);
        }
        let next = self.inbound.next_message(
            &mut self.stream,
            &mut self.receiver,
            &self.writer.tracer,
            self.writer.id,
        );
        match next {
            Ok(Some(message)) => {
                match &message {
                    Message::Ping(payload) => self.writer.answer_ping(payload)?,
                    Message::Close(frame) => {
                        self.done = true;
                        // Best effort: the peer may have closed its side
                        // already, and its close is what matters here.
                        let _ = self.writer.answer_close(frame.as_ref());
                    }
                    _ => {}
                }
                Ok(message)
            }
            Ok(None) => {
                self.done = true;
                if self.receiver.close_received() {
                    Err(Error::ConnectionClosed)
                } else {
                    Err(Error::AbnormalClosure)
                }
            }
            Err(Error::Protocol(violation)) => {
                self.done = true;
                // Best effort: the peer may be gone already.
                let _ = self.writer.fail(violation);
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
}

/// The writing half of a split [`WebSocket`]; see [`WebSocket::split`].
///
/// Clones share one sending state, so several threads may send: each frame
/// is written whole.
#[derive(Debug, Clone)]
pub struct WriteHalf {
    shared: Arc<Mutex<Shared>>,
    /// Written only while `shared` is locked. Outside the lock so that
    /// [`shutdown`](Self::shutdown) can wake a writer blocked on a full socket.
    stream: Arc<TcpStream>,
    tracer: Tracer,
    id: u64,
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
        if reason.len() > MAX_REASON_LEN {
            return Err(Error::ControlFrameTooLong(reason.len() + 2));
        }
        self.close_with(Some(CloseFrame::new(code, reason)))
    }

    /// Ends the TCP connection in both directions at once, without a closing
    /// handshake: a reader blocked in [`ReadHalf::read`] wakes with an error,
    /// and so does a writer blocked on a peer that does not read.
    pub fn shutdown(&self) -> Result<()> {
        self.stream.shutdown(Shutdown::Both).map_err(Error::Io)
    }

    /// The socket (shared with the reader). Writing to it directly breaks the
    /// framing.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    fn send_frame(&self, opcode: OpCode, payload: &[u8]) -> Result<()> {
        let mut shared = self.lock()?;
        shared.check_usable()?;
        let Shared { session, out, .. } = &mut *shared;
        out.clear();
        session.sender_mut().encode(opcode, true, payload, out)?;
        self.write_out(&mut shared)
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
        let mut shared = self.lock()?;
        shared.check_usable()?;
        let Shared { session, out, .. } = &mut *shared;
        out.clear();
        session.close(frame, out)?;
        self.write_out(&mut shared)
    }

    fn answer_ping(&self, payload: &[u8]) -> Result<()> {
        let mut shared = self.lock()?;
        if shared.session.sender_mut().close_sent() {
            // After our close, the peer expects nothing but its close answer.
            return Ok(());
        }
        shared.check_usable()?;
        let Shared { session, out, .. } = &mut *shared;
        out.clear();
        session.sender_mut().encode(OpCode::Pong, true, payload, out)?;
        self.write_out(&mut shared)
    }

    fn answer_close(&self, frame: Option<&CloseFrame>) -> Result<()> {
        let mut shared = self.lock()?;
        if shared.session.sender_mut().close_sent() {
            return Ok(());
        }
        shared.check_usable()?;
        // Echo the code (section 5.5.1), not the reason: it is the peer's.
        let answer = frame.map(|f| CloseFrame::new(f.code, ""));
        let Shared { session, out, .. } = &mut *shared;
        out.clear();
        session.close(answer, out)?;
        self.write_out(&mut shared)
    }

    fn fail(&self, violation: crate::protocol::Violation) -> Result<()> {
        let mut shared = self.lock()?;
        shared.session.fail(violation);
        let output = shared.session.take_output();
        if output.is_empty() || shared.broken.is_some() {
            return Ok(());
        }
        shared.out = output;
        self.write_out(&mut shared)
    }

    /// Writes `shared.out`, whole, while the lock is held.
    fn write_out(&self, shared: &mut MutexGuard<'_, Shared>) -> Result<()> {
        if self.tracer.is_on() {
            let role = shared.session.role();
            self.tracer.sent_bytes(self.id, role, &shared.out);
        }
        let mut stream: &TcpStream = &self.stream;
        let written = stream.write_all(&shared.out).and_then(|_| stream.flush());
        if shared.out.capacity() > 64 * 1024 {
            // A large message has passed: give the memory back.
            shared.out = Vec::new();
        }
        written.map_err(|e| {
            shared.broken = Some(e.kind());
            Error::Io(e)
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Shared>> {
        self.shared.lock().map_err(|_| {
            Error::Io(io::Error::other(
                "a thread panicked while sending on this connection; drop it",
            ))
        })
    }
}

impl Shared {
    /// Refuses to write after a failed connection or a failed write.
    fn check_usable(&self) -> Result<()> {
        if let Some(violation) = self.session.failure() {
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
}
