//! A conformant WebSocket echo server: every text and binary message goes
//! back to its sender, unchanged.
//!
//! ```text
//! cargo run --release --example echo [-- ADDR] [--workers N] [--quiet]
//! ```
//!
//! It listens on 127.0.0.1:8000 by default and logs one line per connect and
//! disconnect (`--quiet` turns that off). `STDWS_TRACE=1` prints every frame.

use std::process::ExitCode;

use stdws::Server;

fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:8000");
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
                eprintln!(
                    "connect    #{} from {} to {}",
                    conn.id(),
                    conn.peer_addr(),
                    conn.request().target()
                );
            }
        })
        .on_message(|conn, message| {
            // A client that has gone away is reported by on_disconnect.
            let _ = conn.send(message);
        })
        .on_disconnect(move |conn, why| {
            if !quiet {
                eprintln!(
                    "disconnect #{} ({}{})",
                    conn.id(),
                    why.code,
                    if why.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", why.reason)
                    }
                );
            }
        })
        .bind(&addr);
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            eprintln!("echo: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "echo server listening on ws://{} ({workers} workers)",
        server.local_addr()
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("echo: {problem}");
    }
    eprintln!(
        "usage: echo [ADDR] [--workers N] [--quiet]   (default 127.0.0.1:8000, 10000 workers)"
    );
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
