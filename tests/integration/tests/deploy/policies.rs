//! Each function's role against what its code really asks of AWS. The functions run in-process
//! with the template's environment (its resources swapped for the test's), behind the fault
//! proxy, through every path that touches AWS: token refresh, small and multipart objects, an
//! unfinished upload found and aborted, a missing object, both OAuth identities installed. Each
//! runs twice: configured by its variables (no collector document: reading it answers 404), and
//! by a document whose streams and identities are named in the function's families but not as
//! its defaults (`admin-audit-partner` read with `admin-partner`), as the validator allows.
//! `http-sources`, which collects only a document's streams, finds none at its cold start, then
//! runs with a document of streams in each of its families (`integration_tests::sources`:
//! `entra-…`, `secure-endpoint-eu`, `http-…`), each read with an identity whose secret is the
//! deployment's `{stack}/sources/{identity}`, through its fan-out queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use aws_adapters::{DynamoStateStore, SecretsManagerStore, SqsQueue};
use collector_app::callback::{Callback, HttpContext, HttpRequest, RequestContext};
use collector_app::document::{Document, Source};
use collector_app::document_location::{DocumentLocation, Fetched, VARIABLE as COLLECTOR_CONFIG};
use collector_app::fanout::UnitMessage;
use collector_app::registrar::{Registrar, RegistrarConfig};
use collector_app::units::{Selection, StreamUnits};
use collector_app::webhooks::{Receive, ReceiverConfig, Write, WriterConfig};
use collector_app::{Config, Identities, IdentitiesConfig, Orgs, StreamId, run_once};
use collector_core::identity::IdentityUse;
use collector_core::ports::{OAuthStateStore, PendingAuthorisation};
use collector_core::{IdentityName, StopReason, Timestamp};
use integration_tests::clock::ManualClock;
use integration_tests::fault_proxy::Fault;
use integration_tests::sources;
use integration_tests::stack::{SIM_CLIENT_ID, SimTime, sim_org_id, sim_stream, stream_scope};
use integration_tests::{Stack, StackOptions, webhooks};
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use tokio::time::Instant;
use webex_sim::GenerateSpec;

use crate::aws_calls::{CONFIG_BUCKET, EVENTS_BUCKET, Names, STATE_TABLE, requests};
use crate::iam::{Request, check_policy};
use crate::template::{ACCOUNT, Function, REGION, STACK, Template, secret_arn};

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

/// Each function's stream in the test's collector document, and the identity it reads with:
/// named in the function's families (what its role covers), not as the defaults.
fn document_stream(stream: StreamId) -> (&'static str, &'static str) {
    match stream {
        StreamId::AdminAudit => ("admin-audit-partner", "admin-partner"),
        StreamId::SecurityAudit => ("security-audit-partner", "admin-partner"),
        StreamId::ComplianceEvents => ("compliance-events-legal", "compliance-legal"),
    }
}

/// The document's identities: one of each family.
const DOCUMENT_IDENTITIES: [&str; 2] = ["admin-partner", "compliance-legal"];

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
async fn the_http_sources_role_allows_exactly_what_its_runs_ask_of_aws() -> Result<()> {
    let template = Template::load();
    let function = function(&template, Selection::OtherSources.name())?;
    let mut requests = sources_calls(&function, &template).await?;
    requests.extend(event_source_calls(&function));
    assert_policy(&function, requests);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_callback_role_allows_exactly_what_it_asks_of_aws() -> Result<()> {
    let template = Template::load();
    let function = function(&template, "oauth-callback")?;
    let mut requests = callback_calls(&function, &template).await?;
    requests.extend(document_callback_calls(&function, &template).await?);
    assert_policy(&function, requests);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_receiver_role_allows_exactly_what_it_asks_of_aws() -> Result<()> {
    let template = Template::load();
    let function = function(&template, "webhook-receiver")?;
    let (receiver, _) = webhook_calls(&template).await?;
    assert_policy(&function, receiver);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_writer_role_allows_exactly_what_it_asks_of_aws() -> Result<()> {
    let template = Template::load();
    let function = function(&template, "webhook-writer")?;
    let (_, mut writer) = webhook_calls(&template).await?;
    writer.extend(queue_calls("WebhookQueue"));
    assert_policy(&function, writer);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_registrar_role_allows_exactly_what_it_asks_of_aws() -> Result<()> {
    let template = Template::load();
    let function = function(&template, "webhook-registrar")?;
    let requests = registrar_calls(&function, &template).await?;
    assert_policy(&function, requests);
    Ok(())
}

#[test]
fn every_function_has_a_policy_test() {
    let template = Template::load();
    for function in template.functions().expect("functions") {
        assert!(
            StreamId::parse(&function.crate_name).is_some()
                || [
                    "oauth-callback",
                    "webhook-receiver",
                    "webhook-registrar",
                    "webhook-writer",
                    Selection::OtherSources.name(),
                ]
                .contains(&function.crate_name.as_str()),
            "{}: no test above runs it against its policy",
            function.crate_name
        );
    }
}

/// The roles' families, from the other side: what belongs to another function's streams or
/// to the other identity family is refused, by the same evaluator that allows the runs above.
/// Each refusal sits beside an allowed request of the same shape, so a case that could never
/// be allowed (a typo in an ARN) shows up as a failure, not as a pass.
#[test]
fn each_role_refuses_what_belongs_to_another_family() {
    let template = Template::load();
    let secret = |identity: &str, suffix: &str| {
        format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{STACK}/webex/{identity}-{suffix}"
        )
    };
    let item = |pk: &str| {
        Request::new(
            "dynamodb:GetItem",
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STATE_TABLE}"),
        )
        .with("dynamodb:LeadingKeys", pk)
    };
    let event_object = |stream: &str| {
        Request::new(
            "s3:PutObject",
            format!(
                "arn:aws:s3:::{EVENTS_BUCKET}/webex/{stream}/org=O/dt=2026-11-22/hour=10/x.ndjson.gz"
            ),
        )
    };
    let read_secret = |arn: String| Request::new("secretsmanager:GetSecretValue", arn);
    // A secret of the sources' identities, as the deployment names them.
    let source_secret = |identity: &str| {
        format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{STACK}/sources/{identity}-Xy12Zw"
        )
    };
    let collectors_share = |stream: &str, identity: &str| {
        vec![
            (read_secret(secret(identity, "Xy12Zw")), true),
            (
                read_secret(secret(&format!("{identity}-eu"), "Xy12Zw")),
                true,
            ),
            (item(&format!("cursor#{stream}#O")), true),
            (item(&format!("cursor#{stream}-partner#O")), true),
            (item(&format!("lease#{stream}-partner#O")), true),
            (item(&format!("due#{stream}-partner")), true),
            (item(&format!("lock#token#{identity}-eu")), true),
            (item(&format!("pace#{identity}-eu")), true),
            (event_object(&format!("{stream}-partner")), true),
            (
                Request::new(
                    "s3:GetObject",
                    format!("arn:aws:s3:::{CONFIG_BUCKET}/collector.toml"),
                ),
                true,
            ),
            // Another object of the document's bucket, or a listing beyond the document.
            (
                Request::new(
                    "s3:GetObject",
                    format!("arn:aws:s3:::{CONFIG_BUCKET}/collector.toml.bak"),
                ),
                false,
            ),
            (
                Request::new("s3:ListBucket", format!("arn:aws:s3:::{CONFIG_BUCKET}"))
                    .with("s3:prefix", ""),
                false,
            ),
            // Names outside every family: the validator refuses them, the role too.
            (read_secret(secret("partner", "Xy12Zw")), false),
            (item("lock#token#partner"), false),
            (item("pace#partner"), false),
            (item(&format!("cursor#partner-{stream}#O")), false),
            // Another stack's secret of the same name.
            (
                read_secret(format!(
                    "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other/webex/{identity}-Xy12Zw"
                )),
                false,
            ),
        ]
    };
    let mut cases: Vec<(&str, Request, bool)> = Vec::new();
    let mut add = |function: &'static str, list: Vec<(Request, bool)>| {
        cases.extend(list.into_iter().map(|(r, allowed)| (function, r, allowed)));
    };
    add("admin-audit", collectors_share("admin-audit", "admin"));
    add(
        "admin-audit",
        vec![
            (read_secret(secret("compliance", "Xy12Zw")), false),
            (read_secret(secret("compliance-legal", "Xy12Zw")), false),
            (item("cursor#compliance-events#O"), false),
            (item("cursor#security-audit#O"), false),
            (item("lease#compliance-events-legal#O"), false),
            (item("due#compliance-events"), false),
            (item("lock#token#compliance"), false),
            (item("pace#compliance"), false),
            (event_object("compliance-events"), false),
            (event_object("security-audit"), false),
            (event_object("partner-admin-audit"), false),
            // The other sources' secrets, streams and paces.
            (read_secret(source_secret("entra")), false),
            (item("cursor#entra-signins#-"), false),
            (item("pace#sources#amp"), false),
            (event_object("http-acme"), false),
        ],
    );
    add(
        "security-audit",
        collectors_share("security-audit", "admin"),
    );
    add(
        "security-audit",
        vec![
            (read_secret(secret("compliance", "Xy12Zw")), false),
            (item("cursor#admin-audit#O"), false),
            (item("cursor#compliance-events#O"), false),
            (item("lock#token#compliance"), false),
            (event_object("admin-audit"), false),
            (read_secret(source_secret("acme")), false),
            (item("lease#secure-endpoint#-"), false),
            (event_object("secure-endpoint"), false),
        ],
    );
    add(
        "compliance-events",
        collectors_share("compliance-events", "compliance"),
    );
    add(
        "compliance-events",
        vec![
            (read_secret(secret("admin", "Xy12Zw")), false),
            (read_secret(secret("admin-partner", "Xy12Zw")), false),
            (item("cursor#admin-audit#O"), false),
            (item("lock#token#admin"), false),
            (item("pace#admin"), false),
            (event_object("admin-audit"), false),
            (read_secret(source_secret("amp")), false),
            (item("due#http-acme"), false),
            (event_object("entra-signins"), false),
        ],
    );
    add(
        "http-sources",
        vec![
            (read_secret(source_secret("entra")), true),
            (read_secret(source_secret("secure-endpoint-eu")), true),
            (item("cursor#entra-signins#-"), true),
            (item("lease#entra#-"), true),
            (item("due#entra-audits"), true),
            (item("cursor#secure-endpoint#-"), true),
            (item("lease#secure-endpoint-eu#-"), true),
            (item("due#secure-endpoint"), true),
            (item("cursor#http-acme#eu"), true),
            (item("lease#http#-"), true),
            (item("due#http-logs"), true),
            (item("pace#sources#entra"), true),
            (event_object("entra-signins"), true),
            (event_object("secure-endpoint-eu"), true),
            (event_object("http-acme"), true),
            (
                Request::new(
                    "s3:GetObject",
                    format!("arn:aws:s3:::{CONFIG_BUCKET}/collector.toml"),
                ),
                true,
            ),
            // Webex's: its identities' secrets (a source identity's name under webex/ too),
            // token locks and paces, and its streams.
            (read_secret(secret("admin", "Xy12Zw")), false),
            (read_secret(secret("compliance-legal", "Xy12Zw")), false),
            (read_secret(secret("entra", "Xy12Zw")), false),
            (item("lock#token#entra"), false),
            (item("lock#token#admin"), false),
            (item("pace#entra"), false),
            (item("pace#admin"), false),
            (item("cursor#admin-audit#O"), false),
            (item("lease#security-audit#O"), false),
            (item("due#compliance-events"), false),
            (event_object("admin-audit"), false),
            (event_object("compliance-events"), false),
            // Names outside its families, and its secrets written: it only reads them.
            (item("cursor#graph-signins#-"), false),
            (event_object("signins"), false),
            (
                Request::new("secretsmanager:PutSecretValue", source_secret("entra")),
                false,
            ),
            // Another stack's secret of the same name.
            (
                read_secret(format!(
                    "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other/sources/entra-Xy12Zw"
                )),
                false,
            ),
        ],
    );
    add(
        "oauth-callback",
        vec![
            (read_secret(secret("admin-partner", "Xy12Zw")), true),
            (read_secret(secret("compliance-legal", "Xy12Zw")), true),
            (read_secret(secret("partner", "Xy12Zw")), false),
            (read_secret(source_secret("entra")), false),
            (
                Request::new(
                    "dynamodb:PutItem",
                    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STATE_TABLE}"),
                )
                .with("dynamodb:LeadingKeys", "lock#token#compliance-legal"),
                true,
            ),
            (
                Request::new(
                    "dynamodb:PutItem",
                    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STATE_TABLE}"),
                )
                .with("dynamodb:LeadingKeys", "cursor#admin-audit#O"),
                false,
            ),
            (
                Request::new(
                    "dynamodb:PutItem",
                    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STATE_TABLE}"),
                )
                .with("dynamodb:LeadingKeys", "lock#token#partner"),
                false,
            ),
            (event_object("admin-audit"), false),
        ],
    );
    let webhook_object = format!(
        "arn:aws:s3:::{EVENTS_BUCKET}/webex/webhooks/org=O/dt=2026-11-22/hour=10/w.ndjson.gz"
    );
    let webhook_secret = secret_arn(&format!("{STACK}/webhooks"));
    add(
        "webhook-writer",
        vec![
            (item("webhook#0a1b2c"), true),
            (Request::new("s3:PutObject", webhook_object.clone()), true),
            // The collectors' state and objects, and the webhooks' secret.
            (item("cursor#compliance-events#O"), false),
            (item("lock#token#admin"), false),
            (event_object("compliance-events"), false),
            (event_object("webhooks-archive"), false),
            (read_secret(webhook_secret.clone()), false),
        ],
    );
    add(
        "webhook-registrar",
        vec![
            (read_secret(webhook_secret.clone()), true),
            (
                Request::new("secretsmanager:PutSecretValue", webhook_secret.clone()),
                true,
            ),
            (
                item("webhooks#Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmc"),
                true,
            ),
            // Another identity's tokens and lock, the writer's claims, the collectors' state.
            (read_secret(secret("compliance", "Xy12Zw")), false),
            (read_secret(secret("admin-partner", "Xy12Zw")), false),
            (item("lock#token#compliance"), false),
            (item("webhook#0a1b2c"), false),
            (item("cursor#admin-audit#O"), false),
            (event_object("admin-audit"), false),
        ],
    );
    add(
        "webhook-receiver",
        vec![
            (read_secret(webhook_secret.clone()), true),
            // It reads the signing secrets and queues: no identity, no state, no object.
            (
                Request::new("secretsmanager:PutSecretValue", webhook_secret.clone()),
                false,
            ),
            (read_secret(secret("admin", "Xy12Zw")), false),
            (item("webhook#0a1b2c"), false),
            (Request::new("s3:PutObject", webhook_object), false),
        ],
    );
    let mut wrong = Vec::new();
    for (crate_name, request, allowed) in cases {
        let function = function(&template, crate_name).expect("function");
        let refusal = format!("{} on {} ", request.action, request.resource);
        let refused = check_policy(&function.statements, std::slice::from_ref(&request))
            .iter()
            .any(|p| p.starts_with(&refusal) && p.ends_with("is not allowed"));
        if refused == allowed {
            wrong.push(format!(
                "{crate_name} {}: {} on {} {:?}",
                if allowed { "refuses" } else { "allows" },
                request.action,
                request.resource,
                request.context
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
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
    requests.extend(document_calls(stream, &function, &template).await?);
    requests.extend(event_source_calls(&function));
    assert_policy(&function, requests);
    Ok(())
}

/// What Lambda's event source mapping does with the role of a function with a fan-out queue.
fn event_source_calls(function: &Function) -> Vec<Request> {
    fan_out_queue(function)
        .map(|queue| queue_calls(&queue))
        .unwrap_or_default()
}

/// What Lambda's event source mapping does with the role of the function `queue` triggers:
/// poll the queue, delete what the function finished, read the queue's attributes.
fn queue_calls(queue: &str) -> Vec<Request> {
    [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    ]
    .into_iter()
    .map(|action| {
        Request::new(
            action,
            format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
        )
    })
    .collect()
}

/// What the webhook registrar asks of AWS with the template's variables, behind the proxy:
/// it reads the document at its cold start, refreshes the admin identity's token under its
/// lock, creates the webhooks and tells the receiver's secret, re-enables one Webex disabled
/// (the record of who is off, and the gap), rotates the signing secret, and reports status.
async fn registrar_calls(function: &Function, template: &Template) -> Result<Vec<Request>> {
    let (stack, config_bucket) = proxied_stack().await?;
    let secret_name = format!("webhooks-{}", stack.table);
    integration_tests::aws::create_secret(
        &stack.sdk,
        &secret_name,
        &serde_json::json!({"current": "registrar-policy-secret", "webhooks": [], "org_ids": []}),
    )
    .await?;
    let mut env = deployed_env(function, &stack, template, &config_bucket, &[]);
    let deployed_secret = env
        .insert("WEBHOOK_SECRET_ID".into(), secret_name.clone())
        .context("the template sets no WEBHOOK_SECRET_ID")?;
    let mut names = names(&stack, template, &config_bucket, false);
    names.secrets.insert(secret_name, deployed_secret);
    ensure!(
        read_document(&stack, &env).await?.is_none(),
        "no document pushed"
    );
    let clock = Arc::new(ManualClock::now());
    let config = RegistrarConfig::from_lookup(|name| env.get(name).cloned(), None)?;
    let registrar = Registrar::new(config, &stack.collector_sdk, clock.clone())?;
    let created = registrar.sync().await?;
    ensure!(created.created.len() == 4, "{created:?}");
    let off = stack.sim.webhooks()[0].id.clone();
    stack.sim.set_webhook_status(&off, "disabled");
    registrar.sync().await?;
    clock.advance(Duration::from_secs(6 * 60));
    let healed = registrar.sync().await?;
    ensure!(healed.new_gaps.len() == 1, "{healed:?}");
    registrar.rotate().await?;
    registrar.status().await?;
    calls_so_far(&stack, &names)
}

/// What the webhook receiver and writer ask of AWS, in-process with the template's variables
/// (its resources swapped for the test's) behind the proxy: the receiver reads its secret,
/// queues a delivery, and reads the secret again after a refusal (a rotation may be under
/// way); the writer claims the delivery and fails to write its object, then (its claim
/// lapsed) finds the object missing, claims it again and writes it, then reads the object back
/// when the message is redelivered. (receiver's requests, writer's requests)
async fn webhook_calls(template: &Template) -> Result<(Vec<Request>, Vec<Request>)> {
    const SECRET: &str = "policy-test-signing-secret";
    let (stack, config_bucket) = proxied_stack().await?;
    let proxy = stack.proxy.as_ref().context("proxy")?;
    let receiver = function(template, "webhook-receiver")?;
    let writer = function(template, "webhook-writer")?;
    let secret_name = format!("webhooks-{}", stack.table);
    let org = sim_org_id(&stack.sim);
    integration_tests::aws::create_secret(
        &stack.sdk,
        &secret_name,
        &serde_json::json!({"current": SECRET, "webhooks": ["hook-1"], "org_ids": [org]}),
    )
    .await?;
    let (queue_url, _) = integration_tests::aws::create_queue(
        &stack.sdk,
        &format!("WebhookQueue-{}", stack.table),
        Duration::from_secs(30),
        10,
    )
    .await?;
    let mut names = names(&stack, template, &config_bucket, false);
    let variable = |f: &Function, name: &str| f.env.get(name).cloned().unwrap_or_default();
    names.secrets.insert(
        secret_name.clone(),
        variable(&receiver, "WEBHOOK_SECRET_ID"),
    );
    names
        .queues
        .insert(queue_url.clone(), "WebhookQueue".to_string());
    let physical = BTreeMap::from([
        (variable(&receiver, "WEBHOOK_SECRET_ID"), secret_name),
        (variable(&receiver, "WEBHOOK_QUEUE_URL"), queue_url.clone()),
        (EVENTS_BUCKET.to_string(), stack.bucket.clone()),
        (STATE_TABLE.to_string(), stack.table.clone()),
    ]);
    let deployed = |f: &Function, name: &str| {
        if name == "S3_FORCE_PATH_STYLE" {
            return Some("true".to_string());
        }
        f.env
            .get(name)
            .map(|v| physical.get(v).cloned().unwrap_or_else(|| v.clone()))
    };
    let sdk = &stack.collector_sdk;
    let clock = Arc::new(ManualClock::now());

    let config = ReceiverConfig::from_lookup(|name| deployed(&receiver, name))?;
    let receive = Receive::new(
        SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(sdk), &config.secret_id),
        SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.queue_url),
        clock.clone(),
    )
    .await?;
    let body = format!(
        r#"{{"id":"hook-1","resource":"messages","event":"created","orgId":"{org}","data":{{"id":"m-1"}}}}"#
    )
    .into_bytes();
    let answer = receive
        .handle(webhooks::request(
            "POST",
            &body,
            webhooks::signed(&body, SECRET),
            false,
        ))
        .await;
    ensure!(answer.status_code == 200, "{}", answer.status_code);
    clock.advance(Duration::from_secs(11));
    let forged = receive
        .handle(webhooks::request(
            "POST",
            &body,
            webhooks::signed(&body, "guess"),
            false,
        ))
        .await;
    ensure!(forged.status_code == 401, "{}", forged.status_code);
    let receiver_calls = calls_so_far(&stack, &names)?;

    let config = WriterConfig::from_lookup(|name| deployed(&writer, name))?;
    let write = Write::new(&config, sdk, clock.clone());
    let messages = aws_sdk_sqs::Client::new(&stack.sdk)
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await?
        .messages()
        .to_vec();
    ensure!(messages.len() == 1, "{} messages queued", messages.len());
    let event = serde_json::json!({"Records": messages.iter().map(|m| serde_json::json!({
        "eventSource": "aws:sqs",
        "messageId": m.message_id(),
        "body": m.body(),
    })).collect::<Vec<_>>()});
    let failed =
        |answer: serde_json::Value| answer["batchItemFailures"].as_array().map_or(0, Vec::len);
    proxy.set_rule(|call| {
        (call.method == "PUT" && call.target.is_empty()).then_some(Fault::Refuse(500))
    });
    ensure!(
        failed(write.handle(&event).await) == 1,
        "the write was refused"
    );
    proxy.clear_rule();
    clock.advance(config.claim_lease + Duration::from_secs(1));
    ensure!(
        failed(write.handle(&event).await) == 0,
        "written after its claim lapsed"
    );
    ensure!(
        failed(write.handle(&event).await) == 0,
        "a redelivery is durable"
    );
    let writer_calls = calls_so_far(&stack, &names)?
        .into_iter()
        .skip(receiver_calls.len())
        .collect();
    Ok((receiver_calls, writer_calls))
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

/// A stack behind the fault proxy, with an empty bucket standing for `ConfigBucket`.
async fn proxied_stack() -> Result<(Stack, String)> {
    let stack = Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await?;
    let config_bucket = format!("config-{}", stack.table);
    integration_tests::aws::create_bucket(&stack.sdk, &config_bucket).await?;
    Ok((stack, config_bucket))
}

/// The function's fan-out queue, when it has one, made for the test: its URL and logical id.
async fn test_queue(stack: &Stack, function: &Function) -> Result<Option<(String, String)>> {
    let Some(logical) = fan_out_queue(function) else {
        return Ok(None);
    };
    let (url, _) = integration_tests::aws::create_fanout_queue(
        &stack.sdk,
        &format!("{logical}-{}", stack.table),
        Duration::from_secs(30),
    )
    .await?;
    Ok(Some((url, logical)))
}

/// What a function does with `COLLECTOR_CONFIG` (`collector_app::live`), through the proxy:
/// reads the document where the template says at its cold start, then, before its next
/// invocation, looks whether it changed (a HeadObject with the version read; without one, a
/// read again). A missing document must be answered 404 (no document: the variables configure
/// the function), which S3 does only for a caller that may list the key. The document, if any.
async fn read_document(stack: &Stack, env: &BTreeMap<String, String>) -> Result<Option<Document>> {
    let location = DocumentLocation::parse(
        env.get(COLLECTOR_CONFIG)
            .with_context(|| format!("the template sets no {COLLECTOR_CONFIG}"))?,
    )?;
    ensure!(
        location.bucket().is_some(),
        "{COLLECTOR_CONFIG}: a Lambda reads the document from S3, not {location}"
    );
    let s3 = aws_adapters::s3_client(&stack.collector_sdk, true);
    let (document, version) = match location.fetch(&s3, None).await? {
        Fetched::Read { document, version } => (Some(document), version),
        Fetched::Missing | Fetched::Unchanged => (None, None),
    };
    let again = location.fetch(&s3, version.as_deref()).await?;
    ensure!(
        matches!(
            (&document, &again),
            (Some(_), Fetched::Unchanged) | (None, Fetched::Missing)
        ),
        "{location} looked at again: {again:?}"
    );
    Ok(document)
}

/// The requests every call through the proxy so far stands for.
fn calls_so_far(stack: &Stack, names: &Names) -> Result<Vec<Request>> {
    let proxy = stack.proxy.as_ref().context("proxy")?;
    let mut all = Vec::new();
    for call in proxy.calls() {
        all.extend(requests(&call, names).map_err(anyhow::Error::msg)?);
    }
    Ok(all)
}

/// Whether `all` reads the document: found (GetObject) or, when `missing`, answered 404 (the
/// ListBucket on its key that S3 evaluates to say so).
fn reads_the_document(all: &[Request], missing: bool) -> bool {
    let bucket = format!("arn:aws:s3:::{CONFIG_BUCKET}");
    let read = all
        .iter()
        .any(|r| r.action == "s3:GetObject" && r.resource == format!("{bucket}/collector.toml"));
    let listed = all.iter().any(|r| {
        r.action == "s3:ListBucket"
            && r.resource == bucket
            && r.context.get("s3:prefix") == Some(&vec!["collector.toml".to_string()])
    });
    read && listed == missing
}

async fn collector_calls(
    stream: StreamId,
    function: &Function,
    template: &Template,
) -> Result<Vec<Request>> {
    let (stack, config_bucket) = proxied_stack().await?;
    let queue = test_queue(&stack, function).await?;
    let mut local = vec![
        ("INITIAL_LOOKBACK_DAYS", "1"),
        ("S3_FORCE_PATH_STYLE", "true"),
    ];
    if let Some((url, _)) = &queue {
        local.push(("FANOUT_QUEUE_URL", url));
    }
    let env = deployed_env(function, &stack, template, &config_bucket, &local);
    // GIVEN no collector document: the cold start finds none, the variables configure it
    ensure!(read_document(&stack, &env).await?.is_none(), "a document?");
    let mut config = Config::from_lookup(|name| env.get(name).cloned())?;
    config.part_size = S3_MIN_PART;
    let collector = stack.collector_with(stream, &config)?;
    let now = stack.sim.now_ms();
    // AND a first hour dense enough for a multipart upload, then a quiet day
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
        let messages: Vec<UnitMessage> = list.iter().filter_map(UnitMessage::of).collect();
        ensure!(
            messages.len() == 2 && units.fans_out(),
            "{stream}: two units to send"
        );
        units.enqueue(&messages).await?;
    }
    let mut names = names(&stack, template, &config_bucket, false);
    names.queues.extend(queue);
    let all = calls_so_far(&stack, &names)?;
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
    ensure!(
        reads_the_document(&all, true),
        "{stream}: the missing document was not read as missing"
    );
    Ok(all)
}

/// The collector run by its schedule, as Lambda runs it, configured by a collector document
/// whose stream of this function (and every other's) has a name of the family but not the
/// default, read with an identity of the family but not the default.
async fn document_calls(
    stream: StreamId,
    function: &Function,
    template: &Template,
) -> Result<Vec<Request>> {
    let (mut stack, config_bucket) = proxied_stack().await?;
    let queue = test_queue(&stack, function).await?;
    let mut local = vec![
        ("INITIAL_LOOKBACK_DAYS", "1"),
        ("S3_FORCE_PATH_STYLE", "true"),
    ];
    if let Some((url, _)) = &queue {
        local.push(("FANOUT_QUEUE_URL", url));
    }
    let env = deployed_env(function, &stack, template, &config_bucket, &local);
    // GIVEN a document pushed where the template says, with identities authorised (each its
    // own secret, as `webexctl auth init` and the callback leave it)
    pushed_document(&mut stack, &env).await?;
    let now = stack.sim.now_ms();
    stack.sim.generate(
        sim_stream(stream),
        GenerateSpec::new(300, now - 23 * HOUR, now - 30 * MIN),
    );
    // WHEN the function starts (reading the document) and its schedule invokes it
    let document = read_document(&stack, &env)
        .await?
        .context("no document read")?;
    authorise_document_identities(&stack, &document, true).await?;
    let config = Config::from_lookup(|name| env.get(name).cloned())?;
    let units = StreamUnits::configured(
        stream,
        &config,
        Some(&document),
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    let mut context = LambdaContext::default();
    // Milliseconds left, as a deadline before the year 2000 is read.
    context.deadline = 120_000;
    let scheduled =
        serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let answer = collector_app::lambda::handle(&units, LambdaEvent::new(scheduled, context))
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.kind, e.message))?;
    // THEN the document's stream was collected, under its own name
    let (name, _) = document_stream(stream);
    ensure!(answer["stream"] == name, "{stream}: {answer}");
    let objects = stack.objects_of(name).await?;
    ensure!(!objects.is_empty(), "{name}: nothing was written");
    let mut names = names(&stack, template, &config_bucket, true);
    names.queues.extend(queue);
    let all = calls_so_far(&stack, &names)?;
    ensure!(
        reads_the_document(&all, false),
        "{stream}: the document was not read"
    );
    let (_, identity) = document_stream(stream);
    let secret = deployed_secret_arn(template, identity);
    ensure!(
        all.iter()
            .any(|r| r.action == "secretsmanager:PutSecretValue" && r.resource == secret),
        "{stream}: the run did not refresh the token of {identity}, its document identity"
    );
    Ok(all)
}

/// The test's collector document, with a stream of each function (see [`document_stream`])
/// over the simulator's organisation, written to `COLLECTOR_CONFIG` as `webexctl config push`
/// writes it.
async fn pushed_document(stack: &mut Stack, env: &BTreeMap<String, String>) -> Result<()> {
    let mut text = String::new();
    for identity in DOCUMENT_IDENTITIES {
        let secret = stack.add_identity(identity);
        text.push_str(&format!(
            "[identities.{identity}]\nkind = \"webex_oauth\"\nsecret = \"{secret}\"\n\n"
        ));
    }
    let org = sim_org_id(&stack.sim);
    for stream in StreamId::ALL {
        let (name, identity) = document_stream(stream);
        text.push_str(&format!(
            "[[streams]]\nname = \"{name}\"\nsource = \"{}\"\nidentity = \"{identity}\"\n\
             orgs = [\"{org}\"]\n\n",
            Source::Preset(stream).name()
        ));
    }
    let location = DocumentLocation::parse(env.get(COLLECTOR_CONFIG).context(COLLECTOR_CONFIG)?)?;
    location
        .store(&text, &integration_tests::aws::s3(&stack.sdk))
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

/// `http-sources` as Lambda runs it, through the proxy. Its cold start finds no document and the
/// function does not start (it has nothing to collect). Then, with a document pushed: a first
/// run whose uploads cannot complete (as if it were killed there), a scheduled run that sends
/// each stream to the fan-out queue, and the queue's runs, which abort the unfinished uploads
/// and collect every stream.
async fn sources_calls(function: &Function, template: &Template) -> Result<Vec<Request>> {
    let (stack, config_bucket) = proxied_stack().await?;
    let (queue_url, queue_id) = test_queue(&stack, function)
        .await?
        .context("http-sources has no fan-out queue")?;
    // One window at a time: a stream's run stops at its first upload that fails.
    let local = [
        ("INITIAL_LOOKBACK_DAYS", "1"),
        ("BACKFILL_WINDOWS", "1"),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("FANOUT_QUEUE_URL", queue_url.as_str()),
    ];
    let env = deployed_env(function, &stack, template, &config_bucket, &local);
    let config = || Config::from_lookup(|name| env.get(name).cloned());
    let clock = || Arc::new(SimTime(stack.sim.clone()));
    // GIVEN no document yet: the cold start finds none, and the function does not start
    ensure!(read_document(&stack, &env).await?.is_none(), "a document?");
    let refused = StreamUnits::configured(
        Selection::OtherSources,
        &config()?,
        None,
        &stack.collector_sdk,
        clock(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    ensure!(
        refused.contains(COLLECTOR_CONFIG),
        "it starts without a document: {refused:?}"
    );
    // AND then a document with a stream of each family, its identities' secrets in place, and
    // a day of events on each API
    let prefix = format!("sources-{}", stack.table);
    sources::create_secrets(&stack.sdk, &prefix).await?;
    let location = DocumentLocation::parse(env.get(COLLECTOR_CONFIG).context(COLLECTOR_CONFIG)?)?;
    location
        .store(
            &sources::document(&stack.sim.origin(), &prefix),
            &integration_tests::aws::s3(&stack.sdk),
        )
        .await
        .map_err(anyhow::Error::msg)?;
    stack.sim.configure_apis(|apis| apis.graph.throttle = None);
    let now = stack.sim.now_ms();
    let mut generated = BTreeMap::new();
    for (name, api) in sources::STREAMS {
        let events = stack
            .sim
            .generate_api(api, GenerateSpec::new(120, now - 23 * HOUR, now - 30 * MIN));
        generated.insert(name, events.len());
    }
    // WHEN the function starts (reading the document) and its first run cannot complete an
    // upload: every object is uploaded in parts here, however small
    let document = read_document(&stack, &env)
        .await?
        .context("no document read")?;
    let mut in_parts = config()?;
    in_parts.part_size = 1;
    let first = StreamUnits::configured(
        Selection::OtherSources,
        &in_parts,
        Some(&document),
        &stack.collector_sdk,
        clock(),
    )?;
    let proxy = stack.proxy.as_ref().context("proxy")?;
    proxy.set_rule(|call| {
        (call.method == "POST" && call.query.contains("uploadId=")).then_some(Fault::Refuse(500))
    });
    let deadline = || Instant::now() + Duration::from_secs(120);
    let list = first.units(None, deadline()).await?;
    let outcome = first.run(list, deadline()).await;
    proxy.clear_rule();
    ensure!(
        outcome.failed.len() == sources::STREAMS.len(),
        "every stream's upload was cut off: {outcome:?}"
    );
    ensure!(
        stack.open_uploads().await? == sources::STREAMS.len(),
        "an unfinished upload is left per stream"
    );
    // THEN, after the next cold start, the scheduled run sends each stream to the queue
    let units = StreamUnits::configured(
        Selection::OtherSources,
        &config()?,
        Some(&document),
        &stack.collector_sdk,
        clock(),
    )?;
    let mut context = LambdaContext::default();
    // Milliseconds left, as a deadline before the year 2000 is read.
    context.deadline = 120_000;
    let scheduled =
        serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let answer = collector_app::lambda::handle(&units, LambdaEvent::new(scheduled, context))
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.kind, e.message))?;
    ensure!(answer["enqueued"] == sources::STREAMS.len(), "{answer}");
    // AND the queue's runs abort the unfinished uploads and collect every event once
    let units = &units;
    let drained = integration_tests::event_source::drain(
        &aws_sdk_sqs::Client::new(&stack.sdk),
        &queue_url,
        1,
        1,
        Duration::from_secs(300),
        move |event| async move {
            let mut context = LambdaContext::default();
            context.deadline = 120_000;
            collector_app::lambda::handle(units, LambdaEvent::new(event, context))
                .await
                .map_err(|e| format!("{}: {}", e.kind, e.message))
        },
    )
    .await?;
    ensure!(
        drained.deleted == sources::STREAMS.len() && drained.returned == 0,
        "{drained:?}"
    );
    for (name, count) in &generated {
        let mut lines = 0;
        for object in stack.objects_of(name).await? {
            lines += object.lines().len();
        }
        ensure!(lines == *count, "{name}: {lines} lines of {count} events");
    }
    ensure!(
        stack.open_uploads().await? == 0,
        "an unfinished upload is left"
    );
    let mut names = names(&stack, template, &config_bucket, false);
    names.queues.insert(queue_url, queue_id);
    for identity in sources::IDENTITIES {
        names.secrets.insert(
            format!("{prefix}/{identity}"),
            secret_arn(&format!("{STACK}/sources/{identity}")),
        );
    }
    let all = calls_so_far(&stack, &names)?;
    for expected in [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:ListBucket",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
    ] {
        ensure!(
            all.iter().any(|r| r.action == expected),
            "http-sources: the scenario never needed {expected}"
        );
    }
    ensure!(
        reads_the_document(&all, true),
        "http-sources: the document was not read, missing and then there"
    );
    Ok(all)
}

/// Creates each document identity's secret as `webexctl auth init` leaves it (the simulator's
/// client, the organisation), and with `tokens`, a refresh token as the callback leaves it.
async fn authorise_document_identities(
    stack: &Stack,
    document: &Document,
    tokens: bool,
) -> Result<()> {
    let identities = Identities::from_document(document);
    for identity in identities.iter() {
        let scopes = identity.used.requested_scopes();
        let mut secret = serde_json::json!({
            "client_id": SIM_CLIENT_ID,
            "client_secret": stack.sim.config().client_secret,
            "redirect_uri": "http://127.0.0.1/oauth/callback",
            "org_id": sim_org_id(&stack.sim),
            "scopes": scopes,
        });
        if tokens {
            let scopes: Vec<&str> = scopes.split(' ').collect();
            secret["refresh_token"] = stack.sim.issue_refresh_token(&scopes).into();
        }
        integration_tests::aws::create_secret(&stack.sdk, &identity.secret_id, &secret).await?;
    }
    Ok(())
}

async fn callback_calls(function: &Function, template: &Template) -> Result<Vec<Request>> {
    let (stack, config_bucket) = proxied_stack().await?;
    let env = deployed_env(
        function,
        &stack,
        template,
        &config_bucket,
        &[("S3_FORCE_PATH_STYLE", "true")],
    );
    // GIVEN no collector document: the variables name the identities
    let document = read_document(&stack, &env).await?;
    ensure!(document.is_none(), "a document?");
    let config = IdentitiesConfig::from_lookup(|name| env.get(name).cloned(), document.as_ref())?;
    let callback = Callback::new(
        &config,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    for (n, identity) in [IdentityName::ADMIN, IdentityName::COMPLIANCE]
        .into_iter()
        .enumerate()
    {
        let scopes = IdentityUse::by_default(&identity).requested_scopes();
        authorise(&stack, &callback, &identity, &scopes, n + 1).await?;
    }
    let names = names(&stack, template, &config_bucket, false);
    let all = calls_so_far(&stack, &names)?;
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
    ensure!(
        reads_the_document(&all, true),
        "the callback's missing document was not read as missing"
    );
    Ok(all)
}

/// The callback configured by a collector document: it installs the tokens of the document's
/// identities (`admin-partner`, `compliance-legal`) in their secrets, under their locks.
async fn document_callback_calls(function: &Function, template: &Template) -> Result<Vec<Request>> {
    let (mut stack, config_bucket) = proxied_stack().await?;
    let env = deployed_env(
        function,
        &stack,
        template,
        &config_bucket,
        &[("S3_FORCE_PATH_STYLE", "true")],
    );
    // GIVEN a pushed document, and its identities initialised, not yet authorised
    pushed_document(&mut stack, &env).await?;
    // WHEN the callback starts (reading the document) and the redirects reach it
    let document = read_document(&stack, &env)
        .await?
        .context("no document read")?;
    authorise_document_identities(&stack, &document, false).await?;
    let config = IdentitiesConfig {
        state_table: env.get("STATE_TABLE").context("STATE_TABLE")?.clone(),
        identities: Identities::from_document(&document),
        webex_api_url: stack.sim.base_url(),
        s3_force_path_style: true,
    };
    let callback = Callback::new(
        &config,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    for (n, identity) in config.identities.iter().enumerate() {
        let scopes = identity.used.requested_scopes();
        authorise(&stack, &callback, &identity.name, &scopes, n + 1).await?;
    }
    // THEN each identity's secret holds its tokens
    for identity in DOCUMENT_IDENTITIES {
        let secret = stack.secret(identity).await?;
        ensure!(
            secret["refresh_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{identity}: no refresh token stored"
        );
    }
    let names = names(&stack, template, &config_bucket, true);
    let all = calls_so_far(&stack, &names)?;
    ensure!(
        reads_the_document(&all, false),
        "the callback did not read the document"
    );
    Ok(all)
}

/// One authorisation through the callback: `webexctl auth url` stored a one-time state, the
/// person accepted, the redirect reaches the callback, and the identity is authorised.
async fn authorise(
    stack: &Stack,
    callback: &Callback<SimTime>,
    identity: &IdentityName,
    scopes: &str,
    n: usize,
) -> Result<()> {
    let states = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // GIVEN `webexctl auth url` stored a one-time state, and the person accepted
    let state = format!("{n:064x}");
    let expires = Timestamp::from_millis(stack.sim.now_ms() + 10 * MIN);
    let pending = PendingAuthorisation {
        expected_email: None,
        scopes: scopes.to_string(),
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
            ("scope", scopes),
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
    Ok(())
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

/// The ARN the secret of `identity` has when deployed: the template's secret of `admin` and
/// `compliance`; for a document's identity, the secret the operator creates for it,
/// `{stack}/webex/{identity}`.
fn deployed_secret_arn(template: &Template, identity: &str) -> String {
    if stream_scope(identity).is_empty() {
        return secret_arn(&format!("{STACK}/webex/{identity}"));
    }
    let id = secret_of(template, identity);
    secret_arn(&template.secret_name(&id).expect("the secret's name"))
}

/// The test's resources by the template's names; with `document`, the document identities'
/// secrets too.
fn names(stack: &Stack, template: &Template, config_bucket: &str, document: bool) -> Names {
    let identities = ["admin", "compliance"]
        .into_iter()
        .chain(DOCUMENT_IDENTITIES.into_iter().filter(|_| document));
    Names {
        buckets: BTreeMap::from([
            (stack.bucket.clone(), EVENTS_BUCKET.to_string()),
            (config_bucket.to_string(), CONFIG_BUCKET.to_string()),
        ]),
        table: stack.table.clone(),
        secrets: identities
            .map(|i| {
                (
                    stack.secret_id(i).to_string(),
                    deployed_secret_arn(template, i),
                )
            })
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
    config_bucket: &str,
    local: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut physical: BTreeMap<String, String> = BTreeMap::from([
        (EVENTS_BUCKET.to_string(), stack.bucket.clone()),
        (STATE_TABLE.to_string(), stack.table.clone()),
    ]);
    for identity in ["admin", "compliance"] {
        physical.insert(
            deployed_secret_arn(template, identity),
            stack.secret_id(identity).to_string(),
        );
    }
    let in_config_bucket = format!("s3://{CONFIG_BUCKET}/");
    let mut env: BTreeMap<String, String> = function
        .env
        .iter()
        .map(|(name, value)| {
            let value = match physical.get(value) {
                Some(value) => value.clone(),
                None => value.replace(&in_config_bucket, &format!("s3://{config_bucket}/")),
            };
            (name.clone(), value)
        })
        .collect();
    if env.contains_key("WEBEX_API_URL") {
        env.insert("WEBEX_API_URL".into(), stack.sim.base_url());
    }
    for (name, value) in local {
        env.insert(name.to_string(), value.to_string());
    }
    env
}
