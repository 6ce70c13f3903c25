//! Cold start: from process start to the first `GET /2018-06-01/runtime/invocation/next`, the
//! moment a Lambda function is ready for its first event. The tests' runtime API stub
//! ([`RuntimeApi`], on a free 127.0.0.1 port) notes when that request arrives and, with nothing
//! queued, holds it open; the function is then stopped and started again.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
pub use integration_tests::lambda_api::RuntimeApi;

use crate::procs::ChildGuard;

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

/// Starts `binary` `runs` times with `env` and the stub's address, timing each start.
pub async fn measure(
    stub: &mut RuntimeApi,
    function: &str,
    binary: &Path,
    env: &[(String, String)],
    runs: usize,
) -> Result<ColdStart> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        // A poll left over from an earlier start must not be taken for this one.
        stub.forget_polls();
        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", stub.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut guard = ChildGuard::new(child, false, function.to_owned());
        let polled = stub
            .next_poll(Duration::from_secs(30))
            .await
            .with_context(|| format!("{function} did not poll the runtime API"))?;
        times.push(polled.saturating_duration_since(started));
        guard.signal(nix::sys::signal::Signal::SIGKILL)?;
        guard.wait().await?;
    }
    Ok(ColdStart {
        function: function.to_owned(),
        runs: times,
    })
}
