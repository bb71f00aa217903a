//! A plain TCP echo server with stdws's threading: the physical reference
//! for the WebSocket echo benchmarks (what the same threads cost without
//! any WebSocket framing).
//!
//! ```text
//! cargo run --release --example tcp_echo [-- ADDR] [--workers N]
//! ```
//!
//! It listens on 127.0.0.1:8003 by default and echoes every byte. As in
//! stdws's server, an acceptor thread hands each connection to an idle
//! worker, or starts a new one while there are fewer than N (default
//! 10,000, as `examples/echo.rs`); workers are kept once started, and a
//! connection that finds every worker busy is closed at once. Sockets get
//! `TCP_NODELAY` and a 5 s write timeout; each worker reuses one read buffer.
//!
//! `cargo run --release --example loadgen -- echo --tcp --url ws://127.0.0.1:8003/`
//! measures it the way it measures a WebSocket echo server.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// The read buffer of each worker: enough for a 64 KiB message per read.
const BUFFER: usize = 64 * 1024;
/// As stdws's workers (`ServerBuilder::worker_stack_size`).
const STACK: usize = 256 * 1024;
/// As stdws's server (`ServerBuilder::write_timeout`).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:8003");
    let mut workers = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workers" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => workers = n,
                _ => return usage("--workers needs a positive number"),
            },
            "--help" | "-h" => return usage(""),
            other if !other.starts_with('-') => addr = other.to_owned(),
            other => return usage(&format!("unknown option {other}")),
        }
    }
    let listener = match TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("tcp_echo: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("tcp echo server listening on {addr} ({workers} workers)");
    let pool = Arc::new(Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        size: workers,
    });
    // The acceptor.
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
                if let Err(why) = Pool::submit(&pool, stream) {
                    eprintln!("tcp_echo: connection refused: {why}");
                }
            }
            // Out of descriptors: let the workers close some.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    ExitCode::SUCCESS
}

#[derive(Default)]
struct State {
    /// Connections handed over, not yet taken by a worker.
    queue: VecDeque<TcpStream>,
    /// Workers waiting for a connection.
    idle: usize,
    threads: usize,
}

/// At most `size` worker threads, started on demand and kept.
struct Pool {
    state: Mutex<State>,
    work: Condvar,
    size: usize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `stream` to an idle worker, or to a new one if the pool has
    /// room; otherwise drops it (closing it).
    fn submit(pool: &Arc<Pool>, stream: TcpStream) -> Result<(), String> {
        let mut state = pool.lock();
        if state.idle > state.queue.len() {
            state.queue.push_back(stream);
            drop(state);
            pool.work.notify_one();
            return Ok(());
        }
        if state.threads >= pool.size {
            return Err(format!("all {} workers are busy", pool.size));
        }
        state.threads += 1;
        let number = state.threads;
        drop(state);
        let worker = Arc::clone(pool);
        let spawned = thread::Builder::new()
            .name(format!("tcp-echo-{number}"))
            .stack_size(STACK)
            .spawn(move || worker.work(stream));
        spawned.map(drop).map_err(|e| {
            pool.lock().threads -= 1;
            format!("cannot start a worker: {e}")
        })
    }

    /// A worker's life: echo a connection, wait for the next, forever.
    fn work(&self, mut stream: TcpStream) {
        let mut buffer = vec![0u8; BUFFER];
        loop {
            echo(&mut stream, &mut buffer);
            drop(stream);
            let mut state = self.lock();
            state.idle += 1;
            stream = loop {
                if let Some(next) = state.queue.pop_front() {
                    break next;
                }
                state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
            };
            state.idle -= 1;
        }
    }
}

/// Writes back every byte read, until the peer closes or an error.
fn echo(stream: &mut TcpStream, buffer: &mut [u8]) {
    loop {
        match stream.read(buffer) {
            Ok(0) => return,
            Ok(n) => {
                if stream.write_all(&buffer[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("tcp_echo: {problem}");
    }
    eprintln!("usage: tcp_echo [ADDR] [--workers N]   (default 127.0.0.1:8003, 10000 workers)");
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
