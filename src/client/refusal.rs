//! The body of a refused handshake (a 403, a 404...), read only to explain
//! the refusal, and so within bounds of bytes and time: by its
//! `Content-Length`, its chunked framing (RFC 9112, section 7.1), or up to
//! the end of the stream (section 6.3), whichever ends first, and never
//! more than [`MAX_REFUSAL_BODY`] bytes or past the caller's deadline.

use std::io::{self, Read};

use crate::protocol::http::Response;

/// The most bytes of a refusal's body kept for
/// [`Error::HandshakeResponse`](crate::Error::HandshakeResponse): enough for
/// any explanation, too little for a server to exhaust memory.
pub(crate) const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// Reads the body of a refusal. A read error (a timeout included) ends it
/// early with what arrived: the body only explains the refusal, which is
/// the error to report.
pub(crate) fn read_body(stream: &mut impl Read, response: &Response, mut raw: Vec<u8>) -> Vec<u8> {
    let status = response.status();
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Vec::new();
    }
    let headers = response.headers();
    let chunked = headers.has_token("Transfer-Encoding", "chunked");
    let want = match headers
        .get("Content-Length")
        .map(|v| v.trim().parse::<u64>())
    {
        Some(Ok(len)) if !chunked => len.min(MAX_REFUSAL_BODY as u64) as usize,
        _ => MAX_REFUSAL_BODY,
    };
    let mut chunk = [0u8; 4096];
    while raw.len() < want && !(chunked && decode_chunked(&raw).1) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    raw.truncate(want);
    if chunked { decode_chunked(&raw).0 } else { raw }
}

/// Decodes as much of a chunked body as `raw` holds; returns the data and
/// whether the body is complete (or cannot be decoded, so that there is no
/// use reading more).
pub(crate) fn decode_chunked(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(line_end) = raw.iter().position(|&b| b == b'\n') else {
            return (data, false);
        };
        let line = String::from_utf8_lossy(&raw[..line_end]);
        let size = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return (data, true);
        };
        if size == 0 {
            return (data, true);
        }
        raw = &raw[line_end + 1..];
        if raw.len() < size {
            data.extend_from_slice(raw);
            return (data, false);
        }
        data.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        raw = raw.strip_prefix(b"\r").unwrap_or(raw);
        match raw.strip_prefix(b"\n") {
            Some(rest) => raw = rest,
            None if raw.is_empty() => return (data, false),
            None => return (data, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::HeadLimits;

    #[test]
    fn chunked_bodies_decode_whole_and_in_part() {
        assert_eq!(
            decode_chunked(b"7\r\ngo away\r\n3;x=y\r\n!!!\r\n0\r\n\r\n"),
            (b"go away!!!".to_vec(), true)
        );
        assert_eq!(decode_chunked(b"7\r\ngo a"), (b"go a".to_vec(), false));
        assert_eq!(
            decode_chunked(b"7\r\ngo away\r\n"),
            (b"go away".to_vec(), false)
        );
        assert_eq!(decode_chunked(b"zz\r\n"), (Vec::new(), true));
        assert_eq!(decode_chunked(b""), (Vec::new(), false));
    }

    #[test]
    fn bodies_stop_at_their_length_and_at_the_cap() {
        let head = |h: &[u8]| Response::parse_head(h, HeadLimits::default()).unwrap();
        let short = head(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\n");
        let mut rest: &[u8] = b"nope, and more";
        assert_eq!(read_body(&mut rest, &short, Vec::new()), b"nope");
        let huge = head(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 99999999999\r\n\r\n");
        let endless = io::repeat(b'x');
        assert_eq!(
            read_body(&mut endless.take(1 << 20), &huge, Vec::new()).len(),
            MAX_REFUSAL_BODY
        );
    }
}
