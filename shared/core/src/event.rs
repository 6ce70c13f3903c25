//! Webex events as raw bytes. Each event is kept exactly as Webex sent it; only `id` and
//! `created` are read, because the cursor needs them.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::time::Timestamp;

/// A stable 64-bit digest of an event id. Stable across processes and releases (it is stored
/// in the cursor), so it is FNV-1a with a final avalanche, not the standard library's hasher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(pub u64);

impl EventKey {
    pub fn of(id: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in id.as_bytes() {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // splitmix64 finaliser: FNV alone clusters on ids that differ only at the end.
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        Self(h ^ (h >> 31))
    }
}

#[derive(Clone, Debug)]
pub struct RawEvent {
    /// The event's JSON exactly as received, without a trailing newline.
    pub json: Bytes,
    pub key: EventKey,
    pub created: Timestamp,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    #[error("the page is not a JSON object with an `items` array (truncated or malformed body)")]
    Malformed,
    #[error("event {index} of the page has no usable `{field}`")]
    MissingField { index: usize, field: &'static str },
}

#[derive(Deserialize)]
struct PageBody<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    created: Option<Cow<'a, str>>,
}

/// Splits a Webex list response (`{"items": [...]}`) into its events, sharing the body's bytes.
pub fn parse_page(body: &Bytes) -> Result<Vec<RawEvent>, PageError> {
    let text = std::str::from_utf8(body).map_err(|_| PageError::Malformed)?;
    let page: PageBody<'_> = serde_json::from_str(text).map_err(|_| PageError::Malformed)?;
    page.items
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let (key, created) = read_head(raw.get(), index)?;
            Ok(RawEvent {
                json: one_line(body, raw.get()),
                key,
                created,
            })
        })
        .collect()
}

/// Reads one NDJSON line back (used when an object written earlier must be accounted for).
pub fn parse_line(line: &[u8]) -> Result<(EventKey, Timestamp), PageError> {
    let text = std::str::from_utf8(line).map_err(|_| PageError::Malformed)?;
    read_head(text, 0)
}

fn read_head(json: &str, index: usize) -> Result<(EventKey, Timestamp), PageError> {
    let head: EventHead<'_> = serde_json::from_str(json).map_err(|_| PageError::Malformed)?;
    let id = head
        .id
        .ok_or(PageError::MissingField { index, field: "id" })?;
    let created =
        head.created
            .and_then(|c| Timestamp::parse(&c).ok())
            .ok_or(PageError::MissingField {
                index,
                field: "created",
            })?;
    Ok((EventKey::of(&id), created))
}

/// NDJSON needs each event on one line. Raw newlines can only be insignificant whitespace in
/// JSON (inside strings they must be escaped), so removing them keeps the event intact; the
/// common, compact case shares the body's bytes without copying.
fn one_line(body: &Bytes, json: &str) -> Bytes {
    if json.bytes().any(|b| b == b'\n' || b == b'\r') {
        Bytes::from(
            json.bytes()
                .filter(|b| *b != b'\n' && *b != b'\r')
                .collect::<Vec<u8>>(),
        )
    } else {
        body.slice_ref(json.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_event_byte_for_byte() {
        let body = Bytes::from_static(
            br#"{"items":[{"id":"a","created":"2026-11-22T10:00:00.000Z","data":{"x": 1}},{"created":"2026-11-22T10:00:01.000Z","id":"b"}]}"#,
        );
        let events = parse_page(&body).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            &events[0].json[..],
            br#"{"id":"a","created":"2026-11-22T10:00:00.000Z","data":{"x": 1}}"#
        );
        assert_eq!(
            &events[1].json[..],
            br#"{"created":"2026-11-22T10:00:01.000Z","id":"b"}"#
        );
        assert_eq!(events[0].key, EventKey::of("a"));
        assert_eq!(
            events[1].created,
            Timestamp::parse("2026-11-22T10:00:01Z").unwrap()
        );
    }

    #[test]
    fn pretty_printed_events_become_one_line() {
        let body = Bytes::from_static(
            b"{\"items\":[{\n  \"id\": \"a\",\r\n  \"created\": \"2026-11-22T10:00:00Z\"\n}]}",
        );
        let events = parse_page(&body).unwrap();
        assert_eq!(
            &events[0].json[..],
            b"{  \"id\": \"a\",  \"created\": \"2026-11-22T10:00:00Z\"}"
        );
    }

    #[test]
    fn rejects_truncated_and_incomplete_pages() {
        let cases: [(&[u8], PageError); 5] = [
            (
                br#"{"items":[{"id":"a","created":"2026-11-22T10:00:00Z"},{"id":"b","#,
                PageError::Malformed,
            ),
            (b"", PageError::Malformed),
            (br#"{"message":"oops"}"#, PageError::Malformed),
            (
                br#"{"items":[{"created":"2026-11-22T10:00:00Z"}]}"#,
                PageError::MissingField {
                    index: 0,
                    field: "id",
                },
            ),
            (
                br#"{"items":[{"id":"a","created":"soon"}]}"#,
                PageError::MissingField {
                    index: 0,
                    field: "created",
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                parse_page(&Bytes::copy_from_slice(body)).unwrap_err(),
                expected
            );
        }
    }

    #[test]
    fn event_keys_are_stable_and_distinct() {
        // Pinned: the cursor stores these, so a change here would re-emit recent events.
        assert_eq!(EventKey::of("a"), EventKey(0x02c0_bdbf_4814_20f8));
        assert_ne!(EventKey::of("event-1"), EventKey::of("event-2"));
        let keys: std::collections::HashSet<_> = (0..100_000)
            .map(|i| EventKey::of(&format!("id-{i}")))
            .collect();
        assert_eq!(keys.len(), 100_000);
    }
}
