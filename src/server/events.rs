//! Named events (Socket.IO's style) over plain WebSocket messages: see
//! [`Events`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::Connection;
use crate::message::DataMessage;

type EventHandler = Arc<dyn Fn(&Connection, &str) + Send + Sync>;
type OtherHandler = Arc<dyn Fn(&Connection, DataMessage) + Send + Sync>;

/// Handlers by event name.
///
/// Named events, as in Socket.IO: instead of one `on_message`, a handler per
/// event name, and `emit(name, data)` to send one.
///
/// An event travels as a text message holding a JSON array whose first
/// element is the event's name, the shape Socket.IO uses on its wire:
///
/// ```text
///   ["chat", {"room": "lobby", "text": "hello"}]
///   ["typing"]
/// ```
///
/// In a browser: `ws.send(JSON.stringify(["chat", {text: "hello"}]))`, and
/// `const [name, data] = JSON.parse(event.data)` on the way back. stdws reads
/// the name and hands the data over as raw JSON text, unparsed: it has no JSON
/// library of its own, so use the one your application already has. Messages
/// that are not events go to the fallback handler, if any.
///
/// ```
/// use stdws::server::{Endpoint, Events, Server};
///
/// let events = Events::new()
///     .on("join", |conn, room| {
///         // `room` is raw JSON: "\"lobby\"".
///         let room = room.trim_matches('"');
///         conn.join(room);
///         conn.broadcast_room_except(room, conn.id(), stdws::server::event("joined", &conn.id().to_string()));
///     })
///     .on("ping", |conn, _| {
///         let _ = conn.emit("pong", "{}");
///     });
/// let builder = Server::builder().route("/socket", Endpoint::events(events));
/// # drop(builder);
/// ```
#[derive(Clone, Default)]
pub struct Events {
    pub(crate) handlers: HashMap<String, EventHandler>,
    pub(crate) other: Option<OtherHandler>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort();
        f.debug_struct("Events").field("events", &names).finish()
    }
}

impl Events {
    /// No handlers yet.
    pub fn new() -> Events {
        Events::default()
    }

    /// Calls `handler` with the event's data (raw JSON text, `""` when the
    /// event carries none) for every event called `name`.
    pub fn on(
        mut self,
        name: &str,
        handler: impl Fn(&Connection, &str) + Send + Sync + 'static,
    ) -> Events {
        self.handlers.insert(name.to_owned(), Arc::new(handler));
        self
    }

    /// Calls `handler` for every message that is not an event with a handler.
    pub fn otherwise(
        mut self,
        handler: impl Fn(&Connection, DataMessage) + Send + Sync + 'static,
    ) -> Events {
        self.other = Some(Arc::new(handler));
        self
    }

    /// Routes one message to its handler.
    pub(crate) fn dispatch(&self, conn: &Connection, message: DataMessage) {
        if let DataMessage::Text(text) = &message {
            if let Some((name, data)) = parse_event(text) {
                if let Some(handler) = self.handlers.get(&name) {
                    handler(conn, data);
                    return;
                }
            }
        }
        if let Some(other) = &self.other {
            other(conn, message);
        }
    }
}

/// The text message for event `name` with `data`, which must be JSON text
/// (`""` for none).
///
/// ```
/// assert_eq!(stdws::server::event("chat", r#"{"text":"hi"}"#), r#"["chat",{"text":"hi"}]"#);
/// assert_eq!(stdws::server::event("typing", ""), r#"["typing"]"#);
/// assert_eq!(stdws::server::event("say \"hi\"", "1"), r#"["say \"hi\"",1]"#);
/// ```
pub fn event(name: &str, data: &str) -> String {
    let mut text = String::with_capacity(name.len() + data.len() + 6);
    text.push('[');
    push_json_string(&mut text, name);
    if !data.trim().is_empty() {
        text.push(',');
        text.push_str(data.trim());
    }
    text.push(']');
    text
}

/// Splits `["name", data...]` into the name and the raw data.
pub(crate) fn parse_event(text: &str) -> Option<(String, &str)> {
    let rest = text
        .trim()
        .strip_prefix('[')?
        .strip_suffix(']')?
        .trim_start();
    let (name, after) = parse_json_string(rest)?;
    let after = after.trim_start();
    let data = match after.strip_prefix(',') {
        Some(data) => data.trim(),
        None if after.is_empty() => "",
        None => return None,
    };
    Some((name, data))
}

/// Reads a JSON string at the start of `s`; returns it and what follows.
fn parse_json_string(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                out.push(match escaped {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    _ => return None,
                });
            }
            c if (c as u32) < 0x20 => return None,
            c => out.push(c),
        }
    }
    None
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_with_their_raw_data() {
        assert_eq!(
            parse_event(r#"["chat", {"a": [1, 2]}]"#),
            Some(("chat".into(), r#"{"a": [1, 2]}"#))
        );
        assert_eq!(
            parse_event(r#" [ "typing" ] "#),
            Some(("typing".into(), ""))
        );
        assert_eq!(
            parse_event(r#"["a\"b\u00e9", 1, 2]"#),
            Some(("a\"bé".into(), "1, 2"))
        );
        assert_eq!(parse_event("hello"), None);
        assert_eq!(parse_event(r#"["unterminated]"#), None);
        assert_eq!(parse_event(r#"[42, "x"]"#), None);
        assert_eq!(parse_event(r#"["a" "b"]"#), None);
    }

    #[test]
    fn emitted_events_parse_back() {
        for name in ["chat", "with \"quotes\"", "tab\there", "ünï"] {
            let text = event(name, r#"{"x":1}"#);
            assert_eq!(parse_event(&text), Some((name.to_owned(), r#"{"x":1}"#)));
        }
    }
}
