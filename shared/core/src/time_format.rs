//! How a source writes times: the bounds we put into its requests, and the event times we read
//! from its items. Names are the configuration's (`time_format = "epoch_ms"`).

use std::fmt;

use time::macros::format_description;

use crate::json_find::string_text;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// `2026-11-22T10:15:00Z`; read: any RFC 3339 text (any fraction, any offset).
    Rfc3339,
    /// `2026-11-22T10:15:00.000Z`; read as `Rfc3339`.
    Rfc3339Ms,
    /// `2026-11-22T10:15:00+00:00`; read as `Rfc3339`.
    Rfc3339Offset,
    /// `1795342500`; read: a number or numeric string, a fraction allowed.
    EpochS,
    /// `1795342500000`; read as `EpochS`, in milliseconds.
    EpochMs,
}

impl TimeFormat {
    pub const ALL: [TimeFormat; 5] = [
        Self::Rfc3339,
        Self::Rfc3339Ms,
        Self::Rfc3339Offset,
        Self::EpochS,
        Self::EpochMs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rfc3339 => "rfc3339",
            Self::Rfc3339Ms => "rfc3339_ms",
            Self::Rfc3339Offset => "rfc3339_offset",
            Self::EpochS => "epoch_s",
            Self::EpochMs => "epoch_ms",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the written form is a bare number (sent as a JSON number in a body).
    pub fn is_number(self) -> bool {
        matches!(self, Self::EpochS | Self::EpochMs)
    }

    /// The bound as the source takes it. Window bounds are whole seconds, so `epoch_s` and the
    /// forms without a fraction lose nothing.
    pub fn write(self, at: Timestamp) -> String {
        match self {
            Self::Rfc3339 => at.to_rfc3339_with(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            )),
            Self::Rfc3339Ms => at.to_rfc3339(),
            Self::Rfc3339Offset => at.to_rfc3339_with(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]+00:00"
            )),
            Self::EpochS => at.unix_seconds().to_string(),
            Self::EpochMs => at.millis().to_string(),
        }
    }

    /// Reads an item's time from its JSON text (`"…"` or a number), to the millisecond,
    /// truncated: truncation keeps an item exactly on a window's bound on its side.
    pub fn read(self, json: &str) -> Option<Timestamp> {
        let text = match json.as_bytes().first()? {
            b'"' => string_text(json)?,
            _ => std::borrow::Cow::Borrowed(json),
        };
        match self {
            Self::Rfc3339 | Self::Rfc3339Ms | Self::Rfc3339Offset => Timestamp::parse(&text).ok(),
            Self::EpochS => epoch(&text, 1000),
            Self::EpochMs => epoch(&text, 1),
        }
    }
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[-]digits[.digits]` in units of `unit_ms` milliseconds, without a float (an epoch in
/// milliseconds with a fraction would round).
fn epoch(text: &str, unit_ms: i64) -> Option<Timestamp> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let mut ms = whole.parse::<i64>().ok()?.checked_mul(unit_ms)?;
    // The fraction's milliseconds: its first digits, as many as the unit has.
    let places = match unit_ms {
        1000 => 3,
        _ => 0,
    };
    let kept: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(places)
        .collect();
    if !kept.is_empty() {
        ms = ms.checked_add(kept.parse::<i64>().ok()?)?;
    }
    Some(Timestamp::from_millis(if negative { -ms } else { ms }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_form() {
        let at = Timestamp::parse("2026-11-22T10:15:00Z").unwrap();
        let written: Vec<String> = TimeFormat::ALL.iter().map(|f| f.write(at)).collect();
        assert_eq!(
            written,
            [
                "2026-11-22T10:15:00Z",
                "2026-11-22T10:15:00.000Z",
                "2026-11-22T10:15:00+00:00",
                "1795342500",
                "1795342500000",
            ]
        );
        for format in TimeFormat::ALL {
            assert_eq!(TimeFormat::named(format.name()), Some(format));
            let json = match format.is_number() {
                true => format.write(at),
                false => format!("\"{}\"", format.write(at)),
            };
            assert_eq!(format.read(&json), Some(at), "{format}");
        }
    }

    #[test]
    fn reads_what_sources_write() {
        let ms = |t: &str| Timestamp::parse(t).unwrap();
        let cases = [
            (
                TimeFormat::Rfc3339,
                r#""2020-03-13T19:15:41.6195833Z""#,
                Some(ms("2020-03-13T19:15:41.619Z")),
            ),
            (
                TimeFormat::Rfc3339,
                r#""2021-01-13T10:13:08+00:00""#,
                Some(ms("2021-01-13T10:13:08Z")),
            ),
            (
                TimeFormat::Rfc3339,
                r#""2026-11-22T12:15:00.123+02:00""#,
                Some(ms("2026-11-22T10:15:00.123Z")),
            ),
            (TimeFormat::Rfc3339, r#""2026-11-22 10:15:00""#, None),
            (TimeFormat::Rfc3339, "1795342500", None),
            (
                TimeFormat::EpochS,
                "1795342500",
                Some(ms("2026-11-22T10:15:00Z")),
            ),
            (
                TimeFormat::EpochS,
                r#""1795342500.2509""#,
                Some(ms("2026-11-22T10:15:00.250Z")),
            ),
            (TimeFormat::EpochS, "1795342500.", None),
            (TimeFormat::EpochS, "1.7e9", None),
            (TimeFormat::EpochS, "true", None),
            (
                TimeFormat::EpochMs,
                "1795342500123",
                Some(ms("2026-11-22T10:15:00.123Z")),
            ),
            (
                TimeFormat::EpochMs,
                "1795342500123.9",
                Some(ms("2026-11-22T10:15:00.123Z")),
            ),
            (TimeFormat::EpochMs, "99999999999999999999999", None),
        ];
        for (format, json, expected) in cases {
            assert_eq!(format.read(json), expected, "{format} {json}");
        }
    }
}
