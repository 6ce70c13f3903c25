//! `Collector::backfill`: a past range beside the live unit, exactly once, resumed after a
//! crash at any point; refused where its events may be in objects already.

use std::collections::HashMap;

use super::*;
use crate::collect::BackfillPlan;
use crate::cursor::{CursorKey, Lane};
use crate::ports::CursorStore;
use crate::testing::Effect;

/// The live unit of a world at 12:00 starts at 11:00 (an hour's look-back) and reads from
/// 10:45 (15 minutes of overlap).
const LIVE_SINCE: &str = "10:45:00";

fn plan(from: &str, to: &str, prefix: Option<&str>) -> BackfillPlan {
    BackfillPlan {
        from: at(from),
        to: at(to),
        prefix: prefix.map(str::to_owned),
    }
}

fn backfill_key(world: &World, plan: &BackfillPlan) -> CursorKey {
    CursorKey {
        lane: Lane::Backfill {
            from: plan.from,
            to: plan.to,
            prefix: plan.prefix.clone(),
        },
        ..world.key()
    }
}

/// A day's morning: an event every 50 s from 07:00 to 11:55, and a few sharing a timestamp on
/// the bounds the tests use.
fn morning(now: &str) -> World {
    let world = world(now, |_| {});
    world.source.add(every(
        "m",
        at("07:00:00"),
        at("11:55:00"),
        Duration::from_secs(50),
    ));
    for (prefix, created) in [
        ("b8-", "08:00:00"),
        ("b10-", "10:00:00"),
        ("b1045-", LIVE_SINCE),
    ] {
        world.source.add(sharing(prefix, at(created), 3));
    }
    world
}

/// Every line under `prefix` (the unit's objects there), by event id: how many times.
fn ids_under(world: &World, prefix: &str) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    let folder = format!("{prefix}{}/org={}/", world.unit.stream, world.org_id());
    for key in world.sink.keys_under(&folder) {
        let object = world.sink.object(&key).unwrap();
        for line in decode_lines(&object.body) {
            let event: serde_json::Value = serde_json::from_slice(&line).unwrap();
            *ids.entry(event["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    ids
}

/// The ids of the source's events created in `[from, to)`.
fn created_in(world: &World, from: &str, to: &str) -> Vec<String> {
    let (from, to) = (at(from), at(to));
    world
        .source
        .events()
        .into_iter()
        .filter(|e| e.created >= from && e.created < to)
        .map(|e| e.id)
        .collect()
}

/// Runs the plan until it says it is done, the clock moving a minute before each run (a dead
/// run's lease expires), faults reset between runs; how many runs it took.
async fn backfill_until_done(world: &World, plan: &BackfillPlan) -> usize {
    for runs in 1..=30 {
        world.faults.reset();
        world.clock.advance(MINUTE);
        match world.collector().backfill(plan, deadline()).await {
            Ok(summary) if summary.stopped == StopReason::CaughtUp => return runs,
            Ok(_) => {}
            Err(e) => panic!("a clean run failed: {e}"),
        }
    }
    panic!(
        "the backfill is not done after 30 runs: {:?}",
        world.state.cursor(&backfill_key(world, plan))
    );
}

#[tokio::test]
async fn a_backfill_writes_its_range_once_beside_the_live_unit_whatever_call_fails() {
    // Killed at every 7th port call of its first runs (its answer lost or not), then resumed:
    // the range is in the bucket exactly once, and with the live unit's objects every event
    // from 08:00 on is there once.
    for crash in (1..=120).step_by(7) {
        for effect in [Effect::Before, Effect::After] {
            let world = morning("12:00:00");
            catch_up(&world, Duration::ZERO).await;
            let plan = plan("08:00:00", LIVE_SINCE, None);
            world.faults.reset();
            world.faults.crash_at(crash, effect);
            let _ = world.collector().backfill(&plan, deadline()).await;
            backfill_until_done(&world, &plan).await;

            let ids = ids_under(&world, "webex/");
            let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
            assert!(
                twice.is_empty(),
                "crash at {crash} ({effect:?}): twice {twice:?}"
            );
            for id in created_in(&world, "08:00:00", "11:50:00") {
                assert!(
                    ids.contains_key(&id),
                    "crash at {crash} ({effect:?}): {id} missing"
                );
            }
            let before: Vec<_> = created_in(&world, "07:00:00", "08:00:00")
                .into_iter()
                .filter(|id| ids.contains_key(id))
                .collect();
            assert!(before.is_empty(), "read before its range: {before:?}");
            let cursor = world.state.cursor(&backfill_key(&world, &plan)).unwrap();
            assert_eq!(cursor.committed_until, Some(plan.to));
            assert!(cursor.pending.is_empty());
            assert!(
                world.sink.open_uploads().is_empty(),
                "{:?}",
                world.sink.open_uploads()
            );
        }
    }
}

#[tokio::test]
async fn a_range_the_live_unit_collects_is_refused_unless_written_under_another_prefix() {
    let world = morning("12:00:00");
    catch_up(&world, Duration::ZERO).await;
    let over = plan("09:00:00", "10:46:00", None);
    let refused = world.collector().backfill(&over, deadline()).await;
    let Err(CollectError::Refused(message)) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert!(
        message.contains("from 2026-11-22T10:45:00.000Z on")
            && message.contains("--to 2026-11-22T10:45:00.000Z")
            && message.contains("--prefix"),
        "{message}"
    );
    assert!(world.state.cursor(&backfill_key(&world, &over)).is_none());

    // The same range beside the live objects: all of it, once; the live objects untouched.
    let live_before = ids_under(&world, "webex/");
    let beside = plan("09:00:00", "11:30:00", Some("redo/"));
    backfill_until_done(&world, &beside).await;
    let redo = ids_under(&world, "redo/");
    let mut expected = created_in(&world, "09:00:00", "11:30:00");
    expected.sort();
    let mut got: Vec<_> = redo.keys().cloned().collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(redo.values().all(|n| *n == 1));
    assert_eq!(ids_under(&world, "webex/"), live_before);

    // The deployment's own prefix, named, is refused as the default is.
    let named = plan("09:00:00", "10:46:00", Some("webex/"));
    assert!(matches!(
        world.collector().backfill(&named, deadline()).await,
        Err(CollectError::Refused(_))
    ));
}

#[tokio::test]
async fn backfills_under_one_prefix_may_meet_but_not_overlap() {
    let world = morning("12:00:00");
    catch_up(&world, Duration::ZERO).await;
    let first = plan("09:00:00", "10:00:00", None);
    backfill_until_done(&world, &first).await;
    let over = plan("09:30:00", "10:30:00", None);
    let Err(CollectError::Refused(message)) = world.collector().backfill(&over, deadline()).await
    else {
        panic!("an overlapping backfill was not refused");
    };
    assert!(
        message.contains(
            "the backfill of 2026-11-22T09:00:00.000Z to 2026-11-22T10:00:00.000Z (done)"
        ) && message.contains("--from 2026-11-22T09:00:00.000Z --to 2026-11-22T10:00:00.000Z"),
        "{message}"
    );
    // Ranges that meet it on either side: together every event from 08:00 once.
    backfill_until_done(&world, &plan("10:00:00", LIVE_SINCE, None)).await;
    backfill_until_done(&world, &plan("08:00:00", "09:00:00", None)).await;
    let ids = ids_under(&world, "webex/");
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    for id in created_in(&world, "08:00:00", "11:50:00") {
        assert!(ids.contains_key(&id), "{id} missing");
    }
    // A plan that is done runs no window again.
    world.clock.advance(MINUTE);
    let again = world
        .collector()
        .backfill(&first, deadline())
        .await
        .unwrap();
    assert_eq!((again.windows, again.stopped), (0, StopReason::CaughtUp));
}

#[tokio::test]
async fn of_two_overlapping_backfills_started_at_once_one_at_most_goes_on() {
    let world = morning("12:00:00");
    catch_up(&world, Duration::ZERO).await;
    // A plan's cursor as its process creates it, before it checks the range.
    let claim = |plan: &BackfillPlan| {
        let cursor = crate::cursor::Cursor {
            committed_until: Some(plan.from),
            version: 1,
            ..Default::default()
        };
        let key = backfill_key(&world, plan);
        let state = world.state.clone();
        async move { state.save_cursor(&key, &cursor).await.unwrap() }
    };
    // GIVEN another operator's plan, claimed a moment ago and not yet checked
    let theirs = plan("09:00:00", "10:00:00", None);
    claim(&theirs).await;
    // WHEN this one, overlapping it, starts: refused, its own claim taken back
    let ours = plan("09:30:00", "10:30:00", None);
    let refused = world.collector().backfill(&ours, deadline()).await;
    assert!(
        matches!(&refused, Err(CollectError::Refused(m)) if m.contains("(collected up to 2026-11-22T09:00:00.000Z)")),
        "{refused:?}"
    );
    assert!(world.state.cursor(&backfill_key(&world, &ours)).is_none());
    // THEN theirs, checked when its process goes on, finds no other claim and collects once
    backfill_until_done(&world, &theirs).await;
    let ids = ids_under(&world, "webex/");
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    for id in created_in(&world, "09:00:00", "10:00:00") {
        assert!(ids.contains_key(&id), "{id} missing");
    }
    // AND a plan is checked again until a window of it is recorded: of two claimed at once
    // whose processes both stopped before their checks, the first run again is refused and
    // the other goes on
    let (first, second) = (
        plan("08:00:00", "08:30:00", None),
        plan("08:15:00", "08:45:00", None),
    );
    claim(&first).await;
    claim(&second).await;
    assert!(matches!(
        world.collector().backfill(&first, deadline()).await,
        Err(CollectError::Refused(_))
    ));
    backfill_until_done(&world, &second).await;
    let ids = ids_under(&world, "webex/");
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    for id in created_in(&world, "08:15:00", "08:45:00") {
        assert!(ids.contains_key(&id), "{id} missing");
    }
}

#[tokio::test]
async fn before_the_live_unit_starts_a_backfill_ends_where_its_look_back_will_reach() {
    // No live run yet: at 12:00 it would start at 11:00 and read from 10:45.
    let world = morning("12:00:00");
    let refused = world
        .collector()
        .backfill(&plan("10:00:00", "11:00:00", None), deadline())
        .await;
    assert!(
        matches!(&refused, Err(CollectError::Refused(m)) if m.contains("--to 2026-11-22T10:45:00.000Z")),
        "{refused:?}"
    );
    // Settled time only: the schedule's windows would stop short of its end.
    let unsettled = world
        .collector()
        .backfill(&plan("11:00:00", "11:56:00", Some("redo/")), deadline())
        .await;
    assert!(
        matches!(&unsettled, Err(CollectError::Config(m)) if m.contains("end it by 2026-11-22T11:55:00.000Z")),
        "{unsettled:?}"
    );
    // A range within whole seconds only.
    let odd = BackfillPlan {
        from: at("09:00:00.500"),
        ..plan("09:00:00", "10:00:00", None)
    };
    assert!(matches!(
        world.collector().backfill(&odd, deadline()).await,
        Err(CollectError::Config(_))
    ));
}
