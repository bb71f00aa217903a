//! The compressor: LZ77 with hash chains and lazy matching (RFC 1951
//! section 4), blocks coded with whichever of dynamic Huffman codes, the
//! fixed codes or no compression is smallest, and a sync flush at the end
//! of each message for `permessage-deflate` (RFC 7692 section 7.2.1).
//!
//! # Finding matches
//!
//! Every position is hashed on its next four bytes, though DEFLATE codes
//! matches from three: a chain of positions that share only three bytes is
//! mostly candidates that cannot beat a match already found, and walking
//! them was most of the time spent on text. Chained by four bytes, the same
//! number of steps reaches further back among candidates that can; the
//! three-byte matches given up are the ones that save least (zlib already
//! drops those more than 4 KiB back). On the corpora of
//! `examples/deflate_bench.rs` the output came out 1-3 % smaller at levels
//! 1-3, and from 2.8 % smaller to 0.25 % larger (binary at 8 and 9) at
//! levels 4-9, while level 6 ran 1.1 (binary) to 1.8 (text) times as fast.
//! The last three positions of the input are hashed on three bytes.
//! `head[hash]` is the latest position with that hash and
//! `prev[position mod window]` the one before it, so each hash has a chain
//! of earlier positions, newest first, that the match finder walks up to a
//! per-level number of steps. Positions are stored as their low 16 bits:
//! the window is at most 32 KiB, so the distance back from the current
//! position is the 16-bit difference. A stale entry (its position
//! overwritten, or older than the window) only yields a candidate whose
//! bytes do not match: every candidate is compared byte for byte, and none
//! is taken from before the start of the history, so matches are always
//! right whatever the tables hold. This is also why a reset or a window
//! slide never has to clear the tables.
//!
//! Left alone, though, an entry ages past 2<sup>16</sup> positions and its
//! difference wraps round to a distance that looks near: on data with many
//! rare three-byte strings (binary), a third of all chain steps went to
//! such entries. So every 16 Ki positions a sweep marks each entry older
//! than the window as just out of reach (a window and one position back),
//! which no entry can then age past before the next sweep: a chain ends at
//! its first entry beyond the window, as zlib's do.
//!
//! Levels 1-3 take the longest match found at each position (greedy);
//! levels 4-9 look one position ahead before taking a match and emit a
//! literal instead if the next position starts a longer one (lazy
//! matching), trading time for size.
//!
//! # Memory
//!
//! A `Deflater` holds the history (2<sup>window bits</sup> bytes, plus up to
//! 4 KiB of the latest input), `head` (2<sup>hash bits</sup> 16-bit entries,
//! hash bits = window bits) and `prev` (one 16-bit entry per window byte):
//! 5 bytes per window byte in all, about 160 KiB at 15 bits, 20 KiB at 12,
//! 5.3 KiB at 8, allocated on the first message. While a large message is
//! compressed, the buffer grows by up to 64 KiB of input and the symbol
//! buffer to 64 KiB; both shrink back when the message is done. Level 0
//! keeps no history and allocates nothing.

use super::huffman::{
    MAX_BITS, MAX_CODE_LENGTH_BITS, codes_from_lengths, lengths_from_frequencies,
};
use super::{DeflateError, check_window_bits};

/// A compression level: 0 (no compression, stored blocks only), 1
/// (fastest) to 9 (smallest output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    /// Stored blocks only: the data is framed, not compressed.
    pub const NONE: Level = Level(0);
    /// The fastest compression.
    pub const FASTEST: Level = Level(1);
    /// A balance of speed and size, as zlib's default.
    pub const DEFAULT: Level = Level(6);
    /// The smallest output this compressor makes.
    pub const BEST: Level = Level(9);

    /// The level `level`, from 0 to 9.
    pub fn new(level: u8) -> Result<Level, DeflateError> {
        if level <= 9 {
            Ok(Level(level))
        } else {
            Err(DeflateError::InvalidLevel(level))
        }
    }

    /// The level as a number from 0 to 9.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Level {
    fn default() -> Self {
        Level::DEFAULT
    }
}

/// How hard a level searches.
#[derive(Debug, Clone, Copy)]
struct Search {
    /// Chain steps per search.
    chain: u32,
    /// Stop searching at a match this long.
    nice: usize,
    /// Lazy levels: do not look ahead after a match this long. Greedy
    /// levels: hash the positions inside a match only up to this length.
    lazy: usize,
    /// Lazy levels: search a quarter of the chain after a match this long.
    good: usize,
    greedy: bool,
}

const fn search(chain: u32, nice: usize, lazy: usize, good: usize, greedy: bool) -> Search {
    Search {
        chain,
        nice,
        lazy,
        good,
        greedy,
    }
}

/// The search effort of levels 1-9 (index 0 unused).
const SEARCH: [Search; 10] = [
    search(0, 0, 0, 0, true),
    search(4, 12, 4, 0, true),
    search(8, 16, 6, 0, true),
    search(24, 32, 8, 0, true),
    search(16, 24, 6, 6, false),
    search(32, 48, 16, 8, false),
    search(128, 128, 16, 8, false),
    search(256, 160, 40, 12, false),
    search(1024, 258, 128, 32, false),
    search(4096, 258, 258, 32, false),
];

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// Length-3 matches further back than this cost more than three literals.
const FAR_THREE: usize = 4096;
/// Input bytes buffered beyond the window while compressing.
const CHUNK: usize = 64 * 1024;
/// Input kept beyond the window between messages before sliding: small
/// messages slide the buffer once per this many bytes (or a quarter of the
/// window, if less), not once each.
const SLACK: usize = 4 * 1024;
/// Symbols per block: a new block (and new codes) at least this often.
const BLOCK_SYMBOLS: usize = 16 * 1024;
/// Positions between sweeps of the hash tables: an entry marked out of
/// reach (a window and one back) must not age past 2^16 - 1 positions before
/// the next sweep, and a match may carry the cursor up to 258 past it (a
/// reset skips no more than the 258 bytes of lookahead kept back).
const SWEEP_EVERY: usize = 16 * 1024;

/// A buffered symbol: a literal byte (bit 31 clear), or a match with its
/// length - 3 in bits 15-22 and distance - 1 in bits 0-14.
const MATCH_FLAG: u32 = 1 << 31;

/// The length code (257-285, minus 257) of each match length - 3, and the
/// distance code of each distance - 1 up to 256, then of (distance - 1) /
/// 128 above: distance codes past 3 cover ranges that double in size.
const LENGTH_CODE: [u8; 256] = length_codes();
const DIST_CODE_LOW: [u8; 256] = dist_codes(0);
const DIST_CODE_HIGH: [u8; 256] = dist_codes(7);

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

const fn length_codes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 29 {
        let start = LENGTH_BASE[code] as usize - 3;
        let end = if code == 28 {
            256
        } else {
            LENGTH_BASE[code + 1] as usize - 3
        };
        let mut i = start;
        while i < end {
            table[i] = code as u8;
            i += 1;
        }
        code += 1;
    }
    // 258 has its own code, though 227 + 31 would also reach it.
    table[255] = 28;
    table
}

const fn dist_codes(shift: u32) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 30 {
        let start = (DIST_BASE[code] as usize - 1) >> shift;
        let end = if code == 29 {
            32768 >> shift
        } else {
            (DIST_BASE[code + 1] as usize - 1) >> shift
        };
        let mut i = start;
        while i < end && i < 256 {
            table[i] = code as u8;
            i += 1;
        }
        code += 1;
    }
    table
}

/// The distance code of a distance from 1 to 32768.
#[inline]
fn dist_code(distance: usize) -> usize {
    let d = distance - 1;
    if d < 256 {
        usize::from(DIST_CODE_LOW[d])
    } else {
        usize::from(DIST_CODE_HIGH[(d >> 7) & 255])
    }
}

/// The fixed literal/length and distance codes (section 3.2.6), as
/// (bit-reversed code, length) pairs.
struct FixedCodes {
    litlen: [(u16, u8); 288],
    dist: [(u16, u8); 30],
}

const FIXED: FixedCodes = fixed_codes();

const fn fixed_codes() -> FixedCodes {
    let mut litlen = [(0u16, 0u8); 288];
    let mut s = 0;
    while s < 288 {
        let (code, len) = match s {
            0..=143 => (0x30 + s as u32, 8),
            144..=255 => (0x190 + s as u32 - 144, 9),
            256..=279 => (s as u32 - 256, 7),
            _ => (0xc0 + s as u32 - 280, 8),
        };
        litlen[s] = ((code.reverse_bits() >> (32 - len)) as u16, len as u8);
        s += 1;
    }
    let mut dist = [(0u16, 5u8); 30];
    let mut d = 0;
    while d < 30 {
        dist[d] = (((d as u32).reverse_bits() >> 27) as u16, 5);
        d += 1;
    }
    FixedCodes { litlen, dist }
}

/// Bits least significant first into the output, with the partial byte
/// kept between calls.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    count: u32,
}

impl BitWriter<'_> {
    /// Writes the low `n` bits of `bits`, `n` at most 32.
    #[inline(always)]
    fn put(&mut self, bits: u32, n: u32) {
        self.acc |= u64::from(bits) << self.count;
        self.count += n;
        if self.count >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.count -= 32;
        }
    }

    /// Pads with zero bits to a byte boundary and writes what is pending.
    fn align(&mut self) {
        while self.count > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.count = self.count.saturating_sub(8);
        }
        self.acc = 0;
    }
}

/// A DEFLATE compressor that keeps its history across messages.
///
/// [`compress_message`](Self::compress_message) compresses a whole message
/// and ends it with a sync flush, whose last four bytes are always `00 00
/// ff ff` for the permessage-deflate sender to strip. For a message that
/// arrives in parts, [`compress`](Self::compress) each part, then
/// [`sync_flush`](Self::sync_flush). Matches reach back into earlier
/// messages (context takeover) until [`reset`](Self::reset).
///
/// Memory, allocated on the first message: the history (2<sup>window
/// bits</sup> bytes plus up to 4 KiB of recent input), a hash head table and
/// a chain link per window byte (2 bytes each per window byte): about 5
/// bytes per window byte, 165 KiB at 15 window bits, 25 KiB at 12, 5.5 KiB
/// at 8, measured by [`allocated_bytes`](Self::allocated_bytes). While a
/// large message is compressed, up to 64 KiB of its input and 64 KiB of
/// symbols are buffered too; both are given back when it is done. Level 0
/// allocates nothing.
///
/// ```
/// use stdws::deflate::{Deflater, Level};
///
/// let mut deflater = Deflater::new(Level::DEFAULT, 15)?;
/// let mut wire = Vec::new();
/// deflater.compress_message(b"", &mut wire);
/// // RFC 7692 section 7.2.3.6: an empty message is 00 once the tail is off.
/// assert_eq!(wire, [0x00, 0x00, 0x00, 0xff, 0xff]);
/// # Ok::<(), stdws::deflate::DeflateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Deflater {
    level: Level,
    search: Search,
    window_size: usize,
    hash_bits: u32,
    /// History and pending input: `buf[0]` is absolute position `base`.
    buf: Vec<u8>,
    base: usize,
    /// The next position to code.
    cursor: usize,
    /// The next position to enter into the hash tables.
    inserted: usize,
    /// The earliest position matches may refer to: where the history
    /// started, after a reset.
    history_start: usize,
    /// The first position of the block being gathered.
    block_start: usize,
    head: Vec<u16>,
    prev: Vec<u16>,
    /// The position at which the tables are swept next.
    next_sweep: usize,
    symbols: Vec<u32>,
    litlen_freq: [u32; 286],
    dist_freq: [u32; 30],
    /// Output bits not yet written as a byte.
    acc: u64,
    acc_count: u32,
}

impl Deflater {
    /// A compressor at `level` whose matches reach at most
    /// 2<sup>`window_bits`</sup> bytes back, `window_bits` from 8 to 15: for
    /// permessage-deflate, the window bits negotiated for this endpoint's
    /// direction (RFC 7692 section 7.1.2).
    pub fn new(level: Level, window_bits: u8) -> Result<Self, DeflateError> {
        check_window_bits(window_bits)?;
        Ok(Deflater {
            level,
            search: SEARCH[usize::from(level.0)],
            window_size: 1 << window_bits,
            hash_bits: u32::from(window_bits),
            buf: Vec::new(),
            base: 0,
            cursor: 0,
            inserted: 0,
            history_start: 0,
            block_start: 0,
            head: Vec::new(),
            prev: Vec::new(),
            next_sweep: 0,
            symbols: Vec::new(),
            litlen_freq: [0; 286],
            dist_freq: [0; 30],
            acc: 0,
            acc_count: 0,
        })
    }

    /// The compression level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Forgets the history: the next message refers to nothing before it,
    /// as an endpoint that negotiated no context takeover must compress
    /// (RFC 7692 section 7.1.1). Data passed to [`compress`](Self::compress)
    /// since the last sync flush is dropped. Nothing is cleared or freed:
    /// old table entries are simply never trusted.
    pub fn reset(&mut self) {
        self.base += self.buf.len();
        self.buf.clear();
        self.cursor = self.base;
        self.inserted = self.base;
        self.history_start = self.base;
        self.block_start = self.base;
        self.symbols.clear();
        self.litlen_freq = [0; 286];
        self.dist_freq = [0; 30];
        self.acc = 0;
        self.acc_count = 0;
    }

    /// The bytes this compressor has allocated.
    pub fn allocated_bytes(&self) -> usize {
        self.buf.capacity()
            + 2 * self.head.capacity()
            + 2 * self.prev.capacity()
            + 4 * self.symbols.capacity()
    }

    /// Compresses one message and ends it with a sync flush (RFC 7692
    /// section 7.2.1), appending to `out`: the appended bytes always end
    /// with [`SYNC_FLUSH_TAIL`](super::SYNC_FLUSH_TAIL), which a
    /// permessage-deflate sender removes.
    pub fn compress_message(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.compress(input, out);
        self.sync_flush(out);
    }

    /// Adds input, appending whatever blocks are complete to `out`. Some of
    /// the input may stay buffered until more arrives or
    /// [`sync_flush`](Self::sync_flush).
    pub fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if self.level == Level::NONE {
            self.stored_blocks(input, out);
            return;
        }
        if self.head.is_empty() {
            let gone = self.out_of_reach();
            self.head = vec![gone; 1 << self.hash_bits];
            self.prev = vec![gone; self.window_size];
            self.next_sweep = self.inserted + SWEEP_EVERY;
        }
        while !input.is_empty() {
            let room = (self.window_size + CHUNK).saturating_sub(self.buf.len());
            if room == 0 {
                self.flush_block(out);
                self.slide();
                continue;
            }
            let take = room.min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            // Keep a full match's worth of lookahead unless this is all.
            let end = self.base + self.buf.len();
            self.find_matches(end.saturating_sub(MAX_MATCH), out);
        }
    }

    /// Codes everything added so far and ends it with an empty stored
    /// block, so that the peer can decode all of it now: the appended bytes
    /// end with `00 00 ff ff`.
    pub fn sync_flush(&mut self, out: &mut Vec<u8>) {
        if self.level != Level::NONE {
            let end = self.base + self.buf.len();
            self.find_matches(end, out);
            self.flush_block(out);
            self.trim();
        }
        let mut w = self.writer(out);
        w.put(0, 3); // BFINAL 0, BTYPE 00
        w.align();
        w.out.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        self.acc = 0;
        self.acc_count = 0;
    }

    fn writer<'a>(&self, out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter {
            out,
            acc: self.acc,
            count: self.acc_count,
        }
    }

    fn save(&mut self, w: BitWriter<'_>) {
        self.acc = w.acc;
        self.acc_count = w.count;
    }

    /// Level 0: stored blocks of at most 65,535 bytes, straight from the
    /// input.
    fn stored_blocks(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut w = self.writer(out);
        for piece in input.chunks(0xffff) {
            write_stored(&mut w, piece);
        }
        self.save(w);
    }

    /// Drops history older than the window, keeping unprocessed input.
    fn slide(&mut self) {
        let keep_from = self
            .cursor
            .min(self.block_start)
            .saturating_sub(self.window_size)
            .max(self.base);
        let drop = keep_from - self.base;
        if drop > 0 {
            self.buf.drain(..drop);
            self.base = keep_from;
        }
        // A match taken at the end of a pass moves the cursor up to 257
        // positions past the last one entered in the tables: more than a
        // window of 256 bytes, so those may have just been dropped. They
        // are too far back to match anything now; entering them would
        // index before the buffer.
        self.inserted = self.inserted.max(self.base);
    }

    /// After a message: bound what an idle compressor holds.
    fn trim(&mut self) {
        let slack = SLACK.min(self.window_size / 4);
        if self.buf.len() > self.window_size + slack {
            self.slide();
        }
        if self.buf.capacity() > self.window_size + slack {
            self.buf.shrink_to(self.window_size + slack);
        }
        // A compressor kept per connection is idle most of its life: what
        // a short message needs is cheap to grow again.
        if self.symbols.capacity() > 256 {
            self.symbols = Vec::new();
        }
    }

    #[inline(always)]
    fn hash(&self, at: usize) -> usize {
        let i = at - self.base;
        let v = match self.buf[i..].first_chunk::<4>() {
            Some(four) => u32::from_le_bytes(*four),
            None => {
                u32::from(self.buf[i])
                    | u32::from(self.buf[i + 1]) << 8
                    | u32::from(self.buf[i + 2]) << 16
            }
        };
        (v.wrapping_mul(0x9E37_79B1) >> (32 - self.hash_bits)) as usize
    }

    /// An entry that is a window and one position behind the next position
    /// to insert: out of reach of every match from here.
    fn out_of_reach(&self) -> u16 {
        (self.inserted as u16)
            .wrapping_sub(self.window_size as u16)
            .wrapping_sub(1)
    }

    /// Marks every table entry older than the window as out of reach, so
    /// that none ages far enough to wrap round to a near distance before
    /// the next sweep (see the module docs). Entries name positions before
    /// `inserted`; an entry that names a later one is garbage and goes too.
    fn sweep(&mut self) {
        let now = self.inserted as u16;
        let window = self.window_size as u16;
        let gone = self.out_of_reach();
        sweep_table(&mut self.head, now, window, gone);
        sweep_table(&mut self.prev, now, window, gone);
        self.next_sweep = self.inserted + SWEEP_EVERY;
    }

    /// Enters `at` into its hash chain; returns the previous head.
    #[inline(always)]
    fn insert(&mut self, at: usize) -> u16 {
        let h = self.hash(at);
        let old = self.head[h];
        self.prev[at & (self.window_size - 1)] = old;
        self.head[h] = at as u16;
        old
    }

    /// Enters the positions before `upto` not entered yet (those with three
    /// bytes to hash).
    fn insert_until(&mut self, upto: usize) {
        let end = (self.base + self.buf.len()).saturating_sub(MIN_MATCH - 1);
        let upto = upto.min(end);
        while self.inserted < upto {
            self.insert(self.inserted);
            self.inserted += 1;
        }
        if self.inserted < upto {
            self.inserted = upto;
        }
    }

    /// The longest match for `at` longer than `better_than`, walking the
    /// chain from `candidate` (a 16-bit position); `(0, 0)` if none.
    #[inline]
    fn longest_match(
        &self,
        at: usize,
        candidate: u16,
        better_than: usize,
        chain: u32,
    ) -> (usize, usize) {
        let end = self.base + self.buf.len();
        let max_len = MAX_MATCH.min(end - at);
        if max_len < MIN_MATCH {
            return (0, 0);
        }
        let earliest = self
            .history_start
            .max(self.base)
            .max(at.saturating_sub(self.window_size));
        let here = at - self.base;
        // Every candidate lies before `here`, so its bytes up to a match of
        // `max_len` lie in this slice too.
        let Some(buf) = self.buf.get(..here + max_len) else {
            return (0, 0);
        };
        let nice = self.search.nice.min(max_len);
        let mut best_len = better_than.max(MIN_MATCH - 1);
        if best_len >= max_len {
            return (0, 0);
        }
        let mut best_dist = 0;
        let prev = &self.prev[..];
        let mask = self.window_size - 1;
        // Never a full window back: that candidate's chain link has been
        // overwritten by `at`'s own, which would lead back to the chain's
        // head. Below it, links only lead to older positions (the sweep sees
        // to that), so the walk needs no check that distances grow.
        let limit = (at - earliest).min(mask).min(here);
        let at16 = at as u16;
        let pair = |bytes: &[u8], i: usize| match bytes.get(i..i + 2) {
            Some(&[a, b]) => u16::from_le_bytes([a, b]),
            _ => 0,
        };
        // The two bytes that end a match one longer than the best so far,
        // and the first two: most candidates fail on these. `ends` starts
        // where those two bytes do, so that a candidate's are at its own
        // index.
        let start = pair(buf, here);
        let mut ends = buf.get(best_len - 1..).unwrap_or_default();
        let mut end_pair = pair(ends, here);
        // The chain is followed by position, so that the next link's load
        // waits on nothing but the previous one, the distance computed beside.
        let mut cand = candidate;
        let mut steps = chain;
        loop {
            let distance = usize::from(at16.wrapping_sub(cand));
            if distance.wrapping_sub(1) >= limit {
                break;
            }
            let there = here - distance;
            if pair(ends, there) == end_pair && pair(buf, there) == start {
                let len = match_length(buf, there, here, max_len);
                if len > best_len {
                    best_len = len;
                    best_dist = distance;
                    if len >= nice {
                        break;
                    }
                    ends = buf.get(best_len - 1..).unwrap_or_default();
                    end_pair = pair(ends, here);
                }
            }
            steps -= 1;
            if steps == 0 {
                break;
            }
            cand = prev.get(usize::from(cand) & mask).copied().unwrap_or(at16);
        }
        if best_dist == 0 || (best_len == MIN_MATCH && best_dist > FAR_THREE) {
            (0, 0)
        } else {
            (best_len, best_dist)
        }
    }

    #[inline(always)]
    fn literal(&mut self, byte: u8) {
        self.symbols.push(u32::from(byte));
        self.litlen_freq[usize::from(byte)] += 1;
    }

    #[inline(always)]
    fn matched(&mut self, length: usize, distance: usize) {
        self.symbols
            .push(MATCH_FLAG | ((length - MIN_MATCH) as u32) << 15 | (distance - 1) as u32);
        self.litlen_freq[257 + usize::from(LENGTH_CODE[length - MIN_MATCH])] += 1;
        self.dist_freq[dist_code(distance)] += 1;
    }

    /// Codes positions from the cursor up to `limit` into symbols, flushing
    /// blocks as they fill.
    fn find_matches(&mut self, limit: usize, out: &mut Vec<u8>) {
        if self.search.greedy {
            self.find_matches_greedy(limit, out);
        } else {
            self.find_matches_lazy(limit, out);
        }
    }

    fn find_matches_greedy(&mut self, limit: usize, out: &mut Vec<u8>) {
        let end = self.base + self.buf.len();
        while self.cursor < limit {
            if self.cursor >= self.next_sweep {
                self.sweep();
            }
            if self.symbols.len() >= BLOCK_SYMBOLS {
                self.flush_block(out);
            }
            let at = self.cursor;
            if self.inserted < at {
                self.insert_until(at);
            }
            let (len, dist) = if at + MIN_MATCH <= end {
                let candidate = self.insert(at);
                self.inserted = at + 1;
                self.longest_match(at, candidate, 0, self.search.chain)
            } else {
                (0, 0)
            };
            if len >= MIN_MATCH {
                self.matched(len, dist);
                self.cursor = at + len;
                if len > self.search.lazy {
                    // Long matches: skip hashing their insides.
                    self.inserted = self.cursor;
                }
            } else {
                let byte = self.buf[at - self.base];
                self.literal(byte);
                self.cursor = at + 1;
            }
        }
    }

    fn find_matches_lazy(&mut self, limit: usize, out: &mut Vec<u8>) {
        let end = self.base + self.buf.len();
        // A match found at the previous position, not yet emitted.
        let mut pending: Option<(usize, usize)> = None;
        while self.cursor < limit {
            if self.cursor >= self.next_sweep {
                self.sweep();
            }
            if self.symbols.len() >= BLOCK_SYMBOLS {
                if let Some((len, dist)) = pending.take() {
                    self.matched(len, dist);
                    self.cursor += len - 1;
                    continue;
                }
                self.flush_block(out);
            }
            let at = self.cursor;
            if self.inserted < at {
                self.insert_until(at);
            }
            let prev_len = pending.map_or(0, |p| p.0);
            let (len, dist) = if at + MIN_MATCH <= end {
                let candidate = self.insert(at);
                self.inserted = at + 1;
                if prev_len >= self.search.lazy {
                    (0, 0)
                } else {
                    let chain = if prev_len >= self.search.good {
                        self.search.chain / 4
                    } else {
                        self.search.chain
                    };
                    self.longest_match(at, candidate, prev_len, chain.max(1))
                }
            } else {
                (0, 0)
            };
            match pending {
                Some((plen, pdist)) if len <= plen => {
                    // The match at the previous position wins.
                    self.matched(plen, pdist);
                    self.cursor = at - 1 + plen;
                    pending = None;
                }
                _ => {
                    // The previous position's match (if any) loses to this
                    // one: it becomes a literal.
                    if pending.is_some() {
                        let byte = self.buf[at - 1 - self.base];
                        self.literal(byte);
                    }
                    if len >= MIN_MATCH {
                        pending = Some((len, dist));
                    } else {
                        let byte = self.buf[at - self.base];
                        self.literal(byte);
                        pending = None;
                    }
                    self.cursor = at + 1;
                }
            }
        }
        if let Some((len, dist)) = pending {
            // The look-ahead position is past the limit: take the match.
            self.matched(len, dist);
            self.cursor += len - 1;
        }
    }

    /// Writes the gathered symbols as one block, in whichever form is
    /// smallest.
    fn flush_block(&mut self, out: &mut Vec<u8>) {
        if self.symbols.is_empty() {
            self.block_start = self.cursor;
            return;
        }
        self.litlen_freq[256] = 1;
        let raw = &self.buf[self.block_start - self.base..self.cursor - self.base];

        let extra_bits: u64 = self.litlen_freq[257..]
            .iter()
            .zip(LENGTH_EXTRA.iter())
            .map(|(&f, &e)| u64::from(f) * u64::from(e))
            .sum::<u64>()
            + self
                .dist_freq
                .iter()
                .zip(DIST_EXTRA.iter())
                .map(|(&f, &e)| u64::from(f) * u64::from(e))
                .sum::<u64>();

        let fixed_bits = 3
            + extra_bits
            + self
                .litlen_freq
                .iter()
                .zip(FIXED.litlen.iter())
                .map(|(&f, &(_, l))| u64::from(f) * u64::from(l))
                .sum::<u64>()
            + self
                .dist_freq
                .iter()
                .map(|&f| u64::from(f) * 5)
                .sum::<u64>();

        let dynamic = DynamicCode::new(&self.litlen_freq, &self.dist_freq);
        let dynamic_bits = 3
            + extra_bits
            + dynamic.header_bits
            + dynamic.data_bits(&self.litlen_freq, &self.dist_freq);

        // Each stored block: 3 header bits, padding (at most 7), LEN, NLEN.
        let pieces = raw.len().div_ceil(0xffff).max(1) as u64;
        let stored_bits = pieces * (3 + 7 + 32) + 8 * raw.len() as u64;

        let mut w = BitWriter {
            out,
            acc: self.acc,
            count: self.acc_count,
        };
        if stored_bits < fixed_bits.min(dynamic_bits) {
            for piece in raw.chunks(0xffff) {
                write_stored(&mut w, piece);
            }
        } else if fixed_bits <= dynamic_bits {
            w.put(0b010, 3); // BFINAL 0, BTYPE 01
            write_symbols(&mut w, &self.symbols, &FIXED.litlen, &FIXED.dist);
        } else {
            dynamic.write(&mut w, &self.symbols);
        }
        self.acc = w.acc;
        self.acc_count = w.count;
        self.symbols.clear();
        self.litlen_freq = [0; 286];
        self.dist_freq = [0; 30];
        self.block_start = self.cursor;
    }
}

/// Replaces with `gone` each entry of `table` not within `window` positions
/// before `now`: branch-free, so that it compiles to vector compares.
fn sweep_table(table: &mut [u16], now: u16, window: u16, gone: u16) {
    for e in table {
        let age = now.wrapping_sub(*e).wrapping_sub(1);
        *e = if age >= window { gone } else { *e };
    }
}

/// Writes a stored block (section 3.2.4) of at most 65,535 bytes.
fn write_stored(w: &mut BitWriter<'_>, data: &[u8]) {
    w.put(0, 3); // BFINAL 0, BTYPE 00
    w.align();
    let len = data.len() as u16;
    w.out.extend_from_slice(&len.to_le_bytes());
    w.out.extend_from_slice(&(!len).to_le_bytes());
    w.out.extend_from_slice(data);
}

/// Writes the symbols of a block and its end-of-block code.
fn write_symbols(w: &mut BitWriter<'_>, symbols: &[u32], litlen: &[(u16, u8)], dist: &[(u16, u8)]) {
    for &s in symbols {
        if s & MATCH_FLAG == 0 {
            let (code, len) = litlen[s as usize];
            w.put(u32::from(code), u32::from(len));
            continue;
        }
        let length = ((s >> 15) & 0xff) as usize;
        let distance = (s & 0x7fff) as usize + 1;
        let lc = usize::from(LENGTH_CODE[length]);
        let (code, len) = litlen[257 + lc];
        let extra = u32::from(LENGTH_EXTRA[lc]);
        let extra_value = (length + MIN_MATCH - usize::from(LENGTH_BASE[lc])) as u32;
        w.put(u32::from(code) | extra_value << len, u32::from(len) + extra);
        let dc = dist_code(distance);
        let (code, len) = dist[dc];
        let extra = u32::from(DIST_EXTRA[dc]);
        let extra_value = (distance - usize::from(DIST_BASE[dc])) as u32;
        w.put(u32::from(code) | extra_value << len, u32::from(len) + extra);
    }
    let (code, len) = litlen[256];
    w.put(u32::from(code), u32::from(len));
}

/// The code lengths of a dynamic block (section 3.2.7) and the header that
/// describes them. The codes themselves are made only if the block is
/// written this way: most small messages go out with the fixed codes.
struct DynamicCode {
    litlen: [u8; 286],
    dist: [u8; 30],
    literal_codes: usize,
    distance_codes: usize,
    /// The run-length coded code lengths: (symbol 0-18, extra bits value).
    runs: Vec<(u8, u8)>,
    codelen: [u8; 19],
    code_length_codes: usize,
    header_bits: u64,
}

impl DynamicCode {
    fn new(litlen_freq: &[u32; 286], dist_freq: &[u32; 30]) -> Self {
        let mut litlen_len = [0u8; 286];
        lengths_from_frequencies(litlen_freq, MAX_BITS, &mut litlen_len);
        let mut dist_len = [0u8; 30];
        lengths_from_frequencies(dist_freq, MAX_BITS, &mut dist_len);
        let literal_codes = 257.max(286 - litlen_len.iter().rev().take_while(|&&l| l == 0).count());
        let distance_codes = 1.max(30 - dist_len.iter().rev().take_while(|&&l| l == 0).count());

        let mut all = [0u8; 286 + 30];
        all[..literal_codes].copy_from_slice(&litlen_len[..literal_codes]);
        all[literal_codes..literal_codes + distance_codes]
            .copy_from_slice(&dist_len[..distance_codes]);
        let runs = run_length_code(&all[..literal_codes + distance_codes]);

        let mut codelen_freq = [0u32; 19];
        for &(s, _) in &runs {
            codelen_freq[usize::from(s)] += 1;
        }
        let mut codelen_len = [0u8; 19];
        lengths_from_frequencies(&codelen_freq, MAX_CODE_LENGTH_BITS, &mut codelen_len);
        let code_length_codes = 4.max(
            19 - CODE_LENGTH_ORDER
                .iter()
                .rev()
                .take_while(|&&s| codelen_len[s] == 0)
                .count(),
        );

        let mut header_bits = 5 + 5 + 4 + 3 * code_length_codes as u64;
        for &(s, _) in &runs {
            header_bits += u64::from(codelen_len[usize::from(s)])
                + match s {
                    16 => 2,
                    17 => 3,
                    18 => 7,
                    _ => 0,
                };
        }
        DynamicCode {
            litlen: litlen_len,
            dist: dist_len,
            literal_codes,
            distance_codes,
            runs,
            codelen: codelen_len,
            code_length_codes,
            header_bits,
        }
    }

    fn data_bits(&self, litlen_freq: &[u32; 286], dist_freq: &[u32; 30]) -> u64 {
        let lit: u64 = litlen_freq
            .iter()
            .zip(self.litlen.iter())
            .map(|(&f, &l)| u64::from(f) * u64::from(l))
            .sum();
        let dist: u64 = dist_freq
            .iter()
            .zip(self.dist.iter())
            .map(|(&f, &l)| u64::from(f) * u64::from(l))
            .sum();
        lit + dist
    }

    /// Writes the block: its header, then the symbols. Not inlined, so
    /// that the code tables made here add nothing to the caller's frame.
    #[inline(never)]
    fn write(&self, w: &mut BitWriter<'_>, symbols: &[u32]) {
        w.put(0b100, 3); // BFINAL 0, BTYPE 10
        let codelen = pair_codes(&self.codelen);
        w.put((self.literal_codes - 257) as u32, 5);
        w.put((self.distance_codes - 1) as u32, 5);
        w.put((self.code_length_codes - 4) as u32, 4);
        for &s in &CODE_LENGTH_ORDER[..self.code_length_codes] {
            w.put(u32::from(self.codelen[s]), 3);
        }
        for &(s, extra) in &self.runs {
            let (code, len) = codelen[usize::from(s)];
            w.put(u32::from(code), u32::from(len));
            match s {
                16 => w.put(u32::from(extra), 2),
                17 => w.put(u32::from(extra), 3),
                18 => w.put(u32::from(extra), 7),
                _ => {}
            }
        }
        write_symbols(
            w,
            symbols,
            &pair_codes(&self.litlen),
            &pair_codes(&self.dist),
        );
    }
}

/// Codes and lengths side by side.
fn pair_codes<const N: usize>(lengths: &[u8; N]) -> [(u16, u8); N] {
    let mut codes = [0u16; N];
    codes_from_lengths(lengths, &mut codes);
    let mut pairs = [(0u16, 0u8); N];
    for i in 0..N {
        pairs[i] = (codes[i], lengths[i]);
    }
    pairs
}

/// The code-length alphabet's run-length coding of a length sequence
/// (section 3.2.7): 16 repeats the previous length 3-6 times, 17 and 18
/// give 3-10 and 11-138 zeros.
fn run_length_code(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut runs = Vec::with_capacity(lengths.len());
    let mut i = 0;
    while i < lengths.len() {
        let value = lengths[i];
        let mut run = lengths[i..].iter().take_while(|&&l| l == value).count();
        i += run;
        if value == 0 {
            while run >= 11 {
                let n = run.min(138);
                runs.push((18, (n - 11) as u8));
                run -= n;
            }
            if run >= 3 {
                runs.push((17, (run - 3) as u8));
                run = 0;
            }
        } else {
            runs.push((value, 0));
            run -= 1;
            while run >= 3 {
                let n = run.min(6);
                runs.push((16, (n - 3) as u8));
                run -= n;
            }
        }
        for _ in 0..run {
            runs.push((value, 0));
        }
    }
    runs
}

/// How many bytes from `a` and `b` (`a` < `b`) agree, up to `max`, eight
/// at a time.
#[inline(always)]
fn match_length(buf: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let (Some(x), Some(y)) = (
            buf[a + n..].first_chunk::<8>(),
            buf[b + n..].first_chunk::<8>(),
        ) else {
            break;
        };
        let diff = u64::from_le_bytes(*x) ^ u64::from_le_bytes(*y);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && buf[a + n] == buf[b + n] {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::super::{Inflater, SYNC_FLUSH_TAIL};
    use super::*;

    const MB: usize = 1 << 20;

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn levels() -> impl Iterator<Item = Level> {
        (0..=9).map(|l| Level::new(l).unwrap())
    }

    /// One message as the permessage-deflate sender puts it on the wire.
    fn wire(d: &mut Deflater, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        d.compress_message(message, &mut out);
        assert!(out.ends_with(&SYNC_FLUSH_TAIL), "sync flush tail");
        out.truncate(out.len() - 4);
        out
    }

    fn unwire(i: &mut Inflater, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        i.inflate(payload, &mut out, 16 * MB).unwrap();
        i.finish_message(&mut out, 16 * MB).unwrap();
        out
    }

    const WORDS: &[&str] = &[
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "you",
        "that",
        "it",
        "was",
        "for",
        "on",
        "are",
        "with",
        "they",
        "be",
        "at",
        "one",
        "have",
        "this",
        "from",
        "websocket",
        "frame",
        "message",
        "deflate",
        "window",
        "server",
        "client",
    ];

    fn text(rng: &mut XorShift, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < size {
            out.extend_from_slice(WORDS[(rng.next() % WORDS.len() as u64) as usize].as_bytes());
            out.push(if rng.next() % 9 == 0 { b'\n' } else { b' ' });
        }
        out.truncate(size);
        out
    }

    fn json(rng: &mut XorShift, id: usize) -> Vec<u8> {
        let len = 20 + (rng.next() % 150) as usize;
        format!(
            r#"{{"type":"message","id":{id},"user":"user{}","text":"{}","ts":{}}}"#,
            rng.next() % 50,
            String::from_utf8(text(rng, len)).unwrap(),
            1_700_000_000 + id * 7
        )
        .into_bytes()
    }

    fn random(rng: &mut XorShift, size: usize) -> Vec<u8> {
        (0..size).map(|_| rng.next() as u8).collect()
    }

    fn binary(rng: &mut XorShift, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0u32;
        while out.len() < size {
            match rng.next() % 3 {
                0 => out.extend_from_slice(&i.to_le_bytes()),
                1 => out.extend(std::iter::repeat_n(
                    rng.next() as u8,
                    (rng.next() % 40) as usize,
                )),
                _ => out.extend_from_slice(&rng.next().to_le_bytes()[..(rng.next() % 8) as usize]),
            }
            i += 1;
        }
        out.truncate(size);
        out
    }

    // ---- RFC 7692 section 7.2.3 ----

    #[test]
    fn rfc7692_hello_compresses_to_the_rfc_bytes_at_every_level() {
        for level in levels().skip(1) {
            let mut d = Deflater::new(level, 15).unwrap();
            assert_eq!(
                wire(&mut d, b"Hello"),
                [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
            );
        }
        // Level 0: the stored-block example of section 7.2.3.3.
        let mut d = Deflater::new(Level::NONE, 15).unwrap();
        assert_eq!(
            wire(&mut d, b"Hello"),
            [
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00
            ]
        );
    }

    #[test]
    fn rfc7692_second_hello_refers_back_into_the_first() {
        for level in levels().skip(1) {
            let mut d = Deflater::new(level, 15).unwrap();
            let mut i = Inflater::new(15).unwrap();
            let first = wire(&mut d, b"Hello");
            let second = wire(&mut d, b"Hello");
            // The RFC's zlib wrote f2 00 11 00 00 (H, then a match of 4);
            // we find the whole 5-byte match: f2 then 3 bytes.
            assert!(second.len() <= 5, "{second:02x?}");
            assert_eq!(unwire(&mut i, &first), b"Hello");
            assert_eq!(unwire(&mut i, &second), b"Hello");
            // And without the first message, the second refers to nothing.
            assert!(
                Inflater::new(15)
                    .unwrap()
                    .inflate(&second, &mut Vec::new(), MB)
                    .is_err()
            );
        }
    }

    #[test]
    fn rfc7692_empty_message_compresses_to_a_single_zero_byte() {
        for level in levels() {
            let mut d = Deflater::new(level, 15).unwrap();
            assert_eq!(wire(&mut d, b""), [0x00]);
            wire(&mut d, b"Hello");
            assert_eq!(wire(&mut d, b""), [0x00]);
        }
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        assert_eq!(Level::new(10), Err(DeflateError::InvalidLevel(10)));
        assert_eq!(
            Deflater::new(Level::DEFAULT, 7).unwrap_err(),
            DeflateError::InvalidWindowBits(7)
        );
        assert_eq!(
            Deflater::new(Level::DEFAULT, 16).unwrap_err(),
            DeflateError::InvalidWindowBits(16)
        );
    }

    // ---- Round trips ----

    #[test]
    fn every_level_and_window_round_trips_with_context_takeover_and_resets() {
        let mut rng = XorShift(0xdef1_a7e0_0000_0001);
        let messages: Vec<Vec<u8>> = vec![
            text(&mut rng, 3000),
            json(&mut rng, 1),
            json(&mut rng, 2),
            binary(&mut rng, 2000),
            random(&mut rng, 700),
            Vec::new(),
            text(&mut rng, 9000),
            json(&mut rng, 3),
            vec![b'a'; 1500],
        ];
        for level in levels() {
            for bits in 8..=15 {
                let mut d = Deflater::new(level, bits).unwrap();
                let mut i = Inflater::new(bits).unwrap();
                for (n, m) in messages.iter().enumerate() {
                    if n == 5 {
                        // No context takeover from here on, once.
                        d.reset();
                        i.reset();
                    }
                    let w = wire(&mut d, m);
                    assert!(
                        unwire(&mut i, &w) == *m,
                        "level {level:?} bits {bits} message {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn messages_after_a_reset_never_refer_back() {
        let mut rng = XorShift(7);
        let m = text(&mut rng, 4000);
        for level in levels() {
            let mut d = Deflater::new(level, 15).unwrap();
            wire(&mut d, &m);
            d.reset();
            let w = wire(&mut d, &m);
            assert_eq!(unwire(&mut Inflater::new(15).unwrap(), &w), m);
        }
    }

    #[test]
    fn large_inputs_slide_the_window_and_round_trip() {
        let mut rng = XorShift(99);
        let mut big = text(&mut rng, 200_000);
        big.extend(random(&mut rng, 70_000));
        big.extend(text(&mut rng, 100_000));
        for level in [1, 4, 6, 9] {
            for bits in [9, 15] {
                let mut d = Deflater::new(Level::new(level).unwrap(), bits).unwrap();
                let mut i = Inflater::new(bits).unwrap();
                let w = wire(&mut d, &big);
                assert!(unwire(&mut i, &w) == big, "level {level} bits {bits}");
                // And again, referring back into it.
                let w = wire(&mut d, &big[..50_000]);
                assert!(unwire(&mut i, &w) == big[..50_000]);
            }
        }
    }

    #[test]
    fn a_long_match_at_the_end_of_a_full_buffer_with_the_smallest_window_round_trips() {
        // With a 256-byte window, the cursor can end a pass 257 positions
        // past the last one hashed, and the slide that follows drops those:
        // this used to index before the buffer. The prefix shifts where the
        // 258-byte matches of the run fall relative to the end of the
        // first full buffer.
        let mut rng = XorShift(0x100);
        for prefix in 250..270 {
            let mut m = random(&mut rng, prefix);
            m.extend(std::iter::repeat_n(b'a', 70_000));
            for level in [4, 9] {
                let mut d = Deflater::new(Level::new(level).unwrap(), 8).unwrap();
                let w = wire(&mut d, &m);
                assert!(
                    unwire(&mut Inflater::new(8).unwrap(), &w) == m,
                    "prefix {prefix}"
                );
            }
        }
    }

    #[test]
    fn input_in_pieces_round_trips() {
        let mut rng = XorShift(1234);
        let m = text(&mut rng, 50_000);
        for level in [0, 1, 6, 9] {
            let mut d = Deflater::new(Level::new(level).unwrap(), 15).unwrap();
            let mut out = Vec::new();
            let mut rest = &m[..];
            while !rest.is_empty() {
                let n = (1 + (rng.next() % 3000) as usize).min(rest.len());
                d.compress(&rest[..n], &mut out);
                rest = &rest[n..];
            }
            d.sync_flush(&mut out);
            assert!(out.ends_with(&SYNC_FLUSH_TAIL));
            let mut plain = Vec::new();
            let mut i = Inflater::new(15).unwrap();
            i.inflate(&out, &mut plain, MB).unwrap();
            assert!(i.at_block_boundary());
            assert!(plain == m, "level {level}");
        }
    }

    #[test]
    fn random_inputs_round_trip() {
        let mut rng = XorShift(0x0bad_cafe);
        for round in 0..200 {
            let len = (rng.next() % 2000) as usize;
            // Small alphabets make many matches of every length and distance.
            let alphabet = 1 + rng.next() % 256;
            let m: Vec<u8> = (0..len).map(|_| (rng.next() % alphabet) as u8).collect();
            let level = Level::new((round % 10) as u8).unwrap();
            let bits = 8 + (round % 8) as u8;
            let mut d = Deflater::new(level, bits).unwrap();
            let mut i = Inflater::new(bits).unwrap();
            for _ in 0..3 {
                let w = wire(&mut d, &m);
                assert!(unwire(&mut i, &w) == m, "round {round}");
            }
        }
    }

    #[test]
    fn swept_tables_never_hold_an_entry_old_enough_to_wrap_round() {
        // Random bytes leave most hashes unseen for long stretches: without
        // the sweep, their entries age past 2^16 positions and read as near.
        let mut rng = XorShift(0x5eed);
        for (level, bits) in [(1, 8), (6, 12), (9, 15), (4, 15)] {
            let mut d = Deflater::new(Level::new(level).unwrap(), bits).unwrap();
            let mut i = Inflater::new(bits).unwrap();
            for n in 0..40 {
                if n % 7 == 6 {
                    // A reset that drops input not compressed yet: only the
                    // lookahead kept back (up to 258 bytes), so the positions
                    // skipped without a sweep stay well inside the margin.
                    d.compress(&random(&mut rng, 60_000), &mut Vec::new());
                    d.reset();
                    i.reset();
                }
                let m = if n % 3 == 0 {
                    text(&mut rng, 9000)
                } else {
                    random(&mut rng, 7000)
                };
                assert!(unwire(&mut i, &wire(&mut d, &m)) == m, "level {level}");
                let now = d.inserted as u16;
                let oldest = d.window_size + 1 + SWEEP_EVERY + MAX_MATCH;
                for &e in d.head.iter().chain(d.prev.iter()) {
                    let age = usize::from(now.wrapping_sub(e));
                    assert!(
                        (1..=oldest).contains(&age),
                        "level {level} bits {bits}: {age}"
                    );
                }
            }
        }
    }

    // ---- Choosing the block type ----

    #[test]
    fn incompressible_data_is_stored_with_little_overhead() {
        let mut rng = XorShift(5);
        let m = random(&mut rng, 10_000);
        let w = wire(&mut Deflater::new(Level::DEFAULT, 15).unwrap(), &m);
        assert!(w.len() <= m.len() + 10, "{} bytes", w.len());
        assert_eq!(w[0] & 0b110, 0, "a stored block");
    }

    #[test]
    fn short_text_uses_the_fixed_codes_and_long_text_dynamic_ones() {
        let w = wire(
            &mut Deflater::new(Level::DEFAULT, 15).unwrap(),
            b"a short message",
        );
        assert_eq!(w[0] & 0b110, 0b010, "fixed codes");
        let mut rng = XorShift(6);
        let m = text(&mut rng, 5000);
        let w = wire(&mut Deflater::new(Level::DEFAULT, 15).unwrap(), &m);
        assert_eq!(w[0] & 0b110, 0b100, "dynamic codes");
        assert!(w.len() < m.len() / 2);
    }

    #[test]
    fn higher_levels_compress_text_no_worse() {
        let mut rng = XorShift(8);
        let m = text(&mut rng, 60_000);
        let size = |l: u8| wire(&mut Deflater::new(Level::new(l).unwrap(), 15).unwrap(), &m).len();
        assert!(size(9) <= size(6) && size(6) <= size(1) && size(1) < size(0) / 2);
    }

    // ---- Memory ----

    #[test]
    fn memory_is_proportional_to_the_window_and_shrinks_after_large_messages() {
        let mut rng = XorShift(9);
        let big = text(&mut rng, 300_000);
        for bits in [8u8, 12, 15] {
            let w = 1usize << bits;
            let mut d = Deflater::new(Level::DEFAULT, bits).unwrap();
            assert_eq!(d.allocated_bytes(), 0);
            wire(&mut d, &big);
            let idle = d.allocated_bytes();
            // History + slack, head and prev (2 bytes each per window
            // byte), a small symbol buffer.
            assert!(idle <= w + SLACK + 4 * w + 4 * 2048, "{bits} bits: {idle}");
            for n in 0..50 {
                wire(&mut d, &json(&mut rng, n));
            }
            assert!(d.allocated_bytes() <= idle.max(w + SLACK + 4 * w + 4 * 2048));
        }
        let mut d = Deflater::new(Level::NONE, 15).unwrap();
        wire(&mut d, &big);
        assert_eq!(d.allocated_bytes(), 0);
    }
}
