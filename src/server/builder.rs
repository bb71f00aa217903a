//! Building and starting a server: [`ServerBuilder`] collects settings,
//! endpoints and hooks; [`Server`] is bound and ready to run.

use std::fmt;
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
use crate::message::{DataMessage, MessagePart};
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
/// | [`memory_budget`](Self::memory_budget) | a quarter of the machine's memory | many clients at their per-connection limits at once (1013) |
/// | [`max_message_size`](Self::max_message_size) / [`max_frame_size`](Self::max_frame_size) | 1 MiB | huge messages exhausting memory (1009) |
/// | [`max_head_size`](Self::max_head_size) / [`max_headers`](Self::max_headers) | 8 KiB / 100 | oversized handshakes (431) |
/// | [`max_connections_per_ip`](Self::max_connections_per_ip) | a quarter of the workers; loopback exempt | one address taking every worker (429) |
/// | [`max_rooms_per_connection`](Self::max_rooms_per_connection) / [`max_room_name_len`](Self::max_room_name_len) | 100 / 256 bytes | clients making the server remember rooms without bound |
/// | [`trusted_proxies`](Self::trusted_proxies) | none | forged `Forwarded` / `X-Forwarded-For` headers deciding a client's address |
/// | [`allowed_origins`](Self::allowed_origins) | the server's own origin (and clients that send no `Origin`) | cross-site WebSocket hijacking by other web pages |
///
/// The [`limits`](crate::guide::limits) page of the guide says more about
/// each. A builder takes settings, then what to do with connections
/// (callbacks, a [`handler`](Self::handler), or [`route`](Self::route)s to
/// [`Endpoint`]s), then [`bind`](Self::bind)s:
///
/// ```
/// use std::time::Duration;
/// use stdws::server::SlowClientPolicy;
///
/// let server = stdws::Server::builder()
///     .workers(200)
///     .max_message_size(1 << 20)
///     .ping_interval(Some(Duration::from_secs(30)))
///     .max_queued_bytes(256 * 1024)
///     .slow_client_policy(SlowClientPolicy::DropMessage) // prices: the latest matters
///     .allowed_origins(["https://app.example.com"])
///     .on_message(|conn, msg| { let _ = conn.send(msg); })
///     .bind("127.0.0.1:0")?;
/// println!("bound to {}; .run() or .spawn() to serve", server.local_addr());
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Default)]
pub struct ServerBuilder {
    settings: Settings,
    router: Router,
    redis: Option<Result<crate::resp::RedisUrl>>,
    redis_prefix: Option<String>,
    /// Setup mistakes found while building, reported by `bind`.
    problems: Vec<String>,
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

    /// The most bytes the server holds for all its clients together, in
    /// messages still arriving and in outbound queues (default: a quarter
    /// of the machine's memory, at least 64 MiB; 1 GiB where `/proc/meminfo`
    /// cannot be read). Per-connection limits bound one client; this bounds
    /// their sum, which they would otherwise multiply by the number of
    /// workers. Past it, a message of 64 KiB or more still arriving is
    /// refused (the connection is closed with 1013, try again later; smaller
    /// ones pass) and the housekeeper cuts the largest queues, with 1013,
    /// until what remains fits. [`ServerStats::over_budget`](super::ServerStats::over_budget)
    /// counts the connections closed so.
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.settings.memory_budget = bytes;
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
    /// (default: declined). The server answers the first valid offer and,
    /// at the defaults, keeps a compression context with a 2<sup>12</sup>-byte
    /// window for each client that allows it, and asks the client for a
    /// window of that size (browsers let it choose);
    /// [`Compression::server_context_takeover`](crate::Compression::server_context_takeover)`(false)`
    /// compresses each message on its own instead, so that a broadcast is
    /// compressed once for every client that agreed the same window. See
    /// [`Compression`](crate::Compression) and, for the figures,
    /// [`guide::performance`](crate::guide::performance#compression).
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

    /// The largest message a client may send (default 1 MiB; 1009 beyond).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.limits.max_message_size = bytes;
        self
    }

    /// The largest frame a client may send (default 1 MiB; 1009 beyond).
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
        if self.router.fallback.is_some() {
            self.problems.push(
                "handler() was called after on_connect/on_message/on_disconnect (or a second time): the Handler would replace those closures; use one style per endpoint".into(),
            );
        }
        self.router.fallback = Some(Endpoint::handler(make));
        self
    }

    /// The fallback endpoint to add a closure to. A `Handler` there keeps
    /// its place, so that `Endpoint`'s own check reports the clash.
    fn fallback_callbacks(&mut self) -> Endpoint {
        self.router
            .fallback
            .take()
            .unwrap_or_else(Endpoint::callbacks)
    }

    /// Called when a client connects to a path without a route of its own.
    pub fn on_connect(mut self, f: impl Fn(&Connection) + Send + Sync + 'static) -> Self {
        self.router.fallback = Some(self.fallback_callbacks().on_connect(f));
        self
    }

    /// Called for each message from a client on a path without a route of its own.
    pub fn on_message(
        mut self,
        f: impl Fn(&Connection, DataMessage) + Send + Sync + 'static,
    ) -> Self {
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

    /// Serves `path` (without the query) with `endpoint`. Once any route
    /// exists, a path with none (and no fallback handler) gets 404.
    ///
    /// A segment written `{name}` matches any one non-empty segment, and
    /// the connection reads its value, percent-decoded, with
    /// [`Connection::path_param`]. A route without parameters that matches
    /// exactly wins; then routes with parameters, in the order added.
    /// A path without its leading `/`, a malformed parameter or a path
    /// routed twice makes [`bind`](Self::bind) fail with
    /// [`Error::Config`].
    ///
    /// ```no_run
    /// use stdws::server::{Endpoint, Server};
    ///
    /// let rooms = Endpoint::callbacks().on_message(|conn, message| {
    ///     let room = conn.path_param("name").unwrap_or("lobby").to_owned();
    ///     let _ = conn.server().broadcast_room(&room, message);
    /// });
    /// Server::builder().route("/room/{name}", rooms).bind("127.0.0.1:8000")?.run()
    /// # ; Ok::<(), stdws::Error>(())
    /// ```
    pub fn route(mut self, path: &str, endpoint: Endpoint) -> Self {
        match super::router::RoutePattern::parse(path) {
            Ok(pattern) => {
                if self.router.routes.iter().any(|(p, _)| p == &pattern) {
                    self.problems.push(format!(
                        "the route {path} was added twice: the second endpoint would replace the first"
                    ));
                }
                self.router.routes.push((pattern, endpoint));
            }
            Err(why) => self.problems.push(why),
        }
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

    /// Believes the `Forwarded` (RFC 7239) and `X-Forwarded-For` headers
    /// of connections from these proxies: addresses (`127.0.0.1`, `::1`)
    /// or networks (`10.0.0.0/8`, `fd00::/8`); default none. When the TCP
    /// peer is one of them, [`Connection::client_addr`] is the right-most
    /// address in those headers that is not itself a trusted proxy (port 0
    /// when the header gives none); otherwise it is the peer address, and
    /// the headers, which anyone can send, are ignored.
    /// [`Connection::peer_addr`] stays the TCP peer either way.
    ///
    /// The per-address limit ([`max_connections_per_ip`](Self::max_connections_per_ip))
    /// then counts the forwarded address, checked once the handshake
    /// request has arrived (429 past it), and no longer counts the trusted
    /// proxies themselves. An entry that is not an address or network
    /// makes [`bind`](Self::bind) fail with [`Error::Config`], naming it.
    ///
    /// ```
    /// let builder = stdws::Server::builder()
    ///     .trusted_proxies(["127.0.0.1", "::1", "10.0.0.0/8"])
    ///     .on_connect(|conn| println!("{} via {}", conn.client_addr(), conn.peer_addr()));
    /// # drop(builder);
    /// ```
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match super::forwarded::TrustedProxies::parse(proxies) {
            Ok(trusted) => self.settings.trusted_proxies = trusted,
            Err(problem) => self.problems.push(problem),
        }
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
    /// Runs `hook` when the server begins to stop (a shutdown or a drain),
    /// before it waits for its clients: for services whose requests a
    /// WebSocket close does not reach (a held long-poll).
    pub(crate) fn on_stop(mut self, hook: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.settings.stop_hooks.0.push(hook);
        self
    }

    pub(crate) fn backplane_listener(
        mut self,
        listener: std::sync::Arc<dyn crate::backplane::Listener>,
    ) -> Self {
        self.listeners.0.push(listener);
        self
    }

    /// Binds the listening socket.
    ///
    /// A port in use, or an address that is not this machine's, is
    /// [`Error::Listen`], naming the address; a setup that cannot work is
    /// [`Error::Config`].
    pub fn bind(self, addr: impl ToSocketAddrs + fmt::Debug) -> Result<Server> {
        let listen_error = |source| Error::Listen {
            addr: listen_address(&addr),
            source,
        };
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(listen_error)?.collect();
        let listener = TcpListener::bind(&addrs[..]).map_err(listen_error)?;
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
        if let Some(why) = self
            .problems
            .first()
            .cloned()
            .or_else(|| self.router.problem())
        {
            return Err(Error::Config(why));
        }
        let local_addr = listener.local_addr()?;
        if self.router.routes.is_empty()
            && self.router.fallback.is_none()
            && self.router.http.is_none()
            && self.router.services.is_empty()
        {
            return Err(Error::Config(
                "it has no endpoint: add a handler, callbacks or a route before bind".into(),
            ));
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

/// The address as the user wrote it: `"127.0.0.1:8000"`, not its `Debug`
/// form with quotes.
fn listen_address(addr: &impl fmt::Debug) -> String {
    let text = format!("{addr:?}");
    text.trim_matches('"').to_string()
}
