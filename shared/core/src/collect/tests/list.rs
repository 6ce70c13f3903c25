//! `Collector::list`: what the source returns for a range, once per id, written nowhere.

use super::*;

#[tokio::test]
async fn a_range_is_listed_once_per_id_within_its_bounds_and_nothing_is_written() {
    let world = world("12:00:00", |s| s.page_size = 7);
    let from = at("10:00:00");
    let to = at("11:00:00");
    // Before, inside (with shared timestamps across pages) and after the range.
    world
        .source
        .add(every("early", at("09:30:00"), from, MINUTE));
    world.source.add(every("in", from, to, MINUTE));
    world.source.add(sharing("same", at("10:30:00"), 9));
    world.source.add(every("late", to, at("11:30:00"), MINUTE));

    let mut ids = Vec::new();
    let listed = world
        .collector()
        .list((from, to), None, deadline(), |event| {
            ids.push(String::from_utf8_lossy(&event.json).into_owned());
        })
        .await
        .unwrap();

    assert_eq!(listed, 60 + 9);
    assert_eq!(ids.len(), 69);
    assert!(
        ids.iter()
            .all(|e| e.contains("\"in") || e.contains("\"same")),
        "{ids:?}"
    );
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event listed twice");
    assert!(world.event_object_keys().is_empty(), "list wrote an object");
    assert!(world.cursor().is_none(), "list moved a cursor");

    let mut first = 0;
    let capped = world
        .collector()
        .list((from, to), Some(10), deadline(), |_| first += 1)
        .await
        .unwrap();
    assert_eq!((capped, first), (10, 10));
}
