//! One delivery as one line of a webhooks object, and where that object lies.
//!
//! A line is `{"received_at":"…","resource":"…","event":"…","body":<the raw body>}`: the body is
//! the bytes Webex signed, verbatim, so a reader can check the signature again from S3. The one
//! exception is a body holding a line break (JSON allows one between tokens), which would end
//! the line: it is kept whole as the JSON string `body_text` instead. The same bytes received
//! twice (a redelivery, a replay) have one [`body_digest`]: the writer's claims on it make the
//! delivery land once.

use sha2::{Digest, Sha256};

use crate::time::Timestamp;

/// An accepted delivery, as the receiver queues it for the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub received_at: Timestamp,
    pub org_id: String,
    pub resource: String,
    pub event: String,
    /// The raw body, as received and verified.
    pub body: Vec<u8>,
}

impl Delivery {
    /// The delivery's line, without the newline that ends it.
    pub fn line(&self) -> Vec<u8> {
        let text = |value: &str| serde_json::Value::from(value).to_string();
        let mut line = format!(
            r#"{{"received_at":{},"resource":{},"event":{},"#,
            text(&self.received_at.to_rfc3339()),
            text(&self.resource),
            text(&self.event)
        )
        .into_bytes();
        if self.body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            line.extend_from_slice(br#""body_text":"#);
            // The receiver accepts only JSON, which is UTF-8: nothing is replaced here.
            line.extend_from_slice(text(&String::from_utf8_lossy(&self.body)).as_bytes());
        } else {
            line.extend_from_slice(br#""body":"#);
            line.extend_from_slice(&self.body);
        }
        line.push(b'}');
        line
    }

    pub fn digest(&self) -> String {
        body_digest(&self.body)
    }
}

/// A line as read back: its members, the body as raw JSON or as text.
#[derive(serde::Deserialize)]
struct Read<'a> {
    received_at: String,
    resource: String,
    event: String,
    #[serde(borrow)]
    body: Option<&'a serde_json::value::RawValue>,
    body_text: Option<String>,
}

impl Read<'_> {
    fn body(&self) -> Option<&[u8]> {
        match (self.body, &self.body_text) {
            (Some(body), None) => Some(body.get().as_bytes()),
            (None, Some(text)) => Some(text.as_bytes()),
            _ => None,
        }
    }
}

impl Delivery {
    /// The delivery a line (or a queued message, which is one) holds; its organisation is the
    /// body's `orgId`. `None` for a line that is not one of ours.
    pub fn from_line(line: &[u8]) -> Option<Delivery> {
        #[derive(serde::Deserialize)]
        struct Org {
            #[serde(rename = "orgId")]
            org_id: String,
        }
        let read: Read = serde_json::from_slice(line).ok()?;
        let body = read.body()?.to_vec();
        let org: Org = serde_json::from_slice(&body).ok()?;
        Some(Delivery {
            received_at: Timestamp::parse(&read.received_at).ok()?,
            org_id: org.org_id,
            resource: read.resource,
            event: read.event,
            body,
        })
    }
}

/// The digest of the body a line holds, `None` for a line that is not one of ours.
pub fn digest_of_line(line: &[u8]) -> Option<String> {
    let read: Read = serde_json::from_slice(line).ok()?;
    read.body().map(body_digest)
}

/// The SHA-256 of a raw body, in hex: what makes one delivery one, however often it comes.
pub fn body_digest(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// `{prefix}webhooks/org={orgId}/dt={YYYY-MM-DD}/hour={HH}/webhooks_{first}_{set}.ndjson.gz`:
/// partitioned by the first delivery's receive time; `{set}` names the deliveries the object
/// holds (a digest of their sorted digests), so writing the same set again gives the same key.
pub fn object_key(prefix: &str, org_id: &str, first: Timestamp, digests: &[&str]) -> String {
    let mut sorted = digests.to_vec();
    sorted.sort_unstable();
    let set = hex(&Sha256::digest(sorted.join("\n").as_bytes()));
    let (date, hour) = first.date_and_hour();
    format!(
        "{prefix}webhooks/org={org_id}/dt={date}/hour={hour}/webhooks_{}_{}.ndjson.gz",
        first.to_compact(),
        &set[..16]
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn delivery(body: &[u8]) -> Delivery {
        Delivery {
            received_at: Timestamp::parse("2026-12-03T14:05:06.789Z").unwrap(),
            org_id: "org-1".into(),
            resource: "messages".into(),
            event: "created".into(),
            body: body.to_vec(),
        }
    }

    #[derive(serde::Deserialize)]
    struct Line<'a> {
        received_at: String,
        resource: String,
        event: String,
        #[serde(borrow)]
        body: Option<&'a RawValue>,
        body_text: Option<String>,
    }

    #[test]
    fn the_line_holds_the_body_byte_for_byte() {
        let body = br#"{"id":"h1", "orgId":"org-1","data":{"text":"caf\u00e9 \"q\" \ud83d\ude00","n":1.50}}"#;
        let line = delivery(body).line();
        assert!(!line.contains(&b'\n'));
        let read: Line = serde_json::from_slice(&line).unwrap();
        assert_eq!(read.body.unwrap().get().as_bytes(), body);
        assert_eq!(read.received_at, "2026-12-03T14:05:06.789Z");
        assert_eq!(
            (read.resource.as_str(), read.event.as_str()),
            ("messages", "created")
        );
        assert!(read.body_text.is_none());
        assert_eq!(digest_of_line(&line), Some(body_digest(body)));
    }

    #[test]
    fn a_body_with_line_breaks_is_kept_whole_as_text() {
        let body = b"{\r\n  \"id\": \"h1\",\n  \"orgId\": \"org-1\"\n}";
        let line = delivery(body).line();
        assert!(!line.iter().any(|b| matches!(b, b'\n' | b'\r')));
        let read: Line = serde_json::from_slice(&line).unwrap();
        assert!(read.body.is_none());
        assert_eq!(read.body_text.unwrap().as_bytes(), body);
        assert_eq!(digest_of_line(&line), Some(body_digest(body)));
    }

    #[test]
    fn a_line_reads_back_as_its_delivery() {
        for body in [
            br#"{"id":"h1","orgId":"org-1","data":{}}"#.as_slice(),
            b"{\n\"id\":\"h1\",\r\n\"orgId\":\"org-1\"}",
        ] {
            let sent = delivery(body);
            assert_eq!(Delivery::from_line(&sent.line()), Some(sent));
        }
        assert_eq!(Delivery::from_line(br#"{"received_at":"x"}"#), None);
        let no_org = delivery(br#"{"id":"h1"}"#).line();
        assert_eq!(Delivery::from_line(&no_org), None);
    }

    #[test]
    fn the_same_bytes_have_one_digest_and_a_set_one_key() {
        let a = delivery(br#"{"id":"h1"}"#).digest();
        let b = delivery(br#"{"id":"h1" }"#).digest();
        assert_eq!(a, delivery(br#"{"id":"h1"}"#).digest());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let first = Timestamp::parse("2026-12-03T14:05:06.789Z").unwrap();
        let key = object_key("webex/", "org-1", first, &[&a, &b]);
        assert_eq!(key, object_key("webex/", "org-1", first, &[&b, &a]));
        assert_ne!(key, object_key("webex/", "org-1", first, &[&a]));
        assert!(
            key.starts_with(
                "webex/webhooks/org=org-1/dt=2026-12-03/hour=14/webhooks_20261203T140506Z_"
            ),
            "{key}"
        );
        assert!(key.ends_with(".ndjson.gz"), "{key}");
    }
}
