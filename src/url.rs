//! WebSocket URLs (RFC 6455, section 3): `ws://host[:port][/path][?query]`
//! and the same with `wss://`, parsed by hand.
//!
//! ```text
//!   ws://[::1]:9001/chat?room=1
//!   \_/  \___/ \__/\___/ \____/
//!    |     |     |   |      +-- query (kept as written, not decoded)
//!    |     |     |   +--------- path, "/" when absent
//!    |     |     +------------- port, 80 for ws and 443 for wss when absent
//!    |     +------------------- host: a name, an IPv4 address, or an IPv6
//!    |                          literal in brackets
//!    +------------------------- scheme: ws, or wss (TLS)
//! ```
//!
//! Section 3 forbids a fragment (`#...`): a `#` in a WebSocket URL must be
//! written `%23`. The URL grammar of section 3 has no user information
//! either, so `user:password@host` is refused: send credentials in a header.
//! The handshake needs two values from a URL: the `Host` header
//! ([`host_header`](Url::host_header), section 4.1 item 4) and the resource
//! name of the request line ([`resource`](Url::resource), path and query).

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A parsed `ws://` or `wss://` URL.
///
/// ```
/// use stdws::url::Url;
/// let url = Url::parse("ws://[::1]:9001/chat?room=1")?;
/// assert_eq!(url.host(), "::1");
/// assert_eq!(url.port(), 9001);
/// assert_eq!(url.host_header(), "[::1]:9001");
/// assert_eq!(url.resource(), "/chat?room=1");
///
/// let url = Url::parse("wss://example.com")?;
/// assert!(url.is_secure());
/// assert_eq!((url.port(), url.host_header(), url.resource()), (443, "example.com".into(), "/"));
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    secure: bool,
    /// Without brackets, even for an IPv6 literal.
    host: String,
    ipv6: bool,
    port: u16,
    /// The path and the query, as sent in the request line.
    resource: String,
    /// Where the query starts in `resource` (at its `?`), if there is one.
    query_at: Option<usize>,
}

impl Url {
    /// Parses a WebSocket URL.
    ///
    /// Fails with [`Error::Url`] for another scheme, a missing host, a bad
    /// port, a fragment, user information, or a character that must be
    /// percent-encoded.
    pub fn parse(url: &str) -> Result<Url> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(format!(
                "{url:?} has no scheme: write it as ws://host/path (or wss:// for TLS)"
            )));
        };
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            return Err(bad(format!(
                "the scheme {scheme}:// is for HTTP; use ws:// (or wss:// in place of https://)"
            )));
        } else {
            return Err(bad(format!(
                "unsupported scheme {scheme:?}: use ws:// or wss://"
            )));
        };
        if let Some(at) = rest.find('#') {
            return Err(bad(format!(
                "a WebSocket URL may not have a fragment (RFC 6455 section 3): remove {:?}, or write the # as %23",
                &rest[at..]
            )));
        }
        if let Some(c) = rest
            .chars()
            .find(|&c| c.is_ascii_control() || c == ' ' || !c.is_ascii())
        {
            return Err(bad(format!(
                "the character {c:?} must be percent-encoded in a URL"
            )));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(bad(
                "user information (user:password@) is not part of a WebSocket URL: \
                 send credentials in a header, such as Authorization"
                    .to_owned(),
            ));
        }
        let (host, ipv6, port) = parse_authority(authority, secure)?;
        let resource = if after.starts_with('/') {
            after.to_owned()
        } else {
            // Only a query, or nothing, follows the host: the path is "/".
            format!("/{after}")
        };
        let query_at = resource.find('?');
        Ok(Url {
            secure,
            host,
            ipv6,
            port,
            resource,
            query_at,
        })
    }

    /// Whether this is a `wss://` URL (TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The scheme: `ws` or `wss`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "wss" } else { "ws" }
    }

    /// The host: a name, an IPv4 address, or an IPv6 address without its
    /// brackets (the form [`std::net::ToSocketAddrs`] takes with a port).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: as written, or 80 for `ws` and 443 for `wss`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path, `/` when the URL has none (not percent-decoded).
    pub fn path(&self) -> &str {
        match self.query_at {
            Some(at) => &self.resource[..at],
            None => &self.resource,
        }
    }

    /// The query without its `?`, if there is one (not percent-decoded).
    pub fn query(&self) -> Option<&str> {
        self.query_at.map(|at| &self.resource[at + 1..])
    }

    /// The resource name of the request line: the path and the query
    /// (section 3, "resource name").
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The value of the `Host` header: the host, in brackets if it is an IPv6
    /// address, and the port unless it is the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn default_port(&self) -> u16 {
        if self.secure { 443 } else { 80 }
    }
}

impl FromStr for Url {
    type Err = Error;

    fn from_str(s: &str) -> Result<Url> {
        Url::parse(s)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.host_header(),
            self.resource
        )
    }
}

fn bad(why: String) -> Error {
    Error::Url(why)
}

/// Splits `host[:port]` or `[v6]:port`; returns the host without brackets,
/// whether it is an IPv6 literal, and the port.
fn parse_authority(authority: &str, secure: bool) -> Result<(String, bool, u16)> {
    let default_port = if secure { 443 } else { 80 };
    let (host, ipv6, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((literal, after)) = bracketed.split_once(']') else {
            return Err(bad(format!(
                "the IPv6 address in {authority:?} lacks its closing bracket"
            )));
        };
        if literal.contains('%') {
            return Err(bad(format!(
                "IPv6 zone identifiers ({literal:?}) are not supported: connect a TcpStream yourself and use ClientBuilder::connect_on"
            )));
        }
        if literal.parse::<Ipv6Addr>().is_err() {
            return Err(bad(format!("[{literal}] is not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => {
                    return Err(bad(format!(
                        "unexpected {after:?} after the IPv6 address: write [address]:port"
                    )));
                }
            },
        };
        (literal, true, port)
    } else if authority.matches(':').count() > 1 {
        return Err(bad(format!(
            "{authority:?} looks like an IPv6 address: write it in brackets, as ws://[::1]:9001/"
        )));
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, false, Some(port)),
            None => (authority, false, None),
        }
    };
    if host.is_empty() {
        return Err(bad(
            "the URL has no host: write it as ws://host/path".to_owned()
        ));
    }
    if !ipv6 {
        if let Some(c) = host
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
        {
            return Err(bad(format!(
                "the host {host:?} contains {c:?}, which a host name cannot"
            )));
        }
    }
    let port = match port {
        // RFC 3986 section 3.2.3 allows an empty port: it means the default.
        None | Some("") => default_port,
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port != 0 && digits.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => {
                return Err(bad(format!(
                    "the port {digits:?} is not a number from 1 to 65535"
                )));
            }
        },
    };
    Ok((host.to_owned(), ipv6, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Url {
        match Url::parse(url) {
            Ok(url) => url,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn error(url: &str) -> String {
        match Url::parse(url) {
            Ok(parsed) => panic!("{url} parsed as {parsed:?}"),
            Err(Error::Url(why)) => why,
            Err(other) => panic!("{url}: not a URL error: {other:?}"),
        }
    }

    #[test]
    fn ws_defaults_to_port_80_and_path_slash() {
        let url = parse("ws://example.com");
        assert!(!url.is_secure());
        assert_eq!(url.host(), "example.com");
        assert_eq!(url.port(), 80);
        assert_eq!(url.path(), "/");
        assert_eq!(url.query(), None);
        assert_eq!(url.resource(), "/");
        assert_eq!(url.host_header(), "example.com");
        assert_eq!(url.to_string(), "ws://example.com/");
    }

    #[test]
    fn wss_defaults_to_port_443() {
        let url = parse("wss://example.com/socket");
        assert!(url.is_secure());
        assert_eq!(url.port(), 443);
        assert_eq!(url.host_header(), "example.com");
        assert_eq!(url.resource(), "/socket");
    }

    #[test]
    fn default_port_written_out_is_omitted_from_host_header() {
        assert_eq!(parse("ws://example.com:80/").host_header(), "example.com");
        assert_eq!(parse("wss://example.com:443/").host_header(), "example.com");
        assert_eq!(
            parse("wss://example.com:80/").host_header(),
            "example.com:80"
        );
        assert_eq!(parse("ws://example.com:/").port(), 80);
    }

    #[test]
    fn explicit_port_and_ipv4_host() {
        let url = parse("ws://127.0.0.1:9001/chat");
        assert_eq!(url.host(), "127.0.0.1");
        assert_eq!(url.port(), 9001);
        assert_eq!(url.host_header(), "127.0.0.1:9001");
        assert_eq!(url.resource(), "/chat");
    }

    #[test]
    fn ipv6_literal_keeps_brackets_in_host_header_only() {
        let url = parse("ws://[::1]:9001/x");
        assert_eq!(url.host(), "::1");
        assert_eq!(url.port(), 9001);
        assert_eq!(url.host_header(), "[::1]:9001");
        assert_eq!(url.to_string(), "ws://[::1]:9001/x");

        let url = parse("wss://[2001:db8::7]");
        assert_eq!(url.host(), "2001:db8::7");
        assert_eq!(url.port(), 443);
        assert_eq!(url.host_header(), "[2001:db8::7]");
        assert_eq!(url.resource(), "/");
    }

    #[test]
    fn query_is_kept_in_the_resource_name() {
        let url = parse("ws://h/chat?room=1&nick=ann");
        assert_eq!(url.path(), "/chat");
        assert_eq!(url.query(), Some("room=1&nick=ann"));
        assert_eq!(url.resource(), "/chat?room=1&nick=ann");

        // A query straight after the host gets the root path.
        let url = parse("ws://h:81?token=abc");
        assert_eq!(url.path(), "/");
        assert_eq!(url.query(), Some("token=abc"));
        assert_eq!(url.resource(), "/?token=abc");
        assert_eq!(url.port(), 81);

        assert_eq!(parse("ws://h/p?").query(), Some(""));
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert!(parse("WSS://h/").is_secure());
        assert!(!parse("Ws://h/").is_secure());
    }

    #[test]
    fn other_schemes_are_refused_with_what_to_use() {
        assert!(error("http://h/").contains("use ws://"));
        assert!(error("https://h/").contains("wss://"));
        assert!(error("ftp://h/").contains("use ws:// or wss://"));
        assert!(error("example.com/chat").contains("no scheme"));
        assert!(error("").contains("no scheme"));
    }

    #[test]
    fn fragments_are_refused() {
        assert!(error("ws://h/chat#top").contains("fragment"));
        assert!(error("ws://h#x").contains("fragment"));
        assert!(error("ws://h/?a=1#").contains("fragment"));
        // Escaped, a # is fine.
        assert_eq!(parse("ws://h/a%23b").resource(), "/a%23b");
    }

    #[test]
    fn missing_host_is_refused() {
        assert!(error("ws://").contains("no host"));
        assert!(error("ws:///chat").contains("no host"));
        assert!(error("ws://:80/").contains("no host"));
        assert!(error("ws://?q").contains("no host"));
    }

    #[test]
    fn bad_ports_are_refused() {
        for url in [
            "ws://h:0/",
            "ws://h:65536/",
            "ws://h:-1/",
            "ws://h:+80/",
            "ws://h:x/",
            "ws://[::1]:99999/",
        ] {
            assert!(error(url).contains("port"), "{url}");
        }
    }

    #[test]
    fn bad_hosts_are_refused() {
        assert!(error("ws://::1/").contains("brackets"));
        assert!(error("ws://[::1/").contains("closing bracket"));
        assert!(error("ws://[not-v6]/").contains("not an IPv6 address"));
        assert!(error("ws://[::1]x/").contains("[address]:port"));
        assert!(error("ws://[fe80::1%25eth0]/").contains("zone"));
        assert!(error("ws://user:pw@h/").contains("Authorization"));
        assert!(error("ws://h!/").contains("host"));
    }

    #[test]
    fn unencoded_characters_are_refused() {
        assert!(error("ws://h/a b").contains("percent-encoded"));
        assert!(error("ws://h/\r\nX: y").contains("percent-encoded"));
        assert!(error("ws://h/caf\u{e9}").contains("percent-encoded"));
    }

    #[test]
    fn from_str_parses() {
        let url: Url = "ws://h:1/".parse().unwrap();
        assert_eq!(url.port(), 1);
    }
}
