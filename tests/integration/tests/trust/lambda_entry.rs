//! The collectors' real Lambda entry point (`collector_app::lambda`: the deadline from the
//! invocation's context, the metrics line, errors as Lambda error types), driven as Lambda
//! drives it: the admin-audit function binary polls a Lambda runtime API for a scheduled event
//! and posts its answer back.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use collector_core::{StreamId, Timestamp};
use integration_tests::lambda_api::{FunctionProcess, Outcome, RuntimeApi, built_binary};
use integration_tests::stack::stream_scope;
use integration_tests::{Stack, StackOptions};
use webex_sim::{ClockMode, SimConfig};

const FUNCTION: &str = "admin-audit";
const STREAM: StreamId = StreamId::AdminAudit;

/// The function runs on the real clock: the simulator's starts there too.
fn on_the_real_clock(page_latency: Duration, authorised: bool) -> StackOptions {
    StackOptions {
        sim: SimConfig {
            clock: ClockMode::Manual {
                start_ms: Timestamp::now().millis(),
            },
            page_latency,
            ..SimConfig::default()
        },
        authorised,
        ..StackOptions::default()
    }
}

fn scheduled_event() -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-22T10:15:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/webex-admin-audit"],
        "detail": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_run_neither_overruns_its_invocation_deadline_nor_drops_its_metrics_line()
-> Result<()> {
    // GIVEN three days of backlog behind slow pages: far more than one short invocation can do
    let stack = Stack::start(on_the_real_clock(Duration::from_millis(400), true)).await?;
    stack.history(STREAM, 3_000);
    let api = RuntimeApi::start().await?;
    let function = FunctionProcess::start(
        &api,
        FUNCTION,
        &built_binary(FUNCTION)?,
        stack.stream_env(STREAM),
    )?;
    // WHEN Lambda invokes it with 10 s left
    let time_left = Duration::from_secs(10);
    let invoked = Instant::now();
    let id = api.invoke(FUNCTION, scheduled_event(), time_left);
    let outcome = api.outcome(&id, time_left + Duration::from_secs(50)).await;
    let answered_after = invoked.elapsed();
    let (stdout, stderr) = function.stop().await?;
    let summary = match outcome.with_context(|| format!("{stdout}{stderr}"))? {
        Outcome::Response(summary) => summary,
        Outcome::Error(error) => anyhow::bail!("the run failed: {error}\n{stdout}{stderr}"),
    };
    // THEN it stops for the deadline it was given, before it, having committed some windows
    assert_eq!(summary["stopped"], "deadline", "{summary}");
    assert!(
        answered_after < time_left,
        "answered {answered_after:?} after the invocation, past its {time_left:?}"
    );
    let windows = summary["windows"].as_u64().unwrap_or_default();
    assert!(
        windows > 0,
        "no window committed in {time_left:?}: {summary}"
    );
    let cursor = stack.cursor(STREAM).await?.context("no cursor")?;
    assert_eq!(
        cursor.committed_until.map(|t| t.to_rfc3339()).as_deref(),
        summary["committed_until"].as_str(),
        "the summary does not tell what was committed"
    );
    // AND its metrics reach CloudWatch as one EMF line of the run on standard output (beside
    // the refresh token's)
    let metrics: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line.get("_aws").is_some() && line.get("EventsWritten").is_some())
        .collect();
    assert_eq!(
        metrics.len(),
        1,
        "one EMF line of the run expected in:\n{stdout}"
    );
    let emf = &metrics[0];
    assert_eq!(emf["Stream"], FUNCTION);
    assert_eq!(emf["Function"], FUNCTION);
    assert_eq!(emf["EventsWritten"], summary["events"]);
    assert_eq!(emf["Windows"], summary["windows"]);
    assert!(
        emf["LagSeconds"].as_i64().is_some_and(|lag| lag > 3_600),
        "{emf}"
    );
    let declared = &emf["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declared["Namespace"], collector_app::metrics::NAMESPACE);
    assert!(
        declared["Metrics"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["Name"] == "EventsWritten")),
        "{emf}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_is_reported_to_lambda_as_an_error_of_its_kind() -> Result<()> {
    // GIVEN the admin identity installed but never authorised: client fields, no tokens
    let stack = Stack::start(on_the_real_clock(Duration::ZERO, false)).await?;
    let client_secret = stack.sim.config().client_secret.clone();
    integration_tests::aws::create_secret(
        &stack.sdk,
        stack.secret_id("admin"),
        &serde_json::json!({
            "client_id": "sim-client-id",
            "client_secret": client_secret,
            "redirect_uri": "http://127.0.0.1/oauth/callback",
            "org_id": integration_tests::stack::sim_org_id(&stack.sim),
            "scopes": stream_scope("admin"),
        }),
    )
    .await?;
    let api = RuntimeApi::start().await?;
    let function = FunctionProcess::start(
        &api,
        FUNCTION,
        &built_binary(FUNCTION)?,
        stack.stream_env(STREAM),
    )?;
    // WHEN Lambda invokes it
    let id = api.invoke(FUNCTION, scheduled_event(), Duration::from_secs(60));
    let outcome = api.outcome(&id, Duration::from_secs(60)).await;
    // AND again: a failed run leaves the function ready for the next event
    let again = api.invoke(FUNCTION, scheduled_event(), Duration::from_secs(60));
    let second = api.outcome(&again, Duration::from_secs(60)).await;
    let (stdout, stderr) = function.stop().await?;
    let printed = format!("{stdout}{stderr}");
    // THEN Lambda is told it failed, with the kind as the error type (what alarms and retries
    // tell apart) and a message that names the fix but no secret
    let error = match outcome.with_context(|| printed.clone())? {
        Outcome::Error(error) => error,
        Outcome::Response(summary) => anyhow::bail!("the run succeeded: {summary}\n{printed}"),
    };
    assert_eq!(error["errorType"], "config", "{error}");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("auth"),
        "the message names no fix: {message}"
    );
    assert!(
        !message.contains(&client_secret),
        "the client secret in {message}"
    );
    assert!(
        matches!(second.with_context(|| printed.clone())?, Outcome::Error(ref e) if e["errorType"] == "config"),
        "the second invocation was not answered the same way:\n{printed}"
    );
    assert!(
        !printed.contains(&client_secret),
        "the client secret logged"
    );
    Ok(())
}
