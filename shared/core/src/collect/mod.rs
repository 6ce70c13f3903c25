//! The collect use case (DESIGN §3): take the lease, then window by window fetch every page,
//! write one object, and only then move the cursor; stop cleanly before the deadline.
//!
//! Split by job: `schedule` chooses the windows of a run and commits them in order, `fetch`
//! fetches one window into its object, `adopt` accounts for an object an earlier run wrote,
//! `digest` keeps what the committed windows wrote, `classify` sorts failures.

mod adopt;
mod backfill;
mod classify;
mod digest;
mod fetch;
mod list;
mod scan;
mod schedule;
#[cfg(test)]
mod tests;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::credentials::CredentialSource;
use crate::cursor::{CursorKey, Lane, LastError, Status};
use crate::error::{CollectError, ErrorKind};
use crate::ports::{Clock, CursorStore, EventSource, LeaseStore, ObjectSink};
use crate::source::SourceSpec;
use crate::time::Timestamp;
use crate::window::{Window, WindowPolicy};

pub use backfill::{BackfillPlan, backfill_prefix_problem};
pub use digest::INLINE_DIGEST_MAX;
pub use verify::Verdict;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub policy: WindowPolicy,
    pub page_size: u32,
    /// Prefix of every object key, e.g. `webex/`.
    pub key_prefix: String,
    pub part_size: usize,
    /// Time kept back before the deadline to abort an upload and write the cursor.
    pub stop_reserve: Duration,
    /// The filter parameters of each query a window needs (one empty set: no filters); see
    /// [`StreamSpec::filter_queries`].
    pub queries: Vec<Vec<(&'static str, String)>>,
    /// Windows fetched at once when the stream is behind (committed in order).
    pub concurrent_windows: usize,
    /// A window that would hold more events than this is split (down to one second), so that
    /// memory is bounded by this, never by how busy an organisation is.
    pub max_window_events: u64,
    pub collector_version: &'static str,
    /// The stream's custom fields: object metadata, and on each line when it says so.
    pub fields: crate::object::CustomFields,
}

/// Events a window may hold before it is split: what a window keeps per event (its id for
/// de-duplication, and for the digest) stays a few MB.
pub const DEFAULT_MAX_WINDOW_EVENTS: u64 = 100_000;

/// Upstream failures are retried by the next scheduled run; only this many in a row turn the
/// stream's status to `error`.
const UPSTREAM_FAILURES_BEFORE_ERROR: u32 = 3;
/// The lease outlives the run's deadline by this much, for clock skew between the runs; a
/// crashed run's lease frees itself this long after its deadline (Lambda has killed it by then).
const LEASE_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    CaughtUp,
    Deadline,
    /// Another run holds the stream's lease or moved its cursor: it owns the work.
    OtherRunActive,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub stream: String,
    pub org_id: String,
    pub windows: u64,
    pub events: u64,
    pub objects: u64,
    pub pages: u64,
    pub committed_until: Option<Timestamp>,
    pub stopped: StopReason,
}

/// A collector's unit of work: one stream, by its name (the key prefix, the cursor key, the
/// metric dimension), in one organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub stream: String,
    pub org: UnitOrg,
}

impl Unit {
    /// A preset's stream under its own name, in the organisation of the identity's secret: the
    /// deployment configured by its environment alone.
    pub fn of_secret(stream: crate::stream::StreamId) -> Self {
        Self {
            stream: stream.name().to_string(),
            org: UnitOrg::OfSecret,
        }
    }
}

/// The organisation of a unit of work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitOrg {
    /// The organisation recorded in the identity's secret: a deployment configured by its
    /// environment collects one organisation, the one that authorised it.
    OfSecret,
    /// A named organisation: from the configuration's list, or discovered.
    Id(String),
}

#[derive(Debug)]
pub struct Collector<St, Sk, Src, Clk> {
    spec: Arc<SourceSpec>,
    unit: Unit,
    settings: Settings,
    state: Arc<St>,
    sink: Sk,
    source: Src,
    credentials: Arc<dyn CredentialSource>,
    clock: Arc<Clk>,
    /// Where each commit's running summary goes, for an operator watching a backfill.
    progress: Option<mpsc::UnboundedSender<RunSummary>>,
}

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: Arc<SourceSpec>,
        unit: Unit,
        settings: Settings,
        state: Arc<St>,
        sink: Sk,
        source: Src,
        credentials: Arc<dyn CredentialSource>,
        clock: Arc<Clk>,
    ) -> Self {
        Self {
            spec,
            unit,
            settings,
            state,
            sink,
            source,
            credentials,
            clock,
            progress: None,
        }
    }

    /// Sends the run's summary after each window it commits.
    pub fn with_progress(mut self, progress: mpsc::UnboundedSender<RunSummary>) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    pub fn unit(&self) -> &Unit {
        &self.unit
    }

    pub fn credentials(&self) -> &dyn CredentialSource {
        &*self.credentials
    }

    /// Where the events come from (for the wiring's own housekeeping around a run).
    pub fn source(&self) -> &Src {
        &self.source
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The organisation the unit reads: its own, or the one its identity's secret names
    /// (`of_secret`), which a stream that reads its token's organisation must match.
    fn org_of(&self, of_secret: Option<String>) -> Result<String, CollectError> {
        let of_secret = of_secret.filter(|o| !o.trim().is_empty());
        let webex = self.spec.webex.map(|id| id.spec());
        let org_of_token = webex.is_some_and(|spec| !spec.takes_org_id);
        match (&self.unit.org, of_secret) {
            (UnitOrg::Id(org), Some(own)) if org_of_token && *org != own => {
                // Compliance events are the token's own organisation's, whatever is asked.
                Err(CollectError::Config(format!(
                    "the {} stream reads the organisation of its token, {own}, not {org}; \
                     authorise an account of {org}, or list {own}",
                    self.unit.stream
                )))
            }
            (UnitOrg::Id(org), _) => Ok(org.clone()),
            (UnitOrg::OfSecret, Some(own)) => Ok(own),
            (UnitOrg::OfSecret, None) => Err(CollectError::Config(format!(
                "the {} identity's secret has no org_id; set it with `webexctl auth init`",
                self.credentials.identity()
            ))),
        }
    }

    /// Where the objects (and digests) of the cursor `key` go: a backfill may name a prefix of
    /// its own.
    fn prefix_of<'k>(&'k self, key: &'k CursorKey) -> &'k str {
        match &key.lane {
            Lane::Backfill {
                prefix: Some(prefix),
                ..
            } => prefix,
            _ => &self.settings.key_prefix,
        }
    }

    fn object_key(&self, key: &CursorKey, window: &Window) -> String {
        crate::object::object_key(self.prefix_of(key), &key.stream, &key.org_id, window)
    }

    /// One invocation's work. Errors are also recorded in the cursor for `webexctl status`.
    pub async fn run(&self, deadline: Instant) -> Result<RunSummary, CollectError> {
        let key = self.live_key().await?;
        self.run_lane(key, deadline).await
    }

    /// The unit's live cursor key, once the identity's secret says which organisation it reads
    /// and that its token may read the stream.
    async fn live_key(&self) -> Result<CursorKey, CollectError> {
        let facts = self.credentials.facts().await?;
        let org_id = self.org_of(facts.org_id.clone())?;
        let webex = self.spec.webex.map(|id| id.spec());
        if let (Some(scopes), Some(spec)) = (
            facts.scopes.as_deref().filter(|s| !s.trim().is_empty()),
            webex,
        ) {
            let needed = spec.scope;
            if !scopes.split([' ', ',']).any(|s| s == needed) {
                return Err(CollectError::Config(format!(
                    "the secret for {} holds a token with the scopes {scopes:?}, without {needed}; point \
                     TOKEN_SECRET_ID at the {} identity's secret, or authorise it again with that scope",
                    self.unit.stream,
                    self.credentials.identity()
                )));
            }
        }
        Ok(CursorKey::live(self.unit.stream.clone(), org_id))
    }

    /// Collects the windows of the cursor `key` under its lease until caught up (a backfill:
    /// its range is done) or the deadline nears.
    async fn run_lane(
        &self,
        key: CursorKey,
        deadline: Instant,
    ) -> Result<RunSummary, CollectError> {
        let mut summary = RunSummary {
            stream: self.unit.stream.clone(),
            org_id: key.org_id.clone(),
            windows: 0,
            events: 0,
            objects: 0,
            pages: 0,
            committed_until: None,
            stopped: StopReason::OtherRunActive,
        };
        let owner = format!("run-{:016x}", fastrand::u64(..));
        let now = self.clock.now();
        let lease_until =
            now.plus(deadline.saturating_duration_since(Instant::now()) + LEASE_GRACE);
        if !self
            .state
            .acquire_lease(&key.lease_key(), &owner, lease_until, now)
            .await?
        {
            tracing::debug!(stream = %key.stream, "another run holds the lease");
            return Ok(summary);
        }
        let outcome = self.collect(&key, &mut summary, deadline).await;
        let outcome = match outcome {
            Ok(stopped) => Ok(stopped),
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(StopReason::OtherRunActive),
            // Out of time before a window could start (the token lock stayed busy until the
            // deadline, say): nothing failed, the next run goes on.
            Err(CollectError::OutOfTime) => Ok(StopReason::Deadline),
            Err(e) => {
                if let Err(record) = self.record_failure(&key, &e).await {
                    tracing::warn!(error = %record, "could not record the failure in the cursor");
                }
                Err(e)
            }
        };
        if let Err(e) = self.state.release_lease(&key.lease_key(), &owner).await {
            // Harmless: the lease expires by itself.
            tracing::warn!(error = %e, "could not release the lease");
        }
        summary.stopped = outcome?;
        Ok(summary)
    }

    async fn record_failure(
        &self,
        key: &CursorKey,
        error: &CollectError,
    ) -> Result<(), CollectError> {
        let mut cursor = self.state.load_cursor(key).await?.unwrap_or_default();
        let kind = error.kind();
        cursor.consecutive_failures += 1;
        if kind != ErrorKind::Upstream
            || cursor.consecutive_failures >= UPSTREAM_FAILURES_BEFORE_ERROR
        {
            cursor.status = Status::Error;
        }
        cursor.last_error = Some(LastError {
            kind,
            message: error.to_string(),
            at: self.clock.now(),
        });
        self.save(key, &mut cursor).await
    }

    async fn save(
        &self,
        key: &CursorKey,
        cursor: &mut crate::cursor::Cursor,
    ) -> Result<(), CollectError> {
        cursor.version += 1;
        self.state
            .save_cursor(key, cursor)
            .await
            .map_err(CollectError::from)
    }
}
