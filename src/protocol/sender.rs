//! The sending half of a connection: messages in, frames out (RFC 6455,
//! sections 5.1, 5.3 and 5.5.1).
//!
//! [`Sender`] encodes frames for one role. A client masks every frame with a
//! fresh key; a server never masks. Once a close frame has been sent, the
//! sender refuses every further frame (section 5.5.1: "the endpoint MUST NOT
//! send any more data frames").

use std::fmt;
use std::io;

use super::Role;
use super::close::CloseFrame;
use super::frame::{EncodedHeader, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use super::mask::mask_into;
use crate::random::MaskKeys;

/// Why a frame could not be encoded.
#[derive(Debug)]
pub enum SendError {
    /// A close frame was sent already; nothing may follow it.
    CloseSent,
    /// A control frame's payload was over 125 bytes.
    ControlFrameTooLong(usize),
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
            SendError::Random(e) => write!(f, "no masking key: {e}"),
        }
    }
}

/// The sending half of a WebSocket connection.
#[derive(Debug)]
pub struct Sender {
    role: Role,
    close_sent: bool,
    keys: Option<MaskKeys>,
}

impl Sender {
    /// A sender for the endpoint playing `role`.
    pub fn new(role: Role) -> Sender {
        Sender {
            role,
            close_sent: false,
            keys: None,
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
        if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlFrameTooLong(payload_len));
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
        let header = self.header(opcode, fin, payload.len())?;
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
            frame.encode_payload(&mut payload);
        }
        self.encode(OpCode::Close, true, &payload, out)
    }
}
