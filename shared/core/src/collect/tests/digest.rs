//! Where the cursor's digest lives: in the item while it is small, in one object beside the
//! events when an overlap is dense, and moved out of an item that an earlier release let grow.

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::sync::LazyLock;

use super::*;
use crate::collect::INLINE_DIGEST_MAX;
use crate::cursor::{Cursor, DigestAt};
use crate::object::{object_key, object_meta};
use crate::ports::ObjectSink;
use crate::recent_ids::RecentIds;
use crate::testing::ORG_ID;
use crate::window::Window;

/// Every saved cursor kept its digest small enough for the item.
fn assert_items_stay_small(world: &World) {
    let largest = world.state.largest_inline_digest_saved();
    assert!(largest <= INLINE_DIGEST_MAX, "{largest} bytes in the item");
}

/// The digest object the cursor names, decoded.
async fn digest_object(world: &World) -> (String, RecentIds) {
    let Some(DigestAt::Object { key, ids }) = world.cursor().map(|c| c.digest) else {
        panic!("the digest is not in an object: {:?}", world.cursor());
    };
    let body = world
        .sink
        .get(&key)
        .await
        .unwrap()
        .expect("the digest object");
    let digest = RecentIds::decode(body).unwrap();
    assert_eq!(digest.len() as u64, ids);
    (key, digest)
}

#[tokio::test(start_paused = true)]
async fn a_dense_overlap_puts_the_digest_in_one_object_and_the_old_ones_are_deleted() {
    // GIVEN 1,200 events in the quarter of an hour before 11:55, sparse ones after
    let world = world("12:00:00", |_| {});
    world.source.add(every(
        "dense",
        at("11:40:00"),
        at("11:55:00"),
        Duration::from_millis(750),
    ));
    world.source.add(every(
        "sparse",
        at("11:55:30"),
        at("13:00:00"),
        Duration::from_secs(120),
    ));
    // WHEN a run commits them
    run(&world).await.unwrap();
    // THEN the digest is in one object under `_state/`, the item stays small
    let (key, digest) = digest_object(&world).await;
    assert!(
        key.starts_with("webex/compliance-events/_state/org=ORG1/"),
        "{key}"
    );
    assert_eq!(digest.len(), 1_200, "the overlap of 11:55 reaches 11:40");
    assert_eq!(world.digest_object_keys(), [key], "one left");
    assert!(
        world
            .state
            .saved_cursors(&world.key())
            .iter()
            .filter(|c| matches!(c.digest, DigestAt::Object { .. }))
            .count()
            > 1,
        "several digests were written and replaced"
    );
    assert_items_stay_small(&world);
    // WHEN the stream goes on quietly past the overlap
    world.clock.set(at("12:40:00"));
    run(&world).await.unwrap();
    // THEN the digest is back in the item, and no digest object is left
    assert!(matches!(
        world.cursor().unwrap().digest,
        DigestAt::Inline(_)
    ));
    assert_eq!(world.digest_object_keys(), Vec::<String>::new());
    assert_items_stay_small(&world);
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn a_sparse_stream_keeps_the_digest_in_the_item() {
    let world = world("14:00:00", |s| s.policy.initial_lookback = 240 * MINUTE);
    world.source.add(every(
        "e",
        at("10:00:00"),
        at("14:00:00"),
        Duration::from_secs(10),
    ));
    run(&world).await.unwrap();
    let saved = world.state.saved_cursors(&world.key());
    assert!(saved.len() > 40);
    assert!(
        saved
            .iter()
            .all(|c| matches!(c.digest, DigestAt::Inline(_))),
        "every digest inline"
    );
    assert!(world.digest_object_keys().is_empty());
    let inline = world.state.inline_digest_len(&world.key()).unwrap();
    assert!(inline > 8 * 80 && inline <= INLINE_DIGEST_MAX, "{inline}");
    assert_exactly_once(&world);
}

/// The digest as releases before 2026-12 stored it (format 1): `1u8`, base ms, then per
/// event its key and its `created` as milliseconds after the base.
fn legacy_digest(events: &[ScriptedEvent]) -> Bytes {
    let base = events.iter().map(|e| e.created.millis()).min().unwrap();
    let mut bytes = vec![1u8];
    bytes.extend_from_slice(&base.to_be_bytes());
    for event in events {
        bytes.extend_from_slice(&event.key().0.to_be_bytes());
        let offset = u32::try_from(event.created.millis() - base).unwrap();
        bytes.extend_from_slice(&offset.to_be_bytes());
    }
    Bytes::from(bytes)
}

fn gzip_lines(events: &[ScriptedEvent]) -> Bytes {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    for event in events {
        gzip.write_all(&event.json).unwrap();
        gzip.write_all(b"\n").unwrap();
    }
    Bytes::from(gzip.finish().unwrap())
}

/// A unit that an earlier release committed up to 11:30, with the 600 events of its last
/// quarter of an hour in a format-1 digest in the cursor item (too large for it now), and in
/// their object; Webex returns them again in the next overlap, with a late one the earlier
/// release did not have, and more after 11:30. The clock reads `now`; pages of 100.
pub(super) fn upgraded(now: &str) -> World {
    /// The earlier release's events, its digest, their object's body, and Webex's events.
    struct Legacy {
        digest: RecentIds,
        body: Bytes,
        script: Vec<ScriptedEvent>,
    }
    static LEGACY: LazyLock<Legacy> = LazyLock::new(|| {
        let written = every(
            "old",
            at("11:15:00"),
            at("11:30:00"),
            Duration::from_millis(1_500),
        );
        assert_eq!(written.len(), 600);
        let digest = RecentIds::decode(legacy_digest(&written)).unwrap();
        assert!(digest.encoded().len() > INLINE_DIGEST_MAX);
        let body = gzip_lines(&written);
        let mut script = written;
        script.push(ScriptedEvent::new("late", at("11:29:00")).late(10 * MINUTE));
        script.extend(every(
            "new",
            at("11:30:10"),
            at("12:20:00"),
            Duration::from_secs(20),
        ));
        Legacy {
            digest,
            body,
            script,
        }
    });
    // Pages of 100: the overlap alone is 600 events.
    let world = world(now, |s| s.page_size = 100);
    world.state.put_cursor(
        &world.key(),
        Cursor {
            committed_until: Some(at("11:30:00")),
            digest: DigestAt::Inline(LEGACY.digest.clone()),
            version: 41,
            ..Cursor::default()
        },
    );
    let window = Window {
        from: at("11:15:00"),
        to: at("11:30:00"),
    };
    let stream = world.unit.stream.as_str();
    world.sink.insert(
        &object_key("webex/", stream, ORG_ID, &window),
        LEGACY.body.clone(),
        object_meta(stream, ORG_ID, &window, 600, "0.0.9", &Default::default()),
    );
    world.source.add(LEGACY.script.iter().cloned());
    world
}

/// Each of the earlier release's events once (in its object), none lost.
fn assert_legacy_events_once(world: &World) {
    let lines = world.written_lines();
    for event in world
        .source
        .events()
        .iter()
        .filter(|e| e.id.starts_with("old"))
    {
        let times = lines.iter().filter(|l| **l == event.json).count();
        assert_eq!(times, 1, "{}", event.id);
    }
}

#[tokio::test(start_paused = true)]
async fn an_upgrade_moves_a_large_legacy_digest_to_an_object_and_writes_none_of_its_events_again() {
    let world = upgraded("12:00:00");
    // WHEN the new release runs
    run(&world).await.unwrap();
    // THEN its first write moved the digest to an object, before any window was started
    let saved = world.state.saved_cursors(&world.key());
    let first = &saved[0];
    assert!(
        matches!(first.digest, DigestAt::Object { ids: 600, .. }),
        "{first:?}"
    );
    assert_eq!(
        (first.committed_until, first.pending.len()),
        (Some(at("11:30:00")), 0)
    );
    assert_items_stay_small(&world);
    // AND nothing was written twice, nothing lost
    assert_exactly_once(&world);
    assert_legacy_events_once(&world);
    world.clock.set(at("12:30:00"));
    run(&world).await.unwrap();
    assert_exactly_once(&world);
    assert_legacy_events_once(&world);
}
