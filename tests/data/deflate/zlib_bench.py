#!/usr/bin/env python3
"""zlib's speed and ratio on the corpus of examples/deflate_bench.rs.

    cargo run --release --example deflate_bench -- --write-corpus target/deflate-corpus
    python3 tests/data/deflate/zlib_bench.py target/deflate-corpus

Same measurements as the example: chat messages compressed one at a time
with context takeover and Z_SYNC_FLUSH (tail removed), the text and binary
as one message each; raw deflate, 15 window bits, memLevel 8; best of 5.
Python's per-call overhead (well under a microsecond) is included in the
per-message figures.
"""

import os
import struct
import sys
import time
import zlib

RUNS = 5
TAIL = b"\x00\x00\xff\xff"


def load(d):
    with open(os.path.join(d, "chat.bin"), "rb") as f:
        data = f.read()
    chat, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        chat.append(data[at + 4:at + 4 + n])
        at += 4 + n
    with open(os.path.join(d, "text.bin"), "rb") as f:
        text = f.read()
    with open(os.path.join(d, "binary.bin"), "rb") as f:
        binary = f.read()
    return chat, text, binary


def best(f):
    t = float("inf")
    for _ in range(RUNS):
        s = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - s)
    return t


def compress(level, messages):
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8)
    return [(c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH))[:-4] for m in messages]


def inflate(payloads):
    d = zlib.decompressobj(-15)
    return [d.decompress(p + TAIL) for p in payloads]


def row(name, level, messages):
    size = sum(map(len, messages))
    payloads = compress(level, messages)
    assert inflate(payloads) == messages
    out = sum(map(len, payloads))
    tc = best(lambda: compress(level, messages))
    ti = best(lambda: inflate(payloads))
    per = "   %5.2f µs/msg" % (tc * 1e6 / len(messages)) if len(messages) > 1 else ""
    print("%-10s level %d  compress %7.1f MB/s  ratio %.4f  inflate %7.1f MB/s%s"
          % (name, level, size / tc / 1e6, out / size, size / ti / 1e6, per))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: zlib_bench.py CORPUS_DIR")
    chat, text, binary = load(sys.argv[1])
    print("zlib %s" % zlib.ZLIB_VERSION)
    for level in (1, 6, 9):
        row("chat", level, chat)
        row("text", level, [text])
        row("binary", level, [binary])


if __name__ == "__main__":
    main()
