//! Collects every stream of the collector document that does not read Webex (Microsoft Graph,
//! Cisco Secure Endpoint, any paged JSON API) into S3; invoked by an EventBridge schedule and by
//! its fan-out queue.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector_app::lambda::serve(collector_app::units::Selection::OtherSources).await
}
