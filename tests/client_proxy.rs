//! The client through proxies (an HTTP `CONNECT` proxy and SOCKS 5, both
//! faked here on ephemeral ports, byte for byte) and over a TLS hook (a
//! stand-in "TLS" that XORs every byte, so that a stream that skipped the
//! hook could not talk to the server).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine as _;
use stdws::client::{ClientBuilder, ProxyError, SocksError};
use stdws::{CloseCode, Error, Message};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Answers each text with itself until the client's close.
fn echo<S: Read + Write>(stream: S) {
    let mut ws = stdws::accept(stream).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => ws.send_text(&text).unwrap(),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

fn accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// An HTTP proxy that answers `CONNECT` with `answer`, then, on a 200, is
/// the WebSocket server itself (the tunnel's far end); returns the head.
fn http_proxy(answer: &'static str) -> (String, JoinHandle<String>) {
    let (listener, addr) = listen();
    let handle = thread::spawn(move || {
        let mut stream = accept(&listener);
        let head = read_head(&mut stream);
        stream.write_all(answer.as_bytes()).unwrap();
        if answer.starts_with("HTTP/1.1 200") {
            echo(stream);
        }
        head
    });
    (addr, handle)
}

fn round_trip<S: Read + Write>(ws: &mut stdws::WebSocket<S>) {
    ws.send_text("through").unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("through"));
    ws.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn http_proxy_tunnel_carries_the_host_name_and_basic_credentials() {
    let (proxy, server) = http_proxy("HTTP/1.1 200 Connection established\r\n\r\n");
    // The name does not resolve here: only the proxy may resolve it.
    let mut ws = ClientBuilder::new("ws://echo.invalid:8000/chat")
        .proxy(format!("http://bob:s3%2Fcret@{proxy}"))
        .connect()
        .unwrap();
    round_trip(&mut ws);
    let head = server.join().unwrap();
    let token = base64::engine::general_purpose::STANDARD.encode("bob:s3/cret");
    assert_eq!(
        head,
        format!(
            "CONNECT echo.invalid:8000 HTTP/1.1\r\nHost: echo.invalid:8000\r\nProxy-Authorization: Basic {token}\r\n\r\n"
        )
    );
}

#[test]
fn http_proxy_refusal_reports_its_status_and_reason() {
    let (proxy, server) = http_proxy(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n",
    );
    let result = ClientBuilder::new("ws://echo.invalid/")
        .proxy(format!("http://{proxy}"))
        .connect();
    match result {
        Err(Error::Proxy(ProxyError::Refused { status, reason })) => {
            assert_eq!(
                (status, reason.as_str()),
                (407, "Proxy Authentication Required")
            );
        }
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn a_proxy_that_is_not_running_is_named_in_the_error() {
    let (listener, addr) = listen();
    drop(listener);
    let error = ClientBuilder::new("ws://echo.invalid/")
        .proxy(format!("socks5h://{addr}"))
        .connect()
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("the proxy") && text.contains("is the proxy running?"),
        "{text}"
    );
}

/// A SOCKS 5 proxy that checks each message byte for byte against what the
/// client must send, answers with `reply_code`, and is then the server.
fn socks_proxy(reply_code: u8) -> (String, JoinHandle<Vec<u8>>) {
    let (listener, addr) = listen();
    let handle = thread::spawn(move || {
        let mut stream = accept(&listener);
        let mut greeting = [0u8; 4];
        stream.read_exact(&mut greeting).unwrap();
        assert_eq!(
            greeting,
            [0x05, 0x02, 0x00, 0x02],
            "offers none and user/pass"
        );
        stream.write_all(&[0x05, 0x02]).unwrap();
        let mut auth = [0u8; 1 + 1 + 5 + 1 + 2];
        stream.read_exact(&mut auth).unwrap();
        assert_eq!(&auth, b"\x01\x05alice\x02pw");
        stream.write_all(&[0x01, 0x00]).unwrap();
        let mut request = vec![0u8; 5];
        stream.read_exact(&mut request).unwrap();
        let rest = match request[3] {
            0x01 => 4 - 1 + 2,
            0x04 => 16 - 1 + 2,
            _ => usize::from(request[4]) + 2,
        };
        let mut tail = vec![0u8; rest];
        stream.read_exact(&mut tail).unwrap();
        request.extend_from_slice(&tail);
        stream
            .write_all(&[0x05, reply_code, 0x00, 0x01, 127, 0, 0, 1, 0x1f, 0x90])
            .unwrap();
        if reply_code == 0 {
            echo(stream);
        }
        request
    });
    (addr, handle)
}

#[test]
fn socks5h_sends_the_host_name_for_the_proxy_to_resolve() {
    let (proxy, server) = socks_proxy(0);
    let mut ws = ClientBuilder::new("ws://echo.invalid:8000/")
        .proxy(format!("socks5h://alice:pw@{proxy}"))
        .connect()
        .unwrap();
    round_trip(&mut ws);
    let mut want = vec![0x05, 0x01, 0x00, 0x03, 12];
    want.extend_from_slice(b"echo.invalid");
    want.extend_from_slice(&8000u16.to_be_bytes());
    assert_eq!(server.join().unwrap(), want);
}

#[test]
fn socks5_resolves_the_host_name_itself() {
    let (proxy, server) = socks_proxy(0);
    let mut ws = ClientBuilder::new("ws://localhost:8000/")
        .proxy(format!("socks5://alice:pw@{proxy}"))
        .connect()
        .unwrap();
    round_trip(&mut ws);
    let request = server.join().unwrap();
    assert!(
        matches!(request[3], 0x01 | 0x04),
        "an address, not a name: {request:?}"
    );
    assert_eq!(request[request.len() - 2..], 8000u16.to_be_bytes());
}

#[test]
fn socks_refusal_reports_the_reply_code_in_words() {
    let (proxy, server) = socks_proxy(0x05);
    let error = ClientBuilder::new("ws://echo.invalid:8000/")
        .proxy(format!("socks5h://alice:pw@{proxy}"))
        .connect()
        .unwrap_err();
    assert!(
        matches!(error, Error::Proxy(ProxyError::Socks(SocksError::Reply(5)))),
        "{error:?}"
    );
    assert!(error.to_string().contains("connection refused"), "{error}");
    server.join().unwrap();
}

#[test]
fn no_proxy_connects_directly_whatever_was_set_before() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || echo(accept(&listener)));
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .proxy("http://proxy.invalid:1")
        .no_proxy()
        .connect()
        .unwrap();
    round_trip(&mut ws);
    server.join().unwrap();
}

/// The stand-in for TLS: every byte XORed with a key, both ways.
struct Xor<S>(S);

impl<S: Read> Read for Xor<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        buf[..n].iter_mut().for_each(|b| *b ^= 0x5a);
        Ok(n)
    }
}

impl<S: Write> Write for Xor<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let scrambled: Vec<u8> = buf.iter().map(|b| b ^ 0x5a).collect();
        self.0.write_all(&scrambled)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn wss_urls_go_through_the_tls_hook_with_the_host_name() {
    let (listener, addr) = listen();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let server = thread::spawn(move || echo(Xor(accept(&listener))));
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&hosts);
    let mut ws = ClientBuilder::new(format!("wss://localhost:{port}/secure"))
        .tls(move |host, tcp| {
            seen.lock().unwrap().push(host.to_owned());
            Ok(Xor(tcp))
        })
        .connect_any()
        .unwrap();
    assert!(ws.get_ref().is_tls());
    round_trip(&mut ws);
    server.join().unwrap();
    assert_eq!(*hosts.lock().unwrap(), ["localhost"]);
}

#[test]
fn wss_through_a_proxy_runs_tls_inside_the_tunnel() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut stream = accept(&listener);
        let head = read_head(&mut stream);
        stream
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        echo(Xor(stream));
        head
    });
    let mut ws = ClientBuilder::new("wss://secure.invalid/")
        .proxy(format!("http://{addr}"))
        .tls(|_, tcp| Ok(Xor(tcp)))
        .connect_any()
        .unwrap();
    round_trip(&mut ws);
    assert!(
        server
            .join()
            .unwrap()
            .starts_with("CONNECT secure.invalid:443 HTTP/1.1\r\n")
    );
}

#[test]
fn ws_urls_skip_the_tls_hook_and_wss_needs_one() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || echo(accept(&listener)));
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .tls(|_, _| -> io::Result<TcpStream> { panic!("no TLS for ws://") })
        .connect_any()
        .unwrap();
    assert!(!ws.get_ref().is_tls());
    round_trip(&mut ws);
    server.join().unwrap();
    for result in [
        ClientBuilder::new("wss://h.invalid/")
            .connect_any()
            .map(|_| ()),
        ClientBuilder::new("wss://h.invalid/").connect().map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(Error::Url(why)) if why.contains("tls")),
            "{result:?}"
        );
    }
}
