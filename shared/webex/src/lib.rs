//! The Webex HTTP adapter: what only Webex has (the OAuth token endpoint, `/people/me`,
//! `/organizations`, `/webhooks`), over the generic `http-source` client that also reads its event pages.
//! It implements the core's `TokenIssuer`, `AccountInfo`, `OrgDirectory` and `EventSource` ports,
//! and the webhooks calls of the registrar.

mod call;
mod events;
mod oauth;
mod organizations;
mod people;
mod webhooks;

use collector_core::ports::{EventSource, Page, PageRequest, SourceError};
use collector_core::secret::Credential;
use collector_core::source::SourceSpec;
use http_source::HttpSource;
use tokio::time::Instant;

pub use http_source::{
    ClientError, ERROR_BODY_CAP, EVENT_PAGE_CAP, MAX_RETRY_AFTER, PERSON_CAP, RequestBudget,
    RetryPolicy, TOKEN_CAP,
};

pub use webhooks::WebhookSpec;

pub const DEFAULT_API_URL: &str = "https://webexapis.com/v1";

/// Who answers, in messages.
pub use collector_core::source::webex::DISPLAY;

/// One HTTP client for every call to Webex, built once per process.
#[derive(Clone, Debug)]
pub struct WebexClient {
    http: HttpSource,
}

impl WebexClient {
    pub fn new(base_url: &str, retry: RetryPolicy) -> Result<Self, ClientError> {
        Ok(Self {
            http: HttpSource::new(Some(base_url), retry)?,
        })
    }

    /// Page requests keep within `budget`, whichever task sends them.
    pub fn with_budget(self, budget: RequestBudget) -> Self {
        Self {
            http: self.http.with_budget(budget),
        }
    }

    /// Gives back the shared request turns this client reserved and did not use: a run is over.
    pub async fn release_budget(&self) {
        self.http.release_budget().await;
    }

    /// The client that reads event pages, within this client's budget: a collector's source.
    pub fn pages(&self) -> &HttpSource {
        &self.http
    }

    fn endpoint(&self, path: &str) -> String {
        self.http.endpoint(path)
    }

    fn retry(&self) -> &RetryPolicy {
        self.http.retry()
    }
}

/// The Webex event APIs are sources like any other, read by the generic client.
impl EventSource for WebexClient {
    async fn fetch_page(
        &self,
        source: &SourceSpec,
        credential: &Credential,
        request: &PageRequest,
        deadline: Instant,
    ) -> Result<Page, SourceError> {
        self.http
            .fetch_page(source, credential, request, deadline)
            .await
    }
}
