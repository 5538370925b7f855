//! RFC 3986 percent-encoding helpers shared by `extend` (undoing extra URL-encoding layers)
//! and `apig` (canonical URI and query). Unlike form decoding, `+` is never a space here.

/// Whether `bytes` contains at least one well-formed `%XX` escape.
pub(crate) fn has_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Percent-decodes: `%XX` becomes the byte, everything else (including `+` and a malformed
/// `%`) is kept literally.
pub(crate) fn decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let [b'%', hi, lo, ..] = bytes[i..] {
            if let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Percent-encodes every byte except the RFC 3986 unreserved set `A-Z a-z 0-9 - _ . ~`,
/// with upper-case hex digits.
pub(crate) fn encode_rfc3986(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_keeps_plus_and_malformed_escapes() {
        assert_eq!(decode(b"a+b%2B%2f%zz%4"), b"a+b+/%zz%4");
        assert_eq!(decode(b"%E4%BD%A0%"), "你%".as_bytes());
        assert!(has_escape(b"x%2b"));
        assert!(!has_escape(b"%zz%4"));
    }

    #[test]
    fn encode_keeps_only_unreserved() {
        assert_eq!(encode_rfc3986(b"AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode_rfc3986(b" +/=&?%*"), "%20%2B%2F%3D%26%3F%25%2A");
        assert_eq!(encode_rfc3986("你".as_bytes()), "%E4%BD%A0");
        assert_eq!(
            decode(encode_rfc3986(b"\x00\xFFa b").as_bytes()),
            b"\x00\xFFa b"
        );
    }
}
