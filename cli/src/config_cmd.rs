//! `webexctl config check FILE`: the collector document read as the functions will read it.
//! A valid document prints its units of work and a summary per stream and identity; an invalid
//! one prints every mistake, one per line, and exits with 2. `webexctl config push FILE` checks
//! the same way, then writes the document where the functions read it; `webexctl config tables
//! FILE` checks it, then writes its streams' Glue tables (both with `push --tables`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use collector_app::document::{
    Document, DocumentErrors, LoadError, Orgs, Stream, UnitOrg, format_duration,
};
use serde::Serialize;

use collector_app::document_location::{DocumentLocation, VARIABLE, s3_client_from_env};

use crate::{table, tables_cmd};

/// The exit status of a document that is not valid, as for every configuration error.
const INVALID: u8 = 2;

pub fn check(file: &Path, json: bool) -> Result<ExitCode> {
    Ok(match report(file, json)? {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    })
}

/// Checks `file`, and writes it to `COLLECTOR_CONFIG` when it is valid; then, given the Glue
/// database, its streams' tables.
pub async fn push(file: &Path, tables_in: Option<&str>) -> Result<ExitCode> {
    let Some(location) = DocumentLocation::from_env()? else {
        anyhow::bail!(
            "{VARIABLE} is not set: set it to where the functions read the document (the stack's \
             CollectorConfig output, s3://BUCKET/KEY)"
        );
    };
    let document = match report(file, false)? {
        Ok(document) => document,
        Err(code) => {
            eprintln!("nothing was written to {location}");
            return Ok(code);
        }
    };
    let text = std::fs::read_to_string(file)?;
    let s3 = s3_client_from_env().await;
    location
        .store(&text, &s3)
        .await
        .map_err(anyhow::Error::msg)?;
    println!("written to {location}; each function follows it from its next invocation");
    match tables_in {
        Some(database) => tables_cmd::write(&document, database).await,
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Checks `file`, then writes its streams' tables to the Glue `database`.
pub async fn tables(file: &Path, database: &str) -> Result<ExitCode> {
    match load(file, false)? {
        Ok(document) => tables_cmd::write(&document, database).await,
        Err(code) => Ok(code),
    }
}

/// Prints the check of `file`; the document when it is valid, else the exit status.
fn report(file: &Path, json: bool) -> Result<Result<Document, ExitCode>> {
    let loaded = load(file, json)?;
    if let Ok(document) = &loaded {
        let report = Report::of(document);
        if json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{}", human(file, &report));
        }
    }
    Ok(loaded)
}

/// The document in `file`, or its mistakes printed and the exit status.
fn load(file: &Path, json: bool) -> Result<Result<Document, ExitCode>> {
    let errors = match Document::load(file) {
        Ok(document) => return Ok(Ok(document)),
        Err(LoadError::Invalid { errors, .. }) => errors,
        // Names the file; `main` prints it with its cause.
        Err(read @ LoadError::Read { .. }) => return Err(read.into()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&Invalid::of(&errors))?);
    } else {
        for error in &errors {
            // The problem quotes what the document holds: escaped, like every cell.
            eprintln!("error: {}", table::escape(&error.to_string()));
        }
        eprintln!(
            "{}: {} {}; the document is not valid",
            table::escape(&file.display().to_string()),
            errors.len(),
            if errors.len() == 1 { "error" } else { "errors" }
        );
    }
    Ok(Err(ExitCode::from(INVALID)))
}

#[derive(Serialize)]
struct Report {
    valid: bool,
    key_prefix: String,
    units: Vec<UnitRow>,
    streams: Vec<StreamRow>,
    identities: Vec<IdentityRow>,
}

#[derive(Serialize)]
struct UnitRow {
    stream: String,
    source: &'static str,
    identity: String,
    /// `None` when the organisations are discovered at run time.
    org: Option<String>,
    /// The identity that discovers the organisations at run time.
    discover_via: Option<String>,
    every_seconds: u64,
}

#[derive(Serialize)]
struct StreamRow {
    name: String,
    source: &'static str,
    identity: String,
    /// `"discover"`, or the listed organisation ids.
    orgs: serde_json::Value,
    /// Listed organisations, one unit each; `None` when they are discovered at run time.
    units: Option<usize>,
    every_seconds: u64,
    event_categories: Vec<String>,
    resources: Vec<String>,
    types: Vec<String>,
    /// Requests per page of a window: one per filter combination the API needs.
    queries_per_window: usize,
    /// What a query asks and how its answer is read.
    request: String,
    fields: BTreeMap<String, String>,
    fields_key: Option<String>,
    settle_lag_seconds: u64,
    overlap_seconds: u64,
    max_window_seconds: u64,
    page_size: u32,
    max_window_events: Option<u64>,
}

#[derive(Serialize)]
struct IdentityRow {
    name: String,
    kind: &'static str,
    secret: String,
    max_requests_per_minute: u32,
    streams: Vec<String>,
}

impl Report {
    fn of(document: &Document) -> Self {
        let units = document
            .units()
            .iter()
            .map(|unit| {
                let (org, discover_via) = match unit.org {
                    UnitOrg::Id(id) => (Some(id.to_string()), None),
                    UnitOrg::Discover { identity } => (None, Some(identity.to_string())),
                };
                UnitRow {
                    stream: unit.stream.name.clone(),
                    source: unit.stream.source.name(),
                    identity: unit.stream.identity.clone(),
                    org,
                    discover_via,
                    every_seconds: unit.stream.every.as_secs(),
                }
            })
            .collect();
        Self {
            valid: true,
            key_prefix: document.collector.key_prefix.clone(),
            units,
            streams: document.streams.iter().map(StreamRow::of).collect(),
            identities: document
                .identities
                .iter()
                .map(|identity| IdentityRow {
                    name: identity.name.clone(),
                    kind: identity.kind.name(),
                    secret: identity.secret.clone(),
                    max_requests_per_minute: identity.max_requests_per_minute,
                    streams: document
                        .streams
                        .iter()
                        .filter(|s| s.identity == identity.name)
                        .map(|s| s.name.clone())
                        .collect(),
                })
                .collect(),
        }
    }
}

impl StreamRow {
    fn of(stream: &Stream) -> Self {
        let (orgs, units) = match &stream.orgs {
            Orgs::Discover => (serde_json::Value::from("discover"), None),
            Orgs::List(ids) => (serde_json::Value::from(ids.clone()), Some(ids.len())),
        };
        let window = &stream.window;
        Self {
            name: stream.name.clone(),
            source: stream.source.name(),
            identity: stream.identity.clone(),
            orgs,
            units,
            every_seconds: stream.every.as_secs(),
            event_categories: stream.filters.event_categories.clone(),
            resources: stream.filters.resources.clone(),
            types: stream.filters.types.clone(),
            queries_per_window: stream
                .source
                .webex_spec()
                .map_or(1, |spec| spec.filter_queries(&stream.filters).len()),
            request: stream.source.spec().describe(),
            fields: stream.fields.clone(),
            fields_key: stream.fields_key.clone(),
            settle_lag_seconds: window.settle_lag.as_secs(),
            overlap_seconds: window.overlap.as_secs(),
            max_window_seconds: window.max_window.as_secs(),
            page_size: window.page_size,
            max_window_events: window.max_window_events,
        }
    }
}

#[derive(Serialize)]
struct Invalid {
    valid: bool,
    errors: Vec<ErrorRow>,
}

#[derive(Serialize)]
struct ErrorRow {
    /// `None` for a TOML syntax error.
    path: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    problem: String,
    /// The whole line as `config check` prints it.
    message: String,
}

impl Invalid {
    fn of(errors: &DocumentErrors) -> Self {
        Self {
            valid: false,
            errors: errors
                .iter()
                .map(|e| ErrorRow {
                    path: e.path.clone(),
                    line: e.line,
                    column: e.column,
                    problem: e.problem.clone(),
                    message: e.to_string(),
                })
                .collect(),
        }
    }
}

fn human(file: &Path, report: &Report) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let seconds = |s: u64| format_duration(std::time::Duration::from_secs(s));
    let mut out = format!(
        "{}: valid; {}, {}, {}; objects under {:?}\n\n",
        table::escape(&file.display().to_string()),
        plural(report.streams.len(), "stream", "streams"),
        plural(report.units.len(), "unit of work", "units of work"),
        plural(report.identities.len(), "identity", "identities"),
        report.key_prefix,
    );
    out.push_str(&table::render(
        &["STREAM", "SOURCE", "IDENTITY", "ORG", "EVERY"],
        report.units.iter().map(|u| {
            vec![
                u.stream.clone(),
                u.source.to_string(),
                u.identity.clone(),
                match (&u.org, &u.discover_via) {
                    (Some(org), _) => org.clone(),
                    (None, Some(identity)) => format!("discover via {identity}"),
                    (None, None) => "-".into(),
                },
                seconds(u.every_seconds),
            ]
        }),
    ));
    out.push_str("\n\n");
    out.push_str(&table::render(
        &["STREAM", "ORGS", "FILTERS", "FIELDS", "WINDOWS"],
        report.streams.iter().map(|s| {
            let filters: Vec<String> = [
                ("event_categories", &s.event_categories),
                ("resources", &s.resources),
                ("types", &s.types),
            ]
            .iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(key, values)| format!("{key}={}", values.join(",")))
            .collect();
            let filters = match (filters.is_empty(), s.queries_per_window) {
                (true, _) => "all".to_string(),
                (false, 1) => filters.join(" "),
                (false, n) => format!("{} ({n} queries)", filters.join(" ")),
            };
            let mut fields = s
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            if fields.is_empty() {
                fields = "-".into();
            }
            if let Some(key) = &s.fields_key {
                fields.push_str(&format!(" (lines: {key})"));
            }
            let mut windows = format!(
                "settle {}, overlap {}, max {}, page {}",
                seconds(s.settle_lag_seconds),
                seconds(s.overlap_seconds),
                seconds(s.max_window_seconds),
                s.page_size
            );
            if let Some(events) = s.max_window_events {
                windows.push_str(&format!(", split at {events} events"));
            }
            vec![
                s.name.clone(),
                s.units
                    .map_or("discover".into(), |n| plural(n, "org", "orgs")),
                filters,
                fields,
                windows,
            ]
        }),
    ));
    out.push_str("\n\n");
    out.push_str(&table::render(
        &["STREAM", "REQUEST"],
        report
            .streams
            .iter()
            .map(|s| vec![s.name.clone(), s.request.clone()]),
    ));
    out.push_str("\n\n");
    out.push_str(&table::render(
        &["IDENTITY", "KIND", "SECRET", "REQUESTS/MIN", "STREAMS"],
        report.identities.iter().map(|i| {
            vec![
                i.name.clone(),
                i.kind.to_string(),
                i.secret.clone(),
                i.max_requests_per_minute.to_string(),
                if i.streams.is_empty() {
                    "- (unused)".into()
                } else {
                    i.streams.join(",")
                },
            ]
        }),
    ));
    out
}
