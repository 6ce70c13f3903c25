//! Rendering a stored event as the JSON Webex returns: the org's fixed cast (people, apps)
//! and the event's own draws, both from seeds, so the same event renders to the same bytes
//! every time. The store keeps only what filters need and renders a page when it is sent.

use std::borrow::Cow;

use fastrand::Rng;
use serde::Serialize;

use crate::catalog::{self, ADMIN_CATEGORIES, EVENT_TYPES, PEOPLE, RESOURCES, SECURITY_CATEGORIES};
use crate::config::Stream;
use crate::encoding::base64;
use crate::events::{SimEvent, Stored};
use crate::orgs::SimOrg;
use crate::rng::{hash_str, mix, rng_for, uuid};
use crate::selection::Candidate;
use crate::timefmt::format_ms;

/// The fixed cast of a simulated org: its name, people and apps, derived from the seed and
/// the org id.
#[derive(Debug)]
pub(crate) struct World {
    org_id: String,
    org_name: String,
    people: Vec<Person>,
    app_ids: [String; 2],
}

#[derive(Debug)]
struct Person {
    id: String,
    name: &'static str,
    email: String,
}

/// A stored event of a known stream: what selection filters and orders on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoredRef<'a> {
    pub stream: Stream,
    pub position: u32,
    pub event: &'a Stored,
}

impl Candidate for StoredRef<'_> {
    fn created_ms(&self) -> i64 {
        self.event.created_ms
    }
    fn visible_at_ms(&self) -> i64 {
        self.event.visible_at_ms
    }
    fn category(&self) -> Option<&str> {
        category(self.stream, self.event)
    }
    fn resource(&self) -> Option<&str> {
        resource(self.stream, self.event)
    }
    fn event_type(&self) -> Option<&str> {
        event_type(self.stream, self.event)
    }
    fn id_hash(&self) -> u64 {
        mix(&[(self.event.uuid >> 64) as u64, self.event.uuid as u64])
    }
    fn id(&self) -> Cow<'_, str> {
        Cow::Owned(event_id(self.stream, self.event.uuid))
    }
}

fn category(stream: Stream, event: &Stored) -> Option<&'static str> {
    match stream {
        Stream::AdminAudit => Some(ADMIN_CATEGORIES[usize::from(event.kind)].name),
        Stream::SecurityAudit => Some(SECURITY_CATEGORIES[usize::from(event.kind)].0),
        Stream::ComplianceEvents => None,
    }
}

fn resource(stream: Stream, event: &Stored) -> Option<&'static str> {
    (stream == Stream::ComplianceEvents).then(|| RESOURCES[usize::from(event.kind)].0)
}

fn event_type(stream: Stream, event: &Stored) -> Option<&'static str> {
    (stream == Stream::ComplianceEvents).then(|| EVENT_TYPES[usize::from(event.event_type)])
}

/// The event's id: base64 of its UUID for audit events (as in the OpenAPI examples), of
/// `ciscospark://us/EVENT/{uuid}` for compliance events.
pub(crate) fn event_id(stream: Stream, uuid: u128) -> String {
    let text = uuid_text(uuid);
    match stream {
        Stream::AdminAudit | Stream::SecurityAudit => base64(text.as_bytes()),
        Stream::ComplianceEvents => base64(format!("ciscospark://us/EVENT/{text}").as_bytes()),
    }
}

/// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, lowercase.
fn uuid_text(uuid: u128) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (uuid >> 96) as u32,
        (uuid >> 80) as u16,
        (uuid >> 64) as u16,
        (uuid >> 48) as u16,
        uuid & 0xFFFF_FFFF_FFFF
    )
}

/// A random version-4 UUID.
pub(crate) fn draw_uuid(rng: &mut Rng) -> u128 {
    let bits = rng.u128(..);
    let versioned = (bits & !(0xF << 76)) | (0x4 << 76);
    (versioned & !(0x3 << 62)) | (0x2 << 62)
}

/// What filters select on, drawn when the event is generated: the category (audit) or the
/// resource and type (compliance), as indexes into the catalog.
pub(crate) fn draw_kind(rng: &mut Rng, stream: Stream) -> (u8, u8) {
    let index = |i: usize| u8::try_from(i).unwrap_or(u8::MAX);
    match stream {
        Stream::AdminAudit => (index(rng.usize(..ADMIN_CATEGORIES.len())), 0),
        Stream::SecurityAudit => (
            index(catalog::weighted(rng, SECURITY_CATEGORIES, |c| c.3)),
            0,
        ),
        Stream::ComplianceEvents => {
            let resource = catalog::weighted(rng, RESOURCES, |r| r.1);
            let types = RESOURCES[resource].2;
            let chosen = types[rng.usize(..types.len())];
            let event_type = EVENT_TYPES.iter().position(|t| *t == chosen).unwrap_or(0);
            (index(resource), index(event_type))
        }
    }
}

impl World {
    pub(crate) fn new(seed: u64, org: &SimOrg) -> World {
        let mut rng = rng_for(&[seed, 0xC0FFEE, hash_str(&org.id)]);
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
            org_id: org.id.clone(),
            org_name: org.display_name.clone(),
            people,
            app_ids,
        }
    }

    /// The event as tests see it: id, times, filter fields and the JSON served.
    pub(crate) fn sim_event(&self, stream: Stream, event: &Stored) -> SimEvent {
        SimEvent {
            id: event_id(stream, event.uuid),
            created_ms: event.created_ms,
            visible_at_ms: event.visible_at_ms,
            json: self.render(stream, event),
            category: category(stream, event).map(str::to_owned),
            resource: resource(stream, event).map(str::to_owned),
            event_type: event_type(stream, event).map(str::to_owned),
        }
    }

    /// The compact JSON the API returns for this event.
    pub(crate) fn render(&self, stream: Stream, event: &Stored) -> String {
        let mut rng = Rng::with_seed(event.content);
        let id = event_id(stream, event.uuid);
        let created = format_ms(event.created_ms);
        match stream {
            Stream::AdminAudit => self.admin_event(&mut rng, &id, &created, event.kind),
            Stream::SecurityAudit => self.security_event(&mut rng, &id, &created, event.kind),
            Stream::ComplianceEvents => {
                let resource = RESOURCES[usize::from(event.kind)].0;
                let event_type = EVENT_TYPES[usize::from(event.event_type)];
                self.compliance_event(&mut rng, &id, &created, resource, event_type)
            }
        }
    }

    fn person(&self, rng: &mut Rng) -> &Person {
        &self.people[rng.usize(..self.people.len())]
    }

    fn admin_event(&self, rng: &mut Rng, id: &str, created: &str, kind: u8) -> String {
        let category = &ADMIN_CATEGORIES[usize::from(kind)];
        let actor = self.person(rng);
        let (target_id, target_name) = match category.target_type {
            "TargetResourceType.ORG" => (self.org_id.clone(), self.org_name.clone()),
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
        to_json(&AdminAuditEvent {
            data: AdminAuditData {
                actor_org_name: &self.org_name,
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
                target_org_id: &self.org_id,
                action_text: &action,
                target_org_name: &self.org_name,
            },
            created,
            actor_org_id: &self.org_id,
            id,
            actor_id: &actor.id,
        })
    }

    fn security_event(&self, rng: &mut Rng, id: &str, created: &str, kind: u8) -> String {
        let (name, description, action, _) = SECURITY_CATEGORIES[usize::from(kind)];
        let actor = self.person(rng);
        let action = action
            .replace("{actor}", actor.name)
            .replace("{org}", &self.org_name);
        to_json(&SecurityAuditEvent {
            data: SecurityAuditData {
                actor_org_name: &self.org_name,
                event_description: description,
                actor_name: actor.name,
                actor_email: &actor.email,
                actor_user_agent: user_agent(rng),
                tracking_id: &format!("ATLAS_{}_0", uuid(rng)),
                event_category: name,
                actor_ip: &ip(rng),
                action_text: &action,
            },
            created,
            actor_org_id: &self.org_id,
            id,
            actor_id: &actor.id,
        })
    }

    fn compliance_event(
        &self,
        rng: &mut Rng,
        id: &str,
        created: &str,
        resource: &str,
        event_type: &str,
    ) -> String {
        let actor = self.person(rng);
        let data = self.compliance_data(rng, resource, event_type, actor, created);
        to_json(&ComplianceEvent {
            id,
            resource,
            event_type,
            app_id: &self.app_ids[rng.usize(..2)],
            actor_id: &actor.id,
            org_id: &self.org_id,
            created,
            data,
        })
    }

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
                data.org_id = Some(self.org_id.clone());
            }
            "meetings" | "meetingTranscripts" | "convergedRecordings" => {
                let meeting = format!("{}_I_{}", uuid(rng).replace('-', ""), rng.u64(..));
                data.id = Some(meeting.clone());
                data.meeting_id = Some(meeting);
                data.creator_id = Some(actor.id.clone());
                data.org_id = Some(self.org_id.clone());
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
