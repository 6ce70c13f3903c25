//! The JSON paths a source's configuration names (where a page's items are, an item's id and
//! time, the next page's link): a small subset of RFC 9535, member names and array indexes only
//! (docs/design/http-source.md §5). Every path accepted here means the same as the RFC 9535 query
//! with `$.` in front, so a later full implementation changes no document. Parsed once, when the
//! document is checked; evaluated while a page is read, without building a JSON tree.

use std::fmt;

/// One step of a path: a member of an object, or an element of an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Name(Box<str>),
    Index(usize),
}

/// A parsed path: the steps from the root (`$` alone: none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
    /// Written with a final `[*]`: the array's elements, which for an items path is the array.
    all_elements: bool,
}

/// Why a path was refused, and where in its text (a byte offset).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (at character {at})")]
pub struct PathError {
    pub at: usize,
    pub problem: String,
}

impl JsonPath {
    /// Parses `$`, `$.a.b`, `a.b`, `a[0].b`, `$['@odata.nextLink']`, `data[*]`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        Parser { text, at: 0 }.path()
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether the path ended in `[*]`.
    pub fn all_elements(&self) -> bool {
        self.all_elements
    }
}

impl fmt::Display for JsonPath {
    /// The normalised RFC 9535 form: `$['a'][0]` reads as `$.a[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for step in &self.steps {
            match step {
                Step::Name(name) if is_shorthand(name) => write!(f, ".{name}")?,
                Step::Name(name) => {
                    write!(f, "['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))?
                }
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        if self.all_elements {
            f.write_str("[*]")?;
        }
        Ok(())
    }
}

/// RFC 9535's member-name-shorthand, ASCII only.
fn is_shorthand(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
}

impl Parser<'_> {
    fn fail<T>(&self, problem: impl Into<String>) -> Result<T, PathError> {
        Err(PathError {
            at: self.at,
            problem: problem.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn path(mut self) -> Result<JsonPath, PathError> {
        if self.text.is_empty() {
            return self.fail("is empty; write $ for the whole answer, or a name such as value");
        }
        let mut steps = Vec::new();
        let mut all_elements = false;
        if self.peek() == Some(b'$') {
            self.at += 1;
        } else {
            // A bare first segment: `value` is `$.value`.
            match self.peek() {
                Some(b'[') => {}
                _ => steps.push(self.name()?),
            }
        }
        while let Some(byte) = self.peek() {
            if all_elements {
                return self.fail("[*] ends a path; nothing may follow it");
            }
            match byte {
                b'.' if self.text.as_bytes().get(self.at + 1) == Some(&b'.') => {
                    return self.fail("descendants (..) are not supported; name each step");
                }
                b'.' => {
                    self.at += 1;
                    steps.push(self.name()?);
                }
                b'[' => match self.bracketed()? {
                    Some(step) => steps.push(step),
                    None => all_elements = true,
                },
                _ => return self.fail("expected . or [ between steps"),
            }
        }
        Ok(JsonPath {
            steps,
            all_elements,
        })
    }

    fn name(&mut self) -> Result<Step, PathError> {
        let start = self.at;
        let rest = &self.text[start..];
        let len = rest
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        if !is_shorthand(name) {
            return match rest.bytes().next() {
                Some(b'@' | b'$' | b'-' | b':') | Some(0x80..) => {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    self.fail(format!(
                        "a name holding \".\", \"@\", \"-\" or other characters is written in \
                         brackets: ['{}']",
                        &rest[..end]
                    ))
                }
                Some(b'*') => self.fail("a wildcard is written [*], and only at the end"),
                Some(b) if b.is_ascii_digit() => {
                    self.fail("a name does not start with a digit; an index is written [0]")
                }
                _ => self.fail("expected a name"),
            };
        }
        self.at += len;
        Ok(Step::Name(name.into()))
    }

    /// `['name']`, `["name"]`, `[0]`, or `[*]` (`None`).
    fn bracketed(&mut self) -> Result<Option<Step>, PathError> {
        self.at += 1;
        let step = match self.peek() {
            Some(b'*') => {
                self.at += 1;
                None
            }
            Some(quote @ (b'\'' | b'"')) => {
                self.at += 1;
                Some(Step::Name(self.quoted(quote)?.into()))
            }
            Some(b'0'..=b'9') => Some(Step::Index(self.index()?)),
            Some(b'-') => return self.fail("negative indexes are not supported"),
            Some(b'?') => return self.fail("filters ([?...]) are not supported"),
            _ => return self.fail("expected 'name', a number or * inside [ ]"),
        };
        match self.peek() {
            Some(b']') => {
                self.at += 1;
                Ok(step)
            }
            Some(b':') => self.fail("slices are not supported"),
            Some(b',') => self.fail("unions are not supported"),
            _ => self.fail("expected ]"),
        }
    }

    fn quoted(&mut self, quote: u8) -> Result<String, PathError> {
        let mut name = String::new();
        let mut chars = self.text[self.at..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped @ ('\\' | '\'' | '"'))) => name.push(escaped),
                    _ => {
                        self.at += offset;
                        return self.fail("only \\\\, \\' and \\\" are escapes here");
                    }
                },
                c if c as u32 == u32::from(quote) => {
                    self.at += offset + 1;
                    return Ok(name);
                }
                c if c.is_control() => {
                    self.at += offset;
                    return self.fail("a control character in a name");
                }
                c => name.push(c),
            }
        }
        self.at = self.text.len();
        self.fail("the quoted name is not closed")
    }

    fn index(&mut self) -> Result<usize, PathError> {
        let rest = &self.text[self.at..];
        let len = rest
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
        let digits = &rest[..len];
        if digits.len() > 1 && digits.starts_with('0') {
            return self.fail("an index has no leading zeros");
        }
        let index = digits
            .parse()
            .or_else(|_| self.fail("the index is too large"))?;
        self.at += len;
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Vec<Step> {
        JsonPath::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .steps
    }

    fn name(n: &str) -> Step {
        Step::Name(n.into())
    }

    #[test]
    fn reads_the_paths_the_sources_use() {
        assert_eq!(steps("$"), []);
        assert_eq!(steps("value"), [name("value")]);
        assert_eq!(steps("$.value"), [name("value")]);
        assert_eq!(
            steps("metadata.links.next"),
            [name("metadata"), name("links"), name("next")]
        );
        assert_eq!(steps("$['@odata.nextLink']"), [name("@odata.nextLink")]);
        assert_eq!(steps("$[\"it's\"]"), [name("it's")]);
        assert_eq!(steps(r"$['it\'s']"), [name("it's")]);
        assert_eq!(
            steps("errors[0].details[0]"),
            [
                name("errors"),
                Step::Index(0),
                name("details"),
                Step::Index(0)
            ]
        );
        assert_eq!(steps("computer.connector_guid").len(), 2);
        let all = JsonPath::parse("data[*]").unwrap();
        assert_eq!(
            (all.steps(), all.all_elements()),
            (&[name("data")][..], true)
        );
    }

    #[test]
    fn writes_back_the_rfc_9535_query_it_means() {
        for (text, normal) in [
            ("value", "$.value"),
            ("$['value']", "$.value"),
            ("$['@odata.nextLink']", "$['@odata.nextLink']"),
            ("errors[0].details[10]", "$.errors[0].details[10]"),
            ("data[*]", "$.data[*]"),
            (r#"$["a'b"]"#, r"$['a\'b']"),
        ] {
            let path = JsonPath::parse(text).unwrap();
            assert_eq!(path.to_string(), normal, "{text}");
            assert_eq!(JsonPath::parse(normal).unwrap(), path, "{normal}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_support_saying_what_and_where() {
        for (text, at, problem) in [
            ("", 0, "is empty"),
            ("@odata.nextLink", 0, "written in brackets: ['@odata"),
            ("$..id", 1, "descendants"),
            ("items[?@.a]", 6, "filters"),
            ("items[1:2]", 7, "slices"),
            ("items[0,1]", 7, "unions"),
            ("items[-1]", 6, "negative"),
            ("items[01]", 6, "leading zeros"),
            ("items[*].id", 8, "[*] ends a path"),
            ("a.*", 2, "[*]"),
            ("a.1b", 2, "does not start with a digit"),
            ("$['open", 7, "not closed"),
            ("a b", 1, "expected . or ["),
            ("a[", 2, "expected 'name'"),
            ("a['x'", 5, "expected ]"),
            (r"a['\n']", 3, "escapes"),
        ] {
            let error = JsonPath::parse(text).expect_err(text);
            assert!(
                error.problem.contains(problem) && error.at == at,
                "{text}: {error:?}"
            );
        }
    }
}
