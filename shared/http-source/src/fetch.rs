//! One page of a source: the request its description renders, sent within the run's deadline
//! and the identity's budget, retried as the answer allows, read through its cap and its page
//! shape, and the request for the page after it. What differs between APIs is data in the
//! core's `SourceSpec`; the few things only Webex does are its named quirks.

use std::time::{Duration, SystemTime};

use collector_core::json_find::{PathSet, string_text};
use collector_core::page::Hints;
use collector_core::ports::{EventSource, Page, PageRequest, PageTarget, SourceError};
use collector_core::secret::Credential;
use collector_core::source::{Method, PagingKind, Position, RenderedBody, SourceSpec};
use tokio::time::Instant;

use crate::body::{BodyError, ERROR_BODY_CAP, EVENT_PAGE_CAP, read_capped};
use crate::link::{NextRule, check_next, next_link};
use crate::retry::{RetryAfter, exhausted_for, resume_at, retry_after};
use crate::{HttpSource, MIN_REQUEST_TIME, checked_url, encoding};

/// What one attempt at a page came to.
enum Attempt {
    Done(Page),
    /// Try again after the given wait (or the backoff).
    Retry {
        wait: Option<Duration>,
        /// A rate limit: the wait holds every request of the identity, not just this one.
        limited: bool,
        reason: String,
    },
    /// Ask for fewer events a page.
    Smaller(Shrink),
    Fail(SourceError),
}

enum Shrink {
    /// 504 from an API that says so by it (Webex): it could not build a page this large in time.
    GatewayTimeout,
    /// The page's body is over its cap (the reason says by how much).
    TooLarge(String),
}

/// A request ready to send.
struct Request {
    method: Method,
    url: reqwest::Url,
    headers: Vec<(String, String)>,
    body: Option<RenderedBody>,
}

impl EventSource for HttpSource {
    async fn fetch_page(
        &self,
        source: &SourceSpec,
        credential: &Credential,
        request: &PageRequest,
        deadline: Instant,
    ) -> Result<Page, SourceError> {
        let mut max = request.max;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.admit(deadline).await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let built = self.request(source, &request.target, max)?;
            let timeout = remaining.min(self.retry.request_timeout);
            let (wait, limited, reason) = match self
                .attempt(source, credential, built, &request.target, max, timeout)
                .await
            {
                Attempt::Done(page) => return Ok(page),
                Attempt::Fail(e) => return Err(e),
                Attempt::Smaller(shrink) if max > 1 && self.can_shrink(source, &request.target) => {
                    max = (max / 2).max(1);
                    let why = match shrink {
                        Shrink::GatewayTimeout => "HTTP 504".to_string(),
                        Shrink::TooLarge(why) => why,
                    };
                    (
                        None,
                        false,
                        format!("{why}; asking for {max} events a page"),
                    )
                }
                Attempt::Smaller(Shrink::GatewayTimeout) => {
                    (None, false, format!("HTTP 504 {}", no_smaller(max)))
                }
                // No smaller page to ask for: retrying would read the same body again.
                Attempt::Smaller(Shrink::TooLarge(why)) => {
                    return Err(SourceError::Unacceptable(format!(
                        "{why}, {}",
                        no_smaller(max)
                    )));
                }
                Attempt::Retry {
                    wait,
                    limited,
                    reason,
                } => (wait, limited, reason),
            };
            if attempt >= self.retry.max_attempts {
                return Err(SourceError::Exhausted {
                    attempts: attempt,
                    last: reason,
                });
            }
            let now = Instant::now();
            let wait = wait.unwrap_or_else(|| match limited {
                true => self.retry.throttled(attempt),
                false => self.retry.backoff(attempt),
            });
            // A rate limit holds back every request of the identity, also those of windows
            // that can still wait when this one cannot; without a header saying how long
            // (Graph often sends none), for the backoff chosen. `retry_after` bounded the
            // wait; the checked sum keeps that true of any wait.
            if let (true, Some(budget), Some(until)) =
                (limited, &self.budget, now.checked_add(wait))
            {
                budget.hold_until(until);
            }
            let Some(resume) = resume_at(now, wait, MIN_REQUEST_TIME, deadline) else {
                return Err(SourceError::OutOfTime);
            };
            tracing::debug!(source = %source.name, attempt, ?wait, %reason, "retrying a page");
            tokio::time::sleep_until(resume).await;
        }
    }
}

impl HttpSource {
    /// Whether a smaller page can be asked for: always in the requests we build; in a next
    /// page's URL only where the source's links carry the size (Webex's `max`). Other APIs'
    /// next URLs are followed exactly as given (Graph: "do not edit the nextLink").
    fn can_shrink(&self, source: &SourceSpec, target: &PageTarget) -> bool {
        match target {
            PageTarget::Query { .. } => source.paging.params.size.is_some(),
            PageTarget::Link(_) => source.quirks.size_in_links,
        }
    }

    fn request(
        &self,
        source: &SourceSpec,
        target: &PageTarget,
        max: u32,
    ) -> Result<Request, SourceError> {
        match target {
            PageTarget::Query { bounds, position } => {
                let rendered = source.render(bounds, max, position);
                let mut url = self.url(source, &rendered.url)?;
                if !rendered.query.is_empty() {
                    url.set_query(Some(&encoding::query_string(&rendered.query)));
                }
                Ok(Request {
                    method: rendered.method,
                    url,
                    headers: rendered.headers,
                    body: rendered.body,
                })
            }
            PageTarget::Link(link) => {
                // Checked when it arrived; again here, as the credential goes with it.
                let mut url = check_next(link, &self.endpoint_url(source)?, next_rule(source))
                    .map_err(SourceError::Unacceptable)?;
                if source.quirks.size_in_links
                    && let Some(size) = &source.paging.params.size
                {
                    lower_size(&mut url, size, max);
                }
                // A next URL is fetched as it is: GET, no body; the headers stay the query's.
                let headers = source
                    .request
                    .headers
                    .iter()
                    .filter_map(|(name, template)| {
                        Some((name.clone(), template.as_plain()?.to_string()))
                    })
                    .collect();
                Ok(Request {
                    method: Method::Get,
                    url,
                    headers,
                    body: None,
                })
            }
        }
    }

    /// A request URL: relative to the base (Webex), or absolute; either way one a credential
    /// may go to.
    fn url(&self, source: &SourceSpec, text: &str) -> Result<reqwest::Url, SourceError> {
        checked_url(&self.endpoint(text)).map_err(|reason| SourceError::Rejected {
            status: 0,
            message: format!("the {} request URL {reason}", source.name),
        })
    }

    /// The endpoint next pages must stay on. A URL with placeholders (`{org}` in its path)
    /// has no one endpoint: its next pages must stay on its origin, which the unit's first
    /// request fixes; such sources are refused next URLs until a unit's URL is known.
    fn endpoint_url(&self, source: &SourceSpec) -> Result<reqwest::Url, SourceError> {
        let plain = source
            .request
            .url
            .as_plain()
            .ok_or_else(|| SourceError::Rejected {
                status: 0,
                message: format!(
                    "the {} request URL depends on the organisation, so its next pages cannot be \
                 checked against it",
                    source.name
                ),
            })?;
        self.url(source, plain)
    }

    async fn attempt(
        &self,
        source: &SourceSpec,
        credential: &Credential,
        request: Request,
        target: &PageTarget,
        max: u32,
        timeout: Duration,
    ) -> Attempt {
        let fetched = request.url.clone();
        let mut builder = match request.method {
            Method::Get => self.http.get(request.url),
            Method::Post => self.http.post(request.url),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder = match request.body {
            Some(RenderedBody::Json(json)) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json),
            Some(RenderedBody::Form(fields)) => builder.form(&fields),
            None => builder,
        };
        let sent = with_credential(builder, credential)
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    limited: false,
                    reason: transport_reason(&e),
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            if let Some(wait) = exhausted_for(
                &source.display,
                response.headers(),
                &source.rate_limit,
                SystemTime::now(),
            ) && let (Some(budget), Some(until)) =
                (&self.budget, Instant::now().checked_add(wait))
            {
                // No requests left until the reset: the next one would only earn a 429.
                budget.hold_until(until);
            }
            let link = matches!(
                source.paging.kind,
                PagingKind::Link | PagingKind::LinkOrOffset
            )
            .then(|| {
                response
                    .headers()
                    .get(reqwest::header::LINK)
                    .and_then(|v| v.to_str().ok())
                    .and_then(next_link)
            })
            .flatten();
            let body = match read_capped(response, EVENT_PAGE_CAP, "event page").await {
                Ok(body) => body,
                Err(too_large @ BodyError::TooLarge { .. }) => {
                    return Attempt::Smaller(Shrink::TooLarge(too_large.to_string()));
                }
                Err(BodyError::Cut { source, .. }) => {
                    return Attempt::Retry {
                        wait: None,
                        limited: false,
                        reason: format!("body cut off: {}", transport_reason(&source)),
                    };
                }
            };
            let page = match source.page.parse(&body) {
                Ok(page) => page,
                // The presets' shapes are not the user's to fix: any misshapen page of theirs
                // is the API's fault, and another try may mend it.
                Err(e) if e.is_retryable() || source.webex.is_some() => {
                    return Attempt::Retry {
                        wait: None,
                        limited: false,
                        reason: e.to_string(),
                    };
                }
                Err(e) => return Attempt::Fail(SourceError::Misshapen(e.to_string())),
            };
            let events = page.events.len();
            return match self.next_request(source, target, &fetched, link, page.hints, events, max)
            {
                Ok(next) => Attempt::Done(Page {
                    events: page.events,
                    next,
                }),
                Err(e) => Attempt::Fail(e),
            };
        }
        // Read before the body: the wait is decided by the headers alone.
        let wait = retry_after(
            &source.display,
            status.as_u16(),
            response.headers(),
            &source.rate_limit,
            SystemTime::now(),
        );
        let body = read_capped(response, ERROR_BODY_CAP, "error")
            .await
            .unwrap_or_default();
        let message = error_message(source, &body);
        let retry = |reason: String, limited: bool| match wait {
            Ok(RetryAfter::Backoff) => Attempt::Retry {
                wait: None,
                limited,
                reason,
            },
            Ok(RetryAfter::Wait(wait)) => Attempt::Retry {
                wait: Some(wait),
                limited: true,
                reason,
            },
            Err(absurd) => Attempt::Fail(SourceError::Unacceptable(absurd.to_string())),
        };
        if let Some(refusal) = source.refusals.iter().find(|r| {
            r.status == status.as_u16() && text_at(&body, &r.path).as_deref() == Some(&r.equals)
        }) {
            return Attempt::Fail(SourceError::Refused {
                name: refusal.name.clone(),
                message,
                fix: refusal.fix.clone(),
            });
        }
        match status.as_u16() {
            401 => Attempt::Fail(SourceError::Unauthorized),
            403 => Attempt::Fail(SourceError::Forbidden { message }),
            429 => retry(format!("HTTP {status}"), true),
            423 if source.quirks.retry_423 => retry(format!("HTTP {status}"), true),
            504 if source.quirks.shrink_on_504 => Attempt::Smaller(Shrink::GatewayTimeout),
            408 => retry(format!("HTTP {status}"), false),
            code if status.is_server_error() => retry(format!("HTTP {code}: {message}"), false),
            code => Attempt::Fail(SourceError::Rejected {
                status: code,
                message,
            }),
        }
    }

    /// The request for the page after `fetched`. A next URL is checked as it arrives, so that
    /// a page never hands the core one it must not follow; one back to the very page it came
    /// with is refused here (the core refuses those back to earlier pages of the query).
    #[allow(clippy::too_many_arguments)]
    fn next_request(
        &self,
        source: &SourceSpec,
        target: &PageTarget,
        fetched: &reqwest::Url,
        link: Option<String>,
        hints: Hints,
        events: usize,
        max: u32,
    ) -> Result<Option<PageRequest>, SourceError> {
        let next_url = match source.paging.kind {
            PagingKind::Link | PagingKind::LinkOrOffset => link,
            PagingKind::NextUrl => hints.next,
            _ => None,
        };
        if let Some(next) = next_url {
            let rule = next_rule(source);
            let mut url = check_next(&next, &self.endpoint_url(source)?, rule)
                .map_err(SourceError::Unacceptable)?;
            if source.quirks.size_in_links
                && let Some(size) = &source.paging.params.size
            {
                // Compared as it would be requested: with the page size we ask for now.
                lower_size(&mut url, size, max);
            }
            if same_page(&url, fetched) {
                return Err(SourceError::Unacceptable(format!(
                    "{}'s {} leads back to the page it came with; paging would loop",
                    rule.who, rule.what
                )));
            }
            return Ok(Some(PageRequest {
                // Resolved: a relative URL from a page is followed as the absolute one it means.
                target: PageTarget::Link(url.to_string()),
                max,
            }));
        }
        let PageTarget::Query { bounds, position } = target else {
            return Ok(None);
        };
        let position = match (source.paging.kind, position) {
            (PagingKind::Offset | PagingKind::LinkOrOffset, _) if events == 0 => return Ok(None),
            (PagingKind::Offset | PagingKind::LinkOrOffset, position) => {
                let at = match position {
                    Position::Offset(offset) => *offset,
                    _ => 0,
                };
                let after = at.saturating_add(u32::try_from(events).unwrap_or(u32::MAX));
                if hints.total.is_some_and(|total| u64::from(after) >= total) {
                    return Ok(None);
                }
                Position::Offset(after)
            }
            (PagingKind::Cursor, _) if hints.has_more == Some(false) => return Ok(None),
            (PagingKind::Cursor, _) => match hints.cursor {
                Some(token) => Position::Cursor(token),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(PageRequest {
            target: PageTarget::Query {
                bounds: bounds.clone(),
                position,
            },
            max,
        }))
    }
}

/// The request with the identity's proof; reqwest marks `Authorization` sensitive (kept out of
/// its `Debug`), and an API key header is marked so too.
fn with_credential(
    builder: reqwest::RequestBuilder,
    credential: &Credential,
) -> reqwest::RequestBuilder {
    match credential {
        Credential::Bearer(token) => builder.bearer_auth(token.secret()),
        Credential::Basic { id, key } => builder.basic_auth(id, Some(key.secret())),
        Credential::Header { name, value } => {
            match reqwest::header::HeaderValue::from_str(value.secret()) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    builder.header(name.as_str(), value)
                }
                // Not a header value (a newline in the secret): sent without it, so the API's
                // 401 names the identity, and the value is never repeated.
                Err(_) => builder,
            }
        }
    }
}

/// Why a page cannot be asked for smaller.
fn no_smaller(max: u32) -> &'static str {
    match max {
        0 | 1 => "even for one event a page",
        _ => "and the page's URL, which the API gave, sets its size",
    }
}

fn next_rule(source: &SourceSpec) -> NextRule<'_> {
    match source.paging.kind {
        PagingKind::NextUrl => NextRule {
            who: &source.display,
            what: "next page URL",
            relative: true,
        },
        _ => NextRule {
            who: &source.display,
            what: "Link rel=\"next\"",
            relative: false,
        },
    }
}

/// Whether two URLs ask for the same page: the same place and the same query once decoded (we
/// write queries by RFC 3986, an API's links may use form encoding: `%3A` and `:` are one).
fn same_page(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && a.query_pairs().eq(b.query_pairs())
}

/// After a shrink we ask for smaller pages, also on the links the API built with the old size.
/// A link that needs no change is left exactly as the API wrote it.
fn lower_size(url: &mut reqwest::Url, name: &str, max: u32) {
    let too_large = |(k, v): &(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)| {
        k == name && v.parse::<u32>().is_ok_and(|current| current > max)
    };
    if !url.query_pairs().any(|pair| too_large(&pair)) {
        return;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = match v.parse::<u32>() {
                Ok(current) if k == name && current > max => max.to_string(),
                _ => v.into_owned(),
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    }
}

/// The text at `path` in an error body, if it is a string.
fn text_at(body: &[u8], path: &collector_core::json_path::JsonPath) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut values = Vec::new();
    PathSet::new(None, [path]).find(text, &mut values).ok()?;
    let raw = values.first().copied().flatten()?;
    string_text(raw.get()).map(|t| t.into_owned())
}

/// An error body's message, where the source keeps it: never secret, shortened to 300
/// characters, with the request's reference (Webex's `trackingId`) when there is one.
fn error_message(source: &SourceSpec, body: &[u8]) -> String {
    let message = source
        .error_message
        .paths
        .iter()
        .find_map(|path| text_at(body, path));
    let Some(message) = message else {
        return "no error message".to_string();
    };
    let message: String = message.chars().take(300).collect();
    let reference = source
        .error_message
        .reference
        .as_ref()
        .and_then(|(label, path)| Some(format!("{label} {}", text_at(body, path)?)));
    match reference {
        Some(reference) => format!("{message} ({reference})"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_the_size_in_links_only_downwards() {
        let cases = [
            (
                "https://x/v1/events?max=1000&cursor=a",
                500,
                "https://x/v1/events?max=500&cursor=a",
            ),
            (
                "https://x/v1/events?max=100&cursor=a",
                500,
                "https://x/v1/events?max=100&cursor=a",
            ),
            (
                "https://x/v1/events?cursor=a%2Cb",
                500,
                "https://x/v1/events?cursor=a%2Cb",
            ),
        ];
        for (link, max, expected) in cases {
            let mut url = reqwest::Url::parse(link).unwrap();
            lower_size(&mut url, "max", max);
            assert_eq!(url.as_str(), expected);
        }
    }

    #[test]
    fn a_page_is_the_same_however_its_query_is_encoded() {
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        let ours =
            url("http://127.0.0.1:9/v1/events?from=2026-11-22T10:15:00.000Z&q=a+b%2Bc&max=5");
        let form =
            url("http://127.0.0.1:9/v1/events?from=2026-11-22T10%3A15%3A00.000Z&q=a%20b%2Bc&max=5");
        assert!(same_page(&ours, &form));
        let other =
            url("http://127.0.0.1:9/v1/events?from=2026-11-22T10:15:00.000Z&q=a+b%2Bc&max=6");
        assert!(!same_page(&ours, &other));
        assert!(!same_page(
            &ours,
            &url("http://127.0.0.1:9/v1/people?from=2026-11-22T10:15:00.000Z&q=a+b%2Bc&max=5")
        ));
    }

    #[test]
    fn error_messages_are_read_where_the_source_keeps_them() {
        let webex = collector_core::stream::StreamId::AdminAudit.source();
        assert_eq!(
            error_message(&webex, br#"{"message":"Bad","trackingId":"ROUTER_1"}"#),
            "Bad (trackingId ROUTER_1)"
        );
        assert_eq!(error_message(&webex, b"<html>"), "no error message");
        let mut other = webex.clone();
        other.error_message = collector_core::source::ErrorMessage::common();
        assert_eq!(
            error_message(
                &other,
                br#"{"version":"v1.2.0","errors":[{"error_code":401,"description":"Unauthorized","details":["Unknown API key or Client ID"]}]}"#
            ),
            "Unknown API key or Client ID"
        );
        assert_eq!(
            error_message(
                &other,
                br#"{"error":{"code":"TooManyRequests","message":"Too many requests"}}"#
            ),
            "Too many requests"
        );
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(1000));
        assert_eq!(error_message(&other, long.as_bytes()).len(), 300);
    }
}
