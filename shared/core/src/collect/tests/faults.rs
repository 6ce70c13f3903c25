//! Exactly once whatever port call fails: each call of a clean sequence of runs is made to
//! fail in turn (or to kill the process there), and runs without faults must then leave every
//! event in the sink once.

use std::sync::LazyLock;

use super::*;
use crate::testing::{Effect, Fault, Order, PagingMode, Trigger};

/// A scenario: the unit's world as it starts, and when its runs happen.
struct Scenario {
    world: fn() -> World,
    runs_at: [&'static str; 3],
}

/// A first run, one two minutes later (a late event of the first run's last window shows in
/// between), one half an hour later that reads the overlap for the late events.
const RUNS_AT: [&str; 3] = ["12:00:00", "12:02:00", "12:30:00"];

/// Six windows for the first run (11:00 to 11:55), pages of 7 events in an order Webex does
/// not promise, a next page by `Link` or by `offset`, events sharing a timestamp (on window
/// bounds too), events up to 14 minutes late (inside settle lag and overlap together), two
/// windows large enough to be uploaded in parts, and an access token that the 12:30 run
/// refreshes. The digest stays in the cursor item.
const BUSY_HOUR: Scenario = Scenario {
    world: busy_hour,
    runs_at: RUNS_AT,
};

/// 450 events in the quarter of an hour before 11:56, some late: the digest is written to an
/// object, read back, replaced and deleted; at 12:30 it is back in the item.
const DENSE_QUARTER: Scenario = Scenario {
    world: dense_quarter,
    runs_at: RUNS_AT,
};

/// An earlier release's unit with a digest too large for the item (see
/// [`super::digest::upgraded`]): it is moved to an object first, whatever fails.
const UPGRADED: Scenario = Scenario {
    world: upgraded,
    runs_at: RUNS_AT,
};

fn upgraded() -> World {
    super::digest::upgraded(RUNS_AT[0])
}

fn late(id: &str, created: &str, minutes: u32) -> ScriptedEvent {
    ScriptedEvent::new(id, at(created)).late(minutes * MINUTE)
}

fn busy_hour() -> World {
    static SCRIPT: LazyLock<Vec<ScriptedEvent>> = LazyLock::new(|| {
        let mut script = every("r", at("11:00:03"), at("12:20:00"), Duration::from_secs(47));
        for (prefix, created, n) in [
            ("bound-a", "11:10:00", 3),
            ("shared-b", "11:33:20.500", 4),
            ("edge-c", "11:49:59.999", 2),
            ("bound-d", "11:55:00", 3),
            ("bound-e", "11:57:00", 2),
        ] {
            script.extend(sharing(prefix, at(created), n));
        }
        for (prefix, created) in [("bulk-a", "11:21:00"), ("bulk-b", "11:44:00")] {
            script.extend((0..3).map(|i| {
                ScriptedEvent::bulky(format!("{prefix}{i}"), at(created).plus(i * MINUTE), 6_000)
            }));
        }
        script.extend([
            late("late-1", "11:45:00", 13),
            late("late-2", "11:48:00", 9),
            late("late-3", "11:50:00", 12),
            late("late-4", "11:52:30", 10),
            late("late-5", "11:56:10", 14),
            late("late-6", "11:58:59.999", 14),
            late("late-7", "12:05:00", 6),
            late("late-8", "11:33:20.500", 4),
        ]);
        script
    });
    let world = world(RUNS_AT[0], |_| {});
    world.source.set_order(Order::Shuffled(42));
    world.source.set_paging(PagingMode::Mixed);
    let mut secret = world.secret.get();
    secret.access_token_expires_at = Some(at("12:20:00"));
    world.secret.set(secret);
    world.source.add(SCRIPT.iter().cloned());
    world
}

fn dense_quarter() -> World {
    static SCRIPT: LazyLock<Vec<ScriptedEvent>> = LazyLock::new(|| {
        let mut script = every("d", at("11:41:00"), at("11:56:00"), Duration::from_secs(2));
        script.extend(every(
            "s",
            at("11:00:10"),
            at("12:20:00"),
            Duration::from_secs(90),
        ));
        script.extend([
            late("late-1", "11:52:00", 10),
            late("late-2", "11:54:30", 8),
            late("late-3", "11:56:30", 12),
        ]);
        script
    });
    let world = world(RUNS_AT[0], |s| s.page_size = 100);
    world.source.add(SCRIPT.iter().cloned());
    world
}

/// The scenario's runs, each by a fresh process; a run that crashed is followed by a fresh
/// start with the faults reset. Then runs without faults until caught up. Whether a run
/// failed, or what is wrong.
async fn play(scenario: &Scenario, world: &World) -> Result<bool, String> {
    let mut failed = false;
    for time in scenario.runs_at {
        world.clock.set(at(time));
        // A run may fail: the next one must repair what it left.
        failed |= run(world).await.is_err();
        if world.faults.crashed() {
            world.faults.reset();
        }
    }
    world.faults.reset();
    let outcomes = try_catch_up(world, 2 * MINUTE).await?;
    if let Some(Err(e)) = outcomes.iter().find(|o| o.is_err()) {
        return Err(format!("a run without faults failed: {e}"));
    }
    exactly_once(world)?;
    Ok(failed)
}

#[tokio::test(start_paused = true)]
async fn the_scenarios_collect_every_event_exactly_once_without_faults() {
    let world = busy_hour();
    let first = run(&world).await.unwrap();
    assert_eq!(first.windows, 6);
    assert!(first.pages > first.windows * 2, "several pages a window");
    assert!(
        world.faults.calls_named("upload_part") > 1,
        "uploads in parts"
    );
    world.faults.reset();
    assert!(!play(&BUSY_HOUR, &world).await.unwrap());
    assert_eq!(
        world.secret.get().access_token.unwrap().secret(),
        "refreshed-access",
        "the 12:30 run refreshed the token"
    );

    let world = dense_quarter();
    for time in RUNS_AT {
        world.clock.set(at(time));
        run(&world).await.unwrap();
    }
    let digests = |name| world.faults.calls_named(name);
    assert!(
        digests("put_if_absent") > 6 && digests("delete") > 2 && digests("get") > 0,
        "digests written, deleted and read: {:?}",
        world.faults.log()
    );
    assert!(world.digest_object_keys().is_empty(), "back in the item");
    catch_up(&world, 2 * MINUTE).await;
    assert_exactly_once(&world);
}

/// Every port call of the scenario's clean runs, made to fail in one way in turn.
async fn every_call(scenario: Scenario, fault: Fault, effect: Effect) {
    let clean = (scenario.world)();
    for time in scenario.runs_at {
        clean.clock.set(at(time));
        run(&clean).await.unwrap();
    }
    let calls = clean.faults.calls();
    let names = clean.faults.log();
    assert!(calls > 50, "{calls} calls");
    let mut failures = Vec::new();
    let mut failed_runs = 0;
    for k in 1..=calls {
        let world = (scenario.world)();
        world.faults.add(Trigger::Call(k), fault, effect);
        match play(&scenario, &world).await {
            Ok(failed) => failed_runs += u64::from(failed),
            Err(e) => failures.push(format!("call {k} ({}): {e}", names[k as usize - 1])),
        }
    }
    assert!(
        failures.is_empty(),
        "{fault:?} {effect:?} of {} of {calls} calls broke exactly once:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The faults were felt: most calls are ones whose failure fails the run.
    assert!(failed_runs > calls / 2, "{failed_runs} of {calls}");
}

#[tokio::test(start_paused = true)]
async fn exactly_once_when_any_call_fails_before_its_effect() {
    every_call(BUSY_HOUR, Fault::Fail, Effect::Before).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_when_any_call_fails_after_its_effect() {
    every_call(BUSY_HOUR, Fault::Fail, Effect::After).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_when_the_process_dies_at_any_call() {
    every_call(BUSY_HOUR, Fault::Crash, Effect::Before).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_when_the_process_dies_right_after_any_call_took_effect() {
    every_call(BUSY_HOUR, Fault::Crash, Effect::After).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_after_an_upgrade_when_any_call_fails_after_its_effect() {
    every_call(UPGRADED, Fault::Fail, Effect::After).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_after_an_upgrade_when_the_process_dies_at_any_call() {
    every_call(UPGRADED, Fault::Crash, Effect::Before).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_after_an_upgrade_when_the_process_dies_right_after_any_call_took_effect() {
    every_call(UPGRADED, Fault::Crash, Effect::After).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_with_digest_objects_when_any_call_fails_before_its_effect() {
    every_call(DENSE_QUARTER, Fault::Fail, Effect::Before).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_with_digest_objects_when_any_call_fails_after_its_effect() {
    every_call(DENSE_QUARTER, Fault::Fail, Effect::After).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_with_digest_objects_when_the_process_dies_at_any_call() {
    every_call(DENSE_QUARTER, Fault::Crash, Effect::Before).await;
}

#[tokio::test(start_paused = true)]
async fn exactly_once_with_digest_objects_when_the_process_dies_right_after_any_call_took_effect() {
    every_call(DENSE_QUARTER, Fault::Crash, Effect::After).await;
}
