#![allow(missing_debug_implementations)]
//! Test support for the end-to-end tests: the local AWS emulator (moto server, started by
//! `scripts/with-moto.sh` and found through `AWS_ENDPOINT_URL`), fresh resources per test, the
//! Webex simulator wired to a collector, a fault-injecting proxy in front of moto, log capture
//! and the checks every test shares.

pub mod aws;
pub mod fault_proxy;
pub mod logs;
pub mod soak;
pub mod stack;
pub mod verify;

pub use stack::{Stack, StackOptions};

/// `webexctl`, built beside the test binaries (`make test` builds it first): next to a binary
/// of this crate (`target/debug/soak`), or one folder up from a test (`target/debug/deps/`).
pub fn webexctl_path() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    let candidates = [Some(dir), dir.parent()];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join("webexctl"))
        .find(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "webexctl is missing beside {}: build it with `cargo build -p webexctl`",
                dir.display()
            )
        })
}
