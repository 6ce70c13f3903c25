//! `webexctl`: the operator command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use collector_app::{LogTarget, StreamId, collector_from_env, init_logging, run_once};

#[derive(Parser)]
#[command(
    name = "webexctl",
    version,
    about = "Operate webex-events-to-s3: collect, authorise, inspect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one collector once, exactly as its Lambda would, configured by the same environment
    /// variables; prints one JSON summary line.
    Collect {
        /// admin-audit, security-audit or compliance-events
        #[arg(long, value_parser = parse_stream)]
        stream: StreamId,
        /// Stands in for the Lambda deadline: the run stops cleanly before it.
        #[arg(long, default_value_t = 840)]
        deadline_seconds: u64,
    },
}

fn parse_stream(name: &str) -> Result<StreamId, String> {
    StreamId::parse(name).ok_or_else(|| {
        let names: Vec<_> = StreamId::ALL.iter().map(|s| s.name()).collect();
        format!("unknown stream {name:?}; one of {}", names.join(", "))
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging(LogTarget::Stderr);
    match Cli::parse().command {
        Command::Collect {
            stream,
            deadline_seconds,
        } => collect(stream, deadline_seconds).await,
    }
}

async fn collect(stream: StreamId, deadline_seconds: u64) -> ExitCode {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(deadline_seconds);
    let collector = match collector_from_env(stream).await {
        Ok(collector) => collector,
        Err(e) => {
            eprintln!("webexctl: {e}");
            return ExitCode::from(2);
        }
    };
    match run_once(&collector, deadline).await {
        Ok(summary) => {
            println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("webexctl: {} error: {e}", e.kind().name());
            ExitCode::FAILURE
        }
    }
}
