//! The two text encodings the simulator writes: unpadded base64 (Webex ids, opaque cursors)
//! and percent-encoding (query strings in `Link` and redirect URLs).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding. For the ASCII ids Webex encodes (`ciscospark://us/...`,
/// hex and dashes) this is byte-for-byte the standard alphabet Webex uses.
pub(crate) fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for sextet in &sextets[..chunk.len() + 1] {
            out.push(char::from(ALPHABET[*sextet as usize]));
        }
    }
    out
}

/// Inverse of [`base64`]; `None` for anything it could not have produced.
pub(crate) fn unbase64(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0_u32, 0_u32);
    for byte in text.bytes() {
        let value = ALPHABET.iter().position(|a| *a == byte)?;
        acc = (acc << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero, or the text was not produced by `base64`.
    (acc == 0).then_some(out)
}

/// Standard base64 with or without padding (HTTP Basic credentials); `None` for anything else.
pub(crate) fn unbase64_standard(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    if text.len() - unpadded.len() > 2 || unpadded.contains(['-', '_']) {
        return None;
    }
    unbase64(&unpadded.replace('+', "-").replace('/', "_"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_webex_ids() {
        // Ids from the OpenAPI examples.
        assert_eq!(
            base64(b"ciscospark://us/ORGANIZATION/96abc2aa-3dcc-11e5-a152-fe34819cdc9a"),
            "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE"
        );
        assert_eq!(
            base64(b"24488be6-cab1-4ddd-945d-d1eb938d84e2"),
            "MjQ0ODhiZTYtY2FiMS00ZGRkLTk0NWQtZDFlYjkzOGQ4NGUy"
        );
    }

    #[test]
    fn base64_round_trips_every_length() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..40 {
            let encoded = base64(&data[200 - len..200]);
            assert_eq!(unbase64(&encoded).as_deref(), Some(&data[200 - len..200]));
        }
    }

    #[test]
    fn unbase64_refuses_garbage() {
        for text in ["a", "ab=", "a b", "!!!!", "AB"] {
            // "AB" decodes to bits that are not all used: not something base64() writes.
            assert_eq!(unbase64(text), None, "{text}");
        }
    }

    #[test]
    fn standard_base64_decodes_basic_credentials() {
        // RFC 7617's example.
        assert_eq!(
            unbase64_standard("QWxhZGRpbjpvcGVuIHNlc2FtZQ==").as_deref(),
            Some(&b"Aladdin:open sesame"[..])
        );
        assert_eq!(unbase64_standard("Pz8/").as_deref(), Some(&b"???"[..]));
        for bad in ["Pz8_", "a===", "!!"] {
            assert_eq!(unbase64_standard(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_encoding_keeps_unreserved_only() {
        assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(
            percent_encode("https://x/cb?a=b c&d"),
            "https%3A%2F%2Fx%2Fcb%3Fa%3Db%20c%26d"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
