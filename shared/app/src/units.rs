//! A stream's units of work (one per organisation) and one run through them: each unit has its
//! own cursor, lease, objects and status, so one organisation that fails (its 403, a revoked
//! grant) is recorded in error and the others go on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use collector_core::ports::{Clock, OrgDirectory, SourceError, SystemClock};
use collector_core::{CollectError, RunSummary, StreamId, Unit, UnitOrg};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{Config, Orgs};
use crate::fanout::UnitMessage;
use crate::wiring::{Parts, WiringError, run_once};

/// Units collected at once by one process: they share its request budget and its two cores.
const UNITS_AT_ONCE: usize = 4;
/// Of several units, one is not started with less time than this left: a run stops its windows
/// at twice its stop reserve before the deadline, so it would only take and give back its lease.
/// A single unit always runs (and stops cleanly by itself).
const MIN_UNIT_TIME: Duration = Duration::from_secs(4);

/// One stream of a deployment configured by its environment, over all its organisations.
#[derive(Debug)]
pub struct StreamUnits<C = SystemClock> {
    stream: StreamId,
    orgs: Orgs,
    parts: Parts<C>,
    /// Where a run that owns several units sends them (`FANOUT_QUEUE_URL`).
    queue: Option<aws_adapters::SqsQueue>,
}

/// What a run through the units did.
#[derive(Debug, Default, Serialize)]
pub struct UnitsOutcome {
    pub done: Vec<RunSummary>,
    pub failed: Vec<UnitFailure>,
    /// Units not started: the deadline was too close.
    pub not_reached: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UnitFailure {
    pub org_id: String,
    pub kind: &'static str,
    pub error: String,
}

impl StreamUnits {
    /// The stream's units from the process environment and the standard AWS configuration.
    pub async fn from_env(stream: StreamId) -> Result<Self, WiringError> {
        let config = Config::from_env()?;
        let sdk = aws_adapters::sdk_config().await;
        Self::new(stream, &config, &sdk, Arc::new(SystemClock))
    }
}

impl<C: Clock> StreamUnits<C> {
    pub fn new(
        stream: StreamId,
        config: &Config,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        Ok(Self {
            stream,
            orgs: config.orgs.clone(),
            parts: Parts::new(stream, config, sdk, clock)?,
            queue: config
                .fanout_queue_url
                .as_ref()
                .map(|url| aws_adapters::SqsQueue::new(aws_sdk_sqs::Client::new(sdk), url)),
        })
    }

    /// Whether a run through several units sends them to the fan-out queue.
    pub fn fans_out(&self) -> bool {
        self.queue.is_some()
    }

    /// Sends one message per unit to the fan-out queue; `Ok` once SQS holds every one.
    pub async fn enqueue(&self, units: &[Unit]) -> Result<(), CollectError> {
        let Some(queue) = &self.queue else {
            return Err(CollectError::Config(
                "FANOUT_QUEUE_URL is not set: there is no queue to send units to".into(),
            ));
        };
        let bodies: Vec<String> = units
            .iter()
            .map(|unit| {
                UnitMessage {
                    stream: unit.stream.clone(),
                    org_id: match &unit.org {
                        UnitOrg::Id(id) => id.clone(),
                        // Never several units of the secret's organisation; named all the same.
                        UnitOrg::OfSecret => String::new(),
                    },
                }
                .body()
            })
            .collect();
        queue.send_all(&bodies).await.map_err(|e| {
            CollectError::Store(collector_core::ports::StoreError::Unavailable {
                operation: "SQS SendMessageBatch (fan-out)",
                source: Box::new(e),
            })
        })
    }

    /// The unit a queue message names, if it is one of this stream's: a listed organisation,
    /// or any organisation when they are discovered (the token reads only those it may).
    /// `Ok(None)`: a unit that was listed when the message was sent and no longer is.
    pub fn unit_of(&self, message: &UnitMessage) -> Result<Option<Unit>, String> {
        let unit = Unit {
            stream: self.stream.name().to_string(),
            org: UnitOrg::Id(message.org_id.clone()),
        };
        match &self.orgs {
            Orgs::List(ids) if !ids.contains(&message.org_id) => Ok(None),
            Orgs::OfSecret => Err(format!(
                "the {} stream collects the organisation of its secret; it takes no queued units \
                 (ORG_IDS is not set)",
                self.stream.name()
            )),
            _ => Ok(Some(unit)),
        }
    }

    /// The units of this run: every organisation configured or discovered, or only `only`.
    pub async fn units(
        &self,
        only: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<Unit>, CollectError> {
        let stream = self.stream.name().to_string();
        let unit = |org: UnitOrg| Unit {
            stream: stream.clone(),
            org,
        };
        let ids = match &self.orgs {
            Orgs::OfSecret if only.is_none() => return Ok(vec![unit(UnitOrg::OfSecret)]),
            // The secret's organisation, named: it is checked against the secret at run start.
            Orgs::OfSecret => {
                return Ok(only
                    .map(|o| unit(UnitOrg::Id(o.to_string())))
                    .into_iter()
                    .collect());
            }
            Orgs::List(ids) => ids.clone(),
            Orgs::Discover => self.discover(deadline).await?,
        };
        let units: Vec<Unit> = ids
            .into_iter()
            .filter(|id| only.is_none_or(|o| o == id))
            .map(|id| unit(UnitOrg::Id(id)))
            .collect();
        if let Some(org) = only
            && units.is_empty()
        {
            return Err(CollectError::Config(format!(
                "{org} is not one of the {} stream's organisations (ORG_IDS)",
                self.stream.name()
            )));
        }
        Ok(units)
    }

    /// Every organisation the profile's token may read.
    async fn discover(&self, deadline: Instant) -> Result<Vec<String>, CollectError> {
        let tokens = self.parts.tokens();
        tokens.reload().await?;
        let token = tokens.access_token(deadline).await?;
        let profile = self.parts.spec.profile.name();
        self.parts
            .webex
            .organizations(&token, deadline)
            .await
            .map_err(|e| match e {
                SourceError::OutOfTime => CollectError::OutOfTime,
                SourceError::Unauthorized | SourceError::Forbidden { .. } => {
                    CollectError::Config(format!(
                        "the {profile} profile may not list organisations ({e}); authorise it \
                         with the spark-admin:organizations_read scope, or list them in ORG_IDS"
                    ))
                }
                SourceError::Rejected { .. } => CollectError::Config(format!(
                    "listing the {profile} profile's organisations failed: {e}"
                )),
                upstream => CollectError::Upstream(upstream),
            })
    }

    /// One run through `units`, a few at a time, until `deadline`. Boxed and type-erased, like
    /// [`run_once`]: the nested futures would exceed the compiler's query depth in `main`.
    pub fn run(
        &self,
        units: Vec<Unit>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = UnitsOutcome> + Send + '_>> {
        Box::pin(self.run_units(units, deadline))
    }

    async fn run_units(&self, units: Vec<Unit>, deadline: Instant) -> UnitsOutcome {
        let several = units.len() > 1;
        let results: Vec<(Unit, Option<Result<RunSummary, CollectError>>)> =
            futures_util::stream::iter(units)
                .map(|unit| async move {
                    if several && deadline.saturating_duration_since(Instant::now()) < MIN_UNIT_TIME
                    {
                        return (unit, None);
                    }
                    let collector = self.parts.collector(unit.clone());
                    let result = run_once(&collector, deadline).await;
                    (unit, Some(result))
                })
                .buffer_unordered(UNITS_AT_ONCE)
                .collect()
                .await;
        let mut outcome = UnitsOutcome::default();
        for (unit, result) in results {
            let org_id = match &unit.org {
                UnitOrg::Id(id) => id.clone(),
                UnitOrg::OfSecret => "(the secret's)".to_string(),
            };
            match result {
                None => outcome.not_reached.push(org_id),
                Some(Ok(summary)) => outcome.done.push(summary),
                Some(Err(e)) => outcome.failed.push(UnitFailure {
                    org_id,
                    kind: e.kind().name(),
                    error: e.to_string(),
                }),
            }
        }
        outcome.done.sort_by(|a, b| a.org_id.cmp(&b.org_id));
        outcome.failed.sort_by(|a, b| a.org_id.cmp(&b.org_id));
        outcome
    }

    /// When the refresh token of the secret the units share expires, for its metric.
    pub async fn refresh_token_expires_at(&self) -> Option<collector_core::Timestamp> {
        let tokens = self.parts.tokens();
        tokens.reload().await.ok()?;
        tokens.refresh_token_expires_at().await
    }

    pub fn stream_name(&self) -> &'static str {
        self.stream.name()
    }

    pub fn now(&self) -> collector_core::Timestamp {
        self.parts.clock.now()
    }
}
