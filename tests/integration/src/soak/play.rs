//! Plays a scenario's steps against its stack with the faults switched on: runs in this process
//! (some abandoned mid-flight), `webexctl` processes killed with SIGKILL, several runs at once,
//! and the clock moving on with new events between them.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use collector_app::run_once;
use collector_app::units::{StreamUnits, UnitsOutcome};
use collector_core::cursor::{CursorKey, Status};
use collector_core::ports::CursorStore;
use collector_core::{CollectError, StopReason, StreamId};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use webex_sim::{GenerateSpec, ORGANIZATIONS_SCOPE, SimEvent, SimOrg};

use super::scenario::{AwsFaults, LOOKBACK, Scenario, Step, Target};
use super::sources::StreamEvents;
use crate::fault_proxy::Service;
use crate::stack::{SimTime, sim_org_id, sim_stream};
use crate::{Stack, webexctl_path};

/// The events one unit of work (stream, organisation) must hold in S3 in the end: every one
/// the simulator holds for it.
#[derive(Debug)]
pub struct UnitEvents {
    pub stream: StreamId,
    pub org_id: String,
    pub events: Vec<SimEvent>,
}

/// What happened while the faults were on.
#[derive(Debug, Default)]
pub struct Played {
    /// Every event of every unit: the secret's organisation per stream, or each of the
    /// scenario's organisations per stream.
    pub expected: Vec<UnitEvents>,
    pub runs: u64,
    /// Runs that ended with an error (expected under faults; the next run must recover).
    pub failed_runs: u64,
    /// Runs that stopped at their deadline.
    pub deadline_stops: u64,
    /// Runs abandoned mid-flight in this process.
    pub dropped: u64,
    /// `webexctl` processes killed with SIGKILL while still running.
    pub kills: u64,
    /// Steps that started more than one run of a stream at once.
    pub concurrent: u64,
    /// Everything the `webexctl` processes printed, to be searched for secrets.
    pub process_output: String,
    /// Runs that panicked (a Lambda would have crashed), with the panic's message.
    pub panics: Vec<String>,
    /// Why runs in this process failed, one line each.
    pub run_errors: Vec<String>,
    /// Units that a run in this process reported refused by Webex (403) while their
    /// organisation was refused, each time.
    pub forbidden: Vec<(StreamId, String)>,
    /// What playing found wrong when it was true (a refusal that stopped another unit, a
    /// refused unit not recorded in error), one line each.
    pub problems: Vec<String>,
    /// Every event of every stream of other sources.
    pub source_events: Vec<StreamEvents>,
}

const MIN: i64 = 60_000;

/// Creates the organisations and their history, then plays the steps with the faults on.
pub async fn play(stack: &Stack, scenario: &Scenario, part_size: Option<usize>) -> Result<Played> {
    register_orgs(stack, scenario);
    if let Some(sources) = &scenario.sources {
        super::sources::prepare(stack, scenario, sources).await?;
    }
    let (expected, source_events) = history(stack, scenario);
    let mut played = Played {
        expected,
        source_events,
        ..Played::default()
    };
    for identity in identities(scenario) {
        if scenario.access_token_stored {
            authorise(stack, scenario, identity).await?;
        } else if discovers(scenario) {
            // No access token yet, but a refresh token that may list organisations.
            let token = stack.sim.issue_refresh_token(&scopes(scenario, identity));
            stack
                .update_secret(identity, |secret| {
                    secret["refresh_token"] = token.into();
                    secret["scopes"] = scopes(scenario, identity).join(" ").into();
                })
                .await?;
        }
    }
    switch_faults_on(stack, scenario);
    for (index, step) in scenario.steps.iter().enumerate() {
        refuse_or_restore(stack, scenario, index, &mut played).await?;
        if scenario.uses_processes() {
            follow_real_time(stack);
        }
        let context = StepContext {
            stack,
            scenario,
            refused: refused_org(scenario, index),
        };
        match step {
            Step::Runs {
                count,
                budget,
                drop_after,
                org,
            } => {
                let only = only_org(scenario, *org);
                runs(
                    &context,
                    part_size,
                    *count,
                    *budget,
                    *drop_after,
                    only.as_deref(),
                    &mut played,
                )
                .await?
            }
            Step::Processes {
                deadline_s,
                kill_after,
                org,
            } => {
                let only = only_org(scenario, *org);
                processes(
                    stack,
                    scenario,
                    *deadline_s,
                    kill_after,
                    only.as_deref(),
                    &mut played,
                )
                .await?
            }
            Step::Advance { by, new_events } => {
                advance(stack, scenario, *by, *new_events, &mut played)
            }
        }
    }
    refuse_or_restore(stack, scenario, scenario.steps.len(), &mut played).await?;
    Ok(played)
}

/// What a step's runs need to know besides their own settings.
struct StepContext<'a> {
    stack: &'a Stack,
    scenario: &'a Scenario,
    /// The organisation refused (403) during this step.
    refused: Option<String>,
}

/// Whether the scenario's units are discovered, so its tokens need the organizations scope.
fn discovers(scenario: &Scenario) -> bool {
    scenario.orgs.as_ref().is_some_and(|orgs| orgs.discover)
}

/// The scopes a person grants `identity` in this scenario.
fn scopes(scenario: &Scenario, identity: &str) -> Vec<&'static str> {
    let mut scopes = vec![crate::stack::stream_scope(identity)];
    if discovers(scenario) && identity == "admin" {
        scopes.push(ORGANIZATIONS_SCOPE);
    }
    scopes
}

/// What a person's new authorisation leaves in `identity`'s secret, as the OAuth callback
/// stores it: fresh tokens with the scenario's scopes.
pub async fn authorise(stack: &Stack, scenario: &Scenario, identity: &str) -> Result<()> {
    if !discovers(scenario) {
        return stack.reauthorise(identity).await;
    }
    let scopes = scopes(scenario, identity);
    let refresh_token = stack.sim.issue_refresh_token(&scopes);
    let ttl = stack.sim.config().access_token_ttl;
    let access_token = stack.sim.issue_access_token(&scopes, ttl);
    let expires_at = collector_core::Timestamp::from_millis(stack.sim.now_ms())
        .plus(ttl)
        .to_rfc3339();
    stack
        .update_secret(identity, |secret| {
            secret["refresh_token"] = refresh_token.into();
            secret["access_token"] = access_token.into();
            secret["access_token_expires_at"] = expires_at.into();
            secret["scopes"] = scopes.join(" ").into();
        })
        .await
}

/// The customer organisations, managed by the secret's administrator (a partner).
fn register_orgs(stack: &Stack, scenario: &Scenario) {
    let Some(orgs) = &scenario.orgs else {
        return;
    };
    let customers: Vec<SimOrg> = orgs
        .customers
        .iter()
        .map(|c| SimOrg::customer(c.number))
        .collect();
    for org in &customers {
        stack.sim.add_org(org.clone());
    }
    stack
        .sim
        .set_managed_orgs(&stack.sim.admin(), customers.into_iter().map(|o| o.id));
}

fn only_org(scenario: &Scenario, org: Option<usize>) -> Option<String> {
    let orgs = scenario.orgs.as_ref()?;
    org.map(|i| orgs.customer_id(i))
}

fn refused_org(scenario: &Scenario, step: usize) -> Option<String> {
    let orgs = scenario.orgs.as_ref()?;
    orgs.refused_at(step).map(|i| orgs.customer_id(i))
}

/// Refuses the scenario's refused customer before the step where its refusal starts, and
/// accepts it again before the step where it ends (the catch-up at the latest). When a run
/// here reported the refusal, the unit must say so in its status by then.
async fn refuse_or_restore(
    stack: &Stack,
    scenario: &Scenario,
    step: usize,
    played: &mut Played,
) -> Result<()> {
    let Some((orgs, refusal)) = scenario
        .orgs
        .as_ref()
        .and_then(|orgs| orgs.refusal.map(|r| (orgs, r)))
    else {
        return Ok(());
    };
    let org = orgs.customer_id(refusal.customer);
    let streams: Vec<webex_sim::Stream> = scenario.streams.iter().map(|s| sim_stream(*s)).collect();
    if step == refusal.from {
        stack.sim.refuse_org(&org, &streams);
    }
    if step != refusal.until {
        return Ok(());
    }
    // A failure a run could not record (its cursor write failed) is no finding.
    let records_reliably = scenario
        .aws_faults
        .as_ref()
        .is_none_or(|f| !f.services.contains(&Service::DynamoDb));
    if records_reliably {
        let store = aws_adapters::DynamoStateStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            &stack.table,
        );
        for stream in &scenario.streams {
            let key = CursorKey::live(stream.name().to_string(), org.clone());
            let cursor = store.load_cursor(&key).await?;
            // Later failures (a Webex fault) may have replaced the last error; the status
            // stays in error until a window commits, which no refused run can.
            let recorded = cursor.as_ref().is_some_and(|c| c.status == Status::Error);
            let reported = played
                .forbidden
                .iter()
                .any(|(s, o)| s == stream && *o == org);
            if reported && !recorded {
                played.problems.push(format!(
                    "{stream}: org {} answered 403 to a run, and its unit is not in error (status {:?}, last error {:?})",
                    short(&org),
                    cursor.as_ref().map(|c| c.status.name()),
                    cursor.and_then(|c| c.last_error).map(|e| e.message)
                ));
            }
        }
    }
    stack.sim.restore_org(&org);
    Ok(())
}

/// An organisation id by its end: they all begin alike.
pub fn short(org_id: &str) -> &str {
    &org_id[org_id.len().saturating_sub(12)..]
}

/// The events already there when the scenario starts, per unit (and, listing customers, the
/// secret's organisation's, which no unit may collect), and per stream of other sources.
fn history(stack: &Stack, scenario: &Scenario) -> (Vec<UnitEvents>, Vec<StreamEvents>) {
    let now = stack.sim.now_ms();
    // History starts late enough in the lookback that a first window chosen after every clock
    // move still covers it.
    let margin = scenario.total_advance().as_millis() as i64 + 30 * MIN;
    let lookback = LOOKBACK.as_millis() as i64;
    let spec = GenerateSpec {
        count: scenario.events.history,
        from_ms: now - lookback + margin,
        to_ms: now - 10 * MIN,
        shared_timestamp_fraction: scenario.events.shared_timestamp_fraction,
        late_fraction: scenario.events.late_fraction,
        max_lateness: scenario.events.max_lateness,
    };
    // An hour early in the history, where the first runs (with the faults on) begin.
    let burst = GenerateSpec {
        count: scenario.events.burst,
        from_ms: spec.from_ms + 30 * MIN,
        to_ms: spec.from_ms + 90 * MIN,
        ..spec.clone()
    };
    // Two minutes, a little later in the history.
    let dense = GenerateSpec {
        count: scenario.events.dense,
        from_ms: spec.from_ms + 100 * MIN,
        to_ms: spec.from_ms + 102 * MIN,
        ..spec.clone()
    };
    if let Some(sources) = &scenario.sources {
        let events = super::sources::history(stack, sources, &spec, &[&burst, &dense]);
        return (Vec::new(), events);
    }
    let home = sim_org_id(&stack.sim);
    let Some(orgs) = &scenario.orgs else {
        let units = scenario
            .streams
            .iter()
            .map(|stream| {
                let mut events = stack.sim.generate(sim_stream(*stream), spec.clone());
                for extra in [&burst, &dense] {
                    if extra.count > 0 {
                        events.extend(stack.sim.generate(sim_stream(*stream), extra.clone()));
                    }
                }
                UnitEvents {
                    stream: *stream,
                    org_id: home.clone(),
                    events,
                }
            })
            .collect();
        return (units, Vec::new());
    };
    let mut expected = Vec::new();
    for stream in &scenario.streams {
        let generate = |org: &str, spec: &GenerateSpec| {
            stack
                .sim
                .generate_for_org(org, sim_stream(*stream), spec.clone())
        };
        // The secret's organisation has its history either way; only discovering collects it.
        let events = generate(&home, &spec);
        if orgs.discover {
            expected.push(UnitEvents {
                stream: *stream,
                org_id: home.clone(),
                events,
            });
        }
        for (i, customer) in orgs.customers.iter().enumerate() {
            let org_id = orgs.customer_id(i);
            let own = GenerateSpec {
                count: customer.history,
                ..spec.clone()
            };
            let mut events = generate(&org_id, &own);
            // The first customer is the busy one.
            for extra in [&burst, &dense].into_iter().filter(|_| i == 0) {
                if extra.count > 0 {
                    events.extend(generate(&org_id, extra));
                }
            }
            expected.push(UnitEvents {
                stream: *stream,
                org_id,
                events,
            });
        }
    }
    (expected, Vec::new())
}

/// The clock moves on by `by`; events created meanwhile (some visible only later) arrive in
/// every organisation.
fn advance(
    stack: &Stack,
    scenario: &Scenario,
    by: Duration,
    new_events: usize,
    played: &mut Played,
) {
    let now = stack.sim.now_ms();
    let spec = GenerateSpec {
        count: new_events,
        from_ms: now,
        to_ms: now + by.as_millis() as i64,
        shared_timestamp_fraction: scenario.events.shared_timestamp_fraction,
        late_fraction: scenario.events.late_fraction,
        max_lateness: scenario.events.max_lateness,
    };
    if new_events > 0 {
        super::sources::advance(stack, &spec, &mut played.source_events);
        for unit in played.expected.iter_mut() {
            unit.events.extend(stack.sim.generate_for_org(
                &unit.org_id,
                sim_stream(unit.stream),
                spec.clone(),
            ));
        }
        // Listing customers, the secret's organisation goes on too, uncollected.
        let home = sim_org_id(&stack.sim);
        if scenario.orgs.as_ref().is_some_and(|orgs| !orgs.discover) {
            for stream in &scenario.streams {
                stack
                    .sim
                    .generate_for_org(&home, sim_stream(*stream), spec.clone());
            }
        }
    }
    stack.sim.advance(by);
}

/// The OAuth identities the scenario's streams read with.
pub fn identities(scenario: &Scenario) -> Vec<&'static str> {
    let mut identities: Vec<&'static str> = scenario
        .streams
        .iter()
        .map(|s| s.spec().default_identity)
        .collect();
    identities.dedup();
    identities
}

/// Switches every fault off, for the catch-up.
pub fn switch_faults_off(stack: &Stack) {
    stack.sim.clear_faults();
    if let Some(proxy) = &stack.proxy {
        proxy.clear_rule();
    }
}

fn switch_faults_on(stack: &Stack, scenario: &Scenario) {
    if let Some(faults) = &scenario.webex_faults {
        stack
            .sim
            .set_random_faults(scenario.seed, faults.probability, faults.kinds.clone());
    }
    if let (Some(faults), Some(proxy)) = (&scenario.aws_faults, &stack.proxy) {
        let AwsFaults {
            probability,
            kinds,
            services,
        } = faults.clone();
        let rng = Mutex::new(fastrand::Rng::with_seed(scenario.seed ^ 0xA3_5F_A0_17));
        proxy.set_rule(move |call| {
            if !services.contains(&call.service()) {
                return None;
            }
            let mut rng = rng.lock().ok()?;
            if rng.f64() >= probability {
                return None;
            }
            let kind = kinds[rng.usize(..kinds.len())];
            Some(kind.fault(&mut rng))
        });
    }
}

/// `webexctl` runs on the real clock: the simulator's must not be behind it, or a process
/// would ask for time the simulator has not reached.
fn follow_real_time(stack: &Stack) {
    let real = collector_core::Timestamp::now().millis();
    if stack.sim.now_ms() < real {
        stack.sim.set_now_ms(real);
    }
}

async fn runs(
    context: &StepContext<'_>,
    part_size: Option<usize>,
    count: u8,
    budget: Duration,
    drop_after: Option<Duration>,
    only: Option<&str>,
    played: &mut Played,
) -> Result<()> {
    let StepContext {
        stack, scenario, ..
    } = context;
    let mut started = Vec::new();
    let mut targets = Vec::new();
    let all = scenario.targets();
    for target in &all {
        for i in 0..count {
            let abandon = if i == 0 && *target == all[0] {
                drop_after
            } else {
                None
            };
            let run = Run {
                target: *target,
                part_size,
                budget,
                abandon,
                only,
            };
            started.push(run_in_process(stack, scenario, run));
            targets.push(*target);
        }
    }
    if count > 1 {
        played.concurrent += 1;
    }
    let results = join_all(started).await;
    for (target, result) in targets.into_iter().zip(results) {
        played.runs += 1;
        match result? {
            Err(panic) => played.panics.push(panic),
            Ok(None) => played.dropped += 1,
            Ok(Some(Err(e))) => {
                played.failed_runs += 1;
                played.run_errors.push(e.to_string());
            }
            Ok(Some(Ok(outcome))) => {
                if outcome
                    .done
                    .iter()
                    .any(|s| s.stopped == StopReason::Deadline)
                {
                    played.deadline_stops += 1;
                }
                if !outcome.failed.is_empty() {
                    played.failed_runs += 1;
                }
                for failure in outcome.failed {
                    if failure.error.contains("HTTP 403") {
                        forbidden(context, target, &failure.org_id, played);
                    }
                    played.run_errors.push(failure.error);
                }
            }
        }
    }
    Ok(())
}

/// A unit a run reported refused (403): the refused organisation while it is refused, and
/// never another (the random faults have no 403).
fn forbidden(context: &StepContext<'_>, target: Target, org_id: &str, played: &mut Played) {
    let Target::Webex(stream) = target else {
        played
            .problems
            .push("a run of the other sources reported a refusal (403), which no API made".into());
        return;
    };
    if context.refused.as_deref() == Some(org_id) {
        played.forbidden.push((stream, org_id.to_string()));
    } else {
        played.problems.push(format!(
            "{stream}: a run reported org {} refused (403), which Webex did not refuse then",
            short(org_id)
        ));
    }
}

/// One run in this process: what it collects and how it ends.
struct Run<'a> {
    target: Target,
    part_size: Option<usize>,
    budget: Duration,
    /// Abandoned (its future dropped) after this long.
    abandon: Option<Duration>,
    /// Only this organisation's unit.
    only: Option<&'a str>,
}

/// What a run in this process came to: what its units did (one unit, the secret's, when the
/// scenario has no organisations of its own), `None` when it was abandoned, or the message of
/// its panic.
type RunResult = Result<Option<Result<UnitsOutcome, CollectError>>, String>;

/// One run as its Lambda would do it: the secret's organisation, or through the units (every
/// one, or the one a queued message names); `None` when it was abandoned after `abandon`.
async fn run_in_process(stack: &Stack, scenario: &Scenario, run: Run<'_>) -> Result<RunResult> {
    let deadline = Instant::now() + run.budget;
    let stream = match (run.target, &scenario.sources) {
        (Target::Webex(stream), _) => stream,
        (Target::Sources, Some(sources)) => {
            let units = super::sources::units(
                stack,
                scenario,
                sources,
                &stack.collector_sdk,
                run.part_size,
            )?;
            return Ok(CatchPanic(Box::pin(async move {
                let list = units.units(None, deadline).await?;
                Ok(units.run(list, deadline).await)
            }))
            .await_within(run.abandon)
            .await);
        }
        (Target::Sources, None) => anyhow::bail!("the scenario has no sources"),
    };
    let mut config = stack.config(stream)?;
    if let Some(part_size) = run.part_size {
        config.part_size = part_size;
    }
    let ran = if scenario.orgs.is_some() {
        let units = StreamUnits::new(
            stream,
            &config,
            &stack.collector_sdk,
            Arc::new(SimTime(stack.sim.clone())),
        )?;
        let only = run.only;
        CatchPanic(Box::pin(async move {
            let list = units.units(only, deadline).await?;
            Ok(units.run(list, deadline).await)
        }))
        .await_within(run.abandon)
        .await
    } else {
        let collector = stack.collector_with(stream, &config)?;
        CatchPanic(Box::pin(async move {
            run_once(&collector, deadline)
                .await
                .map(|summary| UnitsOutcome {
                    done: vec![summary],
                    ..UnitsOutcome::default()
                })
        }))
        .await_within(run.abandon)
        .await
    };
    Ok(ran)
}

/// A future whose panic becomes an error carrying the panic's message, so that one crashed
/// run is a finding of its scenario rather than the end of it.
pub(crate) struct CatchPanic<F>(pub(crate) std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(panic_text(&*payload))),
        }
    }
}

impl<F: std::future::Future> CatchPanic<F> {
    /// Its output, or `None` when it was abandoned (dropped) after `abandon`.
    async fn await_within(self, abandon: Option<Duration>) -> Result<Option<F::Output>, String> {
        match abandon {
            None => self.await.map(Some),
            Some(after) => match tokio::time::timeout(after, self).await {
                Ok(result) => result.map(Some),
                Err(_) => Ok(None),
            },
        }
    }
}

pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string())
}

async fn processes(
    stack: &Stack,
    scenario: &Scenario,
    deadline_s: u64,
    kill_after: &[Option<Duration>],
    only: Option<&str>,
    played: &mut Played,
) -> Result<()> {
    let webexctl = webexctl_path()?;
    let endpoint = match &stack.proxy {
        Some(proxy) => proxy.url(),
        None => crate::aws::endpoint()?,
    };
    // One stream: a Webex stream configured by the environment, or the first of the
    // document's other sources, named.
    let (name, env) = match &scenario.sources {
        Some(sources) => {
            let mut env = stack.stream_env(StreamId::AdminAudit);
            let document = super::sources::document_path(stack);
            env.insert("COLLECTOR_CONFIG".into(), document.display().to_string());
            (sources.streams[0], env)
        }
        None => (
            scenario.streams[0].name(),
            stack.stream_env(scenario.streams[0]),
        ),
    };
    let mut started = Vec::new();
    for kill in kill_after {
        let mut command = tokio::process::Command::new(&webexctl);
        command
            .args([
                "collect",
                "--stream",
                name,
                "--deadline-seconds",
                &deadline_s.to_string(),
            ])
            .args(only.map(|org| ["--org", org]).into_iter().flatten())
            .envs(&env)
            // The process reaches the emulator through the fault proxy too.
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env(
                "RUST_LOG",
                "info,collector_core=debug,collector_app=debug,webex_client=debug,aws_adapters=debug",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        started.push(one_process(command, *kill));
    }
    if kill_after.len() > 1 {
        played.concurrent += 1;
    }
    for outcome in join_all(started).await {
        let outcome = outcome?;
        played.runs += 1;
        played.kills += u64::from(outcome.killed);
        played.failed_runs += u64::from(!outcome.killed && !outcome.succeeded);
        played.process_output.push_str(&outcome.output);
    }
    Ok(())
}

struct ProcessOutcome {
    killed: bool,
    succeeded: bool,
    output: String,
}

async fn one_process(
    mut command: tokio::process::Command,
    kill_after: Option<Duration>,
) -> Result<ProcessOutcome> {
    let mut child = command.spawn().context("start webexctl")?;
    // Read both pipes all along, so a chatty process never blocks on a full pipe.
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text).await;
        text
    });
    let err = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text).await;
        text
    });
    let mut killed = false;
    let status = match kill_after {
        None => child.wait().await?,
        Some(after) => match tokio::time::timeout(after, child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                // SIGKILL: no chance to abort uploads, release the lease or write anything.
                child.start_kill().context("kill webexctl")?;
                killed = true;
                child.wait().await?
            }
        },
    };
    let mut output = String::from_utf8_lossy(&out.await.unwrap_or_default()).into_owned();
    output.push_str(&String::from_utf8_lossy(&err.await.unwrap_or_default()));
    Ok(ProcessOutcome {
        killed,
        succeeded: status.success(),
        output,
    })
}

/// Polls the futures together on this task (they borrow the stack) and returns their outputs
/// in order.
pub(crate) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
