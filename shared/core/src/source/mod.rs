//! A source as data: how to ask an API for a window's events, how its pages lead to each other,
//! where a page keeps its items, and what its refusals mean. One collection path reads every
//! source; the Webex streams are filled-in sources ([`webex`]) with a few named quirks, and a
//! document's `http` streams are sources their authors filled in.

pub mod azure_graph;
pub mod request;
pub mod secure_endpoint;
pub mod template;
pub mod webex;

use crate::json_path::JsonPath;
use crate::page::PageShape;
use crate::stream::StreamId;
pub use request::{
    Body, BodyValue, Method, PagingParams, Position, QueryBounds, Rendered, RenderedBody,
    RequestTemplate,
};
pub use template::{Placeholder, Template, TemplateError};

/// How one page leads to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingKind {
    /// One page per query.
    None,
    /// The `Link` header's `rel="next"`.
    Link,
    /// A URL in the page (`PageShape`'s `next` hint).
    NextUrl,
    /// The same query from an offset, until a page comes back empty or the total is reached.
    /// Never "until a short page": a server that caps the size below what we asked would end
    /// the query early.
    Offset,
    /// The same query with the page's token (`PageShape`'s `cursor` hint) sent back.
    Cursor,
    /// `Link` when the API sends one, otherwise offset paging (Webex admin audit documents
    /// `offset` but not whether it sends `Link`).
    LinkOrOffset,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paging {
    pub kind: PagingKind,
    pub params: PagingParams,
    /// The largest page the API returns: the page size is `1..=max_size`.
    pub max_size: u32,
}

/// Headers that say how long to wait, matched without case; each list holds alternative
/// spellings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub retry_after: Vec<String>,
    /// Seconds until the limit resets (or an epoch instant, with `reset_is_instant`).
    pub reset: Vec<String>,
    pub reset_is_instant: bool,
    /// Requests left: 0 holds the identity's requests until the reset.
    pub remaining: Vec<String>,
}

impl RateLimitHeaders {
    /// `Retry-After` only: what an API that says nothing else is read with.
    pub fn standard() -> Self {
        Self {
            retry_after: vec!["Retry-After".to_string()],
            ..Self::default()
        }
    }
}

/// A named answer of an API that is a configuration error with its own fix (Graph's licence
/// error): `status`, and the text at `path` of the error body equal to `equals`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub path: JsonPath,
    pub equals: String,
    pub name: String,
    pub fix: String,
}

/// Where an error body keeps its message: the first of `paths` holding a string, followed by
/// `reference` (`trackingId T`) when the body has one, so a support case can name the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    pub paths: Vec<JsonPath>,
    /// A reference to quote beside it ("trackingId 4a1…"): its label and where it is.
    pub reference: Option<(&'static str, JsonPath)>,
}

impl ErrorMessage {
    /// The places most APIs put theirs.
    pub fn common() -> Self {
        let paths = [
            "message",
            "error.message",
            "error_description",
            "errors[0].details[0]",
            "errors[0].description",
            "detail",
        ];
        Self {
            paths: paths
                .iter()
                .map(|p| JsonPath::parse(p).expect("a valid path"))
                .collect(),
            reference: None,
        }
    }
}

/// Named deviations of one API from what its filled-in source says, each implemented once in
/// the adapter; document `http` streams cannot set them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// 504 means the page was too large to build in time: ask for half.
    pub shrink_on_504: bool,
    /// Next links carry the page size (`max`): lower it there too after a shrink.
    pub size_in_links: bool,
    /// 423 (Locked) is a wait, like 429.
    pub retry_423: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceSpec {
    /// The source's name in documents (`http`, `azure_graph`, `webex_admin_audit`).
    pub name: String,
    /// Who answers, in messages ("Webex answered ...").
    pub display: String,
    pub request: RequestTemplate,
    pub paging: Paging,
    pub page: PageShape,
    pub rate_limit: RateLimitHeaders,
    pub refusals: Vec<Refusal>,
    /// What to change when the API answers 403 with no refusal of its own.
    pub forbidden_fix: Option<String>,
    pub error_message: ErrorMessage,
    pub quirks: Quirks,
    /// The Webex stream this source is, for what only Webex has: OAuth scopes, and compliance
    /// events reading the organisation of their token.
    pub webex: Option<StreamId>,
}

impl SourceSpec {
    /// One line that says what a query asks and how it reads the answer, for `webexctl config
    /// check`: `GET https://api.example.com/v1/audit?since={from}&until={to} · next_url $.next
    /// · items $.results · id $.id · time $.occurred_at (rfc3339)`.
    pub fn describe(&self) -> String {
        let request = &self.request;
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let query: Vec<String> = request
            .query
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let url = if query.is_empty() {
            request.url.to_string()
        } else {
            format!("{}?{}", request.url, query.join("&"))
        };
        let hint = |path: &Option<JsonPath>| path.as_ref().map_or(String::new(), |p| p.to_string());
        let paging = match self.paging.kind {
            PagingKind::None => "no paging".to_string(),
            PagingKind::Link => "Link header".to_string(),
            PagingKind::NextUrl => format!("next_url {}", hint(&self.page.hint_paths().next)),
            PagingKind::Offset => "offset".to_string(),
            PagingKind::Cursor => format!("cursor {}", hint(&self.page.hint_paths().cursor)),
            PagingKind::LinkOrOffset => "Link header or offset".to_string(),
        };
        let items = self.page.items();
        let id = match &items.id {
            crate::page::EventId::Paths(paths) => paths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" + "),
            crate::page::EventId::Hash => "hash of the item".to_string(),
        };
        let start_only = if request.start_only {
            " (start only)"
        } else {
            ""
        };
        format!(
            "{method} {url}{start_only} · {paging} · items {} · id {id} · time {} ({})",
            items.path, items.time, items.time_format
        )
    }

    /// The first request of a query, or the next at an offset or with a cursor.
    pub fn render(&self, bounds: &QueryBounds, page_size: u32, position: &Position) -> Rendered {
        self.request
            .render(bounds, page_size, position, &self.paging.params)
    }
}
