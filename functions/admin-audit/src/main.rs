//! Collects Webex admin audit events into S3; invoked by an EventBridge schedule.

use collector_app::{LogTarget, StreamId, collector_from_env, init_logging, lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging(LogTarget::Stdout);
    let collector = collector_from_env(StreamId::AdminAudit).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        lambda::handle(&collector, event)
    }))
    .await
}
