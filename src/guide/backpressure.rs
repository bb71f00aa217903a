//! Backpressure: what happens when a client reads slower than the server
//! sends to it.
//!
//! # The rule: a broadcast never waits on a client
//!
//! [`ServerHandle::broadcast`](crate::ServerHandle::broadcast), room
//! messages and sends by id from any thread never block on a client's
//! socket. Each connection has an outbound queue; a send writes what the
//! socket takes at once and queues the rest, and the housekeeper drains
//! queues as their sockets make room (within about a millisecond, backing
//! off to 20 ms while a client reads nothing). So one client on a slow
//! phone line costs the others nothing: the broadcast rows of the
//! [`performance`](super::performance) page (785.1k deliveries per second
//! to 100 receivers, 199.1k to 1,000) come from this path.
//!
//! A queue is bounded. Past
//! [`max_queued_bytes`](crate::server::ServerBuilder::max_queued_bytes)
//! (1 MiB by default), the
//! [`slow_client_policy`](crate::server::ServerBuilder::slow_client_policy)
//! applies:
//!
//! | [`SlowClientPolicy`](crate::server::SlowClientPolicy) | what happens | what a send by id returns |
//! |---|---|---|
//! | `Disconnect` (default) | the client is closed with 1008 (policy violation) | [`Error::QueueFull`](crate::Error::QueueFull) `{ disconnected: true }` |
//! | `DropMessage` | this message is dropped for this client only; the connection stays | [`Error::QueueFull`](crate::Error::QueueFull) `{ disconnected: false }` |
//!
//! A broadcast reports, for this node's clients, how many were sent to and
//! how many were dropped or disconnected
//! ([`BroadcastReport`](crate::server::BroadcastReport)). Disconnecting is the
//! default because a client that misses messages silently is usually worse
//! than one that reconnects and catches up; choose `DropMessage` for data
//! where only the latest value matters (prices, positions).
//!
//! The limit counts memory, not payload: each queued frame is charged its
//! wire length plus its bookkeeping, from when it is queued until its last
//! byte is written (a flood of tiny frames cannot hide behind a small byte
//! count). A single message larger than the limit is still accepted into an
//! empty queue, so a large message is never refused only for its size.
//!
//! # A client that stops reading altogether
//!
//! [`write_timeout`](crate::server::ServerBuilder::write_timeout) (5 s)
//! bounds both ways a client can hold the server up by not reading: a
//! worker's own write (a handler's reply) waits at most this long, and a
//! queue that makes no progress for this long gets its client disconnected.
//! The connection's own frames (its handler's replies, pongs, close
//! answers) do not count against `max_queued_bytes`: they are written
//! blocking, bounded by the write timeout, which is the backpressure a
//! handler feels. Pongs to a flood of pings are merged (RFC 6455 section
//! 5.5.3 lets a pong answer only the latest ping), so a client cannot grow
//! the server's memory by pinging without reading: in `tests/send_path.rs`,
//! 100,000 pings in the middle of a message cost one pong.
//!
//! # Order and batching
//!
//! A client's frames go out whole, never interleaved, and in each sending
//! thread's order; a message sent in parts
//! ([`Connection::send_part`](crate::server::Connection::send_part)) is not
//! interleaved with anything but control frames. When a handler replies
//! while more input is already buffered, the replies are batched into one
//! system call; batching for one client never delays another. The
//! send side's rules live in one socket-free type with a unit test per
//! transition; `tests/send_path.rs` checks them over real sockets with fast,
//! slow and stalled readers at once.
//!
//! # The client side
//!
//! A [`WebSocket`](crate::WebSocket) writes blocking: a send returns once the
//! kernel took the frame, and a server that stops reading blocks the
//! client's sends; bound them with
//! [`ClientBuilder::write_timeout`](crate::ClientBuilder::write_timeout). To
//! read while a send is blocked (a server that pushes and reads at once
//! needs it), [`split`](crate::WebSocket::split) the connection: the reader
//! keeps answering pings even while the writer waits.
