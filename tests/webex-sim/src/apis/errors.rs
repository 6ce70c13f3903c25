//! Error answers in each API's own shape, and what a scripted [`Fault`] looks like from each:
//! a collector reads its error messages from these bodies, so they must be the real shapes.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use crate::api_error::json_response;
use crate::apis::Api;
use crate::apis::times::http_date;
use crate::bodies::{page_response, spaces};
use crate::faults::Fault;
use crate::timefmt::format_ms;

/// Secure Endpoint's API version, in every body it sends.
pub(crate) const AMP_VERSION: &str = "v1.2.0";

#[derive(Serialize)]
struct GraphError<'a> {
    error: GraphErrorDetail<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    inner_error: GraphInnerError,
}

#[derive(Serialize)]
struct GraphInnerError {
    date: String,
}

/// `{"error":{"code":...,"message":...,"innerError":{"date":...}}}`, Graph's error shape.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str, now_ms: i64) -> Response {
    let date = format_ms(now_ms).chars().take(19).collect();
    let body = GraphError {
        error: GraphErrorDetail {
            code,
            message,
            inner_error: GraphInnerError { date },
        },
    };
    json_response(status, &body)
}

#[derive(Serialize)]
struct AmpErrors<'a> {
    version: &'a str,
    errors: [AmpError<'a>; 1],
}

#[derive(Serialize)]
struct AmpError<'a> {
    error_code: u16,
    description: &'a str,
    details: [&'a str; 1],
}

/// `{"version":"v1.2.0","errors":[{"error_code":...,"description":...,"details":[...]}]}`.
pub(crate) fn amp_error(status: StatusCode, description: &str, detail: &str) -> Response {
    let body = AmpErrors {
        version: AMP_VERSION,
        errors: [AmpError {
            error_code: status.as_u16(),
            description,
            details: [detail],
        }],
    };
    json_response(status, &body)
}

#[derive(Serialize)]
struct SimpleError<'a> {
    error: &'a str,
}

/// `{"error":"..."}`, the plain shape of the general APIs.
pub(crate) fn simple_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &SimpleError { error: message })
}

/// An error with `message` in `api`'s shape; Graph's code is named for the status.
pub(crate) fn api_error(api: Api, status: StatusCode, message: &str, now_ms: i64) -> Response {
    match api {
        Api::GraphSignIns | Api::GraphDirectoryAudits => {
            let code = match status {
                StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
                StatusCode::UNAUTHORIZED => "InvalidAuthenticationToken",
                StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
                StatusCode::GATEWAY_TIMEOUT => "GatewayTimeout",
                status if status.is_server_error() => "UnknownError",
                _ => "BadRequest",
            };
            graph_error(status, code, message, now_ms)
        }
        Api::SecureEndpoint => {
            let description = status.canonical_reason().unwrap_or("Error");
            amp_error(status, description, message)
        }
        Api::GeneralA | Api::GeneralB | Api::GeneralC => simple_error(status, message),
    }
}

/// What one request's settings say about a 429 the fault asks for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultContext {
    pub now_ms: i64,
    /// Graph's switch: whether its 429s carry `Retry-After`.
    pub graph_retry_after: bool,
}

/// The answer a fault replaces the page with, or `None` when the page still follows (the
/// faults a page carries out: `Truncated`, the `Link` ones; and `Slow`, `Hang`, which the
/// exchange handles).
pub(crate) fn fault_response(api: Api, fault: &Fault, context: FaultContext) -> Option<Response> {
    let now_ms = context.now_ms;
    let error = |status: StatusCode, message: &str| api_error(api, status, message, now_ms);
    match fault {
        Fault::TooManyRequests { retry_after_s } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests.");
            let retry_after = match api {
                Api::GraphSignIns | Api::GraphDirectoryAudits => {
                    context.graph_retry_after.then(|| retry_after_s.to_string())
                }
                // General A names a moment, not a delay.
                Api::GeneralA => {
                    let delay_ms = i64::try_from(retry_after_s.saturating_mul(1_000));
                    Some(http_date(
                        now_ms.saturating_add(delay_ms.unwrap_or(i64::MAX)),
                    ))
                }
                Api::GeneralB => Some(retry_after_s.to_string()),
                // Secure Endpoint tells the wait in its rate-limit headers; C says nothing.
                Api::SecureEndpoint | Api::GeneralC => None,
            };
            set(&mut response, header::RETRY_AFTER, retry_after.as_deref());
            Some(response)
        }
        Fault::Locked { retry_after_s } => {
            let mut response = error(StatusCode::LOCKED, "The resource is locked.");
            set(
                &mut response,
                header::RETRY_AFTER,
                Some(&retry_after_s.to_string()),
            );
            Some(response)
        }
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(error(status, "The service is temporarily unavailable."))
        }
        Fault::GatewayTimeout => Some(error(StatusCode::GATEWAY_TIMEOUT, "Gateway timeout.")),
        Fault::Expired => Some(error(
            StatusCode::UNAUTHORIZED,
            "The credentials have expired.",
        )),
        Fault::RetryAfterText { status, value } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let mut response = error(status, "Try again later.");
            set(&mut response, header::RETRY_AFTER, Some(value));
            Some(response)
        }
        Fault::OversizedPage { bytes } => Some(page_response(spaces(Some(*bytes)), None)),
        Fault::EndlessPage => Some(page_response(spaces(None), None)),
        Fault::DeclaredLength(length) => Some(page_response(spaces(None), Some(*length))),
        Fault::Slow(_)
        | Fault::Hang
        | Fault::Truncated
        | Fault::Link(_)
        | Fault::LinkToSelf
        | Fault::LinkToPrevious => None,
    }
}

/// Sets a header when there is a value and it is one a header may carry.
pub(crate) fn set(response: &mut Response, name: HeaderName, value: Option<&str>) {
    if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> FaultContext {
        FaultContext {
            now_ms: 784_111_777_000,
            graph_retry_after: false,
        }
    }

    fn retry_after(api: Api) -> Option<String> {
        let fault = Fault::TooManyRequests { retry_after_s: 3 };
        let response = fault_response(api, &fault, context()).unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn each_api_says_when_to_retry_its_own_way() {
        assert_eq!(retry_after(Api::GraphSignIns), None);
        assert_eq!(
            retry_after(Api::GeneralA).as_deref(),
            Some("Sun, 06 Nov 1994 08:49:40 GMT")
        );
        assert_eq!(retry_after(Api::GeneralB).as_deref(), Some("3"));
        assert_eq!(retry_after(Api::GeneralC), None);
        let with = FaultContext {
            graph_retry_after: true,
            ..context()
        };
        let fault = Fault::TooManyRequests { retry_after_s: 3 };
        let response = fault_response(Api::GraphDirectoryAudits, &fault, with).unwrap();
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn page_faults_leave_the_page_to_the_handler() {
        for fault in [Fault::Truncated, Fault::LinkToSelf, Fault::Hang] {
            assert!(fault_response(Api::GeneralA, &fault, context()).is_none());
        }
        let response = fault_response(Api::GeneralB, &Fault::ServerError(503), context());
        assert_eq!(response.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
