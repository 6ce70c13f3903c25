//! The checks behind "exactly once": every event the simulator holds is in S3 once, byte for
//! byte, in objects whose keys and metadata follow the contract (DESIGN §4).

use std::collections::{HashMap, HashSet};
use std::io::Read;

use collector_core::{StreamId, Timestamp};
use webex_sim::SimEvent;

#[derive(Clone, Debug)]
pub struct StoredObject {
    pub key: String,
    pub metadata: HashMap<String, String>,
    pub content_type: String,
    pub content_encoding: String,
    pub e_tag: String,
    /// As stored: gzip.
    pub body: Vec<u8>,
}

impl StoredObject {
    pub fn lines(&self) -> Vec<Vec<u8>> {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&self.body[..])
            .read_to_end(&mut text)
            .unwrap_or_else(|e| panic!("{} is not gzip: {e}", self.key));
        assert!(
            text.ends_with(b"\n") || text.is_empty(),
            "{}: last line not terminated",
            self.key
        );
        text.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }
}

fn id_of(line: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(line).expect("each line is JSON");
    value["id"]
        .as_str()
        .expect("each event has an id")
        .to_string()
}

/// Every expected event once, byte-identical, and nothing else.
pub fn assert_exactly_once(objects: &[StoredObject], expected: &[SimEvent]) {
    let by_id: HashMap<&str, &SimEvent> = expected.iter().map(|e| (e.id.as_str(), e)).collect();
    assert_eq!(
        by_id.len(),
        expected.len(),
        "the simulator's ids are unique"
    );
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    for object in objects {
        for line in object.lines() {
            let id = id_of(&line);
            let event = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{}: unexpected event {id}", object.key));
            assert_eq!(
                String::from_utf8_lossy(&line),
                event.json,
                "{}: event {id} is not byte-identical to what Webex served",
                object.key
            );
            if !seen.insert(id) {
                duplicates += 1;
            }
        }
    }
    let missing = expected.iter().filter(|e| !seen.contains(&e.id)).count();
    assert_eq!(
        (missing, duplicates),
        (0, 0),
        "(lost, duplicated) of {} events",
        expected.len()
    );
}

/// Keys `{prefix}{stream}/org={org}/dt=YYYY-MM-DD/hour=HH/{stream}_{from}_{to}.ndjson.gz`, with
/// metadata that agrees with the key and the body.
pub fn assert_layout(objects: &[StoredObject], stream: StreamId, org_id: &str, version: &str) {
    assert!(!objects.is_empty(), "no objects to check");
    let problems = layout_problems(objects, stream.name(), org_id, version);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// What [`assert_layout`] checks, as a list of what is wrong; `name` is the stream's (a
/// document names its streams).
pub fn layout_problems(
    objects: &[StoredObject],
    name: &str,
    org_id: &str,
    version: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let meta =
        |object: &StoredObject, name: &str| object.metadata.get(name).cloned().unwrap_or_default();
    for object in objects {
        let (Ok(from), Ok(to)) = (
            Timestamp::parse(&meta(object, "window-from")),
            Timestamp::parse(&meta(object, "window-to")),
        ) else {
            problems.push(format!("{}: no window in the metadata", object.key));
            continue;
        };
        let (date, hour) = from.date_and_hour();
        let expected_key = format!(
            "webex/{name}/org={org_id}/dt={date}/hour={hour}/{name}_{}_{}.ndjson.gz",
            from.to_compact(),
            to.to_compact()
        );
        let lines = object.lines().len().to_string();
        let checks = [
            (from < to, "window-from is not before window-to"),
            (object.key == expected_key, "key does not match the window"),
            (meta(object, "stream") == name, "stream metadata"),
            (meta(object, "org-id") == org_id, "org-id metadata"),
            (
                meta(object, "collector-version") == version,
                "collector-version metadata",
            ),
            (
                meta(object, "event-count") == lines,
                "event-count is not the line count",
            ),
            (
                object.content_type == "application/x-ndjson",
                "content type",
            ),
            (object.content_encoding == "gzip", "content encoding"),
        ];
        problems.extend(
            checks
                .into_iter()
                .filter(|(ok, _)| !ok)
                .map(|(_, what)| format!("{}: {what}", object.key)),
        );
    }
    problems
}

/// How S3's objects compare with what the simulator served.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub lost: u64,
    pub duplicates: u64,
    /// Lines that are not one of the expected events byte for byte.
    pub foreign: u64,
    pub problems: Vec<String>,
}

/// Counts rather than asserts what [`assert_exactly_once`] checks, for reports.
pub fn tally(objects: &[StoredObject], expected: &[SimEvent]) -> Tally {
    let by_id: HashMap<&str, &SimEvent> = expected.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut tally = Tally::default();
    let mut seen: HashMap<String, &str> = HashMap::new();
    for object in objects {
        for line in object.lines() {
            let id = serde_json::from_slice::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
                .unwrap_or_default();
            match by_id.get(id.as_str()) {
                Some(event) if event.json.as_bytes() == line.as_slice() => {
                    if let Some(first) = seen.insert(id.clone(), &object.key) {
                        tally.duplicates += 1;
                        tally.problems.push(format!(
                            "event {id} (created {}) written twice: in {} and {}",
                            Timestamp::from_millis(event.created_ms),
                            object_name(first),
                            object_name(&object.key)
                        ));
                    }
                }
                Some(_) => {
                    tally.foreign += 1;
                    tally
                        .problems
                        .push(format!("{}: event {id} is not byte-identical", object.key));
                }
                None => {
                    tally.foreign += 1;
                    tally
                        .problems
                        .push(format!("{}: unexpected event {id:?}", object.key));
                }
            }
        }
    }
    let lost: Vec<&SimEvent> = expected
        .iter()
        .filter(|e| !seen.contains_key(&e.id))
        .collect();
    tally.lost = lost.len() as u64;
    tally.problems.extend(lost.iter().take(3).map(|e| {
        format!(
            "event {} lost (created {}, visible {})",
            e.id,
            Timestamp::from_millis(e.created_ms),
            Timestamp::from_millis(e.visible_at_ms)
        )
    }));
    tally
}

/// The last part of an object key (the window), for messages.
fn object_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Events that reached S3 in a later window than their `created` (caught by the overlap).
pub fn late_catches(objects: &[StoredObject]) -> usize {
    objects
        .iter()
        .map(|o| {
            let from = Timestamp::parse(&o.metadata["window-from"]).expect("window-from");
            o.lines()
                .iter()
                .filter(|line| {
                    let v: serde_json::Value = serde_json::from_slice(line).expect("json");
                    Timestamp::parse(v["created"].as_str().unwrap_or_default())
                        .is_ok_and(|c| c < from)
                })
                .count()
        })
        .sum()
}
