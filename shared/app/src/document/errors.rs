//! What is wrong with a document, said the way its author reads it: the key path
//! (`streams[2].orgs[1]`), the line, and the problem. Every error of one check is kept and
//! returned in document order, so that one pass fixes them all.

use std::fmt;
use std::ops::Range;

/// One mistake in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentError {
    /// `streams[2].orgs[1]`, `identities.partner.kind`; `None` for a TOML syntax error, which is
    /// found before any key is known.
    pub path: Option<String>,
    /// 1-based, where the problem is in the text.
    pub line: Option<usize>,
    /// 1-based, in characters; given for syntax errors, where the line alone is not enough.
    pub column: Option<usize>,
    pub problem: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line, self.column) {
            (Some(path), Some(line), _) => write!(f, "{path}: {} (line {line})", self.problem),
            (Some(path), None, _) => write!(f, "{path}: {}", self.problem),
            (None, Some(line), Some(column)) => {
                write!(f, "line {line}, column {column}: {}", self.problem)
            }
            (None, Some(line), None) => write!(f, "line {line}: {}", self.problem),
            (None, None, _) => f.write_str(&self.problem),
        }
    }
}

/// Every mistake in a document, in document order; displayed one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentErrors(pub Vec<DocumentError>);

impl DocumentErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, DocumentError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a DocumentErrors {
    type Item = &'a DocumentError;
    type IntoIter = std::slice::Iter<'a, DocumentError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for DocumentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DocumentErrors {}

/// Collects the errors of one check, each with the place in the text it is about, and hands
/// them back in the order they appear there whatever order the checks ran in.
pub(super) struct Errors<'t> {
    text: &'t str,
    found: Vec<(usize, DocumentError)>,
}

impl<'t> Errors<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Self {
            text,
            found: Vec::new(),
        }
    }

    /// `problem` at `path`, about the text in `span`.
    pub(super) fn at(&mut self, path: &str, span: Range<usize>, problem: impl Into<String>) {
        let (line, _) = line_and_column(self.text, span.start);
        self.found.push((
            span.start,
            DocumentError {
                path: Some(path.to_string()),
                line: Some(line),
                column: None,
                problem: problem.into(),
            },
        ));
    }

    /// `problem` at `path`, a key the document lacks altogether: no line to point at, listed
    /// after everything that is there.
    pub(super) fn missing(&mut self, path: &str, problem: impl Into<String>) {
        self.found.push((
            self.text.len(),
            DocumentError {
                path: Some(path.to_string()),
                line: None,
                column: None,
                problem: problem.into(),
            },
        ));
    }

    pub(super) fn finish(mut self) -> Result<(), DocumentErrors> {
        if self.found.is_empty() {
            return Ok(());
        }
        // Stable: two errors about one place keep the order the checks found them in.
        self.found.sort_by_key(|(offset, _)| *offset);
        Err(DocumentErrors(
            self.found.into_iter().map(|(_, error)| error).collect(),
        ))
    }
}

/// A TOML syntax error: the parser stops at the first, so there is only ever one.
pub(super) fn syntax(text: &str, error: &toml::de::Error) -> DocumentErrors {
    let (line, column) = error
        .span()
        .map(|span| line_and_column(text, span.start))
        .unzip();
    DocumentErrors(vec![DocumentError {
        path: None,
        line,
        column,
        problem: format!("not valid TOML: {}", error.message().trim_end()),
    }])
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |start| start.chars().count())
        + 1;
    (line, column)
}

/// `parent.key`, with the key quoted when it is not a bare TOML key (`identities."my team"`),
/// so that a path always reads back as the key it names.
pub(super) fn key_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(super) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_back_as_the_keys_they_name() {
        assert_eq!(key_path("", "streams"), "streams");
        assert_eq!(key_path("identities", "partner"), "identities.partner");
        assert_eq!(key_path("identities", "my team"), "identities.\"my team\"");
        assert_eq!(key_path("x", "a\u{1b}b"), "x.\"a\\u{1b}b\"");
        assert_eq!(index_path("streams", 2), "streams[2]");
    }

    #[test]
    fn lines_and_columns_count_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        // After the two-byte é: the third character of the line.
        assert_eq!(line_and_column(text, 9), (2, 3));
        assert_eq!(line_and_column(text, 999), (3, 1));
    }

    #[test]
    fn errors_come_back_in_document_order_one_per_line() {
        let text = "one\ntwo\nthree\n";
        let mut errors = Errors::new(text);
        errors.at("c", 8..13, "third");
        errors.at("a", 0..3, "first");
        errors.at("b", 4..7, "second");
        let shown = errors.finish().unwrap_err().to_string();
        assert_eq!(
            shown,
            "a: first (line 1)\nb: second (line 2)\nc: third (line 3)"
        );
    }
}
