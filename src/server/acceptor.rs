//! The acceptor: one thread that takes connections off the listening socket
//! and hands each to a worker, or refuses it at once.
//!
//! A connection is refused with `503 Service Unavailable` and `Retry-After`
//! when every worker is busy or the server denies new connections, and with
//! `429 Too Many Requests` when its address has too many connections. The
//! refusal is written without blocking (a fresh socket's buffer always has
//! room for it), so no client can hold up the acceptor. Running out of
//! descriptors is answered with 503 too, through a spare one kept in reserve
//! (see [`descriptors`](super::descriptors)).

use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::descriptors::{Spare, is_out_of_descriptors};
use super::hub::{Accepted, Counters, Hub, Phase};
use super::pool::Refused;
use crate::protocol::http::Response;

pub(crate) fn run(hub: Arc<Hub>, listener: TcpListener) {
    let mut spare = Spare::take();
    for stream in listener.incoming() {
        if hub.phase() != Phase::Running {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) if is_out_of_descriptors(&e) && spare.release() => {
                // The freed descriptor takes the waiting connection, which
                // learns why it is not served instead of waiting in silence.
                if let Ok((stream, _)) = listener.accept() {
                    Counters::add(&hub.counters.refused_busy);
                    refuse(
                        stream,
                        503,
                        "the server has no descriptor left for a connection",
                    );
                }
                spare.restore();
                continue;
            }
            Err(e) => {
                // Out of descriptors or memory: give the workers a moment to
                // close some rather than spin on the same error.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        if !hub.accepting.load(Ordering::Acquire) {
            Counters::add(&hub.counters.refused_denied);
            refuse(stream, 503, "the server is not accepting new connections");
            continue;
        }
        if !hub
            .registry
            .admit_address(peer.ip(), hub.settings.per_ip_limit(peer.ip()))
        {
            Counters::add(&hub.counters.refused_per_ip);
            refuse(stream, 429, "too many connections from your address");
            continue;
        }
        let job = Accepted {
            hub: Arc::clone(&hub),
            stream,
            peer,
            accepted_at: Instant::now(),
        };
        match hub.pool.submit(job) {
            Ok(()) => Counters::add(&hub.counters.accepted),
            Err(Refused::Full(job) | Refused::Stopped(job)) => {
                hub.registry.release_address(peer.ip());
                Counters::add(&hub.counters.refused_busy);
                refuse(job.stream, 503, "every worker is busy; try again shortly");
            }
            Err(Refused::SpawnFailed(e)) => {
                hub.registry.release_address(peer.ip());
                eprintln!("stdws: cannot start a worker thread ({e}); a connection was dropped");
            }
        }
    }
}

/// Answers a connection that will not be served, without blocking.
fn refuse(stream: TcpStream, status: u16, why: &str) {
    let mut response = Response::text(status, why);
    if status == 503 || status == 429 {
        response = response.with_header("Retry-After", "1");
    }
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(&response.to_bytes());
    let _ = stream.shutdown(Shutdown::Write);
}
