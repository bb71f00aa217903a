//! Reaching the server through a proxy: an HTTP proxy's `CONNECT` tunnel
//! (RFC 9110, section 9.3.6, with `Proxy-Authorization: Basic`, RFC 7617)
//! or a SOCKS 5 proxy ([`socks`](super::socks), RFC 1928 and RFC 1929);
//! which proxy the environment names for a URL (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, as curl reads them).
//!
//! ```text
//!   ClientBuilder::proxy(url)  or  the environment (unless turned off)
//!        |                          https_proxy (wss) / http_proxy (ws),
//!        |                          then all_proxy; no_proxy bypasses
//!        v
//!   TCP to the proxy --http://--> CONNECT host:port  -> 2xx: a tunnel
//!                    \                               -> else ProxyError::Refused
//!                     --socks5[h]://--> greeting, user/pass, CONNECT -> 00: a tunnel
//!                                                     -> else ProxyError::Socks
//!   then, in the tunnel: TLS for wss:// (ClientBuilder::tls), the handshake
//! ```
//!
//! The messages are built and checked by socket-free functions; the
//! shells at the end write and read them, byte-exact (nothing past the
//! proxy's answer is read, since what follows belongs to the server).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, ToSocketAddrs};

use base64::Engine as _;

use super::socks::{self, SocksError, Target};
use crate::error::{Error, Result};
use crate::protocol::http::{HeadLimits, HeadReader, Response};

/// The kinds of proxy the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyKind {
    /// `http://`: an HTTP proxy that opens a tunnel with `CONNECT`.
    Http,
    /// `socks5://`: SOCKS 5, the client resolves the host name.
    Socks5,
    /// `socks5h://`: SOCKS 5, the proxy resolves the host name.
    Socks5h,
}

/// A proxy to connect through, from a URL such as
/// `http://user:password@proxy.example:3128` or `socks5h://127.0.0.1:1080`.
///
/// ```
/// use stdws::client::{Proxy, ProxyKind};
/// let proxy = Proxy::parse("http://bob:p%40ss@proxy.example:3128")?;
/// assert_eq!(proxy.kind(), ProxyKind::Http);
/// assert_eq!((proxy.host(), proxy.port()), ("proxy.example", 3128));
/// assert_eq!(proxy.user(), Some("bob"));
/// // The password stays out of logs.
/// assert!(!format!("{proxy:?}").contains("p@ss"));
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    /// Without brackets, even for an IPv6 literal.
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user())
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL: `http://`, `socks5://` or `socks5h://`, with an
    /// optional percent-encoded `user:password@`, a host, and a port
    /// (default 80 for `http`, 1080 for SOCKS). Without a scheme, `http` is
    /// meant, as curl reads it. Fails with [`Error::Proxy`].
    pub fn parse(url: &str) -> Result<Proxy> {
        let bad = |why: String| Error::Proxy(ProxyError::Url(why));
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), url),
        };
        let (kind, default_port) = match scheme.as_str() {
            "http" => (ProxyKind::Http, 80),
            "socks5" => (ProxyKind::Socks5, 1080),
            "socks5h" => (ProxyKind::Socks5h, 1080),
            "https" => {
                return Err(bad(format!(
                    "{url}: a TLS connection to the proxy itself (https://) is not supported; use http:// for the proxy (wss:// stays encrypted through its tunnel)"
                )));
            }
            other => {
                return Err(bad(format!(
                    "{url}: the scheme {other}:// is not a proxy stdws speaks (http://, socks5://, socks5h://)"
                )));
            }
        };
        let authority = rest.split('/').next().unwrap_or("");
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                Some((percent_decode(user)?, percent_decode(password)?))
            }
        };
        let (host, port) = split_host_port(hostport)
            .ok_or_else(|| bad(format!("{url}: no valid host and port")))?;
        let port = match port {
            None => default_port,
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad(format!("{url}: bad port {port:?}")))?,
        };
        if host.is_empty() {
            return Err(bad(format!("{url}: no host")));
        }
        Ok(Proxy {
            kind,
            host: host.to_owned(),
            port,
            credentials,
        })
    }

    /// The kind of proxy.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name given in the URL, if any.
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }

    fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }
}

/// Why going through a proxy failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL (given, or from the environment) cannot be used.
    Url(String),
    /// The HTTP proxy answered `CONNECT` with something other than 2xx.
    Refused {
        /// The status code, such as 403 or 407.
        status: u16,
        /// The proxy's reason phrase, as it sent it.
        reason: String,
    },
    /// The SOCKS 5 exchange failed; the reply code is in words.
    Socks(SocksError),
    /// The proxy's answer is not what its protocol says.
    BadAnswer(String),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::Url(why) => write!(f, "cannot use the proxy {why}"),
            ProxyError::Refused { status, reason } => {
                write!(f, "the HTTP proxy refused the tunnel: {status} {reason}")?;
                if *status == 407 || *status == 401 {
                    f.write_str(
                        " (give the user and password in the proxy URL: http://user:password@host:port)",
                    )?;
                }
                Ok(())
            }
            ProxyError::Socks(e) => e.fmt(f),
            ProxyError::BadAnswer(why) => write!(f, "the proxy's answer is wrong: {why}"),
        }
    }
}

/// Reads one environment variable (an empty value counts as unset).
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The proxy the environment names for a connection to `host:port`, as
/// curl reads the variables: `https_proxy` (or `HTTPS_PROXY`) for `wss://`,
/// `http_proxy` (or `HTTP_PROXY`) for `ws://`, then `all_proxy` (or
/// `ALL_PROXY`), unless `no_proxy` (or `NO_PROXY`) lists the host. The
/// upper-case `HTTP_PROXY` is ignored in a CGI program (`REQUEST_METHOD`
/// set), where a request's `Proxy:` header would set it ("httpoxy").
pub(crate) fn from_env(
    secure: bool,
    host: &str,
    port: u16,
    var: Lookup<'_>,
) -> Result<Option<Proxy>> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let scheme_proxy = if secure {
        get("https_proxy").or_else(|| get("HTTPS_PROXY"))
    } else {
        get("http_proxy").or_else(|| {
            if get("REQUEST_METHOD").is_some() {
                None
            } else {
                get("HTTP_PROXY")
            }
        })
    };
    let Some(url) = scheme_proxy
        .or_else(|| get("all_proxy"))
        .or_else(|| get("ALL_PROXY"))
    else {
        return Ok(None);
    };
    let no_proxy = get("no_proxy").or_else(|| get("NO_PROXY"));
    if no_proxy.is_some_and(|list| bypasses(&list, host, port)) {
        return Ok(None);
    }
    Proxy::parse(&url).map(Some).map_err(|e| match e {
        Error::Proxy(ProxyError::Url(why)) => {
            Error::Proxy(ProxyError::Url(format!("{why} (from the environment)")))
        }
        other => other,
    })
}

/// Whether a `NO_PROXY` list names `host:port`: `*` for every host; a name
/// for itself and its subdomains (a leading `.` or `*.` changes nothing);
/// an IP address, or a network in CIDR form (`10.0.0.0/8`); each optionally
/// with `:port` (IPv6 in brackets then) to bypass only that port. Entries
/// are separated by commas or spaces; case does not matter.
pub(crate) fn bypasses(list: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    list.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let Some((name, entry_port)) = split_host_port(entry) else {
                return false;
            };
            if let Some(p) = entry_port {
                if p.parse::<u16>().ok() != Some(port) {
                    return false;
                }
            }
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some((net, bits)) = name.split_once('/') {
                return match (host_ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_network(ip, net, bits),
                    _ => false,
                };
            }
            if let (Some(ip), Ok(entry_ip)) = (host_ip, name.parse::<IpAddr>()) {
                return ip == entry_ip;
            }
            let name = name
                .strip_prefix("*.")
                .or_else(|| name.strip_prefix('.'))
                .unwrap_or(&name);
            !name.is_empty()
                && (host == name
                    || host
                        .strip_suffix(name)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Splits `host[:port]`, `[v6][:port]` or a bare IPv6 address (no port
/// then); the host comes back without brackets.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match s.matches(':').count() {
        0 => Some((s, None)),
        1 => s.split_once(':').map(|(h, p)| (h, Some(p))),
        _ => Some((s, None)),
    }
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::Proxy(ProxyError::Url(
                        "credentials with a bad percent-escape".to_owned(),
                    ))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        Error::Proxy(ProxyError::Url(
            "credentials that are not UTF-8 once decoded".to_owned(),
        ))
    })
}

/// `host:port` as a request target and `Host` value (IPv6 in brackets).
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `CONNECT` request for `host:port` (RFC 9110, section 9.3.6), with
/// basic credentials (RFC 7617) when given.
pub(crate) fn connect_request(host: &str, port: u16, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let target = authority(host, port);
    let mut out = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, password)) = credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        out.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Checks the proxy's answer to `CONNECT`: any 2xx opens the tunnel.
pub(crate) fn check_connect_response(response: &Response) -> Result<(), ProxyError> {
    if (200..300).contains(&response.status()) {
        Ok(())
    } else {
        Err(ProxyError::Refused {
            status: response.status(),
            reason: response.reason().to_owned(),
        })
    }
}

/// Opens a tunnel to `host:port` through `proxy` on `stream`, a connection
/// to the proxy.
pub(crate) fn tunnel<S: Read + Write>(
    stream: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<()> {
    match proxy.kind {
        ProxyKind::Http => http_tunnel(stream, proxy, host, port),
        ProxyKind::Socks5 | ProxyKind::Socks5h => socks_tunnel(stream, proxy, host, port),
    }
}

fn http_tunnel<S: Read + Write>(
    stream: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<()> {
    stream.write_all(&connect_request(host, port, proxy.credentials()))?;
    stream.flush()?;
    // One byte at a time: the proxy's answer is short, and what follows it
    // is the server's, which must stay in the stream.
    let limits = HeadLimits::default();
    let mut reader = HeadReader::new(limits);
    let mut byte = [0u8; 1];
    loop {
        read_exact(stream, &mut byte)?;
        let (_, done) = reader
            .feed(&byte)
            .map_err(|e| Error::Proxy(ProxyError::BadAnswer(format!("{e:?}"))))?;
        if done {
            break;
        }
    }
    let response = Response::parse_head(reader.head(), limits).map_err(|e| {
        Error::Proxy(ProxyError::BadAnswer(format!(
            "not an HTTP answer to CONNECT ({e:?}); is it an HTTP proxy?"
        )))
    })?;
    check_connect_response(&response).map_err(Error::Proxy)
}

fn socks_tunnel<S: Read + Write>(
    stream: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<()> {
    let socks = |e: SocksError| Error::Proxy(ProxyError::Socks(e));
    let credentials = proxy.credentials();
    stream.write_all(&socks::greeting(credentials.is_some()))?;
    stream.flush()?;
    let mut answer = [0u8; 2];
    read_exact(stream, &mut answer)?;
    if socks::parse_method(answer, credentials.is_some()).map_err(socks)? == socks::USER_PASS {
        let (user, password) = credentials.unwrap_or_default();
        stream.write_all(&socks::auth_request(user, password).map_err(socks)?)?;
        stream.flush()?;
        read_exact(stream, &mut answer)?;
        socks::parse_auth_reply(answer).map_err(socks)?;
    }
    let resolved;
    let target = match host.parse::<IpAddr>() {
        Ok(ip) => Target::Ip(ip),
        Err(_) if proxy.kind == ProxyKind::Socks5h => Target::Name(host),
        Err(_) => {
            // socks5://: the name is resolved here, as curl does.
            resolved = (host, port)
                .to_socket_addrs()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))?
                .next()
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{host} resolves to no address"),
                    )
                })?;
            Target::Ip(resolved.ip())
        }
    };
    stream.write_all(&socks::connect_request(&target, port).map_err(socks)?)?;
    stream.flush()?;
    let mut prefix = [0u8; socks::REPLY_PREFIX];
    read_exact(stream, &mut prefix)?;
    let len = socks::reply_len(prefix).map_err(socks)?;
    let mut reply = vec![0u8; len];
    reply[..socks::REPLY_PREFIX].copy_from_slice(&prefix);
    read_exact(stream, &mut reply[socks::REPLY_PREFIX..])?;
    socks::parse_reply(&reply).map_err(socks)?;
    Ok(())
}

/// `read_exact`, with the proxy's end of stream in words.
fn read_exact(stream: &mut impl Read, buf: &mut [u8]) -> Result<()> {
    stream.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::Proxy(ProxyError::BadAnswer(
                "the proxy closed the connection before answering".to_owned(),
            ))
        } else {
            Error::Io(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn chosen(secure: bool, host: &str, vars: &[(&str, &str)]) -> Option<String> {
        from_env(secure, host, 80, &env(vars))
            .unwrap()
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn proxy_urls_parse_with_defaults_credentials_and_ipv6() {
        let p = Proxy::parse("socks5h://u:p%3Aw@[::1]:9050").unwrap();
        assert_eq!(p.kind(), ProxyKind::Socks5h);
        assert_eq!((p.host(), p.port()), ("::1", 9050));
        assert_eq!(p.credentials(), Some(("u", "p:w")));
        let p = Proxy::parse("proxy.corp:3128").unwrap();
        assert_eq!(
            (p.kind(), p.host(), p.port()),
            (ProxyKind::Http, "proxy.corp", 3128)
        );
        assert_eq!(Proxy::parse("http://proxy/").unwrap().port(), 80);
        assert_eq!(Proxy::parse("SOCKS5://proxy").unwrap().port(), 1080);
        for bad in [
            "https://p:1",
            "ftp://p",
            "http://:80",
            "http://p:0",
            "http://p:x",
            "http://%zz@p",
        ] {
            assert!(
                matches!(Proxy::parse(bad), Err(Error::Proxy(ProxyError::Url(_)))),
                "{bad}"
            );
        }
    }

    #[test]
    fn connect_request_byte_for_byte() {
        assert_eq!(
            connect_request("example.com", 443, None),
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        // base64("Aladdin:open sesame"), the example of RFC 7617 section 2.
        assert_eq!(
            connect_request("::1", 8000, Some(("Aladdin", "open sesame"))),
            b"CONNECT [::1]:8000 HTTP/1.1\r\nHost: [::1]:8000\r\n\
              Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
                .to_vec()
        );
    }

    #[test]
    fn connect_answers_other_than_2xx_are_refusals_with_the_reason() {
        let parse = |head: &[u8]| Response::parse_head(head, HeadLimits::default()).unwrap();
        assert_eq!(
            check_connect_response(&parse(b"HTTP/1.1 200 Connection established\r\n\r\n")),
            Ok(())
        );
        let refused = check_connect_response(&parse(
            b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
        ))
        .unwrap_err();
        assert_eq!(
            refused,
            ProxyError::Refused {
                status: 407,
                reason: "Proxy Authentication Required".to_owned()
            }
        );
        assert!(
            refused
                .to_string()
                .contains("407 Proxy Authentication Required")
        );
    }

    #[test]
    fn environment_is_read_per_scheme_lower_case_first_then_all_proxy() {
        let vars = [
            ("http_proxy", "h:1"),
            ("HTTP_PROXY", "H:2"),
            ("HTTPS_PROXY", "S:3"),
            ("ALL_PROXY", "socks5://A:4"),
        ];
        assert_eq!(chosen(false, "x", &vars), Some("h:1".into()));
        assert_eq!(chosen(true, "x", &vars), Some("S:3".into()));
        assert_eq!(chosen(false, "x", &vars[1..]), Some("H:2".into()));
        assert_eq!(chosen(true, "x", &vars[3..]), Some("A:4".into()));
        assert_eq!(chosen(true, "x", &[("https_proxy", "")]), None);
        assert_eq!(chosen(false, "x", &[]), None);
        // httpoxy: in a CGI program HTTP_PROXY may come from a request header.
        assert_eq!(
            chosen(
                false,
                "x",
                &[("HTTP_PROXY", "evil:1"), ("REQUEST_METHOD", "GET")]
            ),
            None
        );
        assert!(from_env(false, "x", 80, &env(&[("http_proxy", "ftp://x")])).is_err());
    }

    #[test]
    fn no_proxy_is_read_as_curl_reads_it() {
        let vars = [
            ("http_proxy", "p:1"),
            ("NO_PROXY", "example.com, .corp,10.0.0.0/8"),
        ];
        assert_eq!(chosen(false, "example.com", &vars), None);
        assert_eq!(chosen(false, "a.corp", &vars), None);
        assert_eq!(chosen(false, "10.1.2.3", &vars), None);
        assert_eq!(chosen(false, "notexample.com", &vars), Some("p:1".into()));
        assert_eq!(
            chosen(false, "x", &[("all_proxy", "p:1"), ("no_proxy", "*")]),
            None
        );
    }

    #[test]
    fn no_proxy_entries_match_names_addresses_networks_and_ports() {
        assert!(bypasses("example.com", "example.com", 80));
        assert!(bypasses("example.com", "WWW.Example.COM.", 80));
        assert!(bypasses(".example.com", "example.com", 80));
        assert!(bypasses("*.example.com", "a.b.example.com", 80));
        assert!(!bypasses("example.com", "badexample.com", 80));
        assert!(!bypasses("", "example.com", 80));
        assert!(bypasses("localhost,127.0.0.1", "127.0.0.1", 80));
        assert!(!bypasses("127.0.0.1", "127.0.0.2", 80));
        assert!(bypasses("192.168.0.0/16", "192.168.44.1", 80));
        assert!(!bypasses("192.168.0.0/16", "192.169.0.1", 80));
        assert!(bypasses("0.0.0.0/0", "8.8.8.8", 80));
        assert!(bypasses("::1", "::1", 80));
        assert!(bypasses("[::1]:8000", "::1", 8000));
        assert!(!bypasses("[::1]:8000", "::1", 8001));
        assert!(bypasses("fd00::/8", "fd12::1", 80));
        assert!(bypasses("example.com:8443", "example.com", 8443));
        assert!(!bypasses("example.com:8443", "example.com", 443));
        assert!(bypasses("a b\texample.com", "example.com", 1));
        assert!(!bypasses("10.0.0.0/99", "10.0.0.1", 1));
    }
}
