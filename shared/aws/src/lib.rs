//! The AWS adapters: the DynamoDB state store (cursor, leases, locks, request pace), the Secrets
//! Manager token store, the S3 object sink and the SQS fan-out queue. Each takes its SDK client in `new`.

mod dynamodb;
mod s3;
mod sdk_error;
mod secrets;
mod sqs;

pub use dynamodb::DynamoStateStore;
pub use s3::S3Sink;
pub use secrets::SecretsManagerStore;
pub use sqs::{QueueError, SqsQueue};

/// The SDK configuration from the standard sources (environment, Lambda role); locally
/// `AWS_ENDPOINT_URL` points every client at the emulator.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// S3 against a local emulator needs path-style addressing (`S3_FORCE_PATH_STYLE=true`).
pub fn s3_client(sdk: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
