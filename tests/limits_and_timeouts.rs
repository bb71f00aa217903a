//! Slow, stalled, silent and greedy clients over real sockets: each setting
//! of the server that protects against them, tested.

mod support;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stdws::Server;
use support::*;

/// Reads until the server closes the connection; returns what came before.
fn read_until_closed(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[test]
fn a_client_that_sends_no_handshake_is_dropped_after_the_handshake_timeout() {
    let server = echo_builder()
        .handshake_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut silent = tcp(server.local_addr());
    assert!(read_until_closed(&mut silent).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.shutdown_now();
}

#[test]
fn a_slowloris_trickling_its_handshake_is_dropped_at_the_deadline() {
    let server = echo_builder()
        .handshake_timeout(Duration::from_millis(500))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut slow = tcp(server.local_addr());
    let request = handshake_request("/", "");
    let mut writer = slow.try_clone().unwrap();
    // One byte every 50 ms would take seconds: each byte must not restart the clock.
    let trickle = std::thread::spawn(move || {
        for byte in request.bytes() {
            if writer.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let started = Instant::now();
    let answer = read_until_closed(&mut slow);
    assert!(answer.is_empty(), "no 101 for an incomplete request");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "dropped near the 500 ms deadline"
    );
    trickle.join().unwrap();
    server.shutdown_now();
}

#[test]
fn a_client_that_never_answers_pings_is_closed_with_1011() {
    let server = echo_builder()
        .ping_interval(Some(Duration::from_millis(100)))
        .ping_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut dead = RawClient::connect(server.local_addr(), "/");
    let ping = dead.read_frame().unwrap();
    assert_eq!(ping.opcode, 9, "the server pings a silent client");
    let (code, _) = dead.expect_close();
    assert_eq!(code, Some(1011));
    dead.expect_eof();
    wait_until("the dead client is unregistered", || {
        server.client_count() == 0
    });
    server.shutdown_now();
}

#[test]
fn a_client_that_answers_pings_stays_connected() {
    let server = echo_builder()
        .ping_interval(Some(Duration::from_millis(50)))
        .ping_timeout(Duration::from_millis(200))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut alive = RawClient::connect(server.local_addr(), "/");
    for _ in 0..5 {
        let ping = alive.read_frame().unwrap();
        assert_eq!(ping.opcode, 9);
        alive.send(true, 10, &ping.payload);
    }
    alive.send_text("still here");
    alive.expect_text("still here");
    server.shutdown_now();
}

#[test]
fn an_idle_client_is_closed_with_1001() {
    let server = echo_builder()
        .idle_timeout(Some(Duration::from_millis(200)))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut idle = RawClient::connect(server.local_addr(), "/");
    let (code, _) = idle.expect_close();
    assert_eq!(code, Some(1001));
    idle.send_close(1001, "");
    idle.expect_eof();
    server.shutdown_now();
}

#[test]
fn a_client_that_does_not_answer_a_close_is_cut_after_the_close_timeout() {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Server::builder()
        .close_timeout(Duration::from_millis(200))
        .on_connect(|conn| {
            let _ = conn.close(stdws::CloseCode::NORMAL, "go away");
        })
        .on_disconnect(move |_, why| tx.lock().unwrap().send(why.clone()).unwrap())
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut rude = RawClient::connect(server.local_addr(), "/");
    assert_eq!(rude.expect_close().0, Some(1000));
    rude.expect_eof(); // without answering
    let why = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(!why.was_clean && !why.by_peer, "{why:?}");
    server.shutdown_now();
}

#[test]
fn a_client_that_floods_and_never_reads_is_cut_by_the_write_timeout() {
    let server = echo_builder()
        .write_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut greedy = RawClient::connect(server.local_addr(), "/");
    wait_until("the client is registered", || server.client_count() == 1);
    let frame = encode_frame(true, 0, 2, &vec![7u8; 1 << 20], Some(KEY));
    // The echoes fill both socket buffers; the worker's write then blocks
    // and must give up after 300 ms, which ends the connection.
    let started = Instant::now();
    loop {
        if greedy.stream.write_all(&frame).is_err() {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the server never cut the connection"
        );
    }
    wait_until("the greedy client is unregistered", || {
        server.client_count() == 0
    });
    // The server still serves others.
    let mut other = RawClient::connect(server.local_addr(), "/");
    other.send_text("fine");
    other.expect_text("fine");
    server.shutdown_now();
}

#[test]
fn connections_per_address_are_limited_with_429() {
    let server = echo_builder()
        .max_connections_per_ip(Some(2))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let first = RawClient::connect(addr, "/");
    let _second = RawClient::connect(addr, "/");
    let third = http_exchange(addr, &handshake_request("/", ""));
    assert_eq!(third.status, 429);
    assert!(third.body.contains("too many connections"));
    drop(first);
    wait_until("a slot is free", || server.client_count() == 1);
    let mut again = RawClient::connect_when_served(addr, "/");
    again.send_text("ok");
    again.expect_text("ok");
    server.shutdown_now();
}

#[test]
fn frame_and_message_limits_close_with_1009() {
    let server = echo_builder()
        .max_frame_size(1000)
        .max_message_size(3000)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 2, &[0; 1000]);
    assert_eq!(
        client.read_frame().unwrap().payload.len(),
        1000,
        "exactly at the limit is fine"
    );
    client.send(true, 2, &[0; 1001]);
    assert_eq!(client.expect_close().0, Some(1009));
    // Three fragments fill the message limit exactly; one more byte breaks it.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 2, &[0; 1000]);
    client.send(false, 0, &[0; 1000]);
    client.send(false, 0, &[0; 1000]);
    client.send(true, 0, &[0; 1]);
    assert_eq!(client.expect_close().0, Some(1009));
    server.shutdown_now();
}

#[test]
fn a_slow_consumer_among_many_is_cut_while_the_others_get_everything() {
    const CLIENTS: usize = 1000;
    const STALLED: usize = 50;
    let server = echo_builder()
        .workers(CLIENTS + 8)
        .max_queued_bytes(64 * 1024)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let mut readers: Vec<RawClient> = (0..CLIENTS - STALLED)
        .map(|_| RawClient::connect(addr, "/"))
        .collect();
    let stalled: Vec<RawClient> = (0..STALLED)
        .map(|_| RawClient::connect(addr, "/"))
        .collect();
    wait_until("every client is registered", || {
        server.client_count() == CLIENTS
    });
    let stalled_ports: Vec<u16> = stalled
        .iter()
        .map(|c| c.stream.local_addr().unwrap().port())
        .collect();
    let stalled_ids: Vec<u64> = server
        .clients()
        .iter()
        .filter(|c| stalled_ports.contains(&c.peer_addr().port()))
        .map(|c| c.id())
        .collect();
    assert_eq!(stalled_ids.len(), STALLED);

    // Readers drain in threads; the test thread broadcasts 4 KiB messages
    // until every stalled client has been cut, then a final marker.
    let (done_tx, done_rx) = mpsc::channel();
    let reader_threads: Vec<_> = readers
        .drain(..)
        .map(|mut client| {
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let mut expected = 0u32;
                loop {
                    let frame = client.read_frame().expect("a healthy reader is never cut");
                    if frame.payload == b"end" {
                        done.send(expected).unwrap();
                        return;
                    }
                    let n = u32::from_be_bytes(frame.payload[..4].try_into().unwrap());
                    assert_eq!(n, expected, "in order, nothing missing");
                    expected += 1;
                }
            })
        })
        .collect();
    let mut sent = 0u32;
    let mut cut = Vec::new();
    let payload = vec![b'p'; 16 * 1024];
    let started = Instant::now();
    while cut.len() < STALLED {
        assert!(
            started.elapsed() < TIMEOUT * 3,
            "stalled clients were never cut: {cut:?}"
        );
        let mut message = sent.to_be_bytes().to_vec();
        message.extend_from_slice(&payload);
        let report = server.broadcast(message);
        assert!(report.dropped.is_empty());
        cut.extend(report.disconnected);
        sent += 1;
        // The bytes queued for everyone stay bounded by the queue limit.
        if sent % 64 == 0 {
            let queued: usize = server.clients().iter().map(|c| c.queued_bytes()).sum();
            assert!(
                queued <= CLIENTS * (64 * 1024 + 16 * 1024 + 8),
                "queued {queued}"
            );
        }
        if sent % 16 == 0 {
            std::thread::yield_now();
        }
    }
    cut.sort();
    assert_eq!(cut, stalled_ids);
    server.broadcast("end");
    for _ in 0..CLIENTS - STALLED {
        assert_eq!(done_rx.recv_timeout(TIMEOUT * 3).unwrap(), sent);
    }
    for t in reader_threads {
        t.join().unwrap();
    }
    drop(stalled);
    server.shutdown_now();
}

#[test]
fn a_graceful_shutdown_delivers_what_was_queued_before_the_close() {
    const CLIENTS: usize = 1000;
    const MESSAGES: usize = 50;
    let server = echo_builder()
        .workers(CLIENTS + 4)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let clients: Vec<RawClient> = (0..CLIENTS)
        .map(|_| RawClient::connect(addr, "/"))
        .collect();
    wait_until("every client is registered", || {
        server.client_count() == CLIENTS
    });
    for i in 0..MESSAGES {
        server.broadcast(format!("m{i}"));
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            std::thread::spawn(move || {
                let (code, before) = client.expect_close();
                assert_eq!(code, Some(1001));
                let texts: Vec<String> = before
                    .into_iter()
                    .map(|f| String::from_utf8(f.payload).unwrap())
                    .collect();
                let expected: Vec<String> = (0..MESSAGES).map(|i| format!("m{i}")).collect();
                assert_eq!(texts, expected);
                client.send_close(1001, "");
                client.expect_eof();
            })
        })
        .collect();
    let started = Instant::now();
    assert!(server.shutdown(Duration::from_secs(10)));
    assert!(started.elapsed() < Duration::from_secs(10));
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn keepalive_does_not_end_a_client_busy_sending_one_long_frame() {
    let server = echo_builder()
        .ping_interval(Some(Duration::from_millis(100)))
        .ping_timeout(Duration::from_millis(400))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut uploader = RawClient::connect(server.local_addr(), "/");
    let payload = vec![b'u'; 100 * 1024];
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));
    // Ten pieces, 60 ms apart (about 170 KB/s): the upload outlasts the ping
    // timeout, and no pong can be sent in the middle of the frame.
    for piece in frame.chunks(frame.len() / 10 + 1) {
        uploader.send_raw(piece);
        std::thread::sleep(Duration::from_millis(60));
    }
    loop {
        let reply = uploader
            .read_frame()
            .expect("the echo, not the end of the connection");
        match reply.opcode {
            9 => continue, // the server's pings
            2 => {
                assert_eq!(reply.payload.len(), payload.len());
                break;
            }
            other => panic!("unexpected frame {other}: {:?}", reply.close_code()),
        }
    }
    server.shutdown_now();
}

#[test]
fn a_shutdown_is_not_clean_when_a_client_had_to_be_cut() {
    let server = echo_builder()
        .write_timeout(Duration::from_millis(300))
        .close_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut greedy = RawClient::connect(server.local_addr(), "/");
    wait_until("the client is registered", || server.client_count() == 1);
    let frame = encode_frame(true, 0, 2, &vec![1u8; 256 * 1024], Some(KEY));
    let flooder = std::thread::spawn(move || while greedy.stream.write_all(&frame).is_ok() {});
    assert!(
        !server.shutdown(Duration::from_secs(10)),
        "the flooding client never closed cleanly"
    );
    flooder.join().unwrap();
}

/// Set in the child process of the descriptor test.
const FD_CHILD: &str = "STDWS_TEST_DESCRIPTOR_CHILD";

#[test]
fn running_out_of_descriptors_is_answered_with_503_not_silence() {
    // The server runs in a child process (this test binary again) whose
    // descriptor limit is lowered with the shell's `ulimit`: std cannot
    // lower it in-process, and the limit must not hit the other tests.
    if std::env::var_os(FD_CHILD).is_some() {
        let server = Server::builder()
            .workers(1000)
            .on_message(|_, _| {})
            .bind("127.0.0.1:0")
            .unwrap()
            .spawn()
            .unwrap();
        println!("PORT {}", server.local_addr().port());
        std::io::stdout().flush().unwrap();
        // Serve until the parent closes our input.
        let _ = std::io::stdin().read(&mut [0u8; 1]);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args([
            "--exact",
            "running_out_of_descriptors_is_answered_with_503_not_silence",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FD_CHILD, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let port = loop {
        let mut byte = [0u8; 1];
        assert_eq!(out.read(&mut byte).unwrap(), 1, "the child ended early");
        seen.push(byte[0]);
        // The harness prints the test's name first, on the same line.
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((_, rest)) = text.split_once("PORT ") {
            if let Some((port, _)) = rest.split_once('\n') {
                break port.trim().parse::<u16>().unwrap();
            }
        }
    };
    // 64 descriptors: every connection past about 55 finds none. Clients
    // that send nothing keep theirs, waiting for the handshake timeout.
    let mut held = Vec::new();
    let mut answered = 0;
    for _ in 0..100 {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        held.push(stream);
    }
    for stream in &mut held[70..] {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = [0u8; 12];
        if stream.read_exact(&mut head).is_ok() {
            assert_eq!(&head, b"HTTP/1.1 503");
            answered += 1;
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(answered, 30, "each connection past the limit is told 503");
}
