//! The credentials of identities that are not Webex's, read from their secrets (docs/sources.md):
//! `basic` (`{"id", "key"}`), `api_key` (`{"key"}`) and `oauth_client_credentials`
//! (`{"client_id", "client_secret"}`, exchanged for a token kept in memory). Each secret is read
//! when first needed and again once when the API or the token endpoint refuses what it held:
//! someone may have rotated it. A refusal of an unchanged secret is a configuration error that
//! names the identity, its secret and what to put there.

use std::sync::Arc;

use aws_adapters::SecretsManagerStore;
use collector_core::credentials::{CredentialFuture, CredentialSource};
use collector_core::event::EventKey;
use collector_core::ports::{StoreError, TokenError};
use collector_core::secret::{AccessToken, ApiKey, ClientSecret, Credential};
use collector_core::{CollectError, IdentityName};
use http_source::HttpSource;
use http_source::client_credentials::{ClientAuth, ClientCredentials, TokenRequest};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::document::{Identity, IdentityKind, TokenEndpoint};

/// The credential source of a document identity that is not Webex's, for the stream called
/// `stream` (its messages name both); `None` for a Webex identity (its tokens rotate under the
/// token lock: `TokenManager`).
pub fn of_identity(
    identity: &Identity,
    stream: &str,
    secrets: &aws_sdk_secretsmanager::Client,
    http: &HttpSource,
) -> Option<Arc<dyn CredentialSource>> {
    let name = IdentityName::parse(&identity.name).ok()?;
    let secret = Secret {
        store: SecretsManagerStore::new(secrets.clone(), &identity.secret),
        identity: name.clone(),
        stream: stream.to_string(),
    };
    let shape = match &identity.kind {
        IdentityKind::WebexOauth => return None,
        IdentityKind::Basic => KeyShape::Basic,
        IdentityKind::ApiKey { header, prefix } => KeyShape::Header {
            name: header.clone(),
            prefix: prefix.clone(),
        },
        IdentityKind::OauthClientCredentials(endpoint) => {
            return Some(Arc::new(ClientCredentialSource {
                secret,
                endpoint: endpoint.clone(),
                http: http.clone(),
                tokens: Mutex::new(None),
            }));
        }
    };
    Some(Arc::new(StaticKey {
        secret,
        shape,
        held: Mutex::new(None),
    }))
}

/// An identity's secret, and whose it is: messages name the identity, its secret and the
/// stream that read it.
#[derive(Debug)]
struct Secret {
    store: SecretsManagerStore,
    identity: IdentityName,
    stream: String,
}

impl Secret {
    /// The secret read as `T`. A missing or misshapen secret is a configuration error that says
    /// what it holds; a store that cannot be reached stays a store error (the next run tries
    /// again).
    async fn read<T: serde::de::DeserializeOwned>(&self, holds: &str) -> Result<T, CollectError> {
        match self.store.current_as::<T>().await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(self.config(&format!("does not exist: create it holding {holds}"))),
            Err(StoreError::Invalid { reason, .. }) => {
                Err(self.config(&format!("is {reason}; it holds {holds}")))
            }
            Err(other) => Err(CollectError::Store(other)),
        }
    }

    /// A configuration error about this secret: `problem` follows its name.
    fn config(&self, problem: &str) -> CollectError {
        CollectError::Config(format!(
            "identity {}'s secret {} {problem} (stream {})",
            self.identity,
            self.store.secret_id(),
            self.stream
        ))
    }
}

#[derive(Clone, Debug)]
enum KeyShape {
    Basic,
    Header { name: String, prefix: String },
}

impl KeyShape {
    fn holds(&self) -> &'static str {
        match self {
            KeyShape::Basic => r#"{"id": "…", "key": "…"}"#,
            KeyShape::Header { .. } => r#"{"key": "…"}"#,
        }
    }
}

#[derive(Deserialize)]
struct KeySecret {
    id: Option<String>,
    key: String,
}

/// A `basic` or `api_key` identity: what its secret holds, kept for the process.
#[derive(Debug)]
struct StaticKey {
    secret: Secret,
    shape: KeyShape,
    held: Mutex<Option<Credential>>,
}

impl StaticKey {
    async fn read(&self) -> Result<Credential, CollectError> {
        let holds = self.shape.holds();
        let secret: KeySecret = self.secret.read(holds).await?;
        let empty = || {
            self.secret
                .config(&format!("holds an empty value; it holds {holds}"))
        };
        if secret.key.is_empty() {
            return Err(empty());
        }
        Ok(match &self.shape {
            KeyShape::Basic => Credential::Basic {
                id: secret.id.filter(|id| !id.is_empty()).ok_or_else(empty)?,
                key: ApiKey::new(secret.key),
            },
            KeyShape::Header { name, prefix } => Credential::Header {
                name: name.clone(),
                value: ApiKey::new(format!("{prefix}{}", secret.key)),
            },
        })
    }
}

impl CredentialSource for StaticKey {
    fn identity(&self) -> &IdentityName {
        &self.secret.identity
    }

    fn current(&self, _deadline: Instant) -> CredentialFuture<'_, Credential> {
        Box::pin(async move {
            let mut held = self.held.lock().await;
            if let Some(credential) = held.as_ref() {
                return Ok(credential.clone());
            }
            let credential = self.read().await?;
            *held = Some(credential.clone());
            Ok(credential)
        })
    }

    fn replace_rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        _deadline: Instant,
    ) -> CredentialFuture<'a, Credential> {
        Box::pin(async move {
            let mut held = self.held.lock().await;
            let credential = self.read().await?;
            if credential == *rejected {
                return Err(CollectError::Config(format!(
                    "the API refused identity {}'s credentials (HTTP 401) for the {} stream: put \
                     the right {} in secret {}",
                    self.secret.identity,
                    self.secret.stream,
                    self.shape.holds(),
                    self.secret.store.secret_id()
                )));
            }
            *held = Some(credential.clone());
            Ok(credential)
        })
    }
}

#[derive(Deserialize)]
struct ClientSecretJson {
    client_id: String,
    client_secret: String,
}

const CLIENT_HOLDS: &str = r#"{"client_id": "…", "client_secret": "…"}"#;

/// An `oauth_client_credentials` identity: its client's tokens, kept in memory until shortly
/// before they expire (never stored: nothing rotates, so nothing is lost with the process).
#[derive(Debug)]
struct ClientCredentialSource {
    secret: Secret,
    endpoint: TokenEndpoint,
    http: HttpSource,
    /// A digest of the client id and secret read, and the client built from them (with its
    /// token cache).
    tokens: Mutex<Option<(EventKey, Arc<ClientCredentials>)>>,
}

impl ClientCredentialSource {
    /// The client as the secret holds it now; a new one (and a new token) when the secret
    /// changed since `stale`'s client id and secret were read.
    async fn client(&self, reread: bool) -> Result<(Arc<ClientCredentials>, bool), CollectError> {
        let mut tokens = self.tokens.lock().await;
        if let Some((_, client)) = tokens.as_ref()
            && !reread
        {
            return Ok((client.clone(), false));
        }
        let secret: ClientSecretJson = self.secret.read(CLIENT_HOLDS).await?;
        // Only a fingerprint of what was read is kept beside the client, to tell a rotation.
        let fingerprint = EventKey::of(&format!(
            "{}\u{1f}{}",
            secret.client_id, secret.client_secret
        ));
        if let Some((held, client)) = tokens.as_ref()
            && *held == fingerprint
        {
            return Ok((client.clone(), false));
        }
        let client = ClientCredentials::new(
            self.http.clone(),
            TokenRequest {
                token_url: self.endpoint.token_url.clone(),
                identity: self.secret.identity.to_string(),
                client_id: secret.client_id,
                client_secret: ClientSecret::new(secret.client_secret),
                form: self.endpoint.form.clone(),
                auth: if self.endpoint.basic_auth {
                    ClientAuth::Basic
                } else {
                    ClientAuth::Body
                },
            },
        )
        .map(Arc::new)
        .map_err(CollectError::Config)?;
        *tokens = Some((fingerprint, client.clone()));
        Ok((client, true))
    }

    /// A token from the client; when the endpoint refuses the client, the secret is read again
    /// once, and an unchanged secret is the configuration error.
    async fn token(
        &self,
        rejected: Option<&AccessToken>,
        deadline: Instant,
    ) -> Result<AccessToken, CollectError> {
        let (client, _) = self.client(false).await?;
        let first = match rejected {
            Some(rejected) => client.replace_rejected(rejected, deadline).await,
            None => client.token(deadline).await,
        };
        match first {
            Err(TokenError::InvalidClient(_)) => {
                let (client, changed) = self.client(true).await?;
                if !changed {
                    return Err(self.refused());
                }
                client
                    .token(deadline)
                    .await
                    .map_err(|e| self.token_error(e))
            }
            other => other.map_err(|e| self.token_error(e)),
        }
    }

    fn refused(&self) -> CollectError {
        CollectError::Config(format!(
            "the token endpoint refused identity {}'s client id or secret for the {} stream: put \
             the right {CLIENT_HOLDS} in secret {}",
            self.secret.identity,
            self.secret.stream,
            self.secret.store.secret_id()
        ))
    }

    fn token_error(&self, e: TokenError) -> CollectError {
        match e {
            TokenError::InvalidClient(_) => self.refused(),
            TokenError::Refused(reason) | TokenError::InvalidGrant(reason) => {
                CollectError::Config(format!(
                    "{reason} (identities.{}, stream {})",
                    self.secret.identity, self.secret.stream
                ))
            }
            failed @ TokenError::Failed(_) => CollectError::TokenEndpoint(failed),
        }
    }
}

impl CredentialSource for ClientCredentialSource {
    fn identity(&self) -> &IdentityName {
        &self.secret.identity
    }

    fn current(&self, deadline: Instant) -> CredentialFuture<'_, Credential> {
        Box::pin(async move { self.token(None, deadline).await.map(Credential::Bearer) })
    }

    fn replace_rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        deadline: Instant,
    ) -> CredentialFuture<'a, Credential> {
        Box::pin(async move {
            let Credential::Bearer(rejected) = rejected else {
                return self.token(None, deadline).await.map(Credential::Bearer);
            };
            self.token(Some(rejected), deadline)
                .await
                .map(Credential::Bearer)
        })
    }
}
