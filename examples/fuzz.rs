//! A bounded-time fuzzer for every decoder that reads bytes from a peer: the
//! HTTP head of the handshake, WebSocket frames (both roles, whole and in
//! parts, compressed or not), DEFLATE streams, Engine.IO payloads, Socket.IO packets, JSON and
//! URLs. Std only: no coverage guidance, but mutations (bit flips, byte
//! edits, splices, truncations, repeats) of a seed corpus of valid inputs,
//! fed in random splits, for as long as asked.
//!
//! ```text
//! cargo run --release --example fuzz -- --secs 60 [--seed S]
//! ```
//!
//! It fails (exit 1, with the target, the seed and the input in hex) if a
//! decoder panics, or if the process's peak memory passes a budget that a
//! decoder with bounded buffers stays far under; otherwise it prints how many
//! inputs each target ran. `.ci/run` runs it for a minute.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use stdws::deflate::{Deflater, Inflater, Level};
use stdws::protocol::extension::Direction;
use stdws::protocol::http::{HeadLimits, HeadReader, Request};
use stdws::protocol::{Limits, Role, Session};
use stdws::socketio::{engineio, packet};

/// Peak resident memory allowed for the whole process: every decoder is fed
/// inputs of a few KB with limits of at most 1 MiB.
const MEMORY_BUDGET: usize = 256 << 20;

/// xorshift64*: deterministic from the seed, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

/// One decoder under test: its seeds and how to feed it an input.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    run: fn(&[u8], &mut Rng),
    runs: u64,
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(len + 1);
                data.insert(at, rng.next() as u8);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = rng.below(len - at).max(1);
                data.drain(at..at + n);
            }
            4 => {
                // Splice in a piece of another seed.
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let n = rng.below(other.len() - from) + 1;
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[from..from + n].iter().copied());
                }
            }
            5 if len > 0 => data.truncate(rng.below(len)),
            6 if len > 0 && len < 4096 => {
                // Repeat a piece: long runs of the same structure.
                let from = rng.below(len);
                let n = rng.below(len - from).max(1);
                let piece = data[from..from + n].to_vec();
                for _ in 0..rng.below(16) {
                    data.extend_from_slice(&piece);
                }
            }
            _ => {}
        }
    }
    data
}

/// Cuts `data` into random pieces, as reads from a socket would.
fn pieces<'a>(data: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = match rng.below(3) {
            0 => 1,
            1 => 1 + rng.below(16),
            _ => rest.len(),
        }
        .min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

// --- the targets -----------------------------------------------------------

fn http_head(data: &[u8], rng: &mut Rng) {
    let limits = HeadLimits::default();
    let mut reader = HeadReader::new(limits);
    for piece in pieces(data, rng) {
        let mut piece = piece;
        while !piece.is_empty() {
            match reader.feed(piece) {
                Ok((used, done)) => {
                    if done {
                        if let Ok(request) = Request::parse(reader.head(), limits) {
                            let _ = stdws::protocol::handshake::check_request(&request);
                        }
                        return;
                    }
                    if used == 0 {
                        return;
                    }
                    piece = &piece[used..];
                }
                Err(_) => return,
            }
        }
    }
}

fn frames(data: &[u8], rng: &mut Rng) {
    let role = if rng.percent(50) {
        Role::Server
    } else {
        Role::Client
    };
    let limits = Limits::new(1 + rng.below(64 << 10), 1 + rng.below(256 << 10));
    let mut session = Session::new(role, limits);
    if rng.percent(30) {
        session.deliver_parts_from(Some(1 + rng.below(64)));
    }
    if rng.percent(40) {
        // permessage-deflate negotiated: RSV1 frames are inflated.
        session.receiver_mut().set_compression(Some(Direction {
            window_bits: 8 + rng.below(8) as u8,
            no_context_takeover: rng.percent(50),
        }));
    }
    for piece in pieces(data, rng) {
        let mut piece = piece;
        loop {
            match session.receive(piece) {
                Ok((used, event)) => {
                    while session.take_answer().is_some() {}
                    piece = &piece[used..];
                    if piece.is_empty() || (used == 0 && event.is_none()) {
                        break;
                    }
                }
                Err(_) => return,
            }
        }
    }
}

fn inflate(data: &[u8], rng: &mut Rng) {
    let bits = 8 + rng.below(8) as u8;
    let Ok(mut inflater) = Inflater::new(bits) else {
        return;
    };
    let limit = 1 << 20;
    let mut out = Vec::new();
    for piece in pieces(data, rng) {
        if inflater.inflate(piece, &mut out, limit).is_err() {
            return;
        }
    }
    let _ = inflater.finish_message(&mut out, limit);
}

fn engineio_payload(data: &[u8], _rng: &mut Rng) {
    let _ = engineio::decode_payload(data, engineio::PayloadLimits::default());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = engineio::Packet::decode_text(text);
        let _ = engineio::Handshake::from_json(text);
    }
}

fn socketio_packet(data: &[u8], rng: &mut Rng) {
    let mut decoder = packet::Decoder::default();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(None) = decoder.decode_text(text) {
        // Attachments follow: feed it some.
        for _ in 0..rng.below(4) {
            let len = rng.below(64);
            if decoder.decode_binary(vec![7; len]).is_err() {
                return;
            }
        }
    }
}

fn json(data: &[u8], rng: &mut Rng) {
    if let Ok(text) = std::str::from_utf8(data) {
        let limits = stdws::json::Limits::default().max_depth(1 + rng.below(128));
        if let Ok(value) = stdws::json::parse_with(text, limits) {
            // What is parsed can be written and parsed back.
            let written = value.to_string();
            assert!(
                stdws::json::parse(&written).is_ok(),
                "written JSON does not parse: {written}"
            );
        }
    }
}

fn url(data: &[u8], _rng: &mut Rng) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stdws::url::Url::parse(text);
    }
}

// --- the seed corpus -------------------------------------------------------

fn http_seeds() -> Vec<Vec<u8>> {
    [
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x:3000\r\n\r\n",
        "POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n4hell",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// A frame as a client (masked, zero key) or a server would send it.
fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(fin as u8) << 7 | opcode];
    let mask = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask | n as u8),
        n @ 126..=65535 => {
            out.push(mask | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out.extend_from_slice(payload);
    out
}

fn frame_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for masked in [true, false] {
        let mut s = frame(true, 1, "Hello, wörld".as_bytes(), masked);
        s.extend(frame(true, 9, b"ping", masked));
        s.extend(frame(false, 2, &[1; 200], masked));
        s.extend(frame(true, 10, b"pong", masked));
        s.extend(frame(true, 0, &[2; 70_000], masked));
        s.extend(frame(true, 8, b"\x03\xe8bye", masked));
        seeds.push(s);
        // "Hello" compressed (RFC 7692 section 7.2.3.1), RSV1 set, twice.
        let mut z = frame(true, 1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], masked);
        z[0] |= 0x40;
        let again = z.clone();
        z.extend(again);
        seeds.push(z);
        let mut parts = frame(false, 1, b"H", masked);
        parts.extend(frame(false, 0, "é".as_bytes(), masked));
        parts.extend(frame(true, 0, b"!", masked));
        seeds.push(parts);
    }
    seeds
}

fn deflate_seeds() -> Vec<Vec<u8>> {
    let corpus: [&[u8]; 4] = [
        br#"{"type":"chat","room":"lobby","user":"alice","text":"hello, hello, hello"}"#,
        b"Hello",
        &[0u8; 3000],
        b"abcabcabcabcabcabd the quick brown fox jumps over the lazy dog 0123456789",
    ];
    let mut seeds = Vec::new();
    for level in [0, 1, 6, 9] {
        let Ok(level) = Level::new(level) else {
            continue;
        };
        for input in corpus {
            if let Ok(mut deflater) = Deflater::new(level, 15) {
                let mut out = Vec::new();
                deflater.compress_message(input, &mut out);
                seeds.push(out);
            }
        }
    }
    // The zlib-made fixtures the tests inflate byte for byte.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/deflate");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "deflate") {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    seeds.push(bytes);
                }
            }
        }
    }
    seeds
}

fn strings(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

// --- the driver ------------------------------------------------------------

/// The process's peak resident memory, from `/proc/self/status`.
fn peak_memory() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() -> ExitCode {
    let mut secs = 10.0;
    let mut seed = 0x5eed_f00d_u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value.as_deref().map(str::parse::<f64>)) {
            ("--secs", Some(Ok(s))) if s > 0.0 => secs = s,
            ("--seed", Some(Ok(s))) => seed = s as u64,
            _ => {
                eprintln!("usage: fuzz [--secs N] [--seed S]");
                return ExitCode::from(2);
            }
        }
    }
    let mut targets = vec![
        Target {
            name: "http head",
            seeds: http_seeds(),
            run: http_head,
            runs: 0,
        },
        Target {
            name: "frames",
            seeds: frame_seeds(),
            run: frames,
            runs: 0,
        },
        Target {
            name: "inflate",
            seeds: deflate_seeds(),
            run: inflate,
            runs: 0,
        },
        Target {
            name: "engine.io",
            seeds: strings(&[
                "4hello\u{1e}4world\u{1e}bAQIDBA==",
                "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}",
                "2probe",
                "6",
            ]),
            run: engineio_payload,
            runs: 0,
        },
        Target {
            name: "socket.io",
            seeds: strings(&[
                "2[\"hello\",1,{\"a\":[true,null]}]",
                "2/admin,13[\"ask\",\"é\"]",
                "51-[\"file\",{\"_placeholder\":true,\"num\":0}]",
                "61-/nsp,7[{\"_placeholder\":true,\"num\":0}]",
                "0{\"token\":\"x\"}",
                "44{\"message\":\"no\"}",
                "1",
            ]),
            run: socketio_packet,
            runs: 0,
        },
        Target {
            name: "json",
            seeds: strings(&[
                r#"{"a":[1,-2.5e10,"x\u00e9\n",true,false,null,{}],"b":{"c":[]}}"#,
                r#"[[[[[[[[[[1]]]]]]]]]]"#,
                r#""\ud83d\ude00""#,
                "123456789012345678901234567890",
            ]),
            run: json,
            runs: 0,
        },
        Target {
            name: "url",
            seeds: strings(&[
                "ws://example.com:8080/chat?room=a%20b#x",
                "wss://user:pw@[::1]:443/",
                "ws://127.0.0.1/",
            ]),
            run: url,
            runs: 0,
        },
    ];
    // A panic is reported below with its input; keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut rng = Rng(seed | 1);
    while Instant::now() < deadline {
        for target in &mut targets {
            for _ in 0..200 {
                let input_seed = rng.next() | 1;
                let mut local = Rng(input_seed);
                let input = mutate(&mut local, &target.seeds);
                let run = target.run;
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&input, &mut local))) {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    eprintln!(
                        "fuzz: {} panicked ({what}) on input seed {input_seed:#x}: {}",
                        target.name,
                        input.iter().map(|b| format!("{b:02x}")).collect::<String>()
                    );
                    return ExitCode::FAILURE;
                }
                target.runs += 1;
            }
        }
        if let Some(peak) = peak_memory() {
            if peak > MEMORY_BUDGET {
                eprintln!("fuzz: peak memory {} MiB is over the budget", peak >> 20);
                return ExitCode::FAILURE;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let total: u64 = targets.iter().map(|t| t.runs).sum();
    let each: Vec<String> = targets
        .iter()
        .map(|t| format!("{} {}", t.name, t.runs))
        .collect();
    println!(
        "fuzz: {total} inputs in {elapsed:.1} s, seed {seed:#x} ({}); peak memory {} MiB; no panic",
        each.join(", "),
        peak_memory().unwrap_or(0) >> 20
    );
    ExitCode::SUCCESS
}
