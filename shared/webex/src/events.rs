//! Event pages: the three event APIs share errors, limits and paging, so one fetch serves all;
//! what differs is in the core's `SourceSpec` (the Webex presets).

use std::time::{Duration, SystemTime};

use collector_core::page::PageShape;
use collector_core::ports::{EventSource, Page, PageRequest, PageTarget, SourceError};
use collector_core::secret::AccessToken;
use collector_core::source::{PagingKind, Position, SourceSpec};
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::body::{BodyError, ERROR_BODY_CAP, EVENT_PAGE_CAP, read_capped};
use crate::link::{check_next, next_link};
use crate::retry::{RetryAfter, resume_at, retry_after};
use crate::{MIN_REQUEST_TIME, WebexClient};

/// What one attempt at a page came to.
enum Attempt {
    Done(Page),
    /// Try again after the given wait (or the backoff).
    Retry {
        wait: Option<Duration>,
        reason: String,
    },
    /// Ask for fewer events a page.
    Smaller(Shrink),
    Fail(SourceError),
}

enum Shrink {
    /// 504: Webex could not build a page this large in time.
    GatewayTimeout,
    /// The page's body is over its cap (the reason says by how much).
    TooLarge(String),
}

impl EventSource for WebexClient {
    async fn fetch_page(
        &self,
        source: &SourceSpec,
        token: &AccessToken,
        request: &PageRequest,
        deadline: Instant,
    ) -> Result<Page, SourceError> {
        let mut max = request.max;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.admit(deadline).await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let url = self.page_url(source, &request.target, max)?;
            let timeout = remaining.min(self.retry.request_timeout);
            let (wait, reason) = match self
                .attempt(source, token, url, &request.target, max, timeout)
                .await
            {
                Attempt::Done(page) => return Ok(page),
                Attempt::Fail(e) => return Err(e),
                Attempt::Smaller(shrink) if max > 1 => {
                    max = (max / 2).max(1);
                    let why = match shrink {
                        Shrink::GatewayTimeout => "HTTP 504".to_string(),
                        Shrink::TooLarge(why) => why,
                    };
                    (None, format!("{why}; asking for {max} events a page"))
                }
                Attempt::Smaller(Shrink::GatewayTimeout) => {
                    (None, "HTTP 504 even for one event a page".to_string())
                }
                // No smaller page to ask for: retrying would read the same body again.
                Attempt::Smaller(Shrink::TooLarge(why)) => {
                    return Err(SourceError::Unacceptable(format!(
                        "{why}, even for one event a page"
                    )));
                }
                Attempt::Retry { wait, reason } => (wait, reason),
            };
            if attempt >= self.retry.max_attempts {
                return Err(SourceError::Exhausted {
                    attempts: attempt,
                    last: reason,
                });
            }
            let now = Instant::now();
            // A `Retry-After` holds back every request of the client, also those of windows
            // that can still wait when this one cannot. `retry_after` bounded it; the checked
            // sum keeps that true of any wait.
            if let (Some(budget), Some(until)) =
                (&self.budget, wait.and_then(|wait| now.checked_add(wait)))
            {
                budget.hold_until(until);
            }
            let wait = wait.unwrap_or_else(|| self.retry.backoff(attempt));
            let Some(resume) = resume_at(now, wait, MIN_REQUEST_TIME, deadline) else {
                return Err(SourceError::OutOfTime);
            };
            tracing::debug!(source = %source.name, attempt, ?wait, %reason, "retrying a page");
            tokio::time::sleep_until(resume).await;
        }
    }
}

impl WebexClient {
    async fn attempt(
        &self,
        source: &SourceSpec,
        token: &AccessToken,
        url: reqwest::Url,
        target: &PageTarget,
        max: u32,
        timeout: Duration,
    ) -> Attempt {
        let fetched = url.clone();
        let sent = self
            .http
            .get(url)
            .bearer_auth(token.secret())
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    reason: transport_reason(&e),
                };
            }
        };
        let status = response.status();
        if status == StatusCode::OK {
            let link = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = match read_capped(response, EVENT_PAGE_CAP, "event page").await {
                Ok(body) => body,
                Err(too_large @ BodyError::TooLarge { .. }) => {
                    return Attempt::Smaller(Shrink::TooLarge(too_large.to_string()));
                }
                Err(BodyError::Cut { source, .. }) => {
                    return Attempt::Retry {
                        wait: None,
                        reason: format!("body cut off: {}", transport_reason(&source)),
                    };
                }
            };
            // Every error is retried: Webex's answers are not the user's configuration to fix.
            let events = match PageShape::webex().parse(&body) {
                Ok(page) => page.events,
                Err(e) => {
                    return Attempt::Retry {
                        wait: None,
                        reason: e.to_string(),
                    };
                }
            };
            return match self.next_request(source, target, &fetched, link, events.len(), max) {
                Ok(next) => Attempt::Done(Page { events, next }),
                Err(e) => Attempt::Fail(e),
            };
        }
        // Read before the body: the wait is decided by the headers alone.
        let wait = retry_after(status.as_u16(), response.headers(), SystemTime::now());
        let message = error_message(response).await;
        let retry = |reason: String| match wait {
            Ok(RetryAfter::Backoff) => Attempt::Retry { wait: None, reason },
            Ok(RetryAfter::Wait(wait)) => Attempt::Retry {
                wait: Some(wait),
                reason,
            },
            Err(absurd) => Attempt::Fail(SourceError::Unacceptable(absurd.to_string())),
        };
        match status.as_u16() {
            401 => Attempt::Fail(SourceError::Unauthorized),
            403 => Attempt::Fail(SourceError::Forbidden { message }),
            423 | 429 => retry(format!("HTTP {status}")),
            504 => Attempt::Smaller(Shrink::GatewayTimeout),
            code if status.is_server_error() => retry(format!("HTTP {code}: {message}")),
            code => Attempt::Fail(SourceError::Rejected {
                status: code,
                message,
            }),
        }
    }

    fn page_url(
        &self,
        source: &SourceSpec,
        target: &PageTarget,
        max: u32,
    ) -> Result<reqwest::Url, SourceError> {
        let invalid = |reason: String| SourceError::Rejected {
            status: 0,
            message: reason,
        };
        match target {
            PageTarget::Query { bounds, position } => {
                let rendered = source.render(bounds, max, position);
                let mut url = reqwest::Url::parse(&self.endpoint(&rendered.url))
                    .map_err(|e| invalid(e.to_string()))?;
                url.query_pairs_mut().extend_pairs(&rendered.query);
                Ok(url)
            }
            PageTarget::Link(link) => {
                // Checked when the link arrived; again here, as the bearer token goes with it.
                let mut url = check_next(link, &self.endpoint_url(source)?)
                    .map_err(SourceError::Unacceptable)?;
                lower_max(&mut url, max);
                Ok(url)
            }
        }
    }

    /// The stream's endpoint, against which links are checked.
    fn endpoint_url(&self, source: &SourceSpec) -> Result<reqwest::Url, SourceError> {
        let invalid = |reason: String| SourceError::Rejected {
            status: 0,
            message: format!("the {} endpoint {reason}", source.name),
        };
        let path = source
            .request
            .url
            .as_plain()
            .ok_or_else(|| invalid("depends on the query".to_string()))?;
        reqwest::Url::parse(&self.endpoint(path)).map_err(|e| invalid(format!("is not a URL: {e}")))
    }

    /// The request for the page after `fetched`. A `Link` is checked as it arrives, so that a
    /// page never hands the core a link it must not follow; one back to the very page it came
    /// with is refused here (the core refuses links back to earlier pages).
    fn next_request(
        &self,
        source: &SourceSpec,
        target: &PageTarget,
        fetched: &reqwest::Url,
        link: Option<String>,
        events: usize,
        max: u32,
    ) -> Result<Option<PageRequest>, SourceError> {
        if let Some(link) = link {
            let mut url = check_next(&link, &self.endpoint_url(source)?)
                .map_err(SourceError::Unacceptable)?;
            // Compared as it would be requested: with the page size we ask for now.
            lower_max(&mut url, max);
            if url == *fetched {
                return Err(SourceError::Unacceptable(
                    "Webex's Link rel=\"next\" leads back to the page it came with; paging would loop"
                        .to_string(),
                ));
            }
            return Ok(Some(PageRequest {
                target: PageTarget::Link(link),
                max,
            }));
        }
        match (source.paging.kind, target) {
            (PagingKind::LinkOrOffset, PageTarget::Query { bounds, position }) if events > 0 => {
                let offset = match position {
                    Position::Offset(offset) => *offset,
                    _ => 0,
                };
                let offset = offset.saturating_add(u32::try_from(events).unwrap_or(u32::MAX));
                Ok(Some(PageRequest {
                    target: PageTarget::Query {
                        bounds: bounds.clone(),
                        position: Position::Offset(offset),
                    },
                    max,
                }))
            }
            _ => Ok(None),
        }
    }
}

/// After a 504 we ask for smaller pages, also on the links Webex built with the old size.
fn lower_max(url: &mut reqwest::Url, max: u32) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = match (k.as_ref(), v.parse::<u32>()) {
                ("max", Ok(current)) if current > max => max.to_string(),
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

/// Webex error bodies carry a `message` and a `trackingId`, neither secret.
async fn error_message(response: reqwest::Response) -> String {
    #[derive(serde::Deserialize)]
    struct WebexError {
        message: Option<String>,
        #[serde(rename = "trackingId")]
        tracking_id: Option<String>,
    }
    // An error body over its cap, or cut off, has no message we can use.
    let body = read_capped(response, ERROR_BODY_CAP, "error")
        .await
        .unwrap_or_default();
    match serde_json::from_slice::<WebexError>(&body) {
        Ok(WebexError {
            message: Some(m),
            tracking_id,
        }) => {
            let m: String = m.chars().take(300).collect();
            match tracking_id {
                Some(t) => format!("{m} (trackingId {t})"),
                None => m,
            }
        }
        _ => "no error message".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_max_in_links_only_downwards() {
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
            lower_max(&mut url, max);
            assert_eq!(url.as_str(), expected);
        }
    }
}
