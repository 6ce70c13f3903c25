//! `GET /people/me`: the profile of whoever the token belongs to. Clients call it to check a
//! token and to learn the org id.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::api_error::json_response;
use crate::auth::{authorize, bearer_token};
use crate::encoding::base64;
use crate::event_api::record;
use crate::rng::{rng_for, uuid};
use crate::server::TrackingId;
use crate::state::Shared;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Person<'a> {
    id: String,
    emails: [&'a str; 1],
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
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(&headers);
    let response = match authorize(&shared, bearer.as_deref(), None) {
        Ok(_) => {
            let person_uuid = uuid(&mut rng_for(&[shared.config.seed, 0x4D45]));
            let person = Person {
                id: base64(format!("ciscospark://us/PEOPLE/{person_uuid}").as_bytes()),
                emails: ["sim.admin@example.com"],
                display_name: "Sim Admin",
                nick_name: "Sim",
                first_name: "Sim",
                last_name: "Admin",
                org_id: &shared.config.org_id,
                created: "2024-01-01T00:00:00.000Z",
                status: "active",
                kind: "person",
            };
            json_response(StatusCode::OK, &person)
        }
        Err(refused) => refused.response(&tracking.0),
    };
    record(&shared, &uri, &response, bearer, Vec::new(), None, at_ms);
    response
}
