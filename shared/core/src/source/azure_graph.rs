//! Microsoft Graph's audit logs (Entra sign-ins and directory audits) as a filled-in source
//! (docs/design/http-source.md §8). Facts, each from Microsoft's pages: the list is newest
//! first; `createdDateTime` / `activityDateTime` filter with `ge`, `le` and `eq` only (so both
//! bounds are inclusive, and the window rule drops what lies exactly at its end); pages link on
//! by `@odata.nextLink`, followed as given; `$top` is at most 1,000; a 429 may come without
//! `Retry-After`; sign-ins need an Entra ID P1 or P2 licence.

use crate::json_path::JsonPath;
use crate::page::{EventId, HintPaths, Items, PageShape};
use crate::source::{
    ErrorMessage, Method, Paging, PagingKind, PagingParams, Quirks, RateLimitHeaders, Refusal,
    RequestTemplate, SourceSpec, Template,
};
use crate::time_format::TimeFormat;

pub const DEFAULT_API_URL: &str = "https://graph.microsoft.com/v1.0";
pub const DISPLAY: &str = "Microsoft Graph";

/// The two audit logs Graph lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    SignIns,
    DirectoryAudits,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Self::SignIns, Self::DirectoryAudits];

    /// As documents name it: the path below the API URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::SignIns => "auditLogs/signIns",
            Self::DirectoryAudits => "auditLogs/directoryAudits",
        }
    }

    pub fn named(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.path() == path)
    }

    /// The property holding an entry's time, which `$filter` takes.
    fn time_property(self) -> &'static str {
        match self {
            Self::SignIns => "createdDateTime",
            Self::DirectoryAudits => "activityDateTime",
        }
    }
}

/// The source for `resource` at `api_url` (`https://graph.microsoft.com/v1.0`, a national
/// cloud's, or the simulator's).
pub fn source(resource: Resource, api_url: &str) -> SourceSpec {
    let path = |p: &str| JsonPath::parse(p).expect("a valid path");
    let time = resource.time_property();
    let filter = format!("{time} ge {{from}} and {time} le {{to}}");
    SourceSpec {
        name: "azure_graph".to_string(),
        display: DISPLAY.to_string(),
        request: RequestTemplate {
            method: Method::Get,
            url: Template::text(format!(
                "{}/{}",
                api_url.trim_end_matches('/'),
                resource.path()
            )),
            query: vec![(
                "$filter".to_string(),
                Template::parse(&filter).expect("a valid template"),
            )],
            headers: Vec::new(),
            body: None,
            time_format: TimeFormat::Rfc3339,
            start_only: false,
        },
        paging: Paging {
            kind: PagingKind::NextUrl,
            params: PagingParams {
                size: Some("$top".to_string()),
                offset: None,
                cursor: None,
            },
            max_size: 1000,
        },
        page: PageShape::new(
            Items {
                path: path("value"),
                missing_is_empty: false,
                id: EventId::Paths(vec![path("id")]),
                time: path(time),
                time_format: TimeFormat::Rfc3339,
            },
            HintPaths {
                next: Some(path("$['@odata.nextLink']")),
                ..HintPaths::default()
            },
        ),
        rate_limit: RateLimitHeaders::standard(),
        refusals: vec![
            Refusal {
                status: 403,
                path: path("error.code"),
                equals: "Authentication_RequestFromNonPremiumTenantOrB2CTenant".to_string(),
                name: "licence".to_string(),
                fix: "sign-in logs need Microsoft Entra ID P1 or P2 on the tenant (directory \
                      audits do not); assign a P1/P2 licence, or remove the stream"
                    .to_string(),
            },
            Refusal {
                status: 403,
                path: path("error.code"),
                equals: "Authorization_RequestDenied".to_string(),
                name: "permission".to_string(),
                fix: "grant the app the application permissions AuditLog.Read.All and \
                      Directory.Read.All, with admin consent"
                    .to_string(),
            },
        ],
        forbidden_fix: Some(
            "grant the app the application permissions AuditLog.Read.All and Directory.Read.All, \
             with admin consent"
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
    fn asks_with_inclusive_bounds_on_the_resources_time() {
        let bounds = QueryBounds {
            from: Timestamp::parse("2026-11-22T10:15:00Z").unwrap(),
            to: Timestamp::parse("2026-11-22T11:15:00Z").unwrap(),
            org: "tenant".to_string(),
            extra: Vec::new(),
        };
        let signins = source(Resource::SignIns, "https://graph.microsoft.com/v1.0/");
        let first = signins.render(&bounds, 1000, &Position::First);
        assert_eq!(
            first.url,
            "https://graph.microsoft.com/v1.0/auditLogs/signIns"
        );
        assert_eq!(
            first.query,
            [
                (
                    "$filter".to_string(),
                    "createdDateTime ge 2026-11-22T10:15:00Z and createdDateTime le 2026-11-22T11:15:00Z"
                        .to_string()
                ),
                ("$top".to_string(), "1000".to_string()),
            ]
        );
        let audits = source(Resource::DirectoryAudits, DEFAULT_API_URL);
        let first = audits.render(&bounds, 10, &Position::First);
        assert!(first.query[0].1.starts_with("activityDateTime ge "));
        assert_eq!(Resource::named("auditLogs/signins"), None);
    }
}
