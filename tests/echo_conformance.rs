//! The echo server against the rules of RFC 6455, over real sockets, case by
//! case in the spirit of the Autobahn TestSuite's cases 1 to 10.

mod support;

use std::io::Write;

use support::*;

// ---- handshake -------------------------------------------------------------

#[test]
fn handshake_gets_101_with_the_rfc_accept_value() {
    let server = echo_server();
    let reply = http_exchange(server.local_addr(), &handshake_request("/", ""));
    assert_eq!(reply.status, 101);
    assert_eq!(reply.header("Upgrade").as_deref(), Some("websocket"));
    assert_eq!(
        reply.header("Sec-WebSocket-Accept").as_deref(),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    server.shutdown_now();
}

#[test]
fn handshake_rejections_are_http_errors_with_a_one_line_body() {
    let server = echo_server();
    let addr = server.local_addr();
    let good = handshake_request("/", "");
    let cases: Vec<(String, u16, &str)> = vec![
        (good.replacen("GET", "POST", 1), 405, "method"),
        (good.replace("HTTP/1.1", "HTTP/1.0"), 400, "HTTP/1.1"),
        (good.replace("Host: 127.0.0.1\r\n", ""), 400, "Host"),
        (
            good.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
            400,
            "Sec-WebSocket-Key",
        ),
        (
            good.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            400,
            "Sec-WebSocket-Key",
        ),
        (good.replace("Version: 13", "Version: 8"), 426, "version"),
        (
            good.replace("Upgrade: websocket", "Upgrade: h2c"),
            400,
            "websocket",
        ),
        (
            good.replace("Connection: Upgrade", "Connection: keep-alive"),
            400,
            "upgrade",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            426,
            "WebSocket",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(9000)
            ),
            431,
            "larger",
        ),
        (
            format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(101)),
            431,
            "header fields",
        ),
        ("GARBAGE\r\n\r\n".to_owned(), 400, "malformed"),
    ];
    for (request, status, needle) in cases {
        let reply = http_exchange(addr, &request);
        assert_eq!(reply.status, status, "{request:?} -> {reply:?}");
        assert_eq!(reply.body.lines().count(), 1, "{reply:?}");
        assert!(
            reply.body.contains(needle),
            "body {:?} should mention {needle:?}",
            reply.body
        );
    }
    let reply = http_exchange(addr, &good.replace("Version: 13", "Version: 8"));
    assert_eq!(reply.header("Sec-WebSocket-Version").as_deref(), Some("13"));
    server.shutdown_now();
}

#[test]
fn a_request_head_delivered_one_byte_at_a_time_is_accepted() {
    let server = echo_server();
    let mut stream = tcp(server.local_addr());
    for byte in handshake_request("/", "").bytes() {
        stream.write_all(&[byte]).unwrap();
    }
    assert_eq!(read_http_reply(&mut stream).status, 101);
    server.shutdown_now();
}

#[test]
fn frames_sent_with_the_handshake_are_not_lost() {
    let server = echo_server();
    let mut stream = tcp(server.local_addr());
    let mut bytes = handshake_request("/", "").into_bytes();
    bytes.extend(encode_frame(true, 0, 1, b"early", Some(KEY)));
    stream.write_all(&bytes).unwrap();
    assert_eq!(read_http_reply(&mut stream).status, 101);
    let mut client = RawClient::from_stream(stream);
    client.expect_text("early");
    server.shutdown_now();
}

// ---- framing (Autobahn 1.x, 9.x) -------------------------------------------

#[test]
fn text_and_binary_of_every_length_class_are_echoed() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    for len in [0usize, 1, 125, 126, 127, 128, 65535, 65536, 65537, 1 << 20] {
        let text: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        client.send_text(&text);
        let frame = client.read_frame().unwrap();
        assert_eq!(
            (frame.opcode, frame.fin, frame.masked, frame.payload.len()),
            (1, true, false, len)
        );
        assert_eq!(frame.payload, text.as_bytes());
        let binary: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        client.send(true, 2, &binary);
        let frame = client.read_frame().unwrap();
        assert_eq!((frame.opcode, frame.payload.len()), (2, len));
        assert_eq!(frame.payload, binary);
    }
    server.shutdown_now();
}

#[test]
fn a_16_mib_message_is_echoed_when_the_server_asks_for_16_mib() {
    // The echo example's setting; the library's default is 1 MiB.
    let server = echo_builder()
        .max_message_size(16 << 20)
        .max_frame_size(16 << 20)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload: Vec<u8> = (0..16 << 20).map(|i: usize| (i % 251) as u8).collect();
    let frame = encode_frame(true, 0, 2, &payload, Some(KEY));
    let mut writer = client.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&frame).unwrap());
    let echoed = client.read_frame().unwrap();
    sender.join().unwrap();
    assert_eq!(echoed.payload.len(), payload.len());
    assert!(echoed.payload == payload);
    server.shutdown_now();
}

#[test]
fn by_default_a_message_over_1_mib_is_refused_with_1009() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let header = encode_frame(true, 0, 2, &[], Some(KEY));
    // A header announcing 1 MiB + 1 (64-bit length form) is enough.
    let mut announce = header[..2].to_vec();
    announce[1] = 0x80 | 127;
    announce.extend_from_slice(&((1u64 << 20) + 1).to_be_bytes());
    announce.extend_from_slice(&KEY);
    client.send_raw(&announce);
    let (code, _) = client.expect_close();
    assert_eq!(code, Some(1009));
    server.shutdown_now();
}

#[test]
fn a_message_over_16_mib_fails_with_1009() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    // Only the header: the server must refuse before any payload arrives.
    let mut header = vec![0x82, 0xff];
    header.extend_from_slice(&((16u64 << 20) + 1).to_be_bytes());
    header.extend_from_slice(&KEY);
    client.send_raw(&header);
    assert_eq!(client.expect_close().0, Some(1009));
    client.expect_eof();
    server.shutdown_now();
}

#[test]
fn frames_delivered_one_byte_at_a_time_are_echoed() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let frame = encode_frame(true, 0, 1, "Hello, κόσμε".as_bytes(), Some(KEY));
    for byte in frame {
        client.send_raw(&[byte]);
    }
    client.expect_text("Hello, κόσμε");
    server.shutdown_now();
}

#[test]
fn many_messages_in_one_write_are_each_echoed_in_order() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let mut burst = Vec::new();
    for i in 0..1000 {
        burst.extend(encode_frame(
            true,
            0,
            1,
            format!("m{i}").as_bytes(),
            Some(KEY),
        ));
    }
    client.send_raw(&burst);
    for i in 0..1000 {
        client.expect_text(&format!("m{i}"));
    }
    server.shutdown_now();
}

// ---- pings and pongs (Autobahn 2.x) ----------------------------------------

#[test]
fn pings_are_answered_with_the_same_payload() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    for payload in [&b""[..], b"Hello", &[0xfe; 125], &[0, 255, 1, 254]] {
        client.send(true, 9, payload);
        let pong = client.read_frame().unwrap();
        assert_eq!((pong.opcode, pong.payload.as_slice()), (10, payload));
    }
    server.shutdown_now();
}

#[test]
fn ten_pings_in_a_row_get_ten_pongs() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    for i in 0..10u8 {
        client.send(true, 9, &[i; 10]);
    }
    for i in 0..10u8 {
        assert_eq!(client.read_frame().unwrap().payload, [i; 10]);
    }
    server.shutdown_now();
}

#[test]
fn an_unsolicited_pong_is_ignored() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 10, b"unsolicited");
    client.send_text("after");
    client.expect_text("after");
    server.shutdown_now();
}

#[test]
fn a_ping_over_125_bytes_fails_with_1002() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 9, &[0; 126]);
    assert_eq!(client.expect_close().0, Some(1002));
    client.expect_eof();
    server.shutdown_now();
}

// ---- reserved bits and opcodes (Autobahn 3.x, 4.x) --------------------------

#[test]
fn each_reserved_bit_fails_with_1002_after_earlier_messages_are_echoed() {
    let server = echo_server();
    for rsv in 1..8u8 {
        let mut client = RawClient::connect(server.local_addr(), "/");
        client.send_text("before");
        client.send_raw(&encode_frame(true, rsv, 1, b"bad", Some(KEY)));
        client.send(true, 9, b"after");
        let (code, before) = client.expect_close();
        assert_eq!(code, Some(1002), "rsv {rsv}");
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].payload, b"before");
        client.expect_eof();
    }
    server.shutdown_now();
}

#[test]
fn each_reserved_opcode_fails_with_1002() {
    let server = echo_server();
    for opcode in (3..8u8).chain(11..16) {
        let mut client = RawClient::connect(server.local_addr(), "/");
        client.send_raw(&encode_frame(true, 0, opcode, b"payload", Some(KEY)));
        assert_eq!(client.expect_close().0, Some(1002), "opcode {opcode}");
        client.expect_eof();
    }
    server.shutdown_now();
}

#[test]
fn an_unmasked_client_frame_fails_with_1002() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_raw(&encode_frame(true, 0, 1, b"naked", None));
    assert_eq!(client.expect_close().0, Some(1002));
    client.expect_eof();
    server.shutdown_now();
}

#[test]
fn a_64_bit_length_with_the_top_bit_set_fails_with_1002() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let mut frame = vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1];
    frame.extend_from_slice(&KEY);
    client.send_raw(&frame);
    assert_eq!(client.expect_close().0, Some(1002));
    server.shutdown_now();
}

// ---- fragmentation (Autobahn 5.x) -----------------------------------------

#[test]
fn fragmented_text_with_pings_between_fragments_is_echoed_whole() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 1, b"frag");
    client.send(true, 9, b"ping 1");
    client.send(false, 0, b"ment");
    client.send(true, 9, b"ping 2");
    client.send(true, 0, b"ed");
    let pong1 = client.read_frame().unwrap();
    assert_eq!(
        (pong1.opcode, pong1.payload.as_slice()),
        (10, &b"ping 1"[..])
    );
    let pong2 = client.read_frame().unwrap();
    assert_eq!(pong2.payload, b"ping 2");
    client.expect_text("fragmented");
    server.shutdown_now();
}

#[test]
fn a_message_in_a_thousand_one_byte_fragments_is_echoed() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let text: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let bytes = text.as_bytes();
    let mut burst = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        let opcode = if i == 0 { 1 } else { 0 };
        burst.extend(encode_frame(
            i == bytes.len() - 1,
            0,
            opcode,
            &[*byte],
            Some(KEY),
        ));
    }
    client.send_raw(&burst);
    client.expect_text(&text);
    server.shutdown_now();
}

#[test]
fn fragmentation_errors_fail_with_1002() {
    let server = echo_server();
    // A continuation with nothing to continue.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 0, b"orphan");
    assert_eq!(client.expect_close().0, Some(1002));
    // A new message while one is unfinished.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 1, b"first");
    client.send(true, 1, b"second");
    assert_eq!(client.expect_close().0, Some(1002));
    // A fragmented ping.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(false, 9, b"pi");
    client.send(true, 0, b"ng");
    assert_eq!(client.expect_close().0, Some(1002));
    server.shutdown_now();
}

// ---- UTF-8 (Autobahn 6.x) ---------------------------------------------------

#[test]
fn valid_utf8_split_across_fragments_at_every_byte_is_echoed() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let text = "κόσμε 𝄞 €";
    let bytes = text.as_bytes();
    for cut in 1..bytes.len() {
        client.send(false, 1, &bytes[..cut]);
        client.send(true, 0, &bytes[cut..]);
        client.expect_text(text);
    }
    server.shutdown_now();
}

#[test]
fn invalid_utf8_fails_fast_with_1007_before_the_message_ends() {
    let server = echo_server();
    // Autobahn 6.4.1: the second fragment makes the text invalid; the third
    // is never sent, so only fail-fast validation can answer.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(
        false,
        1,
        &[
            0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5,
        ],
    );
    client.send(false, 0, &[0xf4, 0x90, 0x80, 0x80]);
    assert_eq!(client.expect_close().0, Some(1007));
    client.expect_eof();
    // Autobahn 6.4.3: the same inside one frame, whose end never arrives.
    let mut client = RawClient::connect(server.local_addr(), "/");
    let payload = [
        0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90, 0x80, 0x80,
        b'e', b'd', b'i', b't', b'e', b'd',
    ];
    let frame = encode_frame(true, 0, 1, &payload, Some(KEY));
    client.send_raw(&frame[..6 + 12]); // header, mask, the good bytes and 0xf4
    client.send_raw(&frame[6 + 12..6 + 13]); // 0x90: no code point can start F4 90
    assert_eq!(client.expect_close().0, Some(1007));
    server.shutdown_now();
}

#[test]
fn invalid_utf8_in_a_whole_message_fails_with_1007() {
    let server = echo_server();
    for bad in [
        &b"\xc0\xaf"[..],
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xff",
        b"ok\xe2\x82",
    ] {
        let mut client = RawClient::connect(server.local_addr(), "/");
        client.send(true, 1, bad);
        assert_eq!(client.expect_close().0, Some(1007), "{bad:x?}");
    }
    server.shutdown_now();
}

// ---- closing (Autobahn 7.x) -------------------------------------------------

#[test]
fn every_valid_close_code_is_echoed_and_the_server_closes_tcp_first() {
    let server = echo_server();
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut client = RawClient::connect(server.local_addr(), "/");
        client.send_close(code, "reason");
        assert_eq!(client.expect_close().0, Some(code));
        client.expect_eof();
    }
    server.shutdown_now();
}

#[test]
fn every_invalid_close_code_fails_with_1002() {
    let server = echo_server();
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let mut client = RawClient::connect(server.local_addr(), "/");
        client.send_close(code, "");
        assert_eq!(client.expect_close().0, Some(1002), "code {code}");
        client.expect_eof();
    }
    server.shutdown_now();
}

#[test]
fn close_payload_rules() {
    let server = echo_server();
    // Empty close: answered with an empty close.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 8, b"");
    let frame = client.read_frame().unwrap();
    assert_eq!((frame.opcode, frame.payload.len()), (8, 0));
    client.expect_eof();
    // One byte: 1002.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 8, b"\x03");
    assert_eq!(client.expect_close().0, Some(1002));
    // A reason that is not UTF-8: 1007.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send(true, 8, b"\x03\xe8\xce\xba\xed\xa0\x80");
    assert_eq!(client.expect_close().0, Some(1007));
    // A reason of the full 123 bytes.
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_close(1000, &"r".repeat(123));
    assert_eq!(client.expect_close().0, Some(1000));
    server.shutdown_now();
}

#[test]
fn nothing_is_sent_after_the_close_and_frames_after_it_are_ignored() {
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    client.send_text("before");
    client.send_close(1000, "");
    client.send_text("after");
    client.send(true, 9, b"ping after");
    let (code, before) = client.expect_close();
    assert_eq!(code, Some(1000));
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].payload, b"before");
    client.expect_eof();
    server.shutdown_now();
}

#[test]
fn a_large_message_then_close_gets_both_in_order() {
    // Autobahn 7.1.6: 256 KiB message, close, then a ping.
    let server = echo_server();
    let mut client = RawClient::connect(server.local_addr(), "/");
    let text = "x".repeat(256 * 1024);
    let mut burst = encode_frame(true, 0, 1, text.as_bytes(), Some(KEY));
    burst.extend(encode_frame(true, 0, 8, &1000u16.to_be_bytes(), Some(KEY)));
    burst.extend(encode_frame(true, 0, 9, b"late", Some(KEY)));
    client.send_raw(&burst);
    let (code, before) = client.expect_close();
    assert_eq!(code, Some(1000));
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].payload.len(), text.len());
    client.expect_eof();
    server.shutdown_now();
}

#[test]
fn a_client_that_vanishes_mid_frame_leaves_the_server_serving_others() {
    let server = echo_server();
    {
        let mut client = RawClient::connect(server.local_addr(), "/");
        let frame = encode_frame(true, 0, 1, b"cut short", Some(KEY));
        client.send_raw(&frame[..5]);
    } // dropped: FIN mid-frame
    let mut other = RawClient::connect(server.local_addr(), "/");
    other.send_text("still here");
    other.expect_text("still here");
    wait_until("the vanished client is unregistered", || {
        server.client_count() == 1
    });
    server.shutdown_now();
}
