#![allow(missing_debug_implementations)]
//! Test support for the end-to-end tests: the local AWS emulator (moto server, started by
//! `scripts/with-moto.sh` and found through `AWS_ENDPOINT_URL`), fresh resources per test, the
//! Webex simulator wired to a collector, a fault-injecting proxy in front of moto, log capture
//! and the checks every test shares.

pub mod aws;
pub mod fault_proxy;
pub mod logs;
pub mod stack;
pub mod verify;

pub use stack::{Stack, StackOptions};

/// `webexctl`, built beside the test binaries (`make test` builds it first).
pub fn webexctl_path() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    let path = dir.join("webexctl");
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build it with `cargo build -p webexctl`",
        path.display()
    );
    Ok(path)
}
