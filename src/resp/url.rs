//! Redis URLs: `redis://[[user]:password@]host[:port][/db]`, the scheme
//! registered with IANA (<https://www.iana.org/assignments/uri-schemes/prov/redis>)
//! and read the same way by the Redis clients of other languages.
//!
//! ```text
//!   redis://app:s%40cret@10.0.0.5:6380/2
//!   \___/   \_/ \______/ \______/ \__/ \/
//!     |      |     |         |     |   +-- database for SELECT (0 when absent)
//!     |      |     |         |     +------ port (6379 when absent)
//!     |      |     |         +------------ host: a name, IPv4, or [IPv6]
//!     |      |     +---------------------- password, percent-decoded (AUTH)
//!     |      +---------------------------- ACL user (Redis 6+), percent-decoded
//!     +----------------------------------- scheme: redis only (no TLS here)
//! ```
//!
//! With a password and no user (`redis://:secret@host`), the client sends
//! `AUTH secret`, which Redis checks against `requirepass` (the `default`
//! user); with both, `AUTH user secret`.

use std::fmt;
use std::net::Ipv6Addr;

use crate::error::{Error, Result};

/// A parsed `redis://` URL.
///
/// ```
/// use stdws::resp::RedisUrl;
/// let url = RedisUrl::parse("redis://app:s%40cret@[::1]:6380/2")?;
/// assert_eq!((url.host(), url.port(), url.db()), ("::1", 6380, 2));
/// assert_eq!((url.username(), url.password()), (Some("app"), Some("s@cret")));
/// assert_eq!(url.address(), "[::1]:6380");
/// assert_eq!(url.to_string(), "redis://app:***@[::1]:6380/2"); // no password in logs
///
/// let url = RedisUrl::parse("redis://127.0.0.1")?;
/// assert_eq!((url.port(), url.db(), url.password()), (6379, 0, None));
/// # Ok::<(), stdws::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    db: u32,
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// Shows the URL with its password hidden, so that it can be logged.
impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        match (&self.username, &self.password) {
            (Some(user), Some(_)) => write!(f, "{user}:***@")?,
            (None, Some(_)) => f.write_str(":***@")?,
            (Some(user), None) => write!(f, "{user}@")?,
            (None, None) => {}
        }
        write!(f, "{}/{}", self.address(), self.db)
    }
}

fn bad(why: String) -> Error {
    Error::Url(why)
}

impl RedisUrl {
    /// Parses a Redis URL.
    ///
    /// Fails with [`Error::Url`] for another scheme (`rediss://` included:
    /// bring TLS through a local proxy), a missing host, a bad port or
    /// database, a query or fragment, or bad percent-encoding.
    pub fn parse(url: &str) -> Result<RedisUrl> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(format!(
                "{url:?} has no scheme: write it as redis://host:port"
            )));
        };
        if scheme.eq_ignore_ascii_case("rediss") {
            return Err(bad(
                "rediss:// (Redis over TLS) is not supported: connect through a local TLS proxy such as stunnel with redis://".into(),
            ));
        }
        if !scheme.eq_ignore_ascii_case("redis") {
            return Err(bad(format!(
                "unsupported scheme {scheme:?} for Redis: use redis://"
            )));
        }
        if rest.contains(['?', '#']) {
            return Err(bad(
                "a Redis URL takes no query or fragment: write the database as a path (redis://host:6379/2)".into(),
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, ""),
        };
        let db = if path.is_empty() {
            0
        } else {
            path.parse::<u32>().map_err(|_| {
                bad(format!(
                    "the database {path:?} is not a number: write it as redis://host:6379/2"
                ))
            })?
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = Some(percent_decode(user)?).filter(|u| !u.is_empty());
                let pass = pass.map(percent_decode).transpose()?;
                (user, pass)
            }
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(RedisUrl {
            host,
            port,
            username,
            password,
            db,
        })
    }

    /// The host, without brackets for an IPv6 literal.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (6379 when the URL has none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What to connect to: `host:port`, with brackets around IPv6.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The ACL user, if the URL names one.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password, if the URL has one.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The database number for `SELECT` (0 when the URL has none).
    pub fn db(&self) -> u32 {
        self.db
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16)> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return Err(bad(format!("unclosed IPv6 literal in {hostport:?}")));
        };
        if literal.parse::<Ipv6Addr>().is_err() {
            return Err(bad(format!("{literal:?} is not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad(format!("unexpected {p:?} after the IPv6 address")))?,
            ),
        };
        (literal.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("a Redis URL needs a host: redis://host:6379".into()));
    }
    if host.contains(['@', ':', ' ', '[', ']']) && host.parse::<Ipv6Addr>().is_err() {
        return Err(bad(format!("{host:?} is not a host name")));
    }
    let port = match port {
        None => 6379,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(bad(format!("{p:?} is not a port (1 to 65535)"))),
        },
    };
    Ok((host, port))
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("bad percent-encoding in the user or password".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| bad("the user or password is not UTF-8 once percent-decoded".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> RedisUrl {
        RedisUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn refused(url: &str) -> String {
        match RedisUrl::parse(url) {
            Err(Error::Url(why)) => why,
            other => panic!("{url}: expected a URL error, got {other:?}"),
        }
    }

    #[test]
    fn host_port_and_database() {
        let u = ok("redis://localhost:6380/3");
        assert_eq!((u.host(), u.port(), u.db()), ("localhost", 6380, 3));
        assert_eq!((u.username(), u.password()), (None, None));
        let u = ok("redis://10.1.2.3");
        assert_eq!((u.address(), u.db()), ("10.1.2.3:6379".into(), 0));
        assert_eq!(ok("redis://h/").db(), 0);
        assert_eq!(ok("REDIS://h:1").port(), 1);
        assert_eq!(ok("redis://[::1]").address(), "[::1]:6379");
    }

    #[test]
    fn password_alone_or_with_an_acl_user() {
        let u = ok("redis://:secret@h");
        assert_eq!((u.username(), u.password()), (None, Some("secret")));
        let u = ok("redis://app:p%3Aw%40d%25@h:1/0");
        assert_eq!((u.username(), u.password()), (Some("app"), Some("p:w@d%")));
        // The last @ ends the user information.
        let u = ok("redis://a:b@c@h");
        assert_eq!((u.password(), u.host()), (Some("b@c"), "h"));
        let u = ok("redis://user@h");
        assert_eq!((u.username(), u.password()), (Some("user"), None));
    }

    #[test]
    fn display_hides_the_password() {
        assert_eq!(ok("redis://:pw@h:1/2").to_string(), "redis://:***@h:1/2");
        assert_eq!(ok("redis://u:pw@h").to_string(), "redis://u:***@h:6379/0");
        assert!(!format!("{:?}", ok("redis://u:pw@h")).contains("pw"));
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        assert!(refused("localhost:6379").contains("no scheme"));
        assert!(refused("rediss://h").contains("TLS"));
        assert!(refused("http://h").contains("unsupported scheme"));
        assert!(refused("redis://").contains("needs a host"));
        assert!(refused("redis://:pw@").contains("needs a host"));
        assert!(refused("redis://h:0").contains("not a port"));
        assert!(refused("redis://h:65536").contains("not a port"));
        assert!(refused("redis://h:+1").contains("not a port"));
        assert!(refused("redis://h:").contains("not a port"));
        assert!(refused("redis://h/x").contains("not a number"));
        assert!(refused("redis://h/1/2").contains("not a number"));
        assert!(refused("redis://h?db=1").contains("no query"));
        assert!(refused("redis://h#x").contains("no query"));
        assert!(refused("redis://[::1").contains("unclosed"));
        assert!(refused("redis://[zz]:1").contains("IPv6"));
        assert!(refused("redis://:%zz@h").contains("percent"));
        assert!(refused("redis://:%ff@h").contains("UTF-8"));
        assert!(refused("redis://a b:1").contains("host name"));
    }
}
