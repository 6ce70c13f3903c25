//! The time formats of the other APIs, out and in. Events keep their time in Unix nanoseconds
//! so that Graph's seven fraction digits and Secure Endpoint's `timestamp_nanoseconds` are real
//! digits, and filters compare at the precision the API shows.

use std::time::{Duration, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::timefmt::format_ms;

pub(crate) const NS_PER_MS: i64 = 1_000_000;
pub(crate) const NS_PER_S: i64 = 1_000_000_000;

/// `YYYY-MM-DDTHH:MM:SS` and `.mmm` of `ms`, from Webex's formatter (which never fails).
fn parts(ms: i64) -> (String, String) {
    let text = format_ms(ms);
    // `format_ms` always ends in `.mmmZ`.
    let dot = text.len().saturating_sub(5);
    let fraction = text.get(dot + 1..dot + 4).unwrap_or("000").to_owned();
    (text.get(..dot).unwrap_or_default().to_owned(), fraction)
}

/// Graph: seven fraction digits and `Z`, `2020-03-13T19:15:41.6195833Z`.
pub(crate) fn graph_time(ns: i64) -> String {
    let (whole, millis) = parts(ns.div_euclid(NS_PER_MS));
    let ticks = ns.rem_euclid(NS_PER_MS) / 100;
    format!("{whole}.{millis}{ticks:04}Z")
}

/// Secure Endpoint's `date`: whole seconds and a numeric offset, `2021-01-13T10:13:08+00:00`.
pub(crate) fn offset_seconds_time(ns: i64) -> String {
    format!("{}+00:00", parts(ns.div_euclid(NS_PER_MS)).0)
}

/// Milliseconds and `Z`, `2026-11-22T10:15:00.123Z` (General A).
pub(crate) fn millis_time(ns: i64) -> String {
    format_ms(ns.div_euclid(NS_PER_MS))
}

/// Local time at `offset_minutes` east of UTC with milliseconds, `2026-11-22T12:15:00.123+02:00`
/// (General C).
pub(crate) fn local_time(ns: i64, offset_minutes: i32) -> String {
    let local_ms = ns
        .div_euclid(NS_PER_MS)
        .saturating_add(i64::from(offset_minutes) * 60_000);
    let (whole, millis) = parts(local_ms);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let minutes = offset_minutes.unsigned_abs();
    format!(
        "{whole}.{millis}{sign}{:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

/// An RFC 3339 date-time (any offset, up to nine fraction digits) to Unix nanoseconds.
pub(crate) fn parse_ns(text: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos()).ok()
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) for the sim-clock instant `ms`.
pub(crate) fn http_date(ms: i64) -> String {
    let since_epoch = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    httpdate::fmt_http_date(UNIX_EPOCH + since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_584_126_941_619_583_300; // 2020-03-13T19:15:41.6195833Z

    #[test]
    fn formats_as_each_api_writes_times() {
        assert_eq!(graph_time(AT), "2020-03-13T19:15:41.6195833Z");
        assert_eq!(
            graph_time(AT - AT % NS_PER_S),
            "2020-03-13T19:15:41.0000000Z"
        );
        assert_eq!(offset_seconds_time(AT), "2020-03-13T19:15:41+00:00");
        assert_eq!(millis_time(AT), "2020-03-13T19:15:41.619Z");
        assert_eq!(local_time(AT, 120), "2020-03-13T21:15:41.619+02:00");
        assert_eq!(local_time(AT, -330), "2020-03-13T13:45:41.619-05:30");
        assert_eq!(local_time(AT, 0), "2020-03-13T19:15:41.619+00:00");
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn parses_what_it_writes_at_full_precision() {
        assert_eq!(parse_ns(&graph_time(AT)), Some(AT));
        assert_eq!(parse_ns(&offset_seconds_time(AT)), Some(AT - AT % NS_PER_S));
        assert_eq!(parse_ns(&local_time(AT, 120)), Some(AT - AT % NS_PER_MS));
        for bad in ["", "2020-03-13", "2020-03-13T19:15:41 00:00", "1584126941"] {
            assert_eq!(parse_ns(bad), None, "{bad}");
        }
    }
}
