//! The wire format of a message between nodes, and the per-node sequence
//! check that makes delivery exactly-once and in order. Socket-free.
//!
//! Every published message is one Redis pub/sub payload:
//!
//! ```text
//!  offset  size  field
//!  0       4     magic "SWB1" (stdws backplane, format 1)
//!  4       8     instance: random per server run, big-endian
//!  12      8     seq: 1, 2, 3 ... per instance, big-endian
//!  20      8     sender: the client id that sent it (0: the application)
//!  28      1     kind: 0 all, 1 all but sender, 2 room, 3 room but sender,
//!                      4 one client, 5 heartbeat
//!  29      1     opcode: 1 text, 2 binary (0 for a heartbeat)
//!  30      8     only kind 4: the client id it is for
//!          2+n   only kinds 2 and 3: the room's length, then its UTF-8 name
//!          8     only kind 5: how many clients the node has
//!  ...           the WebSocket message's payload, to the end
//! ```
//!
//! A receiver keeps the highest `seq` it has delivered for each instance and
//! drops anything at or below it: a message that a publisher sent again on a
//! new connection (because the old one died before its reply came back) is
//! delivered once, and nothing can arrive out of its sender's order. A jump
//! in `seq` is counted as messages lost on the way.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const MAGIC: &[u8; 4] = b"SWB1";
const FIXED: usize = 30;

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every client.
    All,
    /// Every client but the sender.
    AllButSender,
    /// The members of a room.
    Room(String),
    /// The members of a room but the sender.
    RoomButSender(String),
    /// One client, by id.
    Client(u64),
    /// Nobody: the node's liveness and client count.
    Heartbeat(u64),
}

/// One message between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) instance: u64,
    pub(crate) seq: u64,
    pub(crate) sender: u64,
    pub(crate) target: Target,
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
}

impl Envelope {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED + 10 + self.payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.instance.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.sender.to_be_bytes());
        let kind = match &self.target {
            Target::All => 0,
            Target::AllButSender => 1,
            Target::Room(_) => 2,
            Target::RoomButSender(_) => 3,
            Target::Client(_) => 4,
            Target::Heartbeat(_) => 5,
        };
        out.push(kind);
        out.push(self.opcode);
        match &self.target {
            Target::Room(room) | Target::RoomButSender(room) => {
                // Room names longer than 65,535 bytes are refused before this.
                out.extend_from_slice(&(room.len() as u16).to_be_bytes());
                out.extend_from_slice(room.as_bytes());
            }
            Target::Client(id) | Target::Heartbeat(id) => out.extend_from_slice(&id.to_be_bytes()),
            Target::All | Target::AllButSender => {}
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// Reads an envelope; `None` for anything that is not one (another
    /// application's message on a shared prefix, a future format).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Envelope> {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let (instance, seq, sender) = (u64_at(4)?, u64_at(12)?, u64_at(20)?);
        let kind = *bytes.get(28)?;
        let opcode = *bytes.get(29)?;
        let (target, rest) = match kind {
            0 => (Target::All, FIXED),
            1 => (Target::AllButSender, FIXED),
            2 | 3 => {
                let len = u16::from_be_bytes(bytes.get(FIXED..FIXED + 2)?.try_into().ok()?);
                let end = FIXED + 2 + usize::from(len);
                let room = std::str::from_utf8(bytes.get(FIXED + 2..end)?)
                    .ok()?
                    .to_owned();
                let target = if kind == 2 {
                    Target::Room(room)
                } else {
                    Target::RoomButSender(room)
                };
                (target, end)
            }
            4 => (Target::Client(u64_at(FIXED)?), FIXED + 8),
            5 => (Target::Heartbeat(u64_at(FIXED)?), FIXED + 8),
            _ => return None,
        };
        let valid_opcode = match target {
            Target::Heartbeat(_) => opcode == 0,
            _ => opcode == 1 || opcode == 2,
        };
        if !valid_opcode || seq == 0 {
            return None;
        }
        Some(Envelope {
            instance,
            seq,
            sender,
            target,
            opcode,
            payload: bytes.get(rest..)?.to_vec(),
        })
    }
}

/// What the sequence check says of an arriving message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Deliver it; `missed` messages of its sender never arrived before it.
    Deliver { missed: u64 },
    /// Already delivered (or arrived after a later one): drop it.
    Duplicate,
}

struct Peer {
    last_seq: u64,
    seen: Instant,
    clients: u64,
}

/// The highest sequence number delivered per remote instance, and what their
/// heartbeats said. Bounded: instances silent for [`Self::FORGET`] are
/// forgotten when the table is full.
#[derive(Default)]
pub(crate) struct Sequences {
    peers: HashMap<u64, Peer>,
}

impl Sequences {
    const MAX_PEERS: usize = 4096;
    const FORGET: Duration = Duration::from_secs(120);
    /// A node whose heartbeat is older than this no longer counts its clients.
    pub(crate) const STALE: Duration = Duration::from_secs(5);

    pub(crate) fn check(&mut self, env: &Envelope, now: Instant) -> Verdict {
        if !self.peers.contains_key(&env.instance) && self.peers.len() >= Self::MAX_PEERS {
            self.peers
                .retain(|_, p| now.duration_since(p.seen) < Self::FORGET);
            if self.peers.len() >= Self::MAX_PEERS {
                return Verdict::Duplicate;
            }
        }
        let peer = self.peers.entry(env.instance).or_insert(Peer {
            last_seq: 0,
            seen: now,
            clients: 0,
        });
        peer.seen = now;
        if let Target::Heartbeat(clients) = env.target {
            if env.seq > peer.last_seq {
                peer.clients = clients;
            }
        }
        if env.seq <= peer.last_seq {
            return Verdict::Duplicate;
        }
        // The first message seen from an instance starts its count: what it
        // sent before this node subscribed is not this node's loss.
        let missed = if peer.last_seq == 0 {
            0
        } else {
            env.seq - peer.last_seq - 1
        };
        peer.last_seq = env.seq;
        Verdict::Deliver { missed }
    }

    /// Clients on the other nodes whose heartbeats are recent.
    pub(crate) fn remote_clients(&self, now: Instant) -> u64 {
        self.peers
            .values()
            .filter(|p| now.duration_since(p.seen) < Self::STALE)
            .map(|p| p.clients)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(seq: u64, target: Target) -> Envelope {
        Envelope {
            instance: 0x0102_0304_0506_0708,
            seq,
            sender: 42,
            opcode: if matches!(target, Target::Heartbeat(_)) {
                0
            } else {
                1
            },
            target,
            payload: b"hi".to_vec(),
        }
    }

    #[test]
    fn the_wire_format_byte_for_byte() {
        let bytes = env(3, Target::RoomButSender("r1".into())).encode();
        let mut expected = b"SWB1".to_vec();
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 42]);
        expected.extend_from_slice(&[3, 1, 0, 2, b'r', b'1', b'h', b'i']);
        assert_eq!(bytes, expected);
        let bytes = env(1, Target::All).encode();
        assert_eq!(&bytes[28..], b"\x00\x01hi");
        let bytes = env(1, Target::Client(7)).encode();
        assert_eq!(&bytes[28..], b"\x04\x01\0\0\0\0\0\0\0\x07hi");
    }

    #[test]
    fn every_target_round_trips() {
        for target in [
            Target::All,
            Target::AllButSender,
            Target::Room("".into()),
            Target::Room("é".into()),
            Target::RoomButSender("x".repeat(300)),
            Target::Client(u64::MAX),
            Target::Heartbeat(12),
        ] {
            let e = env(9, target);
            assert_eq!(Envelope::decode(&e.encode()), Some(e));
        }
    }

    #[test]
    fn foreign_or_truncated_payloads_are_ignored() {
        assert_eq!(Envelope::decode(b"hello"), None);
        assert_eq!(Envelope::decode(b""), None);
        let bytes = env(1, Target::Room("abc".into())).encode();
        for len in 0..32 {
            assert_eq!(Envelope::decode(&bytes[..len]), None, "{len} bytes");
        }
        let mut bad_kind = bytes.clone();
        bad_kind[28] = 9;
        assert_eq!(Envelope::decode(&bad_kind), None);
        let mut bad_opcode = bytes.clone();
        bad_opcode[29] = 8; // a close is never published
        assert_eq!(Envelope::decode(&bad_opcode), None);
        let mut zero_seq = env(1, Target::All).encode();
        zero_seq[19] = 0;
        assert_eq!(Envelope::decode(&zero_seq), None);
    }

    #[test]
    fn each_message_is_delivered_once_and_in_its_senders_order() {
        let mut s = Sequences::default();
        let now = Instant::now();
        assert_eq!(
            s.check(&env(5, Target::All), now),
            Verdict::Deliver { missed: 0 }
        );
        assert_eq!(
            s.check(&env(6, Target::All), now),
            Verdict::Deliver { missed: 0 }
        );
        // Sent again on a new connection: dropped.
        assert_eq!(s.check(&env(6, Target::All), now), Verdict::Duplicate);
        assert_eq!(s.check(&env(5, Target::All), now), Verdict::Duplicate);
        // 7 and 8 were lost: counted, and 7 arriving late is not delivered out of order.
        assert_eq!(
            s.check(&env(9, Target::All), now),
            Verdict::Deliver { missed: 2 }
        );
        assert_eq!(s.check(&env(7, Target::All), now), Verdict::Duplicate);
        // Another instance has its own count.
        let mut other = env(1, Target::All);
        other.instance = 99;
        assert_eq!(s.check(&other, now), Verdict::Deliver { missed: 0 });
    }

    #[test]
    fn heartbeats_give_the_remote_client_count_while_fresh() {
        let mut s = Sequences::default();
        let now = Instant::now();
        s.check(&env(1, Target::Heartbeat(3)), now);
        let mut other = env(1, Target::Heartbeat(4));
        other.instance = 2;
        s.check(&other, now);
        assert_eq!(s.remote_clients(now), 7);
        assert_eq!(s.remote_clients(now + Sequences::STALE), 0);
    }
}
