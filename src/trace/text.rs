//! The text trace: one line per event, the consumer behind
//! [`Tracer::to_writer`](super::Tracer::to_writer) and `STDWS_TRACE=1`.

use std::fmt::Write as _;

use super::event::{Direction, TraceEvent, TracedFrame};
use crate::protocol::close::parse_close_payload;
use crate::protocol::frame::{FrameHeader, OpCode};

/// How many payload bytes a line shows: a line stays a line.
const SHOWN: usize = 32;

/// The line for `event` on connection `conn`, or `None` for events the text
/// trace leaves out (the TCP ends, which the disconnect line sums up).
pub(crate) fn line(conn: u64, event: &TraceEvent) -> Option<String> {
    let text = match event {
        TraceEvent::Handshake {
            direction,
            kind,
            head,
        } => {
            let fields: Vec<&str> = head
                .lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .collect();
            format!(
                "{} handshake {:<8} {}",
                direction.arrow(),
                kind.name(),
                fields.join(" | ")
            )
        }
        TraceEvent::Frame(frame) => frame_line(frame),
        TraceEvent::Deflated {
            inflated,
            compressed,
        } => format!("** deflate: a message of {inflated} bytes compressed to {compressed}"),
        TraceEvent::Violation(violation) => format!(
            "!! failed: {violation} -> close {}",
            violation.close_code().0
        ),
        TraceEvent::Disconnected {
            code,
            reason,
            by_peer,
            clean,
        } => format!("** disconnected: {code} {reason:?} (by peer: {by_peer}, clean: {clean})"),
        TraceEvent::TcpClosed { .. } => return None,
        TraceEvent::Note(text) => format!("** {text}"),
    };
    Some(format!("[ws {conn}] {text}"))
}

fn frame_line(frame: &TracedFrame) -> String {
    let shown = &frame.payload[..frame.payload.len().min(SHOWN)];
    let mut line = format!(
        "{} {}",
        frame.direction.arrow(),
        describe(&frame.header, shown)
    );
    if let Some(inflated) = frame.inflated {
        let len = frame.header.payload_len;
        // RFC 7692: the payload above is DEFLATE data; the arrow points
        // from what is sent to what it stands for, or the other way round.
        let _ = match frame.direction {
            Direction::Received => write!(line, " [deflate: {len} -> {inflated} bytes]"),
            Direction::Sent => write!(line, " [deflate: {inflated} -> {len} bytes]"),
        };
    }
    line
}

/// One frame as text: header fields, then the payload's start.
pub(crate) fn describe(header: &FrameHeader, prefix: &[u8]) -> String {
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
