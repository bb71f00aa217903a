//! The backplane: how several servers behave as one for broadcasts and
//! rooms. Local-only by default; with
//! [`ServerBuilder::redis`](crate::server::ServerBuilder::redis), through
//! Redis pub/sub (<https://redis.io/docs/latest/develop/interact/pubsub/>).
//!
//! ```text
//!   node A                          Redis                         node B
//!   broadcast(m) --> A's clients    (at once)
//!        |
//!        +--> bounded queue --> publisher --PUBLISH <prefix>broadcast--+
//!                                                                      |
//!   subscriber <--------------------- message ----------------+--------+
//!   (its own: ignored)                                        +--> subscriber --> B's clients
//! ```
//!
//! # What is published where
//!
//! `ServerHandle::broadcast*` and `Connection::broadcast*` deliver to the
//! node's own clients at once, then hand the message to the backplane:
//! broadcasts (to all, or to all but the sender) go to the channel
//! `<prefix>broadcast`, room messages to `<prefix>room:<name>`, a send to a
//! client of another node to `<prefix>node:<node id>`. The prefix is
//! `stdws:` unless [`redis_prefix`](crate::server::ServerBuilder::redis_prefix)
//! says otherwise, so that several applications can share one Redis. Each
//! node subscribes to `<prefix>broadcast` and its own node channel, and to
//! the pattern `<prefix>room:*`: it hears every room message and delivers
//! it to its members of that room, if any, so that joining a room is never
//! racing a subscription. Only text and binary messages cross nodes.
//!
//! A [Socket.IO server](crate::socketio) mounted on the server rides the
//! same two connections in the format of Socket.IO's own Redis adapter
//! (MessagePack on `socket.io#<namespace>#` and
//! `socket.io#<namespace>#<room>#`, subscribed as `socket.io#<namespace>#*`;
//! the [Socket.IO module docs](crate::socketio) say more), so that Node
//! `socket.io` nodes and `@socket.io/redis-emitter` join the cluster. Those
//! messages keep their order with the node's others; having no sequence
//! number, one written to a Redis that died before answering is counted in
//! [`BackplaneStats::lost`] instead of being sent again.
//!
//! # The wire format
//!
//! Each message is one pub/sub payload, this node's own format (version 1):
//!
//! ```text
//!  offset  size  field
//!  0       4     magic "SWB1" (stdws backplane, format 1)
//!  4       8     instance: random per server run, big-endian
//!  12      8     seq: 1, 2, 3 ... per instance, big-endian
//!  20      8     sender: the client id that sent it (0: the application)
//!  28      1     kind: 0 all, 1 all but sender, 2 room, 3 room but sender,
//!                      4 one client, 5 heartbeat
//!  29      1     opcode: 1 text, 2 binary (0 for a heartbeat)
//!  30      8     only kind 4: the client id it is for
//!          2+n   only kinds 2 and 3: the room's length, then its UTF-8 name
//!          8     only kind 5: how many clients the node has
//!  ...           the WebSocket message's payload, to the end
//! ```
//!
//! Payloads that do not start with the magic are ignored, so other
//! publishers may share the channels. Every node publishes a heartbeat on
//! `<prefix>broadcast` each second with its client count:
//! [`ServerHandle::cluster_client_count`](crate::ServerHandle::cluster_client_count)
//! adds up those heard in the last 5 s.
//!
//! # Exactly once, in order
//!
//! One publisher connection per node keeps the order of everything the node
//! publishes (Redis runs one connection's commands in order), and the
//! sequence number in each envelope lets receivers drop what they have
//! already delivered: when the publisher's connection dies before Redis
//! answers, it sends the unanswered messages again on its next connection,
//! and the receivers deliver each once. A node delivers the messages of
//! its own clients itself, at once, and ignores their echo from the
//! subscription.
//!
//! **What a client sees.** Each sender's messages arrive in the order it
//! sent them, on every node. Messages from senders on the client's own node
//! arrive as soon as they are sent; messages from other nodes arrive a
//! Redis round trip later. So two clients on different nodes may see the
//! messages of a local and a remote sender interleaved differently: there
//! is no total order across senders, as with Socket.IO's Redis adapter.
//!
//! # Faults
//!
//! - **Redis down when a node starts**, or **gone mid-run**: the node serves
//!   its own clients as ever; both connections retry with a backoff from
//!   100 ms to 2 s, log the loss and the return, and the subscriber
//!   subscribes again (Redis forgets a closed connection's subscriptions).
//!   Counted in [`BackplaneStats::reconnects`].
//! - **A stalled Redis** (alive to TCP, answering nothing): every read and
//!   write has a timeout, after which the connection is dropped and made
//!   again. A publish never waits on Redis: it joins a bounded queue
//!   (10,000 messages or 16 MiB) and, when the queue is full, is dropped and
//!   counted in [`BackplaneStats::lost`] (and logged); messages that wait
//!   longer than 10 s for Redis are dropped and counted the same way.
//! - **Redis closing a subscriber that fell behind**
//!   (`client-output-buffer-limit pubsub`): seen as the connection closing;
//!   logged as such, counted in `reconnects`, and what was missed shows in
//!   [`BackplaneStats::missed`] by the sequence numbers.
//! - The subscriber pings Redis every second: a subscription that hears
//!   nothing for 5 s is made again.
//!
//! # Client ids
//!
//! With a backplane, a client id is a 16-bit node id above a 37-bit
//! connection number (below 2^53, so exact as a JavaScript number), unique
//! across nodes; [`ServerHandle::send_to`](crate::ServerHandle::send_to)
//! with the id of another node's client publishes to that node. A
//! local-only server's ids are plain connection numbers, as before.
//!
//! # Node ids
//!
//! A node's id is random unless
//! [`ServerBuilder::node_id`](crate::server::ServerBuilder::node_id) sets
//! it, and each node claims its id in Redis: the key
//! `<prefix>node-id:<id>` holds the node's random instance number, set with
//! `SET NX PX 10000` and refreshed every second by the publisher (a node
//! that dies frees its id 10 s later; one that stops frees it at once).
//!
//! - At start, before any client has an id, a node that finds its id taken
//!   picks another random one (automatic ids), or fails to start with an
//!   [`Error::Config`](crate::Error::Config) (an id set by the user).
//! - If Redis is down at start, the claim waits for it; two nodes that
//!   started meanwhile with one id find out at the first refresh: an
//!   automatic id moves to a free one for the clients that connect from
//!   then on (those already connected keep theirs), an explicit one is
//!   logged loudly (once a minute) and counted in
//!   [`BackplaneStats::node_id_conflicts`].

pub(crate) mod envelope;
mod redis;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub(crate) use envelope::{Envelope, Target};
pub(crate) use redis::{Publisher, Redis};

use crate::resp::RedisUrl;

/// What [`ServerBuilder::redis`](crate::server::ServerBuilder::redis) and
/// its neighbours set.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) url: RedisUrl,
    pub(crate) prefix: String,
    /// Connect, read and write timeout for each Redis operation.
    pub(crate) timeout: Duration,
    pub(crate) max_pending: usize,
    pub(crate) max_pending_bytes: usize,
    pub(crate) max_age: Duration,
    /// The node id was set with
    /// [`ServerBuilder::node_id`](crate::server::ServerBuilder::node_id):
    /// a collision is an error, not a reason to pick another.
    pub(crate) fixed_node_id: bool,
    /// Other formats on the same connections (Socket.IO's).
    pub(crate) listeners: Listeners,
}

/// A format of messages beside the server's own that rides the
/// backplane's two connections: Socket.IO's Redis adapter format
/// ([`crate::socketio`]), so that its nodes and Node's share one cluster.
/// What it publishes keeps its order with everything else the node
/// publishes (one publisher connection); its messages carry no sequence
/// number, so one written to a Redis that died before answering is counted
/// in [`BackplaneStats::lost`] rather than sent again (it may have been
/// delivered: sending it again could deliver it twice).
pub(crate) trait Listener: Send + Sync {
    /// The Redis patterns to `PSUBSCRIBE` (glob characters escaped).
    fn patterns(&self) -> Vec<String>;
    /// The channels to `SUBSCRIBE`: unlike a pattern's, these subscriptions
    /// count in `PUBSUB NUMSUB`, which Socket.IO's adapter asks to know how
    /// many nodes will answer a request.
    fn channels(&self) -> Vec<String> {
        Vec::new()
    }
    /// The backplane has started: how to publish, for as long as it runs.
    fn attach(&self, publisher: Publisher);
    /// A message on one of the channels or a channel of one of the
    /// patterns, this node's own
    /// publications included (the format must tell them apart): `true` if
    /// it was another node's, delivered here (counted in
    /// [`BackplaneStats::received`]).
    fn message(&self, channel: &[u8], payload: &[u8]) -> bool;
}

/// The [`Listener`]s of a server.
#[derive(Clone, Default)]
pub(crate) struct Listeners(pub(crate) Vec<Arc<dyn Listener>>);

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|l| l.patterns()))
            .finish()
    }
}

impl Config {
    pub(crate) fn new(url: RedisUrl) -> Config {
        Config {
            url,
            prefix: "stdws:".into(),
            timeout: Duration::from_secs(2),
            max_pending: 10_000,
            max_pending_bytes: 16 * 1024 * 1024,
            max_age: Duration::from_secs(10),
            fixed_node_id: false,
            listeners: Listeners::default(),
        }
    }
}

/// What a server's backplane did since it started, in
/// [`ServerStats::backplane`](crate::server::ServerStats::backplane). All
/// zero for a server without one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackplaneStats {
    /// Messages this node published (Redis answered the `PUBLISH`).
    pub published: u64,
    /// Messages from other nodes delivered to this node's clients.
    pub received: u64,
    /// Messages that could not be published: the queue toward Redis was
    /// full, or they waited for Redis too long. Each loss is logged.
    pub lost: u64,
    /// Messages of other nodes that never arrived here, as their sequence
    /// numbers show (Redis was away, or dropped this node's subscription).
    pub missed: u64,
    /// Messages that arrived twice and were delivered once.
    pub duplicates: u64,
    /// Connections to Redis made again after one was lost or refused.
    pub reconnects: u64,
    /// How often Redis showed another node holding this node's id (an
    /// automatic id then moves to a free one; see [node ids](crate::backplane#node-ids)).
    pub node_id_conflicts: u64,
    /// Whether both connections are up now.
    pub connected: bool,
}

/// The counters behind [`BackplaneStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) missed: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) node_id_conflicts: AtomicU64,
    pub(crate) publisher_up: AtomicBool,
    pub(crate) subscriber_up: AtomicBool,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BackplaneStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BackplaneStats {
            published: get(&self.published),
            received: get(&self.received),
            lost: get(&self.lost),
            missed: get(&self.missed),
            duplicates: get(&self.duplicates),
            reconnects: get(&self.reconnects),
            node_id_conflicts: get(&self.node_id_conflicts),
            connected: self.publisher_up.load(Ordering::Relaxed)
                && self.subscriber_up.load(Ordering::Relaxed),
        }
    }
}

/// Where the subscriber hands messages from other nodes, all those of one
/// read at a time (so that the server can write each client's share in one
/// call): the server's delivery to its own clients (the backplane knows
/// nothing of the server).
pub(crate) type Deliver = Arc<dyn Fn(Vec<Envelope>) + Send + Sync>;

/// Where the publisher asks how many clients the node has, for heartbeats.
pub(crate) type ClientCount = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A node id for client ids: random, never 0 (the local-only servers' id).
pub(crate) fn random_node_id() -> std::io::Result<u16> {
    loop {
        let mut two = [0u8; 2];
        crate::random::fill(&mut two)?;
        let id = u16::from_be_bytes(two);
        if id != 0 {
            return Ok(id);
        }
    }
}

/// How many low bits of a client id count connections; the node id is above
/// them. 37 + 16 bits keep every id below 2^53, exact in JavaScript.
const LOCAL_BITS: u32 = 37;

/// The id of connection number `local` on node `node` (0: a local-only
/// server, whose ids are the plain numbers).
pub(crate) fn client_id(node: u16, local: u64) -> u64 {
    match node {
        0 => local,
        node => (u64::from(node) << LOCAL_BITS) | (local & ((1 << LOCAL_BITS) - 1)),
    }
}

/// The node a client id belongs to (0: a local-only server's id).
pub(crate) fn node_of(id: u64) -> u16 {
    (id >> LOCAL_BITS) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_carry_their_node_and_stay_exact_in_javascript() {
        assert_eq!(client_id(0, 42), 42);
        let id = client_id(0xffff, (1 << 37) - 1);
        assert_eq!(id, (1 << 53) - 1);
        assert_eq!(node_of(id), 0xffff);
        assert_eq!(node_of(client_id(7, 1)), 7);
        assert_eq!(node_of(42), 0);
        // A number past 37 bits wraps within the node's range.
        assert_eq!(client_id(1, 1 << 37), 1 << 37);
    }
}
