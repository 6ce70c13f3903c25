//! The OAuth token endpoint (`POST /access_token`, form body): refreshing an access token.
//! <https://developer.webex.com/docs/integrations>

use std::time::Duration;

use collector_core::ports::{TokenError, TokenGrant, TokenIssuer};
use collector_core::secret::{AccessToken, ClientSecret, RefreshToken};
use collector_core::source::RateLimitHeaders;
use serde::Deserialize;
use tokio::time::Instant;

use crate::WebexClient;

/// An attempt needs at least this long to be worth sending: a token request with less time
/// than that would only time out.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: String,
    refresh_token_expires_in: u64,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    message: Option<String>,
}

impl TokenIssuer for WebexClient {
    async fn refresh(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        refresh_token: &RefreshToken,
        deadline: Instant,
    ) -> Result<TokenGrant, TokenError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", client_secret.secret()),
            ("refresh_token", refresh_token.secret()),
        ];
        self.token_request(&form, deadline).await
    }

    async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        code: &str,
        redirect_uri: &str,
        deadline: Instant,
    ) -> Result<TokenGrant, TokenError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("client_secret", client_secret.secret()),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        self.token_request(&form, deadline).await
    }
}

impl WebexClient {
    /// Posts a grant to the token endpoint, retrying what may pass (transport errors, 429, 5xx),
    /// and gives up by `deadline`: each attempt's timeout and each wait fits before it.
    pub(crate) async fn token_request(
        &self,
        form: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<TokenGrant, TokenError> {
        let url = self.endpoint("access_token");
        let mut attempt = 0;
        let mut last = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < MIN_ATTEMPT {
                return Err(TokenError::Failed(match attempt {
                    0 => "no time was left for a token request".to_string(),
                    n => format!("{last}; no time left for another attempt after {n}"),
                }));
            }
            attempt += 1;
            let reason = match self
                .http
                .http()
                .post(&url)
                .form(form)
                .timeout(self.retry().request_timeout.min(left))
                .send()
                .await
            {
                Err(e) if e.is_timeout() => "token endpoint timed out".to_string(),
                Err(_) => "token endpoint unreachable".to_string(),
                Ok(response) => {
                    let status = response.status();
                    let wait = http_source::retry::retry_after(
                        crate::DISPLAY,
                        status.as_u16(),
                        response.headers(),
                        &RateLimitHeaders::standard(),
                        std::time::SystemTime::now(),
                    );
                    let body = if status.is_success() {
                        http_source::body::read_capped(
                            response,
                            http_source::body::TOKEN_CAP,
                            "token answer",
                        )
                        .await
                        .map_err(unusable_answer)?
                    } else {
                        // Only `error` and `error_description` are read; a body over its cap,
                        // or cut off, is treated as one without them.
                        http_source::body::read_capped(
                            response,
                            http_source::body::ERROR_BODY_CAP,
                            "error",
                        )
                        .await
                        .unwrap_or_default()
                    };
                    if status.is_success() {
                        return parse_grant(&body);
                    }
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(refusal(status.as_u16(), &body));
                    }
                    match wait {
                        Err(absurd) => return Err(TokenError::Failed(absurd.to_string())),
                        Ok(http_source::retry::RetryAfter::Wait(wait))
                            if attempt < self.retry().max_attempts =>
                        {
                            let wait = wait.min(self.retry().max_delay);
                            let Some(resume) = http_source::retry::resume_at(
                                Instant::now(),
                                wait,
                                MIN_ATTEMPT,
                                deadline,
                            ) else {
                                return Err(TokenError::Failed(format!(
                                    "token endpoint answered HTTP {status} and asked to wait {}s, past the deadline",
                                    wait.as_secs()
                                )));
                            };
                            tokio::time::sleep_until(resume).await;
                            continue;
                        }
                        Ok(_) => {}
                    }
                    format!("token endpoint answered HTTP {status}")
                }
            };
            if attempt >= self.retry().max_attempts {
                return Err(TokenError::Failed(format!(
                    "{reason} after {attempt} attempts"
                )));
            }
            let backoff = self.retry().backoff(attempt);
            match http_source::retry::resume_at(Instant::now(), backoff, MIN_ATTEMPT, deadline) {
                Some(resume) => tokio::time::sleep_until(resume).await,
                None => {
                    return Err(TokenError::Failed(format!(
                        "{reason}; no time left for another attempt after {attempt}"
                    )));
                }
            }
            last = reason;
        }
    }
}

/// A token answer over its cap, or cut off. Not retried: a refresh may have rotated the
/// refresh token already, and a second refresh with the old one would be refused anyway.
fn unusable_answer(e: http_source::body::BodyError) -> TokenError {
    match e {
        too_large @ http_source::body::BodyError::TooLarge { .. } => TokenError::Failed(format!(
            "the token endpoint's answer is unusable: {too_large}"
        )),
        http_source::body::BodyError::Cut { .. } => {
            TokenError::Failed("the token endpoint's answer was cut off".to_string())
        }
    }
}

fn parse_grant(body: &[u8]) -> Result<TokenGrant, TokenError> {
    let r: TokenResponse = serde_json::from_slice(body).map_err(|_| {
        TokenError::Failed("the token endpoint's answer is not a token response".to_string())
    })?;
    Ok(TokenGrant {
        access_token: AccessToken::new(r.access_token),
        access_expires_in: Duration::from_secs(r.expires_in),
        refresh_token: RefreshToken::new(r.refresh_token),
        refresh_expires_in: Duration::from_secs(r.refresh_token_expires_in),
        scopes: r.scope,
    })
}

/// A 4xx from the token endpoint. Only `error` and `error_description` are repeated: they name
/// the problem, never a credential.
fn refusal(status: u16, body: &[u8]) -> TokenError {
    let parsed: Option<OAuthErrorBody> = serde_json::from_slice(body).ok();
    let (error, description) = match parsed {
        Some(b) => (
            b.error.unwrap_or_default(),
            b.error_description.or(b.message).unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    let description: String = description.chars().take(300).collect();
    let detail = if description.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {description}")
    };
    match error.as_str() {
        "invalid_grant" => TokenError::InvalidGrant(detail),
        "invalid_client" | "unauthorized_client" => TokenError::InvalidClient(detail),
        // Webex answers a refused refresh with 400 or 401; without an `error` field we still
        // cannot use this refresh token, so a person must authorise again.
        _ if status == 400 || status == 401 => TokenError::InvalidGrant(detail),
        _ => TokenError::Failed(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_refusals() {
        let cases: [(u16, &str, &str); 5] = [
            (
                400,
                r#"{"error":"invalid_grant","error_description":"expired"}"#,
                "invalid_grant",
            ),
            (401, r#"{"error":"invalid_client"}"#, "invalid_client"),
            (401, "not json", "invalid_grant"),
            (404, r#"{"message":"no route"}"#, "failed"),
            (
                400,
                r#"{"error":"invalid_request","error_description":"bad"}"#,
                "invalid_grant",
            ),
        ];
        for (status, body, expected) in cases {
            let got = match refusal(status, body.as_bytes()) {
                TokenError::InvalidGrant(_) => "invalid_grant",
                TokenError::InvalidClient(_) => "invalid_client",
                TokenError::Refused(_) | TokenError::Failed(_) => "failed",
            };
            assert_eq!(got, expected, "{status} {body}");
        }
    }
}
