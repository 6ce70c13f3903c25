//! The Webex HTTP adapter: event pages with paging and retries, and the OAuth token endpoint.
//! It implements the core's `EventSource` and `TokenIssuer` ports.

mod budget;
mod events;
mod link;
mod oauth;
mod people;
mod retry;

use std::sync::Arc;
use std::time::Duration;

pub use budget::RequestBudget;
pub use retry::RetryPolicy;

pub const DEFAULT_API_URL: &str = "https://webexapis.com/v1";

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
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let base = reqwest::Url::parse(base_url.trim_end_matches('/'))
            .map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "https" | "http") || base.host_str().is_none() {
            return Err(invalid("must be an http(s) URL with a host"));
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

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{}", self.base.as_str().trim_end_matches('/'), path)
    }
}
