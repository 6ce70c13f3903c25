//! API Gateway's HTTP API in front of a function run as Lambda runs it: every request to a free
//! 127.0.0.1 port becomes a payload format 2.0 event for the [`RuntimeApi`], and the function's
//! `{statusCode, headers, body, isBase64Encoded}` becomes the answer. A function error is a 500
//! and no answer within the integration timeout a 504, as API Gateway answers them.
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use tokio::net::TcpListener;

use crate::lambda_api::{Outcome, RuntimeApi};

/// API Gateway's longest wait for a Lambda integration.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

struct Front {
    api: Arc<RuntimeApi>,
    function: String,
}

/// The HTTP API; stopped when dropped.
pub struct HttpApi {
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl HttpApi {
    /// Serves every path and method through `function` on `api`.
    pub async fn start(api: Arc<RuntimeApi>, function: &str) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot bind the HTTP API stub")?;
        let url = format!("http://{}", listener.local_addr()?);
        let front = Arc::new(Front {
            api,
            function: function.to_string(),
        });
        let app = Router::new().fallback(forward).with_state(front);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("HTTP API stub stopped: {e}");
            }
        });
        Ok(Self { url, server })
    }

    /// `http://127.0.0.1:port`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for HttpApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(
    State(front): State<Arc<Front>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let event = event(&method, &uri, &headers, &body);
    let request_id = front
        .api
        .invoke(&front.function, event, INTEGRATION_TIMEOUT);
    match front.api.outcome(&request_id, INTEGRATION_TIMEOUT).await {
        Ok(Outcome::Response(answer)) => answer_of(&answer),
        Ok(Outcome::Error(_)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"message":"Internal Server Error"}"#,
        )
            .into_response(),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            r#"{"message":"Service Unavailable"}"#,
        )
            .into_response(),
    }
}

/// The event API Gateway sends: header names in lower case, several values joined by commas,
/// the body as text when it is UTF-8 JSON or text, base64 otherwise.
fn event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> serde_json::Value {
    let mut joined = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        joined.insert(name.as_str().to_string(), values.join(",").into());
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let textual = content_type.starts_with("application/json") || content_type.starts_with("text/");
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok(text) if textual => (text.to_string(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let route = format!("{method} {}", uri.path());
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or_default(),
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": joined_value(headers, "user-agent"),
            },
            "requestId": format!("local-{now_ms}"),
            "routeKey": route,
            "stage": "$default",
            "timeEpoch": now_ms,
        },
        "body": body,
        "isBase64Encoded": encoded,
    })
}

fn joined_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The function's answer as API Gateway turns it into HTTP; one it cannot read is a 500.
fn answer_of(answer: &serde_json::Value) -> Response {
    let Some(status) = answer["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let text = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"].as_bool().unwrap_or(false) {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    } else {
        text.as_bytes().to_vec()
    };
    let mut response = (status, body).into_response();
    if let Some(headers) = answer["headers"].as_object() {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                axum::http::HeaderName::try_from(name.as_str()),
                value.as_str().map(axum::http::HeaderValue::try_from),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}
