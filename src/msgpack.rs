//! MessagePack, the binary format of Socket.IO's Redis adapter
//! (`@socket.io/redis-adapter` and `@socket.io/redis-emitter` write their
//! messages with `notepack.io`): a value type, an encoder that picks the
//! shortest form of each value, and a strict decoder with bounds, with no
//! sockets anywhere. The format is the MessagePack specification
//! (<https://github.com/msgpack/msgpack/blob/master/spec.md>, sections
//! "Type system" and "Formats").
//!
//! ```
//! use stdws::msgpack::{self, Value};
//! let value = Value::Array(vec![Value::from("emitter"), Value::from(1u64), Value::Nil]);
//! let bytes = msgpack::encode(&value);
//! assert_eq!(bytes, b"\x93\xa7emitter\x01\xc0");
//! assert_eq!(msgpack::decode(&bytes, msgpack::Limits::default()).unwrap(), value);
//! ```
//!
//! **Bounds.** The decoder never allocates more than the input's length
//! per container (a count larger than the bytes left is refused before
//! anything is reserved, since every element takes at least one byte) and
//! refuses nesting deeper than [`Limits::max_depth`]; the input itself is
//! as large as the caller let it be (a Redis payload, bounded by the RESP
//! decoder).

use std::fmt;

/// A MessagePack value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// A negative integer (the decoder gives non-negative ones as
    /// [`UInt`](Self::UInt)).
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A float (float 32 is widened when decoded).
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Bytes.
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, its pairs in their order on the wire.
    Map(Vec<(Value, Value)>),
    /// An extension: its type and data. `notepack.io` writes JavaScript's
    /// `undefined` as type 0 with one zero byte.
    Ext(i8, Vec<u8>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The value of the first pair whose key is the string `key`, if this
    /// is a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::UInt(n) => i64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// A map of string keys, in their order.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::Str(k.into()), v))
                .collect(),
        )
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::UInt(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        match u64::try_from(n) {
            Ok(n) => Value::UInt(n),
            Err(_) => Value::Int(n),
        }
    }
}

/// Encodes `value` in its shortest forms.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::UInt(n) => encode_uint(*n, out),
        Value::Int(n) => match u64::try_from(*n) {
            Ok(n) => encode_uint(n, out),
            Err(_) => encode_negative(*n, out),
        },
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(s) => {
            let n = s.len();
            match n {
                0..=31 => out.push(0xa0 | n as u8),
                _ => length(n, [0xd9, 0xda, 0xdb], out),
            }
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            length(b.len(), [0xc4, 0xc5, 0xc6], out);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            match items.len() {
                n @ 0..=15 => out.push(0x90 | n as u8),
                n => length16or32(n, [0xdc, 0xdd], out),
            }
            for item in items {
                encode_into(item, out);
            }
        }
        Value::Map(pairs) => {
            match pairs.len() {
                n @ 0..=15 => out.push(0x80 | n as u8),
                n => length16or32(n, [0xde, 0xdf], out),
            }
            for (k, v) in pairs {
                encode_into(k, out);
                encode_into(v, out);
            }
        }
        Value::Ext(kind, data) => {
            let fixed = match data.len() {
                1 => Some(0xd4),
                2 => Some(0xd5),
                4 => Some(0xd6),
                8 => Some(0xd7),
                16 => Some(0xd8),
                _ => None,
            };
            match fixed {
                Some(tag) => out.push(tag),
                None => length(data.len(), [0xc7, 0xc8, 0xc9], out),
            }
            out.push(*kind as u8);
            out.extend_from_slice(data);
        }
    }
}

fn encode_uint(n: u64, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[0xcc, n]);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xcd);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0xce);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_negative(n: i64, out: &mut Vec<u8>) {
    if n >= -32 {
        out.push(n as i8 as u8);
    } else if let Ok(n) = i8::try_from(n) {
        out.extend_from_slice(&[0xd0, n as u8]);
    } else if let Ok(n) = i16::try_from(n) {
        out.push(0xd1);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        out.push(0xd2);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A length with an 8-, 16- or 32-bit form. Lengths past 32 bits cannot be
/// written in MessagePack; nothing here holds that much.
fn length(n: usize, tags: [u8; 3], out: &mut Vec<u8>) {
    if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[tags[0], n]);
    } else {
        length16or32(n, [tags[1], tags[2]], out);
    }
}

fn length16or32(n: usize, tags: [u8; 2], out: &mut Vec<u8>) {
    if let Ok(n) = u16::try_from(n) {
        out.push(tags[0]);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(tags[1]);
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// Bounds on what [`decode`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The deepest nesting of arrays and maps (32 by default).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_depth: 32 }
    }
}

/// Why [`decode`] refused its input, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The byte offset where the problem is.
    pub at: usize,
    /// What is wrong there.
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad MessagePack at byte {}: {}", self.at, self.what)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes exactly one value that fills `bytes`.
pub fn decode(bytes: &[u8], limits: Limits) -> Result<Value, DecodeError> {
    let mut reader = Reader {
        bytes,
        at: 0,
        limits,
    };
    let value = reader.value(0)?;
    if reader.at != bytes.len() {
        return Err(reader.error("bytes after the value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    limits: Limits,
}

impl<'a> Reader<'a> {
    fn error(&self, what: &'static str) -> DecodeError {
        DecodeError { at: self.at, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error("the input ends inside a value"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn len(&mut self, bytes: usize) -> Result<usize, DecodeError> {
        let n = match bytes {
            1 => u64::from(self.u8()?),
            2 => u64::from(u16::from_be_bytes(self.array()?)),
            _ => u64::from(u32::from_be_bytes(self.array()?)),
        };
        usize::try_from(n).map_err(|_| self.error("a length too large for this machine"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let start = self.at;
        let tag = self.u8()?;
        let value = match tag {
            0x00..=0x7f => Value::UInt(u64::from(tag)),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f), depth)?,
            0x90..=0x9f => self.items(usize::from(tag & 0x0f), depth)?,
            0xa0..=0xbf => self.str(usize::from(tag & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => {
                self.at = start;
                return Err(self.error("0xc1 is never used"));
            }
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (tag - 0xc4))?;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (tag - 0xc7))?;
                self.ext(n)?
            }
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::UInt(u64::from(self.u8()?)),
            0xcd => Value::UInt(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => Value::UInt(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Value::UInt(u64::from_be_bytes(self.array()?)),
            0xd0 => int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => int(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => self.ext(1 << (tag - 0xd4))?,
            0xd9..=0xdb => {
                let n = self.len(1 << (tag - 0xd9))?;
                self.str(n)?
            }
            0xdc | 0xdd => {
                let n = self.len(if tag == 0xdc { 2 } else { 4 })?;
                self.items(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.len(if tag == 0xde { 2 } else { 4 })?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Int(i64::from(tag as i8)),
        };
        Ok(value)
    }

    fn str(&mut self, n: usize) -> Result<Value, DecodeError> {
        let at = self.at;
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(e) => Err(DecodeError {
                at: at + e.valid_up_to(),
                what: "a string that is not UTF-8",
            }),
        }
    }

    fn ext(&mut self, n: usize) -> Result<Value, DecodeError> {
        let kind = self.u8()? as i8;
        Ok(Value::Ext(kind, self.take(n)?.to_vec()))
    }

    /// Checks a container's count against the bytes left (each element
    /// takes one at least) and the depth, before reserving anything.
    fn container(&self, elements: usize, depth: usize) -> Result<(), DecodeError> {
        if depth >= self.limits.max_depth {
            return Err(self.error("nested deeper than the limit"));
        }
        if elements > self.bytes.len() - self.at {
            return Err(self.error("a count larger than the bytes left"));
        }
        Ok(())
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        self.container(n, depth)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, DecodeError> {
        self.container(n.saturating_mul(2), depth)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            pairs.push((key, value));
        }
        Ok(Value::Map(pairs))
    }
}

/// Integers read from a signed form: non-negative ones are `UInt`, so that
/// one number has one value whatever form wrote it.
fn int(n: i64) -> Value {
    Value::from(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value, bytes: &[u8]) {
        assert_eq!(encode(&value), bytes, "encoding {value:?}");
        assert_eq!(decode(bytes, Limits::default()), Ok(value));
    }

    #[test]
    fn scalars_are_written_in_their_shortest_form() {
        round_trip(Value::Nil, &[0xc0]);
        round_trip(Value::Bool(false), &[0xc2]);
        round_trip(Value::Bool(true), &[0xc3]);
        round_trip(Value::UInt(0), &[0x00]);
        round_trip(Value::UInt(127), &[0x7f]);
        round_trip(Value::UInt(128), &[0xcc, 0x80]);
        round_trip(Value::UInt(256), &[0xcd, 0x01, 0x00]);
        round_trip(Value::UInt(65_536), &[0xce, 0, 1, 0, 0]);
        round_trip(Value::UInt(1 << 32), &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
        round_trip(Value::Int(-1), &[0xff]);
        round_trip(Value::Int(-32), &[0xe0]);
        round_trip(Value::Int(-33), &[0xd0, 0xdf]);
        round_trip(Value::Int(-129), &[0xd1, 0xff, 0x7f]);
        round_trip(Value::Int(-32_769), &[0xd2, 0xff, 0xff, 0x7f, 0xff]);
        round_trip(Value::Int(i64::MIN), &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        round_trip(Value::Float(1.5), &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_and_bytes_take_the_length_form_their_size_needs() {
        round_trip(Value::from(""), &[0xa0]);
        round_trip(Value::from("é"), &[0xa2, 0xc3, 0xa9]);
        let s31 = "a".repeat(31);
        let mut bytes = vec![0xbf];
        bytes.extend_from_slice(s31.as_bytes());
        round_trip(Value::from(s31.as_str()), &bytes);
        let s32 = "a".repeat(32);
        let mut bytes = vec![0xd9, 32];
        bytes.extend_from_slice(s32.as_bytes());
        round_trip(Value::from(s32.as_str()), &bytes);
        let s256 = "a".repeat(256);
        let mut bytes = vec![0xda, 1, 0];
        bytes.extend_from_slice(s256.as_bytes());
        round_trip(Value::from(s256.as_str()), &bytes);
        round_trip(Value::Bin(vec![]), &[0xc4, 0]);
        round_trip(Value::Bin(vec![1, 2]), &[0xc4, 2, 1, 2]);
        let b = vec![7u8; 300];
        let mut bytes = vec![0xc5, 1, 44];
        bytes.extend_from_slice(&b);
        round_trip(Value::Bin(b), &bytes);
    }

    #[test]
    fn containers_and_extensions() {
        round_trip(Value::Array(vec![]), &[0x90]);
        round_trip(
            Value::Array(vec![Value::UInt(1), Value::from("a")]),
            &[0x92, 0x01, 0xa1, b'a'],
        );
        let sixteen = Value::Array(vec![Value::Nil; 16]);
        let mut bytes = vec![0xdc, 0, 16];
        bytes.extend_from_slice(&[0xc0; 16]);
        round_trip(sixteen, &bytes);
        round_trip(
            Value::map([("nsp", Value::from("/"))]),
            &[0x81, 0xa3, b'n', b's', b'p', 0xa1, b'/'],
        );
        // notepack.io's `undefined`.
        round_trip(Value::Ext(0, vec![0]), &[0xd4, 0x00, 0x00]);
        round_trip(Value::Ext(5, vec![1, 2, 3]), &[0xc7, 3, 5, 1, 2, 3]);
    }

    #[test]
    fn what_the_redis_emitter_writes_decodes() {
        // ["emitter", {type: 2, data: ["hi", 1], nsp: "/"}, {rooms: [], flags: {}, except: []}]
        let mut bytes = vec![0x93, 0xa7];
        bytes.extend_from_slice(b"emitter");
        bytes.extend_from_slice(&[0x83, 0xa4]);
        bytes.extend_from_slice(b"type");
        bytes.push(0x02);
        bytes.push(0xa4);
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&[0x92, 0xa2, b'h', b'i', 0x01, 0xa3]);
        bytes.extend_from_slice(b"nsp");
        bytes.extend_from_slice(&[0xa1, b'/', 0x83, 0xa5]);
        bytes.extend_from_slice(b"rooms");
        bytes.extend_from_slice(&[0x90, 0xa5]);
        bytes.extend_from_slice(b"flags");
        bytes.extend_from_slice(&[0x80, 0xa6]);
        bytes.extend_from_slice(b"except");
        bytes.push(0x90);
        let value = decode(&bytes, Limits::default()).unwrap();
        let items = value.as_array().unwrap();
        assert_eq!(items[0].as_str(), Some("emitter"));
        assert_eq!(items[1].get("type").and_then(Value::as_i64), Some(2));
        assert_eq!(items[2].get("rooms"), Some(&Value::Array(vec![])));
        assert_eq!(encode(&value), bytes);
    }

    #[test]
    fn signed_forms_of_non_negative_numbers_decode_as_unsigned() {
        assert_eq!(decode(&[0xd0, 0x05], Limits::default()), Ok(Value::UInt(5)));
        assert_eq!(
            decode(&[0xca, 0x3f, 0xc0, 0, 0], Limits::default()),
            Ok(Value::Float(1.5))
        );
    }

    #[test]
    fn truncated_input_is_refused_at_every_byte() {
        let value = Value::Array(vec![
            Value::from("room"),
            Value::map([("k", Value::Bin(vec![1, 2, 3]))]),
            Value::UInt(70_000),
            Value::Float(0.25),
        ]);
        let bytes = encode(&value);
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut], Limits::default()).is_err(),
                "{cut} bytes"
            );
        }
        assert_eq!(decode(&bytes, Limits::default()), Ok(value));
    }

    #[test]
    fn malformed_input_gets_a_clear_error_and_no_allocation() {
        let limits = Limits::default();
        assert_eq!(
            decode(&[0xc1], limits).unwrap_err().what,
            "0xc1 is never used"
        );
        assert_eq!(
            decode(&[0xc0, 0xc0], limits).unwrap_err(),
            DecodeError {
                at: 1,
                what: "bytes after the value"
            }
        );
        // An array of 4 billion elements in 5 bytes: refused before reserving.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], limits)
                .unwrap_err()
                .what,
            "a count larger than the bytes left"
        );
        assert_eq!(
            decode(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0], limits)
                .unwrap_err()
                .what,
            "a count larger than the bytes left"
        );
        assert_eq!(
            decode(&[0xc6, 0xff, 0xff, 0xff, 0xff], limits)
                .unwrap_err()
                .what,
            "the input ends inside a value"
        );
        assert_eq!(
            decode(&[0xa2, 0xc3, 0x28], limits).unwrap_err(),
            DecodeError {
                at: 1,
                what: "a string that is not UTF-8"
            }
        );
        let deep = vec![0x91; 100];
        assert_eq!(
            decode(&deep, limits).unwrap_err().what,
            "nested deeper than the limit"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic generator: every byte value in every position
        // of short inputs, and longer pseudo-random ones.
        for a in 0..=255u8 {
            for b in [0u8, 1, 0x7f, 0x80, 0xff] {
                let _ = decode(&[a, b, b, b], Limits::default());
            }
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                bytes.push((x >> 8) as u8);
            }
            let _ = decode(&bytes, Limits::default());
        }
    }
}
