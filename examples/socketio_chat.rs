//! The chat again, on Socket.IO: rooms, nicknames, typing notices, and an
//! acknowledgement for each message delivered. The page uses the official
//! browser client, served by this example from a copy on disk (nothing is
//! loaded from the internet).
//!
//! ```text
//! cargo run --example socketio_chat [-- ADDR] [--client PATH] [--redis URL]
//! ```
//!
//! With `--redis redis://HOST:PORT`, several chat servers on one Redis are
//! one chat: a room's messages, notices and typing reach its members on
//! every node (the member list in the `join` ack is this node's).
//!
//! `PATH` is `socket.io.min.js` from the npm package `socket.io-client`
//! (its `dist/` folder), or a `node_modules` folder that holds the package;
//! without it the example looks in `node_modules/` and in
//! `target/socketio/node_modules/` (where `.ci/socketio.sh` installs it).
//! Then open http://127.0.0.1:8005/ in two tabs.
//!
//! | client emits          | server does                                          |
//! |-----------------------|------------------------------------------------------|
//! | `join` {nick, room}   | leaves the old room, joins; acks {room, members}; tells the room |
//! | `say` text            | `said` {nick, text} to the others in the room; acks `true` (delivered) |
//! | `typing` bool         | `typing` {nick, typing} to the others in the room    |
//! | (disconnect)          | `notice` "NICK left" to the room                     |

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use stdws::protocol::http::Response;
use stdws::socketio::{Data, Namespace, Socket, SocketIo};

/// Who a socket is, kept in its data slot.
struct User {
    nick: String,
    room: String,
}

fn user(socket: &Socket) -> Option<Arc<User>> {
    socket.data::<User>()
}

/// Names are one word of at most 32 characters, with a default.
fn clean(name: Option<&str>, default: &str) -> String {
    let word: String = name
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .take(32)
        .collect();
    if word.is_empty() {
        default.to_owned()
    } else {
        word
    }
}

fn notice(socket: &Socket, room: &str, text: String) {
    socket.to(room).emit("notice", [Data::from(text)]);
}

fn chat() -> Namespace {
    Namespace::new()
        .on("join", |socket, args, ack| {
            let request = args.first();
            let nick = clean(
                request.and_then(|r| r.get("nick")).and_then(Data::as_str),
                "guest",
            );
            let room = clean(
                request.and_then(|r| r.get("room")).and_then(Data::as_str),
                "lobby",
            );
            if let Some(old) = user(socket) {
                socket.leave(&old.room);
                notice(
                    socket,
                    &old.room,
                    format!("{} left #{}", old.nick, old.room),
                );
            }
            socket.join(&room);
            notice(socket, &room, format!("{nick} joined #{room}"));
            let members: Vec<Data> = socket
                .server()
                .of("/")
                .to(&room)
                .sockets()
                .iter()
                .filter_map(user)
                .map(|u| Data::from(u.nick.as_str()))
                .chain([Data::from(nick.as_str())])
                .collect();
            ack.send([Data::object([
                ("room", Data::from(room.as_str())),
                ("members", Data::Array(members)),
            ])]);
            socket.set_data(User { nick, room });
        })
        .on("say", |socket, args, ack| {
            let (Some(me), Some(text)) = (user(socket), args.first().and_then(Data::as_str)) else {
                return;
            };
            let text: String = text.chars().take(2000).collect();
            socket.to(&me.room).emit(
                "said",
                [Data::object([
                    ("nick", Data::from(me.nick.as_str())),
                    ("text", Data::from(text)),
                ])],
            );
            ack.send([Data::from(true)]);
        })
        .on("typing", |socket, args, _ack| {
            if let Some(me) = user(socket) {
                let typing = matches!(args.first(), Some(Data::Bool(true)));
                socket.to(&me.room).emit(
                    "typing",
                    [Data::object([
                        ("nick", Data::from(me.nick.as_str())),
                        ("typing", Data::Bool(typing)),
                    ])],
                );
            }
        })
        .on_disconnect(|socket, _reason| {
            if let Some(me) = user(socket) {
                notice(socket, &me.room, format!("{} left", me.nick));
            }
        })
}

/// The browser client: the file given, or one in a `node_modules` folder.
fn find_client(given: Option<PathBuf>) -> Option<PathBuf> {
    let inside = |dir: &Path| dir.join("socket.io-client/dist/socket.io.min.js");
    let candidates: Vec<PathBuf> = match given {
        Some(path) if path.is_dir() => vec![inside(&path), path.join("dist/socket.io.min.js")],
        Some(path) => vec![path],
        None => vec![
            inside(Path::new("node_modules")),
            inside(Path::new("target/socketio/node_modules")),
            inside(Path::new(".ci/browser/node_modules")),
        ],
    };
    candidates.into_iter().find(|p| p.is_file())
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8005".to_owned();
    let mut client = None;
    let mut redis = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--client" => client = args.next().map(PathBuf::from),
            "--redis" => redis = args.next(),
            _ => addr = arg,
        }
    }
    let Some(client) = find_client(client) else {
        eprintln!(
            "socketio_chat: socket.io.min.js not found; give --client PATH \
             (npm install socket.io-client, or run .ci/socketio.sh once)"
        );
        return ExitCode::FAILURE;
    };
    let script = match std::fs::read(&client) {
        Ok(script) => Arc::new(script),
        Err(e) => {
            eprintln!("socketio_chat: cannot read {}: {e}", client.display());
            return ExitCode::FAILURE;
        }
    };
    let io = SocketIo::builder().namespace("/", chat()).build();
    let builder = stdws::Server::builder().http(move |request| match request.path() {
        "/" => Response::new(200)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .with_body(PAGE),
        "/socket.io.min.js" => Response::new(200)
            .with_header("Content-Type", "text/javascript")
            .with_body(script.as_slice()),
        _ => Response::text(404, "not found"),
    });
    let builder = match &redis {
        Some(url) => builder.redis(url),
        None => builder,
    };
    let server = match io.mount(builder, "/socket.io/").bind(&addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("socketio_chat: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "socketio_chat listening on http://{} (client: {})",
        server.local_addr(),
        client.display()
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketio_chat: {e}");
            ExitCode::FAILURE
        }
    }
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>stdws Socket.IO chat</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2em auto; max-width: 40em; }
  #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; }
  .notice { color: #777; } .mine { color: #036; } #typing { color: #777; height: 1.5em; }
</style>
<h1>Socket.IO chat on stdws</h1>
<p>nick <input id="nick" value="guest"> room <input id="room" value="lobby">
<button id="join">join</button> <span id="status">connecting…</span></p>
<div id="log"></div>
<div id="typing"></div>
<form id="form"><input id="text" autocomplete="off" size="50"> <button>send</button></form>
<script src="/socket.io.min.js"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const socket = io();
  function line(text, cls) {
    const div = document.createElement("div");
    div.textContent = text;
    if (cls) div.className = cls;
    $("log").append(div);
    $("log").scrollTop = $("log").scrollHeight;
    return div;
  }
  function join() {
    socket.emit("join", { nick: $("nick").value, room: $("room").value }, (r) => {
      line(`* you are in #${r.room} with ${r.members.join(", ")}`, "notice");
    });
  }
  socket.on("connect", () => {
    $("status").textContent = `connected (${socket.io.engine.transport.name})`;
    socket.io.engine.once("upgrade", (t) => { $("status").textContent = `connected (${t.name})`; });
    join();
  });
  socket.on("disconnect", (reason) => { $("status").textContent = `disconnected: ${reason}`; });
  socket.on("said", (m) => line(`<${m.nick}> ${m.text}`));
  socket.on("notice", (text) => line(`* ${text}`, "notice"));
  const typing = new Set();
  socket.on("typing", (t) => {
    t.typing ? typing.add(t.nick) : typing.delete(t.nick);
    $("typing").textContent = typing.size ? `${[...typing].join(", ")} typing…` : "";
  });
  $("join").onclick = join;
  let typingSent = false;
  $("text").oninput = () => {
    const now = $("text").value.length > 0;
    if (now !== typingSent) { typingSent = now; socket.emit("typing", now); }
  };
  $("form").onsubmit = (e) => {
    e.preventDefault();
    const text = $("text").value;
    if (!text) return;
    const div = line(`<${$("nick").value}> ${text} …`, "mine");
    socket.timeout(5000).emit("say", text, (err) => {
      div.textContent = `<${$("nick").value}> ${text} ${err ? "✗ (not delivered)" : "✓"}`;
    });
    $("text").value = "";
    typingSent = false;
    socket.emit("typing", false);
  };
</script>
"#;
