//! Writes the queued Webex webhook deliveries into S3, each exactly once, reporting per message
//! what is not yet durable.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector_app::webhooks::serve_writer().await
}
