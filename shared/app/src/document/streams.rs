//! `[[streams]]`: a source read with an identity for some organisations, on an interval.

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::{Errors, index_path};
use super::fields::{fields_key_of, fields_of};
use super::filters::filters_of;
use super::org_id::{OrgIdProblem, check_org_id, is_listed_org};
use super::raw::{RawOrgs, RawStream};
use super::read::read_table;
use super::source::Families;
use super::stream_source::source_of;
use super::validate::{MAX_NAME_CHARS, Table, article, as_table, is_name};
use super::{
    DEFAULT_EVERY, IdentityKind, MAX_EVERY, MIN_EVERY, MIN_MAX_WINDOW_EVENTS, Orgs, Source, Stream,
    WindowSettings,
};
use crate::config::{
    DEFAULT_MAX_WINDOW_SECONDS, DEFAULT_OVERLAP_SECONDS, DEFAULT_SETTLE_LAG_SECONDS,
};

/// As the environment's limits: a day of settle lag or overlap, and a Webex request spans at
/// most a year.
const MAX_LAG: Duration = Duration::from_secs(24 * 3600);
const MAX_SPAN: Duration = Duration::from_secs(365 * 24 * 3600);
/// A new unit reaches back a minute at least, a year at most.
const MIN_LOOKBACK: Duration = Duration::from_secs(60);
const MAX_LOOKBACK: Duration = MAX_SPAN;
const ORG_ID_EXPLAINED: &str = "base64 of ciscospark://…/ORGANIZATION/…";

/// The identities a stream may name: each name, with its kind when it passed its checks.
pub(super) type Known<'a> = [(&'a str, Option<&'a IdentityKind>)];

pub(super) fn read_streams(
    value: &Spanned<DeValue<'_>>,
    identities: Option<&Known<'_>>,
    errors: &mut Errors<'_>,
) -> Vec<Option<Stream>> {
    let DeValue::Array(items) = value.get_ref() else {
        errors.at(
            "streams",
            value.span(),
            format!(
                "expected [[streams]] tables, found {}",
                article(value.get_ref().type_str())
            ),
        );
        return Vec::new();
    };
    if items.is_empty() {
        errors.at(
            "streams",
            value.span(),
            "no streams: add a [[streams]] table (see infra/collector.sample.toml)",
        );
    }
    let mut names: HashMap<String, String> = HashMap::new();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = index_path("streams", i);
            let stream = as_table(&path, item, "a table: [[streams]]", errors)?;
            let read = read_table::<RawStream>(&path, item.span(), stream, errors)?;
            let table = Table {
                path,
                span: item.span(),
                read: &read,
            };
            stream_of(&table, stream, identities, &mut names, errors)
        })
        .collect()
}

/// `identities`: the names defined, `None` when they could not be read.
fn stream_of(
    table: &Table<'_, RawStream>,
    stream: &DeTable<'_>,
    identities: Option<&Known<'_>>,
    names: &mut HashMap<String, String>,
    errors: &mut Errors<'_>,
) -> Option<Stream> {
    let raw = &table.read.value;
    let name = table
        .required(errors, &raw.name, "name", "e.g. name = \"admin-audit\"")
        .and_then(|name| {
            let text = name.get_ref();
            let path = table.key("name");
            if !is_name(text, |b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
            }) {
                errors.at(
                    &path,
                    name.span(),
                    format!(
                        "{text:?} is not a stream name: 1 to {MAX_NAME_CHARS} of a-z, 0-9 and -"
                    ),
                );
                return None;
            }
            if let Some(first) = names.get(text.as_str()) {
                errors.at(
                    &path,
                    name.span(),
                    format!("{text:?} is already the name of {first}"),
                );
                return None;
            }
            names.insert(text.clone(), table.path.clone());
            Some(text.clone())
        });
    let source = source_of(table, stream, errors);
    let identity = table
        .required(
            errors,
            &raw.identity,
            "identity",
            "the name of one of the [identities.NAME] tables",
        )
        .and_then(|identity| {
            let text = identity.get_ref();
            let Some(identities) = identities else {
                return Some(text.clone());
            };
            if let Some((_, kind)) = identities.iter().find(|(name, _)| name == text) {
                if let (Some(kind), Some(source)) = (kind, &source)
                    && !source.accepts(kind)
                {
                    let reads = source.reads_with().map_or_else(
                        || "an oauth_client_credentials, basic or api_key identity".to_string(),
                        |kind| format!("{} identity", article(kind)),
                    );
                    errors.at(
                        &table.key("identity"),
                        identity.span(),
                        format!(
                            "{text:?} is {} identity; {} reads with {reads}",
                            article(kind.name()),
                            source.name()
                        ),
                    );
                    return None;
                }
                return Some(text.clone());
            }
            let names: Vec<&str> = identities.iter().map(|(name, _)| *name).collect();
            let defined = if names.is_empty() {
                format!("none is defined; add an [identities.{text}] table")
            } else {
                format!("defined: {}", names.join(", "))
            };
            errors.at(
                &table.key("identity"),
                identity.span(),
                format!("no identity {text:?} ({defined})"),
            );
            None
        });
    if let (Some(name), Some(identity), Some(source)) = (&name, &identity, &source) {
        family_rules(table, name, identity, source, errors);
    }
    let orgs = match &source {
        Some(source) if source.webex().is_none() => other_orgs_of(table, source, errors),
        // A source named but in error (reported): whether orgs are required depends on it.
        None if raw.source.is_some() => None,
        _ => table
            .required(
                errors,
                &raw.orgs,
                "orgs",
                "\"discover\" or a list of Webex organisation ids",
            )
            .and_then(|orgs| orgs_of(table, orgs, source.as_ref(), errors)),
    };
    let filters = filters_of(table, source.as_ref(), errors);
    let fields = fields_of(table, errors);
    let fields_key = fields_key_of(table, source.as_ref(), fields.as_ref(), errors);
    let every = table.duration(
        errors,
        &raw.every,
        "every",
        DEFAULT_EVERY,
        (MIN_EVERY, MAX_EVERY),
    );
    let window = window_of(table, source.as_ref(), errors);
    Some(Stream {
        name: name?,
        source: source?,
        identity: identity?,
        orgs: orgs?,
        filters: filters?,
        fields: fields?,
        fields_key: fields_key?,
        every: every?,
        window: window?,
    })
}

/// A stream's name and identity belong to its source's families (see
/// [`Source::families`]): what the deployed function's role may touch.
fn family_rules(
    table: &Table<'_, RawStream>,
    name: &str,
    identity: &str,
    source: &Source,
    errors: &mut Errors<'_>,
) {
    let families = source.families();
    let raw = &table.read.value;
    let span =
        |field: &Option<Spanned<String>>| field.as_ref().map_or(table.span.clone(), |f| f.span());
    if !Families::holds(families.stream, name) {
        errors.at(
            &table.key("name"),
            span(&raw.name),
            format!(
                "{name:?}: {} stream is named {stream:?} or begins with \"{stream}-\" (the \
                 deployed function's role covers only those keys)",
                article(source.name()),
                stream = families.stream,
            ),
        );
    }
    if let Some(family) = families.identity
        && !Families::holds(family, identity)
    {
        errors.at(
            &table.key("identity"),
            span(&raw.identity),
            format!(
                "{identity:?} cannot read {} stream: its identity is named {family:?} or \
                 begins with \"{family}-\" (the deployed function may use only those secrets)",
                article(source.name()),
            ),
        );
    }
}

fn orgs_of(
    table: &Table<'_, RawStream>,
    orgs: &Spanned<RawOrgs>,
    source: Option<&Source>,
    errors: &mut Errors<'_>,
) -> Option<Orgs> {
    let path = table.key("orgs");
    // Compliance events are those of the token's organisation, whatever org is asked for:
    // two units would collect the same events twice.
    let one_org_only = source.filter(|s| s.webex_spec().is_some_and(|w| !w.takes_org_id));
    match orgs.get_ref() {
        RawOrgs::Word(word) if word == "discover" => {
            if let Some(source) = one_org_only {
                errors.at(
                    &path,
                    orgs.span(),
                    format!(
                        "{} cannot discover organisations: it reads the organisation of its \
                         identity's token; list that one organisation id",
                        source.name()
                    ),
                );
                return None;
            }
            Some(Orgs::Discover)
        }
        RawOrgs::Word(word) => {
            let hint = if check_org_id(word).is_ok() {
                format!("a list is written in brackets: orgs = [{word:?}]")
            } else {
                "write \"discover\" or a list of Webex organisation ids".to_string()
            };
            errors.at(
                &path,
                orgs.span(),
                format!("{word:?} is not \"discover\"; {hint}"),
            );
            None
        }
        RawOrgs::List(ids) if ids.is_empty() => {
            errors.at(
                &path,
                orgs.span(),
                "is empty; list Webex organisation ids or write \"discover\"",
            );
            None
        }
        RawOrgs::List(ids) => {
            let mut ok = true;
            if let (Some(source), true) = (one_org_only, ids.len() > 1) {
                errors.at(
                    &path,
                    orgs.span(),
                    format!(
                        "{} reads the organisation of its identity's token, whatever org is \
                         asked for: list that one organisation, not {}",
                        source.name(),
                        ids.len()
                    ),
                );
                ok = false;
            }
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                let text = id.get_ref();
                let id_path = index_path(&path, i);
                let problem = match check_org_id(text) {
                    Err(OrgIdProblem::List) => Some(format!(
                        "{text:?} holds several ids; write one per item: [\"…\", \"…\"]"
                    )),
                    Err(OrgIdProblem::NotAnId) => Some(format!(
                        "{text:?} is not a Webex organisation id ({ORG_ID_EXPLAINED})"
                    )),
                    Ok(()) => seen
                        .get(text.as_str())
                        .map(|first| format!("{text:?} is already listed at orgs[{first}]")),
                };
                if let Some(problem) = problem {
                    errors.at(&id_path, id.span(), problem);
                    ok = false;
                } else {
                    seen.insert(text, i);
                }
            }
            ok.then(|| Orgs::List(ids.iter().map(|id| id.get_ref().clone()).collect()))
        }
    }
}

fn window_of(
    table: &Table<'_, RawStream>,
    source: Option<&Source>,
    errors: &mut Errors<'_>,
) -> Option<WindowSettings> {
    let raw = &table.read.value;
    let settle_lag = table.duration(
        errors,
        &raw.settle_lag,
        "settle_lag",
        Duration::from_secs(DEFAULT_SETTLE_LAG_SECONDS),
        (Duration::ZERO, MAX_LAG),
    );
    let overlap = table.duration(
        errors,
        &raw.overlap,
        "overlap",
        Duration::from_secs(DEFAULT_OVERLAP_SECONDS),
        (Duration::from_secs(1), MAX_LAG),
    );
    let max_window = table.duration(
        errors,
        &raw.max_window,
        "max_window",
        Duration::from_secs(DEFAULT_MAX_WINDOW_SECONDS),
        (
            Duration::from_secs(1),
            // A window and its overlap are one request's span.
            MAX_SPAN - overlap.unwrap_or(MAX_LAG),
        ),
    );
    let max_page = source.map(Source::max_page);
    let page_size = table.number(
        errors,
        &raw.page_size,
        "page_size",
        (1, max_page.map_or(i64::MAX, i64::from)),
        &source.map_or(String::new(), |s| {
            format!(", the largest page {} returns", s.name())
        }),
    );
    let max_window_events = table.number(
        errors,
        &raw.max_window_events,
        "max_window_events",
        (MIN_MAX_WINDOW_EVENTS as i64, i64::MAX),
        "",
    );
    // APIs keep their history for different times (Entra sign-ins: 30 days).
    let initial_lookback = match &raw.initial_lookback {
        None => (!table.read.rejected("initial_lookback")).then_some(None),
        Some(_) => table
            .duration(
                errors,
                &raw.initial_lookback,
                "initial_lookback",
                MAX_LOOKBACK,
                (MIN_LOOKBACK, MAX_LOOKBACK),
            )
            .map(Some),
    };
    Some(WindowSettings {
        settle_lag: settle_lag?,
        overlap: overlap?,
        max_window: max_window?,
        // Without a source there is no largest page, and its absence is reported already.
        page_size: match page_size.ok()? {
            Some(n) => n as u32,
            None => max_page?,
        },
        max_window_events: max_window_events.ok()?.map(|n| n as u64),
        initial_lookback: initial_lookback?,
    })
}

/// The organisations of a stream that does not read Webex. Without `orgs`, one unit under
/// organisation `-`; an `http` stream may list ids of its own API (one unit each), and then
/// must send `{org}`, or every unit would read the same events.
fn other_orgs_of(
    table: &Table<'_, RawStream>,
    source: &Source,
    errors: &mut Errors<'_>,
) -> Option<Orgs> {
    let raw = &table.read.value;
    let Some(orgs) = &raw.orgs else {
        return (!table.read.rejected("orgs")).then(|| Orgs::List(vec![NO_ORG.to_string()]));
    };
    let path = table.key("orgs");
    let Source::Http(spec) = source else {
        errors.at(
            &path,
            orgs.span(),
            format!(
                "{} streams have one unit; remove orgs (a second tenant or account is a second \
                 stream with its own identity)",
                source.name()
            ),
        );
        return None;
    };
    let RawOrgs::List(ids) = orgs.get_ref() else {
        errors.at(
            &path,
            orgs.span(),
            "an http stream lists its organisations, e.g. orgs = [\"eu\", \"us\"]; \
             discovering them is Webex's",
        );
        return None;
    };
    let mut ok = !ids.is_empty();
    if ids.is_empty() {
        errors.at(&path, orgs.span(), "is empty; list ids, or remove orgs");
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let text = id.get_ref();
        let problem = if !is_listed_org(text) {
            Some(format!(
                "{text:?} is not an id: 1 to 128 of A-Z, a-z, 0-9 and ._:-"
            ))
        } else {
            seen.get(text.as_str())
                .map(|first| format!("{text:?} is already listed at orgs[{first}]"))
        };
        if let Some(problem) = problem {
            errors.at(&index_path(&path, i), id.span(), problem);
            ok = false;
        } else {
            seen.insert(text, i);
        }
    }
    if ids.len() > 1 && !spec.request.uses(collector_core::source::Placeholder::Org) {
        errors.at(
            &path,
            orgs.span(),
            format!(
                "{} organisations are listed but {{org}} is never used, so every unit would \
                 read the same events; use {{org}} in request.url or request.query",
                ids.len()
            ),
        );
        ok = false;
    }
    ok.then(|| Orgs::List(ids.iter().map(|id| id.get_ref().clone()).collect()))
}

/// The organisation of a stream's one unit when its API has none.
pub const NO_ORG: &str = "-";
