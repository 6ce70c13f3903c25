//! A leaked authorize link (issue 13, items 3 and 7): whoever opens a forwarded link must not be
//! able to point the collectors at their own organisation, or be taken for the person the link
//! was meant for; the page refuses with a 4xx, the secret stays as it was, and a slow Webex
//! cannot make the callback overrun its Lambda timeout (spending the link for nothing).
//! Who authorised, and when, is recorded and shown.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use aws_adapters::DynamoStateStore;
use collector_core::identity::IdentityUse;
use collector_core::ports::{OAuthStateStore, PendingAuthorisation};
use collector_core::{IdentityName, Timestamp};
use integration_tests::cli::{env as cli_env, webexctl};
use integration_tests::stack::sim_org_id;
use integration_tests::stack::stream_scope;
use integration_tests::{Stack, StackOptions};
use tokio::time::Instant;
use webex_sim::{ClockMode, Fault, SimConfig, SimPerson};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
const CLIENT_ID: &str = "sim-client-id";

/// Identities installed by the operator, not yet authorised; the simulator's clock is the real
/// one's, as `webexctl` (a process of its own) runs on the real clock.
async fn installed() -> Result<Stack> {
    let sim = SimConfig {
        clock: ClockMode::Manual {
            start_ms: Timestamp::now().millis(),
        },
        ..SimConfig::default()
    };
    let stack = Stack::start(StackOptions {
        sim,
        authorised: false,
        ..StackOptions::default()
    })
    .await?;
    for identity in ["admin", "compliance"] {
        stack.install(identity).await?;
    }
    Ok(stack)
}

/// The secret as stored, to compare before and after.
async fn snapshot(stack: &Stack, identity: &str) -> Result<String> {
    Ok(stack.secret(identity).await?.to_string())
}

/// A fresh link for `identity`, opened and accepted: the query Webex redirects with.
async fn consented(stack: &Stack, identity: &str, expect_email: Option<&str>) -> Result<String> {
    let link = stack
        .operator()?
        .auth_url(&IdentityName::parse(identity)?, expect_email)
        .await?;
    stack.consent(&link.url).await
}

/// The callback's `Timeout` in infra/template.yaml: the deadline Lambda enforces.
fn callback_timeout() -> Result<Duration> {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml"),
    )?;
    let function = template
        .split_once("  OAuthCallbackFunction:")
        .context("no OAuthCallbackFunction in the template")?
        .1;
    let seconds = function
        .lines()
        .find_map(|l| l.trim().strip_prefix("Timeout:"))
        .context("the callback has no Timeout")?
        .trim()
        .parse()?;
    Ok(Duration::from_secs(seconds))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_link_of_an_identity_without_an_org_installs_nobodys_account() -> Result<()> {
    let stack = installed().await?;
    // GIVEN an identity whose secret has no organisation (installed before one was required),
    // and a link made for it then, still valid
    stack
        .update_secret("admin", |s| s["org_id"] = serde_json::Value::Null)
        .await?;
    let before = snapshot(&stack, "admin").await?;
    let state = "5".repeat(64);
    DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table)
        .put_oauth_state(
            &state,
            &PendingAuthorisation {
                identity: IdentityName::ADMIN,
                expected_email: None,
                scopes: IdentityUse::by_default(&IdentityName::ADMIN).requested_scopes(),
            },
            Timestamp::from_millis(stack.sim.now_ms()).plus(Duration::from_secs(600)),
        )
        .await?;
    // WHEN anyone, of any organisation, accepts it
    stack
        .sim
        .sign_in_next_as(SimPerson::new("eve@evil.example", "Eve", "EVIL-ORG"));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", stream_scope("admin"))
        .append_pair("state", &state)
        .finish();
    let link = format!("{}/authorize?{query}", stack.sim.base_url());
    let page = stack.call_back(&stack.consent(&link).await?).await?;
    // THEN the page refuses, naming the fix, and nothing is stored; the code is not even spent
    ensure!(
        page.status_code == 409 && page.body.contains("--org-id"),
        "{} {}",
        page.status_code,
        page.body
    );
    ensure!(
        snapshot(&stack, "admin").await? == before,
        "the secret changed"
    );
    ensure!(
        stack.sim.token_requests().is_empty(),
        "the code was exchanged"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_url_refuses_an_identity_without_an_org_and_names_the_fix() -> Result<()> {
    let stack = installed().await?;
    stack
        .update_secret("compliance", |s| {
            s.as_object_mut().map(|o| o.remove("org_id"));
        })
        .await?;
    let printed = webexctl(
        &cli_env(&stack),
        &["auth", "url", "--identity", "compliance"],
        "",
    )
    .await?;
    ensure!(!printed.ok, "a link was made: {}", printed.all());
    for fix in ["--org-id", "WEBEX_ORG_ID", "OrgId"] {
        ensure!(printed.stderr.contains(fix), "{fix}: {}", printed.all());
    }
    ensure!(!printed.stdout.contains("authorize?"), "{}", printed.stdout);
    // The other identity, with its org, still gets its link (by its old option name too).
    let printed = webexctl(&cli_env(&stack), &["auth", "url", "--profile", "admin"], "").await?;
    ensure!(
        printed.ok && printed.stdout.contains("authorize?"),
        "{}",
        printed.all()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_of_another_org_cannot_install_its_tokens() -> Result<()> {
    let stack = installed().await?;
    let before = snapshot(&stack, "admin").await?;
    // The link was forwarded; an administrator of another organisation accepted it.
    stack.sim.sign_in_next_as(SimPerson::new(
        "admin@other.example",
        "Other Admin",
        "OTHER-ORG",
    ));
    let query = consented(&stack, "admin", None).await?;
    let page = stack.call_back(&query).await?;
    ensure!(
        page.status_code == 403 && page.body.contains("another organisation"),
        "{} {}",
        page.status_code,
        page.body
    );
    ensure!(
        snapshot(&stack, "admin").await? == before,
        "the secret changed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_bound_to_one_person_refuses_another_person_of_the_same_org() -> Result<()> {
    let stack = installed().await?;
    let org = sim_org_id(&stack.sim);
    let before = snapshot(&stack, "admin").await?;
    // GIVEN a link made for Alice
    let link = stack
        .operator()?
        .auth_url(&IdentityName::ADMIN, Some("Alice@Example.com"))
        .await?;
    ensure!(link.expected_email.as_deref() == Some("Alice@Example.com"));
    // WHEN Bob, an administrator of the same organisation, opens it
    stack
        .sim
        .sign_in_next_as(SimPerson::new("bob@example.com", "Bob Admin", &org));
    let page = stack.call_back(&stack.consent(&link.url).await?).await?;
    // THEN it is refused and nothing changes
    ensure!(
        page.status_code == 403 && page.body.contains("another person"),
        "{} {}",
        page.status_code,
        page.body
    );
    ensure!(
        snapshot(&stack, "admin").await? == before,
        "the secret changed"
    );
    // AND Alice, with her address in another case, completes a link made for her; the secret
    // records that it was she, and when
    stack
        .sim
        .sign_in_next_as(SimPerson::new("alice@example.com", "Alice Admin", &org));
    let query = consented(&stack, "admin", Some("ALICE@example.com")).await?;
    let page = stack.call_back(&query).await?;
    ensure!(
        page.status_code == 200,
        "{} {}",
        page.status_code,
        page.body
    );
    let secret = stack.secret("admin").await?;
    ensure!(
        secret["authorised_by"]["email"] == "alice@example.com"
            && secret["authorised_by"]["person_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
        "{}",
        secret["authorised_by"]
    );
    ensure!(
        secret["authorised_at"] == Timestamp::from_millis(stack.sim.now_ms()).to_rfc3339(),
        "{}",
        secret["authorised_at"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_status_shows_who_authorised_and_when() -> Result<()> {
    let stack = installed().await?;
    let org = sim_org_id(&stack.sim);
    stack
        .sim
        .sign_in_next_as(SimPerson::new("carol@example.com", "Carol Admin", &org));
    let query = consented(&stack, "compliance", None).await?;
    let page = stack.call_back(&query).await?;
    ensure!(page.status_code == 200, "{}", page.body);
    let printed = webexctl(&cli_env(&stack), &["auth", "status", "--json"], "").await?;
    ensure!(printed.ok, "{}", printed.all());
    let rows: serde_json::Value = serde_json::from_str(&printed.stdout)?;
    let row = |name: &str| {
        rows.as_array()
            .and_then(|r| r.iter().find(|r| r["identity"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let compliance = row("compliance");
    ensure!(
        compliance["authorised_by"]["email"] == "carol@example.com"
            && compliance["authorised_at"].as_str().is_some(),
        "{compliance}"
    );
    ensure!(row("admin")["authorised_by"].is_null(), "{}", row("admin"));
    let printed = webexctl(&cli_env(&stack), &["auth", "status"], "").await?;
    ensure!(
        printed.ok
            && printed.stdout.contains("AUTHORISED BY")
            && printed.stdout.contains("carol@example.com"),
        "{}",
        printed.all()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_4xx_within_the_lambda_timeout_even_when_webex_is_slow() -> Result<()> {
    let stack = installed().await?;
    let timeout = callback_timeout()?;
    let before = snapshot(&stack, "admin").await?;
    // Each slow part of the callback's work in turn: far slower than any timeout.
    let hang = Duration::from_secs(120);
    for what in ["token endpoint", "people/me", "scope probe"] {
        let query = consented(&stack, "admin", None).await?;
        match what {
            "token endpoint" => stack.sim.delay_token_requests([hang; 6]),
            "people/me" => stack.sim.delay_people_requests([hang; 6]),
            _ => stack
                .sim
                .push_faults(std::iter::repeat_n(Fault::Slow(hang), 6)),
        }
        let started = Instant::now();
        let page = stack.call_back_within(&query, timeout).await?;
        let took = started.elapsed();
        ensure!(
            (400..500).contains(&page.status_code),
            "{what}: {} {}",
            page.status_code,
            page.body
        );
        ensure!(
            took < timeout,
            "{what}: the page took {took:?}, Lambda stops the callback at {timeout:?}"
        );
        ensure!(
            page.headers["content-security-policy"].contains("frame-ancestors 'none'"),
            "{:?}",
            page.headers
        );
        ensure!(
            snapshot(&stack, "admin").await? == before,
            "{what}: the secret changed"
        );
        stack.sim.clear_faults();
        stack.sim.clear_delays();
    }
    Ok(())
}
