//! A clock a test moves by hand: leases and re-read intervals pass without waiting for them.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use collector_core::ports::Clock;
use collector_core::time::Timestamp;

#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// Starting at the real time.
    pub fn now() -> Self {
        Self(Mutex::new(Timestamp::now()))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.plus(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
