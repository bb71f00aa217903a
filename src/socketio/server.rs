//! The Socket.IO v5 server: namespaces, sockets, events and
//! acknowledgements over the [Engine.IO server](super::engine)
//! (socket.io-protocol, "Exchange protocol", "Packet encoding").
//!
//! ```text
//!   Engine.IO message --> Decoder (per session, attachments reassembled)
//!        |-- CONNECT /nsp {auth} --> on_connect(socket, auth)
//!        |        Ok  --> 40/nsp,{"sid":..} then what it emitted; Err --> 44/nsp,{"message":..}
//!        |-- EVENT name args [id] --> the namespace's handler, with an Ack if id
//!        |-- ACK id args --> the callback of emit_with_ack
//!        |-- DISCONNECT /nsp --> on_disconnect(socket, "client namespace disconnect")
//!        '-- anything malformed --> the session is closed
//! ```
//!
//! | JavaScript (`socket.io`)            | Python (`python-socketio`)              | stdws |
//! |-------------------------------------|-----------------------------------------|-------|
//! | `new Server(httpServer, opts)`      | `socketio.Server(); socketio.WSGIApp(sio)` | [`SocketIo::builder()`]..[`build()`](SocketIoBuilder::build), [`mount`](SocketIo::mount) on a [`ServerBuilder`] |
//! | `io.of("/admin")`                   | `namespace="/admin"`                    | [`SocketIoBuilder::namespace`] with a [`Namespace`]; [`SocketIo::of`] |
//! | `io.emit("ev", a)`                  | `sio.emit("ev", a)`                     | [`SocketIo::emit`] |
//! | `io.to(room).emit(..)`              | `sio.emit(.., room=room)`               | [`SocketIo::to`]`(room).emit(..)` |
//! | `io.in(room).disconnectSockets()`   | `sio.close_room(room)`                  | [`SocketIo::to`]`(room).disconnect()` |
//! | `connectionStateRecovery: { maxDisconnectionDuration }`, `socket.recovered` | (none) | [`connection_state_recovery`](SocketIoBuilder::connection_state_recovery), [`Socket::recovered`] |
//! | `pingInterval`, `pingTimeout`, `maxHttpBufferSize`, `connectTimeout` | `ping_interval`, `ping_timeout`, `max_http_buffer_size` | [`ping_interval`](SocketIoBuilder::ping_interval), [`ping_timeout`](SocketIoBuilder::ping_timeout), [`max_payload`](SocketIoBuilder::max_payload), [`connect_timeout`](SocketIoBuilder::connect_timeout) |
//!
//! ```no_run
//! use stdws::socketio::{Data, Namespace, SocketIo};
//!
//! let io = SocketIo::builder()
//!     .namespace("/", Namespace::new()
//!         .on("chat", |socket, args, ack| {
//!             let _ = socket.broadcast().emit("chat", args); // to the others
//!             ack.send([Data::from(true)]);                  // delivered
//!         }))
//!     .build();
//! io.mount(stdws::Server::builder(), "/socket.io/")
//!     .bind("127.0.0.1:3000")?
//!     .run()?;
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! Rooms and sockets live in this server's own tables rather than in the
//! WebSocket server's registry, since a socket may be on long-polling, with
//! no WebSocket connection at all; output to a socket on the WebSocket
//! transport goes through that connection's outbound queue, and a
//! broadcast is encoded once for all its receivers.
//!
//! # Several servers as one
//!
//! Give the [`ServerBuilder`] a
//! [`redis`](ServerBuilder::redis) URL and every broadcast goes to the
//! sockets of every node on that Redis, in the wire format of
//! `@socket.io/redis-adapter`, so that Node servers with that adapter and
//! services with `@socket.io/redis-emitter` share the cluster:
//!
//! | JavaScript | stdws |
//! |------------|-------|
//! | `io.adapter(createAdapter(pub, sub))` | [`ServerBuilder::redis`]`(url)` on the builder the server is mounted on |
//! | `createAdapter(pub, sub, { key: "app" })` | [`SocketIoBuilder::redis_key`]`("app")` |
//! | `io.local.emit(..)` | [`SocketIo::of`]`("/").`[`local()`](Broadcast::local)`.emit(..)` |
//! | `await io.in(r).fetchSockets()` | [`SocketIo::to`]`(r).`[`fetch_sockets`](Broadcast::fetch_sockets)`(timeout, \|result\| ..)` |
//! | `io.in(r).socketsJoin(r2)`, `socketsLeave(r2)` | [`SocketIo::to`]`(r).`[`sockets_join`](Broadcast::sockets_join)`(r2)`, [`sockets_leave`](Broadcast::sockets_leave) |
//! | `io.in(r).disconnectSockets()` | [`SocketIo::to`]`(r).`[`disconnect`](Broadcast::disconnect)`()` |
//! | `io.serverSideEmit("ev", a)`, `io.on("ev", (a, cb) => ..)` | [`SocketIo::server_side_emit`], [`Namespace::on_server_side_emit`] |
//! | `await io.serverSideEmitWithAck("ev", a)` | [`SocketIo::server_side_emit_with_ack`] |
//! | `await io.timeout(ms).emitWithAck("ev", a)` | [`SocketIo::of`]`("/").`[`emit_with_ack`](Broadcast::emit_with_ack)`("ev", [a], timeout, \|result\| ..)` |
//! | `io.of("/").adapter.serverCount()` | [`SocketIo::server_count`] |
//!
//! Each node delivers to its own sockets at once and publishes once; the
//! others decode and encode it once each. Broadcasts of one node keep
//! their order on every node; two nodes' broadcasts may interleave
//! differently on different nodes, as with Node's adapter.
//!
//! ```no_run
//! use stdws::socketio::{Namespace, SocketIo};
//! let io = SocketIo::builder().namespace("/", Namespace::new()).build();
//! io.mount(stdws::Server::builder(), "/socket.io/")
//!     .redis("redis://127.0.0.1:6379")
//!     .bind("127.0.0.1:3000")?
//!     .spawn()?;
//! io.to("lobby").emit("news", []); // the lobby's sockets on every node
//! io.to("lobby").fetch_sockets(std::time::Duration::from_secs(5), |found| match found {
//!     Ok(sockets) => println!("{} in the lobby", sockets.len()),
//!     Err(e) => eprintln!("not every node answered: {e}"),
//! });
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! The rules of the requests between nodes (their format is
//! `@socket.io/redis-adapter`'s, described in `src/socketio/cluster.rs`):
//!
//! - **Who answers.** A request waits for the other nodes of its
//!   namespace: [`server_count`](SocketIo::server_count) less one, as Node's
//!   adapter counts them (`PUBSUB NUMSUB` of the request channel; stdws asks
//!   Redis each second, so a node that joined or left in the last second
//!   may be missed or waited for). Joins, leaves, disconnects and
//!   server-side emits without ack wait for nobody: each node applies them
//!   as it hears them, and `Err` only says the request could not be handed
//!   to Redis.
//! - **Timeouts.** Each request with answers has a timeout, after which
//!   its callback gets [`ClusterError::Timeout`] with how many answers
//!   came of how many were waited for (the answers are dropped, as Node's
//!   adapter drops them): a node that never answers (gone, a handler that
//!   does not call its ack, an older adapter) costs the caller that
//!   timeout, never more. Answers that come later are ignored.
//! - **Callbacks, not waits.** The callbacks run on the thread that heard
//!   the last answer (the backplane's subscriber, or a worker for a
//!   client's ack), on the server's housekeeping thread for a timeout, or
//!   at once if no node is asked; keep them short. An event handler may
//!   ask, and answer its client from the callback: a blocking wait there
//!   would hold the worker that reads that client's own ack.
//! - **Memory.** At most 1,024 requests wait at once
//!   ([`ClusterError::Overloaded`] past that), and one request's answers
//!   hold at most 100,000 items (sockets, acks); each message is bounded by
//!   the backplane's Redis reader (32 MiB) and the MessagePack depth limit.
//! - **What a socket of another node is.** [`RemoteSocket`]: its id,
//!   rooms, handshake (headers, address, url, query, auth, as Node writes
//!   them) and data; a stdws socket's data (a Rust value) does not cross,
//!   and is `{}` as Node's default.
//! - **Connection state recovery across nodes**: see
//!   [`connection_state_recovery`](SocketIoBuilder::connection_state_recovery).

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::adapter;
use super::cluster::{self, Message, Request, Select, Target};
use super::engine::{App, Core, EngineConn, Settings};
use super::engineio::{self, PayloadLimits};
use super::namespace::{Members, Namespace};
use super::packet::{self, Data, Decoder, Packet};
use super::recovery::{self, Recovery};
use super::session::{CloseReason, Config};
use super::socket::{
    Ack, Broadcast, ClusterError, DisconnectReason, RemoteSocket, ServerAck, Socket,
};
use crate::backplane::{Listener, Publisher};
use crate::json::Value;
use crate::server::ServerBuilder;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the Socket.IO layer keeps of one Engine.IO session.
struct ConnSio {
    decoder: Decoder,
    sockets: HashMap<String, Socket>,
    /// The session is being closed for a malformed packet.
    parse_error: bool,
}

/// The state of one Socket.IO server, shared by its sessions and handles.
pub(crate) struct Shared {
    namespaces: HashMap<String, Namespace>,
    members: Mutex<HashMap<String, Members>>,
    conns: Mutex<HashMap<String, Arc<Mutex<ConnSio>>>>,
    limits: packet::Limits,
    core: OnceLock<Weak<Core>>,
    /// Sockets whose connect handler's emits wait for their turn.
    releases: Mutex<Vec<(Instant, Socket)>>,
    recovery: Option<Mutex<Recovery>>,
    /// The Redis adapter's key (`socket.io`), this node's uid in its
    /// messages, and the backplane's publisher once the server runs.
    redis_key: String,
    uid: String,
    publisher: OnceLock<Publisher>,
    /// Held while a broadcast is queued, logged and its receivers picked,
    /// and while a socket is restored (see `recovery`, across nodes).
    order: Mutex<()>,
    /// Requests to the other nodes waiting for answers, by request id.
    waiting: Mutex<HashMap<String, Pending>>,
}

/// Answers a request with these fields besides its id.
type Answer<'a> = dyn Fn(Vec<(&str, Data)>) + 'a;

/// At most this many cluster requests wait at once.
const MAX_REQUESTS: usize = 1024;
/// At most this many items (sockets, answers, acks) in one request's
/// answers.
const MAX_ITEMS: usize = 100_000;
/// How long a node waits for the node that parked a session to hand it
/// over (connection state recovery across nodes).
const RECOVER_TIMEOUT: Duration = Duration::from_secs(2);
/// The acks of a broadcast with acks from a node that gave no timeout.
const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fetch,
    ServerSideEmit,
    Broadcast,
    Recover,
}

/// One request to the other nodes, as its answers come.
struct Pending {
    kind: Kind,
    /// The other nodes, whose answers are waited for.
    servers: usize,
    answered: usize,
    /// A broadcast with acks: the acks waited for, from every node.
    clients: usize,
    /// This node's sockets are counted in `clients`.
    counted: bool,
    items: Vec<Data>,
    overflow: bool,
    recovered: Option<Option<cluster::Recovered>>,
    marks: recovery::Marks,
    deadline: Instant,
    done: Option<Done>,
}

/// What a cluster request's caller is told: the answers, or why they did
/// not all come.
type Done = Box<dyn FnOnce(Result<Pending, ClusterError>) + Send>;

impl Pending {
    fn new(kind: Kind, servers: usize, deadline: Instant) -> Pending {
        Pending {
            kind,
            servers,
            answered: 0,
            clients: 0,
            counted: kind != Kind::Broadcast,
            items: Vec::new(),
            overflow: false,
            recovered: None,
            marks: recovery::Marks::default(),
            deadline,
            done: None,
        }
    }

    /// Tells the caller: the answers if they are all in, else why not.
    fn finish(mut self) {
        let Some(done) = self.done.take() else {
            return;
        };
        if self.overflow {
            return done(Err(ClusterError::Overloaded));
        }
        if !self.complete() {
            let (answered, expected) = match self.kind {
                Kind::Broadcast => (self.items.len(), self.clients),
                Kind::Recover => (0, 1),
                _ => (self.answered, self.servers),
            };
            return done(Err(ClusterError::Timeout { answered, expected }));
        }
        done(Ok(self))
    }

    fn complete(&self) -> bool {
        match self.kind {
            Kind::Fetch | Kind::ServerSideEmit => self.answered >= self.servers,
            Kind::Broadcast => {
                self.counted && self.answered >= self.servers && self.items.len() >= self.clients
            }
            Kind::Recover => self.recovered.is_some(),
        }
    }

    fn push(&mut self, item: Data) {
        if self.items.len() >= MAX_ITEMS {
            self.overflow = true;
        } else {
            self.items.push(item);
        }
    }
}

/// How long after the CONNECT answer what the connect handler emitted goes.
/// Clients that read the CONNECT and the next packet in one read may miss
/// the second (the official test suite's `waitFor` does, with `ws` 8.5); a
/// busy Node event loop can lag 10 ms, so the gap is wider than that. Only
/// the connect handler's own emits wait; everything after keeps its order
/// behind them.
const HELD_EMITS_DELAY: Duration = Duration::from_millis(30);

impl Shared {
    /// Hands a broadcast to the other nodes, if there is a backplane. The
    /// namespace must be one of this server's (a node listens to its own).
    pub(crate) fn publish(
        &self,
        namespace: &str,
        rooms: &[String],
        except: &[String],
        name: &str,
        args: &[Data],
    ) {
        let Some(publisher) = self.publisher.get() else {
            return;
        };
        if !self.namespaces.contains_key(namespace) {
            return;
        }
        let remote = adapter::Remote {
            uid: self.uid.clone(),
            namespace: namespace.to_owned(),
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            name: name.to_owned(),
            args: args.to_vec(),
        };
        publisher.publish(
            adapter::channel(&self.redis_key, namespace, rooms).into_bytes(),
            adapter::encode(&remote),
        );
    }

    pub(crate) fn with_members<R>(
        &self,
        namespace: &str,
        f: impl FnOnce(&mut Members) -> R,
    ) -> Option<R> {
        lock(&self.members).get_mut(namespace).map(f)
    }

    pub(crate) fn socket(&self, namespace: &str, id: &str) -> Option<Socket> {
        self.with_members(namespace, |m| m.sockets.get(id).cloned())
            .flatten()
    }

    /// An offset for the next broadcast, if recovery is on.
    pub(crate) fn next_offset(&self) -> Option<String> {
        self.recovery.as_ref().map(|r| lock(r).next_offset())
    }

    /// Logs a broadcast for recovery, from `origin` (`None`: this node).
    pub(crate) fn log_broadcast(
        &self,
        offset: String,
        origin: Option<&str>,
        namespace: &str,
        rooms: &[String],
        except: &[String],
        packets: Vec<engineio::Packet>,
    ) {
        if let Some(recovery) = &self.recovery {
            lock(recovery).log(offset, origin, namespace, rooms, except, packets);
        }
    }

    fn log_head(&self) -> u64 {
        self.recovery.as_ref().map_or(0, |r| lock(r).head())
    }

    /// The lock that keeps broadcasts and restores apart, if recovery is
    /// on (without it, nothing is logged and broadcasts run side by side).
    pub(crate) fn order(&self) -> Option<MutexGuard<'_, ()>> {
        self.recovery.as_ref().map(|_| lock(&self.order))
    }

    /// The nodes of `namespace`'s cluster, this one included, as Redis
    /// counted the subscribers of its request channel at most about a
    /// second ago (1 without a backplane).
    pub(crate) fn server_count(&self, namespace: &str) -> usize {
        let Some(publisher) = self.publisher.get() else {
            return 1;
        };
        publisher
            .subscribers(&cluster::request_channel(&self.redis_key, namespace))
            .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX).max(1))
    }

    /// The other nodes a request of `namespace` waits for.
    fn other_servers(&self, namespace: &str) -> usize {
        if self.publisher.get().is_none() || !self.namespaces.contains_key(namespace) {
            return 0;
        }
        self.server_count(namespace) - 1
    }

    fn publish_request(
        &self,
        namespace: &str,
        request_id: Option<String>,
        request: Request,
    ) -> Result<(), ClusterError> {
        let Some(publisher) = self.publisher.get() else {
            return Ok(());
        };
        if !self.namespaces.contains_key(namespace) {
            return Ok(());
        }
        let message = Message {
            uid: self.uid.clone(),
            request_id,
            request,
        };
        let published = publisher.publish(
            cluster::request_channel(&self.redis_key, namespace).into_bytes(),
            cluster::encode_request(&message, namespace),
        );
        if published {
            Ok(())
        } else {
            Err(ClusterError::NotSent)
        }
    }

    /// A request no node answers.
    pub(crate) fn tell(&self, namespace: &str, request: Request) -> Result<(), ClusterError> {
        self.publish_request(namespace, None, request)
    }

    fn respond(&self, namespace: &str, bytes: Vec<u8>) {
        if let Some(publisher) = self.publisher.get() {
            publisher.publish(
                cluster::response_channel(&self.redis_key, namespace).into_bytes(),
                bytes,
            );
        }
    }

    /// Registers a request that waits for answers until `timeout`; `done`
    /// gets them, or why they did not all come. `None` (and `done` told)
    /// if too many wait already.
    fn begin(&self, kind: Kind, servers: usize, timeout: Duration, done: Done) -> Option<String> {
        let mut waiting = lock(&self.waiting);
        if waiting.len() >= MAX_REQUESTS {
            drop(waiting);
            done(Err(ClusterError::Overloaded));
            return None;
        }
        let id = new_id();
        let mut pending = Pending::new(kind, servers, Instant::now() + timeout);
        pending.done = Some(done);
        waiting.insert(id.clone(), pending);
        drop(waiting);
        self.wake_housekeeper();
        Some(id)
    }

    /// Changes a waiting request; if that completes it, its callback runs
    /// (here, outside the lock).
    fn update(&self, id: &str, f: impl FnOnce(&mut Pending)) {
        let finished = {
            let mut waiting = lock(&self.waiting);
            match waiting.get_mut(id) {
                Some(pending) => {
                    f(pending);
                    if pending.complete() || pending.overflow {
                        waiting.remove(id)
                    } else {
                        None
                    }
                }
                None => None,
            }
        };
        if let Some(pending) = finished {
            pending.finish();
        }
    }

    /// Ends a request with `error` (it could not be sent).
    fn fail(&self, id: &str, error: ClusterError) {
        let removed = lock(&self.waiting).remove(id);
        if let Some(mut pending) = removed
            && let Some(done) = pending.done.take()
        {
            done(Err(error));
        }
    }

    /// Ends the requests past their deadline; returns the next deadline.
    fn expire_requests(&self, now: Instant) -> Option<Instant> {
        let expired: Vec<Pending> = {
            let mut waiting = lock(&self.waiting);
            let ids: Vec<String> = waiting
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| waiting.remove(id)).collect()
        };
        for pending in expired {
            pending.finish();
        }
        lock(&self.waiting).values().map(|p| p.deadline).min()
    }

    /// Publishes a registered request; a failure ends it.
    fn send_request(&self, namespace: &str, id: &str, request: Request) {
        if let Err(e) = self.publish_request(namespace, Some(id.to_owned()), request) {
            self.fail(id, e);
        }
    }

    /// The other nodes' sockets of `select` (`fetchSockets`), after `here`.
    pub(crate) fn fetch(
        &self,
        namespace: &str,
        select: Select,
        here: Vec<RemoteSocket>,
        timeout: Duration,
        done: impl FnOnce(Result<Vec<RemoteSocket>, ClusterError>) + Send + 'static,
    ) {
        let servers = self.other_servers(namespace);
        if servers == 0 {
            return done(Ok(here));
        }
        let done: Done = Box::new(move |answers| {
            done(answers.map(|p| {
                let mut found = here;
                found.extend(p.items.iter().filter_map(RemoteSocket::from_data));
                found
            }))
        });
        if let Some(id) = self.begin(Kind::Fetch, servers, timeout, done) {
            self.send_request(namespace, &id, Request::Fetch(select));
        }
    }

    fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        data: Vec<Data>,
        timeout: Duration,
        done: impl FnOnce(Result<Vec<Data>, ClusterError>) + Send + 'static,
    ) {
        let servers = self.other_servers(namespace);
        if servers == 0 {
            return done(Ok(Vec::new()));
        }
        let done: Done = Box::new(move |answers| done(answers.map(|p| p.items)));
        if let Some(id) = self.begin(Kind::ServerSideEmit, servers, timeout, done) {
            self.send_request(namespace, &id, Request::ServerSideEmit(data));
        }
    }

    /// A broadcast with acks: to `sockets` here and, if `cluster`, to
    /// `select` on every other node.
    #[allow(clippy::too_many_arguments)] // a Broadcast's parts, and the request's
    pub(crate) fn broadcast_with_ack(
        self: &Arc<Self>,
        namespace: &str,
        select: Select,
        sockets: Vec<Socket>,
        cluster: bool,
        name: &str,
        args: Vec<Data>,
        timeout: Duration,
        done: impl FnOnce(Result<Vec<Data>, ClusterError>) + Send + 'static,
    ) {
        let servers = if cluster {
            self.other_servers(namespace)
        } else {
            0
        };
        let done: Done = Box::new(move |answers| done(answers.map(|p| p.items)));
        let Some(id) = self.begin(Kind::Broadcast, servers, timeout, done) else {
            return;
        };
        if servers > 0 {
            let request = Request::Broadcast {
                name: name.to_owned(),
                args: args.clone(),
                select,
                timeout: Some(timeout),
            };
            if let Err(e) = self.publish_request(namespace, Some(id.clone()), request) {
                return self.fail(&id, e);
            }
        }
        let count = sockets.len();
        for socket in sockets {
            let shared = Arc::downgrade(self);
            let id = id.clone();
            socket.emit_with_ack(name, args.clone(), timeout, move |answer| {
                if let (Ok(args), Some(shared)) = (answer, shared.upgrade()) {
                    let first = args.into_iter().next().unwrap_or_default();
                    shared.update(&id, |p| p.push(first));
                }
            });
        }
        self.update(&id, |p| {
            p.clients += count;
            p.counted = true;
        });
    }

    /// Asks the node that parked session `pid` to hand it over, and waits
    /// for it; `None` if it does not within [`RECOVER_TIMEOUT`] or has
    /// none.
    fn ask_recover(
        &self,
        namespace: &str,
        pid: &str,
        offset: &str,
    ) -> Option<(cluster::Recovered, recovery::Marks)> {
        self.publisher.get()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let done: Done = Box::new(move |answers| {
            let _ = tx.send(answers);
        });
        let id = self.begin(Kind::Recover, 1, RECOVER_TIMEOUT, done)?;
        {
            let _order = self.order();
            let queued = self.log_head();
            self.update(&id, |p| p.marks.queued = queued);
            let request = Request::Recover {
                pid: pid.to_owned(),
                offset: offset.to_owned(),
            };
            self.send_request(namespace, &id, request);
        }
        // The housekeeper ends the request at its deadline; the margin is
        // for a housekeeper that is late.
        let pending = rx
            .recv_timeout(RECOVER_TIMEOUT + Duration::from_secs(1))
            .ok()?
            .ok()?;
        let marks = pending.marks;
        pending.recovered.flatten().map(|r| (r, marks))
    }

    /// Applies `f` to the sockets a join, leave or disconnect request names;
    /// one named by id is answered by the node that has it.
    fn on_sockets(
        &self,
        namespace: &str,
        target: &Target,
        answer: &Answer<'_>,
        f: impl Fn(&Socket),
    ) {
        match target {
            Target::Select(select) => {
                let sockets = self
                    .with_members(namespace, |m| m.select(&select.rooms, &select.except))
                    .unwrap_or_default();
                sockets.iter().for_each(f);
            }
            Target::Socket(sid) => {
                if let Some(socket) = self.socket(namespace, sid) {
                    f(&socket);
                    answer(Vec::new());
                }
            }
        }
    }

    /// Another node asks for session `pid`: hands it over if it is parked
    /// here (and forgets it), says so if this node gave the pid and has it
    /// no more; the answer is queued under the broadcasts' lock, so that
    /// each broadcast is either in it or published after it.
    fn hand_over(&self, namespace: &str, request_id: &str, pid: &str, offset: &str) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        let mine = pid.split_once('.').is_some_and(|(uid, _)| uid == self.uid);
        let _order = self.order();
        let mut recovery = lock(recovery);
        let held = recovery.holds(pid);
        let now = Instant::now();
        let answer = match recovery.restore(pid, offset, namespace, now) {
            Some(restored) => {
                recovery.handed_over(pid, now);
                let parked = &restored.parked;
                cluster::recovered(
                    request_id,
                    &self.uid,
                    Some((
                        &parked.id,
                        &parked.rooms,
                        &restored.missed,
                        &restored.last_offset,
                    )),
                )
            }
            None if recovery.was_handed_over(pid) && !held => return,
            None if mine || held => cluster::recovered(request_id, &self.uid, None),
            None => return,
        };
        drop(recovery);
        self.respond(namespace, answer);
    }

    /// An answer to a request of this node's; `true` if it was one.
    fn on_response(&self, payload: &[u8]) -> bool {
        let Some((id, response)) = cluster::decode_response(payload) else {
            return false;
        };
        if !lock(&self.waiting).contains_key(&id) {
            return false;
        }
        let head = self.log_head();
        let kind = cluster::number(response.get("type"));
        self.update(&id, |pending| match pending.kind {
            Kind::Fetch => {
                pending.answered += 1;
                for socket in response
                    .get("sockets")
                    .and_then(Data::as_array)
                    .unwrap_or_default()
                {
                    pending.push(socket.clone());
                }
            }
            Kind::ServerSideEmit => {
                if kind == Some(cluster::SERVER_SIDE_EMIT) {
                    pending.answered += 1;
                    pending.push(response.get("data").cloned().unwrap_or_default());
                }
            }
            Kind::Broadcast => match kind {
                Some(cluster::BROADCAST_CLIENT_COUNT) => {
                    pending.answered += 1;
                    let count = cluster::number(response.get("clientCount")).unwrap_or(0);
                    pending.clients = pending
                        .clients
                        .saturating_add(usize::try_from(count).unwrap_or(usize::MAX));
                    if pending.clients > MAX_ITEMS {
                        pending.overflow = true;
                    }
                }
                Some(cluster::BROADCAST_ACK) => {
                    pending.push(response.get("packet").cloned().unwrap_or_default());
                }
                _ => {}
            },
            Kind::Recover => {
                if let Some(recovered) = cluster::read_recovered(&response)
                    && !matches!(pending.recovered, Some(Some(_)))
                {
                    pending.marks.answered = head;
                    pending.recovered = Some(recovered);
                }
            }
        });
        true
    }

    /// A request from another node (or this one's, heard back); `true` if
    /// it was another node's.
    fn on_request(self: &Arc<Self>, namespace: &str, payload: &[u8]) -> bool {
        let Ok(message) = cluster::decode_request(payload) else {
            return false;
        };
        if message.uid == self.uid {
            if let (Request::Recover { .. }, Some(id)) = (&message.request, &message.request_id) {
                let head = self.log_head();
                self.update(id, |p| p.marks.heard = head);
            }
            return false;
        }
        let id = message.request_id;
        let answer = |fields: Vec<(&str, Data)>| {
            if let Some(id) = &id {
                let mut all = vec![("requestId", Data::from(id.as_str()))];
                all.extend(fields);
                self.respond(namespace, cluster::encode_json(&Data::object(all)));
            }
        };
        let selected = |select: &Select| {
            self.with_members(namespace, |m| m.select(&select.rooms, &select.except))
                .unwrap_or_default()
        };
        let strings = |items: Vec<String>| Data::Array(items.into_iter().map(Data::from).collect());
        match message.request {
            Request::Sockets { rooms } => {
                let ids = selected(&Select {
                    rooms,
                    except: Vec::new(),
                })
                .iter()
                .map(|s| s.id().to_owned())
                .collect();
                answer(vec![("sockets", strings(ids))]);
            }
            Request::AllRooms => {
                let rooms = self
                    .with_members(namespace, |m| m.room_names())
                    .unwrap_or_default();
                answer(vec![("rooms", strings(rooms))]);
            }
            Request::Join { target, rooms } => {
                self.on_sockets(namespace, &target, &answer, |s| {
                    for room in &rooms {
                        s.join(room);
                    }
                });
            }
            Request::Leave { target, rooms } => {
                self.on_sockets(namespace, &target, &answer, |s| {
                    for room in &rooms {
                        s.leave(room);
                    }
                });
            }
            Request::Disconnect { target, close } => {
                self.on_sockets(namespace, &target, &answer, |s| {
                    if close {
                        s.inner.conn.close();
                    } else {
                        s.disconnect();
                    }
                });
            }
            Request::Fetch(select) => {
                let sockets = selected(&select)
                    .iter()
                    .map(|s| s.describe().to_data())
                    .collect();
                answer(vec![("sockets", Data::Array(sockets))]);
            }
            Request::ServerSideEmit(data) => {
                let mut data = data.into_iter();
                let Some(name) = data.next().and_then(|n| n.as_str().map(str::to_owned)) else {
                    return true;
                };
                let handler = self
                    .namespaces
                    .get(namespace)
                    .and_then(|n| n.server_events.get(&name));
                if let Some(handler) = handler {
                    let respond_to = id.clone().map(|id| {
                        let shared = Arc::downgrade(self);
                        let namespace = namespace.to_owned();
                        Box::new(move |value: Data| {
                            if let Some(shared) = shared.upgrade() {
                                let response = Data::object([
                                    ("type", Data::from(cluster::SERVER_SIDE_EMIT)),
                                    ("requestId", Data::from(id)),
                                    ("data", value),
                                ]);
                                shared.respond(&namespace, cluster::encode_json(&response));
                            }
                        }) as Box<dyn FnOnce(Data) + Send>
                    });
                    let ack = ServerAck { answer: respond_to };
                    let args: Vec<Data> = data.collect();
                    let _ = catch_unwind(AssertUnwindSafe(|| handler(args, ack)));
                }
            }
            Request::Broadcast {
                name,
                args,
                select,
                timeout,
            } => {
                let Some(id) = id else {
                    return true;
                };
                let sockets = selected(&select);
                let count = Data::object([
                    ("type", Data::from(cluster::BROADCAST_CLIENT_COUNT)),
                    ("requestId", Data::from(id.as_str())),
                    ("clientCount", Data::from(sockets.len() as u64)),
                ]);
                self.respond(namespace, cluster::encode_json(&count));
                for socket in sockets {
                    let shared = Arc::downgrade(self);
                    let namespace = namespace.to_owned();
                    let id = id.clone();
                    let timeout = timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
                    socket.emit_with_ack(&name, args.clone(), timeout, move |answer| {
                        if let (Ok(args), Some(shared)) = (answer, shared.upgrade()) {
                            let response = Data::object([
                                ("type", Data::from(cluster::BROADCAST_ACK)),
                                ("requestId", Data::from(id)),
                                ("packet", args.into_iter().next().unwrap_or_default()),
                            ]);
                            shared.respond(&namespace, cluster::encode_msgpack(&response));
                        }
                    });
                }
            }
            Request::Recover { pid, offset } => {
                if let Some(id) = id {
                    self.hand_over(namespace, &id, &pid, &offset);
                }
            }
        }
        true
    }

    pub(crate) fn wake_housekeeper(&self) {
        if let Some(core) = self.core.get().and_then(Weak::upgrade) {
            core.wake();
        }
    }

    fn conn_sio(&self, sid: &str) -> Arc<Mutex<ConnSio>> {
        let mut conns = lock(&self.conns);
        Arc::clone(conns.entry(sid.to_owned()).or_insert_with(|| {
            Arc::new(Mutex::new(ConnSio {
                decoder: Decoder::new(self.limits),
                sockets: HashMap::new(),
                parse_error: false,
            }))
        }))
    }

    /// Takes a socket out of its namespace and runs the disconnect handler
    /// (once).
    pub(crate) fn leave_namespace(&self, socket: &Socket, reason: DisconnectReason) {
        let lost = matches!(
            reason,
            DisconnectReason::TransportClose | DisconnectReason::PingTimeout
        );
        if let (true, Some(recovery), Some(pid)) = (lost, &self.recovery, socket.pid()) {
            let rooms: Vec<String> = socket
                .rooms()
                .into_iter()
                .filter(|r| r != socket.id())
                .collect();
            lock(recovery).park(
                pid.to_owned(),
                socket.id().to_owned(),
                socket.namespace(),
                rooms,
                socket.raw_data(),
                socket.alias(),
                Instant::now(),
            );
        }
        let removed = self
            .with_members(socket.namespace(), |m| m.remove(socket.id()))
            .flatten();
        if let Some(conn) = lock(&self.conns).get(socket.engine_sid()) {
            lock(conn).sockets.remove(socket.namespace());
        }
        if removed.is_none() {
            return;
        }
        socket.fail_acks();
        if let Some(f) = self
            .namespaces
            .get(socket.namespace())
            .and_then(|n| n.on_disconnect.as_ref())
        {
            let _ = catch_unwind(AssertUnwindSafe(|| f(socket, &reason)));
        }
    }

    fn connect(
        self: &Arc<Self>,
        conn: &Arc<EngineConn>,
        cs: &Arc<Mutex<ConnSio>>,
        namespace: packet::Namespace,
        data: Option<Value>,
    ) {
        let refuse = |message: &str| {
            let packet = Packet::ConnectError {
                namespace: namespace.clone(),
                data: Value::object([("message", Value::from(message))]),
            };
            let _ = conn.send(packet.encode().into_engineio());
        };
        let Some(definition) = self.namespaces.get(namespace.as_str()) else {
            refuse("Invalid namespace");
            return;
        };
        if lock(cs).sockets.contains_key(namespace.as_str()) {
            // Already connected: the official server ignores it too.
            return;
        }
        let auth = data.unwrap_or_else(|| Value::Object(Vec::new()));
        let asked = match (&self.recovery, auth.get("pid"), auth.get("offset")) {
            (Some(_), Some(pid), Some(offset)) => match (pid.as_str(), offset.as_str()) {
                (Some(pid), Some(offset)) => Some((pid.to_owned(), offset.to_owned())),
                _ => None,
            },
            _ => None,
        };
        // A session another node parked: asked for before the lock below,
        // which that node's broadcasts need to be logged here meanwhile.
        let remote = asked.as_ref().and_then(|(pid, offset)| {
            let theirs = pid.split_once('.').is_some_and(|(uid, _)| uid != self.uid);
            let (here, handed) = self.recovery.as_ref().map_or((false, false), |r| {
                let r = lock(r);
                (r.holds(pid), r.was_handed_over(pid))
            });
            ((theirs || handed) && !here)
                .then(|| self.ask_recover(namespace.as_str(), pid, offset))
                .flatten()
        });
        let order = self.order();
        let restored = match (&self.recovery, &asked) {
            (Some(recovery), Some((pid, offset))) => {
                let mut recovery = lock(recovery);
                let head = recovery.head();
                match remote {
                    Some((r, marks)) => recovery
                        .replay_for(&r.uid, marks, namespace.as_str(), &r.id, &r.rooms)
                        .map(|(replay, last)| {
                            let mut missed = r.missed;
                            missed.extend(replay);
                            Restoring {
                                id: r.id,
                                rooms: r.rooms,
                                data: None,
                                missed,
                                alias: match last {
                                    Some(_) => None,
                                    None => Some((r.last_offset, head)),
                                },
                            }
                        }),
                    None => recovery
                        .restore(pid, offset, namespace.as_str(), Instant::now())
                        .map(|r| Restoring {
                            alias: r.missed.is_empty().then(|| (r.last_offset.clone(), head)),
                            id: r.parked.id,
                            rooms: r.parked.rooms,
                            data: r.parked.data,
                            missed: r.missed,
                        }),
                }
            }
            _ => None,
        };
        // A new pid names the node that gave it (see `recovery`, across
        // nodes); a restored socket keeps the client's.
        let pid = self.recovery.as_ref().map(|_| match (&restored, &asked) {
            (Some(_), Some((pid, _))) => pid.clone(),
            _ => format!("{}.{}", self.uid, new_id()),
        });
        let id = restored.as_ref().map_or_else(new_id, |r| r.id.clone());
        let socket = Socket::new(
            id,
            namespace.clone(),
            Arc::clone(conn),
            Arc::clone(self),
            auth,
            pid.clone(),
            restored.is_some(),
        );
        if let Some(restored) = &restored {
            socket.set_raw_data(restored.data.clone());
            socket.set_alias(restored.alias.clone());
            // The missed broadcasts go first, right after the CONNECT.
            for packets in &restored.missed {
                let _ = socket.send_encoded(packets.clone());
            }
        }
        // The socket is a member while its connect handler runs, so that it
        // can join rooms there; what it emits is held until the answer.
        {
            let mut members = lock(&self.members);
            let members = members.entry(namespace.as_str().to_owned()).or_default();
            members.insert(socket.clone());
            for room in restored.iter().flat_map(|r| &r.rooms) {
                members.join(socket.id(), room);
            }
        }
        drop(order);
        lock(cs)
            .sockets
            .insert(namespace.as_str().to_owned(), socket.clone());
        let verdict = match &definition.on_connect {
            Some(f) => catch_unwind(AssertUnwindSafe(|| f(&socket, socket.auth())))
                .unwrap_or_else(|_| Err("Server error".into())),
            None => Ok(()),
        };
        match verdict {
            Ok(()) => {
                conn.claim();
                let answer = Packet::Connect {
                    namespace,
                    data: Some(match &pid {
                        Some(pid) => Value::object([
                            ("sid", Value::from(socket.id())),
                            ("pid", Value::from(pid.as_str())),
                        ]),
                        None => Value::object([("sid", Value::from(socket.id()))]),
                    }),
                };
                socket.send_connect(answer.encode().into_engineio());
                if socket.has_held() {
                    // What the handler emitted follows in a later write, as
                    // from the official server, whose clients (and test
                    // suite) may take the CONNECT as its own read.
                    lock(&self.releases).push((Instant::now() + HELD_EMITS_DELAY, socket));
                    self.wake_housekeeper();
                } else {
                    socket.release();
                }
            }
            Err(message) => {
                self.with_members(namespace.as_str(), |m| m.remove(socket.id()));
                lock(cs).sockets.remove(namespace.as_str());
                refuse(&message);
            }
        }
    }

    fn dispatch(
        self: &Arc<Self>,
        conn: &Arc<EngineConn>,
        cs: &Arc<Mutex<ConnSio>>,
        packet: Packet,
    ) {
        let socket_of =
            |namespace: &packet::Namespace| lock(cs).sockets.get(namespace.as_str()).cloned();
        match packet {
            Packet::Connect { namespace, data } => self.connect(conn, cs, namespace, data),
            Packet::Disconnect { namespace } => {
                if let Some(socket) = socket_of(&namespace) {
                    self.leave_namespace(&socket, DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            Packet::Event {
                namespace,
                name,
                args,
                id,
            } => {
                let Some(socket) = socket_of(&namespace) else {
                    return;
                };
                let handler = self
                    .namespaces
                    .get(namespace.as_str())
                    .and_then(|n| n.events.get(&name));
                if let Some(handler) = handler {
                    let ack = Ack::new(socket.clone(), id);
                    let _ = catch_unwind(AssertUnwindSafe(|| handler(&socket, args, ack)));
                }
            }
            Packet::Ack {
                namespace,
                args,
                id,
            } => {
                if let Some(socket) = socket_of(&namespace) {
                    socket.answered(id, args);
                }
            }
            // Only a server sends CONNECT_ERROR.
            _ => conn.close(),
        }
    }
}

/// A socket being restored, from this node's parked sockets or another's.
struct Restoring {
    id: String,
    rooms: Vec<String>,
    data: Option<Arc<dyn std::any::Any + Send + Sync>>,
    missed: Vec<Vec<engineio::Packet>>,
    alias: Option<(String, u64)>,
}

/// The Engine.IO application of a Socket.IO server.
struct SioApp(Arc<Shared>);

impl App for SioApp {
    fn on_message(&self, conn: &Arc<EngineConn>, packet: engineio::Packet) {
        let shared = &self.0;
        if !conn.is_open() {
            return;
        }
        let cs = shared.conn_sio(conn.sid());
        let decoded = lock(&cs).decoder.decode(packet);
        match decoded {
            Ok(Some(packet)) => shared.dispatch(conn, &cs, packet),
            Ok(None) => {}
            Err(_) => {
                // "A malformed packet closes the connection."
                {
                    let mut cs = lock(&cs);
                    cs.decoder = Decoder::new(shared.limits);
                    cs.parse_error = true;
                }
                conn.close();
            }
        }
    }

    fn on_close(&self, conn: &Arc<EngineConn>, reason: &CloseReason) {
        let shared = &self.0;
        let Some(cs) = lock(&shared.conns).remove(conn.sid()) else {
            return;
        };
        let reason = match reason {
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ClientClose | CloseReason::TransportClose => {
                DisconnectReason::TransportClose
            }
            CloseReason::ProtocolError(_) => DisconnectReason::ParseError,
            _ if lock(&cs).parse_error => DisconnectReason::ParseError,
            _ => DisconnectReason::ForcedClose,
        };
        let sockets: Vec<Socket> = lock(&cs).sockets.drain().map(|(_, s)| s).collect();
        for socket in sockets {
            shared.leave_namespace(&socket, reason.clone());
        }
    }

    fn tick(&self, now: Instant) -> Option<Instant> {
        let due: Vec<Socket> = {
            let mut releases = lock(&self.0.releases);
            let (due, waiting): (Vec<_>, Vec<_>) =
                releases.drain(..).partition(|(at, _)| *at <= now);
            *releases = waiting;
            due.into_iter().map(|(_, s)| s).collect()
        };
        for socket in due {
            socket.release();
        }
        let next_release = lock(&self.0.releases).iter().map(|(at, _)| *at).min();
        let next_expiry = self.0.recovery.as_ref().and_then(|r| lock(r).expire(now));
        let next_request = self.0.expire_requests(now);
        let sockets: Vec<Socket> = lock(&self.0.members)
            .values()
            .flat_map(|m| m.sockets.values().cloned().collect::<Vec<_>>())
            .collect();
        sockets
            .iter()
            .filter_map(|s| s.expire_acks(now))
            .chain(next_release)
            .chain(next_expiry)
            .chain(next_request)
            .min()
    }
}

/// The Socket.IO side of a server's Redis backplane: its namespaces'
/// channels in the Redis adapter's format (see [`adapter`]).
struct RedisAdapter {
    shared: Arc<Shared>,
    /// Only the first mount of a server listens (a server mounted on two
    /// paths would deliver each broadcast twice).
    primary: std::sync::atomic::AtomicBool,
}

impl Listener for RedisAdapter {
    fn patterns(&self) -> Vec<String> {
        let mut names: Vec<&String> = self.shared.namespaces.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|n| adapter::pattern(&self.shared.redis_key, n))
            .collect()
    }

    fn channels(&self) -> Vec<String> {
        let shared = &self.shared;
        let mut names: Vec<&String> = shared.namespaces.keys().collect();
        names.sort();
        names
            .into_iter()
            .flat_map(|n| {
                [
                    cluster::request_channel(&shared.redis_key, n),
                    cluster::response_channel(&shared.redis_key, n),
                    cluster::specific_response_channel(&shared.redis_key, n, &shared.uid),
                ]
            })
            .collect()
    }

    fn attach(&self, publisher: Publisher) {
        let first = self.shared.publisher.set(publisher).is_ok();
        self.primary
            .store(first, std::sync::atomic::Ordering::Relaxed);
    }

    fn message(&self, channel: &[u8], payload: &[u8]) -> bool {
        if !self.primary.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let shared = &self.shared;
        let key = &shared.redis_key;
        // Requests and answers are no deliveries: not counted as received.
        if let Ok(channel) = std::str::from_utf8(channel)
            && (channel.starts_with(&format!("{key}-request#"))
                || channel.starts_with(&format!("{key}-response#")))
        {
            for namespace in shared.namespaces.keys() {
                if channel == cluster::request_channel(key, namespace) {
                    shared.on_request(namespace, payload);
                    return false;
                }
                if channel == cluster::response_channel(key, namespace)
                    || channel == cluster::specific_response_channel(key, namespace, &shared.uid)
                {
                    shared.on_response(payload);
                    return false;
                }
            }
            return false;
        }
        let Ok(remote) = adapter::decode(payload) else {
            return false; // a request, or another application's message
        };
        let shared = &self.shared;
        if remote.uid == shared.uid || !shared.namespaces.contains_key(&remote.namespace) {
            return false; // ours, delivered when it was sent; or not our namespace
        }
        Broadcast::remote(
            Arc::clone(shared),
            &remote.namespace,
            remote.rooms,
            remote.except,
            &remote.uid,
        )
        .emit(&remote.name, remote.args);
        true
    }
}

/// A socket id: 15 random bytes in URL-safe base64.
fn new_id() -> String {
    let mut bytes = [0u8; 15];
    let _ = crate::random::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A Socket.IO server: mount it on a stdws [`ServerBuilder`], and use it
/// from any thread to reach its sockets. Cheap to clone. See the
/// [module docs](self).
#[derive(Clone)]
pub struct SocketIo {
    shared: Arc<Shared>,
    core: Option<Arc<Core>>,
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut namespaces: Vec<&String> = self.shared.namespaces.keys().collect();
        namespaces.sort();
        f.debug_struct("SocketIo")
            .field("namespaces", &namespaces)
            .finish()
    }
}

impl SocketIo {
    /// A builder with the official server's defaults and no namespace.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder::default()
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> SocketIo {
        let core = shared.core.get().and_then(Weak::upgrade);
        SocketIo { shared, core }
    }

    /// Puts the server on `path` (the clients' default is `/socket.io/`)
    /// of `builder`: WebSocket and long-polling both. If the server has a
    /// [Redis backplane](ServerBuilder::redis), broadcasts go through it to
    /// every node, in the format of Socket.IO's Redis adapter (see
    /// the [module docs](super)).
    pub fn mount(&self, builder: ServerBuilder, path: &str) -> ServerBuilder {
        match &self.core {
            Some(core) => super::engine::mount(
                core,
                builder.backplane_listener(Arc::new(RedisAdapter {
                    shared: Arc::clone(&self.shared),
                    primary: std::sync::atomic::AtomicBool::new(false),
                })),
                path,
            ),
            None => builder,
        }
    }

    /// Every socket of `namespace`, to emit to or narrow down.
    pub fn of(&self, namespace: &str) -> Broadcast {
        Broadcast::new(Arc::clone(&self.shared), namespace)
    }

    /// The sockets of `room` in the main namespace `/`.
    pub fn to(&self, room: &str) -> Broadcast {
        self.of("/").to(room)
    }

    /// Sends the event to every socket of the main namespace `/`; returns
    /// how many it was given to.
    pub fn emit(&self, name: &str, args: impl IntoIterator<Item = Data>) -> usize {
        self.of("/").emit(name, args)
    }

    /// The socket with this id in `namespace`, if it is connected.
    pub fn socket(&self, namespace: &str, id: &str) -> Option<Socket> {
        self.shared.socket(namespace, id)
    }

    /// Runs the handlers that the other nodes of the cluster have for the
    /// event `name` in `namespace`
    /// ([`Namespace::on_server_side_emit`]; `io.serverSideEmit(..)` in
    /// JavaScript), not this node's. `Err` only if it could not be handed
    /// to Redis; without a backplane, nothing happens.
    pub fn server_side_emit(
        &self,
        namespace: &str,
        name: &str,
        args: impl IntoIterator<Item = Data>,
    ) -> Result<(), ClusterError> {
        let mut data = vec![Data::from(name)];
        data.extend(args);
        self.shared.tell(namespace, Request::ServerSideEmit(data))
    }

    /// As [`server_side_emit`](Self::server_side_emit), and asks each other
    /// node for one answer (`io.serverSideEmitWithAck(..)`): `callback`
    /// gets them, in the order they came, or
    /// [`ClusterError::Timeout`] if not all came within `timeout` (a node
    /// without a handler for `name`, or whose handler does not answer).
    /// It runs on the Redis backplane's thread (or the server's
    /// housekeeping thread, for a timeout): keep it short.
    pub fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        name: &str,
        args: impl IntoIterator<Item = Data>,
        timeout: Duration,
        callback: impl FnOnce(Result<Vec<Data>, ClusterError>) + Send + 'static,
    ) {
        let mut data = vec![Data::from(name)];
        data.extend(args);
        self.shared
            .server_side_emit_with_ack(namespace, data, timeout, callback);
    }

    /// How many nodes serve `namespace` in the cluster, this one included
    /// (`io.of(nsp).adapter.serverCount()`): the subscribers of its
    /// request channel, as Redis counted them at most about a second ago;
    /// 1 without a backplane. The cluster-wide requests wait for this many
    /// less one answers.
    pub fn server_count(&self, namespace: &str) -> usize {
        self.shared.server_count(namespace)
    }

    /// How many Engine.IO sessions are open.
    pub fn session_count(&self) -> usize {
        self.core.as_ref().map_or(0, |c| c.sessions().len())
    }
}

/// Settings and namespaces of a [`SocketIo`] server.
#[derive(Debug, Clone)]
pub struct SocketIoBuilder {
    config: Config,
    connect_timeout: Duration,
    limits: packet::Limits,
    namespaces: HashMap<String, Namespace>,
    recovery: Option<recovery::Settings>,
    redis_key: String,
}

impl Default for SocketIoBuilder {
    fn default() -> Self {
        SocketIoBuilder {
            config: Config::default(),
            connect_timeout: Duration::from_secs(45),
            limits: packet::Limits::default(),
            namespaces: HashMap::new(),
            recovery: None,
            redis_key: "socket.io".to_owned(),
        }
    }
}

impl SocketIoBuilder {
    /// Adds (or replaces) the namespace `name` (`/`, `/admin`, ...).
    /// Clients asking for any other get `CONNECT_ERROR {"message":"Invalid namespace"}`.
    pub fn namespace(mut self, name: &str, namespace: Namespace) -> Self {
        self.namespaces.insert(name.to_owned(), namespace);
        self
    }

    /// How often the server pings (25 s by default).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config = self.config.ping_interval(interval);
        self
    }

    /// How long a client has to answer a ping (20 s by default).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.ping_timeout(timeout);
        self
    }

    /// The largest polling payload (1,000,000 bytes by default), announced
    /// to the clients.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        let limits: PayloadLimits = self.config.payload;
        self.config = self.config.payload(limits.max_payload(bytes));
        self
    }

    /// How long a session may stay without joining a namespace before it
    /// is closed (45 s by default, as the official server).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Turns on connection state recovery (Socket.IO 4.6): a socket whose
    /// connection is lost (not one that left its namespace) is kept for
    /// `window`, and a client that reconnects within it with its `pid` and
    /// last offset (socket.io-client 4.6 and later send them) gets its id,
    /// rooms and data back, and the broadcasts it missed, of the last
    /// `max_packets` the server sent; [`Socket::recovered`] tells. Memory:
    /// those broadcasts, encoded, and at most 10,000 parked sockets (the
    /// oldest dropped first). With it on, CONNECT answers carry a `pid`
    /// and broadcasts an offset as their last argument, as from the
    /// official server.
    ///
    /// With a [Redis backplane](ServerBuilder::redis), a client may come
    /// back to another stdws node than the one it left: that node asks the
    /// one that parked the session (the `pid` names it), which hands over
    /// the id, rooms and the broadcasts it missed and forgets it; the new
    /// node adds those it logged that the first could not have had, so
    /// each comes once and in order. If the first node does not answer
    /// within 2 s (it is gone), the client gets a new socket; the CONNECT
    /// waits meanwhile. Connection data ([`Socket::set_data`]) stays on
    /// the first node: a socket restored elsewhere has none. Node
    /// `socket.io` nodes neither ask nor answer (they ignore the request).
    pub fn connection_state_recovery(mut self, window: Duration, max_packets: usize) -> Self {
        self.recovery = Some(recovery::Settings {
            window,
            max_packets,
            max_parked: 10_000,
        });
        self
    }

    /// The prefix of the Redis channels when the server has a
    /// [Redis backplane](ServerBuilder::redis): `socket.io` by default, as
    /// the `key` option of `@socket.io/redis-adapter` and
    /// `@socket.io/redis-emitter`, which must say the same to share the
    /// cluster.
    pub fn redis_key(mut self, key: &str) -> Self {
        self.redis_key = key.to_owned();
        self
    }

    /// The bounds on received packets (attachments, JSON depth and size).
    pub fn packet_limits(mut self, limits: packet::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Starts the server's housekeeping; [`mount`](SocketIo::mount) it next.
    pub fn build(self) -> SocketIo {
        let uid = new_id();
        let shared = Arc::new(Shared {
            namespaces: self.namespaces,
            members: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            limits: self.limits,
            core: OnceLock::new(),
            releases: Mutex::new(Vec::new()),
            recovery: self
                .recovery
                .map(|r| Mutex::new(Recovery::new(r, uid.get(..6).unwrap_or(&uid)))),
            redis_key: self.redis_key,
            uid: uid.clone(),
            publisher: OnceLock::new(),
            order: Mutex::new(()),
            waiting: Mutex::new(HashMap::new()),
        });
        let settings = Settings {
            session: self.config,
            claim_timeout: Some(self.connect_timeout),
        };
        let core = Core::start(settings, Arc::new(SioApp(Arc::clone(&shared))));
        let _ = shared.core.set(Arc::downgrade(&core));
        SocketIo {
            shared,
            core: Some(core),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_completes_when_every_other_node_and_client_has_answered() {
        let at = Instant::now();
        let mut fetch = Pending::new(Kind::Fetch, 2, at);
        assert!(!fetch.complete());
        fetch.answered = 2;
        assert!(fetch.complete());
        // A broadcast waits for its local count, every node's count, and
        // as many acks as all the counts say.
        let mut broadcast = Pending::new(Kind::Broadcast, 1, at);
        broadcast.push(Data::from(1));
        broadcast.answered = 1;
        broadcast.clients = 2;
        assert!(!broadcast.complete(), "this node's sockets not counted yet");
        broadcast.counted = true;
        assert!(!broadcast.complete(), "one ack of two");
        broadcast.push(Data::from(2));
        assert!(broadcast.complete());
    }

    #[test]
    fn answers_past_the_cap_end_the_request_with_an_error_not_more_memory() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut pending = Pending::new(Kind::Fetch, 1, Instant::now());
        pending.done = Some(Box::new(move |r| {
            let _ = tx.send(r.map(|p| p.items.len()));
        }));
        for _ in 0..=MAX_ITEMS {
            pending.push(Data::Null);
        }
        assert_eq!(pending.items.len(), MAX_ITEMS);
        assert!(pending.overflow);
        pending.finish();
        assert_eq!(rx.recv().unwrap(), Err(ClusterError::Overloaded));
        // A timeout says how many answered.
        let (tx, rx) = std::sync::mpsc::channel();
        let mut pending = Pending::new(Kind::ServerSideEmit, 3, Instant::now());
        pending.answered = 1;
        pending.done = Some(Box::new(move |r| {
            let _ = tx.send(r.map(|_| ()));
        }));
        pending.finish();
        assert_eq!(
            rx.recv().unwrap(),
            Err(ClusterError::Timeout {
                answered: 1,
                expected: 3
            })
        );
    }
}
