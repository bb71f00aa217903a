//! The server: a blocking acceptor, a fixed pool of worker threads, and a
//! shared registry of clients.
//!
//! The [crate's front page](crate) starts a server in each of its three
//! styles (callbacks, a [`Handler`] per connection, named [`Events`]); the
//! [`guide`](crate::guide) has what the server costs and how it bounds what
//! clients can make it hold. Below: how it is put together, and the calls
//! of other libraries next to stdws's.
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
//! Each concept has a module of its own. Most are private (their rules
//! show through the public items of the third column); the public ones
//! hold the items that the [`server`](self) module re-exports.
//!
//! | concept | module | what you use of it |
//! |---|---|---|
//! | settings, endpoints, `bind`/`run` | `builder` | [`ServerBuilder`], [`Server`] |
//! | what every thread of a server shares | `hub` | (internal) |
//! | accepting and refusing connections | `acceptor` | [`workers`](ServerBuilder::workers) (503 past it), [`max_connections_per_ip`](ServerBuilder::max_connections_per_ip) (429), [`deny_new_connections`](ServerHandle::deny_new_connections) |
//! | the descriptor limit, a spare one | `descriptors` | [`open_file_limit`] |
//! | the fixed thread pool | `pool` | [`workers`](ServerBuilder::workers), [`worker_stack_size`](ServerBuilder::worker_stack_size) |
//! | one connection's life | `worker` | the [`Handler`] methods, in order; [`handshake_timeout`](ServerBuilder::handshake_timeout), [`max_message_size`](ServerBuilder::max_message_size) |
//! | routing and the handshake hook | `router` | [`Endpoint`], [`Handshake`], [`route`](ServerBuilder::route), [`on_handshake`](ServerBuilder::on_handshake), [`allowed_origins`](ServerBuilder::allowed_origins) |
//! | HTTP services, kept-alive connections | `keepalive` | [`http`](ServerBuilder::http), [`http_service`](ServerBuilder::http_service) |
//! | `Handler` and callbacks | `handler` | [`Handler`], [`Disconnect`], [`on_message`](ServerBuilder::on_message) and the other callbacks |
//! | the connection handle | `connection` | [`Connection`], [`ClientInfo`], [`BroadcastReport`] |
//! | what a connection's threads share | `shared` | (internal) |
//! | the send side's rules (socket-free) | `queue` | [`SlowClientPolicy`], [`max_queued_bytes`](ServerBuilder::max_queued_bytes); see [`guide::backpressure`](crate::guide::backpressure) |
//! | the send side's writes | `outbound` | [`write_timeout`](ServerBuilder::write_timeout), [`Connection::send`] |
//! | a worker's batched sends | `batch` | [`Connection::flush`] |
//! | the client registry and rooms | `registry` | [`Connection::join`], [`ServerHandle::room_members`], [`ServerHandle::clients`], [`max_rooms_per_connection`](ServerBuilder::max_rooms_per_connection) |
//! | the housekeeper's list | `backlog` | (internal) |
//! | keepalive, timeouts, queue draining | `housekeeper` | [`ping_interval`](ServerBuilder::ping_interval), [`ping_timeout`](ServerBuilder::ping_timeout), [`idle_timeout`](ServerBuilder::idle_timeout), [`close_timeout`](ServerBuilder::close_timeout); see [`guide::keepalive`](crate::guide::keepalive) |
//! | locks that survive a panic | `sync` | (internal) |
//! | the server handle and shutdown | `handle` | [`ServerHandle`], [`ServerStats`], [`shutdown`](ServerHandle::shutdown) |
//! | named events (Socket.IO's style) | `events` | [`Events`], [`event`], [`Endpoint::events`] |
//! | several servers as one, through Redis | [`backplane`](crate::backplane) | [`redis`](ServerBuilder::redis), [`BackplaneStats`] |
//!
//! # Coming from another library
//!
//! | Python `websocket-server` | Tornado `WebSocketHandler` | Socket.IO server | stdws |
//! |---|---|---|---|
//! | `WebsocketServer(host, port)` | `Application([(r"/ws", H)])` | `new Server(port)` | [`Server::builder()`](Server::builder), [`.route("/ws", ..)`](ServerBuilder::route), [`.bind(addr)`](ServerBuilder::bind) |
//! | `run_forever()` / `(threaded=True)` | `IOLoop.current().start()` | `listen()` | [`run()`](Server::run) / [`spawn()`](Server::spawn) |
//! | `set_fn_new_client(f)` | `open()` | `io.on("connection", f)` | [`on_connect`](ServerBuilder::on_connect) / [`Handler::on_open`] |
//! | `set_fn_message_received(f)` | `on_message(msg)` | `socket.on("event", f)` | [`on_message`](ServerBuilder::on_message) / [`Handler::on_message`] / [`Events::on`] |
//! | `set_fn_client_left(f)` | `on_close()`, `close_code`, `close_reason` | `socket.on("disconnect", f)` | [`on_disconnect`](ServerBuilder::on_disconnect) / [`Handler::on_close`] with [`Disconnect`] |
//! | | `on_pong(data)` | | [`Handler::on_pong`] |
//! | | | `io.of("/chat")` (namespaces) | [`route`](ServerBuilder::route) with [`Endpoint::handler`], [`Endpoint::callbacks`] or [`Endpoint::events`] |
//! | `send_message(client, msg)` | `write_message(msg, binary)` | `socket.emit("event", data)` | [`Connection::send`], [`send_text`](Connection::send_text), [`send_binary`](Connection::send_binary), [`emit`](Connection::emit) |
//! | `send_message_to_all(msg)` | (loop over your handlers) | `io.emit(..)`, `socket.broadcast.emit(..)` | [`ServerHandle::broadcast`], [`Connection::broadcast_except`], [`ServerHandle::broadcast_event`] |
//! | | | `socket.join(room)`, `io.to(room).emit(..)` | [`Connection::join`], [`ServerHandle::broadcast_room`], [`ServerHandle::broadcast_event_room`] |
//! | `client["id"]`, `client["address"]`, `clients` | `self.request` | `socket.id`, `socket.handshake` | [`Connection::id`], [`peer_addr`](Connection::peer_addr), [`client_addr`](Connection::client_addr) (behind [`trusted_proxies`](ServerBuilder::trusted_proxies)), [`request`](Connection::request), [`ServerHandle::clients`] |
//! | | `close(code, reason)` | `socket.disconnect()` | [`Connection::close`] |
//! | | `ping(data)`, `websocket_ping_interval`, `websocket_ping_timeout` | `pingInterval`, `pingTimeout` | [`Connection::ping`], [`ping_interval`](ServerBuilder::ping_interval), [`ping_timeout`](ServerBuilder::ping_timeout) |
//! | | `check_origin(origin)` | `cors`, `allowRequest` | [`allowed_origins`](ServerBuilder::allowed_origins), [`on_handshake`](ServerBuilder::on_handshake), [`Endpoint::on_handshake`] |
//! | | `select_subprotocol(protocols)` | | [`Endpoint::subprotocols`], [`Handshake::select_subprotocol`] |
//! | | `websocket_max_message_size` | `maxHttpBufferSize` | [`max_message_size`](ServerBuilder::max_message_size) |
//! | `deny_new_connections()`, `allow_new_connections()` | | | [`ServerHandle::deny_new_connections`], [`ServerHandle::allow_new_connections`] |
//! | `shutdown_gracefully()`, `shutdown_abruptly()` | | `close()` | [`ServerHandle::shutdown`], [`ServerHandle::shutdown_now`], [`ServerHandle::drain`] (1012, for restarts behind a balancer) |
//! | | | `io.adapter(createAdapter(pub, sub))` (Redis adapter) | [`redis(url)`](ServerBuilder::redis): see [`crate::backplane`] |
//!
//! Each item has one public path: the modules behind them are private.
//!
//! ```compile_fail
//! let _ = stdws::server::builder::Server::builder();
//! ```

mod acceptor;
mod backlog;
mod batch;
mod budget;
mod builder;
mod connection;
mod descriptors;
mod events;
mod forwarded;
mod handle;
mod handler;
mod housekeeper;
mod hub;
mod keepalive;
mod outbound;
mod pool;
mod queue;
mod registry;
mod router;
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
