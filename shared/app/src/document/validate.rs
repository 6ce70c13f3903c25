//! From TOML text to a [`Document`]: the meaning of every key, checked all at once. Each check
//! that fails reports with the key path and carries on, so the author sees every mistake.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::duration::{DURATION_EXAMPLE, format_duration, parse_duration};
use super::errors::{DocumentErrors, Errors, key_path, syntax};
use super::identities::read_identities;
use super::raw::{RawCollector, RawDuration};
use super::read::{Read, read_table, unknown_key};
use super::streams::read_streams;
use super::{Collector, Document, Identity, Stream};
use crate::config::DEFAULT_OUTPUT_PREFIX;

const TOP_KEYS: [&str; 3] = ["collector", "identities", "streams"];
pub(super) const MAX_NAME_CHARS: usize = 63;

pub(super) fn document(text: &str) -> Result<Document, DocumentErrors> {
    let root = DeTable::parse(text).map_err(|error| syntax(text, &error))?;
    let mut errors = Errors::new(text);
    let (mut collector, mut identities, mut streams) = (None, None, None);
    for (key, value) in root.get_ref() {
        match key.get_ref().as_ref() {
            "collector" => collector = Some(value),
            "identities" => identities = Some(value),
            "streams" => streams = Some(value),
            other => errors.at(
                &key_path("", other),
                key.span(),
                unknown_key(other, &TOP_KEYS),
            ),
        }
    }
    let collector = match collector {
        Some(value) => read_collector(value, &mut errors),
        None => Some(Collector::default()),
    };
    // `None`: the identities are not a table, which is reported; streams are not also told
    // that theirs is missing.
    let identities = match identities {
        Some(value) => read_identities(value, &mut errors),
        None => Some(Vec::new()),
    };
    let known: Option<Vec<_>> = identities.as_ref().map(|all| {
        all.iter()
            .map(|(name, identity)| (name.as_str(), identity.as_ref().map(|i| &i.kind)))
            .collect()
    });
    let streams = match streams {
        Some(value) => read_streams(value, known.as_deref(), &mut errors),
        None => {
            errors.missing(
                "streams",
                "no streams: add a [[streams]] table (see infra/collector.sample.toml)",
            );
            Vec::new()
        }
    };
    // Identities that failed their checks keep their names above, so that streams using them
    // are not also told the identity is missing.
    let identities: Option<Vec<Identity>> =
        identities.and_then(|all| all.into_iter().map(|(_, i)| i).collect());
    let streams: Option<Vec<Stream>> = streams.into_iter().collect();
    errors.finish()?;
    match (collector, identities, streams) {
        (Some(collector), Some(identities), Some(streams)) => Ok(Document {
            collector,
            identities,
            streams,
        }),
        // Every check that returns nothing has reported why.
        _ => Err(DocumentErrors(vec![super::DocumentError {
            path: None,
            line: None,
            column: None,
            problem: "the document could not be read".into(),
        }])),
    }
}

/// One table of the document being checked: its path, its place, and the keys already
/// reported as wrong.
pub(super) struct Table<'r, T> {
    pub(super) path: String,
    pub(super) span: Range<usize>,
    pub(super) read: &'r Read<T>,
}

impl<T> Table<'_, T> {
    pub(super) fn key(&self, key: &str) -> String {
        key_path(&self.path, key)
    }

    /// `field`, or an error that says it is required (unless it was present but wrong, which
    /// is reported already).
    pub(super) fn required<'f, V>(
        &self,
        errors: &mut Errors<'_>,
        field: &'f Option<Spanned<V>>,
        key: &str,
        hint: &str,
    ) -> Option<&'f Spanned<V>> {
        if field.is_none() && !self.read.rejected(key) {
            errors.at(
                &self.key(key),
                self.span.clone(),
                format!("is required; {hint}"),
            );
        }
        field.as_ref()
    }

    /// `field` as a duration within `min..=max`, `default` when absent.
    pub(super) fn duration(
        &self,
        errors: &mut Errors<'_>,
        field: &Option<Spanned<RawDuration>>,
        key: &str,
        default: Duration,
        (min, max): (Duration, Duration),
    ) -> Option<Duration> {
        let Some(field) = field else {
            return (!self.read.rejected(key)).then_some(default);
        };
        let path = self.key(key);
        let text = &field.get_ref().0;
        let Some(duration) = parse_duration(text) else {
            errors.at(
                &path,
                field.span(),
                format!("{text:?} is not a duration; {DURATION_EXAMPLE}"),
            );
            return None;
        };
        if duration < min {
            errors.at(
                &path,
                field.span(),
                format!("{text} is less than the minimum, {}", format_duration(min)),
            );
            return None;
        }
        if duration > max {
            errors.at(
                &path,
                field.span(),
                format!("{text} is more than the maximum, {}", format_duration(max)),
            );
            return None;
        }
        Some(duration)
    }

    /// `field` within `min..=max`, `None` when absent.
    pub(super) fn number(
        &self,
        errors: &mut Errors<'_>,
        field: &Option<Spanned<i64>>,
        key: &str,
        (min, max): (i64, i64),
        why_max: &str,
    ) -> Result<Option<i64>, ()> {
        let Some(field) = field else {
            return if self.read.rejected(key) {
                Err(())
            } else {
                Ok(None)
            };
        };
        let value = *field.get_ref();
        if value < min || value > max {
            let problem = if max == i64::MAX {
                format!("{value} is less than the minimum, {min}")
            } else {
                format!("{value} is outside {min}..={max}{why_max}")
            };
            errors.at(&self.key(key), field.span(), problem);
            return Err(());
        }
        Ok(Some(value))
    }
}

/// The value at `path` as a table, or an error that says what was expected there.
pub(super) fn as_table<'v, 'i>(
    path: &str,
    value: &'v Spanned<DeValue<'i>>,
    expected: &str,
    errors: &mut Errors<'_>,
) -> Option<&'v DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => Some(table),
        other => {
            errors.at(
                path,
                value.span(),
                format!("expected {expected}, found {}", article(other.type_str())),
            );
            None
        }
    }
}

pub(super) fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

fn read_collector(value: &Spanned<DeValue<'_>>, errors: &mut Errors<'_>) -> Option<Collector> {
    let path = "collector";
    let table = as_table(path, value, "a table: [collector]", errors)?;
    let read = read_table::<RawCollector>(path, value.span(), table, errors)?;
    let table = Table {
        path: path.to_string(),
        span: value.span(),
        read: &read,
    };
    let Some(prefix) = &read.value.key_prefix else {
        return (!read.rejected("key_prefix")).then(Collector::default);
    };
    let text = prefix.get_ref();
    if text.chars().any(char::is_control) {
        errors.at(
            &table.key("key_prefix"),
            prefix.span(),
            format!("{text:?} holds control characters, which do not belong in an object key"),
        );
        return None;
    }
    if text.starts_with('/') || !(text.is_empty() || text.ends_with('/')) {
        errors.at(
            &table.key("key_prefix"),
            prefix.span(),
            format!(
                "{text:?} must be empty or end with \"/\" (and not start with one), \
                 e.g. {DEFAULT_OUTPUT_PREFIX:?}"
            ),
        );
        return None;
    }
    Some(Collector {
        key_prefix: text.clone(),
    })
}

/// 1 to 63 bytes, each passing `allowed`.
pub(super) fn is_name(text: &str, allowed: impl Fn(u8) -> bool) -> bool {
    (1..=MAX_NAME_CHARS).contains(&text.len()) && text.bytes().all(allowed)
}
