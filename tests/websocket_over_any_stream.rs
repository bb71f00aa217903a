//! The blocking `WebSocket<S>` over a stream that is not a socket: an
//! in-memory pipe. Both roles, with every message kind, and the closing
//! handshake.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use stdws::{CloseCode, Error, Message, Role, WebSocket, WebSocketConfig};

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
