//! A protocol inspector: a page that draws every frame of its own
//! WebSocket connection, live, as RFC 6455 section 5.2 draws frames.
//!
//! ```text
//! cargo run --release --example inspector [-- --port 8000]
//! ```
//!
//! Open http://127.0.0.1:8000/. The page makes up a token and opens two
//! WebSockets:
//!
//! - `/ws?token=T`, the connection under inspection. The server traces it
//!   with [`Tracer::to_fn`]; it echoes text and binary messages, and
//!   answers the commands below, which the page's buttons send.
//! - `/trace?token=T`, over which the server streams the trace events of
//!   the first connection as JSON, one text message per event (the events
//!   of this second connection are not traced).
//!
//! | text sent on `/ws` | what the server does                                   |
//! |--------------------|--------------------------------------------------------|
//! | `!ping`            | sends a ping (the browser answers with a pong)         |
//! | `!fragments`       | sends one text message in three frames                 |
//! | `!close CODE`      | starts the closing handshake with `CODE`               |
//! | `!masked`          | sends a masked frame, which a client must refuse (5.1) |
//! | `!bad-utf8`        | sends a text frame that is not UTF-8 (8.1)             |
//! | anything else      | echoed                                                 |
//!
//! The inspected connection takes messages of up to 100,000 bytes: the page
//! has a button that sends more, and the server fails the connection with
//! 1009 (a violation of its limit, section 10.4), which the page shows.
//!
//! A browser cannot send fragments or pings from JavaScript, so the server
//! sends those. The last three rows of the table are frames that stdws
//! would never send: the example writes their bytes to the socket itself,
//! under the WebSocket, and reports them to the page as "written raw".
//!
//! The server side is the low-level API: a `TcpListener`, a thread per
//! connection, [`stdws::protocol::http::HeadReader`] to see which path was
//! asked for, and [`stdws::accept_with_config`] for the WebSockets.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use stdws::json::Value;
use stdws::protocol::frame::{FrameHeader, OpCode};
use stdws::protocol::handshake::WEBSOCKET_GUID as GUID;
use stdws::protocol::http::{HeadLimits, HeadReader, Request, Response};
use stdws::trace::{Direction, TraceEvent, Tracer};
use stdws::{CloseCode, Message, WebSocketConfig};

const PAGE: &str = include_str!("inspector/index.html");

/// Bounds on what the example keeps for pages: it serves anyone who
/// connects, so memory must not grow with them.
const MAX_CONNECTIONS: usize = 64;
const MAX_TOKENS: usize = 128;
const MAX_EVENTS: usize = 2_000;
/// The largest message the inspected connection takes (1009 beyond).
const MAX_MESSAGE: usize = 100_000;

fn main() -> ExitCode {
    let mut port: u16 = 8000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|p| p.parse())) {
            ("--port", Some(Ok(p))) => port = p,
            _ => {
                eprintln!("usage: inspector [--port PORT]   (default 8000)");
                return ExitCode::FAILURE;
            }
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("inspector: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(port, |a| a.port());
    println!("inspector: open http://127.0.0.1:{port}/");
    let logs = Logs::new();
    // A low limit, so that the page can go over it and see the rule that
    // protects a server's memory (RFC 6455 section 10.4) fail the connection.
    let traced = WebSocketConfig::new()
        .max_message_size(MAX_MESSAGE)
        .trace(logs.tracer());
    let untraced = WebSocketConfig::new().trace(Tracer::off());
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closes it
        }
        let (logs, traced, untraced, open) = (
            logs.clone(),
            traced.clone(),
            untraced.clone(),
            Arc::clone(&open),
        );
        let spawned = std::thread::Builder::new()
            .name("inspector-conn".into())
            .spawn(move || {
                if let Err(e) = serve(stream, &logs, &traced, &untraced) {
                    eprintln!("inspector: {e}");
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            eprintln!("inspector: cannot start a thread");
        }
    }
    ExitCode::SUCCESS
}

/// Reads the request head, then serves the page, the inspected WebSocket or
/// the trace WebSocket.
fn serve(
    mut stream: TcpStream,
    logs: &Logs,
    traced: &WebSocketConfig,
    untraced: &WebSocketConfig,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (head, leftover) = read_head(&mut stream)?;
    let Ok(request) = Request::parse(&head, HeadLimits::default()) else {
        return stream.write_all(&Response::text(400, "bad request").to_bytes());
    };
    let token = request.query_param_raw("token").filter(|t| is_token(t));
    let replay = Replay {
        pending: [head, leftover].concat(),
        at: 0,
        stream,
    };
    match (request.path(), token) {
        ("/", _) => {
            let page = Response::new(200)
                .with_header("Content-Type", "text/html; charset=utf-8")
                .with_header("Cache-Control", "no-store")
                .with_header("Connection", "close")
                .with_body(PAGE);
            replay.stream.try_clone()?.write_all(&page.to_bytes())
        }
        ("/ws", Some(token)) => inspected(replay, token, logs, traced),
        ("/trace", Some(token)) => stream_trace(replay, token, logs, untraced),
        _ => replay
            .stream
            .try_clone()?
            .write_all(&Response::text(404, "not found: the inspector is at /").to_bytes()),
    }
}

fn read_head(stream: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut reader = HeadReader::new(HeadLimits::default());
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (used, done) = reader
            .feed(&chunk[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if done {
            return Ok((reader.head().to_vec(), chunk[used..n].to_vec()));
        }
    }
}

fn is_token(token: &str) -> bool {
    (1..=32).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The connection under inspection: echoes, and answers the commands.
fn inspected(replay: Replay, token: &str, logs: &Logs, config: &WebSocketConfig) -> io::Result<()> {
    logs.open(token);
    replay
        .stream
        .set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut ws = stdws::accept_with_config(replay, config).map_err(io::Error::other)?;
    loop {
        let message = match ws.read() {
            Ok(message) => message,
            Err(e) => {
                logs.note(token, &format!("the server's read ended: {e}"));
                break;
            }
        };
        let result = match message {
            Message::Text(text) => match text.strip_prefix('!') {
                Some(command) => command_from_page(&mut ws, token, logs, command),
                None => ws.send_text(&text),
            },
            Message::Binary(data) => ws.send_binary(&data),
            Message::Close(_) => break, // answered by stdws already
            _ => Ok(()),
        };
        if let Err(e) = result {
            logs.note(token, &format!("the server's send failed: {e}"));
            break;
        }
    }
    // The server closes TCP first when the peer has not (RFC 6455 section
    // 7.1.1). It reads on for a moment: a peer still sending (a message over
    // the limit) would otherwise get a reset instead of the close frame, and
    // report 1006 instead of the code it was sent.
    logs.server_closes_tcp(token);
    let stream = &mut ws.get_mut().stream;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 8192];
    let mut budget: usize = 4 << 20;
    while let Ok(n @ 1..) = stream.read(&mut sink) {
        budget = budget.saturating_sub(n);
        if budget == 0 {
            break;
        }
    }
    Ok(())
}

fn command_from_page(
    ws: &mut stdws::WebSocket<Replay>,
    token: &str,
    logs: &Logs,
    command: &str,
) -> stdws::Result<()> {
    let mut words = command.split_whitespace();
    match words.next() {
        Some("ping") => ws.ping(b"are you there?"),
        Some("close") => {
            let code = words.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
            ws.close(CloseCode(code), "the server closes")
        }
        Some("fragments") => {
            let pieces: [(bool, OpCode, &[u8]); 3] = [
                (false, OpCode::Text, b"one message, "),
                (false, OpCode::Continuation, b"three frames, "),
                (true, OpCode::Continuation, b"one text"),
            ];
            for (fin, opcode, payload) in pieces {
                let mut header = FrameHeader::new(opcode, payload.len() as u64, None);
                header.fin = fin;
                write_raw(ws, token, logs, header, payload, "")?;
            }
            Ok(())
        }
        Some("masked") => {
            let key = [0x12, 0x34, 0x56, 0x78];
            let header = FrameHeader::new(OpCode::Text, 6, Some(key));
            write_raw(
                ws,
                token,
                logs,
                header,
                b"masked",
                "a server must not mask its frames (RFC 6455 section 5.1): the browser must fail the connection",
            )
        }
        Some("bad-utf8") => {
            // "caf" and then a lone continuation byte: not UTF-8.
            let payload = [b'c', b'a', b'f', 0xa9];
            let header = FrameHeader::new(OpCode::Text, 4, None);
            write_raw(
                ws,
                token,
                logs,
                header,
                &payload,
                "a text message must be UTF-8 (RFC 6455 section 8.1): the browser must fail the connection",
            )
        }
        _ => ws.send_text(&format!("unknown command !{command}")),
    }
}

/// Writes a frame under the WebSocket, bypassing its sender (which would
/// never mask a server's frame or send text that is not UTF-8), and reports
/// it to the page as the tracer would have.
fn write_raw(
    ws: &mut stdws::WebSocket<Replay>,
    token: &str,
    logs: &Logs,
    header: FrameHeader,
    payload: &[u8],
    why: &str,
) -> stdws::Result<()> {
    let mut event = frame_json(Direction::Sent, &header, payload, false, None);
    event.insert("raw", true.into());
    if !why.is_empty() {
        event.insert("why", why.into());
    }
    logs.push_json(token, event.to_string());
    let mut bytes = header.encode().as_bytes().to_vec();
    let start = bytes.len();
    bytes.extend_from_slice(payload);
    if let Some(key) = header.mask {
        stdws::protocol::mask::apply_mask(&mut bytes[start..], key, 0);
    }
    let stream = &mut ws.get_mut().stream;
    stream.write_all(&bytes)?;
    Ok(())
}

/// Streams the trace of the inspected connection with `token`.
fn stream_trace(
    replay: Replay,
    token: &str,
    logs: &Logs,
    config: &WebSocketConfig,
) -> io::Result<()> {
    logs.open(token);
    let mut ws = stdws::accept_with_config(replay, config).map_err(io::Error::other)?;
    let mut next = 0;
    loop {
        let events = logs.wait_for(token, next, Duration::from_secs(15));
        if events.is_empty() {
            // Nothing new: a ping finds out whether the page is still there
            // (a write to a closed connection fails, soon if not at once).
            if ws.ping(b"").is_err() {
                return Ok(());
            }
            continue;
        }
        next += events.len();
        for event in events {
            // A page that went away, or opened a new connection.
            if ws.send_text(&event).is_err() {
                return Ok(());
            }
        }
    }
}

/// A stream that gives back the bytes already read (the request head)
/// before reading on, so that `accept_with_config` sees the whole request.
struct Replay {
    pending: Vec<u8>,
    at: usize,
    stream: TcpStream,
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.pending.get(self.at..).unwrap_or_default();
        if rest.is_empty() {
            return self.stream.read(buf);
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// The events of each inspected connection, as JSON texts, by token: the
/// tracer's callback appends (it only takes a lock, never a socket), the
/// trace sockets' threads wait for more and send them.
#[derive(Clone)]
struct Logs(Arc<(Mutex<Store>, Condvar)>);

#[derive(Default)]
struct Store {
    token_of: HashMap<u64, String>,
    logs: HashMap<String, Log>,
    /// Tokens in the order they came, to forget the oldest.
    order: VecDeque<String>,
}

#[derive(Default)]
struct Log {
    events: Vec<String>,
    peer_closed_tcp: bool,
}

impl Logs {
    fn new() -> Logs {
        Logs(Arc::new((Mutex::new(Store::default()), Condvar::new())))
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tracer for inspected connections: the request's token names the
    /// connection's log, and every event after it goes there.
    fn tracer(&self) -> Tracer {
        let logs = self.clone();
        Tracer::to_fn(move |conn, event| {
            let mut store = logs.lock();
            if let TraceEvent::Handshake { head, .. } = event {
                if let Some(token) = token_in_request_line(head) {
                    if store.logs.contains_key(&token) {
                        store.token_of.insert(conn, token);
                    }
                }
            }
            let Some(token) = store.token_of.get(&conn).cloned() else {
                return;
            };
            if let TraceEvent::Disconnected { .. } = event {
                store.token_of.remove(&conn);
            }
            let Some(log) = store.logs.get_mut(&token) else {
                return;
            };
            if let TraceEvent::TcpClosed { by_peer: true, .. } = event {
                log.peer_closed_tcp = true;
            }
            if log.events.len() < MAX_EVENTS {
                log.events.push(event_json(event).to_string());
            }
            drop(store);
            logs.0.1.notify_all();
        })
    }

    /// Starts the log for `token` (the first of its two sockets does).
    fn open(&self, token: &str) {
        let mut store = self.lock();
        if store.logs.contains_key(token) {
            return;
        }
        while store.order.len() >= MAX_TOKENS {
            if let Some(old) = store.order.pop_front() {
                store.logs.remove(&old);
                store.token_of.retain(|_, t| *t != old);
            }
        }
        store.order.push_back(token.to_owned());
        store.logs.insert(token.to_owned(), Log::default());
    }

    fn push_json(&self, token: &str, json: String) {
        let mut store = self.lock();
        if let Some(log) = store.logs.get_mut(token) {
            if log.events.len() < MAX_EVENTS {
                log.events.push(json);
            }
        }
        drop(store);
        self.0.1.notify_all();
    }

    fn note(&self, token: &str, text: &str) {
        self.push_json(
            token,
            Value::object([("type", "note".into()), ("text", text.into())]).to_string(),
        );
    }

    /// Records that the server drops the connection and so closes TCP,
    /// unless the browser closed it first.
    fn server_closes_tcp(&self, token: &str) {
        let first = !self
            .lock()
            .logs
            .get(token)
            .is_some_and(|l| l.peer_closed_tcp);
        if first {
            let event = Value::object([("type", "tcp".into()), ("byPeer", false.into())]);
            self.push_json(token, event.to_string());
        }
    }

    /// The events of `token`'s log from `from` on, waiting up to `timeout`
    /// for one if there are none yet.
    fn wait_for(&self, token: &str, from: usize, timeout: Duration) -> Vec<String> {
        let pending = |store: &Store| {
            store
                .logs
                .get(token)
                .and_then(|l| l.events.get(from..))
                .unwrap_or_default()
                .to_vec()
        };
        let store = self.lock();
        let (store, _) = self
            .0
            .1
            .wait_timeout_while(store, timeout, |s| pending(s).is_empty())
            .unwrap_or_else(|e| e.into_inner());
        pending(&store)
    }
}

/// The token in a request head's first line, `GET /ws?token=T HTTP/1.1`.
fn token_in_request_line(head: &str) -> Option<String> {
    let target = head.lines().next()?.split(' ').nth(1)?;
    let (path, query) = target.split_once('?')?;
    if path != "/ws" {
        return None;
    }
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| is_token(t))
        .map(str::to_owned)
}

/// One event as the page reads it.
fn event_json(event: &TraceEvent) -> Value {
    let dir = |d: &Direction| match d {
        Direction::Received => "received",
        Direction::Sent => "sent",
    };
    match event {
        TraceEvent::Handshake {
            direction,
            kind,
            head,
            ..
        } => {
            let mut json = Value::object([
                ("type", "handshake".into()),
                ("dir", dir(direction).into()),
                ("kind", kind.name().into()),
                ("head", head.as_str().into()),
            ]);
            // Section 4.2.2: the accept value, step by step, for the page to
            // show next to its own computation.
            let key = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            });
            if let Some(key) = key {
                let joined = format!("{key}{GUID}");
                let digest = sha1_smol::Sha1::from(joined.as_bytes()).digest().bytes();
                json.insert(
                    "accept",
                    Value::object([
                        ("key", key.as_str().into()),
                        ("joined", joined.as_str().into()),
                        ("sha1", hex(&digest).into()),
                        (
                            "base64",
                            base64::engine::general_purpose::STANDARD
                                .encode(digest)
                                .into(),
                        ),
                    ]),
                );
            }
            json
        }
        TraceEvent::Frame(frame) => frame_json(
            frame.direction,
            &frame.header,
            &frame.payload,
            frame.is_cut(),
            frame.inflated,
        ),
        TraceEvent::Deflated {
            inflated,
            compressed,
            ..
        } => Value::object([
            ("type", "deflated".into()),
            ("inflated", Value::from(*inflated)),
            ("compressed", Value::from(*compressed)),
        ]),
        TraceEvent::Violation(v) => Value::object([
            ("type", "violation".into()),
            ("rule", v.to_string().into()),
            ("section", v.rfc_section().into()),
            ("code", Value::from(u32::from(v.close_code().0))),
            ("reason", v.close_reason().into()),
        ]),
        TraceEvent::Disconnected {
            code,
            reason,
            by_peer,
            clean,
            ..
        } => Value::object([
            ("type", "disconnected".into()),
            ("code", Value::from(u32::from(code.0))),
            ("reason", reason.as_str().into()),
            ("byPeer", (*by_peer).into()),
            ("clean", (*clean).into()),
        ]),
        TraceEvent::TcpClosed { by_peer, .. } => {
            Value::object([("type", "tcp".into()), ("byPeer", (*by_peer).into())])
        }
        TraceEvent::Note(text) => {
            Value::object([("type", "note".into()), ("text", text.as_str().into())])
        }
        other => Value::object([
            ("type", "note".into()),
            ("text", format!("{other:?}").into()),
        ]),
    }
}

/// A frame with every field of its header, its payload as on the wire and
/// unmasked, in hex, and as text when it is text.
fn frame_json(
    direction: Direction,
    header: &FrameHeader,
    unmasked: &[u8],
    cut: bool,
    inflated: Option<u64>,
) -> Value {
    let mut wire = unmasked.to_vec();
    if let Some(key) = header.mask {
        stdws::protocol::mask::apply_mask(&mut wire, key, 0);
    }
    let text = match header.opcode {
        OpCode::Binary => None,
        _ => std::str::from_utf8(unmasked).ok(),
    };
    let close = (header.opcode == OpCode::Close)
        .then(|| {
            stdws::protocol::close::parse_close_payload(unmasked)
                .ok()
                .flatten()
        })
        .flatten();
    Value::object([
        ("type", "frame".into()),
        (
            "dir",
            match direction {
                Direction::Received => "received",
                _ => "sent",
            }
            .into(),
        ),
        ("fin", header.fin.into()),
        ("rsv", Value::from(u32::from(header.rsv))),
        ("opcode", Value::from(u32::from(header.opcode.bits()))),
        ("opname", header.opcode.name().into()),
        ("mask", header.mask.is_some().into()),
        ("key", header.mask.map(|k| hex(&k)).into()),
        ("len", Value::from(header.payload_len)),
        (
            "lenBits",
            Value::from(u32::from(header.length_encoding.bits())),
        ),
        ("header", hex(header.encode().as_bytes()).into()),
        ("wire", hex(&wire).into()),
        ("unmasked", hex(unmasked).into()),
        ("text", text.into()),
        ("cut", cut.into()),
        ("inflated", inflated.into()),
        (
            "close",
            close
                .map(|c| {
                    Value::object([
                        ("code", Value::from(u32::from(c.code.0))),
                        ("name", c.code.to_string().into()),
                        ("reason", c.reason.into()),
                    ])
                })
                .into(),
        ),
    ])
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
