//! Event generation and storage. Generation is deterministic: the same seed, stream and number
//! of events generated before give the same events, byte for byte.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fastrand::Rng;
use serde::Serialize;

use crate::catalog::{self, ADMIN_CATEGORIES, PEOPLE, RESOURCES, SECURITY_CATEGORIES};
use crate::clock::duration_ms;
use crate::config::Stream;
use crate::encoding::base64;
use crate::rng::{hash_str, rng_for, uuid};
use crate::selection::Held;
use crate::timefmt::format_ms;

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

/// One generated event as the simulator holds it.
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

/// Every generated event, per stream.
#[derive(Debug, Default)]
pub(crate) struct EventStore {
    streams: HashMap<Stream, StreamEvents>,
    ids: HashSet<String>,
}

/// One stream's events in generation order, plus their positions sorted by `created`, so a
/// page request touches only the events of its time range: with millions of events held, a
/// scan of all of them per page made the simulator the bottleneck of `make bench`.
#[derive(Debug, Default)]
struct StreamEvents {
    events: Vec<SimEvent>,
    /// `hash_str` of each event's id, by position: the shuffled order's key.
    id_hashes: Vec<u64>,
    by_created: Vec<u32>,
}

/// What a stream without events looks like, to borrow for as long as the store.
static NO_EVENTS: StreamEvents = StreamEvents {
    events: Vec::new(),
    id_hashes: Vec::new(),
    by_created: Vec::new(),
};

impl EventStore {
    pub(crate) fn events(&self, stream: Stream) -> &[SimEvent] {
        self.streams
            .get(&stream)
            .map(|s| s.events.as_slice())
            .unwrap_or(&[])
    }

    /// The events of `stream` created in `[from_ms, to_ms)`, in no particular order.
    pub(crate) fn created_between(
        &self,
        stream: Stream,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Iterator<Item = Held<'_>> {
        let held = self.streams.get(&stream).unwrap_or(&NO_EVENTS);
        let (events, hashes, index) = (
            held.events.as_slice(),
            held.id_hashes.as_slice(),
            held.by_created.as_slice(),
        );
        let created = |position: &u32| events[*position as usize].created_ms;
        let start = index.partition_point(|p| created(p) < from_ms);
        let end = start + index[start..].partition_point(|p| created(p) < to_ms);
        index[start..end].iter().map(move |position| Held {
            event: &events[*position as usize],
            id_hash: hashes[*position as usize],
        })
    }

    /// Appends `spec.count` events to `stream` and returns them.
    ///
    /// # Panics
    /// See [`EventStore::append`].
    pub(crate) fn generate(
        &mut self,
        seed: u64,
        org_id: &str,
        stream: Stream,
        spec: &GenerateSpec,
    ) -> Vec<SimEvent> {
        let first = self.append(seed, org_id, stream, spec);
        self.events(stream)[first..].to_vec()
    }

    /// Appends `spec.count` events to `stream` without a copy of them for the caller (millions
    /// of events would be held twice) and returns the position of the first new one.
    ///
    /// # Panics
    /// When events are asked for in an empty range (`to_ms <= from_ms`): a test bug; or when a
    /// stream would hold 2^32 events (memory runs out long before).
    pub(crate) fn append(
        &mut self,
        seed: u64,
        org_id: &str,
        stream: Stream,
        spec: &GenerateSpec,
    ) -> usize {
        assert!(
            spec.count == 0 || spec.to_ms > spec.from_ms,
            "GenerateSpec needs from_ms < to_ms, got [{}, {})",
            spec.from_ms,
            spec.to_ms
        );
        let held = self.events(stream).len() as u64;
        let mut rng = rng_for(&[seed, stream.tag(), held]);
        let shared = fraction(spec.shared_timestamp_fraction);
        let late = fraction(spec.late_fraction);
        let max_lateness_ms = duration_ms(spec.max_lateness);
        let world = World::new(seed, org_id);

        let mut batch: Vec<SimEvent> = Vec::with_capacity(spec.count);
        for _ in 0..spec.count {
            let created_ms = if !batch.is_empty() && rng.f64() < shared {
                batch[rng.usize(..batch.len())].created_ms
            } else {
                rng.i64(spec.from_ms..spec.to_ms)
            };
            let visible_at_ms = if max_lateness_ms > 0 && rng.f64() < late {
                created_ms.saturating_add(rng.i64(1..=max_lateness_ms))
            } else {
                created_ms
            };
            let id = self.unique_id(&mut rng, stream);
            let event = match stream {
                Stream::AdminAudit => world.admin_event(&mut rng, id, created_ms),
                Stream::SecurityAudit => world.security_event(&mut rng, id, created_ms),
                Stream::ComplianceEvents => world.compliance_event(&mut rng, id, created_ms),
            };
            batch.push(SimEvent {
                visible_at_ms,
                ..event
            });
        }
        let held = self.streams.entry(stream).or_default();
        let first = held.events.len();
        held.id_hashes
            .extend(batch.iter().map(|event| hash_str(&event.id)));
        held.events.extend(batch);
        let positions = u32::try_from(held.events.len())
            .expect("a simulator stream holds fewer than 2^32 events");
        held.by_created.extend(first as u32..positions);
        let events = &held.events;
        held.by_created
            .sort_by_key(|position| events[*position as usize].created_ms);
        first
    }

    /// Ids are unique across all streams. A collision of random UUIDs is all but impossible,
    /// but drawing again keeps the guarantee absolute and still deterministic.
    fn unique_id(&mut self, rng: &mut Rng, stream: Stream) -> String {
        loop {
            let uuid = uuid(rng);
            let id = match stream {
                // Audit ids in the OpenAPI examples are base64 of a bare UUID.
                Stream::AdminAudit | Stream::SecurityAudit => base64(uuid.as_bytes()),
                Stream::ComplianceEvents => {
                    base64(format!("ciscospark://us/EVENT/{uuid}").as_bytes())
                }
            };
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }
}

fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// The fixed cast of a simulated org: its people and apps, derived from the seed.
struct World<'a> {
    org_id: &'a str,
    people: Vec<Person>,
    app_ids: [String; 2],
}

struct Person {
    id: String,
    name: &'static str,
    email: String,
}

impl<'a> World<'a> {
    fn new(seed: u64, org_id: &'a str) -> World<'a> {
        let mut rng = rng_for(&[seed, 0xC0FFEE]);
        let people = PEOPLE
            .iter()
            .map(|(name, local)| Person {
                id: webex_id("PEOPLE", &uuid(&mut rng)),
                name,
                email: format!("{local}@example.com"),
            })
            .collect();
        let app_ids = [
            webex_id("APPLICATION", &uuid(&mut rng)),
            webex_id("APPLICATION", &uuid(&mut rng)),
        ];
        World {
            org_id,
            people,
            app_ids,
        }
    }

    fn person(&self, rng: &mut Rng) -> &Person {
        &self.people[rng.usize(..self.people.len())]
    }

    fn admin_event(&self, rng: &mut Rng, id: String, created_ms: i64) -> SimEvent {
        let category = &ADMIN_CATEGORIES[rng.usize(..ADMIN_CATEGORIES.len())];
        let actor = self.person(rng);
        let (target_id, target_name) = match category.target_type {
            "TargetResourceType.ORG" => (self.org_id.to_owned(), catalog::ORG_NAME.to_owned()),
            "TargetResourceType.DEVICE" => (
                webex_id("DEVICE", &uuid(rng)),
                format!("Room Kit {}", rng.u32(100..1000)),
            ),
            _ => {
                let target = self.person(rng);
                (target.id.clone(), target.name.to_owned())
            }
        };
        let action = category
            .action
            .replace("{actor}", actor.name)
            .replace("{target}", &target_name);
        let json = to_json(&AdminAuditEvent {
            data: AdminAuditData {
                actor_org_name: catalog::ORG_NAME,
                target_name: &target_name,
                event_description: category.description,
                actor_name: actor.name,
                actor_email: &actor.email,
                admin_roles: &["Full_Admin"],
                tracking_id: &format!("ATLAS_{}_0", uuid(rng)),
                target_type: category.target_type,
                target_id: &target_id,
                event_category: &format!("EventCategory.{}", category.name),
                actor_user_agent: user_agent(rng),
                actor_ip: &ip(rng),
                target_org_id: self.org_id,
                action_text: &action,
                target_org_name: catalog::ORG_NAME,
            },
            created: &format_ms(created_ms),
            actor_org_id: self.org_id,
            id: &id,
            actor_id: &actor.id,
        });
        SimEvent {
            id,
            created_ms,
            visible_at_ms: created_ms,
            json,
            category: Some(category.name.to_owned()),
            resource: None,
            event_type: None,
        }
    }

    fn security_event(&self, rng: &mut Rng, id: String, created_ms: i64) -> SimEvent {
        let (name, description, action, _) =
            SECURITY_CATEGORIES[catalog::weighted(rng, SECURITY_CATEGORIES, |c| c.3)];
        let actor = self.person(rng);
        let action = action
            .replace("{actor}", actor.name)
            .replace("{org}", catalog::ORG_NAME);
        let json = to_json(&SecurityAuditEvent {
            data: SecurityAuditData {
                actor_org_name: catalog::ORG_NAME,
                event_description: description,
                actor_name: actor.name,
                actor_email: &actor.email,
                actor_user_agent: user_agent(rng),
                tracking_id: &format!("ATLAS_{}_0", uuid(rng)),
                event_category: name,
                actor_ip: &ip(rng),
                action_text: &action,
            },
            created: &format_ms(created_ms),
            actor_org_id: self.org_id,
            id: &id,
            actor_id: &actor.id,
        });
        SimEvent {
            id,
            created_ms,
            visible_at_ms: created_ms,
            json,
            category: Some(name.to_owned()),
            resource: None,
            event_type: None,
        }
    }

    fn compliance_event(&self, rng: &mut Rng, id: String, created_ms: i64) -> SimEvent {
        let (resource, _, types) = RESOURCES[catalog::weighted(rng, RESOURCES, |r| r.1)];
        let event_type = types[rng.usize(..types.len())];
        let actor = self.person(rng);
        let created = format_ms(created_ms);
        let data = self.compliance_data(rng, resource, event_type, actor, &created);
        let json = to_json(&ComplianceEvent {
            id: &id,
            resource,
            event_type,
            app_id: &self.app_ids[rng.usize(..2)],
            actor_id: &actor.id,
            org_id: self.org_id,
            created: &created,
            data,
        });
        SimEvent {
            id,
            created_ms,
            visible_at_ms: created_ms,
            json,
            category: None,
            resource: Some(resource.to_owned()),
            event_type: Some(event_type.to_owned()),
        }
    }

    /// `data` differs per resource, as in Webex; the fields come from the OpenAPI `Event.data`.
    fn compliance_data(
        &self,
        rng: &mut Rng,
        resource: &str,
        event_type: &str,
        actor: &Person,
        created: &str,
    ) -> ComplianceData {
        let room_id = webex_id("ROOM", &uuid(rng));
        let room_type = if rng.bool() { "group" } else { "direct" };
        let mut data = ComplianceData {
            created: Some(created.to_owned()),
            ..ComplianceData::default()
        };
        let in_room = |data: &mut ComplianceData, kind: &str, rng: &mut Rng| {
            data.id = Some(webex_id(kind, &uuid(rng)));
            data.room_id = Some(room_id.clone());
            data.room_type = Some(room_type.to_owned());
            data.person_id = Some(actor.id.clone());
            data.person_email = Some(actor.email.clone());
        };
        match resource {
            "messages" => {
                in_room(&mut data, "MESSAGE", rng);
                if event_type != "deleted" {
                    data.text = Some(format!("Status update #{}", rng.u32(1..10_000)));
                }
            }
            "memberships" => in_room(&mut data, "MEMBERSHIP", rng),
            "files" | "file_transcodings" => in_room(&mut data, "CONTENT", rng),
            "tabs" => in_room(&mut data, "TAB", rng),
            "attachmentActions" => in_room(&mut data, "ATTACHMENT_ACTION", rng),
            "rooms" => {
                data.id = Some(room_id.clone());
                data.room_type = Some(room_type.to_owned());
                data.org_id = Some(self.org_id.to_owned());
            }
            "meetings" | "meetingTranscripts" | "convergedRecordings" => {
                let meeting = format!("{}_I_{}", uuid(rng).replace('-', ""), rng.u64(..));
                data.id = Some(meeting.clone());
                data.meeting_id = Some(meeting);
                data.creator_id = Some(actor.id.clone());
                data.org_id = Some(self.org_id.to_owned());
                if resource == "meetings" {
                    let yes_no = |rng: &mut Rng| if rng.bool() { "yes" } else { "no" };
                    data.transcription_enabled = Some(yes_no(rng).to_owned());
                    data.recording_enabled = Some(yes_no(rng).to_owned());
                    data.has_post_meetings_chat = Some(yes_no(rng).to_owned());
                }
            }
            "meetingMessages" => {
                data.id = Some(webex_id("MEETING_MESSAGE", &uuid(rng)));
                data.meeting_id = Some(uuid(rng).replace('-', ""));
                data.person_id = Some(actor.id.clone());
                data.person_email = Some(actor.email.clone());
                if event_type != "deleted" {
                    data.text = Some("Can everyone see my screen?".to_owned());
                }
            }
            "call_records" | "businessTexts" => {
                data.corelation_id = Some(uuid(rng));
                data.call_type = Some("SIP_ENTERPRISE".to_owned());
                data.user_id = Some(actor.id.clone());
                data.user_type = Some("User".to_owned());
                data.call_direction = Some(
                    if rng.bool() {
                        "ORIGINATING"
                    } else {
                        "TERMINATING"
                    }
                    .to_owned(),
                );
                data.is_call_answered = Some(rng.bool().to_string());
                data.call_duration_seconds = Some(rng.u32(0..3_600).to_string());
                data.call_start_time = Some(created.to_owned());
            }
            _ => data.id = Some(webex_id("RESOURCE", &uuid(rng))),
        }
        data
    }
}

fn webex_id(kind: &str, uuid: &str) -> String {
    base64(format!("ciscospark://us/{kind}/{uuid}").as_bytes())
}

fn user_agent(rng: &mut Rng) -> &'static str {
    catalog::USER_AGENTS[rng.usize(..catalog::USER_AGENTS.len())]
}

fn ip(rng: &mut Rng) -> String {
    format!("128.107.{}.{}", rng.u8(..), rng.u8(1..255))
}

/// Serialises through structs, not `json!` maps, so the key order is the declared one whatever
/// serde_json features other crates switch on (`preserve_order` would change map ordering).
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain structs of strings always serialise")
}

// Key order of the event shapes follows the OpenAPI examples.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminAuditEvent<'a> {
    data: AdminAuditData<'a>,
    created: &'a str,
    actor_org_id: &'a str,
    id: &'a str,
    actor_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminAuditData<'a> {
    actor_org_name: &'a str,
    target_name: &'a str,
    event_description: &'a str,
    actor_name: &'a str,
    actor_email: &'a str,
    admin_roles: &'a [&'a str],
    tracking_id: &'a str,
    target_type: &'a str,
    target_id: &'a str,
    event_category: &'a str,
    actor_user_agent: &'a str,
    actor_ip: &'a str,
    target_org_id: &'a str,
    action_text: &'a str,
    target_org_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityAuditEvent<'a> {
    data: SecurityAuditData<'a>,
    created: &'a str,
    actor_org_id: &'a str,
    id: &'a str,
    actor_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityAuditData<'a> {
    actor_org_name: &'a str,
    event_description: &'a str,
    actor_name: &'a str,
    actor_email: &'a str,
    actor_user_agent: &'a str,
    tracking_id: &'a str,
    event_category: &'a str,
    actor_ip: &'a str,
    action_text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComplianceEvent<'a> {
    id: &'a str,
    resource: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    app_id: &'a str,
    actor_id: &'a str,
    org_id: &'a str,
    created: &'a str,
    data: ComplianceData,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ComplianceData {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    person_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    person_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meeting_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creator_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transcription_enabled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recording_enabled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_post_meetings_chat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    corelation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_call_answered: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_duration_seconds: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_ORG_ID;

    const DAY: i64 = 86_400_000;

    fn spec(count: usize) -> GenerateSpec {
        GenerateSpec {
            shared_timestamp_fraction: 0.3,
            late_fraction: 0.2,
            max_lateness: Duration::from_secs(600),
            ..GenerateSpec::new(count, 1_000 * DAY, 1_001 * DAY)
        }
    }

    fn generate(store: &mut EventStore, seed: u64, stream: Stream, count: usize) -> Vec<SimEvent> {
        store.generate(seed, DEFAULT_ORG_ID, stream, &spec(count))
    }

    #[test]
    fn same_seed_same_bytes() {
        for stream in Stream::ALL {
            let a = generate(&mut EventStore::default(), 9, stream, 50);
            let b = generate(&mut EventStore::default(), 9, stream, 50);
            assert_eq!(a, b, "{stream:?}");
            let c = generate(&mut EventStore::default(), 10, stream, 50);
            assert_ne!(a, c, "{stream:?}");
        }
    }

    #[test]
    fn later_batches_continue_rather_than_repeat() {
        let mut store = EventStore::default();
        let first = generate(&mut store, 1, Stream::AdminAudit, 20);
        let second = generate(&mut store, 1, Stream::AdminAudit, 20);
        assert_ne!(first, second);
        assert_eq!(store.events(Stream::AdminAudit).len(), 40);

        // The second batch depends on how many were generated before, not on the history.
        let mut other = EventStore::default();
        generate(&mut other, 1, Stream::AdminAudit, 20);
        assert_eq!(generate(&mut other, 1, Stream::AdminAudit, 20), second);
    }

    #[test]
    fn created_between_finds_exactly_the_events_of_the_range() {
        let mut store = EventStore::default();
        // Two batches, so the index must merge later events into earlier ones.
        generate(&mut store, 3, Stream::ComplianceEvents, 300);
        generate(&mut store, 3, Stream::ComplianceEvents, 300);
        let all = store.events(Stream::ComplianceEvents);
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
            let mut found: Vec<&str> = store
                .created_between(Stream::ComplianceEvents, from_ms, to_ms)
                .map(|held| {
                    assert_eq!(held.id_hash, hash_str(&held.event.id));
                    held.event.id.as_str()
                })
                .collect();
            let mut expected: Vec<&str> = all
                .iter()
                .filter(|e| e.created_ms >= from_ms && e.created_ms < to_ms)
                .map(|e| e.id.as_str())
                .collect();
            found.sort_unstable();
            expected.sort_unstable();
            assert_eq!(found, expected, "[{from_ms}, {to_ms})");
        }
        assert_eq!(
            store
                .created_between(Stream::AdminAudit, i64::MIN, i64::MAX)
                .count(),
            0
        );
    }

    #[test]
    fn append_stores_what_generate_returns() {
        let mut appended = EventStore::default();
        let first = appended.append(5, DEFAULT_ORG_ID, Stream::AdminAudit, &spec(30));
        assert_eq!(first, 0);
        assert_eq!(
            appended.append(5, DEFAULT_ORG_ID, Stream::AdminAudit, &spec(30)),
            30
        );
        let mut generated = EventStore::default();
        let mut returned = generate(&mut generated, 5, Stream::AdminAudit, 30);
        returned.extend(generate(&mut generated, 5, Stream::AdminAudit, 30));
        assert_eq!(appended.events(Stream::AdminAudit), returned.as_slice());
    }

    #[test]
    fn ids_are_unique_across_streams() {
        let mut store = EventStore::default();
        let mut ids = HashSet::new();
        for stream in Stream::ALL {
            for event in generate(&mut store, 1, stream, 500) {
                assert!(ids.insert(event.id), "duplicate id");
            }
        }
    }

    #[test]
    fn times_respect_the_spec() {
        let mut store = EventStore::default();
        let events = generate(&mut store, 4, Stream::ComplianceEvents, 2_000);
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
        let mut store = EventStore::default();
        let events = store.generate(
            2,
            DEFAULT_ORG_ID,
            Stream::SecurityAudit,
            &GenerateSpec::new(500, 0, 1_000_000_000),
        );
        assert!(events.iter().all(|e| e.visible_at_ms == e.created_ms));
        let distinct: HashSet<i64> = events.iter().map(|e| e.created_ms).collect();
        assert!(distinct.len() > 495);
    }

    #[test]
    fn admin_json_has_the_openapi_shape() {
        let mut store = EventStore::default();
        let event = generate(&mut store, 1, Stream::AdminAudit, 1).remove(0);
        let value: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        assert_eq!(value["id"], event.id.as_str());
        assert_eq!(value["created"], format_ms(event.created_ms).as_str());
        assert_eq!(value["actorOrgId"], DEFAULT_ORG_ID);
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
    }

    #[test]
    fn security_and_compliance_json_have_their_shapes() {
        let mut store = EventStore::default();
        let security = generate(&mut store, 1, Stream::SecurityAudit, 1).remove(0);
        let value: serde_json::Value = serde_json::from_str(&security.json).unwrap();
        let category = value["data"]["eventCategory"].as_str().unwrap();
        assert!(["LOGINS", "LOGOUT"].contains(&category));
        assert_eq!(security.category.as_deref(), Some(category));

        for event in generate(&mut store, 1, Stream::ComplianceEvents, 200) {
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
    #[should_panic(expected = "from_ms < to_ms")]
    fn empty_range_is_a_test_bug() {
        EventStore::default().generate(
            1,
            DEFAULT_ORG_ID,
            Stream::AdminAudit,
            &GenerateSpec::new(1, 5, 5),
        );
    }
}
