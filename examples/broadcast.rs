//! The classic program of the simple threaded servers: every message a client
//! sends goes to every client of its group, the sender included; with
//! `--redis`, to every client of its group on every server that shares the
//! Redis.
//!
//! ```text
//! cargo run --release --example broadcast [-- ADDR] [--workers N] [--quiet] [--redis redis://HOST:PORT]
//!     [--no-compression] [--context-takeover BITS | --no-context-takeover]
//! ```
//!
//! It listens on 127.0.0.1:8001 by default. A client on `/` (or any path but
//! `/room/...`) is in the default group; a client on `/room/NAME` is in room
//! NAME only. Every text or binary message a client sends reaches every
//! client of its group, on every node, sender included, exactly once, each
//! sender's messages in the order it sent them. If Redis goes away, each
//! node keeps serving its own clients and reconnects; what was sent
//! meanwhile may not reach the other nodes, and is never duplicated (see
//! `stdws::backplane`). A client that cannot keep up is disconnected
//! (close 1008) once 1 MiB is queued for it, and never slows the others.
//!
//! As the echo example, it accepts `permessage-deflate` (RFC 7692) at the
//! default settings (`--no-compression` declines it): a message is
//! compressed once for each client that lets the server keep its context,
//! which makes small messages several times smaller; with
//! `--no-context-takeover`, it is compressed once, and the same frame goes
//! to every client that agreed the same window.

mod common;

use std::process::ExitCode;

use stdws::{Connection, Server};

/// The room a path puts its client in: `room:NAME` for `/room/NAME`, and
/// `/` for the default group (no path's room name can be `/`).
fn group(conn: &Connection) -> String {
    match conn.path().strip_prefix("/room/") {
        Some(name) => format!("room:{name}"),
        None => "/".to_owned(),
    }
}

fn main() -> ExitCode {
    let args = match common::ServerArgs::parse("broadcast", "127.0.0.1:8001") {
        Ok(args) => args,
        Err(exit) => return exit,
    };
    let broadcast = Server::builder()
        .compression(args.compression())
        .on_message(|conn, message| {
            // Encoded once, written to every client without waiting on any.
            let report = conn.broadcast_room(&group(conn), message);
            if !report.disconnected.is_empty() {
                eprintln!("too slow, disconnected: {:?}", report.disconnected);
            }
        });
    args.run_with("broadcast", broadcast, |conn| {
        if let Err(e) = conn.join(&group(conn)) {
            // A room name over the server's cap: say so rather than serve
            // a client that is in no group.
            let _ = conn.close(stdws::CloseCode::POLICY_VIOLATION, "room name too long");
            eprintln!("broadcast: #{}: {e}", conn.id());
        }
    })
}
