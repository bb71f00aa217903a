//! The HTTP around the opening handshake (RFC 6455 section 4.2.1, RFC 9110,
//! RFC 9112): plain requests reach the server's pages whatever their method
//! or version, an upgrade request may not carry a body, a version we cannot
//! speak gets 505, and an answer after which the server closes says so.

mod support;

use std::io::{Read, Write};

use stdws::protocol::http::Response;
use stdws::server::{Endpoint, Server};
use support::*;

fn server_with_a_page() -> stdws::ServerHandle {
    Server::builder()
        .route(
            "/ws",
            Endpoint::callbacks().on_message(|conn, message| {
                let _ = conn.send(message);
            }),
        )
        .http(|request| match request.path() {
            "/" => Response::new(200).with_body(format!("page for {}", request.method())),
            _ => Response::text(404, "not found"),
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// Everything the server sends until it closes.
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = tcp(addr);
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[test]
fn plain_requests_reach_the_page_whatever_their_method_version_or_host() {
    let server = server_with_a_page();
    let addr = server.local_addr();
    for (request, body) in [
        ("GET / HTTP/1.0\r\n\r\n", "page for GET"),
        ("GET / HTTP/1.1\r\n\r\n", "page for GET"),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
            "page for POST",
        ),
    ] {
        let reply = exchange(addr, request.as_bytes());
        assert!(
            reply.starts_with("HTTP/1.1 200 OK\r\n"),
            "{request:?}: {reply}"
        );
        assert!(reply.ends_with(body), "{request:?}: {reply}");
    }
    server.shutdown_now();
}

#[test]
fn a_head_request_gets_the_head_alone() {
    let server = server_with_a_page();
    let reply = exchange(server.local_addr(), b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("Content-Length: 13\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "no body: {reply}");
    server.shutdown_now();
}

#[test]
fn a_page_after_which_the_server_closes_says_connection_close() {
    let server = server_with_a_page();
    // Two pipelined requests: the first is answered, and its answer tells
    // the client that the second must be sent again on a new connection.
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let head = reply.split("\r\n\r\n").next().unwrap();
    assert!(head.contains("\r\nConnection: close"), "{reply}");
    assert_eq!(reply.matches("HTTP/1.1").count(), 1, "{reply}");
    server.shutdown_now();
}

#[test]
fn an_upgrade_request_with_a_body_is_refused_and_its_body_never_read_as_frames() {
    let server = server_with_a_page();
    let addr = server.local_addr();
    // A masked text frame "a" sent as the declared body.
    let frame = [0x81u8, 0x81, 1, 2, 3, 4, b'a' ^ 1];
    let mut request =
        format!("GET /ws HTTP/1.1\r\nHost: x\r\n{UPGRADE}Content-Length: 7\r\n\r\n").into_bytes();
    request.extend_from_slice(&frame);
    let reply = exchange(addr, &request);
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(reply.contains("has no body"), "{reply}");
    let chunked =
        format!("GET /ws HTTP/1.1\r\nHost: x\r\n{UPGRADE}Transfer-Encoding: chunked\r\n\r\n");
    let reply = exchange(addr, chunked.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    let empty = format!("GET /ws HTTP/1.1\r\nHost: x\r\n{UPGRADE}Content-Length: 0\r\n\r\n");
    let mut stream = tcp(addr);
    stream.write_all(empty.as_bytes()).unwrap();
    assert_eq!(
        read_http_reply(&mut stream).status,
        101,
        "an empty body is no body"
    );
    server.shutdown_now();
}

#[test]
fn an_http_version_other_than_1_gets_505() {
    let server = server_with_a_page();
    let addr = server.local_addr();
    for request in [
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_string(),
        format!("GET /ws HTTP/2.0\r\nHost: x\r\n{UPGRADE}\r\n"),
    ] {
        let reply = exchange(addr, request.as_bytes());
        assert!(
            reply.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
            "{request:?}: {reply}"
        );
    }
    server.shutdown_now();
}
