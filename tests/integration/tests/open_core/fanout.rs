//! Fan-out on SQS, as Lambda runs it: the scheduled invocation of each audit function discovers
//! a partner's 200 customer organisations and sends one message per organisation to its queue;
//! the same function binaries, several processes each, collect one organisation per queued
//! invocation, all taking turns from the admin identity's one request pace. One organisation
//! answering 403 is in error in `webexctl status`, every other is collected exactly once, and
//! the simulator's per-client limit never answers 429 because of our pace.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use collector_core::{StreamId, Timestamp};
use integration_tests::cli::{self, webexctl};
use integration_tests::event_source::{self, Drained};
use integration_tests::lambda_api::{FunctionProcess, Outcome, RuntimeApi, built_binary};
use integration_tests::stack::{Stack, StackOptions, sim_org_id, sim_stream};
use webex_sim::{ClockMode, GenerateSpec, SimConfig};

const CUSTOMERS: u32 = 200;
/// Function processes per stream: concurrent invocations from the queue.
const PROCESSES: usize = 3;
const MINUTE: i64 = 60_000;
/// The simulator's per-client limit, and our budget below it. Unshared, the six processes
/// would each send at the budget and overrun the limit many times over.
const LIMIT_PER_MINUTE: u32 = 400;
const BUDGET_PER_MINUTE: u32 = 360;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_discovered_organisations_are_collected_through_the_queue_within_one_budget()
-> Result<()> {
    // GIVEN a partner administrator managing 200 customer organisations, each with admin and
    // security audit events, one of which refuses the partner its admin audit (403)
    let mut options = StackOptions {
        sim: SimConfig {
            clock: ClockMode::Manual {
                start_ms: Timestamp::now().millis(),
            },
            rate_limit_per_minute: Some(LIMIT_PER_MINUTE),
            ..SimConfig::default()
        },
        ..StackOptions::default()
    };
    options.env.retain(|(k, _)| *k != "MAX_WINDOW_SECONDS");
    options.env.extend([
        ("ORG_IDS", "discover".to_string()),
        // One window per organisation: the queue and the pace are what this test is about.
        ("MAX_WINDOW_SECONDS", "86400".into()),
        ("INITIAL_LOOKBACK_DAYS", "1".into()),
        ("MAX_REQUESTS_PER_MINUTE", BUDGET_PER_MINUTE.to_string()),
    ]);
    let stack = Stack::start(options).await?;
    // (its token may list organisations)
    let customers = stack.partner_of(CUSTOMERS).await?;
    let refused = customers[41].id.clone();
    stack
        .sim
        .refuse_org(&refused, &[webex_sim::Stream::AdminAudit]);
    let now = stack.sim.now_ms();
    let mut orgs: Vec<String> = customers.iter().map(|o| o.id.clone()).collect();
    orgs.push(sim_org_id(&stack.sim));
    let streams = [StreamId::AdminAudit, StreamId::SecurityAudit];
    let mut truth: HashMap<(StreamId, String), HashSet<String>> = HashMap::new();
    for stream in streams {
        for org in &orgs {
            let events = stack.sim.generate_for_org(
                org,
                sim_stream(stream),
                GenerateSpec::new(3, now - 90 * MINUTE, now - 10 * MINUTE),
            );
            truth.insert(
                (stream, org.clone()),
                events.into_iter().map(|e| e.id).collect(),
            );
        }
    }
    // AND each audit function deployed with its fan-out queue, three processes each
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let mut deployed = Vec::new();
    for stream in streams {
        let (queue, dead_letters) = integration_tests::aws::create_fanout_queue(
            &stack.sdk,
            &format!("{}-{}", stream.name(), stack.table),
            Duration::from_secs(5),
        )
        .await?;
        let api = RuntimeApi::start().await?;
        let mut env = stack.stream_env(stream);
        env.insert("FANOUT_QUEUE_URL".into(), queue.clone());
        let processes = (0..PROCESSES)
            .map(|_| {
                FunctionProcess::start(
                    &api,
                    stream.name(),
                    &built_binary(stream.name())?,
                    env.clone(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        deployed.push((stream, api, processes, queue, dead_letters));
    }
    let started = Instant::now();
    let time_left = Duration::from_secs(300);
    // WHEN the schedule invokes each function
    for (stream, api, _, _, _) in &deployed {
        let id = api.invoke(stream.name(), scheduled_event(), time_left);
        match api.outcome(&id, time_left).await? {
            Outcome::Response(answer) => {
                ensure!(answer["enqueued"] == orgs.len(), "{stream}: {answer}")
            }
            Outcome::Error(error) => anyhow::bail!("{stream}: the scheduled run failed: {error}"),
        }
    }
    // AND Lambda's event source mapping hands every queued unit to the functions, both
    // streams at once
    let drains = deployed.iter().map(|(stream, api, _, queue, _)| {
        let sqs = &sqs;
        async move {
            event_source::drain(
                sqs,
                queue,
                1,
                PROCESSES,
                Duration::from_secs(600),
                |event| async move {
                    let id = api.invoke(stream.name(), event, time_left);
                    match api.outcome(&id, time_left + Duration::from_secs(30)).await {
                        Ok(Outcome::Response(answer)) => Ok(answer),
                        Ok(Outcome::Error(error)) => Err(error.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                },
            )
            .await
        }
    });
    let drained: Vec<Drained> = futures_util::future::try_join_all(drains).await?;
    let elapsed = started.elapsed();
    let mut logs = String::new();
    for (_, _, processes, _, _) in deployed.iter_mut() {
        for process in processes.drain(..) {
            let (stdout, stderr) = process.stop().await?;
            logs.push_str(&stdout);
            logs.push_str(&stderr);
        }
    }
    // THEN every unit was handed out once and none came back: the 403 is the organisation's
    // own error, recorded, not a message to retry
    for (drained, (stream, ..)) in drained.iter().zip(&deployed) {
        assert_eq!(
            drained,
            &Drained {
                invocations: orgs.len(),
                deleted: orgs.len(),
                returned: 0
            },
            "{stream}"
        );
    }
    for (stream, _, _, _, dead_letters) in &deployed {
        assert_eq!(
            event_source::in_queue(&sqs, dead_letters).await?,
            0,
            "{stream}: nothing in the dead-letter queue"
        );
    }
    // AND every event of every organisation is in S3 once, under its organisation, except the
    // refused organisation's admin audit
    for stream in streams {
        let mut seen: HashMap<String, HashSet<String>> = HashMap::new();
        for object in stack.objects(stream).await? {
            let org = object
                .key
                .split("/org=")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .context("an org in the key")?
                .to_string();
            for line in object.lines() {
                let value: serde_json::Value = serde_json::from_slice(&line)?;
                let id = value["id"].as_str().context("an id")?.to_string();
                ensure!(
                    seen.entry(org.clone()).or_default().insert(id.clone()),
                    "{stream} {org}: {id} written twice"
                );
            }
        }
        for org in &orgs {
            let expected = if stream == StreamId::AdminAudit && *org == refused {
                HashSet::new()
            } else {
                truth[&(stream, org.clone())].clone()
            };
            assert_eq!(
                seen.remove(org).unwrap_or_default(),
                expected,
                "{stream} {org}"
            );
        }
        ensure!(
            seen.is_empty(),
            "{stream}: objects of organisations not asked for: {seen:?}"
        );
    }
    // AND `webexctl status` shows the refused organisation in error, every other collecting
    let env = cli::env(&stack);
    let status = webexctl(&env, &["status", "--stream", "admin-audit", "--json"], "").await?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout)?;
    assert_eq!(rows.len(), orgs.len(), "{}", status.stdout);
    for row in &rows {
        let expected = if row["org_id"] == refused.as_str() {
            "error"
        } else {
            "collecting"
        };
        assert_eq!(row["status"], expected, "{row}");
    }
    // AND the six processes kept to one budget between them: no 429 from the limit, and the
    // requests took the time the budget gives them
    let requests = stack.sim.request_summary();
    assert_eq!(
        requests.rate_limited, 0,
        "429s from the limit: {:?} over {} requests",
        requests.by_status, requests.requests
    );
    let paced = Duration::from_secs_f64(
        (requests
            .requests
            .saturating_sub(u64::from(BUDGET_PER_MINUTE))) as f64
            * 60.0
            / f64::from(BUDGET_PER_MINUTE),
    );
    assert!(
        requests.requests > u64::from(LIMIT_PER_MINUTE) && elapsed >= paced,
        "{} requests in {elapsed:?}: faster than one budget of {BUDGET_PER_MINUTE} a minute allows",
        requests.requests
    );
    // AND the queued runs' metrics lines are there, one per unit
    let units_lines = logs.lines().filter(|l| l.contains("\"UnitsDone\"")).count();
    assert_eq!(units_lines, 2 * orgs.len(), "one units line per queued run");
    Ok(())
}

fn scheduled_event() -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {}
    })
}
