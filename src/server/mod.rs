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
//! | the descriptor limit, a spare one    | `descriptors`     |
//! | the client's address behind proxies  | `forwarded`       |
//! | the fixed thread pool                | `pool`            |
//! | one connection's life                | `worker`          |
//! | routing and the handshake hook       | [`router`]        |
//! | HTTP services, kept-alive connections | `keepalive`      |
//! | `Handler` and callbacks              | [`handler`]       |
//! | the connection handle                | [`connection`]    |
//! | what a connection's threads share    | `shared`          |
//! | the send side's rules (socket-free)  | `queue`           |
//! | the send side's writes               | `outbound`        |
//! | a worker's batched sends             | `batch`           |
//! | the client registry and rooms        | `registry`        |
//! | the housekeeper's list               | `backlog`         |
//! | keepalive, timeouts, queue draining  | `housekeeper`     |
//! | locks that survive a panic           | `sync`            |
//! | the server handle and shutdown       | [`handle`]        |
//! | named events (Socket.IO's style)     | [`events`]        |
//!
//! # Coming from another library
//!
//! | Python `websocket-server` | Tornado `WebSocketHandler` | Socket.IO server | stdws |
//! |---|---|---|---|
//! | `WebsocketServer(host, port)` | `Application([(r"/ws", H)])` | `new Server(port)` | [`Server::builder()`](Server::builder)`.route("/ws", ..).bind(addr)` |
//! | `run_forever()` / `(threaded=True)` | `IOLoop.current().start()` | `listen()` | [`run()`](Server::run) / [`spawn()`](Server::spawn) |
//! | `set_fn_new_client(f)` | `open()` | `io.on("connection", f)` | [`on_connect`](ServerBuilder::on_connect) / [`Handler::on_open`] |
//! | `set_fn_message_received(f)` | `on_message(msg)` | `socket.on("event", f)` | [`on_message`](ServerBuilder::on_message) / [`Handler::on_message`] / [`Events::on`] |
//! | `set_fn_client_left(f)` | `on_close()`, `close_code`, `close_reason` | `socket.on("disconnect", f)` | [`on_disconnect`](ServerBuilder::on_disconnect) / [`Handler::on_close`] with [`Disconnect`] |
//! | | `on_pong(data)` | | [`Handler::on_pong`] |
//! | `send_message(client, msg)` | `write_message(msg, binary)` | `socket.emit("event", data)` | [`Connection::send`], [`send_text`](Connection::send_text), [`send_binary`](Connection::send_binary), [`emit`](Connection::emit) |
//! | `send_message_to_all(msg)` | (loop over your handlers) | `io.emit(..)`, `socket.broadcast.emit(..)` | [`ServerHandle::broadcast`], [`Connection::broadcast_others`], [`ServerHandle::emit`] |
//! | | | `socket.join(room)`, `io.to(room).emit(..)` | [`Connection::join`], [`ServerHandle::broadcast_room`], [`ServerHandle::emit_to_room`] |
//! | `client["id"]`, `client["address"]`, `clients` | `self.request` | `socket.id`, `socket.handshake` | [`Connection::id`], [`peer_addr`](Connection::peer_addr), [`client_addr`](Connection::client_addr) (behind [`trusted_proxies`](ServerBuilder::trusted_proxies)), [`request`](Connection::request), [`ServerHandle::clients`] |
//! | | `close(code, reason)` | `socket.disconnect()` | [`Connection::close`] |
//! | | `ping(data)`, `websocket_ping_interval`, `websocket_ping_timeout` | `pingInterval`, `pingTimeout` | [`Connection::ping`], [`ping_interval`](ServerBuilder::ping_interval), [`ping_timeout`](ServerBuilder::ping_timeout) |
//! | | `check_origin(origin)` | `cors`, `allowRequest` | [`allowed_origins`](ServerBuilder::allowed_origins), [`on_handshake`](ServerBuilder::on_handshake) |
//! | | `select_subprotocol(protocols)` | | [`Endpoint::subprotocols`], [`Handshake::select_subprotocol`] |
//! | | `websocket_max_message_size` | `maxHttpBufferSize` | [`max_message_size`](ServerBuilder::max_message_size) |
//! | `deny_new_connections()`, `allow_new_connections()` | | | the same names on [`ServerHandle`] |
//! | `shutdown_gracefully()`, `shutdown_abruptly()` | | `close()` | [`ServerHandle::shutdown`], [`ServerHandle::shutdown_now`], [`ServerHandle::drain`] (1012, for restarts behind a balancer) |
//! | | | `io.adapter(createAdapter(pub, sub))` (Redis adapter) | [`redis(url)`](ServerBuilder::redis): see [`crate::backplane`] |

mod acceptor;
mod backlog;
mod batch;
pub mod builder;
pub mod connection;
mod descriptors;
pub mod events;
mod forwarded;
pub mod handle;
pub mod handler;
mod housekeeper;
mod hub;
mod keepalive;
mod outbound;
mod pool;
mod queue;
mod registry;
pub mod router;
mod shared;
mod sync;
mod worker;

pub use crate::backplane::BackplaneStats;
pub use builder::{Server, ServerBuilder};
pub use connection::{BroadcastReport, ClientInfo, Connection};
pub use descriptors::open_file_limit;
pub use events::{Events, event};
pub use handle::{DrainReport, ServerHandle, ServerStats};
pub use handler::{Disconnect, Handler};
pub use queue::SlowClientPolicy;
pub use router::{Endpoint, Handshake};
