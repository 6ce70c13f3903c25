//! What the collectors write, read through the Glue tables the template declares: every object
//! lies in a partition Athena projects, and every line parses with the declared columns (or,
//! in the raw table of the other sources, is one whole row).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use aws_adapters::{SecretsManagerStore, SqsQueue};
use collector_app::StreamId;
use collector_app::document::Document;
use collector_app::units::{Selection, StreamUnits};
use collector_app::webhooks::Receive;
use collector_core::ports::SystemClock;
use integration_tests::stack::{SimTime, sim_org_id, sim_stream};
use integration_tests::{Stack, StackOptions, aws, webhooks};
use tokio::time::Instant;
use webex_sim::GenerateSpec;

use crate::aws_calls::EVENTS_BUCKET;
use crate::glue::{self, Table};
use crate::template::Template;
use collector_core::table::OURS;
use integration_tests::{cli, sources};
use serde_json::json;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_every_stream_read_with_the_glue_columns_declared_for_it() -> Result<()> {
    let tables = Table::all(&Template::load());
    for stream in StreamId::ALL {
        let name = stream.name().replace('-', "_");
        let table = tables
            .iter()
            .find(|t| t.name == name)
            .with_context(|| format!("no Glue table {name}"))?;
        ensure!(
            table.serde == "org.apache.hive.hcatalog.data.JsonSerDe",
            "{name}: the checks here are the Hive JSON SerDe's"
        );
        // GIVEN three days of every kind of event of the stream
        let stack = Stack::start(StackOptions::default()).await?;
        let now = stack.sim.now_ms();
        let events = stack.sim.generate(
            sim_stream(stream),
            GenerateSpec::new(3_000, now - 72 * HOUR + 10 * MIN, now - 10 * MIN),
        );
        // WHEN the collector has written them
        stack
            .run_until_caught_up(stream, now, Duration::from_secs(600))
            .await?;
        let objects = stack.objects(stream).await?;
        ensure!(!objects.is_empty(), "{stream}: nothing written");
        // THEN Athena finds each object in a projected partition and reads every line of it
        let mut lines = 0;
        for object in &objects {
            let partition = partition_of(table, &object.key)
                .with_context(|| format!("{name}: {}", object.key))?;
            ensure!(
                partition["org"] == object.metadata["org-id"],
                "{}",
                object.key
            );
            for line in object.lines() {
                let problems = table.check_line(&line);
                ensure!(
                    problems.is_empty(),
                    "{name}: {} reads wrong: {problems:#?}\n{}",
                    object.key,
                    String::from_utf8_lossy(&line)
                );
                lines += 1;
            }
        }
        ensure!(
            lines == events.len(),
            "{name}: {lines} lines of {} events",
            events.len()
        );
    }
    Ok(())
}

/// The streams of `http-sources` have no table of their own in the template (a document names
/// them): every one is in `http_sources_raw`, one row per event, its stream and organisation
/// partitions like its time. And each is read by the table `webexctl config tables` writes for
/// it (typed columns where the source's items are known), its custom fields by
/// `stream_fields`; a table that is not ours is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_every_other_source_are_rows_of_the_raw_table_and_of_their_own() -> Result<()> {
    let tables = Table::all(&Template::load());
    let table = tables
        .iter()
        .find(|t| t.name == "http_sources_raw")
        .context("no Glue table http_sources_raw")?;
    ensure!(
        table.serde == TEXT_SERDE,
        "http_sources_raw: the checks here are the text SerDe's"
    );
    // GIVEN a day of events on each API that a stream of http-sources reads
    let stack = Stack::start(StackOptions::default()).await?;
    stack.sim.configure_apis(|apis| apis.graph.throttle = None);
    let prefix = format!("sources-{}", stack.table);
    sources::create_secrets(&stack.sdk, &prefix).await?;
    // Two streams write custom fields on their lines: one typed, one raw.
    let fields = "fields = { team = \"secops\" }\nfields_key = \"collector\"\n";
    let text = sources::document(&stack.sim.origin(), &prefix)
        .replace(
            "name = \"entra-signins\"\n",
            &format!("name = \"entra-signins\"\n{fields}"),
        )
        .replace(
            "name = \"http-acme\"\n",
            &format!("name = \"http-acme\"\n{fields}"),
        );
    let document = Document::parse(&text)?;
    let now = stack.sim.now_ms();
    let mut generated = BTreeMap::new();
    for (name, api) in sources::STREAMS {
        let events = stack
            .sim
            .generate_api(api, GenerateSpec::new(300, now - 23 * HOUR, now - 10 * MIN));
        generated.insert(name, events.len());
    }
    // WHEN the function has collected them
    let units = StreamUnits::of_document(
        Selection::OtherSources,
        &stack.config(StreamId::AdminAudit)?,
        &document,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let list = units.units(None, deadline).await?;
    let outcome = units.run(list, deadline).await;
    ensure!(outcome.failed.is_empty(), "{outcome:?}");
    // THEN Athena finds each object in the partition of its stream and organisation, and reads
    // each line as one row
    for (name, count) in &generated {
        let objects = stack.objects_of(name).await?;
        ensure!(!objects.is_empty(), "{name}: nothing written");
        let mut rows = 0;
        for object in &objects {
            let partition = partition_of(table, &object.key)
                .with_context(|| format!("http_sources_raw: {}", object.key))?;
            ensure!(partition["stream"] == *name, "{}", object.key);
            ensure!(
                partition["org"] == object.metadata["org-id"],
                "{}",
                object.key
            );
            for line in object.lines() {
                let problems = table.check_raw_line(&line);
                ensure!(
                    problems.is_empty(),
                    "{name}: {} reads wrong: {problems:#?}\n{}",
                    object.key,
                    String::from_utf8_lossy(&line)
                );
                rows += 1;
            }
        }
        ensure!(rows == *count, "{name}: {rows} rows of {count} events");
    }
    stream_tables_read_the_objects(&stack, &text, &generated).await
}

/// The webhook writer's objects, read through the template's `webhooks` table: each in a
/// projected partition of its organisation, each delivery one whole row, also one whose body
/// held line breaks (JSON allows them between tokens; the line keeps it as `body_text`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_objects_are_rows_of_the_webhooks_table() -> Result<()> {
    const SECRET: &str = "schema-test-signing-secret";
    let tables = Table::all(&Template::load());
    let table = tables
        .iter()
        .find(|t| t.name == "webhooks")
        .context("no Glue table webhooks")?;
    ensure!(
        table.serde == TEXT_SERDE,
        "webhooks: the checks here are the text SerDe's"
    );
    // GIVEN the receiver and the writer on the local stack
    let stack = Stack::start(StackOptions::default()).await?;
    let org = sim_org_id(&stack.sim);
    let secret_id = format!("webhooks-{}", stack.table);
    aws::create_secret(
        &stack.sdk,
        &secret_id,
        &json!({"current": SECRET, "webhooks": ["hook-1"], "org_ids": [org]}),
    )
    .await?;
    let (queue_url, _) =
        aws::create_queue(&stack.sdk, &secret_id, Duration::from_secs(30), 10).await?;
    let clock = Arc::new(SystemClock);
    let receive = Receive::new(
        SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&stack.sdk), &secret_id),
        SqsQueue::new(aws_sdk_sqs::Client::new(&stack.sdk), &queue_url),
        clock.clone(),
    )
    .await?;
    // WHEN it receives deliveries of every resource, one with line breaks, and writes them
    let mut bodies = Vec::new();
    for (n, resource) in ["meetings", "recordings", "rooms", "messages"]
        .iter()
        .cycle()
        .take(12)
        .enumerate()
    {
        bodies.push(format!(
            r#"{{"id":"hook-1","resource":"{resource}","event":"created","orgId":"{org}","data":{{"id":"Y2lz-{n}","title":"tab\there, \"quoted\" \u00e9"}}}}"#
        ));
    }
    bodies.push(format!(
        "{{\"id\":\"hook-1\",\r\n\"resource\":\"messages\",\n\"event\":\"deleted\",\"orgId\":\"{org}\",\"data\":{{}}}}"
    ));
    for body in &bodies {
        let answer = receive
            .handle(webhooks::request(
                "POST",
                body.as_bytes(),
                webhooks::signed(body.as_bytes(), SECRET),
                false,
            ))
            .await;
        ensure!(answer.status_code == 200, "{}", answer.status_code);
    }
    let drained = webhooks::write_all(&stack, &queue_url, clock).await?;
    ensure!(drained.returned == 0, "{drained:?}");
    // THEN Athena finds each object in its organisation's partition and each delivery is a row
    let objects = stack.objects_of("webhooks").await?;
    let mut rows = 0;
    for object in &objects {
        let partition = partition_of(table, &object.key)
            .with_context(|| format!("webhooks: {}", object.key))?;
        ensure!(partition["org"] == org, "{}", object.key);
        for line in object.lines() {
            let problems = table.check_raw_line(&line);
            ensure!(
                problems.is_empty(),
                "webhooks: {} reads wrong: {problems:#?}",
                object.key
            );
            rows += 1;
        }
    }
    ensure!(
        rows == bodies.len(),
        "{rows} rows of {} deliveries",
        bodies.len()
    );
    Ok(())
}

/// The second half of the test above: `webexctl config tables` in a catalogue holding the
/// template's raw table, one foreign table under a stream's table name and one of ours for a
/// stream that has left the document.
const TEXT_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";

async fn stream_tables_read_the_objects(
    stack: &Stack,
    document: &str,
    generated: &BTreeMap<&str, usize>,
) -> Result<()> {
    let endpoint = stack.sdk.endpoint_url().context("no local AWS endpoint")?;
    let database = format!("glue-{}", stack.table);
    let call = |operation: &'static str, body: serde_json::Value| async move {
        glue::call(endpoint, operation, body)
            .await
            .map_err(anyhow::Error::msg)
    };
    call(
        "CreateDatabase",
        json!({ "DatabaseInput": { "Name": database } }),
    )
    .await?;
    let template = Template::load();
    let raw = template
        .resources("AWS::Glue::Table")
        .into_iter()
        .find(|(_, r)| r["Properties"]["TableInput"]["Name"] == "http_sources_raw")
        .context("no http_sources_raw")?
        .1;
    let raw = template
        .resolve(&raw["Properties"]["TableInput"])
        .map_err(anyhow::Error::msg)?
        .context("empty TableInput")?;
    let foreign = json!({
        "Name": "http_logs",
        "StorageDescriptor": { "Columns": [{ "Name": "x", "Type": "string" }], "Location": "s3://elsewhere/", "SerdeInfo": { "SerializationLibrary": TEXT_SERDE } },
        "PartitionKeys": [],
        "Parameters": { "owner": "someone else" },
    });
    let gone = json!({
        "Name": "old_stream",
        "StorageDescriptor": { "Columns": [{ "Name": "line", "Type": "string" }], "Location": "s3://EventsBucket/webex/old-stream/", "SerdeInfo": { "SerializationLibrary": TEXT_SERDE } },
        "PartitionKeys": [],
        "Parameters": { OURS: "old-stream" },
    });
    for input in [serde_json::to_value(raw)?, foreign, gone] {
        let body = json!({ "DatabaseName": database, "TableInput": input });
        call("CreateTable", body).await?;
    }
    let file = std::env::temp_dir().join(format!("{database}.toml"));
    std::fs::write(&file, document)?;
    let file = file.to_string_lossy();
    let mut env = cli::env(stack);
    env.insert("GLUE_DATABASE".into(), database.clone());

    // WHEN webexctl writes the document's tables, twice (the second time with the push)
    let first = cli::webexctl(&env, &["config", "tables", &file], "").await?;
    env.insert(
        "COLLECTOR_CONFIG".into(),
        format!("s3://{}/tables/collector.toml", stack.bucket),
    );
    let second = cli::webexctl(&env, &["config", "push", "--tables", &file], "").await?;

    // THEN it created every table but the foreign one's, then replaced them; it said so
    let mut ours: Vec<String> = generated
        .keys()
        .map(|name| name.replace('-', "_"))
        .collect();
    ours.retain(|name| name != "http_logs");
    ours.push("stream_fields".into());
    for (run, verb) in [(&first, "created"), (&second, "replaced")] {
        ensure!(
            run.code == Some(1),
            "a foreign table is not written: {run:#?}"
        );
        for name in &ours {
            let line = format!("{verb} {database}.{name}\n");
            ensure!(run.stdout.contains(&line), "no {line:?} in {run:#?}");
        }
        let refused = format!("not written: {database}.http_logs exists");
        ensure!(run.stderr.contains(&refused), "{run:#?}");
        let left = format!("left {database}.old_stream: its stream is no longer");
        ensure!(run.stdout.contains(&left), "{run:#?}");
    }
    ensure!(second.stdout.contains("written to s3://"), "{second:#?}");
    let tables = Table::all_in(endpoint, &database)
        .await
        .map_err(anyhow::Error::msg)?;
    let table = |name: &str| tables.iter().find(|t| t.name == name);
    ensure!(
        table("http_logs").is_some_and(|t| t.location == "s3://elsewhere/"),
        "the foreign table was changed"
    );
    ensure!(
        table("old_stream").is_some(),
        "the table of a removed stream was dropped"
    );
    // AND each stream's table reads every line of its objects, and stream_fields the custom
    // fields of the two streams that write them
    let fields = table("stream_fields").context("no stream_fields")?;
    for name in generated.keys().filter(|name| **name != "http-logs") {
        let table =
            table(&name.replace('-', "_")).with_context(|| format!("no table for {name}"))?;
        let typed = table.serde == "org.apache.hive.hcatalog.data.JsonSerDe";
        ensure!(
            typed == (name.starts_with("entra") || name.starts_with("secure")),
            "{name}: {}",
            table.serde
        );
        let with_fields = ["entra-signins", "http-acme"].contains(name);
        for object in stack.objects_of(name).await? {
            let partition = partition_of(table, &object.key)
                .with_context(|| format!("{}: {}", table.name, object.key))?;
            ensure!(
                partition["org"] == object.metadata["org-id"],
                "{}",
                object.key
            );
            if with_fields {
                let partition = partition_of(fields, &object.key)?;
                ensure!(partition["stream"] == **name, "{}", object.key);
            }
            for line in object.lines() {
                let mut problems = if typed {
                    table.check_line(&line)
                } else {
                    table.check_raw_line(&line)
                };
                if with_fields {
                    // stream_fields declares the fields alone: the rest of the line is not its.
                    problems.extend(
                        fields
                            .check_line(&line)
                            .into_iter()
                            .filter(|p| !p.ends_with("is not declared")),
                    );
                    let value: serde_json::Value = serde_json::from_slice(&line)?;
                    ensure!(
                        value["collector"] == json!({ "team": "secops" }),
                        "{name}: {value}"
                    );
                }
                ensure!(
                    problems.is_empty(),
                    "{name}: {} reads wrong: {problems:#?}\n{}",
                    object.key,
                    String::from_utf8_lossy(&line)
                );
            }
        }
    }
    Ok(())
}

/// The partition values Athena projects for `key`, checked against the table's projection.
fn partition_of(table: &Table, key: &str) -> Result<BTreeMap<String, String>> {
    let parameter = |name: &str| {
        table
            .parameters
            .get(name)
            .with_context(|| format!("no table parameter {name}"))
    };
    ensure!(
        parameter("projection.enabled")? == "true",
        "partition projection is off"
    );
    let bucket = format!("s3://{EVENTS_BUCKET}/");
    let template = parameter("storage.location.template")?
        .strip_prefix(&bucket)
        .context("the location template is not in the events bucket")?;
    ensure!(
        format!("{bucket}{template}").starts_with(&table.location),
        "the location template is outside the table's location {}",
        table.location
    );
    let mut values = BTreeMap::new();
    let mut order = Vec::new();
    let (mut pattern, mut rest) = (template, key);
    while let Some(start) = pattern.find("${") {
        let literal = &pattern[..start];
        rest = rest
            .strip_prefix(literal)
            .with_context(|| format!("key does not continue with {literal:?}"))?;
        let end = pattern[start..].find('}').context("unclosed ${")? + start;
        let name = &pattern[start + 2..end];
        pattern = &pattern[end + 1..];
        let until = pattern
            .chars()
            .next()
            .context("a partition at the very end")?;
        let stop = rest.find(until).context("key too short")?;
        values.insert(name.to_string(), rest[..stop].to_string());
        order.push(name.to_string());
        rest = &rest[stop..];
    }
    let file = rest
        .strip_prefix(pattern)
        .context("key does not end the template")?;
    ensure!(
        !file.contains('/'),
        "objects below the partition directory: {file}"
    );
    ensure!(
        order == table.partition_keys,
        "the template's partitions {order:?} are not the table's {:?}",
        table.partition_keys
    );
    for (name, value) in &values {
        let kind = parameter(&format!("projection.{name}.type"))?;
        match kind.as_str() {
            "injected" => ensure!(!value.is_empty(), "{name} is empty"),
            "enum" => ensure!(
                parameter(&format!("projection.{name}.values"))?
                    .split(',')
                    .any(|v| v == value),
                "{name}={value} is not among the enum's values"
            ),
            "date" => {
                ensure!(parameter(&format!("projection.{name}.format"))? == "yyyy-MM-dd");
                let (from, to) = parameter(&format!("projection.{name}.range"))?
                    .split_once(',')
                    .context("date range")?;
                ensure!(to == "NOW", "{name} range ends at {to}");
                ensure!(
                    is_date(value) && is_date(from),
                    "{name}={value} is not yyyy-MM-dd"
                );
                ensure!(
                    value.as_str() >= from,
                    "{name}={value} is before the projection's {from}"
                );
            }
            "integer" => {
                let digits: usize = parameter(&format!("projection.{name}.digits"))?.parse()?;
                let (low, high) = parameter(&format!("projection.{name}.range"))?
                    .split_once(',')
                    .context("integer range")?;
                let number: i64 = value.parse()?;
                ensure!(
                    value.len() == digits,
                    "{name}={value} is not {digits} digits"
                );
                ensure!(
                    (low.parse::<i64>()?..=high.parse::<i64>()?).contains(&number),
                    "{name}={value} is outside {low},{high}"
                );
            }
            other => bail!("projection type {other} of {name} is not checked here"),
        }
    }
    Ok(values)
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}
