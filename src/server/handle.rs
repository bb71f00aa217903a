//! The server handle: what the application holds to talk to all clients and
//! to stop the server. Clone it freely and use it from any thread.

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::batch;
use super::connection::{BroadcastReport, Connection};
use super::hub::{Hub, Phase};
use super::queue::{Ended, Frame, Origin};
use super::shared::ConnShared;
use super::sync::lock;
use crate::backplane::{BackplaneStats, Envelope, Redis, Target};
use crate::deflate::Level;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::protocol::compressor::{RSV1, compress_alone};
use crate::protocol::frame::OpCode;

/// A handle to a running server: broadcast, per-client sends, the client
/// list, rooms, admission, and shutdown.
///
/// [`Server::spawn`](super::Server::spawn) returns one, and
/// [`Server::handle`](super::Server::handle) gives one before the server
/// runs; inside a handler, [`Connection::server`] does. Clones share the
/// server: hand one to each thread that talks to clients.
///
/// ```
/// use std::thread;
/// use std::time::Duration;
///
/// let server = stdws::Server::builder()
///     .on_message(|conn, msg| { let _ = conn.send(msg); })
///     .bind("127.0.0.1:0")?
///     .spawn()?;
///
/// let ticker = {
///     let server = server.clone();
///     thread::spawn(move || {
///         for n in 0..3 {
///             let report = server.broadcast(format!("tick {n}"));
///             println!("tick {n} went to {} clients", report.delivered);
///         }
///     })
/// };
/// let _ = ticker.join();
/// println!("{} clients now; since the start: {:?}", server.client_count(), server.stats());
///
/// // Close 1001 to every client, and up to 5 s for their answers.
/// server.shutdown(Duration::from_secs(5));
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    hub: Arc<Hub>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.hub.local_addr)
            .field("clients", &self.hub.registry.count())
            .finish()
    }
}

/// A message's opcode and payload, for a broadcast; `None` for what is not
/// broadcast (a close, a control frame over 125 bytes).
fn prepare(message: &Message) -> Option<(OpCode, &[u8])> {
    let (opcode, payload): (OpCode, &[u8]) = match message {
        Message::Text(t) => (OpCode::Text, t.as_bytes()),
        Message::Binary(b) => (OpCode::Binary, b),
        Message::Ping(b) => (OpCode::Ping, b),
        Message::Pong(b) => (OpCode::Pong, b),
        Message::Close(_) => return None,
    };
    if opcode.is_control() && payload.len() > crate::protocol::frame::MAX_CONTROL_PAYLOAD {
        return None;
    }
    Some((opcode, payload))
}

/// Sends to this node's clients of `target`: the one path for local
/// broadcasts and for messages from other nodes.
fn deliver_local(hub: &Hub, target: &Target, sender: u64, message: Message) -> BroadcastReport {
    let targets: Vec<Arc<ConnShared>> = match target {
        Target::All => hub.registry.all().to_vec(),
        Target::AllButSender => hub
            .registry
            .all()
            .iter()
            .filter(|c| c.id != sender)
            .cloned()
            .collect(),
        Target::Room(room) => hub.registry.room(room),
        Target::RoomButSender(room) => hub
            .registry
            .room(room)
            .into_iter()
            .filter(|c| c.id != sender)
            .collect(),
        Target::Client(id) => hub.registry.get(*id).into_iter().collect(),
        Target::Heartbeat(_) => Vec::new(),
    };
    send_to_all(hub, &targets, &message)
}

/// Sends `message` to each of `targets`, encoded once: for targets whose
/// compression context the server does not keep, a compressed frame
/// depends only on the level and window, and is compressed once for each
/// pair among them (`None`: it did not shrink). A target with a context of its own
/// ([`Compression::server_context_takeover`](crate::Compression::server_context_takeover))
/// gets its own frame, compressed with its context and queued under its
/// lock, or the plain frame when the context is busy (see
/// [`ConnDeflate`](super::shared::ConnDeflate)).
fn send_to_all(hub: &Hub, targets: &[Arc<ConnShared>], message: &Message) -> BroadcastReport {
    let mut report = BroadcastReport::default();
    let Some((opcode, payload)) = prepare(message) else {
        return report;
    };
    let plain = Frame::shared(opcode, payload);
    let mut compressed: Vec<((Level, u8), Option<Frame>)> = Vec::new();
    for conn in targets {
        let frame = match &conn.deflate {
            Some(deflate) if deflate.keeps_context() => {
                report.record(
                    conn.id,
                    send_with_context(hub, conn, opcode, payload, &plain),
                );
                continue;
            }
            Some(deflate) if deflate.wants(opcode, payload.len()) => {
                let key = deflate.key();
                let found = match compressed.iter().position(|(k, _)| *k == key) {
                    Some(i) => &compressed[i].1,
                    None => {
                        let frame = compress_alone(key.0, key.1, payload)
                            .map(|z| Frame::shared_with_rsv(opcode, &z, RSV1));
                        compressed.push((key, frame));
                        &compressed[compressed.len() - 1].1
                    }
                };
                found.as_ref().unwrap_or(&plain).clone()
            }
            _ => plain.clone(),
        };
        report.record(conn.id, batch::deliver(hub, conn, frame));
    }
    report
}

/// Sends a broadcast's `payload` to a connection with a context of its own:
/// compressed with the context when it is free and the message worth it,
/// the shared `plain` frame otherwise.
fn send_with_context(
    hub: &Hub,
    conn: &Arc<ConnShared>,
    opcode: OpCode,
    payload: &[u8],
    plain: &Frame,
) -> Result<()> {
    let deflate = conn.deflate.as_ref();
    let mut context = deflate
        .filter(|d| d.wants(opcode, payload.len()))
        .and_then(|d| d.try_context());
    let Some(deflated) = context.as_mut().and_then(|c| c.compress(opcode, payload)) else {
        drop(context);
        return batch::deliver(hub, conn, plain.clone());
    };
    let tracer = &hub.settings.tracer;
    if tracer.is_on() {
        tracer.deflated(conn.id, payload.len(), deflated.len());
    }
    let frame = Frame::shared_with_rsv(opcode, &deflated, RSV1);
    match batch::deliver(hub, conn, frame) {
        // In the context's history: it cannot be dropped.
        Err(Error::QueueFull {
            disconnected: false,
        }) => {
            conn.outbound.cut_slow_client();
            Err(Error::QueueFull { disconnected: true })
        }
        other => other,
    }
}

/// The name the subscriber's batches go under in the outbound queues: no
/// connection has it (ids stay below 2^53).
const BACKPLANE_BATCH: u64 = u64::MAX;

/// Starts the server's Redis backplane, if it has one: its subscriber
/// delivers through [`deliver_local`], holding the hub weakly so that a
/// dropped server is not kept alive by it.
pub(crate) fn start_backplane(hub: &Arc<Hub>) -> Result<()> {
    let Some(config) = hub.settings.backplane.clone() else {
        return Ok(());
    };
    let weak = Arc::downgrade(hub);
    let deliver = Arc::new(move |burst: Vec<Envelope>| {
        let Some(hub) = weak.upgrade() else {
            return;
        };
        // The subscriber batches like a worker: each client's share of the
        // burst goes out in one write, not one per message.
        batch::enter(&hub);
        batch::set_own(BACKPLANE_BATCH);
        batch::set_corked(true);
        for envelope in burst {
            let message = match envelope.opcode {
                1 => match String::from_utf8(envelope.payload) {
                    Ok(text) => Message::Text(text),
                    Err(_) => continue, // no node publishes that
                },
                _ => Message::Binary(envelope.payload),
            };
            deliver_local(&hub, &envelope.target, envelope.sender, message);
        }
        batch::flush_others(&hub);
        batch::leave();
    });
    let weak = Arc::downgrade(hub);
    let clients = Arc::new(move || weak.upgrade().map_or(0, |h| h.registry.count() as u64));
    // A node id another node holds is a setup mistake, not a network error.
    let redis = Redis::start(config, hub.settings.node_id, deliver, clients).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Error::Config(e.to_string())
        } else {
            Error::Io(e)
        }
    })?;
    let _ = hub.backplane.set(redis);
    Ok(())
}

impl ServerHandle {
    pub(crate) fn from_hub(hub: Arc<Hub>) -> ServerHandle {
        ServerHandle { hub }
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.hub.local_addr
    }

    /// Hands a text or binary message to the backplane, if there is one,
    /// for the other nodes (local delivery is the caller's).
    fn publish(&self, target: Target, sender: u64, message: &Message) {
        let Some(redis) = self.hub.backplane.get() else {
            return;
        };
        let (opcode, payload): (u8, &[u8]) = match message {
            Message::Text(t) => (1, t.as_bytes()),
            Message::Binary(b) => (2, b),
            _ => return,
        };
        redis.publish(target, sender, opcode, payload);
    }

    /// Sends to this node's clients of `target` and publishes to the others.
    fn broadcast_to(&self, target: Target, sender: u64, message: Message) -> BroadcastReport {
        self.publish(target.clone(), sender, &message);
        deliver_local(&self.hub, &target, sender, message)
    }

    /// Sends `message` to every connected client, of every node when the
    /// server has a [backplane](crate::backplane). The frame is encoded
    /// once; no client's socket is waited on (see
    /// [`Connection::send`](super::Connection::send) for queueing).
    /// A close message is not broadcast; use [`close_all`](Self::close_all).
    /// The report covers this node's clients.
    ///
    /// "Connected" means registered, which a connection is just after its
    /// `101` is written: a client whose handshake has just returned may miss
    /// a broadcast made in that moment. To start sending once some clients
    /// are in, wait for [`client_count`](Self::client_count) or act in
    /// `on_connect`, which runs after the registration.
    pub fn broadcast(&self, message: impl Into<Message>) -> BroadcastReport {
        self.broadcast_to(Target::All, 0, message.into())
    }

    /// Sends the named event `name` with `data` (JSON text, or `""`) to
    /// every client (see [`Events`](super::Events)).
    pub fn broadcast_event(&self, name: &str, data: &str) -> BroadcastReport {
        self.broadcast(super::events::event(name, data))
    }

    /// Sends the named event `name` with `data` to every client in `room`.
    pub fn broadcast_event_room(&self, room: &str, name: &str, data: &str) -> BroadcastReport {
        self.broadcast_room(room, super::events::event(name, data))
    }

    /// Sends `message` to every client but `except`.
    pub fn broadcast_except(&self, except: u64, message: impl Into<Message>) -> BroadcastReport {
        self.broadcast_to(Target::AllButSender, except, message.into())
    }

    /// Sends `message` to every client in `room`.
    pub fn broadcast_room(&self, room: &str, message: impl Into<Message>) -> BroadcastReport {
        self.broadcast_to(Target::Room(room.to_owned()), 0, message.into())
    }

    /// Sends `message` to every client in `room` but `except`.
    pub fn broadcast_room_except(
        &self,
        room: &str,
        except: u64,
        message: impl Into<Message>,
    ) -> BroadcastReport {
        self.broadcast_to(
            Target::RoomButSender(room.to_owned()),
            except,
            message.into(),
        )
    }

    /// Sends `message` to the client with id `id`. With a
    /// [backplane](crate::backplane), a text or binary message for a client
    /// of another node is published to that node, and `Ok` means only that
    /// it was handed on.
    pub fn send_to(&self, id: u64, message: impl Into<Message>) -> Result<()> {
        let message = message.into();
        if let Some(conn) = self.client(id) {
            return conn.send(message);
        }
        let node = crate::backplane::node_of(id);
        match self.hub.backplane.get() {
            Some(redis) if node != 0 && node != redis.node_id() && message.is_data() => {
                self.publish(Target::Client(id), 0, &message);
                Ok(())
            }
            _ => Err(Error::NoSuchClient(id)),
        }
    }

    /// How many clients are connected to every node of the backplane, as
    /// their heartbeats (one a second) last said; [`client_count`](Self::client_count)
    /// without one.
    pub fn cluster_client_count(&self) -> usize {
        let remote = self
            .hub
            .backplane
            .get()
            .map_or(0, |redis| redis.remote_clients());
        self.client_count() + remote as usize
    }

    /// The connection with id `id`, if it is connected.
    pub fn client(&self, id: u64) -> Option<Connection> {
        self.hub.registry.get(id).map(|shared| Connection {
            shared,
            hub: Arc::clone(&self.hub),
        })
    }

    /// Every connected client, as [`client`](Self::client) gives one
    /// (its [`info`](Connection::info) is a snapshot of its state).
    pub fn clients(&self) -> Vec<Connection> {
        self.hub
            .registry
            .all()
            .iter()
            .map(|shared| Connection {
                shared: Arc::clone(shared),
                hub: Arc::clone(&self.hub),
            })
            .collect()
    }

    /// How many clients are connected.
    pub fn client_count(&self) -> usize {
        self.hub.registry.count()
    }

    /// Puts client `id` in `room`.
    pub fn join(&self, id: u64, room: &str) -> Result<()> {
        self.hub
            .registry
            .join(id, room, self.hub.settings.room_caps)
    }

    /// Takes client `id` out of `room` (a room it is not in is no error).
    /// [`Error::NoSuchClient`](crate::Error::NoSuchClient) if no client has
    /// this id, as for [`join`](Self::join).
    pub fn leave(&self, id: u64, room: &str) -> Result<()> {
        if self.hub.registry.get(id).is_none() {
            return Err(Error::NoSuchClient(id));
        }
        self.hub.registry.leave(id, room);
        Ok(())
    }

    /// The ids of the clients in `room`.
    pub fn room_members(&self, room: &str) -> Vec<u64> {
        self.hub.registry.room(room).iter().map(|c| c.id).collect()
    }

    /// Every room that has members.
    pub fn rooms(&self) -> Vec<String> {
        self.hub.registry.room_names()
    }

    /// Starts the closing handshake with every client.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        for conn in self.hub.registry.all().iter() {
            let frame = CloseFrame::new(code, reason);
            if let Ok(Some(sent)) = conn.outbound.close(&frame, Origin::Other, None) {
                batch::after_send(&self.hub, conn, sent);
            }
        }
    }

    /// Refuses new connections (with `503 Service Unavailable`) until
    /// [`allow_new_connections`](Self::allow_new_connections); connected
    /// clients are not affected.
    pub fn deny_new_connections(&self) {
        self.hub.accepting.store(false, Ordering::Release);
    }

    /// Accepts new connections again.
    pub fn allow_new_connections(&self) {
        self.hub.accepting.store(true, Ordering::Release);
    }

    /// Whether new connections are accepted.
    pub fn accepts_new_connections(&self) -> bool {
        self.hub.accepting.load(Ordering::Acquire)
    }

    /// The number of worker threads started so far (at most the pool's size).
    pub fn worker_threads(&self) -> usize {
        self.hub.pool.threads()
    }

    /// Stops the server gracefully: stops accepting, sends close 1001 to
    /// every client (after anything already queued for it), waits for their
    /// answers until `grace` has passed, then ends the rest and every
    /// thread. Returns once nothing of the server is left running, with
    /// `true` if every client closed cleanly in time.
    ///
    /// Called from one of the server's own handlers, it returns at once and
    /// the shutdown goes on in a thread of its own (a worker cannot wait for
    /// itself to end).
    pub fn shutdown(&self, grace: Duration) -> bool {
        let report = self.stop(Some(Farewell {
            grace,
            code: CloseCode::GOING_AWAY,
            reason: "server shutting down",
        }));
        report.is_clean()
    }

    /// Drains the server before a restart, so that a load balancer moves its
    /// clients elsewhere: closes the listening socket (new connections are
    /// refused by the kernel, which balancers take as "try another"), sends
    /// close 1012 (service restart, which tells clients to reconnect) to
    /// every client after what is already queued for it, waits until they
    /// have all gone or `deadline` has passed, cuts the rest, and stops the
    /// server as [`shutdown`](Self::shutdown) does. Returns as soon as the
    /// last client has gone, with what happened.
    ///
    /// Called from one of the server's own handlers, it returns at once (the
    /// report says [`in_background`](DrainReport::in_background)) and the
    /// drain goes on in a thread of its own.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let server = stdws::Server::builder()
    ///     .on_message(|conn, msg| { let _ = conn.send(msg); })
    ///     .bind("127.0.0.1:8000")?
    ///     .spawn()?;
    /// // ... when the process is told to restart:
    /// let report = server.drain(Duration::from_secs(30));
    /// eprintln!("drained: {} of {} clients left in time", report.left, report.clients);
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn drain(&self, deadline: Duration) -> DrainReport {
        self.stop(Some(Farewell {
            grace: deadline,
            code: CloseCode::SERVICE_RESTART,
            reason: "service restart",
        }))
    }

    /// Stops the server at once: every connection is cut without a closing
    /// handshake. Returns once every thread has ended.
    pub fn shutdown_now(&self) {
        self.stop(None);
    }

    fn stop(&self, farewell: Option<Farewell>) -> DrainReport {
        {
            let mut phase = lock(&self.hub.phase);
            match *phase {
                Phase::Running => {
                    *lock(&self.hub.farewell) = farewell.as_ref().map(|f| (f.code, f.reason));
                    *phase = Phase::ShuttingDown;
                }
                // Someone else is stopping it: wait for them.
                Phase::ShuttingDown | Phase::Stopped => {
                    drop(phase);
                    let background = self.is_worker_thread();
                    if !background {
                        self.wait();
                    }
                    let left = self.hub.registry.count();
                    return DrainReport {
                        cut: left,
                        in_background: background,
                        ..DrainReport::default()
                    };
                }
            }
        }
        if self.is_worker_thread() {
            let this = self.clone();
            let _ = std::thread::Builder::new()
                .name("stdws-shutdown".into())
                .spawn(move || this.finish_stop(farewell));
            return DrainReport {
                in_background: true,
                ..DrainReport::default()
            };
        }
        self.finish_stop(farewell)
    }

    fn is_worker_thread(&self) -> bool {
        batch::is_serving(&self.hub)
    }

    fn finish_stop(&self, farewell: Option<Farewell>) -> DrainReport {
        let hub = &self.hub;
        let started = Instant::now();
        hub.accepting.store(false, Ordering::Release);
        // Wake the acceptor from accept() with a connection of our own; the
        // listening socket closes when its thread ends.
        let acceptor = lock(&hub.threads).acceptor.take();
        if let Some(acceptor) = acceptor {
            let _ =
                TcpStream::connect_timeout(&wake_address(hub.local_addr), Duration::from_secs(1));
            let _ = acceptor.join();
        }
        // No more messages from other nodes once the shutdown begins.
        if let Some(redis) = hub.backplane.get() {
            redis.stop();
        }
        for hook in &hub.settings.stop_hooks.0 {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook())).is_err() {
                eprintln!("stdws: a stop hook panicked");
            }
        }
        // Services the hooks woke (a held long-poll) write their answers
        // within the grace, before their sockets are cut below.
        if let Some(farewell) = &farewell {
            let deadline = started + farewell.grace;
            while hub.in_service.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let unclean_before = hub.counters.unclean_in_shutdown.load(Ordering::Relaxed);
        let clients = hub.registry.count();
        let mut report = DrainReport {
            clients,
            cut: clients,
            ..DrainReport::default()
        };
        if let Some(farewell) = farewell {
            let deadline = started + farewell.grace;
            self.close_all(farewell.code, farewell.reason);
            hub.registry.wait_until_empty(deadline);
            report.cut = hub.registry.count();
            report.left = clients.saturating_sub(report.cut);
        }
        let finishing: Vec<_> = lock(&hub.finishing).values().cloned().collect();
        for conn in hub.registry.all().iter().chain(&finishing) {
            conn.outbound.kill(Some(Ended {
                code: CloseCode::GOING_AWAY,
                reason: "server shut down".into(),
            }));
        }
        // What is not a WebSocket yet (a handshake still arriving, an HTTP
        // connection kept alive between requests) has had its chance.
        let serving = lock(&hub.serving).take().unwrap_or_default();
        for stream in serving.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = hub.pool.stop_and_join();
        // Final once the workers have ended: each counts its connection's
        // end before it leaves the registry.
        report.unclean =
            (hub.counters.unclean_in_shutdown.load(Ordering::Relaxed) - unclean_before) as usize;
        hub.housekeeper_stop.store(true, Ordering::Release);
        hub.backlog.wake_all();
        let housekeeper = lock(&hub.threads).housekeeper.take();
        if let Some(housekeeper) = housekeeper {
            let _ = housekeeper.join();
        }
        hub.backlog.clear();
        hub.set_phase(Phase::Stopped);
        report.elapsed = started.elapsed();
        report
    }

    /// Blocks until the server has stopped.
    pub fn wait(&self) {
        let mut phase = lock(&self.hub.phase);
        while *phase != Phase::Stopped {
            phase = self
                .hub
                .phase_changed
                .wait(phase)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether the server has stopped.
    pub fn is_stopped(&self) -> bool {
        self.hub.phase() == Phase::Stopped
    }

    /// Running totals since the server started.
    pub fn stats(&self) -> ServerStats {
        let c = &self.hub.counters;
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        ServerStats {
            accepted: get(&c.accepted),
            refused_busy: get(&c.refused_busy),
            refused_denied: get(&c.refused_denied),
            refused_per_ip: get(&c.refused_per_ip),
            refused_handshake: get(&c.refused_handshake),
            refused_origin: get(&c.refused_origin),
            refused_by_hook: get(&c.refused_by_hook),
            over_budget: get(&c.over_budget),
            memory_held: self.hub.memory.held(),
            http_requests: get(&c.http_requests),
            http_in_service: self.hub.in_service.load(Ordering::Acquire),
            opened: get(&c.opened),
            closed: get(&c.closed),
            clients: self.hub.registry.count(),
            worker_threads: self.hub.pool.threads(),
            backplane: self
                .hub
                .backplane
                .get()
                .map_or_else(BackplaneStats::default, |r| r.counters().snapshot()),
        }
    }

    /// Memory held for every client's outbound queue, bookkeeping included
    /// (for tests: it returns to zero once every queue is written).
    #[doc(hidden)]
    pub fn debug_held_bytes(&self) -> usize {
        self.hub
            .registry
            .all()
            .iter()
            .map(|c| c.outbound.charged())
            .sum()
    }

    /// Internal sizes for leak checks: registry clients, room entries,
    /// per-address counters, housekeeper backlog, worker threads started.
    #[doc(hidden)]
    pub fn debug_counts(&self) -> [usize; 5] {
        let (clients, rooms, addresses) = self.hub.registry.sizes();
        [
            clients,
            rooms,
            addresses,
            self.hub.backlog.len(),
            self.hub.pool.threads(),
        ]
    }
}

/// The parts of a [`Connection`] that reach the whole server. They live
/// here, beside [`ServerHandle`], so that the connection module does not
/// depend on the handle module that depends on it.
impl Connection {
    /// The server this connection belongs to.
    pub fn server(&self) -> ServerHandle {
        ServerHandle::from_hub(Arc::clone(&self.hub))
    }

    /// Sends `message` to every client of the server (of every node, with
    /// a backplane), this one included.
    pub fn broadcast(&self, message: impl Into<Message>) -> BroadcastReport {
        self.server()
            .broadcast_to(Target::All, self.shared.id, message.into())
    }

    /// Sends `message` to every client of the server but `except` (usually
    /// this connection's own [`id`](Connection::id)): Socket.IO's
    /// `socket.broadcast.emit`. The same call as
    /// [`ServerHandle::broadcast_except`].
    pub fn broadcast_except(&self, except: u64, message: impl Into<Message>) -> BroadcastReport {
        self.server().broadcast_except(except, message)
    }

    /// Sends `message` to every client in `room`, this one included if it is a member.
    pub fn broadcast_room(&self, room: &str, message: impl Into<Message>) -> BroadcastReport {
        self.server().broadcast_to(
            Target::Room(room.to_owned()),
            self.shared.id,
            message.into(),
        )
    }

    /// Sends `message` to every client in `room` but `except` (usually this
    /// connection's own id): Socket.IO's `socket.to(room).emit`.
    pub fn broadcast_room_except(
        &self,
        room: &str,
        except: u64,
        message: impl Into<Message>,
    ) -> BroadcastReport {
        self.server().broadcast_room_except(room, except, message)
    }

    /// Sends the named event `name` with `data` to every client (see
    /// [`Events`](super::Events)).
    pub fn broadcast_event(&self, name: &str, data: &str) -> BroadcastReport {
        self.broadcast(super::events::event(name, data))
    }

    /// Sends the named event `name` with `data` to every client in `room`.
    pub fn broadcast_event_room(&self, room: &str, name: &str, data: &str) -> BroadcastReport {
        self.broadcast_room(room, super::events::event(name, data))
    }
}

/// How a server's clients were closed, for [`ServerHandle::drain`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Clients connected when the listening socket closed.
    pub clients: usize,
    /// Clients that had gone before the deadline.
    pub left: usize,
    /// Clients still connected at the deadline, and cut then.
    pub cut: usize,
    /// Connections that ended without a closing handshake (cut ones, and
    /// clients that vanished instead of answering the close).
    pub unclean: usize,
    /// How long the drain took, until every thread of the server had ended.
    pub elapsed: Duration,
    /// Called from one of the server's own handlers: the drain goes on in a
    /// thread of its own, and the other fields are zero.
    pub in_background: bool,
}

impl DrainReport {
    /// Whether every client closed cleanly in time.
    pub fn is_clean(&self) -> bool {
        !self.in_background && self.cut == 0 && self.unclean == 0
    }
}

/// How a graceful stop says goodbye: the close frame, and how long clients
/// have to answer it.
struct Farewell {
    grace: Duration,
    code: CloseCode,
    reason: &'static str,
}

/// Running totals of a server, from [`ServerHandle::stats`]. It grows as
/// the server counts more, so it is read, never built, outside the crate:
///
/// ```compile_fail
/// let stats = stdws::server::ServerStats { accepted: 0, ..Default::default() };
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// TCP connections handed to a worker.
    pub accepted: u64,
    /// Connections refused with 503 because every worker was busy.
    pub refused_busy: u64,
    /// Connections refused with 503 while new connections were denied.
    pub refused_denied: u64,
    /// Connections refused with 429: too many from one address (logged).
    pub refused_per_ip: u64,
    /// Handshakes refused as malformed (400, 405, 426) or for a path with
    /// no endpoint (404).
    pub refused_handshake: u64,
    /// Browser handshakes refused with 403 for their `Origin` (logged).
    pub refused_origin: u64,
    /// Handshakes a hook refused (logged).
    pub refused_by_hook: u64,
    /// Connections closed with 1013 because the
    /// [memory budget](super::ServerBuilder::memory_budget) was spent: a
    /// large message refused, or a large queue cut (logged).
    pub over_budget: u64,
    /// Bytes held for clients now, in messages still arriving and outbound
    /// queues: what the memory budget bounds.
    pub memory_held: usize,
    /// Plain HTTP requests answered (pages; not upgrades).
    pub http_requests: u64,
    /// Requests inside an HTTP service now, such as the long-polls that
    /// Socket.IO's polling transport holds open until it has something to
    /// send.
    pub http_in_service: usize,
    /// WebSocket connections opened (handshakes completed).
    pub opened: u64,
    /// WebSocket connections ended.
    pub closed: u64,
    /// Clients connected now.
    pub clients: usize,
    /// Worker threads started so far.
    pub worker_threads: usize,
    /// What the [backplane](crate::backplane) did (all zero without one).
    pub backplane: BackplaneStats,
}

/// Where to connect to wake an acceptor listening on `addr`.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let mut wake = addr;
    if addr.ip().is_unspecified() {
        wake.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    wake
}
