//! Keeps the organisation's Webex webhooks of ours as configured (create, repair, re-enable,
//! delete duplicates), records each period one was off, and keeps the receiver's secret in step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector_app::registrar::serve().await
}
