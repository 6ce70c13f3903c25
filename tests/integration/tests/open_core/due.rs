//! A document stream's `every` is claimed before its scheduled run does its work, and given
//! back when that work fails: a run whose discovery or enqueue failed leaves the stream due at
//! the next tick, not a whole interval later; a run that did its work keeps the claim.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use collector_app::document::Document;
use collector_app::units::StreamUnits;
use collector_app::{Config, StreamId};
use integration_tests::stack::{SimTime, Stack, StackOptions};
use lambda_runtime::{Context as LambdaContext, LambdaEvent};

const STREAM: StreamId = StreamId::AdminAudit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_whose_discovery_or_enqueue_failed_leaves_the_stream_due() -> Result<()> {
    // GIVEN a partner administrator's document stream that discovers its organisations and
    // runs once an hour, on a function with a fan-out queue
    let stack = Stack::start(StackOptions::default()).await?;
    let customers = stack.partner_of(2).await?;
    let document = Document::parse(&format!(
        r#"
[identities.admin]
kind = "webex_oauth"
secret = "{}"

[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "admin"
orgs = "discover"
every = "1h"
"#,
        stack.secret_id("admin")
    ))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (queue, _) = integration_tests::aws::create_fanout_queue(
        &stack.sdk,
        &format!("due-{}", stack.table),
        std::time::Duration::from_secs(5),
    )
    .await?;
    let missing_queue = format!("{queue}-missing");
    let run = |changes: &[(&str, &str)]| {
        let mut env: HashMap<String, String> = stack.stream_env(STREAM);
        env.insert("FANOUT_QUEUE_URL".into(), queue.clone());
        for (k, v) in changes {
            env.insert(k.to_string(), v.to_string());
        }
        let document = &document;
        let stack = &stack;
        async move {
            let config = Config::from_lookup(|name| env.get(name).cloned())?;
            let units = StreamUnits::configured(
                STREAM,
                &config,
                Some(document),
                &stack.collector_sdk,
                Arc::new(SimTime(stack.sim.clone())),
            )?;
            let mut context = LambdaContext::default();
            // Milliseconds left, as a deadline before the year 2000 is read.
            context.deadline = 120_000;
            let scheduled = serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
            anyhow::Ok(
                collector_app::lambda::handle(&units, LambdaEvent::new(scheduled, context))
                    .await
                    .map_err(|e| format!("{}: {}", e.kind, e.message)),
            )
        }
    };
    // WHEN the first scheduled run cannot discover the organisations (Webex unreachable)
    let answer = run(&[("WEBEX_API_URL", "http://127.0.0.1:1/v1")]).await?;
    ensure!(answer.is_err(), "discovery failed, yet {answer:?}");
    // AND the second cannot send them to the queue
    let answer = run(&[("FANOUT_QUEUE_URL", &missing_queue)]).await?;
    // THEN the stream was still due for the second, and is for the third, which sends them
    let Err(error) = answer else {
        anyhow::bail!("the stream was not due after a failed discovery: {answer:?}");
    };
    ensure!(error.contains("SQS"), "{error}");
    let answer = run(&[]).await?.map_err(|e| anyhow::anyhow!(e))?;
    ensure!(
        answer["enqueued"] == customers.len() + 1,
        "the stream is due after two failed runs: {answer}"
    );
    // AND the run that did its work kept the claim: not due again within the hour
    let answer = run(&[]).await?.map_err(|e| anyhow::anyhow!(e))?;
    ensure!(answer["units"] == 0, "{answer}");
    let messages = aws_sdk_sqs::Client::new(&stack.sdk)
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?;
    let sent = messages
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .context("the queue's message count")?;
    ensure!(
        *sent == (customers.len() + 1).to_string(),
        "{sent} messages"
    );
    Ok(())
}
