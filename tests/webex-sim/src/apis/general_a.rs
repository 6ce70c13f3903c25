//! General A, a next-URL API with an API key: `GET /gen-a/api/v2/audit` with `X-Api-Key`,
//! `since` (inclusive) and `until` (exclusive) in RFC 3339, `page_size` up to 200; answers
//! `{"results":[...],"next":...}` oldest first, `next` an absolute or relative URL carrying
//! an opaque `page_token` (state held here, pinned to the first page's visibility).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use crate::apis::Api;
use crate::apis::errors::simple_error;
use crate::apis::exchange::{Exchange, Page, joined, json_string, keys};
use crate::apis::feeds::{Bound, FeedOrder, Selection, Window};
use crate::apis::snapshots::Snapshot;
use crate::apis::times::parse_ns;
use crate::query::Params;
use crate::state::Shared;

const MAX_PAGE_SIZE: u64 = 200;
const DEFAULT_PAGE_SIZE: u64 = 100;

pub(crate) async fn audit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let mut exchange = Exchange::new(&shared, Api::GeneralA, "GET", &uri);
    let outcome = answer(&shared, &headers, &uri, &mut exchange).await;
    exchange.finish(outcome)
}

async fn answer(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    exchange: &mut Exchange<'_>,
) -> Result<Page, Response> {
    let config = shared.lock().apis.general_a.clone();
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(config.api_key.as_str()) {
        return Err(simple_error(StatusCode::UNAUTHORIZED, "invalid api key"));
    }
    let fault = exchange.fault(false).await?;
    let now_ms = shared.clock.now_ms();
    let snapshot = query(shared, uri, now_ms)
        .map_err(|message| simple_error(StatusCode::BAD_REQUEST, &message))?;
    let (items, next) = {
        let mut inner = shared.lock();
        let inner = &mut *inner;
        inner.snapshots.page(&inner.feeds, &snapshot, now_ms)
    };
    let origin = shared.origin();
    let next = next.map(|token| format!("{origin}{}?page_token={token}", uri.path()));
    let next = exchange.next_link(fault, next).map(|url| {
        // Relative: the same URL without the origin; another host's stays whole.
        match url.strip_prefix(origin) {
            Some(relative) if !config.absolute_next => relative.to_owned(),
            _ => url,
        }
    });
    let next = next
        .as_deref()
        .map_or_else(|| "null".to_owned(), json_string);
    Ok(Page {
        body: format!("{{\"results\":[{}],\"next\":{next}}}", joined(&items)),
        content_type: "application/json",
        keys: keys(&items),
    })
}

/// The page a request names: its `page_token`'s, or the first of its window.
fn query(shared: &Shared, uri: &Uri, now_ms: i64) -> Result<Snapshot, String> {
    let params = Params::from_uri(uri)?;
    if let Some(token) = params.get("page_token") {
        let held = shared.lock().snapshots.get(token).cloned();
        return held
            .filter(|s| s.selection.api == Api::GeneralA)
            .ok_or_else(|| "invalid page_token".to_owned());
    }
    let bound = |name: &str, inclusive| -> Result<Option<Bound>, String> {
        params
            .get(name)
            .map(|text| {
                parse_ns(text)
                    .map(|ns| Bound { ns, inclusive })
                    .ok_or_else(|| format!("invalid {name}: '{text}' is not an RFC 3339 date-time"))
            })
            .transpose()
    };
    let window = Window {
        from: bound("since", true)?,
        to: bound("until", false)?,
    };
    let page_size = params.integer("page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?;
    Ok(Snapshot {
        selection: Selection {
            api: Api::GeneralA,
            tenant: String::new(),
            window,
            event_types: None,
            order: FeedOrder::OldestFirst,
        },
        page_size: page_size as usize,
        offset: 0,
        as_of_ms: now_ms,
        issued_at_ms: now_ms,
    })
}
