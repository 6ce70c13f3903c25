//! The state every handler and the `Simulator` handle share: one struct behind one `Arc`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::apis::client_tokens::ClientTokens;
use crate::apis::config::ApiConfig;
use crate::apis::feeds::FeedStore;
use crate::apis::snapshots::Snapshots;
use crate::clock::{Clock, duration_ms};
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
    /// Real-time origin of the rate limits that run on real time.
    started: Instant,
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
    /// The other APIs' settings, changeable while serving (`Simulator::configure_apis`).
    pub apis: ApiConfig,
    pub feeds: FeedStore,
    /// The state behind `$skiptoken`, `page_token` and `cursor` values handed out.
    pub snapshots: Snapshots,
    pub client_tokens: ClientTokens,
    pub webhooks: crate::webhooks_api::WebhookStore,
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
            started: Instant::now(),
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
                apis: config.apis.clone(),
                feeds: FeedStore::new(config.seed),
                snapshots: Snapshots::new(config.seed),
                client_tokens: ClientTokens::new(config.seed),
                webhooks: Default::default(),
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

    /// Real-time milliseconds since the simulator started, for real-time rate limits.
    pub(crate) fn monotonic_ms(&self) -> i64 {
        duration_ms(self.started.elapsed())
    }

    /// The part of the base URL before its path: `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> &str {
        let base_url = &self.base_url;
        let path_at = base_url
            .find("://")
            .and_then(|scheme_end| {
                base_url[scheme_end + 3..]
                    .find('/')
                    .map(|i| scheme_end + 3 + i)
            })
            .unwrap_or(base_url.len());
        &base_url[..path_at]
    }

    pub(crate) fn next_tracking_id(&self) -> String {
        format!("SIM_{}", self.tracking.fetch_add(1, Ordering::Relaxed) + 1)
    }
}
