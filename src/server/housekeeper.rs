//! The housekeeper: one thread per server that does what no worker can do
//! from inside a blocking `read`.
//!
//! - It drains outbound queues that other threads left non-empty, without
//!   blocking, as the sockets make room (often within a millisecond, backing
//!   off to 20 ms while a client reads nothing).
//! - It keeps time: it pings connections that have been silent for the ping
//!   interval and ends those whose pong does not come within the ping
//!   timeout (a peer whose cable was pulled sends neither FIN nor RST:
//!   without this its worker would wait forever); it closes connections idle
//!   past the idle timeout; it ends connections whose peer does not answer a
//!   close within the close timeout, and queues that make no progress within
//!   the write timeout.
//!
//! Ending a connection means shutting its socket down, which wakes its worker
//! from `read`; the worker then cleans up as for any other end.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::hub::{Hub, load};
use super::outbound::{Drain, Ended, Frame};
use super::pool::lock;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::protocol::frame::OpCode;

const FASTEST_RETRY: Duration = Duration::from_millis(1);
const SLOWEST_RETRY: Duration = Duration::from_millis(20);

/// How often timers are checked: often enough for the shortest timeout set.
fn timer_tick(hub: &Hub) -> Duration {
    let s = &hub.settings;
    let mut shortest = s.close_timeout.min(s.write_timeout);
    if let Some(interval) = s.ping_interval {
        shortest = shortest.min(interval).min(s.ping_timeout);
    }
    if let Some(idle) = s.idle_timeout {
        shortest = shortest.min(idle);
    }
    (shortest / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

pub(crate) fn run(hub: Arc<Hub>) {
    let tick = timer_tick(&hub);
    let mut next_scan = Instant::now() + tick;
    let mut retry = FASTEST_RETRY;
    loop {
        if hub.housekeeper_stop.load(Ordering::Acquire) {
            return;
        }
        let (pending, progressed) = drain_backlog(&hub);
        let now = Instant::now();
        if now >= next_scan {
            check_timers(&hub);
            next_scan = now + tick;
        }
        let wait = if pending {
            retry = if progressed {
                FASTEST_RETRY
            } else {
                (retry * 2).min(SLOWEST_RETRY)
            };
            retry.min(next_scan.saturating_duration_since(now))
        } else {
            next_scan.saturating_duration_since(now)
        };
        let conns = lock(&hub.backlog.conns);
        if !pending && !conns.is_empty() {
            continue; // registered after the drain above: drain it now
        }
        // Sleep until the next retry or timer, a new backlog, or a stop.
        let _ = hub.backlog.wake.wait_timeout(conns, wait);
    }
}

/// Drains every registered queue once. Returns whether any remain, and
/// whether any bytes went out.
fn drain_backlog(hub: &Hub) -> (bool, bool) {
    let conns: Vec<_> = lock(&hub.backlog.conns).clone();
    if conns.is_empty() {
        return (false, false);
    }
    let mut done = Vec::new();
    let mut progressed = false;
    for conn in &conns {
        match conn.outbound.drain_nonblocking(hub.settings.write_timeout) {
            Drain::Done => done.push(conn.id),
            Drain::Pending(p) => progressed |= p,
        }
    }
    let mut list = lock(&hub.backlog.conns);
    list.retain(|c| !done.contains(&c.id));
    (!list.is_empty(), progressed)
}

fn check_timers(hub: &Hub) {
    let s = &hub.settings;
    let now_ms = hub.now_ms();
    let now = Instant::now();
    for conn in hub.registry.all().iter() {
        if let Some(started) = conn.outbound.close_started() {
            if now.duration_since(started) >= s.close_timeout {
                conn.outbound.kill(Some(Ended {
                    code: CloseCode::ABNORMAL,
                    reason: "the peer did not answer the close frame in time".into(),
                }));
            }
            continue;
        }
        let heard = load(&conn.last_heard_ms);
        if let Some(interval) = s.ping_interval {
            let ping_sent = load(&conn.ping_sent_ms);
            if ping_sent != 0 {
                if heard > ping_sent {
                    // Bytes came in since the ping: the peer is alive, even
                    // if its pong is still behind a long frame.
                    conn.ping_sent_ms.store(0, Ordering::Relaxed);
                } else if now_ms.saturating_sub(ping_sent) >= s.ping_timeout.as_millis() as u64 {
                    let why = CloseFrame::new(CloseCode::INTERNAL_ERROR, "keepalive ping timeout");
                    let _ = conn
                        .outbound
                        .send_from_other(Frame::close(Some(&why)), false);
                    conn.outbound.kill(Some(Ended {
                        code: why.code,
                        reason: why.reason,
                    }));
                    continue;
                }
            } else if now_ms.saturating_sub(heard) >= interval.as_millis() as u64 {
                conn.ping_sent_ms.store(now_ms, Ordering::Relaxed);
                let payload = now_ms.to_be_bytes().to_vec();
                if let Ok(super::outbound::Sent::QueuedNeedsDrain) = conn
                    .outbound
                    .send_from_other(Frame::new(OpCode::Ping, payload), false)
                {
                    hub.register_backlog(Arc::clone(conn));
                }
            }
        }
        if let Some(idle) = s.idle_timeout {
            let last_message = load(&conn.last_message_ms);
            if now_ms.saturating_sub(last_message) >= idle.as_millis() as u64 {
                let why = CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout");
                if let Ok((_, super::outbound::Sent::QueuedNeedsDrain)) =
                    conn.outbound.close(&why, false)
                {
                    hub.register_backlog(Arc::clone(conn));
                }
            }
        }
    }
}
