//! Unpredictable bytes from the operating system, for masking keys
//! (RFC 6455, section 5.3) and handshake keys (section 4.1).
//!
//! Section 10.3 asks that masking keys be unpredictable to the application
//! that chooses the payload: a key derived from a clock or a seeded generator
//! would let a script predict the bytes on the wire. Keys therefore come from
//! the kernel's random device, read in batches so that a frame costs no system
//! call.

use std::fs::File;
use std::io::{self, Read};
use std::sync::OnceLock;

/// Fills `buf` from the operating system's random device.
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    static DEVICE: OnceLock<Result<File, io::ErrorKind>> = OnceLock::new();
    let device = DEVICE.get_or_init(|| File::open("/dev/urandom").map_err(|e| e.kind()));
    match device {
        Ok(file) => (&*file).read_exact(buf),
        Err(kind) => Err(io::Error::new(
            *kind,
            "cannot open /dev/urandom, the source of masking and handshake keys",
        )),
    }
}

/// Masking keys drawn from a batch of random bytes.
#[derive(Debug)]
pub struct MaskKeys {
    batch: Box<[u8; Self::BATCH]>,
    next: usize,
}

impl MaskKeys {
    const BATCH: usize = 256;

    /// An empty batch; the first key reads the random device.
    pub fn new() -> MaskKeys {
        MaskKeys {
            batch: Box::new([0; Self::BATCH]),
            next: Self::BATCH,
        }
    }

    /// The next key.
    pub fn next_key(&mut self) -> io::Result<[u8; 4]> {
        if self.next == Self::BATCH {
            fill(&mut self.batch[..])?;
            self.next = 0;
        }
        let b = &self.batch[self.next..self.next + 4];
        self.next += 4;
        Ok([b[0], b[1], b[2], b[3]])
    }
}

impl Default for MaskKeys {
    fn default() -> Self {
        MaskKeys::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_from_one_frame_to_the_next() {
        let mut keys = MaskKeys::new();
        let drawn: Vec<[u8; 4]> = (0..200).map(|_| keys.next_key().unwrap()).collect();
        let mut distinct = drawn.clone();
        distinct.sort();
        distinct.dedup();
        // 200 draws from 2^32 values: a repeat has a probability of about 5e-6.
        assert!(distinct.len() >= 199);
    }
}
