//! The admin-audit slice end to end: the real collector, the real AWS SDK against moto, real
//! HTTP against the Webex simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use collector_core::{ErrorKind, StopReason, StreamId};
use integration_tests::fault_proxy::Fault as AwsFault;
use integration_tests::stack::stream_scope;
use integration_tests::{Stack, StackOptions};
use tokio::time::Instant;
use webex_sim::{Fault, GenerateSpec, Order, SimConfig, Stream};

const STREAM: StreamId = StreamId::AdminAudit;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

async fn catch_up(stack: &Stack) -> Result<()> {
    let until = stack.sim.now_ms();
    stack
        .run_until_caught_up(STREAM, until, Duration::from_secs(600))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_dies_between_object_and_commit_is_completed_without_duplicates() -> Result<()> {
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    let events = stack.history(STREAM, 1_500);
    let proxy = stack.proxy.as_ref().expect("proxy");
    // GIVEN DynamoDB refuses the cursor commit (the first write that moves committed_until)
    proxy.set_rule(|call| {
        let body = call.body_text();
        (call.operation() == "PutItem"
            && body.contains("cursor#")
            && body.contains("\"committed_until\""))
        .then_some(AwsFault::Refuse(500))
    });
    // WHEN the run writes its first object and then cannot commit
    let failed = stack
        .run(STREAM, Duration::from_secs(60))
        .await
        .expect_err("the commit must fail");
    assert_eq!(failed.kind(), ErrorKind::Storage);
    let cursor = stack.cursor(STREAM).await?.expect("cursor");
    assert_eq!(cursor.committed_until, None, "nothing committed");
    assert!(!cursor.pending.is_empty(), "the windows stay pending");
    let written = stack.objects(STREAM).await?;
    assert!(!written.is_empty(), "the first window's object is in S3");
    // THEN the next run adopts those objects instead of writing them again, and completes
    proxy.clear_rule();
    catch_up(&stack).await?;
    let after = stack.objects(STREAM).await?;
    for object in &written {
        let now = after
            .iter()
            .find(|o| o.key == object.key)
            .expect("still there");
        assert_eq!(now.e_tag, object.e_tag, "{} was rewritten", object.key);
    }
    stack.assert_all_landed_once(STREAM, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_answer_lost_after_the_write_does_not_duplicate() -> Result<()> {
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    let events = stack.history(STREAM, 1_000);
    let proxy = stack.proxy.as_ref().expect("proxy");
    // GIVEN the first object PUT reaches S3 but its answer is lost: the SDK retries it
    let once = Arc::new(AtomicBool::new(false));
    proxy.set_rule(move |call| {
        (call.method == "PUT"
            && call.path.ends_with(".ndjson.gz")
            && !once.swap(true, Ordering::SeqCst))
        .then_some(AwsFault::LoseAnswer)
    });
    catch_up(&stack).await?;
    assert_eq!(proxy.injected().len(), 1);
    stack.assert_all_landed_once(STREAM, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_then_a_rerun_still_gives_exactly_once() -> Result<()> {
    // The CLI runs on the real clock, so the simulator's starts at the real time.
    let now_ms = collector_core::Timestamp::now().millis();
    let sim = SimConfig {
        clock: webex_sim::ClockMode::Manual { start_ms: now_ms },
        page_latency: Duration::from_millis(40),
        order: Order::Shuffled,
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        ..StackOptions::default()
    })
    .await?;
    let events = stack.history(STREAM, 3_000);
    let webexctl = integration_tests::webexctl_path()?;
    let mut outputs = String::new();
    // GIVEN runs killed with SIGKILL at different moments
    for kill_after_ms in [300, 700, 1_100, 1_500] {
        let mut child = tokio::process::Command::new(&webexctl)
            .args([
                "collect",
                "--stream",
                "admin-audit",
                "--deadline-seconds",
                "4",
            ])
            .envs(stack.stream_env(STREAM))
            .env("RUST_LOG", "debug")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        child.start_kill()?;
        let output = child.wait_with_output().await?;
        outputs.push_str(&String::from_utf8_lossy(&output.stdout));
        outputs.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    // WHEN runs go on as scheduled (a killed run's lease frees itself after its deadline)
    let mut stdout = String::new();
    for _ in 0..20 {
        let output = tokio::process::Command::new(&webexctl)
            .args([
                "collect",
                "--stream",
                "admin-audit",
                "--deadline-seconds",
                "60",
            ])
            .envs(stack.stream_env(STREAM))
            .env("RUST_LOG", "debug")
            .output()
            .await?;
        stdout = String::from_utf8_lossy(&output.stdout).to_string();
        outputs.push_str(&stdout);
        outputs.push_str(&String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "webexctl failed: {outputs}");
        if !stdout.contains("other_run_active") {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // THEN it prints one JSON summary, and S3 holds every event once
    let summary: serde_json::Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(summary["stopped"], "caught_up");
    assert!(summary["committed_until"].is_string());
    stack.assert_all_landed_once(STREAM, &events).await?;
    let secrets = stack.known_secrets().await?;
    integration_tests::logs::assert_free_of(&outputs, &secrets, "webexctl's output");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_one_works_the_other_steps_aside() -> Result<()> {
    let sim = SimConfig {
        page_latency: Duration::from_millis(30),
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        ..StackOptions::default()
    })
    .await?;
    let events = stack.history(STREAM, 2_000);
    let (a, b) = tokio::join!(
        stack.run(STREAM, Duration::from_secs(60)),
        stack.run(STREAM, Duration::from_secs(60))
    );
    let mut stops = [a?.stopped, b?.stopped];
    stops.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(stops, [StopReason::CaughtUp, StopReason::OtherRunActive]);
    stack.assert_all_landed_once(STREAM, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_expiring_mid_backfill_is_refreshed_once_and_stored() -> Result<()> {
    let sim = SimConfig {
        rotate_refresh_tokens: true,
        access_token_ttl: Duration::from_secs(30 * 60),
        page_latency: Duration::from_millis(15),
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        ..StackOptions::default()
    })
    .await?;
    let events = stack.history(STREAM, 3_000);
    // GIVEN a stored access token that expires in 30 minutes
    let mut secret = stack.secret("admin").await?;
    let first_refresh = secret["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = stack
        .sim
        .issue_access_token(&[stream_scope("admin")], Duration::from_secs(30 * 60));
    secret["access_token"] = token.clone().into();
    secret["access_token_expires_at"] =
        collector_core::Timestamp::from_millis(stack.sim.now_ms() + 30 * MIN)
            .to_rfc3339()
            .into();
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .put_secret_value()
        .secret_id(stack.secret_id("admin"))
        .secret_string(secret.to_string())
        .send()
        .await?;
    // WHEN time runs on by 30 minutes during the backfill
    let sim = stack.sim.clone();
    let clock = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            sim.advance(Duration::from_secs(60));
        }
    });
    let run = stack.run(STREAM, Duration::from_secs(60)).await;
    clock.await?;
    run?;
    catch_up(&stack).await?;
    // THEN exactly one refresh, its tokens are the ones stored, and the old ones are dead
    let refreshes: Vec<_> = stack
        .sim
        .token_requests()
        .into_iter()
        .filter(|t| t.grant_type == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    let stored = stack.secret("admin").await?;
    let stored_refresh = stored["refresh_token"].as_str().unwrap_or_default();
    assert_ne!(
        stored_refresh, first_refresh,
        "the rotated refresh token is stored"
    );
    assert!(stack.sim.refresh_token_is_valid(stored_refresh));
    assert!(!stack.sim.refresh_token_is_valid(&first_refresh));
    let stored_access = stored["access_token"].as_str().unwrap_or_default();
    assert_ne!(stored_access, token);
    let bearers: std::collections::HashSet<_> = stack
        .sim
        .requests()
        .into_iter()
        .filter_map(|r| r.bearer)
        .collect();
    assert_eq!(
        bearers,
        [token, stored_access.to_string()].into_iter().collect(),
        "only the two stored tokens were used"
    );
    stack.assert_all_landed_once(STREAM, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshed_tokens_are_stored_before_any_use() -> Result<()> {
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    stack.history(STREAM, 100);
    // GIVEN Secrets Manager refuses every write
    let proxy = stack.proxy.as_ref().expect("proxy");
    proxy.set_rule(|call| (call.operation() == "PutSecretValue").then_some(AwsFault::Refuse(500)));
    // WHEN the run must refresh (the secret holds only a refresh token)
    let failed = stack
        .run(STREAM, Duration::from_secs(60))
        .await
        .expect_err("cannot store tokens");
    // THEN it stops, and the token it could not store was never used
    assert_eq!(failed.kind(), ErrorKind::Storage);
    assert_eq!(stack.sim.token_requests().len(), 1, "one refresh");
    assert!(
        stack.sim.requests().is_empty(),
        "no Webex call with a token that is not stored"
    );
    stack.assert_no_secrets_logged().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_asks_for_reauthorisation_and_leaves_the_cursor() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    stack.history(STREAM, 100);
    stack.sim.revoke_refresh_tokens();
    let failed = stack
        .run(STREAM, Duration::from_secs(60))
        .await
        .expect_err("invalid_grant");
    assert_eq!(failed.kind(), ErrorKind::Config);
    let message = failed.to_string();
    assert!(
        message.contains("webexctl auth url --identity admin"),
        "{message}"
    );
    assert!(
        message.contains("invalid_grant") || message.contains("refused"),
        "{message}"
    );
    let cursor = stack
        .cursor(STREAM)
        .await?
        .expect("the failure is recorded");
    assert_eq!(
        (cursor.committed_until, cursor.pending),
        (None, vec![]),
        "cursor untouched"
    );
    assert_eq!(cursor.status, collector_core::cursor::Status::Error);
    assert_eq!(cursor.last_error.map(|e| e.kind), Some(ErrorKind::Config));
    assert!(stack.objects(STREAM).await?.is_empty());
    stack.assert_no_secrets_logged().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_server_errors_and_truncated_pages_are_retried() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let events = stack.history(STREAM, 1_000);
    // GIVEN the first requests meet every transient fault Webex has
    let faults = [
        Fault::TooManyRequests { retry_after_s: 1 },
        Fault::Locked { retry_after_s: 1 },
        Fault::ServerError(500),
        Fault::Truncated,
        Fault::GatewayTimeout,
        // One answer in between, so the next faults meet the next page.
        Fault::Slow(Duration::ZERO),
        Fault::ServerError(502),
        Fault::ServerError(503),
    ];
    let injected = faults.len();
    stack.sim.push_faults(faults);
    let started = Instant::now();
    catch_up(&stack).await?;
    // THEN the run completed, waiting as told, and with smaller pages after the 504
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was not honoured"
    );
    let requests = stack.sim.requests();
    assert_eq!(
        requests.iter().filter(|r| r.fault.is_some()).count(),
        injected
    );
    // Windows are fetched concurrently: the retry is the next request for the same page.
    let page_of = |query: &str| query.replace("max=200", "").replace("max=100", "");
    let timed_out = requests
        .iter()
        .position(|r| r.fault.as_deref() == Some("GatewayTimeout"))
        .expect("the 504 was sent");
    let retry = requests[timed_out + 1..]
        .iter()
        .find(|r| page_of(&r.query) == page_of(&requests[timed_out].query));
    assert!(
        retry.is_some_and(|r| r.query.contains("max=100")),
        "{retry:?}"
    );
    stack.assert_all_landed_once(STREAM, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_commit_nothing_and_the_next_run_completes() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let events = stack.history(STREAM, 800);
    // GIVEN Webex answers every request with 503
    stack
        .sim
        .set_random_faults(7, 1.0, vec![Fault::ServerError(503)]);
    let failed = stack
        .run(STREAM, Duration::from_secs(60))
        .await
        .expect_err("retries exhausted");
    assert_eq!(failed.kind(), ErrorKind::Upstream);
    let cursor = stack.cursor(STREAM).await?.expect("cursor");
    assert_eq!(
        cursor.committed_until, None,
        "nothing committed for the window"
    );
    assert_eq!(
        cursor.status,
        collector_core::cursor::Status::Collecting,
        "one upstream failure is not yet an error"
    );
    assert!(stack.objects(STREAM).await?.is_empty());
    assert_eq!(stack.open_uploads().await?, 0);
    stack.sim.clear_faults();
    catch_up(&stack).await?;
    stack.assert_all_landed_once(STREAM, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_stop_before_their_deadline_and_the_next_resumes_splitting_a_window_too_big()
-> Result<()> {
    let sim = SimConfig {
        page_latency: Duration::from_millis(150),
        ..SimConfig::default()
    };
    let env = vec![
        ("SETTLE_LAG_SECONDS", "120".to_string()),
        ("MAX_WINDOW_SECONDS", "86400".to_string()),
        ("INITIAL_LOOKBACK_DAYS", "1".to_string()),
        // One window at a time: a window in flight beside the one that does not fit would
        // share its few seconds.
        ("BACKFILL_WINDOWS", "1".to_string()),
    ];
    let stack = Stack::start(StackOptions {
        sim,
        env,
        ..StackOptions::default()
    })
    .await?;
    let now = stack.sim.now_ms();
    // GIVEN one dense hour: more pages than one run has time for
    let events = stack.sim.generate(
        Stream::AdminAudit,
        GenerateSpec {
            count: 4_000,
            from_ms: now - 2 * HOUR,
            to_ms: now - HOUR,
            shared_timestamp_fraction: 0.1,
            late_fraction: 0.0,
            max_lateness: Duration::ZERO,
        },
    );
    let budget = Duration::from_secs(5);
    let mut previous = None;
    let mut stopped_early = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let summary = stack.run(STREAM, budget).await?;
        assert!(
            started.elapsed() < budget,
            "the run overran its deadline: {:?}",
            started.elapsed()
        );
        assert!(
            summary.committed_until >= previous,
            "the cursor never moves back"
        );
        previous = summary.committed_until;
        match summary.stopped {
            StopReason::Deadline => stopped_early += 1,
            StopReason::CaughtUp => break,
            StopReason::OtherRunActive => panic!("no other run exists"),
        }
    }
    assert!(stopped_early > 0, "no run had to stop at its deadline");
    let objects = stack.objects(STREAM).await?;
    let day = collector_core::Timestamp::from_millis(0)
        .plus(Duration::from_secs(86_400))
        .millis();
    let split = objects.iter().any(|o| {
        let from = collector_core::Timestamp::parse(&o.metadata["window-from"]).expect("from");
        let to = collector_core::Timestamp::parse(&o.metadata["window-to"]).expect("to");
        to.millis() - from.millis() < day / 4
    });
    assert!(split, "the window too big for one run was split");
    stack.assert_all_landed_once(STREAM, &events).await
}
