//! Canonical Huffman codes (RFC 1951 section 3.2.2): decode tables built from
//! code lengths, and for the encoder, length-limited code lengths from symbol
//! frequencies and the codes those lengths stand for.
//!
//! A DEFLATE code is given by its lengths alone: codes of the same length are
//! consecutive integers in symbol order, and all shorter codes sort before
//! longer ones. A set of lengths is a valid prefix code when the Kraft sum
//! `sum(2^-len)` is exactly 1; over 1 it is over-subscribed (no decoder can
//! tell some codes apart), under 1 incomplete (some bit patterns mean
//! nothing).
//!
//! Codes are sent most significant bit first into a stream that is read
//! least significant bit first (section 3.1.1), so the tables here are
//! indexed by the bit-reversed code: the next bits of the stream, as they
//! sit at the bottom of the decoder's bit buffer.

use super::{Alphabet, DeflateError};

/// The longest code DEFLATE allows for literals/lengths and distances.
pub(crate) const MAX_BITS: usize = 15;
/// The longest code the code-length code may use (3-bit lengths).
pub(crate) const MAX_CODE_LENGTH_BITS: usize = 7;

// A decode table entry packs what decoding needs into one u32:
//   bits 0-4   code length: the bits to consume
//   bits 5-7   kind
//   bits 8-12  extra bits to read after the code (lengths, distances), or
//              for a link, the index bits of its subtable
//   bits 16-31 value: a literal byte, a base length or distance, a symbol,
//              or for a link, where its subtable starts
const KIND_SHIFT: u32 = 5;
/// A literal byte (literal/length table) or a plain symbol (code-length table).
pub(crate) const KIND_LITERAL: u32 = 0;
/// A match length or a distance: base value and extra bits.
pub(crate) const KIND_BASE: u32 = 1;
/// The end-of-block code 256.
pub(crate) const KIND_END: u32 = 2;
/// A pointer to a subtable for codes longer than the root bits.
pub(crate) const KIND_LINK: u32 = 3;
/// A symbol the alphabet has no meaning for (286, 287; distances 30, 31).
pub(crate) const KIND_INVALID: u32 = 4;
/// A bit pattern the code does not assign.
pub(crate) const KIND_UNASSIGNED: u32 = 5;

/// Packs an entry without its code length, which the table builder adds.
pub(crate) const fn entry(kind: u32, extra: u32, value: u32) -> u32 {
    (kind << KIND_SHIFT) | (extra << 8) | (value << 16)
}

/// The bits an entry consumes.
#[inline(always)]
pub(crate) const fn entry_len(e: u32) -> u32 {
    e & 31
}

/// The kind of an entry.
#[inline(always)]
pub(crate) const fn entry_kind(e: u32) -> u32 {
    (e >> KIND_SHIFT) & 7
}

/// The extra bits (or subtable bits) of an entry.
#[inline(always)]
pub(crate) const fn entry_extra(e: u32) -> u32 {
    (e >> 8) & 31
}

/// The value of an entry.
#[inline(always)]
pub(crate) const fn entry_value(e: u32) -> u32 {
    e >> 16
}

/// Reverses the low `len` bits of `code`.
#[inline]
pub(crate) fn reverse_bits(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// A table that decodes one symbol from the next bits of a stream: a root
/// table indexed by `root_bits` bits, followed by subtables for the codes
/// longer than that, so that a lookup takes one or two reads.
#[derive(Debug, Clone)]
pub(crate) struct DecodeTable {
    entries: Vec<u32>,
    root_bits: u32,
}

impl DecodeTable {
    /// An empty table with `root_bits` bits of root index. It decodes
    /// nothing until [`build`](Self::build) succeeds.
    pub(crate) fn new(root_bits: u32) -> Self {
        DecodeTable {
            entries: Vec::new(),
            root_bits,
        }
    }

    /// The entries allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Frees the entries; the table decodes nothing until built again.
    pub(crate) fn release(&mut self) {
        self.entries = Vec::new();
    }

    /// Looks up the entry for the code at the bottom of `bits`. The entry
    /// says how many bits the code has; the caller checks it has that many.
    #[inline(always)]
    pub(crate) fn lookup(&self, bits: u64) -> u32 {
        let root_mask = (1u64 << self.root_bits) - 1;
        let e = self.entries[(bits & root_mask) as usize];
        if entry_kind(e) != KIND_LINK {
            return e;
        }
        let sub_mask = (1u64 << entry_extra(e)) - 1;
        let index = entry_value(e) as usize + ((bits >> self.root_bits) & sub_mask) as usize;
        self.entries[index]
    }

    /// Builds the table for the code with these lengths (one per symbol,
    /// 0 meaning the symbol has no code), checking that they form a prefix
    /// code. `meaning` gives each symbol's entry, without the length.
    ///
    /// Incomplete codes are refused except where RFC 1951 section 3.2.7
    /// allows them: a distance code with no codes at all, or with a single
    /// code of one bit. The unassigned patterns decode to
    /// `KIND_UNASSIGNED` entries.
    pub(crate) fn build(
        &mut self,
        lengths: &[u8],
        alphabet: Alphabet,
        meaning: impl Fn(usize) -> u32,
    ) -> Result<(), DeflateError> {
        let mut count = [0u16; MAX_BITS + 1];
        for &len in lengths {
            count[usize::from(len)] += 1;
        }
        count[0] = 0;
        let used: u16 = count.iter().sum();

        // The Kraft sum, in units of 2^-15: each code of length `len` takes
        // 2^(15 - len) of the 2^15 available.
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err(DeflateError::OversubscribedCode(alphabet));
            }
        }
        if left > 0 {
            let allowed =
                alphabet == Alphabet::Distance && (used == 0 || (used == 1 && count[1] == 1));
            if !allowed {
                return Err(DeflateError::IncompleteCode(alphabet));
            }
        }

        // The first code of each length (section 3.2.2, step 2).
        let mut next_code = [0u32; MAX_BITS + 2];
        let mut code = 0u32;
        for len in 1..=MAX_BITS {
            code = (code + u32::from(count[len - 1])) << 1;
            next_code[len] = code;
        }
        // Symbols in code order: by length, then by symbol (a counting sort).
        let mut offset = [0usize; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offset[len + 1] = offset[len] + usize::from(count[len]);
        }
        let mut sorted = [0u16; 320];
        let mut codes = [0u32; 320];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                let len = usize::from(len);
                sorted[offset[len]] = symbol as u16;
                offset[len] += 1;
                codes[symbol] = next_code[len];
                next_code[len] += 1;
            }
        }
        let sorted = &sorted[..usize::from(used)];

        let root = self.root_bits;
        self.entries.clear();
        // Room for the subtables too, in one allocation: a decoder frees its
        // tables between messages, so this is often an empty vector.
        self.entries.reserve_exact((1 << root) + (1 << (root - 3)));
        self.entries
            .resize(1 << root, entry(KIND_UNASSIGNED, 0, 0) | root);

        let mut i = 0;
        while i < sorted.len() {
            let symbol = usize::from(sorted[i]);
            let len = u32::from(lengths[symbol]);
            let code = codes[symbol];
            if len <= root {
                // Every root index whose low `len` bits are this code.
                let e = meaning(symbol) | len;
                let mut index = reverse_bits(code, len) as usize;
                while index < (1 << root) {
                    self.entries[index] = e;
                    index += 1 << len;
                }
                i += 1;
                continue;
            }
            // Codes longer than the root share a subtable with the codes that
            // begin with the same `root` bits. In code order they are
            // consecutive and get longer, so the last one sets its size.
            let prefix = code >> (len - root);
            let mut last = i;
            while last + 1 < sorted.len() {
                let next = usize::from(sorted[last + 1]);
                let next_len = u32::from(lengths[next]);
                if codes[next] >> (next_len - root) != prefix {
                    break;
                }
                last += 1;
            }
            let sub_bits = u32::from(lengths[usize::from(sorted[last])]) - root;
            let start = self.entries.len();
            self.entries
                .resize(start + (1 << sub_bits), entry(KIND_UNASSIGNED, 0, 0));
            self.entries[reverse_bits(prefix, root) as usize] =
                entry(KIND_LINK, sub_bits, start as u32) | root;
            for &sym in &sorted[i..=last] {
                let symbol = usize::from(sym);
                let len = u32::from(lengths[symbol]);
                let e = meaning(symbol) | len;
                let reversed = reverse_bits(codes[symbol], len);
                let mut index = (reversed >> root) as usize;
                while index < (1 << sub_bits) {
                    self.entries[start + index] = e;
                    index += 1 << (len - root);
                }
            }
            i = last + 1;
        }
        Ok(())
    }
}

/// Computes code lengths for symbols with these frequencies, none longer
/// than `max_bits`, into `lengths` (0 for symbols that never occur).
///
/// A Huffman code is built first (optimal without a length limit); if it
/// is too deep, lengths are clamped and then the code is rebalanced with the
/// Kraft sum: the rarest symbols are lengthened until the code fits, then
/// the most frequent ones shortened while room is left, so that the result
/// is always a complete code. When fewer than two symbols occur, two get
/// one-bit codes, since a complete code needs two.
pub(crate) fn lengths_from_frequencies(freqs: &[u32], max_bits: usize, lengths: &mut [u8]) {
    const MAX_SYMBOLS: usize = 288;
    let n_symbols = freqs.len().min(MAX_SYMBOLS).min(lengths.len());
    lengths.iter_mut().for_each(|l| *l = 0);

    // Leaves sorted by frequency, rarest first; ties by symbol for
    // reproducible output. A leaf is its frequency above its symbol in one
    // integer, so that the sort needs no second array.
    let mut leaves = [0u64; MAX_SYMBOLS];
    let mut n = 0;
    for (symbol, &f) in freqs[..n_symbols].iter().enumerate() {
        if f != 0 {
            leaves[n] = u64::from(f) << 16 | symbol as u64;
            n += 1;
        }
    }
    if n < 2 {
        // Pad with the first symbols that did not occur: a complete code
        // needs two symbols (RFC 1951 decoders refuse incomplete codes).
        let mut symbol = 0;
        while n < 2 && symbol < n_symbols {
            if !leaves[..n].iter().any(|&l| l as u16 as usize == symbol) {
                leaves[n] = 1 << 16 | symbol as u64;
                n += 1;
            }
            symbol += 1;
        }
        if n < 2 {
            return;
        }
    }
    let leaves = &mut leaves[..n];
    leaves.sort_unstable();

    // The code lengths, computed in place (Moffat and Katajainen,
    // "In-place calculation of minimum-redundancy codes", 1995): the
    // two-queue construction, where leaves are taken in order and internal
    // nodes are created in order of weight, with both queues in one array.
    // Here that array is `leaves` itself, the value above each symbol: the
    // encoder runs on a worker's stack, and with a thread per connection
    // every page of its deepest frame is held by every connection that
    // ever compressed.
    let get = |leaves: &[u64], i: usize| leaves[i] >> 16;
    let set = |leaves: &mut [u64], i: usize, v: u64| leaves[i] = v << 16 | (leaves[i] & 0xffff);
    // Phase 1: entry `next` becomes the weight of internal node `next`, and
    // an internal node that was used becomes the index of its parent.
    // Weights are sums of at most 288 frequencies below 2^32: no overflow.
    set(leaves, 0, get(leaves, 0) + get(leaves, 1));
    let (mut root, mut leaf) = (0, 2);
    for next in 1..n - 1 {
        // Each child is the lighter of the next leaf and the next internal
        // node; a leaf wins ties, as in the classic construction.
        for first in [true, false] {
            let internal = root < next && (leaf >= n || get(leaves, root) < get(leaves, leaf));
            let weight = if internal {
                let w = get(leaves, root);
                set(leaves, root, next as u64);
                root += 1;
                w
            } else {
                leaf += 1;
                get(leaves, leaf - 1)
            };
            let sum = if first {
                weight
            } else {
                get(leaves, next) + weight
            };
            set(leaves, next, sum);
        }
    }
    // Phase 2: the depth of each internal node, from the root (the last
    // one) down; a parent always comes after its children.
    set(leaves, n - 2, 0);
    for next in (0..n - 2).rev() {
        let parent = get(leaves, next) as usize;
        set(leaves, next, get(leaves, parent) + 1);
    }
    // Phase 3: the depth of each leaf, from the internal nodes' depths:
    // at each depth, the nodes not used as internal ones are leaves, and
    // the heaviest leaves get the shortest codes.
    let (mut available, mut depth) = (1usize, 0u64);
    let mut internal = n as isize - 2;
    let mut next = n as isize - 1;
    while available > 0 {
        let mut used = 0;
        while internal >= 0 && get(leaves, internal as usize) == depth {
            used += 1;
            internal -= 1;
        }
        while available > used {
            set(leaves, next as usize, depth);
            next -= 1;
            available -= 1;
        }
        available = 2 * used;
        depth += 1;
    }
    let mut lens = [0u8; MAX_SYMBOLS];
    for (len, &l) in lens.iter_mut().zip(leaves.iter()) {
        *len = (l >> 16).min(255) as u8;
    }
    let lens = &mut lens[..n];

    if lens.iter().any(|&l| usize::from(l) > max_bits) {
        limit_lengths(lens, max_bits);
    }
    for (&leaf, &len) in leaves.iter().zip(lens.iter()) {
        lengths[leaf as u16 as usize] = len;
    }
}

/// Makes `lens` (of leaves sorted rarest first) a complete code with no
/// length over `max_bits`.
fn limit_lengths(lens: &mut [u8], max_bits: usize) {
    let cap = 1u32 << max_bits;
    let max = max_bits as u8;
    let share = |len: u8| 1u32 << (max - len);
    for len in lens.iter_mut() {
        *len = (*len).min(max);
    }
    let mut kraft: u32 = lens.iter().map(|&l| share(l)).sum();
    // Too many codes: lengthen the rarest symbols that can still grow.
    while kraft > cap {
        let Some(len) = lens.iter_mut().find(|l| **l < max) else {
            return; // more than 2^max_bits symbols: cannot happen in DEFLATE
        };
        *len += 1;
        kraft -= share(*len);
    }
    // Room left: shorten the most frequent symbols while it lasts. The
    // spare room is a multiple of the smallest share, which the longest
    // code can always take, so this ends with a complete code.
    while kraft < cap {
        let before = kraft;
        for len in lens.iter_mut().rev() {
            while *len > 1 && kraft + share(*len) <= cap {
                kraft += share(*len);
                *len -= 1;
            }
        }
        if kraft == before {
            break;
        }
    }
}

/// The codes for these lengths (section 3.2.2), bit-reversed so that they
/// can be written least significant bit first.
pub(crate) fn codes_from_lengths(lengths: &[u8], codes: &mut [u16]) {
    let mut count = [0u16; MAX_BITS + 1];
    for &len in lengths {
        count[usize::from(len)] += 1;
    }
    count[0] = 0;
    let mut next_code = [0u32; MAX_BITS + 1];
    let mut code = 0u32;
    for len in 1..=MAX_BITS {
        code = (code + u32::from(count[len - 1])) << 1;
        next_code[len] = code;
    }
    for (&len, out) in lengths.iter().zip(codes.iter_mut()) {
        *out = if len == 0 {
            0
        } else {
            let len = usize::from(len);
            let c = next_code[len];
            next_code[len] += 1;
            reverse_bits(c, len as u32) as u16
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(lengths: &[u8], alphabet: Alphabet) -> Result<DecodeTable, DeflateError> {
        let mut t = DecodeTable::new(9);
        t.build(lengths, alphabet, |s| entry(KIND_LITERAL, 0, s as u32))?;
        Ok(t)
    }

    fn kraft_is_one(lengths: &[u8]) -> bool {
        let sum: u64 = lengths
            .iter()
            .filter(|&&l| l != 0)
            .map(|&l| 1u64 << (15 - l))
            .sum();
        sum == 1 << 15
    }

    #[test]
    fn rfc1951_example_lengths_give_the_example_codes() {
        // Section 3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) for A..H give
        // 010 011 100 101 110 00 1110 1111.
        let lengths = [3, 3, 3, 3, 3, 2, 4, 4];
        let mut codes = [0u16; 8];
        codes_from_lengths(&lengths, &mut codes);
        let expected = [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        for i in 0..8 {
            assert_eq!(
                u32::from(codes[i]),
                reverse_bits(expected[i], u32::from(lengths[i]))
            );
        }
    }

    #[test]
    fn table_decodes_every_code_of_the_example() {
        let lengths = [3, 3, 3, 3, 3, 2, 4, 4];
        let t = build(&lengths, Alphabet::LiteralLength).unwrap();
        let mut codes = [0u16; 8];
        codes_from_lengths(&lengths, &mut codes);
        for s in 0..8 {
            let e = t.lookup(u64::from(codes[s]) | 0xff00);
            assert_eq!(entry_value(e), s as u32);
            assert_eq!(entry_len(e), u32::from(lengths[s]));
        }
    }

    #[test]
    fn codes_longer_than_the_root_decode_through_subtables() {
        // A skewed complete code with lengths 1..=15 and two of 15.
        let mut lengths: Vec<u8> = (1..=15).collect();
        lengths.push(15);
        assert!(kraft_is_one(&lengths));
        let t = build(&lengths, Alphabet::LiteralLength).unwrap();
        let mut codes = vec![0u16; lengths.len()];
        codes_from_lengths(&lengths, &mut codes);
        for s in 0..lengths.len() {
            let e = t.lookup(u64::from(codes[s]));
            assert_eq!(entry_value(e), s as u32, "symbol {s}");
            assert_eq!(entry_len(e), u32::from(lengths[s]));
        }
    }

    #[test]
    fn oversubscribed_lengths_are_refused() {
        assert_eq!(
            build(&[1, 1, 1], Alphabet::LiteralLength).unwrap_err(),
            DeflateError::OversubscribedCode(Alphabet::LiteralLength)
        );
    }

    #[test]
    fn incomplete_lengths_are_refused() {
        assert_eq!(
            build(&[2, 2, 2], Alphabet::LiteralLength).unwrap_err(),
            DeflateError::IncompleteCode(Alphabet::LiteralLength)
        );
        assert_eq!(
            build(&[0, 0, 0], Alphabet::CodeLength).unwrap_err(),
            DeflateError::IncompleteCode(Alphabet::CodeLength)
        );
        assert_eq!(
            build(&[2, 2, 2], Alphabet::Distance).unwrap_err(),
            DeflateError::IncompleteCode(Alphabet::Distance)
        );
    }

    #[test]
    fn single_one_bit_distance_code_is_allowed_and_its_other_half_is_unassigned() {
        let t = build(&[0, 1], Alphabet::Distance).unwrap();
        assert_eq!(entry_value(t.lookup(0)), 1);
        assert_eq!(entry_kind(t.lookup(1)), KIND_UNASSIGNED);
        // No distance codes at all: also allowed, all unassigned.
        let t = build(&[0, 0], Alphabet::Distance).unwrap();
        assert_eq!(entry_kind(t.lookup(0)), KIND_UNASSIGNED);
        // But one two-bit code is not.
        assert!(build(&[2], Alphabet::Distance).is_err());
    }

    #[test]
    fn lengths_from_frequencies_are_complete_and_within_the_limit() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for round in 0..300 {
            let n = 2 + round % 286;
            let mut freqs = vec![0u32; n];
            for f in freqs.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Exponential spread so that some rounds need limiting.
                *f = if seed % 5 == 0 {
                    0
                } else {
                    1 << ((seed >> 40) % 24)
                };
            }
            for &max in &[7usize, 15] {
                if n > 1 << max {
                    continue;
                }
                let mut lengths = vec![0u8; n];
                lengths_from_frequencies(&freqs, max, &mut lengths);
                assert!(lengths.iter().all(|&l| usize::from(l) <= max));
                assert!(kraft_is_one(&lengths), "round {round} max {max}");
                if freqs.iter().filter(|&&f| f != 0).count() >= 2 {
                    for (f, l) in freqs.iter().zip(&lengths) {
                        assert_eq!(*f != 0, *l != 0);
                    }
                }
            }
        }
    }

    #[test]
    fn fibonacci_frequencies_are_limited_to_fifteen_bits() {
        // Fibonacci weights give the deepest Huffman tree: 25 of them would
        // want 24-bit codes.
        let mut freqs = vec![1u32, 1];
        while freqs.len() < 25 {
            let k = freqs.len();
            freqs.push(freqs[k - 1] + freqs[k - 2]);
        }
        let mut lengths = vec![0u8; 25];
        lengths_from_frequencies(&freqs, 15, &mut lengths);
        assert_eq!(lengths.iter().max(), Some(&15));
        assert!(kraft_is_one(&lengths));
        build(&lengths, Alphabet::LiteralLength).unwrap();
    }

    #[test]
    fn fewer_than_two_symbols_still_give_a_complete_code() {
        let mut lengths = [0u8; 30];
        lengths_from_frequencies(&[0; 30], 15, &mut lengths);
        assert!(kraft_is_one(&lengths));
        let mut freqs = [0u32; 30];
        freqs[7] = 9;
        lengths_from_frequencies(&freqs, 15, &mut lengths);
        assert_eq!(lengths[7], 1);
        assert!(kraft_is_one(&lengths));
    }
}
