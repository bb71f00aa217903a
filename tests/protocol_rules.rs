//! The rules of RFC 6455 that the sans-I/O core implements, one test per rule,
//! on the model of Python websockets' `tests/test_protocol.py`: bytes in,
//! messages and bytes out, no sockets.
//!
//! Frames are built by hand here, byte by byte as section 5.2 lays them out,
//! so that the core's decoder is never checked against its own encoder.
//! Every rule is checked from both sides where it applies: what a client
//! sends, what a server sends, what a client receives, what a server receives.

mod support;

#[path = "support/peer.rs"]
mod peer;
use peer::Peer;
use stdws::protocol::frame::{FrameHeader, OpCode};
use stdws::protocol::handshake::{
    ClientRequest, RequestProblem, ResponseProblem, accept_key, accept_response, check_request,
    check_response,
};
use stdws::protocol::http::{HeadError, HeadLimits, HeadReader, Headers, Request, Response};
use stdws::protocol::mask::apply_mask;
use stdws::protocol::{Limits, Receiver, Role, SendError, Sender, State, Violation};
use stdws::{CloseCode, CloseFrame, Message};

// ---------------------------------------------------------------------------
// Frames built by hand (section 5.2)
// ---------------------------------------------------------------------------

const FIN: u8 = 0x80;
const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The masking key of the examples in section 5.7.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const ROLES: [Role; 2] = [Role::Server, Role::Client];

/// A frame whose first byte is `first` (FIN, RSV and opcode), built by hand.
fn raw(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    support::frame_with_first_byte(first, payload, mask)
}

/// A well-formed frame as the peer of `receiver` sends it: masked when a
/// client sends it to a server, unmasked when a server sends it to a client.
fn to(receiver: Role, first: u8, payload: &[u8]) -> Vec<u8> {
    match receiver {
        Role::Server => raw(first, payload, Some(KEY)),
        Role::Client => raw(first, payload, None),
    }
}

/// The same frame with the masking rule broken.
fn to_wrongly_masked(receiver: Role, first: u8, payload: &[u8]) -> Vec<u8> {
    match receiver {
        Role::Server => raw(first, payload, None),
        Role::Client => raw(first, payload, Some(KEY)),
    }
}

fn peer(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// Payload bytes that differ from one position to the next.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

// ---------------------------------------------------------------------------
// Driving receivers and sessions
// ---------------------------------------------------------------------------

/// Feeds `data` to `rx` until it is used up, collecting the messages; checks
/// that every call makes progress.
fn receive_all(rx: &mut Receiver, mut data: &[u8]) -> Result<Vec<Message>, Violation> {
    let mut messages = Vec::new();
    while !data.is_empty() {
        let (used, message) = rx.receive(data)?;
        assert!(used <= data.len());
        assert!(used > 0 || message.is_some(), "receive made no progress");
        data = &data[used..];
        messages.extend(message);
    }
    Ok(messages)
}

/// The same for a session.
fn session_receive_all(session: &mut Peer, mut data: &[u8]) -> Result<Vec<Message>, Violation> {
    let mut messages = Vec::new();
    while !data.is_empty() {
        let (used, message) = session.receive(data)?;
        assert!(used <= data.len());
        assert!(used > 0 || message.is_some(), "receive made no progress");
        data = &data[used..];
        messages.extend(message);
    }
    Ok(messages)
}

/// Feeds each piece in its own call(s); returns the index of the piece whose
/// call failed, with the violation.
fn failing_piece(rx: &mut Receiver, pieces: &[&[u8]]) -> Option<(usize, Violation)> {
    for (i, piece) in pieces.iter().enumerate() {
        let mut rest = *piece;
        loop {
            match rx.receive(rest) {
                Err(violation) => return Some((i, violation)),
                Ok((used, message)) => {
                    assert!(used > 0 || message.is_some() || rest.is_empty());
                    rest = &rest[used..];
                    if rest.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    None
}

/// What an endpoint of `role` with `limits` makes of `data`, fed at once and
/// then one byte at a time (both must agree).
fn receive_with(role: Role, limits: Limits, data: &[u8]) -> Result<Vec<Message>, Violation> {
    let whole = receive_all(&mut Receiver::new(role, limits), data);
    let mut rx = Receiver::new(role, limits);
    let mut bytewise = Ok(Vec::new());
    for byte in data.chunks(1) {
        match receive_all(&mut rx, byte) {
            Ok(messages) => {
                if let Ok(all) = &mut bytewise {
                    all.extend(messages);
                }
            }
            Err(violation) => {
                bytewise = Err(violation);
                break;
            }
        }
    }
    match (&whole, &bytewise) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{role:?}: whole and byte-by-byte differ"),
        (Err(a), Err(b)) => assert_eq!(
            a.close_code(),
            b.close_code(),
            "{role:?}: whole and byte-by-byte fail differently"
        ),
        _ => panic!("{role:?}: whole gives {whole:?}, byte-by-byte gives {bytewise:?}"),
    }
    whole
}

fn receive(role: Role, data: &[u8]) -> Result<Vec<Message>, Violation> {
    receive_with(role, Limits::default(), data)
}

fn messages(role: Role, data: &[u8]) -> Vec<Message> {
    receive(role, data).unwrap_or_else(|v| panic!("{role:?} failed: {v}"))
}

/// Decodes frames written by an endpoint of `sender`, as its peer would.
fn decode(sender: Role, wire: &[u8]) -> Vec<Message> {
    receive_all(&mut Receiver::new(peer(sender), Limits::default()), wire)
        .unwrap_or_else(|v| panic!("frames written by the {sender:?} are invalid: {v}"))
}

/// Checks that an endpoint of `role` with `limits` fails the connection on
/// `data` with `code`: the receiver's violation carries the code, whether
/// the bytes come at once or one at a time; a session answers with a close
/// frame carrying that code, is closed, and keeps returning the violation.
fn assert_fails_with(role: Role, limits: Limits, data: &[u8], code: u16) -> Violation {
    let violation = receive_with(role, limits, data).expect_err("the bytes break a rule");
    assert_eq!(
        violation.close_code(),
        CloseCode(code),
        "{role:?}: {violation}"
    );

    // A failed receiver returns the same violation to every later call.
    let mut rx = Receiver::new(role, limits);
    let again = receive_all(&mut rx, data).expect_err("the bytes break a rule");
    assert_eq!(again, violation);
    for later in [&b""[..], b"\x81\x00", data] {
        assert_eq!(rx.receive(later), Err(violation), "{role:?}: a later call");
    }

    let mut session = Peer::new(role, limits);
    let failure = session_receive_all(&mut session, data).expect_err("the session fails");
    assert_eq!(failure.close_code(), CloseCode(code));
    assert_eq!(session.state(), State::Closed);
    assert_eq!(session.failure(), Some(failure));
    let answer = decode(role, session.output());
    match answer.as_slice() {
        [Message::Close(Some(frame))] => assert_eq!(frame.code, CloseCode(code)),
        other => panic!("{role:?} answered {other:?} instead of a close with {code}"),
    }
    // Every later call returns the same violation, and nothing more is sent.
    session.clear_output();
    assert_eq!(session.receive(b"\x81\x00"), Err(failure));
    assert_eq!(session.receive(b""), Err(failure));
    assert!(session.output().is_empty());
    violation
}

fn assert_fails(role: Role, data: &[u8], code: u16) -> Violation {
    assert_fails_with(role, Limits::default(), data, code)
}

// ---------------------------------------------------------------------------
// The examples of RFC 6455, byte for byte
// ---------------------------------------------------------------------------

const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

#[test]
fn rfc_1_3_sample_key_gives_sample_accept_value() {
    assert_eq!(accept_key(SAMPLE_KEY), SAMPLE_ACCEPT);
    let response = accept_response(SAMPLE_KEY, None);
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.headers().get("Sec-WebSocket-Accept"),
        Some(SAMPLE_ACCEPT)
    );
    // And the client takes exactly that answer.
    let head = response.to_bytes();
    let parsed = Response::parse_head(&head, HeadLimits::default()).unwrap();
    assert_eq!(check_response(&parsed, SAMPLE_KEY, &[]), Ok(None));
}

#[test]
fn rfc_1_3_sample_request_is_accepted_and_answered() {
    let request = ClientRequest {
        host: "server.example.com".into(),
        resource: "/chat".into(),
        subprotocols: vec!["chat".into(), "superchat".into()],
        headers: Headers::new(),
    };
    let head = request.to_bytes(SAMPLE_KEY);
    let key = handshake(&head).unwrap();
    assert_eq!(key, SAMPLE_KEY);
    let answer = accept_response(&key, Some("chat")).to_bytes();
    assert_eq!(
        answer,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    let parsed = Response::parse_head(&answer, HeadLimits::default()).unwrap();
    assert_eq!(
        check_response(&parsed, SAMPLE_KEY, &request.subprotocols),
        Ok(Some("chat".into()))
    );
}

const HELLO_UNMASKED: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

/// Checks that `wire` is one masked frame with first byte `first` whose
/// payload unmasks to `payload`, and returns its key.
fn assert_masked_frame(wire: &[u8], first: u8, payload: &[u8]) -> [u8; 4] {
    let (header, header_len) = FrameHeader::parse(wire).unwrap().unwrap();
    assert_eq!(wire[0], first);
    assert_eq!(wire[1] & 0x80, 0x80, "the mask bit is set");
    let key = header.mask.expect("a masking key");
    assert_eq!(&wire[header_len - 4..header_len], key);
    assert_eq!(header.payload_len, payload.len() as u64);
    assert_eq!(wire.len(), header_len + payload.len());
    let mut unmasked = wire[header_len..].to_vec();
    apply_mask(&mut unmasked, key, 0);
    assert_eq!(unmasked, payload);
    key
}

#[test]
fn rfc_5_7_single_frame_unmasked_text_is_decoded_by_a_client() {
    assert_eq!(
        messages(Role::Client, &HELLO_UNMASKED),
        [Message::text("Hello")]
    );
}

#[test]
fn rfc_5_7_single_frame_unmasked_text_is_what_a_server_sends() {
    let mut out = Vec::new();
    Sender::new(Role::Server)
        .encode(OpCode::Text, true, b"Hello", &mut out)
        .unwrap();
    assert_eq!(out, HELLO_UNMASKED);
    let mut out = Vec::new();
    Peer::new(Role::Server, Limits::default())
        .send(&Message::text("Hello"), &mut out)
        .unwrap();
    assert_eq!(out, HELLO_UNMASKED);
}

#[test]
fn rfc_5_7_single_frame_masked_text_is_decoded_by_a_server() {
    assert_eq!(
        messages(Role::Server, &HELLO_MASKED),
        [Message::text("Hello")]
    );
    // The example's payload is "Hello" masked with its key.
    let mut payload = *b"Hello";
    apply_mask(&mut payload, KEY, 0);
    assert_eq!(payload, HELLO_MASKED[6..]);
}

#[test]
fn rfc_5_7_single_frame_masked_text_is_what_a_client_sends() {
    let mut out = Vec::new();
    Peer::new(Role::Client, Limits::default())
        .send(&Message::text("Hello"), &mut out)
        .unwrap();
    assert_masked_frame(&out, 0x81, b"Hello");
    assert_eq!(out[1], HELLO_MASKED[1]);
    assert_eq!(decode(Role::Client, &out), [Message::text("Hello")]);
}

const HEL_LO: [u8; 9] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];

#[test]
fn rfc_5_7_fragmented_unmasked_text_is_decoded_by_a_client() {
    let mut rx = Receiver::new(Role::Client, Limits::default());
    // The first fragment alone is not a message yet.
    assert_eq!(rx.receive(&HEL_LO[..5]).unwrap(), (5, None));
    assert_eq!(
        rx.receive(&HEL_LO[5..]).unwrap(),
        (4, Some(Message::text("Hello")))
    );
    assert_eq!(messages(Role::Client, &HEL_LO), [Message::text("Hello")]);
}

#[test]
fn rfc_5_7_fragmented_unmasked_text_is_what_a_server_sends() {
    let mut tx = Sender::new(Role::Server);
    let mut out = Vec::new();
    tx.encode(OpCode::Text, false, b"Hel", &mut out).unwrap();
    tx.encode(OpCode::Continuation, true, b"lo", &mut out)
        .unwrap();
    assert_eq!(out, HEL_LO);
}

#[test]
fn rfc_5_7_fragmented_masked_text_is_decoded_by_a_server_and_sent_by_a_client() {
    let wire = concat(&[
        raw(TEXT, b"Hel", Some(KEY)),
        raw(FIN | CONT, b"lo", Some(KEY)),
    ]);
    assert_eq!(messages(Role::Server, &wire), [Message::text("Hello")]);
    let mut tx = Sender::new(Role::Client);
    let mut first = Vec::new();
    tx.encode(OpCode::Text, false, b"Hel", &mut first).unwrap();
    assert_masked_frame(&first, 0x01, b"Hel");
    let mut second = Vec::new();
    tx.encode(OpCode::Continuation, true, b"lo", &mut second)
        .unwrap();
    assert_masked_frame(&second, 0x80, b"lo");
    assert_eq!(
        decode(Role::Client, &concat(&[first, second])),
        [Message::text("Hello")]
    );
}

const PING_HELLO_UNMASKED: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const PONG_HELLO_MASKED: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn rfc_5_7_unmasked_ping_is_decoded_by_a_client_and_sent_by_a_server() {
    assert_eq!(
        messages(Role::Client, &PING_HELLO_UNMASKED),
        [Message::Ping(b"Hello".to_vec())]
    );
    let mut out = Vec::new();
    Peer::new(Role::Server, Limits::default())
        .send(&Message::Ping(b"Hello".to_vec()), &mut out)
        .unwrap();
    assert_eq!(out, PING_HELLO_UNMASKED);
}

#[test]
fn rfc_5_7_masked_pong_is_decoded_by_a_server_and_sent_by_a_client() {
    assert_eq!(
        messages(Role::Server, &PONG_HELLO_MASKED),
        [Message::Pong(b"Hello".to_vec())]
    );
    // A client answers the example's ping with the example's pong, masked
    // with a key of its own.
    let mut client = Peer::new(Role::Client, Limits::default());
    assert_eq!(
        client.receive(&PING_HELLO_UNMASKED).unwrap(),
        (7, Some(Message::Ping(b"Hello".to_vec())))
    );
    assert_masked_frame(client.output(), 0x8a, b"Hello");
    assert_eq!(client.output()[1], PONG_HELLO_MASKED[1]);
    let mut out = Vec::new();
    client
        .send(&Message::Pong(b"Hello".to_vec()), &mut out)
        .unwrap();
    assert_masked_frame(&out, 0x8a, b"Hello");
}

#[test]
fn rfc_5_7_256_byte_binary_message_uses_the_16_bit_length() {
    let payload = pattern(256);
    let mut wire = vec![0x82, 0x7e, 0x01, 0x00];
    wire.extend_from_slice(&payload);
    assert_eq!(
        messages(Role::Client, &wire),
        [Message::Binary(payload.clone())]
    );
    let mut out = Vec::new();
    Sender::new(Role::Server)
        .encode(OpCode::Binary, true, &payload, &mut out)
        .unwrap();
    assert_eq!(out, wire);
    // A client's frame has the same length field, with the mask bit.
    let mut out = Vec::new();
    Peer::new(Role::Client, Limits::default())
        .send(&Message::Binary(payload.clone()), &mut out)
        .unwrap();
    assert_eq!(out[..4], [0x82, 0xfe, 0x01, 0x00]);
    assert_masked_frame(&out, 0x82, &payload);
    assert_eq!(
        messages(Role::Server, &raw(0x82, &payload, Some(KEY))),
        [Message::Binary(payload)]
    );
}

#[test]
fn rfc_5_7_65536_byte_binary_message_uses_the_64_bit_length() {
    let payload = pattern(65536);
    let mut wire = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
    wire.extend_from_slice(&payload);
    let mut rx = Receiver::new(Role::Client, Limits::default());
    assert_eq!(
        receive_all(&mut rx, &wire).unwrap(),
        [Message::Binary(payload.clone())]
    );
    let mut out = Vec::new();
    Sender::new(Role::Server)
        .encode(OpCode::Binary, true, &payload, &mut out)
        .unwrap();
    assert_eq!(out, wire);
    let mut out = Vec::new();
    Peer::new(Role::Client, Limits::default())
        .send(&Message::Binary(payload.clone()), &mut out)
        .unwrap();
    assert_eq!(out[..10], [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_masked_frame(&out, 0x82, &payload);
    let mut rx = Receiver::new(Role::Server, Limits::default());
    assert_eq!(
        receive_all(&mut rx, &raw(0x82, &payload, Some(KEY))).unwrap(),
        [Message::Binary(payload)]
    );
}

// ---------------------------------------------------------------------------
// Masking by role (sections 5.1 and 5.3)
// ---------------------------------------------------------------------------

/// One frame of every kind, with payloads valid for that kind.
fn frames_of_every_kind() -> Vec<(u8, Vec<u8>)> {
    vec![
        (FIN | TEXT, b"Hello".to_vec()),
        (FIN | BINARY, pattern(300)),
        (TEXT, b"Hel".to_vec()),
        (FIN | PING, b"ping".to_vec()),
        (FIN | PONG, Vec::new()),
        (FIN | CLOSE, close_payload(1000, b"bye")),
    ]
}

#[test]
fn server_fails_unmasked_client_frame_with_1002() {
    for (first, payload) in frames_of_every_kind() {
        let violation = assert_fails(
            Role::Server,
            &to_wrongly_masked(Role::Server, first, &payload),
            1002,
        );
        assert_eq!(violation, Violation::UnmaskedClientFrame);
    }
}

#[test]
fn client_fails_masked_server_frame_with_1002() {
    for (first, payload) in frames_of_every_kind() {
        let violation = assert_fails(
            Role::Client,
            &to_wrongly_masked(Role::Client, first, &payload),
            1002,
        );
        assert_eq!(violation, Violation::MaskedServerFrame);
    }
}

/// Every frame a session of `role` writes: messages of every kind it sends,
/// and the answers it writes by itself (pong, close).
fn frames_written_by(role: Role) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut session = Peer::new(role, Limits::default());
    for message in [
        Message::text("Hello"),
        Message::text(""),
        Message::Binary(pattern(200)),
        Message::Binary(pattern(70_000)),
        Message::Ping(b"p".to_vec()),
        Message::Pong(Vec::new()),
    ] {
        let mut out = Vec::new();
        session.send(&message, &mut out).unwrap();
        frames.push(out);
    }
    session
        .receive(&to(role, FIN | PING, b"answer me"))
        .unwrap();
    frames.push(session.take_output());
    session
        .receive(&to(role, FIN | CLOSE, &close_payload(1000, b"")))
        .unwrap();
    frames.push(session.take_output());
    frames
}

#[test]
fn client_masks_every_frame_it_sends() {
    for wire in frames_written_by(Role::Client) {
        let (header, _) = FrameHeader::parse(&wire).unwrap().unwrap();
        assert!(header.mask.is_some(), "{:02x?}", &wire[..2]);
        assert_eq!(decode(Role::Client, &wire).len(), 1);
    }
}

#[test]
fn client_masking_key_changes_from_frame_to_frame() {
    let mut session = Peer::new(Role::Client, Limits::default());
    let mut keys = Vec::new();
    for i in 0..64 {
        let mut out = Vec::new();
        let message = match i % 4 {
            0 => Message::text("same payload"),
            1 => Message::Binary(b"same payload".to_vec()),
            2 => Message::Ping(b"same payload".to_vec()),
            _ => Message::Pong(b"same payload".to_vec()),
        };
        session.send(&message, &mut out).unwrap();
        let (header, _) = FrameHeader::parse(&out).unwrap().unwrap();
        keys.push(header.mask.unwrap());
        assert_eq!(decode(Role::Client, &out), [message]);
    }
    // Fresh random keys: 64 draws from 2^32 values repeat with a probability
    // below 1e-6; two repeats (what this would need to fail) below 1e-12.
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 63, "{keys:02x?}");
}

#[test]
fn server_never_masks_a_frame_it_sends() {
    for wire in frames_written_by(Role::Server) {
        assert_eq!(wire[1] & 0x80, 0, "{:02x?}", &wire[..2]);
        let (header, _) = FrameHeader::parse(&wire).unwrap().unwrap();
        assert_eq!(header.mask, None);
        assert_eq!(decode(Role::Server, &wire).len(), 1);
    }
}

// ---------------------------------------------------------------------------
// The frame header (sections 5.2 and 5.5)
// ---------------------------------------------------------------------------

#[test]
fn rsv1_rsv2_rsv3_without_an_extension_fail_with_1002() {
    for role in ROLES {
        for rsv in 1..=7u8 {
            for (first, payload) in [
                (FIN | TEXT, &b"x"[..]),
                (FIN | BINARY, b""),
                (FIN | PING, b""),
            ] {
                let wire = to(role, first | rsv << 4, payload);
                let violation = assert_fails(role, &wire, 1002);
                assert_eq!(violation, Violation::ReservedBits(rsv), "{role:?}");
            }
        }
    }
}

#[test]
fn reserved_opcodes_fail_with_1002_on_the_first_byte() {
    for role in ROLES {
        for opcode in (0x3..=0x7).chain(0xB..=0xF) {
            let wire = to(role, FIN | opcode, b"abc");
            let violation = assert_fails(role, &wire, 1002);
            assert_eq!(violation, Violation::ReservedOpcode(opcode));
            // Known from the first byte alone.
            let mut rx = Receiver::new(role, Limits::default());
            assert_eq!(rx.receive(&wire[..1]), Err(violation));
        }
    }
}

#[test]
fn control_frame_over_125_bytes_fails_with_1002_on_the_second_byte() {
    for role in ROLES {
        for opcode in [CLOSE, PING, PONG] {
            for len in [126, 127, 65535, 65536] {
                let mut payload = close_payload(1000, b"");
                payload.resize(len, b'a');
                let wire = to(role, FIN | opcode, &payload);
                let violation = assert_fails(role, &wire, 1002);
                assert!(
                    matches!(violation, Violation::ControlFrameTooLong(_)),
                    "{violation:?}"
                );
                let mut rx = Receiver::new(role, Limits::default());
                assert!(rx.receive(&wire[..1]).is_ok());
                assert!(rx.receive(&wire[1..2]).is_err(), "{role:?} {opcode} {len}");
            }
        }
    }
}

#[test]
fn control_frame_of_exactly_125_bytes_is_accepted() {
    for role in ROLES {
        let payload = pattern(125);
        assert_eq!(
            messages(role, &to(role, FIN | PING, &payload)),
            [Message::Ping(payload.clone())]
        );
        assert_eq!(
            messages(role, &to(role, FIN | PONG, &payload)),
            [Message::Pong(payload.clone())]
        );
        let reason = "r".repeat(123);
        assert_eq!(
            messages(
                role,
                &to(role, FIN | CLOSE, &close_payload(1000, reason.as_bytes()))
            ),
            [Message::Close(Some(CloseFrame::new(
                CloseCode::NORMAL,
                reason
            )))]
        );
    }
}

#[test]
fn fragmented_control_frame_fails_with_1002_on_the_first_byte() {
    for role in ROLES {
        for opcode in [CLOSE, PING, PONG] {
            // FIN = 0.
            let wire = to(role, opcode, b"");
            let violation = assert_fails(role, &wire, 1002);
            assert_eq!(violation, Violation::FragmentedControlFrame);
            let mut rx = Receiver::new(role, Limits::default());
            assert_eq!(rx.receive(&wire[..1]), Err(violation));
        }
    }
}

#[test]
fn fragmented_control_frame_fails_with_1002_between_fragments() {
    for role in ROLES {
        let wire = concat(&[to(role, TEXT, b"a"), to(role, PING, b"")]);
        assert_fails(role, &wire, 1002);
    }
}

#[test]
fn length_with_top_bit_set_fails_with_1002_on_the_third_byte() {
    for role in ROLES {
        let mask_bit = if role == Role::Server { 0x80 } else { 0 };
        let mut wire = vec![FIN | BINARY, mask_bit | 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        if role == Role::Server {
            wire.extend_from_slice(&KEY);
        }
        let violation = assert_fails(role, &wire, 1002);
        assert_eq!(violation, Violation::LengthTopBitSet);
        let mut rx = Receiver::new(role, Limits::default());
        assert!(rx.receive(&wire[..2]).is_ok());
        assert_eq!(rx.receive(&wire[2..3]), Err(violation));
    }
}

// ---------------------------------------------------------------------------
// Fragmentation (section 5.4)
// ---------------------------------------------------------------------------

#[test]
fn text_in_two_fragments_is_one_message() {
    for role in ROLES {
        let wire = concat(&[to(role, TEXT, b"Hello, "), to(role, FIN | CONT, b"world")]);
        assert_eq!(messages(role, &wire), [Message::text("Hello, world")]);
    }
}

#[test]
fn text_in_many_fragments_is_one_message() {
    for role in ROLES {
        let text = "many fragments, one message: ½ € 𝄞";
        let bytes = text.as_bytes();
        let mut frames = vec![to(role, TEXT, &bytes[..1])];
        for byte in &bytes[1..bytes.len() - 1] {
            frames.push(to(role, CONT, &[*byte]));
        }
        frames.push(to(role, FIN | CONT, &bytes[bytes.len() - 1..]));
        assert_eq!(messages(role, &concat(&frames)), [Message::text(text)]);
    }
}

#[test]
fn binary_in_fragments_is_one_message() {
    for role in ROLES {
        let payload = pattern(1000);
        let wire = concat(&[
            to(role, BINARY, &payload[..1]),
            to(role, CONT, &payload[1..200]),
            to(role, CONT, &payload[200..700]),
            to(role, FIN | CONT, &payload[700..]),
        ]);
        assert_eq!(messages(role, &wire), [Message::Binary(payload)]);
    }
}

#[test]
fn ping_and_pong_between_fragments_are_delivered_at_once() {
    for role in ROLES {
        let first = to(role, TEXT, b"Hel");
        let ping = to(role, FIN | PING, b"between");
        let pong = to(role, FIN | PONG, b"also");
        let last = to(role, FIN | CONT, b"lo");
        let mut session = Peer::new(role, Limits::default());
        assert_eq!(session.receive(&first).unwrap(), (first.len(), None));
        // The ping comes out before the message ends, and is answered at once.
        assert_eq!(
            session.receive(&ping).unwrap(),
            (ping.len(), Some(Message::Ping(b"between".to_vec())))
        );
        assert_eq!(
            decode(role, &session.take_output()),
            [Message::Pong(b"between".to_vec())]
        );
        assert_eq!(
            session.receive(&pong).unwrap(),
            (pong.len(), Some(Message::Pong(b"also".to_vec())))
        );
        assert!(session.output().is_empty());
        // The message is still assembled.
        assert_eq!(
            session.receive(&last).unwrap(),
            (last.len(), Some(Message::text("Hello")))
        );
        assert_eq!(
            messages(role, &concat(&[first, ping, pong, last])),
            [
                Message::Ping(b"between".to_vec()),
                Message::Pong(b"also".to_vec()),
                Message::text("Hello"),
            ]
        );
    }
}

#[test]
fn close_between_fragments_is_delivered_at_once() {
    for role in ROLES {
        let first = to(role, BINARY, b"Hel");
        let close = to(role, FIN | CLOSE, &close_payload(1001, b""));
        let last = to(role, FIN | CONT, b"lo");
        let mut session = Peer::new(role, Limits::default());
        assert_eq!(session.receive(&first).unwrap(), (first.len(), None));
        assert_eq!(
            session.receive(&close).unwrap(),
            (
                close.len(),
                Some(Message::Close(Some(CloseFrame::new(
                    CloseCode::GOING_AWAY,
                    ""
                ))))
            )
        );
        assert_eq!(session.state(), State::Closed);
        // What follows the close is ignored.
        assert_eq!(session.receive(&last).unwrap(), (last.len(), None));
    }
}

#[test]
fn continuation_without_a_started_message_fails_with_1002() {
    for role in ROLES {
        for wire in [
            to(role, FIN | CONT, b"lo"),
            to(role, CONT, b""),
            // After a message that ended.
            concat(&[to(role, FIN | TEXT, b"a"), to(role, FIN | CONT, b"b")]),
            concat(&[
                to(role, TEXT, b"a"),
                to(role, FIN | CONT, b"b"),
                to(role, CONT, b"c"),
            ]),
        ] {
            let violation = assert_fails(role, &wire, 1002);
            assert_eq!(violation, Violation::UnexpectedContinuation);
        }
    }
}

#[test]
fn new_data_frame_while_a_fragmented_message_is_open_fails_with_1002() {
    for role in ROLES {
        for (open, new) in [
            (TEXT, FIN | TEXT),
            (TEXT, BINARY),
            (BINARY, FIN | BINARY),
            (BINARY, TEXT),
        ] {
            let wire = concat(&[
                to(role, open, b"a"),
                to(role, CONT, b"b"),
                to(role, new, b"c"),
            ]);
            let violation = assert_fails(role, &wire, 1002);
            assert_eq!(violation, Violation::ExpectedContinuation);
        }
    }
}

#[test]
fn zero_length_fragments_are_accepted() {
    for role in ROLES {
        let wire = concat(&[
            to(role, TEXT, b""),
            to(role, CONT, b""),
            to(role, CONT, "é".as_bytes()),
            to(role, CONT, b""),
            to(role, FIN | CONT, b""),
        ]);
        assert_eq!(messages(role, &wire), [Message::text("é")]);
        let wire = concat(&[to(role, BINARY, b""), to(role, FIN | CONT, b"")]);
        assert_eq!(messages(role, &wire), [Message::Binary(Vec::new())]);
        let wire = to(role, FIN | TEXT, b"");
        assert_eq!(messages(role, &wire), [Message::text("")]);
    }
}

#[test]
fn fragmented_message_holds_memory_proportional_to_its_payload() {
    const EMPTY_FRAGMENTS: usize = 100_000;
    for role in ROLES {
        // 100,000 empty continuation frames are accepted under a 2-byte limit:
        // the limit counts payload, not frames.
        let limits = Limits::new(2, 2);
        let empty = to(role, CONT, b"");
        let mut wire = to(role, TEXT, b"a");
        for _ in 0..EMPTY_FRAGMENTS {
            wire.extend_from_slice(&empty);
        }
        wire.extend_from_slice(&to(role, FIN | CONT, b"b"));
        let mut rx = Receiver::new(role, limits);
        assert_eq!(receive_all(&mut rx, &wire).unwrap(), [Message::text("ab")]);
        // The same in one call per frame: none but the last completes it.
        let mut rx = Receiver::new(role, limits);
        let first = to(role, TEXT, b"a");
        assert_eq!(rx.receive(&first).unwrap(), (first.len(), None));
        for _ in 0..EMPTY_FRAGMENTS {
            assert_eq!(rx.receive(&empty).unwrap(), (empty.len(), None));
        }
        let last = to(role, FIN | CONT, b"b");
        assert_eq!(
            rx.receive(&last).unwrap(),
            (last.len(), Some(Message::text("ab")))
        );

        // N one-byte fragments make a message of N bytes, which fits a limit
        // of N bytes; one more fragment is refused.
        let n = 5_000;
        let limits = Limits::new(1, n);
        let mut frames = vec![to(role, BINARY, b"x")];
        frames.extend((2..n).map(|_| to(role, CONT, b"x")));
        frames.push(to(role, FIN | CONT, b"x"));
        let wire = concat(&frames);
        let mut rx = Receiver::new(role, limits);
        let received = receive_all(&mut rx, &wire).unwrap();
        assert_eq!(received, [Message::Binary(vec![b'x'; n])]);
        let mut over = concat(&frames[..n - 1]);
        over.extend_from_slice(&to(role, CONT, b"x"));
        over.extend_from_slice(&to(role, FIN | CONT, b"x"));
        let mut rx = Receiver::new(role, limits);
        assert!(matches!(
            receive_all(&mut rx, &over),
            Err(Violation::MessageTooBig { .. })
        ));
    }
}

// ---------------------------------------------------------------------------
// UTF-8 (sections 5.6 and 8.1)
// ---------------------------------------------------------------------------

/// Text with code points of every length and at the edges of the ranges.
const VALID_TEXT: &str = "ascii \u{0}\u{7f} \u{80}\u{7ff} \u{800}\u{d7ff}\u{e000}\u{fffd}\u{ffff} \u{10000}\u{10ffff} κόσμε € 𝄞 日本語";

#[test]
fn valid_multibyte_text_is_accepted_whole() {
    for role in ROLES {
        assert_eq!(
            messages(role, &to(role, FIN | TEXT, VALID_TEXT.as_bytes())),
            [Message::text(VALID_TEXT)]
        );
    }
}

#[test]
fn valid_text_split_at_every_byte_across_fragments_is_accepted() {
    for role in ROLES {
        let bytes = VALID_TEXT.as_bytes();
        for cut in 0..=bytes.len() {
            let wire = concat(&[
                to(role, TEXT, &bytes[..cut]),
                to(role, FIN | CONT, &bytes[cut..]),
            ]);
            let mut rx = Receiver::new(role, Limits::default());
            assert_eq!(
                receive_all(&mut rx, &wire).unwrap(),
                [Message::text(VALID_TEXT)],
                "{role:?} cut at {cut}"
            );
        }
        // And one byte per fragment.
        let mut frames = vec![to(role, TEXT, b"")];
        frames.extend(bytes.iter().map(|b| to(role, CONT, &[*b])));
        frames.push(to(role, FIN | CONT, b""));
        assert_eq!(
            messages(role, &concat(&frames)),
            [Message::text(VALID_TEXT)]
        );
    }
}

#[test]
fn valid_text_split_across_reads_inside_one_frame_is_accepted() {
    for role in ROLES {
        let wire = to(role, FIN | TEXT, VALID_TEXT.as_bytes());
        let mut rx = Receiver::new(role, Limits::default());
        for (i, byte) in wire.chunks(1).enumerate() {
            let (used, message) = rx.receive(byte).unwrap();
            assert_eq!(used, 1);
            if i + 1 == wire.len() {
                assert_eq!(message, Some(Message::text(VALID_TEXT)));
            } else {
                assert_eq!(message, None);
            }
        }
        // Two reads, cut at every byte of the frame.
        for cut in 0..wire.len() {
            let mut rx = Receiver::new(role, Limits::default());
            assert_eq!(failing_piece(&mut rx, &[&wire[..cut], &wire[cut..]]), None);
        }
    }
}

/// Invalid UTF-8: overlong forms, surrogates, code points above U+10FFFF,
/// stray continuation bytes, bytes that never appear.
const INVALID_UTF8: [&[u8]; 22] = [
    b"\xc0\xaf",
    b"\xc1\xbf",
    b"\xe0\x80\xaf",
    b"\xe0\x9f\xbf",
    b"\xf0\x80\x80\xaf",
    b"\xf0\x8f\xbf\xbf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xed\xa0\x80\xed\xb0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xf7\xbf\xbf\xbf",
    b"\xf8\x88\x80\x80\x80",
    b"\xfc\x84\x80\x80\x80\x80",
    b"\xfe",
    b"\xff",
    b"\x80",
    b"\xbf",
    b"\xe2\x28\xa1",
    b"\xc2\x41",
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited",
];

/// The index of the first byte after which no continuation can make
/// `bytes` valid, by the standard library's validator.
fn first_invalid_byte(bytes: &[u8]) -> usize {
    (0..bytes.len())
        .find(|&i| matches!(std::str::from_utf8(&bytes[..=i]), Err(e) if e.error_len().is_some()))
        .expect("invalid")
}

#[test]
fn invalid_utf8_in_text_fails_with_1007() {
    for role in ROLES {
        for sample in INVALID_UTF8 {
            let mut payload = b"ok ".to_vec();
            payload.extend_from_slice(sample);
            assert_fails(role, &to(role, FIN | TEXT, &payload), 1007);
            // In a fragmented message too, and in a later fragment.
            let wire = concat(&[to(role, TEXT, b"ok "), to(role, FIN | CONT, sample)]);
            let violation = assert_fails(role, &wire, 1007);
            assert_eq!(violation, Violation::InvalidUtf8);
        }
    }
}

#[test]
fn invalid_utf8_in_binary_is_accepted() {
    for role in ROLES {
        for sample in INVALID_UTF8 {
            assert_eq!(
                messages(role, &to(role, FIN | BINARY, sample)),
                [Message::Binary(sample.to_vec())]
            );
        }
    }
}

#[test]
fn invalid_utf8_fails_fast_inside_a_frame_read_one_byte_at_a_time() {
    for role in ROLES {
        for sample in INVALID_UTF8 {
            let bad = first_invalid_byte(sample);
            // A long frame: the rest of it has not arrived when the bad byte does.
            let mut payload = sample.to_vec();
            payload.extend_from_slice(&[b'z'; 100]);
            let wire = to(role, FIN | TEXT, &payload);
            let header_len = wire.len() - payload.len();
            let pieces: Vec<&[u8]> = wire.chunks(1).collect();
            let mut rx = Receiver::new(role, Limits::default());
            assert_eq!(
                failing_piece(&mut rx, &pieces),
                Some((header_len + bad, Violation::InvalidUtf8)),
                "{role:?} {sample:02x?}"
            );
        }
    }
}

#[test]
fn invalid_utf8_fails_fast_across_fragments_one_byte_each() {
    for role in ROLES {
        for sample in INVALID_UTF8 {
            let bad = first_invalid_byte(sample);
            let frames: Vec<Vec<u8>> = std::iter::once(to(role, TEXT, b""))
                .chain(sample.iter().map(|b| to(role, CONT, &[*b])))
                .chain(std::iter::once(to(role, FIN | CONT, b"")))
                .collect();
            let pieces: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let mut rx = Receiver::new(role, Limits::default());
            // Fragment 0 is the empty text frame: byte i is in fragment i + 1.
            assert_eq!(
                failing_piece(&mut rx, &pieces),
                Some((bad + 1, Violation::InvalidUtf8)),
                "{role:?} {sample:02x?}"
            );
        }
    }
}

const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

/// Runs an Autobahn 6.4.x case: `pieces` arrive in separate reads, and the
/// connection must fail on the read with index `fails_on`, before the rest.
fn autobahn_fail_fast(role: Role, pieces: &[Vec<u8>], fails_on: usize) {
    let slices: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
    let mut rx = Receiver::new(role, Limits::default());
    assert_eq!(
        failing_piece(&mut rx, &slices),
        Some((fails_on, Violation::InvalidUtf8)),
        "{role:?}"
    );
    let mut session = Peer::new(role, Limits::default());
    for (i, piece) in slices.iter().enumerate() {
        let result = session_receive_all(&mut session, piece);
        if i < fails_on {
            assert!(result.is_ok());
        } else {
            assert_eq!(result, Err(Violation::InvalidUtf8));
            assert_eq!(
                decode(role, session.output()),
                [Message::Close(Some(CloseFrame::new(
                    CloseCode::INVALID_PAYLOAD,
                    Violation::InvalidUtf8.close_reason()
                )))]
            );
            break;
        }
    }
}

#[test]
fn autobahn_6_4_1_invalid_utf8_in_the_second_fragment_fails_before_the_third() {
    for role in ROLES {
        let pieces = [
            to(role, TEXT, KOSME),
            to(role, CONT, b"\xf4\x90\x80\x80"),
            to(role, FIN | CONT, b"\x65\x64\x69\x74\x65\x64"),
        ];
        autobahn_fail_fast(role, &pieces, 1);
    }
}

#[test]
fn autobahn_6_4_2_invalid_byte_alone_in_a_fragment_fails_at_once() {
    for role in ROLES {
        let mut first = KOSME.to_vec();
        first.push(0xf4);
        let pieces = [
            to(role, TEXT, &first),
            to(role, CONT, b"\x90"),
            to(role, FIN | CONT, b"\x80\x80\x65\x64\x69\x74\x65\x64"),
        ];
        autobahn_fail_fast(role, &pieces, 1);
    }
}

/// A single text frame of `payload`, cut into reads after `cuts` payload bytes.
fn frame_in_chops(role: Role, payload: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let wire = to(role, FIN | TEXT, payload);
    let header_len = wire.len() - payload.len();
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        pieces.push(wire[start..header_len + cut].to_vec());
        start = header_len + cut;
    }
    pieces.push(wire[start..].to_vec());
    pieces
}

#[test]
fn autobahn_6_4_3_invalid_utf8_in_a_frame_fails_before_the_frame_ends() {
    for role in ROLES {
        let payload = [KOSME, b"\xf4\x90\x80\x80", b"\x65\x64\x69\x74\x65\x64"].concat();
        let pieces = frame_in_chops(role, &payload, &[11, 15]);
        assert_eq!(pieces[1].len(), 4);
        autobahn_fail_fast(role, &pieces, 1);
    }
}

#[test]
fn autobahn_6_4_4_invalid_byte_alone_in_a_read_fails_at_once() {
    for role in ROLES {
        let payload = [KOSME, b"\xf4\x90\x80\x80", b"\x65\x64\x69\x74\x65\x64"].concat();
        let pieces = frame_in_chops(role, &payload, &[12, 13]);
        assert_eq!(
            pieces[1],
            [0x90 ^ if role == Role::Server { KEY[0] } else { 0 }]
        );
        autobahn_fail_fast(role, &pieces, 1);
    }
}

#[test]
fn text_message_ending_inside_a_code_point_fails_with_1007() {
    for role in ROLES {
        for wire in [
            to(role, FIN | TEXT, b"ok\xe2\x82"),
            to(role, FIN | TEXT, b"\xf0\x9f\x98"),
            to(role, FIN | TEXT, b"\xc3"),
            concat(&[to(role, TEXT, b"ok\xe2"), to(role, FIN | CONT, b"\x82")]),
            concat(&[to(role, TEXT, b"\xf0\x9f"), to(role, FIN | CONT, b"")]),
        ] {
            let violation = assert_fails(role, &wire, 1007);
            assert_eq!(violation, Violation::InvalidUtf8);
        }
    }
}

#[test]
fn overlong_encodings_fail_with_1007() {
    for role in ROLES {
        for sample in [
            &b"\xc0\x80"[..],
            b"\xc0\xaf",
            b"\xc1\xbf",
            b"\xe0\x80\x80",
            b"\xe0\x9f\xbf",
            b"\xf0\x80\x80\x80",
            b"\xf0\x8f\xbf\xbf",
        ] {
            assert_fails(role, &to(role, FIN | TEXT, sample), 1007);
        }
    }
}

#[test]
fn surrogates_fail_with_1007() {
    for role in ROLES {
        for sample in [
            &b"\xed\xa0\x80"[..],
            b"\xed\xad\xbf",
            b"\xed\xb0\x80",
            b"\xed\xbf\xbf",
            b"\xed\xa0\x80\xed\xb0\x80",
        ] {
            assert_fails(role, &to(role, FIN | TEXT, sample), 1007);
        }
    }
}

#[test]
fn code_points_above_u10ffff_fail_with_1007() {
    for role in ROLES {
        for sample in [
            &b"\xf4\x90\x80\x80"[..],
            b"\xf4\xbf\xbf\xbf",
            b"\xf5\x80\x80\x80",
            b"\xf7\xbf\xbf\xbf",
        ] {
            assert_fails(role, &to(role, FIN | TEXT, sample), 1007);
        }
    }
}

// ---------------------------------------------------------------------------
// Size limits (section 10.4): 1009
// ---------------------------------------------------------------------------

const SMALL: Limits = Limits::new(100, 250);

#[test]
fn frame_over_max_frame_size_fails_with_1009_as_soon_as_its_header_arrives() {
    for role in ROLES {
        for opcode in [FIN | TEXT, FIN | BINARY, TEXT] {
            let payload = pattern(101);
            let wire = to(role, opcode, &payload);
            let violation = assert_fails_with(role, SMALL, &wire, 1009);
            assert_eq!(violation, Violation::FrameTooBig { len: 101, max: 100 });
            // The header alone is enough.
            let header_len = wire.len() - payload.len();
            let mut rx = Receiver::new(role, SMALL);
            assert_eq!(rx.receive(&wire[..header_len]), Err(violation));
        }
        // A header that announces 2^62 bytes is refused before any is read.
        let mask_bit = if role == Role::Server { 0x80 } else { 0 };
        let mut header = vec![FIN | BINARY, mask_bit | 127, 0x40, 0, 0, 0, 0, 0, 0, 0];
        if role == Role::Server {
            header.extend_from_slice(&KEY);
        }
        let violation = assert_fails(role, &header, 1009);
        assert!(matches!(violation, Violation::FrameTooBig { .. }));
    }
}

#[test]
fn message_over_max_message_size_across_fragments_fails_with_1009() {
    for role in ROLES {
        for first in [TEXT, BINARY] {
            let ok = concat(&[to(role, first, &[b'a'; 100]), to(role, CONT, &[b'b'; 100])]);
            let third = to(role, FIN | CONT, &[b'c'; 51]);
            let wire = concat(&[ok.clone(), third.clone()]);
            let violation = assert_fails_with(role, SMALL, &wire, 1009);
            assert_eq!(violation, Violation::MessageTooBig { len: 251, max: 250 });
            // Refused when the third fragment's header arrives.
            let header_len = third.len() - 51;
            let mut rx = Receiver::new(role, SMALL);
            assert_eq!(receive_all(&mut rx, &ok), Ok(Vec::new()));
            assert_eq!(rx.receive(&third[..header_len]), Err(violation));
        }
        // A single frame within the frame limit but over the message limit.
        let limits = Limits::new(100, 50);
        assert_fails_with(role, limits, &to(role, FIN | BINARY, &[0; 51]), 1009);
    }
}

#[test]
fn frame_and_message_exactly_at_the_limits_are_accepted() {
    for role in ROLES {
        let payload = pattern(100);
        assert_eq!(
            receive_with(role, SMALL, &to(role, FIN | BINARY, &payload)),
            Ok(vec![Message::Binary(payload)])
        );
        let wire = concat(&[
            to(role, TEXT, &[b'a'; 100]),
            to(role, CONT, &[b'b'; 100]),
            to(role, FIN | CONT, &[b'c'; 50]),
        ]);
        let expected = format!("{}{}{}", "a".repeat(100), "b".repeat(100), "c".repeat(50));
        assert_eq!(
            receive_with(role, SMALL, &wire),
            Ok(vec![Message::text(expected)])
        );
    }
}

// ---------------------------------------------------------------------------
// Ping and pong (sections 5.5.2 and 5.5.3)
// ---------------------------------------------------------------------------

#[test]
fn session_answers_every_ping_with_a_pong_of_the_same_payload() {
    for role in ROLES {
        for len in [0, 1, 4, 5, 124, 125] {
            let payload = pattern(len);
            let ping = to(role, FIN | PING, &payload);
            // Whole, and one byte at a time.
            for piece in [ping.len(), 1] {
                let mut session = Peer::new(role, Limits::default());
                let mut received = Vec::new();
                for chunk in ping.chunks(piece) {
                    received.extend(session_receive_all(&mut session, chunk).unwrap());
                }
                assert_eq!(received, [Message::Ping(payload.clone())]);
                assert_eq!(
                    decode(role, session.output()),
                    [Message::Pong(payload.clone())],
                    "{role:?} {len}"
                );
                assert_eq!(session.state(), State::Open);
            }
        }
    }
}

#[test]
fn session_answers_several_pings_in_order() {
    for role in ROLES {
        let wire = concat(&[
            to(role, FIN | PING, b"1"),
            to(role, FIN | PING, b"2"),
            to(role, FIN | TEXT, b"t"),
            to(role, FIN | PING, b"3"),
        ]);
        let mut session = Peer::new(role, Limits::default());
        session_receive_all(&mut session, &wire).unwrap();
        assert_eq!(
            decode(role, session.output()),
            [
                Message::Pong(b"1".to_vec()),
                Message::Pong(b"2".to_vec()),
                Message::Pong(b"3".to_vec()),
            ]
        );
    }
}

#[test]
fn unsolicited_pong_produces_no_output() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        let pong = to(role, FIN | PONG, b"heartbeat");
        assert_eq!(
            session.receive(&pong).unwrap(),
            (pong.len(), Some(Message::Pong(b"heartbeat".to_vec())))
        );
        assert!(session.output().is_empty());
        assert_eq!(session.state(), State::Open);
    }
}

#[test]
fn pong_is_not_sent_after_a_close_was_sent() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        let mut out = Vec::new();
        session
            .close(Some(CloseFrame::new(CloseCode::NORMAL, "")), &mut out)
            .unwrap();
        assert_eq!(session.state(), State::Closing);
        let ping = to(role, FIN | PING, b"late");
        assert_eq!(
            session.receive(&ping).unwrap(),
            (ping.len(), Some(Message::Ping(b"late".to_vec())))
        );
        assert!(session.output().is_empty());
    }
}

#[test]
fn endpoint_refuses_to_send_a_control_frame_over_125_bytes() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        let mut out = Vec::new();
        for message in [Message::Ping(pattern(126)), Message::Pong(pattern(126))] {
            assert!(matches!(
                session.send(&message, &mut out),
                Err(SendError::ControlFrameTooLong(126))
            ));
        }
        assert!(out.is_empty());
        session
            .send(&Message::Ping(pattern(125)), &mut out)
            .unwrap();
        assert_eq!(decode(role, &out), [Message::Ping(pattern(125))]);
    }
}

// ---------------------------------------------------------------------------
// Closing (sections 5.5.1, 7.1 and 7.4)
// ---------------------------------------------------------------------------

const VALID_CLOSE_CODES: [u16; 18] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    3500, 4500,
];

const INVALID_CLOSE_CODES: [u16; 13] = [
    0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535, 1100,
];

#[test]
fn every_valid_close_code_is_accepted_and_echoed() {
    for role in ROLES {
        for code in VALID_CLOSE_CODES {
            let wire = to(role, FIN | CLOSE, &close_payload(code, b"bye"));
            let mut session = Peer::new(role, Limits::default());
            assert_eq!(
                session.receive(&wire).unwrap(),
                (
                    wire.len(),
                    Some(Message::Close(Some(CloseFrame::new(
                        CloseCode(code),
                        "bye"
                    ))))
                )
            );
            assert_eq!(session.state(), State::Closed);
            match decode(role, session.output()).as_slice() {
                [Message::Close(Some(frame))] => assert_eq!(frame.code, CloseCode(code)),
                other => panic!("{role:?} answered {code} with {other:?}"),
            }
        }
    }
}

#[test]
fn every_invalid_close_code_fails_with_1002() {
    for role in ROLES {
        for code in INVALID_CLOSE_CODES {
            for reason in [&b""[..], b"why"] {
                let wire = to(role, FIN | CLOSE, &close_payload(code, reason));
                assert_fails(role, &wire, 1002);
            }
        }
    }
}

#[test]
fn one_byte_close_payload_fails_with_1002() {
    for role in ROLES {
        for byte in [0x00, 0x03, 0xe8, 0xff] {
            assert_fails(role, &to(role, FIN | CLOSE, &[byte]), 1002);
        }
    }
}

#[test]
fn empty_close_is_answered_with_an_empty_close() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        let wire = to(role, FIN | CLOSE, b"");
        assert_eq!(
            session.receive(&wire).unwrap(),
            (wire.len(), Some(Message::Close(None)))
        );
        assert_eq!(session.state(), State::Closed);
        let output = session.take_output();
        assert_eq!(decode(role, &output), [Message::Close(None)]);
        match role {
            Role::Server => assert_eq!(output, [0x88, 0x00]),
            Role::Client => {
                assert_masked_frame(&output, 0x88, b"");
            }
        }
    }
}

#[test]
fn close_reason_with_invalid_utf8_fails_with_1007() {
    for role in ROLES {
        for reason in [
            &b"\xff"[..],
            b"ok\xed\xa0\x80",
            b"\xc0\xaf",
            b"ends inside \xe2\x82",
            b"\xf4\x90\x80\x80",
        ] {
            let wire = to(role, FIN | CLOSE, &close_payload(1000, reason));
            let violation = assert_fails(role, &wire, 1007);
            assert!(matches!(violation, Violation::BadClose(_)), "{violation:?}");
        }
    }
}

#[test]
fn no_frame_can_be_sent_after_a_close_was_sent() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        let mut out = Vec::new();
        session.close(None, &mut out).unwrap();
        assert_eq!(decode(role, &out), [Message::Close(None)]);
        out.clear();
        for message in [
            Message::text("late"),
            Message::Binary(b"late".to_vec()),
            Message::Ping(Vec::new()),
            Message::Pong(Vec::new()),
            Message::Close(None),
        ] {
            assert!(
                matches!(session.send(&message, &mut out), Err(SendError::CloseSent)),
                "{role:?} {message:?}"
            );
        }
        assert!(matches!(
            session.close(Some(CloseFrame::new(CloseCode::NORMAL, "")), &mut out),
            Err(SendError::CloseSent)
        ));
        assert!(out.is_empty());

        let mut tx = Sender::new(role);
        tx.encode_close(None, &mut out).unwrap();
        assert!(tx.close_sent());
        for opcode in [OpCode::Text, OpCode::Binary, OpCode::Continuation] {
            assert!(matches!(
                tx.encode(opcode, true, b"x", &mut out),
                Err(SendError::CloseSent)
            ));
            assert!(matches!(
                tx.header(opcode, false, 1),
                Err(SendError::CloseSent)
            ));
        }
    }
}

#[test]
fn closing_handshake_goes_open_closing_closed() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        assert_eq!(session.state(), State::Open);
        let mut out = Vec::new();
        session
            .close(Some(CloseFrame::new(CloseCode(4000), "done")), &mut out)
            .unwrap();
        assert_eq!(session.state(), State::Closing);
        assert_eq!(
            decode(role, &out),
            [Message::Close(Some(CloseFrame::new(
                CloseCode(4000),
                "done"
            )))]
        );
        // Data still arrives while the peer has not answered.
        let text = to(role, FIN | TEXT, b"in flight");
        assert_eq!(
            session.receive(&text).unwrap(),
            (text.len(), Some(Message::text("in flight")))
        );
        assert_eq!(session.state(), State::Closing);
        let answer = to(role, FIN | CLOSE, &close_payload(4000, b""));
        assert_eq!(
            session.receive(&answer).unwrap(),
            (
                answer.len(),
                Some(Message::Close(Some(CloseFrame::new(CloseCode(4000), ""))))
            )
        );
        assert_eq!(session.state(), State::Closed);
        // The peer's answer is not answered again.
        assert!(session.output().is_empty());
        assert_eq!(session.receive_eof(), CloseCode::NORMAL);
    }
}

#[test]
fn peer_close_goes_open_closed_and_is_answered() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        let wire = to(role, FIN | CLOSE, &close_payload(1001, b"going"));
        session.receive(&wire).unwrap();
        assert_eq!(session.state(), State::Closed);
        assert_eq!(
            decode(role, session.output()),
            [Message::Close(Some(CloseFrame::new(CloseCode(1001), "")))]
        );
        // Nothing more may be sent after the answer.
        let mut out = Vec::new();
        assert!(matches!(
            session.send(&Message::text("x"), &mut out),
            Err(SendError::CloseSent)
        ));
    }
}

#[test]
fn data_after_the_peer_close_is_ignored() {
    for role in ROLES {
        let close = to(role, FIN | CLOSE, &close_payload(1000, b""));
        let after = concat(&[
            to(role, FIN | TEXT, b"ignored"),
            to(role, FIN | PING, b"ignored"),
            // Even bytes that would break a rule.
            vec![0xff, 0xff, 0xff],
        ]);
        let wire = concat(&[close.clone(), after.clone()]);
        let mut session = Peer::new(role, Limits::default());
        assert_eq!(
            session.receive(&wire).unwrap(),
            (
                close.len(),
                Some(Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))
            )
        );
        session.clear_output();
        assert_eq!(session.receive(&after).unwrap(), (after.len(), None));
        assert!(session.output().is_empty());
        let mut rx = Receiver::new(role, Limits::default());
        assert_eq!(
            receive_all(&mut rx, &wire).unwrap(),
            [Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")))]
        );
        assert!(rx.close_received());
    }
}

#[test]
fn transport_ending_without_a_close_is_reported_as_1006() {
    for role in ROLES {
        let mut session = Peer::new(role, Limits::default());
        session.receive(&to(role, TEXT, b"half")).unwrap();
        assert!(!session.is_idle());
        assert_eq!(session.receive_eof(), CloseCode::ABNORMAL);
        assert_eq!(session.state(), State::Closed);
    }
}

#[test]
fn endpoint_never_sends_a_close_code_reserved_for_reporting() {
    // Section 7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in
    // a Close control frame by an endpoint"; nor may codes outside the ranges
    // of section 7.4.2. The peer fails the connection with 1002 on them.
    for role in ROLES {
        for code in [1005u16, 1006, 1015, 0, 1004, 2000, 5000] {
            let mut tx = Sender::new(role);
            let mut out = Vec::new();
            let result = tx.encode_close(Some(&CloseFrame::new(CloseCode(code), "")), &mut out);
            assert!(
                result.is_err() || out.is_empty(),
                "{role:?} wrote close code {code}: {out:02x?}"
            );
        }
    }
}

#[test]
fn endpoint_refuses_to_send_a_fragmented_control_frame() {
    // Section 5.5: "All control frames ... MUST NOT be fragmented."
    for role in ROLES {
        for opcode in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
            let mut tx = Sender::new(role);
            let mut out = Vec::new();
            assert!(
                tx.encode(opcode, false, b"", &mut out).is_err(),
                "{role:?} wrote {out:02x?}"
            );
        }
    }
}

#[test]
fn endpoint_refuses_to_send_a_continuation_without_a_started_message() {
    // Section 5.4; Python websockets raises "unexpected continuation frame".
    for role in ROLES {
        let mut tx = Sender::new(role);
        let mut out = Vec::new();
        assert!(
            tx.encode(OpCode::Continuation, true, b"x", &mut out)
                .is_err()
        );
    }
}

#[test]
fn endpoint_refuses_to_send_a_new_message_inside_a_fragmented_one() {
    // Section 5.4: "the fragments of one message MUST NOT be interleaved
    // between the fragments of another message".
    for role in ROLES {
        let mut tx = Sender::new(role);
        let mut out = Vec::new();
        tx.encode(OpCode::Text, false, b"a", &mut out).unwrap();
        assert!(tx.encode(OpCode::Binary, true, b"b", &mut out).is_err());
    }
}

// ---------------------------------------------------------------------------
// The opening handshake, server side (section 4.2.1)
// ---------------------------------------------------------------------------

const GOOD_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// Reads a request head as a server does (a `HeadReader`, then
/// `Request::parse`) and checks it.
fn handshake_with(head: &[u8], limits: HeadLimits) -> Result<String, RequestProblem> {
    let mut reader = HeadReader::new(limits);
    let (used, done) = reader.feed(head).map_err(RequestProblem::Head)?;
    assert!(done, "the head is complete");
    assert_eq!(used, head.len());
    let request = Request::parse(reader.head(), limits).map_err(RequestProblem::Head)?;
    check_request(&request).map(str::to_owned)
}

fn handshake(head: &[u8]) -> Result<String, RequestProblem> {
    handshake_with(head, HeadLimits::default())
}

fn rejection(head: &str) -> RequestProblem {
    handshake(head.as_bytes()).expect_err("the request is refused")
}

/// Checks the response to a refused request: `status`, a one-line body
/// that names the problem (containing `names`), and a closed connection.
fn assert_refused(problem: &RequestProblem, status: u16, names: &str) {
    assert_eq!(problem.status(), status, "{problem:?}");
    let response = problem.response();
    assert_eq!(response.status(), status);
    let body = std::str::from_utf8(response.body()).unwrap();
    assert_eq!(body, format!("{problem}\n"));
    assert_eq!(body.lines().count(), 1, "{body:?}");
    assert!(body.ends_with('\n'));
    assert!(body.contains(names), "{body:?} should name {names:?}");
    let bytes = response.to_bytes();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
    assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert!(text.contains("Connection: close\r\n"));
    assert!(text.ends_with(&format!("\r\n\r\n{body}")));
}

#[test]
fn valid_request_is_accepted() {
    assert_eq!(handshake(GOOD_REQUEST.as_bytes()).unwrap(), SAMPLE_KEY);
    // Names and tokens are case-insensitive; lists may hold other tokens.
    let head = GOOD_REQUEST
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "CONNECTION: keep-alive, upgrade");
    assert_eq!(handshake(head.as_bytes()).unwrap(), SAMPLE_KEY);
}

#[test]
fn request_without_host_is_400() {
    let problem = rejection(&GOOD_REQUEST.replace("Host: server.example.com\r\n", ""));
    assert_eq!(problem, RequestProblem::Host);
    assert_refused(&problem, 400, "Host");
}

#[test]
fn request_with_duplicate_host_is_400() {
    let problem = rejection(&GOOD_REQUEST.replace(
        "Host: server.example.com\r\n",
        "Host: a.example\r\nhost: b.example\r\n",
    ));
    assert_eq!(problem, RequestProblem::Host);
    assert_refused(&problem, 400, "Host");
}

#[test]
fn request_with_bad_key_is_400() {
    for key in [
        // Wrong length: 15 and 17 bytes.
        "AAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAA=",
        "",
        "abc",
        // Not base64, or not canonical base64.
        "dGhlIHNhbXBsZSBub25jZQ",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZ!==",
        "dGhl IHNhbXBsZSBub25jZQ==",
        "!!!!!!!!!!!!!!!!!!!!!!==",
    ] {
        let problem = rejection(&GOOD_REQUEST.replace(SAMPLE_KEY, key));
        assert_eq!(problem, RequestProblem::Key, "{key:?}");
        assert_refused(&problem, 400, "Sec-WebSocket-Key");
    }
}

#[test]
fn request_without_key_is_400() {
    let problem =
        rejection(&GOOD_REQUEST.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""));
    assert_eq!(problem, RequestProblem::Key);
    assert_refused(&problem, 400, "Sec-WebSocket-Key");
}

#[test]
fn request_with_duplicate_key_is_400() {
    let problem = rejection(&GOOD_REQUEST.replace(
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n",
    ));
    assert_eq!(problem, RequestProblem::Key);
    assert_refused(&problem, 400, "Sec-WebSocket-Key");
}

#[test]
fn request_with_method_other_than_get_is_405() {
    for method in ["POST", "PUT", "HEAD", "get"] {
        let problem = rejection(&GOOD_REQUEST.replacen("GET", method, 1));
        assert_eq!(problem, RequestProblem::Method(method.into()));
        assert_refused(&problem, 405, method);
        assert_eq!(problem.response().headers().get("Allow"), Some("GET"));
    }
}

#[test]
fn http_1_0_request_is_400() {
    let problem = rejection(&GOOD_REQUEST.replace("HTTP/1.1", "HTTP/1.0"));
    assert_eq!(problem, RequestProblem::HttpVersion((1, 0)));
    assert_refused(&problem, 400, "HTTP/1.0");
}

#[test]
fn plain_http_request_is_426() {
    let problem = rejection("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    assert_eq!(problem, RequestProblem::NotAnUpgrade);
    assert_refused(&problem, 426, "WebSocket");
    let response = problem.response();
    assert_eq!(response.headers().get("Upgrade"), Some("websocket"));
    assert_eq!(response.headers().get("Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn request_with_another_version_is_426_naming_version_13() {
    for version in ["8", "7", "14", "0", "x"] {
        let problem =
            rejection(&GOOD_REQUEST.replace("Version: 13", &format!("Version: {version}")));
        assert_eq!(problem, RequestProblem::UnsupportedVersion(version.into()));
        assert_refused(&problem, 426, version);
        assert_eq!(
            problem.response().headers().get("Sec-WebSocket-Version"),
            Some("13")
        );
    }
}

#[test]
fn request_with_duplicate_version_is_400() {
    // Section 11.3.5: Sec-WebSocket-Version "MUST NOT appear more than once
    // in an HTTP request": the request is malformed (400), and asking the
    // client to upgrade to the version it sent (426) makes no sense.
    let problem = rejection(&GOOD_REQUEST.replace(
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n",
    ));
    assert_eq!(problem.status(), 400, "{problem}");
    assert_refused(&problem, 400, "Sec-WebSocket-Version");
}

#[test]
fn request_without_version_is_400() {
    let problem = rejection(&GOOD_REQUEST.replace("Sec-WebSocket-Version: 13\r\n", ""));
    assert_eq!(problem, RequestProblem::MissingVersion);
    assert_refused(&problem, 400, "Sec-WebSocket-Version");
}

#[test]
fn request_with_malformed_http_version_is_400() {
    // RFC 9112, section 2.3 (the syntax section 4.1 of RFC 6455 relies on):
    // HTTP-version = "HTTP/" DIGIT "." DIGIT.
    for version in ["HTTP/+1.+1", "HTTP/01.01", "HTTP/1.1.1", "HTTP/1.10"] {
        let result = handshake(GOOD_REQUEST.replace("HTTP/1.1", version).as_bytes());
        assert!(
            matches!(&result, Err(p) if p.status() == 400),
            "{version}: {result:?}"
        );
    }
}

#[test]
fn request_with_wrong_upgrade_or_connection_is_400() {
    let problem = rejection(&GOOD_REQUEST.replace("Upgrade: websocket", "Upgrade: h2c"));
    assert_eq!(problem, RequestProblem::UpgradeHeader);
    assert_refused(&problem, 400, "Upgrade");
    let problem = rejection(&GOOD_REQUEST.replace("Upgrade: websocket\r\n", ""));
    assert_eq!(problem, RequestProblem::UpgradeHeader);
    assert_refused(&problem, 400, "Upgrade");
    let problem = rejection(&GOOD_REQUEST.replace("Connection: Upgrade", "Connection: keep-alive"));
    assert_eq!(problem, RequestProblem::ConnectionHeader);
    assert_refused(&problem, 400, "Connection");
}

#[test]
fn malformed_request_head_is_400() {
    for head in [
        "GET /chat\r\nHost: x\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost x\r\n\r\n",
        "GET /chat HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /chat HTTP/1.1\r\n folded: x\r\n\r\n",
        "GET /chat#fragment HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let problem = rejection(head);
        assert!(
            matches!(problem, RequestProblem::Head(HeadError::Malformed(_))),
            "{head:?}: {problem:?}"
        );
        assert_refused(&problem, 400, "malformed");
    }
}

#[test]
fn request_head_over_max_head_size_is_431() {
    let limits = HeadLimits {
        max_head_size: 200,
        max_headers: 100,
    };
    let long = GOOD_REQUEST.replace(
        "\r\n\r\n",
        &format!("\r\nX-Pad: {}\r\n\r\n", "p".repeat(200)),
    );
    let problem = handshake_with(long.as_bytes(), limits).unwrap_err();
    assert_eq!(problem, RequestProblem::Head(HeadError::TooLarge(200)));
    assert_refused(&problem, 431, "200");
    // One byte at a time, the error comes with byte 200, before the end.
    let mut reader = HeadReader::new(limits);
    for (i, byte) in long.as_bytes().chunks(1).enumerate() {
        match reader.feed(byte) {
            Ok((1, false)) => assert!(i < 199),
            Err(e) => {
                assert_eq!((i, e), (199, HeadError::TooLarge(200)));
                break;
            }
            other => panic!("byte {i}: {other:?}"),
        }
    }
}

#[test]
fn request_head_of_exactly_max_head_size_is_accepted() {
    let limits = HeadLimits {
        max_head_size: GOOD_REQUEST.len(),
        max_headers: 5,
    };
    assert_eq!(
        handshake_with(GOOD_REQUEST.as_bytes(), limits).unwrap(),
        SAMPLE_KEY
    );
    let mut reader = HeadReader::new(limits);
    for byte in GOOD_REQUEST.as_bytes().chunks(1) {
        reader.feed(byte).unwrap();
    }
    assert!(reader.is_complete());
}

#[test]
fn request_with_too_many_headers_is_431() {
    let limits = HeadLimits {
        max_head_size: 8192,
        max_headers: 5,
    };
    let more = GOOD_REQUEST.replace("\r\n\r\n", "\r\nX-Sixth: 6\r\n\r\n");
    let problem = handshake_with(more.as_bytes(), limits).unwrap_err();
    assert_eq!(problem, RequestProblem::Head(HeadError::TooManyHeaders(5)));
    assert_refused(&problem, 431, "5");
}

#[test]
fn request_fed_one_byte_at_a_time_is_accepted() {
    for head in [GOOD_REQUEST.to_owned(), GOOD_REQUEST.replace("\r\n", "\n")] {
        let mut reader = HeadReader::new(HeadLimits::default());
        let bytes = head.as_bytes();
        for (i, byte) in bytes.chunks(1).enumerate() {
            let (used, done) = reader.feed(byte).unwrap();
            assert_eq!(used, 1);
            assert_eq!(done, i + 1 == bytes.len(), "byte {i}");
        }
        let request = Request::parse(reader.head(), HeadLimits::default()).unwrap();
        assert_eq!(check_request(&request), Ok(SAMPLE_KEY));
        assert_eq!(request.path(), "/chat");
    }
}

#[test]
fn frame_bytes_pipelined_after_the_request_are_left_unconsumed() {
    let mut wire = GOOD_REQUEST.as_bytes().to_vec();
    wire.extend_from_slice(&HELLO_MASKED);
    wire.extend_from_slice(&PONG_HELLO_MASKED);
    for piece in [wire.len(), 7, 1] {
        let mut reader = HeadReader::new(HeadLimits::default());
        let mut rest = &wire[..];
        loop {
            let chunk = &rest[..piece.min(rest.len())];
            let (used, done) = reader.feed(chunk).unwrap();
            rest = &rest[used..];
            if done {
                break;
            }
            assert_eq!(used, chunk.len());
        }
        assert_eq!(reader.head(), GOOD_REQUEST.as_bytes());
        assert_eq!(rest, [&HELLO_MASKED[..], &PONG_HELLO_MASKED[..]].concat());
        // A complete reader takes no more.
        assert_eq!(reader.feed(rest).unwrap(), (0, true));
        assert_eq!(
            messages(Role::Server, rest),
            [Message::text("Hello"), Message::Pong(b"Hello".to_vec())]
        );
    }
}

// ---------------------------------------------------------------------------
// The opening handshake, client side (section 4.1)
// ---------------------------------------------------------------------------

fn server_answer(lines: &str) -> Response {
    let head = format!("{lines}\r\n");
    Response::parse_head(head.as_bytes(), HeadLimits::default()).unwrap()
}

const GOOD_ANSWER: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

#[test]
fn client_accepts_a_valid_answer() {
    assert_eq!(
        check_response(&server_answer(GOOD_ANSWER), SAMPLE_KEY, &[]),
        Ok(None)
    );
    let relaxed = GOOD_ANSWER
        .replace("Upgrade: websocket", "upgrade: WEBSOCKET")
        .replace("Connection: Upgrade", "connection: upgrade");
    assert_eq!(
        check_response(&server_answer(&relaxed), SAMPLE_KEY, &[]),
        Ok(None)
    );
}

#[test]
fn client_fails_an_answer_other_than_101() {
    for status in [200, 301, 400, 403, 426, 500] {
        let head = GOOD_ANSWER.replace("101 Switching Protocols", &format!("{status} Nope"));
        assert_eq!(
            check_response(&server_answer(&head), SAMPLE_KEY, &[]),
            Err(ResponseProblem::Status(status))
        );
    }
}

#[test]
fn client_fails_an_answer_whose_status_is_not_three_digits() {
    // RFC 9112, section 4: status-code = 3DIGIT; section 4.1 of RFC 6455:
    // anything but 101 fails the handshake.
    for status in ["+101", "0101", "101.0"] {
        let head = GOOD_ANSWER.replace("101 Switching", &format!("{status} Switching"));
        let verdict = Response::parse_head(format!("{head}\r\n").as_bytes(), HeadLimits::default())
            .map(|response| check_response(&response, SAMPLE_KEY, &[]));
        assert!(
            !matches!(verdict, Ok(Ok(_))),
            "{status:?} completed the handshake"
        );
    }
}

#[test]
fn client_fails_an_answer_without_upgrade_websocket() {
    for head in [
        GOOD_ANSWER.replace("Upgrade: websocket\r\n", ""),
        GOOD_ANSWER.replace("Upgrade: websocket", "Upgrade: h2c"),
    ] {
        assert_eq!(
            check_response(&server_answer(&head), SAMPLE_KEY, &[]),
            Err(ResponseProblem::UpgradeHeader)
        );
    }
}

#[test]
fn client_fails_an_answer_without_connection_upgrade() {
    for head in [
        GOOD_ANSWER.replace("Connection: Upgrade\r\n", ""),
        GOOD_ANSWER.replace("Connection: Upgrade", "Connection: keep-alive"),
    ] {
        assert_eq!(
            check_response(&server_answer(&head), SAMPLE_KEY, &[]),
            Err(ResponseProblem::ConnectionHeader)
        );
    }
}

#[test]
fn client_fails_an_answer_whose_accept_value_is_not_exact() {
    for accept in [
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo",
        "S3PPLMBITXAQ9KYGZZHZRBK+XOO=",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOp=",
        "dGhlIHNhbXBsZSBub25jZQ==",
        "",
    ] {
        let head = GOOD_ANSWER.replace(SAMPLE_ACCEPT, accept);
        assert_eq!(
            check_response(&server_answer(&head), SAMPLE_KEY, &[]),
            Err(ResponseProblem::AcceptKey),
            "{accept:?}"
        );
    }
    let missing = GOOD_ANSWER.replace(&format!("Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n"), "");
    assert_eq!(
        check_response(&server_answer(&missing), SAMPLE_KEY, &[]),
        Err(ResponseProblem::AcceptKey)
    );
    let twice = format!("{GOOD_ANSWER}Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n");
    assert_eq!(
        check_response(&server_answer(&twice), SAMPLE_KEY, &[]),
        Err(ResponseProblem::AcceptKey)
    );
    // The right value for another key.
    assert_eq!(
        check_response(&server_answer(GOOD_ANSWER), "MDEyMzQ1Njc4OWFiY2RlZg==", &[]),
        Err(ResponseProblem::AcceptKey)
    );
}

#[test]
fn client_fails_an_answer_with_a_subprotocol_it_did_not_offer() {
    let offered = vec!["chat".to_owned(), "superchat".to_owned()];
    let chat = format!("{GOOD_ANSWER}Sec-WebSocket-Protocol: chat\r\n");
    assert_eq!(
        check_response(&server_answer(&chat), SAMPLE_KEY, &offered),
        Ok(Some("chat".into()))
    );
    assert_eq!(
        check_response(&server_answer(&chat), SAMPLE_KEY, &[]),
        Err(ResponseProblem::Subprotocol("chat".into()))
    );
    let other = format!("{GOOD_ANSWER}Sec-WebSocket-Protocol: mqtt\r\n");
    assert_eq!(
        check_response(&server_answer(&other), SAMPLE_KEY, &offered),
        Err(ResponseProblem::Subprotocol("mqtt".into()))
    );
    let both = format!("{GOOD_ANSWER}Sec-WebSocket-Protocol: chat, superchat\r\n");
    assert!(matches!(
        check_response(&server_answer(&both), SAMPLE_KEY, &offered),
        Err(ResponseProblem::Subprotocol(_))
    ));
    // No subprotocol chosen is allowed.
    assert_eq!(
        check_response(&server_answer(GOOD_ANSWER), SAMPLE_KEY, &offered),
        Ok(None)
    );
}

#[test]
fn client_fails_an_answer_with_an_extension_it_did_not_offer() {
    let deflate = format!("{GOOD_ANSWER}Sec-WebSocket-Extensions: permessage-deflate\r\n");
    assert_eq!(
        check_response(&server_answer(&deflate), SAMPLE_KEY, &[]),
        Err(ResponseProblem::Extension("permessage-deflate".into()))
    );
}
