//! The client registry: every open connection of a server, by id, and the
//! rooms they belong to. Shared by all workers and by the application
//! behind one mutex.
//!
//! The lock is held only to read or change the maps, never while writing to
//! a socket: a broadcast takes a snapshot of its receivers (a shared list,
//! rebuilt only after the set of clients changes) and sends after releasing
//! the lock, through each connection's [outbound queue](super::outbound).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::shared::ConnShared;
use super::sync::lock;
use crate::error::Error;

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Arc<ConnShared>>,
    rooms: HashMap<String, HashSet<u64>>,
    rooms_of: HashMap<u64, BTreeSet<String>>,
    per_ip: HashMap<IpAddr, usize>,
    /// Every client, for broadcasts; `None` after a change.
    snapshot: Option<Arc<[Arc<ConnShared>]>>,
}

/// The registry of one server's clients.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    /// Signalled whenever a client leaves (graceful shutdown waits on it).
    left: Condvar,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Counts a new TCP connection from `ip` against the per-address limit;
    /// `false` if the limit is reached (the caller refuses the connection).
    pub(crate) fn admit_address(&self, ip: IpAddr, limit: Option<usize>) -> bool {
        let mut inner = self.lock();
        let count = inner.per_ip.entry(ip).or_insert(0);
        if limit.is_some_and(|max| *count >= max) {
            return false;
        }
        *count += 1;
        true
    }

    /// Releases a connection counted by [`admit_address`](Self::admit_address).
    pub(crate) fn release_address(&self, ip: IpAddr) {
        let mut inner = self.lock();
        if let Some(count) = inner.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                inner.per_ip.remove(&ip);
            }
        }
    }

    pub(crate) fn insert(&self, conn: Arc<ConnShared>) {
        let mut inner = self.lock();
        inner.clients.insert(conn.id, conn);
        inner.snapshot = None;
    }

    /// Removes a client and takes it out of all its rooms.
    pub(crate) fn remove(&self, id: u64) {
        let mut inner = self.lock();
        if inner.clients.remove(&id).is_some() {
            inner.snapshot = None;
        }
        if let Some(rooms) = inner.rooms_of.remove(&id) {
            for room in rooms {
                if let Some(members) = inner.rooms.get_mut(&room) {
                    members.remove(&id);
                    if members.is_empty() {
                        inner.rooms.remove(&room);
                    }
                }
            }
        }
        drop(inner);
        self.left.notify_all();
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<ConnShared>> {
        self.lock().clients.get(&id).cloned()
    }

    /// Every client, as a shared list that stays valid after the lock is released.
    pub(crate) fn all(&self) -> Arc<[Arc<ConnShared>]> {
        let mut inner = self.lock();
        if let Some(snapshot) = &inner.snapshot {
            return Arc::clone(snapshot);
        }
        let mut list: Vec<Arc<ConnShared>> = inner.clients.values().cloned().collect();
        list.sort_by_key(|c| c.id);
        let snapshot: Arc<[Arc<ConnShared>]> = list.into();
        inner.snapshot = Some(Arc::clone(&snapshot));
        snapshot
    }

    pub(crate) fn count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Puts client `id` in `room`, within `caps` (room names come from
    /// clients, and each is stored twice until the client leaves).
    pub(crate) fn join(&self, id: u64, room: &str, caps: RoomCaps) -> Result<(), Error> {
        if room.len() > caps.max_name_len {
            return Err(Error::RoomRefused(format!(
                "a room name of {} bytes is over the limit of {} (max_room_name_len)",
                room.len(),
                caps.max_name_len
            )));
        }
        let mut inner = self.lock();
        if !inner.clients.contains_key(&id) {
            return Err(Error::NoSuchClient(id));
        }
        let count = inner.rooms_of.get(&id).map_or(0, |r| r.len());
        let already = inner.rooms_of.get(&id).is_some_and(|r| r.contains(room));
        if !already && count >= caps.max_rooms {
            return Err(Error::RoomRefused(format!(
                "client {id} is in {count} rooms already, the limit (max_rooms_per_connection)"
            )));
        }
        inner.rooms.entry(room.to_owned()).or_default().insert(id);
        inner
            .rooms_of
            .entry(id)
            .or_default()
            .insert(room.to_owned());
        Ok(())
    }

    /// Takes client `id` out of `room`; `false` if it was not in it.
    pub(crate) fn leave(&self, id: u64, room: &str) -> bool {
        let mut inner = self.lock();
        let was_in = inner.rooms.get_mut(room).is_some_and(|m| m.remove(&id));
        if inner.rooms.get(room).is_some_and(|m| m.is_empty()) {
            inner.rooms.remove(room);
        }
        if let Some(rooms) = inner.rooms_of.get_mut(&id) {
            rooms.remove(room);
            if rooms.is_empty() {
                inner.rooms_of.remove(&id);
            }
        }
        was_in
    }

    /// The members of `room`.
    pub(crate) fn room(&self, room: &str) -> Vec<Arc<ConnShared>> {
        let inner = self.lock();
        let Some(members) = inner.rooms.get(room) else {
            return Vec::new();
        };
        let mut list: Vec<Arc<ConnShared>> = members
            .iter()
            .filter_map(|id| inner.clients.get(id).cloned())
            .collect();
        list.sort_by_key(|c| c.id);
        list
    }

    /// The rooms client `id` is in, sorted.
    pub(crate) fn rooms_of(&self, id: u64) -> Vec<String> {
        self.lock()
            .rooms_of
            .get(&id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every room with at least one member, sorted.
    pub(crate) fn room_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().rooms.keys().cloned().collect();
        names.sort();
        names
    }

    /// Waits until no client is left or `deadline` passes; `true` if none is left.
    pub(crate) fn wait_until_empty(&self, deadline: Instant) -> bool {
        let mut inner = self.lock();
        loop {
            if inner.clients.is_empty() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            inner = self
                .left
                .wait_timeout(inner, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Internal counts for leak checks: clients, rooms, addresses.
    pub(crate) fn sizes(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        (
            inner.clients.len(),
            inner.rooms.len() + inner.rooms_of.len(),
            inner.per_ip.len(),
        )
    }
}

/// Bounds on the rooms one client can make the server remember.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoomCaps {
    pub(crate) max_rooms: usize,
    pub(crate) max_name_len: usize,
}

impl Default for RoomCaps {
    fn default() -> Self {
        RoomCaps {
            max_rooms: 100,
            max_name_len: 256,
        }
    }
}
