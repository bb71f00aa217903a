//! The HTTP/1.1 message heads that carry the opening handshake (RFC 6455,
//! section 4; RFC 9112 for the message syntax).
//!
//! A WebSocket connection starts as an HTTP/1.1 request and response. Only
//! their heads matter: a start line, header fields, and an empty line.
//!
//! ```text
//!   GET /chat HTTP/1.1\r\n                       HTTP/1.1 101 Switching Protocols\r\n
//!   Host: server.example.com\r\n                 Upgrade: websocket\r\n
//!   Upgrade: websocket\r\n                       Connection: Upgrade\r\n
//!   Connection: Upgrade\r\n                      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n
//!   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n  \r\n
//!   Sec-WebSocket-Version: 13\r\n
//!   \r\n
//! ```
//!
//! [`HeadReader`] collects a head from bytes that arrive in any pieces, within
//! a size and header-count bound, and stops exactly at its end: bytes after it
//! (frames a peer sends without waiting for the answer) stay with the caller.

use std::borrow::Cow;
use std::fmt;

use crate::percent::{self, Plus};

/// Header fields in the order received. Names compare case-insensitively;
/// repeated fields are all kept.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Adds a field, keeping any earlier field of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every field called `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The comma-separated elements of every field called `name`, trimmed,
    /// empty ones skipped (RFC 9110, section 5.6.1).
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
    }

    /// Whether a list field called `name` has `token` among its elements,
    /// compared case-insensitively.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        for (name, value) in &self.entries {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The bounds on a message head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The most bytes a head may take, start line and blank line included.
    pub max_head_size: usize,
    /// The most header fields a head may have.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_size: 8 * 1024,
            max_headers: 100,
        }
    }
}

/// Why a head could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The head is longer than the limit (431 for a request).
    TooLarge(usize),
    /// The head has more fields than the limit (431 for a request).
    TooManyHeaders(usize),
    /// The bytes are not an HTTP/1.x head (400 for a request).
    Malformed(&'static str),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::TooLarge(max) => write!(f, "request head larger than {max} bytes"),
            HeadError::TooManyHeaders(max) => write!(f, "more than {max} header fields"),
            HeadError::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
        }
    }
}

/// Collects the bytes of one message head, up to and including the empty line.
#[derive(Debug)]
pub struct HeadReader {
    buf: Vec<u8>,
    limits: HeadLimits,
    complete: bool,
}

impl HeadReader {
    /// An empty reader with the given bounds.
    pub fn new(limits: HeadLimits) -> HeadReader {
        HeadReader {
            buf: Vec::new(),
            limits,
            complete: false,
        }
    }

    /// Takes bytes from `data` until the head is complete. Returns how many
    /// bytes were used and whether the head is now complete; bytes after the
    /// head are not used.
    ///
    /// ```
    /// use stdws::protocol::http::{HeadReader, HeadLimits};
    /// let mut reader = HeadReader::new(HeadLimits::default());
    /// assert_eq!(reader.feed(b"GET / HTTP/1.1\r\nHost: a\r").unwrap(), (24, false));
    /// assert_eq!(reader.feed(b"\n\r\n\x81\x80").unwrap(), (3, true));
    /// assert_eq!(reader.head(), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    /// ```
    pub fn feed(&mut self, data: &[u8]) -> Result<(usize, bool), HeadError> {
        if self.complete {
            return Ok((0, true));
        }
        // Scan from a little before the new bytes: the end marker may straddle.
        let scan_from = self.buf.len().saturating_sub(3);
        let room = self.limits.max_head_size - self.buf.len();
        let take = data.len().min(room);
        self.buf.extend_from_slice(&data[..take]);
        if let Some(end) = find_head_end(&self.buf[scan_from..]) {
            let head_len = scan_from + end;
            let used = head_len - (self.buf.len() - take);
            self.buf.truncate(head_len);
            self.complete = true;
            return Ok((used, true));
        }
        if self.buf.len() >= self.limits.max_head_size {
            return Err(HeadError::TooLarge(self.limits.max_head_size));
        }
        Ok((take, false))
    }

    /// Whether the head is complete.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The bytes collected so far.
    pub fn head(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes have been collected.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been collected.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bounds in force.
    pub fn limits(&self) -> HeadLimits {
        self.limits
    }
}

/// The offset just past the empty line that ends a head: CRLF CRLF, or bare
/// LFs (RFC 9112, section 2.2 lets a recipient accept a lone LF).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(at) = buf[i..].iter().position(|&b| b == b'\n') {
        let lf = i + at;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => {}
        }
        i = lf + 1;
    }
    None
}

/// Splits a complete head into its start line and header fields.
fn parse_lines(head: &[u8], limits: HeadLimits) -> Result<(&str, Headers), HeadError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = std::str::from_utf8(lines.next().unwrap_or(b""))
        .map_err(|_| HeadError::Malformed("start line is not text"))?;
    let mut headers = Headers::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            return Err(HeadError::Malformed("folded header line"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HeadError::Malformed("header line without a colon"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Err(HeadError::Malformed("invalid header name"));
        }
        if value.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(HeadError::Malformed("control character in a header value"));
        }
        if headers.len() == limits.max_headers {
            return Err(HeadError::TooManyHeaders(limits.max_headers));
        }
        // Names are ASCII (checked above). Values may hold bytes that are not
        // UTF-8 (RFC 9110's obs-text); they are kept, replaced by U+FFFD.
        let name = String::from_utf8_lossy(name);
        let value = String::from_utf8_lossy(value);
        headers.append(name, value.trim_matches([' ', '\t']));
    }
    Ok((start, headers))
}

/// A `tchar` of RFC 9110, section 5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An HTTP version, such as (1, 1).
pub type Version = (u8, u8);

/// `HTTP/` DIGIT `.` DIGIT (RFC 9112, section 2.3), nothing looser.
fn parse_version(s: &str) -> Option<Version> {
    match s.strip_prefix("HTTP/")?.as_bytes() {
        &[major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            Some((major - b'0', minor - b'0'))
        }
        _ => None,
    }
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    version: Version,
    headers: Headers,
}

impl Request {
    /// Parses a complete request head (as collected by a [`HeadReader`]).
    ///
    /// ```
    /// use stdws::protocol::http::{Request, HeadLimits};
    /// let head = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a: 2\r\n\r\n";
    /// let request = Request::parse(head, HeadLimits::default()).unwrap();
    /// assert_eq!(request.method(), "GET");
    /// assert_eq!(request.path(), "/chat");
    /// assert_eq!(request.query(), Some("room=1"));
    /// assert_eq!(request.headers().get("HOST"), Some("example.com"));
    /// assert_eq!(request.headers().get_all("X-A").collect::<Vec<_>>(), ["1", "2"]);
    /// ```
    pub fn parse(head: &[u8], limits: HeadLimits) -> Result<Request, HeadError> {
        let (start, headers) = parse_lines(head, limits)?;
        let mut parts = start.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HeadError::Malformed(
                "request line is not METHOD TARGET VERSION",
            ));
        };
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(HeadError::Malformed("invalid method"));
        }
        let version = parse_version(version).ok_or(HeadError::Malformed("invalid HTTP version"))?;
        let origin_form =
            origin_form(target).ok_or(HeadError::Malformed("invalid request target"))?;
        let (path, query) = match origin_form.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (origin_form.to_owned(), None),
        };
        Ok(Request {
            method: method.to_owned(),
            target: target.to_owned(),
            path,
            query,
            version,
            headers,
        })
    }

    /// A request built by hand (for tests and for handshake hooks).
    pub fn new(method: &str, target: &str, headers: Headers) -> Request {
        let origin_form = origin_form(target).unwrap_or("/");
        let (path, query) = match origin_form.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (origin_form.to_owned(), None),
        };
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            path,
            query,
            version: (1, 1),
            headers,
        }
    }

    /// The method, such as `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query (not percent-decoded).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, without the `?`, if there is one (not percent-decoded).
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The value of query parameter `name` (the first, if repeated),
    /// percent-decoded as a browser's form encodes it: `?nick=Zo%C3%AB`
    /// gives "Zoë" and `?nick=Mary+Ann` "Mary Ann". Names are matched
    /// decoded too. [`query_param_raw`](Self::query_param_raw) gives the
    /// value as sent.
    ///
    /// ```
    /// use stdws::protocol::http::{Headers, Request};
    ///
    /// let request = Request::new("GET", "/chat?nick=Zo%C3%AB&room=Mary+Ann", Headers::new());
    /// assert_eq!(request.query_param("nick").as_deref(), Some("Zoë"));
    /// assert_eq!(request.query_param("room").as_deref(), Some("Mary Ann"));
    /// assert_eq!(request.query_param_raw("room"), Some("Mary+Ann"));
    /// ```
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The value of query parameter `name` exactly as sent (the first, if
    /// repeated; not decoded, and the name matched as sent).
    pub fn query_param_raw(&self, name: &str) -> Option<&str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// Every query parameter as a decoded `(name, value)` pair, in order.
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        self.query()
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    percent::decode(k, Plus::Space),
                    percent::decode(v, Plus::Space),
                )
            })
    }

    /// The path percent-decoded (`/room/Zo%C3%AB` gives `/room/Zoë`; a `+`
    /// stays a `+`). Routing uses the [`path`](Self::path) as sent.
    pub fn path_decoded(&self) -> Cow<'_, str> {
        percent::decode(&self.path, Plus::Literal)
    }

    /// The HTTP version, such as (1, 1).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The `Origin` header: the page that opened the connection, in a browser.
    pub fn origin(&self) -> Option<&str> {
        self.headers.get("Origin")
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.headers.get("Host")
    }

    /// The subprotocols the client offers, in its order of preference
    /// (`Sec-WebSocket-Protocol`, section 11.3.4).
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> {
        self.headers.list("Sec-WebSocket-Protocol")
    }

    /// The extensions the client offers, each with its parameters as sent
    /// (`Sec-WebSocket-Extensions`, section 9.1). stdws negotiates
    /// `permessage-deflate` (RFC 7692) when given a
    /// [`Compression`](crate::Compression).
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.headers.list("Sec-WebSocket-Extensions")
    }

    /// The cookies sent in `Cookie` headers, as (name, value) pairs.
    pub fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .get_all("Cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                Some((name.trim(), value.trim().trim_matches('"')))
            })
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// The path and query of a request target: origin-form (`/path?q`) as it is,
/// absolute-form (`http://host/path?q`, or ws/wss/https) reduced to it. A
/// fragment is not allowed (RFC 6455, section 3).
fn origin_form(target: &str) -> Option<&str> {
    if target.contains('#') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    if target.starts_with('/') {
        return Some(target);
    }
    let rest = ["http://", "https://", "ws://", "wss://"]
        .iter()
        .find_map(|scheme| {
            target
                .get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &target[scheme.len()..])
        })?;
    match rest.find(['/', '?']) {
        Some(at) if rest.as_bytes()[at] == b'/' => Some(&rest[at..]),
        Some(_) | None => Some("/"),
    }
}

/// A response: status, headers and a body. Used for the `101` that completes
/// a handshake, for every rejection, and for plain HTTP answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: Option<String>,
    headers: Headers,
    body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: None,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A plain-text response whose body is `message` and a line end: the form
    /// of every rejection stdws sends.
    ///
    /// ```
    /// use stdws::protocol::http::Response;
    /// let bytes = Response::text(400, "missing Host header").to_bytes();
    /// assert!(bytes.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    /// assert!(bytes.ends_with(b"\r\n\r\nmissing Host header\n"));
    /// ```
    pub fn text(status: u16, message: impl fmt::Display) -> Response {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(format!("{message}\n"))
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.append(name, value);
        self
    }

    /// Sets the body (a `Content-Length` is written for it).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// Sets the reason phrase (the standard one is used otherwise).
    pub fn with_reason(mut self, reason: impl Into<String>) -> Response {
        self.reason = Some(reason.into());
        self
    }

    /// Parses a complete response head (the body, if any, follows it on the wire).
    pub fn parse_head(head: &[u8], limits: HeadLimits) -> Result<Response, HeadError> {
        let (start, headers) = parse_lines(head, limits)?;
        let mut parts = start.splitn(3, ' ');
        let version = parts.next().and_then(parse_version);
        // A status code is exactly three digits (RFC 9112, section 4).
        let status = parts
            .next()
            .filter(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u16>().ok());
        let (Some(_), Some(status)) = (version, status) else {
            return Err(HeadError::Malformed(
                "status line is not VERSION STATUS REASON",
            ));
        };
        Ok(Response {
            status,
            reason: parts.next().map(str::to_owned),
            headers,
            body: Vec::new(),
        })
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        self.reason
            .as_deref()
            .unwrap_or_else(|| reason_phrase(self.status))
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The response as bytes: a `Content-Length` is added to any response
    /// but a `101`, and `Connection: close` to any error.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", self.status, self.reason()).as_bytes());
        self.headers.write_to(&mut out);
        if self.status != 101 {
            if self.headers.get("Content-Length").is_none() {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n", self.body.len()).as_bytes(),
                );
            }
            if self.status >= 400 && self.headers.get("Connection").is_none() {
                out.extend_from_slice(b"Connection: close\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// The standard reason phrase for a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(pieces: &[&[u8]]) -> (Vec<u8>, usize) {
        let mut reader = HeadReader::new(HeadLimits::default());
        let mut leftover = 0;
        for piece in pieces {
            let (used, done) = reader.feed(piece).unwrap();
            if done {
                leftover += piece.len() - used;
            }
        }
        assert!(reader.is_complete());
        (reader.head().to_vec(), leftover)
    }

    #[test]
    fn head_end_is_found_one_byte_at_a_time() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let pieces: Vec<&[u8]> = head.chunks(1).collect();
        assert_eq!(read_all(&pieces), (head.to_vec(), 0));
    }

    #[test]
    fn bytes_after_the_head_are_left_for_the_frames() {
        let (head, leftover) = read_all(&[b"GET / HTTP/1.1\r\n\r\n\x81\x85abcd"]);
        assert_eq!(head, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(leftover, 6);
    }

    #[test]
    fn bare_line_feeds_end_a_head() {
        let (head, _) = read_all(&[b"GET / HTTP/1.1\nHost: x\n\nrest"]);
        let request = Request::parse(&head, HeadLimits::default()).unwrap();
        assert_eq!(request.host(), Some("x"));
    }

    #[test]
    fn a_head_over_the_limit_is_refused() {
        let limits = HeadLimits {
            max_head_size: 64,
            max_headers: 100,
        };
        let mut reader = HeadReader::new(limits);
        let long = [b'a'; 100];
        assert_eq!(reader.feed(&long), Err(HeadError::TooLarge(64)));
    }

    #[test]
    fn too_many_headers_are_refused() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..5 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let limits = HeadLimits {
            max_head_size: 8192,
            max_headers: 4,
        };
        assert_eq!(
            Request::parse(&head, limits).unwrap_err(),
            HeadError::TooManyHeaders(4)
        );
    }

    #[test]
    fn absolute_form_targets_reduce_to_path_and_query() {
        assert_eq!(origin_form("http://h:1/a?b"), Some("/a?b"));
        assert_eq!(origin_form("ws://h"), Some("/"));
        assert_eq!(origin_form("WSS://h?x"), Some("/"));
        assert_eq!(origin_form("*"), None);
        assert_eq!(origin_form("/a#frag"), None);
    }

    #[test]
    fn malformed_heads_are_errors_not_panics() {
        for head in [
            &b"GET\r\n\r\n"[..],
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET / HTTP/x\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert!(
                Request::parse(head, HeadLimits::default()).is_err(),
                "{head:?}"
            );
        }
    }

    #[test]
    fn cookies_and_query_parameters() {
        let mut headers = Headers::new();
        headers.append("Cookie", "a=1; b=\"two\"");
        headers.append("cookie", "c=3");
        let request = Request::new("GET", "/x?room=lobby&nick=ann", headers);
        assert_eq!(request.cookie("b"), Some("two"));
        assert_eq!(request.cookie("c"), Some("3"));
        assert_eq!(request.query_param("nick").as_deref(), Some("ann"));
        assert_eq!(request.query_param("none").as_deref(), None);
    }
}
