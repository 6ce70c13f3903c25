//! Webhook deliveries through the receiver and the writer on the local stack (Secrets Manager,
//! SQS, DynamoDB and S3 in moto, over the real SDK): every delivery of ours lands once, its body
//! byte for byte, whatever Webex repeats or SQS redelivers, across a secret rotation; every
//! forged request is refused, and none of it reaches the bucket or a log line.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use aws_adapters::{SecretsManagerStore, SqsQueue};
use collector_app::callback::HttpResponse;
use collector_app::webhooks::{Receive, WebhookRequest, Write, WriterConfig};
use collector_core::webhook::body_digest;
use integration_tests::clock::ManualClock;
use integration_tests::fault_proxy::{Fault, Service, every_fourth};
use integration_tests::webhooks::{request, signed};
use integration_tests::{Stack, StackOptions, aws, logs};
use serde_json::json;

const CURRENT: &str = "webhook-secret-current-4f1d";
const NEXT: &str = "webhook-secret-next-93ab";
const ORG: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmctMQ";

fn body(webhook: &str, org: &str, resource: &str, n: usize) -> Vec<u8> {
    format!(
        r#"{{"id":"{webhook}","name":"webex-events-to-s3 {resource}","targetUrl":"https://example.invalid/webhooks","resource":"{resource}","event":"created","orgId":"{org}","createdBy":"Y2lz-person","appId":"Y2lz-app","ownedBy":"org","status":"active","actorId":"Y2lz-actor","data":{{"id":"Y2lz-{resource}-{n}","note":"caf\u00e9 \"{n}\""}}}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_land_once_byte_for_byte_and_forgeries_nowhere() -> Result<()> {
    deliveries(false).await
}

/// The same with a fault on every fourth call the receiver and the writer make to S3,
/// DynamoDB, SQS and Secrets Manager (a 500 or 503, a throttle, a reset connection, or an
/// answer lost after the call took effect): Webex retries what was not answered 200, SQS
/// redelivers what the writer did not acknowledge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_land_once_under_aws_faults() -> Result<()> {
    deliveries(true).await
}

async fn deliveries(faults: bool) -> Result<()> {
    let stack = Stack::start(StackOptions {
        fault_proxy: faults,
        ..StackOptions::default()
    })
    .await?;
    let secret_id = format!("webhooks-{}", stack.table);
    let write_secret = |current: &str, pending: Option<&str>| json!({"current": current, "pending": pending, "webhooks": ["hook-1", "hook-2"], "org_ids": [ORG]});
    aws::create_secret(&stack.sdk, &secret_id, &write_secret(CURRENT, None)).await?;
    let (queue_url, _) = aws::create_fanout_queue(
        &stack.sdk,
        &format!("webhooks-{}", stack.table),
        Duration::from_secs(1),
    )
    .await?;
    // The test's own calls go straight to the emulator; the code under test's through the
    // proxy when there is one.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let sdk = &stack.collector_sdk;
    let clock = Arc::new(ManualClock::now());
    let receive = Receive::new(
        SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(sdk), &secret_id),
        SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &queue_url),
        clock.clone(),
    )
    .await?;
    if let Some(proxy) = &stack.proxy {
        let calls = AtomicU64::new(0);
        let secret_reads = AtomicU64::new(0);
        proxy.set_rule(move |call| {
            // The secret is read rarely (a rotation): its first two reads fail.
            if call.service() == Service::SecretsManager {
                return (secret_reads.fetch_add(1, Ordering::SeqCst) < 2)
                    .then_some(Fault::Refuse(500));
            }
            every_fourth(calls.fetch_add(1, Ordering::SeqCst))
        });
    }
    let webex = Webex {
        receive: &receive,
        clock: &clock,
        retries: faults,
    };

    // GIVEN deliveries of our two webhooks, each posted twice (Webex retried it), some
    // base64-encoded by API Gateway
    let mut ours = Vec::new();
    for n in 0..30 {
        let (webhook, resource) = [("hook-1", "messages"), ("hook-2", "meetings")][n % 2];
        ours.push(body(webhook, ORG, resource, n));
    }
    let mut statuses = BTreeMap::new();
    for (n, delivery) in ours.iter().enumerate() {
        for _ in 0..2 {
            let answer = webex.post(delivery, CURRENT, n % 5 == 0).await;
            *statuses.entry(answer.status_code).or_insert(0) += 1;
            ensure!(
                answer.body.is_empty(),
                "a body in the answer: {}",
                answer.body
            );
        }
    }
    ensure!(statuses == BTreeMap::from([(200, 60)]), "{statuses:?}");

    // AND the forged-delivery corpus
    let valid = &ours[0];
    let reserialised = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(valid)?)?;
    let unknown = body("hook-9", ORG, "rooms", 900);
    let other_org = body("hook-1", "Y2lz-another-org", "rooms", 901);
    let oversized = {
        let mut b = body("hook-1", ORG, "rooms", 902);
        b.truncate(b.len() - 1);
        b.extend_from_slice(format!(r#","pad":"{}"}}"#, "x".repeat(70_000)).as_bytes());
        b
    };
    let not_json = b"resource=messages&orgId=x".to_vec();
    let forged: Vec<(&str, WebhookRequest, u16)> = vec![
        ("no signature", request("POST", valid, None, false), 401),
        (
            "wrong secret",
            request("POST", valid, signed(valid, "guessed"), false),
            401,
        ),
        (
            "re-serialised body",
            request("POST", valid, signed(&reserialised, CURRENT), false),
            401,
        ),
        (
            "another webhook's secret",
            request(
                "POST",
                valid,
                signed(valid, "someone-elses-webhook-secret"),
                false,
            ),
            401,
        ),
        (
            "unknown webhook",
            request("POST", &unknown, signed(&unknown, CURRENT), false),
            400,
        ),
        (
            "another org",
            request("POST", &other_org, signed(&other_org, CURRENT), false),
            400,
        ),
        (
            "oversized",
            request("POST", &oversized, signed(&oversized, CURRENT), false),
            400,
        ),
        (
            "oversized base64",
            request("POST", &oversized, signed(&oversized, CURRENT), true),
            400,
        ),
        (
            "not JSON",
            request("POST", &not_json, signed(&not_json, CURRENT), false),
            400,
        ),
        (
            "wrong method",
            request("GET", valid, signed(valid, CURRENT), false),
            405,
        ),
    ];
    for (case, forgery, expected) in forged {
        let answer = receive.handle(forgery).await;
        ensure!(
            answer.status_code == expected,
            "{case}: {}",
            answer.status_code
        );
        ensure!(answer.body.is_empty(), "{case}: {}", answer.body);
    }
    // AND a replay of a valid delivery, much later
    let replay = webex.post(valid, CURRENT, false).await;
    ensure!(
        replay.status_code == 200,
        "a replay is queued; the writer drops it"
    );

    // AND a rotation: the registrar adds the next secret, Webex signs with it
    aws::put_secret(&stack.sdk, &secret_id, &write_secret(CURRENT, Some(NEXT))).await?;
    clock.advance(Duration::from_secs(11));
    let rotated = body("hook-2", ORG, "rooms", 500);
    let answer = webex.post(&rotated, NEXT, false).await;
    ensure!(
        answer.status_code == 200,
        "signed with the pending secret: {}",
        answer.status_code
    );
    let still = body("hook-1", ORG, "rooms", 501);
    let answer = webex.post(&still, CURRENT, false).await;
    ensure!(
        answer.status_code == 200,
        "signed with the current secret: {}",
        answer.status_code
    );
    ours.push(rotated);
    ours.push(still);

    // WHEN the writer drains the queue, the first batch twice (its acknowledgement was lost);
    // what it reports failed comes back after the visibility timeout, by when (on the
    // writer's clock) a dead writer's claims have lapsed
    let config = WriterConfig::from_lookup(|name| stack.env.get(name).cloned())?;
    let write = Write::new(&config, sdk, clock.clone());
    let mut batches = 0;
    let mut retried = 0;
    let mut empty = 0;
    while empty < 3 {
        ensure!(batches < 200, "the queue does not drain");
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = received.messages();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        let event = json!({"Records": messages.iter().map(|m| json!({
            "eventSource": "aws:sqs",
            "messageId": m.message_id(),
            "body": m.body(),
        })).collect::<Vec<_>>()});
        let repeats = if batches == 0 { 2 } else { 1 };
        let mut failed = Vec::new();
        for _ in 0..repeats {
            let response = write.handle(&event).await;
            failed = response["batchItemFailures"]
                .as_array()
                .context("no batchItemFailures")?
                .iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect();
        }
        ensure!(
            faults || failed.is_empty(),
            "failed without faults: {failed:?}"
        );
        retried += failed.len();
        for m in messages {
            if failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
                continue;
            }
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await?;
        }
        clock.advance(config.claim_lease + Duration::from_secs(1));
        batches += 1;
    }
    if let Some(proxy) = &stack.proxy {
        let injected = proxy.injected();
        let services: std::collections::BTreeSet<&str> = injected
            .iter()
            .map(|(call, _)| call.service().name())
            .collect();
        ensure!(
            services.len() == 4,
            "faults reached only {services:?} of S3, DynamoDB, SQS and Secrets Manager"
        );
        println!(
            "{} AWS faults injected, {retried} messages handed back, {batches} batches",
            injected.len()
        );
    }

    // THEN each delivery of ours is in the bucket once, its body byte for byte
    let stored = stored_bodies(&stack, ORG).await?;
    let expected: BTreeMap<String, Vec<Vec<u8>>> = ours
        .iter()
        .map(|b| (body_digest(b), vec![b.clone()]))
        .collect();
    ensure!(
        stored == expected,
        "{} bodies stored, {} expected; twice: {}",
        stored.len(),
        expected.len(),
        stored.values().filter(|v| v.len() > 1).count()
    );

    // AND no secret in any log line
    let logged = logs::captured();
    for secret in [CURRENT, NEXT] {
        ensure!(!logged.contains(secret), "a signing secret in the logs");
    }
    Ok(())
}

/// Webex posting deliveries: with `retries`, one not answered 200 is posted again (Webex
/// retries), 11 s later on the receiver's clock (it re-reads its secret at most every 10 s).
struct Webex<'a> {
    receive: &'a Receive<ManualClock>,
    clock: &'a ManualClock,
    retries: bool,
}

impl Webex<'_> {
    async fn post(&self, delivery: &[u8], secret: &str, base64: bool) -> HttpResponse {
        let mut tries = 0;
        loop {
            let request = request("POST", delivery, signed(delivery, secret), base64);
            let answer = self.receive.handle(request).await;
            tries += 1;
            if answer.status_code == 200 || !self.retries || tries == 20 {
                return answer;
            }
            self.clock.advance(Duration::from_secs(11));
        }
    }
}

/// Every delivery body in the bucket's webhook objects, by digest, as often as it is there;
/// every object is `org`'s and named as the writer names them.
pub async fn stored_bodies(stack: &Stack, org: &str) -> Result<BTreeMap<String, Vec<Vec<u8>>>> {
    let s3 = aws::s3(&stack.sdk);
    let listed = s3
        .list_objects_v2()
        .bucket(&stack.bucket)
        .prefix("webex/webhooks/")
        .send()
        .await?;
    let mut stored: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for object in listed.contents() {
        let key = object.key().unwrap_or_default();
        ensure!(
            key.starts_with(&format!("webex/webhooks/org={org}/dt="))
                && key.ends_with(".ndjson.gz"),
            "{key}"
        );
        let bytes = s3
            .get_object()
            .bucket(&stack.bucket)
            .key(key)
            .send()
            .await?
            .body
            .collect()
            .await?
            .into_bytes();
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut text)?;
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let body = raw_body(line)?;
            stored.entry(body_digest(&body)).or_default().push(body);
        }
    }
    Ok(stored)
}

/// The simulator's Webex API as its organisation's administrator calls it (an hour's token).
pub fn webex_as_admin(
    stack: &Stack,
) -> Result<(
    webex_client::WebexClient,
    collector_core::secret::AccessToken,
)> {
    let client = webex_client::WebexClient::new(
        &stack.sim.base_url(),
        webex_client::RetryPolicy::default(),
    )?;
    let token = collector_core::secret::AccessToken::new(
        stack
            .sim
            .issue_access_token(&[webex_sim::AUDIT_SCOPE], Duration::from_secs(3600)),
    );
    Ok((client, token))
}

/// The body a line holds, as its bytes.
fn raw_body(line: &[u8]) -> Result<Vec<u8>> {
    let members: BTreeMap<String, Box<serde_json::value::RawValue>> = serde_json::from_slice(line)?;
    let body = members.get("body").context("a line without its body")?;
    Ok(body.get().as_bytes().to_vec())
}
