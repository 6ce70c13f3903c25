//! Pages, `Link` headers and the opaque cursor of the cursor-paged endpoints.
//! See <https://developer.webex.com/docs/basics#pagination>.

use crate::encoding::{base64, unbase64};

/// The slice of `items` a page holds, and the offset of the next page when more remain.
pub(crate) fn page<T>(items: &[T], offset: usize, max: usize) -> (&[T], Option<usize>) {
    let start = offset.min(items.len());
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then_some(end);
    (&items[start..end], next)
}

/// Where a cursor-paged query continues. `as_of_ms` pins visibility to the first page's "now",
/// so the result set cannot shift under a client that follows `Link` to the end: the cursor
/// names a snapshot, as a real cursor into a result set does. (Offset paging has no such
/// snapshot, which is exactly its hazard.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub offset: usize,
    pub as_of_ms: i64,
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        base64(format!("sim-cursor:{}:{}", self.offset, self.as_of_ms).as_bytes())
    }

    pub(crate) fn decode(text: &str) -> Option<Cursor> {
        let bytes = unbase64(text)?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let mut parts = text.strip_prefix("sim-cursor:")?.split(':');
        let offset = parts.next()?.parse().ok()?;
        let as_of_ms = parts.next()?.parse().ok()?;
        parts
            .next()
            .is_none()
            .then_some(Cursor { offset, as_of_ms })
    }
}

/// The raw query with the `replace` parameter removed (in any spelling the client used) and
/// `replace=value` appended, so the next page repeats the client's own parameters verbatim.
pub(crate) fn next_query(raw_query: &str, replace: &str, value: &str) -> String {
    let mut kept: Vec<&str> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| pair.split('=').next() != Some(replace))
        .collect();
    let appended = format!("{replace}={value}");
    kept.push(&appended);
    kept.join("&")
}

/// `Link: <url>; rel="next"` as Webex sends it.
pub(crate) fn link_next(base_url: &str, path: &str, query: &str) -> String {
    format!("<{base_url}{path}?{query}>; rel=\"next\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_everything_exactly_once() {
        let items: Vec<u32> = (0..10).collect();
        let cases: [(usize, usize, &[u32], Option<usize>); 6] = [
            (0, 4, &[0, 1, 2, 3], Some(4)),
            (4, 4, &[4, 5, 6, 7], Some(8)),
            (8, 4, &[8, 9], None),
            (6, 4, &[6, 7, 8, 9], None),
            (10, 4, &[], None),
            (99, 4, &[], None),
        ];
        for (offset, max, expected, next) in cases {
            assert_eq!(
                page(&items, offset, max),
                (expected, next),
                "offset {offset}"
            );
        }
        assert_eq!(page(&items, 0, usize::MAX), (&items[..], None));
    }

    #[test]
    fn cursor_round_trips_and_rejects_forgeries() {
        let cursor = Cursor {
            offset: 1_200,
            as_of_ms: 1_795_000_000_000,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert!(!cursor.encode().contains("1200"), "cursor should be opaque");
        for bad in [
            "",
            "MTIwMA",
            "not base64!",
            &base64(b"sim-cursor:1:2:3"),
            &base64(b"sim-cursor:-1:2"),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn next_query_replaces_only_the_paging_parameter() {
        assert_eq!(
            next_query("orgId=o&from=a&max=2", "offset", "2"),
            "orgId=o&from=a&max=2&offset=2"
        );
        assert_eq!(
            next_query(
                "offset=2&orgId=o&eventCategories=LOGINS%2CLOGOUT&offset=3",
                "offset",
                "4"
            ),
            "orgId=o&eventCategories=LOGINS%2CLOGOUT&offset=4"
        );
        assert_eq!(next_query("", "cursor", "abc"), "cursor=abc");
        assert_eq!(next_query("offsetx=1", "offset", "5"), "offsetx=1&offset=5");
    }

    #[test]
    fn link_has_the_webex_shape() {
        assert_eq!(
            link_next("http://127.0.0.1:1/v1", "/events", "max=1&cursor=x"),
            "<http://127.0.0.1:1/v1/events?max=1&cursor=x>; rel=\"next\""
        );
    }
}
