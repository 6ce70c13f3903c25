//! The template against the workspace: a resource per function crate and back, built and run
//! as the functions need, each given exactly the environment it reads, and watched by alarms on
//! the metrics the collectors emit.

use std::collections::BTreeSet;

use collector_app::StreamId;
use collector_app::metrics::{emf_line, units_line};
use collector_app::units::UnitsOutcome;
use collector_core::{IdentityName, RunSummary, StopReason, Timestamp};
use serde_yaml::Value;

use crate::environment::check_environment;
use crate::template::{Template, repo_root, tagged};

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions"))
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_function_crate_has_a_template_resource_and_every_resource_a_crate() {
    let template = Template::load();
    let deployed: BTreeSet<String> = template
        .functions()
        .expect("functions")
        .into_iter()
        .map(|f| f.crate_name)
        .collect();
    assert_eq!(
        deployed,
        function_crates(),
        "infra/template.yaml (left) and functions/ (right) disagree"
    );
}

#[test]
fn functions_are_built_by_cargo_lambda_for_arm64_and_wired_to_their_triggers() {
    let template = Template::load();
    for (id, resource) in template.resources("AWS::Serverless::Function") {
        let property = |name: &str| {
            template
                .function_property(resource, name)
                .map(|v| template.resolve(v).expect("resolves").expect("a value"))
        };
        let crate_name = template
            .functions()
            .expect("functions")
            .into_iter()
            .find(|f| f.logical_id == id)
            .expect("function")
            .crate_name;
        assert_eq!(
            resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"],
            crate_name.as_str(),
            "{id}: the binary is the crate's"
        );
        assert_eq!(property("Runtime"), Some("provided.al2023".into()), "{id}");
        assert_eq!(property("Handler"), Some("bootstrap".into()), "{id}");
        assert_eq!(
            property("Architectures"),
            Some(Value::Sequence(vec!["arm64".into()])),
            "{id}"
        );
        let events = resource["Properties"]["Events"]
            .as_mapping()
            .expect("Events");
        let kinds: Vec<&str> = events.values().filter_map(|e| e["Type"].as_str()).collect();
        if StreamId::parse(&crate_name).is_some() {
            assert_eq!(kinds, ["Schedule"], "{id}: a collector runs on a schedule");
            assert_eq!(
                property("ReservedConcurrentExecutions"),
                Some(1.into()),
                "{id}"
            );
        } else {
            assert_eq!(kinds, ["HttpApi"], "{id}");
            let route = &events.values().next().expect("event")["Properties"];
            assert_eq!(
                (route["Method"].as_str(), route["Path"].as_str()),
                (Some("GET"), Some("/oauth/callback"))
            );
            assert_eq!(route["PayloadFormatVersion"], "2.0");
        }
    }
}

#[test]
fn each_function_is_set_exactly_the_variables_it_reads_and_accepts_their_defaults() {
    let template = Template::load();
    let mut problems = Vec::new();
    for function in template.functions().expect("functions") {
        problems.extend(check_environment(&function.crate_name, &function.env));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The metrics a collector run emits in embedded metric format: namespace, and each metric
/// with the names of the dimensions it is emitted under, read off real lines.
fn emitted_metrics(stream: StreamId) -> (String, Vec<(Vec<String>, String)>) {
    let now = Timestamp::from_millis(1_795_000_000_000);
    let summary = RunSummary {
        stream: stream.name().to_string(),
        org_id: "O".into(),
        windows: 1,
        events: 1,
        objects: 1,
        pages: 1,
        committed_until: Some(now),
        stopped: StopReason::CaughtUp,
    };
    let identity = IdentityName::from_static(stream.spec().default_identity);
    // A run through several units adds one line of its own.
    let lines = [
        emf_line(&summary, now, Some((&identity, now))),
        units_line(stream.name(), &UnitsOutcome::default(), now),
    ];
    let mut namespace = String::new();
    let mut metrics = Vec::new();
    for line in lines {
        let line: serde_json::Value = serde_json::from_str(&line).expect("EMF is JSON");
        for directive in line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            namespace = directive["Namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let dimensions: Vec<String> = directive["Dimensions"][0]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            for dimension in &dimensions {
                assert!(
                    line.get(dimension).is_some_and(|v| v.is_string()),
                    "{stream}: the line declares the dimension {dimension} without its value"
                );
            }
            metrics.extend(
                directive["Metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["Name"].as_str())
                    .map(|name| (dimensions.clone(), name.to_string())),
            );
        }
    }
    (namespace, metrics)
}

struct Alarm {
    namespace: String,
    metric: String,
    /// `(name, value)`; a `Ref` value stands for the logical id it names.
    dimensions: Vec<(String, String)>,
}

fn alarms(template: &Template) -> Vec<Alarm> {
    template
        .resources("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, alarm)| {
            let p = &alarm["Properties"];
            let dimensions = p["Dimensions"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{id}: no Dimensions"))
                .iter()
                .map(|d| {
                    let value = match tagged(&d["Value"]) {
                        Some((tag, Value::String(target))) if tag == "Ref" => target.clone(),
                        _ => d["Value"].as_str().unwrap_or_default().to_string(),
                    };
                    (d["Name"].as_str().unwrap_or_default().to_string(), value)
                })
                .collect();
            let text = |name: &str| p[name].as_str().unwrap_or_default().to_string();
            Alarm {
                namespace: text("Namespace"),
                metric: text("MetricName"),
                dimensions,
            }
        })
        .collect()
}

/// Lag and refresh-token alarms per collector on the metrics its runs really emit, and an
/// errors alarm per function.
#[test]
fn every_collector_is_watched_on_the_metrics_it_emits_and_every_function_on_its_errors() {
    let template = Template::load();
    let alarms = alarms(&template);
    let has = |namespace: &str, metric: &str, dimensions: &[(String, String)]| {
        alarms
            .iter()
            .any(|a| a.namespace == namespace && a.metric == metric && a.dimensions == dimensions)
    };
    for function in template.functions().expect("functions") {
        assert!(
            has(
                "AWS/Lambda",
                "Errors",
                &[("FunctionName".into(), function.logical_id.clone())]
            ),
            "{}: no errors alarm",
            function.logical_id
        );
        let Some(stream) = StreamId::parse(&function.crate_name) else {
            continue;
        };
        let (namespace, metrics) = emitted_metrics(stream);
        // Lag per stream; the refresh token per identity, which the streams sharing it share.
        let watched = [
            ("LagSeconds", "Stream", stream.name()),
            (
                "RefreshTokenDaysLeft",
                "Identity",
                stream.spec().default_identity,
            ),
        ];
        for (metric, dimension, value) in watched {
            assert!(
                metrics
                    .iter()
                    .any(|(dims, m)| m == metric && dims.as_slice() == [dimension]),
                "runs do not emit {metric} by {dimension}"
            );
            assert!(
                has(
                    &namespace,
                    metric,
                    &[(dimension.to_string(), value.to_string())]
                ),
                "{stream}: no {metric} alarm on {dimension} {value} in {namespace}"
            );
        }
        for alarm in alarms.iter().filter(|a| a.namespace == namespace) {
            let names: Vec<String> = alarm.dimensions.iter().map(|(n, _)| n.clone()).collect();
            assert!(
                metrics
                    .iter()
                    .any(|(dims, m)| *m == alarm.metric && *dims == names),
                "an alarm on {} by {names:?}, which no run emits",
                alarm.metric
            );
        }
    }
}
