//! The sending half of a connection: messages in, frames out (RFC 6455,
//! sections 5.1, 5.3 and 5.5.1).
//!
//! [`Sender`] encodes frames for one role. A client masks every frame with a
//! fresh key; a server never masks. It refuses to write what the peer would
//! have to fail the connection for: a control frame that is fragmented or
//! longer than 125 bytes (section 5.5), a close code reserved for reporting
//! (section 7.4.1), a continuation with no message to continue or a new
//! message inside a fragmented one (section 5.4), and anything after a close
//! frame (section 5.5.1: "the endpoint MUST NOT send any more data frames").

use std::fmt;
use std::io;

use super::Role;
use super::close::{CloseCode, CloseFrame};
use super::compressor::{Compressor, RSV1};
use super::frame::{EncodedHeader, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use super::mask::mask_into;
use crate::random::MaskKeys;

/// Why a frame could not be encoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was sent already; nothing may follow it.
    CloseSent,
    /// A control frame's payload was over 125 bytes.
    ControlFrameTooLong(usize),
    /// A control frame without FIN: control frames are never fragmented.
    FragmentedControlFrame,
    /// A continuation frame with no fragmented message open.
    NoMessageToContinue,
    /// A new text or binary frame while a fragmented message is open.
    MessageInProgress,
    /// A close code that may not be sent (1005, 1006, 1015, or outside the
    /// ranges of section 7.4.2).
    InvalidCloseCode(CloseCode),
    /// The random device could not supply a masking key.
    Random(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::CloseSent => f.write_str("a close frame was sent already"),
            SendError::ControlFrameTooLong(len) => {
                write!(f, "a control frame of {len} bytes is over the limit of 125")
            }
            SendError::FragmentedControlFrame => f.write_str("control frames cannot be fragmented"),
            SendError::NoMessageToContinue => {
                f.write_str("a continuation frame needs a fragmented message to continue")
            }
            SendError::MessageInProgress => {
                f.write_str("a new message cannot start before the fragmented one ends")
            }
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::Random(e) => write!(f, "no masking key: {e}"),
        }
    }
}

/// The sending half of a WebSocket connection.
#[derive(Debug)]
pub struct Sender {
    role: Role,
    close_sent: bool,
    /// Whether a fragmented message has been started and not finished.
    fragmenting: bool,
    keys: Option<MaskKeys>,
    /// `permessage-deflate`, when agreed (see [`set_compression`](Self::set_compression)).
    compressor: Option<Compressor>,
    /// The last compressed payload (kept for its allocation).
    deflated: Vec<u8>,
}

/// The largest compression buffer kept between messages.
const KEEP_DEFLATED: usize = 1 << 20;

impl Sender {
    /// A sender for the endpoint playing `role`.
    pub fn new(role: Role) -> Sender {
        Sender {
            role,
            close_sent: false,
            fragmenting: false,
            keys: None,
            compressor: None,
            deflated: Vec::new(),
        }
    }

    /// Compresses whole text and binary messages with `compressor` from now
    /// on (RFC 7692 section 7.2.1), as [`encode`](Self::encode) and
    /// [`message_frame`](Self::message_frame) write them; `None` stops.
    pub fn set_compression(&mut self, compressor: Option<Compressor>) {
        self.compressor = compressor;
    }

    /// Whether messages are compressed.
    pub fn compresses(&self) -> bool {
        self.compressor.is_some()
    }

    /// The header and payload of a whole message of `opcode`: compressed,
    /// with RSV1 set, when compression is on and the message is worth it;
    /// as given otherwise (control frames always).
    ///
    /// ```
    /// use stdws::Compression;
    /// use stdws::protocol::{Sender, Role, frame::OpCode};
    /// use stdws::protocol::compressor::Compressor;
    /// use stdws::protocol::extension::Direction;
    /// let mut tx = Sender::new(Role::Server);
    /// let direction = Direction { window_bits: 15, no_context_takeover: false };
    /// tx.set_compression(Some(Compressor::new(direction, &Compression::default().threshold(0))));
    /// let (header, payload) = tx.message_frame(OpCode::Text, b"Hello").unwrap();
    /// assert_eq!(header.encode().as_bytes(), [0xc1, 0x07]); // FIN, RSV1, text
    /// assert_eq!(payload, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // RFC 7692, 7.2.3.1
    /// ```
    pub fn message_frame<'a>(
        &'a mut self,
        opcode: OpCode,
        payload: &'a [u8],
    ) -> Result<(FrameHeader, &'a [u8]), SendError> {
        let mut buf = std::mem::take(&mut self.deflated);
        let compressed = matches!(opcode, OpCode::Text | OpCode::Binary)
            && !self.fragmenting
            && !self.close_sent
            && self
                .compressor
                .as_mut()
                .is_some_and(|c| c.compress_message(payload, &mut buf));
        if buf.capacity() > KEEP_DEFLATED && !compressed {
            buf = Vec::new();
        }
        let len = if compressed { buf.len() } else { payload.len() };
        let result = self.header(opcode, true, len);
        self.deflated = buf;
        let mut header = result?;
        if compressed {
            header.rsv = RSV1;
            Ok((header, &self.deflated))
        } else {
            Ok((header, payload))
        }
    }

    /// The role this sender frames for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether a close frame has been sent.
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// The header of a frame of `payload_len` bytes, with a fresh masking key
    /// when this is the client side. The caller sends the payload after it,
    /// masked with [`FrameHeader::mask`] (see [`encode`](Self::encode), which
    /// does both).
    pub fn header(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload_len: usize,
    ) -> Result<FrameHeader, SendError> {
        if self.close_sent {
            return Err(SendError::CloseSent);
        }
        if opcode.is_control() {
            if payload_len > MAX_CONTROL_PAYLOAD {
                return Err(SendError::ControlFrameTooLong(payload_len));
            }
            if !fin {
                return Err(SendError::FragmentedControlFrame);
            }
        } else {
            match (opcode == OpCode::Continuation, self.fragmenting) {
                (true, false) => return Err(SendError::NoMessageToContinue),
                (false, true) => return Err(SendError::MessageInProgress),
                _ => {}
            }
        }
        let mask = match self.role {
            Role::Server => None,
            Role::Client => Some(
                self.keys
                    .get_or_insert_with(MaskKeys::new)
                    .next_key()
                    .map_err(SendError::Random)?,
            ),
        };
        if opcode == OpCode::Close {
            self.close_sent = true;
        } else if !opcode.is_control() {
            self.fragmenting = !fin;
        }
        let mut header = FrameHeader::new(opcode, payload_len as u64, mask);
        header.fin = fin;
        Ok(header)
    }

    /// The encoded header of an unmasked (server) frame, for writing beside a
    /// payload that is sent as it is.
    pub fn server_header(
        &mut self,
        opcode: OpCode,
        payload_len: usize,
    ) -> Result<EncodedHeader, SendError> {
        self.header(opcode, true, payload_len).map(|h| h.encode())
    }

    /// Appends a whole frame (header and payload, masked for a client) to `out`.
    ///
    /// ```
    /// use stdws::protocol::{Sender, Role, frame::OpCode};
    /// let mut tx = Sender::new(Role::Server);
    /// let mut out = Vec::new();
    /// tx.encode(OpCode::Text, true, b"Hello", &mut out).unwrap();
    /// assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']); // RFC 6455, 5.7
    /// ```
    pub fn encode(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let (header, payload) = match fin {
            true => self.message_frame(opcode, payload)?,
            false => (self.header(opcode, fin, payload.len())?, payload),
        };
        out.extend_from_slice(header.encode().as_bytes());
        match header.mask {
            None => out.extend_from_slice(payload),
            Some(key) => {
                let start = out.len();
                out.resize(start + payload.len(), 0);
                mask_into(&mut out[start..], payload, key, 0);
            }
        }
        Ok(())
    }

    /// Appends a close frame to `out`; `None` sends one without a status code.
    pub fn encode_close(
        &mut self,
        frame: Option<&CloseFrame>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let mut payload = Vec::with_capacity(MAX_CONTROL_PAYLOAD);
        if let Some(frame) = frame {
            if !frame.code.is_sendable() {
                return Err(SendError::InvalidCloseCode(frame.code));
            }
            frame.encode_payload(&mut payload);
        }
        self.encode(OpCode::Close, true, &payload, out)
    }
}
