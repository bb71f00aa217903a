//! The connection handle that handlers, callbacks and the application use
//! to talk to one client: its identity, the handshake it made, and sends.
//!
//! A [`Connection`] is cheap to clone and can be used from any thread. Sends
//! from the connection's own worker (a handler replying) are written at once;
//! sends from anywhere else go through the connection's bounded
//! outbound queue and never wait on its socket.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::batch;
use super::hub::Hub;
use super::outbound::Sent;
use super::queue::{Frame, Origin};
use super::shared::ConnShared;
use super::sync::lock;
use crate::error::{Error, Result};
use crate::message::{Message, MessagePart};
use crate::protocol::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::protocol::compressor::RSV1;
use crate::protocol::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use crate::protocol::http::Request;

/// A handle to one client connection. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<ConnShared>,
    pub(crate) hub: Arc<Hub>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.shared.id)
            .field("peer", &self.shared.peer)
            .field("client", &self.shared.client)
            .field("path", &self.shared.request.path())
            .finish()
    }
}

impl Connection {
    /// The connection's id: unique within the process, never reused; with
    /// a [backplane](crate::backplane), unique across its nodes too (the
    /// node id is in its high bits).
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The TCP peer's address: the client's, or its proxy's when it
    /// connected through one (see [`client_addr`](Self::client_addr)).
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer
    }

    /// The client's address: the one a trusted proxy forwarded (see
    /// [`ServerBuilder::trusted_proxies`](super::ServerBuilder::trusted_proxies);
    /// port 0 when the proxy gave none), or else the TCP peer's.
    pub fn client_addr(&self) -> SocketAddr {
        self.shared.client
    }

    /// The handshake request: path, query, headers, cookies, origin.
    pub fn request(&self) -> &Request {
        &self.shared.request
    }

    /// The value of the route's `{name}` segment, percent-decoded: for a
    /// connection to `/room/Zo%C3%AB` on the route `/room/{name}`,
    /// `path_param("name")` is `Some("Zoë")`. `None` for a name the route
    /// does not have.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.shared
            .path_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Stores the application's value for this connection (a nickname, a
    /// user id, a game's player state), replacing any stored before; it
    /// lives as long as the connection. Any thread can read it back with
    /// [`data`](Self::data) or change it with
    /// [`with_data`](Self::with_data), so the callback style needs no map
    /// of its own keyed by connection id.
    ///
    /// ```
    /// use stdws::server::Server;
    ///
    /// struct Player { nick: String, score: u32 }
    ///
    /// let builder = Server::builder()
    ///     .on_connect(|conn| {
    ///         let nick = conn.request().query_param("nick").unwrap_or_default().into_owned();
    ///         conn.set_data(Player { nick, score: 0 });
    ///     })
    ///     .on_message(|conn, _message| {
    ///         let line = conn.with_data(|p: &mut Player| {
    ///             p.score += 1;
    ///             format!("{} has {} points", p.nick, p.score)
    ///         });
    ///         if let Some(line) = line {
    ///             let _ = conn.send_text(&line);
    ///         }
    ///     });
    /// # drop(builder);
    /// ```
    pub fn set_data<T: Any + Send>(&self, value: T) {
        *lock(&self.shared.data) = Some(Box::new(value));
    }

    /// Runs `f` on the stored value if it is a `T` (see
    /// [`set_data`](Self::set_data)), holding this connection's data lock
    /// meanwhile (so `f` should not wait on other connections' data).
    pub fn with_data<T: Any + Send, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut slot = lock(&self.shared.data);
        slot.as_mut()?.downcast_mut::<T>().map(f)
    }

    /// A copy of the stored value, if it is a `T`.
    pub fn data<T: Any + Send + Clone>(&self) -> Option<T> {
        self.with_data(|value: &mut T| value.clone())
    }

    /// Takes the stored value out, if it is a `T`.
    pub fn take_data<T: Any + Send>(&self) -> Option<T> {
        let mut slot = lock(&self.shared.data);
        if !slot.as_ref().is_some_and(|v| v.is::<T>()) {
            return None;
        }
        slot.take()?.downcast::<T>().ok().map(|b| *b)
    }

    /// The request's path.
    pub fn path(&self) -> &str {
        self.shared.request.path()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.shared.subprotocol.as_deref()
    }

    /// When the connection was opened.
    pub fn connected_at(&self) -> Instant {
        self.shared.connected_at
    }

    /// Whether the connection is open: no close frame has been sent and the
    /// socket is up.
    pub fn is_open(&self) -> bool {
        !self.shared.outbound.is_closing()
    }

    /// Bytes accepted for this client and not yet written to its socket.
    pub fn queued_bytes(&self) -> usize {
        self.shared.outbound.queued_bytes()
    }

    fn on_owner_thread(&self) -> bool {
        batch::is_owner_of(self.shared.id)
    }

    /// Follows up an owner's send: a blocking write when the queue asks for
    /// one, after what the worker deferred for other connections.
    fn after_owner_send(&self, sent: Sent) -> Result<()> {
        if sent == Sent::MustBlock {
            batch::flush_others(&self.hub);
            return self.shared.outbound.write_blocking();
        }
        batch::after_send(&self.hub, &self.shared, sent);
        Ok(())
    }

    /// Sends one frame: written at once from the owner's thread, handed to
    /// the outbound queue from any other (which needs the payload owned).
    fn send_frame(&self, opcode: OpCode, payload: Cow<'_, [u8]>) -> Result<()> {
        if opcode.is_control() && payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlFrameTooLong(payload.len()));
        }
        if self
            .shared
            .deflate
            .as_ref()
            .is_some_and(|d| d.keeps_context())
        {
            return self.send_frame_with_context(opcode, payload);
        }
        let deflated = self
            .shared
            .deflate
            .as_ref()
            .and_then(|d| d.compress(opcode, &payload));
        let compressed = deflated.is_some();
        if let Some(deflated) = &deflated {
            let tracer = &self.hub.settings.tracer;
            if tracer.is_on() {
                tracer.deflated(self.shared.id, payload.len(), deflated.len());
            }
        }
        let payload = deflated.map_or(payload, Cow::Owned);
        if !self.on_owner_thread() {
            return batch::deliver(
                &self.hub,
                &self.shared,
                frame_of(opcode, payload, compressed),
            );
        }
        let sent = self.queue_as_owner(opcode, &payload, compressed)?;
        self.after_owner_send(sent)
    }

    /// The owner's queueing of one whole message, compressed already or
    /// not; the caller then does what [`Sent`] asks.
    fn queue_as_owner(&self, opcode: OpCode, payload: &[u8], compressed: bool) -> Result<Sent> {
        let mut header = FrameHeader::new(opcode, payload.len() as u64, None);
        if compressed {
            header.rsv = RSV1;
        }
        self.shared.outbound.send_from_owner(
            opcode,
            [header.encode().as_bytes(), payload],
            batch::is_corked(),
        )
    }

    /// [`send_frame`](Self::send_frame) for a connection with a compression
    /// context of its own: the message is compressed and queued under the
    /// context's lock, which only the owner waits for; another thread that
    /// finds it busy sends the message uncompressed (see `ConnDeflate`).
    /// Kept out of line, so that the common send's stack frame stays small.
    #[inline(never)]
    fn send_frame_with_context(&self, opcode: OpCode, payload: Cow<'_, [u8]>) -> Result<()> {
        let owner = self.on_owner_thread();
        let mut context = match self.shared.deflate.as_ref() {
            Some(d) if d.wants(opcode, payload.len()) => match owner {
                true => d.lock_context(),
                false => d.try_context(),
            },
            _ => None,
        };
        let deflated = context.as_mut().and_then(|c| c.compress(opcode, &payload));
        let compressed = deflated.is_some();
        if let Some(deflated) = &deflated {
            let tracer = &self.hub.settings.tracer;
            if tracer.is_on() {
                tracer.deflated(self.shared.id, payload.len(), deflated.len());
            }
        }
        let payload = deflated.map_or(payload, Cow::Owned);
        if !owner {
            let frame = frame_of(opcode, payload, compressed);
            return match batch::deliver(&self.hub, &self.shared, frame) {
                // In the context's history, it cannot be dropped: the
                // client's window would miss it.
                Err(Error::QueueFull {
                    disconnected: false,
                }) if compressed => {
                    self.shared.outbound.cut_slow_client();
                    Err(Error::QueueFull { disconnected: true })
                }
                other => other,
            };
        }
        // Queued under the context's lock, so that the history's order is
        // the wire's; what the queue then asks is done without it.
        let sent = self.queue_as_owner(opcode, &payload, compressed)?;
        drop(context);
        self.after_owner_send(sent)
    }

    /// Sends a message: text, binary, ping or pong; a
    /// [`Message::Close`] closes the connection as [`close`](Self::close) does.
    ///
    /// From the connection's own handler, the message is written at once
    /// (blocking while the client's socket is full, up to the write timeout),
    /// except while more of the client's input is already buffered: then
    /// the replies to that input are written together, with one system call,
    /// before the worker waits for more (call [`flush`](Self::flush) to write
    /// earlier). From any other thread, the message is written if the socket
    /// takes it at once and queued otherwise; a full queue applies the
    /// [`SlowClientPolicy`](super::SlowClientPolicy) and returns
    /// [`Error::QueueFull`]. Frames never interleave, and each sender's
    /// messages arrive in the order it sent them.
    pub fn send(&self, message: impl Into<Message>) -> Result<()> {
        match message.into() {
            Message::Text(text) => self.send_frame(OpCode::Text, Cow::Owned(text.into_bytes())),
            Message::Binary(data) => self.send_frame(OpCode::Binary, Cow::Owned(data)),
            Message::Ping(data) => self.send_frame(OpCode::Ping, Cow::Owned(data)),
            Message::Pong(data) => self.send_frame(OpCode::Pong, Cow::Owned(data)),
            Message::Close(Some(frame)) => self.close(frame.code, &frame.reason),
            Message::Close(None) => self.close(CloseCode::NORMAL, ""),
        }
    }

    /// Sends one part of a message, as one fragment (RFC 6455, section 5.4):
    /// a message can go out while it is still being made, and a large
    /// message received in parts can go back as it arrives.
    ///
    /// Only the connection's own handler sends parts (another thread gets an
    /// error). A message in parts starts with a part marked `first` and ends
    /// with one marked `last`; until then the handler sends no whole
    /// message, and messages from other threads wait, so that nothing comes
    /// between the fragments. Parts are written like the handler's other
    /// replies (see [`send`](Self::send)), except while the client is still
    /// sending a message that the handler passes on in parts: then they do
    /// not wait on the client's socket (a client may read only once it has
    /// sent everything), and what it does not take yet is written as it
    /// makes room; the part that ends the message waits as usual.
    ///
    /// ```
    /// use stdws::{MessagePart, Server};
    ///
    /// // Echo every message of 64 KiB or more while it arrives.
    /// let server = Server::builder()
    ///     .on_message(|conn, message| {
    ///         let _ = conn.send(message);
    ///     })
    ///     .on_message_part(64 * 1024, |conn, part: MessagePart| {
    ///         let _ = conn.send_part(part);
    ///     });
    /// # drop(server);
    /// ```
    pub fn send_part(&self, part: MessagePart) -> Result<()> {
        if !self.on_owner_thread() {
            return Err(Error::PartOutOfOrder(
                "parts are sent by the connection's own handler, on its worker thread",
            ));
        }
        let opcode = match (part.first, part.text) {
            (false, _) => OpCode::Continuation,
            (true, true) => OpCode::Text,
            (true, false) => OpCode::Binary,
        };
        // With a context of its own, the parts are compressed with it, and
        // each is queued under its lock (see ConnDeflate).
        let mut context = self.shared.deflate.as_ref().and_then(|d| d.lock_context());
        let frame = match &self.shared.deflate {
            Some(deflate) if deflate.keeps_context() => {
                let data = context
                    .as_mut()
                    .and_then(|c| c.compress_part(&part.data, part.first, part.last));
                match data {
                    Some(data) => compressed_fragment(opcode, data, part.first, part.last),
                    // Out of order (the queue refuses it) or a broken
                    // context: as it is.
                    None => Frame::fragment(opcode, part.data, part.last),
                }
            }
            // Parts of the inflated data: compressed as they come, RSV1 on
            // the first frame only (RFC 7692 section 6.1).
            Some(deflate) => {
                let data = deflate.compress_part(&part.data, part.first, part.last);
                compressed_fragment(opcode, data, part.first, part.last)
            }
            None => Frame::fragment(opcode, part.data, part.last),
        };
        let sent = self.shared.outbound.send_part_from_owner(
            frame,
            part.first,
            part.last,
            batch::is_corked(),
        )?;
        drop(context);
        self.after_owner_send(sent)
    }

    /// Writes now what this connection's handler has sent and the worker
    /// held back (see [`send`](Self::send)); from any other thread, does
    /// nothing, since those sends are never held back.
    pub fn flush(&self) -> Result<()> {
        if self.on_owner_thread() {
            batch::flush(&self.hub, &self.shared)?;
        }
        Ok(())
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> Result<()> {
        self.send_frame(OpCode::Text, Cow::Borrowed(text.as_bytes()))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<()> {
        self.send_frame(OpCode::Binary, Cow::Borrowed(data))
    }

    /// Sends a ping (at most 125 bytes of payload); the pong arrives at
    /// [`Handler::on_pong`](super::Handler::on_pong).
    pub fn ping(&self, payload: &[u8]) -> Result<()> {
        self.send_frame(OpCode::Ping, Cow::Borrowed(payload))
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes). Messages accepted before it are sent before it. The
    /// connection ends when the client answers, or after the close timeout.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<()> {
        if !code.is_sendable() {
            return Err(Error::InvalidCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(Error::ControlFrameTooLong(reason.len() + 2));
        }
        let frame = CloseFrame::new(code, reason);
        if self.hub.settings.tracer.is_on() {
            self.hub
                .settings
                .tracer
                .event(self.shared.id, &format!("closing with {frame}"));
        }
        if self.on_owner_thread() {
            match self.shared.outbound.close(&frame, Origin::Owner, None)? {
                Some(sent) => self.after_owner_send(sent),
                None => Ok(()),
            }
        } else {
            if let Some(sent) = self.shared.outbound.close(&frame, Origin::Other, None)? {
                batch::after_send(&self.hub, &self.shared, sent);
            }
            Ok(())
        }
    }

    /// Sends the named event `name` with `data` (JSON text, or `""`), as
    /// [`Events`](super::Events) reads them.
    pub fn emit(&self, name: &str, data: &str) -> Result<()> {
        self.send_text(&super::events::event(name, data))
    }

    /// Adds this client to `room` (nothing changes if it is in it already).
    /// Fails with [`Error::RoomRefused`] past the
    /// server's caps on rooms per client and on name length.
    pub fn join(&self, room: &str) -> Result<()> {
        self.hub
            .registry
            .join(self.shared.id, room, self.hub.settings.room_caps)
    }

    /// Takes this client out of `room` (a room it is not in is no error).
    /// Returns a `Result`, as [`join`](Self::join) does, so that code that
    /// moves a client between rooms reads the same both ways.
    pub fn leave(&self, room: &str) -> Result<()> {
        self.hub.registry.leave(self.shared.id, room);
        Ok(())
    }

    /// The rooms this client is in.
    pub fn rooms(&self) -> Vec<String> {
        self.hub.registry.rooms_of(self.shared.id)
    }

    /// A summary of this client, as listed by
    /// [`ServerHandle::clients`](super::ServerHandle::clients).
    pub fn info(&self) -> ClientInfo {
        ClientInfo::of(&self.shared, &self.hub)
    }
}

/// What a broadcast did, client by client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastReport {
    /// Clients the message was written to or queued for.
    pub delivered: usize,
    /// Clients whose queue was full, so the message was dropped for them.
    pub dropped: Vec<u64>,
    /// Clients disconnected because their queue was full.
    pub disconnected: Vec<u64>,
    /// Clients that were closing or gone, and did not get the message.
    pub closed: Vec<u64>,
}

impl BroadcastReport {
    /// Whether every targeted client got the message.
    pub fn all_delivered(&self) -> bool {
        self.dropped.is_empty() && self.disconnected.is_empty() && self.closed.is_empty()
    }

    pub(crate) fn record(&mut self, id: u64, result: Result<()>) {
        match result {
            Ok(()) => self.delivered += 1,
            Err(Error::QueueFull { disconnected: true }) => self.disconnected.push(id),
            Err(Error::QueueFull {
                disconnected: false,
            }) => self.dropped.push(id),
            Err(_) => self.closed.push(id),
        }
    }
}

/// A summary of one connected client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The connection's id.
    pub id: u64,
    /// The TCP peer's address (the proxy's, behind one).
    pub peer: SocketAddr,
    /// The client's address (see [`Connection::client_addr`]).
    pub client: SocketAddr,
    /// The path it connected to.
    pub path: String,
    /// The agreed subprotocol.
    pub subprotocol: Option<String>,
    /// The rooms it is in.
    pub rooms: Vec<String>,
    /// Bytes waiting in its outbound queue.
    pub queued_bytes: usize,
    /// How long it has been connected.
    pub connected_for: std::time::Duration,
}

impl ClientInfo {
    pub(crate) fn of(shared: &ConnShared, hub: &Hub) -> ClientInfo {
        ClientInfo {
            id: shared.id,
            peer: shared.peer,
            client: shared.client,
            path: shared.request.path().to_owned(),
            subprotocol: shared.subprotocol.clone(),
            rooms: hub.registry.rooms_of(shared.id),
            queued_bytes: shared.outbound.queued_bytes(),
            connected_for: shared.connected_at.elapsed(),
        }
    }
}

/// A fragment of a compressed message: RSV1 on the first frame only (RFC
/// 7692 section 6.1).
fn compressed_fragment(opcode: OpCode, data: Vec<u8>, first: bool, last: bool) -> Frame {
    let frame = Frame::fragment(opcode, data, last);
    if first { frame.compressed() } else { frame }
}

/// A whole message as one frame for the queue, with RSV1 when its payload
/// is compressed.
fn frame_of(opcode: OpCode, payload: Cow<'_, [u8]>, compressed: bool) -> Frame {
    let frame = Frame::new(opcode, payload.into_owned());
    if compressed {
        frame.compressed()
    } else {
        frame
    }
}
