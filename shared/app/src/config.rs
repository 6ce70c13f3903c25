//! Every environment variable a collector reads, validated once at cold start with an error
//! that names the variable (DESIGN §4).

use std::time::Duration;

use collector_core::object::DEFAULT_PART_SIZE;
use collector_core::stream::{COMPLIANCE_RESOURCES, COMPLIANCE_TYPES, Filters};
use collector_core::window::WindowPolicy;

use crate::document::Document;
use crate::identities::Identities;

pub const DEFAULT_OUTPUT_PREFIX: &str = "webex/";
/// Webex documents other data as up to 15 minutes late; audit events are usually visible
/// within a minute or two.
pub const DEFAULT_SETTLE_LAG_SECONDS: u64 = 300;
/// With the settle lag, events up to 20 minutes late are still collected.
pub const DEFAULT_OVERLAP_SECONDS: u64 = 900;
pub const DEFAULT_MAX_WINDOW_SECONDS: u64 = 3600;
pub const DEFAULT_INITIAL_LOOKBACK_DAYS: u64 = 7;
/// Windows fetched at once when a stream is behind: enough to keep requests flowing at the
/// rate budget while each waits on Webex, few enough that memory stays small (one upload part
/// buffer each).
pub const DEFAULT_BACKFILL_WINDOWS: u64 = 4;
/// Below the 300 requests a minute Webex documents as its default limit per client id.
pub const DEFAULT_MAX_REQUESTS_PER_MINUTE: u64 = 280;
/// A Webex request may span at most one year.
const MAX_SPAN_SECONDS: u64 = 365 * 24 * 3600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The Webex identity's secret of a function configured by its environment alone; a
    /// document names each identity's secret, and `http-sources` reads only documents.
    pub token_secret_id: Option<String>,
    pub state_table: String,
    pub output_bucket: String,
    pub output_prefix: String,
    pub webex_api_url: String,
    pub policy: WindowPolicy,
    /// `None`: the stream's largest page.
    pub page_size: Option<u32>,
    pub part_size: usize,
    pub s3_force_path_style: bool,
    /// `EVENT_CATEGORIES` (admin and security audit), `RESOURCES` and `TYPES` (compliance).
    pub filters: Filters,
    pub backfill_windows: usize,
    /// Events a window may hold before it is split (`MAX_WINDOW_EVENTS`).
    pub max_window_events: u64,
    pub max_requests_per_minute: u32,
    /// `ORG_IDS`: which organisations the stream collects, one unit of work each.
    pub orgs: Orgs,
    /// `FANOUT_QUEUE_URL`: where a scheduled run that owns several units sends one message per
    /// unit, for the same function to collect each on its own; unset, it collects them itself.
    pub fanout_queue_url: Option<String>,
    /// Whose secret `token_secret_id` is; `None`: the stream's default identity (`admin` for
    /// the audits, `compliance`), as the environment alone configures it.
    pub identity: Option<collector_core::IdentityName>,
    /// The stream's custom fields: only a document sets them.
    pub fields: collector_core::object::CustomFields,
    /// Whether `OUTPUT_PREFIX` is set (even empty): the prefix the deployment's roles cover,
    /// which a document's key prefix must then be.
    pub output_prefix_set: bool,
}

/// The organisations of a stream configured by its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Orgs {
    /// `ORG_IDS` unset: the organisation recorded in the identity's secret.
    OfSecret,
    /// `ORG_IDS=id,id,...`: these (a partner administrator's customers, say).
    List(Vec<String>),
    /// `ORG_IDS=discover`: every organisation the identity's token may read
    /// (`GET /organizations`; needs the `spark-admin:organizations_read` scope).
    Discover,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup`, so tests can configure without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let overlap = env.seconds("OVERLAP_SECONDS", DEFAULT_OVERLAP_SECONDS, 1, 24 * 3600)?;
        let max_window = env.seconds(
            "MAX_WINDOW_SECONDS",
            DEFAULT_MAX_WINDOW_SECONDS,
            1,
            MAX_SPAN_SECONDS - overlap.as_secs(),
        )?;
        Ok(Self {
            token_secret_id: env.optional("TOKEN_SECRET_ID"),
            state_table: env.required("STATE_TABLE")?,
            output_bucket: env.required("OUTPUT_BUCKET")?,
            output_prefix: env.prefix("OUTPUT_PREFIX")?,
            output_prefix_set: lookup("OUTPUT_PREFIX").is_some(),
            webex_api_url: env
                .optional("WEBEX_API_URL")
                .unwrap_or_else(|| webex_client::DEFAULT_API_URL.to_string()),
            policy: WindowPolicy {
                settle_lag: env.seconds(
                    "SETTLE_LAG_SECONDS",
                    DEFAULT_SETTLE_LAG_SECONDS,
                    0,
                    24 * 3600,
                )?,
                overlap,
                max_window,
                initial_lookback: Duration::from_secs(
                    env.number(
                        "INITIAL_LOOKBACK_DAYS",
                        DEFAULT_INITIAL_LOOKBACK_DAYS,
                        0,
                        365,
                    )? * 24
                        * 3600,
                ),
            },
            page_size: env
                .optional("PAGE_SIZE")
                .map(|_| env.number("PAGE_SIZE", 0, 1, 1000))
                .transpose()?
                .map(|n| n as u32),
            part_size: DEFAULT_PART_SIZE,
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
            filters: Filters {
                event_categories: env.list("EVENT_CATEGORIES", |c| {
                    let name = c.strip_prefix("EventCategory.").unwrap_or(c);
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                })?,
                resources: env.list("RESOURCES", |r| COMPLIANCE_RESOURCES.contains(&r))?,
                types: env.list("TYPES", |t| COMPLIANCE_TYPES.contains(&t))?,
            },
            backfill_windows: env.number("BACKFILL_WINDOWS", DEFAULT_BACKFILL_WINDOWS, 1, 16)?
                as usize,
            max_window_events: env.number(
                "MAX_WINDOW_EVENTS",
                collector_core::collect::DEFAULT_MAX_WINDOW_EVENTS,
                100,
                10_000_000,
            )?,
            max_requests_per_minute: env.number(
                "MAX_REQUESTS_PER_MINUTE",
                DEFAULT_MAX_REQUESTS_PER_MINUTE,
                1,
                6000,
            )? as u32,
            orgs: match env.optional("ORG_IDS").as_deref() {
                None => Orgs::OfSecret,
                Some("discover") => Orgs::Discover,
                Some(_) => {
                    let mut ids =
                        env.list("ORG_IDS", |id| crate::document::check_org_id(id).is_ok())?;
                    ids.sort();
                    ids.dedup();
                    Orgs::List(ids)
                }
            },
            fanout_queue_url: env.optional("FANOUT_QUEUE_URL"),
            identity: None,
            fields: Default::default(),
        })
    }

    /// Whether this environment may stand beside a document whose key prefix is `key_prefix`.
    /// What a document says per stream (the organisations and the filters) may not also be set
    /// here: it would be ambiguous. A stream's windows are the document's too (its defaults
    /// where a stream sets none); `INITIAL_LOOKBACK_DAYS` and `BACKFILL_WINDOWS` stay the
    /// environment's. And the document's key prefix must be the deployment's `OUTPUT_PREFIX`,
    /// the prefix its roles cover.
    pub fn beside_document(&self, key_prefix: &str) -> Result<(), ConfigError> {
        let per_stream = [
            ("ORG_IDS", self.orgs != Orgs::OfSecret),
            (
                "EVENT_CATEGORIES",
                !self.filters.event_categories.is_empty(),
            ),
            ("RESOURCES", !self.filters.resources.is_empty()),
            ("TYPES", !self.filters.types.is_empty()),
        ];
        if let Some((name, _)) = per_stream.into_iter().find(|(_, set)| *set) {
            return Err(ConfigError {
                name,
                problem: format!(
                    "is set beside {}: the document says it per stream; unset it",
                    crate::document_location::VARIABLE
                ),
            });
        }
        if self.output_prefix_set && key_prefix != self.output_prefix {
            return Err(ConfigError {
                name: "OUTPUT_PREFIX",
                problem: format!(
                    "is {:?}, and the document's collector.key_prefix {key_prefix:?}: the \
                     deployment's roles cover only its OUTPUT_PREFIX; set key_prefix = {:?}",
                    self.output_prefix, self.output_prefix
                ),
            });
        }
        Ok(())
    }
}

/// What the OAuth callback and `webexctl` need: the deployment's identities (each one's secret)
/// and the state table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitiesConfig {
    pub state_table: String,
    pub identities: Identities,
    pub webex_api_url: String,
    pub s3_force_path_style: bool,
}

impl IdentitiesConfig {
    /// From the process environment, beside the document `COLLECTOR_CONFIG` named (read by
    /// [`crate::document_location`]).
    pub fn from_env(document: Option<&Document>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), document)
    }

    /// Reads through `lookup`. The identities are `document`'s when there is one, otherwise
    /// the environment's (`ADMIN_SECRET_ID`, `COMPLIANCE_SECRET_ID`).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        document: Option<&Document>,
    ) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        Ok(Self {
            state_table: env.required("STATE_TABLE")?,
            identities: match document {
                Some(document) => Identities::from_document(document),
                None => Identities::from_lookup(&lookup)?,
            },
            webex_api_url: env
                .optional("WEBEX_API_URL")
                .unwrap_or_else(|| webex_client::DEFAULT_API_URL.to_string()),
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
        })
    }
}

pub(crate) struct Env<'a, F: Fn(&str) -> Option<String>>(pub(crate) &'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError {
            name,
            problem: "is required but not set".into(),
        })
    }

    fn number(
        &self,
        name: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        let value: u64 = text.parse().map_err(|_| ConfigError {
            name,
            problem: format!("{text:?} is not a whole number"),
        })?;
        if !(min..=max).contains(&value) {
            return Err(ConfigError {
                name,
                problem: format!("{value} is outside {min}..={max}"),
            });
        }
        Ok(value)
    }

    pub(crate) fn seconds(
        &self,
        name: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, min, max)
            .map(Duration::from_secs)
    }

    pub(crate) fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self
            .optional(name)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ConfigError {
                name,
                problem: format!("{other:?} is not true or false"),
            }),
        }
    }

    /// A comma-separated list whose every item passes `valid`.
    fn list(
        &self,
        name: &'static str,
        valid: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, ConfigError> {
        let Some(text) = self.optional(name) else {
            return Ok(Vec::new());
        };
        let items: Vec<String> = text
            .split(',')
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect();
        match items.iter().find(|i| !valid(i)) {
            Some(bad) => Err(ConfigError {
                name,
                problem: format!("{bad:?} is not a valid value"),
            }),
            None => Ok(items),
        }
    }

    pub(crate) fn prefix(&self, name: &'static str) -> Result<String, ConfigError> {
        let Some(value) = (self.0)(name) else {
            return Ok(DEFAULT_OUTPUT_PREFIX.to_string());
        };
        if value.starts_with('/') || !(value.is_empty() || value.ends_with('/')) {
            return Err(ConfigError {
                name,
                problem: format!(
                    "{value:?} must be empty or end with '/' (and not start with one)"
                ),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env: HashMap<String, String> = [
            ("TOKEN_SECRET_ID", "s"),
            ("STATE_TABLE", "t"),
            ("OUTPUT_BUCKET", "b"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            env.insert(k.to_string(), v.to_string());
        }
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.output_prefix, "webex/");
        assert_eq!(c.webex_api_url, "https://webexapis.com/v1");
        assert_eq!(c.policy.overlap, Duration::from_secs(900));
        assert_eq!(c.policy.initial_lookback, Duration::from_secs(7 * 86400));
        assert_eq!(c.page_size, None);
        assert!(!c.s3_force_path_style);
        assert_eq!(c.backfill_windows, 4);
        assert_eq!(c.max_requests_per_minute, 280);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            (vec![("STATE_TABLE", "")], "STATE_TABLE"),
            (vec![("OVERLAP_SECONDS", "0")], "OVERLAP_SECONDS"),
            (vec![("OVERLAP_SECONDS", "ten")], "OVERLAP_SECONDS"),
            (vec![("MAX_WINDOW_SECONDS", "-5")], "MAX_WINDOW_SECONDS"),
            (vec![("PAGE_SIZE", "5000")], "PAGE_SIZE"),
            (
                vec![("INITIAL_LOOKBACK_DAYS", "400")],
                "INITIAL_LOOKBACK_DAYS",
            ),
            (vec![("S3_FORCE_PATH_STYLE", "yes")], "S3_FORCE_PATH_STYLE"),
            (vec![("OUTPUT_PREFIX", "/abs/")], "OUTPUT_PREFIX"),
            (vec![("OUTPUT_PREFIX", "noslash")], "OUTPUT_PREFIX"),
            (vec![("RESOURCES", "messages,chats")], "RESOURCES"),
            (vec![("TYPES", "created,exploded")], "TYPES"),
            (vec![("BACKFILL_WINDOWS", "0")], "BACKFILL_WINDOWS"),
            (vec![("BACKFILL_WINDOWS", "64")], "BACKFILL_WINDOWS"),
            (
                vec![("MAX_REQUESTS_PER_MINUTE", "0")],
                "MAX_REQUESTS_PER_MINUTE",
            ),
            (
                vec![("EVENT_CATEGORIES", "LOGINS,bad category")],
                "EVENT_CATEGORIES",
            ),
        ];
        for (pairs, name) in cases {
            let err = config(&pairs).unwrap_err();
            assert_eq!(err.name, name, "{pairs:?}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn beside_a_document_the_per_stream_variables_are_refused_and_the_prefix_must_agree() {
        let org = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn";
        let refused = [
            (vec![("ORG_IDS", org)], "webex/", "ORG_IDS"),
            (vec![("ORG_IDS", "discover")], "webex/", "ORG_IDS"),
            (
                vec![("EVENT_CATEGORIES", "LOGINS")],
                "webex/",
                "EVENT_CATEGORIES",
            ),
            (vec![("RESOURCES", "messages")], "webex/", "RESOURCES"),
            (vec![("TYPES", "deleted")], "webex/", "TYPES"),
            (vec![("OUTPUT_PREFIX", "webex/")], "acme/", "OUTPUT_PREFIX"),
            (vec![("OUTPUT_PREFIX", "")], "webex/", "OUTPUT_PREFIX"),
        ];
        for (pairs, key_prefix, name) in refused {
            let err = config(&pairs)
                .unwrap()
                .beside_document(key_prefix)
                .unwrap_err();
            assert_eq!(err.name, name, "{pairs:?}");
            assert!(err.problem.contains("COLLECTOR_CONFIG") || name == "OUTPUT_PREFIX");
        }
        let accepted = [
            (vec![], "acme/"),
            (vec![("ORG_IDS", " "), ("EVENT_CATEGORIES", "")], "webex/"),
            (vec![("OUTPUT_PREFIX", "acme/")], "acme/"),
            (
                vec![("INITIAL_LOOKBACK_DAYS", "3"), ("BACKFILL_WINDOWS", "2")],
                "webex/",
            ),
        ];
        for (pairs, key_prefix) in accepted {
            let c = config(&pairs).unwrap();
            assert_eq!(c.beside_document(key_prefix), Ok(()), "{pairs:?}");
        }
    }

    #[test]
    fn a_documents_identities_are_read_beside_the_environment_and_its_variables_are_not() {
        let env = [("STATE_TABLE", "t")];
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let document = Document::parse(
            r#"
[identities.admin-partner]
kind = "webex_oauth"
secret = "webex/partner"

[[streams]]
name = "admin-audit-partner"
source = "webex_admin_audit"
identity = "admin-partner"
orgs = ["Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn"]
"#,
        )
        .unwrap();
        let config = IdentitiesConfig::from_lookup(lookup, Some(&document)).unwrap();
        assert_eq!(config.identities.names(), "admin-partner");
        assert_eq!(config.state_table, "t");
        // Without one, today's variables name them, and must be set.
        let err = IdentitiesConfig::from_lookup(lookup, None).unwrap_err();
        assert_eq!(err.name, "ADMIN_SECRET_ID");
    }

    #[test]
    fn accepts_valid_overrides() {
        let c = config(&[
            ("OUTPUT_PREFIX", ""),
            ("PAGE_SIZE", "50"),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("SETTLE_LAG_SECONDS", "0"),
            ("BACKFILL_WINDOWS", "1"),
            ("MAX_REQUESTS_PER_MINUTE", "60"),
        ])
        .unwrap();
        assert_eq!(c.backfill_windows, 1);
        assert_eq!(c.max_requests_per_minute, 60);
        assert_eq!(c.output_prefix, "");
        assert_eq!(c.page_size, Some(50));
        assert!(c.s3_force_path_style);
        assert_eq!(c.policy.settle_lag, Duration::ZERO);
        let c = config(&[
            ("EVENT_CATEGORIES", "EventCategory.LOGINS, LOGOUT"),
            ("RESOURCES", "messages,rooms"),
            ("TYPES", "deleted"),
        ])
        .unwrap();
        assert_eq!(
            c.filters.event_categories,
            ["EventCategory.LOGINS", "LOGOUT"]
        );
        assert_eq!(c.filters.resources, ["messages", "rooms"]);
        assert_eq!(c.filters.types, ["deleted"]);
    }
}
