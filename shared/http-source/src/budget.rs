//! The request-rate budget that every page request of a client shares: requests are spaced
//! evenly, so that no minute holds more than the budget however many windows are fetched at
//! once, and a `Retry-After` from Webex holds all of them back, not only the request that got
//! it. Shared through a [`PaceLedger`], the same spacing holds across every process that reads
//! with one identity: each takes its turns in blocks from one schedule.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use collector_core::ports::PaceLedger;
use tokio::time::Instant;

#[derive(Debug)]
pub struct RequestBudget {
    interval: Duration,
    /// The earliest instant the next request may start; `None` before the first.
    next: Mutex<Option<Instant>>,
    shared: Option<SharedPace>,
}

/// The turns this process holds of an identity's shared schedule.
#[derive(Debug)]
struct SharedPace {
    ledger: Arc<dyn PaceLedger>,
    key: String,
    /// Turns reserved at once: two seconds of the budget, so that the ledger sees a write every
    /// two seconds at full pace, and a process that stops early wastes at most that.
    block: u32,
    turns: tokio::sync::Mutex<Turns>,
}

#[derive(Debug)]
struct Turns {
    left: u32,
    next: Instant,
    /// Where the ledger's schedule ends after this process's last reservation (epoch ms).
    reserved_until_ms: i64,
}

impl RequestBudget {
    pub fn per_minute(requests: u32) -> Self {
        Self {
            interval: Duration::from_secs(60) / requests.max(1),
            next: Mutex::new(None),
            shared: None,
        }
    }

    /// The same budget shared through `ledger` under `key` (the identity) by every process
    /// that reads with it.
    pub fn shared(self, ledger: Arc<dyn PaceLedger>, key: impl Into<String>) -> Self {
        let per_minute =
            (Duration::from_secs(60).as_nanos() / self.interval.as_nanos().max(1)) as u32;
        Self {
            shared: Some(SharedPace {
                ledger,
                key: key.into(),
                block: (per_minute / 30).clamp(1, 50),
                turns: tokio::sync::Mutex::new(Turns {
                    left: 0,
                    next: Instant::now(),
                    reserved_until_ms: 0,
                }),
            }),
            ..self
        }
    }

    /// Waits for the next request's turn; `false`, without waiting, when the turn would come
    /// after `deadline`.
    pub async fn take(&self, deadline: Instant) -> bool {
        let shared_turn = match &self.shared {
            Some(shared) => match shared.turn(self.interval, deadline).await {
                Some(turn) => Some(turn),
                None => return false,
            },
            None => None,
        };
        let turn = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let turn = next
                .map_or(now, |next| next.max(now))
                .max(shared_turn.unwrap_or(now));
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

    /// Gives back the turns this process reserved and did not take (a run is over), so the
    /// next process, or the next run of this one, does not wait for them.
    pub async fn release(&self) {
        if let Some(shared) = &self.shared {
            shared.release().await;
        }
    }

    /// No request starts before `until`.
    pub fn hold_until(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        *next = Some(next.map_or(until, |next| next.max(until)));
    }
}

impl SharedPace {
    /// Gives the unused turns back when no process reserved after them; otherwise they stay
    /// this process's, for its next run (a warm Lambda keeps them).
    async fn release(&self) {
        let mut turns = self.turns.lock().await;
        if turns.left == 0 {
            return;
        }
        // The next turn, in wall-clock time: the schedule ends there (or now) instead.
        let now = Instant::now();
        let next_ms = wall_ms() + turns.next.saturating_duration_since(now).as_millis() as i64;
        let from_ms = turns.reserved_until_ms;
        if next_ms >= from_ms {
            return;
        }
        match self.ledger.give_back(&self.key, from_ms, next_ms).await {
            Ok(true) => turns.left = 0,
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(identity = %self.key, error = %e, "unused request turns not given back");
            }
        }
    }

    /// This process's next turn of the shared schedule, reserving a block when it has none
    /// left; `None` when it comes after `deadline`. A ledger that cannot be reached leaves the
    /// local spacing alone in charge (a 429 is handled; a stopped collection is worse).
    async fn turn(&self, interval: Duration, deadline: Instant) -> Option<Instant> {
        let mut turns = self.turns.lock().await;
        if turns.left == 0 {
            let now_ms = wall_ms();
            let span_ms = (interval * self.block).as_millis().max(1) as i64;
            match self.ledger.reserve(&self.key, now_ms, span_ms).await {
                Ok(start_ms) => {
                    let wait = Duration::from_millis(start_ms.saturating_sub(now_ms).max(0) as u64);
                    turns.next = Instant::now().checked_add(wait).unwrap_or(deadline);
                    turns.left = self.block;
                    turns.reserved_until_ms = start_ms + span_ms;
                }
                Err(e) => {
                    tracing::warn!(identity = %self.key, error = %e, "the shared request pace is unavailable; pacing this process alone");
                    return Some(Instant::now());
                }
            }
        }
        let turn = turns.next.max(Instant::now());
        if turn > deadline {
            return None;
        }
        turns.left -= 1;
        turns.next = turn.checked_add(interval).unwrap_or(turn);
        Some(turn)
    }
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use collector_core::ports::StoreFuture;

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

    /// The ledger as DynamoDB keeps it: the end of the schedule per key, moved atomically.
    #[derive(Debug, Default)]
    struct MemoryLedger {
        ends: Mutex<std::collections::HashMap<String, i64>>,
        /// Every call fails, as a table that cannot be reached.
        down: bool,
    }

    impl MemoryLedger {
        fn down() -> Self {
            Self {
                down: true,
                ..Self::default()
            }
        }

        fn unavailable<T: Send + 'static>() -> StoreFuture<'static, T> {
            Box::pin(std::future::ready(Err(
                collector_core::ports::StoreError::Conflict,
            )))
        }
    }

    impl PaceLedger for MemoryLedger {
        fn reserve<'a>(&'a self, key: &'a str, now_ms: i64, span_ms: i64) -> StoreFuture<'a, i64> {
            if self.down {
                return Self::unavailable();
            }
            let mut ends = self.ends.lock().unwrap_or_else(PoisonError::into_inner);
            let end = ends.entry(key.to_string()).or_insert(now_ms);
            let start = (*end).max(now_ms);
            *end = start + span_ms;
            Box::pin(std::future::ready(Ok(start)))
        }

        fn give_back<'a>(
            &'a self,
            key: &'a str,
            from_ms: i64,
            to_ms: i64,
        ) -> StoreFuture<'a, bool> {
            if self.down {
                return Self::unavailable();
            }
            let mut ends = self.ends.lock().unwrap_or_else(PoisonError::into_inner);
            let given = match ends.get_mut(key).filter(|end| **end == from_ms) {
                Some(end) => {
                    *end = to_ms;
                    true
                }
                None => false,
            };
            Box::pin(std::future::ready(Ok(given)))
        }
    }

    #[tokio::test]
    async fn processes_sharing_a_ledger_keep_to_one_budget_between_them() {
        // Real time: the ledger's schedule is in wall-clock milliseconds. 600 a minute is one
        // request every 100 ms, reserved in blocks of 20.
        let ledger: Arc<dyn PaceLedger> = Arc::new(MemoryLedger::default());
        let budgets: Vec<RequestBudget> = (0..3)
            .map(|_| RequestBudget::per_minute(600).shared(ledger.clone(), "partner"))
            .collect();
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        let takers = budgets.iter().flat_map(|budget| {
            (0..20).map(move |_| async move { budget.take(far).await.then(|| start.elapsed()) })
        });
        let mut turns: Vec<Duration> = futures_util::future::join_all(takers)
            .await
            .into_iter()
            .flatten()
            .collect();
        turns.sort();
        assert_eq!(turns.len(), 60);
        // 60 turns at 100 ms each: the three processes together took 5.9 s, not the 1.9 s
        // each would have alone.
        let last = turns[59];
        assert!(last >= Duration::from_millis(5850), "{last:?}");
        // Measured when each taker woke: a wake-up late under load only shortens the gap to
        // the next one, never lets a second hold more. Ten a second, one more at the window's
        // edge, one more for a late wake; unshared, the three would take thirty.
        for (i, turn) in turns.iter().enumerate() {
            let in_second = turns[i..]
                .iter()
                .take_while(|t| **t < *turn + Duration::from_secs(1))
                .count();
            assert!(
                in_second <= 12,
                "{in_second} turns in the second from {turn:?}: {turns:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_ledger_that_fails_leaves_the_local_budget_in_charge() {
        let budget = RequestBudget::per_minute(600).shared(Arc::new(MemoryLedger::down()), "admin");
        let start = Instant::now();
        let far = start + Duration::from_secs(10);
        assert!(budget.take(far).await);
        assert!(budget.take(far).await);
        let elapsed = start.elapsed();
        assert!(
            (Duration::from_millis(95)..Duration::from_millis(1000)).contains(&elapsed),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_finished_run_gives_its_unused_turns_to_the_next() {
        // 600 a minute in blocks of 20: one request reserves two seconds of the schedule.
        let ledger: Arc<dyn PaceLedger> = Arc::new(MemoryLedger::default());
        let far = Instant::now() + Duration::from_secs(60);
        let first = RequestBudget::per_minute(600).shared(ledger.clone(), "admin");
        assert!(first.take(far).await);
        first.release().await;
        // The next process starts at the first's next turn, not after its whole block.
        let second = RequestBudget::per_minute(600).shared(ledger.clone(), "admin");
        let start = Instant::now();
        assert!(second.take(far).await);
        let waited = start.elapsed();
        assert!(waited < Duration::from_millis(300), "{waited:?}");
        // Without giving back, a third waits for the second's block.
        let third = RequestBudget::per_minute(600).shared(ledger, "admin");
        let start = Instant::now();
        assert!(third.take(far).await);
        assert!(
            start.elapsed() >= Duration::from_millis(1800),
            "{:?}",
            start.elapsed()
        );
    }
}
