//! The Microsoft Graph personality: Entra client credentials, sign-ins and directory audits.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use webex_sim::{
    Api, ApiEvent, DEFAULT_GRAPH_CLIENT_ID, DEFAULT_GRAPH_CLIENT_SECRET, DEFAULT_GRAPH_TENANT,
    DEFAULT_START_MS, Fault, GRAPH_SCOPE, GenerateSpec, GraphTenant, SimConfig,
};

use crate::support::{Fixture, HOUR_MS, raw_items, start};

const NOW: i64 = DEFAULT_START_MS;

/// Graph without its throttle, for tests that page a lot.
fn unthrottled() -> SimConfig {
    let mut config = SimConfig::default();
    config.apis.graph.throttle = None;
    config
}

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.4,
        ..GenerateSpec::new(count, NOW - 2 * HOUR_MS, NOW)
    }
}

async fn token_request(f: &Fixture, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = f
        .client
        .post(f.sim.graph_token_url(tenant))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

fn client_credentials<'a>(secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", DEFAULT_GRAPH_CLIENT_ID),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

/// GET with a bearer token; the status and the body as text.
async fn get(f: &Fixture, url: &str, token: &str, query: &[(&str, String)]) -> (u16, String) {
    let response = f
        .client
        .get(url)
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn error_code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap();
    assert!(value["error"]["message"].is_string(), "{body}");
    value["error"]["code"].as_str().unwrap().to_owned()
}

fn window_filter(property: &str, from: &str, to: &str) -> (&'static str, String) {
    (
        "$filter",
        format!("{property} ge {from} and {property} le {to}"),
    )
}

/// Follows `@odata.nextLink` to the end: every item's exact JSON, and the links followed.
async fn walk(f: &Fixture, first: (u16, String), token: &str) -> (Vec<String>, Vec<String>) {
    let (mut items, mut links) = (Vec::new(), Vec::new());
    let (mut status, mut body) = first;
    loop {
        assert_eq!(status, 200, "{body}");
        items.extend(raw_items(&body, "value"));
        let value: Value = serde_json::from_str(&body).unwrap();
        assert!(
            value["@odata.context"]
                .as_str()
                .unwrap()
                .contains("$metadata#auditLogs/")
        );
        let Some(next) = value["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(links.len() < 1_000, "nextLink paging does not end");
        links.push(next.to_owned());
        (status, body) = get(f, next, token, &[]).await;
    }
    (items, links)
}

fn json_of(events: &[ApiEvent]) -> Vec<String> {
    events.iter().map(|e| e.json.clone()).collect()
}

#[tokio::test]
async fn token_endpoint_answers_as_entra_does() {
    let f = start(SimConfig::default()).await;
    let (status, body) = token_request(
        &f,
        DEFAULT_GRAPH_TENANT,
        &client_credentials(DEFAULT_GRAPH_CLIENT_SECRET, GRAPH_SCOPE),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().starts_with("eyJ"));

    let (status, body) = token_request(
        &f,
        DEFAULT_GRAPH_TENANT,
        &client_credentials("wrong", GRAPH_SCOPE),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: Invalid client secret provided")
    );

    let cases = [
        (
            "other-tenant",
            client_credentials(DEFAULT_GRAPH_CLIENT_SECRET, GRAPH_SCOPE),
            "invalid_request",
        ),
        (
            DEFAULT_GRAPH_TENANT,
            client_credentials(DEFAULT_GRAPH_CLIENT_SECRET, "User.Read"),
            "invalid_scope",
        ),
        (
            DEFAULT_GRAPH_TENANT,
            vec![("grant_type", "password")],
            "unsupported_grant_type",
        ),
        (
            DEFAULT_GRAPH_TENANT,
            vec![("client_id", DEFAULT_GRAPH_CLIENT_ID)],
            "invalid_request",
        ),
    ];
    for (tenant, form, error) in cases {
        let (status, body) = token_request(&f, tenant, &form).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap()),
            (400, error),
            "{form:?}"
        );
    }
    let logged: Vec<(String, u16)> = f
        .sim
        .requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(logged.len(), 6);
    assert!(logged.iter().all(|(method, _)| method == "POST"));
    assert!(
        f.sim.requests().iter().all(|r| r.body.is_none()),
        "secrets are never logged"
    );
}

#[tokio::test]
async fn sign_ins_page_newest_first_to_the_end_each_once_byte_for_byte() {
    let f = start(unthrottled()).await;
    let events = f.sim.generate_api(Api::GraphSignIns, spec(230));
    // Outside the window: never served.
    f.sim.generate_api(
        Api::GraphSignIns,
        GenerateSpec::new(20, NOW - 5 * HOUR_MS, NOW - 3 * HOUR_MS),
    );
    let token = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    let from = "2026-11-18T09:06:40Z";
    let to = "2026-11-18T11:06:40Z";
    let query = [
        window_filter("createdDateTime", from, to),
        ("$top", "40".to_owned()),
    ];
    let first = get(&f, &f.sim.api_url(Api::GraphSignIns), &token, &query).await;
    let (items, links) = walk(&f, first, &token).await;

    assert_eq!(links.len(), 5, "230 items in pages of 40");
    for link in &links {
        let prefix = format!(
            "{}/graph/v1.0/auditLogs/signins?$top=40&$skiptoken=",
            f.sim.origin()
        );
        assert!(link.starts_with(&prefix), "{link}");
    }
    let mut expected = json_of(&events);
    let mut served = items.clone();
    expected.sort();
    served.sort();
    assert_eq!(served, expected, "every event once, byte for byte");

    let times: Vec<String> = items
        .iter()
        .map(|item| {
            let value: Value = serde_json::from_str(item).unwrap();
            value["createdDateTime"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        times.iter().all(|t| t.len() == 28 && t.ends_with('Z')),
        "seven fraction digits: {}",
        times[0]
    );
    let distinct: HashSet<&String> = times.iter().collect();
    assert!(
        distinct.len() < times.len(),
        "some events share a timestamp"
    );
    let ids: HashSet<String> = items
        .iter()
        .map(|item| {
            serde_json::from_str::<Value>(item).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 230);
    assert!(
        ids.iter()
            .all(|id| id.len() == 36 && id.matches('-').count() == 4)
    );

    let logged = f.sim.requests();
    assert_eq!(logged.len(), 6);
    assert_eq!(logged[0].org_id.as_deref(), Some(DEFAULT_GRAPH_TENANT));
    assert_eq!(logged.iter().map(|r| r.ids.len()).sum::<usize>(), 230);
}

#[tokio::test]
async fn filter_bounds_are_inclusive_and_only_ge_le_eq_are_taken() {
    let f = start(unthrottled()).await;
    let events = f.sim.generate_api(Api::GraphDirectoryAudits, spec(300));
    let token = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    let url = f.sim.api_url(Api::GraphDirectoryAudits);
    let time_of = |json: &str| {
        let value: Value = serde_json::from_str(json).unwrap();
        value["activityDateTime"].as_str().unwrap().to_owned()
    };
    // A time many events share: both bounds at it select exactly those.
    let mut by_time = std::collections::HashMap::<String, usize>::new();
    for event in &events {
        *by_time.entry(time_of(&event.json)).or_default() += 1;
    }
    let (shared, count) = by_time.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(*count >= 2);
    for query in [
        vec![window_filter("activityDateTime", shared, shared)],
        vec![("$filter", format!("activityDateTime eq {shared}"))],
    ] {
        let (status, body) = get(&f, &url, &token, &query).await;
        assert_eq!(status, 200, "{body}");
        let items = raw_items(&body, "value");
        assert_eq!(items.len(), *count, "{query:?}");
        assert!(items.iter().all(|item| time_of(item) == *shared));
    }

    let refused = [
        ("$filter", format!("activityDateTime lt {shared}")),
        ("$filter", format!("activityDateTime gt {shared}")),
        ("$filter", format!("createdDateTime ge {shared}")),
        (
            "$filter",
            format!("activityDateTime ge {shared} or activityDateTime le {shared}"),
        ),
        ("$top", "1001".to_owned()),
        ("$top", "0".to_owned()),
        ("$skiptoken", "forged".to_owned()),
    ];
    for (name, value) in refused {
        let (status, body) = get(&f, &url, &token, &[(name, value.clone())]).await;
        assert_eq!(status, 400, "{name}={value}");
        assert_eq!(error_code(&body), "BadRequest");
        if name == "$filter" {
            let value: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(value["error"]["message"], "Invalid filter clause");
        }
    }
    let (status, _) = get(&f, &url, &token, &[("$top", "1000".to_owned())]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_walk_keeps_the_first_page_view_and_late_sign_ins_arrive_later() {
    let f = start(unthrottled()).await;
    let events = f.sim.generate_api(
        Api::GraphSignIns,
        GenerateSpec {
            late_fraction: 0.4,
            max_lateness: Duration::from_secs(1_800),
            ..GenerateSpec::new(120, NOW - HOUR_MS, NOW)
        },
    );
    for event in &events {
        let lateness = event.visible_at_ms - event.time_ms;
        assert!(
            lateness == 0 || (300_000..=1_800_000).contains(&lateness),
            "{lateness}"
        );
    }
    let visible_now: Vec<String> = events
        .iter()
        .filter(|e| e.visible_at_ms <= NOW)
        .map(|e| e.json.clone())
        .collect();
    assert!(visible_now.len() < events.len(), "some are late");

    let token = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    let url = f.sim.api_url(Api::GraphSignIns);
    let first = get(&f, &url, &token, &[("$top", "25".to_owned())]).await;
    // Every late one arrives while the walk is under way; the walk does not see them.
    f.sim.advance(Duration::from_secs(3_600));
    let token = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    let (mut items, _) = walk(&f, first, &token).await;
    items.sort();
    let mut expected = visible_now;
    expected.sort();
    assert_eq!(items, expected);

    let again = get(&f, &url, &token, &[("$top", "1000".to_owned())]).await;
    assert_eq!(
        raw_items(&again.1, "value").len(),
        events.len(),
        "a new walk sees them"
    );
}

#[tokio::test]
async fn throttled_per_app_and_tenant_with_and_without_retry_after() {
    let second = "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b";
    let mut config = SimConfig::default();
    config.apis.graph.tenants.push(GraphTenant::new(second));
    let f = start(config).await;
    let url = f.sim.api_url(Api::GraphDirectoryAudits);
    let token = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    for _ in 0..5 {
        assert_eq!(get(&f, &url, &token, &[]).await.0, 200);
    }
    let response = f.client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_code(&response.text().await.unwrap()),
        "TooManyRequests"
    );

    // Another tenant has its own five.
    let other = f.sim.issue_graph_token(second);
    assert_eq!(get(&f, &url, &other, &[]).await.0, 200);

    f.sim.configure_apis(|apis| apis.graph.retry_after = false);
    let response = f.client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none());
    let faults: Vec<Option<String>> = f.sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults
            .iter()
            .filter(|f| f.as_deref() == Some("RateLimited"))
            .count(),
        2
    );
    assert_eq!(f.sim.request_summary().rate_limited, 2);
}

#[tokio::test]
async fn a_token_expires_mid_walk_and_a_new_one_finishes_it() {
    let mut config = unthrottled();
    config.apis.graph.token_ttl = Duration::from_secs(60);
    let f = start(config).await;
    let events = f.sim.generate_api(Api::GraphSignIns, spec(30));
    let (_, body) = token_request(
        &f,
        DEFAULT_GRAPH_TENANT,
        &client_credentials(DEFAULT_GRAPH_CLIENT_SECRET, GRAPH_SCOPE),
    )
    .await;
    assert_eq!(body["expires_in"], 60);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let url = f.sim.api_url(Api::GraphSignIns);
    let (status, first) = get(&f, &url, &token, &[("$top", "10".to_owned())]).await;
    assert_eq!(status, 200);
    let next: Value = serde_json::from_str(&first).unwrap();
    let next = next["@odata.nextLink"].as_str().unwrap().to_owned();

    f.sim.advance(Duration::from_secs(60));
    let (status, body) = get(&f, &next, &token, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "InvalidAuthenticationToken");
    let (status, body) = get(&f, &url, "not-a-token", &[]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "InvalidAuthenticationToken")
    );

    let fresh = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    let (mut items, _) = walk(&f, get(&f, &next, &fresh, &[]).await, &fresh).await;
    items.extend(raw_items(&first, "value"));
    items.sort();
    let mut expected = json_of(&events);
    expected.sort();
    assert_eq!(items, expected);
}

#[tokio::test]
async fn sign_ins_need_a_premium_tenant_and_both_need_the_permission() {
    let basic = "3f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c";
    let mut config = unthrottled();
    config.apis.graph.tenants.push(GraphTenant {
        id: basic.to_owned(),
        premium: false,
    });
    let f = start(config).await;
    f.sim
        .generate_api_for_tenant(basic, Api::GraphDirectoryAudits, spec(5));
    let token = f.sim.issue_graph_token(basic);
    let (status, body) = get(&f, &f.sim.api_url(Api::GraphSignIns), &token, &[]).await;
    assert_eq!(status, 403);
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        value["error"]["code"],
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    );
    assert_eq!(
        value["error"]["message"],
        "Neither tenant is B2C or tenant doesn't have premium license"
    );
    let (status, body) = get(&f, &f.sim.api_url(Api::GraphDirectoryAudits), &token, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(raw_items(&body, "value").len(), 5);
    assert_eq!(
        f.sim
            .api_events_for_tenant(basic, Api::GraphDirectoryAudits)
            .len(),
        5
    );
    assert!(
        f.sim.api_events(Api::GraphDirectoryAudits).is_empty(),
        "tenants hold their own"
    );

    f.sim
        .configure_apis(|apis| apis.graph.permission_granted = false);
    let premium = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    for api in [Api::GraphSignIns, Api::GraphDirectoryAudits] {
        let (status, body) = get(&f, &f.sim.api_url(api), &premium, &[]).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (403, "Authorization_RequestDenied")
        );
    }
}

#[tokio::test]
async fn faults_aimed_at_graph_use_its_error_shape() {
    let f = start(unthrottled()).await;
    f.sim.generate_api(Api::GraphSignIns, spec(20));
    let token = f.sim.issue_graph_token(DEFAULT_GRAPH_TENANT);
    let url = f.sim.api_url(Api::GraphSignIns);
    f.sim.push_api_faults(
        Api::GraphSignIns,
        [
            Fault::ServerError(503),
            Fault::TooManyRequests { retry_after_s: 4 },
            Fault::Truncated,
        ],
    );
    let (status, body) = get(&f, &url, &token, &[]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (503, "ServiceUnavailable")
    );
    let response = f.client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "4");
    let response = f.client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "a cut body");
    let (status, body) = get(&f, &url, &token, &[]).await;
    assert_eq!((status, raw_items(&body, "value").len()), (200, 20));
    let faults: Vec<Option<String>> = f.sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some("ServerError(503)".to_owned()),
            Some("TooManyRequests".to_owned()),
            Some("Truncated".to_owned()),
            None
        ]
    );
    assert!(
        f.sim.requests()[2].ids.is_empty(),
        "a cut page delivered nothing"
    );
}
