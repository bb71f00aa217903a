//! Platforms: where stdws runs.
//!
//! | platform | status |
//! |---|---|
//! | Linux | supported, and where everything is tested: CI, the Autobahn TestSuite, the interoperability and browser tests, the measurements of these pages (Debian 12, x86-64) |
//! | macOS, FreeBSD, OpenBSD, NetBSD | supported: stdws uses only `std` and Unix device files that these systems have; not run in CI |
//! | Windows | not supported |
//! | `wasm32` | not supported: there are no blocking sockets or threads to run on |
//!
//! The minimum Rust version is 1.85 (edition 2024).
//!
//! # What stdws needs from the system
//!
//! - **`/dev/urandom`**, for the bytes RFC 6455 asks to be unpredictable:
//!   every client's masking keys (section 5.3, read in batches so a frame
//!   costs no system call) and handshake keys (section 4.1), and the ids of
//!   the Socket.IO server and the Redis backplane. This is what rules
//!   Windows out: there is no such file, so every client handshake fails
//!   with an [`Error::Io`](crate::Error::Io) that names `/dev/urandom`.
//!   stdws draws on no other source (a clock or a seeded generator would
//!   let a script predict the bytes on the wire, which masking exists to
//!   prevent).
//! - **Blocking sockets and threads** from `std::net` and `std::thread`: one
//!   thread per connection, so the system's limits on threads and file
//!   descriptors bound the number of connections (see
//!   [`memory`](super::memory)).
//! - **`/dev/null`**, kept open as a spare descriptor so that a server out
//!   of descriptors can still answer `503`; without it the server works,
//!   but such clients wait for their own timeout.
//! - **`/proc/self/limits`**, on Linux only, for
//!   [`open_file_limit`](crate::server::open_file_limit); elsewhere it
//!   returns `None`.
//!
//! TLS is not in stdws on any platform: bring a TLS stream from the crate
//! of your choice ([`ClientBuilder::connect_on`](crate::ClientBuilder::connect_on),
//! [`accept`](crate::accept)).
