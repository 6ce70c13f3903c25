//! The collect use case on the in-memory adapters ([`crate::testing`]): what lands in the sink,
//! decoded, against the source's script: every event exactly once, byte for byte.

mod digest;
mod errors;
mod faults;
mod in_flight;
mod split;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::collect::{RunSummary, Settings, StopReason};
use crate::error::CollectError;
use crate::stream::StreamId;
use crate::testing::{ManualClock, ScriptedEvent, World, decode_lines, test_settings};
use crate::time::Timestamp;

const MINUTE: Duration = Duration::from_secs(60);

/// `hh:mm:ss[.mmm]` on the day the tests play on.
fn at(time: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-11-22T{time}Z")).unwrap()
}

/// A compliance-events unit whose clock reads `now`.
fn world(now: &str, tune: impl FnOnce(&mut Settings)) -> World {
    let spec = StreamId::ComplianceEvents.spec();
    let mut settings = test_settings(&spec);
    tune(&mut settings);
    World::new(spec, settings, Arc::new(ManualClock::new(at(now))))
}

/// Events `prefix0`, `prefix1`, ... created every `every` in `[from, to)`.
fn every(prefix: &str, from: Timestamp, to: Timestamp, every: Duration) -> Vec<ScriptedEvent> {
    std::iter::successors(Some(from), |t| Some(t.plus(every)))
        .take_while(|t| *t < to)
        .enumerate()
        .map(|(i, created)| ScriptedEvent::new(format!("{prefix}{i}"), created))
        .collect()
}

/// `n` events sharing the timestamp `created`.
fn sharing(prefix: &str, created: Timestamp, n: usize) -> Vec<ScriptedEvent> {
    (0..n)
        .map(|i| ScriptedEvent::new(format!("{prefix}{i}"), created))
        .collect()
}

fn deadline() -> Instant {
    Instant::now() + MINUTE
}

/// One run of a freshly started collector (a new Lambda).
async fn run(world: &World) -> Result<RunSummary, CollectError> {
    world.collector().run(deadline()).await
}

/// Runs until one says the stream is caught up, the clock moving `step` before each (so
/// that a lease a dead run left behind expires); the runs' outcomes.
async fn catch_up(world: &World, step: Duration) -> Vec<Result<RunSummary, CollectError>> {
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        world.clock.advance(step);
        let outcome = run(world).await;
        let done = matches!(&outcome, Ok(s) if s.stopped == StopReason::CaughtUp);
        outcomes.push(outcome);
        if done {
            return outcomes;
        }
    }
    panic!("not caught up after 20 runs: {outcomes:?}");
}

/// What is wrong with what the unit wrote, if anything: every event the source holds from
/// before the cursor exactly once, byte for byte, none after it; each object's `event-count`
/// right; no upload left open; no window pending.
fn exactly_once(world: &World) -> Result<(), String> {
    let cursor = world.cursor().ok_or("no cursor")?;
    if !cursor.pending.is_empty() {
        return Err(format!("windows still pending: {:?}", cursor.pending));
    }
    let until = cursor.committed_until.ok_or("nothing committed")?;
    let open = world.sink.open_uploads();
    if !open.is_empty() {
        return Err(format!("uploads left open: {open:?}"));
    }
    let events = world.source.events();
    let id_of: HashMap<&Bytes, &str> = events.iter().map(|e| (&e.json, e.id.as_str())).collect();
    let mut written: HashMap<Bytes, usize> = HashMap::new();
    for key in world.event_object_keys() {
        let object = world.sink.object(&key).ok_or("an object vanished")?;
        let lines = decode_lines(&object.body);
        let count = object
            .meta
            .0
            .iter()
            .find(|(name, _)| *name == "event-count")
            .map(|(_, v)| v.clone());
        if count != Some(lines.len().to_string()) {
            return Err(format!(
                "{key}: event-count {count:?}, {} lines",
                lines.len()
            ));
        }
        for line in lines {
            *written.entry(line).or_default() += 1;
        }
    }
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    for event in &events {
        match (event.created < until, written.get(&event.json).copied().unwrap_or(0)) {
            (true, 0) => missing.push(event.id.as_str()),
            (false, 0) | (true, 1) => {}
            (false, _) => twice.push(format!("{} (after the cursor)", event.id)),
            (true, n) => twice.push(format!("{} ({n} times)", event.id)),
        }
    }
    let unknown = written.keys().filter(|line| !id_of.contains_key(line)).count();
    if missing.is_empty() && twice.is_empty() && unknown == 0 {
        return Ok(());
    }
    missing.sort_unstable();
    twice.sort_unstable();
    Err(format!(
        "committed until {until}: missing {missing:?}, written more than once or past the \
         cursor {twice:?}, {unknown} lines not from the source"
    ))
}

fn assert_exactly_once(world: &World) {
    if let Err(e) = exactly_once(world) {
        panic!("{e}");
    }
}

/// The events in each event object, by key.
fn lines_per_object(world: &World) -> Vec<(String, usize)> {
    world
        .event_object_keys()
        .into_iter()
        .filter_map(|key| {
            let object = world.sink.object(&key)?;
            Some((key, decode_lines(&object.body).len()))
        })
        .collect()
}
