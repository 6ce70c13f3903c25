//! Webex webhook deliveries as API Gateway hands them to the receiver.

use base64::Engine;
use collector_app::callback::{HttpContext, RequestContext};
use collector_app::webhooks::WebhookRequest;
use collector_core::secret::SigningSecret;
use collector_core::webhook::signature::sign;

/// A request of `method` with `body` (base64-encoded, as API Gateway does for a body it does
/// not take for text) and `X-Spark-Signature` when there is one.
pub fn request(
    method: &str,
    body: &[u8],
    signature: Option<String>,
    base64: bool,
) -> WebhookRequest {
    let mut headers = std::collections::HashMap::new();
    if let Some(signature) = signature {
        headers.insert("x-spark-signature".to_string(), signature);
    }
    WebhookRequest {
        body: Some(if base64 {
            base64::engine::general_purpose::STANDARD.encode(body)
        } else {
            String::from_utf8_lossy(body).into_owned()
        }),
        is_base64_encoded: base64,
        headers,
        request_context: RequestContext {
            http: HttpContext {
                method: method.to_string(),
            },
        },
    }
}

/// Webex's signature of `body` under `secret`.
pub fn signed(body: &[u8], secret: &str) -> Option<String> {
    Some(sign(&SigningSecret::new(secret), body))
}

/// Drains `queue_url` through `write` in process, as the writer's event source mapping does
/// (ten messages per batch, one batch at a time), with the stack's own writer variables.
pub async fn write_all(
    stack: &crate::Stack,
    queue_url: &str,
    clock: std::sync::Arc<impl collector_core::ports::Clock>,
) -> anyhow::Result<crate::event_source::Drained> {
    let config =
        collector_app::webhooks::WriterConfig::from_lookup(|name| stack.env.get(name).cloned())?;
    let write = collector_app::webhooks::Write::new(&config, &stack.sdk, clock);
    crate::event_source::drain(
        &aws_sdk_sqs::Client::new(&stack.sdk),
        queue_url,
        10,
        1,
        std::time::Duration::from_secs(60),
        |event| {
            let write = &write;
            async move { Ok(write.handle(&event).await) }
        },
    )
    .await
}
