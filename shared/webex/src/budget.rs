//! The request-rate budget that every page request of a client shares: requests are spaced
//! evenly, so that no minute holds more than the budget however many windows are fetched at
//! once, and a `Retry-After` from Webex holds all of them back, not only the request that got
//! it.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RequestBudget {
    interval: Duration,
    /// The earliest instant the next request may start; `None` before the first.
    next: Mutex<Option<Instant>>,
}

impl RequestBudget {
    pub fn per_minute(requests: u32) -> Self {
        Self {
            interval: Duration::from_secs(60) / requests.max(1),
            next: Mutex::new(None),
        }
    }

    /// Waits for the next request's turn; `false`, without waiting, when the turn would come
    /// after `deadline`.
    pub async fn take(&self, deadline: Instant) -> bool {
        let turn = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let turn = next.map_or(now, |next| next.max(now));
            if turn > deadline {
                return false;
            }
            // `turn` may come from a `Retry-After` (bounded by `retry_after`); checked all the
            // same, so no answer can overflow an `Instant` here.
            *next = Some(turn.checked_add(self.interval).unwrap_or(turn));
            turn
        };
        tokio::time::sleep_until(turn).await;
        true
    }

    /// No request starts before `until`.
    pub fn hold_until(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        *next = Some(next.map_or(until, |next| next.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When each of `requests` concurrent takers got its turn, measured from the start.
    async fn turns(budget: &RequestBudget, requests: usize, deadline: Instant) -> Vec<Duration> {
        let start = Instant::now();
        let takers =
            (0..requests).map(|_| async { budget.take(deadline).await.then(|| start.elapsed()) });
        let mut turns: Vec<Duration> = futures_util::future::join_all(takers)
            .await
            .into_iter()
            .flatten()
            .collect();
        turns.sort();
        turns
    }

    #[tokio::test(start_paused = true)]
    async fn no_minute_holds_more_than_the_budget() {
        let budget = RequestBudget::per_minute(300);
        let far = Instant::now() + Duration::from_secs(3600);
        let turns = turns(&budget, 700, far).await;
        assert_eq!(turns.len(), 700);
        assert_eq!(turns[0], Duration::ZERO, "the first request goes at once");
        for pair in turns.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(200));
        }
        for (i, turn) in turns.iter().enumerate() {
            let in_minute = turns[i..]
                .iter()
                .take_while(|t| **t < *turn + Duration::from_secs(60))
                .count();
            assert!(
                in_minute <= 300,
                "{in_minute} requests in the minute from {turn:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_every_request_back() {
        let budget = RequestBudget::per_minute(600);
        let far = Instant::now() + Duration::from_secs(3600);
        budget.hold_until(Instant::now() + Duration::from_secs(5));
        let turns = turns(&budget, 3, far).await;
        assert_eq!(
            turns,
            [5000, 5100, 5200].map(Duration::from_millis).to_vec()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_turns_past_the_deadline_without_waiting() {
        let budget = RequestBudget::per_minute(60);
        let deadline = Instant::now() + Duration::from_millis(2500);
        let turns = turns(&budget, 5, deadline).await;
        assert_eq!(turns, [0, 1, 2].map(Duration::from_secs).to_vec());
    }
}
