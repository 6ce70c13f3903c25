//! The collect use case (DESIGN §3): take the lease, then window by window fetch every page,
//! write one object, and only then move the cursor; stop cleanly before the deadline.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cursor::{Cursor, CursorKey, LastError, RunStats, Status};
use crate::error::{CollectError, ErrorKind};
use crate::event::{EventKey, RawEvent};
use crate::object::{ObjectWriter, object_key, object_meta, read_back};
use crate::ports::{
    Clock, EventSource, ObjectSink, Page, PageRequest, PageTarget, PutOutcome, SecretStore,
    SourceError, StateStore, TokenIssuer,
};
use crate::recent_ids::RecentIds;
use crate::stream::StreamSpec;
use crate::time::Timestamp;
use crate::tokens::TokenManager;
use crate::window::{Window, WindowPolicy};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub policy: WindowPolicy,
    pub page_size: u32,
    /// Prefix of every object key, e.g. `webex/`.
    pub key_prefix: String,
    pub part_size: usize,
    /// Time kept back before the deadline to abort an upload and write the cursor.
    pub stop_reserve: Duration,
    /// The filter parameters of each query a window needs (one empty set: no filters); see
    /// [`StreamSpec::filter_queries`].
    pub queries: Vec<Vec<(&'static str, String)>>,
    /// Windows fetched at once when the stream is behind (committed in order).
    pub concurrent_windows: usize,
    pub collector_version: &'static str,
}

/// Upstream failures are retried by the next scheduled run; only this many in a row turn the
/// stream's status to `error`.
const UPSTREAM_FAILURES_BEFORE_ERROR: u32 = 3;
/// The lease outlives the run's deadline by this much, for clock skew between the runs; a
/// crashed run's lease frees itself this long after its deadline (Lambda has killed it by then).
const LEASE_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    CaughtUp,
    Deadline,
    /// Another run holds the stream's lease or moved its cursor: it owns the work.
    OtherRunActive,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub stream: &'static str,
    pub org_id: String,
    pub windows: u64,
    pub events: u64,
    pub objects: u64,
    pub pages: u64,
    pub committed_until: Option<Timestamp>,
    pub stopped: StopReason,
}

/// What a finished window leaves for the commit.
#[derive(Debug)]
struct WindowDone {
    window: Window,
    events: u64,
    object: bool,
    /// The cursor's digest once this window is committed.
    recent_ids: Arc<RecentIds>,
}

/// A window as the run starts it.
#[derive(Debug)]
struct WindowTask {
    window: Window,
    /// Started by an earlier run that did not commit it.
    resumed: bool,
    /// How far before the window its query starts.
    reach_back: Duration,
    earlier: Earlier,
    hand_on: oneshot::Sender<Arc<RecentIds>>,
}

/// An object an earlier run wrote for a window.
#[derive(Debug)]
struct Existing {
    events: u64,
    /// Its events that the next window's overlap may return again.
    recent: Vec<(EventKey, Timestamp)>,
}

/// The digest of what the windows before a window wrote: from the cursor for the first window
/// in flight; handed on by the window before, once its object is final, for the others.
#[derive(Debug)]
struct Earlier {
    known: Option<Arc<RecentIds>>,
    handed: Option<oneshot::Receiver<Arc<RecentIds>>>,
}

impl Earlier {
    fn known(written: Arc<RecentIds>) -> Self {
        Self {
            known: Some(written),
            handed: None,
        }
    }

    fn handed(handed: oneshot::Receiver<Arc<RecentIds>>) -> Self {
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
        self.known.as_deref()
    }

    /// The digest, once the window before has finished; `GivenUp` when it failed.
    async fn wait(&mut self) -> Result<Arc<RecentIds>, CollectError> {
        if self.known.is_none()
            && let Some(handed) = self.handed.take()
        {
            self.known = Some(handed.await.map_err(|_| CollectError::GivenUp)?);
        }
        self.known.clone().ok_or(CollectError::GivenUp)
    }
}

#[derive(Debug)]
pub struct Collector<St, Sk, Src, Sec, Iss, Clk> {
    spec: StreamSpec,
    settings: Settings,
    state: Arc<St>,
    sink: Sk,
    source: Src,
    tokens: TokenManager<Sec, Iss, St, Clk>,
    clock: Arc<Clk>,
}

impl<St, Sk, Src, Sec, Iss, Clk> Collector<St, Sk, Src, Sec, Iss, Clk>
where
    St: StateStore,
    Sk: ObjectSink,
    Src: EventSource,
    Sec: SecretStore,
    Iss: TokenIssuer,
    Clk: Clock,
{
    pub fn new(
        spec: StreamSpec,
        settings: Settings,
        state: Arc<St>,
        sink: Sk,
        source: Src,
        tokens: TokenManager<Sec, Iss, St, Clk>,
        clock: Arc<Clk>,
    ) -> Self {
        Self {
            spec,
            settings,
            state,
            sink,
            source,
            tokens,
            clock,
        }
    }

    pub fn spec(&self) -> &StreamSpec {
        &self.spec
    }

    pub fn tokens(&self) -> &TokenManager<Sec, Iss, St, Clk> {
        &self.tokens
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// One invocation's work. Errors are also recorded in the cursor for `webexctl status`.
    pub async fn run(&self, deadline: Instant) -> Result<RunSummary, CollectError> {
        let secret = self.tokens.reload().await?;
        let org_id = secret
            .org_id
            .filter(|o| !o.trim().is_empty())
            .ok_or_else(|| {
                CollectError::Config(format!(
                    "the {} profile's secret has no org_id; set it with `webexctl auth init`",
                    self.spec.profile.name()
                ))
            })?;
        if let Some(scopes) = secret.scopes.as_deref().filter(|s| !s.trim().is_empty()) {
            let needed = self.spec.profile.scope();
            if !scopes.split([' ', ',']).any(|s| s == needed) {
                return Err(CollectError::Config(format!(
                    "the secret for {} holds a token with the scopes {scopes:?}, without {needed}; point \
                     TOKEN_SECRET_ID at the {} profile's secret, or authorise it again with that scope",
                    self.spec.id.name(),
                    self.spec.profile.name()
                )));
            }
        }
        let key = CursorKey {
            stream: self.spec.id,
            org_id,
        };
        let mut summary = RunSummary {
            stream: self.spec.id.name(),
            org_id: key.org_id.clone(),
            windows: 0,
            events: 0,
            objects: 0,
            pages: 0,
            committed_until: None,
            stopped: StopReason::OtherRunActive,
        };
        let owner = format!("run-{:016x}", fastrand::u64(..));
        let now = self.clock.now();
        let lease_until =
            now.plus(deadline.saturating_duration_since(Instant::now()) + LEASE_GRACE);
        if !self
            .state
            .acquire_lease(&key.lease_key(), &owner, lease_until, now)
            .await?
        {
            tracing::debug!(stream = key.stream.name(), "another run holds the lease");
            return Ok(summary);
        }
        let started = Instant::now();
        let outcome = self.collect(&key, &mut summary, started, deadline).await;
        let outcome = match outcome {
            Ok(stopped) => Ok(stopped),
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(StopReason::OtherRunActive),
            Err(e) => {
                if let Err(record) = self.record_failure(&key, &e).await {
                    tracing::warn!(error = %record, "could not record the failure in the cursor");
                }
                Err(e)
            }
        };
        if let Err(e) = self.state.release_lease(&key.lease_key(), &owner).await {
            // Harmless: the lease expires by itself.
            tracing::warn!(error = %e, "could not release the lease");
        }
        summary.stopped = outcome?;
        Ok(summary)
    }

    async fn collect(
        &self,
        key: &CursorKey,
        summary: &mut RunSummary,
        started: Instant,
        deadline: Instant,
    ) -> Result<StopReason, CollectError> {
        // A profile that cannot get a token fails here, before the cursor is touched.
        self.tokens.access_token(deadline).await?;
        let mut cursor = self.state.load_cursor(key).await?.unwrap_or_default();
        summary.committed_until = cursor.committed_until;
        // The first `resumed` pending windows were started by a run that did not commit them:
        // their objects may exist, or parts of uploads may be left.
        let mut resumed = cursor.pending.len();
        let stop = AtomicBool::new(false);
        let pages = AtomicU64::new(0);
        let mut in_flight = FuturesOrdered::new();
        let outcome = async {
            let mut earlier = Earlier::known(Arc::new(cursor.recent_ids.clone()));
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
                        None => {
                            let after = cursor.pending.last().map(|w| w.to);
                            match self
                                .settings
                                .policy
                                .next_window(after.or(cursor.committed_until), self.clock.now())
                            {
                                Some(window) => {
                                    // Recorded before anything is written for it.
                                    cursor.pending.push(window);
                                    self.save(key, &mut cursor).await?;
                                    window
                                }
                                None => break,
                            }
                        }
                    };
                    let (hand_on, handed) = oneshot::channel();
                    let task = WindowTask {
                        window,
                        resumed: next < resumed,
                        reach_back: self.settings.policy.reach_back(&window, previous_asked),
                        earlier: std::mem::replace(&mut earlier, Earlier::handed(handed)),
                        hand_on,
                    };
                    // A resumed window may be adopted: when it was asked for is not known.
                    previous_asked = (!task.resumed).then(|| self.clock.now());
                    let span = tracing::debug_span!("window", from = %window.from, to = %window.to);
                    in_flight.push_back(
                        self.collect_window(key, task, &stop, &pages, deadline)
                            .instrument(span),
                    );
                    next += 1;
                }
                let Some(result) = in_flight.next().await else {
                    return Ok(if stopping {
                        StopReason::Deadline
                    } else {
                        StopReason::CaughtUp
                    });
                };
                summary.pages = pages.load(Ordering::Relaxed);
                match result {
                    Ok(done) => {
                        summary.windows += 1;
                        summary.events += done.events;
                        summary.objects += u64::from(done.object);
                        self.commit(key, &mut cursor, done, summary, started)
                            .await?;
                        next -= 1;
                        resumed = resumed.saturating_sub(1);
                        summary.committed_until = cursor.committed_until;
                    }
                    Err(CollectError::OutOfTime) => {
                        // A window that did not fit in a whole run is halved, so that it is not
                        // retried forever; one that merely started late is left as it is. The
                        // windows after it have no object (objects are finished in order), so
                        // they are dropped and chosen again after the half.
                        if summary.windows == 0
                            && let Some(half) = cursor.pending.first().and_then(Window::first_half)
                        {
                            cursor.pending = vec![half];
                            self.save(key, &mut cursor).await?;
                        }
                        return Ok(StopReason::Deadline);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        .await;
        // Whatever ended the run, windows still in flight abort their uploads before it returns.
        stop.store(true, Ordering::Relaxed);
        while in_flight.next().await.is_some() {}
        summary.pages = pages.load(Ordering::Relaxed);
        outcome
    }

    /// Fetches one window into its object. Windows are fetched concurrently but finished in
    /// order: events of the overlap are held back until the window before has finished its
    /// object and handed on the digest of what it wrote, so that no event is written twice and
    /// an object, once finished, is never rewritten.
    async fn collect_window(
        &self,
        key: &CursorKey,
        task: WindowTask,
        stop: &AtomicBool,
        pages: &AtomicU64,
        deadline: Instant,
    ) -> Result<WindowDone, CollectError> {
        let WindowTask {
            window,
            resumed,
            reach_back,
            mut earlier,
            hand_on,
        } = task;
        let object_key = object_key(&self.settings.key_prefix, key.stream, &key.org_id, &window);
        let horizon = window.to.minus(self.settings.policy.overlap);
        if resumed {
            self.sink.clean_up(&object_key).await?;
            if let Some(recent) = self.read_existing(&object_key, horizon).await? {
                let events = recent.events;
                return self
                    .hand_on(window, events, false, recent.recent, earlier, hand_on)
                    .await;
            }
        }
        let mut writer = ObjectWriter::new(&self.sink, object_key.clone(), self.settings.part_size);
        let mut seen = HashSet::new();
        let mut recent = Vec::new();
        let fetched: Result<(), CollectError> = async {
            let mut held_back = Vec::new();
            for filters in &self.settings.queries {
                let mut next = Some(self.first_request(key, &window, reach_back, filters));
                // The links this query has followed: one that comes back (A→B→A, or a page
                // pointing at itself) would page in a circle until the deadline.
                let mut followed = HashSet::new();
                while let Some(request) = next.take() {
                    if stop.load(Ordering::Relaxed) {
                        return Err(CollectError::GivenUp);
                    }
                    if let PageTarget::Link(link) = &request.target
                        && !followed.insert(link.clone())
                    {
                        return Err(CollectError::Upstream(SourceError::Unacceptable(format!(
                            "Webex's Link rel=\"next\" leads back to a page of this query \
                             already fetched (after {} pages); paging would loop",
                            followed.len()
                        ))));
                    }
                    let page = self.fetch(&request, deadline).await?;
                    pages.fetch_add(1, Ordering::Relaxed);
                    for event in page.events {
                        // Repeated across pages or queries.
                        if !seen.insert(event.key) {
                            continue;
                        }
                        // Only the overlap can hold events an earlier window wrote.
                        if event.created < window.from {
                            match earlier.now() {
                                Some(written) if written.contains(event.key) => continue,
                                Some(_) => {}
                                None => {
                                    // A copy, so that the page's body is not kept alive.
                                    held_back.push(RawEvent {
                                        json: Bytes::copy_from_slice(&event.json),
                                        ..event
                                    });
                                    continue;
                                }
                            }
                        }
                        writer.write(&event.json).await?;
                        if event.created >= horizon {
                            recent.push((event.key, event.created));
                        }
                    }
                    next = page.next;
                }
            }
            let written = earlier.wait().await?;
            for event in held_back {
                if !written.contains(event.key) {
                    writer.write(&event.json).await?;
                    if event.created >= horizon {
                        recent.push((event.key, event.created));
                    }
                }
            }
            if stop.load(Ordering::Relaxed) {
                return Err(CollectError::GivenUp);
            }
            Ok(())
        }
        .await;
        if let Err(e) = fetched {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "could not abort the upload; the next run cleans it up");
            }
            return Err(e);
        }
        let events = writer.events();
        let meta = object_meta(
            key.stream,
            &key.org_id,
            &window,
            events,
            self.settings.collector_version,
        );
        match writer.finish(&meta).await? {
            None => {
                self.hand_on(window, events, false, recent, earlier, hand_on)
                    .await
            }
            Some(PutOutcome::Written) => {
                tracing::debug!(key = %object_key, events, "object written");
                self.hand_on(window, events, true, recent, earlier, hand_on)
                    .await
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
                self.hand_on(
                    window,
                    existing.events,
                    false,
                    existing.recent,
                    earlier,
                    hand_on,
                )
                .await
            }
        }
    }

    /// Hands the digest of what is written up to this window on to the next window.
    async fn hand_on(
        &self,
        window: Window,
        events: u64,
        object: bool,
        recent: Vec<(EventKey, Timestamp)>,
        mut earlier: Earlier,
        hand_on: oneshot::Sender<Arc<RecentIds>>,
    ) -> Result<WindowDone, CollectError> {
        let written = earlier.wait().await?;
        let recent_ids =
            Arc::new(written.advanced(window.to.minus(self.settings.policy.overlap), recent));
        // The next window may not exist, or may have been given up.
        let _ = hand_on.send(recent_ids.clone());
        Ok(WindowDone {
            window,
            events,
            object,
            recent_ids,
        })
    }

    /// What an object an earlier run wrote for this window holds, if there is one.
    async fn read_existing(
        &self,
        object_key: &str,
        horizon: Timestamp,
    ) -> Result<Option<Existing>, CollectError> {
        let Some(body) = self.sink.get(object_key).await? else {
            return Ok(None);
        };
        let lines = read_back(&body).map_err(|reason| {
            CollectError::Config(format!(
                "object {object_key} exists but cannot be read back ({reason}); move it aside"
            ))
        })?;
        tracing::debug!(
            key = object_key,
            events = lines.len(),
            "adopting an object written by an earlier run"
        );
        Ok(Some(Existing {
            events: lines.len() as u64,
            recent: lines
                .into_iter()
                .filter(|(_, created)| *created >= horizon)
                .collect(),
        }))
    }

    fn first_request(
        &self,
        key: &CursorKey,
        window: &Window,
        reach_back: Duration,
        filters: &[(&'static str, String)],
    ) -> PageRequest {
        let mut params = Vec::with_capacity(3 + filters.len());
        if self.spec.takes_org_id {
            params.push(("orgId", key.org_id.clone()));
        }
        params.push((
            self.spec.from_param,
            window.query_from(reach_back).to_rfc3339(),
        ));
        params.push((self.spec.to_param, window.to.to_rfc3339()));
        params.extend(filters.iter().cloned());
        PageRequest {
            target: PageTarget::Query { params, offset: 0 },
            max: self.settings.page_size.clamp(1, self.spec.max_page),
        }
    }

    /// One page, with a token refresh if Webex refuses the token before its recorded expiry.
    async fn fetch(&self, request: &PageRequest, deadline: Instant) -> Result<Page, CollectError> {
        let requests_until = deadline
            .checked_sub(self.settings.stop_reserve)
            .unwrap_or_else(Instant::now);
        let mut token = self.tokens.access_token(deadline).await?;
        let mut refreshed = false;
        loop {
            match self
                .source
                .fetch_page(&self.spec, &token, request, requests_until)
                .await
            {
                Ok(page) => return Ok(page),
                Err(SourceError::Unauthorized) if !refreshed => {
                    token = self.tokens.replace_rejected(&token, deadline).await?;
                    refreshed = true;
                }
                Err(e) => return Err(self.classify(e)),
            }
        }
    }

    fn classify(&self, e: SourceError) -> CollectError {
        match e {
            SourceError::OutOfTime => CollectError::OutOfTime,
            SourceError::Forbidden { message } => CollectError::Forbidden {
                message,
                fix: self.spec.forbidden_fix.to_string(),
            },
            SourceError::Unauthorized => CollectError::Config(format!(
                "Webex refused a freshly refreshed token of the {} profile; authorise it again with `webexctl auth url`",
                self.spec.profile.name()
            )),
            SourceError::Rejected { status, message } => CollectError::Config(format!(
                "Webex rejected the {} request (HTTP {status}): {message}; check the stream's settings",
                self.spec.id.name()
            )),
            upstream @ (SourceError::Exhausted { .. } | SourceError::Unacceptable(_)) => {
                CollectError::Upstream(upstream)
            }
        }
    }

    async fn commit(
        &self,
        key: &CursorKey,
        cursor: &mut Cursor,
        done: WindowDone,
        summary: &RunSummary,
        started: Instant,
    ) -> Result<(), CollectError> {
        debug_assert_eq!(cursor.pending.first(), Some(&done.window));
        cursor.pending.remove(0);
        cursor.recent_ids = Arc::unwrap_or_clone(done.recent_ids);
        cursor.committed_until = Some(done.window.to);
        cursor.status = Status::Collecting;
        cursor.consecutive_failures = 0;
        cursor.last_success_at = Some(self.clock.now());
        cursor.last_run = Some(RunStats {
            events: summary.events,
            pages: summary.pages,
            windows: summary.windows,
            duration_ms: started.elapsed().as_millis() as u64,
        });
        self.save(key, cursor).await
    }

    async fn save(&self, key: &CursorKey, cursor: &mut Cursor) -> Result<(), CollectError> {
        cursor.version += 1;
        self.state
            .save_cursor(key, cursor)
            .await
            .map_err(CollectError::from)
    }

    async fn record_failure(
        &self,
        key: &CursorKey,
        error: &CollectError,
    ) -> Result<(), CollectError> {
        let mut cursor = self.state.load_cursor(key).await?.unwrap_or_default();
        let kind = error.kind();
        cursor.consecutive_failures += 1;
        if kind != ErrorKind::Upstream
            || cursor.consecutive_failures >= UPSTREAM_FAILURES_BEFORE_ERROR
        {
            cursor.status = Status::Error;
        }
        cursor.last_error = Some(LastError {
            kind,
            message: error.to_string(),
            at: self.clock.now(),
        });
        self.save(key, &mut cursor).await
    }
}
