//! Building and starting a server: [`ServerBuilder`] collects settings,
//! endpoints and hooks; [`Server`] is bound and ready to run.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::Connection;
use super::handle::ServerHandle;
use super::handler::{Disconnect, Handler};
use super::hub::{Hub, PerIp, Settings};
use super::pool::WorkerPool;
use super::queue::SlowClientPolicy;
use super::router::{Endpoint, Handshake, Router};
use super::sync::lock;
use crate::error::{Error, Result};
use crate::message::{Message, MessagePart};
use crate::protocol::http::{Request, Response};
use crate::trace::Tracer;

/// A WebSocket server, bound to its address and ready to [`run`](Self::run)
/// or [`spawn`](Self::spawn).
///
/// ```no_run
/// use stdws::Server;
///
/// // Echo every message back to its sender.
/// Server::builder()
///     .on_message(|conn, msg| {
///         let _ = conn.send(msg);
///     })
///     .bind("127.0.0.1:8000")?
///     .run()?;
/// # Ok::<(), stdws::Error>(())
/// ```
pub struct Server {
    hub: Arc<Hub>,
    listener: TcpListener,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.hub.local_addr)
            .finish()
    }
}

impl Server {
    /// A builder with the default settings and no endpoints.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.hub.local_addr
    }

    /// A handle to the server, usable before it runs (to stop a server that
    /// [`run`](Self::run) is blocking on, say).
    pub fn handle(&self) -> ServerHandle {
        ServerHandle::from_hub(Arc::clone(&self.hub))
    }

    /// Runs the server in background threads and returns its handle at once.
    pub fn spawn(self) -> Result<ServerHandle> {
        let hub = self.hub;
        // First: a node id that another node holds fails the start before
        // any client is accepted.
        super::handle::start_backplane(&hub)?;
        let acceptor = {
            let hub = Arc::clone(&hub);
            let listener = self.listener;
            thread::Builder::new()
                .name("stdws-acceptor".into())
                .spawn(move || super::acceptor::run(hub, listener))?
        };
        let housekeeper = {
            let hub = Arc::clone(&hub);
            thread::Builder::new()
                .name("stdws-housekeeper".into())
                .spawn(move || super::housekeeper::run(hub))?
        };
        {
            let mut threads = lock(&hub.threads);
            threads.acceptor = Some(acceptor);
            threads.housekeeper = Some(housekeeper);
        }
        Ok(ServerHandle::from_hub(hub))
    }

    /// Runs the server until it is shut down through a [`handle`](Self::handle).
    pub fn run(self) -> Result<()> {
        let handle = self.spawn()?;
        handle.wait();
        Ok(())
    }
}

/// Settings, endpoints and hooks for a [`Server`]. Every setting has a
/// default that is safe for a server on the open internet.
///
/// | setting                   | default | protects against |
/// |---------------------------|---------|------------------|
/// | [`workers`](Self::workers) | 1,024   | a flood of connections taking every thread and descriptor |
/// | [`handshake_timeout`](Self::handshake_timeout) | 10 s | clients that connect and never finish the handshake (slowloris) |
/// | [`write_timeout`](Self::write_timeout) | 5 s | a peer that stops reading holding a worker or a queue forever |
/// | [`close_timeout`](Self::close_timeout) | 5 s | a peer that never answers a close frame |
/// | [`ping_interval`](Self::ping_interval) / [`ping_timeout`](Self::ping_timeout) | 20 s / 20 s | dead peers (no FIN, no RST) holding workers |
/// | [`idle_timeout`](Self::idle_timeout) | off | clients that send nothing (off: a push-only page is idle by design) |
/// | [`max_queued_bytes`](Self::max_queued_bytes) | 1 MiB | slow consumers growing memory without bound |
/// | [`max_message_size`](Self::max_message_size) / [`max_frame_size`](Self::max_frame_size) | 16 MiB | huge messages exhausting memory (1009) |
/// | [`max_head_size`](Self::max_head_size) / [`max_headers`](Self::max_headers) | 8 KiB / 100 | oversized handshakes (431) |
/// | [`max_connections_per_ip`](Self::max_connections_per_ip) | a quarter of the workers; loopback exempt | one address taking every worker (429) |
/// | [`max_rooms_per_connection`](Self::max_rooms_per_connection) / [`max_room_name_len`](Self::max_room_name_len) | 100 / 256 bytes | clients making the server remember rooms without bound |
/// | [`allowed_origins`](Self::allowed_origins) | the server's own origin (and clients that send no `Origin`) | cross-site WebSocket hijacking by other web pages |
#[derive(Default)]
pub struct ServerBuilder {
    settings: Settings,
    router: Router,
    redis: Option<Result<crate::resp::RedisUrl>>,
    redis_prefix: Option<String>,
    node_id: Option<u16>,
    listeners: crate::backplane::Listeners,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("settings", &self.settings)
            .finish()
    }
}

impl ServerBuilder {
    /// The most connections served at once: each has a worker thread of its
    /// own from a pool of this size (threads start on demand and are kept).
    /// Beyond it, new connections get `503 Service Unavailable`.
    pub fn workers(mut self, count: usize) -> Self {
        self.settings.workers = count.max(1);
        self
    }

    /// The stack reserved for each worker thread (default 256 KiB; only the
    /// pages a handler touches cost memory). Raise it for handlers that
    /// recurse deeply.
    pub fn worker_stack_size(mut self, bytes: usize) -> Self {
        self.settings.worker_stack_size = bytes;
        self
    }

    /// How long a client has, from its TCP connect, to send its whole
    /// handshake request (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handshake_timeout = timeout;
        self
    }

    /// How long a write may wait for a client to read: a worker's own write
    /// blocks at most this long, and a queue that makes no progress for this
    /// long gets its client disconnected (default 5 s). While the client is
    /// still sending a message that the handler takes in parts, each part
    /// that arrives counts as progress: such a client may read only once it
    /// has sent the whole message.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.settings.write_timeout = timeout;
        self
    }

    /// How long to wait for the client's answer to a close frame, and for its
    /// FIN after the close (default 5 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.settings.close_timeout = timeout;
        self
    }

    /// Pings a client that has sent nothing for this long (default 20 s;
    /// `None` turns keepalive off).
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.settings.ping_interval = interval;
        self
    }

    /// Ends a connection whose keepalive ping gets no pong, and no other
    /// bytes, within this long (default 20 s), with close code 1011. A ping
    /// queues behind what was sent before it: for clients that read large
    /// amounts slowly, choose a timeout longer than they take to read what
    /// the server may have queued for them (the kernel's buffers included).
    /// Bytes arriving count as a sign of life: a client busy sending one
    /// long frame is not ended.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.settings.ping_timeout = timeout;
        self
    }

    /// Closes (with 1001) a connection that has sent no message for this long
    /// (default: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// The most bytes other threads (broadcasts, sends from anywhere) may
    /// have queued for one client before the slow-client policy applies
    /// (default 1 MiB). Every queued frame is charged its wire length plus
    /// its bookkeeping (a few dozen bytes), from when it is queued until its
    /// last byte is written, so the figure is memory, not just payload. A
    /// single message larger than this is still accepted into an empty
    /// queue. The connection's own frames (its handler's replies, pongs,
    /// close answers) are charged separately: past this limit they are
    /// written blocking, bounded by the [`write_timeout`](Self::write_timeout),
    /// except while the peer is still sending a message passed on in parts,
    /// when they may reach the larger of this and the message limit; pongs
    /// to a flood of pings are merged (RFC 6455 section 5.5.3).
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_queued_bytes = bytes;
        self
    }

    /// What to do with a client whose queue is full (default: disconnect it).
    pub fn slow_client_policy(mut self, policy: SlowClientPolicy) -> Self {
        self.settings.slow_client_policy = policy;
        self
    }

    /// The most connections one IP address may hold; beyond it, `429 Too
    /// Many Requests`. `None` removes the limit.
    ///
    /// By default an address may hold a quarter of the
    /// [`workers`](Self::workers), so that one client cannot take the whole
    /// pool, and loopback addresses are exempt: a reverse proxy on the same
    /// machine brings every client from one of them. A limit set here
    /// applies to every address, loopback included; behind a proxy on
    /// another machine, raise it or set `None`.
    pub fn max_connections_per_ip(mut self, limit: Option<usize>) -> Self {
        self.settings.max_connections_per_ip = PerIp::Set(limit);
        self
    }

    /// The most rooms one client may be in at once (default 100); a
    /// [`join`](super::Connection::join) past it fails with
    /// [`Error::RoomRefused`]. Room names often
    /// come from clients, and each one joined is held until it leaves.
    pub fn max_rooms_per_connection(mut self, rooms: usize) -> Self {
        self.settings.room_caps.max_rooms = rooms;
        self
    }

    /// The longest room name, in bytes, that [`join`](super::Connection::join)
    /// accepts (default 256).
    pub fn max_room_name_len(mut self, bytes: usize) -> Self {
        self.settings.room_caps.max_name_len = bytes;
        self
    }

    /// Accepts `permessage-deflate` (RFC 7692) offers with these settings
    /// (default: declined). The server answers the first valid offer, always
    /// with `server_no_context_takeover`: each message is compressed on its
    /// own, so a broadcast is compressed once for every client that agreed
    /// the same window, and a connection holds only its decompressor (a
    /// 2<sup>12</sup>-byte window when the client lets the server choose, as
    /// browsers do). See [`Compression`](crate::Compression).
    ///
    /// ```
    /// use stdws::Compression;
    /// let builder = stdws::Server::builder().compression(Compression::default());
    /// # let _ = builder;
    /// ```
    pub fn compression(mut self, compression: crate::Compression) -> Self {
        self.settings.compression = compression;
        self
    }

    /// The largest message a client may send (default 16 MiB; 1009 beyond).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.limits.max_message_size = bytes;
        self
    }

    /// The largest frame a client may send (default 16 MiB; 1009 beyond).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.settings.limits.max_frame_size = bytes;
        self
    }

    /// The largest handshake request head (default 8 KiB; 431 beyond).
    pub fn max_head_size(mut self, bytes: usize) -> Self {
        self.settings.head_limits.max_head_size = bytes;
        self
    }

    /// The most header fields in a handshake request (default 100; 431 beyond).
    pub fn max_headers(mut self, count: usize) -> Self {
        self.settings.head_limits.max_headers = count;
        self
    }

    /// Traces handshakes and frames (default: on if `STDWS_TRACE=1`).
    pub fn trace(mut self, tracer: Tracer) -> Self {
        self.settings.tracer = tracer;
        self
    }

    /// Serves every path without a [`route`](Self::route) of its own with a
    /// [`Handler`] made by `make` for each connection.
    pub fn handler<H, F>(mut self, make: F) -> Self
    where
        H: Handler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        self.router.fallback = Some(Endpoint::handler(make));
        self
    }

    fn fallback_callbacks(&mut self) -> Endpoint {
        match self.router.fallback.take() {
            Some(endpoint) if endpoint.factory.is_none() => endpoint,
            _ => Endpoint::callbacks(),
        }
    }

    /// Called when a client connects to a path without a route of its own.
    pub fn on_connect(mut self, f: impl Fn(&Connection) + Send + Sync + 'static) -> Self {
        self.router.fallback = Some(self.fallback_callbacks().on_connect(f));
        self
    }

    /// Called for each message from a client on a path without a route of its own.
    pub fn on_message(mut self, f: impl Fn(&Connection, Message) + Send + Sync + 'static) -> Self {
        self.router.fallback = Some(self.fallback_callbacks().on_message(f));
        self
    }

    /// Called for each part of a message of at least `from` bytes from a
    /// client on a path without a route of its own, as the message's bytes
    /// arrive (see [`Endpoint::on_message_part`]).
    pub fn on_message_part(
        mut self,
        from: usize,
        f: impl Fn(&Connection, MessagePart) + Send + Sync + 'static,
    ) -> Self {
        self.router.fallback = Some(self.fallback_callbacks().on_message_part(from, f));
        self
    }

    /// Called when a client on a path without a route of its own has left.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(&Connection, &Disconnect) + Send + Sync + 'static,
    ) -> Self {
        self.router.fallback = Some(self.fallback_callbacks().on_disconnect(f));
        self
    }

    /// Serves `path` (exactly, without the query) with `endpoint`. Once any
    /// route exists, a path with none (and no fallback handler) gets 404.
    pub fn route(mut self, path: &str, endpoint: Endpoint) -> Self {
        self.router.routes.retain(|(p, _)| p != path);
        self.router.routes.push((path.to_owned(), endpoint));
        self
    }

    /// Answers plain HTTP requests (ones that ask for no upgrade) with
    /// `respond`, so that a page and its WebSocket share a port. Without it
    /// they get `426 Upgrade Required`.
    pub fn http(mut self, respond: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        self.router.http = Some(Arc::new(respond));
        self
    }

    /// Answers plain HTTP requests to `path` (exactly, without the query)
    /// with `service`, which sees the request's body (at most `max_body`
    /// bytes, given as `Content-Length`; 413 beyond) and may block, as a
    /// long poll does, on its worker. The connection is kept alive for
    /// further requests (HTTP/1.1 persistent connections), each of which
    /// must arrive within the [`handshake_timeout`](Self::handshake_timeout).
    /// Upgrade requests to the same path still go to its [`route`](Self::route).
    ///
    /// ```
    /// use stdws::protocol::http::Response;
    /// let builder = stdws::Server::builder().http_service("/count", 1024, |_request, body, _peer| {
    ///     Response::new(200).with_body(body.len().to_string())
    /// });
    /// # drop(builder);
    /// ```
    pub fn http_service(
        mut self,
        path: &str,
        max_body: usize,
        service: impl Fn(&Request, &[u8], SocketAddr) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.router.services.retain(|s| s.path != path);
        self.router.services.push(super::router::ServiceRoute {
            path: path.to_owned(),
            max_body,
            service: Arc::new(service),
        });
        self
    }

    /// Runs `hook` for every handshake, before the endpoint's own hook: it
    /// may refuse with any response, pick a subprotocol, or add headers.
    pub fn on_handshake(
        mut self,
        hook: impl Fn(&mut Handshake<'_>) -> Result<(), Response> + Send + Sync + 'static,
    ) -> Self {
        self.router.hook = Some(Arc::new(hook));
        self
    }

    /// Accepts browser connections only from these origins (such as
    /// `https://example.com`, or `*` for any); others get 403. Requests
    /// without an `Origin` header (non-browser clients) are accepted. This
    /// is the defence against cross-site WebSocket hijacking: a browser
    /// sends the page's cookies with a WebSocket handshake whatever page
    /// opens it, and only the `Origin` tells which page that is.
    ///
    /// Without this setting, a browser is accepted only from the server's
    /// own origin: its `Origin` must name the `Host` it connected to, as
    /// Tornado's `check_origin` requires by default. A page served from
    /// elsewhere (another port counts) needs to be listed here.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.router.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Joins the other servers that use the Redis at `url`
    /// (`redis://[user:password@]host:port[/db]`) into one for broadcasts,
    /// rooms and sends by client id: see [`crate::backplane`] for what
    /// goes where, the ordering clients see, and what happens when Redis
    /// goes away. Client ids then carry a random node id (16 bits) above a
    /// 37-bit connection number, so that they are unique across nodes.
    /// A bad URL fails [`bind`](Self::bind). Redis need not be up: the
    /// server starts, serves its own clients, and keeps trying.
    ///
    /// ```no_run
    /// stdws::Server::builder()
    ///     .on_message(|conn, msg| { conn.broadcast(msg); }) // every client of every node
    ///     .redis("redis://127.0.0.1:6379")
    ///     .bind("127.0.0.1:8001")?
    ///     .run()?;
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn redis(mut self, url: &str) -> Self {
        self.redis = Some(crate::resp::RedisUrl::parse(url));
        self
    }

    /// The prefix of the Redis channels (default `stdws:`): servers with
    /// another prefix on the same Redis are another cluster.
    pub fn redis_prefix(mut self, prefix: &str) -> Self {
        self.redis_prefix = Some(prefix.to_owned());
        self
    }

    /// This node's id in the client ids of a [`redis`](Self::redis)
    /// cluster (1 to 65,535; 0, the default, picks a free one at random).
    /// The node claims its id in Redis: if another node holds it, the
    /// server fails to start ([`crate::backplane#node-ids`] says more).
    /// Without `redis`, ignored.
    pub fn node_id(mut self, id: u16) -> Self {
        self.node_id = (id != 0).then_some(id);
        self
    }

    /// Another format on the [`redis`](Self::redis) backplane's
    /// connections, if the server gets one (Socket.IO's, from
    /// [`SocketIo::mount`](crate::socketio::SocketIo::mount)).
    pub(crate) fn backplane_listener(
        mut self,
        listener: std::sync::Arc<dyn crate::backplane::Listener>,
    ) -> Self {
        self.listeners.0.push(listener);
        self
    }

    /// Binds the listening socket.
    pub fn bind(self, addr: impl ToSocketAddrs) -> Result<Server> {
        let listener = TcpListener::bind(addr)?;
        self.listen_on(listener)
    }

    /// Uses an already-bound listening socket.
    pub fn listen_on(mut self, listener: TcpListener) -> Result<Server> {
        if let Some(url) = self.redis.take() {
            let mut config = crate::backplane::Config::new(url?);
            if let Some(prefix) = self.redis_prefix.take() {
                config.prefix = prefix;
            }
            config.fixed_node_id = self.node_id.is_some();
            config.listeners = std::mem::take(&mut self.listeners);
            self.settings.backplane = Some(config);
            self.settings.node_id = match self.node_id {
                Some(id) => id,
                None => crate::backplane::random_node_id()?,
            };
        }
        let local_addr = listener.local_addr()?;
        if self.router.routes.is_empty()
            && self.router.fallback.is_none()
            && self.router.http.is_none()
            && self.router.services.is_empty()
        {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the server has no endpoint: add a handler, callbacks or a route before bind",
            )));
        }
        let pool = WorkerPool::new(
            self.settings.workers,
            self.settings.worker_stack_size,
            "stdws-worker",
            super::worker::serve,
        );
        let hub = Arc::new(Hub::new(
            self.settings,
            self.router.finish(),
            local_addr,
            pool,
        ));
        Ok(Server { hub, listener })
    }
}
