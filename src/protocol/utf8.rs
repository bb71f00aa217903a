//! Incremental UTF-8 validation for text messages (RFC 6455, sections 5.6 and 8.1).
//!
//! A text message must be valid UTF-8 as a whole, but it may arrive split into
//! fragments, and each fragment into many reads, with a code point cut at any
//! byte. The RFC asks an endpoint to fail the connection (close code 1007) as
//! soon as it sees invalid data, and the Autobahn suite checks that this
//! happens *fast*: on the first byte that cannot begin or continue a valid
//! sequence, not at the end of the message.
//!
//! [`Utf8Validator`] keeps at most three bytes of an unfinished code point
//! between pieces and leans on [`std::str::from_utf8`] for the rest. The
//! standard validator already tells the two cases apart: an error with
//! `error_len() == None` is an incomplete but so far valid sequence at the end
//! of the input (the next piece may finish it), while `Some(_)` is a byte that
//! no continuation can repair.

use std::fmt;

/// Validates a text message piece by piece.
///
/// ```
/// use stdws::protocol::utf8::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// // "€" is E2 82 AC, split across three pieces.
/// v.feed(&[b'a', 0xE2]).unwrap();
/// v.feed(&[0x82]).unwrap();
/// v.feed(&[0xAC]).unwrap();
/// v.finish().unwrap();
///
/// // F4 90 can never start a valid code point: rejected at once,
/// // without waiting for the rest of the sequence.
/// let mut v = Utf8Validator::new();
/// v.feed(&[0xF4]).unwrap();
/// assert!(v.feed(&[0x90]).is_err());
/// ```
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// The bytes of a code point whose end has not arrived yet.
    pending: [u8; 4],
    pending_len: usize,
}

/// Invalid UTF-8 was found in a text message or a close reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the message. Fails on the first byte that
    /// makes the message invalid whatever follows.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        if self.pending_len > 0 {
            // Finish the code point left over from the previous piece first.
            while self.pending_len < 4 && !bytes.is_empty() {
                self.pending[self.pending_len] = bytes[0];
                self.pending_len += 1;
                bytes = &bytes[1..];
                match std::str::from_utf8(&self.pending[..self.pending_len]) {
                    Ok(_) => {
                        self.pending_len = 0;
                        break;
                    }
                    Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                    Err(_) => {} // still incomplete
                }
            }
            if self.pending_len > 0 {
                return Ok(()); // the piece ended inside the code point
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
        }
    }

    /// Checks that the message did not end in the middle of a code point.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        if self.pending_len == 0 {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Whether the validator is between code points.
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(data: &[u8], sizes: impl Iterator<Item = usize>) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut rest = data;
        for n in sizes {
            let n = n.min(rest.len());
            v.feed(&rest[..n])?;
            rest = &rest[n..];
            if rest.is_empty() {
                break;
            }
        }
        v.feed(rest)?;
        v.finish()
    }

    #[test]
    fn valid_text_passes_whatever_the_split() {
        let text = "κόσμε, €, 𝄞, and ascii".as_bytes();
        for size in 1..8 {
            assert!(
                feed_split(text, std::iter::repeat(size)).is_ok(),
                "size {size}"
            );
        }
    }

    #[test]
    fn every_split_agrees_with_whole_message_validation() {
        let samples: [&[u8]; 6] = [
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbd",
            b"\xc0\xaf",
            b"\xf0\x9f\x98\x80\xf0\x9f",
            b"ok \xe2\x82",
        ];
        for sample in samples {
            let whole = std::str::from_utf8(sample).is_ok();
            for cut in 0..=sample.len() {
                let mut v = Utf8Validator::new();
                let res = v
                    .feed(&sample[..cut])
                    .and_then(|_| v.feed(&sample[cut..]))
                    .and_then(|_| v.finish());
                assert_eq!(res.is_ok(), whole, "{sample:x?} cut at {cut}");
            }
        }
    }

    #[test]
    fn fails_on_the_first_byte_that_cannot_be_repaired() {
        // Autobahn 6.4.2: F4 then 90 is out of range for a code point.
        let mut v = Utf8Validator::new();
        v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4")
            .unwrap();
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
        // A surrogate (ED A0) fails on its second byte.
        let mut v = Utf8Validator::new();
        v.feed(b"\xed").unwrap();
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8));
    }

    #[test]
    fn a_message_that_ends_inside_a_code_point_is_invalid() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xe2\x82").unwrap();
        assert!(!v.is_complete());
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }
}
