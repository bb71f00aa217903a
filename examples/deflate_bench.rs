//! Speed and ratio of `stdws::deflate` on a corpus generated here, so that
//! the same bytes can be measured with zlib.
//!
//! ```text
//! cargo run --release --example deflate_bench
//! cargo run --release --example deflate_bench -- --write-corpus target/deflate-corpus
//! python3 tests/data/deflate/zlib_bench.py target/deflate-corpus
//! ```
//!
//! The corpus: 5,000 JSON chat messages of about 200 bytes (compressed one
//! message at a time with context takeover and a sync flush each, as
//! permessage-deflate does), 4 MiB of English-like text built from a word
//! list, and 1 MiB of structured binary. For each level the table gives
//! compression speed (MB/s of input), the ratio (output / input) and
//! inflate speed (MB/s of output); each figure is the best of a few runs.
//! `--write-corpus DIR` writes `chat.bin` (each message as a 4-byte
//! little-endian length and the bytes), `text.bin` and `binary.bin` to DIR.
//! `--levels 1,6,9` measures only those levels, `--corpora chat,text`
//! only those corpora, and `--no-inflate` skips the inflate timing (for
//! quick rounds against zlib while tuning the compressor).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use stdws::deflate::{Deflater, Inflater, Level, SYNC_FLUSH_TAIL};

const RUNS: usize = 5;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "you",
    "that",
    "it",
    "he",
    "was",
    "for",
    "on",
    "are",
    "as",
    "with",
    "his",
    "they",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "number",
    "no",
    "way",
    "could",
    "people",
    "my",
    "than",
    "first",
    "water",
    "been",
    "call",
    "who",
    "oil",
    "its",
    "now",
    "find",
    "long",
    "down",
    "day",
    "did",
    "get",
    "come",
    "made",
    "may",
    "part",
    "over",
    "new",
    "sound",
    "take",
    "only",
    "little",
    "work",
    "know",
    "place",
    "year",
    "live",
    "me",
    "back",
    "give",
    "most",
    "very",
    "after",
    "thing",
    "our",
    "just",
    "name",
    "good",
    "sentence",
    "man",
    "think",
    "say",
    "great",
    "where",
    "help",
    "through",
    "much",
    "before",
    "line",
    "right",
    "too",
    "mean",
    "old",
    "any",
    "same",
    "tell",
    "boy",
    "follow",
    "came",
    "want",
    "show",
    "also",
    "around",
    "form",
    "three",
    "small",
    "set",
    "put",
    "end",
    "does",
    "another",
    "well",
    "large",
    "must",
    "big",
    "even",
    "such",
    "because",
    "turn",
    "here",
    "why",
    "ask",
    "went",
    "men",
    "read",
    "need",
    "land",
    "different",
    "home",
    "us",
    "move",
    "try",
    "kind",
    "hand",
    "picture",
    "again",
    "change",
    "off",
    "play",
    "spell",
    "air",
    "away",
    "animal",
    "house",
    "point",
    "page",
    "letter",
    "mother",
    "answer",
    "found",
    "study",
    "still",
    "learn",
    "should",
    "America",
    "world",
    "websocket",
    "server",
    "message",
];

fn sentence(rng: &mut XorShift, out: &mut String) {
    let n = 4 + rng.below(13);
    for i in 0..n {
        let w = WORDS[rng.below(WORDS.len())];
        if i == 0 {
            let mut c = w.chars();
            if let Some(first) = c.next() {
                out.extend(first.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(w);
        }
        if i + 1 < n && rng.below(12) == 0 {
            out.push(',');
        }
    }
    out.push_str([". ", ". ", "? ", "! ", ".\n\n"][rng.below(5)]);
}

fn english(rng: &mut XorShift, size: usize) -> Vec<u8> {
    let mut s = String::with_capacity(size + 200);
    while s.len() < size {
        sentence(rng, &mut s);
    }
    s.truncate(size);
    s.into_bytes()
}

fn chat(rng: &mut XorShift, count: usize) -> Vec<Vec<u8>> {
    let users = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let rooms = ["general", "random", "dev", "ops", "support"];
    (0..count)
        .map(|i| {
            let mut text = String::new();
            sentence(rng, &mut text);
            if rng.below(3) == 0 {
                sentence(rng, &mut text);
            }
            let text = text.trim_end().replace('\n', " ");
            format!(
                r#"{{"type":"message","id":{},"room":"{}","user":"{}","ts":{},"text":"{}","reactions":[]}}"#,
                100_000 + i,
                rooms[rng.below(rooms.len())],
                users[rng.below(users.len())],
                1_700_000_000 + i * 7 + rng.below(7),
                text
            )
            .into_bytes()
        })
        .collect()
}

fn binary(rng: &mut XorShift, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    let mut i = 0u32;
    while out.len() < size {
        match rng.below(4) {
            0 => {
                out.extend_from_slice(&i.to_le_bytes());
                out.extend_from_slice(&(rng.below(300) as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            1 => out.extend(std::iter::repeat_n(rng.next() as u8, 3 + rng.below(38))),
            2 => {
                let n = 1 + rng.below(12);
                out.extend((0..n).map(|_| rng.next() as u8));
            }
            _ => {
                out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
                out.extend_from_slice(&(i as u16).to_be_bytes());
            }
        }
        i += 1;
    }
    out.truncate(size);
    out
}

fn best_secs(mut f: impl FnMut()) -> f64 {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Compresses messages one at a time with context takeover, as
/// permessage-deflate does; returns the wire payloads (tails removed).
fn compress_messages(level: Level, messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut d = Deflater::new(level, 15).expect("valid settings");
    let mut out = Vec::new();
    messages
        .iter()
        .map(|m| {
            out.clear();
            d.compress_message(m, &mut out);
            out[..out.len() - SYNC_FLUSH_TAIL.len()].to_vec()
        })
        .collect()
}

fn row(name: &str, level: Level, messages: &[Vec<u8>], time_inflate: bool) {
    let input: usize = messages.iter().map(Vec::len).sum();
    let payloads = compress_messages(level, messages);
    let output: usize = payloads.iter().map(Vec::len).sum();

    let mut out = Vec::with_capacity(1 << 20);
    let compress = best_secs(|| {
        let mut d = Deflater::new(level, 15).expect("valid settings");
        for m in messages {
            out.clear();
            d.compress_message(m, &mut out);
            black_box(&out);
        }
    });
    let mut plain = Vec::with_capacity(input.min(64 << 20));
    let inflate = if !time_inflate {
        f64::NAN
    } else {
        best_secs(|| {
            let mut i = Inflater::new(15).expect("valid settings");
            for p in &payloads {
                plain.clear();
                let r = i
                    .inflate(p, &mut plain, usize::MAX)
                    .and_then(|_| i.finish_message(&mut plain, usize::MAX));
                assert!(r.is_ok());
                black_box(&plain);
            }
        })
    };
    // Check the round trip once, outside the timing.
    let mut i = Inflater::new(15).expect("valid settings");
    for (p, m) in payloads.iter().zip(messages) {
        plain.clear();
        let r = i
            .inflate(p, &mut plain, usize::MAX)
            .and_then(|_| i.finish_message(&mut plain, usize::MAX));
        assert!(r.is_ok() && plain == *m, "round trip");
    }
    let per_message = if messages.len() > 1 {
        format!("{:>7.2} µs/msg", compress * 1e6 / messages.len() as f64)
    } else {
        String::new()
    };
    println!(
        "{name:<10} level {}  compress {:>7.1} MB/s  ratio {:.4}  inflate {:>7.1} MB/s {per_message}",
        level.get(),
        input as f64 / compress / 1e6,
        output as f64 / input as f64,
        input as f64 / inflate / 1e6,
    );
}

fn main() -> ExitCode {
    let mut rng = XorShift(0x7692_1951_0000_0001);
    let chat = chat(&mut rng, 5000);
    let text = english(&mut rng, 4 << 20);
    let bin = binary(&mut rng, 1 << 20);

    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--write-corpus") {
        let Some(dir) = args.get(at + 1) else {
            eprintln!("--write-corpus needs a directory");
            return ExitCode::FAILURE;
        };
        let mut framed = Vec::new();
        for m in &chat {
            framed.extend_from_slice(&(m.len() as u32).to_le_bytes());
            framed.extend_from_slice(m);
        }
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(format!("{dir}/chat.bin"), &framed))
            .and_then(|()| std::fs::write(format!("{dir}/text.bin"), &text))
            .and_then(|()| std::fs::write(format!("{dir}/binary.bin"), &bin));
        if let Err(e) = written {
            eprintln!("writing the corpus to {dir}: {e}");
            return ExitCode::FAILURE;
        }
        println!("corpus written to {dir}");
        return ExitCode::SUCCESS;
    }

    let avg = chat.iter().map(Vec::len).sum::<usize>() / chat.len();
    println!(
        "corpus: {} chat messages (avg {avg} bytes), {} bytes of text, {} bytes of binary",
        chat.len(),
        text.len(),
        bin.len()
    );
    let list = |flag: &str, all: &str| -> String {
        args.iter()
            .position(|a| a == flag)
            .and_then(|at| args.get(at + 1))
            .map_or(all.to_string(), String::clone)
    };
    let levels: Vec<Level> = list("--levels", "0,1,6,9")
        .split(',')
        .filter_map(|l| l.parse().ok().and_then(|l| Level::new(l).ok()))
        .collect();
    let corpora = list("--corpora", "chat,text,binary");
    let time_inflate = !args.iter().any(|a| a == "--no-inflate");
    for level in levels {
        for name in corpora.split(',') {
            match name {
                "chat" => row("chat", level, &chat, time_inflate),
                "text" => row("text", level, std::slice::from_ref(&text), time_inflate),
                "binary" => row("binary", level, std::slice::from_ref(&bin), time_inflate),
                _ => {}
            }
        }
    }
    for bits in [9u8, 12, 15] {
        let mut d = Deflater::new(Level::DEFAULT, bits).expect("valid settings");
        let mut out = Vec::new();
        for m in &chat[..200] {
            out.clear();
            d.compress_message(m, &mut out);
        }
        let mut i = Inflater::new(bits).expect("valid settings");
        let mut plain = Vec::new();
        let mut d2 = Deflater::new(Level::DEFAULT, bits).expect("valid settings");
        for m in &chat[..200] {
            let mut w = Vec::new();
            d2.compress_message(m, &mut w);
            plain.clear();
            let _ = i.inflate(&w, &mut plain, usize::MAX);
        }
        println!(
            "memory at {bits} window bits, after 200 messages: deflater {} bytes, inflater {} bytes",
            d.allocated_bytes(),
            i.allocated_bytes()
        );
    }
    ExitCode::SUCCESS
}
