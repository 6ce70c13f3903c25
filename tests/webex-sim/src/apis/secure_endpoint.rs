//! Cisco Secure Endpoint `GET /v1/events` (`http-source.md` §9): HTTP Basic with the API
//! client id and key, `start_date` (inclusive, no end bound), `limit`, `offset`,
//! `event_type[]`; newest first; ids above 2^53; an hourly request budget reported in
//! `X-Rate-Limit-*` headers on every answer.
//!
//! Offset paging reads the feed as it is at each request: events that arrive between two pages
//! push older ones down, so the next offset repeats items (it never skips them).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::apis::Api;
use crate::apis::config::{RateLimitHeaders, SecureEndpointConfig};
use crate::apis::errors::{AMP_VERSION, amp_error, set};
use crate::apis::exchange::{Exchange, Page, joined, keys};
use crate::apis::feeds::{Bound, FeedOrder, Selection, Window};
use crate::apis::times::{NS_PER_S, parse_ns};
use crate::auth::basic_credentials;
use crate::paging::{next_query, page};
use crate::query::Params;
use crate::state::Shared;

/// Largest `limit`: 500 is seen in published answers, a documented maximum was not found.
const MAX_LIMIT: u64 = 500;
const BUDGET_WINDOW: Duration = Duration::from_secs(3_600);
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Serialize)]
struct Metadata<'a> {
    links: Links<'a>,
    results: Results,
}

#[derive(Serialize)]
struct Links<'a> {
    #[serde(rename = "self")]
    this: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Serialize)]
struct Results {
    total: usize,
    current_item_count: usize,
    index: usize,
    items_per_page: usize,
}

pub(crate) async fn events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let config = shared.lock().apis.secure_endpoint.clone();
    let client_id = basic_credentials(&headers).map(|(id, _)| id);
    let mut exchange = Exchange::new(&shared, Api::SecureEndpoint, "GET", &uri);
    let outcome = answer(&shared, &config, &headers, &uri, &mut exchange).await;
    let mut response = exchange.finish(outcome);

    // On every answer, refusals included: what the client id has left this hour.
    let key = budget_key(client_id.as_deref().unwrap_or_default());
    let now_ms = shared.clock.now_ms();
    let left = shared
        .lock()
        .limiter
        .allowance(&key, config.hourly_budget, BUDGET_WINDOW, now_ms);
    let [limit, remaining, reset] = match config.headers {
        RateLimitHeaders::Dashed => [
            "x-rate-limit-limit",
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
        ],
        RateLimitHeaders::Compact => [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ],
    };
    for (name, value) in [
        (limit, config.hourly_budget.to_string()),
        (remaining, left.remaining.to_string()),
        (reset, left.reset_s.to_string()),
    ] {
        set(&mut response, HeaderName::from_static(name), Some(&value));
    }
    response
}

fn budget_key(client_id: &str) -> String {
    format!("amp {client_id}")
}

async fn answer(
    shared: &Shared,
    config: &SecureEndpointConfig,
    headers: &HeaderMap,
    uri: &Uri,
    exchange: &mut Exchange<'_>,
) -> Result<Page, Response> {
    let credentials = basic_credentials(headers);
    if credentials != Some((config.client_id.clone(), config.api_key.clone())) {
        let detail = "Unknown API key or Client ID";
        return Err(amp_error(StatusCode::UNAUTHORIZED, "Unauthorized", detail));
    }
    let now_ms = shared.clock.now_ms();
    let key = budget_key(&config.client_id);
    let verdict = shared
        .lock()
        .limiter
        .check(&key, config.hourly_budget, BUDGET_WINDOW, now_ms);
    if verdict.is_err() {
        exchange.rate_limited();
        let detail = "API rate limit exceeded; see X-Rate-Limit-Reset";
        return Err(amp_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            detail,
        ));
    }
    let fault = exchange.fault(false).await?;
    let query =
        parse(uri).map_err(|detail| amp_error(StatusCode::BAD_REQUEST, "Bad Request", &detail))?;
    let (limit, offset) = (query.limit, query.offset);
    let selection = Selection {
        api: Api::SecureEndpoint,
        tenant: String::new(),
        window: Window {
            // Inclusive of the second shown in `date`: an event at 10:15:00.5 has the date
            // 10:15:00 and belongs to `start_date=10:15:00`.
            from: query.from_ns.map(|ns| Bound {
                ns: ns.div_euclid(NS_PER_S) * NS_PER_S
                    + if ns.rem_euclid(NS_PER_S) > 0 {
                        NS_PER_S
                    } else {
                        0
                    },
                inclusive: true,
            }),
            to: None,
        },
        event_types: query.event_types,
        order: FeedOrder::NewestFirst,
    };
    let items = {
        let inner = shared.lock();
        let selected = inner.feeds.select(&selection, now_ms);
        let (positions, _) = page(&selected, offset, limit);
        (
            inner.feeds.items(Api::SecureEndpoint, "", positions),
            selected.len(),
        )
    };
    let (items, total) = items;
    let raw = uri.query().unwrap_or_default();
    let link = |offset: usize| {
        format!(
            "{}{}?{}",
            shared.origin(),
            uri.path(),
            next_query(raw, "offset", &offset.to_string())
        )
    };
    let next = (offset.saturating_add(limit) < total).then(|| link(offset + limit));
    let this = exchange.own_url();
    let metadata = Metadata {
        links: Links {
            this: &this,
            prev: (offset > 0).then(|| link(offset.saturating_sub(limit))),
            next: exchange.next_link(fault, next),
        },
        results: Results {
            total,
            current_item_count: items.len(),
            index: offset,
            items_per_page: limit,
        },
    };
    let metadata = serde_json::to_string(&metadata).unwrap_or_default();
    Ok(Page {
        body: format!(
            "{{\"version\":\"{AMP_VERSION}\",\"metadata\":{metadata},\"data\":[{}]}}",
            joined(&items)
        ),
        content_type: CONTENT_TYPE,
        keys: keys(&items),
    })
}

/// A request's parameters, checked.
struct Query {
    limit: usize,
    offset: usize,
    from_ns: Option<i64>,
    event_types: Option<Vec<u64>>,
}

fn parse(uri: &Uri) -> Result<Query, String> {
    let params = Params::from_uri(uri)?;
    let limit = params.integer("limit", MAX_LIMIT, 1, MAX_LIMIT)?;
    let offset = params.integer("offset", 0, 0, u64::MAX)?;
    let from_ns = match params.get("start_date") {
        // Strict ISO 8601: a `+` sent unencoded arrives as a space and is refused.
        Some(text) => Some(parse_ns(text).ok_or_else(|| {
            format!(
                "Invalid start_date '{text}': expected an ISO 8601 date-time like 2026-11-22T10:15:00+00:00"
            )
        })?),
        None => None,
    };
    let event_types = match params.list("event_type[]") {
        Some(texts) => Some(
            texts
                .iter()
                .map(|t| {
                    t.parse::<u64>()
                        .map_err(|_| format!("Invalid event_type '{t}'"))
                })
                .collect::<Result<Vec<u64>, String>>()?,
        ),
        None => None,
    };
    Ok(Query {
        limit: limit as usize,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        from_ns,
        event_types,
    })
}
