//! An incremental decoder of what a Redis server sends: replies and pushes,
//! RESP2 and RESP3 ("RESP protocol description" in the specification).
//!
//! Bytes go in with [`Decoder::feed`] as they arrive, in pieces of any size;
//! complete values come out of [`Decoder::next`]. A value split across
//! reads is taken up where it stopped: aggregates (arrays, maps, sets,
//! pushes) are built on a stack of unfinished frames, so no byte is parsed
//! twice except the few bytes of an unfinished line or bulk header.
//!
//! ```text
//!   feed(b"*2\r\n$3\r\nfoo\r\n:4")   next() -> None     stack: [Array 1 of 2: "foo"]
//!   feed(b"2\r\n")                  next() -> Some([foo, 42])
//! ```
//!
//! Every number a server announces is checked before it is trusted:
//!
//! | what                                  | limit                                | error |
//! |---------------------------------------|--------------------------------------|-------|
//! | a bulk string's length                | [`Limits::max_bulk_len`]             | [`RespError::BulkTooLong`] |
//! | an aggregate's element count          | [`Limits::max_elements`]             | [`RespError::TooManyElements`] |
//! | nesting of aggregates                 | [`Limits::max_depth`]                | [`RespError::TooDeep`] |
//! | a line (`+`, `-`, `:` and headers)    | [`Limits::max_line_len`]             | [`RespError::LineTooLong`] |
//! | memory for unread input and the value being built | [`Limits::max_buffered`] | [`RespError::TooLarge`] |
//!
//! Memory is counted in the unit the limit promises: the value being built is
//! charged the size of each [`Value`] it holds, not only its payload bytes,
//! so a million one-byte elements cost what they really take. After an
//! error the stream cannot be resynchronised: the decoder keeps returning
//! the error, and the connection must be dropped.

use std::fmt;
use std::mem::size_of;

use super::Value;

/// The bounds a [`Decoder`] enforces, with defaults sized for pub/sub
/// messages that carry WebSocket messages of up to 16 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string (default 32 MiB; Redis's own ceiling is 512 MB).
    pub max_bulk_len: usize,
    /// The most elements in one array, set, push or map (pairs count twice)
    /// (default 1,048,576).
    pub max_elements: usize,
    /// The deepest nesting of aggregates (default 16; pub/sub needs 1).
    pub max_depth: usize,
    /// The longest line: a simple string, an error, a number, a header
    /// (default 64 KiB).
    pub max_line_len: usize,
    /// The most memory for input not yet decoded plus the value being built
    /// (default 64 MiB).
    pub max_buffered: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 32 * 1024 * 1024,
            max_elements: 1 << 20,
            max_depth: 16,
            max_line_len: 64 * 1024,
            max_buffered: 64 * 1024 * 1024,
        }
    }
}

/// What was wrong with the bytes a server sent. The stream cannot be read
/// past it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespError {
    /// A value started with a byte that is no RESP type.
    UnknownType(u8),
    /// A RESP3 type this decoder does not take (attributes, `|`).
    Unsupported(u8),
    /// A line did not end in CR LF (a bare CR or LF).
    BadLineEnd,
    /// A line was longer than the limit.
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// An integer, a length or a count that is not a decimal number in range.
    BadNumber(String),
    /// A negative length or count other than the null's -1.
    BadLength(i64),
    /// A bulk string longer than the limit.
    BulkTooLong {
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A bulk string not followed by CR LF where its length said it ends.
    BulkNotTerminated,
    /// An aggregate with more elements than the limit.
    TooManyElements {
        /// The announced count.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Aggregates nested deeper than the limit.
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More memory than the limit for undecoded input and the value being built.
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A boolean other than `#t` or `#f`, a null `_` with data, or a
    /// verbatim string without its format prefix.
    BadScalar(&'static str),
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::UnknownType(b) => write!(
                f,
                "the server sent byte 0x{b:02x} where a RESP value starts: is this a Redis server?"
            ),
            RespError::Unsupported(b) => write!(
                f,
                "the server sent RESP3 type {:?}, which stdws does not read",
                *b as char
            ),
            RespError::BadLineEnd => f.write_str("a RESP line did not end in CR LF"),
            RespError::LineTooLong { max } => {
                write!(f, "a RESP line was longer than the limit of {max} bytes")
            }
            RespError::BadNumber(text) => write!(f, "bad RESP number {text:?}"),
            RespError::BadLength(n) => write!(f, "bad RESP length {n}"),
            RespError::BulkTooLong { len, max } => write!(
                f,
                "the server announced a bulk string of {len} bytes, over the limit of {max}"
            ),
            RespError::BulkNotTerminated => {
                f.write_str("a RESP bulk string was not followed by CR LF")
            }
            RespError::TooManyElements { len, max } => write!(
                f,
                "the server announced an aggregate of {len} elements, over the limit of {max}"
            ),
            RespError::TooDeep { max } => {
                write!(f, "RESP aggregates nested deeper than the limit of {max}")
            }
            RespError::TooLarge { max } => write!(
                f,
                "a RESP reply takes more than the limit of {max} bytes of memory"
            ),
            RespError::BadScalar(what) => write!(f, "bad RESP value: {what}"),
        }
    }
}

impl std::error::Error for RespError {}

/// Which aggregate an unfinished frame builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Map,
    Push,
}

/// An aggregate whose elements are still arriving.
#[derive(Debug)]
struct Frame {
    kind: Kind,
    remaining: usize,
    items: Vec<Value>,
}

impl Frame {
    fn finish(self) -> Value {
        match self.kind {
            Kind::Array => Value::Array(self.items),
            Kind::Push => Value::Push(self.items),
            Kind::Map => {
                let mut pairs = Vec::with_capacity(self.items.len() / 2);
                let mut items = self.items.into_iter();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    pairs.push((k, v));
                }
                Value::Map(pairs)
            }
        }
    }
}

/// What one step of parsing found.
enum Item {
    Value(Value),
    Aggregate(Kind, usize),
}

/// The incremental decoder (see the module docs).
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    buf: Vec<u8>,
    /// Where the undecoded input starts in `buf`.
    pos: usize,
    /// How many bytes from `pos` are known to hold no CR or LF: an
    /// unfinished line is not scanned again from its start.
    scanned: usize,
    stack: Vec<Frame>,
    /// Memory charged to the value being built.
    held: usize,
    failed: Option<RespError>,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            ..Decoder::default()
        }
    }

    /// Adds bytes that arrived. Fails when the input not yet decoded, with
    /// the value being built, would take more than [`Limits::max_buffered`];
    /// call [`next`](Self::next) until it returns `None` between feeds.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), RespError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.compact();
        let total = self
            .held
            .saturating_add(self.buf.len() - self.pos)
            .saturating_add(bytes.len());
        if total > self.limits.max_buffered {
            return Err(self.fail(RespError::TooLarge {
                max: self.limits.max_buffered,
            }));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Bytes fed and not yet decoded into a complete value.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether a value has started and not finished.
    pub fn in_value(&self) -> bool {
        !self.stack.is_empty() || self.buf.len() > self.pos
    }

    /// The next complete value, or `None` until more bytes are fed.
    #[allow(clippy::should_implement_trait)] // fallible, so not an Iterator
    pub fn next(&mut self) -> Result<Option<Value>, RespError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            let step = match self.parse_one() {
                Ok(step) => step,
                Err(e) => return Err(self.fail(e)),
            };
            let Some((item, used)) = step else {
                self.compact();
                return Ok(None);
            };
            self.pos += used;
            self.scanned = 0;
            let value = match item {
                Item::Value(v) => v,
                Item::Aggregate(kind, 0) => Frame {
                    kind,
                    remaining: 0,
                    items: Vec::new(),
                }
                .finish(),
                Item::Aggregate(kind, len) => {
                    if self.stack.len() >= self.limits.max_depth {
                        return Err(self.fail(RespError::TooDeep {
                            max: self.limits.max_depth,
                        }));
                    }
                    self.held = self.held.saturating_add(size_of::<Frame>());
                    self.stack.push(Frame {
                        kind,
                        remaining: len,
                        // Never trust a count for an allocation.
                        items: Vec::with_capacity(len.min(16)),
                    });
                    continue;
                }
            };
            if let Some(done) = self.complete(value) {
                self.held = 0;
                return Ok(Some(done));
            }
            if self.held.saturating_add(self.buffered()) > self.limits.max_buffered {
                return Err(self.fail(RespError::TooLarge {
                    max: self.limits.max_buffered,
                }));
            }
        }
    }

    fn fail(&mut self, e: RespError) -> RespError {
        self.failed = Some(e.clone());
        self.buf = Vec::new();
        self.pos = 0;
        self.stack = Vec::new();
        self.held = 0;
        e
    }

    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Puts a finished value into the frame it belongs to, finishing frames
    /// as their last element arrives; the top-level value once it is whole.
    fn complete(&mut self, mut value: Value) -> Option<Value> {
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Some(value);
            };
            self.held = self.held.saturating_add(charge(&value));
            frame.items.push(value);
            frame.remaining -= 1;
            if frame.remaining > 0 {
                return None;
            }
            // The frame is finished: `last_mut` just returned it.
            value = self.stack.pop()?.finish();
        }
    }

    /// Parses one scalar or aggregate header at `pos`: the item and the
    /// bytes it took, or `None` if its bytes have not all arrived.
    fn parse_one(&mut self) -> Result<Option<(Item, usize)>, RespError> {
        let Some(&kind) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        let Some(line_end) = self.find_line_end()? else {
            return Ok(None);
        };
        let input = &self.buf[self.pos..];
        // `line_end` indexes the CR; the line is between the type and it.
        let line = &input[1..line_end];
        let after_line = line_end + 2;
        let item = match kind {
            b'+' => Item::Value(Value::Simple(text(line))),
            b'-' => Item::Value(Value::Error(text(line))),
            b':' => Item::Value(Value::Integer(integer(line)?)),
            b'_' => {
                if !line.is_empty() {
                    return Err(RespError::BadScalar("a null (_) with data"));
                }
                Item::Value(Value::Null)
            }
            b'#' => match line {
                b"t" => Item::Value(Value::Boolean(true)),
                b"f" => Item::Value(Value::Boolean(false)),
                _ => return Err(RespError::BadScalar("a boolean other than #t or #f")),
            },
            b',' => {
                let ok = !line.is_empty()
                    && line
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b));
                if !ok {
                    return Err(RespError::BadNumber(text(line)));
                }
                Item::Value(Value::Number(text(line)))
            }
            b'(' => {
                let digits = line.strip_prefix(b"-").unwrap_or(line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(RespError::BadNumber(text(line)));
                }
                Item::Value(Value::Number(text(line)))
            }
            b'$' | b'!' | b'=' => {
                let len = integer(line)?;
                if len == -1 && kind == b'$' {
                    return Ok(Some((Item::Value(Value::Null), after_line)));
                }
                let len = self.bulk_len(len)?;
                let Some(end) = after_line.checked_add(len) else {
                    return Err(RespError::BulkTooLong {
                        len: len as u64,
                        max: self.limits.max_bulk_len,
                    });
                };
                if input.len() < end + 2 {
                    return Ok(None);
                }
                if &input[end..end + 2] != b"\r\n" {
                    return Err(RespError::BulkNotTerminated);
                }
                let data = &input[after_line..end];
                let value = match kind {
                    b'$' => Value::Bulk(data.to_vec()),
                    b'!' => Value::Error(text(data)),
                    _ => match data.get(3) {
                        Some(b':') => Value::Bulk(data[4..].to_vec()),
                        _ => {
                            return Err(RespError::BadScalar(
                                "a verbatim string without its format prefix",
                            ));
                        }
                    },
                };
                return Ok(Some((Item::Value(value), end + 2)));
            }
            b'*' | b'~' | b'>' | b'%' => {
                let count = integer(line)?;
                if count == -1 && kind == b'*' {
                    return Ok(Some((Item::Value(Value::Null), after_line)));
                }
                if count < 0 {
                    return Err(RespError::BadLength(count));
                }
                let (kind, elements) = match kind {
                    b'%' => (Kind::Map, (count as u64).saturating_mul(2)),
                    b'>' => (Kind::Push, count as u64),
                    _ => (Kind::Array, count as u64),
                };
                if elements > self.limits.max_elements as u64 {
                    return Err(RespError::TooManyElements {
                        len: elements,
                        max: self.limits.max_elements,
                    });
                }
                Item::Aggregate(kind, elements as usize)
            }
            b'|' => return Err(RespError::Unsupported(kind)),
            other => return Err(RespError::UnknownType(other)),
        };
        Ok(Some((item, after_line)))
    }

    /// Checks a bulk string's announced length against the limits, the
    /// memory one included, before waiting for its bytes.
    fn bulk_len(&self, len: i64) -> Result<usize, RespError> {
        if len < 0 {
            return Err(RespError::BadLength(len));
        }
        let max = self.limits.max_bulk_len;
        if len as u64 > max as u64 {
            return Err(RespError::BulkTooLong {
                len: len as u64,
                max,
            });
        }
        let len = len as usize;
        if self.held.saturating_add(len) > self.limits.max_buffered {
            return Err(RespError::TooLarge {
                max: self.limits.max_buffered,
            });
        }
        Ok(len)
    }

    /// Where the CR of the line starting at `pos` is (relative to `pos`),
    /// once its CR LF has arrived.
    fn find_line_end(&mut self) -> Result<Option<usize>, RespError> {
        let input = &self.buf[self.pos..];
        // The type byte is never a line end; skip what is known.
        let from = self.scanned.max(1);
        let found = input
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\r' || b == b'\n'))
            .map(|i| i + from);
        let max_line = self.limits.max_line_len;
        match found {
            None => {
                if input.len() > max_line.saturating_add(1) {
                    return Err(RespError::LineTooLong { max: max_line });
                }
                self.scanned = input.len();
                Ok(None)
            }
            Some(at) if at > max_line.saturating_add(1) => {
                Err(RespError::LineTooLong { max: max_line })
            }
            Some(at) => match (input[at], input.get(at + 1)) {
                (b'\r', Some(b'\n')) => Ok(Some(at)),
                (b'\r', None) => {
                    self.scanned = at;
                    Ok(None)
                }
                _ => Err(RespError::BadLineEnd),
            },
        }
    }
}

/// What a finished value costs in memory while it waits in its frame.
fn charge(value: &Value) -> usize {
    let payload = match value {
        Value::Simple(s) | Value::Error(s) | Value::Number(s) => s.len(),
        Value::Bulk(b) => b.len(),
        // Nested aggregates were charged element by element as they grew.
        _ => 0,
    };
    size_of::<Value>() + payload
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A RESP integer: an optional `-` and decimal digits, within `i64`.
fn integer(line: &[u8]) -> Result<i64, RespError> {
    let bad = || RespError::BadNumber(text(line));
    let (negative, digits) = match line.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 {
        return Err(bad());
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(bad());
        }
        let d = i64::from(d - b'0');
        n = n.checked_mul(10).ok_or_else(bad)?;
        n = if negative {
            n.checked_sub(d)
        } else {
            n.checked_add(d)
        }
        .ok_or_else(bad)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Value>, RespError> {
        let mut d = Decoder::default();
        d.feed(bytes)?;
        let mut out = Vec::new();
        while let Some(v) = d.next()? {
            out.push(v);
        }
        assert!(!d.in_value(), "bytes left over");
        Ok(out)
    }

    /// Feeds `bytes` split at every position (and one byte at a time) and
    /// checks that each split decodes to the same values as the whole.
    fn same_at_every_split(bytes: &[u8]) -> Vec<Value> {
        let whole = decode_all(bytes).expect("whole input decodes");
        for split in 0..=bytes.len() {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for piece in [&bytes[..split], &bytes[split..]] {
                d.feed(piece).unwrap();
                while let Some(v) = d.next().unwrap() {
                    got.push(v);
                }
            }
            assert_eq!(got, whole, "split at {split}");
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for b in bytes {
            d.feed(std::slice::from_ref(b)).unwrap();
            while let Some(v) = d.next().unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got, whole, "one byte at a time");
        whole
    }

    fn one(bytes: &[u8]) -> Value {
        let mut values = same_at_every_split(bytes);
        assert_eq!(values.len(), 1);
        values.remove(0)
    }

    fn err(bytes: &[u8]) -> RespError {
        let mut d = Decoder::default();
        let e = d
            .feed(bytes)
            .and_then(|()| {
                loop {
                    if d.next()?.is_none() {
                        break Ok(());
                    }
                }
            })
            .expect_err("must be refused");
        // The error sticks.
        assert_eq!(d.next(), Err(e.clone()));
        e
    }

    #[test]
    fn simple_strings_errors_and_integers() {
        assert_eq!(one(b"+OK\r\n"), Value::Simple("OK".into()));
        assert_eq!(one(b"+\r\n"), Value::Simple("".into()));
        assert_eq!(
            one(b"-ERR unknown command 'FOO'\r\n"),
            Value::Error("ERR unknown command 'FOO'".into())
        );
        assert_eq!(one(b":0\r\n"), Value::Integer(0));
        assert_eq!(one(b":-17\r\n"), Value::Integer(-17));
        assert_eq!(one(b":9223372036854775807\r\n"), Value::Integer(i64::MAX));
        assert_eq!(one(b":-9223372036854775808\r\n"), Value::Integer(i64::MIN));
    }

    #[test]
    fn bulk_strings_are_binary_safe() {
        assert_eq!(one(b"$5\r\nhello\r\n"), Value::bulk("hello"));
        assert_eq!(one(b"$0\r\n\r\n"), Value::bulk(""));
        assert_eq!(one(b"$4\r\n\r\n\0\n\r\n"), Value::bulk(b"\r\n\0\n"));
    }

    #[test]
    fn nulls_of_resp2_and_resp3() {
        assert_eq!(one(b"$-1\r\n"), Value::Null);
        assert_eq!(one(b"*-1\r\n"), Value::Null);
        assert_eq!(one(b"_\r\n"), Value::Null);
    }

    #[test]
    fn arrays_nested_and_empty() {
        assert_eq!(one(b"*0\r\n"), Value::Array(vec![]));
        assert_eq!(
            one(b"*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n*0\r\n"),
            Value::Array(vec![
                Value::Integer(1),
                Value::Array(vec![Value::Simple("a".into()), Value::Null]),
                Value::Array(vec![]),
            ])
        );
    }

    #[test]
    fn a_pubsub_message_as_redis_sends_it() {
        // What redis-server 7 sends a RESP2 subscriber.
        let bytes = b"*3\r\n$7\r\nmessage\r\n$15\r\nstdws:broadcast\r\n$5\r\nh\r\nl\0\r\n";
        assert_eq!(
            one(bytes),
            Value::Array(vec![
                Value::bulk("message"),
                Value::bulk("stdws:broadcast"),
                Value::bulk(b"h\r\nl\0"),
            ])
        );
        // And a pattern subscription's message.
        let bytes = b"*4\r\n$8\r\npmessage\r\n$7\r\nstdws:*\r\n$7\r\nstdws:a\r\n$1\r\nx\r\n";
        assert_eq!(one(bytes).as_items().map(<[Value]>::len), Some(4));
    }

    #[test]
    fn resp3_pushes_maps_sets_and_scalars() {
        assert_eq!(
            one(b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"),
            Value::Push(vec![
                Value::bulk("subscribe"),
                Value::bulk("c"),
                Value::Integer(1)
            ])
        );
        assert_eq!(
            one(b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"),
            Value::Map(vec![
                (
                    Value::Simple("server".into()),
                    Value::Simple("redis".into())
                ),
                (Value::Simple("proto".into()), Value::Integer(3)),
            ])
        );
        assert_eq!(
            one(b"~2\r\n:1\r\n:2\r\n"),
            Value::Array(vec![Value::Integer(1), Value::Integer(2)])
        );
        assert_eq!(one(b"#t\r\n"), Value::Boolean(true));
        assert_eq!(one(b"#f\r\n"), Value::Boolean(false));
        assert_eq!(one(b",3.25\r\n"), Value::Number("3.25".into()));
        assert_eq!(one(b",-inf\r\n"), Value::Number("-inf".into()));
        assert_eq!(
            one(b"(3492890328409238509324850943850943825024385\r\n"),
            Value::Number("3492890328409238509324850943850943825024385".into())
        );
        assert_eq!(
            one(b"!21\r\nSYNTAX invalid syntax\r\n"),
            Value::Error("SYNTAX invalid syntax".into())
        );
        assert_eq!(
            one(b"=15\r\ntxt:Some string\r\n"),
            Value::bulk("Some string")
        );
    }

    #[test]
    fn pipelined_replies_come_out_in_order_at_every_split() {
        let bytes =
            b"+OK\r\n:1\r\n$3\r\nabc\r\n*2\r\n$7\r\nmessage\r\n$-1\r\n-ERR x\r\n>2\r\n_\r\n#t\r\n";
        let values = same_at_every_split(bytes);
        assert_eq!(
            values,
            vec![
                Value::Simple("OK".into()),
                Value::Integer(1),
                Value::bulk("abc"),
                Value::Array(vec![Value::bulk("message"), Value::Null]),
                Value::Error("ERR x".into()),
                Value::Push(vec![Value::Null, Value::Boolean(true)]),
            ]
        );
    }

    #[test]
    fn malformed_input_is_refused_with_its_reason() {
        assert_eq!(err(b"?\r\n"), RespError::UnknownType(b'?'));
        assert_eq!(err(b"HTTP/1.1 400\r\n"), RespError::UnknownType(b'H'));
        assert_eq!(err(b"|1\r\n"), RespError::Unsupported(b'|'));
        assert_eq!(err(b"+OK\n"), RespError::BadLineEnd);
        assert_eq!(err(b"+OK\rX"), RespError::BadLineEnd);
        assert_eq!(err(b":12a\r\n"), RespError::BadNumber("12a".into()));
        assert_eq!(err(b":\r\n"), RespError::BadNumber("".into()));
        assert_eq!(err(b":+1\r\n"), RespError::BadNumber("+1".into()));
        assert_eq!(err(b":-\r\n"), RespError::BadNumber("-".into()));
        assert_eq!(
            err(b":9223372036854775808\r\n"),
            RespError::BadNumber("9223372036854775808".into())
        );
        assert_eq!(err(b"$-2\r\n"), RespError::BadLength(-2));
        assert_eq!(err(b"*-5\r\n"), RespError::BadLength(-5));
        assert_eq!(err(b"%-1\r\n"), RespError::BadLength(-1));
        assert_eq!(err(b"$3\r\nabcd\r\n"), RespError::BulkNotTerminated);
        assert_eq!(err(b"$3\r\nab\r\n\r\n"), RespError::BulkNotTerminated);
        assert!(matches!(err(b"#x\r\n"), RespError::BadScalar(_)));
        assert!(matches!(err(b"_x\r\n"), RespError::BadScalar(_)));
        assert!(matches!(err(b"=2\r\nab\r\n"), RespError::BadScalar(_)));
        assert!(matches!(err(b",1 2\r\n"), RespError::BadNumber(_)));
        assert!(matches!(err(b"(12x\r\n"), RespError::BadNumber(_)));
    }

    #[test]
    fn oversized_announcements_are_refused_before_their_bytes_arrive() {
        let limits = Limits::default();
        // Only the header is there: the length alone is refused.
        assert_eq!(
            err(b"$33554433\r\n"),
            RespError::BulkTooLong {
                len: 33_554_433,
                max: limits.max_bulk_len
            }
        );
        assert_eq!(
            err(b"$9223372036854775807\r\n"),
            RespError::BulkTooLong {
                len: i64::MAX as u64,
                max: limits.max_bulk_len
            }
        );
        assert_eq!(
            err(b"*1048577\r\n"),
            RespError::TooManyElements {
                len: 1_048_577,
                max: limits.max_elements
            }
        );
        assert_eq!(
            err(b"%600000\r\n"),
            RespError::TooManyElements {
                len: 1_200_000,
                max: limits.max_elements
            }
        );
        let deep = b"*1\r\n".repeat(17);
        assert_eq!(err(&deep), RespError::TooDeep { max: 16 });
        let mut at_limit = b"*1\r\n".repeat(16);
        at_limit.extend_from_slice(b":1\r\n");
        assert_eq!(decode_all(&at_limit).unwrap().len(), 1);
    }

    #[test]
    fn a_line_without_its_end_is_bounded() {
        let limits = Limits {
            max_line_len: 10,
            ..Limits::default()
        };
        let mut d = Decoder::new(limits);
        d.feed(b"+0123456789").unwrap();
        assert_eq!(d.next(), Ok(None)); // 10 bytes: still allowed
        d.feed(b"\r\n").unwrap();
        assert_eq!(d.next(), Ok(Some(Value::Simple("0123456789".into()))));
        let mut d = Decoder::new(limits);
        d.feed(b"+0123456789A").unwrap();
        assert_eq!(d.next(), Err(RespError::LineTooLong { max: 10 }));
        let mut d = Decoder::new(limits);
        d.feed(b"+0123456789A\r\n").unwrap();
        assert_eq!(d.next(), Err(RespError::LineTooLong { max: 10 }));
    }

    #[test]
    fn memory_is_bounded_in_bytes_including_bookkeeping() {
        let limits = Limits {
            max_buffered: 4096,
            ..Limits::default()
        };
        // Input beyond the limit is refused at feed.
        let mut d = Decoder::new(limits);
        assert_eq!(
            d.feed(&[b'+'; 5000]),
            Err(RespError::TooLarge { max: 4096 })
        );
        // A bulk string that could never fit is refused from its header.
        let mut d = Decoder::new(limits);
        d.feed(b"$5000\r\n").unwrap();
        assert_eq!(d.next(), Err(RespError::TooLarge { max: 4096 }));
        // Many tiny elements: 4 bytes each on the wire, far more in memory.
        let mut d = Decoder::new(limits);
        d.feed(b"*1000\r\n").unwrap();
        let mut failed = None;
        for _ in 0..1000 {
            if let Err(e) = d.feed(b":1\r\n").and_then(|()| d.next().map(|_| ())) {
                failed = Some(e);
                break;
            }
        }
        assert_eq!(failed, Some(RespError::TooLarge { max: 4096 }));
    }

    #[test]
    fn a_large_bulk_string_in_small_reads_is_not_rescanned() {
        let payload = vec![7u8; 1 << 20];
        let mut bytes = format!("${}\r\n", payload.len()).into_bytes();
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(b"\r\n");
        let mut d = Decoder::default();
        let mut got = None;
        for piece in bytes.chunks(1000) {
            d.feed(piece).unwrap();
            if let Some(v) = d.next().unwrap() {
                got = Some(v);
            }
        }
        assert_eq!(got, Some(Value::Bulk(payload)));
        assert!(!d.in_value());
    }

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn random_and_mutated_input_never_panics_and_stays_bounded() {
        let limits = Limits {
            max_bulk_len: 1000,
            max_elements: 100,
            max_depth: 4,
            max_line_len: 40,
            max_buffered: 8192,
        };
        let seeds: &[&[u8]] = &[
            b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n",
            b">2\r\n%1\r\n+a\r\n:1\r\n~1\r\n_\r\n",
            b"$5\r\nhello\r\n:12\r\n-ERR x\r\n#t\r\n,1.5\r\n(12\r\n!1\r\nx\r\n=5\r\ntxt:x\r\n",
        ];
        let alphabet = b"+-:$*_#,(!=%~>|\r\n0123456789-abc";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut values = 0u64;
        for round in 0..20_000 {
            let mut input: Vec<u8> = if round % 2 == 0 {
                let seed = seeds[rng.below(seeds.len() as u64) as usize];
                let mut m = seed.repeat(1 + rng.below(3) as usize);
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(m.len() as u64) as usize;
                    match rng.below(3) {
                        0 => m[at] = alphabet[rng.below(alphabet.len() as u64) as usize],
                        1 => m.insert(at, rng.next() as u8),
                        _ => {
                            m.remove(at);
                        }
                    }
                }
                m
            } else {
                (0..rng.below(200))
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect()
            };
            if round % 7 == 0 {
                input.extend(std::iter::repeat_n(b'9', rng.below(30) as usize));
            }
            let mut d = Decoder::new(limits);
            let mut rest = &input[..];
            'feed: while !rest.is_empty() {
                let n = (1 + rng.below(16) as usize).min(rest.len());
                let (piece, after) = rest.split_at(n);
                rest = after;
                if d.feed(piece).is_err() {
                    break;
                }
                loop {
                    match d.next() {
                        Ok(Some(_)) => values += 1,
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
                assert!(d.buf.capacity() <= 2 * limits.max_buffered + 64);
                assert!(d.held <= limits.max_buffered);
                assert!(d.stack.len() <= limits.max_depth);
            }
        }
        // The mutations leave many inputs valid: the test exercised both paths.
        assert!(values > 1000, "only {values} values decoded");
    }
}
