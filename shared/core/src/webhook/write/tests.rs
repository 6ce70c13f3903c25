//! The writer over the in-memory claims and bucket: every delivery once, and no message
//! acknowledged before its delivery is in an object, whatever call fails or kills the writer.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::testing::{Effect, Faults, MemorySink, MemoryState, decode_lines};
use crate::webhook::body_digest;

const PREFIX: &str = "webex/";
const LEASE: Duration = Duration::from_secs(120);

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn queued(message: &str, org: &str, received: &str, body: &str) -> Queued {
    Queued {
        message_id: message.into(),
        delivery: Delivery {
            received_at: at(received),
            org_id: org.into(),
            resource: "messages".into(),
            event: "created".into(),
            body: body.as_bytes().to_vec(),
        },
    }
}

/// Two organisations, two hours, and one delivery queued twice (Webex retried it).
fn batch() -> Vec<Queued> {
    vec![
        queued(
            "m1",
            "org-a",
            "2026-12-03T14:59:58.000Z",
            r#"{"id":"h1","data":{"id":"1"}}"#,
        ),
        queued(
            "m2",
            "org-a",
            "2026-12-03T14:59:59.500Z",
            r#"{"id":"h1","data":{"id":"2"}}"#,
        ),
        queued(
            "m3",
            "org-a",
            "2026-12-03T15:00:01.000Z",
            r#"{"id":"h1","data":{"id":"3"}}"#,
        ),
        queued(
            "m4",
            "org-b",
            "2026-12-03T14:10:00.000Z",
            r#"{"id":"h2","data":{"id":"4"}}"#,
        ),
        queued(
            "m5",
            "org-b",
            "2026-12-03T14:10:00.000Z",
            r#"{"id":"h2","data":{"id":"5"}}"#,
        ),
        queued(
            "m6",
            "org-a",
            "2026-12-03T14:59:58.700Z",
            r#"{"id":"h1","data":{"id":"1"}}"#,
        ),
    ]
}

struct Stack {
    faults: Arc<Faults>,
    claims: MemoryState,
    sink: MemorySink,
}

impl Stack {
    fn new() -> Self {
        let faults = Arc::new(Faults::default());
        Self {
            claims: MemoryState::new(faults.clone()),
            sink: MemorySink::new(faults.clone()),
            faults,
        }
    }

    async fn write(&self, now: Timestamp, batch: Vec<Queued>) -> Batch {
        write_batch(&self.claims, &self.sink, PREFIX, now, LEASE, batch).await
    }

    /// How often each body is in the bucket.
    fn stored(&self) -> BTreeMap<String, usize> {
        let mut stored = BTreeMap::new();
        for (key, object) in self.sink.objects() {
            assert!(key.starts_with("webex/webhooks/org="), "{key}");
            for line in decode_lines(&object.body) {
                let digest = digest_of_line(&line).expect("a line of ours");
                *stored.entry(digest).or_default() += 1;
            }
        }
        stored
    }
}

fn digests(batch: &[Queued]) -> BTreeMap<String, usize> {
    batch
        .iter()
        .map(|q| (body_digest(&q.delivery.body), 1))
        .collect()
}

const NOW: &str = "2026-12-03T15:00:05.000Z";

#[tokio::test]
async fn a_batch_lands_once_per_organisation_and_hour_and_a_redelivery_adds_nothing() {
    let stack = Stack::new();

    let first = stack.write(at(NOW), batch()).await;

    assert_eq!(first.failed, Vec::<String>::new());
    assert_eq!((first.written, first.duplicates), (5, 1));
    assert_eq!(stack.stored(), digests(&batch()));
    let keys = stack.sink.keys();
    assert_eq!(keys.len(), 3, "{keys:#?}");
    assert!(
        keys[0].starts_with(
            "webex/webhooks/org=org-a/dt=2026-12-03/hour=14/webhooks_20261203T145958Z_"
        )
    );
    assert!(
        keys[1].starts_with(
            "webex/webhooks/org=org-a/dt=2026-12-03/hour=15/webhooks_20261203T150001Z_"
        )
    );
    assert!(keys[2].starts_with("webex/webhooks/org=org-b/dt=2026-12-03/hour=14/"));
    let object = stack.sink.object(&keys[0]).unwrap();
    let lines = decode_lines(&object.body);
    assert_eq!(lines.len(), 2);
    let line = String::from_utf8_lossy(&lines[0]);
    assert!(
        line.starts_with(r#"{"received_at":"2026-12-03T14:59:58.000Z","resource":"messages""#),
        "{line}"
    );

    // SQS delivers the batch again (a lost acknowledgement), and Webex retries one delivery.
    let mut again = batch();
    again.push(queued(
        "m7",
        "org-b",
        "2026-12-03T15:20:00.000Z",
        r#"{"id":"h2","data":{"id":"4"}}"#,
    ));
    let second = stack.write(at("2026-12-03T15:21:00.000Z"), again).await;

    assert_eq!(second.failed, Vec::<String>::new());
    assert_eq!(
        (second.written, second.duplicates, second.objects.len()),
        (0, 7, 0)
    );
    assert_eq!(stack.sink.keys(), keys);
}

/// Every call of a batch, failing alone, before or after its effect: what the batch
/// acknowledges is in the bucket, and the queue's retry of the rest (after the lease) lands
/// each delivery once.
#[tokio::test]
async fn a_failing_call_never_acknowledges_what_is_not_stored_nor_stores_twice() {
    let calls = {
        let stack = Stack::new();
        stack.write(at(NOW), batch()).await;
        stack.faults.calls()
    };
    for k in 1..=calls {
        for effect in [Effect::Before, Effect::After] {
            let stack = Stack::new();
            stack.faults.fail_call(k, effect);
            let first = stack.write(at(NOW), batch()).await;
            let stored = stack.stored();
            for queued in batch() {
                if !first.failed.contains(&queued.message_id) {
                    let digest = body_digest(&queued.delivery.body);
                    assert!(
                        stored.contains_key(&digest),
                        "call {k} {effect:?}: {} acknowledged, not stored",
                        queued.message_id
                    );
                }
            }
            stack.faults.reset();
            let retry: Vec<Queued> = batch()
                .into_iter()
                .filter(|q| first.failed.contains(&q.message_id))
                .collect();
            let later = at(NOW).plus(LEASE).plus(Duration::from_secs(1));
            let second = stack.write(later, retry).await;
            assert_eq!(second.failed, Vec::<String>::new(), "call {k} {effect:?}");
            assert_eq!(stack.stored(), digests(&batch()), "call {k} {effect:?}");
        }
    }
}

/// The writer killed at every call, before or after its effect, then the whole batch again
/// (nothing was reported, so SQS delivers it all), once within the lease and once after.
#[tokio::test]
async fn a_writer_killed_anywhere_is_finished_by_the_next_once() {
    let calls = {
        let stack = Stack::new();
        stack.write(at(NOW), batch()).await;
        stack.faults.calls()
    };
    for k in 1..=calls {
        for effect in [Effect::Before, Effect::After] {
            let stack = Stack::new();
            stack.faults.crash_at(k, effect);
            stack.write(at(NOW), batch()).await;
            stack.faults.reset();
            // Within the lease, what the dead writer claimed and did not store is retried
            // later, not written beside it.
            let soon = stack
                .write(at(NOW).plus(Duration::from_secs(30)), batch())
                .await;
            let later = at(NOW).plus(LEASE).plus(Duration::from_secs(31));
            let last = stack.write(later, batch()).await;
            assert_eq!(
                last.failed,
                Vec::<String>::new(),
                "crash at {k} {effect:?}: {soon:?}"
            );
            assert_eq!(stack.stored(), digests(&batch()), "crash at {k} {effect:?}");
        }
    }
}

#[tokio::test]
async fn a_delivery_another_writer_holds_waits_for_its_lease() {
    let stack = Stack::new();
    let held = &batch()[3];
    let claim = DeliveryClaim {
        object: "webex/webhooks/org=org-b/dt=2026-12-03/hour=14/webhooks_other.ndjson.gz".into(),
        until: at(NOW).plus(Duration::from_secs(60)),
    };
    stack
        .claims
        .put_claim(&held.delivery.digest(), &claim, None)
        .await
        .unwrap();

    let first = stack.write(at(NOW), batch()).await;
    assert_eq!(first.failed, ["m4"]);
    assert!(!stack.stored().contains_key(&held.delivery.digest()));

    let later = stack
        .write(at(NOW).plus(Duration::from_secs(61)), vec![held.clone()])
        .await;
    assert_eq!((later.failed.len(), later.written), (0, 1));
    assert_eq!(stack.stored(), digests(&batch()));
}
