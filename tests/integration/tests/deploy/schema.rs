//! What the collectors write, read through the Glue tables the template declares: every object
//! lies in a partition Athena projects, and every line parses with the declared columns (or,
//! in the raw table of the other sources, is one whole row).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use collector_app::StreamId;
use collector_app::document::Document;
use collector_app::units::{Selection, StreamUnits};
use integration_tests::stack::{SimTime, sim_stream};
use integration_tests::{Stack, StackOptions};
use tokio::time::Instant;
use webex_sim::GenerateSpec;

use crate::aws_calls::EVENTS_BUCKET;
use crate::glue::Table;
use crate::template::Template;
use integration_tests::sources;

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
/// partitions like its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_every_other_source_are_rows_of_the_raw_table() -> Result<()> {
    let tables = Table::all(&Template::load());
    let table = tables
        .iter()
        .find(|t| t.name == "http_sources_raw")
        .context("no Glue table http_sources_raw")?;
    ensure!(
        table.serde == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "http_sources_raw: the checks here are the text SerDe's"
    );
    // GIVEN a day of events on each API that a stream of http-sources reads
    let stack = Stack::start(StackOptions::default()).await?;
    stack.sim.configure_apis(|apis| apis.graph.throttle = None);
    let prefix = format!("sources-{}", stack.table);
    sources::create_secrets(&stack.sdk, &prefix).await?;
    let document = Document::parse(&sources::document(&stack.sim.origin(), &prefix))?;
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
