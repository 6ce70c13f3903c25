//! `GET /people/me`: whose token this is. <https://developer.webex.com/docs/api/v1/people/get-my-own-details>

use collector_core::ports::{Account, AccountInfo, SourceError};
use collector_core::secret::AccessToken;
use serde::Deserialize;
use tokio::time::Instant;

use crate::WebexClient;

/// The fields of a person we use; `id` and `orgId` are always present.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    id: String,
    org_id: String,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    display_name: Option<String>,
}

impl AccountInfo for WebexClient {
    async fn account(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Account, SourceError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SourceError::OutOfTime);
        }
        let response = self
            .http
            .http()
            .get(self.endpoint("people/me"))
            .bearer_auth(token.secret())
            .timeout(self.retry().request_timeout.min(left))
            .send()
            .await
            .map_err(|e| SourceError::Exhausted {
                attempts: 1,
                last: e.to_string(),
            })?;
        match response.status().as_u16() {
            200 => {
                let body = http_source::body::read_capped(
                    response,
                    http_source::body::PERSON_CAP,
                    "people/me answer",
                )
                .await
                .map_err(|e| match e {
                    too_large @ http_source::body::BodyError::TooLarge { .. } => {
                        SourceError::Unacceptable(too_large.to_string())
                    }
                    http_source::body::BodyError::Cut { .. } => SourceError::Exhausted {
                        attempts: 1,
                        last: "the people/me answer was cut off".into(),
                    },
                })?;
                parse_person(&body)
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

fn parse_person(body: &[u8]) -> Result<Account, SourceError> {
    let person: Person = serde_json::from_slice(body).map_err(|_| SourceError::Rejected {
        status: 200,
        message: "people/me answered without a person id and an orgId".into(),
    })?;
    Ok(Account {
        person_id: person.id,
        org_id: person.org_id,
        emails: person.emails,
        display_name: person.display_name.filter(|n| !n.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_person_as_the_openapi_describes_it() {
        let body =
            br#"{"id":"P1","emails":["john.andersen@example.com"],"displayName":"John Andersen",
            "orgId":"ORG","roles":["r"],"phoneNumbers":[{"type":"work","value":"+1"}]}"#;
        assert_eq!(
            parse_person(body).unwrap(),
            Account {
                person_id: "P1".into(),
                org_id: "ORG".into(),
                emails: vec!["john.andersen@example.com".into()],
                display_name: Some("John Andersen".into()),
            }
        );
        let bare = parse_person(br#"{"id":"P1","orgId":"ORG"}"#).unwrap();
        assert!(bare.emails.is_empty() && bare.display_name.is_none());
        for broken in [&br#"{"orgId":"ORG"}"#[..], br#"{"id":"P1"}"#, b"[]", b""] {
            assert!(parse_person(broken).is_err());
        }
    }
}
