//! Per-scenario outcomes and the summary table at the end of a soak.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::check::{Findings, TokenLoss};
use super::play::Played;

/// One scenario, played and checked.
#[derive(Debug, Default)]
pub struct Outcome {
    pub seed: u64,
    pub description: String,
    /// The scenario collects several organisations, one unit of work each.
    pub multi_org: bool,
    /// The scenario collects a document's streams of other sources.
    pub other_sources: bool,
    pub played: Played,
    pub findings: Findings,
    /// Faults the simulator served (Webex's, or the other APIs'), by kind.
    pub webex_faults: BTreeMap<String, u64>,
    /// AWS faults the proxy injected, by kind and by service.
    pub aws_faults: BTreeMap<String, u64>,
    pub aws_services: BTreeMap<String, u64>,
    /// Event-page requests the simulator saw while the faults were on.
    pub webex_requests: u64,
    /// Multipart uploads the collectors started, with faults and without.
    pub multipart_uploads: u64,
    pub elapsed: Duration,
    /// Of which playing the steps (the rest is catching up and checking).
    pub playing: Duration,
    /// Why the harness could not play or check the scenario at all.
    pub harness_error: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.harness_error.is_none() && self.findings.passed()
    }

    /// One line for the log of a soak.
    pub fn line(&self) -> String {
        let webex: u64 = self.webex_faults.values().sum();
        let aws: u64 = self.aws_faults.values().sum();
        let verdict = if self.passed() { "ok" } else { "FAILED" };
        let in_flight = self
            .findings
            .token_losses
            .iter()
            .filter(|l| **l == TokenLoss::KilledInFlight)
            .count();
        let in_flight = if in_flight > 0 {
            format!(" rotated-token-lost-to-a-kill={in_flight}")
        } else {
            String::new()
        };
        let forbidden = match self.played.forbidden.len() {
            0 => String::new(),
            n => format!(" units-refused-403={n}"),
        };
        format!(
            "seed={} {verdict} {:.1}s (play {:.1}s) events={} sim-requests={} sim-faults={webex} aws-faults={aws} kills={} dropped={} multipart-uploads={}{in_flight}{forbidden} | {}",
            self.seed,
            self.elapsed.as_secs_f64(),
            self.playing.as_secs_f64(),
            self.findings.expected,
            self.webex_requests,
            self.played.kills,
            self.played.dropped,
            self.multipart_uploads,
            self.description
        )
    }

    /// What went wrong, one indented line each.
    pub fn failure(&self) -> String {
        let mut text = String::new();
        if let Some(e) = &self.harness_error {
            let _ = writeln!(text, "    harness: {e}");
        }
        let f = &self.findings;
        if f.lost + f.duplicates + f.foreign > 0 {
            let _ = writeln!(
                text,
                "    lost {} duplicated {} foreign {} of {} events",
                f.lost, f.duplicates, f.foreign, f.expected
            );
        }
        for loss in &f.token_losses {
            if let TokenLoss::Defect(why) = loss {
                let _ = writeln!(text, "    refresh token lost: {why}");
            }
        }
        for problem in &f.problems {
            let _ = writeln!(text, "    {problem}");
        }
        text
    }
}

/// Names Webex faults the way the summary counts them.
pub fn webex_fault_kind(name: &str) -> String {
    match name {
        "TooManyRequests" => "429 Retry-After".into(),
        "Locked" => "423 Retry-After".into(),
        "GatewayTimeout" => "504".into(),
        "Truncated" => "truncated body".into(),
        "Expired" => "401 expired token".into(),
        "Hang" => "timeout (no answer)".into(),
        "RateLimited" => "429 rate limit".into(),
        other => match other.strip_prefix("ServerError(") {
            Some(code) => code.trim_end_matches(')').to_string(),
            None => other.to_string(),
        },
    }
}

/// Totals over every scenario.
#[derive(Debug, Default)]
pub struct Summary {
    pub scenarios: u64,
    pub failed: Vec<u64>,
    pub streams: BTreeMap<&'static str, u64>,
    pub webex_faults: BTreeMap<String, u64>,
    pub aws_faults: BTreeMap<String, u64>,
    pub aws_services: BTreeMap<String, u64>,
    pub runs: u64,
    pub failed_runs: u64,
    pub deadline_stops: u64,
    pub kills: u64,
    pub dropped: u64,
    pub concurrent: u64,
    pub multipart_uploads: u64,
    /// Scenarios with several organisations, and the 403s their runs reported for a refused
    /// one.
    pub multi_org: u64,
    pub forbidden: u64,
    pub other_sources: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub foreign: u64,
    /// Refresh tokens the collector lost.
    pub token_losses: u64,
    /// Refresh tokens rotated by Webex whose answer a killed run never stored.
    pub tokens_lost_in_flight: u64,
    pub wall_time: Duration,
}

impl Summary {
    pub fn add(&mut self, outcome: &Outcome, streams: &[&'static str]) {
        self.scenarios += 1;
        if !outcome.passed() {
            self.failed.push(outcome.seed);
        }
        for stream in streams {
            *self.streams.entry(stream).or_default() += 1;
        }
        for (kind, n) in &outcome.webex_faults {
            *self.webex_faults.entry(kind.clone()).or_default() += n;
        }
        for (kind, n) in &outcome.aws_faults {
            *self.aws_faults.entry(kind.clone()).or_default() += n;
        }
        for (service, n) in &outcome.aws_services {
            *self.aws_services.entry(service.clone()).or_default() += n;
        }
        let p = &outcome.played;
        self.runs += p.runs;
        self.failed_runs += p.failed_runs;
        self.deadline_stops += p.deadline_stops;
        self.kills += p.kills;
        self.dropped += p.dropped;
        self.concurrent += p.concurrent;
        self.multipart_uploads += outcome.multipart_uploads;
        self.multi_org += u64::from(outcome.multi_org);
        self.other_sources += u64::from(outcome.other_sources);
        self.forbidden += p.forbidden.len() as u64;
        let f = &outcome.findings;
        self.expected += f.expected;
        self.lost += f.lost;
        self.duplicates += f.duplicates;
        self.foreign += f.foreign;
        for loss in &f.token_losses {
            match loss {
                TokenLoss::KilledInFlight => self.tokens_lost_in_flight += 1,
                TokenLoss::Defect(_) => self.token_losses += 1,
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.failed.is_empty()
    }

    /// The summary as a Markdown table (it goes into the README as it is).
    pub fn table(&self) -> String {
        let join = |counts: &BTreeMap<String, u64>| {
            let total: u64 = counts.values().sum();
            let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            if parts.is_empty() {
                "0".to_string()
            } else {
                format!("{total} ({})", parts.join(", "))
            }
        };
        let streams: Vec<String> = self
            .streams
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let seconds = self.wall_time.as_secs();
        let rows = [
            (
                "scenarios",
                format!(
                    "{} (streams played: {})",
                    self.scenarios,
                    streams.join(", ")
                ),
            ),
            ("Webex and API faults injected", join(&self.webex_faults)),
            ("AWS faults injected", join(&self.aws_faults)),
            ("AWS faults by service", join(&self.aws_services)),
            (
                "collector runs",
                format!(
                    "{} ({} failed under faults, {} stopped at their deadline)",
                    self.runs, self.failed_runs, self.deadline_stops
                ),
            ),
            (
                "webexctl processes killed (SIGKILL)",
                self.kills.to_string(),
            ),
            ("runs abandoned mid-flight", self.dropped.to_string()),
            (
                "steps with runs started at once",
                self.concurrent.to_string(),
            ),
            (
                "multipart uploads started",
                self.multipart_uploads.to_string(),
            ),
            (
                "scenarios with several organisations",
                format!(
                    "{} ({} units reported refused (403) while refused)",
                    self.multi_org, self.forbidden
                ),
            ),
            (
                "scenarios of a document's other sources (Graph, Secure Endpoint, general APIs)",
                self.other_sources.to_string(),
            ),
            ("events expected", self.expected.to_string()),
            ("events lost", self.lost.to_string()),
            ("events duplicated", self.duplicates.to_string()),
            ("foreign or altered events", self.foreign.to_string()),
            ("token losses", self.token_losses.to_string()),
            (
                "rotated refresh tokens a killed run never stored (re-authorised)",
                self.tokens_lost_in_flight.to_string(),
            ),
            ("failed scenarios", self.failed.len().to_string()),
            (
                "wall time",
                format!("{}m{:02}s", seconds / 60, seconds % 60),
            ),
        ];
        let mut table = String::from("| | |\n|---|---|\n");
        for (name, value) in rows {
            let _ = writeln!(table, "| {name} | {value} |");
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_counts_faults_by_kind_and_failed_scenarios() {
        let mut summary = Summary::default();
        let mut outcome = Outcome {
            seed: 7,
            ..Outcome::default()
        };
        outcome.webex_faults.insert(webex_fault_kind("Locked"), 2);
        outcome.aws_faults.insert("connection reset".into(), 1);
        outcome.aws_services.insert("S3".into(), 1);
        outcome.findings.expected = 10;
        outcome.findings.lost = 1;
        summary.add(&outcome, &["admin-audit"]);
        let table = summary.table();
        assert!(
            table.contains("| Webex and API faults injected | 2 (423 Retry-After: 2) |"),
            "{table}"
        );
        assert!(
            table.contains("| AWS faults injected | 1 (connection reset: 1) |"),
            "{table}"
        );
        assert!(table.contains("| events lost | 1 |"), "{table}");
        assert_eq!(summary.failed, vec![7]);
        assert_eq!(webex_fault_kind("ServerError(502)"), "502");
    }
}
