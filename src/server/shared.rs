//! What one connection's threads share: its identity, the handshake it
//! made, its [outbound side](super::outbound), and the clock readings the
//! housekeeper judges it by. Its worker, the registry, the housekeeper and
//! every [`Connection`](super::Connection) handle hold it through an `Arc`.
//!
//! It is a leaf: it knows nothing of the server around it, so every other
//! module of the server can use it without an import cycle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::outbound::Outbound;
use crate::protocol::http::Request;

/// A point in time as milliseconds since the server's epoch (0: never).
/// Atomic, so that the worker records the peer's activity without a lock.
pub(crate) type Millis = AtomicU64;

/// Reads a [`Millis`].
pub(crate) fn load(ms: &Millis) -> u64 {
    ms.load(Ordering::Relaxed)
}

/// The state of one connection shared by its worker, the registry and every
/// handle.
pub(crate) struct ConnShared {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) request: Request,
    pub(crate) subprotocol: Option<String>,
    pub(crate) outbound: Outbound,
    pub(crate) connected_at: Instant,
    /// When any frame last arrived.
    pub(crate) last_heard_ms: Millis,
    /// When a text or binary message last arrived.
    pub(crate) last_message_ms: Millis,
    /// When the unanswered keepalive ping went out (0: none).
    pub(crate) ping_sent_ms: Millis,
}

impl ConnShared {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        request: Request,
        subprotocol: Option<String>,
        outbound: Outbound,
        now_ms: u64,
    ) -> ConnShared {
        ConnShared {
            id,
            peer,
            request,
            subprotocol,
            outbound,
            connected_at: Instant::now(),
            last_heard_ms: AtomicU64::new(now_ms),
            last_message_ms: AtomicU64::new(now_ms),
            ping_sent_ms: AtomicU64::new(0),
        }
    }
}
