//! Units of work: a partner administrator's admin audit stream discovers its customer
//! organisations and collects each as its own unit (cursor, lease, objects, status); one
//! organisation that answers 403 is in error while every other completes, and the simulator's
//! per-client limit never answers 429 because of our pace.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result};
use collector_core::StreamId;
use integration_tests::cli::{self, webexctl};
use integration_tests::stack::{Stack, StackOptions, sim_org_id};
use tokio::time::Instant;
use webex_sim::{ClockMode, GenerateSpec, SimConfig, SimOrg};

const STREAM: StreamId = StreamId::AdminAudit;
const MINUTE: i64 = 60_000;
const CUSTOMERS: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_collects_every_discovered_organisation_and_one_403_stops_no_other() -> Result<()>
{
    // GIVEN a partner administrator managing 20 customer organisations, each with its own
    // admin audit events, one of which now refuses the partner (403)
    let mut options = StackOptions {
        sim: SimConfig {
            rate_limit_per_minute: Some(300),
            ..SimConfig::default()
        },
        ..StackOptions::default()
    };
    options.env.push(("ORG_IDS", "discover".into()));
    // Few windows per organisation: the limit, not the history, is what this test is about.
    options.env.retain(|(k, _)| *k != "MAX_WINDOW_SECONDS");
    options.env.push(("MAX_WINDOW_SECONDS", "43200".into()));
    options.env.push(("MAX_REQUESTS_PER_MINUTE", "280".into()));
    options.env.push(("INITIAL_LOOKBACK_DAYS", "1".into()));
    let stack = Stack::start(options).await?;
    // (its token may list organisations)
    let customers = stack.partner_of(CUSTOMERS).await?;
    let refused = customers[6].id.clone();
    stack
        .sim
        .refuse_org(&refused, &[webex_sim::Stream::AdminAudit]);
    let now = stack.sim.now_ms();
    let mut orgs: Vec<String> = customers.iter().map(|o| o.id.clone()).collect();
    orgs.push(sim_org_id(&stack.sim));
    let mut events_by_org = HashMap::new();
    for org in &orgs {
        let events = stack.sim.generate_for_org(
            org,
            webex_sim::Stream::AdminAudit,
            GenerateSpec::new(60, now - 90 * MINUTE, now - 10 * MINUTE),
        );
        events_by_org.insert(org.clone(), events);
    }
    // WHEN one run goes through the stream's units
    let units = stack.units(STREAM)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let list = units.units(None, deadline).await?;
    assert_eq!(list.len(), orgs.len(), "every organisation discovered");
    let outcome = units.run(list, deadline).await;
    // THEN the refused organisation failed alone, every other one completed
    assert_eq!(
        outcome
            .failed
            .iter()
            .map(|f| f.org_id.as_str())
            .collect::<Vec<_>>(),
        [refused.as_str()],
        "{:?}",
        outcome.failed
    );
    assert_eq!(outcome.done.len(), orgs.len() - 1);
    assert!(outcome.not_reached.is_empty());
    // AND every event of every other organisation is in S3 once, under its organisation
    let objects = stack.objects(STREAM).await?;
    let mut seen = HashSet::new();
    for object in &objects {
        let org = object
            .key
            .split("/org=")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .context("an org in the key")?;
        let ids: HashSet<&str> = events_by_org[org].iter().map(|e| e.id.as_str()).collect();
        for line in object.lines() {
            let value: serde_json::Value = serde_json::from_slice(&line)?;
            let id = value["id"].as_str().context("an id")?.to_string();
            assert!(ids.contains(id.as_str()), "{id} is not an event of {org}");
            assert!(seen.insert(id.clone()), "{id} written twice");
        }
    }
    let expected: usize = events_by_org
        .iter()
        .filter(|(org, _)| **org != refused)
        .map(|(_, events)| events.len())
        .sum();
    assert_eq!(seen.len(), expected);
    // AND `webexctl status` shows the refused organisation in error, the others collecting,
    // and sums the stream's units
    let env = cli::env(&stack);
    let status = webexctl(&env, &["status", "--stream", STREAM.name(), "--json"], "").await?;
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
    let one = webexctl(&env, &["status", "--org", &refused], "").await?;
    assert!(
        one.stdout.contains("1 unit(s), 1 in error") && one.stdout.contains("last error (config"),
        "{}",
        one.stdout
    );
    // AND our pace kept under the simulator's per-client limit
    assert_eq!(stack.sim.request_summary().rate_limited, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webexctl_collects_one_listed_organisation_on_request() -> Result<()> {
    // GIVEN a stream listing two organisations, each with events
    let home = webex_sim::DEFAULT_ORG_ID.to_string();
    let customer = SimOrg::customer(1);
    // (webexctl runs on the real clock: so does the simulator.)
    let mut options = StackOptions {
        sim: SimConfig {
            clock: ClockMode::System,
            ..SimConfig::default()
        },
        ..StackOptions::default()
    };
    options
        .env
        .push(("ORG_IDS", format!("{},{home}", customer.id)));
    options.env.push(("INITIAL_LOOKBACK_DAYS", "1".into()));
    let stack = Stack::start(options).await?;
    stack.sim.add_org(customer.clone());
    stack
        .sim
        .set_managed_orgs(&stack.sim.admin(), [customer.id.clone()]);
    let now = stack.sim.now_ms();
    let events = stack.sim.generate_for_org(
        &customer.id,
        webex_sim::Stream::AdminAudit,
        GenerateSpec::new(40, now - 60 * MINUTE, now - 10 * MINUTE),
    );
    stack.sim.generate_for_org(
        &home,
        webex_sim::Stream::AdminAudit,
        GenerateSpec::new(40, now - 60 * MINUTE, now - 10 * MINUTE),
    );
    // WHEN `webexctl collect --org` names the customer, then an organisation not listed
    let env = stack.stream_env(STREAM);
    let one = webexctl(
        &env,
        &["collect", "--stream", STREAM.name(), "--org", &customer.id],
        "",
    )
    .await?;
    let other = webexctl(
        &env,
        &["collect", "--stream", STREAM.name(), "--org", "b3RoZXI"],
        "",
    )
    .await?;
    // THEN only the customer was collected, all of it, and the other is refused by name
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    let summary: serde_json::Value = serde_json::from_str(one.stdout.trim())?;
    assert_eq!(summary["org_id"], customer.id.as_str());
    assert_eq!(summary["events"], 40);
    let objects = stack.objects(STREAM).await?;
    assert!(
        objects
            .iter()
            .all(|o| o.key.contains(&format!("/org={}/", customer.id)))
    );
    assert_eq!(
        objects.iter().map(|o| o.lines().len()).sum::<usize>(),
        events.len()
    );
    assert_eq!(other.code, Some(1));
    assert!(
        other
            .stderr
            .contains("b3RoZXI is not one of the admin-audit stream's organisations"),
        "{}",
        other.stderr
    );
    Ok(())
}
