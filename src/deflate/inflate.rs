//! The decompressor: an incremental DEFLATE decoder (RFC 1951 section 3.2)
//! that takes its input in pieces of any size and keeps a sliding window
//! between calls, for the messages of a `permessage-deflate` connection
//! (RFC 7692 section 7.2.2).
//!
//! Decoding runs in two gears. The fast loop runs while at least 8 input
//! bytes and 266 bytes of output room remain: it refills a 64-bit bit buffer
//! with one read, so a whole literal or length/distance pair (at most 48
//! bits) decodes without checking for input, and it copies matches 8 bytes
//! at a time. Near the ends of the input or the output room, a careful step
//! decodes one item at a time, and only consumes its bits once all of them
//! are there: when a piece of input ends in the middle of an item, the
//! item is decoded again from the start when the next piece arrives. Bits
//! are never given back, so every state below is a point between items.

use std::sync::OnceLock;

use super::huffman::{
    DecodeTable, KIND_BASE, KIND_END, KIND_INVALID, KIND_LITERAL, KIND_UNASSIGNED, entry,
    entry_extra, entry_kind, entry_len, entry_value,
};
use super::{Alphabet, DeflateError, SYNC_FLUSH_TAIL, check_window_bits};

/// Root index bits of the literal/length table: codes up to 10 bits (almost
/// all of them in practice) decode with one lookup.
const LITLEN_ROOT_BITS: u32 = 10;
/// Root index bits of the distance table.
const DIST_ROOT_BITS: u32 = 8;
/// The code-length code has codes of at most 7 bits: one level suffices.
const CODELEN_ROOT_BITS: u32 = 7;

/// The order in which a dynamic block sends the code-length code's lengths
/// (section 3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Base lengths of codes 257-285 and their extra bits (section 3.2.5).
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances of codes 0-29 and their extra bits (section 3.2.5).
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Output room the fast loop keeps: the longest match, plus the 8 bytes a
/// word-at-a-time copy may write past its end.
const FAST_OUT_ROOM: usize = 258 + 8;

/// What a literal/length symbol means, as a table entry.
fn litlen_meaning(symbol: usize) -> u32 {
    match symbol {
        0..=255 => entry(KIND_LITERAL, 0, symbol as u32),
        256 => entry(KIND_END, 0, 0),
        257..=285 => {
            let i = symbol - 257;
            entry(
                KIND_BASE,
                u32::from(LENGTH_EXTRA[i]),
                u32::from(LENGTH_BASE[i]),
            )
        }
        _ => entry(KIND_INVALID, 0, symbol as u32),
    }
}

/// What a distance symbol means, as a table entry.
fn dist_meaning(symbol: usize) -> u32 {
    match symbol {
        0..=29 => entry(
            KIND_BASE,
            u32::from(DIST_EXTRA[symbol]),
            u32::from(DIST_BASE[symbol]),
        ),
        _ => entry(KIND_INVALID, 0, symbol as u32),
    }
}

/// Where the decoder is between two items of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a block header: a block boundary.
    BlockHeader,
    /// Before a stored block's LEN and NLEN.
    StoredHeader,
    /// Inside a stored block, with this many bytes left to copy.
    Stored(u16),
    /// Before a dynamic block's HLIT, HDIST and HCLEN.
    DynamicCounts,
    /// Reading the code-length code's lengths, this many read so far.
    CodeLengthLengths(usize),
    /// Reading the literal/length and distance code lengths.
    CodeLengths(usize),
    /// Inside a compressed block, between symbols.
    Symbols,
    /// A previous call found the stream broken.
    Failed(DeflateError),
}

/// The last bytes of output, for back-references that reach before the
/// output of the current call: a ring of 2<sup>window bits</sup> bytes,
/// allocated when the first byte is stored.
#[derive(Debug, Clone)]
struct Window {
    ring: Vec<u8>,
    size: usize,
    /// Where the next byte goes.
    head: usize,
    /// How many bytes are valid (at most `size`).
    filled: usize,
}

impl Window {
    fn new(size: usize) -> Self {
        Window {
            ring: Vec::new(),
            size,
            head: 0,
            filled: 0,
        }
    }

    fn clear(&mut self) {
        self.head = 0;
        self.filled = 0;
    }

    /// Appends output, keeping only the last `size` bytes.
    fn push(&mut self, mut data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.ring.is_empty() {
            self.ring = vec![0; self.size];
        }
        if data.len() >= self.size {
            data = &data[data.len() - self.size..];
            self.ring.copy_from_slice(data);
            self.head = 0;
            self.filled = self.size;
            return;
        }
        let first = data.len().min(self.size - self.head);
        self.ring[self.head..self.head + first].copy_from_slice(&data[..first]);
        let rest = data.len() - first;
        self.ring[..rest].copy_from_slice(&data[first..]);
        self.head = (self.head + data.len()) % self.size;
        self.filled = (self.filled + data.len()).min(self.size);
    }

    /// Copies `out.len()` bytes starting `back` bytes before the end of the
    /// window (`back` ≥ `out.len()`, `back` ≤ `filled`).
    fn copy_out(&self, back: usize, out: &mut [u8]) {
        let start = (self.head + self.size - back) % self.size;
        let first = out.len().min(self.size - start);
        out[..first].copy_from_slice(&self.ring[start..start + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.ring[..rest]);
    }
}

/// An incremental DEFLATE decoder with a window kept across calls.
///
/// Feed it the compressed data of a message in pieces of any size with
/// [`inflate`](Self::inflate), then, for permessage-deflate, call
/// [`finish_message`](Self::finish_message), which appends the sync-flush
/// tail the sender removed and checks that the message ended at a block
/// boundary. The window of the last 2<sup>window bits</sup> bytes carries
/// over to the next message (context takeover) until
/// [`reset`](Self::reset).
///
/// What an `Inflater` holds is its window (allocated on the first output)
/// and its decode tables, about 7 KiB: 39 KiB in all at 15 window bits,
/// 7.5 KiB at 8.
///
/// ```
/// use stdws::deflate::{DeflateError, Inflater};
///
/// // RFC 7692 section 7.2.3.2: two messages, the second a back-reference
/// // into the first.
/// let mut inflater = Inflater::new(15)?;
/// let mut first = Vec::new();
/// inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut first, 1000)?;
/// inflater.finish_message(&mut first, 1000)?;
/// let mut second = Vec::new();
/// inflater.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut second, 1000)?;
/// inflater.finish_message(&mut second, 1000)?;
/// assert_eq!((&first[..], &second[..]), (&b"Hello"[..], &b"Hello"[..]));
///
/// // The same second message without the first: after its "H", the
/// // reference points before the start of the data.
/// let mut fresh = Inflater::new(15)?;
/// let err = fresh.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut Vec::new(), 1000);
/// assert_eq!(err, Err(DeflateError::DistanceTooFarBack { distance: 5, available: 1 }));
/// # Ok::<(), DeflateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Inflater {
    window: Window,
    /// Input bits not consumed yet, the next one at bit 0. Bits above
    /// `bit_count` are zero.
    bits: u64,
    bit_count: u32,
    state: State,
    /// Whether the current block has BFINAL set: after it, a new stream
    /// starts at the next byte boundary.
    final_block: bool,
    litlen: DecodeTable,
    dist: DecodeTable,
    /// Whether `litlen` and `dist` hold the fixed codes, so that a run of
    /// fixed blocks (typical of short messages) builds them once.
    tables_are_fixed: bool,
    /// The code-length code of the dynamic block being read.
    codelen: DecodeTable,
    /// The dynamic block being read: its code lengths, and how many of each
    /// alphabet it declared.
    lengths: [u8; 286 + 30],
    literal_codes: usize,
    distance_codes: usize,
    code_length_codes: usize,
}

/// The output of one call: the caller's vector, grown in steps and never
/// past the limit, with the part written so far.
struct Output<'a> {
    buf: &'a mut Vec<u8>,
    /// Where this call's output starts.
    start: usize,
    /// Where the next byte goes; `buf[pos..]` is room, zero-filled.
    pos: usize,
    limit: usize,
    /// How much room to make at a time before output has told us more:
    /// proportional to the input of the call.
    hint: usize,
}

impl Output<'_> {
    /// Makes room for at least `needed` more bytes, or fails if that would
    /// pass the limit. Room grows with what the call has produced, so a
    /// small message into a large vector does not pay for zeroing it.
    fn grow(&mut self, needed: usize) -> Result<(), DeflateError> {
        let want = self
            .pos
            .checked_add(needed)
            .ok_or(DeflateError::OutputLimit { limit: self.limit })?;
        if want > self.limit {
            return Err(DeflateError::OutputLimit { limit: self.limit });
        }
        let step = (self.pos - self.start).max(self.hint);
        let new_len = self
            .limit
            .min(want.max(self.buf.len().saturating_add(step)));
        if new_len > self.buf.capacity() {
            // Doubling, but never past the limit: what a peer can make us
            // allocate is bounded by what the caller accepts.
            let cap = self.limit.min(new_len.max(self.buf.capacity() * 2));
            self.buf.reserve_exact(cap - self.buf.len());
        }
        self.buf.resize(new_len, 0);
        Ok(())
    }

    fn room(&self) -> usize {
        self.buf.len() - self.pos
    }
}

impl Inflater {
    /// A decoder for streams whose back-references reach at most
    /// 2<sup>`window_bits`</sup> bytes back, `window_bits` from 8 to 15
    /// (RFC 7692 section 7.1.2). For permessage-deflate, the bits are those
    /// the peer compresses with: `client_max_window_bits` on a server,
    /// `server_max_window_bits` on a client, 15 when not negotiated.
    pub fn new(window_bits: u8) -> Result<Self, DeflateError> {
        check_window_bits(window_bits)?;
        Ok(Inflater {
            window: Window::new(1 << window_bits),
            bits: 0,
            bit_count: 0,
            state: State::BlockHeader,
            final_block: false,
            litlen: DecodeTable::new(LITLEN_ROOT_BITS),
            dist: DecodeTable::new(DIST_ROOT_BITS),
            tables_are_fixed: false,
            codelen: DecodeTable::new(CODELEN_ROOT_BITS),
            lengths: [0; 286 + 30],
            literal_codes: 0,
            distance_codes: 0,
            code_length_codes: 0,
        })
    }

    /// Forgets the window and any partial block, as at the start of a new
    /// stream: for the next message of a peer that negotiated no context
    /// takeover, or after an error.
    pub fn reset(&mut self) {
        self.window.clear();
        self.bits = 0;
        self.bit_count = 0;
        self.state = State::BlockHeader;
        self.final_block = false;
    }

    /// The bytes this decoder has allocated: its window (once output was
    /// produced) and its decode tables.
    pub fn allocated_bytes(&self) -> usize {
        self.window.ring.capacity()
            + 4 * (self.litlen.capacity() + self.dist.capacity() + self.codelen.capacity())
    }

    /// Whether the data fed so far ends exactly at a block boundary, with no
    /// partial block or stray bits pending. After a sync-flushed message
    /// with its tail, this is true.
    pub fn at_block_boundary(&self) -> bool {
        self.state == State::BlockHeader && self.bit_count == 0
    }

    /// Decodes `input`, a piece of compressed data of any size, appending
    /// the output to `out`; returns the number of bytes appended. All of
    /// `input` is consumed: a partial item at its end is kept and finished
    /// by the next call.
    ///
    /// `limit` caps `out.len()`: if the output would grow `out` past it,
    /// the call fails with [`DeflateError::OutputLimit`] before allocating
    /// past the limit (`out` then holds the output up to where it stopped).
    /// To cap a message that arrives in several frames, pass the same `out`
    /// and the same limit for each frame.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, DeflateError> {
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        let start = out.len();
        let mut output = Output {
            buf: out,
            start,
            pos: start,
            limit,
            hint: input
                .len()
                .saturating_mul(4)
                .saturating_add(2 * FAST_OUT_ROOM),
        };
        let result = self.run(input, &mut output);
        let end = output.pos;
        out.truncate(end);
        self.window.push(&out[start..end]);
        match result {
            Ok(()) => Ok(end - start),
            Err(e) => {
                self.state = State::Failed(e);
                Err(e)
            }
        }
    }

    /// Ends a permessage-deflate message: decodes the `00 00 ff ff` tail
    /// the sender removed (RFC 7692 section 7.2.2), then checks that the
    /// message ended at a block boundary. Returns the bytes appended to
    /// `out` (those of a block the tail completed).
    pub fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, DeflateError> {
        let n = self.inflate(&SYNC_FLUSH_TAIL, out, limit)?;
        if self.at_block_boundary() {
            // Every block starts with its codes, so between messages only
            // the window is needed: an idle connection holds nothing more.
            self.litlen.release();
            self.dist.release();
            self.codelen.release();
            self.tables_are_fixed = false;
            Ok(n)
        } else {
            self.state = State::Failed(DeflateError::UnfinishedMessage);
            Err(DeflateError::UnfinishedMessage)
        }
    }

    /// Moves whole bytes of input into the bit buffer while it has room.
    #[inline]
    fn refill(&mut self, input: &[u8], at: &mut usize) {
        while self.bit_count <= 56 {
            let Some(&byte) = input.get(*at) else { break };
            self.bits |= u64::from(byte) << self.bit_count;
            self.bit_count += 8;
            *at += 1;
        }
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.bits >>= n;
        self.bit_count -= n;
    }

    /// Drops the bits up to the next byte boundary (stored blocks, and the
    /// end of a final block).
    fn align_to_byte(&mut self) {
        let n = self.bit_count % 8;
        self.consume(n);
    }

    fn run(&mut self, input: &[u8], out: &mut Output<'_>) -> Result<(), DeflateError> {
        let mut at = 0;
        loop {
            self.refill(input, &mut at);
            let progressed = match self.state {
                State::BlockHeader => self.block_header()?,
                State::StoredHeader => self.stored_header()?,
                State::Stored(left) => self.stored(left, input, &mut at, out)?,
                State::DynamicCounts => self.dynamic_counts()?,
                State::CodeLengthLengths(read) => self.code_length_lengths(read)?,
                State::CodeLengths(read) => self.code_lengths(read)?,
                State::Symbols => {
                    self.fast_symbols(input, &mut at, out)?;
                    self.refill(input, &mut at);
                    self.careful_symbol(out)?
                }
                State::Failed(e) => return Err(e),
            };
            if !progressed {
                // With input left, the bit buffer holds more than any item
                // needs, so every state progresses: no progress means the
                // input is used up.
                debug_assert_eq!(at, input.len());
                return Ok(());
            }
        }
    }

    fn block_header(&mut self) -> Result<bool, DeflateError> {
        if self.bit_count < 3 {
            return Ok(false);
        }
        self.final_block = self.bits & 1 == 1;
        let block_type = (self.bits >> 1) & 3;
        self.consume(3);
        self.state = match block_type {
            0 => State::StoredHeader,
            1 => {
                self.use_fixed_codes();
                State::Symbols
            }
            2 => State::DynamicCounts,
            _ => return Err(DeflateError::ReservedBlockType),
        };
        Ok(true)
    }

    /// The codes of section 3.2.6. They include literal/length codes 286
    /// and 287 and distance codes 30 and 31, which decode to errors.
    ///
    /// Copied from tables built once per process: the decoder frees its
    /// tables between messages (see [`finish_message`](Self::finish_message)),
    /// and short messages come in fixed blocks, so building them for each
    /// message made inflating a 170-byte chat message several times slower.
    fn use_fixed_codes(&mut self) {
        if self.tables_are_fixed {
            return;
        }
        static FIXED: OnceLock<(DecodeTable, DecodeTable)> = OnceLock::new();
        let (litlen, dist) = FIXED.get_or_init(|| {
            let mut lengths = [0u8; 288];
            lengths[..144].fill(8);
            lengths[144..256].fill(9);
            lengths[256..280].fill(7);
            lengths[280..].fill(8);
            let mut litlen = DecodeTable::new(LITLEN_ROOT_BITS);
            let mut dist = DecodeTable::new(DIST_ROOT_BITS);
            let built = litlen
                .build(&lengths, Alphabet::LiteralLength, litlen_meaning)
                .and_then(|()| dist.build(&[5; 32], Alphabet::Distance, dist_meaning));
            // The fixed lengths are a complete code: building cannot fail.
            debug_assert!(built.is_ok());
            (litlen, dist)
        });
        self.litlen.clone_from(litlen);
        self.dist.clone_from(dist);
        self.tables_are_fixed = true;
    }

    fn end_of_block(&mut self) {
        if self.final_block {
            // A new stream may follow a final block (RFC 7692 section
            // 7.2.3.4); it starts on a byte boundary.
            self.align_to_byte();
        }
        self.state = State::BlockHeader;
    }

    fn stored_header(&mut self) -> Result<bool, DeflateError> {
        self.align_to_byte();
        if self.bit_count < 32 {
            return Ok(false);
        }
        let len = (self.bits & 0xffff) as u16;
        let nlen = ((self.bits >> 16) & 0xffff) as u16;
        if nlen != !len {
            return Err(DeflateError::StoredLengthMismatch { len, nlen });
        }
        self.consume(32);
        self.state = State::Stored(len);
        Ok(true)
    }

    /// Copies stored bytes: first those already in the bit buffer, then
    /// straight from the input.
    fn stored(
        &mut self,
        mut left: u16,
        input: &[u8],
        at: &mut usize,
        out: &mut Output<'_>,
    ) -> Result<bool, DeflateError> {
        let mut progressed = false;
        while left > 0 && self.bit_count >= 8 {
            if out.room() == 0 {
                out.grow(usize::from(left))?;
            }
            out.buf[out.pos] = (self.bits & 0xff) as u8;
            out.pos += 1;
            self.consume(8);
            left -= 1;
            progressed = true;
        }
        if left > 0 && self.bit_count == 0 {
            let n = usize::from(left).min(input.len() - *at);
            if n > 0 {
                if out.room() < n {
                    out.grow(n)?;
                }
                out.buf[out.pos..out.pos + n].copy_from_slice(&input[*at..*at + n]);
                out.pos += n;
                *at += n;
                left -= n as u16;
                progressed = true;
            }
        }
        if left == 0 {
            self.end_of_block();
            return Ok(true);
        }
        self.state = State::Stored(left);
        Ok(progressed)
    }

    fn dynamic_counts(&mut self) -> Result<bool, DeflateError> {
        if self.bit_count < 14 {
            return Ok(false);
        }
        let literal_codes = (self.bits & 31) as usize + 257;
        let distance_codes = ((self.bits >> 5) & 31) as usize + 1;
        let code_length_codes = ((self.bits >> 10) & 15) as usize + 4;
        if literal_codes > 286 {
            return Err(DeflateError::TooManyCodes {
                alphabet: Alphabet::LiteralLength,
                count: literal_codes,
            });
        }
        if distance_codes > 30 {
            return Err(DeflateError::TooManyCodes {
                alphabet: Alphabet::Distance,
                count: distance_codes,
            });
        }
        self.consume(14);
        self.literal_codes = literal_codes;
        self.distance_codes = distance_codes;
        self.code_length_codes = code_length_codes;
        self.lengths[..19].fill(0);
        self.state = State::CodeLengthLengths(0);
        Ok(true)
    }

    fn code_length_lengths(&mut self, mut read: usize) -> Result<bool, DeflateError> {
        let start = read;
        while read < self.code_length_codes && self.bit_count >= 3 {
            self.lengths[CODE_LENGTH_ORDER[read]] = (self.bits & 7) as u8;
            self.consume(3);
            read += 1;
        }
        if read < self.code_length_codes {
            self.state = State::CodeLengthLengths(read);
            return Ok(read > start);
        }
        self.codelen
            .build(&self.lengths[..19], Alphabet::CodeLength, |s| {
                entry(KIND_LITERAL, 0, s as u32)
            })?;
        self.state = State::CodeLengths(0);
        Ok(true)
    }

    fn code_lengths(&mut self, mut read: usize) -> Result<bool, DeflateError> {
        let total = self.literal_codes + self.distance_codes;
        let start = read;
        while read < total {
            let e = self.codelen.lookup(self.bits);
            let len = entry_len(e);
            if len > self.bit_count {
                break;
            }
            let symbol = entry_value(e);
            if symbol < 16 {
                self.consume(len);
                self.lengths[read] = symbol as u8;
                read += 1;
                continue;
            }
            // A repeat: the symbol and its extra bits are one item.
            let (extra, base) = match symbol {
                16 => (2, 3),
                17 => (3, 3),
                _ => (7, 11),
            };
            if len + extra > self.bit_count {
                break;
            }
            let count = base + ((self.bits >> len) & ((1 << extra) - 1)) as usize;
            let value = if symbol == 16 {
                if read == 0 {
                    return Err(DeflateError::RepeatWithoutPrevious);
                }
                self.lengths[read - 1]
            } else {
                0
            };
            if read + count > total {
                return Err(DeflateError::RepeatPastEnd);
            }
            self.consume(len + extra);
            self.lengths[read..read + count].fill(value);
            read += count;
        }
        if read < total {
            self.state = State::CodeLengths(read);
            return Ok(read > start);
        }
        let (literal, distance) = self.lengths[..total].split_at(self.literal_codes);
        if literal[256] == 0 {
            return Err(DeflateError::MissingEndOfBlock);
        }
        self.tables_are_fixed = false;
        self.litlen
            .build(literal, Alphabet::LiteralLength, litlen_meaning)?;
        self.dist
            .build(distance, Alphabet::Distance, dist_meaning)?;
        self.state = State::Symbols;
        Ok(true)
    }

    /// Checks a back-reference against the data it may reach: this call's
    /// output and the window, never further back than the window size.
    #[inline]
    fn check_distance(&self, distance: usize, out: &Output<'_>) -> Result<(), DeflateError> {
        let available = (out.pos - out.start + self.window.filled).min(self.window.size);
        if distance > available {
            return Err(DeflateError::DistanceTooFarBack {
                distance,
                available,
            });
        }
        Ok(())
    }

    /// Copies a match of `length` bytes from `distance` back, which
    /// [`check_distance`](Self::check_distance) accepted and for which
    /// `out` has room.
    #[inline]
    fn copy_match(&self, distance: usize, length: usize, out: &mut Output<'_>) {
        let produced = out.pos - out.start;
        let buf = &mut out.buf[..];
        let mut pos = out.pos;
        let mut length_left = length;
        if distance > produced {
            // The match starts in the window (an earlier call or message).
            let back = distance - produced;
            let n = back.min(length);
            self.window.copy_out(back, &mut buf[pos..pos + n]);
            pos += n;
            length_left -= n;
        }
        if length_left > 0 {
            copy_within_output(buf, pos, distance, length_left);
        }
        out.pos += length;
    }

    /// The fast loop: whole items with no checks for input or room, while
    /// at least 8 input bytes and [`FAST_OUT_ROOM`] bytes of room remain.
    fn fast_symbols(
        &mut self,
        input: &[u8],
        at: &mut usize,
        out: &mut Output<'_>,
    ) -> Result<(), DeflateError> {
        loop {
            if out.room() < FAST_OUT_ROOM {
                // Grow when there is input left to fill it; near the end
                // the careful step takes over.
                if input.len() - *at < 8 || out.pos + FAST_OUT_ROOM > out.limit {
                    return Ok(());
                }
                out.grow(FAST_OUT_ROOM)?;
            }
            let Some(word) = input.get(*at..).and_then(|rest| rest.first_chunk::<8>()) else {
                return Ok(());
            };
            // Add as many whole bytes as fit below bit 64: then there are at
            // least 56 bits, enough for a literal/length code with its extra
            // bits and a distance code with its extra bits (48 at most).
            if self.bit_count < 56 {
                let take = (63 - self.bit_count) / 8;
                let filled = self.bit_count + 8 * take;
                self.bits |= (u64::from_le_bytes(*word) << self.bit_count) & ((1u64 << filled) - 1);
                self.bit_count = filled;
                *at += take as usize;
            }

            let mut e = self.litlen.lookup(self.bits);
            if entry_kind(e) == KIND_LITERAL {
                self.consume(entry_len(e));
                out.buf[out.pos] = entry_value(e) as u8;
                out.pos += 1;
                // A second literal fits in the bits left (at least 41).
                e = self.litlen.lookup(self.bits);
                if entry_kind(e) == KIND_LITERAL {
                    self.consume(entry_len(e));
                    out.buf[out.pos] = entry_value(e) as u8;
                    out.pos += 1;
                    continue;
                }
                if self.bit_count < 48 {
                    continue;
                }
            }
            if entry_kind(e) != KIND_BASE {
                if entry_kind(e) == KIND_END {
                    self.consume(entry_len(e));
                    self.end_of_block();
                    return Ok(());
                }
                return Err(litlen_error(e));
            }
            let code_len = entry_len(e);
            let extra = entry_extra(e);
            let length =
                entry_value(e) as usize + ((self.bits >> code_len) & ((1 << extra) - 1)) as usize;
            self.consume(code_len + extra);

            let d = self.dist.lookup(self.bits);
            if entry_kind(d) != KIND_BASE {
                return Err(distance_error(d));
            }
            let code_len = entry_len(d);
            let extra = entry_extra(d);
            let distance =
                entry_value(d) as usize + ((self.bits >> code_len) & ((1 << extra) - 1)) as usize;
            self.consume(code_len + extra);
            self.check_distance(distance, out)?;
            self.copy_match(distance, length, out);
        }
    }

    /// One item, consumed only if all its bits are there; `Ok(false)` when
    /// more input is needed for it.
    fn careful_symbol(&mut self, out: &mut Output<'_>) -> Result<bool, DeflateError> {
        if self.state != State::Symbols {
            return Ok(true); // the fast loop ended the block
        }
        let e = self.litlen.lookup(self.bits);
        let code_len = entry_len(e);
        if code_len > self.bit_count {
            return Ok(false);
        }
        match entry_kind(e) {
            KIND_LITERAL => {
                if out.room() == 0 {
                    out.grow(1)?;
                }
                self.consume(code_len);
                out.buf[out.pos] = entry_value(e) as u8;
                out.pos += 1;
                return Ok(true);
            }
            KIND_BASE => {}
            KIND_END => {
                self.consume(code_len);
                self.end_of_block();
                return Ok(true);
            }
            _ => return Err(litlen_error(e)),
        }
        let extra = entry_extra(e);
        let mut used = code_len + extra;
        if used > self.bit_count {
            return Ok(false);
        }
        let length =
            entry_value(e) as usize + ((self.bits >> code_len) & ((1 << extra) - 1)) as usize;
        let rest = self.bits >> used;
        let d = self.dist.lookup(rest);
        let dist_len = entry_len(d);
        if used + dist_len > self.bit_count {
            return Ok(false);
        }
        if entry_kind(d) != KIND_BASE {
            return Err(distance_error(d));
        }
        let dist_extra = entry_extra(d);
        if used + dist_len + dist_extra > self.bit_count {
            return Ok(false);
        }
        let distance =
            entry_value(d) as usize + ((rest >> dist_len) & ((1 << dist_extra) - 1)) as usize;
        used += dist_len + dist_extra;
        self.check_distance(distance, out)?;
        if out.room() < length {
            out.grow(length)?;
        }
        self.consume(used);
        self.copy_match(distance, length, out);
        Ok(true)
    }
}

/// The error for a distance table entry that is not a distance.
fn distance_error(d: u32) -> DeflateError {
    if entry_kind(d) == KIND_INVALID {
        DeflateError::InvalidDistanceCode(entry_value(d) as u16)
    } else {
        debug_assert_eq!(entry_kind(d), KIND_UNASSIGNED);
        DeflateError::UnassignedCode(Alphabet::Distance)
    }
}

/// The error for a literal/length table entry that is neither a literal,
/// a length nor the end of the block.
fn litlen_error(e: u32) -> DeflateError {
    if entry_kind(e) == KIND_INVALID {
        DeflateError::InvalidLengthCode(entry_value(e) as u16)
    } else {
        DeflateError::UnassignedCode(Alphabet::LiteralLength)
    }
}

/// Copies `length` bytes from `distance` back within `buf`, where the
/// source may overlap the destination (a run: distance < length). When
/// there is room after the match, copies 8 bytes at a time, writing up to 7
/// bytes past the match that later output overwrites.
#[inline]
fn copy_within_output(buf: &mut [u8], pos: usize, distance: usize, length: usize) {
    let src = pos - distance;
    if distance >= 8 && pos + length + 8 <= buf.len() {
        let (mut s, mut d) = (src, pos);
        let end = pos + length;
        while d < end {
            let mut word = [0u8; 8];
            word.copy_from_slice(&buf[s..s + 8]);
            buf[d..d + 8].copy_from_slice(&word);
            s += 8;
            d += 8;
        }
    } else if distance >= length {
        buf.copy_within(src..src + length, pos);
    } else if distance == 1 {
        let byte = buf[src];
        buf[pos..pos + length].fill(byte);
    } else {
        for i in 0..length {
            buf[pos + i] = buf[src + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::huffman::codes_from_lengths;
    use super::*;

    const HELLO: &[u8] = b"Hello";
    const MB: usize = 1 << 20;

    /// Inflates one permessage-deflate message (tail removed).
    fn message(inflater: &mut Inflater, payload: &[u8]) -> Result<Vec<u8>, DeflateError> {
        let mut out = Vec::new();
        inflater.inflate(payload, &mut out, MB)?;
        inflater.finish_message(&mut out, MB)?;
        Ok(out)
    }

    fn inflate_all(stream: &[u8]) -> Result<Vec<u8>, DeflateError> {
        let mut out = Vec::new();
        Inflater::new(15)?.inflate(stream, &mut out, MB)?;
        Ok(out)
    }

    /// Writes bits least significant first, as DEFLATE packs them.
    #[derive(Default)]
    struct Bits {
        bytes: Vec<u8>,
        acc: u64,
        n: u32,
    }

    impl Bits {
        fn put(&mut self, value: u32, n: u32) -> &mut Self {
            self.acc |= u64::from(value) << self.n;
            self.n += n;
            while self.n >= 8 {
                self.bytes.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
            self
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) -> &mut Self {
            self.put(code.reverse_bits() >> (32 - len), len)
        }
        fn finish(&mut self) -> Vec<u8> {
            if self.n > 0 {
                self.bytes.push(self.acc as u8);
            }
            std::mem::take(&mut self.bytes)
        }
    }

    /// Fixed-code writers (section 3.2.6).
    fn fixed_litlen(b: &mut Bits, symbol: u32) {
        match symbol {
            0..=143 => b.code(0x30 + symbol, 8),
            144..=255 => b.code(0x190 + symbol - 144, 9),
            256..=279 => b.code(symbol - 256, 7),
            _ => b.code(0xc0 + symbol - 280, 8),
        };
    }

    /// Starts a dynamic block: header, code-length code, then the given
    /// code-length symbols `(symbol, extra value)`, written with a
    /// code-length code of the given lengths.
    fn dynamic_header(
        b: &mut Bits,
        literal_codes: u32,
        distance_codes: u32,
        codelen_lengths: &[u8; 19],
        symbols: &[(usize, u32)],
    ) {
        b.put(1, 1).put(2, 2);
        b.put(literal_codes - 257, 5)
            .put(distance_codes - 1, 5)
            .put(15, 4);
        for &s in &CODE_LENGTH_ORDER {
            b.put(u32::from(codelen_lengths[s]), 3);
        }
        let mut codes = [0u16; 19];
        codes_from_lengths(codelen_lengths, &mut codes);
        for &(s, extra) in symbols {
            b.put(u32::from(codes[s]), u32::from(codelen_lengths[s]));
            match s {
                16 => b.put(extra, 2),
                17 => b.put(extra, 3),
                18 => b.put(extra, 7),
                _ => b,
            };
        }
    }

    /// A code-length code giving each of 0-15 a 4-bit code (complete).
    const FLAT: [u8; 19] = [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0];
    /// A code-length code for 0, 1, 2, 16, 17, 18 (complete: 2+2+2+2+3+3... )
    const REPEATS: [u8; 19] = [2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 2];

    /// Writes the code lengths of `lengths` one symbol each with FLAT.
    fn flat_lengths(lengths: &[u8]) -> Vec<(usize, u32)> {
        lengths.iter().map(|&l| (usize::from(l), 0)).collect()
    }

    // ---- RFC 7692 section 7.2.3: the examples, byte for byte ----

    #[test]
    fn rfc7692_hello_in_one_frame_and_in_two() {
        let payload = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            message(&mut Inflater::new(15).unwrap(), &payload).unwrap(),
            HELLO
        );
        // Section 7.2.3.1, fragmented: f2 48 cd | c9 c9 07 00.
        let mut inflater = Inflater::new(15).unwrap();
        let mut out = Vec::new();
        inflater.inflate(&payload[..3], &mut out, MB).unwrap();
        inflater.inflate(&payload[3..], &mut out, MB).unwrap();
        inflater.finish_message(&mut out, MB).unwrap();
        assert_eq!(out, HELLO);
    }

    #[test]
    fn rfc7692_second_hello_refers_back_into_the_first_message() {
        let mut inflater = Inflater::new(15).unwrap();
        let first = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
        assert_eq!(message(&mut inflater, &first).unwrap(), HELLO);
        assert_eq!(message(&mut inflater, &second).unwrap(), HELLO);
        // Without context takeover, the reference has nothing to refer to.
        inflater.reset();
        assert_eq!(
            message(&mut inflater, &second),
            Err(DeflateError::DistanceTooFarBack {
                distance: 5,
                available: 1 // the "H" decoded just before
            })
        );
    }

    #[test]
    fn rfc7692_stored_block_message() {
        let payload = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(
            message(&mut Inflater::new(15).unwrap(), &payload).unwrap(),
            HELLO
        );
    }

    #[test]
    fn rfc7692_final_block_then_a_new_stream_in_the_same_message() {
        // Section 7.2.3.4: a block with BFINAL set, then 00, which with the
        // appended tail is an empty stored block of a new stream.
        let mut inflater = Inflater::new(15).unwrap();
        let payload = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(message(&mut inflater, &payload).unwrap(), HELLO);
        // And the window survives the final block.
        assert_eq!(
            message(&mut inflater, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
            HELLO
        );
    }

    #[test]
    fn rfc7692_hello_in_two_deflate_blocks() {
        // Section 7.2.3.5: "He" then a sync flush, then "llo".
        let payload = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(
            message(&mut Inflater::new(15).unwrap(), &payload).unwrap(),
            HELLO
        );
    }

    #[test]
    fn rfc7692_empty_message_is_a_single_zero_byte() {
        // Section 7.2.3.6: 00 plus the tail is one empty stored block.
        let mut inflater = Inflater::new(15).unwrap();
        assert_eq!(message(&mut inflater, &[0x00]).unwrap(), b"");
        assert!(inflater.at_block_boundary());
        // An empty fixed block (02 00, as older zlib wrote) too.
        assert_eq!(message(&mut inflater, &[0x02, 0x00]).unwrap(), b"");
    }

    #[test]
    fn every_split_of_a_message_decodes_the_same() {
        let stream = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00, 0x00,
            0x00, 0xff, 0xff,
        ];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let mut inflater = Inflater::new(15).unwrap();
                let mut out = Vec::new();
                for piece in [&stream[..a], &stream[a..b], &stream[b..]] {
                    inflater.inflate(piece, &mut out, MB).unwrap();
                }
                assert_eq!(out, HELLO, "split at {a} and {b}");
                assert!(inflater.at_block_boundary());
            }
        }
    }

    // ---- Block types and headers (section 3.2.3-3.2.4) ----

    #[test]
    fn reserved_block_type_is_refused() {
        assert_eq!(inflate_all(&[0x07]), Err(DeflateError::ReservedBlockType));
        assert_eq!(inflate_all(&[0x06]), Err(DeflateError::ReservedBlockType));
    }

    #[test]
    fn stored_block_with_mismatched_nlen_is_refused() {
        assert_eq!(
            inflate_all(&[0x01, 0x05, 0x00, 0xfb, 0xff, b'H']),
            Err(DeflateError::StoredLengthMismatch {
                len: 5,
                nlen: 0xfffb
            })
        );
    }

    #[test]
    fn an_error_sticks_until_reset() {
        let mut inflater = Inflater::new(15).unwrap();
        let mut out = Vec::new();
        assert!(inflater.inflate(&[0x07], &mut out, MB).is_err());
        assert_eq!(
            inflater.inflate(&[0x00, 0x00, 0x00, 0xff, 0xff], &mut out, MB),
            Err(DeflateError::ReservedBlockType)
        );
        inflater.reset();
        assert_eq!(message(&mut inflater, &[0x00]).unwrap(), b"");
    }

    #[test]
    fn truncated_message_is_unfinished() {
        let mut inflater = Inflater::new(15).unwrap();
        let mut out = Vec::new();
        inflater.inflate(&[0xf2, 0x48, 0xcd], &mut out, MB).unwrap();
        assert_eq!(
            inflater.finish_message(&mut out, MB),
            Err(DeflateError::UnfinishedMessage)
        );
    }

    #[test]
    fn window_bits_outside_8_to_15_are_refused() {
        assert_eq!(
            Inflater::new(7).unwrap_err(),
            DeflateError::InvalidWindowBits(7)
        );
        assert_eq!(
            Inflater::new(16).unwrap_err(),
            DeflateError::InvalidWindowBits(16)
        );
        assert!(Inflater::new(8).is_ok());
    }

    // ---- Fixed codes (section 3.2.6) ----

    #[test]
    fn literal_length_codes_286_and_287_are_refused() {
        for symbol in [286, 287] {
            let mut b = Bits::default();
            b.put(1, 1).put(1, 2);
            fixed_litlen(&mut b, symbol);
            assert_eq!(
                inflate_all(&b.finish()),
                Err(DeflateError::InvalidLengthCode(symbol as u16))
            );
        }
    }

    #[test]
    fn distance_codes_30_and_31_are_refused() {
        for symbol in [30, 31] {
            let mut b = Bits::default();
            b.put(1, 1).put(1, 2);
            fixed_litlen(&mut b, u32::from(b'a'));
            fixed_litlen(&mut b, 257);
            b.code(symbol, 5);
            assert_eq!(
                inflate_all(&b.finish()),
                Err(DeflateError::InvalidDistanceCode(symbol as u16))
            );
        }
    }

    #[test]
    fn distance_before_any_output_is_refused() {
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2);
        fixed_litlen(&mut b, 257); // length 3
        b.code(0, 5); // distance 1
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::DistanceTooFarBack {
                distance: 1,
                available: 0
            })
        );
    }

    #[test]
    fn distance_beyond_the_window_size_is_refused_even_with_the_data_there() {
        // 300 literals, then a reference 257 back: fine for a 512-byte
        // window, too far for a 256-byte one.
        let stream = |distance_extra: u32| {
            let mut b = Bits::default();
            b.put(1, 1).put(1, 2);
            for i in 0..300 {
                fixed_litlen(&mut b, i % 256);
            }
            fixed_litlen(&mut b, 257);
            b.code(16, 5).put(distance_extra, 7); // 257 + extra
            fixed_litlen(&mut b, 256);
            b.finish()
        };
        let mut out = Vec::new();
        Inflater::new(9)
            .unwrap()
            .inflate(&stream(0), &mut out, MB)
            .unwrap();
        assert_eq!(&out[300..], &out[300 - 257..300 - 254]);
        assert_eq!(
            Inflater::new(8)
                .unwrap()
                .inflate(&stream(0), &mut Vec::new(), MB),
            Err(DeflateError::DistanceTooFarBack {
                distance: 257,
                available: 256
            })
        );
        // 256 back is within an 8-bit window.
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2);
        for i in 0..300 {
            fixed_litlen(&mut b, i % 256);
        }
        fixed_litlen(&mut b, 257);
        b.code(15, 5).put(63, 6); // 193 + 63 = 256
        fixed_litlen(&mut b, 256);
        assert!(
            Inflater::new(8)
                .unwrap()
                .inflate(&b.finish(), &mut Vec::new(), MB)
                .is_ok()
        );
    }

    #[test]
    fn window_carries_matches_across_calls_of_one_byte() {
        // A long run written as one literal and matches at distance 1 and
        // 300 (the latter reaching into earlier calls' output).
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2);
        for i in 0..300 {
            fixed_litlen(&mut b, i % 256);
        }
        for _ in 0..20 {
            fixed_litlen(&mut b, 284); // 227 + 5 bits
            b.put(31, 5); // 258
            b.code(16, 5).put(43, 7); // distance 257 + 43 = 300
        }
        fixed_litlen(&mut b, 256);
        let stream = b.finish();
        let whole = inflate_all(&stream).unwrap();
        assert_eq!(whole.len(), 300 + 20 * 258);
        for (i, &byte) in whole.iter().enumerate() {
            assert_eq!(byte, (i % 300 % 256) as u8);
        }
        let mut inflater = Inflater::new(15).unwrap();
        let mut out = Vec::new();
        for byte in &stream {
            inflater
                .inflate(std::slice::from_ref(byte), &mut out, MB)
                .unwrap();
        }
        assert_eq!(out, whole);
    }

    // ---- Dynamic blocks (section 3.2.7) ----

    /// Literal/length lengths where 'a' (97), 256 and 257 have codes of
    /// lengths 1, 2, 2, and one distance code of one bit: the smallest
    /// dynamic block with a match.
    fn tiny_dynamic(b: &mut Bits, distance_lengths: &[u8]) {
        let mut lengths = vec![0u8; 258];
        lengths[97] = 1;
        lengths[256] = 2;
        lengths[257] = 2;
        lengths.extend_from_slice(distance_lengths);
        dynamic_header(
            b,
            258,
            distance_lengths.len() as u32,
            &FLAT,
            &flat_lengths(&lengths),
        );
    }

    #[test]
    fn dynamic_block_with_a_single_one_bit_distance_code_decodes() {
        let mut b = Bits::default();
        tiny_dynamic(&mut b, &[1]);
        // 'a', then length 3 distance 1, then end of block: a, 10 0, 11
        // (codes: a=0, 256=10, 257=11).
        b.code(0, 1).code(3, 2).code(0, 1).code(2, 2);
        assert_eq!(inflate_all(&b.finish()).unwrap(), b"aaaa");
    }

    #[test]
    fn the_unused_half_of_a_one_code_distance_table_is_refused() {
        let mut b = Bits::default();
        tiny_dynamic(&mut b, &[1]);
        b.code(0, 1).code(3, 2).code(1, 1);
        b.put(0, 16);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::UnassignedCode(Alphabet::Distance))
        );
    }

    #[test]
    fn a_match_in_a_block_without_distance_codes_is_refused() {
        let mut b = Bits::default();
        tiny_dynamic(&mut b, &[0]);
        b.code(0, 1).code(3, 2);
        b.put(0, 16);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::UnassignedCode(Alphabet::Distance))
        );
        // Without a match, such a block is fine.
        let mut b = Bits::default();
        tiny_dynamic(&mut b, &[0]);
        b.code(0, 1).code(2, 2);
        assert_eq!(inflate_all(&b.finish()).unwrap(), b"a");
    }

    #[test]
    fn more_than_286_literal_length_or_30_distance_codes_are_refused() {
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(287 - 257, 5).put(0, 5).put(0, 4);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::TooManyCodes {
                alphabet: Alphabet::LiteralLength,
                count: 287
            })
        );
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(0, 5).put(31, 5).put(0, 4);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::TooManyCodes {
                alphabet: Alphabet::Distance,
                count: 32
            })
        );
    }

    #[test]
    fn repeat_with_no_previous_length_is_refused() {
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &REPEATS, &[(16, 0)]);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::RepeatWithoutPrevious)
        );
    }

    #[test]
    fn repeat_past_the_declared_lengths_is_refused() {
        // 257 + 1 lengths; 138 + 138 zeros then 11 more passes 258.
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &REPEATS, &[(18, 127), (18, 127), (18, 0)]);
        assert_eq!(inflate_all(&b.finish()), Err(DeflateError::RepeatPastEnd));
        // A repeat may cross from the literal/length lengths into the
        // distance lengths: 256 zeros... then 1s for 256, 257 and the
        // distance code, the last two by repeating.
        let mut b = Bits::default();
        let mut symbols = vec![(18, 127), (18, 107)]; // 256 zeros
        symbols.push((2, 0)); // 256: 2
        symbols.push((2, 0)); // 257: 2
        symbols.push((1, 0)); // distance 0: 1
        dynamic_header(&mut b, 258, 1, &REPEATS, &symbols);
        // Incomplete literal/length code (two 2-bit codes): refused.
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::IncompleteCode(Alphabet::LiteralLength))
        );
    }

    #[test]
    fn oversubscribed_codes_are_refused() {
        // Code-length code: 0, 1, 2 all with one-bit codes.
        let mut clen = [0u8; 19];
        clen[..3].fill(1);
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &clen, &[]);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::OversubscribedCode(Alphabet::CodeLength))
        );
        // Literal/length: three one-bit codes.
        let mut lengths = vec![0u8; 258];
        lengths[0] = 1;
        lengths[1] = 1;
        lengths[256] = 1;
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &FLAT, &flat_lengths(&lengths));
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::OversubscribedCode(Alphabet::LiteralLength))
        );
        // Distance: three one-bit codes.
        let mut lengths = vec![0u8; 257];
        lengths[0] = 1;
        lengths[256] = 1;
        lengths.extend_from_slice(&[1, 1, 1]);
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 3, &FLAT, &flat_lengths(&lengths));
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::OversubscribedCode(Alphabet::Distance))
        );
    }

    #[test]
    fn incomplete_codes_are_refused() {
        // Code-length code with a single one-bit code.
        let mut clen = [0u8; 19];
        clen[0] = 1;
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &clen, &[]);
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::IncompleteCode(Alphabet::CodeLength))
        );
        // A literal/length code with only the end of block.
        let mut lengths = vec![0u8; 258];
        lengths[256] = 1;
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &FLAT, &flat_lengths(&lengths));
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::IncompleteCode(Alphabet::LiteralLength))
        );
        // Two 2-bit distance codes.
        let mut lengths = vec![0u8; 257];
        lengths[0] = 1;
        lengths[256] = 1;
        lengths.extend_from_slice(&[2, 2]);
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 2, &FLAT, &flat_lengths(&lengths));
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::IncompleteCode(Alphabet::Distance))
        );
    }

    #[test]
    fn literal_length_code_without_end_of_block_is_refused() {
        let mut lengths = vec![0u8; 258];
        lengths[0] = 1;
        lengths[1] = 1;
        let mut b = Bits::default();
        dynamic_header(&mut b, 257, 1, &FLAT, &flat_lengths(&lengths));
        assert_eq!(
            inflate_all(&b.finish()),
            Err(DeflateError::MissingEndOfBlock)
        );
    }

    // ---- The output limit ----

    /// 10 MB of zeros in a few KB: one literal, then matches of 258 at
    /// distance 1 with 1-bit codes (2 bits per 258 bytes).
    fn zero_bomb() -> Vec<u8> {
        let mut lengths = vec![0u8; 286];
        lengths[0] = 2;
        lengths[256] = 2;
        lengths[285] = 1;
        lengths.push(1); // one distance code
        let mut b = Bits::default();
        dynamic_header(&mut b, 286, 1, &FLAT, &flat_lengths(&lengths));
        // Codes: 285 = 0, 0 = 10, 256 = 11; distance 0 = 0.
        b.code(2, 2);
        for _ in 0..(10 * MB / 258) {
            b.code(0, 1).code(0, 1);
        }
        b.code(3, 2);
        b.finish()
    }

    #[test]
    fn decompression_bomb_stops_at_the_limit_without_allocating_past_it() {
        let bomb = zero_bomb();
        assert!(bomb.len() < 12 * 1024, "{} bytes", bomb.len());
        let whole = inflate_all(&bomb);
        assert_eq!(whole, Err(DeflateError::OutputLimit { limit: MB }));

        for piece in [bomb.len(), 1000, 1] {
            let mut inflater = Inflater::new(15).unwrap();
            let mut out = Vec::new();
            let mut result = Ok(0);
            for chunk in bomb.chunks(piece) {
                result = inflater.inflate(chunk, &mut out, MB);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(DeflateError::OutputLimit { limit: MB }));
            assert!(out.len() <= MB);
            assert!(out.capacity() <= MB, "capacity {}", out.capacity());
            assert!(out.iter().all(|&b| b == 0));
        }
        // With room for all of it, it is 10 MB of zeros.
        let mut out = Vec::new();
        let n = Inflater::new(15)
            .unwrap()
            .inflate(&bomb, &mut out, 11 * MB)
            .unwrap();
        assert_eq!(n, 1 + 10 * MB / 258 * 258);
    }

    #[test]
    fn the_limit_counts_what_out_already_holds() {
        let payload = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut out = b"abc".to_vec();
        assert_eq!(
            Inflater::new(15).unwrap().inflate(&payload, &mut out, 7),
            Err(DeflateError::OutputLimit { limit: 7 })
        );
        let mut out = b"abc".to_vec();
        Inflater::new(15)
            .unwrap()
            .inflate(&payload, &mut out, 8)
            .unwrap();
        assert_eq!(out, b"abcHello");
    }

    // ---- Robustness: mutated streams never panic ----

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn mutated_streams_fail_with_errors_not_panics() {
        let seeds: Vec<Vec<u8>> = vec![
            include_bytes!("../../tests/data/deflate/text_small_fixed.deflate").to_vec(),
            include_bytes!("../../tests/data/deflate/text_small_memlevel1.deflate").to_vec(),
            include_bytes!("../../tests/data/deflate/binary_l6.deflate").to_vec(),
            include_bytes!("../../tests/data/deflate/runs_w9_l9.deflate").to_vec(),
            include_bytes!("../../tests/data/deflate/hello_messages.deflate").to_vec(),
            vec![
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
        ];
        let mut rng = XorShift(0x5eed_1951_7692_0001);
        let limit = 64 * 1024;
        let started = std::time::Instant::now();
        let mut errors = 0;
        for round in 0..3000 {
            if started.elapsed().as_secs() > 5 {
                break;
            }
            let mut data = seeds[round % seeds.len()].clone();
            match rng.below(4) {
                0 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(data.len());
                        data[i] ^= 1 << rng.below(8);
                    }
                }
                1 => data.truncate(rng.below(data.len())),
                2 => {
                    let other = &seeds[rng.below(seeds.len())];
                    let cut = rng.below(data.len());
                    let from = rng.below(other.len());
                    data.truncate(cut);
                    data.extend_from_slice(&other[from..]);
                }
                _ => {
                    let i = rng.below(data.len());
                    data[i] = rng.next() as u8;
                    let j = rng.below(data.len());
                    data.insert(j, rng.next() as u8);
                }
            }
            let window_bits = 8 + rng.below(8) as u8;
            let mut inflater = Inflater::new(window_bits).unwrap();
            let mut out = Vec::new();
            let mut rest = &data[..];
            let mut failed = false;
            while !rest.is_empty() {
                let n = (1 + rng.below(300)).min(rest.len());
                if inflater.inflate(&rest[..n], &mut out, limit).is_err() {
                    failed = true;
                    break;
                }
                rest = &rest[n..];
            }
            if !failed && inflater.finish_message(&mut out, limit).is_err() {
                failed = true;
            }
            errors += usize::from(failed);
            assert!(out.len() <= limit && out.capacity() <= limit);
        }
        assert!(errors > 100, "mutations were caught: {errors}");
    }
}
