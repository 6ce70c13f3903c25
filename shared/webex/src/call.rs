//! One Webex REST call with a token, for what is not an event page (organisations, webhooks):
//! retried on 429 and 5xx as `Retry-After` says (or with backoff), within a deadline, its body
//! read up to a cap. 401 and 403 are the caller's to explain.

use std::time::SystemTime;

use bytes::Bytes;
use collector_core::ports::SourceError;
use collector_core::secret::AccessToken;
use collector_core::source::RateLimitHeaders;
use http_source::MIN_REQUEST_TIME;
use http_source::body::{BodyError, read_capped};
use http_source::retry::{RetryAfter, resume_at, retry_after};
use reqwest::Method;
use tokio::time::Instant;

use crate::WebexClient;

/// A 2xx answer: its `Link` header's next page, and its body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub next: Option<String>,
    pub body: Bytes,
}

/// What one call is, for its errors: "listing organisations", "creating a webhook", ...
pub(crate) struct Call<'a> {
    pub method: Method,
    /// A path below the API URL, or a full URL (a `Link` header's next page).
    pub target: &'a str,
    pub json: Option<&'a serde_json::Value>,
    pub cap: usize,
    pub what: &'static str,
}

impl WebexClient {
    pub(crate) async fn call(
        &self,
        call: &Call<'_>,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Answer, SourceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.http.admit(deadline).await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut request = self
                .http
                .http()
                .request(call.method.clone(), self.endpoint(call.target))
                .bearer_auth(token.secret())
                .timeout(remaining.min(self.retry().request_timeout));
            if let Some(json) = call.json {
                request = request
                    .header("content-type", "application/json")
                    .body(json.to_string());
            }
            let (wait, limited, reason) = match request.send().await {
                Err(e) => (RetryAfter::Backoff, false, e.to_string()),
                Ok(response) => match response.status().as_u16() {
                    200..=299 => {
                        let next = response
                            .headers()
                            .get("link")
                            .and_then(|v| v.to_str().ok())
                            .and_then(http_source::link::next_link);
                        let body = read_capped(response, call.cap, call.what).await.map_err(
                            |e| match e {
                                too_large @ BodyError::TooLarge { .. } => {
                                    SourceError::Unacceptable(too_large.to_string())
                                }
                                BodyError::Cut { .. } => SourceError::Exhausted {
                                    attempts: attempt,
                                    last: format!("the answer to {} was cut off", call.what),
                                },
                            },
                        )?;
                        return Ok(Answer { next, body });
                    }
                    401 => return Err(SourceError::Unauthorized),
                    403 => {
                        return Err(SourceError::Forbidden {
                            message: format!("{} was refused", call.what),
                        });
                    }
                    status @ (429 | 500..=599) => {
                        let wait = retry_after(
                            crate::DISPLAY,
                            status,
                            response.headers(),
                            &RateLimitHeaders::standard(),
                            SystemTime::now(),
                        )
                        .map_err(|absurd| SourceError::Unacceptable(absurd.to_string()))?;
                        (wait, status == 429, format!("HTTP {status}"))
                    }
                    status => {
                        return Err(SourceError::Rejected {
                            status,
                            message: format!("{} failed", call.what),
                        });
                    }
                },
            };
            if attempt >= self.retry().max_attempts {
                return Err(SourceError::Exhausted {
                    attempts: attempt,
                    last: reason,
                });
            }
            let wait = match wait {
                RetryAfter::Wait(wait) => wait,
                RetryAfter::Backoff if limited => self.retry().throttled(attempt),
                RetryAfter::Backoff => self.retry().backoff(attempt),
            };
            let Some(resume) = resume_at(Instant::now(), wait, MIN_REQUEST_TIME, deadline) else {
                return Err(SourceError::OutOfTime);
            };
            tokio::time::sleep_until(resume).await;
        }
    }
}

/// An id as a path segment (`webhooks/{id}`, `events/{id}`): Webex's ids are base64 text, and
/// anything else (a `/`, `..`, a `?`) would address another resource than the one named.
pub(crate) fn path_id(id: &str) -> Result<&str, SourceError> {
    let plain = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    if plain {
        Ok(id)
    } else {
        Err(SourceError::Unacceptable(
            "an id that is not Webex's".into(),
        ))
    }
}
