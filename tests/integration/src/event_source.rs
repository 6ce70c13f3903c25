//! Lambda's SQS event source mapping, as the local stack runs it: receive from the fan-out
//! queue, invoke the function with Lambda's SQS event (`BatchSize` messages per invocation: one
//! for the fan-out queues), delete what it did not name in `batchItemFailures`, several
//! invocations at once. A message it names, or whose invocation failed, comes back after the
//! queue's visibility timeout, and after `maxReceiveCount` receives goes to the dead-letter
//! queue: SQS does that part itself.
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use futures_util::StreamExt;
use serde_json::json;

/// What draining a queue did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub invocations: usize,
    /// Messages deleted after their invocation succeeded for them.
    pub deleted: usize,
    /// Messages left to come back: named in `batchItemFailures`, or their invocation failed.
    pub returned: usize,
}

/// Invokes the function for every message of `queue_url` until the queue holds none, visible or
/// in flight: up to `batch_size` messages per invocation (the mapping's `BatchSize`, at most
/// 10 here), at most `concurrency` invocations at once. `invoke` takes the event and answers the
/// function's response, or `Err` for a function error (every message of it comes back).
pub async fn drain<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    batch_size: usize,
    concurrency: usize,
    give_up_after: Duration,
    invoke: F,
) -> Result<Drained>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, String>>,
{
    let started = tokio::time::Instant::now();
    let mut drained = Drained::default();
    loop {
        anyhow::ensure!(
            started.elapsed() < give_up_after,
            "the queue was not drained within {give_up_after:?}: {drained:?}"
        );
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .context("SQS ReceiveMessage")?;
        let messages = received.messages().to_vec();
        if messages.is_empty() {
            if in_queue(sqs, queue_url).await? == 0 {
                return Ok(drained);
            }
            continue;
        }
        let batches: Vec<Vec<Message>> = messages
            .chunks(batch_size.clamp(1, 10))
            .map(<[Message]>::to_vec)
            .collect();
        let answers: Vec<Vec<(String, bool)>> = futures_util::stream::iter(batches)
            .map(|batch| {
                let invoke = &invoke;
                async move {
                    let event = json!({"Records": batch.iter().map(record).collect::<Vec<_>>()});
                    let answer = invoke(event).await;
                    batch
                        .iter()
                        .map(|message| {
                            let id = message.message_id().unwrap_or_default();
                            let done = match &answer {
                                Ok(answer) => !answer["batchItemFailures"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .any(|f| f["itemIdentifier"] == id),
                                Err(_) => false,
                            };
                            (
                                message.receipt_handle().unwrap_or_default().to_string(),
                                done,
                            )
                        })
                        .collect()
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        drained.invocations += answers.len();
        for (receipt, done) in answers.into_iter().flatten() {
            if done {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .context("SQS DeleteMessage")?;
                drained.deleted += 1;
            } else {
                drained.returned += 1;
            }
        }
    }
}

/// One message as Lambda's SQS event holds it.
fn record(message: &Message) -> serde_json::Value {
    json!({
        "messageId": message.message_id().unwrap_or_default(),
        "receiptHandle": message.receipt_handle().unwrap_or_default(),
        "body": message.body().unwrap_or_default(),
        "attributes": {"ApproximateReceiveCount": message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .cloned()
            .unwrap_or_else(|| "1".into())},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fan-out",
        "awsRegion": "us-east-1",
    })
}

/// Messages in the queue, visible or in flight.
pub async fn in_queue(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .context("SQS GetQueueAttributes")?;
    let count = |name: A| -> u64 {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible))
}
