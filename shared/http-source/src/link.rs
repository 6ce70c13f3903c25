//! Next pages: `Link` headers (RFC 8288), as Webex sends them for paging
//! (`<https://webexapis.com/v1/events?max=100&cursor=...>; rel="next"`), and the rule every
//! next page's URL must keep, whether from a header or from the page (Graph's
//! `@odata.nextLink`).

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

/// Where a next page's URL came from, for the rule and its messages.
#[derive(Clone, Copy, Debug)]
pub struct NextRule<'a> {
    /// Who gave it ("Webex").
    pub who: &'a str,
    /// What it is ("Link rel=\"next\"", "next page URL").
    pub what: &'a str,
    /// Whether a URL relative to the endpoint is taken (a URL in a page may be; a `Link`
    /// header's is refused rather than guessed at).
    pub relative: bool,
}

/// Checks that a next page's URL leads to the stream's own `endpoint`, and returns it parsed.
///
/// The credential goes with the request, and what comes back is stored as events: so the URL
/// must have the endpoint's scheme (no `http://` downgrade), host and port, no user info
/// (`https://webexapis.com@evil.example/` has the host `evil.example` and the user
/// `webexapis.com`), and the endpoint's path (`/v1/people` is not an event page; compared
/// without ASCII case, as Graph writes `/signins` for `/signIns`). Only the query, which carries
/// the paging's position, may differ.
pub fn check_next(
    link: &str,
    endpoint: &reqwest::Url,
    rule: NextRule<'_>,
) -> Result<reqwest::Url, String> {
    let refused = |why: String| format!("{}'s {} {why}; not followed", rule.who, rule.what);
    let parsed = match rule.relative {
        true => endpoint.join(link),
        false => reqwest::Url::parse(link),
    };
    let url = parsed.map_err(|e| refused(format!("is not an absolute URL ({e})")))?;
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
    if !url.path().eq_ignore_ascii_case(endpoint.path()) {
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

    const WEBEX_LINK: NextRule<'static> = NextRule {
        who: "Webex",
        what: "Link rel=\"next\"",
        relative: false,
    };

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
            match (check_next(link, &endpoint, WEBEX_LINK), refused) {
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
                &endpoint,
                WEBEX_LINK
            )
            .is_ok()
        );
        for other in [
            "http://127.0.0.1:4001/v1/adminAudit/events",
            "http://localhost:4000/v1/adminAudit/events",
        ] {
            assert!(check_next(other, &endpoint, WEBEX_LINK).is_err(), "{other}");
        }
    }

    #[test]
    fn a_next_url_in_a_page_may_be_relative_and_differ_in_case_only() {
        let endpoint =
            reqwest::Url::parse("https://graph.microsoft.com/v1.0/auditLogs/signIns").unwrap();
        let rule = NextRule {
            who: "Microsoft Graph",
            what: "next page URL",
            relative: true,
        };
        for (next, followed) in [
            (
                "https://graph.microsoft.com/v1.0/auditLogs/signins?$skiptoken=a",
                true,
            ),
            ("signIns?$skiptoken=b", true),
            ("/v1.0/auditLogs/signIns?$skiptoken=c", true),
            ("//evil.example/v1.0/auditLogs/signIns", false),
            ("/v1.0/users", false),
            ("https://graph.microsoft.com/beta/auditLogs/signIns", false),
        ] {
            let got = check_next(next, &endpoint, rule);
            assert_eq!(got.is_ok(), followed, "{next}: {got:?}");
            if let Err(e) = got {
                assert!(e.starts_with("Microsoft Graph's next page URL "), "{e}");
            }
        }
    }
}
