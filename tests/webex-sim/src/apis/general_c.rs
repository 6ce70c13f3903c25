//! General C, a cursor API behind its own client-credentials token: `POST /gen-c/oauth/token`,
//! then `POST /gen-c/v1/events/search` with `{"from","to","limit","cursor"}` (`from`
//! inclusive, `to` exclusive; no cursor on the first request), answering
//! `{"data":{"events":[...]},"meta":{"next_cursor":...,"has_more":...}}`. Items come in no
//! order, have no id and carry their time with an offset; cursors expire.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::api_error::json_response;
use crate::apis::Api;
use crate::apis::client_tokens::{Audience, ClientGrant};
use crate::apis::errors::{set, simple_error};
use crate::apis::exchange::{Exchange, Page, joined, json_string, keys, record};
use crate::apis::feeds::{Bound, FeedOrder, Selection, Window};
use crate::apis::snapshots::Snapshot;
use crate::apis::times::parse_ns;
use crate::auth::bearer_token;
use crate::clock::duration_ms;
use crate::faults::Fault;
use crate::oauth_api::{form_field, form_fields};
use crate::rng::mix;
use crate::state::Shared;

const MAX_LIMIT: u64 = 200;
const DEFAULT_LIMIT: u64 = 100;

#[derive(Serialize)]
struct TokenAnswer<'a> {
    access_token: String,
    token_type: &'a str,
    expires_in: u64,
}

/// `POST /gen-c/oauth/token` with `grant_type=client_credentials`, `client_id`,
/// `client_secret` as a form.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    request: Request,
) -> Response {
    let fields = form_fields(request).await;
    let config = shared.lock().apis.general_c.clone();
    let response = match fields.as_deref() {
        None => simple_error(StatusCode::BAD_REQUEST, "invalid_request"),
        Some(fields) if form_field(fields, "grant_type") != Some("client_credentials") => {
            simple_error(StatusCode::BAD_REQUEST, "unsupported_grant_type")
        }
        Some(fields)
            if form_field(fields, "client_id") != Some(config.client_id.as_str())
                || form_field(fields, "client_secret") != Some(config.client_secret.as_str()) =>
        {
            simple_error(StatusCode::UNAUTHORIZED, "invalid_client")
        }
        Some(_) => {
            let now_ms = shared.clock.now_ms();
            let grant = ClientGrant {
                client_id: config.client_id.clone(),
                audience: Audience::GeneralC,
            };
            let access_token = shared
                .lock()
                .client_tokens
                .issue(grant, now_ms, config.token_ttl);
            let mut response = json_response(
                StatusCode::OK,
                &TokenAnswer {
                    access_token,
                    token_type: "Bearer",
                    expires_in: config.token_ttl.as_secs(),
                },
            );
            set(&mut response, header::CACHE_CONTROL, Some("no-store"));
            response
        }
    };
    record(&shared, &uri, &response, None);
    response
}

#[derive(Debug, Deserialize)]
struct SearchBody {
    from: Option<String>,
    to: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
}

pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut exchange = Exchange::new(&shared, Api::GeneralC, "POST", &uri);
    exchange.body(&String::from_utf8_lossy(&body));
    let outcome = answer(&shared, &headers, &body, &mut exchange).await;
    exchange.finish(outcome)
}

async fn answer(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    exchange: &mut Exchange<'_>,
) -> Result<Page, Response> {
    let now_ms = shared.clock.now_ms();
    let bearer = bearer_token(headers);
    exchange.bearer(bearer.as_deref());
    let valid = bearer.as_deref().is_some_and(|token| {
        let inner = shared.lock();
        matches!(
            inner.client_tokens.check(token, now_ms),
            Ok(ClientGrant {
                audience: Audience::GeneralC,
                ..
            })
        )
    });
    if !valid {
        return Err(simple_error(StatusCode::UNAUTHORIZED, "invalid_token"));
    }
    let fault = exchange.fault(false).await?;
    let request: SearchBody = serde_json::from_slice(body)
        .map_err(|_| simple_error(StatusCode::BAD_REQUEST, "invalid request body"))?;
    let snapshot = query(shared, &request, now_ms)
        .map_err(|message| simple_error(StatusCode::BAD_REQUEST, &message))?;
    let (items, next) = {
        let mut inner = shared.lock();
        let inner = &mut *inner;
        inner.snapshots.page(&inner.feeds, &snapshot, now_ms)
    };
    // The loop fault: the cursor just sent comes back as the next one.
    let next = match (fault, &request.cursor) {
        (Some(Fault::LinkToSelf), Some(cursor)) => Some(cursor.clone()),
        _ => next,
    };
    let next_cursor = next
        .as_deref()
        .map_or_else(|| "null".to_owned(), json_string);
    Ok(Page {
        body: format!(
            "{{\"data\":{{\"events\":[{}]}},\"meta\":{{\"next_cursor\":{next_cursor},\"has_more\":{}}}}}",
            joined(&items),
            next.is_some()
        ),
        content_type: "application/json",
        keys: keys(&items),
    })
}

/// The page a search names: its cursor's (unless expired), or the first of its window.
fn query(shared: &Shared, request: &SearchBody, now_ms: i64) -> Result<Snapshot, String> {
    if let Some(cursor) = &request.cursor {
        let held = shared.lock().snapshots.get(cursor).cloned();
        let held = held
            .filter(|s| s.selection.api == Api::GeneralC)
            .ok_or_else(|| "invalid cursor".to_owned())?;
        let ttl_ms = duration_ms(shared.lock().apis.general_c.cursor_ttl);
        if now_ms.saturating_sub(held.issued_at_ms) >= ttl_ms {
            return Err("cursor expired".to_owned());
        }
        return Ok(held);
    }
    let time = |name: &str, text: Option<&str>| -> Result<i64, String> {
        let text = text.ok_or_else(|| format!("{name} is required"))?;
        parse_ns(text).ok_or_else(|| format!("{name} must be an RFC 3339 date-time, got '{text}'"))
    };
    let from = time("from", request.from.as_deref())?;
    let to = time("to", request.to.as_deref())?;
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(format!("limit must be between 1 and {MAX_LIMIT}"));
    }
    Ok(Snapshot {
        selection: Selection {
            api: Api::GeneralC,
            tenant: String::new(),
            window: Window {
                from: Some(Bound {
                    ns: from,
                    inclusive: true,
                }),
                to: Some(Bound {
                    ns: to,
                    inclusive: false,
                }),
            },
            event_types: None,
            order: FeedOrder::Shuffled(mix(&[
                shared.config.seed,
                Api::GeneralC.tag(),
                from as u64,
                to as u64,
            ])),
        },
        page_size: limit as usize,
        offset: 0,
        as_of_ms: now_ms,
        issued_at_ms: now_ms,
    })
}
