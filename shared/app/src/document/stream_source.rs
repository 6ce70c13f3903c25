//! A stream's `source`, with the keys that source takes: none for the Webex presets,
//! `resource` and `api_url` for `azure_graph`, `region`, `api_url` and the event filters for
//! `cisco_secure_endpoint`, the request, paging, items and rate-limit tables for `http`.

use collector_core::source::azure_graph::{self, Resource};
use collector_core::source::secure_endpoint::{EventFilters, REGIONS};
use toml::Spanned;
use toml::de::DeTable;

use super::errors::{Errors, index_path};
use super::raw::RawStream;
use super::read::closest;
use super::source::{AZURE_GRAPH, HTTP, SECURE_ENDPOINT, source_names};
use super::validate::Table;
use super::{Source, http};

/// The keys only some sources take, and which.
const SOURCE_KEYS: [(&str, &[&str]); 10] = [
    ("resource", &[AZURE_GRAPH]),
    ("api_url", &[AZURE_GRAPH, SECURE_ENDPOINT]),
    ("region", &[SECURE_ENDPOINT]),
    ("event_types", &[SECURE_ENDPOINT]),
    ("group_guids", &[SECURE_ENDPOINT]),
    ("connector_guids", &[SECURE_ENDPOINT]),
    ("request", &[HTTP]),
    ("paging", &[HTTP]),
    ("items", &[HTTP]),
    ("rate_limit", &[HTTP]),
];

pub(super) fn source_of(
    table: &Table<'_, RawStream>,
    stream: &DeTable<'_>,
    errors: &mut Errors<'_>,
) -> Option<Source> {
    let raw = &table.read.value;
    let names = source_names().join(", ");
    let field = table.required(errors, &raw.source, "source", &format!("one of {names}"))?;
    let name = field.get_ref().as_str();
    if !source_names().contains(&name) {
        let guess = closest(name, &source_names())
            .map_or(String::new(), |guess| format!(" (did you mean {guess}?)"));
        errors.at(
            &table.key("source"),
            field.span(),
            format!("unknown source {name:?}{guess}; one of {names}"),
        );
        return None;
    }
    let mut ok = true;
    for (key, takers) in SOURCE_KEYS {
        if stream.contains_key(key) && !takers.contains(&name) {
            let span = stream
                .get(key)
                .map_or(table.span.clone(), |value| value.span());
            errors.at(
                &table.key(key),
                span,
                format!("only {} streams take {key}", takers.join(" and ")),
            );
            ok = false;
        }
    }
    let source = match name {
        AZURE_GRAPH => azure_graph_of(table, errors),
        SECURE_ENDPOINT => secure_endpoint_of(table, errors),
        HTTP => http::source_of(&table.path, table.span.clone(), stream, errors)
            .map(|spec| Source::Http(Box::new(spec))),
        preset => Source::preset(preset),
    };
    source.filter(|_| ok)
}

fn api_url_of(
    table: &Table<'_, RawStream>,
    default: &str,
    errors: &mut Errors<'_>,
) -> Option<String> {
    let Some(url) = &table.read.value.api_url else {
        return (!table.read.rejected("api_url")).then(|| default.to_string());
    };
    match http_source::checked_url(url.get_ref()) {
        Ok(_) => Some(url.get_ref().trim_end_matches('/').to_string()),
        Err(reason) => {
            errors.at(
                &table.key("api_url"),
                url.span(),
                format!(
                    "{:?} {reason}",
                    http_source::without_password(url.get_ref())
                ),
            );
            None
        }
    }
}

fn azure_graph_of(table: &Table<'_, RawStream>, errors: &mut Errors<'_>) -> Option<Source> {
    let raw = &table.read.value;
    let paths: Vec<&str> = Resource::ALL.iter().map(|r| r.path()).collect();
    let resource = table
        .required(
            errors,
            &raw.resource,
            "resource",
            &format!("one of {}", paths.join(", ")),
        )
        .and_then(|field| {
            let found = Resource::named(field.get_ref());
            if found.is_none() {
                errors.at(
                    &table.key("resource"),
                    field.span(),
                    format!("{:?} is not one of {}", field.get_ref(), paths.join(", ")),
                );
            }
            found
        });
    let api_url = api_url_of(table, azure_graph::DEFAULT_API_URL, errors);
    Some(Source::AzureGraph {
        resource: resource?,
        api_url: api_url?,
    })
}

fn secure_endpoint_of(table: &Table<'_, RawStream>, errors: &mut Errors<'_>) -> Option<Source> {
    let raw = &table.read.value;
    let region = match &raw.region {
        None => Some(REGIONS[0].1),
        Some(region) => {
            let found = REGIONS
                .iter()
                .find(|(name, _)| name == region.get_ref())
                .map(|(_, host)| *host);
            if found.is_none() {
                let names: Vec<&str> = REGIONS.iter().map(|(name, _)| *name).collect();
                errors.at(
                    &table.key("region"),
                    region.span(),
                    format!("{:?} is not one of {}", region.get_ref(), names.join(", ")),
                );
            }
            found
        }
    };
    let api_url = api_url_of(table, region.unwrap_or_default(), errors);
    let mut ok = true;
    let mut list = |key: &str, field: &Option<Spanned<Vec<Spanned<String>>>>, digits: bool| {
        let Some(field) = field else {
            return Vec::new();
        };
        let path = table.key(key);
        field
            .get_ref()
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let text = item.get_ref();
                let valid = !text.is_empty()
                    && text.len() <= 64
                    && text.bytes().all(|b| {
                        b.is_ascii_digit() || (!digits && (b.is_ascii_hexdigit() || b == b'-'))
                    });
                if !valid {
                    let what = if digits {
                        "an event type id (digits, e.g. \"1090519054\")"
                    } else {
                        "a GUID"
                    };
                    errors.at(
                        &index_path(&path, i),
                        item.span(),
                        format!("{text:?} is not {what}"),
                    );
                    ok = false;
                }
                valid.then(|| text.clone())
            })
            .collect()
    };
    let filters = EventFilters {
        event_types: list("event_types", &raw.event_types, true),
        group_guids: list("group_guids", &raw.group_guids, false),
        connector_guids: list("connector_guids", &raw.connector_guids, false),
    };
    let api_url = api_url?;
    region?;
    ok.then_some(Source::SecureEndpoint { api_url, filters })
}
