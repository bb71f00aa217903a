//! Micro-benchmarks of stdws's sans-I/O core, without sockets: frame headers,
//! masking, UTF-8 validation and the [`Receiver`], each beside a plain copy
//! of the same buffer (`memcpy`) as the yardstick.
//!
//! ```text
//! cargo run --release --example microbench [-- --json]
//! ```
//!
//! Each row is measured [`SAMPLES`] times, every sample repeating the
//! operation for about [`SAMPLE_TIME`]; the table gives the best and the
//! median sample (the best is the least disturbed by other work on the
//! machine, the median shows how noisy it was). The whole run takes a few
//! seconds. `--json` prints one JSON line per row instead of the table.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use stdws::Message;
use stdws::protocol::frame::{FrameHeader, OpCode};
use stdws::protocol::mask::apply_mask;
use stdws::protocol::utf8::Utf8Validator;
use stdws::protocol::{Limits, Receiver, Role, Sender};

const SAMPLES: usize = 11;
const SAMPLE_TIME: Duration = Duration::from_millis(8);

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// What a row's figures count.
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    /// Bytes of input per second, in GB/s (10^9).
    GigabytesPerSec,
    /// Nanoseconds per item (lower is better).
    NanosPerItem,
    /// Messages per second, in millions.
    MillionMsgsPerSec,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Unit::GigabytesPerSec => "GB/s",
            Unit::NanosPerItem => "ns/item",
            Unit::MillionMsgsPerSec => "M msg/s",
        }
    }
}

struct Row {
    name: String,
    /// Input bytes per operation.
    bytes: usize,
    unit: Unit,
    best: f64,
    median: f64,
    /// The best memcpy rate for a buffer of the same size, in GB/s.
    memcpy: Option<f64>,
    /// Wire bytes per second at the best rate, for message rows.
    wire_gbps: Option<f64>,
}

/// Times `op` and returns the seconds per call of every sample, fastest
/// first.
fn time_samples(mut op: impl FnMut()) -> Vec<f64> {
    // Calibrate: double the repetitions until a batch takes a millisecond.
    let mut reps: u64 = 1;
    let per_call = loop {
        let start = Instant::now();
        for _ in 0..reps {
            op();
        }
        let took = start.elapsed();
        if took >= Duration::from_millis(1) || reps >= 1 << 30 {
            break took.as_secs_f64() / reps as f64;
        }
        reps *= 2;
    };
    let reps = ((SAMPLE_TIME.as_secs_f64() / per_call) as u64).max(1);
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                op();
            }
            start.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples
}

struct Bench {
    rows: Vec<Row>,
}

impl Bench {
    /// A row whose figure is `work` units per call, turned into `unit`.
    fn run(&mut self, name: &str, bytes: usize, unit: Unit, work: f64, op: impl FnMut()) {
        let samples = time_samples(op);
        let rate = |secs: f64| match unit {
            Unit::GigabytesPerSec => work / secs / 1e9,
            Unit::NanosPerItem => secs * 1e9 / work,
            Unit::MillionMsgsPerSec => work / secs / 1e6,
        };
        let memcpy = self
            .rows
            .iter()
            .find(|r| r.name == "memcpy" && r.bytes == bytes)
            .map(|r| r.best);
        self.rows.push(Row {
            name: name.to_owned(),
            bytes,
            unit,
            best: rate(samples[0]),
            median: rate(samples[samples.len() / 2]),
            memcpy: memcpy.filter(|_| unit == Unit::GigabytesPerSec),
            wire_gbps: (unit == Unit::MillionMsgsPerSec).then(|| bytes as f64 / samples[0] / 1e9),
        });
    }

    /// A GB/s row over `bytes` bytes per call.
    fn throughput(&mut self, name: &str, bytes: usize, op: impl FnMut()) {
        self.run(name, bytes, Unit::GigabytesPerSec, bytes as f64, op);
    }
}

fn main() -> ExitCode {
    let mut json = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "--help" | "-h" => {
                println!(
                    "usage: microbench [--json]   (a few seconds; best and median of {SAMPLES} samples)"
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("microbench: unknown option {other}\nusage: microbench [--json]");
                return ExitCode::from(2);
            }
        }
    }
    let mut bench = Bench { rows: Vec::new() };
    let started = Instant::now();
    copies_and_masks(&mut bench);
    headers(&mut bench);
    utf8(&mut bench);
    receiver(&mut bench);
    if json {
        for row in &bench.rows {
            print_json(row);
        }
    } else {
        print_table(&bench.rows);
        println!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    ExitCode::SUCCESS
}

/// Bytes that are not all alike, so that nothing can be folded away.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn copies_and_masks(bench: &mut Bench) {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for size in [KIB, 64 * KIB, MIB] {
        let src = pattern(size);
        let mut dst = vec![0u8; size];
        bench.throughput("memcpy", size, || {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        });
        bench.throughput("apply_mask", size, || {
            apply_mask(black_box(&mut dst), key, 0);
        });
        // A piece that starts mid-word, as the second read of a frame does.
        let work = (size - 3) as f64;
        bench.run(
            "apply_mask, offset 3",
            size,
            Unit::GigabytesPerSec,
            work,
            || {
                apply_mask(black_box(&mut dst[3..]), key, 3);
            },
        );
    }
}

fn headers(bench: &mut Bench) {
    // One header of each shape: 7-, 16- and 64-bit lengths, masked or not.
    let shapes = [
        FrameHeader::new(OpCode::Text, 32, None),
        FrameHeader::new(OpCode::Text, 32, Some([1, 2, 3, 4])),
        FrameHeader::new(OpCode::Binary, 4000, None),
        FrameHeader::new(OpCode::Binary, 4000, Some([1, 2, 3, 4])),
        FrameHeader::new(OpCode::Binary, 1 << 20, None),
        FrameHeader::new(OpCode::Binary, 1 << 20, Some([1, 2, 3, 4])),
    ];
    let encoded: Vec<Vec<u8>> = shapes
        .iter()
        .map(|h| h.encode().as_bytes().to_vec())
        .collect();
    let count = shapes.len() as f64;
    bench.run("FrameHeader::parse", 0, Unit::NanosPerItem, count, || {
        for bytes in black_box(&encoded) {
            let _ = black_box(FrameHeader::parse(bytes));
        }
    });
    bench.run("FrameHeader::encode", 0, Unit::NanosPerItem, count, || {
        for header in black_box(&shapes) {
            black_box(header.encode());
        }
    });
}

fn utf8(bench: &mut Bench) {
    let size = 64 * KIB;
    let ascii: Vec<u8> = (0..size).map(|i| b' ' + (i % 95) as u8).collect();
    // Two-, three- and four-byte code points among ASCII.
    let mut multi = String::new();
    while multi.len() < size - 32 {
        multi.push_str("κόσμε 日本語 𝄞 ünïcödé ");
    }
    while multi.len() < size {
        multi.push(' ');
    }
    let multi = multi.into_bytes();
    for (what, text) in [("ASCII", &ascii), ("multi-byte", &multi)] {
        bench.throughput(&format!("str::from_utf8, {what}"), text.len(), || {
            let _ = black_box(std::str::from_utf8(black_box(text)));
        });
        for piece in [text.len(), 4093, 61] {
            let name = if piece == text.len() {
                format!("Utf8Validator, {what}, whole")
            } else {
                format!("Utf8Validator, {what}, {piece} B pieces")
            };
            bench.throughput(&name, text.len(), || {
                let mut validator = Utf8Validator::new();
                for chunk in black_box(text).chunks(piece) {
                    let _ = black_box(validator.feed(chunk));
                }
                let _ = black_box(validator.finish());
            });
        }
    }
}

/// A client's frames, as a server receives them.
fn masked_stream(messages: &[Message]) -> Vec<u8> {
    let mut sender = Sender::new(Role::Client);
    let mut wire = Vec::new();
    for message in messages {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            other => (OpCode::Binary, other.as_bytes()),
        };
        if let Err(e) = sender.encode(opcode, true, payload, &mut wire) {
            eprintln!("microbench: cannot encode a frame: {e}");
        }
    }
    wire
}

/// Feeds `wire` to `receiver` in pieces of at most `piece` bytes, as a read
/// loop would, and returns the number of messages.
fn decode(receiver: &mut Receiver, wire: &[u8], piece: usize) -> usize {
    let mut messages = 0;
    for mut chunk in wire.chunks(piece) {
        while !chunk.is_empty() {
            match receiver.receive(chunk) {
                Ok((used, message)) => {
                    messages += usize::from(message.is_some());
                    black_box(message);
                    chunk = &chunk[used..];
                }
                Err(violation) => panic!("the benchmark's own frames broke a rule: {violation}"),
            }
        }
    }
    messages
}

fn receiver(bench: &mut Bench) {
    let limits = Limits::default();
    let mut rx = Receiver::new(Role::Server, limits);

    let count = 1000;
    let small: Vec<Message> = (0..count)
        .map(|i| Message::text(format!("{i:016x}abcdefghijklmnop")))
        .collect();
    let wire = masked_stream(&small);
    assert_eq!(decode(&mut rx, &wire, wire.len()), count);
    bench.run(
        "Receiver, 32 B masked text frames",
        wire.len(),
        Unit::MillionMsgsPerSec,
        count as f64,
        || {
            decode(&mut rx, black_box(&wire), wire.len());
        },
    );
    let binary: Vec<Message> = (0..count)
        .map(|i| Message::binary(vec![i as u8; 32]))
        .collect();
    let wire = masked_stream(&binary);
    bench.run(
        "Receiver, 32 B masked binary frames",
        wire.len(),
        Unit::MillionMsgsPerSec,
        count as f64,
        || {
            decode(&mut rx, black_box(&wire), wire.len());
        },
    );

    let big_binary = masked_stream(&[Message::binary(pattern(MIB))]);
    let ascii: String = (0..MIB).map(|i| (b' ' + (i % 95) as u8) as char).collect();
    let big_text = masked_stream(&[Message::Text(ascii)]);
    // Whole, and in the 128 KiB reads that WebSocket::read makes for a
    // large frame.
    for (name, wire) in [("binary", &big_binary), ("text", &big_text)] {
        for piece in [wire.len(), 128 * KIB] {
            let how = if piece == wire.len() {
                "whole".to_owned()
            } else {
                format!("{} KiB pieces", piece / KIB)
            };
            bench.throughput(
                &format!("Receiver, 1 MiB masked {name}, {how}"),
                MIB,
                || {
                    decode(&mut rx, black_box(wire), piece);
                },
            );
        }
    }
}

fn size_label(bytes: usize) -> String {
    match bytes {
        0 => String::new(),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} B"),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<46} {:>8} {:>9} {:>9} {:<8} {:>10}",
        "benchmark", "size", "best", "median", "unit", "vs memcpy"
    );
    println!("{}", "-".repeat(95));
    for row in rows {
        let versus = match (row.memcpy, row.wire_gbps) {
            (Some(memcpy), _) if row.name != "memcpy" => format!("{:.2}x", row.best / memcpy),
            (_, Some(wire)) => format!("{wire:.2} GB/s"),
            _ => String::new(),
        };
        println!(
            "{:<46} {:>8} {:>9} {:>9} {:<8} {:>10}",
            row.name,
            size_label(row.bytes),
            format_figure(row.best),
            format_figure(row.median),
            row.unit.label(),
            versus
        );
    }
    println!(
        "(vs memcpy: best rate over memcpy's best for the same size; message rows: wire bytes per second)"
    );
}

fn format_figure(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn print_json(row: &Row) {
    let optional = |v: Option<f64>| v.map_or("null".to_owned(), |v| format!("{v:.4}"));
    println!(
        "{{\"bench\":\"{}\",\"bytes\":{},\"unit\":\"{}\",\"best\":{:.4},\"median\":{:.4},\"memcpy_gbps\":{},\"wire_gbps\":{}}}",
        row.name,
        row.bytes,
        row.unit.label(),
        row.best,
        row.median,
        optional(row.memcpy),
        optional(row.wire_gbps)
    );
}
