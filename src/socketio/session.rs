//! The server side of one Engine.IO v4 session, as a state machine with no
//! sockets and no clock of its own: the caller reports each request and
//! WebSocket packet with the [`Instant`] it arrived at, and sends what the
//! session hands back.
//!
//! The specification is the README of
//! <https://github.com/socketio/engine.io-protocol>: "Sending and receiving
//! data" (one pending `GET`), "Heartbeat" and "Upgrade". What it leaves to
//! implementations (the upgrade timeout, what happens to output during an
//! upgrade) follows the official server.
//!
//! # States and transitions
//!
//! ```text
//!   Polling --WebSocket opened with our sid--> Probing --"2probe"--> Upgrading --"5"--> WebSocket
//!      ^                                          |                     |
//!      +---- anything else on the WebSocket, its close, or the upgrade timeout
//!   any state --pong overdue, "1" from the client, a broken rule, close()--> Closed
//! ```
//!
//! | state      | input                                   | what the session does                                  | next       |
//! |------------|-----------------------------------------|--------------------------------------------------------|------------|
//! | (new)      | handshake on `polling` / `websocket`    | queues the open packet, schedules the first ping        | Polling / WebSocket |
//! | Polling    | `GET`, packets queued                   | answers at once with up to 16 of them                  | Polling    |
//! | Polling    | `GET`, nothing queued                   | holds it; [`Session::answer_poll`] answers it later    | Polling    |
//! | Polling, Probing, Upgrading | `GET` while one is held | 400 Bad request, and the session closes ("Receiving data") | Closed |
//! | Polling, Probing, Upgrading | `POST`                  | pongs, messages and close packets are taken; any other packet is a 400 and closes | same / Closed |
//! | Polling    | WebSocket opened with the sid           | the upgrade starts (timeout: [`Config::upgrade_timeout`]) | Probing |
//! | Probing    | `2probe` on the WebSocket               | `3probe` on the WebSocket; a held `GET` gets `6`        | Upgrading  |
//! | Upgrading  | `GET`                                   | answered at once with `6`; output waits for the WebSocket | Upgrading |
//! | Upgrading  | `5` on the WebSocket                    | queued output moves to the WebSocket; a held `GET` gets `6` | WebSocket |
//! | Probing, Upgrading | other packet, WebSocket closed, timeout | the WebSocket is dropped, polling goes on       | Polling    |
//! | WebSocket  | `GET` or `POST`                         | 400 Bad request (the session left polling)             | WebSocket  |
//! | Probing, Upgrading, WebSocket | another WebSocket     | refused (one WebSocket per session, "WebSocket")       | same       |
//! | WebSocket  | the WebSocket closes                    |                                                        | Closed     |
//! | any open   | a request after a ping was due          | queues `2`; the pong is due within `ping_timeout`       | same       |
//! | any open   | `3` (pong)                              | the next ping is due `ping_interval` from now          | same       |
//! | any open   | a request after the pong was due        | ping timeout                                           | Closed     |
//! | any open   | `2` from the client                     | broken rule: in v4 only the server pings               | Closed     |
//! | Closed     | any request                             | 400 "Session ID unknown", as for a session that is gone | Closed    |
//!
//! Time is checked whenever something arrives ([`Session::on_request`]),
//! and the caller can wake up at [`Session::next_deadline`] to do the same
//! when nothing does.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::engineio::{
    self, BadRequest, EngineError, Handshake, MAX_PACKETS_PER_PAYLOAD, Packet, PayloadLimits,
    Transport,
};

/// The timings and bounds of a session.
///
/// ```
/// use std::time::Duration;
/// use stdws::socketio::session::Config;
/// let config = Config::default().ping_interval(Duration::from_millis(300)).ping_timeout(Duration::from_millis(200));
/// assert_eq!(config.upgrade_timeout, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// How long after the open packet, or the last pong, the server pings
    /// (25 s by default, as the official server).
    pub ping_interval: Duration,
    /// How long the client has to answer a ping (20 s by default).
    pub ping_timeout: Duration,
    /// How long a started upgrade may take before it is dropped (10 s).
    pub upgrade_timeout: Duration,
    /// The bounds on a `POST` body; `max_payload` is announced in the open
    /// packet.
    pub payload: PayloadLimits,
    /// The most packets the session holds for a client that does not come
    /// to fetch them (1024 by default).
    pub max_buffered: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            upgrade_timeout: Duration::from_secs(10),
            payload: PayloadLimits::default(),
            max_buffered: 1024,
        }
    }
}

impl Config {
    /// Sets [`Config::ping_interval`].
    pub fn ping_interval(mut self, interval: Duration) -> Config {
        self.ping_interval = interval;
        self
    }

    /// Sets [`Config::ping_timeout`].
    pub fn ping_timeout(mut self, timeout: Duration) -> Config {
        self.ping_timeout = timeout;
        self
    }

    /// Sets [`Config::upgrade_timeout`].
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Config {
        self.upgrade_timeout = timeout;
        self
    }

    /// Sets [`Config::payload`].
    pub fn payload(mut self, limits: PayloadLimits) -> Config {
        self.payload = limits;
        self
    }

    /// Sets [`Config::max_buffered`].
    pub fn max_buffered(mut self, packets: usize) -> Config {
        self.max_buffered = packets;
        self
    }
}

/// Where a session is. See the table in the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// On HTTP long-polling.
    Polling,
    /// On polling, a WebSocket opened for an upgrade, its probe not yet in.
    Probing,
    /// On polling, the probe answered, waiting for the client's `5`.
    Upgrading,
    /// On the WebSocket.
    WebSocket,
    /// Over; see [`Session::close_reason`].
    Closed,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// No pong within `ping_timeout` of a ping.
    PingTimeout,
    /// The client sent a close packet.
    ClientClose,
    /// [`Session::close`] was called.
    ServerClose,
    /// The WebSocket the session was on closed.
    TransportClose,
    /// The client broke a rule of the protocol.
    ProtocolError(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PingTimeout => f.write_str("ping timeout"),
            CloseReason::ClientClose => f.write_str("closed by the client"),
            CloseReason::ServerClose => f.write_str("closed by the server"),
            CloseReason::TransportClose => f.write_str("the WebSocket closed"),
            CloseReason::ProtocolError(why) => write!(f, "protocol error: {why}"),
        }
    }
}

/// Why [`Session::send`] did not queue a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closed.
    Closed,
    /// [`Config::max_buffered`] packets are already waiting.
    BufferFull,
    /// A text packet with `\x1e`, which polling cannot carry, while the
    /// session may still send over polling.
    SeparatorInText,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the Engine.IO session is closed",
            SendError::BufferFull => "the Engine.IO session's send buffer is full",
            SendError::SeparatorInText => "text with \\x1e cannot be sent over polling",
        })
    }
}

impl std::error::Error for SendError {}

/// What a send refused means to a user of the crate's API.
impl From<SendError> for crate::Error {
    fn from(error: SendError) -> crate::Error {
        match error {
            SendError::Closed => crate::Error::ConnectionClosed,
            SendError::BufferFull => crate::Error::QueueFull {
                disconnected: false,
            },
            SendError::SeparatorInText => crate::Error::SocketIo(
                "text with the record separator \\x1e cannot be sent while the client may poll",
            ),
        }
    }
}

/// What a packet on the WebSocket did to the session, when it is not a
/// message for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The upgrade was abandoned: close this WebSocket; the session goes on
    /// over polling.
    UpgradeAbandoned(&'static str),
    /// The session is closed (for this reason): close the WebSocket.
    SessionClosed(CloseReason),
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSocketError::UpgradeAbandoned(why) => write!(f, "upgrade abandoned: {why}"),
            WebSocketError::SessionClosed(why) => write!(f, "Engine.IO session closed: {why}"),
        }
    }
}

impl std::error::Error for WebSocketError {}

/// One Engine.IO session, server side. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    sid: String,
    config: Config,
    state: State,
    close_reason: Option<CloseReason>,
    /// Output for the transport in use (polling until the upgrade is done).
    outbound: VecDeque<Packet>,
    /// Output for the upgrading WebSocket only (`3probe`).
    probe_reply: Option<Packet>,
    poll_held: bool,
    next_ping: Option<Instant>,
    pong_due: Option<Instant>,
    upgrade_due: Option<Instant>,
}

impl Session {
    /// A session opened by a handshake on `transport` at `now`; its open
    /// packet is the first thing it sends.
    pub fn new(
        sid: impl Into<String>,
        transport: Transport,
        config: Config,
        now: Instant,
    ) -> Session {
        let mut session = Session {
            sid: sid.into(),
            config,
            state: match transport {
                Transport::Polling => State::Polling,
                Transport::WebSocket => State::WebSocket,
            },
            close_reason: None,
            outbound: VecDeque::new(),
            probe_reply: None,
            poll_held: false,
            next_ping: now.checked_add(config.ping_interval),
            pong_due: None,
            upgrade_due: None,
        };
        let open = session.handshake(transport).packet();
        session.outbound.push_back(open);
        session
    }

    /// The handshake data of the open packet, for a session opened on
    /// `transport`.
    pub fn handshake(&self, transport: Transport) -> Handshake {
        Handshake {
            sid: self.sid.clone(),
            upgrades: transport
                .upgrades()
                .iter()
                .map(|u| (*u).to_owned())
                .collect(),
            ping_interval: self.config.ping_interval,
            ping_timeout: self.config.ping_timeout,
            max_payload: self.config.payload.max_payload as u64,
        }
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// Whether a `GET` is held, waiting for output.
    pub fn poll_held(&self) -> bool {
        self.poll_held
    }

    /// The next instant at which time alone changes something (a ping due,
    /// a pong overdue, an upgrade timing out); call
    /// [`on_request`](Session::on_request) then.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let ping = if self.pong_due.is_some() {
            None
        } else {
            self.next_ping
        };
        [ping, self.pong_due, self.upgrade_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Brings the session's clock to `now`: closes it if the pong is
    /// overdue, queues a ping if one is due, drops an upgrade that took too
    /// long. Returns `true` if the session has timed out (it is then
    /// [`State::Closed`]). Every `on_*` method calls it first.
    pub fn on_request(&mut self, now: Instant) -> bool {
        if self.state == State::Closed {
            return self.close_reason == Some(CloseReason::PingTimeout);
        }
        if self.pong_due.is_some_and(|due| now >= due) {
            self.close_with(CloseReason::PingTimeout);
            return true;
        }
        if self.pong_due.is_none() && self.next_ping.is_some_and(|at| now >= at) {
            self.outbound.push_back(Packet::Ping(String::new()));
            self.pong_due = now.checked_add(self.config.ping_timeout);
        }
        if self.upgrade_due.is_some_and(|due| now >= due) {
            self.abandon_upgrade();
        }
        false
    }

    /// Queues a packet for the client.
    pub fn send(&mut self, packet: Packet) -> Result<(), SendError> {
        if self.state == State::Closed {
            return Err(SendError::Closed);
        }
        if self.outbound.len() >= self.config.max_buffered {
            return Err(SendError::BufferFull);
        }
        if self.state != State::WebSocket
            && let Packet::Message(text) | Packet::Ping(text) | Packet::Pong(text) = &packet
            && text.contains(engineio::SEPARATOR)
        {
            return Err(SendError::SeparatorInText);
        }
        self.outbound.push_back(packet);
        Ok(())
    }

    /// A polling `GET` arrived at `now`. `Ok(Some(body))`: answer it with
    /// this body now; `Ok(None)`: hold it, and answer it with what
    /// [`answer_poll`](Session::answer_poll) returns later.
    pub fn on_poll(&mut self, now: Instant) -> Result<Option<String>, EngineError> {
        self.check_polling(now)?;
        if self.poll_held {
            // "Receiving data": a second GET closes the session.
            self.close_with(CloseReason::ProtocolError(
                "a second GET while one was pending".into(),
            ));
            return Err(EngineError::BadRequest(BadRequest::ConcurrentPoll));
        }
        self.poll_held = true;
        Ok(self.answer_poll())
    }

    /// The body for the held `GET`, if there is one and something to say:
    /// up to 16 queued packets while polling; `6` (noop) once the upgrade
    /// has begun, so that the client's paused polling ends cleanly.
    pub fn answer_poll(&mut self) -> Option<String> {
        if !self.poll_held {
            return None;
        }
        let body = match self.state {
            State::Polling | State::Probing if !self.outbound.is_empty() => {
                let count = self.outbound.len().min(MAX_PACKETS_PER_PAYLOAD);
                let packets: Vec<Packet> = self.outbound.drain(..count).collect();
                // `send` refused text with the separator while polling.
                engineio::encode_payload(&packets).unwrap_or_default()
            }
            State::Upgrading | State::WebSocket => Packet::Noop.encode_text(),
            // The client's own close gets a noop, as the official server
            // answers; any other end tells the client the session is over.
            State::Closed if self.close_reason == Some(CloseReason::ClientClose) => {
                Packet::Noop.encode_text()
            }
            State::Closed => Packet::Close.encode_text(),
            State::Polling | State::Probing => return None,
        };
        self.poll_held = false;
        Some(body)
    }

    /// A polling `POST` with `body` arrived at `now`: returns the messages
    /// (text and binary) for the application. A close packet closes the
    /// session; anything but pongs, messages and closes breaks the protocol.
    pub fn on_post(&mut self, now: Instant, body: &[u8]) -> Result<Vec<Packet>, EngineError> {
        self.check_polling(now)?;
        let packets = match engineio::decode_payload(body, self.config.payload) {
            Ok(packets) => packets,
            Err(error) => {
                self.close_with(CloseReason::ProtocolError(error.to_string()));
                return Err(EngineError::BadRequest(BadRequest::BadPayload));
            }
        };
        let mut messages = Vec::new();
        for packet in packets {
            match self.take_packet(now, packet) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => {}
                Err(_) => return Err(EngineError::BadRequest(BadRequest::BadPayload)),
            }
            if self.state == State::Closed {
                break;
            }
        }
        Ok(messages)
    }

    /// A WebSocket carrying this session's sid was opened at `now`: an
    /// upgrade begins. Refused (close that WebSocket) unless the session is
    /// polling with no upgrade under way.
    pub fn on_websocket_open(&mut self, now: Instant) -> Result<(), EngineError> {
        if self.on_request(now) || self.state == State::Closed {
            return Err(EngineError::UnknownSid(self.sid.clone()));
        }
        if self.state != State::Polling {
            return Err(EngineError::BadRequest(BadRequest::TransportMismatch));
        }
        self.state = State::Probing;
        self.upgrade_due = now.checked_add(self.config.upgrade_timeout);
        Ok(())
    }

    /// A packet arrived on the session's WebSocket at `now`. Returns a
    /// message for the application, if it is one.
    pub fn on_websocket_packet(
        &mut self,
        now: Instant,
        packet: Packet,
    ) -> Result<Option<Packet>, WebSocketError> {
        if self.on_request(now) {
            return Err(WebSocketError::SessionClosed(CloseReason::PingTimeout));
        }
        match (self.state, packet) {
            (State::Probing, Packet::Ping(probe)) if probe == "probe" => {
                self.probe_reply = Some(Packet::Pong(probe));
                self.state = State::Upgrading;
                Ok(None)
            }
            (State::Upgrading, Packet::Upgrade) => {
                self.state = State::WebSocket;
                self.upgrade_due = None;
                Ok(None)
            }
            (State::Probing | State::Upgrading, _) => {
                self.abandon_upgrade();
                Err(WebSocketError::UpgradeAbandoned(
                    "a packet other than the upgrade sequence",
                ))
            }
            (State::WebSocket, packet) => self.take_packet(now, packet),
            (State::Polling, _) => Err(WebSocketError::UpgradeAbandoned("no upgrade under way")),
            (State::Closed, _) => Err(WebSocketError::SessionClosed(
                self.close_reason
                    .clone()
                    .unwrap_or(CloseReason::ServerClose),
            )),
        }
    }

    /// What to send on the WebSocket now: `3probe` during the upgrade,
    /// then all queued output once the session is on the WebSocket.
    pub fn take_websocket_packets(&mut self) -> Vec<Packet> {
        let mut packets: Vec<Packet> = self.probe_reply.take().into_iter().collect();
        if self.state == State::WebSocket {
            packets.extend(self.outbound.drain(..));
        }
        packets
    }

    /// The WebSocket closed: an upgrade under way is abandoned; a session
    /// on the WebSocket is over.
    pub fn on_websocket_closed(&mut self) {
        match self.state {
            State::Probing | State::Upgrading => self.abandon_upgrade(),
            State::WebSocket => self.close_with(CloseReason::TransportClose),
            State::Polling | State::Closed => {}
        }
    }

    /// Closes the session from the server's side; returns the last packets
    /// to send on the transport in use, ending with the close packet.
    pub fn close(&mut self) -> Vec<Packet> {
        if self.state == State::Closed {
            return Vec::new();
        }
        let mut packets: Vec<Packet> = self.outbound.drain(..).collect();
        packets.push(Packet::Close);
        self.close_with(CloseReason::ServerClose);
        packets
    }

    /// The checks every polling request passes first.
    fn check_polling(&mut self, now: Instant) -> Result<(), EngineError> {
        if self.on_request(now) || self.state == State::Closed {
            // A closed session is forgotten: the official server answers
            // code 1 for it.
            return Err(EngineError::UnknownSid(self.sid.clone()));
        }
        if self.state == State::WebSocket {
            return Err(EngineError::BadRequest(BadRequest::TransportMismatch));
        }
        Ok(())
    }

    /// A packet from the client on the transport in use.
    fn take_packet(
        &mut self,
        now: Instant,
        packet: Packet,
    ) -> Result<Option<Packet>, WebSocketError> {
        match packet {
            Packet::Message(_) | Packet::Binary(_) => Ok(Some(packet)),
            Packet::Pong(_) => {
                // As the official server: any pong counts, and the next
                // ping is an interval from now.
                self.pong_due = None;
                self.next_ping = now.checked_add(self.config.ping_interval);
                Ok(None)
            }
            Packet::Close => {
                self.close_with(CloseReason::ClientClose);
                Ok(None)
            }
            Packet::Noop => Ok(None),
            other => {
                let why = format!("the client sent a {} packet", other.packet_type().name());
                self.close_with(CloseReason::ProtocolError(why));
                Err(WebSocketError::SessionClosed(
                    self.close_reason
                        .clone()
                        .unwrap_or(CloseReason::ServerClose),
                ))
            }
        }
    }

    fn abandon_upgrade(&mut self) {
        if matches!(self.state, State::Probing | State::Upgrading) {
            self.state = State::Polling;
        }
        self.upgrade_due = None;
        self.probe_reply = None;
    }

    fn close_with(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.close_reason = Some(reason);
        self.outbound.clear();
        self.probe_reply = None;
        self.next_ping = None;
        self.pong_due = None;
        self.upgrade_due = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(300);
    const TIMEOUT: Duration = Duration::from_millis(200);

    fn config() -> Config {
        Config::default()
            .ping_interval(INTERVAL)
            .ping_timeout(TIMEOUT)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A polling session whose open packet has been fetched.
    fn polling(t0: Instant) -> Session {
        let mut session = Session::new("sid1", Transport::Polling, config(), t0);
        let body = session.on_poll(t0).unwrap().unwrap();
        assert!(body.starts_with(r#"0{"sid":"sid1","upgrades":["websocket"],"pingInterval":300"#));
        session
    }

    /// A session in the middle of an upgrade, probe answered.
    fn upgrading(t0: Instant) -> Session {
        let mut session = polling(t0);
        session.on_websocket_open(t0).unwrap();
        session
            .on_websocket_packet(t0, Packet::Ping("probe".into()))
            .unwrap();
        session
    }

    fn message(text: &str) -> Packet {
        Packet::Message(text.into())
    }

    #[test]
    fn polling_handshake_answers_with_the_open_packet() {
        let t0 = Instant::now();
        let mut session = Session::new(
            "lv_VI97HAXpY6yYWAAAC",
            Transport::Polling,
            Config::default(),
            t0,
        );
        assert_eq!(session.state(), State::Polling);
        assert_eq!(
            session.on_poll(t0).unwrap().unwrap(),
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
    }

    #[test]
    fn websocket_handshake_starts_on_the_websocket_with_no_upgrades() {
        let t0 = Instant::now();
        let mut session = Session::new("s", Transport::WebSocket, config(), t0);
        assert_eq!(session.state(), State::WebSocket);
        let packets = session.take_websocket_packets();
        let [Packet::Open(data)] = &packets[..] else {
            panic!("{packets:?}")
        };
        assert_eq!(
            Handshake::from_json(data).unwrap().upgrades,
            Vec::<String>::new()
        );
    }

    #[test]
    fn get_with_packets_queued_is_answered_at_once() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.send(message("hello")).unwrap();
        session.send(Packet::Binary(vec![1, 2, 3, 4])).unwrap();
        assert_eq!(
            session.on_poll(t0).unwrap().as_deref(),
            Some("4hello\x1ebAQIDBA==")
        );
        assert!(!session.poll_held());
    }

    #[test]
    fn get_with_nothing_queued_is_held_until_there_is_output() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(session.on_poll(t0).unwrap(), None);
        assert!(session.poll_held());
        assert_eq!(session.answer_poll(), None);
        session.send(message("later")).unwrap();
        assert_eq!(session.answer_poll().as_deref(), Some("4later"));
        assert_eq!(session.answer_poll(), None);
    }

    #[test]
    fn polling_payloads_hold_at_most_16_packets() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        for i in 0..20 {
            session.send(message(&i.to_string())).unwrap();
        }
        let first = session.on_poll(t0).unwrap().unwrap();
        assert_eq!(first.split('\x1e').count(), 16);
        assert!(first.starts_with("40\x1e41\x1e"));
        assert_eq!(
            session.on_poll(t0).unwrap().as_deref(),
            Some("416\x1e417\x1e418\x1e419")
        );
    }

    #[test]
    fn a_second_get_while_one_is_held_closes_the_session() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(session.on_poll(t0), Ok(None));
        assert_eq!(
            session.on_poll(t0),
            Err(EngineError::BadRequest(BadRequest::ConcurrentPoll))
        );
        assert_eq!(session.state(), State::Closed);
        // The held one is told that the session is over.
        assert_eq!(session.answer_poll(), Some("1".into()));
        // The session is gone: the next request is told so.
        assert_eq!(
            session.on_poll(t0),
            Err(EngineError::UnknownSid("sid1".into()))
        );
    }

    #[test]
    fn post_delivers_messages_and_takes_pongs() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        let messages = session.on_post(t0, b"42[\"hello\"]\x1e3\x1ebAQ==").unwrap();
        assert_eq!(
            messages,
            [message(r#"2["hello"]"#), Packet::Binary(vec![1])]
        );
        assert_eq!(session.state(), State::Polling);
    }

    #[test]
    fn post_with_a_close_packet_closes_the_session() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(session.on_post(t0, b"4bye\x1e1"), Ok(vec![message("bye")]));
        assert_eq!(session.close_reason(), Some(&CloseReason::ClientClose));
    }

    #[test]
    fn post_with_a_malformed_payload_is_a_bad_request_and_closes() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(
            session.on_post(t0, b"4a\x1e9"),
            Err(EngineError::BadRequest(BadRequest::BadPayload))
        );
        assert_eq!(session.state(), State::Closed);
    }

    #[test]
    fn ping_from_the_client_breaks_the_v4_heartbeat_direction() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert!(session.on_post(t0, b"2").is_err());
        assert!(matches!(
            session.close_reason(),
            Some(CloseReason::ProtocolError(_))
        ));
    }

    #[test]
    fn ping_is_queued_once_the_interval_has_passed() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(session.next_deadline(), Some(t0 + INTERVAL));
        assert!(!session.on_request(t0 + ms(299)));
        assert_eq!(session.on_poll(t0 + ms(299)), Ok(None));
        assert!(!session.on_request(t0 + INTERVAL));
        assert_eq!(session.answer_poll().as_deref(), Some("2"));
        // Only one ping per interval, and the deadline is now the pong's.
        assert!(!session.on_request(t0 + ms(350)));
        assert_eq!(session.on_poll(t0 + ms(350)), Ok(None));
        assert_eq!(session.next_deadline(), Some(t0 + INTERVAL + TIMEOUT));
    }

    #[test]
    fn pong_in_time_schedules_the_next_ping_an_interval_later() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.on_request(t0 + INTERVAL);
        assert_eq!(
            session.on_poll(t0 + INTERVAL).unwrap().as_deref(),
            Some("2")
        );
        assert_eq!(session.on_post(t0 + ms(400), b"3"), Ok(vec![]));
        assert_eq!(session.next_deadline(), Some(t0 + ms(400) + INTERVAL));
        assert!(!session.on_request(t0 + ms(600)));
        assert_eq!(session.state(), State::Polling);
    }

    #[test]
    fn missing_pong_times_the_session_out_at_the_next_request() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.on_request(t0 + INTERVAL);
        assert!(!session.on_request(t0 + INTERVAL + TIMEOUT - ms(1)));
        assert!(session.on_request(t0 + INTERVAL + TIMEOUT));
        assert_eq!(session.state(), State::Closed);
        assert_eq!(session.close_reason(), Some(&CloseReason::PingTimeout));
        assert_eq!(session.next_deadline(), None);
        assert_eq!(
            session.on_post(t0 + ms(600), b"3"),
            Err(EngineError::UnknownSid("sid1".into()))
        );
    }

    #[test]
    fn websocket_open_starts_probing() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.on_websocket_open(t0).unwrap();
        assert_eq!(session.state(), State::Probing);
        assert_eq!(
            session.next_deadline(),
            Some(t0 + Duration::from_secs(10)).min(Some(t0 + INTERVAL))
        );
    }

    #[test]
    fn probe_is_answered_on_the_websocket_and_the_held_get_gets_a_noop() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(session.on_poll(t0), Ok(None));
        session.on_websocket_open(t0).unwrap();
        assert_eq!(
            session.on_websocket_packet(t0, Packet::Ping("probe".into())),
            Ok(None)
        );
        assert_eq!(session.state(), State::Upgrading);
        assert_eq!(
            session.take_websocket_packets(),
            [Packet::Pong("probe".into())]
        );
        assert_eq!(session.answer_poll().as_deref(), Some("6"));
    }

    #[test]
    fn get_during_the_upgrade_is_answered_with_a_noop_and_output_waits() {
        let t0 = Instant::now();
        let mut session = upgrading(t0);
        session.send(message("for the websocket")).unwrap();
        assert_eq!(session.on_poll(t0).unwrap().as_deref(), Some("6"));
    }

    #[test]
    fn upgrade_packet_moves_output_to_the_websocket_and_refuses_polling() {
        let t0 = Instant::now();
        let mut session = upgrading(t0);
        assert_eq!(session.on_poll(t0).unwrap().as_deref(), Some("6"));
        session.send(message("queued during the upgrade")).unwrap();
        assert_eq!(
            session.take_websocket_packets(),
            [Packet::Pong("probe".into())]
        );
        assert_eq!(session.on_websocket_packet(t0, Packet::Upgrade), Ok(None));
        assert_eq!(session.state(), State::WebSocket);
        assert_eq!(
            session.take_websocket_packets(),
            [message("queued during the upgrade")]
        );
        assert_eq!(
            session.on_poll(t0),
            Err(EngineError::BadRequest(BadRequest::TransportMismatch))
        );
        assert_eq!(
            session.on_post(t0, b"4x"),
            Err(EngineError::BadRequest(BadRequest::TransportMismatch))
        );
    }

    #[test]
    fn held_get_at_the_upgrade_is_ended_with_a_noop() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.on_websocket_open(t0).unwrap();
        session
            .on_websocket_packet(t0, Packet::Ping("probe".into()))
            .unwrap();
        // The client's GET came in after the probe.
        assert_eq!(session.on_poll(t0).unwrap().as_deref(), Some("6"));
        session.on_websocket_packet(t0, Packet::Upgrade).unwrap();
        assert_eq!(session.answer_poll(), None);
    }

    #[test]
    fn other_packets_during_the_upgrade_abandon_it() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.on_websocket_open(t0).unwrap();
        assert!(matches!(
            session.on_websocket_packet(t0, message("too early")),
            Err(WebSocketError::UpgradeAbandoned(_))
        ));
        assert_eq!(session.state(), State::Polling);
        let mut session = upgrading(t0);
        assert!(matches!(
            session.on_websocket_packet(t0, Packet::Ping("probe".into())),
            Err(WebSocketError::UpgradeAbandoned(_))
        ));
        assert_eq!(session.state(), State::Polling);
        assert_eq!(session.take_websocket_packets(), []);
    }

    #[test]
    fn websocket_closing_during_the_upgrade_leaves_polling_going() {
        let t0 = Instant::now();
        let mut session = upgrading(t0);
        session.on_websocket_closed();
        assert_eq!(session.state(), State::Polling);
        session.send(message("still here")).unwrap();
        assert_eq!(session.on_poll(t0).unwrap().as_deref(), Some("4still here"));
    }

    #[test]
    fn upgrade_not_finished_in_time_is_abandoned() {
        let t0 = Instant::now();
        let config = Config::default().upgrade_timeout(ms(100));
        let mut session = Session::new("s", Transport::Polling, config, t0);
        session.on_poll(t0).unwrap();
        session.on_websocket_open(t0).unwrap();
        assert_eq!(session.next_deadline(), Some(t0 + ms(100)));
        assert!(!session.on_request(t0 + ms(100)));
        assert_eq!(session.state(), State::Polling);
    }

    #[test]
    fn only_one_websocket_per_session() {
        let t0 = Instant::now();
        let mut session = upgrading(t0);
        assert_eq!(
            session.on_websocket_open(t0),
            Err(EngineError::BadRequest(BadRequest::TransportMismatch))
        );
        session.on_websocket_packet(t0, Packet::Upgrade).unwrap();
        assert_eq!(
            session.on_websocket_open(t0),
            Err(EngineError::BadRequest(BadRequest::TransportMismatch))
        );
    }

    #[test]
    fn websocket_session_delivers_messages_and_takes_pongs() {
        let t0 = Instant::now();
        let mut session = Session::new("s", Transport::WebSocket, config(), t0);
        session.take_websocket_packets();
        assert_eq!(
            session.on_websocket_packet(t0, message("hi")),
            Ok(Some(message("hi")))
        );
        session.on_request(t0 + INTERVAL);
        assert_eq!(
            session.take_websocket_packets(),
            [Packet::Ping(String::new())]
        );
        assert_eq!(
            session.on_websocket_packet(t0 + ms(350), Packet::Pong(String::new())),
            Ok(None)
        );
        assert_eq!(session.next_deadline(), Some(t0 + ms(350) + INTERVAL));
    }

    #[test]
    fn websocket_closing_ends_a_websocket_session() {
        let t0 = Instant::now();
        let mut session = Session::new("s", Transport::WebSocket, config(), t0);
        session.on_websocket_closed();
        assert_eq!(session.close_reason(), Some(&CloseReason::TransportClose));
    }

    #[test]
    fn server_close_flushes_output_then_the_close_packet() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        session.send(message("last")).unwrap();
        assert_eq!(session.close(), [message("last"), Packet::Close]);
        assert_eq!(session.state(), State::Closed);
        assert_eq!(session.send(message("x")), Err(SendError::Closed));
        assert_eq!(session.close(), []);
    }

    #[test]
    fn send_buffer_is_bounded() {
        let t0 = Instant::now();
        let mut session = Session::new("s", Transport::Polling, config().max_buffered(2), t0);
        session.send(message("1")).unwrap();
        assert_eq!(session.send(message("2")), Err(SendError::BufferFull));
    }

    #[test]
    fn separator_in_text_is_refused_while_polling_is_possible() {
        let t0 = Instant::now();
        let mut session = polling(t0);
        assert_eq!(
            session.send(message("a\x1e1")),
            Err(SendError::SeparatorInText)
        );
        let mut session = Session::new("s", Transport::WebSocket, config(), t0);
        assert_eq!(session.send(message("a\x1e1")), Ok(()));
    }

    #[test]
    fn post_over_the_payload_limit_is_refused() {
        let t0 = Instant::now();
        let config = config().payload(PayloadLimits::default().max_payload(4));
        let mut session = Session::new("s", Transport::Polling, config, t0);
        assert_eq!(
            session.on_post(t0, b"4hello"),
            Err(EngineError::BadRequest(BadRequest::BadPayload))
        );
    }
}
