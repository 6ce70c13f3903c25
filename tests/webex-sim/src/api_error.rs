//! Error responses in the shapes Webex uses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiError<'a> {
    message: &'a str,
    errors: [ErrorDescription<'a>; 1],
    tracking_id: &'a str,
}

#[derive(Serialize)]
struct ErrorDescription<'a> {
    description: &'a str,
}

/// `{"message": ..., "errors": [{"description": ...}], "trackingId": ...}` with that status.
pub(crate) fn api_error(status: StatusCode, tracking_id: &str, message: &str) -> Response {
    let body = ApiError {
        message,
        errors: [ErrorDescription {
            description: message,
        }],
        tracking_id,
    };
    json_response(status, &body)
}

/// 401 for a missing, unknown or expired token, worded as Webex words it.
pub(crate) fn unauthorized(tracking_id: &str) -> Response {
    api_error(
        StatusCode::UNAUTHORIZED,
        tracking_id,
        "The request requires a valid access token set in the Authorization request header.",
    )
}

#[derive(Serialize)]
struct OAuthError<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(rename = "trackingId")]
    tracking_id: &'a str,
}

/// The token endpoint's RFC 6749 error shape (`invalid_grant`, `invalid_client`, ...).
pub(crate) fn oauth_error(
    status: StatusCode,
    tracking_id: &str,
    error: &str,
    description: &str,
) -> Response {
    json_response(
        status,
        &OAuthError {
            error,
            error_description: description,
            tracking_id,
        },
    )
}

pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(crate) const JSON: &str = "application/json;charset=UTF-8";
