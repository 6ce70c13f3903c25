//! The three event endpoints (and the admin audit category list).
//!
//! A request goes through, in order: bearer auth and scope (401/403), the rate limit (429),
//! page latency, the next fault, parameter validation (400/403), the `max` gateway limit (504),
//! then the page. Faults sit after auth because Webex's gateway answers them to callers it has
//! already identified; they sit before validation because they model infrastructure, not the
//! API's judgement of the query.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;

use crate::api_error::{JSON, api_error, json_response, unauthorized};
use crate::auth::{authorize, bearer_token};
use crate::bodies::{padded_page, page_response, spaces, truncated_body};
use crate::catalog::ADMIN_CATEGORIES;
use crate::config::{AUDIT_SCOPE, COMPLIANCE_SCOPE, Stream};
use crate::event_query::{self, Paging, Refusal};
use crate::faults::Fault;
use crate::log::{LogEntry, RATE_LIMITED, ServedIds};
use crate::paging::{Cursor, link_next, next_query, page};
use crate::query::Params;
use crate::server::TrackingId;
use crate::state::Shared;
use crate::tokens::Grant;

pub(crate) async fn admin_audit(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve_events(&shared, Stream::AdminAudit, &tracking.0, &headers, &uri).await
}

pub(crate) async fn security_audit(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve_events(&shared, Stream::SecurityAudit, &tracking.0, &headers, &uri).await
}

pub(crate) async fn compliance_events(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve_events(
        &shared,
        Stream::ComplianceEvents,
        &tracking.0,
        &headers,
        &uri,
    )
    .await
}

/// `GET /events/{eventId}`: one compliance event of the caller's organisation, as its pages
/// have it (visible yet); 404 for another organisation's or an unknown id, as Webex answers.
pub(crate) async fn compliance_event(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(&headers);
    let response = match authorize(&shared, bearer.as_deref(), Some(COMPLIANCE_SCOPE)) {
        Err(refused) => refused.response(&tracking.0),
        Ok(grant) => {
            let fault = shared.lock().faults.next();
            match &fault {
                Some(fault) => match fail(fault, &tracking.0).await {
                    Some(response) => response,
                    None => one_event(&shared, &grant.person.org_id, &id, at_ms, &tracking.0),
                },
                None => one_event(&shared, &grant.person.org_id, &id, at_ms, &tracking.0),
            }
        }
    };
    record(&shared, &uri, &response, bearer, at_ms);
    response
}

fn one_event(shared: &Shared, org_id: &str, id: &str, now_ms: i64, tracking: &str) -> Response {
    let found = shared
        .lock()
        .events
        .events(org_id, Stream::ComplianceEvents)
        .into_iter()
        .find(|e| e.id == id && e.visible_at_ms <= now_ms);
    match found {
        Some(event) => {
            let mut response = Response::new(Body::from(event.json));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
            response
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            tracking,
            "The requested resource could not be found.",
        ),
    }
}

/// `GET /adminAudit/eventCategories`: the category names admin audit filters accept.
pub(crate) async fn admin_categories(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Categories {
        event_categories: Vec<&'static str>,
    }
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(&headers);
    let response = match authorize(&shared, bearer.as_deref(), Some(AUDIT_SCOPE)) {
        Ok(_) => json_response(
            StatusCode::OK,
            &Categories {
                event_categories: ADMIN_CATEGORIES.iter().map(|c| c.name).collect(),
            },
        ),
        Err(refused) => refused.response(&tracking.0),
    };
    record(&shared, &uri, &response, bearer, at_ms);
    response
}

/// Logs a request that serves no events and names no org (`people/me`, the lists).
pub(crate) fn record(
    shared: &Shared,
    uri: &Uri,
    response: &Response,
    bearer: Option<String>,
    at_ms: i64,
) {
    record_fault(shared, uri, response, bearer, None, at_ms);
}

/// [`record`] with the fault that answered, if any (`RateLimited`).
pub(crate) fn record_fault(
    shared: &Shared,
    uri: &Uri,
    response: &Response,
    bearer: Option<String>,
    fault: Option<&str>,
    at_ms: i64,
) {
    shared.log(LogEntry {
        method: "GET",
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        body: None,
        status: response.status().as_u16(),
        bearer,
        org_id: None,
        served: None,
        fault: fault.map(str::to_owned),
        at_ms,
    });
}

/// Webex counts requests per client over a sliding minute.
const WEBEX_RATE_WINDOW: Duration = Duration::from_secs(60);

/// The configured per-client limit (Webex limits per client, not per org or process): `None`
/// admits the request, `Some` is the 429 to answer, logged as `RateLimited`.
pub(crate) fn rate_limit(shared: &Shared, grant: &Grant, tracking_id: &str) -> Option<Response> {
    let limit = shared.config.rate_limit_per_minute?;
    let now_ms = shared.monotonic_ms();
    let verdict = shared
        .lock()
        .limiter
        .check(&grant.client_id, limit, WEBEX_RATE_WINDOW, now_ms);
    verdict.err().map(|retry_after_s| {
        retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            tracking_id,
            retry_after_s,
            "Too many requests have been sent in a given amount of time.",
        )
    })
}

/// A response plus what the request log should say about it.
struct Outcome {
    response: Response,
    org_id: Option<String>,
    served: Option<ServedIds>,
    fault: Option<String>,
}

impl Outcome {
    fn plain(response: Response, org_id: Option<String>) -> Outcome {
        Outcome {
            response,
            org_id,
            served: None,
            fault: None,
        }
    }

    fn fault(response: Response, org_id: Option<String>, fault: Option<String>) -> Outcome {
        Outcome {
            response,
            org_id,
            served: None,
            fault,
        }
    }
}

async fn serve_events(
    shared: &Shared,
    stream: Stream,
    tracking_id: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    let at_ms = shared.clock.now_ms();
    let bearer = bearer_token(headers);
    let outcome = answer(shared, stream, tracking_id, bearer.as_deref(), uri).await;
    tracing::debug!(
        stream = stream.name(),
        status = outcome.response.status().as_u16(),
        events = outcome.served.as_ref().map_or(0, ServedIds::len),
        fault = outcome.fault.as_deref(),
        "served event page"
    );
    shared.log(LogEntry {
        method: "GET",
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        body: None,
        status: outcome.response.status().as_u16(),
        bearer,
        org_id: outcome.org_id,
        served: outcome.served,
        fault: outcome.fault,
        at_ms,
    });
    outcome.response
}

/// The `orgId` an audit request names, for the log.
fn named_org(uri: &Uri) -> Option<String> {
    let params = Params::from_uri(uri).ok()?;
    params.get("orgId").map(str::to_owned)
}

async fn answer(
    shared: &Shared,
    stream: Stream,
    tracking_id: &str,
    bearer: Option<&str>,
    uri: &Uri,
) -> Outcome {
    let mut org_id = match stream {
        Stream::AdminAudit | Stream::SecurityAudit => named_org(uri),
        Stream::ComplianceEvents => None,
    };
    let grant = match authorize(shared, bearer, Some(stream.required_scope())) {
        Ok(grant) => grant,
        Err(refused) => return Outcome::plain(refused.response(tracking_id), org_id),
    };
    if stream == Stream::ComplianceEvents {
        org_id = Some(grant.person.org_id.clone());
    }
    if stream == Stream::SecurityAudit && !shared.config.security_audit_entitled {
        let message = "Security audit events require Pro Pack and the \"Allow user authentication data\" setting.";
        let response = api_error(StatusCode::FORBIDDEN, tracking_id, message);
        return Outcome::plain(response, org_id);
    }
    if let Some(response) = rate_limit(shared, &grant, tracking_id) {
        return Outcome::fault(response, org_id, Some(RATE_LIMITED.to_owned()));
    }
    if !shared.config.page_latency.is_zero() {
        tokio::time::sleep(shared.config.page_latency).await;
    }

    let fault = shared.lock().faults.next();
    let fault_name = fault.as_ref().map(Fault::name);
    if fault == Some(Fault::Hang) {
        // Logged now: the client gives up before any answer, and its going away drops this
        // handler before `serve_events` could log it.
        shared.log(LogEntry {
            method: "GET",
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            body: None,
            status: 0,
            bearer: bearer.map(str::to_owned),
            org_id: org_id.clone(),
            served: None,
            fault: fault_name.clone(),
            at_ms: shared.clock.now_ms(),
        });
    }
    if let Some(fault) = &fault
        && let Some(response) = fail(fault, tracking_id).await
    {
        return Outcome::fault(response, org_id, fault_name);
    }

    let page = match build_page(shared, stream, uri, &grant) {
        Ok(page) => page,
        Err(Refusal::GatewayTimeout) => {
            let response = gateway_timeout(tracking_id);
            return Outcome::fault(response, org_id, Some("GatewayTimeout".to_owned()));
        }
        Err(Refusal::Invalid(status, message)) => {
            let response = api_error(status, tracking_id, &message);
            return Outcome::fault(response, org_id, fault_name);
        }
    };

    let link =
        match &fault {
            Some(Fault::Link(url)) => Some(format!("<{url}>; rel=\"next\"")),
            Some(Fault::LinkToSelf) => Some(format!("<{}{}>; rel=\"next\"", shared.origin(), uri)),
            Some(Fault::LinkToPrevious) => {
                let previous =
                    shared.lock().requests.entries().last().map(|r| {
                        format!("<{}{}?{}>; rel=\"next\"", shared.origin(), r.path, r.query)
                    });
                previous.or(page.link)
            }
            _ => page.link,
        };
    let truncated = fault == Some(Fault::Truncated);
    let mut response = if truncated {
        Response::new(truncated_body(page.body))
    } else {
        Response::new(Body::from(page.body))
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LINK, link);
    }
    Outcome {
        response,
        org_id,
        served: (!truncated && !page.uuids.is_empty()).then_some(ServedIds::Webex {
            stream,
            uuids: page.uuids,
        }),
        fault: fault_name,
    }
}

/// The response a fault replaces the page with, or `None` when the page still follows
/// (after a `Slow` wait, or to be cut short for `Truncated`).
async fn fail(fault: &Fault, tracking_id: &str) -> Option<Response> {
    match fault {
        Fault::TooManyRequests { retry_after_s } => Some(retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            tracking_id,
            *retry_after_s,
            "Too many requests have been sent in a given amount of time.",
        )),
        Fault::Locked { retry_after_s } => Some(retry_later(
            StatusCode::LOCKED,
            tracking_id,
            *retry_after_s,
            "The requested resource is temporarily unavailable.",
        )),
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = match status {
                StatusCode::BAD_GATEWAY => {
                    "The server received an invalid response from an upstream server. Try again later."
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    "Server is overloaded with requests. Try again later."
                }
                _ => "Something went wrong on the server.",
            };
            Some(api_error(status, tracking_id, message))
        }
        Fault::GatewayTimeout => Some(gateway_timeout(tracking_id)),
        Fault::Expired => Some(unauthorized(tracking_id)),
        Fault::Slow(delay) => {
            tokio::time::sleep(*delay).await;
            None
        }
        Fault::Truncated | Fault::Link(_) | Fault::LinkToSelf | Fault::LinkToPrevious => None,
        Fault::Hang => std::future::pending().await,
        Fault::RetryAfterText { status, value } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let mut response = api_error(status, tracking_id, "Try again later.");
            // Sent as given; a value no header may carry is left out.
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Some(response)
        }
        Fault::OversizedPage { bytes } => Some(page_response(padded_page(*bytes), None)),
        Fault::EndlessPage => Some(page_response(spaces(None), None)),
        Fault::DeclaredLength(length) => Some(page_response(spaces(None), Some(*length))),
    }
}

fn retry_later(status: StatusCode, tracking_id: &str, seconds: u64, message: &str) -> Response {
    let mut response = api_error(status, tracking_id, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn gateway_timeout(tracking_id: &str) -> Response {
    api_error(
        StatusCode::GATEWAY_TIMEOUT,
        tracking_id,
        "An upstream server failed to respond on time. If your query uses max parameter, please try to reduce it.",
    )
}

struct Page {
    body: String,
    link: Option<String>,
    uuids: Vec<u128>,
}

fn build_page(shared: &Shared, stream: Stream, uri: &Uri, grant: &Grant) -> Result<Page, Refusal> {
    let query = event_query::parse(shared, stream, uri, shared.clock.now_ms(), grant)?;
    if let Some(limit) = shared.config.max_without_gateway_timeout
        && query.max > limit as usize
    {
        return Err(Refusal::GatewayTimeout);
    }

    // Selecting (sorted once per query snapshot) and copying the page's records happen under
    // the lock; rendering their JSON does not.
    let (events, next) = {
        let mut inner = shared.lock();
        let selected = inner.events.select(
            &query.org_id,
            stream,
            &query.filter,
            shared.config.order,
            query.shuffle_key,
        );
        let (positions, next) = page(&selected, query.offset, query.max);
        (inner.events.page(&query.org_id, stream, positions), next)
    };
    let body = events.body();

    let raw_query = uri.query().unwrap_or_default();
    let next_page_query = match (next, query.paging) {
        (Some(offset), Paging::Offset) if shared.config.admin_link_header => {
            Some(next_query(raw_query, "offset", &offset.to_string()))
        }
        (Some(offset), Paging::Cursor { as_of_ms }) => {
            let cursor = Cursor { offset, as_of_ms }.encode();
            Some(next_query(raw_query, "cursor", &cursor))
        }
        _ => None,
    };
    Ok(Page {
        body,
        link: next_page_query.map(|q| link_next(&shared.base_url, stream.path(), &q)),
        uuids: events.uuids(),
    })
}
