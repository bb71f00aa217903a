//! The client against an in-process stdws server (round trips of every
//! message kind and length class), and against raw-socket servers that break
//! the handshake or the framing on purpose.
//!
//! Everything runs on 127.0.0.1 with ephemeral ports; every read on either
//! side has a timeout, so a failing test ends instead of hanging.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use stdws::client::ClientBuilder;
use stdws::protocol::Violation;
use stdws::protocol::close::BadClosePayload;
use stdws::protocol::handshake::{ResponseProblem, accept_key};
use stdws::{CloseCode, CloseFrame, Error, Message, Tracer, WebSocket};

/// The bound on every read, on both sides.
const TIMEOUT: Duration = Duration::from_secs(5);

fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// A stdws server for one connection, running `serve` on it in a thread.
fn ws_server<T: Send + 'static>(
    serve: impl FnOnce(WebSocket<TcpStream>) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let (listener, url) = listen();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        serve(stdws::accept(stream).unwrap())
    });
    (url, handle)
}

/// A server that echoes text and binary messages until the client closes.
fn echo_server() -> (String, JoinHandle<()>) {
    ws_server(|mut ws| {
        loop {
            match ws.read() {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message).unwrap(),
                Ok(Message::Close(_)) => return,
                Ok(_) => {}
                Err(e) => panic!("echo server: {e}"),
            }
        }
    })
}

/// A raw TCP server for one connection: it reads the request head, then runs
/// `serve` with the stream, the head, and the `Sec-WebSocket-Key` to answer.
fn raw_server<T: Send + 'static>(
    serve: impl FnOnce(TcpStream, String, String) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let (listener, url) = listen();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned();
        serve(stream, head, key)
    });
    (url, handle)
}

/// The 101 answer for `key`, with `extra` header lines.
fn switching(key: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// Reads one frame the client sent: its first byte and its unmasked payload.
fn read_client_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[1] & 0x80, 0x80, "client frames are masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut key = [0u8; 4];
    stream.read_exact(&mut key).unwrap();
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    (head[0], payload)
}

/// Reads the client's close frame and returns its code.
fn read_client_close(stream: &mut TcpStream) -> u16 {
    let (first, payload) = read_client_frame(stream);
    assert_eq!(first, 0x88, "expected a close frame");
    u16::from_be_bytes([payload[0], payload[1]])
}

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .connect_timeout(TIMEOUT)
        .read_timeout(TIMEOUT)
        .write_timeout(TIMEOUT)
}

fn client(url: &str) -> WebSocket<TcpStream> {
    builder(url).connect().unwrap()
}

fn handshake_error(url: &str) -> (ResponseProblem, Vec<u8>) {
    match builder(url).subprotocol("chat").connect() {
        Err(Error::HandshakeResponse { problem, body }) => (problem, body),
        Err(other) => panic!("expected a handshake error, got {other:?}"),
        Ok(_) => panic!("expected a handshake error, the handshake succeeded"),
    }
}

const SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];

fn text_of(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

fn bytes_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn text_of_every_length_class_round_trips() {
    let (url, server) = echo_server();
    let mut ws = client(&url);
    for len in SIZES {
        let text = text_of(len);
        ws.send_text(&text).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(text), "length {len}");
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    server.join().unwrap();
}

#[test]
fn binary_of_every_length_class_round_trips() {
    let (url, server) = echo_server();
    let mut ws = client(&url);
    for len in SIZES {
        let data = bytes_of(len);
        ws.send_binary(&data).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(data), "length {len}");
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    server.join().unwrap();
}

#[test]
fn client_ping_is_answered_with_a_pong_carrying_its_payload() {
    let (url, server) = echo_server();
    let mut ws = client(&url);
    ws.ping(b"are you there").unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"are you there".to_vec()));
    ws.send(Message::Ping(Vec::new())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(Vec::new()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    server.join().unwrap();
}

#[test]
fn client_answers_server_ping_with_a_pong() {
    let (url, server) = ws_server(|mut ws| {
        ws.ping(b"heartbeat").unwrap();
        let pong = ws.read().unwrap();
        ws.close(CloseCode::NORMAL, "").unwrap();
        assert!(matches!(ws.read().unwrap(), Message::Close(_)));
        pong
    });
    let mut ws = client(&url);
    assert_eq!(ws.read().unwrap(), Message::Ping(b"heartbeat".to_vec()));
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    assert_eq!(server.join().unwrap(), Message::Pong(b"heartbeat".to_vec()));
}

#[test]
fn client_close_with_code_and_reason_reaches_the_server_and_is_echoed() {
    let (url, server) = ws_server(|mut ws| ws.read().unwrap());
    let mut ws = client(&url);
    ws.close(CloseCode(4000), "done for today").unwrap();
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode(4000)),
        other => panic!("expected the echoed close, got {other:?}"),
    }
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    assert!(matches!(ws.send_text("late"), Err(Error::SendAfterClose)));
    assert_eq!(
        server.join().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode(4000), "done for today")))
    );
}

#[test]
fn server_close_with_code_and_reason_reaches_the_client_and_is_echoed() {
    let (url, server) = ws_server(|mut ws| {
        ws.close(CloseCode::GOING_AWAY, "restarting").unwrap();
        ws.read().unwrap()
    });
    let mut ws = client(&url);
    assert_eq!(
        ws.read().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "restarting")))
    );
    match server.join().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::GOING_AWAY),
        other => panic!("expected the client's echo, got {other:?}"),
    }
}

#[test]
fn free_functions_connect_over_tcp_and_over_a_given_stream() {
    let (url, server) = echo_server();
    let mut ws = stdws::connect(&url).unwrap();
    ws.get_ref().set_read_timeout(Some(TIMEOUT)).unwrap();
    ws.send_text("one").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("one"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    server.join().unwrap();

    let (url, server) = echo_server();
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut ws = stdws::client::client(&url, stream).unwrap();
    ws.send_binary(b"two").unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(&b"two"[..]));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    server.join().unwrap();
}

#[test]
fn request_carries_host_resource_headers_and_offered_subprotocols() {
    let (url, server) = raw_server(|mut stream, head, key| {
        stream
            .write_all(&switching(&key, "Sec-WebSocket-Protocol: chat.v1\r\n"))
            .unwrap();
        head
    });
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let ws = builder(&format!("{}chat?room=1", url))
        .header("Authorization", "Bearer 3q2+7w")
        .header("Origin", "https://example.com")
        .subprotocol("chat.v2")
        .subprotocol("chat.v1")
        .connect()
        .unwrap();
    let response = ws.response().unwrap();
    assert_eq!(response.subprotocol(), Some("chat.v1"));
    assert_eq!(response.head().status(), 101);
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\n"), "{head}");
    for line in [
        format!("Host: 127.0.0.1:{port}"),
        "Authorization: Bearer 3q2+7w".to_owned(),
        "Origin: https://example.com".to_owned(),
        "Sec-WebSocket-Protocol: chat.v2, chat.v1".to_owned(),
        "Sec-WebSocket-Version: 13".to_owned(),
        "Upgrade: websocket".to_owned(),
    ] {
        assert!(
            head.contains(&format!("{line}\r\n")),
            "{line} missing in {head}"
        );
    }
}

#[test]
fn host_header_can_be_overridden() {
    let (url, server) = raw_server(|mut stream, head, key| {
        stream.write_all(&switching(&key, "")).unwrap();
        head
    });
    let ws = builder(&url)
        .header("Host", "chat.example.com")
        .connect()
        .unwrap();
    assert_eq!(ws.response().unwrap().subprotocol(), None);
    let head = server.join().unwrap();
    assert!(head.contains("\r\nHost: chat.example.com\r\n"), "{head}");
    assert_eq!(head.matches("Host:").count(), 1, "{head}");
}

#[test]
fn client_fails_handshake_on_wrong_accept_key() {
    let (url, server) = raw_server(|mut stream, _, _| {
        stream
            .write_all(&switching("dGhlIHNhbXBsZSBub25jZQ==", ""))
            .unwrap();
    });
    assert_eq!(
        handshake_error(&url),
        (ResponseProblem::AcceptKey, Vec::new())
    );
    server.join().unwrap();
}

#[test]
fn client_fails_handshake_on_missing_upgrade_header() {
    let (url, server) = raw_server(|mut stream, _, key| {
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        stream.write_all(answer.as_bytes()).unwrap();
    });
    assert_eq!(handshake_error(&url).0, ResponseProblem::UpgradeHeader);
    server.join().unwrap();
}

#[test]
fn client_reports_refusal_status_and_body() {
    let (url, server) = raw_server(|mut stream, _, _| {
        let body = "missing token: log in first\n";
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        // In two writes, so that the end of the body may come in a later read.
        let (first, second) = answer.as_bytes().split_at(answer.len() - 10);
        stream.write_all(first).unwrap();
        stream.flush().unwrap();
        stream.write_all(second).unwrap();
        // Stay open: the client must stop at Content-Length, not at the end.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    let error = builder(&url).connect().map(|_| ()).unwrap_err();
    let text = error.to_string();
    match error {
        Error::HandshakeResponse { problem, body } => {
            assert_eq!(problem, ResponseProblem::Status(403));
            assert_eq!(body, b"missing token: log in first\n");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(text.contains("403"), "{text}");
    assert!(text.contains("missing token: log in first"), "{text}");
    server.join().unwrap();
}

#[test]
fn client_decodes_a_chunked_refusal_body() {
    let (url, server) = raw_server(|mut stream, _, _| {
        stream
            .write_all(
                b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n\
                  8\r\nno entry\r\n9\r\n, sorry.\n\r\n0\r\n\r\n",
            )
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    match builder(&url).connect().map(|_| ()) {
        Err(Error::HandshakeResponse { problem, body }) => {
            assert_eq!(problem, ResponseProblem::Status(401));
            assert_eq!(String::from_utf8_lossy(&body), "no entry, sorry.\n");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn client_fails_handshake_on_subprotocol_not_offered() {
    let (url, server) = raw_server(|mut stream, _, key| {
        stream
            .write_all(&switching(&key, "Sec-WebSocket-Protocol: superchat\r\n"))
            .unwrap();
    });
    assert_eq!(
        handshake_error(&url).0,
        ResponseProblem::Subprotocol("superchat".to_owned())
    );
    server.join().unwrap();
}

#[test]
fn client_fails_handshake_on_answer_that_is_not_http() {
    let (url, server) = raw_server(|mut stream, _, _| {
        stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").unwrap();
    });
    match builder(&url).connect().map(|_| ()) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains("not an HTTP response"), "{e}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    server.join().unwrap();
}

/// Runs a server that answers the handshake and then sends `frames`; returns
/// the client's error on its first read and the close code the client sent.
fn client_read_error_after(frames: &'static [u8]) -> (Error, u16) {
    let (url, server) = raw_server(move |mut stream, _, key| {
        let mut answer = switching(&key, "");
        answer.extend_from_slice(frames);
        stream.write_all(&answer).unwrap();
        read_client_close(&mut stream)
    });
    let mut ws = client(&url);
    let error = ws.read().unwrap_err();
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    (error, server.join().unwrap())
}

#[test]
fn client_fails_masked_server_frame_with_1002() {
    // "Hello" masked with 37 fa 21 3d (RFC 6455, section 5.7): a client's frame.
    let (error, code) = client_read_error_after(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert!(
        matches!(error, Error::Protocol(Violation::MaskedServerFrame)),
        "{error:?}"
    );
    assert_eq!(code, 1002);
}

#[test]
fn client_fails_close_code_that_may_not_be_sent_with_1002() {
    // Close with 1005, a code reserved for "no status code received".
    let (error, code) = client_read_error_after(&[0x88, 0x02, 0x03, 0xed]);
    assert!(
        matches!(
            error,
            Error::Protocol(Violation::BadClose(BadClosePayload::Code(1005)))
        ),
        "{error:?}"
    );
    assert_eq!(code, 1002);
}

#[test]
fn client_fails_invalid_utf8_text_with_1007() {
    let (error, code) = client_read_error_after(&[0x81, 0x03, b'a', 0xc3, 0x28]);
    assert!(
        matches!(error, Error::Protocol(Violation::InvalidUtf8)),
        "{error:?}"
    );
    assert_eq!(code, 1007);
}

#[test]
fn client_fails_message_over_its_limit_with_1009() {
    let (url, server) = ws_server(|mut ws| {
        ws.send_binary(&[7u8; 2000]).unwrap();
        ws.read().unwrap()
    });
    let mut ws = builder(&url).max_message_size(1000).connect().unwrap();
    let error = ws.read().unwrap_err();
    assert!(
        matches!(error, Error::Protocol(Violation::MessageTooBig { .. })),
        "{error:?}"
    );
    match server.join().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG),
        other => panic!("expected a close with 1009, got {other:?}"),
    }
}

#[test]
fn end_of_stream_mid_frame_is_an_abnormal_closure() {
    let (url, server) = raw_server(|mut stream, _, key| {
        let mut answer = switching(&key, "");
        // A binary frame of 10 bytes, of which 3 arrive.
        answer.extend_from_slice(&[0x82, 0x0a, 1, 2, 3]);
        stream.write_all(&answer).unwrap();
    });
    let mut ws = client(&url);
    server.join().unwrap();
    assert!(matches!(ws.read(), Err(Error::AbnormalClosure)));
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
}

#[test]
fn silent_server_makes_the_handshake_time_out() {
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = raw_server(move |_stream, _, _| {
        // Hold the connection open, answering nothing, until the client gave up.
        let _ = released.recv_timeout(TIMEOUT * 2);
    });
    let result = ClientBuilder::new(&url)
        .open_timeout(Duration::from_millis(200))
        .connect();
    release.send(()).unwrap();
    match result {
        Err(error) => {
            assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
            assert!(error.is_timeout());
        }
        Ok(_) => panic!("the handshake cannot succeed without an answer"),
    }
    server.join().unwrap();
}

#[test]
fn frames_sent_with_the_101_are_not_lost() {
    let (url, server) = raw_server(|mut stream, _, key| {
        let mut answer = switching(&key, "");
        answer.extend_from_slice(&[0x81, 0x05, b'e', b'a', b'r', b'l', b'y']);
        answer.extend_from_slice(&[0x82, 0x03, 1, 2, 3]);
        answer.extend_from_slice(&[0x89, 0x02, b'h', b'i']);
        stream.write_all(&answer).unwrap();
        let pong = read_client_frame(&mut stream);
        stream.write_all(&[0x88, 0x02, 0x03, 0xe8]).unwrap();
        (pong, read_client_close(&mut stream))
    });
    let mut ws = client(&url);
    assert_eq!(ws.read().unwrap(), Message::text("early"));
    assert_eq!(ws.read().unwrap(), Message::binary(vec![1, 2, 3]));
    assert_eq!(ws.read().unwrap(), Message::Ping(b"hi".to_vec()));
    assert_eq!(
        ws.read().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
    );
    let (pong, close_code) = server.join().unwrap();
    assert_eq!(pong, (0x8a, b"hi".to_vec()));
    assert_eq!(close_code, 1000);
}

#[test]
fn wss_over_tcp_is_refused_with_what_to_do() {
    match stdws::connect("wss://127.0.0.1:1/") {
        Err(Error::Url(why)) => assert!(why.contains("connect_on"), "{why}"),
        other => panic!("expected a URL error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn bad_urls_are_refused_before_connecting() {
    for url in ["http://127.0.0.1:1/", "ws://127.0.0.1:1/#top", "ws:///"] {
        match stdws::connect(url) {
            Err(Error::Url(_)) => {}
            other => panic!("{url}: expected a URL error, got {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn refused_tcp_connection_is_a_connect_error_naming_the_address() {
    let (listener, url) = listen();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    match builder(&url).connect() {
        Err(e @ Error::Connect { .. }) => {
            let shown = e.to_string();
            let expected = format!(
                "could not connect to {} port {}: connection refused",
                addr.ip(),
                addr.port()
            );
            assert!(shown.starts_with(&expected), "{shown}");
            let Error::Connect { source, .. } = &e else {
                unreachable!()
            };
            assert!(source.to_string().contains(&addr.to_string()), "{source}");
        }
        other => panic!("expected a connect error, got {:?}", other.map(|_| ())),
    }
}

/// A writer that several threads can append to and a test can read.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn trace_shows_handshake_and_frames_under_one_connection_number() {
    let (url, server) = echo_server();
    let log = Log::default();
    let mut ws = builder(&url)
        .trace(Tracer::to_writer(log.clone()))
        .connect()
        .unwrap();
    ws.send_text("traced").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("traced"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    server.join().unwrap();

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let conn = lines[0].split(']').next().unwrap();
    assert!(lines.iter().all(|l| l.starts_with(conn)), "{text}");
    let expect = [
        "** connected to",
        "-> handshake request  GET / HTTP/1.1",
        "<- handshake response HTTP/1.1 101 Switching Protocols",
        "-> FIN=1 RSV=000 op=0x1 TEXT   MASK=1",
        "<- FIN=1 RSV=000 op=0x1 TEXT   MASK=0",
        "-> FIN=1 RSV=000 op=0x8 CLOSE  MASK=1",
        "<- FIN=1 RSV=000 op=0x8 CLOSE  MASK=0",
    ];
    assert_eq!(lines.len(), expect.len(), "{text}");
    for (line, start) in lines.iter().zip(expect) {
        assert!(
            line[conn.len() + 2..].starts_with(start),
            "{line:?} vs {start:?}"
        );
    }
}

#[test]
fn split_halves_read_and_write_concurrently_without_interleaving() {
    const COUNT: usize = 64;
    // The server echoes each message and pings after it, so the reader's
    // pongs race the writer's large frames; a stdws server fails the
    // connection at the first byte out of place. The server writes while
    // the client writes: a reader that waited for the writer would deadlock.
    let (url, server) = ws_server(|mut ws| {
        let mut pongs = Vec::new();
        let mut pinged = 0usize;
        loop {
            match ws.read().unwrap() {
                message @ Message::Binary(_) => {
                    ws.send(message).unwrap();
                    ws.ping(pinged.to_string().as_bytes()).unwrap();
                    pinged += 1;
                }
                Message::Pong(payload) => pongs.push(String::from_utf8(payload).unwrap()),
                Message::Close(_) => return pongs,
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let (mut reader, writer) = client(&url).split().unwrap();
    let (all_pinged, pinged) = mpsc::channel();
    let reading = thread::spawn(move || {
        let mut echoes = Vec::new();
        let mut pings = 0;
        loop {
            match reader.read().unwrap() {
                Message::Binary(data) => echoes.push(data),
                Message::Ping(_) => {
                    pings += 1;
                    if pings == COUNT {
                        all_pinged.send(()).unwrap();
                    }
                }
                Message::Close(frame) => {
                    assert!(matches!(reader.read(), Err(Error::ConnectionClosed)));
                    return (echoes, frame);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let messages: Vec<Vec<u8>> = (0..COUNT).map(|i| vec![i as u8; 300_000 + i]).collect();
    for message in &messages {
        writer.send_binary(message).unwrap();
    }
    pinged.recv_timeout(TIMEOUT).unwrap();
    writer.close(CloseCode::NORMAL, "bye").unwrap();
    let (echoes, close) = reading.join().unwrap();
    assert!(
        echoes == messages,
        "the echoes differ from the messages sent"
    );
    assert_eq!(close.map(|f| f.code), Some(CloseCode::NORMAL));
    // Pongs may answer only the latest of several pings (section 5.5.2), but
    // the latest ping, answered before the close, is answered.
    let pongs = server.join().unwrap();
    assert!(!pongs.is_empty() && pongs.len() <= COUNT, "{pongs:?}");
    assert_eq!(
        pongs.last().map(String::as_str),
        Some((COUNT - 1).to_string().as_str()),
        "{pongs:?}"
    );
    let mut sorted = pongs.clone();
    sorted.sort_by_key(|p| p.parse::<usize>().unwrap());
    assert_eq!(sorted, pongs, "pongs out of order");
    assert!(matches!(
        writer.send_text("late"),
        Err(Error::SendAfterClose)
    ));
}

#[test]
fn split_reader_answers_server_close_and_writer_then_refuses_to_send() {
    let (url, server) = ws_server(|mut ws| {
        ws.close(CloseCode(4001), "kicked").unwrap();
        ws.read().unwrap()
    });
    let (mut reader, writer) = client(&url).split().unwrap();
    assert_eq!(
        reader.read().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode(4001), "kicked")))
    );
    assert!(matches!(
        writer.send_text("late"),
        Err(Error::SendAfterClose)
    ));
    assert!(matches!(
        writer.close(CloseCode::NORMAL, ""),
        Err(Error::SendAfterClose)
    ));
    match server.join().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode(4001)),
        other => panic!("expected the echoed close, got {other:?}"),
    }
}

#[test]
fn split_reader_failure_closes_with_1002_and_stops_the_writer() {
    let (url, server) = raw_server(|mut stream, _, key| {
        let mut answer = switching(&key, "");
        answer.extend_from_slice(&[0x81, 0x81, 1, 2, 3, 4, b'x' ^ 1]);
        stream.write_all(&answer).unwrap();
        read_client_close(&mut stream)
    });
    let (mut reader, writer) = client(&url).split().unwrap();
    let error = reader.read().unwrap_err();
    assert!(
        matches!(error, Error::Protocol(Violation::MaskedServerFrame)),
        "{error:?}"
    );
    assert!(matches!(
        writer.send_text("late"),
        Err(Error::Protocol(Violation::MaskedServerFrame))
    ));
    assert!(matches!(reader.read(), Err(Error::ConnectionClosed)));
    assert_eq!(server.join().unwrap(), 1002);
}

#[test]
fn split_keeps_frames_that_arrived_with_the_101() {
    let (url, server) = raw_server(|mut stream, _, key| {
        let mut answer = switching(&key, "");
        answer.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        stream.write_all(&answer).unwrap();
        read_client_frame(&mut stream)
    });
    let (mut reader, writer) = client(&url).split().unwrap();
    assert_eq!(reader.read().unwrap(), Message::text("hi"));
    writer.send_text("there").unwrap();
    assert_eq!(server.join().unwrap(), (0x81, b"there".to_vec()));
}

#[test]
fn split_shutdown_wakes_a_blocked_reader() {
    let (url, server) = ws_server(|mut ws| {
        // Wait for the client to go away.
        ws.read().map(|_| ()).unwrap_err();
    });
    let (mut reader, writer) = client(&url).split().unwrap();
    let (started, reading_started) = mpsc::channel();
    let reading = thread::spawn(move || {
        started.send(()).unwrap();
        reader.read()
    });
    reading_started.recv_timeout(TIMEOUT).unwrap();
    writer.shutdown().unwrap();
    let result = reading.join().unwrap();
    // Had shutdown not woken it, the read would end in a timeout instead.
    assert!(matches!(result, Err(Error::AbnormalClosure)), "{result:?}");
    server.join().unwrap();
}
