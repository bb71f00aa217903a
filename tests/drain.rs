//! `ServerHandle::drain`: the listening socket closes, every client gets
//! close 1012 (service restart), and the drain ends when they have gone or
//! at its deadline, cutting the rest. Real sockets on 127.0.0.1.

mod support;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use stdws::{Message, Server};
use support::{RawClient, echo_builder, echo_server};

#[test]
fn drain_sends_1012_refuses_new_connections_and_returns_when_clients_leave() {
    let server = echo_server();
    let addr = server.local_addr();
    let mut clients: Vec<RawClient> = (0..3).map(|_| RawClient::connect(addr, "/")).collect();
    for client in &mut clients {
        client.send_text("before");
        client.expect_text("before");
    }
    let deadline = Duration::from_secs(15);
    let drainer = {
        let server = server.clone();
        std::thread::spawn(move || server.drain(deadline))
    };
    let started = Instant::now();
    for client in &mut clients {
        let (code, before) = client.expect_close();
        assert_eq!(code, Some(1012), "service restart");
        assert!(before.is_empty(), "{before:?}");
    }
    // The 1012 goes out after the listening socket has closed: a balancer
    // now sees refusals and sends new clients elsewhere.
    let refused = TcpStream::connect(addr).expect_err("the listener is closed");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    for mut client in clients {
        client.send_close(1012, "");
        client.expect_eof();
    }
    let report = drainer.join().unwrap();
    assert!(
        started.elapsed() < deadline,
        "returned once the clients left"
    );
    assert_eq!(
        (report.clients, report.left, report.cut),
        (3, 3, 0),
        "{report:?}"
    );
    assert!(report.is_clean(), "{report:?}");
    assert!(server.is_stopped());
}

#[test]
fn drain_cuts_clients_that_do_not_answer_by_the_deadline() {
    // A close timeout longer than the deadline: the deadline cuts them.
    let server = echo_builder()
        .close_timeout(Duration::from_secs(30))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let mut polite = RawClient::connect(addr, "/");
    let mut silent = RawClient::connect(addr, "/");
    let drainer = {
        let server = server.clone();
        std::thread::spawn(move || server.drain(Duration::from_millis(500)))
    };
    assert_eq!(polite.expect_close().0, Some(1012));
    polite.send_close(1000, "");
    polite.expect_eof();
    assert_eq!(silent.expect_close().0, Some(1012));
    // It never answers: the drain's deadline ends it.
    silent.expect_eof();
    let report = drainer.join().unwrap();
    assert_eq!(
        (report.clients, report.left, report.cut),
        (2, 1, 1),
        "{report:?}"
    );
    assert_eq!(report.unclean, 1, "{report:?}");
    assert!(!report.is_clean());
}

#[test]
fn a_handshake_still_arriving_does_not_hold_the_drain_past_its_deadline() {
    let server = echo_builder()
        .handshake_timeout(Duration::from_secs(60))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    // A connection that has sent half a request head, and then nothing.
    let mut slow = support::tcp(server.local_addr());
    std::io::Write::write_all(&mut slow, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    support::wait_until("the slow connection has a worker", || {
        server.stats().accepted == 2
    });
    let drainer = {
        let server = server.clone();
        std::thread::spawn(move || server.drain(Duration::from_millis(300)))
    };
    assert_eq!(client.expect_close().0, Some(1012));
    client.send_close(1012, "");
    client.expect_eof();
    // Cut when the drain ends, not at the handshake timeout.
    let mut slow = RawClient::from_stream(slow);
    slow.expect_eof();
    let report = drainer.join().unwrap();
    assert!(report.elapsed < Duration::from_secs(30), "{report:?}");
    assert_eq!(
        (report.clients, report.left, report.cut),
        (1, 1, 0),
        "{report:?}"
    );
}

#[test]
fn the_stdws_client_sees_service_restart() {
    let server = echo_server();
    let mut ws = stdws::connect(&format!("ws://{}/", server.local_addr())).unwrap();
    ws.get_ref()
        .set_read_timeout(Some(support::TIMEOUT))
        .unwrap();
    let drainer = {
        let server = server.clone();
        std::thread::spawn(move || server.drain(Duration::from_secs(10)))
    };
    match ws.read() {
        Ok(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, stdws::CloseCode::SERVICE_RESTART);
            assert_eq!(frame.reason, "service restart");
        }
        other => panic!("expected close 1012, got {other:?}"),
    }
    // The client answers the close as it reads it; the server then ends.
    while ws.read().is_ok() {}
    let report = drainer.join().unwrap();
    assert_eq!((report.clients, report.left), (1, 1), "{report:?}");
}

#[test]
fn drain_from_a_handler_goes_on_in_the_background() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Server::builder()
        .on_message(move |conn, _message| {
            let report = conn.server().drain(Duration::from_secs(10));
            let _ = tx.lock().unwrap().send(report);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_text("drain, please");
    let report = rx.recv_timeout(support::TIMEOUT).unwrap();
    assert!(report.in_background, "{report:?}");
    assert_eq!(client.expect_close().0, Some(1012));
    client.send_close(1012, "");
    client.expect_eof();
    server.wait();
}
