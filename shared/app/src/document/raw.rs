//! The document as serde reads it: every key of every table, each value with its place in the
//! text so that a later check can point at it. Every key is optional here; whether one is
//! required, and whether a value makes sense, is for `validate`, which reports all of it at
//! once. Unknown keys are refused (`deny_unknown_fields`), and `read` names them all.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
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
