//! Which held events a query returns, and in what order.

use std::borrow::Cow;

use crate::config::Order;
use crate::events::SimEvent;
use crate::rng::{hash_str, mix};

/// What selection needs to know of an event. The store implements it on its compact records
/// (whose JSON and id are rendered only when a page is sent); tests use [`SimEvent`]s.
pub(crate) trait Candidate {
    fn created_ms(&self) -> i64;
    fn visible_at_ms(&self) -> i64;
    /// Normalised audit category.
    fn category(&self) -> Option<&str>;
    fn resource(&self) -> Option<&str>;
    fn event_type(&self) -> Option<&str>;
    /// A stable hash of the event's identity: the shuffled order's key.
    fn id_hash(&self) -> u64;
    fn id(&self) -> Cow<'_, str>;
}

impl<T: Candidate + ?Sized> Candidate for &T {
    fn created_ms(&self) -> i64 {
        (**self).created_ms()
    }
    fn visible_at_ms(&self) -> i64 {
        (**self).visible_at_ms()
    }
    fn category(&self) -> Option<&str> {
        (**self).category()
    }
    fn resource(&self) -> Option<&str> {
        (**self).resource()
    }
    fn event_type(&self) -> Option<&str> {
        (**self).event_type()
    }
    fn id_hash(&self) -> u64 {
        (**self).id_hash()
    }
    fn id(&self) -> Cow<'_, str> {
        (**self).id()
    }
}

impl Candidate for SimEvent {
    fn created_ms(&self) -> i64 {
        self.created_ms
    }
    fn visible_at_ms(&self) -> i64 {
        self.visible_at_ms
    }
    fn category(&self) -> Option<&str> {
        self.category.as_deref()
    }
    fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }
    fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }
    fn id_hash(&self) -> u64 {
        hash_str(&self.id)
    }
    fn id(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
}

/// The filters of one event query, already validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Inclusive.
    pub from_ms: i64,
    /// Exclusive: an event created exactly at `to` belongs to the next window, so adjacent
    /// windows `[a, b)`, `[b, c)` never both return it.
    pub to_ms: i64,
    /// Events that become visible after this instant have not "arrived" yet.
    pub as_of_ms: i64,
    /// Normalised category names (events hold normalised names too); `None` means all.
    pub categories: Option<Vec<String>>,
    pub resource: Option<String>,
    pub event_type: Option<String>,
}

impl Filter {
    pub(crate) fn matches(&self, event: &impl Candidate) -> bool {
        event.visible_at_ms() <= self.as_of_ms
            && event.created_ms() >= self.from_ms
            && event.created_ms() < self.to_ms
            && self.categories.as_ref().is_none_or(|wanted| {
                event
                    .category()
                    .is_some_and(|c| wanted.iter().any(|w| w == c))
            })
            && self
                .resource
                .as_deref()
                .is_none_or(|r| event.resource() == Some(r))
            && self
                .event_type
                .as_deref()
                .is_none_or(|t| event.event_type() == Some(t))
    }
}

/// The matching events in the order the simulator answers with. `shuffle_key` identifies the
/// query (seed and non-paging parameters), so every page of one query sees the same order.
/// `events` may be any superset of the matches in any order (the store passes the events of
/// the time range, from its index): the result depends only on which events match.
///
/// Sorting is by a cheap key first (`created`, or the keyed hash); only runs of equal keys
/// are then ordered by id, so millions of events never have their ids rendered to be sorted.
pub(crate) fn select<I>(events: I, filter: &Filter, order: Order, shuffle_key: u64) -> Vec<I::Item>
where
    I: IntoIterator,
    I::Item: Candidate,
{
    let matching = events.into_iter().filter(|event| filter.matches(event));
    let mut keyed: Vec<(u64, I::Item)> = match order {
        // Newest first: the key is `created` descending, as an unsigned number.
        Order::NewestFirst => matching
            .map(|event| (!((event.created_ms() as u64) ^ (1 << 63)), event))
            .collect(),
        Order::Shuffled => matching
            .map(|event| (mix(&[shuffle_key, event.id_hash()]), event))
            .collect(),
    };
    keyed.sort_unstable_by_key(|(key, _)| *key);
    for run in keyed.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_by_cached_key(|(_, event)| event.id().into_owned());
        }
    }
    keyed.into_iter().map(|(_, event)| event).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, created_ms: i64, visible_at_ms: i64, category: &str) -> SimEvent {
        SimEvent {
            id: id.to_owned(),
            created_ms,
            visible_at_ms,
            json: format!("{{\"id\":\"{id}\"}}"),
            category: Some(category.to_owned()),
            resource: Some("messages".to_owned()),
            event_type: Some("created".to_owned()),
        }
    }

    fn ids(events: &[&SimEvent]) -> Vec<String> {
        events.iter().map(|e| e.id.clone()).collect()
    }

    fn all() -> Filter {
        Filter {
            from_ms: i64::MIN,
            to_ms: i64::MAX,
            as_of_ms: i64::MAX,
            ..Filter::default()
        }
    }

    #[test]
    fn window_is_from_inclusive_to_exclusive() {
        let events = [
            event("a", 99, 99, "LOGINS"),
            event("b", 100, 100, "LOGINS"),
            event("c", 199, 199, "LOGINS"),
            event("d", 200, 200, "LOGINS"),
        ];
        let filter = Filter {
            from_ms: 100,
            to_ms: 200,
            ..all()
        };
        assert_eq!(
            ids(&select(&events, &filter, Order::NewestFirst, 0)),
            ["c", "b"]
        );
    }

    #[test]
    fn late_events_stay_hidden_until_visible() {
        let events = [
            event("a", 100, 100, "LOGINS"),
            event("b", 100, 500, "LOGINS"),
        ];
        let filter = |as_of_ms| Filter { as_of_ms, ..all() };
        assert_eq!(
            ids(&select(&events, &filter(499), Order::NewestFirst, 0)),
            ["a"]
        );
        assert_eq!(
            ids(&select(&events, &filter(500), Order::NewestFirst, 0)),
            ["a", "b"]
        );
    }

    #[test]
    fn filters_by_category_resource_and_type() {
        let mut logout = event("b", 2, 2, "LOGOUT");
        logout.resource = Some("rooms".to_owned());
        logout.event_type = Some("deleted".to_owned());
        let events = [event("a", 1, 1, "LOGINS"), logout];
        let cases: [(Filter, &[&str]); 5] = [
            (
                Filter {
                    categories: Some(vec!["LOGINS".to_owned()]),
                    ..all()
                },
                &["a"],
            ),
            (
                Filter {
                    categories: Some(vec!["LOGOUT".to_owned(), "LOGINS".to_owned()]),
                    ..all()
                },
                &["b", "a"],
            ),
            (
                Filter {
                    categories: Some(vec![]),
                    ..all()
                },
                &[],
            ),
            (
                Filter {
                    resource: Some("rooms".to_owned()),
                    ..all()
                },
                &["b"],
            ),
            (
                Filter {
                    event_type: Some("created".to_owned()),
                    ..all()
                },
                &["a"],
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(
                ids(&select(&events, &filter, Order::NewestFirst, 0)),
                expected,
                "{filter:?}"
            );
        }
    }

    #[test]
    fn newest_first_breaks_ties_by_id() {
        let events = [
            event("z", 5, 5, "LOGINS"),
            event("m", 7, 7, "LOGINS"),
            event("a", 5, 5, "LOGINS"),
        ];
        assert_eq!(
            ids(&select(&events, &all(), Order::NewestFirst, 0)),
            ["m", "a", "z"]
        );
    }

    #[test]
    fn shuffled_is_stable_per_key_and_differs_between_keys() {
        let events: Vec<SimEvent> = (0..50)
            .map(|i| event(&format!("id{i:02}"), i, i, "LOGINS"))
            .collect();
        let one = ids(&select(&events, &all(), Order::Shuffled, 1));
        assert_eq!(one, ids(&select(&events, &all(), Order::Shuffled, 1)));
        assert_ne!(one, ids(&select(&events, &all(), Order::Shuffled, 2)));
        let newest = ids(&select(&events, &all(), Order::NewestFirst, 1));
        assert_ne!(one, newest);
        let mut sorted = one.clone();
        sorted.sort();
        let mut expected = newest;
        expected.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn shuffled_order_keeps_relative_order_when_an_event_arrives() {
        let mut events: Vec<SimEvent> = (0..30)
            .map(|i| event(&format!("id{i:02}"), i, i, "LOGINS"))
            .collect();
        let before = ids(&select(&events, &all(), Order::Shuffled, 7));
        events.push(event("late", 3, 3, "LOGINS"));
        let mut after = ids(&select(&events, &all(), Order::Shuffled, 7));
        after.retain(|id| id != "late");
        assert_eq!(before, after);
    }
}
