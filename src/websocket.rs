//! The blocking WebSocket: [`WebSocket<S>`] drives the [protocol core](crate::protocol)
//! over any `Read + Write` stream, in either role.
//!
//! The stream can be a `TcpStream`, a TLS stream the application brings, or an
//! in-memory pipe in tests. [`accept`] performs the server's side of the
//! opening handshake on such a stream; [`client`](crate::client::client) the
//! client's.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use stdws::Message;
//!
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! let (stream, _) = listener.accept()?;
//! let mut ws = stdws::accept(stream)?;
//! loop {
//!     match ws.read()? {
//!         msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
//!         Message::Close(_) => break, // the answer has been sent already
//!         _ => {}                     // pings were answered already
//!     }
//! }
//! # Ok::<(), stdws::Error>(())
//! ```

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;

use crate::error::{Error, Result};
use crate::message::Message;
use crate::protocol::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::protocol::compressor::Compressor;
use crate::protocol::extension::{Agreed, Compression, answer_offers};
use crate::protocol::frame::OpCode;
use crate::protocol::handshake::{RequestProblem, accept_response, check_request};
use crate::protocol::http::{HeadLimits, HeadReader, Request};
use crate::protocol::{Event, Limits, Receiver, Role, Sender, Session, State};
use crate::trace::Tracer;

/// Settings of a [`WebSocket`]: the limits on what the peer may send, and
/// whether [`accept_with_config`] negotiates compression.
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    pub(crate) limits: Limits,
    pub(crate) head_limits: HeadLimits,
    pub(crate) tracer: Tracer,
    pub(crate) compression: Compression,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            limits: Limits::default(),
            head_limits: HeadLimits::default(),
            tracer: Tracer::from_env(),
            compression: Compression::disabled(),
        }
    }
}

impl WebSocketConfig {
    /// The defaults: messages and frames up to 1 MiB, handshake heads up to
    /// 8 KiB and 100 header fields, tracing if `STDWS_TRACE=1`, compression
    /// off.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest message the peer may send, over all its fragments
    /// (default 1 MiB). A larger one fails the connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits.max_message_size = bytes;
        self
    }

    /// The largest frame the peer may send (default 1 MiB). A larger one
    /// fails the connection with 1009 as soon as its header arrives.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.limits.max_frame_size = bytes;
        self
    }

    /// The largest handshake head accepted (default 8 KiB; 431 beyond).
    pub fn max_head_size(mut self, bytes: usize) -> Self {
        self.head_limits.max_head_size = bytes;
        self
    }

    /// The most header fields a handshake may have (default 100; 431 beyond).
    pub fn max_headers(mut self, count: usize) -> Self {
        self.head_limits.max_headers = count;
        self
    }

    /// Prints every frame to `tracer` (see [`Tracer`]); off unless
    /// `STDWS_TRACE=1` is set.
    pub fn trace(mut self, tracer: Tracer) -> Self {
        self.tracer = tracer;
        self
    }

    /// Whether [`accept_with_config`] accepts a client's offer of
    /// `permessage-deflate` (RFC 7692), with which settings (default off, as
    /// on [`ServerBuilder::compression`](crate::server::ServerBuilder::compression):
    /// see there for the memory it costs). The answer is the server's:
    /// every message compressed on its own, a 2<sup>12</sup>-byte window asked
    /// of the client when it allows it.
    ///
    /// A client made with [`ClientBuilder`](crate::client::ClientBuilder)
    /// takes its compression from
    /// [`ClientBuilder::compression`](crate::client::ClientBuilder::compression)
    /// instead.
    ///
    /// ```
    /// use stdws::{Compression, WebSocketConfig};
    /// let config = WebSocketConfig::new().compression(Compression::default().level(1));
    /// assert!(config.compression_settings().is_enabled());
    /// assert!(!WebSocketConfig::new().compression_settings().is_enabled());
    /// ```
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The compression settings [`accept_with_config`] negotiates with.
    pub fn compression_settings(&self) -> &Compression {
        &self.compression
    }

    /// The limits on frames and messages.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// Bytes read from the stream and not yet consumed by the protocol core.
///
/// It stays small (a connection holds 4 KiB at most): frame headers, control
/// frames and small messages pass through it, while large payloads are read
/// straight into the message they belong to
/// ([`Receiver::payload_buffer`]), without a copy.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    /// The read size: most messages fit in one read, and an idle connection
    /// holds no more than this.
    const SIZE: usize = 4 * 1024;
    /// A payload at least this large is read straight into its message.
    const DIRECT_MIN: usize = 8 * 1024;
    /// The most one direct read asks for: the space is zeroed before the
    /// read, so asking for much more than a read brings back wastes work.
    const DIRECT_MAX: usize = 256 * 1024;

    pub(crate) fn with_bytes(bytes: &[u8]) -> ReadBuffer {
        ReadBuffer {
            buf: bytes.to_vec(),
            start: 0,
            end: bytes.len(),
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `reader` into the buffer. Returns the count read; 0 is
    /// end of stream.
    fn fill(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        if self.start > 0 {
            // At most a partial frame header or control frame is left.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.end + Self::SIZE {
            self.buf.resize(self.end + Self::SIZE, 0);
        }
        let n = reader.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Reads until `session` yields a message. `Ok(None)` is the end of the
    /// stream.
    pub(crate) fn next_message(
        &mut self,
        reader: &mut impl ReadPayload,
        session: &mut Session,
        tracer: &Tracer,
        conn: u64,
    ) -> Result<Option<Message>> {
        loop {
            match self.next_event(reader, session, tracer, conn, |_| Ok(()))? {
                Some(Event::Message(message)) => return Ok(Some(message)),
                // Only a session asked for parts makes them, and these never are.
                Some(Event::Part(_)) => {}
                None => return Ok(None),
            }
        }
    }

    /// Reads until `session` yields an event, calling `before_blocking` each
    /// time it is about to wait for the stream (the server writes out
    /// replies it held back while it had input to process). `Ok(None)` is
    /// the end of the stream.
    pub(crate) fn next_event(
        &mut self,
        reader: &mut impl ReadPayload,
        session: &mut Session,
        tracer: &Tracer,
        conn: u64,
        mut before_blocking: impl FnMut(&Receiver) -> Result<()>,
    ) -> Result<Option<Event>> {
        loop {
            if self.start < self.end {
                let result = session.receive(self.pending());
                if tracer.is_on() {
                    tracer.received_frames(conn, session.receiver_mut(), &result);
                }
                let (used, event) = result?;
                self.consume(used);
                if event.is_some() {
                    return Ok(event);
                }
            }
            before_blocking(session.receiver())?;
            let remaining = session.receiver_mut().payload_remaining();
            if remaining >= Self::DIRECT_MIN {
                if let Some((data, needed)) = session.receiver_mut().payload_buffer() {
                    let want = needed.min(Self::DIRECT_MAX);
                    let before = data.len();
                    let read = reader.append_payload(data, want);
                    let appended = data.len() - before;
                    let result = session.payload_appended(appended);
                    if tracer.is_on() {
                        tracer.received_frames(conn, session.receiver_mut(), &result);
                    }
                    match read {
                        Ok(0) => {
                            tracer.tcp_closed(conn, true);
                            return Ok(None);
                        }
                        Ok(_) => {}
                        Err(e) => return Err(Error::Io(e)),
                    }
                    let event = result?;
                    if event.is_some() {
                        return Ok(event);
                    }
                    continue;
                }
            }
            match retry_interrupted(|| self.fill(reader)) {
                Ok(0) => {
                    tracer.tcp_closed(conn, true);
                    return Ok(None);
                }
                Ok(_) => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    /// Whether bytes are buffered that have not been decoded yet.
    pub(crate) fn has_pending(&self) -> bool {
        self.start < self.end
    }
}

/// A reader that can append a large payload straight to a message.
pub(crate) trait ReadPayload: Read {
    /// Appends up to `max` bytes to `buf` (at least one, unless the stream
    /// ended). The default reads once into zeroed space; a reader over a
    /// socket can do without the zeroing.
    fn append_payload(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        append_once(self, buf, max)
    }
}

/// Any stream, read the default way.
pub(crate) struct Plain<'a, S>(pub(crate) &'a mut S);

impl<S: Read> Read for Plain<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Read> ReadPayload for Plain<'_, S> {}

impl ReadPayload for TcpStream {}

/// Appends up to `max` bytes to `buf` with one read into zeroed space.
fn append_once<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + max, 0);
    let read = retry_interrupted(|| reader.read(&mut buf[start..]));
    buf.truncate(start + *read.as_ref().unwrap_or(&0));
    read
}

fn retry_interrupted(mut op: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Writes all of `parts` with as few system calls as the stream allows.
pub(crate) fn write_all_vectored(stream: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    // A small frame goes out as one contiguous buffer: a plain send costs
    // less in the kernel than gathering two pieces. The buffer is zeroed
    // first, so the most common sizes get one small enough for that to take
    // a few instructions.
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total <= 128 {
        return write_joined::<128>(stream, parts);
    }
    if total <= 512 {
        return write_joined::<512>(stream, parts);
    }
    // Callers pass a header and a payload: at most a few pieces.
    let mut storage = [IoSlice::new(&[]); 4];
    let mut count = 0;
    for part in parts.iter().filter(|p| !p.is_empty()) {
        storage[count] = IoSlice::new(part);
        count += 1;
    }
    let mut slices = &mut storage[..count];
    while !slices.is_empty() {
        match stream.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `parts`, `N` bytes at most in all, with one contiguous write.
fn write_joined<const N: usize>(stream: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let mut buf = [0u8; N];
    let mut at = 0;
    for part in parts {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    stream.write_all(&buf[..at])
}

/// A WebSocket connection over a blocking stream, for either role.
///
/// Reading answers pings and closes by itself; see [`read`](Self::read).
/// The normal end of a connection is a [`Message::Close`], after which
/// every call returns [`Error::ConnectionClosed`].
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    session: Session,
    sender: Sender,
    inbound: ReadBuffer,
    out: Vec<u8>,
    close_returned: bool,
    tracer: Tracer,
    id: u64,
    /// What a client connection adds: its handshake's response, keepalive
    /// pings, timeouts (see [`crate::client`]).
    client: Option<Box<dyn ReadCompanion>>,
}

/// What drives a WebSocket's reads beside the protocol: the client's
/// keepalive and timeouts (`client::keepalive`), behind a trait so that
/// this module does not depend on the client's.
pub(crate) trait ReadCompanion: std::fmt::Debug + Send + Sync + std::any::Any {
    /// Before each wait for the stream; `open`: whether messages may be sent.
    fn before_wait(&mut self, open: bool) -> ReadStep;
    /// After each attempt to read a message.
    fn after_read(&mut self, result: &Result<Message>) -> ReadStep;
    /// Bounds the write of a last close frame to a peer that may not read.
    fn bound_last_write(&self);
    /// Shuts the connection of a peer found dead.
    fn shut(&mut self);
    fn as_any(&self) -> &dyn std::any::Any;
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// What `read` does next, as its [`ReadCompanion`] decides.
#[derive(Debug)]
pub(crate) enum ReadStep {
    /// Go on: read, or return what was read.
    Proceed,
    /// Send a ping with this payload, then read.
    Ping(Vec<u8>),
    /// Read again: a wake-up the application did not ask for, or a pong
    /// that is not the application's business.
    Again,
    /// The peer stopped answering: fail with this error.
    Dead(Error),
}

impl<S: Read + Write> WebSocket<S> {
    /// The largest send buffer kept between messages (a client masks into it).
    const KEEP_SEND_BUFFER: usize = 4 << 20;

    /// Wraps a stream on which the opening handshake is complete.
    pub fn from_stream(stream: S, role: Role, config: &WebSocketConfig) -> WebSocket<S> {
        Self::from_partially_read(stream, &[], role, config)
    }

    /// Wraps a stream on which the opening handshake is complete, with bytes
    /// already read past the handshake (frames the peer sent at once).
    pub fn from_partially_read(
        stream: S,
        already_read: &[u8],
        role: Role,
        config: &WebSocketConfig,
    ) -> WebSocket<S> {
        let mut session = Session::new(role, config.limits);
        session.receiver_mut().observe_frames(config.tracer.is_on());
        WebSocket {
            stream,
            session,
            sender: Sender::new(role),
            inbound: ReadBuffer::with_bytes(already_read),
            out: Vec::new(),
            close_returned: false,
            tracer: config.tracer.clone(),
            id: crate::trace::next_connection_id(),
            client: None,
        }
    }

    /// Compresses and inflates messages with `permessage-deflate` as
    /// `agreed` in the handshake, at the level and threshold of `settings`
    /// (`None`: no compression, the default). The client calls this after
    /// its handshake; call it when the handshake was made elsewhere.
    pub fn set_compression(&mut self, agreed: Option<Agreed>, settings: &Compression) {
        let role = self.session.role();
        let inbound = agreed.map(|a| a.inbound(role));
        self.session.receiver_mut().set_compression(inbound);
        let compressor = agreed.map(|a| {
            let mut direction = a.outbound(role);
            if role == Role::Server && !direction.no_context_takeover {
                // A server's kept context uses the smaller window its
                // settings ask for (see `Compression::window_bits`).
                direction.window_bits = direction
                    .window_bits
                    .min(settings.server_context_window_bits());
            }
            Compressor::new(direction, settings)
        });
        self.sender.set_compression(compressor);
    }

    /// The role this side plays.
    pub fn role(&self) -> Role {
        self.session.role()
    }

    /// Where the session is: open, closing, or closed.
    pub fn state(&self) -> State {
        self.session.state()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably (writing to it directly breaks the framing).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream, giving up the WebSocket.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Reads the next message.
    ///
    /// Pings are answered with a pong before they are returned; a close
    /// frame from the peer is answered with a close before
    /// [`Message::Close`] is returned (on the server side, drop the
    /// `WebSocket` then, which closes the TCP connection, as RFC 6455 section
    /// 7.1.1 asks of servers). A peer that breaks a rule gets a close frame
    /// with the rule's code, and the call returns [`Error::Protocol`].
    ///
    /// On a client connection, keepalive pings go out while this call waits
    /// (see [`ClientBuilder::ping_interval`](crate::ClientBuilder::ping_interval)).
    pub fn read(&mut self) -> Result<Message> {
        loop {
            let open = self.session.state() == State::Open;
            match self.client.as_deref_mut().map(|c| c.before_wait(open)) {
                Some(ReadStep::Ping(payload)) => self.ping(&payload)?,
                Some(ReadStep::Dead(e)) => return Err(self.keepalive_failed(e)),
                _ => {}
            }
            let result = self.read_message();
            match self.client.as_deref_mut().map(|c| c.after_read(&result)) {
                Some(ReadStep::Again) => continue,
                Some(ReadStep::Dead(e)) => return Err(self.keepalive_failed(e)),
                _ => return result,
            }
        }
    }

    /// Ends a connection whose peer stopped answering pings: close 1011,
    /// best effort, then the socket is shut.
    fn keepalive_failed(&mut self, e: Error) -> Error {
        if self.session.state() == State::Open {
            if let Some(client) = self.client.as_deref() {
                client.bound_last_write();
            }
            let _ = self.close(CloseCode::INTERNAL_ERROR, "keepalive ping timeout");
        }
        self.close_returned = true;
        if let Some(client) = self.client.as_deref_mut() {
            client.shut();
        }
        e
    }

    fn read_message(&mut self) -> Result<Message> {
        if self.close_returned {
            return Err(Error::ConnectionClosed);
        }
        let next = self.inbound.next_message(
            &mut Plain(&mut self.stream),
            &mut self.session,
            &self.tracer,
            self.id,
        );
        match next {
            Ok(Some(message)) => {
                self.write_answers()?;
                if let Message::Close(_) = message {
                    self.close_returned = true;
                }
                Ok(message)
            }
            Ok(None) => {
                self.session.receive_eof();
                self.close_returned = true;
                if self.session.close_received() {
                    Err(Error::ConnectionClosed)
                } else {
                    Err(Error::AbnormalClosure)
                }
            }
            Err(Error::Protocol(violation)) => {
                // Best effort: the peer may be gone already.
                let _ = self.write_answers();
                self.close_returned = true;
                Err(Error::Protocol(violation))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes what the session owes the peer (pongs, a close answer).
    fn write_answers(&mut self) -> Result<()> {
        if !self.session.has_answer() {
            return Ok(());
        }
        self.out.clear();
        let mut out = std::mem::take(&mut self.out);
        while let Some(answer) = self.session.take_answer() {
            answer.encode(&mut self.sender, &mut out);
        }
        self.write_out(out)
    }

    /// Writes encoded frames, keeping the buffer for the next message
    /// unless it is huge.
    fn write_out(&mut self, out: Vec<u8>) -> Result<()> {
        if !out.is_empty() && self.tracer.is_on() {
            self.tracer.sent_bytes(self.id, self.session.role(), &out);
        }
        let result = self
            .stream
            .write_all(&out)
            .and_then(|_| self.stream.flush());
        if out.capacity() <= Self::KEEP_SEND_BUFFER {
            self.out = out;
        }
        result.map_err(Error::Io)
    }

    /// Sends a message: text, binary, ping, pong, or close (which starts the
    /// closing handshake, as [`close`](Self::close) does).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        let message = message.into();
        if let Message::Close(frame) = message {
            return self.close_with(frame);
        }
        self.write_answers()?;
        let (opcode, payload): (OpCode, &[u8]) = match &message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            Message::Pong(data) => (OpCode::Pong, data),
            Message::Close(_) => unreachable!("handled above"),
        };
        self.send_frame(opcode, payload)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<()> {
        self.write_answers()?;
        self.send_frame(OpCode::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<()> {
        self.write_answers()?;
        self.send_frame(OpCode::Binary, data)
    }

    /// Sends a ping with up to 125 bytes of payload.
    pub fn ping(&mut self, payload: &[u8]) -> Result<()> {
        self.write_answers()?;
        self.send_frame(OpCode::Ping, payload)
    }

    fn send_frame(&mut self, opcode: OpCode, payload: &[u8]) -> Result<()> {
        let message_len = payload.len();
        let (header, payload) = self.sender.message_frame(opcode, payload)?;
        let encoded = header.encode();
        if self.tracer.is_on() {
            let compressed = header.rsv != 0;
            let inflated = compressed.then_some(message_len);
            self.tracer.sent_frame(self.id, &header, payload, inflated);
        }
        match header.mask {
            // A server's payload goes out as it is, beside its header.
            None => write_all_vectored(&mut self.stream, &[encoded.as_bytes(), payload])?,
            Some(key) => {
                self.out.clear();
                self.out.extend_from_slice(encoded.as_bytes());
                let start = self.out.len();
                self.out.resize(start + payload.len(), 0);
                crate::protocol::mask::mask_into(&mut self.out[start..], payload, key, 0);
                self.stream.write_all(&self.out)?;
                // Keep the buffer for the next message, unless it is huge.
                if self.out.capacity() > Self::KEEP_SEND_BUFFER {
                    self.out = Vec::new();
                }
            }
        }
        self.stream.flush()?;
        Ok(())
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes) and returns at once. Keep reading until [`Message::Close`] or
    /// [`Error::ConnectionClosed`] to complete it, or call
    /// [`close_and_wait`](Self::close_and_wait), which does that within the
    /// close timeout and then shuts the socket.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        if !code.is_sendable() {
            return Err(Error::InvalidCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(Error::ControlFrameTooLong(reason.len() + 2));
        }
        self.close_with(Some(CloseFrame::new(code, reason)))
    }

    fn close_with(&mut self, frame: Option<CloseFrame>) -> Result<()> {
        if let Some(f) = &frame {
            if !f.code.is_sendable() {
                return Err(Error::InvalidCloseCode(f.code));
            }
        }
        self.write_answers()?;
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        self.sender.encode_close(frame.as_ref(), &mut out)?;
        self.session.sent_close();
        self.write_out(out)
    }

    /// Flushes the stream.
    pub fn flush(&mut self) -> Result<()> {
        self.write_answers()?;
        self.stream.flush().map_err(Error::Io)
    }
}

/// Performs the server's side of the opening handshake on `stream` with the
/// default settings, and returns the WebSocket.
///
/// A request that is not a valid handshake is answered with an HTTP error
/// (400, 405, 426 or 431, with a body that names the problem) and the call
/// returns [`Error::HandshakeRequest`].
///
/// This is the way in for a program that has its own listener (or its own
/// TLS): a thread per connection, here, each echoing until the client
/// closes. [`Server`](crate::Server) does the same with a bounded pool,
/// timeouts, broadcast and rooms.
///
/// ```no_run
/// use std::net::TcpListener;
/// use std::thread;
///
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// for stream in listener.incoming() {
///     let stream = stream?;
///     thread::spawn(move || -> stdws::Result<()> {
///         let mut ws = stdws::accept(stream)?;
///         // After the client's close (answered by read), reads fail: the loop ends.
///         while let Ok(message) = ws.read() {
///             if message.is_data() {
///                 ws.send(message)?;
///             }
///         }
///         Ok(())
///     });
/// }
/// # Ok::<(), stdws::Error>(())
/// ```
pub fn accept<S: Read + Write>(stream: S) -> Result<WebSocket<S>> {
    accept_with_config(stream, &WebSocketConfig::default())
}

/// [`accept`] with settings: the limits, the trace, and compression, which
/// it negotiates as [`Server`](crate::Server) does when
/// [`WebSocketConfig::compression`] turns it on (the first valid
/// `permessage-deflate` offer of the request is accepted, and its answer
/// sent in `Sec-WebSocket-Extensions`).
///
/// ```no_run
/// use std::net::TcpListener;
/// use stdws::{Compression, WebSocketConfig};
///
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// let config = WebSocketConfig::new().compression(Compression::default());
/// let (stream, _) = listener.accept()?;
/// let mut ws = stdws::accept_with_config(stream, &config)?;
/// ws.send_text(r#"{"compressed": "if the client offered it"}"#)?;
/// # Ok::<(), stdws::Error>(())
/// ```
pub fn accept_with_config<S: Read + Write>(
    mut stream: S,
    config: &WebSocketConfig,
) -> Result<WebSocket<S>> {
    let (request, leftover) = read_request(&mut stream, config.head_limits)?;
    let key = match check_request(&request) {
        Ok(key) => key.to_owned(),
        Err(problem) => {
            let _ = stream.write_all(&problem.response().to_bytes());
            let _ = stream.flush();
            return Err(Error::HandshakeRequest(problem));
        }
    };
    let agreed = answer_offers(
        request.headers().get_all("Sec-WebSocket-Extensions"),
        &config.compression,
    );
    let mut response = accept_response(&key, None);
    if let Some(agreed) = &agreed {
        response
            .headers_mut()
            .append("Sec-WebSocket-Extensions", agreed.response());
    }
    let response = response.to_bytes();
    let mut ws = WebSocket::from_partially_read(stream, &leftover, Role::Server, config);
    ws.set_compression(agreed, &config.compression);
    if config.tracer.is_on() {
        let id = ws.id;
        config
            .tracer
            .handshake(id, "request", &read_head_text(&request));
        config
            .tracer
            .handshake(id, "response", &String::from_utf8_lossy(&response));
    }
    ws.stream.write_all(&response)?;
    ws.stream.flush()?;
    Ok(ws)
}

fn read_head_text(request: &Request) -> String {
    let mut text = format!(
        "{} {} HTTP/{}.{}\r\n",
        request.method(),
        request.target(),
        request.version().0,
        request.version().1
    );
    for (name, value) in request.headers().iter() {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text
}

/// Reads a request head from `stream`; returns it and any bytes read past it.
/// Answers a head over the limits with 431 and a malformed one with 400.
pub(crate) fn read_request(
    stream: &mut (impl Read + Write),
    limits: HeadLimits,
) -> Result<(Request, Vec<u8>)> {
    let mut reader = HeadReader::new(limits);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(Error::AbnormalClosure),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Error::HandshakeTimeout);
            }
            Err(e) => return Err(Error::Io(e)),
        };
        let (used, done) = match reader.feed(&chunk[..n]) {
            Ok(progress) => progress,
            Err(e) => return Err(refuse(stream, RequestProblem::Head(e))),
        };
        if done {
            return match Request::parse(reader.head(), limits) {
                Ok(request) => Ok((request, chunk[used..n].to_vec())),
                Err(e) => Err(refuse(stream, RequestProblem::Head(e))),
            };
        }
    }
}

fn refuse(stream: &mut impl Write, problem: RequestProblem) -> Error {
    let _ = stream.write_all(&problem.response().to_bytes());
    let _ = stream.flush();
    Error::HandshakeRequest(problem)
}

// Used by the client and the split halves.
impl<S> WebSocket<S> {
    /// Names the connection `id` in trace lines: the client traces its
    /// handshake before the WebSocket exists, and its frames must carry the
    /// same number.
    pub(crate) fn with_trace_id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }

    /// Attaches what the client adds (its response, keepalive, timeouts).
    pub(crate) fn with_companion(mut self, companion: Box<dyn ReadCompanion>) -> Self {
        self.client = Some(companion);
        self
    }

    pub(crate) fn companion(&self) -> Option<&dyn ReadCompanion> {
        self.client.as_deref()
    }

    pub(crate) fn companion_mut(&mut self) -> Option<&mut dyn ReadCompanion> {
        self.client.as_deref_mut()
    }

    /// Takes the WebSocket apart, for [`split`](WebSocket::split).
    pub(crate) fn into_parts(self) -> crate::split::Parts<S> {
        crate::split::Parts {
            stream: self.stream,
            session: self.session,
            sender: self.sender,
            inbound: self.inbound,
            close_returned: self.close_returned,
            tracer: self.tracer,
            id: self.id,
        }
    }
}
