//! Close codes, close frames and their rules (RFC 6455, sections 5.5.1, 7.4).
//!
//! A close frame's payload is empty, or a two-byte status code in network
//! byte order followed by a UTF-8 reason:
//!
//! ```text
//!  0                   1                   2
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 ...
//! +-------------------------------+-------------------- - -
//! |   status code (16 bits)       |  reason (UTF-8, up to 123 bytes)
//! +-------------------------------+-------------------- - -
//! ```
//!
//! Which codes may appear on the wire (section 7.4.1, and the IANA registry of
//! section 11.7):
//!
//! | codes        | meaning                                          | on the wire |
//! |--------------|--------------------------------------------------|-------------|
//! | 0-999        | not used                                         | no (1002)   |
//! | 1000-1003    | normal, going away, protocol error, unsupported  | yes         |
//! | 1004         | reserved                                         | no (1002)   |
//! | 1005, 1006   | "no status", "abnormal": for reporting only      | no (1002)   |
//! | 1007-1014    | invalid data, policy, too big, extension, ...    | yes         |
//! | 1015         | TLS failure: for reporting only                  | no (1002)   |
//! | 1016-2999    | reserved for future RFCs                         | no (1002)   |
//! | 3000-3999    | registered by libraries and frameworks           | yes         |
//! | 4000-4999    | private use by applications                      | yes         |
//! | 5000 and up  | not defined                                      | no (1002)   |

use std::fmt;

/// A close status code (RFC 6455, section 7.4).
///
/// Any `u16` can be held, so that a peer's code can be reported as it was
/// received; [`CloseCode::is_sendable`] tells which codes may go on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (a server shutting down, a page closed).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke a rule of the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a message of a type this endpoint cannot accept (text or binary).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reported when a close frame carried no code; never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported when the connection ended without a close frame; never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a text message (or close reason) was not valid UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message broke this endpoint's policy (also: a consumer too slow to keep up).
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was larger than this endpoint accepts.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client needed an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition (such as a panic in a handler).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (for instance, the server is overloaded).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy received an invalid response upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed; reported only, never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a close frame on the wire (section 7.4).
    ///
    /// ```
    /// use stdws::CloseCode;
    /// assert!(CloseCode::NORMAL.is_sendable());
    /// assert!(CloseCode(4000).is_sendable());
    /// assert!(!CloseCode::ABNORMAL.is_sendable());
    /// assert!(!CloseCode(1016).is_sendable());
    /// ```
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The name the RFC or the IANA registry gives the code, if any.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            _ => return None,
        })
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "CloseCode({} {name})", self.0),
            None => write!(f, "CloseCode({})", self.0),
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// A reason for humans, at most 123 bytes of UTF-8 on the wire.
    pub reason: String,
}

/// The most bytes a close reason can take: a control frame carries at most
/// 125 bytes, two of which are the code.
pub const MAX_REASON_LEN: usize = 123;

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }

    /// Encodes the frame's payload: the code in network byte order, then the
    /// reason, cut at a character boundary to fit in a control frame.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code.0.to_be_bytes());
        out.extend_from_slice(truncate_reason(&self.reason).as_bytes());
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} {:?}", self.code, self.reason)
        }
    }
}

/// Why a received close payload breaks the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadClosePayload {
    /// A payload of exactly one byte: too long to be empty, too short for a code.
    OneByte,
    /// A code that may not appear on the wire.
    Code(u16),
    /// A reason that is not UTF-8.
    Reason,
}

impl BadClosePayload {
    /// The close code to answer with: 1007 for a bad reason, 1002 otherwise.
    pub fn close_code(self) -> CloseCode {
        match self {
            BadClosePayload::Reason => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// Parses a received close frame's payload (section 5.5.1). `Ok(None)` is a
/// close with no status code, which the application sees as 1005.
///
/// ```
/// use stdws::protocol::close::{parse_close_payload, BadClosePayload};
/// use stdws::CloseCode;
/// assert_eq!(parse_close_payload(b"").unwrap(), None);
/// let frame = parse_close_payload(b"\x03\xe8bye").unwrap().unwrap();
/// assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::NORMAL, "bye"));
/// assert_eq!(parse_close_payload(b"\x03"), Err(BadClosePayload::OneByte));
/// assert_eq!(parse_close_payload(b"\x03\xed"), Err(BadClosePayload::Code(1005)));
/// assert_eq!(parse_close_payload(b"\x03\xe8\xff"), Err(BadClosePayload::Reason));
/// ```
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, BadClosePayload> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(BadClosePayload::OneByte),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_sendable() {
                return Err(BadClosePayload::Code(code.0));
            }
            let reason = std::str::from_utf8(&payload[2..])
                .map_err(|_: std::str::Utf8Error| BadClosePayload::Reason)?;
            Ok(Some(CloseFrame::new(code, reason)))
        }
    }
}

/// Cuts `reason` to at most [`MAX_REASON_LEN`] bytes without splitting a character.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_codes_the_rfc_allows_are_sendable() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_sendable(), expected, "{code}");
        }
    }

    #[test]
    fn received_close_with_a_reserved_code_is_a_protocol_error() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let payload = code.to_be_bytes();
            let err = parse_close_payload(&payload).unwrap_err();
            assert_eq!(err, BadClosePayload::Code(code));
            assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn received_close_with_invalid_utf8_reason_is_1007() {
        let err = parse_close_payload(b"\x03\xe8\xce\xba\xed\xa0\x80").unwrap_err();
        assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
    }

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&reason);
        assert!(cut.len() <= MAX_REASON_LEN);
        assert_eq!(cut.len(), 122);
        let mut payload = Vec::new();
        CloseFrame::new(CloseCode::NORMAL, reason).encode_payload(&mut payload);
        assert!(payload.len() <= 125);
        assert!(parse_close_payload(&payload).is_ok());
    }
}
