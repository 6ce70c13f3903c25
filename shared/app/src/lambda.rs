//! The Lambda side of a collector: a scheduled event or queued units in, a JSON answer out.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use collector_core::ports::Clock;
use collector_core::{CollectError, ErrorKind, RunSummary};
use lambda_runtime::{Diagnostic, LambdaEvent};
use tokio::time::Instant;

use std::sync::Arc;

use collector_core::ports::SystemClock;

use crate::config::Config;
use crate::fanout::{Invocation, QueueRecord, UnitMessage};
use crate::live::Live;
use crate::logging::{LogTarget, init_logging};
use crate::units::{Scheduled, Selection, StreamUnits, UnitsOutcome};
use crate::wiring::WiringError;

/// A failed run as Lambda reports it: `errorType` is the kind (`config`, `upstream`, ...), so
/// alarms and retries can tell them apart.
#[derive(Debug)]
pub struct RunError {
    pub kind: &'static str,
    pub message: String,
}

impl From<CollectError> for RunError {
    fn from(e: CollectError) -> Self {
        Self {
            kind: e.kind().name(),
            message: e.to_string(),
        }
    }
}

impl From<RunError> for Diagnostic {
    fn from(e: RunError) -> Self {
        Diagnostic {
            error_type: e.kind.to_string(),
            error_message: e.message,
        }
    }
}

/// A collector function's whole `main`: logging, the stream's units built at cold start (and
/// again when the document changes), then the Lambda runtime loop.
pub async fn serve(selection: impl Into<Selection>) -> Result<(), lambda_runtime::Error> {
    let selection = selection.into();
    crate::return_large_buffers_to_the_system();
    init_logging(LogTarget::Stdout);
    let live = match start(selection).await {
        Ok(live) => live,
        Err(e) => {
            // Before the runtime loop: Lambda reports the failed initialisation, and the log
            // says why (a document's mistakes with their key paths). Nothing is collected.
            tracing::error!(error = %e, "the function cannot start");
            return Err(e.into());
        }
    };
    let live = &live;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        // Type-erased: the runtime's future around the handler's would exceed the compiler's
        // query depth.
        let handled: Pin<
            Box<dyn Future<Output = Result<serde_json::Value, RunError>> + Send + '_>,
        > = Box::pin(async move {
            let units = live.get().await.map_err(|e| RunError {
                kind: ErrorKind::Config.name(),
                message: e.to_string(),
            })?;
            handle(&units, event).await
        });
        handled
    }))
    .await
}

async fn start(selection: Selection) -> Result<Live<StreamUnits>, WiringError> {
    let config = Config::from_env()?;
    let sdk = aws_adapters::sdk_config().await;
    let clock = Arc::new(SystemClock);
    Live::start(move |document| {
        StreamUnits::configured(selection, &config, document, &sdk, clock.clone())
    })
    .await
}

/// Handles one invocation: the schedule (a run through the stream's units, or, when it owns
/// several and has a queue, one message per unit) or messages from the fan-out queue (the unit
/// each names).
pub async fn handle<C: Clock>(
    units: &StreamUnits<C>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, RunError> {
    let deadline = deadline_of(event.context.deadline);
    tracing::debug!(
        request_id = %event.context.request_id,
        remaining_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
        deadline_ms = event.context.deadline,
        "invoked"
    );
    match Invocation::of(&event.payload) {
        Invocation::Schedule => scheduled(units, deadline).await,
        Invocation::Queue(records) => Ok(queued(units, records, deadline).await),
    }
}

/// A scheduled run. One unit answers as it always did: its summary, or its error. Several are
/// sent to the fan-out queue when there is one; otherwise they are collected here, and the
/// answer is every unit's outcome, failed only when none succeeded: an organisation in error is
/// in `webexctl status` and in the `UnitsFailed` metric, and must not hold back the others'
/// schedule. A stream whose work failed (the enqueue, or a unit another attempt may mend) gives
/// back its due claim, so it runs at the next tick, not an `every` later (see [`crate::due`]).
async fn scheduled<C: Clock>(
    units: &StreamUnits<C>,
    deadline: Instant,
) -> Result<serde_json::Value, RunError> {
    let Scheduled {
        units: list,
        claims,
    } = units.scheduled_units(deadline).await?;
    if list.is_empty() {
        // No stream due (they run less often than the schedule), or no organisation found.
        return Ok(serde_json::json!({"stream": units.stream_name(), "units": 0}));
    }
    let single = list.len() == 1;
    // Several units, each named by a message (of an organisation id: a stream of its secret's
    // organisation has that one unit), go to the queue.
    let messages = (!single && units.fans_out())
        .then(|| list.iter().map(UnitMessage::of).collect::<Option<Vec<_>>>())
        .flatten();
    if let Some(messages) = messages {
        if let Err(e) = units.enqueue(&messages).await {
            // SQS may hold some of them; sent again at the next tick, they are harmless (the
            // lease and the conditional cursor).
            claims.give_back(|_| true).await;
            return Err(e.into());
        }
        println!(
            "{}",
            crate::metrics::enqueued_line(units.stream_name(), list.len(), units.now())
        );
        report_refresh_tokens(units).await;
        tracing::info!(
            stream = units.stream_name(),
            units = list.len(),
            "units sent to the fan-out queue"
        );
        return Ok(serde_json::json!({"stream": units.stream_name(), "enqueued": list.len()}));
    }
    let results = units.run_each(list, deadline).await;
    claims
        .give_back(|stream| {
            results
                .iter()
                .any(|(unit, result)| unit.stream == stream && to_try_again(result))
        })
        .await;
    let mut outcome = UnitsOutcome::of(results);
    // Lambda sends standard output to CloudWatch Logs, which turns these lines into metrics.
    for summary in &outcome.done {
        println!(
            "{}",
            crate::metrics::emf_line(summary, units.stream_name(), units.now())
        );
    }
    if !single {
        println!(
            "{}",
            crate::metrics::units_line(units.stream_name(), &outcome, units.now())
        );
    }
    for line in crate::metrics::unit_errors_lines(units.stream_name(), &outcome, units.now()) {
        println!("{line}");
    }
    report_refresh_tokens(units).await;
    match (single, outcome.done.is_empty(), outcome.failed.pop()) {
        (true, _, Some(failure)) | (false, true, Some(failure)) => Err(RunError {
            kind: failure.kind,
            message: failure.error,
        }),
        (true, _, None) if outcome.done.len() == 1 => {
            Ok(serde_json::to_value(&outcome.done[0]).unwrap_or_default())
        }
        (_, _, failure) => {
            outcome.failed.extend(failure);
            Ok(serde_json::to_value(&outcome).unwrap_or_default())
        }
    }
}

/// The days left on each identity's refresh token, once per scheduled run (the queued runs do
/// not read them: one secret read per identity and schedule, not per unit).
async fn report_refresh_tokens<C: Clock>(units: &StreamUnits<C>) {
    for (identity, expires_at) in units.refresh_token_expiries().await {
        println!(
            "{}",
            crate::metrics::refresh_line(units.stream_name(), identity, expires_at, units.now())
        );
    }
}

/// Messages from the fan-out queue: the units they name, collected as a scheduled run collects
/// several. The answer is Lambda's partial batch response: a message comes back (and, after the
/// queue's receive count, goes to the dead-letter queue with its alarm) when its unit failed in
/// a way another attempt may mend (Webex or AWS unavailable, the deadline), or when it is not a
/// unit of this stream at all. A unit in error for its configuration (a 403, a revoked grant)
/// is recorded in status and in `UnitsFailed`; the next schedule tries it again.
async fn queued<C: Clock>(
    units: &StreamUnits<C>,
    records: Vec<QueueRecord>,
    deadline: Instant,
) -> serde_json::Value {
    let mut retry = Vec::new();
    let mut work = Vec::new();
    for record in records {
        match UnitMessage::parse(&record.body).and_then(|message| units.unit_of(&message)) {
            Ok(Some(unit)) => work.push((record.message_id, unit)),
            Ok(None) => tracing::warn!(
                message_id = %record.message_id,
                "the queued organisation is no longer one of the stream's (ORG_IDS); dropped"
            ),
            Err(problem) => {
                tracing::error!(message_id = %record.message_id, problem, "not a unit of this stream");
                retry.push(record.message_id);
            }
        }
    }
    let results = units
        .run_each(
            work.iter().map(|(_, unit)| unit.clone()).collect(),
            deadline,
        )
        .await;
    // In the order given: each result answers its message.
    for ((message_id, _), (_, result)) in work.iter().zip(&results) {
        if to_try_again(result) {
            retry.push(message_id.clone());
        }
    }
    let outcome = UnitsOutcome::of(results);
    for summary in &outcome.done {
        println!(
            "{}",
            crate::metrics::emf_line(summary, units.stream_name(), units.now())
        );
    }
    println!(
        "{}",
        crate::metrics::units_line(units.stream_name(), &outcome, units.now())
    );
    for line in crate::metrics::unit_errors_lines(units.stream_name(), &outcome, units.now()) {
        println!("{line}");
    }
    crate::fanout::batch_response(&retry)
}

/// Whether another attempt may mend what a unit's run did: not started before the deadline, or
/// failed for Webex or AWS (unavailable, the deadline), not for its configuration (a 403, a
/// revoked grant: recorded in status, tried again on the schedule). A queued message then comes
/// back; a scheduled stream gives back its due claim.
fn to_try_again(result: &Option<Result<RunSummary, CollectError>>) -> bool {
    match result {
        None => true,
        Some(Ok(_)) => false,
        Some(Err(e)) => e.kind() != ErrorKind::Config,
    }
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
    fn what_another_attempt_may_mend_is_tried_again() {
        use collector_core::ports::{SourceError, StoreError};
        let cases = [
            ("not started before the deadline", None, true),
            (
                "its configuration",
                Some(CollectError::Config("403".into())),
                false,
            ),
            (
                "Webex unavailable",
                Some(CollectError::Upstream(SourceError::Exhausted {
                    attempts: 3,
                    last: "HTTP 503".into(),
                })),
                true,
            ),
            (
                "AWS unavailable",
                Some(CollectError::Store(StoreError::Unavailable {
                    operation: "DynamoDB GetItem",
                    source: "timeout".into(),
                })),
                true,
            ),
        ];
        for (name, error, again) in cases {
            let result = error.map(Err);
            assert_eq!(to_try_again(&result), again, "{name}");
        }
    }

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
