//! A command-line WebSocket client: each line of standard input goes out as a
//! text message, and each message received is printed on its own line.
//!
//! ```text
//! cargo run --example client -- [OPTIONS] ws://127.0.0.1:8000/
//!
//!   --header 'Name: value'   add a request header (repeatable)
//!   --protocol NAME          offer a subprotocol (repeatable)
//!   --trace                  print the handshake and every frame to stderr
//!   --no-compression         do not offer permessage-deflate (offered by default)
//! ```
//!
//! Binary messages print as a one-line summary. At the end of input the
//! client sends close 1000 and waits up to 5 seconds for the server's close;
//! it exits 0 once the closing handshake is complete, and non-zero (with the
//! reason on standard error) when the connection, the handshake or the close
//! fails. Reading and writing run in two threads, over
//! [`WebSocket::split`](stdws::WebSocket::split).

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use stdws::{ClientBuilder, CloseCode, CloseFrame, Compression, Error, Message, Tracer};

/// How long to wait for the server's answer to our close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How long the TCP connect and the handshake may take.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let mut url = None;
    let mut headers = Vec::new();
    let mut protocols = Vec::new();
    let mut trace = false;
    let mut compression = Compression::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--header" | "-H" => match args.next().as_deref().and_then(|h| h.split_once(':')) {
                Some((name, value)) => {
                    headers.push((name.trim().to_owned(), value.trim().to_owned()))
                }
                None => return usage("--header needs 'Name: value'"),
            },
            "--protocol" | "-p" => match args.next() {
                Some(name) => protocols.push(name),
                None => return usage("--protocol needs a name"),
            },
            "--trace" => trace = true,
            "--no-compression" => compression = Compression::disabled(),
            "--help" | "-h" => return usage(""),
            other if !other.starts_with('-') && url.is_none() => url = Some(other.to_owned()),
            other => return usage(&format!("unexpected argument {other}")),
        }
    }
    let Some(url) = url else {
        return usage("give the URL to connect to, such as ws://127.0.0.1:8000/");
    };

    let mut builder = ClientBuilder::new(&url)
        .connect_timeout(CONNECT_WAIT)
        .read_timeout(CONNECT_WAIT)
        .compression(compression);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    for protocol in protocols {
        builder = builder.subprotocol(protocol);
    }
    if trace {
        builder = builder.trace(Tracer::to_writer(io::stderr()));
    }
    let ws = match builder.connect() {
        Ok(connected) => connected,
        Err(e) => return fail(&format!("cannot connect to {url}: {e}")),
    };
    // The timeout bounded the handshake; from here the server may stay silent.
    if let Err(e) = ws.get_ref().set_read_timeout(None) {
        return fail(&format!("cannot configure the socket: {e}"));
    }
    match ws.response().and_then(|r| r.subprotocol()) {
        Some(protocol) => eprintln!("client: connected to {url}, subprotocol {protocol}"),
        None => eprintln!("client: connected to {url}"),
    }
    let (mut reader, writer) = match ws.split() {
        Ok(halves) => halves,
        Err(e) => return fail(&format!("cannot split the connection: {e}")),
    };

    let closing = Arc::new(AtomicBool::new(false));
    let (ended, end) = mpsc::channel();
    let we_close = Arc::clone(&closing);
    thread::spawn(move || {
        let outcome = loop {
            match reader.read() {
                Ok(Message::Text(text)) => println!("{text}"),
                Ok(Message::Binary(data)) => println!("{}", summary(&data)),
                Ok(Message::Close(frame)) => break Ok(frame),
                // Pings were answered already; pongs need nothing.
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        if !we_close.load(Ordering::SeqCst) {
            // The server ended the connection while standard input is still
            // open: the main thread is blocked reading it, so leave from here.
            std::process::exit(match outcome {
                Ok(frame) => closed_by_server(frame.as_ref()),
                Err(e) => {
                    eprintln!("client: connection lost: {e}");
                    1
                }
            });
        }
        let _ = ended.send(outcome);
    });

    for line in io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("client: cannot read standard input ({e}); closing");
                break;
            }
        };
        if let Err(e) = writer.send_text(&line) {
            return fail(&format!("cannot send: {e}"));
        }
    }
    closing.store(true, Ordering::SeqCst);
    match writer.close(CloseCode::NORMAL, "") {
        // The server's close crossed ours: the reader has answered it.
        Ok(()) | Err(Error::SendAfterClose) => {}
        Err(e) => return fail(&format!("cannot send the close: {e}")),
    }
    match end.recv_timeout(CLOSE_WAIT) {
        Ok(Ok(_)) => ExitCode::SUCCESS,
        Ok(Err(e)) => fail(&format!(
            "the connection ended without its closing handshake: {e}"
        )),
        Err(_) => fail(&format!(
            "the server did not answer the close within {} s",
            CLOSE_WAIT.as_secs()
        )),
    }
}

/// Reports a close the server started; the exit status is 0 for a normal
/// close (1000, 1001, or none) and 1 for any other code.
fn closed_by_server(frame: Option<&CloseFrame>) -> i32 {
    match frame {
        None => {
            eprintln!("client: the server closed the connection");
            0
        }
        Some(frame) => {
            eprintln!("client: the server closed the connection: {frame}");
            let normal = frame.code == CloseCode::NORMAL || frame.code == CloseCode::GOING_AWAY;
            if normal { 0 } else { 1 }
        }
    }
}

/// `[binary 1234 bytes: 00 01 02 ... ]`: the length and the first bytes.
fn summary(data: &[u8]) -> String {
    const SHOWN: usize = 16;
    if data.is_empty() {
        return "[binary 0 bytes]".to_owned();
    }
    let hex: Vec<String> = data
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    let more = if data.len() > SHOWN { " ..." } else { "" };
    format!("[binary {} bytes: {}{more}]", data.len(), hex.join(" "))
}

fn fail(problem: &str) -> ExitCode {
    eprintln!("client: {problem}");
    ExitCode::FAILURE
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("client: {problem}");
    }
    eprintln!(
        "usage: client [--header 'Name: value']... [--protocol NAME]... [--trace] [--no-compression] ws://HOST[:PORT]/PATH"
    );
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
