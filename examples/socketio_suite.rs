//! The server that the official protocol test suites expect: the
//! `test-suite` folders of `socketio/engine.io-protocol` and
//! `socketio/socket.io-protocol` (issue 15, item 5), plus the events our
//! own client tests use (`.ci/socketio.sh`).
//!
//! ```text
//! cargo run --example socketio_suite -- --port 3000
//! ```
//!
//! - `/engine.io/`: raw Engine.IO, every message echoed;
//! - `/socket.io/`: namespaces `/` (the events below), `/custom` (emits
//!   `auth` on connect) and `/admin` (auth `{"token":"s3cret-token"}` only;
//!   `whoami`, `message-with-ack`); any other namespace is refused.
//!
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, and a
//! 1,000 ms connect timeout, as the suites expect. `--recovery` turns on
//! connection state recovery (the suites expect it off: it adds a `pid` to
//! the CONNECT answer). `--redis redis://HOST:PORT` joins a cluster
//! through Redis: broadcasts and room emits reach the sockets of every
//! node on that Redis, stdws's and Node `socket.io`'s with
//! `@socket.io/redis-adapter` (`.ci/socketio_redis.sh`), and `/` gains the
//! cluster events below; `--redis-key KEY` is the adapter's `key`
//! (`socket.io`).
//!
//! The cluster events of `/`, each acked with its result (or
//! `{"error": message}`): `cluster-fetch` (every node's sockets, as
//! `[{id, rooms}]` sorted by id), `cluster-join`(target, room),
//! `cluster-leave`(target, room), `cluster-disconnect`(target) (the sockets
//! of room `target` on every node), `cluster-ping`(x) (the answers of the
//! other nodes' `ping` server-side handlers), `cluster-note`(x) (a
//! server-side `note` to the other nodes), `cluster-ask`(x) (emits
//! `question-all`(x) to every socket of every node with an ack, 2 s, and
//! acks the answers sorted). This node answers `ping`(x) with
//! `["pong stdws", x]` and a `note`(x) by emitting `noted`(x) to its own
//! sockets.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use stdws::json::Value;
use stdws::socketio::engine::EngineIo;
use stdws::socketio::{ClusterError, Data, Namespace, Socket, SocketIo};

/// `{"error": message}`, the cluster events' answer when a request fails.
fn failed(e: ClusterError) -> Data {
    Data::object([("error", Data::from(e.to_string()))])
}

fn sorted(mut items: Vec<Data>) -> Data {
    items.sort_by_key(|d| format!("{d:?}"));
    Data::Array(items)
}

/// The cluster events of `/` (see the module docs).
fn cluster_events(main: Namespace, io: Arc<OnceLock<SocketIo>>) -> Namespace {
    let wait = Duration::from_secs(2);
    let target = |args: &[Data]| -> (String, String) {
        let text = |i: usize| {
            args.get(i)
                .and_then(Data::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        (text(0), text(1))
    };
    main.on("cluster-fetch", move |socket, _args, ack| {
        socket.server().of("/").fetch_sockets(wait, move |found| {
            let answer = match found {
                Ok(found) => sorted(
                    found
                        .into_iter()
                        .map(|s| {
                            let rooms = s.rooms.into_iter().map(Data::from).collect();
                            Data::object([("id", Data::from(s.id)), ("rooms", Data::Array(rooms))])
                        })
                        .collect(),
                ),
                Err(e) => failed(e),
            };
            ack.send([answer]);
        });
    })
    .on("cluster-join", move |socket, args, ack| {
        let (target, room) = target(&args);
        let done = socket.server().to(&target).sockets_join(&room);
        ack.send([done.map_or_else(failed, |()| Data::from(true))]);
    })
    .on("cluster-leave", move |socket, args, ack| {
        let (target, room) = target(&args);
        let done = socket.server().to(&target).sockets_leave(&room);
        ack.send([done.map_or_else(failed, |()| Data::from(true))]);
    })
    .on("cluster-disconnect", move |socket, args, ack| {
        let (target, _) = target(&args);
        let done = socket.server().to(&target).disconnect();
        ack.send([done.map_or_else(failed, |()| Data::from(true))]);
    })
    .on("cluster-ping", move |socket, args, ack| {
        socket
            .server()
            .server_side_emit_with_ack("/", "ping", args, wait, move |answers| {
                ack.send([answers.map_or_else(failed, Data::Array)]);
            });
    })
    .on("cluster-note", move |socket, args, ack| {
        let done = socket.server().server_side_emit("/", "note", args);
        ack.send([done.map_or_else(failed, |()| Data::from(true))]);
    })
    .on("cluster-ask", move |socket, args, ack| {
        socket
            .server()
            .of("/")
            .emit_with_ack("question-all", args, wait, move |answers| {
                ack.send([answers.map_or_else(failed, sorted)]);
            });
    })
    .on_server_side_emit("ping", |args, ack| {
        let mut answer = vec![Data::from("pong stdws")];
        answer.extend(args);
        ack.send(Data::Array(answer));
    })
    .on_server_side_emit("note", move |args, _ack| {
        if let Some(io) = io.get() {
            io.of("/").local().emit("noted", args);
        }
    })
}

fn whoami(socket: &Socket) -> Data {
    Data::object([
        ("sid", Data::from(socket.id())),
        ("transport", Data::from(socket.transport().as_str())),
        ("nsp", Data::from(socket.namespace())),
    ])
}

fn emit_auth(socket: &Socket, auth: &Value) -> Result<(), String> {
    let _ = socket.emit("auth", [Data::from(auth.clone())]);
    Ok(())
}

fn main() -> stdws::Result<()> {
    let mut port = 3000u16;
    let mut recovery = false;
    let mut redis = None;
    let mut redis_key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            "--recovery" => recovery = true,
            "--redis" => redis = args.next(),
            "--redis-key" => redis_key = args.next(),
            _ => {}
        }
    }
    let ping_interval = Duration::from_millis(300);
    let ping_timeout = Duration::from_millis(200);

    let engine = EngineIo::builder()
        .ping_interval(ping_interval)
        .ping_timeout(ping_timeout)
        .max_payload(1_000_000)
        .on_message(|conn, packet| {
            let _ = conn.send(vec![packet]);
        })
        .build();

    // The ids of the sockets that left `/`, oldest first, the last 1000.
    let left: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let left_in_handler = Arc::clone(&left);

    let main = Namespace::new()
        .on_connect(emit_auth)
        .on("message", |socket, args, _ack| {
            let _ = socket.emit("message-back", args);
        })
        .on("message-with-ack", |_socket, args, ack| ack.send(args))
        .on("whoami", |socket, _args, ack| ack.send([whoami(socket)]))
        .on("join", |socket, args, ack| {
            if let Some(room) = args.first().and_then(Data::as_str) {
                socket.join(room);
            }
            ack.send(args.into_iter().take(1));
        })
        .on("leave", |socket, args, ack| {
            if let Some(room) = args.first().and_then(Data::as_str) {
                socket.leave(room);
            }
            ack.send(args.into_iter().take(1));
        })
        .on("to-room", |socket, args, ack| {
            if let Some(room) = args.first().and_then(Data::as_str) {
                let payload = args.get(1).cloned().unwrap_or_default();
                socket
                    .to(room)
                    .emit("room-message", [Data::from(room), payload]);
            }
            ack.send([Data::from(true)]);
        })
        .on("broadcast", |socket, args, ack| {
            let payload = args.into_iter().next().unwrap_or_default();
            socket.broadcast().emit("broadcast-message", [payload]);
            ack.send([Data::from(true)]);
        })
        .on("ask", |socket, args, ack| {
            let payload = args.into_iter().next().unwrap_or_default();
            let asker = socket.clone();
            socket.emit_with_ack(
                "question",
                [payload],
                Duration::from_secs(5),
                move |answer| {
                    if let Ok(answer) = answer {
                        let _ = asker.emit("answer", answer);
                    }
                },
            );
            ack.send([Data::from(true)]);
        })
        .on("disconnect-me", |socket, _args, _ack| socket.disconnect())
        .on("disconnects", move |_socket, _args, ack| {
            let ids: Vec<Data> = left.lock().map_or_else(
                |_| Vec::new(),
                |l| l.iter().map(|id| Data::from(id.as_str())).collect(),
            );
            ack.send([Data::Array(ids)]);
        })
        .on_disconnect(move |socket, _reason| {
            if let Ok(mut left) = left_in_handler.lock() {
                if left.len() == 1000 {
                    left.pop_front();
                }
                left.push_back(socket.id().to_owned());
            }
        });

    let built: Arc<OnceLock<SocketIo>> = Arc::default();
    let main = match &redis {
        Some(_) => cluster_events(main, Arc::clone(&built)),
        None => main,
    };

    let custom = Namespace::new().on_connect(emit_auth);

    let admin = Namespace::new()
        .on_connect(|_socket, auth| {
            let token = Value::object([("token", Value::from("s3cret-token"))]);
            if *auth == token {
                Ok(())
            } else {
                Err("unauthorized".into())
            }
        })
        .on("whoami", |socket, _args, ack| ack.send([whoami(socket)]))
        .on("message-with-ack", |_socket, args, ack| ack.send(args));

    let mut io = SocketIo::builder();
    if recovery {
        io = io.connection_state_recovery(Duration::from_secs(120), 1000);
    }
    if let Some(key) = &redis_key {
        io = io.redis_key(key);
    }
    let io = io
        .ping_interval(ping_interval)
        .ping_timeout(ping_timeout)
        .max_payload(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
        .namespace("/", main)
        .namespace("/custom", custom)
        .namespace("/admin", admin)
        .build();
    let _ = built.set(io.clone());

    let mut builder = stdws::Server::builder();
    if let Some(url) = &redis {
        builder = builder.redis(url);
    }
    let builder = engine.mount(builder, "/engine.io/");
    let builder = io.mount(builder, "/socket.io/");
    let server = builder.bind(("127.0.0.1", port))?;
    println!("socketio_suite listening on http://{}", server.local_addr());
    server.run()
}
