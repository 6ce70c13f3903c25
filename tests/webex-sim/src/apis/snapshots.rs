//! The state behind opaque paging tokens (Graph's `$skiptoken`, General A's `page_token`,
//! General C's `cursor`): the simulator holds the query, the position and the instant the walk
//! began, and hands out only a random-looking name for it. Pinning visibility to the first
//! page's instant means a walk to the end sees one consistent result set, as with the Webex
//! cursor (`paging::Cursor`); late events are found by the next walk.

use std::collections::HashMap;

use crate::apis::feeds::{FeedStore, Item, Selection};
use crate::paging::page;
use crate::rng::mix;

#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub selection: Selection,
    pub page_size: usize,
    /// Where the page named by the token starts.
    pub offset: usize,
    /// Visibility of the whole walk: the first page's sim-clock instant.
    pub as_of_ms: i64,
    /// When this token was handed out (General C's cursors expire).
    pub issued_at_ms: i64,
}

#[derive(Debug)]
pub(crate) struct Snapshots {
    seed: u64,
    issued: u64,
    held: HashMap<String, Snapshot>,
}

/// Mixed into token seeds so they never equal another random draw.
const SNAPSHOT_TAG: u64 = 0x5EED_70C3;

impl Snapshots {
    pub(crate) fn new(seed: u64) -> Snapshots {
        Snapshots {
            seed,
            issued: 0,
            held: HashMap::new(),
        }
    }

    /// A new token naming `snapshot`, shaped like Graph's (`9177f2e3...bdf7_1`).
    pub(crate) fn issue(&mut self, snapshot: Snapshot) -> String {
        self.issued += 1;
        let token = format!(
            "{:016x}{:016x}_{}",
            mix(&[self.seed, SNAPSHOT_TAG, self.issued]),
            mix(&[self.seed, SNAPSHOT_TAG, self.issued, 1]),
            self.issued
        );
        self.held.insert(token.clone(), snapshot);
        token
    }

    pub(crate) fn get(&self, token: &str) -> Option<&Snapshot> {
        self.held.get(token)
    }

    /// The page `snapshot` names, and the token of the page after it when more remain
    /// (handed out at `now_ms`).
    pub(crate) fn page(
        &mut self,
        feeds: &FeedStore,
        snapshot: &Snapshot,
        now_ms: i64,
    ) -> (Vec<Item>, Option<String>) {
        let selected = feeds.select(&snapshot.selection, snapshot.as_of_ms);
        let (positions, next) = page(&selected, snapshot.offset, snapshot.page_size);
        let items = feeds.items(
            snapshot.selection.api,
            &snapshot.selection.tenant,
            positions,
        );
        let next = next.map(|offset| {
            self.issue(Snapshot {
                offset,
                issued_at_ms: now_ms,
                ..snapshot.clone()
            })
        });
        (items, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apis::Api;
    use crate::apis::feeds::{FeedOrder, Window};

    #[test]
    fn tokens_are_opaque_distinct_and_remembered() {
        let snapshot = Snapshot {
            selection: Selection {
                api: Api::GeneralA,
                tenant: String::new(),
                window: Window::default(),
                event_types: None,
                order: FeedOrder::OldestFirst,
            },
            page_size: 50,
            offset: 150,
            as_of_ms: 7,
            issued_at_ms: 9,
        };
        let mut snapshots = Snapshots::new(1);
        let first = snapshots.issue(snapshot.clone());
        let second = snapshots.issue(snapshot);
        assert_ne!(first, second);
        assert!(!first.contains("150"), "{first}");
        assert_eq!(snapshots.get(&first).map(|s| s.offset), Some(150));
        assert!(snapshots.get("0_1").is_none());
    }
}
