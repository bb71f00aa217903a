//! Performance: throughput and CPU per message against plain TCP and other
//! WebSocket libraries, how it was measured, and why the figures move.
//!
//! # The comparison
//!
//! Measured side by side with the independent harness of `../shared/bench`
//! (its own std-only load generator, `wsload`, and peer servers built on
//! other libraries), on 2026-11-29, on the 2-core VM described in the
//! [guide](super). One run (the harness's `results/20261129-040830.json`, on
//! commit b4060e5, whose message path is today's), five rounds per server
//! taken in turn, medians. Round trips per second (broadcast: deliveries per
//! second; idle: resident memory per connection):
//!
//! | scenario | plain TCP | **stdws** | stdws / TCP | tungstenite | tokio-tungstenite | Node ws |
//! |---|---|---|---|---|---|---|
//! | echo, 1 connection, 32 B | 11.4k | **11.5k** | 1.009 | 11.7k | 10.3k | 10.6k |
//! | echo, 64 connections, 32 B | 89.6k | **89.2k** | 0.995 | 86.3k | 61.6k | 63.5k |
//! | echo, 64 connections x 16 in flight, 32 B | 152.5k | **163.7k** | 1.073 | 130.5k | 138.9k | 110.6k |
//! | echo, 4 connections, 64 KiB binary | 36.0k | **36.2k** | 1.005 | 30.5k | 25.1k | 4.2k |
//! | echo, 1 connection, 1 MiB binary | 1,210 | **1,441** | 1.191 | 702 | 859 | 291 |
//! | broadcast, 100 receivers x 200 msgs | n/a | **785.1k** | | 85.2k | 196.8k | 89.2k |
//! | broadcast, 1000 receivers x 20 msgs | n/a | **199.1k** | | 57.3k | 119.2k | 53.6k |
//! | memory per idle connection, 10,000 held | 21.0 KB | **20.1 KB** | 0.957 | 151.6 KB | 134.7 KB | 6.1 KB |
//!
//! Server CPU per message against plain TCP, from the medians: 0.985 (1
//! connection), 1.022 (64 connections), 0.955 (64 x 16 in flight), 1.100
//! (64 KiB), 0.832 (1 MiB). Broadcast to 1,000 receivers: 3.5x tungstenite
//! and 1.7x tokio-tungstenite. 10,000 connections are held with 10,003
//! threads (see [`memory`](super::memory)).
//!
//! To reproduce (copy the harness outside the repository first, as its
//! README says):
//!
//! ```text
//! cargo build --release --examples
//! B=$(mktemp -d)/bench && cp -r ../shared/bench "$B" && "$B/setup.sh"
//! python3 "$B/run.py" --only stdws,raw-tcp,tungstenite,tokio-tungstenite,node-ws --repeat 5 \
//!   --server stdws="$PWD/target/release/examples/echo 127.0.0.1:{port} --quiet & $PWD/target/release/examples/broadcast 127.0.0.1:{port1} --quiet; wait" \
//!   --bcast stdws="ws://127.0.0.1:{port1}/"
//! ```
//!
//! # Compression
//!
//! With `permessage-deflate` (RFC 7692) negotiated, against the three peers
//! of the harness that have it, each at its library's defaults (Node `ws`
//! and Tornado: 15-bit windows both ways, context kept; Python `websockets`:
//! 12-bit windows, context kept), stdws at its own: a context kept for each
//! client, compressed with a 12-bit window, and 12 bits asked of the client
//! (the column `stdws, alone` is the server compressing each message on its
//! own, `--no-context-takeover`, the default before 2026-12-03). One run of
//! the harness's `deflate_*` scenarios in quick mode (2 s per echo row),
//! all five servers in turn, on 2026-12-03 on the 2-core VM (1-minute load
//! average 1.5 at the start, 3.3 at the end; `results/20261203-134647.json`,
//! on the code of the commit that wrote this table). JSON text of the sizes
//! given, round trips per second (broadcast: deliveries per second):
//!
//! | scenario | **stdws** | stdws, alone | Node ws | Python websockets | Tornado | stdws / best peer |
//! |---|---|---|---|---|---|---|
//! | echo, 64 connections, 200 B | **32.8k** | 19.6k | 6.2k | 11.9k | 6.4k | 2.76 |
//! | echo, 4 connections, 16 KiB | **3.0k** | 2.6k | 1.1k | 2.2k | 1.6k | 1.36 |
//! | echo, 1 connection, 1 MiB | 24 | 20 | 18 | **25** | 20 | 0.96 |
//! | broadcast, 1000 receivers x 20 x 1 KiB | **20.9k** | 101.5k | 7.9k | 16.5k | 6.2k | 1.27 |
//! | memory per connection, 1,000 compressed | **56.9 KB** | 34.3 KB | 268.2 KB | 72.4 KB | 207.7 KB | 0.79 |
//! | memory per connection, 1,000 uncompressed (`idle_1000`) | 25.9 KB | 25.9 KB | 9.3 KB | 12.9 KB | 14.4 KB | |
//! | memory compression adds per connection | **31.0 KB** | 8.4 KB | 258.9 KB | 59.5 KB | 193.3 KB | 0.52 |
//!
//! Server CPU seconds per million round trips: 28.6 for stdws at 200 B
//! (alone 44.4; Node ws 208.1, websockets 84.7, Tornado 155.2), 364 at
//! 16 KiB (434; 892, 448, 635), and 24,915 at 1 MiB (33,265; 32,889,
//! 24,127, 32,600): at a megabyte stdws and `websockets` (zlib, with the
//! same 12-bit window) spend the same, and the echo rows are within a
//! round trip of each other in a 2 s row. The harness measures the echo
//! process, so it has no CPU figure for stdws's broadcast, which runs in
//! the broadcast example's process.
//!
//! Bytes on the wire per message, server to client, over the message's size:
//!
//! | scenario | **stdws** | stdws, alone | Node ws | Python websockets | Tornado |
//! |---|---|---|---|---|---|
//! | 200 B | 0.35 | 0.78 | 0.29 | 0.35 | 0.28 |
//! | 16 KiB | 0.30 | 0.30 | 0.24 | 0.31 | 0.24 |
//! | 1 MiB | 0.30 | 0.24 | 0.24 | 0.30 | 0.24 |
//! | broadcast, 1 KiB | 0.34 | 0.53 | 0.27 | 0.34 | 0.30 |
//!
//! With its context kept, a small message refers back to the previous
//! ones: 200 bytes of JSON travel as 69 (as with `websockets`), where
//! compressed on its own, with little that repeats within itself, it takes
//! 156; a 1 MiB message as 304.8 KiB (`websockets` 310.0). Node `ws` and
//! Tornado write less with their 32 KiB windows, at 8 and 6 times the
//! memory per connection. The codec itself is measured against zlib
//! below.
//!
//! What the kept context costs is the broadcast: each message is
//! compressed once for each receiver, as the peers must, where the server
//! compressing each message on its own compresses it once for all, and
//! sends 4.9 times the deliveries per second (at 0.53 of the size instead
//! of 0.34). An application that mostly broadcasts to many clients can
//! choose that with
//! [`Compression::server_context_takeover`](crate::Compression::server_context_takeover)`(false)`.
//!
//! Compression adds 31.0 KB per connection at the defaults (56.9 - 25.9):
//! the kept compressor (22 KiB at 12 bits: its 4 KiB window with 1 KiB of
//! slack, two 8 KiB hash tables) and the decompressor's 4 KiB window; the
//! rest is the allocator's. Without a kept context it adds 8.4 KB. The
//! stack a compressing worker reaches is no deeper than an uncompressed
//! one's (16 KB each, from `/proc/PID/smaps`): every page of stack a worker
//! ever touched stays resident for its connection's life, so the encoder
//! keeps its frames small (see [`memory`](super::memory#with-compression)).
//! The run before this one (`results/20261203-123708.json`, before the
//! codec's speed-up below) gave 12.7k, 2.5k, 22, 26.6k and 57.3 KB.
//!
//! ```text
//! cargo build --release --examples
//! B=$(mktemp -d)/bench && cp -r ../shared/bench "$B" && "$B/setup.sh"
//! python3 "$B/run.py" --only stdws,raw-tcp,tungstenite,tokio-tungstenite,node-ws --repeat 5 \
//!   --server stdws="$PWD/target/release/examples/echo 127.0.0.1:{port} --quiet & $PWD/target/release/examples/broadcast 127.0.0.1:{port1} --quiet; wait" \
//!   --bcast stdws="ws://127.0.0.1:{port1}/"
//! ```
//!
//! # Compression
//!
//! With `permessage-deflate` (RFC 7692) negotiated, against the three peers
//! of the harness that have it, each at its library's defaults (Node `ws`
//! and Tornado: 15-bit windows both ways, context kept; Python `websockets`:
//! 12-bit windows, context kept), stdws at its own: a context kept for each
//! client, compressed with a 12-bit window, and 12 bits asked of the client
//! (the column `stdws, alone` is the server compressing each message on its
//! own, `--no-context-takeover`, the default before 2026-12-03). One run of
//! the harness's `deflate_*` scenarios in quick mode (2 s per echo row),
//! all five servers in turn, on 2026-12-03 on the 2-core VM (1-minute load
//! average 2.9 at the start; `results/20261203-123708.json`). JSON text of
//! the sizes given, round trips per second (broadcast: deliveries per
//! second):
//!
//! | scenario | **stdws** | stdws, alone | Node ws | Python websockets | Tornado | stdws / best peer |
//! |---|---|---|---|---|---|---|
//! | echo, 64 connections, 200 B | **12.7k** | 14.3k | 5.2k | 5.0k | 4.6k | 2.44 |
//! | echo, 4 connections, 16 KiB | **2.5k** | 1.5k | 788 | 1.2k | 586 | 2.08 |
//! | echo, 1 connection, 1 MiB | **22** | 17 | 15 | 16 | 11 | 1.38 |
//! | broadcast, 1000 receivers x 20 x 1 KiB | **26.6k** | 76.1k | 5.3k | 6.8k | 3.1k | 3.91 |
//! | memory per connection, 1,000 compressed | **57.3 KB** | 35.4 KB | 267.6 KB | 73.1 KB | 203.9 KB | 0.78 |
//! | memory per connection, 1,000 uncompressed (`idle_1000`) | 25.9 KB | 25.9 KB | 9.2 KB | 12.8 KB | 13.9 KB | |
//! | memory compression adds per connection | **31.4 KB** | 9.5 KB | 258.4 KB | 60.3 KB | 190.0 KB | 0.52 |
//!
//! Server CPU seconds per million round trips: 54.3 for stdws at 200 B
//! (alone 47.9; Node ws 248.8, websockets 131.1, Tornado 129.2), 430 at
//! 16 KiB (532; 1,004, 585, 910), and 25,536 at 1 MiB (39,546; 35,790,
//! 27,442, 34,333): a 12-bit window is also a shorter search. The harness
//! measures the echo process, so it has no CPU figure for stdws's
//! broadcast, which runs in the broadcast example's process.
//!
//! Bytes on the wire per message, server to client, over the message's size:
//!
//! | scenario | **stdws** | stdws, alone | Node ws | Python websockets | Tornado |
//! |---|---|---|---|---|---|
//! | 200 B | 0.34 | 0.78 | 0.29 | 0.35 | 0.29 |
//! | 16 KiB | 0.30 | 0.30 | 0.24 | 0.31 | 0.24 |
//! | 1 MiB | 0.30 | 0.24 | 0.24 | 0.30 | 0.24 |
//! | broadcast, 1 KiB | 0.34 | 0.53 | 0.24 | 0.33 | 0.27 |
//!
//! With its context kept, a small message refers back to the previous
//! ones: 200 bytes of JSON travel as 69 (0.34, websockets 0.35), where
//! compressed on its own, with little that repeats within itself, it takes
//! 156. Node `ws` and Tornado do better on small and large messages with
//! their 32 KiB windows, at 8 and 6 times the memory. stdws's own codec
//! is not the difference: on the harness's broadcast messages taken one
//! after another with a 12-bit window it writes 0.8 % less than zlib at
//! the same level (`deflate_bench` below has the wider comparison).
//!
//! What the kept context costs is the broadcast: each message is
//! compressed once for each receiver, as the peers must, where the server
//! compressing each message on its own compresses it once for all, and
//! sends 2.9 times the deliveries per second (at 0.53 of the size instead
//! of 0.34). An application that mostly broadcasts to many clients can
//! choose that with
//! [`Compression::server_context_takeover`](crate::Compression::server_context_takeover)`(false)`.
//!
//! Compression adds 31.4 KB per connection at the defaults (57.3 - 25.9):
//! the kept compressor (22 KiB at 12 bits: its 4 KiB window with 1 KiB of
//! slack, two 8 KiB hash tables) and the decompressor's 4 KiB window; the
//! rest is the allocator's. Without a kept context it adds 9.5 KB. The
//! stack a compressing worker reaches is no deeper than an uncompressed
//! one's (16 KB each, from `/proc/PID/smaps`): every page of stack a worker
//! ever touched stays resident for its connection's life, so the encoder
//! keeps its frames small (see [`memory`](super::memory#with-compression)).
//!
//! ```text
//! cargo build --release --examples
//! B=$(mktemp -d)/bench && cp -r ../shared/bench "$B" && "$B/setup.sh"
//! E=$PWD/target/release/examples
//! python3 "$B/run.py" --quick --only stdws,stdws-alone,node-ws,py-websockets,py-tornado \
//!   --scenarios idle_1000,deflate_echo_64c_json200,deflate_echo_4c_json16KiB,deflate_echo_1c_json1MiB,deflate_bcast_1000r_20m_json,deflate_idle_1000 \
//!   --server stdws="$E/echo 127.0.0.1:{port} --quiet & $E/broadcast 127.0.0.1:{port1} --quiet; wait" \
//!   --bcast stdws="ws://127.0.0.1:{port1}/" \
//!   --server stdws-alone="$E/echo 127.0.0.1:{port} --quiet --no-context-takeover & $E/broadcast 127.0.0.1:{port1} --quiet --no-context-takeover; wait" \
//!   --bcast stdws-alone="ws://127.0.0.1:{port1}/"
//! ```
//!
//! The Autobahn TestSuite's compression cases (12.* and 13.*, 216 cases)
//! are all OK against the echo example at these defaults (26 minutes on
//! the busy machine): `STDWS_AUTOBAHN_ROLES=server .ci/autobahn.sh '12.*,13.*'`.
//! CI runs 168 of them both ways (see `.ci/autobahn.sh`).
//!
//! ## Why the library leaves it off and the echo example turns it on
//!
//! [`ServerBuilder::compression`](crate::server::ServerBuilder::compression)
//! and [`ClientBuilder::compression`](crate::client::ClientBuilder::compression)
//! default to off, because compression is a trade an application should
//! choose: at 10,000 connections its 31.0 KB each adds 310 MB to the
//! 201 MB they hold uncompressed (20.1 KB each, in the first table); a
//! 1 MiB round trip costs the server about 25 ms of a core to inflate and
//! compress at level 6 (24 a second above, where the uncompressed 1 MiB echo of the
//! first table makes 1,441); and inflating is code that a peer's bytes
//! drive, bounded but not free. The echo and broadcast examples turn it on
//! (`--no-compression` turns it off) because every browser offers it, the
//! conformance suites (Autobahn 12.* and 13.*) and the interoperability
//! checks run against them, and for chatty JSON it pays: a third of the
//! bytes for 200-byte messages.
//!
//! ## The codec itself
//!
//! `examples/deflate_bench.rs` measures `stdws::deflate` on its own corpus
//! (5,000 JSON chat messages of about 170 bytes, compressed one at a time
//! with context kept and a sync flush each, as permessage-deflate does;
//! 4 MiB of English-like text; 1 MiB of structured binary), and
//! `tests/data/deflate/zlib_bench.py` measures zlib (1.2.13, through
//! Python's `zlib`) on the same bytes. Same machine, one after the other,
//! the second of two rounds (2026-12-03, 1-minute load average 1.2);
//! compression MB/s of input, ratio (output / input), inflate MB/s of
//! output:
//!
//! | corpus, level | stdws compress | zlib compress | stdws ratio | zlib ratio | stdws inflate | zlib inflate |
//! |---|---|---|---|---|---|---|
//! | chat, 1 | 49.6 | 32.1 | 0.3229 | 0.3391 | 222.6 | 186.3 |
//! | chat, 6 | 26.3 | 17.3 | 0.2903 | 0.2907 | 218.4 | 202.8 |
//! | chat, 9 | 18.7 | 10.5 | 0.2855 | 0.2853 | 228.0 | 196.9 |
//! | text, 1 | 98.2 | 88.0 | 0.3972 | 0.4095 | 348.6 | 222.5 |
//! | text, 6 | 23.0 | 12.5 | 0.3582 | 0.3600 | 394.7 | 225.8 |
//! | text, 9 | 20.8 | 10.1 | 0.3582 | 0.3590 | 381.6 | 233.3 |
//! | binary, 1 | 98.3 | 84.5 | 0.3985 | 0.4039 | 329.4 | 317.2 |
//! | binary, 6 | 47.3 | 34.1 | 0.3822 | 0.3818 | 374.8 | 335.2 |
//! | binary, 9 | 12.8 | 11.4 | 0.3752 | 0.3743 | 377.3 | 342.6 |
//!
//! At level 6 stdws compresses 1.39 (binary) to 1.84 (text) times as fast
//! as zlib, its output within 0.1 % of zlib's size (smaller on chat and
//! text); inflating is 1.08 to 1.75 times zlib's speed (in the first round
//! binary inflated at 0.93 of zlib's, the one figure below it). A chat
//! message takes 3.4 µs at level 1 (zlib 5.3), 6.4 µs at level 6 (9.8)
//! and 9.0 µs at level 9 (16.1), Python's call overhead included in
//! zlib's. What made it so: positions chained by their next four bytes,
//! not three (the chains lose candidates that could not beat a match
//! found already); chains followed by position, one compare per step;
//! table entries older than the window swept out of reach every 16 Ki
//! positions, where they used to wrap round and look near; a dynamic
//! block's codes made only when it is written that way. Short messages
//! inflate from fixed-code tables built once per process, copied into a
//! decoder that frees its tables between messages. State held by the
//! benchmark's codecs after 200 messages: 3,712 bytes for a deflater at 9
//! window bits and 6,848 for an inflater in the middle of a stream; 22,528
//! and 9,792 at 12; 168,960 and 38,464 at 15 (between messages, an
//! inflater holds its window only).
//!
//! ```text
//! cargo run --release --example deflate_bench
//! cargo run --release --example deflate_bench -- --write-corpus target/deflate-corpus
//! python3 tests/data/deflate/zlib_bench.py target/deflate-corpus
//! ```
//!
//! # Reading the figures: rounds, runs and load
//!
//! The medians above are taken per server, over rounds that ran minutes
//! apart. Taken round by round instead (a ratio within one round shares the
//! machine's state), the medians of the per-round ratios of that run are,
//! for throughput, 1.10, 0.97, 1.00, 1.05 and 1.08 (the five echo rows, in
//! order), and for CPU per message 0.89, 1.04, 0.99, 1.02 and 0.97.
//!
//! Single runs are not the last word on this machine. The next run, on the
//! final commit and under heavier load from other tenants (1-minute load
//! average 22 to 42, `results/20261129-045809.json`), put the echo rows at
//! 0.93, 0.98, 0.92, 0.98 and 1.57 (CPU 1.06, 1.05, 1.11, 1.00, 0.68), with
//! one 1-connection round at 0.48. Over all the rounds of the three runs
//! made with the present message path (15 for the 32-byte rows, 10 for the
//! larger ones), the medians of the per-round ratios are 1.054, 1.005,
//! 1.029, 1.040 and 1.345 (CPU 0.985, 1.044, 0.989, 1.011, 0.784).
//!
//! The 64-connection row moves most from round to round: in the table's
//! run its per-round ratios were 0.93, 1.09, 0.77, 0.97 and 1.04.
//!
//! # History: the last change to the hot path
//!
//! Before the last change to the hot path (one clock reading per read
//! instead of two per message, a cheaper mask-key rotation, no 512-byte
//! buffer zeroed per small frame), an echoed 32-byte message cost 1,868
//! user-space instructions under callgrind; after it, 1,714, against 213
//! for the TCP echo. On the 64-connection row, 24 rounds over six runs had
//! a median of 0.94 before (CPU 1.08), and 15 rounds over three runs have a
//! median of 1.005 after (CPU 1.04); a same-run comparison of the two
//! builds gave 0.96 and 1.01 (`results/20261129-040046.json`). The gain is
//! larger than the instructions saved would predict, so take it as the
//! direction, not its size.
//!
//! Both servers make the same system calls per message (one `recvfrom`,
//! one `sendto`, by `strace -c`) and spend about 90 % of their time in the
//! kernel, scheduling 64 threads on two cores that the load generator also
//! uses: on this row the kernel, not the framing, sets the pace.
//!
//! # Why it is about as fast as TCP
//!
//! - One worker thread per connection writes its replies itself: no
//!   hand-off to another thread between reading a message and answering it.
//! - Replies and broadcasts made while more input is already buffered go
//!   out together, one system call per client for a burst (see
//!   [`backpressure`](super::backpressure) for what happens when the client
//!   does not keep up).
//! - A broadcast frame is encoded once and shared by every queue it goes
//!   to (an `Arc<[u8]>`); with compression, it is compressed once per
//!   window size among the receivers.
//! - Large payloads are read straight into their message, up to 256 KiB per
//!   read; a connection holds a 4 KiB read buffer at most when idle.
//! - The echo example passes messages of 128 KiB or more back in parts as
//!   they arrive ([`on_message_part`](crate::server::ServerBuilder::on_message_part),
//!   [`send_part`](crate::server::Connection::send_part)), so a 1 MiB echo
//!   streams like a TCP echo instead of waiting for its last byte; it beats
//!   the harness's TCP echo there because that one reads and writes 64 KiB
//!   at a time.
//!
//! On the 64 KiB row, stdws does two things a TCP echo does not: it unmasks
//! the payload, and it zeroes the space the payload is read into (safe Rust
//! cannot read into uninitialized memory without waiting for the whole
//! read); each takes about 1 µs per 64 KiB at this machine's memory speed
//! (`examples/microbench.rs`: memcpy and unmasking at about 50 GB/s).
//!
//! # The repository's own tools
//!
//! - `examples/loadgen.rs`: echo, broadcast and idle modes, JSON output,
//!   server CPU per message with `--pid`.
//! - `examples/tcp_echo.rs`: a plain TCP echo with stdws's threading
//!   (acceptor, pool, one worker per connection), the physical reference.
//! - `examples/microbench.rs`: the protocol core without sockets, in GB/s
//!   against memcpy.
//!
//! loadgen against the echo example and against `tcp_echo`, three passes
//! taken in turn, median ratios (2026-11-29, same machine, final code):
//!
//! | scenario | stdws / tcp_echo, msg/s | server CPU per message |
//! |---|---|---|
//! | 1 connection, 32 B | 0.96 | 1.07x |
//! | 64 connections, 32 B | 0.89 | 1.15x |
//! | 64 connections x 16 in flight, 32 B | 0.97 | 1.41x |
//! | 4 connections, 64 KiB binary | 0.79 | 1.25x |
//! | 1 connection, 1 MiB binary | 0.76 | 1.04x |
//!
//! A second run right after gave 0.91, 0.94, 1.01, 0.80 and 0.73 (CPU
//! 1.13x, 1.08x, 1.31x, 1.24x, 1.27x). One pass of one row:
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/echo 127.0.0.1:9601 --quiet &
//! target/release/examples/tcp_echo 127.0.0.1:9602 &
//! target/release/examples/loadgen echo --url ws://127.0.0.1:9601/ --conns 64 --size 32 --secs 3 --pid <echo's pid>
//! target/release/examples/loadgen echo --tcp --url ws://127.0.0.1:9602/ --conns 64 --size 32 --secs 3 --pid <tcp_echo's pid>
//! ```
//!
//! These rows are harder on stdws than the harness's: `tcp_echo` answers a
//! pipelined burst of 16 messages with one read and one write of the bytes
//! as they came, where stdws decodes 16 frames and encodes 16 (written with
//! one system call); and loadgen's own WebSocket client masks and parses on
//! the same two cores, which its TCP mode does not (for 1 MiB it masks
//! every byte it sends and reassembles the echo from its parts). They show
//! what framing costs, on both ends, against that bound.
//!
//! # Several nodes
//!
//! What the Redis [`backplane`](crate::backplane) costs: cross-node
//! deliveries per second of three nodes against one node holding the same
//! clients, and the latency it adds. Three runs (60 clients, 3 senders of
//! 2,000 messages of 64 bytes, all three nodes and Redis 7.0 on one shared
//! 2-core machine whose load average was 8 to 11 during the runs, so take
//! the spread as part of the figure):
//!
//! | run | three nodes / one node, deliveries/s | added latency p50 | p99 |
//! |---|---:|---:|---:|
//! | 1 | 1,285,561 / 1,315,095 = 0.98 | 87 µs | 119 µs |
//! | 2 | 1,109,403 / 1,111,849 = 1.00 | 51 µs | 180 µs |
//! | 3 | 647,815 / 776,778 = 0.83 | 66 µs | 1,389 µs |
//!
//! ```text
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run --release --example backplane_bench -- --redis redis://127.0.0.1:6379
//! ```
//!
//! A node's subscriber writes each client's share of what one read from
//! Redis brought in one system call, as a worker does for a burst of its
//! own client's messages: without that, three nodes managed 0.05 of one
//! node.
