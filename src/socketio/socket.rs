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

use super::cluster::{Request as ClusterRequest, Select, Target};
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

/// Why a request to the other nodes of a cluster did not complete (see
/// [the cluster's rules](super::server#several-servers-as-one)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// Not every answer came in time: `answered` of `expected` (nodes, or
    /// for a broadcast with acks, the acks).
    Timeout {
        /// How many answered.
        answered: usize,
        /// How many were waited for.
        expected: usize,
    },
    /// The request could not be handed to Redis (the queue toward it is
    /// full, or the server has stopped).
    NotSent,
    /// Too many requests wait for answers already (1,024), or the answers
    /// hold more than 100,000 items.
    Overloaded,
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Timeout { answered, expected } => write!(
                f,
                "timeout reached: only {answered} answers received out of {expected}"
            ),
            ClusterError::NotSent => f.write_str("the request could not be handed to Redis"),
            ClusterError::Overloaded => {
                f.write_str("too many cluster requests at once, or answers over 100,000 items")
            }
        }
    }
}

impl std::error::Error for ClusterError {}

/// A cluster request that failed, as the crate's error.
impl From<ClusterError> for crate::Error {
    fn from(error: ClusterError) -> crate::Error {
        match error {
            ClusterError::Timeout { .. } => crate::Error::AckTimeout,
            ClusterError::NotSent => {
                crate::Error::SocketIo("the request could not be handed to Redis")
            }
            ClusterError::Overloaded => crate::Error::SocketIo("too many cluster requests at once"),
        }
    }
}

/// A socket of any node of the cluster, as
/// [`Broadcast::fetch_sockets`] gives it (`RemoteSocket` in JavaScript).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RemoteSocket {
    /// The socket's id.
    pub id: String,
    /// Its rooms, its own id's included.
    pub rooms: Vec<String>,
    /// Its handshake as Node writes it: `headers`, `address`, `url`,
    /// `query`, `auth`, `issued`, `xdomain`, `secure` (stdws's sockets
    /// have no `time` field).
    pub handshake: Data,
    /// Node's `socket.data`; `{}` for a stdws socket, whose data is a Rust
    /// value that does not cross nodes.
    pub data: Data,
    /// Whether the socket is on this node.
    pub local: bool,
}

impl RemoteSocket {
    /// The JSON of a fetch answer, as Node's adapter reads it.
    pub(crate) fn to_data(&self) -> Data {
        Data::object([
            ("id", Data::from(self.id.as_str())),
            ("handshake", self.handshake.clone()),
            (
                "rooms",
                Data::Array(self.rooms.iter().map(|r| Data::from(r.as_str())).collect()),
            ),
            ("data", self.data.clone()),
        ])
    }

    /// One socket of a fetch answer; `None` if it has no id.
    pub(crate) fn from_data(data: &Data) -> Option<RemoteSocket> {
        Some(RemoteSocket {
            id: data.get("id")?.as_str()?.to_owned(),
            rooms: data
                .get("rooms")
                .and_then(Data::as_array)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect(),
            handshake: data.get("handshake").cloned().unwrap_or_default(),
            data: data.get("data").cloned().unwrap_or_default(),
            local: false,
        })
    }
}

/// The answer to a server-side emit, if its sender asked for one (see
/// [`Namespace::on_server_side_emit`](super::Namespace::on_server_side_emit)).
/// Dropping it without [`send`](Self::send) sends no answer (the sender
/// then waits until its timeout).
pub struct ServerAck {
    pub(crate) answer: Option<Box<dyn FnOnce(Data) + Send>>,
}

impl fmt::Debug for ServerAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAck")
            .field("wanted", &self.wanted())
            .finish()
    }
}

impl ServerAck {
    /// Whether the sender asked for an answer.
    pub fn wanted(&self) -> bool {
        self.answer.is_some()
    }

    /// Answers with one value, as in JavaScript (`callback(value)`).
    pub fn send(self, value: Data) {
        if let Some(answer) = self.answer {
            answer(value);
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
    /// Restored from another node: that node's offset that stands for this
    /// one's log position then (see `recovery`).
    alias: Mutex<Option<(String, u64)>>,
    issued: std::time::SystemTime,
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
                alias: Mutex::new(None),
                issued: std::time::SystemTime::now(),
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
    /// and the broadcasts it missed were sent again. Restored from another
    /// node of a Redis cluster, it has no data (a Rust value stays on the
    /// node that set it).
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

    pub(crate) fn alias(&self) -> Option<(String, u64)> {
        lock(&self.inner.alias).clone()
    }

    pub(crate) fn set_alias(&self, alias: Option<(String, u64)>) {
        *lock(&self.inner.alias) = alias;
    }

    /// This socket as a fetch answer describes it.
    pub(crate) fn describe(&self) -> RemoteSocket {
        let request = self.handshake();
        let mut headers: Vec<(String, Data)> = Vec::new();
        for (name, value) in request.headers().iter() {
            let name = name.to_ascii_lowercase();
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, Data::String(joined))) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                _ => headers.push((name, Data::from(value))),
            }
        }
        let query = request
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), Data::from(v.into_owned())))
            .collect();
        let issued = self
            .inner
            .issued
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        RemoteSocket {
            id: self.id().to_owned(),
            rooms: self.rooms(),
            handshake: Data::object([
                ("headers", Data::Object(headers)),
                ("address", Data::from(self.peer_addr().ip().to_string())),
                ("xdomain", Data::Bool(request.origin().is_some())),
                ("secure", Data::Bool(false)),
                ("issued", Data::from(issued)),
                ("url", Data::from(request.target())),
                ("query", Data::Object(query)),
                ("auth", Data::from(self.auth().clone())),
            ]),
            data: Data::Object(Vec::new()),
            local: true,
        }
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
    /// The node a remote broadcast came from.
    origin: Option<String>,
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
            origin: None,
        }
    }

    /// A broadcast that other servers sent through Redis, for this one's
    /// sockets only.
    pub(crate) fn remote(
        shared: Arc<Shared>,
        namespace: &str,
        rooms: Vec<String>,
        except: Vec<String>,
        origin: &str,
    ) -> Broadcast {
        Broadcast {
            shared,
            namespace: namespace.to_owned(),
            rooms,
            except,
            local: true,
            origin: Some(origin.to_owned()),
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
        // Queued, logged and its receivers picked in one step, that a
        // restore does not split (see `recovery`, across nodes).
        let (packets, sockets) = {
            let _order = self.shared.order();
            if !self.local {
                self.shared
                    .publish(&self.namespace, &self.rooms, &self.except, name, &args);
            }
            match self.prepare(name, args) {
                Some(prepared) => prepared,
                None => return 0,
            }
        };
        sockets
            .iter()
            .filter(|s| s.send_encoded(packets.clone()).is_ok())
            .count()
    }

    /// Encodes and logs a broadcast for this server's sockets, and picks
    /// them.
    fn prepare(
        &self,
        name: &str,
        mut args: Vec<Data>,
    ) -> Option<(Vec<engineio::Packet>, Vec<Socket>)> {
        let namespace = NamespaceName::new(&self.namespace).ok()?;
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
                self.origin.as_deref(),
                &self.namespace,
                &self.rooms,
                &self.except,
                packets.clone(),
            );
        }
        Some((packets, self.sockets()))
    }

    fn select(&self) -> Select {
        Select {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
        }
    }

    /// Removes each socket from the namespace ([`Socket::disconnect`]), on
    /// every node (`io.in(room).disconnectSockets()`); `Err` only if the
    /// request could not be handed to Redis (this node's sockets are
    /// disconnected all the same).
    pub fn disconnect(&self) -> Result<(), ClusterError> {
        for socket in self.sockets() {
            socket.disconnect();
        }
        if self.local {
            return Ok(());
        }
        self.shared.tell(
            &self.namespace,
            ClusterRequest::Disconnect {
                target: Target::Select(self.select()),
                close: false,
            },
        )
    }

    /// Puts each socket in `room`, on every node (`io.in(..).socketsJoin(room)`).
    /// No node answers: `Err` only if the request could not be handed to
    /// Redis (this node's sockets have joined all the same).
    pub fn sockets_join(&self, room: &str) -> Result<(), ClusterError> {
        for socket in self.sockets() {
            socket.join(room);
        }
        if self.local {
            return Ok(());
        }
        self.shared.tell(
            &self.namespace,
            ClusterRequest::Join {
                target: Target::Select(self.select()),
                rooms: vec![room.to_owned()],
            },
        )
    }

    /// Takes each socket out of `room`, on every node
    /// (`io.in(..).socketsLeave(room)`); as [`sockets_join`](Self::sockets_join).
    pub fn sockets_leave(&self, room: &str) -> Result<(), ClusterError> {
        for socket in self.sockets() {
            socket.leave(room);
        }
        if self.local {
            return Ok(());
        }
        self.shared.tell(
            &self.namespace,
            ClusterRequest::Leave {
                target: Target::Select(self.select()),
                rooms: vec![room.to_owned()],
            },
        )
    }

    /// The sockets this would send to, on every node
    /// (`io.in(..).fetchSockets()`): `callback` gets this node's, then each
    /// other node's as its answer came, or [`ClusterError::Timeout`] if
    /// not every node answered within `timeout`. It runs on the thread
    /// that heard the last answer (the Redis backplane's), on the server's
    /// housekeeping thread for a timeout, or here if no other node is
    /// asked: keep it short.
    pub fn fetch_sockets(
        &self,
        timeout: Duration,
        callback: impl FnOnce(Result<Vec<RemoteSocket>, ClusterError>) + Send + 'static,
    ) {
        let here: Vec<RemoteSocket> = self.sockets().iter().map(Socket::describe).collect();
        if self.local {
            return callback(Ok(here));
        }
        self.shared
            .fetch(&self.namespace, self.select(), here, timeout, callback);
    }

    /// Sends the event to each socket, on every node, asking each for an
    /// acknowledgement (`io.timeout(ms).emit(.., (err, answers) => ..)`):
    /// `callback` gets the first argument of each answer, in the order they
    /// came, or [`ClusterError::Timeout`] (what came is dropped) if not
    /// all came within `timeout`. It runs as
    /// [`fetch_sockets`](Self::fetch_sockets)'s does, or on the thread
    /// that received a client's answer.
    pub fn emit_with_ack(
        &self,
        name: &str,
        args: impl IntoIterator<Item = Data>,
        timeout: Duration,
        callback: impl FnOnce(Result<Vec<Data>, ClusterError>) + Send + 'static,
    ) {
        let args: Vec<Data> = args.into_iter().collect();
        self.shared.broadcast_with_ack(
            &self.namespace,
            self.select(),
            self.sockets(),
            !self.local,
            name,
            args,
            timeout,
            callback,
        );
    }
}
