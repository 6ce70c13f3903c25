//! Fresh AWS resources in the emulator, created with the SDK (not CloudFormation: moto skips
//! some resources silently).

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

/// The emulator's endpoint; the test runner (`make test`) starts moto and sets it.
pub fn endpoint() -> Result<String> {
    std::env::var("AWS_ENDPOINT_URL").context(
        "AWS_ENDPOINT_URL is not set: run the tests with `make test` (it starts the local AWS emulator)",
    )
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

pub fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_adapters::s3_client(sdk, true)
}

pub async fn create_bucket(sdk: &aws_config::SdkConfig, name: &str) -> Result<()> {
    s3(sdk)
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .context("create bucket")?;
    Ok(())
}

pub async fn create_table(sdk: &aws_config::SdkConfig, name: &str) -> Result<()> {
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await
        .context("create table")?;
    Ok(())
}

pub async fn create_secret(
    sdk: &aws_config::SdkConfig,
    name: &str,
    value: &serde_json::Value,
) -> Result<()> {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .context("create secret")?;
    Ok(())
}

/// A new current value of the secret `name`.
pub async fn put_secret(
    sdk: &aws_config::SdkConfig,
    name: &str,
    value: &serde_json::Value,
) -> Result<()> {
    aws_sdk_secretsmanager::Client::new(sdk)
        .put_secret_value()
        .secret_id(name)
        .secret_string(value.to_string())
        .send()
        .await
        .context("put secret value")?;
    Ok(())
}

pub async fn read_secret(sdk: &aws_config::SdkConfig, name: &str) -> Result<serde_json::Value> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .context("get secret")?;
    Ok(serde_json::from_str(out.secret_string().unwrap_or("{}"))?)
}

/// A fan-out queue and its dead-letter queue, as the template makes them (failed messages go
/// to the dead-letter queue after three receives), with a short visibility timeout so a test
/// sees a failed unit come back. Returns the queue's URL and the dead-letter queue's.
pub async fn create_fanout_queue(
    sdk: &aws_config::SdkConfig,
    name: &str,
    visibility_timeout: std::time::Duration,
) -> Result<(String, String)> {
    create_queue(sdk, name, visibility_timeout, 3).await
}

/// A queue and its dead-letter queue, which takes a message after `max_receives` receives:
/// (queue URL, dead-letter queue URL).
pub async fn create_queue(
    sdk: &aws_config::SdkConfig,
    name: &str,
    visibility_timeout: std::time::Duration,
    max_receives: u32,
) -> Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dead = sqs
        .create_queue()
        .queue_name(format!("{name}-dead-letters"))
        .send()
        .await
        .context("create the dead-letter queue")?;
    let dead_url = dead.queue_url().unwrap_or_default().to_string();
    let dead_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .context("the dead-letter queue's ARN")?
        .attributes()
        .and_then(|a| a.get(&A::QueueArn).cloned())
        .context("no QueueArn")?;
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            A::VisibilityTimeout,
            visibility_timeout.as_secs().to_string(),
        )
        .attributes(
            A::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives})
                .to_string(),
        )
        .send()
        .await
        .context("create the queue")?;
    Ok((queue.queue_url().unwrap_or_default().to_string(), dead_url))
}
