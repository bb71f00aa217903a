//! Plain HTTP requests to the server's HTTP services
//! ([`ServerBuilder::http_service`](super::ServerBuilder::http_service)):
//! the request body read by its `Content-Length` (RFC 9112, section 6.2),
//! and the connection kept open for the next request (persistent
//! connections, RFC 9112, section 9.3), as the Socket.IO clients expect of
//! long-polling.
//!
//! ```text
//!   request head --not a service's--> back to the worker (upgrade, page)
//!        |
//!   body (Content-Length, at most max_body; 413 / 411 / 400 otherwise)
//!        |
//!   the service answers (it may block, as a long poll does)
//!        |
//!   keep-alive (HTTP/1.1, no "Connection: close", not an error)?
//!        |-- no --> close
//!        '-- yes -> next request head, within the handshake timeout --> loop
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::hub::{Hub, Phase};
use super::router::ServiceRoute;
use crate::protocol::http::{Request, Response};
use crate::websocket::read_request;

/// Serves `request` and the requests after it on the same connection while
/// they go to HTTP services. Returns the first request that does not (with
/// the bytes read after its head), for the worker to handle as usual, or
/// `None` once the connection is done with.
pub(crate) fn serve_services(
    hub: &Hub,
    stream: &TcpStream,
    peer: SocketAddr,
    mut request: Request,
    mut leftover: Vec<u8>,
) -> Option<(Request, Vec<u8>)> {
    loop {
        let Some(route) = hub.router.service(&request) else {
            return Some((request, leftover));
        };
        let deadline = Instant::now() + hub.settings.handshake_timeout;
        let mut io = Buffered {
            stream,
            buffer: leftover,
            deadline,
        };
        // Counted from the body to the answer written: a stop waits (within
        // its grace) for services it has woken to answer.
        let in_service = InService::enter(hub);
        let (response, body_ok) = match read_body(&request, route, &mut io) {
            Ok(body) => {
                let service = &route.service;
                let response = catch_unwind(AssertUnwindSafe(|| service(&request, &body, peer)))
                    .unwrap_or_else(|_| Response::text(500, "the HTTP service failed"));
                (response, true)
            }
            Err(refusal) => (refusal, false),
        };
        let keep_alive = body_ok
            && response.status() < 400
            && request.version() >= (1, 1)
            && !request.headers().has_token("Connection", "close")
            && !response.headers().has_token("Connection", "close")
            && hub.phase() == Phase::Running;
        let mut response = response;
        if !keep_alive && response.headers().get("Connection").is_none() {
            response.headers_mut().append("Connection", "close");
        }
        if io.write_all(&response.to_bytes()).is_err() || !keep_alive {
            return None;
        }
        drop(in_service);
        io.deadline = Instant::now() + hub.settings.handshake_timeout;
        let (next, rest) = read_request(&mut io, hub.settings.head_limits).ok()?;
        // What `read_request` read past the head follows what was buffered.
        let mut rest = rest;
        rest.extend_from_slice(&io.buffer);
        request = next;
        leftover = rest;
    }
}

/// The request's body, by its `Content-Length`; a refusal for a body this
/// server does not read (chunked, too large, a bad length).
fn read_body(
    request: &Request,
    route: &ServiceRoute,
    io: &mut Buffered<'_>,
) -> Result<Vec<u8>, Response> {
    let headers = request.headers();
    if headers.count("Transfer-Encoding") > 0 {
        return Err(Response::text(411, "send the body with a Content-Length"));
    }
    let mut lengths = headers.get_all("Content-Length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some(value), None) => value
            .trim()
            .parse::<usize>()
            .map_err(|_| Response::text(400, "invalid Content-Length"))?,
        (Some(_), Some(_)) => return Err(Response::text(400, "repeated Content-Length")),
    };
    if length > route.max_body {
        return Err(Response::text(
            413,
            format!("the body may hold at most {} bytes", route.max_body),
        ));
    }
    let mut body = vec![0; length];
    io.read_exact(&mut body)
        .map_err(|_| Response::text(400, "the body ended early or too late"))?;
    Ok(body)
}

/// The connection's bytes: those already read past a head first, then the
/// socket's, every read bounded by one deadline.
struct Buffered<'a> {
    stream: &'a TcpStream,
    buffer: Vec<u8>,
    deadline: Instant,
}

impl Read for Buffered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.buffer.is_empty() {
            let n = buf.len().min(self.buffer.len());
            buf[..n].copy_from_slice(&self.buffer[..n]);
            self.buffer.drain(..n);
            return Ok(n);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut stream = self.stream;
        stream.read(buf)
    }
}

impl Write for Buffered<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stream = self.stream;
        stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A request inside an HTTP service, counted in `Hub::in_service` while it
/// lasts.
struct InService<'a>(&'a Hub);

impl<'a> InService<'a> {
    fn enter(hub: &'a Hub) -> Self {
        hub.in_service
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        InService(hub)
    }
}

impl Drop for InService<'_> {
    fn drop(&mut self) {
        self.0
            .in_service
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}
