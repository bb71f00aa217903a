//! Compressing messages for `permessage-deflate` (RFC 7692 section 7.2.1).
//!
//! A compressed message is the DEFLATE data of its payload ended by a sync
//! flush, with the flush's `00 00 ff ff` tail removed; its first frame has
//! RSV1 set, its continuation frames do not, and control frames are never
//! compressed (section 6.1). An empty message compresses to the single byte
//! `00` (section 7.2.3.6). A message may also go uncompressed (RSV1 clear):
//! a short one, below [`Compression::threshold`], or, when the sender keeps
//! no context, one that would not shrink.
//!
//! [`Compressor`] is one endpoint's send side; the [`Sender`](super::Sender)
//! holds one when the extension was agreed, and so does a server
//! connection whose context the server keeps (the default, see
//! [`extension`](super::extension)). A server that keeps none compresses
//! through [`compress_alone`], which takes a compressor from a small shared
//! pool: no deflate state is held per connection, and a broadcast is
//! compressed once.
//!
//! Sending in parts compresses each part as it comes with a sync flush, so
//! that the peer can inflate it at once; the tail is removed from the last
//! part only (an empty stored block inside a message is valid DEFLATE).

use std::sync::{Condvar, Mutex, MutexGuard};

use super::extension::{Compression, Direction};
use crate::deflate::{Deflater, Level, SYNC_FLUSH_TAIL};

/// The RSV1 bit as [`FrameHeader::rsv`](super::frame::FrameHeader::rsv)
/// holds it: "Per-Message Compressed" on a message's first frame.
pub const RSV1: u8 = 0b100;

/// One endpoint's message compressor (see the [module docs](self)).
#[derive(Debug)]
pub struct Compressor {
    no_context_takeover: bool,
    threshold: usize,
    /// It allocates its tables on the first compressed message.
    deflater: Deflater,
}

impl Compressor {
    /// A compressor for the direction agreed, with the level and threshold
    /// of `settings`; its window is the smaller of the agreed one and the
    /// one the settings ask for.
    pub fn new(direction: Direction, settings: &Compression) -> Compressor {
        let window_bits = direction.window_bits.clamp(8, 15);
        Compressor {
            no_context_takeover: direction.no_context_takeover,
            threshold: settings.compression_threshold(),
            deflater: Deflater::new(settings.compression_level(), window_bits)
                .expect("window bits are clamped to 8-15"),
        }
    }

    /// Whether a message of `len` bytes is worth compressing.
    pub fn wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// Compresses a whole message into `out` (cleared first) and returns
    /// true, or returns false when it goes uncompressed (see the module
    /// docs): then `out` is to be ignored.
    ///
    /// ```
    /// use stdws::Compression;
    /// use stdws::protocol::compressor::Compressor;
    /// use stdws::protocol::extension::Direction;
    /// let direction = Direction { window_bits: 15, no_context_takeover: false };
    /// let mut c = Compressor::new(direction, &Compression::default().threshold(0));
    /// let mut out = Vec::new();
    /// assert!(c.compress_message(b"Hello", &mut out));
    /// assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // RFC 7692, 7.2.3.1
    /// // The same message again is one reference back into the first
    /// // (compare section 7.2.3.2).
    /// assert!(c.compress_message(b"Hello", &mut out));
    /// assert_eq!(out, [0x02, 0x13, 0x00, 0x00]);
    /// ```
    pub fn compress_message(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        if !self.wants(payload.len()) {
            return false;
        }
        out.clear();
        let alone = self.no_context_takeover;
        let deflater = &mut self.deflater;
        deflater.compress_message(payload, out);
        strip_tail(out);
        if alone {
            deflater.reset();
            // Nothing refers to this message later: send whichever is smaller.
            return out.len() < payload.len();
        }
        true
    }

    /// Compresses one part of a message sent in parts, appending to `out`:
    /// all of each part is flushed, so the peer can inflate it at once.
    pub fn compress_part(&mut self, part: &[u8], last: bool, out: &mut Vec<u8>) {
        let alone = self.no_context_takeover;
        let deflater = &mut self.deflater;
        let start = out.len();
        deflater.compress(part, out);
        deflater.sync_flush(out);
        if last {
            if out.len() >= start + 4 {
                out.truncate(out.len() - SYNC_FLUSH_TAIL.len());
            }
            if alone {
                deflater.reset();
            }
        }
    }

    /// The bytes this compressor holds.
    pub fn allocated_bytes(&self) -> usize {
        self.deflater.allocated_bytes()
    }
}

fn strip_tail(out: &mut Vec<u8>) {
    if out.ends_with(&SYNC_FLUSH_TAIL) {
        out.truncate(out.len() - SYNC_FLUSH_TAIL.len());
    }
}

thread_local! {
    static ALONE_COUNT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Compressors for messages compressed on their own, shared by every
/// thread: with a thread per connection, one per thread would be one per
/// connection. A compressor is taken out for one message and put back.
///
/// At most [`POOLED`] exist at once; a thread that finds them all in use
/// waits for one (a compressor is held for one message only, and takes no
/// other lock meanwhile, so the wait ends). Without that bound, a burst of
/// large messages on many connections would allocate a compressor (165 KiB
/// at 15 window bits) for every message being compressed at that moment;
/// compressing is CPU work, so more compressors than cores buy no
/// throughput.
static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        idle: Vec::new(),
        out: 0,
    }),
    returned: Condvar::new(),
};

/// The most compressors [`POOL`] lets exist.
const POOLED: usize = 8;

struct Pool {
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<(Level, u8, Box<Deflater>)>,
    /// Compressors taken out and not yet returned.
    out: usize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A compressor for `level` and `window_bits`: an idle one, a new one
    /// while fewer than [`POOLED`] exist (an idle one of other parameters
    /// is dropped to make room), or the next one returned.
    fn take(&self, level: Level, window_bits: u8) -> Option<Box<Deflater>> {
        let mut state = self.lock();
        loop {
            if let Some(i) = state
                .idle
                .iter()
                .position(|(l, b, _)| *l == level && *b == window_bits)
            {
                state.out += 1;
                return Some(state.idle.swap_remove(i).2);
            }
            if state.out + state.idle.len() >= POOLED && !state.idle.is_empty() {
                state.idle.swap_remove(0);
            }
            if state.out + state.idle.len() < POOLED {
                state.out += 1;
                drop(state);
                // Boxed from the start: moved by value, a deflater is
                // over a kilobyte of every worker's stack.
                let made = Deflater::new(level, window_bits).ok().map(Box::new);
                if made.is_none() {
                    self.give_back(None);
                }
                return made;
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, deflater: Option<(Level, u8, Box<Deflater>)>) {
        let mut state = self.lock();
        state.out = state.out.saturating_sub(1);
        state.idle.extend(deflater);
        drop(state);
        self.returned.notify_one();
    }
}

/// How many messages [`compress_alone`] has compressed on this thread: a
/// broadcast compressed once shows as one (for tests and diagnostics).
pub fn compressed_on_this_thread() -> u64 {
    ALONE_COUNT.with(|c| c.get())
}

/// Compresses a message on its own (no context before or after it) with a
/// pooled compressor for `level` and `window_bits`; `None` when it would not
/// shrink (it is then sent as it is).
///
/// ```
/// use stdws::deflate::Level;
/// use stdws::protocol::compressor::compress_alone;
/// let wire = compress_alone(Level::DEFAULT, 15, &b"Hello, Hello, Hello, Hello"[..]).unwrap();
/// assert!(wire.len() < 26);
/// assert_eq!(compress_alone(Level::DEFAULT, 15, b"Hi"), None);
/// ```
pub fn compress_alone(level: Level, window_bits: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let window_bits = window_bits.clamp(8, 15);
    ALONE_COUNT.with(|c| c.set(c.get() + 1));
    let mut deflater = POOL.take(level, window_bits)?;
    let mut out = Vec::with_capacity(payload.len() / 2 + 16);
    deflater.compress_message(payload, &mut out);
    deflater.reset();
    POOL.give_back(Some((level, window_bits, deflater)));
    strip_tail(&mut out);
    (out.len() < payload.len() || payload.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::Inflater;

    fn inflate(bits: u8, wire: &[u8]) -> Vec<u8> {
        let mut inflater = Inflater::new(bits).unwrap();
        let mut out = Vec::new();
        inflater.inflate(wire, &mut out, 1 << 24).unwrap();
        inflater.finish_message(&mut out, 1 << 24).unwrap();
        out
    }

    #[test]
    fn an_empty_message_is_one_zero_byte() {
        let d = Direction {
            window_bits: 15,
            no_context_takeover: false,
        };
        let mut c = Compressor::new(d, &Compression::default().threshold(0));
        let mut out = Vec::new();
        assert!(c.compress_message(b"", &mut out));
        assert_eq!(out, [0x00]); // RFC 7692 section 7.2.3.6
        assert_eq!(compress_alone(Level::DEFAULT, 15, b""), Some(vec![0x00]));
    }

    #[test]
    fn short_messages_stay_uncompressed_below_the_threshold() {
        let d = Direction {
            window_bits: 15,
            no_context_takeover: false,
        };
        let mut c = Compressor::new(d, &Compression::default().threshold(10));
        assert!(!c.compress_message(b"short", &mut Vec::new()));
        assert!(c.compress_message(b"long enough here", &mut Vec::new()));
    }

    #[test]
    fn without_context_takeover_every_message_inflates_on_its_own() {
        let d = Direction {
            window_bits: 9,
            no_context_takeover: true,
        };
        let mut c = Compressor::new(d, &Compression::default().threshold(0));
        let text = "{\"event\":\"tick\",\"value\":12345}".repeat(40);
        for _ in 0..3 {
            let mut out = Vec::new();
            assert!(c.compress_message(text.as_bytes(), &mut out));
            assert_eq!(inflate(9, &out), text.as_bytes());
        }
    }

    #[test]
    fn parts_inflate_to_the_whole_message() {
        let d = Direction {
            window_bits: 15,
            no_context_takeover: true,
        };
        let mut c = Compressor::new(d, &Compression::default());
        let mut wire = Vec::new();
        let pieces: [&[u8]; 4] = [b"Hello, ", b"", b"Hello, ", b"world"];
        for (i, piece) in pieces.iter().enumerate() {
            c.compress_part(piece, i == 3, &mut wire);
        }
        assert!(!wire.ends_with(&SYNC_FLUSH_TAIL));
        assert_eq!(inflate(15, &wire), b"Hello, Hello, world");
    }
}
