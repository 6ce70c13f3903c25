//! What the registrar does to an organisation's webhooks: the plan from the webhooks we want
//! and those Webex lists. Ours are named with our prefix; every other webhook is left alone,
//! whatever it delivers. A webhook Webex disabled (100 failed deliveries in 5 minutes) is
//! re-enabled only after Webex's hold-off, and the time it was off is a gap to report: events
//! of that period came only through the polled streams.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::time::Timestamp;

/// How long after we first saw a webhook disabled we re-enable it: Webex refuses sooner.
pub const HOLD_OFF: Duration = Duration::from_secs(5 * 60);

/// One webhook we want in every organisation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    pub resource: String,
    pub event: String,
    pub filter: Option<String>,
}

/// A webhook as Webex lists it (`GET /webhooks?ownedBy=org`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    #[serde(default)]
    pub filter: Option<String>,
    /// `active`, or `inactive`/`disabled` when Webex stopped it.
    pub status: String,
}

/// What one webhook of ours needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Missing: create it, with our name, target and current secret.
    Create(Wanted),
    /// Ours, but its target or name drifted, or it is off and the hold-off has passed: put it
    /// back as we want it (with the current secret, and `status: active`).
    Repair {
        id: String,
        wanted: Wanted,
        why: Vec<&'static str>,
    },
    /// Off for less than the hold-off: wait for the next run.
    Wait { id: String },
    /// Ours and not wanted (a duplicate, a resource no longer configured, a filter changed:
    /// Webex cannot change a filter in place).
    Delete { id: String },
}

/// The registrar's plan for one organisation, and the gaps to record.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Webhooks not ours, never touched.
    pub foreign: usize,
    /// Each webhook of ours that is off: since when we know it (kept between runs).
    pub off_since: BTreeMap<String, Timestamp>,
    /// Periods a webhook of ours was off and is now being re-enabled: `(id, from, to)`.
    pub gaps: Vec<(String, Timestamp, Timestamp)>,
}

/// A period a webhook of ours was off (Webex disabled it): its events of that time came only
/// through the polled streams.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    pub webhook: String,
    /// `resource:event`.
    pub what: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// What the registrar remembers of an organisation's webhooks between runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Each webhook of ours that is off, and since when we know it (epoch milliseconds).
    #[serde(default)]
    pub off_since_ms: BTreeMap<String, i64>,
    /// The most recent gaps, oldest first (at most [`GAPS_KEPT`]).
    #[serde(default)]
    pub gaps: Vec<Gap>,
}

/// Gaps a record keeps: a year of a webhook disabled every few days.
pub const GAPS_KEPT: usize = 200;

impl Record {
    pub fn off_since(&self) -> BTreeMap<String, Timestamp> {
        self.off_since_ms
            .iter()
            .map(|(id, ms)| (id.clone(), Timestamp::from_millis(*ms)))
            .collect()
    }

    /// The record after `plan` was carried out: who is off now, and its gaps added.
    pub fn after(&self, plan: &Plan, listed: &[Listed]) -> Record {
        let what = |id: &str| {
            listed
                .iter()
                .find(|l| l.id == id)
                .map(|l| format!("{}:{}", l.resource, l.event))
                .unwrap_or_default()
        };
        let mut gaps = self.gaps.clone();
        gaps.extend(plan.gaps.iter().map(|(id, from, to)| Gap {
            webhook: id.clone(),
            what: what(id),
            from_ms: from.millis(),
            to_ms: to.millis(),
        }));
        let excess = gaps.len().saturating_sub(GAPS_KEPT);
        gaps.drain(..excess);
        Record {
            off_since_ms: plan
                .off_since
                .iter()
                .filter(|(id, _)| !plan.gaps.iter().any(|(gap, _, _)| gap == *id))
                .map(|(id, at)| (id.clone(), at.millis()))
                .collect(),
            gaps,
        }
    }
}

/// Our name for the webhook of `wanted`: the prefix marks it as ours.
pub fn name_of(prefix: &str, wanted: &Wanted) -> String {
    format!("{prefix} {}:{}", wanted.resource, wanted.event)
}

pub fn plan(
    prefix: &str,
    target_url: &str,
    wanted: &[Wanted],
    listed: &[Listed],
    off_since: &BTreeMap<String, Timestamp>,
    now: Timestamp,
) -> Plan {
    let mut plan = Plan::default();
    // A name that begins with the prefix and a space: "webex-events-to-s3x …" is not ours.
    let marker = format!("{prefix} ");
    let (ours, foreign): (Vec<&Listed>, Vec<&Listed>) =
        listed.iter().partition(|l| l.name.starts_with(&marker));
    plan.foreign = foreign.len();
    let mut kept = Vec::new();
    for want in wanted {
        let mut matching = ours.iter().filter(|l| {
            l.resource == want.resource && l.event == want.event && l.filter == want.filter
        });
        let Some(webhook) = matching.next() else {
            plan.steps.push(Step::Create(want.clone()));
            continue;
        };
        kept.push(webhook.id.as_str());
        let mut why = Vec::new();
        if webhook.target_url != target_url {
            why.push("target URL");
        }
        if webhook.name != name_of(prefix, want) {
            why.push("name");
        }
        if webhook.status != "active" {
            let since = off_since.get(&webhook.id).copied().unwrap_or(now);
            plan.off_since.insert(webhook.id.clone(), since);
            if since.plus(HOLD_OFF) > now {
                plan.steps.push(Step::Wait {
                    id: webhook.id.clone(),
                });
                continue;
            }
            why.push("disabled");
            plan.gaps.push((webhook.id.clone(), since, now));
        }
        if !why.is_empty() {
            plan.steps.push(Step::Repair {
                id: webhook.id.clone(),
                wanted: want.clone(),
                why,
            });
        }
    }
    for webhook in ours {
        if !kept.contains(&webhook.id.as_str()) {
            plan.steps.push(Step::Delete {
                id: webhook.id.clone(),
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "webex-events-to-s3";
    const TARGET: &str = "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks";

    fn want(resource: &str, event: &str) -> Wanted {
        Wanted {
            resource: resource.into(),
            event: event.into(),
            filter: None,
        }
    }

    fn listed(id: &str, want: &Wanted, status: &str) -> Listed {
        Listed {
            id: id.into(),
            name: name_of(PREFIX, want),
            target_url: TARGET.into(),
            resource: want.resource.clone(),
            event: want.event.clone(),
            filter: want.filter.clone(),
            status: status.into(),
        }
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn creates_what_is_missing_and_leaves_what_is_not_ours() {
        let wanted = [want("messages", "created"), want("meetings", "ended")];
        let mut foreign = listed("f1", &wanted[0], "disabled");
        foreign.name = "someone's bot".into();
        let mut lookalike = listed("f2", &wanted[1], "active");
        lookalike.name = format!("{PREFIX}-other meetings:ended");
        let existing = [listed("w1", &wanted[0], "active"), foreign, lookalike];

        let plan = plan(
            PREFIX,
            TARGET,
            &wanted,
            &existing,
            &BTreeMap::new(),
            at("2026-12-03T15:00:00Z"),
        );

        assert_eq!(plan.steps, [Step::Create(wanted[1].clone())]);
        assert_eq!(plan.foreign, 2);
        assert!(plan.gaps.is_empty() && plan.off_since.is_empty());
    }

    #[test]
    fn repairs_drift_and_deletes_duplicates_and_what_is_no_longer_wanted() {
        let wanted = [want("messages", "created"), want("rooms", "updated")];
        let mut moved = listed("w1", &wanted[0], "active");
        moved.target_url = "https://old.example/webhooks".into();
        let duplicate = listed("w2", &wanted[0], "active");
        let mut refiltered = listed("w3", &wanted[1], "active");
        refiltered.filter = Some("roomType=group".into());
        let unwanted = listed("w4", &want("memberships", "deleted"), "active");

        let plan = plan(
            PREFIX,
            TARGET,
            &wanted,
            &[moved, duplicate, refiltered, unwanted],
            &BTreeMap::new(),
            at("2026-12-03T15:00:00Z"),
        );

        assert_eq!(
            plan.steps,
            [
                Step::Repair {
                    id: "w1".into(),
                    wanted: wanted[0].clone(),
                    why: vec!["target URL"]
                },
                Step::Create(wanted[1].clone()),
                Step::Delete { id: "w2".into() },
                Step::Delete { id: "w3".into() },
                Step::Delete { id: "w4".into() },
            ]
        );
    }

    #[test]
    fn a_disabled_webhook_waits_out_the_hold_off_then_is_re_enabled_with_its_gap() {
        let wanted = [want("messages", "created")];
        let off = [listed("w1", &wanted[0], "disabled")];
        let first_seen = at("2026-12-03T15:00:00Z");

        let now = plan(PREFIX, TARGET, &wanted, &off, &BTreeMap::new(), first_seen);
        assert_eq!(now.steps, [Step::Wait { id: "w1".into() }]);
        assert_eq!(
            now.off_since,
            BTreeMap::from([("w1".to_string(), first_seen)])
        );

        let later = first_seen.plus(Duration::from_secs(4 * 60));
        let still = plan(PREFIX, TARGET, &wanted, &off, &now.off_since, later);
        assert_eq!(still.steps, [Step::Wait { id: "w1".into() }]);
        assert_eq!(still.off_since, now.off_since, "the first sighting is kept");

        let after = first_seen.plus(HOLD_OFF);
        let done = plan(PREFIX, TARGET, &wanted, &off, &still.off_since, after);
        assert_eq!(
            done.steps,
            [Step::Repair {
                id: "w1".into(),
                wanted: wanted[0].clone(),
                why: vec!["disabled"]
            }]
        );
        assert_eq!(done.gaps, [("w1".to_string(), first_seen, after)]);

        // Once active again, it is no longer off.
        let active = [listed("w1", &wanted[0], "active")];
        let healed = plan(PREFIX, TARGET, &wanted, &active, &done.off_since, after);
        assert!(healed.steps.is_empty() && healed.off_since.is_empty());
    }

    #[test]
    fn the_record_keeps_who_is_off_and_each_gap_once_and_only_the_latest() {
        let wanted = [want("messages", "created"), want("rooms", "all")];
        let first = at("2026-12-03T15:00:00Z");
        let off = [
            listed("w1", &wanted[0], "disabled"),
            listed("w2", &wanted[1], "disabled"),
        ];
        // Both seen off: remembered, no gap yet.
        let seen = plan(PREFIX, TARGET, &wanted, &off, &BTreeMap::new(), first);
        let record = Record::default().after(&seen, &off);
        assert_eq!(record.off_since_ms.len(), 2);
        assert!(record.gaps.is_empty());
        // After the hold-off both are re-enabled: two gaps from when they were first seen,
        // and nobody is off any more.
        let later = first.plus(HOLD_OFF);
        let healed = plan(PREFIX, TARGET, &wanted, &off, &record.off_since(), later);
        let record = record.after(&healed, &off);
        assert!(record.off_since_ms.is_empty());
        assert_eq!(
            record.gaps,
            [
                Gap {
                    webhook: "w1".into(),
                    what: "messages:created".into(),
                    from_ms: first.millis(),
                    to_ms: later.millis(),
                },
                Gap {
                    webhook: "w2".into(),
                    what: "rooms:all".into(),
                    from_ms: first.millis(),
                    to_ms: later.millis(),
                },
            ]
        );
        // The oldest gaps go first when there are too many.
        let mut full = record.clone();
        full.gaps = (0..GAPS_KEPT as i64)
            .map(|n| Gap {
                webhook: format!("old{n}"),
                what: String::new(),
                from_ms: n,
                to_ms: n + 1,
            })
            .collect();
        let kept = full.after(&healed, &off);
        assert_eq!(kept.gaps.len(), GAPS_KEPT);
        assert_eq!(kept.gaps[0].webhook, "old2");
        assert_eq!(kept.gaps[GAPS_KEPT - 1].webhook, "w2");
    }
}
