//! A function's units of work and one run through them. Configured by its environment, the
//! function collects one stream (its preset) over its organisations; configured by a document,
//! every stream of the document whose source is its preset. Each unit, one (stream,
//! organisation), has its own cursor, lease, objects and status, so one organisation that fails
//! (its 403, a revoked grant) is recorded in error and the others go on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use collector_core::object::CustomFields;
use collector_core::ports::{Clock, OrgDirectory, SourceError, SystemClock};
use collector_core::window::WindowPolicy;
use collector_core::{CollectError, RunSummary, StreamId, Timestamp, Unit, UnitOrg};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{Config, Orgs};
use crate::document::{self, Document, Source};
use crate::due::{Claims, Due};
use crate::fanout::UnitMessage;
use crate::wiring::{Parts, WiringError, run_once};

/// Units collected at once by one process: they share its request budget and its two cores.
const UNITS_AT_ONCE: usize = 4;
/// Of several units, one is not started with less time than this left: a run stops its windows
/// at twice its stop reserve before the deadline, so it would only take and give back its lease.
/// A single unit always runs (and stops cleanly by itself).
const MIN_UNIT_TIME: Duration = Duration::from_secs(4);

/// Which streams a function collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Those of one Webex preset (its function: `admin-audit`, ...).
    Webex(StreamId),
    /// Every stream that does not read Webex (the `http-sources` function).
    OtherSources,
}

impl Selection {
    /// The function that collects them: its metrics' `Function` dimension.
    pub fn name(self) -> &'static str {
        match self {
            Selection::Webex(id) => id.name(),
            Selection::OtherSources => "http-sources",
        }
    }

    pub fn holds(self, source: &Source) -> bool {
        match self {
            Selection::Webex(id) => source.webex() == Some(id),
            Selection::OtherSources => source.webex().is_none(),
        }
    }
}

impl From<StreamId> for Selection {
    fn from(id: StreamId) -> Self {
        Selection::Webex(id)
    }
}

/// The streams one function collects, over all their organisations.
#[derive(Debug)]
pub struct StreamUnits<C = SystemClock> {
    selection: Selection,
    streams: Vec<NamedStream<C>>,
    /// Where a run that owns several units sends them (`FANOUT_QUEUE_URL`).
    queue: Option<aws_adapters::SqsQueue>,
    clock: Arc<C>,
}

/// One stream: its name (the key prefix, the cursor key), its organisations and what its units
/// are collected with.
#[derive(Debug)]
struct NamedStream<C> {
    name: String,
    orgs: Orgs,
    /// A document's `every`; `None`: the function's schedule is the stream's interval.
    every: Option<Duration>,
    parts: Parts<C>,
}

/// The units of a scheduled run, and the claims it took for them: the run gives back those of
/// the streams whose work failed.
#[derive(Debug)]
pub struct Scheduled<'a> {
    pub units: Vec<Unit>,
    pub claims: Claims<'a>,
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
    pub stream: String,
    pub org_id: String,
    pub kind: &'static str,
    pub error: String,
}

impl StreamUnits {
    /// The units from the process environment, the document it names (read once) and the
    /// standard AWS configuration: `webexctl collect`'s.
    pub async fn from_env(selection: impl Into<Selection>) -> Result<Self, WiringError> {
        let config = Config::from_env()?;
        let sdk = aws_adapters::sdk_config().await;
        let document = crate::document_location::load_from_env().await?;
        Self::configured(
            selection,
            &config,
            document.as_ref(),
            &sdk,
            Arc::new(SystemClock),
        )
    }
}

impl<C: Clock> StreamUnits<C> {
    /// The units of `document` when there is one, otherwise of the environment alone; see
    /// [`Config::beside_document`] for what the environment may say beside a document.
    pub fn configured(
        selection: impl Into<Selection>,
        config: &Config,
        document: Option<&Document>,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let selection = selection.into();
        let Some(document) = document else {
            return match selection {
                Selection::Webex(preset) => Self::new(preset, config, sdk, clock),
                Selection::OtherSources => Err(WiringError::Config(crate::ConfigError {
                    name: "COLLECTOR_CONFIG",
                    problem: "names no document (unset, or nothing pushed there yet): the \
                              http-sources function collects the streams of a collector \
                              document; push one with `webexctl config push` (docs/sources.md)"
                        .to_string(),
                })),
            };
        };
        config.beside_document(&document.collector.key_prefix)?;
        Self::of_document(selection, config, document, sdk, clock)
    }

    /// One stream configured by the environment alone.
    pub fn new(
        preset: StreamId,
        config: &Config,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        Ok(Self {
            selection: Selection::Webex(preset),
            streams: vec![NamedStream {
                name: preset.name().to_string(),
                orgs: config.orgs.clone(),
                every: None,
                parts: Parts::new(preset, config, sdk, clock.clone())?,
            }],
            queue: queue(config, sdk),
            clock,
        })
    }

    /// Every stream of `document` that `selection` holds, with what the environment says for
    /// all of them (the table, the bucket, the API, the queue).
    pub fn of_document(
        selection: impl Into<Selection>,
        base: &Config,
        document: &Document,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let selection = selection.into();
        let streams = document
            .streams
            .iter()
            .filter(|stream| selection.holds(&stream.source))
            .map(|stream| {
                let config = stream_config(base, document, stream);
                let parts = match (stream.source.webex(), document.identity(&stream.identity)) {
                    (Some(preset), _) => Parts::new(preset, &config, sdk, clock.clone())?,
                    (None, Some(identity)) => Parts::of_source(
                        &stream.name,
                        stream.source.spec(),
                        identity,
                        &config,
                        sdk,
                        clock.clone(),
                    )?,
                    // The validator has checked that the identity exists.
                    (None, None) => {
                        return Err(WiringError::Config(crate::ConfigError {
                            name: "COLLECTOR_CONFIG",
                            problem: format!(
                                "the {} stream's identity {} is not in the document",
                                stream.name, stream.identity
                            ),
                        }));
                    }
                };
                Ok(NamedStream {
                    name: stream.name.clone(),
                    orgs: config.orgs.clone(),
                    every: Some(stream.every),
                    parts,
                })
            })
            .collect::<Result<Vec<_>, WiringError>>()?;
        Ok(Self {
            selection,
            streams,
            queue: queue(base, sdk),
            clock,
        })
    }

    /// Keeps only the stream named `name` (`webexctl collect --stream NAME`); `false` when
    /// there is none.
    pub fn keep_only(&mut self, name: &str) -> bool {
        self.streams.retain(|stream| stream.name == name);
        !self.streams.is_empty()
    }

    /// Whether a run through several units sends them to the fan-out queue.
    pub fn fans_out(&self) -> bool {
        self.queue.is_some()
    }

    /// Sends one message per unit to the fan-out queue; `Ok` once SQS holds every one.
    pub async fn enqueue(&self, units: &[UnitMessage]) -> Result<(), CollectError> {
        let Some(queue) = &self.queue else {
            return Err(CollectError::Config(
                "FANOUT_QUEUE_URL is not set: there is no queue to send units to".into(),
            ));
        };
        let bodies: Vec<String> = units.iter().map(UnitMessage::body).collect();
        queue.send_all(&bodies).await.map_err(|e| {
            CollectError::Store(collector_core::ports::StoreError::Unavailable {
                operation: "SQS SendMessageBatch (fan-out)",
                source: Box::new(e),
            })
        })
    }

    /// The unit a queue message names, if it is one of these streams': a listed organisation,
    /// or any organisation when they are discovered (the token reads only those it may).
    /// `Ok(None)`: a unit that was listed when the message was sent and no longer is.
    pub fn unit_of(&self, message: &UnitMessage) -> Result<Option<Unit>, String> {
        let Some(stream) = self.streams.iter().find(|s| s.name == message.stream) else {
            return Err(format!(
                "the message names the {:?} stream, which this function does not collect",
                message.stream
            ));
        };
        let unit = Unit {
            stream: stream.name.clone(),
            org: UnitOrg::Id(message.org_id.clone()),
        };
        match &stream.orgs {
            Orgs::List(ids) if !ids.contains(&message.org_id) => Ok(None),
            Orgs::OfSecret => Err(format!(
                "the {} stream collects the organisation of its secret; it takes no queued units \
                 (ORG_IDS is not set)",
                stream.name
            )),
            _ => Ok(Some(unit)),
        }
    }

    /// The units of this run: every organisation of every stream, configured or discovered, or
    /// only those of the organisation `only`.
    pub async fn units(
        &self,
        only: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<Unit>, CollectError> {
        self.units_of(self.streams.iter().collect(), only, deadline)
            .await
    }

    /// What the source returns for one unit's range (`webexctl events list`), each event to
    /// `each`, written nowhere.
    pub async fn list(
        &self,
        only: Option<&str>,
        range: (Timestamp, Timestamp),
        max: Option<u64>,
        deadline: Instant,
        each: impl FnMut(&collector_core::event::RawEvent),
    ) -> Result<(Unit, u64), CollectError> {
        let (unit, stream) = self.one_unit(only, deadline).await?;
        let listed = stream
            .parts
            .collector(unit.clone())
            .list(range, max, deadline, each)
            .await?;
        Ok((unit, listed))
    }

    /// One unit's range as the source returns it against the bucket (`webexctl verify`).
    pub async fn verify(
        &self,
        only: Option<&str>,
        range: (Timestamp, Timestamp),
        deadline: Instant,
    ) -> Result<collector_core::collect::Verdict, CollectError> {
        let (unit, stream) = self.one_unit(only, deadline).await?;
        stream.parts.collector(unit).verify(range, deadline).await
    }

    /// One run of a backfill of one unit (`webexctl backfill`): its summary after each window
    /// it commits to `progress`.
    pub async fn backfill(
        &self,
        only: Option<&str>,
        plan: &collector_core::collect::BackfillPlan,
        deadline: Instant,
        progress: tokio::sync::mpsc::UnboundedSender<RunSummary>,
    ) -> Result<RunSummary, CollectError> {
        let (unit, stream) = self.one_unit(only, deadline).await?;
        stream
            .parts
            .collector(unit)
            .with_progress(progress)
            .backfill(plan, deadline)
            .await
    }

    /// The unit of the organisation `only`, or the stream's only unit; with several, the
    /// caller must name one.
    async fn one_unit(
        &self,
        only: Option<&str>,
        deadline: Instant,
    ) -> Result<(Unit, &NamedStream<C>), CollectError> {
        let mut units = self.units(only, deadline).await?;
        let unit = match units.len() {
            1 => units.remove(0),
            0 => {
                return Err(CollectError::Config(format!(
                    "no unit of the stream{}",
                    only.map(|o| format!(" for the organisation {o}"))
                        .unwrap_or_default()
                )));
            }
            n => {
                let orgs: Vec<String> = units
                    .iter()
                    .map(|u| match &u.org {
                        UnitOrg::Id(id) => id.clone(),
                        UnitOrg::OfSecret => "(the secret's)".into(),
                    })
                    .collect();
                return Err(CollectError::Config(format!(
                    "the stream has {n} organisations; name one with --org: {}",
                    orgs.join(", ")
                )));
            }
        };
        let Some(stream) = self.streams.iter().find(|s| s.name == unit.stream) else {
            return Err(CollectError::Config(format!("no stream {}", unit.stream)));
        };
        Ok((unit, stream))
    }

    /// The units of a scheduled run: those of every stream that is due. A stream configured
    /// by the environment runs on its function's schedule; a document's stream once its
    /// `every` has passed since its last scheduled run began, claimed in the state table so
    /// that overlapping invocations do not both start it (see [`crate::due`]). When listing the
    /// units fails (discovery), every claim is given back: no stream did its work.
    pub async fn scheduled_units(&self, deadline: Instant) -> Result<Scheduled<'_>, CollectError> {
        let now = self.now();
        let mut due = Vec::new();
        let mut claims = Claims::default();
        for stream in &self.streams {
            match crate::due::claim(stream.parts.due(), &stream.name, stream.every, now).await {
                Due::NotYet => continue,
                Due::Claimed(claim) => claims.push(claim),
                Due::Unclaimed => {}
            }
            due.push(stream);
        }
        match self.units_of(due, None, deadline).await {
            Ok(units) => Ok(Scheduled { units, claims }),
            Err(e) => {
                claims.give_back(|_| true).await;
                Err(e)
            }
        }
    }

    async fn units_of(
        &self,
        streams: Vec<&NamedStream<C>>,
        only: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<Unit>, CollectError> {
        let mut units = Vec::new();
        for stream in streams {
            let unit = |org: UnitOrg| Unit {
                stream: stream.name.clone(),
                org,
            };
            let ids = match &stream.orgs {
                Orgs::OfSecret if only.is_none() => {
                    units.push(unit(UnitOrg::OfSecret));
                    continue;
                }
                // The secret's organisation, named: it is checked against the secret at run
                // start.
                Orgs::OfSecret => vec![only.unwrap_or_default().to_string()],
                Orgs::List(ids) => ids.clone(),
                Orgs::Discover => stream.discover(deadline).await?,
            };
            units.extend(
                ids.into_iter()
                    .filter(|id| only.is_none_or(|o| o == id))
                    .map(|id| unit(UnitOrg::Id(id))),
            );
        }
        if let Some(org) = only
            && units.is_empty()
        {
            return Err(CollectError::Config(format!(
                "{org} is not one of the {} stream's organisations (ORG_IDS)",
                self.selection.name()
            )));
        }
        Ok(units)
    }

    /// One run through `units`, a few at a time, until `deadline`. Boxed and type-erased, like
    /// [`run_once`]: the nested futures would exceed the compiler's query depth in `main`.
    pub fn run(
        &self,
        units: Vec<Unit>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = UnitsOutcome> + Send + '_>> {
        Box::pin(async move { UnitsOutcome::of(self.run_each(units, deadline).await) })
    }

    /// Each unit's result, in the order given; `None` for a unit not started before the
    /// deadline.
    pub async fn run_each(&self, units: Vec<Unit>, deadline: Instant) -> Vec<UnitResult> {
        let several = units.len() > 1;
        futures_util::stream::iter(units)
            .map(|unit| async move {
                if several && deadline.saturating_duration_since(Instant::now()) < MIN_UNIT_TIME {
                    return (unit, None);
                }
                let Some(stream) = self.streams.iter().find(|s| s.name == unit.stream) else {
                    let unknown = CollectError::Config(format!(
                        "{} is not a stream of this function",
                        unit.stream
                    ));
                    return (unit, Some(Err(unknown)));
                };
                let collector = stream.parts.collector(unit.clone());
                let result = run_once(&collector, deadline).await;
                (unit, Some(result))
            })
            .buffered(UNITS_AT_ONCE)
            .collect()
            .await
    }

    /// When the refresh token of each identity the streams read with expires (once per
    /// identity: streams that share one share its token), for its metric.
    pub async fn refresh_token_expiries(
        &self,
    ) -> Vec<(&collector_core::IdentityName, collector_core::Timestamp)> {
        let mut expiries: Vec<(&collector_core::IdentityName, collector_core::Timestamp)> =
            Vec::new();
        for stream in &self.streams {
            let parts = &stream.parts;
            if expiries
                .iter()
                .any(|(identity, _)| **identity == parts.identity)
            {
                continue;
            }
            let Some(tokens) = parts.tokens() else {
                continue;
            };
            if tokens.reload().await.is_err() {
                continue;
            }
            if let Some(expires_at) = tokens.refresh_token_expires_at().await {
                expiries.push((&parts.identity, expires_at));
            }
        }
        expiries
    }

    /// The function's name: its metrics' `Function` dimension.
    pub fn stream_name(&self) -> &'static str {
        self.selection.name()
    }

    pub fn now(&self) -> collector_core::Timestamp {
        self.clock.now()
    }
}

/// A unit and what its run did; `None`: not started before the deadline.
pub type UnitResult = (Unit, Option<Result<RunSummary, CollectError>>);

impl UnitsOutcome {
    pub fn of(results: Vec<UnitResult>) -> Self {
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
                    stream: unit.stream,
                    org_id,
                    kind: e.kind().name(),
                    error: e.to_string(),
                }),
            }
        }
        outcome
            .done
            .sort_by(|a, b| (&a.stream, &a.org_id).cmp(&(&b.stream, &b.org_id)));
        outcome
            .failed
            .sort_by(|a, b| (&a.stream, &a.org_id).cmp(&(&b.stream, &b.org_id)));
        outcome
    }
}

impl<C: Clock> NamedStream<C> {
    /// Every organisation the stream's identity may read.
    async fn discover(&self, deadline: Instant) -> Result<Vec<String>, CollectError> {
        let name = &self.name;
        let (Some(tokens), Some(webex)) = (self.parts.tokens(), self.parts.webex()) else {
            return Err(CollectError::Config(format!(
                "the {name} stream does not read Webex: list its organisations"
            )));
        };
        tokens.reload().await?;
        let token = tokens.access_token(deadline).await?;
        webex
            .organizations(&token, deadline)
            .await
            .map_err(|e| match e {
                SourceError::OutOfTime => CollectError::OutOfTime,
                SourceError::Unauthorized | SourceError::Forbidden { .. } => {
                    CollectError::Config(format!(
                        "the {} identity may not list the {name} stream's organisations ({e}); \
                         authorise it with the spark-admin:organizations_read scope, or list \
                         the organisations",
                        self.parts.identity
                    ))
                }
                SourceError::Rejected { .. } => CollectError::Config(format!(
                    "listing the {name} stream's organisations failed: {e}"
                )),
                upstream => CollectError::Upstream(upstream),
            })
    }
}

fn queue(config: &Config, sdk: &aws_config::SdkConfig) -> Option<aws_adapters::SqsQueue> {
    config
        .fanout_queue_url
        .as_ref()
        .map(|url| aws_adapters::SqsQueue::new(aws_sdk_sqs::Client::new(sdk), url))
}

/// A document stream's configuration: the document's settings over the environment's.
fn stream_config(base: &Config, document: &Document, stream: &document::Stream) -> Config {
    // The validator has checked that the identity exists.
    let identity = document.identity(&stream.identity);
    let window = &stream.window;
    Config {
        token_secret_id: identity.map(|i| i.secret.clone()),
        identity: collector_core::IdentityName::parse(&stream.identity).ok(),
        output_prefix: document.collector.key_prefix.clone(),
        policy: WindowPolicy {
            settle_lag: window.settle_lag,
            overlap: window.overlap,
            max_window: window.max_window,
            initial_lookback: window
                .initial_lookback
                .unwrap_or(base.policy.initial_lookback),
        },
        page_size: Some(window.page_size),
        filters: stream.filters.clone(),
        max_window_events: window
            .max_window_events
            .unwrap_or(collector_core::collect::DEFAULT_MAX_WINDOW_EVENTS),
        max_requests_per_minute: identity
            .map_or(base.max_requests_per_minute, |i| i.max_requests_per_minute),
        orgs: match &stream.orgs {
            document::Orgs::Discover => Orgs::Discover,
            document::Orgs::List(ids) => Orgs::List(ids.clone()),
        },
        fields: CustomFields::new(
            stream.fields.clone().into_iter().collect(),
            stream.fields_key.as_deref(),
        ),
        ..base.clone()
    }
}
