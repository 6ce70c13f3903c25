//! The HTTP surface: routes under `/v1`, a `TrackingId` on every response, graceful shutdown.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api_error::api_error;
use crate::state::Shared;
use crate::{apis, event_api, oauth_api, orgs_api, people_api, webhooks_api};

/// The id of one request, echoed in the `TrackingId` header and in error bodies, as Webex does
/// so support can find a request.
#[derive(Clone, Debug)]
pub(crate) struct TrackingId(pub String);

const TRACKING_ID: HeaderName = HeaderName::from_static("trackingid");

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mount = shared.config.mount.clone();
    let routes = routes(shared);
    if mount.is_empty() {
        return routes;
    }
    // Mounted elsewhere: nothing answers at the root but Webex's 404.
    Router::new()
        .nest(&mount, routes)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not mounted here") })
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/adminAudit/events", get(event_api::admin_audit))
        .route(
            "/v1/adminAudit/eventCategories",
            get(event_api::admin_categories),
        )
        .route(
            "/v1/admin/securityAudit/events",
            get(event_api::security_audit),
        )
        .route("/v1/events", get(event_api::compliance_events))
        .route("/v1/events/{event_id}", get(event_api::compliance_event))
        .route("/v1/people/me", get(people_api::me))
        .route("/v1/organizations", get(orgs_api::list))
        .route("/v1/organizations/{org_id}", get(orgs_api::details))
        .route("/v1/authorize", get(oauth_api::authorize))
        .route("/v1/access_token", post(oauth_api::access_token))
        .merge(apis::routes())
        .merge(webhooks_api::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), tracking))
        .with_state(shared)
}

async fn tracking(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let id = shared.next_tracking_id();
    request.extensions_mut().insert(TrackingId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(TRACKING_ID, value);
    }
    response
}

async fn not_found(Extension(tracking): Extension<TrackingId>) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &tracking.0,
        "The requested resource could not be found.",
    )
}

/// Serves until `shutdown` turns true or its sender is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let signal = async move {
        // An error means the sender is gone: shut down as well.
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(error) = axum::serve(listener, router(shared))
        .with_graceful_shutdown(signal)
        .await
    {
        tracing::warn!(%error, "webex-sim server stopped with an error");
    }
}
