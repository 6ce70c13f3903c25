//! A Lambda runtime API on a free 127.0.0.1 port, and function binaries run against it, so that
//! a test drives a function exactly as Lambda does: the binary is started with
//! `AWS_LAMBDA_RUNTIME_API` pointing here, long-polls `GET .../invocation/next`, gets the event
//! with its request id, deadline and function ARN in headers, and posts its answer to
//! `.../invocation/{id}/response` or `.../invocation/{id}/error`.
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const RESPONSE: &str = "/2018-06-01/runtime/invocation/{id}/response";
const ERROR: &str = "/2018-06-01/runtime/invocation/{id}/error";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// What a function answered for one invocation.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `POST .../{id}/response`: the handler's result.
    Response(serde_json::Value),
    /// `POST .../{id}/error` (or `init/error`): the `Diagnostic`, `{"errorType", "errorMessage"}`.
    Error(serde_json::Value),
}

#[derive(Debug)]
struct Invocation {
    request_id: String,
    deadline_ms: u64,
    function_arn: String,
    payload: serde_json::Value,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<VecDeque<Invocation>>,
    queued: Notify,
    outcomes: Mutex<HashMap<String, Outcome>>,
    answered: Notify,
    polls: mpsc::UnboundedSender<Instant>,
}

/// The runtime API. Invocations are queued with [`RuntimeApi::invoke`] and handed out in order
/// to whichever function polls; with none queued, a poll is held open, as Lambda holds it.
#[derive(Debug)]
pub struct RuntimeApi {
    address: String,
    shared: Arc<Shared>,
    polls: mpsc::UnboundedReceiver<Instant>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot bind the Lambda runtime API stub")?;
        let address = listener.local_addr()?.to_string();
        let (tx, polls) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            queued: Notify::new(),
            outcomes: Mutex::default(),
            answered: Notify::new(),
            polls: tx,
        });
        let app = Router::new()
            .route(NEXT, get(next))
            .route(RESPONSE, post(response))
            .route(ERROR, post(error))
            .route(INIT_ERROR, post(init_error))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("Lambda runtime API stub stopped: {e}");
            }
        });
        Ok(Self {
            address,
            shared,
            polls,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues `payload` for `function`, to be finished within `time_left` from now (the
    /// `Lambda-Runtime-Deadline-Ms` header, epoch milliseconds, as Lambda sends it); returns the
    /// request id.
    pub fn invoke(
        &self,
        function: &str,
        payload: serde_json::Value,
        time_left: Duration,
    ) -> String {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let request_id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let invocation = Invocation {
            request_id: request_id.clone(),
            deadline_ms: now_ms + time_left.as_millis() as u64,
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
            payload,
        };
        lock(&self.shared.queue).push_back(invocation);
        self.shared.queued.notify_one();
        request_id
    }

    /// What the function answered for `request_id`, waiting up to `wait` for it.
    pub async fn outcome(&self, request_id: &str, wait: Duration) -> Result<Outcome> {
        let wait_for_it = async {
            loop {
                let answered = self.shared.answered.notified();
                if let Some(outcome) = lock(&self.shared.outcomes).get(request_id) {
                    return outcome.clone();
                }
                answered.await;
            }
        };
        tokio::time::timeout(wait, wait_for_it)
            .await
            .with_context(|| format!("no answer to invocation {request_id} within {wait:?}"))
    }

    /// The moment of the next `GET .../invocation/next`, waiting up to `wait` for it.
    pub async fn next_poll(&mut self, wait: Duration) -> Result<Instant> {
        tokio::time::timeout(wait, self.polls.recv())
            .await
            .with_context(|| format!("no poll of the runtime API within {wait:?}"))?
            .context("the runtime API stub stopped")
    }

    /// Forgets the polls noted so far (e.g. those of a function started earlier).
    pub fn forget_polls(&mut self) {
        while self.polls.try_recv().is_ok() {}
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding it left nothing half-written worth refusing.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.polls.send(Instant::now());
    loop {
        // Registered before the queue is looked at, so an invocation queued in between wakes it.
        let queued = shared.queued.notified();
        if let Some(invocation) = lock(&shared.queue).pop_front() {
            return (
                [
                    ("lambda-runtime-aws-request-id", invocation.request_id),
                    (
                        "lambda-runtime-deadline-ms",
                        invocation.deadline_ms.to_string(),
                    ),
                    (
                        "lambda-runtime-invoked-function-arn",
                        invocation.function_arn,
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
                    ),
                    ("content-type", "application/json".to_string()),
                ],
                invocation.payload.to_string(),
            )
                .into_response();
        }
        queued.await;
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    record(&shared, id, Outcome::Response(parse(&body)))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    record(&shared, id, Outcome::Error(parse(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    record(&shared, "init".into(), Outcome::Error(parse(&body)))
}

fn record(shared: &Shared, id: String, outcome: Outcome) -> StatusCode {
    lock(&shared.outcomes).insert(id, outcome);
    shared.answered.notify_waiters();
    StatusCode::ACCEPTED
}

/// The body as JSON, or as a JSON string when it is not JSON (so a test sees what came).
fn parse(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// A function binary running against a [`RuntimeApi`], its standard output and error captured.
/// Dropping it kills the process.
#[derive(Debug)]
pub struct FunctionProcess {
    child: tokio::process::Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would for `function`: `env` plus the runtime API's address and
    /// the variables Lambda sets. The process inherits the test's environment too (the local
    /// AWS endpoint and credentials that `scripts/with-moto.sh` exports).
    pub fn start<K, V>(
        api: &RuntimeApi,
        function: &str,
        binary: &Path,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let mut child = tokio::process::Command::new(binary)
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(collect(out, stdout.clone())));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(collect(err, stderr.clone())));
        }
        Ok(Self {
            child,
            stdout,
            stderr,
            readers,
        })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits up to `wait` for the function to exit by itself (a failed cold start): its exit
    /// status, or `None` while it still runs.
    pub async fn exited(&mut self, wait: Duration) -> Result<Option<std::process::ExitStatus>> {
        match tokio::time::timeout(wait, self.child.wait()).await {
            Ok(status) => Ok(Some(status.context("waiting for the function to exit")?)),
            Err(_) => Ok(None),
        }
    }

    /// Kills the function and returns everything it wrote: (standard output, standard error).
    pub async fn stop(mut self) -> Result<(String, String)> {
        self.child.start_kill().ok();
        self.child
            .wait()
            .await
            .context("waiting for the function to exit")?;
        for reader in self.readers.drain(..) {
            reader.await.ok();
        }
        let text =
            |buffer: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&lock(buffer)).into_owned();
        Ok((text(&self.stdout), text(&self.stderr)))
    }
}

async fn collect(mut from: impl AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = from.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        lock(&into).extend_from_slice(&chunk[..n]);
    }
}

/// A binary of this workspace, built beside the test binaries: next to a binary of this crate
/// (`target/debug/soak`), or one folder up from a test (`target/debug/deps/`). `make test` builds
/// every binary first (`cargo build --workspace --bins`).
pub fn built_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{name} is missing beside {}: build it with `cargo build --workspace --bins`",
                dir.display()
            )
        })
}
