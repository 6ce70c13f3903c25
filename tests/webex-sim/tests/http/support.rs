//! A started simulator with a client and tokens for both profiles.

use std::time::Duration;

use reqwest::{Client, Response};
use serde_json::Value;
use webex_sim::{AUDIT_SCOPE, COMPLIANCE_SCOPE, SimConfig, Simulator, format_ms};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

pub struct Fixture {
    pub sim: Simulator,
    pub client: Client,
    /// Access token with `audit:events_read`.
    pub admin: String,
    /// Access token with `spark-compliance:events_read`.
    pub compliance: String,
}

pub async fn start(config: SimConfig) -> Fixture {
    let sim = Simulator::start(config).await.unwrap();
    let day = Duration::from_secs(86_400);
    let admin = sim.issue_access_token(&[AUDIT_SCOPE], day);
    let compliance = sim.issue_access_token(&[COMPLIANCE_SCOPE], day);
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Fixture {
        sim,
        client,
        admin,
        compliance,
    }
}

pub fn iso(ms: i64) -> String {
    format_ms(ms)
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub async fn get(&self, path: &str, token: &str, query: &[(&str, String)]) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// The admin audit query for `[from, to)` with this sim's org.
    pub fn admin_query(&self, from_ms: i64, to_ms: i64) -> Vec<(&'static str, String)> {
        vec![
            ("orgId", self.sim.config().org_id.clone()),
            ("from", iso(from_ms)),
            ("to", iso(to_ms)),
        ]
    }

    pub fn security_query(&self, from_ms: i64, to_ms: i64) -> Vec<(&'static str, String)> {
        vec![
            ("orgId", self.sim.config().org_id.clone()),
            ("startTime", iso(from_ms)),
            ("endTime", iso(to_ms)),
        ]
    }

    /// Follows `Link rel="next"` from the first page to the last; returns every id in order
    /// and the number of pages.
    pub async fn follow_links(&self, first: Response, token: &str) -> (Vec<String>, usize) {
        let mut ids = Vec::new();
        let mut pages = 0;
        let mut response = first;
        loop {
            assert_eq!(response.status(), 200, "page {pages}");
            pages += 1;
            let next = next_link(&response);
            ids.extend(item_ids(&response.text().await.unwrap()));
            let Some(next) = next else { break };
            assert!(pages < 1_000, "Link paging does not end");
            response = self
                .client
                .get(next)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
        }
        (ids, pages)
    }
}

/// The URL in `Link: <url>; rel="next"`.
pub fn next_link(response: &Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().unwrap();
    let (url, rel) = link.strip_prefix('<')?.split_once(">;")?;
    assert_eq!(rel.trim(), "rel=\"next\"");
    Some(url.to_owned())
}

pub fn item_ids(body: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(body).unwrap();
    value["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `message` of a Webex JSON error body.
pub async fn error_message(response: Response) -> String {
    let value: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(value["trackingId"].as_str().unwrap().starts_with("SIM_"));
    assert!(value["errors"][0]["description"].is_string());
    value["message"].as_str().unwrap().to_owned()
}

/// The exact JSON text of each item of the array at `path` (names joined by `.`, or `$` for a
/// bare array), as the server wrote it: what "byte for byte" is checked against.
pub fn raw_items(body: &str, path: &str) -> Vec<String> {
    use serde_json::value::RawValue;
    let mut raw: &RawValue = serde_json::from_str(body).unwrap();
    if path != "$" {
        for name in path.split('.') {
            let object: std::collections::HashMap<&str, &RawValue> =
                serde_json::from_str(raw.get()).unwrap();
            raw = object[name];
        }
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).unwrap();
    items.iter().map(|item| item.get().to_owned()).collect()
}
