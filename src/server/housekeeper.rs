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
//!
//! Everything it calls runs under `catch_unwind`: a panic in one
//! connection's drain or timers (a broken invariant, a tracer) is reported
//! and that round goes on with the others, so keepalive and timeouts never
//! stop for the whole server.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::batch;
use super::hub::{Counters, Hub};
use super::outbound::Drained;
use super::queue::{Ended, Frame, Origin};
use super::shared::{ConnShared, load};
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

pub(crate) fn run(hub: std::sync::Arc<Hub>) {
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
        // Sleep until the next retry or timer, a new registration, or a stop.
        hub.backlog.sleep(pending, wait);
    }
}

/// Runs `f` for one connection; a panic is reported and ends that
/// connection, not the housekeeper.
fn guarded(conn: &ConnShared, what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        eprintln!(
            "stdws: the housekeeper caught a panic in {what} of connection {}",
            conn.id
        );
        conn.outbound.kill(Some(Ended {
            code: CloseCode::INTERNAL_ERROR,
            reason: "internal server error".into(),
        }));
    }
}

/// Drains every registered queue once. Returns whether any remain, and
/// whether any bytes went out.
fn drain_backlog(hub: &Hub) -> (bool, bool) {
    let conns = hub.backlog.snapshot();
    if conns.is_empty() {
        return (false, false);
    }
    let mut done = Vec::new();
    let mut progressed = false;
    for conn in &conns {
        guarded(conn, "the drain", || {
            match conn.outbound.drain(hub.settings.write_timeout) {
                Drained::Done => done.push(conn.id),
                Drained::Pending(p) => progressed |= p,
            }
        });
        if conn.outbound.is_dead() {
            done.push(conn.id);
        }
    }
    let remaining = hub.backlog.remove_drained(&done);
    (remaining > 0, progressed)
}

fn check_timers(hub: &Hub) {
    let now_ms = hub.now_ms();
    let now = Instant::now();
    for conn in hub.registry.all().iter() {
        guarded(conn, "the timers", || check_conn(hub, conn, now, now_ms));
    }
    if hub.memory.is_over() {
        cut_largest_queues(hub);
    }
}

/// Over the memory budget: the largest outbound queues are cut (close
/// 1013) until what remains fits. The largest first, because they hold
/// the most for the fewest clients: usually the slowest readers.
fn cut_largest_queues(hub: &Hub) {
    let mut excess = hub.memory.excess();
    let all = hub.registry.all();
    let mut queues: Vec<(usize, &std::sync::Arc<ConnShared>)> = all
        .iter()
        .map(|conn| (conn.outbound.charged(), conn))
        .filter(|(charged, _)| *charged > 0)
        .collect();
    queues.sort_by_key(|(charged, _)| std::cmp::Reverse(*charged));
    for (_, conn) in queues {
        if excess == 0 {
            break;
        }
        let freed = conn.outbound.cut(CloseFrame::new(
            CloseCode::TRY_AGAIN_LATER,
            "the server is short of memory: try again later",
        ));
        if freed > 0 {
            Counters::add(&hub.counters.over_budget);
            hub.log(format_args!(
                "closed #{} with 1013: its outbound queue held {freed} bytes while the memory budget of {} bytes was spent",
                conn.id,
                hub.memory.limit()
            ));
        }
        excess = excess.saturating_sub(freed);
    }
}

/// Keepalive, idle and close timers of one connection.
fn check_conn(hub: &Hub, conn: &std::sync::Arc<ConnShared>, now: Instant, now_ms: u64) {
    let s = &hub.settings;
    if let Some(started) = conn.outbound.close_started() {
        if now.duration_since(started) >= s.close_timeout {
            conn.outbound.kill(Some(Ended {
                code: CloseCode::ABNORMAL,
                reason: "the peer did not answer the close frame in time".into(),
            }));
        }
        return;
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
                // Written at once if the socket takes it, ahead of what was
                // queued (a peer that does not answer will not read it).
                conn.outbound.cut(CloseFrame::new(
                    CloseCode::INTERNAL_ERROR,
                    "keepalive ping timeout",
                ));
                return;
            }
        } else if now_ms.saturating_sub(heard) >= interval.as_millis() as u64 {
            conn.ping_sent_ms.store(now_ms, Ordering::Relaxed);
            let payload = now_ms.to_be_bytes().to_vec();
            if let Ok(sent) = conn
                .outbound
                .send_from_other(Frame::new(OpCode::Ping, payload), None)
            {
                batch::after_send(hub, conn, sent);
            }
        }
    }
    if let Some(idle) = s.idle_timeout {
        let last_message = load(&conn.last_message_ms);
        if now_ms.saturating_sub(last_message) >= idle.as_millis() as u64 {
            let why = CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout");
            if let Ok(Some(sent)) = conn.outbound.close(&why, Origin::Other, None) {
                batch::after_send(hub, conn, sent);
            }
        }
    }
}
