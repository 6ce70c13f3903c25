//! The hot-path micro-benchmark's figures, read from criterion's own output
//! (`target/criterion/<group>/<function>/new/`) after `cargo bench -p collector-core`.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Clone, Debug)]
pub struct Throughput {
    pub group: String,
    pub function: String,
    /// Bytes of Webex JSON per iteration.
    pub bytes: u64,
    /// Mean time per iteration, with criterion's 95% confidence interval.
    pub mean_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
}

impl Throughput {
    pub fn mib_per_s(&self, ns: f64) -> f64 {
        self.bytes as f64 / (ns / 1e9) / (1024.0 * 1024.0)
    }
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Benchmark {
    throughput: Option<serde_json::Value>,
}

/// Every `group/function` under `dir` that has a throughput, sorted by name.
pub fn read_all(dir: &Path) -> Result<Vec<Throughput>> {
    let mut found = Vec::new();
    let groups = std::fs::read_dir(dir)
        .with_context(|| format!("no criterion results in {}", dir.display()))?;
    for group in groups.flatten().filter(|e| e.path().is_dir()) {
        for function in std::fs::read_dir(group.path())?.flatten() {
            let new = function.path().join("new");
            let (Ok(estimates), Ok(benchmark)) = (
                std::fs::read(new.join("estimates.json")),
                std::fs::read(new.join("benchmark.json")),
            ) else {
                continue;
            };
            let estimates: Estimates = serde_json::from_slice(&estimates)?;
            let benchmark: Benchmark = serde_json::from_slice(&benchmark)?;
            let Some(bytes) = benchmark
                .throughput
                .as_ref()
                .and_then(|t| t.get("Bytes"))
                .and_then(|b| b.as_u64())
            else {
                continue;
            };
            found.push(Throughput {
                group: group.file_name().to_string_lossy().into_owned(),
                function: function.file_name().to_string_lossy().into_owned(),
                bytes,
                mean_ns: estimates.mean.point_estimate,
                low_ns: estimates.mean.confidence_interval.lower_bound,
                high_ns: estimates.mean.confidence_interval.upper_bound,
            });
        }
    }
    found.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    Ok(found)
}
