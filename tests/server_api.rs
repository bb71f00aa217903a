//! The server's API over real sockets: handlers and callbacks, the
//! connection handle, the registry, broadcast and rooms, slow consumers,
//! handshake hooks, routing, and the lifecycle.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stdws::protocol::http::Response;
use stdws::server::{Connection, Disconnect, Endpoint, Handler, SlowClientPolicy};
use stdws::{CloseCode, DataMessage, Server};
use support::*;

fn recv<T>(rx: &mpsc::Receiver<T>) -> T {
    rx.recv_timeout(TIMEOUT)
        .expect("the event did not come in time")
}

// ---- handlers and callbacks ------------------------------------------------

/// Reports every event it sees.
struct Recorder {
    events: mpsc::Sender<String>,
}

impl Handler for Recorder {
    fn on_open(&mut self, conn: &Connection) {
        self.events.send(format!("open {}", conn.path())).unwrap();
    }
    fn on_message(&mut self, conn: &Connection, message: DataMessage) {
        self.events
            .send(format!(
                "message {:?}",
                message.as_text().unwrap_or("<binary>")
            ))
            .unwrap();
        conn.send(message).unwrap();
    }
    fn on_pong(&mut self, _: &Connection, payload: &[u8]) {
        self.events
            .send(format!("pong {}", String::from_utf8_lossy(payload)))
            .unwrap();
    }
    fn on_close(&mut self, _: &Connection, why: &Disconnect) {
        self.events
            .send(format!(
                "close {} {:?} peer={} clean={}",
                why.code.0, why.reason, why.by_peer, why.was_clean
            ))
            .unwrap();
    }
}

fn recorder_server() -> (stdws::ServerHandle, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Server::builder()
        .handler(move || Recorder {
            events: tx.lock().unwrap().clone(),
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    (server, rx)
}

#[test]
fn a_handler_sees_open_message_pong_and_the_peers_close() {
    let (server, events) = recorder_server();
    let mut client = RawClient::connect(server.local_addr(), "/room?x=1");
    assert_eq!(recv(&events), "open /room");
    client.send_text("hi");
    assert_eq!(recv(&events), "message \"hi\"");
    client.expect_text("hi");
    client.send(true, 10, b"beat");
    assert_eq!(recv(&events), "pong beat");
    client.send_close(4001, "bye now");
    assert_eq!(client.expect_close().0, Some(4001));
    assert_eq!(recv(&events), "close 4001 \"bye now\" peer=true clean=true");
    server.shutdown_now();
}

#[test]
fn a_connection_that_drops_without_a_close_is_reported_as_1006() {
    let (server, events) = recorder_server();
    let client = RawClient::connect(server.local_addr(), "/");
    assert_eq!(recv(&events), "open /");
    drop(client);
    let close = recv(&events);
    assert!(close.starts_with("close 1006 "), "{close}");
    assert!(close.ends_with("peer=true clean=false"), "{close}");
    server.shutdown_now();
}

#[test]
fn a_protocol_violation_is_reported_with_its_code() {
    let (server, events) = recorder_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    assert_eq!(recv(&events), "open /");
    client.send(true, 1, b"\xff");
    assert_eq!(client.expect_close().0, Some(1007));
    let close = recv(&events);
    assert!(close.starts_with("close 1007 "), "{close}");
    assert!(close.ends_with("peer=false clean=false"), "{close}");
    server.shutdown_now();
}

#[test]
fn callbacks_see_connect_message_and_disconnect() {
    let (tx, rx) = mpsc::channel();
    let (tx1, tx2, tx3) = (
        Mutex::new(tx.clone()),
        Mutex::new(tx.clone()),
        Mutex::new(tx),
    );
    let server = Server::builder()
        .on_connect(move |conn| {
            tx1.lock()
                .unwrap()
                .send(format!("connect {}", conn.id()))
                .unwrap()
        })
        .on_message(move |conn, msg| {
            tx2.lock()
                .unwrap()
                .send(format!("message {} {:?}", conn.id(), msg))
                .unwrap()
        })
        .on_disconnect(move |conn, why| {
            tx3.lock()
                .unwrap()
                .send(format!("disconnect {} {}", conn.id(), why.code.0))
                .unwrap()
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let connect = recv(&rx);
    let id: u64 = connect.strip_prefix("connect ").unwrap().parse().unwrap();
    client.send(true, 2, &[1, 2, 3]);
    assert_eq!(recv(&rx), format!("message {id} Binary([01, 02, 03])"));
    client.send_close(1000, "");
    client.expect_close();
    assert_eq!(recv(&rx), format!("disconnect {id} 1000"));
    server.shutdown_now();
}

#[test]
fn connection_ids_are_unique_and_the_handle_shows_the_request() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Server::builder()
        .on_connect(move |conn| {
            let request = conn.request();
            tx.lock()
                .unwrap()
                .send((
                    conn.id(),
                    conn.peer_addr(),
                    request.query_param("room").map(|r| r.into_owned()),
                    request.cookie("session").map(str::to_owned),
                    request.headers().get("x-custom").map(str::to_owned),
                ))
                .unwrap();
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let mut stream = tcp(server.local_addr());
        let request = handshake_request(
            "/chat?room=lobby",
            "Cookie: a=1; session=s3cr3t\r\nX-Custom: yes\r\n",
        );
        stream.write_all(request.as_bytes()).unwrap();
        assert_eq!(read_http_reply(&mut stream).status, 101);
        let (id, peer, room, session, custom) = recv(&rx);
        assert_eq!(peer, stream.local_addr().unwrap());
        assert_eq!(
            (room.as_deref(), session.as_deref(), custom.as_deref()),
            (Some("lobby"), Some("s3cr3t"), Some("yes"))
        );
        ids.push(id);
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    server.shutdown_now();
}

// ---- broadcast and the registry --------------------------------------------

#[test]
fn a_broadcast_reaches_every_client_exactly_once_in_the_senders_order() {
    let server = Server::builder()
        .on_message(|conn, msg| {
            conn.broadcast(msg);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut clients: Vec<RawClient> = (0..20)
        .map(|_| RawClient::connect(server.local_addr(), "/"))
        .collect();
    wait_until("all 20 clients are registered", || {
        server.client_count() == 20
    });
    for i in 0..50 {
        clients[0].send_text(&format!("msg {i}"));
    }
    for client in &mut clients {
        for i in 0..50 {
            client.expect_text(&format!("msg {i}"));
        }
    }
    // Nothing more: a ping's pong must be the next frame.
    for client in &mut clients {
        client.send(true, 9, b"end");
        let frame = client.read_frame().unwrap();
        assert_eq!((frame.opcode, frame.payload.as_slice()), (10, &b"end"[..]));
    }
    server.shutdown_now();
}

#[test]
fn sends_from_any_thread_reach_the_client_and_frames_never_interleave() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    wait_until("the client is registered", || server.client_count() == 1);
    let id = server.clients()[0].id();
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let server = server.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let text = format!("{t}:{i}:{}", "x".repeat(i * 37 % 3000));
                    server.send_to(id, text).unwrap();
                }
            })
        })
        .collect();
    let mut next = [0usize; 4];
    for _ in 0..800 {
        let frame = client.read_frame().unwrap();
        let text = String::from_utf8(frame.payload).unwrap();
        let mut parts = text.splitn(3, ':');
        let t: usize = parts.next().unwrap().parse().unwrap();
        let i: usize = parts.next().unwrap().parse().unwrap();
        assert_eq!(parts.next().unwrap().len(), i * 37 % 3000);
        assert_eq!(i, next[t], "thread {t}'s messages arrive in its order");
        next[t] += 1;
    }
    for s in senders {
        s.join().unwrap();
    }
    assert!(matches!(
        server.send_to(999_999, "nobody"),
        Err(stdws::Error::NoSuchClient(999_999))
    ));
    server.shutdown_now();
}

#[test]
fn a_client_that_never_reads_does_not_hold_up_broadcasts_and_is_disconnected() {
    let server = echo_builder()
        .max_queued_bytes(256 * 1024)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let stalled = RawClient::connect(server.local_addr(), "/");
    let mut healthy = RawClient::connect(server.local_addr(), "/");
    wait_until("both clients are registered", || server.client_count() == 2);
    let stalled_id = server.clients().iter().map(|c| c.id()).min().unwrap();
    // Broadcast far more than the kernel buffers and the queue hold, paced by
    // the healthy client's reading: every broadcast must return without
    // waiting for the stalled client.
    let message = "y".repeat(64 * 1024);
    let (read_tx, read_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let broadcaster = {
        let server = server.clone();
        std::thread::spawn(move || {
            let mut disconnected = Vec::new();
            for i in 0..400 {
                let report = server.broadcast(format!("{i:04}{message}"));
                disconnected.extend(report.disconnected);
                if read_rx.recv_timeout(TIMEOUT).is_err() {
                    break;
                }
            }
            done_tx.send(disconnected).unwrap();
        })
    };
    for i in 0..400 {
        let frame = healthy.read_frame().unwrap();
        assert_eq!(&frame.payload[..4], format!("{i:04}").as_bytes());
        read_tx.send(()).unwrap();
    }
    let disconnected = recv(&done_rx);
    broadcaster.join().unwrap();
    assert_eq!(disconnected, vec![stalled_id]);
    wait_until("the stalled client is gone", || server.client_count() == 1);
    drop(stalled);
    server.shutdown_now();
}

#[test]
fn the_drop_policy_drops_messages_for_a_slow_client_and_keeps_it() {
    let server = echo_builder()
        .max_queued_bytes(128 * 1024)
        .slow_client_policy(SlowClientPolicy::DropMessage)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut stalled = RawClient::connect(server.local_addr(), "/");
    wait_until("the client is registered", || server.client_count() == 1);
    let message = "z".repeat(64 * 1024);
    let mut dropped = 0;
    for _ in 0..300 {
        dropped += server.broadcast(message.as_str()).dropped.len();
    }
    assert!(dropped > 0, "a queue of 128 KiB cannot hold 300 x 64 KiB");
    assert_eq!(server.client_count(), 1);
    // It is still served: the messages that were kept arrive whole.
    let first = stalled.read_frame().unwrap();
    assert_eq!(first.payload.len(), message.len());
    server.shutdown_now();
}

#[test]
fn rooms_scope_broadcasts_and_are_left_on_disconnect() {
    let server = Server::builder()
        .on_connect(|conn| {
            if let Some(room) = conn.request().query_param("room") {
                conn.join(&room).unwrap();
            }
        })
        .on_message(|conn, msg| {
            for room in conn.rooms() {
                conn.broadcast_room(&room, msg.clone());
            }
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut a1 = RawClient::connect(server.local_addr(), "/?room=a");
    let mut a2 = RawClient::connect(server.local_addr(), "/?room=a");
    let mut b1 = RawClient::connect(server.local_addr(), "/?room=b");
    wait_until("three clients in two rooms", || {
        server.room_members("a").len() == 2 && server.room_members("b").len() == 1
    });
    a1.send_text("to a");
    a1.expect_text("to a");
    a2.expect_text("to a");
    b1.send_text("to b");
    b1.expect_text("to b");
    // a2 got nothing from room b: its next frame is the answer to its ping.
    a2.send(true, 9, b"p");
    assert_eq!(a2.read_frame().unwrap().opcode, 10);
    assert_eq!(server.rooms(), vec!["a".to_owned(), "b".to_owned()]);
    drop(a1);
    wait_until("a1 left room a", || server.room_members("a").len() == 1);
    drop(b1);
    wait_until("room b is gone", || server.rooms() == vec!["a".to_owned()]);
    server.shutdown_now();
}

#[test]
fn no_registry_entry_is_left_after_a_thousand_connections() {
    let server = echo_server();
    for i in 0..1000 {
        let mut client = RawClient::connect(server.local_addr(), "/");
        if i % 2 == 0 {
            client.send_close(1000, "");
            client.expect_close();
        }
    }
    wait_until("every client has left", || server.client_count() == 0);
    wait_until("nothing is left in the registry", || {
        server.debug_counts()[..4] == [0, 0, 0, 0]
    });
    server.shutdown_now();
}

// ---- handshake hooks, origins, subprotocols, routing -------------------------

#[test]
fn a_hook_can_refuse_with_any_status_and_add_headers_when_it_accepts() {
    let server = Server::builder()
        .on_handshake(|hs| {
            if hs.request().query_param("token").as_deref() != Some("ok") {
                return Err(Response::text(401, "a token is needed")
                    .with_header("WWW-Authenticate", "Token"));
            }
            hs.add_header("Set-Cookie", "seen=1");
            Ok(())
        })
        .on_message(|_, _| {})
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let refused = http_exchange(server.local_addr(), &handshake_request("/?token=no", ""));
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body, "a token is needed\n");
    assert_eq!(refused.header("WWW-Authenticate").as_deref(), Some("Token"));
    let accepted = http_exchange(server.local_addr(), &handshake_request("/?token=ok", ""));
    assert_eq!(accepted.status, 101);
    assert_eq!(accepted.header("Set-Cookie").as_deref(), Some("seen=1"));
    server.shutdown_now();
}

#[test]
fn only_allowed_origins_may_connect() {
    let server = echo_builder()
        .allowed_origins(["https://good.example"])
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(
        http_exchange(
            addr,
            &handshake_request("/", "Origin: https://good.example\r\n")
        )
        .status,
        101
    );
    let evil = http_exchange(
        addr,
        &handshake_request("/", "Origin: https://evil.example\r\n"),
    );
    assert_eq!(evil.status, 403);
    assert!(evil.body.contains("evil.example"));
    assert_eq!(
        http_exchange(addr, &handshake_request("/", "")).status,
        101,
        "no Origin: not a browser"
    );
    server.shutdown_now();
}

#[test]
fn subprotocols_are_chosen_by_server_preference_or_by_the_hook() {
    let server = Server::builder()
        .route("/auto", Endpoint::callbacks().subprotocols(["v2", "v1"]))
        .route(
            "/hook",
            Endpoint::callbacks().on_handshake(|hs| {
                let last = hs.offered_subprotocols().last().map(str::to_owned);
                if let Some(p) = last {
                    hs.select_subprotocol(&p);
                }
                Ok(())
            }),
        )
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let offer = "Sec-WebSocket-Protocol: v1, v2\r\n";
    assert_eq!(
        http_exchange(addr, &handshake_request("/auto", offer))
            .header("Sec-WebSocket-Protocol")
            .as_deref(),
        Some("v2")
    );
    let none = http_exchange(
        addr,
        &handshake_request("/auto", "Sec-WebSocket-Protocol: v9\r\n"),
    );
    assert_eq!(
        (none.status, none.header("Sec-WebSocket-Protocol")),
        (101, None)
    );
    assert_eq!(
        http_exchange(addr, &handshake_request("/hook", offer))
            .header("Sec-WebSocket-Protocol")
            .as_deref(),
        Some("v2")
    );
    server.shutdown_now();
}

#[test]
fn routes_serve_their_paths_unknown_paths_get_404_and_pages_are_served() {
    let server = Server::builder()
        .route(
            "/echo",
            Endpoint::callbacks().on_message(|c, m| drop(c.send(m))),
        )
        .route(
            "/shout",
            Endpoint::callbacks()
                .on_message(|c, m| drop(c.send_text(&m.as_text().unwrap_or("").to_uppercase()))),
        )
        .http(|request| match request.path() {
            "/" => Response::new(200)
                .with_header("Content-Type", "text/html")
                .with_body("<p>hello</p>"),
            _ => Response::text(404, "no page here"),
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let mut echo = RawClient::connect(addr, "/echo");
    echo.send_text("abc");
    echo.expect_text("abc");
    let mut shout = RawClient::connect(addr, "/shout");
    shout.send_text("abc");
    shout.expect_text("ABC");
    let missing = http_exchange(addr, &handshake_request("/nope", ""));
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/nope"));
    let page = http_exchange(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((page.status, page.body.as_str()), (200, "<p>hello</p>"));
    server.shutdown_now();
    let plain = echo_server();
    let reply = http_exchange(plain.local_addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reply.status, 426);
    assert!(reply.body.contains("WebSocket client"));
    plain.shutdown_now();
}

// ---- closing from the server -------------------------------------------------

#[test]
fn a_close_from_another_thread_comes_after_queued_messages() {
    let (server, events) = recorder_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    assert_eq!(recv(&events), "open /");
    let conn = server.client(server.clients()[0].id()).unwrap();
    for i in 0..100 {
        conn.send_text(&format!("n{i}")).unwrap();
    }
    conn.close(CloseCode(4000), "done").unwrap();
    assert!(matches!(
        conn.send_text("late"),
        Err(stdws::Error::SendAfterClose)
    ));
    let (code, before) = client.expect_close();
    assert_eq!(code, Some(4000));
    assert_eq!(before.len(), 100);
    client.send_close(4000, "");
    client.expect_eof();
    assert_eq!(recv(&events), "close 4000 \"\" peer=false clean=true");
    server.shutdown_now();
}

#[test]
fn a_panicking_handler_closes_its_connection_with_1011_and_the_worker_survives() {
    let server = Server::builder()
        .workers(1)
        .on_message(|conn, msg| {
            if msg.as_text() == Some("panic") {
                panic!("handler bug (this panic is expected by the test)");
            }
            let _ = conn.send(msg);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    for _ in 0..3 {
        let mut client = RawClient::connect_when_served(server.local_addr(), "/");
        client.send_text("panic");
        assert_eq!(client.expect_close().0, Some(1011));
        client.expect_eof();
    }
    let mut client = RawClient::connect_when_served(server.local_addr(), "/");
    client.send_text("fine");
    client.expect_text("fine");
    assert_eq!(server.worker_threads(), 1);
    server.shutdown_now();
}

// ---- admission and lifecycle ------------------------------------------------

#[test]
fn a_full_pool_answers_503_with_retry_after_and_recovers() {
    let server = echo_builder()
        .workers(2)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let a = RawClient::connect(addr, "/");
    let mut b = RawClient::connect(addr, "/");
    let full = http_exchange(addr, &handshake_request("/", ""));
    assert_eq!(full.status, 503);
    assert_eq!(full.header("Retry-After").as_deref(), Some("1"));
    drop(a);
    wait_until("a worker is free", || server.client_count() == 1);
    // The worker frees itself after the client's FIN.
    let mut c = RawClient::connect_when_served(addr, "/");
    c.send_text("served");
    c.expect_text("served");
    b.send_text("still served");
    b.expect_text("still served");
    server.shutdown_now();
}

#[test]
fn denied_connections_get_503_until_allowed_again() {
    let server = echo_server();
    let mut existing = RawClient::connect(server.local_addr(), "/");
    server.deny_new_connections();
    assert_eq!(
        http_exchange(server.local_addr(), &handshake_request("/", "")).status,
        503
    );
    existing.send_text("unaffected");
    existing.expect_text("unaffected");
    server.allow_new_connections();
    RawClient::connect(server.local_addr(), "/");
    server.shutdown_now();
}

#[test]
fn graceful_shutdown_sends_1001_ends_every_thread_and_frees_the_port() {
    let server = echo_server();
    let addr = server.local_addr();
    let mut clients: Vec<RawClient> = (0..10).map(|_| RawClient::connect(addr, "/")).collect();
    wait_until("all clients are registered", || server.client_count() == 10);
    let answering = std::thread::spawn(move || {
        for client in &mut clients {
            assert_eq!(client.expect_close().0, Some(1001));
            client.send_close(1001, "");
            client.expect_eof();
        }
    });
    assert!(
        server.shutdown(Duration::from_secs(10)),
        "every client closed cleanly"
    );
    answering.join().unwrap();
    assert!(server.is_stopped());
    assert_eq!(server.debug_counts(), [0, 0, 0, 0, 0]);
    TcpListener::bind(addr).expect("the port is free again");
}

#[test]
fn shutdown_gives_up_on_clients_that_do_not_answer_at_the_deadline() {
    let server = echo_server();
    let _silent = RawClient::connect(server.local_addr(), "/");
    wait_until("the client is registered", || server.client_count() == 1);
    assert!(!server.shutdown(Duration::from_millis(200)));
    assert!(server.is_stopped());
    assert_eq!(server.debug_counts(), [0, 0, 0, 0, 0]);
}

#[test]
fn shutdown_from_inside_a_handler_does_not_deadlock() {
    let server = Server::builder()
        .on_message(|conn, _| {
            conn.server().shutdown(Duration::from_secs(5));
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_text("stop");
    assert_eq!(client.expect_close().0, Some(1001));
    client.send_close(1001, "");
    server.wait();
    assert!(server.is_stopped());
}

#[test]
fn server_run_blocks_until_a_handle_shuts_it_down() {
    let server = echo_builder().bind("127.0.0.1:0").unwrap();
    let handle = server.handle();
    let runner = std::thread::spawn(move || server.run());
    RawClient::connect(handle.local_addr(), "/");
    handle.shutdown(Duration::from_secs(1));
    runner.join().unwrap().unwrap();
    let _ = Arc::new(());
}

// ---- named events (Socket.IO's style) ----------------------------------------

#[test]
fn named_events_reach_their_handlers_and_emit_reaches_rooms() {
    use stdws::server::Events;
    let events = Events::new()
        .on("join", |conn, room| {
            let _ = conn.join(room.trim_matches('"'));
        })
        .on("chat", |conn, data| {
            for room in conn.rooms() {
                conn.server().broadcast_event_room(&room, "chat", data);
            }
        })
        .otherwise(|conn, message| {
            let _ = conn.emit("error", &format!("{{\"unknown\":{}}}", message.len()));
        });
    let server = Server::builder()
        .route("/socket", Endpoint::events(events))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut ann = RawClient::connect(server.local_addr(), "/socket");
    let mut bob = RawClient::connect(server.local_addr(), "/socket");
    let mut eve = RawClient::connect(server.local_addr(), "/socket");
    ann.send_text(r#"["join", "lobby"]"#);
    bob.send_text(r#"["join","lobby"]"#);
    wait_until("both joined", || server.room_members("lobby").len() == 2);
    ann.send_text(r#"["chat", {"text": "hi"}]"#);
    ann.expect_text(r#"["chat",{"text": "hi"}]"#);
    bob.expect_text(r#"["chat",{"text": "hi"}]"#);
    eve.send_text("not an event");
    eve.expect_text(r#"["error",{"unknown":12}]"#);
    server.shutdown_now();
}

#[test]
fn by_default_browsers_are_accepted_only_from_the_servers_own_origin() {
    // Cross-site WebSocket hijacking: another site's page would otherwise
    // connect with the user's cookies. The test's requests say
    // `Host: 127.0.0.1`.
    let server = echo_server();
    let addr = server.local_addr();
    let status = |extra: &str| http_exchange(addr, &handshake_request("/", extra)).status;
    assert_eq!(status("Origin: http://127.0.0.1\r\n"), 101);
    assert_eq!(status("Origin: http://127.0.0.1:80\r\n"), 101);
    assert_eq!(status("Origin: https://evil.example\r\n"), 403);
    assert_eq!(status("Origin: http://127.0.0.1:9999\r\n"), 403);
    assert_eq!(status("Origin: null\r\n"), 403);
    assert_eq!(status(""), 101, "no Origin: not a browser");
    server.shutdown_now();
}

#[test]
fn rooms_a_client_names_are_capped_in_count_and_length() {
    // Each room joined is held until the client leaves: a client choosing
    // names must not make the server hold them without bound.
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Server::builder()
        .max_rooms_per_connection(3)
        .max_room_name_len(8)
        .on_message(move |conn, message| {
            if let DataMessage::Text(room) = message {
                let outcome = conn.join(&room).map_err(|e| e.to_string());
                let _ = tx.lock().unwrap().send(outcome);
            }
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let mut join = |room: &str| {
        client.send_text(room);
        rx.recv_timeout(TIMEOUT).unwrap()
    };
    for room in ["r1", "r2", "r3", "r3"] {
        assert_eq!(join(room), Ok(()), "{room} (joining again is no new room)");
    }
    let refused = join("r4").unwrap_err();
    assert!(refused.contains("max_rooms_per_connection"), "{refused}");
    let long = join("123456789").unwrap_err();
    assert!(long.contains("max_room_name_len"), "{long}");
    let mut rooms = server.rooms();
    rooms.sort();
    assert_eq!(rooms, ["r1", "r2", "r3"]);
    server.shutdown_now();
}
