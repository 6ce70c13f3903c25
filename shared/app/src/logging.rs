//! JSON logs, one line an event: CloudWatch and `jq` read them alike. Level from `RUST_LOG`
//! (default `info`), then capped for the libraries that log payloads (see [`CAPS`]).

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Lambda: everything on standard output goes to CloudWatch.
    Stdout,
    /// The CLI: standard output carries the result, logs go to standard error.
    Stderr,
}

/// The most any of these libraries may log, whatever `RUST_LOG` asks for: below it they print
/// what passes through them. At `trace` the Lambda runtime logs each raw event (the callback's
/// OAuth `code` and `state`), the AWS SDK and the signer log requests with their bodies (the
/// `PutSecretValue` JSON: every token and the client secret), and the HTTP and TLS stacks log
/// frames and headers (`Authorization: Bearer ...`). Their `debug` lines (attempts, retries,
/// credential providers) name no payload, except the HTTP and TLS stacks' frame dumps, so those
/// stay at `info`. Targets match by prefix: `aws_smithy` covers every `aws_smithy_*` crate.
pub const CAPS: &[(&str, Level)] = &[
    ("lambda_runtime", Level::DEBUG),
    ("aws_smithy", Level::DEBUG),
    ("aws_sdk", Level::DEBUG),
    ("aws_config", Level::DEBUG),
    ("aws_runtime", Level::DEBUG),
    ("aws_sigv4", Level::DEBUG),
    ("aws_credential_types", Level::DEBUG),
    ("hyper", Level::INFO),
    ("h2", Level::INFO),
    ("rustls", Level::INFO),
    ("reqwest", Level::INFO),
    ("tower", Level::INFO),
];

/// Installs the process's logger; every binary (the functions, `webexctl`) calls this once.
pub fn init_logging(target: LogTarget) {
    let env = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let result = match target {
        LogTarget::Stdout => tracing_subscriber::registry()
            .with(json_layer(env.as_deref(), std::io::stdout))
            .try_init(),
        LogTarget::Stderr => tracing_subscriber::registry()
            .with(json_layer(env.as_deref(), std::io::stderr))
            .try_init(),
    };
    // Already set (tests, or a second call): keep the first.
    drop(result);
}

/// The JSON layer writing to `writer`, filtered by `directives` (`RUST_LOG`'s syntax; `info`
/// when absent or invalid) and then by [`CAPS`]: a level is logged only when both allow it, so
/// the environment can lower a capped crate's level but never raise it past its cap.
pub fn json_layer<S, W>(directives: Option<&str>, writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let env = directives
        .filter(|d| !d.trim().is_empty())
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .with_filter(env.and(caps()))
}

fn caps() -> Targets {
    CAPS.iter()
        .fold(Targets::new(), |targets, (target, level)| {
            targets.with_target(*target, *level)
        })
        .with_default(LevelFilter::TRACE)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What one event per (target, level) leaves in the log under `directives`.
    fn logged(directives: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry()
            .with(json_layer(Some(directives), move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "code=SECRET-CODE", "raw JSON event");
            tracing::debug!(target: "lambda_runtime::runtime", "lambda-debug-line");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = "SECRET-BODY", "transmitting request");
            tracing::trace!(target: "aws_sigv4::http_request::sign", "SECRET-SIGNING");
            tracing::debug!(target: "aws_smithy_runtime::client::retries", "aws-debug-line");
            tracing::debug!(target: "h2::codec", frame = "SECRET-FRAME");
            tracing::info!(target: "hyper_util::client", "hyper-info-line");
            tracing::warn!(target: "aws_smithy_runtime", "aws-warn-line");
            tracing::trace!(target: "collector_app::wiring", "own-trace-line");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn trace_from_the_environment_never_reaches_payload_logging_libraries() {
        let log = logged("trace");
        for secret in [
            "SECRET-CODE",
            "SECRET-BODY",
            "SECRET-SIGNING",
            "SECRET-FRAME",
        ] {
            assert!(!log.contains(secret), "{secret} logged: {log}");
        }
        // The caps are ceilings, not a mute: what is below them still gets through, and our
        // own crates log at whatever level was asked for.
        for line in [
            "lambda-debug-line",
            "aws-debug-line",
            "hyper-info-line",
            "aws-warn-line",
            "own-trace-line",
        ] {
            assert!(log.contains(line), "{line} missing: {log}");
        }
    }

    #[test]
    fn the_environment_can_lower_a_capped_crate_but_not_raise_it() {
        let log = logged("info,aws_smithy_runtime=warn,lambda_runtime=trace");
        assert!(log.contains("aws-warn-line"), "{log}");
        assert!(!log.contains("aws-debug-line"), "{log}");
        assert!(log.contains("lambda-debug-line"), "{log}");
        assert!(!log.contains("SECRET-CODE"), "{log}");
        assert!(!log.contains("own-trace-line"), "{log}");
    }

    #[test]
    fn no_or_an_invalid_level_means_info() {
        for directives in ["", "not a level[", "=="] {
            let log = logged(directives);
            assert!(log.contains("hyper-info-line"), "{directives:?}: {log}");
            assert!(!log.contains("aws-debug-line"), "{directives:?}: {log}");
        }
    }
}
