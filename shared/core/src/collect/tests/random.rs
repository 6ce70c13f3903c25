//! Exactly once over random scripts, settings, run schedules, deadlines and faults, from
//! seeds (so a failure names a case that can be replayed). Late events are late by less than
//! the settle lag and the overlap together: the lateness the design promises to catch.

use super::*;
use crate::testing::{Effect, Fault, Order, PagingMode, Trigger};

fn verbose() -> bool {
    std::env::var("RANDOM_VERBOSE").is_ok()
}

/// One random case, its API taking a start and no end when `start_only`; what is wrong, if
/// anything.
async fn case(seed: u64, start_only: bool) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let pick = |rng: &mut fastrand::Rng, from: &[u64]| from[rng.usize(..from.len())];
    let settle = Duration::from_secs(pick(&mut rng, &[60, 300]));
    let overlap = Duration::from_secs(pick(&mut rng, &[120, 300, 900]));
    let lookback = Duration::from_secs(pick(&mut rng, &[1800, 3600, 7200]));
    let mut world = world("12:00:00", |s| {
        s.policy.settle_lag = settle;
        s.policy.overlap = overlap;
        s.policy.max_window = Duration::from_secs(pick(&mut rng, &[60, 120, 300, 600, 1800]));
        s.policy.initial_lookback = lookback;
        s.page_size = pick(&mut rng, &[1, 3, 7, 50]) as u32;
        s.concurrent_windows = pick(&mut rng, &[1, 2, 3, 4]) as usize;
        s.max_window_events = pick(&mut rng, &[15, 40, 1000]);
        if rng.u8(..4) == 0 {
            // Two queries a window (two filters): Webex returns an event to each that matches.
            s.queries = vec![
                vec![("type", "created".into())],
                vec![("type", "deleted".into())],
            ];
        }
    });
    world.start_only = start_only;
    world.source.set_order(if rng.bool() {
        Order::NewestFirst
    } else {
        Order::Shuffled(rng.u64(..))
    });
    world.source.set_paging(match rng.u8(..3) {
        0 => PagingMode::Link,
        1 => PagingMode::Offset,
        _ => PagingMode::Mixed,
    });
    // Events from where the first run starts to half an hour after it, some in bursts sharing
    // a timestamp, some late.
    let start = at("12:00:00").minus(lookback).millis();
    let end = at("12:30:00").millis();
    let lateness_bound = (settle + overlap).as_millis() as u64 - 1_000;
    let mut events = Vec::new();
    for i in 0..rng.usize(20..250) {
        let created = Timestamp::from_millis(rng.i64(start..end));
        let copies = if rng.u8(..10) == 0 {
            rng.usize(2..30)
        } else {
            1
        };
        for c in 0..copies {
            let mut event = ScriptedEvent::new(format!("e{i}-{c}"), created);
            if rng.u8(..4) == 0 {
                event = event.late(Duration::from_millis(rng.u64(..lateness_bound)));
            }
            events.push(event);
        }
    }
    if rng.u8(..3) == 0 {
        // Events large enough that their windows are uploaded in parts.
        for i in 0..rng.usize(3..12) {
            let created = Timestamp::from_millis(rng.i64(start..end));
            events.push(ScriptedEvent::bulky(format!("bulky{i}"), created, 7_000));
        }
    }
    if rng.u8(..4) == 0 {
        // A burst: its overlap needs a digest object.
        let at_ms = rng.i64(start..end);
        for i in 0..rng.usize(300..900) {
            let created = Timestamp::from_millis(at_ms + rng.i64(0..240_000));
            events.push(ScriptedEvent::new(format!("burst{i}"), created));
        }
    }
    world.source.add(events);
    // Runs at increasing times, some with short deadlines and slow pages, some with a fault.
    let mut runs = 0;
    while world.clock.now() < at("12:40:00") && runs < 12 {
        if runs > 0 {
            world.clock.advance(Duration::from_secs(pick(
                &mut rng,
                &[0, 30, 120, 420, 1200],
            )));
        }
        runs += 1;
        let slow = rng.u8(..3) == 0;
        world.source.set_page_delay(if slow {
            Duration::from_millis(pick(&mut rng, &[200, 1000]))
        } else {
            Duration::ZERO
        });
        let seconds = if slow {
            pick(&mut rng, &[3, 6, 20])
        } else {
            60
        };
        world.faults.reset();
        if rng.u8(..8) == 0 {
            let name =
                ["delete", "get", "clean_up", "abort_upload", "release_lease"][rng.usize(..5)];
            world.faults.fail_named_after(name, rng.u64(0..3));
        }
        if rng.u8(..3) == 0 {
            let fault = if rng.bool() {
                Fault::Crash
            } else {
                Fault::Fail
            };
            let effect = if rng.bool() {
                Effect::After
            } else {
                Effect::Before
            };
            world
                .faults
                .add(Trigger::Call(rng.u64(1..60)), fault, effect);
        }
        let outcome = world
            .collector()
            .run(Instant::now() + Duration::from_secs(seconds))
            .await;
        if verbose() {
            println!("  open uploads {:?}", world.sink.open_uploads());
            println!(
                "run at {} for {seconds}s (slow {slow}): {outcome:?}\n  faults {:?}\n  cursor {:?}",
                world.clock.now(),
                world.faults.log(),
                world
                    .cursor()
                    .map(|c| (c.committed_until, c.pending, c.window_limit, c.version))
            );
        }
    }
    if verbose() {
        println!("settings {:?}", world.settings);
    }
    world.faults.reset();
    world.source.set_page_delay(Duration::ZERO);
    // Late enough that every event has shown (and been asked for after it did), and that a
    // lease a dead run left has expired.
    let shown = at("12:30:00").plus(settle + overlap + 2 * MINUTE);
    world
        .clock
        .set(shown.max(world.clock.now().plus(2 * MINUTE)));
    let outcomes = try_catch_up(&world, MINUTE).await?;
    if verbose() {
        println!("catch up: {outcomes:?}");
        for e in world.source.events() {
            println!(
                "event {} created {} visible {}",
                e.id, e.created, e.visible_from
            );
        }
        for key in world.event_object_keys() {
            println!("object {key}");
        }
    }
    if let Some(Err(e)) = outcomes.iter().find(|o| o.is_err()) {
        return Err(format!("a run without faults failed: {e}"));
    }
    // A window dropped by a split is never resumed, so an upload its run could not end stays.
    checked(&world, Uploads::LeftByDroppedWindows)
}

async fn cases(seeds: std::ops::Range<u64>, start_only: bool) {
    let mut failures = Vec::new();
    for seed in seeds {
        if let Err(e) = case(seed, start_only).await {
            failures.push(format!("seed {seed}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(start_paused = true)]
async fn exactly_once_over_random_cases() {
    cases(0..15, false).await;
}

/// The same cases for an API that takes a start and no end: one scan per round.
#[tokio::test(start_paused = true)]
async fn exactly_once_over_random_start_only_cases() {
    cases(0..15, true).await;
}

/// `RANDOM_SEED=7 RANDOM_VERBOSE=1 cargo test -p collector-core one_random -- --ignored
/// --nocapture` to replay one (`RANDOM_START_ONLY=1` for the start-only cases).
#[tokio::test(start_paused = true)]
#[ignore = "replays the case of RANDOM_SEED"]
async fn one_random_case() {
    let seed = std::env::var("RANDOM_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let start_only = std::env::var("RANDOM_START_ONLY").is_ok();
    if let Err(e) = case(seed, start_only).await {
        panic!("seed {seed}: {e}");
    }
}

/// `RANDOM_CASES=5000 cargo test -p collector-core many_random -- --ignored` when hunting
/// (`RANDOM_START_ONLY=1` for the start-only cases).
#[tokio::test(start_paused = true)]
#[ignore = "slow: thousands of random cases, for hunting"]
async fn many_random_cases() {
    let n = std::env::var("RANDOM_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    cases(1_000..1_000 + n, std::env::var("RANDOM_START_ONLY").is_ok()).await;
}
