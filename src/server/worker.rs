//! One connection's life on its worker thread: the opening handshake, the
//! routing decision, the message loop that calls the handler, and the close.
//!
//! ```text
//!   accepted --> read request head (handshake timeout) --> route, check, hooks
//!                                                            |         |
//!                                         HTTP error / page <-+         v
//!                                                                 101, register
//!                                                                       |
//!     +--------------------- message loop <-----------------------------+
//!     |  text/binary -> on_message     ping -> pong     pong -> on_pong
//!     |  a part of a large message -> on_message_part (if the handler asked)
//!     |  close -> answer it            rule broken -> close with its code
//!     |  EOF / reset / killed by the housekeeper -> 1006 or the reason given
//!     v
//!   unregister, on_close, flush, FIN, wait briefly for the peer's FIN, close
//! ```

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::batch;
use super::connection::Connection;
use super::forwarded::client_addr;
use super::handler::{Disconnect, Handler};
use super::hub::{Accepted, Counters, Hub, Phase};
use super::outbound::{Outbound, Sent};
use super::queue::Origin;
use super::router::{Endpoint, Handshake, PathParams};
use super::shared::{ConnShared, Millis};
use super::sync::lock;
use crate::error::Error;
use crate::message::{DataMessage, Message};
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::protocol::extension::answer_offers;
use crate::protocol::handshake::{RequestProblem, accept_response, check_request};
use crate::protocol::http::{Request, Response};
use crate::protocol::{Answer, Event, Role, Session};
use crate::trace::next_connection_id;
use crate::websocket::{ReadBuffer, ReadPayload, read_request};

/// Writes what the worker held back (see [`batch`]), and holds nothing back
/// until it next has buffered input.
fn uncork(hub: &Hub, own: &Arc<ConnShared>) {
    batch::set_corked(false);
    let _ = batch::flush(hub, own);
}

/// Serves one accepted connection from handshake to close.
pub(crate) fn serve(job: Accepted) {
    let Accepted {
        hub,
        stream,
        peer,
        accepted_at,
    } = job;
    batch::enter(&hub);
    let stream = Arc::new(stream);
    let key = Arc::as_ptr(&stream) as usize;
    let cut = match lock(&hub.serving).as_mut() {
        Some(serving) => {
            serving.insert(key, Arc::clone(&stream));
            false
        }
        None => true,
    };
    if cut {
        // The stop has cut what was being served; this one came too late
        // to be among them.
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    serve_stream(&hub, &stream, peer, accepted_at);
    if let Some(serving) = lock(&hub.serving).as_mut() {
        serving.remove(&key);
    }
    hub.registry.release_address(peer.ip());
    batch::leave();
}

fn serve_stream(hub: &Arc<Hub>, stream: &Arc<TcpStream>, peer: SocketAddr, accepted_at: Instant) {
    // Two calls, not one function: with a thread per connection, every
    // page of stack a worker ever touched stays in its resident memory, so
    // the session (and the compressor it may call, the deepest code the
    // worker runs) must not start below the handshake's large frame.
    if let Some(upgraded) = handshake(hub, stream, peer, accepted_at) {
        session(hub, stream, upgraded);
    }
}

/// A connection the handshake upgraded, handed to [`session`].
struct Upgraded<'h> {
    conn: Connection,
    handler: Box<dyn Handler>,
    leftover: Vec<u8>,
    _counted: Option<CountedAddress<'h>>,
}

/// Reads and answers the opening handshake; the connection registered
/// when it is upgraded, else `None` once it has been answered and closed.
#[inline(never)]
fn handshake<'h>(
    hub: &'h Arc<Hub>,
    stream: &Arc<TcpStream>,
    peer: SocketAddr,
    accepted_at: Instant,
) -> Option<Upgraded<'h>> {
    let settings = &hub.settings;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(settings.write_timeout));
    let deadline = accepted_at + settings.handshake_timeout;
    let mut handshake_io = DeadlineStream { stream, deadline };
    let Ok((request, leftover)) = read_request(&mut handshake_io, settings.head_limits) else {
        // Timed out, malformed (answered already), or gone.
        finish_tcp(stream, settings.close_timeout);
        return None;
    };
    // Requests to HTTP services (long-polling) are served here, the
    // connection kept alive, until one asks for something else.
    let Some((request, leftover)) =
        super::keepalive::serve_services(hub, stream, peer, request, leftover)
    else {
        finish_tcp(stream, settings.close_timeout);
        return None;
    };
    // The client id from the start (with a backplane it carries the node),
    // so that every event of the connection has the number its frames have.
    let trace_id = hub.client_id(next_connection_id());
    let tracer = &settings.tracer;
    if tracer.is_on() {
        tracer.handshake(trace_id, "request", &head_text(&request));
    }
    // A handshake finished while the server drains or shuts down would miss
    // the close sent to every client: send it elsewhere now.
    if hub.phase() != Phase::Running {
        let refusal = Response::text(503, "the server is restarting; connect again")
            .with_header("Retry-After", "1");
        let _ = (&**stream).write_all(&refusal.to_bytes());
        finish_tcp(stream, Duration::ZERO);
        return None;
    }
    // Behind a trusted proxy, the per-address limit applies to the address
    // it forwards, which is known only now that the head has arrived.
    let client = client_addr(request.headers(), peer, &settings.trusted_proxies);
    let counted = match CountedAddress::admit(hub, peer, client) {
        Ok(counted) => counted,
        Err(refusal) => {
            if tracer.is_on() {
                tracer.handshake_dir(
                    trace_id,
                    "->",
                    "refused",
                    &String::from_utf8_lossy(&refusal.to_bytes()),
                );
            }
            let _ = (&**stream).write_all(&refusal.to_bytes());
            finish_tcp(stream, settings.close_timeout);
            return None;
        }
    };
    if client != peer && tracer.is_on() {
        tracer.event(trace_id, &format!("client {client}, forwarded by {peer}"));
    }
    let Decided {
        endpoint,
        mut response,
        params,
    } = match decide(hub, &request, peer, client) {
        Ok(decided) => decided,
        Err((why, mut response)) => {
            answered(hub, why, &request, peer, &response);
            // The connection ends after this answer, so it says so (RFC
            // 9112 section 9.6): a client that pipelined more requests then
            // knows to send them again.
            if response.headers().get("Connection").is_none() {
                response.headers_mut().append("Connection", "close");
            }
            if tracer.is_on() {
                // A page served to a plain HTTP request is not a refusal.
                let what = if why == Answered::PlainHttp && response.status() < 400 {
                    "http"
                } else {
                    "refused"
                };
                tracer.handshake_dir(
                    trace_id,
                    "->",
                    what,
                    &String::from_utf8_lossy(&response.to_bytes()),
                );
            }
            let mut bytes = response.to_bytes();
            if request.method() == "HEAD" {
                // The head a GET would get, without the body (RFC 9110
                // section 9.3.2).
                bytes.truncate(bytes.len().saturating_sub(response.body().len()));
            }
            let _ = (&**stream).write_all(&bytes);
            finish_tcp(stream, settings.close_timeout);
            return None;
        }
    };
    let agreed = answer_offers(
        request.headers().get_all("Sec-WebSocket-Extensions"),
        &settings.compression,
    );
    if let Some(agreed) = &agreed {
        response
            .headers_mut()
            .append("Sec-WebSocket-Extensions", agreed.response());
    }
    let bytes = response.to_bytes();
    if tracer.is_on() {
        tracer.handshake(trace_id, "response", &String::from_utf8_lossy(&bytes));
    }
    if (&**stream).write_all(&bytes).is_err() || stream.set_read_timeout(None).is_err() {
        return None;
    }
    let subprotocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(str::to_owned);
    let outbound = Outbound::new(
        stream,
        settings.max_queued_bytes,
        settings.limits.max_message_size,
        settings.slow_client_policy,
        settings.tracer.clone(),
        trace_id,
    )
    .with_budget(Arc::clone(&hub.memory));
    let shared = Arc::new(
        ConnShared::new(
            hub.client_id(trace_id),
            peer,
            request,
            subprotocol,
            outbound,
            hub.now_ms(),
        )
        .with_client(client)
        .with_deflate(agreed, settings.compression)
        .with_path_params(params.into_pairs()),
    );
    hub.registry.insert(Arc::clone(&shared));
    // A drain that began since the check above may have listed its clients
    // before this one was registered: it sends this one its close itself
    // (a second close, if the drain did see it, is not sent).
    if hub.phase() != Phase::Running {
        let farewell = *lock(&hub.farewell);
        if let Some((code, reason)) = farewell {
            let frame = CloseFrame::new(code, reason);
            if let Ok(Some(sent)) = shared.outbound.close(&frame, Origin::Other, None) {
                batch::after_send(hub, &shared, sent);
            }
        }
    }
    Counters::add(&hub.counters.opened);
    let conn = Connection {
        shared,
        hub: Arc::clone(hub),
    };
    Some(Upgraded {
        conn,
        handler: endpoint.make_handler(),
        leftover,
        _counted: counted,
    })
}

/// Runs an upgraded connection's messages until it closes, then lets it go.
#[inline(never)]
fn session(hub: &Arc<Hub>, stream: &Arc<TcpStream>, upgraded: Upgraded<'_>) {
    let settings = &hub.settings;
    let tracer = &settings.tracer;
    let Upgraded {
        conn,
        mut handler,
        leftover,
        _counted,
    } = upgraded;
    batch::set_own(conn.id());
    let why = run_session(&conn, stream, &leftover, &mut *handler);
    tracer.disconnected(conn.id(), why.code, &why.reason, why.by_peer, why.was_clean);
    lock(&hub.finishing).insert(conn.id(), Arc::clone(&conn.shared));
    // Counted before the registry lets go: a shutdown waits for an empty
    // registry and then reads this count, which must be final by then.
    if !why.was_clean && hub.phase() != Phase::Running {
        Counters::add(&hub.counters.unclean_in_shutdown);
    }
    hub.registry.remove(conn.id());
    Counters::add(&hub.counters.closed);
    guarded(|| handler.on_close(&conn, &why));
    batch::flush_others(hub);
    batch::set_own(0);
    if !conn.shared.outbound.is_dead() {
        let _ = conn.shared.outbound.write_blocking();
        let linger = if hub.phase() == Phase::Running {
            settings.close_timeout
        } else {
            Duration::ZERO
        };
        tracer.tcp_closed(conn.id(), false);
        finish_tcp(stream, linger);
    }
    lock(&hub.finishing).remove(&conn.id());
}

/// A forwarded client address counted against the per-address limit for
/// as long as its connection is served.
struct CountedAddress<'a> {
    hub: &'a Hub,
    ip: IpAddr,
}

impl<'a> CountedAddress<'a> {
    /// Counts `client` when it is not the TCP `peer` (which the acceptor
    /// counted already); the refusal to send when it is over the limit.
    fn admit(hub: &'a Hub, peer: SocketAddr, client: SocketAddr) -> Result<Option<Self>, Response> {
        let ip = client.ip();
        if ip == peer.ip() {
            return Ok(None);
        }
        if !hub
            .registry
            .admit_address(ip, hub.settings.per_ip_limit(ip))
        {
            Counters::add(&hub.counters.refused_per_ip);
            hub.log(format_args!(
                "refused {client} (forwarded by {peer}) with 429: it has as many connections as max_connections_per_ip allows"
            ));
            return Err(
                Response::text(429, "too many connections from your address")
                    .with_header("Retry-After", "1"),
            );
        }
        Ok(Some(CountedAddress { hub, ip }))
    }
}

impl Drop for CountedAddress<'_> {
    fn drop(&mut self) {
        self.hub.registry.release_address(self.ip);
    }
}

/// A handshake the server accepts: who serves it, and the `101`.
struct Decided<'h> {
    endpoint: &'h Endpoint,
    response: Response,
    params: PathParams,
}

/// Why a request gets an HTTP answer instead of a `101`: each is counted in
/// [`ServerStats`](super::ServerStats), and the ones a user would want to
/// know about are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answered {
    /// A plain HTTP request, answered by the page handler (or 426).
    PlainHttp,
    /// No endpoint at the path: 404.
    NoEndpoint,
    /// Not a valid WebSocket handshake: 400, 405 or 426.
    BadHandshake,
    /// A browser page from an origin that is not allowed: 403.
    Origin,
    /// A handshake hook refused.
    Hook,
}

/// Decides what to answer a request: an endpoint and its `101`, or an HTTP
/// answer and why.
fn decide<'h>(
    hub: &'h Hub,
    request: &Request,
    peer: SocketAddr,
    client: SocketAddr,
) -> Result<Decided<'h>, (Answered, Response)> {
    let router = &hub.router;
    let checked = check_request(request);
    if let Err(problem @ RequestProblem::HttpVersionNotSupported(_)) = &checked {
        return Err((Answered::BadHandshake, problem.response()));
    }
    if let Err(RequestProblem::NotAnUpgrade) = &checked {
        return Err((
            Answered::PlainHttp,
            match &router.http {
                Some(respond) => match catch_unwind(AssertUnwindSafe(|| respond(request))) {
                    Ok(response) => response,
                    Err(_) => Response::text(500, "the page handler failed"),
                },
                None => crate::protocol::handshake::RequestProblem::NotAnUpgrade.response(),
            },
        ));
    }
    let Some((endpoint, params)) = router.endpoint(request.path()) else {
        return Err((
            Answered::NoEndpoint,
            Response::text(404, format!("no WebSocket endpoint at {}", request.path())),
        ));
    };
    let key = checked.map_err(|problem| (Answered::BadHandshake, problem.response()))?;
    if !router.origin_allowed(request.origin(), request.host()) {
        return Err((
            Answered::Origin,
            Response::text(
                403,
                format!(
                    "origin {} is not allowed to connect: a page from another site (the server accepts its own origin and those given to allowed_origins)",
                    request.origin().unwrap_or("")
                ),
            ),
        ));
    }
    let mut handshake = Handshake::new(request, peer, client);
    if let Some(choice) = endpoint
        .subprotocols
        .iter()
        .find(|p| request.subprotocols().any(|o| o == p.as_str()))
    {
        handshake.select_subprotocol(choice);
    }
    for hook in [&router.hook, &endpoint.hook].into_iter().flatten() {
        match catch_unwind(AssertUnwindSafe(|| hook(&mut handshake))) {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => return Err((Answered::Hook, refusal)),
            Err(_) => {
                return Err((
                    Answered::Hook,
                    Response::text(500, "the handshake hook failed"),
                ));
            }
        }
    }
    let (subprotocol, headers) = handshake.into_parts();
    let mut response = accept_response(key, subprotocol.as_deref());
    for (name, value) in headers.iter() {
        response.headers_mut().append(name, value);
    }
    Ok(Decided {
        endpoint,
        response,
        params,
    })
}

/// Counts a handshake that got an HTTP answer, and logs the refusals an
/// operator would otherwise never hear of: a browser refused for its
/// origin, a hook's refusal (malformed handshakes and 404s are the
/// internet's background noise, counted only).
fn answered(hub: &Hub, why: Answered, request: &Request, peer: SocketAddr, response: &Response) {
    let c = &hub.counters;
    match why {
        Answered::PlainHttp => Counters::add(&c.http_requests),
        Answered::NoEndpoint | Answered::BadHandshake => Counters::add(&c.refused_handshake),
        Answered::Origin => {
            Counters::add(&c.refused_origin);
            hub.log(format_args!(
                "refused {peer}: origin {:?} is not allowed on {} (see ServerBuilder::allowed_origins)",
                request.origin().unwrap_or(""),
                request.path()
            ));
        }
        Answered::Hook => {
            Counters::add(&c.refused_by_hook);
            hub.log(format_args!(
                "refused {peer}: the handshake hook answered {} on {}",
                response.status(),
                request.path()
            ));
        }
    }
}

/// The message loop. Returns why the connection ended.
fn run_session(
    conn: &Connection,
    stream: &TcpStream,
    leftover: &[u8],
    handler: &mut dyn Handler,
) -> Disconnect {
    let hub = &conn.hub;
    let shared = &conn.shared;
    let tracer = &hub.settings.tracer;
    let mut session = Session::new(Role::Server, hub.settings.limits);
    session.receiver_mut().observe_frames(tracer.is_on());
    session.receiver_mut().set_compression(
        shared
            .deflate
            .as_ref()
            .map(|d| d.agreed.inbound(Role::Server)),
    );
    let mut inbound = ReadBuffer::with_bytes(leftover);
    let mut reader = OwnerReader {
        stream,
        outbound: &shared.outbound,
        hub,
        last_heard_ms: &shared.last_heard_ms,
    };
    batch::set_corked(false);
    if !guarded(|| handler.on_open(conn)) {
        uncork(hub, shared);
        return handler_failed(shared);
    }
    session.deliver_parts_from(handler.message_parts_from());
    // Whether the peer is in the middle of a message taken in parts.
    let mut peer_sending = false;
    // What the message still arriving holds, as charged to the budget.
    let mut held_in = 0;
    let why = loop {
        // Replies and broadcasts made while more input is already buffered
        // are held back and written together before the worker next waits
        // for input: one system call for a burst instead of one per frame.
        let next = inbound.next_event(&mut reader, &mut session, tracer, shared.id, |receiver| {
            uncork(hub, shared);
            if peer_sending {
                write_without_blocking(hub, shared);
            }
            // A message still arriving holds memory: charged to the server's
            // budget before each read, and refused when large and the budget
            // is spent (see `budget`).
            let held = receiver.buffered_bytes();
            hub.memory.adjust(held_in, held);
            held_in = held;
            if hub.memory.refuses(held) {
                return Err(Error::MemoryBudget);
            }
            Ok(())
        });
        batch::set_corked(inbound.has_pending());
        if !inbound.has_pending() {
            uncork(hub, shared);
        }
        // The time of the read that brought this input (one clock reading
        // per read, not per message).
        let now = shared.last_heard_ms.load(Ordering::Relaxed);
        match next {
            Ok(Some(Event::Part(part))) => {
                shared.last_message_ms.store(now, Ordering::Relaxed);
                if shared.outbound.is_closing() {
                    continue;
                }
                peer_sending = !part.last;
                shared.outbound.set_peer_sending(peer_sending);
                if !guarded(|| handler.on_message_part(conn, part)) {
                    break handler_failed(shared);
                }
                // Parts of a burst of small fragments go out together, as
                // other replies do, when the burst has been read.
                if peer_sending && !batch::is_corked() {
                    write_without_blocking(hub, shared);
                }
            }
            Ok(Some(Event::Message(message))) => {
                match message {
                    Message::Text(text) => {
                        shared.last_message_ms.store(now, Ordering::Relaxed);
                        if shared.outbound.is_closing() {
                            continue; // closing: the handler has said its last word
                        }
                        if !guarded(|| handler.on_message(conn, DataMessage::Text(text))) {
                            break handler_failed(shared);
                        }
                    }
                    Message::Binary(data) => {
                        shared.last_message_ms.store(now, Ordering::Relaxed);
                        if shared.outbound.is_closing() {
                            continue;
                        }
                        if !guarded(|| handler.on_message(conn, DataMessage::Binary(data))) {
                            break handler_failed(shared);
                        }
                    }
                    Message::Ping(_) => {
                        send_answers(hub, shared, &mut session);
                    }
                    Message::Pong(payload) => {
                        shared.ping_sent_ms.store(0, Ordering::Relaxed);
                        if !guarded(|| handler.on_pong(conn, &payload)) {
                            break handler_failed(shared);
                        }
                    }
                    Message::Close(frame) => {
                        uncork(hub, shared);
                        let we_started = !send_answers(hub, shared, &mut session);
                        let (code, reason) = match frame {
                            Some(f) => (f.code, f.reason),
                            None => (CloseCode::NO_STATUS, String::new()),
                        };
                        break Disconnect::new(code, reason, !we_started, true);
                    }
                }
            }
            Ok(None) => break ended_or(shared, "the connection ended without a close frame"),
            Err(Error::Protocol(violation)) => {
                uncork(hub, shared);
                send_answers(hub, shared, &mut session);
                break Disconnect::new(violation.close_code(), violation.to_string(), false, false);
            }
            Err(Error::MemoryBudget) => {
                uncork(hub, shared);
                Counters::add(&hub.counters.over_budget);
                hub.log(format_args!(
                    "closed #{} with 1013: a message of {held_in} bytes while the memory budget of {} bytes is spent",
                    shared.id,
                    hub.memory.limit()
                ));
                let why = CloseFrame::new(
                    CloseCode::TRY_AGAIN_LATER,
                    "the server is short of memory: try again later",
                );
                let _ = conn.close(why.code, &why.reason);
                break Disconnect::new(why.code, why.reason, false, false);
            }
            Err(e) => break ended_or(shared, &e.to_string()),
        }
    };
    // The message that was arriving is let go with the session.
    hub.memory.discharge(held_in);
    uncork(hub, shared);
    why
}

/// Hands what the session owes the peer to the connection's queue: a pong
/// (only the latest unanswered one is kept, section 5.5.3, so a flood of
/// pings costs one) follows the worker's batching; a close is written at
/// once. Returns whether a close was sent (not when this side's own close
/// had gone out already).
fn send_answers(hub: &Hub, shared: &Arc<ConnShared>, session: &mut Session) -> bool {
    let mut closed = false;
    while let Some(answer) = session.take_answer() {
        match answer {
            Answer::Pong(payload) => match shared.outbound.answer_ping(payload, batch::is_corked())
            {
                Ok(Sent::MustBlock) => {
                    batch::flush_others(hub);
                    let _ = shared.outbound.write_blocking();
                }
                Ok(sent) => batch::after_send(hub, shared, sent),
                Err(_) => {}
            },
            Answer::Close(frame) => {
                closed |= shared
                    .outbound
                    .answer_close(frame.as_ref())
                    .unwrap_or(false)
            }
            Answer::Fail(frame) => {
                closed |= shared.outbound.answer_close(Some(&frame)).unwrap_or(false)
            }
        }
    }
    closed
}

/// Writes what the socket takes of this connection's queue and leaves the
/// rest to the housekeeper: the owner's writes do not block while the peer
/// is still sending a message passed on in parts (see [`Outbound`]).
fn write_without_blocking(hub: &Hub, shared: &Arc<ConnShared>) {
    let sent = shared.outbound.write_without_blocking();
    batch::after_send(hub, shared, sent);
}

/// Why a connection whose socket ended was ended: by the housekeeper or a
/// slow-client policy, or by the network.
fn ended_or(shared: &ConnShared, otherwise: &str) -> Disconnect {
    match shared.outbound.ended() {
        Some(ended) => Disconnect::new(ended.code, ended.reason, false, false),
        None => Disconnect::abnormal(otherwise),
    }
}

fn handler_failed(shared: &ConnShared) -> Disconnect {
    let _ = shared.outbound.answer_close(Some(&CloseFrame::new(
        CloseCode::INTERNAL_ERROR,
        "internal server error",
    )));
    Disconnect::new(
        CloseCode::INTERNAL_ERROR,
        "the handler panicked",
        false,
        false,
    )
}

/// Runs user code; `false` if it panicked (the panic message has been printed
/// by the panic hook).
fn guarded(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_ok()
}

/// Ends the TCP connection the way RFC 6455 section 7.1.1 asks of a server:
/// close our side first (FIN), then read and discard until the peer closes
/// too, for at most `linger`. Closing with unread bytes in the socket would
/// send a reset instead, which can destroy the close frame in flight.
fn finish_tcp(stream: &TcpStream, linger: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + linger;
    let mut sink = [0u8; 4096];
    let mut reader = DeadlineStream { stream, deadline };
    let mut budget: usize = 1 << 20;
    while let Ok(n @ 1..) = reader.read(&mut sink) {
        budget = budget.saturating_sub(n);
        if budget == 0 {
            break;
        }
    }
}

fn head_text(request: &Request) -> String {
    let (major, minor) = request.version();
    let mut text = format!(
        "{} {} HTTP/{major}.{minor}\n",
        request.method(),
        request.target()
    );
    for (name, value) in request.headers().iter() {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text
}

/// Reads and writes a socket with every read bounded by one overall deadline
/// (a client sending one byte every few seconds cannot stretch it).
struct DeadlineStream<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for DeadlineStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let mut stream = self.stream;
        if left.is_zero() {
            // Past the deadline, bytes that arrived in time still count (a
            // worker may start late on a loaded machine): read what is there
            // without waiting. No other thread uses the socket yet.
            stream.set_nonblocking(true)?;
            let read = stream.read(buf);
            stream.set_nonblocking(false)?;
            return match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    Err(io::ErrorKind::TimedOut.into())
                }
                other => other,
            };
        }
        self.stream.set_read_timeout(Some(left))?;
        stream.read(buf)
    }
}

impl Write for DeadlineStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stream = self.stream;
        stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The worker's reads: blocking, and retried after another thread's brief
/// non-blocking write (see [`Outbound::wait_for_writers`]).
/// Every read that brings bytes also records that the peer is alive, so
/// that keepalive does not end a client busy sending one long frame (a pong
/// cannot come in the middle of a frame).
struct OwnerReader<'a> {
    stream: &'a TcpStream,
    outbound: &'a Outbound,
    hub: &'a Hub,
    last_heard_ms: &'a Millis,
}

impl ReadPayload for OwnerReader<'_> {}

impl Read for OwnerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut stream = self.stream;
        loop {
            match stream.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.outbound.wait_for_writers(),
                Ok(n) if n > 0 => {
                    self.last_heard_ms
                        .store(self.hub.now_ms(), Ordering::Relaxed);
                    return Ok(n);
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn bytes_that_arrived_before_the_deadline_are_read_after_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        // Wait until the bytes are in the server's socket.
        let mut peek = [0u8; 1];
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(server.peek(&mut peek).unwrap(), 1);
        let mut late = DeadlineStream {
            stream: &server,
            deadline: Instant::now() - Duration::from_secs(1),
        };
        let mut buf = [0u8; 64];
        assert_eq!(late.read(&mut buf).unwrap(), 18);
        // Nothing more is there: past the deadline, that is a timeout at once.
        assert_eq!(
            late.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
    }
}
