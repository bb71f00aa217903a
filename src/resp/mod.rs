//! RESP, the Redis serialization protocol, without a socket: commands out,
//! replies and pushes in, and `redis://` URLs.
//!
//! The protocol is specified at
//! <https://redis.io/docs/latest/develop/reference/protocol-spec/> (RESP2
//! and RESP3). stdws speaks it to use Redis as the backplane that joins
//! several servers ([`ServerBuilder::redis`](crate::server::ServerBuilder::redis)),
//! and only as much of it as that needs:
//!
//! - the [`command`] module: a command is an array of bulk strings
//!   (`*<n>\r\n` then `$<len>\r\n<bytes>\r\n` for each argument), the only
//!   form a client may send;
//! - the [`decoder`] module: an incremental decoder of everything a server may send:
//!   RESP2's simple strings (`+`), errors (`-`), integers (`:`), bulk
//!   strings (`$`), arrays (`*`) and their nulls (`$-1`, `*-1`), and
//!   RESP3's null (`_`), booleans (`#`), doubles (`,`), big numbers (`(`),
//!   bulk errors (`!`), verbatim strings (`=`), maps (`%`), sets (`~`) and
//!   pushes (`>`). Input may arrive split at any byte; every length, count
//!   and depth a server announces is checked against [`Limits`] before
//!   anything is allocated for it, so a broken or hostile server gets a
//!   clear [`RespError`], never a panic or unbounded memory;
//! - the [`url`] module: `redis://[user:password@]host[:port][/db]`.
//!
//! ```
//! use stdws::resp::{command, Decoder, Value};
//!
//! let mut out = Vec::new();
//! command::encode(&mut out, &[b"PUBLISH", b"news", b"hi"]);
//! assert_eq!(out, b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
//!
//! let mut decoder = Decoder::default();
//! decoder.feed(b":2\r\n>3\r\n$7\r\nmessage\r\n$4\r\nne")?;
//! assert_eq!(decoder.next()?, Some(Value::Integer(2)));
//! assert_eq!(decoder.next()?, None); // the push is not complete yet
//! decoder.feed(b"ws\r\n$2\r\nhi\r\n")?;
//! assert_eq!(
//!     decoder.next()?,
//!     Some(Value::Push(vec![Value::bulk("message"), Value::bulk("news"), Value::bulk("hi")]))
//! );
//! # Ok::<(), stdws::resp::RespError>(())
//! ```

pub mod command;
pub mod decoder;
pub mod url;

// Shortcuts: each item's page is in its own module.
#[doc(no_inline)]
pub use decoder::{Decoder, Limits, RespError};
#[doc(no_inline)]
pub use url::RedisUrl;

/// One reply or push from a Redis server.
///
/// The nulls of RESP2 (`$-1`, `*-1`) and RESP3's `_` are all [`Value::Null`]:
/// they mean the same thing to a client.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A simple string (`+OK`): a short status, no CR or LF in it.
    Simple(String),
    /// An error (`-ERR ...` or the bulk error `!`): the command failed.
    Error(String),
    /// An integer (`:`).
    Integer(i64),
    /// A bulk string (`$`), binary-safe; a verbatim string (`=`) too, without
    /// its three-letter format.
    Bulk(Vec<u8>),
    /// A null: `$-1`, `*-1` or `_`.
    Null,
    /// A boolean (`#t`, `#f`).
    Boolean(bool),
    /// A double (`,`) or a big number (`(`), as the text the server sent.
    Number(String),
    /// An array (`*`) or a set (`~`).
    Array(Vec<Value>),
    /// A map (`%`), as key and value pairs in the order they came.
    Map(Vec<(Value, Value)>),
    /// An out-of-band push (`>`, RESP3): a pub/sub message, say.
    Push(Vec<Value>),
}

impl Value {
    /// A bulk string holding `bytes`.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Value {
        Value::Bulk(bytes.as_ref().to_vec())
    }

    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The elements of an array or a push: pub/sub messages are arrays in
    /// RESP2 and pushes in RESP3.
    pub fn as_items(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) | Value::Push(items) => Some(items),
            _ => None,
        }
    }

    /// Takes the elements out of an array or a push.
    pub fn into_items(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(items) | Value::Push(items) => Some(items),
            _ => None,
        }
    }
}
