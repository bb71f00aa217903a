//! Namespaces (socket.io-protocol, "Exchange protocol", "Connection to a
//! namespace"): the handlers of one namespace, and who is in which of its
//! rooms.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use super::packet::Data;
use super::socket::{Ack, DisconnectReason, ServerAck, Socket};
use crate::json::Value;

pub(crate) type ConnectFn = Arc<dyn Fn(&Socket, &Value) -> Result<(), String> + Send + Sync>;
pub(crate) type EventFn = Arc<dyn Fn(&Socket, Vec<Data>, Ack) + Send + Sync>;
pub(crate) type DisconnectFn = Arc<dyn Fn(&Socket, &DisconnectReason) + Send + Sync>;
pub(crate) type ServerEventFn = Arc<dyn Fn(Vec<Data>, ServerAck) + Send + Sync>;

/// The handlers of one namespace: who may connect, what each event does,
/// and what happens when a socket leaves.
///
/// | JavaScript (`socket.io`)                  | Python (`python-socketio`)                | stdws |
/// |-------------------------------------------|-------------------------------------------|-------|
/// | `io.of("/x").use((s, next) => ...)` + `on("connection", s => ...)` | `@sio.on("connect", namespace="/x") def f(sid, environ, auth)` | [`on_connect`](Self::on_connect)`(\|socket, auth\| Ok(()))` |
/// | `socket.on("ev", (a, b, cb) => ...)`      | `@sio.on("ev") def f(sid, a, b)` (return value acks) | [`on`](Self::on)`("ev", \|socket, args, ack\| ...)` |
/// | `socket.on("disconnect", reason => ...)`  | `@sio.on("disconnect") def f(sid, reason)` | [`on_disconnect`](Self::on_disconnect) |
///
/// ```
/// use stdws::socketio::{Data, Namespace};
/// let chat = Namespace::new()
///     .on_connect(|socket, auth| match auth.get("token").and_then(|t| t.as_str()) {
///         Some("s3cret") => Ok(()),
///         _ => Err("unauthorized".into()),
///     })
///     .on("hello", |socket, args, ack| {
///         let name = args.first().and_then(Data::as_str).unwrap_or("stranger");
///         let _ = socket.emit("greeting", [Data::from(format!("hello, {name}"))]);
///         ack.send([Data::from(true)]);
///     })
///     .on_disconnect(|socket, reason| println!("{} left: {reason}", socket.id()));
/// # drop(chat);
/// ```
#[derive(Clone, Default)]
pub struct Namespace {
    pub(crate) on_connect: Option<ConnectFn>,
    pub(crate) events: HashMap<String, EventFn>,
    pub(crate) on_disconnect: Option<DisconnectFn>,
    pub(crate) server_events: HashMap<String, ServerEventFn>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut events: Vec<&String> = self.events.keys().collect();
        events.sort();
        f.debug_struct("Namespace")
            .field("events", &events)
            .finish()
    }
}

impl Namespace {
    /// A namespace that accepts everyone and handles no event.
    pub fn new() -> Namespace {
        Namespace::default()
    }

    /// Decides whether a socket may join, from its `auth` payload (`{}` if
    /// the client sent none) and its handshake
    /// ([`Socket::handshake`]): `Err(message)` refuses it with
    /// `CONNECT_ERROR {"message": message}`. Events the socket emits here
    /// are sent right after the accepting `CONNECT`.
    pub fn on_connect(
        mut self,
        f: impl Fn(&Socket, &Value) -> Result<(), String> + Send + Sync + 'static,
    ) -> Namespace {
        self.on_connect = Some(Arc::new(f));
        self
    }

    /// Handles the event `name`: the handler gets the arguments and an
    /// [`Ack`] to answer with, if the client asked for an answer.
    pub fn on(
        mut self,
        name: &str,
        f: impl Fn(&Socket, Vec<Data>, Ack) + Send + Sync + 'static,
    ) -> Namespace {
        self.events.insert(name.to_owned(), Arc::new(f));
        self
    }

    /// Handles the event `name` that another node of the cluster sent
    /// with [`SocketIo::server_side_emit`](super::SocketIo::server_side_emit)
    /// (`io.on("name", (...args, callback) => ..)` for `io.serverSideEmit`
    /// in JavaScript): the handler gets the arguments and a [`ServerAck`]
    /// to answer with one value, if the sender asked for one. It runs on
    /// the Redis backplane's thread: keep it short (hand long work to a
    /// thread of your own); the answer may be sent later, from any thread.
    pub fn on_server_side_emit(
        mut self,
        name: &str,
        f: impl Fn(Vec<Data>, ServerAck) + Send + Sync + 'static,
    ) -> Namespace {
        self.server_events.insert(name.to_owned(), Arc::new(f));
        self
    }

    /// Called when a socket has left the namespace, with the reason.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(&Socket, &DisconnectReason) + Send + Sync + 'static,
    ) -> Namespace {
        self.on_disconnect = Some(Arc::new(f));
        self
    }
}

/// The sockets of one namespace and its rooms. Every socket is also in the
/// room named by its id, as in Socket.IO.
#[derive(Default)]
pub(crate) struct Members {
    pub(crate) sockets: BTreeMap<String, Socket>,
    rooms: HashMap<String, BTreeSet<String>>,
    rooms_of: HashMap<String, BTreeSet<String>>,
}

impl Members {
    pub(crate) fn insert(&mut self, socket: Socket) {
        let id = socket.id().to_owned();
        self.sockets.insert(id.clone(), socket);
        self.join(&id, &id.clone());
    }

    /// Removes a socket from the namespace and all its rooms.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Socket> {
        for room in self.rooms_of.remove(id).unwrap_or_default() {
            if let Some(members) = self.rooms.get_mut(&room) {
                members.remove(id);
                if members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
        self.sockets.remove(id)
    }

    pub(crate) fn join(&mut self, id: &str, room: &str) {
        if !self.sockets.contains_key(id) {
            return;
        }
        self.rooms
            .entry(room.to_owned())
            .or_default()
            .insert(id.to_owned());
        self.rooms_of
            .entry(id.to_owned())
            .or_default()
            .insert(room.to_owned());
    }

    pub(crate) fn leave(&mut self, id: &str, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
        if let Some(rooms) = self.rooms_of.get_mut(id) {
            rooms.remove(room);
        }
    }

    /// The names of the rooms that have members (socket ids included).
    pub(crate) fn room_names(&self) -> Vec<String> {
        self.rooms.keys().cloned().collect()
    }

    pub(crate) fn rooms_of(&self, id: &str) -> Vec<String> {
        self.rooms_of
            .get(id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The sockets in any of `rooms` (all, if `rooms` is empty), but those
    /// in `except`, by id order.
    pub(crate) fn select(&self, rooms: &[String], except: &[String]) -> Vec<Socket> {
        let excluded: BTreeSet<&String> = except
            .iter()
            .flat_map(|room| self.rooms.get(room).into_iter().flatten())
            .collect();
        let chosen: Vec<&String> = if rooms.is_empty() {
            self.sockets.keys().collect()
        } else {
            let set: BTreeSet<&String> = rooms
                .iter()
                .flat_map(|room| self.rooms.get(room).into_iter().flatten())
                .collect();
            set.into_iter().collect()
        };
        chosen
            .into_iter()
            .filter(|id| !excluded.contains(id))
            .filter_map(|id| self.sockets.get(id).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_forgotten_with_their_last_member() {
        let mut members = Members::default();
        members.rooms.entry("r".into()).or_default();
        members.leave("nobody", "r");
        assert!(members.rooms.get("r").is_none_or(|m| m.is_empty()));
        assert!(members.select(&["r".into()], &[]).is_empty());
    }
}
