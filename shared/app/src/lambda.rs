//! The Lambda side of a collector: a scheduled event in, a JSON summary out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use collector_core::ports::Clock;
use collector_core::{CollectError, RunSummary};
use lambda_runtime::{Diagnostic, LambdaEvent};
use tokio::time::Instant;

use crate::wiring::{StreamCollector, run_once};

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

/// Handles one EventBridge scheduled event; the payload carries nothing we need.
pub async fn handle<C: Clock>(
    collector: &StreamCollector<C>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<RunSummary, RunError> {
    run_once(collector, deadline_of(event.context.deadline))
        .await
        .map_err(RunError)
}

/// Lambda gives the deadline as epoch milliseconds; runs measure time monotonically.
fn deadline_of(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
