//! A conformant WebSocket echo server: every text and binary message goes
//! back to its sender, unchanged. A message of 128 KiB or more goes back in
//! parts, one fragment per piece read, while it is still arriving (as a TCP
//! echo would stream it) instead of after its last byte.
//!
//! ```text
//! cargo run --release --example echo [-- ADDR] [--workers N] [--quiet] [--no-compression]
//!     [--context-takeover BITS | --no-context-takeover] [--ping-interval SECS] [--trusted-proxy NET]...
//!     [--drain-on-stdin]
//! ```
//!
//! Behind a proxy: `--ping-interval` keeps idle connections inside the
//! proxy's read timeout, `--trusted-proxy` makes the log show the client's
//! address, and with `--drain-on-stdin` a line `drain` on standard input
//! sends every client close 1012 and exits once they have gone (a restart).
//!
//! It listens on 127.0.0.1:8000 by default and logs one line per connect and
//! disconnect (`--quiet` turns that off). `STDWS_TRACE=1` prints every frame.
//! It accepts `permessage-deflate` (RFC 7692) at the default settings (a
//! compression context kept for each client that allows it, 4 KiB windows);
//! `--no-compression` declines it; `--context-takeover BITS` sets the
//! context's window to 2^BITS bytes, and `--no-context-takeover` keeps none
//! (`Compression::server_context_takeover`). It takes messages of up to
//! 16 MiB (the library's default is 1 MiB), as the Autobahn TestSuite needs.

mod common;

use std::process::ExitCode;

use stdws::Server;
use stdws::protocol::http::Response;

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
        // A browser refuses ws://127.0.0.1 from a page of another site (its
        // local network access checks), so the echo serves a page of its own.
        .http(|request| match request.path() {
            "/" => Response::new(200)
                .with_header("Content-Type", "text/html; charset=utf-8")
                .with_body(PAGE),
            _ => Response::text(404, "not found: the echo's page is at /, its WebSocket too"),
        })
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

/// What the README's quick tour has the reader paste into this page's
/// console (`.ci/browser/quick_tour_test.js` checks that they agree).
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>stdws echo</title><link rel="icon" href="data:,">
<style>body { font: 16px system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; line-height: 1.5 }
pre { background: #f4f4f4; padding: .75rem; overflow-x: auto }</style></head>
<body>
<h1>stdws echo server</h1>
<p>This server sends every WebSocket message back to its sender. Open the
browser's console (F12, then <em>Console</em>) on this page and paste:</p>
<pre id="snippet">ws = new WebSocket(`ws://${location.host}/`);
ws.onopen = () =&gt; ws.send("Hello");
ws.onmessage = (e) =&gt; { console.log("echo:", e.data); ws.close(1000, "bye"); };
ws.onclose = (e) =&gt; console.log("closed", e.code, e.wasClean);</pre>
<p>The console shows <code>echo: Hello</code>, then <code>closed 1000 true</code>.
Started with <code>STDWS_TRACE=1</code>, the server prints the handshake and
every frame. A socket sends only once it is open (hence <code>onopen</code>),
and a browser drops what arrives after it has begun to close (hence the close
after the echo).</p>
</body>
</html>
"#;
