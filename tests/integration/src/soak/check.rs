//! After a scenario: runs without faults until every stream has caught up, then the promise is
//! checked. Findings are counted, not asserted, so that the soak can report every scenario.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use collector_app::units::{StreamUnits, UnitsOutcome};
use collector_core::cursor::{CursorKey, Status};
use collector_core::event::EventKey;
use collector_core::ports::CursorStore;
use collector_core::{CollectError, ErrorKind, StopReason, StreamId, Timestamp};
use tokio::time::Instant;

use super::play::{CatchPanic, Played, UnitEvents, authorise, short};
use super::scenario::{Scenario, Target};
use crate::Stack;
use crate::stack::SimTime;
use crate::verify::{StoredObject, layout_problems};

/// What the check found for one scenario.
#[derive(Debug, Default)]
pub struct Findings {
    pub expected: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Events in S3 that the simulator never served, or served with other bytes.
    pub foreign: u64,
    /// Refresh tokens in a secret that Webex no longer accepts, and why.
    pub token_losses: Vec<TokenLoss>,
    /// Everything else that is wrong, one line each.
    pub problems: Vec<String>,
}

impl Findings {
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.foreign == 0
            && self
                .token_losses
                .iter()
                .all(|l| *l == TokenLoss::KilledInFlight)
            && self.problems.is_empty()
    }
}

/// Why a secret's refresh token stopped working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenLoss {
    /// Webex rotated the refresh token, and its answer never reached the secret because the run
    /// holding it was killed (or abandoned) first. With a token server that rotates without a
    /// grace period no client can prevent this; the grant was never used, as the collector
    /// stores a grant before using it. A person authorises again (the soak does so for them).
    KilledInFlight,
    /// The collector's fault.
    Defect(String),
}

/// Catch-up runs get this much time each; without faults a run needs far less.
const CATCH_UP_BUDGET: Duration = Duration::from_secs(30);
const CATCH_UP_RUNS: usize = 60;
/// Between catch-up runs the clock moves by this much, as a schedule would.
const SCHEDULE: Duration = Duration::from_secs(600);

/// Catches every stream up without faults, then checks S3, the cursors, uploads and tokens.
pub async fn catch_up_and_check(
    stack: &Stack,
    scenario: &Scenario,
    played: &Played,
) -> Result<Findings> {
    let mut findings = Findings::default();
    findings.problems.extend(
        played
            .panics
            .iter()
            .map(|panic| format!("a collector run panicked: {panic}")),
    );
    findings.problems.extend(played.problems.iter().cloned());
    // Past every lease and token lock a killed or abandoned run may have left.
    stack.sim.advance(Duration::from_secs(120));
    let settle_lag = Duration::from_secs(scenario.settings.settle_lag_s).as_millis() as i64;
    let webex = played
        .expected
        .iter()
        .flat_map(|unit| &unit.events)
        .map(|e| (e.created_ms, e.visible_at_ms));
    let sources = played
        .source_events
        .iter()
        .flat_map(|stream| &stream.events)
        .map(|e| (e.time_ms, e.visible_at_ms));
    let until = webex
        .chain(sources)
        .map(|(created, visible)| (created + settle_lag).max(visible))
        .max()
        .unwrap_or(0)
        + 1_000;
    let targets = scenario.targets();
    for target in &targets {
        let mut caught_up = catch_up(stack, scenario, *target, until).await;
        if let (Err(CatchUpError::Reauthorise(_)), Target::Webex(stream)) = (&caught_up, target) {
            let identity = stream.spec().default_identity;
            findings
                .token_losses
                .push(token_loss(stack, identity, played).await?);
            authorise(stack, scenario, identity).await?;
            caught_up = catch_up(stack, scenario, *target, until).await;
        }
        if let Err(problem) = caught_up {
            findings.problems.push(format!("{target}: {problem}"));
        }
    }
    if targets.len() > 1 {
        // The later stream's catch-up may have moved the clock on: one more run each brings
        // every cursor to the same settled time.
        for target in &targets {
            if let Err(problem) = catch_up(stack, scenario, *target, until).await {
                findings.problems.push(format!("{target}: {problem}"));
            }
        }
    }
    super::sources::check(stack, scenario, &played.source_events, &mut findings).await?;
    for stream in &scenario.streams {
        let units: Vec<&UnitEvents> = played
            .expected
            .iter()
            .filter(|unit| unit.stream == *stream)
            .collect();
        check_stream(stack, scenario, *stream, &units, &mut findings).await?;
    }
    let open = stack.open_uploads().await?;
    if open > 0 {
        findings
            .problems
            .push(format!("{open} multipart upload(s) left open"));
    }
    let identities: HashSet<&str> = scenario
        .streams
        .iter()
        .map(|s| s.spec().default_identity)
        .collect();
    for identity in identities {
        let secret = stack.secret(identity).await?;
        let refresh = secret["refresh_token"].as_str().unwrap_or_default();
        if !stack.sim.refresh_token_is_valid(refresh) {
            findings
                .token_losses
                .push(token_loss(stack, identity, played).await?);
        }
    }
    let mut secrets = stack.known_secrets().await?;
    if scenario.sources.is_some() {
        secrets.extend(super::sources::secret_values());
    }
    if let Some(secret) = secrets
        .iter()
        .filter(|s| s.len() >= 8)
        .find(|s| played.process_output.contains(s.as_str()))
    {
        findings.problems.push(format!(
            "a secret ({}...) appears in webexctl's output",
            &secret[..4]
        ));
    }
    Ok(findings)
}

/// Why catching up failed.
#[derive(Debug)]
enum CatchUpError {
    /// Webex refused the identity's refresh token.
    Reauthorise(String),
    Failed(String),
}

impl std::fmt::Display for CatchUpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatchUpError::Reauthorise(e) => {
                write!(f, "reauthorisation needed after the faults: {e}")
            }
            CatchUpError::Failed(e) => f.write_str(e),
        }
    }
}

/// Tells a refresh token lost on its way to the secret while a run was killed (which no client
/// can prevent when Webex rotates tokens) from one the collector lost.
pub async fn token_loss(stack: &Stack, identity: &str, played: &Played) -> Result<TokenLoss> {
    let secret = stack.secret(identity).await?;
    let stored = secret["refresh_token"].as_str().unwrap_or_default();
    // Follow the rotations from the stored token to the grant that never reached the secret.
    let mut live = stored.to_string();
    let mut lost_access = None;
    while let Some((refresh, access)) = stack.sim.replacement_of(&live) {
        live = refresh;
        lost_access = Some(access);
    }
    let defect = |what: &str| Ok(TokenLoss::Defect(format!("{identity}: {what}")));
    let Some(lost_access) = lost_access else {
        return defect("the stored refresh token is refused, and Webex never rotated it out");
    };
    if !stack.sim.refresh_token_is_valid(&live) {
        return defect("the newest refresh token Webex issued is dead too");
    }
    let used = stack
        .sim
        .requests()
        .iter()
        .any(|r| r.bearer.as_deref() == Some(lost_access.as_str()));
    if used {
        return defect("an access token was used before its grant was stored");
    }
    let store_failed = played
        .run_errors
        .iter()
        .map(String::as_str)
        .chain(
            played
                .process_output
                .lines()
                .filter(|l| l.contains("run failed")),
        )
        .any(|e| e.contains("PutSecretValue"));
    if store_failed {
        return defect("a run could not store a rotated grant and stopped without it");
    }
    if played.kills + played.dropped == 0 {
        return defect("a rotated grant never reached the secret, and no run was killed");
    }
    Ok(TokenLoss::KilledInFlight)
}

/// A run that reaches the emulator directly (the fault proxy has nothing to add now): the
/// secret's organisation, or every unit of the scenario's organisations.
async fn run_direct(
    stack: &Stack,
    scenario: &Scenario,
    target: Target,
) -> Result<UnitsOutcome, CollectError> {
    let wiring = |e: collector_app::WiringError| CollectError::Config(e.to_string());
    let deadline = Instant::now() + CATCH_UP_BUDGET;
    let stream = match (target, &scenario.sources) {
        (Target::Webex(stream), _) => stream,
        (Target::Sources, Some(sources)) => {
            let units = super::sources::units(stack, scenario, sources, &stack.sdk, None)
                .map_err(|e| CollectError::Config(format!("{e:#}")))?;
            let list = units.units(None, deadline).await?;
            return Ok(units.run(list, deadline).await);
        }
        (Target::Sources, None) => {
            return Err(CollectError::Config("the scenario has no sources".into()));
        }
    };
    let config = stack
        .config(stream)
        .map_err(|e| CollectError::Config(format!("{e:#}")))?;
    let clock = Arc::new(SimTime(stack.sim.clone()));
    if scenario.orgs.is_some() {
        let units = StreamUnits::new(stream, &config, &stack.sdk, clock).map_err(wiring)?;
        let list = units.units(None, deadline).await?;
        return Ok(units.run(list, deadline).await);
    }
    let collector =
        collector_app::build_collector(stream, &config, &stack.sdk, clock).map_err(wiring)?;
    let summary = collector_app::run_once(&collector, deadline).await?;
    Ok(UnitsOutcome {
        done: vec![summary],
        ..UnitsOutcome::default()
    })
}

/// Runs until every unit is caught up at `until` (simulator time) in one run; the error says
/// why it could not.
async fn catch_up(
    stack: &Stack,
    scenario: &Scenario,
    target: Target,
    until: i64,
) -> Result<(), CatchUpError> {
    let mut failures = 0;
    for _ in 0..CATCH_UP_RUNS {
        let run = CatchPanic(Box::pin(run_direct(stack, scenario, target)));
        let Ok(result) = run.await else {
            return Err(CatchUpError::Failed("a catch-up run panicked".into()));
        };
        // A unit's failure, as its run reports it: the first of them.
        let failure = match result {
            Err(
                e @ (CollectError::ReauthorizationNeeded { .. }
                | CollectError::NotAuthorized { .. }),
            ) => return Err(CatchUpError::Reauthorise(e.to_string())),
            Err(e) => Some(e.to_string()),
            Ok(outcome) => match outcome.failed.into_iter().next() {
                // Every unit shares the secret: one refused refresh token fails them all.
                Some(f)
                    if ErrorKind::parse(f.kind) == Some(ErrorKind::Config)
                        && reauthorise(&f.error) =>
                {
                    return Err(CatchUpError::Reauthorise(f.error));
                }
                Some(f) => Some(format!("org {}: {}", short(&f.org_id), f.error)),
                None if !outcome.not_reached.is_empty() => {
                    Some(format!("{} unit(s) not reached", outcome.not_reached.len()))
                }
                None if outcome
                    .done
                    .iter()
                    .all(|s| s.stopped == StopReason::CaughtUp) =>
                {
                    if stack.sim.now_ms() >= until {
                        return Ok(());
                    }
                    stack.sim.advance(SCHEDULE);
                    None
                }
                None if outcome
                    .done
                    .iter()
                    .any(|s| s.stopped == StopReason::OtherRunActive) =>
                {
                    // Nothing else runs now: a lease left behind must expire first.
                    stack.sim.advance(Duration::from_secs(60));
                    None
                }
                None => None,
            },
        };
        if let Some(e) = failure {
            failures += 1;
            if failures >= 3 {
                return Err(CatchUpError::Failed(format!(
                    "catch-up runs fail without faults: {e}"
                )));
            }
            stack.sim.advance(Duration::from_secs(60));
        }
    }
    Err(CatchUpError::Failed(format!(
        "not caught up after {CATCH_UP_RUNS} runs"
    )))
}

/// Whether a unit's error says its identity must be authorised again.
fn reauthorise(error: &str) -> bool {
    error.contains("must be authorised again") || error.contains("is not authorised yet")
}

/// Every unit's events exactly once under its own organisation's keys, nothing under an
/// organisation that is not a unit, and each unit's cursor caught up.
async fn check_stream(
    stack: &Stack,
    scenario: &Scenario,
    stream: StreamId,
    units: &[&UnitEvents],
    findings: &mut Findings,
) -> Result<()> {
    let all = stack.objects(stream).await?;
    let (staged, objects): (Vec<StoredObject>, Vec<StoredObject>) =
        all.into_iter().partition(|o| o.key.contains("/_incoming/"));
    if !staged.is_empty() {
        findings.problems.push(format!(
            "{stream}: {} staged object(s) left under _incoming/",
            staged.len()
        ));
    }
    let mut by_org: BTreeMap<String, Vec<StoredObject>> = BTreeMap::new();
    for object in objects {
        let org = object
            .key
            .split("/org=")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        by_org.entry(org).or_default().push(object);
    }
    let several = units.len() > 1;
    for unit in units {
        let objects = by_org.remove(&unit.org_id).unwrap_or_default();
        // Named by its organisation only when there are several.
        let name = if several {
            format!("{stream} org {}", short(&unit.org_id))
        } else {
            stream.to_string()
        };
        let tally = crate::verify::tally(&objects, &unit.events);
        findings.expected += unit.events.len() as u64;
        findings.lost += tally.lost;
        findings.duplicates += tally.duplicates;
        findings.foreign += tally.foreign;
        for problem in tally.problems.iter().take(3) {
            findings.problems.push(format!("{name}: {problem}"));
        }
        for problem in layout_problems(
            &objects,
            stream.name(),
            &unit.org_id,
            env!("CARGO_PKG_VERSION"),
        )
        .into_iter()
        .take(3)
        {
            findings.problems.push(format!("{name}: {problem}"));
        }
        cursor_problems(
            stack,
            scenario,
            stream.name(),
            &unit.org_id,
            &name,
            &objects,
            findings,
        )
        .await?;
    }
    for (org, objects) in by_org {
        let lines: usize = objects.iter().map(|o| o.lines().len()).sum();
        findings.foreign += lines as u64;
        findings.problems.push(format!(
            "{stream}: {} object(s) with {lines} event(s) under org={}, which is not a unit",
            objects.len(),
            short(&org)
        ));
    }
    // A cursor per unit, and none for another organisation (the secret's, when the scenario
    // lists customers).
    let store = aws_adapters::DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.table,
    );
    for (key, _) in store.list_cursors().await? {
        if key.stream == stream.name() && !units.iter().any(|u| u.org_id == key.org_id) {
            findings.problems.push(format!(
                "{stream}: a cursor for org {}, which is not a unit",
                short(&key.org_id)
            ));
        }
    }
    Ok(())
}

/// The cursor is where the catch-up left it: nothing pending, committed up to the settled time,
/// and its digest holds every written event the next window's overlap will return.
pub(super) async fn cursor_problems(
    stack: &Stack,
    scenario: &Scenario,
    stream: &str,
    org_id: &str,
    name: &str,
    objects: &[StoredObject],
    findings: &mut Findings,
) -> Result<()> {
    let store = aws_adapters::DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.table,
    );
    let key = CursorKey::live(stream.to_string(), org_id.to_string());
    let Some(cursor) = store.load_cursor(&key).await? else {
        findings.problems.push(format!("{name}: no cursor"));
        return Ok(());
    };
    if cursor.status != Status::Collecting {
        findings.problems.push(format!(
            "{name}: the unit is in {} after catching up (last error: {:?})",
            cursor.status.name(),
            cursor.last_error.as_ref().map(|e| &e.message)
        ));
    }
    if !cursor.pending.is_empty() {
        findings.problems.push(format!(
            "{name}: windows still pending after catching up: {:?}",
            cursor.pending
        ));
    }
    let settled = Timestamp::from_millis(stack.sim.now_ms())
        .minus(Duration::from_secs(scenario.settings.settle_lag_s))
        .floor_second();
    if cursor.committed_until != Some(settled) {
        findings.problems.push(format!(
            "{name}: cursor committed until {:?}, the settled time is {settled}",
            cursor.committed_until
        ));
    }
    if let Some(committed) = cursor.committed_until {
        let horizon = committed.minus(Duration::from_secs(scenario.settings.overlap_s));
        let written: HashMap<String, Timestamp> = objects
            .iter()
            .flat_map(|o| o.lines())
            .filter_map(|line| {
                let value: serde_json::Value = serde_json::from_slice(&line).ok()?;
                let id = value["id"].as_str()?.to_string();
                let created = Timestamp::parse(value["created"].as_str()?).ok()?;
                Some((id, created))
            })
            .collect();
        let digest = stack.digest(&cursor).await?;
        let missing = written
            .iter()
            .filter(|(id, created)| {
                **created >= horizon && !digest.contains(EventKey::of(id), **created)
            })
            .count();
        if missing > 0 {
            findings.problems.push(format!(
                "{name}: {missing} written event(s) of the overlap missing from the cursor's digest"
            ));
        }
    }
    Ok(())
}
