//! # stdws
//!
//! A WebSocket ([RFC 6455]) server and client on blocking `std::net` I/O,
//! with no dependencies beyond `sha1_smol` and `base64`, and no `unsafe`.
//!
//! - [`Server`]: an acceptor thread, a fixed pool of worker threads (one per
//!   connection), a shared registry of clients with rooms and broadcast, and
//!   per-client outbound queues so that no slow client can hold up the
//!   others. Write it with closures ([`on_message`](server::ServerBuilder::on_message)
//!   and friends), with a [`Handler`](server::Handler) per connection, or
//!   with named [`Events`](server::Events). The [`server`] module maps the
//!   calls of Python's `websocket-server`, Tornado and Socket.IO to stdws's.
//! - [`connect`] and [`ClientBuilder`]: a blocking client, over TCP or any
//!   stream you connected (TLS included).
//! - [`WebSocket`]: both roles over any `Read + Write` stream; [`accept`]
//!   makes one from a stream your own listener accepted, and
//!   [`WebSocket::split`] gives a reader and a writer for two threads.
//! - [`protocol`]: the sans-I/O core underneath all three, tested byte for
//!   byte against the RFC.
//! - [`guide`]: topic pages with measured numbers: performance, memory per
//!   connection, keepalive, backpressure, limits, platforms.
//!
//! # Four ways in
//!
//! Each example below runs as a test: it binds port 0 (any free port; give
//! a fixed one, such as `127.0.0.1:8000`, to open it from a browser) and
//! [`spawn`](Server::spawn)s the server in background threads, so that the
//! program goes on; [`run`](Server::run) would serve on the calling thread
//! instead.
//!
//! ## A server with callbacks, and a broadcast
//!
//! As in Python's `websocket-server`: three closures for the whole server,
//! and a [`ServerHandle`] that reaches every client from any thread.
//!
//! ```
//! use stdws::Server;
//!
//! let server = Server::builder()
//!     .on_connect(|conn| println!("#{} joined from {}", conn.id(), conn.peer_addr()))
//!     .on_message(|conn, msg| {
//!         conn.broadcast(msg); // to every client, the sender included
//!     })
//!     .on_disconnect(|conn, why| println!("#{} left: {}", conn.id(), why.code))
//!     .bind("127.0.0.1:0")?
//!     .spawn()?;
//! println!("listening on ws://{}/", server.local_addr());
//!
//! // The program goes on, and speaks to every client when it likes.
//! server.broadcast(format!("{} clients here", server.client_count()));
//! # use std::time::{Duration, Instant};
//! # let url = format!("ws://{}/", server.local_addr());
//! # let client = || stdws::ClientBuilder::new(&url).read_timeout(Duration::from_secs(10)).connect();
//! # let (mut a, mut b) = (client()?, client()?);
//! # let deadline = Instant::now() + Duration::from_secs(10);
//! # while server.client_count() < 2 { assert!(Instant::now() < deadline); std::thread::yield_now(); }
//! # a.send_text("hello")?;
//! # assert_eq!(b.read()?, stdws::Message::text("hello"));
//! # assert_eq!(a.read()?, stdws::Message::text("hello"));
//! # drop((a, b));
//! # server.shutdown_now();
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! ## A handler per connection, on a route
//!
//! As Tornado's `WebSocketHandler`: a [`Handler`](server::Handler) is made
//! for each connection, so per-connection state lives in its fields, and
//! [`route`](server::ServerBuilder::route) puts it on a path.
//!
//! ```
//! use stdws::server::{Connection, Disconnect, Endpoint, Handler};
//! use stdws::{DataMessage, Message, Server};
//!
//! struct EchoHandler {
//!     messages: usize,
//! }
//!
//! impl Handler for EchoHandler {
//!     fn on_open(&mut self, conn: &Connection) {
//!         println!("WebSocket opened from {}", conn.peer_addr());
//!     }
//!     fn on_message(&mut self, conn: &Connection, message: DataMessage) {
//!         self.messages += 1;
//!         if let DataMessage::Text(text) = message {
//!             let _ = conn.send_text(&format!("You said: {text}"));
//!         }
//!     }
//!     fn on_close(&mut self, _conn: &Connection, why: &Disconnect) {
//!         println!("WebSocket closed after {} messages ({})", self.messages, why.code);
//!     }
//! }
//!
//! let server = Server::builder()
//!     .route("/websocket", Endpoint::handler(|| EchoHandler { messages: 0 }))
//!     .bind("127.0.0.1:0")?
//!     .spawn()?;
//! println!("listening on ws://{}/websocket", server.local_addr());
//! # use std::time::Duration;
//! # let url = format!("ws://{}/websocket", server.local_addr());
//! # let mut ws = stdws::ClientBuilder::new(&url).read_timeout(Duration::from_secs(10)).connect()?;
//! # ws.send_text("hi")?;
//! # assert_eq!(ws.read()?, Message::text("You said: hi"));
//! # drop(ws);
//! # server.shutdown_now();
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! ## A client, with a read timeout
//!
//! [`connect`] takes a URL; [`ClientBuilder`] adds timeouts, headers,
//! subprotocols and limits. Without a read timeout, a server that goes
//! silent blocks [`read`](WebSocket::read) forever; with one, the read
//! fails with an error for which [`Error::is_timeout`] is true, and the
//! connection stays usable.
//!
//! ```
//! use std::time::Duration;
//! use stdws::{ClientBuilder, CloseCode, Message};
//!
//! // An echo server to talk to (or use "ws://127.0.0.1:8000/" and the echo example).
//! let server = stdws::Server::builder()
//!     .on_message(|conn, msg| { let _ = conn.send(msg); })
//!     .bind("127.0.0.1:0")?
//!     .spawn()?;
//! let url = format!("ws://{}/", server.local_addr());
//!
//! let mut ws = ClientBuilder::new(&url)
//!     .connect_timeout(Duration::from_secs(5))
//!     .read_timeout(Duration::from_secs(5))
//!     .connect()?;
//! ws.send_text("Hello")?;
//! let answer = loop {
//!     match ws.read() {
//!         Ok(Message::Text(text)) => break Some(text),
//!         Ok(_) => continue, // binary, or a ping (already answered)
//!         Err(e) if e.is_timeout() => break None, // nothing within 5 s
//!         Err(e) => return Err(e),
//!     }
//! };
//! println!("the server said {answer:?}");
//! ws.close(CloseCode::NORMAL, "done")?;
//! # assert_eq!(answer.as_deref(), Some("Hello"));
//! # server.shutdown_now();
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! ## Named events
//!
//! As Socket.IO: a handler per event name, and `emit(name, data)`. An event
//! is a text message holding a JSON array, `["name", data]`, so a browser
//! needs no library: `ws.send(JSON.stringify(["join", "lobby"]))`. The data
//! is handed over as raw JSON text, for the JSON library of your choice
//! (see [`Events`](server::Events)).
//!
//! ```
//! use stdws::server::{Endpoint, Events};
//! use stdws::Server;
//!
//! let events = Events::new()
//!     .on("join", |conn, room| {
//!         let room = room.trim_matches('"'); // the raw JSON "\"lobby\""
//!         if conn.join(room).is_ok() {
//!             conn.broadcast_event_room(room, "joined", &conn.id().to_string());
//!         }
//!     })
//!     .on("chat", |conn, data| {
//!         for room in conn.rooms() {
//!             conn.broadcast_event_room(&room, "chat", data);
//!         }
//!     });
//! let server = Server::builder()
//!     .route("/events", Endpoint::events(events))
//!     .bind("127.0.0.1:0")?
//!     .spawn()?;
//! println!("listening on ws://{}/events", server.local_addr());
//! # use std::time::Duration;
//! # let url = format!("ws://{}/events", server.local_addr());
//! # let mut ws = stdws::ClientBuilder::new(&url).read_timeout(Duration::from_secs(10)).connect()?;
//! # ws.send_text(r#"["join", "lobby"]"#)?;
//! # let joined = ws.read()?;
//! # assert!(joined.as_text().is_some_and(|t| t.starts_with(r#"["joined","#)), "{joined:?}");
//! # ws.send_text(r#"["chat", {"text": "hi"}]"#)?;
//! # assert_eq!(ws.read()?, stdws::Message::text(r#"["chat",{"text": "hi"}]"#));
//! # drop(ws);
//! # server.shutdown_now();
//! # Ok::<(), stdws::Error>(())
//! ```
//!
//! Whole programs in these styles are in `examples/`: `broadcast`
//! (callbacks), `chat` (handlers, rooms, and a page on the same port),
//! `client` (a command-line client), `ticker` (a plain `main` loop pushing
//! to browsers) and `socketio_chat` (Socket.IO's own events).
//!
//! # Platforms
//!
//! Linux, macOS and the BSDs; not Windows. stdws draws the keys that RFC
//! 6455 asks to be unpredictable (every client frame's masking key, every
//! handshake key) from `/dev/urandom`, which Windows does not have. Linux
//! is where it is tested and measured; see [`guide::platforms`].
//!
//! # Scope
//!
//! **In scope**: RFC 6455 complete (version 13), both roles, text and binary
//! messages of any size up to a limit, fragmentation, ping/pong and
//! keepalive, the closing handshake, subprotocols, origin checks, HTTP
//! responses on the WebSocket's port. `permessage-deflate` (RFC 7692, opt-in with
//! [`server::ServerBuilder::compression`] and [`ClientBuilder::compression`];
//! DEFLATE itself is in [`deflate`]). **Out of scope**: other extensions, TLS
//! (bring your own stream), HTTP/2 WebSockets (RFC 8441), async I/O.
//!
//! # How the protocol works
//!
//! A walk through RFC 6455 in the order things happen on the wire, with the
//! code that implements each step. Run the echo server with tracing on,
//!
//! ```text
//! STDWS_TRACE=1 cargo run --release --example echo -- --no-compression
//! ```
//!
//! then open `http://127.0.0.1:8000/` (the echo's own page: browsers refuse
//! `ws://127.0.0.1` from pages of other sites), open the console and type
//! `ws = new WebSocket("ws://127.0.0.1:8000/"); ws.onmessage = e => console.log(e.data)`,
//! then `ws.send("Hello")`, then `ws.close()`: the server prints each step
//! below as it happens, one line per handshake and per frame.
//!
//! ## 1. The opening handshake (section 4)
//!
//! A WebSocket connection starts as an HTTP/1.1 request that asks to switch
//! protocols. This is what Chromium sends for the line above:
//!
//! ```text
//! GET / HTTP/1.1
//! Host: 127.0.0.1:8000
//! Connection: Upgrade
//! Pragma: no-cache
//! Cache-Control: no-cache
//! User-Agent: Mozilla/5.0 (X11; Linux x86_64) ...
//! Upgrade: websocket
//! Origin: http://127.0.0.1:8000
//! Sec-WebSocket-Version: 13
//! Accept-Encoding: gzip, deflate, br, zstd
//! Accept-Language: en-US,en;q=0.9
//! Sec-WebSocket-Key: 3SpE9b9Gx2mnpWCZ9YxJ4w==
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
//! ```
//!
//! The server checks the request ([`protocol::handshake::check_request`]):
//! a `GET` over HTTP/1.1 or later, a `Host`, `Upgrade: websocket`, a
//! `Connection` header listing `upgrade`, version 13, and a key that is 16
//! random bytes in base64. Anything else is refused with an HTTP error (400,
//! 405, 426, 431) whose body names the problem. The request head itself is
//! read incrementally and within bounds by [`protocol::http::HeadReader`].
//!
//! If all is well the server answers `101 Switching Protocols`
//! ([`protocol::handshake::accept_response`]):
//!
//! ```text
//! HTTP/1.1 101 Switching Protocols
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Accept: o1HUlyfX80shVYc9muK4BS79Ad8=
//! ```
//!
//! The accept value proves that the server understood this very request as
//! a WebSocket handshake. It is the SHA-1 of the client's key followed by a
//! fixed GUID, in base64 ([`protocol::handshake::accept_key`], section 1.3):
//!
//! ```
//! use stdws::protocol::handshake::accept_key;
//! // base64(SHA-1("dGhlIHNhbXBsZSBub25jZQ==" + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
//! assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! ```
//!
//! The browser offered `permessage-deflate`; without
//! [`server::ServerBuilder::compression`] stdws does not answer with a
//! `Sec-WebSocket-Extensions` header, which declines it (section 8 below
//! shows it accepted). Had the browser
//! offered subprotocols (`Sec-WebSocket-Protocol: chat, superchat`), the
//! server could pick one ([`server::Endpoint::subprotocols`],
//! [`server::Handshake::select_subprotocol`]). From here on, both sides
//! speak in frames.
//!
//! ## 2. Frames (section 5.2)
//!
//! Every message travels in frames. A frame is a header of 2 to 14 bytes and
//! a payload ([`protocol::frame`]):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! - **FIN** marks the last frame of a message.
//! - **RSV1-3** belong to extensions; with none negotiated, a set bit fails
//!   the connection (close code 1002).
//! - **Opcode**: 0x1 text, 0x2 binary, 0x0 continuation, 0x8 close, 0x9 ping,
//!   0xA pong; the others are reserved and fail the connection (1002).
//! - **Payload length** uses the shortest of three encodings: up to 125 in
//!   the 7-bit field; 126 means a 16-bit length follows; 127 means a 64-bit
//!   length follows, whose top bit must be 0.
//!
//! [`protocol::frame::FrameHeader::parse`] decodes a header from however many
//! bytes have arrived and reports a broken rule as soon as the bytes that
//! break it are there; [`protocol::frame::FrameHeader::encode`] writes one.
//! The text "Hello" from the browser arrives as the trace shows it:
//!
//! ```text
//! [ws 1] <- FIN=1 RSV=000 op=0x1 TEXT   MASK=1 key=37fa213d len=5 (7-bit)  "Hello"
//! ```
//!
//! ## 3. Masking (section 5.3)
//!
//! Every frame a client sends is masked: its payload is XORed with a 4-byte
//! key chosen at random for that frame and sent in the header. A server
//! fails the connection on an unmasked client frame, and a client on a
//! masked server frame (1002). Masking is not secrecy: its purpose is that
//! a script in a web page cannot choose the bytes that travel on the wire,
//! so it cannot forge a frame that a confused proxy would take for an HTTP
//! request (section 10.3). This is why the key must be unpredictable:
//! stdws draws it from the operating system's random device.
//! [`protocol::mask::apply_mask`] masks and unmasks, 8 bytes at a time in
//! safe code:
//!
//! ```
//! use stdws::protocol::mask::apply_mask;
//! let mut payload = *b"Hello";
//! apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
//! assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // as on the wire (section 5.7)
//! ```
//!
//! ## 4. Fragmentation (section 5.4)
//!
//! A message may be sent in several frames: the first carries the opcode
//! (text or binary) with FIN clear, the rest are continuation frames, the
//! last has FIN set. Control frames may come between the fragments (a
//! ping in the middle of a long message is answered at once). A
//! continuation with no message to continue, or a new message before the
//! last one ended, fails the connection (1002).
//! [`protocol::receiver::Receiver`] reassembles messages; what it holds for
//! one is proportional to its payload, whatever the number of fragments,
//! and the message and frame size limits (1009) are checked when each
//! header arrives, before its payload is buffered.
//!
//! Fragments are also how a large message can be passed on before it has
//! all arrived: a server handler can take a message in parts
//! ([`server::Handler::message_parts_from`], which
//! [`Receiver::deliver_parts_from`](protocol::receiver::Receiver::deliver_parts_from)
//! implements) and send one in parts, one fragment each
//! ([`server::Connection::send_part`]). The echo example answers large
//! messages that way, the way a TCP echo streams bytes back.
//!
//! ## 5. Text must be UTF-8 (sections 5.6 and 8.1)
//!
//! A text message must be valid UTF-8 as a whole, though a code point may be
//! split across fragments. An endpoint fails the connection with 1007 on
//! invalid text, and should do so as soon as the first byte that cannot be
//! part of a valid sequence arrives, not at the end of the message.
//! [`protocol::utf8::Utf8Validator`] checks pieces as they arrive, keeping
//! at most three bytes of an unfinished code point between them.
//!
//! ## 6. Control frames: ping and pong (section 5.5)
//!
//! Close, ping and pong are control frames: at most 125 bytes of payload,
//! never fragmented. A ping must be answered with a pong carrying the same
//! payload, "as soon as is practical"; an unsolicited pong needs no answer.
//! stdws answers pings itself ([`protocol::session::Session`]) and uses
//! pings for keepalive: a server pings a silent client and ends a connection
//! whose pong does not come back in time (a peer whose network vanished
//! sends nothing at all, not even a reset).
//!
//! ```text
//! [ws 1] <- FIN=1 RSV=000 op=0x9 PING   MASK=1 key=9c2e01aa len=4 (7-bit)  "beat"
//! [ws 1] -> FIN=1 RSV=000 op=0xa PONG   MASK=0              len=4 (7-bit)  "beat"
//! ```
//!
//! ## 7. The closing handshake (sections 5.5.1 and 7)
//!
//! Either side starts the close with a close frame: an optional 2-byte status
//! code and a UTF-8 reason. The other side answers with a close frame of its
//! own (stdws echoes the code) and sends nothing after it. Then the server
//! closes the TCP connection first, so that the client is not the one left
//! waiting in TIME_WAIT. [`protocol::close`] holds the codes and their rules:
//! 1000-1003, 1007-1014 and 3000-4999 may be sent; 1005 (no status) and 1006
//! (no close frame at all) are only ever reported to applications; anything
//! else received fails the connection with 1002, and a reason that is not
//! UTF-8 with 1007.
//!
//! ```text
//! [ws 1] <- FIN=1 RSV=000 op=0x8 CLOSE  MASK=1 key=5e8c21f0 len=0 (7-bit)  (no status code)
//! ```
//!
//! When a peer breaks a rule, the endpoint _fails the connection_ (section
//! 7.1.7): it sends a close frame with the code the rule names and closes.
//! Each rule, its code and its section are listed in
//! [`protocol::violation::Violation`]; the trace names them:
//!
//! ```text
//! [ws 2] !! failed: the peer used reserved opcode 0x3 (RFC 6455 section 5.2) -> close 1002
//! ```
//!
//! The session's states ([`protocol::session`]):
//!
//! ```text
//!   Open --we send close--> Closing --peer's close--> Closed
//!   Open --peer's close, we answer--> Closed
//!   Open/Closing --a rule broken, we send its code--> Closed
//! ```
//!
//! ## 8. Compression: `permessage-deflate` (RFC 7692)
//!
//! With compression on, the server answers the first valid offer
//! ([`protocol::extension::answer_offers`]); the client checks the answer
//! and fails the handshake on one it cannot accept
//! ([`protocol::extension::check_answer`]):
//!
//! ```text
//! [ws 1] <- handshake request  ... | Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
//! [ws 1] -> handshake response ... | Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12
//! ```
//!
//! Both ends keep their compression context (section 7.1.1): a message may
//! refer back to the ones before it, within a window. The server asks the
//! client for a 2<sup>12</sup>-byte window, and compresses with one of that
//! size itself, so that what each connection holds stays small
//! ([`Compression`] has the settings; a server that adds
//! `server_no_context_takeover` compresses each message on its own, and a
//! broadcast once for all). A compressed
//! message is its payload as raw DEFLATE ([`deflate`], RFC 1951) ended by
//! a sync flush whose `00 00 ff ff` tail is removed (section 7.2.1), and its
//! first frame has **RSV1** set; continuation and control frames never do,
//! and RSV1 without the extension fails the connection with 1002. The
//! receiver ([`protocol::Receiver::set_compression`]) appends the tail again
//! and inflates as the bytes arrive, bounded by the message limit (1009
//! before the memory is spent); data that does not inflate fails with 1002.
//! The trace shows a frame's compressed and inflated sizes; here the 40 bytes
//! of `Hello, Hello, Hello, Hello, Hello, Hello` travel as 11:
//!
//! ```text
//! [ws 1] <- FIN=1 RSV=100 op=0x1 TEXT   MASK=1 key=3b255ba9 len=11 (7-bit)  hex f2 48 cd c9 c9 d7 51 20 48 01 00 [deflate: 11 -> 40 bytes]
//! [ws 1] -> FIN=1 RSV=100 op=0x1 TEXT   MASK=0              len=11 (7-bit)  hex f2 48 cd c9 c9 d7 51 20 48 01 00
//! ```
//!
//! "Hello" alone compresses to `f2 48 cd c9 c9 07 00` (section 7.2.3.1),
//! and the same message again, with the context kept, to four bytes: one
//! reference five bytes back, into the first (section 7.2.3.2):
//!
//! ```
//! let mut rx = stdws::protocol::Receiver::new(stdws::protocol::Role::Client, Default::default());
//! rx.set_compression(Some(stdws::protocol::extension::Direction { window_bits: 15, no_context_takeover: false }));
//! let wire = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
//! assert_eq!(rx.receive(&wire).unwrap().1, Some(stdws::Message::text("Hello")));
//! let again = [0xc1, 0x04, 0x02, 0x13, 0x00, 0x00];
//! assert_eq!(rx.receive(&again).unwrap().1, Some(stdws::Message::text("Hello")));
//! ```
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backplane;
pub mod client;
pub mod deflate;
mod error;
pub mod guide;
pub mod json;
mod message;
pub mod msgpack;
mod percent;
pub mod protocol;
mod random;
pub mod resp;
pub mod server;
pub mod socketio;
pub mod split;
pub mod trace;
pub mod url;
mod websocket;

pub use client::{ClientBuilder, connect};
pub use error::{Error, Result};
pub use message::{DataMessage, Message, MessagePart};
pub use protocol::Role;
pub use protocol::close::{CloseCode, CloseFrame};
pub use protocol::extension::Compression;
// Shortcuts to the server's three most used types; their pages are under
// `server`, so that each item has one.
#[doc(no_inline)]
pub use server::{Connection, Server, ServerHandle};
pub use trace::Tracer;
pub use websocket::{WebSocket, WebSocketConfig, accept, accept_with_config};

/// The README's code, compiled and run as a test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
