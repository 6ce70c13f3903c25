//! When a document's stream is due: its `every`, claimed per stream in the state table
//! (`due#{stream}`) by the scheduled invocation that starts it, and given back when that
//! invocation did not do the work it claimed the stream for.
//!
//! The claim is taken before the work (discovering organisations, sending units to the queue,
//! collecting them), not after it: the claim is what keeps two overlapping scheduled
//! invocations from both starting the stream, and one taken after the work would come when both
//! had already done it. A failure gives the claim back instead, so the stream is due at the next
//! tick rather than a whole `every` later. Only the invocation holding a claim gives it back, and
//! only once its work has ended, so no other invocation has started the stream in between; the
//! give-back removes the item only while it still holds this claim, so it never undoes a claim
//! taken since. If DynamoDB cannot answer the claim, the stream runs (a run too many costs
//! requests, never events); if it cannot take the give-back, the stream waits its interval.

use std::time::Duration;

use collector_core::Timestamp;
use collector_core::ports::DueLedger;

/// How much earlier than its `every` a stream is due again: a schedule's ticks wobble by
/// seconds, and a stream whose interval is its function's schedule must not skip every other
/// tick.
const SCHEDULE_SLACK: Duration = Duration::from_secs(30);

/// Whether a scheduled run starts a stream now.
#[derive(Debug)]
pub(crate) enum Due<'a> {
    /// Its interval has passed, and this run holds the claim on the next one.
    Claimed(Claim<'a>),
    /// It runs on every tick (the environment configures it), or the state table could not
    /// say: nothing to give back.
    Unclaimed,
    /// Its interval has not passed, or another run holds the claim.
    NotYet,
}

/// A stream's interval, claimed by this run.
#[derive(Debug)]
pub struct Claim<'a> {
    ledger: &'a dyn DueLedger,
    stream: &'a str,
    now_ms: i64,
    interval_ms: i64,
}

/// The claims one scheduled run took.
#[derive(Debug, Default)]
pub struct Claims<'a>(Vec<Claim<'a>>);

/// Claims `stream`'s next interval when it is due at `now`. `every: None`: the function's
/// schedule is the stream's interval.
pub(crate) async fn claim<'a>(
    ledger: &'a dyn DueLedger,
    stream: &'a str,
    every: Option<Duration>,
    now: Timestamp,
) -> Due<'a> {
    let Some(every) = every else {
        return Due::Unclaimed;
    };
    let interval_ms = every
        .saturating_sub(SCHEDULE_SLACK.min(every / 2))
        .as_millis() as i64;
    let now_ms = now.millis();
    match ledger.claim(stream, now_ms, interval_ms).await {
        Ok(true) => Due::Claimed(Claim {
            ledger,
            stream,
            now_ms,
            interval_ms,
        }),
        Ok(false) => {
            tracing::info!(stream, every = ?every, "not due yet");
            Due::NotYet
        }
        Err(e) => {
            tracing::warn!(stream, error = %e, "whether the stream is due is unknown; running it");
            Due::Unclaimed
        }
    }
}

impl<'a> Claims<'a> {
    pub(crate) fn push(&mut self, claim: Claim<'a>) {
        self.0.push(claim);
    }

    /// Gives back the claim of each stream `undone` names: its work failed, so it is due again
    /// at the next tick. The others are kept.
    pub async fn give_back(self, undone: impl Fn(&str) -> bool) {
        for claim in self.0.into_iter().filter(|c| undone(c.stream)) {
            let Claim {
                ledger,
                stream,
                now_ms,
                interval_ms,
            } = claim;
            match ledger.release(stream, now_ms, interval_ms).await {
                Ok(()) => tracing::info!(stream, "the run failed; the stream is due again"),
                Err(e) => {
                    tracing::warn!(stream, error = %e, "the stream's claim could not be given back; it waits its interval")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use collector_core::ports::{StoreError, StoreFuture};
    use collector_core::testing::MemoryState;

    use super::*;

    const MINUTE: i64 = 60_000;
    const HOUR: Duration = Duration::from_secs(3600);

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    async fn due(ledger: &dyn DueLedger, stream: &'static str, now: i64) -> bool {
        let mut claims = Claims::default();
        let started = match claim(ledger, stream, Some(HOUR), at(now)).await {
            Due::Claimed(claim) => {
                claims.push(claim);
                true
            }
            Due::Unclaimed => true,
            Due::NotYet => false,
        };
        // Kept: none undone.
        claims.give_back(|_| false).await;
        started
    }

    #[tokio::test]
    async fn a_claim_given_back_leaves_the_stream_due_and_one_kept_does_not() {
        let ledger = MemoryState::default();
        let start = 1_000 * MINUTE;
        // A run that failed gives its claim back: the next tick starts the stream.
        let Due::Claimed(failed) = claim(&ledger, "a", Some(HOUR), at(start)).await else {
            panic!("never ran: due");
        };
        assert!(!due(&ledger, "a", start + MINUTE).await, "claimed");
        let mut claims = Claims::default();
        claims.push(failed);
        claims.give_back(|stream| stream == "a").await;
        assert!(due(&ledger, "a", start + 2 * MINUTE).await, "given back");
        // That run's claim was kept: not due until its interval (less the slack) has passed.
        assert!(!due(&ledger, "a", start + 3 * MINUTE).await);
        assert!(due(&ledger, "a", start + 2 * MINUTE + 60 * MINUTE).await);
    }

    #[tokio::test]
    async fn a_late_give_back_does_not_undo_a_claim_taken_since() {
        let ledger = MemoryState::default();
        let start = 1_000 * MINUTE;
        // GIVEN a run whose work outlasted its interval, and a second run that claimed the next
        let Due::Claimed(slow) = claim(&ledger, "a", Some(HOUR), at(start)).await else {
            panic!("never ran: due");
        };
        assert!(due(&ledger, "a", start + 61 * MINUTE).await);
        // WHEN the first run fails and gives its claim back
        let mut claims = Claims::default();
        claims.push(slow);
        claims.give_back(|_| true).await;
        // THEN the second run's claim holds: a third does not start the stream
        assert!(!due(&ledger, "a", start + 62 * MINUTE).await);
    }

    #[tokio::test]
    async fn of_two_runs_at_once_one_starts_the_stream() {
        let ledger = MemoryState::default();
        let now = 1_000 * MINUTE;
        let (one, two) = tokio::join!(due(&ledger, "a", now), due(&ledger, "a", now));
        assert!(one ^ two, "{one} {two}");
        // And a stream of the environment runs on every tick, claiming nothing.
        for _ in 0..2 {
            assert!(matches!(
                claim(&ledger, "b", None, at(now)).await,
                Due::Unclaimed
            ));
        }
    }

    /// A state table that cannot answer.
    #[derive(Debug)]
    struct Unavailable;

    fn unavailable() -> StoreError {
        StoreError::Unavailable {
            operation: "test",
            source: "unreachable".into(),
        }
    }

    impl DueLedger for Unavailable {
        fn claim<'a>(&'a self, _: &'a str, _: i64, _: i64) -> StoreFuture<'a, bool> {
            Box::pin(std::future::ready(Err(unavailable())))
        }

        fn release<'a>(&'a self, _: &'a str, _: i64, _: i64) -> StoreFuture<'a, ()> {
            Box::pin(std::future::ready(Err(unavailable())))
        }
    }

    #[tokio::test]
    async fn when_the_state_table_cannot_answer_the_stream_runs() {
        assert!(matches!(
            claim(&Unavailable, "a", Some(HOUR), at(0)).await,
            Due::Unclaimed
        ));
    }
}
