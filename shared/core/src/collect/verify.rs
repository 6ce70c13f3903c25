//! The proof a compliance team asks for: a unit's range as the source returns it now, against
//! the lines the bucket holds for it. Every event exactly once, or the ids that are missing,
//! extra, or there twice (`webexctl verify`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use super::Collector;
use crate::error::CollectError;
use crate::event::EventKey;
use crate::object::for_each_line;
use crate::ports::{Clock, CursorStore, EventSource, LeaseStore, ObjectListing, ObjectSink};
use crate::time::Timestamp;

/// What `verify` found, ids sorted.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub stream: String,
    pub org_id: String,
    /// Events of the range the source returns.
    pub listed: u64,
    /// Lines of the range in the bucket.
    pub stored: u64,
    /// In the source, not in the bucket.
    pub missing: Vec<String>,
    /// In the bucket more than once.
    pub twice: Vec<String>,
    /// In the bucket, not in the source (deleted upstream since, or not the source's).
    pub extra: Vec<String>,
}

impl Verdict {
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.twice.is_empty() && self.extra.is_empty()
    }
}

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink + ObjectListing,
    Src: EventSource,
    Clk: Clock,
{
    /// Compares the unit's events created in `[from, to)` as the source returns them with the
    /// lines of its objects. An event lands in the window that holds its time, or, late, in a
    /// later one whose overlap reached back to it: objects of windows from `max_window` before
    /// the range to `overlap` after it are read.
    pub async fn verify(
        &self,
        (from, to): (Timestamp, Timestamp),
        deadline: Instant,
    ) -> Result<Verdict, CollectError> {
        let mut source: HashMap<EventKey, String> = HashMap::new();
        let shape = &self.spec.page;
        let mut unreadable = None;
        let key = self.live_key().await?;
        self.list_of(&key, (from, to), None, deadline, |event| {
            match shape.identify(&event.json, None) {
                Ok((key, _, id)) => {
                    source.insert(key, id);
                }
                Err(e) => unreadable = Some(e.to_string()),
            }
        })
        .await?;
        if let Some(e) = unreadable {
            return Err(CollectError::Config(format!("an event of the source: {e}")));
        }
        let org_id = key.org_id;
        let policy = &self.settings.policy;
        let first = from.minus(policy.max_window);
        let last = to.plus(policy.overlap);
        let mut stored: HashMap<EventKey, (u64, String)> = HashMap::new();
        let mut lines = 0;
        let fields_key = self.settings.fields.line_key();
        for day in days(first, last) {
            let prefix = format!(
                "{}{}/org={org_id}/dt={day}/",
                self.settings.key_prefix, self.unit.stream
            );
            for key in self.sink.keys(&prefix).await? {
                let Some(body) = self.sink.get(&key).await? else {
                    continue;
                };
                for_each_line(&body, |line| {
                    let (event, created, id) = shape
                        .identify(line, fields_key)
                        .map_err(|e| e.to_string())?;
                    if created >= from && created < to {
                        lines += 1;
                        stored.entry(event).or_insert((0, id)).0 += 1;
                    }
                    Ok(())
                })
                .map_err(|e| {
                    CollectError::Config(format!("object {key} cannot be read back: {e}"))
                })?;
            }
        }
        let sorted = |ids: Vec<&String>| -> Vec<String> {
            ids.into_iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        Ok(Verdict {
            stream: self.unit.stream.clone(),
            org_id,
            listed: source.len() as u64,
            stored: lines,
            missing: sorted(
                source
                    .iter()
                    .filter(|(k, _)| !stored.contains_key(k))
                    .map(|(_, id)| id)
                    .collect(),
            ),
            twice: sorted(
                stored
                    .values()
                    .filter(|(n, _)| *n > 1)
                    .map(|(_, id)| id)
                    .collect(),
            ),
            extra: sorted(
                stored
                    .iter()
                    .filter(|(k, _)| !source.contains_key(k))
                    .map(|(_, (_, id))| id)
                    .collect(),
            ),
        })
    }
}

/// Each UTC date (`YYYY-MM-DD`) from `first`'s to `last`'s.
fn days(first: Timestamp, last: Timestamp) -> Vec<String> {
    let mut days = Vec::new();
    let mut at = first;
    while at <= last {
        days.push(at.date_and_hour().0);
        at = at.plus(Duration::from_secs(86_400));
    }
    let final_day = last.date_and_hour().0;
    if days.last() != Some(&final_day) {
        days.push(final_day);
    }
    days
}
