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

/// How much of a refused path an error repeats.
const SHOWN_PATH_CHARS: usize = 120;

/// Checks that a `Link rel="next"` leads to the stream's own `endpoint`, and returns it parsed.
///
/// The bearer token goes with the request, and what comes back is stored as events: so the
/// link must be absolute (Webex sends absolute links; a relative or protocol-relative one is
/// refused rather than guessed at), with the endpoint's scheme (no `http://` downgrade), host
/// and port, no user info (`https://webexapis.com@evil.example/` has the host `evil.example`
/// and the user `webexapis.com`), and the endpoint's path (`/v1/people` is not an event page).
/// Only the query, which carries Webex's paging cursor, may differ.
pub fn check_next(link: &str, endpoint: &reqwest::Url) -> Result<reqwest::Url, String> {
    let refused = |why: String| format!("Webex's Link rel=\"next\" {why}; not followed");
    let url =
        reqwest::Url::parse(link).map_err(|e| refused(format!("is not an absolute URL ({e})")))?;
    if url.scheme() != endpoint.scheme() {
        return Err(refused(format!(
            "leads to {}:// instead of {}://",
            url.scheme(),
            endpoint.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("carries a user name or password".to_string()));
    }
    if url.host() != endpoint.host() {
        return Err(refused(format!(
            "leads to another host ({})",
            url.host_str().unwrap_or("none")
        )));
    }
    if url.port_or_known_default() != endpoint.port_or_known_default() {
        return Err(refused(format!(
            "leads to another port ({})",
            url.port_or_known_default()
                .map_or_else(|| "none".to_string(), |p| p.to_string())
        )));
    }
    if url.path() != endpoint.path() {
        let mut path: String = url.path().chars().take(SHOWN_PATH_CHARS).collect();
        if path.len() < url.path().len() {
            path.push('…');
        }
        return Err(refused(format!(
            "leads to {path} instead of the stream's {}",
            endpoint.path()
        )));
    }
    Ok(url)
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
            ("<<>>; rel=next", Some("<")),
            ("<>; rel=next", Some("")),
            (">; rel=next <", None),
            ("<https://x/é>; rel=\"next\"", Some("https://x/é")),
        ];
        for (header, expected) in cases {
            assert_eq!(next_link(header).as_deref(), expected, "{header}");
        }
    }

    #[test]
    fn a_link_is_followed_only_to_the_streams_own_endpoint() {
        let endpoint = reqwest::Url::parse("https://webexapis.com/v1/events").unwrap();
        // (link, the error's telling part, or None when it is followed)
        let cases: [(&str, Option<&str>); 19] = [
            ("https://webexapis.com/v1/events?max=2&cursor=abc", None),
            ("https://WEBEXAPIS.com:443/v1/events?cursor=abc", None),
            ("https://webexapis.com/v1/events", None),
            (
                "https://evil.example/v1/events?cursor=abc",
                Some("another host (evil.example)"),
            ),
            (
                "https://webexapis.com.evil.example/v1/events",
                Some("another host"),
            ),
            (
                "http://webexapis.com/v1/events?cursor=abc",
                Some("leads to http:// instead of https://"),
            ),
            (
                "https://webexapis.com@evil.example/v1/events",
                Some("user name or password"),
            ),
            (
                "https://user@webexapis.com/v1/events",
                Some("user name or password"),
            ),
            (
                "https://user:pw@webexapis.com/v1/events",
                Some("user name or password"),
            ),
            ("//evil.example/v1/events", Some("not an absolute URL")),
            ("/v1/events?cursor=abc", Some("not an absolute URL")),
            (
                "https://webexapis.com:8443/v1/events",
                Some("another port (8443)"),
            ),
            (
                "https://webexapis.com/v1/people",
                Some("leads to /v1/people instead of the stream's /v1/events"),
            ),
            (
                "https://webexapis.com/v1/access_token",
                Some("leads to /v1/access_token"),
            ),
            (
                "https://webexapis.com/v1/events/../people/me",
                Some("leads to /v1/people/me"),
            ),
            (
                "https://webexapis.com/v1/%65vents",
                Some("leads to /v1/%65vents"),
            ),
            (
                "https://webexapis.com/v1/events/",
                Some("leads to /v1/events/ instead"),
            ),
            ("javascript:alert(1)", Some("leads to javascript://")),
            ("", Some("not an absolute URL")),
        ];
        for (link, refused) in cases {
            match (check_next(link, &endpoint), refused) {
                (Ok(url), None) => assert_eq!(url.path(), "/v1/events"),
                (Err(e), Some(part)) => {
                    assert!(e.contains(part), "{link}: {e}");
                    assert!(e.starts_with("Webex's Link rel=\"next\" "), "{e}");
                }
                (got, expected) => panic!("{link}: got {got:?}, expected refusal {expected:?}"),
            }
        }
    }

    #[test]
    fn a_loopback_endpoint_keeps_its_port() {
        let endpoint = reqwest::Url::parse("http://127.0.0.1:4000/v1/adminAudit/events").unwrap();
        assert!(
            check_next(
                "http://127.0.0.1:4000/v1/adminAudit/events?offset=2",
                &endpoint
            )
            .is_ok()
        );
        assert!(check_next("http://127.0.0.1:4001/v1/adminAudit/events", &endpoint).is_err());
        assert!(check_next("http://localhost:4000/v1/adminAudit/events", &endpoint).is_err());
    }
}
