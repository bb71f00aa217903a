//! The sans-I/O protocol core: RFC 6455 as pure functions and state machines
//! over byte slices. Nothing below this module touches a socket; the
//! [blocking shell](crate::WebSocket), the [server](crate::server) and the
//! [client](crate::client) feed it bytes and write out what it produces.
//!
//! | concern                        | module          | RFC 6455        |
//! |--------------------------------|-----------------|-----------------|
//! | HTTP heads of the handshake    | [`http`]        | 4.1, 4.2        |
//! | opening handshake rules        | [`handshake`]   | 4, 1.3          |
//! | permessage-deflate negotiation | [`extension`]   | RFC 7692 5, 7.1 |
//! | compressing a message to send  | [`compressor`]  | RFC 7692 7.2.1  |
//! | frame header layout            | [`frame`]       | 5.2             |
//! | masking                        | [`mask`]        | 5.3             |
//! | UTF-8 checks of text           | [`utf8`]        | 5.6, 8.1        |
//! | close codes and payloads       | [`close`]       | 5.5.1, 7.4      |
//! | reading frames into messages   | [`receiver`]    | 5.1-5.6         |
//! | writing frames                 | [`sender`]      | 5.1, 5.3        |
//! | ping/pong answers, closing     | [`session`]     | 5.5, 7          |
//! | the rules and their codes      | [`violation`]   | 7.1.7, 7.4.1    |

pub mod close;
pub mod compressor;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod mask;
pub mod receiver;
pub mod sender;
pub mod session;
pub mod utf8;
pub mod violation;

// Shortcuts: each item's page is in its own module.
#[doc(no_inline)]
pub use receiver::{Limits, Receiver};
#[doc(no_inline)]
pub use sender::{SendError, Sender};
#[doc(no_inline)]
pub use session::{Answer, Event, Session, State};
#[doc(no_inline)]
pub use violation::Violation;

/// Which end of the connection an endpoint is: it decides who masks
/// (section 5.1) and who closes the TCP connection first (section 7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that accepted the connection: receives masked frames,
    /// sends unmasked ones.
    Server,
    /// The endpoint that opened the connection: masks every frame it sends.
    Client,
}
