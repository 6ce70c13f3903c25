//! The Webex HTTP adapter: event pages with paging and retries, and the OAuth token endpoint.
//! It implements the core's `EventSource` and `TokenIssuer` ports.

mod body;
mod budget;
mod events;
mod link;
mod oauth;
mod organizations;
mod people;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use collector_core::ports::SourceError;
use tokio::time::Instant;

pub use body::{ERROR_BODY_CAP, EVENT_PAGE_CAP, PERSON_CAP, TOKEN_CAP};
pub use budget::RequestBudget;
pub use retry::{MAX_RETRY_AFTER, RetryPolicy};

pub const DEFAULT_API_URL: &str = "https://webexapis.com/v1";

/// Less time than this before the deadline is too little for a request and its answer.
const MIN_REQUEST_TIME: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid Webex API URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// One HTTP client for every call to Webex, built once per process.
#[derive(Clone, Debug)]
pub struct WebexClient {
    http: reqwest::Client,
    base: reqwest::Url,
    retry: RetryPolicy,
    /// Shared by every clone: all of a collector's page requests draw on one budget.
    budget: Option<Arc<RequestBudget>>,
}

impl WebexClient {
    pub fn new(base_url: &str, retry: RetryPolicy) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: without_password(base_url),
            reason: reason.to_string(),
        };
        let base = reqwest::Url::parse(base_url.trim_end_matches('/'))
            .map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "https" | "http") || base.host_str().is_none() {
            return Err(invalid("must be an http(s) URL with a host"));
        }
        // The bearer token and the OAuth client secret travel to this URL: in the clear only
        // to this machine (the simulator in tests and the demo).
        if base.scheme() == "http" && !is_loopback(&base) {
            return Err(invalid(
                "must be https:// (http:// is accepted only for 127.0.0.1, ::1 and localhost)",
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("must not carry a user name or password"));
        }
        let http = reqwest::Client::builder()
            // A redirect would carry the bearer token to wherever Webex (or anyone in between)
            // points; the APIs we call never redirect.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("webex-events-to-s3/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            retry,
            budget: None,
        })
    }

    /// Page requests keep within `budget`, whichever task sends them.
    pub fn with_budget(self, budget: RequestBudget) -> Self {
        Self {
            budget: Some(Arc::new(budget)),
            ..self
        }
    }

    /// Gives back the shared request turns this client reserved and did not use: a run is over.
    pub async fn release_budget(&self) {
        if let Some(budget) = &self.budget {
            budget.release().await;
        }
    }

    /// Waits for the request budget. `OutOfTime` when a request could not be sent and answered
    /// before `deadline` (less than [`MIN_REQUEST_TIME`] left, now or once the budget allows).
    async fn admit(&self, deadline: Instant) -> Result<(), SourceError> {
        let latest = deadline.checked_sub(MIN_REQUEST_TIME).unwrap_or(deadline);
        if Instant::now() >= latest {
            return Err(SourceError::OutOfTime);
        }
        match &self.budget {
            Some(budget) if !budget.take(latest).await => Err(SourceError::OutOfTime),
            _ => Ok(()),
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{}", self.base.as_str().trim_end_matches('/'), path)
    }
}

/// The URL as an error may repeat it: a password in it is not.
fn without_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The host is this machine: 127.0.0.0/8, ::1 or `localhost`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts are written in brackets; the URL parser has normalised both forms already.
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_is_https_unless_it_is_this_machine() {
        let cases = [
            ("https://webexapis.com/v1", true),
            ("https://webexapis.com/v1/", true),
            ("http://127.0.0.1:8080/v1", true),
            ("http://127.1.2.3/v1", true),
            ("http://localhost:9/v1", true),
            ("http://LOCALHOST/v1", true),
            ("http://[::1]:8080/v1", true),
            ("http://webexapis.com/v1", false),
            ("http://10.0.0.1/v1", false),
            ("http://[::2]/v1", false),
            ("http://127.0.0.1.evil.example/v1", false),
            ("http://localhost.evil.example/v1", false),
            ("http://0x7f000001.evil/v1", false),
            ("https://user:pass@webexapis.com/v1", false),
            ("ftp://webexapis.com/v1", false),
            ("webexapis.com/v1", false),
        ];
        for (url, accepted) in cases {
            let got = WebexClient::new(url, RetryPolicy::default());
            assert_eq!(got.is_ok(), accepted, "{url}: {got:?}");
            if let Err(e) = got {
                assert!(matches!(e, ClientError::InvalidUrl { .. }), "{url}: {e}");
            }
        }
    }

    #[test]
    fn a_refused_url_does_not_repeat_its_password() {
        let e = WebexClient::new(
            "https://user:hunter2@webexapis.com/v1",
            RetryPolicy::default(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
