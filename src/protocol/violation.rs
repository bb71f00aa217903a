//! The rules a peer can break, each with the close code it earns and the
//! section of RFC 6455 that states it.
//!
//! When the protocol core finds a violation it _fails the WebSocket
//! connection_ (section 7.1.7): it sends a close frame with the code below and
//! stops processing input. The shells report the same value to the
//! application as [`Error::Protocol`](crate::Error::Protocol).

use std::fmt;

use super::close::{BadClosePayload, CloseCode};
use crate::deflate::DeflateError;

/// A rule of RFC 6455 that the peer broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A client sent a frame without a mask.
    UnmaskedClientFrame,
    /// A server sent a masked frame.
    MaskedServerFrame,
    /// An RSV bit was set but no extension defining it was negotiated.
    ReservedBits(u8),
    /// An opcode from the reserved ranges 0x3-0x7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// A control frame with more than 125 bytes of payload.
    ControlFrameTooLong(u64),
    /// A control frame without the FIN bit.
    FragmentedControlFrame,
    /// A 64-bit payload length with its most significant bit set.
    LengthTopBitSet,
    /// A continuation frame with no fragmented message to continue.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was unfinished.
    ExpectedContinuation,
    /// A text message that is not valid UTF-8.
    InvalidUtf8,
    /// A close frame whose payload breaks the rules.
    BadClose(BadClosePayload),
    /// A frame longer than this endpoint's limit.
    FrameTooBig {
        /// The frame's declared payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A compressed message whose data does not inflate (RFC 7692 section
    /// 6.2). It fails with 1002: the data breaks the extension's framing,
    /// not the message type's rules (1007 is for text that is not UTF-8).
    BadCompressedData(DeflateError),
    /// A message that grew past this endpoint's limit.
    MessageTooBig {
        /// The message's length so far, with the frame that broke the limit.
        len: u64,
        /// The limit.
        max: usize,
    },
}

impl Violation {
    /// The status code of the close frame sent for this violation.
    pub fn close_code(self) -> CloseCode {
        match self {
            Violation::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Violation::BadClose(bad) => bad.close_code(),
            Violation::FrameTooBig { .. } | Violation::MessageTooBig { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The section of RFC 6455 that states the rule.
    pub fn rfc_section(self) -> &'static str {
        match self {
            Violation::UnmaskedClientFrame | Violation::MaskedServerFrame => "5.1",
            Violation::ReservedBits(_) | Violation::ReservedOpcode(_) => "5.2",
            Violation::LengthTopBitSet => "5.2",
            Violation::ControlFrameTooLong(_) | Violation::FragmentedControlFrame => "5.5",
            Violation::UnexpectedContinuation | Violation::ExpectedContinuation => "5.4",
            Violation::InvalidUtf8 => "8.1",
            Violation::BadClose(BadClosePayload::Reason) => "5.5.1",
            Violation::BadClose(BadClosePayload::OneByte) => "5.5.1",
            Violation::BadClose(BadClosePayload::Code(_)) => "7.4.1",
            Violation::FrameTooBig { .. } | Violation::MessageTooBig { .. } => "10.4",
            Violation::BadCompressedData(_) => "RFC 7692 6.2",
        }
    }

    /// A short reason for the close frame (it must fit in 123 bytes).
    pub fn close_reason(self) -> &'static str {
        match self {
            Violation::UnmaskedClientFrame => "client frames must be masked",
            Violation::MaskedServerFrame => "server frames must not be masked",
            Violation::ReservedBits(_) => "reserved bits set without an extension",
            Violation::ReservedOpcode(_) => "reserved opcode",
            Violation::ControlFrameTooLong(_) => "control frame longer than 125 bytes",
            Violation::FragmentedControlFrame => "fragmented control frame",
            Violation::LengthTopBitSet => "64-bit length with the top bit set",
            Violation::UnexpectedContinuation => "continuation frame without a message",
            Violation::ExpectedContinuation => "new message before the last one ended",
            Violation::InvalidUtf8 => "invalid UTF-8 in a text message",
            Violation::BadClose(BadClosePayload::OneByte) => "close payload of one byte",
            Violation::BadClose(BadClosePayload::Code(_)) => "invalid close code",
            Violation::BadClose(BadClosePayload::Reason) => "close reason is not UTF-8",
            Violation::FrameTooBig { .. } => "frame too big",
            Violation::MessageTooBig { .. } => "message too big",
            Violation::BadCompressedData(_) => "invalid compressed data",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Violation::ReservedBits(rsv) => write!(
                f,
                "the peer set reserved bits {rsv:#05b} without negotiating an extension"
            ),
            Violation::ReservedOpcode(op) => write!(f, "the peer used reserved opcode {op:#x}"),
            Violation::ControlFrameTooLong(len) => write!(
                f,
                "the peer sent a control frame of {len} bytes; the limit is 125"
            ),
            Violation::BadClose(BadClosePayload::Code(code)) => write!(
                f,
                "the peer closed with code {code}, which may not be sent on the wire"
            ),
            Violation::FrameTooBig { len, max } => write!(
                f,
                "the peer sent a frame of {len} bytes, over the limit of {max} (raise max_frame_size to accept it)"
            ),
            Violation::MessageTooBig { len, max } => write!(
                f,
                "the peer sent a message of at least {len} bytes, over the limit of {max} (raise max_message_size to accept it)"
            ),
            Violation::BadCompressedData(e) => {
                return write!(
                    f,
                    "the peer sent a compressed message that does not inflate: {e} (RFC 7692 section 6.2)"
                );
            }
            other => write!(
                f,
                "the peer broke a protocol rule: {}",
                other.close_reason()
            ),
        }?;
        write!(f, " (RFC 6455 section {})", self.rfc_section())
    }
}

impl std::error::Error for Violation {}
