//! General B: offset paging with HTTP Basic, a bare array, no ids.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::Value;
use webex_sim::{
    Api, DEFAULT_GENERAL_B_PASSWORD, DEFAULT_GENERAL_B_USER, DEFAULT_START_MS, Fault, GenerateSpec,
    SimConfig,
};

use crate::support::{Fixture, HOUR_MS, raw_items, start};

const NOW: i64 = DEFAULT_START_MS;

async fn get(f: &Fixture, password: &str, query: &[(&str, String)]) -> Response {
    f.client
        .get(f.sim.api_url(Api::GeneralB))
        .basic_auth(DEFAULT_GENERAL_B_USER, Some(password))
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn page(f: &Fixture, query: &[(&str, String)]) -> Vec<String> {
    let response = get(f, DEFAULT_GENERAL_B_PASSWORD, query).await;
    assert_eq!(response.status(), 200);
    raw_items(&response.text().await.unwrap(), "$")
}

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.4,
        ..GenerateSpec::new(count, NOW - HOUR_MS, NOW)
    }
}

#[tokio::test]
async fn a_capped_limit_pages_to_the_empty_page_each_once_in_a_stable_shuffle() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::GeneralB, spec(250));
    let window = [
        ("start", ((NOW - HOUR_MS) / 1000).to_string()),
        ("end", (NOW / 1000 + 1).to_string()),
    ];
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let mut query = window.to_vec();
        query.push(("offset", items.len().to_string()));
        query.push(("limit", "500".to_owned()));
        let page = page(&f, &query).await;
        sizes.push(page.len());
        if page.is_empty() {
            break;
        }
        items.extend(page);
    }
    assert_eq!(sizes, [100, 100, 50, 0], "500 asked, 100 given");
    let mut expected: Vec<String> = generated.iter().map(|e| e.json.clone()).collect();
    let mut sorted = items.clone();
    expected.sort();
    sorted.sort();
    assert_eq!(sorted, expected, "every event once, byte for byte");

    let times: Vec<i64> = items
        .iter()
        .map(|i| {
            serde_json::from_str::<Value>(i).unwrap()["timestamp"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(!times.windows(2).all(|w| w[0] <= w[1]) && !times.windows(2).all(|w| w[0] >= w[1]));
    let mut again = window.to_vec();
    again.push(("limit", "100".to_owned()));
    assert_eq!(
        page(&f, &again).await,
        items[..100],
        "the same order every time"
    );

    let identities: HashSet<(String, u64)> = items
        .iter()
        .map(|i| {
            let value: Value = serde_json::from_str(i).unwrap();
            assert!(value.get("id").is_none());
            (
                value["source"].as_str().unwrap().to_owned(),
                value["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(identities.len(), 250, "source and seq identify an item");
}

#[tokio::test]
async fn start_inclusive_end_exclusive_in_epoch_seconds() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::GeneralB, spec(200));
    let second = |e: &webex_sim::ApiEvent| e.time_ms.div_euclid(1000);
    let pivot = second(&generated[7]);
    let query = |name: &'static str| vec![(name, pivot.to_string()), ("limit", "100".to_owned())];
    let mut from = Vec::new();
    loop {
        let mut q = query("start");
        q.push(("offset", from.len().to_string()));
        let page = page(&f, &q).await;
        if page.is_empty() {
            break;
        }
        from.extend(page);
    }
    assert_eq!(
        from.len(),
        generated.iter().filter(|e| second(e) >= pivot).count()
    );
    let before = page(&f, &query("end")).await;
    assert_eq!(
        before.len(),
        generated
            .iter()
            .filter(|e| second(e) < pivot)
            .count()
            .min(100)
    );
    for (name, value) in [("start", "yesterday"), ("limit", "0"), ("offset", "-3")] {
        let response = get(&f, DEFAULT_GENERAL_B_PASSWORD, &[(name, value.to_owned())]).await;
        assert_eq!(response.status(), 400, "{name}={value}");
    }
}

#[tokio::test]
async fn after_a_key_rotation_the_old_password_is_refused() {
    let f = start(SimConfig::default()).await;
    assert_eq!(get(&f, DEFAULT_GENERAL_B_PASSWORD, &[]).await.status(), 200);
    f.sim
        .configure_apis(|apis| apis.general_b.password = "rotated".to_owned());
    let response = get(&f, DEFAULT_GENERAL_B_PASSWORD, &[]).await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(get(&f, "rotated", &[]).await.status(), 200);
}

#[tokio::test]
async fn server_errors_and_slow_pages_on_demand() {
    let f = start(SimConfig::default()).await;
    f.sim.generate_api(Api::GeneralB, spec(10));
    f.sim.push_api_faults(
        Api::GeneralB,
        [
            Fault::ServerError(502),
            Fault::Slow(Duration::from_millis(300)),
        ],
    );
    assert_eq!(get(&f, DEFAULT_GENERAL_B_PASSWORD, &[]).await.status(), 502);
    let started = Instant::now();
    assert_eq!(page(&f, &[]).await.len(), 10);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let logged = f.sim.requests();
    assert_eq!(logged[1].fault.as_deref(), Some("Slow"));
    assert_eq!(logged[1].ids.len(), 10);
}
