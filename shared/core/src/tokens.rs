//! Keeping an identity's access token usable. A refresh happens under the identity's token lock
//! ([`crate::token_lock`]), re-reads the secret after taking it (another run may have refreshed
//! already), asks Webex for no longer than the lock lasts, and stores what Webex returned
//! before anything uses it: a rotated refresh token that is not stored is lost. A refresh that
//! outlived its lock stores nothing: whoever took the lock over wrote last, and wins.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::CollectError;
use crate::identity::IdentityName;
use crate::ports::{
    Clock, LeaseStore, SecretStore, StoreError, TokenError, TokenGrant, TokenIssuer,
};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::time::Timestamp;
use crate::token_lock::{LOCK_POLL, TokenLock, lock_owner};

/// One OAuth identity's secret, as stored in Secrets Manager (DESIGN §4). Every field but the
/// client's may be missing (installed, not yet authorised); fields this version does not know
/// are kept as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentitySecret {
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
    /// Who completed the authorisation these tokens come from (not secret).
    pub authorised_by: Option<AuthorisedBy>,
    pub authorised_at: Option<Timestamp>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// The person whose consent the tokens carry, as `/people/me` named them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorisedBy {
    pub email: Option<String>,
    pub person_id: String,
}

impl IdentitySecret {
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

const SAVE_ATTEMPTS: u32 = 4;

#[derive(Debug)]
pub struct TokenManager<Sec, Iss, St, Clk> {
    identity: IdentityName,
    secrets: Sec,
    issuer: Iss,
    state: Arc<St>,
    clock: Arc<Clk>,
    /// Refresh when the access token expires within this.
    margin: Duration,
    current: Mutex<Option<IdentitySecret>>,
}

impl<Sec, Iss, St, Clk> TokenManager<Sec, Iss, St, Clk>
where
    Sec: SecretStore,
    Iss: TokenIssuer,
    St: LeaseStore,
    Clk: Clock,
{
    pub fn new(
        identity: IdentityName,
        secrets: Sec,
        issuer: Iss,
        state: Arc<St>,
        clock: Arc<Clk>,
        margin: Duration,
    ) -> Self {
        Self {
            identity,
            secrets,
            issuer,
            state,
            clock,
            margin,
            current: Mutex::new(None),
        }
    }

    pub fn identity(&self) -> &IdentityName {
        &self.identity
    }

    /// The identity's secret as last read or written by this process; read fresh at run start.
    pub async fn reload(&self) -> Result<IdentitySecret, CollectError> {
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
        // An owner per refresh, not per manager: the windows of one run share this manager and
        // may refresh at once (a 401 each for the same token). Under one owner the second would
        // take the lock the first holds (the lock admits its own owner again), refresh with the
        // refresh token Webex is rotating out, and its release would delete the first's lock,
        // which then drops the only copy of the new grant. Each waits for the other instead.
        let owner = lock_owner("collector");
        loop {
            let held =
                TokenLock::try_acquire(&*self.state, &*self.clock, &self.identity, &owner).await?;
            if let Some(mut lock) = held {
                let refreshed = self
                    .refresh_holding_lock(&mut lock, rejected, deadline)
                    .await;
                lock.release().await;
                if let Some(token) = refreshed? {
                    return Ok(token);
                }
                // The lock was lost before saving: go on with what the new holder stored.
            } else {
                // Another writer holds the lock: wait for it and use what it stored.
                if Instant::now() + LOCK_POLL >= deadline {
                    return Err(CollectError::OutOfTime);
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
            let secret = self.reload().await?;
            if let Some(token) = secret.usable_access_token(self.clock.now(), self.margin, rejected)
            {
                return Ok(token);
            }
            if Instant::now() + LOCK_POLL >= deadline {
                return Err(CollectError::OutOfTime);
            }
        }
    }

    /// The token, refreshed and stored if it must be; `None` when the lock was lost before
    /// saving, so nothing was stored.
    async fn refresh_holding_lock(
        &self,
        lock: &mut TokenLock<'_, St, Clk>,
        rejected: Option<&AccessToken>,
        deadline: Instant,
    ) -> Result<Option<AccessToken>, CollectError> {
        let mut secret = self.reload().await?;
        if let Some(token) = secret.usable_access_token(self.clock.now(), self.margin, rejected) {
            tracing::debug!(identity = %self.identity, "another run refreshed the token");
            return Ok(Some(token));
        }
        let refresh_token = secret
            .refresh_token
            .clone()
            .filter(|_| !secret.client_id.is_empty())
            .ok_or_else(|| CollectError::NotAuthorized {
                identity: self.identity.clone(),
            })?;
        // A refresh is not started once the run's time is up; once started, only the lock
        // bounds it. Webex may rotate the refresh token as it answers: a request we cut off
        // ourselves (at the run's deadline) after Webex acted on it would lose the only copy of
        // the new one. The lock's bound stays, so no write outlives the lock.
        if Instant::now() >= deadline {
            return Err(CollectError::OutOfTime);
        }
        let grant = self
            .issuer
            .refresh(
                &secret.client_id,
                &secret.client_secret,
                &refresh_token,
                lock.work_deadline(),
            )
            .await
            .map_err(|e| match e {
                TokenError::InvalidGrant(reason) => CollectError::ReauthorizationNeeded { identity: self.identity.clone(), reason },
                TokenError::InvalidClient(reason) => CollectError::Config(format!(
                    "Webex refused the {} identity's client credentials ({reason}); fix client_id/client_secret with `webexctl auth init`",
                    self.identity
                )),
                TokenError::Refused(reason) => CollectError::Config(reason),
                failed @ TokenError::Failed(_) => CollectError::TokenEndpoint(failed),
            })?;
        secret.apply(grant, self.clock.now());
        if !lock.renew().await? {
            tracing::warn!(
                identity = %self.identity,
                "the refresh outlived the token lock; the tokens another writer stored are kept"
            );
            return Ok(None);
        }
        self.save_with_retries(&secret).await?;
        tracing::debug!(identity = %self.identity, "access token refreshed and stored");
        let token = secret.access_token.clone();
        *self.current.lock().await = Some(secret);
        token.map(Some).ok_or_else(|| CollectError::NotAuthorized {
            identity: self.identity.clone(),
        })
    }

    /// The SDK retries too; these extra attempts are because a grant that is not stored may be
    /// the only copy of a rotated refresh token.
    async fn save_with_retries(&self, secret: &IdentitySecret) -> Result<(), StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Account;
    use crate::testing::{Faults, ManualClock, MemorySecret, MemoryState, StaticIssuer, grant};
    use crate::token_lock::{LOCK_TTL, SAVE_RESERVE};

    const NOW: Timestamp = Timestamp::from_millis(1_795_000_000_000);

    fn installed() -> IdentitySecret {
        IdentitySecret {
            client_id: "client".into(),
            client_secret: ClientSecret::new("s"),
            refresh_token: Some(RefreshToken::new("old-refresh")),
            ..IdentitySecret::default()
        }
    }

    struct Bed {
        secrets: MemorySecret,
        leases: Arc<MemoryState>,
        issuer: StaticIssuer,
        tokens: TokenManager<MemorySecret, StaticIssuer, MemoryState, ManualClock>,
    }

    fn bed() -> Bed {
        let faults = Arc::new(Faults::default());
        let secrets = MemorySecret::new(installed(), faults.clone());
        let leases = Arc::new(MemoryState::new(faults.clone()));
        let issuer = StaticIssuer::new("ours", Account::default(), faults);
        let tokens = TokenManager::new(
            IdentityName::ADMIN,
            secrets.clone(),
            issuer.clone(),
            leases.clone(),
            Arc::new(ManualClock::new(NOW)),
            Duration::from_secs(600),
        );
        Bed {
            secrets,
            leases,
            issuer,
            tokens,
        }
    }

    #[tokio::test]
    async fn a_refresh_that_outlives_its_lock_does_not_save_over_the_new_holders_write() {
        let Bed {
            secrets,
            leases,
            issuer,
            tokens,
        } = bed();
        // While the token request is slow, the lock expires and another writer (a person's
        // new authorisation) takes it over and stores its own grant.
        let (their_secrets, their_leases) = (secrets.clone(), leases.clone());
        issuer.during_requests(move || {
            their_leases.take_over_lease("lock#token#admin", "callback");
            let mut theirs = installed();
            theirs.apply(grant("theirs"), NOW);
            their_secrets.set(theirs);
        });
        let token = tokens
            .access_token(Instant::now() + Duration::from_secs(2))
            .await
            .expect("goes on with what is stored");
        assert_eq!(token.secret(), "theirs-access");
        let stored = secrets.get();
        assert_eq!(
            stored.refresh_token.as_ref().map(RefreshToken::secret),
            Some("theirs-refresh")
        );
        assert_eq!(secrets.saves(), 0, "the collector saved");
        assert_eq!(
            leases.lease_holder("lock#token#admin").as_deref(),
            Some("callback")
        );
    }

    /// Webex with rotation, as the soak's simulator: a refresh is acted on as it arrives (the
    /// refresh token it names dies, a new one is issued), and the answer takes the next of
    /// `delays` to come back (none once they run out).
    #[derive(Debug)]
    struct RotatingWebex {
        live: std::sync::Mutex<(u32, String)>,
        delays: std::sync::Mutex<Vec<Duration>>,
        requests: std::sync::atomic::AtomicU32,
    }

    impl RotatingWebex {
        fn new(live: &str, delays: &[Duration]) -> Self {
            Self {
                live: std::sync::Mutex::new((0, live.to_string())),
                delays: std::sync::Mutex::new(delays.iter().rev().copied().collect()),
                requests: Default::default(),
            }
        }

        fn live_refresh_token(&self) -> String {
            self.live.lock().map(|l| l.1.clone()).unwrap_or_default()
        }

        fn requests(&self) -> u32 {
            self.requests.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl TokenIssuer for RotatingWebex {
        async fn refresh(
            &self,
            _client_id: &str,
            _client_secret: &ClientSecret,
            refresh_token: &RefreshToken,
            _deadline: Instant,
        ) -> Result<TokenGrant, TokenError> {
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = {
                let mut live = self
                    .live
                    .lock()
                    .map_err(|e| TokenError::Failed(e.to_string()))?;
                if refresh_token.secret() == live.1 {
                    live.0 += 1;
                    let answer = grant(&format!("gen{}", live.0));
                    live.1 = answer.refresh_token.secret().to_string();
                    Ok(answer)
                } else {
                    Err(TokenError::InvalidGrant(
                        "The refresh token was revoked or replaced.".into(),
                    ))
                }
            };
            let delay = self.delays.lock().ok().and_then(|mut d| d.pop());
            tokio::time::sleep(delay.unwrap_or_default()).await;
            answer
        }

        async fn exchange_code(
            &self,
            _client_id: &str,
            _client_secret: &ClientSecret,
            _code: &str,
            _redirect_uri: &str,
            _deadline: Instant,
        ) -> Result<TokenGrant, TokenError> {
            Err(TokenError::Failed("not in this test".into()))
        }
    }

    /// Found by the soak (seed 3032547396977439): two windows of one run got a 401 for the same
    /// access token at once. Both refreshes ran under the one lock owner of their shared
    /// `TokenManager`, so the second "took" the lock the first held, refreshed with the refresh
    /// token Webex had just rotated out (refused), and its release deleted the first's lock: the
    /// first then found its lock gone before saving and dropped the only copy of the new grant.
    #[tokio::test(start_paused = true)]
    async fn two_windows_replacing_one_rejected_token_at_once_refresh_once_and_store_the_rotation()
    {
        // GIVEN a stored access token that Webex refuses, and a Webex that rotates refresh
        // tokens and whose first answer is slow to come back
        let faults = Arc::new(Faults::default());
        let mut stored = installed();
        stored.apply(grant("old"), NOW);
        let secrets = MemorySecret::new(stored, faults.clone());
        let leases = Arc::new(MemoryState::new(faults));
        let tokens = TokenManager::new(
            IdentityName::ADMIN,
            secrets.clone(),
            RotatingWebex::new("old-refresh", &[Duration::from_secs(2)]),
            leases.clone(),
            Arc::new(ManualClock::new(NOW)),
            Duration::from_secs(600),
        );
        let rejected = AccessToken::new("old-access");
        let deadline = Instant::now() + Duration::from_secs(20);
        // WHEN two windows of the run replace it at once
        let (first, second) = tokio::join!(
            tokens.replace_rejected(&rejected, deadline),
            tokens.replace_rejected(&rejected, deadline),
        );
        // THEN Webex is asked once, both use its grant, and the rotated refresh token is stored
        assert_eq!(first.expect("first window").secret(), "gen1-access");
        assert_eq!(second.expect("second window").secret(), "gen1-access");
        assert_eq!(tokens.issuer.requests(), 1, "refreshed more than once");
        assert_eq!(
            secrets
                .get()
                .refresh_token
                .as_ref()
                .map(RefreshToken::secret),
            Some(tokens.issuer.live_refresh_token().as_str()),
            "the stored refresh token is not the one Webex accepts"
        );
        assert_eq!(leases.lease_holder("lock#token#admin"), None, "released");
    }

    #[tokio::test]
    async fn a_refresh_asks_webex_for_no_longer_than_its_lock_lasts_and_saves_under_it() {
        let Bed {
            secrets,
            leases,
            issuer,
            tokens,
        } = bed();
        let started = Instant::now();
        let token = tokens
            .access_token(started + Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(token.secret(), "ours-access");
        let deadline = issuer.deadlines()[0];
        assert!(deadline <= Instant::now() + LOCK_TTL - SAVE_RESERVE);
        assert_eq!(secrets.saves(), 1);
        assert_eq!(leases.lease_holder("lock#token#admin"), None, "released");
    }
}
