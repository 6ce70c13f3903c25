//! One soak case, drawn at random from its seed alone: the streams, the simulator's shape, the
//! collector's settings, the events, the faults and the steps. `make soak SEED=n` rebuilds the
//! same scenario; what cannot repeat exactly is timing (where an AWS fault or a kill lands among
//! concurrent calls).

use std::fmt;
use std::time::Duration;

use collector_core::StreamId;
use fastrand::Rng;
use webex_sim::{Fault as WebexFault, Order};

use crate::fault_proxy::{Fault as AwsFault, Service};

/// The initial lookback every scenario uses: one day of history to backfill.
pub const LOOKBACK: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    /// The stream under test; a second admin stream (sharing its OAuth identity) runs beside it
    /// in some scenarios.
    pub streams: Vec<StreamId>,
    pub order: Order,
    pub admin_link_header: bool,
    pub rotate_refresh_tokens: bool,
    pub page_latency: Duration,
    /// Webex answers 504 for pages larger than this.
    pub gateway_limit: Option<u32>,
    pub settings: Settings,
    /// Upload parts this small force multipart uploads (only when the emulator accepts them).
    pub small_parts: bool,
    pub events: EventShape,
    pub webex_faults: Option<WebexFaults>,
    pub aws_faults: Option<AwsFaults>,
    pub steps: Vec<Step>,
    /// The secrets hold an access token too, as the OAuth callback leaves them; without one
    /// the first runs must refresh, several at once.
    pub access_token_stored: bool,
}

/// What the collector's environment says.
#[derive(Clone, Debug)]
pub struct Settings {
    pub settle_lag_s: u64,
    pub overlap_s: u64,
    pub max_window_s: u64,
    pub page_size: u32,
    pub backfill_windows: u32,
    pub max_requests_per_minute: u32,
    /// `MAX_WINDOW_EVENTS`, when the scenario splits windows on event count.
    pub max_window_events: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct EventShape {
    /// Events already in the lookback when the scenario starts.
    pub history: usize,
    pub shared_timestamp_fraction: f64,
    pub late_fraction: f64,
    /// Never more than the overlap: later events are outside the design's promise.
    pub max_lateness: Duration,
    /// Events crowded into one hour of the history: a window large enough to be uploaded in
    /// parts (gzip hands out compressed bytes only every few dozen kilobytes of events).
    pub burst: usize,
    /// Events within two minutes (a dense organisation's burst), beside the history.
    pub dense: usize,
}

#[derive(Clone, Debug)]
pub struct WebexFaults {
    pub probability: f64,
    pub kinds: Vec<WebexFault>,
}

#[derive(Clone, Debug)]
pub struct AwsFaults {
    pub probability: f64,
    pub kinds: Vec<AwsKind>,
    pub services: Vec<Service>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsKind {
    Error500,
    Error503,
    Throttle,
    Reset,
    Slow,
    LoseAnswer,
}

impl AwsKind {
    const ALL: [AwsKind; 6] = [
        AwsKind::Error500,
        AwsKind::Error503,
        AwsKind::Throttle,
        AwsKind::Reset,
        AwsKind::Slow,
        AwsKind::LoseAnswer,
    ];

    /// The fault to inject; slow answers take 100-800 ms.
    pub fn fault(self, rng: &mut Rng) -> AwsFault {
        match self {
            AwsKind::Error500 => AwsFault::Refuse(500),
            AwsKind::Error503 => AwsFault::Refuse(503),
            AwsKind::Throttle => AwsFault::Throttle,
            AwsKind::Reset => AwsFault::Reset,
            AwsKind::Slow => AwsFault::Slow(Duration::from_millis(rng.u64(100..=800))),
            AwsKind::LoseAnswer => AwsFault::LoseAnswer,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Collector runs in this process, started together, each with this budget. With
    /// `drop_after`, the first of them is abandoned mid-flight (its future dropped), as a
    /// crash would leave it.
    Runs {
        count: u8,
        budget: Duration,
        drop_after: Option<Duration>,
    },
    /// `webexctl collect` processes started together; each `Some` is killed with SIGKILL after
    /// that long, `None` runs to its end.
    Processes {
        deadline_s: u64,
        kill_after: Vec<Option<Duration>>,
    },
    /// The clock moves on by this much, and events created meanwhile arrive.
    Advance { by: Duration, new_events: usize },
}

/// A budget short enough that backfilling windows run out of time and split.
const SHORT_BUDGET_MS: std::ops::RangeInclusive<u64> = 4_500..=7_500;
const LONG_BUDGET: Duration = Duration::from_secs(20);

impl Scenario {
    /// Everything random about the scenario, from `seed` alone. `multipart` says whether the
    /// emulator takes small upload parts.
    pub fn generate(seed: u64, multipart: bool) -> Scenario {
        let mut rng = Rng::with_seed(seed);
        let stream = StreamId::ALL[rng.usize(..StreamId::ALL.len())];
        let mut streams = vec![stream];
        let sibling = match stream {
            StreamId::AdminAudit => Some(StreamId::SecurityAudit),
            StreamId::SecurityAudit => Some(StreamId::AdminAudit),
            StreamId::ComplianceEvents => None,
        };
        if let Some(sibling) = sibling.filter(|_| rng.f64() < 0.2) {
            streams.push(sibling);
        }
        let overlap_s = pick(&mut rng, &[300, 600, 900]);
        let settings = Settings {
            settle_lag_s: pick(&mut rng, &[60, 120, 300]),
            overlap_s,
            // Windows of a quarter of an hour cost the emulator four times the calls of an
            // hour's, so they are drawn rarely.
            max_window_s: pick(
                &mut rng,
                &[900, 1800, 1800, 3600, 3600, 3600, 7200, 7200, 7200, 7200],
            ),
            page_size: pick(&mut rng, &[20, 50, 100, 200]),
            backfill_windows: rng.u32(1..=4),
            max_requests_per_minute: if rng.f64() < 0.2 {
                pick(&mut rng, &[1_200, 3_000])
            } else {
                6_000
            },
            max_window_events: None,
        };
        let kills = rng.f64() < 0.3;
        let steps = steps(&mut rng, kills);
        let short_only = steps.iter().all(|step| match step {
            Step::Runs { budget, .. } => *budget < LONG_BUDGET,
            Step::Processes { .. } | Step::Advance { .. } => true,
        });
        let events = EventShape {
            history: rng.usize(200..=1_200),
            shared_timestamp_fraction: pick(&mut rng, &[0.0, 0.1, 0.3]),
            late_fraction: pick(&mut rng, &[0.0, 0.05, 0.2]),
            max_lateness: Duration::from_secs(rng.u64(1..=overlap_s)),
            burst: 0,
            dense: 0,
        };
        let webex_faults = (rng.f64() < 0.85).then(|| webex_faults(&mut rng, short_only));
        let aws_faults = (rng.f64() < 0.7).then(|| aws_faults(&mut rng));
        let mut scenario = Scenario {
            seed,
            streams,
            order: if rng.bool() {
                Order::Shuffled
            } else {
                Order::NewestFirst
            },
            admin_link_header: rng.bool(),
            rotate_refresh_tokens: rng.bool(),
            page_latency: Duration::from_millis(pick(&mut rng, &[0, 5, 20, 50])),
            gateway_limit: (rng.f64() < 0.15).then_some(settings.page_size / 2),
            // Drawn either way, so that a seed gives the same scenario otherwise.
            small_parts: rng.f64() < 0.35 && multipart,
            settings,
            events,
            webex_faults,
            aws_faults,
            steps,
            access_token_stored: false,
        };
        // Drawn last, so that the draws before it give the same scenario as before it existed.
        scenario.access_token_stored = rng.f64() < 0.7;
        if scenario.small_parts {
            scenario.events.burst = rng.usize(600..=1_500);
        }
        // Dense scenarios: a burst far above what a window may hold, so windows split on
        // count, and the digest outgrows the cursor item.
        if rng.f64() < 0.35 {
            scenario.settings.max_window_events = Some(rng.u32(100..=400));
            scenario.events.dense = rng.usize(1_000..=2_500);
        }
        scenario
    }

    /// The collector's environment for this scenario.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let s = &self.settings;
        vec![
            ("SETTLE_LAG_SECONDS", s.settle_lag_s.to_string()),
            ("OVERLAP_SECONDS", s.overlap_s.to_string()),
            ("MAX_WINDOW_SECONDS", s.max_window_s.to_string()),
            (
                "INITIAL_LOOKBACK_DAYS",
                (LOOKBACK.as_secs() / 86_400).to_string(),
            ),
            ("PAGE_SIZE", s.page_size.to_string()),
            ("BACKFILL_WINDOWS", s.backfill_windows.to_string()),
            (
                "MAX_REQUESTS_PER_MINUTE",
                s.max_requests_per_minute.to_string(),
            ),
            (
                "MAX_WINDOW_EVENTS",
                s.max_window_events.unwrap_or(100_000).to_string(),
            ),
        ]
    }

    /// Runs `webexctl` processes: the simulator's clock then follows the real one.
    pub fn uses_processes(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Processes { .. }))
    }

    /// How far all `Advance` steps move the clock.
    pub fn total_advance(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Advance { by, .. } => *by,
                _ => Duration::ZERO,
            })
            .sum()
    }
}

fn pick<T: Copy>(rng: &mut Rng, choices: &[T]) -> T {
    choices[rng.usize(..choices.len())]
}

/// Two to five steps. Processes come before any clock move: they run on the real clock, which
/// must not fall behind the simulator's.
fn steps(rng: &mut Rng, kills: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if kills {
        for _ in 0..rng.usize(1..=2) {
            let count = if rng.f64() < 0.3 { 2 } else { 1 };
            steps.push(Step::Processes {
                deadline_s: rng.u64(4..=8),
                kill_after: (0..count)
                    .map(|_| (rng.f64() < 0.85).then(|| Duration::from_millis(rng.u64(50..=3_000))))
                    .collect(),
            });
        }
    }
    let more = rng.usize(2..=4);
    for i in 0..more {
        let advance = i > 0 && rng.f64() < 0.4;
        if advance {
            steps.push(Step::Advance {
                by: Duration::from_secs(rng.u64(60..=1_800)),
                new_events: rng.usize(0..=300),
            });
            continue;
        }
        let count = match rng.f64() {
            x if x < 0.55 => 1,
            x if x < 0.85 => 2,
            _ => 3,
        };
        let budget = if rng.bool() {
            Duration::from_millis(rng.u64(SHORT_BUDGET_MS))
        } else {
            LONG_BUDGET
        };
        let drop_after = (rng.f64() < 0.25)
            .then(|| Duration::from_millis(rng.u64(100..=budget.as_millis() as u64)));
        steps.push(Step::Runs {
            count,
            budget,
            drop_after,
        });
    }
    steps
}

fn webex_faults(rng: &mut Rng, short_only: bool) -> WebexFaults {
    let retry_after_s = rng.u64(0..=1);
    let mut menu = vec![
        WebexFault::TooManyRequests { retry_after_s },
        WebexFault::Locked { retry_after_s },
        WebexFault::ServerError(500),
        WebexFault::ServerError(502),
        WebexFault::ServerError(503),
        WebexFault::GatewayTimeout,
        WebexFault::Truncated,
        WebexFault::Expired,
    ];
    // A hanging request costs the whole budget; only short budgets can afford it.
    if short_only {
        menu.push(WebexFault::Hang);
    }
    let mut kinds: Vec<WebexFault> = menu.into_iter().filter(|_| rng.f64() < 0.6).collect();
    if kinds.is_empty() {
        kinds.push(WebexFault::ServerError(503));
    }
    WebexFaults {
        probability: pick(rng, &[0.03, 0.08, 0.15, 0.25]),
        kinds,
    }
}

fn aws_faults(rng: &mut Rng) -> AwsFaults {
    let mut kinds: Vec<AwsKind> = AwsKind::ALL
        .into_iter()
        .filter(|_| rng.f64() < 0.6)
        .collect();
    if kinds.is_empty() {
        kinds.push(AwsKind::Error500);
    }
    let mut services: Vec<Service> = Service::ALL
        .into_iter()
        .filter(|_| rng.f64() < 0.7)
        .collect();
    if services.is_empty() {
        services.push(Service::S3);
    }
    AwsFaults {
        probability: pick(rng, &[0.02, 0.05, 0.1, 0.2]),
        kinds,
        services,
    }
}

impl fmt::Display for Scenario {
    /// One line: what a reader needs to see what the scenario did.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let streams: Vec<&str> = self.streams.iter().map(|s| s.name()).collect();
        write!(
            f,
            "{} {:?}{} rotate={} page={} window={}s lag={}s overlap={}s backfill={}",
            streams.join("+"),
            self.order,
            if self.admin_link_header {
                ""
            } else {
                " no-link"
            },
            self.rotate_refresh_tokens,
            self.settings.page_size,
            self.settings.max_window_s,
            self.settings.settle_lag_s,
            self.settings.overlap_s,
            self.settings.backfill_windows,
        )?;
        if self.small_parts {
            f.write_str(" multipart")?;
        }
        if !self.access_token_stored {
            f.write_str(" refresh-first")?;
        }
        if let Some(w) = &self.webex_faults {
            write!(f, " webex-faults={:.0}%", w.probability * 100.0)?;
        }
        if let Some(a) = &self.aws_faults {
            write!(f, " aws-faults={:.0}%", a.probability * 100.0)?;
        }
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Runs {
                    count,
                    budget,
                    drop_after,
                } => format!(
                    "{count}x run {:.1}s{}",
                    budget.as_secs_f64(),
                    if drop_after.is_some() {
                        " (dropped)"
                    } else {
                        ""
                    }
                ),
                Step::Processes {
                    deadline_s,
                    kill_after,
                } => format!(
                    "{}x webexctl {deadline_s}s ({} killed)",
                    kill_after.len(),
                    kill_after.iter().filter(|k| k.is_some()).count()
                ),
                Step::Advance { by, new_events } => {
                    format!("+{}min {new_events} new", by.as_secs() / 60)
                }
            })
            .collect();
        write!(f, " steps: {}", steps.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_scenario() {
        for seed in 0..50 {
            let a = Scenario::generate(seed, true);
            let b = Scenario::generate(seed, true);
            assert_eq!(a.to_string(), b.to_string());
            assert_eq!(a.steps, b.steps);
        }
    }

    #[test]
    fn seeds_cover_every_stream_order_token_behaviour_and_step() {
        let scenarios: Vec<Scenario> = (0..200).map(|s| Scenario::generate(s, true)).collect();
        for stream in StreamId::ALL {
            assert!(scenarios.iter().any(|s| s.streams[0] == stream), "{stream}");
        }
        assert!(scenarios.iter().any(|s| s.order == Order::Shuffled));
        assert!(scenarios.iter().any(|s| s.order == Order::NewestFirst));
        assert!(scenarios.iter().any(|s| s.rotate_refresh_tokens));
        assert!(scenarios.iter().any(|s| !s.rotate_refresh_tokens));
        assert!(scenarios.iter().any(|s| s.uses_processes()));
        assert!(scenarios.iter().any(|s| s.streams.len() == 2));
        assert!(scenarios.iter().any(|s| s.small_parts));
        assert!(scenarios.iter().any(|s| s.steps.iter().any(|step| matches!(
            step,
            Step::Runs {
                drop_after: Some(_),
                ..
            }
        ))));
        assert!(scenarios.iter().any(|s| {
            s.steps
                .iter()
                .any(|step| matches!(step, Step::Runs { count: 3, .. }))
        }));
    }

    #[test]
    fn lateness_stays_within_the_overlap_and_processes_come_before_clock_moves() {
        for seed in 0..200 {
            let s = Scenario::generate(seed, false);
            assert!(s.events.max_lateness <= Duration::from_secs(s.settings.overlap_s));
            assert!(!s.small_parts);
            let first_advance = s
                .steps
                .iter()
                .position(|step| matches!(step, Step::Advance { .. }));
            let last_process = s
                .steps
                .iter()
                .rposition(|step| matches!(step, Step::Processes { .. }));
            if let (Some(a), Some(p)) = (first_advance, last_process) {
                assert!(p < a, "seed {seed}");
            }
        }
    }
}
