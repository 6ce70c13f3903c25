//! The HTTP adapter every source reads through. A source's description (the core's
//! `SourceSpec`) says what to ask and how pages lead on; this crate sends the requests and
//! holds what is the same for every API: URL rules, capped bodies, retries within the run's
//! deadline, `Retry-After` and rate-limit headers, a request budget per identity, and the
//! same-origin rule for links. It implements the core's `EventSource` port.

pub mod body;
pub mod budget;
pub mod client_credentials;
mod encoding;
mod fetch;
pub mod link;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use collector_core::ports::SourceError;
use tokio::time::Instant;

pub use body::{ERROR_BODY_CAP, EVENT_PAGE_CAP, PERSON_CAP, TOKEN_CAP};
pub use budget::RequestBudget;
pub use retry::{MAX_RETRY_AFTER, RetryPolicy};

/// Less time than this before the deadline is too little for a request and its answer.
pub const MIN_REQUEST_TIME: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid API URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// One HTTP client for a source's requests, built once per process and cloned cheaply.
#[derive(Clone, Debug)]
pub struct HttpSource {
    http: reqwest::Client,
    /// What a source's relative URLs are relative to (the Webex API's base URL).
    base: Option<reqwest::Url>,
    retry: RetryPolicy,
    /// Shared by every clone: all of an identity's page requests draw on one budget.
    budget: Option<Arc<RequestBudget>>,
}

impl HttpSource {
    /// A client whose sources' relative URLs are relative to `base`, if given.
    pub fn new(base: Option<&str>, retry: RetryPolicy) -> Result<Self, ClientError> {
        let base = base
            .map(|base| {
                let trimmed = base.trim_end_matches('/');
                checked_url(trimmed).map_err(|reason| ClientError::InvalidUrl {
                    url: without_password(base),
                    reason,
                })
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            // A redirect would carry the credential to wherever the API (or anyone in between)
            // points; the APIs we call answer in place.
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

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Gives back the shared request turns this client reserved and did not use: a run is over.
    pub async fn release_budget(&self) {
        if let Some(budget) = &self.budget {
            budget.release().await;
        }
    }

    /// Waits for the request budget. `OutOfTime` when a request could not be sent and answered
    /// before `deadline` (less than [`MIN_REQUEST_TIME`] left, now or once the budget allows).
    pub async fn admit(&self, deadline: Instant) -> Result<(), SourceError> {
        let latest = deadline.checked_sub(MIN_REQUEST_TIME).unwrap_or(deadline);
        if Instant::now() >= latest {
            return Err(SourceError::OutOfTime);
        }
        match &self.budget {
            Some(budget) if !budget.take(latest).await => Err(SourceError::OutOfTime),
            _ => Ok(()),
        }
    }

    /// `path` below the base URL (`people/me`); an absolute URL as it is.
    pub fn endpoint(&self, path: &str) -> String {
        match &self.base {
            Some(base) if !path.contains("://") => {
                format!("{}/{}", base.as_str().trim_end_matches('/'), path)
            }
            _ => path.to_string(),
        }
    }
}

/// A URL a credential may travel to: http(s) with a host, https unless it is this machine (the
/// simulator in tests and the demo), and no user name or password in it.
pub fn checked_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err("must be an http(s) URL with a host".to_string());
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(
            "must be https:// (http:// is accepted only for 127.0.0.1, ::1 and localhost)"
                .to_string(),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".to_string());
    }
    Ok(url)
}

/// The URL as an error may repeat it: a password in it is not.
pub fn without_password(url: &str) -> String {
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
            let got = HttpSource::new(Some(url), RetryPolicy::default());
            assert_eq!(got.is_ok(), accepted, "{url}: {got:?}");
            if let Err(e) = got {
                assert!(matches!(e, ClientError::InvalidUrl { .. }), "{url}: {e}");
            }
        }
    }

    #[test]
    fn a_refused_url_does_not_repeat_its_password() {
        let e = HttpSource::new(
            Some("https://user:hunter2@webexapis.com/v1"),
            RetryPolicy::default(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
