//! `soak`: the randomized fault soak behind `make soak`. Prints a line per scenario with its
//! seed, the failures with the command that replays them, and a summary table; exits non-zero
//! when any scenario lost, duplicated or altered an event, lost a token or failed a check.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use integration_tests::soak::{SoakOptions, emulator_part_size, scenario_seed, soak};

#[derive(Parser)]
#[command(name = "soak", about = "Randomized fault soak of the collectors")]
struct Args {
    /// Replay the one scenario with this seed (as printed by an earlier soak).
    #[arg(long)]
    seed: Option<u64>,
    /// With --seed: play that scenario this many times (at once, up to --concurrency), for
    /// failures that depend on timing.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// How many scenarios to play.
    #[arg(long, default_value_t = 500)]
    scenarios: u64,
    /// Where the scenarios' seeds start; a new one each time by default.
    #[arg(long)]
    base_seed: Option<u64>,
    /// Scenarios played at once: they mostly wait on the emulator, the simulator and timers.
    #[arg(long, default_value_t = 12)]
    concurrency: usize,
    /// Play the scenarios as `make test` does, without small upload parts (to replay a seed of
    /// its subset).
    #[arg(long)]
    no_small_parts: bool,
    /// Also write the summary table (Markdown) to this file.
    #[arg(long)]
    table: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool> {
    // The collectors' logs would cost more than the scenarios; SOAK_LOG=debug brings them back.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOAK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // One line per panic: a collector run that panics is reported with its scenario.
    std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    integration_tests::aws::endpoint()?;
    integration_tests::webexctl_path()?;
    let seeds = match args.seed {
        Some(seed) => vec![seed; args.repeat.max(1)],
        None => {
            let base = args.base_seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default()
            });
            println!("soak: {} scenarios from base seed {base}", args.scenarios);
            (0..args.scenarios)
                .map(|i| scenario_seed(base, i))
                .collect()
        }
    };
    let part_size = emulator_part_size().filter(|_| !args.no_small_parts);
    if part_size.is_none() {
        println!(
            "soak: the emulator takes only 5 MiB parts (S3_UPLOAD_PART_MIN_SIZE unset), so no scenario uploads in parts"
        );
    }
    let options = SoakOptions {
        seeds,
        concurrency: args.concurrency,
        part_size,
    };
    let mut done = 0;
    let total = options.seeds.len();
    let summary = soak(options, |outcome| {
        done += 1;
        println!("[{done}/{total}] {}", outcome.line());
        if !outcome.passed() {
            print!("{}", outcome.failure());
            println!("    replay: make soak SEED={}", outcome.seed);
        }
        let _ = std::io::stdout().flush();
    })
    .await;
    let table = summary.table();
    println!("\n{table}");
    if let Some(path) = args.table {
        std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    }
    if !summary.passed() {
        println!("FAILED seeds (replay each with `make soak SEED=<seed>`):");
        for seed in &summary.failed {
            println!("  make soak SEED={seed}");
        }
    }
    Ok(summary.passed())
}
