//! The embedding story: an ordinary `main` loop, no async runtime, that
//! computes a price tick every 100 ms and pushes it to every connected
//! browser. The same port serves the page that shows the ticks live.
//!
//! ```text
//! cargo run --example ticker [-- ADDR] [--secs N]
//! ```
//!
//! Open http://127.0.0.1:8004/ and watch. The ticker stops after `--secs N`
//! (default: never) or on Ctrl-C, and either way closes every browser's
//! connection cleanly (code 1001) before it exits.

use std::io::{IsTerminal, Read};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stdws::Server;
use stdws::protocol::http::Response;
use stdws::server::Endpoint;

const TICK: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:8004");
    let mut run_for: Option<Duration> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secs" => match args.next().and_then(|s| s.parse().ok()) {
                Some(secs) => run_for = Some(Duration::from_secs(secs)),
                None => {
                    eprintln!("ticker: --secs needs a number of seconds");
                    return ExitCode::from(2);
                }
            },
            other if !other.starts_with('-') => addr = other.to_owned(),
            other => {
                eprintln!("ticker: unknown option {other}\nusage: ticker [ADDR] [--secs N]");
                return ExitCode::from(2);
            }
        }
    }

    // The server runs in background threads; this thread stays ours.
    let server = Server::builder()
        .route(
            "/ticks",
            Endpoint::callbacks()
                .on_connect(|conn| {
                    eprintln!("browser #{} connected from {}", conn.id(), conn.peer_addr())
                })
                .on_disconnect(|conn, why| eprintln!("browser #{} left ({})", conn.id(), why.code)),
        )
        .http(|request| match request.path() {
            "/" => Response::new(200)
                .with_header("Content-Type", "text/html; charset=utf-8")
                .with_body(PAGE),
            _ => Response::text(404, "not found: the ticker is at /"),
        })
        .bind(&addr)
        .and_then(|server| server.spawn());
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            eprintln!("ticker: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("ticker on http://{}/ (Ctrl-C to stop)", server.local_addr());

    let stop = Arc::new(AtomicBool::new(false));
    let _terminal = CtrlC::watch(Arc::clone(&stop));

    // The application's own loop: compute, push, sleep until the next tick.
    let started = Instant::now();
    let mut price = Price::new(100.0);
    let mut next_tick = started;
    while !stop.load(Ordering::Relaxed) && run_for.is_none_or(|d| started.elapsed() < d) {
        let tick = price.step();
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        server.broadcast(format!(
            r#"{{"symbol":"STDW","price":{tick:.2},"time":{millis}}}"#
        ));
        next_tick += TICK;
        std::thread::sleep(next_tick.saturating_duration_since(Instant::now()));
    }

    eprintln!("stopping: closing {} connection(s)", server.client_count());
    let clean = server.shutdown(Duration::from_secs(2));
    eprintln!(
        "stopped{}",
        if clean {
            ""
        } else {
            " (some browsers did not answer the close)"
        }
    );
    ExitCode::SUCCESS
}

/// A random walk, from a small generator of its own (xorshift).
struct Price {
    value: f64,
    state: u64,
}

impl Price {
    fn new(value: f64) -> Price {
        Price {
            value,
            state: 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn step(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let unit = (self.state >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        self.value = (self.value * (1.0 + (unit - 0.5) * 0.004)).max(0.01);
        self.value
    }
}

/// Ctrl-C, noticed without a signal handler (std has no API for one, and
/// this example stays free of `unsafe` and of crates): while the ticker runs,
/// the terminal is told to deliver Ctrl-C as an ordinary byte (`stty -isig
/// -icanon`), which a thread reads from standard input. The terminal's
/// settings are restored when this value is dropped.
struct CtrlC {
    saved: Option<String>,
}

impl CtrlC {
    fn watch(stop: Arc<AtomicBool>) -> CtrlC {
        if !std::io::stdin().is_terminal() {
            return CtrlC { saved: None };
        }
        let saved = stty(&["-g"]).filter(|_| stty(&["-isig", "-icanon", "min", "1"]).is_some());
        if saved.is_some() {
            std::thread::spawn(move || {
                let mut byte = [0u8; 1];
                // 0x03 is what Ctrl-C types; end of input stops too.
                while let Ok(1) = std::io::stdin().read(&mut byte) {
                    if byte[0] == 0x03 {
                        break;
                    }
                }
                stop.store(true, Ordering::Relaxed);
            });
        }
        CtrlC { saved }
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = stty(&[saved.trim()]);
        }
    }
}

/// Runs `stty` on the terminal of standard input; its output if it succeeded.
fn stty(args: &[&str]) -> Option<String> {
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>stdws ticker</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }
  #price { font-size: 3rem; font-variant-numeric: tabular-nums; }
  .up { color: #080; } .down { color: #b00; }
  canvas { border: 1px solid #ccc; width: 100%; height: 160px; }
</style>
</head>
<body>
<h1>STDW</h1>
<div id="price">-</div>
<canvas id="chart" width="640" height="160"></canvas>
<p id="status">connecting</p>
<script>
"use strict";
const prices = [];
const chart = document.getElementById("chart").getContext("2d");
const ws = new WebSocket(`ws://${location.host}/ticks`);
ws.onopen = () => document.getElementById("status").textContent = "live";
ws.onclose = (e) => document.getElementById("status").textContent = `closed code=${e.code} clean=${e.wasClean}`;
ws.onmessage = (event) => {
  const tick = JSON.parse(event.data);
  const el = document.getElementById("price");
  el.className = prices.length && tick.price < prices[prices.length - 1] ? "down" : "up";
  el.textContent = tick.price.toFixed(2);
  prices.push(tick.price);
  if (prices.length > 300) prices.shift();
  const lo = Math.min(...prices), hi = Math.max(...prices), w = 640, h = 160;
  chart.clearRect(0, 0, w, h);
  chart.beginPath();
  prices.forEach((p, i) => {
    const x = i * w / 300, y = h - 5 - (p - lo) / (hi - lo || 1) * (h - 10);
    i ? chart.lineTo(x, y) : chart.moveTo(x, y);
  });
  chart.stroke();
};
</script>
</body>
</html>
"#;
