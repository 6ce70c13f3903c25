//! Collects Webex security audit events into S3; invoked by an EventBridge schedule.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector_app::lambda::serve(collector_app::StreamId::SecurityAudit).await
}
