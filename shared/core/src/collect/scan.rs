//! A round of windows for an API that takes a start and no end (`request.start_only`): it
//! answers everything from the start up to now, so a window of its own would read all that
//! follows it. One scan per round reads from the first window's start instead; each item goes
//! to the window its time falls in, the windows' objects are finished in order and committed
//! one at a time, as every round does. What lies after the last window is left for the next
//! round (docs/design/http-source.md §3.5).
//!
//! All the round's windows are open at once: memory is windows × (gzip state + part buffer),
//! the bound of windows in flight. A scan that cannot finish before the deadline commits
//! nothing, and the first window is halved as any window that does not fit in a run.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::time::Instant;

use super::adopt::Existing;
use super::fetch::{Fill, Run, WindowDone};
use super::schedule::Round;
use super::{Collector, RunSummary, StopReason};
use crate::cursor::{Cursor, CursorKey};
use crate::error::CollectError;
use crate::object::ObjectWriter;
use crate::ports::{Clock, CursorStore, EventSource, LeaseStore, ObjectSink};
use crate::recent_ids::RecentIds;
use crate::window::Window;

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    /// One scan over up to `concurrent_windows` windows, then their commits in order.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn scan_round(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
        written: &mut RecentIds,
        resumed: usize,
        summary: &mut RunSummary,
        started: Instant,
        deadline: Instant,
    ) -> Result<Round, CollectError> {
        if deadline.saturating_duration_since(Instant::now()) < 2 * self.settings.stop_reserve {
            return Ok(Round::Stopped(StopReason::Deadline));
        }
        let windows = self.scan_windows(key, cursor).await?;
        let Some(first) = windows.first().copied() else {
            return Ok(Round::Stopped(StopReason::CaughtUp));
        };
        let mut fills = Vec::with_capacity(windows.len());
        let mut adopted = Vec::with_capacity(windows.len());
        for (i, window) in windows.iter().enumerate() {
            let (fill, existing) = self.scan_fill(key, *window, i < resumed).await?;
            fills.push(fill);
            adopted.push(existing);
        }
        let stop = AtomicBool::new(false);
        let pages = AtomicU64::new(summary.pages);
        let run = Run {
            stop: &stop,
            pages: &pages,
            deadline,
        };
        let last = windows.last().map_or(first.to, |w| w.to);
        let reach_back = self.reach_back(key, &first, None);
        let scanned = self
            .fetch_range(
                key,
                &mut fills,
                (first.query_from(reach_back), last),
                Some(written),
                &run,
            )
            .await;
        summary.pages = pages.load(Ordering::Relaxed);
        if let Err(e) = scanned {
            let dense = fills
                .iter()
                .position(|f| f.cap.is_some_and(|cap| f.writer.events() > cap));
            for fill in fills {
                if let Err(abort) = fill.writer.abort().await {
                    tracing::warn!(error = %abort, "could not abort the upload; the next run cleans it up");
                }
            }
            return match (e, dense) {
                (CollectError::WindowTooDense(cap), Some(dense)) => {
                    self.split_scan(key, cursor, &windows, dense, cap).await?;
                    Ok(Round::Split)
                }
                (CollectError::OutOfTime, _) => {
                    if summary.windows == 0
                        && let Some(half) = first.first_half()
                    {
                        self.shorten(key, cursor, half).await?;
                    }
                    Ok(Round::Stopped(StopReason::Deadline))
                }
                (other, _) => Err(other),
            };
        }
        for (fill, existing) in fills.into_iter().zip(adopted) {
            let (window, events, object, recent) = match existing {
                Some(existing) => (fill.window, existing.events, false, existing.recent),
                None => self.finish_fill(key, fill).await?,
            };
            let recent_ids =
                written.advanced(window.to.minus(self.settings.policy.overlap), recent);
            summary.windows += 1;
            summary.events += events;
            summary.objects += u64::from(object);
            *written = recent_ids.clone();
            self.commit(
                key,
                cursor,
                WindowDone {
                    window,
                    events,
                    object,
                    recent_ids,
                },
                summary,
                started,
            )
            .await?;
            summary.committed_until = cursor.committed_until;
        }
        Ok(Round::Next)
    }

    /// The round's windows: those pending, then new ones (recorded before anything is
    /// written for them), up to `concurrent_windows`.
    async fn scan_windows(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
    ) -> Result<Vec<Window>, CollectError> {
        let most = self.settings.concurrent_windows.max(1);
        while cursor.pending.len() < most {
            if self.start_window(key, cursor).await?.is_none() {
                break;
            }
        }
        Ok(cursor.pending.iter().take(most).copied().collect())
    }

    /// A window's fill; and what its object holds when an earlier run wrote it (the fill then
    /// takes nothing: the object counts).
    async fn scan_fill(
        &self,
        key: &CursorKey,
        window: Window,
        resumed: bool,
    ) -> Result<(Fill<'_, Sk>, Option<Existing>), CollectError> {
        let object_key = self.object_key(key, &window);
        let horizon = window.to.minus(self.settings.policy.overlap);
        let mut existing = None;
        if resumed {
            self.sink.clean_up(&object_key).await?;
            existing = self.read_existing(&object_key, horizon).await?;
        }
        let fill = Fill {
            window,
            writer: ObjectWriter::new(&self.sink, object_key, self.settings.part_size),
            seen: HashSet::new(),
            recent: Vec::new(),
            horizon,
            cap: window.first_half().map(|_| self.settings.max_window_events),
            adopted: existing.is_some(),
        };
        Ok((fill, existing))
    }

    /// A window of the scan held more events than a window may: the windows before it are
    /// kept (they are read again whole by the next scan), it is halved, and those after it are
    /// dropped (none has an object: objects are finished only after the scan).
    async fn split_scan(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
        windows: &[Window],
        dense: usize,
        cap: u64,
    ) -> Result<(), CollectError> {
        let half = windows[dense]
            .first_half()
            .ok_or(CollectError::WindowTooDense(cap))?;
        tracing::debug!(from = %windows[dense].from, to = %windows[dense].to, cap, "window too dense: split");
        cursor.pending.truncate(dense);
        cursor.pending.push(half);
        cursor.window_limit = Some(half.length());
        self.save(key, cursor).await
    }
}
