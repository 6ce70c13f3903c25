//! `RUST_LOG=trace` must not turn the logs into a copy of the secrets. At trace, the Lambda
//! runtime logs each raw event (the OAuth `code` and `state` of the callback's redirect) and the
//! AWS SDK logs request bodies (the `PutSecretValue` JSON with every token and the client
//! secret); `collector_app::logging` caps those libraries whatever the environment asks for.
//! The binaries run here as operators and Lambda run them: `webexctl` as a process, the OAuth
//! callback as its function binary against a Lambda runtime API.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use collector_core::{StreamId, Timestamp};
use integration_tests::cli::{self, webexctl};
use integration_tests::lambda_api::{FunctionProcess, Outcome, RuntimeApi, built_binary};
use integration_tests::logs::assert_free_of;
use integration_tests::{Stack, StackOptions};
use webex_sim::{ClockMode, SimConfig};

const CLIENT_SECRET: &str = "sim-client-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logging_prints_no_oauth_code_token_or_client_secret() -> Result<()> {
    // GIVEN a stack with no identity authorised yet, on the real clock (the binaries use it), a
    // simulator that rotates refresh tokens (so a refresh writes a new one), and every binary
    // asked to log at trace
    let stack = Stack::start(StackOptions {
        sim: SimConfig {
            clock: ClockMode::Manual {
                start_ms: Timestamp::now().millis(),
            },
            rotate_refresh_tokens: true,
            ..SimConfig::default()
        },
        authorised: false,
        ..StackOptions::default()
    })
    .await?;
    let org_id = integration_tests::stack::sim_org_id(&stack.sim);
    stack.history(StreamId::AdminAudit, 200);
    let mut env = cli::env(&stack);
    env.insert("RUST_LOG".into(), "trace".into());
    let mut printed = String::new();
    let mut secrets = Vec::new();

    // WHEN an operator installs the identity (the client secret goes to Secrets Manager)
    let init = webexctl(
        &env,
        &[
            "auth",
            "init",
            "--identity",
            "admin",
            "--client-id",
            "sim-client-id",
            "--redirect-uri",
            "http://127.0.0.1:9/oauth/callback",
            "--org-id",
            &org_id,
        ],
        &format!("{CLIENT_SECRET}\n"),
    )
    .await?;
    assert!(init.ok, "auth init failed: {}", init.all());
    printed.push_str(&init.all());
    let link = webexctl(&env, &["auth", "url", "--identity", "admin", "--json"], "").await?;
    assert!(link.ok, "auth url failed: {}", link.all());
    printed.push_str(&link.stderr);
    let link: serde_json::Value = serde_json::from_str(&link.stdout)?;
    let url = link["url"]
        .as_str()
        .context("no url in auth url's answer")?;

    // AND a person consents, and the redirect reaches the callback function (code and state in
    // its event; tokens and the client secret in what it saves)
    let query = stack.consent(url).await?;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name == "code" || name == "state" {
            secrets.push(value.into_owned());
        }
    }
    anyhow::ensure!(secrets.len() == 2, "no code and state in {query:?}");
    let page = call_back(&stack, &query).await?;
    assert_eq!(
        page.0["statusCode"], 200,
        "the callback refused: {}",
        page.0
    );
    printed.push_str(&page.1);
    let authorised = stack.secret("admin").await?;
    for field in ["access_token", "refresh_token", "client_secret"] {
        secrets.push(authorised[field].as_str().unwrap_or_default().to_string());
    }

    // AND a collector finds its access token expired and refreshes it
    stack
        .update_secret("admin", |secret| {
            secret["access_token_expires_at"] = "2020-01-01T00:00:00Z".into();
        })
        .await?;
    let mut collect_env = env.clone();
    collect_env.extend(stack.stream_env(StreamId::AdminAudit));
    let collect = webexctl(
        &collect_env,
        &[
            "collect",
            "--stream",
            "admin-audit",
            "--deadline-seconds",
            "60",
        ],
        "",
    )
    .await?;
    assert!(collect.ok, "collect failed: {}", collect.all());
    printed.push_str(&collect.all());
    let refreshed = stack.secret("admin").await?;
    assert_ne!(
        refreshed["refresh_token"], authorised["refresh_token"],
        "the collector did not refresh: the check would prove nothing about a refresh"
    );

    // THEN nothing any of them printed holds a code, state, token or the client secret
    secrets.extend(stack.known_secrets().await?);
    assert!(
        printed.contains("\"level\":\"DEBUG\""),
        "RUST_LOG did not reach the binaries: the check would prove little"
    );
    assert_free_of(&printed, &secrets, "output logged at RUST_LOG=trace");
    Ok(())
}

/// The redirect as API Gateway (HTTP API, payload v2) hands it to the real oauth-callback
/// binary, run against a Lambda runtime API at trace: (the function's answer, its output).
async fn call_back(stack: &Stack, query: &str) -> Result<(serde_json::Value, String)> {
    const FUNCTION: &str = "oauth-callback";
    let api = RuntimeApi::start().await?;
    let mut env: HashMap<String, String> = stack.identities_env();
    env.insert("RUST_LOG".into(), "trace".into());
    let function = FunctionProcess::start(&api, FUNCTION, &built_binary(FUNCTION)?, env)?;
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "GET /oauth/callback",
        "rawPath": "/oauth/callback",
        "rawQueryString": query,
        "headers": {"host": "127.0.0.1"},
        "requestContext": {"http": {"method": "GET", "path": "/oauth/callback"}},
        "isBase64Encoded": false,
    });
    let id = api.invoke(FUNCTION, event, Duration::from_secs(15));
    let outcome = api.outcome(&id, Duration::from_secs(60)).await;
    let (stdout, stderr) = function.stop().await?;
    let printed = format!("{stdout}{stderr}");
    match outcome {
        Ok(Outcome::Response(page)) => Ok((page, printed)),
        Ok(Outcome::Error(error)) => anyhow::bail!("the callback failed: {error}"),
        Err(e) => Err(e.context(format!("the callback's output: {printed}"))),
    }
}
