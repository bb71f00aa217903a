//! What a client connection carries beside the protocol: its handshake's
//! [`Response`], its timeouts, and keepalive pings (RFC 6455, section
//! 5.5.2) that detect a server that is gone, as Python `websockets` does
//! with its `ping_interval` and `ping_timeout`.
//!
//! A blocking WebSocket has no thread of its own, so keepalive works while
//! the application is inside `read()`: the socket's read timeout is set to
//! the time until the next thing due (a ping, the pong's deadline, the
//! application's read timeout), and a wake-up by timeout sends the ping or
//! fails the connection. Between two calls to `read()` nothing happens; the
//! next call catches up (it pings at once if the interval has passed).
//!
//! ```text
//!   waiting --interval passed--> ping sent --its pong--> waiting
//!                                    |
//!                                    '--no pong within ping_timeout--> Dead
//!                                       (close 1011, Error::PingTimeout)
//! ```

use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::Response;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::websocket::{ReadCompanion, ReadStep as Next, WebSocket};

/// The keepalive timers, without a socket.
#[derive(Debug, Clone)]
pub(crate) struct Keepalive {
    interval: Duration,
    timeout: Duration,
    next_ping: Instant,
    /// The ping in flight: when it was sent and its payload.
    pending: Option<(Instant, [u8; 8])>,
    sent: u64,
}

impl Keepalive {
    pub(crate) fn new(interval: Duration, timeout: Duration, now: Instant) -> Keepalive {
        // A century is "never", and keeps every `Instant` sum in range.
        const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
        let (interval, timeout) = (interval.min(NEVER), timeout.min(NEVER));
        Keepalive {
            interval,
            timeout,
            next_ping: now + interval,
            pending: None,
            sent: 0,
        }
    }

    /// When something is due: the pong's deadline, or the next ping.
    pub(crate) fn due(&self) -> Instant {
        match self.pending {
            Some((sent, _)) => sent + self.timeout,
            None => self.next_ping,
        }
    }

    /// What to do at `now`: a ping is due, the pong is late, or nothing.
    pub(crate) fn poll(&mut self, now: Instant) -> Next {
        match self.pending {
            Some((sent, _)) if now >= sent + self.timeout => {
                Next::Dead(Error::PingTimeout(self.timeout))
            }
            Some(_) => Next::Proceed,
            None if now >= self.next_ping => {
                self.sent += 1;
                let payload = self.sent.to_be_bytes();
                self.pending = Some((now, payload));
                self.next_ping = now + self.interval;
                Next::Ping(payload.to_vec())
            }
            None => Next::Proceed,
        }
    }

    /// Whether `payload` answers our ping in flight (which it then clears).
    pub(crate) fn pong(&mut self, payload: &[u8]) -> bool {
        match self.pending {
            Some((_, ours)) if ours == payload => {
                self.pending = None;
                true
            }
            _ => false,
        }
    }
}

/// The client's part of a [`WebSocket`](crate::WebSocket).
#[derive(Debug)]
pub(crate) struct Attached {
    pub(crate) response: Response,
    /// A handle on the connection's socket (shared with the stream), to set
    /// its timeouts; `None` for a stream the application brought.
    pub(crate) socket: Option<TcpStream>,
    pub(crate) keepalive: Option<Keepalive>,
    /// The application's read timeout.
    pub(crate) read_timeout: Option<Duration>,
    /// The application's write timeout, put back after a keepalive ping's
    /// write (which waits at most the ping timeout).
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) close_timeout: Duration,
    /// When the current `read()` call began, to tell the application's
    /// timeout from ours.
    wait_began: Instant,
    /// Whether a `read()` call is under way (its wake-ups for keepalive do
    /// not restart the application's timeout).
    in_read: bool,
}

impl Attached {
    pub(crate) fn new(
        response: Response,
        socket: Option<TcpStream>,
        keepalive: Option<Keepalive>,
        read_timeout: Option<Duration>,
        write_timeout: Option<Duration>,
        close_timeout: Duration,
    ) -> Attached {
        Attached {
            response,
            socket,
            keepalive,
            read_timeout,
            write_timeout,
            close_timeout,
            wait_began: Instant::now(),
            in_read: false,
        }
    }

    /// Before `read` waits: sends a ping that is due, fails a connection
    /// whose pong is late, and sets the socket's timeout to the earlier of
    /// the next keepalive event and the application's timeout.
    fn step_before_wait(&mut self, open: bool) -> Next {
        let now = Instant::now();
        if !self.in_read {
            self.wait_began = now;
            self.in_read = true;
        }
        let (next, due) = match (&mut self.keepalive, &self.socket) {
            (Some(keepalive), Some(_)) if open => (keepalive.poll(now), Some(keepalive.due())),
            _ => (Next::Proceed, None),
        };
        if let Next::Dead(_) = next {
            self.in_read = false;
            return next;
        }
        let ours = due.map(|due| due.saturating_duration_since(now));
        let left = self
            .read_timeout
            .map(|t| t.saturating_sub(now.duration_since(self.wait_began)));
        let timeout = match (ours, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(socket) = &self.socket {
            // Best effort: a socket that refuses its timeout fails the read.
            let _ = socket.set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))));
            if let (Next::Ping(_), Some(keepalive)) = (&next, &self.keepalive) {
                // A peer that stopped reading must not hold the ping's write
                // longer than its pong may take.
                let bound = self
                    .write_timeout
                    .map_or(keepalive.timeout, |w| w.min(keepalive.timeout));
                let _ = socket.set_write_timeout(Some(bound));
            }
        }
        next
    }

    /// After `read` read: hides the pong to our ping, and turns a timeout
    /// the application did not ask for into another wait.
    fn step_after_read(&mut self, result: &Result<Message>) -> Next {
        if let (Some(socket), Some(_)) = (&self.socket, &self.keepalive) {
            let _ = socket.set_write_timeout(self.write_timeout);
        }
        let next = self.classify(result);
        if !matches!(next, Next::Again) {
            self.in_read = false;
        }
        next
    }

    fn classify(&mut self, result: &Result<Message>) -> Next {
        match result {
            Ok(Message::Pong(payload)) => {
                let ours = self.keepalive.as_mut().is_some_and(|k| k.pong(payload));
                if ours { Next::Again } else { Next::Proceed }
            }
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && self.keepalive.is_some() =>
            {
                let asked = self
                    .read_timeout
                    .is_some_and(|t| self.wait_began.elapsed() >= t);
                if asked { Next::Proceed } else { Next::Again }
            }
            _ => Next::Proceed,
        }
    }
}

impl ReadCompanion for Attached {
    fn before_wait(&mut self, open: bool) -> Next {
        self.step_before_wait(open)
    }

    fn after_read(&mut self, result: &Result<Message>) -> Next {
        self.step_after_read(result)
    }

    /// The last close frame to a peer that may not read waits a second at
    /// most.
    fn bound_last_write(&self) {
        if let Some(socket) = &self.socket {
            let _ = socket.set_write_timeout(Some(Duration::from_secs(1)));
        }
    }

    fn shut(&mut self) {
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The client's part of `ws`, if it is a client's WebSocket.
pub(crate) fn attached<S>(ws: &WebSocket<S>) -> Option<&Attached> {
    ws.companion()?.as_any().downcast_ref()
}

/// The client's part of `ws`, mutably.
pub(crate) fn attached_mut<S>(ws: &mut WebSocket<S>) -> Option<&mut Attached> {
    ws.companion_mut()?.as_any_mut().downcast_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_go_out_each_interval_and_their_pongs_clear_them() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut k = Keepalive::new(s(20), s(10), t0);
        assert!(matches!(k.poll(t0 + s(19)), Next::Proceed));
        assert_eq!(k.due(), t0 + s(20));
        let Next::Ping(payload) = k.poll(t0 + s(20)) else {
            panic!("no ping")
        };
        assert_eq!(payload, 1u64.to_be_bytes());
        assert_eq!(k.due(), t0 + s(30));
        // A ping in flight is not doubled, and a stranger's pong is no answer.
        assert!(matches!(k.poll(t0 + s(25)), Next::Proceed));
        assert!(!k.pong(b"other"));
        assert!(k.pong(&payload));
        assert_eq!(k.due(), t0 + s(40));
        let Next::Ping(second) = k.poll(t0 + s(40)) else {
            panic!("no ping")
        };
        assert_eq!(second, 2u64.to_be_bytes());
    }

    #[test]
    fn a_pong_later_than_the_timeout_fails_the_connection() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut k = Keepalive::new(s(1), s(2), t0);
        assert!(matches!(k.poll(t0 + s(1)), Next::Ping(_)));
        assert!(matches!(k.poll(t0 + s(2)), Next::Proceed));
        match k.poll(t0 + s(3)) {
            Next::Dead(Error::PingTimeout(after)) => assert_eq!(after, s(2)),
            other => panic!("{other:?}"),
        }
    }
}
