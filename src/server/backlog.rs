//! The housekeeper's list: the connections whose queues hold bytes that
//! only the housekeeper will write (a non-blocking writer left them when
//! the socket was full).
//!
//! The list is the one record of that; no flag on the connection is kept in
//! step with it. The rules:
//!
//! - whoever gives the write turn back with bytes left and no flush owed
//!   (the queue says [`NeedsDrain`](super::queue::Released::NeedsDrain))
//!   registers the connection, after releasing the connection's lock;
//!   registering twice is harmless;
//! - the housekeeper removes a connection only while holding the list's
//!   lock, and only after checking, under the connection's lock taken inside
//!   it, that its queue is drained.
//!
//! So a registration can never be lost: one that comes after the check
//! finds the list without the connection and adds it back, and the check
//! itself sees the bytes of one that came before it. The lock order is
//! always the list's, then a connection's.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::shared::ConnShared;
use super::sync::lock;

/// Connections whose queues the housekeeper drains, and its wake-up call.
#[derive(Default)]
pub(crate) struct Backlog {
    conns: Mutex<BTreeMap<u64, Arc<ConnShared>>>,
    wake: Condvar,
}

impl Backlog {
    /// Asks the housekeeper to drain `conn`'s queue.
    pub(crate) fn register(&self, conn: &Arc<ConnShared>) {
        let mut conns = lock(&self.conns);
        if conns.contains_key(&conn.id) {
            return;
        }
        conns.insert(conn.id, Arc::clone(conn));
        drop(conns);
        self.wake.notify_one();
    }

    /// The connections registered now.
    pub(crate) fn snapshot(&self) -> Vec<Arc<ConnShared>> {
        lock(&self.conns).values().cloned().collect()
    }

    /// Removes the connections among `ids` whose queues are drained (checked
    /// again here, under the list's lock). Returns how many remain.
    pub(crate) fn remove_drained(&self, ids: &[u64]) -> usize {
        let mut conns = lock(&self.conns);
        for id in ids {
            if conns.get(id).is_some_and(|c| c.outbound.is_drained()) {
                conns.remove(id);
            }
        }
        conns.len()
    }

    /// Sleeps until a registration, a [`wake_all`](Self::wake_all), or
    /// `timeout`; returns at once if the list is not empty and `pending` is
    /// false (a registration came after the last round).
    pub(crate) fn sleep(&self, pending: bool, timeout: Duration) {
        let conns = lock(&self.conns);
        if !pending && !conns.is_empty() {
            return;
        }
        let _ = self.wake.wait_timeout(conns, timeout);
    }

    /// Wakes the housekeeper (to stop it).
    pub(crate) fn wake_all(&self) {
        self.wake.notify_all();
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.conns).len()
    }

    pub(crate) fn clear(&self) {
        lock(&self.conns).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::OpCode;
    use crate::server::outbound::{Outbound, Sent};
    use crate::server::queue::{Frame, SlowClientPolicy};
    use std::net::{TcpListener, TcpStream};

    /// A connection on a real loopback socket whose peer never reads.
    fn connection() -> (Arc<ConnShared>, Arc<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, addr) = listener.accept().unwrap();
        let stream = Arc::new(stream);
        let outbound = Outbound::new(
            &stream,
            usize::MAX,
            usize::MAX,
            SlowClientPolicy::Disconnect,
            crate::trace::Tracer::off(),
            1,
        );
        let request = crate::protocol::http::Request::parse(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            Default::default(),
        )
        .unwrap();
        let conn = Arc::new(ConnShared::new(1, addr, request, None, outbound, 1));
        (conn, stream, peer)
    }

    /// The review's second finding, step by step: the housekeeper drains C
    /// and finds it done; before it takes C off its list, a broadcaster
    /// fills C's socket and registers C (already listed: nothing to add).
    /// The old housekeeper then removed C, and every later send to it only
    /// queued. Now the removal checks C's queue again under the list's lock.
    #[test]
    fn a_registration_between_a_drain_and_its_removal_is_not_lost() {
        let (conn, _stream, _peer) = connection();
        let backlog = Backlog::default();
        backlog.register(&conn);
        // The housekeeper's drain: nothing queued.
        assert_eq!(
            conn.outbound.drain(std::time::Duration::from_secs(5)),
            crate::server::outbound::Drained::Done
        );
        // A broadcaster fills the socket; the rest needs the housekeeper.
        let mut sent = Sent::Done;
        for _ in 0..10_000 {
            let frame = Frame::new(OpCode::Binary, vec![0; 64 * 1024]);
            sent = conn.outbound.send_from_other(frame, None).unwrap();
            if sent == Sent::NeedsDrain {
                break;
            }
        }
        assert_eq!(sent, Sent::NeedsDrain, "the socket never filled");
        backlog.register(&conn);
        // The housekeeper now takes its "done" connection off the list.
        assert_eq!(backlog.remove_drained(&[conn.id]), 1);
        assert_eq!(backlog.snapshot().len(), 1);
    }

    #[test]
    fn a_drained_connection_leaves_the_list() {
        let (conn, _stream, _peer) = connection();
        let backlog = Backlog::default();
        backlog.register(&conn);
        backlog.register(&conn);
        assert_eq!(backlog.len(), 1, "registering twice is harmless");
        assert_eq!(backlog.remove_drained(&[conn.id]), 0);
    }
}
