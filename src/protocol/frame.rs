//! Frame headers: decoding and encoding (RFC 6455, section 5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! A header takes 2 to 14 bytes. The payload length uses the shortest of
//! three encodings: 0-125 in the 7-bit field, up to 65,535 in 16 extra bits
//! (7-bit field = 126), anything larger in 64 extra bits (7-bit field = 127)
//! whose most significant bit must be 0.
//!
//! [`FrameHeader::parse`] checks the rules a header breaks on its own
//! (reserved opcodes, the length's top bit, the limits on control frames);
//! the rules that depend on the connection (masking by role, RSV bits without
//! an extension, fragmentation) are checked by the
//! [`receiver`](super::receiver).

use std::fmt;

use super::violation::Violation;

/// The kind of a frame (section 5.2, "Opcode"; section 11.8 for the registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first (or only) frame of a text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: starts or answers the closing handshake.
    Close,
    /// 0x9: asks the peer for a pong.
    Ping,
    /// 0xA: answers a ping, or serves as a one-way heartbeat.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for the reserved values
    /// 0x3-0x7 and 0xB-0xF.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong) have the top opcode bit set
    /// (section 5.5): they may not be fragmented and carry at most 125 bytes.
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    /// The name used in traces and messages.
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "CONT",
            OpCode::Text => "TEXT",
            OpCode::Binary => "BINARY",
            OpCode::Close => "CLOSE",
            OpCode::Ping => "PING",
            OpCode::Pong => "PONG",
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest payload a control frame may carry (section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest a frame header can be: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// Which of the three length encodings a header uses (section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthEncoding {
    /// 0-125, in the 7-bit field.
    Bits7,
    /// 126-65,535, in 16 extra bits.
    Bits16,
    /// 65,536 and up, in 64 extra bits.
    Bits64,
}

impl LengthEncoding {
    /// The shortest encoding for a payload of `len` bytes.
    pub fn for_len(len: u64) -> LengthEncoding {
        match len {
            0..=125 => LengthEncoding::Bits7,
            126..=65535 => LengthEncoding::Bits16,
            _ => LengthEncoding::Bits64,
        }
    }

    /// How many bits carry the length: 7, 16 or 64.
    pub fn bits(self) -> u8 {
        match self {
            LengthEncoding::Bits7 => 7,
            LengthEncoding::Bits16 => 16,
            LengthEncoding::Bits64 => 64,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3 as the three low bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The frame's kind.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
    /// How the payload length was encoded on the wire.
    pub length_encoding: LengthEncoding,
}

/// An encoded header: up to 14 bytes held inline.
#[derive(Clone, Copy)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl EncodedHeader {
    /// The header's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for EncodedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncodedHeader({:02x?})", self.as_bytes())
    }
}

impl FrameHeader {
    /// A final, unfragmented frame of `opcode` with no RSV bits, using the
    /// shortest length encoding.
    pub fn new(opcode: OpCode, payload_len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len,
            length_encoding: LengthEncoding::for_len(payload_len),
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header, and
    /// `Ok(Some((header, header_len)))` once it holds all of it. Fails as soon
    /// as the bytes present break a rule: a reserved opcode is reported after
    /// one byte, a control frame's length after two.
    ///
    /// ```
    /// use stdws::protocol::frame::{FrameHeader, OpCode};
    /// // RFC 6455, section 5.7: a single-frame masked text message "Hello".
    /// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (header, len) = FrameHeader::parse(&bytes).unwrap().unwrap();
    /// assert_eq!(len, 6);
    /// assert!(header.fin);
    /// assert_eq!(header.opcode, OpCode::Text);
    /// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// assert_eq!(header.payload_len, 5);
    /// assert_eq!(FrameHeader::parse(&bytes[..3]).unwrap(), None);
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, Violation> {
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x7;
        let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(Violation::ReservedOpcode(b0 & 0x0f))?;
        if opcode.is_control() && !fin {
            return Err(Violation::FragmentedControlFrame);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        if opcode.is_control() && len7 as usize > MAX_CONTROL_PAYLOAD {
            return Err(Violation::ControlFrameTooLong(control_len_hint(buf, len7)));
        }
        let (length_encoding, ext_len) = match len7 {
            126 => (LengthEncoding::Bits16, 2),
            127 => (LengthEncoding::Bits64, 8),
            _ => (LengthEncoding::Bits7, 0),
        };
        let header_len = 2 + ext_len + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            // Report a bad 64-bit length as soon as its first byte is here.
            if ext_len == 8 && buf.len() > 2 && buf[2] & 0x80 != 0 {
                return Err(Violation::LengthTopBitSet);
            }
            return Ok(None);
        }
        let payload_len = match ext_len {
            0 => len7 as u64,
            2 => u16::from_be_bytes([buf[2], buf[3]]) as u64,
            _ => {
                let mut eight = [0u8; 8];
                eight.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(eight);
                if len >> 63 != 0 {
                    return Err(Violation::LengthTopBitSet);
                }
                len
            }
        };
        let mask = masked.then(|| {
            let at = 2 + ext_len;
            [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]
        });
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
                length_encoding,
            },
            header_len,
        )))
    }

    /// Encodes the header, using the length encoding that fits the payload
    /// length (the `length_encoding` field is ignored: the shortest form is
    /// always written, as section 5.2 requires).
    ///
    /// ```
    /// use stdws::protocol::frame::{FrameHeader, OpCode};
    /// // RFC 6455, section 5.7: a 256-byte binary message in one unmasked frame.
    /// let header = FrameHeader::new(OpCode::Binary, 256, None).encode();
    /// assert_eq!(header.as_bytes(), [0x82, 0x7e, 0x01, 0x00]);
    /// let header = FrameHeader::new(OpCode::Binary, 65536, None).encode();
    /// assert_eq!(header.as_bytes(), [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    /// ```
    pub fn encode(&self) -> EncodedHeader {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        bytes[0] = (self.fin as u8) << 7 | (self.rsv & 0x7) << 4 | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match LengthEncoding::for_len(self.payload_len) {
            LengthEncoding::Bits7 => {
                bytes[1] = mask_bit | self.payload_len as u8;
                2
            }
            LengthEncoding::Bits16 => {
                bytes[1] = mask_bit | 126;
                bytes[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
                4
            }
            LengthEncoding::Bits64 => {
                bytes[1] = mask_bit | 127;
                bytes[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        EncodedHeader {
            bytes,
            len: len as u8,
        }
    }
}

/// The length a too-long control frame announced, as far as it can be read
/// from the bytes present (for the error message only).
fn control_len_hint(buf: &[u8], len7: u8) -> u64 {
    match len7 {
        126 if buf.len() >= 4 => u16::from_be_bytes([buf[2], buf[3]]) as u64,
        _ => len7 as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Result<(FrameHeader, usize), Violation> {
        for cut in 0..bytes.len() {
            if let Ok(Some(_)) = FrameHeader::parse(&bytes[..cut]) {
                panic!("header complete after {cut} of {} bytes", bytes.len());
            }
        }
        FrameHeader::parse(bytes).map(|parsed| parsed.expect("complete header"))
    }

    #[test]
    fn rfc_example_unmasked_hello() {
        let (h, n) = parse_all(&[0x81, 0x05]).unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
    }

    #[test]
    fn rfc_example_fragmented_hello() {
        let (first, _) = parse_all(&[0x01, 0x03]).unwrap();
        assert_eq!(
            (first.fin, first.opcode, first.payload_len),
            (false, OpCode::Text, 3)
        );
        let (second, _) = parse_all(&[0x80, 0x02]).unwrap();
        assert_eq!(
            (second.fin, second.opcode, second.payload_len),
            (true, OpCode::Continuation, 2)
        );
    }

    #[test]
    fn rfc_example_ping_and_masked_pong() {
        let (ping, _) = parse_all(&[0x89, 0x05]).unwrap();
        assert_eq!((ping.opcode, ping.payload_len), (OpCode::Ping, 5));
        let (pong, n) = parse_all(&[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d]).unwrap();
        assert_eq!(
            (pong.opcode, pong.mask, n),
            (OpCode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 6)
        );
    }

    #[test]
    fn rfc_example_256_and_65536_byte_binary_headers() {
        let (h, n) = parse_all(&[0x82, 0x7e, 0x01, 0x00]).unwrap();
        assert_eq!(
            (h.payload_len, h.length_encoding, n),
            (256, LengthEncoding::Bits16, 4)
        );
        let (h, n) = parse_all(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap();
        assert_eq!(
            (h.payload_len, h.length_encoding, n),
            (65536, LengthEncoding::Bits64, 10)
        );
    }

    #[test]
    fn encode_then_parse_round_trips_at_every_length_boundary() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for opcode in [OpCode::Text, OpCode::Binary, OpCode::Continuation] {
                    let mut header = FrameHeader::new(opcode, len, mask);
                    header.fin = len % 2 == 0;
                    let encoded = header.encode();
                    let (parsed, n) = parse_all(encoded.as_bytes()).unwrap();
                    assert_eq!(parsed, header);
                    assert_eq!(n, encoded.as_bytes().len());
                }
            }
        }
    }

    #[test]
    fn reserved_opcodes_fail_on_the_first_byte() {
        for bits in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::parse(&[0x80 | bits]),
                Err(Violation::ReservedOpcode(bits))
            );
        }
    }

    #[test]
    fn control_frames_must_be_final_and_short() {
        assert_eq!(
            FrameHeader::parse(&[0x09]),
            Err(Violation::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 126]),
            Err(Violation::ControlFrameTooLong(126))
        );
        assert!(FrameHeader::parse(&[0x89, 125]).unwrap().is_some());
    }

    #[test]
    fn a_64_bit_length_with_the_top_bit_set_fails() {
        assert_eq!(
            FrameHeader::parse(&[0x82, 0x7f, 0x80]),
            Err(Violation::LengthTopBitSet)
        );
        let mut bytes = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(FrameHeader::parse(&bytes), Err(Violation::LengthTopBitSet));
        bytes[2] = 0x7f;
        assert!(FrameHeader::parse(&bytes).unwrap().is_some());
    }
}
