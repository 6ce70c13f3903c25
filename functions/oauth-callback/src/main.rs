//! Completes a Webex OAuth authorisation: the redirect from the consent page arrives through
//! API Gateway, the tokens go into the identity's secret.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector_app::callback::serve().await
}
