//! Windows that do not fit: one too slow to fetch within a run is halved, one with more events
//! than a window may hold is split until it fits, and windows grow back when it is quiet.

use super::*;

/// A run of `seconds` (tokio time) by a fresh process.
async fn run_for(world: &World, seconds: u64) -> Result<RunSummary, CollectError> {
    world
        .collector()
        .run(Instant::now() + Duration::from_secs(seconds))
        .await
}

#[tokio::test(start_paused = true)]
async fn a_window_too_slow_for_a_whole_run_is_halved_until_it_fits() {
    // GIVEN one 55-minute window of 110 events, pages of 7 that take a second each, and
    // runs of 10 seconds: the window needs 16 pages.
    let world = world("12:00:00", |s| {
        s.policy.max_window = 60 * MINUTE;
        s.concurrent_windows = 1;
    });
    world.source.add(every(
        "e",
        at("11:00:00"),
        at("12:30:00"),
        Duration::from_secs(30),
    ));
    world.source.set_page_delay(Duration::from_secs(1));
    // WHEN the first run cannot finish it
    let first = run_for(&world, 10).await.unwrap();
    // THEN it is halved: the next run starts with its first half, and windows stay that short
    assert_eq!((first.stopped, first.windows), (StopReason::Deadline, 0));
    let cursor = world.cursor().unwrap();
    let half = crate::window::Window {
        from: at("11:00:00"),
        to: at("11:27:30"),
    };
    assert_eq!(cursor.pending, [half]);
    assert_eq!(cursor.window_limit, Some(half.length()));
    assert_eq!(cursor.committed_until, None);
    assert!(world.event_object_keys().is_empty());
    assert!(world.sink.open_uploads().is_empty());
    // AND later runs collect everything exactly once
    let mut outcomes = Vec::new();
    for _ in 0..30 {
        world.clock.advance(2 * MINUTE);
        let outcome = run_for(&world, 10).await;
        let done = matches!(&outcome, Ok(s) if s.stopped == StopReason::CaughtUp);
        outcomes.push(outcome);
        if done {
            break;
        }
    }
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(
        matches!(outcomes.last(), Some(Ok(s)) if s.stopped == StopReason::CaughtUp),
        "{outcomes:?}"
    );
    assert_exactly_once(&world);
}

#[tokio::test(start_paused = true)]
async fn a_burst_is_split_into_windows_of_at_most_the_cap_and_windows_grow_back() {
    // GIVEN 20,000 events within three minutes, sparse ones around them, pages of 1,000 and a
    // cap of 1,000 events a window
    let world = world("12:00:00", |s| {
        s.max_window_events = 1_000;
        s.page_size = 1_000;
        s.part_size = 1 << 20;
    });
    world.source.add(every(
        "burst",
        at("11:20:00"),
        at("11:23:00"),
        Duration::from_millis(9),
    ));
    world.source.add(every(
        "sparse",
        at("11:00:30"),
        at("14:00:00"),
        Duration::from_secs(50),
    ));
    assert!(world.source.events().len() > 20_000);
    // WHEN runs every two minutes catch up, then the stream goes on
    for minutes in [0, 2, 4, 60, 120] {
        world.clock.set(at("12:00:00").plus(minutes * MINUTE));
        let summary = run(&world).await.unwrap();
        assert_eq!(summary.stopped, StopReason::CaughtUp);
    }
    // THEN no object holds more than the cap, and every event is there once
    let per_object = lines_per_object(&world);
    let fullest = per_object.iter().map(|(_, n)| *n).max().unwrap();
    assert!(fullest <= 1_000, "{per_object:?}");
    assert!(per_object.len() > 20, "{}", per_object.len());
    assert_exactly_once(&world);
    // AND windows shrank to a few seconds for the burst and grew back after it
    let limits: Vec<Option<Duration>> = world
        .state
        .saved_cursors(&world.key())
        .iter()
        .map(|c| c.window_limit)
        .collect();
    let shortest = limits.iter().flatten().min().copied().unwrap();
    assert!(shortest <= Duration::from_secs(10), "{limits:?}");
    let burst_over = limits.iter().rposition(|l| *l == Some(shortest)).unwrap();
    let length = |limit: &Option<Duration>| limit.unwrap_or(Duration::MAX);
    assert!(
        limits[burst_over..]
            .windows(2)
            .all(|w| length(&w[1]) >= length(&w[0])),
        "grows back only: {limits:?}"
    );
    assert_eq!(limits.last(), Some(&None), "{limits:?}");
}
