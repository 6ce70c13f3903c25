//! Microsoft Graph audit logs: the Entra client-credentials token endpoint and
//! `GET /v1.0/auditLogs/signIns` and `/directoryAudits` (DESIGN §8, `http-source.md` §8).
//!
//! A data request goes through, in order: the bearer token (401 `InvalidAuthenticationToken`),
//! the app's permission and the tenant's licence (403), the throttle per app and tenant (429),
//! the next fault, the query (400), then the page. Pages are newest first and paged by
//! `@odata.nextLink`, whose `$skiptoken` names state the simulator holds (the query, the
//! position and the first page's instant) and whose path Graph writes in lower case.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;

use crate::api_error::json_response;
use crate::apis::Api;
use crate::apis::client_tokens::{Audience, ClientGrant, TokenRefusal};
use crate::apis::config::{GRAPH_SCOPE, GraphConfig};
use crate::apis::errors::{graph_error, set};
use crate::apis::exchange::{Exchange, Page, joined, json_string, keys, record};
use crate::apis::feeds::{FeedOrder, Selection};
use crate::apis::graph_filter;
use crate::apis::snapshots::Snapshot;
use crate::auth::bearer_token;
use crate::oauth_api::{form_field, form_fields};
use crate::query::Params;
use crate::state::Shared;
use crate::timefmt::format_ms;

/// Graph's page size bounds: "The maximum and default page size is 1,000 objects" (sign-ins;
/// assumed for directory audits).
const MAX_TOP: u64 = 1_000;
const PAGE_CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

#[derive(Serialize)]
struct TokenAnswer<'a> {
    token_type: &'a str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
}

#[derive(Serialize)]
struct EntraError<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
}

/// Why Entra refused a token request: an OAuth error name, an `AADSTS` code and its text.
struct EntraRefusal {
    status: StatusCode,
    error: &'static str,
    code: u32,
    text: String,
}

impl EntraRefusal {
    fn bad(error: &'static str, code: u32, text: impl Into<String>) -> EntraRefusal {
        EntraRefusal {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            text: text.into(),
        }
    }

    /// The body as Entra words it: `AADSTS<code>: <text>`.
    fn response(&self, now_ms: i64) -> Response {
        let at = format_ms(now_ms);
        let body = EntraError {
            error: self.error,
            error_description: format!(
                "AADSTS{}: {} Trace ID: sim. Timestamp: {at}",
                self.code, self.text
            ),
            error_codes: [self.code],
            timestamp: at,
        };
        json_response(self.status, &body)
    }
}

/// `POST /login/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    uri: Uri,
    request: Request,
) -> Response {
    let fields = form_fields(request).await;
    let now_ms = shared.clock.now_ms();
    let config = shared.lock().apis.graph.clone();
    let response = match grant(&config, &tenant, fields.as_deref()) {
        Ok(grant) => {
            let ttl = config.token_ttl;
            let access_token = shared.lock().client_tokens.issue(grant, now_ms, ttl);
            let mut response = json_response(
                StatusCode::OK,
                &TokenAnswer {
                    token_type: "Bearer",
                    expires_in: ttl.as_secs(),
                    ext_expires_in: ttl.as_secs(),
                    access_token,
                },
            );
            set(&mut response, header::CACHE_CONTROL, Some("no-store"));
            response
        }
        Err(refusal) => refusal.response(now_ms),
    };
    record(&shared, &uri, &response, Some(&tenant));
    response
}

/// Entra's checks, in the order its errors come: tenant, body, grant type, app, scope, secret.
fn grant(
    config: &GraphConfig,
    tenant: &str,
    fields: Option<&[(String, String)]>,
) -> Result<ClientGrant, EntraRefusal> {
    if config.tenant(tenant).is_none() {
        let text = format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        );
        return Err(EntraRefusal::bad("invalid_request", 90002, text));
    }
    let fields = fields.unwrap_or_default();
    let field = |name| form_field(fields, name);
    let Some(grant_type) = field("grant_type") else {
        let text = "The request body must contain the following parameter: 'grant_type'.";
        return Err(EntraRefusal::bad("invalid_request", 900144, text));
    };
    if grant_type != "client_credentials" {
        let text = "The provided request must include a 'grant_type' input parameter.";
        return Err(EntraRefusal::bad("unsupported_grant_type", 70003, text));
    }
    let client_id = field("client_id").unwrap_or_default();
    if client_id != config.client_id {
        let text = format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        );
        return Err(EntraRefusal::bad("unauthorized_client", 700016, text));
    }
    if field("scope") != Some(GRAPH_SCOPE) {
        let text = "The provided value for the input parameter 'scope' is not valid. The scope must end in /.default for the client credentials flow.";
        return Err(EntraRefusal::bad("invalid_scope", 1002012, text));
    }
    if field("client_secret") != Some(config.client_secret.as_str()) {
        return Err(EntraRefusal {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            code: 7000215,
            text: format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        });
    }
    Ok(ClientGrant {
        client_id: client_id.to_owned(),
        audience: Audience::Graph {
            tenant: tenant.to_owned(),
        },
    })
}

pub(crate) async fn sign_ins(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve(&shared, Api::GraphSignIns, &headers, &uri).await
}

pub(crate) async fn directory_audits(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve(&shared, Api::GraphDirectoryAudits, &headers, &uri).await
}

async fn serve(shared: &Shared, api: Api, headers: &HeaderMap, uri: &Uri) -> Response {
    let mut exchange = Exchange::new(shared, api, "GET", uri);
    let outcome = answer(shared, api, headers, uri, &mut exchange).await;
    exchange.finish(outcome)
}

async fn answer(
    shared: &Shared,
    api: Api,
    headers: &HeaderMap,
    uri: &Uri,
    exchange: &mut Exchange<'_>,
) -> Result<Page, Response> {
    let now_ms = shared.clock.now_ms();
    let error = |status, code, message: &str| graph_error(status, code, message, now_ms);
    let bearer = bearer_token(headers);
    exchange.bearer(bearer.as_deref());
    let (client_id, tenant) =
        authenticate(shared, bearer.as_deref(), now_ms).map_err(|message| {
            error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
        })?;
    exchange.tenant(&tenant);

    let config = shared.lock().apis.graph.clone();
    if !config.permission_granted {
        let message = "Insufficient privileges to complete the operation.";
        return Err(error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            message,
        ));
    }
    // A tenant dropped from the configuration after its token was issued has no licence left.
    let premium = config.tenant(&tenant).is_some_and(|t| t.premium);
    if api == Api::GraphSignIns && !premium {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        ));
    }
    if let Some(throttle) = config.throttle {
        let key = format!("graph {client_id} {tenant}");
        let now = shared.monotonic_ms();
        let verdict = shared
            .lock()
            .limiter
            .check(&key, throttle.requests, throttle.per, now);
        if let Err(retry_after_s) = verdict {
            exchange.rate_limited();
            let message = "Too many requests. Please retry later.";
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message);
            let retry_after = config.retry_after.then(|| retry_after_s.to_string());
            set(&mut response, header::RETRY_AFTER, retry_after.as_deref());
            return Err(response);
        }
    }

    let fault = exchange.fault(config.retry_after).await?;
    let snapshot = query(shared, api, &tenant, uri, now_ms)
        .map_err(|message| error(StatusCode::BAD_REQUEST, "BadRequest", &message))?;
    let (items, next) = {
        let mut inner = shared.lock();
        let inner = &mut *inner;
        inner.snapshots.page(&inner.feeds, &snapshot, now_ms)
    };
    let (resource, lower) = match api {
        Api::GraphSignIns => ("signIns", "signins"),
        _ => ("directoryAudits", "directoryaudits"),
    };
    let origin = shared.origin();
    let next_link = next.map(|token| {
        format!(
            "{origin}/graph/v1.0/auditLogs/{lower}?$top={}&$skiptoken={token}",
            snapshot.page_size
        )
    });
    let next_link = exchange.next_link(fault, next_link);
    let context = format!("{origin}/graph/v1.0/$metadata#auditLogs/{resource}");
    let mut body = format!(
        "{{\"@odata.context\":{},\"value\":[{}]",
        json_string(&context),
        joined(&items)
    );
    if let Some(link) = next_link {
        body.push_str(",\"@odata.nextLink\":");
        body.push_str(&json_string(&link));
    }
    body.push('}');
    Ok(Page {
        body,
        content_type: PAGE_CONTENT_TYPE,
        keys: keys(&items),
    })
}

/// The app and tenant of a valid Graph token, or the 401's message.
fn authenticate(
    shared: &Shared,
    bearer: Option<&str>,
    now_ms: i64,
) -> Result<(String, String), &'static str> {
    let token = bearer.ok_or("Access token is empty.")?;
    let inner = shared.lock();
    match inner.client_tokens.check(token, now_ms) {
        Ok(ClientGrant {
            client_id,
            audience: Audience::Graph { tenant },
        }) => Ok((client_id.clone(), tenant.clone())),
        Err(TokenRefusal::Expired) => Err("Lifetime validation failed, the token is expired."),
        Ok(_) | Err(TokenRefusal::Unknown) => {
            Err("Access token validation failure. Invalid audience.")
        }
    }
}

/// The page a request asks for: the one its `$skiptoken` names, or the first page of its
/// `$filter` and `$top`, visible as of now.
fn query(
    shared: &Shared,
    api: Api,
    tenant: &str,
    uri: &Uri,
    now_ms: i64,
) -> Result<Snapshot, String> {
    let params = Params::from_uri(uri)?;
    if let Some(token) = params.get("$skiptoken") {
        let held = shared.lock().snapshots.get(token).cloned();
        return held
            .filter(|s| s.selection.api == api && s.selection.tenant == tenant)
            .ok_or_else(|| "Invalid skip token.".to_owned());
    }
    let property = match api {
        Api::GraphSignIns => "createdDateTime",
        _ => "activityDateTime",
    };
    let window = match params.get("$filter") {
        Some(filter) => graph_filter::parse(filter, property)
            .map_err(|()| "Invalid filter clause".to_owned())?,
        None => Default::default(),
    };
    let top = params.get("$top").unwrap_or("1000");
    let page_size = match top.parse::<u64>() {
        Ok(size) if (1..=MAX_TOP).contains(&size) => size as usize,
        _ => {
            return Err(format!(
                "Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
            ));
        }
    };
    Ok(Snapshot {
        selection: Selection {
            api,
            tenant: tenant.to_owned(),
            window,
            event_types: None,
            order: FeedOrder::NewestFirst,
        },
        page_size,
        offset: 0,
        as_of_ms: now_ms,
        issued_at_ms: now_ms,
    })
}
