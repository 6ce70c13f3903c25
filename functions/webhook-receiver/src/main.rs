//! Receives Webex webhook deliveries through API Gateway: checks each one's signature, webhook
//! and organisation, queues those of ours and answers at once.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector_app::webhooks::serve_receiver().await
}
