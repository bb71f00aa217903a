//! Frame tracing: the handshake and every frame in both directions, one
//! line each, with the fields of the header and the start of the payload.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use stdws::trace::{Direction, HeadKind, TraceEvent};
use stdws::{Compression, Tracer};
use support::*;

/// A writer whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// An echo server tracing into a buffer the test reads.
fn traced_echo_server() -> (stdws::ServerHandle, Captured) {
    let captured = Captured::default();
    let server = echo_builder()
        .trace(Tracer::to_writer(captured.clone()))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    (server, captured)
}

#[test]
fn the_server_traces_the_handshake_and_each_frame_both_ways() {
    let (server, captured) = traced_echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_text("Hello");
    client.expect_text("Hello");
    client.send(true, 9, b"beat");
    client.read_frame().unwrap();
    client.send(true, 2, &[0xde, 0xad, 0xbe, 0xef]);
    client.read_frame().unwrap();
    client.send_raw(&encode_frame(true, 0, 3, b"", Some(KEY)));
    assert_eq!(client.expect_close().0, Some(1002));
    client.expect_eof();
    wait_until("the disconnect is traced", || {
        captured.lines().iter().any(|l| l.contains("disconnected"))
    });
    let lines = captured.lines();
    let expected = [
        "<- handshake request  GET / HTTP/1.1 | Host: 127.0.0.1 | Upgrade: websocket",
        "-> handshake response HTTP/1.1 101 Switching Protocols | Upgrade: websocket | Connection: Upgrade | Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "<- FIN=1 RSV=000 op=0x1 TEXT   MASK=1 key=37fa213d len=5 (7-bit)  \"Hello\"",
        "-> FIN=1 RSV=000 op=0x1 TEXT   MASK=0              len=5 (7-bit)  \"Hello\"",
        "<- FIN=1 RSV=000 op=0x9 PING   MASK=1 key=37fa213d len=4 (7-bit)  \"beat\"",
        "-> FIN=1 RSV=000 op=0xa PONG   MASK=0              len=4 (7-bit)  \"beat\"",
        "<- FIN=1 RSV=000 op=0x2 BINARY MASK=1 key=37fa213d len=4 (7-bit)  hex de ad be ef",
        "-> FIN=1 RSV=000 op=0x2 BINARY MASK=0              len=4 (7-bit)  hex de ad be ef",
        "!! failed: the peer used reserved opcode 0x3 (RFC 6455 section 5.2) -> close 1002",
        "-> FIN=1 RSV=000 op=0x8 CLOSE  MASK=0              len=17 (7-bit)  code=1002 (protocol error) reason=\"reserved opcode\"",
        "** disconnected: 1002 (protocol error)",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    let prefix = lines[0].split(']').next().unwrap().to_owned() + "] ";
    for (line, want) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&prefix),
            "every line names the connection: {line}"
        );
        assert!(
            line[prefix.len()..].starts_with(want),
            "\n got: {line}\nwant: {want}"
        );
    }
    server.shutdown_now();
}

#[test]
fn the_length_encoding_is_shown() {
    let (server, captured) = traced_echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 2, &[0; 300]);
    client.read_frame().unwrap();
    client.send(true, 2, &vec![0; 70_000]);
    client.read_frame().unwrap();
    let lines = captured.lines();
    assert!(
        lines.iter().any(|l| l.contains("len=300 (16-bit)")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("len=70000 (64-bit)")),
        "{lines:#?}"
    );
    server.shutdown_now();
}

#[test]
fn the_client_traces_its_masked_frames() {
    let captured = Captured::default();
    let server = echo_server();
    let mut ws = stdws::ClientBuilder::new(format!("ws://{}/", server.local_addr()))
        .trace(Tracer::to_writer(captured.clone()))
        .connect()
        .unwrap();
    ws.send_text("hi").unwrap();
    ws.read().unwrap();
    let lines = captured.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("-> FIN=1 RSV=000 op=0x1 TEXT   MASK=1 key=")
                && l.ends_with("len=2 (7-bit)  \"hi\"")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("<- FIN=1 RSV=000 op=0x1 TEXT   MASK=0") && l.ends_with("\"hi\"")),
        "{lines:#?}"
    );
    server.shutdown_now();
}

type Events = Arc<Mutex<Vec<(u64, TraceEvent)>>>;

/// A tracer that keeps every event with its connection number.
fn collecting() -> (Tracer, Events) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let tracer = Tracer::to_fn(move |conn, event| sink.lock().unwrap().push((conn, event.clone())));
    (tracer, events)
}

#[test]
fn a_callback_gets_typed_events_of_one_connection_under_one_number() {
    let (tracer, events) = collecting();
    let server = echo_builder()
        .trace(tracer)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_text("Hello");
    client.expect_text("Hello");
    client.send_close(1000, "bye");
    assert_eq!(client.expect_close().0, Some(1000));
    drop(client);
    wait_until("the server traces the end of TCP", || {
        let events = events.lock().unwrap();
        events
            .iter()
            .any(|(_, e)| matches!(e, TraceEvent::TcpClosed { .. }))
    });
    let events = events.lock().unwrap().clone();
    let conn = events[0].0;
    assert!(events.iter().all(|(c, _)| *c == conn), "{events:#?}");
    let TraceEvent::Handshake {
        direction,
        kind,
        head,
        ..
    } = &events[0].1
    else {
        panic!("{events:#?}");
    };
    assert_eq!(
        (*direction, *kind),
        (Direction::Received, HeadKind::Request)
    );
    assert!(head.starts_with("GET / HTTP/1.1\n"), "{head}");
    assert!(
        matches!(&events[1].1, TraceEvent::Handshake { kind: HeadKind::Response, head, .. }
        if head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    );
    let frames: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(frames.len(), 4, "{frames:#?}");
    let hello = frames[0];
    assert_eq!(hello.direction, Direction::Received);
    assert_eq!(hello.header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    assert_eq!(hello.payload, b"Hello");
    assert_eq!(hello.wire_payload(), [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert_eq!(frames[1].direction, Direction::Sent);
    assert_eq!(frames[1].header.mask, None);
    let close = frames[2].close_frame().unwrap();
    assert_eq!((close.code.0, close.reason.as_str()), (1000, "bye"));
    assert_eq!(frames[3].close_frame().unwrap().code.0, 1000);
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        TraceEvent::Disconnected {
            by_peer: true,
            clean: true,
            ..
        }
    )));
    server.shutdown_now();
}

#[test]
fn with_compression_the_trace_shows_compressed_and_inflated_sizes() {
    let captured = Captured::default();
    let server = echo_builder()
        .compression(Compression::new().threshold(0))
        .trace(Tracer::to_writer(captured.clone()))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let client_trace = Captured::default();
    let mut ws = stdws::ClientBuilder::new(format!("ws://{}/", server.local_addr()))
        .compression(Compression::new().threshold(0))
        .trace(Tracer::to_writer(client_trace.clone()))
        .connect()
        .unwrap();
    let text = "Hello Hello Hello Hello Hello Hello";
    ws.send_text(text).unwrap();
    assert_eq!(ws.read().unwrap(), stdws::Message::Text(text.into()));
    let lines = client_trace.lines();
    let sent = lines.iter().find(|l| l.contains("-> FIN=1 RSV=100 op=0x1"));
    assert!(
        sent.is_some_and(|l| l.ends_with(&format!(
            " [deflate: {} -> {} bytes]",
            text.len(),
            l.split("len=")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .unwrap_or("?")
        ))),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("<- FIN=1 RSV=100 op=0x1")
            && l.ends_with(&format!(" -> {} bytes]", text.len()))),
        "{lines:#?}"
    );
    wait_until("the server traces its compressed reply", || {
        captured.lines().iter().any(|l| {
            l.contains(&format!(
                "deflate: a message of {} bytes compressed to",
                text.len()
            ))
        })
    });
    let lines = captured.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("<- FIN=1 RSV=100 op=0x1") && l.contains("[deflate: ")),
        "{lines:#?}"
    );
    server.shutdown_now();
}
