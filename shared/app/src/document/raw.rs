//! The document as serde reads it: every key of every table, each value with its place in the
//! text so that a later check can point at it. Every key is optional here; whether one is
//! required, and whether a value makes sense, is for `validate`, which reports all of it at
//! once. Unknown keys are refused (`deny_unknown_fields`), and `read` names them all.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use toml::Spanned;

/// `[collector]`: what every stream shares.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCollector {
    pub key_prefix: Option<Spanned<String>>,
}

/// `[identities.NAME]`: a named credential.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentity {
    pub kind: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub max_requests_per_minute: Option<Spanned<i64>>,
    // oauth_client_credentials
    pub token_url: Option<Spanned<String>>,
    pub tenant: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
    pub resource: Option<Spanned<String>>,
    pub form: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub client_auth: Option<Spanned<String>>,
    // api_key
    pub header: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
}

/// `[[streams]]`: a source read with an identity for some organisations.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStream {
    pub name: Option<Spanned<String>>,
    pub source: Option<Spanned<String>>,
    pub identity: Option<Spanned<String>>,
    pub orgs: Option<Spanned<RawOrgs>>,
    pub event_categories: Option<Spanned<Vec<Spanned<String>>>>,
    pub resources: Option<Spanned<Vec<Spanned<String>>>>,
    pub types: Option<Spanned<Vec<Spanned<String>>>>,
    pub fields: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub fields_key: Option<Spanned<String>>,
    pub every: Option<Spanned<RawDuration>>,
    pub settle_lag: Option<Spanned<RawDuration>>,
    pub overlap: Option<Spanned<RawDuration>>,
    pub max_window: Option<Spanned<RawDuration>>,
    pub page_size: Option<Spanned<i64>>,
    pub max_window_events: Option<Spanned<i64>>,
    pub initial_lookback: Option<Spanned<RawDuration>>,
    // azure_graph
    pub resource: Option<Spanned<String>>,
    // azure_graph and cisco_secure_endpoint
    pub api_url: Option<Spanned<String>>,
    // cisco_secure_endpoint
    pub region: Option<Spanned<String>>,
    pub event_types: Option<Spanned<Vec<Spanned<String>>>>,
    pub group_guids: Option<Spanned<Vec<Spanned<String>>>>,
    pub connector_guids: Option<Spanned<Vec<Spanned<String>>>>,
    // http: tables of their own, read key by key like this one (`http::source_of`); named
    // here so that they are keys a stream takes.
    #[expect(dead_code, reason = "read as a table of its own")]
    pub request: Option<IgnoredAny>,
    #[expect(dead_code, reason = "read as a table of its own")]
    pub paging: Option<IgnoredAny>,
    #[expect(dead_code, reason = "read as a table of its own")]
    pub items: Option<IgnoredAny>,
    #[expect(dead_code, reason = "read as a table of its own")]
    pub rate_limit: Option<IgnoredAny>,
}

/// `[streams.request]`: what the first request of a query looks like.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    pub method: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub query: Option<Spanned<BTreeMap<String, Spanned<RawStrings>>>>,
    pub headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub body: Option<Spanned<toml::Table>>,
    pub form: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub time_format: Option<Spanned<String>>,
    pub start_only: Option<Spanned<bool>>,
}

/// `[streams.paging]`: how one page leads to the next.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPaging {
    pub kind: Option<Spanned<String>>,
    pub next: Option<Spanned<String>>,
    pub size_param: Option<Spanned<String>>,
    pub offset_param: Option<Spanned<String>>,
    pub total: Option<Spanned<String>>,
    pub cursor: Option<Spanned<String>>,
    pub cursor_param: Option<Spanned<String>>,
    pub has_more: Option<Spanned<String>>,
    pub max_size: Option<Spanned<i64>>,
}

/// `[streams.items]`: where a page's items are, and how each is told apart and placed in time.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawItems {
    pub path: Option<Spanned<String>>,
    pub missing: Option<Spanned<String>>,
    pub id: Option<Spanned<RawStrings>>,
    pub id_hash: Option<Spanned<bool>>,
    pub time: Option<Spanned<String>>,
    pub time_format: Option<Spanned<String>>,
}

/// `[streams.rate_limit]`: the headers that say when to ask again.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub retry_after: Option<Spanned<RawStrings>>,
    pub reset: Option<Spanned<RawStrings>>,
    pub reset_format: Option<Spanned<String>>,
    pub remaining: Option<Spanned<RawStrings>>,
}

/// A string, or a list of them (`id = ["source", "seq"]`, a repeated query parameter).
#[derive(Debug)]
pub(super) enum RawStrings {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawStrings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Strings;
        impl<'de> Visitor<'de> for Strings {
            type Value = RawStrings;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawStrings, E> {
                Ok(RawStrings::One(text.to_string()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStrings, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(RawStrings::Many(items))
            }
        }
        deserializer.deserialize_any(Strings)
    }
}
/// A duration as written, `"15m"`; only its type is checked here, so that a type error says
/// what a duration looks like.
#[derive(Debug)]
pub(super) struct RawDuration(pub String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationText;
        impl Visitor<'_> for DurationText {
            type Value = RawDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration in quotes, e.g. "90s", "15m" or "1h""#)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(text.to_string()))
            }
        }
        deserializer.deserialize_str(DurationText)
    }
}

/// `orgs = "discover"` or `orgs = ["...", "..."]`; any word is taken here and checked later.
#[derive(Debug)]
pub(super) enum RawOrgs {
    Word(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawOrgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Orgs;
        impl<'de> Visitor<'de> for Orgs {
            type Value = RawOrgs;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""discover" or a list of Webex organisation ids"#)
            }

            fn visit_str<E: de::Error>(self, word: &str) -> Result<RawOrgs, E> {
                Ok(RawOrgs::Word(word.to_string()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawOrgs, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element()? {
                    ids.push(id);
                }
                Ok(RawOrgs::List(ids))
            }
        }
        deserializer.deserialize_any(Orgs)
    }
}
