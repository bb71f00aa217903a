//! The client side of the Autobahn TestSuite: runs every case of a
//! `wstest -m fuzzingserver` against stdws's client, then asks the suite to
//! write its report.
//!
//! ```text
//! cargo run --release --example autobahn_client [-- URL] [--agent NAME]
//! ```
//!
//! `URL` is the fuzzing server's (default `ws://127.0.0.1:9001`). The suite
//! drives each case over its own connection: it sends messages, pings and
//! broken frames, and the client echoes every text and binary message back,
//! as the suite expects of a client under test. What the suite checks is
//! whether the client answers each case the way RFC 6455 asks: echo,
//! pong, close code, failing the connection. The outcome is in the suite's
//! report (`index.json` in its `outdir`), not in this program's exit status,
//! which is non-zero only when the suite cannot be reached.
//! `.ci/autobahn.sh` runs it and checks the report.
//!
//! The three resources are the suite's protocol for clients:
//!
//! ```text
//! /getCaseCount                  one text message: the number of cases
//! /runCase?case=N&agent=NAME     case N, for the agent NAME
//! /updateReports?agent=NAME      write the report
//! ```

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use stdws::{ClientBuilder, Compression, Error, Message, WebSocket};

/// The largest message of the suite is 16 MiB (case 9.1.6); allow more, so
/// that a limit is never what a case measures.
const MAX_MESSAGE: usize = 64 << 20;
/// Every read and write is bounded: a case the suite abandons cannot hang
/// the run. The slowest cases (9.x, 16 MiB in small frames) stay well inside.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for the suite to close TCP after the closing handshake.
const LINGER: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let mut url = "ws://127.0.0.1:9001".to_owned();
    let mut agent = "stdws".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--agent" => match args.next() {
                Some(name) => agent = name,
                None => return usage("--agent needs a name"),
            },
            "--help" | "-h" => return usage(""),
            other if !other.starts_with('-') => url = other.trim_end_matches('/').to_owned(),
            other => return usage(&format!("unexpected argument {other}")),
        }
    }

    let count = match case_count(&url) {
        Ok(count) => count,
        Err(problem) => {
            eprintln!("autobahn_client: {problem}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("autobahn_client: {count} cases at {url}, agent {agent}");
    for case in 1..=count {
        let outcome = run_case(&format!("{url}/runCase?case={case}&agent={agent}"));
        // A failed connection is often what a case asks for (a client
        // refusing a broken frame); the suite's report says whether it was.
        eprintln!("autobahn_client: case {case}/{count}: {outcome}");
    }
    match run_case(&format!("{url}/updateReports?agent={agent}")) {
        Outcome::Closed(_) => ExitCode::SUCCESS,
        other => {
            eprintln!("autobahn_client: the suite did not write its report: {other}");
            ExitCode::FAILURE
        }
    }
}

/// Asks the suite how many cases it has.
fn case_count(url: &str) -> Result<u32, String> {
    let mut ws = open(&format!("{url}/getCaseCount"))
        .map_err(|e| format!("cannot reach the fuzzing server at {url}: {e}"))?;
    match ws.read() {
        Ok(Message::Text(text)) => {
            let count = text
                .trim()
                .parse()
                .map_err(|_| format!("the suite sent {text:?} for the case count"))?;
            // The suite closes this connection itself.
            finish(ws);
            Ok(count)
        }
        Ok(other) => Err(format!("expected the case count, got {other:?}")),
        Err(e) => Err(format!("cannot read the case count: {e}")),
    }
}

/// How one connection ended.
enum Outcome {
    /// The closing handshake completed; the peer's close code, if any.
    Closed(Option<u16>),
    /// The connection failed (a rule broken by either side, or I/O).
    Failed(Error),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Closed(Some(code)) => write!(f, "closed by the suite with {code}"),
            Outcome::Closed(None) => write!(f, "closed by the suite without a code"),
            Outcome::Failed(e) => write!(f, "connection failed: {e}"),
        }
    }
}

/// Connects and echoes every data message until the connection ends.
fn run_case(url: &str) -> Outcome {
    let mut ws = match open(url) {
        Ok(ws) => ws,
        Err(e) => return Outcome::Failed(e),
    };
    loop {
        let echoed = match ws.read() {
            Ok(Message::Close(frame)) => {
                // Our close answered theirs inside `read`.
                finish(ws);
                return Outcome::Closed(frame.map(|f| f.code.into()));
            }
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message),
            // Pings were answered already; pongs need nothing.
            Ok(Message::Ping(_) | Message::Pong(_)) => Ok(()),
            Err(e) => return Outcome::Failed(e),
        };
        if let Err(e) = echoed {
            return Outcome::Failed(e);
        }
    }
}

fn open(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    let ws = ClientBuilder::new(url)
        .connect_timeout(IO_TIMEOUT)
        .read_timeout(IO_TIMEOUT)
        .write_timeout(IO_TIMEOUT)
        // Each case's frames are the suite's to choose: no keepalive pings.
        .ping_interval(None)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        // Cases 12 and 13 need permessage-deflate; the others ignore it.
        .compression(Compression::default())
        .connect()?;
    Ok(ws)
}

/// After the closing handshake a client waits for the server to close TCP
/// first (RFC 6455 section 7.1.1), so that the TIME_WAIT state stays on the
/// server; it gives up after [`LINGER`].
fn finish(ws: WebSocket<TcpStream>) {
    let mut stream = ws.into_inner();
    let _ = stream.set_read_timeout(Some(LINGER));
    let mut sink = [0u8; 1024];
    while let Ok(1..) = stream.read(&mut sink) {}
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("autobahn_client: {problem}");
    }
    eprintln!("usage: autobahn_client [ws://HOST:PORT] [--agent NAME]");
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
