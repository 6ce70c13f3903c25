//! Where a run's requests get their proof of identity, whatever the identity's kind: a Webex
//! OAuth token kept fresh under the token lock ([`TokenManager`]), a client-credentials token,
//! or a key read from the identity's secret. The collector asks only this port, so one
//! collection path reads every source.

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use crate::error::CollectError;
use crate::identity::IdentityName;
use crate::ports::{Clock, LeaseStore, SecretStore, TokenIssuer};
use crate::secret::Credential;
use crate::tokens::TokenManager;

/// What the credential ports return: boxed, so that a collector holds any kind of identity.
pub type CredentialFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, CollectError>> + Send + 'a>>;

/// What a run learns from its identity as it starts. Webex identities were authorised in an
/// organisation with scopes; the other kinds know nothing a run needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentityFacts {
    /// The organisation the identity's secret was authorised in.
    pub org_id: Option<String>,
    /// The scopes its token holds, when they were recorded.
    pub scopes: Option<String>,
}

pub trait CredentialSource: Send + Sync {
    fn identity(&self) -> &IdentityName;

    /// Reads the identity afresh at the start of a run (its secret may have changed since the
    /// process started). Only Webex identities know anything a run needs.
    fn facts(&self) -> CredentialFuture<'_, IdentityFacts> {
        Box::pin(async { Ok(IdentityFacts::default()) })
    }

    /// A credential that is good for a while yet.
    fn current(&self, deadline: Instant) -> CredentialFuture<'_, Credential>;

    /// Another credential, for one the API refused (401) before its time.
    fn replace_rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        deadline: Instant,
    ) -> CredentialFuture<'a, Credential>;
}

/// Names the identity only: a credential source holds secrets.
impl std::fmt::Debug for dyn CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CredentialSource({})", self.identity())
    }
}

impl<Sec, Iss, St, Clk> CredentialSource for TokenManager<Sec, Iss, St, Clk>
where
    Sec: SecretStore,
    Iss: TokenIssuer,
    St: LeaseStore,
    Clk: Clock,
{
    fn identity(&self) -> &IdentityName {
        TokenManager::identity(self)
    }

    fn facts(&self) -> CredentialFuture<'_, IdentityFacts> {
        Box::pin(async move {
            let secret = self.reload().await?;
            Ok(IdentityFacts {
                org_id: secret.org_id,
                scopes: secret.scopes,
            })
        })
    }

    fn current(&self, deadline: Instant) -> CredentialFuture<'_, Credential> {
        Box::pin(async move { Ok(Credential::Bearer(self.access_token(deadline).await?)) })
    }

    fn replace_rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        deadline: Instant,
    ) -> CredentialFuture<'a, Credential> {
        Box::pin(async move {
            match rejected {
                Credential::Bearer(token) => Ok(Credential::Bearer(
                    TokenManager::replace_rejected(self, token, deadline).await?,
                )),
                // A Webex identity only ever hands out bearer tokens.
                _ => Err(CollectError::Config(format!(
                    "identity {} reads with Webex tokens, not another kind of credential",
                    TokenManager::identity(self)
                ))),
            }
        })
    }
}
