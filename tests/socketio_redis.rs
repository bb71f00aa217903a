//! Socket.IO across two stdws nodes through a real Redis, in the format of
//! `@socket.io/redis-adapter` (the Node side of the same cluster is tested
//! by `.ci/socketio_redis.sh`). `.ci/redis.sh` starts a `redis-server` and
//! sets `STDWS_REDIS_URL`; without it the tests print a note and pass.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use stdws::socketio::{Data, Namespace, SocketIo};
use stdws::{Server, ServerHandle};
use support::{RawClient, TIMEOUT, handshake_request, read_http_reply, tcp, wait_until};

const PATH: &str = "/socket.io/";

fn redis_url(test: &str) -> Option<String> {
    let url = std::env::var("STDWS_REDIS_URL").ok();
    if url.is_none() {
        eprintln!("{test}: skipped, STDWS_REDIS_URL is not set (run .ci/redis.sh)");
    }
    url
}

/// A node of the socketio_suite's room events: `join`(room) acks the room,
/// `to-room`(room, x) sends `room-message`(x) to the room but the sender,
/// `broadcast`(x) sends `broadcast-message`(x) to everyone but the sender.
fn node(url: &str, key: &str) -> (ServerHandle, SocketIo) {
    let main = Namespace::new()
        .on("join", |socket, args, ack| {
            if let Some(room) = args.first().and_then(Data::as_str) {
                socket.join(room);
            }
            ack.send(args);
        })
        .on("to-room", |socket, args, ack| {
            if let [room, payload] = &args[..]
                && let Some(room) = room.as_str()
            {
                socket.to(room).emit("room-message", [payload.clone()]);
            }
            ack.send([Data::from(true)]);
        })
        .on("broadcast", |socket, args, ack| {
            socket.broadcast().emit("broadcast-message", args);
            ack.send([Data::from(true)]);
        });
    let io = SocketIo::builder()
        .namespace("/", main)
        .namespace("/other", Namespace::new())
        .redis_key(key)
        .build();
    let server = serve_on_redis(&io, url, key);
    (server, io)
}

fn text(client: &mut RawClient) -> String {
    let frame = client.read_frame().expect("a frame");
    assert_eq!(frame.opcode, 1, "{frame:?}");
    String::from_utf8(frame.payload).unwrap()
}

/// The next frame, an EVENT packet of the main namespace, as its JSON array.
fn next_event(client: &mut RawClient) -> stdws::json::Value {
    let packet = text(client);
    let array = packet.strip_prefix("42").expect("an EVENT of `/`");
    stdws::json::parse(array).unwrap()
}

/// A node serving `io`, on the Redis at `url` under `key`.
fn serve_on_redis(io: &SocketIo, url: &str, key: &str) -> ServerHandle {
    io.mount(Server::builder().workers(16), PATH)
        .redis(url)
        .redis_prefix(&format!("{key}:stdws:"))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// A WebSocket session joined to `namespace`.
fn client(addr: SocketAddr, namespace: &str) -> RawClient {
    let mut stream = tcp(addr);
    stream
        .write_all(handshake_request(&format!("{PATH}?EIO=4&transport=websocket"), "").as_bytes())
        .unwrap();
    assert_eq!(read_http_reply(&mut stream).status, 101);
    let mut client = RawClient::from_stream(stream);
    assert!(text(&mut client).starts_with("0{"));
    if namespace == "/" {
        client.send_text("40");
        assert!(text(&mut client).starts_with("40{"));
    } else {
        client.send_text(&format!("40{namespace},"));
        assert!(text(&mut client).starts_with(&format!("40{namespace},{{")));
    }
    client
}

/// Everything the client gets until it has had each of `ends` (each
/// node's last emit: what a node sent before its last arrives before it),
/// sorted; binary frames as `bin:` and their bytes.
fn until(client: &mut RawClient, ends: &[&str]) -> Vec<String> {
    let mut got = Vec::new();
    let mut seen = 0;
    while seen < ends.len() {
        let frame = client.read_frame().expect("a frame");
        let t = match frame.opcode {
            1 => String::from_utf8(frame.payload).unwrap(),
            _ => format!("bin:{:?}", frame.payload),
        };
        seen += usize::from(ends.contains(&t.as_str()));
        got.push(t);
    }
    got.sort();
    got
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn key(test: &str) -> String {
    format!("sio-test-{}-{test}", std::process::id())
}

#[test]
fn room_emits_and_broadcasts_reach_the_sockets_of_both_nodes_exactly_once() {
    let Some(url) = redis_url("sio_two_nodes") else {
        return;
    };
    let key = key("two_nodes");
    let (a, io_a) = node(&url, &key);
    let (b, io_b) = node(&url, &key);
    wait_until("both nodes are on Redis", || {
        a.stats().backplane.connected && b.stats().backplane.connected
    });
    let mut a1 = client(a.local_addr(), "/");
    let mut a2 = client(a.local_addr(), "/");
    let mut b1 = client(b.local_addr(), "/");
    let mut b_other = client(b.local_addr(), "/other");
    for c in [&mut a1, &mut b1] {
        c.send_text(r#"421["join","r"]"#);
        assert_eq!(text(c), r#"431["r"]"#);
    }
    // A room emit from a socket of node A: its room's members on both
    // nodes. The handlers ack once they have emitted.
    a2.send_text(r#"421["to-room","r","x"]"#);
    assert_eq!(text(&mut a2), r#"431[true]"#);
    // A broadcast from node B: everyone of `/` but the sender.
    b1.send_text(r#"421["broadcast",{"k":[1,-2,1.5,null,"é"]}]"#);
    // The room emit from node A may reach b1 before its own ack does.
    let mut b1_early = Vec::new();
    loop {
        let t = text(&mut b1);
        if t == r#"431[true]"# {
            break;
        }
        b1_early.push(t);
    }
    // The whole namespace, from the server, with a binary argument.
    io_b.emit("bin", [Data::binary([1, 2, 3])]);
    io_a.emit("end-a", []);
    io_b.emit("end-b", []);

    let ends = [r#"42["end-a"]"#, r#"42["end-b"]"#];
    let room = r#"42["room-message","x"]"#;
    let broadcast = r#"42["broadcast-message",{"k":[1,-2,1.5,null,"é"]}]"#;
    let bin = r#"451-["bin",{"_placeholder":true,"num":0}]"#;
    let bytes = "bin:[1, 2, 3]";
    assert_eq!(
        until(&mut a1, &ends),
        sorted(&[room, broadcast, bin, bytes, ends[0], ends[1]]),
        "a1: in the room, on the sender's node"
    );
    assert_eq!(
        until(&mut a2, &ends),
        sorted(&[broadcast, bin, bytes, ends[0], ends[1]]),
        "a2: the sender of the room emit"
    );
    let mut b1_got = until(&mut b1, &ends);
    b1_got.extend(b1_early);
    b1_got.sort();
    assert_eq!(
        b1_got,
        sorted(&[room, bin, bytes, ends[0], ends[1]]),
        "b1: in the room, on the other node; not its own broadcast"
    );
    // Another namespace hears nothing of `/`.
    io_a.of("/other").emit("other-end", []);
    assert_eq!(text(&mut b_other), r#"42/other,["other-end"]"#);
    // Nothing came twice: one more broadcast is the next frame everywhere
    // (the other namespace's emit above went first in A's order).
    io_a.emit("last", []);
    for c in [&mut a1, &mut a2, &mut b1] {
        assert_eq!(text(c), r#"42["last"]"#);
    }
    // A local broadcast stays on its node.
    io_a.of("/").local().emit("local", []);
    io_a.emit("after-local", []);
    assert_eq!(text(&mut a1), r#"42["local"]"#);
    assert_eq!(text(&mut a1), r#"42["after-local"]"#);
    assert_eq!(text(&mut b1), r#"42["after-local"]"#);
    let stats = a.stats().backplane;
    assert!(stats.published >= 3 && stats.received >= 3, "{stats:?}");
    a.shutdown_now();
    b.shutdown_now();
}

/// Publishes `payload` on `channel` with a connection of the test's own.
fn publish(url: &str, channel: &str, payload: &[u8]) {
    use std::io::Read;
    let addr = url.trim_start_matches("redis://");
    let mut redis = std::net::TcpStream::connect(addr).unwrap();
    redis.set_read_timeout(Some(support::TIMEOUT)).unwrap();
    let mut command = format!(
        "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{channel}\r\n${}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes();
    command.extend_from_slice(payload);
    command.extend_from_slice(b"\r\n");
    redis.write_all(&command).unwrap();
    let mut answer = [0u8; 64];
    let n = redis.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b":"), "{:?}", &answer[..n]);
}

#[test]
fn garbage_on_the_socketio_channels_is_ignored_and_delivery_goes_on() {
    let Some(url) = redis_url("sio_garbage") else {
        return;
    };
    let key = key("garbage");
    let (a, _io_a) = node(&url, &key);
    wait_until("the node is on Redis", || a.stats().backplane.connected);
    let mut c = client(a.local_addr(), "/");
    let channel = format!("{key}#/#");
    let mut x: u32 = 0x9e37_79b9;
    for len in 0..200usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        publish(&url, &channel, &bytes);
        // And on the request and response channels.
        publish(&url, &format!("{key}-request#/#"), &bytes);
        publish(&url, &format!("{key}-response#/#"), &bytes);
    }
    // Requests that are JSON or MessagePack but not what they claim.
    for payload in [
        &br#"{"uid":"x","type":5}"#[..],
        br#"{"uid":"x","requestId":"r","type":5,"opts":{"rooms":7}}"#,
        br#"{"uid":"x","requestId":"r","type":2,"opts":null}"#,
        br#"{"uid":"x","requestId":"r","type":7,"packet":{"data":[]}}"#,
        br#"{"uid":"x","requestId":"r","type":6,"data":"nope"}"#,
        br#"{"uid":"x","requestId":"r","type":"stdws:recover","pid":1}"#,
        br#"{"uid":"x","requestId":"r","type":1e400}"#,
        br#"{"uid":"x","requestId":"r","type":-1}"#,
        b"\x84\xa3uid\xa1x\xa9requestId\xa1r\xa4type\x07\xa6packet\xc0",
    ] {
        publish(&url, &format!("{key}-request#/#"), payload);
    }
    // A request, an ACK packet, deep nesting, a namespace the node lacks.
    for payload in [
        &b"\x81\xa3uid\xa1x"[..],
        b"\x93\xa1x\x82\xa4type\x03\xa3nsp\xa1/\x80",
        &[0x91; 1000][..],
        b"\x93\xa1x\x83\xa4type\x02\xa4data\x91\xa2ev\xa3nsp\xa4/zzz\x80",
    ] {
        publish(&url, &channel, payload);
    }
    // Then an emitter's message: delivered, the node still whole.
    publish(
        &url,
        &channel,
        b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x92\xa2ok\x01\xa3nsp\xa1/\x83\xa5rooms\x90\xa5flags\x80\xa6except\x90",
    );
    assert_eq!(text(&mut c), r#"42["ok",1]"#);
    // Counted once the delivery has returned, a moment after the client
    // may have read it.
    wait_until("the delivery is counted", || {
        a.stats().backplane.received >= 1
    });
    assert_eq!(a.stats().backplane.received, 1, "{:?}", a.stats());
    a.shutdown_now();
}

/// A redis-server of the test's own (`STDWS_REDIS_SERVER`), to stop and
/// continue; killed when dropped.
struct OwnRedis(std::process::Child, u16);

impl OwnRedis {
    fn start(test: &str) -> Option<OwnRedis> {
        use std::io::{BufRead, BufReader};
        let Ok(binary) = std::env::var("STDWS_REDIS_SERVER") else {
            eprintln!("{test}: skipped, STDWS_REDIS_SERVER is not set (run .ci/redis.sh)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready, is_ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = ready.send(());
                }
            }
        });
        is_ready.recv_timeout(support::TIMEOUT).unwrap();
        Some(OwnRedis(child, port))
    }

    fn signal(&self, sig: &str) {
        let pid = self.0.id().to_string();
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn socketio_broadcasts_written_to_a_stalled_redis_are_never_delivered_twice() {
    let Some(redis) = OwnRedis::start("sio_stalled") else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.1);
    let key = key("stalled");
    let (a, io_a) = node(&url, &key);
    let (b, _io_b) = node(&url, &key);
    wait_until("both nodes are on Redis", || {
        a.stats().backplane.connected && b.stats().backplane.connected
    });
    let mut on_a = client(a.local_addr(), "/");
    let mut on_b = client(b.local_addr(), "/");
    // Redis stops answering but keeps its sockets open (SIGSTOP): what the
    // publisher wrote waits unanswered, and on its next connection it must
    // not write the Socket.IO messages again (Redis will run both).
    redis.signal("-STOP");
    for k in 0..10u64 {
        io_a.emit("m", [Data::from(k)]);
    }
    for k in 0..10 {
        assert_eq!(text(&mut on_a), format!(r#"42["m",{k}]"#), "local at once");
    }
    wait_until("the publisher gives up and reconnects", || {
        a.stats().backplane.reconnects >= 1
    });
    redis.signal("-CONT");
    io_a.emit("after", []);
    let mut got = Vec::new();
    loop {
        let t = text(&mut on_b);
        if t == r#"42["after"]"# {
            break;
        }
        got.push(t);
    }
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(got, unique, "a message came twice");
    assert!(got.len() <= 10, "{got:?}");
    let stats = a.stats().backplane;
    // Every message that did not arrive is counted (some that were counted
    // may have arrived: Redis ran the stalled connection's commands).
    assert!(10 - got.len() <= stats.lost as usize, "{got:?} {stats:?}");
    assert!(
        stats.lost >= 1,
        "the unanswered messages are counted: {stats:?}"
    );
    a.shutdown_now();
    b.shutdown_now();
}

/// A node for the cluster requests: `/` answers the server-side emits
/// `ping` (with `pong <name>`) and `note` (into `notes`), with connection
/// state recovery on.
fn cluster_node(
    url: &str,
    key: &str,
    name: &'static str,
) -> (ServerHandle, SocketIo, std::sync::mpsc::Receiver<Vec<Data>>) {
    let (notes_tx, notes) = std::sync::mpsc::channel();
    let notes_tx = std::sync::Mutex::new(notes_tx);
    let main = Namespace::new()
        .on_server_side_emit("ping", move |args, ack| {
            let mut answer = vec![Data::from(format!("pong {name}"))];
            answer.extend(args);
            ack.send(Data::Array(answer));
        })
        .on_server_side_emit("note", move |args, _ack| {
            let _ = notes_tx.lock().unwrap().send(args);
        });
    let io = SocketIo::builder()
        .namespace("/", main)
        .connection_state_recovery(Duration::from_secs(60), 100)
        .redis_key(key)
        .build();
    let server = serve_on_redis(&io, url, key);
    (server, io, notes)
}

/// Two cluster nodes on one Redis, counting each other.
struct Cluster {
    a: ServerHandle,
    io_a: SocketIo,
    b: ServerHandle,
    io_b: SocketIo,
    /// What node B's `note` handler received.
    notes_b: std::sync::mpsc::Receiver<Vec<Data>>,
}

/// Nodes `a` and `b` under a key of their own, once both are on Redis and
/// count each other; `None` (the test skipped) without a Redis.
fn two_nodes(test: &str, key_name: &str) -> Option<Cluster> {
    let url = redis_url(test)?;
    let key = key(key_name);
    let (a, io_a, _) = cluster_node(&url, &key, "a");
    let (b, io_b, notes_b) = cluster_node(&url, &key, "b");
    wait_for_cluster(&a, &io_a, &b, &io_b);
    Some(Cluster {
        a,
        io_a,
        b,
        io_b,
        notes_b,
    })
}

/// Both nodes on Redis, and each counting the other.
fn wait_for_cluster(a: &ServerHandle, io_a: &SocketIo, b: &ServerHandle, io_b: &SocketIo) {
    wait_until("both nodes are on Redis and count each other", || {
        a.stats().backplane.connected
            && b.stats().backplane.connected
            && io_a.server_count("/") == 2
            && io_b.server_count("/") == 2
    });
}

/// A WebSocket session joined to `/` with the CONNECT payload `auth`: the
/// client, and the CONNECT answer's `sid` and `pid`.
fn connect_with(addr: SocketAddr, auth: &str) -> (RawClient, String, Option<String>) {
    let mut stream = tcp(addr);
    stream
        .write_all(handshake_request(&format!("{PATH}?EIO=4&transport=websocket"), "").as_bytes())
        .unwrap();
    assert_eq!(read_http_reply(&mut stream).status, 101);
    let mut client = RawClient::from_stream(stream);
    assert!(text(&mut client).starts_with("0{"));
    client.send_text(&format!("40{auth}"));
    let answer = text(&mut client);
    let answer = stdws::json::parse(answer.strip_prefix("40").expect("a CONNECT")).unwrap();
    let sid = answer["sid"].as_str().unwrap().to_owned();
    let pid = answer
        .get("pid")
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    (client, sid, pid)
}

/// What a cluster request's callback got.
fn answer<T: Send + 'static>(ask: impl FnOnce(Box<dyn FnOnce(T) + Send>)) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    ask(Box::new(move |result| {
        let _ = tx.send(result);
    }));
    rx.recv_timeout(2 * TIMEOUT).expect("the callback ran")
}

/// Reads an EVENT that asks for an ack: its id and its JSON arguments.
fn event_with_ack(client: &mut RawClient) -> (u64, String) {
    let t = text(client);
    let rest = t.strip_prefix("42").expect("an EVENT");
    let at = rest.find('[').expect("arguments");
    (
        rest[..at].parse().expect("an ack id"),
        rest[at..].to_owned(),
    )
}

#[test]
fn cluster_requests_reach_the_other_node_and_come_back() {
    let Some(Cluster {
        a,
        io_a,
        b,
        io_b,
        notes_b,
    }) = two_nodes("sio_cluster_requests", "requests")
    else {
        return;
    };
    let (mut a1, a1_id, _) = connect_with(a.local_addr(), "");
    let (mut b1, b1_id, _) = connect_with(b.local_addr(), "");

    // fetchSockets: both nodes' sockets, the other's with its handshake.
    let mut found = answer(|done| io_a.of("/").fetch_sockets(TIMEOUT, done)).unwrap();
    found.sort_by_key(|s| s.local);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        (found[0].id.as_str(), found[0].local),
        (b1_id.as_str(), false)
    );
    assert_eq!(
        (found[1].id.as_str(), found[1].local),
        (a1_id.as_str(), true)
    );
    assert_eq!(found[0].rooms, std::slice::from_ref(&b1_id));
    assert!(
        found[0]
            .handshake
            .get("url")
            .and_then(Data::as_str)
            .is_some_and(|u| u.starts_with(PATH)),
        "{:?}",
        found[0].handshake
    );

    // socketsJoin / socketsLeave on the other node, by room and except.
    io_a.of("/").except(&a1_id).sockets_join("joined").unwrap();
    wait_until("b1 has joined on node B", || {
        io_b.socket("/", &b1_id)
            .is_some_and(|s| s.rooms().contains(&"joined".to_owned()))
    });
    let joined = answer(|done| io_a.to("joined").fetch_sockets(TIMEOUT, done)).unwrap();
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].id, b1_id);
    io_a.to("joined").sockets_leave("joined").unwrap();
    wait_until("b1 has left on node B", || {
        io_b.socket("/", &b1_id)
            .is_some_and(|s| !s.rooms().contains(&"joined".to_owned()))
    });

    // serverSideEmit, with and without an ack: the other node's handler.
    let answers =
        answer(|done| io_a.server_side_emit_with_ack("/", "ping", [Data::from(1)], TIMEOUT, done))
            .unwrap();
    assert_eq!(
        answers,
        [Data::Array(vec![Data::from("pong b"), Data::from(1)])]
    );
    io_a.server_side_emit("/", "note", [Data::from("n")])
        .unwrap();
    assert_eq!(notes_b.recv_timeout(TIMEOUT).unwrap(), [Data::from("n")]);
    // No handler for it on the other node: a timeout, within the bound.
    let start = std::time::Instant::now();
    let err = answer(|done| {
        io_a.server_side_emit_with_ack("/", "nobody", [], Duration::from_millis(300), done)
    })
    .unwrap_err();
    assert_eq!(
        err,
        stdws::socketio::ClusterError::Timeout {
            answered: 0,
            expected: 1
        }
    );
    assert!(start.elapsed() < Duration::from_secs(3));

    // A broadcast with acks across both nodes.
    let (acks_tx, acks) = std::sync::mpsc::channel();
    let tx = acks_tx.clone();
    io_a.of("/")
        .emit_with_ack("q", [Data::from(7)], TIMEOUT, move |r| {
            let _ = tx.send(r);
        });
    for (client, name) in [(&mut a1, "a1"), (&mut b1, "b1")] {
        let (id, args) = event_with_ack(client);
        assert_eq!(args, r#"["q",7]"#);
        client.send_text(&format!(r#"43{id}["{name}",2]"#));
    }
    let mut got = acks.recv_timeout(TIMEOUT).unwrap().unwrap();
    got.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    assert_eq!(got, [Data::from("a1"), Data::from("b1")]);
    // One client does not answer: a timeout that says how many did.
    io_a.of("/")
        .emit_with_ack("q", [], Duration::from_millis(500), move |r| {
            let _ = acks_tx.send(r);
        });
    let (id, _) = event_with_ack(&mut a1);
    a1.send_text(&format!(r#"43{id}["a1"]"#));
    let (_, _) = event_with_ack(&mut b1);
    assert_eq!(
        acks.recv_timeout(TIMEOUT).unwrap(),
        Err(stdws::socketio::ClusterError::Timeout {
            answered: 1,
            expected: 2
        })
    );

    // disconnectSockets on the other node.
    io_a.to(&b1_id).disconnect().unwrap();
    assert_eq!(text(&mut b1), "41");
    wait_until("b1 is gone from node B", || {
        io_b.socket("/", &b1_id).is_none()
    });
    let found = answer(|done| io_b.of("/").fetch_sockets(TIMEOUT, done)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, a1_id);
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn a_session_parked_on_one_node_is_restored_on_the_other_with_what_it_missed() {
    let Some(Cluster {
        a, io_a, b, io_b, ..
    }) = two_nodes("sio_recovery_across", "recovery")
    else {
        return;
    };
    let (mut client, sid, pid) = connect_with(a.local_addr(), "");
    let pid = pid.expect("recovery is on: a pid");
    io_a.socket("/", &sid).unwrap().join("r");
    io_a.to("r").emit("m", [Data::from(1)]);
    let event = next_event(&mut client);
    assert_eq!(event[1], stdws::json::Value::from(1));
    let offset = event[2].as_str().unwrap().to_owned();
    // The connection is lost; broadcasts go on, from both nodes.
    drop(client);
    wait_until("the socket has left node A", || {
        io_a.socket("/", &sid).is_none()
    });
    io_a.to("r").emit("m", [Data::from(2)]);
    io_b.to("r").emit("m", [Data::from(3)]);
    io_b.to("elsewhere").emit("m", [Data::from(0)]);
    // Back, on node B, with its pid and offset.
    let auth = format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#);
    let (mut client, restored_sid, same_pid) = connect_with(b.local_addr(), &auth);
    assert_eq!(restored_sid, sid, "the same socket id");
    // The same pid: the official client takes that as recovered.
    assert_eq!(same_pid.as_deref(), Some(pid.as_str()));
    let socket = io_b.socket("/", &sid).expect("the socket is on node B");
    assert!(socket.recovered());
    assert!(
        socket.rooms().contains(&"r".to_owned()),
        "{:?}",
        socket.rooms()
    );
    // What it missed, once each and in order; then live broadcasts.
    let mut missed = Vec::new();
    for _ in 0..2 {
        let event = next_event(&mut client);
        missed.push(event[1].as_u64().unwrap());
    }
    assert_eq!(missed, [2, 3]);
    io_a.to("r").emit("m", [Data::from(4)]);
    let event = next_event(&mut client);
    assert_eq!(event[1].as_u64(), Some(4));
    io_b.emit("last", []);
    let last = next_event(&mut client);
    assert_eq!(last[0].as_str(), Some("last"), "nothing twice");
    // Lost again, and back on node A: node B hands it back.
    drop(client);
    wait_until("the socket has left node B", || {
        io_b.socket("/", &sid).is_none()
    });
    io_b.to("r").emit("m", [Data::from(5)]);
    let auth = format!(
        r#"{{"pid":"{pid}","offset":"{}"}}"#,
        last[1].as_str().unwrap()
    );
    let (mut client, back, _) = connect_with(a.local_addr(), &auth);
    assert_eq!(back, sid);
    let event = next_event(&mut client);
    assert_eq!(event[1].as_u64(), Some(5));
    assert!(io_a.socket("/", &sid).unwrap().recovered());
    // Restored once: the same pid and offset again get a new socket.
    drop(client);
    wait_until("the socket has left node A", || {
        io_a.socket("/", &sid).is_none()
    });
    let (_c, again, _) = connect_with(b.local_addr(), &auth);
    assert_ne!(again, sid, "a pid is restored once");
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn a_pid_whose_node_does_not_answer_gets_a_new_session_in_bounded_time() {
    let Some(Cluster { a, b, io_b, .. }) = two_nodes("sio_recovery_silent", "silent") else {
        return;
    };
    let start = std::time::Instant::now();
    let (_c, sid, pid) = connect_with(b.local_addr(), r#"{"pid":"gone.x","offset":"1"}"#);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!io_b.socket("/", &sid).unwrap().recovered());
    assert!(pid.is_some());
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn without_a_backplane_the_cluster_wide_calls_act_on_this_node_alone() {
    let io = SocketIo::builder().namespace("/", Namespace::new()).build();
    let server = io
        .mount(Server::builder(), PATH)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let (mut c, id, pid) = connect_with(server.local_addr(), "");
    assert_eq!(pid, None);
    assert_eq!(io.server_count("/"), 1);
    let found = answer(|done| io.of("/").fetch_sockets(TIMEOUT, done)).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].local && found[0].id == id);
    assert_eq!(
        answer(|done| io.server_side_emit_with_ack("/", "x", [], TIMEOUT, done)),
        Ok(vec![])
    );
    io.server_side_emit("/", "x", []).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    io.of("/").emit_with_ack("q", [], TIMEOUT, move |r| {
        let _ = tx.send(r);
    });
    let (ack, _) = event_with_ack(&mut c);
    c.send_text(&format!(r#"43{ack}["only"]"#));
    assert_eq!(
        rx.recv_timeout(TIMEOUT).unwrap(),
        Ok(vec![Data::from("only")])
    );
    io.of("/").sockets_join("j").unwrap();
    assert!(
        io.socket("/", &id)
            .unwrap()
            .rooms()
            .contains(&"j".to_owned())
    );
    io.to("j").disconnect().unwrap();
    assert_eq!(text(&mut c), "41");
    server.shutdown_now();
}
