//! The state every handler and the `Simulator` handle share: one struct behind one `Arc`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::SimConfig;
use crate::events::EventStore;
use crate::faults::FaultPlan;
use crate::log::{LogEntry, RequestLogBook, TokenRequestLog};
use crate::orgs::{OrgDirectory, SimOrg};
use crate::person::SimPerson;
use crate::ratelimit::RateLimiter;
use crate::tokens::{Lifetimes, TokenStore};

#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SimConfig,
    /// `http://127.0.0.1:PORT/v1`, used in `Link` headers.
    pub base_url: String,
    pub clock: Clock,
    tracking: AtomicU64,
    inner: Mutex<Inner>,
}

/// Everything that changes, under one lock. Handlers hold it briefly and never across an
/// `.await`.
#[derive(Debug)]
pub(crate) struct Inner {
    pub events: EventStore,
    pub orgs: OrgDirectory,
    pub tokens: TokenStore,
    pub faults: FaultPlan,
    pub limiter: RateLimiter,
    pub requests: RequestLogBook,
    pub token_requests: Vec<TokenRequestLog>,
    pub deny_next_authorization: bool,
    /// Who consents at the next `/authorize`; the org's administrator when `None`.
    pub next_consenting_person: Option<SimPerson>,
    /// Real-time delays for the next token requests, one each, in order.
    pub token_delays: VecDeque<Duration>,
    /// The same for refreshes only (`grant_type=refresh_token`); code exchanges go through.
    pub refresh_delays: VecDeque<Duration>,
    /// Real-time delays for the next `/people/me` requests, one each, in order.
    pub people_delays: VecDeque<Duration>,
}

impl Shared {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Shared {
        let lifetimes = Lifetimes {
            access: config.access_token_ttl,
            refresh: config.refresh_token_ttl,
            rotate_refresh: config.rotate_refresh_tokens,
        };
        Shared {
            clock: Clock::new(&config.clock),
            tracking: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                events: EventStore::new(config.seed),
                orgs: OrgDirectory::new(SimOrg::home(&config.org_id)),
                tokens: TokenStore::new(config.seed, lifetimes),
                faults: FaultPlan::default(),
                limiter: RateLimiter::default(),
                requests: RequestLogBook::default(),
                token_requests: Vec::new(),
                deny_next_authorization: false,
                next_consenting_person: None,
                token_delays: VecDeque::new(),
                refresh_delays: VecDeque::new(),
                people_delays: VecDeque::new(),
            }),
            config,
            base_url,
        }
    }

    /// A panic in one handler must not take the whole simulator down with a poisoned lock;
    /// the state is still consistent because every update is a single step.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn log(&self, entry: LogEntry) {
        self.lock().requests.push(entry);
    }

    pub(crate) fn next_tracking_id(&self) -> String {
        format!("SIM_{}", self.tracking.fetch_add(1, Ordering::Relaxed) + 1)
    }
}
