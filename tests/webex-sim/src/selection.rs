//! Which held events a query returns, and in what order.

use crate::config::Order;
use crate::events::SimEvent;
use crate::rng::{hash_str, mix};

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
    pub(crate) fn matches(&self, event: &SimEvent) -> bool {
        event.visible_at_ms <= self.as_of_ms
            && event.created_ms >= self.from_ms
            && event.created_ms < self.to_ms
            && self.categories.as_ref().is_none_or(|wanted| {
                event
                    .category
                    .as_deref()
                    .is_some_and(|c| wanted.iter().any(|w| w == c))
            })
            && self
                .resource
                .as_ref()
                .is_none_or(|r| event.resource.as_ref() == Some(r))
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| event.event_type.as_ref() == Some(t))
    }
}

/// An event as selection sees it: with the hash of its id, which the store computes once when
/// the event is generated rather than on every page request (hashing every id of the range
/// on every page was most of the simulator's CPU at millions of events).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held<'a> {
    pub event: &'a SimEvent,
    pub id_hash: u64,
}

impl<'a> From<&'a SimEvent> for Held<'a> {
    fn from(event: &'a SimEvent) -> Self {
        Held {
            event,
            id_hash: hash_str(&event.id),
        }
    }
}

/// The matching events in the order the simulator answers with. `shuffle_key` identifies the
/// query (seed and non-paging parameters), so every page of one query sees the same order.
/// `events` may be any superset of the matches in any order (the store passes the events of
/// the time range, from its index): the result depends only on which events match.
pub(crate) fn select<'a, I>(
    events: I,
    filter: &Filter,
    order: Order,
    shuffle_key: u64,
) -> Vec<&'a SimEvent>
where
    I: IntoIterator,
    I::Item: Into<Held<'a>>,
{
    let mut selected: Vec<Held<'a>> = events
        .into_iter()
        .map(Into::into)
        .filter(|held| filter.matches(held.event))
        .collect();
    match order {
        Order::NewestFirst => selected.sort_by(|a, b| {
            b.event
                .created_ms
                .cmp(&a.event.created_ms)
                .then_with(|| a.event.id.cmp(&b.event.id))
        }),
        Order::Shuffled => selected
            .sort_by_cached_key(|held| (mix(&[shuffle_key, held.id_hash]), held.event.id.as_str())),
    }
    selected.into_iter().map(|held| held.event).collect()
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
