//! OAuth 2.0 client-credentials tokens (RFC 6749 §4.4) for the identities of kind
//! `oauth_client_credentials`: an Entra app reading Graph, or any API with a token endpoint of
//! its own. The token is kept in memory for the process and used until shortly before it
//! expires; it is never stored (a bearer token outside Secrets Manager would break invariant 6,
//! and nothing rotates, so nothing is lost with the process). Concurrent windows wait for one
//! request rather than each sending their own.

use std::time::{Duration, SystemTime};

use collector_core::ports::TokenError;
use collector_core::secret::{AccessToken, ClientSecret};
use collector_core::source::RateLimitHeaders;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::body::{ERROR_BODY_CAP, TOKEN_CAP, read_capped};
use crate::retry::{RetryAfter, resume_at, retry_after};
use crate::{HttpSource, MIN_REQUEST_TIME, checked_url};

/// Without an `expires_in`, a token is trusted this long.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(600);
/// Used until this long before it expires, at most (half its life for short-lived tokens).
const MARGIN: Duration = Duration::from_secs(300);

/// How the client proves itself at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form (what Entra documents).
    Body,
    /// HTTP Basic.
    Basic,
}

/// An identity's token endpoint and what to ask it for.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub token_url: String,
    /// The identity's name, for messages.
    pub identity: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// `scope`, or `resource` for v1 endpoints, as form fields; plus any extra fields
    /// (`audience`).
    pub form: Vec<(String, String)>,
    pub auth: ClientAuth,
}

#[derive(Debug)]
pub struct ClientCredentials {
    http: HttpSource,
    url: reqwest::Url,
    request: TokenRequest,
    cached: Mutex<Option<(AccessToken, Instant)>>,
}

#[derive(Deserialize)]
struct Grant {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

impl ClientCredentials {
    pub fn new(http: HttpSource, request: TokenRequest) -> Result<Self, String> {
        let url = checked_url(&request.token_url)
            .map_err(|reason| format!("the token URL of identity {} {reason}", request.identity))?;
        Ok(Self {
            http,
            url,
            request,
            cached: Mutex::new(None),
        })
    }

    /// A token that is good for a while yet: the one kept, or a new one.
    pub async fn token(&self, deadline: Instant) -> Result<AccessToken, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch(deadline).await?;
        let margin = MARGIN.min(lifetime / 2);
        *cached = Some((token.clone(), Instant::now() + (lifetime - margin)));
        Ok(token)
    }

    /// The API refused `rejected` before its time: forget it and fetch another, unless another
    /// task did already.
    pub async fn replace_rejected(
        &self,
        rejected: &AccessToken,
        deadline: Instant,
    ) -> Result<AccessToken, TokenError> {
        {
            let mut cached = self.cached.lock().await;
            if cached.as_ref().is_some_and(|(token, _)| token == rejected) {
                *cached = None;
            }
        }
        self.token(deadline).await
    }

    async fn fetch(&self, deadline: Instant) -> Result<(AccessToken, Duration), TokenError> {
        let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
        form.extend(self.request.form.iter().cloned());
        if self.request.auth == ClientAuth::Body {
            form.push(("client_id".to_string(), self.request.client_id.clone()));
            form.push((
                "client_secret".to_string(),
                self.request.client_secret.secret().to_string(),
            ));
        }
        let identity = &self.request.identity;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left < MIN_REQUEST_TIME {
                return Err(TokenError::Failed(format!(
                    "no time was left for a token request of identity {identity}"
                )));
            }
            let mut builder = self
                .http
                .http()
                .post(self.url.clone())
                .form(&form)
                .timeout(self.http.retry().request_timeout.min(left));
            if self.request.auth == ClientAuth::Basic {
                builder = builder.basic_auth(
                    &self.request.client_id,
                    Some(self.request.client_secret.secret()),
                );
            }
            // What to say if this was the last attempt, and how long the endpoint asked us
            // to wait (`None`: our own backoff).
            let (reason, wait) = match builder.send().await {
                Err(e) if e.is_timeout() => ("timed out".to_string(), None),
                Err(_) => ("connection failed".to_string(), None),
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(
                        "the token endpoint",
                        status.as_u16(),
                        response.headers(),
                        &RateLimitHeaders::standard(),
                        SystemTime::now(),
                    );
                    if status.is_success() {
                        let body = read_capped(response, TOKEN_CAP, "token answer")
                            .await
                            .map_err(|e| TokenError::Failed(e.to_string()))?;
                        return granted(&body, identity);
                    }
                    let body = read_capped(response, ERROR_BODY_CAP, "error")
                        .await
                        .unwrap_or_default();
                    let error: Option<ErrorBody> = serde_json::from_slice(&body).ok();
                    let (code, description) = error
                        .map(|e| {
                            (
                                e.error.unwrap_or_default(),
                                e.error_description.unwrap_or_default(),
                            )
                        })
                        .unwrap_or_default();
                    let description: String = description.chars().take(300).collect();
                    match (status.as_u16(), code.as_str()) {
                        (_, "invalid_client") | (401, _) => {
                            return Err(TokenError::InvalidClient(format!(
                                "the token endpoint refused identity {identity}'s client id or \
                                 secret ({description})"
                            )));
                        }
                        (
                            _,
                            "invalid_scope"
                            | "unauthorized_client"
                            | "invalid_request"
                            | "invalid_grant",
                        ) => {
                            return Err(TokenError::Refused(format!(
                                "the token endpoint refused identity {identity}'s request ({code}: \
                                 {description}); check its scope, resource and form"
                            )));
                        }
                        (429 | 500..=599, _) => {
                            let reason = format!("the token endpoint answered HTTP {status}");
                            match wait {
                                Ok(RetryAfter::Wait(wait)) => (reason, Some(wait)),
                                Ok(RetryAfter::Backoff) => (reason, None),
                                Err(absurd) => return Err(TokenError::Failed(absurd.to_string())),
                            }
                        }
                        (status, _) => {
                            return Err(TokenError::Failed(format!(
                                "the token endpoint answered HTTP {status} for identity {identity} \
                                 ({code}: {description})"
                            )));
                        }
                    }
                }
            };
            if attempt >= self.http.retry().max_attempts {
                return Err(TokenError::Failed(format!(
                    "no token for identity {identity} after {attempt} attempts; last: {reason}"
                )));
            }
            let wait = wait.unwrap_or_else(|| self.http.retry().backoff(attempt));
            let Some(resume) = resume_at(Instant::now(), wait, MIN_REQUEST_TIME, deadline) else {
                return Err(TokenError::Failed(format!(
                    "no token for identity {identity}: {reason}; no time left to try again"
                )));
            };
            tokio::time::sleep_until(resume).await;
        }
    }
}

fn granted(body: &[u8], identity: &str) -> Result<(AccessToken, Duration), TokenError> {
    let grant: Grant = serde_json::from_slice(body).map_err(|_| {
        TokenError::Failed(format!(
            "the token endpoint's answer for identity {identity} is not JSON"
        ))
    })?;
    let token = grant
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            TokenError::Failed(format!(
                "the token endpoint's answer for identity {identity} holds no access_token"
            ))
        })?;
    let lifetime = grant.expires_in.map_or(ASSUMED_LIFETIME, |s| {
        Duration::from_secs(s.clamp(1, 86_400))
    });
    Ok((AccessToken::new(token), lifetime))
}
