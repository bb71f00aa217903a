//! Connection state recovery, as Socket.IO 4.6 has it: a client whose
//! connection was lost and that comes back within a window, with the `pid`
//! its CONNECT was answered with and the offset of the last broadcast it
//! got, gets its socket id, rooms and data back and the broadcasts it
//! missed replayed.
//!
//! ```text
//!   CONNECT answered {"sid", "pid"}; each broadcast EVENT carries an offset as its last argument
//!   transport lost / ping timeout --> parked: id, rooms, data, until now + window
//!   CONNECT {"pid", "offset"} in time, offset still in the log --> restored, missed broadcasts replayed
//!   anything else (late, unknown pid, offset dropped from the log) --> a new socket
//! ```
//!
//! Memory: the log holds the last `max_packets` broadcasts of the server
//! (encoded, with the rooms they went to), and at most `max_parked`
//! disconnected sockets wait, the oldest dropped first. A namespace
//! disconnect, from either side, parks nothing.

use std::any::Any;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::engineio;

/// The settings of recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) window: Duration,
    pub(crate) max_packets: usize,
    pub(crate) max_parked: usize,
}

/// One broadcast, as logged for replay.
struct Logged {
    offset: String,
    namespace: String,
    rooms: Vec<String>,
    except: Vec<String>,
    packets: Vec<engineio::Packet>,
}

/// A socket whose connection was lost, waiting to be restored.
pub(crate) struct Parked {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) rooms: Vec<String>,
    pub(crate) data: Option<Arc<dyn Any + Send + Sync>>,
    until: Instant,
}

/// What a restored socket gets back.
pub(crate) struct Restored {
    pub(crate) parked: Parked,
    pub(crate) missed: Vec<Vec<engineio::Packet>>,
}

/// The log and the parked sockets of one server.
pub(crate) struct Recovery {
    settings: Settings,
    next_offset: u64,
    log: VecDeque<Logged>,
    parked: HashMap<String, Parked>,
    parked_order: VecDeque<String>,
}

impl Recovery {
    pub(crate) fn new(settings: Settings) -> Recovery {
        Recovery {
            settings,
            next_offset: 0,
            log: VecDeque::new(),
            parked: HashMap::new(),
            parked_order: VecDeque::new(),
        }
    }

    /// An offset for the next broadcast.
    pub(crate) fn next_offset(&mut self) -> String {
        self.next_offset = self.next_offset.wrapping_add(1);
        format!("{:x}", self.next_offset)
    }

    /// Logs a broadcast (its packets carry `offset` already).
    pub(crate) fn log(
        &mut self,
        offset: String,
        namespace: &str,
        rooms: &[String],
        except: &[String],
        packets: Vec<engineio::Packet>,
    ) {
        if self.settings.max_packets == 0 {
            return;
        }
        while self.log.len() >= self.settings.max_packets {
            self.log.pop_front();
        }
        self.log.push_back(Logged {
            offset,
            namespace: namespace.to_owned(),
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            packets,
        });
    }

    /// Parks a socket whose connection was lost, under its `pid`.
    pub(crate) fn park(
        &mut self,
        pid: String,
        id: String,
        namespace: &str,
        rooms: Vec<String>,
        data: Option<Arc<dyn Any + Send + Sync>>,
        now: Instant,
    ) {
        if self.settings.max_parked == 0 {
            return;
        }
        while self.parked.len() >= self.settings.max_parked {
            let Some(oldest) = self.parked_order.pop_front() else {
                break;
            };
            self.parked.remove(&oldest);
        }
        let until = now + self.settings.window;
        self.parked_order.push_back(pid.clone());
        self.parked.insert(
            pid,
            Parked {
                id,
                namespace: namespace.to_owned(),
                rooms,
                data,
                until,
            },
        );
    }

    /// Restores the socket parked under `pid` in `namespace`, if it is
    /// there in time and `offset` is still in the log.
    pub(crate) fn restore(
        &mut self,
        pid: &str,
        offset: &str,
        namespace: &str,
        now: Instant,
    ) -> Option<Restored> {
        let fits = self
            .parked
            .get(pid)
            .is_some_and(|p| p.namespace == namespace && now < p.until);
        if !fits {
            return None;
        }
        let at = self.log.iter().position(|l| l.offset == offset)?;
        let parked = self.parked.remove(pid)?;
        self.parked_order.retain(|p| p != pid);
        let mut rooms: BTreeSet<&String> = parked.rooms.iter().collect();
        rooms.insert(&parked.id);
        let missed = self
            .log
            .iter()
            .skip(at + 1)
            .filter(|l| l.namespace == namespace)
            .filter(|l| l.rooms.is_empty() || l.rooms.iter().any(|r| rooms.contains(r)))
            .filter(|l| !l.except.iter().any(|r| rooms.contains(r)))
            .map(|l| l.packets.clone())
            .collect();
        Some(Restored { parked, missed })
    }

    /// Forgets the parked sockets whose window has passed; returns when the
    /// next one will.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Instant> {
        self.parked.retain(|_, p| now < p.until);
        let parked = &self.parked;
        self.parked_order.retain(|pid| parked.contains_key(pid));
        self.parked.values().map(|p| p.until).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            window: Duration::from_secs(60),
            max_packets: 3,
            max_parked: 2,
        }
    }

    fn message(text: &str) -> Vec<engineio::Packet> {
        vec![engineio::Packet::Message(text.into())]
    }

    #[test]
    fn a_restored_socket_gets_the_broadcasts_after_its_offset_that_it_would_have_got() {
        let t0 = Instant::now();
        let mut recovery = Recovery::new(settings());
        let first = recovery.next_offset();
        recovery.log(first.clone(), "/", &[], &[], message("a"));
        recovery.park("p".into(), "s1".into(), "/", vec!["r".into()], None, t0);
        let second = recovery.next_offset();
        recovery.log(second, "/", &["r".into()], &[], message("b"));
        let third = recovery.next_offset();
        recovery.log(third, "/", &["other".into()], &[], message("c"));
        let fourth = recovery.next_offset();
        recovery.log(fourth, "/", &[], &["s1".into()], message("d"));
        // The log holds 3: "a" is gone, and with it the offset.
        assert!(recovery.restore("p", &first, "/", t0).is_none());
        let mut recovery = Recovery::new(settings());
        let first = recovery.next_offset();
        recovery.log(first.clone(), "/", &[], &[], message("a"));
        recovery.park("p".into(), "s1".into(), "/", vec!["r".into()], None, t0);
        let second = recovery.next_offset();
        recovery.log(second, "/", &["r".into()], &[], message("b"));
        let third = recovery.next_offset();
        recovery.log(third, "/", &[], &["s1".into()], message("d"));
        let restored = recovery.restore("p", &first, "/", t0).unwrap();
        assert_eq!(restored.parked.id, "s1");
        assert_eq!(restored.missed, vec![message("b")]);
        // Restored once only.
        assert!(recovery.restore("p", &first, "/", t0).is_none());
    }

    #[test]
    fn parked_sockets_expire_and_are_bounded() {
        let t0 = Instant::now();
        let mut recovery = Recovery::new(settings());
        let offset = recovery.next_offset();
        recovery.log(offset.clone(), "/", &[], &[], message("a"));
        for pid in ["p1", "p2", "p3"] {
            recovery.park(pid.into(), pid.into(), "/", Vec::new(), None, t0);
        }
        assert!(
            recovery.restore("p1", &offset, "/", t0).is_none(),
            "dropped first"
        );
        assert!(
            recovery.restore("p2", &offset, "/x", t0).is_none(),
            "other namespace"
        );
        let late = t0 + Duration::from_secs(61);
        assert_eq!(recovery.expire(late), None);
        assert!(recovery.restore("p3", &offset, "/", late).is_none());
    }
}
