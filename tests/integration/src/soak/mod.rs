//! The randomized fault soak (`make soak`): many scenarios, each drawn from a printed seed,
//! each its own stack (simulator, fault proxy, bucket, table, secrets) on one shared emulator,
//! several at once. A scenario plays its steps with Webex and AWS faults on, catches up without
//! faults, then checks the promise: every event in S3 exactly once and byte for byte, the cursor
//! where it should be, no upload left open, no refresh token lost.

pub mod check;
pub mod play;
pub mod report;
pub mod scenario;
pub mod sources;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use webex_sim::{ClockMode, SimConfig};

pub use report::{Outcome, Summary};
pub use scenario::Scenario;

use crate::{Stack, StackOptions};

/// A scenario that takes longer than this is stuck: reported as failed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct SoakOptions {
    pub seeds: Vec<u64>,
    /// Scenarios played at once; they mostly wait on I/O.
    pub concurrency: usize,
    /// An upload part size the emulator accepts below S3's 5 MiB, so that small scenarios
    /// upload in parts too; `None` keeps the production size.
    pub part_size: Option<usize>,
}

/// Upload parts of this size make the larger windows of small scenarios multipart uploads.
const SMALL_PART: usize = 16 * 1024;

/// [`SMALL_PART`] when the emulator takes parts that small. moto reads
/// `S3_UPLOAD_PART_MIN_SIZE` from the environment it was started in, which is this process's
/// too (`scripts/with-moto.sh` starts both).
pub fn emulator_part_size() -> Option<usize> {
    std::env::var("S3_UPLOAD_PART_MIN_SIZE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|min| *min <= SMALL_PART)
        .map(|_| SMALL_PART)
}

/// The seed of the `index`th scenario of a soak started from `base`: spread out, so that
/// neighbouring scenarios share nothing.
pub fn scenario_seed(base: u64, index: u64) -> u64 {
    let mut z = base.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    // Kept below 2^53 so that the seed survives any tool that reads it as a float.
    (z ^ (z >> 31)) >> 11
}

/// Plays every scenario, `on_outcome` seeing each as it finishes, and sums them up.
pub async fn soak(options: SoakOptions, mut on_outcome: impl FnMut(&Outcome)) -> Summary {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for seed in options.seeds.iter().copied() {
        let permits = permits.clone();
        let part_size = options.part_size;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            scenario_outcome(seed, part_size).await
        });
    }
    let mut summary = Summary::default();
    while let Some(joined) = tasks.join_next().await {
        let (outcome, streams) = match joined {
            Ok(done) => done,
            // Each scenario runs in its own inner task, which catches its panics; this one
            // only awaits it.
            Err(e) => (
                Outcome {
                    harness_error: Some(format!("scenario task failed: {e}")),
                    ..Outcome::default()
                },
                Vec::new(),
            ),
        };
        on_outcome(&outcome);
        summary.add(&outcome, &streams);
    }
    summary.wall_time = started.elapsed();
    summary
}

/// One scenario from its seed to its outcome; a panic or a hang becomes a failed outcome.
pub async fn scenario_outcome(seed: u64, part_size: Option<usize>) -> (Outcome, Vec<&'static str>) {
    let scenario = Scenario::generate(seed, part_size.is_some());
    let streams = scenario.stream_names();
    let mut outcome = Outcome {
        seed,
        description: scenario.to_string(),
        multi_org: scenario.orgs.is_some(),
        other_sources: scenario.sources.is_some(),
        ..Outcome::default()
    };
    let started = Instant::now();
    let inner = tokio::spawn(async move {
        tokio::time::timeout(SCENARIO_TIMEOUT, play_and_check(scenario, part_size)).await
    });
    match inner.await {
        Ok(Ok(Ok(done))) => {
            outcome.played = done.played;
            outcome.findings = done.findings;
            outcome.webex_faults = done.webex_faults;
            outcome.aws_faults = done.aws_faults;
            outcome.aws_services = done.aws_services;
            outcome.playing = done.playing;
            outcome.webex_requests = done.webex_requests;
            outcome.multipart_uploads = done.multipart_uploads;
        }
        Ok(Ok(Err(e))) => outcome.harness_error = Some(format!("{e:#}")),
        Ok(Err(_)) => {
            outcome.harness_error = Some(format!("stuck for {}s", SCENARIO_TIMEOUT.as_secs()))
        }
        Err(e) => outcome.harness_error = Some(format!("panicked: {}", panic_message(e))),
    }
    outcome.elapsed = started.elapsed();
    (outcome, streams)
}

struct Done {
    played: play::Played,
    findings: check::Findings,
    webex_faults: BTreeMap<String, u64>,
    aws_faults: BTreeMap<String, u64>,
    aws_services: BTreeMap<String, u64>,
    playing: Duration,
    webex_requests: u64,
    multipart_uploads: u64,
}

async fn play_and_check(scenario: Scenario, part_size: Option<usize>) -> Result<Done> {
    // Processes run on the real clock, so the simulator's starts there; otherwise at a fixed
    // instant, so a replay generates the same events.
    let start_ms = if scenario.uses_processes() {
        collector_core::Timestamp::now().millis()
    } else {
        webex_sim::DEFAULT_START_MS
    };
    let sim = SimConfig {
        seed: scenario.seed,
        clock: ClockMode::Manual { start_ms },
        order: scenario.order,
        admin_link_header: scenario.admin_link_header,
        rotate_refresh_tokens: scenario.rotate_refresh_tokens,
        page_latency: scenario.page_latency,
        max_without_gateway_timeout: scenario.gateway_limit,
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        env: scenario.env(),
        // Always there, so that every scenario's AWS calls are counted the same way.
        fault_proxy: true,
        authorised: true,
    })
    .await?;
    let part_size = part_size.filter(|_| scenario.small_parts);
    let started = Instant::now();
    let played = play::play(&stack, &scenario, part_size).await?;
    let playing = started.elapsed();
    play::switch_faults_off(&stack);
    let mut webex_faults = BTreeMap::new();
    let requests = stack.sim.requests();
    let webex_requests = requests.len() as u64;
    for request in requests {
        if let Some(fault) = request.fault {
            *webex_faults
                .entry(report::webex_fault_kind(&fault))
                .or_default() += 1;
        }
    }
    let multipart_uploads = stack
        .proxy
        .iter()
        .flat_map(|p| p.calls())
        .filter(|f| f.call.method == "POST" && f.call.query.starts_with("uploads"))
        .count() as u64;
    let mut aws_faults = BTreeMap::new();
    let mut aws_services = BTreeMap::new();
    for (call, fault) in stack.proxy.iter().flat_map(|p| p.injected()) {
        *aws_faults.entry(fault.kind().to_string()).or_default() += 1;
        *aws_services
            .entry(call.service().name().to_string())
            .or_default() += 1;
    }
    let findings = check::catch_up_and_check(&stack, &scenario, &played).await?;
    if scenario.sources.is_some() {
        let _ = std::fs::remove_file(sources::document_path(&stack));
    }
    Ok(Done {
        played,
        findings,
        webex_faults,
        aws_faults,
        aws_services,
        playing,
        webex_requests,
        multipart_uploads,
    })
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => play::panic_text(&*payload),
        Err(e) => e.to_string(),
    }
}
