//! Frame tracing: every handshake, frame, violation and close of a
//! connection, in both directions, as typed events ([`TraceEvent`]) for your
//! own code, or as one readable line each, for learning the protocol and for
//! debugging a peer.
//!
//! Turn the text trace on with `STDWS_TRACE=1` in the environment (lines go to standard
//! error), or give any writer to [`Tracer::to_writer`] and pass it to
//! [`WebSocketConfig::trace`](crate::WebSocketConfig::trace),
//! [`ServerBuilder::trace`](crate::server::ServerBuilder::trace) or
//! [`ClientBuilder::trace`](crate::client::ClientBuilder::trace).
//!
//! ```text
//! [ws 1] <- handshake request  GET / HTTP/1.1 | Host: 127.0.0.1:8000 | Upgrade: websocket | ...
//! [ws 1] -> handshake response HTTP/1.1 101 Switching Protocols | ... | Sec-WebSocket-Accept: ...
//! [ws 1] <- FIN=1 RSV=000 op=0x1 TEXT   MASK=1 key=37fa213d len=5 (7-bit)  "Hello"
//! [ws 1] -> FIN=1 RSV=000 op=0x1 TEXT   MASK=0              len=5 (7-bit)  "Hello"
//! [ws 1] <- FIN=1 RSV=000 op=0x8 CLOSE  MASK=1 key=8a2b01c4 len=2 (7-bit)  code=1000 (normal closure)
//! [ws 1] !! failed: the peer used reserved opcode 0x3 (RFC 6455 section 5.2) -> close 1002
//! ```
//!
//! Arrows are seen from this endpoint: `<-` received, `->` sent. With
//! compression, a frame's line ends with its sizes before and after DEFLATE
//! (`[deflate: 7 -> 5 bytes]`).
//!
//! To log frames your own way, or draw them (`examples/inspector.rs` streams
//! them to a web page), give [`Tracer::to_fn`] a callback: it gets each
//! connection's number and each [`TraceEvent`]. When tracing is off, the cost
//! on the hot path is one branch on a field that is `None`.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::protocol::Receiver;
use crate::protocol::Role;
use crate::protocol::close::CloseCode;
use crate::protocol::frame::FrameHeader;
use crate::protocol::mask::apply_mask;
use crate::protocol::violation::Violation;

mod event;
mod text;

pub use event::{Direction, HeadKind, TraceEvent, TracedFrame};

type Sink = dyn Fn(u64, &TraceEvent) + Send + Sync;

/// Where trace events go, if anywhere. Cheap to clone: clones share the
/// consumer.
#[derive(Clone, Default)]
pub struct Tracer {
    sink: Option<Arc<Sink>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_on() {
            "Tracer(on)"
        } else {
            "Tracer(off)"
        })
    }
}

impl Tracer {
    /// No tracing.
    pub fn off() -> Tracer {
        Tracer { sink: None }
    }

    /// Tracing to standard error if the environment has `STDWS_TRACE=1`
    /// (or any value but `0` and empty), off otherwise.
    pub fn from_env() -> Tracer {
        match std::env::var_os("STDWS_TRACE") {
            Some(v) if !v.is_empty() && v != "0" => Tracer::to_writer(io::stderr()),
            _ => Tracer::off(),
        }
    }

    /// Tracing to `writer`, one line per event.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Tracer {
        let writer = Mutex::new(writer);
        Tracer::to_fn(move |conn, event| {
            let Some(line) = text::line(conn, event) else {
                return;
            };
            if let Ok(mut w) = writer.lock() {
                let _ = writeln!(w, "{line}");
                let _ = w.flush();
            }
        })
    }

    /// Tracing to `callback`, called with the connection's number (the
    /// same for all events of one connection, never reused in the process)
    /// and each event, on the thread where it happens: keep it short, and
    /// never let it wait for another connection's socket.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use stdws::trace::{TraceEvent, Tracer};
    /// let frames = Arc::new(Mutex::new(0));
    /// let counted = Arc::clone(&frames);
    /// let tracer = Tracer::to_fn(move |_conn, event| {
    ///     if let TraceEvent::Frame(_) = event {
    ///         *counted.lock().unwrap() += 1;
    ///     }
    /// });
    /// assert!(tracer.is_on());
    /// ```
    pub fn to_fn(callback: impl Fn(u64, &TraceEvent) + Send + Sync + 'static) -> Tracer {
        Tracer {
            sink: Some(Arc::new(callback)),
        }
    }

    /// Whether events are handed on.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    fn emit(&self, conn: u64, event: &TraceEvent) {
        if let Some(sink) = &self.sink {
            sink(conn, event);
        }
    }

    /// Traces a handshake head (`what` is "request" or "response"): a
    /// request is received, a response sent (the server's view).
    pub(crate) fn handshake(&self, conn: u64, what: &str, head: &str) {
        let arrow = if what == "request" { "<-" } else { "->" };
        self.handshake_dir(conn, arrow, what, head);
    }

    /// Traces a handshake head with an explicit direction.
    pub(crate) fn handshake_dir(&self, conn: u64, arrow: &str, what: &str, head: &str) {
        if !self.is_on() {
            return;
        }
        let direction = if arrow == "<-" {
            Direction::Received
        } else {
            Direction::Sent
        };
        let head = head
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        self.emit(
            conn,
            &TraceEvent::Handshake {
                direction,
                kind: HeadKind::from_name(what),
                head,
            },
        );
    }

    /// Traces a free-form event on a connection (connect, disconnect, timeout).
    pub(crate) fn event(&self, conn: u64, text: &str) {
        if self.is_on() {
            self.emit(conn, &TraceEvent::Note(text.to_owned()));
        }
    }

    /// Traces the end of a connection.
    pub(crate) fn disconnected(
        &self,
        conn: u64,
        code: CloseCode,
        reason: &str,
        by_peer: bool,
        clean: bool,
    ) {
        if self.is_on() {
            let event = TraceEvent::Disconnected {
                code,
                reason: reason.to_owned(),
                by_peer,
                clean,
            };
            self.emit(conn, &event);
        }
    }

    /// Traces one side ending its half of TCP.
    pub(crate) fn tcp_closed(&self, conn: u64, by_peer: bool) {
        if self.is_on() {
            self.emit(conn, &TraceEvent::TcpClosed { by_peer });
        }
    }

    /// Traces a message the server compressed before queueing its frame.
    pub(crate) fn deflated(&self, conn: u64, inflated: usize, compressed: usize) {
        if self.is_on() {
            let event = TraceEvent::Deflated {
                inflated: inflated as u64,
                compressed: compressed as u64,
            };
            self.emit(conn, &event);
        }
    }

    /// Traces the frames a receive call completed, and the violation if it failed.
    pub(crate) fn received_frames<T>(
        &self,
        conn: u64,
        receiver: &mut Receiver,
        result: &Result<T, Violation>,
    ) {
        for seen in receiver.take_seen_frames() {
            let mut frame = TracedFrame::new(Direction::Received, seen.header, &seen.prefix);
            frame.inflated = seen.inflated;
            self.emit(conn, &TraceEvent::Frame(frame));
        }
        if let Err(violation) = result {
            self.failed(conn, violation);
        }
    }

    /// Traces a broken rule.
    pub(crate) fn failed(&self, conn: u64, violation: &Violation) {
        self.emit(conn, &TraceEvent::Violation(*violation));
    }

    /// Traces a frame about to be sent: its header and unmasked payload,
    /// and for a compressed message the size it had before.
    pub(crate) fn sent_frame(
        &self,
        conn: u64,
        header: &FrameHeader,
        payload: &[u8],
        inflated: Option<usize>,
    ) {
        let mut frame = TracedFrame::new(Direction::Sent, *header, payload);
        frame.inflated = inflated.map(|n| n as u64);
        self.emit(conn, &TraceEvent::Frame(frame));
    }

    /// Traces every complete frame in `bytes` (already encoded, maybe masked).
    pub(crate) fn sent_bytes(&self, conn: u64, _role: Role, mut bytes: &[u8]) {
        while let Ok(Some((header, len))) = FrameHeader::parse(bytes) {
            let end = (len as u64)
                .saturating_add(header.payload_len)
                .min(bytes.len() as u64) as usize;
            let keep = end.min(len.saturating_add(TracedFrame::KEEP));
            let mut prefix = bytes.get(len..keep).unwrap_or_default().to_vec();
            if let Some(key) = header.mask {
                apply_mask(&mut prefix, key, 0);
            }
            self.sent_frame(conn, &header, &prefix, None);
            bytes = bytes.get(end..).unwrap_or_default();
        }
    }
}

/// A process-wide connection number, never reused: it names connections in
/// traces and serves as the server's client id.
pub(crate) fn next_connection_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::OpCode;

    type Events = Arc<Mutex<Vec<(u64, TraceEvent)>>>;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn collect() -> (Tracer, Events) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let tracer = Tracer::to_fn(move |conn, event| {
            sink.lock().unwrap().push((conn, event.clone()));
        });
        (tracer, events)
    }

    fn lines(events: &[(u64, TraceEvent)]) -> Vec<String> {
        events
            .iter()
            .filter_map(|(conn, e)| text::line(*conn, e))
            .collect()
    }

    #[test]
    fn a_masked_frame_keeps_its_key_and_both_forms_of_its_payload() {
        let (tracer, events) = collect();
        // RFC 6455 section 5.7: a masked "Hello".
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        tracer.sent_bytes(7, Role::Client, &wire);
        let events = events.lock().unwrap();
        let [(7, TraceEvent::Frame(frame))] = &events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(frame.direction, Direction::Sent);
        assert_eq!(frame.header.opcode, OpCode::Text);
        assert_eq!(frame.header.mask, Some(KEY));
        assert_eq!(frame.header.length_encoding.bits(), 7);
        assert_eq!(frame.payload, b"Hello");
        assert_eq!(frame.wire_payload(), wire[6..]);
        assert_eq!(frame.wire_header(), wire[..6]);
        assert!(!frame.is_cut());
        assert_eq!(
            lines(&events),
            ["[ws 7] -> FIN=1 RSV=000 op=0x1 TEXT   MASK=1 key=37fa213d len=5 (7-bit)  \"Hello\""]
        );
    }

    #[test]
    fn a_long_payload_is_kept_up_to_the_bound_and_shown_up_to_a_line() {
        let (tracer, events) = collect();
        let payload = vec![b'a'; 70_000];
        let header = FrameHeader::new(OpCode::Text, payload.len() as u64, None);
        tracer.sent_frame(1, &header, &payload, None);
        let events = events.lock().unwrap();
        let TraceEvent::Frame(frame) = &events[0].1 else {
            panic!("{events:?}");
        };
        assert_eq!(frame.payload.len(), TracedFrame::KEEP);
        assert!(frame.is_cut());
        assert_eq!(frame.header.length_encoding.bits(), 64);
        let line = &lines(&events)[0];
        assert!(
            line.ends_with(&format!("\"{}\"...", "a".repeat(32))),
            "{line}"
        );
    }

    #[test]
    fn a_compressed_message_shows_both_sizes() {
        let (tracer, events) = collect();
        // RFC 7692 section 7.2.3.1: "Hello" compressed.
        let deflated = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut header = FrameHeader::new(OpCode::Text, deflated.len() as u64, None);
        header.rsv = 0b100;
        tracer.sent_frame(2, &header, &deflated, Some(5));
        tracer.deflated(2, 5, 7);
        let events = events.lock().unwrap();
        let TraceEvent::Frame(frame) = &events[0].1 else {
            panic!("{events:?}");
        };
        assert_eq!(frame.inflated, Some(5));
        assert_eq!(
            lines(&events),
            [
                "[ws 2] -> FIN=1 RSV=100 op=0x1 TEXT   MASK=0              len=7 (7-bit)  hex f2 48 cd c9 c9 07 00 [deflate: 5 -> 7 bytes]",
                "[ws 2] ** deflate: a message of 5 bytes compressed to 7",
            ]
        );
    }

    #[test]
    fn a_violation_carries_its_rule_section_and_code() {
        let (tracer, events) = collect();
        tracer.failed(3, &Violation::ReservedOpcode(3));
        let events = events.lock().unwrap();
        let TraceEvent::Violation(v) = events[0].1 else {
            panic!("{events:?}");
        };
        assert_eq!(v.rfc_section(), "5.2");
        assert_eq!(v.close_code(), CloseCode::PROTOCOL_ERROR);
        assert_eq!(
            lines(&events),
            [
                "[ws 3] !! failed: the peer used reserved opcode 0x3 (RFC 6455 section 5.2) -> close 1002"
            ]
        );
    }

    #[test]
    fn a_close_frame_tells_its_code_and_the_tcp_ends_are_events_only() {
        let (tracer, events) = collect();
        let payload = [0x03, 0xe8, b'b', b'y', b'e'];
        let header = FrameHeader::new(OpCode::Close, 5, None);
        tracer.sent_frame(4, &header, &payload, None);
        tracer.tcp_closed(4, true);
        tracer.tcp_closed(4, false);
        tracer.disconnected(4, CloseCode::NORMAL, "bye", false, true);
        let events = events.lock().unwrap();
        let TraceEvent::Frame(frame) = &events[0].1 else {
            panic!("{events:?}");
        };
        let close = frame.close_frame().unwrap();
        assert_eq!(
            (close.code, close.reason.as_str()),
            (CloseCode::NORMAL, "bye")
        );
        assert_eq!(events[1].1, TraceEvent::TcpClosed { by_peer: true });
        assert_eq!(
            lines(&events),
            [
                "[ws 4] -> FIN=1 RSV=000 op=0x8 CLOSE  MASK=0              len=5 (7-bit)  code=1000 (normal closure) reason=\"bye\"",
                "[ws 4] ** disconnected: 1000 (normal closure) \"bye\" (by peer: false, clean: true)",
            ]
        );
    }

    #[test]
    fn a_handshake_head_becomes_one_event_and_one_line() {
        let (tracer, events) = collect();
        tracer.handshake(5, "request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        tracer.handshake_dir(5, "->", "refused", "HTTP/1.1 400 Bad Request\r\n\r\n");
        let events = events.lock().unwrap();
        assert_eq!(
            events[0].1,
            TraceEvent::Handshake {
                direction: Direction::Received,
                kind: HeadKind::Request,
                head: "GET / HTTP/1.1\nHost: a".into(),
            }
        );
        assert_eq!(
            lines(&events),
            [
                "[ws 5] <- handshake request  GET / HTTP/1.1 | Host: a",
                "[ws 5] -> handshake refused  HTTP/1.1 400 Bad Request",
            ]
        );
    }

    #[test]
    fn a_frame_cut_short_in_the_buffer_is_traced_with_what_there_is() {
        let (tracer, events) = collect();
        tracer.sent_bytes(6, Role::Server, &[0x82, 0x7e, 0x01, 0x00, 1, 2, 3]);
        tracer.sent_bytes(6, Role::Server, &[0x82]);
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1);
        let TraceEvent::Frame(frame) = &events[0].1 else {
            panic!("{events:?}");
        };
        assert_eq!(frame.payload, [1, 2, 3]);
        assert_eq!(frame.header.payload_len, 256);
    }

    #[test]
    fn off_hands_nothing_on() {
        assert!(!Tracer::off().is_on());
        assert!(!Tracer::default().is_on());
    }
}
