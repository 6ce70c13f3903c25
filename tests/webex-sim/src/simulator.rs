//! The handle tests hold: start a server, script its data and misbehaviour, read its logs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::apis::client_tokens::{Audience, ClientGrant};
use crate::apis::config::ApiConfig;
use crate::apis::{Api, ApiEvent};
use crate::config::{SimConfig, Stream};
use crate::events::{GenerateSpec, SimEvent};
use crate::faults::Fault;
use crate::log::{RequestLog, RequestSummary, TokenRequestLog};
use crate::orgs::SimOrg;
use crate::person::SimPerson;
use crate::server;
use crate::state::Shared;
use crate::tokens::Grant;

/// How long `stop` waits for in-flight requests (a `Slow` fault, say) before cutting them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running simulator on `127.0.0.1`. Dropping it shuts the server down; `stop` also waits
/// for it to finish.
pub struct Simulator {
    shared: Arc<Shared>,
    port: u16,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `127.0.0.1` on a free port and serves in a spawned task.
    pub async fn start(config: SimConfig) -> anyhow::Result<Simulator> {
        Simulator::start_on(config, 0).await
    }

    /// Like [`Simulator::start`] on a chosen port (0 for a free one).
    pub async fn start_on(config: SimConfig, port: u16) -> anyhow::Result<Simulator> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("webex-sim could not listen on 127.0.0.1:{port}"))?;
        let port = listener
            .local_addr()
            .context("webex-sim could not read its listening address")?
            .port();
        let base = base_url(port, &config.mount);
        let shared = Arc::new(Shared::new(config, base));
        let (shutdown, stop) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, shared.clone(), stop));
        tracing::debug!(port, "webex-sim started");
        Ok(Simulator {
            shared,
            port,
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT/v1` (under the mount, if any), without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Graceful shutdown: stops accepting, lets requests in flight finish (for at most a few
    /// seconds), and waits for the server task.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Sim-clock time in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Sets the manual clock; ignored with `ClockMode::System`.
    pub fn set_now_ms(&self, ms: i64) {
        self.shared.clock.set_ms(ms);
    }

    /// Moves the manual clock forward; ignored with `ClockMode::System`.
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Appends deterministic events to the home org's `stream` (from the seed, the org, the
    /// stream and how many it already holds) and returns the new ones.
    ///
    /// # Panics
    /// When `spec.count > 0` and `spec.to_ms <= spec.from_ms`.
    pub fn generate(&self, stream: Stream, spec: GenerateSpec) -> Vec<SimEvent> {
        self.generate_for_org(&self.shared.config.org_id, stream, spec)
    }

    /// Like [`Simulator::generate`] for any registered org (see [`Simulator::add_org`]);
    /// each org gets its own events, their JSON naming that org.
    ///
    /// # Panics
    /// When the org is not registered, or `spec.count > 0` and `spec.to_ms <= spec.from_ms`.
    pub fn generate_for_org(
        &self,
        org_id: &str,
        stream: Stream,
        spec: GenerateSpec,
    ) -> Vec<SimEvent> {
        let org = self.registered(org_id);
        self.shared.lock().events.generate(&org, stream, &spec)
    }

    /// Like [`Simulator::generate`] without returning the new events (rendering millions of
    /// them would take a while); returns how many the stream holds now.
    ///
    /// # Panics
    /// When `spec.count > 0` and `spec.to_ms <= spec.from_ms`.
    pub fn add_events(&self, stream: Stream, spec: GenerateSpec) -> usize {
        self.add_events_for_org(&self.shared.config.org_id, stream, spec)
    }

    /// Like [`Simulator::add_events`] for any registered org.
    ///
    /// # Panics
    /// When the org is not registered, or `spec.count > 0` and `spec.to_ms <= spec.from_ms`.
    pub fn add_events_for_org(&self, org_id: &str, stream: Stream, spec: GenerateSpec) -> usize {
        let org = self.registered(org_id);
        let mut inner = self.shared.lock();
        inner.events.append(&org, stream, &spec);
        inner.events.len(org_id, stream)
    }

    /// Everything the home org's stream holds, visible yet or not, in generation order.
    pub fn events(&self, stream: Stream) -> Vec<SimEvent> {
        self.events_for_org(&self.shared.config.org_id, stream)
    }

    /// Everything `org_id`'s stream holds, visible yet or not, in generation order.
    pub fn events_for_org(&self, org_id: &str, stream: Stream) -> Vec<SimEvent> {
        self.shared.lock().events.events(org_id, stream)
    }

    /// How many events `org_id`'s stream holds, without rendering them.
    pub fn event_count_for_org(&self, org_id: &str, stream: Stream) -> usize {
        self.shared.lock().events.len(org_id, stream)
    }

    /// Registers another organisation (a customer org, say [`SimOrg::customer`]). Registering
    /// the same org again is harmless.
    ///
    /// # Panics
    /// When another org is registered under the same id.
    pub fn add_org(&self, org: SimOrg) {
        let added = self.shared.lock().orgs.add(org);
        if let Err(message) = added {
            panic!("webex-sim: {message}");
        }
    }

    /// Every registered org, the home org first.
    pub fn orgs(&self) -> Vec<SimOrg> {
        self.shared.lock().orgs.all().to_vec()
    }

    /// The home org's administrator: who consents at `/authorize` unless
    /// [`Simulator::sign_in_next_as`] says otherwise, and whom `issue_*_token` tokens belong to.
    pub fn admin(&self) -> SimPerson {
        SimPerson::admin_of(&self.shared.config)
    }

    /// Makes `partner` a partner administrator managing exactly these registered orgs, from
    /// now on and for tokens already issued (an empty list: an ordinary administrator again,
    /// as when a partner loses its customers). Their tokens then list those orgs in
    /// `GET /organizations` and may name them as `orgId` in audit requests.
    ///
    /// # Panics
    /// When one of the orgs is not registered.
    pub fn set_managed_orgs<I, S>(&self, partner: &SimPerson, org_ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let org_ids = org_ids.into_iter().map(Into::into).collect();
        let set = self.shared.lock().orgs.set_managed(partner, org_ids);
        if let Err(message) = set {
            panic!("webex-sim: {message}");
        }
    }

    /// Event requests for `org_id` on these streams answer 403 from now on (the partner lost
    /// access: all streams; the org lacks Pro Pack: `SecurityAudit`), until
    /// [`Simulator::restore_org`]. For compliance events, the org is the token's own.
    pub fn refuse_org(&self, org_id: &str, streams: &[Stream]) {
        self.shared.lock().orgs.refuse(org_id, streams);
    }

    /// Ends every refusal of [`Simulator::refuse_org`] for `org_id`.
    pub fn restore_org(&self, org_id: &str) {
        self.shared.lock().orgs.restore(org_id);
    }

    /// A valid refresh token for the configured client with these scopes, of the home org's
    /// administrator.
    pub fn issue_refresh_token(&self, scopes: &[&str]) -> String {
        self.issue_refresh_token_as(&self.admin(), scopes)
    }

    /// A valid refresh token of `person` (a partner administrator, an admin of a customer
    /// org, ...) for the configured client with these scopes.
    pub fn issue_refresh_token_as(&self, person: &SimPerson, scopes: &[&str]) -> String {
        let now_ms = self.now_ms();
        let grant = self.grant(person, scopes);
        self.shared.lock().tokens.issue_refresh(grant, now_ms)
    }

    /// Registers a refresh token of the caller's choosing (the demo binary seeds known ones),
    /// of the home org's administrator.
    pub fn seed_refresh_token(&self, token: &str, scopes: &[&str]) {
        let now_ms = self.now_ms();
        let grant = self.grant(&self.admin(), scopes);
        self.shared
            .lock()
            .tokens
            .insert_refresh(token.to_owned(), grant, now_ms);
    }

    /// An access token of the home org's administrator for the configured client, valid for
    /// `ttl` of sim-clock time.
    pub fn issue_access_token(&self, scopes: &[&str], ttl: Duration) -> String {
        self.issue_access_token_as(&self.admin(), scopes, ttl)
    }

    /// An access token of `person` for the configured client, valid for `ttl` of sim-clock
    /// time. Compliance requests with it read `person.org_id`'s events.
    pub fn issue_access_token_as(
        &self,
        person: &SimPerson,
        scopes: &[&str],
        ttl: Duration,
    ) -> String {
        let now_ms = self.now_ms();
        let grant = self.grant(person, scopes);
        self.shared.lock().tokens.issue_access(grant, now_ms, ttl)
    }

    pub fn refresh_token_is_valid(&self, token: &str) -> bool {
        let now_ms = self.now_ms();
        self.shared.lock().tokens.refresh_is_valid(token, now_ms)
    }

    /// When a refresh with `token` rotated it out: the refresh token and the access token that
    /// exchange answered with. Lets a test tell a grant lost on its way to the client's store
    /// from one the client never asked for.
    pub fn replacement_of(&self, token: &str) -> Option<(String, String)> {
        self.shared.lock().tokens.replacement_of(token)
    }

    /// Every refresh token held now is refused (`invalid_grant`) from now on; tokens issued
    /// later (a new authorisation) work.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.lock().tokens.revoke_all_refresh();
    }

    /// The next authenticated event-endpoint requests get these faults, one each, in order:
    /// Webex's, and those of the other APIs that have no fault of their own waiting
    /// ([`Simulator::push_api_faults`]).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.push(faults);
    }

    /// Each later event request (with no scripted fault left) gets one of `kinds` with this
    /// probability, chosen deterministically from `seed` and the request count.
    pub fn set_random_faults(&self, seed: u64, probability: f64, kinds: Vec<Fault>) {
        self.shared
            .lock()
            .faults
            .set_random(seed, probability, kinds);
    }

    /// Drops scripted and random faults.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request served by the event endpoints, the category list, `people/me`, the
    /// organizations list, and every endpoint of the other APIs.
    pub fn requests(&self) -> Vec<RequestLog> {
        let inner = self.shared.lock();
        inner
            .requests
            .entries()
            .iter()
            .map(|e| e.to_public())
            .collect()
    }

    /// Totals over [`Simulator::requests`], without copying the log: among them how many
    /// 429s the rate limit answered (`rate_limited`).
    pub fn request_summary(&self) -> RequestSummary {
        self.shared.lock().requests.summary().clone()
    }

    pub fn token_requests(&self) -> Vec<TokenRequestLog> {
        self.shared.lock().token_requests.clone()
    }

    /// The next `/authorize` redirects with `error=access_denied`, as when the user declines.
    pub fn deny_next_authorization(&self) {
        self.shared.lock().deny_next_authorization = true;
    }

    /// The next `/authorize` is accepted by `person` (another person of the org, or an account
    /// of another org) instead of the org's administrator; `/people/me` then describes them.
    pub fn sign_in_next_as(&self, person: SimPerson) {
        self.shared.lock().next_consenting_person = Some(person);
    }

    /// The next token requests (refresh or code exchange) each wait this long (real time)
    /// before they are answered, one delay each, in order.
    pub fn delay_token_requests(&self, delays: impl IntoIterator<Item = Duration>) {
        self.shared.lock().token_delays.extend(delays);
    }

    /// The next refreshes (`grant_type=refresh_token`) each wait this long (real time) before
    /// they are answered; code exchanges are not held up.
    pub fn delay_refreshes(&self, delays: impl IntoIterator<Item = Duration>) {
        self.shared.lock().refresh_delays.extend(delays);
    }

    /// Drops the delays scripted for token and `/people/me` requests that no request took.
    pub fn clear_delays(&self) {
        let mut inner = self.shared.lock();
        inner.token_delays.clear();
        inner.refresh_delays.clear();
        inner.people_delays.clear();
    }

    /// The next `/people/me` requests each wait this long (real time), in order.
    pub fn delay_people_requests(&self, delays: impl IntoIterator<Item = Duration>) {
        self.shared.lock().people_delays.extend(delays);
    }

    /// `http://127.0.0.1:PORT`, the origin the other APIs are served from, each under its own
    /// prefix (see [`Api::path`]).
    pub fn origin(&self) -> String {
        self.shared.origin().to_owned()
    }

    /// The full URL of `api`'s endpoint, e.g. `http://127.0.0.1:PORT/amp/v1/events`.
    pub fn api_url(&self, api: Api) -> String {
        format!("{}{}", self.shared.origin(), api.path())
    }

    /// Graph's client-credentials token URL for `tenant`
    /// (`http://127.0.0.1:PORT/login/{tenant}/oauth2/v2.0/token`).
    pub fn graph_token_url(&self, tenant: &str) -> String {
        format!("{}/login/{tenant}/oauth2/v2.0/token", self.shared.origin())
    }

    /// General C's token URL (`http://127.0.0.1:PORT/gen-c/oauth/token`).
    pub fn general_c_token_url(&self) -> String {
        format!("{}/gen-c/oauth/token", self.shared.origin())
    }

    /// The other APIs' settings as they are now.
    pub fn api_config(&self) -> ApiConfig {
        self.shared.lock().apis.clone()
    }

    /// Changes the other APIs' settings from the next request on: rotate a key, drop a
    /// tenant's licence, turn Graph's `Retry-After` off, shorten a token lifetime...
    /// Every webhook, in id order.
    pub fn webhooks(&self) -> Vec<crate::SimWebhook> {
        self.shared
            .lock()
            .webhooks
            .items
            .values()
            .cloned()
            .collect()
    }

    /// Sets a webhook's status as Webex would (`disabled` after failed deliveries).
    pub fn set_webhook_status(&self, id: &str, status: &str) {
        if let Some(webhook) = self.shared.lock().webhooks.items.get_mut(id) {
            webhook.status = status.to_string();
        }
    }

    /// Posts a `resource` `event` delivery by `actor_id` with `data` to every active webhook
    /// it fires, signed with each one's secret, trying each up to `attempts` times until a 2xx.
    /// Each failed attempt counts toward disabling its webhook, as at Webex.
    pub async fn deliver(
        &self,
        resource: &str,
        event: &str,
        actor_id: &str,
        data: &serde_json::Value,
        attempts: u32,
    ) -> Vec<crate::Posted> {
        let firing: Vec<crate::SimWebhook> = self
            .webhooks()
            .into_iter()
            .filter(|w| w.fires_on(resource, event))
            .collect();
        let client = reqwest::Client::new();
        let mut posted = Vec::new();
        for webhook in firing {
            let (body, signature) = webhook.delivery(resource, event, actor_id, data);
            let mut answers = Vec::new();
            for _ in 0..attempts.max(1) {
                let mut request = client
                    .post(&webhook.target_url)
                    .header("content-type", "application/json")
                    .timeout(std::time::Duration::from_secs(10))
                    .body(body.clone());
                if let Some(signature) = &signature {
                    request = request.header("x-spark-signature", signature);
                }
                let status = request.send().await.ok().map(|r| r.status().as_u16());
                answers.push(status);
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    break;
                }
                let now_ms = self.shared.clock.now_ms();
                self.shared.lock().webhooks.failed(&webhook.id, now_ms);
            }
            posted.push(crate::Posted {
                webhook_id: webhook.id,
                body,
                attempts: answers,
            });
        }
        posted
    }

    pub fn configure_apis(&self, change: impl FnOnce(&mut ApiConfig)) {
        change(&mut self.shared.lock().apis);
    }

    /// Appends deterministic events to `api`'s feed (Graph: the first configured tenant's)
    /// and returns the new ones, each with the exact JSON its pages serve.
    ///
    /// # Panics
    /// When `spec.count > 0` and `spec.to_ms <= spec.from_ms`.
    pub fn generate_api(&self, api: Api, spec: GenerateSpec) -> Vec<ApiEvent> {
        let tenant = self.default_tenant(api);
        self.generate_api_for_tenant(&tenant, api, spec)
    }

    /// Like [`Simulator::generate_api`] for one Graph tenant; the other APIs have no tenants
    /// and ignore it.
    ///
    /// # Panics
    /// When `spec.count > 0` and `spec.to_ms <= spec.from_ms`.
    pub fn generate_api_for_tenant(
        &self,
        tenant: &str,
        api: Api,
        spec: GenerateSpec,
    ) -> Vec<ApiEvent> {
        let tenant = if api.is_graph() { tenant } else { "" };
        self.shared.lock().feeds.generate(api, tenant, &spec)
    }

    /// Everything `api`'s feed holds (Graph: the first configured tenant's), visible yet or
    /// not, in generation order.
    pub fn api_events(&self, api: Api) -> Vec<ApiEvent> {
        let tenant = self.default_tenant(api);
        self.api_events_for_tenant(&tenant, api)
    }

    /// Like [`Simulator::api_events`] for one Graph tenant.
    pub fn api_events_for_tenant(&self, tenant: &str, api: Api) -> Vec<ApiEvent> {
        let tenant = if api.is_graph() { tenant } else { "" };
        self.shared.lock().feeds.events(api, tenant)
    }

    /// The next requests to `api` (after authentication and rate limits) get these faults,
    /// one each, in order, before any fault of [`Simulator::push_faults`].
    pub fn push_api_faults(&self, api: Api, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.push_for(api, faults);
    }

    /// A Graph access token of the configured app for `tenant`, valid for the configured TTL,
    /// as the token endpoint would issue it.
    pub fn issue_graph_token(&self, tenant: &str) -> String {
        let now_ms = self.now_ms();
        let mut inner = self.shared.lock();
        let grant = ClientGrant {
            client_id: inner.apis.graph.client_id.clone(),
            audience: Audience::Graph {
                tenant: tenant.to_owned(),
            },
        };
        let ttl = inner.apis.graph.token_ttl;
        inner.client_tokens.issue(grant, now_ms, ttl)
    }

    /// A General C access token of the configured client, valid for the configured TTL.
    pub fn issue_general_c_token(&self) -> String {
        let now_ms = self.now_ms();
        let mut inner = self.shared.lock();
        let grant = ClientGrant {
            client_id: inner.apis.general_c.client_id.clone(),
            audience: Audience::GeneralC,
        };
        let ttl = inner.apis.general_c.token_ttl;
        inner.client_tokens.issue(grant, now_ms, ttl)
    }

    fn default_tenant(&self, api: Api) -> String {
        if api.is_graph() {
            self.shared.lock().apis.graph.default_tenant().to_owned()
        } else {
            String::new()
        }
    }

    fn grant(&self, person: &SimPerson, scopes: &[&str]) -> Grant {
        Grant {
            client_id: self.shared.config.client_id.clone(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            person: person.clone(),
        }
    }

    fn registered(&self, org_id: &str) -> SimOrg {
        let org = self.shared.lock().orgs.get(org_id).cloned();
        org.unwrap_or_else(|| {
            panic!(
                "webex-sim: organization '{org_id}' is not registered; add it with Simulator::add_org first"
            )
        })
    }
}

/// Shows where the simulator listens, never its tokens or events.
impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn base_url(port: u16, mount: &str) -> String {
    format!("http://127.0.0.1:{port}{mount}/v1")
}
