//! The AWS adapters: the DynamoDB state store (cursor, leases, locks, request pace), the Secrets
//! Manager token store, the S3 object sink, the SQS fan-out queue and (feature `glue`, for
//! `webexctl` only) the Glue catalogue of the streams' tables. Each takes its SDK client in `new`.

mod dynamodb;
#[cfg(feature = "glue")]
mod glue;
mod s3;
mod sdk_error;
mod secrets;
mod sqs;

pub use dynamodb::DynamoStateStore;
#[cfg(feature = "glue")]
pub use glue::GlueCatalog;
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

/// The Glue client of [`GlueCatalog`].
#[cfg(feature = "glue")]
pub fn glue_client(sdk: &aws_config::SdkConfig) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::new(sdk)
}
