//! `GET /people/me`: the profile of whoever the token belongs to. Clients call it to check a
//! token and to learn the org id.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::api_error::json_response;
use crate::auth::{authorize, bearer_token};
use crate::event_api::record;
use crate::server::TrackingId;
use crate::state::Shared;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Person<'a> {
    id: String,
    emails: [&'a str; 2],
    display_name: &'a str,
    nick_name: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    org_id: &'a str,
    created: &'a str,
    status: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

pub(crate) async fn me(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    // A scripted slow answer.
    let delay = shared.lock().people_delays.pop_front();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(&headers);
    let response = match authorize(&shared, bearer.as_deref(), None) {
        Ok(grant) => {
            let who = &grant.person;
            let (first_name, last_name) = who
                .display_name
                .split_once(' ')
                .unwrap_or((who.display_name.as_str(), ""));
            // Webex lists more than one address for some people; the second is an alias.
            let alias = format!("alias.{}", who.email);
            let person = Person {
                id: who.id(shared.config.seed),
                emails: [who.email.as_str(), alias.as_str()],
                display_name: &who.display_name,
                nick_name: first_name,
                first_name,
                last_name,
                org_id: &who.org_id,
                created: "2024-01-01T00:00:00.000Z",
                status: "active",
                kind: "person",
            };
            json_response(StatusCode::OK, &person)
        }
        Err(refused) => refused.response(&tracking.0),
    };
    record(&shared, &uri, &response, bearer, at_ms);
    response
}
