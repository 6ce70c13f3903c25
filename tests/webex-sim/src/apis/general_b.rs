//! General B, offset paging with HTTP Basic: `GET /gen-b/rest/logs` with `start` (inclusive)
//! and `end` (exclusive) in epoch seconds, `offset`, and `limit` silently capped at 100 (ask
//! 500, get 100: a client must page to the empty page, not stop at a short one). The answer
//! is a bare array in a shuffled but stable order; items have no id, `source` and `seq`
//! together identify them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;

use crate::apis::Api;
use crate::apis::errors::{set, simple_error};
use crate::apis::exchange::{Exchange, Page, joined, keys};
use crate::apis::feeds::{Bound, FeedOrder, Selection, Window};
use crate::apis::times::NS_PER_S;
use crate::auth::basic_credentials;
use crate::paging::page;
use crate::query::Params;
use crate::rng::mix;
use crate::state::Shared;

const MAX_LIMIT: u64 = 100;

pub(crate) async fn logs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let mut exchange = Exchange::new(&shared, Api::GeneralB, "GET", &uri);
    let outcome = answer(&shared, &headers, &uri, &mut exchange).await;
    exchange.finish(outcome)
}

async fn answer(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    exchange: &mut Exchange<'_>,
) -> Result<Page, Response> {
    let config = shared.lock().apis.general_b.clone();
    // The password is read per request: after a rotation the old one is refused at once.
    if basic_credentials(headers) != Some((config.username, config.password)) {
        let mut response = simple_error(StatusCode::UNAUTHORIZED, "unauthorized");
        set(
            &mut response,
            header::WWW_AUTHENTICATE,
            Some("Basic realm=\"logs\""),
        );
        return Err(response);
    }
    exchange.fault(false).await?;
    let query = parse(uri).map_err(|message| simple_error(StatusCode::BAD_REQUEST, &message))?;
    let selection = Selection {
        api: Api::GeneralB,
        tenant: String::new(),
        window: query.window,
        event_types: None,
        // Keyed by the seed only: every query walks the same order, which no time explains.
        order: FeedOrder::Shuffled(mix(&[shared.config.seed, Api::GeneralB.tag()])),
    };
    let items = {
        let inner = shared.lock();
        let selected = inner.feeds.select(&selection, shared.clock.now_ms());
        let (positions, _) = page(&selected, query.offset, query.limit);
        inner.feeds.items(Api::GeneralB, "", positions)
    };
    Ok(Page {
        body: format!("[{}]", joined(&items)),
        content_type: "application/json",
        keys: keys(&items),
    })
}

struct Query {
    window: Window,
    offset: usize,
    limit: usize,
}

fn parse(uri: &Uri) -> Result<Query, String> {
    let params = Params::from_uri(uri)?;
    let seconds = |name: &str, inclusive| -> Result<Option<Bound>, String> {
        params
            .get(name)
            .map(|text| {
                text.parse::<i64>()
                    .ok()
                    .and_then(|s| s.checked_mul(NS_PER_S))
                    .map(|ns| Bound { ns, inclusive })
                    .ok_or_else(|| format!("{name} must be epoch seconds, got '{text}'"))
            })
            .transpose()
    };
    let window = Window {
        from: seconds("start", true)?,
        to: seconds("end", false)?,
    };
    let offset = params.integer("offset", 0, 0, u64::MAX)?;
    let limit = params
        .integer("limit", MAX_LIMIT, 1, u64::MAX)?
        .min(MAX_LIMIT);
    Ok(Query {
        window,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        limit: limit as usize,
    })
}
