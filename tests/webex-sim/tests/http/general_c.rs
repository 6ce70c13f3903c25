//! General C: a cursor in a JSON body, behind its own client-credentials token.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use webex_sim::{
    Api, DEFAULT_GENERAL_C_CLIENT_ID, DEFAULT_GENERAL_C_CLIENT_SECRET, DEFAULT_START_MS, Fault,
    GenerateSpec, SimConfig,
};

use crate::support::{Fixture, HOUR_MS, iso, raw_items, start};

const NOW: i64 = DEFAULT_START_MS;

async fn search(f: &Fixture, token: &str, body: &Value) -> (u16, String) {
    let response = f
        .client
        .post(f.sim.api_url(Api::GeneralC))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn meta(body: &str) -> (Option<String>, bool) {
    let value: Value = serde_json::from_str(body).unwrap();
    let meta = &value["meta"];
    (
        meta["next_cursor"].as_str().map(str::to_owned),
        meta["has_more"].as_bool().unwrap(),
    )
}

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.5,
        ..GenerateSpec::new(count, NOW - HOUR_MS, NOW)
    }
}

#[tokio::test]
async fn token_endpoint_takes_only_its_own_client() {
    let f = start(SimConfig::default()).await;
    let url = f.sim.general_c_token_url();
    let form = |secret: &'static str| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_GENERAL_C_CLIENT_ID),
            ("client_secret", secret),
        ]
    };
    let response = f
        .client
        .post(&url)
        .form(&form(DEFAULT_GENERAL_C_CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let value: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        (value["token_type"].as_str(), value["expires_in"].as_u64()),
        (Some("Bearer"), Some(3_600))
    );
    let token = value["access_token"].as_str().unwrap().to_owned();
    let (status, _) = search(
        &f,
        &token,
        &json!({"from": iso(NOW - HOUR_MS), "to": iso(NOW)}),
    )
    .await;
    assert_eq!(status, 200);

    let response = f
        .client
        .post(&url)
        .form(&form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"invalid_client"}"#
    );
    // A Graph token is no good here, and tokens expire.
    let graph = f.sim.issue_graph_token(webex_sim::DEFAULT_GRAPH_TENANT);
    assert_eq!(search(&f, &graph, &json!({})).await.0, 401);
    f.sim.advance(Duration::from_secs(3_600));
    let (status, body) = search(
        &f,
        &token,
        &json!({"from": iso(NOW - HOUR_MS), "to": iso(NOW)}),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"error":"invalid_token"}"#)
    );
}

#[tokio::test]
async fn cursors_walk_to_the_end_each_once_byte_for_byte() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::GeneralC, spec(230));
    let token = f.sim.issue_general_c_token();
    let first = json!({"from": iso(NOW - HOUR_MS), "to": iso(NOW), "limit": 50});
    let (status, mut body) = search(&f, &token, &first).await;
    assert_eq!(status, 200);
    let mut items = Vec::new();
    let mut cursors = Vec::new();
    loop {
        items.extend(raw_items(&body, "data.events"));
        let (next, has_more) = meta(&body);
        assert_eq!(next.is_some(), has_more);
        let Some(cursor) = next else { break };
        cursors.push(cursor.clone());
        let (status, next_body) = search(&f, &token, &json!({"cursor": cursor})).await;
        assert_eq!(status, 200);
        body = next_body;
    }
    assert_eq!(cursors.len(), 4);
    let mut expected: Vec<String> = generated.iter().map(|e| e.json.clone()).collect();
    let mut sorted = items.clone();
    expected.sort();
    sorted.sort();
    assert_eq!(sorted, expected, "every event once, byte for byte");
    assert_eq!(
        sorted.iter().collect::<HashSet<_>>().len(),
        230,
        "no two items alike"
    );

    let offsets: HashSet<String> = items
        .iter()
        .map(|i| {
            let value: Value = serde_json::from_str(i).unwrap();
            assert!(value.get("id").is_none());
            let time = value["occurred_at"].as_str().unwrap();
            time[time.len() - 6..].to_owned()
        })
        .collect();
    assert!(
        offsets.contains("+02:00") && offsets.len() > 2,
        "{offsets:?}"
    );
    let logged = f.sim.requests();
    assert_eq!(logged[0].method, "POST");
    assert_eq!(
        serde_json::from_str::<Value>(logged[0].body.as_deref().unwrap()).unwrap(),
        first
    );
}

#[tokio::test]
async fn windows_take_offsets_from_inclusive_to_exclusive() {
    let f = start(SimConfig::default()).await;
    let generated = f.sim.generate_api(Api::GeneralC, spec(150));
    let token = f.sim.issue_general_c_token();
    let pivot = &generated[11];
    let text: Value = serde_json::from_str(&pivot.json).unwrap();
    let text = text["occurred_at"].as_str().unwrap().to_owned();
    let count = |body: &str| raw_items(body, "data.events").len();
    let body = json!({"from": text, "to": iso(NOW), "limit": 200});
    let (_, page) = search(&f, &token, &body).await;
    assert_eq!(
        count(&page),
        generated
            .iter()
            .filter(|e| e.time_ms >= pivot.time_ms)
            .count()
    );
    assert!(page.contains(&pivot.json), "from is inclusive");
    let body = json!({"from": iso(NOW - HOUR_MS), "to": text, "limit": 200});
    let (_, page) = search(&f, &token, &body).await;
    assert_eq!(
        count(&page),
        generated
            .iter()
            .filter(|e| e.time_ms < pivot.time_ms)
            .count()
    );

    for bad in [
        json!({"to": iso(NOW)}),
        json!({"from": "noon", "to": iso(NOW)}),
        json!({"from": iso(NOW), "to": iso(NOW), "limit": 201}),
        json!({"cursor": "forged"}),
    ] {
        let (status, body) = search(&f, &token, &bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    }
}

#[tokio::test]
async fn identical_items_are_never_generated() {
    let f = start(SimConfig::default()).await;
    // Five hundred events in one millisecond: every time alike, yet no two items.
    let generated = f
        .sim
        .generate_api(Api::GeneralC, GenerateSpec::new(500, NOW, NOW + 1));
    let distinct: HashSet<&str> = generated.iter().map(|e| e.json.as_str()).collect();
    assert_eq!(distinct.len(), 500);
}

#[tokio::test]
async fn cursors_expire_and_loop_and_429_has_no_headers() {
    let f = start(SimConfig::default()).await;
    f.sim.generate_api(Api::GeneralC, spec(30));
    let token = f.sim.issue_general_c_token();
    let first = json!({"from": iso(NOW - HOUR_MS), "to": iso(NOW), "limit": 10});
    let (_, body) = search(&f, &token, &first).await;
    let cursor = meta(&body).0.unwrap();

    f.sim.push_api_faults(Api::GeneralC, [Fault::LinkToSelf]);
    let (status, body) = search(&f, &token, &json!({"cursor": cursor})).await;
    assert_eq!(status, 200);
    assert_eq!(
        meta(&body).0.as_deref(),
        Some(cursor.as_str()),
        "the same cursor again"
    );

    f.sim
        .push_api_faults(Api::GeneralC, [Fault::TooManyRequests { retry_after_s: 9 }]);
    let response = f
        .client
        .post(f.sim.api_url(Api::GeneralC))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(first.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let names: Vec<&str> = response.headers().keys().map(|k| k.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("retry") && !n.contains("rate")),
        "{names:?}"
    );

    f.sim.advance(Duration::from_secs(600));
    let (status, body) = search(&f, &token, &json!({"cursor": cursor})).await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"error":"cursor expired"}"#)
    );
}
