//! A command-line WebSocket client, as `wscat` and `websocat` are: each line
//! of standard input goes out as a message, and each message received is
//! printed on its own line.
//!
//! ```text
//! cargo run --example client -- [OPTIONS] ws://127.0.0.1:8000/
//!
//!   -H, --header 'Name: value'   add a request header (repeatable)
//!   -p, --subprotocol NAME       offer a subprotocol (repeatable; --protocol too)
//!   --binary                     input lines are hex, sent as binary messages;
//!                                binary messages print as hex
//!   --wait SECS                  at the end of input, wait for replies until the
//!                                server has been quiet this long (default 2)
//!   --ping-interval SECS         keepalive ping interval, and the time its pong
//!                                may take (default 20; 0 turns pings off)
//!   --max-message-size BYTES     the largest message accepted (default 16 MiB)
//!   --timeout SECS               deadline to connect and handshake (default 10)
//!   --proxy URL                  http://[user:pass@]host:port, socks5://, socks5h://
//!                                (default: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)
//!   --no-proxy                   connect directly, whatever the environment says
//!   --trace                      print the handshake and every frame to stderr
//!   --no-compression             do not offer permessage-deflate (offered by default)
//! ```
//!
//! When standard input ends, the client waits for the replies to what it
//! sent (until the server has been quiet for `--wait` seconds, or closes),
//! then sends close 1000 and waits up to 10 s for the server's close. While
//! input is still open, a server that stops answering is detected by the
//! keepalive pings: within two ping intervals (40 s by default).
//!
//! Exit status:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | a clean close (1000, 1001, or none), from either side |
//! | 1 | any other failure (standard input, a send) |
//! | 2 | bad arguments |
//! | 3 | cannot connect (DNS, TCP, the proxy) |
//! | 4 | the server refused the handshake or answered wrongly |
//! | 5 | an abnormal end: another close code, the connection lost, a protocol error |
//! | 6 | a timeout: opening, a keepalive pong, or the close's answer |
//!
//! Reading and writing run in two threads, over
//! [`WebSocket::split`](stdws::WebSocket::split); the reader also sends
//! the keepalive pings (the split halves have none of their own).

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use stdws::split::{ReadHalf, WriteHalf};
use stdws::{ClientBuilder, CloseCode, CloseFrame, Compression, Error, Message, Tracer};

/// How long to wait for the server's answer to our close.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How often the reader wakes to check keepalive when nothing arrives.
const TICK: Duration = Duration::from_millis(200);
/// How long a send may wait for a server that does not read.
const WRITE_WAIT: Duration = Duration::from_secs(10);

const EXIT_OTHER: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_CONNECT: u8 = 3;
const EXIT_REFUSED: u8 = 4;
const EXIT_ABNORMAL: u8 = 5;
const EXIT_TIMEOUT: u8 = 6;

struct Options {
    url: String,
    headers: Vec<(String, String)>,
    protocols: Vec<String>,
    binary: bool,
    wait: Duration,
    ping_interval: Option<Duration>,
    max_message_size: Option<usize>,
    timeout: Duration,
    proxy: Option<String>,
    no_proxy: bool,
    trace: bool,
    compression: Compression,
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(problem) => return usage(&problem),
    };
    let mut builder = ClientBuilder::new(&options.url)
        .open_timeout(options.timeout)
        .write_timeout(WRITE_WAIT)
        // The halves of split do no keepalive: the reader thread pings.
        .ping_interval(None)
        .compression(options.compression);
    for (name, value) in &options.headers {
        builder = builder.header(name, value);
    }
    for protocol in &options.protocols {
        builder = builder.subprotocol(protocol);
    }
    if let Some(bytes) = options.max_message_size {
        builder = builder.max_message_size(bytes).max_frame_size(bytes);
    }
    if let Some(proxy) = &options.proxy {
        builder = builder.proxy(proxy);
    }
    if options.no_proxy {
        builder = builder.no_proxy();
    }
    if options.trace {
        builder = builder.trace(Tracer::to_writer(io::stderr()));
    }
    let ws = match builder.connect() {
        Ok(ws) => ws,
        Err(e) => {
            let code = match &e {
                Error::HandshakeTimeout => EXIT_TIMEOUT,
                Error::HandshakeResponse { .. } => EXIT_REFUSED,
                Error::Url(_) => EXIT_USAGE,
                _ => EXIT_CONNECT,
            };
            return fail(code, &format!("cannot connect to {}: {e}", options.url));
        }
    };
    match ws.response().and_then(|r| r.subprotocol()) {
        Some(protocol) => eprintln!(
            "client: connected to {}, subprotocol {protocol}",
            options.url
        ),
        None => eprintln!("client: connected to {}", options.url),
    }
    if let Err(e) = ws.get_ref().set_read_timeout(Some(TICK)) {
        return fail(EXIT_OTHER, &format!("cannot configure the socket: {e}"));
    }
    let (reader, writer) = match ws.split() {
        Ok(halves) => halves,
        Err(e) => return fail(EXIT_OTHER, &format!("cannot split the connection: {e}")),
    };

    let activity = Arc::new(Mutex::new(Instant::now()));
    let closing = Arc::new(AtomicBool::new(false));
    let (ended, end) = mpsc::channel();
    {
        let reading = Reading {
            reader,
            writer: writer.clone(),
            binary: options.binary,
            ping_interval: options.ping_interval,
            activity: Arc::clone(&activity),
        };
        let closing = Arc::clone(&closing);
        thread::spawn(move || {
            let outcome = reading.run();
            if !closing.load(Ordering::SeqCst) {
                // The connection ended while standard input is still open:
                // the main thread is blocked reading it, so leave from here.
                std::process::exit(i32::from(report(&outcome, false)));
            }
            let _ = ended.send(outcome);
        });
    }

    for line in io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("client: cannot read standard input ({e}); closing");
                break;
            }
        };
        let sent = if options.binary {
            match from_hex(&line) {
                Some(data) => writer.send_binary(&data),
                None => {
                    eprintln!("client: not hex, skipped: {line}");
                    continue;
                }
            }
        } else {
            writer.send_text(&line)
        };
        if let Err(e) = sent {
            closing.store(true, Ordering::SeqCst);
            let code = if e.is_timeout() {
                EXIT_TIMEOUT
            } else {
                EXIT_OTHER
            };
            return fail(code, &format!("cannot send: {e}"));
        }
        *lock(&activity) = Instant::now();
    }

    // Wait for the replies: until the server has been quiet for a while, or
    // it ended the connection itself.
    let mut early = None;
    loop {
        let quiet = lock(&activity).elapsed();
        let Some(left) = options.wait.checked_sub(quiet).filter(|d| !d.is_zero()) else {
            break;
        };
        closing.store(true, Ordering::SeqCst);
        match end.recv_timeout(left) {
            Ok(outcome) => {
                early = Some(outcome);
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(outcome) = early {
        return ExitCode::from(report(&outcome, false));
    }
    closing.store(true, Ordering::SeqCst);
    match writer.close(CloseCode::NORMAL, "") {
        // The server's close crossed ours: the reader has answered it.
        Ok(()) | Err(Error::SendAfterClose) => {}
        Err(e) => return fail(EXIT_ABNORMAL, &format!("cannot send the close: {e}")),
    }
    match end.recv_timeout(CLOSE_WAIT) {
        Ok(outcome) => ExitCode::from(report(&outcome, true)),
        Err(_) => fail(
            EXIT_TIMEOUT,
            &format!(
                "the server did not answer the close within {} s",
                CLOSE_WAIT.as_secs()
            ),
        ),
    }
}

/// How the connection ended, as the reader saw it.
enum Outcome {
    /// The closing handshake: the server's close frame (or our close's answer).
    Closed(Option<CloseFrame>),
    /// A keepalive ping went unanswered.
    PingTimeout(Duration),
    Failed(Error),
}

/// The reader's thread: prints messages, sends keepalive pings.
struct Reading {
    reader: ReadHalf,
    writer: WriteHalf,
    binary: bool,
    ping_interval: Option<Duration>,
    /// When data last moved (a message sent or received).
    activity: Arc<Mutex<Instant>>,
}

impl Reading {
    fn run(mut self) -> Outcome {
        let mut next_ping = self.ping_interval.map(|i| Instant::now() + i);
        let mut pending: Option<Instant> = None;
        let out = io::stdout();
        loop {
            let read = self.reader.read();
            match read {
                Ok(Message::Text(text)) => {
                    let _ = writeln!(out.lock(), "{text}");
                    *lock(&self.activity) = Instant::now();
                }
                Ok(Message::Binary(data)) => {
                    let line = if self.binary {
                        to_hex(&data)
                    } else {
                        summary(&data)
                    };
                    let _ = writeln!(out.lock(), "{line}");
                    *lock(&self.activity) = Instant::now();
                }
                Ok(Message::Close(frame)) => return Outcome::Closed(frame),
                // Any pong proves the server alive (it answers only the latest ping).
                Ok(Message::Pong(_)) => pending = None,
                // Pings were answered already.
                Ok(_) => {}
                Err(e) if e.is_timeout() => {}
                Err(Error::ConnectionClosed) => return Outcome::Closed(None),
                Err(e) => return Outcome::Failed(e),
            }
            let (Some(interval), Some(due)) = (self.ping_interval, next_ping) else {
                continue;
            };
            let now = Instant::now();
            if let Some(sent) = pending {
                if now.duration_since(sent) >= interval {
                    let _ = self
                        .writer
                        .close(CloseCode::INTERNAL_ERROR, "keepalive ping timeout");
                    let _ = self.writer.shutdown();
                    return Outcome::PingTimeout(interval);
                }
            } else if now >= due {
                if let Err(e) = self.writer.ping(b"keepalive") {
                    return Outcome::Failed(e);
                }
                pending = Some(now);
                next_ping = Some(now + interval);
            }
        }
    }
}

/// Prints how the connection ended; returns the exit status. `we_closed`:
/// the close was ours, so the frame received is its answer.
fn report(outcome: &Outcome, we_closed: bool) -> u8 {
    match outcome {
        Outcome::Closed(None) => {
            if !we_closed {
                eprintln!("client: the server closed the connection");
            }
            0
        }
        Outcome::Closed(Some(frame)) => {
            let normal = frame.code == CloseCode::NORMAL || frame.code == CloseCode::GOING_AWAY;
            if !we_closed || !normal {
                eprintln!("client: the server closed the connection: {frame}");
            }
            if normal { 0 } else { EXIT_ABNORMAL }
        }
        Outcome::PingTimeout(after) => {
            eprintln!(
                "client: the server did not answer a ping within {} s: it is gone or its network failed",
                after.as_secs_f64()
            );
            EXIT_TIMEOUT
        }
        Outcome::Failed(e) => {
            eprintln!("client: the connection ended without its closing handshake: {e}");
            EXIT_ABNORMAL
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn to_hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digits, with any spaces between them, to bytes.
fn from_hex(line: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = line.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// `[binary 1234 bytes: 00 01 02 ... ]`: the length and the first bytes.
fn summary(data: &[u8]) -> String {
    const SHOWN: usize = 16;
    if data.is_empty() {
        return "[binary 0 bytes]".to_owned();
    }
    let hex: Vec<String> = data
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    let more = if data.len() > SHOWN { " ..." } else { "" };
    format!("[binary {} bytes: {}{more}]", data.len(), hex.join(" "))
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        url: String::new(),
        headers: Vec::new(),
        protocols: Vec::new(),
        binary: false,
        wait: Duration::from_secs(2),
        ping_interval: Some(Duration::from_secs(20)),
        max_message_size: None,
        timeout: Duration::from_secs(10),
        proxy: None,
        no_proxy: false,
        trace: false,
        compression: Compression::default(),
    };
    let secs = |value: Option<String>, what: &str| -> Result<Duration, String> {
        value
            .as_deref()
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| *d <= Duration::from_secs(365 * 24 * 3600))
            .ok_or_else(|| format!("{what} needs a number of seconds"))
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--header" | "-H" => match args.next().as_deref().and_then(|h| h.split_once(':')) {
                Some((name, value)) => options
                    .headers
                    .push((name.trim().to_owned(), value.trim().to_owned())),
                None => return Err("--header needs 'Name: value'".to_owned()),
            },
            "--subprotocol" | "--protocol" | "-p" => match args.next() {
                Some(name) => options.protocols.push(name),
                None => return Err(format!("{arg} needs a name")),
            },
            "--binary" => options.binary = true,
            "--wait" => options.wait = secs(args.next(), "--wait")?,
            "--ping-interval" => {
                let interval = secs(args.next(), "--ping-interval")?;
                options.ping_interval = Some(interval).filter(|i| !i.is_zero());
            }
            "--timeout" => {
                options.timeout = secs(args.next(), "--timeout")?.max(Duration::from_millis(1))
            }
            "--max-message-size" => match args.next().and_then(|v| v.parse().ok()) {
                Some(bytes) => options.max_message_size = Some(bytes),
                None => return Err("--max-message-size needs a number of bytes".to_owned()),
            },
            "--proxy" => match args.next() {
                Some(url) => options.proxy = Some(url),
                None => return Err("--proxy needs a URL".to_owned()),
            },
            "--no-proxy" => options.no_proxy = true,
            "--trace" => options.trace = true,
            "--no-compression" => options.compression = Compression::disabled(),
            "--help" | "-h" => return Err(String::new()),
            other if !other.starts_with('-') && options.url.is_empty() => {
                options.url = other.to_owned()
            }
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if options.url.is_empty() {
        return Err("give the URL to connect to, such as ws://127.0.0.1:8000/".to_owned());
    }
    Ok(options)
}

fn fail(code: u8, problem: &str) -> ExitCode {
    eprintln!("client: {problem}");
    ExitCode::from(code)
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("client: {problem}");
    }
    eprintln!(
        "usage: client [-H 'Name: value']... [--subprotocol NAME]... [--binary] [--wait SECS] \
         [--ping-interval SECS] [--max-message-size BYTES] [--timeout SECS] [--proxy URL | --no-proxy] \
         [--trace] [--no-compression] ws://HOST[:PORT]/PATH"
    );
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_USAGE)
    }
}
