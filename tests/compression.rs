//! `permessage-deflate` (RFC 7692) over real sockets: negotiation both ways,
//! the RSV1 rules with their close codes, decompression bombs, broadcasts
//! compressed once, and messages in parts.

mod support;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use stdws::deflate::{Deflater, Inflater, Level};
use stdws::protocol::compressor::compressed_on_this_thread;
use stdws::server::ServerBuilder;
use stdws::{ClientBuilder, Compression, Error, Message, Server, ServerHandle};
use support::*;

/// Compression with each message compressed on its own (no context kept
/// by the server).
fn alone() -> Compression {
    Compression::default().server_context_takeover(false)
}

/// A compressing echo (a context kept per client, the default) for
/// messages up to `max` bytes, which sends those of `parts_from` bytes or
/// more back in parts as they arrive, telling `part_len` each part's size.
fn parts_echo(
    max: usize,
    parts_from: usize,
    part_len: impl Fn(usize) + Send + Sync + 'static,
) -> ServerHandle {
    Server::builder()
        .workers(8)
        .compression(Compression::default())
        .max_message_size(max)
        .max_frame_size(max)
        .on_message_part(parts_from, move |conn, part| {
            part_len(part.data.len());
            let _ = conn.send_part(part);
        })
        .on_message(|conn, message| {
            let _ = conn.send(message);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// A compressing client of `server` for messages up to `max` bytes.
fn large_client(server: &ServerHandle, max: usize) -> stdws::WebSocket<std::net::TcpStream> {
    ClientBuilder::new(format!("ws://{}/", server.local_addr()))
        .read_timeout(TIMEOUT)
        .max_message_size(max)
        .max_frame_size(max)
        .compression(Compression::default())
        .connect()
        .unwrap()
}

fn compressing_echo(settings: impl FnOnce(ServerBuilder) -> ServerBuilder) -> ServerHandle {
    settings(echo_builder().compression(Compression::default()))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// Sends a handshake offering `offer`; returns the client and the server's
/// `Sec-WebSocket-Extensions` answer.
fn raw_offer(server: &ServerHandle, offer: &str) -> (RawClient, Option<String>) {
    let mut stream = tcp(server.local_addr());
    let extra = match offer {
        "" => String::new(),
        offer => format!("Sec-WebSocket-Extensions: {offer}\r\n"),
    };
    stream
        .write_all(handshake_request("/", &extra).as_bytes())
        .unwrap();
    let reply = read_http_reply(&mut stream);
    assert_eq!(reply.status, 101, "{reply:?}");
    let answer = reply.header("Sec-WebSocket-Extensions");
    (RawClient::from_stream(stream), answer)
}

fn deflate(data: &[u8], bits: u8) -> Vec<u8> {
    let mut d = Deflater::new(Level::DEFAULT, bits).unwrap();
    let mut out = Vec::new();
    d.compress_message(data, &mut out);
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8], bits: u8) -> Vec<u8> {
    let mut i = Inflater::new(bits).unwrap();
    let mut out = Vec::new();
    i.inflate(data, &mut out, 1 << 26).unwrap();
    i.finish_message(&mut out, 1 << 26).unwrap();
    out
}

const JSON: &str = "{\"type\":\"update\",\"id\":12345,\"values\":[1,2,3,4,5],\"ok\":true}";

#[test]
fn the_server_answers_each_offer_variant_as_rfc_7692_says() {
    // At the defaults the server keeps a context for a client that allows
    // it, and says nothing about its own, smaller, window.
    let server = compressing_echo(|b| b);
    let cases = [
        ("permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=12",
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
        ),
    ];
    for (offer, expected) in cases {
        let (_client, answer) = raw_offer(&server, offer);
        assert_eq!(answer.as_deref(), Some(expected), "offer {offer:?}");
    }
    server.shutdown_now();
    // A server that compresses each message on its own says so.
    let server = compressing_echo(|b| b.compression(alone()));
    let cases: [(&str, Option<&str>); 8] = [
        ("", None),
        (
            "permessage-deflate",
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        (
            "permessage-deflate; client_max_window_bits",
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=12"),
        ),
        (
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10",
            ),
        ),
        ("permessage-deflate; server_max_window_bits=16", None),
        ("permessage-deflate; bogus", None),
        ("x-webkit-deflate-frame", None),
        (
            "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=9",
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=9"),
        ),
    ];
    for (offer, expected) in cases {
        let (_client, answer) = raw_offer(&server, offer);
        assert_eq!(answer.as_deref(), expected, "offer {offer:?}");
    }
    server.shutdown_now();
}

#[test]
fn a_server_without_compression_declines_every_offer() {
    let server = echo_server();
    let (mut client, answer) = raw_offer(&server, "permessage-deflate; client_max_window_bits");
    assert_eq!(answer, None);
    // RSV1 then fails the connection with 1002.
    client.send_raw(&frame_with_first_byte(
        0xc1,
        &deflate(b"Hello", 15),
        Some(KEY),
    ));
    assert_eq!(client.expect_close().0, Some(1002));
    server.shutdown_now();
}

#[test]
fn compressed_messages_from_a_raw_client_are_inflated_and_echoed_compressed() {
    let server = compressing_echo(|b| b);
    let (mut client, answer) = raw_offer(&server, "permessage-deflate; client_max_window_bits");
    assert!(answer.is_some());
    let text = JSON.repeat(20);
    client.send_raw(&frame_with_first_byte(
        0xc1,
        &deflate(text.as_bytes(), 12),
        Some(KEY),
    ));
    let echo = client.read_frame().unwrap();
    assert_eq!((echo.fin, echo.rsv, echo.opcode), (true, 0b100, 1));
    assert!(
        echo.payload.len() < text.len() / 4,
        "{}",
        echo.payload.len()
    );
    assert_eq!(inflate(&echo.payload, 15), text.as_bytes());
    // Below the threshold, a message goes back uncompressed.
    client.send_text("hi");
    let echo = client.read_frame().unwrap();
    assert_eq!((echo.rsv, &echo.payload[..]), (0, &b"hi"[..]));
    server.shutdown_now();
}

#[test]
fn rsv1_on_a_continuation_frame_fails_with_1002() {
    let server = compressing_echo(|b| b);
    let (mut client, _) = raw_offer(&server, "permessage-deflate");
    let z = deflate(b"Hello, Hello", 15);
    client.send_raw(&frame_with_first_byte(0x41, &z[..3], Some(KEY)));
    client.send_raw(&frame_with_first_byte(0xc0, &z[3..], Some(KEY)));
    assert_eq!(client.expect_close().0, Some(1002));
    server.shutdown_now();
}

#[test]
fn rsv1_on_a_control_frame_fails_with_1002() {
    let server = compressing_echo(|b| b);
    let (mut client, _) = raw_offer(&server, "permessage-deflate");
    client.send_raw(&frame_with_first_byte(0xc9, b"", Some(KEY)));
    assert_eq!(client.expect_close().0, Some(1002));
    server.shutdown_now();
}

#[test]
fn data_that_does_not_inflate_fails_with_1002() {
    let server = compressing_echo(|b| b);
    let (mut client, _) = raw_offer(&server, "permessage-deflate");
    client.send_raw(&frame_with_first_byte(0xc2, &[0xff; 8], Some(KEY)));
    assert_eq!(client.expect_close().0, Some(1002));
    server.shutdown_now();
}

#[test]
fn a_decompression_bomb_is_refused_with_1009_with_memory_bounded() {
    let server = compressing_echo(|b| b.max_message_size(1 << 20));
    let (mut client, _) = raw_offer(&server, "permessage-deflate");
    // 64 MiB of zeros in about 64 KB: fits the frame limit, not the message limit.
    let bomb = deflate(&vec![0u8; 64 << 20], 15);
    assert!(bomb.len() < 1 << 20);
    client.send_raw(&frame_with_first_byte(0xc2, &bomb, Some(KEY)));
    assert_eq!(client.expect_close().0, Some(1009));
    server.shutdown_now();
}

#[test]
fn the_stdws_client_and_server_negotiate_and_round_trip() {
    let server = compressing_echo(|b| b);
    let url = format!("ws://{}/", server.local_addr());
    for client_settings in [
        Compression::default(),
        Compression::default()
            .context_takeover(false)
            .window_bits(9),
        Compression::default()
            .peer_context_takeover(false)
            .peer_window_bits(10),
        Compression::default().level(0).threshold(0),
    ] {
        let mut ws = ClientBuilder::new(&url)
            .read_timeout(TIMEOUT)
            .compression(client_settings)
            .connect()
            .unwrap();
        let answer = ws
            .response()
            .and_then(|r| r.headers().get("Sec-WebSocket-Extensions"))
            .map(str::to_owned);
        assert!(
            answer
                .as_deref()
                .is_some_and(|a| a.starts_with("permessage-deflate")),
            "{answer:?}"
        );
        for i in 0..20 {
            let text = format!("{i}: {}", JSON.repeat(i));
            ws.send_text(&text).unwrap();
            assert_eq!(ws.read().unwrap(), Message::Text(text));
        }
        let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        ws.send_binary(&binary).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(binary));
        ws.send_text("").unwrap();
        assert_eq!(ws.read().unwrap(), Message::text(""));
    }
    server.shutdown_now();
}

#[test]
fn the_client_fails_the_handshake_on_an_invalid_answer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answers = [
        "permessage-deflate; bogus",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate, permessage-deflate",
        "x-other",
    ];
    let fake = std::thread::spawn(move || {
        for answer in answers {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            let request = read_http_request(&mut stream);
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap_or("")
                .trim();
            let reply = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n",
                stdws::protocol::handshake::accept_key(key)
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    for _ in answers {
        let result = ClientBuilder::new(format!("ws://{addr}/"))
            .read_timeout(TIMEOUT)
            .compression(Compression::default())
            .connect();
        assert!(
            matches!(result, Err(Error::HandshakeResponse { .. })),
            "{result:?}"
        );
    }
    fake.join().unwrap();
}

/// Reads a request head, byte by byte (for the fake server above).
fn read_http_request(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn a_broadcast_is_compressed_once_for_every_client() {
    let server = compressing_echo(|b| b.compression(alone()));
    let mut clients: Vec<RawClient> = (0..5)
        .map(|_| raw_offer(&server, "permessage-deflate").0)
        .collect();
    // Two more with a different window: one more compression for them.
    clients.extend(
        (0..2).map(|_| raw_offer(&server, "permessage-deflate; server_max_window_bits=9").0),
    );
    let plain = RawClient::connect(server.local_addr(), "/");
    clients.push(plain);
    wait_until("all clients are registered", || server.client_count() == 8);
    let text = JSON.repeat(30);
    let before = compressed_on_this_thread();
    let report = server.broadcast(text.as_str());
    assert_eq!(compressed_on_this_thread() - before, 2, "once per window");
    assert!(report.all_delivered(), "{report:?}");
    let mut payloads = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let frame = client.read_frame().unwrap();
        if i == 7 {
            assert_eq!((frame.rsv, frame.payload), (0, text.clone().into_bytes()));
        } else {
            assert_eq!(frame.rsv, 0b100);
            assert_eq!(inflate(&frame.payload, 15), text.as_bytes());
            payloads.push(frame.payload);
        }
    }
    assert!(
        payloads[..5].iter().all(|p| *p == payloads[0]),
        "the same bytes"
    );
    server.shutdown_now();
}

#[test]
fn message_parts_work_with_compressed_messages() {
    let (parts_tx, parts_rx) = mpsc::channel();
    let server = parts_echo(64 << 20, 10_000, move |len| {
        let _ = parts_tx.send(len);
    });
    let mut ws = large_client(&server, 64 << 20);
    let big: String = (0..200_000).map(|i| format!("{i},")).collect();
    ws.send_text(&big).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text(big.clone()));
    let mut total = 0;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while total < big.len() && std::time::Instant::now() < deadline {
        total += parts_rx.recv_timeout(Duration::from_secs(1)).unwrap_or(0);
    }
    assert_eq!(total, big.len(), "the parts hold the inflated message");
    server.shutdown_now();
}

#[test]
fn a_split_client_compresses_and_inflates_on_both_halves() {
    let server = compressing_echo(|b| b);
    let ws = ClientBuilder::new(format!("ws://{}/", server.local_addr()))
        .read_timeout(TIMEOUT)
        .compression(Compression::default())
        .connect()
        .unwrap();
    let (mut reader, writer) = ws.split().unwrap();
    for i in 0..10 {
        let text = format!("{i} {}", JSON.repeat(5));
        writer.send_text(&text).unwrap();
        assert_eq!(reader.read().unwrap(), Message::Text(text));
    }
    server.shutdown_now();
}

/// An echo server that keeps a compression context per client when the
/// client allows it, with 4 KiB windows.
fn context_echo() -> ServerHandle {
    compressing_echo(|b| {
        b.compression(
            Compression::default()
                .server_context_takeover(true)
                .window_bits(12),
        )
    })
}

#[test]
fn with_server_context_takeover_each_message_refers_back_to_the_last() {
    let server = context_echo();
    let (mut client, answer) = raw_offer(&server, "permessage-deflate");
    // No server_no_context_takeover: the server keeps its context.
    assert_eq!(answer.as_deref(), Some("permessage-deflate"));
    let text = JSON.repeat(3);
    let mut inflater = Inflater::new(15).unwrap();
    let mut sizes = Vec::new();
    for _ in 0..3 {
        client.send_text(&text);
        let frame = client.read_frame().unwrap();
        assert_eq!(frame.rsv, 0b100);
        let mut out = Vec::new();
        inflater.inflate(&frame.payload, &mut out, 1 << 20).unwrap();
        inflater.finish_message(&mut out, 1 << 20).unwrap();
        assert_eq!(out, text.as_bytes());
        sizes.push(frame.payload.len());
    }
    // The second and third messages are references to the first: a few
    // bytes, where the first is its own compressed copy.
    assert!(sizes[1] < sizes[0] / 3, "{sizes:?}");
    assert_eq!(sizes[1], sizes[2], "{sizes:?}");

    // A client that asks for no context takeover gets it, and each message
    // alone.
    let (mut alone, answer) = raw_offer(&server, "permessage-deflate; server_no_context_takeover");
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
    for _ in 0..2 {
        alone.send_text(&text);
        let frame = alone.read_frame().unwrap();
        assert_eq!(inflate(&frame.payload, 15), text.as_bytes());
    }
    server.shutdown_now();
}

#[test]
fn a_broadcast_gives_clients_with_a_context_their_own_frames() {
    let server = context_echo();
    let mut keeping: Vec<RawClient> = (0..3)
        .map(|_| raw_offer(&server, "permessage-deflate").0)
        .collect();
    let mut alone: Vec<RawClient> = (0..2)
        .map(|_| raw_offer(&server, "permessage-deflate; server_no_context_takeover").0)
        .collect();
    wait_until("all clients are registered", || server.client_count() == 5);
    let text = JSON.repeat(30);
    let mut inflaters: Vec<Inflater> = (0..3).map(|_| Inflater::new(15).unwrap()).collect();
    for round in 0..2 {
        let before = compressed_on_this_thread();
        let report = server.broadcast(text.as_str());
        assert!(report.all_delivered(), "{report:?}");
        // Once for the clients without a context; theirs are their own.
        assert_eq!(compressed_on_this_thread() - before, 1);
        for (client, inflater) in keeping.iter_mut().zip(&mut inflaters) {
            let frame = client.read_frame().unwrap();
            assert_eq!(frame.rsv, 0b100);
            let mut out = Vec::new();
            inflater.inflate(&frame.payload, &mut out, 1 << 20).unwrap();
            inflater.finish_message(&mut out, 1 << 20).unwrap();
            assert_eq!(out, text.as_bytes(), "round {round}");
        }
        let shared: Vec<Vec<u8>> = alone
            .iter_mut()
            .map(|c| c.read_frame().unwrap().payload)
            .collect();
        assert_eq!(shared[0], shared[1], "the same bytes");
        assert_eq!(inflate(&shared[0], 15), text.as_bytes());
    }
    server.shutdown_now();
}

#[test]
fn a_context_stays_in_step_with_the_wire_under_concurrent_senders_and_parts() {
    // Echoes large messages in parts (compressed with the context), others
    // whole, while other threads broadcast and send to the client: every
    // compressed message must inflate in the client's one window, in order.
    let server = parts_echo(8 << 20, 20_000, |_| {});
    let mut ws = large_client(&server, 8 << 20);
    let answer = ws
        .response()
        .expect("a client's WebSocket has the server's answer")
        .headers()
        .get("Sec-WebSocket-Extensions")
        .map(str::to_owned);
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; client_max_window_bits=12")
    );
    wait_until("the client is registered", || server.client_count() == 1);
    let id = server.clients()[0].id();
    const EACH: usize = 1000;
    let senders: Vec<_> = (0..3)
        .map(|t| {
            let server = server.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let text = format!(
                        "{{\"from\":{t},\"n\":{i},\"pad\":\"{}\"}}",
                        "x".repeat(i % 97)
                    );
                    if t == 0 {
                        server.broadcast(text.as_str());
                    } else if let Some(conn) = server.client(id) {
                        let _ = conn.send(text);
                    }
                }
            })
        })
        .collect();
    let big: String = (0..40_000).map(|i| format!("{i},")).collect();
    let mut echoes = 0;
    let mut others = [0usize; 3];
    for round in 0..10 {
        let mine = if round % 2 == 0 {
            big.clone()
        } else {
            JSON.repeat(round)
        };
        ws.send_text(&mine).unwrap();
        loop {
            match ws.read().unwrap() {
                Message::Text(t) if t == mine => break,
                Message::Text(t) => {
                    let from = t.as_bytes().get(8).map(|b| usize::from(b - b'0'));
                    let from = from.filter(|&f| f < 3).expect("a sender's message");
                    others[from] += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        echoes += 1;
    }
    for sender in senders {
        sender.join().unwrap();
    }
    // What the senders queued after the last echo.
    while others.iter().sum::<usize>() < 3 * EACH {
        match ws.read().unwrap() {
            Message::Text(t) => {
                let from = usize::from(t.as_bytes()[8] - b'0');
                others[from] += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((echoes, others), (10, [EACH; 3]));
    server.shutdown_now();
}

#[test]
fn a_message_sent_while_the_context_compresses_parts_goes_uncompressed_after_them() {
    // On a message's first part, another thread sends to the same client:
    // the queue holds that message back until the last part, so it must not
    // enter the context's history before the parts.
    const OTHER: &str = "{\"from\":\"another thread\",\"while\":\"parts\"}";
    let server = Server::builder()
        .workers(4)
        .compression(Compression::default().server_context_takeover(true))
        .on_message_part(1, |conn, part| {
            let first = part.first && !part.last;
            let _ = conn.send_part(part);
            if first {
                let other = conn.clone();
                let _ = std::thread::spawn(move || other.send(OTHER)).join();
            }
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let (mut client, answer) = raw_offer(&server, "permessage-deflate");
    assert_eq!(answer.as_deref(), Some("permessage-deflate"));
    let (one, two) = (JSON.repeat(40), JSON.repeat(30));
    let mut inflater = Inflater::new(15).unwrap();
    let mut message = Vec::new();
    client.send(false, 0x1, one.as_bytes());
    let first = client.read_frame().unwrap();
    assert_eq!((first.fin, first.rsv, first.opcode), (false, 0b100, 0x1));
    inflater
        .inflate(&first.payload, &mut message, 1 << 20)
        .unwrap();
    client.send(true, 0x0, two.as_bytes());
    let last = client.read_frame().unwrap();
    assert_eq!((last.fin, last.rsv, last.opcode), (true, 0, 0x0));
    inflater
        .inflate(&last.payload, &mut message, 1 << 20)
        .unwrap();
    inflater.finish_message(&mut message, 1 << 20).unwrap();
    assert!(
        message == format!("{one}{two}").as_bytes(),
        "the parts inflate to the message"
    );
    // The other thread's message, after the parts and outside the history.
    let other = client.read_frame().unwrap();
    assert_eq!((other.rsv, other.payload.as_slice()), (0, OTHER.as_bytes()));
    // And the next compressed message still inflates in the same window.
    client.send_text(&one);
    let again = client.read_frame().unwrap();
    assert_eq!(again.rsv, 0b100);
    let mut out = Vec::new();
    inflater.inflate(&again.payload, &mut out, 1 << 20).unwrap();
    inflater.finish_message(&mut out, 1 << 20).unwrap();
    assert!(out == one.as_bytes(), "the next message inflates");
    // Matches of at most 258 bytes into the earlier copy.
    assert!(
        again.payload.len() < 64,
        "a reference back: {}",
        again.payload.len()
    );
    server.shutdown_now();
}
