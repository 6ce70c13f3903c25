//! The writer: a batch of queued deliveries into objects, each delivery once however often it
//! is queued, and no message acknowledged before its delivery is durable.
//!
//! A delivery is durable when its claim names an object that exists **and holds it**. A writer
//! claims each delivery of a group (one organisation, one hour) for the group's object, writes
//! the object with what it claimed, and acknowledges what the object holds. Whatever stops it
//! (a crash, a lost answer, a claim recorded but reported failed) leaves claims naming an
//! object that is missing or does not hold them: after the claim's lease, the next writer takes
//! them over. So the check is never "the object exists" alone, which a claim whose answer was
//! lost would turn into a loss.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::line::{Delivery, digest_of_line, object_key};
use crate::ports::{
    ClaimStore, DeliveryClaim, ObjectMeta, ObjectSink, PutOutcome, SinkError, StoreError,
};
use crate::time::Timestamp;

/// One message of the queue: its id (to report it failed) and the delivery it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    pub message_id: String,
    pub delivery: Delivery,
}

/// What became of a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Messages whose delivery is not durable yet: handed back to the queue, which delivers
    /// them again.
    pub failed: Vec<String>,
    /// Objects written by this batch.
    pub objects: Vec<String>,
    /// Deliveries this batch made durable.
    pub written: usize,
    /// Messages whose delivery was durable already (a redelivery, a replay) or came twice.
    pub duplicates: usize,
}

/// Writes `batch` under `prefix`; a claim holds for `lease` (longer than any writer runs).
pub async fn write_batch(
    claims: &impl ClaimStore,
    sink: &impl ObjectSink,
    prefix: &str,
    now: Timestamp,
    lease: Duration,
    batch: Vec<Queued>,
) -> Batch {
    // One entry per body, with every message that carried it: they succeed or fail together.
    let mut deliveries: BTreeMap<String, (Delivery, Vec<String>)> = BTreeMap::new();
    for queued in batch {
        deliveries
            .entry(queued.delivery.digest())
            .or_insert_with(|| (queued.delivery, Vec::new()))
            .1
            .push(queued.message_id);
    }
    let mut groups: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for (digest, (delivery, _)) in &deliveries {
        let (date, hour) = delivery.received_at.date_and_hour();
        groups
            .entry((delivery.org_id.clone(), date, hour))
            .or_default()
            .push(digest.clone());
    }
    let mut done = Outcomes::default();
    let mut held = Held::default();
    for ((org_id, _, _), digests) in groups {
        let group = Group {
            claims,
            sink,
            prefix,
            now,
            lease,
            org_id: &org_id,
            deliveries: &deliveries,
        };
        group.write(&digests, &mut held, &mut done).await;
    }
    let mut outcome = Batch {
        objects: done.objects,
        ..Batch::default()
    };
    for (digest, (_, messages)) in deliveries {
        match done.by_digest.get(&digest) {
            Some(Done::Written) => {
                outcome.written += 1;
                outcome.duplicates += messages.len() - 1;
            }
            Some(Done::Durable) => outcome.duplicates += messages.len(),
            None => outcome.failed.extend(messages),
        }
    }
    outcome
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Done {
    /// Written by this batch.
    Written,
    /// Durable before this batch.
    Durable,
}

#[derive(Default)]
struct Outcomes {
    by_digest: HashMap<String, Done>,
    objects: Vec<String>,
}

/// What each object read so far holds (`None`: absent), so a batch reads each once.
#[derive(Default)]
struct Held(HashMap<String, Option<BTreeSet<String>>>);

impl Held {
    async fn holds(
        &mut self,
        sink: &impl ObjectSink,
        object: &str,
        digest: &str,
    ) -> Result<bool, SinkError> {
        if !self.0.contains_key(object) {
            let digests = read_digests(sink, object).await?;
            self.0.insert(object.to_string(), digests);
        }
        Ok(self.0[object]
            .as_ref()
            .is_some_and(|digests| digests.contains(digest)))
    }
}

struct Group<'a, C, S> {
    claims: &'a C,
    sink: &'a S,
    prefix: &'a str,
    now: Timestamp,
    lease: Duration,
    org_id: &'a str,
    deliveries: &'a BTreeMap<String, (Delivery, Vec<String>)>,
}

impl<C: ClaimStore, S: ObjectSink> Group<'_, C, S> {
    async fn write(&self, digests: &[String], held: &mut Held, done: &mut Outcomes) {
        // Which deliveries are durable already, which another writer holds, which are ours to
        // write (with the claim each replaces).
        let mut candidates: Vec<(&str, Option<DeliveryClaim>)> = Vec::new();
        for digest in digests {
            let claim = match self.claims.claim_of(digest).await {
                Ok(claim) => claim,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook claim unreadable; delivery retried");
                    continue;
                }
            };
            let Some(claim) = claim else {
                candidates.push((digest, None));
                continue;
            };
            match held.holds(self.sink, &claim.object, digest).await {
                Ok(true) => {
                    done.by_digest.insert(digest.clone(), Done::Durable);
                }
                // Another writer is still within its lease: it may yet write the object.
                Ok(false) if claim.until > self.now => {}
                Ok(false) => candidates.push((digest, Some(claim))),
                Err(e) => tracing::warn!(error = %e, "webhook object unreadable; retried"),
            }
        }
        let Some(first) = candidates
            .iter()
            .map(|(digest, _)| self.deliveries[*digest].0.received_at)
            .min()
        else {
            return;
        };
        let names: Vec<&str> = candidates.iter().map(|(digest, _)| *digest).collect();
        let object = object_key(self.prefix, self.org_id, first, &names);
        let claim = DeliveryClaim {
            object: object.clone(),
            until: self.now.plus(self.lease),
        };
        let mut claimed = Vec::new();
        for (digest, replacing) in &candidates {
            match self
                .claims
                .put_claim(digest, &claim, replacing.as_ref())
                .await
            {
                Ok(()) => claimed.push(*digest),
                // Another writer took it, or the answer was lost: either way the object
                // written below will not hold it, so its claim (if recorded) is not durable.
                Err(StoreError::Conflict) => {}
                Err(e) => tracing::warn!(error = %e, "webhook claim not recorded; retried"),
            }
        }
        if claimed.is_empty() {
            return;
        }
        let body = self.object_body(&claimed);
        let meta = ObjectMeta(vec![
            ("stream".into(), "webhooks".to_string()),
            ("org-id".into(), self.org_id.to_string()),
            ("event-count".into(), claimed.len().to_string()),
        ]);
        match self.sink.put_if_absent(&object, body, &meta).await {
            Ok(PutOutcome::Written) => {
                for digest in claimed {
                    done.by_digest.insert(digest.to_string(), Done::Written);
                }
                done.objects.push(object);
            }
            // A writer before us wrote this key: what it holds is durable, the rest retried.
            Ok(PutOutcome::AlreadyExists) => {
                held.0.remove(&object);
                for digest in claimed {
                    if let Ok(true) = held.holds(self.sink, &object, digest).await {
                        done.by_digest.insert(digest.to_string(), Done::Written);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhook object not written; retried"),
        }
    }

    /// The deliveries' lines in the order they were received, gzip-compressed.
    fn object_body(&self, digests: &[&str]) -> Bytes {
        let mut ordered: Vec<(&Delivery, &str)> = digests
            .iter()
            .map(|digest| (&self.deliveries[*digest].0, *digest))
            .collect();
        ordered.sort_by_key(|(delivery, digest)| (delivery.received_at, *digest));
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        for (delivery, _) in ordered {
            // Writing to memory cannot fail.
            let _ = gzip.write_all(&delivery.line());
            let _ = gzip.write_all(b"\n");
        }
        Bytes::from(gzip.finish().unwrap_or_default())
    }
}

/// The digests of the deliveries `object` holds; `None` when it does not exist.
async fn read_digests(
    sink: &impl ObjectSink,
    object: &str,
) -> Result<Option<BTreeSet<String>>, SinkError> {
    let Some(body) = sink.get(object).await? else {
        return Ok(None);
    };
    let mut text = Vec::new();
    // An object that does not read whole holds nothing we can count on.
    if GzDecoder::new(&body[..]).read_to_end(&mut text).is_err() {
        return Ok(Some(BTreeSet::new()));
    }
    Ok(Some(
        text.split(|b| *b == b'\n')
            .filter_map(digest_of_line)
            .collect(),
    ))
}

#[cfg(test)]
mod tests;
