//! The thin I/O shell around a connection's [`Queue`]: it holds the queue
//! under a mutex, asks it what to do, and writes with the lock released.
//! Every rule (what is admitted, who writes, what is charged) is the
//! queue's; this module only moves bytes and keeps the lock discipline:
//!
//! - the lock is never held across a write: the holder of the write turn
//!   writes alone, and everyone else queues behind it;
//! - the turn is held through a [`TurnGuard`], which gives it back on drop,
//!   so that a panic anywhere in a write (a tracer, a broken invariant) can
//!   never leave it taken; it then kills the connection, whose framing is
//!   unknown;
//! - only the owner writes blocking, and only the owner ever waits for the
//!   turn behind a non-blocking write; other senders wait at most for such a
//!   write, and only when the queue is over its limit (it may be making
//!   room).
//!
//! Non-blocking writes switch the socket to non-blocking for their
//! duration. The owner may be blocked in `read` on the same socket: a read
//! already under way stays blocking (the flag is read when a call starts); a
//! read that starts inside the window gets `WouldBlock`, and the owner then
//! waits for the writer to finish ([`Outbound::wait_for_writers`]) and
//! reads again.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::queue::{
    Action, Admit, BATCH_FRAMES, Batch, DrainStep, Ended, Frame, Origin, Queue, Released,
    SlowClientPolicy, Turn,
};
use super::sync::lock;
use crate::error::Error;
use crate::protocol::Role;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::protocol::frame::OpCode;
use crate::trace::Tracer;

/// What the outbound side writes to: a socket, or a test's stand-in.
pub(crate) trait Wire: Send + Sync {
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn set_nonblocking(&self, on: bool) -> io::Result<()>;
    /// Ends the connection both ways, waking its reader.
    fn shutdown(&self);
}

impl Wire for TcpStream {
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(&mut &*self, bufs)
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        TcpStream::set_nonblocking(self, on)
    }

    fn shutdown(&self) {
        let _ = TcpStream::shutdown(self, Shutdown::Both);
    }
}

/// What a caller must do after a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Nothing more.
    Done,
    /// Bytes remain that only the housekeeper can write: register the
    /// connection with it.
    NeedsDrain,
    /// Queued for the calling worker's batch: it owes this connection a
    /// flush ([`Outbound::flush_deferred`]) before it next blocks.
    Deferred,
    /// The owner must write blocking ([`Outbound::write_blocking`]), after
    /// flushing what it deferred for other connections.
    MustBlock,
}

/// What a housekeeper's drain did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Nothing left: the connection may leave the list.
    Done,
    /// Bytes remain; `true` if some were written now.
    Pending(bool),
}

struct Locked {
    queue: Queue,
    /// Threads waiting for the turn: with none, giving it back costs no
    /// wake-up (a system call otherwise).
    waiters: usize,
    /// Kept between writes, to reuse its allocation.
    batch: Batch,
}

/// The outbound side of one connection.
///
/// It holds the socket weakly: the worker owns it, so the descriptor closes
/// when the worker is done with the connection, even if the application
/// keeps handles to it.
pub(crate) struct Outbound<W: Wire = TcpStream> {
    wire: Weak<W>,
    state: Mutex<Locked>,
    /// Signalled when the turn is given back.
    turn_free: Condvar,
    tracer: Tracer,
    id: u64,
}

type Guard<'a> = MutexGuard<'a, Locked>;

/// The write turn, held: given back by [`release`](Self::release), or, if
/// its holder unwinds, by `Drop`, which kills the connection.
struct TurnGuard<'a, W: Wire> {
    out: &'a Outbound<W>,
    armed: bool,
}

impl<W: Wire> TurnGuard<'_, W> {
    fn release(mut self, g: &mut Guard<'_>) -> Released {
        self.armed = false;
        let mut released = g.queue.release_turn();
        if g.queue.take_kill_on_release() {
            // A cut came while this turn wrote: its close went out after
            // the frame in progress, if the socket took it.
            self.out.kill_locked(g, None);
            released = Released::Idle;
        }
        self.out.notify(g);
        released
    }
}

impl<W: Wire> Drop for TurnGuard<'_, W> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut g = self.out.lock();
        let nonblocking = g.queue.turn() == Turn::NonBlocking;
        let shut = g.queue.abandon_turn();
        if let Some(wire) = self.out.wire.upgrade() {
            if nonblocking {
                let _ = wire.set_nonblocking(false);
            }
            if shut {
                wire.shutdown();
            }
        }
        self.out.notify(&g);
    }
}

impl<W: Wire> Outbound<W> {
    pub(crate) fn new(
        wire: &Arc<W>,
        max_queued_bytes: usize,
        max_message_size: usize,
        policy: SlowClientPolicy,
        tracer: Tracer,
        id: u64,
    ) -> Outbound<W> {
        Outbound {
            wire: Arc::downgrade(wire),
            state: Mutex::new(Locked {
                queue: Queue::new(
                    id,
                    max_queued_bytes,
                    max_message_size,
                    policy,
                    Instant::now(),
                ),
                waiters: 0,
                batch: Batch::default(),
            }),
            turn_free: Condvar::new(),
            tracer,
            id,
        }
    }

    /// The same, its queue's charges counted in the server's memory budget.
    pub(crate) fn with_budget(mut self, budget: std::sync::Arc<super::budget::Budget>) -> Self {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let queue = std::mem::replace(
            &mut state.queue,
            Queue::new(self.id, 0, 0, SlowClientPolicy::Disconnect, Instant::now()),
        );
        state.queue = queue.with_budget(budget);
        self
    }

    fn lock(&self) -> Guard<'_> {
        lock(&self.state)
    }

    fn notify(&self, g: &Locked) {
        if g.waiters > 0 {
            self.turn_free.notify_all();
        }
    }

    fn wait<'a>(&'a self, mut g: Guard<'a>) -> Guard<'a> {
        g.waiters += 1;
        let mut g = self.turn_free.wait(g).unwrap_or_else(|e| e.into_inner());
        g.waiters -= 1;
        g
    }

    /// Waits while another thread is in a non-blocking write (the only kind
    /// anyone but the owner makes, so the wait is short).
    fn wait_nonblocking_writer<'a>(&'a self, mut g: Guard<'a>) -> Guard<'a> {
        while g.queue.turn() == Turn::NonBlocking {
            g = self.wait(g);
        }
        g
    }

    /// Waits until the turn is free: the owner before a blocking write.
    fn wait_for_turn<'a>(&'a self, mut g: Guard<'a>) -> Guard<'a> {
        while g.queue.turn() != Turn::Free {
            g = self.wait(g);
        }
        g
    }

    /// Prints a frame handed to this connection, when tracing.
    #[inline]
    fn trace(&self, parts: [&[u8]; 2]) {
        if self.tracer.is_on() {
            self.tracer
                .sent_bytes(self.id, Role::Server, &[parts[0], parts[1]].concat());
        }
    }

    /// The owner calls this when its read says `WouldBlock`: another thread
    /// switched the socket to non-blocking for a moment.
    pub(crate) fn wait_for_writers(&self) {
        let g = self.lock();
        drop(self.wait_nonblocking_writer(g));
    }

    fn kill_locked(&self, g: &mut Guard<'_>, why: Option<Ended>) {
        if g.queue.kill(why) {
            if let Some(wire) = self.wire.upgrade() {
                wire.shutdown();
            }
        }
    }

    /// Writes what the socket takes now, without blocking. The turn must be
    /// free. Says whether the housekeeper must drain the rest.
    fn write_what_fits<'a>(&'a self, mut g: Guard<'a>) -> (Guard<'a>, Released) {
        let Some(wire) = self.wire.upgrade() else {
            g.queue.kill(None);
            return (g, Released::Idle);
        };
        g.queue.take_turn(Turn::NonBlocking);
        let turn = TurnGuard {
            out: self,
            armed: true,
        };
        let mut batch = std::mem::take(&mut g.batch);
        drop(g);
        let mut result = wire.set_nonblocking(true);
        let mut g = self.lock();
        while result.is_ok() {
            g.queue.take_batch(BATCH_FRAMES, &mut batch);
            if batch.is_empty() {
                break;
            }
            drop(g);
            result = write_batch(&*wire, &mut batch);
            let done = batch.is_done();
            g = self.lock();
            g.queue.return_batch(&mut batch, Instant::now());
            if !done {
                break; // the socket is full
            }
        }
        drop(g);
        let restored = wire.set_nonblocking(false);
        let mut g = self.lock();
        g.batch = batch;
        if result.is_err() || restored.is_err() {
            self.kill_locked(&mut g, None);
        }
        let released = turn.release(&mut g);
        (g, released)
    }

    /// Writes the whole queue, blocking up to the socket's write timeout:
    /// the owner only, with the turn taken as [`Turn::Blocking`].
    fn drain_blocking<'a>(&'a self, turn: TurnGuard<'a, W>, mut g: Guard<'a>) -> Result<(), Error> {
        let Some(wire) = self.wire.upgrade() else {
            g.queue.kill(None);
            turn.release(&mut g);
            return Err(Error::ConnectionClosed);
        };
        let mut batch = std::mem::take(&mut g.batch);
        let mut result = Ok(());
        loop {
            g.queue.take_batch(BATCH_FRAMES, &mut batch);
            if batch.is_empty() {
                break;
            }
            drop(g);
            result = write_batch(&*wire, &mut batch).and_then(|()| {
                if batch.is_done() {
                    Ok(())
                } else {
                    // On a blocking socket, `WouldBlock` is the write timeout.
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read for the whole write timeout",
                    ))
                }
            });
            g = self.lock();
            g.queue.return_batch(&mut batch, Instant::now());
            if result.is_err() {
                break;
            }
        }
        g.batch = batch;
        if result.is_err() {
            self.kill_locked(&mut g, None);
        }
        turn.release(&mut g);
        result.map_err(Error::Io)
    }

    /// Carries out what the queue asked of a sender.
    fn act<'a>(&'a self, g: Guard<'a>, action: Action) -> Result<Sent, Error> {
        match action {
            Action::Nothing => Ok(Sent::Done),
            Action::Deferred => Ok(Sent::Deferred),
            Action::WriteBlocking => Ok(Sent::MustBlock),
            Action::WriteNow => {
                if g.queue.turn() != Turn::Free {
                    return Ok(Sent::Done);
                }
                Ok(match self.write_what_fits(g).1 {
                    Released::NeedsDrain => Sent::NeedsDrain,
                    Released::Idle => Sent::Done,
                })
            }
        }
    }

    /// The owner writes everything queued, blocking (after
    /// [`Sent::MustBlock`], and before it closes the socket, so that
    /// accepted messages are not lost).
    pub(crate) fn write_blocking(&self) -> Result<(), Error> {
        let g = self.lock();
        let mut g = self.wait_for_turn(g);
        if g.queue.is_dead() || g.queue.is_idle() {
            return Ok(());
        }
        g.queue.take_turn(Turn::Blocking);
        let turn = TurnGuard {
            out: self,
            armed: true,
        };
        self.drain_blocking(turn, g)
    }

    /// Sends a frame from the owner, given as its header and payload: at
    /// once from the caller's buffers when nothing is ahead of it, or queued
    /// (held, with `hold`, while the worker batches its replies).
    pub(crate) fn send_from_owner(
        &self,
        opcode: OpCode,
        parts: [&[u8]; 2],
        hold: bool,
    ) -> Result<Sent, Error> {
        let mut g = self.lock();
        g.queue.check_open()?;
        if !hold {
            // A non-blocking write is brief; then the frame may go direct.
            g = self.wait_nonblocking_writer(g);
            g.queue.check_open()?;
        }
        if g.queue.owner_may_write_direct(hold) {
            self.trace(parts);
            let Some(wire) = self.wire.upgrade() else {
                return Err(Error::ConnectionClosed);
            };
            g.queue.take_turn(Turn::Blocking);
            let turn = TurnGuard {
                out: self,
                armed: true,
            };
            drop(g);
            let written = write_all_vectored(&*wire, &parts);
            let mut g = self.lock();
            if let Err(e) = written {
                self.kill_locked(&mut g, None);
                turn.release(&mut g);
                return Err(Error::Io(e));
            }
            // Whatever others queued meanwhile.
            return self.drain_blocking(turn, g).map(|()| Sent::Done);
        }
        let frame = Frame::copied(opcode, parts);
        self.trace(frame.parts());
        let action = g.queue.push_owner(frame, hold)?;
        self.act(g, action)
    }

    /// Sends one part of a message from the owner, as one fragment.
    pub(crate) fn send_part_from_owner(
        &self,
        frame: Frame,
        first: bool,
        last: bool,
        hold: bool,
    ) -> Result<Sent, Error> {
        let mut g = self.lock();
        g.queue.check_open()?;
        self.trace(frame.parts());
        let action = g.queue.push_part(frame, first, last, hold)?;
        self.act(g, action)
    }

    /// Answers a ping from the peer (the owner).
    pub(crate) fn answer_ping(&self, payload: Vec<u8>, hold: bool) -> Result<Sent, Error> {
        let mut g = self.lock();
        if self.tracer.is_on() && !g.queue.is_closing() {
            let pong = Frame::new(OpCode::Pong, payload.clone());
            self.trace(pong.parts());
        }
        let action = g.queue.set_pong(payload, hold);
        self.act(g, action)
    }

    /// Sends a frame from a thread that is not the owner; never waits on the
    /// socket. `batching` names the calling worker's own connection while it
    /// batches its sends (see [`Sent::Deferred`]).
    pub(crate) fn send_from_other(
        &self,
        frame: Frame,
        batching: Option<u64>,
    ) -> Result<Sent, Error> {
        let g = self.lock();
        g.queue.check_open()?;
        let (mut g, mut drained) = self.admit(g, frame.cost())?;
        self.trace(frame.parts());
        let action = g.queue.push_other(frame, batching);
        let sent = self.act(g, action)?;
        if sent == Sent::NeedsDrain {
            drained = Released::NeedsDrain;
        }
        Ok(match (sent, drained) {
            (Sent::Done, Released::NeedsDrain) => Sent::NeedsDrain,
            (sent, _) => sent,
        })
    }

    /// Admits a frame of `cost` from others, writing first if the queue is
    /// over its limit; applies the slow-client policy if it stays full.
    fn admit<'a>(&'a self, g: Guard<'a>, cost: usize) -> Result<(Guard<'a>, Released), Error> {
        let mut released = Released::Idle;
        let mut g = g;
        if g.queue.admit(cost) == Admit::WriteFirst {
            g = self.wait_nonblocking_writer(g);
            if g.queue.turn() == Turn::Free && !g.queue.is_idle() {
                let (after, r) = self.write_what_fits(g);
                g = after;
                released = r;
            }
            g.queue.check_open()?;
        }
        if g.queue.admit(cost) == Admit::Yes {
            return Ok((g, released));
        }
        Err(self.full(g))
    }

    fn full<'a>(&'a self, mut g: Guard<'a>) -> Error {
        match g.queue.policy() {
            SlowClientPolicy::DropMessage => Error::QueueFull {
                disconnected: false,
            },
            SlowClientPolicy::Disconnect => {
                let close = g.queue.cut();
                self.trace(Frame::close(Some(&close)).parts());
                self.write_close_and_kill(g);
                Error::QueueFull { disconnected: true }
            }
        }
    }

    /// Closes the connection as [`SlowClientPolicy::Disconnect`] does, for a
    /// frame from others that found the queue full and cannot be dropped
    /// whatever the policy: one compressed with the connection's own
    /// context, which the client's decompressor must see.
    pub(crate) fn cut_slow_client(&self) {
        self.cut(Queue::slow_client_close());
    }

    /// Ends the connection from outside with `close`: what is queued is
    /// dropped (a frame already begun is finished), the close goes out at
    /// once if the socket takes it, and the connection is killed. For a
    /// peer that is not worth waiting for: one that stopped answering
    /// pings, or whose queue the memory budget cuts. Returns the bytes let
    /// go.
    pub(crate) fn cut(&self, close: CloseFrame) -> usize {
        let mut g = self.lock();
        if g.queue.is_dead() {
            return 0;
        }
        let before = g.queue.charged();
        let close = g.queue.cut_with(close);
        self.trace(Frame::close(Some(&close)).parts());
        self.write_close_and_kill(g);
        before
    }

    /// After a cut: writes the close if the socket takes it and kills the
    /// connection. When another thread is writing without blocking, it
    /// writes the close after its frame and kills when it gives the turn
    /// back, moments later. A writer blocked on a full socket would only
    /// hold the end back until the write timeout, and the close could not
    /// get through anyway: that connection is killed now.
    fn write_close_and_kill<'a>(&'a self, mut g: Guard<'a>) {
        match g.queue.turn() {
            Turn::Free => {
                g = self.write_what_fits(g).0;
                self.kill_locked(&mut g, None);
            }
            Turn::NonBlocking => g.queue.kill_on_release(),
            Turn::Blocking => self.kill_locked(&mut g, None),
        }
    }

    /// Writes what `worker` deferred for this connection, without blocking
    /// (nothing, if another writer has done it meanwhile).
    pub(crate) fn flush_deferred(&self, worker: u64) -> Sent {
        let g = self.lock();
        if !g.queue.is_owed_by(worker) || g.queue.turn() != Turn::Free {
            return Sent::Done;
        }
        match self.write_what_fits(g).1 {
            Released::NeedsDrain => Sent::NeedsDrain,
            Released::Idle => Sent::Done,
        }
    }

    /// The housekeeper's drain: writes what the socket takes now, and ends
    /// the connection when nothing could be written for `write_timeout`.
    pub(crate) fn drain(&self, write_timeout: Duration) -> Drained {
        let g = self.lock();
        match g.queue.drain_step() {
            DrainStep::Done => Drained::Done,
            DrainStep::Busy => Drained::Pending(false),
            DrainStep::Write => {
                let before = g.queue.queued_bytes();
                let (mut g, _) = self.write_what_fits(g);
                let progressed = g.queue.queued_bytes() < before;
                if !progressed && g.queue.stalled(Instant::now(), write_timeout) {
                    self.kill_locked(
                        &mut g,
                        Some(Ended {
                            code: CloseCode::POLICY_VIOLATION,
                            reason: "write timeout: the client stopped reading".into(),
                        }),
                    );
                }
                if g.queue.drain_step() == DrainStep::Done {
                    Drained::Done
                } else {
                    Drained::Pending(progressed)
                }
            }
        }
    }

    /// Whether the housekeeper is done with this connection: nothing left to
    /// write, or nothing ever will be.
    pub(crate) fn is_drained(&self) -> bool {
        self.lock().queue.drain_step() == DrainStep::Done
    }

    /// Starts the closing handshake from this side. `Ok(None)`: a close was
    /// already under way. Frames queued before it are sent before it.
    pub(crate) fn close(
        &self,
        frame: &CloseFrame,
        origin: Origin,
        batching: Option<u64>,
    ) -> Result<Option<Sent>, Error> {
        let mut g = self.lock();
        let Some(action) = g.queue.close(frame, origin, batching, Instant::now())? else {
            return Ok(None);
        };
        self.trace(Frame::close(Some(frame)).parts());
        self.act(g, action).map(Some)
    }

    /// Sends the close the owner's session owes the peer (an echo or a
    /// failure) and writes it, blocking. Returns whether it was sent: not
    /// when this side's close had gone out already.
    pub(crate) fn answer_close(&self, frame: Option<&CloseFrame>) -> Result<bool, Error> {
        let mut g = self.lock();
        if !g.queue.answer_close(frame) {
            return Ok(false);
        }
        self.trace(Frame::close(frame).parts());
        drop(g);
        self.write_blocking()?;
        Ok(true)
    }

    /// Records whether the peer is in the middle of a message that the owner
    /// passes on in parts.
    pub(crate) fn set_peer_sending(&self, sending: bool) {
        self.lock().queue.set_peer_sending(sending, Instant::now());
    }

    /// Writes the owner's held replies: blocking, except while the peer is
    /// still sending a message passed on in parts (see the queue's rules),
    /// when only what the socket takes now is written.
    pub(crate) fn flush_owner(&self) -> Result<Sent, Error> {
        if self.lock().queue.peer_sending() {
            return Ok(self.write_without_blocking());
        }
        self.write_blocking().map(|()| Sent::Done)
    }

    /// Writes what the socket takes now, for the owner, without blocking.
    pub(crate) fn write_without_blocking(&self) -> Sent {
        let g = self.lock();
        if g.queue.is_dead() || g.queue.is_idle() || g.queue.turn() != Turn::Free {
            return Sent::Done;
        }
        match self.write_what_fits(g).1 {
            Released::NeedsDrain => Sent::NeedsDrain,
            Released::Idle => Sent::Done,
        }
    }

    /// Whether this side sent (or queued) a close frame.
    pub(crate) fn is_closing(&self) -> bool {
        self.lock().queue.is_closing()
    }

    /// When this side started the closing handshake, if it did.
    pub(crate) fn close_started(&self) -> Option<Instant> {
        self.lock().queue.close_started()
    }

    /// Whether the socket has been shut down.
    pub(crate) fn is_dead(&self) -> bool {
        self.lock().queue.is_dead()
    }

    /// Wire bytes waiting to be written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().queue.queued_bytes()
    }

    /// Memory held for this client, bookkeeping included (what the limit
    /// counts).
    pub(crate) fn charged(&self) -> usize {
        self.lock().queue.charged()
    }

    /// Why the connection was ended from outside, if it was.
    pub(crate) fn ended(&self) -> Option<Ended> {
        self.lock().queue.ended().cloned()
    }

    /// Shuts the socket down now, waking the owner from its read.
    pub(crate) fn kill(&self, why: Option<Ended>) {
        let mut g = self.lock();
        self.kill_locked(&mut g, why);
    }
}

/// Writes the batch's unwritten bytes with vectored writes until all are
/// written or the wire stops taking them (`WouldBlock`: the caller tells
/// from [`Batch::is_done`]).
fn write_batch<W: Wire + ?Sized>(wire: &W, batch: &mut Batch) -> io::Result<()> {
    const SLICES: usize = 32;
    while !batch.is_done() {
        let result = {
            let mut slices = [IoSlice::new(&[]); SLICES];
            let mut count = 0;
            for item in batch.pending() {
                if count + 2 > SLICES {
                    break;
                }
                for part in item.slices() {
                    if !part.is_empty() {
                        slices[count] = IoSlice::new(part);
                        count += 1;
                    }
                }
            }
            wire.write_vectored(&slices[..count])
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => batch.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `parts` whole on a blocking wire.
fn write_all_vectored<W: Wire + ?Sized>(wire: &W, parts: &[&[u8]; 2]) -> io::Result<()> {
    let mut offset = 0;
    let total = parts[0].len() + parts[1].len();
    while offset < total {
        let slices = if offset < parts[0].len() {
            [IoSlice::new(&parts[0][offset..]), IoSlice::new(parts[1])]
        } else {
            [
                IoSlice::new(&parts[1][offset - parts[0].len()..]),
                IoSlice::new(&[]),
            ]
        };
        match wire.write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => offset += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client did not read for the whole write timeout",
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A wire that takes everything, or panics when told to.
    #[derive(Default)]
    struct TestWire {
        panic: AtomicBool,
        shut: AtomicBool,
        written: Mutex<Vec<u8>>,
    }

    impl Wire for TestWire {
        fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            assert!(!self.panic.load(Ordering::Relaxed), "a write that panics");
            let mut out = lock(&self.written);
            let before = out.len();
            for b in bufs {
                out.extend_from_slice(b);
            }
            Ok(out.len() - before)
        }
        fn set_nonblocking(&self, _: bool) -> io::Result<()> {
            Ok(())
        }
        fn shutdown(&self) {
            self.shut.store(true, Ordering::Relaxed);
        }
    }

    fn outbound(wire: &Arc<TestWire>) -> Outbound<TestWire> {
        Outbound::new(
            wire,
            1 << 20,
            1 << 20,
            SlowClientPolicy::Disconnect,
            Tracer::off(),
            1,
        )
    }

    /// The review's hazard: a panic while the turn was held left it taken
    /// for good, and the owner (and shutdown with it) waited forever. The
    /// guard gives it back and kills the connection.
    #[test]
    fn a_panic_in_a_write_gives_the_turn_back_and_kills_the_connection() {
        let wire = Arc::new(TestWire::default());
        let out = outbound(&wire);
        wire.panic.store(true, Ordering::Relaxed);
        let frame = Frame::new(OpCode::Text, b"hello".to_vec());
        let result = catch_unwind(AssertUnwindSafe(|| out.send_from_other(frame, None)));
        assert!(result.is_err(), "the write panicked");
        assert!(wire.shut.load(Ordering::Relaxed));
        assert!(out.is_dead());
        assert_eq!(out.charged(), 0);
        assert_eq!(out.lock().queue.turn(), Turn::Free);
        // The owner neither hangs nor writes.
        out.write_blocking().unwrap();
        out.wait_for_writers();
        assert!(matches!(
            out.send_from_owner(OpCode::Text, [b"\x81\x01", b"x"], false),
            Err(Error::ConnectionClosed)
        ));
    }

    /// A wire whose first write waits for the test's word, so that a writer
    /// can be held with the turn in the middle of a frame.
    struct GatedWire {
        inner: TestWire,
        entered: Mutex<Option<std::sync::mpsc::Sender<()>>>,
        gate: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    }

    impl Wire for GatedWire {
        fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let entered = lock(&self.entered).take();
            if let Some(entered) = entered {
                let _ = entered.send(());
                let gate = lock(&self.gate).take();
                if let Some(gate) = gate {
                    let _ = gate.recv_timeout(Duration::from_secs(10));
                }
            }
            self.inner.write_vectored(bufs)
        }
        fn set_nonblocking(&self, on: bool) -> io::Result<()> {
            self.inner.set_nonblocking(on)
        }
        fn shutdown(&self) {
            self.inner.shutdown()
        }
    }

    /// The chaos example's silent clients saw, now and then, the TCP end
    /// without the 1011 of the ping timeout: the cut killed the connection
    /// while a broadcast was being written, and the close was dropped with
    /// the queue. Now the writer sends it after its frame, then the end.
    #[test]
    fn a_cut_while_another_thread_writes_sends_the_close_after_its_frame() {
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (open, gate) = std::sync::mpsc::channel();
        let wire = Arc::new(GatedWire {
            inner: TestWire::default(),
            entered: Mutex::new(Some(entered_tx)),
            gate: Mutex::new(Some(gate)),
        });
        let out = Arc::new(Outbound::new(
            &wire,
            1 << 20,
            1 << 20,
            SlowClientPolicy::Disconnect,
            Tracer::off(),
            1,
        ));
        let writer = {
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                out.send_from_other(Frame::new(OpCode::Text, b"pulse".to_vec()), None)
                    .map(|_| ())
            })
        };
        entered.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(out.lock().queue.turn(), Turn::NonBlocking);
        out.cut(CloseFrame::new(CloseCode::INTERNAL_ERROR, "ping timeout"));
        assert!(
            !wire.inner.shut.load(Ordering::Relaxed),
            "not before the close"
        );
        open.send(()).unwrap();
        writer.join().unwrap().unwrap();
        let mut expected = b"\x81\x05pulse\x88\x0e\x03\xf3".to_vec();
        expected.extend_from_slice(b"ping timeout");
        assert_eq!(*lock(&wire.inner.written), expected);
        assert!(wire.inner.shut.load(Ordering::Relaxed));
        assert!(out.is_dead());
        assert_eq!(out.charged(), 0);
    }

    #[test]
    fn an_owner_frame_goes_out_after_what_others_queued() {
        let wire = Arc::new(TestWire::default());
        let out = outbound(&wire);
        out.send_from_other(Frame::new(OpCode::Text, b"a".to_vec()), Some(9))
            .unwrap();
        assert_eq!(
            out.send_from_owner(OpCode::Text, [b"\x81\x01", b"b"], false)
                .unwrap(),
            Sent::MustBlock
        );
        out.write_blocking().unwrap();
        assert_eq!(*lock(&wire.written), b"\x81\x01a\x81\x01b");
        assert_eq!(out.charged(), 0);
    }
}
