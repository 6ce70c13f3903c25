//! A past range the live cursor never covered (before its first window), or one collected again
//! under another prefix (`webexctl backfill`). It is a cursor of its own, `backfill#…` with its
//! own lease, run by the same windows, exactly-once protocol and object contract as the live
//! unit; its windows stop at the range's end and never read before its start. It refuses a range
//! whose events may be in objects of the same prefix already: the live unit's, or another
//! backfill's.

use tokio::time::Instant;

use super::{Collector, RunSummary};
use crate::cursor::{Cursor, CursorKey, Lane};
use crate::error::CollectError;
use crate::object::window_of_key;
use crate::ports::{
    Clock, CursorStore, EventSource, LeaseStore, ObjectListing, ObjectSink, StoreError,
};
use crate::time::Timestamp;
use crate::window::Window;

/// What an operator asks to collect: the events created in `[from, to)` (whole seconds, as
/// window bounds are), under `prefix` or, `None`, the deployment's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackfillPlan {
    pub from: Timestamp,
    pub to: Timestamp,
    pub prefix: Option<String>,
}

/// Why `prefix` cannot hold a backfill's objects; `None` when it can. A prefix is a folder
/// (`backfill/`, `redo/2026-10/`): it ends in `/` and holds no character an S3 key, an item key
/// or Athena's `LOCATION` would read another way.
pub fn backfill_prefix_problem(prefix: &str) -> Option<String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    if prefix.is_empty() || !prefix.ends_with('/') || prefix.starts_with('/') {
        return Some(format!(
            "--prefix {prefix:?} must be a folder such as backfill/ (ending in /, not starting with /)"
        ));
    }
    if prefix.len() > 200 || !prefix.chars().all(valid) || prefix.contains("//") {
        return Some(format!(
            "--prefix {prefix:?} may hold only letters, digits, - _ . and single / (at most 200)"
        ));
    }
    None
}

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink + ObjectListing,
    Src: EventSource,
    Clk: Clock,
{
    /// One run of the backfill `plan`: started (once its range is checked) or resumed where a
    /// run before it stopped, until the range is done or the deadline nears.
    pub async fn backfill(
        &self,
        plan: &BackfillPlan,
        deadline: Instant,
    ) -> Result<RunSummary, CollectError> {
        if plan.from >= plan.to
            || plan.from != plan.from.floor_second()
            || plan.to != plan.to.floor_second()
        {
            return Err(CollectError::Config(
                "a backfill's range runs from a whole second to a later one".into(),
            ));
        }
        let settled = self
            .clock
            .now()
            .minus(self.settings.policy.settle_lag)
            .floor_second();
        if plan.to > settled {
            return Err(CollectError::Config(format!(
                "a backfill collects settled time only: end it by {settled} (now less the \
                 settle lag), not {}",
                plan.to
            )));
        }
        let live = self.live_key().await?;
        // The deployment's own prefix, named, is the deployment's own prefix.
        let prefix = plan
            .prefix
            .clone()
            .filter(|p| *p != self.settings.key_prefix);
        let key = CursorKey {
            lane: Lane::Backfill {
                from: plan.from,
                to: plan.to,
                prefix,
            },
            ..live.clone()
        };
        // The plan's cursor is its claim on the range, made before the range is checked: of
        // two overlapping plans started at once, the later check sees the other's claim. A
        // plan is checked until a run has recorded a window of it (version 1); one that has
        // was checked by that run.
        let version = match self.state.load_cursor(&key).await? {
            Some(cursor) => cursor.version,
            None => {
                let start = Cursor {
                    committed_until: Some(plan.from),
                    version: 1,
                    ..Cursor::default()
                };
                match self.state.save_cursor(&key, &start).await {
                    // Another process created the same plan a moment ago: checked the same.
                    Ok(()) | Err(StoreError::Conflict) => 1,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if version == 1
            && let Some(refusal) = self.overlap(&live, &key).await?
        {
            // The claim is taken back; one that moved on is collected by a run that checked it.
            match self.state.delete_cursor(&key, 1).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
            return Err(CollectError::Refused(refusal));
        }
        self.run_lane(key, deadline).await
    }

    /// Why the backfill `key` must not start: its range may hold events already in objects of
    /// its prefix, another backfill's or (the deployment's own prefix) the live unit's.
    async fn overlap(
        &self,
        live: &CursorKey,
        key: &CursorKey,
    ) -> Result<Option<String>, CollectError> {
        let Lane::Backfill { from, to, prefix } = &key.lane else {
            return Ok(None);
        };
        let backfills = self.state.backfills(&live.stream, &live.org_id).await?;
        let ranges: Vec<(Timestamp, Timestamp, &Cursor)> = backfills
            .iter()
            .filter(|(other, _)| other != key)
            .filter_map(|(other, cursor)| match &other.lane {
                Lane::Backfill {
                    from,
                    to,
                    prefix: p,
                } if p == prefix => Some((*from, *to, cursor)),
                _ => None,
            })
            .collect();
        if let Some((a, b, cursor)) = ranges.iter().find(|(a, b, _)| from < b && a < to) {
            let state = match cursor.committed_until {
                Some(at) if at >= *b => "done".to_string(),
                Some(at) => format!("collected up to {at}"),
                None => "started".to_string(),
            };
            return Ok(Some(format!(
                "{from} to {to} overlaps the backfill of {a} to {b} ({state}) under the same \
                 prefix: resume that one with --from {a} --to {b}, or backfill only what it does \
                 not cover"
            )));
        }
        if prefix.is_some() {
            return Ok(None);
        }
        let windows: Vec<Window> = ranges
            .iter()
            .map(|(from, to, _)| Window {
                from: *from,
                to: *to,
            })
            .collect();
        let since = self.live_since(live, &windows).await?;
        if *to > since {
            return Ok(Some(format!(
                "{from} to {to} overlaps what the live {} unit of {} collects, from {since} on \
                 (its first window, less the overlap it re-reads): end the backfill there with \
                 --to {since}, or write the range beside the live objects with --prefix \
                 backfill/",
                live.stream, live.org_id
            )));
        }
        Ok(None)
    }

    /// The earliest event time the live unit may have written, or will write: its earliest
    /// object (not a backfill's) or its cursor, less the overlap its first window reached back;
    /// a unit that has not started yet starts the initial lookback before now.
    async fn live_since(
        &self,
        live: &CursorKey,
        backfilled: &[Window],
    ) -> Result<Timestamp, CollectError> {
        let folder = format!(
            "{}{}/org={}/",
            self.settings.key_prefix, live.stream, live.org_id
        );
        let keys = self.sink.keys(&folder).await?;
        let earliest_object = keys
            .iter()
            .filter_map(|key| window_of_key(key))
            .filter(|w| !backfilled.iter().any(|b| b.from <= w.from && w.to <= b.to))
            .map(|w| w.from)
            .min();
        let cursor = self.state.load_cursor(live).await?;
        let cursor_at =
            cursor.and_then(|c| c.pending.first().map(|w| w.from).or(c.committed_until));
        let policy = &self.settings.policy;
        let start = match (earliest_object, cursor_at) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => self
                .clock
                .now()
                .minus(policy.initial_lookback)
                .floor_second(),
        };
        Ok(start.minus(policy.overlap).floor_second())
    }
}
