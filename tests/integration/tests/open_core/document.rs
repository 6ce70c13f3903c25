//! The functions read the collector document (`COLLECTOR_CONFIG`), as Lambda runs them: a
//! document with a mistake stops every collector at cold start with the mistake's key path,
//! before anything is collected; a valid one, pushed with `webexctl config push`, drives the
//! compliance function through three organisations, each read with its own identity, writes a
//! stream's custom fields on its objects and lines, runs each stream on its own interval, and
//! is followed by the running function when a changed document is pushed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use collector_core::{StreamId, Timestamp};
use integration_tests::aws;
use integration_tests::cli::{self, webexctl};
use integration_tests::lambda_api::{FunctionProcess, Outcome, RuntimeApi, built_binary};
use integration_tests::stack::{SIM_CLIENT_ID, Stack, StackOptions};
use webex_sim::{ClockMode, GenerateSpec, SimConfig, SimOrg, SimPerson};

const MINUTE: i64 = 60_000;
const CONFIG_KEY: &str = "config/collector.toml";

fn on_the_real_clock() -> StackOptions {
    StackOptions {
        sim: SimConfig {
            clock: ClockMode::Manual {
                start_ms: Timestamp::now().millis(),
            },
            ..SimConfig::default()
        },
        ..StackOptions::default()
    }
}

fn location(stack: &Stack) -> String {
    format!("s3://{}/{CONFIG_KEY}", stack.bucket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_document_stops_every_collector_at_cold_start_and_nothing_is_collected() -> Result<()>
{
    // GIVEN events to collect, and a document with a mistake written where the functions read
    // it (as if pushed by hand: `webexctl config push` refuses it)
    let stack = Stack::start(on_the_real_clock()).await?;
    for stream in StreamId::ALL {
        stack.history(stream, 50);
    }
    let bad = r#"
[identities.admin]
kind = "webex_oauth"
secret = "webex/admin"

[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "admin"
orgs = ["not an org id"]
"#;
    let file = std::env::temp_dir().join(format!("bad-{}.toml", stack.table));
    std::fs::write(&file, bad)?;
    let mut env = cli::env(&stack);
    env.insert("COLLECTOR_CONFIG".into(), location(&stack));
    let refused = webexctl(
        &env,
        &["config", "push", file.to_str().context("path")?],
        "",
    )
    .await?;
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(
        refused.all().contains("nothing was written"),
        "{}",
        refused.all()
    );
    aws::s3(&stack.sdk)
        .put_object()
        .bucket(&stack.bucket)
        .key(CONFIG_KEY)
        .body(bad.as_bytes().to_vec().into())
        .send()
        .await?;
    // WHEN each collector starts as Lambda starts it
    for stream in StreamId::ALL {
        let api = RuntimeApi::start().await?;
        let mut env = stack.stream_env(stream);
        env.insert("COLLECTOR_CONFIG".into(), location(&stack));
        let mut function =
            FunctionProcess::start(&api, stream.name(), &built_binary(stream.name())?, env)?;
        let id = api.invoke(stream.name(), scheduled_event(), Duration::from_secs(60));
        // THEN it exits before taking the invocation, saying which key is wrong
        let status = function.exited(Duration::from_secs(30)).await?;
        let (stdout, stderr) = function.stop().await?;
        ensure!(
            status.is_some_and(|s| !s.success()),
            "{stream} still runs: {stdout}{stderr}"
        );
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains("streams[0].orgs[0]") && said.contains("COLLECTOR_CONFIG"),
            "{stream}: {said}"
        );
        ensure!(
            api.outcome(&id, Duration::from_millis(200)).await.is_err(),
            "{stream} answered the invocation"
        );
    }
    // AND nothing was collected: no object, no cursor
    for stream in StreamId::ALL {
        assert!(stack.objects(stream).await?.is_empty(), "{stream}");
        assert!(stack.cursor(stream).await?.is_none(), "{stream}");
    }
    // WHEN the document is taken away, and a collector starts again
    aws::s3(&stack.sdk)
        .delete_object()
        .bucket(&stack.bucket)
        .key(CONFIG_KEY)
        .send()
        .await?;
    let api = RuntimeApi::start().await?;
    let mut env = stack.stream_env(StreamId::AdminAudit);
    env.insert("COLLECTOR_CONFIG".into(), location(&stack));
    let function = FunctionProcess::start(&api, "admin-audit", &built_binary("admin-audit")?, env)?;
    let id = api.invoke("admin-audit", scheduled_event(), Duration::from_secs(60));
    let outcome = api.outcome(&id, Duration::from_secs(90)).await;
    let (stdout, stderr) = function.stop().await?;
    // THEN with no document in its place the environment configures it, as before any push
    match outcome.with_context(|| format!("{stdout}{stderr}"))? {
        Outcome::Response(answer) => {
            assert_eq!(answer["stream"], "admin-audit", "{answer}");
            assert_eq!(answer["events"], 50, "{answer}");
        }
        Outcome::Error(error) => anyhow::bail!("the run failed: {error}\n{stdout}{stderr}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_document_collects_each_organisation_with_its_identity_on_its_interval_and_is_followed_when_changed()
-> Result<()> {
    // GIVEN four organisations, each with a compliance officer who authorised its own identity
    // (its own secret), and each with its own compliance events; a document of the first three
    let stack = Stack::start(on_the_real_clock()).await?;
    let now = stack.sim.now_ms();
    // The tables of each organisation's identity and stream.
    let mut tables = Vec::new();
    let mut truth: HashMap<String, (String, Vec<webex_sim::SimEvent>)> = HashMap::new();
    for n in 1..=4u32 {
        let org = SimOrg::customer(n);
        stack.sim.add_org(org.clone());
        let officer = SimPerson::new(
            &format!("officer{n}@example.com"),
            &format!("Officer {n}"),
            &org.id,
        );
        let token = stack
            .sim
            .issue_refresh_token_as(&officer, &[StreamId::ComplianceEvents.spec().scope]);
        let secret = format!("compliance-{n}-{}", stack.table);
        aws::create_secret(
            &stack.sdk,
            &secret,
            &serde_json::json!({
                "client_id": SIM_CLIENT_ID,
                "client_secret": stack.sim.config().client_secret,
                "redirect_uri": "http://127.0.0.1/oauth/callback",
                "org_id": org.id,
                "scopes": StreamId::ComplianceEvents.spec().scope,
                "refresh_token": token,
            }),
        )
        .await?;
        let events = stack.sim.generate_for_org(
            &org.id,
            webex_sim::Stream::ComplianceEvents,
            GenerateSpec::new(40, now - 120 * MINUTE, now - 10 * MINUTE),
        );
        let name = format!("compliance-events-legal-{n}");
        let identity = format!(
            "[identities.compliance-officer-{n}]\nkind = \"webex_oauth\"\nsecret = \"{secret}\"\n\n"
        );
        // The first stream writes its custom fields on each line too.
        let on_lines = if n == 1 {
            "fields_key = \"collector\"\n"
        } else {
            ""
        };
        let stream = format!(
            "[[streams]]\nname = \"{name}\"\nsource = \"webex_compliance_events\"\n\
             identity = \"compliance-officer-{n}\"\norgs = [\"{}\"]\nsettle_lag = \"2m\"\n\
             fields = {{ team = \"legal\", region = \"r{n}\" }}\n{on_lines}\n",
            org.id
        );
        tables.push((identity, stream));
        truth.insert(name, (org.id.clone(), events));
    }
    let mut env = cli::env(&stack);
    env.insert("COLLECTOR_CONFIG".into(), location(&stack));
    let push = |count: usize| {
        let (identities, streams): (String, String) = tables[..count].iter().cloned().unzip();
        let file = std::env::temp_dir().join(format!("good-{count}-{}.toml", stack.table));
        let env = env.clone();
        async move {
            std::fs::write(&file, format!("{identities}{streams}"))?;
            let pushed = webexctl(
                &env,
                &["config", "push", file.to_str().context("path")?],
                "",
            )
            .await?;
            ensure!(pushed.ok, "{}", pushed.all());
            anyhow::Ok(())
        }
    };
    // AND the document of three pushed where the functions read it
    push(3).await?;
    // WHEN the compliance function runs on its schedule
    let api = RuntimeApi::start().await?;
    let mut function_env = stack.stream_env(StreamId::ComplianceEvents);
    function_env.insert("COLLECTOR_CONFIG".into(), location(&stack));
    let function = FunctionProcess::start(
        &api,
        "compliance-events",
        &built_binary("compliance-events")?,
        function_env,
    )?;
    let mut answers = Vec::new();
    let mut failed = None;
    for step in 0..3 {
        // AND, before the third run, the document of all four pushed to the running function
        if step == 2 {
            push(4).await?;
        }
        let id = api.invoke(
            "compliance-events",
            scheduled_event(),
            Duration::from_secs(120),
        );
        match api.outcome(&id, Duration::from_secs(150)).await {
            Ok(Outcome::Response(answer)) => answers.push(answer),
            Ok(Outcome::Error(error)) => failed = Some(format!("the run failed: {error}")),
            Err(e) => failed = Some(e.to_string()),
        }
        if failed.is_some() {
            break;
        }
    }
    let (stdout, stderr) = function.stop().await?;
    if let Some(failed) = failed {
        anyhow::bail!("{failed}\n{stdout}{stderr}");
    }
    // THEN the first run collects the three organisations; the second, at once after it,
    // none (every stream runs every 10 minutes, the default); the third, the organisation the
    // changed document added, without a new cold start
    let done = |answer: &serde_json::Value| -> Vec<String> {
        // Several units answer with each one's outcome; one unit with its summary.
        let summaries = match answer["done"].as_array() {
            Some(all) => all.clone(),
            None => vec![answer.clone()],
        };
        let mut done: Vec<String> = summaries
            .iter()
            .filter_map(|summary| summary["stream"].as_str().map(str::to_string))
            .collect();
        done.sort();
        done
    };
    assert_eq!(
        done(&answers[0]),
        [1, 2, 3].map(|n| format!("compliance-events-legal-{n}")),
        "{}",
        answers[0]
    );
    assert_eq!(answers[1]["units"], 0, "{}", answers[1]);
    assert_eq!(
        done(&answers[2]),
        ["compliance-events-legal-4"],
        "{}",
        answers[2]
    );
    // AND each organisation's events are in S3 once, under its own stream, read with its own
    // identity, each object carrying the stream's fields
    for (name, (org, events)) in &truth {
        let objects = stack.objects_of(name).await?;
        ensure!(!objects.is_empty(), "{name}: no objects");
        let mut seen = HashSet::new();
        let by_id: HashMap<&str, &webex_sim::SimEvent> =
            events.iter().map(|e| (e.id.as_str(), e)).collect();
        for object in &objects {
            assert!(
                object.key.contains(&format!("/org={org}/")),
                "{name}: {}",
                object.key
            );
            assert_eq!(
                object.metadata.get("field-team").map(String::as_str),
                Some("legal")
            );
            assert_eq!(
                object.metadata.get("field-region").map(String::as_str),
                name.rsplit('-').next().map(|n| format!("r{n}")).as_deref()
            );
            for line in object.lines() {
                let value: serde_json::Value = serde_json::from_slice(&line)?;
                let id = value["id"].as_str().context("an id")?.to_string();
                let event = by_id
                    .get(id.as_str())
                    .with_context(|| format!("{name}: {id} is not one of {org}'s events"))?;
                // The event's own bytes, after the fields when the stream puts them on lines.
                let own = if name == "compliance-events-legal-1" {
                    let prefix = br#"{"collector":{"region":"r1","team":"legal"},"#;
                    ensure!(
                        line.starts_with(prefix),
                        "{}",
                        String::from_utf8_lossy(&line)
                    );
                    [b"{".as_slice(), &line[prefix.len()..]].concat()
                } else {
                    line.clone()
                };
                assert_eq!(own, event.json.as_bytes(), "{name}: {id} changed");
                ensure!(seen.insert(id.clone()), "{name}: {id} written twice");
            }
        }
        assert_eq!(seen.len(), events.len(), "{name}");
    }
    // AND each identity's secret was used by its own stream: four organisations' tokens, four
    // token locks, nothing of one identity under another
    let status = webexctl(&cli::env(&stack), &["status", "--json"], "").await?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout)?;
    let names: HashSet<String> = rows
        .iter()
        .filter_map(|r| r["stream"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        names,
        (1..=4)
            .map(|n| format!("compliance-events-legal-{n}"))
            .collect::<HashSet<_>>(),
        "{}",
        status.stdout
    );
    Ok(())
}

fn scheduled_event() -> serde_json::Value {
    serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}
