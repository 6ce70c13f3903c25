//! Each function's role against what its code really asks of AWS. The functions run in-process
//! with the template's environment (its resources swapped for the test's), behind the fault
//! proxy, through every path that touches AWS: token refresh, small and multipart objects, an
//! unfinished upload found and aborted, a missing object, both OAuth identities installed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use aws_adapters::DynamoStateStore;
use collector_app::callback::{Callback, HttpContext, HttpRequest, RequestContext};
use collector_app::units::StreamUnits;
use collector_app::{Config, IdentitiesConfig, Orgs, StreamId, run_once};
use collector_core::identity::IdentityUse;
use collector_core::ports::{OAuthStateStore, PendingAuthorisation};
use collector_core::{IdentityName, StopReason, Timestamp};
use integration_tests::fault_proxy::Fault;
use integration_tests::stack::{SimTime, sim_org_id, sim_stream, stream_scope};
use integration_tests::{Stack, StackOptions};
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use tokio::time::Instant;
use webex_sim::GenerateSpec;

use crate::aws_calls::{EVENTS_BUCKET, Names, STATE_TABLE, requests};
use crate::iam::{Request, check_policy};
use crate::template::{Function, Template, secret_arn};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// S3's smallest part: with it, a few MiB of events take the multipart path.
const S3_MIN_PART: usize = 5 * 1024 * 1024;
/// Events in one hour: a little more than one part's worth of gzip (the simulator's events
/// compress to about 97, 79 and 114 bytes each); more would only slow the test.
fn dense_hour(stream: StreamId) -> usize {
    match stream {
        StreamId::AdminAudit => 60_000,
        StreamId::SecurityAudit => 72_000,
        StreamId::ComplianceEvents => 52_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_audit_role_allows_exactly_what_its_runs_ask_of_aws() -> Result<()> {
    collector_policy(StreamId::AdminAudit).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_audit_role_allows_exactly_what_its_runs_ask_of_aws() -> Result<()> {
    collector_policy(StreamId::SecurityAudit).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_events_role_allows_exactly_what_its_runs_ask_of_aws() -> Result<()> {
    collector_policy(StreamId::ComplianceEvents).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_callback_role_allows_exactly_what_it_asks_of_aws() -> Result<()> {
    let template = Template::load();
    let function = function(&template, "oauth-callback")?;
    let requests = callback_calls(&function, &template).await?;
    assert_policy(&function, requests);
    Ok(())
}

#[test]
fn every_function_has_a_policy_test() {
    let template = Template::load();
    for function in template.functions().expect("functions") {
        assert!(
            StreamId::parse(&function.crate_name).is_some()
                || function.crate_name == "oauth-callback",
            "{}: no test above runs it against its policy",
            function.crate_name
        );
    }
}

fn function(template: &Template, crate_name: &str) -> Result<Function> {
    template
        .functions()
        .map_err(anyhow::Error::msg)?
        .into_iter()
        .find(|f| f.crate_name == crate_name)
        .with_context(|| format!("no function for {crate_name}"))
}

async fn collector_policy(stream: StreamId) -> Result<()> {
    let template = Template::load();
    let function = function(&template, stream.name())?;
    let mut requests = collector_calls(stream, &function, &template).await?;
    // What Lambda's event source mapping does with the role: poll the fan-out queue, delete
    // what the function finished, read the queue's attributes.
    if let Some(queue) = fan_out_queue(&function) {
        for action in [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ] {
            requests.push(Request::new(
                action,
                format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
            ));
        }
    }
    assert_policy(&function, requests);
    Ok(())
}

/// The logical id of the queue the template gives the function as `FANOUT_QUEUE_URL`.
fn fan_out_queue(function: &Function) -> Option<String> {
    let url = function.env.get("FANOUT_QUEUE_URL")?;
    url.rsplit('/').next().map(str::to_string)
}

/// The calls plus what Lambda itself does with the role: write the function's logs.
fn assert_policy(function: &Function, mut requests: Vec<Request>) {
    let stream = function
        .log_group_arn
        .replace(":*", ":log-stream:2026/11/22/[$LATEST]0");
    requests.push(Request::new("logs:CreateLogStream", stream.clone()));
    requests.push(Request::new("logs:PutLogEvents", stream));
    let problems = check_policy(&function.statements, &requests);
    assert!(
        problems.is_empty(),
        "{}: {problems:#?}",
        function.crate_name
    );
}

async fn collector_calls(
    stream: StreamId,
    function: &Function,
    template: &Template,
) -> Result<Vec<Request>> {
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    // The function's fan-out queue, when it has one, is the test's.
    let queue = match fan_out_queue(function) {
        Some(logical) => {
            let (url, _) = integration_tests::aws::create_fanout_queue(
                &stack.sdk,
                &format!("{logical}-{}", stack.table),
                Duration::from_secs(30),
            )
            .await?;
            Some((url, logical))
        }
        None => None,
    };
    let mut local = vec![
        ("INITIAL_LOOKBACK_DAYS", "1"),
        ("S3_FORCE_PATH_STYLE", "true"),
    ];
    if let Some((url, _)) = &queue {
        local.push(("FANOUT_QUEUE_URL", url));
    }
    let env = deployed_env(function, &stack, template, &local);
    let mut config = Config::from_lookup(|name| env.get(name).cloned())?;
    config.part_size = S3_MIN_PART;
    let collector = stack.collector_with(stream, &config)?;
    let now = stack.sim.now_ms();
    // GIVEN a first hour dense enough for a multipart upload, then a quiet day
    let generate = |count, from, to| {
        stack
            .sim
            .generate(sim_stream(stream), GenerateSpec::new(count, from, to))
    };
    let mut events = generate(
        dense_hour(stream),
        now - 24 * HOUR + 5 * MIN,
        now - 23 * HOUR - 5 * MIN,
    );
    events.extend(generate(300, now - 23 * HOUR, now - 30 * MIN));
    let proxy = stack.proxy.as_ref().context("proxy")?;
    // WHEN the first run cannot complete its upload (as if it were killed there)
    proxy.set_rule(|call| {
        (call.method == "POST" && call.query.contains("uploadId=")).then_some(Fault::Refuse(500))
    });
    let deadline = || Instant::now() + Duration::from_secs(300);
    let failed = run_once(&collector, deadline()).await;
    ensure!(
        failed.is_err(),
        "no window needed a multipart upload (raise dense_hour): {failed:?}"
    );
    ensure!(
        stack.open_uploads().await? == 1,
        "an unfinished upload is left"
    );
    proxy.clear_rule();
    // THEN the next runs abort it, collect the window again and the rest of the day
    let mut caught_up = false;
    for _ in 0..5 {
        if run_once(&collector, deadline()).await?.stopped == StopReason::CaughtUp {
            caught_up = true;
            break;
        }
    }
    ensure!(caught_up, "{stream} did not catch up");
    stack.assert_all_landed_once(stream, &events).await?;
    // AND with several organisations, a scheduled run sends them to its queue
    if queue.is_some() {
        let mut several = config.clone();
        several.orgs = Orgs::List(vec![
            sim_org_id(&stack.sim),
            webex_sim::SimOrg::customer(1).id,
        ]);
        let units = StreamUnits::new(
            stream,
            &several,
            &stack.collector_sdk,
            Arc::new(SimTime(stack.sim.clone())),
        )?;
        let list = units.units(None, deadline()).await?;
        ensure!(
            list.len() == 2 && units.fans_out(),
            "{stream}: two units to send"
        );
        units.enqueue(&list).await?;
    }
    let mut names = names(&stack, template);
    names.queues.extend(queue);
    let mut all = Vec::new();
    for call in proxy.calls() {
        all.extend(requests(&call, &names).map_err(anyhow::Error::msg)?);
    }
    for expected in [
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "secretsmanager:PutSecretValue",
    ] {
        ensure!(
            all.iter().any(|r| r.action == expected),
            "{stream}: the scenario never needed {expected}"
        );
    }
    Ok(all)
}

async fn callback_calls(function: &Function, template: &Template) -> Result<Vec<Request>> {
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    let env = deployed_env(
        function,
        &stack,
        template,
        &[("S3_FORCE_PATH_STYLE", "true")],
    );
    let config = IdentitiesConfig::from_lookup(|name| env.get(name).cloned())?;
    let callback = Callback::new(
        &config,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    let states = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for (n, identity) in [IdentityName::ADMIN, IdentityName::COMPLIANCE]
        .into_iter()
        .enumerate()
    {
        // GIVEN `webexctl auth url` stored a one-time state, and the person accepted
        let state = format!("{:064x}", n + 1);
        let expires = Timestamp::from_millis(stack.sim.now_ms() + 10 * MIN);
        let pending = PendingAuthorisation {
            expected_email: None,
            scopes: IdentityUse::by_default(&identity).requested_scopes(),
            identity: identity.clone(),
        };
        states.put_oauth_state(&state, &pending, expires).await?;
        let secret = stack.secret(identity.as_str()).await?;
        let consent = browser
            .get(format!("{}/authorize", stack.sim.base_url()))
            .query(&[
                ("response_type", "code"),
                (
                    "client_id",
                    secret["client_id"].as_str().unwrap_or_default(),
                ),
                (
                    "redirect_uri",
                    secret["redirect_uri"].as_str().unwrap_or_default(),
                ),
                ("scope", stream_scope(identity.as_str())),
                ("state", &state),
            ])
            .send()
            .await?;
        let location = consent
            .headers()
            .get("location")
            .context("consent redirects")?
            .to_str()?;
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        // WHEN the redirect reaches the callback
        let request = HttpRequest {
            raw_query_string: query.to_string(),
            request_context: RequestContext {
                http: HttpContext {
                    method: "GET".into(),
                },
            },
        };
        let page = callback
            .handle(LambdaEvent::new(request, LambdaContext::default()))
            .await?;
        // THEN the identity is authorised
        ensure!(page.status_code == 200, "{identity}: {}", page.body);
    }
    let names = names(&stack, template);
    let proxy = stack.proxy.as_ref().context("proxy")?;
    let mut all = Vec::new();
    for call in proxy.calls() {
        all.extend(requests(&call, &names).map_err(anyhow::Error::msg)?);
    }
    // The tokens are stored under each identity's token lock, as the collectors store theirs:
    // the role must allow taking and releasing exactly those two items.
    for identity in ["admin", "compliance"] {
        let lock = format!("lock#token#{identity}");
        for action in ["dynamodb:PutItem", "dynamodb:DeleteItem"] {
            ensure!(
                all.iter().any(|r| r.action == action
                    && r.context.get("dynamodb:LeadingKeys") == Some(&vec![lock.clone()])),
                "the callback never needed {action} on {lock}"
            );
        }
    }
    Ok(all)
}

/// The secret that the template creates for `identity` (its initial value names the scope).
fn secret_of(template: &Template, identity: &str) -> String {
    template
        .resources("AWS::SecretsManager::Secret")
        .into_iter()
        .find(|(_, secret)| {
            secret["Properties"]["SecretString"]
                .as_str()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                .is_some_and(|v| v["scopes"] == stream_scope(identity))
        })
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no secret of the {identity} identity"))
}

fn names(stack: &Stack, template: &Template) -> Names {
    Names {
        bucket: stack.bucket.clone(),
        table: stack.table.clone(),
        secrets: ["admin", "compliance"]
            .into_iter()
            .map(|p| (stack.secret_id(p).to_string(), secret_of(template, p)))
            .collect(),
        queues: BTreeMap::new(),
    }
}

/// The function's environment as the template sets it, with the template's resources replaced
/// by the test's and Webex by the simulator.
fn deployed_env(
    function: &Function,
    stack: &Stack,
    template: &Template,
    local: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut physical: BTreeMap<String, String> = BTreeMap::from([
        (EVENTS_BUCKET.to_string(), stack.bucket.clone()),
        (STATE_TABLE.to_string(), stack.table.clone()),
    ]);
    for identity in ["admin", "compliance"] {
        physical.insert(
            secret_arn(&secret_of(template, identity)),
            stack.secret_id(identity).to_string(),
        );
    }
    let mut env: BTreeMap<String, String> = function
        .env
        .iter()
        .map(|(name, value)| (name.clone(), physical.get(value).unwrap_or(value).clone()))
        .collect();
    if env.contains_key("WEBEX_API_URL") {
        env.insert("WEBEX_API_URL".into(), stack.sim.base_url());
    }
    for (name, value) in local {
        env.insert(name.to_string(), value.to_string());
    }
    env
}
