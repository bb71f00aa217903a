//! The client's real address behind reverse proxies: the `Forwarded` header
//! (RFC 7239, sections 4 and 6) and the older `X-Forwarded-For`, believed
//! only when the TCP peer is a proxy the server was told to trust.
//!
//! Each proxy appends the address it received the request from, so the
//! list reads client first, nearest proxy last. Anyone can send the header,
//! so only the entries appended by trusted proxies mean anything: the
//! client is the right-most entry that is not itself a trusted proxy.
//!
//! ```text
//!   Forwarded: for=198.51.100.7, for="[2001:db8::1]:4711", for=10.0.0.2
//!                  ^ forged?         ^ the client             ^ trusted proxy
//!   TCP peer 10.0.0.3 (trusted) -> skip 10.0.0.2 (trusted) -> 2001:db8::1
//! ```
//!
//! An entry that names no address (`unknown`, an obfuscated `_name`
//! (section 6.3), an element without `for=`, or garbage) ends the walk:
//! what is left of it was written by someone no trusted proxy vouches for,
//! so the address is then that of the last trusted hop. `Forwarded` wins
//! over `X-Forwarded-For` when a request has both. Socket-free: these are
//! functions of the header text and the peer's address.

use std::net::{IpAddr, SocketAddr};

use crate::protocol::http::Headers;

/// An address or a network (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `addr` or `addr/prefix`; host bits past the prefix are ignored.
    pub(crate) fn parse(text: &str) -> Result<Network, String> {
        let bad = || {
            format!(
                "trusted_proxies: {text:?} is not an IP address or network (such as 10.0.0.0/8, 127.0.0.1 or ::1)"
            )
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(p) if p <= max => p,
                    _ => return Err(bad()),
                }
            }
            Some(_) => return Err(bad()),
        };
        let mut network = Network { addr, prefix };
        network.addr = network.masked(addr);
        Ok(network)
    }

    /// `ip` with the bits past the prefix cleared (`ip` of this family).
    fn masked(&self, ip: IpAddr) -> IpAddr {
        let keep = |width: u32| {
            u128::MAX
                .checked_shl(width - u32::from(self.prefix))
                .unwrap_or(0)
        };
        match ip {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & keep(32) as u32).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & keep(128)).into()),
        }
    }

    /// Whether `ip` (canonical: an IPv4-mapped IPv6 address counts as IPv4)
    /// is in this network.
    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let (mine, width) = bits(self.addr);
        let (theirs, their_width) = bits(ip.to_canonical());
        if width != their_width {
            return false;
        }
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0);
        mine & mask == theirs & mask
    }
}

/// The proxies whose forwarding headers the server believes (default: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TrustedProxies {
    networks: Vec<Network>,
}

impl TrustedProxies {
    /// Parses every entry; the first that is not an address or network is
    /// the error.
    pub(crate) fn parse<I, S>(entries: I) -> Result<TrustedProxies, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let networks = entries
            .into_iter()
            .map(|e| Network::parse(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies { networks })
    }

    /// Whether `ip` is one of the trusted proxies.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// One entry of a forwarding list: an address (with its port, when the
/// proxy gave one), or something that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Addr(IpAddr, Option<u16>),
    Unknown,
}

/// The client's address for a request that came from `peer` with `headers`:
/// `peer` itself unless it is trusted and the request says whom it
/// forwards. A forwarded address without a port has port 0.
pub(crate) fn client_addr(
    headers: &Headers,
    peer: SocketAddr,
    trusted: &TrustedProxies,
) -> SocketAddr {
    if trusted.is_empty() || !trusted.contains(peer.ip()) {
        return peer;
    }
    let hops = if headers.get("Forwarded").is_some() {
        forwarded_hops(headers.get_all("Forwarded"))
    } else if headers.get("X-Forwarded-For").is_some() {
        x_forwarded_for_hops(headers.get_all("X-Forwarded-For"))
    } else {
        return peer;
    };
    let mut current = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Hop::Unknown => return current,
            Hop::Addr(ip, port) => {
                current = SocketAddr::new(ip, port.unwrap_or(0));
                if !trusted.contains(ip) {
                    return current;
                }
            }
        }
    }
    current
}

/// The `for=` of each element of `Forwarded` header lines, in order
/// (several lines are one list, RFC 7239 section 4).
fn forwarded_hops<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Hop> {
    let mut hops = Vec::new();
    for line in lines {
        for element in split_outside_quotes(line, b',') {
            if element.trim().is_empty() {
                continue; // "a, , b": empty list elements are allowed (RFC 9110 5.6.1)
            }
            let mut hop = Hop::Unknown;
            for pair in split_outside_quotes(element, b';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("for") {
                    hop = match unquote(value.trim()) {
                        Some(node) => parse_node(&node, false),
                        None => Hop::Unknown,
                    };
                }
            }
            hops.push(hop);
        }
    }
    hops
}

/// The entries of `X-Forwarded-For` lines: bare addresses, IPv6 ones
/// unbracketed, though some proxies add brackets and ports.
fn x_forwarded_for_hops<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Hop> {
    lines
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| parse_node(entry, true))
        .collect()
}

/// Splits `text` at `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in text.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if b == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A token, or a quoted string with its escapes undone (RFC 9110 section
/// 5.6.4); `None` for an unterminated quote.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    Some(out)
}

/// A node (RFC 7239 section 6): `192.0.2.43`, `192.0.2.43:47011`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`, with `_obfuscated` ports allowed
/// (and dropped); `unknown` and `_obfuscated` names are [`Hop::Unknown`].
/// A bare IPv6 address is accepted only where `bare_v6` (X-Forwarded-For).
fn parse_node(node: &str, bare_v6: bool) -> Hop {
    let port = |p: &str| -> Result<Option<u16>, ()> {
        if p.starts_with('_') {
            return Ok(None);
        }
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        p.parse::<u16>().map(Some).map_err(|_| ())
    };
    if let Some(rest) = node.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Hop::Unknown;
        };
        let Ok(ip) = v6.parse::<std::net::Ipv6Addr>() else {
            return Hop::Unknown;
        };
        let port = match after {
            "" => Ok(None),
            _ => after.strip_prefix(':').ok_or(()).and_then(port),
        };
        return match port {
            Ok(port) => Hop::Addr(IpAddr::V6(ip).to_canonical(), port),
            Err(()) => Hop::Unknown,
        };
    }
    if bare_v6 && let Ok(IpAddr::V6(ip)) = node.parse::<IpAddr>() {
        return Hop::Addr(IpAddr::V6(ip).to_canonical(), None);
    }
    let (host, port) = match node.split_once(':') {
        Some((host, p)) => match port(p) {
            Ok(port) => (host, port),
            Err(()) => return Hop::Unknown,
        },
        None => (node, None),
    };
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => Hop::Addr(IpAddr::V4(ip), port),
        Err(_) => Hop::Unknown, // "unknown", "_hidden", a host name, garbage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (name, value) in lines {
            h.append(*name, *value);
        }
        h
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    const PROXY: &str = "10.0.0.3:40000";

    #[test]
    fn networks_parse_addresses_and_prefixes_and_refuse_the_rest() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.255.1.2".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        // An IPv4-mapped IPv6 peer (a server listening on [::]) is IPv4.
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(
            Network::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        // Host bits past the prefix are ignored, as nginx's set_real_ip_from does.
        assert_eq!(Network::parse("10.1.2.3/8"), Network::parse("10.0.0.0/8"));
        for bad in [
            "",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "proxy.local",
            "10.0.0.0/8/8",
        ] {
            let e = Network::parse(bad).unwrap_err();
            assert!(e.contains("is not an IP address or network"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_its_headers_say() {
        let h = headers(&[
            ("Forwarded", "for=203.0.113.9"),
            ("X-Forwarded-For", "203.0.113.9"),
        ]);
        let peer = addr("198.51.100.1:5000");
        assert_eq!(client_addr(&h, peer, &trusted(&["10.0.0.0/8"])), peer);
        assert_eq!(client_addr(&h, peer, &TrustedProxies::default()), peer);
    }

    #[test]
    fn a_trusted_peer_without_headers_is_the_client() {
        let peer = addr(PROXY);
        assert_eq!(
            client_addr(&headers(&[]), peer, &trusted(&["10.0.0.0/8"])),
            peer
        );
        assert_eq!(
            client_addr(
                &headers(&[("Forwarded", "")]),
                peer,
                &trusted(&["10.0.0.0/8"])
            ),
            peer
        );
    }

    #[test]
    fn forwarded_for_gives_the_right_most_untrusted_address() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[(
            "Forwarded",
            "for=198.51.100.7, for=\"[2001:db8::1]:4711\", for=10.0.0.2",
        )]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("[2001:db8::1]:4711"));
        // Quoted IPv4 with a port, other parameters around it, any case.
        let h = headers(&[(
            "Forwarded",
            "proto=https;FOR=\"192.0.2.60:8080\";by=10.0.0.3",
        )]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.60:8080"));
        // No port: port 0.
        let h = headers(&[("Forwarded", "for=192.0.2.43")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.43:0"));
        // An obfuscated port is dropped, the address kept.
        let h = headers(&[("Forwarded", "for=\"[2001:db8:cafe::17]:_p1\"")]);
        assert_eq!(
            client_addr(&h, addr(PROXY), &t),
            addr("[2001:db8:cafe::17]:0")
        );
    }

    #[test]
    fn several_forwarded_lines_are_one_list() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[
            ("Forwarded", "for=192.0.2.1"),
            ("forwarded", "for=10.9.9.9"),
        ]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.1:0"));
    }

    #[test]
    fn separators_inside_quotes_do_not_split_elements() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[(
            "Forwarded",
            "for=192.0.2.1;host=\"a,b;c\\\"d\", for=10.0.0.9",
        )]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.1:0"));
    }

    #[test]
    fn unknown_or_obfuscated_ends_the_walk_at_the_last_trusted_hop() {
        let t = trusted(&["10.0.0.0/8"]);
        for value in [
            "for=203.0.113.5, for=unknown",
            "for=203.0.113.5, for=_hidden",
            "for=203.0.113.5, by=10.0.0.1",
            "for=203.0.113.5, for=\"[2001:db8::1\"",
            "for=203.0.113.5, for=2001:db8::1",
            "for=203.0.113.5, for=proxy.example",
        ] {
            let h = headers(&[("Forwarded", value)]);
            assert_eq!(client_addr(&h, addr(PROXY), &t), addr(PROXY), "{value}");
            let h = headers(&[("Forwarded", &format!("{value}, for=10.0.0.2:81"))]);
            assert_eq!(
                client_addr(&h, addr(PROXY), &t),
                addr("10.0.0.2:81"),
                "{value}"
            );
        }
        // An unterminated quote runs to the end: the rest is one bad element.
        let h = headers(&[("Forwarded", "for=203.0.113.5, for=\"open, for=10.0.0.2")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr(PROXY));
    }

    #[test]
    fn when_every_hop_is_trusted_the_left_most_is_the_client() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("Forwarded", "for=10.0.0.7, for=10.0.0.2")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("10.0.0.7:0"));
    }

    #[test]
    fn x_forwarded_for_gives_the_right_most_untrusted_address() {
        let t = trusted(&["10.0.0.0/8", "::1"]);
        let h = headers(&[("X-Forwarded-For", "6.6.6.6, 203.0.113.9 , 10.0.0.2")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("203.0.113.9:0"));
        let h = headers(&[
            ("X-Forwarded-For", "2001:db8::9"),
            ("X-Forwarded-For", "::1"),
        ]);
        assert_eq!(
            client_addr(&h, addr("[::1]:9"), &t),
            addr("[2001:db8::9]:0")
        );
        let h = headers(&[("X-Forwarded-For", "[2001:db8::9]:443, 192.0.2.4:1234")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.4:1234"));
        let h = headers(&[("X-Forwarded-For", "203.0.113.9, unknown")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr(PROXY));
        let h = headers(&[("X-Forwarded-For", "::ffff:192.0.2.8")]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.8:0"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[
            ("X-Forwarded-For", "198.51.100.1"),
            ("Forwarded", "for=192.0.2.2"),
        ]);
        assert_eq!(client_addr(&h, addr(PROXY), &t), addr("192.0.2.2:0"));
    }

    #[test]
    fn node_syntax_byte_for_byte() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        let cases: &[(&str, bool, Hop)] = &[
            ("192.0.2.43", false, Hop::Addr(v4("192.0.2.43"), None)),
            (
                "192.0.2.43:47011",
                false,
                Hop::Addr(v4("192.0.2.43"), Some(47011)),
            ),
            ("192.0.2.43:_abc", false, Hop::Addr(v4("192.0.2.43"), None)),
            (
                "[2001:db8:cafe::17]",
                false,
                Hop::Addr(v6("2001:db8:cafe::17"), None),
            ),
            (
                "[2001:db8:cafe::17]:4711",
                false,
                Hop::Addr(v6("2001:db8:cafe::17"), Some(4711)),
            ),
            (
                "[::ffff:1.2.3.4]:1",
                false,
                Hop::Addr(v4("1.2.3.4"), Some(1)),
            ),
            ("2001:db8::1", false, Hop::Unknown),
            ("2001:db8::1", true, Hop::Addr(v6("2001:db8::1"), None)),
            ("unknown", false, Hop::Unknown),
            ("UNKNOWN", true, Hop::Unknown),
            ("_gazonk", false, Hop::Unknown),
            ("192.0.2.43:", false, Hop::Unknown),
            ("192.0.2.43:65536", false, Hop::Unknown),
            ("192.0.2.43:+1", false, Hop::Unknown),
            ("[2001:db8::1]x", false, Hop::Unknown),
            ("[2001:db8::1]:", false, Hop::Unknown),
            ("[1.2.3.4]", false, Hop::Unknown),
            ("", false, Hop::Unknown),
            ("é", true, Hop::Unknown),
        ];
        for (node, bare, want) in cases {
            assert_eq!(parse_node(node, *bare), *want, "{node:?}");
        }
    }

    #[test]
    fn quoted_strings_unescape_and_unterminated_ones_are_refused() {
        assert_eq!(unquote("token").as_deref(), Some("token"));
        assert_eq!(unquote("\"[::1]:80\"").as_deref(), Some("[::1]:80"));
        assert_eq!(unquote("\"a\\\"b\"").as_deref(), Some("a\"b"));
        assert_eq!(unquote("\"open"), None);
        assert_eq!(unquote("\"trailing\\\""), None);
        assert_eq!(
            split_outside_quotes("a,\"b,c\",d", b','),
            ["a", "\"b,c\"", "d"]
        );
        assert_eq!(
            split_outside_quotes("\"\\\",\",x", b','),
            ["\"\\\",\"", "x"]
        );
    }
}
