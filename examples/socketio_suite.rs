//! The server that the official Engine.IO and Socket.IO protocol test
//! suites expect (issue 15, item 5).
use std::time::Duration;

use stdws::socketio::engine::EngineIo;

fn main() -> stdws::Result<()> {
    let mut port = 3000u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port" {
            port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port);
        }
    }
    let engine = EngineIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .on_message(|conn, packet| {
            let _ = conn.send(vec![packet]);
        })
        .build();
    let builder = engine.mount(stdws::Server::builder(), "/engine.io/");
    builder.bind(("127.0.0.1", port))?.run()
}
