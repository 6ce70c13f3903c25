//! The collect use case on the in-memory adapters ([`crate::testing`]): what lands in the sink,
//! decoded, against the source's script: every event exactly once, byte for byte.

mod backfill;
mod digest;
mod errors;
mod faults;
mod in_flight;
mod list;
mod random;
mod split;
mod start_only;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::collect::{RunSummary, Settings, StopReason};
use crate::error::CollectError;
use crate::ports::{Clock, ObjectSink};
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
    world_of(StreamId::ComplianceEvents, now, tune)
}

/// A unit of `stream` whose clock reads `now`.
fn world_of(stream: StreamId, now: &str, tune: impl FnOnce(&mut Settings)) -> World {
    let spec = stream.spec();
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
    match try_catch_up(world, step).await {
        Ok(outcomes) => outcomes,
        Err(e) => panic!("{e}"),
    }
}

/// [`catch_up`], or what went wrong.
async fn try_catch_up(
    world: &World,
    step: Duration,
) -> Result<Vec<Result<RunSummary, CollectError>>, String> {
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        world.clock.advance(step);
        let outcome = run(world).await;
        let done = matches!(&outcome, Ok(s) if s.stopped == StopReason::CaughtUp);
        outcomes.push(outcome);
        if done {
            return Ok(outcomes);
        }
    }
    Err(format!(
        "not caught up after 20 runs: {:?}; the last: {:?}",
        world.cursor(),
        outcomes.last()
    ))
}

/// What is wrong with what the unit wrote, if anything: every event the source holds from
/// where the unit started to the cursor exactly once, byte for byte (one from before the start,
/// which the first window's overlap reads, at most once), none after it; each object's
/// `event-count` right; no upload left open; no window pending; the digest the cursor names
/// there, an inline one small; no lease or token lock left held.
fn exactly_once(world: &World) -> Result<(), String> {
    checked(world, Uploads::NoneOpen)
}

/// What may be left of uploads once a unit is caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Uploads {
    NoneOpen,
    /// Parts of a window that was split or dropped after its run died or could not abort its
    /// upload: no run resumes that window, so none cleans them up (the bucket's lifecycle rule
    /// aborts them after a day). None for a window that has an object.
    LeftByDroppedWindows,
}

fn checked(world: &World, uploads: Uploads) -> Result<(), String> {
    let cursor = world.cursor().ok_or("no cursor")?;
    if !cursor.pending.is_empty() {
        return Err(format!("windows still pending: {:?}", cursor.pending));
    }
    let until = cursor.committed_until.ok_or("nothing committed")?;
    // Where the first run started: its first window, or the cursor a test put in place.
    let start = world
        .state
        .saved_cursors(&world.key())
        .first()
        .and_then(|c| c.committed_until.or(c.pending.first().map(|w| w.from)))
        .unwrap_or(until);
    let mut open = world.sink.open_uploads();
    if uploads == Uploads::LeftByDroppedWindows {
        open.retain(|key| world.sink.object(key).is_some());
    }
    if !open.is_empty() {
        return Err(format!("uploads left open: {open:?}"));
    }
    if let Some(digest) = cursor.digest.object_key()
        && world.sink.object(digest).is_none()
    {
        return Err(format!(
            "the cursor names a digest object that is not there: {digest}"
        ));
    }
    // Only a cursor an earlier release left may be saved as large as it was (a failure recorded
    // before its digest was moved out).
    let placed = match world.state.placed_cursor(&world.key()).map(|c| c.digest) {
        Some(crate::cursor::DigestAt::Inline(ids)) => ids.encoded().len(),
        _ => 0,
    };
    let largest = world.state.largest_inline_digest_saved();
    if largest > crate::collect::INLINE_DIGEST_MAX.max(placed) {
        return Err(format!("a cursor item held a digest of {largest} bytes"));
    }
    let lock = crate::token_lock::lock_name(&crate::IdentityName::from_static(
        world.spec.default_identity,
    ));
    for lease in [world.key().lease_key(), lock] {
        if let Some(until) = world.state.lease_expiry(&lease)
            && until > world.clock.now()
        {
            return Err(format!("{lease} is still held until {until}"));
        }
    }
    let mut written: Vec<Bytes> = Vec::new();
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
        written.extend(lines);
    }
    // Sorted, compared by a merge: hashing every line is slow in test builds.
    written.sort_unstable();
    let mut events = world.source.events();
    events.sort_unstable_by(|a, b| a.json.cmp(&b.json));
    let (mut missing, mut wrong) = (Vec::new(), Vec::new());
    let mut lines = written.iter().peekable();
    for event in &events {
        while let Some(line) = lines.next_if(|line| **line < event.json) {
            wrong.push(format!(
                "{:?} (not from the source)",
                String::from_utf8_lossy(line)
            ));
        }
        let mut times = 0;
        while lines.next_if(|line| **line == event.json).is_some() {
            times += 1;
        }
        let expected = if event.created >= until {
            0..=0
        } else if event.created >= start {
            1..=1
        } else {
            0..=1
        };
        match times {
            n if expected.contains(&n) => {}
            0 => missing.push(event.id.as_str()),
            n if event.created >= until => {
                wrong.push(format!("{} ({n} times, after the cursor)", event.id));
            }
            n => wrong.push(format!("{} ({n} times)", event.id)),
        }
    }
    wrong.extend(
        lines.map(|line| format!("{:?} (not from the source)", String::from_utf8_lossy(line))),
    );
    if missing.is_empty() && wrong.is_empty() {
        return Ok(());
    }
    missing.sort_unstable();
    wrong.sort_unstable();
    let (missed, wrongs) = (missing.len(), wrong.len());
    missing.truncate(20);
    wrong.truncate(20);
    Err(format!(
        "committed until {until}: {missed} missing {missing:?}; {wrongs} written more than \
         once or wrongly: {wrong:?}"
    ))
}

#[tokio::test(start_paused = true)]
async fn the_check_finds_an_event_lost_repeated_or_not_from_the_source() {
    let world = world("12:00:00", |_| {});
    world
        .source
        .add(every("e", at("11:10:00"), at("11:50:00"), MINUTE));
    run(&world).await.unwrap();
    exactly_once(&world).unwrap();
    let keys = world.event_object_keys();
    let (key, object) = (&keys[1], world.sink.object(&keys[1]).unwrap());
    let lines = decode_lines(&object.body);
    let with = |extra: &[u8]| {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for line in &lines {
            std::io::Write::write_all(&mut gzip, &[line, &b"\n"[..]].concat()).unwrap();
        }
        std::io::Write::write_all(&mut gzip, extra).unwrap();
        Bytes::from(gzip.finish().unwrap())
    };
    let mut meta = object.meta.clone();
    for (name, value) in &mut meta.0 {
        if *name == "event-count" {
            *value = (lines.len() + 1).to_string();
        }
    }
    let cases: [(&str, Option<Bytes>, &str); 3] = [
        ("lost", None, "10 missing"),
        (
            "repeated",
            Some(with(&[&lines[0][..], b"\n"].concat())),
            "(2 times)",
        ),
        (
            "foreign",
            Some(with(b"{\"id\":\"x\"}\n")),
            "not from the source",
        ),
    ];
    for (name, body, expected) in cases {
        world.sink.delete(key).await.unwrap();
        if let Some(body) = body {
            world.sink.insert(key, body, meta.clone());
        }
        let found = exactly_once(&world).unwrap_err();
        assert!(found.contains(expected), "{name}: {found}");
    }
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
