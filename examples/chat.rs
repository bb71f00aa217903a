//! A chat with rooms and nicknames. Its page and its WebSocket share one port.
//!
//! ```text
//! cargo run --example chat [-- ADDR] [--redis redis://HOST:PORT] [--ping-interval SECS] [--trusted-proxy NET]...
//! ```
//!
//! `--ping-interval` sets the keepalive (default 20 s): behind a proxy, keep
//! it shorter than the proxy's read timeout. `--trusted-proxy` (repeatable)
//! believes the `Forwarded` / `X-Forwarded-For` headers of that proxy's
//! connections, for the address the log shows.
//!
//! With `--redis`, every chat server that shares the Redis is one chat: a
//! room's messages and notices reach its members on every node (see
//! `stdws::backplane`). Nicknames are unique per node, and `/who` lists
//! the room's members on this node only.
//!
//! Open http://127.0.0.1:8002/ in a browser (two tabs, to talk to yourself).
//! The page connects to `ws://HOST/chat?nick=NAME&room=ROOM`. What a client
//! sends, line by line:
//!
//! | text            | effect                                  |
//! |-----------------|-----------------------------------------|
//! | `/nick NAME`    | change nickname (announced to the room) |
//! | `/join ROOM`    | leave the current room, join another    |
//! | `/who`          | list the nicknames in the room          |
//! | anything else   | said to everyone in the room            |
//!
//! What the server sends: `<nick> text` for what was said, `* ...` for
//! notices (joins, leaves, renames, answers to `/who`).
//!
//! This example shows the [`Handler`] style: each connection's nickname and
//! room live in its handler; the room itself is a registry room. The
//! nickname is also the connection's data (`Connection::set_data`), which is
//! how `/who` reads the nicknames of the others.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use stdws::protocol::http::Response;
use stdws::server::{Connection, Disconnect, Endpoint, Handler};
use stdws::{DataMessage, Server};

/// Every nickname in use, lowercased: a nickname is claimed under this lock,
/// so two clients cannot take the same one at once.
type Nicknames = Arc<Mutex<HashSet<String>>>;

/// A connection's nickname, as its data: what `/who` reads.
#[derive(Clone)]
struct Nick(String);

struct ChatUser {
    nick: String,
    room: String,
    nicknames: Nicknames,
}

impl ChatUser {
    fn announce(&self, conn: &Connection, notice: &str) {
        conn.broadcast_room(&self.room, format!("* {notice}"));
    }

    fn enter(&mut self, conn: &Connection, room: &str) {
        self.room = clean(room, "lobby");
        if let Err(e) = conn.join(&self.room) {
            let _ = conn.send_text(&format!("* {e}"));
            self.room = "lobby".to_owned();
            let _ = conn.join(&self.room);
        }
        let _ = conn.send_text(&format!("* you are {} in #{}", self.nick, self.room));
        self.announce(conn, &format!("{} joined #{}", self.nick, self.room));
    }

    /// Takes `nick` if nobody else has it; `false` if it is taken.
    fn claim(&mut self, conn: &Connection, nick: String) -> bool {
        let mut nicknames = self.nicknames.lock().unwrap_or_else(|e| e.into_inner());
        let key = nick.to_lowercase();
        if key != self.nick.to_lowercase() && !nicknames.insert(key) {
            return false;
        }
        nicknames.remove(&self.nick.to_lowercase());
        nicknames.insert(nick.to_lowercase());
        conn.set_data(Nick(nick.clone()));
        self.nick = nick;
        true
    }
}

/// Names are one word of at most 32 characters, with no control
/// characters, with a default.
fn clean(name: &str, default: &str) -> String {
    let word: String = name
        .split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect();
    if word.is_empty() {
        default.to_owned()
    } else {
        word
    }
}

impl Handler for ChatUser {
    fn on_open(&mut self, conn: &Connection) {
        let guest = format!("guest{}", conn.id());
        // Query values come percent-decoded: "?nick=Zo%C3%AB" is "Zoë".
        let asked = clean(
            &conn.request().query_param("nick").unwrap_or_default(),
            &guest,
        );
        if !self.claim(conn, asked.clone()) {
            let _ = conn.send_text(&format!("* the nickname {asked} is taken"));
            // A guest name holds the connection id: nobody else has it.
            self.claim(conn, guest);
        }
        let room = conn
            .request()
            .query_param("room")
            .map_or_else(|| "lobby".to_owned(), |room| room.into_owned());
        self.enter(conn, &room);
    }

    fn on_message(&mut self, conn: &Connection, message: DataMessage) {
        let DataMessage::Text(text) = message else {
            let _ = conn.send_text("* only text is spoken here");
            return;
        };
        // One message is one line: a line break in it could otherwise
        // forge a notice ("\n* alice left #r1").
        let text: String = text
            .trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let text = text.as_str();
        if let Some(nick) = text.strip_prefix("/nick ") {
            let old = self.nick.clone();
            let new = clean(nick, &old);
            if self.claim(conn, new.clone()) {
                self.announce(conn, &format!("{old} is now {}", self.nick));
            } else {
                let _ = conn.send_text(&format!("* the nickname {new} is taken"));
            }
        } else if let Some(room) = text.strip_prefix("/join ") {
            self.announce(conn, &format!("{} left #{}", self.nick, self.room));
            let _ = conn.leave(&self.room);
            self.enter(conn, room);
        } else if text == "/who" {
            let server = conn.server();
            let mut here: Vec<String> = server
                .room_members(&self.room)
                .into_iter()
                .filter_map(|id| server.client(id)?.data::<Nick>())
                .map(|Nick(nick)| nick)
                .collect();
            here.sort();
            let _ = conn.send_text(&format!("* in #{}: {}", self.room, here.join(", ")));
        } else if !text.is_empty() {
            conn.broadcast_room(&self.room, format!("<{}> {text}", self.nick));
        }
    }

    fn on_close(&mut self, conn: &Connection, _why: &Disconnect) {
        self.nicknames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.nick.to_lowercase());
        // The connection has left its rooms already; tell the others.
        conn.server()
            .broadcast_room(&self.room, format!("* {} left #{}", self.nick, self.room));
    }
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8002".to_owned();
    let mut redis = None;
    let mut ping_interval = None;
    let mut trusted: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    let usage = "usage: chat [ADDR] [--redis redis://HOST:PORT] [--ping-interval SECS] [--trusted-proxy NET]...";
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--redis" => redis = args.next(),
            "--ping-interval" => match args.next().and_then(|s| s.parse::<f64>().ok()) {
                Some(secs) if secs > 0.0 => {
                    ping_interval = Some(std::time::Duration::from_secs_f64(secs))
                }
                _ => {
                    eprintln!("chat: --ping-interval needs a number of seconds\n{usage}");
                    return ExitCode::from(2);
                }
            },
            "--trusted-proxy" => match args.next() {
                Some(net) => trusted.push(net),
                None => {
                    eprintln!("chat: --trusted-proxy needs an address or network\n{usage}");
                    return ExitCode::from(2);
                }
            },
            other if !other.starts_with('-') => addr = other.to_owned(),
            other => {
                eprintln!("chat: unknown option {other}\n{usage}");
                return ExitCode::from(2);
            }
        }
    }
    let nicknames = Nicknames::default();
    let mut builder = Server::builder();
    if let Some(url) = &redis {
        builder = builder.redis(url);
    }
    if let Some(interval) = ping_interval {
        builder = builder.ping_interval(Some(interval));
    }
    let server = builder
        .trusted_proxies(&trusted)
        .workers(1000)
        .route(
            "/chat",
            Endpoint::handler(move || ChatUser {
                nick: String::new(),
                room: String::new(),
                nicknames: Arc::clone(&nicknames),
            }),
        )
        .http(|request| match request.path() {
            "/" => Response::new(200)
                .with_header("Content-Type", "text/html; charset=utf-8")
                .with_body(PAGE),
            _ => Response::text(404, "not found: the chat is at /"),
        })
        .bind(&addr);
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            eprintln!("chat: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "chat on http://{}/ (WebSocket at /chat)",
        server.local_addr()
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

const PAGE: &str = include_str!("chat/page.html");
