//! Many organisations: the organizations list, partner administrators, per-org events and
//! refusals, dense bursts, and a rate limit that stays per client across orgs.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use webex_sim::{
    AUDIT_SCOPE, COMPLIANCE_SCOPE, DEFAULT_ORG_ID, DEFAULT_START_MS, GenerateSpec,
    ORGANIZATIONS_SCOPE, Order, SimConfig, SimEvent, SimOrg, SimPerson, Stream, org_id_for,
};

use crate::support::{DAY_MS, Fixture, error_message, iso, next_link, start};

const NOW: i64 = DEFAULT_START_MS;
const DAY: Duration = Duration::from_secs(86_400);

/// A simulator with customers 1..=3 registered; the home admin manages 1 and 2.
struct Partnered {
    f: Fixture,
    /// Customer orgs 1, 2 and 3.
    customers: [String; 3],
    /// The home admin, a partner administrator: audit + organizations scopes.
    partner: String,
    /// A colleague in the home org, an ordinary administrator: the same scopes.
    ordinary: String,
}

async fn partnered(config: SimConfig) -> Partnered {
    let f = start(config).await;
    let customers = [1, 2, 3].map(|n| SimOrg::customer(n).id);
    for n in 1..=3 {
        f.sim.add_org(SimOrg::customer(n));
    }
    f.sim.set_managed_orgs(
        &f.sim.admin(),
        [&customers[0], &customers[1]].map(String::as_str),
    );
    let scopes = [AUDIT_SCOPE, ORGANIZATIONS_SCOPE];
    let partner = f.sim.issue_access_token(&scopes, DAY);
    let colleague = SimPerson::new("colleague@example.com", "Col League", DEFAULT_ORG_ID);
    let ordinary = f.sim.issue_access_token_as(&colleague, &scopes, DAY);
    Partnered {
        f,
        customers,
        partner,
        ordinary,
    }
}

fn ids(events: &[SimEvent]) -> HashSet<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// The admin audit (or security audit) query for `org_id` over the last day.
fn audit_query(stream: Stream, org_id: &str, max: u32) -> Vec<(&'static str, String)> {
    let (from, to) = match stream {
        Stream::SecurityAudit => ("startTime", "endTime"),
        _ => ("from", "to"),
    };
    vec![
        ("orgId", org_id.to_owned()),
        (from, iso(NOW - DAY_MS)),
        (to, iso(NOW)),
        ("max", max.to_string()),
    ]
}

/// Every id of every page of `stream` for `org_id`, following `Link`.
async fn all_audit_ids(f: &Fixture, token: &str, stream: Stream, org_id: &str) -> Vec<String> {
    let first = f
        .get(stream.path(), token, &audit_query(stream, org_id, 40))
        .await;
    f.follow_links(first, token).await.0
}

#[tokio::test]
async fn organizations_list_a_partners_customers_and_only_the_own_org_otherwise() {
    let p = partnered(SimConfig::default()).await;
    let f = &p.f;

    let response = f.get("/organizations", &p.partner, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(next_link(&response).is_none(), "the list is not paginated");
    let body = json(response).await;
    let items = body["items"].as_array().unwrap();
    let listed: Vec<&str> = items.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [DEFAULT_ORG_ID, &p.customers[0], &p.customers[1]]);
    assert_eq!(items[0]["displayName"], "Sim Org Inc.");
    assert_eq!(items[1]["displayName"], "Sim Customer 001");
    assert_eq!(items[1]["created"], "2024-01-02T00:00:00+00:00");
    assert_eq!(p.customers[0], org_id_for("sim-customer-001"));

    // Not paginated: a `max` changes nothing.
    let response = f
        .get("/organizations", &p.partner, &[("max", "1".into())])
        .await;
    assert!(next_link(&response).is_none());
    assert_eq!(json(response).await["items"].as_array().unwrap().len(), 3);

    let body = json(f.get("/organizations", &p.ordinary, &[]).await).await;
    let listed: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [DEFAULT_ORG_ID]);

    // One org by id: visible, someone else's, unknown.
    let one = format!("/organizations/{}", p.customers[0]);
    let response = f.get(&one, &p.partner, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["displayName"], "Sim Customer 001");
    let response = f.get(&one, &p.ordinary, &[]).await;
    assert_eq!(response.status(), 403);
    assert!(error_message(response).await.contains(&p.customers[0]));
    let unknown = f.get("/organizations/nope", &p.partner, &[]).await;
    assert_eq!(unknown.status(), 404);

    // The scope is needed, and a token.
    let audit_only = f.sim.issue_access_token(&[AUDIT_SCOPE], DAY);
    let response = f.get("/organizations", &audit_only, &[]).await;
    assert_eq!(response.status(), 403);
    assert!(error_message(response).await.contains(ORGANIZATIONS_SCOPE));
    assert_eq!(f.get("/organizations", "made-up", &[]).await.status(), 401);

    // The partner loses its customers: its own org only, for the token it already holds.
    f.sim.set_managed_orgs(&f.sim.admin(), Vec::<String>::new());
    let body = json(f.get("/organizations", &p.partner, &[]).await).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn audit_events_are_held_per_org_and_never_cross() {
    let p = partnered(SimConfig {
        order: Order::Shuffled,
        ..SimConfig::default()
    })
    .await;
    let f = &p.f;
    let spec = || GenerateSpec {
        shared_timestamp_fraction: 0.3,
        ..GenerateSpec::new(120, NOW - DAY_MS, NOW)
    };
    for stream in [Stream::AdminAudit, Stream::SecurityAudit] {
        let home = f.sim.generate(stream, spec());
        let one = f.sim.generate_for_org(&p.customers[0], stream, spec());
        let two = f.sim.generate_for_org(&p.customers[1], stream, spec());
        assert!(ids(&home).is_disjoint(&ids(&one)) && ids(&one).is_disjoint(&ids(&two)));
        assert_eq!(f.sim.events_for_org(&p.customers[0], stream), one);
        assert_eq!(f.sim.event_count_for_org(&p.customers[1], stream), 120);

        for (org_id, expected) in [
            (DEFAULT_ORG_ID, &home),
            (p.customers[0].as_str(), &one),
            (p.customers[1].as_str(), &two),
        ] {
            let got = all_audit_ids(f, &p.partner, stream, org_id).await;
            assert_eq!(got.len(), 120, "{stream:?} {org_id}: duplicates or losses");
            assert_eq!(got.into_iter().collect::<HashSet<_>>(), ids(expected));
            for event in expected.iter() {
                let value: Value = serde_json::from_str(&event.json).unwrap();
                assert_eq!(value["actorOrgId"], org_id);
            }
        }
        // The ordinary admin's home org: the same events as the partner sees there.
        let got = all_audit_ids(f, &p.ordinary, stream, DEFAULT_ORG_ID).await;
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), ids(&home));
    }
    // Customer 3 has none, and nobody here may read it anyway.
    let response = f
        .get(
            "/adminAudit/events",
            &p.partner,
            &audit_query(Stream::AdminAudit, &p.customers[2], 40),
        )
        .await;
    assert_eq!(response.status(), 403);

    let logged: HashSet<Option<String>> = f.sim.requests().into_iter().map(|r| r.org_id).collect();
    assert!(logged.contains(&Some(p.customers[1].clone())));
    let summary = f.sim.request_summary();
    assert_eq!(summary.events_served_by_org[&p.customers[0]], 2 * 120);
}

#[tokio::test]
async fn compliance_events_are_those_of_the_tokens_own_org() {
    let p = partnered(SimConfig::default()).await;
    let f = &p.f;
    let home = f.sim.generate(
        Stream::ComplianceEvents,
        GenerateSpec::new(30, NOW - DAY_MS, NOW),
    );
    let one = f.sim.generate_for_org(
        &p.customers[0],
        Stream::ComplianceEvents,
        GenerateSpec::new(20, NOW - DAY_MS, NOW),
    );
    let officer = SimPerson::new("officer@customer1.example", "Co Officer", &p.customers[0]);
    let customer_token = f
        .sim
        .issue_access_token_as(&officer, &[COMPLIANCE_SCOPE], DAY);

    let query = [("max", "1000".to_owned())];
    for (token, expected, org_id) in [
        (&f.compliance, &home, DEFAULT_ORG_ID),
        (&customer_token, &one, p.customers[0].as_str()),
    ] {
        let body = f.get("/events", token, &query).await.text().await.unwrap();
        let value: Value = serde_json::from_str(&body).unwrap();
        let items = value["items"].as_array().unwrap();
        let got: HashSet<String> = items
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, ids(expected), "{org_id}");
        assert!(items.iter().all(|item| item["orgId"] == org_id));
    }
    // A partner's compliance token reads its own org's events only: `/events` has no orgId.
    let partner_compliance = f.sim.issue_access_token(&[COMPLIANCE_SCOPE], DAY);
    let response = f
        .get(
            "/events",
            &partner_compliance,
            &[("max", "1000".into()), ("orgId", p.customers[0].clone())],
        )
        .await;
    let body = response.text().await.unwrap();
    assert_eq!(crate::support::item_ids(&body).len(), 30);
    let last = f.sim.requests().pop().unwrap();
    assert_eq!(last.org_id.as_deref(), Some(DEFAULT_ORG_ID));
}

#[tokio::test]
async fn an_org_the_token_may_not_see_is_refused_with_403() {
    let p = partnered(SimConfig::default()).await;
    let f = &p.f;
    f.sim.generate_for_org(
        &p.customers[0],
        Stream::AdminAudit,
        GenerateSpec::new(5, NOW - DAY_MS, NOW),
    );
    let customer_one = audit_query(Stream::AdminAudit, &p.customers[0], 40);
    let cases = [
        (
            &p.ordinary,
            &p.customers[0],
            "an ordinary admin, a customer org",
        ),
        (
            &p.partner,
            &p.customers[2],
            "a partner, a customer of another partner",
        ),
        (
            &p.partner,
            &"EVIL-ORG".to_owned(),
            "a partner, an unknown org",
        ),
    ];
    for (token, org_id, case) in cases {
        for stream in [Stream::AdminAudit, Stream::SecurityAudit] {
            let response = f
                .get(stream.path(), token, &audit_query(stream, org_id, 40))
                .await;
            assert_eq!(response.status(), 403, "{case} {stream:?}");
            assert!(
                error_message(response).await.contains(org_id.as_str()),
                "{case}"
            );
        }
    }
    assert_eq!(
        f.get("/adminAudit/events", &p.partner, &customer_one)
            .await
            .status(),
        200
    );
    // The partner loses access to customer 1: its token is refused from the next request on.
    f.sim
        .set_managed_orgs(&f.sim.admin(), [p.customers[1].clone()]);
    let response = f.get("/adminAudit/events", &p.partner, &customer_one).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_refused_org_answers_403_per_stream_until_restored() {
    let p = partnered(SimConfig::default()).await;
    let f = &p.f;
    let [one, two, _] = &p.customers;
    let officer = SimPerson::new("officer@customer1.example", "Co Officer", one);
    let one_compliance = f
        .sim
        .issue_access_token_as(&officer, &[COMPLIANCE_SCOPE], DAY);
    let status = |stream: Stream, org_id: &str| {
        let token = match stream {
            Stream::ComplianceEvents if org_id == one.as_str() => one_compliance.clone(),
            Stream::ComplianceEvents => f.compliance.clone(),
            _ => p.partner.clone(),
        };
        let query = match stream {
            Stream::ComplianceEvents => Vec::new(),
            _ => audit_query(stream, org_id, 40),
        };
        async move { f.get(stream.path(), &token, &query).await.status().as_u16() }
    };

    // Customer 1 lacks Pro Pack: security audit only.
    f.sim.refuse_org(one, &[Stream::SecurityAudit]);
    let response = f
        .get(
            "/admin/securityAudit/events",
            &p.partner,
            &audit_query(Stream::SecurityAudit, one, 40),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(error_message(response).await.contains("Pro Pack"));
    assert_eq!(status(Stream::AdminAudit, one).await, 200);
    assert_eq!(status(Stream::SecurityAudit, two).await, 200);
    assert_eq!(status(Stream::SecurityAudit, DEFAULT_ORG_ID).await, 200);

    // Then every stream of customer 1, its compliance events too.
    f.sim.refuse_org(one, &Stream::ALL);
    for stream in Stream::ALL {
        assert_eq!(status(stream, one).await, 403, "{stream:?}");
        assert_eq!(status(stream, two).await, 200, "{stream:?}");
    }
    assert_eq!(status(Stream::ComplianceEvents, DEFAULT_ORG_ID).await, 200);
    let response = f
        .get(
            "/adminAudit/events",
            &p.partner,
            &audit_query(Stream::AdminAudit, one, 40),
        )
        .await;
    assert!(error_message(response).await.contains("no longer allowed"));

    f.sim.restore_org(one);
    for stream in Stream::ALL {
        assert_eq!(status(stream, one).await, 200, "{stream:?} restored");
    }
}

#[tokio::test]
async fn a_dense_burst_is_served_exactly_over_every_page() {
    const BURST: usize = 60_000;
    let p = partnered(SimConfig {
        order: Order::Shuffled,
        ..SimConfig::default()
    })
    .await;
    let f = &p.f;
    let one = &p.customers[0];
    // Other orgs and streams hold events in the same minutes, to be kept out.
    let burst = GenerateSpec {
        shared_timestamp_fraction: 0.2,
        ..GenerateSpec::new(BURST, NOW - 4 * 60_000, NOW - 60_000)
    };
    assert_eq!(
        f.sim
            .add_events_for_org(one, Stream::ComplianceEvents, burst.clone()),
        BURST
    );
    f.sim.add_events(
        Stream::ComplianceEvents,
        GenerateSpec::new(2_000, NOW - 4 * 60_000, NOW - 60_000),
    );
    f.sim.add_events_for_org(
        one,
        Stream::AdminAudit,
        GenerateSpec::new(500, NOW - 300_000, NOW),
    );

    let officer = SimPerson::new("officer@customer1.example", "Co Officer", one);
    let token = f
        .sim
        .issue_access_token_as(&officer, &[COMPLIANCE_SCOPE], DAY);
    let query = [
        ("from", iso(NOW - 5 * 60_000)),
        ("to", iso(NOW)),
        ("max", "1000".to_owned()),
    ];
    let first = f.get("/events", &token, &query).await;
    let (got, pages) = f.follow_links(first, &token).await;
    assert_eq!(pages, BURST / 1_000);
    assert_eq!(got.len(), BURST);
    let distinct: HashSet<String> = got.into_iter().collect();
    assert_eq!(distinct.len(), BURST, "an event was served twice");
    let generated = ids(&f.sim.events_for_org(one, Stream::ComplianceEvents));
    assert_eq!(distinct, generated);

    let summary = f.sim.request_summary();
    assert_eq!(summary.events_served_by_org[one.as_str()], BURST as u64);
    assert_eq!(summary.events_served, BURST as u64);
}

#[tokio::test]
async fn the_rate_limit_is_per_client_whatever_the_org_and_its_429s_are_counted() {
    // Paced: well under the limit, not a single 429.
    let p = partnered(SimConfig {
        rate_limit_per_minute: Some(50),
        ..SimConfig::default()
    })
    .await;
    for org_id in [DEFAULT_ORG_ID, &p.customers[0], &p.customers[1]] {
        for _ in 0..5 {
            let query = audit_query(Stream::AdminAudit, org_id, 40);
            let response = p.f.get("/adminAudit/events", &p.partner, &query).await;
            assert_eq!(response.status(), 200);
        }
    }
    let summary = p.f.sim.request_summary();
    assert_eq!((summary.requests, summary.rate_limited), (15, 0));

    // Over the limit: one budget for the client, shared by every org, token and stream.
    let p = partnered(SimConfig {
        rate_limit_per_minute: Some(4),
        ..SimConfig::default()
    })
    .await;
    let f = &p.f;
    let statuses = [
        (&p.partner, DEFAULT_ORG_ID),
        (&p.partner, p.customers[0].as_str()),
        (&p.ordinary, DEFAULT_ORG_ID),
        (&p.partner, p.customers[1].as_str()),
        (&p.partner, p.customers[1].as_str()),
    ];
    let mut got = Vec::new();
    for (token, org_id) in statuses {
        let query = audit_query(Stream::AdminAudit, org_id, 40);
        got.push(
            f.get("/adminAudit/events", token, &query)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(got, [200, 200, 200, 200, 429]);
    assert_eq!(f.get("/events", &f.compliance, &[]).await.status(), 429);
    assert_eq!(f.get("/organizations", &p.partner, &[]).await.status(), 429);
    let summary = f.sim.request_summary();
    assert_eq!(summary.rate_limited, 3);
    let faults: Vec<Option<String>> = f.sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(faults.iter().flatten().count(), 3);
    assert!(faults.iter().flatten().all(|fault| fault == "RateLimited"));
}
