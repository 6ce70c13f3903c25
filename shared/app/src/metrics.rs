//! CloudWatch embedded metric format: one JSON line per run on standard output becomes metrics
//! without an API call, and the alarms on lag and refresh-token age read them.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use collector_core::{IdentityName, RunSummary, Timestamp};
use serde_json::json;

pub const NAMESPACE: &str = "WebexEventsToS3";

/// The metrics of one finished run, per stream and per function (`function`: its preset's
/// name). The alarms watch the function's, so that they hold whatever streams a document names.
pub fn emf_line(summary: &RunSummary, function: &str, now: Timestamp) -> String {
    let mut metrics = vec![
        json!({"Name": "EventsWritten", "Unit": "Count"}),
        json!({"Name": "ObjectsWritten", "Unit": "Count"}),
        json!({"Name": "Pages", "Unit": "Count"}),
        json!({"Name": "Windows", "Unit": "Count"}),
    ];
    // `Org` is a property, not a dimension: a metric per organisation would cost per
    // organisation; the dashboard ranks organisations from the log lines instead.
    let mut line = json!({
        "Stream": summary.stream,
        "Function": function,
        "Org": summary.org_id,
        "EventsWritten": summary.events,
        "ObjectsWritten": summary.objects,
        "Pages": summary.pages,
        "Windows": summary.windows,
    });
    if let Some(committed) = summary.committed_until {
        metrics.push(json!({"Name": "LagSeconds", "Unit": "Seconds"}));
        line["LagSeconds"] = json!((now.millis() - committed.millis()) / 1000);
    }
    with_directive(line, &[&["Stream"], &["Function"]], metrics, now)
}

/// The days left on one identity's refresh token, per identity and per function (the streams
/// that share an identity share its token).
pub fn refresh_line(
    function: &str,
    identity: &IdentityName,
    expires_at: Timestamp,
    now: Timestamp,
) -> String {
    let line = json!({
        "Function": function,
        "Identity": identity.as_str(),
        "RefreshTokenDaysLeft": (expires_at.millis() - now.millis()) as f64 / 86_400_000.0,
    });
    let metrics = vec![json!({"Name": "RefreshTokenDaysLeft", "Unit": "None"})];
    with_directive(line, &[&["Identity"], &["Function"]], metrics, now)
}

/// A run through several units: how many finished, failed, or were not reached before the
/// deadline (`UnitsFailed` has an alarm: an organisation in error needs a person).
pub fn units_line(function: &str, outcome: &crate::units::UnitsOutcome, now: Timestamp) -> String {
    let line = json!({
        "Function": function,
        "UnitsDone": outcome.done.len(),
        "UnitsFailed": outcome.failed.len(),
        "UnitsNotReached": outcome.not_reached.len(),
    });
    let metrics = vec![
        json!({"Name": "UnitsDone", "Unit": "Count"}),
        json!({"Name": "UnitsFailed", "Unit": "Count"}),
        json!({"Name": "UnitsNotReached", "Unit": "Count"}),
    ];
    with_directive(line, &[&["Function"]], metrics, now)
}

/// The units of a run that failed, one line per kind of error (`config`, `upstream`, ...):
/// the dashboard's errors by kind. Empty when none failed.
pub fn unit_errors_lines(
    function: &str,
    outcome: &crate::units::UnitsOutcome,
    now: Timestamp,
) -> Vec<String> {
    let mut kinds = std::collections::BTreeMap::new();
    for failure in &outcome.failed {
        *kinds.entry(failure.kind).or_insert(0u64) += 1;
    }
    kinds
        .into_iter()
        .map(|(kind, count)| {
            let line = json!({"Function": function, "Kind": kind, "UnitErrors": count});
            let metrics = vec![json!({"Name": "UnitErrors", "Unit": "Count"})];
            with_directive(line, &[&["Function", "Kind"]], metrics, now)
        })
        .collect()
}

/// A scheduled run that sent its units to the fan-out queue: how many.
pub fn enqueued_line(function: &str, units: usize, now: Timestamp) -> String {
    let line = json!({"Function": function, "UnitsEnqueued": units});
    let metrics = vec![json!({"Name": "UnitsEnqueued", "Unit": "Count"})];
    with_directive(line, &[&["Function"]], metrics, now)
}

/// One request to the webhook receiver: `accepted`, `not_queued` (the queue refused it) or the
/// refusal's reason (`bad_signature`, `unknown_webhook`, ...).
pub fn webhook_line(outcome: &str, now: Timestamp) -> String {
    let line = json!({"Function": "webhook-receiver", "Outcome": outcome, "WebhookRequests": 1});
    let metrics = vec![json!({"Name": "WebhookRequests", "Unit": "Count"})];
    with_directive(line, &[&["Function", "Outcome"]], metrics, now)
}

/// One registrar run: webhooks of ours still off (waiting out Webex's hold-off), gaps closed,
/// and steps that failed. An alarm on `WebhookGaps` tells a person that events of a period came
/// only through the polled streams.
pub fn registrar_line(report: &crate::registrar::SyncReport, now: Timestamp) -> String {
    let line = json!({
        "Function": "webhook-registrar",
        "WebhooksOff": report.waiting.len(),
        "WebhookGaps": report.new_gaps.len(),
        "WebhookStepsFailed": report.failed.len(),
    });
    let metrics = vec![
        json!({"Name": "WebhooksOff", "Unit": "Count"}),
        json!({"Name": "WebhookGaps", "Unit": "Count"}),
        json!({"Name": "WebhookStepsFailed", "Unit": "Count"}),
    ];
    with_directive(line, &[&["Function"]], metrics, now)
}

/// `line` with the directive that makes `metrics` of it under each of `dimensions`.
fn with_directive(
    mut line: serde_json::Value,
    dimensions: &[&[&str]],
    metrics: Vec<serde_json::Value>,
    now: Timestamp,
) -> String {
    line["_aws"] = json!({
        "Timestamp": now.millis(),
        "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": metrics}],
    });
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use collector_core::StopReason;

    #[test]
    fn a_run_becomes_one_emf_line_under_its_stream_and_its_function() {
        let now = Timestamp::from_millis(1_795_000_000_000);
        let summary = RunSummary {
            stream: "admin-audit-partner".into(),
            org_id: "O".into(),
            windows: 2,
            events: 30,
            objects: 2,
            pages: 4,
            committed_until: Some(Timestamp::from_millis(now.millis() - 600_000)),
            stopped: StopReason::CaughtUp,
        };
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(&summary, "admin-audit", now)).unwrap();
        assert_eq!(line["Stream"], "admin-audit-partner");
        assert_eq!(line["Function"], "admin-audit");
        assert_eq!(line["EventsWritten"], 30);
        assert_eq!(line["LagSeconds"], 600);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Stream"], ["Function"]]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "EventsWritten",
                "ObjectsWritten",
                "Pages",
                "Windows",
                "LagSeconds"
            ]
        );
        assert_eq!(line["ObjectsWritten"], 2);
        // The organisation rides along for the dashboard's ranking, as no dimension.
        assert_eq!(line["Org"], "O");
        // Without a cursor there is no lag: left out, not reported as zero.
        let empty = RunSummary {
            committed_until: None,
            ..summary
        };
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(&empty, "admin-audit", now)).unwrap();
        assert!(line.get("LagSeconds").is_none());
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn failed_units_are_counted_per_kind_of_error() {
        use crate::units::{UnitFailure, UnitsOutcome};
        let now = Timestamp::from_millis(1_795_000_000_000);
        let failure = |org: &str, kind| UnitFailure {
            stream: "admin-audit".into(),
            org_id: org.into(),
            kind,
            error: "why".into(),
        };
        let outcome = UnitsOutcome {
            failed: vec![
                failure("A", "config"),
                failure("B", "upstream"),
                failure("C", "config"),
            ],
            ..UnitsOutcome::default()
        };
        let lines: Vec<serde_json::Value> = unit_errors_lines("admin-audit", &outcome, now)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (&lines[0]["Kind"], &lines[0]["UnitErrors"]),
            (&json!("config"), &json!(2))
        );
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Kind"]])
        );
        assert!(unit_errors_lines("admin-audit", &UnitsOutcome::default(), now).is_empty());
    }

    #[test]
    fn a_refresh_token_is_reported_per_identity_and_per_function() {
        let now = Timestamp::from_millis(1_795_000_000_000);
        let identity = IdentityName::parse("admin-partner").unwrap();
        let expires = Timestamp::from_millis(now.millis() + 36 * 3_600_000);
        let line: serde_json::Value =
            serde_json::from_str(&refresh_line("security-audit", &identity, expires, now)).unwrap();
        assert_eq!(line["Identity"], "admin-partner");
        assert_eq!(line["Function"], "security-audit");
        assert_eq!(line["RefreshTokenDaysLeft"], 1.5);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Identity"], ["Function"]])
        );
    }
}
