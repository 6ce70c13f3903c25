//! The fan-out queue (DESIGN §7): a scheduled run that owns several units of work sends one
//! message per unit, and the same function, triggered by the queue, collects one unit each.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::sdk_error::AwsCallError;

/// SQS takes at most ten messages per `SendMessageBatch`.
const BATCH: usize = 10;
/// Sends of the entries SQS refused one by one (throttled, say) before the run fails: the
/// schedule's own retry then sends them all again, and duplicates are harmless.
const ATTEMPTS: usize = 3;

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS SendMessageBatch to {url} failed: {source}")]
    Unavailable {
        url: String,
        #[source]
        source: AwsCallError,
    },
    #[error("SQS refused {refused} of {total} messages to {url}: {reason}")]
    Refused {
        url: String,
        refused: usize,
        total: usize,
        reason: String,
    },
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends every body as one message; `Ok` once SQS has accepted all of them.
    pub async fn send_all(&self, bodies: &[String]) -> Result<(), QueueError> {
        for (chunk_index, chunk) in bodies.chunks(BATCH).enumerate() {
            let mut pending: Vec<(String, &String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| (format!("m{}", chunk_index * BATCH + i), body))
                .collect();
            let mut reason = String::new();
            for _ in 0..ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                let entries = pending
                    .iter()
                    .map(|(id, body)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(body.as_str())
                            .build()
                            .map_err(|e| QueueError::Refused {
                                url: self.url.clone(),
                                refused: 1,
                                total: bodies.len(),
                                reason: e.to_string(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let sent = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| QueueError::Unavailable {
                        url: self.url.clone(),
                        source: AwsCallError::new(e),
                    })?;
                let failed: Vec<&str> = sent.failed().iter().map(|f| f.id()).collect();
                if let Some(first) = sent.failed().first() {
                    reason = format!("{}: {}", first.code(), first.message().unwrap_or_default());
                }
                pending.retain(|(id, _)| failed.contains(&id.as_str()));
            }
            if !pending.is_empty() {
                return Err(QueueError::Refused {
                    url: self.url.clone(),
                    refused: pending.len(),
                    total: bodies.len(),
                    reason,
                });
            }
        }
        Ok(())
    }
}
