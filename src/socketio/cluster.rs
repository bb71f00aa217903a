//! Requests between the nodes of a Socket.IO cluster, in the format of
//! `@socket.io/redis-adapter` (its `RedisAdapter` class in `lib/index.ts`,
//! version 8.3.0, is the only description of it), so
//! that a stdws node answers a Node node's `fetchSockets()`,
//! `socketsJoin()`, `serverSideEmit()`, `timeout(..).emit()` with acks and
//! so on, and asks the same of the others. Sans-I/O: channel names and
//! payloads; [`server`](super::server) keeps the requests waiting and the
//! [backplane](crate::backplane) carries them.
//!
//! # Channels
//!
//! Each node subscribes (plain `SUBSCRIBE`, so that `PUBSUB NUMSUB` counts
//! it) to three channels per namespace:
//!
//! ```text
//!   <key>-request#<nsp>#          requests, from every node to every node (the sender hears its own)
//!   <key>-response#<nsp>#         answers (where Node's adapter answers by default)
//!   <key>-response#<nsp>#<uid>#   answers for one node (Node's publishOnSpecificResponseChannel)
//! ```
//!
//! The number of nodes is `PUBSUB NUMSUB <key>-request#<nsp>#`, as Node's
//! adapter counts them; a request that expects an answer from every other
//! node waits for that count less one.
//!
//! # Requests
//!
//! A payload that starts with `{` is JSON, anything else MessagePack (the
//! adapter's default parser, `notepack.io`); both are read, and each
//! message is written as Node's adapter writes it: every request in JSON
//! but `BROADCAST`, every answer in JSON but `BROADCAST_ACK`. Each request
//! carries `uid` (the sender's node id) and `type`; those that want an
//! answer carry `requestId`, which the answer repeats.
//!
//! | type | request | fields | answer (from each other node) |
//! |------|---------|--------|-------------------------------|
//! | 0 | `SOCKETS` | `rooms` | `{requestId, sockets: [id]}` |
//! | 1 | `ALL_ROOMS` | | `{requestId, rooms}` |
//! | 2 | `REMOTE_JOIN` | `opts: {rooms, except}`, `rooms` (or `sid`, `room`) | none (`{requestId}` for the `sid` form, from the node that has it) |
//! | 3 | `REMOTE_LEAVE` | as `REMOTE_JOIN` | as `REMOTE_JOIN` |
//! | 4 | `REMOTE_DISCONNECT` | `opts`, `close` (or `sid`) | as `REMOTE_JOIN` |
//! | 5 | `REMOTE_FETCH` | `opts` | `{requestId, sockets: [{id, handshake, rooms, data}]}` |
//! | 6 | `SERVER_SIDE_EMIT` | `data: [event, ...args]`; `requestId` if an ack is wanted | `{type: 6, requestId, data}` (one argument) |
//! | 7 | `BROADCAST` (MessagePack) | `packet: {type: 2, data, nsp}`, `opts: {rooms, except, flags: {timeout}}` | `{type: 8, requestId, clientCount}`, then per client `{type: 9, requestId, packet}` (MessagePack; the client's first ack argument) |
//! | `"stdws:recover"` | stdws only | `pid`, `offset` | from the node that parked the session: `{type: "stdws:recovered", requestId, uid, found, id, rooms, missed, lastOffset}` (MessagePack) |
//!
//! Node's adapter ignores a request of a type it does not know, so the
//! stdws-only request (connection state recovery across nodes, see
//! [`recovery`](super::recovery)) passes Node nodes by.

use std::time::Duration;

use super::adapter::{from_msgpack, to_msgpack};
use super::engineio;
use super::packet::Data;
use crate::json::{self, Value as Json};
use crate::msgpack;

pub(crate) const SOCKETS: u64 = 0;
pub(crate) const ALL_ROOMS: u64 = 1;
pub(crate) const REMOTE_JOIN: u64 = 2;
pub(crate) const REMOTE_LEAVE: u64 = 3;
pub(crate) const REMOTE_DISCONNECT: u64 = 4;
pub(crate) const REMOTE_FETCH: u64 = 5;
pub(crate) const SERVER_SIDE_EMIT: u64 = 6;
pub(crate) const BROADCAST: u64 = 7;
pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 8;
pub(crate) const BROADCAST_ACK: u64 = 9;
pub(crate) const RECOVER: &str = "stdws:recover";
pub(crate) const RECOVERED: &str = "stdws:recovered";

pub(crate) fn request_channel(key: &str, namespace: &str) -> String {
    format!("{key}-request#{namespace}#")
}

pub(crate) fn response_channel(key: &str, namespace: &str) -> String {
    format!("{key}-response#{namespace}#")
}

pub(crate) fn specific_response_channel(key: &str, namespace: &str, uid: &str) -> String {
    format!("{key}-response#{namespace}#{uid}#")
}

/// The sockets a request is about: those in any of `rooms` (all, if
/// empty), less those in any of `except`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Select {
    pub(crate) rooms: Vec<String>,
    pub(crate) except: Vec<String>,
}

/// `REMOTE_JOIN` and its neighbours name sockets by a selection, or (an
/// older form) one socket by id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    Select(Select),
    Socket(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    Sockets {
        rooms: Vec<String>,
    },
    AllRooms,
    Join {
        target: Target,
        rooms: Vec<String>,
    },
    Leave {
        target: Target,
        rooms: Vec<String>,
    },
    Disconnect {
        target: Target,
        close: bool,
    },
    Fetch(Select),
    /// `[event, ...args]`; an ack is wanted if the message has a request id.
    ServerSideEmit(Vec<Data>),
    Broadcast {
        name: String,
        args: Vec<Data>,
        select: Select,
        /// `flags.timeout`: how long the sender waits for the acks.
        timeout: Option<Duration>,
    },
    Recover {
        pid: String,
        offset: String,
    },
}

/// A request as it travels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) uid: String,
    pub(crate) request_id: Option<String>,
    pub(crate) request: Request,
}

/// A payload as a value: JSON if it starts with `{`, else MessagePack.
pub(crate) fn decode_payload(payload: &[u8]) -> Option<Data> {
    if payload.first() == Some(&b'{') {
        let text = std::str::from_utf8(payload).ok()?;
        json::parse(text).ok().map(Data::from)
    } else {
        msgpack::decode(payload, msgpack::Limits::default())
            .ok()
            .map(|v| from_msgpack(&v))
    }
}

fn strings(value: Option<&Data>) -> Result<Vec<String>, &'static str> {
    match value {
        None | Some(Data::Null) => Ok(Vec::new()),
        Some(Data::Array(items)) => items
            .iter()
            .map(|item| match item {
                Data::String(s) => Ok(s.clone()),
                // Node lets numbers be rooms.
                Data::Number(n) => Ok(n.to_string()),
                _ => Err("a room that is not a string"),
            })
            .collect(),
        Some(_) => Err("rooms that are not an array"),
    }
}

fn select(opts: Option<&Data>) -> Result<Select, &'static str> {
    Ok(Select {
        rooms: strings(opts.and_then(|o| o.get("rooms")))?,
        except: strings(opts.and_then(|o| o.get("except")))?,
    })
}

pub(crate) fn number(value: Option<&Data>) -> Option<u64> {
    match value {
        Some(Data::Number(n)) => n.as_u64().or_else(|| {
            let f = n.as_f64();
            // Written by JavaScript, a count or a delay may come as a float.
            (0.0..9.0e15).contains(&f).then_some(f as u64)
        }),
        _ => None,
    }
}

fn target(request: &Data) -> Result<Target, &'static str> {
    match request.get("opts") {
        Some(opts) if !opts.is_null() => Ok(Target::Select(select(Some(opts))?)),
        _ => request
            .get("sid")
            .and_then(Data::as_str)
            .map(|sid| Target::Socket(sid.to_owned()))
            .ok_or("neither opts nor sid"),
    }
}

/// Reads a request; `Err` says why the payload is not one.
pub(crate) fn decode_request(payload: &[u8]) -> Result<Message, &'static str> {
    let request = decode_payload(payload).ok_or("neither JSON nor MessagePack")?;
    let uid = request
        .get("uid")
        .and_then(Data::as_str)
        .ok_or("no uid")?
        .to_owned();
    let request_id = request
        .get("requestId")
        .and_then(Data::as_str)
        .map(str::to_owned);
    let kind = request.get("type").ok_or("no type")?;
    let rooms_or_room = || -> Result<Vec<String>, &'static str> {
        match request.get("room").and_then(Data::as_str) {
            Some(room) => Ok(vec![room.to_owned()]),
            None => strings(request.get("rooms")),
        }
    };
    let request = match (number(Some(kind)), kind.as_str()) {
        (Some(SOCKETS), _) => Request::Sockets {
            rooms: strings(request.get("rooms"))?,
        },
        (Some(ALL_ROOMS), _) => Request::AllRooms,
        (Some(REMOTE_JOIN), _) => Request::Join {
            target: target(&request)?,
            rooms: rooms_or_room()?,
        },
        (Some(REMOTE_LEAVE), _) => Request::Leave {
            target: target(&request)?,
            rooms: rooms_or_room()?,
        },
        (Some(REMOTE_DISCONNECT), _) => Request::Disconnect {
            target: target(&request)?,
            close: matches!(request.get("close"), Some(Data::Bool(true))),
        },
        (Some(REMOTE_FETCH), _) => Request::Fetch(select(request.get("opts"))?),
        (Some(SERVER_SIDE_EMIT), _) => Request::ServerSideEmit(
            request
                .get("data")
                .and_then(Data::as_array)
                .ok_or("no data array")?
                .to_vec(),
        ),
        (Some(BROADCAST), _) => {
            let packet = request.get("packet").ok_or("no packet")?;
            let mut data = packet
                .get("data")
                .and_then(Data::as_array)
                .ok_or("no data array")?
                .iter();
            let name = data
                .next()
                .and_then(Data::as_str)
                .ok_or("no event name")?
                .to_owned();
            let opts = request.get("opts");
            Request::Broadcast {
                name,
                args: data.cloned().collect(),
                select: select(opts)?,
                timeout: number(
                    opts.and_then(|o| o.get("flags"))
                        .and_then(|f| f.get("timeout")),
                )
                .map(Duration::from_millis),
            }
        }
        (None, Some(RECOVER)) => Request::Recover {
            pid: request
                .get("pid")
                .and_then(Data::as_str)
                .ok_or("no pid")?
                .to_owned(),
            offset: request
                .get("offset")
                .and_then(Data::as_str)
                .ok_or("no offset")?
                .to_owned(),
        },
        _ => return Err("a request type this node does not know"),
    };
    Ok(Message {
        uid,
        request_id,
        request,
    })
}

fn strings_data(items: &[String]) -> Data {
    Data::Array(items.iter().map(|s| Data::from(s.as_str())).collect())
}

fn select_data(select: &Select) -> Data {
    Data::object([
        ("rooms", strings_data(&select.rooms)),
        ("except", strings_data(&select.except)),
    ])
}

/// Writes a request as Node's adapter does: JSON, `BROADCAST` in
/// MessagePack.
pub(crate) fn encode_request(message: &Message, namespace: &str) -> Vec<u8> {
    let mut fields = vec![("uid", Data::from(message.uid.as_str()))];
    if let Some(id) = &message.request_id {
        fields.push(("requestId", Data::from(id.as_str())));
    }
    let kind = |n: u64| ("type", Data::from(n));
    match &message.request {
        Request::Sockets { rooms } => {
            fields.push(kind(SOCKETS));
            fields.push(("rooms", strings_data(rooms)));
        }
        Request::AllRooms => fields.push(kind(ALL_ROOMS)),
        Request::Join { target, rooms } | Request::Leave { target, rooms } => {
            let code = match &message.request {
                Request::Join { .. } => REMOTE_JOIN,
                _ => REMOTE_LEAVE,
            };
            fields.push(kind(code));
            match target {
                Target::Select(select) => {
                    fields.push(("opts", select_data(select)));
                    fields.push(("rooms", strings_data(rooms)));
                }
                Target::Socket(sid) => {
                    fields.push(("sid", Data::from(sid.as_str())));
                    fields.push(("room", Data::from(rooms.first().map_or("", String::as_str))));
                }
            }
        }
        Request::Disconnect { target, close } => {
            fields.push(kind(REMOTE_DISCONNECT));
            match target {
                Target::Select(select) => fields.push(("opts", select_data(select))),
                Target::Socket(sid) => fields.push(("sid", Data::from(sid.as_str()))),
            }
            fields.push(("close", Data::Bool(*close)));
        }
        Request::Fetch(select) => {
            fields.push(kind(REMOTE_FETCH));
            fields.push(("opts", select_data(select)));
        }
        Request::ServerSideEmit(data) => {
            fields.push(kind(SERVER_SIDE_EMIT));
            fields.push(("data", Data::Array(data.clone())));
        }
        Request::Broadcast {
            name,
            args,
            select,
            timeout,
        } => {
            fields.push(kind(BROADCAST));
            let mut data = vec![Data::from(name.as_str())];
            data.extend(args.iter().cloned());
            fields.push((
                "packet",
                Data::object([
                    ("type", Data::from(2u64)),
                    ("data", Data::Array(data)),
                    ("nsp", Data::from(namespace)),
                ]),
            ));
            let mut flags = Vec::new();
            if let Some(timeout) = timeout {
                let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                flags.push(("timeout", Data::from(ms)));
            }
            fields.push((
                "opts",
                Data::object([
                    ("rooms", strings_data(&select.rooms)),
                    ("except", strings_data(&select.except)),
                    ("flags", Data::object(flags)),
                ]),
            ));
            return encode_msgpack(&Data::object(fields));
        }
        Request::Recover { pid, offset } => {
            fields.push(("type", Data::from(RECOVER)));
            fields.push(("pid", Data::from(pid.as_str())));
            fields.push(("offset", Data::from(offset.as_str())));
        }
    }
    encode_json(&Data::object(fields))
}

/// JSON as `JSON.stringify` writes it: bytes as a Node `Buffer` does
/// (`{"type":"Buffer","data":[...]}`).
pub(crate) fn to_json(data: &Data) -> Json {
    match data {
        Data::Null => Json::Null,
        Data::Bool(b) => Json::Bool(*b),
        Data::Number(n) => Json::Number(*n),
        Data::String(s) => Json::String(s.clone()),
        Data::Binary(bytes) => Json::object([
            ("type", Json::from("Buffer")),
            (
                "data",
                Json::Array(bytes.iter().map(|b| Json::from(u64::from(*b))).collect()),
            ),
        ]),
        Data::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Data::Object(members) => Json::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

pub(crate) fn encode_json(data: &Data) -> Vec<u8> {
    to_json(data).to_string().into_bytes()
}

pub(crate) fn encode_msgpack(data: &Data) -> Vec<u8> {
    msgpack::encode(&to_msgpack(data))
}

/// An answer: its request id and the whole value, which the waiting
/// request reads as its type says.
pub(crate) fn decode_response(payload: &[u8]) -> Option<(String, Data)> {
    let response = decode_payload(payload)?;
    let id = response.get("requestId")?.as_str()?.to_owned();
    Some((id, response))
}

/// A session handed over: its id, rooms, missed broadcasts and the last
/// one's offset.
pub(crate) type Found<'a> = (&'a str, &'a [String], &'a [Vec<engineio::Packet>], &'a str);

/// The answer to a `stdws:recover` request.
pub(crate) fn recovered(request_id: &str, uid: &str, found: Option<Found<'_>>) -> Vec<u8> {
    let mut fields = vec![
        ("type", Data::from(RECOVERED)),
        ("requestId", Data::from(request_id)),
        ("uid", Data::from(uid)),
        ("found", Data::Bool(found.is_some())),
    ];
    if let Some((id, rooms, missed, last_offset)) = found {
        fields.push(("id", Data::from(id)));
        fields.push(("lastOffset", Data::from(last_offset)));
        fields.push(("rooms", strings_data(rooms)));
        let missed = missed
            .iter()
            .map(|packets| {
                Data::Array(
                    packets
                        .iter()
                        .filter_map(|p| match p {
                            engineio::Packet::Message(text) => Some(Data::from(text.as_str())),
                            engineio::Packet::Binary(bytes) => Some(Data::Binary(bytes.clone())),
                            _ => None,
                        })
                        .collect(),
                )
            })
            .collect();
        fields.push(("missed", Data::Array(missed)));
    }
    // MessagePack: the missed packets may be binary.
    encode_msgpack(&Data::object(fields))
}

/// What a `stdws:recovered` answer holds: the socket's id, rooms, and the
/// broadcasts it missed, encoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recovered {
    pub(crate) uid: String,
    pub(crate) id: String,
    pub(crate) rooms: Vec<String>,
    pub(crate) missed: Vec<Vec<engineio::Packet>>,
    /// The offset of the last of `missed` (the one asked for if none).
    pub(crate) last_offset: String,
}

/// Reads a `stdws:recovered` answer: `Some(None)` if the node had no such
/// session, `None` if this is not one.
pub(crate) fn read_recovered(response: &Data) -> Option<Option<Recovered>> {
    if response.get("type").and_then(Data::as_str) != Some(RECOVERED) {
        return None;
    }
    if !matches!(response.get("found"), Some(Data::Bool(true))) {
        return Some(None);
    }
    let missed = response
        .get("missed")
        .and_then(Data::as_array)?
        .iter()
        .map(|packets| {
            packets
                .as_array()
                .unwrap_or_default()
                .iter()
                .filter_map(|p| match p {
                    Data::String(text) => Some(engineio::Packet::Message(text.clone())),
                    Data::Binary(bytes) => Some(engineio::Packet::Binary(bytes.clone())),
                    _ => None,
                })
                .collect()
        })
        .collect();
    Some(Some(Recovered {
        uid: response.get("uid")?.as_str()?.to_owned(),
        id: response.get("id")?.as_str()?.to_owned(),
        rooms: strings(response.get("rooms")).ok()?,
        missed,
        last_offset: response.get("lastOffset")?.as_str()?.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_as_nodes_adapter_writes_them() {
        // JSON.stringify of fetchSockets() and socketsJoin() in Node.
        let fetch =
            br#"{"uid":"aB3dE6","requestId":"xY9zW1","type":5,"opts":{"rooms":["r"],"except":[]}}"#;
        assert_eq!(
            decode_request(fetch),
            Ok(Message {
                uid: "aB3dE6".into(),
                request_id: Some("xY9zW1".into()),
                request: Request::Fetch(Select {
                    rooms: vec!["r".into()],
                    except: vec![],
                }),
            })
        );
        let join = br#"{"uid":"u","type":2,"opts":{"rooms":[],"except":["x"]},"rooms":["a","b"]}"#;
        let message = decode_request(join).unwrap();
        assert_eq!(message.request_id, None);
        assert_eq!(
            message.request,
            Request::Join {
                target: Target::Select(Select {
                    rooms: vec![],
                    except: vec!["x".into()]
                }),
                rooms: vec!["a".into(), "b".into()],
            }
        );
        let emit = br#"{"uid":"u","requestId":"q","type":6,"data":["ping",1]}"#;
        assert_eq!(
            decode_request(emit).unwrap().request,
            Request::ServerSideEmit(vec![Data::from("ping"), Data::from(1u64)])
        );
        assert!(decode_request(br#"{"uid":"u","type":42}"#).is_err());
        assert!(decode_request(b"garbage").is_err());
    }

    #[test]
    fn a_broadcast_with_acks_is_messagepack_both_ways() {
        let message = Message {
            uid: "u".into(),
            request_id: Some("r".into()),
            request: Request::Broadcast {
                name: "ev".into(),
                args: vec![Data::binary([7])],
                select: Select::default(),
                timeout: Some(Duration::from_millis(500)),
            },
        };
        let bytes = encode_request(&message, "/");
        let mut expected = vec![0x85, 0xa3];
        expected.extend_from_slice(b"uid");
        expected.extend_from_slice(&[0xa1, b'u', 0xa9]);
        expected.extend_from_slice(b"requestId");
        expected.extend_from_slice(&[0xa1, b'r', 0xa4]);
        expected.extend_from_slice(b"type");
        expected.extend_from_slice(&[0x07, 0xa6]);
        expected.extend_from_slice(b"packet");
        expected.extend_from_slice(&[0x83, 0xa4]);
        expected.extend_from_slice(b"type");
        expected.extend_from_slice(&[0x02, 0xa4]);
        expected.extend_from_slice(b"data");
        expected.extend_from_slice(&[0x92, 0xa2, b'e', b'v', 0xc4, 0x01, 0x07, 0xa3]);
        expected.extend_from_slice(b"nsp");
        expected.extend_from_slice(&[0xa1, b'/', 0xa4]);
        expected.extend_from_slice(b"opts");
        expected.extend_from_slice(&[0x83, 0xa5]);
        expected.extend_from_slice(b"rooms");
        expected.extend_from_slice(&[0x90, 0xa6]);
        expected.extend_from_slice(b"except");
        expected.extend_from_slice(&[0x90, 0xa5]);
        expected.extend_from_slice(b"flags");
        expected.extend_from_slice(&[0x81, 0xa7]);
        expected.extend_from_slice(b"timeout");
        expected.extend_from_slice(&[0xcd, 0x01, 0xf4]);
        assert_eq!(bytes, expected);
        assert_eq!(decode_request(&bytes), Ok(message));
    }

    #[test]
    fn other_requests_are_json_as_node_writes_them() {
        let message = Message {
            uid: "u".into(),
            request_id: None,
            request: Request::Disconnect {
                target: Target::Select(Select {
                    rooms: vec!["r".into()],
                    except: vec![],
                }),
                close: false,
            },
        };
        let bytes = encode_request(&message, "/");
        assert_eq!(
            bytes,
            br#"{"uid":"u","type":4,"opts":{"rooms":["r"],"except":[]},"close":false}"#
        );
        assert_eq!(decode_request(&bytes), Ok(message));
        let recover = Message {
            uid: "u".into(),
            request_id: Some("q".into()),
            request: Request::Recover {
                pid: "p".into(),
                offset: "1f".into(),
            },
        };
        let bytes = encode_request(&recover, "/");
        assert_eq!(
            bytes,
            br#"{"uid":"u","requestId":"q","type":"stdws:recover","pid":"p","offset":"1f"}"#
        );
        assert_eq!(decode_request(&bytes), Ok(recover));
    }

    #[test]
    fn every_prefix_of_a_request_or_answer_is_refused_or_read_never_a_panic() {
        let rooms = vec!["r".to_owned()];
        let missed = vec![vec![engineio::Packet::Binary(vec![1])]];
        let payloads = [
            encode_request(
                &Message {
                    uid: "u".into(),
                    request_id: Some("r".into()),
                    request: Request::Broadcast {
                        name: "ev".into(),
                        args: vec![Data::binary([7]), Data::from(-1i64)],
                        select: Select::default(),
                        timeout: Some(Duration::from_millis(5)),
                    },
                },
                "/",
            ),
            br#"{"uid":"aB3dE6","requestId":"xY9zW1","type":5,"opts":{"rooms":["r"],"except":[]}}"#
                .to_vec(),
            recovered("q", "n", Some(("s", &rooms, &missed, "1.t"))),
        ];
        for payload in &payloads {
            for end in 0..payload.len() {
                let _ = decode_request(&payload[..end]);
                if let Some((_, response)) = decode_response(&payload[..end]) {
                    let _ = read_recovered(&response);
                }
            }
        }
    }

    #[test]
    fn bytes_in_json_are_written_as_a_node_buffer() {
        assert_eq!(
            encode_json(&Data::Array(vec![Data::binary([1, 2])])),
            br#"[{"type":"Buffer","data":[1,2]}]"#
        );
    }

    #[test]
    fn a_recovered_session_travels_with_its_packets() {
        let missed = vec![vec![
            engineio::Packet::Message("451-[\"b\",{\"_placeholder\":true,\"num\":0}]".into()),
            engineio::Packet::Binary(vec![1, 2]),
        ]];
        let rooms = vec!["r".to_owned()];
        let bytes = recovered("q", "node", Some(("sid", &rooms, &missed, "a")));
        let (id, response) = decode_response(&bytes).unwrap();
        assert_eq!(id, "q");
        assert_eq!(
            read_recovered(&response),
            Some(Some(Recovered {
                uid: "node".into(),
                id: "sid".into(),
                rooms,
                missed,
                last_offset: "a".into(),
            }))
        );
        let (_, gone) = decode_response(&recovered("q", "node", None)).unwrap();
        assert_eq!(read_recovered(&gone), Some(None));
        let (_, other) = decode_response(br#"{"requestId":"q","sockets":[]}"#).unwrap();
        assert_eq!(read_recovered(&other), None);
    }
}
