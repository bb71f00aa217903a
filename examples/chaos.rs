//! Chaos: an in-process stdws server under well-behaved and hostile clients
//! at once, for a bounded time, then a check that it is still whole.
//!
//! ```text
//! cargo run --release --example chaos -- --secs 60 [--clients N] [--hostile M] [--seed S]
//!                                          [--workers W] [--quiet]
//! ```
//!
//! The server (127.0.0.1, a free port) has an echo endpoint, `/echo`, and a
//! news endpoint, `/news`, whose clients join the room `news`; a broadcaster
//! thread sends numbered messages to that room through the `ServerHandle` at
//! a steady rate, and numbered pulses to every `/echo` connection, which
//! arrive between its echoes. The server's limits are small, so that hostile
//! clients trip them.
//!
//! ```text
//!  well-behaved echo clients --- /echo ---+      +--- /news --- well-behaved news listeners
//!   lockstep, split halves, raw frames     \    /     (every broadcast since the welcome,
//!   (every echo and pulse, in order)      server       in order, no gap)
//!  hostile clients: garbage, slowloris,    /    \
//!   bad frames, floods, resets, storms ---+      +--- broadcaster: news and pulses
//!                                                     through the ServerHandle
//! ```
//!
//! Each hostile episode is on a fresh connection; the kinds are listed in
//! `KINDS`. A panic hook counts panics on the server's threads (`stdws-*`).
//!
//! After the run: every well-behaved client got every message it was owed;
//! the registry empties once every client has left; a fresh client is
//! echoed and closes cleanly; `ServerHandle::shutdown` returns (a watchdog
//! bounds it); nothing is left registered; no server thread panicked.
//! Hostile clients check little, but every read they make is bounded: a
//! connection the server does not end in time is reported as a hang.
//!
//! `tests/chaos.rs` runs a short round of the same driver under `cargo test`.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use stdws::client::ClientBuilder;
use stdws::protocol::handshake::ResponseProblem;
use stdws::server::{Endpoint, ServerHandle};
use stdws::{CloseCode, Error, Message, Server, WebSocket};

// ---------------------------------------------------------------------------
// Options and report
// ---------------------------------------------------------------------------

/// The server's limits during the run: small, so that hostile clients trip them.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// The largest message a client may send (1009 beyond).
    pub max_message_size: usize,
    /// The most bytes queued for one client before it is disconnected.
    pub max_queued_bytes: usize,
    /// How long a write may wait for a client to read.
    pub write_timeout: Duration,
    /// How long a client has to send its handshake.
    pub handshake_timeout: Duration,
    /// How long the server waits for the answer to its close.
    pub close_timeout: Duration,
    /// Keepalive: ping a client silent for this long...
    pub ping_interval: Duration,
    /// ...and end it if the pong does not come within this long.
    pub ping_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_message_size: 1 << 20,
            max_queued_bytes: 256 << 10,
            write_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            close_timeout: Duration::from_secs(1),
            ping_interval: Duration::from_millis(500),
            ping_timeout: Duration::from_secs(1),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the clients run (the checks afterwards add a few seconds).
    pub duration: Duration,
    /// Well-behaved clients: about a third listen to `/news`, the rest echo.
    pub clients: usize,
    /// Hostile clients, each running one episode after another.
    pub hostile: usize,
    /// Seeds every client's choices (timing still varies from run to run).
    pub seed: u64,
    /// The server's limits.
    pub server: ServerLimits,
    /// How often the broadcaster sends a news message.
    pub news_interval: Duration,
    /// The largest news message, in bytes.
    pub max_news_size: usize,
    /// The largest message an echo client sends, in bytes.
    pub max_echo_size: usize,
    /// How long a well-behaved client waits for any one answer, and the
    /// slack added to every bound a hostile client allows the server.
    pub patience: Duration,
    /// The server's worker pool; by default enough for every client, so
    /// that refusals (503) are rare. A small pool exercises the refusals.
    pub workers: Option<usize>,
    /// No progress lines while running.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(10),
            clients: 16,
            hostile: 16,
            seed: random_seed(),
            server: ServerLimits::default(),
            news_interval: Duration::from_millis(2),
            max_news_size: 32 * 1024,
            max_echo_size: 64 * 1024,
            patience: Duration::from_secs(5),
            workers: None,
            quiet: false,
        }
    }
}

/// What happened to one kind of hostile episode.
#[derive(Debug, Clone, Default)]
pub struct KindStats {
    /// Episodes run.
    pub episodes: u64,
    /// Refused by the server before the episode could start (503, 429).
    pub refused: u64,
    /// HTTP statuses received.
    pub http: BTreeMap<u16, u64>,
    /// Close codes received from the server.
    pub closes: BTreeMap<u16, u64>,
    /// Connections the server ended with a FIN.
    pub eof: u64,
    /// Connections that ended in a reset or another socket error.
    pub reset: u64,
    /// Connections the client dropped without waiting for the server.
    pub dropped: u64,
    /// Connections the server did not end in time (each is an error too).
    pub hangs: u64,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// Unexpected but tolerated outcomes (a close code other than the one
    /// the rule asks for, say); samples are in [`Report::anomalies`].
    pub anomalies: u64,
    /// The longest episode.
    pub longest: Duration,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed used.
    pub seed: u64,
    /// Well-behaved echo clients.
    pub echo_clients: usize,
    /// News listeners.
    pub news_clients: usize,
    /// Hostile clients.
    pub hostile_clients: usize,
    /// How long the whole run took, checks included.
    pub elapsed: Duration,
    /// Echo sessions completed, by mode: lockstep, split halves, raw frames.
    pub echo_sessions: [u64; 3],
    /// Echoed messages verified (intact and in order).
    pub echo_messages: u64,
    /// Bytes of verified echoes.
    pub echo_bytes: u64,
    /// Pongs verified (answers to the clients' own pings).
    pub pongs: u64,
    /// News sessions completed.
    pub news_sessions: u64,
    /// News messages verified (in order, no gap).
    pub news_messages: u64,
    /// Pulses verified: broadcast to every echo connection between its
    /// echoes (in order, no gap).
    pub pulses: u64,
    /// Connection attempts of well-behaved clients refused with 503 and retried.
    pub retried_503: u64,
    /// Broadcasts sent.
    pub broadcasts: u64,
    /// Deliveries of news and pulses dropped, or whose receiver was disconnected as
    /// too slow (hostile slow readers).
    pub broadcast_cut: u64,
    /// Hostile episodes, by kind.
    pub episodes: BTreeMap<&'static str, KindStats>,
    /// Samples of anomalies (see [`KindStats::anomalies`]).
    pub anomalies: Vec<String>,
    /// Worker threads the server had started by the end.
    pub worker_threads: usize,
    /// How long the registry took to empty after every client had left.
    pub drain_time: Option<Duration>,
    /// How long the final fresh client took: connect, echo, close.
    pub fresh_client_time: Option<Duration>,
    /// How long `shutdown` took, and whether it reported a clean close.
    pub shutdown: Option<(Duration, bool)>,
    /// `ServerHandle::debug_counts` after the shutdown.
    pub counts_after_shutdown: Option<[usize; 5]>,
    /// Panics on the server's threads.
    pub server_panics: u64,
    /// The longest a thread waited for the processor beyond a 10 ms sleep:
    /// when it nears the server's timeouts, the machine itself was too busy
    /// for them.
    pub max_stall: Duration,
    /// Every failure (the first [`MAX_SAMPLES`] of them; `error_count` has them all).
    pub errors: Vec<String>,
    /// How many failures there were.
    pub error_count: u64,
}

/// The most errors and anomalies kept as text.
pub const MAX_SAMPLES: usize = 50;

impl Report {
    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.error_count == 0
    }

    fn error(&mut self, what: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_SAMPLES {
            self.errors.push(what);
        }
    }

    fn anomaly(&mut self, what: String) {
        if self.anomalies.len() < MAX_SAMPLES {
            self.anomalies.push(what);
        }
    }

    /// Adds what one client thread saw.
    fn absorb(&mut self, part: Partial) {
        let t = part.tally;
        for (mode, n) in t.echo_sessions.iter().enumerate() {
            self.echo_sessions[mode] += n;
        }
        self.echo_messages += t.echo_messages;
        self.echo_bytes += t.echo_bytes;
        self.pongs += t.pongs;
        self.news_sessions += t.news_sessions;
        self.news_messages += t.news_messages;
        self.pulses += t.pulses;
        self.retried_503 += t.retried_503;
        for (kind, stats) in part.kinds {
            let mine = self.episodes.entry(kind).or_default();
            mine.episodes += stats.episodes;
            mine.refused += stats.refused;
            for (k, v) in stats.http {
                *mine.http.entry(k).or_default() += v;
            }
            for (k, v) in stats.closes {
                *mine.closes.entry(k).or_default() += v;
            }
            mine.eof += stats.eof;
            mine.reset += stats.reset;
            mine.dropped += stats.dropped;
            mine.hangs += stats.hangs;
            mine.connect_failures += stats.connect_failures;
            mine.anomalies += stats.anomalies;
            mine.longest = mine.longest.max(stats.longest);
        }
        for a in part.anomalies {
            self.anomaly(a);
        }
        for e in part.errors {
            self.error(e);
        }
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn counts(map: &BTreeMap<u16, u64>) -> String {
    if map.is_empty() {
        return "-".to_owned();
    }
    map.iter()
        .map(|(k, v)| format!("{k}x{v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chaos: seed {:#x}, {} echo + {} news well-behaved clients, {} hostile, {} in all",
            self.seed,
            self.echo_clients,
            self.news_clients,
            self.hostile_clients,
            secs(self.elapsed)
        )?;
        let [lockstep, split, raw] = self.echo_sessions;
        writeln!(
            f,
            "echo:  {} sessions (lockstep {lockstep}, split {split}, raw fragmented {raw}), \
             {} messages verified ({:.1} MiB), {} pongs and {} pulses verified",
            lockstep + split + raw,
            self.echo_messages,
            self.echo_bytes as f64 / (1 << 20) as f64,
            self.pongs,
            self.pulses
        )?;
        writeln!(
            f,
            "news:  {} sessions, {} messages verified; {} broadcasts, {} deliveries cut (slow readers); \
             {} connects retried after 503",
            self.news_sessions,
            self.news_messages,
            self.broadcasts,
            self.broadcast_cut,
            self.retried_503
        )?;
        writeln!(
            f,
            "{:<22} {:>6} {:>5} {:>5} {:>5} {:>5} {:>4} {:>5} {:>7} {:>8}  http / close codes",
            "hostile episodes",
            "n",
            "refus",
            "eof",
            "reset",
            "drop",
            "hang",
            "connf",
            "anomaly",
            "longest"
        )?;
        let mut total = 0;
        for (kind, s) in &self.episodes {
            total += s.episodes;
            writeln!(
                f,
                "  {:<20} {:>6} {:>5} {:>5} {:>5} {:>5} {:>4} {:>5} {:>7} {:>8}  {} / {}",
                kind,
                s.episodes,
                s.refused,
                s.eof,
                s.reset,
                s.dropped,
                s.hangs,
                s.connect_failures,
                s.anomalies,
                secs(s.longest),
                counts(&s.http),
                counts(&s.closes)
            )?;
        }
        writeln!(f, "  {:<20} {:>6}", "all", total)?;
        for a in &self.anomalies {
            writeln!(f, "  anomaly: {a}")?;
        }
        writeln!(
            f,
            "after: {} worker threads; registry, rooms and backlog empty {}; fresh client {}; shutdown {}; \
             counts after shutdown {:?}; {} server panics; longest scheduling stall {}",
            self.worker_threads,
            self.drain_time
                .map_or("never".to_owned(), |d| format!("after {}", secs(d))),
            self.fresh_client_time
                .map_or("failed".to_owned(), |d| format!("served in {}", secs(d))),
            self.shutdown
                .map_or("hung".to_owned(), |(d, clean)| format!(
                    "returned in {} ({})",
                    secs(d),
                    if clean { "clean" } else { "not clean" }
                )),
            self.counts_after_shutdown,
            self.server_panics,
            secs(self.max_stall)
        )?;
        for e in &self.errors {
            writeln!(f, "  ERROR: {e}")?;
        }
        write!(
            f,
            "result: {} ({} errors)",
            if self.passed() { "PASS" } else { "FAIL" },
            self.error_count
        )
    }
}

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/// A seed from the operating system's random device (the time if none).
pub fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    match read {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

/// xorshift64*, seeded through splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.range(lo as usize, hi as usize) as u64)
    }

    fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    fn key(&mut self) -> [u8; 4] {
        (self.next() as u32).to_le_bytes()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Characters of 1 to 4 bytes in UTF-8, for text that exercises validation.
const CHARS: [char; 12] = [
    'a', 'z', ' ', '0', '\n', '~', 'é', 'ß', '€', '中', '𝄞', '😀',
];

/// Text of about `len` bytes (at most 3 more).
fn random_text(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut text = String::with_capacity(len + 4);
    text.push_str(prefix);
    while text.len() < len {
        text.push(*rng.pick(&CHARS));
    }
    text
}

/// A message size: mostly small, sometimes up to `max`.
fn message_size(rng: &mut Rng, max: usize) -> usize {
    match rng.below(100) {
        0..=4 => 0,
        5..=39 => rng.range(1, 125),
        40..=69 => rng.range(126, 4096.min(max)),
        70..=89 => rng.range(4097.min(max), (16 << 10).min(max)),
        _ => rng.range((16 << 10).min(max), max),
    }
}

/// A numbered echo message of random kind and size.
fn echo_message(rng: &mut Rng, tag: &str, max: usize) -> Message {
    let size = message_size(rng, max);
    if rng.percent(50) {
        if size == 0 {
            return Message::Text(String::new());
        }
        Message::Text(random_text(rng, tag, size))
    } else {
        if size == 0 {
            return Message::Binary(Vec::new());
        }
        let mut data = tag.as_bytes().to_vec();
        let rest = size.saturating_sub(data.len());
        data.extend(rng.bytes(rest));
        Message::Binary(data)
    }
}

/// News message `n`: a function of `n` alone, so that a listener can check
/// every byte.
fn news_message(n: u64, max: usize) -> Message {
    let mut rng = Rng::new(n ^ 0x6e65_7773);
    let size = message_size(&mut rng, max);
    if n % 3 == 0 {
        let mut data = n.to_be_bytes().to_vec();
        data.extend(rng.bytes(size));
        Message::Binary(data)
    } else {
        Message::Text(random_text(&mut rng, &format!("news {n} "), size))
    }
}

/// The number of a news message, for error messages.
fn news_number(message: &Message) -> String {
    match message {
        Message::Text(t) => t.split(' ').nth(1).unwrap_or("?").to_owned(),
        Message::Binary(b) if b.len() >= 8 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[..8]);
            u64::from_be_bytes(n).to_string()
        }
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------

/// Counts panics on the server's threads (named `stdws-...`).
static SERVER_PANICS: AtomicU64 = AtomicU64::new(0);
static PANIC_HOOK: Once = Once::new();

fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let server_thread = thread::current()
                .name()
                .is_some_and(|name| name.starts_with("stdws-"));
            if server_thread {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live counters, for the progress lines.
#[derive(Default)]
struct Live {
    echoes: AtomicU64,
    news: AtomicU64,
    episodes: AtomicU64,
    errors: AtomicU64,
}

/// What every client thread shares.
struct Ctx {
    addr: SocketAddr,
    server: ServerHandle,
    options: Options,
    /// When clients stop starting new work.
    deadline: Instant,
    live: Live,
}

impl Ctx {
    fn over(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn patience(&self) -> Duration {
        self.options.patience
    }

    /// How long the server may take to end a connection a hostile client
    /// has stopped feeding: the sum of all its timeouts, plus patience.
    fn server_bound(&self) -> Duration {
        let s = &self.options.server;
        s.handshake_timeout
            + s.ping_interval
            + s.ping_timeout
            + s.write_timeout
            + s.close_timeout
            + self.options.patience
    }

    /// The server's view of the connection from `local`, for error messages.
    fn server_view(&self, local: Option<SocketAddr>) -> String {
        let Some(local) = local else {
            return "no local address".to_owned();
        };
        match self
            .server
            .clients()
            .iter()
            .map(|c| c.info())
            .find(|c| c.peer == local)
        {
            Some(c) => format!(
                "port {}: registered on the server as #{}, {} bytes queued, connected for {}",
                local.port(),
                c.id,
                c.queued_bytes,
                secs(c.connected_for)
            ),
            None => format!("port {}: not registered on the server", local.port()),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

/// What one client thread saw.
#[derive(Default)]
struct Partial {
    tally: Tally,
    kinds: BTreeMap<&'static str, KindStats>,
    anomalies: Vec<String>,
    errors: Vec<String>,
}

impl Partial {
    fn error(&mut self, ctx: &Ctx, what: String) {
        ctx.live.errors.fetch_add(1, Ordering::Relaxed);
        if !ctx.options.quiet {
            eprintln!("chaos: ERROR: {what}");
        }
        self.errors.push(what);
    }
}

#[derive(Default)]
struct Tally {
    echo_sessions: [u64; 3],
    echo_messages: u64,
    echo_bytes: u64,
    pongs: u64,
    news_sessions: u64,
    news_messages: u64,
    pulses: u64,
    retried_503: u64,
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// Runs the chaos round described in the module docs and reports.
pub fn run(options: Options) -> Report {
    install_panic_hook();
    let started = Instant::now();
    let panics_before = SERVER_PANICS.load(Ordering::SeqCst);
    let news_clients = if options.clients >= 2 {
        (options.clients / 3).max(1)
    } else {
        0
    };
    let mut report = Report {
        seed: options.seed,
        echo_clients: options.clients - news_clients,
        news_clients,
        hostile_clients: options.hostile,
        ..Report::default()
    };

    let news_next = Arc::new(Mutex::new(0u64));
    let pulse_next = Arc::new(Mutex::new(0u64));
    let server = match start_server(&options, &news_next, &pulse_next) {
        Ok(server) => server,
        Err(e) => {
            report.error(format!("the server did not start: {e}"));
            return report;
        }
    };
    let ctx = Arc::new(Ctx {
        addr: server.local_addr(),
        server: server.clone(),
        deadline: Instant::now() + options.duration,
        options,
        live: Live::default(),
    });
    let quiet = ctx.options.quiet;
    let stop_news = Arc::new(AtomicBool::new(false));
    if !quiet {
        eprintln!(
            "chaos: server on {}, seed {:#x}, {} s, {} echo + {} news clients, {} hostile",
            ctx.addr,
            ctx.options.seed,
            ctx.options.duration.as_secs_f64(),
            report.echo_clients,
            report.news_clients,
            ctx.options.hostile
        );
    }

    // The canary measures how late a 10 ms sleep wakes up.
    let canary = {
        let stop = Arc::clone(&stop_news);
        let hard_stop = ctx.deadline + ctx.server_bound() * 3 + ctx.patience() * 3;
        thread::Builder::new()
            .name("chaos-canary".into())
            .spawn(move || {
                let mut worst = Duration::ZERO;
                while !stop.load(Ordering::SeqCst) && Instant::now() < hard_stop {
                    let began = Instant::now();
                    thread::sleep(Duration::from_millis(10));
                    worst = worst.max(began.elapsed().saturating_sub(Duration::from_millis(10)));
                }
                worst
            })
    };

    // The broadcaster runs until every client thread has finished.
    let broadcaster = {
        let (ctx, server, news, pulses, stop) = (
            Arc::clone(&ctx),
            server.clone(),
            Arc::clone(&news_next),
            Arc::clone(&pulse_next),
            Arc::clone(&stop_news),
        );
        thread::Builder::new()
            .name("chaos-broadcaster".into())
            .spawn(move || broadcast(&ctx, &server, &news, &pulses, &stop))
    };

    let (done_tx, done_rx) = mpsc::channel::<Partial>();
    let mut handles = Vec::new();
    let mut spawned = 0;
    for i in 0..ctx.options.clients + ctx.options.hostile {
        let (ctx, done) = (Arc::clone(&ctx), done_tx.clone());
        let (name, body): (String, fn(&Ctx, usize) -> Partial) = if i < report.echo_clients {
            (format!("chaos-echo-{i}"), echo_client)
        } else if i < ctx.options.clients {
            (format!("chaos-news-{i}"), news_client)
        } else {
            (format!("chaos-hostile-{i}"), hostile_client)
        };
        let what = name.clone();
        let spawn = thread::Builder::new().name(name).spawn(move || {
            let part = catch_unwind(AssertUnwindSafe(|| body(&ctx, i))).unwrap_or_else(|_| {
                let mut part = Partial::default();
                part.error(
                    &ctx,
                    format!("{what}: the client thread panicked (a driver bug)"),
                );
                part
            });
            let _ = done.send(part);
        });
        match spawn {
            Ok(handle) => {
                handles.push(handle);
                spawned += 1;
            }
            Err(e) => report.error(format!("cannot start a client thread: {e}")),
        }
    }
    drop(done_tx);

    // Wait for the clients, printing progress. Every client's work is
    // bounded, so they all finish within the server bound after the
    // deadline, unless something hangs.
    let give_up = ctx.deadline + ctx.server_bound() * 2 + ctx.patience() * 2;
    let mut finished = 0;
    let mut next_progress = Instant::now() + Duration::from_secs(5);
    while finished < spawned {
        let now = Instant::now();
        if now >= give_up {
            break;
        }
        let wait = give_up.min(next_progress).saturating_duration_since(now);
        match done_rx.recv_timeout(wait) {
            Ok(part) => {
                report.absorb(part);
                finished += 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !quiet && Instant::now() >= next_progress {
            next_progress += Duration::from_secs(5);
            eprintln!(
                "chaos: {:>5.1} s: {} echoes, {} news verified, {} hostile episodes, {} errors; \
                 {} clients connected, {} worker threads",
                started.elapsed().as_secs_f64(),
                ctx.live.echoes.load(Ordering::Relaxed),
                ctx.live.news.load(Ordering::Relaxed),
                ctx.live.episodes.load(Ordering::Relaxed),
                ctx.live.errors.load(Ordering::Relaxed),
                server.client_count(),
                server.worker_threads()
            );
        }
    }
    if finished < spawned {
        report.error(format!(
            "{} client threads did not finish within {} of the deadline: a client or the server hangs",
            spawned - finished,
            secs(give_up - ctx.deadline)
        ));
    } else {
        for handle in handles {
            let _ = handle.join();
        }
    }
    stop_news.store(true, Ordering::SeqCst);
    match broadcaster {
        Ok(handle) => match handle.join() {
            Ok((sent, cut)) => {
                report.broadcasts = sent;
                report.broadcast_cut = cut;
            }
            Err(_) => report.error("the broadcaster panicked".to_owned()),
        },
        Err(e) => report.error(format!("cannot start the broadcaster: {e}")),
    }
    if let Ok(canary) = canary {
        report.max_stall = canary.join().unwrap_or_default();
    }
    report.worker_threads = server.worker_threads();
    if finished == spawned && ctx.options.hostile > 0 {
        for (kind, _) in KINDS {
            if !report.episodes.contains_key(kind) {
                report.error(format!("no {kind} episode ran"));
            }
        }
    }
    if report.echo_clients > 0 && report.echo_messages == 0 {
        report.error("no echo was verified at all".to_owned());
    }
    if report.news_clients > 0 && report.news_messages == 0 {
        report.error("no news message was verified at all".to_owned());
    }

    after_run(&ctx, &server, &mut report);
    report.server_panics = SERVER_PANICS.load(Ordering::SeqCst) - panics_before;
    if report.server_panics > 0 {
        report.error(format!(
            "{} panics on the server's threads",
            report.server_panics
        ));
    }
    report.elapsed = started.elapsed();
    report
}

/// The text that makes the echo endpoint close the connection (4000).
const CLOSE_ME: &str = "chaos: close me";

/// The first message on an /echo connection: the number of the next pulse.
const PULSE_WELCOME: &str = "pulse-welcome ";
/// How pulses begin (no echoed text does: echo clients tag theirs).
const PULSE: &str = "pulse ";

/// Pulse `n`: a function of `n` alone.
fn pulse_text(n: u64) -> String {
    let mut text = format!("{PULSE}{n} ");
    text.extend(std::iter::repeat_n('+', (n % 97) as usize * 20));
    text
}

/// Messages from this size on are echoed in parts.
const ECHO_PARTS_FROM: usize = 16 * 1024;

fn start_server(
    options: &Options,
    news_next: &Arc<Mutex<u64>>,
    pulse_next: &Arc<Mutex<u64>>,
) -> stdws::Result<ServerHandle> {
    let s = &options.server;
    let next = Arc::clone(pulse_next);
    let echo = Endpoint::callbacks()
        .on_connect(move |conn| {
            // As for the news: every pulse from the welcome's number on
            // reaches this client, after the welcome.
            let next = lock(&next);
            let _ = conn.join("pulse");
            let _ = conn.send_text(&format!("{PULSE_WELCOME}{}", *next));
        })
        .on_message(|conn, message| {
            if message.as_text() == Some(CLOSE_ME) {
                let _ = conn.close(CloseCode(4000), "as asked");
            } else {
                let _ = conn.send(message);
            }
        })
        // Large messages go back in parts, as in the echo example, while
        // pulses are broadcast to the same clients: nothing may come
        // between the fragments.
        .on_message_part(ECHO_PARTS_FROM, |conn, part| {
            let _ = conn.send_part(part);
        });
    let next = Arc::clone(news_next);
    let news = Endpoint::callbacks().on_connect(move |conn| {
        // Joined and welcomed under the broadcaster's lock: every broadcast
        // numbered from the welcome's number on reaches this client, after
        // the welcome.
        let next = lock(&next);
        let _ = conn.join("news");
        let _ = conn.send_text(&format!("welcome {}", *next));
    });
    Server::builder()
        .workers(
            options
                .workers
                .unwrap_or(64 + 2 * options.clients + 48 * options.hostile),
        )
        .max_message_size(s.max_message_size)
        .max_queued_bytes(s.max_queued_bytes)
        .write_timeout(s.write_timeout)
        .handshake_timeout(s.handshake_timeout)
        .close_timeout(s.close_timeout)
        .ping_interval(Some(s.ping_interval))
        .ping_timeout(s.ping_timeout)
        .route("/echo", echo)
        .route("/news", news)
        .bind("127.0.0.1:0")?
        .spawn()
}

/// How often the echo connections get a pulse.
const PULSE_INTERVAL: Duration = Duration::from_millis(5);

/// Sends numbered news to the room at a steady pace, and pulses to the echo
/// connections every [`PULSE_INTERVAL`], until told to stop. Returns the
/// news broadcasts sent and the deliveries cut.
fn broadcast(
    ctx: &Ctx,
    server: &ServerHandle,
    news: &Mutex<u64>,
    pulses: &Mutex<u64>,
    stop: &AtomicBool,
) -> (u64, u64) {
    let interval = ctx.options.news_interval.max(Duration::from_micros(100));
    // Bounded even if nobody says stop.
    let hard_stop = ctx.deadline + ctx.server_bound() * 3 + ctx.patience() * 3;
    let (mut sent, mut cut) = (0, 0);
    let mut tick = Instant::now();
    let mut next_pulse = tick;
    while !stop.load(Ordering::SeqCst) && Instant::now() < hard_stop {
        {
            let mut n = lock(news);
            let report = server.broadcast_room("news", news_message(*n, ctx.options.max_news_size));
            *n += 1;
            sent += 1;
            cut += (report.dropped.len() + report.disconnected.len()) as u64;
        }
        let now = Instant::now();
        if now >= next_pulse {
            next_pulse = (next_pulse + PULSE_INTERVAL).max(now);
            let mut n = lock(pulses);
            let report = server.broadcast_room("pulse", pulse_text(*n));
            *n += 1;
            cut += (report.dropped.len() + report.disconnected.len()) as u64;
        }
        // Pacing, not synchronisation.
        tick += interval;
        let now = Instant::now();
        if tick > now {
            thread::sleep(tick - now);
        } else {
            tick = now;
        }
    }
    (sent, cut)
}

/// The checks after every client has left.
fn after_run(ctx: &Ctx, server: &ServerHandle, report: &mut Report) {
    // Leak check: with every client gone, the registry, the rooms, the
    // per-address counts and the housekeeper's backlog must empty (workers
    // finish their connections within the close timeout). There is no
    // notification for it, so this polls, within a bound.
    let began = Instant::now();
    let bound = ctx.server_bound();
    let drained = |counts: [usize; 5]| counts[..4] == [0; 4];
    while !drained(server.debug_counts()) && began.elapsed() < bound {
        thread::sleep(Duration::from_millis(5));
    }
    let counts = server.debug_counts();
    if drained(counts) {
        report.drain_time = Some(began.elapsed());
    } else {
        report.error(format!(
            "{} after every client left, still held (clients, room entries, addresses, \
             backlog): {:?}; clients {:?}",
            secs(bound),
            &counts[..4],
            server.clients()
        ));
    }

    // A fresh client is served at once.
    let began = Instant::now();
    match fresh_client(ctx) {
        Ok(()) if began.elapsed() <= ctx.patience() => {
            report.fresh_client_time = Some(began.elapsed())
        }
        Ok(()) => report.error(format!(
            "the fresh client took {} (more than {})",
            secs(began.elapsed()),
            secs(ctx.patience())
        )),
        Err(e) => report.error(format!("the fresh client failed: {e}")),
    }

    // Shutdown returns, under a watchdog.
    let grace = Duration::from_secs(5);
    let (tx, rx) = mpsc::channel();
    let handle = server.clone();
    let began = Instant::now();
    let spawned = thread::Builder::new()
        .name("chaos-shutdown".into())
        .spawn(move || {
            let clean = handle.shutdown(grace);
            let _ = tx.send(clean);
        });
    if let Err(e) = spawned {
        report.error(format!("cannot start the shutdown thread: {e}"));
        return;
    }
    match rx.recv_timeout(grace + ctx.patience() + Duration::from_secs(5)) {
        Ok(clean) => {
            report.shutdown = Some((began.elapsed(), clean));
            if !clean {
                report.error("shutdown did not report a clean close of every client".to_owned());
            }
        }
        Err(_) => {
            report.error(format!(
                "ServerHandle::shutdown({}) had not returned after {}: a deadlock",
                secs(grace),
                secs(began.elapsed())
            ));
            return;
        }
    }
    let counts = server.debug_counts();
    report.counts_after_shutdown = Some(counts);
    if counts != [0; 5] {
        report.error(format!(
            "left after shutdown (clients, room entries, addresses, backlog, worker threads): {counts:?}"
        ));
    }
}

fn fresh_client(ctx: &Ctx) -> Result<(), String> {
    let mut tally = Tally::default();
    let mut ws = connect_ws(ctx, "/echo", &mut tally)?;
    let mut pending = Pending::default();
    let messages = [
        Message::text("are you still there?"),
        Message::binary(vec![0u8, 1, 2, 255]),
    ];
    for m in messages {
        pending.push(Expect::Data(m.clone()));
        ws.send(m).map_err(|e| format!("send: {e}"))?;
    }
    ws.ping(b"fresh").map_err(|e| format!("ping: {e}"))?;
    pending.push(Expect::Pong(b"fresh".to_vec()));
    ws.close(CloseCode::NORMAL, "bye")
        .map_err(|e| format!("close: {e}"))?;
    pending.push(Expect::Close);
    let until = Instant::now() + ctx.patience();
    while Instant::now() < until {
        let got = ws.read().map_err(|e| format!("read: {e}"))?;
        if pending.verify(got, &mut tally)? == Flow::Closed {
            return Ok(());
        }
    }
    Err("no close answer in time".to_owned())
}

// ---------------------------------------------------------------------------
// Well-behaved clients: verification
// ---------------------------------------------------------------------------

/// What a well-behaved client expects next from the server.
enum Expect {
    Data(Message),
    Pong(Vec<u8>),
    /// The answer to our close, with code 1000.
    Close,
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    More,
    Closed,
}

/// Expected answers, in order, and the bytes of echoes outstanding.
#[derive(Default)]
struct Pending {
    queue: VecDeque<Expect>,
    in_flight: usize,
    /// The number of the next pulse, once welcomed.
    next_pulse: Option<u64>,
}

/// Bytes of echoes a client lets be outstanding: less than the socket
/// buffers hold, so that the server's blocking echo never waits on a
/// client that is busy sending.
const WINDOW: usize = 96 * 1024;

impl Pending {
    fn push(&mut self, expect: Expect) {
        if let Expect::Data(m) = &expect {
            self.in_flight += m.len();
        }
        self.queue.push_back(expect);
    }

    fn has_room(&self, len: usize) -> bool {
        self.in_flight == 0 || self.in_flight + len <= WINDOW
    }

    /// Checks one message against the next expectation.
    fn verify(&mut self, got: Message, tally: &mut Tally) -> Result<Flow, String> {
        if let Message::Ping(_) = got {
            return Ok(Flow::More); // keepalive, answered already
        }
        if let Some(text) = got.as_text() {
            // Pulses, broadcast to every /echo connection, between the echoes.
            if let Some(n) = text.strip_prefix(PULSE_WELCOME) {
                if self.next_pulse.is_some() {
                    return Err(format!("a second pulse welcome: {text:?}"));
                }
                self.next_pulse = Some(n.parse().map_err(|_| format!("bad welcome {text:?}"))?);
                return Ok(Flow::More);
            }
            if text.starts_with(PULSE) {
                let Some(n) = self.next_pulse else {
                    return Err(format!("a pulse before the pulse welcome: {text:?}"));
                };
                if text != pulse_text(n) {
                    return Err(format!(
                        "expected pulse {n}, got {:?}",
                        text.chars().take(40).collect::<String>()
                    ));
                }
                self.next_pulse = Some(n + 1);
                tally.pulses += 1;
                return Ok(Flow::More);
            }
        }
        let Some(want) = self.queue.pop_front() else {
            return Err(format!("unexpected {}", describe(&got)));
        };
        match (want, got) {
            (Expect::Data(want), got @ (Message::Text(_) | Message::Binary(_))) => {
                if want != got {
                    return Err(format!("echo corrupted: {}", difference(&want, &got)));
                }
                self.in_flight -= want.len();
                tally.echo_messages += 1;
                tally.echo_bytes += want.len() as u64;
                Ok(Flow::More)
            }
            (Expect::Pong(want), Message::Pong(got)) if want == got => {
                tally.pongs += 1;
                Ok(Flow::More)
            }
            (Expect::Close, Message::Close(Some(frame))) if frame.code == CloseCode::NORMAL => {
                Ok(Flow::Closed)
            }
            (want, got) => Err(format!(
                "expected {} but got {} ({} more answers outstanding)",
                expected(&want),
                describe(&got),
                self.queue.len()
            )),
        }
    }
}

fn describe(m: &Message) -> String {
    match m {
        Message::Text(t) => format!(
            "text of {} bytes {:?}",
            t.len(),
            t.chars().take(24).collect::<String>()
        ),
        Message::Binary(b) => format!("binary of {} bytes {:02x?}", b.len(), &b[..b.len().min(12)]),
        Message::Close(frame) => format!("close {frame:?}"),
        other => format!("{other:?}"),
    }
}

fn expected(e: &Expect) -> String {
    match e {
        Expect::Data(m) => describe(m),
        Expect::Pong(p) => format!("pong {p:02x?}"),
        Expect::Close => "the close answer 1000".to_owned(),
    }
}

fn difference(want: &Message, got: &Message) -> String {
    let (w, g) = (want.as_bytes(), got.as_bytes());
    let at = w
        .iter()
        .zip(g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    format!(
        "sent {}, got {}; first difference at byte {at}",
        describe(want),
        describe(got)
    )
}

/// Connects a well-behaved client, retrying while the server answers 503.
fn connect_ws(ctx: &Ctx, path: &str, tally: &mut Tally) -> Result<WebSocket<TcpStream>, String> {
    let builder = ClientBuilder::new(ctx.url(path))
        .connect_timeout(ctx.patience())
        .open_timeout(None) // the per-read patience bounds the handshake
        .read_timeout(ctx.patience())
        .write_timeout(ctx.patience());
    let give_up = Instant::now() + ctx.patience();
    for _ in 0..1_000 {
        let attempt = Instant::now();
        match builder.connect() {
            Ok(ws) => return Ok(ws),
            Err(Error::HandshakeResponse {
                problem: ResponseProblem::Status(503),
                ..
            }) if Instant::now() < give_up => {
                tally.retried_503 += 1;
                thread::sleep(Duration::from_millis(20)); // back off, as a client would
            }
            Err(e) => {
                return Err(format!(
                    "connect to {path} failed after {}: {e}",
                    secs(attempt.elapsed())
                ));
            }
        }
    }
    Err(format!(
        "connect to {path}: refused with 503 a thousand times"
    ))
}

// ---------------------------------------------------------------------------
// Well-behaved clients: echo
// ---------------------------------------------------------------------------

fn echo_client(ctx: &Ctx, index: usize) -> Partial {
    let mut rng = Rng::new(ctx.options.seed ^ splitmix(index as u64 + 1));
    let mut part = Partial::default();
    let mut session = 0u64;
    while !ctx.over() && session < 1_000_000 {
        session += 1;
        let mode = rng.below(3);
        let tag = format!("c{index}s{session}");
        let result = match mode {
            0 => echo_lockstep(ctx, &mut rng, &tag, &mut part.tally),
            1 => echo_split(ctx, &mut rng, &tag, &mut part.tally),
            _ => echo_raw(ctx, &mut rng, &tag, &mut part.tally),
        };
        match result {
            Ok(()) => part.tally.echo_sessions[mode] += 1,
            Err(e) => {
                let mode = ["lockstep", "split", "raw"][mode];
                part.error(
                    ctx,
                    format!("echo client {index}, {mode} session {session}: {e}"),
                );
            }
        }
    }
    part
}

fn ping_payload(rng: &mut Rng, tag: &str, i: usize) -> Vec<u8> {
    let mut p = format!("{tag}p{i}").into_bytes();
    let extra = rng.below(125 - p.len().min(125));
    p.extend(rng.bytes(extra));
    p.truncate(125);
    p
}

/// One connection, one thread: send within the window, read when it is full.
fn echo_lockstep(ctx: &Ctx, rng: &mut Rng, tag: &str, tally: &mut Tally) -> Result<(), String> {
    let mut ws = connect_ws(ctx, "/echo", tally)?;
    let local = ws.get_ref().local_addr().ok();
    lockstep_session(ctx, rng, tag, tally, &mut ws)
        .map_err(|e| format!("{e} [{}]", ctx.server_view(local)))
}

fn lockstep_session(
    ctx: &Ctx,
    rng: &mut Rng,
    tag: &str,
    tally: &mut Tally,
    ws: &mut WebSocket<TcpStream>,
) -> Result<(), String> {
    let mut pending = Pending::default();
    let count = rng.range(1, 200);
    let live = &ctx.live.echoes;
    for i in 0..count {
        if ctx.over() {
            break;
        }
        if rng.percent(10) {
            let p = ping_payload(rng, tag, i);
            pending.push(Expect::Pong(p.clone()));
            ws.ping(&p).map_err(|e| format!("ping #{i}: {e}"))?;
        }
        let message = echo_message(rng, &format!("{tag}m{i}:"), ctx.options.max_echo_size);
        let until = Instant::now() + ctx.patience();
        while !pending.has_room(message.len()) {
            if Instant::now() > until {
                return Err(format!(
                    "the window stayed full for {}",
                    secs(ctx.patience())
                ));
            }
            let got = ws.read().map_err(|e| format!("read before #{i}: {e}"))?;
            let before = tally.echo_messages;
            pending.verify(got, tally)?;
            live.fetch_add(tally.echo_messages - before, Ordering::Relaxed);
        }
        pending.push(Expect::Data(message.clone()));
        ws.send(message).map_err(|e| format!("send #{i}: {e}"))?;
        if rng.percent(3) {
            thread::sleep(rng.millis(1, 30)); // pacing
        }
    }
    ws.close(CloseCode::NORMAL, "done")
        .map_err(|e| format!("close: {e}"))?;
    pending.push(Expect::Close);
    let until = Instant::now() + ctx.patience() * 2;
    while Instant::now() < until {
        let got = ws.read().map_err(|e| format!("read after close: {e}"))?;
        let before = tally.echo_messages;
        let flow = pending.verify(got, tally)?;
        live.fetch_add(tally.echo_messages - before, Ordering::Relaxed);
        if flow == Flow::Closed {
            return Ok(());
        }
    }
    Err("no close answer in time".to_owned())
}

/// The window of the split mode, shared by its writer and reader.
#[derive(Default)]
struct Window {
    /// Bytes of echoes outstanding, and whether the reader has finished.
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

/// Split halves: a writer (this thread) and a reader thread.
fn echo_split(ctx: &Ctx, rng: &mut Rng, tag: &str, tally: &mut Tally) -> Result<(), String> {
    let ws = connect_ws(ctx, "/echo", tally)?;
    let local = ws.get_ref().local_addr().ok();
    let (reader, writer) = ws.split().map_err(|e| format!("split: {e}"))?;
    let window = Arc::new(Window::default());
    let (expect_tx, expect_rx) = mpsc::channel::<Expect>();
    let reader_thread = {
        let window = Arc::clone(&window);
        let until = ctx.deadline + ctx.server_bound() + ctx.patience() * 2;
        thread::Builder::new()
            .name("chaos-echo-reader".into())
            .spawn(move || {
                let mut tally = Tally::default();
                let result = split_reader(reader, &expect_rx, &window, until, &mut tally);
                lock(&window.state).1 = true;
                window.changed.notify_all();
                (result, tally)
            })
            .map_err(|e| format!("cannot start the reader: {e}"))?
    };
    let written = split_writer(ctx, rng, tag, &writer, &expect_tx, &window);
    let view = ctx.server_view(local);
    if written.is_err() {
        // Wake the reader: the session is over.
        let _ = writer.shutdown();
    }
    let (read, reader_tally) = reader_thread
        .join()
        .map_err(|_| "the reader thread panicked".to_owned())?;
    tally.echo_messages += reader_tally.echo_messages;
    tally.echo_bytes += reader_tally.echo_bytes;
    tally.pongs += reader_tally.pongs;
    tally.pulses += reader_tally.pulses;
    match (read, written) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(r), Ok(())) => Err(format!("reader: {r} [{view}]")),
        (Ok(()), Err(w)) => Err(format!("writer: {w} [{view}]")),
        (Err(r), Err(w)) => Err(format!("reader: {r}; writer: {w} [{view}]")),
    }
}

fn split_reader(
    mut reader: stdws::split::ReadHalf,
    expectations: &mpsc::Receiver<Expect>,
    window: &Window,
    until: Instant,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut pending = Pending::default();
    while Instant::now() < until {
        let got = reader.read().map_err(|e| format!("read: {e}"))?;
        // Expectations are queued before their frame is sent.
        while let Ok(e) = expectations.try_recv() {
            pending.push(e);
        }
        let before = pending.in_flight;
        let flow = pending.verify(got, tally)?;
        let freed = before - pending.in_flight;
        if freed > 0 {
            lock(&window.state).0 -= freed;
            window.changed.notify_all();
        }
        if flow == Flow::Closed {
            return Ok(());
        }
    }
    Err("ran out of time".to_owned())
}

fn split_writer(
    ctx: &Ctx,
    rng: &mut Rng,
    tag: &str,
    writer: &stdws::split::WriteHalf,
    expectations: &mpsc::Sender<Expect>,
    window: &Window,
) -> Result<(), String> {
    let count = rng.range(1, 200);
    for i in 0..count {
        if ctx.over() {
            break;
        }
        if rng.percent(10) {
            let p = ping_payload(rng, tag, i);
            let _ = expectations.send(Expect::Pong(p.clone()));
            writer.ping(&p).map_err(|e| format!("ping #{i}: {e}"))?;
        }
        let message = echo_message(rng, &format!("{tag}m{i}:"), ctx.options.max_echo_size);
        let len = message.len();
        {
            let until = Instant::now() + ctx.patience();
            let mut state = lock(&window.state);
            while state.0 > 0 && state.0 + len > WINDOW {
                if state.1 {
                    return Err("the reader stopped".to_owned());
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(format!(
                        "the window stayed full for {}",
                        secs(ctx.patience())
                    ));
                }
                state = window
                    .changed
                    .wait_timeout(state, left)
                    .map(|(s, _)| s)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            state.0 += len;
        }
        let _ = expectations.send(Expect::Data(message.clone()));
        writer
            .send(message)
            .map_err(|e| format!("send #{i}: {e}"))?;
        ctx.live.echoes.fetch_add(1, Ordering::Relaxed);
        if rng.percent(3) {
            thread::sleep(rng.millis(1, 30)); // pacing
        }
    }
    let _ = expectations.send(Expect::Close);
    writer
        .close(CloseCode::NORMAL, "done")
        .map_err(|e| format!("close: {e}"))
}

/// Raw frames: messages split in random fragments (at any byte, inside a
/// character too) with pings between them.
fn echo_raw(ctx: &Ctx, rng: &mut Rng, tag: &str, tally: &mut Tally) -> Result<(), String> {
    let mut conn = None;
    let give_up = Instant::now() + ctx.patience();
    for _ in 0..1_000 {
        if conn.is_some() {
            break;
        }
        match RawConn::open(ctx, "/echo") {
            Ok(c) => conn = Some(c),
            Err(seen) if seen.http == Some(503) && Instant::now() < give_up => {
                tally.retried_503 += 1;
                thread::sleep(Duration::from_millis(20)); // back off
            }
            Err(seen) => return Err(format!("connect: {seen:?}")),
        }
    }
    let Some(mut c) = conn else {
        return Err("not connected".to_owned());
    };
    let local = c.stream.local_addr().ok();
    raw_session(ctx, rng, tag, tally, &mut c)
        .map_err(|e| format!("{e} [{}]", ctx.server_view(local)))
}

fn raw_session(
    ctx: &Ctx,
    rng: &mut Rng,
    tag: &str,
    tally: &mut Tally,
    c: &mut RawConn,
) -> Result<(), String> {
    let mut pending = Pending::default();
    let count = rng.range(1, 100);
    for i in 0..count {
        if ctx.over() {
            break;
        }
        let message = echo_message(rng, &format!("{tag}m{i}:"), ctx.options.max_echo_size);
        let until = Instant::now() + ctx.patience();
        while !pending.has_room(message.len()) {
            if Instant::now() > until {
                return Err(format!(
                    "the window stayed full for {}",
                    secs(ctx.patience())
                ));
            }
            let got = c.read_message(until)?;
            pending.verify(got, tally)?;
        }
        let (opcode, bytes) = match &message {
            Message::Text(t) => (1, t.as_bytes()),
            _ => (2, message.as_bytes()),
        };
        let pieces = if bytes.is_empty() {
            1
        } else {
            rng.range(1, 6.min(bytes.len()))
        };
        let mut cuts: Vec<usize> = (1..pieces).map(|_| rng.range(1, bytes.len() - 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts.push(bytes.len());
        let mut out = Vec::with_capacity(bytes.len() + 64);
        let mut start = 0;
        for (n, &end) in cuts.iter().enumerate() {
            let first = n == 0;
            let last = n + 1 == cuts.len();
            let op = if first { opcode } else { 0 };
            out.extend(encode(last, 0, op, &bytes[start..end], Some(rng.key())));
            start = end;
            if !last && rng.percent(30) {
                let p = ping_payload(rng, tag, i);
                out.extend(encode(true, 0, 9, &p, Some(rng.key())));
                pending.push(Expect::Pong(p));
            }
        }
        pending.push(Expect::Data(message));
        c.send(&out).map_err(|e| format!("send #{i}: {e}"))?;
        ctx.live.echoes.fetch_add(1, Ordering::Relaxed);
    }
    c.send(&encode(true, 0, 8, b"\x03\xe8done", Some(rng.key())))
        .map_err(|e| format!("close: {e}"))?;
    pending.push(Expect::Close);
    let until = Instant::now() + ctx.patience() * 2;
    let mut closed = false;
    for _ in 0..100_000 {
        let got = c.read_message(until)?;
        if pending.verify(got, tally)? == Flow::Closed {
            closed = true;
            break;
        }
    }
    if !closed {
        return Err("no close answer after 100,000 messages".to_owned());
    }
    // The server closes the TCP connection first (section 7.1.1).
    match c.read_frame(until) {
        Ok(None) => Ok(()),
        other => Err(format!(
            "after the close, expected the end of the stream, got {other:?}"
        )),
    }
}

// ---------------------------------------------------------------------------
// Well-behaved clients: news
// ---------------------------------------------------------------------------

fn news_client(ctx: &Ctx, index: usize) -> Partial {
    let mut rng = Rng::new(ctx.options.seed ^ splitmix(index as u64 + 1));
    let mut part = Partial::default();
    let mut session = 0u64;
    while !ctx.over() && session < 1_000_000 {
        session += 1;
        match news_session(ctx, &mut rng, &mut part.tally) {
            Ok(()) => part.tally.news_sessions += 1,
            Err(e) => part.error(ctx, format!("news client {index}, session {session}: {e}")),
        }
    }
    part
}

fn news_session(ctx: &Ctx, rng: &mut Rng, tally: &mut Tally) -> Result<(), String> {
    let mut ws = connect_ws(ctx, "/news", tally)?;
    let local = ws.get_ref().local_addr().ok();
    listen(ctx, rng, tally, &mut ws).map_err(|e| format!("{e} [{}]", ctx.server_view(local)))
}

fn listen(
    ctx: &Ctx,
    rng: &mut Rng,
    tally: &mut Tally,
    ws: &mut WebSocket<TcpStream>,
) -> Result<(), String> {
    let max = ctx.options.max_news_size;
    let mut next = None;
    let session_end = (Instant::now() + rng.millis(200, 4000)).min(ctx.deadline);
    let mut closing = false;
    let give_up = ctx.deadline + ctx.patience() * 3;
    for _ in 0..10_000_000 {
        if Instant::now() > give_up {
            return Err("the session ran out of time".to_owned());
        }
        if !closing && Instant::now() >= session_end && next.is_some() {
            ws.close(CloseCode::NORMAL, "enough news")
                .map_err(|e| format!("close: {e}"))?;
            closing = true;
        }
        let got = ws.read().map_err(|e| {
            format!(
                "read (after news {}): {e}",
                next.map_or("none".to_owned(), |n: u64| n.to_string())
            )
        })?;
        match (got, next) {
            (Message::Ping(_), _) => {}
            (Message::Text(t), None) => {
                let n = t
                    .strip_prefix("welcome ")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("expected the welcome, got {t:?}"))?;
                next = Some(n);
            }
            (Message::Close(Some(frame)), Some(_))
                if closing && frame.code == CloseCode::NORMAL =>
            {
                return Ok(());
            }
            (got, Some(n)) if got.is_data() => {
                if got != news_message(n, max) {
                    return Err(format!(
                        "expected news {n}, got news {} ({})",
                        news_number(&got),
                        describe(&got)
                    ));
                }
                next = Some(n + 1);
                tally.news_messages += 1;
                ctx.live.news.fetch_add(1, Ordering::Relaxed);
            }
            (got, _) => {
                return Err(format!(
                    "unexpected {} (closing: {closing})",
                    describe(&got)
                ));
            }
        }
    }
    Err("the session read ten million messages".to_owned())
}

// ---------------------------------------------------------------------------
// Raw connections: frames by hand
// ---------------------------------------------------------------------------

/// Encodes a frame with every bit under the caller's control.
fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(((fin as u8) << 7) | ((rsv & 7) << 4) | (opcode & 0xf));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=65535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame header announcing `len` bytes, masked with `key`, and no payload.
fn header_only(opcode: u8, len: u64, key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&key);
    out
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

fn handshake_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

#[derive(Debug)]
struct RawFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// How a hostile connection ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The server closed the TCP connection (FIN).
    #[default]
    Eof,
    /// A reset or another socket error.
    Reset,
    /// The client dropped the connection without waiting.
    Dropped,
    /// The server did not end the connection in time.
    Hang,
    /// The server sent bytes that are not a frame.
    Malformed,
    /// No TCP connection.
    NotConnected,
}

/// What a hostile client saw of the server.
#[derive(Debug, Default, Clone)]
struct Seen {
    http: Option<u16>,
    close: Option<u16>,
    end: End,
    /// Data frames other than pulses (echoes).
    data_frames: u64,
}

impl Seen {
    fn ended(end: End) -> Seen {
        Seen {
            end,
            ..Seen::default()
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_end(e: &io::Error) -> End {
    if is_timeout(e) {
        End::Hang
    } else if e.kind() == io::ErrorKind::InvalidData {
        End::Malformed
    } else {
        End::Reset
    }
}

/// A TCP connection spoken to byte by byte.
struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    /// A fragmented message begun and not finished: it continues after any
    /// control frame returned in the middle (RFC 6455, section 5.4).
    partial: Option<(u8, Vec<u8>)>,
}

impl RawConn {
    fn connect(ctx: &Ctx) -> io::Result<RawConn> {
        let stream = TcpStream::connect_timeout(&ctx.addr, ctx.patience())?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(ctx.patience()))?;
        stream.set_read_timeout(Some(ctx.patience()))?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
            start: 0,
            partial: None,
        })
    }

    /// Connects and completes the handshake; a refusal comes back as what was seen.
    fn open(ctx: &Ctx, path: &str) -> Result<RawConn, Seen> {
        let mut c = RawConn::connect(ctx).map_err(|_| Seen::ended(End::NotConnected))?;
        if let Err(e) = c.send(handshake_request(path).as_bytes()) {
            return Err(Seen::ended(io_end(&e)));
        }
        let deadline = Instant::now() + ctx.server_bound();
        match c.read_head(deadline) {
            Ok(Some(101)) => Ok(c),
            Ok(Some(status)) => {
                let mut seen = c.wait_end(deadline, false);
                seen.http = Some(status);
                Err(seen)
            }
            Ok(None) => Err(Seen::ended(End::Eof)),
            Err(e) => Err(Seen::ended(io_end(&e))),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&self.stream).write_all(bytes)
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads once, waiting until `deadline` at most. Returns the count read.
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        if self.start > 0 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let have = self.buf.len();
        self.buf.resize(have + 64 * 1024, 0);
        let result = (&self.stream).read(&mut self.buf[have..]);
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(have + n);
        result
    }

    /// Reads an HTTP response head; its status, or `None` at end of stream.
    fn read_head(&mut self, deadline: Instant) -> io::Result<Option<u16>> {
        for _ in 0..10_000 {
            if let Some(at) = self.pending().windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending()[..at]).into_owned();
                self.consume(at + 4);
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, head))?;
                return Ok(Some(status));
            }
            if self.pending().len() > 16 * 1024 {
                return Err(io::ErrorKind::InvalidData.into());
            }
            if self.fill(deadline)? == 0 {
                return Ok(None);
            }
        }
        Err(io::ErrorKind::TimedOut.into())
    }

    /// Parses one frame from the buffer, if a whole one is there.
    fn parse(&mut self) -> io::Result<Option<RawFrame>> {
        let b = self.pending();
        if b.len() < 2 {
            return Ok(None);
        }
        let (len, mut at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as u64, 4),
            127 if b.len() >= 10 => {
                let mut eight = [0u8; 8];
                eight.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(eight), 10)
            }
            126 | 127 => return Ok(None),
            n => (n as u64, 2),
        };
        if b[0] & 0x70 != 0 || len > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad frame header {:02x?}", &b[..at]),
            ));
        }
        let key = if b[1] & 0x80 != 0 {
            if b.len() < at + 4 {
                return Ok(None);
            }
            at += 4;
            Some([b[at - 4], b[at - 3], b[at - 2], b[at - 1]])
        } else {
            None
        };
        let len = len as usize;
        if b.len() < at + len {
            return Ok(None);
        }
        let mut payload = b[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        let frame = RawFrame {
            fin: b[0] & 0x80 != 0,
            opcode: b[0] & 0x0f,
            payload,
        };
        self.consume(at + len);
        Ok(Some(frame))
    }

    /// Reads the next frame; `None` at the end of the stream.
    fn read_frame(&mut self, deadline: Instant) -> io::Result<Option<RawFrame>> {
        for _ in 0..1_000_000 {
            if let Some(frame) = self.parse()? {
                return Ok(Some(frame));
            }
            if self.fill(deadline)? == 0 {
                if self.pending().is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a frame",
                ));
            }
        }
        Err(io::ErrorKind::TimedOut.into())
    }

    /// Reads the next message as a well-behaved client: answers pings,
    /// assembles fragments, checks text.
    fn read_message(&mut self, deadline: Instant) -> Result<Message, String> {
        for _ in 0..100_000 {
            let frame = match self.read_frame(deadline) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Err("the server closed the connection".to_owned()),
                Err(e) => return Err(format!("read: {e}")),
            };
            match frame.opcode {
                9 => {
                    let pong = encode(true, 0, 10, &frame.payload, Some([1, 2, 3, 4]));
                    self.send(&pong).map_err(|e| format!("pong: {e}"))?;
                    return Ok(Message::Ping(frame.payload));
                }
                10 => return Ok(Message::Pong(frame.payload)),
                8 => {
                    let close = match frame.payload.len() {
                        0 => None,
                        1 => return Err("a close frame with a 1-byte payload".to_owned()),
                        _ => Some(stdws::CloseFrame::new(
                            CloseCode(u16::from_be_bytes([frame.payload[0], frame.payload[1]])),
                            String::from_utf8_lossy(&frame.payload[2..]),
                        )),
                    };
                    return Ok(Message::Close(close));
                }
                0..=2 => {
                    let (opcode, mut data) = match (frame.opcode, self.partial.take()) {
                        (0, Some(started)) => started,
                        (1 | 2, None) => (frame.opcode, Vec::new()),
                        (op, _) => return Err(format!("bad fragment sequence (opcode {op})")),
                    };
                    data.extend_from_slice(&frame.payload);
                    if !frame.fin {
                        self.partial = Some((opcode, data));
                        continue;
                    }
                    return if opcode == 1 {
                        String::from_utf8(data)
                            .map(Message::Text)
                            .map_err(|_| "the server sent invalid UTF-8".to_owned())
                    } else {
                        Ok(Message::Binary(data))
                    };
                }
                op => return Err(format!("the server sent opcode {op}")),
            }
        }
        Err("too many fragments".to_owned())
    }

    /// Waits for the server to end the connection, reading and discarding
    /// (frames when `framed`, otherwise raw bytes), answering nothing.
    fn wait_end(&mut self, deadline: Instant, framed: bool) -> Seen {
        let mut seen = Seen::default();
        for _ in 0..10_000_000 {
            if framed {
                match self.read_frame(deadline) {
                    Ok(Some(frame)) => {
                        if frame.opcode == 8 && seen.close.is_none() {
                            seen.close = Some(match frame.payload.len() {
                                0 => 1005,
                                1 => 0,
                                _ => u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
                            });
                        } else if frame.opcode < 8 && !frame.payload.starts_with(b"pulse") {
                            seen.data_frames += 1;
                        }
                    }
                    Ok(None) => return seen,
                    Err(e) => {
                        seen.end = io_end(&e);
                        return seen;
                    }
                }
            } else {
                self.buf.clear();
                self.start = 0;
                match self.fill(deadline) {
                    Ok(0) => return seen,
                    Ok(_) => {}
                    Err(e) => {
                        seen.end = io_end(&e);
                        return seen;
                    }
                }
            }
        }
        seen.end = End::Hang;
        seen
    }

    /// Reads the HTTP answer, if any, then waits for the end.
    fn wait_end_http(&mut self, deadline: Instant) -> Seen {
        match self.read_head(deadline) {
            Ok(Some(status)) => {
                let mut seen = self.wait_end(deadline, false);
                seen.http = Some(status);
                seen
            }
            Ok(None) => Seen::ended(End::Eof),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => self.wait_end(deadline, false),
            Err(e) => Seen::ended(io_end(&e)),
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile clients
// ---------------------------------------------------------------------------

/// The outcome of one hostile episode.
struct Episode {
    seen: Seen,
    /// The close codes the rule broken calls for, when there is one.
    expect: Option<Vec<u16>>,
    /// Something unexpected but tolerated.
    anomaly: Option<String>,
    /// Something wrong in a legal exchange: a failure.
    error: Option<String>,
}

impl Episode {
    fn seen(seen: Seen) -> Episode {
        Episode {
            seen,
            expect: None,
            anomaly: None,
            error: None,
        }
    }

    fn expecting(seen: Seen, codes: &[u16]) -> Episode {
        Episode {
            expect: Some(codes.to_vec()),
            ..Episode::seen(seen)
        }
    }
}

type Kind = fn(&Ctx, &mut Rng) -> Episode;

/// Every kind of hostile episode, by name.
const KINDS: &[(&str, Kind)] = &[
    ("garbage", garbage),
    ("bad-handshake", bad_handshake),
    ("slowloris", slowloris),
    ("random-after-101", random_after_handshake),
    ("reserved-bits", reserved_bits),
    ("reserved-opcode", reserved_opcode),
    ("unmasked", unmasked),
    ("bad-close", bad_close),
    ("invalid-utf8", invalid_utf8),
    ("oversize", oversize),
    ("ping-flood", ping_flood),
    ("fragments", fragments),
    ("reset-mid-frame", reset_mid_frame),
    ("slow-reader-echo", slow_reader_echo),
    ("slow-reader-news", slow_reader_news),
    ("half-close", half_close),
    ("connect-storm", connect_storm),
    ("close-then-more", close_then_more),
    ("silent", silent),
    ("ignore-close", ignore_close),
    ("at-limit", at_limit),
    ("eager-frames", eager_frames),
    ("trickled-frames", trickled_frames),
];

fn hostile_client(ctx: &Ctx, index: usize) -> Partial {
    let mut rng = Rng::new(ctx.options.seed ^ splitmix(index as u64 + 1));
    let mut part = Partial::default();
    // First the kinds assigned to this client, deadline or not, so that
    // together the hostile clients run every kind at least once; then
    // random kinds until the deadline.
    let slot = index.saturating_sub(ctx.options.clients);
    let assigned: Vec<usize> = (slot..KINDS.len())
        .step_by(ctx.options.hostile.max(1))
        .collect();
    for n in 0..1_000_000 {
        let kind = match assigned.get(n) {
            Some(&kind) => kind,
            None if ctx.over() => break,
            None => rng.below(KINDS.len()),
        };
        let (name, run) = KINDS[kind];
        let began = Instant::now();
        let episode = run(ctx, &mut rng);
        let took = began.elapsed();
        ctx.live.episodes.fetch_add(1, Ordering::Relaxed);
        record(ctx, &mut part, name, episode, took);
    }
    part
}

fn record(ctx: &Ctx, part: &mut Partial, name: &'static str, episode: Episode, took: Duration) {
    let Episode {
        seen,
        expect,
        anomaly,
        error,
    } = episode;
    let stats = part.kinds.entry(name).or_default();
    stats.episodes += 1;
    stats.longest = stats.longest.max(took);
    if let Some(status) = seen.http {
        *stats.http.entry(status).or_default() += 1;
    }
    if let Some(code) = seen.close {
        *stats.closes.entry(code).or_default() += 1;
    }
    let refused = matches!(seen.http, Some(429 | 503));
    if refused {
        stats.refused += 1;
    }
    match seen.end {
        End::Eof => stats.eof += 1,
        End::Reset => stats.reset += 1,
        End::Dropped => stats.dropped += 1,
        End::NotConnected => stats.connect_failures += 1,
        End::Hang => stats.hangs += 1,
        End::Malformed => {}
    }
    let mut anomalies = Vec::new();
    anomalies.extend(anomaly);
    if let (Some(codes), false) = (&expect, refused) {
        match seen.close {
            Some(code) if !codes.contains(&code) => {
                anomalies.push(format!("expected close {codes:?}, got {code} ({seen:?})"))
            }
            None if seen.end == End::Eof => {
                anomalies.push(format!("expected close {codes:?}, got none ({seen:?})"))
            }
            _ => {}
        }
    }
    if seen.end == End::NotConnected {
        anomalies.push("could not connect".to_owned());
    }
    stats.anomalies += anomalies.len() as u64;
    for a in anomalies {
        if !ctx.options.quiet {
            eprintln!("chaos: anomaly: {name}: {a}");
        }
        part.anomalies.push(format!("{name}: {a}"));
    }
    match seen.end {
        End::Hang => {
            let what = format!(
                "{name}: the server did not end the connection in time \
                 ({} into the episode; {seen:?})",
                secs(took)
            );
            part.error(ctx, what);
        }
        End::Malformed => {
            let what = format!("{name}: the server sent a malformed frame ({seen:?})");
            part.error(ctx, what);
        }
        _ => {}
    }
    if let Some(e) = error {
        part.error(ctx, format!("{name}: {e}"));
    }
}

/// Opens a WebSocket connection, or returns the episode that refused it.
macro_rules! open_or_return {
    ($ctx:expr, $path:expr) => {
        match RawConn::open($ctx, $path) {
            Ok(c) => c,
            Err(seen) => return Episode::seen(seen),
        }
    };
}

fn end_deadline(ctx: &Ctx) -> Instant {
    Instant::now() + ctx.server_bound()
}

/// Garbage instead of a handshake.
fn garbage(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let Ok(mut c) = RawConn::connect(ctx) else {
        return Episode::seen(Seen::ended(End::NotConnected));
    };
    let bytes = match rng.below(4) {
        0 => {
            let n = rng.range(1, 4096);
            rng.bytes(n)
        }
        1 => {
            let mut lines = String::new();
            for _ in 0..rng.range(1, 20) {
                let n = rng.range(0, 40);
                lines.push_str(&random_text(rng, "", n).replace(['\n', '\r'], " "));
                lines.push_str("\r\n");
            }
            lines.push_str("\r\n");
            lines.into_bytes()
        }
        2 => {
            // A header that never ends: over the head limit (431).
            let mut v = b"GET /echo HTTP/1.1\r\nX-Filler: ".to_vec();
            v.resize(v.len() + rng.range(8200, 20_000), b'a');
            v
        }
        _ => {
            let n = rng.range(1, 512);
            let mut v = rng.bytes(n);
            v.extend_from_slice(b"\r\n\r\n");
            v
        }
    };
    if let Err(e) = c.send(&bytes) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    let seen = c.wait_end_http(end_deadline(ctx));
    let anomaly = (seen.http == Some(101)).then(|| "garbage was accepted with 101".to_owned());
    Episode {
        anomaly,
        ..Episode::seen(seen)
    }
}

/// A handshake with one thing wrong.
fn bad_handshake(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    let v13 = "Sec-WebSocket-Version: 13\r\n";
    let many_headers: String = (0..150).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let request = match rng.below(9) {
        0 => format!("GET /nowhere HTTP/1.1\r\nHost: a\r\n{up}{key}{v13}\r\n"),
        1 => "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n".to_owned(),
        2 => format!("GET /echo HTTP/1.1\r\nHost: a\r\n{up}{key}Sec-WebSocket-Version: 8\r\n\r\n"),
        3 => format!("GET /echo HTTP/1.1\r\nHost: a\r\n{up}{v13}\r\n"),
        4 => format!("GET /echo HTTP/1.1\r\nHost: a\r\n{up}Sec-WebSocket-Key: abc\r\n{v13}\r\n"),
        5 => format!("POST /echo HTTP/1.1\r\nHost: a\r\n{up}{key}{v13}\r\n"),
        6 => format!("GET /echo HTTP/1.1\r\nHost: a\r\n{up}{key}{v13}{many_headers}\r\n"),
        7 => {
            format!("GET /echo HTTP/1.1\r\nHost: a\r\nthis line has no colon\r\n{up}{key}{v13}\r\n")
        }
        _ => format!(
            "GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n{key}{v13}\r\n"
        ),
    };
    let Ok(mut c) = RawConn::connect(ctx) else {
        return Episode::seen(Seen::ended(End::NotConnected));
    };
    if let Err(e) = c.send(request.as_bytes()) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    let seen = c.wait_end_http(end_deadline(ctx));
    let anomaly = match seen.http {
        Some(101) => Some(format!("a bad handshake was accepted: {request:?}")),
        None if seen.end != End::Hang => Some(format!("no HTTP answer to {request:?} ({seen:?})")),
        _ => None,
    };
    Episode {
        anomaly,
        ..Episode::seen(seen)
    }
}

/// A handshake trickled slower than the handshake timeout allows.
fn slowloris(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let Ok(mut c) = RawConn::connect(ctx) else {
        return Episode::seen(Seen::ended(End::NotConnected));
    };
    let began = Instant::now();
    let request = handshake_request(if rng.percent(50) { "/echo" } else { "/news" }).into_bytes();
    // Either stop somewhere, or trickle it all (it takes far longer than the timeout).
    let stop_at = rng.range(1, request.len() - 1);
    let step = rng.millis(30, 300);
    let bound = ctx.options.server.handshake_timeout + ctx.patience();
    let mut sent = 0;
    let mut seen = Seen::default();
    for _ in 0..100_000 {
        if began.elapsed() > bound {
            seen.end = End::Hang;
            break;
        }
        if sent < stop_at {
            let n = rng.range(1, 3).min(stop_at - sent);
            if let Err(e) = c.send(&request[sent..sent + n]) {
                seen.end = io_end(&e);
                break;
            }
            sent += n;
        }
        // Waiting for the server to close is the pacing of the trickle.
        match c.fill(Instant::now() + step) {
            Ok(0) => break,
            Ok(_) => {
                // An answer to half a request: a refusal, read it to the end.
                seen = c.wait_end_http(Instant::now() + bound);
                break;
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                seen.end = io_end(&e);
                break;
            }
        }
    }
    let took = began.elapsed();
    let anomaly = (took < ctx.options.server.handshake_timeout / 2 && seen.http.is_none())
        .then(|| format!("closed after only {} ({seen:?})", secs(took)));
    Episode {
        anomaly,
        ..Episode::seen(seen)
    }
}

/// A valid handshake, then random bytes.
fn random_after_handshake(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, if rng.percent(70) { "/echo" } else { "/news" });
    let n = rng.range(1, 4096);
    let bytes = rng.bytes(n);
    for chunk in bytes.chunks(rng.range(1, n)) {
        if let Err(e) = c.send(chunk) {
            return Episode::seen(Seen::ended(io_end(&e)));
        }
    }
    Episode::seen(c.wait_end(end_deadline(ctx), true))
}

/// Sends a few valid messages (maybe), then `bad`, then waits for the end.
fn violate(ctx: &Ctx, rng: &mut Rng, bad: &[u8], codes: &[u16]) -> Episode {
    let mut c = open_or_return!(ctx, if rng.percent(80) { "/echo" } else { "/news" });
    let mut out = Vec::new();
    for i in 0..rng.below(3) {
        out.extend(encode(
            true,
            0,
            1,
            format!("before {i}").as_bytes(),
            Some(rng.key()),
        ));
    }
    out.extend_from_slice(bad);
    if let Err(e) = c.send(&out) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    Episode::expecting(c.wait_end(end_deadline(ctx), true), codes)
}

fn reserved_bits(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let rsv = rng.range(1, 7) as u8;
    let opcode = *rng.pick(&[1, 2, 9, 8, 0]);
    let payload: &[u8] = if opcode == 8 { b"\x03\xe8" } else { b"hi" };
    let bad = encode(true, rsv, opcode, payload, Some(rng.key()));
    violate(ctx, rng, &bad, &[1002])
}

fn reserved_opcode(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let opcode = *rng.pick(&[3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
    let bad = encode(rng.percent(80), 0, opcode, b"what is this", Some(rng.key()));
    violate(ctx, rng, &bad, &[1002])
}

fn unmasked(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let opcode = *rng.pick(&[1, 2, 9, 8]);
    let payload: &[u8] = if opcode == 8 { b"\x03\xe8" } else { b"bare" };
    let bad = encode(true, 0, opcode, payload, None);
    violate(ctx, rng, &bad, &[1002])
}

fn bad_close(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let key = Some(rng.key());
    let (payload, codes): (Vec<u8>, &[u16]) = match rng.below(4) {
        0 => {
            let code = *rng.pick(&[
                0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
            ]);
            (close_payload(code, b"bad code"), &[1002])
        }
        1 => (vec![0x03], &[1002]),
        2 => (close_payload(1000, b"bad \xff\xfe reason"), &[1007]),
        _ => (close_payload(1000, &[b'x'; 124]), &[1002]),
    };
    violate(ctx, rng, &encode(true, 0, 8, &payload, key), codes)
}

fn invalid_utf8(ctx: &Ctx, rng: &mut Rng) -> Episode {
    const BAD: [&[u8]; 6] = [
        b"\xff",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"ok \xf0\x9f\x98",
    ];
    let bad = *rng.pick(&BAD);
    let len = rng.below(50) + 1;
    let mut text = random_text(rng, "", len).into_bytes();
    text.extend_from_slice(bad);
    let frames = if rng.percent(50) {
        encode(true, 0, 1, &text, Some(rng.key()))
    } else {
        // Valid so far in the first fragment; the rule breaks in a later one.
        let cut = rng.range(0, text.len() - bad.len());
        let mut f = encode(false, 0, 1, &text[..cut], Some(rng.key()));
        f.extend(encode(true, 0, 0, &text[cut..], Some(rng.key())));
        f
    };
    violate(ctx, rng, &frames, &[1007])
}

fn oversize(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let limit = ctx.options.server.max_message_size;
    let mut c = open_or_return!(ctx, "/echo");
    let key = rng.key();
    let (codes, sent): (&[u16], io::Result<()>) = match rng.below(3) {
        0 => {
            // One frame announcing more than the limit, and a little of it.
            let len = rng.range(limit + 1, limit * 2) as u64;
            let mut out = header_only(2, len, key);
            let n = rng.below(64 * 1024);
            out.extend(rng.bytes(n));
            (&[1009], c.send(&out))
        }
        1 => {
            // Fragments, each within the limit, adding up past it.
            let mut total = 0;
            let mut result = Ok(());
            let mut first = true;
            while total <= limit && result.is_ok() {
                let n = rng.range(limit / 8, limit / 3);
                let data = vec![0x5a; n];
                result = c.send(&encode(
                    false,
                    0,
                    if first { 2 } else { 0 },
                    &data,
                    Some(key),
                ));
                first = false;
                total += n;
            }
            (&[1009], result)
        }
        _ => {
            // A 64-bit length with its top bit set.
            (&[1002, 1009], c.send(&header_only(2, (1 << 63) | 5, key)))
        }
    };
    if let Err(e) = sent {
        return Episode::expecting(Seen::ended(io_end(&e)), codes);
    }
    Episode::expecting(c.wait_end(end_deadline(ctx), true), codes)
}

/// Many pings: answered in batches and checked, or never read.
fn ping_flood(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/echo");
    if rng.percent(30) {
        // Never read: the server's pongs back up until it gives up on us.
        let began = Instant::now();
        let bound = ctx.options.server.write_timeout * 3 + ctx.patience();
        let mut flood = Vec::new();
        for _ in 0..500 {
            flood.extend(encode(true, 0, 9, &[0x70; 125], Some(rng.key())));
        }
        let mut sent = 0usize;
        while began.elapsed() < bound && sent < 256 << 20 {
            if c.send(&flood).is_err() {
                break;
            }
            sent += flood.len();
        }
        return Episode::seen(c.wait_end(end_deadline(ctx), true));
    }
    let total = rng.range(10, 1500);
    let batch = rng.range(1, 100);
    let deadline = end_deadline(ctx);
    let mut sent = 0;
    while sent < total {
        let mut want = VecDeque::new();
        let mut out = Vec::new();
        for _ in 0..batch.min(total - sent) {
            let n = rng.below(126);
            let p = rng.bytes(n);
            out.extend(encode(true, 0, 9, &p, Some(rng.key())));
            want.push_back(p);
            sent += 1;
        }
        if let Err(e) = c.send(&out) {
            return Episode::seen(Seen::ended(io_end(&e)));
        }
        for _ in 0..1_000_000 {
            let Some(p) = want.front() else {
                break;
            };
            match c.read_frame(deadline) {
                Ok(Some(f)) if f.opcode == 10 && &f.payload == p => {
                    want.pop_front();
                }
                Ok(Some(f)) if f.opcode == 9 || f.opcode < 8 => {} // keepalive, pulses
                other => {
                    return Episode {
                        error: Some(format!(
                            "ping {} of {total}: expected its pong, got {other:?}",
                            sent - want.len()
                        )),
                        ..Episode::seen(Seen::ended(End::Reset))
                    };
                }
            }
        }
    }
    if let Err(e) = c.send(&encode(
        true,
        0,
        8,
        &close_payload(1000, b""),
        Some(rng.key()),
    )) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    Episode::expecting(c.wait_end(deadline, true), &[1000])
}

/// Fragmented messages with pings between the fragments, legal or not.
fn fragments(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/echo");
    let key = Some(rng.key());
    let (frames, codes): (Vec<u8>, &[u16]) = match rng.below(10) {
        0 => (encode(true, 0, 0, b"no start", key), &[1002]),
        1 => {
            let mut f = encode(false, 0, 1, b"start", key);
            f.extend(encode(true, 0, 1, b"another start", key));
            (f, &[1002])
        }
        2 => (encode(false, 0, 9, b"fragmented ping", key), &[1002]),
        3 => (encode(true, 0, 9, &[b'p'; 126], key), &[1002]),
        4 => {
            // A close in the middle of a message is legal: it is answered.
            let mut f = encode(false, 0, 2, b"half a message", key);
            f.extend(encode(true, 0, 8, &close_payload(1000, b""), key));
            (f, &[1000])
        }
        _ => return legal_fragments(ctx, rng, c),
    };
    if let Err(e) = c.send(&frames) {
        return Episode::expecting(Seen::ended(io_end(&e)), codes);
    }
    Episode::expecting(c.wait_end(end_deadline(ctx), true), codes)
}

/// A legal fragmented message with pings between its fragments: the pongs
/// and the echo must come back in order.
fn legal_fragments(ctx: &Ctx, rng: &mut Rng, mut c: RawConn) -> Episode {
    let size = rng.range(1, 20_000);
    let (message, opcode) = if rng.percent(50) {
        (Message::Text(random_text(rng, "frag", size)), 1)
    } else {
        (Message::Binary(rng.bytes(size)), 2)
    };
    let bytes = message.as_bytes();
    let pieces = rng.range(2, 12).min(bytes.len());
    let mut cuts: Vec<usize> = (1..pieces).map(|_| rng.range(1, bytes.len() - 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(bytes.len());
    let mut out = Vec::new();
    let mut pending = Pending::default();
    let mut start = 0;
    for (n, &end) in cuts.iter().enumerate() {
        let last = n + 1 == cuts.len();
        let op = if n == 0 { opcode } else { 0 };
        out.extend(encode(last, 0, op, &bytes[start..end], Some(rng.key())));
        start = end;
        if last {
            pending.push(Expect::Data(message.clone()));
        }
        for _ in 0..rng.below(3) {
            let n = rng.below(126);
            let p = rng.bytes(n);
            out.extend(encode(true, 0, 9, &p, Some(rng.key())));
            pending.push(Expect::Pong(p));
        }
    }
    out.extend(encode(
        true,
        0,
        8,
        &close_payload(1000, b"ok"),
        Some(rng.key()),
    ));
    pending.push(Expect::Close);
    exchange(
        ctx,
        &mut c,
        &out,
        pending,
        "a legal fragmented message with pings",
    )
}

/// Half a frame, then a reset: the client drops the socket with unread
/// bytes in it (a pong), which makes its kernel send RST.
fn reset_mid_frame(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, if rng.percent(70) { "/echo" } else { "/news" });
    if c.send(&encode(true, 0, 9, b"unread", Some(rng.key())))
        .is_err()
    {
        return Episode::seen(Seen::ended(End::Reset));
    }
    // Wait (bounded) until the pong is in our socket, unread.
    let _ = c.stream.set_read_timeout(Some(ctx.patience()));
    let _ = c.stream.peek(&mut [0u8; 1]);
    let len = rng.range(10, 200_000);
    let mut partial = encode(true, 0, 2, &vec![7u8; len], Some(rng.key()));
    partial.truncate(rng.range(1, partial.len() - 1));
    let _ = c.send(&partial);
    drop(c);
    Episode::seen(Seen::ended(End::Dropped))
}

/// Echo requests as fast as the socket takes them, never reading.
fn slow_reader_echo(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/echo");
    let size = rng.range(1024, 64 * 1024);
    let frame = encode(true, 0, 2, &rng.bytes(size), Some(rng.key()));
    let began = Instant::now();
    let bound = ctx.options.server.write_timeout * 3 + ctx.patience();
    let mut sent = 0usize;
    let mut cut = false;
    while began.elapsed() < bound && sent < 256 << 20 {
        if c.send(&frame).is_err() {
            cut = true;
            break;
        }
        sent += frame.len();
    }
    let mut seen = c.wait_end(end_deadline(ctx), true);
    let anomaly = (!cut && seen.end != End::Hang).then(|| {
        format!(
            "{} MiB sent unread without the server cutting the connection",
            sent >> 20
        )
    });
    if seen.end == End::Reset {
        seen.data_frames = 0;
    }
    Episode {
        anomaly,
        ..Episode::seen(seen)
    }
}

/// A news listener that stops reading: its queue fills until the server
/// disconnects it (1008), or its writes time out. After a while it reads
/// again, briefly, to see which.
fn slow_reader_news(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/news");
    let hold = rng
        .millis(500, 6000)
        .min(ctx.options.duration.max(Duration::from_millis(500)));
    // Not reading; with unsolicited pongs as heartbeats (or not), so that
    // the queue policy (or keepalive) is what ends it.
    let heartbeat = rng.percent(70);
    let began = Instant::now();
    while began.elapsed() < hold {
        if heartbeat {
            let pong = encode(true, 0, 10, b"still here", Some(rng.key()));
            if c.send(&pong).is_err() {
                break;
            }
        }
        thread::sleep(Duration::from_millis(200).min(hold)); // pacing
    }
    let mut seen = c.wait_end(Instant::now() + Duration::from_secs(1), true);
    if seen.end == End::Hang {
        seen.end = End::Dropped; // still served: we leave
    }
    Episode::seen(seen)
}

/// The write side shut down (FIN) after half a frame, a whole message, or nothing.
fn half_close(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/echo");
    let variant = rng.below(3);
    let out = match variant {
        0 => {
            let mut f = encode(true, 0, 1, b"cut short by a FIN", Some(rng.key()));
            f.truncate(rng.range(1, f.len() - 1));
            f
        }
        1 => encode(true, 0, 1, b"then FIN", Some(rng.key())),
        _ => Vec::new(),
    };
    if let Err(e) = c.send(&out) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    let _ = c.stream.shutdown(Shutdown::Write);
    let seen = c.wait_end(end_deadline(ctx), true);
    let anomaly = (variant == 1 && seen.data_frames == 0 && seen.end == End::Eof)
        .then(|| format!("the message sent before the FIN was not echoed ({seen:?})"));
    Episode {
        anomaly,
        ..Episode::seen(seen)
    }
}

/// Connections opened and dropped in a burst, some mid-handshake.
fn connect_storm(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut conns = Vec::new();
    let mut failures = 0;
    let request = handshake_request("/echo").into_bytes();
    for _ in 0..rng.range(4, 32) {
        match TcpStream::connect_timeout(&ctx.addr, ctx.patience()) {
            Ok(mut s) => {
                let _ = s.set_write_timeout(Some(ctx.patience()));
                let _ = match rng.below(4) {
                    0 => Ok(()),
                    1 => s.write_all(&request[..rng.range(1, request.len() - 1)]),
                    2 => s.write_all(&request),
                    _ => {
                        let mut r = request.clone();
                        r.extend_from_slice(&encode(true, 0, 1, b"hello", Some([9, 9, 9, 9]))[..4]);
                        s.write_all(&r)
                    }
                };
                conns.push(s);
            }
            Err(_) => failures += 1,
        }
        if !conns.is_empty() && rng.percent(30) {
            let i = rng.below(conns.len());
            conns.swap_remove(i);
        }
    }
    while !conns.is_empty() {
        let i = rng.below(conns.len());
        conns.swap_remove(i);
    }
    Episode {
        anomaly: (failures > 0).then(|| format!("{failures} connects failed")),
        ..Episode::seen(Seen::ended(End::Dropped))
    }
}

/// A close, then frames after it: the server answers the close and ignores the rest.
fn close_then_more(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, if rng.percent(70) { "/echo" } else { "/news" });
    let private = 4000 + rng.below(1000) as u16;
    let code = *rng.pick(&[1000, 1001, 3000, private]);
    let reason = if rng.percent(30) {
        vec![b'r'; 123] // the longest reason a close frame can carry
    } else {
        let len = rng.below(30);
        random_text(rng, "", len).into_bytes()
    };
    let mut out = encode(true, 0, 8, &close_payload(code, &reason), Some(rng.key()));
    out.extend(encode(true, 0, 1, b"after the close", Some(rng.key())));
    out.extend(encode(true, 0, 9, b"ping after close", Some(rng.key())));
    if let Err(e) = c.send(&out) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    Episode::expecting(c.wait_end(end_deadline(ctx), true), &[code])
}

/// The server closes (the client asks it to), and the client goes on
/// talking, never answering the close, until the close timeout ends it; or
/// answers it, late or at once.
fn ignore_close(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/echo");
    let mut out = encode(true, 0, 1, CLOSE_ME.as_bytes(), Some(rng.key()));
    for _ in 0..rng.below(5) {
        out.extend(encode(true, 0, 1, b"still talking", Some(rng.key())));
        out.extend(encode(true, 0, 9, b"still pinging", Some(rng.key())));
    }
    if let Err(e) = c.send(&out) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    if rng.percent(50) {
        return Episode::expecting(c.wait_end(end_deadline(ctx), true), &[4000]);
    }
    // Answer the close, after a pause shorter than the close timeout.
    let deadline = end_deadline(ctx);
    let mut seen = Seen::default();
    for _ in 0..1_000_000 {
        match c.read_frame(deadline) {
            Ok(Some(f)) if f.opcode == 8 => {
                seen.close = Some(if f.payload.len() >= 2 {
                    u16::from_be_bytes([f.payload[0], f.payload[1]])
                } else {
                    1005
                });
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => return Episode::expecting(seen, &[4000]),
            Err(e) => return Episode::expecting(Seen::ended(io_end(&e)), &[4000]),
        }
    }
    thread::sleep(rng.millis(0, ctx.options.server.close_timeout.as_millis() as u64 / 2)); // pacing
    let answer = encode(true, 0, 8, &close_payload(4000, b""), Some(rng.key()));
    if let Err(e) = c.send(&answer) {
        seen.end = io_end(&e);
        return Episode::expecting(seen, &[4000]);
    }
    let rest = c.wait_end(deadline, true);
    seen.end = rest.end;
    Episode::expecting(seen, &[4000])
}

/// Sends `out` (frames, maybe after a handshake), then checks the answers
/// against `pending`: a legal exchange, so a difference is an error.
fn exchange(ctx: &Ctx, c: &mut RawConn, out: &[u8], mut pending: Pending, what: &str) -> Episode {
    if let Err(e) = c.send(out) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    let deadline = end_deadline(ctx);
    let mut tally = Tally::default();
    for _ in 0..100_000 {
        let verified = c
            .read_message(deadline)
            .and_then(|got| pending.verify(got, &mut tally));
        match verified {
            Ok(Flow::More) => {}
            Ok(Flow::Closed) => {
                let mut seen = c.wait_end(deadline, true);
                seen.close = Some(1000);
                return Episode::seen(seen);
            }
            Err(e) => {
                return Episode {
                    error: Some(format!("{what}: {e}")),
                    ..Episode::seen(Seen::ended(End::Reset))
                };
            }
        }
    }
    Episode::seen(Seen::ended(End::Hang))
}

/// A message of exactly the largest size allowed: legal, echoed whole.
fn at_limit(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let limit = ctx.options.server.max_message_size;
    let mut c = open_or_return!(ctx, "/echo");
    let data = rng.bytes(limit);
    let mut out = Vec::with_capacity(limit + 1024);
    let fragmented = rng.percent(50);
    if !fragmented {
        out.extend(encode(true, 0, 2, &data, Some(rng.key())));
    } else {
        let cut = rng.range(1, limit - 1);
        out.extend(encode(false, 0, 2, &data[..cut], Some(rng.key())));
        out.extend(encode(true, 0, 9, b"between", Some(rng.key())));
        out.extend(encode(true, 0, 0, &data[cut..], Some(rng.key())));
    }
    out.extend(encode(
        true,
        0,
        8,
        &close_payload(1000, b""),
        Some(rng.key()),
    ));
    let mut pending = Pending::default();
    if fragmented {
        // The pong comes first.
        pending.push(Expect::Pong(b"between".to_vec()));
    }
    pending.push(Expect::Data(Message::Binary(data)));
    pending.push(Expect::Close);
    exchange(
        ctx,
        &mut c,
        &out,
        pending,
        "a message of exactly the size limit",
    )
}

/// The handshake and the first frames in one write: the server must not
/// lose what it reads past the handshake.
fn eager_frames(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let Ok(mut c) = RawConn::connect(ctx) else {
        return Episode::seen(Seen::ended(End::NotConnected));
    };
    let mut out = handshake_request("/echo").into_bytes();
    let mut pending = Pending::default();
    for i in 0..rng.range(1, 5) {
        let message = echo_message(rng, &format!("eager{i}:"), 2000);
        let (op, bytes) = match &message {
            Message::Text(t) => (1, t.as_bytes()),
            other => (2, other.as_bytes()),
        };
        out.extend(encode(true, 0, op, bytes, Some(rng.key())));
        pending.push(Expect::Data(message));
        if rng.percent(30) {
            out.extend(encode(true, 0, 9, b"eager ping", Some(rng.key())));
            pending.push(Expect::Pong(b"eager ping".to_vec()));
        }
    }
    out.extend(encode(
        true,
        0,
        8,
        &close_payload(1000, b""),
        Some(rng.key()),
    ));
    pending.push(Expect::Close);
    if let Err(e) = c.send(&out) {
        return Episode::seen(Seen::ended(io_end(&e)));
    }
    match c.read_head(end_deadline(ctx)) {
        Ok(Some(101)) => {}
        Ok(Some(status)) => {
            let mut seen = c.wait_end(end_deadline(ctx), false);
            seen.http = Some(status);
            return Episode::seen(seen);
        }
        Ok(None) => return Episode::seen(Seen::ended(End::Eof)),
        Err(e) => return Episode::seen(Seen::ended(io_end(&e))),
    }
    exchange(ctx, &mut c, &[], pending, "frames sent with the handshake")
}

/// A legal message sent one byte at a time: the server assembles it across
/// many reads.
fn trickled_frames(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, "/echo");
    let len = rng.range(1, 300);
    let message = Message::Text(random_text(rng, "trickle", len));
    let bytes = message.as_bytes();
    let cut = rng.range(0, bytes.len());
    let mut out = encode(false, 0, 1, &bytes[..cut], Some(rng.key()));
    out.extend(encode(true, 0, 9, b"mid", Some(rng.key())));
    out.extend(encode(true, 0, 0, &bytes[cut..], Some(rng.key())));
    out.extend(encode(
        true,
        0,
        8,
        &close_payload(1000, b""),
        Some(rng.key()),
    ));
    let mut pending = Pending::default();
    pending.push(Expect::Pong(b"mid".to_vec()));
    pending.push(Expect::Data(message.clone()));
    pending.push(Expect::Close);
    let (last, head) = match out.split_last() {
        Some((last, head)) => (*last, head.to_vec()),
        None => return Episode::seen(Seen::default()),
    };
    for (i, byte) in head.iter().enumerate() {
        if let Err(e) = c.send(&[*byte]) {
            return Episode::seen(Seen::ended(io_end(&e)));
        }
        if i % 64 == 63 {
            thread::sleep(Duration::from_millis(1)); // pacing: let the server read
        }
    }
    exchange(
        ctx,
        &mut c,
        &[last],
        pending,
        "a message trickled byte by byte",
    )
}

/// A valid handshake, then silence, pings unanswered: keepalive ends it with 1011.
fn silent(ctx: &Ctx, rng: &mut Rng) -> Episode {
    let mut c = open_or_return!(ctx, if rng.percent(70) { "/echo" } else { "/news" });
    Episode::expecting(c.wait_end(end_deadline(ctx), true), &[1011])
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    let mut options = Options {
        duration: Duration::from_secs(60),
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed: Result<(), String> = match arg.as_str() {
            "--secs" => value("--secs").and_then(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e6)
                    .map(|s| options.duration = Duration::from_secs_f64(s))
                    .ok_or_else(|| format!("--secs: not a number of seconds: {v}"))
            }),
            "--clients" => value("--clients").and_then(|v| {
                v.parse()
                    .map(|n| options.clients = n)
                    .map_err(|_| format!("--clients: not a number: {v}"))
            }),
            "--hostile" => value("--hostile").and_then(|v| {
                v.parse()
                    .map(|n| options.hostile = n)
                    .map_err(|_| format!("--hostile: not a number: {v}"))
            }),
            "--seed" => value("--seed").and_then(|v| {
                let parsed = match v.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => v.parse().ok(),
                };
                parsed
                    .map(|s| options.seed = s)
                    .ok_or_else(|| format!("--seed: not a number: {v}"))
            }),
            "--workers" => value("--workers").and_then(|v| {
                v.parse()
                    .map(|n| options.workers = Some(n))
                    .map_err(|_| format!("--workers: not a number: {v}"))
            }),
            "--quiet" | "-q" => {
                options.quiet = true;
                Ok(())
            }
            "--help" | "-h" => Err(String::new()),
            other => Err(format!("unknown option {other}")),
        };
        if let Err(problem) = parsed {
            if !problem.is_empty() {
                eprintln!("chaos: {problem}");
            }
            eprintln!(
                "usage: chaos [--secs S] [--clients N] [--hostile M] [--seed S] [--workers W] [--quiet]\n\
                 (default: 60 s, 16 well-behaved clients, 16 hostile, a random seed)"
            );
            return if problem.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    }
    let report = run(options);
    println!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
