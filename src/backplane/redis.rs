//! The Redis backplane's shell: one publisher connection fed by a bounded
//! queue, one subscriber connection, each in a thread of its own, with
//! timeouts, reconnection and resubscription. The bytes on the wire are the
//! [RESP codec](crate::resp)'s; the rules of delivery are
//! [`envelope`](super::envelope)'s. See the [module docs](super) for the
//! behaviour.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::envelope::{Envelope, Sequences, Target, Verdict};
use super::{ClientCount, Config, Counters, Deliver, Listener};
use crate::resp::{Decoder, Value, command};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A subscription that hears nothing (not even the answer to its pings)
/// for this long is made again.
const SILENCE: Duration = Duration::from_secs(5);
/// The most commands, and about the most bytes, written to Redis before
/// their answers are read.
const PIPELINE: usize = 64;
const PIPELINE_BYTES: usize = 1024 * 1024;
/// How long a node's claim on its id lives in Redis unless refreshed (the
/// publisher refreshes it every [`HEARTBEAT`]): a node that died frees its
/// id this long after.
const CLAIM_TTL: Duration = Duration::from_secs(10);
/// How many random ids a node tries at start before it gives up.
const CLAIM_TRIES: usize = 16;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn log(what: &str) {
    eprintln!("stdws backplane: {what}");
}

struct Pending {
    channel: Vec<u8>,
    bytes: Vec<u8>,
    queued_at: Instant,
    heartbeat: bool,
    /// Sent again on a new connection if Redis did not answer for it: only
    /// envelopes, whose sequence numbers let receivers drop a duplicate.
    resend: bool,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Pending>,
    bytes: usize,
    next_seq: u64,
    /// How many items at the front were written to a connection that has
    /// not answered for them yet.
    inflight: usize,
    /// Losses not yet logged, and when the last log line went out: a burst
    /// of losses is one line a second, not one per message.
    unlogged: u64,
    logged_at: Option<Instant>,
}

/// A listener with its patterns and channels.
type Registered = (Vec<String>, Vec<String>, Arc<dyn Listener>);

struct Shared {
    config: Config,
    instance: u64,
    /// The node id in this node's client ids; an automatic one changes if
    /// Redis shows another node holds it.
    node_id: AtomicU16,
    queue: Mutex<Queue>,
    /// Signalled when the queue gains a message and when the backplane stops.
    wake: Condvar,
    stop: AtomicBool,
    counters: Counters,
    sequences: Mutex<Sequences>,
    /// The live connections, to cut them when the backplane stops.
    streams: Mutex<Vec<(u8, TcpStream)>>,
    deliver: Deliver,
    clients: ClientCount,
    /// The other formats, with their patterns and channels.
    listeners: Vec<Registered>,
    /// `PUBSUB NUMSUB` of the listeners' channels, asked each
    /// [`HEARTBEAT`] by the publisher.
    subscribers: Mutex<std::collections::HashMap<String, u64>>,
}

/// A node's connection to the other nodes through Redis.
pub(crate) struct Redis {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Redis {
    /// Starts the publisher and the subscriber; they connect in the
    /// background (Redis may be down).
    pub(crate) fn start(
        config: Config,
        node_id: u16,
        deliver: Deliver,
        clients: ClientCount,
    ) -> io::Result<Redis> {
        let mut random = [0u8; 8];
        crate::random::fill(&mut random)?;
        let listeners = config
            .listeners
            .0
            .iter()
            .map(|l| (l.patterns(), l.channels(), Arc::clone(l)))
            .collect();
        let shared = Arc::new(Shared {
            config,
            instance: u64::from_be_bytes(random),
            node_id: AtomicU16::new(node_id),
            queue: Mutex::new(Queue {
                next_seq: 1,
                ..Queue::default()
            }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            sequences: Mutex::new(Sequences::default()),
            streams: Mutex::new(Vec::new()),
            deliver,
            clients,
            listeners,
            subscribers: Mutex::new(std::collections::HashMap::new()),
        });
        for (_, _, listener) in &shared.listeners {
            listener.attach(Publisher {
                shared: Arc::downgrade(&shared),
            });
        }
        initial_claim(&shared)?;
        let mut threads = Vec::new();
        for (name, run) in [
            ("stdws-redis-pub", publisher as fn(&Shared)),
            ("stdws-redis-sub", subscriber),
        ] {
            let shared = Arc::clone(&shared);
            threads.push(
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || run(&shared))?,
            );
        }
        Ok(Redis {
            shared,
            threads: Mutex::new(threads),
        })
    }

    pub(crate) fn node_id(&self) -> u16 {
        self.shared.node_id()
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Clients on the other nodes, from their recent heartbeats.
    pub(crate) fn remote_clients(&self) -> u64 {
        lock(&self.shared.sequences).remote_clients(Instant::now())
    }

    /// Queues a message for the other nodes without waiting on Redis;
    /// `false` if it was dropped because the queue is full (counted and
    /// logged).
    pub(crate) fn publish(&self, target: Target, sender: u64, opcode: u8, payload: &[u8]) -> bool {
        let shared = &self.shared;
        if let Target::Room(room) | Target::RoomButSender(room) = &target {
            if room.len() > usize::from(u16::MAX) {
                shared.lose(&mut lock(&shared.queue), 1, "a room name over 65,535 bytes");
                return false;
            }
        }
        let channel = shared.channel(&target);
        // Encoded outside the lock; the sequence number goes in under it.
        let bytes = Envelope {
            instance: shared.instance,
            seq: 1,
            sender,
            target,
            opcode,
            payload: payload.to_vec(),
        }
        .encode();
        shared.enqueue(channel, bytes, true)
    }

    /// Stops both threads and closes the connections.
    pub(crate) fn stop(&self) {
        let shared = &self.shared;
        // Frees the node id at once rather than when its claim expires, so
        // that a node restarted with the same explicit id starts.
        if shared.counters.publisher_up.load(Ordering::Relaxed)
            && !shared.stopping()
            && let Ok(mut conn) = Conn::open(shared, 2)
        {
            let _ = conn.release_claim(shared, shared.node_id());
            conn.close(shared);
        }
        shared.stop.store(true, Ordering::Release);
        {
            let _queue = lock(&shared.queue);
            shared.wake.notify_all();
        }
        for (_, stream) in lock(&shared.streams).iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let me = std::thread::current().id();
        for thread in lock(&self.threads).drain(..) {
            // The last handle to a server may be dropped on the subscriber's
            // own thread, in the middle of a delivery: it cannot join itself.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
        let unlogged = lock(&shared.queue).unlogged;
        if unlogged > 0 {
            log(&format!("{unlogged} more messages could not be published"));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if !self.shared.stop.load(Ordering::Acquire) {
            self.stop();
        }
    }
}

/// Publishes a [`Listener`]'s messages on the backplane's connection,
/// without waiting on Redis.
#[derive(Clone)]
pub(crate) struct Publisher {
    shared: Weak<Shared>,
}

impl Publisher {
    /// How many connections subscribe to `channel` (one of a listener's
    /// [channels](Listener::channels)), as Redis said at most about a
    /// second ago; `None` before it has said.
    pub(crate) fn subscribers(&self, channel: &str) -> Option<u64> {
        let shared = self.shared.upgrade()?;
        lock(&shared.subscribers).get(channel).copied()
    }

    /// Queues `payload` for `channel`; `false` if it was dropped (the
    /// queue is full, or the server has stopped), counted and logged.
    pub(crate) fn publish(&self, channel: Vec<u8>, payload: Vec<u8>) -> bool {
        match self.shared.upgrade() {
            Some(shared) if !shared.stopping() => shared.enqueue(channel, payload, false),
            _ => false,
        }
    }
}

impl Shared {
    /// Queues one message toward Redis; an envelope (`resend`) gets its
    /// sequence number here, under the lock, so that the queue's order is
    /// the numbers' order.
    fn enqueue(&self, channel: Vec<u8>, mut bytes: Vec<u8>, resend: bool) -> bool {
        let mut queue = lock(&self.queue);
        let cost = bytes.len() + channel.len();
        let config = &self.config;
        // Expiry is the publisher's alone: the front of the queue may be the
        // batch it is writing.
        if queue.items.len() >= config.max_pending
            || (!queue.items.is_empty()
                && queue.bytes.saturating_add(cost) > config.max_pending_bytes)
        {
            self.lose(&mut queue, 1, "the queue toward Redis is full");
            return false;
        }
        if resend {
            let seq = queue.next_seq.to_be_bytes();
            if let Some(field) = bytes.get_mut(12..20) {
                field.copy_from_slice(&seq);
            }
            queue.next_seq += 1;
        }
        queue.bytes += cost;
        queue.items.push_back(Pending {
            channel,
            bytes,
            queued_at: Instant::now(),
            heartbeat: false,
            resend,
        });
        drop(queue);
        self.wake.notify_all();
        true
    }

    /// On a new connection: what the last one wrote without an answer
    /// goes again if it is an envelope, and is counted lost if not.
    fn forget_unanswered(&self) {
        let mut queue = lock(&self.queue);
        let inflight = std::mem::take(&mut queue.inflight);
        if inflight == 0 {
            return;
        }
        let mut kept = VecDeque::with_capacity(queue.items.len());
        let mut dropped = 0;
        for (i, item) in std::mem::take(&mut queue.items).into_iter().enumerate() {
            if i < inflight && !item.resend && !item.heartbeat {
                queue.bytes -= item.bytes.len() + item.channel.len();
                dropped += 1;
            } else {
                kept.push_back(item);
            }
        }
        queue.items = kept;
        if dropped > 0 {
            self.lose(
                &mut queue,
                dropped,
                "Redis did not answer for these Socket.IO messages, which cannot be sent again \
                 without risking a duplicate",
            );
        }
    }

    fn node_id(&self) -> u16 {
        self.node_id.load(Ordering::Relaxed)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn channel(&self, target: &Target) -> Vec<u8> {
        let prefix = &self.config.prefix;
        match target {
            Target::All | Target::AllButSender | Target::Heartbeat(_) => {
                format!("{prefix}broadcast").into_bytes()
            }
            Target::Room(room) | Target::RoomButSender(room) => {
                format!("{prefix}room:{room}").into_bytes()
            }
            Target::Client(id) => format!("{prefix}node:{}", super::node_of(*id)).into_bytes(),
        }
    }

    /// Counts `n` messages lost, and logs them at most once a second.
    fn lose(&self, queue: &mut Queue, n: u64, why: &str) {
        Counters::add(&self.counters.lost, n);
        queue.unlogged += n;
        let now = Instant::now();
        if queue
            .logged_at
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            log(&format!(
                "{} messages could not be published to other nodes: {why}",
                queue.unlogged
            ));
            queue.unlogged = 0;
            queue.logged_at = Some(now);
        }
    }

    /// Drops the messages that have waited too long for Redis.
    fn expire(&self, queue: &mut Queue) {
        let now = Instant::now();
        let mut expired = 0;
        while let Some(front) = queue.items.front() {
            if now.duration_since(front.queued_at) < self.config.max_age {
                break;
            }
            if let Some(item) = queue.items.pop_front() {
                queue.bytes -= item.bytes.len() + item.channel.len();
                queue.inflight = queue.inflight.saturating_sub(1);
                expired += u64::from(!item.heartbeat);
            }
        }
        if expired > 0 {
            self.lose(queue, expired, "Redis has not taken them in time");
        }
    }

    /// Waits for `wait` or until the backplane stops; `true` if it stops.
    /// The publisher (`expire`) drops stale messages meanwhile; nobody else
    /// may, since the front of the queue may be the batch it is writing.
    fn pause(&self, wait: Duration, expire: bool) -> bool {
        let deadline = Instant::now() + wait;
        let mut queue = lock(&self.queue);
        loop {
            if self.stopping() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            if expire {
                self.expire(&mut queue);
            }
            queue = self
                .wake
                .wait_timeout(queue, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// One connection to Redis, authenticated and on its database.
struct Conn {
    stream: TcpStream,
    decoder: Decoder,
    buf: Box<[u8]>,
    role: u8,
}

impl Conn {
    fn open(shared: &Shared, role: u8) -> io::Result<Conn> {
        let config = &shared.config;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
        let mut connected = None;
        for addr in config.url.address().to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, config.timeout) {
                Ok(stream) => {
                    connected = Some(stream);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = connected.ok_or(last)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(config.timeout))?;
        stream.set_write_timeout(Some(config.timeout))?;
        lock(&shared.streams).push((role, stream.try_clone()?));
        let mut conn = Conn {
            stream,
            decoder: Decoder::default(),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            role,
        };
        let url = &config.url;
        let mut hello = Vec::new();
        let mut answers = 0;
        if let Some(password) = url.password() {
            match url.username() {
                Some(user) => {
                    command::encode(&mut hello, &[b"AUTH", user.as_bytes(), password.as_bytes()])
                }
                None => command::encode(&mut hello, &[b"AUTH", password.as_bytes()]),
            }
            answers += 1;
        }
        if url.db() != 0 {
            command::encode(&mut hello, &[b"SELECT", url.db().to_string().as_bytes()]);
            answers += 1;
        }
        if answers > 0 {
            conn.stream.write_all(&hello)?;
            for _ in 0..answers {
                if let Value::Error(e) = conn.read_value()? {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("Redis refused AUTH or SELECT: {e}"),
                    ));
                }
            }
        }
        Ok(conn)
    }

    /// The next value, reading as needed (within the read timeout).
    fn read_value(&mut self) -> io::Result<Value> {
        loop {
            if let Some(value) = self.next_buffered()? {
                return Ok(value);
            }
            self.fill()?;
        }
    }

    fn next_buffered(&mut self) -> io::Result<Option<Value>> {
        self.decoder
            .next()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn fill(&mut self) -> io::Result<()> {
        let n = self.stream.read(&mut self.buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "Redis closed the connection",
            ));
        }
        self.decoder
            .feed(&self.buf[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn close(self, shared: &Shared) {
        let _ = self.stream.shutdown(Shutdown::Both);
        lock(&shared.streams).retain(|(role, _)| *role != self.role);
    }
}

/// Reconnection with a growing wait, and the log lines and count that go
/// with an outage.
struct Outage {
    wait: Duration,
    down_since: Option<Instant>,
    connected_once: bool,
}

impl Outage {
    fn new() -> Outage {
        Outage {
            wait: BACKOFF_MIN,
            down_since: None,
            connected_once: false,
        }
    }

    fn connected(&mut self, shared: &Shared, who: &str) {
        if let Some(since) = self.down_since.take() {
            Counters::add(&shared.counters.reconnects, 1);
            log(&format!(
                "{who} connected to {} after {:.1} s without it",
                shared.config.url,
                since.elapsed().as_secs_f64()
            ));
        } else if !self.connected_once {
            log(&format!("{who} connected to {}", shared.config.url));
        }
        self.connected_once = true;
        self.wait = BACKOFF_MIN;
    }

    /// Records a failure; `true` if the backplane is stopping.
    fn failed(&mut self, shared: &Shared, who: &str, e: &io::Error) -> bool {
        if shared.stopping() {
            return true;
        }
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            let what = if self.connected_once {
                "lost"
            } else {
                "cannot use"
            };
            log(&format!(
                "{who} {what} {}: {e}; local delivery goes on, retrying",
                shared.config.url
            ));
        }
        let stop = shared.pause(self.wait, who == "publisher");
        self.wait = (self.wait * 2).min(BACKOFF_MAX);
        stop
    }
}

fn publisher(shared: &Shared) {
    let mut outage = Outage::new();
    let mut last_heartbeat: Option<Instant> = None;
    while !shared.stopping() {
        let mut conn = match Conn::open(shared, 0) {
            Ok(conn) => conn,
            Err(e) => {
                if outage.failed(shared, "publisher", &e) {
                    break;
                }
                continue;
            }
        };
        outage.connected(shared, "publisher");
        shared.counters.publisher_up.store(true, Ordering::Relaxed);
        let result = publish_until_error(shared, &mut conn, &mut last_heartbeat);
        shared.counters.publisher_up.store(false, Ordering::Relaxed);
        conn.close(shared);
        if let Err(e) = result {
            if outage.failed(shared, "publisher", &e) {
                break;
            }
        }
    }
}

/// Publishes what the queue holds, in batches, until the connection fails
/// or the backplane stops. A batch leaves the queue only once Redis has
/// answered for it: what was unanswered goes again on the next connection.
fn publish_until_error(
    shared: &Shared,
    conn: &mut Conn,
    last_heartbeat: &mut Option<Instant>,
) -> io::Result<()> {
    shared.forget_unanswered();
    let mut out = Vec::new();
    let mut claimed_at: Option<Instant> = None;
    loop {
        if claimed_at.is_none_or(|at| at.elapsed() >= HEARTBEAT) {
            refresh_claim(shared, conn).map_err(|e| stalled(shared, e))?;
            count_subscribers(shared, conn).map_err(|e| stalled(shared, e))?;
            claimed_at = Some(Instant::now());
        }
        let (count, heartbeats) = {
            let mut queue = lock(&shared.queue);
            loop {
                if shared.stopping() {
                    return Ok(());
                }
                shared.expire(&mut queue);
                let now = Instant::now();
                let due = last_heartbeat.is_none_or(|at| now.duration_since(at) >= HEARTBEAT);
                if due {
                    *last_heartbeat = Some(now);
                    push_heartbeat(shared, &mut queue);
                }
                if !queue.items.is_empty() {
                    break;
                }
                let wait =
                    HEARTBEAT.saturating_sub(last_heartbeat.map_or(HEARTBEAT, |at| at.elapsed()));
                queue = shared
                    .wake
                    .wait_timeout(queue, wait.max(Duration::from_millis(1)))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            out.clear();
            let mut heartbeats = 0;
            let mut count = 0;
            // Copied under the lock: a bounded batch keeps publishers waiting briefly.
            for item in queue.items.iter().take(PIPELINE) {
                if count > 0 && out.len() + item.bytes.len() > PIPELINE_BYTES {
                    break;
                }
                command::encode(&mut out, &[b"PUBLISH", &item.channel, &item.bytes]);
                heartbeats += usize::from(item.heartbeat);
                count += 1;
            }
            queue.inflight = count;
            (count, heartbeats)
        };
        conn.stream
            .write_all(&out)
            .map_err(|e| stalled(shared, e))?;
        let mut refused = 0;
        for _ in 0..count {
            match conn.read_value().map_err(|e| stalled(shared, e))? {
                Value::Integer(_) => {}
                Value::Error(e) => {
                    refused += 1;
                    log(&format!("Redis refused a PUBLISH: {e}"));
                }
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unexpected answer to PUBLISH: {other:?}"),
                    ));
                }
            }
        }
        let mut queue = lock(&shared.queue);
        for _ in 0..count {
            if let Some(item) = queue.items.pop_front() {
                queue.bytes -= item.bytes.len() + item.channel.len();
            }
        }
        queue.inflight = 0;
        let published = (count - heartbeats) as u64;
        Counters::add(
            &shared.counters.published,
            published.saturating_sub(refused),
        );
        if refused > 0 {
            shared.lose(&mut queue, refused, "Redis refused them");
        }
    }
}

/// Names a timeout for what it is: a Redis that does not answer.
fn stalled(shared: &Shared, e: io::Error) -> io::Error {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "Redis did not answer within {:.1} s (stalled?); the unanswered messages go again on a new connection",
                shared.config.timeout.as_secs_f64()
            ),
        )
    } else {
        e
    }
}

fn push_heartbeat(shared: &Shared, queue: &mut Queue) {
    let target = Target::Heartbeat((shared.clients)());
    let channel = shared.channel(&target);
    let bytes = Envelope {
        instance: shared.instance,
        seq: queue.next_seq,
        sender: 0,
        target,
        opcode: 0,
        payload: Vec::new(),
    }
    .encode();
    queue.next_seq += 1;
    queue.bytes += bytes.len() + channel.len();
    queue.items.push_back(Pending {
        channel,
        bytes,
        queued_at: Instant::now(),
        heartbeat: true,
        resend: true,
    });
}

/// Asks `PUBSUB NUMSUB` for the listeners' channels and keeps the
/// answers for [`Publisher::subscribers`].
fn count_subscribers(shared: &Shared, conn: &mut Conn) -> io::Result<()> {
    let channels: Vec<&String> = shared.listeners.iter().flat_map(|(_, c, _)| c).collect();
    if channels.is_empty() {
        return Ok(());
    }
    let mut args: Vec<&[u8]> = vec![b"PUBSUB", b"NUMSUB"];
    args.extend(channels.iter().map(|c| c.as_bytes()));
    let mut out = Vec::new();
    command::encode(&mut out, &args);
    conn.stream.write_all(&out)?;
    let answer = conn.read_value()?;
    // [channel, count, channel, count, ...]
    let mut counts = std::collections::HashMap::new();
    if let Some(items) = answer.as_items() {
        for pair in items.chunks(2) {
            if let [channel, count] = pair
                && let Some(channel) = channel.as_bytes()
                && let Value::Integer(n) = count
            {
                counts.insert(
                    String::from_utf8_lossy(channel).into_owned(),
                    u64::try_from(*n).unwrap_or(0),
                );
            }
        }
    }
    *lock(&shared.subscribers) = counts;
    Ok(())
}

/// `*`, `?`, `[`, `]` and `\` have a meaning in a Redis pattern: a prefix
/// that holds them must match only itself.
fn glob_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn subscriber(shared: &Shared) {
    let mut outage = Outage::new();
    while !shared.stopping() {
        let mut conn = match Conn::open(shared, 1) {
            Ok(conn) => conn,
            Err(e) => {
                if outage.failed(shared, "subscriber", &e) {
                    break;
                }
                continue;
            }
        };
        let result = subscribe_until_error(shared, &mut conn, &mut outage);
        shared
            .counters
            .subscriber_up
            .store(false, Ordering::Relaxed);
        conn.close(shared);
        if let Err(e) = result {
            let e = if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    e.kind(),
                    "Redis closed the subscription (it restarted, or dropped this node for \
                     falling behind: see client-output-buffer-limit pubsub)",
                )
            } else {
                e
            };
            if outage.failed(shared, "subscriber", &e) {
                break;
            }
        }
    }
}

fn subscribe_until_error(shared: &Shared, conn: &mut Conn, outage: &mut Outage) -> io::Result<()> {
    let prefix = &shared.config.prefix;
    let mut out = Vec::new();
    command::encode(
        &mut out,
        &[
            b"SUBSCRIBE",
            format!("{prefix}broadcast").as_bytes(),
            format!("{prefix}node:{}", shared.node_id()).as_bytes(),
        ],
    );
    command::encode(
        &mut out,
        &[
            b"PSUBSCRIBE",
            format!("{}room:*", glob_escape(prefix)).as_bytes(),
        ],
    );
    let mut expected = 3;
    for (patterns, channels, _) in &shared.listeners {
        for (command, names) in [
            (&b"PSUBSCRIBE"[..], patterns),
            (&b"SUBSCRIBE"[..], channels),
        ] {
            if !names.is_empty() {
                let mut args: Vec<&[u8]> = vec![command];
                args.extend(names.iter().map(|p| p.as_bytes()));
                command::encode(&mut out, &args);
                expected += names.len();
            }
        }
    }
    conn.stream.write_all(&out)?;
    // A confirmation for each channel and pattern.
    let mut confirmed = 0;
    while confirmed < expected {
        let value = conn.read_value()?;
        if let Value::Error(e) = &value {
            return Err(io::Error::other(format!(
                "Redis refused the subscription: {e}"
            )));
        }
        match value
            .as_items()
            .and_then(|items| items.first())
            .and_then(Value::as_bytes)
        {
            Some(b"subscribe" | b"psubscribe") => confirmed += 1,
            _ => {
                if let Some(envelope) = handle(shared, value) {
                    (shared.deliver)(vec![envelope]);
                }
            }
        }
    }
    outage.connected(shared, "subscriber");
    shared.counters.subscriber_up.store(true, Ordering::Relaxed);
    // From here the connection reads with a short timeout, to ping.
    conn.stream.set_read_timeout(Some(HEARTBEAT))?;
    let mut heard = Instant::now();
    let mut ping = Vec::new();
    command::encode(&mut ping, &[b"PING"]);
    loop {
        if shared.stopping() {
            return Ok(());
        }
        let mut burst = Vec::new();
        while let Some(value) = conn.next_buffered()? {
            if let Value::Error(e) = &value {
                return Err(io::Error::other(format!("Redis said: {e}")));
            }
            burst.extend(handle(shared, value));
        }
        if !burst.is_empty() {
            (shared.deliver)(burst);
        }
        match conn.fill() {
            Ok(()) => heard = Instant::now(),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if heard.elapsed() >= SILENCE {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("Redis answered nothing for {} s", SILENCE.as_secs()),
                    ));
                }
                conn.stream.write_all(&ping)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One value from the subscription: a message of another node, checked
/// against its sender's sequence, to deliver.
fn handle(shared: &Shared, value: Value) -> Option<Envelope> {
    let mut items = value.into_items()?;
    if items.len() == 4
        && items.first().and_then(Value::as_bytes) == Some(b"pmessage")
        && let Some(pattern) = items.get(1).and_then(Value::as_bytes)
        && let Some((_, _, listener)) = shared
            .listeners
            .iter()
            .find(|(patterns, _, _)| patterns.iter().any(|p| p.as_bytes() == pattern))
    {
        if let (Some(channel), Some(payload)) = (
            items.get(2).and_then(Value::as_bytes),
            items.get(3).and_then(Value::as_bytes),
        ) {
            if listener.message(channel, payload) {
                Counters::add(&shared.counters.received, 1);
            }
        }
        return None;
    }
    if items.len() == 3
        && items.first().and_then(Value::as_bytes) == Some(b"message")
        && let Some(channel) = items.get(1).and_then(Value::as_bytes)
        && let Some((_, _, listener)) = shared
            .listeners
            .iter()
            .find(|(_, channels, _)| channels.iter().any(|c| c.as_bytes() == channel))
    {
        if let Some(payload) = items.get(2).and_then(Value::as_bytes)
            && listener.message(channel, payload)
        {
            Counters::add(&shared.counters.received, 1);
        }
        return None;
    }
    let payload = match items.first().and_then(Value::as_bytes) {
        Some(b"message") if items.len() == 3 => items.pop(),
        Some(b"pmessage") if items.len() == 4 => items.pop(),
        _ => return None, // pong, confirmations
    };
    let Some(Value::Bulk(payload)) = payload else {
        return None;
    };
    // Not ours: another application's message on the prefix.
    let envelope = Envelope::decode(&payload)?;
    if envelope.instance == shared.instance {
        return None; // our own, delivered locally when it was sent
    }
    let verdict = lock(&shared.sequences).check(&envelope, Instant::now());
    match verdict {
        Verdict::Duplicate => {
            Counters::add(&shared.counters.duplicates, 1);
            None
        }
        Verdict::Deliver { missed } => {
            if missed > 0 {
                Counters::add(&shared.counters.missed, missed);
            }
            if matches!(envelope.target, Target::Heartbeat(_)) {
                return None;
            }
            Counters::add(&shared.counters.received, 1);
            Some(envelope)
        }
    }
}

/// Whether Redis shows a node id to be this node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Ours,
    Taken,
}

impl Shared {
    fn claim_key(&self, id: u16) -> String {
        format!("{}node-id:{id}", self.config.prefix)
    }

    fn claim_value(&self) -> String {
        format!("{:016x}", self.instance)
    }
}

impl Conn {
    /// Claims node id `id` for this node: `SET key instance NX PX ttl`, then
    /// `GET` tells whose it is; ours already, its expiry is pushed back.
    fn claim(&mut self, shared: &Shared, id: u16) -> io::Result<Claim> {
        let key = shared.claim_key(id);
        let me = shared.claim_value();
        let ttl = CLAIM_TTL.as_millis().to_string();
        let mut out = Vec::new();
        command::encode(
            &mut out,
            &[
                b"SET",
                key.as_bytes(),
                me.as_bytes(),
                b"NX",
                b"PX",
                ttl.as_bytes(),
            ],
        );
        command::encode(&mut out, &[b"GET", key.as_bytes()]);
        self.stream.write_all(&out)?;
        let set = self.read_value()?;
        let get = self.read_value()?;
        for answer in [&set, &get] {
            if let Value::Error(e) = answer {
                return Err(io::Error::other(format!(
                    "Redis refused the claim on node id {id}: {e}"
                )));
            }
        }
        if get.as_bytes() != Some(me.as_bytes()) {
            return Ok(Claim::Taken);
        }
        if matches!(set, Value::Null) {
            out.clear();
            command::encode(&mut out, &[b"PEXPIRE", key.as_bytes(), ttl.as_bytes()]);
            self.stream.write_all(&out)?;
            if let Value::Error(e) = self.read_value()? {
                return Err(io::Error::other(format!(
                    "Redis refused to refresh the claim on node id {id}: {e}"
                )));
            }
        }
        Ok(Claim::Ours)
    }

    /// Deletes the claim on `id` if it is still ours (compare and delete in
    /// one script, so that another node's claim is never deleted).
    fn release_claim(&mut self, shared: &Shared, id: u16) -> io::Result<()> {
        const SCRIPT: &[u8] = b"if redis.call('GET', KEYS[1]) == ARGV[1] then \
            return redis.call('DEL', KEYS[1]) else return 0 end";
        let mut out = Vec::new();
        command::encode(
            &mut out,
            &[
                b"EVAL",
                SCRIPT,
                b"1",
                shared.claim_key(id).as_bytes(),
                shared.claim_value().as_bytes(),
            ],
        );
        self.stream.write_all(&out)?;
        self.read_value().map(drop)
    }
}

/// Picks this node's id: `first` if `claim` gets it; otherwise, for an id
/// set by the user (`fixed`), an error of kind `AddrInUse`, and for an
/// automatic one, the first of `tries` random ids that `claim` gets.
fn pick_node_id(
    first: u16,
    fixed: bool,
    tries: usize,
    mut claim: impl FnMut(u16) -> io::Result<Claim>,
    mut random: impl FnMut() -> io::Result<u16>,
) -> io::Result<u16> {
    if claim(first)? == Claim::Ours {
        return Ok(first);
    }
    if fixed {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "node id {first} is held by another node on this Redis (and prefix): give each \
                 node its own id with ServerBuilder::node_id, or leave it out for an automatic one"
            ),
        ));
    }
    for _ in 0..tries {
        let id = random()?;
        if claim(id)? == Claim::Ours {
            return Ok(id);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free node id in {tries} random tries: are 65,535 nodes on this Redis?"),
    ))
}

/// At start, before any client has an id: claims the node id (see
/// [`pick_node_id`]). With Redis down, the publisher claims it once
/// Redis is back.
fn initial_claim(shared: &Shared) -> io::Result<()> {
    let mut conn = match Conn::open(shared, 2) {
        Ok(conn) => conn,
        Err(_) => return Ok(()), // the publisher logs the outage
    };
    let result = pick_node_id(
        shared.node_id(),
        shared.config.fixed_node_id,
        CLAIM_TRIES,
        |id| conn.claim(shared, id),
        super::random_node_id,
    );
    conn.close(shared);
    match result {
        Ok(id) => {
            shared.node_id.store(id, Ordering::Relaxed);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
        Err(e) => {
            log(&format!(
                "cannot claim node id {} yet ({e}); the publisher will",
                shared.node_id()
            ));
            Ok(())
        }
    }
}

/// Refreshes the node id's claim, on the publisher's connection; if
/// another node holds the id (both started while Redis was away, say), an
/// automatic id moves to a free one, an explicit one is logged loudly.
fn refresh_claim(shared: &Shared, conn: &mut Conn) -> io::Result<()> {
    let id = shared.node_id();
    if conn.claim(shared, id)? == Claim::Ours {
        return Ok(());
    }
    let conflicts = shared
        .counters
        .node_id_conflicts
        .fetch_add(1, Ordering::Relaxed)
        + 1;
    if shared.config.fixed_node_id {
        if conflicts % 60 == 1 {
            log(&format!(
                "node id {id} (ServerBuilder::node_id) is held by another node on {}: the two \
                 nodes' client ids can collide and sends by id reach either; give each node its \
                 own id",
                shared.config.url
            ));
        }
        return Ok(());
    }
    let new = pick_node_id(
        super::random_node_id()?,
        false,
        CLAIM_TRIES,
        |id| conn.claim(shared, id),
        super::random_node_id,
    )?;
    shared.node_id.store(new, Ordering::Relaxed);
    log(&format!(
        "node id {id} is held by another node too: new clients of this node get node id {new}"
    ));
    // The subscriber listens on the old id's channel: it subscribes again.
    for (role, stream) in lock(&shared.streams).iter() {
        if *role == 1 {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_automatic_node_id_moves_on_from_a_taken_one() {
        let mut asked = Vec::new();
        let mut randoms = [9u16, 8, 7].into_iter();
        let id = pick_node_id(
            5,
            false,
            4,
            |id| {
                asked.push(id);
                Ok(if id == 8 { Claim::Ours } else { Claim::Taken })
            },
            || Ok(randoms.next().unwrap_or(1)),
        )
        .unwrap();
        assert_eq!(id, 8);
        assert_eq!(asked, [5, 9, 8]);
    }

    #[test]
    fn an_explicit_node_id_that_is_taken_fails_loudly() {
        let err = pick_node_id(5, true, 4, |_| Ok(Claim::Taken), || Ok(6)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("node id 5"));
        assert_eq!(
            pick_node_id(5, true, 4, |_| Ok(Claim::Ours), || Ok(6)).unwrap(),
            5
        );
    }

    #[test]
    fn a_cluster_with_no_free_id_is_an_error_not_a_loop() {
        let err = pick_node_id(5, false, 3, |_| Ok(Claim::Taken), || Ok(6)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
