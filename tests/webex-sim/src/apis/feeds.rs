//! The events of the other APIs, per (API, tenant), generated from the seed like the Webex
//! streams (`GenerateSpec`, shared timestamps, late arrivals) and kept rendered: these feeds
//! serve tests of thousands of events, not the millions the Webex store is built for, so each
//! event holds its JSON and every page selects by a pass over the feed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::apis::items::{self, Cast};
use crate::apis::times::NS_PER_MS;
use crate::apis::{Api, ApiEvent};
use crate::events::{Created, GenerateSpec, draw_created, draw_visible_at};
use crate::rng::{hash_str, mix, rng_for};

/// Graph sign-ins "can appear 5-30 minutes late" (DESIGN §8): a late one is never only a
/// little late.
const GRAPH_MIN_LATENESS: Duration = Duration::from_secs(300);

/// One generated item.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub time_ns: i64,
    pub visible_at_ms: i64,
    pub key: String,
    pub json: String,
    /// Secure Endpoint's `event_type_id`, for `event_type[]` filters.
    pub event_type: Option<u64>,
}

#[derive(Debug, Default)]
struct Feed {
    items: Vec<Item>,
    /// Keys (and for General C, whole items) held, so none is generated twice.
    keys: HashSet<String>,
    /// General B: the last `seq` of each source.
    sequences: HashMap<&'static str, u64>,
}

/// One bound of a time window, at the precision the API compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bound {
    pub ns: i64,
    pub inclusive: bool,
}

/// Which items a query covers; an absent bound is open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Window {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

impl Window {
    fn contains(&self, ns: i64) -> bool {
        self.from
            .is_none_or(|b| ns > b.ns || (b.inclusive && ns == b.ns))
            && self
                .to
                .is_none_or(|b| ns < b.ns || (b.inclusive && ns == b.ns))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FeedOrder {
    /// Time descending, ties by key ascending.
    NewestFirst,
    /// Time ascending, ties by key ascending.
    OldestFirst,
    /// By a hash of the key under this key: stable for one query, unrelated to time.
    Shuffled(u64),
}

/// A validated query over one feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selection {
    pub api: Api,
    pub tenant: String,
    pub window: Window,
    /// Secure Endpoint `event_type[]`: `None` for all.
    pub event_types: Option<Vec<u64>>,
    pub order: FeedOrder,
}

#[derive(Debug)]
pub(crate) struct FeedStore {
    seed: u64,
    feeds: HashMap<(Api, String), Feed>,
}

impl FeedStore {
    pub(crate) fn new(seed: u64) -> FeedStore {
        FeedStore {
            seed,
            feeds: HashMap::new(),
        }
    }

    /// Appends `spec.count` events to the feed and returns them.
    ///
    /// # Panics
    /// When events are asked for in an empty range (`to_ms <= from_ms`): a test bug.
    pub(crate) fn generate(
        &mut self,
        api: Api,
        tenant: &str,
        spec: &GenerateSpec,
    ) -> Vec<ApiEvent> {
        assert!(
            spec.count == 0 || spec.to_ms > spec.from_ms,
            "GenerateSpec needs from_ms < to_ms, got [{}, {})",
            spec.from_ms,
            spec.to_ms
        );
        let cast = Cast::new(self.seed, api, tenant);
        let feed = self.feeds.entry((api, tenant.to_owned())).or_default();
        let first = feed.items.len();
        let mut rng = rng_for(&[self.seed, api.tag(), hash_str(tenant), first as u64]);
        let min_lateness = if api == Api::GraphSignIns {
            GRAPH_MIN_LATENESS
        } else {
            Duration::ZERO
        };
        for _ in 0..spec.count {
            let time_ns = match draw_created(&mut rng, spec, first..feed.items.len()) {
                Created::SameAs(earlier) => feed.items[earlier].time_ns,
                Created::At(ms) => ms
                    .saturating_mul(NS_PER_MS)
                    .saturating_add(items::sub_millisecond_ns(api, &mut rng)),
            };
            let created_ms = time_ns.div_euclid(NS_PER_MS);
            let visible_at_ms = draw_visible_at(&mut rng, spec, created_ms, min_lateness);
            // A clash of keys (or of whole General C items) is drawn again: still
            // deterministic, and never two events a collector could not tell apart.
            let item = loop {
                let drawn = items::draw(&cast, api, &mut rng, time_ns, &mut feed.sequences);
                let identity = if api == Api::GeneralC {
                    &drawn.json
                } else {
                    &drawn.key
                };
                if feed.keys.insert(identity.clone()) {
                    break drawn;
                }
            };
            feed.items.push(Item {
                time_ns,
                visible_at_ms,
                key: item.key,
                json: item.json,
                event_type: item.event_type,
            });
        }
        feed.items[first..]
            .iter()
            .map(|item| public(api, tenant, item))
            .collect()
    }

    /// Everything the feed holds, visible yet or not, in generation order.
    pub(crate) fn events(&self, api: Api, tenant: &str) -> Vec<ApiEvent> {
        self.feed(api, tenant)
            .map(|feed| feed.items.iter().map(|i| public(api, tenant, i)).collect())
            .unwrap_or_default()
    }

    fn feed(&self, api: Api, tenant: &str) -> Option<&Feed> {
        self.feeds.get(&(api, tenant.to_owned()))
    }

    /// The positions of the items `selection` covers that are visible at `as_of_ms`, in the
    /// order served.
    pub(crate) fn select(&self, selection: &Selection, as_of_ms: i64) -> Vec<usize> {
        let Some(feed) = self.feed(selection.api, &selection.tenant) else {
            return Vec::new();
        };
        let mut chosen: Vec<usize> =
            feed.items
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    item.visible_at_ms <= as_of_ms
                        && selection.window.contains(item.time_ns)
                        && selection.event_types.as_ref().is_none_or(|wanted| {
                            item.event_type.is_some_and(|t| wanted.contains(&t))
                        })
                })
                .map(|(position, _)| position)
                .collect();
        let items = &feed.items;
        match selection.order {
            FeedOrder::NewestFirst => chosen.sort_by(|a, b| {
                let (a, b) = (&items[*a], &items[*b]);
                b.time_ns.cmp(&a.time_ns).then_with(|| a.key.cmp(&b.key))
            }),
            FeedOrder::OldestFirst => chosen.sort_by(|a, b| {
                let (a, b) = (&items[*a], &items[*b]);
                a.time_ns.cmp(&b.time_ns).then_with(|| a.key.cmp(&b.key))
            }),
            FeedOrder::Shuffled(key) => {
                chosen.sort_by_cached_key(|p| (mix(&[key, hash_str(&items[*p].key)]), *p));
            }
        }
        chosen
    }

    /// The items at `positions`, for a page.
    pub(crate) fn items(&self, api: Api, tenant: &str, positions: &[usize]) -> Vec<Item> {
        self.feed(api, tenant).map_or_else(Vec::new, |feed| {
            positions
                .iter()
                .filter_map(|p| feed.items.get(*p).cloned())
                .collect()
        })
    }
}

fn public(api: Api, tenant: &str, item: &Item) -> ApiEvent {
    ApiEvent {
        api,
        tenant: tenant.to_owned(),
        key: item.key.clone(),
        time_ms: item.time_ns.div_euclid(NS_PER_MS),
        visible_at_ms: item.visible_at_ms,
        json: item.json.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;
    const FROM_MS: i64 = 1_795_000_000_000;

    fn spec(count: usize) -> GenerateSpec {
        GenerateSpec {
            shared_timestamp_fraction: 0.3,
            late_fraction: 0.2,
            max_lateness: Duration::from_secs(1_800),
            ..GenerateSpec::new(count, FROM_MS, FROM_MS + DAY_MS)
        }
    }

    #[test]
    fn same_seed_same_bytes_and_apis_differ() {
        for api in Api::ALL {
            let a = FeedStore::new(3).generate(api, "t", &spec(40));
            assert_eq!(
                a,
                FeedStore::new(3).generate(api, "t", &spec(40)),
                "{api:?}"
            );
            assert_ne!(
                a,
                FeedStore::new(4).generate(api, "t", &spec(40)),
                "{api:?}"
            );
            let keys: HashSet<&str> = a.iter().map(|e| e.key.as_str()).collect();
            assert_eq!(keys.len(), 40, "{api:?}");
        }
    }

    #[test]
    fn graph_sign_ins_are_late_by_five_to_thirty_minutes() {
        let events = FeedStore::new(1).generate(Api::GraphSignIns, "t", &spec(500));
        let late: Vec<i64> = events
            .iter()
            .map(|e| e.visible_at_ms - e.time_ms)
            .filter(|lateness| *lateness > 0)
            .collect();
        assert!(late.len() > 50, "{}", late.len());
        assert!(late.iter().all(|l| (300_000..=1_800_000).contains(l)));
    }

    #[test]
    fn shared_timestamps_share_every_digit() {
        let mut store = FeedStore::new(1);
        store.generate(Api::GraphDirectoryAudits, "t", &spec(300));
        let mut times = HashMap::<i64, usize>::new();
        for item in &store.feeds[&(Api::GraphDirectoryAudits, "t".to_owned())].items {
            *times.entry(item.time_ns).or_default() += 1;
        }
        assert!(times.values().any(|n| *n >= 3), "no run of equal times");
        assert!(times.len() < 300);
    }

    #[test]
    fn windows_bound_as_asked() {
        let bound = |ns, inclusive| Some(Bound { ns, inclusive });
        let window = Window {
            from: bound(10, true),
            to: bound(20, false),
        };
        let inside: Vec<i64> = (8..23).filter(|ns| window.contains(*ns)).collect();
        assert_eq!(inside, (10..20).collect::<Vec<_>>());
        let both = Window {
            from: bound(10, false),
            to: bound(20, true),
        };
        assert!(!both.contains(10) && both.contains(11) && both.contains(20));
        assert!(Window::default().contains(i64::MIN));
    }

    #[test]
    fn selection_orders_and_filters_by_visibility() {
        let mut store = FeedStore::new(2);
        let events = store.generate(Api::SecureEndpoint, "", &spec(200));
        let mut selection = Selection {
            api: Api::SecureEndpoint,
            tenant: String::new(),
            window: Window::default(),
            event_types: None,
            order: FeedOrder::NewestFirst,
        };
        let now = FROM_MS + DAY_MS;
        let newest = store.select(&selection, now);
        let visible = events.iter().filter(|e| e.visible_at_ms <= now).count();
        assert_eq!(newest.len(), visible);
        let times: Vec<i64> = newest.iter().map(|p| events[*p].time_ms).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));

        selection.order = FeedOrder::OldestFirst;
        let mut oldest = store.select(&selection, now);
        oldest.reverse();
        let reversed: Vec<i64> = oldest.iter().map(|p| events[*p].time_ms).collect();
        assert_eq!(reversed, times);

        selection.order = FeedOrder::Shuffled(9);
        let shuffled = store.select(&selection, now);
        assert_eq!(shuffled, store.select(&selection, now));
        assert_ne!(shuffled, newest);
        assert!(store.select(&selection, FROM_MS - 1).is_empty());
    }
}
