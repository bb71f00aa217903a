//! The two ways to write a server: a [`Handler`] per connection (as in
//! Tornado's `WebSocketHandler`), or three closures shared by all connections
//! (as in Python's `websocket-server`).
//!
//! Both run on the connection's worker thread, one call at a time, in the
//! order things happened on the wire. A handler may block (it holds up only
//! its own connection) and may send to any connection.

use std::sync::Arc;

use super::Connection;
use crate::message::{DataMessage, MessagePart};
use crate::protocol::close::CloseCode;

/// Why and how a connection ended, as passed to [`Handler::on_close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// The close code: the peer's when it closed first (1005 if its close
    /// frame had none), this side's when it closed first or failed the
    /// connection, 1006 when the connection ended without a closing handshake.
    pub code: CloseCode,
    /// The reason that came with the code, or a description of what ended
    /// the connection.
    pub reason: String,
    /// Whether the peer started the close.
    pub by_peer: bool,
    /// Whether both close frames were exchanged (a browser's `wasClean`).
    pub was_clean: bool,
}

impl Disconnect {
    pub(crate) fn new(
        code: CloseCode,
        reason: impl Into<String>,
        by_peer: bool,
        was_clean: bool,
    ) -> Self {
        Disconnect {
            code,
            reason: reason.into(),
            by_peer,
            was_clean,
        }
    }

    /// A connection that ended without a closing handshake (code 1006).
    pub(crate) fn abnormal(reason: impl Into<String>) -> Self {
        Disconnect::new(CloseCode::ABNORMAL, reason, true, false)
    }
}

/// What a server does with one connection. A new handler is made for each
/// connection, so per-connection state lives in its fields.
///
/// ```
/// use stdws::server::{Connection, Disconnect, Handler};
/// use stdws::DataMessage;
///
/// /// Echoes messages and counts them.
/// struct Counter {
///     seen: usize,
/// }
///
/// impl Handler for Counter {
///     fn on_open(&mut self, conn: &Connection) {
///         let _ = conn.send_text("welcome");
///     }
///     fn on_message(&mut self, conn: &Connection, message: DataMessage) {
///         self.seen += 1;
///         let _ = conn.send(message);
///     }
///     fn on_close(&mut self, conn: &Connection, why: &Disconnect) {
///         println!("client {} left after {} messages ({})", conn.id(), self.seen, why.code);
///     }
/// }
///
/// let server = stdws::Server::builder().handler(|| Counter { seen: 0 });
/// # drop(server);
/// ```
pub trait Handler {
    /// The handshake is complete; the connection is open and registered.
    fn on_open(&mut self, conn: &Connection) {
        let _ = conn;
    }

    /// A text or binary message arrived.
    fn on_message(&mut self, conn: &Connection, message: DataMessage);

    /// The size from which this handler takes a message in parts, as its
    /// bytes arrive, at [`on_message_part`](Self::on_message_part) instead of
    /// whole at [`on_message`](Self::on_message). `None`, the default: every
    /// message whole. Asked once, when the connection opens.
    ///
    /// Parts let a handler start on a large message before all of it has
    /// arrived (forward it, write it to a file, echo it) and hold only a part
    /// of it in memory; the message size limit still applies to the whole.
    fn message_parts_from(&self) -> Option<usize> {
        None
    }

    /// A part of a message of at least
    /// [`message_parts_from`](Self::message_parts_from) bytes arrived. The
    /// parts of a message come in order, from the one marked `first` to the
    /// one marked `last`. A handler that asks for parts implements this; the
    /// default drops them.
    fn on_message_part(&mut self, conn: &Connection, part: MessagePart) {
        let _ = (conn, part);
    }

    /// A pong arrived (the answer to a ping, or an unsolicited heartbeat).
    fn on_pong(&mut self, conn: &Connection, payload: &[u8]) {
        let _ = (conn, payload);
    }

    /// The connection ended. It has left the registry and its rooms; sends
    /// to it fail.
    fn on_close(&mut self, conn: &Connection, why: &Disconnect) {
        let _ = (conn, why);
    }
}

/// Makes a handler for each new connection.
pub(crate) type HandlerFactory = Arc<dyn Fn() -> Box<dyn Handler> + Send + Sync>;

/// Wraps a factory of a concrete handler type.
pub(crate) fn factory<H, F>(make: F) -> HandlerFactory
where
    H: Handler + 'static,
    F: Fn() -> H + Send + Sync + 'static,
{
    Arc::new(move || Box::new(make()) as Box<dyn Handler>)
}

type OnConnect = dyn Fn(&Connection) + Send + Sync;
type OnMessage = dyn Fn(&Connection, DataMessage) + Send + Sync;
type OnDisconnect = dyn Fn(&Connection, &Disconnect) + Send + Sync;
type OnMessagePart = dyn Fn(&Connection, MessagePart) + Send + Sync;

/// Closures shared by every connection: the callback style of a server.
#[derive(Clone, Default)]
pub(crate) struct Callbacks {
    pub(crate) on_connect: Option<Arc<OnConnect>>,
    pub(crate) on_message: Option<Arc<OnMessage>>,
    pub(crate) on_disconnect: Option<Arc<OnDisconnect>>,
    pub(crate) on_message_part: Option<(usize, Arc<OnMessagePart>)>,
}

impl Callbacks {
    // Each setter returns whether it replaced a closure set before: the
    // endpoint turns that into a setup error, since the first would never run.
    pub(crate) fn set_on_connect(
        &mut self,
        f: impl Fn(&Connection) + Send + Sync + 'static,
    ) -> bool {
        self.on_connect.replace(Arc::new(f)).is_some()
    }

    pub(crate) fn set_on_message(
        &mut self,
        f: impl Fn(&Connection, DataMessage) + Send + Sync + 'static,
    ) -> bool {
        self.on_message.replace(Arc::new(f)).is_some()
    }

    pub(crate) fn set_on_disconnect(
        &mut self,
        f: impl Fn(&Connection, &Disconnect) + Send + Sync + 'static,
    ) -> bool {
        self.on_disconnect.replace(Arc::new(f)).is_some()
    }

    pub(crate) fn set_on_message_part(
        &mut self,
        from: usize,
        f: impl Fn(&Connection, MessagePart) + Send + Sync + 'static,
    ) -> bool {
        self.on_message_part.replace((from, Arc::new(f))).is_some()
    }

    pub(crate) fn into_factory(self) -> HandlerFactory {
        let shared = Arc::new(self);
        Arc::new(move || Box::new(CallbackHandler(Arc::clone(&shared))) as Box<dyn Handler>)
    }
}

struct CallbackHandler(Arc<Callbacks>);

impl Handler for CallbackHandler {
    fn on_open(&mut self, conn: &Connection) {
        if let Some(f) = &self.0.on_connect {
            f(conn);
        }
    }

    fn on_message(&mut self, conn: &Connection, message: DataMessage) {
        if let Some(f) = &self.0.on_message {
            f(conn, message);
        }
    }

    fn message_parts_from(&self) -> Option<usize> {
        self.0.on_message_part.as_ref().map(|(from, _)| *from)
    }

    fn on_message_part(&mut self, conn: &Connection, part: MessagePart) {
        if let Some((_, f)) = &self.0.on_message_part {
            f(conn, part);
        }
    }

    fn on_close(&mut self, conn: &Connection, why: &Disconnect) {
        if let Some(f) = &self.0.on_disconnect {
            f(conn, why);
        }
    }
}
