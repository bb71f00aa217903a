//! The blocking client: the client's side of the opening handshake (RFC 6455,
//! section 4.1) over TCP, or over any stream the application connected.
//!
//! ```text
//!   connect(url) / ClientBuilder::connect        ClientBuilder::connect_on(stream)
//!     resolve the host, try each address            (TLS for wss://: the application
//!     with the connect timeout, TCP_NODELAY          connects, then hands the stream in)
//!                     \                             /
//!                      +--> send the GET request <-+    Sec-WebSocket-Key: fresh, random
//!                           read the response head      (bounded, byte-exact)
//!                           101 and a matching Sec-WebSocket-Accept?
//!                             yes: WebSocket<S>, with any frames read past the head
//!                             no:  Error::HandshakeResponse { problem, body }
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
//! ws.close(stdws::CloseCode::NORMAL, "")?;
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! [`ClientBuilder`] adds headers, subprotocols, timeouts, limits and tracing,
//! and returns what the server agreed to beside the WebSocket ([`Accepted`]).
//! To read in one thread and write from another, see
//! [`WebSocket::split`](crate::WebSocket::split).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::protocol::Role;
use crate::protocol::extension::Compression;
use crate::protocol::handshake::{ClientRequest, check_response_with, generate_key};
use crate::protocol::http::{HeadError, HeadLimits, HeadReader, Headers, Response};
use crate::trace::{Tracer, next_connection_id};
use crate::url::Url;
use crate::websocket::{WebSocket, WebSocketConfig};

/// The most bytes of a refusal's body kept for [`Error::HandshakeResponse`]:
/// enough for any explanation, too little for a server to exhaust memory.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// Connects to a `ws://` URL with the default settings and performs the
/// opening handshake.
///
/// There are no timeouts: use [`ClientBuilder`] to bound the connect, the
/// handshake and later reads, or set one on the socket afterwards, as here.
/// For `wss://`, see [`ClientBuilder::connect_on`].
///
/// ```no_run
/// use std::time::Duration;
/// use stdws::{CloseCode, Message};
///
/// let mut ws = stdws::connect("ws://127.0.0.1:8000/")?;
/// ws.get_ref().set_read_timeout(Some(Duration::from_secs(10)))?;
/// ws.send_text("Hello")?;
/// match ws.read() {
///     Ok(Message::Text(echo)) => println!("{echo}"),
///     Ok(other) => println!("{other:?}"),
///     Err(e) if e.is_timeout() => println!("no answer within 10 s"),
///     Err(e) => return Err(e),
/// }
/// ws.close(CloseCode::NORMAL, "")?;
/// # Ok::<(), stdws::Error>(())
/// ```
pub fn connect(url: &str) -> Result<WebSocket<TcpStream>> {
    ClientBuilder::new(url).connect().map(|(ws, _)| ws)
}

/// Performs the client's opening handshake for `url` over `stream`, which
/// the caller has connected (for `wss://`, a TLS stream), with the default
/// settings.
pub fn client<S: Read + Write>(url: &str, stream: S) -> Result<WebSocket<S>> {
    ClientBuilder::new(url).connect_on(stream).map(|(ws, _)| ws)
}

/// What the server agreed to in its `101 Switching Protocols` answer.
#[derive(Debug, Clone)]
pub struct Accepted {
    subprotocol: Option<String>,
    response: Response,
}

impl Accepted {
    /// The subprotocol the server chose among those offered, if it chose one
    /// (`Sec-WebSocket-Protocol`, section 4.2.2).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The server's response head (its headers include any `Set-Cookie`).
    pub fn response(&self) -> &Response {
        &self.response
    }
}

/// Settings for a client connection, then [`connect`](Self::connect) or
/// [`connect_on`](Self::connect_on).
///
/// | setting | default |
/// |---|---|
/// | [`header`](Self::header) | none beyond the handshake's own |
/// | [`subprotocol`](Self::subprotocol) | none offered |
/// | [`connect_timeout`](Self::connect_timeout) | the operating system's (minutes) |
/// | [`read_timeout`](Self::read_timeout) | none: a silent server blocks a read forever |
/// | [`write_timeout`](Self::write_timeout) | none |
/// | [`max_message_size`](Self::max_message_size), [`max_frame_size`](Self::max_frame_size) | 1 MiB |
/// | [`trace`](Self::trace) | on if `STDWS_TRACE=1` |
///
/// ```no_run
/// use std::time::Duration;
/// use stdws::client::ClientBuilder;
///
/// let (mut ws, accepted) = ClientBuilder::new("ws://127.0.0.1:8000/chat?room=1")
///     .header("Authorization", "Bearer 3q2+7w")
///     .subprotocol("chat.v2")
///     .subprotocol("chat.v1")
///     .connect_timeout(Duration::from_secs(5))
///     .read_timeout(Duration::from_secs(30))
///     .connect()?;
/// println!("the server speaks {:?}", accepted.subprotocol());
/// ws.send_text("hello")?;
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    url: String,
    headers: Headers,
    subprotocols: Vec<String>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    config: WebSocketConfig,
    compression: Compression,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values stay out: they are often credentials, and builders
        // end up in logs.
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("headers", &header_names)
            .field("subprotocols", &self.subprotocols)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
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
            connect_timeout: None,
            read_timeout: None,
            write_timeout: None,
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
    /// subprotocol, most preferred first; [`Accepted::subprotocol`] tells
    /// which one the server chose.
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.subprotocols.push(name.into());
        self
    }

    /// How long to wait for each address's TCP connect (default: the
    /// operating system's limit, often minutes).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long any read may wait, from the handshake's answer to every
    /// message after it (default: no limit). A read that times out fails with
    /// [`Error::HandshakeTimeout`] during the handshake and with an
    /// [`Error::Io`] for which [`Error::is_timeout`] holds after it; the
    /// connection stays usable after the latter. Set on the socket by
    /// [`connect`](Self::connect); with [`connect_on`](Self::connect_on), set
    /// timeouts on your stream yourself.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// How long any write may wait for the server to take the bytes (default:
    /// no limit). A write that times out may have sent part of a frame, after
    /// which the connection can only be dropped.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
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

    /// Connects over TCP and performs the opening handshake.
    ///
    /// Every address the host resolves to is tried in turn, each within the
    /// connect timeout. Fails with [`Error::Url`] for a bad URL or a `wss://`
    /// one (which needs TLS: see [`connect_on`](Self::connect_on)), with
    /// [`Error::Io`] when no address accepts the connection, with
    /// [`Error::HandshakeTimeout`] when the server does not answer within the
    /// read timeout, and with [`Error::HandshakeResponse`] when it refuses or
    /// answers wrongly.
    pub fn connect(&self) -> Result<(WebSocket<TcpStream>, Accepted)> {
        let url = Url::parse(&self.url)?;
        if url.is_secure() {
            return Err(Error::Url(
                "wss:// needs a TLS stream: connect it yourself and pass it to ClientBuilder::connect_on"
                    .to_owned(),
            ));
        }
        self.check_request_fields()?;
        let id = next_connection_id();
        let stream = self.open_tcp(&url)?;
        let tracer = &self.config.tracer;
        if tracer.is_on() {
            if let Ok(addr) = stream.peer_addr() {
                tracer.event(id, &format!("connected to {addr}"));
            }
        }
        stream.set_nodelay(true)?;
        stream.set_read_timeout(self.read_timeout)?;
        stream.set_write_timeout(self.write_timeout)?;
        self.handshake(&url, stream, id)
    }

    /// Performs the opening handshake over `stream`, which the caller has
    /// connected to the URL's host: this is how `wss://` works, with a TLS
    /// stream from the TLS crate of your choice. The timeouts of this builder
    /// do not apply: set them on the stream.
    ///
    /// ```no_run
    /// use std::io::{Read, Write};
    /// use std::net::TcpStream;
    /// use stdws::client::ClientBuilder;
    ///
    /// // Stands in for your TLS crate (rustls's `StreamOwned`, native-tls's
    /// // `TlsConnector::connect`...): any connected Read + Write stream works.
    /// fn tls_connect(_host: &str, tcp: TcpStream) -> std::io::Result<impl Read + Write> {
    ///     Ok(tcp) // a real one returns a TLS session over `tcp`
    /// }
    ///
    /// let tcp = TcpStream::connect("example.com:443")?;
    /// let tls = tls_connect("example.com", tcp)?;
    /// let (mut ws, _) = ClientBuilder::new("wss://example.com/feed").connect_on(tls)?;
    /// ws.send_text("subscribe")?;
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn connect_on<S: Read + Write>(&self, stream: S) -> Result<(WebSocket<S>, Accepted)> {
        let url = Url::parse(&self.url)?;
        self.check_request_fields()?;
        self.handshake(&url, stream, next_connection_id())
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

    /// Connects to the first of the URL's addresses that accepts.
    fn open_tcp(&self, url: &Url) -> Result<TcpStream> {
        let addrs: Vec<SocketAddr> = (url.host(), url.port())
            .to_socket_addrs()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {}: {e}", url.host())))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} resolves to no address", url.host()),
            )));
        }
        let mut failures = Vec::new();
        let mut last_kind = io::ErrorKind::NotConnected;
        for addr in &addrs {
            let attempt = match self.connect_timeout {
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
        Err(Error::Io(io::Error::new(
            last_kind,
            format!(
                "cannot connect to {} port {} ({}); is the server running?",
                url.host(),
                url.port(),
                failures.join("; ")
            ),
        )))
    }

    /// Sends the request, reads and checks the answer.
    fn handshake<S: Read + Write>(
        &self,
        url: &Url,
        mut stream: S,
        id: u64,
    ) -> Result<(WebSocket<S>, Accepted)> {
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
        stream
            .write_all(&bytes)
            .and_then(|_| stream.flush())
            .map_err(timeout_as_handshake_timeout)?;

        let (response, leftover) = match read_response(&mut stream, self.config.head_limits) {
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
            Ok((subprotocol, agreed)) => {
                let mut ws =
                    WebSocket::from_partially_read(stream, &leftover, Role::Client, &self.config)
                        .with_trace_id(id);
                ws.set_compression(agreed, &self.compression);
                Ok((
                    ws,
                    Accepted {
                        subprotocol,
                        response,
                    },
                ))
            }
            Err(problem) => {
                let body = if response.status() == 101 {
                    // After a 101 come frames, not a body.
                    Vec::new()
                } else {
                    read_body(&mut stream, &response, leftover)
                };
                let error = Error::HandshakeResponse { problem, body };
                tracer.event(id, &format!("handshake failed: {error}"));
                Err(error)
            }
        }
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
fn read_response(stream: &mut impl Read, limits: HeadLimits) -> Result<(Response, Vec<u8>)> {
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
            let response = Response::parse_head(reader.head(), limits).map_err(bad_head)?;
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
fn head_text(response: &Response) -> String {
    let mut text = format!("HTTP/1.1 {} {}\r\n", response.status(), response.reason());
    for (name, value) in response.headers().iter() {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text
}

/// Reads the body of a refusal, as far as [`MAX_REFUSAL_BODY`]: by its
/// `Content-Length`, its chunked framing, or up to the end of the stream
/// (RFC 9112, section 6.3). A read error ends it early: the body only
/// explains the refusal, which is the error to report.
fn read_body(stream: &mut impl Read, response: &Response, mut raw: Vec<u8>) -> Vec<u8> {
    let status = response.status();
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Vec::new();
    }
    let headers = response.headers();
    let chunked = headers.has_token("Transfer-Encoding", "chunked");
    let want = match headers
        .get("Content-Length")
        .map(|v| v.trim().parse::<u64>())
    {
        Some(Ok(len)) if !chunked => len.min(MAX_REFUSAL_BODY as u64) as usize,
        _ => MAX_REFUSAL_BODY,
    };
    let mut chunk = [0u8; 4096];
    while raw.len() < want && !(chunked && decode_chunked(&raw).1) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    raw.truncate(want);
    if chunked { decode_chunked(&raw).0 } else { raw }
}

/// Decodes as much of a chunked body as `raw` holds (RFC 9112, section 7.1);
/// returns the data and whether the body is complete (or cannot be decoded,
/// so that there is no use reading more).
fn decode_chunked(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(line_end) = raw.iter().position(|&b| b == b'\n') else {
            return (data, false);
        };
        let line = String::from_utf8_lossy(&raw[..line_end]);
        let size = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return (data, true);
        };
        if size == 0 {
            return (data, true);
        }
        raw = &raw[line_end + 1..];
        if raw.len() < size {
            data.extend_from_slice(raw);
            return (data, false);
        }
        data.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        raw = raw.strip_prefix(b"\r").unwrap_or(raw);
        match raw.strip_prefix(b"\n") {
            Some(rest) => raw = rest,
            None if raw.is_empty() => return (data, false),
            None => return (data, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_whole_and_in_part() {
        assert_eq!(
            decode_chunked(b"7\r\ngo away\r\n3;x=y\r\n!!!\r\n0\r\n\r\n"),
            (b"go away!!!".to_vec(), true)
        );
        assert_eq!(decode_chunked(b"7\r\ngo a"), (b"go a".to_vec(), false));
        assert_eq!(
            decode_chunked(b"7\r\ngo away\r\n"),
            (b"go away".to_vec(), false)
        );
        assert_eq!(decode_chunked(b"zz\r\n"), (Vec::new(), true));
        assert_eq!(decode_chunked(b""), (Vec::new(), false));
    }

    #[test]
    fn debug_output_leaves_header_values_out() {
        let builder = ClientBuilder::new("ws://h/").header("Authorization", "Bearer s3cr3t");
        let debug = format!("{builder:?}");
        assert!(debug.contains("Authorization"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
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
