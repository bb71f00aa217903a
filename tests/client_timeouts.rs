//! The client's defaults against hostile servers (issue 12, item 1): each
//! server here misbehaves in one way, and the client must give up within
//! its bound instead of waiting forever.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use stdws::client::ClientBuilder;
use stdws::protocol::handshake::accept_key;
use stdws::{CloseCode, Error, Message};

/// The most any test here waits for the server side to finish.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A server on an ephemeral port that hands its one connection, after
/// reading the request head, to `serve` with the request's key.
fn server<T: Send + 'static>(
    serve: impl FnOnce(TcpStream, String) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let head = read_head(&mut stream);
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap_or("")
            .to_owned();
        serve(stream, key)
    });
    (url, handle)
}

fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn switching(key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// Reads one masked client frame: its opcode and unmasked payload.
fn read_client_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).ok()?;
    let len = usize::from(head[1] & 0x7f);
    assert!(len < 126, "short frames only here");
    let mut key = [0u8; 4];
    stream.read_exact(&mut key).ok()?;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).ok()?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    Some((head[0] & 0x0f, payload))
}

fn assert_within(start: Instant, low: Duration, high: Duration) {
    let took = start.elapsed();
    assert!(
        took >= low && took < high,
        "took {took:?}, expected {low:?}..{high:?}"
    );
}

#[test]
fn the_default_open_timeout_is_ten_seconds_and_covers_a_server_that_never_answers() {
    assert!(format!("{:?}", ClientBuilder::new("ws://h/")).contains("open_timeout: Some(10s)"));
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = server(move |_stream, _| {
        let _ = released.recv_timeout(TIMEOUT);
    });
    let start = Instant::now();
    let result = ClientBuilder::new(&url)
        .open_timeout(Duration::from_millis(300))
        .connect();
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    assert_within(start, Duration::from_millis(300), Duration::from_secs(3));
    release.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn a_response_head_trickled_a_byte_at_a_time_fails_at_the_deadline_not_per_read() {
    let (done, finished) = mpsc::channel::<()>();
    let (url, server) = server(move |mut stream, _| {
        // Each byte comes well within any per-read timeout; the head never ends.
        for byte in b"HTTP/1.1 101 Switching Protocols\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if stream.write_all(&[*byte]).is_err() || finished.try_recv().is_ok() {
                break;
            }
            thread::sleep(Duration::from_millis(50)); // the trickle itself, not synchronisation
        }
    });
    let start = Instant::now();
    let result = ClientBuilder::new(&url)
        .open_timeout(Duration::from_millis(800))
        .read_timeout(Duration::from_millis(500))
        .connect();
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    assert_within(start, Duration::from_millis(800), Duration::from_secs(4));
    done.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn a_refusal_whose_body_is_held_open_is_reported_with_what_arrived() {
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = server(move |mut stream, _| {
        stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100000\r\n\r\nnot you")
            .unwrap();
        let _ = released.recv_timeout(TIMEOUT);
    });
    let start = Instant::now();
    let result = ClientBuilder::new(&url).connect();
    match result {
        Err(Error::HandshakeResponse { body, .. }) => assert_eq!(body, b"not you"),
        other => panic!("{other:?}"),
    }
    // The body may take a second; the default open timeout is not reached.
    assert_within(start, Duration::from_millis(900), Duration::from_secs(5));
    release.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn close_and_wait_gives_up_on_a_server_that_never_answers_the_close() {
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = server(move |mut stream, key| {
        stream.write_all(&switching(&key)).unwrap();
        let frame = read_client_frame(&mut stream);
        let _ = released.recv_timeout(TIMEOUT);
        frame
    });
    let mut ws = ClientBuilder::new(&url)
        .close_timeout(Duration::from_millis(400))
        .connect()
        .unwrap();
    let start = Instant::now();
    let result = ws.close_and_wait(CloseCode::NORMAL, "bye");
    assert!(matches!(&result, Err(e) if e.is_timeout()), "{result:?}");
    assert_within(start, Duration::from_millis(400), Duration::from_secs(3));
    release.send(()).unwrap();
    let (opcode, payload) = server.join().unwrap().unwrap();
    assert_eq!((opcode, &payload[..2]), (0x8, &1000u16.to_be_bytes()[..]));
}

#[test]
fn close_and_wait_returns_the_servers_close_and_shuts_the_socket() {
    let (url, server) = server(move |mut stream, key| {
        stream.write_all(&switching(&key)).unwrap();
        // A message in flight before the close answer is skipped.
        stream.write_all(&[0x81, 2, b'h', b'i']).unwrap();
        let (opcode, payload) = read_client_frame(&mut stream).unwrap();
        assert_eq!(opcode, 0x8);
        stream.write_all(&[0x88, payload.len() as u8]).unwrap();
        stream.write_all(&payload).unwrap();
        // The client shuts the connection: end of stream here.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        rest
    });
    let mut ws = ClientBuilder::new(&url).connect().unwrap();
    let frame = ws
        .close_and_wait(CloseCode::NORMAL, "done")
        .unwrap()
        .unwrap();
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode::NORMAL, "done")
    );
    assert!(server.join().unwrap().is_empty());
}

#[test]
fn a_server_that_only_pings_and_never_pongs_is_detected_inside_read() {
    let (url, server) = server(move |mut stream, key| {
        stream.write_all(&switching(&key)).unwrap();
        // Ping every 50 ms from another thread, never answer a ping.
        let mut pinger = stream.try_clone().unwrap();
        thread::spawn(move || {
            while pinger.write_all(&[0x89, 0]).is_ok() {
                thread::sleep(Duration::from_millis(50)); // the ping rate, not synchronisation
            }
        });
        let mut opcodes = Vec::new();
        while let Some((opcode, payload)) = read_client_frame(&mut stream) {
            opcodes.push((opcode, payload));
        }
        opcodes
    });
    let mut ws = ClientBuilder::new(&url)
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(300))
        .connect()
        .unwrap();
    let start = Instant::now();
    let error = loop {
        match ws.read() {
            Ok(Message::Ping(_)) => {}
            Ok(other) => panic!("{other:?}"),
            Err(e) => break e,
        }
        assert!(start.elapsed() < TIMEOUT, "never detected");
    };
    assert!(matches!(error, Error::PingTimeout(_)), "{error:?}");
    assert_within(start, Duration::from_millis(400), Duration::from_secs(4));
    let frames = server.join().unwrap();
    // Pongs for the server's pings, the keepalive ping (0x9), then close 1011.
    assert!(
        frames.iter().any(|(op, _)| *op == 0x9),
        "no ping among {}",
        frames.len()
    );
    let (last, payload) = frames.last().unwrap();
    assert_eq!((*last, &payload[..2]), (0x8, &1011u16.to_be_bytes()[..]));
}

#[test]
fn a_silent_server_that_answers_pings_stays_connected_and_its_pongs_stay_hidden() {
    let (url, server) = server(move |mut stream, key| {
        stream.write_all(&switching(&key)).unwrap();
        let mut pings = 0;
        while let Some((opcode, payload)) = read_client_frame(&mut stream) {
            match opcode {
                0x9 => {
                    pings += 1;
                    stream.write_all(&[0x8a, payload.len() as u8]).unwrap();
                    stream.write_all(&payload).unwrap();
                }
                0x1 => {
                    stream.write_all(&[0x81, payload.len() as u8]).unwrap();
                    stream.write_all(&payload).unwrap();
                }
                _ => break,
            }
        }
        pings
    });
    let mut ws = ClientBuilder::new(&url)
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_millis(700))
        .connect()
        .unwrap();
    // Nothing but pongs arrive, hidden: the application's own timeout ends the read.
    let error = ws.read().unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    // The connection is still usable.
    ws.send_text("still here").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("still here"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(server.join().unwrap() >= 3);
}

#[test]
fn set_read_timeout_on_the_websocket_bounds_reads() {
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = server(move |mut stream, key| {
        stream.write_all(&switching(&key)).unwrap();
        let _ = released.recv_timeout(TIMEOUT);
    });
    let mut ws = ClientBuilder::new(&url)
        .ping_interval(None)
        .connect()
        .unwrap();
    ws.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    assert!(ws.read().unwrap_err().is_timeout());
    assert_within(start, Duration::from_millis(200), Duration::from_secs(3));
    assert!(ws.set_read_timeout(Some(Duration::ZERO)).is_err());
    release.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn the_read_timeout_bounds_each_read_of_the_handshake_too() {
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = server(move |_stream, _| {
        let _ = released.recv_timeout(TIMEOUT);
    });
    let start = Instant::now();
    let result = ClientBuilder::new(&url)
        .read_timeout(Duration::from_millis(200))
        .connect();
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    assert_within(start, Duration::from_millis(200), Duration::from_secs(3));
    release.send(()).unwrap();
    server.join().unwrap();
}
