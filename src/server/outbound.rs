//! A connection's outbound side: the one path by which frames reach its
//! socket, from its own worker and from any other thread.
//!
//! Two kinds of senders share a connection:
//!
//! - its **owner**, the worker thread that reads it: replies from its
//!   handler, pongs, close answers. The owner writes at once, blocking (up to
//!   the write timeout) if the peer is slow: a peer that does not read stops
//!   being read, which is the backpressure a server wants. No hand-off to
//!   another thread, no copy of the payload.
//! - **everyone else**: broadcasts, sends from other connections' handlers or
//!   from application threads. These never wait on this socket. They write
//!   what the kernel takes at once (the socket is switched to non-blocking
//!   for that one write), and queue the rest.
//!
//! ```text
//!              owner (blocking)        others (never block)
//!                     \                  /
//!                      v                v
//!               +---------------------------------+
//!               | queue of frames, bounded bytes  | --full--> policy: disconnect
//!               +---------------------------------+           (1008) or drop
//!                      |  drained by the owner on its next write,
//!                      |  or by the housekeeper, a few bytes at a time,
//!                      v  whenever the socket has room
//!                   socket
//! ```
//!
//! One thread at a time holds the *write turn* and writes, with the lock
//! released; everyone else queues behind it, and the holder writes what they
//! queue too before giving the turn back. So frames never interleave (a frame
//! is written whole, or its unwritten rest waits at the head of the queue),
//! order is kept, and the lock is never held across a write. Only the owner
//! ever writes blocking, and only the owner ever waits for the turn (behind a
//! write that cannot block); other threads never wait at all.
//!
//! A message the owner sends in parts (one fragment each, section 5.4)
//! must not have another message's frames between its fragments. While one
//! is open, data frames from other threads are *parked* beside the queue
//! (counted against its limit) and join it behind the last fragment; control
//! frames may go in between, as the RFC allows.
//!
//! While the peer is still sending a message that the owner passes on in
//! parts (an echo, a relay), the owner must not block on a write: a peer
//! that reads only once it has sent everything would wait on the owner
//! while the owner waits on it. Then the owner writes what the socket takes
//! and leaves the rest to the housekeeper, until the message's last part.
//! Such a peer is busy, not slow: each part that arrives counts as progress
//! for the write timeout, and the queue's limit counts only what other
//! threads queued (the owner's replies are bounded by the write timeout, a
//! message in parts by the message limit).
//!
//! Why the non-blocking switch is safe: the worker may be blocked in `read`
//! on the same socket. A read already in progress stays blocking (the flag is
//! read when a call starts); a read that starts inside the brief window gets
//! `WouldBlock`, and the worker then waits until the writer has restored
//! blocking mode, and reads again (see `Outbound::wait_for_writers`).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;

use super::pool::lock;
use crate::error::Error;
use crate::protocol::Role;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::protocol::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::trace::Tracer;

/// What happens when a client's outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowClientPolicy {
    /// Disconnect the client (with close code 1008 if its socket still takes
    /// a frame). The default: a client that cannot keep up gets a clean
    /// signal instead of silently missing messages.
    Disconnect,
    /// Drop the message for this client and keep it connected.
    DropMessage,
}

/// A frame ready to go on the wire: an encoded header, then a payload.
/// A broadcast's frame is encoded once and shared by every receiver.
#[derive(Clone)]
pub(crate) struct Frame {
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    payload: Payload,
}

#[derive(Clone)]
enum Payload {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Owned(v) => v,
            Payload::Shared(a) => a,
        }
    }
}

impl Frame {
    /// A server frame (unmasked) of `opcode` around an owned payload.
    pub(crate) fn new(opcode: OpCode, payload: Vec<u8>) -> Frame {
        let mut frame = Frame::header_only(opcode, payload.len());
        frame.payload = Payload::Owned(payload);
        frame
    }

    fn header_only(opcode: OpCode, payload_len: usize) -> Frame {
        let encoded = FrameHeader::new(opcode, payload_len as u64, None).encode();
        let mut header = [0u8; MAX_HEADER_LEN];
        header[..encoded.as_bytes().len()].copy_from_slice(encoded.as_bytes());
        Frame {
            header,
            header_len: encoded.as_bytes().len() as u8,
            payload: Payload::Owned(Vec::new()),
        }
    }

    /// A fragment of a message: `opcode` is Text or Binary for the first,
    /// Continuation for the others; `fin` on the last.
    pub(crate) fn fragment(opcode: OpCode, payload: Vec<u8>, fin: bool) -> Frame {
        let mut header = FrameHeader::new(opcode, payload.len() as u64, None);
        header.fin = fin;
        let encoded = header.encode();
        let mut frame = Frame {
            header: [0; MAX_HEADER_LEN],
            header_len: encoded.as_bytes().len() as u8,
            payload: Payload::Owned(payload),
        };
        frame.header[..encoded.as_bytes().len()].copy_from_slice(encoded.as_bytes());
        frame
    }

    /// Whether this is a text, binary or continuation frame.
    fn is_data(&self) -> bool {
        let first = match self.header_len {
            0 => self.payload.bytes().first(),
            _ => self.header.first(),
        };
        first.is_some_and(|byte| byte & 0x08 == 0)
    }

    /// A frame whose header and payload are encoded once into shared bytes.
    pub(crate) fn shared(opcode: OpCode, payload: &[u8]) -> Frame {
        let encoded = FrameHeader::new(opcode, payload.len() as u64, None).encode();
        let mut bytes = Vec::with_capacity(encoded.as_bytes().len() + payload.len());
        bytes.extend_from_slice(encoded.as_bytes());
        bytes.extend_from_slice(payload);
        Frame {
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            payload: Payload::Shared(bytes.into()),
        }
    }

    /// A close frame.
    pub(crate) fn close(frame: Option<&CloseFrame>) -> Frame {
        let mut payload = Vec::new();
        if let Some(frame) = frame {
            frame.encode_payload(&mut payload);
        }
        Frame::new(OpCode::Close, payload)
    }

    fn header(&self) -> &[u8] {
        &self.header[..self.header_len as usize]
    }

    /// Its length on the wire.
    pub(crate) fn wire_len(&self) -> usize {
        self.header_len as usize + self.payload.bytes().len()
    }

    /// The frame as it goes on the wire, in at most two pieces.
    pub(crate) fn parts(&self) -> [&[u8]; 2] {
        [self.header(), self.payload.bytes()]
    }
}

/// A frame in the queue, and how much of it has been written.
struct Queued {
    frame: Frame,
    written: usize,
    /// Sent by the connection's own handler. Only the other frames count
    /// against the queue's limit: the handler's own replies are bounded by
    /// the write timeout, and a message it passes on in parts by the message
    /// limit, while the slow-client policy is for what others pile up.
    from_owner: bool,
}

impl Queued {
    fn from_owner(frame: Frame) -> Queued {
        Queued {
            frame,
            written: 0,
            from_owner: true,
        }
    }

    fn from_other(frame: Frame) -> Queued {
        Queued {
            frame,
            written: 0,
            from_owner: false,
        }
    }

    fn remaining(&self) -> usize {
        self.frame.wire_len() - self.written
    }

    /// The unwritten bytes, in at most two slices.
    fn slices(&self) -> [&[u8]; 2] {
        let header = self.frame.header();
        let payload = self.frame.payload.bytes();
        if self.written < header.len() {
            [&header[self.written..], payload]
        } else {
            [&payload[self.written - header.len()..], &[]]
        }
    }
}

/// Why a connection was ended by someone other than its worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) code: CloseCode,
    pub(crate) reason: String,
}

struct State {
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    /// Someone holds the write turn: it writes without the lock held, and
    /// everyone else only queues (the holder writes what they queue too).
    writer_busy: bool,
    /// The holder of the write turn has switched the socket to non-blocking
    /// for its write (see [`Outbound::wait_for_writers`]).
    nonblocking: bool,
    /// Threads waiting for the turn to be given back: without any, giving
    /// it back costs no wake-up (a system call on every write otherwise).
    waiters: usize,
    /// A close frame is queued or sent: no more frames.
    closing: bool,
    /// When this side started the closing handshake.
    close_started: Option<Instant>,
    /// The socket has been shut down; nothing more will be written.
    dead: bool,
    /// Registered with the housekeeper for draining.
    backlogged: bool,
    /// Queued by a worker that will write it once it has processed its
    /// buffered input (see [`Sent::Deferred`]).
    deferred: bool,
    /// The last time a queued byte was written, or a part of the message
    /// the peer is sending arrived (for the write timeout: a client may read
    /// only once it has sent everything, and while it sends it is not stuck).
    last_progress: Instant,
    /// Why the connection was ended from outside, if it was.
    ended: Option<Ended>,
    /// The owner has sent the first part of a message and not its last.
    in_parts: bool,
    /// Data frames from other threads that wait for the message in parts to
    /// end (their bytes count in `queued_bytes`).
    parked: VecDeque<Queued>,
    /// The peer is in the middle of a message that the owner takes in
    /// parts: the owner's writes do not block (see the module docs).
    peer_sending: bool,
}

/// The outcome of a send from a thread that is not the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Written to the socket.
    Written,
    /// Queued; the housekeeper already drains this queue, or the owner will.
    Queued,
    /// Queued, and the queue needs the housekeeper: register it.
    QueuedNeedsDrain,
    /// Queued without an attempt to write: the sending worker writes it,
    /// with whatever else it sends to this client meanwhile, before it next
    /// waits for input (see [`Outbound::flush_deferred`]).
    Deferred,
}

/// The outcome of a housekeeper's drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    /// Nothing left: forget this connection.
    Done,
    /// Bytes remain; try again soon. `true` if some were written now.
    Pending(bool),
}

/// The outbound side of one connection.
///
/// It holds the socket weakly: the worker owns it, so the descriptor closes
/// when the worker is done with the connection, even if the application
/// keeps [`Connection`](super::Connection) handles to it.
pub(crate) struct Outbound {
    stream: Weak<TcpStream>,
    /// Signalled when the write turn is given back.
    turn_free: Condvar,
    /// Prints every frame as it is handed over (off: one branch).
    tracer: Tracer,
    id: u64,
    state: Mutex<State>,
    max_queued_bytes: usize,
    policy: SlowClientPolicy,
}

impl Outbound {
    pub(crate) fn new(
        stream: &Arc<TcpStream>,
        max_queued_bytes: usize,
        policy: SlowClientPolicy,
        tracer: Tracer,
        id: u64,
    ) -> Outbound {
        Outbound {
            stream: Arc::downgrade(stream),
            turn_free: Condvar::new(),
            tracer,
            id,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued_bytes: 0,
                writer_busy: false,
                nonblocking: false,
                waiters: 0,
                closing: false,
                close_started: None,
                dead: false,
                backlogged: false,
                deferred: false,
                last_progress: Instant::now(),
                ended: None,
                in_parts: false,
                parked: VecDeque::new(),
                peer_sending: false,
            }),
            max_queued_bytes,
            policy,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Prints a frame handed to this connection, when tracing.
    #[inline]
    fn trace(&self, parts: [&[u8]; 2]) {
        if self.tracer.is_on() {
            self.tracer
                .sent_bytes(self.id, Role::Server, &[parts[0], parts[1]].concat());
        }
    }

    fn stream(&self) -> io::Result<Arc<TcpStream>> {
        self.stream
            .upgrade()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the connection is closed"))
    }

    /// Waits until no other thread is in a non-blocking write (see the
    /// module docs): the owner calls it when a read says `WouldBlock`.
    pub(crate) fn wait_for_writers(&self) {
        let mut state = self.lock();
        while state.nonblocking {
            state = self.wait(state);
        }
    }

    fn wait<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.waiters += 1;
        let mut state = self
            .turn_free
            .wait(state)
            .unwrap_or_else(|e| e.into_inner());
        state.waiters -= 1;
        state
    }

    /// Waits for the write turn to be free: held by another thread, it is
    /// only ever held for a write that cannot block.
    fn wait_for_turn<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        while state.writer_busy {
            state = self.wait(state);
        }
        state
    }

    /// Gives the write turn back.
    fn release_turn(&self, state: &mut State) {
        state.writer_busy = false;
        state.nonblocking = false;
        if state.waiters > 0 {
            self.turn_free.notify_all();
        }
    }

    /// Writes the queue, front first, without blocking, as the holder of the
    /// write turn, with the lock released during each write. Stops when the
    /// socket takes no more, or the queue is empty (frames that others queue
    /// meanwhile are written too). Returns the bytes written. The caller
    /// checks that the turn is free.
    fn write_queue_nonblocking<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> (MutexGuard<'a, State>, io::Result<usize>) {
        state.writer_busy = true;
        state.nonblocking = true;
        let mut total = 0;
        let mut batch: Vec<Queued> = Vec::new();
        let result = loop {
            if state.queue.is_empty() {
                break Ok(total);
            }
            // One frame (the usual case) needs no batch allocation.
            let mut single = None;
            if state.queue.len() == 1 {
                single = state.queue.pop_front();
            } else {
                let take = state.queue.len().min(OWNER_BATCH);
                batch.extend(state.queue.drain(..take));
            }
            drop(state);
            let items = match &mut single {
                Some(item) => std::slice::from_mut(item),
                None => &mut batch[..],
            };
            let written = self.write_nonblocking(items);
            state = self.lock();
            let mut full = false;
            for item in batch.drain(..).rev().chain(single) {
                if item.remaining() > 0 {
                    full = true;
                    state.queue.push_front(item);
                }
            }
            match written {
                Ok(n) => {
                    state.queued_bytes -= n;
                    total += n;
                    if full {
                        break Ok(total);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        if total > 0 {
            state.last_progress = Instant::now();
        }
        self.release_turn(&mut state);
        (state, result)
    }

    fn check_open(state: &State) -> Result<(), Error> {
        if state.dead {
            Err(Error::ConnectionClosed)
        } else if state.closing {
            Err(Error::SendAfterClose)
        } else {
            Ok(())
        }
    }

    /// Sends a frame from the owner: written at once, after anything queued,
    /// blocking up to the socket's write timeout.
    pub(crate) fn send_from_owner(&self, parts: [&[u8]; 2]) -> Result<(), Error> {
        let state = self.lock();
        Self::check_open(&state)?;
        Self::check_not_in_parts(&state, parts[0])?;
        self.trace(parts);
        self.owner_write(state, parts)
    }

    fn owner_write<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        parts: [&[u8]; 2],
    ) -> Result<(), Error> {
        state = self.wait_for_turn(state);
        if state.queue.is_empty() && !state.peer_sending {
            state.writer_busy = true;
            drop(state);
            let result = self
                .stream()
                .and_then(|stream| crate::websocket::write_all_vectored(&mut &*stream, &parts));
            let state = self.lock();
            return self.after_owner_write(state, result);
        }
        // Behind queued frames: queue this one too, then write them all.
        let frame = copy_frame(parts);
        state.queued_bytes += frame.wire_len();
        state.queue.push_back(Queued::from_owner(frame));
        state.writer_busy = true;
        self.drain_as_owner(state)
    }

    fn after_owner_write<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        result: io::Result<()>,
    ) -> Result<(), Error> {
        if let Err(e) = result {
            self.release_turn(&mut state);
            self.kill_locked(&mut state, None);
            return Err(Error::Io(e));
        }
        self.drain_as_owner(state)
    }

    /// Writes the whole queue, blocking, with the lock released during each
    /// write; frames go out in batches, several per system call. The caller
    /// has set `writer_busy`.
    fn drain_as_owner<'a>(&'a self, mut state: MutexGuard<'a, State>) -> Result<(), Error> {
        if state.peer_sending {
            // Only what the socket takes now; the worker hands the rest to
            // the housekeeper (`write_without_blocking`).
            self.release_turn(&mut state);
            let (mut state, written) = self.write_queue_nonblocking(state);
            if let Err(e) = written {
                self.kill_locked(&mut state, None);
                return Err(Error::Io(e));
            }
            return Ok(());
        }
        let mut batch = Vec::new();
        while !state.queue.is_empty() {
            let take = state.queue.len().min(OWNER_BATCH);
            batch.extend(state.queue.drain(..take));
            state.queued_bytes -= batch.iter().map(Queued::remaining).sum::<usize>();
            drop(state);
            let result = self
                .stream()
                .and_then(|stream| write_items_blocking(&stream, &mut batch));
            batch.clear();
            state = self.lock();
            if let Err(e) = result {
                self.release_turn(&mut state);
                self.kill_locked(&mut state, None);
                return Err(Error::Io(e));
            }
            state.last_progress = Instant::now();
        }
        self.release_turn(&mut state);
        Ok(())
    }

    /// Queues a frame from the owner without writing it: the owner is busy
    /// with input that is already buffered and writes its replies together
    /// before it waits for more ([`flush_as_owner`](Self::flush_as_owner)).
    /// Past [`CORK_LIMIT`] bytes, everything is written at once.
    pub(crate) fn hold_from_owner(&self, frame: Frame) -> Result<(), Error> {
        let mut state = self.lock();
        Self::check_open(&state)?;
        Self::check_not_in_parts(&state, frame.header())?;
        self.trace(frame.parts());
        state.queued_bytes += frame.wire_len();
        state.queue.push_back(Queued::from_owner(frame));
        if state.queued_bytes < CORK_LIMIT || state.writer_busy {
            return Ok(());
        }
        state.writer_busy = true;
        self.drain_as_owner(state)
    }

    /// A whole message from the owner cannot go inside its own message in
    /// parts (`header` is the frame's encoded header).
    fn check_not_in_parts(state: &State, header: &[u8]) -> Result<(), Error> {
        let data = header.first().is_some_and(|byte| byte & 0x08 == 0);
        if state.in_parts && data {
            return Err(Error::PartOutOfOrder(
                "a whole message cannot be sent while a message in parts is unfinished",
            ));
        }
        Ok(())
    }

    /// Sends one part of a message from the owner, as one fragment. With
    /// `hold`, the owner is corked: the fragment is written with its other
    /// held replies (see [`hold_from_owner`](Self::hold_from_owner)).
    pub(crate) fn send_part_from_owner(
        &self,
        frame: Frame,
        first: bool,
        last: bool,
        hold: bool,
    ) -> Result<(), Error> {
        let mut state = self.lock();
        Self::check_open(&state)?;
        match (first, state.in_parts) {
            (true, true) => {
                return Err(Error::PartOutOfOrder(
                    "a first part was sent before the last part of the message before it",
                ));
            }
            (false, false) => {
                return Err(Error::PartOutOfOrder(
                    "a part was sent without a first part to start its message",
                ));
            }
            _ => {}
        }
        self.trace(frame.parts());
        // Frames queued so far (all sent before this part) go first.
        state.queued_bytes += frame.wire_len();
        state.queue.push_back(Queued::from_owner(frame));
        state.in_parts = !last;
        if last {
            let parked = std::mem::take(&mut state.parked);
            state.queue.extend(parked);
        }
        if hold && (state.queued_bytes < CORK_LIMIT || state.writer_busy) {
            return Ok(());
        }
        let mut state = self.wait_for_turn(state);
        if state.dead || state.queue.is_empty() {
            return Ok(());
        }
        state.writer_busy = true;
        self.drain_as_owner(state)
    }

    /// Records whether the peer is in the middle of a message that the owner
    /// takes in parts; while it is, the owner's writes do not block.
    pub(crate) fn set_peer_sending(&self, sending: bool) {
        let mut state = self.lock();
        state.peer_sending = sending;
        if sending {
            state.last_progress = Instant::now();
        }
    }

    /// Writes what the socket takes now, for the owner, without blocking.
    /// [`Sent::QueuedNeedsDrain`]: the rest needs the housekeeper.
    pub(crate) fn write_without_blocking(&self) -> Sent {
        let state = self.lock();
        if state.dead || state.queue.is_empty() {
            return Sent::Written;
        }
        if state.writer_busy || state.backlogged || state.deferred {
            return Sent::Queued;
        }
        self.write_what_fits(state)
    }

    /// Writes the queue while the socket takes it, without blocking, and
    /// says whether the rest needs the housekeeper. The turn must be free.
    fn write_what_fits<'a>(&'a self, state: MutexGuard<'a, State>) -> Sent {
        let (mut state, written) = self.write_queue_nonblocking(state);
        if written.is_err() {
            self.kill_locked(&mut state, None);
            return Sent::Written;
        }
        if state.queue.is_empty() {
            Sent::Written
        } else {
            self.needs_drain(&mut state)
        }
    }

    /// Writes anything queued, blocking: the owner calls it before it closes
    /// the socket, so that accepted messages are not lost.
    pub(crate) fn flush_as_owner(&self) -> Result<(), Error> {
        let state = self.lock();
        let mut state = self.wait_for_turn(state);
        if state.dead || state.queue.is_empty() {
            return Ok(());
        }
        state.writer_busy = true;
        self.drain_as_owner(state)
    }

    /// Sends a frame from a thread that is not the owner; never blocks on the
    /// socket. With `defer`, a frame for an idle connection is only queued
    /// ([`Sent::Deferred`]): the caller promises a
    /// [`flush_deferred`](Self::flush_deferred) soon.
    pub(crate) fn send_from_other(&self, frame: Frame, defer: bool) -> Result<Sent, Error> {
        let mut state = self.lock();
        Self::check_open(&state)?;
        self.trace(frame.parts());
        if defer
            && state.queue.is_empty()
            && !state.writer_busy
            && !state.backlogged
            && !state.in_parts
        {
            state.queued_bytes += frame.wire_len();
            state.queue.push_back(Queued::from_other(frame));
            state.deferred = true;
            return Ok(Sent::Deferred);
        }
        self.enqueue_or_write(state, frame, true)
    }

    /// Writes what was deferred, without blocking; what the socket does not
    /// take stays queued, and [`Sent::QueuedNeedsDrain`] says so.
    pub(crate) fn flush_deferred(&self) -> Sent {
        let mut state = self.lock();
        if !state.deferred {
            return Sent::Queued;
        }
        state.deferred = false;
        if state.dead || state.queue.is_empty() || state.writer_busy || state.backlogged {
            return Sent::Queued;
        }
        self.write_what_fits(state)
    }

    /// Queues `frame` (within the queue's limit when `bounded`) and, if no
    /// one is writing, writes what the socket takes at once.
    fn enqueue_or_write<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        frame: Frame,
        bounded: bool,
    ) -> Result<Sent, Error> {
        let len = frame.wire_len();
        // The first frame in a queue is always accepted, whatever its size,
        // so that one large message can still reach a healthy client.
        if bounded && state.queued_bytes + len > self.max_queued_bytes {
            let others = Self::queued_by_others(&state);
            if others > 0 && others + len > self.max_queued_bytes {
                return Err(self.queue_full(state));
            }
        }
        if state.in_parts && frame.is_data() {
            // The owner moves it into the queue behind its last part.
            state.queued_bytes += len;
            state.parked.push_back(Queued::from_other(frame));
            return Ok(Sent::Queued);
        }
        state.queued_bytes += len;
        state.queue.push_back(Queued::from_other(frame));
        if state.writer_busy || state.backlogged || state.deferred {
            // Whoever writes, or will write, this queue writes the frame too.
            return Ok(Sent::Queued);
        }
        let (mut state, written) = self.write_queue_nonblocking(state);
        if let Err(e) = written {
            self.kill_locked(&mut state, None);
            return Err(Error::Io(e));
        }
        if state.queue.is_empty() {
            Ok(Sent::Written)
        } else {
            Ok(self.needs_drain(&mut state))
        }
    }

    /// The unwritten bytes of the frames other threads queued (the slow-client
    /// limit's measure; see [`Queued::from_owner`]). Counted only when the
    /// whole queue is over the limit, which is rare.
    fn queued_by_others(state: &State) -> usize {
        state
            .queue
            .iter()
            .chain(&state.parked)
            .filter(|q| !q.from_owner)
            .map(Queued::remaining)
            .sum()
    }

    fn needs_drain(&self, state: &mut State) -> Sent {
        if state.writer_busy || state.backlogged || state.deferred {
            Sent::Queued
        } else {
            state.backlogged = true;
            Sent::QueuedNeedsDrain
        }
    }

    fn queue_full<'a>(&'a self, mut state: MutexGuard<'a, State>) -> Error {
        match self.policy {
            SlowClientPolicy::DropMessage => Error::QueueFull {
                disconnected: false,
            },
            SlowClientPolicy::Disconnect => {
                // Keep only a frame already half written, so the close frame
                // lands on a frame boundary, and try to get it out.
                let keep = state.queue.front().is_some_and(|q| q.written > 0);
                state.queue.truncate(keep as usize);
                state.parked.clear();
                state.queued_bytes = state.queue.iter().map(Queued::remaining).sum();
                let close = CloseFrame::new(
                    CloseCode::POLICY_VIOLATION,
                    "client too slow: outbound queue full",
                );
                let frame = Frame::close(Some(&close));
                self.trace(frame.parts());
                state.queued_bytes += frame.wire_len();
                state.queue.push_back(Queued::from_other(frame));
                state.closing = true;
                if !state.writer_busy {
                    state = self.write_queue_nonblocking(state).0;
                }
                self.kill_locked(
                    &mut state,
                    Some(Ended {
                        code: close.code,
                        reason: close.reason,
                    }),
                );
                Error::QueueFull { disconnected: true }
            }
        }
    }

    /// Writes queued frames while the socket takes them, without blocking.
    /// Returns how many bytes were written.
    fn write_nonblocking(&self, items: &mut [Queued]) -> io::Result<usize> {
        let stream = self.stream()?;
        stream.set_nonblocking(true)?;
        let result = write_items(&stream, items);
        let restored = stream.set_nonblocking(false);
        let written = result?;
        restored?;
        Ok(written)
    }

    /// Drains what the socket takes now (the housekeeper's part). Kills the
    /// connection when nothing could be written for `write_timeout`.
    pub(crate) fn drain_nonblocking(&self, write_timeout: std::time::Duration) -> Drain {
        let state = self.lock();
        if state.dead || state.queue.is_empty() {
            let mut state = state;
            state.backlogged = false;
            return Drain::Done;
        }
        if state.writer_busy {
            // Its holder writes the queue too.
            return Drain::Pending(false);
        }
        let (mut state, written) = self.write_queue_nonblocking(state);
        match written {
            Ok(written) => {
                let progressed = written > 0;
                if !progressed && state.last_progress.elapsed() >= write_timeout {
                    self.kill_locked(
                        &mut state,
                        Some(Ended {
                            code: CloseCode::POLICY_VIOLATION,
                            reason: "write timeout: the client stopped reading".into(),
                        }),
                    );
                }
                if state.queue.is_empty() || state.dead {
                    state.backlogged = false;
                    Drain::Done
                } else {
                    Drain::Pending(progressed)
                }
            }
            Err(_) => {
                self.kill_locked(&mut state, None);
                state.backlogged = false;
                Drain::Done
            }
        }
    }

    /// Starts the closing handshake from this side. Returns `false` if a close
    /// was already under way. Frames queued before it are sent before it.
    pub(crate) fn close(
        &self,
        frame: &CloseFrame,
        from_owner: bool,
    ) -> Result<(bool, Sent), Error> {
        let mut state = self.lock();
        if state.dead {
            return Err(Error::ConnectionClosed);
        }
        if state.closing {
            return Ok((false, Sent::Queued));
        }
        state.closing = true;
        state.close_started = Some(Instant::now());
        let close = Frame::close(Some(frame));
        self.trace(close.parts());
        if from_owner {
            let parts = close.parts();
            self.owner_write(state, parts)
                .map(|_| (true, Sent::Written))
        } else {
            let sent = self.enqueue_or_write(state, close, false)?;
            Ok((true, sent))
        }
    }

    /// Answers the peer's close (the owner calls it). Returns `true` if this
    /// side had started the closing handshake, which the peer's close now
    /// completes, and `false` if the peer started it and was answered.
    pub(crate) fn answer_close(&self, peer: Option<&CloseFrame>) -> Result<bool, Error> {
        let mut state = self.lock();
        if state.dead {
            return Err(Error::ConnectionClosed);
        }
        if state.closing {
            drop(state);
            self.flush_as_owner()?;
            return Ok(true);
        }
        state.closing = true;
        // Echo the peer's code (section 5.5.1), without its reason.
        let answer = Frame::close(peer.map(|f| CloseFrame::new(f.code, "")).as_ref());
        self.trace(answer.parts());
        self.owner_write(state, answer.parts())?;
        Ok(false)
    }

    /// Fails the connection from the owner: a close frame with `code`, unless
    /// one went out already.
    pub(crate) fn fail(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let mut state = self.lock();
        if state.dead || state.closing {
            return Ok(());
        }
        state.closing = true;
        let close = Frame::close(Some(&CloseFrame::new(code, reason)));
        self.trace(close.parts());
        self.owner_write(state, close.parts())
    }

    /// Whether this side sent (or queued) a close frame.
    pub(crate) fn is_closing(&self) -> bool {
        self.lock().closing
    }

    /// When this side started the closing handshake, if it did.
    pub(crate) fn close_started(&self) -> Option<Instant> {
        self.lock().close_started
    }

    /// Whether the socket has been shut down.
    pub(crate) fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// Bytes waiting in the queue.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().queued_bytes
    }

    /// Why the connection was ended from outside, if it was.
    pub(crate) fn ended(&self) -> Option<Ended> {
        self.lock().ended.clone()
    }

    /// Shuts the socket down now, waking the owner from its read.
    pub(crate) fn kill(&self, why: Option<Ended>) {
        let mut state = self.lock();
        self.kill_locked(&mut state, why);
    }

    fn kill_locked(&self, state: &mut State, why: Option<Ended>) {
        if state.ended.is_none() {
            state.ended = why;
        }
        if !state.dead {
            state.dead = true;
            state.closing = true;
            if let Ok(stream) = self.stream() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// The most frames the owner takes from its queue for one round of writes.
const OWNER_BATCH: usize = 64;

/// How many bytes of replies the owner holds back while it processes
/// buffered input, before it writes them anyway.
pub(crate) const CORK_LIMIT: usize = 64 * 1024;

/// Writes the items' unwritten bytes with vectored writes until the socket
/// stops taking them (`WouldBlock`) or all are written; updates each item's
/// progress. Returns the bytes written.
fn write_items(mut stream: &TcpStream, items: &mut [Queued]) -> io::Result<usize> {
    const SLICES: usize = 32;
    let mut total = 0;
    let mut first = 0;
    while first < items.len() {
        let mut slices = [IoSlice::new(&[]); SLICES];
        let mut count = 0;
        for item in &items[first..] {
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
        if count == 0 {
            // Only empty remainders left: nothing to write.
            break;
        }
        let mut n = match stream.write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n;
        while n > 0 && first < items.len() {
            let item = &mut items[first];
            let step = item.remaining().min(n);
            item.written += step;
            n -= step;
            if item.remaining() == 0 {
                first += 1;
            }
        }
        while first < items.len() && items[first].remaining() == 0 {
            first += 1;
        }
    }
    Ok(total)
}

/// Writes every item on a blocking socket; a write that times out (the
/// socket's write timeout) is an error.
fn write_items_blocking(stream: &TcpStream, items: &mut [Queued]) -> io::Result<()> {
    write_items(stream, items)?;
    if items.iter().all(|q| q.remaining() == 0) {
        return Ok(());
    }
    // `write_items` stops early only on `WouldBlock`: on a blocking socket,
    // that is the write timeout.
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the client did not read for the whole write timeout",
    ))
}

fn copy_frame(parts: [&[u8]; 2]) -> Frame {
    let mut bytes = Vec::with_capacity(parts[0].len() + parts[1].len());
    bytes.extend_from_slice(parts[0]);
    bytes.extend_from_slice(parts[1]);
    Frame {
        header: [0; MAX_HEADER_LEN],
        header_len: 0,
        payload: Payload::Owned(bytes),
    }
}
