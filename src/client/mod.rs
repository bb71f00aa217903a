//! The blocking client: the client's side of the opening handshake (RFC 6455,
//! section 4.1) over TCP, through a proxy, over TLS from a hook, or over any
//! stream the application connected; timeouts and keepalive by default, as
//! Python `websockets` has them.
//!
//! ```text
//!   connect(url) / ClientBuilder::connect / connect_any      connect_on(stream)
//!     one deadline (open_timeout, 10 s) from here ------------+
//!     proxy? (ClientBuilder::proxy, or HTTPS_PROXY...)        |
//!     resolve, TCP connect (each address), TCP_NODELAY        |
//!     through the proxy: CONNECT or SOCKS 5 (proxy, socks)    |
//!     wss://: the TLS hook (ClientBuilder::tls)               |
//!                     \                                      /
//!                      +--> send the GET request <----------+   Sec-WebSocket-Key: fresh
//!                           read the response head (bounded, byte-exact)
//!                           101 and a matching Sec-WebSocket-Accept?
//!                             yes: WebSocket<S>, with any frames read past the head,
//!                                  its Response (WebSocket::response), keepalive pings
//!                             no:  Error::HandshakeResponse { problem, body },
//!                                  the body read within 64 KiB and a second
//! ```
//!
//! ```no_run
//! use stdws::Message;
//!
//! let mut ws = stdws::connect("ws://127.0.0.1:8000/chat")?;
//! ws.send_text("Hello")?;
//! if let Message::Text(answer) = ws.read()? {
//!     println!("{answer}");
//! }
//! ws.close_and_wait(stdws::CloseCode::NORMAL, "")?;
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! [`ClientBuilder`] adds headers, subprotocols, timeouts, keepalive,
//! proxies, TLS, limits and tracing. What the server agreed to is on the
//! WebSocket: [`WebSocket::response`]. To read in one thread and write from
//! another, see [`WebSocket::split`](crate::WebSocket::split) (the halves do
//! no keepalive of their own: ping from the writer).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::protocol::Role;
use crate::protocol::extension::{Agreed, Compression};
use crate::protocol::handshake::{ClientRequest, check_response_with, generate_key};
use crate::protocol::http::{self, HeadError, HeadLimits, HeadReader, Headers};
use crate::trace::{Tracer, next_connection_id};
use crate::url::Url;
use crate::websocket::{WebSocket, WebSocketConfig};

mod deadline;
mod keepalive;
mod proxy;
mod refusal;
mod socks;
mod stream;

use deadline::{Deadline, Timed};
use keepalive::{Attached, Keepalive};
pub use proxy::{Proxy, ProxyError, ProxyKind};
pub use socks::SocksError;
pub use stream::{ClientStream, DEFAULT_CLOSE_TIMEOUT, Socket};

/// How long opening a connection may take, by default: TCP connect, proxy,
/// TLS and the opening handshake together.
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The default keepalive ping interval, and the default wait for its pong.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// How long the body of a refused handshake may take to arrive.
const REFUSAL_BODY_WAIT: Duration = Duration::from_secs(1);

/// Connects to a `ws://` URL with the default settings (see
/// [`ClientBuilder`]: a 10 s deadline to open, keepalive pings, proxies
/// from the environment) and performs the opening handshake. For `wss://`,
/// see [`ClientBuilder::tls`].
///
/// ```no_run
/// use std::time::Duration;
/// use stdws::{CloseCode, Message};
///
/// let mut ws = stdws::connect("ws://127.0.0.1:8000/")?;
/// ws.set_read_timeout(Some(Duration::from_secs(10)))?;
/// ws.send_text("Hello")?;
/// match ws.read() {
///     Ok(Message::Text(echo)) => println!("{echo}"),
///     Ok(other) => println!("{other:?}"),
///     Err(e) if e.is_timeout() => println!("no answer within 10 s"),
///     Err(e) => return Err(e),
/// }
/// ws.close_and_wait(CloseCode::NORMAL, "")?;
/// # Ok::<(), stdws::Error>(())
/// ```
pub fn connect(url: &str) -> Result<WebSocket<TcpStream>> {
    ClientBuilder::new(url).connect()
}

/// Performs the client's opening handshake for `url` over `stream`, which
/// the caller has connected (for `wss://`, a TLS stream), with the default
/// settings.
pub fn client<S: Read + Write>(url: &str, stream: S) -> Result<WebSocket<S>> {
    ClientBuilder::new(url).connect_on(stream)
}

/// What the server agreed to in its `101 Switching Protocols` answer:
/// [`WebSocket::response`].
#[derive(Debug, Clone)]
pub struct Response {
    subprotocol: Option<String>,
    head: http::Response,
}

impl Response {
    /// The subprotocol the server chose among those offered, if it chose one
    /// (`Sec-WebSocket-Protocol`, section 4.2.2).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The response's header fields (`Set-Cookie` among them).
    pub fn headers(&self) -> &Headers {
        self.head.headers()
    }

    /// The whole response head.
    pub fn head(&self) -> &http::Response {
        &self.head
    }
}

/// The TLS hook: the host name and the TCP connection in, a TLS stream out.
type TlsHook = dyn Fn(&str, TcpStream) -> io::Result<Box<dyn stream::Duplex>> + Send + Sync;

/// Where the proxy comes from.
#[derive(Debug, Clone)]
enum ProxyChoice {
    /// The environment's variables.
    FromEnv,
    /// None at all.
    Direct,
    /// This URL, checked when connecting.
    Url(String),
}

/// Settings for a client connection, then [`connect`](Self::connect)
/// (`ws://`), [`connect_any`](Self::connect_any) (`ws://` and `wss://`) or
/// [`connect_on`](Self::connect_on) (a stream you connected).
///
/// | setting | default |
/// |---|---|
/// | [`header`](Self::header) | none beyond the handshake's own |
/// | [`subprotocol`](Self::subprotocol) | none offered |
/// | [`open_timeout`](Self::open_timeout) | 10 s for TCP connect, proxy, TLS and handshake together |
/// | [`connect_timeout`](Self::connect_timeout) | the open timeout (per address tried) |
/// | [`ping_interval`](Self::ping_interval) / [`ping_timeout`](Self::ping_timeout) | 20 s / 20 s, while inside `read()` |
/// | [`close_timeout`](Self::close_timeout) | 10 s, for [`WebSocket::close_and_wait`] |
/// | [`read_timeout`](Self::read_timeout) | none: a read waits for the next message (keepalive detects a dead server) |
/// | [`write_timeout`](Self::write_timeout) | none |
/// | [`proxy`](Self::proxy) | from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` |
/// | [`tls`](Self::tls) | none: `wss://` needs it |
/// | [`max_message_size`](Self::max_message_size), [`max_frame_size`](Self::max_frame_size) | 1 MiB |
/// | [`trace`](Self::trace) | on if `STDWS_TRACE=1` |
///
/// ```no_run
/// use std::time::Duration;
/// use stdws::client::ClientBuilder;
///
/// let ws = ClientBuilder::new("ws://127.0.0.1:8000/chat?room=1")
///     .header("Authorization", "Bearer 3q2+7w")
///     .subprotocol("chat.v2")
///     .subprotocol("chat.v1")
///     .open_timeout(Duration::from_secs(5))
///     .read_timeout(Duration::from_secs(30))
///     .connect()?;
/// println!("the server speaks {:?}", ws.response().and_then(|r| r.subprotocol()));
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    url: String,
    headers: Headers,
    subprotocols: Vec<String>,
    open_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    close_timeout: Duration,
    ping_interval: Option<Duration>,
    ping_timeout: Duration,
    proxy: ProxyChoice,
    tls: Option<Arc<TlsHook>>,
    config: WebSocketConfig,
    compression: Compression,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and proxy URLs stay out: they often hold
        // credentials, and builders end up in logs.
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name).collect();
        let proxy = match &self.proxy {
            ProxyChoice::FromEnv => "from the environment",
            ProxyChoice::Direct => "none",
            ProxyChoice::Url(_) => "given",
        };
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("headers", &header_names)
            .field("subprotocols", &self.subprotocols)
            .field("open_timeout", &self.open_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("proxy", &proxy)
            .field("tls", &self.tls.is_some())
            .field("config", &self.config)
            .field("compression", &self.compression)
            .finish()
    }
}

impl ClientBuilder {
    /// A client for `url` (`ws://` or `wss://`), with the defaults. The URL
    /// is checked when connecting.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            headers: Headers::new(),
            subprotocols: Vec::new(),
            open_timeout: Some(DEFAULT_OPEN_TIMEOUT),
            connect_timeout: None,
            read_timeout: None,
            write_timeout: None,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            ping_timeout: DEFAULT_PING_INTERVAL,
            proxy: ProxyChoice::FromEnv,
            tls: None,
            config: WebSocketConfig::default(),
            compression: Compression::disabled(),
        }
    }

    /// Offers `permessage-deflate` (RFC 7692) with these settings (default:
    /// not offered). The server's answer is checked: one this client cannot
    /// accept fails the handshake with [`Error::HandshakeResponse`]; a server
    /// that declines leaves messages uncompressed.
    ///
    /// ```
    /// use stdws::{ClientBuilder, Compression};
    /// let client = ClientBuilder::new("ws://127.0.0.1:9001/").compression(Compression::default());
    /// # let _ = client;
    /// ```
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Adds a header field to the request: `Authorization`, `Cookie`,
    /// `Origin`, `User-Agent`... A `Host` field replaces the one derived from
    /// the URL. The fields the handshake writes itself (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`) cannot be set this way: connecting
    /// fails if one is.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`). Call it once per
    /// subprotocol, most preferred first; [`Response::subprotocol`] tells
    /// which one the server chose.
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.subprotocols.push(name.into());
        self
    }

    /// How long opening the connection may take in all: resolving, the TCP
    /// connect, the proxy, the TLS hook and the opening handshake (default
    /// 10 s; `None` for no limit). It is a deadline, not a timeout per read:
    /// a server that trickles its answer fails at the deadline too, with
    /// [`Error::HandshakeTimeout`]. With [`connect_on`](Self::connect_on),
    /// the deadline is checked between reads of your stream, which a read
    /// that blocks cannot see: set a timeout on your stream as well.
    pub fn open_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.open_timeout = timeout.into();
        self
    }

    /// How long to wait for each address's TCP connect (default: as long as
    /// the open timeout leaves).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long a read may wait (default: no limit; keepalive pings detect a
    /// server that is gone): each read of the opening handshake too, within
    /// the open timeout, and each call to `read()` after it. A read that
    /// times out fails with an [`Error::Io`] for which [`Error::is_timeout`]
    /// holds, and the connection stays usable. Change it later with
    /// [`WebSocket::set_read_timeout`]. With [`connect_on`](Self::connect_on),
    /// set timeouts on your stream yourself.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// How long any write may wait for the server to take the bytes
    /// (default: no limit; during the opening, the open timeout bounds it).
    /// A write that times out
    /// may have sent part of a frame, after which the connection can only be
    /// dropped.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// How long [`WebSocket::close_and_wait`] waits for the server's close
    /// frame (default 10 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Keepalive: how often to ping the server (default 20 s; `None` for
    /// no pings). A blocking client has no thread of its own, so pings go
    /// out while the application is inside [`WebSocket::read`], which
    /// hides their pongs; between two reads nothing is sent, and the next
    /// read pings at once if the interval has passed. A server that does not
    /// answer within the [`ping_timeout`](Self::ping_timeout) makes `read`
    /// fail with [`Error::PingTimeout`] (after a close 1011). Needs a socket:
    /// not with [`connect_on`](Self::connect_on), and not in the halves of
    /// [`WebSocket::split`] (ping from the writer half there).
    pub fn ping_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.ping_interval = interval.into();
        self
    }

    /// How long a keepalive ping may wait for its pong (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// Connects through this proxy, whatever the environment says:
    /// `http://[user:password@]host:port` (a `CONNECT` tunnel, with basic
    /// credentials), `socks5://` (SOCKS 5, the host name resolved here) or
    /// `socks5h://` (resolved by the proxy), with `user:password@` for
    /// RFC 1929. A proxy that refuses fails with [`Error::Proxy`]: the HTTP
    /// status and reason, or the SOCKS reply in words.
    ///
    /// ```no_run
    /// let ws = stdws::ClientBuilder::new("ws://echo.example/")
    ///     .proxy("http://bob:secret@proxy.corp:3128")
    ///     .connect()?;
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxyChoice::Url(url.into());
        self
    }

    /// Connects directly, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Direct;
        self
    }

    /// Whether to take the proxy from the environment (the default), as
    /// curl does: `https_proxy` or `HTTPS_PROXY` for `wss://`, `http_proxy`
    /// or `HTTP_PROXY` for `ws://`, else `all_proxy` or `ALL_PROXY`; none
    /// for a host that `no_proxy` or `NO_PROXY` lists (comma-separated:
    /// `*`, domain suffixes such as `.corp` or `example.com`, IP addresses,
    /// networks such as `10.0.0.0/8`, each optionally with `:port`).
    /// `false` connects directly unless [`proxy`](Self::proxy) names one.
    pub fn proxy_from_env(mut self, read: bool) -> Self {
        if read {
            self.proxy = ProxyChoice::FromEnv;
        } else if let ProxyChoice::FromEnv = self.proxy {
            self.proxy = ProxyChoice::Direct;
        }
        self
    }

    /// The TLS hook for `wss://` URLs (through a proxy too): given the URL's
    /// host name and the connected TCP stream, returns the TLS stream over
    /// it, from the TLS crate of your choice. Then
    /// [`connect_any`](Self::connect_any) connects to `wss://` and `ws://`
    /// URLs alike. The open timeout bounds the hook's reads too: the
    /// socket's timeouts are set to the time left before it is called.
    ///
    /// ```no_run
    /// use std::net::TcpStream;
    /// use stdws::ClientBuilder;
    ///
    /// // Stands in for your TLS crate: a real one returns a TLS session over
    /// // `tcp` for `host` (rustls's `StreamOwned<ClientConnection, TcpStream>`,
    /// // native-tls's `TlsStream<TcpStream>`...); any owned
    /// // Read + Write + Send stream works.
    /// fn tls_connect(_host: &str, tcp: TcpStream) -> std::io::Result<TcpStream> {
    ///     Ok(tcp)
    /// }
    ///
    /// let mut ws = ClientBuilder::new("wss://example.com/feed")
    ///     .tls(|host, tcp| tls_connect(host, tcp))
    ///     .connect_any()?;
    /// ws.send_text("subscribe")?;
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn tls<F, S>(mut self, hook: F) -> Self
    where
        F: Fn(&str, TcpStream) -> io::Result<S> + Send + Sync + 'static,
        S: Read + Write + Send + 'static,
    {
        self.tls = Some(Arc::new(move |host: &str, tcp: TcpStream| {
            hook(host, tcp).map(|s| Box::new(s) as Box<dyn stream::Duplex>)
        }));
        self
    }

    /// The largest message the server may send, over all its fragments
    /// (default 1 MiB). A larger one fails the connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config = self.config.max_message_size(bytes);
        self
    }

    /// The largest frame the server may send (default 1 MiB). A larger one
    /// fails the connection with 1009 as soon as its header arrives.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config = self.config.max_frame_size(bytes);
        self
    }

    /// Prints the handshake and every frame to `tracer` (see [`Tracer`]);
    /// off unless `STDWS_TRACE=1` is set.
    pub fn trace(mut self, tracer: Tracer) -> Self {
        self.config = self.config.trace(tracer);
        self
    }

    /// Connects over TCP (through the proxy, if any) to a `ws://` URL and
    /// performs the opening handshake; the WebSocket's
    /// [`response`](WebSocket::response) tells what the server agreed to.
    ///
    /// Every address the host resolves to is tried in turn. Fails with
    /// [`Error::Url`] for a bad URL or a `wss://` one (use
    /// [`connect_any`](Self::connect_any) with a [`tls`](Self::tls) hook),
    /// with [`Error::Io`] when no address accepts the connection, with
    /// [`Error::Proxy`] when the proxy refuses, with
    /// [`Error::HandshakeTimeout`] when the open timeout passes, and with
    /// [`Error::HandshakeResponse`] when the server refuses or answers
    /// wrongly.
    pub fn connect(&self) -> Result<WebSocket<TcpStream>> {
        let url = Url::parse(&self.url)?;
        if url.is_secure() {
            return Err(Error::Url(
                "wss:// needs TLS: give ClientBuilder::tls a hook and call connect_any, or connect the TLS stream yourself and call connect_on"
                    .to_owned(),
            ));
        }
        let (tcp, deadline, id) = self.open(&url)?;
        let socket = tcp.try_clone()?;
        self.finish(&url, tcp, Some(socket), deadline, id)
    }

    /// Connects to a `ws://` or a `wss://` URL, the latter with the
    /// [`tls`](Self::tls) hook, through the proxy if any; otherwise as
    /// [`connect`](Self::connect). The stream is a [`ClientStream`].
    pub fn connect_any(&self) -> Result<WebSocket<ClientStream>> {
        let url = Url::parse(&self.url)?;
        if url.is_secure() && self.tls.is_none() {
            return Err(Error::Url(
                "wss:// needs TLS: give ClientBuilder::tls a hook that makes a TLS stream of the TCP one"
                    .to_owned(),
            ));
        }
        let (tcp, deadline, id) = self.open(&url)?;
        let socket = tcp.try_clone()?;
        let stream = match &self.tls {
            Some(hook) if url.is_secure() => {
                deadline
                    .arm(Some(&socket))
                    .map_err(timeout_as_handshake_timeout)?;
                let tls = hook(url.host(), tcp).map_err(timeout_as_handshake_timeout)?;
                ClientStream::tls(tls, socket.try_clone()?)
            }
            _ => ClientStream::plain(tcp),
        };
        self.finish(&url, stream, Some(socket), deadline, id)
    }

    /// Performs the opening handshake over `stream`, which the caller has
    /// connected to the URL's host (through any proxy, with any TLS). The
    /// open timeout is checked between reads; read, write and keepalive
    /// settings need a socket and do not apply: set timeouts on your stream.
    pub fn connect_on<S: Read + Write>(&self, stream: S) -> Result<WebSocket<S>> {
        let url = Url::parse(&self.url)?;
        self.check_request_fields()?;
        let deadline = Deadline::after(self.open_timeout);
        self.finish(&url, stream, None, deadline, next_connection_id())
    }

    /// The TCP connection to the server (through the proxy, if any), and
    /// the deadline that bounds the rest of the opening.
    fn open(&self, url: &Url) -> Result<(TcpStream, Deadline, u64)> {
        self.check_request_fields()?;
        // The read and write timeouts bound each read and write of the
        // opening too, as they bound those after it.
        let deadline =
            Deadline::after(self.open_timeout).per_io(self.read_timeout, self.write_timeout);
        let id = next_connection_id();
        let proxy = match &self.proxy {
            ProxyChoice::Direct => None,
            ProxyChoice::Url(proxy) => Some(Proxy::parse(proxy)?),
            ProxyChoice::FromEnv => {
                proxy::from_env(url.is_secure(), url.host(), url.port(), &|name| {
                    std::env::var(name).ok()
                })?
            }
        };
        let (host, port) = match &proxy {
            Some(proxy) => (proxy.host(), proxy.port()),
            None => (url.host(), url.port()),
        };
        let mut tcp = self.open_tcp(host, port, proxy.is_some(), deadline)?;
        let tracer = &self.config.tracer;
        if tracer.is_on() {
            if let Ok(addr) = tcp.peer_addr() {
                match &proxy {
                    Some(p) => tracer.event(
                        id,
                        &format!("connected to the proxy {addr} ({:?})", p.kind()),
                    ),
                    None => tracer.event(id, &format!("connected to {addr}")),
                }
            }
        }
        tcp.set_nodelay(true)?;
        if let Some(proxy) = &proxy {
            let socket = tcp.try_clone()?;
            let mut timed = Timed {
                inner: &mut tcp,
                deadline,
                socket: Some(&socket),
            };
            if let Err(e) = proxy::tunnel(&mut timed, proxy, url.host(), url.port()) {
                let e = match e {
                    Error::Io(e) => timeout_as_handshake_timeout(e),
                    other => other,
                };
                tracer.event(id, &format!("proxy failed: {e}"));
                return Err(e);
            }
            tracer.event(id, &format!("tunnel open to {}:{}", url.host(), url.port()));
        }
        Ok((tcp, deadline, id))
    }

    /// Connects to the first of the host's addresses that accepts.
    fn open_tcp(
        &self,
        host: &str,
        port: u16,
        is_proxy: bool,
        deadline: Deadline,
    ) -> Result<TcpStream> {
        let what = if is_proxy { "the proxy " } else { "" };
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {what}{host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{what}{host} resolves to no address"),
            )));
        }
        let mut failures = Vec::new();
        let mut last_kind = io::ErrorKind::NotConnected;
        for addr in &addrs {
            let left = deadline.remaining().map_err(|_| Error::HandshakeTimeout)?;
            let timeout = match (self.connect_timeout, left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let attempt = match timeout {
                Some(timeout) => TcpStream::connect_timeout(addr, timeout),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    last_kind = e.kind();
                    failures.push(format!("{addr}: {e}"));
                }
            }
        }
        let hint = if is_proxy {
            "is the proxy running?"
        } else {
            "is the server running?"
        };
        Err(Error::Connect {
            addr: format!("{what}{host} port {port}"),
            source: io::Error::new(last_kind, format!("{}; {hint}", failures.join("; "))),
        })
    }

    /// Performs the handshake within `deadline`, then makes the WebSocket
    /// with its client part.
    fn finish<S: Read + Write>(
        &self,
        url: &Url,
        mut stream: S,
        socket: Option<TcpStream>,
        deadline: Deadline,
        id: u64,
    ) -> Result<WebSocket<S>> {
        let (response, agreed, leftover) =
            self.handshake(url, &mut stream, socket.as_ref(), deadline, id)?;
        if let Some(socket) = &socket {
            socket.set_read_timeout(self.read_timeout)?;
            socket.set_write_timeout(self.write_timeout)?;
        }
        let keepalive = match (self.ping_interval, &socket) {
            (Some(interval), Some(_)) => {
                Some(Keepalive::new(interval, self.ping_timeout, Instant::now()))
            }
            _ => None,
        };
        let mut ws = WebSocket::from_partially_read(stream, &leftover, Role::Client, &self.config)
            .with_trace_id(id);
        ws.set_compression(agreed, &self.compression);
        Ok(ws.with_companion(Box::new(Attached::new(
            response,
            socket,
            keepalive,
            self.read_timeout,
            self.write_timeout,
            self.close_timeout,
        ))))
    }

    /// Sends the request, reads and checks the answer, all within
    /// `deadline`; returns the response, the compression agreed and the
    /// bytes read past the head.
    fn handshake<S: Read + Write>(
        &self,
        url: &Url,
        stream: &mut S,
        socket: Option<&TcpStream>,
        deadline: Deadline,
        id: u64,
    ) -> Result<(Response, Option<Agreed>, Vec<u8>)> {
        let tracer = &self.config.tracer;
        let mut host = url.host_header();
        let mut headers = Headers::new();
        for (name, value) in self.headers.iter() {
            if name.eq_ignore_ascii_case("Host") {
                host = value.to_owned();
            } else {
                headers.append(name, value);
            }
        }
        if let Some(offer) = self.compression.offer() {
            headers.append("Sec-WebSocket-Extensions", offer);
        }
        let request = ClientRequest {
            host,
            resource: url.resource().to_owned(),
            subprotocols: self.subprotocols.clone(),
            headers,
        };
        let key = generate_key()?;
        let bytes = request.to_bytes(&key);
        if tracer.is_on() {
            tracer.handshake_dir(id, "->", "request", &String::from_utf8_lossy(&bytes));
        }
        let mut timed = Timed {
            inner: stream,
            deadline,
            socket,
        };
        timed
            .write_all(&bytes)
            .and_then(|_| timed.flush())
            .map_err(timeout_as_handshake_timeout)?;

        let (response, leftover) = match read_response(&mut timed, self.config.head_limits) {
            Ok(answer) => answer,
            Err(e) => {
                tracer.event(id, &format!("handshake failed: {e}"));
                return Err(e);
            }
        };
        if tracer.is_on() {
            tracer.handshake_dir(id, "<-", "response", &head_text(&response));
        }
        match check_response_with(&response, &key, &self.subprotocols, &self.compression) {
            Ok((subprotocol, agreed)) => Ok((
                Response {
                    subprotocol,
                    head: response,
                },
                agreed,
                leftover,
            )),
            Err(problem) => {
                let body = if response.status() == 101 {
                    // After a 101 come frames, not a body.
                    Vec::new()
                } else {
                    // The body only explains the refusal: a second at most.
                    timed.deadline = deadline.capped(REFUSAL_BODY_WAIT);
                    refusal::read_body(&mut timed, &response, leftover)
                };
                let error = Error::HandshakeResponse { problem, body };
                tracer.event(id, &format!("handshake failed: {error}"));
                Err(error)
            }
        }
    }

    /// Refuses header fields and subprotocols that would corrupt the request
    /// or contradict the handshake, before anything is sent.
    fn check_request_fields(&self) -> Result<()> {
        const OWNED: [&str; 4] = [
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version",
        ];
        for (name, value) in self.headers.iter() {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(invalid(format!(
                    "the header name {name:?} is not a valid HTTP field name"
                )));
            }
            if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(invalid(format!(
                    "the value of header {name} contains a control character (a line break would end the field)"
                )));
            }
            if name.eq_ignore_ascii_case("Sec-WebSocket-Protocol") {
                return Err(invalid(
                    "offer subprotocols with ClientBuilder::subprotocol, not as a header"
                        .to_owned(),
                ));
            }
            if name.eq_ignore_ascii_case("Sec-WebSocket-Extensions") {
                return Err(invalid(
                    "stdws negotiates no extensions: remove the Sec-WebSocket-Extensions header"
                        .to_owned(),
                ));
            }
            if OWNED.iter().any(|o| name.eq_ignore_ascii_case(o)) {
                return Err(invalid(format!(
                    "the handshake sets the {name} header itself: remove it"
                )));
            }
        }
        if self.headers.count("Host") > 1 {
            return Err(invalid("set the Host header at most once".to_owned()));
        }
        for protocol in &self.subprotocols {
            if protocol.is_empty() || !protocol.bytes().all(is_token_byte) {
                return Err(invalid(format!(
                    "the subprotocol {protocol:?} is not a valid token (RFC 6455 section 4.1: letters, digits and !#$%&'*+-.^_`|~)"
                )));
            }
        }
        Ok(())
    }
}

/// A `tchar` of RFC 9110, section 5.6.2: what header names and subprotocol
/// names are made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn invalid(why: String) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, why))
}

fn timeout_as_handshake_timeout(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::HandshakeTimeout,
        _ => Error::Io(e),
    }
}

/// Reads the response head; returns it and the bytes read past it, which are
/// the first frames of the connection (a server may send them in the same
/// packet as its 101) or the start of a refusal's body.
fn read_response(stream: &mut impl Read, limits: HeadLimits) -> Result<(http::Response, Vec<u8>)> {
    let mut reader = HeadReader::new(limits);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without answering the handshake \
                     (is it a WebSocket endpoint? for wss://, is the stream TLS?)",
                )));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(timeout_as_handshake_timeout(e)),
        };
        let (used, done) = reader.feed(&chunk[..n]).map_err(bad_head)?;
        if done {
            let response = http::Response::parse_head(reader.head(), limits).map_err(bad_head)?;
            return Ok((response, chunk[used..n].to_vec()));
        }
    }
}

fn bad_head(e: HeadError) -> Error {
    let why = match e {
        HeadError::TooLarge(max) => {
            format!("the server's response head is larger than {max} bytes")
        }
        HeadError::TooManyHeaders(max) => {
            format!("the server's response has more than {max} header fields")
        }
        HeadError::Malformed(what) => format!(
            "the server's answer is not an HTTP response ({what}): is it a WebSocket endpoint? \
             (a wss:// server needs TLS)"
        ),
    };
    Error::Io(io::Error::new(io::ErrorKind::InvalidData, why))
}

/// The response head as text, for tracing.
fn head_text(response: &http::Response) -> String {
    let mut text = format!("HTTP/1.1 {} {}\r\n", response.status(), response.reason());
    for (name, value) in response.headers().iter() {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_header_values_out() {
        let builder = ClientBuilder::new("ws://h/")
            .header("Authorization", "Bearer s3cr3t")
            .proxy("http://bob:pr0xypass@proxy:3128");
        let debug = format!("{builder:?}");
        assert!(debug.contains("Authorization"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("pr0xypass"), "{debug}");
    }

    #[test]
    fn proxy_choices_combine_as_documented() {
        let choice = |b: ClientBuilder| format!("{:?}", b.proxy);
        assert_eq!(choice(ClientBuilder::new("ws://h/")), "FromEnv");
        assert_eq!(
            choice(ClientBuilder::new("ws://h/").proxy_from_env(false)),
            "Direct"
        );
        let given = ClientBuilder::new("ws://h/")
            .proxy("socks5://p")
            .proxy_from_env(false);
        assert_eq!(choice(given), "Url(\"socks5://p\")");
        let direct = ClientBuilder::new("ws://h/").proxy("socks5://p").no_proxy();
        assert_eq!(choice(direct.proxy_from_env(true)), "FromEnv");
    }

    #[test]
    fn handshake_fields_that_would_corrupt_the_request_are_refused() {
        for builder in [
            ClientBuilder::new("ws://h/").header("X-A", "1\r\nX-B: 2"),
            ClientBuilder::new("ws://h/").header("Bad Name", "1"),
            ClientBuilder::new("ws://h/").header("upgrade", "h2c"),
            ClientBuilder::new("ws://h/").header("Sec-WebSocket-Protocol", "chat"),
            ClientBuilder::new("ws://h/").subprotocol("two words"),
            ClientBuilder::new("ws://h/")
                .header("Host", "a")
                .header("host", "b"),
        ] {
            match builder.check_request_fields() {
                Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
                other => panic!("{builder:?}: {other:?}"),
            }
        }
        assert!(
            ClientBuilder::new("ws://h/")
                .header("Origin", "https://example.com")
                .header("Host", "example.com")
                .subprotocol("chat.v1")
                .check_request_fields()
                .is_ok()
        );
    }
}
