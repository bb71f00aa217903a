//! The SOCKS version 5 messages a client exchanges with a proxy to open a
//! TCP connection through it: RFC 1928 (method negotiation, sections 3 and
//! 4; the reply, section 6) and the username/password sub-negotiation of
//! RFC 1929 (section 2). Bytes in, bytes out: the shell in
//! [`proxy`](super::proxy) does the reads and writes.
//!
//! ```text
//!   client                                  proxy
//!   05 n methods...          (greeting) ->
//!                         <- 05 method     (00 none, 02 user/pass, ff no)
//!   01 ulen user plen pass   (RFC 1929) ->  only for method 02
//!                         <- 01 status     (00 success)
//!   05 01 00 atyp addr port  (CONNECT)  ->
//!                         <- 05 rep 00 atyp addr port   (rep 00 succeeded)
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The protocol version byte of every SOCKS 5 message but RFC 1929's.
const VERSION: u8 = 0x05;
/// The version byte of the username/password sub-negotiation (RFC 1929).
const AUTH_VERSION: u8 = 0x01;
/// Method "no authentication required" (RFC 1928, section 3).
pub(crate) const NO_AUTH: u8 = 0x00;
/// Method "username/password" (RFC 1929).
pub(crate) const USER_PASS: u8 = 0x02;
/// "No acceptable methods".
const NO_ACCEPTABLE: u8 = 0xff;
const CMD_CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// What went wrong in a SOCKS 5 exchange, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocksError {
    /// The proxy accepted none of the offered authentication methods
    /// (it wants credentials the URL did not give, or others).
    NoAcceptableMethod,
    /// The proxy chose a method that was not offered.
    UnofferedMethod(u8),
    /// The proxy refused the username and password (RFC 1929 status).
    AuthFailed(u8),
    /// The proxy could not connect to the destination: the reply code of
    /// RFC 1928, section 6.
    Reply(u8),
    /// The proxy's answer does not follow RFC 1928 (it may not be SOCKS 5).
    Malformed(&'static str),
    /// A value does not fit in its field: a user name, password or host name
    /// over 255 bytes, or an empty one.
    TooLong(&'static str),
}

impl SocksError {
    /// The meaning of a reply code (RFC 1928, section 6).
    pub fn reply_text(code: u8) -> &'static str {
        match code {
            0x01 => "general SOCKS server failure",
            0x02 => "connection not allowed by ruleset",
            0x03 => "network unreachable",
            0x04 => "host unreachable",
            0x05 => "connection refused",
            0x06 => "TTL expired",
            0x07 => "command not supported",
            0x08 => "address type not supported",
            _ => "unassigned reply code",
        }
    }
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::NoAcceptableMethod => f.write_str(
                "the SOCKS proxy accepts none of the offered authentication methods (does it need a user and password in the proxy URL?)",
            ),
            SocksError::UnofferedMethod(m) => {
                write!(f, "the SOCKS proxy chose method {m:#04x}, which was not offered")
            }
            SocksError::AuthFailed(status) => write!(
                f,
                "the SOCKS proxy refused the user name and password (status {status:#04x})"
            ),
            SocksError::Reply(code) => write!(
                f,
                "the SOCKS proxy could not connect: {} (reply {code:#04x})",
                SocksError::reply_text(*code)
            ),
            SocksError::Malformed(what) => {
                write!(f, "the SOCKS proxy's answer is not SOCKS 5: {what}")
            }
            SocksError::TooLong(what) => {
                write!(f, "the {what} must be 1 to 255 bytes long for SOCKS 5")
            }
        }
    }
}

/// The destination of a CONNECT: an address, or a name the proxy resolves
/// (`socks5h://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

/// The greeting: the methods offered, user/password only with credentials.
pub(crate) fn greeting(with_credentials: bool) -> Vec<u8> {
    if with_credentials {
        vec![VERSION, 2, NO_AUTH, USER_PASS]
    } else {
        vec![VERSION, 1, NO_AUTH]
    }
}

/// The method the proxy chose, from its two-byte answer to the greeting.
pub(crate) fn parse_method(answer: [u8; 2], with_credentials: bool) -> Result<u8, SocksError> {
    match answer {
        [VERSION, NO_ACCEPTABLE] => Err(SocksError::NoAcceptableMethod),
        [VERSION, NO_AUTH] => Ok(NO_AUTH),
        [VERSION, USER_PASS] if with_credentials => Ok(USER_PASS),
        [VERSION, other] => Err(SocksError::UnofferedMethod(other)),
        _ => Err(SocksError::Malformed(
            "the answer to the greeting has another version",
        )),
    }
}

/// The username/password request of RFC 1929, section 2.
pub(crate) fn auth_request(user: &str, password: &str) -> Result<Vec<u8>, SocksError> {
    let ulen = field_len(user, "SOCKS user name")?;
    let plen = field_len(password, "SOCKS password")?;
    let mut out = Vec::with_capacity(3 + user.len() + password.len());
    out.push(AUTH_VERSION);
    out.push(ulen);
    out.extend_from_slice(user.as_bytes());
    out.push(plen);
    out.extend_from_slice(password.as_bytes());
    Ok(out)
}

/// Checks the two-byte answer to [`auth_request`]: status 0 is success.
pub(crate) fn parse_auth_reply(answer: [u8; 2]) -> Result<(), SocksError> {
    match answer {
        [AUTH_VERSION, 0] => Ok(()),
        [AUTH_VERSION, status] => Err(SocksError::AuthFailed(status)),
        _ => Err(SocksError::Malformed(
            "the answer to the user name and password has another version",
        )),
    }
}

/// The CONNECT request for `target` and `port` (RFC 1928, section 4).
pub(crate) fn connect_request(target: &Target<'_>, port: u16) -> Result<Vec<u8>, SocksError> {
    let mut out = vec![VERSION, CMD_CONNECT, 0x00];
    match target {
        Target::Ip(IpAddr::V4(ip)) => {
            out.push(ATYP_IPV4);
            out.extend_from_slice(&ip.octets());
        }
        Target::Ip(IpAddr::V6(ip)) => {
            out.push(ATYP_IPV6);
            out.extend_from_slice(&ip.octets());
        }
        Target::Name(name) => {
            out.push(ATYP_DOMAIN);
            out.push(field_len(name, "host name")?);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// The reply's first bytes read before its length is known: version, reply
/// code, reserved byte, address type and the address's first byte (a
/// name's length).
pub(crate) const REPLY_PREFIX: usize = 5;

/// The whole length of a reply, from its first [`REPLY_PREFIX`] bytes; fails
/// on a reply code other than success, so that a refusal is reported even
/// when the proxy sends no address after it.
pub(crate) fn reply_len(prefix: [u8; REPLY_PREFIX]) -> Result<usize, SocksError> {
    let [version, reply, _reserved, atyp, first] = prefix;
    if version != VERSION {
        return Err(SocksError::Malformed("the reply has another version"));
    }
    if reply != 0 {
        return Err(SocksError::Reply(reply));
    }
    // Version, reply, reserved, address type, then the address, then a port.
    let address = match atyp {
        ATYP_IPV4 => 4,
        ATYP_IPV6 => 16,
        ATYP_DOMAIN => 1 + usize::from(first),
        _ => {
            return Err(SocksError::Malformed(
                "the reply has an unknown address type",
            ));
        }
    };
    Ok(4 + address + 2)
}

/// The address and port the proxy bound for the connection, from a whole
/// reply whose length [`reply_len`] gave.
pub(crate) fn parse_reply(reply: &[u8]) -> Result<(Option<IpAddr>, u16), SocksError> {
    let prefix: [u8; REPLY_PREFIX] = reply
        .get(..REPLY_PREFIX)
        .and_then(|p| p.try_into().ok())
        .ok_or(SocksError::Malformed("the reply is too short"))?;
    let len = reply_len(prefix)?;
    if reply.len() != len {
        return Err(SocksError::Malformed("the reply has the wrong length"));
    }
    let port_at = len - 2;
    let port = u16::from_be_bytes([reply[port_at], reply[port_at + 1]]);
    let address = &reply[4..port_at];
    let ip = match prefix[3] {
        ATYP_IPV4 => <[u8; 4]>::try_from(address)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        ATYP_IPV6 => <[u8; 16]>::try_from(address)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    };
    Ok((ip, port))
}

fn field_len(value: &str, what: &'static str) -> Result<u8, SocksError> {
    match u8::try_from(value.len()) {
        Ok(0) | Err(_) => Err(SocksError::TooLong(what)),
        Ok(len) => Ok(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_offers_user_pass_only_with_credentials() {
        assert_eq!(greeting(false), [0x05, 0x01, 0x00]);
        assert_eq!(greeting(true), [0x05, 0x02, 0x00, 0x02]);
    }

    #[test]
    fn method_answers_are_checked() {
        assert_eq!(parse_method([0x05, 0x00], false), Ok(NO_AUTH));
        assert_eq!(parse_method([0x05, 0x02], true), Ok(USER_PASS));
        assert_eq!(
            parse_method([0x05, 0x02], false),
            Err(SocksError::UnofferedMethod(2))
        );
        assert_eq!(
            parse_method([0x05, 0xff], true),
            Err(SocksError::NoAcceptableMethod)
        );
        assert!(matches!(
            parse_method([0x04, 0x00], true),
            Err(SocksError::Malformed(_))
        ));
        // An HTTP proxy answering a SOCKS greeting.
        assert!(matches!(
            parse_method(*b"HT", true),
            Err(SocksError::Malformed(_))
        ));
    }

    #[test]
    fn rfc1929_request_and_reply_byte_for_byte() {
        assert_eq!(
            auth_request("bob", "s3cr3t").unwrap(),
            [
                0x01, 3, b'b', b'o', b'b', 6, b's', b'3', b'c', b'r', b'3', b't'
            ]
        );
        assert_eq!(
            auth_request("", "x"),
            Err(SocksError::TooLong("SOCKS user name"))
        );
        assert_eq!(
            auth_request("u", &"p".repeat(256)),
            Err(SocksError::TooLong("SOCKS password"))
        );
        assert!(auth_request(&"u".repeat(255), "p").is_ok());
        assert_eq!(parse_auth_reply([0x01, 0x00]), Ok(()));
        assert_eq!(
            parse_auth_reply([0x01, 0x01]),
            Err(SocksError::AuthFailed(1))
        );
        assert!(matches!(
            parse_auth_reply([0x05, 0x00]),
            Err(SocksError::Malformed(_))
        ));
    }

    #[test]
    fn connect_requests_byte_for_byte_for_each_address_type() {
        let v4 = Target::Ip("127.0.0.1".parse().unwrap());
        assert_eq!(
            connect_request(&v4, 8000).unwrap(),
            [0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x1f, 0x40]
        );
        let v6 = Target::Ip("::1".parse().unwrap());
        let mut want = vec![0x05, 0x01, 0x00, 0x04];
        want.extend_from_slice(&[0; 15]);
        want.extend_from_slice(&[1, 0x01, 0xbb]);
        assert_eq!(connect_request(&v6, 443).unwrap(), want);
        assert_eq!(
            connect_request(&Target::Name("ex.com"), 80).unwrap(),
            [
                0x05, 0x01, 0x00, 0x03, 6, b'e', b'x', b'.', b'c', b'o', b'm', 0, 80
            ]
        );
        assert_eq!(
            connect_request(&Target::Name(&"a".repeat(256)), 80),
            Err(SocksError::TooLong("host name"))
        );
    }

    #[test]
    fn replies_give_their_length_then_their_bound_address() {
        let v4 = [0x05, 0x00, 0x00, 0x01, 10, 0, 0, 2, 0x04, 0x38];
        assert_eq!(reply_len([0x05, 0x00, 0x00, 0x01, 10]), Ok(10));
        assert_eq!(
            parse_reply(&v4),
            Ok((Some("10.0.0.2".parse().unwrap()), 1080))
        );
        let name = [0x05, 0x00, 0x00, 0x03, 2, b'p', b'x', 0x00, 0x50];
        assert_eq!(reply_len([0x05, 0x00, 0x00, 0x03, 2]), Ok(9));
        assert_eq!(parse_reply(&name), Ok((None, 80)));
        assert_eq!(reply_len([0x05, 0x00, 0x00, 0x04, 0]), Ok(22));
        assert!(matches!(
            parse_reply(&v4[..9]),
            Err(SocksError::Malformed(_))
        ));
        assert!(matches!(
            reply_len([0x05, 0x00, 0x00, 0x09, 0]),
            Err(SocksError::Malformed(_))
        ));
    }

    #[test]
    fn refusals_are_reported_in_words_from_their_first_bytes() {
        assert_eq!(
            reply_len([0x05, 0x05, 0x00, 0x01, 0]),
            Err(SocksError::Reply(5))
        );
        assert_eq!(
            SocksError::Reply(5).to_string(),
            "the SOCKS proxy could not connect: connection refused (reply 0x05)"
        );
        assert_eq!(
            SocksError::reply_text(2),
            "connection not allowed by ruleset"
        );
        assert_eq!(SocksError::reply_text(0x42), "unassigned reply code");
    }
}
