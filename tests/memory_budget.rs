//! The server-wide memory budget (`ServerBuilder::memory_budget`): one
//! number bounds what clients together make the server hold, in messages
//! still arriving and in outbound queues. Past it, a large message is
//! refused with 1013 and the largest queues are cut with 1013; everyone
//! else carries on.

mod support;

use std::io::Write;
use std::thread;

use stdws::Message;
use support::*;

const MESSAGE: usize = 250_000;

#[test]
fn a_large_message_past_the_budget_is_refused_with_1013_and_others_carry_on() {
    let server = echo_builder()
        .memory_budget(300_000)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let payload: Vec<u8> = (0..MESSAGE).map(|i| (i % 251) as u8).collect();
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));

    // A: most of a 250 KB message, held by the server while the rest comes.
    let mut a = RawClient::connect(addr, "/");
    let split = frame.len() - 50_000;
    a.send_raw(&frame[..split]);
    wait_until("A's message is charged", || {
        server.stats().memory_held >= 200_000
    });

    // B: a 100 KB message, which takes the total past 300 KB.
    let mut b = RawClient::connect(addr, "/");
    let big = encode_frame(true, 0, 2, &vec![7u8; 100_000], Some(KEY));
    let mut writer = b.stream.try_clone().unwrap();
    // The server may stop reading B midway: write from a thread.
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&big);
    });
    let (code, _) = b.expect_close();
    assert_eq!(code, Some(1013), "B is told to try again later");
    let _ = sender.join();
    assert_eq!(server.stats().over_budget, 1);
    wait_until("B's bytes are let go", || {
        server.stats().memory_held <= 300_000
    });

    // A finishes its message and gets all of it back.
    a.send_raw(&frame[split..]);
    let echoed = a.read_frame().expect("A's echo");
    assert_eq!(echoed.payload.len(), MESSAGE);
    assert!(echoed.payload == payload);
    // A small message always passes.
    let mut c = RawClient::connect(addr, "/");
    c.send_text("small");
    c.expect_text("small");
    drop((a, c));
    wait_until("everything is given back", || {
        server.stats().memory_held == 0
    });
    server.shutdown_now();
}

#[test]
fn the_largest_queue_is_cut_with_1013_when_the_budget_is_spent() {
    const CHUNK: usize = 64 * 1024;
    const COUNT: usize = 200;
    let (ended_tx, ended_rx) = std::sync::mpsc::channel();
    let ended_tx = std::sync::Mutex::new(ended_tx);
    let server = echo_builder()
        .memory_budget(2 << 20)
        .max_queued_bytes(64 << 20)
        .on_disconnect(move |conn, why| {
            let _ = ended_tx.lock().unwrap().send((conn.id(), why.code.0));
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    // A client that reads nothing until the end: its queue grows.
    let mut stalled = RawClient::connect(addr, "/");
    // A client that reads everything as it comes.
    let mut healthy = RawClient::connect(addr, "/");
    wait_until("both are registered", || server.client_count() == 2);
    let reader = thread::spawn(move || {
        let mut got = 0;
        while got < COUNT {
            let frame = healthy.read_frame().expect("the healthy client's data");
            assert_eq!(frame.payload.len(), CHUNK);
            got += 1;
        }
        healthy.send_text("still here");
        healthy.expect_text("still here");
        (got, healthy)
    });
    for _ in 0..COUNT {
        server.broadcast(Message::binary(vec![1u8; CHUNK]));
    }
    let (got, healthy) = reader.join().unwrap();
    assert_eq!(got, COUNT, "the healthy client got everything");
    wait_until("the stalled client's queue is cut", || {
        server.stats().over_budget >= 1
    });
    // The cut client's socket was full: it gets what the socket had taken
    // and then the end of the connection (the close could not be written).
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stalled.stream, &mut rest);
    assert!(
        rest.len() < COUNT * CHUNK,
        "the stalled client did not get everything"
    );
    let (_, code) = ended_rx
        .recv_timeout(TIMEOUT)
        .expect("the stalled client ended");
    assert_eq!(code, 1013, "the server ended it for the memory budget");
    wait_until("the cut queue's bytes are let go", || {
        server.stats().memory_held < 2 << 20
    });
    assert_eq!(
        server.client_count(),
        1,
        "the healthy client is still connected"
    );
    drop(healthy);
    server.shutdown_now();
}
