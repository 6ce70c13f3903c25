//! `GET /organizations`: the organisations a token may read, for streams whose organisations
//! are discovered. <https://developer.webex.com/docs/api/v1/organizations/list-organizations>
//! (not paginated: every organisation comes in one answer).

use collector_core::ports::{OrgDirectory, SourceError};
use collector_core::secret::AccessToken;
use http_source::body::ORGANIZATIONS_CAP;
use reqwest::Method;
use serde::Deserialize;
use tokio::time::Instant;

use crate::WebexClient;
use crate::call::Call;

#[derive(Deserialize)]
struct Organizations {
    items: Vec<Organization>,
}

#[derive(Deserialize)]
struct Organization {
    id: String,
}

impl OrgDirectory for WebexClient {
    async fn organizations(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Vec<String>, SourceError> {
        let call = Call {
            method: Method::GET,
            target: "organizations",
            json: None,
            cap: ORGANIZATIONS_CAP,
            what: "listing organisations",
        };
        let answer = self.call(&call, token, deadline).await?;
        parse(&answer.body)
    }
}

fn parse(body: &[u8]) -> Result<Vec<String>, SourceError> {
    let answer: Organizations =
        serde_json::from_slice(body).map_err(|_| SourceError::Rejected {
            status: 200,
            message: "the organizations answer has no items with ids".into(),
        })?;
    let mut ids: Vec<String> = answer
        .items
        .into_iter()
        .map(|o| o.id)
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_organisation_once() {
        let body = br#"{"items":[{"id":"B","displayName":"b"},{"id":"A"},{"id":"B"},{"id":""}]}"#;
        assert_eq!(parse(body).unwrap(), ["A", "B"]);
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"items":[{"displayName":"no id"}]}"#).is_err());
    }
}
