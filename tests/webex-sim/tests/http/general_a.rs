//! General A: next URL and API key.

use std::time::{Duration, UNIX_EPOCH};

use reqwest::Response;
use serde_json::Value;
use webex_sim::{Api, DEFAULT_GENERAL_A_API_KEY, DEFAULT_START_MS, Fault, GenerateSpec, SimConfig};

use crate::support::{Fixture, HOUR_MS, iso, raw_items, start};

const NOW: i64 = DEFAULT_START_MS;

async fn get(f: &Fixture, url: &str, query: &[(&str, String)]) -> Response {
    f.client
        .get(url)
        .header("X-Api-Key", DEFAULT_GENERAL_A_API_KEY)
        .query(query)
        .send()
        .await
        .unwrap()
}

fn next_of(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).unwrap();
    value["next"].as_str().map(str::to_owned)
}

fn time_of(item: &str) -> String {
    let value: Value = serde_json::from_str(item).unwrap();
    value["occurred_at"].as_str().unwrap().to_owned()
}

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.4,
        ..GenerateSpec::new(count, NOW - HOUR_MS, NOW)
    }
}

#[tokio::test]
async fn next_urls_walk_oldest_first_to_the_end_each_once() {
    for absolute in [true, false] {
        let mut config = SimConfig::default();
        config.apis.general_a.absolute_next = absolute;
        let f = start(config).await;
        let generated = f.sim.generate_api(Api::GeneralA, spec(450));
        let url = f.sim.api_url(Api::GeneralA);
        let query = [
            ("since", iso(NOW - HOUR_MS)),
            ("until", iso(NOW)),
            ("page_size", "200".to_owned()),
        ];
        let mut body = get(&f, &url, &query).await.text().await.unwrap();
        let mut items = Vec::new();
        let mut pages = 1;
        loop {
            items.extend(raw_items(&body, "results"));
            let Some(next) = next_of(&body) else { break };
            let relative = "/gen-a/api/v2/audit?page_token=";
            if absolute {
                assert!(
                    next.starts_with(&format!("{}{relative}", f.sim.origin())),
                    "{next}"
                );
            } else {
                assert!(next.starts_with(relative), "{next}");
            }
            let next = if absolute {
                next
            } else {
                format!("{}{next}", f.sim.origin())
            };
            body = get(&f, &next, &[]).await.text().await.unwrap();
            pages += 1;
        }
        assert_eq!(pages, 3);
        let times: Vec<String> = items.iter().map(|i| time_of(i)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        let mut expected: Vec<String> = generated.iter().map(|e| e.json.clone()).collect();
        expected.sort();
        items.sort();
        assert_eq!(items, expected, "every event once, byte for byte");
        let value: Value = serde_json::from_str(&generated[0].json).unwrap();
        assert_eq!(value["id"], generated[0].key.as_str(), "string ids");
    }
}

#[tokio::test]
async fn since_is_inclusive_until_exclusive_and_limits_hold() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::GeneralA, spec(200));
    let url = f.sim.api_url(Api::GeneralA);
    let pivot = time_of(&generated[40].json);
    let count = |body: &str| raw_items(body, "results").len();
    let at_or_after = generated
        .iter()
        .filter(|e| time_of(&e.json) >= pivot)
        .count();
    let query = [("since", pivot.clone()), ("page_size", "200".to_owned())];
    let body = get(&f, &url, &query).await.text().await.unwrap();
    assert_eq!(count(&body), at_or_after);
    let query = [("until", pivot.clone()), ("page_size", "200".to_owned())];
    let body = get(&f, &url, &query).await.text().await.unwrap();
    assert_eq!(count(&body), 200 - at_or_after);

    for (name, value) in [
        ("page_size", "201"),
        ("page_size", "0"),
        ("since", "today"),
        ("page_token", "forged"),
    ] {
        let response = get(&f, &url, &[(name, value.to_owned())]).await;
        assert_eq!(response.status(), 400, "{name}={value}");
        let value: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert!(value["error"].is_string());
    }
    let response = f
        .client
        .get(&url)
        .header("X-Api-Key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(f.client.get(&url).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn retry_after_is_a_date_and_503_has_none() {
    let f = start(SimConfig::default()).await;
    let url = f.sim.api_url(Api::GeneralA);
    f.sim.push_api_faults(
        Api::GeneralA,
        [
            Fault::TooManyRequests { retry_after_s: 30 },
            Fault::ServerError(503),
        ],
    );
    let response = get(&f, &url, &[]).await;
    assert_eq!(response.status(), 429);
    let date = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    let at = httpdate::parse_http_date(&date).unwrap();
    assert_eq!(
        at,
        UNIX_EPOCH + Duration::from_millis((NOW + 30_000) as u64),
        "{date}"
    );
    let response = get(&f, &url, &[]).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(get(&f, &url, &[]).await.status(), 200);
}

#[tokio::test]
async fn a_next_to_another_host_or_to_itself_on_demand() {
    let f = start(SimConfig::default()).await;
    f.sim.generate_api(Api::GeneralA, spec(30));
    let url = f.sim.api_url(Api::GeneralA);
    let elsewhere = "https://attacker.example/gen-a/api/v2/audit?page_token=x".to_owned();
    f.sim.push_api_faults(
        Api::GeneralA,
        [Fault::Link(elsewhere.clone()), Fault::LinkToSelf],
    );
    let query = [("page_size", "10".to_owned())];
    let body = get(&f, &url, &query).await.text().await.unwrap();
    assert_eq!(next_of(&body), Some(elsewhere));
    assert_eq!(
        raw_items(&body, "results").len(),
        10,
        "the page itself is whole"
    );
    let body = get(&f, &url, &query).await.text().await.unwrap();
    assert_eq!(
        next_of(&body),
        Some(format!("{url}?page_size=10")),
        "a loop"
    );
    let logged: Vec<Option<String>> = f.sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        logged,
        [Some("Link".to_owned()), Some("LinkToSelf".to_owned())]
    );
}
