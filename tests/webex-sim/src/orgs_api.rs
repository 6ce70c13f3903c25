//! `GET /organizations` and `GET /organizations/{orgId}`: the organisations a token's user may
//! see. A partner administrator sees their own org and the customer orgs they manage; an
//! ordinary administrator only their own. See
//! <https://developer.webex.com/docs/api/v1/organizations>: "List all organizations visible
//! by your account. The results will not be paginated." So the list has no `max` and no
//! `Link`; query parameters are ignored.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::api_error::{api_error, json_response};
use crate::auth::{authorize, bearer_token};
use crate::config::ORGANIZATIONS_SCOPE;
use crate::event_api::{rate_limit, record_fault};
use crate::log::RATE_LIMITED;
use crate::orgs::SimOrg;
use crate::server::TrackingId;
use crate::state::Shared;
use crate::timefmt::format_ms;

/// One org as the OpenAPI `Organization` schema has it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Organization<'a> {
    id: &'a str,
    display_name: &'a str,
    created: String,
}

impl<'a> From<&'a SimOrg> for Organization<'a> {
    fn from(org: &'a SimOrg) -> Self {
        Organization {
            id: &org.id,
            display_name: &org.display_name,
            created: created(org.created_ms),
        }
    }
}

#[derive(Serialize)]
struct Organizations<'a> {
    items: Vec<Organization<'a>>,
}

/// `2015-10-18T14:26:16+00:00`: the shape of the OpenAPI example (whole seconds, an offset).
fn created(ms: i64) -> String {
    let text = format_ms(ms);
    format!("{}+00:00", &text[..19])
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(&headers);
    let mut fault = None;
    let response = match authorize(&shared, bearer.as_deref(), Some(ORGANIZATIONS_SCOPE)) {
        Err(refused) => refused.response(&tracking.0),
        Ok(grant) => match rate_limit(&shared, &grant, &tracking.0) {
            Some(limited) => {
                fault = Some(RATE_LIMITED);
                limited
            }
            None => {
                let visible = shared.lock().orgs.visible(&grant.person);
                let items = visible.iter().map(Organization::from).collect();
                json_response(StatusCode::OK, &Organizations { items })
            }
        },
    };
    record_fault(&shared, &uri, &response, bearer, fault, at_ms);
    response
}

pub(crate) async fn details(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(&headers);
    let mut fault = None;
    let response = match authorize(&shared, bearer.as_deref(), Some(ORGANIZATIONS_SCOPE)) {
        Err(refused) => refused.response(&tracking.0),
        Ok(grant) => match rate_limit(&shared, &grant, &tracking.0) {
            Some(limited) => {
                fault = Some(RATE_LIMITED);
                limited
            }
            None => {
                let (visible, known) = {
                    let inner = shared.lock();
                    let known = inner.orgs.get(&org_id).is_some();
                    (inner.orgs.visible(&grant.person), known)
                };
                match visible.iter().find(|org| org.id == org_id) {
                    Some(org) => json_response(StatusCode::OK, &Organization::from(org)),
                    None if known => api_error(
                        StatusCode::FORBIDDEN,
                        &tracking.0,
                        &format!("The user is not allowed to access organization '{org_id}'."),
                    ),
                    None => api_error(
                        StatusCode::NOT_FOUND,
                        &tracking.0,
                        "The requested resource could not be found.",
                    ),
                }
            }
        },
    };
    record_fault(&shared, &uri, &response, bearer, fault, at_ms);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_has_the_openapi_shape() {
        assert_eq!(created(1_445_178_376_123), "2015-10-18T14:26:16+00:00");
    }
}
