//! What one connection's threads share: its identity, the handshake it
//! made, its [outbound side](super::outbound), and the clock readings the
//! housekeeper judges it by. Its worker, the registry, the housekeeper and
//! every [`Connection`](super::Connection) handle hold it through an `Arc`.
//!
//! It is a leaf: it knows nothing of the server around it, so every other
//! module of the server can use it without an import cycle.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::outbound::Outbound;
use crate::deflate::Level;
use crate::protocol::Role;
use crate::protocol::compressor::{Compressor, compress_alone};
use crate::protocol::extension::{Agreed, Compression};
use crate::protocol::frame::OpCode;
use crate::protocol::http::Request;

/// `permessage-deflate` as agreed with one client. By default the server
/// keeps no compression context (see
/// [`extension`](crate::protocol::extension)), so whole messages are
/// compressed by whichever thread sends them; only a message sent in parts
/// holds a compressor, from its first part to its last.
///
/// With [`Compression::server_context_takeover`] and a client that allows
/// it, the connection has a [`Context`] instead: one compressor whose
/// history must be the client's, message for message, in the order of the
/// wire. Every compressed message is therefore compressed and queued under
/// the context's lock, so that the queue's order is the compressor's. The
/// owner takes the lock (its own sends are in order, and it may hold the
/// lock while it writes); every other thread only tries it and, when it is
/// busy, sends uncompressed (an uncompressed message is outside the
/// history), so no sender ever waits on a slow client's socket.
pub(crate) struct ConnDeflate {
    pub(crate) agreed: Agreed,
    pub(crate) settings: Compression,
    pub(crate) parts: Mutex<Option<Compressor>>,
    /// `Some` when the server keeps a context for this connection; boxed,
    /// since a compressor is kilobytes and every connection holds this
    /// struct (moved on the worker's stack as it is built).
    context: Option<Box<Mutex<Context>>>,
}

/// A connection's own compression context (see [`ConnDeflate`]).
pub(crate) struct Context {
    compressor: Compressor,
    /// The owner is sending a message in parts: the queue parks other
    /// senders' messages behind its last part, out of the history's order,
    /// so those go uncompressed until it ends.
    in_parts: bool,
}

impl Context {
    /// A context for the server's side of `agreed`. Out of line: a
    /// compressor is kilobytes, and built inline it would widen the stack
    /// frame of every worker's handshake, whose pages each worker keeps
    /// (about 4 KB more per connection, measured).
    #[inline(never)]
    fn boxed(agreed: &Agreed, settings: &Compression) -> Box<Mutex<Context>> {
        let mut direction = agreed.outbound(Role::Server);
        direction.window_bits = direction
            .window_bits
            .min(settings.server_context_window_bits());
        Box::new(Mutex::new(Context {
            compressor: Compressor::new(direction, settings),
            in_parts: false,
        }))
    }

    /// A whole message compressed with the context, when it is worth it and
    /// may be (not while a message in parts is unfinished).
    ///
    /// Never inlined, nor is [`compress_part`](Self::compress_part): the
    /// deflater's working arrays must not sit in the frame of every send,
    /// compressed or not, whose stack pages each worker would then touch
    /// and keep.
    #[inline(never)]
    pub(crate) fn compress(&mut self, opcode: OpCode, payload: &[u8]) -> Option<Vec<u8>> {
        if self.in_parts || !matches!(opcode, OpCode::Text | OpCode::Binary) {
            return None;
        }
        let mut out = Vec::new();
        self.compressor
            .compress_message(payload, &mut out)
            .then_some(out)
    }

    /// One part of the owner's message in parts compressed with the
    /// context; `None` when the part is out of order (the queue refuses
    /// it, and it must not enter the history).
    #[inline(never)]
    pub(crate) fn compress_part(
        &mut self,
        data: &[u8],
        first: bool,
        last: bool,
    ) -> Option<Vec<u8>> {
        if first == self.in_parts {
            return None;
        }
        let mut out = Vec::new();
        self.compressor.compress_part(data, last, &mut out);
        self.in_parts = !last;
        Some(out)
    }
}

impl ConnDeflate {
    /// Whether this connection has a context of its own.
    pub(crate) fn keeps_context(&self) -> bool {
        self.context.is_some()
    }

    /// The context, for the owner: waits for it. `None` without one, or
    /// when a thread panicked holding it (its history is then unknown, and
    /// the connection's messages go uncompressed from then on).
    pub(crate) fn lock_context(&self) -> Option<MutexGuard<'_, Context>> {
        self.context.as_ref()?.lock().ok()
    }

    /// The context, for any other thread: `None` when it is busy (or
    /// broken, as above).
    pub(crate) fn try_context(&self) -> Option<MutexGuard<'_, Context>> {
        self.context.as_ref()?.try_lock().ok()
    }

    /// The parameters a compressed whole message depends on: messages
    /// compressed for one connection serve every connection with the same.
    pub(crate) fn key(&self) -> (Level, u8) {
        (
            self.settings.compression_level(),
            self.agreed.server_max_window_bits,
        )
    }

    /// Whether a message of `opcode` and `len` bytes is compressed.
    pub(crate) fn wants(&self, opcode: OpCode, len: usize) -> bool {
        matches!(opcode, OpCode::Text | OpCode::Binary)
            && len >= self.settings.compression_threshold()
    }

    /// A whole message's payload compressed on its own, when it is worth it
    /// (never for a connection with a context: see [`Context`]).
    pub(crate) fn compress(&self, opcode: OpCode, payload: &[u8]) -> Option<Vec<u8>> {
        if self.keeps_context() || !self.wants(opcode, payload.len()) {
            return None;
        }
        let (level, bits) = self.key();
        compress_alone(level, bits, payload)
    }

    /// Compresses one part of a message sent in parts: the first part makes
    /// a compressor, the last drops it (not for a connection with a
    /// context, which compresses its parts with [`Context::compress_part`]).
    pub(crate) fn compress_part(&self, data: &[u8], first: bool, last: bool) -> Vec<u8> {
        let mut slot = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        if first || slot.is_none() {
            let everything = self.settings.threshold(0);
            *slot = Some(Compressor::new(
                self.agreed.outbound(Role::Server),
                &everything,
            ));
        }
        let mut out = Vec::new();
        if let Some(compressor) = slot.as_mut() {
            compressor.compress_part(data, last, &mut out);
        }
        if last {
            *slot = None;
        }
        out
    }
}

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
    /// The client's address: `peer`, or the one a trusted proxy forwarded.
    pub(crate) client: SocketAddr,
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
    /// `permessage-deflate`, when agreed.
    pub(crate) deflate: Option<ConnDeflate>,
    /// The values of the route's `{name}` segments, decoded.
    pub(crate) path_params: Vec<(String, String)>,
    /// The application's own value for this connection (Socket.IO's
    /// `socket.data`), of whatever type it chose.
    pub(crate) data: Mutex<Option<Box<dyn Any + Send>>>,
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
            client: peer,
            request,
            subprotocol,
            outbound,
            connected_at: Instant::now(),
            last_heard_ms: AtomicU64::new(now_ms),
            last_message_ms: AtomicU64::new(now_ms),
            ping_sent_ms: AtomicU64::new(0),
            deflate: None,
            path_params: Vec::new(),
            data: Mutex::new(None),
        }
    }

    /// The same, with the values of its route's parameters.
    pub(crate) fn with_path_params(mut self, params: Vec<(String, String)>) -> Self {
        self.path_params = params;
        self
    }

    /// The same, with the client's address as a trusted proxy forwarded it.
    pub(crate) fn with_client(mut self, client: SocketAddr) -> Self {
        self.client = client;
        self
    }

    /// The same, with `permessage-deflate` as agreed in the handshake.
    pub(crate) fn with_deflate(mut self, agreed: Option<Agreed>, settings: Compression) -> Self {
        self.deflate = agreed.map(|agreed| {
            let context =
                (!agreed.server_no_context_takeover).then(|| Context::boxed(&agreed, &settings));
            ConnDeflate {
                agreed,
                settings,
                parts: Mutex::new(None),
                context,
            }
        });
        self
    }
}
