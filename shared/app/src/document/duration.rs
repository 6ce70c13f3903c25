//! Durations as people write them in the document: a whole number and one unit, `"90s"`,
//! `"15m"`, `"1h"`, `"7d"`. One unit only, so that a value reads the same to everyone
//! (`"1h30m"` is `"90m"`); no `M`, which some read as months.

use std::time::Duration;

/// Shown with every duration error, so the fix is on the same line as the problem.
pub const DURATION_EXAMPLE: &str =
    r#"write a whole number and a unit (s, m, h or d), e.g. "90s", "15m" or "1h""#;

/// `text` as a duration, or `None` when it is not a number followed by `s`, `m`, `h` or `d`
/// (or is too large to mean anything).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let seconds_per_unit: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: u64 = number.parse().ok()?;
    count.checked_mul(seconds_per_unit).map(Duration::from_secs)
}

/// The way a person would write `duration`: the largest unit that divides it exactly.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 => "0s".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_and_one_unit() {
        let cases = [
            ("90s", Some(90)),
            ("15m", Some(900)),
            ("1h", Some(3600)),
            ("7d", Some(7 * 86_400)),
            ("0s", Some(0)),
            ("5", None),
            ("m", None),
            ("5 m", None),
            (" 5m", None),
            ("5M", None),
            ("1h30m", None),
            ("-5m", None),
            ("+5m", None),
            ("1.5h", None),
            ("5mins", None),
            ("", None),
            ("99999999999999999999d", None),
            ("213503982334602d", None),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                seconds.map(Duration::from_secs),
                "{text:?}"
            );
        }
    }

    #[test]
    fn formatted_with_the_largest_exact_unit() {
        for (seconds, text) in [
            (0, "0s"),
            (90, "90s"),
            (300, "5m"),
            (5400, "90m"),
            (3600, "1h"),
            (86_400, "1d"),
            (90_000, "25h"),
        ] {
            assert_eq!(format_duration(Duration::from_secs(seconds)), text);
            assert_eq!(parse_duration(text), Some(Duration::from_secs(seconds)));
        }
    }
}
