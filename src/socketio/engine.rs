//! The Engine.IO v4 server: the [`session`](super::session) state machine
//! on real transports. A WebSocket endpoint and an HTTP long-polling
//! service share one path (`/engine.io/`, `/socket.io/`) on a stdws
//! [`ServerBuilder`]; a housekeeping thread sends the pings and enforces
//! the timeouts when no request arrives to do it.
//!
//! The specification is the README of
//! <https://github.com/socketio/engine.io-protocol> ("Transports",
//! "Handshake", "Heartbeat", "Upgrade").
//!
//! ```text
//!   GET/POST /path?EIO=4&transport=polling[&sid]  --> polling (keep-alive worker)
//!   GET /path?EIO=4&transport=websocket[&sid] + Upgrade --> WebSocket handler
//!                     \                               /
//!                      +---> EngineConn (one per sid) <---- housekeeper: pings,
//!                            Mutex<Session + transports>     ping/upgrade/join timeouts
//!                                     |
//!                                  the application (raw Engine.IO, or Socket.IO)
//! ```
//!
//! Output to a session goes into its [`Session`] and from there to the
//! transport in use: a held `GET` is woken to answer with it, or the
//! packets go to the WebSocket's outbound queue, in the order they were
//! given (one send turn per session), with no lock of the session held
//! while writing.
//!
//! A raw Engine.IO server (an echo):
//!
//! ```no_run
//! use stdws::socketio::engine::EngineIo;
//! let engine = EngineIo::builder()
//!     .on_message(|conn, packet| {
//!         let _ = conn.send(vec![packet]);
//!     })
//!     .build();
//! engine
//!     .mount(stdws::Server::builder(), "/engine.io/")
//!     .bind("127.0.0.1:3000")?
//!     .run()?;
//! # Ok::<(), stdws::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::engineio::{self, EngineError, Packet, PayloadLimits, Transport};
use super::session::{CloseReason, Config, SendError, Session, State};
use crate::message::DataMessage;
use crate::protocol::close::CloseCode;
use crate::protocol::http::{Request, Response};
use crate::server::{Connection, Disconnect, Endpoint, Handler, ServerBuilder};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What runs on top of Engine.IO: a raw application, or Socket.IO.
pub(crate) trait App: Send + Sync + 'static {
    /// A message (text or binary) from the client.
    fn on_message(&self, conn: &Arc<EngineConn>, packet: Packet);
    /// The session ended.
    fn on_close(&self, conn: &Arc<EngineConn>, reason: &CloseReason);
    /// Called by the housekeeper; returns when it next needs calling.
    fn tick(&self, _now: Instant) -> Option<Instant> {
        None
    }
}

/// Settings of an Engine.IO server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) session: Config,
    /// A session that the application has not [claimed](EngineConn::claim)
    /// by then is closed (Socket.IO's connect timeout).
    pub(crate) claim_timeout: Option<Duration>,
}

/// One Engine.IO session, whatever its transport: what the application
/// sends to and hears from one client.
pub struct EngineConn {
    sid: String,
    request: Request,
    peer: SocketAddr,
    core: Weak<Core>,
    state: Mutex<ConnState>,
    /// Wakes a held `GET` when there is output, or the session ended.
    poll_wake: Condvar,
    /// Keeps the order of sends to the WebSocket without holding `state`
    /// while writing.
    send_turn: Mutex<()>,
}

struct ConnState {
    session: Session,
    /// The WebSocket the session is on.
    ws: Option<Connection>,
    /// The WebSocket of an upgrade under way.
    probe_ws: Option<Connection>,
    claim_deadline: Option<Instant>,
    /// The last packets of a server-side close, for a held `GET`.
    final_body: Option<String>,
    ended: bool,
}

impl fmt::Debug for EngineConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConn")
            .field("sid", &self.sid)
            .field("peer", &self.peer)
            .finish()
    }
}

impl EngineConn {
    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The request that opened the session (the handshake).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The transport in use now.
    pub fn transport(&self) -> Transport {
        match lock(&self.state).session.state() {
            State::WebSocket => Transport::WebSocket,
            _ => Transport::Polling,
        }
    }

    /// Whether the session is still open.
    pub fn is_open(&self) -> bool {
        !lock(&self.state).ended
    }

    /// Sends packets to the client, in order and together (a Socket.IO
    /// packet and its attachments). Never waits on the client: a full
    /// buffer closes the session, as a slow client's queue would.
    pub fn send(&self, packets: Vec<Packet>) -> Result<(), SendError> {
        let _turn = lock(&self.send_turn);
        let mut state = lock(&self.state);
        for packet in packets {
            if let Err(error) = state.session.send(packet) {
                drop(state);
                if error == SendError::BufferFull {
                    self.close();
                }
                return Err(error);
            }
        }
        self.deliver(state);
        Ok(())
    }

    /// Closes the session from the server's side: what was queued is sent,
    /// then the close packet.
    pub fn close(&self) {
        let Some(core) = self.core.upgrade() else {
            return;
        };
        let Some(me) = core.get(&self.sid) else {
            return;
        };
        let (ws, packets) = {
            let mut state = lock(&self.state);
            let packets = state.session.close();
            if state.session.state() == State::Closed && state.ws.is_none() {
                state.final_body = Some(engineio::encode_payload(&packets).unwrap_or_default());
            }
            (state.ws.clone(), packets)
        };
        if let Some(ws) = ws {
            for packet in packets {
                let _ = ws.send(packet.to_message());
            }
        }
        core.end(&me, CloseReason::ServerClose);
    }

    /// Marks the session as taken by the application, which stops its claim
    /// timeout (a Socket.IO session joined a namespace).
    pub(crate) fn claim(&self) {
        lock(&self.state).claim_deadline = None;
    }

    /// Sends what the session holds for the WebSocket, or wakes the held
    /// `GET`. Called with the send turn held.
    fn deliver(&self, state: MutexGuard<'_, ConnState>) {
        let mut state = state;
        if state.session.state() != State::WebSocket {
            drop(state);
            self.poll_wake.notify_all();
            return;
        }
        let packets = state.session.take_websocket_packets();
        let ws = state.ws.clone();
        drop(state);
        if let Some(ws) = ws {
            for packet in packets {
                let _ = ws.send(packet.to_message());
            }
        }
    }

    /// Sends queued output (a ping the clock added, say).
    fn flush(&self) {
        let _turn = lock(&self.send_turn);
        let state = lock(&self.state);
        self.deliver(state);
    }
}

/// The server's state: its sessions, settings, and application.
pub(crate) struct Core {
    pub(crate) settings: Settings,
    app: Arc<dyn App>,
    sessions: Mutex<HashMap<String, Arc<EngineConn>>>,
    timer: Mutex<()>,
    timer_wake: Condvar,
}

impl Core {
    pub(crate) fn start(settings: Settings, app: Arc<dyn App>) -> Arc<Core> {
        let core = Arc::new(Core {
            settings,
            app,
            sessions: Mutex::new(HashMap::new()),
            timer: Mutex::new(()),
            timer_wake: Condvar::new(),
        });
        let weak = Arc::downgrade(&core);
        let _ = thread::Builder::new()
            .name("stdws-engineio".into())
            .spawn(move || housekeeper(weak));
        core
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<EngineConn>> {
        lock(&self.sessions).get(sid).cloned()
    }

    /// Every open session.
    pub(crate) fn sessions(&self) -> Vec<Arc<EngineConn>> {
        lock(&self.sessions).values().cloned().collect()
    }

    /// Wakes the housekeeper to recompute its deadlines.
    pub(crate) fn wake(&self) {
        self.timer_wake.notify_all();
    }

    /// Opens a session on `transport` at `now`.
    fn open(
        self: &Arc<Self>,
        transport: Transport,
        request: Request,
        peer: SocketAddr,
        ws: Option<Connection>,
        now: Instant,
    ) -> Arc<EngineConn> {
        let sid = new_sid();
        let conn = Arc::new(EngineConn {
            sid: sid.clone(),
            request,
            peer,
            core: Arc::downgrade(self),
            state: Mutex::new(ConnState {
                session: Session::new(sid.clone(), transport, self.settings.session, now),
                ws,
                probe_ws: None,
                claim_deadline: self.settings.claim_timeout.and_then(|t| now.checked_add(t)),
                final_body: None,
                ended: false,
            }),
            poll_wake: Condvar::new(),
            send_turn: Mutex::new(()),
        });
        lock(&self.sessions).insert(sid, Arc::clone(&conn));
        self.wake();
        conn
    }

    /// Ends a session once: forgets it, closes its WebSockets, wakes its
    /// held `GET`, and tells the application.
    pub(crate) fn end(&self, conn: &Arc<EngineConn>, reason: CloseReason) {
        let (ws, probe) = {
            let mut state = lock(&conn.state);
            if state.ended {
                return;
            }
            state.ended = true;
            (state.ws.take(), state.probe_ws.take())
        };
        conn.poll_wake.notify_all();
        lock(&self.sessions).remove(&conn.sid);
        for ws in [ws, probe].into_iter().flatten() {
            let _ = ws.close(CloseCode::NORMAL, "");
        }
        self.app.on_close(conn, &reason);
    }

    /// Ends the session if the state machine has closed it.
    fn end_if_closed(&self, conn: &Arc<EngineConn>) {
        let reason = {
            let state = lock(&conn.state);
            if state.ended || state.session.state() != State::Closed {
                return;
            }
            state
                .session
                .close_reason()
                .cloned()
                .unwrap_or(CloseReason::ServerClose)
        };
        self.end(conn, reason);
    }

    /// One round of the housekeeper at `now`: returns when the next is due.
    fn housekeep(&self, now: Instant) -> Instant {
        let mut next = now + Duration::from_secs(1);
        for conn in self.sessions() {
            let mut timed_out_claim = false;
            let mut abandoned = None;
            {
                let mut state = lock(&conn.state);
                state.session.on_request(now);
                if state.claim_deadline.is_some_and(|d| now >= d) {
                    timed_out_claim = true;
                }
                if state.session.state() == State::Polling {
                    abandoned = state.probe_ws.take();
                }
                for deadline in [state.session.next_deadline(), state.claim_deadline]
                    .into_iter()
                    .flatten()
                {
                    next = next.min(deadline);
                }
            }
            if let Some(ws) = abandoned {
                let _ = ws.close(CloseCode::NORMAL, "upgrade abandoned");
            }
            if timed_out_claim {
                conn.close();
                continue;
            }
            self.end_if_closed(&conn);
            conn.flush();
        }
        if let Some(at) = self.app.tick(now) {
            next = next.min(at);
        }
        next
    }
}

fn housekeeper(core: Weak<Core>) {
    loop {
        let Some(core) = core.upgrade() else {
            return;
        };
        let next = core.housekeep(Instant::now());
        // Wake a little after the deadline, so that it has passed; at
        // least every 200 ms, so that the thread notices the server gone.
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200))
            + Duration::from_millis(1);
        let guard = lock(&core.timer);
        let _ = core.timer_wake.wait_timeout(guard, wait);
    }
}

/// A session id: 15 random bytes, 20 characters of URL-safe base64.
fn new_sid() -> String {
    let mut bytes = [0u8; 15];
    if crate::random::fill(&mut bytes).is_err() {
        // The random device failing is not a reason to stop serving: a
        // counter and the clock still give unique ids.
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes[8..15].copy_from_slice(&t.to_le_bytes()[..7]);
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The answer to a refused Engine.IO request: the official server's status
/// and JSON body.
pub(crate) fn refusal(error: &EngineError) -> Response {
    Response::new(error.status())
        .with_header("Content-Type", "application/json")
        .with_body(error.body())
}

/// The WebSocket transport: one handler per WebSocket connection.
struct WsTransport {
    core: Arc<Core>,
    conn: Option<Arc<EngineConn>>,
    /// Whether this WebSocket is the probe of an upgrade not yet finished.
    upgrading: bool,
}

impl Handler for WsTransport {
    fn on_open(&mut self, ws: &Connection) {
        let query = ws.request().query().unwrap_or("");
        let Ok(request) = engineio::check_request("GET", query, true) else {
            let _ = ws.close(CloseCode::POLICY_VIOLATION, "bad Engine.IO request");
            return;
        };
        let now = Instant::now();
        match request.sid {
            None => {
                let conn = self.core.open(
                    Transport::WebSocket,
                    ws.request().clone(),
                    ws.peer_addr(),
                    Some(ws.clone()),
                    now,
                );
                conn.flush();
                self.conn = Some(conn);
            }
            Some(sid) => {
                let Some(conn) = self.core.get(&sid) else {
                    let _ = ws.close(CloseCode::POLICY_VIOLATION, "Session ID unknown");
                    return;
                };
                let opened = {
                    let mut state = lock(&conn.state);
                    let opened = state.session.on_websocket_open(now).is_ok();
                    if opened {
                        state.probe_ws = Some(ws.clone());
                    }
                    opened
                };
                if !opened {
                    let _ = ws.close(CloseCode::POLICY_VIOLATION, "upgrade refused");
                    self.core.end_if_closed(&conn);
                    return;
                }
                self.upgrading = true;
                self.conn = Some(conn);
            }
        }
    }

    fn on_message(&mut self, ws: &Connection, message: DataMessage) {
        let Some(conn) = self.conn.clone() else {
            return;
        };
        let packet = match Packet::from_message(message.into()) {
            Ok(packet) => packet,
            Err(error) => {
                self.fail(ws, &conn, error.to_string());
                return;
            }
        };
        let now = Instant::now();
        let result = {
            let _turn = lock(&conn.send_turn);
            let mut state = lock(&conn.state);
            let result = state.session.on_websocket_packet(now, packet);
            if self.upgrading && state.session.state() == State::WebSocket {
                state.ws = state.probe_ws.take();
                self.upgrading = false;
            }
            let out = state.session.take_websocket_packets();
            drop(state);
            for packet in out {
                let _ = ws.send(packet.to_message());
            }
            result
        };
        // A held GET ends with a noop once the probe is in.
        conn.poll_wake.notify_all();
        match result {
            Ok(Some(message)) => self.core.app.on_message(&conn, message),
            Ok(None) => {}
            Err(super::session::WebSocketError::UpgradeAbandoned(_)) => {
                {
                    let mut state = lock(&conn.state);
                    state.probe_ws = None;
                }
                self.conn = None;
                let _ = ws.close(CloseCode::NORMAL, "upgrade abandoned");
            }
            Err(super::session::WebSocketError::SessionClosed(reason)) => {
                self.core.end(&conn, reason);
            }
        }
        self.core.end_if_closed(&conn);
    }

    fn on_close(&mut self, _ws: &Connection, _why: &Disconnect) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        {
            let mut state = lock(&conn.state);
            if self.upgrading {
                state.probe_ws = None;
            } else {
                state.ws = None;
            }
            state.session.on_websocket_closed();
        }
        conn.poll_wake.notify_all();
        self.core.end_if_closed(&conn);
    }
}

impl WsTransport {
    /// A packet that is not Engine.IO: the upgrade is dropped, or the
    /// session closed.
    fn fail(&mut self, ws: &Connection, conn: &Arc<EngineConn>, why: String) {
        if self.upgrading {
            let mut state = lock(&conn.state);
            state.probe_ws = None;
            state.session.on_websocket_closed();
            drop(state);
            self.conn = None;
            let _ = ws.close(CloseCode::PROTOCOL_ERROR, "not an Engine.IO packet");
            return;
        }
        self.conn = None;
        self.core.end(conn, CloseReason::ProtocolError(why));
    }
}

/// Puts the server's two transports on `path` of `builder`.
pub(crate) fn mount(core: &Arc<Core>, builder: ServerBuilder, path: &str) -> ServerBuilder {
    let for_handler = Arc::clone(core);
    let for_hook = Arc::clone(core);
    let for_polling = Arc::clone(core);
    let endpoint = Endpoint::handler(move || WsTransport {
        core: Arc::clone(&for_handler),
        conn: None,
        upgrading: false,
    })
    .on_handshake(move |handshake| {
        let query = handshake.request().query().unwrap_or("");
        let request = engineio::check_request("GET", query, true).map_err(|e| refusal(&e))?;
        match request.sid {
            Some(sid) if for_hook.get(&sid).is_none() => {
                Err(refusal(&EngineError::UnknownSid(sid)))
            }
            _ => Ok(()),
        }
    });
    // A POST body is at most the payload announced in the handshake.
    let max_body = core.settings.session.payload.max_payload;
    // A stopping server ends every session: a held long-poll answers at
    // once with a close, so the client reconnects (elsewhere, behind a
    // balancer) instead of holding a worker for a ping interval.
    let for_stop = Arc::downgrade(core);
    builder
        .on_stop(Arc::new(move || {
            if let Some(core) = for_stop.upgrade() {
                for conn in core.sessions() {
                    core.end(&conn, CloseReason::ServerClose);
                }
            }
        }))
        .route(path, endpoint)
        .http_service(path, max_body, move |request, body, peer| {
            super::polling::serve(&for_polling, request, body, peer)
        })
}

impl Core {
    /// A polling handshake: a new session, answered with its open packet.
    pub(crate) fn open_polling(
        self: &Arc<Self>,
        request: &Request,
        peer: SocketAddr,
    ) -> Arc<EngineConn> {
        self.open(
            Transport::Polling,
            request.clone(),
            peer,
            None,
            Instant::now(),
        )
    }
}

/// The polling side's access to a session's state.
pub(crate) struct PollAccess<'a> {
    pub(crate) conn: &'a Arc<EngineConn>,
}

impl PollAccess<'_> {
    /// A `GET`: answered at once, or held until there is output, the
    /// session ends, or the clock says a ping is due.
    pub(crate) fn get(&self, core: &Core) -> Result<String, EngineError> {
        let conn = self.conn;
        let mut state = lock(&conn.state);
        let first = state.session.on_poll(Instant::now());
        match first {
            Err(error) => {
                drop(state);
                conn.poll_wake.notify_all();
                core.end_if_closed(conn);
                Err(error)
            }
            Ok(Some(body)) => {
                drop(state);
                core.end_if_closed(conn);
                Ok(body)
            }
            Ok(None) => loop {
                let now = Instant::now();
                let wait = state
                    .session
                    .next_deadline()
                    .map_or(core.settings.session.ping_interval, |d| {
                        d.saturating_duration_since(now)
                    })
                    .min(core.settings.session.ping_interval)
                    + Duration::from_millis(1);
                state = conn
                    .poll_wake
                    .wait_timeout(state, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
                if let Some(body) = state.final_body.take() {
                    return Ok(body);
                }
                state.session.on_request(Instant::now());
                if let Some(body) = state.session.answer_poll() {
                    drop(state);
                    core.end_if_closed(conn);
                    return Ok(body);
                }
                if state.ended {
                    return Ok(Packet::Close.encode_text());
                }
            },
        }
    }

    /// A `POST`: its messages go to the application.
    pub(crate) fn post(&self, core: &Core, body: &[u8]) -> Result<(), EngineError> {
        let conn = self.conn;
        let result = lock(&conn.state).session.on_post(Instant::now(), body);
        // A pong or close may change what a held GET answers.
        conn.poll_wake.notify_all();
        let result = result.map(|messages| {
            for message in messages {
                core.app.on_message(conn, message);
            }
        });
        core.end_if_closed(conn);
        result
    }
}

/// A raw Engine.IO server: messages in, messages out, no Socket.IO. See
/// the [module docs](self).
#[derive(Clone)]
pub struct EngineIo {
    core: Arc<Core>,
}

impl fmt::Debug for EngineIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIo")
            .field("sessions", &lock(&self.core.sessions).len())
            .finish()
    }
}

type OnMessage = Arc<dyn Fn(&EngineConn, Packet) + Send + Sync>;
type OnClose = Arc<dyn Fn(&EngineConn, &CloseReason) + Send + Sync>;

/// Settings and callbacks of an [`EngineIo`] server.
#[derive(Default)]
pub struct EngineIoBuilder {
    config: Config,
    on_message: Option<OnMessage>,
    on_close: Option<OnClose>,
}

impl fmt::Debug for EngineIoBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIoBuilder")
            .field("config", &self.config)
            .finish()
    }
}

impl EngineIo {
    /// A builder with the official server's defaults.
    pub fn builder() -> EngineIoBuilder {
        EngineIoBuilder::default()
    }

    /// Puts both transports on `path` (such as `/engine.io/`) of `builder`.
    pub fn mount(&self, builder: ServerBuilder, path: &str) -> ServerBuilder {
        mount(&self.core, builder, path)
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        lock(&self.core.sessions).len()
    }
}

impl EngineIoBuilder {
    /// Sets the session's timings and bounds (see [`Config`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the ping interval (25 s by default).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config = self.config.ping_interval(interval);
        self
    }

    /// Sets the ping timeout (20 s by default).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.ping_timeout(timeout);
        self
    }

    /// Sets the largest polling payload, announced in the handshake
    /// (1,000,000 bytes by default).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        let limits: PayloadLimits = self.config.payload;
        self.config = self.config.payload(limits.max_payload(bytes));
        self
    }

    /// Called for each message (text or binary) a client sends.
    pub fn on_message(mut self, f: impl Fn(&EngineConn, Packet) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(f));
        self
    }

    /// Called when a session ends.
    pub fn on_close(
        mut self,
        f: impl Fn(&EngineConn, &CloseReason) + Send + Sync + 'static,
    ) -> Self {
        self.on_close = Some(Arc::new(f));
        self
    }

    /// Starts the server's housekeeping; mount it on a server next.
    pub fn build(self) -> EngineIo {
        let app = Arc::new(RawApp {
            on_message: self.on_message,
            on_close: self.on_close,
        });
        let settings = Settings {
            session: self.config,
            claim_timeout: None,
        };
        EngineIo {
            core: Core::start(settings, app),
        }
    }
}

struct RawApp {
    on_message: Option<OnMessage>,
    on_close: Option<OnClose>,
}

impl App for RawApp {
    fn on_message(&self, conn: &Arc<EngineConn>, packet: Packet) {
        if let Some(f) = &self.on_message {
            f(conn, packet);
        }
    }

    fn on_close(&self, conn: &Arc<EngineConn>, reason: &CloseReason) {
        if let Some(f) = &self.on_close {
            f(conn, reason);
        }
    }
}
