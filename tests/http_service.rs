//! HTTP services (`ServerBuilder::http_service`): the body by its
//! Content-Length, persistent connections, and the hand-back to the usual
//! path for requests that are not theirs.

mod support;

use std::io::Write;

use stdws::Server;
use stdws::protocol::http::Response;
use support::{read_http_reply, tcp};

fn server() -> stdws::ServerHandle {
    Server::builder()
        .http_service("/count", 16, |request, body, _peer| {
            Response::new(200).with_body(format!("{} {}", request.method(), body.len()))
        })
        .http(|request| Response::new(200).with_body(format!("page {}", request.path())))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

#[test]
fn a_service_keeps_the_connection_for_the_next_request_and_reads_bodies() {
    let server = server();
    let mut stream = tcp(server.local_addr());
    for (request, expected) in [
        ("GET /count HTTP/1.1\r\nHost: x\r\n\r\n", "GET 0"),
        (
            "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            "POST 5",
        ),
        (
            "POST /count?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            "POST 0",
        ),
    ] {
        stream.write_all(request.as_bytes()).unwrap();
        let reply = read_http_reply(&mut stream);
        assert_eq!((reply.status, reply.body.as_str()), (200, expected));
        assert_eq!(reply.header("Connection"), None);
    }
    // Two requests in one write: both answered, in order.
    stream
        .write_all(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\nPOST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        .unwrap();
    assert_eq!(read_http_reply(&mut stream).body, "GET 0");
    assert_eq!(read_http_reply(&mut stream).body, "POST 2");
}

#[test]
fn a_body_over_the_limit_is_refused_with_413_and_the_connection_closed() {
    let server = server();
    let mut stream = tcp(server.local_addr());
    stream
        .write_all(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n")
        .unwrap();
    let reply = read_http_reply(&mut stream);
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("Connection").as_deref(), Some("close"));
    let mut stream = tcp(server.local_addr());
    stream
        .write_all(
            b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_http_reply(&mut stream).status, 411);
}

#[test]
fn a_request_for_another_path_goes_the_usual_way_after_a_service() {
    let server = server();
    let mut stream = tcp(server.local_addr());
    stream
        .write_all(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_http_reply(&mut stream).body, "GET 0");
    assert_eq!(read_http_reply(&mut stream).body, "page /other");
}

#[test]
fn http_1_0_and_connection_close_are_not_kept_alive() {
    let server = server();
    for request in [
        "GET /count HTTP/1.0\r\nHost: x\r\n\r\n",
        "GET /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let mut stream = tcp(server.local_addr());
        stream.write_all(request.as_bytes()).unwrap();
        let reply = read_http_reply(&mut stream);
        assert_eq!(reply.header("Connection").as_deref(), Some("close"));
        let mut rest = Vec::new();
        use std::io::Read;
        assert_eq!(
            stream.read_to_end(&mut rest).unwrap(),
            0,
            "closed after the answer"
        );
    }
}
