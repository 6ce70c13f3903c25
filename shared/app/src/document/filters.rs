//! A stream's filters: only those its source takes, with values the API knows.

use std::collections::HashMap;

use collector_core::stream::{
    COMPLIANCE_RESOURCES, COMPLIANCE_TYPES, FilterKind, Filters, normalise_category,
};
use toml::Spanned;

use super::Source;
use super::errors::{Errors, index_path};
use super::raw::RawStream;
use super::validate::Table;

pub(super) fn filters_of(
    table: &Table<'_, RawStream>,
    source: Option<&Source>,
    errors: &mut Errors<'_>,
) -> Option<Filters> {
    let raw = &table.read.value;
    let list = |field: &Option<Spanned<Vec<Spanned<String>>>>| -> Vec<String> {
        field.as_ref().map_or_else(Vec::new, |items| {
            items
                .get_ref()
                .iter()
                .map(|i| i.get_ref().clone())
                .collect()
        })
    };
    let filters = Filters {
        event_categories: list(&raw.event_categories),
        resources: list(&raw.resources),
        types: list(&raw.types),
    };
    let mut ok = ["event_categories", "resources", "types"]
        .iter()
        .all(|key| !table.read.rejected(key));
    let Some(source) = source else {
        // Which filters apply depends on the source, which is reported already.
        return None;
    };
    let Some(spec) = source.webex_spec() else {
        // The other sources' filters are keys of their own (event_types) or in the request.
        for (key, field) in [
            ("event_categories", &raw.event_categories),
            ("resources", &raw.resources),
            ("types", &raw.types),
        ] {
            if let Some(field) = field {
                errors.at(
                    &table.key(key),
                    field.span(),
                    format!("only Webex streams take this filter, not {}", source.name()),
                );
                ok = false;
            }
        }
        return ok.then(Filters::default);
    };
    let takes = match spec.filter_kind {
        FilterKind::Categories => "event_categories",
        FilterKind::ResourcesAndTypes => "resources and types",
    };
    // One filter at a time, so that each one the source cannot apply is named.
    let alone = [
        (
            "event_categories",
            &raw.event_categories,
            Filters {
                event_categories: filters.event_categories.clone(),
                ..Filters::default()
            },
        ),
        (
            "resources",
            &raw.resources,
            Filters {
                resources: filters.resources.clone(),
                ..Filters::default()
            },
        ),
        (
            "types",
            &raw.types,
            Filters {
                types: filters.types.clone(),
                ..Filters::default()
            },
        ),
    ];
    for (key, field, filter) in alone {
        let Some(field) = field else { continue };
        if spec.unsupported_filter(&filter).is_some() {
            errors.at(
                &table.key(key),
                field.span(),
                format!(
                    "{} does not take this filter; it takes {takes}",
                    source.name()
                ),
            );
            ok = false;
            continue;
        }
        let check: &dyn Fn(&str) -> Result<String, String> = match key {
            "event_categories" => &|c| {
                let name = c.strip_prefix("EventCategory.").unwrap_or(c);
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    Ok(normalise_category(c))
                } else {
                    Err(format!("{c:?} is not an event category, e.g. \"LOGINS\""))
                }
            },
            "resources" => &|r| {
                if COMPLIANCE_RESOURCES.contains(&r) {
                    Ok(r.to_string())
                } else {
                    Err(format!(
                        "{r:?} is not a compliance resource; one of {}",
                        COMPLIANCE_RESOURCES.join(", ")
                    ))
                }
            },
            _ => &|t| {
                if COMPLIANCE_TYPES.contains(&t) {
                    Ok(t.to_string())
                } else {
                    Err(format!(
                        "{t:?} is not a compliance event type; one of {}",
                        COMPLIANCE_TYPES.join(", ")
                    ))
                }
            },
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in field.get_ref().iter().enumerate() {
            let problem = match check(item.get_ref()) {
                Err(problem) => Some(problem),
                Ok(normal) => match seen.get(&normal) {
                    Some(first) => Some(format!(
                        "{:?} is already listed at {key}[{first}]",
                        item.get_ref()
                    )),
                    None => {
                        seen.insert(normal, i);
                        None
                    }
                },
            };
            if let Some(problem) = problem {
                errors.at(&index_path(&table.key(key), i), item.span(), problem);
                ok = false;
            }
        }
    }
    ok.then_some(filters)
}
