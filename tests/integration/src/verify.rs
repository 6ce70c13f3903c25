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
    for object in objects {
        let from = Timestamp::parse(&object.metadata["window-from"]).expect("window-from");
        let to = Timestamp::parse(&object.metadata["window-to"]).expect("window-to");
        assert!(from < to, "{}", object.key);
        let (date, hour) = from.date_and_hour();
        let name = stream.name();
        let expected_key = format!(
            "webex/{name}/org={org_id}/dt={date}/hour={hour}/{name}_{}_{}.ndjson.gz",
            from.to_compact(),
            to.to_compact()
        );
        assert_eq!(object.key, expected_key);
        assert_eq!(object.metadata["stream"], name);
        assert_eq!(object.metadata["org-id"], org_id);
        assert_eq!(object.metadata["collector-version"], version);
        assert_eq!(
            object.metadata["event-count"],
            object.lines().len().to_string(),
            "{}",
            object.key
        );
        assert_eq!(object.content_type, "application/x-ndjson");
        assert_eq!(object.content_encoding, "gzip");
    }
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
