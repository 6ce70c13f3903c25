//! The local AWS side of a benchmark: a clean moto, the bucket, table and secrets a collector
//! needs, and what landed in S3, read back whole so that a run that lost or repeated an event
//! is not reported as a result.

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use collector_core::event::EventKey;
use collector_core::page::PageShape;
use integration_tests::aws;

use crate::scenario::Collects;
use tokio::task::JoinSet;

/// Downloads at once when reading objects back: moto serves them one Python thread each.
const PARALLEL_READS: usize = 4;

#[derive(Clone, Debug)]
pub struct LocalAws {
    pub endpoint: String,
    sdk: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    http: reqwest::Client,
}

/// What a run left in the bucket.
#[derive(Clone, Copy, Debug, Default)]
pub struct Landed {
    pub objects: u64,
    /// Compressed bytes, as stored.
    pub bytes: u64,
    /// NDJSON lines across all objects.
    pub events: u64,
    /// Distinct event ids among them.
    pub distinct: u64,
    /// Cursor digests kept beside the objects (`_state/`), not counted above.
    pub digests: u64,
}

impl LocalAws {
    /// The emulator `scripts/with-moto.sh` started (`AWS_ENDPOINT_URL`).
    pub async fn connect() -> Result<Self> {
        let endpoint = aws::endpoint()?;
        let sdk = aws::sdk_config(&endpoint).await;
        Ok(Self {
            s3: aws::s3(&sdk),
            sdk,
            endpoint,
            http: reqwest::Client::new(),
        })
    }

    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    /// Empties moto, so each scenario starts from nothing and moto's own memory and lookups
    /// do not grow with the scenarios before it.
    pub async fn reset(&self) -> Result<()> {
        self.http
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .context("POST /moto-api/reset")?
            .error_for_status()
            .context("moto refused the reset")?;
        Ok(())
    }

    pub async fn prepare(
        &self,
        bucket: &str,
        table: &str,
        secrets: &[(String, serde_json::Value)],
    ) -> Result<()> {
        aws::create_bucket(&self.sdk, bucket).await?;
        aws::create_table(&self.sdk, table).await?;
        for (name, value) in secrets {
            aws::create_secret(&self.sdk, name, value).await?;
        }
        Ok(())
    }

    /// Every object under `prefix`, read back and counted line by line: Webex events by their
    /// ids, another source's by their bytes.
    pub async fn landed(&self, bucket: &str, prefix: &str, collects: Collects) -> Result<Landed> {
        let mut keys = Vec::new();
        let mut landed = Landed::default();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .context("list objects")?;
            for object in page.contents() {
                if object.key().is_some_and(|k| k.contains("/_state/")) {
                    landed.digests += 1;
                    continue;
                }
                landed.objects += 1;
                landed.bytes += object.size().unwrap_or(0).max(0) as u64;
                keys.extend(object.key().map(str::to_owned));
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }

        let keys = Arc::new(keys);
        let mut reads = JoinSet::new();
        for worker in 0..PARALLEL_READS {
            let (s3, keys, bucket) = (self.s3.clone(), keys.clone(), bucket.to_owned());
            reads.spawn(async move {
                let mut found = Vec::new();
                for key in keys.iter().skip(worker).step_by(PARALLEL_READS) {
                    let body = s3
                        .get_object()
                        .bucket(&bucket)
                        .key(key)
                        .send()
                        .await
                        .with_context(|| format!("get {key}"))?
                        .body
                        .collect()
                        .await
                        .with_context(|| format!("read {key}"))?
                        .into_bytes();
                    found.extend(
                        event_keys(&body, collects).with_context(|| format!("object {key}"))?,
                    );
                }
                anyhow::Ok(found)
            });
        }
        let mut distinct = HashSet::new();
        while let Some(read) = reads.join_next().await {
            for key in read.context("a read task failed")?? {
                landed.events += 1;
                distinct.insert(key);
            }
        }
        landed.distinct = distinct.len() as u64;
        Ok(landed)
    }
}

impl LocalAws {
    /// The largest item in `table`, sized as DynamoDB sizes it (attribute names plus values),
    /// which is what its 400 KB limit and its per-KB write cost apply to.
    pub async fn largest_item_bytes(&self, table: &str) -> Result<u64> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.sdk);
        let mut largest = 0;
        let mut start = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .context("scan the state table")?;
            for item in page.items() {
                let size: usize = item
                    .iter()
                    .map(|(name, value)| name.len() + attribute_bytes(value))
                    .sum();
                largest = largest.max(size as u64);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(largest),
            }
        }
    }
}

/// An attribute value's size by DynamoDB's rules (close enough for a limit check: numbers
/// count their digits).
fn attribute_bytes(value: &aws_sdk_dynamodb::types::AttributeValue) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    match value {
        V::S(s) | V::N(s) => s.len(),
        V::B(b) => b.as_ref().len(),
        V::Bool(_) | V::Null(_) => 1,
        V::L(list) => 3 + list.iter().map(|v| 1 + attribute_bytes(v)).sum::<usize>(),
        V::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + attribute_bytes(v))
                .sum::<usize>()
        }
        V::Ss(v) | V::Ns(v) => v.iter().map(String::len).sum(),
        V::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// The event key of every line of a gzip NDJSON object.
fn event_keys(body: &[u8], collects: Collects) -> Result<Vec<EventKey>> {
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(body));
    let mut keys = Vec::new();
    for line in reader.split(b'\n') {
        let line = line.context("gzip")?;
        if line.is_empty() {
            continue;
        }
        match collects {
            Collects::Webex(_) => match PageShape::webex().parse_line(&line, None) {
                Ok((key, _)) => keys.push(key),
                Err(e) => bail!("line {} is not an event: {e}", keys.len() + 1),
            },
            // Each generated item's bytes are unique: a repeated line is a repeated event.
            Collects::HttpNextUrl => keys.push(EventKey::of_bytes(&line)),
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_every_line_of_gzip_ndjson() {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(
            b"{\"id\":\"a\",\"created\":\"2026-11-22T10:00:00Z\"}\n{\"id\":\"b\",\"created\":\"2026-11-22T10:00:01Z\"}\n",
        )
        .unwrap();
        let body = gzip.finish().unwrap();
        let webex = Collects::Webex(collector_core::StreamId::AdminAudit);
        let keys = event_keys(&body, webex).unwrap();
        assert_eq!(keys, [EventKey::of("a"), EventKey::of("b")]);
        assert!(event_keys(b"not gzip", webex).is_err());
        let by_bytes = event_keys(&body, Collects::HttpNextUrl).unwrap();
        assert_eq!(by_bytes.len(), 2);
        assert_ne!(by_bytes[0], by_bytes[1]);
    }
}
