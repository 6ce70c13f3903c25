//! Finding several [`JsonPath`]s in one JSON text in one pass, without building a tree: the
//! paths are merged into a tree of steps, and a `serde` seed walks the text along it, comparing
//! each member name with the steps that continue there and skipping everything else. What is
//! found is borrowed from the text (`&RawValue`), so an id stays the exact characters the API
//! wrote (a number beyond 2^53 keeps its digits) and an event's bytes are never copied.
//!
//! This is the work `#[derive(Deserialize)]` does for a struct of `Option<&RawValue>` fields,
//! which is what the Webex pages were read with before sources became configuration.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::json_path::{JsonPath, Step};

/// What a path leads to: its value as text, or (at most one path) the elements of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Value(usize),
    Elements,
}

#[derive(Clone, Debug, Default)]
struct Node {
    target: Option<Target>,
    names: Vec<(Box<str>, Node)>,
    indexes: Vec<(usize, Node)>,
}

impl Node {
    fn child(&mut self, step: &Step) -> &mut Node {
        match step {
            Step::Name(name) => {
                let at = match self.names.iter().position(|(n, _)| n == name) {
                    Some(at) => at,
                    None => {
                        self.names.push((name.clone(), Node::default()));
                        self.names.len() - 1
                    }
                };
                &mut self.names[at].1
            }
            Step::Index(index) => {
                let at = match self.indexes.iter().position(|(i, _)| i == index) {
                    Some(at) => at,
                    None => {
                        self.indexes.push((*index, Node::default()));
                        self.indexes.len() - 1
                    }
                };
                &mut self.indexes[at].1
            }
        }
    }

    fn has_children(&self) -> bool {
        !self.names.is_empty() || !self.indexes.is_empty()
    }
}

/// Paths merged for one pass. Built once per source, used for every page or item.
#[derive(Clone, Debug)]
pub struct PathSet {
    root: Node,
    values: usize,
    /// `(first, again)`: a path given twice is walked to once and copied.
    again: Vec<(usize, usize)>,
}

impl PathSet {
    /// `values` are read as text; `elements`, if given, must lead to an array, whose elements are
    /// returned. Paths under the array path are not looked for (they would be inside an item).
    pub fn new<'p>(
        elements: Option<&JsonPath>,
        values: impl IntoIterator<Item = &'p JsonPath>,
    ) -> Self {
        let mut root = Node::default();
        let mut count = 0;
        let mut again = Vec::new();
        for path in values {
            let node = path
                .steps()
                .iter()
                .fold(&mut root, |node, step| node.child(step));
            match node.target {
                Some(Target::Value(first)) => again.push((first, count)),
                _ => node.target = Some(Target::Value(count)),
            }
            count += 1;
        }
        if let Some(path) = elements {
            let node = path
                .steps()
                .iter()
                .fold(&mut root, |node, step| node.child(step));
            node.target = Some(Target::Elements);
        }
        Self {
            root,
            values: count,
            again,
        }
    }

    /// Walks `text` once: sets `values` to the value at each path (in the order the paths were
    /// given; `None` where the text has no such place) and returns the elements of the array
    /// path. `values` is the caller's, to be reused from one item to the next. A syntax error
    /// anywhere (a cut-off body) is an error; so is an array path leading to a non-array.
    pub fn find<'de>(
        &self,
        text: &'de str,
        values: &mut Vec<Option<&'de RawValue>>,
    ) -> Result<Option<Vec<&'de RawValue>>, serde_json::Error> {
        values.clear();
        values.resize(self.values, None);
        let mut found = Found {
            values,
            elements: None,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        Walk {
            node: &self.root,
            found: &mut found,
        }
        .deserialize(&mut de)?;
        de.end()?;
        for &(first, again) in &self.again {
            found.values[again] = found.values[first];
        }
        Ok(found.elements)
    }
}

struct Found<'v, 'de> {
    values: &'v mut [Option<&'de RawValue>],
    elements: Option<Vec<&'de RawValue>>,
}

struct Walk<'n, 'f, 'v, 'de> {
    node: &'n Node,
    found: &'f mut Found<'v, 'de>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.node.target {
            Some(Target::Elements) => {
                self.found.elements = Some(<Vec<&'de RawValue>>::deserialize(deserializer)?);
                Ok(())
            }
            Some(Target::Value(slot)) => {
                let raw = <&'de RawValue>::deserialize(deserializer)?;
                self.found.values[slot] = Some(raw);
                if self.node.has_children() {
                    // A path that continues inside a value another path takes whole: read the
                    // value again (rare: configuration would have to name both).
                    let inner = Node {
                        target: None,
                        ..self.node.clone()
                    };
                    let mut de = serde_json::Deserializer::from_str(raw.get());
                    Walk {
                        node: &inner,
                        found: self.found,
                    }
                    .deserialize(&mut de)
                    .map_err(de::Error::custom)?;
                }
                Ok(())
            }
            None if self.node.has_children() => deserializer.deserialize_any(self),
            None => deserializer.deserialize_ignored_any(IgnoredAny).map(|_| ()),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(child) = map.next_key_seed(Member(&self.node.names))? {
            match child {
                Some(at) => map.next_value_seed(Walk {
                    node: &self.node.names[at].1,
                    found: &mut *self.found,
                })?,
                None => map.next_value::<IgnoredAny>().map(|_| ())?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let more = match self.node.indexes.iter().find(|(i, _)| *i == index) {
                Some((_, node)) => seq
                    .next_element_seed(Walk {
                        node,
                        found: &mut *self.found,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    // Scalars where a path goes deeper: the path is not there.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A member name, matched against the names a path continues with; no allocation, also for
/// names with escapes (serde_json then hands over a decoded, short-lived `&str`).
struct Member<'n>(&'n [(Box<str>, Node)]);

impl<'de> DeserializeSeed<'de> for Member<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Member<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|(n, _)| &**n == name))
    }
}

/// The text of a JSON string found by a path (`"a\"b"` is `a"b`); `None` if it is not a string.
/// Most strings hold no escapes: their text is the characters between the quotes, borrowed,
/// without a second parse (the first one validated them).
pub fn string_text(json: &str) -> Option<Cow<'_, str>> {
    let inner = json.strip_prefix('"')?.strip_suffix('"')?;
    match inner.contains('\\') {
        false => Some(Cow::Borrowed(inner)),
        true => serde_json::from_str::<String>(json).ok().map(Cow::Owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(texts: &[&str]) -> Vec<JsonPath> {
        texts.iter().map(|t| JsonPath::parse(t).unwrap()).collect()
    }

    /// The values found, and the elements, as text.
    type Texts<'t> = (Vec<Option<&'t str>>, Option<Vec<&'t str>>);

    fn find<'t>(set: &PathSet, text: &'t str) -> Result<Texts<'t>, serde_json::Error> {
        let mut values = Vec::new();
        let elements = set.find(text, &mut values)?;
        Ok((
            values.iter().map(|v| v.map(RawValue::get)).collect(),
            elements.map(|e| e.iter().map(|e| e.get()).collect()),
        ))
    }

    #[test]
    fn finds_each_path_as_written_in_one_pass() {
        let values = paths(&[
            "id",
            "actor.id",
            "$['@odata.nextLink']",
            "errors[1].details[0]",
            "missing",
            "id",
            "actor.id.deeper",
        ]);
        let set = PathSet::new(None, &values);
        let text = r#"{"id": 6180351977805840123, "actor": {"id": "a\"b", "n": [1, {"id": 2}]},
            "@odata.nextLink": "https://x/?$skiptoken=1",
            "errors": [{"details": ["no"]}, {"details": ["yes", "later"]}], "tail": null}"#;
        let (found, elements) = find(&set, text).unwrap();
        assert_eq!(
            found,
            [
                Some("6180351977805840123"),
                Some(r#""a\"b""#),
                Some(r#""https://x/?$skiptoken=1""#),
                Some(r#""yes""#),
                None,
                Some("6180351977805840123"),
                None,
            ]
        );
        assert!(elements.is_none());
    }

    #[test]
    fn elements_of_the_items_path_share_the_text() {
        let next = paths(&["metadata.links.next"]);
        let items = JsonPath::parse("data").unwrap();
        let set = PathSet::new(Some(&items), &next);
        let text = r#"{"metadata":{"links":{"next":null}},"data":[{"id":1}, {"id":2,"x":[3]}]}"#;
        let (found, elements) = find(&set, text).unwrap();
        assert_eq!(elements.unwrap(), [r#"{"id":1}"#, r#"{"id":2,"x":[3]}"#]);
        assert_eq!(found, [Some("null")]);
        // The root itself as the array: a bare array answer.
        let root = PathSet::new(Some(&JsonPath::parse("$").unwrap()), &[]);
        assert_eq!(find(&root, "[1, 2]").unwrap().1.unwrap(), ["1", "2"]);
    }

    #[test]
    fn a_place_that_is_not_there_is_none_and_a_broken_text_an_error() {
        let values = paths(&["a.b", "c[2]"]);
        let set = PathSet::new(Some(&JsonPath::parse("items").unwrap()), &values);
        let (found, elements) = find(&set, r#"{"a": "scalar", "c": [0, 1], "b": 1}"#).unwrap();
        assert_eq!(found, [None, None]);
        assert!(elements.is_none());
        // Cut off, trailing garbage, not JSON: errors (a retry may mend them).
        for broken in [
            r#"{"items": [{"id": 1}"#,
            r#"{"items": []} x"#,
            "<html>",
            "",
        ] {
            let e = find(&set, broken).unwrap_err();
            assert!(e.is_syntax() || e.is_eof(), "{broken}: {e}");
        }
        // The items path holding something else than an array is a data error, not a syntax one.
        let e = find(&set, r#"{"items": {"id": 1}}"#).unwrap_err();
        assert!(e.is_data(), "{e}");
    }

    #[test]
    fn strings_are_read_without_a_second_parse_unless_escaped() {
        assert_eq!(string_text(r#""plain""#).as_deref(), Some("plain"));
        assert!(matches!(string_text(r#""plain""#), Some(Cow::Borrowed(_))));
        assert_eq!(string_text(r#""a\"b\u00e9""#).as_deref(), Some("a\"bé"));
        assert_eq!(string_text("12"), None);
        assert_eq!(string_text("null"), None);
    }

    #[test]
    fn a_value_and_a_path_inside_it_are_both_found() {
        let values = paths(&["meta", "meta.next"]);
        let set = PathSet::new(None, &values);
        let (found, _) = find(&set, r#"{"meta": {"next": "n", "x": 1}}"#).unwrap();
        assert_eq!(found, [Some(r#"{"next": "n", "x": 1}"#), Some(r#""n""#)]);
    }
}
