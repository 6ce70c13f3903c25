//! Sources that do not read Webex, configured in a collector document and collected as the
//! `http-sources` function collects them: Microsoft Graph sign-ins and directory audits,
//! Cisco Secure Endpoint events, and three general APIs (a next URL with an API key, offset
//! paging with Basic, a cursor in a JSON body with client credentials), each with its own
//! identity read from Secrets Manager. Every event lands in S3 once, byte for byte, through
//! shared timestamps, late events, throttling, an expiring token, 5xx and truncated pages; a
//! wrong secret and a licence refusal stop only their own streams, with a configuration error
//! that names the stream, the identity and the fix.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use collector_app::document::Document;
use collector_app::units::{Selection, StreamUnits, UnitsOutcome};
use collector_core::StreamId;
use integration_tests::cli::webexctl;
use integration_tests::sources::{STREAMS, create_secrets, document};
use integration_tests::stack::{SimTime, Stack, StackOptions};
use serde_json::json;
use tokio::time::Instant;
use webex_sim::{
    Api, ApiEvent, ClockMode, DEFAULT_GENERAL_C_CLIENT_ID, Fault, GenerateSpec, SimConfig, Throttle,
};

const MINUTE: i64 = 60_000;

fn options() -> StackOptions {
    let mut options = StackOptions::default();
    options.env.retain(|(k, _)| *k != "INITIAL_LOOKBACK_DAYS");
    options.env.push(("INITIAL_LOOKBACK_DAYS", "1".into()));
    options
}

/// The units of the document's non-Webex streams, as the function builds them at cold start.
fn units(stack: &Stack, document: &Document) -> Result<StreamUnits<SimTime>> {
    Ok(StreamUnits::of_document(
        Selection::OtherSources,
        &stack.config(StreamId::AdminAudit)?,
        document,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?)
}

/// One run through every unit, as a scheduled invocation makes it.
async fn run(units: &StreamUnits<SimTime>) -> Result<UnitsOutcome> {
    let deadline = Instant::now() + Duration::from_secs(240);
    let list = units.units(None, deadline).await?;
    Ok(units.run(list, deadline).await)
}

/// Every line the stream wrote, as text, sorted.
async fn lines_of(stack: &Stack, stream: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for object in stack.objects_of(stream).await? {
        for line in object.lines() {
            lines.push(String::from_utf8(line).context("UTF-8")?);
        }
    }
    lines.sort();
    Ok(lines)
}

fn sorted_json(events: &[ApiEvent]) -> Vec<String> {
    let mut json: Vec<String> = events.iter().map(|e| e.json.clone()).collect();
    json.sort();
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_source_lands_every_event_once_byte_for_byte_through_faults_and_late_events()
-> Result<()> {
    // GIVEN six APIs with events over the last hour, some sharing timestamps and some
    // arriving up to ten minutes late; Graph throttles at five requests per two seconds and
    // answers 429 without Retry-After, and its tokens live five minutes
    let stack = Stack::start(options()).await?;
    let sim = &stack.sim;
    sim.configure_apis(|apis| {
        apis.graph.throttle = Some(Throttle {
            requests: 5,
            per: Duration::from_secs(2),
        });
        apis.graph.retry_after = false;
        apis.graph.token_ttl = Duration::from_secs(300);
    });
    let now = sim.now_ms();
    let spec = |count| GenerateSpec {
        shared_timestamp_fraction: 0.3,
        late_fraction: 0.2,
        max_lateness: Duration::from_secs(600),
        ..GenerateSpec::new(count, now - 60 * MINUTE, now)
    };
    let mut generated: HashMap<&str, Vec<ApiEvent>> = HashMap::new();
    for (name, api) in STREAMS {
        generated.insert(name, sim.generate_api(api, spec(240)));
    }
    let prefix = format!("sources-{}", stack.table);
    create_secrets(&stack.sdk, &prefix).await?;
    let document = Document::parse(&document(&sim.origin(), &prefix))?;
    let units = units(&stack, &document)?;
    // AND faults on every API: 5xx and pages cut off halfway
    for (_, api) in STREAMS {
        sim.push_api_faults(api, [Fault::ServerError(500), Fault::Truncated]);
    }
    // (Secure Endpoint's 429 carries its hourly reset, which this test's clock cannot wait
    // for: the `http-source` tests show that hold.)
    sim.push_api_faults(Api::SecureEndpoint, [Fault::ServerError(503)]);
    // WHEN the function runs every two minutes of the simulator's clock for half an hour
    for round in 0..15 {
        let outcome = run(&units).await?;
        ensure!(
            outcome.failed.is_empty(),
            "round {round}: {:?}",
            outcome.failed
        );
        sim.advance(Duration::from_secs(120));
    }
    // THEN every event of every API is in S3 once, byte for byte as the API served it
    for (name, api) in STREAMS {
        let want = sorted_json(&generated[name]);
        let got = lines_of(&stack, name).await?;
        assert_eq!(got.len(), want.len(), "{name}: events written");
        assert!(
            got == want,
            "{name}: the lines differ from what {api:?} served"
        );
    }
    // AND Secure Endpoint's ids, beyond 2^53, are the digits the API sent
    let ids: Vec<&str> = generated["secure-endpoint-eu"]
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert!(
        ids.iter()
            .all(|id| id.parse::<u64>().is_ok_and(|n| n > 1 << 53))
    );
    let lines = lines_of(&stack, "secure-endpoint-eu").await?.join("\n");
    for id in ids {
        assert!(lines.contains(&format!("\"id\":{id},")), "{id} intact");
    }
    // AND the faults were met: Graph throttled us and its token expired on the way
    let requests = sim.requests();
    let graph_429 = requests
        .iter()
        .filter(|r| r.path.starts_with("/graph/") && r.status == 429)
        .count();
    ensure!(graph_429 > 0, "Graph never throttled the run");

    let tokens = requests
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count();
    ensure!(tokens >= 2, "one Graph token for half an hour: {tokens}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_and_a_licence_refusal_stop_only_their_streams_and_say_what_to_fix()
-> Result<()> {
    // GIVEN a tenant without Entra ID P1/P2 (sign-ins refused, directory audits served), and
    // the cursor API's client secret wrong in its secret
    let stack = Stack::start(options()).await?;
    let sim = &stack.sim;
    sim.configure_apis(|apis| apis.graph.tenants[0].premium = false);
    let now = sim.now_ms();
    for (_, api) in STREAMS {
        sim.generate_api(
            api,
            GenerateSpec::new(50, now - 60 * MINUTE, now - 10 * MINUTE),
        );
    }
    let prefix = format!("sources-{}", stack.table);
    create_secrets(&stack.sdk, &prefix).await?;
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .put_secret_value()
        .secret_id(format!("{prefix}/search"))
        .secret_string(
            json!({"client_id": DEFAULT_GENERAL_C_CLIENT_ID, "client_secret": "wrong-secret"})
                .to_string(),
        )
        .send()
        .await?;
    let document = Document::parse(&document(&sim.origin(), &prefix))?;
    let units = units(&stack, &document)?;
    // WHEN the function runs
    let outcome = run(&units).await?;
    // THEN the two streams failed with configuration errors that name the stream, the
    // identity and the fix
    let failed: HashMap<&str, (&str, &str)> = outcome
        .failed
        .iter()
        .map(|f| (f.stream.as_str(), (f.kind, f.error.as_str())))
        .collect();
    assert_eq!(failed.len(), 2, "{:?}", outcome.failed);
    let (kind, error) = failed["entra-signins"];
    assert_eq!(kind, "config");
    for words in [
        "licence",
        "stream entra-signins",
        "identity entra-contoso",
        "Microsoft Entra ID P1 or P2",
    ] {
        assert!(error.contains(words), "{words:?} in {error}");
    }
    let (kind, error) = failed["http-search"];
    assert_eq!(kind, "config");
    for words in [
        "identity search",
        "client id or secret for the http-search stream",
        &format!("secret {prefix}/search"),
    ] {
        assert!(error.contains(words), "{words:?} in {error}");
    }
    assert!(!error.contains("wrong-secret"), "{error}");
    // AND every other stream collected its events
    assert_eq!(outcome.done.len(), 4, "{:?}", outcome.done);
    for name in [
        "entra-audits",
        "secure-endpoint-eu",
        "http-acme",
        "http-logs",
    ] {
        assert_eq!(lines_of(&stack, name).await?.len(), 50, "{name}");
    }
    assert!(lines_of(&stack, "entra-signins").await?.is_empty());
    assert!(lines_of(&stack, "http-search").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webexctl_collects_one_document_stream_by_its_name_and_says_which_it_has() -> Result<()> {
    // GIVEN the document in a file, and events in every API
    // (webexctl runs on the real clock: so does the simulator.)
    let mut options = options();
    options.sim = SimConfig {
        clock: ClockMode::System,
        ..SimConfig::default()
    };
    let stack = Stack::start(options).await?;
    let sim = &stack.sim;
    let now = sim.now_ms();
    let mut generated = HashMap::new();
    for (name, api) in STREAMS {
        let spec = GenerateSpec::new(30, now - 60 * MINUTE, now - 10 * MINUTE);
        generated.insert(name, sim.generate_api(api, spec));
    }
    let prefix = format!("sources-{}", stack.table);
    create_secrets(&stack.sdk, &prefix).await?;
    let file = std::env::temp_dir().join(format!("{prefix}.toml"));
    std::fs::write(&file, document(&sim.origin(), &prefix))?;
    let mut env = stack.stream_env(StreamId::AdminAudit);
    env.insert("COLLECTOR_CONFIG".into(), file.display().to_string());
    // WHEN webexctl collects the Secure Endpoint stream by its name, then a name the document
    // does not have
    let one = webexctl(&env, &["collect", "--stream", "secure-endpoint-eu"], "").await?;
    let unknown = webexctl(&env, &["collect", "--stream", "entra-sign-ins"], "").await?;
    std::fs::remove_file(&file)?;
    // THEN that stream, and no other, holds every event its API served
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    let summary: serde_json::Value = serde_json::from_str(one.stdout.trim())?;
    assert_eq!(summary["stream"], "secure-endpoint-eu");
    assert_eq!(
        lines_of(&stack, "secure-endpoint-eu").await?,
        sorted_json(&generated["secure-endpoint-eu"])
    );
    for (name, _) in STREAMS.iter().filter(|(n, _)| *n != "secure-endpoint-eu") {
        assert!(lines_of(&stack, name).await?.is_empty(), "{name}");
    }
    // AND the unknown name is refused with what to use instead
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .contains("the collector document has no stream \"entra-sign-ins\" of another source"),
        "{}",
        unknown.stderr
    );
    Ok(())
}
