//! The simulator's notion of "now", in Unix milliseconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::ClockMode;

#[derive(Debug)]
pub(crate) enum Clock {
    Manual(AtomicI64),
    System,
}

impl Clock {
    pub(crate) fn new(mode: &ClockMode) -> Clock {
        match mode {
            ClockMode::Manual { start_ms } => Clock::Manual(AtomicI64::new(*start_ms)),
            ClockMode::System => Clock::System,
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        match self {
            Clock::Manual(ms) => ms.load(Ordering::SeqCst),
            Clock::System => system_now_ms(),
        }
    }

    /// Ignored by the system clock: tests that need to move time must use a manual clock.
    pub(crate) fn set_ms(&self, ms: i64) {
        if let Clock::Manual(now) = self {
            now.store(ms, Ordering::SeqCst);
        }
    }

    pub(crate) fn advance(&self, by: Duration) {
        if let Clock::Manual(now) = self {
            let by = duration_ms(by);
            // fetch_update cannot fail with a closure that always returns Some.
            let _ = now.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ms| {
                Some(ms.saturating_add(by))
            });
        }
    }
}

pub(crate) fn system_now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => duration_ms(since),
        Err(before) => duration_ms(before.duration()).saturating_neg(),
    }
}

/// Whole milliseconds, saturating instead of wrapping for absurd durations.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::new(&ClockMode::Manual { start_ms: 1_000 });
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now_ms(), 2_500);
        clock.set_ms(10);
        assert_eq!(clock.now_ms(), 10);
    }

    #[test]
    fn system_clock_ignores_set_and_advance() {
        let clock = Clock::new(&ClockMode::System);
        clock.set_ms(0);
        clock.advance(Duration::from_secs(3600 * 24 * 365));
        let now = system_now_ms();
        assert!((clock.now_ms() - now).abs() < 5_000);
    }
}
