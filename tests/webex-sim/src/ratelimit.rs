//! A sliding-window request limit per client id, in real time, like the one Webex applies.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    accepted: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Admits the request, or says how many whole seconds until a slot frees (at least 1).
    /// Refused requests do not use up a slot.
    pub(crate) fn check(&mut self, client_id: &str, limit: u32, now: Instant) -> Result<(), u64> {
        let window = self.accepted.entry(client_id.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            window.pop_front();
        }
        if window.len() < limit as usize {
            window.push_back(now);
            return Ok(());
        }
        let frees_in = window.front().map_or(WINDOW, |oldest| {
            WINDOW.saturating_sub(now.duration_since(*oldest))
        });
        Err(frees_in.as_secs_f64().ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_says_when_to_retry() {
        let mut limiter = RateLimiter::default();
        let start = Instant::now();
        assert_eq!(limiter.check("a", 2, start), Ok(()));
        assert_eq!(
            limiter.check("a", 2, start + Duration::from_secs(10)),
            Ok(())
        );
        assert_eq!(
            limiter.check("a", 2, start + Duration::from_secs(15)),
            Err(45)
        );
        assert_eq!(
            limiter.check("b", 2, start),
            Ok(()),
            "limits are per client"
        );
        assert_eq!(
            limiter.check("a", 2, start + Duration::from_millis(59_999)),
            Err(1),
            "at least one second"
        );
        assert_eq!(
            limiter.check("a", 2, start + Duration::from_secs(60)),
            Ok(())
        );
        assert_eq!(
            limiter.check("a", 2, start + Duration::from_secs(61)),
            Err(9)
        );
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let mut limiter = RateLimiter::default();
        assert_eq!(limiter.check("a", 0, Instant::now()), Err(60));
    }
}
