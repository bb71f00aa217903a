//! The Socket.IO server over real sockets, with requests written by hand:
//! both transports, the upgrade, acknowledgements both ways, binary
//! attachments, namespaces with auth, disconnects and the ping timeout.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stdws::json::{self, Value};
use stdws::socketio::{AckError, Data, DisconnectReason, Namespace, Socket, SocketIo};
use stdws::{Server, ServerHandle};
use support::{RawClient, TIMEOUT, handshake_request, read_http_reply, tcp};

const PATH: &str = "/socket.io/";

struct Fixture {
    server: ServerHandle,
    io: SocketIo,
    /// (namespace, socket id, reason) of every socket that left.
    left: Receiver<(String, String, DisconnectReason)>,
    /// The sockets that connected to `/`, in order.
    sockets: Receiver<Socket>,
}

fn fixture(ping_interval: Duration, ping_timeout: Duration) -> Fixture {
    let (left_tx, left) = mpsc::channel();
    let (sockets_tx, sockets) = mpsc::channel::<Socket>();
    let sockets_tx = Mutex::new(sockets_tx);
    let record = |tx: Sender<(String, String, DisconnectReason)>| {
        let tx = Mutex::new(tx);
        move |socket: &Socket, reason: &DisconnectReason| {
            let _ = tx.lock().unwrap().send((
                socket.namespace().to_owned(),
                socket.id().to_owned(),
                reason.clone(),
            ));
        }
    };
    let main = Namespace::new()
        .on_connect(move |socket, _auth| {
            let _ = sockets_tx.lock().unwrap().send(socket.clone());
            Ok(())
        })
        .on("echo", |socket, args, _ack| {
            let _ = socket.emit("echo", args);
        })
        .on("ack", |_socket, args, ack| ack.send(args))
        .on("burst", |socket, _args, _ack| {
            for i in 0..20u64 {
                let _ = socket.emit("n", [Data::from(i)]);
            }
        })
        .on_disconnect(record(left_tx.clone()));
    let admin = Namespace::new()
        .on_connect(
            |_socket, auth| match auth.get("token").and_then(Value::as_str) {
                Some("s3cret") => Ok(()),
                _ => Err("unauthorized".into()),
            },
        )
        .on_disconnect(record(left_tx));
    let io = SocketIo::builder()
        .ping_interval(ping_interval)
        .ping_timeout(ping_timeout)
        .connect_timeout(Duration::from_secs(5))
        .namespace("/", main)
        .namespace("/admin", admin)
        .build();
    let server = io
        .mount(Server::builder().workers(32), PATH)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    Fixture {
        server,
        io,
        left,
        sockets,
    }
}

fn default_fixture() -> Fixture {
    fixture(Duration::from_secs(25), Duration::from_secs(20))
}

/// An HTTP request on a kept-alive connection; returns (status, body).
fn http(stream: &mut TcpStream, method: &str, query: &str, body: &str) -> (u16, String) {
    let request = format!(
        "{method} {PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let reply = read_http_reply(stream);
    (reply.status, reply.body)
}

/// Opens a polling session; returns its sid.
fn open_polling(stream: &mut TcpStream) -> String {
    let (status, body) = http(stream, "GET", "EIO=4&transport=polling", "");
    assert_eq!(status, 200, "{body}");
    let open = body.strip_prefix('0').expect("an open packet");
    let handshake = json::parse(open).unwrap();
    assert_eq!(handshake["upgrades"], Value::from(vec!["websocket"]));
    handshake["sid"].as_str().unwrap().to_owned()
}

fn poll(stream: &mut TcpStream, sid: &str) -> (u16, String) {
    http(
        stream,
        "GET",
        &format!("EIO=4&transport=polling&sid={sid}"),
        "",
    )
}

fn post(stream: &mut TcpStream, sid: &str, body: &str) -> (u16, String) {
    http(
        stream,
        "POST",
        &format!("EIO=4&transport=polling&sid={sid}"),
        body,
    )
}

/// A WebSocket to `query`, after its handshake.
fn websocket(addr: SocketAddr, query: &str) -> RawClient {
    let mut stream = tcp(addr);
    stream
        .write_all(handshake_request(&format!("{PATH}?{query}"), "").as_bytes())
        .unwrap();
    let reply = read_http_reply(&mut stream);
    assert_eq!(reply.status, 101, "{reply:?}");
    RawClient::from_stream(stream)
}

/// The next text frame, skipping nothing.
fn text(client: &mut RawClient) -> String {
    let frame = client.read_frame().expect("a frame");
    assert_eq!(frame.opcode, 1, "{frame:?}");
    String::from_utf8(frame.payload).unwrap()
}

/// A WebSocket session joined to `/`; returns the socket id.
fn ws_connected(fixture: &Fixture) -> (RawClient, String) {
    let mut client = websocket(fixture.server.local_addr(), "EIO=4&transport=websocket");
    let open = text(&mut client);
    assert!(open.starts_with(r#"0{"sid":"#), "{open}");
    assert!(open.contains(r#""upgrades":[]"#), "{open}");
    client.send_text("40");
    let connect = text(&mut client);
    let sid = json::parse(connect.strip_prefix("40").unwrap()).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    (client, sid)
}

#[test]
fn polling_requests_with_bad_parameters_get_400_with_the_official_codes() {
    let fixture = default_fixture();
    let mut stream = tcp(fixture.server.local_addr());
    assert_eq!(
        http(&mut stream, "GET", "transport=polling", ""),
        (
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#.into()
        )
    );
    let mut stream = tcp(fixture.server.local_addr());
    assert_eq!(
        http(&mut stream, "GET", "EIO=4&transport=carrier-pigeon", ""),
        (400, r#"{"code":0,"message":"Transport unknown"}"#.into())
    );
    let mut stream = tcp(fixture.server.local_addr());
    assert_eq!(
        http(&mut stream, "GET", "EIO=4&transport=polling&sid=nope", ""),
        (400, r#"{"code":1,"message":"Session ID unknown"}"#.into())
    );
    let mut stream = tcp(fixture.server.local_addr());
    assert_eq!(
        http(&mut stream, "POST", "EIO=4&transport=polling", "").0,
        400
    );
}

#[test]
fn polling_session_connects_emits_and_acks_on_one_kept_alive_connection() {
    let fixture = default_fixture();
    let mut stream = tcp(fixture.server.local_addr());
    let sid = open_polling(&mut stream);
    assert_eq!(post(&mut stream, &sid, "40"), (200, "ok".into()));
    let (status, body) = poll(&mut stream, &sid);
    assert_eq!(status, 200);
    assert!(body.starts_with(r#"40{"sid":""#), "{body}");
    // Every JSON type and non-ASCII text, and an ack, in one payload.
    let event = r#"42["echo",null,true,-1.5,"héllo ✓",[1,{"a":[]}]]"#;
    assert_eq!(
        post(
            &mut stream,
            &sid,
            &format!("{event}\x1e427[\"ack\",\"x\",2]")
        ),
        (200, "ok".into())
    );
    assert_eq!(
        poll(&mut stream, &sid),
        (
            200,
            "42[\"echo\",null,true,-1.5,\"héllo ✓\",[1,{\"a\":[]}]]\x1e437[\"x\",2]".into()
        )
    );
}

#[test]
fn polling_answers_carry_at_most_16_packets() {
    let fixture = default_fixture();
    let mut stream = tcp(fixture.server.local_addr());
    let sid = open_polling(&mut stream);
    post(&mut stream, &sid, "40");
    poll(&mut stream, &sid);
    post(&mut stream, &sid, r#"42["burst"]"#);
    let (_, first) = poll(&mut stream, &sid);
    assert_eq!(first.split('\x1e').count(), 16, "{first}");
    let (_, rest) = poll(&mut stream, &sid);
    assert_eq!(rest.split('\x1e').count(), 4, "{rest}");
    assert!(rest.ends_with(r#"42["n",19]"#), "{rest}");
}

#[test]
fn a_held_poll_is_answered_when_the_server_emits_from_another_thread() {
    let fixture = default_fixture();
    let mut stream = tcp(fixture.server.local_addr());
    let sid = open_polling(&mut stream);
    post(&mut stream, &sid, "40");
    poll(&mut stream, &sid);
    let socket = fixture.sockets.recv_timeout(TIMEOUT).unwrap();
    let emitter = std::thread::spawn(move || {
        // The GET below is held until this emit; the order of the two does
        // not matter: an emit before it is answered at once.
        let _ = socket.emit("pushed", [Data::from("now")]);
    });
    assert_eq!(
        poll(&mut stream, &sid),
        (200, r#"42["pushed","now"]"#.into())
    );
    emitter.join().unwrap();
}

#[test]
fn websocket_session_events_acks_and_binary_attachments() {
    let fixture = default_fixture();
    let (mut client, _) = ws_connected(&fixture);
    client.send_text(r#"42["echo",{"ключ":"значение"}]"#);
    assert_eq!(text(&mut client), r#"42["echo",{"ключ":"значение"}]"#);
    client.send_text(r#"4212["ack",1]"#);
    assert_eq!(text(&mut client), "4312[1]");
    // Two attachments, one empty, nested in an object.
    client.send_text(
        r#"452-["echo",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]"#,
    );
    client.send(true, 2, &[1, 2, 3]);
    client.send(true, 2, &[]);
    assert_eq!(
        text(&mut client),
        r#"452-["echo",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]"#
    );
    let first = client.read_frame().unwrap();
    assert_eq!((first.opcode, first.payload), (2, vec![1, 2, 3]));
    let second = client.read_frame().unwrap();
    assert_eq!((second.opcode, second.payload), (2, vec![]));
    // A binary ack.
    client.send_text(r#"451-9["ack",{"_placeholder":true,"num":0}]"#);
    client.send(true, 2, &[0xff]);
    assert_eq!(text(&mut client), r#"461-9[{"_placeholder":true,"num":0}]"#);
    assert_eq!(client.read_frame().unwrap().payload, vec![0xff]);
}

#[test]
fn server_emit_with_ack_gets_the_answer_or_times_out() {
    let fixture = default_fixture();
    let (mut client, _) = ws_connected(&fixture);
    let socket = fixture.sockets.recv_timeout(TIMEOUT).unwrap();
    let (tx, rx) = mpsc::channel();
    let answered = tx.clone();
    socket.emit_with_ack("q", [Data::from(1)], TIMEOUT, move |r| {
        let _ = answered.send(r);
    });
    assert_eq!(text(&mut client), r#"420["q",1]"#);
    client.send_text(r#"430["a",{"_":null}]"#);
    let answer = rx.recv_timeout(TIMEOUT).unwrap().unwrap();
    assert_eq!(answer[0].as_str(), Some("a"));
    // No answer: the housekeeper reports the timeout.
    socket.emit_with_ack("q", [], Duration::from_millis(50), move |r| {
        let _ = tx.send(r);
    });
    assert_eq!(text(&mut client), r#"421["q"]"#);
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), Err(AckError::Timeout));
}

#[test]
fn namespaces_refuse_bad_auth_and_unknown_names_and_accept_good_auth() {
    let fixture = default_fixture();
    let (mut client, _) = ws_connected(&fixture);
    client.send_text(r#"40/admin,{"token":"guess"}"#);
    assert_eq!(text(&mut client), r#"44/admin,{"message":"unauthorized"}"#);
    client.send_text("40/elsewhere,");
    assert_eq!(
        text(&mut client),
        r#"44/elsewhere,{"message":"Invalid namespace"}"#
    );
    client.send_text(r#"40/admin,{"token":"s3cret"}"#);
    let accepted = text(&mut client);
    assert!(accepted.starts_with(r#"40/admin,{"sid":""#), "{accepted}");
    // The client leaves /admin only: `/` still answers.
    client.send_text("41/admin,");
    let (nsp, _, reason) = fixture.left.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(
        (nsp.as_str(), reason),
        ("/admin", DisconnectReason::ClientNamespaceDisconnect)
    );
    client.send_text("421[\"ack\"]");
    assert_eq!(text(&mut client), "431[]");
}

#[test]
fn server_disconnect_sends_41_and_a_closed_websocket_is_a_transport_close() {
    let fixture = default_fixture();
    let (mut client, id) = ws_connected(&fixture);
    let socket = fixture.sockets.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(socket.id(), id);
    socket.disconnect();
    assert_eq!(text(&mut client), "41");
    let (_, left_id, reason) = fixture.left.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(
        (left_id, reason),
        (id, DisconnectReason::ServerNamespaceDisconnect)
    );
    assert!(fixture.io.socket("/", socket.id()).is_none());

    let (mut client, id) = ws_connected(&fixture);
    client.send_close(1000, "");
    let (_, left_id, reason) = fixture.left.recv_timeout(TIMEOUT).unwrap();
    assert_eq!((left_id, reason), (id, DisconnectReason::TransportClose));
}

#[test]
fn a_malformed_packet_closes_the_session() {
    let fixture = default_fixture();
    let (mut client, id) = ws_connected(&fixture);
    client.send_text(r#"42{"not":"an array"}"#);
    let (_, left_id, reason) = fixture.left.recv_timeout(TIMEOUT).unwrap();
    assert_eq!((left_id, reason), (id, DisconnectReason::ParseError));
    let (_, before) = client.expect_close();
    // The Engine.IO close packet came first.
    assert_eq!(
        before.last().map(|f| f.payload.clone()),
        Some(b"1".to_vec())
    );
}

#[test]
fn upgrade_from_polling_to_websocket_then_polling_is_refused() {
    let fixture = default_fixture();
    let addr = fixture.server.local_addr();
    let mut stream = tcp(addr);
    let sid = open_polling(&mut stream);
    post(&mut stream, &sid, "40");
    poll(&mut stream, &sid);
    let mut ws = websocket(addr, &format!("EIO=4&transport=websocket&sid={sid}"));
    // A GET held across the probe is ended with a noop.
    let mut held = tcp(addr);
    let request =
        format!("GET {PATH}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    held.write_all(request.as_bytes()).unwrap();
    ws.send_text("2probe");
    assert_eq!(text(&mut ws), "3probe");
    let reply = read_http_reply(&mut held);
    assert_eq!((reply.status, reply.body.as_str()), (200, "6"));
    ws.send_text("5");
    ws.send_text(r#"42["echo","over ws"]"#);
    assert_eq!(text(&mut ws), r#"42["echo","over ws"]"#);
    assert_eq!(poll(&mut stream, &sid).0, 400);
    // A second WebSocket for the same session is refused.
    let mut second = websocket(addr, &format!("EIO=4&transport=websocket&sid={sid}"));
    second.expect_close();
}

#[test]
fn a_client_that_stops_answering_pings_is_dropped() {
    let fixture = fixture(Duration::from_millis(100), Duration::from_millis(100));
    // Polling: the housekeeper ends the session with no request arriving.
    let mut stream = tcp(fixture.server.local_addr());
    let sid = open_polling(&mut stream);
    post(&mut stream, &sid, "40");
    poll(&mut stream, &sid);
    let (_, _, reason) = fixture.left.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(reason, DisconnectReason::PingTimeout);
    assert_eq!(poll(&mut tcp(fixture.server.local_addr()), &sid).0, 400);
    // WebSocket: the ping comes, no pong goes back, the socket closes.
    let (mut client, _) = ws_connected(&fixture);
    assert_eq!(text(&mut client), "2");
    let (_, _, reason) = fixture.left.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(reason, DisconnectReason::PingTimeout);
    client.expect_close();
}

#[test]
fn a_client_that_answers_pings_stays() {
    let fixture = fixture(Duration::from_millis(50), Duration::from_millis(200));
    let (mut client, _) = ws_connected(&fixture);
    for _ in 0..4 {
        assert_eq!(text(&mut client), "2");
        client.send_text("3");
    }
    client.send_text(r#"421["ack","alive"]"#);
    let mut answer = text(&mut client);
    while answer == "2" {
        client.send_text("3");
        answer = text(&mut client);
    }
    assert_eq!(answer, r#"431["alive"]"#);
}

#[test]
fn rooms_and_broadcasts_reach_the_right_sockets() {
    let fixture = default_fixture();
    let (mut a, _) = ws_connected(&fixture);
    let socket_a = fixture.sockets.recv_timeout(TIMEOUT).unwrap();
    let (mut b, _) = ws_connected(&fixture);
    let socket_b = fixture.sockets.recv_timeout(TIMEOUT).unwrap();
    socket_a.join("r");
    socket_b.join("r");
    assert_eq!(socket_a.rooms(), {
        let mut rooms = vec!["r".to_owned(), socket_a.id().to_owned()];
        rooms.sort();
        rooms
    });
    // To the room, sender excluded.
    assert_eq!(socket_a.to("r").emit("m", [Data::from(1)]), 1);
    assert_eq!(text(&mut b), r#"42["m",1]"#);
    // To everyone, from any thread.
    let io = fixture.io.clone();
    let count = std::thread::spawn(move || io.emit("all", []))
        .join()
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(text(&mut a), r#"42["all"]"#);
    assert_eq!(text(&mut b), r#"42["all"]"#);
    socket_b.leave("r");
    assert_eq!(fixture.io.to("r").emit("m", []), 1);
    assert_eq!(text(&mut a), r#"42["m"]"#);
    // The per-socket data slot.
    socket_a.set_data(Arc::new(String::from("nick")));
    assert_eq!(
        socket_a
            .data::<Arc<String>>()
            .as_deref()
            .map(|s| s.as_str()),
        Some("nick")
    );
}

#[test]
fn polling_carries_binary_attachments_as_base64_both_ways() {
    let fixture = default_fixture();
    let mut stream = tcp(fixture.server.local_addr());
    let sid = open_polling(&mut stream);
    post(&mut stream, &sid, "40");
    poll(&mut stream, &sid);
    let event = r#"451-["echo",{"_placeholder":true,"num":0}]"#;
    assert_eq!(
        post(&mut stream, &sid, &format!("{event}\x1ebAQID")),
        (200, "ok".into())
    );
    assert_eq!(poll(&mut stream, &sid), (200, format!("{event}\x1ebAQID")));
}

#[test]
fn a_session_that_joins_no_namespace_is_closed_after_the_connect_timeout() {
    let io = SocketIo::builder()
        .connect_timeout(Duration::from_millis(100))
        .namespace("/", Namespace::new())
        .build();
    let server = io
        .mount(Server::builder(), PATH)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = websocket(server.local_addr(), "EIO=4&transport=websocket");
    assert!(text(&mut client).starts_with('0'));
    let (_, before) = client.expect_close();
    assert_eq!(
        before.last().map(|f| f.payload.clone()),
        Some(b"1".to_vec())
    );
    assert_eq!(io.session_count(), 0);
}

#[test]
fn connection_state_recovery_restores_id_rooms_data_and_missed_broadcasts() {
    let (sockets_tx, sockets) = mpsc::channel::<Socket>();
    let sockets_tx = Mutex::new(sockets_tx);
    let io = SocketIo::builder()
        .connection_state_recovery(Duration::from_secs(60), 100)
        .namespace(
            "/",
            Namespace::new().on_connect(move |socket, _auth| {
                let _ = sockets_tx.lock().unwrap().send(socket.clone());
                Ok(())
            }),
        )
        .build();
    let server = io
        .mount(Server::builder(), PATH)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let mut client = websocket(addr, "EIO=4&transport=websocket");
    text(&mut client);
    client.send_text("40");
    let answer = json::parse(text(&mut client).strip_prefix("40").unwrap()).unwrap();
    let (id, pid) = (
        answer["sid"].as_str().unwrap().to_owned(),
        answer["pid"].as_str().unwrap().to_owned(),
    );
    let socket = sockets.recv_timeout(TIMEOUT).unwrap();
    assert!(!socket.recovered());
    socket.join("r");
    socket.set_data(7u32);
    assert_eq!(io.to("r").emit("m", [Data::from(1)]), 1);
    let event = json::parse(text(&mut client).strip_prefix("42").unwrap()).unwrap();
    assert_eq!((&event[0], &event[1]), (&Value::from("m"), &Value::from(1)));
    let offset = event[2].as_str().unwrap().to_owned();
    // The connection is lost; broadcasts go on without the socket.
    drop(client);
    support::wait_until("the socket has left", || io.socket("/", &id).is_none());
    io.to("r").emit("m", [Data::from(2)]);
    io.to("elsewhere").emit("m", [Data::from(3)]);
    // It comes back within the window with its pid and offset.
    let mut client = websocket(addr, "EIO=4&transport=websocket");
    text(&mut client);
    client.send_text(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
    let answer = json::parse(text(&mut client).strip_prefix("40").unwrap()).unwrap();
    assert_eq!(answer["sid"].as_str(), Some(id.as_str()));
    let missed = json::parse(text(&mut client).strip_prefix("42").unwrap()).unwrap();
    assert_eq!(missed[1], Value::from(2));
    let socket = sockets.recv_timeout(TIMEOUT).unwrap();
    assert!(socket.recovered());
    assert!(socket.rooms().contains(&"r".to_owned()));
    assert_eq!(socket.data::<u32>().as_deref(), Some(&7));
    // Only once: the same pid again gets a new socket.
    let mut other = websocket(addr, "EIO=4&transport=websocket");
    text(&mut other);
    other.send_text(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
    let answer = json::parse(text(&mut other).strip_prefix("40").unwrap()).unwrap();
    assert_ne!(answer["sid"].as_str(), Some(id.as_str()));
}

#[test]
fn a_held_poll_is_answered_with_a_close_when_the_server_stops() {
    // A 25 s ping interval: without the stop ending the session, the held
    // GET would wait for the next ping, or be cut with no answer.
    let fixture = default_fixture();
    let mut stream = tcp(fixture.server.local_addr());
    let sid = open_polling(&mut stream);
    post(&mut stream, &sid, "40");
    assert!(poll(&mut stream, &sid).1.starts_with("40"));
    let _socket = fixture.sockets.recv_timeout(TIMEOUT).unwrap();
    let held = std::thread::spawn(move || poll(&mut stream, &sid));
    // Held by the server before the stop begins: a GET sent after the stop
    // cut what it served would find its connection closed, as it should.
    support::wait_until("the poll is held", || {
        fixture.server.stats().http_in_service == 1
    });
    let stopper = {
        let server = fixture.server.clone();
        std::thread::spawn(move || server.shutdown(Duration::from_secs(10)))
    };
    // The held GET is answered with the close packet.
    let (status, body) = held.join().unwrap();
    assert_eq!((status, body.as_str()), (200, "1"));
    stopper.join().unwrap();
}
