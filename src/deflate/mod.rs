//! DEFLATE ([RFC 1951]) in safe Rust, over byte slices: an incremental
//! decompressor ([`Inflater`]) and a compressor ([`Deflater`]), built for the
//! `permessage-deflate` WebSocket extension ([RFC 7692]).
//!
//! | concern                                   | file           | RFC 1951       |
//! |-------------------------------------------|----------------|----------------|
//! | block headers, stored/fixed/dynamic blocks| `inflate.rs`   | 3.2.3-3.2.7    |
//! | canonical Huffman codes                   | `huffman.rs`   | 3.2.2          |
//! | length and distance codes                 | `inflate.rs`   | 3.2.5          |
//! | LZ77 matching, choosing a block type      | `deflate.rs`   | 4              |
//!
//! # The format in one paragraph
//!
//! A DEFLATE stream is a sequence of blocks (section 3.2.3). Each starts
//! with three bits: BFINAL (the last block of the stream) and BTYPE:
//! `00` stored (raw bytes after a byte-aligned LEN and its complement NLEN),
//! `01` compressed with the fixed Huffman codes of section 3.2.6, `10`
//! compressed with Huffman codes sent at the start of the block (section
//! 3.2.7), `11` reserved. Compressed blocks are a sequence of literal
//! bytes and back-references (a length of 3 to 258 bytes and a distance of 1
//! to 32,768 bytes back into the output, section 3.2.5), ended by the
//! end-of-block code 256. Bits are packed starting at the least significant
//! bit of each byte; Huffman codes are packed starting with their most
//! significant bit (section 3.1.1).
//!
//! # How RFC 7692 uses it
//!
//! - **Raw DEFLATE**: no zlib header or checksum, just blocks (RFC 7692
//!   section 7.2.1).
//! - **Sync flush**: the sender ends each message's data with an empty
//!   stored block (BFINAL 0, BTYPE 00, padding to a byte boundary, LEN 0,
//!   NLEN 0xFFFF), so that everything written so far can be decoded. On the
//!   wire these are always the four bytes `00 00 ff ff`, and the sender
//!   removes them; the receiver appends them again before inflating the end of
//!   the message (section 7.2.2). [`Deflater::compress_message`] writes a
//!   message with the tail included, ready for the sender to strip;
//!   [`Inflater::finish_message`] appends the tail on the receiving side.
//! - **Several streams per message**: a sender may also end a message with a
//!   block that has BFINAL set, then more blocks; the receiver starts a new
//!   block stream after a final block, keeping its window (sections 7.2.1
//!   and 7.2.3.4). [`Inflater`] does so.
//! - **Context takeover**: unless `*_no_context_takeover` was negotiated,
//!   back-references may reach into earlier messages, so both ends keep the
//!   last 2<sup>window bits</sup> bytes between messages (section 7.1.1).
//!   [`Inflater::reset`] and [`Deflater::reset`] forget them, for the
//!   messages of an endpoint that negotiated no context takeover.
//! - **Window bits**: `*_max_window_bits` of 8 to 15 bound the distance of
//!   back-references (section 7.1.2). Both types take the number of bits.
//!
//! ```
//! use stdws::deflate::{Deflater, Inflater, Level};
//!
//! let mut deflater = Deflater::new(Level::DEFAULT, 15)?;
//! let mut inflater = Inflater::new(15)?;
//! let mut wire = Vec::new();
//! deflater.compress_message(b"Hello", &mut wire);
//! // The sender strips the sync-flush tail (RFC 7692 section 7.2.1)...
//! assert!(wire.ends_with(&[0x00, 0x00, 0xff, 0xff]));
//! wire.truncate(wire.len() - 4);
//! assert_eq!(wire, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // section 7.2.3.1
//!
//! // ...and the receiver puts it back (section 7.2.2).
//! let mut text = Vec::new();
//! inflater.inflate(&wire, &mut text, 1 << 20)?;
//! inflater.finish_message(&mut text, 1 << 20)?;
//! assert_eq!(text, b"Hello");
//! # Ok::<(), stdws::deflate::DeflateError>(())
//! ```
//!
//! [RFC 1951]: https://www.rfc-editor.org/rfc/rfc1951
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692

use std::fmt;

#[allow(clippy::module_inception)] // the compressor, beside its inverse `inflate`
mod deflate;
mod huffman;
mod inflate;

pub use deflate::{Deflater, Level};
pub use inflate::Inflater;

/// The four bytes of the empty stored block that ends a sync flush: the
/// tail a permessage-deflate sender removes from each message and a
/// receiver appends again (RFC 7692 sections 7.2.1 and 7.2.2).
pub const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Which of the three Huffman codes of a block a problem was found in
/// (RFC 1951 section 3.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// The code that encodes the other two codes' lengths (symbols 0-18).
    CodeLength,
    /// Literal bytes, the end-of-block code and match lengths (0-285).
    LiteralLength,
    /// Match distances (0-29).
    Distance,
}

impl fmt::Display for Alphabet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alphabet::CodeLength => "code length",
            Alphabet::LiteralLength => "literal/length",
            Alphabet::Distance => "distance",
        })
    }
}

/// Why a DEFLATE stream was refused, or a setting was out of range.
///
/// After an [`Inflater`] returns one of these (other than a setting
/// error), it returns the same error until it is [reset](Inflater::reset):
/// what follows a broken block cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateError {
    /// A block header with BTYPE `11`, which is reserved (section 3.2.3).
    ReservedBlockType,
    /// A stored block whose NLEN is not the one's complement of its LEN
    /// (section 3.2.4).
    StoredLengthMismatch {
        /// The block's LEN.
        len: u16,
        /// The block's NLEN.
        nlen: u16,
    },
    /// A dynamic block declaring more codes than the alphabet has: more than
    /// 286 literal/length codes or more than 30 distance codes (section
    /// 3.2.7).
    TooManyCodes {
        /// The alphabet.
        alphabet: Alphabet,
        /// The number of codes the header declared.
        count: usize,
    },
    /// A code-length sequence that repeats the previous length (symbol 16)
    /// before any length was given (section 3.2.7).
    RepeatWithoutPrevious,
    /// A code-length repeat that runs past the number of lengths the header
    /// declared (section 3.2.7).
    RepeatPastEnd,
    /// Code lengths that describe more codes than fit: no prefix code has
    /// them (section 3.2.2).
    OversubscribedCode(Alphabet),
    /// Code lengths that leave some bit patterns unassigned. RFC 1951 allows
    /// this only for a single distance code of one bit (section 3.2.7).
    IncompleteCode(Alphabet),
    /// Literal/length code lengths without one for the end-of-block code
    /// 256, so the block could never end (section 3.2.7).
    MissingEndOfBlock,
    /// Literal/length code 286 or 287, which the fixed code assigns but which
    /// stand for no length (section 3.2.6).
    InvalidLengthCode(u16),
    /// Distance code 30 or 31, which the fixed code assigns but which stand
    /// for no distance (section 3.2.6).
    InvalidDistanceCode(u16),
    /// A bit pattern that the block's code leaves unassigned: a distance in
    /// a block that declared no distance code, or the unused half of a
    /// one-code distance table.
    UnassignedCode(Alphabet),
    /// A back-reference further back than the data available: before the
    /// start of the output or the window, or beyond the window size
    /// (section 3.2.5).
    DistanceTooFarBack {
        /// The distance of the reference.
        distance: usize,
        /// How many bytes back were available.
        available: usize,
    },
    /// The output would grow past the limit the caller set for it. Nothing
    /// past the limit was allocated.
    OutputLimit {
        /// The limit.
        limit: usize,
    },
    /// A message whose data, with the sync-flush tail appended, does not end
    /// at a block boundary (RFC 7692 section 7.2.2): it was cut short or
    /// carries trailing garbage.
    UnfinishedMessage,
    /// A window size outside 8-15 bits (RFC 7692 section 7.1.2).
    InvalidWindowBits(u8),
    /// A compression level outside 0-9.
    InvalidLevel(u8),
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DeflateError::ReservedBlockType => {
                f.write_str("block type 3 is reserved (RFC 1951 section 3.2.3)")
            }
            DeflateError::StoredLengthMismatch { len, nlen } => write!(
                f,
                "stored block LEN {len:#06x} does not match NLEN {nlen:#06x} (RFC 1951 section 3.2.4)"
            ),
            DeflateError::TooManyCodes { alphabet, count } => write!(
                f,
                "a dynamic block declared {count} {alphabet} codes, more than the alphabet has (RFC 1951 section 3.2.7)"
            ),
            DeflateError::RepeatWithoutPrevious => f.write_str(
                "code length 16 repeats the previous length but none was given (RFC 1951 section 3.2.7)",
            ),
            DeflateError::RepeatPastEnd => f.write_str(
                "a code length repeat runs past the declared number of codes (RFC 1951 section 3.2.7)",
            ),
            DeflateError::OversubscribedCode(alphabet) => write!(
                f,
                "the {alphabet} code lengths are over-subscribed (RFC 1951 section 3.2.2)"
            ),
            DeflateError::IncompleteCode(alphabet) => write!(
                f,
                "the {alphabet} code lengths are incomplete (RFC 1951 section 3.2.7)"
            ),
            DeflateError::MissingEndOfBlock => f.write_str(
                "the literal/length code has no end-of-block code (RFC 1951 section 3.2.7)",
            ),
            DeflateError::InvalidLengthCode(code) => write!(
                f,
                "literal/length code {code} stands for no length (RFC 1951 section 3.2.6)"
            ),
            DeflateError::InvalidDistanceCode(code) => write!(
                f,
                "distance code {code} stands for no distance (RFC 1951 section 3.2.6)"
            ),
            DeflateError::UnassignedCode(alphabet) => write!(
                f,
                "a bit pattern that the block's {alphabet} code does not assign"
            ),
            DeflateError::DistanceTooFarBack {
                distance,
                available,
            } => write!(
                f,
                "a back-reference {distance} bytes back, with only {available} available (RFC 1951 section 3.2.5)"
            ),
            DeflateError::OutputLimit { limit } => {
                write!(f, "the decompressed data exceeds the limit of {limit} bytes")
            }
            DeflateError::UnfinishedMessage => f.write_str(
                "the message does not end at a block boundary (RFC 7692 section 7.2.2)",
            ),
            DeflateError::InvalidWindowBits(bits) => {
                write!(f, "window bits {bits} outside 8-15 (RFC 7692 section 7.1.2)")
            }
            DeflateError::InvalidLevel(level) => {
                write!(f, "compression level {level} outside 0-9")
            }
        }
    }
}

impl std::error::Error for DeflateError {}

/// Checks a window size in bits against the range RFC 7692 allows.
fn check_window_bits(bits: u8) -> Result<(), DeflateError> {
    if (8..=15).contains(&bits) {
        Ok(())
    } else {
        Err(DeflateError::InvalidWindowBits(bits))
    }
}
