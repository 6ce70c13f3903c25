//! What a query's requests look like (`[streams.request]`), and rendering one for a window, a
//! page size and a paging position. Percent-encoding and sending are the adapter's.

use crate::source::template::{Placeholder, Template, Values};
use crate::time::Timestamp;
use crate::time_format::TimeFormat;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A JSON body with templates in its strings.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyValue {
    Text(Template),
    /// A number, boolean or null, as written.
    Literal(serde_json::Value),
    Array(Vec<BodyValue>),
    Object(Vec<(String, BodyValue)>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Json(BodyValue),
    Form(Vec<(String, Template)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RequestTemplate {
    pub method: Method,
    /// Absolute, without a query (that is `query`).
    pub url: Template,
    /// In order; a name may repeat (`event_type[]`).
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
    /// How `{from}` and `{to}` are written.
    pub time_format: TimeFormat,
    /// The API takes a start and no end: one scan from the start reads up to now.
    pub start_only: bool,
}

/// Where a page's request stands in its query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    First,
    Offset(u32),
    Cursor(String),
}

/// The parameters paging adds to the requests we build (not to next URLs the API gave).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PagingParams {
    /// The page size parameter (`max`, `$top`, `limit`), sent on every request we build.
    pub size: Option<String>,
    /// The offset parameter of offset paging, sent once the offset is not zero.
    pub offset: Option<String>,
    /// The cursor parameter of cursor paging, sent with the token.
    pub cursor: Option<String>,
}

/// One query of a window: its bounds, its organisation, and the parameters its filter adds
/// (Webex compliance events take one `resource` and `type` a request, so a window may need
/// several queries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryBounds {
    pub from: Timestamp,
    pub to: Timestamp,
    pub org: String,
    pub extra: Vec<(String, String)>,
}

/// A request ready to encode and send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub method: Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<RenderedBody>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderedBody {
    Json(String),
    Form(Vec<(String, String)>),
}

struct Now<'a> {
    bounds: &'a QueryBounds,
    format: TimeFormat,
    page_size: u32,
    position: &'a Position,
}

impl Values for Now<'_> {
    fn value(&self, placeholder: Placeholder) -> Option<String> {
        match placeholder {
            Placeholder::From => Some(self.format.write(self.bounds.from)),
            Placeholder::To => Some(self.format.write(self.bounds.to)),
            Placeholder::Org => Some(self.bounds.org.clone()),
            Placeholder::PageSize => Some(self.page_size.to_string()),
            Placeholder::Offset => Some(match self.position {
                Position::Offset(offset) => offset.to_string(),
                _ => "0".to_string(),
            }),
            Placeholder::Cursor => match self.position {
                Position::Cursor(token) => Some(token.clone()),
                _ => None,
            },
        }
    }
}

impl Body {
    /// Whether the body uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        match self {
            Body::Json(value) => value.uses(placeholder),
            Body::Form(fields) => fields.iter().any(|(_, t)| t.uses(placeholder)),
        }
    }
}

impl RequestTemplate {
    /// Whether any part of the request uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.url.uses(placeholder)
            || self.query.iter().any(|(_, t)| t.uses(placeholder))
            || self.headers.iter().any(|(_, t)| t.uses(placeholder))
            || self
                .body
                .as_ref()
                .is_some_and(|body| body.uses(placeholder))
    }

    /// The request for `bounds` at `position`, asking for `page_size` items. A key whose value
    /// holds a placeholder without a value now (`{cursor}` on the first page) is left out.
    pub fn render(
        &self,
        bounds: &QueryBounds,
        page_size: u32,
        position: &Position,
        paging: &PagingParams,
    ) -> Rendered {
        let now = Now {
            bounds,
            format: self.time_format,
            page_size,
            position,
        };
        let pairs = |templates: &[(String, Template)]| -> Vec<(String, String)> {
            templates
                .iter()
                .filter_map(|(name, t)| Some((name.clone(), t.render(&now)?)))
                .collect()
        };
        let mut query = pairs(&self.query);
        query.extend(bounds.extra.iter().cloned());
        if let Some(size) = &paging.size {
            query.push((size.clone(), page_size.to_string()));
        }
        match (position, &paging.offset, &paging.cursor) {
            (Position::Offset(offset), Some(name), _) if *offset > 0 => {
                query.push((name.clone(), offset.to_string()));
            }
            (Position::Cursor(token), _, Some(name)) => query.push((name.clone(), token.clone())),
            _ => {}
        }
        let body = self.body.as_ref().map(|body| match body {
            Body::Json(value) => RenderedBody::Json(
                value
                    .render(&now, self.time_format)
                    .unwrap_or_default()
                    .to_string(),
            ),
            Body::Form(fields) => RenderedBody::Form(pairs(fields)),
        });
        Rendered {
            method: self.method,
            // A URL placeholder always has a value ({cursor} in a URL is refused by the checks).
            url: self.url.render(&now).unwrap_or_default(),
            query,
            headers: pairs(&self.headers),
            body,
        }
    }
}

impl BodyValue {
    fn uses(&self, placeholder: Placeholder) -> bool {
        match self {
            Self::Text(t) => t.uses(placeholder),
            Self::Literal(_) => false,
            Self::Array(values) => values.iter().any(|v| v.uses(placeholder)),
            Self::Object(members) => members.iter().any(|(_, v)| v.uses(placeholder)),
        }
    }

    /// `None` for a value whose placeholder has no value now: its member is left out.
    fn render(&self, values: &dyn Values, format: TimeFormat) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Self::Text(t) => {
                let text = t.render(values)?;
                // A string that is one numeric placeholder goes as a number.
                let numeric = match t.only() {
                    Some(Placeholder::PageSize | Placeholder::Offset) => true,
                    Some(Placeholder::From | Placeholder::To) => format.is_number(),
                    _ => false,
                };
                match numeric.then(|| text.parse::<i64>().ok()).flatten() {
                    Some(n) => Value::from(n),
                    None => Value::String(text),
                }
            }
            Self::Literal(v) => v.clone(),
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|v| v.render(values, format))
                    .collect(),
            ),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.render(values, format)?)))
                    .collect(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Template {
        Template::parse(text).unwrap()
    }

    fn bounds() -> QueryBounds {
        QueryBounds {
            from: Timestamp::parse("2026-11-22T10:15:00Z").unwrap(),
            to: Timestamp::parse("2026-11-22T11:15:00Z").unwrap(),
            org: "ORG 1".to_string(),
            extra: vec![("resource".to_string(), "messages".to_string())],
        }
    }

    #[test]
    fn renders_query_headers_and_paging_in_order() {
        let request = RequestTemplate {
            method: Method::Get,
            url: t("https://api.example/{org}/audit"),
            query: vec![
                ("since".into(), t("{from}")),
                ("until".into(), t("{to}")),
                ("event_type[]".into(), t("1")),
                ("event_type[]".into(), t("2")),
            ],
            headers: vec![("Accept".into(), t("application/json"))],
            body: None,
            time_format: TimeFormat::Rfc3339Ms,
            start_only: false,
        };
        let paging = PagingParams {
            size: Some("limit".into()),
            offset: Some("offset".into()),
            cursor: None,
        };
        let first = request.render(&bounds(), 100, &Position::First, &paging);
        assert_eq!(first.url, "https://api.example/ORG 1/audit");
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            first.query,
            pairs(&[
                ("since", "2026-11-22T10:15:00.000Z"),
                ("until", "2026-11-22T11:15:00.000Z"),
                ("event_type[]", "1"),
                ("event_type[]", "2"),
                ("resource", "messages"),
                ("limit", "100"),
            ])
        );
        assert_eq!(first.headers, pairs(&[("Accept", "application/json")]));
        let later = request.render(&bounds(), 50, &Position::Offset(200), &paging);
        assert_eq!(
            &later.query[5..],
            &pairs(&[("limit", "50"), ("offset", "200")])[..]
        );
        assert!(request.uses(Placeholder::Org) && !request.uses(Placeholder::Cursor));
    }

    #[test]
    fn json_bodies_send_numbers_as_numbers_and_leave_out_a_cursor_not_yet_known() {
        let body = BodyValue::Object(vec![
            ("from".into(), BodyValue::Text(t("{from}"))),
            ("to".into(), BodyValue::Text(t("{to}"))),
            ("limit".into(), BodyValue::Text(t("{page_size}"))),
            ("cursor".into(), BodyValue::Text(t("{cursor}"))),
            ("label".into(), BodyValue::Text(t("a \"{org}\""))),
            (
                "flags".into(),
                BodyValue::Array(vec![BodyValue::Literal(serde_json::json!(true))]),
            ),
        ]);
        let request = RequestTemplate {
            method: Method::Post,
            url: t("https://api.example/search"),
            query: vec![],
            headers: vec![],
            body: Some(Body::Json(body)),
            time_format: TimeFormat::EpochS,
            start_only: false,
        };
        let first = request.render(&bounds(), 500, &Position::First, &PagingParams::default());
        assert_eq!(
            first.body,
            Some(RenderedBody::Json(
                r#"{"flags":[true],"from":1795342500,"label":"a \"ORG 1\"","limit":500,"to":1795346100}"#
                    .to_string()
            ))
        );
        let next = request.render(
            &bounds(),
            500,
            &Position::Cursor("c-2".into()),
            &PagingParams::default(),
        );
        let Some(RenderedBody::Json(json)) = next.body else {
            panic!("a JSON body")
        };
        assert!(json.contains(r#""cursor":"c-2""#), "{json}");
        assert!(request.uses(Placeholder::Cursor));
    }
}
