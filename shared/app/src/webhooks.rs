//! Webex webhooks wired (DESIGN §9): the receiver behind API Gateway checks a delivery and
//! queues it, answering fast; the writer drains the queue into the bucket. What a delivery of
//! ours is and how a batch lands once are `collector_core::webhook`'s; here are the secret they
//! read, the request and the queue's messages, and their metrics.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{DynamoStateStore, S3Sink, SecretsManagerStore, SqsQueue};
use base64::Engine;
use collector_core::ports::{Clock, StoreError, SystemClock};
use collector_core::secret::SigningSecret;
use collector_core::time::Timestamp;
use collector_core::webhook::delivery::MAX_BODY;
use collector_core::webhook::{Delivery, Queued, Receiver, Refusal, SigningSecrets, write_batch};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::callback::{HttpResponse, RequestContext};
use crate::config::{ConfigError, Env};
use crate::fanout::{Invocation, batch_response};
use crate::{LogTarget, init_logging};

/// The receiver's secret (Secrets Manager; the registrar keeps it): the signing secrets, and
/// which webhooks and organisations are ours.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WebhookSecret {
    pub current: SigningSecret,
    #[serde(default)]
    pub pending: Option<SigningSecret>,
    /// When `pending` became the old secret (a rotation's end): it is dropped an hour after.
    /// Unset with `pending` set: a rotation under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    pub webhooks: Vec<String>,
    pub org_ids: Vec<String>,
}

impl WebhookSecret {
    fn receiver(self) -> Receiver {
        Receiver {
            secrets: SigningSecrets {
                current: self.current,
                pending: self.pending,
            },
            org_ids: self.org_ids.into_iter().collect::<BTreeSet<_>>(),
            webhooks: self.webhooks.into_iter().collect(),
            max_body: MAX_BODY,
        }
    }
}

/// What the receiver reads of API Gateway's HTTP API request (payload format 2.0, whose header
/// names are in lower case).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRequest {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub request_context: RequestContext,
}

/// A forged request cannot make the receiver re-read its secret more often than this.
const REREAD_AFTER: Duration = Duration::from_secs(10);

/// The receiver: checks each request, queues each delivery of ours as its line.
#[derive(Debug)]
pub struct Receive<C = SystemClock> {
    secret: SecretsManagerStore,
    queue: SqsQueue,
    clock: Arc<C>,
    /// What deliveries are checked against, and when it was read.
    receiver: RwLock<(Receiver, Timestamp)>,
}

impl<C: Clock> Receive<C> {
    pub async fn new(
        secret: SecretsManagerStore,
        queue: SqsQueue,
        clock: Arc<C>,
    ) -> Result<Self, StoreError> {
        let receiver = read(&secret).await?;
        let now = clock.now();
        Ok(Self {
            secret,
            queue,
            clock,
            receiver: RwLock::new((receiver, now)),
        })
    }

    /// 200 once the delivery is queued; 401/400/405 with no body for what is not ours; 503
    /// only when the queue refused a delivery of ours (Webex then retries it).
    pub async fn handle(&self, request: WebhookRequest) -> HttpResponse {
        let received_at = self.clock.now();
        let outcome = match self.check(&request).await {
            Ok((accepted, body)) => {
                let delivery = Delivery {
                    received_at,
                    org_id: accepted.org_id,
                    resource: accepted.resource,
                    event: accepted.event,
                    body,
                };
                let line = String::from_utf8_lossy(&delivery.line()).into_owned();
                match self.queue.send_all(&[line]).await {
                    Ok(()) => {
                        tracing::info!(
                            webhook = %accepted.webhook_id,
                            resource = %delivery.resource,
                            event = %delivery.event,
                            "delivery queued"
                        );
                        Ok(())
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "delivery not queued; Webex retries it");
                        Err((503, "not_queued"))
                    }
                }
            }
            Err(refusal) => {
                tracing::warn!(reason = refusal.reason(), "request refused");
                Err((refusal.status(), refusal.reason()))
            }
        };
        let (status, reason) = match outcome {
            Ok(()) => (200, "accepted"),
            Err(failed) => failed,
        };
        println!("{}", crate::metrics::webhook_line(reason, received_at));
        HttpResponse {
            status_code: status,
            headers: HashMap::new(),
            body: String::new(),
        }
    }

    async fn check(
        &self,
        request: &WebhookRequest,
    ) -> Result<(collector_core::webhook::Accepted, Vec<u8>), Refusal> {
        let body = body_of(request)?;
        let method = request.request_context.http.method.as_str();
        let signature = request
            .headers
            .get("x-spark-signature")
            .map(String::as_bytes);
        let first = self
            .receiver
            .read()
            .await
            .0
            .receive(method, &body, signature);
        match first {
            // A rotation or a new webhook the registrar made since the secret was read: read it
            // again, at most every REREAD_AFTER.
            Err(Refusal::BadSignature | Refusal::UnknownWebhook | Refusal::OtherOrg)
                if self.reread().await =>
            {
                let again = self
                    .receiver
                    .read()
                    .await
                    .0
                    .receive(method, &body, signature);
                again.map(|accepted| (accepted, body))
            }
            other => other.map(|accepted| (accepted, body)),
        }
    }

    /// Whether the secret was read again (it was older than REREAD_AFTER and is readable).
    async fn reread(&self) -> bool {
        let now = self.clock.now();
        let mut guard = self.receiver.write().await;
        if guard.1.plus(REREAD_AFTER) > now {
            return false;
        }
        guard.1 = now;
        match read(&self.secret).await {
            Ok(receiver) => {
                guard.0 = receiver;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "webhook secret unreadable; the last one stays");
                false
            }
        }
    }
}

fn body_of(request: &WebhookRequest) -> Result<Vec<u8>, Refusal> {
    let text = request.body.as_deref().unwrap_or_default();
    if !request.is_base64_encoded {
        return Ok(text.as_bytes().to_vec());
    }
    // Base64 is 4/3 of the bytes: anything longer is over the cap before decoding.
    if text.len() > MAX_BODY / 3 * 4 + 4 {
        return Err(Refusal::TooLarge);
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Refusal::NotJson)
}

async fn read(secret: &SecretsManagerStore) -> Result<Receiver, StoreError> {
    let value: WebhookSecret = secret
        .current_as()
        .await?
        .ok_or_else(|| StoreError::Invalid {
            item: format!("secret {}", secret.secret_id()),
            reason: "does not exist; the webhook registrar creates it".into(),
        })?;
    Ok(value.receiver())
}

/// The receiver's variables: `WEBHOOK_SECRET_ID` (its signing secrets and which webhooks and
/// organisations are ours) and `WEBHOOK_QUEUE_URL` (where deliveries wait for the writer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverConfig {
    pub secret_id: String,
    pub queue_url: String,
}

impl ReceiverConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        Ok(Self {
            secret_id: env.required("WEBHOOK_SECRET_ID")?,
            queue_url: env.required("WEBHOOK_QUEUE_URL")?,
        })
    }
}

/// The receiver as Lambda runs it behind API Gateway's `POST /webhooks`.
pub async fn serve_receiver() -> Result<(), lambda_runtime::Error> {
    init_logging(LogTarget::Stdout);
    let started = async {
        let config = ReceiverConfig::from_lookup(|name| std::env::var(name).ok())?;
        let sdk = aws_adapters::sdk_config().await;
        let receive = Receive::new(
            SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&sdk), &config.secret_id),
            SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &config.queue_url),
            Arc::new(SystemClock),
        )
        .await?;
        Ok::<_, lambda_runtime::Error>(receive)
    };
    let receive = started.await.inspect_err(|e| {
        // Lambda reports the failed start; API Gateway answers 500 and Webex retries.
        tracing::error!(error = %e, "the webhook receiver cannot start");
    })?;
    let receive = &receive;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: LambdaEvent<WebhookRequest>| async move {
            Ok::<_, std::convert::Infallible>(receive.handle(event.payload).await)
        },
    ))
    .await
}

/// The writer as Lambda runs it on the queue's event source mapping (with
/// `ReportBatchItemFailures`).
pub async fn serve_writer() -> Result<(), lambda_runtime::Error> {
    crate::return_large_buffers_to_the_system();
    init_logging(LogTarget::Stdout);
    let config = WriterConfig::from_lookup(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error = %e, "the webhook writer cannot start");
    })?;
    let sdk = aws_adapters::sdk_config().await;
    let write = Write::new(&config, &sdk, Arc::new(SystemClock));
    let write = &write;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, std::convert::Infallible>(write.handle(&event.payload).await)
        },
    ))
    .await
}

/// The writer: each queued batch into the bucket, reporting the messages not yet durable.
#[derive(Debug)]
pub struct Write<C = SystemClock> {
    claims: DynamoStateStore,
    sink: S3Sink,
    prefix: String,
    lease: Duration,
    clock: Arc<C>,
}

/// The writer's variables: `STATE_TABLE`, `OUTPUT_BUCKET`, `OUTPUT_PREFIX`,
/// `S3_FORCE_PATH_STYLE`, and `CLAIM_LEASE_SECONDS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    pub state_table: String,
    pub output_bucket: String,
    pub output_prefix: String,
    pub s3_force_path_style: bool,
    /// How long a writer's claim keeps other writers off a delivery: longer than any writer's
    /// run (the function's timeout), so only a dead writer's claims are taken over, and shorter
    /// than the queue's visibility timeout, so a message handed back finds its claim lapsed.
    /// The template sets both from one figure.
    pub claim_lease: Duration,
}

impl WriterConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        Ok(Self {
            state_table: env.required("STATE_TABLE")?,
            output_bucket: env.required("OUTPUT_BUCKET")?,
            output_prefix: env.prefix("OUTPUT_PREFIX")?,
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
            claim_lease: env.seconds("CLAIM_LEASE_SECONDS", 300, 1, 43_200)?,
        })
    }
}

impl<C: Clock> Write<C> {
    pub fn new(config: &WriterConfig, sdk: &aws_config::SdkConfig, clock: Arc<C>) -> Self {
        Self {
            claims: DynamoStateStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.state_table),
            sink: S3Sink::new(
                aws_adapters::s3_client(sdk, config.s3_force_path_style),
                &config.output_bucket,
            ),
            prefix: config.output_prefix.clone(),
            lease: config.claim_lease,
            clock,
        }
    }

    /// Lambda's SQS event in, its partial batch response out.
    pub async fn handle(&self, payload: &serde_json::Value) -> serde_json::Value {
        let Invocation::Queue(records) = Invocation::of(payload) else {
            return batch_response(&[]);
        };
        let mut failed = Vec::new();
        let mut batch = Vec::new();
        for record in records {
            match Delivery::from_line(record.body.as_bytes()) {
                Some(delivery) => batch.push(Queued {
                    message_id: record.message_id,
                    delivery,
                }),
                // Not a line of the receiver's: it goes to the dead-letter queue.
                None => {
                    tracing::error!(message = %record.message_id, "not a queued delivery");
                    failed.push(record.message_id);
                }
            }
        }
        let now = self.clock.now();
        let written = write_batch(
            &self.claims,
            &self.sink,
            &self.prefix,
            now,
            self.lease,
            batch,
        )
        .await;
        tracing::info!(
            written = written.written,
            duplicates = written.duplicates,
            objects = written.objects.len(),
            retried = written.failed.len(),
            "batch written"
        );
        failed.extend(written.failed);
        batch_response(&failed)
    }
}
