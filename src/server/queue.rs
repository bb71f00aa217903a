//! The send side of one server connection as a state machine with no
//! sockets and no locks: the frames waiting for the wire, what they cost,
//! who may write them, and the rules for admitting more. The I/O shell
//! (the `outbound` module) holds a [`Queue`] under its mutex, asks
//! it what to do, and does the writing.
//!
//! RFC 6455 asks three things of this side: frames are never interleaved
//! (section 5.4: a fragmented message is not split by another message's
//! data frames, though control frames may come in between), nothing follows
//! a close frame (section 5.5.1), and a pong answers a ping "as soon as is
//! practical", where answering only the latest of several pings is allowed
//! (section 5.5.3).
//!
//! # Who sends
//!
//! - The **owner**: the worker that reads the connection, for its handler's
//!   replies, pongs and close answers. It writes blocking, up to the write
//!   timeout, so a client that does not read stops being read: backpressure.
//! - **Others**: broadcasts, other connections' handlers, application
//!   threads, the housekeeper's pings. They never wait on this socket: they
//!   write what it takes at once and queue the rest.
//!
//! # The rules
//!
//! Every change of state is one of the methods below; nothing else touches
//! the fields.
//!
//! | event | rule |
//! |---|---|
//! | [`admit`](Queue::admit) | a frame from others is admitted while `others_charge + cost <= limit`, or when nothing from others waits (one large message still reaches a healthy client). Over the limit, the socket is tried first (`WriteFirst`) unless the owner holds the turn for a blocking write; only a queue still over the limit after that is full. |
//! | [`push_other`](Queue::push_other) | a data frame while the owner's message in parts is open is *parked*; otherwise it joins the back. Whoever holds the turn writes it; into an empty queue, the caller writes it (`WriteNow`), or, for a worker batching its sends, defers it (`Deferred`) and owes a flush; behind a flush owed by someone else, the caller writes now (no worker is waited on); behind the housekeeper's backlog, nothing to do. |
//! | [`push_owner`](Queue::push_owner), [`push_part`](Queue::push_part), [`set_pong`](Queue::set_pong) | the owner's frames are held while it batches (`hold`), up to [`CORK_LIMIT`]; written without blocking while the peer is still sending a message passed on in parts, up to the larger of `limit` and the message limit; written blocking otherwise, or when past those bounds. Every ping gets a pong, except in a flood at a client that does not read, where only the latest does. |
//! | [`take_turn`](Queue::take_turn) / [`release_turn`](Queue::release_turn) | one writer at a time. Taking the turn clears a flush owed by someone else (the writer does it). Giving it back with bytes left and no flush owed means the housekeeper must drain (`NeedsDrain`): the housekeeper's list is the one record of that. |
//! | [`take_batch`](Queue::take_batch) / [`return_batch`](Queue::return_batch) | the turn's holder takes frames out to write them with the lock released; they stay charged while in flight. Written frames are discharged; the unwritten rest goes back to the front. Frames cut meanwhile (slow-client policy) are dropped then, but a frame already begun is finished, so the close lands on a frame boundary. |
//! | [`close`](Queue::close), [`answer_close`](Queue::answer_close) | one close frame per connection; after it nothing but what was queued before it. Parked frames and pongs after a close are dropped. |
//! | [`cut`](Queue::cut), [`kill`](Queue::kill), [`abandon_turn`](Queue::abandon_turn) | a full queue under [`SlowClientPolicy::Disconnect`] keeps only a begun frame and a close (1008); a killed queue holds nothing more; a turn whose holder panicked is given back, and the connection is killed (its framing is unknown). |
//! | [`kill_on_release`](Queue::kill_on_release) / [`take_kill_on_release`](Queue::take_kill_on_release) | a cut that finds the turn taken by a writer that does not block leaves the kill to it: it writes the begun frame and the close, and the connection is killed when the turn is given back. Killed at once, the close would be dropped with the queue and the peer would see the TCP end alone. |
//!
//! # What a frame costs
//!
//! One rule counts every byte the connection holds: a frame is charged its
//! wire length plus [`FRAME_OVERHEAD`] (the bookkeeping that holds it: a
//! queue of 2-byte frames is mostly bookkeeping) from the moment it is
//! queued until its last byte is written, while in flight included. The
//! charge is kept per origin, so that the slow-client policy judges what
//! others piled up (a handler's own large echo does not get its client cut
//! by a concurrent broadcast), and the owner's own frames are bounded by
//! backpressure: past [`CORK_LIMIT`] the owner writes blocking, and while
//! the peer is sending a message the owner passes on in parts (when it must
//! not block), past the larger of `limit` and the message limit. A message
//! passed on in 1-byte parts is charged its bookkeeping too, so it cannot
//! cost more than that bound either. Arithmetic is checked.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::budget::Budget;
use crate::error::Error;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::protocol::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};

/// What happens when a client's outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowClientPolicy {
    /// Disconnect the client (with close code 1008 if its socket still takes
    /// a frame). The default: a client that cannot keep up gets a clean
    /// signal instead of silently missing messages.
    Disconnect,
    /// Drop the message for this client and keep it connected.
    DropMessage,
}

/// The memory a queued frame costs beyond its wire bytes: the queue entry
/// and the payload's allocation header. Charged per frame, so that many
/// tiny frames cannot hold far more memory than the limit says (Node's `ws`
/// learned this in GHSA-96hv-2xvq-fx4p).
pub(crate) const FRAME_OVERHEAD: usize = std::mem::size_of::<Queued>() + 16;

/// How many bytes of replies the owner holds back while it has buffered
/// input to process, before it writes them anyway.
pub(crate) const CORK_LIMIT: usize = 64 * 1024;

/// How many bytes a worker defers for another connection before it writes
/// them at once instead.
pub(crate) const DEFER_LIMIT: usize = 64 * 1024;

/// The most frames taken out for one write (the I/O shell writes at most
/// this many slices per system call anyway).
pub(crate) const BATCH_FRAMES: usize = 64;

/// A frame ready to go on the wire: an encoded header, then a payload. A
/// broadcast's frame is encoded once and shared by every receiver.
#[derive(Clone)]
pub(crate) struct Frame {
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    payload: Payload,
    kind: Kind,
}

#[derive(Clone)]
enum Payload {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

/// What a frame is, for the rules: data frames may not enter a message in
/// parts; a pong not yet begun may be replaced by a later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Data,
    Pong,
    Control,
}

impl Frame {
    /// A server frame (unmasked, final) of `opcode` around an owned payload.
    pub(crate) fn new(opcode: OpCode, payload: Vec<u8>) -> Frame {
        Frame::fragment(opcode, payload, true)
    }

    /// A fragment of a message: `opcode` is Text or Binary for the first,
    /// Continuation for the others; `fin` on the last.
    pub(crate) fn fragment(opcode: OpCode, payload: Vec<u8>, fin: bool) -> Frame {
        let mut header = FrameHeader::new(opcode, payload.len() as u64, None);
        header.fin = fin;
        let encoded = header.encode();
        let bytes = encoded.as_bytes();
        let mut frame = Frame {
            header: [0; MAX_HEADER_LEN],
            header_len: bytes.len() as u8,
            payload: Payload::Owned(payload),
            kind: Kind::of(opcode),
        };
        frame.header[..bytes.len()].copy_from_slice(bytes);
        frame
    }

    /// A frame whose header and payload are encoded once into shared bytes.
    pub(crate) fn shared(opcode: OpCode, payload: &[u8]) -> Frame {
        Frame::shared_with_rsv(opcode, payload, 0)
    }

    /// [`shared`](Self::shared) with RSV bits (RSV1 for a compressed
    /// message, RFC 7692 section 6.1).
    pub(crate) fn shared_with_rsv(opcode: OpCode, payload: &[u8], rsv: u8) -> Frame {
        let mut header = FrameHeader::new(opcode, payload.len() as u64, None);
        header.rsv = rsv;
        let encoded = header.encode();
        let mut bytes = Vec::with_capacity(encoded.as_bytes().len() + payload.len());
        bytes.extend_from_slice(encoded.as_bytes());
        bytes.extend_from_slice(payload);
        Frame {
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            payload: Payload::Shared(bytes.into()),
            kind: Kind::of(opcode),
        }
    }

    /// The same frame with RSV1 set: the first frame of a compressed
    /// message (RFC 7692 section 6.1).
    pub(crate) fn compressed(mut self) -> Frame {
        if self.header_len > 0 {
            self.header[0] |= 0x40;
        }
        self
    }

    /// A copy of a frame given as header and payload slices.
    pub(crate) fn copied(opcode: OpCode, parts: [&[u8]; 2]) -> Frame {
        let mut bytes = Vec::with_capacity(parts[0].len() + parts[1].len());
        bytes.extend_from_slice(parts[0]);
        bytes.extend_from_slice(parts[1]);
        Frame {
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            payload: Payload::Owned(bytes),
            kind: Kind::of(opcode),
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

    fn payload(&self) -> &[u8] {
        match &self.payload {
            Payload::Owned(v) => v,
            Payload::Shared(a) => a,
        }
    }

    /// Its length on the wire.
    pub(crate) fn wire_len(&self) -> usize {
        self.header_len as usize + self.payload().len()
    }

    /// What holding it costs (see the module docs).
    pub(crate) fn cost(&self) -> usize {
        self.wire_len().saturating_add(FRAME_OVERHEAD)
    }

    /// The frame as it goes on the wire, in at most two pieces.
    pub(crate) fn parts(&self) -> [&[u8]; 2] {
        [self.header(), self.payload()]
    }

    fn is_data(&self) -> bool {
        self.kind == Kind::Data
    }
}

impl Kind {
    fn of(opcode: OpCode) -> Kind {
        if opcode == OpCode::Pong {
            Kind::Pong
        } else if opcode.is_control() {
            Kind::Control
        } else {
            Kind::Data
        }
    }
}

/// Who queued a frame: its charge is kept apart (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Owner,
    Other,
}

/// A frame in the queue, and how much of it has been written.
pub(crate) struct Queued {
    frame: Frame,
    written: usize,
    origin: Origin,
}

impl Queued {
    fn remaining(&self) -> usize {
        self.frame.wire_len() - self.written
    }

    /// The unwritten bytes, in at most two slices.
    pub(crate) fn slices(&self) -> [&[u8]; 2] {
        let header = self.frame.header();
        let payload = self.frame.payload();
        if self.written < header.len() {
            [&header[self.written..], payload]
        } else {
            [&payload[self.written - header.len()..], &[]]
        }
    }
}

/// Frames taken out by the turn's holder to be written with the lock
/// released (see [`Queue::take_batch`]).
#[derive(Default)]
pub(crate) struct Batch {
    items: Vec<Queued>,
    /// The first item not yet wholly written.
    first: usize,
}

impl Batch {
    /// The unwritten items, front first.
    pub(crate) fn pending(&self) -> &[Queued] {
        &self.items[self.first..]
    }

    /// Records that `n` more bytes were written, front first.
    pub(crate) fn advance(&mut self, mut n: usize) {
        while n > 0 && self.first < self.items.len() {
            let item = &mut self.items[self.first];
            let step = item.remaining().min(n);
            item.written += step;
            n -= step;
            if item.remaining() == 0 {
                self.first += 1;
            }
        }
        while self.first < self.items.len() && self.items[self.first].remaining() == 0 {
            self.first += 1;
        }
    }

    /// Whether every byte has been written.
    pub(crate) fn is_done(&self) -> bool {
        self.first == self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Who may write, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Nobody is writing.
    Free,
    /// The owner writes with blocking writes (bounded by the write timeout).
    Blocking,
    /// Someone writes with the socket switched to non-blocking: it never
    /// waits on the peer, and the owner's reads wait for it to finish.
    NonBlocking,
}

/// What the caller of a send must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing: the turn's holder, a worker that owes a flush, or the
    /// housekeeper writes it.
    Nothing,
    /// Take the turn and write what the socket takes now, without blocking.
    WriteNow,
    /// Take the turn and write everything, blocking (the owner only).
    WriteBlocking,
    /// Queued for a worker batching its sends: it owes this connection a
    /// flush before it next blocks.
    Deferred,
}

/// The verdict on a frame from others before it is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Yes,
    /// Over the limit: write what the socket takes, then ask again.
    WriteFirst,
    /// Full: apply the slow-client policy.
    Full,
}

/// What giving the turn back leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Released {
    /// Nothing queued, or a worker owes the flush.
    Idle,
    /// Bytes remain and only the housekeeper can write them: register it.
    NeedsDrain,
}

/// What the housekeeper does with a connection on its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainStep {
    /// Nothing left to drain (or the connection is dead): off the list.
    Done,
    /// Someone holds the turn and writes the queue: try again later.
    Busy,
    /// Take the turn and write what the socket takes.
    Write,
}

/// Why a connection was ended by someone other than its worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) code: CloseCode,
    pub(crate) reason: String,
}

/// The send side of one connection (see the module docs for the rules).
pub(crate) struct Queue {
    frames: VecDeque<Queued>,
    /// Data frames from others waiting for the owner's message in parts to
    /// end.
    parked: VecDeque<Queued>,
    owner_charge: usize,
    others_charge: usize,
    /// The server-wide count the charges also go to (see
    /// [`budget`](super::budget)); `None` in unit tests of the queue alone.
    budget: Option<Arc<Budget>>,
    /// The charges of the batch taken out, by origin.
    in_flight: (usize, usize),
    turn: Turn,
    /// A worker (named by the id of the connection it serves) holds frames
    /// here and will write them before it next blocks.
    owed_by: Option<u64>,
    /// The owner has sent the first part of a message and not its last.
    in_parts: bool,
    /// The peer is in the middle of a message the owner passes on in parts:
    /// the owner's writes do not block, up to the limit.
    peer_sending: bool,
    /// A close frame is queued or sent: no more frames.
    closing: bool,
    /// When this side started the closing handshake.
    close_started: Option<Instant>,
    /// The socket has been shut down; nothing more will be written.
    dead: bool,
    /// Frames were cut while a batch was out: its unbegun frames are dropped
    /// when it comes back.
    cut: bool,
    /// A cut found the turn taken: the holder kills the connection when it
    /// gives the turn back, after writing the close.
    kill_on_release: bool,
    ended: Option<Ended>,
    /// The last time a byte was written, or a part of the message the peer
    /// is sending arrived (a peer busy sending is not stuck).
    last_progress: Instant,
    id: u64,
    limit: usize,
    /// What the owner may hold without blocking while the peer is sending a
    /// message it passes on in parts: the larger of `limit` and the message
    /// limit (a message passed on cannot need more than itself, with the
    /// bookkeeping of its parts).
    owner_limit: usize,
    policy: SlowClientPolicy,
}

/// Takes `cost` off a charge. The charges are sums of costs added when
/// frames are queued, so this never goes below zero; if a bug ever made it,
/// tests fail loudly and release builds stay bounded rather than wrap.
fn discharge(charge: &mut usize, cost: usize) {
    debug_assert!(*charge >= cost, "discharging {cost} from {charge}");
    *charge = charge.saturating_sub(cost);
}

/// A queue that ends gives back to the budget what it still held.
impl Drop for Queue {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.discharge(self.charged());
        }
    }
}

impl Queue {
    /// An empty queue for connection `id`.
    pub(crate) fn new(
        id: u64,
        limit: usize,
        message_limit: usize,
        policy: SlowClientPolicy,
        now: Instant,
    ) -> Queue {
        Queue {
            frames: VecDeque::new(),
            parked: VecDeque::new(),
            owner_charge: 0,
            others_charge: 0,
            budget: None,
            in_flight: (0, 0),
            turn: Turn::Free,
            owed_by: None,
            in_parts: false,
            peer_sending: false,
            closing: false,
            close_started: None,
            dead: false,
            cut: false,
            kill_on_release: false,
            ended: None,
            last_progress: now,
            id,
            limit,
            owner_limit: limit.max(message_limit),
            policy,
        }
    }

    /// The same queue, its charges counted in the server's `budget` too.
    pub(crate) fn with_budget(mut self, budget: Arc<Budget>) -> Queue {
        self.budget = Some(budget);
        self
    }

    fn charge(&mut self, origin: Origin, cost: usize) {
        let charge = match origin {
            Origin::Owner => &mut self.owner_charge,
            Origin::Other => &mut self.others_charge,
        };
        *charge = charge.saturating_add(cost);
        if let Some(budget) = &self.budget {
            budget.charge(cost);
        }
    }

    fn discharge(&mut self, origin: Origin, cost: usize) {
        let charge = match origin {
            Origin::Owner => &mut self.owner_charge,
            Origin::Other => &mut self.others_charge,
        };
        let before = *charge;
        discharge(charge, cost);
        if let Some(budget) = &self.budget {
            budget.discharge(before - *charge);
        }
    }

    fn enqueue(&mut self, frame: Frame, origin: Origin) {
        self.charge(origin, frame.cost());
        self.frames.push_back(Queued {
            frame,
            written: 0,
            origin,
        });
    }

    /// Whether nothing waits to be written (a batch in flight aside).
    pub(crate) fn is_idle(&self) -> bool {
        self.frames.is_empty()
    }

    /// Every byte this connection holds for its client, bookkeeping included.
    pub(crate) fn charged(&self) -> usize {
        self.owner_charge.saturating_add(self.others_charge)
    }

    /// Bytes on the wire still to be written (for users: what is queued).
    pub(crate) fn queued_bytes(&self) -> usize {
        self.frames
            .iter()
            .chain(&self.parked)
            .map(Queued::remaining)
            .sum()
    }

    pub(crate) fn peer_sending(&self) -> bool {
        self.peer_sending
    }

    pub(crate) fn turn(&self) -> Turn {
        self.turn
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead
    }

    pub(crate) fn close_started(&self) -> Option<Instant> {
        self.close_started
    }

    pub(crate) fn ended(&self) -> Option<&Ended> {
        self.ended.as_ref()
    }

    pub(crate) fn policy(&self) -> SlowClientPolicy {
        self.policy
    }

    /// Refuses sends after a close or on a dead connection.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if self.dead {
            Err(Error::ConnectionClosed)
        } else if self.closing {
            Err(Error::SendAfterClose)
        } else {
            Ok(())
        }
    }

    /// Whether a frame of `cost` from others fits (see the module docs).
    pub(crate) fn admit(&self, cost: usize) -> Admit {
        if self.others_charge == 0 || self.others_charge.saturating_add(cost) <= self.limit {
            Admit::Yes
        } else if self.turn == Turn::Blocking {
            // The owner is in a blocking write: the client is not taking
            // what it is sent.
            Admit::Full
        } else if self.turn == Turn::Free && self.is_idle() {
            // All that others hold is parked behind the owner's message in
            // parts: writing cannot make room.
            Admit::Full
        } else {
            Admit::WriteFirst
        }
    }

    /// Queues a frame from others (after [`admit`](Self::admit)). `batching`
    /// names the connection whose worker is calling while it batches its
    /// sends, if it is.
    pub(crate) fn push_other(&mut self, frame: Frame, batching: Option<u64>) -> Action {
        if self.in_parts && frame.is_data() {
            // Moved behind the owner's last part, which writes it.
            self.charge(Origin::Other, frame.cost());
            self.parked.push_back(Queued {
                frame,
                written: 0,
                origin: Origin::Other,
            });
            return Action::Nothing;
        }
        let was_idle = self.is_idle();
        self.enqueue(frame, Origin::Other);
        if self.turn != Turn::Free {
            return Action::Nothing;
        }
        if was_idle {
            return match batching {
                Some(worker) => {
                    self.owed_by = Some(worker);
                    Action::Deferred
                }
                None => Action::WriteNow,
            };
        }
        match self.owed_by {
            // The housekeeper drains it.
            None => Action::Nothing,
            Some(worker) if batching == Some(worker) && self.others_charge < DEFER_LIMIT => {
                Action::Nothing
            }
            // Another worker owes the flush: do not wait for it.
            Some(_) => Action::WriteNow,
        }
    }

    /// What the owner does after queueing (or holding) a frame of its own.
    fn owner_action(&mut self, hold: bool) -> Action {
        if hold && self.owner_charge < CORK_LIMIT {
            if self.turn == Turn::Free {
                self.owed_by = Some(self.id);
            }
            return Action::Nothing;
        }
        if self.peer_sending && self.owner_charge <= self.owner_limit {
            return if self.turn == Turn::Free {
                Action::WriteNow
            } else {
                Action::Nothing
            };
        }
        Action::WriteBlocking
    }

    /// Whether the owner may write a frame straight from its own buffers,
    /// without queueing a copy: nothing is ahead of it, nobody writes, and
    /// the write may block.
    pub(crate) fn owner_may_write_direct(&self, hold: bool) -> bool {
        !hold && !self.peer_sending && !self.in_parts && self.turn == Turn::Free && self.is_idle()
    }

    /// Queues a whole message or control frame from the owner; `hold` while
    /// its worker batches replies.
    pub(crate) fn push_owner(&mut self, frame: Frame, hold: bool) -> Result<Action, Error> {
        self.check_open()?;
        if self.in_parts && frame.is_data() {
            return Err(Error::PartOutOfOrder(
                "a whole message cannot be sent while a message in parts is unfinished",
            ));
        }
        self.enqueue(frame, Origin::Owner);
        Ok(self.owner_action(hold))
    }

    /// Queues one part of a message from the owner, as one fragment.
    pub(crate) fn push_part(
        &mut self,
        frame: Frame,
        first: bool,
        last: bool,
        hold: bool,
    ) -> Result<Action, Error> {
        self.check_open()?;
        match (first, self.in_parts) {
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
        self.enqueue(frame, Origin::Owner);
        self.in_parts = !last;
        if last {
            // Their charge stays with others.
            let parked = std::mem::take(&mut self.parked);
            self.frames.extend(parked);
        }
        Ok(self.owner_action(hold))
    }

    /// Answers a ping. Every ping gets its pong, in order with the owner's
    /// other frames, except under pressure: when the owner already holds a
    /// cork's worth for a client that is not reading, a pong not yet begun
    /// at the back of the queue is replaced by the new one (section 5.5.3
    /// lets an endpoint answer only the latest ping), so that a flood of
    /// pings costs one pong.
    pub(crate) fn set_pong(&mut self, payload: Vec<u8>, hold: bool) -> Action {
        if self.closing || self.dead {
            return Action::Nothing;
        }
        let pong = Frame::new(OpCode::Pong, payload);
        let replaceable = self.frames.back().is_some_and(|q| {
            q.frame.kind == Kind::Pong && q.written == 0 && q.origin == Origin::Owner
        });
        if replaceable && self.owner_charge >= CORK_LIMIT {
            if let Some(old) = self.frames.pop_back() {
                self.discharge(Origin::Owner, old.frame.cost());
            }
        }
        self.enqueue(pong, Origin::Owner);
        self.owner_action(hold)
    }

    /// Records whether the peer is in the middle of a message that the owner
    /// passes on in parts. Each part that arrives is progress.
    pub(crate) fn set_peer_sending(&mut self, sending: bool, now: Instant) {
        self.peer_sending = sending;
        if sending {
            self.last_progress = now;
        }
    }

    /// Takes the turn, which must be free. Whoever takes it writes what a
    /// worker had deferred or held, so no flush is owed any more.
    pub(crate) fn take_turn(&mut self, turn: Turn) {
        debug_assert_eq!(self.turn, Turn::Free, "the turn is taken");
        debug_assert_ne!(turn, Turn::Free);
        self.turn = turn;
        self.owed_by = None;
    }

    /// Whether `worker` still owes this queue a flush (another writer may
    /// have done it meanwhile).
    pub(crate) fn is_owed_by(&self, worker: u64) -> bool {
        self.owed_by == Some(worker)
    }

    /// Asks the turn's holder to kill the connection when it gives the turn
    /// back (see the module's table).
    pub(crate) fn kill_on_release(&mut self) {
        debug_assert_ne!(self.turn, Turn::Free);
        self.kill_on_release = true;
    }

    /// Whether a cut asked for the kill that giving the turn back now owes;
    /// asked once.
    pub(crate) fn take_kill_on_release(&mut self) -> bool {
        std::mem::take(&mut self.kill_on_release)
    }

    /// Gives the turn back.
    pub(crate) fn release_turn(&mut self) -> Released {
        self.turn = Turn::Free;
        if self.frames.is_empty() && self.frames.capacity() > 1024 {
            // A burst is over: do not keep its bookkeeping.
            self.frames.shrink_to(16);
        }
        if !self.dead && !self.is_idle() && self.owed_by.is_none() {
            Released::NeedsDrain
        } else {
            Released::Idle
        }
    }

    /// Gives back the turn of a holder that panicked while writing: the
    /// connection is killed (a frame may be half written), and what was in
    /// flight is discharged. Returns whether the socket must be shut down.
    pub(crate) fn abandon_turn(&mut self) -> bool {
        let (owner, others) = std::mem::take(&mut self.in_flight);
        self.discharge(Origin::Owner, owner);
        self.discharge(Origin::Other, others);
        self.turn = Turn::Free;
        self.kill(None)
    }

    /// Takes up to `max` frames out, front first, for the turn's holder to
    /// write. They stay charged while in flight.
    pub(crate) fn take_batch(&mut self, max: usize, batch: &mut Batch) {
        debug_assert_ne!(self.turn, Turn::Free, "batch taken without the turn");
        batch.items.clear();
        batch.first = 0;
        let take = self.frames.len().min(max);
        batch.items.extend(self.frames.drain(..take));
        let mut in_flight = (0, 0);
        for item in &batch.items {
            match item.origin {
                Origin::Owner => in_flight.0 += item.frame.cost(),
                Origin::Other => in_flight.1 += item.frame.cost(),
            }
        }
        self.in_flight = in_flight;
    }

    /// Takes back a batch after its write: written frames are discharged,
    /// the rest goes back to the front (unless cut or dead).
    pub(crate) fn return_batch(&mut self, batch: &mut Batch, now: Instant) {
        self.in_flight = (0, 0);
        let mut progressed = false;
        let mut back = Vec::new();
        for item in batch.items.drain(..) {
            progressed |= item.written > 0;
            let keep = item.remaining() > 0
                && !self.dead
                && !(self.cut && item.written == 0 && item.frame.is_data());
            if keep {
                back.push(item);
            } else {
                self.discharge(item.origin, item.frame.cost());
            }
        }
        batch.first = 0;
        if self.cut {
            // The close queued by the cut goes after a begun frame.
            self.cut = false;
        }
        for item in back.into_iter().rev() {
            self.frames.push_front(item);
        }
        if progressed {
            self.last_progress = now;
        }
    }

    /// The housekeeper's question for a connection on its list.
    pub(crate) fn drain_step(&self) -> DrainStep {
        if self.dead || self.is_idle() {
            DrainStep::Done
        } else if self.turn != Turn::Free {
            DrainStep::Busy
        } else {
            DrainStep::Write
        }
    }

    /// Whether nothing has been written, nor any part received, for
    /// `timeout` (the housekeeper then ends the connection).
    pub(crate) fn stalled(&self, now: Instant, timeout: Duration) -> bool {
        !self.is_idle() && now.saturating_duration_since(self.last_progress) >= timeout
    }

    fn drop_parked(&mut self) {
        for item in std::mem::take(&mut self.parked) {
            self.discharge(item.origin, item.frame.cost());
        }
    }

    /// Starts the closing handshake from this side. `Ok(None)`: a close was
    /// already under way. Frames queued before it go before it.
    pub(crate) fn close(
        &mut self,
        frame: &CloseFrame,
        origin: Origin,
        batching: Option<u64>,
        now: Instant,
    ) -> Result<Option<Action>, Error> {
        if self.dead {
            return Err(Error::ConnectionClosed);
        }
        if self.closing {
            return Ok(None);
        }
        self.closing = true;
        self.close_started = Some(now);
        // Parked data would come after the close; a close frame may go
        // between the fragments of the owner's message.
        self.drop_parked();
        self.in_parts = false;
        let close = Frame::close(Some(frame));
        Ok(Some(match origin {
            Origin::Owner => {
                self.enqueue(close, Origin::Owner);
                self.owner_action(false)
            }
            Origin::Other => self.push_other(close, batching),
        }))
    }

    /// Sends the close the owner's session owes the peer (see
    /// [`protocol::session`](crate::protocol::session)): the echo of the
    /// peer's close, or a failure with the broken rule's code. Returns
    /// whether it was queued: not when a close went out already (then ours
    /// crossed the peer's, and completes the handshake), or the connection
    /// is dead.
    pub(crate) fn answer_close(&mut self, frame: Option<&CloseFrame>) -> bool {
        if self.dead || self.closing {
            return false;
        }
        self.closing = true;
        self.drop_parked();
        self.in_parts = false;
        self.enqueue(Frame::close(frame), Origin::Owner);
        true
    }

    /// A full queue under [`SlowClientPolicy::Disconnect`]: keeps only a
    /// frame already begun and queues a close with 1008. The caller writes
    /// what it can and kills the connection.
    pub(crate) fn cut(&mut self) -> CloseFrame {
        self.cut_with(Queue::slow_client_close())
    }

    /// The close a slow client gets when its queue is full.
    pub(crate) fn slow_client_close() -> CloseFrame {
        CloseFrame::new(
            CloseCode::POLICY_VIOLATION,
            "client too slow: outbound queue full",
        )
    }

    /// [`cut`](Self::cut), with another close: the memory budget's cut of
    /// the largest queues sends 1013 (try again later).
    pub(crate) fn cut_with(&mut self, close: CloseFrame) -> CloseFrame {
        let keep = usize::from(self.frames.front().is_some_and(|q| q.written > 0));
        for item in self.frames.drain(keep..).collect::<Vec<_>>() {
            self.discharge(item.origin, item.frame.cost());
        }
        self.drop_parked();
        if self.turn != Turn::Free {
            self.cut = true;
        }
        self.closing = true;
        self.in_parts = false;
        self.enqueue(Frame::close(Some(&close)), Origin::Other);
        if self.ended.is_none() {
            self.ended = Some(Ended {
                code: close.code,
                reason: close.reason.clone(),
            });
        }
        close
    }

    /// Marks the connection dead and drops everything queued (a batch in
    /// flight is dropped when it returns). Returns whether it was alive:
    /// the caller then shuts the socket down.
    pub(crate) fn kill(&mut self, why: Option<Ended>) -> bool {
        if self.ended.is_none() {
            self.ended = why;
        }
        for item in std::mem::take(&mut self.frames) {
            self.discharge(item.origin, item.frame.cost());
        }
        self.drop_parked();
        self.closing = true;
        let was_alive = !self.dead;
        self.dead = true;
        was_alive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u64 = 7;
    const WORKER: u64 = 9;

    fn queue(limit: usize) -> Queue {
        Queue::new(
            ME,
            limit,
            limit,
            SlowClientPolicy::Disconnect,
            Instant::now(),
        )
    }

    fn text(len: usize) -> Frame {
        Frame::new(OpCode::Text, vec![b'x'; len])
    }

    /// Writes a whole batch as the turn's holder would, and gives it back.
    fn write_all(q: &mut Queue) -> Vec<u8> {
        let mut out = Vec::new();
        let mut batch = Batch::default();
        loop {
            q.take_batch(BATCH_FRAMES, &mut batch);
            if batch.is_empty() {
                return out;
            }
            for item in batch.pending() {
                for s in item.slices() {
                    out.extend_from_slice(s);
                }
            }
            let n = out.len();
            batch.advance(usize::MAX);
            q.return_batch(&mut batch, Instant::now());
            assert!(n > 0);
        }
    }

    fn assert_empty_and_discharged(q: &Queue) {
        assert!(q.is_idle());
        assert_eq!((q.owner_charge, q.others_charge), (0, 0));
    }

    #[test]
    fn a_frame_costs_its_wire_bytes_and_its_bookkeeping() {
        let frame = text(2);
        assert_eq!(frame.wire_len(), 4);
        assert_eq!(frame.cost(), 4 + FRAME_OVERHEAD);
    }

    #[test]
    fn other_into_an_idle_queue_is_written_by_the_sender() {
        let mut q = queue(1 << 20);
        assert_eq!(q.admit(text(10).cost()), Admit::Yes);
        assert_eq!(q.push_other(text(10), None), Action::WriteNow);
        q.take_turn(Turn::NonBlocking);
        assert_eq!(write_all(&mut q).len(), 12);
        assert_eq!(q.release_turn(), Released::Idle);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn other_behind_the_turn_holder_only_queues() {
        let mut q = queue(1 << 20);
        q.take_turn(Turn::NonBlocking);
        assert_eq!(q.push_other(text(10), None), Action::Nothing);
        assert_eq!(write_all(&mut q).len(), 12);
        q.release_turn();
    }

    #[test]
    fn a_writer_that_leaves_bytes_registers_with_the_housekeeper() {
        let mut q = queue(1 << 20);
        q.push_other(text(10), None);
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        batch.advance(5); // the socket took five bytes
        q.return_batch(&mut batch, Instant::now());
        assert_eq!(q.release_turn(), Released::NeedsDrain);
        assert_eq!(q.queued_bytes(), 7);
        // Another sender finds bytes queued and nobody owing a flush: the
        // housekeeper has it.
        assert_eq!(q.push_other(text(1), None), Action::Nothing);
        assert_eq!(q.drain_step(), DrainStep::Write);
    }

    #[test]
    fn a_batching_worker_defers_and_keeps_batching_its_own_deferral() {
        let mut q = queue(1 << 20);
        assert_eq!(q.push_other(text(10), Some(WORKER)), Action::Deferred);
        assert!(q.is_owed_by(WORKER));
        assert_eq!(q.push_other(text(10), Some(WORKER)), Action::Nothing);
        // Its flush: the turn, everything in one batch, nothing owed after.
        q.take_turn(Turn::NonBlocking);
        assert_eq!(write_all(&mut q).len(), 24);
        assert_eq!(q.release_turn(), Released::Idle);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn a_flush_owed_by_another_worker_is_not_waited_for() {
        let mut q = queue(1 << 20);
        q.push_other(text(10), Some(WORKER));
        // Any other sender writes the deferred frames itself.
        assert_eq!(q.push_other(text(10), None), Action::WriteNow);
        assert_eq!(q.push_other(text(10), Some(WORKER + 1)), Action::WriteNow);
        q.take_turn(Turn::NonBlocking);
        assert!(!q.is_owed_by(WORKER), "the writer took the flush over");
        assert_eq!(write_all(&mut q).len(), 36);
        assert_eq!(q.release_turn(), Released::Idle);
    }

    #[test]
    fn deferring_stops_at_the_defer_limit() {
        let mut q = queue(1 << 20);
        q.push_other(text(DEFER_LIMIT), Some(WORKER));
        assert_eq!(q.push_other(text(10), Some(WORKER)), Action::WriteNow);
    }

    #[test]
    fn a_deferred_flush_that_leaves_bytes_registers_with_the_housekeeper() {
        let mut q = queue(1 << 20);
        q.push_other(text(10), Some(WORKER));
        assert!(q.is_owed_by(WORKER));
        q.take_turn(Turn::NonBlocking);
        assert!(!q.is_owed_by(WORKER), "the flush is under way");
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        q.return_batch(&mut batch, Instant::now()); // nothing written
        // The flush is done, so the rest is the housekeeper's.
        assert_eq!(q.release_turn(), Released::NeedsDrain);
    }

    #[test]
    fn others_over_the_limit_write_first_then_are_full() {
        let limit = 4 * text(100).cost();
        let mut q = queue(limit);
        for _ in 0..4 {
            assert_eq!(q.admit(text(100).cost()), Admit::Yes);
            q.push_other(text(100), None);
        }
        assert_eq!(q.admit(text(100).cost()), Admit::WriteFirst);
        // With the owner in a blocking write, the client is not reading.
        q.take_turn(Turn::Blocking);
        assert_eq!(q.admit(text(100).cost()), Admit::Full);
        q.release_turn();
    }

    #[test]
    fn the_first_frame_from_others_is_admitted_whatever_its_size() {
        let mut q = queue(100);
        assert_eq!(q.admit(text(10_000).cost()), Admit::Yes);
        q.push_other(text(10_000), None);
        assert_ne!(q.admit(text(1).cost()), Admit::Yes);
    }

    #[test]
    fn the_owners_frames_do_not_make_the_queue_full_for_others() {
        let mut q = queue(1000);
        q.push_owner(text(5000), false).unwrap();
        assert_eq!(q.admit(text(10).cost()), Admit::Yes);
    }

    #[test]
    fn the_server_budget_sees_every_charge_and_gets_all_back() {
        let budget = Arc::new(Budget::new(1 << 20));
        let mut q = queue(1 << 20).with_budget(Arc::clone(&budget));
        q.push_owner(text(5000), false).unwrap();
        q.push_other(text(1000), None);
        assert_eq!(budget.held(), q.charged());
        q.take_turn(Turn::Blocking);
        let written = write_all(&mut q);
        assert!(!written.is_empty());
        assert_eq!(budget.held(), 0, "written frames are discharged");
        q.push_other(text(1000), None);
        assert_eq!(budget.held(), text(1000).cost());
        drop(q);
        assert_eq!(
            budget.held(),
            0,
            "a queue that ends gives back what it held"
        );
    }

    #[test]
    fn bytes_in_flight_stay_charged_until_written() {
        let mut q = queue(1 << 20);
        q.push_other(text(600), None);
        let cost = text(600).cost();
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        assert_eq!(q.charged(), cost, "in flight, still charged");
        batch.advance(text(600).wire_len());
        q.return_batch(&mut batch, Instant::now());
        assert_eq!(q.charged(), 0);
        q.release_turn();
    }

    /// The review's first finding, driven step by step: thread 1 takes frame
    /// A out and writes it with the lock released; thread 2 queues B;
    /// thread 3 finds the queue full and cuts it; thread 1 gives A back.
    /// The old code subtracted A's bytes from a count the cut had reset, and
    /// overflowed.
    #[test]
    fn a_cut_while_a_batch_is_in_flight_keeps_the_count_exact() {
        let a = text(600);
        let limit = a.cost() + 10;
        let mut q = queue(limit);
        q.push_other(a, None);
        // Thread 1.
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        // Thread 2: A still counts, so B is over the limit.
        assert_ne!(q.admit(text(100).cost()), Admit::Yes);
        q.push_other(text(100), None);
        // Thread 3: full, cut.
        let close = q.cut();
        assert!(q.is_closing());
        // Thread 1 comes back having written all of A.
        batch.advance(text(600).wire_len());
        q.return_batch(&mut batch, Instant::now());
        assert_eq!(q.release_turn(), Released::NeedsDrain);
        // Only the close is left, charged exactly once.
        assert_eq!(q.frames.len(), 1);
        assert_eq!(q.charged(), Frame::close(Some(&close)).cost());
        let written = write_all_taking_turn(&mut q);
        assert_eq!(&written[..2], &[0x88, written[1]]);
        assert_empty_and_discharged(&q);
    }

    fn write_all_taking_turn(q: &mut Queue) -> Vec<u8> {
        q.take_turn(Turn::NonBlocking);
        let out = write_all(q);
        q.release_turn();
        out
    }

    #[test]
    fn a_kill_asked_of_the_turns_holder_is_owed_once() {
        let mut q = queue(1 << 20);
        assert!(!q.take_kill_on_release(), "nothing asked");
        q.take_turn(Turn::NonBlocking);
        q.kill_on_release();
        q.release_turn();
        assert!(q.take_kill_on_release());
        assert!(!q.take_kill_on_release(), "asked once");
    }

    #[test]
    fn a_cut_finishes_a_begun_frame_before_the_close() {
        let mut q = queue(1 << 20);
        q.push_other(text(100), None);
        q.push_other(text(100), None);
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        batch.advance(50);
        q.cut();
        q.return_batch(&mut batch, Instant::now());
        q.release_turn();
        // The rest of the first frame, then the close; the second is gone.
        let out = write_all_taking_turn(&mut q);
        assert_eq!(out.len(), 52 + 2 + 2 + 36);
        assert_eq!(out[52], 0x88);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn a_panicking_writer_gives_the_turn_back_and_kills_the_connection() {
        let mut q = queue(1 << 20);
        q.push_other(text(10), None);
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        drop(batch); // lost in the unwinding
        assert!(q.abandon_turn());
        assert_eq!(q.turn(), Turn::Free);
        assert!(q.is_dead());
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn every_ping_gets_its_pong_in_order_with_data() {
        let mut q = queue(1 << 20);
        q.set_pong(vec![1], true);
        q.push_owner(text(1), true).unwrap();
        q.set_pong(vec![2], true);
        q.set_pong(vec![3], true);
        let out = write_all_taking_turn(&mut q);
        assert_eq!(out, [0x8a, 1, 1, 0x81, 1, b'x', 0x8a, 1, 2, 0x8a, 1, 3]);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn under_pressure_a_flood_of_pings_costs_one_pong() {
        let mut q = queue(1 << 20);
        q.set_peer_sending(true, Instant::now());
        q.push_owner(text(CORK_LIMIT), false).unwrap();
        for i in 0..1000u32 {
            q.set_pong(i.to_be_bytes().to_vec(), false);
        }
        let pong = Frame::new(OpCode::Pong, vec![0; 4]).cost();
        assert_eq!(q.charged(), text(CORK_LIMIT).cost() + pong);
        let out = write_all_taking_turn(&mut q);
        // The latest payload, after the data queued before it.
        assert_eq!(&out[out.len() - 6..], &[0x8a, 4, 0, 0, 3, 231]);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn a_pong_already_begun_is_not_replaced() {
        let mut q = queue(1 << 20);
        q.push_owner(text(CORK_LIMIT), false).unwrap();
        q.set_pong(b"a".to_vec(), false);
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        batch.advance(text(CORK_LIMIT).wire_len() + 1);
        q.return_batch(&mut batch, Instant::now());
        q.release_turn();
        q.set_pong(b"b".to_vec(), false);
        let out = write_all_taking_turn(&mut q);
        assert_eq!(out, [1, b'a', 0x8a, 1, b'b']);
    }

    #[test]
    fn no_pong_after_a_close() {
        let mut q = queue(1 << 20);
        q.answer_close(None);
        assert_eq!(q.set_pong(b"late".to_vec(), false), Action::Nothing);
        assert_eq!(q.frames.len(), 1, "only the close");
    }

    #[test]
    fn the_owner_holds_replies_while_batching_up_to_the_cork_limit() {
        let mut q = queue(1 << 20);
        assert_eq!(q.push_owner(text(100), true).unwrap(), Action::Nothing);
        assert!(q.is_owed_by(ME));
        assert_eq!(
            q.push_owner(text(CORK_LIMIT), true).unwrap(),
            Action::WriteBlocking
        );
    }

    #[test]
    fn the_owner_writes_direct_only_into_an_idle_queue() {
        let mut q = queue(1 << 20);
        assert!(q.owner_may_write_direct(false));
        assert!(!q.owner_may_write_direct(true));
        q.push_other(text(1), None);
        assert!(!q.owner_may_write_direct(false));
    }

    #[test]
    fn while_the_peer_sends_the_owner_does_not_block_up_to_the_limit() {
        let limit = 10 * text(100).cost();
        let mut q = queue(limit);
        q.set_peer_sending(true, Instant::now());
        assert_eq!(
            q.push_part(
                Frame::fragment(OpCode::Binary, vec![0; 100], false),
                true,
                false,
                false
            )
            .unwrap(),
            Action::WriteNow
        );
        for _ in 0..8 {
            let part = Frame::fragment(OpCode::Continuation, vec![0; 100], false);
            assert_eq!(
                q.push_part(part, false, false, false).unwrap(),
                Action::WriteNow
            );
        }
        // Past the limit, the owner blocks: a peer that never reads cannot
        // make it hold more (pings flooded meanwhile cost one pong).
        let part = Frame::fragment(OpCode::Continuation, vec![0; 200], false);
        assert_eq!(
            q.push_part(part, false, false, false).unwrap(),
            Action::WriteBlocking
        );
        assert_eq!(q.set_pong(vec![1], false), Action::WriteBlocking);
    }

    #[test]
    fn others_data_waits_for_the_owners_message_in_parts() {
        let mut q = queue(1 << 20);
        q.push_part(
            Frame::fragment(OpCode::Text, b"ab".to_vec(), false),
            true,
            false,
            false,
        )
        .unwrap();
        assert_eq!(q.push_other(text(1), None), Action::Nothing);
        assert_eq!(q.parked.len(), 1);
        // A control frame may go between the fragments.
        q.push_other(Frame::new(OpCode::Ping, vec![]), None);
        assert!(q.push_owner(text(1), false).is_err());
        q.push_part(
            Frame::fragment(OpCode::Continuation, b"c".to_vec(), true),
            false,
            true,
            false,
        )
        .unwrap();
        let out = write_all_taking_turn(&mut q);
        // text "ab" (not fin), ping, continuation "c" (fin), then the parked text.
        assert_eq!(
            out,
            [0x01, 2, b'a', b'b', 0x89, 0, 0x80, 1, b'c', 0x81, 1, b'x']
        );
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn parts_out_of_order_are_refused() {
        let mut q = queue(1 << 20);
        let part = || Frame::fragment(OpCode::Continuation, vec![], false);
        assert!(q.push_part(part(), false, false, false).is_err());
        q.push_part(part(), true, false, false).unwrap();
        assert!(q.push_part(part(), true, false, false).is_err());
    }

    #[test]
    fn a_close_drops_parked_frames_and_refuses_later_sends() {
        let mut q = queue(1 << 20);
        q.push_part(
            Frame::fragment(OpCode::Text, b"a".to_vec(), false),
            true,
            false,
            false,
        )
        .unwrap();
        q.push_other(text(5), None);
        let frame = CloseFrame::new(CloseCode::NORMAL, "");
        assert!(
            q.close(&frame, Origin::Other, None, Instant::now())
                .unwrap()
                .is_some()
        );
        assert!(
            q.close(&frame, Origin::Other, None, Instant::now())
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            q.push_owner(text(1), false),
            Err(Error::SendAfterClose)
        ));
        assert!(q.parked.is_empty());
        let out = write_all_taking_turn(&mut q);
        assert_eq!(&out[3..], &[0x88, 2, 0x03, 0xe8]);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn a_close_answer_is_queued_once_and_not_after_our_close() {
        let mut q = queue(1 << 20);
        let echo = CloseFrame::new(CloseCode(4000), "");
        assert!(q.answer_close(Some(&echo)));
        assert!(!q.answer_close(Some(&CloseFrame::new(CloseCode::PROTOCOL_ERROR, "bad"))));
        let out = write_all_taking_turn(&mut q);
        assert_eq!(out, [0x88, 2, 0x0f, 0xa0]);
        // Had we started, the peer's close completes the handshake.
        let mut q = queue(1 << 20);
        q.close(&echo, Origin::Owner, None, Instant::now()).unwrap();
        assert!(!q.answer_close(None));
    }

    #[test]
    fn a_killed_queue_holds_nothing_and_refuses_everything() {
        let mut q = queue(1 << 20);
        q.push_other(text(10), None);
        q.set_pong(vec![1], false);
        q.push_part(
            Frame::fragment(OpCode::Text, vec![], false),
            true,
            false,
            false,
        )
        .unwrap();
        q.push_other(text(10), None); // parked
        assert!(q.kill(None));
        assert!(!q.kill(None));
        assert_empty_and_discharged(&q);
        assert!(matches!(q.check_open(), Err(Error::ConnectionClosed)));
        assert_eq!(q.drain_step(), DrainStep::Done);
    }

    #[test]
    fn a_batch_returned_to_a_dead_queue_is_discharged() {
        let mut q = queue(1 << 20);
        q.push_other(text(10), None);
        q.take_turn(Turn::NonBlocking);
        let mut batch = Batch::default();
        q.take_batch(BATCH_FRAMES, &mut batch);
        q.kill(None);
        q.return_batch(&mut batch, Instant::now());
        assert_eq!(q.release_turn(), Released::Idle);
        assert_empty_and_discharged(&q);
    }

    #[test]
    fn the_housekeeper_waits_for_a_turn_holder_and_stops_when_idle() {
        let mut q = queue(1 << 20);
        assert_eq!(q.drain_step(), DrainStep::Done);
        q.push_other(text(1), None);
        assert_eq!(q.drain_step(), DrainStep::Write);
        q.take_turn(Turn::NonBlocking);
        assert_eq!(q.drain_step(), DrainStep::Busy);
    }

    #[test]
    fn a_queue_that_writes_nothing_for_the_timeout_is_stalled() {
        let start = Instant::now();
        let mut q = Queue::new(ME, 1 << 20, 1 << 20, SlowClientPolicy::Disconnect, start);
        q.push_other(text(1), None);
        let timeout = Duration::from_secs(5);
        assert!(!q.stalled(start + Duration::from_secs(4), timeout));
        assert!(q.stalled(start + timeout, timeout));
        // A part arriving from the peer is progress.
        q.set_peer_sending(true, start + timeout);
        assert!(!q.stalled(start + timeout, timeout));
    }

    #[test]
    fn a_flood_of_tiny_frames_is_bounded_by_memory_not_wire_bytes() {
        let limit = 1 << 20;
        let mut q = queue(limit);
        let mut admitted = 0usize;
        q.take_turn(Turn::Blocking); // a client that does not read
        while q.admit(text(0).cost()) == Admit::Yes {
            q.push_other(text(0), None);
            admitted += 1;
        }
        assert!(admitted * (2 + FRAME_OVERHEAD) <= limit + 2 + FRAME_OVERHEAD);
        assert!(admitted < limit / 40, "{admitted} two-byte frames held");
    }
}
