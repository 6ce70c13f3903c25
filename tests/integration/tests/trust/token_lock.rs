//! Token writes under the token lock (issue 13, item 4): the OAuth callback, `webexctl auth
//! init` and a collector's refresh all write an identity's secret. Each takes
//! `lock#token#{identity}`, re-reads, replaces only its own fields and saves while it still
//! holds the lock, so none of them silently undoes another's write: a fresh authorisation is
//! not replaced by a refresh of the old grant, an operator's change is not put back, and a
//! refresh that outlived its lock stores nothing.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use aws_adapters::DynamoStateStore;
use collector_core::ports::LeaseStore;
use collector_core::secret::ClientSecret;
use collector_core::{IdentityName, StopReason, StreamId, Timestamp};
use integration_tests::stack::sim_org_id;
use integration_tests::{Stack, StackOptions};
use tokio::time::Instant;

/// How long the collector's refresh is held up at the token endpoint: long enough for the
/// other writer to come in during it.
const SLOW_REFRESH: Duration = Duration::from_secs(3);
const RUN_BUDGET: Duration = Duration::from_secs(60);

/// Both identities authorised with a refresh token only: the first run must refresh.
async fn authorised() -> Result<Stack> {
    Stack::start(StackOptions::default()).await
}

/// Waits until a collector holds `identity`'s token lock, i.e. its refresh is under way.
async fn until_a_collector_refreshes(stack: &Stack, identity: &str) -> Result<String> {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(owner) = stack.token_lock_owner(identity).await?
            && owner.starts_with("collector-")
        {
            return Ok(owner);
        }
        ensure!(Instant::now() < give_up, "no collector took the token lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(secret: &serde_json::Value, field: &str) -> String {
    secret[field].as_str().unwrap_or_default().to_string()
}

/// The bearer token of the last event request the simulator served.
fn last_event_bearer(stack: &Stack) -> Option<String> {
    stack
        .sim
        .requests()
        .into_iter()
        .rev()
        .filter(|r| r.path.ends_with("/events"))
        .find_map(|r| r.bearer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_during_a_slow_collector_refresh_is_not_overwritten_by_the_old_grant()
-> Result<()> {
    let stack = authorised().await?;
    let old_refresh = text(&stack.secret("admin").await?, "refresh_token");
    // GIVEN a person accepted a new link, and the collector's refresh is slow
    let link = stack
        .operator()?
        .auth_url(&IdentityName::ADMIN, None)
        .await?;
    let query = stack.consent(&link.url).await?;
    stack.sim.delay_refreshes([SLOW_REFRESH]);
    // WHEN the redirect reaches the callback while the collector refreshes the old grant
    let (run, page) = tokio::join!(stack.run(StreamId::AdminAudit, RUN_BUDGET), async {
        until_a_collector_refreshes(&stack, "admin").await?;
        stack.call_back(&query).await
    });
    let page = page?;
    ensure!(
        page.status_code == 200,
        "{} {}",
        page.status_code,
        page.body
    );
    ensure!(run?.stopped == StopReason::CaughtUp);
    // THEN the secret holds the callback's grant, not the refresh of the old one
    let secret = stack.secret("admin").await?;
    let refresh = text(&secret, "refresh_token");
    ensure!(
        !refresh.is_empty() && refresh != old_refresh,
        "the collector's refresh of the old grant replaced the new authorisation"
    );
    ensure!(secret["authorised_at"].is_string(), "{secret}");
    // AND the collector goes on with it
    stack.sim.advance(Duration::from_secs(3600));
    stack.run(StreamId::AdminAudit, RUN_BUDGET).await?;
    ensure!(
        last_event_bearer(&stack).as_deref() == Some(text(&secret, "access_token").as_str()),
        "the next run did not use the callback's access token"
    );
    ensure!(text(&stack.secret("admin").await?, "refresh_token") == refresh);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_init_during_a_collector_refresh_loses_neither_write() -> Result<()> {
    let stack = authorised().await?;
    let org = sim_org_id(&stack.sim);
    let moved = "http://127.0.0.1:8/oauth/callback";
    stack.sim.delay_refreshes([SLOW_REFRESH]);
    // WHEN an operator re-installs the identity (a new redirect URI) during a slow refresh
    let (run, init) = tokio::join!(stack.run(StreamId::AdminAudit, RUN_BUDGET), async {
        until_a_collector_refreshes(&stack, "admin").await?;
        stack
            .operator()?
            .auth_init(
                &IdentityName::ADMIN,
                "sim-client-id",
                ClientSecret::new(stack.sim.config().client_secret.clone()),
                moved,
                Some(&org),
            )
            .await
            .context("auth init")
    });
    init?;
    ensure!(run?.stopped == StopReason::CaughtUp);
    // THEN the secret has both: the operator's change and the collector's fresh token
    let secret = stack.secret("admin").await?;
    ensure!(
        secret["redirect_uri"] == moved,
        "the collector's save put the old redirect URI back: {}",
        secret["redirect_uri"]
    );
    let access = text(&secret, "access_token");
    ensure!(
        !access.is_empty() && last_event_bearer(&stack).as_deref() == Some(access.as_str()),
        "auth init dropped the token the collector refreshed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_outlives_its_lock_does_not_save_over_the_new_holders_write() -> Result<()> {
    let stack = authorised().await?;
    let states = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table);
    stack.sim.delay_refreshes([SLOW_REFRESH]);
    // WHEN the refresh outlives its lock: another writer takes it over, as after expiry (a
    // "now" past any expiry), and stores a new authorisation
    let (run, taken) = tokio::join!(stack.run(StreamId::AdminAudit, RUN_BUDGET), async {
        until_a_collector_refreshes(&stack, "admin").await?;
        let later = Timestamp::from_millis(stack.sim.now_ms()).plus(Duration::from_secs(3600));
        ensure!(
            states
                .acquire_lease("lock#token#admin", "another-writer", later, later)
                .await?,
            "could not take the lock over"
        );
        stack.reauthorise("admin").await?;
        stack.secret("admin").await
    });
    let theirs = taken?;
    // THEN the collector stored nothing, went on with what the new holder stored, and left
    // the lock to it
    ensure!(run?.stopped == StopReason::CaughtUp);
    let secret = stack.secret("admin").await?;
    ensure!(
        text(&secret, "refresh_token") == text(&theirs, "refresh_token")
            && text(&secret, "access_token") == text(&theirs, "access_token"),
        "the refresh that lost its lock saved over the new holder's tokens"
    );
    ensure!(
        last_event_bearer(&stack).as_deref() == Some(text(&theirs, "access_token").as_str()),
        "the collector did not go on with the stored token"
    );
    ensure!(
        stack.token_lock_owner("admin").await?.as_deref() == Some("another-writer"),
        "the collector released a lock it no longer held"
    );
    Ok(())
}
