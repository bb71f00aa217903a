//! Streams compressed by real zlib (written by
//! `tests/data/deflate/make_fixtures.py`), inflated byte for byte: whole
//! messages as permessage-deflate delivers them, and the same data fed in
//! pieces of random sizes down to one byte.

use std::fs;
use std::path::{Path, PathBuf};

use stdws::deflate::{Inflater, SYNC_FLUSH_TAIL};

struct Fixture {
    name: String,
    window_bits: u8,
    plain: Vec<u8>,
    /// (wire payload without the tail, plaintext) per message.
    messages: Vec<(Vec<u8>, Vec<u8>)>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/deflate")
}

fn fixtures() -> Vec<Fixture> {
    let manifest = fs::read_to_string(dir().join("manifest.txt")).unwrap();
    let mut out = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut fields = line.split_whitespace();
        let name = fields.next().unwrap().to_string();
        let plain = fs::read(dir().join(fields.next().unwrap())).unwrap();
        let window_bits: u8 = fields.next().unwrap().parse().unwrap();
        let compressed = fs::read(dir().join(format!("{name}.deflate"))).unwrap();
        let (mut c_at, mut p_at) = (0, 0);
        let mut messages = Vec::new();
        for sizes in fields {
            let (c, p) = sizes.split_once(':').unwrap();
            let (c, p): (usize, usize) = (c.parse().unwrap(), p.parse().unwrap());
            messages.push((
                compressed[c_at..c_at + c].to_vec(),
                plain[p_at..p_at + p].to_vec(),
            ));
            c_at += c;
            p_at += p;
        }
        assert_eq!((c_at, p_at), (compressed.len(), plain.len()), "{name}");
        out.push(Fixture {
            name,
            window_bits,
            plain,
            messages,
        });
    }
    assert!(out.len() >= 20, "the manifest lists the fixtures");
    out
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn zlib_fixtures_inflate_message_by_message() {
    for f in fixtures() {
        let mut inflater = Inflater::new(f.window_bits).unwrap();
        for (i, (payload, plain)) in f.messages.iter().enumerate() {
            let mut out = Vec::new();
            inflater.inflate(payload, &mut out, plain.len()).unwrap();
            inflater.finish_message(&mut out, plain.len()).unwrap();
            assert!(out == *plain, "{} message {i}", f.name);
        }
    }
}

#[test]
fn zlib_fixtures_inflate_in_random_pieces_down_to_one_byte() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for f in fixtures() {
        let stream: Vec<u8> = f
            .messages
            .iter()
            .flat_map(|(p, _)| p.iter().chain(SYNC_FLUSH_TAIL.iter()).copied())
            .collect();
        for round in 0..4 {
            let mut inflater = Inflater::new(f.window_bits).unwrap();
            let mut out = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = match round {
                    0 => 1,
                    1 => 1 + (rng.next() % 7) as usize,
                    _ => 1 + (rng.next() % 600) as usize,
                }
                .min(rest.len());
                inflater
                    .inflate(&rest[..n], &mut out, f.plain.len())
                    .unwrap();
                rest = &rest[n..];
            }
            assert!(inflater.at_block_boundary(), "{}", f.name);
            assert!(out == f.plain, "{} round {round}", f.name);
        }
    }
}

#[test]
fn zlib_fixtures_fail_one_byte_under_their_size() {
    for f in fixtures().into_iter().filter(|f| !f.plain.is_empty()) {
        let mut inflater = Inflater::new(f.window_bits).unwrap();
        let limit = f.plain.len() - 1;
        let mut out = Vec::new();
        let mut failed = false;
        for (payload, _) in &f.messages {
            let r = inflater
                .inflate(payload, &mut out, limit)
                .and_then(|_| inflater.finish_message(&mut out, limit));
            if r.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "{}", f.name);
        assert!(out.len() <= limit && out.capacity() <= limit, "{}", f.name);
    }
}
