//! One deadline for everything before the first message (TCP connect,
//! proxy, TLS, the opening handshake), as Python `websockets`' open
//! timeout: a total, not a timeout per read, so that a server trickling
//! its answer a byte at a time fails at the deadline too.
//!
//! Before each read or write, the socket's timeouts are set to the time
//! left; once it is gone, I/O fails with `TimedOut`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// When the time is up, if ever, and the application's timeouts per read
/// and per write, which bound each one further.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    read_cap: Option<Duration>,
    write_cap: Option<Duration>,
}

impl Deadline {
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline {
            at: timeout.and_then(|t| Instant::now().checked_add(t)),
            read_cap: None,
            write_cap: None,
        }
    }

    /// Bounds each read and each write by these timeouts too.
    pub(crate) fn per_io(mut self, read: Option<Duration>, write: Option<Duration>) -> Deadline {
        self.read_cap = read;
        self.write_cap = write;
        self
    }

    /// The earlier of this deadline and `timeout` from now.
    pub(crate) fn capped(mut self, timeout: Duration) -> Deadline {
        let other = Instant::now().checked_add(timeout);
        self.at = match (self.at, other) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self
    }

    /// The time left (`None`: no deadline), or `TimedOut` once it is gone.
    pub(crate) fn remaining(self) -> io::Result<Option<Duration>> {
        let Some(at) = self.at else { return Ok(None) };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the deadline for opening the connection passed",
            ))
        } else {
            // A zero timeout is refused by the socket; a millisecond is not.
            Ok(Some(left.max(Duration::from_millis(1))))
        }
    }

    /// Bounds the socket's next read and write by the time left (and the
    /// timeouts per read and per write).
    pub(crate) fn arm(self, socket: Option<&TcpStream>) -> io::Result<()> {
        let left = self.remaining()?;
        let min = |cap: Option<Duration>| match (left, cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(socket) = socket {
            socket.set_read_timeout(min(self.read_cap))?;
            socket.set_write_timeout(min(self.write_cap))?;
        }
        Ok(())
    }
}

/// A stream whose every read and write is bounded by one deadline. Without
/// a socket (a stream the application connected), the deadline is checked
/// between reads only.
pub(crate) struct Timed<'a, S> {
    pub(crate) inner: &'a mut S,
    pub(crate) deadline: Deadline,
    pub(crate) socket: Option<&'a TcpStream>,
}

impl<S: Read> Read for Timed<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.deadline.arm(self.socket)?;
        self.inner.read(buf)
    }
}

impl<S: Write> Write for Timed<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.deadline.arm(self.socket)?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_times_out_and_none_never_does() {
        assert_eq!(Deadline::after(None).remaining().unwrap(), None);
        let gone = Deadline::after(Some(Duration::ZERO));
        assert_eq!(
            gone.remaining().unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        let soon = Deadline::after(Some(Duration::from_secs(60))).capped(Duration::from_secs(1));
        assert!(soon.remaining().unwrap().unwrap() <= Duration::from_secs(1));
        let capped = Deadline::after(None).capped(Duration::from_secs(5));
        assert!(capped.remaining().unwrap().is_some());
    }

    #[test]
    fn timed_io_fails_once_the_deadline_passed() {
        let mut data: &[u8] = b"abc";
        let mut timed = Timed {
            inner: &mut data,
            deadline: Deadline::after(Some(Duration::ZERO)),
            socket: None,
        };
        let mut buf = [0u8; 3];
        assert_eq!(
            timed.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
    }
}
