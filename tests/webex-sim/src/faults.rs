//! Misbehaviour on demand: the failures DESIGN.md says the collector must survive.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::apis::Api;
use crate::rng::rng_for;

/// A failure injected into one event-endpoint request (after authentication).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: retry_after_s`.
    TooManyRequests { retry_after_s: u64 },
    /// 423 with `Retry-After: retry_after_s`.
    Locked { retry_after_s: u64 },
    /// That status (meant for 500, 502 or 503) with a Webex JSON error body.
    ServerError(u16),
    /// 504, which Webex documents as "reduce `max`".
    GatewayTimeout,
    /// Waits this long (real time), then answers normally.
    Slow(Duration),
    /// 200 with a JSON content type whose body stops halfway: the connection is cut.
    Truncated,
    /// 401 as for an expired access token.
    Expired,
    /// Never answers: the client's timeout is what ends the request. Logged when it starts
    /// hanging (status 0), since the client going away ends it unseen.
    Hang,
    /// `status` (429, 423 or a 5xx) with `Retry-After` exactly as given, however absurd:
    /// `18446744073709551615`, `-1`, a date in the year 9999, `soon`.
    RetryAfterText { status: u16, value: String },
    /// 200 with a body of `bytes` bytes (an empty page padded with spaces), sent in chunks
    /// without a `Content-Length`, so only counting tells it is too large.
    OversizedPage { bytes: u64 },
    /// 200 with a chunked body that never ends.
    EndlessPage,
    /// 200 declaring this `Content-Length`, then sending spaces until the client hangs up.
    DeclaredLength(u64),
    /// The page as usual, with `Link: <url>; rel="next"` naming this URL instead of the next
    /// page: another host, a downgrade, `/v1/people/me`.
    Link(String),
    /// The page as usual, with a `Link` to the very URL just requested.
    LinkToSelf,
    /// The page as usual, with a `Link` to the URL of the request before this one.
    LinkToPrevious,
}

impl Fault {
    /// The name recorded in `RequestLog::fault`.
    pub fn name(&self) -> String {
        match self {
            Fault::TooManyRequests { .. } => "TooManyRequests".to_owned(),
            Fault::Locked { .. } => "Locked".to_owned(),
            Fault::ServerError(status) => format!("ServerError({status})"),
            Fault::GatewayTimeout => "GatewayTimeout".to_owned(),
            Fault::Slow(_) => "Slow".to_owned(),
            Fault::Truncated => "Truncated".to_owned(),
            Fault::Expired => "Expired".to_owned(),
            Fault::Hang => "Hang".to_owned(),
            Fault::RetryAfterText { .. } => "RetryAfterText".to_owned(),
            Fault::OversizedPage { .. } => "OversizedPage".to_owned(),
            Fault::EndlessPage => "EndlessPage".to_owned(),
            Fault::DeclaredLength(_) => "DeclaredLength".to_owned(),
            Fault::Link(_) => "Link".to_owned(),
            Fault::LinkToSelf => "LinkToSelf".to_owned(),
            Fault::LinkToPrevious => "LinkToPrevious".to_owned(),
        }
    }
}

#[derive(Debug)]
struct RandomFaults {
    seed: u64,
    probability: f64,
    kinds: Vec<Fault>,
    draws: u64,
}

/// Scripted faults first, in order; then random ones. Faults aimed at one of the other APIs
/// wait for a request to it; the rest go to whichever event request comes next.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    scripted: VecDeque<Fault>,
    aimed: HashMap<Api, VecDeque<Fault>>,
    random: Option<RandomFaults>,
}

impl FaultPlan {
    pub(crate) fn push(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.scripted.extend(faults);
    }

    pub(crate) fn push_for(&mut self, api: Api, faults: impl IntoIterator<Item = Fault>) {
        self.aimed.entry(api).or_default().extend(faults);
    }

    /// The fault for the next request to `api`: one aimed at it, else as [`FaultPlan::next`].
    pub(crate) fn next_for(&mut self, api: Api) -> Option<Fault> {
        let aimed = self.aimed.get_mut(&api).and_then(VecDeque::pop_front);
        aimed.or_else(|| self.next())
    }

    /// Each later request draws from a generator seeded by `seed` and the number of draws so
    /// far, so a run with the same request sequence meets the same faults.
    pub(crate) fn set_random(&mut self, seed: u64, probability: f64, kinds: Vec<Fault>) {
        self.random = Some(RandomFaults {
            seed,
            probability: if probability.is_nan() {
                0.0
            } else {
                probability.clamp(0.0, 1.0)
            },
            kinds,
            draws: 0,
        });
    }

    pub(crate) fn clear(&mut self) {
        *self = FaultPlan::default();
    }

    /// The fault for the next request, if any.
    pub(crate) fn next(&mut self) -> Option<Fault> {
        if let Some(fault) = self.scripted.pop_front() {
            return Some(fault);
        }
        let random = self.random.as_mut()?;
        random.draws += 1;
        let mut rng = rng_for(&[random.seed, random.draws]);
        if random.kinds.is_empty() || rng.f64() >= random.probability {
            return None;
        }
        Some(random.kinds[rng.usize(..random.kinds.len())].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_come_first_in_order_then_stop() {
        let mut plan = FaultPlan::default();
        plan.push([Fault::GatewayTimeout, Fault::ServerError(503)]);
        assert_eq!(plan.next(), Some(Fault::GatewayTimeout));
        assert_eq!(plan.next(), Some(Fault::ServerError(503)));
        assert_eq!(plan.next(), None);
    }

    #[test]
    fn random_faults_are_deterministic_and_about_as_frequent_as_asked() {
        let draw = |seed| {
            let mut plan = FaultPlan::default();
            plan.set_random(seed, 0.25, vec![Fault::Truncated, Fault::Expired]);
            (0..4_000).map(|_| plan.next()).collect::<Vec<_>>()
        };
        let run = draw(5);
        assert_eq!(run, draw(5));
        assert_ne!(run, draw(6));
        let hits = run.iter().filter(|f| f.is_some()).count();
        assert!((850..1_150).contains(&hits), "{hits}");
        assert!(run.contains(&Some(Fault::Truncated)) && run.contains(&Some(Fault::Expired)));
    }

    #[test]
    fn scripted_faults_take_precedence_over_random_and_clear_resets() {
        let mut plan = FaultPlan::default();
        plan.set_random(1, 1.0, vec![Fault::Expired]);
        plan.push([Fault::Truncated]);
        assert_eq!(plan.next(), Some(Fault::Truncated));
        assert_eq!(plan.next(), Some(Fault::Expired));
        plan.clear();
        assert_eq!(plan.next(), None);
    }

    #[test]
    fn aimed_faults_wait_for_their_api() {
        let mut plan = FaultPlan::default();
        plan.push_for(Api::GeneralB, [Fault::Truncated]);
        plan.push([Fault::Expired]);
        assert_eq!(plan.next_for(Api::GeneralA), Some(Fault::Expired));
        assert_eq!(
            plan.next(),
            None,
            "the Webex endpoints never take an aimed fault"
        );
        assert_eq!(plan.next_for(Api::GeneralB), Some(Fault::Truncated));
        assert_eq!(plan.next_for(Api::GeneralB), None);
    }

    #[test]
    fn names_say_which_fault() {
        assert_eq!(Fault::ServerError(502).name(), "ServerError(502)");
        assert_eq!(Fault::Locked { retry_after_s: 3 }.name(), "Locked");
        assert_eq!(Fault::Slow(Duration::from_millis(5)).name(), "Slow");
        assert_eq!(Fault::Hang.name(), "Hang");
        assert_eq!(
            Fault::RetryAfterText {
                status: 429,
                value: "-1".into()
            }
            .name(),
            "RetryAfterText"
        );
        assert_eq!(Fault::Link("https://evil.example/".into()).name(), "Link");
    }
}
