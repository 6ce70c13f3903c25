//! The three streams through one collector: exactly once each, filters, two OAuth identities
//! sharing one refresh, and the errors that name what an operator must change.

use std::time::Duration;

use anyhow::Result;
use collector_core::{ErrorKind, StopReason, StreamId};
use integration_tests::stack::sim_stream;
use integration_tests::verify::late_catches;
use integration_tests::{Stack, StackOptions};
use webex_sim::{GenerateSpec, Order, SimConfig, SimEvent};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn with_env(extra: &[(&'static str, &str)]) -> StackOptions {
    let mut options = StackOptions::default();
    options
        .env
        .extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    options
}

async fn catch_up(stack: &Stack, stream: StreamId) -> Result<()> {
    stack
        .run_until_caught_up(stream, stack.sim.now_ms(), Duration::from_secs(600))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_every_stream_lands_exactly_once_with_unordered_pages_shared_timestamps_and_late_events()
-> Result<()> {
    let cases = [
        (StreamId::AdminAudit, Order::Shuffled, true),
        // Admin audit may come without Link headers: then pages go by offset.
        (StreamId::AdminAudit, Order::NewestFirst, false),
        (StreamId::SecurityAudit, Order::Shuffled, true),
        (StreamId::ComplianceEvents, Order::Shuffled, true),
    ];
    for (stream, order, link_header) in cases {
        let sim = SimConfig {
            seed: 7,
            order,
            admin_link_header: link_header,
            ..SimConfig::default()
        };
        let stack = Stack::start(StackOptions {
            sim,
            ..StackOptions::default()
        })
        .await?;
        let start = stack.sim.now_ms();
        // GIVEN two days of history and two hours still to come, some of it arriving late
        let events = stack.sim.generate(
            sim_stream(stream),
            GenerateSpec {
                count: 5_000,
                from_ms: start - 48 * HOUR,
                to_ms: start + 2 * HOUR,
                shared_timestamp_fraction: 0.2,
                late_fraction: 0.1,
                max_lateness: Duration::from_secs(600),
            },
        );
        let last_created = events.iter().map(|e| e.created_ms).max().unwrap_or(start);
        let last_visible = events
            .iter()
            .map(|e| e.visible_at_ms)
            .max()
            .unwrap_or(start);
        // WHEN the function runs every ten minutes until it has caught up with all of it
        let until = (last_created + 3 * MIN).max(last_visible) + 10 * MIN;
        let runs = stack
            .run_until_caught_up(stream, until, Duration::from_secs(600))
            .await?;
        // THEN S3 holds each event once, byte for byte, in contract-shaped objects
        let case = format!("{stream} {order:?} link={link_header}");
        assert!(
            runs.len() > 10,
            "{case}: expected many runs, got {}",
            runs.len()
        );
        let objects = stack.objects(stream).await?;
        assert!(
            objects.len() > 40,
            "{case}: expected an object per window, got {}",
            objects.len()
        );
        stack.assert_all_landed_once(stream, &events).await?;
        assert!(
            late_catches(&objects) > 0,
            "{case}: no late event was caught by the overlap"
        );
        let pages: Vec<_> = stack
            .sim
            .requests()
            .into_iter()
            .filter(|r| r.status == 200)
            .collect();
        let max = format!("max={}", stream.spec().max_page);
        assert!(
            pages.iter().all(|r| r.query.contains(&max)),
            "{case}: pages ask for the API's maximum"
        );
        if !link_header {
            assert!(
                pages.iter().any(|r| r.query.contains("offset=")),
                "{case}: without Link, pages go by offset"
            );
        }
        let cursor = stack.cursor(stream).await?.expect("cursor");
        assert!(cursor.pending.is_empty());
        assert!(
            cursor
                .committed_until
                .is_some_and(|t| t.millis() > last_created),
            "{case}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_asked_for_categories_resources_and_types_land() -> Result<()> {
    // Each filter selects a subset; compliance filters are queried per combination and merged.
    type Env = &'static [(&'static str, &'static str)];
    type Wanted = fn(&SimEvent) -> bool;
    let cases: [(StreamId, Env, Wanted); 3] = [
        (
            StreamId::AdminAudit,
            &[("EVENT_CATEGORIES", "EventCategory.LOGINS,users")],
            |e| matches!(e.category.as_deref(), Some("LOGINS" | "USERS")),
        ),
        (
            StreamId::SecurityAudit,
            &[("EVENT_CATEGORIES", "LOGINS")],
            |e| e.category.as_deref() == Some("LOGINS"),
        ),
        (
            StreamId::ComplianceEvents,
            &[
                ("RESOURCES", "messages,memberships"),
                ("TYPES", "created,deleted"),
            ],
            |e| {
                matches!(e.resource.as_deref(), Some("messages" | "memberships"))
                    && matches!(e.event_type.as_deref(), Some("created" | "deleted"))
            },
        ),
    ];
    for (stream, env, wanted) in cases {
        let stack = Stack::start(with_env(env)).await?;
        let events = stack.history(stream, 3_000);
        let expected: Vec<SimEvent> = events.iter().filter(|e| wanted(e)).cloned().collect();
        assert!(
            !expected.is_empty() && expected.len() < events.len(),
            "{stream}: the filter must select a part"
        );
        catch_up(&stack, stream).await?;
        stack.assert_all_landed_once(stream, &expected).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_security_audit_share_one_refresh_of_the_admin_token() -> Result<()> {
    let sim = SimConfig {
        rotate_refresh_tokens: true,
        page_latency: Duration::from_millis(5),
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        ..StackOptions::default()
    })
    .await?;
    let admin_events = stack.history(StreamId::AdminAudit, 1_000);
    let security_events = stack.history(StreamId::SecurityAudit, 1_000);
    // GIVEN the admin secret holds only a refresh token (its access token has to be refreshed)
    // WHEN both admin streams start at the same moment
    let (admin, security) = tokio::join!(
        stack.run(StreamId::AdminAudit, Duration::from_secs(60)),
        stack.run(StreamId::SecurityAudit, Duration::from_secs(60))
    );
    // THEN Webex sees one refresh, and both complete with the one stored token
    assert_eq!(admin?.stopped, StopReason::CaughtUp);
    assert_eq!(security?.stopped, StopReason::CaughtUp);
    let refreshes = stack
        .sim
        .token_requests()
        .into_iter()
        .filter(|t| t.grant_type == "refresh_token")
        .count();
    assert_eq!(refreshes, 1);
    let stored = stack.secret("admin").await?;
    assert!(
        stack
            .sim
            .refresh_token_is_valid(stored["refresh_token"].as_str().unwrap_or_default())
    );
    stack
        .assert_all_landed_once(StreamId::AdminAudit, &admin_events)
        .await?;
    stack
        .assert_all_landed_once(StreamId::SecurityAudit, &security_events)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_audit_403_names_the_setting_and_leaves_the_other_streams_working() -> Result<()>
{
    let sim = SimConfig {
        security_audit_entitled: false,
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        ..StackOptions::default()
    })
    .await?;
    let admin_events = stack.history(StreamId::AdminAudit, 500);
    stack.history(StreamId::SecurityAudit, 500);
    let compliance_events = stack.history(StreamId::ComplianceEvents, 500);
    let failed = stack
        .run(StreamId::SecurityAudit, Duration::from_secs(60))
        .await
        .expect_err("403");
    assert_eq!(failed.kind(), ErrorKind::Config);
    let message = failed.to_string();
    assert!(
        message.contains("Pro Pack") && message.contains("Allow user authentication data"),
        "{message}"
    );
    let cursor = stack
        .cursor(StreamId::SecurityAudit)
        .await?
        .expect("failure recorded");
    assert_eq!(cursor.status, collector_core::cursor::Status::Error);
    assert_eq!(cursor.committed_until, None);
    catch_up(&stack, StreamId::AdminAudit).await?;
    catch_up(&stack, StreamId::ComplianceEvents).await?;
    stack
        .assert_all_landed_once(StreamId::AdminAudit, &admin_events)
        .await?;
    stack
        .assert_all_landed_once(StreamId::ComplianceEvents, &compliance_events)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compliance_token_used_for_admin_audit_is_a_config_error_naming_the_scope() -> Result<()>
{
    let mut stack = Stack::start(StackOptions::default()).await?;
    stack.history(StreamId::AdminAudit, 200);
    let compliance_secret = stack.secret_id("compliance").to_string();
    // Both when the secret records its scopes (caught before calling Webex) and when it does
    // not (Webex answers 403).
    for record_scopes in [true, false] {
        if !record_scopes {
            let mut secret = stack.secret("compliance").await?;
            secret.as_object_mut().map(|o| o.remove("scopes"));
            aws_sdk_secretsmanager::Client::new(&stack.sdk)
                .put_secret_value()
                .secret_id(&compliance_secret)
                .secret_string(secret.to_string())
                .send()
                .await?;
        }
        stack
            .env
            .insert("TOKEN_SECRET_ID".into(), compliance_secret.clone());
        let collector = collector_app::build_collector(
            StreamId::AdminAudit,
            &collector_app::Config::from_lookup(|name| stack.env.get(name).cloned())?,
            &stack.collector_sdk,
            std::sync::Arc::new(integration_tests::stack::SimTime(stack.sim.clone())),
        )?;
        let failed = collector_app::run_once(
            &collector,
            tokio::time::Instant::now() + Duration::from_secs(60),
        )
        .await
        .expect_err("wrong scope");
        assert_eq!(
            failed.kind(),
            ErrorKind::Config,
            "scopes recorded: {record_scopes}"
        );
        assert!(failed.to_string().contains("audit:events_read"), "{failed}");
    }
    assert!(stack.objects(StreamId::AdminAudit).await?.is_empty());
    stack.assert_no_secrets_logged().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_fetched_several_at_once_land_exactly_once_after_a_run_failed_midway() -> Result<()>
{
    let stream = StreamId::AdminAudit;
    let mut options = with_env(&[
        ("SETTLE_LAG_SECONDS", "120"),
        ("OVERLAP_SECONDS", "900"),
        // Windows shorter than the overlap: held-back events reach several windows back.
        ("MAX_WINDOW_SECONDS", "300"),
        ("PAGE_SIZE", "10"),
        ("BACKFILL_WINDOWS", "4"),
        ("MAX_REQUESTS_PER_MINUTE", "6000"),
        ("INITIAL_LOOKBACK_DAYS", "1"),
    ]);
    options.sim = SimConfig {
        seed: 11,
        order: Order::Shuffled,
        ..SimConfig::default()
    };
    options.fault_proxy = true;
    let stack = Stack::start(options).await?;
    let start = stack.sim.now_ms();
    // GIVEN three hours of backlog and an hour still to come, much of it late or sharing a time
    let events = stack.sim.generate(
        sim_stream(stream),
        GenerateSpec {
            count: 3_000,
            from_ms: start - 3 * HOUR,
            to_ms: start + HOUR,
            shared_timestamp_fraction: 0.2,
            late_fraction: 0.3,
            max_lateness: Duration::from_secs(14 * 60),
        },
    );
    // WHEN S3 refuses the third object of the first run, while later windows are in flight
    let proxy = stack.proxy.as_ref().expect("proxy");
    let objects_put = std::sync::atomic::AtomicUsize::new(0);
    proxy.set_rule(move |call| {
        let object = call.method == "PUT" && call.path.contains(".ndjson.gz");
        (object && objects_put.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2)
            .then_some(integration_tests::fault_proxy::Fault::Refuse(400))
    });
    let failed = stack
        .run(stream, Duration::from_secs(60))
        .await
        .expect_err("the third object is refused");
    assert_eq!(failed.kind(), ErrorKind::Storage);
    let cursor = stack.cursor(stream).await?.expect("cursor");
    assert!(
        cursor.pending.len() > 1,
        "several windows were started: {:?}",
        cursor.pending
    );
    assert_eq!(stack.open_uploads().await?, 0);
    // AND the next runs, every twenty minutes, each fetch several recent windows at once
    proxy.clear_rule();
    let last_visible = events
        .iter()
        .map(|e| e.visible_at_ms)
        .max()
        .unwrap_or(start);
    stack
        .run_until_caught_up(stream, last_visible + 20 * MIN, Duration::from_secs(1200))
        .await?;
    // THEN every event is in S3 once, late ones included, and no upload is left open
    stack.assert_all_landed_once(stream, &events).await?;
    assert!(late_catches(&stack.objects(stream).await?) > 0);
    assert_eq!(stack.open_uploads().await?, 0);
    Ok(())
}
