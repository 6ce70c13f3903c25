//! The webhook registrar (DESIGN §9), run on a schedule and by `webexctl webhooks`: keeps the
//! organisation's webhooks of ours as configured (what to do is
//! `collector_core::webhook::registrar::plan`'s), keeps the receiver's secret in step with them,
//! records the periods a webhook was off, and rotates the signing secret without losing a
//! delivery signed with either.

use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{DynamoStateStore, SecretsManagerStore};
use collector_core::identity::IdentityName;
use collector_core::ports::{AccountInfo, Clock, SourceError, StoreError, SystemClock};
use collector_core::secret::{AccessToken, SigningSecret};
use collector_core::time::Timestamp;
use collector_core::tokens::TokenManager;
use collector_core::webhook::registrar::{Gap, Listed, Record, Step, Wanted, name_of, plan};
use serde::Serialize;
use tokio::time::Instant;
use webex_client::{RetryPolicy, WebexClient, WebhookSpec};

use crate::config::{ConfigError, Env};
use crate::document::Document;
use crate::webhooks::WebhookSecret;
use crate::{IdentitiesConfig, WiringError};

/// The name prefix that marks a webhook as ours; every other webhook is left alone.
pub const PREFIX: &str = "webex-events-to-s3";

/// What is registered when `WEBHOOK_RESOURCES` is not set.
pub const DEFAULT_RESOURCES: &str = "meetings:all,recordings:all,rooms:all,messages:all";

/// After a rotation, how long the old secret is still accepted: Webex may retry a delivery it
/// signed with it.
pub const KEEP_OLD_SECRET: Duration = Duration::from_secs(3600);

/// The registrar's variables: the identities' (`STATE_TABLE`, `WEBEX_API_URL`, the secrets),
/// `WEBHOOK_IDENTITY` (default `admin`), `WEBHOOK_SECRET_ID`, `WEBHOOK_TARGET_URL` and
/// `WEBHOOK_RESOURCES` (`resource:event` pairs, each with an optional `?filter`).
#[derive(Clone, Debug)]
pub struct RegistrarConfig {
    pub identities: IdentitiesConfig,
    pub identity: IdentityName,
    pub secret_id: String,
    pub target_url: String,
    pub wanted: Vec<Wanted>,
}

impl RegistrarConfig {
    /// The identities are `document`'s when there is one, as everywhere.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        document: Option<&Document>,
    ) -> Result<Self, ConfigError> {
        let identities = IdentitiesConfig::from_lookup(&lookup, document)?;
        let env = Env(&lookup);
        let identity = env
            .optional("WEBHOOK_IDENTITY")
            .unwrap_or_else(|| "admin".into());
        let identity = IdentityName::parse(&identity).map_err(|e| ConfigError {
            name: "WEBHOOK_IDENTITY",
            problem: e.to_string(),
        })?;
        if identities.identities.get(&identity).is_none() {
            return Err(ConfigError {
                name: "WEBHOOK_IDENTITY",
                problem: format!(
                    "{identity} is not an identity of this deployment ({})",
                    identities.identities.names()
                ),
            });
        }
        let target_url = env.required("WEBHOOK_TARGET_URL")?;
        if !target_is_acceptable(&target_url) {
            return Err(ConfigError {
                name: "WEBHOOK_TARGET_URL",
                problem: format!(
                    "{target_url:?} is not an https URL (the stack's WebhookUrl output)"
                ),
            });
        }
        let resources = env
            .optional("WEBHOOK_RESOURCES")
            .unwrap_or_else(|| DEFAULT_RESOURCES.into());
        let wanted = parse_wanted(&resources).map_err(|problem| ConfigError {
            name: "WEBHOOK_RESOURCES",
            problem,
        })?;
        Ok(Self {
            identities,
            identity,
            secret_id: env.required("WEBHOOK_SECRET_ID")?,
            target_url,
            wanted,
        })
    }
}

/// Webex posts only to https; plain http only to this machine (the local stack).
fn target_is_acceptable(url: &str) -> bool {
    url.starts_with("https://")
        || url.starts_with("http://127.0.0.1:")
        || url.starts_with("http://localhost:")
}

/// `messages:created,rooms:all?type=group`: resources and events as Webex names them.
fn parse_wanted(text: &str) -> Result<Vec<Wanted>, String> {
    let mut wanted = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (pair, filter) = match item.split_once('?') {
            Some((pair, filter)) => (pair, Some(filter.to_string())),
            None => (item, None),
        };
        let Some((resource, event)) = pair.split_once(':') else {
            return Err(format!(
                "{item:?} is not resource:event (e.g. messages:created)"
            ));
        };
        let word =
            |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !word(resource) || !word(event) {
            return Err(format!(
                "{item:?} is not resource:event (e.g. messages:created)"
            ));
        }
        let want = Wanted {
            resource: resource.to_string(),
            event: event.to_string(),
            filter,
        };
        if wanted.contains(&want) {
            return Err(format!("{item:?} is given twice"));
        }
        wanted.push(want);
    }
    if wanted.is_empty() {
        return Err("names no resource:event".into());
    }
    Ok(wanted)
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the {identity} identity's token: {error}")]
    Token {
        identity: IdentityName,
        error: collector_core::CollectError,
    },
    #[error("Webex, {what}: {error}")]
    Webex {
        what: &'static str,
        error: SourceError,
    },
    #[error("cannot make a signing secret: {0}")]
    Random(String),
}

/// What one sync did.
#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    pub org_id: String,
    pub created: Vec<String>,
    pub repaired: Vec<String>,
    pub deleted: Vec<String>,
    /// Off, within Webex's hold-off: re-enabled by a later run.
    pub waiting: Vec<String>,
    /// Webhooks not ours, untouched.
    pub foreign: usize,
    pub new_gaps: Vec<Gap>,
    /// Webhooks of ours after the run.
    pub ours: usize,
    /// Steps that failed (the next run tries again).
    pub failed: Vec<String>,
}

/// One webhook of ours as `webexctl webhooks status` shows it.
#[derive(Debug, Serialize)]
pub struct WebhookRow {
    pub id: String,
    pub what: String,
    pub status: String,
    pub target_ok: bool,
    pub off_since: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub org_id: String,
    pub target_url: String,
    pub webhooks: Vec<WebhookRow>,
    /// Configured, and not registered (the next sync creates them).
    pub missing: Vec<String>,
    pub foreign: usize,
    /// Periods a webhook of ours was off, oldest first.
    pub gaps: Vec<Gap>,
    /// A rotation under way (new secret not yet on every webhook), or the old secret still
    /// accepted after one.
    pub rotation: Option<String>,
}

type Tokens<C> = TokenManager<SecretsManagerStore, WebexClient, DynamoStateStore, C>;

/// The registrar of one deployment's organisation (its identity's).
pub struct Registrar<C: Clock = SystemClock> {
    config: RegistrarConfig,
    webex: WebexClient,
    tokens: Tokens<C>,
    secret: SecretsManagerStore,
    state: Arc<DynamoStateStore>,
    clock: Arc<C>,
}

impl<C: Clock> std::fmt::Debug for Registrar<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("identity", &self.config.identity)
            .field("target_url", &self.config.target_url)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> Registrar<C> {
    pub fn new(
        config: RegistrarConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let webex = WebexClient::new(&config.identities.webex_api_url, RetryPolicy::default())?;
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        let state = Arc::new(DynamoStateStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.identities.state_table,
        ));
        let stores = config.identities.identities.secret_stores(&secrets);
        let identity_store = stores
            .of(&config.identity)
            .cloned()
            .ok_or_else(|| ConfigError {
                name: "WEBHOOK_IDENTITY",
                problem: format!("{} has no secret", config.identity),
            })?;
        let tokens = TokenManager::new(
            config.identity.clone(),
            identity_store,
            webex.clone(),
            state.clone(),
            clock.clone(),
            Duration::from_secs(600),
        );
        Ok(Self {
            secret: SecretsManagerStore::new(secrets, &config.secret_id),
            config,
            webex,
            tokens,
            state,
            clock,
        })
    }

    /// Makes the organisation's webhooks of ours what the configuration says, finishes a
    /// rotation left half done, and drops an old secret once its time is over.
    pub async fn sync(&self) -> Result<SyncReport, RegistrarError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (token, org_id) = self.session(deadline).await?;
        let mut secret = self.read_secret().await?;
        if secret.pending.is_some() && secret.rotated_at.is_none() {
            self.finish_rotation(&token, &mut secret, deadline).await?;
        }
        let now = self.clock.now();
        let listed = self.listed(&token, deadline).await?;
        let record = self.record(&org_id).await?;
        let plan = plan(
            PREFIX,
            &self.config.target_url,
            &self.config.wanted,
            &listed,
            &record.off_since(),
            now,
        );
        let mut report = SyncReport {
            org_id: org_id.clone(),
            foreign: plan.foreign,
            ..SyncReport::default()
        };
        for step in &plan.steps {
            self.carry_out(step, &token, &secret.current, deadline, &mut report)
                .await;
        }
        let after = record.after(&plan, &listed);
        report.new_gaps = after.gaps[record.gaps.len().min(after.gaps.len())..].to_vec();
        self.save_record(&org_id, &after).await?;
        // The receiver accepts exactly our webhooks of this organisation.
        let ours: Vec<String> = self
            .listed(&token, deadline)
            .await?
            .into_iter()
            .filter(is_ours)
            .map(|l| l.id)
            .collect();
        report.ours = ours.len();
        let mut next = secret.clone();
        next.webhooks = ours;
        next.org_ids = vec![org_id];
        if let Some(rotated_at) = secret
            .rotated_at
            .as_deref()
            .and_then(|t| Timestamp::parse(t).ok())
            && rotated_at.plus(KEEP_OLD_SECRET) <= now
        {
            next.pending = None;
            next.rotated_at = None;
        }
        if !same(&next, &secret) {
            self.secret.save_as(&next).await?;
        }
        for step in &report.failed {
            tracing::warn!(step = %step, "webhook step failed; the next run tries again");
        }
        Ok(report)
    }

    /// The webhooks of ours as Webex has them, what is missing, and every gap recorded.
    pub async fn status(&self) -> Result<StatusReport, RegistrarError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (token, org_id) = self.session(deadline).await?;
        let listed = self.listed(&token, deadline).await?;
        let record = self.record(&org_id).await?;
        let secret = self.read_secret().await?;
        let (ours, foreign): (Vec<Listed>, Vec<Listed>) = listed.into_iter().partition(is_ours);
        let missing = self
            .config
            .wanted
            .iter()
            .filter(|w| {
                !ours
                    .iter()
                    .any(|l| l.resource == w.resource && l.event == w.event && l.filter == w.filter)
            })
            .map(|w| format!("{}:{}", w.resource, w.event))
            .collect();
        let webhooks = ours
            .into_iter()
            .map(|l| WebhookRow {
                off_since: record
                    .off_since_ms
                    .get(&l.id)
                    .map(|ms| Timestamp::from_millis(*ms).to_rfc3339()),
                target_ok: l.target_url == self.config.target_url,
                what: format!("{}:{}", l.resource, l.event),
                status: l.status,
                id: l.id,
            })
            .collect();
        let rotation = match (&secret.pending, &secret.rotated_at) {
            (None, _) => None,
            (Some(_), None) => Some("under way: the next sync finishes it".into()),
            (Some(_), Some(at)) => Some(format!(
                "done at {at}; the old secret is accepted for an hour after"
            )),
        };
        Ok(StatusReport {
            org_id,
            target_url: self.config.target_url.clone(),
            webhooks,
            missing,
            foreign: foreign.len(),
            gaps: record.gaps,
            rotation,
        })
    }

    /// A new signing secret: accepted by the receiver first (`pending`), then given to each
    /// webhook of ours, then made `current` with the old one still accepted for
    /// [`KEEP_OLD_SECRET`]. Stopped half way, the next sync finishes it.
    pub async fn rotate(&self) -> Result<SyncReport, RegistrarError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (token, _) = self.session(deadline).await?;
        let mut secret = self.read_secret().await?;
        if secret.pending.is_none() || secret.rotated_at.is_some() {
            secret.pending = Some(new_signing_secret()?);
            secret.rotated_at = None;
            self.secret.save_as(&secret).await?;
        }
        self.finish_rotation(&token, &mut secret, deadline).await?;
        self.sync().await
    }

    async fn finish_rotation(
        &self,
        token: &AccessToken,
        secret: &mut WebhookSecret,
        deadline: Instant,
    ) -> Result<(), RegistrarError> {
        let Some(next) = secret.pending.clone() else {
            return Ok(());
        };
        for webhook in self
            .listed(token, deadline)
            .await?
            .iter()
            .filter(|l| is_ours(l))
        {
            let spec = WebhookSpec {
                name: &webhook.name,
                target_url: &self.config.target_url,
                resource: &webhook.resource,
                event: &webhook.event,
                filter: webhook.filter.as_deref(),
                secret: &next,
            };
            self.webex
                .put_webhook(token, &webhook.id, &spec, deadline)
                .await
                .map_err(|error| RegistrarError::Webex {
                    what: "giving a webhook the new secret",
                    error,
                })?;
        }
        let old = std::mem::replace(&mut secret.current, next);
        secret.pending = Some(old);
        secret.rotated_at = Some(self.clock.now().to_rfc3339());
        self.secret.save_as(&*secret).await?;
        Ok(())
    }

    async fn carry_out(
        &self,
        step: &Step,
        token: &AccessToken,
        current: &SigningSecret,
        deadline: Instant,
        report: &mut SyncReport,
    ) {
        let target_url = self.config.target_url.as_str();
        let spec = |wanted, name| spec_of(wanted, name, target_url, current);
        let outcome = match step {
            Step::Create(wanted) => {
                let name = name_of(PREFIX, wanted);
                self.webex
                    .create_webhook(token, &spec(wanted, &name), deadline)
                    .await
                    .map(|created| report.created.push(created.id))
            }
            Step::Repair { id, wanted, why } => {
                let name = name_of(PREFIX, wanted);
                self.webex
                    .put_webhook(token, id, &spec(wanted, &name), deadline)
                    .await
                    .map(|_| report.repaired.push(format!("{id} ({})", why.join(", "))))
            }
            Step::Delete { id } => self
                .webex
                .delete_webhook(token, id, deadline)
                .await
                .map(|()| report.deleted.push(id.clone())),
            Step::Wait { id } => {
                report.waiting.push(id.clone());
                Ok(())
            }
        };
        if let Err(e) = outcome {
            report.failed.push(format!("{step:?}: {e}"));
        }
    }

    /// A token of the identity, and the organisation it belongs to.
    async fn session(&self, deadline: Instant) -> Result<(AccessToken, String), RegistrarError> {
        let token =
            self.tokens
                .access_token(deadline)
                .await
                .map_err(|error| RegistrarError::Token {
                    identity: self.config.identity.clone(),
                    error,
                })?;
        let account = self
            .webex
            .account(&token, deadline)
            .await
            .map_err(|error| RegistrarError::Webex {
                what: "reading the identity's organisation",
                error,
            })?;
        Ok((token, account.org_id))
    }

    async fn listed(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Vec<Listed>, RegistrarError> {
        self.webex
            .webhooks(token, deadline)
            .await
            .map_err(|error| RegistrarError::Webex {
                what: "listing the organisation's webhooks",
                error,
            })
    }

    async fn read_secret(&self) -> Result<WebhookSecret, RegistrarError> {
        Ok(self
            .secret
            .current_as()
            .await?
            .ok_or_else(|| StoreError::Invalid {
                item: format!("secret {}", self.secret.secret_id()),
                reason: "does not exist; the stack creates it (WebhookSecretId)".into(),
            })?)
    }

    async fn record(&self, org_id: &str) -> Result<Record, RegistrarError> {
        let Some(text) = self.state.webhooks_record(org_id).await? else {
            return Ok(Record::default());
        };
        serde_json::from_str(&text).map_err(|e| {
            RegistrarError::Store(StoreError::Invalid {
                item: format!("webhooks#{org_id}"),
                reason: e.to_string(),
            })
        })
    }

    async fn save_record(&self, org_id: &str, record: &Record) -> Result<(), RegistrarError> {
        let text = serde_json::to_string(record).map_err(|e| {
            RegistrarError::Store(StoreError::Invalid {
                item: format!("webhooks#{org_id}"),
                reason: e.to_string(),
            })
        })?;
        Ok(self.state.put_webhooks_record(org_id, &text).await?)
    }
}

/// The registrar as Lambda runs it on its schedule: one sync per invocation, its summary as
/// the answer and as metrics; a failed sync is a function error (the errors alarm).
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    crate::init_logging(crate::LogTarget::Stdout);
    let started = async {
        let document = crate::document_location::load_from_env().await?;
        let config =
            RegistrarConfig::from_lookup(|name| std::env::var(name).ok(), document.as_ref())
                .map_err(WiringError::from)?;
        let sdk = aws_adapters::sdk_config().await;
        Registrar::new(config, &sdk, Arc::new(SystemClock))
    };
    let registrar = started.await.inspect_err(|e| {
        tracing::error!(error = %e, "the webhook registrar cannot start");
    })?;
    let registrar = &registrar;
    lambda_runtime::run(lambda_runtime::service_fn(
        |_: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let report = registrar.sync().await.inspect_err(|e| {
                tracing::error!(error = %e, "webhook sync failed");
            })?;
            println!(
                "{}",
                crate::metrics::registrar_line(&report, registrar.clock.now())
            );
            tracing::info!(
                ours = report.ours,
                created = report.created.len(),
                repaired = report.repaired.len(),
                deleted = report.deleted.len(),
                waiting = report.waiting.len(),
                gaps = report.new_gaps.len(),
                failed = report.failed.len(),
                "webhooks synced"
            );
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(&report).unwrap_or_default())
        },
    ))
    .await
}

fn spec_of<'a>(
    wanted: &'a Wanted,
    name: &'a str,
    target_url: &'a str,
    secret: &'a SigningSecret,
) -> WebhookSpec<'a> {
    WebhookSpec {
        name,
        target_url,
        resource: &wanted.resource,
        event: &wanted.event,
        filter: wanted.filter.as_deref(),
        secret,
    }
}

fn is_ours(listed: &Listed) -> bool {
    listed.name.starts_with(&format!("{PREFIX} "))
}

/// Whether two secrets say the same (compared without printing either).
fn same(a: &WebhookSecret, b: &WebhookSecret) -> bool {
    a.current.secret() == b.current.secret()
        && a.pending.as_ref().map(SigningSecret::secret)
            == b.pending.as_ref().map(SigningSecret::secret)
        && a.rotated_at == b.rotated_at
        && a.webhooks == b.webhooks
        && a.org_ids == b.org_ids
}

/// 48 random letters and digits, like the stack's first secret.
fn new_signing_secret() -> Result<SigningSecret, RegistrarError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| RegistrarError::Random(e.to_string()))?;
    // 62 letters: the modulo's bias (4 in 256) costs a fraction of a bit of 285.
    let text: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(SigningSecret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_read_with_their_filters_and_mistakes_named() {
        let wanted = parse_wanted("messages:created, rooms:all?type=group").expect("valid");
        assert_eq!(wanted.len(), 2);
        assert_eq!(wanted[1].filter.as_deref(), Some("type=group"));
        for bad in [
            "messages",
            "messages:",
            ":created",
            "a b:c",
            "m:c,m:c",
            " , ",
        ] {
            assert!(parse_wanted(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_target_must_be_https_except_on_this_machine() {
        assert!(target_is_acceptable(
            "https://x.execute-api.eu-west-1.amazonaws.com/webhooks"
        ));
        assert!(target_is_acceptable("http://127.0.0.1:4000/webhooks"));
        assert!(!target_is_acceptable("http://x.example/webhooks"));
    }
}
