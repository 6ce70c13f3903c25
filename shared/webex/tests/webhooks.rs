//! The registrar's webhooks calls against the simulator's `/v1/webhooks`: what Webex lists back,
//! and each refusal as the error the registrar reports.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use collector_core::ports::SourceError;
use collector_core::secret::{AccessToken, SigningSecret};
use tokio::time::Instant;
use webex_client::{RetryPolicy, WebexClient, WebhookSpec};
use webex_sim::{AUDIT_SCOPE, SimConfig, Simulator};

fn spec<'a>(resource: &'a str, target: &'a str, secret: &'a SigningSecret) -> WebhookSpec<'a> {
    WebhookSpec {
        name: "webex-events-to-s3 x",
        target_url: target,
        resource,
        event: "created",
        filter: None,
        secret,
    }
}

#[tokio::test]
async fn webhooks_are_listed_created_put_back_and_deleted() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let client = WebexClient::new(&sim.base_url(), RetryPolicy::default()).unwrap();
    let token = AccessToken::new(sim.issue_access_token(&[AUDIT_SCOPE], Duration::from_secs(3600)));
    let deadline = Instant::now() + Duration::from_secs(30);
    let secret = SigningSecret::new("first-secret");

    let created = client
        .create_webhook(
            &token,
            &spec("messages", "https://a.example/webhooks", &secret),
            deadline,
        )
        .await
        .unwrap();
    let mut filtered = spec("rooms", "https://a.example/webhooks", &secret);
    filtered.filter = Some("type=group");
    client
        .create_webhook(&token, &filtered, deadline)
        .await
        .unwrap();

    let listed = client.webhooks(&token, deadline).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], created);
    assert_eq!(
        (listed[0].resource.as_str(), listed[0].status.as_str()),
        ("messages", "active")
    );
    assert_eq!(listed[1].filter.as_deref(), Some("type=group"));

    // Disabled by Webex, put back with a new target and secret.
    sim.set_webhook_status(&created.id, "disabled");
    let next = SigningSecret::new("next-secret");
    let put = client
        .put_webhook(
            &token,
            &created.id,
            &spec("messages", "https://b.example/webhooks", &next),
            deadline,
        )
        .await
        .unwrap();
    assert_eq!(
        (put.target_url.as_str(), put.status.as_str()),
        ("https://b.example/webhooks", "active")
    );
    let stored = sim
        .webhooks()
        .into_iter()
        .find(|w| w.id == created.id)
        .unwrap();
    assert_eq!(stored.secret.as_deref(), Some("next-secret"));

    client
        .delete_webhook(&token, &created.id, deadline)
        .await
        .unwrap();
    assert_eq!(client.webhooks(&token, deadline).await.unwrap().len(), 1);

    // Refusals, as the registrar reports them.
    let gone = client.delete_webhook(&token, &created.id, deadline).await;
    assert!(
        matches!(gone, Err(SourceError::Rejected { status: 404, .. })),
        "{gone:?}"
    );
    let odd = client
        .delete_webhook(&token, "../people/me", deadline)
        .await;
    assert!(matches!(odd, Err(SourceError::Unacceptable(_))), "{odd:?}");
    let stale = AccessToken::new("not-a-token");
    let refused = client.webhooks(&stale, deadline).await;
    assert!(
        matches!(refused, Err(SourceError::Unauthorized)),
        "{refused:?}"
    );
}
