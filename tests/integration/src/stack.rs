//! One test's world: a Webex simulator, fresh AWS resources in the emulator (optionally behind
//! the fault proxy), and collectors wired to them exactly as a Lambda wires itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use collector_app::{Config, StreamCollector, build_collector, run_once};
use collector_core::cursor::{Cursor, CursorKey, DigestAt};
use collector_core::ports::{Clock, CursorStore};
use collector_core::recent_ids::RecentIds;
use collector_core::{CollectError, IdentityName, RunSummary, StopReason, StreamId, Timestamp};
use tokio::time::Instant;
use webex_sim::{SimConfig, Simulator};

use crate::aws;
use crate::fault_proxy::FaultProxy;
use crate::verify::StoredObject;

/// The collector's clock is the simulator's, so tests move time for both at once.
#[derive(Clone)]
pub struct SimTime(pub Arc<Simulator>);

impl Clock for SimTime {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.now_ms())
    }
}

pub struct StackOptions {
    pub sim: SimConfig,
    /// Collector environment on top of the stack's own (e.g. `SETTLE_LAG_SECONDS`).
    pub env: Vec<(&'static str, String)>,
    /// Put the fault proxy between the collector and the emulator.
    pub fault_proxy: bool,
    /// Create the `admin` and `compliance` identities' secrets with a refresh token; `false`
    /// leaves them to
    /// `webexctl auth init` and the OAuth flow.
    pub authorised: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            sim: SimConfig::default(),
            env: vec![
                ("SETTLE_LAG_SECONDS", "120".into()),
                ("OVERLAP_SECONDS", "900".into()),
                ("MAX_WINDOW_SECONDS", "3600".into()),
                ("INITIAL_LOOKBACK_DAYS", "3".into()),
            ],
            fault_proxy: false,
            authorised: true,
        }
    }
}

pub struct Stack {
    pub sim: Arc<Simulator>,
    /// Straight to the emulator, for the tests' own checks.
    pub sdk: aws_config::SdkConfig,
    /// What the collectors use: through the proxy when there is one.
    pub collector_sdk: aws_config::SdkConfig,
    pub proxy: Option<FaultProxy>,
    pub bucket: String,
    pub table: String,
    pub env: HashMap<String, String>,
    /// Each identity's secret id, by identity name.
    secret_ids: HashMap<String, String>,
    seeded_secrets: Vec<String>,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Self> {
        crate::logs::capture();
        let endpoint = aws::endpoint()?;
        let sim = Arc::new(Simulator::start(options.sim).await?);
        let sdk = aws::sdk_config(&endpoint).await;
        let proxy = if options.fault_proxy {
            Some(FaultProxy::start(&endpoint).await?)
        } else {
            None
        };
        let collector_sdk = match &proxy {
            Some(p) => aws::sdk_config(&p.url()).await,
            None => sdk.clone(),
        };
        let id = format!("{:08x}", fastrand_u32());
        let bucket = format!("events-{id}");
        let table = format!("state-{id}");
        aws::create_bucket(&sdk, &bucket).await?;
        aws::create_table(&sdk, &table).await?;
        let mut secret_ids = HashMap::new();
        let mut seeded_secrets = vec![sim_client_secret(&sim)];
        for identity in [IdentityName::ADMIN, IdentityName::COMPLIANCE] {
            let name = format!("webex-{identity}-{id}");
            secret_ids.insert(identity.to_string(), name.clone());
            if !options.authorised {
                continue;
            }
            let scope = stream_scope(identity.as_str());
            let refresh_token = sim.issue_refresh_token(&[scope]);
            seeded_secrets.push(refresh_token.clone());
            let secret = serde_json::json!({
                "client_id": SIM_CLIENT_ID,
                "client_secret": sim_client_secret(&sim),
                "redirect_uri": "http://127.0.0.1/oauth/callback",
                "org_id": sim_org_id(&sim),
                "scopes": scope,
                "refresh_token": refresh_token,
            });
            aws::create_secret(&sdk, &name, &secret).await?;
        }
        let mut env: HashMap<String, String> = [
            ("STATE_TABLE", table.clone()),
            ("OUTPUT_BUCKET", bucket.clone()),
            ("OUTPUT_PREFIX", "webex/".into()),
            ("WEBEX_API_URL", sim.base_url()),
            ("S3_FORCE_PATH_STYLE", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in options.env {
            env.insert(k.to_string(), v);
        }
        Ok(Self {
            sim,
            sdk,
            collector_sdk,
            proxy,
            bucket,
            table,
            env,
            secret_ids,
            seeded_secrets,
        })
    }

    /// The secret id of `identity` (`admin`, `compliance`, or one added with
    /// [`Stack::add_identity`]).
    pub fn secret_id(&self, identity: &str) -> &str {
        self.secret_ids
            .get(identity)
            .unwrap_or_else(|| panic!("the stack has no identity {identity}"))
    }

    /// A third identity beside `admin` and `compliance`, with a secret id of its own (the
    /// secret itself is left to `webexctl auth init`); its secret id.
    pub fn add_identity(&mut self, identity: &str) -> String {
        let secret_id = format!("webex-{identity}-{}", self.table);
        self.secret_ids
            .insert(identity.to_string(), secret_id.clone());
        secret_id
    }

    /// The collector's environment for `stream`, as the template sets it.
    pub fn stream_env(&self, stream: StreamId) -> HashMap<String, String> {
        let mut env = self.env.clone();
        env.insert(
            "TOKEN_SECRET_ID".into(),
            self.secret_id(stream.spec().default_identity).to_string(),
        );
        env
    }

    /// What the OAuth callback and `webexctl auth`/`status` read without a document: the
    /// `admin` and `compliance` identities' secrets.
    pub fn identities_env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        env.insert("STATE_TABLE".to_string(), self.table.clone());
        env.insert(
            "ADMIN_SECRET_ID".to_string(),
            self.secret_id("admin").to_string(),
        );
        env.insert(
            "COMPLIANCE_SECRET_ID".to_string(),
            self.secret_id("compliance").to_string(),
        );
        env.insert("WEBEX_API_URL".to_string(), self.sim.base_url());
        env
    }

    pub fn identities_config(&self) -> Result<collector_app::IdentitiesConfig> {
        let env = self.identities_env();
        Ok(collector_app::IdentitiesConfig::from_lookup(
            |name| env.get(name).cloned(),
            None,
        )?)
    }

    pub fn operator(&self) -> Result<collector_app::operator::Operator<SimTime>> {
        Ok(collector_app::operator::Operator::new(
            self.identities_config()?,
            &self.collector_sdk,
            Arc::new(SimTime(self.sim.clone())),
        )?)
    }

    /// `webexctl auth init` of `identity` as an operator does it: the simulator's client, a
    /// loopback redirect URI and the simulator's organisation; not yet authorised.
    pub async fn install(&self, identity: &str) -> Result<()> {
        self.operator()?
            .auth_init(
                &IdentityName::parse(identity)?,
                SIM_CLIENT_ID,
                collector_core::secret::ClientSecret::new(sim_client_secret(&self.sim)),
                SIM_REDIRECT_URI,
                Some(&sim_org_id(&self.sim)),
            )
            .await?;
        Ok(())
    }

    pub fn callback(&self) -> Result<collector_app::callback::Callback<SimTime>> {
        Ok(collector_app::callback::Callback::new(
            &self.identities_config()?,
            &self.collector_sdk,
            Arc::new(SimTime(self.sim.clone())),
        )?)
    }

    /// The redirect as API Gateway hands it to the callback function.
    pub async fn call_back(
        &self,
        raw_query: &str,
    ) -> Result<collector_app::callback::HttpResponse> {
        let request = collector_app::callback::HttpRequest::new("GET", raw_query);
        let event = lambda_runtime::LambdaEvent::new(request, lambda_runtime::Context::default());
        Ok(self.callback()?.handle(event).await?)
    }

    /// The redirect as API Gateway hands it to a callback function with `timeout` (the
    /// template's `Timeout`): the invocation's deadline is that far from now, as Lambda sets it.
    pub async fn call_back_within(
        &self,
        raw_query: &str,
        timeout: Duration,
    ) -> Result<collector_app::callback::HttpResponse> {
        let request = collector_app::callback::HttpRequest::new("GET", raw_query);
        let mut context = lambda_runtime::Context::default();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis();
        context.deadline = u64::try_from(now_ms + timeout.as_millis())?;
        let event = lambda_runtime::LambdaEvent::new(request, context);
        Ok(self.callback()?.handle(event).await?)
    }

    /// Who holds `identity`'s token lock (`lock#token#{identity}`) now, if anyone.
    pub async fn token_lock_owner(&self, identity: &str) -> Result<Option<String>> {
        let item = aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("lock#token#{identity}")),
            )
            .consistent_read(true)
            .send()
            .await
            .context("get the token lock")?;
        Ok(item
            .item()
            .and_then(|i| i.get("owner"))
            .and_then(|o| o.as_s().ok())
            .cloned())
    }

    /// Follows an authorize link like a browser whose user clicks "Accept": the query the
    /// simulator redirects back with (`code=...&state=...`).
    pub async fn consent(&self, authorize_url: &str) -> Result<String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let answer = http.get(authorize_url).send().await?;
        anyhow::ensure!(
            answer.status().as_u16() == 302,
            "authorize answered {}",
            answer.status()
        );
        let location = answer
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .context("no Location")?
            .to_string();
        Ok(location
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default())
    }

    pub fn config(&self, stream: StreamId) -> Result<Config> {
        let env = self.stream_env(stream);
        Ok(Config::from_lookup(|name| env.get(name).cloned())?)
    }

    /// The stream's units of work, as a function builds them at a cold start.
    pub fn units(&self, stream: StreamId) -> Result<collector_app::units::StreamUnits<SimTime>> {
        Ok(collector_app::units::StreamUnits::new(
            stream,
            &self.config(stream)?,
            &self.collector_sdk,
            Arc::new(SimTime(self.sim.clone())),
        )?)
    }

    /// A freshly built collector, as after a cold start.
    pub fn collector(&self, stream: StreamId) -> Result<StreamCollector<SimTime>> {
        self.collector_with(stream, &self.config(stream)?)
    }

    /// Like [`Stack::collector`] with a configuration of the test's own.
    pub fn collector_with(
        &self,
        stream: StreamId,
        config: &Config,
    ) -> Result<StreamCollector<SimTime>> {
        Ok(build_collector(
            stream,
            config,
            &self.collector_sdk,
            Arc::new(SimTime(self.sim.clone())),
        )?)
    }

    pub async fn run(
        &self,
        stream: StreamId,
        budget: Duration,
    ) -> Result<RunSummary, CollectError> {
        let collector = self
            .collector(stream)
            .map_err(|e| CollectError::Config(e.to_string()))?;
        run_once(&collector, Instant::now() + budget).await
    }

    /// Runs, moving the clock on by `step` between runs, until the stream is caught up at
    /// `until` (simulator time). Returns the summaries.
    pub async fn run_until_caught_up(
        &self,
        stream: StreamId,
        until_ms: i64,
        step: Duration,
    ) -> Result<Vec<RunSummary>> {
        let mut summaries = Vec::new();
        for _ in 0..500 {
            let summary = self.run(stream, Duration::from_secs(60)).await?;
            let caught_up = summary.stopped == StopReason::CaughtUp;
            summaries.push(summary);
            if caught_up && self.sim.now_ms() >= until_ms {
                return Ok(summaries);
            }
            if caught_up {
                self.sim.advance(step);
            }
        }
        anyhow::bail!("not caught up after 500 runs")
    }

    pub async fn cursor(&self, stream: StreamId) -> Result<Option<Cursor>> {
        let store = aws_adapters::DynamoStateStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            &self.table,
        );
        let key = CursorKey::live(stream.name().to_string(), sim_org_id(&self.sim));
        Ok(store.load_cursor(&key).await?)
    }

    pub async fn secret(&self, identity: &str) -> Result<serde_json::Value> {
        aws::read_secret(&self.sdk, self.secret_id(identity)).await
    }

    /// Rewrites `identity`'s secret as the OAuth callback or an operator would.
    pub async fn update_secret(
        &self,
        identity: &str,
        change: impl FnOnce(&mut serde_json::Value),
    ) -> Result<()> {
        let mut secret = self.secret(identity).await?;
        change(&mut secret);
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .put_secret_value()
            .secret_id(self.secret_id(identity))
            .secret_string(secret.to_string())
            .send()
            .await
            .context("put secret")?;
        Ok(())
    }

    /// What a person's new authorisation leaves in `identity`'s secret (`admin` or
    /// `compliance`): fresh tokens, as the OAuth callback stores them.
    /// Makes the admin identity a partner administrator of customer organisations 1..=`count`
    /// (registered in the simulator), its token allowed to list them; returns them.
    pub async fn partner_of(&self, count: u32) -> Result<Vec<webex_sim::SimOrg>> {
        let customers: Vec<webex_sim::SimOrg> =
            (1..=count).map(webex_sim::SimOrg::customer).collect();
        for org in &customers {
            self.sim.add_org(org.clone());
        }
        self.sim
            .set_managed_orgs(&self.sim.admin(), customers.iter().map(|o| o.id.clone()));
        let scopes = [stream_scope("admin"), webex_sim::ORGANIZATIONS_SCOPE];
        let token = self.sim.issue_refresh_token(&scopes);
        self.update_secret("admin", |secret| {
            secret["refresh_token"] = token.into();
            secret["scopes"] = scopes.join(" ").into();
        })
        .await?;
        Ok(customers)
    }

    pub async fn reauthorise(&self, identity: &str) -> Result<()> {
        let scope = stream_scope(identity);
        let refresh_token = self.sim.issue_refresh_token(&[scope]);
        let ttl = self.sim.config().access_token_ttl;
        let access_token = self.sim.issue_access_token(&[scope], ttl);
        let expires_at = collector_core::Timestamp::from_millis(self.sim.now_ms())
            .plus(ttl)
            .to_rfc3339();
        self.update_secret(identity, |secret| {
            secret["refresh_token"] = refresh_token.into();
            secret["access_token"] = access_token.into();
            secret["access_token_expires_at"] = expires_at.into();
        })
        .await
    }

    /// Every object of `stream`, decompressed into lines.
    /// The digest the stream's cursor names, wherever it is kept.
    pub async fn digest(&self, cursor: &Cursor) -> Result<RecentIds> {
        match &cursor.digest {
            DigestAt::Inline(ids) => Ok(ids.clone()),
            DigestAt::Object { key, .. } => {
                let out = aws::s3(&self.sdk)
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .with_context(|| format!("get the digest {key}"))?;
                let bytes = out.body.collect().await?.into_bytes();
                Ok(RecentIds::decode(bytes)?)
            }
        }
    }

    pub async fn objects(&self, stream: StreamId) -> Result<Vec<StoredObject>> {
        self.objects_of(stream.name()).await
    }

    /// Every object of the stream called `name` (a document names its streams), by key.
    pub async fn objects_of(&self, name: &str) -> Result<Vec<StoredObject>> {
        let s3 = aws::s3(&self.sdk);
        let prefix = format!("webex/{name}/");
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .context("list objects")?;
            // A cursor's digest is state, not events.
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string))
                    .filter(|k| !k.contains("/_state/")),
            );
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        let mut objects = Vec::new();
        for key in keys {
            let out = s3
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .context("get object")?;
            let object = StoredObject {
                key: key.clone(),
                metadata: out.metadata().cloned().unwrap_or_default(),
                content_type: out.content_type().unwrap_or_default().to_string(),
                content_encoding: out.content_encoding().unwrap_or_default().to_string(),
                e_tag: out.e_tag().unwrap_or_default().to_string(),
                body: out.body.collect().await?.into_bytes().to_vec(),
            };
            objects.push(object);
        }
        Ok(objects)
    }

    /// `count` events of `stream` spread over the whole initial lookback (three days), so
    /// every window has some; none late.
    pub fn history(&self, stream: StreamId, count: usize) -> Vec<webex_sim::SimEvent> {
        const HOUR: i64 = 3_600_000;
        let now = self.sim.now_ms();
        self.sim.generate(
            sim_stream(stream),
            webex_sim::GenerateSpec {
                count,
                from_ms: now - 72 * HOUR + HOUR / 6,
                to_ms: now - HOUR / 6,
                shared_timestamp_fraction: 0.2,
                late_fraction: 0.0,
                max_lateness: Duration::ZERO,
            },
        )
    }

    /// The whole promise for `stream`: every one of `events` in S3 exactly once and byte for
    /// byte, keys and metadata per the contract, no unfinished upload, no secret in the logs.
    pub async fn assert_all_landed_once(
        &self,
        stream: StreamId,
        events: &[webex_sim::SimEvent],
    ) -> Result<()> {
        let objects = self.objects(stream).await?;
        crate::verify::assert_exactly_once(&objects, events);
        crate::verify::assert_layout(
            &objects,
            stream,
            &sim_org_id(&self.sim),
            env!("CARGO_PKG_VERSION"),
        );
        anyhow::ensure!(
            self.open_uploads().await? == 0,
            "unfinished multipart uploads left behind"
        );
        self.assert_no_secrets_logged().await
    }

    /// Unfinished multipart uploads left in the bucket.
    pub async fn open_uploads(&self) -> Result<usize> {
        let out = aws::s3(&self.sdk)
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(out.uploads().len())
    }

    /// Every credential this test has seen: the client secret, the tokens seeded, the tokens in
    /// the secrets now, and every bearer token the simulator was shown.
    pub async fn known_secrets(&self) -> Result<Vec<String>> {
        let mut secrets = self.seeded_secrets.clone();
        for identity in self.secret_ids.keys() {
            let Ok(secret) = self.secret(identity).await else {
                continue;
            };
            for field in ["client_secret", "refresh_token", "access_token"] {
                if let Some(v) = secret.get(field).and_then(|v| v.as_str()) {
                    secrets.push(v.to_string());
                }
            }
        }
        secrets.extend(self.sim.requests().into_iter().filter_map(|r| r.bearer));
        secrets.sort();
        secrets.dedup();
        Ok(secrets)
    }

    /// Asserts that no credential reached the logs captured in this process.
    pub async fn assert_no_secrets_logged(&self) -> Result<()> {
        let secrets = self.known_secrets().await?;
        crate::logs::assert_free_of(&crate::logs::captured(), &secrets, "captured logs");
        Ok(())
    }
}

/// The simulator's name for a stream.
pub fn sim_stream(stream: StreamId) -> webex_sim::Stream {
    match stream {
        StreamId::AdminAudit => webex_sim::Stream::AdminAudit,
        StreamId::SecurityAudit => webex_sim::Stream::SecurityAudit,
        StreamId::ComplianceEvents => webex_sim::Stream::ComplianceEvents,
    }
}

/// The scope of the streams that read with `identity` (`admin` or `compliance`) when no document
/// names one.
pub fn stream_scope(identity: &str) -> &'static str {
    StreamId::ALL
        .into_iter()
        .map(StreamId::spec)
        .find(|spec| spec.default_identity == identity)
        .map_or("", |spec| spec.scope)
}

/// The simulator's OAuth client, as every test installs it.
pub const SIM_CLIENT_ID: &str = "sim-client-id";
/// A redirect URI `auth init` accepts; the tests hand the redirect to the callback themselves.
pub const SIM_REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

pub fn sim_org_id(sim: &Simulator) -> String {
    sim.config().org_id.clone()
}

fn sim_client_secret(sim: &Simulator) -> String {
    sim.config().client_secret.clone()
}

fn fastrand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let counter = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    nanos
        .wrapping_mul(2_654_435_761)
        .wrapping_add(counter.wrapping_mul(40_503))
        ^ std::process::id()
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
