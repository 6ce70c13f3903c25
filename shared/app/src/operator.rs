//! What `webexctl` does for an operator, beside collecting: install a profile, make an
//! authorize link, show tokens and streams, test a profile. Results are plain data the CLI
//! prints as a table or JSON.

use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{DynamoStateStore, SecretsManagerStore};
use collector_core::oauth::{ProfileSecrets, STATE_TTL};
use collector_core::ports::{AccountInfo, Clock, SecretStore, StateStore, StoreError, SystemClock};
use collector_core::secret::ClientSecret;
use collector_core::tokens::{ProfileSecret, TokenManager};
use collector_core::{Profile, Timestamp};
use serde::Serialize;
use tokio::time::Instant;
use webex_client::{RetryPolicy, WebexClient};

use crate::config::ProfilesConfig;
use crate::wiring::WiringError;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
}

#[derive(Debug, Serialize)]
pub struct AuthLink {
    pub profile: &'static str,
    pub url: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct ProfileStatus {
    pub profile: &'static str,
    pub secret_id: String,
    /// `not installed`, `waiting for authorisation`, `authorised`, or why the secret is unreadable.
    pub state: String,
    pub org_id: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub refresh_token_days_left: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct AuthTest {
    pub profile: &'static str,
    pub ok: bool,
    pub org_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    pub org_id: String,
    pub status: &'static str,
    pub committed_until: Option<Timestamp>,
    pub lag_seconds: Option<i64>,
    pub pending: bool,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<LastErrorView>,
    pub last_run: Option<collector_core::cursor::RunStats>,
}

#[derive(Debug, Serialize)]
pub struct LastErrorView {
    pub kind: &'static str,
    /// Says what to change, for config errors.
    pub message: String,
    pub at: Timestamp,
}

#[derive(Debug)]
pub struct Operator<C = SystemClock> {
    config: ProfilesConfig,
    state: Arc<DynamoStateStore>,
    secrets: ProfileSecrets<SecretsManagerStore>,
    webex: WebexClient,
    clock: Arc<C>,
}

impl Operator<SystemClock> {
    pub async fn from_env() -> Result<Self, WiringError> {
        let config = ProfilesConfig::from_env()?;
        let sdk = aws_adapters::sdk_config().await;
        Self::new(config, &sdk, Arc::new(SystemClock))
    }
}

impl<C: Clock> Operator<C> {
    pub fn new(
        config: ProfilesConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let webex = WebexClient::new(&config.webex_api_url, RetryPolicy::default())?;
        let secrets_client = aws_sdk_secretsmanager::Client::new(sdk);
        Ok(Self {
            state: Arc::new(DynamoStateStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.state_table,
            )),
            secrets: ProfileSecrets {
                admin: SecretsManagerStore::new(secrets_client.clone(), &config.admin_secret_id),
                compliance: SecretsManagerStore::new(secrets_client, &config.compliance_secret_id),
            },
            webex,
            clock,
            config,
        })
    }

    /// Stores a profile's client fields. Tokens are kept only while the client stays the same:
    /// another integration's tokens would be useless.
    pub async fn auth_init(
        &self,
        profile: Profile,
        client_id: &str,
        client_secret: ClientSecret,
        redirect_uri: &str,
        org_id: Option<&str>,
    ) -> Result<(), OperatorError> {
        if client_id.trim().is_empty() || client_secret.secret().trim().is_empty() {
            return Err(OperatorError::Invalid(
                "the client id and the client secret must not be empty".into(),
            ));
        }
        if !(redirect_uri.starts_with("https://") || redirect_uri.starts_with("http://127.0.0.1")) {
            return Err(OperatorError::Invalid(
                "the redirect URI must be https:// (the stack's CallbackUrl output)".into(),
            ));
        }
        let store = self.secrets.of(profile);
        let (exists, previous) = match store.current().await {
            Ok(previous) => (previous.is_some(), previous),
            // A secret that does not parse is replaced whole.
            Err(StoreError::Invalid { .. }) => (true, None),
            Err(e) => return Err(e.into()),
        };
        let mut secret = match previous {
            Some(previous) if previous.client_id == client_id => previous,
            _ => ProfileSecret::default(),
        };
        secret.client_id = client_id.to_string();
        secret.client_secret = client_secret;
        secret.redirect_uri = Some(redirect_uri.to_string());
        secret.scopes = Some(profile.requested_scopes());
        if let Some(org_id) = org_id {
            secret.org_id = Some(org_id.to_string());
        }
        secret.updated_at = Some(self.clock.now());
        if exists {
            store.save(&secret).await?
        } else {
            store.create(&secret).await?
        }
        Ok(())
    }

    /// A one-time authorize link for the profile, valid for ten minutes.
    pub async fn auth_url(&self, profile: Profile) -> Result<AuthLink, OperatorError> {
        let secret = self.secrets.of(profile).load().await?;
        let redirect_uri = secret
            .redirect_uri
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                OperatorError::Invalid(format!(
                    "run `webexctl auth init --profile {}` first",
                    profile.name()
                ))
            })?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| OperatorError::Random(e.to_string()))?;
        let state: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expires_at = self.clock.now().plus(STATE_TTL);
        self.state
            .put_oauth_state(&state, profile, expires_at)
            .await?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &secret.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &profile.requested_scopes())
            .append_pair("state", &state)
            .finish();
        let base = self.config.webex_api_url.trim_end_matches('/');
        Ok(AuthLink {
            profile: profile.name(),
            url: format!("{base}/authorize?{query}"),
            expires_at,
        })
    }

    pub async fn auth_status(&self) -> Vec<ProfileStatus> {
        let mut rows = Vec::new();
        for profile in [Profile::Admin, Profile::Compliance] {
            let store = self.secrets.of(profile);
            let mut row = ProfileStatus {
                profile: profile.name(),
                secret_id: self.config.secret_id(profile).to_string(),
                state: String::new(),
                org_id: None,
                access_token_expires_at: None,
                refresh_token_expires_at: None,
                refresh_token_days_left: None,
            };
            row.state = match store.current().await {
                Err(e) => format!("unreadable: {e}"),
                Ok(None) => "not installed".to_string(),
                Ok(Some(secret)) => {
                    row.org_id = secret.org_id.clone();
                    row.access_token_expires_at = secret.access_token_expires_at;
                    row.refresh_token_expires_at = secret.refresh_token_expires_at;
                    row.refresh_token_days_left = secret
                        .refresh_token_expires_at
                        .map(|t| (t.millis() - self.clock.now().millis()) / 86_400_000);
                    match (secret.client_id.is_empty(), &secret.refresh_token) {
                        (true, _) => "not installed".to_string(),
                        (false, None) => "waiting for authorisation".to_string(),
                        (false, Some(_)) => "authorised".to_string(),
                    }
                }
            };
            rows.push(row);
        }
        rows
    }

    /// One cheap authenticated call (`GET /people/me`), refreshing the token first if it must.
    pub async fn auth_test(&self, profile: Profile) -> AuthTest {
        let tokens = TokenManager::new(
            profile,
            self.secrets.of(profile).clone(),
            self.webex.clone(),
            self.state.clone(),
            self.clock.clone(),
            Duration::from_secs(600),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let outcome = match tokens.access_token(deadline).await {
            Ok(token) => self.webex.org_of(&token).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(org_id) => AuthTest {
                profile: profile.name(),
                ok: true,
                message: format!("Webex accepted the {} profile's token", profile.name()),
                org_id: Some(org_id),
            },
            Err(message) => AuthTest {
                profile: profile.name(),
                ok: false,
                org_id: None,
                message,
            },
        }
    }

    pub async fn stream_status(&self) -> Result<Vec<StreamStatus>, OperatorError> {
        let now = self.clock.now();
        let mut rows: Vec<StreamStatus> = self
            .state
            .list_cursors()
            .await?
            .into_iter()
            .map(|(pk, cursor)| {
                let mut parts = pk.splitn(3, '#').skip(1);
                StreamStatus {
                    stream: parts.next().unwrap_or_default().to_string(),
                    org_id: parts.next().unwrap_or_default().to_string(),
                    status: cursor.status.name(),
                    committed_until: cursor.committed_until,
                    lag_seconds: cursor
                        .committed_until
                        .map(|t| (now.millis() - t.millis()) / 1000),
                    pending: !cursor.pending.is_empty(),
                    last_success_at: cursor.last_success_at,
                    last_error: cursor.last_error.map(|e| LastErrorView {
                        kind: e.kind.name(),
                        message: e.message,
                        at: e.at,
                    }),
                    last_run: cursor.last_run,
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.stream, &a.org_id).cmp(&(&b.stream, &b.org_id)));
        Ok(rows)
    }
}
