//! One window into its object. Windows are fetched concurrently but finished in order: a
//! window's overlap (the end of the window before, re-read for late events) can only be
//! compared with what the windows before wrote once they have finished, so when that is not
//! known as the window starts, its own range is fetched first and the overlap after. Nothing
//! is held back in memory: a window keeps only the ids it wrote, and splits past its cap.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Collector;
use super::classify::classify;
use crate::cursor::CursorKey;
use crate::error::CollectError;
use crate::event::EventKey;
use crate::object::{ObjectWriter, object_meta};
use crate::ports::{
    Clock, CursorStore, EventSource, LeaseStore, ObjectSink, Page, PageRequest, PageTarget,
    PutOutcome, SourceError,
};
use crate::recent_ids::RecentIds;
use crate::source::{PagingKind, Position, QueryBounds};
use crate::time::Timestamp;
use crate::window::Window;

/// A window as the run starts it.
#[derive(Debug)]
pub(super) struct WindowTask {
    pub window: Window,
    /// Started by an earlier run that did not commit it.
    pub resumed: bool,
    /// How far before the window its query starts.
    pub reach_back: Duration,
    pub earlier: Earlier,
    pub hand_on: oneshot::Sender<RecentIds>,
    /// Events the window may hold; `None` for a window too short to split.
    pub cap: Option<u64>,
}

/// What a finished window leaves for the commit.
#[derive(Debug)]
pub(super) struct WindowDone {
    pub window: Window,
    pub events: u64,
    pub object: bool,
    /// The cursor's digest once this window is committed.
    pub recent_ids: RecentIds,
}

/// The digest of what the windows before a window wrote: from the cursor for the first window
/// in flight; handed on by the window before, once its object is final, for the others.
#[derive(Debug)]
pub(super) struct Earlier {
    known: Option<RecentIds>,
    handed: Option<oneshot::Receiver<RecentIds>>,
}

impl Earlier {
    pub fn known(written: RecentIds) -> Self {
        Self {
            known: Some(written),
            handed: None,
        }
    }

    pub fn handed(handed: oneshot::Receiver<RecentIds>) -> Self {
        Self {
            known: None,
            handed: Some(handed),
        }
    }

    /// The digest if it is known already.
    fn now(&mut self) -> Option<&RecentIds> {
        if self.known.is_none()
            && let Some(handed) = self.handed.as_mut()
        {
            match handed.try_recv() {
                Ok(written) => self.known = Some(written),
                Err(oneshot::error::TryRecvError::Empty) => return None,
                // The window before failed: `wait` gives up.
                Err(oneshot::error::TryRecvError::Closed) => {}
            }
            // A receiver that has answered must not be polled again.
            self.handed = None;
        }
        self.known.as_ref()
    }

    /// The digest, once the window before has finished; `GivenUp` when it failed.
    async fn wait(&mut self) -> Result<RecentIds, CollectError> {
        if self.known.is_none()
            && let Some(handed) = self.handed.take()
        {
            self.known = Some(handed.await.map_err(|_| CollectError::GivenUp)?);
        }
        self.known.clone().ok_or(CollectError::GivenUp)
    }
}

/// What a window has written so far.
pub(super) struct Fill<'a, S: ObjectSink> {
    pub window: Window,
    pub writer: ObjectWriter<'a, S>,
    /// Every id written, for events an API repeats across pages.
    pub seen: HashSet<EventKey>,
    /// Written events the next window's overlap may return again.
    pub recent: Vec<(EventKey, Timestamp)>,
    pub horizon: Timestamp,
    pub cap: Option<u64>,
    /// An earlier run's object is this window's: what a scan reads for it is dropped.
    pub adopted: bool,
}

/// The run's shared switches and counters, as one window sees them.
pub(super) struct Run<'a> {
    pub stop: &'a AtomicBool,
    pub pages: &'a AtomicU64,
    pub deadline: Instant,
}

/// Where a walk through the pages of a range's queries is.
pub(super) struct Pages<'k> {
    key: &'k CursorKey,
    range: (Timestamp, Timestamp),
    /// The next query to start, once `next` is done.
    query: usize,
    next: Option<PageRequest>,
    /// The links and cursor tokens the current query has followed.
    followed: HashSet<String>,
}

impl<'k> Pages<'k> {
    pub(super) fn of(key: &'k CursorKey, range: (Timestamp, Timestamp)) -> Self {
        Self {
            key,
            range,
            query: 0,
            next: None,
            followed: HashSet::new(),
        }
    }
}

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    pub(super) async fn collect_window(
        &self,
        key: &CursorKey,
        task: WindowTask,
        run: Run<'_>,
    ) -> Result<WindowDone, CollectError> {
        let WindowTask {
            window,
            resumed,
            reach_back,
            mut earlier,
            hand_on,
            cap,
        } = task;
        let object_key = self.object_key(key, &window);
        let horizon = window.to.minus(self.settings.policy.overlap);
        if resumed {
            self.sink.clean_up(&object_key).await?;
            if let Some(existing) = self.read_existing(&object_key, horizon).await? {
                return self
                    .hand_on(
                        window,
                        existing.events,
                        false,
                        existing.recent,
                        earlier,
                        hand_on,
                    )
                    .await;
            }
        }
        let mut fill = Fill {
            window,
            writer: ObjectWriter::new(&self.sink, object_key.clone(), self.settings.part_size),
            seen: HashSet::new(),
            recent: Vec::new(),
            horizon,
            cap,
            adopted: false,
        };
        let query_from = window.query_from(reach_back);
        let overlap_later = query_from < window.from && earlier.now().is_none();
        let fetched = async {
            if overlap_later {
                self.fetch_range(key, one(&mut fill), (window.from, window.to), None, &run)
                    .await?;
                let written = earlier.wait().await?;
                self.fetch_range(
                    key,
                    one(&mut fill),
                    (query_from, window.from),
                    Some(&written),
                    &run,
                )
                .await?;
            } else {
                let written = earlier.now().cloned();
                self.fetch_range(
                    key,
                    one(&mut fill),
                    (query_from, window.to),
                    written.as_ref(),
                    &run,
                )
                .await?;
                // The object is finished only after the windows before have finished theirs.
                earlier.wait().await?;
            }
            if run.stop.load(Ordering::Relaxed) {
                return Err(CollectError::GivenUp);
            }
            Ok(())
        }
        .await;
        if let Err(e) = fetched {
            if let Err(abort) = fill.writer.abort().await {
                tracing::warn!(error = %abort, "could not abort the upload; the next run cleans it up");
            }
            return Err(e);
        }
        let (window, events, object, recent) = self.finish_fill(key, fill).await?;
        self.hand_on(window, events, object, recent, earlier, hand_on)
            .await
    }

    /// The object of a filled window, finished: `(window, events, written now, recent ids)`;
    /// when another run wrote the window first, what that object holds.
    pub(super) async fn finish_fill(
        &self,
        key: &CursorKey,
        fill: Fill<'_, Sk>,
    ) -> Result<(Window, u64, bool, Vec<(EventKey, Timestamp)>), CollectError> {
        let Fill {
            window,
            writer,
            recent,
            horizon,
            ..
        } = fill;
        let object_key = self.object_key(key, &window);
        let events = writer.events();
        let meta = object_meta(
            &key.stream,
            &key.org_id,
            &window,
            events,
            self.settings.collector_version,
            &self.settings.fields,
        );
        match writer.finish(&meta).await? {
            None => Ok((window, events, false, recent)),
            Some(PutOutcome::Written) => {
                tracing::debug!(key = %object_key, events, "object written");
                Ok((window, events, true, recent))
            }
            // Another run wrote this window first: what counts is what that object holds.
            Some(PutOutcome::AlreadyExists) => {
                let existing =
                    self.read_existing(&object_key, horizon)
                        .await?
                        .ok_or_else(|| {
                            CollectError::Config(format!(
                                "object {object_key} vanished while adopting it"
                            ))
                        })?;
                Ok((window, existing.events, false, existing.recent))
            }
        }
    }

    /// Every page of every query for events created in `[from, to)`, each into the fill whose
    /// window holds it (`fills` in time order, adjacent: one window, or a start-only scan's).
    /// Events outside the range are dropped: another range or window fetches them. Events
    /// before the first window are its overlap, written only if `written` (what the windows
    /// before wrote) lacks them.
    pub(super) async fn fetch_range(
        &self,
        key: &CursorKey,
        fills: &mut [Fill<'_, Sk>],
        (from, to): (Timestamp, Timestamp),
        written: Option<&RecentIds>,
        run: &Run<'_>,
    ) -> Result<(), CollectError> {
        let mut pages = Pages::of(key, (from, to));
        while let Some(page) = self.next_page(&mut pages, run).await? {
            for event in page.events {
                let at = fills.partition_point(|f| f.window.to <= event.created);
                let Some(fill) = fills.get_mut(at) else {
                    continue;
                };
                if fill.adopted {
                    continue;
                }
                if event.created < fill.window.from
                    && written.is_some_and(|w| w.contains(event.key, event.created))
                {
                    continue;
                }
                if !fill.seen.insert(event.key) {
                    continue;
                }
                fill.writer
                    .write(&self.settings.fields.line(&event.json))
                    .await?;
                if let Some(cap) = fill.cap
                    && fill.writer.events() > cap
                {
                    return Err(CollectError::WindowTooDense(cap));
                }
                if event.created >= fill.horizon {
                    fill.recent.push((event.key, event.created));
                }
            }
        }
        Ok(())
    }

    /// The next page of the stream's queries for events created in `pages`' range, with the
    /// events outside it dropped; `None` once every query is done. A link or cursor token that
    /// comes back (A→B→A, or a page pointing at itself) would page in a circle until the
    /// deadline: an upstream failure.
    pub(super) async fn next_page(
        &self,
        pages: &mut Pages<'_>,
        run: &Run<'_>,
    ) -> Result<Option<Page>, CollectError> {
        let (from, to) = pages.range;
        if from >= to {
            return Ok(None);
        }
        let request = match pages.next.take() {
            Some(request) => request,
            None => {
                let Some(filters) = self.settings.queries.get(pages.query) else {
                    return Ok(None);
                };
                pages.query += 1;
                pages.followed.clear();
                self.first_request(pages.key, from, to, filters)
            }
        };
        if run.stop.load(Ordering::Relaxed) {
            return Err(CollectError::GivenUp);
        }
        let again = match &request.target {
            PageTarget::Link(link) => !pages.followed.insert(link.clone()),
            PageTarget::Query {
                position: Position::Cursor(token),
                ..
            } => !pages.followed.insert(format!("cursor {token}")),
            PageTarget::Query { .. } => false,
        };
        if again {
            let what = match self.spec.paging.kind {
                PagingKind::NextUrl => "next page URL",
                PagingKind::Cursor => "cursor",
                _ => "Link rel=\"next\"",
            };
            return Err(CollectError::Upstream(SourceError::Unacceptable(format!(
                "{}'s {what} leads back to a page of this query already fetched (after {} \
                 pages); paging would loop",
                self.spec.display,
                pages.followed.len()
            ))));
        }
        let mut page = self.fetch(&request, run.deadline).await?;
        run.pages.fetch_add(1, Ordering::Relaxed);
        pages.next = page.next.take();
        page.events
            .retain(|event| event.created >= from && event.created < to);
        Ok(Some(page))
    }

    /// Hands the digest of what is written up to this window on to the next window.
    async fn hand_on(
        &self,
        window: Window,
        events: u64,
        object: bool,
        recent: Vec<(EventKey, Timestamp)>,
        mut earlier: Earlier,
        hand_on: oneshot::Sender<RecentIds>,
    ) -> Result<WindowDone, CollectError> {
        let written = earlier.wait().await?;
        drop(earlier);
        let recent_ids = written.advanced(window.to.minus(self.settings.policy.overlap), recent);
        drop(written);
        // The next window may not exist, or may have been given up.
        let _ = hand_on.send(recent_ids.clone());
        Ok(WindowDone {
            window,
            events,
            object,
            recent_ids,
        })
    }

    fn first_request(
        &self,
        key: &CursorKey,
        from: Timestamp,
        to: Timestamp,
        filters: &[(&'static str, String)],
    ) -> PageRequest {
        let bounds = QueryBounds {
            from,
            to,
            org: key.org_id.clone(),
            extra: filters
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
        };
        PageRequest {
            target: PageTarget::Query {
                bounds,
                position: Position::First,
            },
            max: self.settings.page_size.clamp(1, self.spec.paging.max_size),
        }
    }

    /// One page, with another credential if the API refuses this one before its time.
    async fn fetch(&self, request: &PageRequest, deadline: Instant) -> Result<Page, CollectError> {
        let requests_until = deadline
            .checked_sub(self.settings.stop_reserve)
            .unwrap_or_else(Instant::now);
        let mut credential = self.credentials.current(deadline).await?;
        let mut refreshed = false;
        loop {
            match self
                .source
                .fetch_page(&self.spec, &credential, request, requests_until)
                .await
            {
                Ok(page) => return Ok(page),
                Err(SourceError::Unauthorized) if !refreshed => {
                    credential = self
                        .credentials
                        .replace_rejected(&credential, deadline)
                        .await?;
                    refreshed = true;
                }
                Err(e) => {
                    return Err(classify(
                        &self.spec,
                        &self.unit.stream,
                        self.credentials.identity(),
                        e,
                    ));
                }
            }
        }
    }
}

/// A window's fill as the one `fetch_range` routes to.
fn one<'f, 'a, S: ObjectSink>(fill: &'f mut Fill<'a, S>) -> &'f mut [Fill<'a, S>] {
    std::slice::from_mut(fill)
}
