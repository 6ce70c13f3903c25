//! The configuration document (DESIGN §7): identities, sources and streams as data, in one TOML
//! file, validated with every error naming its key path (`streams[2].orgs[1]: ...`). Pure: no
//! AWS and no HTTP; the wiring reads a [`Document`] and builds collectors from it.
//!
//! `infra/collector.sample.toml` shows every key with a comment.

mod duration;
mod errors;
mod fields;
mod filters;
mod http;
mod identities;
mod org_id;
mod raw;
mod read;
mod source;
mod stream_source;
mod streams;
mod validate;

#[cfg(test)]
mod sources_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use collector_core::stream::Filters;

pub use duration::{DURATION_EXAMPLE, format_duration, parse_duration};
pub use errors::{DocumentError, DocumentErrors};
pub use org_id::{OrgIdProblem, check_org_id, is_listed_org, is_unit_org};
pub use source::{Families, PRESETS, Source};
pub use streams::NO_ORG;

/// The interval of a stream that does not set `every`: the template's default schedule.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(10 * 60);
/// Shorter intervals would spend the request budget on empty windows.
pub const MIN_EVERY: Duration = Duration::from_secs(60);
pub const MAX_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Splitting windows below this many events costs more in objects and requests than it saves.
pub const MIN_MAX_WINDOW_EVENTS: u64 = 1000;

/// A validated document: everything a deployment collects, and with what.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub collector: Collector,
    /// In document order.
    pub identities: Vec<Identity>,
    /// In document order.
    pub streams: Vec<Stream>,
}

/// `[collector]`: what every stream shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collector {
    /// Before every object key: empty or ending in `/`.
    pub key_prefix: String,
}

impl Default for Collector {
    fn default() -> Self {
        Self {
            key_prefix: crate::config::DEFAULT_OUTPUT_PREFIX.to_string(),
        }
    }
}

/// A named credential, kept in one Secrets Manager secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub kind: IdentityKind,
    /// The Secrets Manager secret id (a name or an ARN) that holds the credential.
    pub secret: String,
    /// The request budget shared by every stream that uses this identity, across all
    /// concurrent runs.
    pub max_requests_per_minute: u32,
}

/// How an identity authenticates. Its secret holds only secret values; everything else is
/// here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// Webex OAuth: authorization code and a rotating refresh token (the `admin` and
    /// `compliance` identities of a deployment without a document); the callback fills the
    /// secret.
    WebexOauth,
    /// OAuth 2.0 client credentials (RFC 6749 §4.4): secret `{"client_id", "client_secret"}`.
    OauthClientCredentials(TokenEndpoint),
    /// HTTP Basic: secret `{"id", "key"}`.
    Basic,
    /// A header holding a key: secret `{"key"}`, sent as `header: {prefix}{key}`.
    ApiKey { header: String, prefix: String },
}

/// Where an `oauth_client_credentials` identity gets its tokens, and what it asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenEndpoint {
    pub token_url: String,
    /// `scope` or `resource`, then the extra form fields, in document order.
    pub form: Vec<(String, String)>,
    /// The client's id and secret in HTTP Basic rather than in the form.
    pub basic_auth: bool,
    /// The Entra tenant, when `tenant` gave the token URL: a Graph stream's organisation.
    pub tenant: Option<String>,
}

impl IdentityKind {
    /// The name of every kind a document may use.
    pub const NAMES: [&'static str; 4] = [
        "webex_oauth",
        "oauth_client_credentials",
        "basic",
        "api_key",
    ];

    pub const fn name(&self) -> &'static str {
        match self {
            IdentityKind::WebexOauth => "webex_oauth",
            IdentityKind::OauthClientCredentials(_) => "oauth_client_credentials",
            IdentityKind::Basic => "basic",
            IdentityKind::ApiKey { .. } => "api_key",
        }
    }
}

/// A source read with an identity for some organisations, on an interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    /// `[a-z0-9-]+`, unique: the key prefix, the cursor key, the metric dimension.
    pub name: String,
    pub source: Source,
    /// The name of one of the document's identities.
    pub identity: String,
    pub orgs: Orgs,
    /// Empty lists mean everything.
    pub filters: Filters,
    /// Custom fields, written as object metadata (and on each line with `fields_key`).
    pub fields: BTreeMap<String, String>,
    /// When set, each NDJSON line gets this key, holding `fields` as an object.
    pub fields_key: Option<String>,
    pub every: Duration,
    pub window: WindowSettings,
}

/// Which organisations a stream collects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Orgs {
    /// Every organisation the stream's identity can see, found at run time.
    Discover,
    /// These, in document order, without duplicates.
    List(Vec<String>),
}

/// How a stream cuts time into windows and windows into requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSettings {
    /// How long to wait before reading a minute, so that late events have arrived.
    pub settle_lag: Duration,
    /// How far each window reaches back into the one before, for events later still.
    pub overlap: Duration,
    /// The longest window one object covers.
    pub max_window: Duration,
    /// Events asked for per request: at most the source's largest page.
    pub page_size: u32,
    /// Split a window that holds more events than this; `None`: split on time only.
    pub max_window_events: Option<u64>,
    /// How far back a unit with no cursor starts; `None`: the environment's
    /// `INITIAL_LOOKBACK_DAYS`.
    pub initial_lookback: Option<Duration>,
}

/// One unit of work: a stream and one of its organisations. Cursor, lease, objects, metrics
/// and status are per unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit<'a> {
    pub stream: &'a Stream,
    pub org: UnitOrg<'a>,
}

/// The organisation of a unit of work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnitOrg<'a> {
    /// A listed organisation id.
    Id(&'a str),
    /// The organisations are discovered at run time through this identity: one unit each.
    Discover { identity: &'a str },
}

/// A document file that could not be read, or that is not valid.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid collector document:\n{errors}", path.display())]
    Invalid {
        path: PathBuf,
        errors: DocumentErrors,
    },
}

impl Document {
    /// Reads and validates a document; on failure, every mistake in document order (a syntax
    /// error stops at the first).
    pub fn parse(text: &str) -> Result<Self, DocumentErrors> {
        validate::document(text)
    }

    /// [`Document::parse`] of the file at `path`; errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|errors| LoadError::Invalid {
            path: path.to_path_buf(),
            errors,
        })
    }

    /// The units of work, stream by stream in document order: one per listed organisation,
    /// and one entry for a stream whose organisations are discovered at run time.
    pub fn units(&self) -> Vec<Unit<'_>> {
        self.streams
            .iter()
            .flat_map(|stream| match &stream.orgs {
                Orgs::Discover => vec![Unit {
                    stream,
                    org: UnitOrg::Discover {
                        identity: &stream.identity,
                    },
                }],
                Orgs::List(ids) => ids
                    .iter()
                    .map(|id| Unit {
                        stream,
                        org: UnitOrg::Id(id),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The identity called `name`.
    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.name == name)
    }

    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.name == name)
    }
}
