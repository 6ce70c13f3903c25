//! One end-to-end scenario: a simulator holding a backlog of N events, a clean moto, one
//! `webexctl collect` run measured on its own, and everything it wrote read back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use collector_core::StreamId;

use crate::measure::{Job, Measured, measured};
use crate::procs::{Sim, SimSummary, cpu_seconds, peak_rss_kib};
use crate::store::{Landed, LocalAws};

/// Events per second of simulated history in every throughput scenario, so that N sets how
/// long the backlog is, not how dense it is: each window holds the same number of events
/// whatever N, and memory per window can be compared across N. 1/s is 3,600 events in a
/// default one-hour window, and even the 20k backlog (5.6 h) fills more windows than the
/// collector fetches at once (`BACKFILL_WINDOWS`, 4): at 2/s it filled only three, so its peak
/// memory was that of fewer windows in flight, not of fewer events.
pub const EVENTS_PER_SECOND: f64 = 1.0;
/// The backfill's org is busier (864k events a day): 36 full pages per one-hour window, so
/// the window's last, partly filled page costs little and what the run shows is how well it
/// uses the request budget.
pub const BACKFILL_EVENTS_PER_SECOND: f64 = 10.0;
/// The backlog ends this long before the simulator starts: with the collector's default
/// settle lag (5 min) and the simulator's latest late arrival (10 min), every event is visible
/// and inside a window the run takes.
const END_OFFSET_SECONDS: u64 = 900;
const SEED: u64 = 7;
/// The cursor item stays a few KB whatever an overlap holds (issue 14's bound).
const MAX_ITEM_BYTES: u64 = 16 * 1024;
/// A burst is collected within this, whatever its density.
const MAX_DENSE_RSS_KIB: u64 = 64 * 1024;
/// Generous: a run that takes this long is broken, not slow.
const RUN_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// What a scenario collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collects {
    /// A Webex stream configured by the environment, as its function is.
    Webex(StreamId),
    /// A collector document's `http` stream, as the http-sources function collects it: the
    /// simulator's general API A (a JSON next URL, an API key header, pages up to 200).
    HttpNextUrl,
}

/// The document stream of [`Collects::HttpNextUrl`] and its identity's secret.
const HTTP_STREAM: &str = "http-acme";
const HTTP_SECRET: &str = "sources/acme";

impl Collects {
    /// The `--stream` webexctl takes, and the first part of every object key.
    pub fn name(self) -> &'static str {
        match self {
            Collects::Webex(stream) => stream.name(),
            Collects::HttpNextUrl => HTTP_STREAM,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub collects: Collects,
    /// Run with the baseline webexctl (`--baseline-bin-dir`): the figures before a change.
    pub baseline: bool,
    /// The name shared by every run of a scenario compared before and after; `None` when it
    /// is not compared.
    pub compared_as: Option<String>,
    pub events: u64,
    /// Events per second of history (see [`EVENTS_PER_SECOND`]).
    pub density: f64,
    pub page_size: u32,
    pub page_latency_ms: u64,
    pub rate_limit_per_minute: Option<u32>,
    /// Collector environment on top of the common one.
    pub env: Vec<(&'static str, String)>,
}

impl Scenario {
    /// A throughput run: no latency, no rate limit on the simulator, and a request budget high
    /// enough that it never binds, so what is measured is the collector's own work.
    pub fn throughput(stream: StreamId, events: u64, page_size: u32) -> Self {
        Self {
            name: format!("{} {}", stream.name(), count(events)),
            collects: Collects::Webex(stream),
            baseline: false,
            compared_as: None,
            events,
            density: EVENTS_PER_SECOND,
            page_size,
            page_latency_ms: 0,
            rate_limit_per_minute: None,
            env: vec![("MAX_REQUESTS_PER_MINUTE", "6000".to_owned())],
        }
    }

    /// A burst: `events` compliance events created within `span_seconds` (well inside one
    /// 15-minute overlap), the density of a large organisation's busiest minutes. Windows split
    /// on event count here, and the digest of one overlap holds every event.
    pub fn dense(events: u64, span_seconds: u64) -> Self {
        Self {
            name: format!("dense compliance-events {}", count(events)),
            collects: Collects::Webex(StreamId::ComplianceEvents),
            baseline: false,
            compared_as: None,
            events,
            density: events as f64 / span_seconds as f64,
            page_size: 1000,
            page_latency_ms: 0,
            rate_limit_per_minute: None,
            env: vec![("MAX_REQUESTS_PER_MINUTE", "6000".to_owned())],
        }
    }

    /// A throughput run of a document's `http` stream, pages of 200 (its API's largest).
    pub fn http(events: u64) -> Self {
        Self {
            name: format!("{HTTP_STREAM} {}", count(events)),
            collects: Collects::HttpNextUrl,
            page_size: 200,
            ..Self::throughput(StreamId::AdminAudit, events, 200)
        }
    }

    /// The runs that compare this scenario before and after, `rounds` of each binary, in the
    /// order before, after, after, before, ... so that a drift in the machine's speed over the
    /// rounds weighs on both alike.
    pub fn compared(&self, rounds: u32) -> Vec<Self> {
        let run = |baseline: bool, round: u32| {
            let side = if baseline { "before" } else { "" };
            let variant = match (side, round) {
                ("", 1) => String::new(),
                (side, 1) => format!(" ({side})"),
                ("", round) => format!(" (round {round})"),
                (side, round) => format!(" ({side}, round {round})"),
            };
            Self {
                name: format!("{}{variant}", self.name),
                baseline,
                compared_as: Some(self.name.clone()),
                ..self.clone()
            }
        };
        (1..=rounds.max(1))
            .flat_map(|round| {
                let before_first = round % 2 == 1;
                [run(before_first, round), run(!before_first, round)]
            })
            .collect()
    }

    pub fn is_dense(&self) -> bool {
        self.density > 100.0
    }

    /// A backfill against Webex's documented limit: 200 ms per page, 300 requests a minute per
    /// client, with the collector fetching `windows` windows at once under a budget of
    /// `budget` requests a minute.
    pub fn backfill(events: u64, windows: u32, budget: u32) -> Self {
        Self {
            name: format!("backfill compliance-events {}", count(events)),
            collects: Collects::Webex(StreamId::ComplianceEvents),
            baseline: false,
            compared_as: None,
            events,
            density: BACKFILL_EVENTS_PER_SECOND,
            page_size: 1000,
            page_latency_ms: 200,
            rate_limit_per_minute: Some(300),
            env: vec![
                ("BACKFILL_WINDOWS", windows.to_string()),
                ("MAX_REQUESTS_PER_MINUTE", budget.to_string()),
            ],
        }
    }

    pub fn is_backfill(&self) -> bool {
        self.rate_limit_per_minute.is_some()
    }

    /// Seconds of history the backlog spans.
    pub fn span_seconds(&self) -> f64 {
        self.events as f64 / self.density
    }

    /// Whole days back the first run starts: the backlog, its offset and a margin.
    pub fn lookback_days(&self) -> u64 {
        let needed = self.span_seconds() + END_OFFSET_SECONDS as f64 + 600.0;
        (needed / 86_400.0).ceil().max(1.0) as u64
    }

    /// What the collector can fetch at most under the simulator's limit, in events a second.
    pub fn limit_events_per_second(&self) -> Option<f64> {
        self.rate_limit_per_minute
            .map(|limit| f64::from(limit) / 60.0 * f64::from(self.page_size))
    }

    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `20k`, `200k`, `2M`.
pub fn count(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The executables a scenario runs.
#[derive(Clone, Debug)]
pub struct Bins {
    pub webexctl: PathBuf,
    pub webex_sim: PathBuf,
    /// A webexctl built from an earlier commit, for before-and-after figures.
    pub baseline: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Outcome {
    pub scenario: Scenario,
    /// webexctl alone.
    pub collector: Measured,
    /// webexctl's JSON run summary.
    pub run: serde_json::Value,
    pub sim_ready_s: f64,
    /// Simulator CPU during the collector's run only (not generating the events).
    pub sim_cpu_s: f64,
    pub sim_peak_rss_kib: u64,
    pub sim: SimSummary,
    /// moto's CPU during the run, when its process was found.
    pub moto_cpu_s: Option<f64>,
    pub landed: Landed,
    /// The largest state-table item seen while the run went on (sampled every 250 ms).
    pub largest_item_bytes: u64,
    /// Why this result does not count (lost or repeated events, a failed run).
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn events_per_second(&self) -> f64 {
        self.landed.distinct as f64 / self.collector.wall_s
    }

    pub fn cpu_s_per_million(&self) -> f64 {
        self.collector.cpu_s() / (self.landed.distinct.max(1) as f64 / 1e6)
    }

    pub fn pages(&self) -> u64 {
        self.run.get("pages").and_then(|p| p.as_u64()).unwrap_or(0)
    }

    pub fn windows(&self) -> u64 {
        self.run
            .get("windows")
            .and_then(|p| p.as_u64())
            .unwrap_or(0)
    }
}

pub async fn run(
    scenario: &Scenario,
    bins: &Bins,
    aws: &LocalAws,
    moto_pid: Option<u32>,
    work: &Path,
) -> Result<Outcome> {
    let slug: String = scenario
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let (bucket, table) = ("bench-events", "bench-state");
    aws.reset().await?;
    let mut sim_args = vec![
        "--port".to_owned(),
        "0".to_owned(),
        "--seed".to_owned(),
        SEED.to_string(),
        "--days".to_owned(),
        format!("{:.6}", scenario.span_seconds() / 86_400.0),
        "--end-offset-seconds".to_owned(),
        END_OFFSET_SECONDS.to_string(),
        "--page-latency-ms".to_owned(),
        scenario.page_latency_ms.to_string(),
    ];
    if let Some(limit) = scenario.rate_limit_per_minute {
        sim_args.extend(["--rate-limit-per-minute".to_owned(), limit.to_string()]);
    }
    let mut env: Vec<(String, String)> = vec![
        ("STATE_TABLE".to_owned(), table.to_owned()),
        ("OUTPUT_BUCKET".to_owned(), bucket.to_owned()),
        ("OUTPUT_PREFIX".to_owned(), "webex/".to_owned()),
        ("S3_FORCE_PATH_STYLE".to_owned(), "true".to_owned()),
        ("PAGE_SIZE".to_owned(), scenario.page_size.to_string()),
        (
            "INITIAL_LOOKBACK_DAYS".to_owned(),
            scenario.lookback_days().to_string(),
        ),
    ];
    let (sim, secret) = match scenario.collects {
        Collects::Webex(stream) => {
            // The sim's `--refresh-token` takes the names of the default identities.
            let identity = stream.spec().default_identity;
            let refresh_token = format!("bench-refresh-{identity}");
            sim_args.extend([
                "--events".to_owned(),
                scenario.events.to_string(),
                "--streams".to_owned(),
                stream.name().to_owned(),
                // Pages in no particular order, as Webex documents none.
                "--order".to_owned(),
                "shuffled".to_owned(),
                "--refresh-token".to_owned(),
                format!("{identity}={refresh_token}"),
            ]);
            let sim = Sim::start(
                &bins.webex_sim,
                &sim_args,
                &work.join(format!("{slug}.sim.log")),
            )
            .await?;
            let secret = format!("webex/{identity}");
            env.extend([
                ("TOKEN_SECRET_ID".to_owned(), secret.clone()),
                ("WEBEX_API_URL".to_owned(), sim.base_url.clone()),
            ]);
            let value = serde_json::json!({
                "client_id": webex_sim::DEFAULT_CLIENT_ID,
                "client_secret": webex_sim::DEFAULT_CLIENT_SECRET,
                "redirect_uri": "http://127.0.0.1/oauth/callback",
                "org_id": webex_sim::DEFAULT_ORG_ID,
                "scopes": stream.spec().scope,
                "refresh_token": refresh_token,
            });
            (sim, (secret, value))
        }
        Collects::HttpNextUrl => {
            sim_args.extend([
                "--events".to_owned(),
                "0".to_owned(),
                "--api-events".to_owned(),
                scenario.events.to_string(),
                "--apis".to_owned(),
                webex_sim::Api::GeneralA.name().to_owned(),
            ]);
            let sim = Sim::start(
                &bins.webex_sim,
                &sim_args,
                &work.join(format!("{slug}.sim.log")),
            )
            .await?;
            let document = work.join(format!("{slug}.toml"));
            std::fs::write(&document, http_document(&sim.base_url, scenario.page_size))
                .with_context(|| format!("cannot write {}", document.display()))?;
            env.push((
                "COLLECTOR_CONFIG".to_owned(),
                document.display().to_string(),
            ));
            let value = serde_json::json!({"key": webex_sim::DEFAULT_GENERAL_A_API_KEY});
            (sim, (HTTP_SECRET.to_owned(), value))
        }
    };
    aws.prepare(bucket, table, &[secret]).await?;
    env.extend(
        scenario
            .env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone())),
    );

    let largest_item = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (aws, largest_item) = (aws.clone(), largest_item.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(bytes) = aws.largest_item_bytes(table).await {
                    largest_item.fetch_max(bytes, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let sim_cpu_before = cpu_seconds(sim.pid())?;
    let moto_before = moto_pid.and_then(|pid| cpu_seconds(pid).ok());
    let stdout = work.join(format!("{slug}.webexctl.out"));
    let webexctl = match (&bins.baseline, scenario.baseline) {
        (Some(baseline), true) => baseline,
        _ => &bins.webexctl,
    };
    let collected = measured(Job {
        program: webexctl,
        args: vec![
            "collect".to_owned(),
            "--stream".to_owned(),
            scenario.collects.name().to_owned(),
            // Far beyond any scenario: the run ends because it caught up.
            "--deadline-seconds".to_owned(),
            "3000".to_owned(),
        ],
        env,
        stdout: stdout.clone(),
        stderr: work.join(format!("{slug}.webexctl.log")),
        timeout: RUN_TIMEOUT,
    })
    .await;
    sampler.abort();
    let sim_cpu_s = cpu_seconds(sim.pid())? - sim_cpu_before;
    let moto_cpu_s = match (moto_pid, moto_before) {
        (Some(pid), Some(before)) => cpu_seconds(pid).ok().map(|after| after - before),
        _ => None,
    };
    let sim_peak_rss_kib = peak_rss_kib(sim.pid())?;
    let sim_ready_s = sim.ready_after.as_secs_f64();
    let sim_summary = sim.stop().await?;
    let collector = collected?;

    let mut problems = Vec::new();
    if collector.exit_code != Some(0) {
        problems.push(format!(
            "webexctl exited with {:?}; see {}",
            collector.exit_code,
            stdout.with_extension("log").display()
        ));
    }
    let run: serde_json::Value = std::fs::read_to_string(&stdout)
        .ok()
        .and_then(|text| text.lines().last().map(str::to_owned))
        .and_then(|line| serde_json::from_str(&line).ok())
        .unwrap_or_default();
    let stopped = run.get("stopped").and_then(|s| s.as_str()).unwrap_or("?");
    if !stopped
        .to_ascii_lowercase()
        .replace('_', "")
        .contains("caughtup")
    {
        problems.push(format!("the run stopped with {stopped:?}, not caught up"));
    }
    let largest_item_bytes = largest_item
        .load(Ordering::Relaxed)
        .max(aws.largest_item_bytes(table).await?);
    if largest_item_bytes > MAX_ITEM_BYTES {
        problems.push(format!(
            "a state item reached {largest_item_bytes} bytes (at most {MAX_ITEM_BYTES})"
        ));
    }
    if scenario.is_dense() && collector.max_rss_kib > MAX_DENSE_RSS_KIB {
        problems.push(format!(
            "peak RSS {:.1} MiB (at most {} MiB)",
            collector.max_rss_kib as f64 / 1024.0,
            MAX_DENSE_RSS_KIB / 1024
        ));
    }
    let landed = aws
        .landed(bucket, "webex/", scenario.collects)
        .await
        .context("reading back what landed in S3")?;
    if landed.events != scenario.events || landed.distinct != scenario.events {
        problems.push(format!(
            "S3 holds {} lines with {} distinct events; the simulator generated {}",
            landed.events, landed.distinct, scenario.events
        ));
    }
    Ok(Outcome {
        scenario: scenario.clone(),
        collector,
        run,
        sim_ready_s,
        sim_cpu_s,
        sim_peak_rss_kib,
        sim: sim_summary,
        moto_cpu_s,
        landed,
        largest_item_bytes,
        problems,
    })
}

/// The collector document of [`Collects::HttpNextUrl`]: the simulator's general API A at
/// `base_url`'s origin, with the collector's default windows.
fn http_document(base_url: &str, page_size: u32) -> String {
    let origin = base_url.trim_end_matches('/').trim_end_matches("/v1");
    format!(
        r#"[identities.acme]
kind = "api_key"
secret = "{HTTP_SECRET}"
header = "X-Api-Key"
max_requests_per_minute = 6000

[[streams]]
name = "{HTTP_STREAM}"
source = "http"
identity = "acme"
page_size = {page_size}

[streams.request]
url = "{origin}/gen-a/api/v2/audit"
query = {{ since = "{{from}}", until = "{{to}}" }}
time_format = "rfc3339_ms"

[streams.paging]
kind = "next_url"
next = "next"
size_param = "page_size"
max_size = 200

[streams.items]
path = "results"
id = "id"
time = "occurred_at"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compared_rounds_alternate_which_binary_runs_first() {
        let runs = Scenario::throughput(StreamId::AdminAudit, 200_000, 200).compared(2);
        let names: Vec<(&str, bool)> = runs.iter().map(|r| (r.name.as_str(), r.baseline)).collect();
        assert_eq!(
            names,
            [
                ("admin-audit 200k (before)", true),
                ("admin-audit 200k", false),
                ("admin-audit 200k (round 2)", false),
                ("admin-audit 200k (before, round 2)", true),
            ]
        );
        assert!(
            runs.iter()
                .all(|r| r.compared_as.as_deref() == Some("admin-audit 200k"))
        );
    }
}
