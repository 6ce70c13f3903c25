//! APIs that take a start and no end (`request.start_only`): one scan per round from the first
//! window's start, each item to the window its time falls in, the windows committed in order.

use super::*;

/// A unit whose API answers everything from a query's start up to now.
fn start_only(now: &str, tune: impl FnOnce(&mut Settings)) -> World {
    let mut world = world(now, tune);
    world.start_only = true;
    world
}

#[tokio::test(start_paused = true)]
async fn one_scan_reads_every_window_of_a_run_and_each_is_committed_in_order() {
    // GIVEN four hours of history, newest first, in 1-hour windows, four windows a round,
    // pages of 10
    let world = start_only("12:00:00", |s| {
        s.policy.max_window = 60 * MINUTE;
        s.policy.initial_lookback = 240 * MINUTE;
        s.concurrent_windows = 4;
        s.page_size = 10;
    });
    world.source.add(every(
        "e",
        at("08:00:00"),
        at("12:00:00"),
        Duration::from_secs(120),
    ));
    // WHEN one run collects them
    let summary = run(&world).await.unwrap();
    // THEN the first window's scan read each event once: 120 events (and none before the
    // first window) in 12 pages, where a query per window up to now would read 120 + 90 + 60
    // + 30 events; what came after the fourth window is read by the next round
    assert_eq!(summary.windows, 4, "{summary:?}");
    let first_round_pages = 12;
    assert!(
        summary.pages <= first_round_pages + 4,
        "one scan, then the next round's short one: {summary:?}"
    );
    // AND each window has its own object, committed in order, every event once
    assert_eq!(world.event_object_keys().len(), 4);
    let saved = world.state.saved_cursors(&world.key());
    let committed: Vec<Timestamp> = saved.iter().filter_map(|c| c.committed_until).collect();
    assert!(committed.is_sorted(), "{committed:?}");
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn late_events_shared_timestamps_and_a_crash_mid_scan_land_once() {
    // GIVEN events sharing timestamps, some late, and a run that dies halfway through its scan
    let world = start_only("12:00:00", |s| {
        s.policy.max_window = 30 * MINUTE;
        s.policy.initial_lookback = 120 * MINUTE;
        s.concurrent_windows = 3;
        s.page_size = 7;
    });
    let mut events = every("e", at("10:00:00"), at("12:20:00"), Duration::from_secs(45));
    events.extend(sharing("same", at("10:40:00"), 25));
    events.push(ScriptedEvent::new("late", at("11:50:00")).late(Duration::from_secs(400)));
    world.source.add(events);
    world.faults.add(
        crate::testing::Trigger::Call(9),
        crate::testing::Fault::Crash,
        crate::testing::Effect::Before,
    );
    let crashed = run(&world).await;
    assert!(crashed.is_err(), "{crashed:?}");
    world.faults.reset();
    // WHEN later runs catch up as time goes on
    let outcomes = catch_up(&world, 5 * MINUTE).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    world.clock.advance(30 * MINUTE);
    catch_up(&world, 5 * MINUTE).await;
    // THEN every event is written once
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn a_dense_window_of_a_scan_is_halved_and_the_windows_before_it_are_kept() {
    // GIVEN three 20-minute windows a round, the second holding 80 events where a window may
    // hold 40
    let world = start_only("12:00:00", |s| {
        s.policy.max_window = 20 * MINUTE;
        s.policy.initial_lookback = 60 * MINUTE;
        s.concurrent_windows = 3;
        s.max_window_events = 40;
        s.page_size = 25;
    });
    let mut events = every(
        "quiet",
        at("11:00:00"),
        at("12:00:00"),
        Duration::from_secs(300),
    );
    events.extend(every(
        "dense",
        at("11:20:00"),
        at("11:40:00"),
        Duration::from_secs(15),
    ));
    world.source.add(events);
    // WHEN the runs catch up
    let outcomes = catch_up(&world, MINUTE).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    // THEN the dense window was split, and everything is written once
    assert!(
        world
            .state
            .saved_cursors(&world.key())
            .iter()
            .any(|c| c.window_limit.is_some()),
        "no window was split"
    );
    assert_exactly_once(&world);
}
