//! State that scales, end to end on the local stack: a burst far denser than a window may hold
//! is split into windows by event count, its digest lives beside the objects, and the cursor
//! item stays a few KB; a cursor an earlier release wrote with a digest near DynamoDB's item
//! limit is carried forward without repeating or losing an event.

use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use collector_core::collect::INLINE_DIGEST_MAX;
use collector_core::cursor::{CursorKey, DigestAt};
use collector_core::event::EventKey;
use collector_core::{StopReason, StreamId, Timestamp};
use integration_tests::aws;
use integration_tests::stack::{Stack, StackOptions, sim_org_id};
use webex_sim::GenerateSpec;

const STREAM: StreamId = StreamId::ComplianceEvents;
const MINUTE: i64 = 60_000;
/// What a state item may reach (issue 14: a few KB whatever the overlap holds).
const ITEM_LIMIT: usize = 16 * 1024;

fn options(extra: &[(&'static str, &str)]) -> StackOptions {
    let mut options = StackOptions::default();
    options.env.push(("INITIAL_LOOKBACK_DAYS", "1".into()));
    options
        .env
        .extend(extra.iter().map(|(k, v)| (*k, (*v).to_string())));
    options
}

/// The cursor item as stored, and its size as DynamoDB counts it (names plus values).
async fn cursor_item(stack: &Stack) -> Result<std::collections::HashMap<String, AttributeValue>> {
    let key = CursorKey::live(STREAM.name().to_string(), sim_org_id(&stack.sim));
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.table)
        .key("pk", AttributeValue::S(key.item_key()))
        .consistent_read(true)
        .send()
        .await?
        .item
        .context("no cursor item")
}

fn item_bytes(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    other => format!("{other:?}").len(),
                }
        })
        .sum()
}

async fn digest_objects(stack: &Stack) -> Result<Vec<String>> {
    let listed = aws::s3(&stack.sdk)
        .list_objects_v2()
        .bucket(&stack.bucket)
        .prefix(format!("webex/{}/_state/", STREAM.name()))
        .send()
        .await?;
    Ok(listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_denser_than_a_window_may_hold_splits_and_keeps_the_item_small() -> Result<()> {
    // GIVEN 30,000 compliance events within three minutes (one overlap holds them all), and
    // windows that may hold 2,000
    let stack = Stack::start(options(&[("MAX_WINDOW_EVENTS", "2000")])).await?;
    let now = stack.sim.now_ms();
    let mut spec = GenerateSpec::new(30_000, now - 9 * MINUTE, now - 6 * MINUTE);
    spec.shared_timestamp_fraction = 0.3;
    let events = stack
        .sim
        .generate(webex_sim::Stream::ComplianceEvents, spec);
    // WHEN the stream is collected, run after run
    let mut largest = 0;
    let mut windows = 0;
    for _ in 0..20 {
        let summary = stack.run(STREAM, Duration::from_secs(120)).await?;
        windows += summary.windows;
        largest = largest.max(item_bytes(&cursor_item(&stack).await?));
        if summary.stopped == StopReason::CaughtUp {
            break;
        }
    }
    // THEN every event landed once, no object holds more than a window may, the digest of the
    // overlap lives in one object, and the item stayed small throughout
    stack.assert_all_landed_once(STREAM, &events).await?;
    let objects = stack.objects(STREAM).await?;
    let most = objects.iter().map(|o| o.lines().len()).max().unwrap_or(0);
    assert!(most <= 2_000, "an object holds {most} events");
    assert!(windows >= 15, "only {windows} windows for 30,000 events");
    let cursor = stack.cursor(STREAM).await?.context("a cursor")?;
    assert!(
        matches!(&cursor.digest, DigestAt::Object { ids, .. } if *ids == 30_000),
        "{:?}",
        cursor.digest.object_key()
    );
    assert_eq!(
        digest_objects(&stack).await?,
        vec![cursor.digest.object_key().unwrap_or_default().to_owned()],
        "the replaced digests are deleted"
    );
    assert!(
        largest <= ITEM_LIMIT,
        "the cursor item reached {largest} bytes"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_with_a_digest_near_the_item_limit_is_carried_forward() -> Result<()> {
    // GIVEN a stream collected up to now, with its overlap's events in the digest...
    let stack = Stack::start(options(&[])).await?;
    let now = stack.sim.now_ms();
    let mut events = stack.sim.generate(
        webex_sim::Stream::ComplianceEvents,
        GenerateSpec::new(3_000, now - 30 * MINUTE, now - 3 * MINUTE),
    );
    stack
        .run_until_caught_up(STREAM, now, Duration::from_secs(60))
        .await?;
    let cursor = stack.cursor(STREAM).await?.context("a cursor")?;
    let committed = cursor.committed_until.context("committed")?;
    // ...stored the way the release before this one stored it: the digest in the item, 12
    // bytes an id, and 30,000 more ids of the overlap (a busy organisation): 360 KB
    let horizon = committed.minus(Duration::from_secs(900));
    let base = horizon.millis();
    let mut legacy = vec![1u8];
    legacy.extend_from_slice(&base.to_be_bytes());
    let mut entry = |id: &str, created: Timestamp| {
        legacy.extend_from_slice(&EventKey::of(id).0.to_be_bytes());
        legacy.extend_from_slice(&((created.millis() - base) as u32).to_be_bytes());
    };
    for event in events.iter().filter(|e| e.created_ms >= base) {
        entry(&event.id, Timestamp::from_millis(event.created_ms));
    }
    for i in 0..30_000 {
        entry(
            &format!("filler-{i}"),
            horizon.plus(Duration::from_millis(i)),
        );
    }
    let mut item = cursor_item(&stack).await?;
    item.remove("recent_ids_object");
    item.remove("recent_ids_count");
    item.insert("recent_ids".into(), AttributeValue::B(Blob::new(legacy)));
    assert!(item_bytes(&item) > 350_000);
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(item))
        .send()
        .await?;
    // AND new events since, some of them late into the overlap
    stack.sim.advance(Duration::from_secs(600));
    let later = stack.sim.now_ms();
    let mut late = GenerateSpec::new(2_000, now - 10 * MINUTE, later - 3 * MINUTE);
    late.late_fraction = 0.3;
    late.max_lateness = Duration::from_secs(240);
    events.extend(
        stack
            .sim
            .generate(webex_sim::Stream::ComplianceEvents, late),
    );
    // WHEN the upgraded collector runs until it has caught up
    stack
        .run_until_caught_up(STREAM, later + 5 * MINUTE, Duration::from_secs(60))
        .await?;
    // THEN nothing is written twice or lost, the digest moved out of the item, and the item
    // is small again
    stack.assert_all_landed_once(STREAM, &events).await?;
    let cursor = stack.cursor(STREAM).await?.context("a cursor")?;
    assert!(matches!(cursor.digest, DigestAt::Object { .. }));
    let bytes = item_bytes(&cursor_item(&stack).await?);
    assert!(
        bytes <= INLINE_DIGEST_MAX + 2_048,
        "the item is {bytes} bytes"
    );
    Ok(())
}
