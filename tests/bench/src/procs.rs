//! The processes a benchmark starts: each held by a guard that kills it when the benchmark
//! fails half-way, the simulator with its ready and summary lines, and what /proc says about
//! a process's CPU and memory.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, SysconfVar, sysconf};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

/// A child process that is killed (with its process group when it leads one) unless it was
/// waited for: an error anywhere in the benchmark leaves nothing running.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    group: bool,
    name: String,
    reaped: bool,
}

impl ChildGuard {
    pub fn new(child: Child, group: bool, name: String) -> Self {
        Self {
            child,
            group,
            name,
            reaped: false,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn wait(&mut self) -> Result<ExitStatus> {
        let status = self
            .child
            .wait()
            .await
            .with_context(|| format!("waiting for {}", self.name))?;
        self.reaped = true;
        Ok(status)
    }

    pub fn signal(&self, signal: Signal) -> Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{} has already exited", self.name))?;
        kill(Pid::from_raw(pid as i32), signal)
            .with_context(|| format!("cannot send {signal} to {}", self.name))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        if let Some(pid) = self.child.id() {
            let pid = Pid::from_raw(pid as i32);
            let _ = if self.group {
                killpg(pid, Signal::SIGKILL)
            } else {
                kill(pid, Signal::SIGKILL)
            };
        }
    }
}

/// Totals the simulator prints when it stops (`webex-sim summary {json}`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SimSummary {
    pub requests: u64,
    pub by_status: std::collections::BTreeMap<String, u64>,
    pub rate_limited: u64,
    pub events_served: u64,
}

impl SimSummary {
    pub fn status(&self, code: u16) -> u64 {
        self.by_status.get(&code.to_string()).copied().unwrap_or(0)
    }
}

/// A running `webex-sim` process.
#[derive(Debug)]
pub struct Sim {
    guard: ChildGuard,
    pid: u32,
    pub base_url: String,
    /// From start to the ready line: generating the events.
    pub ready_after: Duration,
    lines: Lines<BufReader<ChildStdout>>,
}

const READY: &str = "webex-sim listening on ";
const SUMMARY: &str = "webex-sim summary ";

impl Sim {
    pub async fn start(program: &Path, args: &[String], stderr: &Path) -> Result<Sim> {
        let started = Instant::now();
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(crate::measure::create(stderr)?)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut guard = ChildGuard::new(child, false, "webex-sim".to_owned());
        let pid = guard.pid().context("webex-sim exited at once")?;
        let stdout = guard
            .child
            .stdout
            .take()
            .context("webex-sim's standard output is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        // Generating millions of events takes a while before the ready line.
        let first = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
            .await
            .context("webex-sim was not ready within 10 minutes")??;
        let Some(base_url) = first.as_deref().and_then(|l| l.strip_prefix(READY)) else {
            bail!(
                "webex-sim did not start (first line {first:?}); see {}",
                stderr.display()
            );
        };
        Ok(Sim {
            base_url: base_url.trim().to_owned(),
            guard,
            pid,
            ready_after: started.elapsed(),
            lines,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the simulator (SIGTERM) and returns the totals it printed.
    pub async fn stop(mut self) -> Result<SimSummary> {
        self.guard.signal(Signal::SIGTERM)?;
        let summary = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = self.lines.next_line().await? {
                if let Some(json) = line.strip_prefix(SUMMARY) {
                    return Ok(serde_json::from_str::<SimSummary>(json)?);
                }
            }
            bail!("webex-sim stopped without printing its summary")
        })
        .await
        .context("webex-sim did not stop within a minute")??;
        self.guard.wait().await?;
        Ok(summary)
    }
}

/// User + system CPU seconds a live process has used so far (/proc/PID/stat).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses; the fields after its
    // closing parenthesis start at field 3 (state), so utime (14) and stime (15) are 11 and 12.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/PID/stat format")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("short /proc/PID/stat")?
            .parse::<u64>()
            .context("unexpected /proc/PID/stat field")? as f64)
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    // USER_HZ, the unit of /proc times; 100 on every Linux architecture we run on.
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => hz as f64,
        _ => 100.0,
    }
}

/// Peak resident set of a live process in KiB (`VmHWM` in /proc/PID/status).
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmHWM:")
}

/// Resident set of a live process now, in KiB (`VmRSS` in /proc/PID/status).
pub fn resident_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// The moto server that `scripts/with-moto.sh` started for `endpoint` (found by its command
/// line), so its CPU can be reported too. `None` when it cannot be found.
pub fn find_moto(endpoint: &str) -> Option<u32> {
    let port = endpoint.rsplit(':').next()?.trim_end_matches('/');
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_moto = args.iter().any(|a| a.ends_with(b"moto_server"));
        let on_port = args
            .windows(2)
            .any(|w| w[0] == b"-p" && w[1] == port.as_bytes());
        if is_moto && on_port {
            return Some(pid);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        // Resident first: other test threads may grow it between the reads, and the peak only
        // ever rises.
        let resident = resident_kib(me).unwrap();
        assert!(resident > 0);
        assert!(peak_rss_kib(me).unwrap() >= resident);
    }

    #[test]
    fn summary_reads_the_simulator_line() {
        let summary: SimSummary = serde_json::from_str(
            r#"{"requests":5,"by_status":{"200":4,"429":1},"rate_limited":1,"events_served":9}"#,
        )
        .unwrap();
        assert_eq!(summary.status(429), 1);
        assert_eq!(summary.status(500), 0);
    }
}
