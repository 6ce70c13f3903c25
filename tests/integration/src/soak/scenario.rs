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
    /// Several customer organisations, one unit of work each; `None`: the secret's own.
    pub orgs: Option<MultiOrg>,
    /// A collector document's streams of other sources (Graph, Secure Endpoint, the general
    /// APIs), collected as the http-sources function collects them; `streams` is then empty.
    pub sources: Option<Sources>,
}

/// A scenario of the document's other sources: which of them, and how their APIs behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources {
    /// Names from [`crate::sources::STREAMS`], in its order.
    pub streams: Vec<&'static str>,
    /// Graph's throttle: this many requests per second, answered 429 beyond it.
    pub graph_throttle: Option<u32>,
    /// Whether Graph's 429s carry `Retry-After`.
    pub graph_retry_after: bool,
    /// How long Graph's and general C's tokens live, in sim time.
    pub token_ttl: Duration,
}

/// A partner administrator's customer organisations, collected by the admin (and security)
/// audit streams as units of work (`ORG_IDS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiOrg {
    pub customers: Vec<Customer>,
    /// `ORG_IDS=discover`: every organisation the token lists, the secret's own too (with the
    /// scenario's history). Otherwise `ORG_IDS` lists the customers, and the secret's own
    /// organisation, which has events all the same, must stay uncollected.
    pub discover: bool,
    pub refusal: Option<Refusal>,
}

/// A customer organisation (`SimOrg::customer(number)`) and its history. The first customer
/// also gets the scenario's burst and dense events: one busy organisation among quiet ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Customer {
    pub number: u32,
    pub history: usize,
}

/// One customer answers 403 (the partner lost access to it) from before step `from` until
/// before step `until` (the catch-up, when `until` is the number of steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// An index into [`MultiOrg::customers`].
    pub customer: usize,
    pub from: usize,
    pub until: usize,
}

impl MultiOrg {
    /// The organisation id of the customer at `index`.
    pub fn customer_id(&self, index: usize) -> String {
        webex_sim::SimOrg::customer(self.customers[index].number).id
    }

    /// The customer refused before `step` plays (the catch-up is step `steps.len()`).
    pub fn refused_at(&self, step: usize) -> Option<usize> {
        self.refusal
            .filter(|r| (r.from..r.until).contains(&step))
            .map(|r| r.customer)
    }
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
    /// With `org` (an index into [`MultiOrg::customers`]), each run collects that unit only,
    /// as a queued message asks; otherwise every unit.
    Runs {
        count: u8,
        budget: Duration,
        drop_after: Option<Duration>,
        org: Option<usize>,
    },
    /// `webexctl collect` processes started together; each `Some` is killed with SIGKILL after
    /// that long, `None` runs to its end. With `org`, `webexctl collect --org` that customer.
    Processes {
        deadline_s: u64,
        kill_after: Vec<Option<Duration>>,
        org: Option<usize>,
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
            orgs: None,
            sources: None,
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
        if scenario.streams[0].spec().takes_org_id && rng.f64() < MULTI_ORG_SHARE {
            let orgs = multi_org(&mut rng, scenario.events.history, &mut scenario.steps);
            scenario.orgs = Some(orgs);
        }
        if rng.f64() < SOURCES_SHARE {
            scenario.sources = Some(sources(&mut rng));
            scenario.streams.clear();
            scenario.orgs = None;
            for step in &mut scenario.steps {
                match step {
                    Step::Runs { org, .. } | Step::Processes { org, .. } => *org = None,
                    Step::Advance { .. } => {}
                }
            }
        }
        scenario
    }

    /// What a run of this scenario collects: each Webex stream on its own, or every one of
    /// the document's other sources at once.
    pub fn targets(&self) -> Vec<Target> {
        match &self.sources {
            Some(_) => vec![Target::Sources],
            None => self.streams.iter().map(|s| Target::Webex(*s)).collect(),
        }
    }

    /// The names of the streams it collects.
    pub fn stream_names(&self) -> Vec<&'static str> {
        match &self.sources {
            Some(sources) => sources.streams.clone(),
            None => self.streams.iter().map(|s| s.name()).collect(),
        }
    }

    /// The collector's environment for this scenario.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let s = &self.settings;
        let orgs = self.orgs.as_ref().map(|orgs| {
            let ids = if orgs.discover {
                "discover".to_string()
            } else {
                (0..orgs.customers.len())
                    .map(|i| orgs.customer_id(i))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            ("ORG_IDS", ids)
        });
        let mut env = vec![
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
        ];
        env.extend(orgs);
        env
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

/// What one run collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Webex stream configured by the environment (its units when it has organisations).
    Webex(StreamId),
    /// The document's streams of other sources, as the http-sources function runs them.
    Sources,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Webex(stream) => stream.fmt(f),
            Target::Sources => f.write_str("sources"),
        }
    }
}

/// The scenarios that collect the document's other sources instead of a Webex stream.
const SOURCES_SHARE: f64 = 0.3;

/// One to three of the six other sources, and how their APIs behave.
fn sources(rng: &mut Rng) -> Sources {
    let mut streams: Vec<&'static str> = crate::sources::STREAMS
        .iter()
        .map(|(name, _)| *name)
        .filter(|_| rng.f64() < 0.35)
        .take(3)
        .collect();
    if streams.is_empty() {
        let all = crate::sources::STREAMS;
        streams.push(all[rng.usize(..all.len())].0);
    }
    Sources {
        streams,
        graph_throttle: (rng.f64() < 0.5).then(|| rng.u32(5..=20)),
        graph_retry_after: rng.bool(),
        token_ttl: Duration::from_secs(pick(rng, &[300, 900, 3_599])),
    }
}

/// Of the scenarios whose stream names its organisation (admin and security audit), those
/// that collect several.
const MULTI_ORG_SHARE: f64 = 0.25;

/// Two to five customers with histories of their own, listed or discovered; in half of the
/// scenarios one of them refuses for a while; some steps collect one customer only.
fn multi_org(rng: &mut Rng, history: usize, steps: &mut [Step]) -> MultiOrg {
    let mut numbers: Vec<u32> = (1..=40).collect();
    rng.shuffle(&mut numbers);
    let customers = numbers[..rng.usize(2..=5)]
        .iter()
        .map(|number| Customer {
            number: *number,
            history: rng.usize(history / 4..=history),
        })
        .collect::<Vec<_>>();
    let discover = rng.bool();
    let refusal = rng.bool().then(|| {
        let from = rng.usize(..steps.len());
        Refusal {
            customer: rng.usize(..customers.len()),
            from,
            until: rng.usize(from + 1..=steps.len()),
        }
    });
    for step in steps.iter_mut() {
        let org = (rng.f64() < 0.3).then(|| rng.usize(..customers.len()));
        match step {
            Step::Runs { org: one, .. } | Step::Processes { org: one, .. } => *one = org,
            Step::Advance { .. } => {}
        }
    }
    MultiOrg {
        customers,
        discover,
        refusal,
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
                org: None,
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
            org: None,
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
        let s = &self.settings;
        match &self.sources {
            Some(sources) => {
                write!(
                    f,
                    "sources={} token-ttl={}s",
                    sources.streams.join("+"),
                    sources.token_ttl.as_secs()
                )?;
                if let Some(per_second) = sources.graph_throttle {
                    let retry_after = if sources.graph_retry_after {
                        ""
                    } else {
                        " no-retry-after"
                    };
                    write!(f, " graph-throttle={per_second}/s{retry_after}")?;
                }
            }
            None => {
                let streams: Vec<&str> = self.streams.iter().map(|s| s.name()).collect();
                write!(
                    f,
                    "{} {:?}{} rotate={} page={}",
                    streams.join("+"),
                    self.order,
                    if self.admin_link_header {
                        ""
                    } else {
                        " no-link"
                    },
                    self.rotate_refresh_tokens,
                    s.page_size,
                )?;
            }
        }
        write!(
            f,
            " window={}s lag={}s overlap={}s backfill={}",
            s.max_window_s, s.settle_lag_s, s.overlap_s, s.backfill_windows,
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
        if let Some(orgs) = &self.orgs {
            write!(f, " {orgs}")?;
        }
        let only = |org: &Option<usize>| match (org, &self.orgs) {
            (Some(i), Some(orgs)) => format!(" --org c{}", orgs.customers[*i].number),
            _ => String::new(),
        };
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Runs {
                    count,
                    budget,
                    drop_after,
                    org,
                } => format!(
                    "{count}x run {:.1}s{}{}",
                    budget.as_secs_f64(),
                    only(org),
                    if drop_after.is_some() {
                        " (dropped)"
                    } else {
                        ""
                    }
                ),
                Step::Processes {
                    deadline_s,
                    kill_after,
                    org,
                } => format!(
                    "{}x webexctl {deadline_s}s{} ({} killed)",
                    kill_after.len(),
                    only(org),
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

impl fmt::Display for MultiOrg {
    /// `orgs=discover:home+c3(412),c17(230) c17-403-steps=2-3`: how the units are found, the
    /// customers (by number) with their histories, and which one refuses during which steps
    /// (counted from 1; past the last step, the catch-up).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let customers: Vec<String> = self
            .customers
            .iter()
            .map(|c| format!("c{}({})", c.number, c.history))
            .collect();
        let (how, home) = if self.discover {
            ("discover", "home+")
        } else {
            ("list", "")
        };
        write!(f, "orgs={how}:{home}{}", customers.join(","))?;
        if let Some(r) = &self.refusal {
            write!(
                f,
                " c{}-403-steps={}-{}",
                self.customers[r.customer].number,
                r.from + 1,
                r.until
            )?;
        }
        Ok(())
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
            assert!(
                scenarios.iter().any(|s| s.streams.first() == Some(&stream)),
                "{stream}"
            );
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
    fn a_third_of_the_scenarios_collect_other_sources_and_every_one_is_drawn() {
        let scenarios: Vec<Scenario> = (0..400).map(|s| Scenario::generate(s, true)).collect();
        let sources: Vec<&Sources> = scenarios
            .iter()
            .filter_map(|s| s.sources.as_ref())
            .collect();
        let share = sources.len() as f64 / scenarios.len() as f64;
        assert!((0.2..0.4).contains(&share), "{share}");
        for (name, _) in crate::sources::STREAMS {
            assert!(sources.iter().any(|s| s.streams.contains(&name)), "{name}");
        }
        assert!(sources.iter().any(|s| s.streams.len() >= 2));
        assert!(sources.iter().any(|s| s.graph_throttle.is_some()));
        for s in scenarios.iter().filter(|s| s.sources.is_some()) {
            assert!(s.streams.is_empty() && s.orgs.is_none(), "seed {}", s.seed);
            assert_eq!(s.targets(), [Target::Sources]);
            assert!(s.to_string().starts_with("sources="), "{s}");
        }
        assert!(
            scenarios
                .iter()
                .any(|s| s.sources.is_some() && s.uses_processes()),
            "some kill webexctl"
        );
        assert!(
            scenarios
                .iter()
                .any(|s| s.sources.is_some() && s.aws_faults.is_some()),
        );
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

    #[test]
    fn a_quarter_of_the_audit_scenarios_collect_several_organisations() {
        let scenarios: Vec<Scenario> = (0..400).map(|s| Scenario::generate(s, true)).collect();
        let (audit, compliance): (Vec<&Scenario>, Vec<&Scenario>) = scenarios
            .iter()
            .filter(|s| s.sources.is_none())
            .partition(|s| s.streams[0] != StreamId::ComplianceEvents);
        assert!(compliance.iter().all(|s| s.orgs.is_none()));
        let multi: Vec<(&Scenario, &MultiOrg)> = audit
            .iter()
            .filter_map(|s| s.orgs.as_ref().map(|orgs| (*s, orgs)))
            .collect();
        let share = multi.len() as f64 / audit.len() as f64;
        assert!((0.15..0.35).contains(&share), "{share}");
        for (s, orgs) in &multi {
            assert!((2..=5).contains(&orgs.customers.len()), "seed {}", s.seed);
            let mut numbers: Vec<u32> = orgs.customers.iter().map(|c| c.number).collect();
            numbers.sort();
            numbers.dedup();
            assert_eq!(numbers.len(), orgs.customers.len(), "seed {}", s.seed);
            if let Some(r) = orgs.refusal {
                assert!(
                    r.from < r.until && r.until <= s.steps.len(),
                    "seed {}",
                    s.seed
                );
                assert!(r.customer < orgs.customers.len());
                assert_eq!(
                    orgs.refused_at(s.steps.len()),
                    None,
                    "restored for the catch-up"
                );
            }
            assert!(s.to_string().contains(" orgs="), "{s}");
        }
        assert!(multi.iter().any(|(_, o)| o.discover));
        assert!(multi.iter().any(|(_, o)| !o.discover));
        assert!(multi.iter().any(|(_, o)| o.refusal.is_some()));
        assert!(multi.iter().any(|(s, _)| s.to_string().contains("--org c")));
        let listed = multi.iter().find(|(_, o)| !o.discover).map(|(s, _)| s);
        let org_ids = listed.and_then(|s| s.env().into_iter().find(|(k, _)| *k == "ORG_IDS"));
        assert!(org_ids.is_some_and(|(_, ids)| ids.split(',').count() >= 2));
    }
}
