//! The event endpoints: parameters, limits, paging, visibility, filters and auth.

use std::collections::HashSet;
use std::time::Duration;

use webex_sim::{AUDIT_SCOPE, DEFAULT_START_MS, GenerateSpec, Order, SimConfig, SimEvent, Stream};

use crate::support::{DAY_MS, Fixture, HOUR_MS, error_message, iso, item_ids, next_link, start};

const NOW: i64 = DEFAULT_START_MS;

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.4,
        ..GenerateSpec::new(count, NOW - DAY_MS, NOW)
    }
}

fn ids(events: &[SimEvent]) -> HashSet<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

#[tokio::test]
async fn admin_audit_names_missing_and_invalid_parameters() {
    let f = start(SimConfig::default()).await;
    let full = f.admin_query(NOW - DAY_MS, NOW);
    for missing in ["orgId", "from", "to"] {
        let query: Vec<_> = full
            .iter()
            .filter(|(k, _)| *k != missing)
            .cloned()
            .collect();
        let response = f.get("/adminAudit/events", &f.admin, &query).await;
        assert_eq!(response.status(), 400, "without {missing}");
        assert!(error_message(response).await.contains(missing));
    }

    let with = |key: &'static str, value: &str| {
        let mut query: Vec<_> = full.iter().filter(|(k, _)| *k != key).cloned().collect();
        query.push((key, value.to_owned()));
        query
    };
    let cases = [
        (with("from", "yesterday"), 400),
        (with("to", &iso(NOW - DAY_MS)), 400),
        (with("from", &iso(NOW - 366 * DAY_MS)), 400),
        (with("from", &iso(NOW - 365 * DAY_MS)), 200),
        (with("orgId", "someone-else"), 403),
        (with("max", "0"), 400),
        (with("max", "201"), 400),
        (with("max", "abc"), 400),
        (with("max", "200"), 200),
        (with("offset", "-1"), 400),
    ];
    for (query, status) in cases {
        let response = f.get("/adminAudit/events", &f.admin, &query).await;
        assert_eq!(response.status(), status, "{query:?}");
        assert!(response.headers().contains_key("trackingid"));
    }
}

#[tokio::test]
async fn max_limits_of_the_cursor_paged_endpoints() {
    let f = start(SimConfig::default()).await;
    let security = f.security_query(NOW - DAY_MS, NOW);
    for (max, status) in [("1000", 200), ("1001", 400), ("0", 400)] {
        let mut query = security.clone();
        query.push(("max", max.to_owned()));
        let response = f.get("/admin/securityAudit/events", &f.admin, &query).await;
        assert_eq!(response.status(), status, "security max={max}");
        let response = f
            .get("/events", &f.compliance, &[("max", max.to_owned())])
            .await;
        assert_eq!(response.status(), status, "compliance max={max}");
    }
    for missing in ["orgId", "startTime", "endTime"] {
        let query: Vec<_> = security
            .iter()
            .filter(|(k, _)| *k != missing)
            .cloned()
            .collect();
        let response = f.get("/admin/securityAudit/events", &f.admin, &query).await;
        assert_eq!(response.status(), 400);
        assert!(error_message(response).await.contains(missing));
    }
}

#[tokio::test]
async fn link_paging_returns_every_event_exactly_once_in_both_orders() {
    for order in [Order::NewestFirst, Order::Shuffled] {
        let f = start(SimConfig {
            order,
            ..SimConfig::default()
        })
        .await;
        let mut expected = std::collections::HashMap::new();
        for stream in Stream::ALL {
            expected.insert(stream, ids(&f.sim.generate(stream, spec(230))));
        }
        // Outside the window: must not show up.
        for stream in Stream::ALL {
            f.sim.generate(
                stream,
                GenerateSpec::new(20, NOW - 3 * DAY_MS, NOW - 2 * DAY_MS),
            );
        }
        let window = (NOW - DAY_MS, NOW);

        let mut admin = f.admin_query(window.0, window.1);
        admin.push(("max", "37".into()));
        let mut security = f.security_query(window.0, window.1);
        security.push(("max", "37".into()));
        let compliance = vec![
            ("from", iso(window.0)),
            ("to", iso(window.1)),
            ("max", "37".to_owned()),
        ];
        let cases = [
            (Stream::AdminAudit, "/adminAudit/events", &f.admin, admin),
            (
                Stream::SecurityAudit,
                "/admin/securityAudit/events",
                &f.admin,
                security,
            ),
            (
                Stream::ComplianceEvents,
                "/events",
                &f.compliance,
                compliance,
            ),
        ];
        for (stream, path, token, query) in cases {
            let first = f.get(path, token, &query).await;
            let (got, pages) = f.follow_links(first, token).await;
            let unique: HashSet<String> = got.iter().cloned().collect();
            assert_eq!(unique.len(), got.len(), "{order:?} {stream:?}: duplicates");
            assert_eq!(unique, expected[&stream], "{order:?} {stream:?}");
            assert_eq!(pages, 7, "230 events in pages of 37");
        }
        let served: usize = f.sim.requests().iter().map(|r| r.ids.len()).sum();
        assert_eq!(served, 3 * 230);
    }
}

#[tokio::test]
async fn newest_first_is_sorted_and_shuffled_is_not() {
    for (order, sorted) in [(Order::NewestFirst, true), (Order::Shuffled, false)] {
        let f = start(SimConfig {
            order,
            ..SimConfig::default()
        })
        .await;
        let events = f.sim.generate(Stream::AdminAudit, spec(100));
        let mut query = f.admin_query(NOW - DAY_MS, NOW);
        query.push(("max", "200".into()));
        let body = f
            .get("/adminAudit/events", &f.admin, &query)
            .await
            .text()
            .await
            .unwrap();
        let created: Vec<i64> = item_ids(&body)
            .iter()
            .map(|id| events.iter().find(|e| &e.id == id).unwrap().created_ms)
            .collect();
        assert_eq!(created.len(), 100);
        assert_eq!(
            created.windows(2).all(|w| w[0] >= w[1]),
            sorted,
            "{order:?}"
        );
    }
}

#[tokio::test]
async fn admin_offset_paging_without_link_header() {
    let f = start(SimConfig {
        admin_link_header: false,
        order: Order::Shuffled,
        ..SimConfig::default()
    })
    .await;
    let expected = ids(&f.sim.generate(Stream::AdminAudit, spec(95)));
    let mut got = Vec::new();
    let mut offset = 0;
    loop {
        let mut query = f.admin_query(NOW - DAY_MS, NOW);
        query.push(("max", "20".into()));
        query.push(("offset", offset.to_string()));
        let response = f.get("/adminAudit/events", &f.admin, &query).await;
        assert_eq!(response.status(), 200);
        assert!(next_link(&response).is_none(), "no Link when switched off");
        let page = item_ids(&response.text().await.unwrap());
        offset += page.len();
        let short = page.len() < 20;
        got.extend(page);
        if short {
            break;
        }
    }
    assert_eq!(got.len(), 95);
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
}

#[tokio::test]
async fn admin_link_carries_the_next_offset_and_the_same_parameters() {
    let f = start(SimConfig::default()).await;
    f.sim.generate(Stream::AdminAudit, spec(5));
    let mut query = f.admin_query(NOW - DAY_MS, NOW);
    query.push(("max", "2".into()));
    query.push((
        "eventCategories",
        "LOGINS,USERS,LICENSES,DEVICES,ORG_SETTINGS,COMPLIANCE".into(),
    ));
    let response = f.get("/adminAudit/events", &f.admin, &query).await;
    let link = next_link(&response).unwrap();
    assert!(link.starts_with(&f.url("/adminAudit/events?")), "{link}");
    assert!(link.ends_with("&offset=2"), "{link}");
    assert!(
        link.contains("max=2") && link.contains("eventCategories="),
        "{link}"
    );
}

#[tokio::test]
async fn cursor_paged_endpoints_refuse_offset_and_forged_cursors() {
    let f = start(SimConfig::default()).await;
    let mut query = f.security_query(NOW - DAY_MS, NOW);
    query.push(("offset", "10".into()));
    let response = f.get("/admin/securityAudit/events", &f.admin, &query).await;
    assert_eq!(response.status(), 400);
    assert!(error_message(response).await.contains("offset"));
    let response = f
        .get("/events", &f.compliance, &[("cursor", "bm9wZQ".into())])
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn body_is_the_stored_json_verbatim() {
    let f = start(SimConfig::default()).await;
    let events = f.sim.generate(Stream::ComplianceEvents, spec(3));
    let response = f.get("/events", &f.compliance, &[]).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let mut sorted = events.clone();
    sorted.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
    let jsons: Vec<&str> = sorted.iter().map(|e| e.json.as_str()).collect();
    let expected = format!("{{\"items\":[{}]}}", jsons.join(","));
    assert_eq!(response.text().await.unwrap(), expected);
}

async fn security_count(f: &Fixture) -> usize {
    let query = f.security_query(NOW - DAY_MS, NOW);
    let response = f.get("/admin/securityAudit/events", &f.admin, &query).await;
    item_ids(&response.text().await.unwrap()).len()
}

async fn admin_ids(f: &Fixture, from_ms: i64, to_ms: i64) -> Vec<String> {
    let query = f.admin_query(from_ms, to_ms);
    let response = f.get("/adminAudit/events", &f.admin, &query).await;
    item_ids(&response.text().await.unwrap())
}

#[tokio::test]
async fn late_events_appear_when_the_clock_reaches_them() {
    let f = start(SimConfig::default()).await;
    let events = f.sim.generate(
        Stream::SecurityAudit,
        GenerateSpec {
            late_fraction: 1.0,
            max_lateness: Duration::from_secs(600),
            ..GenerateSpec::new(20, NOW - HOUR_MS, NOW)
        },
    );
    let visible_now = events.iter().filter(|e| e.visible_at_ms <= NOW).count();
    assert!(visible_now < 20, "some events must still be on their way");
    assert_eq!(security_count(&f).await, visible_now);
    f.sim.advance(Duration::from_secs(600));
    assert_eq!(security_count(&f).await, 20);
}

#[tokio::test]
async fn window_is_from_inclusive_to_exclusive() {
    let f = start(SimConfig::default()).await;
    let events = f.sim.generate(Stream::AdminAudit, spec(50));
    let pivot = events[10].created_ms;
    assert!(
        admin_ids(&f, pivot, pivot + 1)
            .await
            .contains(&events[10].id)
    );
    assert!(
        !admin_ids(&f, pivot - 1, pivot)
            .await
            .contains(&events[10].id)
    );
}

#[tokio::test]
async fn category_resource_and_type_filters() {
    let f = start(SimConfig::default()).await;
    let admin = f.sim.generate(Stream::AdminAudit, spec(150));
    let mut query = f.admin_query(NOW - DAY_MS, NOW);
    query.push(("max", "200".into()));
    query.push(("eventCategories", "EventCategory.LOGINS,users".into()));
    let body = f
        .get("/adminAudit/events", &f.admin, &query)
        .await
        .text()
        .await
        .unwrap();
    let expected: HashSet<String> = admin
        .iter()
        .filter(|e| matches!(e.category.as_deref(), Some("LOGINS" | "USERS")))
        .map(|e| e.id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        item_ids(&body).into_iter().collect::<HashSet<_>>(),
        expected
    );

    let compliance = f.sim.generate(Stream::ComplianceEvents, spec(200));
    let query = [
        ("resource", "messages".to_owned()),
        ("type", "created".to_owned()),
        ("max", "1000".to_owned()),
    ];
    let body = f
        .get("/events", &f.compliance, &query)
        .await
        .text()
        .await
        .unwrap();
    let expected: HashSet<String> = compliance
        .iter()
        .filter(|e| e.resource.as_deref() == Some("messages"))
        .filter(|e| e.event_type.as_deref() == Some("created"))
        .map(|e| e.id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        item_ids(&body).into_iter().collect::<HashSet<_>>(),
        expected
    );

    for (key, value) in [("resource", "bogus"), ("type", "exploded")] {
        let response = f
            .get("/events", &f.compliance, &[(key, value.into())])
            .await;
        assert_eq!(response.status(), 400, "{key}={value}");
        assert!(error_message(response).await.contains(key));
    }
}

#[tokio::test]
async fn compliance_to_may_not_be_in_the_future() {
    let f = start(SimConfig::default()).await;
    let response = f
        .get("/events", &f.compliance, &[("to", iso(NOW + 1))])
        .await;
    assert_eq!(response.status(), 400);
    let response = f.get("/events", &f.compliance, &[("to", iso(NOW))]).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn auth_401_and_scope_403() {
    let f = start(SimConfig::default()).await;
    let query = f.admin_query(NOW - DAY_MS, NOW);
    let url = f.url("/adminAudit/events");
    let response = f.client.get(&url).query(&query).send().await.unwrap();
    assert_eq!(response.status(), 401, "no token");
    let response = f.get("/adminAudit/events", "made-up", &query).await;
    assert_eq!(response.status(), 401, "unknown token");

    let response = f.get("/adminAudit/events", &f.compliance, &query).await;
    assert_eq!(response.status(), 403);
    assert!(error_message(response).await.contains(AUDIT_SCOPE));
    let response = f.get("/events", &f.admin, &[]).await;
    assert_eq!(response.status(), 403);
    assert!(
        error_message(response)
            .await
            .contains("spark-compliance:events_read")
    );

    let short = f
        .sim
        .issue_access_token(&[AUDIT_SCOPE], Duration::from_secs(60));
    assert_eq!(
        f.get("/adminAudit/events", &short, &query).await.status(),
        200
    );
    f.sim.advance(Duration::from_secs(60));
    assert_eq!(
        f.get("/adminAudit/events", &short, &query).await.status(),
        401
    );

    let log = f.sim.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].bearer, None);
    assert_eq!(log[4].bearer.as_deref(), Some(short.as_str()));
    assert_eq!(log[5].status, 401);
    assert_eq!(log[5].at_ms, NOW + 60_000);
    assert!(log[5].query.contains("orgId="));
}

#[tokio::test]
async fn people_me_answers_any_valid_token() {
    let f = start(SimConfig::default()).await;
    let response = f.get("/people/me", &f.compliance, &[]).await;
    assert_eq!(response.status(), 200);
    let me: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(me["orgId"], f.sim.config().org_id.as_str());
    assert!(me["emails"][0].is_string() && me["displayName"].is_string());
    assert_eq!(f.get("/people/me", "nope", &[]).await.status(), 401);
    assert_eq!(f.sim.requests().len(), 2);
}

#[tokio::test]
async fn stop_shuts_the_server_down() {
    let f = start(SimConfig::default()).await;
    let url = f.url("/people/me");
    assert_eq!(f.get("/people/me", &f.admin, &[]).await.status(), 200);
    assert!(format!("{:?}", f.sim).contains(&f.sim.base_url()));
    assert!(
        !format!("{:?}", f.sim).contains(&f.admin),
        "Debug must not print tokens"
    );
    f.sim.stop().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(url).bearer_auth(&f.admin).send().await.is_err());
}
