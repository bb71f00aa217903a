//! Frame tracing: one readable line per handshake and per frame, in both
//! directions, for learning the protocol and for debugging a peer.
//!
//! Turn it on with `STDWS_TRACE=1` in the environment (lines go to standard
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
//! Arrows are seen from this endpoint: `<-` received, `->` sent. When tracing
//! is off, the cost on the hot path is one branch on a field that is `None`.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::protocol::close::parse_close_payload;
use crate::protocol::frame::{FrameHeader, OpCode};
use crate::protocol::mask::apply_mask;
use crate::protocol::receiver::SeenFrame;
use crate::protocol::violation::Violation;
use crate::protocol::{Receiver, Role};

/// Where trace lines go, if anywhere. Cheap to clone: clones share the writer.
#[derive(Clone, Default)]
pub struct Tracer {
    sink: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
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

    /// Tracing to `writer`.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Tracer {
        Tracer {
            sink: Some(Arc::new(Mutex::new(Box::new(writer)))),
        }
    }

    /// Whether lines are written.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    fn line(&self, conn: u64, text: &str) {
        if let Some(sink) = &self.sink {
            if let Ok(mut w) = sink.lock() {
                let _ = writeln!(w, "[ws {conn}] {text}");
                let _ = w.flush();
            }
        }
    }

    /// Traces a handshake head (`what` is "request" or "response"), one line
    /// with its fields separated by `|`.
    pub fn handshake(&self, conn: u64, what: &str, head: &str) {
        if !self.is_on() {
            return;
        }
        let arrow = if what == "request" { "<-" } else { "->" };
        self.handshake_dir(conn, arrow, what, head);
    }

    /// Traces a handshake head with an explicit direction.
    pub fn handshake_dir(&self, conn: u64, arrow: &str, what: &str, head: &str) {
        if !self.is_on() {
            return;
        }
        let fields: Vec<&str> = head
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        self.line(
            conn,
            &format!("{arrow} handshake {what:<8} {}", fields.join(" | ")),
        );
    }

    /// Traces a free-form event on a connection (connect, disconnect, timeout).
    pub fn event(&self, conn: u64, text: &str) {
        if self.is_on() {
            self.line(conn, &format!("** {text}"));
        }
    }

    /// Traces the frames a receive call completed, and the violation if it failed.
    pub fn received_frames<T>(
        &self,
        conn: u64,
        receiver: &mut Receiver,
        result: &Result<T, Violation>,
    ) {
        for seen in receiver.take_seen_frames() {
            let mut line = format!("<- {}", describe(&seen.header, &seen.prefix));
            if let Some(inflated) = seen.inflated {
                // RFC 7692: the payload above is DEFLATE data.
                let _ = write!(
                    line,
                    " [deflate: {} -> {inflated} bytes]",
                    seen.header.payload_len
                );
            }
            self.line(conn, &line);
        }
        if let Err(violation) = result {
            self.failed(conn, violation);
        }
    }

    /// Traces a broken rule.
    pub fn failed(&self, conn: u64, violation: &Violation) {
        self.line(
            conn,
            &format!(
                "!! failed: {violation} -> close {}",
                violation.close_code().0
            ),
        );
    }

    /// Traces a frame about to be sent: its header and unmasked payload.
    pub fn sent_frame(&self, conn: u64, _role: Role, header: &FrameHeader, payload: &[u8]) {
        let prefix = &payload[..payload.len().min(SeenFrame::PREFIX)];
        self.line(conn, &format!("-> {}", describe(header, prefix)));
    }

    /// Traces every complete frame in `bytes` (already encoded, maybe masked).
    pub fn sent_bytes(&self, conn: u64, role: Role, mut bytes: &[u8]) {
        while let Ok(Some((header, len))) = FrameHeader::parse(bytes) {
            let end = (len as u64 + header.payload_len).min(bytes.len() as u64) as usize;
            let mut prefix = bytes[len..end.min(len + SeenFrame::PREFIX)].to_vec();
            if let Some(key) = header.mask {
                apply_mask(&mut prefix, key, 0);
            }
            self.sent_frame(conn, role, &header, &prefix);
            bytes = &bytes[end..];
        }
    }
}

/// One frame as a line: header fields, then the payload's start.
pub fn describe(header: &FrameHeader, prefix: &[u8]) -> String {
    let mut line = format!(
        "FIN={} RSV={:03b} op={:#x} {:<6} ",
        header.fin as u8,
        header.rsv,
        header.opcode.bits(),
        header.opcode.name()
    );
    match header.mask {
        Some(k) => {
            let _ = write!(
                line,
                "MASK=1 key={:02x}{:02x}{:02x}{:02x} ",
                k[0], k[1], k[2], k[3]
            );
        }
        None => line.push_str("MASK=0              "),
    }
    let _ = write!(
        line,
        "len={} ({}-bit) ",
        header.payload_len,
        header.length_encoding.bits()
    );
    let truncated = (prefix.len() as u64) < header.payload_len;
    if header.opcode == OpCode::Close {
        match parse_close_payload(prefix) {
            Ok(Some(frame)) => {
                let _ = write!(line, " code={}", frame.code);
                if !frame.reason.is_empty() {
                    let _ = write!(line, " reason={:?}", frame.reason);
                }
            }
            Ok(None) => line.push_str(" (no status code)"),
            Err(_) => {
                let _ = write!(line, " payload={}", hex(prefix));
            }
        }
        return line;
    }
    if prefix.is_empty() {
        return line.trim_end().to_owned();
    }
    let more = if truncated { "..." } else { "" };
    match std::str::from_utf8(prefix) {
        Ok(text) if text.chars().all(|c| !c.is_control() || c == '\n') => {
            let _ = write!(line, " {text:?}{more}");
        }
        // A text frame cut inside a character still reads best as text.
        Err(e)
            if header.opcode != OpCode::Binary
                && e.error_len().is_none()
                && e.valid_up_to() > 0 =>
        {
            let text = std::str::from_utf8(&prefix[..e.valid_up_to()]).unwrap_or_default();
            let _ = write!(line, " {text:?}...");
        }
        _ => {
            let _ = write!(line, " hex {}{more}", hex(prefix));
        }
    }
    line
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A process-wide connection number, never reused: it names connections in
/// traces and serves as the server's client id.
pub fn next_connection_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
