//! A conformant WebSocket echo server: every text and binary message goes
//! back to its sender, unchanged.
//!
//! ```text
//! cargo run --release --example echo [-- ADDR] [--workers N] [--quiet]
//! ```
//!
//! It listens on 127.0.0.1:8000 by default and logs one line per connect and
//! disconnect (`--quiet` turns that off). `STDWS_TRACE=1` prints every frame.

mod common;

use std::process::ExitCode;

use stdws::Server;

fn main() -> ExitCode {
    let args = match common::ServerArgs::parse("echo", "127.0.0.1:8000") {
        Ok(args) => args,
        Err(exit) => return exit,
    };
    let echo = Server::builder().on_message(|conn, message| {
        // A client that has gone away is reported by on_disconnect.
        let _ = conn.send(message);
    });
    args.run("echo", echo)
}
