//! OAuth onboarding end to end: `webexctl auth` against the local stack, the simulator's consent
//! page, and the callback function as API Gateway invokes it.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_adapters::DynamoStateStore;
use collector_app::IdentitiesConfig;
use collector_app::callback::{Callback, HttpRequest};
use collector_core::ports::LeaseStore;
use collector_core::secret::ClientSecret;
use collector_core::{IdentityName, StopReason, StreamId, Timestamp};
use integration_tests::logs::{assert_free_of, captured};
use integration_tests::stack::{SimTime, sim_stream, stream_scope};
use integration_tests::{Stack, StackOptions};
use tokio::io::AsyncWriteExt;
use webex_sim::{ClockMode, GenerateSpec, SimConfig};

#[path = "oauth/backfill.rs"]
mod backfill;

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
const CLIENT_ID: &str = "sim-client-id";
const CLIENT_SECRET: &str = "sim-client-secret";

fn unauthorised() -> StackOptions {
    // The CLI runs on the real clock: the simulator's starts there too.
    let sim = SimConfig {
        clock: ClockMode::Manual {
            start_ms: Timestamp::now().millis(),
        },
        ..SimConfig::default()
    };
    StackOptions {
        sim,
        authorised: false,
        ..StackOptions::default()
    }
}

fn org_id(stack: &Stack) -> String {
    integration_tests::stack::sim_org_id(&stack.sim)
}

/// `webexctl` with the stack's environment, `stdin` fed to it; (exit ok, stdout, stderr).
async fn webexctl(stack: &Stack, args: &[&str], stdin: &str) -> Result<(bool, String, String)> {
    let mut env: HashMap<String, String> = stack.identities_env();
    env.extend(stack.env.clone());
    webexctl_with(env, args, stdin).await
}

/// `webexctl auth init` of `identity` with the simulator's client, its secret on standard input.
async fn auth_init(stack: &Stack, identity: &str) -> Result<(bool, String, String)> {
    webexctl(
        stack,
        &[
            "auth",
            "init",
            "--identity",
            identity,
            "--client-id",
            CLIENT_ID,
            "--redirect-uri",
            REDIRECT,
            "--org-id",
            &org_id(stack),
        ],
        &format!("{CLIENT_SECRET}\n"),
    )
    .await
}

/// `webexctl` with `env` only (beside the local AWS endpoint), `stdin` fed to it.
async fn webexctl_with(
    env: HashMap<String, String>,
    args: &[&str],
    stdin: &str,
) -> Result<(bool, String, String)> {
    let mut child = tokio::process::Command::new(integration_tests::webexctl_path()?)
        .args(args)
        // Only what the test passes: an operator's own default organisation must not help.
        .env_remove("WEBEX_ORG_ID")
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take().context("stdin")?;
    input.write_all(stdin.as_bytes()).await?;
    drop(input);
    let output = child.wait_with_output().await?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_authorises_both_identities_and_the_collectors_use_the_tokens() -> Result<()>
{
    let stack = Stack::start(unauthorised()).await?;
    let now = stack.sim.now_ms();
    let mut printed = String::new();
    for (identity, stream) in [
        ("admin", StreamId::AdminAudit),
        ("compliance", StreamId::ComplianceEvents),
    ] {
        let events = stack.sim.generate(
            sim_stream(stream),
            GenerateSpec::new(400, now - 48 * 3_600_000, now - 600_000),
        );
        // GIVEN an operator installs the identity, the client secret on standard input
        let (ok, out, err) = auth_init(&stack, identity).await?;
        assert!(ok, "auth init: {err}");
        printed.push_str(&(out + &err));
        let (ok, out, err) = webexctl(&stack, &["auth", "status", "--json"], "").await?;
        assert!(ok, "{err}");
        let status: serde_json::Value = serde_json::from_str(&out)?;
        let row = status
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["identity"] == identity))
            .context("row")?;
        assert_eq!(row["state"], "waiting for authorisation");
        printed.push_str(&(out + &err));
        // WHEN they open the link, accept, and Webex redirects to the callback
        let (ok, out, err) = webexctl(
            &stack,
            &["auth", "url", "--identity", identity, "--json"],
            "",
        )
        .await?;
        assert!(ok, "{err}");
        let link: serde_json::Value = serde_json::from_str(&out)?;
        let url = link["url"].as_str().context("url")?;
        assert!(
            url.contains(&format!(
                "scope={}",
                stream_scope(identity).replace(':', "%3A")
            )),
            "{url}"
        );
        printed.push_str(&(out + &err));
        let query = stack.consent(url).await?;
        let page = stack.call_back(&query).await?;
        // THEN the page says so, the tokens are in the identity's secret, and collection works
        assert_eq!(page.status_code, 200, "{}", page.body);
        assert!(
            page.body
                .contains(&format!("The {identity} identity is authorised")),
            "{}",
            page.body
        );
        assert!(page.body.contains("valid until"));
        let secret = stack.secret(identity).await?;
        assert!(
            secret["refresh_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert_eq!(secret["client_secret"], CLIENT_SECRET);
        assert_eq!(secret["org_id"], org_id(&stack));
        let summary = stack.run(stream, Duration::from_secs(60)).await?;
        assert_eq!(summary.stopped, StopReason::CaughtUp);
        stack.assert_all_landed_once(stream, &events).await?;
    }
    // The other CLI commands, in both forms.
    let (ok, out, err) = webexctl(&stack, &["auth", "status"], "").await?;
    assert!(
        ok && out.starts_with("IDENTITY") && out.matches("authorised").count() == 2,
        "{out}{err}"
    );
    printed.push_str(&(out + &err));
    let (ok, out, err) = webexctl(&stack, &["auth", "status", "--json"], "").await?;
    let rows: serde_json::Value = serde_json::from_str(&out)?;
    assert!(
        ok && rows.as_array().is_some_and(|r| r
            .iter()
            .all(|r| r["refresh_token_days_left"].as_i64() >= Some(89))),
        "{out}"
    );
    printed.push_str(&(out + &err));
    // `--profile`, the name from before identities, still works.
    for identity in ["admin", "compliance"] {
        let (ok, out, err) = webexctl(&stack, &["auth", "test", "--profile", identity], "").await?;
        assert!(
            ok && out.starts_with("ok:") && out.contains(&org_id(&stack)),
            "{out}{err}"
        );
        printed.push_str(&(out + &err));
        let (ok, out, err) = webexctl(
            &stack,
            &["auth", "test", "--identity", identity, "--json"],
            "",
        )
        .await?;
        let test: serde_json::Value = serde_json::from_str(&out)?;
        assert!(
            ok && test["ok"] == true && test["identity"] == identity,
            "{out}{err}"
        );
        printed.push_str(&(out + &err));
    }
    let (ok, out, err) = webexctl(&stack, &["status"], "").await?;
    assert!(
        ok && out.starts_with("STREAM")
            && out.contains("admin-audit")
            && out.contains("compliance-events")
            && out.contains("dashboard: set DASHBOARD_URL"),
        "{out}{err}"
    );
    printed.push_str(&(out + &err));
    // With the stack's DashboardUrl output, its link.
    let dashboard = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=webex";
    let mut env: HashMap<String, String> = stack.identities_env();
    env.extend(stack.env.clone());
    env.insert("DASHBOARD_URL".into(), dashboard.into());
    let (ok, out, err) = webexctl_with(env, &["status"], "").await?;
    assert!(
        ok && out.trim_end().ends_with(&format!("dashboard: {dashboard}")),
        "{out}{err}"
    );
    let (ok, out, err) = webexctl(&stack, &["status", "--json"], "").await?;
    let streams: serde_json::Value = serde_json::from_str(&out)?;
    let admin = streams
        .as_array()
        .and_then(|s| s.iter().find(|r| r["stream"] == "admin-audit"))
        .context("admin row")?;
    assert!(
        ok && admin["status"] == "collecting"
            && admin["lag_seconds"].as_i64().is_some_and(|l| l < 3600),
        "{out}"
    );
    assert!(
        admin["last_run"]["events"].as_u64().is_some_and(|n| n > 0),
        "{out}"
    );
    printed.push_str(&(out + &err));
    let secrets = stack.known_secrets().await?;
    assert_free_of(&printed, &secrets, "webexctl's output");
    stack.assert_no_secrets_logged().await
}

/// Webex for Government (FedRAMP) is another base URL, `https://api-usgov.webex.com/v1`: the
/// simulator mounted under `/usgov`, with nothing at the commercial root, stands for it. The
/// one variable `WEBEX_API_URL` must drive the authorize link, the callback's code exchange and
/// the collection; a call to the root would be refused and fail the flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_government_base_url_drives_the_link_the_exchange_and_the_collection() -> Result<()> {
    let mut options = unauthorised();
    options.sim.mount = "/usgov".into();
    let stack = Stack::start(options).await?;
    let base = stack.sim.base_url();
    assert!(base.ends_with("/usgov/v1"), "{base}");
    let root = base.replace("/usgov/v1", "/v1/people/me");
    let refused = reqwest::get(&root).await?.status();
    assert_eq!(refused, 404, "the commercial root answers nothing");
    let now = stack.sim.now_ms();
    let events = stack.sim.generate(
        sim_stream(StreamId::AdminAudit),
        GenerateSpec::new(300, now - 24 * 3_600_000, now - 600_000),
    );
    // GIVEN the admin identity installed against the Government base
    let (ok, _, err) = auth_init(&stack, "admin").await?;
    assert!(ok, "auth init: {err}");
    // WHEN the link is opened, accepted, and the callback exchanges the code
    let (ok, out, err) = webexctl(
        &stack,
        &["auth", "url", "--identity", "admin", "--json"],
        "",
    )
    .await?;
    assert!(ok, "{err}");
    let link: serde_json::Value = serde_json::from_str(&out)?;
    let url = link["url"].as_str().context("url")?;
    assert!(url.starts_with(&format!("{base}/authorize?")), "{url}");
    let query = stack.consent(url).await?;
    let page = stack.call_back(&query).await?;
    assert_eq!(page.status_code, 200, "{}", page.body);
    // THEN the tokens came from the Government token endpoint and collection reads there
    assert!(
        stack
            .sim
            .token_requests()
            .iter()
            .any(|t| t.grant_type == "authorization_code"),
        "no code exchange reached the mounted token endpoint"
    );
    let summary = stack
        .run(StreamId::AdminAudit, Duration::from_secs(60))
        .await?;
    assert_eq!(summary.stopped, StopReason::CaughtUp);
    stack
        .assert_all_landed_once(StreamId::AdminAudit, &events)
        .await
}

/// `webexctl events get` prints one compliance event as Webex returns it, says so when there is
/// none, and names the scope when the identity lacks it; `webexctl events list` prints a range
/// as Webex returns it through 429s, 5xx and a cut-off page, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_get_and_list_read_webex_as_it_is_and_write_nothing() -> Result<()> {
    let mut options = unauthorised();
    options.authorised = true;
    let stack = Stack::start(options).await?;
    let now = stack.sim.now_ms();
    let events = stack.sim.generate(
        sim_stream(StreamId::ComplianceEvents),
        GenerateSpec::new(250, now - 3 * 3_600_000, now - 600_000),
    );
    // The compliance-events function's variables, as `webexctl collect` takes them.
    let mut env = integration_tests::cli::env(&stack);
    env.extend(stack.stream_env(StreamId::ComplianceEvents));
    // An event that exists: its JSON byte for byte.
    let known = &events[17];
    let (ok, out, err) = webexctl_with(env.clone(), &["events", "get", &known.id], "").await?;
    assert!(ok, "{err}");
    assert_eq!(out, format!("{}\n", known.json));
    // One that does not.
    let (ok, out, err) =
        webexctl_with(env.clone(), &["events", "get", "Y2lzY29zcGFyazovL3Vz"], "").await?;
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("no such event (or not visible to the compliance identity)"),
        "{err}"
    );
    // An identity without the compliance scope.
    let (ok, _, err) = webexctl_with(
        env.clone(),
        &["events", "get", &known.id, "--identity", "admin"],
        "",
    )
    .await?;
    assert!(!ok && err.contains("spark-compliance:events_read"), "{err}");

    // A range of two hours, through faults.
    stack.sim.push_faults([
        webex_sim::Fault::TooManyRequests { retry_after_s: 1 },
        webex_sim::Fault::ServerError(503),
        webex_sim::Fault::Truncated,
        webex_sim::Fault::ServerError(500),
    ]);
    let from = Timestamp::from_millis(now - 2 * 3_600_000);
    let to = Timestamp::from_millis(now - 3_600_000);
    let (ok, out, err) = webexctl_with(
        env.clone(),
        &[
            "events",
            "list",
            "--stream",
            "compliance-events",
            "--from",
            &from.to_rfc3339(),
            "--to",
            &to.to_rfc3339(),
        ],
        "",
    )
    .await?;
    assert!(ok, "{err}");
    let mut listed: Vec<&str> = out.lines().collect();
    let mut expected: Vec<&str> = events
        .iter()
        .filter(|e| e.created_ms >= from.millis() && e.created_ms < to.millis())
        .map(|e| e.json.as_str())
        .collect();
    listed.sort();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected, "the range as Webex holds it, once each");
    assert!(
        err.contains(&format!("{} event(s) of compliance-events", expected.len())),
        "{err}"
    );
    let faulted = stack
        .sim
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(faulted >= 4, "the faults were served: {faulted}");
    let (ok, out, _) = webexctl_with(
        env,
        &[
            "events",
            "list",
            "--stream",
            "compliance-events",
            "--from",
            &from.to_rfc3339(),
            "--to",
            &to.to_rfc3339(),
            "--max",
            "5",
        ],
        "",
    )
    .await?;
    assert!(ok && out.lines().count() == 5, "{out}");
    // Nothing written: no object, no cursor.
    assert!(stack.objects(StreamId::ComplianceEvents).await?.is_empty());
    assert!(stack.cursor(StreamId::ComplianceEvents).await?.is_none());
    Ok(())
}

/// An authorised stack on the real clock with `count` compliance events created in the range
/// `range(now)` gives, its live unit caught up; the events, and `webexctl`'s environment for
/// the stream.
async fn caught_up(
    count: usize,
    range: impl FnOnce(i64) -> (i64, i64),
) -> Result<(Stack, Vec<webex_sim::SimEvent>, HashMap<String, String>)> {
    let mut options = unauthorised();
    options.authorised = true;
    let stack = Stack::start(options).await?;
    let stream = StreamId::ComplianceEvents;
    let now = stack.sim.now_ms();
    let (from, to) = range(now);
    let events = stack
        .sim
        .generate(sim_stream(stream), GenerateSpec::new(count, from, to));
    stack
        .run_until_caught_up(stream, now, Duration::from_secs(120))
        .await?;
    let mut env = integration_tests::cli::env(&stack);
    env.extend(stack.stream_env(stream));
    Ok((stack, events, env))
}

/// `webexctl verify` re-reads a range from Webex and compares it with the bucket: nothing to
/// report on a complete range; the exact ids of an object deleted by hand; the one id of a
/// line written twice by hand. Its exit status says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_a_complete_range_and_names_the_ids_deleted_or_doubled() -> Result<()> {
    let hour = 3_600_000;
    let (stack, events, env) = caught_up(600, |now| (now - 6 * hour, now - 600_000)).await?;
    let stream = StreamId::ComplianceEvents;
    let now = stack.sim.now_ms();
    let from = Timestamp::from_millis(now - 5 * hour);
    let to = Timestamp::from_millis(now - hour);
    let verify = |env: HashMap<String, String>| {
        let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
        async move {
            let mut child = tokio::process::Command::new(integration_tests::webexctl_path()?)
                .args([
                    "verify",
                    "--stream",
                    "compliance-events",
                    "--from",
                    &from,
                    "--to",
                    &to,
                ])
                .envs(env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out).await?;
            }
            let status = child.wait().await?;
            anyhow::Ok((status.code(), out))
        }
    };
    let in_range = events
        .iter()
        .filter(|e| e.created_ms >= from.millis() && e.created_ms < to.millis())
        .count();
    // A complete range.
    let (code, out) = verify(env.clone()).await?;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "Webex returns {in_range} event(s), the bucket holds {in_range} line(s)"
        )) && out.contains("every event exactly once"),
        "{out}"
    );
    // An object of the range deleted by hand: its events' ids, exactly.
    let objects = stack.objects(stream).await?;
    let middle = objects
        .iter()
        .find(|o| {
            o.metadata
                .get("window-from")
                .and_then(|t| Timestamp::parse(t).ok())
                .is_some_and(|t| {
                    t.millis() >= from.millis() + hour && t.millis() < to.millis() - hour
                })
        })
        .context("an object inside the range")?;
    let lines = middle.lines();
    let ids: Vec<String> = lines
        .iter()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_slice(l)?;
            Ok(event["id"].as_str().unwrap_or_default().to_string())
        })
        .collect::<Result<_>>()?;
    assert!(!ids.is_empty());
    let s3 = integration_tests::aws::s3(&stack.sdk);
    s3.delete_object()
        .bucket(&stack.bucket)
        .key(&middle.key)
        .send()
        .await?;
    let (code, out) = verify(env.clone()).await?;
    assert_eq!(code, Some(9), "{out}");
    assert!(
        out.contains(&format!("{} missing from the bucket:", ids.len())),
        "{out}"
    );
    for id in &ids {
        assert!(out.contains(&format!("\n  {id}")), "{id} not named: {out}");
    }
    // Put back with its first line twice: that id, once.
    let mut doubled = Vec::new();
    for line in lines.iter().chain(std::iter::once(&lines[0])) {
        doubled.extend_from_slice(line);
        doubled.push(b'\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &doubled)?;
    s3.put_object()
        .bucket(&stack.bucket)
        .key(&middle.key)
        .body(gz.finish()?.into())
        .send()
        .await?;
    let (code, out) = verify(env).await?;
    assert_eq!(code, Some(10), "{out}");
    assert!(
        out.contains(&format!("1 in the bucket twice:\n  {}", ids[0])),
        "{out}"
    );
    Ok(())
}

/// What a collector's refresh leaves while it runs: the named token lock, held by another
/// writer for a minute.
async fn hold_token_lock(stack: &Stack, identity: &str) -> Result<()> {
    let now = Timestamp::from_millis(stack.sim.now_ms());
    let held = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table)
        .acquire_lease(
            &format!("lock#token#{identity}"),
            "collector-elsewhere",
            now.plus(Duration::from_secs(60)),
            now,
        )
        .await?;
    anyhow::ensure!(held, "the {identity} lock was taken");
    Ok(())
}

async fn release_token_lock(stack: &Stack, identity: &str) -> Result<()> {
    DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table)
        .release_lease(&format!("lock#token#{identity}"), "collector-elsewhere")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_identity_named_in_a_document_is_onboarded_with_its_own_secret_and_lock()
-> Result<()> {
    let mut stack = Stack::start(unauthorised()).await?;
    let partner_secret = stack.add_identity("admin-partner");
    let org = org_id(&stack);
    // GIVEN a document that names an admin-partner identity beside today's two, whose audits it
    // reads (one of them discovering its organisations), and no ADMIN_SECRET_ID beside it
    let document = format!(
        r#"
[identities.admin]
kind = "webex_oauth"
secret = "{admin}"

[identities.compliance]
kind = "webex_oauth"
secret = "{compliance}"

[identities.admin-partner]
kind = "webex_oauth"
secret = "{partner_secret}"

[[streams]]
name = "admin-audit-partner"
source = "webex_admin_audit"
identity = "admin-partner"
orgs = ["{org}"]

[[streams]]
name = "security-audit-partner"
source = "webex_security_audit"
identity = "admin-partner"
orgs = "discover"
"#,
        admin = stack.secret_id("admin"),
        compliance = stack.secret_id("compliance"),
    );
    let path = std::env::temp_dir().join(format!("collector-{}.toml", stack.table));
    std::fs::write(&path, &document)?;
    let mut env = stack.env.clone();
    env.insert(
        "COLLECTOR_CONFIG".into(),
        path.to_string_lossy().into_owned(),
    );
    // The callback is given the document as the functions read it; webexctl below reads the
    // file itself.
    let document = collector_app::document::Document::parse(&document)?;
    let config = IdentitiesConfig::from_lookup(|name| env.get(name).cloned(), Some(&document))?;
    let callback = Callback::new(
        &config,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    let call_back = |query: String| {
        let request = HttpRequest::new("GET", &query);
        let mut context = lambda_runtime::Context::default();
        // A deadline as Lambda sets it: long enough for Webex, short for a lock that stays busy.
        let now_ms = Timestamp::now().millis();
        context.deadline = u64::try_from(now_ms + 10_000).unwrap_or_default();
        callback.handle(lambda_runtime::LambdaEvent::new(request, context))
    };
    let mut printed = String::new();

    // WHEN an operator installs it, the client secret on standard input
    let (ok, out, err) = webexctl_with(
        env.clone(),
        &[
            "auth",
            "init",
            "--identity",
            "admin-partner",
            "--client-id",
            CLIENT_ID,
            "--redirect-uri",
            REDIRECT,
            "--org-id",
            &org,
        ],
        &format!("{CLIENT_SECRET}\n"),
    )
    .await?;
    assert!(
        ok && out.contains(
            "admin-partner identity installed; next: webexctl auth url --identity admin-partner"
        ),
        "{out}{err}"
    );
    printed.push_str(&(out + &err));
    // THEN `auth status` lists every identity of the document, the admin-partner's on its own secret
    let (ok, out, err) = webexctl_with(env.clone(), &["auth", "status", "--json"], "").await?;
    let rows: serde_json::Value = serde_json::from_str(&out).context(err.clone())?;
    let names: Vec<&str> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["identity"].as_str())
        .collect();
    assert!(
        ok && names == ["admin", "compliance", "admin-partner"],
        "{out}{err}"
    );
    assert_eq!(rows[2]["state"], "waiting for authorisation");
    assert_eq!(rows[2]["secret_id"], partner_secret.as_str());
    assert_eq!(rows[0]["state"], "not installed");
    printed.push_str(&(out + &err));
    // AND a name the document does not have is refused with the ones it has
    let (ok, out, err) =
        webexctl_with(env.clone(), &["auth", "url", "--identity", "nobody"], "").await?;
    assert!(
        !ok && err.contains(
            "unknown identity \"nobody\"; this deployment has admin, compliance, admin-partner"
        ),
        "{out}{err}"
    );

    // WHEN a link is completed while a refresh holds the admin-partner's token lock
    let link = |env: HashMap<String, String>| async move {
        let (ok, out, err) = webexctl_with(
            env,
            &["auth", "url", "--identity", "admin-partner", "--json"],
            "",
        )
        .await?;
        anyhow::ensure!(ok, "auth url: {err}");
        let link: serde_json::Value = serde_json::from_str(&out)?;
        anyhow::ensure!(link["identity"] == "admin-partner", "{out}");
        Ok::<_, anyhow::Error>((
            link["url"].as_str().unwrap_or_default().to_string(),
            out + &err,
        ))
    };
    hold_token_lock(&stack, "admin-partner").await?;
    let (url, out) = link(env.clone()).await?;
    printed.push_str(&out);
    let page = call_back(stack.consent(&url).await?).await?;
    // THEN the callback waited for that lock, the admin-partner's, and stored nothing
    assert!(
        page.status_code == 409
            && page
                .body
                .contains("admin-partner identity's tokens were being refreshed")
            && page.body.contains("--identity admin-partner"),
        "{}",
        page.body
    );
    assert!(stack.secret("admin-partner").await?["refresh_token"].is_null());
    release_token_lock(&stack, "admin-partner").await?;

    // WHEN a callback of a deployment without the admin-partner identity gets an admin-partner link
    let (url, out) = link(env.clone()).await?;
    printed.push_str(&out);
    let page = stack.call_back(&stack.consent(&url).await?).await?;
    // THEN the link is as good as unknown
    assert!(
        page.status_code == 403
            && page.body.contains("Link expired or already used")
            && page.body.contains("NAME one of admin, compliance"),
        "{}",
        page.body
    );

    // WHEN a collector refreshes the admin identity's token meanwhile, and the link is opened
    hold_token_lock(&stack, "admin").await?;
    let (url, out) = link(env.clone()).await?;
    assert!(
        url.contains(
            "scope=audit%3Aevents_read+spark%3Apeople_read+spark-admin%3Aorganizations_read"
        ),
        "both audits' scope once, and listing organisations: {url}"
    );
    printed.push_str(&out);
    let page = call_back(stack.consent(&url).await?).await?;
    // THEN the admin-partner is authorised, under its own lock, into its own secret only
    assert!(
        page.status_code == 200
            && page
                .body
                .contains("The admin-partner identity is authorised")
            && page
                .body
                .contains("webexctl auth url --identity admin-partner"),
        "{}",
        page.body
    );
    let secret = stack.secret("admin-partner").await?;
    assert!(
        secret["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(secret["client_secret"], CLIENT_SECRET);
    assert_eq!(secret["org_id"], org.as_str());
    assert_eq!(
        secret["scopes"],
        "audit:events_read spark:people_read spark-admin:organizations_read"
    );
    for other in ["admin", "compliance"] {
        assert!(
            stack.secret(other).await.is_err(),
            "the {other} secret was written"
        );
    }
    assert_eq!(
        stack.token_lock_owner("admin-partner").await?,
        None,
        "released"
    );
    assert_eq!(
        stack.token_lock_owner("admin").await?.as_deref(),
        Some("collector-elsewhere"),
        "the admin lock was not the admin-partner's"
    );
    release_token_lock(&stack, "admin").await?;
    // AND its token works, through the old option name too
    let (ok, out, err) = webexctl_with(
        env.clone(),
        &["auth", "test", "--profile", "admin-partner"],
        "",
    )
    .await?;
    assert!(
        ok && out.starts_with("ok:") && out.contains("admin-partner identity"),
        "{out}{err}"
    );
    printed.push_str(&(out + &err));
    let (ok, out, err) = webexctl_with(env.clone(), &["auth", "status"], "").await?;
    assert!(
        ok && out.starts_with("IDENTITY")
            && out
                .lines()
                .any(|l| l.starts_with("admin-partner") && l.contains("authorised")),
        "{out}{err}"
    );
    printed.push_str(&(out + &err));
    std::fs::remove_file(&path)?;

    let secrets = stack.known_secrets().await?;
    assert_free_of(&printed, &secrets, "webexctl's output");
    stack.assert_no_secrets_logged().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webexctl_status_shows_a_failing_stream_with_its_fix() -> Result<()> {
    let mut options = unauthorised();
    options.authorised = true;
    let stack = Stack::start(options).await?;
    stack.sim.revoke_refresh_tokens();
    stack
        .run(StreamId::AdminAudit, Duration::from_secs(30))
        .await
        .expect_err("invalid_grant");
    let (ok, out, err) = webexctl(&stack, &["status", "--json"], "").await?;
    let rows: serde_json::Value = serde_json::from_str(&out)?;
    let admin = &rows[0];
    assert!(
        ok && admin["status"] == "error" && admin["last_error"]["kind"] == "config",
        "{out}{err}"
    );
    assert!(
        admin["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("webexctl auth url --identity admin"))
    );
    let (ok, out, _) = webexctl(&stack, &["status"], "").await?;
    assert!(
        ok && out.contains("last error (config") && out.contains("webexctl auth url"),
        "{out}"
    );
    let (ok, out, _) = webexctl(&stack, &["auth", "test", "--identity", "admin"], "").await?;
    assert!(
        !ok && out.starts_with("FAILED"),
        "a refused token fails the test: {out}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_init_refuses_bad_input_and_never_takes_the_secret_from_argv() -> Result<()> {
    let stack = Stack::start(unauthorised()).await?;
    // Each case: the redirect URI, the arguments after it, and standard input.
    let cases: [(&str, &[&str], &str); 6] = [
        // An empty client secret.
        (REDIRECT, &["--org-id", "ORG"], "\n"),
        ("ftp://x/cb", &["--org-id", "ORG"], "s3cret-value\n"),
        // Starts like a loopback address, and is a host of anyone's choosing.
        (
            "http://127.0.0.1.evil.example/oauth/callback",
            &["--org-id", "ORG"],
            "s3cret-value\n",
        ),
        // No organisation: any account could then authorise the identity.
        (REDIRECT, &[], "s3cret-value\n"),
        // The stack's OrgId parameter may list several; an identity has one.
        (REDIRECT, &["--org-id", "ORG1,ORG2"], "s3cret-value\n"),
        (
            REDIRECT,
            &["--org-id", "ORG", "--client-secret", "s3cret-value"],
            "",
        ),
    ];
    for (redirect, rest, stdin) in cases {
        let mut args = vec![
            "auth",
            "init",
            "--identity",
            "admin",
            "--client-id",
            CLIENT_ID,
            "--redirect-uri",
            redirect,
        ];
        args.extend_from_slice(rest);
        let (ok, out, err) = webexctl(&stack, &args, stdin).await?;
        assert!(!ok, "{args:?} must fail: {out}");
        assert!(!err.contains("s3cret-value") && !out.contains("s3cret-value"));
    }
    assert!(stack.secret("admin").await.is_err(), "nothing was written");
    Ok(())
}

/// A forged or broken redirect.
struct Case {
    name: &'static str,
    query: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_broken_callbacks_get_a_4xx_page_and_change_nothing() -> Result<()> {
    let stack = Stack::start(unauthorised()).await?;
    let operator = stack.operator()?;
    for identity in ["admin", "compliance"] {
        stack.install(identity).await?;
    }
    let mut codes = Vec::new();
    // A fresh link and consent for `identity`: (code, state).
    macro_rules! consent {
        ($identity:expr) => {{
            let link = operator
                .auth_url(&IdentityName::parse($identity)?, None)
                .await?;
            let query = stack.consent(&link.url).await?;
            let params: HashMap<String, String> = form_pairs(&query);
            codes.push(params["code"].clone());
            (params["code"].clone(), params["state"].clone())
        }};
    }
    let fresh_state = || "0123456789abcdef".repeat(4);
    let snapshot = |s: &serde_json::Value| s.to_string();
    let admin_before = snapshot(&stack.secret("admin").await?);

    let mut cases: Vec<Case> = Vec::new();
    let (code, _) = consent!("admin");
    cases.push(Case {
        name: "no parameters",
        query: String::new(),
    });
    cases.push(Case {
        name: "no state",
        query: format!("code={code}"),
    });
    cases.push(Case {
        name: "empty state",
        query: format!("code={code}&state="),
    });
    cases.push(Case {
        name: "unknown state",
        query: format!("code={code}&state={}", fresh_state()),
    });
    cases.push(Case {
        name: "malformed state",
        query: format!("code={code}&state=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    });
    cases.push(Case {
        name: "oversized state",
        query: format!("code={code}&state={}", "a".repeat(10_000)),
    });
    let (_, state) = consent!("admin");
    cases.push(Case {
        name: "no code",
        query: format!("state={state}"),
    });
    let (code, state) = consent!("admin");
    cases.push(Case {
        name: "oversized code",
        query: format!("code={}{code}&state={state}", "A".repeat(5_000)),
    });
    let (code, state) = consent!("admin");
    cases.push(Case {
        name: "code with markup",
        query: format!("code={code}%22%3E%3Cscript%3E&state={state}"),
    });
    let (code, state) = consent!("admin");
    cases.push(Case {
        name: "repeated state",
        query: format!("code={code}&state={state}&state={}", fresh_state()),
    });
    let (code, state) = consent!("admin");
    cases.push(Case {
        name: "repeated code",
        query: format!("code={code}&code={code}&state={state}"),
    });
    stack.sim.deny_next_authorization();
    let link = operator.auth_url(&IdentityName::ADMIN, None).await?;
    cases.push(Case {
        name: "access_denied",
        query: stack.consent(&link.url).await?,
    });
    let (_, state) = consent!("admin");
    cases.push(Case {
        name: "another error, with markup in its description",
        query: format!("error=%3Cb%3Eserver_error%3C%2Fb%3E&error_description=%3Cscript%3Ex%3C%2Fscript%3E&state={state}"),
    });
    let (_, state) = consent!("admin");
    cases.push(Case {
        name: "refused code",
        query: format!("code=not-a-code-we-issued&state={state}"),
    });
    let (code, state) = consent!("admin");
    cases.push(Case {
        name: "a code for another state",
        query: format!("code={code}&state={state}x"),
    });
    // A state made for the compliance identity, with a code the user granted admin scopes.
    let (code, _) = consent!("admin");
    let compliance_link = operator.auth_url(&IdentityName::COMPLIANCE, None).await?;
    let compliance_state = form_pairs(&compliance_link.url)["state"].clone();
    cases.push(Case {
        name: "a state from the other identity",
        query: format!("code={code}&state={compliance_state}"),
    });
    // A code whose user granted only the compliance scope, for the admin identity.
    let admin_link = operator.auth_url(&IdentityName::ADMIN, None).await?;
    let wrong_scope = admin_link
        .url
        .replace("audit%3Aevents_read", "spark-compliance%3Aevents_read");
    cases.push(Case {
        name: "missing scope",
        query: stack.consent(&wrong_scope).await?,
    });

    for case in &cases {
        let page = stack.call_back(&case.query).await?;
        assert!(
            (400..500).contains(&page.status_code),
            "{}: {} {}",
            case.name,
            page.status_code,
            page.body
        );
        assert!(
            !page.body.contains("<script>") && !page.body.contains("<b>"),
            "{}: the page repeats input",
            case.name
        );
        assert_free_of(&page.body, &codes, "a page");
    }

    // An expired state (older than ten minutes).
    let (code, state) = consent!("admin");
    stack.sim.advance(Duration::from_secs(11 * 60));
    let expired = stack
        .call_back(&format!("code={code}&state={state}"))
        .await?;
    assert_eq!(expired.status_code, 403, "expired state");
    // An organisation that is not the identity's.
    operator
        .auth_init(
            &IdentityName::COMPLIANCE,
            CLIENT_ID,
            ClientSecret::new(CLIENT_SECRET),
            REDIRECT,
            Some("another-org"),
        )
        .await?;
    let (code, state) = consent!("compliance");
    let mismatch = stack
        .call_back(&format!("code={code}&state={state}"))
        .await?;
    assert!(
        mismatch.status_code == 403 && mismatch.body.contains("another organisation"),
        "{}",
        mismatch.body
    );
    operator
        .auth_init(
            &IdentityName::COMPLIANCE,
            CLIENT_ID,
            ClientSecret::new(CLIENT_SECRET),
            REDIRECT,
            Some(&org_id(&stack)),
        )
        .await?;
    // A Webex outage.
    let (code, state) = consent!("admin");
    let mut outage_env = stack.identities_env();
    outage_env.insert("WEBEX_API_URL".into(), "http://127.0.0.1:9/v1".into());
    let outage = collector_app::callback::Callback::new(
        &collector_app::IdentitiesConfig::from_lookup(|n| outage_env.get(n).cloned(), None)?,
        &stack.collector_sdk,
        std::sync::Arc::new(integration_tests::stack::SimTime(stack.sim.clone())),
    )?;
    let request =
        collector_app::callback::HttpRequest::new("GET", &format!("code={code}&state={state}"));
    let page = outage
        .handle(lambda_runtime::LambdaEvent::new(
            request,
            Default::default(),
        ))
        .await?;
    assert_eq!(page.status_code, 424, "{}", page.body);
    // Not a GET.
    let post = collector_app::callback::HttpRequest::new("POST", "");
    let page = stack
        .callback()?
        .handle(lambda_runtime::LambdaEvent::new(post, Default::default()))
        .await?;
    assert_eq!(page.status_code, 405);

    assert_eq!(
        snapshot(&stack.secret("admin").await?),
        admin_before,
        "the admin secret changed"
    );
    let compliance = stack.secret("compliance").await?;
    for field in ["refresh_token", "access_token"] {
        assert!(
            compliance.get(field).is_none_or(|t| t.is_null()),
            "the compliance secret gained a {field}"
        );
    }

    // A state replayed after success, and two concurrent callbacks with the same state.
    let (code, state) = consent!("admin");
    let query = format!("code={code}&state={state}");
    assert_eq!(stack.call_back(&query).await?.status_code, 200);
    let authorised = snapshot(&stack.secret("admin").await?);
    let replay = stack.call_back(&query).await?;
    assert_eq!(replay.status_code, 403, "replayed state");
    let (_, fresh) = consent!("admin");
    let reused = stack
        .call_back(&format!("code={code}&state={fresh}"))
        .await?;
    assert_eq!(
        reused.status_code, 400,
        "a used code with a fresh state: {}",
        reused.body
    );
    let (code, state) = consent!("compliance");
    let query = format!("code={code}&state={state}");
    let (a, b) = tokio::join!(stack.call_back(&query), stack.call_back(&query));
    let mut statuses = [a?.status_code, b?.status_code];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 403],
        "exactly one of two concurrent callbacks wins"
    );
    assert_eq!(
        snapshot(&stack.secret("admin").await?),
        authorised,
        "the replay changed nothing"
    );
    assert!(
        cases.len() + 7 >= 20,
        "the corpus has {} cases",
        cases.len() + 7
    );

    let mut secrets = stack.known_secrets().await?;
    secrets.extend(codes);
    assert_free_of(&captured(), &secrets, "captured logs");
    Ok(())
}

fn form_pairs(query_or_url: &str) -> HashMap<String, String> {
    let query = query_or_url
        .split_once('?')
        .map_or(query_or_url, |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}
