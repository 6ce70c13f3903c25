//! Wiring, once: typed configuration from the environment, a ready collector built from it, and
//! the one run path that every function's `main` and `webexctl` share.

pub mod callback;
pub mod config;
pub mod credentials;
pub mod document;
pub mod document_location;
pub mod due;
pub mod fanout;
pub mod identities;
pub mod lambda;
pub mod live;
mod logging;
mod memory;
pub mod metrics;
pub mod operator;
pub mod registrar;
pub mod tables;
pub mod units;
pub mod webhooks;
mod wiring;

pub use collector_core::{CollectError, RunSummary, StreamId};
pub use config::{Config, ConfigError, IdentitiesConfig, Orgs};
pub use identities::{ConfiguredIdentity, Identities, UnknownIdentity};
pub use logging::{LogTarget, init_logging};
pub use memory::return_large_buffers_to_the_system;
pub use wiring::{StreamCollector, WiringError, build_collector, run_once};
