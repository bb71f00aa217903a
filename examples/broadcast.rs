//! The classic program of the simple threaded servers: every message a client
//! sends goes to every connected client, the sender included.
//!
//! ```text
//! cargo run --release --example broadcast [-- ADDR] [--workers N] [--quiet]
//! ```
//!
//! It listens on 127.0.0.1:8001 by default, on every path. A client that
//! cannot keep up is disconnected (close 1008) once 1 MiB is queued for it,
//! and never slows the others down.

use std::process::ExitCode;

use stdws::Server;

fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:8001");
    let mut workers = 10_000;
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workers" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => workers = n,
                None => return usage("--workers needs a number"),
            },
            "--quiet" | "-q" => quiet = true,
            "--help" | "-h" => return usage(""),
            other if !other.starts_with('-') => addr = other.to_owned(),
            other => return usage(&format!("unknown option {other}")),
        }
    }
    let server = Server::builder()
        .workers(workers)
        .on_connect(move |conn| {
            if !quiet {
                eprintln!("connect    #{} from {}", conn.id(), conn.peer_addr());
            }
        })
        .on_message(|conn, message| {
            // Encoded once, written to every client without waiting on any.
            let report = conn.broadcast(message);
            if !report.disconnected.is_empty() {
                eprintln!("too slow, disconnected: {:?}", report.disconnected);
            }
        })
        .on_disconnect(move |conn, why| {
            if !quiet {
                eprintln!("disconnect #{} ({})", conn.id(), why.code);
            }
        })
        .bind(&addr);
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            eprintln!("broadcast: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "broadcast server listening on ws://{} ({workers} workers)",
        server.local_addr()
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("broadcast: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("broadcast: {problem}");
    }
    eprintln!(
        "usage: broadcast [ADDR] [--workers N] [--quiet]   (default 127.0.0.1:8001, 10000 workers)"
    );
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
