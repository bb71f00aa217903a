//! `wss://` without a TLS crate: a child `openssl s_client` process is the
//! TLS stream (its standard input and output joined as one `Read + Write`),
//! and [`ClientBuilder::connect_on`](stdws::ClientBuilder::connect_on)
//! performs the handshake over it. A real program would use a TLS crate
//! with [`ClientBuilder::tls`](stdws::ClientBuilder::tls) instead, which
//! also runs through proxies; this shows that any stream works.
//!
//! ```text
//! cargo run --example wss_openssl -- wss://localhost:8443/ [--cafile CERT.pem | --insecure] [MESSAGE]...
//! ```
//!
//! Sends each MESSAGE (or `hello over TLS`), prints each echo, then closes.
//! Exits 0 when every message came back and the closing handshake finished.
//! The certificate is checked against `--cafile` (or the system's roots),
//! with the URL's host name; `--insecure` skips the check (a self-signed
//! test certificate). Needs the `openssl` command.

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};

use stdws::url::Url;
use stdws::{ClientBuilder, CloseCode, Error, Message};

/// A child process's standard output and input, as one stream.
struct ChildStream {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl ChildStream {
    /// `openssl s_client` connected to `host:port`, with SNI and the host
    /// name checked unless `insecure`.
    fn openssl(host: &str, port: u16, cafile: Option<&str>, insecure: bool) -> io::Result<Self> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut command = Command::new("openssl");
        command.args([
            "s_client",
            "-quiet",
            "-connect",
            &authority,
            "-servername",
            host,
        ]);
        if !insecure {
            command.args(["-verify_return_error", "-verify_hostname", host]);
        }
        if let Some(cafile) = cafile {
            command.args(["-CAfile", cafile]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run openssl: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("openssl's pipes are missing"));
        };
        Ok(ChildStream {
            child,
            stdin,
            stdout,
        })
    }
}

impl Read for ChildStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Write for ChildStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stdin.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stdin.flush()
    }
}

impl Drop for ChildStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() -> ExitCode {
    let mut url = None;
    let mut cafile = None;
    let mut insecure = false;
    let mut messages = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cafile" => cafile = args.next(),
            "--insecure" => insecure = true,
            _ if url.is_none() => url = Some(arg),
            _ => messages.push(arg),
        }
    }
    let Some(url) = url else {
        eprintln!(
            "usage: wss_openssl wss://HOST[:PORT]/PATH [--cafile CERT.pem | --insecure] [MESSAGE]..."
        );
        return ExitCode::from(2);
    };
    if messages.is_empty() {
        messages.push("hello over TLS".to_owned());
    }
    match run(&url, cafile.as_deref(), insecure, &messages) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wss_openssl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str, cafile: Option<&str>, insecure: bool, messages: &[String]) -> stdws::Result<()> {
    let parsed = Url::parse(url)?;
    if !parsed.is_secure() {
        return Err(Error::Url("give a wss:// URL".to_owned()));
    }
    let tls = ChildStream::openssl(parsed.host(), parsed.port(), cafile, insecure)?;
    let mut ws = ClientBuilder::new(url).connect_on(tls)?;
    eprintln!("wss_openssl: connected to {url} through openssl s_client");
    for message in messages {
        ws.send_text(message)?;
        match ws.read()? {
            Message::Text(echo) if echo == *message => println!("{echo}"),
            other => {
                let why = format!("expected the echo of {message:?}, got {other:?}");
                return Err(Error::Io(io::Error::other(why)));
            }
        }
    }
    ws.close(CloseCode::NORMAL, "")?;
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(Error::ConnectionClosed) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
}
