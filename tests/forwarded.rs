//! The client's address behind a trusted proxy (`ServerBuilder::trusted_proxies`),
//! over real sockets: the tests connect from 127.0.0.1 and play the proxy,
//! or an untrusted client forging its headers.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use stdws::{Server, ServerHandle};
use support::{RawClient, handshake_request, read_http_reply, tcp, wait_until};

/// A server that tells each client, in its first message, the addresses it
/// sees: `client_addr peer_addr hook_client_addr`.
fn address_server(trusted: &[&str], per_ip: Option<usize>) -> ServerHandle {
    let from_hook = Arc::new(Mutex::new(None::<SocketAddr>));
    let seen = Arc::clone(&from_hook);
    Server::builder()
        .workers(16)
        .trusted_proxies(trusted)
        .max_connections_per_ip(per_ip)
        .on_handshake(move |hs| {
            *seen.lock().unwrap() = Some(hs.client_addr());
            Ok(())
        })
        .on_connect(move |conn| {
            let hook = from_hook.lock().unwrap().take();
            let _ = conn.send_text(&format!(
                "{} {} {}",
                conn.client_addr(),
                conn.peer_addr(),
                hook.map_or("none".into(), |a| a.to_string())
            ));
        })
        .on_message(|conn, message| {
            let _ = conn.send(message);
        })
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn()
        .unwrap()
}

/// Connects with `headers` added to the handshake; the HTTP status, and the
/// open connection when it is 101.
fn connect_with(server: &ServerHandle, headers: &str) -> (u16, Option<RawClient>) {
    let mut stream = tcp(server.local_addr());
    stream
        .write_all(handshake_request("/", headers).as_bytes())
        .unwrap();
    let reply = read_http_reply(&mut stream);
    match reply.status {
        101 => (101, Some(RawClient::from_stream(stream))),
        other => (other, None),
    }
}

/// The three addresses the server reports to a client that just connected.
fn addresses(client: &mut RawClient) -> Vec<String> {
    let frame = client.read_frame().expect("the server's first message");
    String::from_utf8(frame.payload)
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_forged_header_from_an_untrusted_peer_is_ignored() {
    // Only 10.0.0.0/8 is trusted; the test connects from 127.0.0.1.
    let server = address_server(&["10.0.0.0/8"], None);
    let (status, client) = connect_with(
        &server,
        "Forwarded: for=203.0.113.9\r\nX-Forwarded-For: 203.0.113.9\r\n",
    );
    assert_eq!(status, 101);
    let mut client = client.unwrap();
    let seen = addresses(&mut client);
    let peer = client.stream.local_addr().unwrap().to_string();
    assert_eq!(seen, [peer.clone(), peer.clone(), peer.clone()]);
    assert_eq!(server.clients()[0].client_addr().to_string(), peer);
    server.shutdown_now();
}

#[test]
fn a_trusted_peer_forwards_the_client_address_from_forwarded() {
    let server = address_server(&["127.0.0.1", "::1"], None);
    let (status, client) = connect_with(
        &server,
        "Forwarded: for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https, for=127.0.0.1\r\n\
         X-Forwarded-For: 198.51.100.1\r\n",
    );
    assert_eq!(status, 101);
    let mut client = client.unwrap();
    let seen = addresses(&mut client);
    let peer = client.stream.local_addr().unwrap().to_string();
    assert_eq!(
        seen,
        ["[2001:db8::7]:4711", peer.as_str(), "[2001:db8::7]:4711"]
    );
    let info = server.clients()[0].info();
    assert_eq!(info.client.to_string(), "[2001:db8::7]:4711");
    assert_eq!(info.peer.to_string(), peer);
    server.shutdown_now();
}

#[test]
fn a_trusted_peer_forwards_the_client_address_from_x_forwarded_for() {
    let server = address_server(&["127.0.0.0/8"], None);
    let (status, client) = connect_with(&server, "X-Forwarded-For: 6.6.6.6, 192.0.2.44\r\n");
    assert_eq!(status, 101);
    let seen = addresses(&mut client.unwrap());
    assert_eq!(seen[0], "192.0.2.44:0");
    server.shutdown_now();
}

#[test]
fn the_per_ip_limit_counts_forwarded_addresses_not_the_proxy() {
    let server = address_server(&["127.0.0.1"], Some(1));
    let (status, first) = connect_with(&server, "X-Forwarded-For: 192.0.2.1\r\n");
    assert_eq!(status, 101);
    let mut first = first.unwrap();
    assert_eq!(addresses(&mut first)[0], "192.0.2.1:0");
    // The same client again, through the same proxy: over its limit of one.
    let mut stream = tcp(server.local_addr());
    stream
        .write_all(handshake_request("/", "X-Forwarded-For: 192.0.2.1\r\n").as_bytes())
        .unwrap();
    let refused = read_http_reply(&mut stream);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.header("Retry-After").as_deref(), Some("1"));
    assert_eq!(server.stats().refused_per_ip, 1);
    drop(stream);
    // Other clients through the proxy are not held back by the proxy's
    // own address (it has two connections open now).
    let (status, second) = connect_with(&server, "Forwarded: for=192.0.2.2\r\n");
    assert_eq!(status, 101);
    assert_eq!(addresses(&mut second.unwrap())[0], "192.0.2.2:0");
    // Once the first has gone, its address is free again.
    first.send_close(1000, "");
    first.expect_close();
    drop(first); // our FIN: the server's worker need not wait for it
    wait_until("the first client's address is released", || {
        connect_with(&server, "X-Forwarded-For: 192.0.2.1\r\n").0 == 101
    });
    server.shutdown_now();
}

#[test]
fn a_trusted_proxy_entry_that_is_not_an_address_fails_bind() {
    let result = Server::builder()
        .trusted_proxies(["10.0.0.0/8", "proxy.internal"])
        .on_message(|_, _| {})
        .bind("127.0.0.1:0");
    let error = result.expect_err("a host name is not an address or network");
    let text = error.to_string();
    assert!(text.contains("\"proxy.internal\""), "{text}");
    assert!(text.contains("is not an IP address or network"), "{text}");
}
