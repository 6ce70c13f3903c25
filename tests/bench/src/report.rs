//! docs/benchmarks.md: the machine, the date and the tables of the last run, written between
//! two markers so the prose around them survives each run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::artifacts::{Artifact, MAX_ZIP_BYTES};
use crate::coldstart::ColdStart;
use crate::criterion::Throughput;
use crate::scenario::{BACKFILL_EVENTS_PER_SECOND, Collects, EVENTS_PER_SECOND, Outcome, count};

pub const BEGIN: &str =
    "<!-- bench:begin: written by `make bench` (tests/bench); edit outside these markers -->";
pub const END: &str = "<!-- bench:end -->";

/// Peak RSS at the largest N may be at most this much above the smallest (issue 6).
const FLAT_RSS_TOLERANCE: f64 = 0.10;
/// How much more CPU per event a change may cost the Webex streams (issue 15).
const BEFORE_AFTER_TOLERANCE: f64 = 0.10;
/// A backfill should reach this share of `limit x page size`.
const BACKFILL_TARGET: f64 = 0.90;

#[derive(Debug)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub load_at_start: String,
    pub rustc: String,
    pub commit: String,
    pub date: String,
}

impl Machine {
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let memory_kib: f64 = field(&meminfo, "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0.0);
        let commit = output("git", &["rev-parse", "--short", "HEAD"]);
        let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_default();
        Self {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name"),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            load_at_start: load_average(),
            rustc: output("rustc", &["--version"]),
            commit: if dirty {
                format!("{commit} with uncommitted changes")
            } else {
                commit
            },
            date,
        }
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[derive(Debug)]
pub struct Report<'a> {
    pub machine: &'a Machine,
    pub outcomes: &'a [Outcome],
    pub webhooks: &'a [crate::webhooks::WebhookOutcome],
    pub artifacts: &'a [Artifact],
    pub artifact_note: &'a str,
    pub cold_starts: &'a [ColdStart],
    pub criterion: &'a [Throughput],
    /// Whether the collector read `BACKFILL_WINDOWS` when this ran.
    pub concurrent_windows: bool,
    /// What the `(before)` scenarios ran (`--baseline-commit`).
    pub baseline_commit: &'a str,
    pub elapsed: Duration,
    pub load_at_end: String,
}

fn mib(bytes: f64) -> f64 {
    bytes / 1024.0 / 1024.0
}

impl Report<'_> {
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = self.machine;
        let _ = writeln!(md, "{BEGIN}");
        let _ = writeln!(md, "## Last run: {}\n", m.date);
        let _ = writeln!(
            md,
            "- Machine: {} CPUs ({}), {:.1} GiB memory, Linux {}; {}.",
            m.cpus, m.cpu_model, m.memory_gib, m.kernel, m.rustc
        );
        let _ = writeln!(md, "- Commit: {}.", m.commit);
        let _ = writeln!(
            md,
            "- Load average (1, 5, 15 min) at the start: {}; at the end: {}. The machine is shared: \
             other work running at the same time slows every figure below.",
            m.load_at_start, self.load_at_end
        );
        let _ = writeln!(
            md,
            "- The end-to-end part (simulator, moto, runs, read-back, cold starts) took {:.0} s.",
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            md,
            "- Concurrent windows (`BACKFILL_WINDOWS`, `MAX_REQUESTS_PER_MINUTE`) in the collector: {}.",
            if self.concurrent_windows {
                "yes"
            } else {
                "no: the collector ignores them and takes windows one by one"
            }
        );
        md.push('\n');
        self.end_to_end(&mut md);
        self.before_and_after(&mut md);
        self.backfill(&mut md);
        self.webhooks(&mut md);
        self.artifacts(&mut md);
        self.cold_starts(&mut md);
        self.criterion(&mut md);
        let _ = writeln!(md, "{END}");
        md
    }

    fn end_to_end(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "### End to end: one `webexctl collect` run per scenario\n"
        );
        let hours_20k = 20_000.0 / EVENTS_PER_SECOND / 3600.0;
        let days_2m = 2_000_000.0 / EVENTS_PER_SECOND / 86_400.0;
        let _ = writeln!(
            md,
            "Backlog density {EVENTS_PER_SECOND} events/s in every throughput scenario (N sets \
             the backlog's length: 20k events span {hours_20k:.1} h, 2M span {days_2m:.1} days) and \
             {BACKFILL_EVENTS_PER_SECOND} events/s in the backfill; the dense scenario puts all \
             its events within three minutes, inside one 15-minute overlap. Collector defaults \
             otherwise (1 h windows, 15 min overlap, 5 min settle lag, windows split above \
             100,000 events). CPU and peak RSS are webexctl's alone (`getrusage` of that one \
             process); the simulator's and moto's CPU are for the same run. The largest state \
             item is sampled every 250 ms during the run (names plus values, as DynamoDB sizes \
             items).\n"
        );
        let _ = writeln!(
            md,
            "| scenario | events | events/s of history | page | windows | pages | wall s | events/s | CPU s per M events | peak RSS MiB | largest state item KB | S3 objects | S3 MiB | check |"
        );
        let _ = writeln!(
            md,
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
        );
        for o in self.outcomes {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.1} | {:.1} | {} | {:.1} | {} |",
                o.scenario.name,
                o.landed.distinct,
                o.scenario.density,
                o.scenario.page_size,
                o.windows(),
                o.pages(),
                o.collector.wall_s,
                o.events_per_second(),
                o.cpu_s_per_million(),
                o.collector.max_rss_kib as f64 / 1024.0,
                o.largest_item_bytes as f64 / 1024.0,
                o.landed.objects,
                mib(o.landed.bytes as f64),
                if o.problems.is_empty() {
                    "all events once".to_owned()
                } else {
                    format!("FAILED: {}", o.problems.join("; "))
                }
            );
        }
        md.push('\n');
        let _ = writeln!(
            md,
            "The simulator and moto during the same runs (the simulator's start-up is generating \
             the backlog; its CPU is counted from the collector's start to its end):\n"
        );
        let _ = writeln!(
            md,
            "| scenario | sim start-up s | sim CPU s | sim CPU % of wall | sim peak RSS MiB | requests served | events served | moto CPU s | moto CPU % of wall |"
        );
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for o in self.outcomes {
            let wall = o.collector.wall_s;
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.1} | {:.0}% | {:.0} | {} | {} | {} | {} |",
                o.scenario.name,
                o.sim_ready_s,
                o.sim_cpu_s,
                100.0 * o.sim_cpu_s / wall,
                o.sim_peak_rss_kib as f64 / 1024.0,
                o.sim.requests,
                o.sim.events_served,
                o.moto_cpu_s
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.1}")),
                o.moto_cpu_s
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{:.0}%", 100.0 * c / wall)),
            );
        }
        md.push('\n');
        let _ = writeln!(
            md,
            "webexctl's resident set over each run (largest /proc sample up to that share of the \
             wall time, MiB; the last column is the exact peak from `getrusage`):\n"
        );
        let _ = writeln!(md, "| scenario | 10% | 25% | 50% | 75% | peak |");
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|");
        for o in self.outcomes {
            let at = |share: f64| {
                o.collector.rss_by(share).map_or_else(
                    || "-".to_owned(),
                    |kib| format!("{:.1}", kib as f64 / 1024.0),
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.1} |",
                o.scenario.name,
                at(0.10),
                at(0.25),
                at(0.50),
                at(0.75),
                o.collector.max_rss_kib as f64 / 1024.0
            );
        }
        md.push('\n');
        let plain: Vec<&Outcome> = self
            .outcomes
            .iter()
            .filter(|o| {
                !o.scenario.is_backfill()
                    && !o.scenario.is_dense()
                    && !o.scenario.baseline
                    && o.scenario.collects
                        == Collects::Webex(collector_core::StreamId::ComplianceEvents)
            })
            .collect();
        if let (Some(small), Some(large)) = (
            plain.iter().min_by_key(|o| o.scenario.events),
            plain.iter().max_by_key(|o| o.scenario.events),
        ) && small.scenario.events < large.scenario.events
        {
            let ratio =
                large.collector.max_rss_kib as f64 / small.collector.max_rss_kib.max(1) as f64;
            let _ = writeln!(
                md,
                "Peak RSS flat in N: {} events {:.1} MiB, {} events {:.1} MiB: ratio {:.3} \
                 (target at most {:.2}): {}.\n",
                count(large.scenario.events),
                large.collector.max_rss_kib as f64 / 1024.0,
                count(small.scenario.events),
                small.collector.max_rss_kib as f64 / 1024.0,
                ratio,
                1.0 + FLAT_RSS_TOLERANCE,
                if ratio <= 1.0 + FLAT_RSS_TOLERANCE {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
    }

    /// Each compared scenario's runs with the baseline webexctl and with this one: CPU per
    /// million events of each run and their means, and whether the change stays within the
    /// tolerance.
    fn before_and_after(&self, md: &mut String) {
        let mut compared: Vec<&str> = Vec::new();
        for o in self.outcomes {
            if let Some(name) = o.scenario.compared_as.as_deref()
                && !compared.contains(&name)
            {
                compared.push(name);
            }
        }
        if compared.is_empty() {
            return;
        }
        let _ = writeln!(
            md,
            "### Before and after\n\nEach scenario ran with webexctl built from {} (before) and \
             with this commit's (after), in rounds one right after the other on the same \
             simulator backlog (before, after, then after, before, ...), so that a drift in the \
             machine's speed weighs on both. CPU is webexctl's user + system time per million \
             events, each run's and the mean; the change of the means must stay within {:.0}%.\n",
            self.baseline_commit,
            BEFORE_AFTER_TOLERANCE * 100.0
        );
        let _ = writeln!(
            md,
            "| scenario | CPU s per M before (runs) | after (runs) | before, mean | after, mean | change | within {:.0}% |",
            BEFORE_AFTER_TOLERANCE * 100.0
        );
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|---|");
        for name in compared {
            let side = |baseline: bool| -> Vec<f64> {
                self.outcomes
                    .iter()
                    .filter(|o| {
                        o.scenario.compared_as.as_deref() == Some(name)
                            && o.scenario.baseline == baseline
                    })
                    .map(Outcome::cpu_s_per_million)
                    .collect()
            };
            let (before, after) = (side(true), side(false));
            if before.is_empty() || after.is_empty() {
                continue;
            }
            let mean = |runs: &[f64]| runs.iter().sum::<f64>() / runs.len() as f64;
            let list = |runs: &[f64]| {
                runs.iter()
                    .map(|c| format!("{c:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (b, a) = (mean(&before), mean(&after));
            let change = a / b - 1.0;
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {b:.2} | {a:.2} | {:+.1}% | {} |",
                list(&before),
                list(&after),
                change * 100.0,
                if change <= BEFORE_AFTER_TOLERANCE {
                    "yes"
                } else {
                    "NO"
                }
            );
        }
        md.push('\n');
    }

    fn backfill(&self, md: &mut String) {
        let runs: Vec<&Outcome> = self
            .outcomes
            .iter()
            .filter(|o| o.scenario.is_backfill())
            .collect();
        if runs.is_empty() {
            return;
        }
        let _ = writeln!(md, "### Backfill at the rate limit\n");
        let _ = writeln!(
            md,
            "The simulator answers each page after {} ms and allows {} requests a minute per \
             client (sliding minute, 429 with `Retry-After` beyond). Target: at least {:.0}% of \
             limit x page size, and no 429 from the limit.\n",
            runs[0].scenario.page_latency_ms,
            runs[0].scenario.rate_limit_per_minute.unwrap_or(0),
            BACKFILL_TARGET * 100.0
        );
        let _ = writeln!(
            md,
            "ratio = events/s ÷ (limit x page size) = (requests/min ÷ limit) x (events per request \
             ÷ page size): how much of the limit the run used, times how full its requests were. \
             Requests that re-read a window's overlap count as requests but bring no new event.\n"
        );
        let _ = writeln!(
            md,
            "| scenario | windows at once | our budget req/min | wall s | events/s | limit x page size | ratio | requests/min (share of limit) | new events per request (page fill) | events fetched incl. re-reads | 429 from the limit | all 429 | check |"
        );
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
        for o in runs {
            let limit = o.scenario.limit_events_per_second().unwrap_or(f64::NAN);
            let ratio = o.events_per_second() / limit;
            let requests = o.sim.requests as f64;
            let per_minute = requests / (o.collector.wall_s / 60.0);
            let per_request = o.landed.distinct as f64 / requests.max(1.0);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.1}% ({}) | {:.1} ({:.1}%) | {:.0} ({:.1}%) | {} | {} | {} | {} |",
                o.scenario.name,
                o.scenario.env_value("BACKFILL_WINDOWS").unwrap_or("-"),
                o.scenario
                    .env_value("MAX_REQUESTS_PER_MINUTE")
                    .unwrap_or("-"),
                o.collector.wall_s,
                o.events_per_second(),
                limit,
                100.0 * ratio,
                if ratio >= BACKFILL_TARGET {
                    "met"
                } else {
                    "NOT met"
                },
                per_minute,
                100.0 * per_minute / f64::from(o.scenario.rate_limit_per_minute.unwrap_or(1)),
                per_request,
                100.0 * per_request / f64::from(o.scenario.page_size),
                o.sim.events_served,
                o.sim.rate_limited,
                o.sim.status(429),
                if o.problems.is_empty() {
                    "all events once".to_owned()
                } else {
                    format!("FAILED: {}", o.problems.join("; "))
                }
            );
        }
        md.push('\n');
    }

    fn artifacts(&self, md: &mut String) {
        if self.artifacts.is_empty() {
            return;
        }
        let _ = writeln!(md, "### Lambda artifacts\n");
        let _ = writeln!(md, "{}\n", self.artifact_note);
        let _ = writeln!(
            md,
            "| function | arch | zipped bootstrap | bootstrap | at most 10 MB zipped |"
        );
        let _ = writeln!(md, "|---|---|--:|--:|---|");
        for a in self.artifacts {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} MiB ({} bytes) | {:.2} MiB | {} |",
                a.function,
                a.arch,
                mib(a.zip_bytes as f64),
                a.zip_bytes,
                mib(a.bootstrap_bytes as f64),
                if a.zip_bytes <= MAX_ZIP_BYTES {
                    "yes"
                } else {
                    "NO"
                }
            );
        }
        md.push('\n');
    }

    fn webhooks(&self, md: &mut String) {
        let Some(first) = self.webhooks.first() else {
            return;
        };
        let _ = writeln!(
            md,
            "### Webhook receiver under load
"
        );
        let _ = writeln!(
            md,
            "Release `webhook-receiver` processes run as Lambda runs them (the tests' runtime API \
             stub behind an API Gateway stand-in, both on 127.0.0.1), each delivery ({} bytes, a \
             message event as Webex posts it) signed, checked, and queued on moto's SQS before \
             its 200. Senders post one delivery after another, all at once; the answer time is \
             what a sender measured, from its request to the answer. Everything (senders, stand-in, \
             receivers, moto) shares this machine's CPUs: moto's SQS, in Python, is the \
             bottleneck here, not the receiver, whose own CPU per delivery is given.\n",
            first.body_bytes
        );
        let _ = writeln!(
            md,
            "| deliveries | senders | receiver instances | deliveries/s | answer p50 ms | p99 ms | max ms | receiver CPU ms per delivery | moto CPU s | check |"
        );
        let _ = writeln!(md, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
        for w in self.webhooks {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.3} | {:.1} | {} |",
                w.load.deliveries,
                w.load.clients,
                w.load.instances,
                w.per_second(),
                w.p50_ms,
                w.p99_ms,
                w.max_ms,
                w.cpu_ms_per_delivery(),
                w.moto_cpu_s,
                if w.problems.is_empty() {
                    format!("all {} answered 200 and queued", w.accepted)
                } else {
                    w.problems.join("; ")
                }
            );
        }
        md.push('\n');
    }

    fn cold_starts(&self, md: &mut String) {
        let Some(first) = self.cold_starts.first() else {
            return;
        };
        let _ = writeln!(md, "### Cold start\n");
        let _ = writeln!(
            md,
            "From process start to the first `GET /2018-06-01/runtime/invocation/next` on a local \
             runtime API stub, {} starts per function of the host ({}) release binary, built \
             from the same code as the artifacts above; the binary is in the page cache, so \
             this is our initialisation (config, SDK clients, runtime), not Lambda's download \
             of the artifact.\n",
            first.runs.len(),
            std::env::consts::ARCH
        );
        let _ = writeln!(md, "| function | median ms | min ms | max ms |");
        let _ = writeln!(md, "|---|--:|--:|--:|");
        for c in self.cold_starts {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.1} | {:.1} |",
                c.function,
                ms(c.median()),
                ms(c.min()),
                ms(c.max())
            );
        }
        md.push('\n');
    }

    fn criterion(&self, md: &mut String) {
        if self.criterion.is_empty() {
            return;
        }
        let _ = writeln!(md, "### Hot path (criterion)\n");
        let _ = writeln!(
            md,
            "`cargo bench -p collector-core --bench hot_path`: 4 simulator pages per iteration; \
             `parse_page` splits them into raw events, `parse_ndjson_gzip` also writes them as \
             one gzip NDJSON object (flate2 default level) into a sink that only counts bytes. \
             MiB/s of Webex JSON in, single thread.\n"
        );
        let _ = writeln!(
            md,
            "| benchmark | JSON per iteration | time per iteration | MiB/s (95% interval) |"
        );
        let _ = writeln!(md, "|---|--:|--:|--:|");
        for t in self.criterion {
            let _ = writeln!(
                md,
                "| {}/{} | {:.0} KiB | {:.2} ms | {:.0} ({:.0} to {:.0}) |",
                t.group,
                t.function,
                t.bytes as f64 / 1024.0,
                t.mean_ns / 1e6,
                t.mib_per_s(t.mean_ns),
                t.mib_per_s(t.high_ns),
                t.mib_per_s(t.low_ns)
            );
        }
        md.push('\n');
    }
}

/// Replaces the block between the markers in `path` (or appends it), keeping the rest.
pub fn write(path: &Path, block: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n\n".to_owned());
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(start), Some(end)) if end > start => {
            format!(
                "{}{}{}",
                &old[..start],
                block.trim_end(),
                &old[end + END.len()..]
            )
        }
        _ => format!("{}\n\n{}", old.trim_end(), block),
    };
    std::fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_only_the_block() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("benchmarks.md");
        std::fs::write(
            &path,
            format!("# B\n\nintro\n\n{BEGIN}\nold\n{END}\n\nafter\n"),
        )
        .unwrap();
        write(&path, &format!("{BEGIN}\nnew\n{END}\n")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("# B\n\nintro\n\n{BEGIN}\nnew\n{END}\n\nafter\n")
        );
        std::fs::remove_file(&path).unwrap();
        write(&path, &format!("{BEGIN}\nfirst\n{END}\n")).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("# Benchmarks\n\n")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
