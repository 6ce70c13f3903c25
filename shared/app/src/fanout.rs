//! Fan-out on SQS (DESIGN §7): what a collector function is invoked with, and the messages it
//! sends itself. A scheduled invocation that owns several units of work sends one message per
//! unit; the same function, triggered by the queue, collects the unit each message names.
//! Duplicate or concurrent messages are harmless: the unit's lease and its conditional cursor
//! make them so.

use collector_core::{Unit, UnitOrg};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A unit of work on the queue: the stream (a message naming a stream the function does not
/// collect is refused) and the organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitMessage {
    pub stream: String,
    pub org_id: String,
}

/// What a collector function was invoked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// The EventBridge schedule (or any event that is not from SQS): a run through the
    /// stream's units.
    Schedule,
    /// Messages from the fan-out queue, each naming one unit.
    Queue(Vec<QueueRecord>),
}

/// One SQS record of a queue invocation.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueRecord {
    /// What a partial batch failure names.
    pub message_id: String,
    pub body: String,
}

impl Invocation {
    /// Lambda's SQS event is `{"Records": [{"eventSource": "aws:sqs", "messageId", "body",
    /// ...}]}`; anything else is a schedule.
    pub fn of(payload: &serde_json::Value) -> Self {
        let records = payload.get("Records").and_then(|r| r.as_array());
        let from_sqs = records.is_some_and(|records| {
            !records.is_empty()
                && records
                    .iter()
                    .all(|r| r.get("eventSource").and_then(|s| s.as_str()) == Some("aws:sqs"))
        });
        if !from_sqs {
            return Invocation::Schedule;
        }
        Invocation::Queue(
            records
                .into_iter()
                .flatten()
                .map(|r| QueueRecord {
                    message_id: text(r, "messageId"),
                    body: text(r, "body"),
                })
                .collect(),
        )
    }
}

fn text(record: &serde_json::Value, key: &str) -> String {
    record
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

impl UnitMessage {
    /// The message naming `unit`, when a message can: the queue names organisations by id.
    /// The organisation of the secret is named by none; it is only ever a stream's one unit
    /// (a document lists or discovers its organisations), which its scheduled run collects.
    pub fn of(unit: &Unit) -> Option<Self> {
        match &unit.org {
            UnitOrg::Id(id) => Some(Self {
                stream: unit.stream.clone(),
                org_id: id.clone(),
            }),
            UnitOrg::OfSecret => None,
        }
    }

    /// The unit a body names, or why it names none. Whose stream it is, the function checks.
    pub fn parse(body: &str) -> Result<Self, String> {
        let message: UnitMessage = serde_json::from_str(body)
            .map_err(|e| format!("the message is not a unit of work: {e}"))?;
        // A Webex organisation id, or an id an `http` stream lists (`eu`, `-`): never a list.
        if !crate::document::is_unit_org(&message.org_id) {
            return Err("the message's org_id is not one organisation id".to_string());
        }
        Ok(message)
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Lambda's partial batch response: the messages named come back after their visibility
/// timeout (and go to the dead-letter queue after the queue's `maxReceiveCount`); the others are
/// deleted. The event source mapping sets `ReportBatchItemFailures`.
pub fn batch_response(failed_message_ids: &[String]) -> serde_json::Value {
    json!({
        "batchItemFailures": failed_message_ids
            .iter()
            .map(|id| json!({"itemIdentifier": id}))
            .collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn";

    fn sqs_event(bodies: &[&str]) -> serde_json::Value {
        json!({"Records": bodies.iter().enumerate().map(|(i, body)| json!({
            "messageId": format!("m{i}"),
            "receiptHandle": "r",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        })).collect::<Vec<_>>()})
    }

    #[test]
    fn tells_queue_invocations_from_schedules() {
        let scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(Invocation::of(&scheduled), Invocation::Schedule);
        assert_eq!(Invocation::of(&json!({})), Invocation::Schedule);
        assert_eq!(
            Invocation::of(&json!({"Records": []})),
            Invocation::Schedule
        );
        let body = UnitMessage {
            stream: "admin-audit".into(),
            org_id: ORG.into(),
        }
        .body();
        assert_eq!(
            Invocation::of(&sqs_event(&[&body])),
            Invocation::Queue(vec![QueueRecord {
                message_id: "m0".into(),
                body: body.clone()
            }])
        );
        // An S3 notification, say, is not ours to read as units.
        let s3 = json!({"Records": [{"eventSource": "aws:s3"}]});
        assert_eq!(Invocation::of(&s3), Invocation::Schedule);
    }

    #[test]
    fn a_message_names_one_unit() {
        let body = format!(r#"{{"stream":"admin-audit","org_id":"{ORG}"}}"#);
        assert_eq!(
            UnitMessage::parse(&body),
            Ok(UnitMessage {
                stream: "admin-audit".into(),
                org_id: ORG.into()
            })
        );
        let refused = [
            ("not json", "not a unit of work"),
            (r#"{"stream":"admin-audit"}"#, "missing field `org_id`"),
            (
                r#"{"stream":"admin-audit","org_id":"x y"}"#,
                "org_id is not one organisation id",
            ),
            (
                r#"{"stream":"admin-audit","org_id":"a,b"}"#,
                "org_id is not one organisation id",
            ),
            (
                &format!(r#"{{"stream":"admin-audit","org_id":"{ORG}","extra":1}}"#),
                "unknown field",
            ),
        ];
        // An http stream's own organisations, and the one of a stream without any.
        for org in ["eu", "-", "tenant:1.a"] {
            let body = format!(r#"{{"stream":"http-logs","org_id":"{org}"}}"#);
            assert_eq!(
                UnitMessage::parse(&body).map(|m| m.org_id),
                Ok(org.to_string())
            );
        }
        for (body, says) in refused {
            let error = UnitMessage::parse(body).unwrap_err();
            assert!(error.contains(says), "{body}: {error}");
        }
    }

    #[test]
    fn only_units_of_an_organisation_id_are_named_by_a_message() {
        let of = |org| Unit {
            stream: "admin-audit".into(),
            org,
        };
        assert_eq!(
            UnitMessage::of(&of(UnitOrg::Id(ORG.into()))),
            Some(UnitMessage {
                stream: "admin-audit".into(),
                org_id: ORG.into()
            })
        );
        assert_eq!(UnitMessage::of(&of(UnitOrg::OfSecret)), None);
    }

    #[test]
    fn the_batch_response_names_the_failed_messages() {
        assert_eq!(
            batch_response(&["a".into(), "b".into()]),
            json!({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]})
        );
        assert_eq!(batch_response(&[]), json!({"batchItemFailures": []}));
    }
}
