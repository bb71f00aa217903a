//! Percent-decoding of request paths and queries (RFC 3986 section 2.1),
//! and the `+` for a space of HTML form encoding (the WHATWG URL
//! standard's `application/x-www-form-urlencoded`), so that a query
//! parameter typed as "Zoë" or "Mary Ann" reads back as typed.
//!
//! Decoding never fails: a `%` not followed by two hex digits stays as it
//! is, and bytes that do not form UTF-8 become U+FFFD, as browsers decode
//! them. Callers that need the exact bytes keep the raw text.

use std::borrow::Cow;

/// Whether `+` means a space: in a query (form encoding) it does, in a
/// path it does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plus {
    Space,
    Literal,
}

/// `text` with its `%XX` escapes (and, with [`Plus::Space`], its `+`)
/// decoded; borrowed when there is nothing to decode.
pub(crate) fn decode(text: &str, plus: Plus) -> Cow<'_, str> {
    let needs = |b: &u8| *b == b'%' || (*b == b'+' && plus == Plus::Space);
    if !text.as_bytes().iter().any(needs) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => match (
                bytes.get(i + 1).and_then(|h| hex(*h)),
                bytes.get(i + 2).and_then(|l| hex(*l)),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus == Plus::Space => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_escapes_and_plus_decode_in_a_query() {
        assert_eq!(decode("Zo%C3%AB", Plus::Space), "Zoë");
        assert_eq!(decode("Mary+Ann", Plus::Space), "Mary Ann");
        assert_eq!(decode("a%2Bb", Plus::Space), "a+b");
        assert_eq!(decode("%e2%82%ac", Plus::Space), "€");
    }

    #[test]
    fn plus_is_literal_in_a_path() {
        assert_eq!(decode("/c++/Zo%C3%AB", Plus::Literal), "/c++/Zoë");
    }

    #[test]
    fn nothing_to_decode_borrows() {
        assert!(matches!(
            decode("plain", Plus::Space),
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn malformed_escapes_stay_and_bad_utf8_is_replaced() {
        assert_eq!(decode("100%", Plus::Space), "100%");
        assert_eq!(decode("%zz%4", Plus::Space), "%zz%4");
        assert_eq!(decode("%C3", Plus::Space), "\u{FFFD}");
        assert_eq!(decode("%FF%41", Plus::Space), "\u{FFFD}A");
    }
}
