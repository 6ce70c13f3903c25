//! Webex timestamps: `2026-11-22T10:15:00.000Z` out, RFC 3339 in.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MS_PER_DAY: i64 = 86_400_000;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the shape Webex uses for `created`. Written by hand so that it
/// cannot fail for any millisecond value (the `time` crate refuses years beyond 9999).
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1_000 % 60, in_day % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// Parses an RFC 3339 timestamp (any offset, fraction optional) to Unix milliseconds, rounding
/// sub-millisecond digits down.
pub fn parse_ms(text: &str) -> Result<i64, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        format!("'{text}' is not an ISO 8601 date-time like 2026-11-22T10:15:00.000Z ({e})")
    })?;
    let ms = parsed.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).map_err(|_| format!("'{text}' is out of range"))
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_webex() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_795_000_000_000, "2026-11-18T11:06:40.000Z"),
            (1_546_448_316_845, "2019-01-02T16:58:36.845Z"),
            (951_782_400_001, "2000-02-29T00:00:00.001Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ];
        for (ms, text) in cases {
            assert_eq!(format_ms(ms), text, "{ms}");
        }
    }

    #[test]
    fn format_agrees_with_the_time_crate_over_many_days() {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let mut ms = -5_000_000_000_000_i64;
        while ms < 5_000_000_000_000 {
            let expected = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap()
                .format(&format)
                .unwrap();
            assert_eq!(format_ms(ms), expected);
            ms += 7_777_777_777;
        }
    }

    #[test]
    fn parses_and_round_trips() {
        assert_eq!(parse_ms("2019-01-02T16:58:36.845Z"), Ok(1_546_448_316_845));
        assert_eq!(
            parse_ms("2019-01-02T17:58:36.845+01:00"),
            Ok(1_546_448_316_845)
        );
        assert_eq!(parse_ms("2019-01-02T16:58:36Z"), Ok(1_546_448_316_000));
        assert_eq!(parse_ms("2019-01-02T16:58:36.8459Z"), Ok(1_546_448_316_845));
        assert_eq!(
            parse_ms(&format_ms(1_795_000_123_456)),
            Ok(1_795_000_123_456)
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for text in [
            "",
            "yesterday",
            "2019-01-02",
            "2019-13-02T16:58:36Z",
            "1546448316845",
        ] {
            assert!(parse_ms(text).is_err(), "{text}");
        }
    }
}
