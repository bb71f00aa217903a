//! What the server examples share: their command line and their logging.

use std::process::ExitCode;

use stdws::server::{Connection, Disconnect, ServerBuilder};

/// `NAME [ADDR] [--workers N] [--quiet]`, as the echo and broadcast examples take.
pub struct ServerArgs {
    pub addr: String,
    pub workers: usize,
    pub quiet: bool,
    /// Decline `permessage-deflate` (the echo example accepts it otherwise).
    pub no_compression: bool,
}

impl ServerArgs {
    /// Parses the command line; on `--help` or a mistake, the exit code to
    /// return (usage has been printed).
    pub fn parse(name: &str, default_addr: &str) -> Result<ServerArgs, ExitCode> {
        let usage = |problem: &str| {
            if !problem.is_empty() {
                eprintln!("{name}: {problem}");
            }
            eprintln!(
                "usage: {name} [ADDR] [--workers N] [--quiet] [--no-compression]   (default {default_addr}, 10000 workers)"
            );
            if problem.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        };
        let mut parsed = ServerArgs {
            addr: default_addr.to_owned(),
            workers: 10_000,
            quiet: false,
            no_compression: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--workers" => match args.next().and_then(|n| n.parse().ok()) {
                    Some(n) => parsed.workers = n,
                    None => return Err(usage("--workers needs a number")),
                },
                "--quiet" | "-q" => parsed.quiet = true,
                "--no-compression" => parsed.no_compression = true,
                "--help" | "-h" => return Err(usage("")),
                other if !other.starts_with('-') => parsed.addr = other.to_owned(),
                other => return Err(usage(&format!("unknown option {other}"))),
            }
        }
        Ok(parsed)
    }

    /// Adds a log line per connect and disconnect (unless `--quiet`), binds,
    /// and runs the server until it stops.
    pub fn run(self, name: &str, builder: ServerBuilder) -> ExitCode {
        let quiet = self.quiet;
        let builder = builder
            .workers(self.workers)
            .on_connect(move |conn: &Connection| {
                if !quiet {
                    eprintln!(
                        "connect    #{} from {} to {}",
                        conn.id(),
                        conn.peer_addr(),
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
            "{name} server listening on ws://{} ({} workers)",
            server.local_addr(),
            self.workers
        );
        match server.run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
