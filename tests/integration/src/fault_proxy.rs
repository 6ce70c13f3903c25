//! A proxy of ours in front of moto that fails chosen AWS calls, so tests can break S3,
//! DynamoDB or Secrets Manager at exact points while the real SDK talks to a real emulator.
//!
//! Served with hyper directly rather than through a router: a connection reset needs the
//! connection closed with no answer at all, which only the connection's own task can do.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

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

/// Which AWS service a call is for, told by its target header (JSON protocols) or its absence
/// (S3's REST protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    S3,
    DynamoDb,
    SecretsManager,
    /// The fan-out queue (AWS JSON protocol, `AmazonSQS.*`).
    Sqs,
}

impl Service {
    /// The services a collector run calls; the fan-out queue is the Lambda entry's.
    pub const ALL: [Service; 3] = [Service::S3, Service::DynamoDb, Service::SecretsManager];

    pub fn name(self) -> &'static str {
        match self {
            Service::S3 => "S3",
            Service::DynamoDb => "DynamoDB",
            Service::SecretsManager => "Secrets Manager",
            Service::Sqs => "SQS",
        }
    }
}

impl Call {
    pub fn operation(&self) -> &str {
        self.target.rsplit('.').next().unwrap_or("")
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn service(&self) -> Service {
        if self.target.starts_with("DynamoDB_") {
            Service::DynamoDb
        } else if self.target.starts_with("secretsmanager.") {
            Service::SecretsManager
        } else if self.target.starts_with("AmazonSQS.") {
            Service::Sqs
        } else {
            Service::S3
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status without forwarding.
    Refuse(u16),
    /// Forward (the call takes effect) but answer 500: the answer is lost on the way back.
    LoseAnswer,
    /// The service's own throttling error, without forwarding: DynamoDB's 400
    /// `ThrottlingException` / `ProvisionedThroughputExceededException`, S3's 503 `SlowDown`,
    /// Secrets Manager's 400 `ThrottlingException`.
    Throttle,
    /// Close the connection without any answer, without forwarding.
    Reset,
    /// Wait this long, then forward and answer normally.
    Slow(Duration),
}

impl Fault {
    /// A stable name per kind, for counting faults by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Refuse(500) => "HTTP 500",
            Fault::Refuse(503) => "HTTP 503",
            Fault::Refuse(_) => "HTTP other",
            Fault::LoseAnswer => "answer lost after the write",
            Fault::Throttle => "throttling error",
            Fault::Reset => "connection reset",
            Fault::Slow(_) => "slow answer",
        }
    }
}

type Rule = Box<dyn Fn(&Call) -> Option<Fault> + Send + Sync>;

#[derive(Default)]
struct Shared {
    rule: Mutex<Option<Rule>>,
    injected: Mutex<Vec<(Call, Fault)>>,
    forwarded: Mutex<Vec<Forwarded>>,
}

/// The connection is to be closed without an answer.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault proxy")
    }
}

impl std::error::Error for ResetConnection {}

struct Upstream {
    shared: Arc<Shared>,
    http: reqwest::Client,
    url: String,
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let upstream = Arc::new(Upstream {
            shared: shared.clone(),
            http: reqwest::Client::new(),
            url: upstream.trim_end_matches('/').to_string(),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept(listener, upstream, stopped));
        Ok(Self { addr, shared, stop })
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
        let _ = self.stop.send(true);
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    upstream: Arc<Upstream>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = stopped.changed() => return,
        };
        let upstream = upstream.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let upstream = upstream.clone();
                async move { handle(&upstream, request).await }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection closes it: the way both a reset and the proxy's stop
            // end it. A reset shows up here as the connection's error.
            tokio::select! {
                _ = connection => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

async fn handle(
    upstream: &Upstream,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let call = Call {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        target: header(&parts.headers, "x-amz-target"),
        copy_source: header(&parts.headers, "x-amz-copy-source"),
        body: body.clone(),
    };
    let fault = upstream
        .shared
        .rule
        .lock()
        .ok()
        .and_then(|rule| rule.as_ref().and_then(|r| r(&call)));
    let throttles = if let Some(fault) = fault
        && let Ok(mut injected) = upstream.shared.injected.lock()
    {
        injected.push((call.clone(), fault));
        injected
            .iter()
            .filter(|(_, f)| *f == Fault::Throttle)
            .count()
    } else {
        0
    };
    match fault {
        Some(Fault::Refuse(code)) => {
            return Ok(status(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ));
        }
        Some(Fault::Throttle) => return Ok(throttled(&call, throttles)),
        Some(Fault::Reset) => return Err(ResetConnection),
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::LoseAnswer) | None => {}
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut upstream_request = upstream
        .http
        .request(
            parts.method.clone(),
            format!("{}{path_and_query}", upstream.url),
        )
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream_request = upstream_request.header(name, value);
        }
    }
    let answer = match upstream_request.send().await {
        Ok(answer) => answer,
        Err(_) => return Ok(status(StatusCode::BAD_GATEWAY)),
    };
    if let Ok(mut forwarded) = upstream.shared.forwarded.lock() {
        forwarded.push(Forwarded {
            call,
            status: answer.status().as_u16(),
        });
    }
    if fault == Some(Fault::LoseAnswer) {
        return Ok(status(StatusCode::INTERNAL_SERVER_ERROR));
    }
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    Ok(response
        .body(Full::new(bytes))
        .unwrap_or_else(|_| status(StatusCode::BAD_GATEWAY)))
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// An error answer with this status. The SDKs decide whether to retry by the error code too,
/// so the code says what the status means (`InternalError` alone would be retried whatever
/// the status).
fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let error = match code.as_u16() {
        403 => "AccessDenied",
        503 => "ServiceUnavailable",
        400..=499 => "InvalidRequest",
        _ => "InternalError",
    };
    let body = format!(
        "<?xml version=\"1.0\"?><Error><Code>{error}</Code><Message>injected by the fault proxy ({code})</Message></Error>"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error));
    response
}

/// The throttling error each service really sends. DynamoDB has two; they alternate.
fn throttled(call: &Call, nth: usize) -> Response<Full<Bytes>> {
    let (code, content_type, body) = match call.service() {
        Service::DynamoDb => {
            let kind = if nth % 2 == 1 {
                "ThrottlingException"
            } else {
                "ProvisionedThroughputExceededException"
            };
            (
                StatusCode::BAD_REQUEST,
                "application/x-amz-json-1.0",
                format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"Rate of requests exceeds the allowed throughput."}}"#
                ),
            )
        }
        Service::SecretsManager => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
        ),
        Service::Sqs => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#
                .to_string(),
        ),
        Service::S3 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>".to_string(),
        ),
    };
    // A HEAD answer carries no body; S3 then tells the error by its status alone.
    let body = if call.method == "HEAD" {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
}

/// The `n`th call's fault when every fourth call fails, in turn with a 500, an answer lost
/// after the call took effect, a throttle, a reset connection and a 503.
pub fn every_fourth(n: u64) -> Option<Fault> {
    let kinds = [
        Fault::Refuse(500),
        Fault::LoseAnswer,
        Fault::Throttle,
        Fault::Reset,
        Fault::Refuse(503),
    ];
    (n % 4 == 3).then(|| kinds[(n / 4) as usize % kinds.len()])
}
