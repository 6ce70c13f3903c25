//! Event generation and storage, per (organisation, stream). Generation is deterministic: the
//! same seed, org, stream and number of events generated before give the same events, byte for
//! byte.
//!
//! The store keeps each event as a compact record (its UUID, times, what filters select on and
//! the seed of everything else, 48 bytes) and renders the JSON when a page is sent: a million
//! events take about 100 MB instead of 1.5 GB, so a burst of millions in one org fits beside
//! many other orgs. Selections are cached per query snapshot, so paging through a million
//! events sorts them once, not once per page.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use fastrand::Rng;

use crate::clock::duration_ms;
use crate::config::{Order, Stream};
use crate::orgs::SimOrg;
use crate::render::{StoredRef, World, draw_kind, draw_uuid};
use crate::rng::{hash_str, rng_for};
use crate::selection::{Filter, select};

/// What to generate: `count` events created uniformly in `[from_ms, to_ms)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateSpec {
    pub count: usize,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Share of events that copy the `created` of an earlier event in the same batch, so page
    /// boundaries fall inside runs of equal timestamps.
    pub shared_timestamp_fraction: f64,
    /// Share of events that become visible after they were created.
    pub late_fraction: f64,
    /// A late event becomes visible 1 ms ..= `max_lateness` after `created`.
    pub max_lateness: Duration,
}

impl GenerateSpec {
    /// `count` events in `[from_ms, to_ms)`, all with distinct draws and none late.
    pub fn new(count: usize, from_ms: i64, to_ms: i64) -> GenerateSpec {
        GenerateSpec {
            count,
            from_ms,
            to_ms,
            shared_timestamp_fraction: 0.0,
            late_fraction: 0.0,
            max_lateness: Duration::ZERO,
        }
    }
}

/// One generated event as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    pub id: String,
    pub created_ms: i64,
    /// The event is returned only once the sim clock reaches this instant (late arrival).
    pub visible_at_ms: i64,
    /// The compact JSON the API returns for this event, verbatim.
    pub json: String,
    /// Audit category, normalised (`LOGINS`, never `EventCategory.LOGINS`).
    pub category: Option<String>,
    /// Compliance events only.
    pub resource: Option<String>,
    /// Compliance events only.
    pub event_type: Option<String>,
}

/// One event as the store holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stored {
    /// The id is rendered from it (see `render::event_id`); unique across the simulator.
    pub uuid: u128,
    pub created_ms: i64,
    pub visible_at_ms: i64,
    /// Seeds every draw of the rendered JSON (actor, target, addresses, ...).
    pub content: u64,
    /// Audit: index of the category; compliance: index of the resource.
    pub kind: u8,
    /// Compliance: index of the type in `EVENT_TYPES`.
    pub event_type: u8,
}

/// How many query snapshots the store keeps sorted. Each holds 4 bytes per matching event.
const CACHED_SELECTIONS: usize = 8;

/// Every generated event, per org and stream.
#[derive(Debug)]
pub(crate) struct EventStore {
    seed: u64,
    orgs: HashMap<String, OrgEvents>,
    /// Every UUID held, so ids stay unique across orgs and streams.
    uuids: HashSet<u128>,
    selections: VecDeque<Selection>,
}

#[derive(Debug)]
struct OrgEvents {
    world: Arc<World>,
    streams: [StreamEvents; 3],
}

/// One stream's events in generation order, plus their positions sorted by `created`, so a
/// page request touches only the events of its time range.
#[derive(Debug, Default)]
struct StreamEvents {
    events: Vec<Stored>,
    by_created: Vec<u32>,
    /// Bumped by every append: a cached selection of an older version is stale.
    version: u64,
}

/// The events of one page, copied out of the store so they can be rendered without its lock.
#[derive(Debug)]
pub(crate) struct PageEvents {
    world: Option<Arc<World>>,
    stream: Stream,
    events: Vec<Stored>,
}

impl PageEvents {
    /// `{"items":[...]}` with each event's JSON verbatim.
    pub(crate) fn body(&self) -> String {
        let mut body = String::from("{\"items\":[");
        if let Some(world) = &self.world {
            for (index, event) in self.events.iter().enumerate() {
                if index > 0 {
                    body.push(',');
                }
                body.push_str(&world.render(self.stream, event));
            }
        }
        body.push_str("]}");
        body
    }

    pub(crate) fn uuids(&self) -> Vec<u128> {
        self.events.iter().map(|event| event.uuid).collect()
    }
}

/// A sorted query result, valid while the stream is unchanged and for every "as of" instant
/// in `[valid_from_ms, valid_until_ms)`: no event of the range becomes visible in between.
#[derive(Debug)]
struct Selection {
    org_id: String,
    stream: Stream,
    version: u64,
    order: Order,
    shuffle_key: u64,
    /// With `as_of_ms` set to 0: the instant is checked against the validity range instead.
    filter: Filter,
    valid_from_ms: i64,
    valid_until_ms: i64,
    positions: Arc<[u32]>,
}

impl EventStore {
    pub(crate) fn new(seed: u64) -> EventStore {
        EventStore {
            seed,
            orgs: HashMap::new(),
            uuids: HashSet::new(),
            selections: VecDeque::new(),
        }
    }

    fn stream(&self, org_id: &str, stream: Stream) -> Option<(&Arc<World>, &StreamEvents)> {
        let org = self.orgs.get(org_id)?;
        Some((&org.world, &org.streams[stream.index()]))
    }

    pub(crate) fn len(&self, org_id: &str, stream: Stream) -> usize {
        self.stream(org_id, stream)
            .map_or(0, |(_, held)| held.events.len())
    }

    /// Everything `org_id`'s stream holds, visible yet or not, in generation order, rendered.
    pub(crate) fn events(&self, org_id: &str, stream: Stream) -> Vec<SimEvent> {
        self.events_from(org_id, stream, 0)
    }

    fn events_from(&self, org_id: &str, stream: Stream, first: usize) -> Vec<SimEvent> {
        let Some((world, held)) = self.stream(org_id, stream) else {
            return Vec::new();
        };
        held.events[first.min(held.events.len())..]
            .iter()
            .map(|event| world.sim_event(stream, event))
            .collect()
    }

    /// The events of the stream created in `[from_ms, to_ms)`, in no particular order.
    pub(crate) fn created_between(
        &self,
        org_id: &str,
        stream: Stream,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Iterator<Item = StoredRef<'_>> {
        let (events, index) = self
            .stream(org_id, stream)
            .map_or((&[][..], &[][..]), |(_, held)| {
                (held.events.as_slice(), held.by_created.as_slice())
            });
        let created = |position: &u32| events[*position as usize].created_ms;
        let start = index.partition_point(|p| created(p) < from_ms);
        let end = start + index[start..].partition_point(|p| created(p) < to_ms);
        index[start..end].iter().map(move |position| StoredRef {
            stream,
            position: *position,
            event: &events[*position as usize],
        })
    }

    /// Appends `spec.count` events to `org`'s stream and returns them.
    ///
    /// # Panics
    /// See [`EventStore::append`].
    pub(crate) fn generate(
        &mut self,
        org: &SimOrg,
        stream: Stream,
        spec: &GenerateSpec,
    ) -> Vec<SimEvent> {
        let first = self.append(org, stream, spec);
        self.events_from(&org.id, stream, first)
    }

    /// Appends `spec.count` events to `org`'s stream without rendering them for the caller
    /// and returns the position of the first new one.
    ///
    /// # Panics
    /// When events are asked for in an empty range (`to_ms <= from_ms`): a test bug; or when a
    /// stream would hold 2^32 events (memory runs out long before).
    pub(crate) fn append(&mut self, org: &SimOrg, stream: Stream, spec: &GenerateSpec) -> usize {
        assert!(
            spec.count == 0 || spec.to_ms > spec.from_ms,
            "GenerateSpec needs from_ms < to_ms, got [{}, {})",
            spec.from_ms,
            spec.to_ms
        );
        let seed = self.seed;
        let org_events = self
            .orgs
            .entry(org.id.clone())
            .or_insert_with(|| OrgEvents {
                world: Arc::new(World::new(seed, org)),
                streams: Default::default(),
            });
        let held = &mut org_events.streams[stream.index()];
        let first = held.events.len();
        let mut rng = rng_for(&[seed, hash_str(&org.id), stream.tag(), first as u64]);

        held.events.reserve_exact(spec.count);
        self.uuids.reserve(spec.count);
        for _ in 0..spec.count {
            let created_ms = match draw_created(&mut rng, spec, first..held.events.len()) {
                Created::SameAs(earlier) => held.events[earlier].created_ms,
                Created::At(ms) => ms,
            };
            let visible_at_ms = draw_visible_at(&mut rng, spec, created_ms, Duration::ZERO);
            // A collision of random UUIDs is all but impossible, but drawing again keeps
            // ids unique absolutely and still deterministically.
            let uuid = loop {
                let uuid = draw_uuid(&mut rng);
                if self.uuids.insert(uuid) {
                    break uuid;
                }
            };
            let (kind, event_type) = draw_kind(&mut rng, stream);
            held.events.push(Stored {
                uuid,
                created_ms,
                visible_at_ms,
                content: rng.u64(..),
                kind,
                event_type,
            });
        }
        let positions = u32::try_from(held.events.len())
            .expect("a simulator stream holds fewer than 2^32 events");
        held.by_created.reserve_exact(spec.count);
        held.by_created.extend(first as u32..positions);
        let events = &held.events;
        held.by_created
            .sort_by_key(|position| events[*position as usize].created_ms);
        held.version += 1;
        let version = held.version;
        self.selections
            .retain(|s| !(s.org_id == org.id && s.stream == stream && s.version < version));
        first
    }

    /// The positions of the events `filter` selects, in the order served. Sorted once per
    /// query snapshot and then served from the cache while it stays valid.
    pub(crate) fn select(
        &mut self,
        org_id: &str,
        stream: Stream,
        filter: &Filter,
        order: Order,
        shuffle_key: u64,
    ) -> Arc<[u32]> {
        let version = self.stream(org_id, stream).map_or(0, |(_, s)| s.version);
        let as_of_ms = filter.as_of_ms;
        let query = Filter {
            as_of_ms: 0,
            ..filter.clone()
        };
        let hit = self.selections.iter().position(|s| {
            s.org_id == org_id
                && s.stream == stream
                && s.version == version
                && s.order == order
                && s.shuffle_key == shuffle_key
                && s.filter == query
                && (s.valid_from_ms..s.valid_until_ms).contains(&as_of_ms)
        });
        if let Some(hit) = hit {
            let selection = self.selections.remove(hit).expect("the position was found");
            let positions = selection.positions.clone();
            self.selections.push_front(selection);
            return positions;
        }

        let candidates = || self.created_between(org_id, stream, filter.from_ms, filter.to_ms);
        // The result changes only when an event of the range becomes visible.
        let (mut valid_from_ms, mut valid_until_ms) = (i64::MIN, i64::MAX);
        for candidate in candidates() {
            let visible = candidate.event.visible_at_ms;
            if visible <= as_of_ms {
                valid_from_ms = valid_from_ms.max(visible);
            } else {
                valid_until_ms = valid_until_ms.min(visible);
            }
        }
        let positions: Arc<[u32]> = select(candidates(), filter, order, shuffle_key)
            .into_iter()
            .map(|selected| selected.position)
            .collect();
        self.selections.push_front(Selection {
            org_id: org_id.to_owned(),
            stream,
            version,
            order,
            shuffle_key,
            filter: query,
            valid_from_ms,
            valid_until_ms,
            positions: positions.clone(),
        });
        self.selections.truncate(CACHED_SELECTIONS);
        positions
    }

    /// Copies the events at `positions` out for rendering.
    pub(crate) fn page(&self, org_id: &str, stream: Stream, positions: &[u32]) -> PageEvents {
        let held = self.stream(org_id, stream);
        PageEvents {
            world: held.map(|(world, _)| world.clone()),
            stream,
            events: held.map_or_else(Vec::new, |(_, held)| {
                positions
                    .iter()
                    .filter_map(|p| held.events.get(*p as usize).copied())
                    .collect()
            }),
        }
    }
}

/// When a drawn event happened: at a new instant of the spec's range, or at the very instant of
/// an earlier event of its batch (`SameAs` its position), so runs of equal timestamps exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Created {
    At(i64),
    SameAs(usize),
}

/// Draws where the next event of a batch sits in time; `batch` holds the positions of the
/// events drawn before it in the same batch. Every simulated API draws its times this way, so
/// one `GenerateSpec` means the same thing for all of them.
pub(crate) fn draw_created(rng: &mut Rng, spec: &GenerateSpec, batch: Range<usize>) -> Created {
    if !batch.is_empty() && rng.f64() < fraction(spec.shared_timestamp_fraction) {
        Created::SameAs(rng.usize(batch))
    } else {
        Created::At(rng.i64(spec.from_ms..spec.to_ms))
    }
}

/// When an event created at `created_ms` becomes visible: at once, or (for a `late_fraction`
/// of them) `min_lateness ..= max_lateness` later; `min_lateness` is at least 1 ms and at most
/// `max_lateness` (an API whose late events are never only a little late sets it).
pub(crate) fn draw_visible_at(
    rng: &mut Rng,
    spec: &GenerateSpec,
    created_ms: i64,
    min_lateness: Duration,
) -> i64 {
    let max_ms = duration_ms(spec.max_lateness);
    if max_ms > 0 && rng.f64() < fraction(spec.late_fraction) {
        let min_ms = duration_ms(min_lateness).clamp(1, max_ms);
        created_ms.saturating_add(rng.i64(min_ms..=max_ms))
    } else {
        created_ms
    }
}

fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_ORG_ID;
    use crate::selection::Candidate;
    use crate::timefmt::format_ms;

    const DAY: i64 = 86_400_000;

    fn spec(count: usize) -> GenerateSpec {
        GenerateSpec {
            shared_timestamp_fraction: 0.3,
            late_fraction: 0.2,
            max_lateness: Duration::from_secs(600),
            ..GenerateSpec::new(count, 1_000 * DAY, 1_001 * DAY)
        }
    }

    fn home() -> SimOrg {
        SimOrg::home(DEFAULT_ORG_ID)
    }

    fn generate(store: &mut EventStore, stream: Stream, count: usize) -> Vec<SimEvent> {
        store.generate(&home(), stream, &spec(count))
    }

    #[test]
    fn same_seed_same_bytes() {
        for stream in Stream::ALL {
            let a = generate(&mut EventStore::new(9), stream, 50);
            let b = generate(&mut EventStore::new(9), stream, 50);
            assert_eq!(a, b, "{stream:?}");
            let c = generate(&mut EventStore::new(10), stream, 50);
            assert_ne!(a, c, "{stream:?}");
        }
    }

    #[test]
    fn later_batches_continue_rather_than_repeat() {
        let mut store = EventStore::new(1);
        let first = generate(&mut store, Stream::AdminAudit, 20);
        let second = generate(&mut store, Stream::AdminAudit, 20);
        assert_ne!(first, second);
        assert_eq!(store.len(DEFAULT_ORG_ID, Stream::AdminAudit), 40);

        // The second batch depends on how many were generated before, not on the history.
        let mut other = EventStore::new(1);
        generate(&mut other, Stream::AdminAudit, 20);
        assert_eq!(generate(&mut other, Stream::AdminAudit, 20), second);
    }

    #[test]
    fn orgs_get_their_own_events_and_ids() {
        let customer = SimOrg::customer(1);
        let mut store = EventStore::new(1);
        let ours = generate(&mut store, Stream::ComplianceEvents, 50);
        let theirs = store.generate(&customer, Stream::ComplianceEvents, &spec(50));
        assert_eq!(store.len(DEFAULT_ORG_ID, Stream::ComplianceEvents), 50);
        assert_eq!(store.len(&customer.id, Stream::ComplianceEvents), 50);
        let ids: HashSet<&str> = ours.iter().chain(&theirs).map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 100);
        for (events, org) in [(&ours, DEFAULT_ORG_ID), (&theirs, customer.id.as_str())] {
            for event in events.iter() {
                let value: serde_json::Value = serde_json::from_str(&event.json).unwrap();
                assert_eq!(value["orgId"], org);
            }
        }
        // Another org's events do not move this org's sequence.
        let mut alone = EventStore::new(1);
        assert_eq!(
            alone.generate(&customer, Stream::ComplianceEvents, &spec(50)),
            theirs
        );
    }

    #[test]
    fn created_between_finds_exactly_the_events_of_the_range() {
        let mut store = EventStore::new(3);
        // Two batches, so the index must merge later events into earlier ones.
        generate(&mut store, Stream::ComplianceEvents, 300);
        generate(&mut store, Stream::ComplianceEvents, 300);
        let all = store.events(DEFAULT_ORG_ID, Stream::ComplianceEvents);
        let shared = all[17].created_ms;
        let ranges = [
            (i64::MIN, i64::MAX),
            (1_000 * DAY, 1_000 * DAY + DAY / 3),
            (shared, shared + 1),
            (shared, shared),
            (shared + 1, shared),
            (0, 1),
        ];
        for (from_ms, to_ms) in ranges {
            let mut found: Vec<String> = store
                .created_between(DEFAULT_ORG_ID, Stream::ComplianceEvents, from_ms, to_ms)
                .map(|held| {
                    assert_eq!(all[held.position as usize].id, held.id());
                    held.id().into_owned()
                })
                .collect();
            let mut expected: Vec<String> = all
                .iter()
                .filter(|e| e.created_ms >= from_ms && e.created_ms < to_ms)
                .map(|e| e.id.clone())
                .collect();
            found.sort_unstable();
            expected.sort_unstable();
            assert_eq!(found, expected, "[{from_ms}, {to_ms})");
        }
        let other_stream =
            store.created_between(DEFAULT_ORG_ID, Stream::AdminAudit, i64::MIN, i64::MAX);
        assert_eq!(other_stream.count(), 0);
        let other_org = store.created_between("nobody", Stream::ComplianceEvents, 0, i64::MAX);
        assert_eq!(other_org.count(), 0);
    }

    #[test]
    fn append_stores_what_generate_returns() {
        let mut appended = EventStore::new(5);
        let first = appended.append(&home(), Stream::AdminAudit, &spec(30));
        assert_eq!(first, 0);
        assert_eq!(appended.append(&home(), Stream::AdminAudit, &spec(30)), 30);
        let mut generated = EventStore::new(5);
        let mut returned = generate(&mut generated, Stream::AdminAudit, 30);
        returned.extend(generate(&mut generated, Stream::AdminAudit, 30));
        assert_eq!(
            appended.events(DEFAULT_ORG_ID, Stream::AdminAudit),
            returned
        );
    }

    #[test]
    fn ids_are_unique_across_streams() {
        let mut store = EventStore::new(1);
        let mut ids = HashSet::new();
        for stream in Stream::ALL {
            for event in generate(&mut store, stream, 500) {
                assert!(ids.insert(event.id), "duplicate id");
            }
        }
    }

    #[test]
    fn times_respect_the_spec() {
        let mut store = EventStore::new(4);
        let events = generate(&mut store, Stream::ComplianceEvents, 2_000);
        let spec = spec(0);
        let mut late = 0;
        for event in &events {
            assert!(event.created_ms >= spec.from_ms && event.created_ms < spec.to_ms);
            let lateness = event.visible_at_ms - event.created_ms;
            assert!((0..=600_000).contains(&lateness));
            late += usize::from(lateness > 0);
        }
        assert!((300..500).contains(&late), "late: {late}");
        let distinct: HashSet<i64> = events.iter().map(|e| e.created_ms).collect();
        // About 30% share a timestamp with an earlier event.
        assert!(distinct.len() < 1_600, "distinct: {}", distinct.len());
    }

    #[test]
    fn nothing_is_late_or_shared_when_not_asked() {
        let mut store = EventStore::new(2);
        let events = store.generate(
            &home(),
            Stream::SecurityAudit,
            &GenerateSpec::new(500, 0, 1_000_000_000),
        );
        assert!(events.iter().all(|e| e.visible_at_ms == e.created_ms));
        let distinct: HashSet<i64> = events.iter().map(|e| e.created_ms).collect();
        assert!(distinct.len() > 495);
    }

    #[test]
    fn admin_json_has_the_openapi_shape() {
        let mut store = EventStore::new(1);
        let event = generate(&mut store, Stream::AdminAudit, 1).remove(0);
        let value: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        assert_eq!(value["id"], event.id.as_str());
        assert_eq!(value["created"], format_ms(event.created_ms).as_str());
        assert_eq!(value["actorOrgId"], DEFAULT_ORG_ID);
        assert_eq!(value["data"]["actorOrgName"], "Sim Org Inc.");
        let category = value["data"]["eventCategory"].as_str().unwrap();
        assert_eq!(
            category,
            format!("EventCategory.{}", event.category.as_deref().unwrap())
        );
        for key in [
            "actorOrgName",
            "targetName",
            "eventDescription",
            "actorName",
            "actorEmail",
            "adminRoles",
            "trackingId",
            "targetType",
            "targetId",
            "actorUserAgent",
            "actorIp",
            "targetOrgId",
            "actionText",
            "targetOrgName",
        ] {
            assert!(value["data"].get(key).is_some(), "data.{key} missing");
        }
        assert!(event.json.starts_with("{\"data\":{\"actorOrgName\":"));
        let id = crate::encoding::unbase64(&event.id).unwrap();
        let uuid = String::from_utf8(id).unwrap();
        assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"), "{uuid}");
    }

    #[test]
    fn security_and_compliance_json_have_their_shapes() {
        let mut store = EventStore::new(1);
        let security = generate(&mut store, Stream::SecurityAudit, 1).remove(0);
        let value: serde_json::Value = serde_json::from_str(&security.json).unwrap();
        let category = value["data"]["eventCategory"].as_str().unwrap();
        assert!(["LOGINS", "LOGOUT"].contains(&category));
        assert_eq!(security.category.as_deref(), Some(category));

        for event in generate(&mut store, Stream::ComplianceEvents, 200) {
            let value: serde_json::Value = serde_json::from_str(&event.json).unwrap();
            assert_eq!(value["resource"], event.resource.as_deref().unwrap());
            assert_eq!(value["type"], event.event_type.as_deref().unwrap());
            for key in ["id", "appId", "actorId", "orgId", "created", "data"] {
                assert!(value.get(key).is_some(), "{key} missing");
            }
            let id = crate::encoding::unbase64(&event.id).unwrap();
            assert!(
                String::from_utf8(id)
                    .unwrap()
                    .starts_with("ciscospark://us/EVENT/")
            );
        }
    }

    #[test]
    fn a_page_renders_the_json_generate_returned() {
        let mut store = EventStore::new(6);
        let events = generate(&mut store, Stream::ComplianceEvents, 5);
        let page = store.page(DEFAULT_ORG_ID, Stream::ComplianceEvents, &[3, 1]);
        assert_eq!(
            page.body(),
            format!("{{\"items\":[{},{}]}}", events[3].json, events[1].json)
        );
        assert_eq!(page.uuids().len(), 2);
        let nobody = store.page("nobody", Stream::ComplianceEvents, &[0]);
        assert_eq!(nobody.body(), "{\"items\":[]}");
    }

    fn everything(as_of_ms: i64) -> Filter {
        Filter {
            from_ms: i64::MIN,
            to_ms: i64::MAX,
            as_of_ms,
            ..Filter::default()
        }
    }

    #[test]
    fn selections_are_cached_until_the_result_could_change() {
        let mut store = EventStore::new(7);
        let events = generate(&mut store, Stream::AdminAudit, 200);
        let late = events
            .iter()
            .map(|e| e.visible_at_ms)
            .filter(|v| *v > 1_000 * DAY + DAY / 2)
            .min()
            .unwrap();
        let cached = |store: &mut EventStore, as_of_ms| {
            let filter = everything(as_of_ms);
            store.select(
                DEFAULT_ORG_ID,
                Stream::AdminAudit,
                &filter,
                Order::Shuffled,
                3,
            )
        };
        let first = cached(&mut store, late - 1);
        // Same snapshot: the very same sorted positions.
        let again = cached(&mut store, late - 1);
        assert!(Arc::ptr_eq(&first, &again));
        // An event becomes visible: sorted again, one more.
        let later = cached(&mut store, late);
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(later.len(), first.len() + 1);
        // New events: stale.
        generate(&mut store, Stream::AdminAudit, 1);
        let fresh = cached(&mut store, late);
        assert!(!Arc::ptr_eq(&later, &fresh));
        let all = store.created_between(DEFAULT_ORG_ID, Stream::AdminAudit, i64::MIN, i64::MAX);
        let direct: Vec<u32> = select(all, &everything(late), Order::Shuffled, 3)
            .into_iter()
            .map(|selected| selected.position)
            .collect();
        assert_eq!(&*fresh, direct.as_slice());
    }

    #[test]
    #[should_panic(expected = "from_ms < to_ms")]
    fn empty_range_is_a_test_bug() {
        EventStore::new(1).generate(&home(), Stream::AdminAudit, &GenerateSpec::new(1, 5, 5));
    }
}
