//! A proxy of ours in front of moto that fails chosen AWS calls, so tests can break S3,
//! DynamoDB or Secrets Manager at exact points while the real SDK talks to a real emulator.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::oneshot;

/// What the proxy saw of one AWS call.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    /// `X-Amz-Target` (DynamoDB, Secrets Manager), e.g. `DynamoDB_20120810.PutItem`.
    pub target: String,
    /// `x-amz-copy-source` (S3 `CopyObject`): the only thing that tells a copy from a put.
    pub copy_source: String,
    pub body: Bytes,
}

/// A call the proxy forwarded to the emulator, with the status the emulator answered.
#[derive(Clone, Debug)]
pub struct Forwarded {
    pub call: Call,
    pub status: u16,
}

impl Call {
    pub fn operation(&self) -> &str {
        self.target.rsplit('.').next().unwrap_or("")
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status without forwarding.
    Refuse(u16),
    /// Forward (the call takes effect) but answer 500: the answer is lost on the way back.
    LoseAnswer,
}

type Rule = Box<dyn Fn(&Call) -> Option<Fault> + Send + Sync>;

#[derive(Default)]
struct Shared {
    rule: Mutex<Option<Rule>>,
    injected: Mutex<Vec<(Call, Fault)>>,
    forwarded: Mutex<Vec<Forwarded>>,
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let state = (
            shared.clone(),
            reqwest::Client::new(),
            upstream.trim_end_matches('/').to_string(),
        );
        let app = axum::Router::new().fallback(forward).with_state(state);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_rule(&self, rule: impl Fn(&Call) -> Option<Fault> + Send + Sync + 'static) {
        if let Ok(mut r) = self.shared.rule.lock() {
            *r = Some(Box::new(rule));
        }
    }

    pub fn clear_rule(&self) {
        if let Ok(mut r) = self.shared.rule.lock() {
            *r = None;
        }
    }

    /// The calls that got a fault, in order.
    pub fn injected(&self) -> Vec<(Call, Fault)> {
        self.shared
            .injected
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Every call that reached the emulator, in order (refused ones did not): what the code
    /// really asks of AWS.
    pub fn calls(&self) -> Vec<Forwarded> {
        self.shared
            .forwarded
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn forward(
    State((shared, http, upstream)): State<(Arc<Shared>, reqwest::Client, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 256 * 1024 * 1024).await {
        Ok(body) => body,
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let call = Call {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        target: header(&parts.headers, "x-amz-target"),
        copy_source: header(&parts.headers, "x-amz-copy-source"),
        body: body.clone(),
    };
    let fault = shared
        .rule
        .lock()
        .ok()
        .and_then(|rule| rule.as_ref().and_then(|r| r(&call)));
    if let Some(fault) = fault {
        if let Ok(mut injected) = shared.injected.lock() {
            injected.push((call.clone(), fault));
        }
        if let Fault::Refuse(code) = fault {
            return status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut upstream_request = http
        .request(parts.method.clone(), format!("{upstream}{path_and_query}"))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream_request = upstream_request.header(name, value);
        }
    }
    let answer = match upstream_request.send().await {
        Ok(answer) => answer,
        Err(_) => return status(StatusCode::BAD_GATEWAY),
    };
    if let Ok(mut forwarded) = shared.forwarded.lock() {
        forwarded.push(Forwarded {
            call,
            status: answer.status().as_u16(),
        });
    }
    if fault == Some(Fault::LoseAnswer) {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response
        .body(Body::from(bytes))
        .unwrap_or_else(|_| status(StatusCode::BAD_GATEWAY))
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn status(code: StatusCode) -> Response {
    let body = format!(
        "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>injected by the fault proxy ({code})</Message></Error>"
    );
    Response::builder()
        .status(code)
        .header("x-amzn-errortype", "InternalFailure")
        .body(Body::from(body))
        .unwrap_or_default()
}
