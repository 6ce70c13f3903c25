//! What the source returns for a range, written nowhere and committing nothing: the quickest
//! way to see whether a gap is the API's or ours (`webexctl events list`), and the other side
//! of `webexctl verify`. The same queries, paging, retries and credentials as a run.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64};

use tokio::time::Instant;

use super::Collector;
use super::fetch::{Pages, Run};
use crate::cursor::CursorKey;
use crate::error::CollectError;
use crate::event::RawEvent;
use crate::ports::{Clock, CursorStore, EventSource, LeaseStore, ObjectSink};
use crate::time::Timestamp;

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    /// Each event created in `[from, to)` that the stream's queries return, once per id, in
    /// the order the pages give them, to `each`, stopping after `max`; how many were handed.
    pub async fn list(
        &self,
        range: (Timestamp, Timestamp),
        max: Option<u64>,
        deadline: Instant,
        each: impl FnMut(&RawEvent),
    ) -> Result<u64, CollectError> {
        let key = self.live_key().await?;
        self.list_of(&key, range, max, deadline, each).await
    }

    pub(super) async fn list_of(
        &self,
        key: &CursorKey,
        (from, to): (Timestamp, Timestamp),
        max: Option<u64>,
        deadline: Instant,
        mut each: impl FnMut(&RawEvent),
    ) -> Result<u64, CollectError> {
        let (stop, pages) = (AtomicBool::new(false), AtomicU64::new(0));
        let run = Run {
            stop: &stop,
            pages: &pages,
            deadline,
        };
        let mut seen = HashSet::new();
        let mut handed = 0u64;
        if max == Some(0) {
            return Ok(0);
        }
        let mut pages = Pages::of(key, (from, to));
        while let Some(page) = self.next_page(&mut pages, &run).await? {
            for event in page.events {
                if seen.insert(event.key) {
                    each(&event);
                    handed += 1;
                    if max.is_some_and(|max| handed >= max) {
                        return Ok(handed);
                    }
                }
            }
        }
        Ok(handed)
    }
}
