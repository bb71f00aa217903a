//! Limits: every bound on what a peer can make stdws hold or wait for,
//! with its default. The defaults are chosen for a server on the open
//! internet.
//!
//! # Server
//!
//! All are settings of [`ServerBuilder`](crate::server::ServerBuilder):
//!
//! | setting | default | what it protects against, and what the peer sees |
//! |---|---|---|
//! | [`workers`](crate::server::ServerBuilder::workers) | 1,024 | a flood of connections: one worker thread each from a pool of this size; beyond it, `503 Service Unavailable` with `Retry-After` at once, never a silent hang |
//! | [`max_connections_per_ip`](crate::server::ServerBuilder::max_connections_per_ip) | a quarter of the workers, loopback exempt | one address taking every worker: `429` |
//! | [`handshake_timeout`](crate::server::ServerBuilder::handshake_timeout) | 10 s | clients that connect and never finish the handshake, or trickle it byte by byte (slowloris): counted from the TCP connect |
//! | [`max_head_size`](crate::server::ServerBuilder::max_head_size) / [`max_headers`](crate::server::ServerBuilder::max_headers) | 8 KiB / 100 | oversized handshakes: `431` |
//! | [`allowed_origins`](crate::server::ServerBuilder::allowed_origins) | the server's own origin, and clients that send no `Origin` | cross-site WebSocket hijacking by other web pages: `403` |
//! | [`max_message_size`](crate::server::ServerBuilder::max_message_size) / [`max_frame_size`](crate::server::ServerBuilder::max_frame_size) | 1 MiB | huge messages: close 1009 as soon as a header announces too much, before any of it is buffered |
//! | [`max_queued_bytes`](crate::server::ServerBuilder::max_queued_bytes) / [`slow_client_policy`](crate::server::ServerBuilder::slow_client_policy) | 1 MiB / disconnect | slow consumers: close 1008, or the message dropped for that client ([`backpressure`](super::backpressure)) |
//! | [`memory_budget`](crate::server::ServerBuilder::memory_budget) | a quarter of the machine's memory | all clients together at their limits: a large message arriving refused with 1013, the largest queues cut with 1013 ([`memory`](super::memory)) |
//! | [`write_timeout`](crate::server::ServerBuilder::write_timeout) | 5 s | a client that stops reading holding a worker or a queue |
//! | [`ping_interval`](crate::server::ServerBuilder::ping_interval) / [`ping_timeout`](crate::server::ServerBuilder::ping_timeout) | 20 s / 20 s | dead peers holding workers: close 1011 ([`keepalive`](super::keepalive)) |
//! | [`idle_timeout`](crate::server::ServerBuilder::idle_timeout) | off | clients that send no message (off: a push-only page is idle by design): close 1001 |
//! | [`close_timeout`](crate::server::ServerBuilder::close_timeout) | 5 s | peers that never answer a close frame |
//! | [`max_rooms_per_connection`](crate::server::ServerBuilder::max_rooms_per_connection) / [`max_room_name_len`](crate::server::ServerBuilder::max_room_name_len) | 100 / 256 bytes | clients making the server remember rooms without bound: [`Error::RoomRefused`](crate::Error::RoomRefused) to the handler |
//!
//! Limits in bytes count memory, bookkeeping included, not only payload;
//! what each connection holds within them is on the [`memory`](super::memory)
//! page. Connections that end in any way (reset, EOF mid-frame,
//! half-close, timeout) leave no registry entry, thread or descriptor
//! behind: `tests/leaks.rs` checks this over 10,000 such connections. A
//! panic in a handler closes its connection with 1011; the worker survives
//! and the pool keeps its size.
//!
//! # Client and any stream
//!
//! [`ClientBuilder`](crate::ClientBuilder) and
//! [`WebSocketConfig`](crate::WebSocketConfig) have the same message and
//! frame limits (1 MiB); `WebSocketConfig` has the head limits too, for
//! [`accept`](crate::accept). A client has no timeouts by
//! default (a server that never answers blocks it forever): set
//! [`connect_timeout`](crate::ClientBuilder::connect_timeout),
//! [`read_timeout`](crate::ClientBuilder::read_timeout) and
//! [`write_timeout`](crate::ClientBuilder::write_timeout) for anything
//! unattended. The body of a refused handshake is kept up to 64 KiB, for
//! the error message.
//!
//! # Checked how
//!
//! `tests/limits_and_timeouts.rs` and `tests/robustness.rs` check each limit
//! over real sockets; `cargo run --release --example chaos -- --secs 60`
//! runs hostile and well-behaved clients against one server and then checks
//! that the honest ones were served and nothing leaked; `cargo run
//! --release --example fuzz -- --secs 60` feeds mutated input to every
//! decoder of peer bytes and checks that none panics and memory stays
//! bounded.
