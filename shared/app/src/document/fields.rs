//! A stream's custom fields: object metadata, and optionally a key on each line.

use std::collections::BTreeMap;

use super::Source;
use super::errors::{Errors, key_path};
use super::raw::RawStream;
use super::validate::{MAX_NAME_CHARS, Table, is_name};

/// S3 allows 2 KB of user metadata per object; the collector's own takes up to about half.
const MAX_FIELDS_BYTES: usize = 1024;

pub(super) fn fields_of(
    table: &Table<'_, RawStream>,
    errors: &mut Errors<'_>,
) -> Option<BTreeMap<String, String>> {
    let Some(fields) = &table.read.value.fields else {
        return (!table.read.rejected("fields")).then(BTreeMap::new);
    };
    let path = table.key("fields");
    let mut ok = true;
    for (key, value) in fields.get_ref() {
        let field_path = key_path(&path, key);
        if !is_name(key, is_field_key_byte) {
            errors.at(
                &field_path,
                value.span(),
                format!("{key:?} is not a field name: 1 to {MAX_NAME_CHARS} of a-z, 0-9, _ and -"),
            );
            ok = false;
        }
        let text = value.get_ref();
        if !text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            errors.at(
                &field_path,
                value.span(),
                format!(
                    "{text:?} must be printable ASCII: S3 object metadata travels in HTTP headers"
                ),
            );
            ok = false;
        }
    }
    let bytes: usize = fields
        .get_ref()
        .iter()
        .map(|(k, v)| k.len() + v.get_ref().len())
        .sum();
    if bytes > MAX_FIELDS_BYTES {
        errors.at(
            &path,
            fields.span(),
            format!(
                "names and values take {bytes} bytes; at most {MAX_FIELDS_BYTES} fit beside the \
                 collector's own in S3's 2 KB of object metadata"
            ),
        );
        ok = false;
    }
    ok.then(|| {
        fields
            .get_ref()
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect()
    })
}

fn is_field_key_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

/// `Some(None)` when unset, `None` after an error.
pub(super) fn fields_key_of(
    table: &Table<'_, RawStream>,
    source: Option<&Source>,
    fields: Option<&BTreeMap<String, String>>,
    errors: &mut Errors<'_>,
) -> Option<Option<String>> {
    let Some(key) = &table.read.value.fields_key else {
        return (!table.read.rejected("fields_key")).then_some(None);
    };
    let text = key.get_ref();
    let path = table.key("fields_key");
    let problem = if !is_name(text, is_field_key_byte) {
        Some(format!(
            "{text:?} is not a key name: 1 to {MAX_NAME_CHARS} of a-z, 0-9, _ and -, e.g. \"collector\""
        ))
    } else if let Some(source) = source.filter(|s| s.event_keys().contains(text)) {
        Some(format!(
            "{text:?} is a key of every {} event, which must stay as the API wrote it; \
             choose another, e.g. \"collector\"",
            source.name()
        ))
    } else if fields.is_some_and(BTreeMap::is_empty) && !table.read.rejected("fields") {
        Some("is set, but the stream has no fields to add; set fields = { … } or remove it".into())
    } else {
        None
    };
    if let Some(problem) = problem {
        errors.at(&path, key.span(), problem);
        return None;
    }
    Some(Some(text.clone()))
}
