//! The send path under the attacks and interleavings that the review of the
//! old design found (issue 11), over real sockets on 127.0.0.1: what the
//! server holds for a client is bounded in memory, batching for one client
//! never delays another, and honest readers are not cut as slow under load.
//! The socket-free rules themselves are unit-tested in `server::queue`.

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use stdws::server::Connection;
use stdws::{DataMessage, Message, MessagePart, Server, ServerHandle};
use support::*;

/// A server that echoes messages, and messages of 64 KiB or more in parts.
fn parts_echo(
    limits: impl FnOnce(stdws::server::ServerBuilder) -> stdws::server::ServerBuilder,
) -> ServerHandle {
    limits(echo_builder())
        .on_message_part(64 * 1024, |conn, part| {
            let _ = conn.send_part(part);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// Polls the server's held bytes until `done` holds (the attack runs on
/// another thread); returns the largest figure seen.
fn peak_held_until(server: &ServerHandle, mut done: impl FnMut() -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut peak = 0;
    loop {
        peak = peak.max(server.debug_held_bytes());
        if done() {
            return peak;
        }
        assert!(Instant::now() < deadline, "the attack did not finish");
        thread::yield_now();
    }
}

#[test]
fn a_ping_flood_in_the_middle_of_a_message_costs_one_pong() {
    // The first fragment of a message the echo passes on in parts, then a
    // flood of pings from a client that never reads: the server answers
    // while the client is mid-message, without blocking, so only merging
    // pongs (RFC 6455 section 5.5.3) keeps what it holds bounded. The old
    // path queued every pong: 1.1 GiB in 30 s.
    let server = parts_echo(|b| b);
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 2, &vec![7u8; 128 * 1024]);
    let pings = 100_000;
    let ping = encode_frame(true, 0, 9, &[b'p'; 125], Some(KEY));
    let sent = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut stream = client.stream.try_clone().unwrap();
        let sent = Arc::clone(&sent);
        thread::spawn(move || {
            let burst: Vec<u8> = ping.repeat(1000);
            for _ in 0..pings / 1000 {
                stream.write_all(&burst).unwrap();
            }
            // The rest of the message: the server can finish its echo.
            stream
                .write_all(&encode_frame(true, 0, 0, b"!", Some(KEY)))
                .unwrap();
            sent.store(true, Ordering::Release);
        })
    };
    let peak = peak_held_until(&server, || sent.load(Ordering::Acquire));
    writer.join().unwrap();
    // Now read it all: the echo, and far fewer pongs than pings.
    let mut pongs = 0;
    let mut echoed = 0;
    loop {
        let frame = client.read_frame().expect("a frame");
        match frame.opcode {
            10 => pongs += 1,
            2 | 0 => {
                echoed += frame.payload.len();
                if frame.fin {
                    break;
                }
            }
            other => panic!("unexpected opcode {other}"),
        }
    }
    assert_eq!(echoed, 128 * 1024 + 1);
    assert!(
        pongs >= 1 && pongs < pings,
        "{pongs} pongs for {pings} pings"
    );
    assert!(
        peak < 512 * 1024,
        "the server held {peak} bytes for one client"
    );
}

#[test]
fn a_message_echoed_in_one_byte_parts_is_bounded_with_its_bookkeeping() {
    // 1-byte continuation frames, never reading: each becomes a part and a
    // queued frame of the echo. The old path bounded them only by the
    // message limit in payload bytes (about 45 bytes of bookkeeping each:
    // 2.4 MiB to 217 MiB in 60 s). Now each is charged its bookkeeping
    // against the larger of the queue and message limits (the message limit
    // here), and past it the echo blocks and the write timeout ends the
    // client.
    let limit = 4 << 20;
    let server = parts_echo(|b| {
        b.max_message_size(limit)
            .max_queued_bytes(256 * 1024)
            .write_timeout(Duration::from_secs(1))
            // Keepalive would end the client too, after 40 s: only the
            // send path's own bounds may end it here.
            .ping_interval(None)
    });
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 2, &vec![7u8; 64 * 1024]);
    let one = encode_frame(false, 0, 0, b"x", Some(KEY));
    let mut stream = client.stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        // One frame per write, as the attack sent one per packet, until the
        // server ends the connection: by the write timeout once the echo's
        // bookkeeping reaches the bound, or with 1009 at the message limit
        // if the sockets took every part.
        for _ in 0..limit {
            if stream.write_all(&one).is_err() {
                return;
            }
        }
    });
    let peak = peak_held_until(&server, || server.client_count() == 0);
    let _ = writer.join();
    let bound = limit + 64 * 1024 + 4096;
    assert!(peak <= bound, "held {peak} bytes, bound {bound}");
    // Loopback sockets absorb about 2 MiB of these parts here: past that the
    // server holds them, and the bound above is pressed (peak about 4 MiB on
    // an idle machine). A loaded worker reads the parts in larger pieces,
    // which the sockets may absorb whole: then the attack ends at the
    // message limit without pressing the bound, which is said, not failed.
    if peak <= 256 * 1024 {
        eprintln!("note: the attack did not press the queue on this run ({peak} bytes held)");
    }
}

#[test]
fn batching_for_a_slow_client_never_delays_the_clients_it_broadcasts_to() {
    // The handler of client A broadcasts to B, then replies to A with more
    // than the cork holds, while A does not read: its worker must block on
    // A. With the old thread-local corking, B's frame was deferred behind
    // that block for the whole write timeout (30 s here); B now has it at
    // once.
    let server = Server::builder()
        .write_timeout(Duration::from_secs(30))
        .on_message(|conn: &Connection, _message| {
            let _ = conn.broadcast_except(conn.id(), Message::text("news"));
            let _ = conn.send_binary(&vec![0u8; 32 << 20]);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut b = RawClient::connect(server.local_addr(), "/");
    let mut a = RawClient::connect(server.local_addr(), "/");
    wait_until("both are registered", || server.client_count() == 2);
    // Three messages in one write: the worker is corked for the first two.
    let one = encode_frame(true, 0, 1, b"go", Some(KEY));
    a.send_raw(&one.repeat(3));
    b.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    b.expect_text("news");
    drop(a);
    server.shutdown_now();
}

#[test]
fn honest_readers_are_not_cut_as_slow_while_many_clients_flood_a_broadcast() {
    // Every client sends as fast as it can and reads everything; a few
    // only read. The old path deferred frames behind a starved worker and
    // cut every client with 1008 within 1.4 s (200 x 1,000 messages).
    // No keepalive pings: a reader whose stream stalls must time out and
    // say so, not be kept waiting by pings.
    let server = Server::builder()
        .ping_interval(None)
        .on_message(|conn: &Connection, message| {
            let _ = conn.broadcast(message);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let senders = 40;
    let readers = 10;
    let per_sender = 200;
    let expected = senders * per_sender;
    let url = format!("ws://{}/", server.local_addr());
    // The test's own thread joins the start too: it lets the clients go
    // once the server has registered all of them. A client's handshake
    // returns when the 101 arrives, a moment before the server registers
    // it; broadcasts in that moment do not reach it (CI once saw a reader
    // wait forever for the 63 messages sent before its registration).
    let start = Arc::new(Barrier::new(senders + readers + 1));
    let mut threads = Vec::new();
    for index in 0..senders + readers {
        let url = url.clone();
        let start = Arc::clone(&start);
        threads.push(thread::spawn(move || {
            // A longer bound than the other reads: on a loaded machine the
            // 400,000 deliveries of this test can take a while, and a late
            // message is not a lost one (a lost one still fails the read).
            let ws = stdws::ClientBuilder::new(&url)
                .read_timeout(3 * TIMEOUT)
                .connect()
                .unwrap();
            let (mut reader, writer) = ws.split().unwrap();
            start.wait();
            let sender = (index < senders).then(|| {
                thread::spawn(move || {
                    for seq in 0..per_sender {
                        writer.send_text(&format!("{index}:{seq}")).unwrap();
                    }
                    writer
                })
            });
            let mut got = 0;
            while got < expected {
                match reader.read() {
                    Ok(Message::Text(_)) => got += 1,
                    Ok(Message::Close(frame)) => return Err(format!("closed: {frame:?}")),
                    Ok(_) => {}
                    Err(e) => return Err(format!("after {got}: {e}")),
                }
            }
            if let Some(sender) = sender {
                drop(sender.join().unwrap());
            }
            Ok(got)
        }));
    }
    wait_until("every client is registered", || {
        server.client_count() == senders + readers
    });
    start.wait();
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let failed: Vec<_> = outcomes.iter().filter(|o| o.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} clients failed: {failed:?}",
        failed.len()
    );
    server.shutdown_now();
}

/// One client's view of the stress test: per sender, the next sequence
/// number it expects.
fn check_in_order(next: &mut [u64], text: &str) -> Result<(), String> {
    let (who, seq) = text
        .split_once(':')
        .ok_or_else(|| format!("malformed {text:?}"))?;
    let who: usize = who.parse().map_err(|_| format!("malformed {text:?}"))?;
    let seq: u64 = seq.parse().map_err(|_| format!("malformed {text:?}"))?;
    let slot = next.get_mut(who).ok_or_else(|| format!("sender {who}?"))?;
    if seq != *slot {
        return Err(format!("sender {who}: expected {} got {seq}", *slot));
    }
    *slot += 1;
    Ok(())
}

#[test]
fn many_senders_against_fast_slow_and_stalled_readers_keep_every_frame_whole_and_in_order() {
    // Broadcasters, a sender to one client, owners replying, a message in
    // parts in flight, against fast readers (which must lose nothing), a
    // slow one and a stalled one (which may be cut). Afterwards the byte
    // count is back to zero and every thread has finished.
    const BROADCASTERS: usize = 4;
    const PER_SENDER: u64 = 2_000;
    const DIRECT: usize = BROADCASTERS; // the sender id of send_to
    // Room for a 300 KB echo beside a burst of broadcasts: a reader
    // descheduled for a while on a loaded 2-core machine is still a fast
    // reader, and cutting slow ones is tested on its own.
    let server = Server::builder()
        .max_queued_bytes(4 << 20)
        .on_message(|conn: &Connection, message| {
            // An owner's reply, in the middle of everyone else's sends.
            if let DataMessage::Binary(data) = message {
                let _ = conn.send(Message::Binary(data));
            }
        })
        .on_message_part(64 * 1024, |conn, part: MessagePart| {
            let _ = conn.send_part(part);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let connect = || {
        stdws::ClientBuilder::new(&url)
            .read_timeout(TIMEOUT)
            .max_message_size(64 << 20)
            .max_frame_size(64 << 20)
            .connect()
            .unwrap()
    };
    let fast: Vec<_> = (0..3).map(|_| connect()).collect();
    let slow = connect();
    let stalled = RawClient::connect(server.local_addr(), "/");
    wait_until("all are registered", || server.client_count() == 5);
    let ids: Vec<u64> = server.clients().iter().map(|c| c.id()).collect();
    let direct_target = ids[0];
    let stop = Arc::new(AtomicBool::new(false));

    // Fast readers: every broadcast and (for the first) every direct send,
    // each sender's in order; they also send binary messages that come back
    // from their owner, and one sends a large message passed on in parts.
    let mut readers = Vec::new();
    for (index, ws) in fast.into_iter().enumerate() {
        readers.push(thread::spawn(move || -> Result<(), String> {
            let (mut reader, writer) = ws.split().map_err(|e| e.to_string())?;
            let replies = thread::spawn(move || {
                for round in 0..50u32 {
                    let size = if index == 1 && round % 10 == 0 {
                        300_000
                    } else {
                        100
                    };
                    let data: Vec<u8> = (0..size).map(|i| (i as u32 ^ round) as u8).collect();
                    if writer.send(Message::Binary(data)).is_err() {
                        return;
                    }
                }
            });
            let mut next = [0u64; BROADCASTERS + 1];
            let mut echoes = 0;
            loop {
                let done = next[..BROADCASTERS].iter().all(|&n| n == PER_SENDER)
                    && echoes == 50
                    && (index != 0 || next[DIRECT] == PER_SENDER);
                if done {
                    break;
                }
                match reader.read().map_err(|e| format!("fast {index}: {e}"))? {
                    Message::Text(text) => check_in_order(&mut next, &text)?,
                    Message::Binary(data) => {
                        let round = echoes as u32;
                        let ok = data
                            .iter()
                            .enumerate()
                            .all(|(i, &b)| b == (i as u32 ^ round) as u8);
                        if !ok {
                            return Err(format!("fast {index}: echo {round} corrupted"));
                        }
                        echoes += 1;
                    }
                    other => return Err(format!("fast {index}: {other:?}")),
                }
            }
            let _ = replies.join();
            Ok(())
        }));
    }
    // The slow reader reads a byte at a time; it may be cut, but whatever it
    // gets must be whole and in order.
    let slow_reader = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || -> Result<(), String> {
            let (mut reader, _writer) = slow.split().map_err(|e| e.to_string())?;
            let mut next = [0u64; BROADCASTERS + 1];
            while !stop.load(Ordering::Relaxed) {
                match reader.read() {
                    Ok(Message::Text(text)) => check_in_order(&mut next, &text)?,
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            Ok(())
        })
    };
    let senders: Vec<_> = (0..=BROADCASTERS)
        .map(|who| {
            let server = server.clone();
            thread::spawn(move || {
                for seq in 0..PER_SENDER {
                    let text = format!("{who}:{seq}");
                    if who == DIRECT {
                        let _ = server.send_to(direct_target, Message::text(text));
                    } else {
                        server.broadcast(Message::text(text));
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    for reader in readers {
        reader.join().unwrap().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    // The stalled client never reads: close it, and everything held for it
    // is released; so is everything else once written.
    drop(stalled);
    let remaining = AtomicUsize::new(usize::MAX);
    wait_until("every queue is written or released", || {
        remaining.store(server.debug_held_bytes(), Ordering::Relaxed);
        server.debug_held_bytes() == 0 || server.client_count() == 0
    });
    server.shutdown_now();
    slow_reader.join().unwrap().unwrap();
    assert_eq!(server.debug_held_bytes(), 0);
}

#[test]
fn a_raw_client_gets_frames_whole_after_a_socket_left_full() {
    // A non-blocking writer that leaves a frame half written hands it to the
    // housekeeper; the rest arrives, and then the next frame, whole.
    let server = Server::builder()
        .on_message(|_, _| {})
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    wait_until("registered", || server.client_count() == 1);
    let big = vec![b'y'; 8 << 20];
    let report = server.broadcast(Message::Binary(big.clone()));
    assert!(report.all_delivered(), "{report:?}");
    let frame = client.read_frame().unwrap();
    assert_eq!((frame.opcode, frame.payload.len()), (2, big.len()));
    assert!(frame.payload == big);
    wait_until("the queue is written", || server.debug_held_bytes() == 0);
    server.broadcast(Message::text("after"));
    client.expect_text("after");
    let mut rest = [0u8; 1];
    client
        .stream
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    assert!(client.stream.read(&mut rest).is_err(), "nothing more");
}
