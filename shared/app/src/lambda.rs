//! The Lambda side of a collector: a scheduled event in, a JSON summary out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use collector_core::ports::Clock;
use collector_core::{CollectError, RunSummary, StreamId};
use lambda_runtime::{Diagnostic, LambdaEvent};
use tokio::time::Instant;

use crate::logging::{LogTarget, init_logging};
use crate::wiring::{StreamCollector, collector_from_env, run_once};

/// A failed run as Lambda reports it: `errorType` is the kind (`config`, `upstream`, ...), so
/// alarms and retries can tell them apart.
#[derive(Debug)]
pub struct RunError(pub CollectError);

impl From<RunError> for Diagnostic {
    fn from(e: RunError) -> Self {
        Diagnostic {
            error_type: e.0.kind().name().to_string(),
            error_message: e.0.to_string(),
        }
    }
}

/// A collector function's whole `main`: logging, the collector built once per cold start, then
/// the Lambda runtime loop.
pub async fn serve(stream: StreamId) -> Result<(), lambda_runtime::Error> {
    crate::return_large_buffers_to_the_system();
    init_logging(LogTarget::Stdout);
    let collector = collector_from_env(stream).await?;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        handle(&collector, event)
    }))
    .await
}

/// Handles one EventBridge scheduled event; the payload carries nothing we need.
pub async fn handle<C: Clock>(
    collector: &StreamCollector<C>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<RunSummary, RunError> {
    let deadline = deadline_of(event.context.deadline);
    tracing::debug!(
        request_id = %event.context.request_id,
        remaining_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
        deadline_ms = event.context.deadline,
        "invoked"
    );
    let summary = run_once(collector, deadline).await.map_err(RunError)?;
    let expires = collector.tokens().refresh_token_expires_at().await;
    // Lambda sends standard output to CloudWatch Logs, which turns this line into metrics.
    println!(
        "{}",
        crate::metrics::emf_line(&summary, collector.now(), expires)
    );
    Ok(summary)
}

/// Lambda gives the deadline as epoch milliseconds; runs measure time monotonically.
/// cargo-lambda's local emulator (1.9) sends the function timeout itself (e.g. `600000`)
/// instead of an instant; a value that cannot be an instant of this century is read that way.
/// No Lambda runs longer than 15 minutes, so no reading gives more time than that.
pub(crate) fn deadline_of(deadline_ms: u64) -> Instant {
    const LAMBDA_MAX_MS: u64 = 15 * 60 * 1000;
    const YEAR_2000_MS: u64 = 946_684_800_000;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let remaining_ms = if deadline_ms < YEAR_2000_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_ms)
    };
    Instant::now() + Duration::from_millis(remaining_ms.min(LAMBDA_MAX_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_epoch_deadlines_and_the_emulators_durations() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let cases = [
            (now_ms + 60_000, 59_000..=60_000),
            (now_ms - 5_000, 0..=0),
            (600_000, 599_000..=600_000),
            (u64::MAX, 899_000..=900_000),
            (946_684_799_999, 899_000..=900_000),
        ];
        for (deadline_ms, expected) in cases {
            let remaining = deadline_of(deadline_ms)
                .saturating_duration_since(Instant::now())
                .as_millis() as u64;
            assert!(expected.contains(&remaining), "{deadline_ms}: {remaining}");
        }
    }
}
