//! What a newcomer meets first: errors that say what happened, setup
//! mistakes refused by `bind`, query strings and paths as typed, route
//! parameters, per-connection data, and refusals that leave a trace.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use stdws::server::{Endpoint, Handler, Server};
use stdws::{Connection, DataMessage, Error};
use support::*;

#[test]
fn a_port_in_use_names_the_address_and_the_reason() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let Err(error) = echo_builder().bind(addr.as_str()) else {
        panic!("the port is taken");
    };
    assert!(matches!(error, Error::Listen { .. }), "{error:?}");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!(
            "could not listen on {addr}: address already in use"
        )),
        "{shown}"
    );
    let debug = format!("{error:?}");
    assert!(debug.starts_with("Listen: could not listen on"), "{debug}");
}

#[test]
fn a_refusal_body_shows_as_text_in_debug_not_as_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let page = format!("<!DOCTYPE html><html>{}</html>", "x".repeat(500));
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0u8; 1024];
        let _ = std::io::Read::read(&mut stream, &mut head);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
    });
    let Err(error) = stdws::connect(&format!("ws://{addr}/")) else {
        panic!("not a WebSocket server");
    };
    server.join().unwrap();
    let debug = format!("{error:?}");
    assert!(debug.contains("200 OK instead of 101"), "{debug}");
    assert!(debug.contains("<!DOCTYPE html><html>xxx"), "{debug}");
    assert!(debug.contains("(528 bytes)"), "{debug}");
    assert!(debug.contains('…'), "a long body is cut short: {debug}");
    assert!(!debug.contains("[60, 33"), "no raw bytes: {debug}");
}

#[test]
fn setup_mistakes_fail_bind_with_what_to_change() {
    let config_error = |builder: stdws::server::ServerBuilder| -> String {
        match builder.bind("127.0.0.1:0") {
            Err(Error::Config(why)) => why,
            Err(other) => panic!("not a setup error: {other:?}"),
            Ok(_) => panic!("a mistaken setup was bound"),
        }
    };
    let echo = || Endpoint::callbacks().on_message(|_, _| {});
    let why = config_error(Server::builder().route("chat", echo()));
    assert!(
        why.contains("does not start with '/'") && why.contains("\"/chat\""),
        "{why}"
    );
    let why = config_error(Server::builder().route("/room/{name", echo()));
    assert!(why.contains("malformed parameter"), "{why}");
    let why = config_error(Server::builder().route("/a", echo()).route("/a", echo()));
    assert!(why.contains("added twice"), "{why}");

    struct Quiet;
    impl Handler for Quiet {
        fn on_message(&mut self, _: &Connection, _: DataMessage) {}
    }
    let why = config_error(Server::builder().handler(|| Quiet).on_message(|_, _| {}));
    assert!(why.contains("Handler"), "{why}");
    let why = config_error(Server::builder().on_message(|_, _| {}).handler(|| Quiet));
    assert!(why.contains("one style per endpoint"), "{why}");
    let why =
        config_error(Server::builder().route("/x", Endpoint::handler(|| Quiet).on_connect(|_| {})));
    assert!(why.starts_with("the route /x:"), "{why}");
    let why = config_error(
        Server::builder()
            .on_message(|_, _| {})
            .on_message(|_, _| {}),
    );
    assert!(why.contains("on_message was set twice"), "{why}");
    let why = config_error(Server::builder());
    assert!(why.contains("no endpoint"), "{why}");
}

/// A server whose every connection sends back one line about itself.
fn describe_server(describe: fn(&Connection) -> String) -> stdws::ServerHandle {
    let reply = move |conn: &Connection| {
        let _ = conn.send_text(&describe(conn));
    };
    Server::builder()
        .route("/room/{name}", Endpoint::callbacks().on_connect(reply))
        .route(
            "/room/lobby",
            Endpoint::callbacks().on_connect(|conn| {
                let _ = conn.send_text("the lobby's own route");
            }),
        )
        .route("/q", Endpoint::callbacks().on_connect(reply))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

#[test]
fn query_parameters_and_route_parameters_read_as_typed() {
    let server = describe_server(|conn| {
        format!(
            "nick={:?} raw={:?} name={:?}",
            conn.request().query_param("nick"),
            conn.request().query_param_raw("nick"),
            conn.path_param("name"),
        )
    });
    let addr = server.local_addr();
    let mut client = RawClient::connect(addr, "/q?nick=Mary+Ann%20Zo%C3%AB");
    client.expect_text(r#"nick=Some("Mary Ann Zoë") raw=Some("Mary+Ann%20Zo%C3%AB") name=None"#);
    let mut client = RawClient::connect(addr, "/room/Zo%C3%AB?nick=x");
    client.expect_text(r#"nick=Some("x") raw=Some("x") name=Some("Zoë")"#);
    let mut client = RawClient::connect(addr, "/room/lobby");
    client.expect_text("the lobby's own route");
    let refused = http_exchange(addr, &handshake_request("/room/a/b", ""));
    assert_eq!(refused.status, 404, "a parameter is one segment");
    server.shutdown_now();
}

#[test]
fn each_connection_keeps_its_own_data_readable_from_other_threads() {
    #[derive(Clone, Debug, PartialEq)]
    struct Nick(String);
    let (tx, rx) = mpsc::channel();
    let server = Server::builder()
        .on_connect(move |conn| {
            let nick = conn.request().query_param("nick").unwrap_or_default();
            conn.set_data(Nick(nick.into_owned()));
            tx.send(conn.id()).unwrap();
        })
        .on_message(|conn, _| {
            let renamed = conn.with_data(|nick: &mut Nick| {
                nick.0.push('!');
                nick.0.clone()
            });
            let _ = conn.send_text(&format!("{renamed:?}"));
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut ann = RawClient::connect(server.local_addr(), "/?nick=ann");
    let ann_id = rx.recv_timeout(TIMEOUT).unwrap();
    let mut bob = RawClient::connect(server.local_addr(), "/?nick=bob");
    let bob_id = rx.recv_timeout(TIMEOUT).unwrap();
    ann.send_text("hi");
    ann.expect_text(r#"Some("ann!")"#);
    let handle = server.clone();
    let from_elsewhere = thread::spawn(move || {
        let data = |id| handle.client(id).and_then(|c| c.data::<Nick>());
        (data(ann_id), data(bob_id))
    })
    .join()
    .unwrap();
    assert_eq!(
        from_elsewhere,
        (Some(Nick("ann!".into())), Some(Nick("bob".into())))
    );
    let bob_conn = server.client(bob_id).unwrap();
    assert_eq!(
        bob_conn.data::<String>(),
        None,
        "another type reads as nothing"
    );
    assert_eq!(bob_conn.take_data::<Nick>(), Some(Nick("bob".into())));
    assert_eq!(bob_conn.data::<Nick>(), None, "taken");
    bob.send_text("still there?");
    bob.expect_text("None");
    server.shutdown_now();
}

#[test]
fn refused_handshakes_are_counted() {
    let server = echo_builder()
        .on_handshake(|hs| match hs.request().query_param("token").as_deref() {
            Some("no") => Err(stdws::protocol::http::Response::text(401, "log in first")),
            _ => Ok(()),
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let status =
        |path: &str, extra: &str| http_exchange(addr, &handshake_request(path, extra)).status;
    assert_eq!(status("/", "Origin: https://evil.example\r\n"), 403);
    assert_eq!(status("/?token=no", ""), 401);
    assert_eq!(status("/?token=yes", ""), 101);
    assert_eq!(
        http_exchange(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        426
    );
    let stats = server.stats();
    assert_eq!(stats.refused_origin, 1);
    assert_eq!(stats.refused_by_hook, 1);
    assert_eq!(stats.http_requests, 1);
    assert_eq!(stats.refused_handshake, 0);
    server.shutdown_now();

    let limited = echo_builder()
        .max_connections_per_ip(Some(1))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let _first = RawClient::connect(limited.local_addr(), "/");
    let second = http_exchange(limited.local_addr(), &handshake_request("/", ""));
    assert_eq!(second.status, 429);
    assert_eq!(limited.stats().refused_per_ip, 1);
    limited.shutdown_now();
}

#[test]
fn a_malformed_handshake_is_counted_as_refused() {
    let server = echo_server();
    let reply = http_exchange(
        server.local_addr(),
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    assert_eq!(reply.status, 400);
    assert_eq!(server.stats().refused_handshake, 1);
    server.shutdown_now();
}
