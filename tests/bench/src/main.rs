//! `bench`: the end-to-end benchmark behind `make bench`.
//!
//! `bench run` (under `scripts/with-moto.sh`, with the release binaries built) runs
//! `webexctl collect` against the `webex-sim` binary and moto for each scenario, measures
//! webexctl alone (wall, user + system CPU, peak RSS), the simulator's and moto's CPU, reads
//! every object back to check that each generated event landed exactly once, times the Lambda
//! functions' cold starts against a runtime API stub, collects the artifact sizes and the
//! criterion figures, and writes the tables into docs/benchmarks.md.
//!
//! `bench measure --out FILE -- COMMAND...` is the wrapper that measures one process; `run`
//! calls it.

mod artifacts;
mod coldstart;
mod criterion;
mod measure;
mod procs;
mod report;
mod scenario;
mod store;
mod webhooks;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use collector_core::StreamId;

use crate::scenario::{Bins, Collects, Scenario};
use crate::store::LocalAws;

/// The functions whose cold start is timed: each starts from its environment alone (the
/// receiver also reads its secret, which the run creates).
const FUNCTIONS: [&str; 7] = [
    "admin-audit",
    "security-audit",
    "compliance-events",
    "oauth-callback",
    "webhook-receiver",
    "webhook-writer",
    "webhook-registrar",
];
/// The functions whose artifacts are measured: http-sources too, which needs a document to
/// start.
const ARTIFACTS: [&str; 8] = [
    "admin-audit",
    "security-audit",
    "compliance-events",
    "oauth-callback",
    "http-sources",
    "webhook-receiver",
    "webhook-writer",
    "webhook-registrar",
];

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "End-to-end benchmark of the collectors (make bench)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the scenarios and writes docs/benchmarks.md. Needs AWS_ENDPOINT_URL (moto).
    Run(Box<RunArgs>),
    /// Runs COMMAND as the only child and writes its resource use as JSON to FILE.
    #[command(hide = true)]
    Measure {
        #[arg(long)]
        out: PathBuf,
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Where the host release binaries are (webexctl, webex-sim, the functions).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where a webexctl built from an earlier commit is: every Webex scenario but the backfill
    /// then runs with it too, just before the current one, and the report compares their CPU.
    #[arg(long)]
    baseline_bin_dir: Option<PathBuf>,
    /// Runs of each binary per compared scenario (before, after, after, before, ...); the
    /// dense scenario, five minutes a run, has one of each.
    #[arg(long, default_value_t = 2)]
    baseline_rounds: u32,
    /// The commit the baseline was built from, for the report.
    #[arg(long, default_value = "an earlier commit")]
    baseline_commit: String,
    /// Where `cargo lambda build --output-format zip` put the artifacts.
    #[arg(long, default_value = "target/lambda")]
    lambda_dir: PathBuf,
    /// Says how the artifacts were built (printed above their table).
    #[arg(
        long,
        default_value = "`cargo lambda build --release --arm64 --output-format zip`."
    )]
    artifact_note: String,
    /// Criterion's output of `cargo bench -p collector-core --bench hot_path`.
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// Print the tables instead of writing them (for trial runs).
    #[arg(long)]
    no_write: bool,
    /// Run only these scenarios: a whole name, or a word of it (e.g. `20k,backfill`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Divide every scenario's event count by this, for a quick trial.
    #[arg(long, default_value_t = 1)]
    scale_down: u64,
    /// Windows the collector fetches at once in the backfill scenario (`BACKFILL_WINDOWS`).
    #[arg(long, default_value_t = 4)]
    backfill_windows: u32,
    /// The collector's own request budget in the backfill (`MAX_REQUESTS_PER_MINUTE`), below
    /// the simulator's limit of 300.
    #[arg(long, default_value_t = 290)]
    backfill_budget: u32,
    #[arg(long, default_value_t = 7)]
    cold_start_runs: usize,
    /// Webhook deliveries sent to the receiver, from this many concurrent senders, served by
    /// this many receiver processes. Moto's SQS slows as its queue grows (20,000 sent one
    /// after another did not finish in ten minutes): 2,000 keep moto's cost per message flat.
    #[arg(long, default_value_t = 2_000)]
    webhook_deliveries: usize,
    #[arg(long, default_value_t = 32)]
    webhook_clients: usize,
    #[arg(long, default_value_t = 4)]
    webhook_instances: usize,
    /// Logs and outputs of each run.
    #[arg(long, default_value = ".local/bench")]
    work_dir: PathBuf,
}

fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Measure { out, command } => measure::measure_command(&out, &command),
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|runtime| runtime.block_on(run(*args))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn scenarios(args: &RunArgs) -> Vec<Scenario> {
    let n = |events: u64| (events / args.scale_down.max(1)).max(1);
    let all = vec![
        Scenario::throughput(StreamId::ComplianceEvents, n(20_000), 1000),
        Scenario::throughput(StreamId::ComplianceEvents, n(200_000), 1000),
        Scenario::throughput(StreamId::ComplianceEvents, n(2_000_000), 1000),
        Scenario::throughput(StreamId::AdminAudit, n(200_000), 200),
        // The other end of density: a million events within three minutes.
        Scenario::dense(n(1_000_000), 180),
        // A document's stream of another source, through the same machinery.
        Scenario::http(n(200_000)),
        // Last: it runs at the rate limit, so it takes longest.
        Scenario::backfill(n(2_000_000), args.backfill_windows, args.backfill_budget),
    ];
    all.into_iter()
        .filter(|s| {
            args.only.is_empty()
                || args
                    .only
                    .iter()
                    .any(|o| s.name == *o || s.name.split(' ').any(|word| word == o))
        })
        .flat_map(|s| {
            let compared = args.baseline_bin_dir.is_some()
                && matches!(s.collects, Collects::Webex(_))
                && !s.is_backfill();
            match compared {
                true if s.is_dense() => s.compared(1),
                true => s.compared(args.baseline_rounds),
                false => vec![s],
            }
        })
        .collect()
}

async fn run(args: RunArgs) -> Result<()> {
    let started = Instant::now();
    let machine = report::Machine::probe();
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;
    let bins = Bins {
        webexctl: executable(&args.bin_dir, "webexctl")?,
        webex_sim: executable(&args.bin_dir, "webex-sim")?,
        baseline: args
            .baseline_bin_dir
            .as_deref()
            .map(|dir| executable(dir, "webexctl"))
            .transpose()?,
    };
    let aws = LocalAws::connect().await?;
    let moto_pid = procs::find_moto(&aws.endpoint);
    if moto_pid.is_none() {
        eprintln!("bench: moto's process not found; its CPU is not reported");
    }
    let concurrent_windows = std::fs::read_to_string("shared/app/src/config.rs")
        .is_ok_and(|config| config.contains("BACKFILL_WINDOWS"));

    let mut outcomes = Vec::new();
    for scenario in scenarios(&args) {
        eprintln!("== {}", scenario.name);
        let outcome = scenario::run(&scenario, &bins, &aws, moto_pid, &args.work_dir)
            .await
            .with_context(|| format!("scenario {}", scenario.name))?;
        eprintln!(
            "   {} events in {:.1} s: {:.0} events/s, {:.2} CPU s per M events, peak RSS {:.1} MiB, \
             {} objects, largest state item {} B, sim CPU {:.1} s, {} requests ({} rate-limited){}",
            outcome.landed.distinct,
            outcome.collector.wall_s,
            outcome.events_per_second(),
            outcome.cpu_s_per_million(),
            outcome.collector.max_rss_kib as f64 / 1024.0,
            outcome.landed.objects,
            outcome.largest_item_bytes,
            outcome.sim_cpu_s,
            outcome.sim.requests,
            outcome.sim.rate_limited,
            if outcome.problems.is_empty() {
                String::new()
            } else {
                format!("; FAILED: {}", outcome.problems.join("; "))
            }
        );
        outcomes.push(outcome);
    }

    let mut webhook_outcomes = Vec::new();
    if args.only.is_empty() || args.only.iter().any(|o| o == "webhooks") {
        for clients in [1, args.webhook_clients] {
            let load = webhooks::Load {
                deliveries: (args.webhook_deliveries / args.scale_down.max(1) as usize).max(1),
                clients,
                instances: if clients == 1 {
                    1
                } else {
                    args.webhook_instances
                },
            };
            eprintln!("== webhooks: {load:?}");
            let outcome = webhooks::run(&aws, &args.bin_dir, load).await?;
            eprintln!(
                "   {:.0} deliveries/s, answer p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, receiver \
                 CPU {:.3} ms per delivery, moto CPU {:.1} s{}",
                outcome.per_second(),
                outcome.p50_ms,
                outcome.p99_ms,
                outcome.max_ms,
                outcome.cpu_ms_per_delivery(),
                outcome.moto_cpu_s,
                if outcome.problems.is_empty() {
                    String::new()
                } else {
                    format!("; FAILED: {}", outcome.problems.join("; "))
                }
            );
            webhook_outcomes.push(outcome);
        }
    }

    eprintln!("== cold starts");
    let cold_starts = cold_starts(&args, &aws).await?;
    let artifacts: Vec<_> = ARTIFACTS
        .iter()
        .filter_map(|f| match artifacts::read(&args.lambda_dir, f) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("bench: {e:#}");
                None
            }
        })
        .collect();
    let criterion = criterion::read_all(&args.criterion_dir).unwrap_or_else(|e| {
        eprintln!("bench: {e:#}");
        Vec::new()
    });

    let markdown = report::Report {
        machine: &machine,
        outcomes: &outcomes,
        webhooks: &webhook_outcomes,
        artifacts: &artifacts,
        artifact_note: &args.artifact_note,
        cold_starts: &cold_starts,
        criterion: &criterion,
        concurrent_windows,
        baseline_commit: &args.baseline_commit,
        elapsed: started.elapsed(),
        load_at_end: report::load_average(),
    }
    .markdown();
    if args.no_write {
        println!("{markdown}");
    } else {
        report::write(&args.out, &markdown)?;
        eprintln!("== wrote {}", args.out.display());
    }
    let mut failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| o.scenario.name.as_str())
        .collect();
    if webhook_outcomes.iter().any(|o| !o.problems.is_empty()) {
        failed.push("webhooks");
    }
    if !failed.is_empty() {
        bail!("these scenarios are not results: {}", failed.join(", "));
    }
    Ok(())
}

async fn cold_starts(args: &RunArgs, aws: &LocalAws) -> Result<Vec<coldstart::ColdStart>> {
    let endpoint = aws.endpoint.as_str();
    let mut stub = coldstart::RuntimeApi::start().await?;
    // The receiver reads its signing secrets before it is ready.
    let receiver_secret = format!("bench-cold-start-{}", std::process::id());
    integration_tests::aws::create_secret(
        aws.sdk(),
        &receiver_secret,
        &serde_json::json!({"current": "cold-start", "webhooks": [], "org_ids": []}),
    )
    .await?;
    // What each function's configuration needs to get past its cold-start validation; nothing
    // is called before the first event, so the values need not exist.
    let common = [
        ("STATE_TABLE", "bench-state"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("S3_FORCE_PATH_STYLE", "true"),
    ];
    let mut results = Vec::new();
    for function in FUNCTIONS {
        let mut env: Vec<(String, String)> = common
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let extra: &[(&str, &str)] = match function {
            "oauth-callback" => &[
                ("ADMIN_SECRET_ID", "webex/admin"),
                ("COMPLIANCE_SECRET_ID", "webex/compliance"),
            ],
            "webhook-receiver" => &[
                ("WEBHOOK_SECRET_ID", &receiver_secret),
                (
                    "WEBHOOK_QUEUE_URL",
                    "http://127.0.0.1/123456789012/bench-webhooks",
                ),
            ],
            "webhook-writer" => &[("OUTPUT_BUCKET", "bench-events")],
            "webhook-registrar" => &[
                ("ADMIN_SECRET_ID", "webex/admin"),
                ("COMPLIANCE_SECRET_ID", "webex/compliance"),
                ("WEBHOOK_SECRET_ID", "bench-webhooks"),
                ("WEBHOOK_TARGET_URL", "https://bench.example/webhooks"),
            ],
            _ => &[
                ("TOKEN_SECRET_ID", "webex/bench"),
                ("OUTPUT_BUCKET", "bench-events"),
            ],
        };
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let binary = executable(&args.bin_dir, function)?;
        let result =
            coldstart::measure(&mut stub, function, &binary, &env, args.cold_start_runs).await?;
        eprintln!(
            "   {function}: median {:.1} ms",
            result.median().as_secs_f64() * 1000.0
        );
        results.push(result);
    }
    Ok(results)
}

fn executable(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build the release binaries first (`make bench` does)",
            path.display()
        );
    }
    Ok(path)
}
