//! A sliding-window request limit per key: Webex's per-client minute (real time), Graph's
//! ten seconds per app and tenant (real time), Secure Endpoint's hourly budget (sim time).
//! The caller chooses the clock by the milliseconds it passes.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::clock::duration_ms;

/// What is left of a window after an admitted request, for APIs that report it in headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allowance {
    pub remaining: u32,
    /// Whole seconds until the oldest request of the window leaves it (at least 1).
    pub reset_s: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    accepted: HashMap<String, VecDeque<i64>>,
}

impl RateLimiter {
    /// Admits the request at `now_ms`, or says how many whole seconds until a slot frees (at
    /// least 1). Refused requests do not use up a slot.
    pub(crate) fn check(
        &mut self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: i64,
    ) -> Result<Allowance, u64> {
        let window_ms = duration_ms(window);
        let held = self.accepted.entry(key.to_owned()).or_default();
        while held
            .front()
            .is_some_and(|at| now_ms.saturating_sub(*at) >= window_ms)
        {
            held.pop_front();
        }
        let frees_in = |held: &VecDeque<i64>| {
            let ms = held.front().map_or(window_ms, |oldest| {
                window_ms.saturating_sub(now_ms.saturating_sub(*oldest))
            });
            (ms.max(1) as u64).div_ceil(1_000)
        };
        if held.len() < limit as usize {
            held.push_back(now_ms);
            return Ok(Allowance {
                remaining: limit.saturating_sub(held.len() as u32),
                reset_s: frees_in(held),
            });
        }
        Err(frees_in(held))
    }

    /// What `key` has left at `now_ms`, without using any of it.
    pub(crate) fn allowance(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: i64,
    ) -> Allowance {
        let window_ms = duration_ms(window);
        let live: Vec<i64> = self.accepted.get(key).map_or_else(Vec::new, |held| {
            held.iter()
                .copied()
                .filter(|at| now_ms.saturating_sub(*at) < window_ms)
                .collect()
        });
        let ms = live.first().map_or(window_ms, |oldest| {
            window_ms.saturating_sub(now_ms.saturating_sub(*oldest))
        });
        Allowance {
            remaining: limit.saturating_sub(live.len() as u32),
            reset_s: (ms.max(1) as u64).div_ceil(1_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn admits_up_to_the_limit_then_says_when_to_retry() {
        let mut limiter = RateLimiter::default();
        let start = 1_000_000;
        let admitted = limiter.check("a", 2, MINUTE, start);
        assert_eq!(
            admitted,
            Ok(Allowance {
                remaining: 1,
                reset_s: 60
            })
        );
        assert!(limiter.check("a", 2, MINUTE, start + 10_000).is_ok());
        assert_eq!(limiter.check("a", 2, MINUTE, start + 15_000), Err(45));
        assert!(
            limiter.check("b", 2, MINUTE, start).is_ok(),
            "limits are per key"
        );
        assert_eq!(
            limiter.check("a", 2, MINUTE, start + 59_999),
            Err(1),
            "at least one second"
        );
        assert!(limiter.check("a", 2, MINUTE, start + 60_000).is_ok());
        assert_eq!(limiter.check("a", 2, MINUTE, start + 61_000), Err(9));
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let mut limiter = RateLimiter::default();
        assert_eq!(limiter.check("a", 0, MINUTE, 0), Err(60));
    }

    #[test]
    fn allowance_reads_without_spending() {
        let mut limiter = RateLimiter::default();
        let hour = Duration::from_secs(3_600);
        assert_eq!(
            limiter.allowance("a", 3, hour, 0),
            Allowance {
                remaining: 3,
                reset_s: 3_600
            }
        );
        limiter.check("a", 3, hour, 0).unwrap();
        limiter.check("a", 3, hour, 600_000).unwrap();
        let left = limiter.allowance("a", 3, hour, 1_200_000);
        assert_eq!(left, limiter.allowance("a", 3, hour, 1_200_000));
        assert_eq!(
            left,
            Allowance {
                remaining: 1,
                reset_s: 2_400
            }
        );
        assert_eq!(limiter.allowance("a", 3, hour, 3_600_000).remaining, 2);
    }
}
