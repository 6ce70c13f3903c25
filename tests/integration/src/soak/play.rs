//! Plays a scenario's steps against its stack with the faults switched on: runs in this process
//! (some abandoned mid-flight), `webexctl` processes killed with SIGKILL, several runs at once,
//! and the clock moving on with new events between them.

use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use collector_app::run_once;
use collector_core::{CollectError, RunSummary, StopReason, StreamId};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use webex_sim::{GenerateSpec, SimEvent};

use super::scenario::{AwsFaults, LOOKBACK, Scenario, Step};
use crate::stack::sim_stream;
use crate::{Stack, webexctl_path};

/// What happened while the faults were on.
#[derive(Debug, Default)]
pub struct Played {
    /// Every event the simulator holds, per stream: what S3 must hold in the end.
    pub expected: Vec<(StreamId, Vec<SimEvent>)>,
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
}

const MIN: i64 = 60_000;

/// Creates the history, then plays the steps with the faults on.
pub async fn play(stack: &Stack, scenario: &Scenario, part_size: Option<usize>) -> Result<Played> {
    let mut played = Played {
        expected: history(stack, scenario),
        ..Played::default()
    };
    if scenario.access_token_stored {
        for identity in identities(scenario) {
            stack.reauthorise(identity).await?;
        }
    }
    switch_faults_on(stack, scenario);
    for step in &scenario.steps {
        if scenario.uses_processes() {
            follow_real_time(stack);
        }
        match step {
            Step::Runs {
                count,
                budget,
                drop_after,
            } => {
                runs(
                    stack,
                    scenario,
                    part_size,
                    *count,
                    *budget,
                    *drop_after,
                    &mut played,
                )
                .await?
            }
            Step::Processes {
                deadline_s,
                kill_after,
            } => processes(stack, scenario, *deadline_s, kill_after, &mut played).await?,
            Step::Advance { by, new_events } => {
                advance(stack, scenario, *by, *new_events, &mut played.expected)
            }
        }
    }
    Ok(played)
}

/// The events already there when the scenario starts, per stream.
fn history(stack: &Stack, scenario: &Scenario) -> Vec<(StreamId, Vec<SimEvent>)> {
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
    scenario
        .streams
        .iter()
        .map(|stream| {
            let mut events = stack.sim.generate(sim_stream(*stream), spec.clone());
            for extra in [&burst, &dense] {
                if extra.count > 0 {
                    events.extend(stack.sim.generate(sim_stream(*stream), extra.clone()));
                }
            }
            (*stream, events)
        })
        .collect()
}

/// The clock moves on by `by`; events created meanwhile (some visible only later) arrive.
fn advance(
    stack: &Stack,
    scenario: &Scenario,
    by: Duration,
    new_events: usize,
    expected: &mut [(StreamId, Vec<SimEvent>)],
) {
    let now = stack.sim.now_ms();
    if new_events > 0 {
        for (stream, events) in expected {
            events.extend(stack.sim.generate(
                sim_stream(*stream),
                GenerateSpec {
                    count: new_events,
                    from_ms: now,
                    to_ms: now + by.as_millis() as i64,
                    shared_timestamp_fraction: scenario.events.shared_timestamp_fraction,
                    late_fraction: scenario.events.late_fraction,
                    max_lateness: scenario.events.max_lateness,
                },
            ));
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
    stack: &Stack,
    scenario: &Scenario,
    part_size: Option<usize>,
    count: u8,
    budget: Duration,
    drop_after: Option<Duration>,
    played: &mut Played,
) -> Result<()> {
    let mut started = Vec::new();
    for stream in &scenario.streams {
        for i in 0..count {
            let abandon = if i == 0 && *stream == scenario.streams[0] {
                drop_after
            } else {
                None
            };
            started.push(run_in_process(stack, *stream, part_size, budget, abandon));
        }
    }
    if count > 1 {
        played.concurrent += 1;
    }
    let results = join_all(started).await;
    for result in results {
        played.runs += 1;
        match result? {
            Err(panic) => played.panics.push(panic),
            Ok(None) => played.dropped += 1,
            Ok(Some(Ok(summary))) if summary.stopped == StopReason::Deadline => {
                played.deadline_stops += 1
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => {
                played.failed_runs += 1;
                played.run_errors.push(e.to_string());
            }
        }
    }
    Ok(())
}

/// What a run in this process came to: its result, `None` when it was abandoned, or the
/// message of its panic.
type RunResult = Result<Option<Result<RunSummary, CollectError>>, String>;

/// One run as its Lambda would do it; `None` when it was abandoned after `abandon`.
async fn run_in_process(
    stack: &Stack,
    stream: StreamId,
    part_size: Option<usize>,
    budget: Duration,
    abandon: Option<Duration>,
) -> Result<RunResult> {
    let mut config = stack.config(stream)?;
    if let Some(part_size) = part_size {
        config.part_size = part_size;
    }
    let collector = stack.collector_with(stream, &config)?;
    let run = CatchPanic(Box::pin(run_once(&collector, Instant::now() + budget)));
    Ok(match abandon {
        None => run.await.map(Some),
        Some(after) => match tokio::time::timeout(after, run).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        },
    })
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
    played: &mut Played,
) -> Result<()> {
    let webexctl = webexctl_path()?;
    let endpoint = match &stack.proxy {
        Some(proxy) => proxy.url(),
        None => crate::aws::endpoint()?,
    };
    let stream = scenario.streams[0];
    let mut started = Vec::new();
    for kill in kill_after {
        let mut command = tokio::process::Command::new(&webexctl);
        command
            .args([
                "collect",
                "--stream",
                stream.name(),
                "--deadline-seconds",
                &deadline_s.to_string(),
            ])
            .envs(stack.stream_env(stream))
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
