//! Defects the fault soak (`make soak`) found, each pinned by a test named after what broke,
//! with the seed that first showed it.

use std::time::Duration;

use anyhow::{Context, Result};
use collector_core::cursor::{Cursor, CursorKey};
use collector_core::ports::CursorStore;
use collector_core::{ErrorKind, StreamId};
use integration_tests::fault_proxy::Fault as AwsFault;
use integration_tests::{Stack, StackOptions};
use webex_sim::{Order, SimConfig};

/// Paged by `Link` only, so that a window's single page is its last (admin audit pages by
/// offset until an empty page).
const STREAM: StreamId = StreamId::ComplianceEvents;
const HOUR: i64 = 3_600_000;

/// Found by the soak's first full run (seed 6722911073046351 and five more, with the scenario
/// generator of that day): with windows fetched concurrently, a window whose predecessor had
/// failed found the predecessor's hand-on channel closed while reading its overlap
/// (`Earlier::now`), then awaited the spent channel (`Earlier::wait`), and the run panicked
/// ("called after complete") instead of failing cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_whose_predecessor_failed_gives_up_instead_of_panicking() -> Result<()> {
    let mut options = StackOptions {
        sim: SimConfig {
            order: Order::NewestFirst,
            page_latency: Duration::from_millis(500),
            ..SimConfig::default()
        },
        fault_proxy: true,
        ..StackOptions::default()
    };
    options.env = vec![
        ("SETTLE_LAG_SECONDS", "120".into()),
        ("OVERLAP_SECONDS", "900".into()),
        ("MAX_WINDOW_SECONDS", "7200".into()),
        ("INITIAL_LOOKBACK_DAYS", "1".into()),
        ("BACKFILL_WINDOWS", "2".into()),
    ];
    let stack = Stack::start(options).await?;
    let now_ms = stack.sim.now_ms();
    let events = stack.sim.generate(
        webex_sim::Stream::ComplianceEvents,
        webex_sim::GenerateSpec::new(1_500, now_ms - 23 * HOUR, now_ms - HOUR / 6),
    );
    // GIVEN a run died after choosing its first two windows: both are pending, so the next run
    // resumes them, each re-reading its overlap
    let config = stack.config(STREAM)?;
    let now = collector_core::Timestamp::from_millis(stack.sim.now_ms());
    let first = config
        .policy
        .next_window(None, None, now)
        .context("a first window")?;
    let second = config
        .policy
        .next_window(Some(first.to), None, now)
        .context("a second window")?;
    let key = CursorKey::live(
        STREAM.name().to_string(),
        integration_tests::stack::sim_org_id(&stack.sim),
    );
    let cursor = Cursor {
        pending: vec![first, second],
        version: 1,
        ..Cursor::default()
    };
    aws_adapters::DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table)
        .save_cursor(&key, &cursor)
        .await?;
    // AND the first window's object cannot be written (a refusal S3 does not retry), while
    // the second window, a little behind it, still waits for its page, whose last events are
    // of the first window's overlap
    let (first_key, second_key) = (
        format!("_{}_", first.from.to_compact()),
        format!("_{}_", second.from.to_compact()),
    );
    stack
        .proxy
        .as_ref()
        .context("proxy")?
        .set_rule(move |call| {
            if call.method == "PUT" && call.path.contains(&first_key) {
                Some(AwsFault::Refuse(403))
            } else if call.method == "GET"
                && !call.query.contains("uploads")
                && call.path.contains(&second_key)
            {
                Some(AwsFault::Slow(Duration::from_millis(300)))
            } else {
                None
            }
        });
    // WHEN a run resumes both at once
    let collector = stack.collector(STREAM)?;
    let run = tokio::spawn(async move {
        collector_app::run_once(
            &collector,
            tokio::time::Instant::now() + Duration::from_secs(30),
        )
        .await
    });
    // THEN it fails as a storage failure (not a panic), and the next runs complete
    let failed = run
        .await
        .context("the run panicked")?
        .expect_err("the first object cannot be written");
    assert_eq!(failed.kind(), ErrorKind::Storage, "{failed}");
    let requests = stack.sim.requests();
    // Compared decoded: `:` may or may not be percent-encoded, both mean the same.
    let query = |at: usize| requests[at].query.replace("%3A", ":");
    let asks = |at: usize, t: collector_core::Timestamp, name: &str| {
        query(at).contains(&format!("{name}={}", t.to_rfc3339()))
    };
    // (Its overlap is fetched only once the first window has finished, which it never did.)
    assert!(
        requests.len() == 2 && asks(1, second.from, "from") && asks(1, second.to, "to"),
        "the second window's page came last, for its own range: {:?}",
        requests.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    stack.proxy.as_ref().context("proxy")?.clear_rule();
    stack
        .run_until_caught_up(STREAM, stack.sim.now_ms(), Duration::from_secs(600))
        .await?;
    stack.assert_all_landed_once(STREAM, &events).await
}
