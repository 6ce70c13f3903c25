//! Reading one table of the document into its serde shape so that every unknown key and every
//! type error is reported, not only the first: each key is tried on its own, the ones that fail
//! are reported with their path and left out, and the rest is read in one go.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_path_to_error::Segment;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::errors::{Errors, key_path};

/// A table read into `T`, and the keys that were wrong (reported already): a check of `T`
/// must not also call them missing.
pub(super) struct Read<T> {
    pub value: T,
    pub rejected: BTreeSet<String>,
}

impl<T> Read<T> {
    /// Whether `key` was present but wrong.
    pub(super) fn rejected(&self, key: &str) -> bool {
        self.rejected.contains(key)
    }
}

/// Reads `table` (at `path`, spanning `span`) into `T`, reporting each unknown key and each
/// type error. `None` only if the table could not be read even without the keys in error,
/// which a well-formed `T` never causes.
pub(super) fn read_table<T: DeserializeOwned>(
    path: &str,
    span: Range<usize>,
    table: &DeTable<'_>,
    errors: &mut Errors<'_>,
) -> Option<Read<T>> {
    let expected = keys_of::<T>();
    let mut rejected = BTreeSet::new();
    let mut accepted = DeTable::new();
    for (key, value) in table {
        let name: &str = key.get_ref();
        if !expected.contains(&name) {
            errors.at(
                &key_path(path, name),
                key.span(),
                unknown_key(name, expected),
            );
            rejected.insert(name.to_string());
            continue;
        }
        let alone: DeTable<'_> = [(key.clone(), value.clone())].into_iter().collect();
        if let Err(error) = deserialize::<T>(span.clone(), alone) {
            let inner = error.inner();
            errors.at(
                &serde_path(path, error.path()),
                inner.span().unwrap_or_else(|| value.span()),
                inner.message(),
            );
            rejected.insert(name.to_string());
            continue;
        }
        accepted.insert(key.clone(), value.clone());
    }
    match deserialize::<T>(span.clone(), accepted) {
        Ok(value) => Some(Read { value, rejected }),
        Err(error) => {
            let inner = error.inner();
            errors.at(
                &serde_path(path, error.path()),
                inner.span().unwrap_or(span),
                inner.message(),
            );
            None
        }
    }
}

fn deserialize<T: DeserializeOwned>(
    span: Range<usize>,
    table: DeTable<'_>,
) -> Result<T, serde_path_to_error::Error<toml::de::Error>> {
    let value = Spanned::new(span, DeValue::Table(table));
    serde_path_to_error::deserialize(ValueDeserializer::from(value))
}

/// `parent` followed by the path serde took inside it, without the private keys through which
/// `Spanned` carries a value's place.
fn serde_path(parent: &str, path: &serde_path_to_error::Path) -> String {
    let mut out = parent.to_string();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key.starts_with("$__serde_spanned_private") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out = key_path(&out, key);
            }
            Segment::Unknown => out = key_path(&out, "?"),
        }
    }
    out
}

/// `unknown key; expected one of a, b, c`, with the likely intended key first when there is
/// one a typo away.
pub(super) fn unknown_key(name: &str, expected: &[&str]) -> String {
    let list = expected.join(", ");
    match closest(name, expected) {
        Some(guess) => format!("unknown key (did you mean {guess}?); expected one of {list}"),
        None => format!("unknown key; expected one of {list}"),
    }
}

/// The expected key at most two edits from `name`, if one is.
pub(super) fn closest<'a>(name: &str, expected: &[&'a str]) -> Option<&'a str> {
    expected
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The keys `T`'s derived `Deserialize` accepts, read from serde itself: the list in an error
/// message can never drift from what the code takes.
pub(super) fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut keys: &'static [&'static str] = &[];
    // The probe always answers with an error: all it wants is the field list.
    let _ = T::deserialize(KeyProbe(&mut keys));
    keys
}

/// A deserializer that records the field names a struct asks for, and reads nothing.
struct KeyProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for KeyProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("keys recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::RawIdentity;
    use super::*;

    #[test]
    fn the_keys_come_from_serde() {
        assert_eq!(
            keys_of::<RawIdentity>(),
            [
                "kind",
                "secret",
                "max_requests_per_minute",
                "token_url",
                "tenant",
                "scope",
                "resource",
                "form",
                "client_auth",
                "header",
                "prefix"
            ]
        );
    }

    #[test]
    fn a_typo_suggests_the_key() {
        let keys = ["name", "every", "overlap"];
        assert_eq!(closest("evry", &keys), Some("every"));
        assert_eq!(closest("overlapp", &keys), Some("overlap"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
