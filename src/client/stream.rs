//! The streams a client connection runs on, and what needs their socket:
//! timeouts and the closing handshake completed within a bound (RFC 6455,
//! section 7.1.1: after the close frames, the TCP connection is closed).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::Response;
use super::keepalive::{attached, attached_mut};
use crate::error::{Error, Result};
use crate::message::Message;
use crate::protocol::State;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::websocket::WebSocket;

/// How long [`WebSocket::close_and_wait`] waits for the peer's close when
/// no client setting says otherwise (Python `websockets`' default too).
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream with a TCP socket underneath, whose timeouts and shutdown the
/// WebSocket can use: [`TcpStream`] itself, or a [`ClientStream`].
pub trait Socket: Read + Write + sealed::Sealed {
    /// The TCP socket under the stream.
    fn socket(&self) -> &TcpStream;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::net::TcpStream {}
    impl Sealed for super::ClientStream {}
}

impl Socket for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

/// Any stream the TLS hook returns.
pub(crate) trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// The stream of [`ClientBuilder::connect_any`](super::ClientBuilder::connect_any):
/// the TCP connection (through any proxy) for `ws://`, or what the
/// [`tls`](super::ClientBuilder::tls) hook made of it for `wss://`.
pub struct ClientStream {
    tls: Option<Box<dyn Duplex>>,
    tcp: TcpStream,
}

impl fmt::Debug for ClientStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientStream")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl ClientStream {
    pub(crate) fn plain(tcp: TcpStream) -> ClientStream {
        ClientStream { tls: None, tcp }
    }

    pub(crate) fn tls(tls: Box<dyn Duplex>, tcp: TcpStream) -> ClientStream {
        ClientStream {
            tls: Some(tls),
            tcp,
        }
    }

    /// Whether the connection runs through the TLS hook's stream.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

impl Socket for ClientStream {
    fn socket(&self) -> &TcpStream {
        &self.tcp
    }
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(tls) => tls.read(buf),
            None => self.tcp.read(buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(tls) => tls.write(buf),
            None => self.tcp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.tls {
            Some(tls) => tls.flush(),
            None => self.tcp.flush(),
        }
    }
}

impl<S> WebSocket<S> {
    /// The server's answer to the opening handshake (subprotocol, headers
    /// such as `Set-Cookie`), on a connection made by
    /// [`ClientBuilder`](super::ClientBuilder) or [`connect`](super::connect);
    /// `None` on a server's WebSocket.
    ///
    /// ```no_run
    /// let ws = stdws::ClientBuilder::new("ws://127.0.0.1:8000/").subprotocol("chat").connect()?;
    /// let chosen = ws.response().and_then(|r| r.subprotocol());
    /// println!("the server speaks {chosen:?}");
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn response(&self) -> Option<&Response> {
        attached(self).map(|c| &c.response)
    }
}

impl<S: Socket> WebSocket<S> {
    /// How long a read may wait for the peer (`None`: forever). A read that
    /// times out fails with an error for which [`Error::is_timeout`] holds;
    /// the connection stays usable. Keepalive pings still go out while a
    /// read waits.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a zero read timeout: use None for no timeout",
            )));
        }
        if let Some(client) = attached_mut(self) {
            client.read_timeout = timeout;
        }
        self.get_ref().socket().set_read_timeout(timeout)?;
        Ok(())
    }

    /// How long a write may wait for the peer to take the bytes (`None`:
    /// forever). A write that timed out may have sent part of a frame, after
    /// which the connection can only be dropped.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        if let Some(client) = attached_mut(self) {
            client.write_timeout = timeout;
        }
        self.get_ref().socket().set_write_timeout(timeout)?;
        Ok(())
    }

    /// Completes the closing handshake: sends a close with `code` and
    /// `reason` (unless one was sent already), reads until the peer's close
    /// arrives (discarding messages that were in flight), within the close
    /// timeout ([`ClientBuilder::close_timeout`](super::ClientBuilder::close_timeout),
    /// [`DEFAULT_CLOSE_TIMEOUT`] on a server's WebSocket), then shuts the
    /// TCP connection. Returns the peer's close frame, if it had one.
    ///
    /// A peer that does not answer in time makes it fail with an
    /// [`Error::Io`] of kind `TimedOut` (the socket is shut all the same).
    ///
    /// ```no_run
    /// let mut ws = stdws::connect("ws://127.0.0.1:8000/")?;
    /// ws.send_text("bye")?;
    /// ws.close_and_wait(stdws::CloseCode::NORMAL, "done")?;
    /// # Ok::<(), stdws::Error>(())
    /// ```
    pub fn close_and_wait(&mut self, code: CloseCode, reason: &str) -> Result<Option<CloseFrame>> {
        let timeout = attached(self).map_or(DEFAULT_CLOSE_TIMEOUT, |c| c.close_timeout);
        let outcome = self.finish_close(code, reason, timeout);
        let _ = self.get_ref().socket().shutdown(Shutdown::Both);
        outcome
    }

    fn finish_close(
        &mut self,
        code: CloseCode,
        reason: &str,
        timeout: Duration,
    ) -> Result<Option<CloseFrame>> {
        // A close timeout too large to add is no deadline at all.
        let deadline = Instant::now().checked_add(timeout);
        let previous = attached(self).map(|c| c.read_timeout);
        // A peer that does not read must not hold the close frame's write.
        let socket = self.get_ref().socket().try_clone()?;
        let _ = socket.set_write_timeout(Some(timeout).filter(|t| !t.is_zero()));
        if self.state() == State::Open {
            self.close(code, reason)?;
        }
        let outcome = loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                break Err(close_timed_out(timeout));
            }
            if let Some(client) = attached_mut(self) {
                client.read_timeout = left;
            }
            socket.set_read_timeout(left)?;
            match self.read() {
                Ok(Message::Close(frame)) => break Ok(frame),
                Ok(_) => {}
                Err(Error::ConnectionClosed) => break Ok(None),
                Err(e) if e.is_timeout() => break Err(close_timed_out(timeout)),
                Err(e) => break Err(e),
            }
        };
        if let (Some(client), Some(previous)) = (attached_mut(self), previous) {
            client.read_timeout = previous;
        }
        outcome
    }
}

fn close_timed_out(timeout: Duration) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the peer did not answer the close within {timeout:?}"),
    ))
}
