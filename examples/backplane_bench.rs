//! What the Redis backplane costs: cross-node broadcast deliveries per
//! second with three nodes against one node holding the same clients, and
//! the latency a cross-node message adds (p50 and p99), in one run.
//!
//! ```text
//! cargo run --release --example backplane_bench -- --redis redis://127.0.0.1:6379 \
//!     [--clients 20] [--messages 2000] [--probes 500]
//! ```
//!
//! **Throughput.** Three senders each broadcast `--messages` 64-byte binary
//! messages to `3 x --clients` clients (senders included). "One node": all
//! of them on one local-only server. "Three nodes": `--clients` on each of
//! three servers joined by Redis, one sender on each, so that two thirds of
//! the deliveries cross Redis. Each sender keeps at most 256 of its own
//! messages in flight (it waits for its own copies), so that no client
//! falls behind far enough to be disconnected. Deliveries per second are
//! all deliveries over the time until the last client has all its messages.
//!
//! **Latency.** One sender on node A, one listener on node A and one on
//! node B; for each probe, the time from the send to each arrival. The
//! added latency of a cross-node message is the difference, probe by probe.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use stdws::{ClientBuilder, Message, Server, ServerHandle};

struct Args {
    redis: String,
    clients: usize,
    messages: usize,
    probes: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        redis: String::new(),
        clients: 20,
        messages: 2000,
        probes: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--redis" => args.redis = it.next().ok_or("--redis needs a URL")?,
            "--clients" => args.clients = number("--clients")?.max(1),
            "--messages" => args.messages = number("--messages")?.max(1),
            "--probes" => args.probes = number("--probes")?.max(1),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.redis.is_empty() {
        return Err("--redis redis://HOST:PORT is required".into());
    }
    Ok(args)
}

fn node(redis: Option<(&str, &str)>) -> ServerHandle {
    let mut builder = Server::builder()
        .workers(1024)
        .max_queued_bytes(16 * 1024 * 1024)
        .on_message(|conn, message| {
            conn.broadcast(message);
        });
    if let Some((url, prefix)) = redis {
        builder = builder.redis(url).redis_prefix(prefix);
    }
    let node = builder.bind("127.0.0.1:0").unwrap().spawn().unwrap();
    if redis.is_some() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !node.stats().backplane.connected {
            assert!(Instant::now() < deadline, "no connection to Redis");
            thread::sleep(Duration::from_millis(10));
        }
    }
    node
}

fn client(node: &ServerHandle) -> stdws::WebSocket<std::net::TcpStream> {
    ClientBuilder::new(format!("ws://{}/", node.local_addr()))
        .read_timeout(Duration::from_secs(30))
        .connect()
        .unwrap()
}

/// A sender's count of its own messages come back, to bound what it has in flight.
#[derive(Default)]
struct Window {
    back: Mutex<u64>,
    moved: Condvar,
}

/// Broadcast deliveries per second with `per_node` clients on each node,
/// the first `senders_per_node` of each sending.
fn throughput(
    nodes: &[ServerHandle],
    per_node: usize,
    senders_per_node: usize,
    messages: usize,
) -> f64 {
    let senders = nodes.len() * senders_per_node;
    let expected = (senders * messages) as u64;
    let receivers = nodes.len() * per_node;
    let ready = Arc::new(std::sync::Barrier::new(receivers + 1));
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for n in nodes {
        for i in 0..per_node {
            let (reader, writer) = client(n).split().unwrap();
            let window = Arc::new(Window::default());
            let sender_id = (i < senders_per_node).then_some(writers.len() as u8);
            {
                let window = Arc::clone(&window);
                let ready = Arc::clone(&ready);
                readers.push(thread::spawn(move || {
                    let mut reader = reader;
                    ready.wait();
                    let mut got = 0u64;
                    while got < expected {
                        match reader.read() {
                            Ok(Message::Binary(b)) => {
                                got += 1;
                                if Some(b[0]) == sender_id {
                                    *window.back.lock().unwrap() += 1;
                                    window.moved.notify_all();
                                }
                            }
                            Ok(_) => {}
                            Err(e) => panic!("a client failed after {got} of {expected}: {e}"),
                        }
                    }
                    Instant::now()
                }));
            }
            if let Some(id) = sender_id {
                writers.push((id, writer, window));
            } else {
                drop(writer);
            }
        }
    }
    // Every client is connected and registered before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.iter().map(|n| n.client_count()).sum::<usize>() < receivers {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(5));
    }
    ready.wait();
    let start = Instant::now();
    let sending: Vec<_> = writers
        .into_iter()
        .map(|(id, writer, window)| {
            thread::spawn(move || {
                let mut payload = [0u8; 64];
                payload[0] = id;
                for k in 0..messages as u64 {
                    let mut back = window.back.lock().unwrap();
                    while k.saturating_sub(*back) >= 256 {
                        back = window.moved.wait(back).unwrap();
                    }
                    drop(back);
                    payload[1..9].copy_from_slice(&k.to_be_bytes());
                    writer.send_binary(&payload).unwrap();
                }
                writer
            })
        })
        .collect();
    let done = readers
        .into_iter()
        .map(|r| r.join().unwrap())
        .max()
        .unwrap();
    for s in sending {
        drop(s.join().unwrap());
    }
    let deliveries = expected * receivers as u64;
    deliveries as f64 / done.duration_since(start).as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Microseconds from send to arrival on the sender's node and on another.
fn latency(a: &ServerHandle, b: &ServerHandle, probes: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (sender_reader, sender) = client(a).split().unwrap();
    drop(sender_reader);
    let mut arrivals = Vec::new();
    for n in [a, b] {
        let (tx, rx) = mpsc::channel::<(u64, Instant)>();
        let mut ws = client(n);
        thread::spawn(move || {
            while let Ok(message) = ws.read() {
                if let Message::Text(t) = message {
                    if tx.send((t.parse().unwrap_or(0), Instant::now())).is_err() {
                        break;
                    }
                }
            }
        });
        arrivals.push(rx);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.client_count() < 2 || b.client_count() < 1 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(5));
    }
    let (mut local, mut remote, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..probes as u64 {
        let sent = Instant::now();
        sender.send_text(&k.to_string()).unwrap();
        let mut times = [0.0f64; 2];
        for (i, rx) in arrivals.iter().enumerate() {
            loop {
                let (n, at) = rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("a probe was lost");
                if n == k {
                    times[i] = at.duration_since(sent).as_secs_f64() * 1e6;
                    break;
                }
            }
        }
        local.push(times[0]);
        remote.push(times[1]);
        added.push(times[1] - times[0]);
    }
    for v in [&mut local, &mut remote, &mut added] {
        v.sort_by(f64::total_cmp);
    }
    (local, remote, added)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("backplane_bench: {e}");
            eprintln!(
                "usage: backplane_bench --redis redis://HOST:PORT [--clients N] [--messages N] [--probes N]"
            );
            std::process::exit(2);
        }
    };
    let prefix = format!("stdws-bench:{}:", std::process::id());
    let redis = Some((args.redis.as_str(), prefix.as_str()));

    let one = [node(None)];
    let one_rate = throughput(&one, 3 * args.clients, 3, args.messages);
    one[0].shutdown_now();

    let three: Vec<ServerHandle> = (0..3).map(|_| node(redis)).collect();
    let three_rate = throughput(&three, args.clients, 1, args.messages);
    let stats: Vec<_> = three.iter().map(|n| n.stats().backplane).collect();
    let (local, remote, added) = latency(&three[0], &three[1], args.probes);
    for n in &three {
        n.shutdown_now();
    }

    let lost: u64 = stats.iter().map(|s| s.lost + s.missed).sum();
    println!(
        "broadcast, {} clients, 3 senders x {} messages of 64 bytes",
        3 * args.clients,
        args.messages
    );
    println!("| setup | deliveries/s | ratio |");
    println!("|---|---:|---:|");
    println!("| one node, local only | {one_rate:.0} | 1.00 |");
    println!(
        "| three nodes through Redis | {three_rate:.0} | {:.2} |",
        three_rate / one_rate
    );
    println!("(lost or missed across nodes: {lost})");
    println!();
    println!("latency over {} probes, microseconds", args.probes);
    println!("| path | p50 | p99 |");
    println!("|---|---:|---:|");
    for (name, v) in [
        ("sender's node", &local),
        ("another node", &remote),
        ("added by the backplane", &added),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} |",
            percentile(v, 0.5),
            percentile(v, 0.99)
        );
    }
}
