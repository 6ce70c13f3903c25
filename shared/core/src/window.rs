//! Which time range a run collects next. Pure: the cursor, the clock and the policy in, a
//! window out.

use std::time::Duration;

use crate::time::Timestamp;

/// The span of time a window marks collected: `[from, to)`. The query reaches back `overlap`
/// before `from` to catch late events; the object key names `from` and `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPolicy {
    /// How far behind now a window ends, so that most late events have arrived.
    pub settle_lag: Duration,
    /// How far before a window the query starts, to catch events later than the settle lag.
    pub overlap: Duration,
    pub max_window: Duration,
    pub initial_lookback: Duration,
}

/// Windows shorter than this are not split further.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);

impl Window {
    pub fn query_from(&self, reach_back: Duration) -> Timestamp {
        self.from.minus(reach_back)
    }

    pub fn length(&self) -> Duration {
        self.from.until(self.to)
    }

    /// The first half, for a window that could not finish before the deadline; `None` when it
    /// is already as small as windows get.
    pub fn first_half(&self) -> Option<Window> {
        let half = self.length() / 2;
        if half < MIN_WINDOW {
            return None;
        }
        Some(Window {
            from: self.from,
            to: self.from.plus(half).floor_second(),
        })
    }
}

impl WindowPolicy {
    /// The next window after `committed_until` (or the first one), at most `limit` long (see
    /// [`crate::cursor::Cursor::window_limit`]), or `None` when there is nothing settled to
    /// collect yet.
    pub fn next_window(
        &self,
        committed_until: Option<Timestamp>,
        limit: Option<Duration>,
        now: Timestamp,
    ) -> Option<Window> {
        let from =
            committed_until.unwrap_or_else(|| now.minus(self.initial_lookback).floor_second());
        let settled = now.minus(self.settle_lag).floor_second();
        let length = limit.map_or(self.max_window, |l| l.clamp(MIN_WINDOW, self.max_window));
        let to = from.plus(length).min(settled);
        (from.until(to) >= MIN_WINDOW).then_some(Window { from, to })
    }

    /// How far before `window` its query starts. The overlap re-reads the end of the window
    /// before, for events Webex made visible after that window was asked for. When the window
    /// before was asked for at `previous_asked`, so long after `window.from` that anything of
    /// its range arriving later is later than the settle lag and the overlap together (the
    /// lateness the re-read exists for), the re-read would only fetch duplicates: a backfill
    /// skips it.
    pub fn reach_back(&self, window: &Window, previous_asked: Option<Timestamp>) -> Duration {
        match previous_asked {
            Some(asked) if asked >= window.from.plus(self.settle_lag + self.overlap) => {
                Duration::ZERO
            }
            _ => self.overlap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn policy() -> WindowPolicy {
        WindowPolicy {
            settle_lag: 5 * MIN,
            overlap: 15 * MIN,
            max_window: 60 * MIN,
            initial_lookback: 24 * 60 * MIN,
        }
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn chooses_windows() {
        let now = t("2026-11-22T12:00:00.750Z");
        let cases = [
            (
                "first run looks back",
                None,
                Some(("2026-11-21T12:00:00Z", "2026-11-21T13:00:00Z")),
            ),
            (
                "behind: a full window",
                Some("2026-11-22T08:00:00Z"),
                Some(("2026-11-22T08:00:00Z", "2026-11-22T09:00:00Z")),
            ),
            (
                "nearly caught up: ends at the settle lag",
                Some("2026-11-22T11:30:00Z"),
                Some(("2026-11-22T11:30:00Z", "2026-11-22T11:55:00Z")),
            ),
            ("caught up", Some("2026-11-22T11:55:00Z"), None),
            (
                "cursor ahead of the settled time",
                Some("2026-11-22T11:59:00Z"),
                None,
            ),
        ];
        for (name, committed, expected) in cases {
            let got = policy().next_window(committed.map(t), None, now);
            let expected = expected.map(|(f, to)| Window {
                from: t(f),
                to: t(to),
            });
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_window_limit_shortens_windows_but_not_below_a_second() {
        let now = t("2026-11-22T12:00:00Z");
        let from = Some(t("2026-11-22T08:00:00Z"));
        let length = |limit| {
            let w = policy().next_window(from, limit, now).unwrap();
            w.length()
        };
        assert_eq!(
            length(Some(Duration::from_secs(14))),
            Duration::from_secs(14)
        );
        assert_eq!(length(Some(Duration::ZERO)), MIN_WINDOW);
        assert_eq!(length(Some(10 * 60 * MIN)), 60 * MIN);
    }

    #[test]
    fn halves_down_to_the_minimum() {
        let w = Window {
            from: t("2026-11-22T10:00:00Z"),
            to: t("2026-11-22T11:00:00Z"),
        };
        assert_eq!(
            w.first_half(),
            Some(Window {
                from: w.from,
                to: t("2026-11-22T10:30:00Z")
            })
        );
        let odd = Window {
            from: w.from,
            to: t("2026-11-22T10:00:03Z"),
        };
        assert_eq!(odd.first_half().unwrap().to, t("2026-11-22T10:00:01Z"));
        let tiny = Window {
            from: w.from,
            to: t("2026-11-22T10:00:01Z"),
        };
        assert_eq!(tiny.first_half(), None);
    }

    #[test]
    fn a_backfill_skips_the_re_read_of_windows_asked_for_long_after_they_ended() {
        let w = Window {
            from: t("2026-11-22T10:00:00Z"),
            to: t("2026-11-22T11:00:00Z"),
        };
        let cases = [
            (
                "the window before was asked for in an earlier run",
                None,
                15 * MIN,
            ),
            (
                "asked for before its late events could arrive",
                Some("2026-11-22T10:19:59Z"),
                15 * MIN,
            ),
            (
                "asked for when later arrivals are past settle lag and overlap",
                Some("2026-11-22T10:20:00Z"),
                Duration::ZERO,
            ),
            (
                "a backfill days later",
                Some("2026-11-25T00:00:00Z"),
                Duration::ZERO,
            ),
        ];
        for (name, asked, expected) in cases {
            assert_eq!(policy().reach_back(&w, asked.map(t)), expected, "{name}");
        }
    }

    #[test]
    fn query_reaches_back_by_the_overlap() {
        let w = Window {
            from: t("2026-11-22T10:00:00Z"),
            to: t("2026-11-22T11:00:00Z"),
        };
        assert_eq!(w.query_from(15 * MIN), t("2026-11-22T09:45:00Z"));
    }
}
