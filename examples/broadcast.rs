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

mod common;

use std::process::ExitCode;

use stdws::Server;

fn main() -> ExitCode {
    let args = match common::ServerArgs::parse("broadcast", "127.0.0.1:8001") {
        Ok(args) => args,
        Err(exit) => return exit,
    };
    let broadcast = Server::builder().on_message(|conn, message| {
        // Encoded once, written to every client without waiting on any.
        let report = conn.broadcast(message);
        if !report.disconnected.is_empty() {
            eprintln!("too slow, disconnected: {:?}", report.disconnected);
        }
    });
    args.run("broadcast", broadcast)
}
