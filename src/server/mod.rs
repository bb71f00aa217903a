//! The server: a blocking acceptor, a fixed pool of worker threads, and a
//! shared registry of clients.
//!
//! ```text
//!                        +-----------+   one connection per worker,
//!   TcpListener -------> | acceptor  |-- from handshake to close
//!                        +-----------+         |
//!                              | full: 503     v
//!                              v        +-------------+      +-------------+
//!                        refused        | worker pool |----->| Handler /   |
//!                                       | (fixed size)|      | callbacks   |
//!                                       +-------------+      +-------------+
//!                                              |  register        |  send / broadcast
//!                                              v                  v
//!   application ---- ServerHandle ------> +-----------+    +-----------------+
//!   (any thread)     broadcast, send_to   | registry  |--->| outbound queue  |--> socket
//!                                         | (mutex)   |    | per connection  |
//!                                         +-----------+    +-----------------+
//!                                                                  ^
//!                              housekeeper: drains queues, pings,  |
//!                              enforces timeouts ------------------+
//! ```
//!
//! | concept                              | module            |
//! |--------------------------------------|-------------------|
//! | settings, endpoints, `bind`/`run`    | [`builder`]       |
//! | accepting and refusing connections   | `acceptor`        |
//! | the fixed thread pool                | `pool`            |
//! | one connection's life                | `worker`          |
//! | routing and the handshake hook       | [`router`]        |
//! | `Handler` and callbacks              | [`handler`]       |
//! | the connection handle                | [`connection`]    |
//! | per-connection outbound queues       | [`outbound`]      |
//! | the client registry and rooms        | `registry`        |
//! | keepalive, timeouts, queue draining  | `housekeeper`     |
//! | the server handle and shutdown       | [`handle`]        |

mod acceptor;
pub mod builder;
pub mod connection;
pub mod events;
pub mod handle;
pub mod handler;
mod housekeeper;
mod hub;
pub mod outbound;
mod pool;
mod registry;
pub mod router;
mod worker;

pub use builder::{Server, ServerBuilder};
pub use connection::{BroadcastReport, ClientInfo, Connection};
pub use events::{Events, event};
pub use handle::{ServerHandle, ServerStats};
pub use handler::{Disconnect, Handler};
pub use outbound::SlowClientPolicy;
pub use router::{Endpoint, Handshake};
