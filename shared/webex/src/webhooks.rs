//! `/webhooks`: what the registrar reads and changes of an organisation's webhooks
//! (<https://developer.webex.com/docs/api/v1/webhooks>). The secret goes to Webex in a request
//! body and nowhere else; Webex never lists it back.

use collector_core::ports::SourceError;
use collector_core::secret::{AccessToken, SigningSecret};
use collector_core::webhook::registrar::Listed;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use crate::WebexClient;
use crate::call::{Call, path_id};

/// A webhook list is a few KB; pages beyond this many are a loop.
const MAX_PAGES: usize = 50;
const WEBHOOKS_CAP: usize = 1024 * 1024;

/// What a webhook of ours is created with, or put back to.
#[derive(Clone, Copy, Debug)]
pub struct WebhookSpec<'a> {
    pub name: &'a str,
    pub target_url: &'a str,
    pub resource: &'a str,
    pub event: &'a str,
    pub filter: Option<&'a str>,
    pub secret: &'a SigningSecret,
}

#[derive(Deserialize)]
struct Items {
    items: Vec<Listed>,
}

impl WebexClient {
    /// The organisation's webhooks (`ownedBy=org`), every page.
    pub async fn webhooks(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Vec<Listed>, SourceError> {
        let first = "webhooks?ownedBy=org&max=100".to_string();
        let list = self.endpoint("webhooks");
        let mut target = first;
        let mut webhooks = Vec::new();
        for _ in 0..MAX_PAGES {
            let call = Call {
                method: Method::GET,
                target: &target,
                json: None,
                cap: WEBHOOKS_CAP,
                what: "listing webhooks",
            };
            let answer = self.call(&call, token, deadline).await?;
            let page: Items = serde_json::from_slice(&answer.body).map_err(|_| {
                SourceError::Misshapen(
                    "the webhooks answer has no items as Webex lists them".into(),
                )
            })?;
            webhooks.extend(page.items);
            match answer.next {
                None => return Ok(webhooks),
                // A next page is of the same list, never another host or path.
                Some(next) if next.starts_with(&format!("{list}?")) => target = next,
                Some(_) => {
                    return Err(SourceError::Unacceptable(
                        "the webhooks list links away from itself".into(),
                    ));
                }
            }
        }
        Err(SourceError::Unacceptable(format!(
            "the webhooks list goes on beyond {MAX_PAGES} pages"
        )))
    }

    /// Creates an organisation-wide webhook (`ownedBy: org`).
    pub async fn create_webhook(
        &self,
        token: &AccessToken,
        spec: &WebhookSpec<'_>,
        deadline: Instant,
    ) -> Result<Listed, SourceError> {
        let mut body = json!({
            "name": spec.name,
            "targetUrl": spec.target_url,
            "resource": spec.resource,
            "event": spec.event,
            "secret": spec.secret.secret(),
            "ownedBy": "org",
        });
        if let Some(filter) = spec.filter {
            body["filter"] = filter.into();
        }
        let call = Call {
            method: Method::POST,
            target: "webhooks",
            json: Some(&body),
            cap: WEBHOOKS_CAP,
            what: "creating a webhook",
        };
        self.webhook_answer(&call, token, deadline).await
    }

    /// Puts a webhook of ours back as we want it: name, target, secret, and active.
    pub async fn put_webhook(
        &self,
        token: &AccessToken,
        id: &str,
        spec: &WebhookSpec<'_>,
        deadline: Instant,
    ) -> Result<Listed, SourceError> {
        let body = json!({
            "name": spec.name,
            "targetUrl": spec.target_url,
            "secret": spec.secret.secret(),
            "ownedBy": "org",
            "status": "active",
        });
        let target = format!("webhooks/{}", path_id(id)?);
        let call = Call {
            method: Method::PUT,
            target: &target,
            json: Some(&body),
            cap: WEBHOOKS_CAP,
            what: "updating a webhook",
        };
        self.webhook_answer(&call, token, deadline).await
    }

    pub async fn delete_webhook(
        &self,
        token: &AccessToken,
        id: &str,
        deadline: Instant,
    ) -> Result<(), SourceError> {
        let target = format!("webhooks/{}", path_id(id)?);
        let call = Call {
            method: Method::DELETE,
            target: &target,
            json: None,
            cap: WEBHOOKS_CAP,
            what: "deleting a webhook",
        };
        self.call(&call, token, deadline).await.map(drop)
    }

    async fn webhook_answer(
        &self,
        call: &Call<'_>,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Listed, SourceError> {
        let answer = self.call(call, token, deadline).await?;
        serde_json::from_slice(&answer.body).map_err(|_| {
            SourceError::Misshapen(format!("the answer to {} is not a webhook", call.what))
        })
    }
}
