//! A conformant WebSocket echo server: every text and binary message goes
//! back to its sender, unchanged. A message of 128 KiB or more goes back in
//! parts, one fragment per piece read, while it is still arriving (as a TCP
//! echo would stream it) instead of after its last byte.
//!
//! ```text
//! cargo run --release --example echo [-- ADDR] [--workers N] [--quiet] [--no-compression]
//!     [--context-takeover BITS] [--ping-interval SECS] [--trusted-proxy NET]... [--drain-on-stdin]
//! ```
//!
//! Behind a proxy: `--ping-interval` keeps idle connections inside the
//! proxy's read timeout, `--trusted-proxy` makes the log show the client's
//! address, and with `--drain-on-stdin` a line `drain` on standard input
//! sends every client close 1012 and exits once they have gone (a restart).
//!
//! It listens on 127.0.0.1:8000 by default and logs one line per connect and
//! disconnect (`--quiet` turns that off). `STDWS_TRACE=1` prints every frame.
//! It accepts `permessage-deflate` (RFC 7692) at the default settings;
//! `--no-compression` declines it; `--context-takeover BITS` keeps a
//! compression context for each client that allows it, with windows of
//! 2^BITS bytes (`Compression::server_context_takeover`). It takes messages of up to 16 MiB (the
//! library's default is 1 MiB), as the Autobahn TestSuite needs.

mod common;

use std::process::ExitCode;

use stdws::Server;

/// Messages from this size on are echoed in parts.
const ECHO_PARTS_FROM: usize = 128 * 1024;

/// The largest message echoed: 16 MiB, the Autobahn TestSuite's largest
/// (case 9.1.6), though the library's default is 1 MiB. A conformance
/// peer is asked for big messages; a public server would keep the default.
const MAX_MESSAGE_SIZE: usize = 16 << 20;

fn main() -> ExitCode {
    let args = match common::ServerArgs::parse("echo", "127.0.0.1:8000") {
        Ok(args) => args,
        Err(exit) => return exit,
    };
    let echo = Server::builder()
        .compression(args.compression())
        .max_message_size(MAX_MESSAGE_SIZE)
        .max_frame_size(MAX_MESSAGE_SIZE)
        .on_message(|conn, message| {
            // A client that has gone away is reported by on_disconnect.
            let _ = conn.send(message);
        })
        // Invalid UTF-8 or an oversized message still fails the connection
        // (1007, 1009), with a close frame after the fragments sent so far.
        .on_message_part(ECHO_PARTS_FROM, |conn, part| {
            let _ = conn.send_part(part);
        });
    args.run("echo", echo)
}
