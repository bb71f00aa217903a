//! Messages handed to a handler in parts as they arrive, and sent back in
//! parts as fragments (RFC 6455, section 5.4), over real sockets.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use stdws::server::{Connection, Handler, ServerBuilder};
use stdws::{DataMessage, Error, Message, MessagePart, Server, ServerHandle};
use support::*;

/// Parts from this size on, in these tests.
const PARTS_FROM: usize = 1000;

/// An echo server like `examples/echo.rs`: large messages go back in parts.
fn streaming_echo() -> ServerHandle {
    streaming_echo_with(|builder| builder)
}

/// [`streaming_echo`] with other settings.
fn streaming_echo_with(settings: impl FnOnce(ServerBuilder) -> ServerBuilder) -> ServerHandle {
    settings(echo_builder())
        .on_message_part(PARTS_FROM, |conn, part| {
            let _ = conn.send_part(part);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// Limits for the tests whose messages are larger than loopback's socket
/// buffers (up to 32 MiB).
fn allow_huge_messages(builder: ServerBuilder) -> ServerBuilder {
    builder
        .max_message_size(128 << 20)
        .max_frame_size(128 << 20)
}

/// Reads fragments up to the one with FIN; returns the first opcode, the
/// joined payload and how many fragments there were.
fn read_message(client: &mut RawClient) -> (u8, Vec<u8>, usize) {
    let first = client.read_frame().expect("a data frame");
    assert!(!first.masked && first.opcode != 0, "{first:?}");
    let (opcode, mut data) = (first.opcode, first.payload);
    let count = match first.fin {
        true => 1,
        false => 1 + read_rest(client, &mut data),
    };
    (opcode, data, count)
}

/// Reads continuation frames up to the one with FIN, appending their
/// payloads to `data`; returns how many there were.
fn read_rest(client: &mut RawClient, data: &mut Vec<u8>) -> usize {
    let mut count = 0;
    loop {
        let next = client.read_frame().expect("a continuation frame");
        assert_eq!(next.opcode, 0, "nothing comes between fragments: {next:?}");
        data.extend(next.payload);
        count += 1;
        if next.fin {
            return count;
        }
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn a_large_message_is_echoed_before_it_has_fully_arrived() {
    let server = streaming_echo();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = pattern(200_000);
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));
    // Send all but the last byte: an echo that waited for the whole message
    // would send nothing, and this read would time out.
    client.send_raw(&frame[..frame.len() - 1]);
    let first = client.read_frame().expect("the first part, echoed");
    assert_eq!((first.opcode, first.fin), (2, false), "{first:?}");
    assert!(!first.payload.is_empty());
    assert_eq!(first.payload[..], payload[..first.payload.len()]);
    client.send_raw(&frame[frame.len() - 1..]);
    let mut echoed = first.payload;
    read_rest(&mut client, &mut echoed);
    assert_eq!(echoed, payload);
    // Small messages still go back whole, in one frame.
    client.send_text("small");
    client.expect_text("small");
    client.send_close(1000, "");
    assert_eq!(client.expect_close().0, Some(1000));
}

#[test]
fn every_size_class_and_both_kinds_round_trip() {
    let server = streaming_echo();
    let mut client = RawClient::connect(server.local_addr(), "/");
    for len in [0, 1, 125, 126, 999, 1000, 1001, 65_535, 65_536, 300_000] {
        let payload = pattern(len);
        client.send(true, 2, &payload);
        let (opcode, echoed, _) = read_message(&mut client);
        assert_eq!((opcode, echoed.len()), (2, len));
        assert_eq!(echoed, payload, "binary of {len} bytes");

        let text: String = "aé€𝄞".chars().cycle().take(len).collect();
        client.send(true, 1, text.as_bytes());
        let (opcode, echoed, _) = read_message(&mut client);
        assert_eq!(opcode, 1);
        assert_eq!(
            String::from_utf8(echoed).unwrap(),
            text,
            "text of {len} chars"
        );
    }
}

#[test]
fn a_fragmented_message_with_pings_between_is_echoed_in_parts() {
    let server = streaming_echo();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = pattern(5000);
    for (i, piece) in payload.chunks(500).enumerate() {
        let opcode = if i == 0 { 2 } else { 0 };
        client.send(i == 9, opcode, piece);
        if i == 4 {
            client.send(true, 9, b"between");
        }
    }
    let mut echoed = Vec::new();
    let mut pong = None;
    loop {
        let frame = client.read_frame().expect("a frame");
        match frame.opcode {
            10 => pong = Some(frame.payload),
            2 | 0 => {
                echoed.extend(frame.payload);
                if frame.fin {
                    break;
                }
            }
            other => panic!("unexpected opcode {other}"),
        }
    }
    assert_eq!(echoed, payload);
    assert_eq!(pong.as_deref(), Some(&b"between"[..]));
}

#[test]
fn invalid_utf8_in_a_message_in_parts_fails_with_1007_after_the_valid_parts() {
    let server = streaming_echo();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let mut text = "€".repeat(3000).into_bytes();
    text[6000] = 0xff;
    client.send(true, 1, &text);
    let (code, before) = client.expect_close();
    assert_eq!(code, Some(1007));
    let echoed: Vec<u8> = before.iter().flat_map(|f| f.payload.clone()).collect();
    assert!(echoed.len() <= 6000, "nothing from the invalid byte on");
    assert_eq!(echoed[..], text[..echoed.len()]);
    assert!(
        before.iter().all(|f| !f.fin),
        "the message was never finished"
    );
}

#[test]
fn the_message_limit_applies_to_a_message_in_parts() {
    let server = streaming_echo_with(|builder| builder.max_message_size(10_000));
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 2, &[1; 6000]);
    client.send(true, 0, &[2; 6000]);
    assert_eq!(client.expect_close().0, Some(1009));
}

#[test]
fn a_broadcast_waits_for_the_message_in_parts_to_end() {
    let server = streaming_echo();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = pattern(50_000);
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));
    client.send_raw(&frame[..20_000]);
    let first = client.read_frame().expect("the first part");
    assert_eq!((first.opcode, first.fin), (2, false));
    // Mid-message, another thread broadcasts: it must not come between the
    // fragments, and must not be lost.
    let report = server.broadcast(Message::text("from elsewhere"));
    assert!(report.all_delivered(), "{report:?}");
    client.send_raw(&frame[20_000..]);
    let mut echoed = first.payload;
    read_rest(&mut client, &mut echoed);
    assert_eq!(echoed, payload);
    client.expect_text("from elsewhere");
}

/// Sends a whole message in the middle of its own message in parts, and a
/// part from another thread; reports what each send returned.
struct Misuser {
    results: mpsc::Sender<String>,
}

impl Handler for Misuser {
    fn on_message(&mut self, conn: &Connection, _: DataMessage) {
        let outcome = |r: Result<(), Error>| match r {
            Ok(()) => "ok".to_string(),
            Err(Error::PartOutOfOrder(_)) => "out of order".to_string(),
            Err(e) => format!("other error: {e}"),
        };
        let first = MessagePart::text_start("one, ");
        let report = [
            outcome(conn.send_part(first.next("two"))),
            outcome(conn.send_part(first.clone())),
            outcome(conn.send_part(first.clone())),
            outcome(conn.send_text("whole")),
            outcome({
                let conn = conn.clone();
                std::thread::spawn(move || conn.send_part(MessagePart::binary_start("x")))
                    .join()
                    .unwrap()
            }),
            outcome(conn.send_part(first.next("two").ending())),
            outcome(conn.send_text("whole")),
        ];
        let _ = self.results.send(report.join(", "));
    }
}

#[test]
fn parts_out_of_order_are_refused_and_the_message_stays_intact() {
    let (tx, rx) = mpsc::channel();
    let server = Server::builder()
        .handler(move || Misuser {
            results: tx.clone(),
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_text("go");
    let report = rx.recv_timeout(TIMEOUT).expect("the handler ran");
    assert_eq!(
        report,
        "out of order, ok, out of order, out of order, out of order, ok, ok"
    );
    let (opcode, data, fragments) = read_message(&mut client);
    assert_eq!((opcode, &data[..], fragments), (1, &b"one, two"[..], 2));
    client.expect_text("whole");
}

#[test]
fn a_client_receives_a_message_sent_in_parts_as_one_message() {
    let server = streaming_echo();
    let url = format!("ws://{}/", server.local_addr());
    let mut ws = stdws::connect(&url).unwrap();
    let payload = pattern(500_000);
    ws.send(Message::Binary(payload.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(payload));
    ws.close(stdws::CloseCode::NORMAL, "").unwrap();
}

#[test]
fn a_client_that_reads_only_after_sending_gets_a_huge_message_back() {
    // A blocking client writes the whole message before it reads. An echo
    // that blocked on writing parts back would stop reading, and both ends
    // would wait on full socket buffers until the write timeout.
    let server = streaming_echo_with(allow_huge_messages);
    let url = format!("ws://{}/", server.local_addr());
    let mut ws = stdws::ClientBuilder::new(url)
        .max_message_size(16 << 20)
        .max_frame_size(16 << 20)
        .connect()
        .unwrap();
    let payload = pattern(16 << 20);
    ws.send(Message::Binary(payload.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(payload));
    ws.close(stdws::CloseCode::NORMAL, "").unwrap();
}

#[test]
fn what_the_socket_did_not_take_mid_message_still_goes_out() {
    // The client sends half of a large frame without reading, so that the
    // echo fills its socket, then waits for the echo of that half before it
    // sends the rest. The worker is then waiting for input: the rest of the
    // first half's echo must go out without it.
    // Large enough to fill the socket buffers of loopback, even where the
    // kernel lets them grow to 32 MiB.
    let server = streaming_echo_with(allow_huge_messages);
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = pattern(100 << 20);
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));
    let half = frame.len() / 2;
    client.send_raw(&frame[..half]);
    let header_len = frame.len() - payload.len();
    let mut echoed = Vec::new();
    while echoed.len() < half - header_len {
        let part = client.read_frame().expect("a part of the first half");
        assert!(!part.fin);
        echoed.extend(part.payload);
    }
    client.send_raw(&frame[half..]);
    read_rest(&mut client, &mut echoed);
    assert_eq!(echoed, payload);
}

#[test]
fn a_client_still_sending_is_not_cut_for_not_reading_the_echo_yet() {
    // A client that sends a large message at its own pace and reads only
    // once it has sent it is busy, not stuck: while its bytes keep coming,
    // the echo waiting for it to read must not run out the write timeout.
    // The message is larger than loopback's socket buffers can hold (up to
    // 32 MiB), so part of the echo waits in the queue while the client is
    // still sending; the pacing (not a synchronisation) makes the sending
    // last several write timeouts.
    let server = streaming_echo_with(|builder| {
        allow_huge_messages(builder).write_timeout(Duration::from_millis(100))
    });
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = pattern(64 << 20);
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));
    for chunk in frame.chunks(1 << 20) {
        client.send_raw(chunk);
        std::thread::sleep(Duration::from_millis(10));
    }
    let (opcode, echoed, _) = read_message(&mut client);
    assert_eq!(opcode, 2);
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "the echo differs from the message");
}

#[test]
fn the_echo_waiting_for_a_client_does_not_count_against_its_queue_limit() {
    // The client sends a message larger than loopback's socket buffers (up
    // to 32 MiB) before it reads, so most of the echo waits in the queue,
    // far over its limit. That is the handler's own reply, not something
    // others piled up for a slow client: a broadcast meanwhile must wait
    // behind it, not disconnect the client.
    let server =
        streaming_echo_with(|builder| allow_huge_messages(builder).max_queued_bytes(64 << 10));
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = pattern(64 << 20);
    client.send_raw(&encode_frame(true, 0, 2, &payload, Some(KEY)));
    let report = server.broadcast(Message::text("from elsewhere"));
    assert!(report.all_delivered(), "{report:?}");
    let (opcode, echoed, _) = read_message(&mut client);
    assert_eq!(opcode, 2);
    assert!(echoed == payload, "the echo differs from the message");
    client.expect_text("from elsewhere");
}
