//! Helpers shared by the integration tests: servers on ephemeral ports and a
//! raw-socket WebSocket client that can send anything, legal or not.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use stdws::{Server, ServerHandle};

/// Every read in the tests gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An echo server like `examples/echo.rs`, on 127.0.0.1 and a free port.
pub fn echo_server() -> ServerHandle {
    echo_builder().bind("127.0.0.1:0").unwrap().spawn().unwrap()
}

/// The echo server's builder, to change settings before binding.
pub fn echo_builder() -> stdws::server::ServerBuilder {
    Server::builder().workers(64).on_message(|conn, message| {
        let _ = conn.send(message);
    })
}

/// A raw TCP connection with a bounded read timeout.
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A valid handshake request for `path`.
pub fn handshake_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// An HTTP response as read from a raw socket.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Reads an HTTP response head, and its body up to Content-Length.
pub fn read_http_reply(stream: &mut TcpStream) -> HttpReply {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            other => panic!(
                "response head cut short ({other:?}) after {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut reply = HttpReply {
        status,
        head,
        body: String::new(),
    };
    if let Some(len) = reply.header("Content-Length") {
        let mut body = vec![0; len.parse().unwrap()];
        stream.read_exact(&mut body).unwrap();
        reply.body = String::from_utf8(body).unwrap();
    }
    reply
}

/// Sends `request` on a fresh connection and reads the answer.
pub fn http_exchange(addr: SocketAddr, request: &str) -> HttpReply {
    let mut stream = tcp(addr);
    stream.write_all(request.as_bytes()).unwrap();
    read_http_reply(&mut stream)
}

/// A frame as read by [`RawClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The close code of a close frame, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Encodes a frame with every bit under the caller's control, by hand as
/// section 5.2 lays it out (never with the library's own encoder).
pub fn encode_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Vec<u8> {
    frame_with_first_byte(
        (fin as u8) << 7 | (rsv & 7) << 4 | (opcode & 0xf),
        payload,
        mask,
    )
}

/// A frame whose first byte (FIN, RSV, opcode) is `first`, with the
/// shortest length encoding, masked with `mask` if given.
pub fn frame_with_first_byte(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=65535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A client that speaks WebSocket by hand over a plain socket.
pub struct RawClient {
    pub stream: TcpStream,
    buffered: Vec<u8>,
}

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

impl RawClient {
    /// Connects to `path` and completes the handshake.
    pub fn connect(addr: SocketAddr, path: &str) -> RawClient {
        let mut stream = tcp(addr);
        stream
            .write_all(handshake_request(path, "").as_bytes())
            .unwrap();
        let reply = read_http_reply(&mut stream);
        assert_eq!(reply.status, 101, "{reply:?}");
        assert_eq!(
            reply.header("Sec-WebSocket-Accept").as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        RawClient {
            stream,
            buffered: Vec::new(),
        }
    }

    /// Connects, retrying while the server answers 503 (its workers are
    /// still finishing earlier connections).
    pub fn connect_when_served(addr: SocketAddr, path: &str) -> RawClient {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let mut stream = tcp(addr);
            stream
                .write_all(handshake_request(path, "").as_bytes())
                .unwrap();
            let reply = read_http_reply(&mut stream);
            match reply.status {
                101 => return RawClient::from_stream(stream),
                503 if Instant::now() < deadline => std::thread::yield_now(),
                _ => panic!("not served: {reply:?}"),
            }
        }
    }

    /// Wraps a stream on which the handshake is already done.
    pub fn from_stream(stream: TcpStream) -> RawClient {
        RawClient {
            stream,
            buffered: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a masked frame.
    pub fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let frame = encode_frame(fin, 0, opcode, payload, Some(KEY));
        self.send_raw(&frame);
    }

    pub fn send_text(&mut self, text: &str) {
        self.send(true, 1, text.as_bytes());
    }

    pub fn send_close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        self.send(true, 8, &payload);
    }

    fn fill(&mut self, want: usize) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        while self.buffered.len() < want {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("read failed while waiting for a frame: {e}"),
            }
        }
        true
    }

    /// Reads the next frame, or `None` at end of stream.
    pub fn read_frame(&mut self) -> Option<RawFrame> {
        if !self.fill(2) {
            assert!(
                self.buffered.is_empty(),
                "stream ended inside a frame header"
            );
            return None;
        }
        let b0 = self.buffered[0];
        let b1 = self.buffered[1];
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                assert!(self.fill(4));
                (
                    u16::from_be_bytes([self.buffered[2], self.buffered[3]]) as usize,
                    4,
                )
            }
            127 => {
                assert!(self.fill(10));
                let mut eight = [0u8; 8];
                eight.copy_from_slice(&self.buffered[2..10]);
                (u64::from_be_bytes(eight) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let masked = b1 & 0x80 != 0;
        let key = if masked {
            assert!(self.fill(at + 4));
            let k = [
                self.buffered[at],
                self.buffered[at + 1],
                self.buffered[at + 2],
                self.buffered[at + 3],
            ];
            at += 4;
            Some(k)
        } else {
            None
        };
        assert!(self.fill(at + len), "stream ended inside a frame payload");
        let mut payload: Vec<u8> = self.buffered[at..at + len].to_vec();
        if let Some(k) = key {
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b ^= k[i % 4]);
        }
        self.buffered.drain(..at + len);
        Some(RawFrame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode: b0 & 0xf,
            masked,
            payload,
        })
    }

    /// Reads a frame and checks it is a single-frame text message.
    pub fn expect_text(&mut self, text: &str) {
        let frame = self.read_frame().expect("a text frame, got end of stream");
        assert_eq!((frame.opcode, frame.fin), (1, true), "{frame:?}");
        assert_eq!(String::from_utf8(frame.payload).unwrap(), text);
    }

    /// Reads frames until a close frame and returns its code (None: no code).
    /// Data frames before it are returned too, for inspection.
    pub fn expect_close(&mut self) -> (Option<u16>, Vec<RawFrame>) {
        let mut before = Vec::new();
        loop {
            let frame = self.read_frame().expect("a close frame, got end of stream");
            if frame.opcode == 8 {
                assert!(!frame.masked, "server frames are never masked");
                return (frame.close_code(), before);
            }
            before.push(frame);
        }
    }

    /// Checks that the server closes the TCP connection (it must close first
    /// after the closing handshake).
    pub fn expect_eof(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        let mut chunk = [0u8; 1024];
        loop {
            assert!(
                Instant::now() < deadline,
                "the server did not close the connection"
            );
            match self.stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("waiting for EOF: {e}"),
            }
        }
    }
}

/// Polls `condition` until it holds or `TIMEOUT` passes; for state that only
/// changes on another thread (never used to wait for an arbitrary time).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(1));
    }
}
