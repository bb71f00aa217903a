//! The typed events a [`Tracer`](super::Tracer) hands to user code: what
//! happened on one connection, in the order it happened, in the terms of
//! RFC 6455 (section 4 for the handshake, 5.2 for frames, 7 for closing) and
//! RFC 7692 for compression.

use crate::protocol::close::{CloseCode, CloseFrame, parse_close_payload};
use crate::protocol::frame::{FrameHeader, OpCode};
use crate::protocol::mask::apply_mask;
use crate::protocol::violation::Violation;

/// Which way something went, seen from this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the peer to this endpoint (`<-` in text traces).
    Received,
    /// From this endpoint to the peer (`->`).
    Sent,
}

impl Direction {
    /// `<-` or `->`, as text traces draw it.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Received => "<-",
            Direction::Sent => "->",
        }
    }
}

/// What an HTTP head in a [`TraceEvent::Handshake`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadKind {
    /// The client's upgrade request (section 4.1).
    Request,
    /// The server's answer that accepts it, `101 Switching Protocols` (4.2.2).
    Response,
    /// The server's answer that refuses it (an HTTP error).
    Refused,
    /// A page served to a plain HTTP request on the WebSocket's port.
    Http,
}

impl HeadKind {
    /// The word text traces use.
    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Request => "request",
            HeadKind::Response => "response",
            HeadKind::Refused => "refused",
            HeadKind::Http => "http",
        }
    }

    pub(crate) fn from_name(name: &str) -> HeadKind {
        match name {
            "request" => HeadKind::Request,
            "refused" => HeadKind::Refused,
            "http" => HeadKind::Http,
            _ => HeadKind::Response,
        }
    }
}

/// One frame as it went over the wire (section 5.2), sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TracedFrame {
    /// Which way it went.
    pub direction: Direction,
    /// FIN, RSV1-3, opcode, mask and masking key, payload length and which
    /// of the three encodings carried it.
    pub header: FrameHeader,
    /// The start of the payload, unmasked: at most [`TracedFrame::KEEP`]
    /// bytes of [`header.payload_len`](FrameHeader::payload_len). With
    /// compression this is DEFLATE data, as on the wire.
    pub payload: Vec<u8>,
    /// With compression (RSV1 set, RFC 7692): the size of the data this
    /// frame's payload stands for, inflated. For a received frame, what it
    /// inflated to (the last frame of a message counts the sync-flush tail
    /// too); for a sent message, its size before compression.
    pub inflated: Option<u64>,
}

impl TracedFrame {
    /// How many payload bytes a trace keeps: enough to show any control
    /// frame and the start of any message, bounded whatever the peer sends.
    pub const KEEP: usize = 4096;

    pub(crate) fn new(direction: Direction, header: FrameHeader, unmasked: &[u8]) -> TracedFrame {
        TracedFrame {
            direction,
            header,
            payload: unmasked[..unmasked.len().min(Self::KEEP)].to_vec(),
            inflated: None,
        }
    }

    /// Whether [`payload`](Self::payload) holds less than the whole payload.
    pub fn is_cut(&self) -> bool {
        (self.payload.len() as u64) < self.header.payload_len
    }

    /// The kept payload bytes as they were on the wire: masked with the
    /// frame's key when it has one (section 5.3), as they are otherwise.
    pub fn wire_payload(&self) -> Vec<u8> {
        let mut bytes = self.payload.clone();
        if let Some(key) = self.header.mask {
            apply_mask(&mut bytes, key, 0);
        }
        bytes
    }

    /// The header as it was on the wire (2 to 14 bytes).
    pub fn wire_header(&self) -> Vec<u8> {
        self.header.encode().as_bytes().to_vec()
    }

    /// For a close frame with a valid status code, the code and reason.
    pub fn close_frame(&self) -> Option<CloseFrame> {
        if self.header.opcode != OpCode::Close {
            return None;
        }
        parse_close_payload(&self.payload).ok().flatten()
    }
}

/// What happened on a connection, handed to a [`Tracer::to_fn`](super::Tracer::to_fn)
/// callback with the connection's number.
///
/// ```
/// use stdws::trace::{TraceEvent, Tracer};
/// let tracer = Tracer::to_fn(|conn, event| match event {
///     TraceEvent::Frame(frame) => {
///         eprintln!("[{conn}] {:?} op={:#x} len={}", frame.direction,
///                   frame.header.opcode.bits(), frame.header.payload_len)
///     }
///     TraceEvent::Violation(v) => {
///         eprintln!("[{conn}] {v} (section {}) -> {}", v.rfc_section(), v.close_code())
///     }
///     _ => {}
/// });
/// let config = stdws::WebSocketConfig::new().trace(tracer);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// An opening handshake head (section 4): the request, or the response.
    #[non_exhaustive]
    Handshake {
        /// Which way it went.
        direction: Direction,
        /// Request, response, refusal, or a plain HTTP answer.
        kind: HeadKind,
        /// The head, one line per header, without the blank line.
        head: String,
    },
    /// A frame, sent or received.
    Frame(TracedFrame),
    /// A message this endpoint compressed before framing it (RFC 7692
    /// section 7.2.1), where the frame is traced apart from the message (the
    /// server's queued sends).
    #[non_exhaustive]
    Deflated {
        /// The message's size.
        inflated: u64,
        /// The size of its compressed payload.
        compressed: u64,
    },
    /// The peer broke a rule: the connection is failed with the rule's close
    /// code (section 7.1.7). [`Violation`] tells the rule, its section
    /// ([`Violation::rfc_section`]) and its code ([`Violation::close_code`]).
    Violation(Violation),
    /// The connection ended (after the closing handshake, or without one).
    #[non_exhaustive]
    Disconnected {
        /// The close code (1006: no closing handshake).
        code: CloseCode,
        /// The reason, or what ended the connection.
        reason: String,
        /// Whether the peer started the closing handshake.
        by_peer: bool,
        /// Whether both close frames were exchanged.
        clean: bool,
    },
    /// One side ended its half of the TCP connection: the peer (this
    /// endpoint read the end of the stream) or this endpoint. The first of
    /// these on a connection tells who closed TCP first; RFC 6455 section
    /// 7.1.1 wants it to be the server.
    #[non_exhaustive]
    TcpClosed {
        /// Whether the peer closed it.
        by_peer: bool,
    },
    /// Anything else worth a line: connected, timed out, closing.
    Note(String),
}
