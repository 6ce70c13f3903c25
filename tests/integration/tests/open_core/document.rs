//! The functions read the collector document (`COLLECTOR_CONFIG`), as Lambda runs them: a
//! document with a mistake stops every collector at cold start with the mistake's key path,
//! before anything is collected; a valid one, pushed with `webexctl config push`, drives the
//! compliance function through three organisations, each read with its own identity, and
//! writes a stream's custom fields on its objects and lines.

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
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_document_collects_three_organisations_with_an_identity_each() -> Result<()> {
    // GIVEN three organisations, each with a compliance officer who authorised its own identity
    // (its own secret), and each with its own compliance events
    let stack = Stack::start(on_the_real_clock()).await?;
    let now = stack.sim.now_ms();
    let mut identities = String::new();
    let mut streams = String::new();
    let mut truth: HashMap<String, (String, Vec<webex_sim::SimEvent>)> = HashMap::new();
    for n in 1..=3u32 {
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
        let name = format!("legal-{n}");
        identities.push_str(&format!(
            "[identities.officer-{n}]\nkind = \"webex_oauth\"\nsecret = \"{secret}\"\n\n"
        ));
        // The first stream writes its custom fields on each line too.
        let on_lines = if n == 1 {
            "fields_key = \"collector\"\n"
        } else {
            ""
        };
        streams.push_str(&format!(
            "[[streams]]\nname = \"{name}\"\nsource = \"webex_compliance_events\"\n\
             identity = \"officer-{n}\"\norgs = [\"{}\"]\nsettle_lag = \"2m\"\n\
             fields = {{ team = \"legal\", region = \"r{n}\" }}\n{on_lines}\n",
            org.id
        ));
        truth.insert(name, (org.id.clone(), events));
    }
    let document = format!("{identities}{streams}");
    let file = std::env::temp_dir().join(format!("good-{}.toml", stack.table));
    std::fs::write(&file, &document)?;
    // AND the document pushed where the functions read it
    let mut env = cli::env(&stack);
    env.insert("COLLECTOR_CONFIG".into(), location(&stack));
    let pushed = webexctl(
        &env,
        &["config", "push", file.to_str().context("path")?],
        "",
    )
    .await?;
    assert!(pushed.ok, "{}", pushed.all());
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
    let id = api.invoke(
        "compliance-events",
        scheduled_event(),
        Duration::from_secs(120),
    );
    let outcome = api.outcome(&id, Duration::from_secs(150)).await;
    let (stdout, stderr) = function.stop().await?;
    let answer = match outcome.with_context(|| format!("{stdout}{stderr}"))? {
        Outcome::Response(answer) => answer,
        Outcome::Error(error) => anyhow::bail!("the run failed: {error}\n{stdout}{stderr}"),
    };
    // THEN each organisation's events are in S3 once, under its own stream, read with its own
    // identity, each object carrying the stream's fields
    assert_eq!(answer["done"].as_array().map(Vec::len), Some(3), "{answer}");
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
                Some(&*format!("r{}", &name[6..]))
            );
            for line in object.lines() {
                let value: serde_json::Value = serde_json::from_slice(&line)?;
                let id = value["id"].as_str().context("an id")?.to_string();
                let event = by_id
                    .get(id.as_str())
                    .with_context(|| format!("{name}: {id} is not one of {org}'s events"))?;
                // The event's own bytes, after the fields when the stream puts them on lines.
                let own = if name == "legal-1" {
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
    // AND each identity's secret was used by its own stream: three organisations' tokens, three
    // token locks, nothing of one identity under another
    let status = webexctl(&cli::env(&stack), &["status", "--json"], "").await?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout)?;
    let names: HashSet<&str> = rows.iter().filter_map(|r| r["stream"].as_str()).collect();
    assert_eq!(
        names,
        HashSet::from(["legal-1", "legal-2", "legal-3"]),
        "{}",
        status.stdout
    );
    Ok(())
}

fn scheduled_event() -> serde_json::Value {
    serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}
