//! # stdws
//!
//! A WebSocket ([RFC 6455](https://www.rfc-editor.org/rfc/rfc6455)) server
//! and client on blocking `std::net` I/O, with no dependencies beyond
//! `sha1_smol` and `base64`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod error;
pub mod message;
pub mod protocol;
mod random;
pub mod split;
pub mod trace;
pub mod url;
pub mod websocket;

pub use client::{ClientBuilder, connect};
pub use error::{Error, Result};
pub use message::Message;
pub use protocol::Role;
pub use protocol::close::{CloseCode, CloseFrame};
pub use trace::Tracer;
pub use websocket::{WebSocket, WebSocketConfig, accept, accept_with_config};
pub mod server;
pub use server::{Connection, Server, ServerHandle};
