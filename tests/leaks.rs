//! Ten thousand connections that end badly, in every way a client can end
//! one, leave nothing behind: no registry entry, no thread, no descriptor.
//!
//! This file holds a single test so that it has the process to itself: the
//! counts of threads and open descriptors are then exact.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use support::*;

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One connection that ends in the way numbered `kind`.
fn abort(addr: SocketAddr, kind: usize) {
    let mut stream = tcp(addr);
    let handshake = handshake_request("/", "");
    match kind {
        // Connect and close at once.
        0 => {}
        // Half a handshake, then close.
        1 => stream.write_all(&handshake.as_bytes()[..20]).unwrap(),
        // Garbage instead of a handshake.
        2 => {
            let _ = stream.write_all(b"\x16\x03\x01 not http at all\r\n\r\n");
        }
        // A handshake, then close without a close frame.
        3 => stream.write_all(handshake.as_bytes()).unwrap(),
        // A handshake and half a frame, then close.
        4 => {
            stream.write_all(handshake.as_bytes()).unwrap();
            stream
                .write_all(&encode_frame(true, 0, 1, b"cut off", Some(KEY))[..5])
                .unwrap();
        }
        // A message whose echo is never read: closing with unread bytes
        // sends a reset (RST) instead of a FIN.
        5 => {
            stream.write_all(handshake.as_bytes()).unwrap();
            let mut client = RawClient::from_stream(stream.try_clone().unwrap());
            client.send_text("echo me");
            // Wait for the 101 and the echo to arrive, unread.
            let mut peek = [0u8; 1];
            let _ = stream.peek(&mut peek);
        }
        // Half-close mid-frame, then wait for the server to give up.
        6 => {
            stream.write_all(handshake.as_bytes()).unwrap();
            stream
                .write_all(&encode_frame(true, 0, 2, &[1; 100], Some(KEY))[..50])
                .unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        }
        // A protocol violation, then close before reading the close frame.
        7 => {
            stream.write_all(handshake.as_bytes()).unwrap();
            stream
                .write_all(&encode_frame(true, 3, 1, b"rsv", Some(KEY)))
                .unwrap();
        }
        // A clean close, for contrast.
        _ => {
            stream.write_all(handshake.as_bytes()).unwrap();
            let mut client = RawClient::from_stream(stream.try_clone().unwrap());
            assert_eq!(read_http_reply(&mut client.stream).status, 101);
            client.send_close(1000, "");
            client.expect_close();
            client.expect_eof();
        }
    }
}

#[test]
fn ten_thousand_aborted_connections_leave_no_thread_descriptor_or_registry_entry() {
    const CYCLES: usize = 10_000;
    const WORKERS: usize = 16;
    let threads_before = threads();
    let descriptors_before = descriptors();
    let server = echo_builder()
        .workers(WORKERS)
        .handshake_timeout(Duration::from_secs(2))
        .close_timeout(Duration::from_millis(500))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    for cycle in 0..CYCLES {
        // A refused connection (503: the pool is busy) is an abort too.
        abort(addr, cycle % 9);
    }
    wait_until("every connection has left the registry", || {
        server.debug_counts()[..4] == [0, 0, 0, 0]
    });
    let stats = server.stats();
    eprintln!("{stats:?}");
    assert!(
        stats.accepted as usize > CYCLES * 9 / 10,
        "most connections reach a worker: {stats:?}"
    );
    assert_eq!(stats.opened, stats.closed);
    // The pool's threads stay; nothing else does.
    let running = threads();
    assert!(
        running <= threads_before + 2 + WORKERS,
        "{running} threads while running"
    );
    // The server keeps two: its listener, and the acceptor's spare for
    // answering when descriptors run out.
    wait_until("every worker has closed its socket", || {
        descriptors() == descriptors_before + 2
    });
    server.shutdown_now();
    assert_eq!(server.debug_counts(), [0, 0, 0, 0, 0]);
    // Every thread has been joined by now, but a joined thread can still be
    // counted for a moment: the kernel wakes the joiner when the thread lets
    // go of its stack, slightly before it removes the thread from the
    // process. So wait, within the usual bound, for the count to settle.
    wait_until("every thread of the server has ended", || {
        threads() == threads_before
    });
    assert_eq!(
        descriptors(),
        descriptors_before,
        "every socket is closed, the listener too"
    );
}
