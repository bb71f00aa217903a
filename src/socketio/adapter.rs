//! Socket.IO broadcasts across servers, in the wire format of Socket.IO's
//! own Redis adapter (`@socket.io/redis-adapter`, its `RedisAdapter`
//! class; `@socket.io/redis-emitter` writes the same), so that stdws
//! nodes, Node `socket.io` nodes and Node services with the emitter share
//! one cluster. Sans-I/O: channel names and payloads; the
//! [backplane](crate::backplane) carries them.
//!
//! Each broadcast is one pub/sub message, [MessagePack](crate::msgpack) of
//!
//! ```text
//!   [uid, {type: 2, data: [event, ...args], nsp: "/chat"}, {rooms: [...], except: [...], flags: {}}]
//! ```
//!
//! - `uid`: the sending node's id (Node's adapter: 6 random characters;
//!   the emitter: `"emitter"`); a node ignores its own, which it has
//!   delivered itself.
//! - the packet: an EVENT (type 2; a BINARY_EVENT, type 5, is read the
//!   same) with the event name first; binary arguments are MessagePack
//!   `bin`, so they reach the clients of every node as attachments.
//! - `rooms`: empty for the whole namespace, else the sockets in any of
//!   them; `except`: rooms (a socket id is a room) left out. `flags` are
//!   Node's (`volatile`, `compress`, `local`): read and ignored, and a
//!   `local` broadcast is never published.
//!
//! The channel is `<key>#<namespace>#` (`key` is `socket.io` unless
//! [`SocketIoBuilder::redis_key`](super::SocketIoBuilder::redis_key) says
//! otherwise), or `<key>#<namespace>#<room>#` for a broadcast to exactly one
//! room. A node listens to `<key>#<namespace>#*` for each of its
//! namespaces.
//!
//! Also carried, in modules of their own: the adapter's requests and
//! responses (`<key>-request#<nsp>#`, `<key>-response#<nsp>#`:
//! `fetchSockets`, `socketsJoin`/`socketsLeave`, `disconnectSockets`,
//! `serverSideEmit` with and without ack, broadcasts with acks, and the
//! server count by `PUBSUB NUMSUB`), both ways, in
//! [`cluster`](super::cluster); and connection state recovery of a socket
//! that reconnects to another stdws node, by a stdws-only request on the
//! same channels that Node nodes ignore, in
//! [`recovery`](super::recovery#across-nodes). Not carried: a Node node
//! does not restore a session a stdws node parked, nor the reverse (Node's
//! adapter keeps sessions in each node's memory; only its Redis Streams
//! adapter shares them), and connection data (`Socket::data`, a Rust
//! value) never crosses nodes.

use super::packet::Data;
use crate::json::Number;
use crate::msgpack::{self, Value};

/// A broadcast, as it travels between nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Remote {
    /// The sending node's id.
    pub(crate) uid: String,
    pub(crate) namespace: String,
    pub(crate) rooms: Vec<String>,
    pub(crate) except: Vec<String>,
    pub(crate) name: String,
    pub(crate) args: Vec<Data>,
}

/// The channel a broadcast to `rooms` of `namespace` goes to.
pub(crate) fn channel(key: &str, namespace: &str, rooms: &[String]) -> String {
    match rooms {
        [room] => format!("{key}#{namespace}#{room}#"),
        _ => format!("{key}#{namespace}#"),
    }
}

/// The pattern a node subscribes to for `namespace`, its glob characters
/// escaped.
pub(crate) fn pattern(key: &str, namespace: &str) -> String {
    let mut out = String::new();
    for c in format!("{key}#{namespace}#").chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// The payload of a broadcast.
pub(crate) fn encode(remote: &Remote) -> Vec<u8> {
    let strings =
        |items: &[String]| Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect());
    let mut data = Vec::with_capacity(1 + remote.args.len());
    data.push(Value::from(remote.name.as_str()));
    data.extend(remote.args.iter().map(to_msgpack));
    msgpack::encode(&Value::Array(vec![
        Value::from(remote.uid.as_str()),
        Value::map([
            ("type", Value::UInt(2)),
            ("data", Value::Array(data)),
            ("nsp", Value::from(remote.namespace.as_str())),
        ]),
        Value::map([
            ("rooms", strings(&remote.rooms)),
            ("except", strings(&remote.except)),
            ("flags", Value::Map(Vec::new())),
        ]),
    ]))
}

/// Reads a broadcast; `Err` says why the payload is not one (another
/// application's message, a request, or garbage).
pub(crate) fn decode(payload: &[u8]) -> Result<Remote, &'static str> {
    let value =
        msgpack::decode(payload, msgpack::Limits::default()).map_err(|_| "not MessagePack")?;
    let [uid, packet, opts] = value.as_array().ok_or("not an array")? else {
        return Err("not [uid, packet, opts]");
    };
    let uid = uid.as_str().ok_or("a uid that is not a string")?.to_owned();
    match packet.get("type").and_then(Value::as_i64) {
        Some(2 | 5) => {}
        _ => return Err("not an EVENT"),
    }
    let namespace = match packet.get("nsp") {
        None | Some(Value::Nil) | Some(Value::Ext(..)) => "/".to_owned(),
        Some(nsp) => nsp
            .as_str()
            .ok_or("a namespace that is not a string")?
            .to_owned(),
    };
    let mut data = packet
        .get("data")
        .and_then(Value::as_array)
        .ok_or("no data array")?
        .iter();
    let name = data
        .next()
        .and_then(Value::as_str)
        .ok_or("no event name")?
        .to_owned();
    let args = data.map(from_msgpack).collect();
    let strings = |key: &str| -> Result<Vec<String>, &'static str> {
        match opts.get(key) {
            None | Some(Value::Nil) | Some(Value::Ext(..)) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|room| match room {
                    Value::Str(s) => Ok(s.clone()),
                    // Node lets numbers be rooms; its adapter sends them as such.
                    Value::UInt(n) => Ok(n.to_string()),
                    Value::Int(n) => Ok(n.to_string()),
                    _ => Err("a room that is not a string"),
                })
                .collect(),
            Some(_) => Err("rooms that are not an array"),
        }
    };
    Ok(Remote {
        uid,
        namespace,
        rooms: strings("rooms")?,
        except: strings("except")?,
        name,
        args,
    })
}

pub(crate) fn to_msgpack(data: &Data) -> Value {
    match data {
        Data::Null => Value::Nil,
        Data::Bool(b) => Value::Bool(*b),
        Data::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(n), _) => Value::UInt(n),
            (None, Some(n)) => Value::Int(n),
            (None, None) => Value::Float(n.as_f64()),
        },
        Data::String(s) => Value::from(s.as_str()),
        Data::Binary(b) => Value::Bin(b.clone()),
        Data::Array(items) => Value::Array(items.iter().map(to_msgpack).collect()),
        Data::Object(members) => Value::Map(
            members
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// What JavaScript would make of a value: `undefined` (and the other
/// extensions) and NaN become `null`, map keys that are numbers become
/// their text.
pub(crate) fn from_msgpack(value: &Value) -> Data {
    match value {
        Value::Nil | Value::Ext(..) => Data::Null,
        Value::Bool(b) => Data::Bool(*b),
        Value::UInt(n) => Data::from(*n),
        Value::Int(n) => Data::from(*n),
        Value::Float(f) => Number::from_f64(*f).map_or(Data::Null, Data::Number),
        Value::Str(s) => Data::String(s.clone()),
        Value::Bin(b) => Data::Binary(b.clone()),
        Value::Array(items) => Data::Array(items.iter().map(from_msgpack).collect()),
        Value::Map(pairs) => Data::Object(
            pairs
                .iter()
                .filter_map(|(k, v)| {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        Value::UInt(n) => n.to_string(),
                        Value::Int(n) => n.to_string(),
                        _ => return None,
                    };
                    Some((key, from_msgpack(v)))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> Remote {
        Remote {
            uid: "abc123".into(),
            namespace: "/".into(),
            rooms: vec!["lobby".into()],
            except: vec!["sid1".into()],
            name: "hi".into(),
            args: vec![Data::from(1u64), Data::binary([0xff])],
        }
    }

    #[test]
    fn a_broadcast_is_written_as_the_redis_adapter_writes_it() {
        let mut expected = vec![0x93, 0xa6];
        expected.extend_from_slice(b"abc123");
        expected.extend_from_slice(&[0x83, 0xa4]);
        expected.extend_from_slice(b"type");
        expected.extend_from_slice(&[0x02, 0xa4]);
        expected.extend_from_slice(b"data");
        expected.extend_from_slice(&[0x93, 0xa2, b'h', b'i', 0x01, 0xc4, 0x01, 0xff, 0xa3]);
        expected.extend_from_slice(b"nsp");
        expected.extend_from_slice(&[0xa1, b'/', 0x83, 0xa5]);
        expected.extend_from_slice(b"rooms");
        expected.extend_from_slice(&[0x91, 0xa5]);
        expected.extend_from_slice(b"lobby");
        expected.push(0xa6);
        expected.extend_from_slice(b"except");
        expected.extend_from_slice(&[0x91, 0xa4]);
        expected.extend_from_slice(b"sid1");
        expected.push(0xa5);
        expected.extend_from_slice(b"flags");
        expected.push(0x80);
        assert_eq!(encode(&remote()), expected);
        assert_eq!(decode(&expected), Ok(remote()));
    }

    #[test]
    fn one_room_has_a_channel_of_its_own() {
        assert_eq!(channel("socket.io", "/", &[]), "socket.io#/#");
        assert_eq!(channel("socket.io", "/", &["r".into()]), "socket.io#/#r#");
        assert_eq!(
            channel("socket.io", "/chat", &["a".into(), "b".into()]),
            "socket.io#/chat#"
        );
        assert_eq!(pattern("socket.io", "/"), "socket.io#/#*");
        assert_eq!(pattern("k[1]", "/"), "k\\[1\\]#/#*");
    }

    #[test]
    fn what_the_emitter_writes_is_read_with_javascripts_defaults() {
        // The emitter's map order, a missing nsp is "/", undefined is null.
        let payload = msgpack::encode(&Value::Array(vec![
            Value::from("emitter"),
            Value::map([
                ("type", Value::UInt(2)),
                (
                    "data",
                    Value::Array(vec![
                        Value::from("ev"),
                        Value::Ext(0, vec![0]),
                        Value::Float(1.5),
                        Value::map([("k", Value::Int(-3))]),
                    ]),
                ),
            ]),
            Value::map([
                ("rooms", Value::Array(vec![Value::UInt(7)])),
                ("flags", Value::Map(vec![])),
                ("except", Value::Array(vec![])),
            ]),
        ]));
        let remote = decode(&payload).unwrap();
        assert_eq!(remote.uid, "emitter");
        assert_eq!(remote.namespace, "/");
        assert_eq!(remote.rooms, ["7"]);
        assert_eq!(remote.name, "ev");
        assert_eq!(
            remote.args,
            [
                Data::Null,
                Data::from(1.5),
                Data::object([("k", Data::from(-3i64))])
            ]
        );
    }

    #[test]
    fn other_messages_are_told_apart_not_delivered() {
        assert!(decode(b"SWB1").is_err());
        assert!(decode(&msgpack::encode(&Value::Array(vec![]))).is_err());
        let request = msgpack::encode(&Value::map([("uid", Value::from("x"))]));
        assert!(decode(&request).is_err());
        let ack = msgpack::encode(&Value::Array(vec![
            Value::from("x"),
            Value::map([("type", Value::UInt(3))]),
            Value::Map(vec![]),
        ]));
        assert_eq!(decode(&ack), Err("not an EVENT"));
    }
}
