//! Scenarios of a collector document's other sources (Graph, Secure Endpoint, the general
//! APIs): their APIs' settings, secrets and document, their events, the runs that collect them
//! as the http-sources function does, and the check that each stream holds every event its API
//! served once, byte for byte, with its cursor caught up.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use collector_app::document::Document;
use collector_app::units::{Selection, StreamUnits};
use collector_core::StreamId;
use webex_sim::{Api, ApiEvent, GenerateSpec, Throttle};

use super::check::Findings;
use super::scenario::{Scenario, Sources};
use crate::Stack;
use crate::stack::SimTime;
use crate::verify::{StoredObject, layout_problems};

/// The organisation of a stream without organisations: one unit per stream.
pub const NO_ORG: &str = "-";

/// The events one stream must hold in S3 in the end: every one its API holds.
#[derive(Debug)]
pub struct StreamEvents {
    pub stream: &'static str,
    pub api: Api,
    pub events: Vec<ApiEvent>,
}

fn api_of(stream: &str) -> Option<Api> {
    crate::sources::STREAMS
        .iter()
        .find(|(name, _)| *name == stream)
        .map(|(_, api)| *api)
}

/// Where the scenario's identities keep their secrets.
fn secret_prefix(stack: &Stack) -> String {
    format!("sources-{}", stack.table)
}

/// The scenario's document: its streams, with its windows.
pub fn document_text(stack: &Stack, scenario: &Scenario, sources: &Sources) -> String {
    let s = &scenario.settings;
    let windows = format!(
        "settle_lag = \"{}s\"\noverlap = \"{}s\"\nmax_window = \"{}s\"",
        s.settle_lag_s, s.overlap_s, s.max_window_s
    );
    crate::sources::document_of(
        &stack.sim.origin(),
        &secret_prefix(stack),
        &sources.streams,
        &windows,
    )
}

/// Where `webexctl collect` reads the document (`COLLECTOR_CONFIG`).
pub fn document_path(stack: &Stack) -> PathBuf {
    std::env::temp_dir().join(format!("soak-{}.toml", stack.table))
}

/// The APIs' behaviour, the identities' secrets and the document on disk.
pub async fn prepare(stack: &Stack, scenario: &Scenario, sources: &Sources) -> Result<()> {
    stack.sim.configure_apis(|apis| {
        apis.graph.throttle = sources.graph_throttle.map(|requests| Throttle {
            requests,
            per: Duration::from_secs(1),
        });
        apis.graph.retry_after = sources.graph_retry_after;
        apis.graph.token_ttl = sources.token_ttl;
        apis.general_c.token_ttl = sources.token_ttl;
    });
    crate::sources::create_secrets(&stack.sdk, &secret_prefix(stack)).await?;
    let path = document_path(stack);
    std::fs::write(&path, document_text(stack, scenario, sources))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Each stream's history, spread like the Webex scenarios' (`spec`, `extra` for the burst
/// and the dense minutes).
pub fn history(
    stack: &Stack,
    sources: &Sources,
    spec: &GenerateSpec,
    extra: &[&GenerateSpec],
) -> Vec<StreamEvents> {
    sources
        .streams
        .iter()
        .filter_map(|stream| Some((*stream, api_of(stream)?)))
        .map(|(stream, api)| {
            let mut events = stack.sim.generate_api(api, spec.clone());
            for more in extra.iter().filter(|s| s.count > 0) {
                events.extend(stack.sim.generate_api(api, (*more).clone()));
            }
            StreamEvents {
                stream,
                api,
                events,
            }
        })
        .collect()
}

/// Events created while the clock moves on.
pub fn advance(stack: &Stack, spec: &GenerateSpec, expected: &mut [StreamEvents]) {
    for stream in expected {
        stream
            .events
            .extend(stack.sim.generate_api(stream.api, spec.clone()));
    }
}

/// The units of the document's streams, as the http-sources function builds them at a cold
/// start, with `part_size` when the scenario asks for small upload parts.
pub fn units(
    stack: &Stack,
    scenario: &Scenario,
    sources: &Sources,
    sdk: &aws_config::SdkConfig,
    part_size: Option<usize>,
) -> Result<StreamUnits<SimTime>> {
    let mut config = stack.config(StreamId::AdminAudit)?;
    if let Some(part_size) = part_size {
        config.part_size = part_size;
    }
    let document = Document::parse(&document_text(stack, scenario, sources))
        .map_err(|errors| anyhow::anyhow!("the soak's document is invalid: {errors:?}"))?;
    Ok(StreamUnits::of_document(
        Selection::OtherSources,
        &config,
        &document,
        sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?)
}

/// Every stream's events exactly once, byte for byte, under its one unit; its cursor caught
/// up.
pub async fn check(
    stack: &Stack,
    scenario: &Scenario,
    expected: &[StreamEvents],
    findings: &mut Findings,
) -> Result<()> {
    for stream in expected {
        let name = stream.stream;
        let all = stack.objects_of(name).await?;
        let (staged, objects): (Vec<StoredObject>, Vec<StoredObject>) =
            all.into_iter().partition(|o| o.key.contains("/_incoming/"));
        if !staged.is_empty() {
            findings.problems.push(format!(
                "{name}: {} staged object(s) left under _incoming/",
                staged.len()
            ));
        }
        let tally = tally(&objects, &stream.events);
        findings.expected += stream.events.len() as u64;
        findings.lost += tally.lost;
        findings.duplicates += tally.duplicates;
        findings.foreign += tally.foreign;
        findings.problems.extend(
            tally
                .problems
                .into_iter()
                .take(3)
                .map(|p| format!("{name}: {p}")),
        );
        for problem in layout_problems(&objects, name, NO_ORG, env!("CARGO_PKG_VERSION"))
            .into_iter()
            .take(3)
        {
            findings.problems.push(format!("{name}: {problem}"));
        }
        super::check::cursor_problems(stack, scenario, name, NO_ORG, name, &objects, findings)
            .await?;
    }
    Ok(())
}

/// Lines compared with what the API served: each item's bytes once. Items without an id of
/// their own (general C) are told apart only by their bytes, so bytes are the measure here.
fn tally(objects: &[StoredObject], expected: &[ApiEvent]) -> crate::verify::Tally {
    let mut wanted: HashMap<&[u8], (&ApiEvent, u32)> = expected
        .iter()
        .map(|e| (e.json.as_bytes(), (e, 0)))
        .collect();
    let mut tally = crate::verify::Tally::default();
    for object in objects {
        for line in object.lines() {
            match wanted.get_mut(line.as_slice()) {
                Some((event, seen)) => {
                    *seen += 1;
                    if *seen == 2 {
                        tally.duplicates += 1;
                        tally.problems.push(format!(
                            "event {} written twice (the second time in {})",
                            short_key(&event.key),
                            object.key
                        ));
                    } else if *seen > 2 {
                        tally.duplicates += 1;
                    }
                }
                None => {
                    tally.foreign += 1;
                    tally.problems.push(format!(
                        "{}: a line the API never served: {}",
                        object.key,
                        String::from_utf8_lossy(&line[..line.len().min(80)])
                    ));
                }
            }
        }
    }
    let lost: Vec<&ApiEvent> = wanted
        .values()
        .filter(|(_, seen)| *seen == 0)
        .map(|(event, _)| *event)
        .collect();
    tally.lost = lost.len() as u64;
    tally.problems.extend(lost.iter().take(3).map(|e| {
        format!(
            "event {} lost (time {}, visible {})",
            short_key(&e.key),
            collector_core::Timestamp::from_millis(e.time_ms),
            collector_core::Timestamp::from_millis(e.visible_at_ms)
        )
    }));
    tally
}

/// An event's key for messages: general C's is its whole JSON.
fn short_key(key: &str) -> &str {
    let end = key
        .char_indices()
        .nth(40)
        .map_or(key.len(), |(index, _)| index);
    &key[..end]
}

/// The secret values of the sources' identities, to be searched for in output.
pub fn secret_values() -> Vec<String> {
    [
        webex_sim::DEFAULT_GRAPH_CLIENT_SECRET,
        webex_sim::DEFAULT_SECURE_ENDPOINT_API_KEY,
        webex_sim::DEFAULT_GENERAL_A_API_KEY,
        webex_sim::DEFAULT_GENERAL_B_PASSWORD,
        webex_sim::DEFAULT_GENERAL_C_CLIENT_SECRET,
    ]
    .map(str::to_string)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, json: &str) -> ApiEvent {
        ApiEvent {
            api: Api::GeneralC,
            tenant: String::new(),
            key: key.into(),
            time_ms: 0,
            visible_at_ms: 0,
            json: json.into(),
        }
    }

    fn object(lines: &[&str]) -> StoredObject {
        use std::io::Write;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for line in lines {
            gzip.write_all(line.as_bytes()).unwrap();
            gzip.write_all(b"\n").unwrap();
        }
        StoredObject {
            key: "webex/x/org=-/o.ndjson.gz".into(),
            metadata: HashMap::new(),
            content_type: String::new(),
            content_encoding: String::new(),
            e_tag: String::new(),
            body: gzip.finish().unwrap(),
        }
    }

    #[test]
    fn counts_lost_repeated_and_foreign_lines_by_their_bytes() {
        let expected = [event("a", r#"{"a":1}"#), event("b", r#"{"b":2}"#)];
        let clean = tally(&[object(&[r#"{"b":2}"#, r#"{"a":1}"#])], &expected);
        assert_eq!((clean.lost, clean.duplicates, clean.foreign), (0, 0, 0));
        let bad = tally(
            &[
                object(&[r#"{"a":1}"#, r#"{"a": 1}"#]),
                object(&[r#"{"a":1}"#]),
            ],
            &expected,
        );
        assert_eq!((bad.lost, bad.duplicates, bad.foreign), (1, 1, 1));
        assert_eq!(bad.problems.len(), 3, "{:?}", bad.problems);
    }
}
