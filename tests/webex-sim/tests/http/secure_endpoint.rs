//! The Cisco Secure Endpoint personality: Basic auth, offset paging, big ids, rate headers.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Response;
use serde_json::Value;
use webex_sim::{
    Api, DEFAULT_SECURE_ENDPOINT_API_KEY, DEFAULT_SECURE_ENDPOINT_CLIENT_ID, DEFAULT_START_MS,
    Fault, GenerateSpec, RateLimitHeaders, SimConfig,
};

use crate::support::{Fixture, HOUR_MS, raw_items, start};

const NOW: i64 = DEFAULT_START_MS;

async fn get(f: &Fixture, url: &str, key: &str, query: &[(&str, String)]) -> Response {
    f.client
        .get(url)
        .basic_auth(DEFAULT_SECURE_ENDPOINT_CLIENT_ID, Some(key))
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn events(f: &Fixture, query: &[(&str, String)]) -> Response {
    get(
        f,
        &f.sim.api_url(Api::SecureEndpoint),
        DEFAULT_SECURE_ENDPOINT_API_KEY,
        query,
    )
    .await
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.4,
        ..GenerateSpec::new(count, NOW - HOUR_MS, NOW)
    }
}

#[tokio::test]
async fn offset_paging_walks_newest_first_to_the_end_with_exact_big_ids() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::SecureEndpoint, spec(230));
    let mut url = format!("{}?limit=100", f.sim.api_url(Api::SecureEndpoint));
    let mut served = Vec::new();
    let mut pages = 0;
    loop {
        let body = get(&f, &url, DEFAULT_SECURE_ENDPOINT_API_KEY, &[])
            .await
            .text()
            .await
            .unwrap();
        let value = json(&body);
        assert_eq!(value["version"], "v1.2.0");
        let results = &value["metadata"]["results"];
        assert_eq!(results["total"], 230);
        assert_eq!(results["index"], pages * 100);
        assert_eq!(results["items_per_page"], 100);
        let items = raw_items(&body, "data");
        assert_eq!(results["current_item_count"], items.len());
        assert_eq!(value["metadata"]["links"]["self"], url.as_str());
        served.extend(items);
        pages += 1;
        let Some(next) = value["metadata"]["links"]["next"].as_str() else {
            break;
        };
        assert!(next.starts_with(&f.sim.api_url(Api::SecureEndpoint)));
        assert!(next.contains(&format!("offset={}", pages * 100)), "{next}");
        url = next.to_owned();
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = generated.iter().map(|e| e.json.clone()).collect();
    let mut sorted = served.clone();
    expected.sort();
    sorted.sort();
    assert_eq!(sorted, expected, "every event once, byte for byte");

    let timestamps: Vec<(i64, i64)> = served
        .iter()
        .map(|item| {
            let value = json(item);
            (
                value["timestamp"].as_i64().unwrap(),
                value["timestamp_nanoseconds"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(timestamps.windows(2).all(|w| w[0] >= w[1]), "newest first");
    for event in &generated {
        // The id is written as its exact digits, which a double cannot hold.
        let id: u64 = event.key.parse().unwrap();
        assert!(id > 1 << 53);
        assert_ne!((id as f64) as u64, id, "{id}");
        assert!(
            event.json.starts_with(&format!("{{\"id\":{id},")),
            "{}",
            event.json
        );
        let value = json(&event.json);
        assert!(value["date"].as_str().unwrap().ends_with("+00:00"));
        assert!(
            value["computer"]["connector_guid"].is_string()
                && value["computer"]["hostname"].is_string()
        );
        assert!(value["event_type"].is_string() && value["event_type_id"].is_u64());
    }
}

#[tokio::test]
async fn start_date_is_inclusive_and_parsed_strictly() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::SecureEndpoint, spec(200));
    // The date (whole seconds) of one event: it and every later one, and nothing earlier.
    let pivot = json(&generated[17].json)["date"]
        .as_str()
        .unwrap()
        .to_owned();
    let pivot_s = json(&generated[17].json)["timestamp"].as_i64().unwrap();
    let body = events(&f, &[("start_date", pivot.clone())])
        .await
        .text()
        .await
        .unwrap();
    let items = raw_items(&body, "data");
    let expected = generated
        .iter()
        .filter(|e| json(&e.json)["timestamp"].as_i64().unwrap() >= pivot_s)
        .count();
    assert_eq!(items.len(), expected);
    assert!(
        items.iter().any(|i| json(i)["date"] == pivot.as_str()),
        "inclusive"
    );

    // `+` unencoded in the URL arrives as a space: a strict parser refuses it.
    let raw = format!("{}?start_date={pivot}", f.sim.api_url(Api::SecureEndpoint));
    let response = get(&f, &raw, DEFAULT_SECURE_ENDPOINT_API_KEY, &[]).await;
    assert_eq!(response.status(), 400);
    let value = json(&response.text().await.unwrap());
    assert_eq!(value["errors"][0]["error_code"], 400);
    assert!(
        value["errors"][0]["details"][0]
            .as_str()
            .unwrap()
            .contains("start_date")
    );

    for (name, value) in [
        ("start_date", "2026-11-18"),
        ("limit", "0"),
        ("limit", "501"),
        ("offset", "-1"),
        ("event_type[]", "threat"),
    ] {
        let response = events(&f, &[(name, value.to_owned())]).await;
        assert_eq!(response.status(), 400, "{name}={value}");
    }
    assert_eq!(events(&f, &[("limit", "500".into())]).await.status(), 200);
}

#[tokio::test]
async fn event_type_filters_repeat() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::SecureEndpoint, spec(300));
    let type_of = |json_text: &str| json(json_text)["event_type_id"].as_u64().unwrap();
    let wanted = [1_090_519_054_u64, 554_696_714];
    let query: Vec<(&str, String)> = wanted
        .iter()
        .map(|t| ("event_type[]", t.to_string()))
        .collect();
    let body = events(&f, &query).await.text().await.unwrap();
    let items = raw_items(&body, "data");
    let expected = generated
        .iter()
        .filter(|e| wanted.contains(&type_of(&e.json)))
        .count();
    assert!(expected > 0 && expected < 300);
    assert_eq!(items.len(), expected);
    assert!(items.iter().all(|i| wanted.contains(&type_of(i))));
}

#[tokio::test]
async fn new_events_between_pages_make_offsets_repeat_items() {
    let f = start(SimConfig::default()).await;
    f.sim.generate_api(
        Api::SecureEndpoint,
        GenerateSpec::new(50, NOW - 2 * HOUR_MS, NOW - HOUR_MS),
    );
    let first = events(&f, &[("limit", "20".into())])
        .await
        .text()
        .await
        .unwrap();
    let first = raw_items(&first, "data");
    // Five newer events arrive at the head of the list.
    let newer = f.sim.generate_api(
        Api::SecureEndpoint,
        GenerateSpec::new(5, NOW - HOUR_MS, NOW),
    );
    let second = events(&f, &[("limit", "20".into()), ("offset", "20".into())]).await;
    let second = raw_items(&second.text().await.unwrap(), "data");
    assert_eq!(
        second[..5],
        first[15..],
        "the last five of page one come again"
    );
    let newer: HashSet<String> = newer.into_iter().map(|e| e.json).collect();
    assert!(first.iter().chain(&second).all(|i| !newer.contains(i)));
}

#[tokio::test]
async fn late_events_appear_when_they_arrive() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(
        Api::SecureEndpoint,
        GenerateSpec {
            late_fraction: 0.5,
            max_lateness: Duration::from_secs(600),
            ..GenerateSpec::new(100, NOW - HOUR_MS, NOW)
        },
    );
    let visible = generated.iter().filter(|e| e.visible_at_ms <= NOW).count();
    assert!(visible < 100);
    let total = |body: String| {
        json(&body)["metadata"]["results"]["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        total(events(&f, &[]).await.text().await.unwrap()),
        visible as u64
    );
    f.sim.advance(Duration::from_secs(600));
    assert_eq!(total(events(&f, &[]).await.text().await.unwrap()), 100);
}

#[tokio::test]
async fn basic_auth_rate_headers_and_the_hourly_budget() {
    let mut config = SimConfig::default();
    config.apis.secure_endpoint.hourly_budget = 3;
    let f = start(config).await;
    let url = f.sim.api_url(Api::SecureEndpoint);

    let response = get(&f, &url, "wrong-key", &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-rate-limit-limit"], "3");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"version":"v1.2.0","errors":[{"error_code":401,"description":"Unauthorized","details":["Unknown API key or Client ID"]}]}"#
    );
    let response = f.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401, "no credentials");

    for remaining in ["2", "1", "0"] {
        let response = events(&f, &[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-rate-limit-remaining"], remaining);
        assert_eq!(response.headers()["x-rate-limit-reset"], "3600");
    }
    let response = events(&f, &[]).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-rate-limit-remaining"], "0");
    let value = json(&response.text().await.unwrap());
    assert_eq!(value["errors"][0]["error_code"], 429);

    // The budget is per hour of sim time.
    f.sim.advance(Duration::from_secs(3_600));
    f.sim
        .configure_apis(|apis| apis.secure_endpoint.headers = RateLimitHeaders::Compact);
    let response = events(&f, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "2");
    assert!(response.headers().get("x-rate-limit-remaining").is_none());
    assert_eq!(f.sim.request_summary().rate_limited, 1);
}

#[tokio::test]
async fn faults_aimed_at_secure_endpoint() {
    let f = start(SimConfig::default()).await;
    f.sim.generate_api(Api::SecureEndpoint, spec(30));
    f.sim.push_api_faults(
        Api::SecureEndpoint,
        [Fault::ServerError(500), Fault::Truncated, Fault::LinkToSelf],
    );
    // Faults aimed elsewhere wait for their own API.
    f.sim
        .push_api_faults(Api::GeneralA, [Fault::ServerError(502)]);
    let response = events(&f, &[]).await;
    assert_eq!(response.status(), 500);
    assert_eq!(
        json(&response.text().await.unwrap())["errors"][0]["error_code"],
        500
    );
    assert!(events(&f, &[]).await.bytes().await.is_err(), "a cut body");
    let body = events(&f, &[("limit", "10".into())])
        .await
        .text()
        .await
        .unwrap();
    let links = &json(&body)["metadata"]["links"];
    assert_eq!(links["next"], links["self"], "a next link to itself");
    let body = events(&f, &[]).await.text().await.unwrap();
    assert_eq!(raw_items(&body, "data").len(), 30);
}
