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
//!
//! # Across nodes
//!
//! With a Redis backplane, a client may come back to another node than the
//! one that parked it. A `pid` names its node (`<node uid>.<random>`), so
//! node B, not holding the pid, asks on the cluster's request channel
//! (a stdws-only request, [`cluster`](super::cluster)); node A, the owner,
//! answers with the socket's id, rooms and the broadcasts of *its* log
//! after the offset, and forgets the session (or answers that it has none).
//! B restores the socket with those, then replays from its own log what A
//! could not have had, so that each broadcast arrives once and in order.
//! Redis delivers every publication to every subscriber in one order, and
//! the request R is one of them:
//!
//! ```text
//!   B's own broadcasts       logged after B queued R   (published after R: A lacks them)
//!   other nodes' broadcasts  logged after B heard R    (published after R: A lacks them)
//!   A's broadcasts           logged after A's answer   (A logged them after answering)
//! ```
//!
//! The pid stays the client's (the official client takes a socket as
//! recovered only if the CONNECT answer repeats its pid), so after a
//! handover the node the pid names stays silent about it, and the node that
//! holds it answers.
//!
//! A node logs and queues each broadcast, and picks its receivers, under
//! one lock that restoring takes too (and A takes while it answers), so
//! that no broadcast falls between the log and the live socket. If A does
//! not answer within a bound, or B's log has dropped what it would
//! replay, the client gets a new socket. Connection data (`Socket::data`,
//! any Rust type) stays on A: a socket restored on B has none. After a
//! restore on B, the client's last offset may be one of A's: B takes it
//! as its own log's position at the restore, once.

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
    seq: u64,
    offset: String,
    /// The node it came from (`None`: this one).
    origin: Option<String>,
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
    /// An offset of another node's log that stands for `.1` in this one's
    /// (the socket was restored here from another node).
    pub(crate) alias: Option<(String, u64)>,
    until: Instant,
}

/// What a restored socket gets back.
pub(crate) struct Restored {
    pub(crate) parked: Parked,
    pub(crate) missed: Vec<Vec<engineio::Packet>>,
    /// The offset of the last broadcast in `missed` (the one asked for if
    /// none): the client's position once they are sent.
    pub(crate) last_offset: String,
}

/// Where node B's log stood at the steps of a restore from node A (see
/// [across nodes](self#across-nodes)).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marks {
    /// When B queued the request.
    pub(crate) queued: u64,
    /// When B heard its own request back.
    pub(crate) heard: u64,
    /// When A's answer arrived.
    pub(crate) answered: u64,
}

/// The log and the parked sockets of one server.
pub(crate) struct Recovery {
    settings: Settings,
    /// Ends each offset: offsets of different nodes never collide (a
    /// client may bring one node's offset to another).
    tag: String,
    next_offset: u64,
    log: VecDeque<Logged>,
    parked: HashMap<String, Parked>,
    parked_order: VecDeque<String>,
    /// Sessions handed over to another node, until their window ends: the
    /// node that holds them now answers for them.
    handed: VecDeque<(String, Instant)>,
}

impl Recovery {
    pub(crate) fn new(settings: Settings, tag: &str) -> Recovery {
        Recovery {
            settings,
            tag: tag.to_owned(),
            next_offset: 0,
            log: VecDeque::new(),
            parked: HashMap::new(),
            parked_order: VecDeque::new(),
            handed: VecDeque::new(),
        }
    }

    /// An offset for the next broadcast.
    pub(crate) fn next_offset(&mut self) -> String {
        self.next_offset = self.next_offset.wrapping_add(1);
        format!("{:x}.{}", self.next_offset, self.tag)
    }

    /// The sequence number of the last offset given out.
    pub(crate) fn head(&self) -> u64 {
        self.next_offset
    }

    /// Logs a broadcast (its packets carry `offset` already), from `origin`
    /// (`None`: this node).
    pub(crate) fn log(
        &mut self,
        offset: String,
        origin: Option<&str>,
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
            seq: self.next_offset,
            offset,
            origin: origin.map(str::to_owned),
            namespace: namespace.to_owned(),
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            packets,
        });
    }

    /// Parks a socket whose connection was lost, under its `pid`.
    #[allow(clippy::too_many_arguments)] // a parked socket's fields, each one
    pub(crate) fn park(
        &mut self,
        pid: String,
        id: String,
        namespace: &str,
        rooms: Vec<String>,
        data: Option<Arc<dyn Any + Send + Sync>>,
        alias: Option<(String, u64)>,
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
                alias,
                until,
            },
        );
    }

    /// Notes that the session `pid` was handed over to another node.
    pub(crate) fn handed_over(&mut self, pid: &str, now: Instant) {
        while self.handed.len() >= self.settings.max_parked.max(1) {
            self.handed.pop_front();
        }
        self.handed
            .push_back((pid.to_owned(), now + self.settings.window));
    }

    /// Whether the session `pid` was handed over to another node.
    pub(crate) fn was_handed_over(&self, pid: &str) -> bool {
        self.handed.iter().any(|(p, _)| p == pid)
    }

    /// Whether a socket is parked under `pid`.
    pub(crate) fn holds(&self, pid: &str) -> bool {
        self.parked.contains_key(pid)
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
        let parked = self
            .parked
            .get(pid)
            .filter(|p| p.namespace == namespace && now < p.until)?;
        let start = match &parked.alias {
            Some((alias, seq)) if alias == offset => *seq,
            _ => self.log.iter().find(|l| l.offset == offset)?.seq,
        };
        if self.log.front().is_some_and(|l| l.seq > start + 1) {
            return None; // what it missed has left the log
        }
        let parked = self.parked.remove(pid)?;
        self.parked_order.retain(|p| p != pid);
        let logged: Vec<&Logged> = self
            .matching(namespace, &parked.id, &parked.rooms)
            .filter(|l| l.seq > start)
            .collect();
        let last_offset = logged.last().map_or(offset, |l| &l.offset).to_owned();
        let missed = logged.iter().map(|l| l.packets.clone()).collect();
        Some(Restored {
            parked,
            missed,
            last_offset,
        })
    }

    /// The broadcasts of `namespace` that socket `id` in `rooms` got.
    fn matching<'a>(
        &'a self,
        namespace: &'a str,
        id: &'a String,
        rooms: &'a [String],
    ) -> impl Iterator<Item = &'a Logged> + 'a {
        let mut rooms: BTreeSet<&String> = rooms.iter().collect();
        rooms.insert(id);
        self.log
            .iter()
            .filter(move |l| l.namespace == namespace)
            .filter(move |l| {
                (l.rooms.is_empty() || l.rooms.iter().any(|r| rooms.contains(r)))
                    && !l.except.iter().any(|r| rooms.contains(r))
            })
    }

    /// What this node (B) replays to a socket that node `from` (A)
    /// restored: the broadcasts A could not have had, by `marks` (see
    /// [across nodes](self#across-nodes)); `None` if some of them have
    /// left the log. The last one's offset comes with them.
    pub(crate) fn replay_for(
        &self,
        from: &str,
        marks: Marks,
        namespace: &str,
        id: &String,
        rooms: &[String],
    ) -> Option<(Vec<Vec<engineio::Packet>>, Option<String>)> {
        if self.log.front().is_some_and(|l| l.seq > marks.queued + 1) {
            return None;
        }
        // What this node heard before it queued the request, the other
        // node heard before the request too: a floor, should the echo of
        // the request have been missed (a subscription made again).
        let heard = marks.heard.max(marks.queued);
        let answered = marks.answered.max(heard);
        let logged: Vec<&Logged> = self
            .matching(namespace, id, rooms)
            .filter(|l| match l.origin.as_deref() {
                None => l.seq > marks.queued,
                Some(origin) if origin == from => l.seq > answered,
                Some(_) => l.seq > heard,
            })
            .collect();
        let last = logged.last().map(|l| l.offset.clone());
        Some((logged.iter().map(|l| l.packets.clone()).collect(), last))
    }

    /// Forgets the parked sockets whose window has passed; returns when the
    /// next one will.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Instant> {
        self.parked.retain(|_, p| now < p.until);
        self.handed.retain(|(_, until)| now < *until);
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
        let mut recovery = Recovery::new(settings(), "t");
        let first = recovery.next_offset();
        recovery.log(first.clone(), None, "/", &[], &[], message("a"));
        recovery.park(
            "p".into(),
            "s1".into(),
            "/",
            vec!["r".into()],
            None,
            None,
            t0,
        );
        let second = recovery.next_offset();
        recovery.log(second, None, "/", &["r".into()], &[], message("b"));
        let third = recovery.next_offset();
        recovery.log(third, None, "/", &["other".into()], &[], message("c"));
        let fourth = recovery.next_offset();
        recovery.log(fourth, None, "/", &[], &["s1".into()], message("d"));
        // The log holds 3: "a" is gone, and with it the offset.
        assert!(recovery.restore("p", &first, "/", t0).is_none());
        let mut recovery = Recovery::new(settings(), "t");
        let first = recovery.next_offset();
        recovery.log(first.clone(), None, "/", &[], &[], message("a"));
        recovery.park(
            "p".into(),
            "s1".into(),
            "/",
            vec!["r".into()],
            None,
            None,
            t0,
        );
        let second = recovery.next_offset();
        recovery.log(second, None, "/", &["r".into()], &[], message("b"));
        let third = recovery.next_offset();
        recovery.log(third, None, "/", &[], &["s1".into()], message("d"));
        let restored = recovery.restore("p", &first, "/", t0).unwrap();
        assert_eq!(restored.parked.id, "s1");
        assert_eq!(restored.missed, vec![message("b")]);
        assert_eq!(restored.last_offset, "2.t");
        // Restored once only.
        assert!(recovery.restore("p", &first, "/", t0).is_none());
    }

    #[test]
    fn a_node_replays_what_the_node_that_parked_the_socket_could_not_have_had() {
        let mut b = Recovery::new(
            Settings {
                max_packets: 10,
                ..settings()
            },
            "t",
        );
        let log = |b: &mut Recovery, origin: Option<&str>, text: &str| {
            let offset = b.next_offset();
            b.log(offset, origin, "/", &[], &[], message(text));
        };
        log(&mut b, None, "b-before");
        let queued = b.head();
        log(&mut b, Some("C"), "c-before");
        log(&mut b, None, "b-after");
        let heard = b.head();
        log(&mut b, Some("C"), "c-after");
        log(&mut b, Some("A"), "a-before-answer");
        let answered = b.head();
        log(&mut b, Some("A"), "a-after-answer");
        let marks = Marks {
            queued,
            heard,
            answered,
        };
        let (replay, last) = b.replay_for("A", marks, "/", &"s".into(), &[]).unwrap();
        assert_eq!(
            replay,
            vec![
                message("b-after"),
                message("c-after"),
                message("a-after-answer")
            ]
        );
        assert_eq!(last.as_deref(), Some("6.t"));
        // An offset of A's log stands for B's position, once parked here.
        let t0 = Instant::now();
        b.park(
            "p".into(),
            "s".into(),
            "/",
            vec![],
            None,
            Some(("a9".into(), b.head())),
            t0,
        );
        log(&mut b, None, "later");
        let restored = b.restore("p", "a9", "/", t0).unwrap();
        assert_eq!(restored.missed, vec![message("later")]);
    }

    #[test]
    fn parked_sockets_expire_and_are_bounded() {
        let t0 = Instant::now();
        let mut recovery = Recovery::new(settings(), "t");
        let offset = recovery.next_offset();
        recovery.log(offset.clone(), None, "/", &[], &[], message("a"));
        for pid in ["p1", "p2", "p3"] {
            recovery.park(pid.into(), pid.into(), "/", Vec::new(), None, None, t0);
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
