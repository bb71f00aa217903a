//! Topic pages: how stdws behaves under load and at its limits, with the
//! numbers measured and the commands that measured them.
//!
//! The rest of the documentation says what each item does; these pages say
//! what it costs and why it is built that way, one topic a page, as the
//! topic pages of Python's `websockets` do. This module holds no code.
//!
//! | page | what it answers |
//! |---|---|
//! | [`performance`] | how fast, against plain TCP and other libraries; how it was measured; how to reproduce it |
//! | [`memory`] | what one connection holds, idle and busy, with and without compression; how many connections fit |
//! | [`keepalive`] | how dead peers are found, what to set behind a proxy |
//! | [`backpressure`] | what happens when a client reads slower than the server sends |
//! | [`limits`] | every bound on what a peer can make the server hold, and its default |
//! | [`platforms`] | where stdws runs: Linux, macOS and the BSDs, not Windows |
//!
//! The four ways in (a callback server, a handler server, a client, named
//! events) are on the [crate's front page](crate); the protocol itself, step
//! by step, is there too.
//!
//! Figures here come from a 2-core Linux VM (Firecracker, Debian 12, Rust
//! 1.95) shared by the load generator and the server, and by other tenants:
//! absolute numbers on such a machine move by about 20 % from round to
//! round, so read the ratios.

pub mod backpressure;
pub mod keepalive;
pub mod limits;
pub mod memory;
pub mod performance;
pub mod platforms;
