//! A clock the test moves.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::ports::Clock;
use crate::time::Timestamp;

/// [`Clock`] whose `now` is set by the test; it never moves by itself.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new(now: Timestamp) -> Self {
        Self {
            now: AtomicI64::new(now.millis()),
        }
    }

    pub fn set(&self, now: Timestamp) {
        self.now.store(now.millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(
            i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now.load(Ordering::SeqCst))
    }
}
