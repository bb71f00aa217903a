//! What the server examples share: their command line and their logging.

use std::process::ExitCode;

use stdws::server::{Connection, Disconnect, ServerBuilder};

/// `NAME [ADDR] [--workers N] [--quiet] [--redis URL] [--no-compression]
/// [--context-takeover BITS | --no-context-takeover] [--ping-interval SECS] [--trusted-proxy NET]...
/// [--drain-on-stdin]`, as the
/// echo and broadcast examples take.
pub struct ServerArgs {
    pub addr: String,
    /// `--workers N`, or `None` for as many as the descriptor limit allows
    /// (at most 10,000).
    pub workers: Option<usize>,
    pub quiet: bool,
    /// Joins the servers that share this Redis (see `stdws::backplane`).
    pub redis: Option<String>,
    /// Decline `permessage-deflate` (the echo and broadcast examples accept
    /// it otherwise).
    pub no_compression: bool,
    /// `--context-takeover BITS`: the window of the compression context
    /// kept per client that allows it, 2^BITS bytes (the library's
    /// default: 12).
    pub context_takeover: Option<u8>,
    /// `--no-context-takeover`: compress each message on its own, so that
    /// a broadcast is compressed once for all its receivers.
    pub no_context_takeover: bool,
    /// The keepalive ping interval (default 20 s): behind a proxy, shorter
    /// than its read timeout.
    pub ping_interval: Option<std::time::Duration>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// A line `drain` on standard input drains the server (close 1012 to
    /// every client, at most 10 s) and exits: a restart behind a balancer.
    pub drain_on_stdin: bool,
}

/// How long `drain` on standard input gives clients to leave.
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

impl ServerArgs {
    /// Parses the command line; on `--help` or a mistake, the exit code to
    /// return (usage has been printed).
    pub fn parse(name: &str, default_addr: &str) -> Result<ServerArgs, ExitCode> {
        let usage = |problem: &str| {
            if !problem.is_empty() {
                eprintln!("{name}: {problem}");
            }
            eprintln!(
                "usage: {name} [ADDR] [--workers N] [--quiet] [--redis redis://HOST:PORT] [--no-compression] [--context-takeover BITS | --no-context-takeover] [--ping-interval SECS] [--trusted-proxy NET]... [--drain-on-stdin]   (default {default_addr}; workers: 10000, or fewer if the descriptor limit is lower)"
            );
            if problem.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        };
        let mut parsed = ServerArgs {
            addr: default_addr.to_owned(),
            workers: None,
            quiet: false,
            redis: None,
            no_compression: false,
            context_takeover: None,
            no_context_takeover: false,
            ping_interval: None,
            trusted_proxies: Vec::new(),
            drain_on_stdin: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--workers" => match args.next().and_then(|n| n.parse().ok()) {
                    Some(n) => parsed.workers = Some(n),
                    None => return Err(usage("--workers needs a number")),
                },
                "--quiet" | "-q" => parsed.quiet = true,
                "--redis" => match args.next() {
                    Some(url) => parsed.redis = Some(url),
                    None => return Err(usage("--redis needs a URL: redis://HOST:PORT")),
                },
                "--no-compression" => parsed.no_compression = true,
                "--no-context-takeover" => parsed.no_context_takeover = true,
                "--context-takeover" => match args.next().and_then(|n| n.parse().ok()) {
                    Some(bits @ 8..=15) => parsed.context_takeover = Some(bits),
                    _ => return Err(usage("--context-takeover needs window bits, 8 to 15")),
                },
                "--ping-interval" => match args.next().and_then(|s| s.parse::<f64>().ok()) {
                    Some(secs) if secs > 0.0 => {
                        parsed.ping_interval = Some(std::time::Duration::from_secs_f64(secs))
                    }
                    _ => return Err(usage("--ping-interval needs a number of seconds")),
                },
                "--trusted-proxy" => match args.next() {
                    Some(net) => parsed.trusted_proxies.push(net),
                    None => return Err(usage("--trusted-proxy needs an address or network")),
                },
                "--drain-on-stdin" => parsed.drain_on_stdin = true,
                "--help" | "-h" => return Err(usage("")),
                other if !other.starts_with('-') => parsed.addr = other.to_owned(),
                other => return Err(usage(&format!("unknown option {other}"))),
            }
        }
        Ok(parsed)
    }

    /// The compression settings: off with `--no-compression`, the defaults
    /// otherwise (a context kept per client that allows it), with the
    /// window `--context-takeover` gives, or none kept under
    /// `--no-context-takeover`.
    pub fn compression(&self) -> stdws::Compression {
        if self.no_compression {
            return stdws::Compression::disabled();
        }
        let compression =
            stdws::Compression::default().server_context_takeover(!self.no_context_takeover);
        match self.context_takeover {
            Some(bits) => compression.window_bits(bits),
            None => compression,
        }
    }

    /// The pool size, and what the start line says about it: each
    /// connection takes a descriptor, so a pool larger than the descriptor
    /// limit (often 1,024) would leave clients past it waiting in the
    /// kernel's backlog.
    fn pool_size(&self) -> (usize, String) {
        // The server's own descriptors: listener, spare, std streams, a few
        // files.
        const RESERVED: usize = 32;
        let limit = stdws::server::open_file_limit();
        let room = limit.map(|l| l.saturating_sub(RESERVED).max(1));
        match (self.workers, room) {
            (Some(n), Some(room)) if n > room => (
                n,
                format!(
                    "; the descriptor limit of {} allows about {room} connections: raise it with `ulimit -n`",
                    limit.unwrap_or_default()
                ),
            ),
            (Some(n), _) => (n, String::new()),
            (None, Some(room)) if room < 10_000 => (
                room,
                format!(
                    ", sized to the descriptor limit of {}; raise it with `ulimit -n` for more",
                    limit.unwrap_or_default()
                ),
            ),
            (None, _) => (10_000, String::new()),
        }
    }

    /// Adds a log line per connect and disconnect (unless `--quiet`), binds,
    /// and runs the server until it stops.
    #[allow(dead_code)] // not every example uses it
    pub fn run(self, name: &str, builder: ServerBuilder) -> ExitCode {
        self.run_with(name, builder, |_| {})
    }

    /// [`run`](Self::run), with `on_connect` called for each client after
    /// its log line.
    pub fn run_with(
        self,
        name: &str,
        builder: ServerBuilder,
        on_connect: impl Fn(&Connection) + Send + Sync + 'static,
    ) -> ExitCode {
        let quiet = self.quiet;
        let (workers, note) = self.pool_size();
        let mut builder = builder.workers(workers);
        if let Some(url) = &self.redis {
            builder = builder.redis(url);
        }
        if let Some(interval) = self.ping_interval {
            builder = builder.ping_interval(Some(interval));
        }
        let builder = builder
            .trusted_proxies(&self.trusted_proxies)
            .on_connect(move |conn: &Connection| {
                on_connect(conn);
                if !quiet {
                    let via = match conn.client_addr() == conn.peer_addr() {
                        true => String::new(),
                        false => format!(" via {}", conn.peer_addr()),
                    };
                    eprintln!(
                        "connect    #{} from {}{via} to {}",
                        conn.id(),
                        conn.client_addr(),
                        conn.request().target()
                    );
                }
            })
            .on_disconnect(move |conn: &Connection, why: &Disconnect| {
                if !quiet {
                    let reason = if why.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", why.reason)
                    };
                    eprintln!("disconnect #{} ({}{reason})", conn.id(), why.code);
                }
            });
        let server = match builder.bind(&self.addr) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("{name}: cannot listen on {}: {e}", self.addr);
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "{name} server listening on ws://{} ({workers} workers{note}{})",
            server.local_addr(),
            match &self.redis {
                Some(url) => format!(", with the nodes on {url}"),
                None => String::new(),
            }
        );
        let handle = match server.spawn() {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The drain's report, printed before the process exits.
        let (reported, report_printed) = std::sync::mpsc::channel::<()>();
        if self.drain_on_stdin {
            let handle = handle.clone();
            let name = name.to_owned();
            std::thread::spawn(move || {
                for line in std::io::stdin().lines() {
                    let Ok(line) = line else { break };
                    if line.trim() == "drain" {
                        eprintln!("{name}: draining (close 1012, at most {DRAIN_DEADLINE:?})");
                        let report = handle.drain(DRAIN_DEADLINE);
                        eprintln!(
                            "{name}: drained: {} of {} clients left in time, {} cut, in {:?}",
                            report.left, report.clients, report.cut, report.elapsed
                        );
                        let _ = reported.send(());
                        return;
                    }
                }
            });
        }
        handle.wait();
        if self.drain_on_stdin {
            let _ = report_printed.recv_timeout(std::time::Duration::from_secs(5));
        }
        ExitCode::SUCCESS
    }
}
