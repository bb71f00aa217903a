//! The opening handshake (RFC 6455, section 4): the client's upgrade request,
//! the server's checks, the `101 Switching Protocols` answer, and the
//! client's checks of that answer.
//!
//! ```text
//!   client                                              server
//!     |  GET /chat HTTP/1.1                                |
//!     |  Upgrade: websocket, Connection: Upgrade           |
//!     |  Sec-WebSocket-Key: <16 random bytes, base64>      |
//!     |  Sec-WebSocket-Version: 13                         |
//!     | -------------------------------------------------> |  check_request()
//!     |                                                    |
//!     |  HTTP/1.1 101 Switching Protocols                  |  accept_response()
//!     |  Upgrade: websocket, Connection: Upgrade           |
//!     |  Sec-WebSocket-Accept: base64(SHA-1(key + GUID))   |
//!     | <------------------------------------------------- |
//!     |  check_response()                                  |
//!     |                   frames both ways                 |
//! ```
//!
//! The accept value proves that the server read this very request as a
//! WebSocket handshake: it hashes the client's key with a GUID that only
//! WebSocket servers know (section 1.3), so neither a cached response nor a
//! server that does not speak WebSocket can produce it.
//!
//! Every refusal is an HTTP response with a one-line body that names the
//! problem: 400 for a malformed or incomplete handshake, 405 for a method other
//! than GET, 426 (with `Sec-WebSocket-Version: 13`) for a plain HTTP request or
//! an unsupported version, 431 for a head over the limits.

use super::extension::{Agreed, Compression, ExtensionProblem, check_answer};
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::http::{HeadError, Headers, Request, Response};

/// The GUID of section 1.3, appended to the client's key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version stdws speaks (section 4.1, and RFC 6455 is 13).
pub const WEBSOCKET_VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
///
/// ```
/// use stdws::protocol::handshake::accept_key;
/// // RFC 6455, section 1.3.
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.digest().bytes())
}

/// A fresh `Sec-WebSocket-Key`: 16 bytes from the operating system's random
/// device, in base64 (section 4.1).
pub fn generate_key() -> std::io::Result<String> {
    let mut nonce = [0u8; 16];
    crate::random::fill(&mut nonce)?;
    Ok(BASE64.encode(nonce))
}

/// Why a request is not an acceptable WebSocket handshake, with the status
/// it is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestProblem {
    /// The head could not be read: 400, or 431 when it is too large.
    Head(HeadError),
    /// Not a GET: 405.
    Method(String),
    /// HTTP/1.0 or older: 400.
    HttpVersion((u8, u8)),
    /// A major version other than 1 (`HTTP/2.0` written as text, `HTTP/9.9`):
    /// 505, for any request (RFC 9110 section 15.6.6).
    HttpVersionNotSupported((u8, u8)),
    /// The upgrade request declares a body (`Content-Length` other than 0,
    /// or `Transfer-Encoding`): 400. Its bytes would otherwise be read as
    /// WebSocket frames, the smuggling Python `websockets` refuses too.
    Body,
    /// No `Host`, or more than one: 400.
    Host,
    /// Neither `Upgrade` nor `Connection: upgrade`: a plain HTTP request, 426.
    NotAnUpgrade,
    /// `Upgrade` does not name websocket: 400.
    UpgradeHeader,
    /// `Connection` lacks the `upgrade` token: 400.
    ConnectionHeader,
    /// `Sec-WebSocket-Version` missing: 400.
    MissingVersion,
    /// `Sec-WebSocket-Version` other than 13: 426.
    UnsupportedVersion(String),
    /// `Sec-WebSocket-Version` more than once (section 11.3.5): 400.
    RepeatedVersion,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 bytes in base64: 400.
    Key,
}

impl RequestProblem {
    /// The HTTP status this problem is answered with.
    pub fn status(&self) -> u16 {
        match self {
            RequestProblem::Head(HeadError::TooLarge(_) | HeadError::TooManyHeaders(_)) => 431,
            RequestProblem::Method(_) => 405,
            RequestProblem::NotAnUpgrade | RequestProblem::UnsupportedVersion(_) => 426,
            RequestProblem::HttpVersionNotSupported(_) => 505,
            _ => 400,
        }
    }

    /// The full HTTP response for this problem.
    ///
    /// ```
    /// use stdws::protocol::handshake::RequestProblem;
    /// let response = RequestProblem::UnsupportedVersion("8".into()).response();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers().get("Sec-WebSocket-Version"), Some("13"));
    /// ```
    pub fn response(&self) -> Response {
        let response = Response::text(self.status(), self);
        match self {
            RequestProblem::Method(_) => response.with_header("Allow", "GET"),
            RequestProblem::NotAnUpgrade => response
                .with_header("Upgrade", "websocket")
                .with_header("Sec-WebSocket-Version", WEBSOCKET_VERSION),
            RequestProblem::UnsupportedVersion(_) | RequestProblem::MissingVersion => {
                response.with_header("Sec-WebSocket-Version", WEBSOCKET_VERSION)
            }
            _ => response,
        }
    }
}

impl fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestProblem::Head(e) => write!(f, "{e}"),
            RequestProblem::Method(m) => {
                write!(f, "method {m} not allowed: a WebSocket handshake is a GET")
            }
            RequestProblem::HttpVersion((major, minor)) => {
                write!(
                    f,
                    "HTTP/{major}.{minor} cannot upgrade: a WebSocket handshake needs HTTP/1.1 or later"
                )
            }
            RequestProblem::HttpVersionNotSupported((major, minor)) => {
                write!(f, "HTTP/{major}.{minor} is not supported: this server speaks HTTP/1.1")
            }
            RequestProblem::Body => f.write_str(
                "an upgrade request has no body: send it without Content-Length or Transfer-Encoding",
            ),
            RequestProblem::Host => f.write_str("the request needs exactly one Host header"),
            RequestProblem::NotAnUpgrade => {
                f.write_str("this is a WebSocket endpoint: connect with a WebSocket client")
            }
            RequestProblem::UpgradeHeader => {
                f.write_str("the Upgrade header does not name websocket")
            }
            RequestProblem::ConnectionHeader => {
                f.write_str("the Connection header lacks the upgrade token")
            }
            RequestProblem::MissingVersion => f.write_str("missing Sec-WebSocket-Version header"),
            RequestProblem::RepeatedVersion => {
                f.write_str("the Sec-WebSocket-Version header may appear only once")
            }
            RequestProblem::UnsupportedVersion(v) => {
                write!(
                    f,
                    "unsupported Sec-WebSocket-Version {v:?}: this server speaks version 13"
                )
            }
            RequestProblem::Key => {
                f.write_str("Sec-WebSocket-Key must appear once and be 16 bytes encoded in base64")
            }
        }
    }
}

impl std::error::Error for RequestProblem {}

/// Checks that a request is a valid opening handshake (section 4.2.1), and
/// returns its `Sec-WebSocket-Key`.
///
/// ```
/// use stdws::protocol::http::{Request, HeadLimits};
/// use stdws::protocol::handshake::check_request;
/// let head = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let request = Request::parse(head, HeadLimits::default()).unwrap();
/// assert_eq!(check_request(&request).unwrap(), "dGhlIHNhbXBsZSBub25jZQ==");
/// ```
pub fn check_request(request: &Request) -> Result<&str, RequestProblem> {
    // Rules in the order that gives each request the most useful answer: a
    // version we cannot speak first (RFC 9110 section 15.6.6), then any
    // request that asks for no upgrade is plain HTTP, whatever its method,
    // version or Host, so that a server's pages answer it.
    if request.version().0 != 1 {
        return Err(RequestProblem::HttpVersionNotSupported(request.version()));
    }
    let headers = request.headers();
    if headers.count("Upgrade") == 0 && !headers.has_token("Connection", "upgrade") {
        return Err(RequestProblem::NotAnUpgrade);
    }
    if request.method() != "GET" {
        return Err(RequestProblem::Method(request.method().to_owned()));
    }
    if request.version() < (1, 1) {
        return Err(RequestProblem::HttpVersion(request.version()));
    }
    if headers.count("Host") != 1 {
        return Err(RequestProblem::Host);
    }
    let declares_body = headers.count("Transfer-Encoding") > 0
        || headers
            .get_all("Content-Length")
            .any(|length| length.trim() != "0");
    if declares_body {
        return Err(RequestProblem::Body);
    }
    let connection_upgrade = headers.has_token("Connection", "upgrade");
    if !headers.has_token("Upgrade", "websocket") {
        return Err(RequestProblem::UpgradeHeader);
    }
    if !connection_upgrade {
        return Err(RequestProblem::ConnectionHeader);
    }
    let mut versions = headers.get_all("Sec-WebSocket-Version");
    match (versions.next(), versions.next()) {
        (None, _) => return Err(RequestProblem::MissingVersion),
        (Some(v), None) if v.trim() == WEBSOCKET_VERSION => {}
        (Some(v), None) => return Err(RequestProblem::UnsupportedVersion(v.to_owned())),
        (Some(_), Some(_)) => return Err(RequestProblem::RepeatedVersion),
    }
    let mut keys = headers.get_all("Sec-WebSocket-Key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(RequestProblem::Key);
    };
    match BASE64.decode(key.trim()) {
        Ok(nonce) if nonce.len() == 16 => Ok(key.trim()),
        _ => Err(RequestProblem::Key),
    }
}

/// Whether a request asks for no upgrade at all: a plain HTTP request that a
/// server may answer with a page.
pub fn is_plain_http(request: &Request) -> bool {
    matches!(check_request(request), Err(RequestProblem::NotAnUpgrade))
}

/// The `101 Switching Protocols` response to an accepted request
/// (section 4.2.2), with the chosen subprotocol, if any, and extra headers.
///
/// ```
/// use stdws::protocol::handshake::accept_response;
/// let response = accept_response("dGhlIHNhbXBsZSBub25jZQ==", Some("chat"));
/// assert_eq!(
///     response.to_bytes(),
///     b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///       Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
/// );
/// ```
pub fn accept_response(key: &str, subprotocol: Option<&str>) -> Response {
    let response = Response::new(101)
        .with_header("Upgrade", "websocket")
        .with_header("Connection", "Upgrade")
        .with_header("Sec-WebSocket-Accept", accept_key(key));
    match subprotocol {
        Some(protocol) => response.with_header("Sec-WebSocket-Protocol", protocol),
        None => response,
    }
}

/// What a client asks for in its opening handshake.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The `Host` header's value.
    pub host: String,
    /// The path and query, such as `/chat?room=1`.
    pub resource: String,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra header fields (`Origin`, `Authorization`, `Cookie`...).
    pub headers: Headers,
}

impl ClientRequest {
    /// The request's bytes, with `key` as its `Sec-WebSocket-Key`.
    ///
    /// ```
    /// use stdws::protocol::handshake::ClientRequest;
    /// let request = ClientRequest {
    ///     host: "server.example.com".into(),
    ///     resource: "/chat".into(),
    ///     subprotocols: vec!["chat".into(), "superchat".into()],
    ///     headers: Default::default(),
    /// };
    /// let text = String::from_utf8(request.to_bytes("dGhlIHNhbXBsZSBub25jZQ==")).unwrap();
    /// assert!(text.starts_with("GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
    /// assert!(text.contains("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    /// ```
    pub fn to_bytes(&self, key: &str) -> Vec<u8> {
        let mut out = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {WEBSOCKET_VERSION}\r\n",
            self.resource, self.host
        );
        if !self.subprotocols.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.subprotocols.join(", ")
            ));
        }
        for (name, value) in self.headers.iter() {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// Why a server's answer does not complete the handshake (section 4.1,
/// the client's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseProblem {
    /// A status other than 101: the server refused (the body says why).
    Status(u16),
    /// `Upgrade` does not name websocket.
    UpgradeHeader,
    /// `Connection` lacks the upgrade token.
    ConnectionHeader,
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    AcceptKey,
    /// A subprotocol the client did not offer, or several.
    Subprotocol(String),
    /// An extension, though the client offered none.
    Extension(String),
    /// A `permessage-deflate` answer the client cannot accept (RFC 7692
    /// section 7.1: the client fails the connection).
    InvalidExtension(super::extension::ExtensionProblem),
}

impl fmt::Display for ResponseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseProblem::Status(status) => write!(
                f,
                "the server answered {status} {} instead of 101 Switching Protocols",
                super::http::reason_phrase(*status)
            ),
            ResponseProblem::UpgradeHeader => {
                f.write_str("the server's Upgrade header does not name websocket")
            }
            ResponseProblem::ConnectionHeader => {
                f.write_str("the server's Connection header lacks the upgrade token")
            }
            ResponseProblem::AcceptKey => f.write_str(
                "the server's Sec-WebSocket-Accept does not match the key sent: it is not a WebSocket server, or a proxy changed the answer",
            ),
            ResponseProblem::Subprotocol(p) => {
                write!(f, "the server chose subprotocol {p:?}, which was not offered")
            }
            ResponseProblem::Extension(e) => {
                write!(f, "the server chose extension {e:?}, which was not offered")
            }
            ResponseProblem::InvalidExtension(problem) => write!(f, "{problem}"),
        }
    }
}

impl std::error::Error for ResponseProblem {}

/// Checks a server's response to a request sent with `key` and offering
/// `subprotocols`; returns the subprotocol the server chose, if any.
pub fn check_response(
    response: &Response,
    key: &str,
    subprotocols: &[String],
) -> Result<Option<String>, ResponseProblem> {
    check_response_with(response, key, subprotocols, &Compression::disabled())
        .map(|(subprotocol, _)| subprotocol)
}

/// [`check_response`] for a client that offered `permessage-deflate` with
/// `compression`: also returns what was agreed, if the server accepted it
/// ([`extension::check_answer`](super::extension::check_answer)).
pub fn check_response_with(
    response: &Response,
    key: &str,
    subprotocols: &[String],
    compression: &Compression,
) -> Result<(Option<String>, Option<Agreed>), ResponseProblem> {
    if response.status() != 101 {
        return Err(ResponseProblem::Status(response.status()));
    }
    let headers = response.headers();
    if !headers.has_token("Upgrade", "websocket") {
        return Err(ResponseProblem::UpgradeHeader);
    }
    if !headers.has_token("Connection", "upgrade") {
        return Err(ResponseProblem::ConnectionHeader);
    }
    let mut accepts = headers.get_all("Sec-WebSocket-Accept");
    match (accepts.next(), accepts.next()) {
        (Some(value), None) if value.trim() == accept_key(key) => {}
        _ => return Err(ResponseProblem::AcceptKey),
    }
    let agreed = match check_answer(headers.get_all("Sec-WebSocket-Extensions"), compression) {
        Ok(agreed) => agreed,
        Err(ExtensionProblem::NotOffered(name)) => return Err(ResponseProblem::Extension(name)),
        Err(problem) => return Err(ResponseProblem::InvalidExtension(problem)),
    };
    let chosen: Vec<&str> = headers.list("Sec-WebSocket-Protocol").collect();
    let subprotocol = match chosen.as_slice() {
        [] => None,
        [one] if subprotocols.iter().any(|p| p == one) => Some((*one).to_owned()),
        _ => return Err(ResponseProblem::Subprotocol(chosen.join(", "))),
    };
    Ok((subprotocol, agreed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::HeadLimits;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn check(head: &str) -> Result<String, RequestProblem> {
        let request =
            Request::parse(head.as_bytes(), HeadLimits::default()).map_err(RequestProblem::Head)?;
        check_request(&request).map(str::to_owned)
    }

    fn without(line: &str) -> String {
        GOOD.replace(line, "")
    }

    #[test]
    fn the_rfc_example_request_is_accepted() {
        assert_eq!(check(GOOD).unwrap(), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn header_names_and_tokens_are_case_insensitive() {
        let head = GOOD
            .replace("Upgrade: websocket", "UPGRADE: WebSocket")
            .replace("Connection: Upgrade", "connection: keep-alive, UPGRADE");
        assert!(check(&head).is_ok());
    }

    #[test]
    fn a_method_other_than_get_is_405() {
        let err = check(&GOOD.replace("GET", "POST")).unwrap_err();
        assert_eq!(err.status(), 405);
        assert_eq!(err.response().headers().get("Allow"), Some("GET"));
    }

    #[test]
    fn http_1_0_is_400() {
        assert_eq!(
            check(&GOOD.replace("HTTP/1.1", "HTTP/1.0"))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn a_major_version_other_than_1_is_505() {
        // HTTP/2 and 3 are binary protocols: "HTTP/2.0" in a text head is
        // no real client (RFC 9113 section 8.5 has its own upgrade).
        for version in ["HTTP/2.0", "HTTP/9.9", "HTTP/0.9"] {
            let err = check(&GOOD.replace("HTTP/1.1", version)).unwrap_err();
            assert_eq!(err.status(), 505, "{version}");
        }
    }

    #[test]
    fn a_declared_body_is_400() {
        let with = |header: &str| GOOD.replace("\r\n\r\n", &format!("\r\n{header}\r\n\r\n"));
        assert_eq!(
            check(&with("Content-Length: 7")).unwrap_err(),
            RequestProblem::Body
        );
        assert_eq!(
            check(&with("Transfer-Encoding: chunked")).unwrap_err(),
            RequestProblem::Body
        );
        assert!(check(&with("Content-Length: 0")).is_ok());
    }

    #[test]
    fn a_request_that_asks_no_upgrade_is_plain_http_whatever_else_it_lacks() {
        for head in [
            "POST / HTTP/1.0\r\n\r\n",
            "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                check(head).unwrap_err(),
                RequestProblem::NotAnUpgrade,
                "{head:?}"
            );
        }
    }

    #[test]
    fn a_missing_or_repeated_host_is_400() {
        assert_eq!(
            check(&without("Host: server.example.com\r\n")).unwrap_err(),
            RequestProblem::Host
        );
        let twice = GOOD.replace("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n");
        assert_eq!(check(&twice).unwrap_err(), RequestProblem::Host);
    }

    #[test]
    fn a_plain_http_request_is_426() {
        let head = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let err = check(head).unwrap_err();
        assert_eq!(err, RequestProblem::NotAnUpgrade);
        assert_eq!(err.status(), 426);
    }

    #[test]
    fn a_wrong_upgrade_or_connection_is_400() {
        assert_eq!(
            check(&GOOD.replace("Upgrade: websocket", "Upgrade: h2c")).unwrap_err(),
            RequestProblem::UpgradeHeader
        );
        assert_eq!(
            check(&without("Upgrade: websocket\r\n")).unwrap_err(),
            RequestProblem::UpgradeHeader
        );
        assert_eq!(
            check(&GOOD.replace("Connection: Upgrade", "Connection: keep-alive")).unwrap_err(),
            RequestProblem::ConnectionHeader
        );
    }

    #[test]
    fn a_bad_key_is_400() {
        for bad in [
            "",
            "abc",
            "dGhlIHNhbXBsZSBub25jZQ",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "!!!!",
        ] {
            let head = GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", bad);
            assert_eq!(check(&head).unwrap_err(), RequestProblem::Key, "{bad:?}");
        }
        assert_eq!(
            check(&without("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")).unwrap_err(),
            RequestProblem::Key
        );
    }

    #[test]
    fn another_version_is_426_with_version_13_named() {
        let err = check(&GOOD.replace("Version: 13", "Version: 8")).unwrap_err();
        assert_eq!(err.status(), 426);
        assert_eq!(
            err.response().headers().get("Sec-WebSocket-Version"),
            Some("13")
        );
        assert_eq!(
            check(&without("Sec-WebSocket-Version: 13\r\n"))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn every_rejection_has_a_one_line_body_that_names_the_problem() {
        for problem in [
            RequestProblem::Host,
            RequestProblem::Key,
            RequestProblem::NotAnUpgrade,
            RequestProblem::Head(HeadError::TooLarge(8192)),
        ] {
            let response = problem.response();
            let body = std::str::from_utf8(response.body()).unwrap();
            assert_eq!(body, format!("{problem}\n"));
            assert_eq!(body.lines().count(), 1);
        }
    }

    fn response(extra: &str, accept: &str) -> Response {
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
        );
        Response::parse_head(head.as_bytes(), HeadLimits::default()).unwrap()
    }

    #[test]
    fn the_client_checks_the_accept_value_exactly() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        assert_eq!(
            check_response(&response("", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), key, &[]),
            Ok(None)
        );
        assert_eq!(
            check_response(&response("", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo"), key, &[]),
            Err(ResponseProblem::AcceptKey)
        );
    }

    #[test]
    fn the_client_refuses_what_it_did_not_offer() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = accept_key(key);
        let chat = response("Sec-WebSocket-Protocol: chat\r\n", &accept);
        assert_eq!(
            check_response(&chat, key, &[]),
            Err(ResponseProblem::Subprotocol("chat".into()))
        );
        assert_eq!(
            check_response(&chat, key, &["chat".into()]),
            Ok(Some("chat".into()))
        );
        let deflate = response("Sec-WebSocket-Extensions: permessage-deflate\r\n", &accept);
        assert!(matches!(
            check_response(&deflate, key, &[]),
            Err(ResponseProblem::Extension(_))
        ));
    }

    #[test]
    fn generated_keys_are_16_random_bytes() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a, b);
        assert_eq!(BASE64.decode(&a).unwrap().len(), 16);
    }
}
