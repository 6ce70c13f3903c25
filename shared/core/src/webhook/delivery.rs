//! Whether a request to the receiver is a delivery of one of our webhooks, checked in the order
//! that costs a forger the most and us the least: method and size, then the signature over the
//! raw bytes (before anything parses them), then the JSON shape, the webhook and the
//! organisation. A refusal carries no detail for the sender, only a reason for our metric.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::signature::{SignedWith, SigningSecrets};

/// The largest body accepted. Webex's deliveries are a few KB (ids, not content); the cap keeps
/// a line, even with its body escaped (at most twice as long), within one SQS message.
pub const MAX_BODY: usize = 64 * 1024;

/// What the receiver checks deliveries against.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub secrets: SigningSecrets,
    /// The organisations whose webhooks we registered.
    pub org_ids: BTreeSet<String>,
    /// The ids of our webhooks.
    pub webhooks: BTreeSet<String>,
    pub max_body: usize,
}

/// Why a request is not a delivery of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a POST")]
    WrongMethod,
    #[error("body over the size cap")]
    TooLarge,
    #[error("no signature")]
    Unsigned,
    #[error("signature does not match")]
    BadSignature,
    #[error("body is not JSON")]
    NotJson,
    #[error("body is not a webhook delivery")]
    NotADelivery,
    #[error("webhook is not ours")]
    UnknownWebhook,
    #[error("organisation is not ours")]
    OtherOrg,
}

impl Refusal {
    /// The HTTP status answered, with no body: 401 for what we did not sign, 405 for another
    /// method, 400 for the rest.
    pub const fn status(self) -> u16 {
        match self {
            Refusal::Unsigned | Refusal::BadSignature => 401,
            Refusal::WrongMethod => 405,
            _ => 400,
        }
    }

    /// The `Reason` dimension of the refusal metric.
    pub const fn reason(self) -> &'static str {
        match self {
            Refusal::WrongMethod => "wrong_method",
            Refusal::TooLarge => "too_large",
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
            Refusal::NotJson => "not_json",
            Refusal::NotADelivery => "not_a_delivery",
            Refusal::UnknownWebhook => "unknown_webhook",
            Refusal::OtherOrg => "other_org",
        }
    }
}

/// A delivery of ours: what its line and its object's key need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub webhook_id: String,
    pub org_id: String,
    pub resource: String,
    pub event: String,
    pub signed_with: SignedWith,
}

/// The members of a delivery the receiver reads; every other is kept only in the raw body.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "orgId")]
    org_id: String,
    resource: String,
    event: String,
}

impl Receiver {
    pub fn receive(
        &self,
        method: &str,
        body: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<Accepted, Refusal> {
        if method != "POST" {
            return Err(Refusal::WrongMethod);
        }
        if body.len() > self.max_body {
            return Err(Refusal::TooLarge);
        }
        let signed_with = self.secrets.verify(body, signature)?;
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Refusal::NotADelivery,
            _ => Refusal::NotJson,
        })?;
        if !self.webhooks.contains(&envelope.id) {
            return Err(Refusal::UnknownWebhook);
        }
        if !self.org_ids.contains(&envelope.org_id) {
            return Err(Refusal::OtherOrg);
        }
        Ok(Accepted {
            webhook_id: envelope.id,
            org_id: envelope.org_id,
            resource: envelope.resource,
            event: envelope.event,
            signed_with,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SigningSecret;
    use crate::webhook::signature::sign;

    const SECRET: &str = "our-current-secret";

    fn receiver() -> Receiver {
        Receiver {
            secrets: SigningSecrets {
                current: SigningSecret::new(SECRET),
                pending: None,
            },
            org_ids: BTreeSet::from(["org-1".to_string()]),
            webhooks: BTreeSet::from(["hook-1".to_string(), "hook-2".to_string()]),
            max_body: 2048,
        }
    }

    fn delivery(id: &str, org: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"{id}","name":"webex-events-to-s3 messages","targetUrl":"https://x.example/webhooks","resource":"messages","event":"created","orgId":"{org}","createdBy":"p1","appId":"a1","ownedBy":"org","status":"active","actorId":"p2","data":{{"id":"m1","roomId":"r1"}}}}"#
        )
        .into_bytes()
    }

    fn signed(body: &[u8], secret: &str) -> Vec<u8> {
        sign(&SigningSecret::new(secret), body).into_bytes()
    }

    #[test]
    fn a_signed_delivery_of_our_webhook_and_organisation_is_accepted() {
        let body = delivery("hook-2", "org-1");
        let accepted = receiver()
            .receive("POST", &body, Some(&signed(&body, SECRET)))
            .unwrap();
        assert_eq!(
            accepted,
            Accepted {
                webhook_id: "hook-2".into(),
                org_id: "org-1".into(),
                resource: "messages".into(),
                event: "created".into(),
                signed_with: SignedWith::Current,
            }
        );
    }

    /// The forged-delivery corpus of the issue, each case refused for its own reason.
    #[test]
    fn every_forgery_is_refused_for_its_reason() {
        let ours = delivery("hook-1", "org-1");
        let reserialised =
            serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&ours).unwrap())
                .unwrap();
        let oversized = {
            let mut body = delivery("hook-1", "org-1");
            body.truncate(body.len() - 1);
            body.extend_from_slice(format!(r#","pad":"{}"}}"#, "x".repeat(2048)).as_bytes());
            body
        };
        // (case, method, body, signature header, refusal)
        type Case = (
            &'static str,
            &'static str,
            Vec<u8>,
            Option<Vec<u8>>,
            Refusal,
        );
        let cases: Vec<Case> = vec![
            (
                "no signature",
                "POST",
                ours.clone(),
                None,
                Refusal::Unsigned,
            ),
            (
                "wrong secret",
                "POST",
                ours.clone(),
                Some(signed(&ours, "guess")),
                Refusal::BadSignature,
            ),
            (
                "signature of a re-serialised body",
                "POST",
                ours.clone(),
                Some(signed(&reserialised, SECRET)),
                Refusal::BadSignature,
            ),
            (
                "the body changed after signing",
                "POST",
                delivery("hook-1", "org-2"),
                Some(signed(&ours, SECRET)),
                Refusal::BadSignature,
            ),
            (
                "another webhook's secret",
                "POST",
                ours.clone(),
                Some(signed(&ours, "someone-elses-webhook-secret")),
                Refusal::BadSignature,
            ),
            (
                "an unknown webhook id",
                "POST",
                delivery("hook-9", "org-1"),
                Some(signed(&delivery("hook-9", "org-1"), SECRET)),
                Refusal::UnknownWebhook,
            ),
            (
                "another organisation",
                "POST",
                delivery("hook-1", "org-2"),
                Some(signed(&delivery("hook-1", "org-2"), SECRET)),
                Refusal::OtherOrg,
            ),
            (
                "oversized",
                "POST",
                oversized.clone(),
                Some(signed(&oversized, SECRET)),
                Refusal::TooLarge,
            ),
            (
                "not JSON",
                "POST",
                b"id=hook-1&orgId=org-1".to_vec(),
                Some(signed(b"id=hook-1&orgId=org-1", SECRET)),
                Refusal::NotJson,
            ),
            (
                "truncated JSON",
                "POST",
                ours[..ours.len() - 2].to_vec(),
                Some(signed(&ours[..ours.len() - 2], SECRET)),
                Refusal::NotJson,
            ),
            (
                "JSON that is no delivery",
                "POST",
                br#"["hook-1"]"#.to_vec(),
                Some(signed(br#"["hook-1"]"#, SECRET)),
                Refusal::NotADelivery,
            ),
            (
                "wrong method",
                "GET",
                ours.clone(),
                Some(signed(&ours, SECRET)),
                Refusal::WrongMethod,
            ),
        ];
        let receiver = receiver();
        for (case, method, body, signature, expected) in cases {
            assert_eq!(
                receiver.receive(method, &body, signature.as_deref()),
                Err(expected),
                "{case}"
            );
            assert!(
                [400, 401, 405].contains(&expected.status()),
                "{case}: never 429 or 5xx"
            );
        }
    }

    #[test]
    fn the_signature_is_checked_before_the_body_is_read() {
        // Unsigned garbage is refused as unsigned, not parsed.
        let receiver = receiver();
        assert_eq!(
            receiver.receive("POST", b"\xff\xfe{", None),
            Err(Refusal::Unsigned)
        );
        assert_eq!(
            receiver.receive("POST", b"\xff\xfe{", Some(b"00")),
            Err(Refusal::BadSignature)
        );
    }
}
