//! `/v1/webhooks` as Webex serves it: create, list, get, update and delete, `ownedBy: org` for
//! an organisation's webhooks, a `secret` that is never listed back, and a `status` Webex sets
//! to `disabled` after 100 failed deliveries in 5 minutes (only a `PUT` with `status: active`
//! turns it back on). The deliverer ([`crate::Simulator::deliver`]) posts signed deliveries.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::api_error::{api_error, json_response};
use crate::auth::{AuthFailure, authorize, bearer_token};
use crate::server::TrackingId;
use crate::state::Shared;
use crate::timefmt;

/// Failed deliveries within [`FAILURE_WINDOW_MS`] that disable a webhook.
pub(crate) const FAILURES_TO_DISABLE: usize = 100;
pub(crate) const FAILURE_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A webhook as the simulator keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimWebhook {
    pub id: String,
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Never shown in an answer, as Webex does not.
    #[serde(skip)]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// `active`, `inactive`, or `disabled` (by failed deliveries).
    pub status: String,
    pub org_id: String,
    pub created_by: String,
    pub app_id: String,
    pub created: String,
}

#[derive(Debug, Default)]
pub(crate) struct WebhookStore {
    pub items: BTreeMap<String, SimWebhook>,
    /// Times of the failed deliveries of each webhook within the window, oldest first.
    pub failures: BTreeMap<String, VecDeque<i64>>,
    created: u64,
}

impl WebhookStore {
    /// Records a failed delivery at `at_ms`; disables the webhook at the hundredth in 5 minutes.
    pub(crate) fn failed(&mut self, id: &str, at_ms: i64) {
        let failures = self.failures.entry(id.to_string()).or_default();
        failures.push_back(at_ms);
        while failures
            .front()
            .is_some_and(|first| *first <= at_ms - FAILURE_WINDOW_MS)
        {
            failures.pop_front();
        }
        if failures.len() >= FAILURES_TO_DISABLE
            && let Some(webhook) = self.items.get_mut(id)
        {
            webhook.status = "disabled".into();
            failures.clear();
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    name: Option<String>,
    target_url: Option<String>,
    resource: Option<String>,
    event: Option<String>,
    filter: Option<String>,
    secret: Option<String>,
    owned_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    name: Option<String>,
    target_url: Option<String>,
    secret: Option<String>,
    owned_by: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    max: Option<usize>,
    owned_by: Option<String>,
}

#[derive(Serialize)]
struct Items<'a> {
    items: Vec<&'a SimWebhook>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/{id}", get(one).put(update).delete(delete))
}

/// The caller's organisation and address.
fn caller(shared: &Shared, headers: &HeaderMap) -> Result<(String, String), AuthFailure> {
    let bearer = bearer_token(headers);
    authorize(shared, bearer.as_deref(), None)
        .map(|grant| (grant.person.org_id.clone(), grant.person.email.clone()))
}

async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let (org_id, _) = match caller(&shared, &headers) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(&tracking.0),
    };
    let inner = shared.lock();
    let items = inner
        .webhooks
        .items
        .values()
        .filter(|w| w.org_id == org_id)
        .filter(|w| query.owned_by.is_none() || w.owned_by == query.owned_by)
        .take(query.max.unwrap_or(100))
        .collect();
    json_response(StatusCode::OK, &Items { items })
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (org_id, person) = match caller(&shared, &headers) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(&tracking.0),
    };
    let Ok(create) = serde_json::from_slice::<Create>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            &tracking.0,
            "The request body is not valid JSON.",
        );
    };
    let (Some(name), Some(target_url), Some(resource), Some(event)) = (
        create.name,
        create.target_url,
        create.resource,
        create.event,
    ) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            &tracking.0,
            "name, targetUrl, resource and event are required.",
        );
    };
    let now_ms = shared.clock.now_ms();
    let mut inner = shared.lock();
    inner.webhooks.created += 1;
    let id = format!(
        "Y2lzY29zcGFyazovL3VzL1dFQkhPT0sv{:010}",
        inner.webhooks.created
    );
    let webhook = SimWebhook {
        id: id.clone(),
        name,
        target_url,
        resource,
        event,
        filter: create.filter,
        secret: create.secret,
        owned_by: create.owned_by,
        status: "active".into(),
        org_id,
        created_by: person,
        app_id: "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL3NpbQ".into(),
        created: timefmt::format_ms(now_ms),
    };
    inner.webhooks.items.insert(id, webhook.clone());
    json_response(StatusCode::OK, &webhook)
}

async fn one(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (org_id, _) = match caller(&shared, &headers) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(&tracking.0),
    };
    match shared.lock().webhooks.items.get(&id) {
        Some(webhook) if webhook.org_id == org_id => json_response(StatusCode::OK, webhook),
        _ => not_found(&tracking.0),
    }
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (org_id, _) = match caller(&shared, &headers) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(&tracking.0),
    };
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            &tracking.0,
            "The request body is not valid JSON.",
        );
    };
    let (Some(name), Some(target_url)) = (update.name, update.target_url) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            &tracking.0,
            "name and targetUrl are required.",
        );
    };
    if let Some(status) = &update.status
        && !["active", "inactive"].contains(&status.as_str())
    {
        return api_error(
            StatusCode::BAD_REQUEST,
            &tracking.0,
            "status must be active or inactive.",
        );
    }
    let mut inner = shared.lock();
    let Some(webhook) = inner
        .webhooks
        .items
        .get_mut(&id)
        .filter(|w| w.org_id == org_id)
    else {
        return not_found(&tracking.0);
    };
    webhook.name = name;
    webhook.target_url = target_url;
    if update.secret.is_some() {
        webhook.secret = update.secret;
    }
    if update.owned_by.is_some() {
        webhook.owned_by = update.owned_by;
    }
    if let Some(status) = update.status {
        webhook.status = status;
    }
    let webhook = webhook.clone();
    json_response(StatusCode::OK, &webhook)
}

async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (org_id, _) = match caller(&shared, &headers) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(&tracking.0),
    };
    let mut inner = shared.lock();
    if inner
        .webhooks
        .items
        .get(&id)
        .is_none_or(|w| w.org_id != org_id)
    {
        return not_found(&tracking.0);
    }
    inner.webhooks.items.remove(&id);
    inner.webhooks.failures.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}

fn not_found(tracking: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        tracking,
        "The requested resource could not be found.",
    )
}

/// One delivery the deliverer posted: the raw body (as signed) and each attempt's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub webhook_id: String,
    pub body: Vec<u8>,
    /// The status of each attempt; `None`: no answer (refused, timed out).
    pub attempts: Vec<Option<u16>>,
}

impl Posted {
    pub fn delivered(&self) -> bool {
        self.attempts
            .last()
            .is_some_and(|s| s.is_some_and(|s| (200..300).contains(&s)))
    }
}

/// A delivery's body, in Webex's member order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    id: &'a str,
    name: &'a str,
    target_url: &'a str,
    resource: &'a str,
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a str>,
    org_id: &'a str,
    created_by: &'a str,
    app_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owned_by: Option<&'a str>,
    status: &'a str,
    created: &'a str,
    actor_id: &'a str,
    data: &'a serde_json::Value,
}

impl SimWebhook {
    /// Whether a `resource` `event` fires this webhook (`all` matches any).
    pub(crate) fn fires_on(&self, resource: &str, event: &str) -> bool {
        self.status == "active"
            && (self.resource == resource || self.resource == "all")
            && (self.event == event || self.event == "all")
    }

    /// The delivery's raw body for `resource` `event` (what happened, also for a webhook of
    /// `all`) and its `X-Spark-Signature` (none without a secret).
    pub(crate) fn delivery(
        &self,
        resource: &str,
        event: &str,
        actor_id: &str,
        data: &serde_json::Value,
    ) -> (Vec<u8>, Option<String>) {
        let body = Body {
            id: &self.id,
            name: &self.name,
            target_url: &self.target_url,
            resource,
            event,
            filter: self.filter.as_deref(),
            org_id: &self.org_id,
            created_by: &self.created_by,
            app_id: &self.app_id,
            owned_by: self.owned_by.as_deref(),
            status: &self.status,
            created: &self.created,
            actor_id,
            data,
        };
        // Serialising strings and a JSON value cannot fail.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let signature = self.secret.as_deref().map(|secret| sign(secret, &bytes));
        (bytes, signature)
    }
}

/// Hex HMAC-SHA1 of `body` under `secret`, as Webex signs.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let Ok(mut mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
