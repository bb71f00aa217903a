//! A load generator for WebSocket servers, built on stdws's own client.
//!
//! ```text
//! cargo run --release --example loadgen -- echo --url ws://127.0.0.1:8000/ --conns 64 --size 32 --secs 5
//! cargo run --release --example loadgen -- broadcast --url ws://127.0.0.1:8001/ --receivers 100 --msgs 200 --size 32
//! cargo run --release --example loadgen -- idle --url ws://127.0.0.1:8000/ --conns 1000 --hold 5 --pid PID
//! cargo run --release --example loadgen -- --help
//! ```
//!
//! Every run prints one JSON line on standard output (problems go to
//! standard error). Everything is bounded: each mode has a hard deadline,
//! every socket has read and write timeouts, and connections are opened in
//! batches small enough for a listen backlog of 128.
//!
//! - **echo**: one thread per connection sends a message whose first bytes
//!   carry a sequence number, waits for the echo and checks it byte for byte.
//!   Only round trips sent after the warm-up and completed inside the
//!   measuring window count. `--tcp` speaks plain TCP to a byte echo server
//!   (`examples/tcp_echo.rs`): SIZE bytes out, SIZE bytes back.
//!
//!   With `--inflight K` one thread pipelines K messages while they fit in
//!   64 KiB; beyond that each connection gets a reader thread and a writer
//!   thread ([`WebSocket::split`](stdws::WebSocket::split)), since a single
//!   thread would deadlock (a server blocked writing echoes that nobody reads
//!   stops reading, and the client's next large write blocks too).
//!   `--threads 1|2` forces either. Why not always two: on 2 shared cores the
//!   hand-off between the threads leaves the window far from full (64
//!   connections x 16 in flight: about 330 messages in flight instead of
//!   1024, and 20-25 % fewer round trips per second), which measures the
//!   client, not the server.
//!
//!   With messages of 64 KiB and more, the client's own costs (masking,
//!   copying) are a large share of each round trip on a shared machine:
//!   compare servers by their CPU per message there (`--pid`), or against
//!   `tcp_echo` with `--tcp`.
//! - **broadcast**: R receivers and one sender on a server that relays every
//!   message to every client (`examples/broadcast.rs`). The sender probes
//!   until every receiver has seen a probe (the server registers a client
//!   just after its handshake), then sends M messages back to back, each
//!   stamped with its send time. Deliveries/s is R*M over the time from the
//!   first send to the last delivery.
//! - **idle**: opens N connections, holds them, and reads the server's VmRSS
//!   and thread count from `/proc/PID/status` before and after; then one echo
//!   on each connection checks that they are all alive.

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use stdws::client::ClientBuilder;
use stdws::split::{ReadHalf, WriteHalf};
use stdws::url::Url;
use stdws::{CloseCode, Message, WebSocket};

const USAGE: &str = "\
usage: loadgen MODE [OPTIONS]   (one JSON line per run on stdout)

  loadgen echo --url ws://127.0.0.1:8000/ --conns N --size BYTES --secs S
               [--inflight K] [--warmup W] [--binary] [--tcp] [--threads 1|2] [--pid PID]
      N connections echo messages of BYTES bytes for W (default 1) + S seconds;
      round trips sent after the warm-up and completed inside the S-second window
      count. K > 1: one thread per connection pipelines K messages if they fit in
      64 KiB, else a reader and a writer thread keep K in flight (--threads forces).
      --tcp: plain TCP to a byte echo server (examples/tcp_echo.rs) at the URL's
      host and port. --pid: report the server's CPU seconds per million messages.

  loadgen broadcast --url ws://127.0.0.1:8001/ --receivers R --msgs M --size BYTES
                    [--max-secs S] [--binary]
      R receivers and one sender on a server that relays every message to every
      client; M messages sent back to back once every receiver is registered.
      Reports deliveries/s (R*M over first send to last delivery) and latencies.
      At most S seconds in all (default 60).

  loadgen idle --url ws://127.0.0.1:8000/ --conns N --hold S [--pid PID] [--batch B] [--tcp]
      Opens N connections (B at a time, default 100), holds them S seconds, reads
      the server's VmRSS and Threads from /proc/PID/status before and after, then
      checks each connection with one echo.

Defaults: --conns 1, --size 32, --secs 5, --inflight 1, --warmup 1, --msgs 100,
--receivers 100, --hold 5.";

/// Socket timeouts for every read and write once connected.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections opened at once: below the listen backlog of 128 that std's
/// `TcpListener::bind` uses, so a burst never waits out SYN retries.
const CONNECT_BATCH: usize = 100;
/// The largest message stdws accepts by default (16 MiB).
const MAX_SIZE: usize = 16 << 20;
/// The most bytes in flight per connection that one thread pipelines.
const ONE_THREAD_MAX_IN_FLIGHT: usize = 64 * 1024;
/// Stacks of client threads: their buffers are on the heap.
const WORKER_STACK: usize = 256 * 1024;
const SMALL_STACK: usize = 64 * 1024;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = argv.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(mode.as_str(), "--help" | "-h" | "help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(&argv[1..]) {
        Ok(args) if args.flag("help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) => args,
        Err(e) => return fail(&e),
    };
    let result = match mode.as_str() {
        "echo" => echo(&args),
        "broadcast" => broadcast(&args),
        "idle" => idle(&args),
        other => Err(format!("unknown mode {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(problem: &str) -> ExitCode {
    eprintln!("loadgen: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}

// ------------------------------------------------------------------ options

/// `--name value` options and `--flag` flags; anything else is refused, so a
/// typo cannot silently fall back to a default.
struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

const FLAGS: [&str; 3] = ["binary", "tcp", "help"];
const VALUES: [&str; 13] = [
    "url",
    "conns",
    "size",
    "secs",
    "inflight",
    "warmup",
    "pid",
    "receivers",
    "msgs",
    "max-secs",
    "hold",
    "batch",
    "threads",
];

impl Args {
    fn parse(argv: &[String]) -> Result<Args, String> {
        let mut args = Args {
            values: HashMap::new(),
            flags: Vec::new(),
        };
        let mut rest = argv.iter();
        while let Some(arg) = rest.next() {
            let name = arg.strip_prefix("--").unwrap_or("");
            if arg == "-h" {
                args.flags.push("help".to_owned());
            } else if FLAGS.contains(&name) {
                args.flags.push(name.to_owned());
            } else if VALUES.contains(&name) {
                let value = rest.next().ok_or(format!("--{name} needs a value"))?;
                args.values.insert(name.to_owned(), value.clone());
            } else {
                return Err(format!("unknown option {arg:?}"));
            }
        }
        Ok(args)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn get<T: FromStr>(&self, name: &str, default: Option<T>) -> Result<T, String> {
        match self.values.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("bad value for --{name}: {v}")),
            None => default.ok_or(format!("--{name} is required")),
        }
    }

    fn secs(&self, name: &str, default: f64, max: f64) -> Result<Duration, String> {
        let secs: f64 = self.get(name, Some(default))?;
        if !(0.0..=max).contains(&secs) {
            return Err(format!("--{name} must be between 0 and {max} seconds"));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

// ------------------------------------------------------------------ histogram

/// Durations in a log-linear histogram: exact below 64 ns, then 64 buckets
/// per power of two (under 1.6 % error), up to about 68 s.
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ns: u64,
}

impl Histogram {
    const SUB_BITS: u32 = 6;
    const SUB: usize = 1 << Self::SUB_BITS;
    const MAX_NS: u64 = (1 << 36) - 1;

    fn new() -> Histogram {
        Histogram {
            counts: vec![0; Self::bucket(Self::MAX_NS) + 1],
            total: 0,
            max_ns: 0,
        }
    }

    fn bucket(ns: u64) -> usize {
        if ns < Self::SUB as u64 {
            return ns as usize;
        }
        let shift = 63 - ns.leading_zeros() - Self::SUB_BITS;
        let mantissa = (ns >> shift) as usize - Self::SUB;
        (shift as usize + 1) * Self::SUB + mantissa
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        if i < Self::SUB {
            return i as u64;
        }
        let shift = (i / Self::SUB - 1) as u32;
        let mantissa = (i % Self::SUB + Self::SUB) as u64;
        (mantissa << shift) + (1 << shift) / 2
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(ns.min(Self::MAX_NS))] += 1;
        self.total += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The `q` quantile (0 to 1) in microseconds; `None` when empty.
    fn quantile_us(&self, q: f64) -> Option<f64> {
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total.max(1));
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank && self.total > 0 {
                return Some(Self::value(i).min(self.max_ns) as f64 / 1000.0);
            }
        }
        None
    }
}

// ------------------------------------------------------------------ JSON

/// One JSON object, written by hand: keys in the order they were added.
struct Json(Vec<String>);

impl Json {
    fn new(mode: &str) -> Json {
        let mut json = Json(Vec::new());
        json.str("mode", mode);
        json
    }

    fn str(&mut self, key: &str, value: &str) -> &mut Json {
        let mut quoted = String::with_capacity(value.len() + 2);
        quoted.push('"');
        for c in value.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                c if (c as u32) < 0x20 => quoted.push_str(&format!("\\u{:04x}", c as u32)),
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        self.0.push(format!("\"{key}\":{quoted}"));
        self
    }

    fn num(&mut self, key: &str, value: impl Display) -> &mut Json {
        self.0.push(format!("\"{key}\":{value}"));
        self
    }

    fn float(&mut self, key: &str, value: Option<f64>) -> &mut Json {
        match value {
            Some(v) if v.is_finite() => self.num(key, format!("{v:.3}")),
            _ => self.num(key, "null"),
        }
    }

    fn bool(&mut self, key: &str, value: bool) -> &mut Json {
        self.num(key, value)
    }

    fn latencies(&mut self, hist: &Histogram) -> &mut Json {
        self.float("p50_us", hist.quantile_us(0.5))
            .float("p99_us", hist.quantile_us(0.99))
            .float("p999_us", hist.quantile_us(0.999))
            .float(
                "max_us",
                (hist.total > 0).then(|| hist.max_ns as f64 / 1000.0),
            )
    }

    fn print(&self) {
        println!("{{{}}}", self.0.join(","));
    }
}

// ------------------------------------------------------------------ /proc

/// The clock tick of `/proc/PID/stat` times, from `getconf CLK_TCK`.
fn clock_ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may contain spaces: count fields
    // from its end. After it come state (field 3) ... utime (14), stime (15).
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// VmRSS in KB and the thread count of a process.
fn rss_and_threads(pid: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("Threads:")?))
}

// ------------------------------------------------------------------ connections

/// Where to connect, and how: a WebSocket URL, or the plain TCP address
/// taken from it.
struct Target {
    client: ClientBuilder,
    tcp: Option<Vec<SocketAddr>>,
}

impl Target {
    fn new(url: &str, tcp: bool) -> Result<Target, String> {
        let parsed = Url::parse(url).map_err(|e| format!("--url: {e}"))?;
        if parsed.is_secure() {
            return Err("--url: wss:// is not supported (loopback benchmarks only)".to_owned());
        }
        let tcp = if tcp {
            let addrs = (parsed.host(), parsed.port())
                .to_socket_addrs()
                .map_err(|e| format!("--url: {e}"))?
                .collect();
            Some(addrs)
        } else {
            None
        };
        let client = ClientBuilder::new(url)
            .connect_timeout(CONNECT_TIMEOUT)
            .open_timeout(CONNECT_TIMEOUT + IO_TIMEOUT)
            .read_timeout(IO_TIMEOUT)
            .write_timeout(IO_TIMEOUT)
            .max_message_size(MAX_SIZE)
            .max_frame_size(MAX_SIZE);
        Ok(Target { client, tcp })
    }

    fn connect(&self) -> Result<Conn, String> {
        let Some(addrs) = &self.tcp else {
            let ws = self.client.connect().map_err(|e| e.to_string())?;
            return Ok(Conn::Ws(Box::new(ws)));
        };
        let mut last = String::from("no address");
        for addr in addrs {
            match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(|e| e.to_string())?;
                    stream
                        .set_read_timeout(Some(IO_TIMEOUT))
                        .map_err(|e| e.to_string())?;
                    stream
                        .set_write_timeout(Some(IO_TIMEOUT))
                        .map_err(|e| e.to_string())?;
                    // The kernel completes a connect before the server
                    // accepts it: one byte's round trip proves that a worker
                    // serves the connection, as a WebSocket handshake does,
                    // and keeps batches from overrunning the listen backlog.
                    let mut conn = Conn::Tcp(stream);
                    let mut byte = Vec::new();
                    conn.send(b"!", true)?;
                    conn.recv(&mut byte, 1, true)?;
                    return Ok(conn);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(last)
    }
}

/// A connection, whole.
enum Conn {
    // Boxed: a WebSocket is a few hundred bytes, a TcpStream four.
    Ws(Box<WebSocket<TcpStream>>),
    Tcp(TcpStream),
}

/// The sending side of a connection shared with a reader thread.
enum Tx {
    Ws(WriteHalf),
    Tcp(TcpStream),
}

/// The receiving side of a split connection.
enum Rx {
    Ws(Box<ReadHalf>),
    Tcp(TcpStream),
}

impl Conn {
    fn send(&mut self, payload: &[u8], binary: bool) -> Result<(), String> {
        match self {
            Conn::Ws(ws) if binary => ws.send_binary(payload).map_err(|e| format!("send: {e}")),
            Conn::Ws(ws) => ws
                .send_text(as_text(payload)?)
                .map_err(|e| format!("send: {e}")),
            Conn::Tcp(stream) => stream.write_all(payload).map_err(|e| format!("send: {e}")),
        }
    }

    /// Reads the next data message into `buf` (`size` bytes in TCP mode).
    fn recv(&mut self, buf: &mut Vec<u8>, size: usize, binary: bool) -> Result<(), String> {
        match self {
            Conn::Ws(ws) => ws_recv(buf, binary, || ws.read()),
            Conn::Tcp(stream) => tcp_recv(stream, buf, size),
        }
    }

    fn stream(&self) -> &TcpStream {
        match self {
            Conn::Ws(ws) => ws.get_ref(),
            Conn::Tcp(stream) => stream,
        }
    }

    fn split(self) -> Result<(Rx, Tx), String> {
        match self {
            Conn::Ws(ws) => {
                let (rx, tx) = (*ws).split().map_err(|e| e.to_string())?;
                Ok((Rx::Ws(Box::new(rx)), Tx::Ws(tx)))
            }
            Conn::Tcp(stream) => {
                let reader = stream.try_clone().map_err(|e| e.to_string())?;
                Ok((Rx::Tcp(reader), Tx::Tcp(stream)))
            }
        }
    }

    /// Starts the closing handshake (a FIN for TCP).
    fn start_close(&mut self) {
        match self {
            Conn::Ws(ws) => drop(ws.close(CloseCode::NORMAL, "")),
            Conn::Tcp(stream) => drop(stream.shutdown(Shutdown::Write)),
        }
    }

    /// Reads until the server's close (or EOF), for at most `wait`.
    fn finish_close(&mut self, wait: Duration) {
        let _ = self
            .stream()
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))));
        match self {
            Conn::Ws(ws) => drain_ws(|| ws.read()),
            Conn::Tcp(stream) => drain_tcp(stream),
        }
    }

    fn close(mut self) {
        self.start_close();
        self.finish_close(Duration::from_secs(2));
    }
}

impl Tx {
    fn send(&self, payload: &[u8], binary: bool) -> Result<(), String> {
        match self {
            Tx::Ws(tx) => ws_send_half(tx, payload, binary),
            Tx::Tcp(stream) => {
                let mut stream: &TcpStream = stream;
                stream.write_all(payload).map_err(|e| format!("send: {e}"))
            }
        }
    }
}

impl Rx {
    fn recv(&mut self, buf: &mut Vec<u8>, size: usize, binary: bool) -> Result<(), String> {
        match self {
            Rx::Ws(rx) => ws_recv(buf, binary, || rx.read()),
            Rx::Tcp(stream) => tcp_recv(stream, buf, size),
        }
    }
}

/// Closes a split connection: the writer starts, the reader waits for the
/// answer.
fn close_split(mut rx: Rx, tx: Tx) {
    match (&mut rx, &tx) {
        (Rx::Ws(rx), Tx::Ws(tx)) => {
            let _ = tx.close(CloseCode::NORMAL, "");
            let _ = rx.get_ref().set_read_timeout(Some(Duration::from_secs(2)));
            drain_ws(|| rx.read());
        }
        (Rx::Tcp(rx), Tx::Tcp(tx)) => {
            let _ = tx.shutdown(Shutdown::Write);
            let _ = rx.set_read_timeout(Some(Duration::from_secs(2)));
            drain_tcp(rx);
        }
        _ => {}
    }
}

/// Our payloads are ASCII when sent as text; borrowed, not copied, so the
/// client's cost per message is the library's.
fn as_text(payload: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(payload).map_err(|_| "a text payload is not UTF-8".to_owned())
}

fn ws_send_half(tx: &WriteHalf, payload: &[u8], binary: bool) -> Result<(), String> {
    let sent = if binary {
        tx.send_binary(payload)
    } else {
        tx.send_text(as_text(payload)?)
    };
    sent.map_err(|e| format!("send: {e}"))
}

fn ws_recv(
    buf: &mut Vec<u8>,
    binary: bool,
    mut read: impl FnMut() -> stdws::Result<Message>,
) -> Result<(), String> {
    // Pings are answered by the library; anything else but the data
    // message of the kind sent is a failure. A few control frames at most.
    for _ in 0..16 {
        match read().map_err(|e| format!("read: {e}"))? {
            Message::Binary(data) if binary => *buf = data,
            Message::Text(text) if !binary => *buf = text.into_bytes(),
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(frame) => return Err(format!("the server closed: {frame:?}")),
            other => return Err(format!("unexpected message {other:?}")),
        }
        return Ok(());
    }
    Err("too many control frames".to_owned())
}

fn tcp_recv(stream: &mut TcpStream, buf: &mut Vec<u8>, size: usize) -> Result<(), String> {
    buf.resize(size, 0);
    stream.read_exact(buf).map_err(|e| format!("read: {e}"))
}

fn drain_ws(mut read: impl FnMut() -> stdws::Result<Message>) {
    // Bounded: each read waits at most the read timeout.
    for _ in 0..64 {
        match read() {
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn drain_tcp(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    for _ in 0..256 {
        match stream.read(&mut sink) {
            Ok(1..) => {}
            _ => return,
        }
    }
}

/// Connections opened, and how many could not be.
struct Opened {
    conns: Vec<Conn>,
    failed: usize,
    first_error: Option<String>,
}

/// Opens `n` connections, `batch` at a time, each handshake on a thread of
/// its own; stops at the first batch with a failure (a server that cannot
/// take a burst should not be given more) or at `deadline`.
fn open_many(target: &Target, n: usize, batch: usize, deadline: Instant) -> Opened {
    let mut opened = Opened {
        conns: Vec::with_capacity(n),
        failed: 0,
        first_error: None,
    };
    while opened.conns.len() + opened.failed < n {
        if Instant::now() >= deadline {
            opened.first_error = Some("the connect deadline passed".to_owned());
            break;
        }
        let count = batch.min(n - opened.conns.len());
        let results: Vec<Result<Conn, String>> = thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    thread::Builder::new()
                        .stack_size(SMALL_STACK)
                        .spawn_scoped(scope, || target.connect())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or(Err("a connect thread panicked".to_owned())),
                    Err(e) => Err(format!("cannot start a thread: {e}")),
                })
                .collect()
        });
        for result in results {
            match result {
                Ok(conn) => opened.conns.push(conn),
                Err(e) => {
                    opened.failed += 1;
                    opened.first_error.get_or_insert(format!("connect: {e}"));
                }
            }
        }
        if opened.failed > 0 {
            break;
        }
    }
    opened.failed = n - opened.conns.len();
    opened
}

// ------------------------------------------------------------------ echo

/// What every echo connection does, and when.
struct EchoPlan {
    size: usize,
    binary: bool,
    inflight: usize,
    /// Round trips sent before this do not count.
    warm_end: Instant,
    /// No message is sent after this; round trips completed after it do not count.
    end: Instant,
    /// Give up waiting for echoes after this.
    hard_end: Instant,
    /// The payload without its sequence number.
    base: Vec<u8>,
}

impl EchoPlan {
    /// The number of payload bytes that carry the sequence number.
    fn stamp_len(&self) -> usize {
        self.size.min(16)
    }

    fn stamp(&self, buf: &mut [u8], seq: u64) {
        write_hex(&mut buf[..self.stamp_len()], seq);
    }

    /// Whether `got` is exactly the payload stamped with `seq`.
    fn matches(&self, seq: u64, got: &[u8]) -> bool {
        let n = self.stamp_len();
        let mut stamp = [0u8; 16];
        write_hex(&mut stamp[..n], seq);
        got.len() == self.size && got[..n] == stamp[..n] && got[n..] == self.base[n..]
    }
}

/// The low digits of `value` in hexadecimal, filling `out`.
fn write_hex(out: &mut [u8], mut value: u64) {
    for byte in out.iter_mut().rev() {
        *byte = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// What one connection measured.
struct Tally {
    hist: Histogram,
    measured: u64,
    total: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: Histogram::new(),
            measured: 0,
            total: 0,
            errors: 0,
            first_error: None,
        }
    }

    fn fail(&mut self, why: String) {
        self.errors += 1;
        self.first_error.get_or_insert(why);
    }

    fn complete(&mut self, plan: &EchoPlan, sent_at: Instant, now: Instant) {
        self.total += 1;
        if sent_at >= plan.warm_end && now <= plan.end {
            self.measured += 1;
            self.hist.record(now - sent_at);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.hist.merge(&other.hist);
        self.measured += other.measured;
        self.total += other.total;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

fn echo(args: &Args) -> Result<(), String> {
    let url: String = args.get("url", None)?;
    let conns: usize = args.get("conns", Some(1))?;
    let size: usize = args.get("size", Some(32))?;
    let inflight: usize = args.get("inflight", Some(1))?;
    let secs = args.secs("secs", 5.0, 600.0)?;
    let warmup = args.secs("warmup", 1.0, 60.0)?;
    let pid: Option<String> = args.values.get("pid").cloned();
    let tcp = args.flag("tcp");
    let binary = args.flag("binary") || tcp;
    let in_flight_bytes = inflight.saturating_mul(size + 14);
    let one_thread = match args.values.get("threads").map(String::as_str) {
        None => inflight == 1 || in_flight_bytes <= ONE_THREAD_MAX_IN_FLIGHT,
        Some("1") => true,
        Some("2") => false,
        Some(other) => return Err(format!("--threads is 1 or 2, not {other}")),
    };
    if conns == 0 || conns > 5000 || inflight == 0 || inflight > 1024 || secs.is_zero() {
        return Err("need 1 <= --conns <= 5000, 1 <= --inflight <= 1024, --secs > 0".to_owned());
    }
    if size == 0 || size > MAX_SIZE {
        return Err(format!("need 1 <= --size <= {MAX_SIZE}"));
    }
    if one_thread && inflight > 1 && in_flight_bytes > ONE_THREAD_MAX_IN_FLIGHT {
        return Err(
            "--threads 1 with more than 64 KiB in flight can deadlock (the server blocks \
             writing echoes that one thread cannot read while it writes)"
                .to_owned(),
        );
    }
    if let Some(pid) = &pid {
        cpu_ticks(pid).ok_or(format!("cannot read /proc/{pid}/stat"))?;
    }
    let target = Target::new(&url, tcp)?;
    let tick = clock_ticks_per_sec();
    let opened = open_many(
        &target,
        conns,
        CONNECT_BATCH,
        Instant::now() + Duration::from_secs(30),
    );

    let server_before = pid.as_deref().and_then(cpu_ticks);
    let client_before = cpu_ticks("self");
    let start = Instant::now();
    let warm_end = start + warmup;
    let end = warm_end + secs;
    let plan = Arc::new(EchoPlan {
        size,
        binary,
        inflight,
        warm_end,
        end,
        hard_end: end + Duration::from_secs(15),
        base: (0..size)
            .map(|i| {
                if binary {
                    (i * 7 + 3) as u8
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect(),
    });
    let mut total = Tally::new();
    let mut handles = Vec::new();
    for (i, conn) in opened.conns.into_iter().enumerate() {
        let plan = Arc::clone(&plan);
        let spawned = thread::Builder::new()
            .name(format!("echo-{i}"))
            .stack_size(WORKER_STACK)
            .spawn(move || {
                if one_thread {
                    echo_one_thread(conn, &plan)
                } else {
                    echo_two_threads(conn, &plan)
                }
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => total.fail(format!("cannot start a thread: {e}")),
        }
    }
    for handle in handles {
        match handle.join() {
            Ok(tally) => total.merge(tally),
            Err(_) => total.fail("a connection's thread panicked".to_owned()),
        }
    }
    let server_cpu = match (server_before, pid.as_deref().and_then(cpu_ticks)) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) as f64 / tick),
        _ => None,
    };
    let client_cpu = match (client_before, cpu_ticks("self")) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) as f64 / tick),
        _ => None,
    };

    let rate = total.measured as f64 / secs.as_secs_f64();
    let mut json = Json::new("echo");
    json.str("url", &url)
        .bool("tcp", tcp)
        .bool("binary", binary)
        .num("conns", conns)
        .num("size", size)
        .num("inflight", inflight)
        .num("threads_per_conn", if one_thread { 1 } else { 2 })
        .float("warmup_s", Some(warmup.as_secs_f64()))
        .float("secs", Some(secs.as_secs_f64()))
        .num("msgs", total.measured)
        .num("total_msgs", total.total)
        .float("msgs_per_sec", Some(rate))
        .float("MB_per_sec", Some(rate * size as f64 / 1e6))
        .latencies(&total.hist)
        .num("errors", total.errors + opened.failed as u64);
    if pid.is_some() {
        json.float("server_cpu_s", server_cpu).float(
            "server_cpu_s_per_M_msgs",
            server_cpu
                .filter(|_| total.total > 0)
                .map(|cpu| cpu / total.total as f64 * 1e6),
        );
    }
    json.float("client_cpu_s", client_cpu);
    if let Some(e) = opened.first_error.or(total.first_error) {
        json.str("first_error", &e);
    }
    json.print();
    Ok(())
}

/// One thread sends K messages, then one more after each echo: the
/// connection through stdws's blocking [`WebSocket`].
fn echo_one_thread(mut conn: Conn, plan: &EchoPlan) -> Tally {
    let mut tally = Tally::new();
    let mut out = plan.base.clone();
    let mut got = Vec::with_capacity(plan.size);
    let mut in_flight: VecDeque<(u64, Instant)> = VecDeque::with_capacity(plan.inflight);
    let mut next_seq = 0;
    loop {
        while in_flight.len() < plan.inflight && Instant::now() < plan.end {
            plan.stamp(&mut out, next_seq);
            let sent_at = Instant::now();
            if let Err(e) = conn.send(&out, plan.binary) {
                tally.fail(e);
                return tally;
            }
            in_flight.push_back((next_seq, sent_at));
            next_seq += 1;
        }
        let Some((seq, sent_at)) = in_flight.pop_front() else {
            break;
        };
        if Instant::now() > plan.hard_end {
            tally.fail("echoes still missing at the hard deadline".to_owned());
            break;
        }
        if let Err(e) = conn.recv(&mut got, plan.size, plan.binary) {
            tally.fail(e);
            break;
        }
        let now = Instant::now();
        if !plan.matches(seq, &got) {
            tally.fail(format!(
                "wrong echo for message {seq} ({} bytes)",
                got.len()
            ));
            break;
        }
        tally.complete(plan, sent_at, now);
    }
    conn.close();
    tally
}

/// The messages a writer has sent and whose echoes the reader awaits.
struct Window {
    in_flight: VecDeque<(u64, Instant)>,
    writer_done: bool,
    reader_done: bool,
}

struct SharedWindow {
    state: Mutex<Window>,
    changed: Condvar,
}

impl SharedWindow {
    fn lock(&self) -> MutexGuard<'_, Window> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a change, or a short while (so deadlines are rechecked).
    fn wait<'a>(&self, guard: MutexGuard<'a, Window>) -> MutexGuard<'a, Window> {
        match self.changed.wait_timeout(guard, Duration::from_millis(100)) {
            Ok((guard, _)) => guard,
            Err(e) => e.into_inner().0,
        }
    }
}

/// A writer thread keeps K messages in flight; this thread reads the echoes
/// ([`WebSocket::split`]).
fn echo_two_threads(conn: Conn, plan: &EchoPlan) -> Tally {
    let mut tally = Tally::new();
    let (mut rx, tx) = match conn.split() {
        Ok(halves) => halves,
        Err(e) => {
            tally.fail(format!("split: {e}"));
            return tally;
        }
    };
    let window = SharedWindow {
        state: Mutex::new(Window {
            in_flight: VecDeque::with_capacity(plan.inflight),
            writer_done: false,
            reader_done: false,
        }),
        changed: Condvar::new(),
    };
    let writer_error = thread::scope(|scope| {
        let writer = thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, || echo_writer(&tx, plan, &window));
        if let Err(e) = &writer {
            window.lock().writer_done = true;
            tally.fail(format!("cannot start a writer thread: {e}"));
        }
        echo_reader(&mut rx, plan, &window, &mut tally);
        window.lock().reader_done = true;
        window.changed.notify_all();
        writer
            .ok()
            .and_then(|w| w.join().unwrap_or(Some("the writer panicked".to_owned())))
    });
    if let Some(e) = writer_error {
        tally.fail(e);
    }
    close_split(rx, tx);
    tally
}

fn echo_writer(tx: &Tx, plan: &EchoPlan, window: &SharedWindow) -> Option<String> {
    let mut out = plan.base.clone();
    let mut seq = 0;
    let error = loop {
        plan.stamp(&mut out, seq);
        let mut state = window.lock();
        while state.in_flight.len() >= plan.inflight && !state.reader_done {
            state = window.wait(state);
        }
        if state.reader_done || Instant::now() >= plan.end {
            break None;
        }
        state.in_flight.push_back((seq, Instant::now()));
        drop(state);
        window.changed.notify_all();
        if let Err(e) = tx.send(&out, plan.binary) {
            break Some(e);
        }
        seq += 1;
    };
    window.lock().writer_done = true;
    window.changed.notify_all();
    error
}

fn echo_reader(rx: &mut Rx, plan: &EchoPlan, window: &SharedWindow, tally: &mut Tally) {
    let mut got = Vec::with_capacity(plan.size);
    loop {
        let next = {
            let mut state = window.lock();
            loop {
                if let Some(&front) = state.in_flight.front() {
                    break Some(front);
                }
                if state.writer_done || Instant::now() > plan.hard_end {
                    break None;
                }
                state = window.wait(state);
            }
        };
        let Some((seq, sent_at)) = next else {
            return;
        };
        if Instant::now() > plan.hard_end {
            tally.fail("echoes still missing at the hard deadline".to_owned());
            return;
        }
        if let Err(e) = rx.recv(&mut got, plan.size, plan.binary) {
            tally.fail(e);
            return;
        }
        let now = Instant::now();
        window.lock().in_flight.pop_front();
        window.changed.notify_all();
        if !plan.matches(seq, &got) {
            tally.fail(format!(
                "wrong echo for message {seq} ({} bytes)",
                got.len()
            ));
            return;
        }
        tally.complete(plan, sent_at, now);
    }
}

// ------------------------------------------------------------------ broadcast

/// Every broadcast message is text: a kind byte ('P' probe, 'D' data), then
/// for data 8 hex digits of sequence number and 16 of send time (nanoseconds
/// since the run's epoch), padded with 'x' to the message size.
const STAMP_LEN: usize = 25;

fn parse_data(message: &[u8]) -> Option<(u64, u64)> {
    if message.len() < STAMP_LEN || message[0] != b'D' {
        return None;
    }
    let digits = std::str::from_utf8(&message[1..STAMP_LEN]).ok()?;
    let seq = u64::from_str_radix(&digits[..8], 16).ok()?;
    let ns = u64::from_str_radix(&digits[8..], 16).ok()?;
    Some((seq, ns))
}

/// What one receiver saw.
struct Deliveries {
    got: u64,
    last: Option<Instant>,
    /// Send-to-receive latencies, merged into one histogram at the end.
    latencies_ns: Vec<u64>,
    out_of_order: u64,
    error: Option<String>,
}

/// What the receivers, the sender and the sender's drain share.
struct Relay {
    msgs: u64,
    size: usize,
    binary: bool,
    /// Send times are stamped relative to this.
    epoch: Instant,
    deadline: Instant,
    /// Receivers that have seen a probe, so are registered with the server.
    probed: AtomicUsize,
    /// Tells the readers to stop (once every receiver has reported).
    stop: AtomicBool,
    /// Receivers close only once all have reported, so that nobody leaves
    /// while others still receive (the broadcast should not be measured while
    /// the server's client list changes).
    may_close: Mutex<bool>,
    closing: Condvar,
}

/// What the sender's side of a broadcast run saw.
struct SenderRun {
    probes_sent: u64,
    registered: usize,
    first_send: Instant,
    send_done: Instant,
    sent: u64,
    error: Option<String>,
    reports: Vec<Deliveries>,
}

impl Relay {
    /// A receiver's thread: count deliveries, report, wait for the others,
    /// close.
    fn receiver(&self, mut ws: Box<WebSocket<TcpStream>>, report: mpsc::Sender<Deliveries>) {
        let seen = self.receive(&mut ws);
        let _ = report.send(seen);
        let mut may_close = self.may_close.lock().unwrap_or_else(|e| e.into_inner());
        let give_up = self.deadline + Duration::from_secs(5);
        while !*may_close {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            may_close = match self.closing.wait_timeout(may_close, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
        drop(may_close);
        Conn::Ws(ws).close();
    }

    /// Reads until every data message has arrived, `stop`, or the deadline;
    /// counts the first probe in `probed`.
    fn receive(&self, ws: &mut WebSocket<TcpStream>) -> Deliveries {
        let mut seen = Deliveries {
            got: 0,
            last: None,
            latencies_ns: Vec::with_capacity(self.msgs.min(1 << 20) as usize),
            out_of_order: 0,
            error: None,
        };
        // Short reads, so that `stop` and the deadline are noticed.
        let _ = ws
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)));
        let mut probe_seen = false;
        while seen.got < self.msgs && !self.should_stop() {
            let message = match ws.read() {
                Ok(Message::Close(frame)) => {
                    seen.error = Some(format!("the server closed: {frame:?}"));
                    break;
                }
                Ok(message) => message,
                Err(e) if e.is_timeout() => continue,
                Err(e) => {
                    seen.error = Some(format!("read: {e}"));
                    break;
                }
            };
            let now = Instant::now();
            if let Some((seq, ns)) = parse_data(message.as_bytes()) {
                if seq != seen.got {
                    seen.out_of_order += 1;
                }
                seen.got += 1;
                seen.last = Some(now);
                let latency = now.saturating_duration_since(self.epoch + Duration::from_nanos(ns));
                seen.latencies_ns
                    .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
            } else if message.as_bytes().first() == Some(&b'P') && !probe_seen {
                probe_seen = true;
                self.probed.fetch_add(1, Ordering::SeqCst);
            }
        }
        seen
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// The sender's own copies come back too: they are read and counted, or
    /// the server would find the sender too slow and disconnect it.
    fn drain_own(&self, rx: &mut ReadHalf) -> u64 {
        let _ = rx
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)));
        let mut own = 0;
        while own < self.msgs && !self.should_stop() {
            match rx.read() {
                Ok(message) if parse_data(message.as_bytes()).is_some() => own += 1,
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(e) if e.is_timeout() => {}
                Err(_) => break,
            }
        }
        own
    }

    /// Probes until `receivers` have seen a probe (at most 10 s), sends the
    /// messages, and collects the receivers' reports.
    fn send_all(
        &self,
        tx: &WriteHalf,
        receivers: usize,
        reports: &mpsc::Receiver<Deliveries>,
    ) -> SenderRun {
        let mut run = SenderRun {
            probes_sent: 0,
            registered: 0,
            first_send: Instant::now(),
            send_done: Instant::now(),
            sent: 0,
            error: None,
            reports: Vec::with_capacity(receivers),
        };
        let mut probe = vec![b'x'; self.size];
        probe[0] = b'P';
        let probe_deadline = (Instant::now() + Duration::from_secs(10)).min(self.deadline);
        let registered = || self.probed.load(Ordering::SeqCst);
        while registered() < receivers && Instant::now() < probe_deadline {
            if let Err(e) = ws_send_half(tx, &probe, self.binary) {
                run.error = Some(e);
                break;
            }
            run.probes_sent += 1;
            let next_probe = Instant::now() + Duration::from_millis(100);
            while registered() < receivers && Instant::now() < next_probe {
                thread::sleep(Duration::from_millis(2));
            }
        }
        run.registered = registered();
        if run.registered == 0 {
            self.stop.store(true, Ordering::SeqCst);
        }

        // M messages back to back, each stamped as it is sent.
        let mut message = vec![b'x'; self.size];
        message[0] = b'D';
        run.first_send = Instant::now();
        while run.sent < self.msgs && run.error.is_none() && run.registered > 0 {
            write_hex(&mut message[1..9], run.sent);
            let ns = u64::try_from((Instant::now() - self.epoch).as_nanos()).unwrap_or(u64::MAX);
            write_hex(&mut message[9..STAMP_LEN], ns);
            match ws_send_half(tx, &message, self.binary) {
                Ok(()) => run.sent += 1,
                Err(e) => run.error = Some(e),
            }
        }
        run.send_done = Instant::now();

        while run.reports.len() < receivers {
            let left =
                (self.deadline + Duration::from_secs(1)).saturating_duration_since(Instant::now());
            match reports.recv_timeout(left) {
                Ok(seen) => run.reports.push(seen),
                Err(_) => break,
            }
        }
        run
    }

    /// Stops the readers and lets the receivers close.
    fn finish(&self) {
        self.stop.store(true, Ordering::SeqCst);
        *self.may_close.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.closing.notify_all();
    }
}

fn broadcast(args: &Args) -> Result<(), String> {
    let url: String = args.get("url", None)?;
    let receivers: usize = args.get("receivers", Some(100))?;
    let msgs: u64 = args.get("msgs", Some(100))?;
    let size: usize = args.get::<usize>("size", Some(32))?.max(STAMP_LEN);
    let max_secs = args.secs("max-secs", 60.0, 600.0)?;
    let binary = args.flag("binary");
    if receivers == 0 || receivers > 5000 || msgs == 0 || msgs > 1_000_000 || size > MAX_SIZE {
        return Err(format!(
            "need 1 <= --receivers <= 5000, 1 <= --msgs <= 1000000, --size <= {MAX_SIZE}"
        ));
    }
    let target = Target::new(&url, false)?;
    let epoch = Instant::now();
    let relay = Relay {
        msgs,
        size,
        binary,
        epoch,
        deadline: epoch + max_secs,
        probed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        may_close: Mutex::new(false),
        closing: Condvar::new(),
    };
    let mut json = Json::new("broadcast");
    json.str("url", &url)
        .num("receivers", receivers)
        .num("msgs", msgs)
        .num("size", size)
        .bool("binary", binary);

    let opened = open_many(&target, receivers, CONNECT_BATCH, relay.deadline);
    let sender = match &opened.first_error {
        None => (target.client.connect())
            .and_then(|ws| ws.split())
            .map_err(|e| format!("sender: {e}")),
        Some(e) => Err(e.clone()),
    };
    let (mut sender_rx, sender_tx) = match sender {
        Ok(halves) => halves,
        Err(e) => {
            for conn in opened.conns {
                conn.close();
            }
            json.num("errors", receivers as u64 * msgs)
                .str("first_error", &format!("connect: {e}"))
                .print();
            return Ok(());
        }
    };

    let (report, reports) = mpsc::channel();
    let (run, own) = thread::scope(|scope| {
        let mut started = 0;
        for (i, conn) in opened.conns.into_iter().enumerate() {
            let Conn::Ws(ws) = conn else { continue };
            let (relay, report) = (&relay, report.clone());
            let spawned = thread::Builder::new()
                .name(format!("receiver-{i}"))
                .stack_size(SMALL_STACK)
                .spawn_scoped(scope, move || relay.receiver(ws, report));
            started += usize::from(spawned.is_ok());
        }
        drop(report);
        let own = scope.spawn(|| relay.drain_own(&mut sender_rx));
        let run = relay.send_all(&sender_tx, started, &reports);
        relay.finish();
        (run, own.join().unwrap_or(0))
    });
    let _ = sender_tx.close(CloseCode::NORMAL, "");
    drain_ws(|| sender_rx.read());

    let mut hist = Histogram::new();
    let (mut delivered, mut out_of_order) = (0, 0);
    let mut last = run.first_send;
    let mut error = run.error;
    for seen in &run.reports {
        delivered += seen.got;
        out_of_order += seen.out_of_order;
        last = last.max(seen.last.unwrap_or(run.first_send));
        for &ns in &seen.latencies_ns {
            hist.record(Duration::from_nanos(ns));
        }
        if error.is_none() {
            error.clone_from(&seen.error);
        }
    }
    if run.registered == 0 {
        error.get_or_insert("no receiver saw a probe: is this a broadcast server?".to_owned());
    } else if run.reports.len() < receivers {
        error.get_or_insert(format!(
            "only {} of {receivers} receivers reported",
            run.reports.len()
        ));
    }
    let elapsed = (last - run.first_send).as_secs_f64();
    let per_sec = |count: f64| (elapsed > 0.0).then(|| count / elapsed);
    json.num("probes_sent", run.probes_sent)
        .num("receivers_registered", run.registered)
        .num("sent", run.sent)
        .num("own_copies", own)
        .num("delivered", delivered)
        .num("out_of_order", out_of_order)
        .float(
            "sender_s",
            Some((run.send_done - run.first_send).as_secs_f64()),
        )
        .float("elapsed_s", Some(elapsed))
        .float("deliveries_per_sec", per_sec(delivered as f64))
        .float("MB_per_sec", per_sec(delivered as f64 * size as f64 / 1e6))
        .latencies(&hist)
        .num(
            "errors",
            (receivers as u64 * msgs).saturating_sub(delivered),
        );
    if let Some(e) = error {
        json.str("first_error", &e);
    }
    json.print();
    Ok(())
}

// ------------------------------------------------------------------ idle

fn idle(args: &Args) -> Result<(), String> {
    let url: String = args.get("url", None)?;
    let conns: usize = args.get("conns", Some(1000))?;
    let hold = args.secs("hold", 5.0, 600.0)?;
    let batch: usize = args.get("batch", Some(CONNECT_BATCH))?;
    let pid: Option<String> = args.values.get("pid").cloned();
    let tcp = args.flag("tcp");
    if conns == 0 || conns > 15_000 || batch == 0 || batch > 128 {
        return Err("need 1 <= --conns <= 15000 and 1 <= --batch <= 128".to_owned());
    }
    let before = match &pid {
        Some(pid) => Some(rss_and_threads(pid).ok_or(format!("cannot read /proc/{pid}/status"))?),
        None => None,
    };
    let target = Target::new(&url, tcp)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(15) + Duration::from_millis(10) * conns as u32;
    let Opened {
        mut conns,
        failed,
        first_error,
    } = open_many(&target, conns, batch, deadline);
    let connect_s = started.elapsed().as_secs_f64();
    thread::sleep(hold);
    let after = pid.as_deref().and_then(rss_and_threads);

    // One echo on each, all sent first, then all read (at most 20 s).
    let alive_started = Instant::now();
    let alive_deadline = alive_started + Duration::from_secs(20);
    let mut payload = *b"00000000";
    let mut sent = vec![false; conns.len()];
    for (i, conn) in conns.iter_mut().enumerate() {
        write_hex(&mut payload, i as u64);
        sent[i] = conn.send(&payload, false).is_ok();
    }
    let mut alive = 0;
    let mut got = Vec::new();
    for (i, conn) in conns.iter_mut().enumerate() {
        let left = alive_deadline.saturating_duration_since(Instant::now());
        if !sent[i] || left.is_zero() {
            continue;
        }
        let _ = conn.stream().set_read_timeout(Some(left.min(IO_TIMEOUT)));
        write_hex(&mut payload, i as u64);
        if conn.recv(&mut got, payload.len(), false).is_ok() && got == payload {
            alive += 1;
        }
    }
    let alive_s = alive_started.elapsed().as_secs_f64();
    let open = conns.len();
    // Close them all at once, then collect the answers.
    for conn in conns.iter_mut() {
        conn.start_close();
    }
    let close_deadline = Instant::now() + Duration::from_secs(10);
    for conn in conns.iter_mut() {
        conn.finish_close(close_deadline.saturating_duration_since(Instant::now()));
    }
    drop(conns);

    let mut json = Json::new("idle");
    json.str("url", &url)
        .bool("tcp", tcp)
        .num("conns", open + failed)
        .float("hold_s", Some(hold.as_secs_f64()))
        .num("opened", open)
        .num("failed", failed)
        .float("connect_s", Some(connect_s))
        .num("alive", alive)
        .float("alive_s", Some(alive_s));
    if let (Some((rss0, threads0)), Some((rss1, threads1))) = (before, after) {
        json.num("rss_before_kb", rss0)
            .num("rss_after_kb", rss1)
            .num("threads_before", threads0)
            .num("threads_after", threads1)
            .float(
                "rss_kb_per_conn",
                (open > 0).then(|| (rss1 as f64 - rss0 as f64) / open as f64),
            );
    } else if pid.is_some() {
        json.str("rss_after_kb", "the server is gone");
    }
    json.num("errors", failed + (open - alive));
    if let Some(e) = first_error {
        json.str("first_error", &e);
    }
    json.print();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_stay_within_two_percent() {
        for ns in [0u64, 1, 63, 64, 65, 127, 128, 1000, 123_456, 10_000_000_000] {
            let back = Histogram::value(Histogram::bucket(ns));
            let error = (back as f64 - ns as f64).abs() / ns.max(1) as f64;
            assert!(ns < 64 && back == ns || error < 0.02, "{ns} -> {back}");
        }
        let mut hist = Histogram::new();
        for us in 1..=1000 {
            hist.record(Duration::from_micros(us));
        }
        let p50 = hist.quantile_us(0.5).unwrap();
        let p99 = hist.quantile_us(0.99).unwrap();
        assert!((p50 - 500.0).abs() < 10.0, "p50 {p50}");
        assert!((p99 - 990.0).abs() < 20.0, "p99 {p99}");
        assert_eq!(Histogram::new().quantile_us(0.5), None);
    }

    #[test]
    fn echo_payloads_carry_their_sequence_number() {
        let start = Instant::now();
        let plan = EchoPlan {
            size: 32,
            binary: false,
            inflight: 1,
            warm_end: start,
            end: start,
            hard_end: start,
            base: vec![b'q'; 32],
        };
        let mut buf = plan.base.clone();
        plan.stamp(&mut buf, 0x1234);
        assert!(plan.matches(0x1234, &buf));
        assert!(!plan.matches(0x1235, &buf));
        buf[31] ^= 1;
        assert!(!plan.matches(0x1234, &buf));
    }

    #[test]
    fn broadcast_stamps_parse_back() {
        let mut message = vec![b'x'; 32];
        message[0] = b'D';
        write_hex(&mut message[1..9], 42);
        write_hex(&mut message[9..STAMP_LEN], 987_654_321);
        assert_eq!(parse_data(&message), Some((42, 987_654_321)));
        message[0] = b'P';
        assert_eq!(parse_data(&message), None);
    }
}
