//! A run's windows: which to fetch next, how many at once, committing them in order, and
//! splitting a window that holds too many events or does not fit in a run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use super::fetch::{Earlier, Run, WindowDone, WindowTask};
use super::{Collector, INLINE_DIGEST_MAX, RunSummary, StopReason};
use crate::cursor::{Cursor, CursorKey, DigestAt, RunStats, Status};
use crate::error::CollectError;
use crate::ports::{Clock, CursorStore, EventSource, LeaseStore, ObjectSink};
use crate::recent_ids::RecentIds;
use crate::window::Window;

/// How a round of windows ended: the run stops, a window was split and the run goes on with
/// its first half, or (a start-only scan) its windows are committed and the run goes on.
pub(super) enum Round {
    Stopped(StopReason),
    Split,
    Next,
}

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    pub(super) async fn collect(
        &self,
        key: &CursorKey,
        summary: &mut RunSummary,
        deadline: Instant,
    ) -> Result<StopReason, CollectError> {
        // An identity that cannot get a token fails here, before the cursor is touched.
        self.credentials.current(deadline).await?;
        let mut cursor = self.state.load_cursor(key).await?.unwrap_or_default();
        summary.committed_until = cursor.committed_until;
        let mut written = self.load_digest(key, &cursor).await?;
        if matches!(cursor.digest, DigestAt::Inline(_))
            && written.encoded().len() > INLINE_DIGEST_MAX
        {
            // Earlier releases kept the digest in the item however large it grew: moved out
            // before anything else is saved, so the item fits again.
            cursor.digest = self
                .place_digest(key, cursor.committed_until, &written)
                .await?;
            self.save(key, &mut cursor).await?;
        }
        let started = Instant::now();
        // The first `resumed` pending windows were started by a run that did not commit them:
        // their objects may exist, or parts of uploads may be left.
        let mut resumed = cursor.pending.len();
        loop {
            let round = self
                .round(
                    key,
                    &mut cursor,
                    &mut written,
                    resumed,
                    summary,
                    started,
                    deadline,
                )
                .await?;
            match round {
                Round::Stopped(reason) => return Ok(reason),
                // The half was never started: it has no object; a scan's windows are all
                // committed.
                Round::Split | Round::Next => resumed = 0,
            }
        }
    }

    /// Fetches windows, up to `concurrent_windows` at once, and commits them in order until
    /// the stream is caught up, the deadline nears, or a window must be split.
    #[allow(clippy::too_many_arguments)]
    async fn round(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
        written: &mut RecentIds,
        mut resumed: usize,
        summary: &mut RunSummary,
        started: Instant,
        deadline: Instant,
    ) -> Result<Round, CollectError> {
        if self.spec.request.start_only {
            return self
                .scan_round(key, cursor, written, resumed, summary, started, deadline)
                .await;
        }
        let stop = AtomicBool::new(false);
        let pages = AtomicU64::new(summary.pages);
        let mut in_flight = FuturesOrdered::new();
        let outcome = async {
            let mut earlier = Earlier::known(written.clone());
            // `cursor.pending[next]` is the next window to start.
            let mut next = 0;
            // When the last window started was first asked for, if by this run.
            let mut previous_asked = None;
            loop {
                let stopping = deadline.saturating_duration_since(Instant::now())
                    < 2 * self.settings.stop_reserve;
                while !stopping && in_flight.len() < self.settings.concurrent_windows.max(1) {
                    let window = match cursor.pending.get(next) {
                        Some(window) => *window,
                        None => match self.start_window(key, cursor).await? {
                            Some(window) => window,
                            None => break,
                        },
                    };
                    let (hand_on, handed) = oneshot::channel();
                    let task = WindowTask {
                        window,
                        resumed: next < resumed,
                        reach_back: self.reach_back(key, &window, previous_asked),
                        earlier: std::mem::replace(&mut earlier, Earlier::handed(handed)),
                        hand_on,
                        cap: window
                            .first_half()
                            .map(|_| self.settings.max_window_events),
                    };
                    // A resumed window may be adopted: when it was asked for is not known.
                    previous_asked = (!task.resumed).then(|| self.clock.now());
                    let span = tracing::debug_span!("window", from = %window.from, to = %window.to);
                    let run = Run {
                        stop: &stop,
                        pages: &pages,
                        deadline,
                    };
                    in_flight.push_back(self.collect_window(key, task, run).instrument(span));
                    next += 1;
                }
                let Some(result) = in_flight.next().await else {
                    return Ok(Round::Stopped(if stopping {
                        StopReason::Deadline
                    } else {
                        StopReason::CaughtUp
                    }));
                };
                summary.pages = pages.load(Ordering::Relaxed);
                match result {
                    Ok(done) => {
                        summary.windows += 1;
                        summary.events += done.events;
                        summary.objects += u64::from(done.object);
                        *written = done.recent_ids.clone();
                        self.commit(key, cursor, done, summary, started).await?;
                        next -= 1;
                        resumed = resumed.saturating_sub(1);
                        summary.committed_until = cursor.committed_until;
                    }
                    Err(CollectError::WindowTooDense(cap)) => {
                        let window = cursor.pending[0];
                        let half = window.first_half().ok_or(CollectError::WindowTooDense(cap))?;
                        tracing::debug!(from = %window.from, to = %window.to, cap, "window too dense: split");
                        self.shorten(key, cursor, half).await?;
                        return Ok(Round::Split);
                    }
                    Err(CollectError::OutOfTime) => {
                        // A window that did not fit in a whole run is halved, so that it is not
                        // retried forever; one that merely started late is left as it is.
                        if summary.windows == 0
                            && let Some(half) = cursor.pending.first().and_then(Window::first_half)
                        {
                            self.shorten(key, cursor, half).await?;
                        }
                        return Ok(Round::Stopped(StopReason::Deadline));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        .await;
        // Whatever ended the round, windows still in flight abort their uploads before it
        // returns.
        stop.store(true, Ordering::Relaxed);
        while in_flight.next().await.is_some() {}
        summary.pages = pages.load(Ordering::Relaxed);
        outcome
    }

    /// The window after the last one started, recorded in the cursor before anything is
    /// written for it; `None` when nothing settled is left, or a backfill's range is done.
    pub(super) async fn start_window(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
    ) -> Result<Option<Window>, CollectError> {
        let after = cursor.pending.last().map(|w| w.to);
        let Some(mut window) = self.settings.policy.next_window(
            after.or(cursor.committed_until),
            cursor.window_limit,
            self.clock.now(),
        ) else {
            return Ok(None);
        };
        if let Some(until) = key.until() {
            if window.from >= until {
                return Ok(None);
            }
            window.to = window.to.min(until);
        }
        cursor.pending.push(window);
        self.save(key, cursor).await?;
        Ok(Some(window))
    }

    /// How far before `window` its query starts: the policy's overlap, never before what the
    /// cursor may write (a backfill's range).
    pub(super) fn reach_back(
        &self,
        key: &CursorKey,
        window: &Window,
        previous_asked: Option<crate::time::Timestamp>,
    ) -> std::time::Duration {
        let reach_back = self.settings.policy.reach_back(window, previous_asked);
        key.since()
            .map_or(reach_back, |since| reach_back.min(since.until(window.from)))
    }

    /// Replaces the first pending window by its first `half`, and keeps windows that short
    /// until quieter ones let them grow back. The windows after it have no object (objects are
    /// finished in order), so they are dropped and chosen again after the half.
    pub(super) async fn shorten(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
        half: Window,
    ) -> Result<(), CollectError> {
        cursor.pending = vec![half];
        cursor.window_limit = Some(half.length());
        self.save(key, cursor).await
    }

    pub(super) async fn commit(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
        done: WindowDone,
        summary: &RunSummary,
        started: Instant,
    ) -> Result<(), CollectError> {
        debug_assert_eq!(cursor.pending.first(), Some(&done.window));
        let replaced = cursor.digest.object_key().map(str::to_owned);
        cursor.digest = self
            .place_digest(key, Some(done.window.to), &done.recent_ids)
            .await?;
        cursor.pending.remove(0);
        cursor.committed_until = Some(done.window.to);
        // A window well under the cap lets the next one be twice as long, up to the maximum.
        if let Some(limit) = cursor.window_limit
            && done.events < self.settings.max_window_events / 4
        {
            cursor.window_limit = Some(limit * 2).filter(|l| *l < self.settings.policy.max_window);
        }
        cursor.status = Status::Collecting;
        cursor.consecutive_failures = 0;
        cursor.last_success_at = Some(self.clock.now());
        cursor.last_run = Some(RunStats {
            events: summary.events,
            pages: summary.pages,
            windows: summary.windows,
            duration_ms: started.elapsed().as_millis() as u64,
        });
        self.save(key, cursor).await?;
        self.forget_digest(replaced, cursor).await;
        if let Some(progress) = &self.progress {
            // Nobody listening any more is no reason to stop collecting.
            let _ = progress.send(RunSummary {
                committed_until: cursor.committed_until,
                ..summary.clone()
            });
        }
        Ok(())
    }
}
