//! One fault-injection mechanism for every in-memory adapter. Each port call is counted (from
//! 1, across all adapters sharing the [`Faults`]) and named (`save_cursor`, `put_if_absent`,
//! `fetch_page`, ...); a [`Trigger`] picks calls, a [`Fault`] says what becomes of them, an
//! [`Effect`] whether the call's effect happened before it failed (the answer was lost).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::lock;
use crate::ports::{SinkError, SourceError, StoreError, TokenError};

/// Which calls a rule picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The `k`-th port call (counted from 1 since the last [`Faults::reset`]).
    Call(u64),
    /// Every call named `name` after its first `after` (0: every one).
    NamedAfter { name: &'static str, after: u64 },
}

/// What becomes of a picked call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call fails; later calls go on as usual.
    Fail,
    /// The call fails and so does every later one until [`Faults::reset`]: the process died
    /// there. The test then drops the collector and starts a fresh one over the same state.
    Crash,
}

/// Whether a failing call's effect happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing was done (the request never arrived).
    Before,
    /// The write was done and the answer was lost (a timeout, or death right after).
    After,
}

#[derive(Clone, Copy, Debug)]
struct Rule {
    trigger: Trigger,
    fault: Fault,
    effect: Effect,
}

/// The failure an adapter reports for an injected fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("injected fault at port call {number} ({name})")]
pub struct Injected {
    pub name: &'static str,
    pub number: u64,
}

impl Injected {
    pub fn store(self) -> StoreError {
        StoreError::Unavailable {
            operation: self.name,
            source: Box::new(self),
        }
    }

    pub fn sink(self, key: &str) -> SinkError {
        SinkError {
            operation: self.name,
            key: key.to_string(),
            source: Box::new(self),
        }
    }

    pub fn source(self) -> SourceError {
        SourceError::Exhausted {
            attempts: 1,
            last: self.to_string(),
        }
    }

    pub fn token(self) -> TokenError {
        TokenError::Failed(self.to_string())
    }
}

/// Shared by the adapters of one test (each holds an `Arc<Faults>`).
#[derive(Debug, Default)]
pub struct Faults {
    calls: AtomicU64,
    crashed: AtomicBool,
    rules: Mutex<Vec<Rule>>,
    by_name: Mutex<HashMap<&'static str, u64>>,
    log: Mutex<Vec<&'static str>>,
}

/// One counted call: what to do before and after its effect.
#[derive(Debug)]
#[must_use = "a call must check `before` and `after`"]
pub struct Call {
    injected: Injected,
    fail_before: bool,
    fail_after: bool,
}

impl Call {
    /// `Err` when the call fails before its effect.
    pub fn before(&self) -> Result<(), Injected> {
        if self.fail_before {
            return Err(self.injected.clone());
        }
        Ok(())
    }

    /// `Err` when the call fails after its effect.
    pub fn after(&self) -> Result<(), Injected> {
        if self.fail_after {
            return Err(self.injected.clone());
        }
        Ok(())
    }
}

impl Faults {
    /// Fails the `k`-th call; later calls go on.
    pub fn fail_call(&self, k: u64, effect: Effect) {
        self.add(Trigger::Call(k), Fault::Fail, effect);
    }

    /// Kills the process at the `k`-th call: it and every later call fail.
    pub fn crash_at(&self, k: u64, effect: Effect) {
        self.add(Trigger::Call(k), Fault::Crash, effect);
    }

    /// Fails every call named `name` after its first `after`.
    pub fn fail_named_after(&self, name: &'static str, after: u64) {
        self.add(
            Trigger::NamedAfter { name, after },
            Fault::Fail,
            Effect::Before,
        );
    }

    pub fn add(&self, trigger: Trigger, fault: Fault, effect: Effect) {
        lock(&self.rules).push(Rule {
            trigger,
            fault,
            effect,
        });
    }

    /// Forgets the rules, the crash and the counts: a fresh start over the same state.
    pub fn reset(&self) {
        lock(&self.rules).clear();
        lock(&self.by_name).clear();
        lock(&self.log).clear();
        self.calls.store(0, Ordering::SeqCst);
        self.crashed.store(false, Ordering::SeqCst);
    }

    /// Port calls since the last reset.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Calls named `name` since the last reset.
    pub fn calls_named(&self, name: &str) -> u64 {
        lock(&self.by_name).get(name).copied().unwrap_or(0)
    }

    /// The names of the calls since the last reset, in order (call `k` is at `k - 1`).
    pub fn log(&self) -> Vec<&'static str> {
        lock(&self.log).clone()
    }

    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Counts a call named `name` and decides its fate; adapters call this first.
    pub fn enter(&self, name: &'static str) -> Call {
        let number = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let of_name = {
            let mut by_name = lock(&self.by_name);
            let count = by_name.entry(name).or_default();
            *count += 1;
            *count
        };
        lock(&self.log).push(name);
        let injected = Injected { name, number };
        if self.crashed() {
            return Call {
                injected,
                fail_before: true,
                fail_after: false,
            };
        }
        let rule = lock(&self.rules)
            .iter()
            .find(|rule| match rule.trigger {
                Trigger::Call(k) => k == number,
                Trigger::NamedAfter { name: n, after } => n == name && of_name > after,
            })
            .copied();
        let Some(rule) = rule else {
            return Call {
                injected,
                fail_before: false,
                fail_after: false,
            };
        };
        if rule.fault == Fault::Crash {
            self.crashed.store(true, Ordering::SeqCst);
        }
        Call {
            injected,
            fail_before: rule.effect == Effect::Before,
            fail_after: rule.effect == Effect::After,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fate(faults: &Faults, name: &'static str) -> (bool, bool) {
        let call = faults.enter(name);
        (call.before().is_err(), call.after().is_err())
    }

    #[test]
    fn picks_the_calls_the_rules_name() {
        let faults = Faults::default();
        faults.fail_call(2, Effect::After);
        faults.fail_named_after("get", 1);
        let fates: Vec<_> = ["get", "put", "get", "put", "get"]
            .into_iter()
            .map(|name| fate(&faults, name))
            .collect();
        assert_eq!(
            fates,
            [
                (false, false),
                (false, true),
                (true, false),
                (false, false),
                (true, false)
            ]
        );
        assert_eq!(faults.calls(), 5);
        assert_eq!(faults.calls_named("get"), 3);
        assert!(!faults.crashed());
    }

    #[test]
    fn a_crash_fails_every_later_call_until_reset() {
        let faults = Faults::default();
        faults.crash_at(2, Effect::Before);
        assert_eq!(fate(&faults, "a"), (false, false));
        assert_eq!(fate(&faults, "b"), (true, false));
        assert_eq!(fate(&faults, "c"), (true, false));
        assert!(faults.crashed());
        faults.reset();
        assert_eq!(fate(&faults, "d"), (false, false));
        assert_eq!(faults.log(), ["d"]);
    }
}
