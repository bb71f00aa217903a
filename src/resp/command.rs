//! Commands as a client sends them: an array of bulk strings (RESP2 and
//! RESP3 alike, "Sending commands to a Redis server" in the specification).
//!
//! ```text
//! PUBLISH news hi  ->  *3\r\n $7\r\nPUBLISH\r\n $4\r\nnews\r\n $2\r\nhi\r\n
//! ```
//!
//! Bulk strings carry their length, so arguments are binary-safe: a payload
//! with CR, LF or NUL bytes in it needs no escaping.

/// Appends the command made of `args` (its name first) to `out`.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_decimal(out, args.len());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        push_decimal(out, arg.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The bytes [`encode`] would append for `args`, to size a buffer.
pub fn encoded_len(args: &[&[u8]]) -> usize {
    let header = |n: usize| 1 + decimal_len(n) + 2;
    header(args.len())
        + args
            .iter()
            .map(|a| header(a.len()) + a.len() + 2)
            .sum::<usize>()
}

fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_an_array_of_bulk_strings() {
        let mut out = Vec::new();
        encode(&mut out, &[b"SUBSCRIBE", b"stdws:broadcast"]);
        assert_eq!(out, b"*2\r\n$9\r\nSUBSCRIBE\r\n$15\r\nstdws:broadcast\r\n");
    }

    #[test]
    fn arguments_are_binary_safe_and_may_be_empty() {
        let mut out = Vec::new();
        encode(&mut out, &[b"PUBLISH", b"c", b"\r\n\0", b""]);
        assert_eq!(
            out,
            b"*4\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$3\r\n\r\n\0\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn commands_append_to_what_is_there() {
        let mut out = b"*1\r\n$4\r\nPING\r\n".to_vec();
        encode(&mut out, &[b"PING"]);
        assert_eq!(out, b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn encoded_len_is_exact() {
        let long = vec![b'x'; 12_345];
        for args in [
            vec![&b"PING"[..]],
            vec![&b"AUTH"[..], b"user", b"secret"],
            vec![&b"PUBLISH"[..], b"c", &long],
            vec![&b""[..]; 11],
        ] {
            let mut out = Vec::new();
            encode(&mut out, &args);
            assert_eq!(encoded_len(&args), out.len());
        }
    }
}
