//! How hard to try one request: bounded attempts, jittered exponential backoff, `Retry-After`
//! honoured, and never past the run's deadline.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound for one request; the deadline may make it shorter.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// "Full jitter": a random delay up to the exponential bound, so that runs that failed
    /// together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let bound = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        bound.mul_f64(fastrand::f64()).max(Duration::from_millis(1))
    }
}

/// `Retry-After` in seconds (Webex sends seconds; the HTTP-date form is not used by Webex).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        for attempt in 1..20 {
            let bound = Duration::from_millis(100 * (1 << (attempt - 1).min(10)))
                .min(Duration::from_secs(1));
            for _ in 0..50 {
                let d = policy.backoff(attempt);
                assert!(d <= bound, "attempt {attempt}: {d:?} > {bound:?}");
            }
        }
    }

    #[test]
    fn reads_retry_after_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
