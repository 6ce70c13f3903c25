//! A backlog collected several windows at a time: each window's overlap is compared with what
//! the windows before it wrote, also while those are still in flight, and a run cut short by
//! its deadline leaves nothing that the next run does not finish exactly once.

use super::*;
use crate::testing::PagingMode;

/// Two hours behind, in 2-minute windows (so 15 minutes of overlap spans seven windows
/// before), 4 at once, with events every 20 seconds, some sharing timestamps on window
/// bounds, and late ones near the end whose window was asked for before they showed.
fn backlog(tune: impl FnOnce(&mut Settings)) -> World {
    let world = world("12:00:00", |s| {
        s.policy.max_window = 2 * MINUTE;
        s.policy.initial_lookback = 120 * MINUTE;
        s.concurrent_windows = 4;
        tune(s);
    });
    world.source.add(every(
        "e",
        at("10:00:07"),
        at("12:25:00"),
        Duration::from_secs(20),
    ));
    for (prefix, created) in [
        ("b1-", "11:42:00"),
        ("b2-", "11:48:00"),
        ("b3-", "11:54:00"),
    ] {
        world.source.add(sharing(prefix, at(created), 3));
    }
    let late = |id: &str, created: &str, minutes: u32| {
        ScriptedEvent::new(id, at(created)).late(minutes * MINUTE)
    };
    world.source.add([
        // Shows before the run: in its window's own range.
        late("late-early", "11:20:30", 12),
        // Show after the 12:00 run: in the overlap of the next run's first window.
        late("late-1", "11:47:10", 14),
        late("late-2", "11:50:00", 11),
        late("late-3", "11:53:59.999", 8),
        late("late-4", "11:54:00", 7),
    ]);
    world
}

#[tokio::test(start_paused = true)]
async fn a_backlog_is_collected_four_windows_at_a_time_exactly_once() {
    let world = backlog(|_| {});
    let first = run(&world).await.unwrap();
    assert_eq!(first.stopped, StopReason::CaughtUp);
    // 10:00 to 11:55 in 2-minute windows.
    assert_eq!(first.windows, 58);
    assert_eq!(world.source.most_in_flight(), 4, "windows in flight");
    world.clock.set(at("12:30:00"));
    catch_up(&world, MINUTE).await;
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn the_same_with_offset_paging_and_pages_of_one() {
    let world = backlog(|s| s.page_size = 1);
    world.source.set_paging(PagingMode::Offset);
    run(&world).await.unwrap();
    world.clock.set(at("12:30:00"));
    catch_up(&world, MINUTE).await;
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn a_run_stopped_by_its_deadline_with_windows_in_flight_is_resumed_exactly_once() {
    let world = backlog(|_| {});
    // Every page takes 1.3 s: a 10-second run gets through a few windows only, and the
    // last four it starts (at 7.8 s) cannot get their page before 9 s, when requests stop.
    world.source.set_page_delay(Duration::from_millis(1300));
    let first = world
        .collector()
        .run(Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(first.stopped, StopReason::Deadline);
    assert!(first.windows > 0, "{first:?}");
    let cursor = world.cursor().unwrap();
    assert!(
        cursor.committed_until.unwrap() < at("11:30:00"),
        "{first:?}"
    );
    assert_eq!(cursor.pending.len(), 4, "windows were in flight");
    assert!(world.sink.open_uploads().is_empty(), "their uploads ended");
    assert_eq!(cursor.window_limit, None, "not a window too long for a run");
    let outcomes = catch_up(&world, 2 * MINUTE).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    world.clock.set(at("12:40:00"));
    catch_up(&world, MINUTE).await;
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn of_two_runs_at_once_one_collects_and_the_other_leaves_it_the_work() {
    let world = backlog(|_| {});
    world.source.set_page_delay(Duration::from_millis(100));
    let (first, second) = (world.collector(), world.collector());
    let (a, b) = tokio::join!(first.run(deadline()), second.run(deadline()));
    let mut stopped = [a.unwrap().stopped, b.unwrap().stopped];
    stopped.sort_by_key(|s| *s != StopReason::CaughtUp);
    assert_eq!(stopped, [StopReason::CaughtUp, StopReason::OtherRunActive]);
    world.clock.set(at("12:30:00"));
    catch_up(&world, MINUTE).await;
    assert_exactly_once(&world);
}
