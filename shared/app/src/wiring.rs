//! Builds a ready collector (SDK clients, Webex client, stores, sink) and runs it: the single
//! place where adapters meet the core.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{DynamoStateStore, S3Sink, SecretsManagerStore};
use collector_core::credentials::CredentialSource;
use collector_core::ports::{Clock, SystemClock};
use collector_core::tokens::TokenManager;
use collector_core::{
    CollectError, Collector, IdentityName, RunSummary, Settings, StreamId, Unit, source::SourceSpec,
};
use http_source::HttpSource;
use tokio::time::Instant;
use tracing::Instrument;
use webex_client::{RequestBudget, RetryPolicy, WebexClient};

use crate::config::{Config, ConfigError, Orgs};

/// Refresh an access token this long before it expires, so no page starts with a token about
/// to die.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(600);
/// Kept back before the deadline to abort an upload and write the cursor.
const STOP_RESERVE: Duration = Duration::from_secs(2);

/// Every stream's collector, whatever its source: pages are read by the generic HTTP client.
pub type StreamCollector<C = SystemClock> = Collector<DynamoStateStore, S3Sink, HttpSource, C>;

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the Webex client: {0}")]
    Webex(#[from] webex_client::ClientError),
    /// The collector document named by `COLLECTOR_CONFIG`: unreadable, or with mistakes.
    #[error(transparent)]
    Document(#[from] crate::document_location::DocumentLoadError),
}

pub fn build_collector<C: Clock>(
    stream: StreamId,
    config: &Config,
    sdk: &aws_config::SdkConfig,
    clock: Arc<C>,
) -> Result<StreamCollector<C>, WiringError> {
    Ok(Parts::new(stream, config, sdk, clock)?.collector(Unit::of_secret(stream)))
}

/// What every unit of a stream is collected with: one HTTP client (so one request budget), the
/// identity's credentials, the stores and the settings; each unit gets its own collector from
/// them.
#[derive(Debug)]
pub(crate) struct Parts<C> {
    /// What the stream's units read: built once, shared by every unit's collector.
    source: Arc<SourceSpec>,
    /// Whose secret the stream reads with: the document's identity, or the stream's default.
    pub identity: IdentityName,
    pages: HttpSource,
    access: Access,
    state: Arc<DynamoStateStore>,
    sink: S3Sink,
    settings: Settings,
    pub clock: Arc<C>,
}

/// How a stream's requests prove their identity.
#[derive(Debug)]
enum Access {
    /// Webex OAuth: each collector keeps the rotating token under the token lock (and Webex
    /// lists a partner's organisations).
    Webex {
        webex: WebexClient,
        secrets: SecretsManagerStore,
    },
    /// Any other kind: one source of credentials for all the stream's units (one token cache).
    Other(Arc<dyn CredentialSource>),
}

impl<C: Clock> Parts<C> {
    pub fn new(
        stream: StreamId,
        config: &Config,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let spec = stream.spec();
        if let Some(name) = spec.unsupported_filter(&config.filters) {
            return Err(WiringError::Config(ConfigError {
                name,
                problem: format!("does not apply to the {} stream", stream.name()),
            }));
        }
        // Compliance events are the token's organisation's, whatever is asked: one at most, and
        // named only to be checked against the secret's.
        let one_org = matches!(&config.orgs, Orgs::OfSecret)
            || matches!(&config.orgs, Orgs::List(ids) if ids.len() == 1);
        if !spec.takes_org_id && !one_org {
            return Err(WiringError::Config(ConfigError {
                name: "ORG_IDS",
                problem: format!(
                    "does not apply to the {} stream beyond one organisation: it reads the \
                     organisation of its token",
                    stream.name()
                ),
            }));
        }
        if !spec.takes_org_id && config.fanout_queue_url.is_some() {
            return Err(WiringError::Config(ConfigError {
                name: "FANOUT_QUEUE_URL",
                problem: format!(
                    "does not apply to the {} stream: it has one organisation, its token's",
                    stream.name()
                ),
            }));
        }
        let state = Arc::new(DynamoStateStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.state_table,
        ));
        // Webex limits requests per client and token: every process reading with this
        // identity (concurrent fan-out runs, `webexctl collect`) takes turns from one schedule.
        let identity = config
            .identity
            .clone()
            .unwrap_or_else(|| IdentityName::from_static(spec.default_identity));
        let budget = RequestBudget::per_minute(config.max_requests_per_minute)
            .shared(state.clone(), identity.as_str());
        let webex = WebexClient::new(&config.webex_api_url, RetryPolicy::default())
            .map(|client| client.with_budget(budget))
            .map_err(|e| match e {
                webex_client::ClientError::InvalidUrl { reason, .. } => {
                    WiringError::Config(ConfigError {
                        name: "WEBEX_API_URL",
                        problem: reason,
                    })
                }
                other => WiringError::Webex(other),
            })?;
        let secret_id = config.token_secret_id.as_deref().ok_or(ConfigError {
            name: "TOKEN_SECRET_ID",
            problem: "is required but not set".into(),
        })?;
        Ok(Self {
            source: Arc::new(stream.source()),
            identity,
            pages: webex.pages().clone(),
            access: Access::Webex {
                webex,
                secrets: SecretsManagerStore::new(
                    aws_sdk_secretsmanager::Client::new(sdk),
                    secret_id,
                ),
            },
            state,
            sink: sink(config, sdk),
            settings: settings(config, spec.max_page, spec.filter_queries(&config.filters)),
            clock,
        })
    }

    /// The parts of a document stream that does not read Webex: `source` read with
    /// `identity`, whose request pace is `pace#sources#{identity}` (a name no Webex identity's
    /// pace takes, so the deployed role can tell them apart).
    pub fn of_source(
        stream: &str,
        source: SourceSpec,
        identity: &crate::document::Identity,
        config: &Config,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let state = Arc::new(DynamoStateStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.state_table,
        ));
        let budget = RequestBudget::per_minute(identity.max_requests_per_minute)
            .shared(state.clone(), format!("sources#{}", identity.name));
        let pages = HttpSource::new(None, RetryPolicy::default())?.with_budget(budget);
        let credentials = crate::credentials::of_identity(
            identity,
            stream,
            &aws_sdk_secretsmanager::Client::new(sdk),
            &pages,
        )
        .ok_or_else(|| {
            WiringError::Config(ConfigError {
                name: "COLLECTOR_CONFIG",
                problem: format!(
                    "identity {} is a Webex identity; the {} source reads with another kind",
                    identity.name, source.name
                ),
            })
        })?;
        let max_size = source.paging.max_size;
        Ok(Self {
            source: Arc::new(source),
            identity: credentials.identity().clone(),
            pages,
            access: Access::Other(credentials),
            state,
            sink: sink(config, sdk),
            // One query a window: the request template holds any filter.
            settings: settings(config, max_size, vec![Vec::new()]),
            clock,
        })
    }

    /// A Webex stream's token keeper: each collector has its own (they share the secret and
    /// its token lock, so their refreshes never race). `None` for other sources.
    pub fn tokens(&self) -> Option<StreamTokens<C>> {
        let Access::Webex { webex, secrets } = &self.access else {
            return None;
        };
        Some(self.token_manager(webex, secrets))
    }

    fn token_manager(&self, webex: &WebexClient, secrets: &SecretsManagerStore) -> StreamTokens<C> {
        TokenManager::new(
            self.identity.clone(),
            secrets.clone(),
            webex.clone(),
            self.state.clone(),
            self.clock.clone(),
            TOKEN_REFRESH_MARGIN,
        )
    }

    /// The Webex client of a Webex stream (organisation discovery).
    pub fn webex(&self) -> Option<&WebexClient> {
        match &self.access {
            Access::Webex { webex, .. } => Some(webex),
            Access::Other(_) => None,
        }
    }

    /// When the stream's scheduled runs are due (its units share the state table).
    pub fn due(&self) -> &dyn collector_core::ports::DueLedger {
        &*self.state
    }

    pub fn collector(&self, unit: Unit) -> StreamCollector<C> {
        let credentials: Arc<dyn CredentialSource> = match &self.access {
            Access::Webex { webex, secrets } => Arc::new(self.token_manager(webex, secrets)),
            Access::Other(credentials) => credentials.clone(),
        };
        Collector::new(
            self.source.clone(),
            unit,
            self.settings.clone(),
            self.state.clone(),
            self.sink.clone(),
            self.pages.clone(),
            credentials,
            self.clock.clone(),
        )
    }
}

fn sink(config: &Config, sdk: &aws_config::SdkConfig) -> S3Sink {
    S3Sink::new(
        aws_adapters::s3_client(sdk, config.s3_force_path_style),
        &config.output_bucket,
    )
}

fn settings(config: &Config, max_page: u32, queries: Vec<Vec<(&'static str, String)>>) -> Settings {
    Settings {
        policy: config.policy,
        page_size: config.page_size.unwrap_or(max_page),
        key_prefix: config.output_prefix.clone(),
        part_size: config.part_size,
        stop_reserve: STOP_RESERVE,
        queries,
        concurrent_windows: config.backfill_windows,
        max_window_events: config.max_window_events,
        collector_version: env!("CARGO_PKG_VERSION"),
        fields: config.fields.clone(),
    }
}

pub(crate) type StreamTokens<C> =
    TokenManager<SecretsManagerStore, WebexClient, DynamoStateStore, C>;

/// One run until `deadline`, logged with its outcome: the path of the Lambda and of
/// `webexctl collect` alike.
pub async fn run_once<C: Clock>(
    collector: &StreamCollector<C>,
    deadline: Instant,
) -> Result<RunSummary, CollectError> {
    let span = tracing::info_span!("run", stream = %collector.unit().stream);
    let started = Instant::now();
    // Boxed and type-erased: the collector's future nests deeply enough that the Lambda
    // runtime's future around it would exceed the compiler's query depth.
    let run: Pin<Box<dyn Future<Output = Result<RunSummary, CollectError>> + Send + '_>> =
        Box::pin(collector.run(deadline));
    let result = run.instrument(span.clone()).await;
    // The turns of the identity's request pace that this run reserved and did not take are the
    // next run's (of any process), not a wait for it.
    collector.source().release_budget().await;
    let _entered = span.enter();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(s) => tracing::info!(
            org_id = %s.org_id,
            windows = s.windows,
            events = s.events,
            objects = s.objects,
            pages = s.pages,
            committed_until = ?s.committed_until.map(|t| t.to_rfc3339()),
            stopped = ?s.stopped,
            elapsed_ms,
            "run finished"
        ),
        Err(e) => tracing::error!(kind = e.kind().name(), error = %e, elapsed_ms, "run failed"),
    }
    result
}
