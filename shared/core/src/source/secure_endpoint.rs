//! Cisco Secure Endpoint's events (`GET /v1/events`) as a filled-in source
//! (docs/design/http-source.md §9). From Cisco's API reference: Basic authentication with the
//! API client id and key; `start_date` is inclusive and there is no end date, so the API reads
//! from the start up to now and our window rule drops what lies past the window's end;
//! `offset` paging through `metadata.links.next`; event ids are integers beyond 2^53 (kept as
//! their digits); an hourly request budget with `X-Rate-Limit-*` headers (also spelt
//! `x-ratelimit-*`), and 429 once it is spent.

use crate::json_path::JsonPath;
use crate::page::{EventId, HintPaths, Items, PageShape};
use crate::source::template::Placeholder;
use crate::source::{
    ErrorMessage, Method, Paging, PagingKind, PagingParams, Quirks, RateLimitHeaders,
    RequestTemplate, SourceSpec, Template,
};
use crate::time_format::TimeFormat;

pub const DISPLAY: &str = "Cisco Secure Endpoint";

/// The API's regions and their hosts.
pub const REGIONS: [(&str, &str); 3] = [
    ("nam", "https://api.amp.cisco.com"),
    ("eu", "https://api.eu.amp.cisco.com"),
    ("apjc", "https://api.apjc.amp.cisco.com"),
];

/// What a stream narrows its events to: each list sent as a repeated parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilters {
    pub event_types: Vec<String>,
    pub group_guids: Vec<String>,
    pub connector_guids: Vec<String>,
}

/// The source at `api_url` (a region's host, or the simulator's).
pub fn source(api_url: &str, filters: &EventFilters) -> SourceSpec {
    let path = |p: &str| JsonPath::parse(p).expect("a valid path");
    let mut query = vec![("start_date".to_string(), Template::slot(Placeholder::From))];
    for (name, values) in [
        ("event_type[]", &filters.event_types),
        ("group_guid[]", &filters.group_guids),
        ("connector_guid[]", &filters.connector_guids),
    ] {
        query.extend(
            values
                .iter()
                .map(|value| (name.to_string(), Template::text(value.clone()))),
        );
    }
    let both = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
    SourceSpec {
        name: "cisco_secure_endpoint".to_string(),
        display: DISPLAY.to_string(),
        request: RequestTemplate {
            method: Method::Get,
            url: Template::text(format!("{}/v1/events", api_url.trim_end_matches('/'))),
            query,
            headers: Vec::new(),
            body: None,
            time_format: TimeFormat::Rfc3339Offset,
            start_only: true,
        },
        paging: Paging {
            kind: PagingKind::NextUrl,
            params: PagingParams {
                size: Some("limit".to_string()),
                offset: None,
                cursor: None,
            },
            max_size: 500,
        },
        page: PageShape::new(
            Items {
                path: path("data"),
                missing_is_empty: false,
                id: EventId::Paths(vec![path("id")]),
                time: path("date"),
                time_format: TimeFormat::Rfc3339,
            },
            HintPaths {
                next: Some(path("metadata.links.next")),
                ..HintPaths::default()
            },
        ),
        rate_limit: RateLimitHeaders {
            retry_after: vec!["Retry-After".to_string()],
            reset: both("X-Rate-Limit-Reset", "X-RateLimit-Reset"),
            reset_is_instant: false,
            remaining: both("X-Rate-Limit-Remaining", "X-RateLimit-Remaining"),
        },
        refusals: Vec::new(),
        forbidden_fix: Some(
            "give the API client read access to events in Secure Endpoint (Accounts > API \
             Credentials)"
                .to_string(),
        ),
        error_message: ErrorMessage::common(),
        quirks: Quirks::default(),
        webex: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Position, QueryBounds};
    use crate::time::Timestamp;

    #[test]
    fn asks_from_the_start_only_with_repeated_filters() {
        let bounds = QueryBounds {
            from: Timestamp::parse("2026-11-22T10:15:00Z").unwrap(),
            to: Timestamp::parse("2026-11-22T11:15:00Z").unwrap(),
            org: "-".to_string(),
            extra: Vec::new(),
        };
        let filters = EventFilters {
            event_types: vec!["1090519054".to_string(), "553648147".to_string()],
            ..EventFilters::default()
        };
        let first = source(REGIONS[1].1, &filters).render(&bounds, 500, &Position::First);
        assert_eq!(first.url, "https://api.eu.amp.cisco.com/v1/events");
        let query: Vec<String> = first
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            query,
            [
                "start_date=2026-11-22T10:15:00+00:00",
                "event_type[]=1090519054",
                "event_type[]=553648147",
                "limit=500"
            ]
        );
        assert!(!source(REGIONS[0].1, &filters).request.uses(Placeholder::To));
    }
}
