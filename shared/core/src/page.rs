//! Where a source's answers keep what the collector reads: the array of items in a page, each
//! item's id and time, and what the paging needs from the body (the next page's URL, a cursor
//! token, a total, a has-more flag). Everything else in an item stays bytes we never look at.

use std::borrow::Cow;
use std::sync::LazyLock;

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::event::{EventKey, RawEvent, one_line};
use crate::json_find::{PathSet, string_text};
use crate::json_path::JsonPath;
use crate::time::Timestamp;
use crate::time_format::TimeFormat;

/// How an item is told apart from every other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventId {
    /// One or more places holding a string or a number; their text, joined, is the id.
    Paths(Vec<JsonPath>),
    /// The item has no id: its bytes are. Two byte-identical items are one event.
    Hash,
}

/// Where the items are and how each is read (`[streams.items]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Items {
    pub path: JsonPath,
    /// A page without `path` holds no items (some APIs leave an empty array out), rather than
    /// being an error.
    pub missing_is_empty: bool,
    pub id: EventId,
    pub time: JsonPath,
    pub time_format: TimeFormat,
}

/// Places in a page the paging reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HintPaths {
    pub next: Option<JsonPath>,
    pub cursor: Option<JsonPath>,
    pub total: Option<JsonPath>,
    pub has_more: Option<JsonPath>,
}

/// What the paging read in a page; `None` where the page has no such place, or `null`, or `""`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    pub next: Option<String>,
    pub cursor: Option<String>,
    pub total: Option<u64>,
    pub has_more: Option<bool>,
}

#[derive(Debug)]
pub struct ParsedPage {
    pub events: Vec<RawEvent>,
    pub hints: Hints,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    /// Not JSON, or cut off: another try may read it whole.
    #[error("the page is not JSON (truncated or malformed body)")]
    Malformed,
    #[error("the page has no {path} (its keys: {keys})")]
    ItemsMissing { path: String, keys: String },
    #[error("the page's {path} is {found}, not an array of items")]
    ItemsNotArray { path: String, found: String },
    #[error("item {index} of the page has no {path} (its keys: {keys})")]
    Missing {
        index: usize,
        path: String,
        keys: String,
    },
    #[error("item {index} of the page has {path} {found}, which is not {wanted}")]
    Unusable {
        index: usize,
        path: String,
        found: String,
        wanted: String,
    },
    #[error("the page's {path} is {found}, which is not {wanted}")]
    BadHint {
        path: String,
        found: String,
        wanted: &'static str,
    },
}

impl PageError {
    /// Whether another try may mend it; the rest means the answer is not shaped as configured.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Malformed)
    }
}

/// The hints, in `HintPaths` order (the fourth is `has_more`).
const NEXT: usize = 0;
const CURSOR: usize = 1;
const TOTAL: usize = 2;

/// A source's page shape, compiled for one pass over each page and each item.
#[derive(Clone, Debug)]
pub struct PageShape {
    items: Items,
    hints: HintPaths,
    /// Where each hint (`NEXT`, ...) sits among the page's values, if given.
    hint_slots: [Option<usize>; 4],
    page: PathSet,
    item: PathSet,
}

/// Two shapes are one when they read the same places: the compiled sets follow from them.
impl PartialEq for PageShape {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items && self.hints == other.hints
    }
}

impl PageShape {
    pub fn new(items: Items, hints: HintPaths) -> Self {
        let given = [&hints.next, &hints.cursor, &hints.total, &hints.has_more];
        let mut hint_slots = [None; 4];
        let mut slot = 0;
        for (hint, path) in given.iter().enumerate() {
            if path.is_some() {
                hint_slots[hint] = Some(slot);
                slot += 1;
            }
        }
        let page = PathSet::new(Some(&items.path), given.into_iter().flatten());
        let item_paths: Vec<&JsonPath> = match &items.id {
            EventId::Paths(paths) => paths.iter().chain([&items.time]).collect(),
            EventId::Hash => vec![&items.time],
        };
        let item = PathSet::new(None, item_paths);
        Self {
            items,
            hints,
            hint_slots,
            page,
            item,
        }
    }

    /// Webex's list answers: `{"items": [...]}`, each with a string `id` and `created`; the
    /// paging is in the `Link` header.
    pub fn webex() -> &'static Self {
        static WEBEX: LazyLock<PageShape> = LazyLock::new(|| {
            let path = |p: &str| JsonPath::parse(p).expect("a valid path");
            PageShape::new(
                Items {
                    path: path("items"),
                    missing_is_empty: false,
                    id: EventId::Paths(vec![path("id")]),
                    time: path("created"),
                    time_format: TimeFormat::Rfc3339,
                },
                HintPaths::default(),
            )
        });
        &WEBEX
    }

    pub fn hint_paths(&self) -> &HintPaths {
        &self.hints
    }

    pub fn items(&self) -> &Items {
        &self.items
    }

    /// Splits a page into its events, sharing the body's bytes, and reads its hints.
    pub fn parse(&self, body: &Bytes) -> Result<ParsedPage, PageError> {
        let text = std::str::from_utf8(body).map_err(|_| PageError::Malformed)?;
        let mut values = Vec::new();
        let elements = match self.page.find(text, &mut values) {
            Ok(elements) => elements,
            Err(e) if e.is_data() => {
                return Err(PageError::ItemsNotArray {
                    path: self.items.path.to_string(),
                    found: kind_of_value_at(text, &self.items.path),
                });
            }
            Err(_) => return Err(PageError::Malformed),
        };
        let elements = match elements {
            Some(elements) => elements,
            None if self.items.missing_is_empty => Vec::new(),
            None => {
                return Err(PageError::ItemsMissing {
                    path: self.items.path.to_string(),
                    keys: keys_of(text),
                });
            }
        };
        let hints = self.hints(&values)?;
        let mut item_values = Vec::new();
        let events = elements
            .into_iter()
            .enumerate()
            .map(|(index, raw)| {
                let json = one_line(body, raw.get());
                let (key, created) =
                    self.read_item(raw.get(), members(&json), index, &mut item_values)?;
                Ok(RawEvent { json, key, created })
            })
            .collect::<Result<_, PageError>>()?;
        Ok(ParsedPage { events, hints })
    }

    /// Reads one NDJSON line written earlier back into its key and time. `fields_key` is the
    /// member our custom fields open each line with: not part of the event, so not of its hash.
    pub fn parse_line(
        &self,
        line: &[u8],
        fields_key: Option<&str>,
    ) -> Result<(EventKey, Timestamp), PageError> {
        let text = std::str::from_utf8(line).map_err(|_| PageError::Malformed)?;
        let hashed = match (&self.items.id, fields_key) {
            (EventId::Hash, Some(key)) => members_after(text, key)?.as_bytes(),
            _ => members(line),
        };
        let mut values = Vec::new();
        self.read_item(text, hashed, 0, &mut values)
    }

    /// `item` is the item's text; `hashed`, what its hash is over when it has no id.
    fn read_item<'t>(
        &self,
        item: &'t str,
        hashed: &[u8],
        index: usize,
        values: &mut Vec<Option<&'t RawValue>>,
    ) -> Result<(EventKey, Timestamp), PageError> {
        self.item
            .find(item, values)
            .map_err(|_| PageError::Malformed)?;
        let missing = |path: &JsonPath| PageError::Missing {
            index,
            path: path.to_string(),
            keys: keys_of(item),
        };
        let time_at = values.len() - 1;
        let time = values[time_at].ok_or_else(|| missing(&self.items.time))?;
        let created =
            self.items
                .time_format
                .read(time.get())
                .ok_or_else(|| PageError::Unusable {
                    index,
                    path: self.items.time.to_string(),
                    found: shown(time.get()),
                    wanted: self.items.time_format.to_string(),
                })?;
        let key = match &self.items.id {
            EventId::Hash => EventKey::of_bytes(hashed),
            EventId::Paths(paths) => EventKey::of(&id_of(item, paths, values, index)?),
        };
        Ok((key, created))
    }

    /// A line written earlier, as `verify` names it: its key, its time, and its id as text
    /// (the parts of a composite id joined by `/`; an item without an id, its key in hex).
    pub fn identify(
        &self,
        line: &[u8],
        fields_key: Option<&str>,
    ) -> Result<(EventKey, Timestamp, String), PageError> {
        let (key, created) = self.parse_line(line, fields_key)?;
        let EventId::Paths(paths) = &self.items.id else {
            return Ok((key, created, format!("{:016x}", key.0)));
        };
        let text = std::str::from_utf8(line).map_err(|_| PageError::Malformed)?;
        let mut values = Vec::new();
        self.item
            .find(text, &mut values)
            .map_err(|_| PageError::Malformed)?;
        let id = id_of(text, paths, &values, 0)?.replace('\u{1f}', "/");
        Ok((key, created, id))
    }

    fn hints(&self, values: &[Option<&RawValue>]) -> Result<Hints, PageError> {
        let paths = [
            &self.hints.next,
            &self.hints.cursor,
            &self.hints.total,
            &self.hints.has_more,
        ];
        let mut hints = Hints::default();
        for (hint, path) in paths.into_iter().enumerate() {
            let (Some(path), Some(slot)) = (path, self.hint_slots[hint]) else {
                continue;
            };
            let Some(raw) = values[slot].filter(|raw| !matches!(raw.get(), "null" | "\"\"")) else {
                continue;
            };
            let bad = |wanted| PageError::BadHint {
                path: path.to_string(),
                found: shown(raw.get()),
                wanted,
            };
            match hint {
                NEXT => {
                    let url =
                        serde_json::from_str::<String>(raw.get()).map_err(|_| bad("a URL"))?;
                    hints.next = Some(url);
                }
                CURSOR => {
                    let token = id_text(raw.get()).ok_or_else(|| bad("a token"))?;
                    hints.cursor = Some(token.into_owned());
                }
                TOTAL => {
                    let total = raw.get().parse::<u64>().map_err(|_| bad("a count"))?;
                    hints.total = Some(total);
                }
                _ => {
                    let more = serde_json::from_str::<bool>(raw.get())
                        .map_err(|_| bad("true or false"))?;
                    hints.has_more = Some(more);
                }
            }
        }
        Ok(hints)
    }
}

/// A string's decoded text, or a number's digits exactly as written (never through a float).
fn id_text(json: &str) -> Option<Cow<'_, str>> {
    match json.as_bytes().first()? {
        b'"' => string_text(json),
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(json)),
        _ => None,
    }
}

/// A value for an error message: its JSON type, and a scalar's first characters.
fn shown(json: &str) -> String {
    match json.as_bytes().first() {
        Some(b'{') => "an object".to_string(),
        Some(b'[') => "an array".to_string(),
        Some(b't' | b'f') => format!("the boolean {json}"),
        Some(b'n') => "null".to_string(),
        _ => {
            let short: String = json.chars().take(40).collect();
            match short.len() < json.len() {
                true => format!("{short}…"),
                false => short,
            }
        }
    }
}

/// The top-level member names of an object, for an error naming what a page or item does
/// hold: names only, never values (they may be anything).
fn keys_of(json: &str) -> String {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let map = <std::collections::BTreeMap<String, serde::de::IgnoredAny>>::deserialize(d)?;
            Ok(Keys(map.into_keys().collect()))
        }
    }
    match serde_json::from_str::<Keys>(json) {
        Ok(Keys(keys)) if keys.is_empty() => "none".to_string(),
        Ok(Keys(keys)) => {
            let mut shown: Vec<String> = keys.iter().take(12).cloned().collect();
            if keys.len() > 12 {
                shown.push(format!("and {} more", keys.len() - 12));
            }
            shown.join(", ")
        }
        Err(_) => "it is not an object".to_string(),
    }
}

/// What the items path leads to, when it is not an array.
fn kind_of_value_at(text: &str, path: &JsonPath) -> String {
    let mut values = Vec::new();
    match PathSet::new(None, [path]).find(text, &mut values) {
        Ok(_) => values
            .first()
            .copied()
            .flatten()
            .map_or("absent".to_string(), |raw| shown(raw.get())),
        Err(_) => "unreadable".to_string(),
    }
}

/// An item's bytes for its hash: an object's members (after `{` and blanks), or the whole of
/// anything else. Written lines drop the blanks before `{` and may put custom fields first;
/// leaving both out makes the hash of a line read back equal the hash of the item read.
fn members(json: &[u8]) -> &[u8] {
    let start = json
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(json.len());
    match json.get(start) {
        Some(b'{') => trim_start(&json[start + 1..]),
        _ => json,
    }
}

/// A line's members after the custom fields member `key` that opens it (`{"KEY":{…},` ...).
fn members_after<'t>(line: &'t str, key: &str) -> Result<&'t str, PageError> {
    let opening = format!("{{{}:", serde_json::to_string(key).unwrap_or_default());
    let Some(after_key) = line.strip_prefix(opening.as_str()) else {
        return Ok(std::str::from_utf8(members(line.as_bytes())).unwrap_or(line));
    };
    let mut de = serde_json::Deserializer::from_str(after_key);
    let fields = <&RawValue as serde::Deserialize>::deserialize(&mut de)
        .map_err(|_| PageError::Malformed)?;
    let end = fields.get().as_ptr() as usize - after_key.as_ptr() as usize + fields.get().len();
    let rest = after_key[end..].trim_start();
    Ok(rest.strip_prefix(',').unwrap_or(rest).trim_start())
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// The id an item's `paths` name: one part as it is, several joined with the unit separator,
/// which ids do not hold.
fn id_of<'t>(
    item: &str,
    paths: &[JsonPath],
    values: &[Option<&'t RawValue>],
    index: usize,
) -> Result<Cow<'t, str>, PageError> {
    let mut id: Cow<'t, str> = Cow::Borrowed("");
    for (at, path) in paths.iter().enumerate() {
        let raw = values[at].ok_or_else(|| PageError::Missing {
            index,
            path: path.to_string(),
            keys: keys_of(item),
        })?;
        let part = id_text(raw.get()).ok_or_else(|| PageError::Unusable {
            index,
            path: path.to_string(),
            found: shown(raw.get()),
            wanted: "a string or a number".to_string(),
        })?;
        id = match at {
            0 => part,
            _ => Cow::Owned(format!("{id}\u{1f}{part}")),
        };
    }
    Ok(id)
}

#[cfg(test)]
mod tests;
