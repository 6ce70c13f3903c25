//! The webhook functions as Lambda runs them: the simulator's deliverer posts signed deliveries
//! over HTTP to an API Gateway stand-in in front of the `webhook-receiver` binary, and the
//! `webhook-writer` binary drains the queue through Lambda's SQS event source mapping. Every
//! AWS call of both goes through the fault proxy, and the writer is SIGKILLed mid-batch: every
//! delivery is in the bucket once, byte for byte, and nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use collector_core::secret::SigningSecret;
use collector_core::webhook::body_digest;
use integration_tests::event_source;
use integration_tests::fault_proxy::{Service, every_fourth};
use integration_tests::http_api::HttpApi;
use integration_tests::lambda_api::{FunctionProcess, Outcome, RuntimeApi, built_binary};
use integration_tests::stack::sim_org_id;
use integration_tests::{Stack, StackOptions, aws};
use serde_json::json;
use tokio::sync::Mutex;
use webex_client::WebhookSpec;

use crate::webhooks::{stored_bodies, webex_as_admin};

const CURRENT: &str = "webhook-secret-lambda-7c21";
const FOREIGN: &str = "someone-elses-webhook-secret-0b9e";
const RESOURCES: [&str; 4] = ["meetings", "recordings", "rooms", "messages"];
/// The writer's claims lapse well within the queue's visibility timeout.
const LEASE_SECONDS: u64 = 2;
const VISIBILITY: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_through_the_functions_land_once_under_faults_and_a_killed_writer() -> Result<()>
{
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    let proxy = stack.proxy.as_ref().context("the fault proxy")?;
    let secret_id = format!("webhooks-{}", stack.table);
    let (queue_url, dead_letters) = aws::create_queue(
        &stack.sdk,
        &format!("webhooks-{}", stack.table),
        VISIBILITY,
        10,
    )
    .await?;

    // GIVEN the receiver behind the HTTP API, its calls to AWS through the fault proxy
    let api = Arc::new(RuntimeApi::start().await?);
    let front = HttpApi::start(api.clone(), "webhook-receiver").await?;
    let target = format!("{}/webhooks", front.url());

    // AND four webhooks of ours and one of someone else's at the same target, in Webex
    let (client, token) = webex_as_admin(&stack)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ours_secret = SigningSecret::new(CURRENT);
    let mut ours = Vec::new();
    for resource in RESOURCES {
        let spec = WebhookSpec {
            name: "webex-events-to-s3 test",
            target_url: &target,
            resource,
            event: "created",
            filter: None,
            secret: &ours_secret,
        };
        ours.push(client.create_webhook(&token, &spec, deadline).await?.id);
    }
    let foreign_secret = SigningSecret::new(FOREIGN);
    let foreign = WebhookSpec {
        name: "another integration",
        target_url: &target,
        resource: "messages",
        event: "created",
        filter: None,
        secret: &foreign_secret,
    };
    let foreign_id = client.create_webhook(&token, &foreign, deadline).await?.id;
    let org = sim_org_id(&stack.sim);
    aws::create_secret(
        &stack.sdk,
        &secret_id,
        &json!({"current": CURRENT, "pending": null, "webhooks": ours, "org_ids": [org]}),
    )
    .await?;
    let proxied = |mut env: BTreeMap<String, String>| {
        env.insert("AWS_ENDPOINT_URL".into(), proxy.url());
        env
    };
    let receiver = FunctionProcess::start(
        &api,
        "webhook-receiver",
        &built_binary("webhook-receiver")?,
        proxied(BTreeMap::from([
            ("WEBHOOK_SECRET_ID".to_string(), secret_id.clone()),
            ("WEBHOOK_QUEUE_URL".to_string(), queue_url.clone()),
        ])),
    )?;

    // AND a fault on every fourth call to S3, DynamoDB and SQS
    let calls = AtomicU64::new(0);
    proxy.set_rule(move |call| {
        if call.service() == Service::SecretsManager {
            return None;
        }
        every_fourth(calls.fetch_add(1, Ordering::SeqCst))
    });

    // WHEN Webex delivers 48 events to each webhook they fire, each of the first twelve twice
    // (the same raw bytes: a duplicate), retrying what is not answered 2xx
    let mut expected = BTreeMap::new();
    let mut refused = 0;
    for n in 0..48 {
        let resource = RESOURCES[n % RESOURCES.len()];
        let data =
            json!({"id": format!("Y2lz-{resource}-{n}"), "note": format!("caf\u{e9} \"{n}\"")});
        let times = if n < 12 { 2 } else { 1 };
        for _ in 0..times {
            for posted in stack
                .sim
                .deliver(resource, "created", "Y2lz-actor", &data, 8)
                .await
            {
                if posted.webhook_id == foreign_id {
                    ensure!(
                        posted.attempts.iter().all(|a| *a == Some(401)),
                        "another webhook's delivery: {:?}",
                        posted.attempts
                    );
                    refused += 1;
                    continue;
                }
                ensure!(posted.delivered(), "not delivered: {:?}", posted.attempts);
                expected.insert(body_digest(&posted.body), posted.body);
            }
        }
    }
    // (Each refusal counts toward disabling the other webhook, as at Webex: it is disabled
    // after 100 in 5 minutes, and then fires no more.)
    ensure!(
        expected.len() == 48 && refused > 0,
        "{} {refused}",
        expected.len()
    );

    // AND forgeries over HTTP: unsigned, signed with a guessed secret, not JSON, a GET
    let http = reqwest::Client::new();
    let valid = expected.values().next().context("a delivery")?.clone();
    let forgeries = [
        ("POST", valid.clone(), None, 401),
        (
            "POST",
            valid.clone(),
            Some(webex_sim::sign_delivery("guessed", &valid)),
            401,
        ),
        (
            "POST",
            b"not json".to_vec(),
            Some(webex_sim::sign_delivery(CURRENT, b"not json")),
            400,
        ),
        (
            "GET",
            valid.clone(),
            Some(webex_sim::sign_delivery(CURRENT, &valid)),
            405,
        ),
    ];
    for (method, body, signature, status) in forgeries {
        let mut request = http
            .request(method.parse()?, &target)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-spark-signature", signature);
        }
        let answer = request.send().await?;
        ensure!(
            answer.status().as_u16() == status,
            "{method}: {}",
            answer.status()
        );
        ensure!(
            answer.bytes().await?.is_empty(),
            "{method}: a body in the refusal"
        );
    }

    // AND the writer drains the queue in batches of ten, SIGKILLed while it holds the second,
    // fifth and ninth batch (or just after it answered)
    let writer_binary = built_binary("webhook-writer")?;
    let writer_api = RuntimeApi::start().await?;
    let mut writer_env = proxied(stack.env.clone().into_iter().collect());
    writer_env.insert("CLAIM_LEASE_SECONDS".into(), LEASE_SECONDS.to_string());
    let start_writer = || {
        FunctionProcess::start(
            &writer_api,
            "webhook-writer",
            &writer_binary,
            writer_env.clone(),
        )
    };
    let writer = Mutex::new(Some(start_writer()?));
    let logged = Mutex::new(String::new());
    let invocations = AtomicUsize::new(0);
    let killed = AtomicUsize::new(0);
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let invoke = |event: serde_json::Value| {
        let (writer, logged, invocations, killed, writer_api, start_writer) = (
            &writer,
            &logged,
            &invocations,
            &killed,
            &writer_api,
            &start_writer,
        );
        async move {
            let n = invocations.fetch_add(1, Ordering::SeqCst);
            let id = writer_api.invoke("webhook-writer", event, Duration::from_secs(60));
            if [1, 4, 8].contains(&n) {
                tokio::time::sleep(Duration::from_millis(15 * n as u64)).await;
                let mut slot = writer.lock().await;
                if let Some(process) = slot.take() {
                    let (out, err) = process.stop().await.map_err(|e| e.to_string())?;
                    let mut logged = logged.lock().await;
                    logged.push_str(&out);
                    logged.push_str(&err);
                }
                *slot = Some(start_writer().map_err(|e| e.to_string())?);
                killed.fetch_add(1, Ordering::SeqCst);
                return Err("killed".to_string());
            }
            match writer_api.outcome(&id, Duration::from_secs(60)).await {
                Ok(Outcome::Response(answer)) => Ok(answer),
                Ok(Outcome::Error(error)) => Err(error.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let drained =
        event_source::drain(&sqs, &queue_url, 10, 1, Duration::from_secs(240), invoke).await?;
    ensure!(killed.load(Ordering::SeqCst) == 3, "{drained:?}");
    println!(
        "{drained:?}; {} AWS faults injected",
        proxy.injected().len()
    );

    // THEN each delivery of ours is in the bucket once, byte for byte, and nothing else
    let stored = stored_bodies(&stack, &org).await?;
    let wanted: BTreeMap<String, Vec<Vec<u8>>> = expected
        .into_iter()
        .map(|(digest, body)| (digest, vec![body]))
        .collect();
    ensure!(
        stored == wanted,
        "{} bodies stored, {} expected; twice: {}",
        stored.len(),
        wanted.len(),
        stored.values().filter(|v| v.len() > 1).count()
    );
    ensure!(
        event_source::in_queue(&sqs, &dead_letters).await? == 0,
        "a delivery in the dead-letter queue"
    );

    // AND no signing secret in anything either function wrote
    let mut logged = logged.into_inner();
    let (out, err) = receiver.stop().await?;
    logged.push_str(&out);
    logged.push_str(&err);
    if let Some(writer) = writer.lock().await.take() {
        let (out, err) = writer.stop().await?;
        logged.push_str(&out);
        logged.push_str(&err);
    }
    ensure!(
        logged.contains("delivery queued"),
        "the receiver's log is empty"
    );
    for secret in [CURRENT, FOREIGN] {
        ensure!(!logged.contains(secret), "a signing secret in a log line");
    }
    Ok(())
}
