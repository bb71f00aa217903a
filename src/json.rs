//! JSON ([RFC 8259]): a value type, a strict parser with limits, and a
//! compact writer.
//!
//! Socket.IO carries its event arguments, acknowledgements and handshake
//! data as JSON, so stdws needs to read and write it without a dependency.
//! This module is that, and no more: no serialization framework, just a tree
//! of [`Value`]s.
//!
//! ```
//! use stdws::json::{self, Value};
//!
//! let value = json::parse(r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000}"#)?;
//! assert_eq!(value["sid"].as_str(), Some("lv_VI97HAXpY6yYWAAAC"));
//! assert_eq!(value["upgrades"][0], "websocket");
//! assert_eq!(value["pingInterval"].as_u64(), Some(25000));
//! assert!(value["missing"].is_null());
//!
//! let reply = Value::object([("message", "Not authorized".into())]);
//! assert_eq!(reply.to_string(), r#"{"message":"Not authorized"}"#);
//! # Ok::<(), json::Error>(())
//! ```
//!
//! # What the parser accepts (RFC 8259, sections 2-9)
//!
//! Exactly the grammar of the RFC, and one text per input:
//!
//! | rule                                          | RFC 8259 | refused with                      |
//! |-----------------------------------------------|----------|-----------------------------------|
//! | whitespace is space, tab, LF, CR only         | 2        | [`ErrorKind::Expected`]           |
//! | no trailing comma in arrays or objects        | 4, 5     | [`ErrorKind::TrailingComma`]      |
//! | object keys are double-quoted strings         | 4        | [`ErrorKind::Expected`], [`ErrorKind::SingleQuote`] |
//! | no duplicate keys (see below)                 | 4        | [`ErrorKind::DuplicateKey`]       |
//! | no leading zeros, a digit after `-`, `.`, `e` | 6        | [`ErrorKind::LeadingZero`], [`ErrorKind::InvalidNumber`] |
//! | numbers within the range of `f64`             | 6, 9     | [`ErrorKind::NumberOutOfRange`]   |
//! | no raw control characters in strings          | 7        | [`ErrorKind::ControlCharacter`]   |
//! | only the escapes of the RFC                   | 7        | [`ErrorKind::InvalidEscape`]      |
//! | `\u` escapes: four hex digits, paired surrogates | 7, 8.2 | [`ErrorKind::InvalidUnicodeEscape`], [`ErrorKind::LoneSurrogate`] |
//! | no comments, no single quotes                 | (none)   | [`ErrorKind::Comment`], [`ErrorKind::SingleQuote`] |
//! | nothing after the text but whitespace         | 2        | [`ErrorKind::TrailingCharacters`] |
//! | nesting and size within [`Limits`]            | 9        | [`ErrorKind::TooDeep`], [`ErrorKind::TooLarge`] |
//!
//! Every [`Error`] says what broke and where: the byte offset, and the line
//! and column (counted in characters, both from 1), as in
//! `expected ',' or '}' at line 1, column 17 (byte 16)`.
//!
//! **Duplicate keys are refused.** The RFC says only that names SHOULD be
//! unique and that receivers differ in what they do with repeats (section 4).
//! Two readers that disagree on which of two values counts are a known way
//! to smuggle data past a check (one validates the first, another acts on
//! the last), so a strict reader refuses the text instead of picking one.
//!
//! **Numbers.** Integers that fit are kept exactly, as `u64` or `i64`; any
//! other number is an `f64`, the way JavaScript reads all of them (an
//! integer beyond 64 bits becomes the nearest `f64`). A number whose
//! magnitude is beyond `f64` (`1e400`) is refused rather than read as
//! infinity, since infinity cannot be written back as JSON (section 6).
//! NaN and the infinities cannot be held in a [`Number`] at all:
//! [`Number::from_f64`] returns `None` for them and `Value::from(f64)` makes
//! them [`Value::Null`], as `JSON.stringify` does. `-0` is read as the float
//! `-0.0`, so that its sign survives (it is written back as `-0.0`).
//!
//! **Depth.** The parser is iterative, so nesting costs no stack while
//! parsing; the depth limit (128 by default) is there because dropping,
//! comparing and writing a [`Value`] recurse once per level.
//!
//! # What the writer produces
//!
//! Compact JSON, no whitespace, object members in insertion order. Strings
//! are escaped as `JSON.stringify` does: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
//! `\t`, other control characters as `\u00XX` (lowercase hex), everything
//! else (non-ASCII included) as UTF-8. Floats use Rust's shortest form that
//! reads back to the same `f64` (with `.0` added to integral ones, and an
//! exponent for very large or small ones), so writing and parsing again
//! gives the same value.
//!
//! [RFC 8259]: https://www.rfc-editor.org/rfc/rfc8259

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::ops::Index;

/// A JSON value (RFC 8259, section 3).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number: an exact integer or a finite float.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members in the order they were read or added. The
    /// parser never produces two members with the same key; if you build one
    /// yourself with repeated keys, it is written as it is.
    Object(Vec<(String, Value)>),
}

/// A JSON number: an integer kept exactly, or a finite `f64`.
///
/// Two numbers are equal when they are the same kind and the same value:
/// `1` and `1.0` differ, as they are written differently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(N);

#[derive(Debug, Clone, Copy, PartialEq)]
enum N {
    /// Zero and the positive integers.
    PosInt(u64),
    /// The negative integers (never zero or positive).
    NegInt(i64),
    /// Finite, never NaN.
    Float(f64),
}

impl Number {
    /// The number `value`, or `None` for NaN and the infinities, which JSON
    /// cannot represent.
    pub fn from_f64(value: f64) -> Option<Number> {
        value.is_finite().then_some(Number(N::Float(value)))
    }

    /// The value as an `i64`, if it is an integer that fits.
    pub fn as_i64(self) -> Option<i64> {
        match self.0 {
            N::PosInt(n) => i64::try_from(n).ok(),
            N::NegInt(n) => Some(n),
            N::Float(_) => None,
        }
    }

    /// The value as a `u64`, if it is a non-negative integer.
    pub fn as_u64(self) -> Option<u64> {
        match self.0 {
            N::PosInt(n) => Some(n),
            _ => None,
        }
    }

    /// The value as an `f64` (integers beyond 2^53 are rounded).
    pub fn as_f64(self) -> f64 {
        match self.0 {
            N::PosInt(n) => n as f64,
            N::NegInt(n) => n as f64,
            N::Float(f) => f,
        }
    }

    /// Whether the number was read or built as a float rather than an
    /// integer.
    pub fn is_f64(self) -> bool {
        matches!(self.0, N::Float(_))
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number(N::PosInt(n))
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        match u64::try_from(n) {
            Ok(n) => Number(N::PosInt(n)),
            Err(_) => Number(N::NegInt(n)),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            N::PosInt(n) => write!(f, "{n}"),
            N::NegInt(n) => write!(f, "{n}"),
            N::Float(x) => write_float(f, x),
        }
    }
}

/// Writes a finite float in the shortest form that parses back to it, and
/// always in a form that parses back as a float (`1.0`, not `1`).
fn write_float(f: &mut impl fmt::Write, x: f64) -> fmt::Result {
    let magnitude = x.abs();
    // Plain notation for 1e21 would print 22 digits; an exponent keeps very
    // large and very small values short (and `{:e}` is also shortest-form).
    if magnitude != 0.0 && !(1e-6..1e16).contains(&magnitude) {
        write!(f, "{x:e}")
    } else if x.fract() == 0.0 {
        write!(f, "{x}.0")
    } else {
        write!(f, "{x}")
    }
}

static NULL: Value = Value::Null;

impl Value {
    /// An object from `(key, value)` pairs, in their order. A key given
    /// twice keeps its first place and its last value, so that what is
    /// built can always be parsed back.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
        members.into_iter().map(|(k, v)| (k.into(), v)).collect()
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The integer, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    /// The number as an `f64`, if this is a number of either kind.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in order, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The value of member `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Sets member `key` of an object, returning the value it replaced. A
    /// value that is not an object becomes an empty one first.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        if !matches!(self, Value::Object(_)) {
            *self = Value::Object(Vec::new());
        }
        let Value::Object(members) = self else {
            return None;
        };
        let key = key.into();
        match members.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => Some(std::mem::replace(old, value)),
            None => {
                members.push((key, value));
                None
            }
        }
    }
}

/// `value["key"]`: the member's value, or `null` when this is not an
/// object or has no such member.
impl Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]`: the element, or `null` when this is not an array or is too
/// short.
impl Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl FromIterator<(String, Value)> for Value {
    /// An object; a key given twice keeps its first place and its last
    /// value.
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Value {
        let mut object = Value::Object(Vec::new());
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

impl FromIterator<Value> for Value {
    /// An array.
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Value {
        Value::Array(iter.into_iter().collect())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

macro_rules! from_integer {
    ($($t:ty => $via:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(Number::from(n as $via))
            }
        }
    )*};
}
// Widening casts only: each source type fits its target exactly.
from_integer!(i32 => i64, i64 => i64, u32 => u64, u64 => u64, usize => u64);

impl From<f64> for Value {
    /// A float; NaN and the infinities become `null`, as in `JSON.stringify`.
    fn from(x: f64) -> Value {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// The value, or `null` for `None`.
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl fmt::Display for Value {
    /// Compact JSON (see the [module docs](self)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_value(&mut out, self);
        f.write_str(&out)
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Appends `s` to `out` as a JSON string, quotes included, escaped as
/// `JSON.stringify` escapes it (RFC 8259, section 7).
///
/// ```
/// let mut out = String::new();
/// stdws::json::write_string(&mut out, "say \"hé\"\n\u{1}");
/// assert_eq!(out, r#""say \"hé\"\n\u0001""#);
/// ```
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    // Copy runs of characters that need no escape in one go.
    let mut run_start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0x00..=0x1f => None,
            _ => continue,
        };
        // The byte is ASCII, so `i` is a character boundary.
        out.push_str(&s[run_start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// The bounds on what [`parse_with`] accepts, so that a peer cannot make it
/// hold more than the caller planned for (RFC 8259, section 9 lets a parser
/// set them).
///
/// ```
/// use stdws::json::{self, Limits};
/// let limits = Limits::default().max_depth(2).max_size(64);
/// assert!(json::parse_with("[[1]]", limits).is_ok());
/// assert!(json::parse_with("[[[1]]]", limits).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How many arrays and objects may nest inside one another (128 by
    /// default).
    pub max_depth: usize,
    /// The longest input, in bytes (1 MiB by default).
    pub max_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 128,
            max_size: 1 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_depth`].
    pub fn max_depth(mut self, depth: usize) -> Limits {
        self.max_depth = depth;
        self
    }

    /// Sets [`Limits::max_size`].
    pub fn max_size(mut self, bytes: usize) -> Limits {
        self.max_size = bytes;
        self
    }
}

/// What broke in a JSON text. See the table in the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Something else was found where the grammar needs what is named.
    Expected(&'static str),
    /// The input ended where the grammar needs what is named.
    UnexpectedEnd(&'static str),
    /// A comma right before `]` or `}`.
    TrailingComma,
    /// A number with a leading zero, such as `01`.
    LeadingZero,
    /// A number missing the digit that must follow what is named.
    InvalidNumber(&'static str),
    /// A number beyond the range of `f64`.
    NumberOutOfRange,
    /// A raw control character (below U+0020) inside a string.
    ControlCharacter(u8),
    /// A backslash followed by a character that is not an escape.
    InvalidEscape(char),
    /// `\u` not followed by four hex digits.
    InvalidUnicodeEscape,
    /// A UTF-16 surrogate escape without its other half.
    LoneSurrogate(u16),
    /// A comment (`//` or `/*`), which JSON does not have.
    Comment,
    /// A single-quoted string, which JSON does not have.
    SingleQuote,
    /// A key that the object already has.
    DuplicateKey(String),
    /// More than whitespace after the value.
    TrailingCharacters,
    /// Arrays and objects nested deeper than the limit.
    TooDeep {
        /// [`Limits::max_depth`].
        limit: usize,
    },
    /// An input longer than the limit.
    TooLarge {
        /// [`Limits::max_size`].
        limit: usize,
        /// The input's length in bytes.
        len: usize,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Expected(what) => write!(f, "expected {what}"),
            ErrorKind::UnexpectedEnd(what) => write!(f, "unexpected end of input, expected {what}"),
            ErrorKind::TrailingComma => f.write_str("trailing comma"),
            ErrorKind::LeadingZero => f.write_str("number with a leading zero"),
            ErrorKind::InvalidNumber(after) => write!(f, "expected a digit after {after}"),
            ErrorKind::NumberOutOfRange => f.write_str("number out of the range of f64"),
            ErrorKind::ControlCharacter(b) => {
                write!(f, "raw control character 0x{b:02x} in a string (escape it)")
            }
            ErrorKind::InvalidEscape(c) => write!(f, "invalid escape '\\{}'", c.escape_debug()),
            ErrorKind::InvalidUnicodeEscape => f.write_str("expected four hex digits after '\\u'"),
            ErrorKind::LoneSurrogate(u) => write!(f, "unpaired UTF-16 surrogate \\u{u:04x}"),
            ErrorKind::Comment => f.write_str("comments are not allowed in JSON"),
            ErrorKind::SingleQuote => f.write_str("strings must be in double quotes"),
            ErrorKind::DuplicateKey(key) => write!(f, "duplicate key {key:?}"),
            ErrorKind::TrailingCharacters => f.write_str("unexpected characters after the value"),
            ErrorKind::TooDeep { limit } => write!(f, "nested deeper than {limit} levels"),
            ErrorKind::TooLarge { limit, len } => {
                write!(f, "input of {len} bytes is over the limit of {limit}")
            }
        }
    }
}

/// A JSON text that could not be parsed: what broke, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    offset: usize,
    line: usize,
    column: usize,
}

impl Error {
    fn at(kind: ErrorKind, input: &str, offset: usize) -> Error {
        let offset = offset.min(input.len());
        let before = input.get(..offset).unwrap_or(input);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Error {
            kind,
            offset,
            line: before.matches('\n').count() + 1,
            column: before.get(line_start..).map_or(0, |l| l.chars().count()) + 1,
        }
    }

    /// What broke.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Where, as a byte offset into the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Where: the line, from 1.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Where: the column in characters, from 1.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {} (byte {})",
            self.kind, self.line, self.column, self.offset
        )
    }
}

impl std::error::Error for Error {}

/// Parses one JSON text with the default [`Limits`].
pub fn parse(input: &str) -> Result<Value, Error> {
    parse_with(input, Limits::default())
}

/// Parses one JSON text within `limits`.
pub fn parse_with(input: &str, limits: Limits) -> Result<Value, Error> {
    if input.len() > limits.max_size {
        return Err(Error::at(
            ErrorKind::TooLarge {
                limit: limits.max_size,
                len: input.len(),
            },
            input,
            0,
        ));
    }
    let mut parser = Parser {
        input,
        bytes: input.as_bytes(),
        pos: 0,
    };
    parser
        .parse_document(limits.max_depth)
        .map_err(|(kind, offset)| Error::at(kind, input, offset))
}

type Fail = (ErrorKind, usize);

/// An array or object whose members are still being read.
enum Open {
    Array(Vec<Value>),
    Object {
        members: Vec<(String, Value)>,
        /// The key whose value is being read.
        key: String,
        /// Keys seen, once the object is large enough that a linear search
        /// for repeats would make parsing quadratic.
        seen: Option<HashSet<String>>,
    },
}

/// Objects with fewer members than this are checked for repeated keys by a
/// linear search; larger ones keep a hash set.
const LINEAR_KEY_CHECK: usize = 16;

struct Parser<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The error for finding something other than `what` at the cursor.
    fn unexpected(&self, what: &'static str) -> Fail {
        let kind = match self.peek() {
            None => ErrorKind::UnexpectedEnd(what),
            Some(b'/') => ErrorKind::Comment,
            Some(b'\'') => ErrorKind::SingleQuote,
            Some(_) => ErrorKind::Expected(what),
        };
        (kind, self.pos)
    }

    /// The whole text: one value, then only whitespace. Iterative: a stack
    /// of open containers instead of recursion, so depth costs heap, and
    /// only up to `max_depth`.
    fn parse_document(&mut self, max_depth: usize) -> Result<Value, Fail> {
        let mut stack: Vec<Open> = Vec::new();
        'value: loop {
            // A value starts here.
            self.skip_whitespace();
            let mut value = match self.peek() {
                Some(open @ (b'[' | b'{')) => {
                    if stack.len() >= max_depth {
                        return Err((ErrorKind::TooDeep { limit: max_depth }, self.pos));
                    }
                    self.pos += 1;
                    self.skip_whitespace();
                    if open == b'[' {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            Value::Array(Vec::new())
                        } else {
                            stack.push(Open::Array(Vec::new()));
                            continue 'value;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Vec::new())
                    } else {
                        let key = self.parse_key(&[], None)?;
                        stack.push(Open::Object {
                            members: Vec::new(),
                            key,
                            seen: None,
                        });
                        continue 'value;
                    }
                }
                Some(b'"') => Value::String(self.parse_string()?),
                Some(b'-' | b'0'..=b'9') => Value::Number(self.parse_number()?),
                Some(b't') => self.parse_literal("true", Value::Bool(true))?,
                Some(b'f') => self.parse_literal("false", Value::Bool(false))?,
                Some(b'n') => self.parse_literal("null", Value::Null)?,
                _ => return Err(self.unexpected("a value")),
            };
            // A value ended: it belongs to the innermost open container, or
            // it is the document. Closing a container ends another value.
            loop {
                let Some(open) = stack.last_mut() else {
                    self.skip_whitespace();
                    if self.pos < self.bytes.len() {
                        return Err((ErrorKind::TrailingCharacters, self.pos));
                    }
                    return Ok(value);
                };
                self.skip_whitespace();
                match open {
                    Open::Array(items) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.refuse_trailing_comma(b']')?;
                                continue 'value;
                            }
                            Some(b']') => self.pos += 1,
                            _ => return Err(self.unexpected("',' or ']'")),
                        }
                    }
                    Open::Object { members, key, seen } => {
                        members.push((std::mem::take(key), value));
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.refuse_trailing_comma(b'}')?;
                                if seen.is_none() && members.len() >= LINEAR_KEY_CHECK {
                                    *seen = Some(members.iter().map(|(k, _)| k.clone()).collect());
                                }
                                *key = self.parse_key(members, seen.as_mut())?;
                                continue 'value;
                            }
                            Some(b'}') => self.pos += 1,
                            _ => return Err(self.unexpected("',' or '}'")),
                        }
                    }
                }
                value = match stack.pop() {
                    Some(Open::Array(items)) => Value::Array(items),
                    Some(Open::Object { members, .. }) => Value::Object(members),
                    None => Value::Null, // unreachable: `stack.last_mut()` was `Some`
                };
            }
        }
    }

    fn refuse_trailing_comma(&mut self, close: u8) -> Result<(), Fail> {
        self.skip_whitespace();
        if self.peek() == Some(close) {
            return Err((ErrorKind::TrailingComma, self.pos));
        }
        Ok(())
    }

    /// A member's key and its `:`, refusing a key the object already has.
    fn parse_key(
        &mut self,
        members: &[(String, Value)],
        seen: Option<&mut HashSet<String>>,
    ) -> Result<String, Fail> {
        self.skip_whitespace();
        let start = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string key"));
        }
        let key = self.parse_string()?;
        let repeated = match seen {
            Some(seen) => !seen.insert(key.clone()),
            None => members.iter().any(|(k, _)| *k == key),
        };
        if repeated {
            return Err((ErrorKind::DuplicateKey(key), start));
        }
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.unexpected("':'"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn parse_literal(&mut self, word: &'static str, value: Value) -> Result<Value, Fail> {
        let expected = match word {
            "true" => "'true'",
            "false" => "'false'",
            _ => "'null'",
        };
        for &b in word.as_bytes() {
            match self.peek() {
                Some(c) if c == b => self.pos += 1,
                None => return Err((ErrorKind::UnexpectedEnd(expected), self.pos)),
                Some(_) => return Err((ErrorKind::Expected(expected), self.pos)),
            }
        }
        Ok(value)
    }

    /// A number (section 6): `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn parse_number(&mut self) -> Result<Number, Fail> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err((ErrorKind::LeadingZero, start));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err((ErrorKind::InvalidNumber("'-'"), self.pos)),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.require_digits("'.'")?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digits("the exponent's 'e'")?;
        }
        // The grammar above admits only ASCII, so this slice is on boundaries.
        let text = self.input.get(start..self.pos).unwrap_or("");
        if integer {
            if negative {
                if let Ok(n) = text.parse::<i64>() {
                    // `-0` is the float -0.0: as an integer it would lose its sign.
                    return Ok(if n == 0 {
                        Number(N::Float(-0.0))
                    } else {
                        Number(N::NegInt(n))
                    });
                }
            } else if let Ok(n) = text.parse::<u64>() {
                return Ok(Number(N::PosInt(n)));
            }
        }
        // Rust's float parsing accepts every JSON number and rounds correctly.
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Number(N::Float(x))),
            _ => Err((ErrorKind::NumberOutOfRange, start)),
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn require_digits(&mut self, after: &'static str) -> Result<(), Fail> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.skip_digits();
                Ok(())
            }
            _ => Err((ErrorKind::InvalidNumber(after), self.pos)),
        }
    }

    /// A string (section 7), the cursor on its opening quote.
    fn parse_string(&mut self) -> Result<String, Fail> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control
            // character in one go; those are ASCII, so the run ends on a
            // character boundary.
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.input.get(run_start..self.pos).unwrap_or(""));
            match self.peek() {
                None => {
                    return Err((
                        ErrorKind::UnexpectedEnd("'\"' closing the string"),
                        self.pos,
                    ));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.parse_escape(&mut out)?,
                Some(b) => return Err((ErrorKind::ControlCharacter(b), self.pos)),
            }
        }
    }

    /// One escape, the cursor on its backslash.
    fn parse_escape(&mut self, out: &mut String) -> Result<(), Fail> {
        let start = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            None => return Err((ErrorKind::UnexpectedEnd("an escape"), self.pos)),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.parse_hex4()?;
                let c = match unit {
                    0xd800..=0xdbff => {
                        // A high surrogate must be followed by a low one
                        // (section 8.2); together they make one character.
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err((ErrorKind::LoneSurrogate(unit), start));
                        }
                        self.pos += 2;
                        let low = self.parse_hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err((ErrorKind::LoneSurrogate(unit), start));
                        }
                        let code = 0x10000
                            + ((u32::from(unit) - 0xd800) << 10)
                            + (u32::from(low) - 0xdc00);
                        char::from_u32(code)
                    }
                    0xdc00..=0xdfff => return Err((ErrorKind::LoneSurrogate(unit), start)),
                    _ => char::from_u32(u32::from(unit)),
                };
                // Every non-surrogate unit and every surrogate pair is a char.
                out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                return Ok(());
            }
            Some(_) => {
                let c = self.input.get(self.pos..).and_then(|s| s.chars().next());
                return Err((ErrorKind::InvalidEscape(c.unwrap_or('?')), start));
            }
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn parse_hex4(&mut self) -> Result<u16, Fail> {
        let mut unit: u16 = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err((ErrorKind::InvalidUnicodeEscape, self.pos)),
            };
            unit = (unit << 4) | u16::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(input: &str) -> ErrorKind {
        parse(input).unwrap_err().kind
    }

    // ---- The grammar, one rule per test ----

    #[test]
    fn trailing_comma_in_array_is_refused() {
        assert_eq!(kind("[1,2,]"), ErrorKind::TrailingComma);
        assert_eq!(kind("[1, ]"), ErrorKind::TrailingComma);
    }

    #[test]
    fn trailing_comma_in_object_is_refused() {
        assert_eq!(kind(r#"{"a":1,}"#), ErrorKind::TrailingComma);
    }

    #[test]
    fn leading_zero_is_refused() {
        assert_eq!(kind("01"), ErrorKind::LeadingZero);
        assert_eq!(kind("-01"), ErrorKind::LeadingZero);
        assert_eq!(kind("[00]"), ErrorKind::LeadingZero);
        assert_eq!(parse("0").unwrap(), Value::from(0));
        assert_eq!(parse("0.5").unwrap(), Value::from(0.5));
    }

    #[test]
    fn number_needs_digits_after_minus_point_and_exponent() {
        assert_eq!(kind("-"), ErrorKind::InvalidNumber("'-'"));
        assert_eq!(kind("-a"), ErrorKind::InvalidNumber("'-'"));
        assert_eq!(kind("1."), ErrorKind::InvalidNumber("'.'"));
        assert_eq!(kind("1.e5"), ErrorKind::InvalidNumber("'.'"));
        assert_eq!(kind("1e"), ErrorKind::InvalidNumber("the exponent's 'e'"));
        assert_eq!(kind("1e+"), ErrorKind::InvalidNumber("the exponent's 'e'"));
        // Forms other languages accept, JSON does not.
        assert!(parse(".5").is_err());
        assert!(parse("+1").is_err());
        assert!(parse("0x10").is_err());
        assert!(parse("Infinity").is_err());
        assert!(parse("NaN").is_err());
    }

    #[test]
    fn comments_are_refused() {
        assert_eq!(kind("// hi\n1"), ErrorKind::Comment);
        assert_eq!(kind("[1 /* two */]"), ErrorKind::Comment);
    }

    #[test]
    fn single_quotes_are_refused() {
        assert_eq!(kind("'a'"), ErrorKind::SingleQuote);
        assert_eq!(kind("{'a':1}"), ErrorKind::SingleQuote);
    }

    #[test]
    fn unquoted_keys_are_refused() {
        assert_eq!(kind("{a:1}"), ErrorKind::Expected("a string key"));
        assert_eq!(kind("{1:1}"), ErrorKind::Expected("a string key"));
    }

    #[test]
    fn raw_control_characters_in_strings_are_refused() {
        for b in 0u8..0x20 {
            let input = format!("\"a{}b\"", b as char);
            assert_eq!(kind(&input), ErrorKind::ControlCharacter(b), "{b:#x}");
        }
        // DEL is not a control character for JSON.
        assert_eq!(parse("\"\u{7f}\"").unwrap(), "\u{7f}");
    }

    #[test]
    fn only_the_rfc_escapes_are_accepted() {
        let value = parse(r#""\"\\\/\b\f\n\r\t""#).unwrap();
        assert_eq!(value, "\"\\/\u{8}\u{c}\n\r\t");
        assert_eq!(kind(r#""\a""#), ErrorKind::InvalidEscape('a'));
        assert_eq!(kind(r#""\'""#), ErrorKind::InvalidEscape('\''));
        assert_eq!(kind(r#""\x41""#), ErrorKind::InvalidEscape('x'));
        assert_eq!(kind(r#""\é""#), ErrorKind::InvalidEscape('é'));
    }

    #[test]
    fn unicode_escape_needs_four_hex_digits() {
        assert_eq!(parse(r#""\u00e9\u00E9""#).unwrap(), "éé");
        assert_eq!(kind(r#""\u00g9""#), ErrorKind::InvalidUnicodeEscape);
        assert_eq!(kind(r#""\u12""#), ErrorKind::InvalidUnicodeEscape);
        assert_eq!(kind(r#""\u"#), ErrorKind::InvalidUnicodeEscape);
    }

    #[test]
    fn surrogate_pair_escapes_make_one_character() {
        // U+1D11E MUSICAL SYMBOL G CLEF, the RFC's example (section 7).
        assert_eq!(parse(r#""\uD834\uDD1E""#).unwrap(), "\u{1d11e}");
        assert_eq!(parse(r#""\ud83d\ude00""#).unwrap(), "😀");
    }

    #[test]
    fn lone_surrogates_are_refused() {
        assert_eq!(kind(r#""\uD834""#), ErrorKind::LoneSurrogate(0xd834));
        assert_eq!(kind(r#""\uD834x""#), ErrorKind::LoneSurrogate(0xd834));
        assert_eq!(kind(r#""\uD834\u0041""#), ErrorKind::LoneSurrogate(0xd834));
        assert_eq!(kind(r#""\uD834\uD834""#), ErrorKind::LoneSurrogate(0xd834));
        assert_eq!(kind(r#""\uDD1E""#), ErrorKind::LoneSurrogate(0xdd1e));
        assert_eq!(kind(r#""\uDD1E\uD834""#), ErrorKind::LoneSurrogate(0xdd1e));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse(r#"{"a":1,"b":2,"a":3}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::DuplicateKey("a".into()));
        assert_eq!(err.offset(), 13);
        // Equal after unescaping is still a duplicate.
        assert_eq!(
            kind(r#"{"a":1,"\u0061":2}"#),
            ErrorKind::DuplicateKey("a".into())
        );
        // The same key in different objects is fine.
        assert!(parse(r#"{"a":{"a":1},"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn duplicate_keys_in_large_objects_are_refused() {
        let mut text = String::from("{");
        for i in 0..100 {
            let _ = write!(text, "\"k{i}\":{i},");
        }
        text.push_str("\"k57\":0}");
        assert_eq!(kind(&text), ErrorKind::DuplicateKey("k57".into()));
        text.truncate(text.len() - "\"k57\":0}".len() - 1);
        text.push('}');
        assert_eq!(parse(&text).unwrap().as_object().unwrap().len(), 100);
    }

    #[test]
    fn trailing_characters_are_refused() {
        assert_eq!(kind("1 2"), ErrorKind::TrailingCharacters);
        assert_eq!(kind("{} x"), ErrorKind::TrailingCharacters);
        assert_eq!(kind("nulll"), ErrorKind::TrailingCharacters);
        assert_eq!(parse(" \t\r\n[] \n").unwrap(), Value::Array(vec![]));
    }

    #[test]
    fn whitespace_is_only_the_four_rfc_characters() {
        assert!(parse("\u{a0}1").is_err());
        assert!(parse("\u{c}1").is_err());
        assert!(parse("1\u{b}").is_err());
        assert!(parse("\u{feff}1").is_err()); // no byte order mark (section 8.1)
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(kind(""), ErrorKind::UnexpectedEnd("a value"));
        assert_eq!(kind("  "), ErrorKind::UnexpectedEnd("a value"));
    }

    #[test]
    fn truncated_input_is_refused_with_what_was_expected() {
        assert_eq!(kind("["), ErrorKind::UnexpectedEnd("a value"));
        assert_eq!(kind("[1"), ErrorKind::UnexpectedEnd("',' or ']'"));
        assert_eq!(kind("{\"a\""), ErrorKind::UnexpectedEnd("':'"));
        assert_eq!(kind("{\"a\":1"), ErrorKind::UnexpectedEnd("',' or '}'"));
        assert_eq!(
            kind("\"abc"),
            ErrorKind::UnexpectedEnd("'\"' closing the string")
        );
        assert_eq!(kind("tru"), ErrorKind::UnexpectedEnd("'true'"));
        assert_eq!(kind("nul"), ErrorKind::UnexpectedEnd("'null'"));
        assert_eq!(kind("\"\\"), ErrorKind::UnexpectedEnd("an escape"));
    }

    #[test]
    fn misspelled_literals_are_refused() {
        assert_eq!(kind("trUe"), ErrorKind::Expected("'true'"));
        assert_eq!(kind("fals"), ErrorKind::UnexpectedEnd("'false'"));
        assert_eq!(kind("None"), ErrorKind::Expected("a value"));
    }

    #[test]
    fn errors_say_where_by_byte_line_and_column() {
        let err = parse(r#"{"sid":"abc" "x":1}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected ',' or '}' at line 1, column 14 (byte 13)"
        );
        let err = parse("{\n  \"a\": [1, 2,\n  ]\n}").unwrap_err();
        assert_eq!((err.line(), err.column(), err.offset()), (3, 3, 18));
        assert_eq!(
            err.to_string(),
            "trailing comma at line 3, column 3 (byte 18)"
        );
        // Columns count characters, not bytes.
        let err = parse("[\"é\" 1]").unwrap_err();
        assert_eq!((err.column(), err.offset()), (6, 6));
    }

    // ---- Numbers ----

    #[test]
    fn integers_are_kept_exactly() {
        assert_eq!(
            parse("18446744073709551615").unwrap().as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(
            parse("-9223372036854775808").unwrap().as_i64(),
            Some(i64::MIN)
        );
        assert_eq!(
            parse("9007199254740993").unwrap().as_u64(),
            Some(9_007_199_254_740_993)
        );
        assert_eq!(parse("-1").unwrap().as_u64(), None);
        assert_eq!(parse("18446744073709551615").unwrap().as_i64(), None);
    }

    #[test]
    fn integers_beyond_64_bits_become_floats() {
        let value = parse("18446744073709551616").unwrap();
        assert_eq!(value.as_u64(), None);
        assert_eq!(value.as_f64(), Some(18446744073709551616.0));
        let value = parse("-9223372036854775809").unwrap();
        assert_eq!(value.as_f64(), Some(-9223372036854775809.0));
    }

    #[test]
    fn numbers_beyond_f64_range_are_refused() {
        assert_eq!(kind("1e400"), ErrorKind::NumberOutOfRange);
        assert_eq!(kind("-1e400"), ErrorKind::NumberOutOfRange);
        assert_eq!(kind(&"9".repeat(400)), ErrorKind::NumberOutOfRange);
        // Underflow is not out of range: it rounds to zero, as in JavaScript.
        assert_eq!(parse("1e-400").unwrap().as_f64(), Some(0.0));
        assert_eq!(
            parse("1.7976931348623157e308").unwrap().as_f64(),
            Some(f64::MAX)
        );
    }

    #[test]
    fn negative_zero_is_the_float_minus_zero() {
        let value = parse("-0").unwrap();
        let x = value.as_f64().unwrap();
        assert!(x == 0.0 && x.is_sign_negative());
        assert_eq!(value.to_string(), "-0.0");
        assert_eq!(parse("-0.0").unwrap(), value);
        assert_eq!(parse("0").unwrap().as_u64(), Some(0));
    }

    #[test]
    fn nan_and_infinity_cannot_be_held() {
        assert_eq!(Number::from_f64(f64::NAN), None);
        assert_eq!(Number::from_f64(f64::INFINITY), None);
        assert_eq!(Number::from_f64(f64::NEG_INFINITY), None);
        assert_eq!(Value::from(f64::NAN), Value::Null);
        assert_eq!(Value::from(vec![f64::INFINITY]).to_string(), "[null]");
    }

    #[test]
    fn floats_round_trip_through_the_writer() {
        let samples = [
            0.1,
            -0.5,
            1.0,
            -3.0,
            1.5e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e16,
            1e-7,
            123456.789,
            2.0f64.powi(60),
            std::f64::consts::PI,
        ];
        for x in samples {
            let text = Value::from(x).to_string();
            let back = parse(&text).unwrap();
            assert_eq!(back, Value::from(x), "{x} written as {text}");
            assert!(
                back.as_number().unwrap().is_f64(),
                "{text} read back as an integer"
            );
        }
        assert_eq!(Value::from(1.0).to_string(), "1.0");
        assert_eq!(Value::from(0.1).to_string(), "0.1");
        assert_eq!(Value::from(1e300).to_string(), "1e300");
        assert_eq!(Value::from(1e-7).to_string(), "1e-7");
    }

    // ---- Limits ----

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_without_recursion() {
        let deep = "[".repeat(1_000_000);
        let err = parse_with(&deep, Limits::default().max_size(usize::MAX)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooDeep { limit: 128 });
        assert_eq!(err.offset(), 128);
        let deep = "{\"a\":".repeat(1_000_000);
        let err = parse_with(&deep, Limits::default().max_size(usize::MAX)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooDeep { limit: 128 });
    }

    #[test]
    fn nesting_at_the_limit_is_accepted() {
        let at_limit = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(parse(&at_limit).is_ok());
        let over = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert_eq!(kind(&over), ErrorKind::TooDeep { limit: 128 });
        // With the parser iterative, a large limit is safe to parse with.
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse_with(&deep, Limits::default().max_depth(5000)).is_ok());
    }

    #[test]
    fn input_over_the_size_limit_is_refused() {
        let err = parse_with("[1, 2, 3]", Limits::default().max_size(8)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooLarge { limit: 8, len: 9 });
        assert!(parse_with("[1, 2, 3]", Limits::default().max_size(9)).is_ok());
    }

    // ---- The writer ----

    #[test]
    fn writer_escapes_quotes_backslashes_and_control_characters() {
        let mut out = String::new();
        write_string(&mut out, "\"\\\u{0}\u{1f}\u{8}\u{c}\n\r\t/\u{7f}");
        // `/` and DEL need no escape.
        assert_eq!(out, "\"\\\"\\\\\\u0000\\u001f\\b\\f\\n\\r\\t/\u{7f}\"");
    }

    #[test]
    fn writer_keeps_non_ascii_as_utf8() {
        let mut out = String::new();
        write_string(&mut out, "é€😀\u{2028}");
        assert_eq!(out, "\"é€😀\u{2028}\"");
    }

    #[test]
    fn writer_is_compact_and_keeps_member_order() {
        let value = Value::object([
            ("z", Value::from(1)),
            ("a", Value::from(vec![Value::Null, true.into(), "x".into()])),
            ("m", Value::object::<&str>([])),
        ]);
        assert_eq!(value.to_string(), r#"{"z":1,"a":[null,true,"x"],"m":{}}"#);
    }

    #[test]
    fn built_objects_keep_the_first_place_and_last_value_of_a_key() {
        let value = Value::object([("a", 1.into()), ("b", 2.into()), ("a", 3.into())]);
        assert_eq!(value.to_string(), r#"{"a":3,"b":2}"#);
        assert!(parse(&value.to_string()).is_ok());
    }

    // ---- Round trips and the RFC's examples ----

    #[test]
    fn rfc_8259_section_13_examples_parse_and_round_trip() {
        let image = r#"{
          "Image": {
              "Width":  800,
              "Height": 600,
              "Title":  "View from 15th Floor",
              "Thumbnail": {
                  "Url":    "http://www.example.com/image/481989943",
                  "Height": 125,
                  "Width":  100
              },
              "Animated" : false,
              "IDs": [116, 943, 234, 38793]
            }
        }"#;
        let value = parse(image).unwrap();
        assert_eq!(value["Image"]["Thumbnail"]["Width"].as_u64(), Some(100));
        assert_eq!(value["Image"]["IDs"][3].as_i64(), Some(38793));
        assert_eq!(value["Image"]["Animated"].as_bool(), Some(false));
        assert_eq!(
            value.to_string(),
            r#"{"Image":{"Width":800,"Height":600,"Title":"View from 15th Floor","Thumbnail":{"Url":"http://www.example.com/image/481989943","Height":125,"Width":100},"Animated":false,"IDs":[116,943,234,38793]}}"#
        );
        let places = r#"[
          {
             "precision": "zip",
             "Latitude":  37.7668,
             "Longitude": -122.3959,
             "Address":   "",
             "City":      "SAN FRANCISCO",
             "State":     "CA",
             "Zip":       "94107",
             "Country":   "US"
          },
          {
             "precision": "zip",
             "Latitude":  37.371991,
             "Longitude": -122.026020,
             "Address":   "",
             "City":      "SUNNYVALE",
             "State":     "CA",
             "Zip":       "94085",
             "Country":   "US"
          }
        ]"#;
        let value = parse(places).unwrap();
        assert_eq!(value[1]["Longitude"].as_f64(), Some(-122.02602));
        assert_eq!(parse(&value.to_string()).unwrap(), value);
        // Section 13's last examples: texts that are only a scalar.
        assert_eq!(parse("\"Hello world!\"").unwrap(), "Hello world!");
        assert_eq!(parse("42").unwrap().as_u64(), Some(42));
        assert_eq!(parse("true").unwrap().as_bool(), Some(true));
    }

    #[test]
    fn written_values_parse_back_equal() {
        let value = Value::object([
            ("s", "a\"b\\c\u{1}\u{1f}é😀".into()),
            (
                "n",
                Value::from(vec![
                    Value::from(0),
                    (-1).into(),
                    u64::MAX.into(),
                    i64::MIN.into(),
                    2.5.into(),
                ]),
            ),
            (
                "nested",
                Value::object([("x", Value::from(vec![Value::Array(vec![])]))]),
            ),
            ("b", false.into()),
            ("z", Value::Null),
        ]);
        let text = value.to_string();
        assert_eq!(parse(&text).unwrap(), value);
    }

    // ---- Accessors and conversions ----

    #[test]
    fn indexing_a_missing_key_or_element_gives_null() {
        let value = parse(r#"{"a":[1,{"b":"c"}]}"#).unwrap();
        assert_eq!(value["a"][1]["b"], "c");
        assert!(value["nope"].is_null());
        assert!(value["a"][9].is_null());
        assert!(value["a"]["b"].is_null());
        assert!(value[0].is_null());
        assert_eq!(
            value
                .get("a")
                .and_then(|a| a.as_array())
                .map(<[Value]>::len),
            Some(2)
        );
        assert_eq!(value.get("nope"), None);
    }

    #[test]
    fn accessors_return_none_for_the_wrong_kind() {
        let value = Value::from("1");
        assert_eq!(value.as_i64(), None);
        assert_eq!(value.as_bool(), None);
        assert_eq!(value.as_array(), None);
        assert_eq!(value.as_object(), None);
        assert_eq!(Value::from(1.5).as_i64(), None);
        assert_eq!(Value::from(7u32).as_f64(), Some(7.0));
        assert_eq!(Value::from(-7i32).as_i64(), Some(-7));
        assert_eq!(Value::from(usize::MAX).as_u64(), Some(usize::MAX as u64));
    }

    #[test]
    fn conversions_build_the_expected_values() {
        assert_eq!(Value::from(Some("x")), Value::String("x".into()));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(vec![1, 2]).to_string(), "[1,2]");
        assert_eq!(Value::from(String::from("s")).to_string(), "\"s\"");
        let object: Value = vec![("k".to_string(), Value::from(true))]
            .into_iter()
            .collect();
        assert_eq!(object.to_string(), r#"{"k":true}"#);
        let array: Value = (1..=3).map(Value::from).collect();
        assert_eq!(array.to_string(), "[1,2,3]");
        let mut v = Value::Null;
        assert_eq!(v.insert("a", 1.into()), None);
        assert_eq!(v.insert("a", 2.into()), Some(1.into()));
        assert_eq!(v.to_string(), r#"{"a":2}"#);
    }

    // ---- Robustness ----

    /// A xorshift64 generator: deterministic, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn mutated_json_never_panics_and_what_parses_round_trips() {
        let seeds = [
            r#"{"a":[1,2.5,-3e7,true,false,null],"b":{"c":"d\u00e9\n\ud83d\ude00"}}"#,
            r#"[[[[]]],{},"",0,-0,1e-5,{"x":{"y":{"z":[]}}}]"#,
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000}"#,
        ];
        let alphabet = b"[]{}\",:\\/u0123456789abcdefeE+-.tnrl \t\n\x01\x1f'";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let limits = Limits::default().max_depth(16).max_size(512);
        let mut parsed = 0;
        for i in 0..20_000 {
            let mut bytes = seeds[i % seeds.len()].as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(4) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                    2 => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                    _ => bytes.truncate(at),
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            match parse_with(text, limits) {
                Ok(value) => {
                    parsed += 1;
                    let written = value.to_string();
                    assert_eq!(
                        parse(&written).as_ref(),
                        Ok(&value),
                        "{text:?} -> {written:?}"
                    );
                }
                Err(err) => {
                    assert!(err.offset() <= text.len());
                    assert!(!err.to_string().is_empty());
                }
            }
        }
        // The test would prove little if every mutant were refused.
        assert!(parsed > 100, "only {parsed} mutants parsed");
    }
}
