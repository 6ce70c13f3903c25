//! `GET /organizations`: the organisations a token may read, for streams whose organisations
//! are discovered. <https://developer.webex.com/docs/api/v1/organizations/list-organizations>
//! (not paginated: every organisation comes in one answer).

use std::time::SystemTime;

use collector_core::ports::{OrgDirectory, SourceError};
use collector_core::secret::AccessToken;
use collector_core::source::RateLimitHeaders;
use serde::Deserialize;
use tokio::time::Instant;

use crate::WebexClient;
use http_source::MIN_REQUEST_TIME;
use http_source::body::{BodyError, ORGANIZATIONS_CAP, read_capped};
use http_source::retry::{RetryAfter, resume_at, retry_after};

#[derive(Deserialize)]
struct Organizations {
    items: Vec<Organization>,
}

#[derive(Deserialize)]
struct Organization {
    id: String,
}

impl OrgDirectory for WebexClient {
    async fn organizations(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Vec<String>, SourceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.http.admit(deadline).await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let sent = self
                .http
                .http()
                .get(self.endpoint("organizations"))
                .bearer_auth(token.secret())
                .timeout(remaining.min(self.retry().request_timeout))
                .send()
                .await;
            let (wait, reason) = match sent {
                Err(e) => (RetryAfter::Backoff, e.to_string()),
                Ok(response) => match response.status().as_u16() {
                    200 => {
                        let body = read_capped(response, ORGANIZATIONS_CAP, "organizations answer")
                            .await
                            .map_err(|e| match e {
                                too_large @ BodyError::TooLarge { .. } => {
                                    SourceError::Unacceptable(too_large.to_string())
                                }
                                BodyError::Cut { .. } => SourceError::Exhausted {
                                    attempts: attempt,
                                    last: "the organizations answer was cut off".into(),
                                },
                            })?;
                        return parse(&body);
                    }
                    401 => return Err(SourceError::Unauthorized),
                    403 => {
                        return Err(SourceError::Forbidden {
                            message: "listing organisations was refused".into(),
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
                        (wait, format!("HTTP {status}"))
                    }
                    status => {
                        return Err(SourceError::Rejected {
                            status,
                            message: "listing organisations failed".into(),
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
                RetryAfter::Backoff => self.retry().backoff(attempt),
            };
            let Some(resume) = resume_at(Instant::now(), wait, MIN_REQUEST_TIME, deadline) else {
                return Err(SourceError::OutOfTime);
            };
            tokio::time::sleep_until(resume).await;
        }
    }
}

fn parse(body: &[u8]) -> Result<Vec<String>, SourceError> {
    let answer: Organizations =
        serde_json::from_slice(body).map_err(|_| SourceError::Rejected {
            status: 200,
            message: "the organizations answer has no items with ids".into(),
        })?;
    let mut ids: Vec<String> = answer
        .items
        .into_iter()
        .map(|o| o.id)
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_organisation_once() {
        let body = br#"{"items":[{"id":"B","displayName":"b"},{"id":"A"},{"id":"B"},{"id":""}]}"#;
        assert_eq!(parse(body).unwrap(), ["A", "B"]);
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"items":[{"displayName":"no id"}]}"#).is_err());
    }
}
