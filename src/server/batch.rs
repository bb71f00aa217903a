//! A worker's batch: how one system call can carry a burst of replies and
//! broadcasts to each client, instead of one call per frame.
//!
//! While a worker has more of its client's input already buffered, it is
//! *corked*: what its handler sends is held and written when that input is
//! done, together (the worker's own replies wait in its own connection's
//! queue, up to [`CORK_LIMIT`](super::queue::CORK_LIMIT); frames for other
//! connections are *deferred* in theirs, up to
//! [`DEFER_LIMIT`](super::queue::DEFER_LIMIT) each, and the worker owes each
//! of them a flush). The rules that keep this from delaying anyone:
//!
//! - a deferred frame is only a promise to write soon: any other sender to
//!   that connection writes it at once, with its own frame, instead of
//!   waiting for the worker (the [queue](super::queue)'s `push_other`);
//! - the worker writes what it deferred for others, without blocking,
//!   before it does anything that can block: reading, or a blocking write to
//!   its own client when its held replies pass the cork limit. So a slow
//!   client of one worker never holds up the clients it broadcasts to.
//!
//! The batch is the worker's own business, so it lives with the worker's
//! thread: one thread-local context, set while the worker serves a
//! connection, that says which connection the thread serves (so that a
//! [`Connection`](super::Connection) knows when it is used by its own
//! handler), whether the worker is corked, and which connections it owes a
//! flush. Nothing here is shared between threads.

use std::cell::RefCell;
use std::sync::Arc;

use super::hub::Hub;
use super::outbound::Sent;
use super::queue::Frame;
use super::shared::ConnShared;
use crate::error::Result;

struct Context {
    /// The server the thread works for, by address (to tell servers apart).
    hub: usize,
    /// The connection it serves (0: still in the handshake).
    own: u64,
    corked: bool,
    /// Connections owed a flush.
    deferred: Vec<Arc<ConnShared>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

fn hub_key(hub: &Hub) -> usize {
    hub as *const Hub as usize
}

/// Marks the current thread as one of `hub`'s workers, serving a
/// connection from its handshake on.
pub(crate) fn enter(hub: &Hub) {
    CONTEXT.with(|c| {
        *c.borrow_mut() = Some(Context {
            hub: hub_key(hub),
            own: 0,
            corked: false,
            deferred: Vec::new(),
        })
    });
}

/// The thread serves nothing any more.
pub(crate) fn leave() {
    CONTEXT.with(|c| *c.borrow_mut() = None);
}

/// Records which connection the thread serves (0: none).
pub(crate) fn set_own(id: u64) {
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.own = id;
        }
    });
}

/// Whether the current thread is the worker serving connection `id`.
pub(crate) fn is_owner_of(id: u64) -> bool {
    CONTEXT.with(|c| c.borrow().as_ref().is_some_and(|ctx| ctx.own == id))
}

/// Whether the current thread is one of `hub`'s workers.
pub(crate) fn is_serving(hub: &Hub) -> bool {
    CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|ctx| ctx.hub == hub_key(hub))
    })
}

/// Corks or uncorks the worker (see the module docs).
pub(crate) fn set_corked(corked: bool) {
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.corked = corked;
        }
    });
}

/// Whether the worker holds back what its handler sends.
pub(crate) fn is_corked() -> bool {
    CONTEXT.with(|c| c.borrow().as_ref().is_some_and(|ctx| ctx.corked))
}

/// The connection whose worker is calling while corked, if it is: the name
/// a deferral is made under.
fn batching() -> Option<u64> {
    CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|ctx| ctx.corked && ctx.own != 0)
            .map(|ctx| ctx.own)
    })
}

fn defer(conn: &Arc<ConnShared>) {
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.deferred.push(Arc::clone(conn));
        }
    });
}

/// Follows up a send: registers the connection with the housekeeper, or
/// remembers the flush the worker owes it.
pub(crate) fn after_send(hub: &Hub, conn: &Arc<ConnShared>, sent: Sent) {
    match sent {
        Sent::NeedsDrain => hub.backlog.register(conn),
        Sent::Deferred => defer(conn),
        Sent::Done | Sent::MustBlock => {}
    }
}

/// Sends a frame to `conn` from a thread that is not its owner, never
/// waiting on its socket: the one path for broadcasts, other handlers'
/// sends, and the application's.
pub(crate) fn deliver(hub: &Hub, conn: &Arc<ConnShared>, frame: Frame) -> Result<()> {
    let sent = conn.outbound.send_from_other(frame, batching())?;
    after_send(hub, conn, sent);
    Ok(())
}

/// Writes, without blocking, what this worker deferred for other
/// connections; what their sockets do not take goes to the housekeeper.
pub(crate) fn flush_others(hub: &Hub) {
    let Some((own, deferred)) = CONTEXT.with(|c| {
        c.borrow_mut()
            .as_mut()
            .filter(|ctx| !ctx.deferred.is_empty())
            .map(|ctx| (ctx.own, std::mem::take(&mut ctx.deferred)))
    }) else {
        return;
    };
    for conn in &deferred {
        if conn.outbound.flush_deferred(own) == Sent::NeedsDrain {
            hub.backlog.register(conn);
        }
    }
    // Give the emptied list back, to reuse its allocation.
    let mut deferred = deferred;
    deferred.clear();
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            if ctx.deferred.is_empty() {
                ctx.deferred = deferred;
            }
        }
    });
}

/// Writes everything the worker held back: first what it deferred for
/// others (without blocking), then its own connection's replies.
pub(crate) fn flush(hub: &Hub, own: &Arc<ConnShared>) -> Result<()> {
    flush_others(hub);
    let sent = own.outbound.flush_owner()?;
    after_send(hub, own, sent);
    Ok(())
}
