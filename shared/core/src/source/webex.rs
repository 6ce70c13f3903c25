//! The three Webex event APIs as filled-in sources (docs/design/http-source.md §7): what a user
//! would write in an `http` stream to read them, plus the quirks no configuration can say.

use crate::json_path::JsonPath;
use crate::page::PageShape;
use crate::source::template::Placeholder;
use crate::source::{
    ErrorMessage, Method, Paging, PagingKind, PagingParams, Quirks, RateLimitHeaders,
    RequestTemplate, SourceSpec, Template,
};
use crate::stream::StreamId;
use crate::time_format::TimeFormat;

/// Webex's name in messages: "Webex answered ...".
pub const DISPLAY: &str = "Webex";

impl StreamId {
    /// The stream's source. Its URL is relative to the Webex API's base URL (`WEBEX_API_URL`),
    /// which the Webex client holds; the filters (`eventCategories`, `resource`, `type`) are
    /// each query's extra parameters.
    pub fn source(self) -> SourceSpec {
        let spec = self.spec();
        let mut query = Vec::new();
        if spec.takes_org_id {
            query.push(("orgId".to_string(), Template::slot(Placeholder::Org)));
        }
        query.push((
            spec.from_param.to_string(),
            Template::slot(Placeholder::From),
        ));
        query.push((spec.to_param.to_string(), Template::slot(Placeholder::To)));
        let kind = match spec.paging {
            crate::stream::Paging::Link => PagingKind::Link,
            crate::stream::Paging::LinkOrOffset => PagingKind::LinkOrOffset,
        };
        let path = |p: &str| JsonPath::parse(p).expect("a valid path");
        SourceSpec {
            name: format!("webex_{}", self.name().replace('-', "_")),
            display: DISPLAY.to_string(),
            request: RequestTemplate {
                method: Method::Get,
                url: Template::text(spec.path),
                query,
                headers: Vec::new(),
                body: None,
                time_format: TimeFormat::Rfc3339Ms,
                start_only: false,
            },
            paging: Paging {
                kind,
                params: PagingParams {
                    size: Some("max".to_string()),
                    offset: (kind == PagingKind::LinkOrOffset).then(|| "offset".to_string()),
                    cursor: None,
                },
                max_size: spec.max_page,
            },
            page: PageShape::webex().clone(),
            rate_limit: RateLimitHeaders::standard(),
            refusals: Vec::new(),
            forbidden_fix: Some(spec.forbidden_fix.to_string()),
            error_message: ErrorMessage {
                paths: vec![path("message")],
                reference: Some(("trackingId", path("trackingId"))),
            },
            quirks: Quirks {
                shrink_on_504: true,
                size_in_links: true,
                retry_423: true,
            },
            webex: Some(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::source::{Position, QueryBounds};
    use crate::stream::{Filters, StreamId};
    use crate::time::Timestamp;

    /// The requests the Webex adapter built before sources were data, parameter for parameter.
    #[test]
    fn the_presets_ask_what_the_webex_streams_asked() {
        let bounds = |extra: Vec<(&'static str, String)>| QueryBounds {
            from: Timestamp::parse("2026-11-22T10:15:00Z").unwrap(),
            to: Timestamp::parse("2026-11-22T11:15:00Z").unwrap(),
            org: "ORG".to_string(),
            extra: extra.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        let categories = Filters {
            event_categories: vec!["logins".to_string()],
            ..Filters::default()
        };
        let compliance = Filters {
            resources: vec!["convergedRecordings".to_string()],
            types: vec!["created".to_string()],
            ..Filters::default()
        };
        let cases = [
            (
                StreamId::AdminAudit,
                &categories,
                Position::First,
                "https://webexapis.com/v1/adminAudit/events?orgId=ORG&from=2026-11-22T10:15:00.000Z&to=2026-11-22T11:15:00.000Z&eventCategories=LOGINS&max=200",
            ),
            (
                StreamId::AdminAudit,
                &Filters::default(),
                Position::Offset(400),
                "https://webexapis.com/v1/adminAudit/events?orgId=ORG&from=2026-11-22T10:15:00.000Z&to=2026-11-22T11:15:00.000Z&max=200&offset=400",
            ),
            (
                StreamId::SecurityAudit,
                &Filters::default(),
                Position::First,
                "https://webexapis.com/v1/admin/securityAudit/events?orgId=ORG&startTime=2026-11-22T10:15:00.000Z&endTime=2026-11-22T11:15:00.000Z&max=200",
            ),
            (
                StreamId::ComplianceEvents,
                &compliance,
                Position::First,
                "https://webexapis.com/v1/events?from=2026-11-22T10:15:00.000Z&to=2026-11-22T11:15:00.000Z&resource=convergedRecordings&serviceType=calling&type=created&max=200",
            ),
        ];
        for (stream, filters, position, expected) in cases {
            let source = stream.source();
            let queries = stream.spec().filter_queries(filters);
            let rendered = source.render(&bounds(queries[0].clone()), 200, &position);
            let query: Vec<String> = rendered
                .query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            assert_eq!(
                format!(
                    "https://webexapis.com/v1/{}?{}",
                    rendered.url,
                    query.join("&")
                ),
                expected,
                "{stream}"
            );
            assert_eq!(source.display, "Webex");
        }
        assert_eq!(StreamId::SecurityAudit.source().paging.max_size, 1000);
        assert_eq!(StreamId::AdminAudit.source().name, "webex_admin_audit");
    }
}
