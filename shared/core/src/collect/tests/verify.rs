//! `Collector::verify`: the source against the bucket, naming the ids that differ.

use std::io::Write;

use super::*;
use crate::ports::ObjectSink;

#[tokio::test]
async fn verify_finds_nothing_on_a_complete_range_and_names_what_was_deleted_or_doubled() {
    let world = world("10:00:00", |s| {
        s.policy.initial_lookback = 6 * 60 * MINUTE;
    });
    world
        .source
        .add(every("ev", at("05:00:00"), at("09:00:00"), MINUTE));
    catch_up(&world, MINUTE).await;
    let range = (at("06:00:00"), at("08:00:00"));

    let verdict = world.collector().verify(range, deadline()).await.unwrap();
    assert!(verdict.complete(), "{verdict:?}");
    assert_eq!((verdict.listed, verdict.stored), (120, 120));

    // An object deleted: its events of the range are named missing.
    let keys = world.event_object_keys();
    let hour_seven = keys
        .iter()
        .find(|k| k.contains("/hour=07/"))
        .expect("an object of 07:00")
        .clone();
    let gone = world.sink.object(&hour_seven).unwrap();
    world.sink.delete(&hour_seven).await.unwrap();
    let verdict = world.collector().verify(range, deadline()).await.unwrap();
    let lines = decode_lines(&gone.body);
    assert_eq!(verdict.missing.len(), lines.len(), "{verdict:?}");
    assert!(verdict.missing.iter().all(|id| id.starts_with("ev")));
    assert!(verdict.twice.is_empty() && verdict.extra.is_empty());

    // Put back with its first line twice: that id is named, once.
    let mut doubled = Vec::new();
    for line in lines.iter().chain(std::iter::once(&lines[0])) {
        doubled.extend_from_slice(line);
        doubled.push(b'\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&doubled).unwrap();
    world
        .sink
        .insert(&hour_seven, gz.finish().unwrap().into(), gone.meta);
    let verdict = world.collector().verify(range, deadline()).await.unwrap();
    let first: serde_json::Value = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(verdict.twice, [first["id"].as_str().unwrap()]);
    assert!(verdict.missing.is_empty() && verdict.extra.is_empty());
    assert_eq!(verdict.stored, 121);
}
