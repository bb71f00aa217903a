//! Several servers as one through Redis (issue 16), against a real
//! `redis-server`: `.ci/redis.sh` starts one and sets `STDWS_REDIS_URL`,
//! and `STDWS_REDIS_SERVER` to the binary for the tests that start (and
//! kill) a Redis of their own. Without them those tests print a note and
//! pass, so that `cargo test` passes on a machine without Redis.
//!
//! Every node runs the broadcast example's contract: a client on `/` is in
//! the default group, a client on `/room/NAME` in room NAME only, and each
//! message goes to its whole group on every node, sender included.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stdws::{Connection, Server, ServerHandle};
use support::{RawClient, TIMEOUT, wait_until};

fn group(conn: &Connection) -> String {
    match conn.path().strip_prefix("/room/") {
        Some(name) => format!("room:{name}"),
        None => "/".to_owned(),
    }
}

/// A node of the broadcast example's contract on an ephemeral port.
fn node(url: &str, prefix: &str) -> ServerHandle {
    Server::builder()
        .workers(64)
        .on_connect(|conn| conn.join(&group(conn)).unwrap())
        .on_message(|conn, message| {
            conn.broadcast_room(&group(conn), message);
        })
        .redis(url)
        .redis_prefix(prefix)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// A channel prefix of the test's own, so that tests sharing one Redis
/// never hear each other.
fn prefix(test: &str) -> String {
    format!("stdws-test:{}:{test}:", std::process::id())
}

fn shared_redis(test: &str) -> Option<String> {
    let url = std::env::var("STDWS_REDIS_URL").ok();
    if url.is_none() {
        eprintln!("{test}: skipped, STDWS_REDIS_URL is not set (run .ci/redis.sh)");
    }
    url
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of the test's own, to kill and restart.
struct OwnRedis {
    binary: String,
    port: u16,
    child: Option<Child>,
    args: Vec<&'static str>,
}

impl OwnRedis {
    fn binary(test: &str) -> Option<String> {
        let binary = std::env::var("STDWS_REDIS_SERVER").ok();
        if binary.is_none() {
            eprintln!("{test}: skipped, STDWS_REDIS_SERVER is not set (run .ci/redis.sh)");
        }
        binary
    }

    fn new(binary: String) -> OwnRedis {
        OwnRedis {
            binary,
            port: free_port(),
            child: None,
            args: Vec::new(),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it and returns once it says it accepts connections.
    fn start(&mut self) {
        let mut child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let stdout = child.stdout.take().unwrap();
        let (ready, is_ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections") {
                    let _ = ready.send(());
                }
            }
        });
        self.child = Some(child);
        is_ready
            .recv_timeout(TIMEOUT)
            .expect("redis-server did not get ready");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn connected(nodes: &[&ServerHandle]) -> bool {
    nodes.iter().all(|n| n.stats().backplane.connected)
}

/// Reads text messages until `count` have arrived.
fn read_texts(client: &mut RawClient, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let frame = client
                .read_frame()
                .unwrap_or_else(|| panic!("message {i} of {count} did not arrive"));
            assert_eq!(frame.opcode, 1, "{frame:?}");
            String::from_utf8(frame.payload).unwrap()
        })
        .collect()
}

/// Reads text messages until `last` arrives.
fn read_until(client: &mut RawClient, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let frame = client
            .read_frame()
            .unwrap_or_else(|| panic!("{last:?} did not arrive; got {got:?}"));
        let text = String::from_utf8(frame.payload).unwrap();
        let done = text == last;
        got.push(text);
        if done {
            return got;
        }
    }
}

/// Checks that each sender's messages (`SENDER-N`) came in order, without
/// repeats, and returns how many came from each.
fn per_sender_in_order(messages: &[String]) -> HashMap<String, usize> {
    let mut next: HashMap<String, usize> = HashMap::new();
    for m in messages {
        let (sender, n) = m.rsplit_once('-').unwrap();
        let n: usize = n.parse().unwrap();
        let expected = next.entry(sender.to_owned()).or_insert(0);
        assert_eq!(n, *expected, "{sender}'s messages out of order or repeated");
        *expected += 1;
    }
    next
}

#[test]
fn three_nodes_deliver_broadcasts_and_room_messages_exactly_once_in_order() {
    let Some(url) = shared_redis("three_nodes") else {
        return;
    };
    let prefix = prefix("three");
    let nodes: Vec<ServerHandle> = (0..3).map(|_| node(&url, &prefix)).collect();
    wait_until("every node is on Redis", || {
        connected(&nodes.iter().collect::<Vec<_>>())
    });
    const PER_SENDER: usize = 40;
    let mut everyone = Vec::new();
    let mut room_a = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        for j in 0..2 {
            everyone.push((format!("n{i}c{j}"), RawClient::connect(n.local_addr(), "/")));
        }
        room_a.push((
            format!("n{i}a"),
            RawClient::connect(n.local_addr(), "/room/a"),
        ));
    }
    let mut room_b = RawClient::connect(nodes[2].local_addr(), "/room/b");
    wait_until("every client is registered", || {
        nodes.iter().all(|n| {
            n.client_count()
                == if n.local_addr() == nodes[2].local_addr() {
                    4
                } else {
                    3
                }
        })
    });
    for k in 0..PER_SENDER {
        for (name, client) in everyone.iter_mut().chain(room_a.iter_mut()) {
            client.send_text(&format!("{name}-{k}"));
        }
    }
    for (name, client) in &mut everyone {
        let got = read_texts(client, 6 * PER_SENDER);
        let counts = per_sender_in_order(&got);
        assert_eq!(counts.len(), 6, "{name} heard {counts:?}");
        assert!(
            counts.keys().all(|s| !s.ends_with('a')),
            "{name}: a room message leaked"
        );
    }
    for (name, client) in &mut room_a {
        let got = read_texts(client, 3 * PER_SENDER);
        let counts = per_sender_in_order(&got);
        assert_eq!(counts.len(), 3, "{name} heard {counts:?}");
        assert!(
            counts.keys().all(|s| s.ends_with('a')),
            "{name}: {counts:?}"
        );
    }
    // Room b heard nothing of all that: its own message is the first it gets.
    room_b.send_text("b-0");
    room_b.expect_text("b-0");
    // Each node published its own clients' messages and received the others'.
    let mine = [3 * PER_SENDER, 3 * PER_SENDER, 3 * PER_SENDER + 1];
    let total: usize = mine.iter().sum();
    for (n, mine) in nodes.iter().zip(mine) {
        wait_until("the stats settle", || {
            let s = n.stats().backplane;
            s.published as usize == mine && s.received as usize == total - mine
        });
        let s = n.stats().backplane;
        assert_eq!((s.lost, s.missed, s.duplicates), (0, 0, 0), "{s:?}");
    }
    // Client ids carry their node: unique across nodes.
    let mut ids: Vec<u64> = nodes
        .iter()
        .flat_map(|n| n.clients())
        .map(|c| c.id())
        .collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count);
    wait_until("heartbeats count every node's clients", || {
        nodes.iter().all(|n| n.cluster_client_count() == 10)
    });
    for n in &nodes {
        n.shutdown_now();
    }
}

#[test]
fn a_send_by_id_reaches_a_client_of_another_node() {
    let Some(url) = shared_redis("send_by_id") else {
        return;
    };
    let prefix = prefix("send_to");
    let (a, b) = (node(&url, &prefix), node(&url, &prefix));
    wait_until("both nodes are on Redis", || connected(&[&a, &b]));
    let mut on_b = RawClient::connect(b.local_addr(), "/room/x");
    wait_until("the client is registered", || b.client_count() == 1);
    let id = b.clients()[0].id();
    a.send_to(id, "for you").unwrap();
    on_b.expect_text("for you");
    assert!(
        a.send_to(a.clients().first().map_or(1, |c| c.id()), "x")
            .is_err()
    );
    a.shutdown_now();
    b.shutdown_now();
}

fn node_with_id(url: &str, prefix: &str, id: u16) -> stdws::Result<ServerHandle> {
    Server::builder()
        .on_message(|conn, message| {
            conn.broadcast(message);
        })
        .redis(url)
        .redis_prefix(prefix)
        .node_id(id)
        .bind("127.0.0.1:0")?
        .spawn()
}

#[test]
fn an_explicit_node_id_that_another_node_holds_fails_the_start() {
    let Some(url) = shared_redis("explicit_node_id") else {
        return;
    };
    let prefix = prefix("node_id");
    let a = node_with_id(&url, &prefix, 7).unwrap();
    let _client = RawClient::connect(a.local_addr(), "/");
    wait_until("the client is registered", || a.client_count() == 1);
    assert_eq!(
        a.clients()[0].id() >> 37,
        7,
        "the node id is in the client id"
    );
    let err = node_with_id(&url, &prefix, 7).unwrap_err();
    assert!(err.to_string().contains("node id 7"), "{err}");
    // Another prefix is another cluster, with ids of its own.
    node_with_id(&url, &format!("{prefix}other:"), 7)
        .unwrap()
        .shutdown_now();
    // A node that stops frees its id at once.
    a.shutdown_now();
    node_with_id(&url, &prefix, 7).unwrap().shutdown_now();
}

#[test]
fn two_nodes_given_one_id_while_redis_was_down_are_told_when_it_comes() {
    let Some(binary) = OwnRedis::binary("node_id_conflict") else {
        return;
    };
    let mut redis = OwnRedis::new(binary);
    let prefix = prefix("node_id_conflict");
    let a = node_with_id(&redis.url(), &prefix, 9).unwrap();
    let b = node_with_id(&redis.url(), &prefix, 9).unwrap();
    redis.start();
    wait_until("both nodes are on Redis", || connected(&[&a, &b]));
    wait_until("one of them sees the other's claim", || {
        a.stats().backplane.node_id_conflicts + b.stats().backplane.node_id_conflicts > 0
    });
    let conflicts = |n: &ServerHandle| n.stats().backplane.node_id_conflicts > 0;
    assert!(
        conflicts(&a) != conflicts(&b),
        "exactly one node holds the id"
    );
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn a_node_serves_its_clients_while_redis_is_down_and_joins_when_it_comes() {
    // Nothing listens on this port yet: this half needs no Redis at all.
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let a = node(&url, "down:");
    let mut client = RawClient::connect(a.local_addr(), "/");
    client.send_text("alone-0");
    client.expect_text("alone-0");
    assert!(!a.stats().backplane.connected);
    let Some(binary) = OwnRedis::binary("redis_down_at_start") else {
        a.shutdown_now();
        return;
    };
    let mut redis = OwnRedis::new(binary);
    redis.port = port;
    redis.start();
    let b = node(&url, "down:");
    wait_until("both nodes are on Redis", || connected(&[&a, &b]));
    assert!(a.stats().backplane.reconnects >= 1, "{:?}", a.stats());
    let mut other = RawClient::connect(b.local_addr(), "/");
    wait_until("the client is registered", || b.client_count() == 1);
    client.send_text("alone-1");
    client.expect_text("alone-1");
    other.expect_text("alone-1");
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn with_redis_away_a_full_queue_drops_and_counts_never_blocks() {
    // Nothing listens on this port: no message can be published. The queue
    // toward Redis holds 16 MiB; what does not fit is counted as lost.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let a = node(&url, "full:");
    let mut client = RawClient::connect(a.local_addr(), "/");
    let mib = "m".repeat(1024 * 1024);
    let started = Instant::now();
    for _ in 0..20 {
        client.send_text(&mib);
        assert_eq!(read_texts(&mut client, 1)[0].len(), mib.len());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a publish waited on Redis"
    );
    let s = a.stats().backplane;
    assert_eq!((s.published, s.lost), (0, 5), "{s:?}");
    a.shutdown_now();
}

#[test]
fn redis_killed_and_restarted_mid_run_loses_nothing_twice() {
    let Some(binary) = OwnRedis::binary("redis_restart") else {
        return;
    };
    let mut redis = OwnRedis::new(binary);
    redis.start();
    let url = redis.url();
    let (a, b) = (node(&url, "restart:"), node(&url, "restart:"));
    wait_until("both nodes are on Redis", || connected(&[&a, &b]));
    let mut sender = RawClient::connect(a.local_addr(), "/");
    let mut listener = RawClient::connect(b.local_addr(), "/");
    wait_until("the clients are registered", || {
        a.client_count() == 1 && b.client_count() == 1
    });
    for k in 0..10 {
        sender.send_text(&format!("a-{k}"));
    }
    assert_eq!(read_texts(&mut sender, 10).len(), 10);
    let before = read_until(&mut listener, "a-9");
    assert_eq!(before.len(), 10);

    redis.kill();
    wait_until("both nodes see Redis gone", || {
        !a.stats().backplane.connected && !b.stats().backplane.connected
    });
    // Local delivery does not wait on Redis.
    let started = Instant::now();
    for k in 10..20 {
        sender.send_text(&format!("a-{k}"));
    }
    assert_eq!(read_texts(&mut sender, 10).len(), 10);
    assert!(started.elapsed() < Duration::from_secs(2));

    redis.start();
    wait_until("both nodes are back", || connected(&[&a, &b]));
    for k in 20..30 {
        sender.send_text(&format!("a-{k}"));
    }
    assert_eq!(read_texts(&mut sender, 10).len(), 10);
    let after = read_until(&mut listener, "a-29");
    // What was sent while Redis was away may be lost; nothing comes twice
    // or out of order, and everything after the return arrives.
    let mut last = 9;
    for m in &after {
        let n: usize = m.strip_prefix("a-").unwrap().parse().unwrap();
        assert!(n > last, "out of order or repeated: {after:?}");
        last = n;
    }
    for k in 20..30 {
        assert!(
            after.contains(&format!("a-{k}")),
            "a-{k} missing: {after:?}"
        );
    }
    let (sa, sb) = (a.stats().backplane, b.stats().backplane);
    assert!(sa.reconnects >= 1 && sb.reconnects >= 1, "{sa:?} {sb:?}");
    assert_eq!(
        sa.published + sa.lost,
        30,
        "every message published or counted lost: {sa:?}"
    );
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn a_stalled_redis_never_holds_up_local_delivery_and_duplicates_nothing() {
    let Some(binary) = OwnRedis::binary("redis_stalled") else {
        return;
    };
    let mut redis = OwnRedis::new(binary);
    redis.start();
    let url = redis.url();
    let (a, b) = (node(&url, "stall:"), node(&url, "stall:"));
    wait_until("both nodes are on Redis", || connected(&[&a, &b]));
    let mut sender = RawClient::connect(a.local_addr(), "/");
    let mut listener = RawClient::connect(b.local_addr(), "/");
    wait_until("the clients are registered", || {
        a.client_count() == 1 && b.client_count() == 1
    });
    let pid = redis.child.as_ref().unwrap().id().to_string();
    let signal = |sig: &str| {
        let status = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(status.success());
    };
    // Redis stops answering but keeps its sockets open (SIGSTOP).
    signal("-STOP");
    let started = Instant::now();
    for k in 0..10 {
        sender.send_text(&format!("a-{k}"));
    }
    assert_eq!(read_texts(&mut sender, 10).len(), 10);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "local delivery waited on Redis"
    );
    // The publisher gives up on its unanswered connection and makes another,
    // sending the same messages again on it.
    wait_until("the publisher times out and reconnects", || {
        a.stats().backplane.reconnects >= 1
    });
    signal("-CONT");
    // Redis now runs both connections' PUBLISHes: each message once, in order.
    let got = read_until(&mut listener, "a-9");
    assert_eq!(per_sender_in_order(&got)["a"], 10, "{got:?}");
    let s = b.stats().backplane;
    eprintln!("after the stall: {s:?}");
    assert_eq!(s.received, 10, "{s:?}");
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn a_subscriber_that_redis_drops_for_falling_behind_is_detected_and_reconnected() {
    let Some(binary) = OwnRedis::binary("slow_subscriber") else {
        return;
    };
    let mut redis = OwnRedis::new(binary);
    // A subscriber with more than 64 KiB waiting for it is "behind": one
    // message larger than that puts every subscriber over the limit.
    redis.args = vec!["--client-output-buffer-limit", "pubsub", "64kb", "0", "0"];
    redis.start();
    let url = redis.url();
    let (a, b) = (node(&url, "slow:"), node(&url, "slow:"));
    wait_until("both nodes are on Redis", || connected(&[&a, &b]));
    let mut sender = RawClient::connect(a.local_addr(), "/");
    let mut listener = RawClient::connect(b.local_addr(), "/");
    wait_until("the clients are registered", || {
        a.client_count() == 1 && b.client_count() == 1
    });
    // Node b has heard from node a (a heartbeat), so a gap is a gap.
    wait_until("node b hears node a", || b.cluster_client_count() == 2);
    let big = "x".repeat(200 * 1024);
    sender.send_text(&big);
    assert_eq!(read_texts(&mut sender, 1)[0].len(), big.len());
    wait_until("node b's subscription is dropped and made again", || {
        let s = b.stats().backplane;
        s.reconnects >= 1 && s.connected
    });
    // What it missed shows in the sequence numbers (the heartbeats' too).
    wait_until("the loss is counted", || b.stats().backplane.missed >= 1);
    sender.send_text("after-0");
    sender.expect_text("after-0");
    listener.expect_text("after-0");
    a.shutdown_now();
    b.shutdown_now();
}

#[test]
fn auth_with_a_password_or_an_acl_user_and_select_a_database() {
    let Some(binary) = OwnRedis::binary("auth") else {
        return;
    };
    let mut redis = OwnRedis::new(binary);
    redis.args = vec![
        "--requirepass",
        "s3cret",
        "--user",
        "app",
        "on",
        ">p@ss",
        "~*",
        "&*",
        "+@all",
    ];
    redis.start();
    let port = redis.port;
    // Pub/sub ignores the database, but SELECT must still succeed.
    let by_password = node(&format!("redis://:s3cret@127.0.0.1:{port}/3"), "auth:");
    let by_user = node(&format!("redis://app:p%40ss@127.0.0.1:{port}"), "auth:");
    let refused = node(&format!("redis://:wrong@127.0.0.1:{port}"), "auth:");
    wait_until("both good nodes are on Redis", || {
        connected(&[&by_password, &by_user])
    });
    let mut a = RawClient::connect(by_password.local_addr(), "/");
    let mut b = RawClient::connect(by_user.local_addr(), "/");
    let mut c = RawClient::connect(refused.local_addr(), "/");
    wait_until("the clients are registered", || {
        by_password.client_count() == 1 && by_user.client_count() == 1
    });
    a.send_text("a-0");
    a.expect_text("a-0");
    b.expect_text("a-0");
    // The node Redis refused serves its own client and hears nothing else.
    assert!(!refused.stats().backplane.connected);
    c.send_text("c-0");
    c.expect_text("c-0");
    for n in [by_password, by_user, refused] {
        n.shutdown_now();
    }
}

#[test]
fn a_node_killed_mid_run_leaves_the_others_whole() {
    let Some(url) = shared_redis("node_killed") else {
        return;
    };
    let prefix = prefix("killed");
    let nodes: Vec<ServerHandle> = (0..3).map(|_| node(&url, &prefix)).collect();
    wait_until("every node is on Redis", || {
        connected(&nodes.iter().collect::<Vec<_>>())
    });
    let mut clients: Vec<RawClient> = nodes
        .iter()
        .map(|n| RawClient::connect(n.local_addr(), "/"))
        .collect();
    wait_until("every client is registered", || {
        nodes.iter().all(|n| n.client_count() == 1)
    });
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_text(&format!("n{i}-0"));
    }
    for c in &mut clients {
        assert_eq!(per_sender_in_order(&read_texts(c, 3)).len(), 3);
    }
    wait_until("heartbeats count every node's clients", || {
        nodes.iter().all(|n| n.cluster_client_count() == 3)
    });
    // Node 2 dies: its clients are cut, the others carry on.
    nodes[2].shutdown_now();
    let _gone = clients.pop();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_text(&format!("n{i}-1"));
    }
    for c in &mut clients {
        let got = read_texts(c, 2);
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, ["n0-1", "n1-1"]);
    }
    wait_until("the dead node's clients no longer count", || {
        nodes[..2].iter().all(|n| n.cluster_client_count() == 2)
    });
    for n in &nodes[..2] {
        assert_eq!(n.stats().backplane.duplicates, 0);
        n.shutdown_now();
    }
}

/// `.ci/nginx.sh`: three broadcast example nodes behind nginx, configured as
/// the README says; this test talks to them through nginx only.
#[test]
fn three_nodes_behind_a_load_balancer_behave_as_one() {
    let Ok(balancer) = std::env::var("STDWS_BALANCER_ADDR") else {
        eprintln!("load balancer: skipped, STDWS_BALANCER_ADDR is not set (run .ci/nginx.sh)");
        return;
    };
    let addr: std::net::SocketAddr = balancer.parse().unwrap();
    let mut group: Vec<RawClient> = (0..6).map(|_| RawClient::connect(addr, "/")).collect();
    let mut room: Vec<RawClient> = (0..3)
        .map(|_| RawClient::connect(addr, "/room/lb"))
        .collect();
    // A client is registered once its own message comes back to it.
    for (i, c) in group.iter_mut().chain(room.iter_mut()).enumerate() {
        let sync = format!("sync{i}-0");
        c.send_text(&sync);
        read_until(c, &sync);
    }
    const PER_SENDER: usize = 20;
    for k in 0..PER_SENDER {
        for (i, c) in group.iter_mut().enumerate() {
            c.send_text(&format!("g{i}-{k}"));
        }
        for (i, c) in room.iter_mut().enumerate() {
            c.send_text(&format!("r{i}-{k}"));
        }
    }
    for (clients, senders, mark) in [(&mut group, 6, 'g'), (&mut room, 3, 'r')] {
        for c in clients.iter_mut() {
            let mut got = Vec::new();
            while got.len() < senders * PER_SENDER {
                let frame = c.read_frame().expect("a message through the balancer");
                let text = String::from_utf8(frame.payload).unwrap();
                if !text.starts_with("sync") {
                    assert!(text.starts_with(mark), "{text} reached the wrong group");
                    got.push(text);
                }
            }
            let counts = per_sender_in_order(&got);
            assert_eq!(counts.len(), senders, "{counts:?}");
        }
    }
}
