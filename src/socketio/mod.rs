//! Socket.IO v5 over Engine.IO v4: first without the sockets (the
//! Engine.IO transport framing, the Socket.IO packets carried inside it,
//! and the state of an Engine.IO session, as pure functions and a state
//! machine over strings and bytes), then the server on stdws's threads.
//!
//! Socket.IO is two protocols, one inside the other:
//!
//! ```text
//!   application     socket.emit("hey", "Jude")
//!        |
//!   Socket.IO v5    2["hey","Jude"]          packet type, namespace, ack id, JSON
//!        |          (+ binary attachments)   (socket.io-protocol, "Packet encoding")
//!   Engine.IO v4    42["hey","Jude"]         a "message" packet (type 4) wrapping it
//!        |                                   (engine.io-protocol, "Protocol")
//!   transport       one WebSocket frame per packet, or HTTP long-polling
//!                   bodies of packets joined by \x1e (engine.io-protocol,
//!                   "Packet encoding")
//! ```
//!
//! - **Engine.IO** ([`engineio`]) gives a session: a handshake that assigns
//!   a session id (`sid`) and the heartbeat timings, packets of seven types,
//!   two transports (HTTP long-polling, and WebSocket), and an upgrade from
//!   the first to the second in the middle of a session without losing a
//!   packet. [`session`] holds the rules of that session as a state machine
//!   driven by the caller's clock.
//! - **Socket.IO** ([`packet`]) multiplexes that session into namespaces
//!   (`/`, `/admin`, ...) and adds named events with JSON arguments,
//!   acknowledgements, and binary arguments sent as separate attachments.
//!
//! The server side, on top of those:
//!
//! | concept                                         | module        |
//! |-------------------------------------------------|---------------|
//! | Engine.IO sessions on both transports, heartbeat, raw [`engine::EngineIo`] | [`engine`] |
//! | HTTP long-polling requests                      | `polling`     |
//! | Socket.IO namespaces, connect, dispatch, [`SocketIo`] | [`server`] |
//! | a namespace's handlers and rooms                | [`namespace`] |
//! | one socket, acks, broadcasts                    | [`socket`]    |
//! | connection state recovery (parked sockets, the broadcast log) | `recovery` |
//! | broadcasts across servers through Redis, in `@socket.io/redis-adapter`'s format | `adapter` |
//! | requests between the nodes (`fetchSockets`, `serverSideEmit`, ...), in the same adapter's format | `cluster` |
//!
//! With [`ServerBuilder::redis`](crate::server::ServerBuilder::redis), every
//! broadcast (`io.emit`, `to(room).emit`, `socket.broadcast().emit`) reaches
//! the sockets of every node that shares the Redis, stdws's or Node's
//! `socket.io` with `@socket.io/redis-adapter`, and a Node service with
//! `@socket.io/redis-emitter` reaches stdws's sockets; a node delivers to
//! its own sockets at once and ignores its own publications. The adapter's
//! requests cross nodes too, both ways ([`Broadcast::fetch_sockets`],
//! [`Broadcast::sockets_join`], [`Broadcast::disconnect`],
//! [`SocketIo::server_side_emit`], [`Broadcast::emit_with_ack`]; see
//! [several servers as one](server#several-servers-as-one)), and a client
//! whose session a stdws node parked is restored by whichever stdws node it
//! comes back to (connection data excepted).
//!
//! The specifications, read for this module:
//!
//! - Engine.IO protocol, version 4:
//!   <https://github.com/socketio/engine.io-protocol> (its README is the
//!   specification; sections "Transports", "Protocol", "Packet encoding").
//! - Socket.IO protocol, version 5:
//!   <https://github.com/socketio/socket.io-protocol> (sections "Exchange
//!   protocol", "Packet encoding", "Sample session").
//!
//! Where the specifications are silent (error codes of the handshake, the
//! number of packets in a polling payload, the attachment limit), the
//! choices follow the official server and are documented where they are
//! made. JSON is [`crate::json`].

mod adapter;
mod cluster;
pub mod engine;
pub mod engineio;
pub mod namespace;
pub mod packet;
mod polling;
mod recovery;
pub mod server;
pub mod session;
pub mod socket;

// Shortcuts: each item's page is in its own module.
#[doc(no_inline)]
pub use namespace::Namespace;
#[doc(no_inline)]
pub use packet::Data;
#[doc(no_inline)]
pub use server::{SocketIo, SocketIoBuilder};
#[doc(no_inline)]
pub use socket::{
    Ack, AckError, Broadcast, ClusterError, DisconnectReason, RemoteSocket, ServerAck, Socket,
};
