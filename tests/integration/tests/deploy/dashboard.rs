//! The CloudWatch dashboard against what the functions emit, like the alarms: every metric it
//! draws is one a function's lines make (namespace, name and dimension names), or one AWS
//! makes of a function or queue in the template; every collector and every queue is on it; its
//! log query reads log groups of the template and fields the lines carry.

use std::collections::BTreeSet;

use collector_app::metrics::{
    NAMESPACE, emf_line, registrar_line, unit_errors_lines, webhook_line,
};
use collector_app::registrar::SyncReport;
use collector_app::units::{Selection, UnitFailure, UnitsOutcome};
use collector_core::{RunSummary, StopReason, Timestamp};
use serde_json::Value as Json;

use crate::consistency::{declared, emitted_metrics};
use crate::environment::selection_of;
use crate::template::Template;

/// `(metric, dimension names)` of every metric in our namespace some function emits.
fn emitted(template: &Template) -> BTreeSet<(String, Vec<String>)> {
    let mut all = BTreeSet::new();
    for function in template.functions().expect("functions") {
        if let Some(selection) = selection_of(&function.crate_name) {
            let (namespace, metrics) = emitted_metrics(selection);
            assert_eq!(namespace, NAMESPACE);
            all.extend(metrics.into_iter().map(|(dims, name)| (name, dims)));
        }
    }
    let now = Timestamp::from_millis(1_795_000_000_000);
    let failed = UnitsOutcome {
        failed: vec![UnitFailure {
            stream: "admin-audit".into(),
            org_id: "O".into(),
            kind: "config",
            error: "e".into(),
        }],
        ..UnitsOutcome::default()
    };
    let mut lines = unit_errors_lines("admin-audit", &failed, now);
    lines.push(webhook_line("accepted", now));
    lines.push(registrar_line(&SyncReport::default(), now));
    for line in lines {
        for (name, dims) in declared(&line) {
            all.insert((name, dims.into_iter().map(|(d, _)| d).collect()));
        }
    }
    all
}

fn body(template: &Template) -> Json {
    let (_, dashboard) = template
        .resources("AWS::CloudWatch::Dashboard")
        .into_iter()
        .next()
        .expect("a dashboard");
    let text = template
        .resolve(&dashboard["Properties"]["DashboardBody"])
        .expect("resolves")
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("a body");
    serde_json::from_str(&text).expect("the dashboard body is JSON")
}

#[test]
fn the_dashboard_draws_what_the_functions_emit_for_every_collector_and_queue() {
    let template = Template::load();
    let emitted = emitted(&template);
    let functions: BTreeSet<String> = template
        .functions()
        .expect("functions")
        .into_iter()
        .flat_map(|f| [f.crate_name, f.logical_id])
        .collect();
    let queues: BTreeSet<String> = template
        .resources("AWS::SQS::Queue")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut drawn: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    let body = body(&template);
    for widget in body["widgets"].as_array().expect("widgets") {
        let properties = &widget["properties"];
        for metric in properties["metrics"].as_array().into_iter().flatten() {
            let items = metric.as_array().expect("a metric is an array");
            if let Some(expression) = items[0]["expression"].as_str() {
                // SEARCH('{Namespace,Dim,...} MetricName="Name"', ...)
                let inner = expression
                    .split_once('{')
                    .and_then(|(_, rest)| rest.split_once('}'))
                    .map(|(set, rest)| (set.to_string(), rest.to_string()))
                    .expect("a SEARCH with a schema");
                let mut names = inner.0.split(',').map(str::trim);
                let namespace = names.next().unwrap_or_default();
                let dims: Vec<String> = names.map(str::to_string).collect();
                let metric = inner.1.split('"').nth(1).unwrap_or_default().to_string();
                if namespace != NAMESPACE || !emitted.contains(&(metric.clone(), dims.clone())) {
                    problems.push(format!(
                        "SEARCH of {metric} by {dims:?}, which nothing emits"
                    ));
                }
                continue;
            }
            let text: Vec<String> = items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().to_string())
                .collect();
            let (namespace, name) = (&text[0], &text[1]);
            let pairs: Vec<(String, String)> = text[2..]
                .chunks(2)
                .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
                .collect();
            let dims: Vec<String> = pairs.iter().map(|(n, _)| n.clone()).collect();
            let ok = match namespace.as_str() {
                NAMESPACE => {
                    emitted.contains(&(name.clone(), dims.clone()))
                        && pairs
                            .iter()
                            .all(|(n, v)| n != "Function" || functions.contains(v))
                }
                "AWS/Lambda" => {
                    name == "Errors" && dims == ["FunctionName"] && functions.contains(&pairs[0].1)
                }
                "AWS/SQS" => dims == ["QueueName"] && queues.contains(&pairs[0].1),
                _ => false,
            };
            if !ok {
                problems.push(format!("{namespace} {name} by {pairs:?} is not emitted"));
            }
            if let Some((_, value)) = pairs.first() {
                drawn.insert((namespace.clone(), name.clone(), value.clone()));
            }
        }
        if let Some(query) = properties["query"].as_str() {
            for source in query.split("SOURCE '").skip(1) {
                let group = source.split('\'').next().unwrap_or_default();
                let known = template
                    .resources("AWS::Logs::LogGroup")
                    .into_iter()
                    .any(|(_, g)| {
                        template
                            .resolve(&g["Properties"]["LogGroupName"])
                            .ok()
                            .flatten()
                            == Some(group.into())
                    });
                if !known {
                    problems.push(format!(
                        "the log query reads {group}, not a log group of ours"
                    ));
                }
            }
            // The fields it ranks by are on every run's line.
            let summary = RunSummary {
                stream: "s".into(),
                org_id: "O".into(),
                windows: 1,
                events: 1,
                objects: 1,
                pages: 1,
                committed_until: None,
                stopped: StopReason::CaughtUp,
            };
            let line: Json =
                serde_json::from_str(&emf_line(&summary, "admin-audit", Timestamp::now()))
                    .expect("JSON");
            for field in ["Org", "Stream", "EventsWritten"] {
                if query.contains(field) && line.get(field).is_none() {
                    problems.push(format!("the log query reads {field}, which no line has"));
                }
            }
        }
    }
    // Every collector's events, objects and lag; every Webex one's refresh tokens; every
    // function's errors; every queue's depth and age.
    for function in template.functions().expect("functions") {
        let mut wanted = vec![("AWS/Lambda", "Errors", function.logical_id.clone())];
        if let Some(selection) = selection_of(&function.crate_name) {
            for metric in ["EventsWritten", "ObjectsWritten", "LagSeconds"] {
                wanted.push((NAMESPACE, metric, function.crate_name.clone()));
            }
            if matches!(selection, Selection::Webex(_)) {
                wanted.push((
                    NAMESPACE,
                    "RefreshTokenDaysLeft",
                    function.crate_name.clone(),
                ));
            }
        }
        for (namespace, metric, value) in wanted {
            if !drawn.contains(&(namespace.into(), metric.into(), value.clone())) {
                problems.push(format!("{metric} of {value} is not on the dashboard"));
            }
        }
    }
    for queue in &queues {
        for metric in [
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
        ] {
            if !drawn.contains(&("AWS/SQS".into(), metric.into(), queue.clone())) {
                problems.push(format!("{metric} of {queue} is not on the dashboard"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        template.output("DashboardUrl").expect("DashboardUrl"),
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=Dashboard"
    );
}
