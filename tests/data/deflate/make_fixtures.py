#!/usr/bin/env python3
"""Writes the DEFLATE fixtures that tests/deflate_fixtures.rs inflates.

Each fixture is a sequence of permessage-deflate messages (RFC 7692) made
by real zlib, raw deflate (negative window bits), with Z_SYNC_FLUSH after
each message and the 00 00 ff ff tail removed, as a sender puts them on the
wire. One compressor per fixture, so later messages refer back into earlier
ones (context takeover).

Files written beside this script:
  plain/*.bin             the plaintexts, shared by several fixtures
  <name>.deflate          the wire payloads of the messages, concatenated
  manifest.txt            one line per fixture:
      <name> <plaintext file> <window bits> <payload len>:<plain len> ...

Run from anywhere: python3 tests/data/deflate/make_fixtures.py
The output is deterministic for a given zlib (see the zlib version line in
the manifest); the tests only check that we inflate what zlib wrote.
"""

import os
import random
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TAIL = b"\x00\x00\xff\xff"

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be "
    "this have from or one had by word but not what all were we when your can "
    "said there use an each which she do how their if will up other about out "
    "many then them these so some her would make like him into time has look "
    "two more write go see number no way could people my than first water been "
    "call who oil its now find long down day did get come made may part over "
    "websocket frame message deflate window compression server client socket"
).split()


def english(rng, size):
    out = []
    n = 0
    while n < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16)))
        sentence = sentence[0].upper() + sentence[1:] + rng.choice([". ", "? ", "! ", ".\n"])
        out.append(sentence)
        n += len(sentence)
    return "".join(out).encode()[:size]


def chat_messages(rng, count):
    users = ["alice", "bob", "carol", "dave", "erin", "frank"]
    rooms = ["general", "random", "dev", "ops"]
    messages = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20)))
        messages.append(
            (
                '{"type":"message","id":%d,"room":"%s","user":"%s","ts":%d,'
                '"text":"%s","reactions":[]}' % (1000 + i, rng.choice(rooms), rng.choice(users),
                                                 1700000000 + i * 7, text)
            ).encode()
        )
    return messages


def binary(rng, size):
    # Structured binary: little-endian records with small varying fields,
    # some runs, some noise.
    out = bytearray()
    i = 0
    while len(out) < size:
        kind = rng.randint(0, 3)
        if kind == 0:
            out += i.to_bytes(4, "little") + rng.randint(0, 300).to_bytes(2, "little") + b"\x00\x00"
        elif kind == 1:
            out += bytes([rng.randint(0, 255)]) * rng.randint(3, 40)
        elif kind == 2:
            out += bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 12)))
        else:
            out += b"\x89PNG\r\n\x1a\n" + i.to_bytes(2, "big")
        i += 1
    return bytes(out[:size])


def compress_messages(messages, level=6, wbits=15, strategy=zlib.Z_DEFAULT_STRATEGY, memlevel=8):
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits, memlevel, strategy)
    payloads = []
    for m in messages:
        data = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(TAIL), data[-8:]
        payloads.append(data[:-4])
    return payloads


def split(data, sizes):
    out, at = [], 0
    for s in sizes:
        out.append(data[at:at + s])
        at += s
    return out


def main():
    rng = random.Random(7692)
    plain = {}
    plain["text"] = english(rng, 20000)
    plain["text_small"] = english(rng, 3000)
    chat = chat_messages(rng, 120)
    plain["chat"] = b"".join(chat)
    plain["binary"] = binary(rng, 8000)
    plain["random"] = bytes(rng.randint(0, 255) for _ in range(3000))
    runs = b"a" * 3000 + b"ab" * 1000 + b"abc" * 700 + bytes(range(256)) * 4 + b"z" * 300
    plain["runs"] = runs
    hello = [b"Hello", b"Hello", b"", b"Hello, Hello, Hello", b""]
    plain["hello"] = b"".join(hello)

    fixtures = []  # (name, plain key, wbits, messages, payloads)

    def add(name, key, wbits, messages, payloads):
        assert b"".join(messages) == plain[key]
        fixtures.append((name, key, wbits, messages, payloads))

    for w in range(9, 16):
        add("text_w%d" % w, "text", w, [plain["text"]], compress_messages([plain["text"]], 6, w))
    for level in (1, 9):
        add("text_l%d" % level, "text", 15, [plain["text"]],
            compress_messages([plain["text"]], level, 15))
    add("text_small_stored", "text_small", 15, [plain["text_small"]],
        compress_messages([plain["text_small"]], 0, 15))
    add("text_small_fixed", "text_small", 15, [plain["text_small"]],
        compress_messages([plain["text_small"]], 6, 15, zlib.Z_FIXED))
    add("text_small_huffman_only", "text_small", 15, [plain["text_small"]],
        compress_messages([plain["text_small"]], 6, 15, zlib.Z_HUFFMAN_ONLY))
    add("text_small_rle", "text_small", 15, [plain["text_small"]],
        compress_messages([plain["text_small"]], 6, 15, zlib.Z_RLE))
    # Small memLevel: small blocks, so many dynamic block headers.
    add("text_small_memlevel1", "text_small", 15, [plain["text_small"]],
        compress_messages([plain["text_small"]], 9, 15, memlevel=1))
    add("binary_l6", "binary", 15, [plain["binary"]], compress_messages([plain["binary"]]))
    add("random_l6", "random", 15, [plain["random"]], compress_messages([plain["random"]]))
    add("runs_l6", "runs", 15, [plain["runs"]], compress_messages([plain["runs"]]))
    add("runs_w9_l9", "runs", 9, [plain["runs"]], compress_messages([plain["runs"]], 9, 9))

    # Many small messages, each sync-flushed, later ones referring back.
    for w, level, strategy, name in [
        (15, 6, zlib.Z_DEFAULT_STRATEGY, "chat_w15"),
        (10, 6, zlib.Z_DEFAULT_STRATEGY, "chat_w10"),
        (9, 1, zlib.Z_DEFAULT_STRATEGY, "chat_w9_l1"),
        (15, 6, zlib.Z_FIXED, "chat_fixed"),
        (15, 0, zlib.Z_DEFAULT_STRATEGY, "chat_stored"),
    ]:
        add(name, "chat", w, chat, compress_messages(chat, level, w, strategy))
    add("hello_messages", "hello", 15, hello, compress_messages(hello, 6, 15, zlib.Z_FIXED))

    # A message ending in a final block (RFC 7692 section 7.2.3.4): the
    # sender cannot strip a tail, so it appends a 00 byte that, with the
    # tail the receiver appends, makes an empty stored block. The next
    # message is a new stream whose compressor was given the first
    # message as a preset dictionary: its back-references reach into it.
    first, second = chat[0], chat[1] + chat[0]
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    p1 = c.compress(first) + c.flush(zlib.Z_FINISH) + b"\x00"
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict=first)
    p2 = c.compress(second) + c.flush(zlib.Z_SYNC_FLUSH)
    assert p2.endswith(TAIL)
    plain["final_then_more"] = first + second
    add("final_then_more", "final_then_more", 15, [first, second], [p1, p2[:-4]])

    os.makedirs(os.path.join(HERE, "plain"), exist_ok=True)
    for key, data in plain.items():
        with open(os.path.join(HERE, "plain", key + ".bin"), "wb") as f:
            f.write(data)
    lines = ["# zlib %s; see make_fixtures.py" % zlib.ZLIB_VERSION]
    for name, key, wbits, messages, payloads in fixtures:
        # Check the fixture with zlib itself before writing it.
        # (zlib stops at a final block, so the final_then_more fixture is
        # checked one stream at a time.)
        streams = [b"".join(p + TAIL for p in payloads)]
        if name == "final_then_more":
            streams = [payloads[0], payloads[1] + TAIL]
        out, history = b"", b""
        for stream in streams:
            d = zlib.decompressobj(-wbits, zdict=history) if history else zlib.decompressobj(-wbits)
            part = d.decompress(stream)
            out += part
            history = part
        assert out == plain[key], name
        with open(os.path.join(HERE, name + ".deflate"), "wb") as f:
            f.write(b"".join(payloads))
        sizes = " ".join("%d:%d" % (len(p), len(m)) for p, m in zip(payloads, messages))
        lines.append("%s plain/%s.bin %d %s" % (name, key, wbits, sizes))
    with open(os.path.join(HERE, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
