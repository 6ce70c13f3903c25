//! `/v1/webhooks` and the deliverer: an organisation's webhooks created, listed, updated and
//! deleted as at Webex (the secret never shown, other organisations' webhooks invisible), and
//! deliveries signed with each webhook's secret, posted to a target this test serves, until 100
//! failures in 5 minutes disable the webhook.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use webex_sim::{AUDIT_SCOPE, SimConfig, SimPerson, sign_delivery};

use crate::support::{Fixture, start};

const DAY: Duration = Duration::from_secs(86_400);
const SECRET: &str = "sim-webhook-secret";

/// A delivery target on 127.0.0.1: records each post, answers with the status set.
struct Target {
    url: String,
    received: Received,
    status: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

/// Each post's body and `X-Spark-Signature`.
type Received = Arc<Mutex<Vec<(Vec<u8>, Option<String>)>>>;

async fn target() -> Target {
    let received: Received = Arc::default();
    let status = Arc::new(AtomicU16::new(200));
    let app = Router::new()
        .route(
            "/webhooks",
            post(
                |State((received, status)): State<(Received, Arc<AtomicU16>)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let signature = headers
                        .get("x-spark-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    received.lock().unwrap().push((body.to_vec(), signature));
                    StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
                },
            ),
        )
        .with_state((received.clone(), status.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Target {
        url,
        received,
        status,
        task,
    }
}

impl Fixture {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create_webhook(&self, target: &str, resource: &str, event: &str) -> Value {
        let body = json!({
            "name": format!("webex-events-to-s3 {resource}:{event}"),
            "targetUrl": target,
            "resource": resource,
            "event": event,
            "secret": SECRET,
            "ownedBy": "org",
        });
        let (status, created) = self
            .send(reqwest::Method::POST, "/webhooks", &self.admin, Some(body))
            .await;
        assert_eq!(status, 200, "{created}");
        created
    }
}

#[tokio::test]
async fn an_organisations_webhooks_are_created_listed_updated_and_deleted() {
    let f = start(SimConfig::default()).await;
    use reqwest::Method;
    let created = f
        .create_webhook("https://example.invalid/webhooks", "messages", "created")
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "active");
    assert_eq!(created["ownedBy"], "org");
    assert!(
        created.get("secret").is_none(),
        "the secret is never shown: {created}"
    );

    let (status, listed) = f
        .send(Method::GET, "/webhooks?ownedBy=org", &f.admin, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, mine) = f
        .send(Method::GET, "/webhooks?ownedBy=creator", &f.admin, None)
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);

    // Another organisation sees none of them.
    let stranger = SimPerson::new("someone@other.example", "Some One", "Y2lz-other-org");
    let theirs = f.sim.issue_access_token_as(&stranger, &[AUDIT_SCOPE], DAY);
    let (_, listed) = f.send(Method::GET, "/webhooks", &theirs, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    let (status, _) = f
        .send(Method::GET, &format!("/webhooks/{id}"), &theirs, None)
        .await;
    assert_eq!(status, 404);

    let path = format!("/webhooks/{id}");
    let (status, _) = f
        .send(Method::PUT, &path, &f.admin, Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, 400, "targetUrl is required");
    let bad_status = json!({"name": "x", "targetUrl": "https://a.example", "status": "paused"});
    let (status, _) = f.send(Method::PUT, &path, &f.admin, Some(bad_status)).await;
    assert_eq!(status, 400);
    let moved = json!({"name": "webex-events-to-s3 messages:created", "targetUrl": "https://b.example/webhooks", "status": "inactive"});
    let (status, updated) = f.send(Method::PUT, &path, &f.admin, Some(moved)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["targetUrl"].as_str(), updated["status"].as_str()),
        (Some("https://b.example/webhooks"), Some("inactive"))
    );

    let (status, _) = f.send(Method::DELETE, &path, &f.admin, None).await;
    assert_eq!(status, 204);
    let (status, _) = f.send(Method::GET, &path, &f.admin, None).await;
    assert_eq!(status, 404);
    let (status, _) = f.send(Method::GET, "/webhooks", "not-a-token", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn deliveries_are_signed_and_a_failing_target_gets_its_webhook_disabled() {
    let f = start(SimConfig::default()).await;
    let target = target().await;
    let messages = f.create_webhook(&target.url, "messages", "created").await;
    f.create_webhook(&target.url, "rooms", "created").await;
    let data = json!({"id": "Y2lz-message-1", "roomId": "Y2lz-room-1"});

    let posted = f
        .sim
        .deliver("messages", "created", "Y2lz-actor", &data, 1)
        .await;

    assert_eq!(posted.len(), 1, "only the webhook of the resource fires");
    assert!(posted[0].delivered());
    let received = target.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (body, signature) = &received[0];
    assert_eq!(body, &posted[0].body);
    assert_eq!(
        signature.as_deref(),
        Some(sign_delivery(SECRET, body).as_str())
    );
    let delivery: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(delivery["id"], messages["id"]);
    assert_eq!(delivery["orgId"], messages["orgId"]);
    assert_eq!(
        (delivery["resource"].as_str(), delivery["event"].as_str()),
        (Some("messages"), Some("created"))
    );
    assert_eq!(delivery["data"], data);
    assert!(delivery.get("secret").is_none());

    // 100 failed attempts within 5 minutes disable it, as at Webex; it then posts nothing.
    target.status.store(500, Ordering::SeqCst);
    for _ in 0..50 {
        let posted = f
            .sim
            .deliver("messages", "created", "Y2lz-actor", &data, 2)
            .await;
        assert!(
            posted
                .iter()
                .all(|p| !p.delivered() && p.attempts == [Some(500), Some(500)])
        );
    }
    let id = messages["id"].as_str().unwrap();
    let status = |f: &Fixture| {
        f.sim
            .webhooks()
            .into_iter()
            .find(|w| w.id == id)
            .unwrap()
            .status
    };
    assert_eq!(status(&f), "disabled");
    assert!(
        f.sim
            .deliver("messages", "created", "Y2lz-actor", &data, 1)
            .await
            .is_empty()
    );

    // Only a PUT with status active turns it back on.
    target.status.store(200, Ordering::SeqCst);
    let on = json!({"name": messages["name"], "targetUrl": target.url, "status": "active"});
    let (code, _) = f
        .send(
            reqwest::Method::PUT,
            &format!("/webhooks/{id}"),
            &f.admin,
            Some(on),
        )
        .await;
    assert_eq!(code, 200);
    let posted = f
        .sim
        .deliver("messages", "created", "Y2lz-actor", &data, 1)
        .await;
    assert!(posted.len() == 1 && posted[0].delivered());
    target.task.abort();
}
