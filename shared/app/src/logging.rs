//! JSON logs, one line an event: CloudWatch and `jq` read them alike. Level from `RUST_LOG`
//! (default `info`).

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Lambda: everything on standard output goes to CloudWatch.
    Stdout,
    /// The CLI: standard output carries the result, logs go to standard error.
    Stderr,
}

pub fn init_logging(target: LogTarget) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);
    let result = match target {
        LogTarget::Stdout => builder.with_writer(std::io::stdout).try_init(),
        LogTarget::Stderr => builder.with_writer(std::io::stderr).try_init(),
    };
    // Already set (tests, or a second call): keep the first.
    drop(result);
}
