//! `webexctl backfill`: a past range collected from this machine with the deployment's
//! variables, run after run of `--run-seconds` each, until the range is done. Locally, not in
//! the deployed function: a long backfill is paced by the API's rate limits, not by a Lambda's
//! 15 minutes, and what it has done is in its cursor, so a laptop that goes away loses nothing;
//! the same command resumes it. A run holds the backfill's lease for `--run-seconds`, so a
//! killed backfill can be resumed that long after (the command waits for it).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use collector_core::collect::{BackfillPlan, RunSummary, StopReason, backfill_prefix_problem};
use collector_core::{CollectError, ErrorKind, Timestamp};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::{Output, Range, events_cmd, table};

/// Runs in a row that may fail (the API or AWS unavailable) before the backfill gives up; it
/// resumes from its cursor when run again.
const RETRIES: u32 = 5;

/// What the backfill did, over all its runs: printed once with `--json`.
#[derive(Debug, Default, Serialize)]
struct Totals {
    stream: String,
    org_id: String,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    prefix: Option<String>,
    done: bool,
    committed_until: Option<Timestamp>,
    /// Runs that held the backfill's lease.
    runs: u64,
    windows: u64,
    events: u64,
    objects: u64,
    pages: u64,
    seconds: f64,
}

impl Totals {
    /// These totals with a run's summary so far added.
    fn with(&self, run: &RunSummary) -> Totals {
        Totals {
            stream: run.stream.clone(),
            org_id: run.org_id.clone(),
            prefix: self.prefix.clone(),
            committed_until: run.committed_until.or(self.committed_until),
            windows: self.windows + run.windows,
            events: self.events + run.events,
            objects: self.objects + run.objects,
            pages: self.pages + run.pages,
            from: self.from,
            to: self.to,
            done: self.done,
            runs: self.runs,
            seconds: self.seconds,
        }
    }

    /// The share of the range committed, 0 to 1.
    fn fraction(&self) -> f64 {
        let (Some(from), Some(to)) = (self.from, self.to) else {
            return 0.0;
        };
        let done = self
            .committed_until
            .map_or(0, |at| at.millis() - from.millis());
        (done as f64 / (to.millis() - from.millis()).max(1) as f64).clamp(0.0, 1.0)
    }
}

/// A bar is on the terminal's current line: what is printed next starts a line of its own.
static BAR_DRAWN: AtomicBool = AtomicBool::new(false);

/// How progress is shown: a bar redrawn in place on a terminal, a plain line per window
/// otherwise (a log, a pipe), nothing with `--json`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    Bar,
    Lines,
    Nothing,
}

pub async fn backfill(
    range: &Range,
    prefix: Option<String>,
    run_seconds: u64,
    output: &Output,
) -> Result<ExitCode> {
    let (from, to) = events_cmd::times(range)?;
    for (flag, t) in [("--from", from), ("--to", to)] {
        if t != t.floor_second() {
            bail!("{flag} {t} must be a whole second: windows start and end on whole seconds");
        }
    }
    if let Some(problem) = prefix.as_deref().and_then(backfill_prefix_problem) {
        bail!(problem);
    }
    let units = events_cmd::units_of(&range.stream).await?;
    let plan = BackfillPlan { from, to, prefix };
    let show = match (output.json, std::io::stderr().is_terminal()) {
        (true, _) => Show::Nothing,
        (false, true) => Show::Bar,
        (false, false) => Show::Lines,
    };
    let started = Instant::now();
    let mut totals = Totals {
        from: Some(from),
        to: Some(to),
        prefix: plan.prefix.clone(),
        ..Totals::default()
    };
    let mut failures = 0;
    let mut lease_wait: Option<Instant> = None;
    loop {
        let deadline = Instant::now() + Duration::from_secs(run_seconds);
        let (progress, mut committed) = mpsc::unbounded_channel();
        let run = units.backfill(range.org.as_deref(), &plan, deadline, progress);
        tokio::pin!(run);
        let outcome = loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                Some(summary) = committed.recv() => {
                    draw(show, &totals.with(&summary), started);
                }
            }
        };
        while let Ok(summary) = committed.try_recv() {
            draw(show, &totals.with(&summary), started);
        }
        let summary = match outcome {
            Ok(summary) => summary,
            Err(e) if retried(&e) && failures < RETRIES => {
                failures += 1;
                let pause = Duration::from_secs(5 << (failures - 1));
                note(
                    show,
                    &format!("a run failed ({e}); trying again in {}s", pause.as_secs()),
                );
                tokio::time::sleep(pause).await;
                continue;
            }
            Err(e) => {
                finish_line(show);
                return Err(e.into());
            }
        };
        failures = 0;
        totals = totals.with(&summary);
        totals.runs += u64::from(summary.stopped != StopReason::OtherRunActive);
        match summary.stopped {
            StopReason::CaughtUp => {
                totals.done = true;
                break;
            }
            StopReason::Deadline => lease_wait = None,
            StopReason::OtherRunActive => {
                // A run of this backfill holds its lease: one killed a moment ago (it expires
                // `--run-seconds` after that run began), or another process running it.
                let since = *lease_wait.get_or_insert_with(|| {
                    note(
                        show,
                        "another run holds this backfill's lease (one killed less than \
                         --run-seconds ago, or one still running): waiting for it",
                    );
                    Instant::now()
                });
                if since.elapsed() > Duration::from_secs(run_seconds + 15) {
                    finish_line(show);
                    bail!(
                        "another webexctl backfill of this range is running (its lease stays \
                         held): let it finish, or stop it and run this again"
                    );
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    finish_line(show);
    totals.seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    crate::print(output, &totals, || {
        format!(
            "backfill of {} ({}) from {from} to {to}{}: done; {} event(s) in {} object(s), {} \
             window(s), {} run(s), {:.1}s",
            totals.stream,
            table::escape(&totals.org_id),
            totals
                .prefix
                .as_deref()
                .map(|p| format!(" under {}", table::escape(p)))
                .unwrap_or_default(),
            totals.events,
            totals.objects,
            totals.windows,
            totals.runs,
            totals.seconds
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Failures another run may not meet: the API or AWS unavailable for a while.
fn retried(e: &CollectError) -> bool {
    matches!(e.kind(), ErrorKind::Upstream | ErrorKind::Storage)
}

/// The progress after a committed window.
fn draw(show: Show, totals: &Totals, started: Instant) {
    let fraction = totals.fraction();
    let seconds = started.elapsed().as_secs_f64();
    let rate = totals.events as f64 / seconds.max(0.001);
    let until = totals
        .committed_until
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut err = std::io::stderr().lock();
    let _ = match show {
        Show::Nothing => return,
        Show::Lines => writeln!(
            err,
            "backfill {}: up to {until} ({:.0}%), {} window(s), {} event(s)",
            totals.stream,
            fraction * 100.0,
            totals.windows,
            totals.events
        ),
        Show::Bar => {
            const WIDTH: usize = 24;
            let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
            let eta = (fraction > 0.0).then(|| seconds * (1.0 - fraction) / fraction);
            write!(
                err,
                "\r\x1b[2K{} [{}{}] {:>3.0}%  {} windows  {} events  {:.0}/s  ETA {}",
                totals.stream,
                "#".repeat(filled),
                "-".repeat(WIDTH - filled),
                fraction * 100.0,
                totals.windows,
                totals.events,
                rate,
                eta.map_or_else(|| "?".to_string(), |s| clock(s as u64)),
            )
            .and_then(|()| err.flush())
            .map(|()| BAR_DRAWN.store(true, Ordering::Relaxed))
        }
    };
}

/// A line of its own on standard error (with `--json` too), below the bar when there is one.
fn note(show: Show, text: &str) {
    finish_line(show);
    eprintln!("webexctl: {text}");
}

/// Ends the bar's line, so that what follows starts on its own.
fn finish_line(show: Show) {
    if show == Show::Bar && BAR_DRAWN.swap(false, Ordering::Relaxed) {
        eprintln!();
    }
}

/// `1h02m03s`, `4m05s`, `6s`.
fn clock(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_clock() {
        assert_eq!(clock(6), "6s");
        assert_eq!(clock(245), "4m05s");
        assert_eq!(clock(3723), "1h02m03s");
    }
}
