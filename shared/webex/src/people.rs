//! `GET /people/me`: whose token this is. <https://developer.webex.com/docs/api/v1/people/get-my-own-details>

use collector_core::ports::{AccountInfo, SourceError};
use collector_core::secret::AccessToken;
use serde::Deserialize;

use crate::WebexClient;

#[derive(Deserialize)]
struct Person {
    #[serde(rename = "orgId")]
    org_id: String,
}

impl AccountInfo for WebexClient {
    async fn org_of(&self, token: &AccessToken) -> Result<String, SourceError> {
        let response = self
            .http
            .get(self.endpoint("people/me"))
            .bearer_auth(token.secret())
            .timeout(self.retry.request_timeout)
            .send()
            .await
            .map_err(|e| SourceError::Exhausted {
                attempts: 1,
                last: e.to_string(),
            })?;
        match response.status().as_u16() {
            200 => {
                let body = response.bytes().await.unwrap_or_default();
                let person: Person =
                    serde_json::from_slice(&body).map_err(|_| SourceError::Rejected {
                        status: 200,
                        message: "people/me answered without an orgId".into(),
                    })?;
                Ok(person.org_id)
            }
            401 => Err(SourceError::Unauthorized),
            403 => Err(SourceError::Forbidden {
                message: "people/me refused".into(),
            }),
            status => Err(SourceError::Rejected {
                status,
                message: "people/me failed".into(),
            }),
        }
    }
}
