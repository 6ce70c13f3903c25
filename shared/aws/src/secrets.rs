//! One OAuth identity's secret in Secrets Manager (DESIGN §4), read at the `AWSCURRENT` stage:
//! without a stage, some implementations return a stale version after a stage move.

use aws_sdk_secretsmanager::Client;
use collector_core::ports::{SecretStore, StoreError};
use collector_core::tokens::IdentitySecret;

use crate::sdk_error::unavailable;

#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    client: Client,
    secret_id: String,
}

impl SecretsManagerStore {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }
}

impl SecretsManagerStore {
    /// The secret's current value, `None` when there is no such secret yet (`webexctl auth
    /// init` then creates it).
    pub async fn current(&self) -> Result<Option<IdentitySecret>, StoreError> {
        self.current_as().await
    }

    /// The secret's current value read as `T` (the secret of an identity that is not Webex's:
    /// `{"id", "key"}`, ...), `None` when there is no such secret.
    pub async fn current_as<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Option<T>, StoreError> {
        let output = match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
        {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(unavailable("Secrets Manager GetSecretValue", e)),
        };
        let text = output.secret_string().unwrap_or_default();
        // serde's messages can quote the offending value, which here may be a credential:
        // report only where the problem is.
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| StoreError::Invalid {
                item: format!("secret {}", self.secret_id),
                reason: format!(
                    "not the expected JSON (problem at line {} column {}, {:?})",
                    e.line(),
                    e.column(),
                    e.classify()
                ),
            })
    }

    /// Creates the secret with its first value (outside the template, e.g. locally).
    pub async fn create(&self, secret: &IdentitySecret) -> Result<(), StoreError> {
        self.client
            .create_secret()
            .name(&self.secret_id)
            .secret_string(self.serialise(secret)?)
            .send()
            .await
            .map_err(|e| unavailable("Secrets Manager CreateSecret", e))?;
        Ok(())
    }

    /// Writes `value` as the secret's new current value.
    pub async fn save_as<T: serde::Serialize>(&self, value: &T) -> Result<(), StoreError> {
        let text = self.serialise(value)?;
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| unavailable("Secrets Manager PutSecretValue", e))?;
        Ok(())
    }

    fn serialise<T: serde::Serialize>(&self, secret: &T) -> Result<String, StoreError> {
        serde_json::to_string(secret).map_err(|_| StoreError::Invalid {
            item: format!("secret {}", self.secret_id),
            reason: "cannot be serialised".to_string(),
        })
    }
}

impl SecretStore for SecretsManagerStore {
    async fn load(&self) -> Result<IdentitySecret, StoreError> {
        self.current().await?.ok_or_else(|| StoreError::Invalid {
            item: format!("secret {}", self.secret_id),
            reason: "does not exist; create it with the stack or `webexctl auth init`".to_string(),
        })
    }

    async fn save(&self, secret: &IdentitySecret) -> Result<(), StoreError> {
        self.save_as(secret).await
    }
}
