//! UTC instants with millisecond precision, and the few text forms the contracts use.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, thiserror::Error)]
#[error("not an RFC 3339 timestamp: {0:?}")]
pub struct TimestampError(String);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(since_epoch.as_millis() as i64)
    }

    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimestampError(text.chars().take(64).collect()))?;
        Ok(Self((parsed.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// Saturating: a duration from an answer (`expires_in: 18446744073709551615`) ends at the
    /// end of time, never wraps round into the past.
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(whole_millis(d)))
    }

    pub fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(whole_millis(d)))
    }

    /// Time from `self` to `later`, zero when `later` is earlier.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0).max(0) as u64)
    }

    /// Rounded down to a whole second: window bounds are whole seconds so that the compact
    /// form in object keys names them exactly.
    pub fn floor_second(self) -> Self {
        Self(self.0.div_euclid(1000) * 1000)
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(UtcOffset::UTC)
    }

    /// `2026-11-22T10:15:00.000Z`, the form Webex takes and returns.
    pub fn to_rfc3339(self) -> String {
        self.to_rfc3339_with(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
    }

    /// In UTC, in a form of RFC 3339 (`time_format`'s other forms).
    pub(crate) fn to_rfc3339_with(
        self,
        format: &[time::format_description::BorrowedFormatItem<'_>],
    ) -> String {
        self.datetime().format(format).unwrap_or_default()
    }

    /// `20261122T101500Z`, the form in object keys.
    pub fn to_compact(self) -> String {
        let format = format_description!("[year][month][day]T[hour][minute][second]Z");
        self.datetime().format(&format).unwrap_or_default()
    }

    /// The time [`Timestamp::to_compact`] wrote; `None` for anything else.
    pub fn parse_compact(text: &str) -> Option<Self> {
        let format = format_description!("[year][month][day]T[hour][minute][second]Z");
        let parsed = time::PrimitiveDateTime::parse(text, &format).ok()?;
        Some(Self(parsed.assume_utc().unix_timestamp() * 1000))
    }

    /// (`2026-11-22`, `10`): the partition values of an object key.
    pub fn date_and_hour(self) -> (String, String) {
        let dt = self.datetime();
        let date = format!("{:04}-{:02}-{:02}", dt.year(), dt.month() as u8, dt.day());
        (date, format!("{:02}", dt.hour()))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Timestamps travel as RFC 3339 text in JSON (the secret) and DynamoDB.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `d` in milliseconds, at most `i64::MAX` (`as` would wrap a longer one negative).
fn whole_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_duration_saturates_instead_of_wrapping_into_the_past() {
        let now = Timestamp::from_millis(1_767_225_600_000);
        let forever = Duration::from_secs(u64::MAX);
        assert_eq!(now.plus(forever), Timestamp::from_millis(i64::MAX));
        assert_eq!(now.minus(forever).millis(), 1_767_225_600_000 - i64::MAX);
        assert_eq!(
            now.plus(Duration::from_secs(3600)).millis(),
            1_767_229_200_000
        );
    }

    #[test]
    fn parses_and_formats_webex_timestamps() {
        let cases = [
            (
                "2019-01-02T16:58:36.845Z",
                "2019-01-02T16:58:36.845Z",
                "20190102T165836Z",
            ),
            (
                "2026-11-22T10:15:00Z",
                "2026-11-22T10:15:00.000Z",
                "20261122T101500Z",
            ),
            (
                "2026-11-22T11:15:00.5+01:00",
                "2026-11-22T10:15:00.500Z",
                "20261122T101500Z",
            ),
        ];
        for (input, rfc, compact) in cases {
            let t = Timestamp::parse(input).unwrap();
            assert_eq!(t.to_rfc3339(), rfc, "{input}");
            assert_eq!(t.to_compact(), compact, "{input}");
            assert_eq!(
                Timestamp::parse_compact(compact),
                Some(t.floor_second()),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-22 10:15:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_and_hour_are_utc() {
        let t = Timestamp::parse("2026-11-22T23:59:59.999-02:00").unwrap();
        assert_eq!(
            t.date_and_hour(),
            ("2026-11-23".to_string(), "01".to_string())
        );
    }

    #[test]
    fn floor_second_and_until() {
        let t = Timestamp::from_millis(1_500);
        assert_eq!(t.floor_second(), Timestamp::from_millis(1_000));
        assert_eq!(
            t.until(Timestamp::from_millis(2_000)),
            Duration::from_millis(500)
        );
        assert_eq!(t.until(Timestamp::from_millis(0)), Duration::ZERO);
    }
}
