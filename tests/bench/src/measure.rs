//! The resource use of one process and nothing else: `bench measure` runs the command as its
//! only child and reads `getrusage(RUSAGE_CHILDREN)` once the child is reaped, which then holds
//! exactly that child's user and system CPU and its peak resident set. (Read from the bench
//! itself, the same call would mix in the simulator and every other child.)

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};
use serde::{Deserialize, Serialize};

use crate::procs::ChildGuard;

/// What one measured process used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    /// `None` when a signal ended it.
    pub exit_code: Option<i32>,
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    /// Peak resident set size in KiB (Linux reports `ru_maxrss` in KiB).
    pub max_rss_kib: u64,
    /// Resident set (KiB) sampled from /proc while it ran, as (seconds since start, KiB):
    /// shows whether memory levels off or keeps growing with the work done.
    pub rss_samples: Vec<(f64, u64)>,
}

impl Measured {
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    /// The largest resident set sampled up to `share` of the run's wall time, in KiB.
    pub fn rss_by(&self, share: f64) -> Option<u64> {
        let until = self.wall_s * share;
        self.rss_samples
            .iter()
            .filter(|(at, _)| *at <= until)
            .map(|(_, kib)| *kib)
            .max()
    }
}

/// How often the wrapper samples the resident set.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The body of `bench measure --out FILE -- COMMAND...`: runs COMMAND with this process's
/// standard streams and environment, then writes its [`Measured`] as JSON to FILE.
pub fn measure_command(out: &Path, command: &[OsString]) -> Result<()> {
    let (program, args) = command
        .split_first()
        .context("bench measure needs a command after --")?;
    let started = Instant::now();
    let mut child = std::process::Command::new(program)
        .args(args)
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let mut rss_samples = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the command")? {
            break status;
        }
        if let Ok(kib) = crate::procs::resident_kib(child.id()) {
            rss_samples.push((started.elapsed().as_secs_f64(), kib));
        }
        std::thread::sleep(RSS_SAMPLE_EVERY);
    };
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage(RUSAGE_CHILDREN)")?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let measured = Measured {
        exit_code: status.code(),
        wall_s: wall.as_secs_f64(),
        user_s: seconds(usage.user_time()),
        sys_s: seconds(usage.system_time()),
        max_rss_kib: u64::try_from(usage.max_rss()).unwrap_or(0),
        rss_samples,
    };
    std::fs::write(out, serde_json::to_vec(&measured)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// A command to run under `bench measure`.
#[derive(Debug)]
pub struct Job<'a> {
    pub program: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The command's standard output and error go to these files.
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub timeout: Duration,
}

/// Runs `job` under `bench measure` (this same executable) and returns what it used. The
/// wrapper leads its own process group, so a timeout or an error stops the command too.
pub async fn measured(job: Job<'_>) -> Result<Measured> {
    let report = job.stdout.with_extension("rusage.json");
    let _ = std::fs::remove_file(&report);
    let wrapper = std::env::current_exe().context("cannot find the bench executable")?;
    let mut command = tokio::process::Command::new(wrapper);
    command
        .arg("measure")
        .arg("--out")
        .arg(&report)
        .arg("--")
        .arg(job.program)
        .args(&job.args)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(create(&job.stdout)?)
        .stderr(create(&job.stderr)?)
        .process_group(0);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", job.program.display()))?;
    let mut guard = ChildGuard::new(child, true, job.program.display().to_string());
    let status = tokio::time::timeout(job.timeout, guard.wait())
        .await
        .with_context(|| {
            format!(
                "{} did not finish within {:?}; its output is in {}",
                job.program.display(),
                job.timeout,
                job.stderr.display()
            )
        })??;
    if !status.success() {
        bail!("bench measure failed for {}", job.program.display());
    }
    let text =
        std::fs::read(&report).with_context(|| format!("cannot read {}", report.display()))?;
    Ok(serde_json::from_slice(&text)?)
}

pub fn create(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
}
