//! The OAuth endpoints: `GET /authorize` (the consent page, reduced to its redirect) and
//! `POST /access_token`. See <https://developer.webex.com/docs/integrations>.

use std::sync::Arc;

use axum::extract::{Extension, Form, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::api_error::{json_response, oauth_error};
use crate::encoding::percent_encode;
use crate::log::TokenRequestLog;
use crate::person::SimPerson;
use crate::query::Params;
use crate::server::TrackingId;
use crate::state::Shared;
use crate::tokens::{Grant, GrantError};

/// Answers as the browser-facing page does after the user clicks "Accept" (or "Decline",
/// after `Simulator::deny_next_authorization`): a 302 back to `redirect_uri`.
pub(crate) async fn authorize(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let params = match Params::from_uri(&uri) {
        Ok(params) => params,
        Err(message) => return bad_request_page(&message),
    };
    if params.get("response_type") != Some("code") {
        return bad_request_page("response_type must be 'code'.");
    }
    let Some(client_id) = params.get("client_id") else {
        return bad_request_page("client_id is required.");
    };
    if client_id != shared.config.client_id {
        return bad_request_page("The client_id is not a registered integration.");
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return bad_request_page("redirect_uri is required.");
    };
    let Some(scope) = params.get("scope") else {
        return bad_request_page("scope is required.");
    };

    let now_ms = shared.clock.now_ms();
    let mut answer: Vec<(&str, String)> = {
        let mut inner = shared.lock();
        if std::mem::take(&mut inner.deny_next_authorization) {
            vec![
                ("error", "access_denied".to_owned()),
                (
                    "error_description",
                    "The user declined the authorization request.".to_owned(),
                ),
            ]
        } else {
            let person = inner
                .next_consenting_person
                .take()
                .unwrap_or_else(|| SimPerson::admin_of(&shared.config));
            let grant = Grant {
                client_id: client_id.to_owned(),
                scopes: scope.split_whitespace().map(str::to_owned).collect(),
                person,
            };
            vec![("code", inner.tokens.issue_code(grant, redirect_uri, now_ms))]
        }
    };
    if let Some(state) = params.get("state") {
        answer.push(("state", state.to_owned()));
    }
    let query: Vec<String> = answer
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value)))
        .collect();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{}", query.join("&"));
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => bad_request_page("redirect_uri is not a valid URL."),
    }
}

/// Webex shows an HTML error page for a broken authorize link; the redirect never happens.
fn bad_request_page(message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!DOCTYPE html><html><body><h1>Bad Request</h1><p>{escaped}</p></body></html>"),
    )
        .into_response()
}

pub(crate) async fn access_token(
    State(shared): State<Arc<Shared>>,
    Extension(tracking): Extension<TrackingId>,
    request: Request,
) -> Response {
    // A scripted slow answer: the request waits before Webex looks at it.
    let delay = shared.lock().token_delays.pop_front();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let at_ms = shared.clock.now_ms();
    let (response, grant_type) = exchange(&shared, &tracking.0, request).await;
    tracing::debug!(
        grant_type = grant_type.as_str(),
        status = response.status().as_u16(),
        "token request"
    );
    shared.lock().token_requests.push(TokenRequestLog {
        grant_type,
        status: response.status().as_u16(),
        at_ms,
    });
    response
}

async fn exchange(shared: &Shared, tracking_id: &str, request: Request) -> (Response, String) {
    let invalid_request = |description: &str| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            tracking_id,
            "invalid_request",
            description,
        )
    };
    // Webex takes form bodies only; a JSON body is a client bug worth a loud 400.
    if !is_form(request.headers()) {
        let response = invalid_request(
            "The token endpoint accepts only application/x-www-form-urlencoded bodies.",
        );
        return (response, String::new());
    }
    let pairs = match Form::<Vec<(String, String)>>::from_request(request, &()).await {
        Ok(Form(pairs)) => pairs,
        Err(_) => {
            return (
                invalid_request("The form body could not be parsed."),
                String::new(),
            );
        }
    };
    let field = |name: &str| form_field(&pairs, name);
    let grant_type = field("grant_type").unwrap_or_default().to_owned();
    if grant_type.is_empty() {
        return (invalid_request("grant_type is required."), grant_type);
    }
    if grant_type != "refresh_token" && grant_type != "authorization_code" {
        let response = oauth_error(
            StatusCode::BAD_REQUEST,
            tracking_id,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token.",
        );
        return (response, grant_type);
    }
    let config = &shared.config;
    if field("client_id") != Some(config.client_id.as_str())
        || field("client_secret") != Some(config.client_secret.as_str())
    {
        let response = oauth_error(
            StatusCode::UNAUTHORIZED,
            tracking_id,
            "invalid_client",
            "The client_id or client_secret is wrong.",
        );
        return (response, grant_type);
    }

    if grant_type == "refresh_token" {
        let delay = shared.lock().refresh_delays.pop_front();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
    let now_ms = shared.clock.now_ms();
    let result = if grant_type == "refresh_token" {
        let Some(refresh_token) = field("refresh_token") else {
            return (invalid_request("refresh_token is required."), grant_type);
        };
        shared
            .lock()
            .tokens
            .exchange_refresh(refresh_token, &config.client_id, now_ms)
    } else {
        let (Some(code), Some(redirect_uri)) = (field("code"), field("redirect_uri")) else {
            return (
                invalid_request("code and redirect_uri are required."),
                grant_type,
            );
        };
        shared
            .lock()
            .tokens
            .exchange_code(code, &config.client_id, redirect_uri, now_ms)
    };
    let response = match result {
        Ok(tokens) => {
            let mut response = json_response(StatusCode::OK, &tokens);
            // Token responses must not be cached (RFC 6749, section 5.1).
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(GrantError::InvalidGrant(description)) => oauth_error(
            StatusCode::BAD_REQUEST,
            tracking_id,
            "invalid_grant",
            description,
        ),
    };
    (response, grant_type)
}

/// The fields of an `application/x-www-form-urlencoded` body (token endpoints take no other);
/// `None` for another content type or a body that does not parse.
pub(crate) async fn form_fields(request: Request) -> Option<Vec<(String, String)>> {
    if !is_form(request.headers()) {
        return None;
    }
    let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, &())
        .await
        .ok()?;
    Some(pairs)
}

/// The first non-empty value of `name` among form fields.
pub(crate) fn form_field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_form_content_types_pass() {
        let cases = [
            (Some("application/x-www-form-urlencoded"), true),
            (
                Some("application/x-www-form-urlencoded; charset=UTF-8"),
                true,
            ),
            (Some("Application/X-WWW-Form-Urlencoded"), true),
            (Some("application/json"), false),
            (Some("multipart/form-data; boundary=x"), false),
            (None, false),
        ];
        for (content_type, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(value) = content_type {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            }
            assert_eq!(is_form(&headers), expected, "{content_type:?}");
        }
    }
}
