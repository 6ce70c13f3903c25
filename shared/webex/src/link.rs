//! `Link` headers (RFC 8288), as Webex sends them for paging:
//! `<https://webexapis.com/v1/events?max=100&cursor=...>; rel="next"`.

/// The URL of the `rel="next"` link, if any.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let params_end = rest[end..].find('<').map_or(rest.len(), |i| end + i);
        let params = &rest[end + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=")
                .map(|v| {
                    v.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        if is_next {
            return Some(url.to_string());
        }
        rest = &rest[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link() {
        let cases = [
            (
                r#"<https://x/v1/events?max=2&cursor=abc>; rel="next""#,
                Some("https://x/v1/events?max=2&cursor=abc"),
            ),
            (
                r#"<https://x/a>; rel="prev", <https://x/b?c=1,2>; rel="next""#,
                Some("https://x/b?c=1,2"),
            ),
            (r#"<https://x/a>; rel=next"#, Some("https://x/a")),
            (r#"<https://x/a>; rel="first""#, None),
            ("", None),
            ("garbage <unterminated", None),
        ];
        for (header, expected) in cases {
            assert_eq!(next_link(header).as_deref(), expected, "{header}");
        }
    }
}
