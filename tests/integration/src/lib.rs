#![allow(missing_debug_implementations)]
//! Test support for the end-to-end tests: the local AWS emulator (moto server, started by
//! `scripts/with-moto.sh` and found through `AWS_ENDPOINT_URL`), fresh resources per test, the
//! Webex simulator wired to a collector, a fault-injecting proxy in front of moto, log capture
//! and the checks every test shares.

pub mod aws;
pub mod cli;
pub mod clock;
pub mod event_source;
pub mod fault_proxy;
pub mod http_api;
pub mod lambda_api;
pub mod logs;
pub mod soak;
pub mod sources;
pub mod stack;
pub mod verify;
pub mod webhooks;

pub use stack::{Stack, StackOptions};

/// `webexctl`, built beside the test binaries (`make test` builds every binary first).
pub fn webexctl_path() -> anyhow::Result<std::path::PathBuf> {
    lambda_api::built_binary("webexctl")
}
