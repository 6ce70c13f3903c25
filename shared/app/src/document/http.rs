//! `source = "http"`: a stream that spells its API out in `[streams.request]`,
//! `[streams.paging]`, `[streams.items]` and `[streams.rate_limit]` (docs/sources.md). Every
//! mistake is named by its key path, and the result is the same [`SourceSpec`] the presets
//! fill in.

use std::ops::Range;

use collector_core::json_path::JsonPath;
use collector_core::page::{EventId, HintPaths, Items, PageShape};
use collector_core::source::{
    Body, BodyValue, ErrorMessage, Method, Paging, PagingKind, PagingParams, Placeholder, Quirks,
    RateLimitHeaders, RequestTemplate, SourceSpec, Template,
};
use collector_core::time_format::TimeFormat;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeTable;

use super::errors::{Errors, index_path, key_path};
use super::raw::{RawItems, RawPaging, RawRateLimit, RawRequest, RawStrings};
use super::read::{Read, read_table};
use super::validate::{Table, as_table};

/// The largest page a document may declare: beyond it one page's body would pass the cap.
const MAX_PAGE_SIZE: i64 = 100_000;
/// Without a size parameter the API chooses its pages; the stream's `page_size` is then moot.
const UNSENT_PAGE_SIZE: u32 = 1000;
/// Headers the identity or the connection sets: a document that sets them would send a
/// credential in the clear or break the request.
const OUR_HEADERS: [(&str, &str); 6] = [
    (
        "authorization",
        "credentials come from the stream's identity",
    ),
    (
        "proxy-authorization",
        "credentials come from the stream's identity",
    ),
    ("cookie", "credentials come from the stream's identity"),
    ("host", "the URL names the host"),
    ("content-length", "the collector sets it"),
    ("transfer-encoding", "the collector sets it"),
];
const PATH_EXAMPLES: &str =
    "paths look like value, metadata.links.next, $['@odata.nextLink'], errors[0].details[0]";
const KINDS: &str = "none, link, next_url, offset or cursor";

/// The `http` source of the stream at `path`, or `None` after reporting why.
pub(super) fn source_of(
    path: &str,
    span: Range<usize>,
    stream: &DeTable<'_>,
    errors: &mut Errors<'_>,
) -> Option<SourceSpec> {
    let request = sub_table::<RawRequest>(path, &span, stream, "request", true, errors);
    let paging = sub_table::<RawPaging>(path, &span, stream, "paging", true, errors);
    let items = sub_table::<RawItems>(path, &span, stream, "items", true, errors);
    let rate_limit = sub_table::<RawRateLimit>(path, &span, stream, "rate_limit", false, errors);
    let request =
        request.and_then(|(read, span)| request_of(&table(path, "request", span, &read), errors));
    let paging = paging.and_then(|(read, span)| {
        paging_of(
            &table(path, "paging", span, &read),
            request.as_ref(),
            errors,
        )
    });
    let items = items.and_then(|(read, span)| items_of(&table(path, "items", span, &read), errors));
    let rate_limit = match rate_limit {
        Some((read, span)) => rate_limit_of(&table(path, "rate_limit", span, &read), errors),
        None => Some(RateLimitHeaders::standard()),
    };
    let (request, (paging, hints), items, rate_limit) = (request?, paging?, items?, rate_limit?);
    let display = host_of(&request.url).unwrap_or_else(|| "the API".to_string());
    Some(SourceSpec {
        name: super::source::HTTP.to_string(),
        display,
        request,
        paging,
        page: PageShape::new(items, hints),
        rate_limit,
        refusals: Vec::new(),
        forbidden_fix: None,
        error_message: ErrorMessage::common(),
        quirks: Quirks::default(),
        webex: None,
    })
}

fn table<'r, T>(parent: &str, key: &str, span: Range<usize>, read: &'r Read<T>) -> Table<'r, T> {
    Table {
        path: key_path(parent, key),
        span,
        read,
    }
}

/// The sub-table `key` of a stream, read key by key; an error if it is `required` and absent.
fn sub_table<T: DeserializeOwned>(
    path: &str,
    span: &Range<usize>,
    stream: &DeTable<'_>,
    key: &str,
    required: bool,
    errors: &mut Errors<'_>,
) -> Option<(Read<T>, Range<usize>)> {
    let sub_path = key_path(path, key);
    let Some(value) = stream.get(key) else {
        if required {
            errors.at(
                &sub_path,
                span.clone(),
                format!(
                    "is required with source = \"http\": add a [streams.{key}] table after this \
                     stream's [[streams]] (docs/sources.md)"
                ),
            );
        }
        return None;
    };
    let sub = as_table(
        &sub_path,
        value,
        &format!("a table: [streams.{key}]"),
        errors,
    )?;
    read_table::<T>(&sub_path, value.span(), sub, errors).map(|read| (read, value.span()))
}

fn parse_template(
    path: &str,
    span: Range<usize>,
    text: &str,
    errors: &mut Errors<'_>,
) -> Option<Template> {
    Template::parse(text)
        .map_err(|e| errors.at(path, span, e.to_string()))
        .ok()
}

fn parse_path(
    path: &str,
    span: Range<usize>,
    text: &str,
    errors: &mut Errors<'_>,
) -> Option<JsonPath> {
    JsonPath::parse(text)
        .map_err(|e| {
            errors.at(
                path,
                span,
                format!("{text:?} is not a JSON path: {e}; {PATH_EXAMPLES}"),
            )
        })
        .ok()
}

fn time_format(
    path: &str,
    field: &Option<Spanned<String>>,
    errors: &mut Errors<'_>,
) -> Option<TimeFormat> {
    let Some(field) = field else {
        return Some(TimeFormat::Rfc3339);
    };
    let found = TimeFormat::named(field.get_ref());
    if found.is_none() {
        let names: Vec<&str> = TimeFormat::ALL.iter().map(|f| f.name()).collect();
        errors.at(
            path,
            field.span(),
            format!(
                "unknown time format {:?}; one of {}",
                field.get_ref(),
                names.join(", ")
            ),
        );
    }
    found
}

/// Each string of a `RawStrings` with its key path and place: `key` alone, or `key[i]`.
fn each_string<'s>(
    path: &str,
    field: &'s Spanned<RawStrings>,
) -> Vec<(String, Range<usize>, &'s str)> {
    match field.get_ref() {
        RawStrings::One(text) => vec![(path.to_string(), field.span(), text.as_str())],
        RawStrings::Many(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (index_path(path, i), item.span(), item.get_ref().as_str()))
            .collect(),
    }
}

fn request_of(table: &Table<'_, RawRequest>, errors: &mut Errors<'_>) -> Option<RequestTemplate> {
    let raw = &table.read.value;
    let mut ok = true;
    let method = match &raw.method {
        None => Some(Method::Get),
        Some(m) => match m.get_ref().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            other => {
                errors.at(
                    &table.key("method"),
                    m.span(),
                    format!("{other:?} is not GET or POST"),
                );
                None
            }
        },
    };
    let url = table
        .required(
            errors,
            &raw.url,
            "url",
            "the API's URL without its query, e.g. url = \"https://api.example.com/v1/audit\"",
        )
        .and_then(|url| {
            let path = table.key("url");
            let template = parse_template(&path, url.span(), url.get_ref(), errors)?;
            // Placeholders stand for path segments here: any value will do for the check.
            let sample = url.get_ref().replace(['{', '}'], "");
            let problem = match http_source::checked_url(&sample) {
                Err(reason) => Some(reason),
                Ok(parsed) if parsed.query().is_some() => {
                    Some("must not hold a query: put its parameters in request.query".to_string())
                }
                Ok(parsed) if parsed.fragment().is_some() => {
                    Some("must not hold a fragment (#…)".to_string())
                }
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                errors.at(
                    &path,
                    url.span(),
                    format!(
                        "{:?} {problem}",
                        http_source::without_password(url.get_ref())
                    ),
                );
                return None;
            }
            Some(template)
        });
    let mut query = Vec::new();
    if let Some(fields) = &raw.query {
        let path = table.key("query");
        for (name, values) in fields.get_ref() {
            for (value_path, span, text) in each_string(&key_path(&path, name), values) {
                match parse_template(&value_path, span, text, errors) {
                    Some(template) => query.push((name.clone(), template)),
                    None => ok = false,
                }
            }
        }
    }
    let mut headers = Vec::new();
    if let Some(fields) = &raw.headers {
        let path = table.key("headers");
        for (name, value) in fields.get_ref() {
            let header_path = key_path(&path, name);
            let lower = name.to_ascii_lowercase();
            if let Some((_, why)) = OUR_HEADERS.iter().find(|(h, _)| *h == lower) {
                errors.at(
                    &header_path,
                    value.span(),
                    format!("{why}; remove this header"),
                );
                ok = false;
                continue;
            }
            match parse_template(&header_path, value.span(), value.get_ref(), errors) {
                Some(template) => headers.push((name.clone(), template)),
                None => ok = false,
            }
        }
    }
    let body = body_of(table, method, errors);
    let time_format = time_format(&table.key("time_format"), &raw.time_format, errors);
    let start_only = raw.start_only.as_ref().is_some_and(|s| *s.get_ref());
    let request = RequestTemplate {
        method: method?,
        url: url?,
        query,
        headers,
        body: body?,
        time_format: time_format?,
        start_only,
    };
    if !ok {
        // A template in error is left out: what it would have used is unknown.
        return None;
    }
    // The window's bounds must reach the API, or every request reads the same thing.
    let placement = "put it in request.query, request.url or request.body";
    if !request.uses(Placeholder::From) {
        errors.at(
            &table.path,
            table.span.clone(),
            format!(
                "{{from}} is never used, so the API would not be asked for a window; {placement}"
            ),
        );
        ok = false;
    }
    match (request.uses(Placeholder::To), start_only) {
        (false, false) => {
            errors.at(
                &table.path,
                table.span.clone(),
                format!(
                    "{{to}} is never used, so every request reads up to the present; {placement}, \
                     or if the API takes only a start, set request.start_only = true"
                ),
            );
            ok = false;
        }
        (true, true) => {
            errors.at(
                &table.key("start_only"),
                raw.start_only
                    .as_ref()
                    .map_or(table.span.clone(), Spanned::span),
                "{to} is used, but request.start_only = true says the API takes no end",
            );
            ok = false;
        }
        _ => {}
    }
    ok.then_some(request)
}

/// `body` (a TOML table sent as JSON) or `form`, POST only, one of them.
fn body_of(
    table: &Table<'_, RawRequest>,
    method: Option<Method>,
    errors: &mut Errors<'_>,
) -> Option<Option<Body>> {
    let raw = &table.read.value;
    let present = raw
        .body
        .as_ref()
        .map(|b| ("body", b.span()))
        .or(raw.form.as_ref().map(|f| ("form", f.span())));
    if let (Some((key, span)), Some(Method::Get)) = (&present, method) {
        errors.at(
            &table.key(key),
            span.clone(),
            "a GET request has no body; set method = \"POST\" or move these to request.query",
        );
        return None;
    }
    match (&raw.body, &raw.form) {
        (Some(_), Some(form)) => {
            errors.at(
                &table.key("form"),
                form.span(),
                "give body (sent as JSON) or form (sent form-encoded), not both",
            );
            None
        }
        (Some(body), None) => {
            let value = toml::Value::Table(body.get_ref().clone());
            body_value(&table.key("body"), body.span(), &value, errors)
                .map(|value| Some(Body::Json(value)))
        }
        (None, Some(form)) => {
            let path = table.key("form");
            let mut fields = Vec::new();
            for (name, value) in form.get_ref() {
                fields.push((
                    name.clone(),
                    parse_template(
                        &key_path(&path, name),
                        value.span(),
                        value.get_ref(),
                        errors,
                    )?,
                ));
            }
            Some(Some(Body::Form(fields)))
        }
        (None, None) => Some(None),
    }
}

fn body_value(
    path: &str,
    span: Range<usize>,
    value: &toml::Value,
    errors: &mut Errors<'_>,
) -> Option<BodyValue> {
    Some(match value {
        toml::Value::String(text) => BodyValue::Text(parse_template(path, span, text, errors)?),
        toml::Value::Integer(n) => BodyValue::Literal(serde_json::Value::from(*n)),
        toml::Value::Float(x) => BodyValue::Literal(serde_json::Value::from(*x)),
        toml::Value::Boolean(b) => BodyValue::Literal(serde_json::Value::Bool(*b)),
        toml::Value::Datetime(at) => BodyValue::Text(Template::text(at.to_string())),
        toml::Value::Array(items) => BodyValue::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| body_value(&index_path(path, i), span.clone(), item, errors))
                .collect::<Option<_>>()?,
        ),
        toml::Value::Table(fields) => BodyValue::Object(
            fields
                .iter()
                .map(|(name, item)| {
                    body_value(&key_path(path, name), span.clone(), item, errors)
                        .map(|v| (name.clone(), v))
                })
                .collect::<Option<_>>()?,
        ),
    })
}

/// The keys each paging kind takes besides the common ones (`size_param`, `max_size`).
const PAGING_KEYS: [(&str, &[&str]); 5] = [
    ("none", &[]),
    ("link", &[]),
    ("next_url", &["next"]),
    ("offset", &["offset_param", "total"]),
    ("cursor", &["cursor", "cursor_param", "has_more"]),
];

fn paging_of(
    table: &Table<'_, RawPaging>,
    request: Option<&RequestTemplate>,
    errors: &mut Errors<'_>,
) -> Option<(Paging, HintPaths)> {
    let raw = &table.read.value;
    let kind_field = table.required(errors, &raw.kind, "kind", &format!("one of {KINDS}"))?;
    let kind_text = kind_field.get_ref().as_str();
    let (kind, own) = match PAGING_KEYS.iter().find(|(name, _)| *name == kind_text) {
        Some((name, own)) => (
            match *name {
                "none" => PagingKind::None,
                "link" => PagingKind::Link,
                "next_url" => PagingKind::NextUrl,
                "offset" => PagingKind::Offset,
                _ => PagingKind::Cursor,
            },
            *own,
        ),
        None => {
            errors.at(
                &table.key("kind"),
                kind_field.span(),
                format!("unknown paging kind {kind_text:?}; one of {KINDS}"),
            );
            return None;
        }
    };
    let mut ok = true;
    let keyed = [
        ("next", &raw.next),
        ("offset_param", &raw.offset_param),
        ("total", &raw.total),
        ("cursor", &raw.cursor),
        ("cursor_param", &raw.cursor_param),
        ("has_more", &raw.has_more),
    ];
    for (key, field) in keyed {
        if let Some(field) = field
            && !own.contains(&key)
        {
            let owner = PAGING_KEYS
                .iter()
                .find(|(_, keys)| keys.contains(&key))
                .map_or("", |(name, _)| name);
            errors.at(
                &table.key(key),
                field.span(),
                format!(
                    "is not used with kind = {kind_text:?}; remove it, or set kind = {owner:?}"
                ),
            );
            ok = false;
        }
    }
    let mut json_path = |key: &str, field: &Option<Spanned<String>>| -> Option<JsonPath> {
        let field = field.as_ref()?;
        let parsed = parse_path(&table.key(key), field.span(), field.get_ref(), errors);
        ok &= parsed.is_some();
        parsed
    };
    let hints = HintPaths {
        next: json_path("next", &raw.next),
        cursor: json_path("cursor", &raw.cursor),
        total: json_path("total", &raw.total),
        has_more: json_path("has_more", &raw.has_more),
    };
    let in_body = |placeholder| {
        request.is_some_and(|r| r.body.as_ref().is_some_and(|body| body.uses(placeholder)))
    };
    let mut require = |key: &str, present: bool, what: &str| {
        if !present && !table.read.rejected(key) {
            errors.at(
                &table.key(key),
                table.span.clone(),
                format!("is required with kind = {kind_text:?}: {what}"),
            );
            ok = false;
        }
    };
    match kind {
        PagingKind::NextUrl => require(
            "next",
            raw.next.is_some(),
            "the JSON path of the next page's URL, e.g. next = \"$['@odata.nextLink']\"",
        ),
        PagingKind::Offset => require(
            "offset_param",
            raw.offset_param.is_some() || in_body(Placeholder::Offset),
            "the offset's query parameter, unless {offset} is in request.body",
        ),
        PagingKind::Cursor => {
            require(
                "cursor",
                raw.cursor.is_some(),
                "the JSON path of the next page's token",
            );
            require(
                "cursor_param",
                raw.cursor_param.is_some() || in_body(Placeholder::Cursor),
                "the token's query parameter, unless {cursor} is in request.body",
            );
        }
        _ => {}
    }
    let sends_size =
        raw.size_param.is_some() || request.is_some_and(|r| r.uses(Placeholder::PageSize));
    let max_size = match table.number(
        errors,
        &raw.max_size,
        "max_size",
        (1, MAX_PAGE_SIZE),
        ", the page sizes we can read",
    ) {
        Ok(Some(n)) => Some(n as u32),
        Ok(None) if sends_size => {
            errors.at(
                &table.key("max_size"),
                table.span.clone(),
                "is required when paging.size_param or {page_size} is used: the largest page \
                 the API returns",
            );
            None
        }
        Ok(None) => Some(UNSENT_PAGE_SIZE),
        Err(()) => None,
    };
    let name = |field: &Option<Spanned<String>>| field.as_ref().map(|f| f.get_ref().clone());
    let paging = Paging {
        kind,
        params: PagingParams {
            size: name(&raw.size_param),
            offset: name(&raw.offset_param),
            cursor: name(&raw.cursor_param),
        },
        max_size: max_size?,
    };
    ok.then_some((paging, hints))
}

fn items_of(table: &Table<'_, RawItems>, errors: &mut Errors<'_>) -> Option<Items> {
    let raw = &table.read.value;
    let path = table
        .required(
            errors,
            &raw.path,
            "path",
            "the JSON path of the page's array of items, e.g. path = \"data\" (\"$\" for a bare \
             array)",
        )
        .and_then(|p| parse_path(&table.key("path"), p.span(), p.get_ref(), errors));
    let missing_is_empty = match &raw.missing {
        None => Some(false),
        Some(m) => match m.get_ref().as_str() {
            "error" => Some(false),
            "empty" => Some(true),
            other => {
                errors.at(
                    &table.key("missing"),
                    m.span(),
                    format!(
                        "{other:?} is not \"error\" (a page without the items is a mistake) or \
                         \"empty\" (the API leaves an empty array out)"
                    ),
                );
                None
            }
        },
    };
    let hash = raw.id_hash.as_ref().is_some_and(|h| *h.get_ref());
    let id = match (&raw.id, hash) {
        (Some(_), true) => {
            errors.at(
                &table.path,
                table.span.clone(),
                "set id or id_hash = true, not both",
            );
            None
        }
        (None, true) => Some(EventId::Hash),
        (None, false) => {
            if !table.read.rejected("id") {
                errors.at(
                    &table.key("id"),
                    table.span.clone(),
                    "is required unless id_hash = true: the JSON path of each item's id, or a \
                     list of paths that together make it",
                );
            }
            None
        }
        (Some(ids), false) => {
            let paths: Option<Vec<JsonPath>> = each_string(&table.key("id"), ids)
                .into_iter()
                .map(|(path, span, text)| parse_path(&path, span, text, errors))
                .collect::<Vec<_>>()
                .into_iter()
                .collect();
            match paths {
                Some(paths) if paths.is_empty() => {
                    errors.at(&table.key("id"), ids.span(), "names no path");
                    None
                }
                paths => paths.map(EventId::Paths),
            }
        }
    };
    let time = table
        .required(
            errors,
            &raw.time,
            "time",
            "the JSON path of each item's time, e.g. time = \"createdDateTime\"",
        )
        .and_then(|t| parse_path(&table.key("time"), t.span(), t.get_ref(), errors));
    let time_format = time_format(&table.key("time_format"), &raw.time_format, errors);
    Some(Items {
        path: path?,
        missing_is_empty: missing_is_empty?,
        id: id?,
        time: time?,
        time_format: time_format?,
    })
}

fn rate_limit_of(
    table: &Table<'_, RawRateLimit>,
    errors: &mut Errors<'_>,
) -> Option<RateLimitHeaders> {
    let raw = &table.read.value;
    let names = |key: &str, field: &Option<Spanned<RawStrings>>, default: &[&str]| {
        field.as_ref().map_or_else(
            || default.iter().map(|s| s.to_string()).collect(),
            |field| {
                each_string(&table.key(key), field)
                    .into_iter()
                    .map(|(_, _, text)| text.to_string())
                    .collect()
            },
        )
    };
    let reset_is_instant = match &raw.reset_format {
        None => false,
        Some(f) => match f.get_ref().as_str() {
            "seconds" => false,
            "epoch_s" => true,
            other => {
                errors.at(
                    &table.key("reset_format"),
                    f.span(),
                    format!(
                        "{other:?} is not \"seconds\" (until the reset) or \"epoch_s\" (the \
                         reset's instant)"
                    ),
                );
                return None;
            }
        },
    };
    Some(RateLimitHeaders {
        retry_after: names("retry_after", &raw.retry_after, &["Retry-After"]),
        reset: names("reset", &raw.reset, &[]),
        reset_is_instant,
        remaining: names("remaining", &raw.remaining, &[]),
    })
}

/// The host a template URL names, for messages ("api.example.com refused ...").
fn host_of(url: &Template) -> Option<String> {
    let text = url.as_plain()?;
    let rest = text.split_once("://")?.1;
    Some(rest.split(['/', ':']).next()?.to_string())
}
