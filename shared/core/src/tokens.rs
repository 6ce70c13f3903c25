//! Keeping a profile's access token usable. A refresh happens under a per-profile lock, re-reads
//! the secret after taking it (another run may have refreshed already), and stores what Webex
//! returned before anything uses it: a rotated refresh token that is not stored is lost.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::CollectError;
use crate::ports::{
    Clock, SecretStore, StateStore, StoreError, TokenError, TokenGrant, TokenIssuer,
};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::stream::Profile;
use crate::time::Timestamp;

/// One OAuth profile's secret, as stored in Secrets Manager (DESIGN §4). Every field but the
/// client's may be missing (installed, not yet authorised); fields this version does not know
/// are kept as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileSecret {
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub redirect_uri: Option<String>,
    pub org_id: Option<String>,
    pub scopes: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub access_token: Option<AccessToken>,
    pub access_token_expires_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl ProfileSecret {
    /// Records a grant from the token endpoint. The refresh token is always replaced: Webex may
    /// or may not return a new one, and the one it returned is the one that works.
    pub fn apply(&mut self, grant: TokenGrant, now: Timestamp) {
        self.access_token = Some(grant.access_token);
        self.access_token_expires_at = Some(now.plus(grant.access_expires_in));
        self.refresh_token = Some(grant.refresh_token);
        self.refresh_token_expires_at = Some(now.plus(grant.refresh_expires_in));
        if grant.scopes.is_some() {
            self.scopes = grant.scopes;
        }
        self.updated_at = Some(now);
    }

    fn usable_access_token(
        &self,
        now: Timestamp,
        margin: Duration,
        rejected: Option<&AccessToken>,
    ) -> Option<AccessToken> {
        let token = self.access_token.as_ref()?;
        let fresh = self
            .access_token_expires_at
            .is_some_and(|at| at > now.plus(margin));
        (fresh && Some(token) != rejected).then(|| token.clone())
    }
}

/// How long a refresh may hold the profile's lock before another run may take it over.
const LOCK_TTL: Duration = Duration::from_secs(30);
const LOCK_POLL: Duration = Duration::from_millis(250);
const SAVE_ATTEMPTS: u32 = 4;

#[derive(Debug)]
pub struct TokenManager<Sec, Iss, St, Clk> {
    profile: Profile,
    secrets: Sec,
    issuer: Iss,
    state: Arc<St>,
    clock: Arc<Clk>,
    /// Refresh when the access token expires within this.
    margin: Duration,
    owner: String,
    current: Mutex<Option<ProfileSecret>>,
}

impl<Sec, Iss, St, Clk> TokenManager<Sec, Iss, St, Clk>
where
    Sec: SecretStore,
    Iss: TokenIssuer,
    St: StateStore,
    Clk: Clock,
{
    pub fn new(
        profile: Profile,
        secrets: Sec,
        issuer: Iss,
        state: Arc<St>,
        clock: Arc<Clk>,
        margin: Duration,
    ) -> Self {
        let owner = format!("tokens-{:016x}", fastrand::u64(..));
        Self {
            profile,
            secrets,
            issuer,
            state,
            clock,
            margin,
            owner,
            current: Mutex::new(None),
        }
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The profile's secret as last read or written by this process; read fresh at run start.
    pub async fn reload(&self) -> Result<ProfileSecret, CollectError> {
        let secret = self.secrets.load().await?;
        *self.current.lock().await = Some(secret.clone());
        Ok(secret)
    }

    /// When the refresh token last read or stored expires: a person must authorise again
    /// before then.
    pub async fn refresh_token_expires_at(&self) -> Option<Timestamp> {
        self.current
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.refresh_token_expires_at)
    }

    /// An access token that stays valid for at least the margin.
    pub async fn access_token(&self, deadline: Instant) -> Result<AccessToken, CollectError> {
        let cached = self.current.lock().await.clone();
        let secret = match cached {
            Some(secret) => secret,
            None => self.reload().await?,
        };
        if let Some(token) = secret.usable_access_token(self.clock.now(), self.margin, None) {
            return Ok(token);
        }
        self.refresh(None, deadline).await
    }

    /// A replacement for a token Webex refused (401) before its recorded expiry.
    pub async fn replace_rejected(
        &self,
        rejected: &AccessToken,
        deadline: Instant,
    ) -> Result<AccessToken, CollectError> {
        self.refresh(Some(rejected), deadline).await
    }

    async fn refresh(
        &self,
        rejected: Option<&AccessToken>,
        deadline: Instant,
    ) -> Result<AccessToken, CollectError> {
        let lock = format!("lock#token#{}", self.profile.name());
        loop {
            let now = self.clock.now();
            if self
                .state
                .acquire_lease(&lock, &self.owner, now.plus(LOCK_TTL), now)
                .await?
            {
                let refreshed = self.refresh_holding_lock(rejected).await;
                let released = self.state.release_lease(&lock, &self.owner).await;
                let token = refreshed?;
                released?;
                return Ok(token);
            }
            // Another run is refreshing this profile: wait for it and use what it stored.
            if Instant::now() + LOCK_POLL >= deadline {
                return Err(CollectError::OutOfTime);
            }
            tokio::time::sleep(LOCK_POLL).await;
            let secret = self.reload().await?;
            if let Some(token) = secret.usable_access_token(self.clock.now(), self.margin, rejected)
            {
                return Ok(token);
            }
        }
    }

    async fn refresh_holding_lock(
        &self,
        rejected: Option<&AccessToken>,
    ) -> Result<AccessToken, CollectError> {
        let mut secret = self.reload().await?;
        if let Some(token) = secret.usable_access_token(self.clock.now(), self.margin, rejected) {
            tracing::debug!(
                profile = self.profile.name(),
                "another run refreshed the token"
            );
            return Ok(token);
        }
        let refresh_token = secret
            .refresh_token
            .clone()
            .filter(|_| !secret.client_id.is_empty())
            .ok_or(CollectError::NotAuthorized {
                profile: self.profile,
            })?;
        let grant = self
            .issuer
            .refresh(&secret.client_id, &secret.client_secret, &refresh_token)
            .await
            .map_err(|e| match e {
                TokenError::InvalidGrant(reason) => CollectError::ReauthorizationNeeded { profile: self.profile, reason },
                TokenError::InvalidClient(reason) => CollectError::Config(format!(
                    "Webex refused the {} profile's client credentials ({reason}); fix client_id/client_secret with `webexctl auth init`",
                    self.profile.name()
                )),
                failed @ TokenError::Failed(_) => CollectError::TokenEndpoint(failed),
            })?;
        secret.apply(grant, self.clock.now());
        self.save_with_retries(&secret).await?;
        tracing::debug!(
            profile = self.profile.name(),
            "access token refreshed and stored"
        );
        let token = secret.access_token.clone();
        *self.current.lock().await = Some(secret);
        token.ok_or(CollectError::NotAuthorized {
            profile: self.profile,
        })
    }

    /// The SDK retries too; these extra attempts are because a grant that is not stored may be
    /// the only copy of a rotated refresh token.
    async fn save_with_retries(&self, secret: &ProfileSecret) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            match self.secrets.save(secret).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= SAVE_ATTEMPTS => return Err(e),
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "storing refreshed tokens failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}
