//! One client's membership of one namespace: the [`Socket`] that handlers
//! and the application use to emit, answer, join rooms and disconnect, and
//! the [`Broadcast`] operator that sends to many sockets at once
//! (socket.io-protocol, "Exchange protocol": EVENT, ACK, DISCONNECT).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::engine::EngineConn;
use super::engineio::{self, Transport};
use super::packet::{Data, Namespace as NamespaceName, Packet};
use super::server::{Shared, SocketIo};
use super::session::SendError;
use crate::json::Value;
use crate::protocol::http::Request;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a socket left its namespace; the strings are Socket.IO's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client left the namespace (`socket.disconnect()` on its side).
    ClientNamespaceDisconnect,
    /// The server removed it ([`Socket::disconnect`]).
    ServerNamespaceDisconnect,
    /// The client closed the session, or its connection was lost.
    TransportClose,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent a packet that is not Socket.IO or Engine.IO.
    ParseError,
    /// The server closed the whole session.
    ForcedClose,
}

impl DisconnectReason {
    /// Socket.IO's name for the reason (`"transport close"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an acknowledgement did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckError {
    /// Not within the timeout given to [`Socket::emit_with_ack`].
    Timeout,
    /// The socket left before answering.
    Disconnected,
    /// The event could not be sent (the session is closed or its buffer full).
    NotSent,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "the client did not acknowledge in time",
            AckError::Disconnected => "the client left before acknowledging",
            AckError::NotSent => "the event could not be sent",
        })
    }
}

impl std::error::Error for AckError {}

/// An acknowledgement that did not come, as the crate's error (for `?` in
/// code that returns [`crate::Result`]).
impl From<AckError> for crate::Error {
    fn from(error: AckError) -> crate::Error {
        match error {
            AckError::Timeout => crate::Error::AckTimeout,
            AckError::Disconnected => crate::Error::ConnectionClosed,
            AckError::NotSent => crate::Error::QueueFull {
                disconnected: false,
            },
        }
    }
}

type AckCallback = Box<dyn FnOnce(Result<Vec<Data>, AckError>) + Send>;

#[derive(Default)]
struct Acks {
    next_id: u64,
    waiting: HashMap<u64, (Instant, AckCallback)>,
}

pub(crate) struct Inner {
    id: String,
    namespace: NamespaceName,
    pub(crate) conn: Arc<EngineConn>,
    pub(crate) shared: Arc<Shared>,
    auth: Value,
    /// The private id of the session, for connection state recovery.
    pid: Option<String>,
    recovered: bool,
    data: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
    acks: Mutex<Acks>,
    /// Output held while the connect handler runs, sent after the CONNECT.
    held: Mutex<Option<Vec<Vec<engineio::Packet>>>>,
}

/// A client connected to one namespace. Cheap to clone; usable from any
/// thread.
///
/// | JavaScript (`socket.io`)           | Python (`python-socketio`)        | stdws |
/// |------------------------------------|-----------------------------------|-------|
/// | `socket.id`                        | `sid`                             | [`id`](Self::id) |
/// | `socket.handshake`                 | `environ`                         | [`handshake`](Self::handshake), [`auth`](Self::auth) |
/// | `socket.emit("ev", a, b)`          | `sio.emit("ev", (a, b), to=sid)`  | [`emit`](Self::emit)`("ev", [a, b])` |
/// | `socket.timeout(ms).emit("ev", a, (err, r) => ..)` | `sio.call("ev", a, to=sid, timeout=s)` | [`emit_with_ack`](Self::emit_with_ack) |
/// | `socket.join(r)`, `socket.leave(r)`, `socket.rooms` | `sio.enter_room(sid, r)`, `leave_room`, `rooms(sid)` | [`join`](Self::join), [`leave`](Self::leave), [`rooms`](Self::rooms) |
/// | `socket.to(r).emit(..)`            | `sio.emit(.., room=r, skip_sid=sid)` | [`to`](Self::to)`(r).emit(..)` |
/// | `socket.broadcast.emit(..)`        | `sio.emit(.., skip_sid=sid)`      | [`broadcast`](Self::broadcast)`().emit(..)` |
/// | `socket.data`                      | `sio.save_session(sid, ..)`       | [`set_data`](Self::set_data), [`data`](Self::data) |
/// | `socket.disconnect()`              | `sio.disconnect(sid)`             | [`disconnect`](Self::disconnect) |
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("namespace", &self.inner.namespace.as_str())
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(
        id: String,
        namespace: NamespaceName,
        conn: Arc<EngineConn>,
        shared: Arc<Shared>,
        auth: Value,
        pid: Option<String>,
        recovered: bool,
    ) -> Socket {
        Socket {
            inner: Arc::new(Inner {
                id,
                namespace,
                conn,
                shared,
                auth,
                pid,
                recovered,
                data: Mutex::new(None),
                acks: Mutex::new(Acks::default()),
                held: Mutex::new(Some(Vec::new())),
            }),
        }
    }

    /// The socket's id, distinct from the Engine.IO session id (Socket.IO v5).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The namespace, such as `/` or `/admin`.
    pub fn namespace(&self) -> &str {
        self.inner.namespace.as_str()
    }

    /// The HTTP request that opened the session: headers, query, cookies.
    pub fn handshake(&self) -> &Request {
        self.inner.conn.request()
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.conn.peer_addr()
    }

    /// The CONNECT packet's payload (`{}` if it had none).
    pub fn auth(&self) -> &Value {
        &self.inner.auth
    }

    /// Whether this socket was restored by connection state recovery: its
    /// id, rooms and data are those it had before its connection was lost,
    /// and the broadcasts it missed were sent again.
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    pub(crate) fn pid(&self) -> Option<&str> {
        self.inner.pid.as_deref()
    }

    pub(crate) fn raw_data(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        lock(&self.inner.data).clone()
    }

    pub(crate) fn set_raw_data(&self, data: Option<Arc<dyn Any + Send + Sync>>) {
        *lock(&self.inner.data) = data;
    }

    /// The Engine.IO session id.
    pub fn engine_sid(&self) -> &str {
        self.inner.conn.sid()
    }

    /// The transport in use now.
    pub fn transport(&self) -> Transport {
        self.inner.conn.transport()
    }

    /// Whether the socket is still in its namespace.
    pub fn is_connected(&self) -> bool {
        self.inner
            .shared
            .socket(self.namespace(), self.id())
            .is_some()
    }

    /// The server, to reach other sockets and namespaces.
    pub fn server(&self) -> SocketIo {
        SocketIo::from_shared(Arc::clone(&self.inner.shared))
    }

    /// Keeps `value` with the socket (replacing what was there), for later
    /// handlers to find with [`data`](Self::data).
    pub fn set_data<T: Any + Send + Sync>(&self, value: T) {
        *lock(&self.inner.data) = Some(Arc::new(value));
    }

    /// What [`set_data`](Self::set_data) kept, if it is a `T`.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let data = lock(&self.inner.data).clone()?;
        data.downcast::<T>().ok()
    }

    /// Sends the event `name` with `args` to this client. Fails with
    /// [`Error::ConnectionClosed`](crate::Error::ConnectionClosed) once the
    /// session has ended, and with
    /// [`Error::QueueFull`](crate::Error::QueueFull) when the client has
    /// not taken what was sent before.
    pub fn emit(&self, name: &str, args: impl IntoIterator<Item = Data>) -> crate::Result<()> {
        self.send_packet(&Packet::Event {
            namespace: self.inner.namespace.clone(),
            name: name.to_owned(),
            args: args.into_iter().collect(),
            id: None,
        })
        .map_err(crate::Error::from)
    }

    /// Sends the event `name` with `args` and asks for an answer:
    /// `callback` gets the client's ack arguments, or an [`AckError`] if
    /// they do not come within `timeout` or the socket leaves first. It
    /// runs on the thread that received the answer, or on the server's
    /// housekeeping thread for a timeout.
    pub fn emit_with_ack(
        &self,
        name: &str,
        args: impl IntoIterator<Item = Data>,
        timeout: Duration,
        callback: impl FnOnce(Result<Vec<Data>, AckError>) + Send + 'static,
    ) {
        let deadline = Instant::now() + timeout;
        let id = {
            let mut acks = lock(&self.inner.acks);
            let id = acks.next_id;
            acks.next_id = acks.next_id.wrapping_add(1);
            acks.waiting.insert(id, (deadline, Box::new(callback)));
            id
        };
        self.inner.shared.wake_housekeeper();
        let sent = self.send_packet(&Packet::Event {
            namespace: self.inner.namespace.clone(),
            name: name.to_owned(),
            args: args.into_iter().collect(),
            id: Some(id),
        });
        if sent.is_err()
            && let Some((_, callback)) = lock(&self.inner.acks).waiting.remove(&id)
        {
            callback(Err(AckError::NotSent));
        }
    }

    /// Puts the socket in `room` of its namespace.
    pub fn join(&self, room: &str) {
        self.inner
            .shared
            .with_members(self.namespace(), |m| m.join(self.id(), room));
    }

    /// Takes the socket out of `room`.
    pub fn leave(&self, room: &str) {
        self.inner
            .shared
            .with_members(self.namespace(), |m| m.leave(self.id(), room));
    }

    /// The rooms the socket is in (its own id's included), sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.inner
            .shared
            .with_members(self.namespace(), |m| m.rooms_of(self.id()))
            .unwrap_or_default()
    }

    /// The sockets of `room` in this namespace, this one excepted.
    pub fn to(&self, room: &str) -> Broadcast {
        self.broadcast().to(room)
    }

    /// Every socket of this namespace but this one.
    pub fn broadcast(&self) -> Broadcast {
        Broadcast::new(Arc::clone(&self.inner.shared), self.namespace()).except(self.id())
    }

    /// Removes the socket from its namespace: the client gets a
    /// DISCONNECT, and the namespace's disconnect handler runs with
    /// [`DisconnectReason::ServerNamespaceDisconnect`]. The session stays
    /// open for its other namespaces.
    pub fn disconnect(&self) {
        let _ = self.send_packet(&Packet::Disconnect {
            namespace: self.inner.namespace.clone(),
        });
        self.inner
            .shared
            .leave_namespace(self, DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Sends a packet to this client.
    pub(crate) fn send_packet(&self, packet: &Packet) -> Result<(), SendError> {
        self.send_encoded(packet.encode().into_engineio())
    }

    /// Sends an encoded packet (a broadcast encodes once for all).
    pub(crate) fn send_encoded(&self, packets: Vec<engineio::Packet>) -> Result<(), SendError> {
        {
            let mut held = lock(&self.inner.held);
            if let Some(held) = held.as_mut() {
                held.push(packets);
                return Ok(());
            }
        }
        self.inner.conn.send(packets)
    }

    /// Sends the CONNECT answer ahead of what the connect handler emitted.
    pub(crate) fn send_connect(&self, connect: Vec<engineio::Packet>) {
        let _ = self.inner.conn.send(connect);
    }

    /// Whether the connect handler emitted anything (held still).
    pub(crate) fn has_held(&self) -> bool {
        lock(&self.inner.held)
            .as_ref()
            .is_some_and(|h| !h.is_empty())
    }

    /// Ends the hold: what was emitted meanwhile goes out, in order, and
    /// later emits go straight to the session.
    pub(crate) fn release(&self) {
        let mut held = lock(&self.inner.held);
        for packets in held.take().unwrap_or_default() {
            let _ = self.inner.conn.send(packets);
        }
    }

    /// The answer to the event with ack id `id`.
    pub(crate) fn answered(&self, id: u64, args: Vec<Data>) {
        let waiting = lock(&self.inner.acks).waiting.remove(&id);
        if let Some((_, callback)) = waiting {
            callback(Ok(args));
        }
    }

    /// Fails the acks past their deadline; returns the next deadline.
    pub(crate) fn expire_acks(&self, now: Instant) -> Option<Instant> {
        let expired: Vec<AckCallback> = {
            let mut acks = lock(&self.inner.acks);
            let ids: Vec<u64> = acks
                .waiting
                .iter()
                .filter(|(_, (deadline, _))| *deadline <= now)
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| acks.waiting.remove(id).map(|(_, cb)| cb))
                .collect()
        };
        for callback in expired {
            callback(Err(AckError::Timeout));
        }
        lock(&self.inner.acks)
            .waiting
            .values()
            .map(|(deadline, _)| *deadline)
            .min()
    }

    /// Fails every ack still waiting (the socket left).
    pub(crate) fn fail_acks(&self) {
        let waiting: Vec<AckCallback> = lock(&self.inner.acks)
            .waiting
            .drain()
            .map(|(_, (_, cb))| cb)
            .collect();
        for callback in waiting {
            callback(Err(AckError::Disconnected));
        }
    }
}

/// The answer to an event, if the client asked for one. Dropping it
/// without [`send`](Self::send) sends no answer.
#[derive(Debug)]
pub struct Ack {
    socket: Socket,
    id: Option<u64>,
}

impl Ack {
    pub(crate) fn new(socket: Socket, id: Option<u64>) -> Ack {
        Ack { socket, id }
    }

    /// Whether the client asked for an answer.
    pub fn wanted(&self) -> bool {
        self.id.is_some()
    }

    /// Answers with `args` (nothing is sent if no answer was asked for).
    pub fn send(self, args: impl IntoIterator<Item = Data>) {
        if let Some(id) = self.id {
            let _ = self.socket.send_packet(&Packet::Ack {
                namespace: self.socket.inner.namespace.clone(),
                args: args.into_iter().collect(),
                id,
            });
        }
    }
}

/// Sends to many sockets of one namespace: all of them, those in some
/// rooms, less some rooms or sockets. The packet is encoded once.
///
/// ```no_run
/// # fn f(io: stdws::socketio::SocketIo) {
/// use stdws::socketio::Data;
/// io.of("/").to("lobby").except("muted").emit("news", [Data::from("hello")]);
/// # }
/// ```
#[derive(Clone)]
pub struct Broadcast {
    shared: Arc<Shared>,
    namespace: String,
    rooms: Vec<String>,
    except: Vec<String>,
    local: bool,
}

impl fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("namespace", &self.namespace)
            .field("rooms", &self.rooms)
            .field("except", &self.except)
            .field("local", &self.local)
            .finish()
    }
}

impl Broadcast {
    pub(crate) fn new(shared: Arc<Shared>, namespace: &str) -> Broadcast {
        Broadcast {
            shared,
            namespace: namespace.to_owned(),
            rooms: Vec::new(),
            except: Vec::new(),
            local: false,
        }
    }

    /// A broadcast that other servers sent through Redis, for this one's
    /// sockets only.
    pub(crate) fn remote(
        shared: Arc<Shared>,
        namespace: &str,
        rooms: Vec<String>,
        except: Vec<String>,
    ) -> Broadcast {
        Broadcast {
            shared,
            namespace: namespace.to_owned(),
            rooms,
            except,
            local: true,
        }
    }

    /// Only the sockets of this server, not those of the other nodes of
    /// its Redis cluster (`io.local.emit(...)` in JavaScript).
    pub fn local(mut self) -> Broadcast {
        self.local = true;
        self
    }

    /// Narrows to the sockets in `room` (several calls: in any of them).
    pub fn to(mut self, room: &str) -> Broadcast {
        self.rooms.push(room.to_owned());
        self
    }

    /// Leaves out the sockets in `room` (a socket id is a room too).
    pub fn except(mut self, room: &str) -> Broadcast {
        self.except.push(room.to_owned());
        self
    }

    /// The sockets this would send to.
    pub fn sockets(&self) -> Vec<Socket> {
        self.shared
            .with_members(&self.namespace, |m| m.select(&self.rooms, &self.except))
            .unwrap_or_default()
    }

    /// Sends the event `name` with `args` to each socket, of this server
    /// and, if it has a [Redis backplane](crate::server::ServerBuilder::redis), of every node
    /// that shares it; returns how many sockets of this server it was given
    /// to. The packet is encoded once here and once on each other node.
    pub fn emit(&self, name: &str, args: impl IntoIterator<Item = Data>) -> usize {
        let args: Vec<Data> = args.into_iter().collect();
        if !self.local {
            self.shared
                .publish(&self.namespace, &self.rooms, &self.except, name, &args);
        }
        self.emit_here(name, args)
    }

    /// Sends to this server's sockets only.
    fn emit_here(&self, name: &str, mut args: Vec<Data>) -> usize {
        let Ok(namespace) = NamespaceName::new(&self.namespace) else {
            return 0;
        };
        // With recovery on, each broadcast carries its offset last, as from
        // the official server, and is logged for replay.
        let offset = self.shared.next_offset();
        if let Some(offset) = &offset {
            args.push(Data::from(offset.as_str()));
        }
        let packets = Packet::Event {
            namespace,
            name: name.to_owned(),
            args,
            id: None,
        }
        .encode()
        .into_engineio();
        if let Some(offset) = offset {
            self.shared.log_broadcast(
                offset,
                &self.namespace,
                &self.rooms,
                &self.except,
                packets.clone(),
            );
        }
        self.sockets()
            .iter()
            .filter(|s| s.send_encoded(packets.clone()).is_ok())
            .count()
    }

    /// Removes each socket from the namespace ([`Socket::disconnect`]).
    pub fn disconnect(&self) {
        for socket in self.sockets() {
            socket.disconnect();
        }
    }
}
