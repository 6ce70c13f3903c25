//! Text with placeholders (`since={from}`): how a source's configuration says where the window's
//! bounds, the organisation and the paging go in a request. Parsed when the document is checked,
//! so a typo such as `{form}` never reaches an API.

use std::fmt;

/// What a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// The query's start (the window's start less its reach-back), in the request's time format.
    From,
    /// The window's end.
    To,
    /// The unit's organisation.
    Org,
    /// The page size asked for now.
    PageSize,
    /// The offset of offset paging, where the body carries it.
    Offset,
    /// The token of cursor paging, where the body carries it.
    Cursor,
}

impl Placeholder {
    pub const ALL: [Placeholder; 6] = [
        Self::From,
        Self::To,
        Self::Org,
        Self::PageSize,
        Self::Offset,
        Self::Cursor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::From => "from",
            Self::To => "to",
            Self::Org => "org",
            Self::PageSize => "page_size",
            Self::Offset => "offset",
            Self::Cursor => "cursor",
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Slot(Placeholder),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown placeholder {{{name}}}; one of {{from}}, {{to}}, {{org}}, {{page_size}}, {{offset}}, {{cursor}} (write {{{{ for a literal brace)"
)]
pub struct TemplateError {
    pub name: String,
}

/// The values a request is rendered with; `None` leaves a placeholder's key out (see
/// [`Template::render`]).
pub trait Values {
    fn value(&self, placeholder: Placeholder) -> Option<String>;
}

impl Template {
    /// `{{` and `}}` are literal braces; `{name}` of lower-case letters and `_` must be a
    /// placeholder; any other brace is text (a JSON snippet in a header, say).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            let tail = &rest[at..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                literal.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if let Some(name) = tail
                .strip_prefix('{')
                .and_then(|t| t.split_once('}'))
                .map(|(name, _)| name)
                .filter(|name| {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                })
            {
                let placeholder = Placeholder::ALL
                    .into_iter()
                    .find(|p| p.name() == name)
                    .ok_or_else(|| TemplateError {
                        name: name.to_string(),
                    })?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Slot(placeholder));
                rest = &tail[name.len() + 2..];
                continue;
            }
            literal.push_str(&tail[..1]);
            rest = &tail[1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// A template of text only (what presets build from values they already know).
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            parts: vec![Part::Text(text.into())],
        }
    }

    /// A template that is one placeholder.
    pub fn slot(placeholder: Placeholder) -> Self {
        Self {
            parts: vec![Part::Slot(placeholder)],
        }
    }

    /// The text, when the template has no placeholder.
    pub fn as_plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.parts.contains(&Part::Slot(placeholder))
    }

    /// The placeholder this template is, if it is exactly one (a body value sent as a number).
    pub fn only(&self) -> Option<Placeholder> {
        match self.parts.as_slice() {
            [Part::Slot(p)] => Some(*p),
            _ => None,
        }
    }

    /// The text with each placeholder's value; `None` when a placeholder has no value now (a
    /// `{cursor}` before the first page), so the caller leaves this key out.
    pub fn render(&self, values: &dyn Values) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Slot(p) => out.push_str(&values.value(*p)?),
            }
        }
        Some(out)
    }
}

impl fmt::Display for Template {
    /// As it would be written in a document.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(&text.replace('{', "{{").replace('}', "}}"))?,
                Part::Slot(p) => write!(f, "{p}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Values for Fixed {
        fn value(&self, p: Placeholder) -> Option<String> {
            match p {
                Placeholder::From => Some("F".into()),
                Placeholder::To => Some("T".into()),
                Placeholder::PageSize => Some("100".into()),
                _ => None,
            }
        }
    }

    #[test]
    fn renders_placeholders_and_keeps_other_braces() {
        for (text, rendered) in [
            (
                "createdDateTime ge {from} and createdDateTime le {to}",
                Some("createdDateTime ge F and createdDateTime le T"),
            ),
            ("{page_size}", Some("100")),
            ("{{from}} is literal", Some("{from} is literal")),
            (r#"{"a": 1} {}"#, Some(r#"{"a": 1} {}"#)),
            ("{Upper} {9}", Some("{Upper} {9}")),
            ("after {cursor}", None),
            ("", Some("")),
        ] {
            let template = Template::parse(text).unwrap();
            assert_eq!(template.render(&Fixed).as_deref(), rendered, "{text}");
        }
        let t = Template::parse("x={from}&y={{z}}").unwrap();
        assert_eq!(t.to_string(), "x={from}&y={{z}}");
        assert!(t.uses(Placeholder::From) && !t.uses(Placeholder::To));
        assert_eq!(
            Template::parse("{offset}").unwrap().only(),
            Some(Placeholder::Offset)
        );
        assert_eq!(Template::parse(" {offset}").unwrap().only(), None);
    }

    #[test]
    fn a_misspelt_placeholder_is_an_error_naming_it() {
        let e = Template::parse("since={form}").unwrap_err();
        assert_eq!(e.name, "form");
        assert!(
            e.to_string()
                .starts_with("unknown placeholder {form}; one of {from}, {to}"),
            "{e}"
        );
    }
}
