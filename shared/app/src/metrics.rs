//! CloudWatch embedded metric format: one JSON line per run on standard output becomes metrics
//! without an API call, and the alarms on lag and refresh-token age read them.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use collector_core::{IdentityName, RunSummary, Timestamp};
use serde_json::json;

pub const NAMESPACE: &str = "WebexEventsToS3";

/// The metrics of one finished run: per stream, and the refresh token's days left per identity
/// (the streams that share an identity share its token, and its alarm).
pub fn emf_line(
    summary: &RunSummary,
    now: Timestamp,
    refresh_token_expires_at: Option<(&IdentityName, Timestamp)>,
) -> String {
    let mut metrics = vec![
        json!({"Name": "EventsWritten", "Unit": "Count"}),
        json!({"Name": "Pages", "Unit": "Count"}),
        json!({"Name": "Windows", "Unit": "Count"}),
    ];
    let mut line = json!({
        "Stream": summary.stream,
        "EventsWritten": summary.events,
        "Pages": summary.pages,
        "Windows": summary.windows,
    });
    if let Some(committed) = summary.committed_until {
        metrics.push(json!({"Name": "LagSeconds", "Unit": "Seconds"}));
        line["LagSeconds"] = json!((now.millis() - committed.millis()) / 1000);
    }
    finish(line, metrics, now, refresh_token_expires_at)
}

/// The line with its directives: `metrics` under the `Stream` dimension, and the refresh
/// token's days left under `Identity`, when known.
fn finish(
    mut line: serde_json::Value,
    metrics: Vec<serde_json::Value>,
    now: Timestamp,
    refresh_token_expires_at: Option<(&IdentityName, Timestamp)>,
) -> String {
    let mut directives =
        vec![json!({"Namespace": NAMESPACE, "Dimensions": [["Stream"]], "Metrics": metrics})];
    if let Some((identity, expires)) = refresh_token_expires_at {
        line["Identity"] = json!(identity.as_str());
        line["RefreshTokenDaysLeft"] =
            json!((expires.millis() - now.millis()) as f64 / 86_400_000.0);
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": [["Identity"]],
            "Metrics": [{"Name": "RefreshTokenDaysLeft", "Unit": "None"}],
        }));
    }
    line["_aws"] = json!({
        "Timestamp": now.millis(),
        "CloudWatchMetrics": directives,
    });
    line.to_string()
}

/// A run through several units: how many finished, failed, or were not reached before the
/// deadline (`UnitsFailed` has an alarm: an organisation in error needs a person).
pub fn units_line(stream: &str, outcome: &crate::units::UnitsOutcome, now: Timestamp) -> String {
    json!({
        "Stream": stream,
        "UnitsDone": outcome.done.len(),
        "UnitsFailed": outcome.failed.len(),
        "UnitsNotReached": outcome.not_reached.len(),
        "_aws": {
            "Timestamp": now.millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stream"]],
                "Metrics": [
                    {"Name": "UnitsDone", "Unit": "Count"},
                    {"Name": "UnitsFailed", "Unit": "Count"},
                    {"Name": "UnitsNotReached", "Unit": "Count"},
                ],
            }],
        },
    })
    .to_string()
}

/// A scheduled run that sent its units to the fan-out queue: how many, and the refresh token's
/// days left (the queued runs do not read it: one secret read per schedule, not per unit).
pub fn enqueued_line(
    stream: &str,
    units: usize,
    now: Timestamp,
    refresh_token_expires_at: Option<(&IdentityName, Timestamp)>,
) -> String {
    let metrics = vec![json!({"Name": "UnitsEnqueued", "Unit": "Count"})];
    let line = json!({"Stream": stream, "UnitsEnqueued": units});
    finish(line, metrics, now, refresh_token_expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use collector_core::StopReason;

    #[test]
    fn a_run_becomes_one_emf_line() {
        let now = Timestamp::from_millis(1_795_000_000_000);
        let summary = RunSummary {
            stream: "admin-audit".into(),
            org_id: "O".into(),
            windows: 2,
            events: 30,
            objects: 2,
            pages: 4,
            committed_until: Some(Timestamp::from_millis(now.millis() - 600_000)),
            stopped: StopReason::CaughtUp,
        };
        let line: serde_json::Value = serde_json::from_str(&emf_line(
            &summary,
            now,
            Some((
                &IdentityName::ADMIN,
                Timestamp::from_millis(now.millis() + 36 * 3_600_000),
            )),
        ))
        .unwrap();
        assert_eq!(line["Stream"], "admin-audit");
        assert_eq!(line["Identity"], "admin");
        assert_eq!(line["EventsWritten"], 30);
        assert_eq!(line["LagSeconds"], 600);
        assert_eq!(line["RefreshTokenDaysLeft"], 1.5);
        // Each metric under the dimension its alarm watches.
        let declared: Vec<(String, &str)> = line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|directive| {
                assert_eq!(directive["Namespace"], NAMESPACE);
                let dimensions = directive["Dimensions"].to_string();
                directive["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |m| (dimensions.clone(), m["Name"].as_str().unwrap()))
            })
            .collect();
        let by_stream = r#"[["Stream"]]"#.to_string();
        assert_eq!(
            declared,
            [
                (by_stream.clone(), "EventsWritten"),
                (by_stream.clone(), "Pages"),
                (by_stream.clone(), "Windows"),
                (by_stream, "LagSeconds"),
                (r#"[["Identity"]]"#.to_string(), "RefreshTokenDaysLeft"),
            ]
        );
        // Without a cursor or a refresh token those two are left out, not reported as zero.
        let empty = RunSummary {
            committed_until: None,
            ..summary
        };
        let line: serde_json::Value = serde_json::from_str(&emf_line(&empty, now, None)).unwrap();
        assert!(line.get("LagSeconds").is_none() && line.get("RefreshTokenDaysLeft").is_none());
        assert!(line.get("Identity").is_none());
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            1
        );
    }
}
