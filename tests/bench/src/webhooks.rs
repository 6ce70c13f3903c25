//! The webhook receiver under load: release `webhook-receiver` processes run as Lambda runs
//! them (the tests' runtime API stub behind an API Gateway stand-in on 127.0.0.1), each
//! delivery signed, checked and queued on moto's SQS, from `clients` concurrent senders. What a
//! sender sees is what Webex sees: the answer's status and how long it took.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use integration_tests::http_api::HttpApi;
use integration_tests::lambda_api::{FunctionProcess, RuntimeApi};
use serde_json::json;

use crate::procs;
use crate::store::LocalAws;

const SECRET: &str = "bench-webhook-signing-secret-0123456789abcdef";
const ORG: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9iZW5jaA";

/// One load run's settings.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub deliveries: usize,
    pub clients: usize,
    /// Receiver processes: Lambda instances serving at once.
    pub instances: usize,
}

#[derive(Clone, Debug)]
pub struct WebhookOutcome {
    pub load: Load,
    pub body_bytes: usize,
    pub wall_s: f64,
    /// Answered 200 (queued).
    pub accepted: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// User + system CPU of the receiver processes.
    pub receiver_cpu_s: f64,
    pub moto_cpu_s: f64,
    pub problems: Vec<String>,
}

impl WebhookOutcome {
    pub fn per_second(&self) -> f64 {
        self.accepted as f64 / self.wall_s.max(f64::EPSILON)
    }

    /// Receiver CPU milliseconds per delivery.
    pub fn cpu_ms_per_delivery(&self) -> f64 {
        self.receiver_cpu_s * 1000.0 / self.accepted.max(1) as f64
    }
}

/// A delivery as Webex posts it for a message: about a kilobyte of ids.
fn body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"id":"Y2lzY29zcGFyazovL3VzL1dFQkhPT0svYmVuY2g","name":"webex-events-to-s3 messages:all","targetUrl":"https://abcdef1234.execute-api.eu-west-1.amazonaws.com/webhooks","resource":"messages","event":"created","orgId":"{ORG}","createdBy":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hZG1pbg","appId":"Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL2JlbmNo","ownedBy":"org","status":"active","created":"2026-12-01T10:00:00.000Z","actorId":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hY3Rvcg","data":{{"id":"Y2lzY29zcGFyazovL3VzL01FU1NBR0UvbWVzc2FnZS0{n:08}","roomId":"Y2lzY29zcGFyazovL3VzL1JPT00vcm9vbS0xMjM0NTY3ODk","roomType":"group","personId":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hY3Rvcg","personEmail":"someone@example.com","created":"2026-12-01T10:00:{:02}.{:03}Z"}}}}"#,
        n % 60,
        n % 1000
    )
    .into_bytes()
}

pub async fn run(aws: &LocalAws, bin_dir: &Path, load: Load) -> Result<WebhookOutcome> {
    let id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let secret_id = format!("bench-webhooks-{id}");
    integration_tests::aws::create_secret(
        aws.sdk(),
        &secret_id,
        &json!({"current": SECRET, "webhooks": ["Y2lzY29zcGFyazovL3VzL1dFQkhPT0svYmVuY2g"], "org_ids": [ORG]}),
    )
    .await?;
    let (queue_url, _) = integration_tests::aws::create_queue(
        aws.sdk(),
        &format!("bench-webhooks-{id}"),
        Duration::from_secs(360),
        10,
    )
    .await?;
    let api = Arc::new(RuntimeApi::start().await?);
    let front = HttpApi::start(api.clone(), "webhook-receiver").await?;
    let binary = bin_dir.join("webhook-receiver");
    let env = [
        ("WEBHOOK_SECRET_ID", secret_id.as_str()),
        ("WEBHOOK_QUEUE_URL", queue_url.as_str()),
        ("RUST_LOG", "warn"),
    ];
    let receivers = (0..load.instances)
        .map(|_| FunctionProcess::start(&api, "webhook-receiver", &binary, env))
        .collect::<Result<Vec<_>>>()?;
    // Every instance ready (its secret read) before the clock starts.
    let warm: Vec<Vec<u8>> = (0..load.instances * 2)
        .map(|n| body(1_000_000 + n))
        .collect();
    let url = format!("{}/webhooks", front.url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load.clients)
        .build()?;
    for b in &warm {
        post(&http, &url, b.clone()).await?;
    }
    let cpu_before: f64 = receivers
        .iter()
        .filter_map(|r| r.pid())
        .filter_map(|pid| procs::cpu_seconds(pid).ok())
        .sum();
    let moto = procs::find_moto(&aws.endpoint);
    let moto_before = moto
        .and_then(|pid| procs::cpu_seconds(pid).ok())
        .unwrap_or(0.0);

    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..load.deliveries).map(body).collect());
    let started = Instant::now();
    let mut senders = Vec::new();
    for client in 0..load.clients {
        let (http, url, bodies) = (http.clone(), url.clone(), bodies.clone());
        senders.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in (client..bodies.len()).step_by(load.clients) {
                let sent = Instant::now();
                let status = post(&http, &url, bodies[n].clone()).await.unwrap_or(0);
                answers.push((status, sent.elapsed()));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for sender in senders {
        answers.extend(sender.await.context("a sender failed")?);
    }
    let wall_s = started.elapsed().as_secs_f64();
    let receiver_cpu_s = receivers
        .iter()
        .filter_map(|r| r.pid())
        .filter_map(|pid| procs::cpu_seconds(pid).ok())
        .sum::<f64>()
        - cpu_before;
    let moto_cpu_s = moto
        .and_then(|pid| procs::cpu_seconds(pid).ok())
        .unwrap_or(0.0)
        - moto_before;
    for receiver in receivers {
        receiver.stop().await?;
    }

    let accepted = answers.iter().filter(|(s, _)| *s == 200).count();
    let mut latencies: Vec<Duration> = answers.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let queued =
        integration_tests::event_source::in_queue(&aws_sdk_sqs::Client::new(aws.sdk()), &queue_url)
            .await?;
    let mut problems = Vec::new();
    if accepted != load.deliveries {
        problems.push(format!("{} of {} answered 200", accepted, load.deliveries));
    }
    // The warm-up deliveries are queued too.
    let expected = (load.deliveries + warm.len()) as u64;
    if queued != expected {
        problems.push(format!("{queued} queued, {expected} sent"));
    }
    ensure!(!latencies.is_empty(), "no delivery was sent");
    Ok(WebhookOutcome {
        load,
        body_bytes: bodies[0].len(),
        wall_s,
        accepted,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        receiver_cpu_s,
        moto_cpu_s,
        problems,
    })
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<u16> {
    let signature = webex_sim::sign_delivery(SECRET, &body);
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-spark-signature", signature)
        .body(body)
        .send()
        .await?;
    Ok(answer.status().as_u16())
}
