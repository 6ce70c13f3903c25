//! Query strings as RFC 3986 writes them, not as HTML forms do: a space is `%20` and a `+` is
//! `%2B` (a `+` in `+00:00` read back as a space is exactly the mistake the Logz.io fetcher's
//! configurations had to escape by hand), while the characters OData and most APIs use in
//! their parameters (`$filter`, `'`, `(`, `)`, `:`, `,`) stay as written. `[` and `]` are
//! encoded (`event_type%5B%5D`), which every server we read decodes.

/// Whether a byte is written as is in a query name or value: RFC 3986 `unreserved`, and the
/// `sub-delims` and `pchar` extras that are not `&`, `=`, `+`, `;` (separators to some servers).
fn keep(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b','
                | b':'
                | b'@'
                | b'/'
                | b'?'
        )
}

fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if keep(byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(
                char::from_digit(u32::from(byte >> 4), 16).map_or('0', |c| c.to_ascii_uppercase()),
            );
            out.push(
                char::from_digit(u32::from(byte & 15), 16).map_or('0', |c| c.to_ascii_uppercase()),
            );
        }
    }
}

/// `name=value&...`, each part encoded.
pub fn query_string(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_rfc_3986_and_keeps_what_odata_writes() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        for (input, expected) in [
            (
                pairs(&[(
                    "$filter",
                    "createdDateTime ge 2026-11-22T10:15:00Z and createdDateTime le 2026-11-22T11:15:00Z",
                )]),
                "$filter=createdDateTime%20ge%202026-11-22T10:15:00Z%20and%20createdDateTime%20le%202026-11-22T11:15:00Z",
            ),
            (
                pairs(&[("start_date", "2026-11-22T10:15:00+00:00")]),
                "start_date=2026-11-22T10:15:00%2B00:00",
            ),
            (
                pairs(&[("event_type[]", "1090519054"), ("event_type[]", "2")]),
                "event_type%5B%5D=1090519054&event_type%5B%5D=2",
            ),
            (
                pairs(&[("q", "a&b=c;d#e"), ("é", "ü")]),
                "q=a%26b%3Dc%3Bd%23e&%C3%A9=%C3%BC",
            ),
            (
                pairs(&[("name", "it's (x), y:z")]),
                "name=it's%20(x),%20y:z",
            ),
        ] {
            assert_eq!(query_string(&input), expected);
        }
    }
}
