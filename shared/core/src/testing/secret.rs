//! An identity's secret and Webex's token endpoint in memory.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::faults::Faults;
use super::lock;
use crate::ports::{
    Account, AccountInfo, SecretStore, SourceError, StoreError, TokenError, TokenGrant, TokenIssuer,
};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::tokens::IdentitySecret;

#[derive(Debug, Default)]
struct Stored {
    secret: Mutex<IdentitySecret>,
    saves: AtomicU32,
}

/// [`SecretStore`] in memory; clones share the secret. Call names for [`Faults`]:
/// `load_secret`, `save_secret`.
#[derive(Clone, Debug, Default)]
pub struct MemorySecret {
    stored: Arc<Stored>,
    faults: Arc<Faults>,
}

impl MemorySecret {
    pub fn new(secret: IdentitySecret, faults: Arc<Faults>) -> Self {
        let stored = Stored {
            secret: Mutex::new(secret),
            saves: AtomicU32::new(0),
        };
        Self {
            stored: Arc::new(stored),
            faults,
        }
    }

    /// The stored secret, without counting a call.
    pub fn get(&self) -> IdentitySecret {
        lock(&self.stored.secret).clone()
    }

    /// Replaces the stored secret (another writer's save), without counting a save.
    pub fn set(&self, secret: IdentitySecret) {
        *lock(&self.stored.secret) = secret;
    }

    /// Saves through the port.
    pub fn saves(&self) -> u32 {
        self.stored.saves.load(Ordering::SeqCst)
    }
}

impl SecretStore for MemorySecret {
    async fn load(&self) -> Result<IdentitySecret, StoreError> {
        let call = self.faults.enter("load_secret");
        call.before().map_err(|e| e.store())?;
        let secret = self.get();
        call.after().map_err(|e| e.store())?;
        Ok(secret)
    }

    async fn save(&self, secret: &IdentitySecret) -> Result<(), StoreError> {
        let call = self.faults.enter("save_secret");
        call.before().map_err(|e| e.store())?;
        self.set(secret.clone());
        self.stored.saves.fetch_add(1, Ordering::SeqCst);
        call.after().map_err(|e| e.store())
    }
}

/// A grant of `{name}-access` and `{name}-refresh`, valid for an hour and a day.
pub fn grant(name: &str) -> TokenGrant {
    TokenGrant {
        access_token: AccessToken::new(format!("{name}-access")),
        access_expires_in: Duration::from_secs(3600),
        refresh_token: RefreshToken::new(format!("{name}-refresh")),
        refresh_expires_in: Duration::from_secs(86_400),
        scopes: None,
    }
}

type Hook = Box<dyn Fn() + Send + Sync>;
type Refusal = Box<dyn Fn() -> TokenError + Send + Sync>;

struct Issuer {
    name: String,
    account: Account,
    /// The deadline of each token request, in order.
    deadlines: Mutex<Vec<Instant>>,
    /// Runs while a token request is "in flight" (another writer acting meanwhile).
    during: Mutex<Option<Hook>>,
    refusal: Mutex<Option<Refusal>>,
    faults: Arc<Faults>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("name", &self.name)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// [`TokenIssuer`] and [`AccountInfo`] answering fixed grants ([`grant`] of its name) and one
/// account; clones share it. Call names for [`Faults`]: `refresh`, `exchange_code`, `account`.
#[derive(Clone, Debug)]
pub struct StaticIssuer {
    issuer: Arc<Issuer>,
}

impl StaticIssuer {
    pub fn new(name: &str, account: Account, faults: Arc<Faults>) -> Self {
        Self {
            issuer: Arc::new(Issuer {
                name: name.to_string(),
                account,
                deadlines: Mutex::default(),
                during: Mutex::default(),
                refusal: Mutex::default(),
                faults,
            }),
        }
    }

    /// Runs `hook` inside every token request, before it answers.
    pub fn during_requests(&self, hook: impl Fn() + Send + Sync + 'static) {
        *lock(&self.issuer.during) = Some(Box::new(hook));
    }

    /// Every token request answers what `refusal` makes (e.g. `invalid_grant`).
    pub fn refuse(&self, refusal: impl Fn() -> TokenError + Send + Sync + 'static) {
        *lock(&self.issuer.refusal) = Some(Box::new(refusal));
    }

    /// The deadline of each token request so far, in order.
    pub fn deadlines(&self) -> Vec<Instant> {
        lock(&self.issuer.deadlines).clone()
    }

    fn answer(&self, name: &'static str, deadline: Instant) -> Result<TokenGrant, TokenError> {
        let call = self.issuer.faults.enter(name);
        call.before().map_err(|e| e.token())?;
        lock(&self.issuer.deadlines).push(deadline);
        if let Some(hook) = lock(&self.issuer.during).as_ref() {
            hook();
        }
        if let Some(refusal) = lock(&self.issuer.refusal).as_ref() {
            return Err(refusal());
        }
        call.after().map_err(|e| e.token())?;
        Ok(grant(&self.issuer.name))
    }
}

impl TokenIssuer for StaticIssuer {
    async fn refresh(
        &self,
        _client_id: &str,
        _client_secret: &ClientSecret,
        _refresh_token: &RefreshToken,
        deadline: Instant,
    ) -> Result<TokenGrant, TokenError> {
        self.answer("refresh", deadline)
    }

    async fn exchange_code(
        &self,
        _client_id: &str,
        _client_secret: &ClientSecret,
        _code: &str,
        _redirect_uri: &str,
        deadline: Instant,
    ) -> Result<TokenGrant, TokenError> {
        self.answer("exchange_code", deadline)
    }
}

impl AccountInfo for StaticIssuer {
    async fn account(
        &self,
        _token: &AccessToken,
        _deadline: Instant,
    ) -> Result<Account, SourceError> {
        let call = self.issuer.faults.enter("account");
        call.before().map_err(|e| e.source())?;
        call.after().map_err(|e| e.source())?;
        Ok(self.issuer.account.clone())
    }
}
