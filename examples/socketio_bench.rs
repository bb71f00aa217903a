//! The Socket.IO server of the shared benchmark harness's `sio_*`
//! scenarios (its README, "Socket.IO contract"): on `/socket.io/` of
//! `ADDR` (default `127.0.0.1:3000`), namespace `/` only, with the official
//! servers' heartbeat (pingInterval 25 s, pingTimeout 20 s):
//!
//! | client emits            | server does                                         |
//! |-------------------------|-----------------------------------------------------|
//! | `echo` (x)              | emits `echo` (x) to the sender                      |
//! | `echo-ack` (x) + ack id | acknowledges with (x)                               |
//! | `broadcast` (p)         | emits `broadcast-message` (p) to every socket of `/`, the sender included |
//!
//! ```text
//! cargo run --release --example socketio_bench -- 127.0.0.1:3000 [--redis redis://127.0.0.1:6379]
//! ```
//!
//! With `--redis`, `broadcast` goes to the sockets of every node on that
//! Redis (see [`stdws::socketio`]).

use stdws::socketio::{Namespace, SocketIo};

fn main() -> stdws::Result<()> {
    let mut addr = "127.0.0.1:3000".to_owned();
    let mut redis = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--redis" => redis = args.next(),
            _ => addr = arg,
        }
    }
    let main = Namespace::new()
        .on("echo", |socket, args, _ack| {
            let _ = socket.emit("echo", args);
        })
        .on("echo-ack", |_socket, args, ack| ack.send(args))
        .on("broadcast", |socket, args, _ack| {
            socket.server().emit("broadcast-message", args);
        });
    let io = SocketIo::builder().namespace("/", main).build();
    let mut builder = stdws::Server::builder().workers(2048);
    if let Some(url) = &redis {
        builder = builder.redis(url);
    }
    let server = io.mount(builder, "/socket.io/").bind(&addr)?;
    println!("socketio_bench listening on http://{}", server.local_addr());
    server.run()
}
