//! Masking and unmasking of frame payloads (RFC 6455, section 5.3).
//!
//! Every frame a client sends is masked with a fresh 32-bit key; servers never
//! mask. Octet `i` of the payload is XORed with octet `i % 4` of the key:
//!
//! ```text
//!   transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)
//! ```
//!
//! Masking exists to stop a script in a browser from choosing the bytes that
//! appear on the wire, so that it cannot make a WebSocket frame look like an
//! HTTP request to a confused intermediary (section 10.3). It is not
//! encryption: the key travels in the frame header.
//!
//! The same operation masks and unmasks. It is done eight bytes at a time on
//! a `u64` made of the key repeated twice, in safe code; the compiler turns the
//! loop into vector instructions.

/// XORs `payload` in place with `key`, as if `payload` started at byte
/// `offset` of the frame's payload.
///
/// The offset matters when a payload arrives in pieces: the key's phase
/// carries over from one piece to the next.
///
/// ```
/// use stdws::protocol::mask::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455, section 5.7
/// // Unmasking is the same operation; pieces keep their phase.
/// apply_mask(&mut data[..2], key, 0);
/// apply_mask(&mut data[2..], key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(payload: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated_key(key, offset);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    // Whole words are multiples of 4 bytes, so the tail starts at key phase 0.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// Copies `src` into `dst` (of the same length) and masks it on the way, as
/// [`apply_mask`] would. Used by the client role, which must not mask the
/// caller's buffer in place.
#[inline]
pub fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    debug_assert_eq!(dst.len(), src.len());
    let key = rotated_key(key, offset);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut out = dst.chunks_exact_mut(8);
    let mut inp = src.chunks_exact(8);
    for (o, i) in (&mut out).zip(&mut inp) {
        let mut word = [0u8; 8];
        word.copy_from_slice(i);
        o.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for ((o, i), k) in out
        .into_remainder()
        .iter_mut()
        .zip(inp.remainder())
        .zip(key.iter().cycle())
    {
        *o = i ^ k;
    }
}

/// The key as seen by a piece that starts `offset` bytes into the payload.
#[inline]
fn rotated_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Byte i of the key is the low byte of the little-endian word shifted
    // right by 8 * i, so rotating the word rotates the bytes (one
    // instruction instead of a slice rotation).
    let shift = 8 * (offset % 4) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(data: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= key[(i + offset) % 4];
        }
    }

    #[test]
    fn wide_masking_matches_the_rfc_formula_for_every_length_and_offset() {
        let key = [0x01, 0x82, 0x43, 0xf4];
        for len in 0..70 {
            for offset in 0..8 {
                let original: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(31)).collect();
                let mut fast = original.clone();
                let mut slow = original.clone();
                apply_mask(&mut fast, key, offset);
                naive(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                let mut copied = vec![0; len];
                mask_into(&mut copied, &original, key, offset);
                assert_eq!(copied, slow, "mask_into len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_payload() {
        let key = [9, 8, 7, 6];
        let mut data: Vec<u8> = (0..=255).collect();
        apply_mask(&mut data, key, 3);
        apply_mask(&mut data, key, 3);
        assert_eq!(data, (0..=255).collect::<Vec<u8>>());
    }
}
