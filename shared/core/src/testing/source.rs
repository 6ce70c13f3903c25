//! A Webex event API in memory: a scripted list of events, served for a stream's queries
//! the way Webex pages them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::clock::ManualClock;
use super::faults::Faults;
use super::lock;
use crate::event::{EventKey, RawEvent};
use crate::ports::{Clock, EventSource, Page, PageRequest, PageTarget, SourceError};
use crate::secret::Credential;
use crate::source::{Position, QueryBounds, SourceSpec};
use crate::time::Timestamp;

/// One event of the script: what Webex holds, and from when it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptedEvent {
    pub id: String,
    pub created: Timestamp,
    /// Webex lists the event from this time on (later than `created` for a late event).
    pub visible_from: Timestamp,
    /// The event as Webex sends it (built from `id` and `created`).
    pub json: Bytes,
}

impl ScriptedEvent {
    /// An event that shows as soon as it is created.
    pub fn new(id: impl Into<String>, created: Timestamp) -> Self {
        let id = id.into();
        let json = Self::json_for(&id, created);
        Self {
            id,
            created,
            visible_from: created,
            json,
        }
    }

    /// An event of about `size` bytes that gzip hardly shrinks (an attachment's worth of
    /// `data`): a few of them make a window's object a multipart upload.
    pub fn bulky(id: impl Into<String>, created: Timestamp, size: usize) -> Self {
        let id = id.into();
        let mut rng = fastrand::Rng::with_seed(EventKey::of(&id).0);
        let blob: String = (0..size).map(|_| rng.alphanumeric()).collect();
        let json = Bytes::from(format!(
            r#"{{"id":"{id}","created":"{}","resource":"files","type":"created","data":{{"blob":"{blob}"}}}}"#,
            created.to_rfc3339()
        ));
        Self {
            id,
            created,
            visible_from: created,
            json,
        }
    }

    /// The same event, showing `by` after it was created.
    pub fn late(mut self, by: Duration) -> Self {
        self.visible_from = self.created.plus(by);
        self
    }

    pub fn key(&self) -> EventKey {
        EventKey::of(&self.id)
    }

    /// `{"id":..,"created":..,"resource":..,"type":..,"data":{..}}`, a compact event whose
    /// `data` differs with the id.
    pub fn json_for(id: &str, created: Timestamp) -> Bytes {
        Bytes::from(format!(
            r#"{{"id":"{id}","created":"{}","resource":"messages","type":"created","data":{{"n":{}}}}}"#,
            created.to_rfc3339(),
            EventKey::of(id).0 % 1_000_003
        ))
    }

    fn raw(&self) -> RawEvent {
        RawEvent {
            json: self.json.clone(),
            key: self.key(),
            created: self.created,
        }
    }
}

/// The order of the events of one query (Webex documents none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Newest first (of events created at the same time, the greater id first).
    NewestFirst,
    /// Shuffled, the same way for the same query and seed.
    Shuffled(u64),
}

/// How a page points at the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// `Link rel="next"` while events remain.
    Link,
    /// `offset` until a page comes back empty (admin audit without `Link`).
    Offset,
    /// A link after a query page, an offset after a link page.
    Mixed,
}

#[derive(Debug)]
struct Behaviour {
    order: Order,
    paging: PagingMode,
    page_delay: Duration,
    yield_per_page: bool,
    forbidden: Option<String>,
    /// org → the 403 message its requests get
    forbidden_orgs: HashMap<String, String>,
    /// Access tokens answered with 401.
    refused_tokens: Vec<String>,
}

/// A query's parameters, as [`PageTarget::Query`] carries them.

#[derive(Debug)]
struct Inner {
    events: Mutex<Vec<ScriptedEvent>>,
    behaviour: Mutex<Behaviour>,
    clock: Arc<ManualClock>,
    faults: Arc<Faults>,
    /// link → (query, offset)
    links: Mutex<HashMap<String, (QueryBounds, u32)>>,
    next_link: AtomicU64,
    pages: AtomicU64,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
}

/// [`EventSource`] over a script; clones share it. Filters by the stream's `from`/`to`
/// parameters (from inclusive, to exclusive), pages by `max`, shows an event once the shared
/// clock reaches its `visible_from`. Call name for [`Faults`]: `fetch_page`.
#[derive(Clone, Debug)]
pub struct MemorySource {
    inner: Arc<Inner>,
}

impl MemorySource {
    /// Newest first, `Link` paging, yielding to the runtime once a page (so that windows in
    /// flight interleave).
    pub fn new(clock: Arc<ManualClock>, faults: Arc<Faults>) -> Self {
        Self {
            inner: Arc::new(Inner {
                events: Mutex::default(),
                behaviour: Mutex::new(Behaviour {
                    order: Order::NewestFirst,
                    paging: PagingMode::Link,
                    page_delay: Duration::ZERO,
                    yield_per_page: true,
                    forbidden: None,
                    forbidden_orgs: HashMap::new(),
                    refused_tokens: Vec::new(),
                }),
                clock,
                faults,
                links: Mutex::default(),
                next_link: AtomicU64::new(0),
                pages: AtomicU64::new(0),
                in_flight: AtomicU64::new(0),
                most_in_flight: AtomicU64::new(0),
            }),
        }
    }

    pub fn add(&self, events: impl IntoIterator<Item = ScriptedEvent>) {
        let mut all = lock(&self.inner.events);
        all.extend(events);
        // Kept in time order, so that a query finds its range without a scan.
        all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    }

    /// Every scripted event, visible or not, oldest first.
    pub fn events(&self) -> Vec<ScriptedEvent> {
        lock(&self.inner.events).clone()
    }

    pub fn set_order(&self, order: Order) {
        lock(&self.inner.behaviour).order = order;
    }

    pub fn set_paging(&self, paging: PagingMode) {
        lock(&self.inner.behaviour).paging = paging;
    }

    /// Every page takes this long (tokio time: pausable).
    pub fn set_page_delay(&self, delay: Duration) {
        lock(&self.inner.behaviour).page_delay = delay;
    }

    pub fn set_yield_per_page(&self, on: bool) {
        lock(&self.inner.behaviour).yield_per_page = on;
    }

    /// Every page answers 403 with `message` (`None`: served again).
    pub fn set_forbidden(&self, message: Option<&str>) {
        lock(&self.inner.behaviour).forbidden = message.map(str::to_string);
    }

    /// The most page requests that were in progress at once.
    pub fn most_in_flight(&self) -> u64 {
        self.inner.most_in_flight.load(Ordering::SeqCst)
    }

    /// Every request naming `org_id` (its `orgId` parameter) answers 403 with `message`
    /// (`None`: served again).
    pub fn set_forbidden_org(&self, org_id: &str, message: Option<&str>) {
        let mut behaviour = lock(&self.inner.behaviour);
        match message {
            Some(message) => behaviour
                .forbidden_orgs
                .insert(org_id.to_string(), message.to_string()),
            None => behaviour.forbidden_orgs.remove(org_id),
        };
    }

    /// Every request with this access token answers 401 (Webex revoked it before its expiry).
    pub fn refuse_token(&self, token: &str) {
        lock(&self.inner.behaviour)
            .refused_tokens
            .push(token.to_string());
    }

    /// Pages served (answered with events or empty).
    pub fn pages_served(&self) -> u64 {
        self.inner.pages.load(Ordering::SeqCst)
    }

    fn link_to(&self, source: &SourceSpec, bounds: QueryBounds, offset: u32) -> String {
        let n = self.inner.next_link.fetch_add(1, Ordering::SeqCst);
        let link = format!(
            "https://memory.invalid/v1/{}?cursor={n:x}",
            source.request.url
        );
        lock(&self.inner.links).insert(link.clone(), (bounds, offset));
        link
    }

    fn answer(
        &self,
        source: &SourceSpec,
        request: &PageRequest,
        paging: PagingMode,
        order: Order,
    ) -> Result<Page, SourceError> {
        let (bounds, offset, by_link) = match &request.target {
            PageTarget::Query {
                bounds,
                position: Position::First,
            } => (bounds.clone(), 0, false),
            PageTarget::Query {
                bounds,
                position: Position::Offset(offset),
            } => (bounds.clone(), *offset, false),
            PageTarget::Query {
                position: Position::Cursor(_),
                ..
            } => {
                return Err(SourceError::Rejected {
                    status: 400,
                    message: "the memory source pages by link or offset".to_string(),
                });
            }
            PageTarget::Link(link) => {
                let (bounds, offset) =
                    lock(&self.inner.links).get(link).cloned().ok_or_else(|| {
                        SourceError::Rejected {
                            status: 400,
                            message: format!("unknown link {link}"),
                        }
                    })?;
                (bounds, offset, true)
            }
        };
        let refusal = lock(&self.inner.behaviour)
            .forbidden_orgs
            .get(&bounds.org)
            .cloned();
        if let Some(message) = refusal {
            return Err(SourceError::Forbidden { message });
        }
        let now = self.inner.clock.now();
        // An API without an end bound answers up to now, whatever the query's window.
        let to = if source.request.start_only {
            Timestamp::from_millis(i64::MAX)
        } else {
            bounds.to
        };
        let from = bounds.from;
        let all = lock(&self.inner.events);
        let first = all.partition_point(|e| e.created < from);
        let last = all.partition_point(|e| e.created < to).max(first);
        // Oldest first, as kept; then in the query's order.
        let mut matching: Vec<&ScriptedEvent> = all[first..last]
            .iter()
            .filter(|e| e.visible_from <= now)
            .collect();
        match order {
            Order::NewestFirst => matching.reverse(),
            Order::Shuffled(seed) => {
                let query_seed = seed ^ (from.millis() as u64).rotate_left(21) ^ to.millis() as u64;
                fastrand::Rng::with_seed(query_seed).shuffle(&mut matching);
            }
        }
        let max = request.max.clamp(1, source.paging.max_size) as usize;
        let start = (offset as usize).min(matching.len());
        let end = (start + max).min(matching.len());
        let events: Vec<RawEvent> = matching[start..end].iter().map(|e| e.raw()).collect();
        let total = matching.len();
        drop(matching);
        drop(all);
        let after = u32::try_from(end).unwrap_or(u32::MAX);
        let more = end < total;
        let next_target = match paging {
            PagingMode::Link => more.then(|| PageTarget::Link(self.link_to(source, bounds, after))),
            PagingMode::Offset => (!events.is_empty()).then_some(PageTarget::Query {
                bounds,
                position: Position::Offset(after),
            }),
            PagingMode::Mixed if by_link => (!events.is_empty()).then_some(PageTarget::Query {
                bounds,
                position: Position::Offset(after),
            }),
            PagingMode::Mixed => {
                more.then(|| PageTarget::Link(self.link_to(source, bounds, after)))
            }
        };
        Ok(Page {
            events,
            next: next_target.map(|target| PageRequest {
                target,
                max: request.max,
            }),
        })
    }
}

impl EventSource for MemorySource {
    async fn fetch_page(
        &self,
        source: &SourceSpec,
        credential: &Credential,
        request: &PageRequest,
        deadline: Instant,
    ) -> Result<Page, SourceError> {
        let call = self.inner.faults.enter("fetch_page");
        call.before().map_err(|e| e.source())?;
        let (delay, yield_now, forbidden, paging, order, refused) = {
            let b = lock(&self.inner.behaviour);
            (
                b.page_delay,
                b.yield_per_page,
                b.forbidden.clone(),
                b.paging,
                b.order,
                matches!(credential, Credential::Bearer(token) if b.refused_tokens.iter().any(|t| t == token.secret())),
            )
        };
        if refused {
            return Err(SourceError::Unauthorized);
        }
        if let Some(message) = forbidden {
            return Err(SourceError::Forbidden { message });
        }
        if Instant::now() >= deadline {
            return Err(SourceError::OutOfTime);
        }
        let in_flight = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner
            .most_in_flight
            .fetch_max(in_flight, Ordering::SeqCst);
        let page = self
            .wait_and_answer(source, request, deadline, (delay, yield_now, paging, order))
            .await;
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        let page = page?;
        call.after().map_err(|e| e.source())?;
        self.inner.pages.fetch_add(1, Ordering::SeqCst);
        Ok(page)
    }
}

impl MemorySource {
    async fn wait_and_answer(
        &self,
        source: &SourceSpec,
        request: &PageRequest,
        deadline: Instant,
        (delay, yield_now, paging, order): (Duration, bool, PagingMode, Order),
    ) -> Result<Page, SourceError> {
        if !delay.is_zero() {
            if Instant::now() + delay > deadline {
                // The request would time out at the deadline.
                tokio::time::sleep_until(deadline).await;
                return Err(SourceError::OutOfTime);
            }
            tokio::time::sleep(delay).await;
        }
        if yield_now {
            tokio::task::yield_now().await;
        }
        self.answer(source, request, paging, order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::AccessToken;
    use crate::stream::StreamId;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_millis(1_795_000_000_000 + s as i64 * 1000)
    }

    fn query(from: Timestamp, to: Timestamp, max: u32) -> PageRequest {
        PageRequest {
            target: PageTarget::Query {
                bounds: QueryBounds {
                    from,
                    to,
                    org: "ORG".to_string(),
                    extra: Vec::new(),
                },
                position: Position::First,
            },
            max,
        }
    }

    async fn every_id(
        source: &MemorySource,
        spec: &SourceSpec,
        mut request: PageRequest,
    ) -> (Vec<String>, usize) {
        let mut ids = Vec::new();
        let mut pages = 0;
        loop {
            let page = source
                .fetch_page(
                    spec,
                    &Credential::Bearer(AccessToken::new("t")),
                    &request,
                    Instant::now() + Duration::from_secs(5),
                )
                .await
                .unwrap();
            pages += 1;
            for e in &page.events {
                let text = std::str::from_utf8(&e.json).unwrap();
                let id = text.split('"').nth(3).unwrap().to_string();
                ids.push(id);
            }
            match page.next {
                Some(next) => request = next,
                None => return (ids, pages),
            }
        }
    }

    #[tokio::test]
    async fn serves_a_range_in_pages_by_link_offset_or_both() {
        let clock = Arc::new(ManualClock::new(t(100)));
        let source = MemorySource::new(clock.clone(), Arc::default());
        source.add((0..10).map(|i| ScriptedEvent::new(format!("e{i}"), t(i))));
        source.add([ScriptedEvent::new("late", t(5)).late(Duration::from_secs(200))]);
        let spec = StreamId::AdminAudit.source();
        let expected: Vec<String> = (2..8).rev().map(|i| format!("e{i}")).collect();
        let cases = [
            (PagingMode::Link, 3),
            (PagingMode::Offset, 4),
            (PagingMode::Mixed, 3),
        ];
        for (paging, pages) in cases {
            source.set_paging(paging);
            let got = every_id(&source, &spec, query(t(2), t(8), 2)).await;
            assert_eq!(got, (expected.clone(), pages), "{paging:?}");
        }
        source.set_order(Order::Shuffled(7));
        let (mut shuffled, _) = every_id(&source, &spec, query(t(2), t(8), 4)).await;
        assert_ne!(shuffled, expected);
        shuffled.sort();
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(shuffled, sorted);
        clock.set(t(205));
        source.set_order(Order::NewestFirst);
        let (ids, _) = every_id(&source, &spec, query(t(5), t(6), 10)).await;
        assert_eq!(ids, ["late", "e5"], "visible once its time has come");
    }
}
