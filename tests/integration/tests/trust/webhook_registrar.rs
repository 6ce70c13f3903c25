//! The webhook registrar against the simulator's webhooks API: it creates what is missing,
//! never touches a webhook that is not ours, repairs a changed target, re-enables a webhook
//! Webex disabled once the hold-off is over and shows the time it was off as a gap in
//! `webexctl webhooks status`; and a secret rotation loses no delivery signed with either
//! secret, through the receiver run as Lambda runs it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use collector_app::registrar::{PREFIX, Registrar, RegistrarConfig};
use collector_core::secret::SigningSecret;
use collector_core::webhook::body_digest;
use integration_tests::clock::ManualClock;
use integration_tests::http_api::HttpApi;
use integration_tests::lambda_api::{FunctionProcess, RuntimeApi, built_binary};
use integration_tests::stack::sim_org_id;
use integration_tests::{Stack, StackOptions, aws, cli, logs};
use serde_json::json;
use webex_client::WebhookSpec;

use crate::webhooks::{stored_bodies, webex_as_admin};

const FIRST: &str = "first-signing-secret-from-the-stack-5e1a";

/// The stack's webhook secret as the template makes it (a signing secret, no webhook yet), and
/// the registrar's variables with `target` as the webhooks' target.
async fn deployment(stack: &Stack, target: &str) -> Result<HashMap<String, String>> {
    let secret_id = format!("webhooks-{}", stack.table);
    aws::create_secret(
        &stack.sdk,
        &secret_id,
        &json!({"current": FIRST, "pending": null, "webhooks": [], "org_ids": []}),
    )
    .await?;
    let mut env = cli::env(stack);
    env.insert("WEBHOOK_SECRET_ID".into(), secret_id);
    env.insert("WEBHOOK_TARGET_URL".into(), target.into());
    Ok(env)
}

fn registrar(
    stack: &Stack,
    env: &HashMap<String, String>,
    clock: Arc<ManualClock>,
) -> Result<Registrar<ManualClock>> {
    let config = RegistrarConfig::from_lookup(|name| env.get(name).cloned(), None)?;
    Ok(Registrar::new(config, &stack.sdk, clock)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registrar_keeps_ours_leaves_others_alone_and_reports_each_gap() -> Result<()> {
    const TARGET: &str = "https://hooks.example/webhooks";
    let stack = Stack::start(StackOptions::default()).await?;
    let env = deployment(&stack, TARGET).await?;
    // GIVEN someone else's webhook in the organisation, on a resource we want too
    let (client, token) = webex_as_admin(&stack)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let theirs_secret = SigningSecret::new("their-own-secret");
    let theirs = client
        .create_webhook(
            &token,
            &WebhookSpec {
                name: "their bot",
                target_url: "https://bot.example/in",
                resource: "messages",
                event: "all",
                filter: None,
                secret: &theirs_secret,
            },
            deadline,
        )
        .await?;
    let clock = Arc::new(ManualClock::now());
    let registrar = registrar(&stack, &env, clock.clone())?;

    // WHEN the registrar runs
    let first = registrar.sync().await?;
    // THEN it made the four configured webhooks, ours by name, owned by the organisation,
    // signed with the stack's secret, and told the receiver about them
    ensure!(
        first.created.len() == 4 && first.foreign == 1 && first.failed.is_empty(),
        "{first:?}"
    );
    let webhooks = stack.sim.webhooks();
    let ours: Vec<_> = webhooks.iter().filter(|w| w.id != theirs.id).collect();
    ensure!(ours.len() == 4, "{webhooks:?}");
    for webhook in &ours {
        ensure!(
            webhook.name.starts_with(&format!("{PREFIX} "))
                && webhook.target_url == TARGET
                && webhook.owned_by.as_deref() == Some("org")
                && webhook.secret.as_deref() == Some(FIRST),
            "{webhook:?}"
        );
    }
    let secret = aws::read_secret(&stack.sdk, &env["WEBHOOK_SECRET_ID"]).await?;
    let mut listed: Vec<String> = serde_json::from_value(secret["webhooks"].clone())?;
    listed.sort();
    let mut ids: Vec<String> = ours.iter().map(|w| w.id.clone()).collect();
    ids.sort();
    ensure!(listed == ids, "the receiver's webhooks: {listed:?}");
    ensure!(
        secret["org_ids"] == json!([sim_org_id(&stack.sim)]),
        "{secret}"
    );

    // WHEN someone points one elsewhere and Webex disables another
    let moved = ours[0].clone();
    client
        .put_webhook(
            &token,
            &moved.id,
            &WebhookSpec {
                name: &moved.name,
                target_url: "https://elsewhere.example/in",
                resource: &moved.resource,
                event: &moved.event,
                filter: None,
                secret: &SigningSecret::new(FIRST),
            },
            deadline,
        )
        .await?;
    let disabled = ours[1].id.clone();
    stack.sim.set_webhook_status(&disabled, "disabled");
    let off_from = clock_ms(&clock);
    let second = registrar.sync().await?;
    // THEN the target is put back at once, and the disabled one waits out Webex's hold-off
    ensure!(
        second.repaired.len() == 1
            && second.repaired[0].starts_with(&moved.id)
            && second.waiting == [disabled.clone()],
        "{second:?}"
    );
    let status = cli::webexctl(&env, &["webhooks", "status"], "").await?;
    ensure!(
        status.code == Some(1) && status.stdout.contains("disabled"),
        "while one is off: {status:?}"
    );
    clock.advance(Duration::from_secs(6 * 60));
    let third = registrar.sync().await?;
    ensure!(
        third.repaired.len() == 1 && third.new_gaps.len() == 1,
        "{third:?}"
    );
    let gap = &third.new_gaps[0];
    ensure!(
        gap.webhook == disabled && gap.from_ms == off_from && gap.to_ms == clock_ms(&clock),
        "{gap:?}"
    );
    ensure!(
        stack.sim.webhooks().iter().all(|w| w.status == "active"),
        "re-enabled"
    );
    // AND someone else's webhook is as they left it
    let now_theirs = stack
        .sim
        .webhooks()
        .into_iter()
        .find(|w| w.id == theirs.id)
        .context("their webhook is gone")?;
    ensure!(
        now_theirs.name == "their bot"
            && now_theirs.target_url == "https://bot.example/in"
            && now_theirs.secret.as_deref() == Some("their-own-secret"),
        "{now_theirs:?}"
    );
    // AND a run with nothing to do does nothing
    let fourth = registrar.sync().await?;
    ensure!(
        fourth.created.is_empty() && fourth.repaired.is_empty() && fourth.deleted.is_empty(),
        "{fourth:?}"
    );
    // AND `webexctl webhooks status` shows the gap, every webhook active
    let status = cli::webexctl(&env, &["webhooks", "status"], "").await?;
    ensure!(status.ok, "{status:?}");
    ensure!(
        status.stdout.contains(&format!(
            "gap: {disabled} ({}:{}) was off from",
            ours[1].resource, ours[1].event
        )),
        "{}",
        status.stdout
    );
    let json = cli::webexctl(&env, &["webhooks", "status", "--json"], "").await?;
    let report: serde_json::Value = serde_json::from_str(&json.stdout)?;
    ensure!(
        report["gaps"][0]["webhook"] == disabled.as_str() && report["foreign"] == 1,
        "{report}"
    );
    ensure!(
        !status.all().contains(FIRST) && !logs::captured().contains(FIRST),
        "the signing secret printed"
    );
    Ok(())
}

fn clock_ms(clock: &ManualClock) -> i64 {
    use collector_core::ports::Clock;
    clock.now().millis()
}

/// The webhooks' deliveries through the receiver, each stage in a receiver started afresh (a
/// new Lambda instance reads the secret as it is then): before the rotation (the first
/// secret), after it (the new one, and Webex's retries of what it signed with the old), and an
/// hour later (the old one refused). Every delivery accepted lands in the bucket once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_rotation_loses_no_delivery_signed_with_either_secret() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (queue_url, _) = aws::create_queue(
        &stack.sdk,
        &format!("webhooks-{}", stack.table),
        Duration::from_secs(30),
        10,
    )
    .await?;
    let api = Arc::new(RuntimeApi::start().await?);
    let front = HttpApi::start(api.clone(), "webhook-receiver").await?;
    let env = deployment(&stack, &format!("{}/webhooks", front.url())).await?;
    let clock = Arc::new(ManualClock::now());
    let registrar = registrar(&stack, &env, clock.clone())?;
    registrar.sync().await?;
    let receiver_env = BTreeMap::from([
        (
            "WEBHOOK_SECRET_ID".to_string(),
            env["WEBHOOK_SECRET_ID"].clone(),
        ),
        ("WEBHOOK_QUEUE_URL".to_string(), queue_url.clone()),
    ]);
    let binary = built_binary("webhook-receiver")?;
    let start = || FunctionProcess::start(&api, "webhook-receiver", &binary, receiver_env.clone());
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, secret: &str| {
        let signature = webex_sim::sign_delivery(secret, &body);
        let request = http
            .post(format!("{}/webhooks", front.url()))
            .header("content-type", "application/json")
            .header("x-spark-signature", signature)
            .body(body);
        async move { Ok::<_, anyhow::Error>(request.send().await?.status().as_u16()) }
    };
    let mut delivered = Vec::new();
    let mut n = 0;
    let mut deliver = async |expect: &str| -> Result<Vec<u8>> {
        n += 1;
        let data = json!({"id": format!("Y2lz-message-{n}")});
        let posted = stack
            .sim
            .deliver("messages", "created", "Y2lz-actor", &data, 1)
            .await;
        ensure!(
            posted.len() == 1 && posted[0].delivered(),
            "{expect}: {posted:?}"
        );
        Ok(posted[0].body.clone())
    };

    // GIVEN a delivery signed with the first secret
    let receiver = start()?;
    delivered.push(deliver("before").await?);
    let retried = delivered[0].clone();
    receiver.stop().await?;

    // WHEN the secret is rotated
    let report = registrar.rotate().await?;
    ensure!(report.failed.is_empty(), "{report:?}");
    let rotated = aws::read_secret(&stack.sdk, &env["WEBHOOK_SECRET_ID"]).await?;
    let next = rotated["current"].as_str().context("current")?.to_string();
    ensure!(
        next != FIRST && rotated["pending"] == FIRST,
        "the old secret is kept"
    );
    ensure!(
        stack
            .sim
            .webhooks()
            .iter()
            .all(|w| w.secret.as_deref() == Some(next.as_str())),
        "every webhook of ours has the new secret"
    );
    // THEN deliveries Webex signs with the new one and its retries of the old are accepted
    let receiver = start()?;
    delivered.push(deliver("after").await?);
    ensure!(
        post(retried.clone(), FIRST).await? == 200,
        "a retry signed with the old secret"
    );
    receiver.stop().await?;

    // WHEN an hour has passed and the registrar runs again
    clock.advance(Duration::from_secs(3601));
    registrar.sync().await?;
    let settled = aws::read_secret(&stack.sdk, &env["WEBHOOK_SECRET_ID"]).await?;
    ensure!(
        settled["pending"].is_null() && settled["current"] == next.as_str(),
        "old dropped"
    );
    // THEN only the new secret is accepted
    let receiver = start()?;
    delivered.push(deliver("an hour later").await?);
    let late = delivered[0].clone();
    ensure!(
        post(late, FIRST).await? == 401,
        "the old secret, an hour on"
    );
    let (out, err) = receiver.stop().await?;
    ensure!(
        !out.contains(FIRST)
            && !err.contains(FIRST)
            && !out.contains(&next)
            && !err.contains(&next),
        "a signing secret in the receiver's log"
    );

    // AND every delivery accepted is in the bucket once
    integration_tests::webhooks::write_all(&stack, &queue_url, clock).await?;
    let org = sim_org_id(&stack.sim);
    let stored = stored_bodies(&stack, &org).await?;
    let expected: BTreeMap<String, Vec<Vec<u8>>> = delivered
        .iter()
        .map(|b| (body_digest(b), vec![b.clone()]))
        .collect();
    ensure!(
        stored == expected,
        "{} stored, {} delivered",
        stored.len(),
        expected.len()
    );
    Ok(())
}
