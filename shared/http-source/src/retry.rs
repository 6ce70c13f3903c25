//! How hard to try one request: bounded attempts, jittered exponential backoff, `Retry-After`
//! honoured within reason, and never past the run's deadline.
//!
//! Every wait that an API (or anything posing as it) can influence goes through
//! [`retry_after`] and [`resume_at`]: the header becomes a bounded `Duration` in one place, and
//! the instant to resume at is computed with checked arithmetic, so no answer can overflow an
//! `Instant` (a panic that would leave the run's lease held) or hold a run past its deadline.

use std::time::{Duration, SystemTime};

use collector_core::source::RateLimitHeaders;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The longest wait we accept. Webex's rate limits are per minute, Cisco Secure Endpoint's per
/// hour, and no Lambda lives longer than 15 minutes: a longer wait is not a rate limit but a
/// broken or hostile answer.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How much of an unusable header value an error or a log line repeats.
const SHOWN_VALUE_CHARS: usize = 40;

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
        self.bound(attempt)
            .mul_f64(fastrand::f64())
            .max(Duration::from_millis(1))
    }

    /// The wait after a rate limit that did not say how long (Graph often does not): at least
    /// the exponential bound and up to twice it, never less. Full jitter could draw five short
    /// waits in a row and spend every attempt inside one throttling window, failing a run
    /// that only had to slow down; with the default policy the five waits span at least
    /// 15.5 s, longer than Graph's 10-second window, and every request of the identity waits
    /// with them (the budget's hold), so no other window takes the freed requests first.
    pub fn throttled(&self, attempt: u32) -> Duration {
        let bound = self.bound(attempt);
        bound
            .saturating_add(bound.mul_f64(fastrand::f64()))
            .min(self.max_delay)
    }

    fn bound(&self, attempt: u32) -> Duration {
        self.base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay)
    }
}

/// What a response's `Retry-After` asks of the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// No header, or a value that is neither of the two forms HTTP defines (`-1`, `soon`):
    /// our own bounded, jittered backoff decides.
    Backoff,
    /// Wait this long; never more than [`MAX_RETRY_AFTER`].
    Wait(Duration),
}

/// A wait beyond [`MAX_RETRY_AFTER`]: the request fails with this as its reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{who} answered HTTP {status} with {header}: {value}, beyond the {}-minute wait we accept",
    MAX_RETRY_AFTER.as_secs() / 60
)]
pub struct AbsurdWait {
    /// Who answered ("Webex").
    pub who: String,
    pub status: u16,
    /// The header's name as the source's description spells it.
    pub header: String,
    /// The value as sent (digits or an HTTP date: nothing else gets here), shortened.
    pub value: String,
}

/// Turns a response's `Retry-After` into a bounded wait.
///
/// - Delay-seconds (RFC 9110 §10.2.3) up to [`MAX_RETRY_AFTER`] is honoured; an HTTP date is
///   honoured as the time left until it (none when it has passed), with the same bound.
/// - Beyond the bound (`18446744073709551615`, a date next year) the request fails with
///   [`AbsurdWait`] naming the value, rather than waiting an hour clamped: a wait that long
///   would only run the clock out and end the run as "out of time", hiding the cause, while an
///   upstream error says what Webex did and the next scheduled run simply tries again.
/// - Anything else (`-1`, `1.5`, garbage, non-ASCII) carries no usable information: it is
///   treated as if the header were absent, so our own backoff, bounded by the policy, decides.
///
/// The same rules hold for the other headers in `limits`: the first `retry_after` name present
/// is read as above; failing those, on a 429, the first `reset` name present, as seconds to wait
/// (or, with `reset_is_instant`, as the epoch second to wait until).
pub fn retry_after(
    who: &str,
    status: u16,
    headers: &HeaderMap,
    limits: &RateLimitHeaders,
    now: SystemTime,
) -> Result<RetryAfter, AbsurdWait> {
    if let Some((name, value)) = first_present(headers, &limits.retry_after) {
        return read_wait(who, status, name, value, now, false);
    }
    // A reset is when the limit's window ends: a wait only for a rate limit. APIs send it on
    // every answer (Secure Endpoint), where after a 500 it says nothing about retrying.
    if status == 429
        && let Some((name, value)) = first_present(headers, &limits.reset)
    {
        return read_wait(who, status, name, value, now, limits.reset_is_instant);
    }
    Ok(RetryAfter::Backoff)
}

/// Whether an answer says the identity has no requests left (`X-Rate-Limit-Remaining: 0`),
/// and how long until it has: the next request would only earn a 429.
pub fn exhausted_for(
    who: &str,
    headers: &HeaderMap,
    limits: &RateLimitHeaders,
    now: SystemTime,
) -> Option<Duration> {
    let (_, remaining) = first_present(headers, &limits.remaining)?;
    if remaining.to_str().ok()?.trim() != "0" {
        return None;
    }
    let (name, value) = first_present(headers, &limits.reset)?;
    match read_wait(who, 200, name, value, now, limits.reset_is_instant) {
        Ok(RetryAfter::Wait(wait)) => Some(wait),
        _ => None,
    }
}

/// The value of the first of `names` the headers hold (names match without case), with the
/// name as configured.
fn first_present<'h, 'n>(
    headers: &'h HeaderMap,
    names: &'n [String],
) -> Option<(&'n str, &'h reqwest::header::HeaderValue)> {
    names.iter().find_map(|name| {
        headers
            .get(name.as_str())
            .map(|value| (name.as_str(), value))
    })
}

fn read_wait(
    who: &str,
    status: u16,
    header: &str,
    raw: &reqwest::header::HeaderValue,
    now: SystemTime,
    epoch_instant: bool,
) -> Result<RetryAfter, AbsurdWait> {
    let Ok(value) = raw.to_str() else {
        tracing::debug!(
            status,
            header,
            "a wait header is not ASCII; backing off instead"
        );
        return Ok(RetryAfter::Backoff);
    };
    let value = value.trim();
    let absurd = || AbsurdWait {
        who: who.to_string(),
        status,
        header: header.to_string(),
        value: shorten(value),
    };
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is as absurd as a large u64.
        let seconds = value.parse::<u64>().map_err(|_| absurd())?;
        let wait = match epoch_instant {
            // An instant that has passed means "now"; one past what a `SystemTime` holds
            // (`18446744073709551615`) is absurd, not a panic.
            true => SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(seconds))
                .ok_or_else(absurd)?
                .duration_since(now)
                .unwrap_or(Duration::ZERO),
            false => Duration::from_secs(seconds),
        };
        return if wait <= MAX_RETRY_AFTER {
            Ok(RetryAfter::Wait(wait))
        } else {
            Err(absurd())
        };
    }
    if let Ok(at) = httpdate::parse_http_date(value) {
        // A date in the past means "now".
        let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
        return if wait <= MAX_RETRY_AFTER {
            Ok(RetryAfter::Wait(wait))
        } else {
            Err(absurd())
        };
    }
    tracing::debug!(status, header, value = %shorten(value), "unreadable wait; backing off instead");
    Ok(RetryAfter::Backoff)
}

/// When to resume after waiting `wait` from `now`: `None` when that, plus `reserve` for the
/// request itself, does not fit before `deadline` (or is past what an `Instant` can hold).
pub fn resume_at(
    now: Instant,
    wait: Duration,
    reserve: Duration,
    deadline: Instant,
) -> Option<Instant> {
    let resume = now.checked_add(wait)?;
    let done = resume.checked_add(reserve)?;
    (done <= deadline).then_some(resume)
}

fn shorten(value: &str) -> String {
    let mut shown: String = value.chars().take(SHOWN_VALUE_CHARS).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::RETRY_AFTER;

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
    fn a_throttle_without_a_wait_outlasts_a_ten_second_window() {
        let policy = RetryPolicy::default();
        let bound = |attempt: u32| {
            Duration::from_millis(500 * (1 << (attempt - 1).min(10))).min(policy.max_delay)
        };
        for _ in 0..200 {
            let waits: Vec<Duration> = (1..policy.max_attempts)
                .map(|attempt| policy.throttled(attempt))
                .collect();
            for (attempt, wait) in (1..).zip(&waits) {
                assert!(
                    bound(attempt) <= *wait && *wait <= (bound(attempt) * 2).min(policy.max_delay),
                    "attempt {attempt}: {wait:?}"
                );
            }
            let total: Duration = waits.iter().sum();
            assert!(total >= Duration::from_millis(15_500), "{total:?}");
        }
        assert_eq!(policy.throttled(40), policy.max_delay);
    }

    #[test]
    fn a_hostile_retry_after_becomes_a_bounded_wait_or_a_named_error() {
        // 2026-01-01T00:00:00Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        /// `Ok(None)`: back off; `Ok(Some(s))`: wait `s` seconds; `Err(value)`: refused, naming it.
        type Expected = Result<Option<u64>, &'static str>;
        const BACKOFF: Expected = Ok(None);
        let wait = |s| Ok(Some(s));
        let cases: [(Option<&[u8]>, Expected); 20] = [
            (None, BACKOFF),
            (Some(b"7"), wait(7)),
            (Some(b" 7 "), wait(7)),
            (Some(b"0"), wait(0)),
            (Some(b"3600"), wait(3600)),
            (Some(b"3601"), Err("3601")),
            (Some(b"18446744073709551615"), Err("18446744073709551615")),
            (
                Some(b"99999999999999999999999999"),
                Err("99999999999999999999999999"),
            ),
            (Some(b"-1"), BACKOFF),
            (Some(b"+5"), BACKOFF),
            (Some(b"1.5"), BACKOFF),
            (Some(b""), BACKOFF),
            (Some(b"soon"), BACKOFF),
            (Some(b"\xff\xfe"), BACKOFF),
            (Some(b"Thu, 01 Jan 2026 00:00:30 GMT"), wait(30)),
            // The RFC 850 and asctime forms are HTTP dates too.
            (Some(b"Thursday, 01-Jan-26 00:01:00 GMT"), wait(60)),
            (Some(b"Thu Jan  1 00:00:05 2026"), wait(5)),
            // A date that has passed: no wait.
            (Some(b"Wed, 21 Oct 2015 07:28:00 GMT"), wait(0)),
            (
                Some(b"Fri, 31 Dec 9999 23:59:59 GMT"),
                Err("Fri, 31 Dec 9999 23:59:59 GMT"),
            ),
            (
                Some(b"Thu, 01 Jan 2026 01:00:01 GMT"),
                Err("Thu, 01 Jan 2026 01:00:01 GMT"),
            ),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(
                    RETRY_AFTER,
                    reqwest::header::HeaderValue::from_bytes(value).unwrap(),
                );
            }
            let got = retry_after("Webex", 429, &headers, &RateLimitHeaders::standard(), now);
            if let Err(absurd) = &got {
                let message = absurd.to_string();
                assert!(
                    message.starts_with("Webex answered HTTP 429 with Retry-After: ")
                        && message.ends_with("beyond the 60-minute wait we accept"),
                    "{message}"
                );
            }
            let got = match &got {
                Ok(RetryAfter::Backoff) => Ok(None),
                Ok(RetryAfter::Wait(wait)) => Ok(Some(wait.as_secs())),
                Err(absurd) => Err(absurd.value.as_str()),
            };
            assert_eq!(got, expected, "{value:?}");
        }
    }

    #[test]
    fn a_long_value_is_shortened_in_the_error() {
        let mut headers = HeaderMap::new();
        let digits = "9".repeat(500);
        headers.insert(RETRY_AFTER, digits.parse().unwrap());
        let limits = RateLimitHeaders::standard();
        let absurd = retry_after("Webex", 503, &headers, &limits, SystemTime::now()).unwrap_err();
        assert_eq!(absurd.value.chars().count(), SHOWN_VALUE_CHARS + 1);
        assert!(absurd.to_string().len() < 200);
    }

    #[test]
    fn rate_limit_headers_give_the_wait_when_retry_after_is_absent() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let limits = RateLimitHeaders {
            retry_after: vec!["Retry-After".into()],
            reset: vec!["X-Rate-Limit-Reset".into(), "X-RateLimit-Reset".into()],
            reset_is_instant: false,
            remaining: vec![
                "X-Rate-Limit-Remaining".into(),
                "x-ratelimit-remaining".into(),
            ],
        };
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, v.parse().unwrap());
            }
            map
        };
        let wait = |h: &HeaderMap| retry_after("Cisco", 429, h, &limits, now);
        assert_eq!(
            wait(&headers(&[("x-ratelimit-reset", "894")])),
            Ok(RetryAfter::Wait(Duration::from_secs(894)))
        );
        assert_eq!(
            wait(&headers(&[
                ("x-rate-limit-reset", "894"),
                ("retry-after", "3")
            ])),
            Ok(RetryAfter::Wait(Duration::from_secs(3))),
            "Retry-After first"
        );
        assert_eq!(wait(&headers(&[])), Ok(RetryAfter::Backoff));
        let after_500 = retry_after(
            "Cisco",
            500,
            &headers(&[("X-Rate-Limit-Reset", "894")]),
            &limits,
            now,
        );
        assert_eq!(
            after_500,
            Ok(RetryAfter::Backoff),
            "a reset is no wait for a 500"
        );
        let absurd = wait(&headers(&[("X-Rate-Limit-Reset", "86400")])).unwrap_err();
        assert_eq!(
            absurd.to_string(),
            "Cisco answered HTTP 429 with X-Rate-Limit-Reset: 86400, beyond the 60-minute wait we accept"
        );
        let instant = RateLimitHeaders {
            reset_is_instant: true,
            ..limits.clone()
        };
        assert_eq!(
            retry_after(
                "x",
                429,
                &headers(&[("X-Rate-Limit-Reset", "1767225660")]),
                &instant,
                now
            ),
            Ok(RetryAfter::Wait(Duration::from_secs(60)))
        );
        let beyond_time = retry_after(
            "x",
            429,
            &headers(&[("X-Rate-Limit-Reset", "18446744073709551615")]),
            &instant,
            now,
        );
        assert!(
            matches!(&beyond_time, Err(absurd) if absurd.value == "18446744073709551615"),
            "{beyond_time:?}"
        );
        // Requests left: none means waiting for the reset before the next.
        let exhausted = |h: &HeaderMap| exhausted_for("Cisco", h, &limits, now);
        assert_eq!(
            exhausted(&headers(&[
                ("X-Rate-Limit-Remaining", "0"),
                ("X-Rate-Limit-Reset", "30")
            ])),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            exhausted(&headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "30")
            ])),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            exhausted(&headers(&[
                ("X-Rate-Limit-Remaining", "12"),
                ("X-Rate-Limit-Reset", "30")
            ])),
            None
        );
        assert_eq!(
            exhausted(&headers(&[("X-Rate-Limit-Remaining", "0")])),
            None
        );
    }

    #[test]
    fn resuming_never_overflows_nor_passes_the_deadline() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let reserve = Duration::from_millis(500);
        let cases = [
            (Duration::ZERO, true),
            (Duration::from_secs(59), true),
            (Duration::from_millis(59_500), true),
            (Duration::from_millis(59_501), false),
            (MAX_RETRY_AFTER, false),
            (Duration::from_secs(u64::MAX), false),
            (Duration::MAX, false),
        ];
        for (wait, fits) in cases {
            let resume = resume_at(now, wait, reserve, deadline);
            assert_eq!(resume.is_some(), fits, "{wait:?}");
            if let Some(resume) = resume {
                assert_eq!(resume, now + wait);
            }
        }
    }
}
