//! The JSON of each API's items, drawn from seeds: the same seed, API, tenant and position
//! give the same bytes. Field names and shapes follow the APIs' reference pages
//! (`docs/design/http-source.md` §8, §9); the values are plausible, not real.

use std::collections::HashMap;

use fastrand::Rng;
use serde::Serialize;

use crate::apis::Api;
use crate::apis::times::{
    NS_PER_MS, NS_PER_S, graph_time, local_time, millis_time, offset_seconds_time,
};
use crate::catalog::{PEOPLE, USER_AGENTS};
use crate::rng::{alphanumeric, hash_str, rng_for, uuid};

/// The fixed cast of one feed: its people and their ids, from the seed and the tenant.
#[derive(Debug)]
pub(crate) struct Cast {
    people: Vec<(&'static str, String, String)>,
    hosts: Vec<(String, String)>,
}

impl Cast {
    pub(crate) fn new(seed: u64, api: Api, tenant: &str) -> Cast {
        let mut rng = rng_for(&[seed, hash_str(tenant), 0xCA57]);
        let domain = if api.is_graph() {
            format!(
                "sim{}.onmicrosoft.com",
                alphanumeric(&mut rng, 6).to_lowercase()
            )
        } else {
            "example.com".to_owned()
        };
        let people = PEOPLE
            .iter()
            .map(|(name, user)| (*name, format!("{user}@{domain}"), uuid(&mut rng)))
            .collect();
        let hosts = (1..=6)
            .map(|n| (format!("WKS-{n:03}.corp.example.com"), uuid(&mut rng)))
            .collect();
        Cast { people, hosts }
    }

    fn person(&self, rng: &mut Rng) -> &(&'static str, String, String) {
        &self.people[rng.usize(..self.people.len())]
    }
}

/// One drawn item.
#[derive(Debug)]
pub(crate) struct Drawn {
    pub key: String,
    pub json: String,
    pub event_type: Option<u64>,
}

/// The digits below the millisecond an API shows: Graph's ticks of 100 ns, Secure Endpoint's
/// nanoseconds; none for APIs that write milliseconds.
pub(crate) fn sub_millisecond_ns(api: Api, rng: &mut Rng) -> i64 {
    match api {
        Api::GraphSignIns | Api::GraphDirectoryAudits => rng.i64(0..10_000) * 100,
        Api::SecureEndpoint => rng.i64(0..NS_PER_MS),
        Api::GeneralA | Api::GeneralB | Api::GeneralC => 0,
    }
}

pub(crate) fn draw(
    cast: &Cast,
    api: Api,
    rng: &mut Rng,
    time_ns: i64,
    sequences: &mut HashMap<&'static str, u64>,
) -> Drawn {
    match api {
        Api::GraphSignIns => sign_in(cast, rng, time_ns),
        Api::GraphDirectoryAudits => directory_audit(cast, rng, time_ns),
        Api::SecureEndpoint => amp_event(cast, rng, time_ns),
        Api::GeneralA => general_a(cast, rng, time_ns),
        Api::GeneralB => general_b(rng, time_ns, sequences),
        Api::GeneralC => general_c(cast, rng, time_ns),
    }
}

fn pick<T: Copy>(rng: &mut Rng, from: &[T]) -> T {
    from[rng.usize(..from.len())]
}

fn ip(rng: &mut Rng) -> String {
    format!("203.0.113.{}", rng.u8(1..=254))
}

fn json(value: &impl Serialize) -> String {
    // Serialising these plain structs of strings and numbers cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignIn<'a> {
    id: String,
    created_date_time: String,
    user_display_name: &'a str,
    user_principal_name: &'a str,
    user_id: &'a str,
    app_id: &'a str,
    app_display_name: &'a str,
    ip_address: String,
    client_app_used: &'a str,
    correlation_id: String,
    conditional_access_status: &'a str,
    is_interactive: bool,
    risk_detail: &'a str,
    risk_level_aggregated: &'a str,
    risk_level_during_sign_in: &'a str,
    risk_state: &'a str,
    // Graph spells this one with an underscore, not in camel case.
    #[serde(rename = "riskEventTypes_v2")]
    risk_event_types_v2: [&'a str; 0],
    resource_display_name: &'a str,
    resource_id: &'a str,
    status: SignInStatus<'a>,
    device_detail: DeviceDetail<'a>,
    location: Location<'a>,
    applied_conditional_access_policies: [&'a str; 0],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignInStatus<'a> {
    error_code: u32,
    failure_reason: Option<&'a str>,
    additional_details: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceDetail<'a> {
    device_id: &'a str,
    display_name: Option<&'a str>,
    operating_system: &'a str,
    browser: &'a str,
    is_compliant: bool,
    is_managed: bool,
    trust_type: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    city: &'a str,
    state: &'a str,
    country_or_region: &'a str,
}

const GRAPH_APPS: &[(&str, &str)] = &[
    (
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
    ),
    ("de8bc8b5-d9f9-48b1-a8ad-b748da725064", "Graph Explorer"),
    (
        "00000003-0000-0ff1-ce00-000000000000",
        "Office 365 SharePoint Online",
    ),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
];

const SIGN_IN_STATUS: &[(u32, Option<&str>)] = &[
    (0, None),
    (0, None),
    (0, None),
    (
        50126,
        Some("Invalid username or password or Invalid on-premise username or password."),
    ),
    (50074, Some("Strong Authentication is required.")),
];

const LOCATIONS: &[(&str, &str, &str)] = &[
    ("Redmond", "Washington", "US"),
    ("Dublin", "Dublin", "IE"),
    ("São Paulo", "São Paulo", "BR"),
    ("Bengaluru", "Karnataka", "IN"),
];

fn sign_in(cast: &Cast, rng: &mut Rng, time_ns: i64) -> Drawn {
    let (name, upn, user_id) = cast.person(rng);
    let (app_id, app_name) = pick(rng, GRAPH_APPS);
    let (error_code, failure_reason) = pick(rng, SIGN_IN_STATUS);
    let (city, state, country) = pick(rng, LOCATIONS);
    let id = uuid(rng);
    let item = SignIn {
        id: id.clone(),
        created_date_time: graph_time(time_ns),
        user_display_name: name,
        user_principal_name: upn,
        user_id,
        app_id,
        app_display_name: app_name,
        ip_address: ip(rng),
        client_app_used: pick(rng, &["Browser", "Mobile Apps and Desktop clients"]),
        correlation_id: uuid(rng),
        conditional_access_status: pick(rng, &["notApplied", "success", "failure"]),
        is_interactive: rng.bool(),
        risk_detail: "none",
        risk_level_aggregated: "none",
        risk_level_during_sign_in: "none",
        risk_state: "none",
        risk_event_types_v2: [],
        resource_display_name: "Microsoft Graph",
        resource_id: "00000003-0000-0000-c000-000000000000",
        status: SignInStatus {
            error_code,
            failure_reason,
            additional_details: None,
        },
        device_detail: DeviceDetail {
            device_id: "",
            display_name: None,
            operating_system: pick(rng, &["Windows 10", "MacOs", "Ios"]),
            browser: pick(rng, &["Edge 120.0.0", "Chrome 121.0.0", "Safari 17.2"]),
            is_compliant: false,
            is_managed: false,
            trust_type: None,
        },
        location: Location {
            city,
            state,
            country_or_region: country,
        },
        applied_conditional_access_policies: [],
    };
    Drawn {
        key: id,
        json: json(&item),
        event_type: None,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryAudit<'a> {
    id: String,
    category: &'a str,
    correlation_id: String,
    result: &'a str,
    result_reason: &'a str,
    activity_display_name: &'a str,
    activity_date_time: String,
    logged_by_service: &'a str,
    operation_type: &'a str,
    initiated_by: InitiatedBy<'a>,
    target_resources: [TargetResource<'a>; 1],
    additional_details: [&'a str; 0],
}

#[derive(Serialize)]
struct InitiatedBy<'a> {
    app: Option<&'a str>,
    user: AuditUser<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditUser<'a> {
    id: &'a str,
    display_name: Option<&'a str>,
    user_principal_name: &'a str,
    ip_address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetResource<'a> {
    id: &'a str,
    display_name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    user_principal_name: &'a str,
    modified_properties: [&'a str; 0],
}

const AUDIT_ACTIVITIES: &[(&str, &str, &str)] = &[
    ("UserManagement", "Add user", "Add"),
    ("UserManagement", "Update user", "Update"),
    ("UserManagement", "Reset user password", "Update"),
    ("GroupManagement", "Add member to group", "Assign"),
    ("RoleManagement", "Add member to role", "Assign"),
    ("ApplicationManagement", "Consent to application", "Assign"),
];

fn directory_audit(cast: &Cast, rng: &mut Rng, time_ns: i64) -> Drawn {
    let (category, activity, operation) = pick(rng, AUDIT_ACTIVITIES);
    let (actor_name, actor_upn, actor_id) = cast.person(rng);
    let (target_name, target_upn, target_id) = cast.person(rng);
    let id = uuid(rng);
    let item = DirectoryAudit {
        id: id.clone(),
        category,
        correlation_id: uuid(rng),
        result: pick(rng, &["success", "success", "failure"]),
        result_reason: "",
        activity_display_name: activity,
        activity_date_time: graph_time(time_ns),
        logged_by_service: "Core Directory",
        operation_type: operation,
        initiated_by: InitiatedBy {
            app: None,
            user: AuditUser {
                id: actor_id,
                display_name: Some(actor_name),
                user_principal_name: actor_upn,
                ip_address: ip(rng),
            },
        },
        target_resources: [TargetResource {
            id: target_id,
            display_name: Some(target_name),
            kind: "User",
            user_principal_name: target_upn,
            modified_properties: [],
        }],
        additional_details: [],
    };
    Drawn {
        key: id,
        json: json(&item),
        event_type: None,
    }
}

#[derive(Serialize)]
struct AmpEvent<'a> {
    /// Above 2^53 and not a float's value: serde writes a `u64` as its exact digits.
    id: u64,
    timestamp: i64,
    timestamp_nanoseconds: i64,
    date: String,
    event_type: &'a str,
    event_type_id: u64,
    connector_guid: &'a str,
    severity: &'a str,
    computer: AmpComputer<'a>,
}

#[derive(Serialize)]
struct AmpComputer<'a> {
    connector_guid: &'a str,
    hostname: &'a str,
    external_ip: String,
    active: bool,
    user: &'a str,
}

/// Event types of Secure Endpoint's `GET /v1/event_types` (ids as published samples show them).
pub(crate) const AMP_EVENT_TYPES: &[(u64, &str, &str)] = &[
    (1_090_519_054, "Threat Detected", "Medium"),
    (553_648_130, "Policy Update", "Low"),
    (554_696_714, "Scan Started", "Low"),
    (554_696_715, "Scan Completed, No Detections", "Low"),
    (1_091_567_628, "Cloud IOC", "High"),
];

/// An id at or above 2^62 that a double cannot hold: a client parsing it as a float changes
/// its last digits, as happens to real Secure Endpoint ids.
fn amp_id(rng: &mut Rng) -> u64 {
    loop {
        let id = rng.u64(1 << 62..1 << 63);
        if (id as f64) as u64 != id {
            return id;
        }
    }
}

fn amp_event(cast: &Cast, rng: &mut Rng, time_ns: i64) -> Drawn {
    let id = amp_id(rng);
    let (event_type_id, event_type, severity) = pick(rng, AMP_EVENT_TYPES);
    let (hostname, connector) = &cast.hosts[rng.usize(..cast.hosts.len())];
    let (_, user, _) = cast.person(rng);
    let item = AmpEvent {
        id,
        timestamp: time_ns.div_euclid(NS_PER_S),
        timestamp_nanoseconds: time_ns.rem_euclid(NS_PER_S),
        date: offset_seconds_time(time_ns),
        event_type,
        event_type_id,
        connector_guid: connector,
        severity,
        computer: AmpComputer {
            connector_guid: connector,
            hostname,
            external_ip: ip(rng),
            active: true,
            user,
        },
    };
    Drawn {
        key: id.to_string(),
        json: json(&item),
        event_type: Some(event_type_id),
    }
}

#[derive(Serialize)]
struct GeneralAItem<'a> {
    id: String,
    occurred_at: String,
    actor: &'a str,
    action: &'a str,
    ip: String,
    user_agent: &'a str,
}

const ACTIONS: &[&str] = &[
    "user.login",
    "user.logout",
    "user.password_changed",
    "role.granted",
    "file.shared",
    "settings.updated",
];

fn general_a(cast: &Cast, rng: &mut Rng, time_ns: i64) -> Drawn {
    let id = format!("evt_{}", alphanumeric(rng, 20));
    let (_, email, _) = cast.person(rng);
    let item = GeneralAItem {
        id: id.clone(),
        occurred_at: millis_time(time_ns),
        actor: email,
        action: pick(rng, ACTIONS),
        ip: ip(rng),
        user_agent: pick(rng, USER_AGENTS),
    };
    Drawn {
        key: id,
        json: json(&item),
        event_type: None,
    }
}

#[derive(Serialize)]
struct GeneralBItem<'a> {
    source: &'a str,
    seq: u64,
    timestamp: i64,
    level: &'a str,
    message: String,
}

const SOURCES: &[&str] = &["fw-01", "fw-02", "vpn-gw", "proxy-eu"];

fn general_b(rng: &mut Rng, time_ns: i64, sequences: &mut HashMap<&'static str, u64>) -> Drawn {
    let source = pick(rng, SOURCES);
    let seq = sequences.entry(source).or_default();
    *seq += 1;
    let item = GeneralBItem {
        source,
        seq: *seq,
        timestamp: time_ns.div_euclid(NS_PER_MS),
        level: pick(rng, &["info", "info", "warning", "error"]),
        message: format!(
            "{} {} port {}",
            pick(rng, &["allowed", "denied", "dropped"]),
            ip(rng),
            rng.u16(1..=65_535)
        ),
    };
    Drawn {
        key: format!("{source}/{}", item.seq),
        json: json(&item),
        event_type: None,
    }
}

#[derive(Serialize)]
struct GeneralCItem<'a> {
    occurred_at: String,
    actor: GeneralCActor<'a>,
    action: &'a str,
    target: &'a str,
    source_ip: String,
}

#[derive(Serialize)]
struct GeneralCActor<'a> {
    name: &'a str,
    email: &'a str,
}

/// Minutes east of UTC that items are written in.
const OFFSETS: &[i32] = &[120, 0, -300, 330, 60];

fn general_c(cast: &Cast, rng: &mut Rng, time_ns: i64) -> Drawn {
    let (name, email, _) = cast.person(rng);
    let (_, target, _) = cast.person(rng);
    let item = GeneralCItem {
        occurred_at: local_time(time_ns, pick(rng, OFFSETS)),
        actor: GeneralCActor { name, email },
        action: pick(rng, ACTIONS),
        target,
        source_ip: ip(rng),
    };
    let json = json(&item);
    Drawn {
        key: json.clone(),
        json,
        event_type: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn one(api: Api, time_ns: i64) -> (Drawn, Value) {
        let cast = Cast::new(1, api, "tenant");
        let drawn = draw(&cast, api, &mut rng_for(&[1]), time_ns, &mut HashMap::new());
        let value = serde_json::from_str(&drawn.json).unwrap();
        (drawn, value)
    }

    const AT: i64 = 1_610_532_788_098_765_432;

    #[test]
    fn graph_items_have_their_shapes() {
        let (drawn, value) = one(Api::GraphSignIns, AT - AT % 100);
        assert_eq!(value["id"], drawn.key.as_str());
        assert_eq!(value["createdDateTime"], "2021-01-13T10:13:08.0987654Z");
        assert!(
            value["userPrincipalName"]
                .as_str()
                .unwrap()
                .ends_with(".onmicrosoft.com")
        );
        assert!(value["status"]["errorCode"].is_u64());
        assert!(value["appDisplayName"].is_string() && value["ipAddress"].is_string());
        let (drawn, value) = one(Api::GraphDirectoryAudits, AT - AT % 100);
        assert_eq!(value["id"], drawn.key.as_str());
        assert_eq!(value["activityDateTime"], "2021-01-13T10:13:08.0987654Z");
        for key in ["activityDisplayName", "category", "result"] {
            assert!(value[key].is_string(), "{key}");
        }
        assert!(value["initiatedBy"]["user"]["userPrincipalName"].is_string());
    }

    #[test]
    fn amp_ids_are_exact_integers_beyond_doubles() {
        let (drawn, value) = one(Api::SecureEndpoint, AT);
        let id: u64 = drawn.key.parse().unwrap();
        assert!(id >= 1 << 53);
        assert_ne!((id as f64) as u64, id);
        assert!(drawn.json.starts_with(&format!("{{\"id\":{id},")));
        assert_eq!(value["timestamp"], 1_610_532_788);
        assert_eq!(value["timestamp_nanoseconds"], 98_765_432);
        assert_eq!(value["date"], "2021-01-13T10:13:08+00:00");
        assert_eq!(value["event_type_id"].as_u64(), drawn.event_type);
        assert!(value["computer"]["connector_guid"].is_string());
        assert!(value["computer"]["hostname"].is_string());
    }

    #[test]
    fn general_items_have_their_identities() {
        let (drawn, value) = one(Api::GeneralA, AT);
        assert_eq!(value["id"], drawn.key.as_str());
        assert_eq!(value["occurred_at"], "2021-01-13T10:13:08.098Z");

        let (drawn, value) = one(Api::GeneralB, AT);
        assert!(value.get("id").is_none());
        assert_eq!(
            drawn.key,
            format!("{}/{}", value["source"].as_str().unwrap(), value["seq"])
        );
        assert_eq!(value["timestamp"], 1_610_532_788_098_i64);

        let (drawn, value) = one(Api::GeneralC, AT);
        assert!(value.get("id").is_none());
        assert_eq!(drawn.key, drawn.json);
        let time = value["occurred_at"].as_str().unwrap();
        assert_eq!(
            crate::apis::times::parse_ns(time),
            Some(AT - AT % NS_PER_MS)
        );
    }
}
