//! The blocking `WebSocket<S>` over a stream that is not a socket: an
//! in-memory pipe. Both roles, with every message kind, and the closing
//! handshake.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use stdws::client::ClientBuilder;
use stdws::deflate::Inflater;
use stdws::{CloseCode, Compression, Error, Message, Role, WebSocket, WebSocketConfig};

/// One direction of an in-memory pipe: bytes written at one end are read at
/// the other; a read waits (boundedly) for bytes or the writer's end.
#[derive(Default)]
struct Channel {
    bytes: Mutex<(VecDeque<u8>, bool)>,
    ready: Condvar,
}

/// One end of a duplex pipe.
struct End {
    incoming: Arc<Channel>,
    outgoing: Arc<Channel>,
}

fn pipe() -> (End, End) {
    let (a, b) = (Arc::new(Channel::default()), Arc::new(Channel::default()));
    (
        End {
            incoming: Arc::clone(&a),
            outgoing: Arc::clone(&b),
        },
        End {
            incoming: b,
            outgoing: a,
        },
    )
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.incoming.bytes.lock().unwrap();
        while state.0.is_empty() && !state.1 {
            let (next, timeout) = self
                .incoming
                .ready
                .wait_timeout(state, Duration::from_secs(10))
                .unwrap();
            if timeout.timed_out() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            state = next;
        }
        let n = buf.len().min(state.0.len());
        for (slot, byte) in buf.iter_mut().zip(state.0.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.bytes.lock().unwrap().0.extend(buf);
        self.outgoing.ready.notify_all();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for End {
    fn drop(&mut self) {
        self.outgoing.bytes.lock().unwrap().1 = true;
        self.outgoing.ready.notify_all();
    }
}

#[test]
fn both_roles_exchange_every_message_kind_over_an_in_memory_pipe() {
    let (client_end, server_end) = pipe();
    let config = WebSocketConfig::new();
    let server = std::thread::spawn(move || {
        let mut ws = WebSocket::from_stream(server_end, Role::Server, &WebSocketConfig::new());
        loop {
            match ws.read() {
                Ok(Message::Close(frame)) => return frame,
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message).unwrap(),
                Ok(_) => {} // pings are answered by read itself
                Err(e) => panic!("server: {e}"),
            }
        }
    });
    let mut ws = WebSocket::from_stream(client_end, Role::Client, &config);
    ws.send_text("héllo").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("héllo"));
    let big: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
    ws.send_binary(&big).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(big));
    ws.ping(b"are you there").unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"are you there".to_vec()));
    ws.close(CloseCode(4001), "done").unwrap();
    assert!(matches!(ws.send_text("late"), Err(Error::SendAfterClose)));
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode(4001)),
        other => panic!("expected the server's close, got {other:?}"),
    }
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    let seen = server.join().unwrap().unwrap();
    assert_eq!((seen.code, seen.reason.as_str()), (CloseCode(4001), "done"));
}

#[test]
fn a_stream_that_ends_without_a_close_is_an_abnormal_closure() {
    let (client_end, server_end) = pipe();
    let mut server = WebSocket::from_stream(server_end, Role::Server, &WebSocketConfig::new());
    drop(client_end);
    assert!(matches!(server.read(), Err(Error::AbnormalClosure)));
}

#[test]
fn accept_performs_the_server_handshake_over_any_stream() {
    let (mut client_end, server_end) = pipe();
    client_end
        .write_all(
            b"GET /x HTTP/1.1\r\nHost: pipe\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let ws = stdws::accept(server_end).unwrap();
    let mut answer = [0u8; 129];
    let mut client_end = client_end;
    client_end.read_exact(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{answer}"
    );
    drop(ws);
}

/// A stream that counts the bytes written through it.
struct Counting<S> {
    inner: S,
    written: Arc<AtomicUsize>,
}

impl<S: Read> Read for Counting<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: Write> Write for Counting<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// JSON-like text that compresses several times over, as chat traffic does.
fn json_text(bytes: usize) -> String {
    let mut text = String::from("[");
    let mut i = 0u32;
    while text.len() < bytes {
        text.push_str(&format!(
            r#"{{"id":{i},"user":"user{}","text":"message number {i}","ok":true}},"#,
            i % 17
        ));
        i += 1;
    }
    text.push_str("{}]");
    text
}

/// Reads a response head, byte by byte, up to its blank line.
fn read_head(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
        assert!(head.len() < 4096, "no end of head in {head:?}");
    }
    String::from_utf8(head).unwrap()
}

const RAW_REQUEST: &str = "GET /x HTTP/1.1\r\nHost: pipe\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n";

#[test]
fn accept_with_config_negotiates_compression_with_the_stdws_client() {
    let (client_end, server_end) = pipe();
    let server_written = Arc::new(AtomicUsize::new(0));
    let server_stream = Counting {
        inner: server_end,
        written: Arc::clone(&server_written),
    };
    let config = WebSocketConfig::new().compression(Compression::default());
    let server = std::thread::spawn(move || {
        let mut ws = stdws::accept_with_config(server_stream, &config).unwrap();
        loop {
            match ws.read() {
                Ok(Message::Close(_)) => return,
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message).unwrap(),
                Ok(_) => {}
                Err(e) => panic!("server: {e}"),
            }
        }
    });
    let client_written = Arc::new(AtomicUsize::new(0));
    let client_stream = Counting {
        inner: client_end,
        written: Arc::clone(&client_written),
    };
    let mut ws = ClientBuilder::new("ws://pipe/x")
        .compression(Compression::default())
        .connect_on(client_stream)
        .unwrap();
    let answer = ws
        .response()
        .expect("a client's WebSocket has the server's answer")
        .headers()
        .get("Sec-WebSocket-Extensions")
        .map(str::to_owned);
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; client_max_window_bits=12")
    );
    let handshake_bytes = server_written.load(Ordering::Relaxed);
    let request_bytes = client_written.load(Ordering::Relaxed);

    let text = json_text(100_000);
    ws.send_text(&text).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text(text.clone()));
    let binary: Vec<u8> = text.bytes().rev().collect();
    ws.send_binary(&binary).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(binary));
    // Both directions went compressed: 200 KB of messages each way in far
    // fewer bytes.
    let sent_by_server = server_written.load(Ordering::Relaxed) - handshake_bytes;
    let sent_by_client = client_written.load(Ordering::Relaxed) - request_bytes;
    assert!(sent_by_server < 2 * text.len() / 4, "{sent_by_server}");
    assert!(sent_by_client < 2 * text.len() / 4, "{sent_by_client}");

    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read(), Ok(Message::Close(_))));
    server.join().unwrap();
}

#[test]
fn accept_with_config_answers_a_raw_offer_and_speaks_rfc_7692_frames() {
    let (mut client_end, server_end) = pipe();
    let request = format!(
        "{RAW_REQUEST}Sec-WebSocket-Extensions: x-unknown, permessage-deflate; client_max_window_bits\r\n\r\n"
    );
    client_end.write_all(request.as_bytes()).unwrap();
    let config = WebSocketConfig::new().compression(
        Compression::default()
            .threshold(0)
            .server_context_takeover(false),
    );
    let mut ws = stdws::accept_with_config(server_end, &config).unwrap();
    let head = read_head(&mut client_end);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=12\r\n"
        ),
        "{head}"
    );

    // RFC 7692 section 7.2.3.1: "Hello" compressed, one frame with RSV1,
    // masked as a client must.
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let deflated = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut frame = vec![0xc1, 0x80 | deflated.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(deflated.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    client_end.write_all(&frame).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("Hello"));

    // The server's own messages go compressed, each on its own
    // (server_no_context_takeover): the same message, the same payload.
    let text = "Hello, ".repeat(20);
    let mut payloads = Vec::new();
    for _ in 0..2 {
        ws.send_text(&text).unwrap();
        let mut header = [0u8; 2];
        client_end.read_exact(&mut header).unwrap();
        assert_eq!(header[0], 0xc1, "FIN, RSV1, text");
        assert!(header[1] < 126, "{header:?}");
        let mut payload = vec![0u8; usize::from(header[1])];
        client_end.read_exact(&mut payload).unwrap();
        payloads.push(payload);
    }
    assert_eq!(payloads[0], payloads[1]);
    assert!(payloads[0].len() < text.len() / 4, "{:?}", payloads[0]);
    let mut inflater = Inflater::new(15).unwrap();
    let mut inflated = Vec::new();
    inflater.inflate(&payloads[0], &mut inflated, 1000).unwrap();
    inflater.finish_message(&mut inflated, 1000).unwrap();
    assert_eq!(inflated, text.as_bytes());
}

#[test]
fn accept_with_config_declines_offers_unless_compression_is_on() {
    let request = format!("{RAW_REQUEST}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    for config in [
        WebSocketConfig::new(),
        WebSocketConfig::new().compression(Compression::disabled()),
    ] {
        let (mut client_end, server_end) = pipe();
        client_end.write_all(request.as_bytes()).unwrap();
        let mut ws = stdws::accept_with_config(server_end, &config).unwrap();
        let head = read_head(&mut client_end);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
        // Uncompressed, and a frame with RSV1 is now a protocol error.
        ws.send_text(&"a".repeat(100)).unwrap();
        let mut wire = [0u8; 2];
        client_end.read_exact(&mut wire).unwrap();
        assert_eq!(wire, [0x81, 100]);
        client_end.write_all(&[0xc1, 0x80, 0, 0, 0, 0]).unwrap();
        assert!(matches!(ws.read(), Err(Error::Protocol(_))));
    }
}

#[test]
fn accept_with_config_declines_a_malformed_offer_and_takes_the_next() {
    let (mut client_end, server_end) = pipe();
    let request = format!(
        "{RAW_REQUEST}Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n\r\n"
    );
    client_end.write_all(request.as_bytes()).unwrap();
    let config =
        WebSocketConfig::new().compression(Compression::default().server_context_takeover(false));
    let _ws = stdws::accept_with_config(server_end, &config).unwrap();
    let head = read_head(&mut client_end);
    assert!(
        head.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        ),
        "{head}"
    );
}
