//! Memory: what one connection holds, idle and busy, and how many
//! connections one process can hold.
//!
//! # An idle connection: about 20 KB
//!
//! | server | resident memory per idle connection, 10,000 held |
//! |---|---|
//! | plain TCP echo, a thread per connection | 21.0 KB |
//! | **stdws** (the echo example) | **20.1 KB** |
//! | tungstenite | 151.6 KB |
//! | tokio-tungstenite | 134.7 KB |
//! | Node `ws` | 6.1 KB |
//!
//! Measured with the harness run of the [`performance`](super::performance)
//! page (its idle scenario reads the server's `VmRSS` from
//! `/proc/PID/status` before and after opening the connections); stdws held
//! the 10,000 connections with 10,003 threads. The repository's own load
//! generator measures the same thing:
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/echo 127.0.0.1:9601 --quiet &
//! target/release/examples/loadgen idle --url ws://127.0.0.1:9601/ --conns 10000 --hold 5 --pid $!
//! ```
//!
//! Where the 20 KB go: each connection has a worker thread of its own (see
//! the [server's diagram](crate::server)), whose stack is *reserved*
//! ([`worker_stack_size`](crate::server::ServerBuilder::worker_stack_size),
//! 256 KiB by default) but costs only the pages a handler touches; the
//! kernel's own bookkeeping for a thread and a socket; and a read buffer of
//! at most 4 KiB while the connection is idle. stdws's figure is the plain
//! TCP server's, which has the same threading: at rest, what the WebSocket
//! adds to a connection is small next to its thread.
//!
//! # A busy connection: bounded by settings
//!
//! What a peer can make a connection hold grows only up to limits, each a
//! setting with a default (all of them are on the [`limits`](super::limits)
//! page):
//!
//! - a message being received: its payload, never more than
//!   [`max_message_size`](crate::server::ServerBuilder::max_message_size)
//!   (1 MiB), refused with 1009 as soon as a frame header announces more;
//!   however many fragments it comes in, what is held stays proportional to
//!   the payload. A header that announces a large frame reserves at most
//!   1 MiB up front; the rest grows as the bytes actually arrive.
//! - what other threads queued for it (broadcasts, sends by id):
//!   [`max_queued_bytes`](crate::server::ServerBuilder::max_queued_bytes)
//!   (1 MiB), counted as memory (wire bytes plus bookkeeping), not just
//!   payload; see [`backpressure`](super::backpressure).
//! - a [`WebSocket`](crate::WebSocket)'s send buffer (a client masks into
//!   it) is kept between messages up to 4 MiB, and released after a larger
//!   message.
//!
//! # All connections together: the memory budget
//!
//! The limits above bound one client; thousands of workers multiply them
//! (1,024 workers x 1 MiB arriving + 1 MiB queued is 2 GiB). One setting
//! bounds the sum:
//! [`memory_budget`](crate::server::ServerBuilder::memory_budget), by
//! default a quarter of the machine's memory (`/proc/meminfo`), at least
//! 64 MiB. Messages still arriving and outbound queues are charged to it
//! as they grow (the queue's own count, bookkeeping included; a message's
//! buffer by its capacity). Past it, a message of 64 KiB or more still
//! arriving is refused with close 1013 (try again later: the message is
//! fine, the server is full), smaller ones pass, and the housekeeper cuts
//! the largest outbound queues, with 1013, until what remains fits.
//! [`ServerStats::memory_held`](crate::server::ServerStats::memory_held)
//! is the count now, [`ServerStats::over_budget`](crate::server::ServerStats::over_budget)
//! the connections it closed; `tests/memory_budget.rs` drives both rules.
//!
//! `tests/send_path.rs` checks these bounds under attack (a flood of pings
//! in the middle of a message, a message echoed in one-byte parts, clients
//! that stop reading), by the server's own count of the bytes it holds.
//!
//! # With compression
//!
//! With [`compression`](crate::server::ServerBuilder::compression) on, at
//! the defaults, the server keeps a compressor for each client that allows
//! it (browsers and the common libraries do), with a 2<sup>12</sup>-byte
//! window, and each connection has its decompressor:
//!
//! | what | held between messages |
//! |---|---|
//! | the kept compressor, 12 window bits (the default) | 22 KiB: the 4 KiB window, 1 KiB of slack, two 8 KiB hash tables |
//! | the kept compressor, 15 window bits (`Compression::window_bits(15)`) | 165 KiB |
//! | the decompressor, when the client offers `client_max_window_bits` (browsers do) and the server asks for 2<sup>12</sup> | 4,096 bytes: the window and nothing else |
//! | the decompressor, without `client_max_window_bits`: a 32 KiB window | 32 KiB |
//! | the decompressor, with `client_no_context_takeover` | nothing (dropped after each message) |
//!
//! With [`server_context_takeover`](crate::Compression::server_context_takeover)`(false)`
//! the server compresses each message on its own and holds no compressor
//! per connection: at most 8 compressors exist, shared by all threads (a
//! ninth message to compress at the same moment waits for one).
//!
//! Three things keep the idle figure at the window: the decompressor frees
//! its decode tables when a message ends (each block brings its own codes),
//! the receiver frees its scratch for masked input, and the compressor
//! trims its symbol buffer. A fourth is the stack: with a thread per
//! connection, every page of stack a worker ever touched stays resident,
//! so the compress path is kept as shallow as the uncompressed one (the
//! Huffman code lengths are computed in place in one array; the session
//! runs beside the handshake's frame, not below it). Measured from
//! `/proc/PID/smaps`: 16 KB of stack per worker with or without
//! compression, where it was 32 KB with.
//!
//! The decompressor's row is the receiver's test, which checks it:
//!
//! ```text
//! cargo test --lib an_idle_connection_holds_one_small_window -- --nocapture
//! ```
//!
//! Measured from outside, with the shared harness's `deflate_idle_1000`
//! (1,000 connections, each after one 4 KiB JSON message each way), the
//! echo example's resident memory is 56.9 KB per connection at the
//! defaults and 34.3 KB without a kept context, against 25.9 KB
//! uncompressed: compression adds 31.0 KB and 8.4 KB. Python `websockets`
//! 72.4 KB (59.5 added), Node `ws` 268.2 KB (258.9 added), Tornado
//! 207.7 KB (193.3 added), in the same run; see
//! [`performance`](super::performance#compression).
//!
//! # How many connections fit in one process
//!
//! A thread per connection means the system's limits on threads apply. On
//! the machines these figures come from, `kernel.pid_max` is 32,768 (every
//! thread takes a pid), `vm.max_map_count` 65,530 (each thread stack takes
//! two mappings) and a process may open 20,000 files: one process serves up
//! to about 30,000 connections once those are raised, and 10,000 with room
//! to spare. Each connection also takes a file descriptor: size
//! [`workers`](crate::server::ServerBuilder::workers) to the descriptor
//! limit ([`open_file_limit`](crate::server::open_file_limit) reads it on
//! Linux); when descriptors run out anyway, the acceptor answers `503` with
//! a descriptor it keeps in reserve rather than leaving clients hanging.
//! Beyond one process, run several behind a load balancer, joined through
//! Redis ([`backplane`](crate::backplane)).
