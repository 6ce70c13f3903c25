//! Cold start: from process start to the first `GET /2018-06-01/runtime/invocation/next`, the
//! moment a Lambda function is ready for its first event. A stub of the runtime API on a free
//! 127.0.0.1 port notes when that request arrives and never answers it; the function is then
//! stopped and started again.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::procs::ChildGuard;

const NEXT_INVOCATION: &str = "/2018-06-01/runtime/invocation/next";

#[derive(Clone, Debug)]
pub struct ColdStart {
    pub function: String,
    pub runs: Vec<Duration>,
}

impl ColdStart {
    pub fn median(&self) -> Duration {
        let mut sorted = self.runs.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    pub fn min(&self) -> Duration {
        self.runs.iter().min().copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.runs.iter().max().copied().unwrap_or_default()
    }
}

/// The runtime API stub: reports each first poll on a channel.
#[derive(Debug)]
pub struct RuntimeStub {
    pub address: String,
    polls: mpsc::UnboundedReceiver<Instant>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeStub {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot bind the runtime API stub")?;
        let address = listener.local_addr()?.to_string();
        let (tx, polls) = mpsc::unbounded_channel();
        let app = Router::new()
            .route(NEXT_INVOCATION, get(next_invocation))
            .with_state(Arc::new(tx));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("bench: runtime API stub stopped: {e}");
            }
        });
        Ok(Self {
            address,
            polls,
            server,
        })
    }
}

impl Drop for RuntimeStub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Holds the poll open (a function waits here for its next event) after noting its arrival.
async fn next_invocation(State(polls): State<Arc<mpsc::UnboundedSender<Instant>>>) -> StatusCode {
    let _ = polls.send(Instant::now());
    std::future::pending::<StatusCode>().await
}

/// Starts `binary` `runs` times with `env` and the stub's address, timing each start.
pub async fn measure(
    stub: &mut RuntimeStub,
    function: &str,
    binary: &Path,
    env: &[(String, String)],
    runs: usize,
) -> Result<ColdStart> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        // A poll left over from an earlier start must not be taken for this one.
        while stub.polls.try_recv().is_ok() {}
        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", &stub.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut guard = ChildGuard::new(child, false, function.to_owned());
        let polled = tokio::time::timeout(Duration::from_secs(30), stub.polls.recv())
            .await
            .with_context(|| format!("{function} did not poll the runtime API within 30 s"))?
            .context("the runtime API stub stopped")?;
        times.push(polled.saturating_duration_since(started));
        guard.signal(nix::sys::signal::Signal::SIGKILL)?;
        guard.wait().await?;
    }
    Ok(ColdStart {
        function: function.to_owned(),
        runs: times,
    })
}
