//! The S3 object sink. Small objects are one conditional `PutObject`. Large ones are uploaded in
//! parts under `_incoming/` and then copied to their key in one step with their final metadata
//! (the event count is known only at the end), so a window's key shows one whole object once.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use bytes::Bytes;
use collector_core::ports::{ObjectListing, ObjectMeta, ObjectSink, PutOutcome, SinkError};

use crate::sdk_error::AwsCallError;

const CONTENT_TYPE: &str = "application/x-ndjson";
const CONTENT_ENCODING: &str = "gzip";
/// Staged parts live beside the data, outside the `org=/dt=/hour=` partitions that readers see.
const STAGING_DIR: &str = "_incoming/";

#[derive(Clone, Debug)]
pub struct S3Sink {
    client: Client,
    bucket: String,
}

#[derive(Debug)]
pub struct S3Upload {
    key: String,
    staging_key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
}

impl S3Sink {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), SinkError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| failed("AbortMultipartUpload", key, e))?;
        Ok(())
    }

    /// Aborts every unfinished upload to `staging_key`. Besides a killed run's, there can be
    /// one nobody knows the id of: when the answer to `CreateMultipartUpload` is lost, the SDK
    /// sends it again and S3 starts a second upload.
    async fn abort_all(&self, staging_key: &str) -> Result<(), SinkError> {
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(staging_key)
            .send()
            .await
            .map_err(|e| failed("ListMultipartUploads", staging_key, e))?;
        for upload in listed.uploads() {
            if let (Some(k), Some(id)) = (upload.key(), upload.upload_id())
                && k == staging_key
            {
                self.abort(k, id).await?;
            }
        }
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, SinkError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(false),
            Err(e) => Err(failed("HeadObject", key, e)),
        }
    }
}

/// `webex/admin-audit/org=O/dt=…/x.ndjson.gz` → `webex/admin-audit/_incoming/org=O/dt=…/x.ndjson.gz`:
/// the stream's folder is kept so the function's permissions (its stream's prefix) cover it.
fn staging_key(key: &str) -> String {
    match key.find("/org=") {
        Some(i) => format!("{}/{STAGING_DIR}{}", &key[..i], &key[i + 1..]),
        None => format!("{STAGING_DIR}{key}"),
    }
}

impl ObjectListing for S3Sink {
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| failed("ListObjectsV2", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(keys),
            }
        }
    }
}

impl ObjectSink for S3Sink {
    type Upload = S3Upload;

    async fn get(&self, key: &str) -> Result<Option<Bytes>, SinkError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => {
                let body = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| failed("GetObject", key, e))?;
                Ok(Some(body.into_bytes()))
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
            Err(e) => Err(failed("GetObject", key, e)),
        }
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, SinkError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(body));
        // Events are gzip NDJSON; a cursor's digest is bytes of its own.
        request = if key.ends_with(".ndjson.gz") {
            request
                .content_type(CONTENT_TYPE)
                .content_encoding(CONTENT_ENCODING)
        } else {
            request.content_type("application/octet-stream")
        };
        for (name, value) in &meta.0 {
            request = request.metadata(name.as_ref(), value);
        }
        match request.send().await {
            Ok(_) => Ok(PutOutcome::Written),
            Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412)) => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(failed("PutObject", key, e)),
        }
    }

    async fn start_upload(&self, key: &str) -> Result<S3Upload, SinkError> {
        let staging_key = staging_key(key);
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&staging_key)
            .content_type(CONTENT_TYPE)
            .content_encoding(CONTENT_ENCODING)
            .send()
            .await
            .map_err(|e| failed("CreateMultipartUpload", &staging_key, e))?;
        let upload_id = output.upload_id().unwrap_or_default().to_string();
        Ok(S3Upload {
            key: key.to_string(),
            staging_key,
            upload_id,
            parts: Vec::new(),
        })
    }

    async fn upload_part(&self, upload: &mut S3Upload, body: Bytes) -> Result<(), SinkError> {
        let number = upload.parts.len() as i32 + 1;
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&upload.staging_key)
            .upload_id(&upload.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| failed("UploadPart", &upload.staging_key, e))?;
        upload.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag)
                .build(),
        );
        Ok(())
    }

    async fn complete_upload(
        &self,
        upload: S3Upload,
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, SinkError> {
        let S3Upload {
            key,
            staging_key,
            upload_id,
            parts,
        } = upload;
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&staging_key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| failed("CompleteMultipartUpload", &staging_key, e))?;
        let outcome = if self.exists(&key).await? {
            PutOutcome::AlreadyExists
        } else {
            let mut copy = self
                .client
                .copy_object()
                .bucket(&self.bucket)
                .key(&key)
                .copy_source(copy_source(&self.bucket, &staging_key))
                .metadata_directive(MetadataDirective::Replace)
                .content_type(CONTENT_TYPE)
                .content_encoding(CONTENT_ENCODING);
            for (name, value) in &meta.0 {
                copy = copy.metadata(name.as_ref(), value);
            }
            copy.send()
                .await
                .map_err(|e| failed("CopyObject", &key, e))?;
            PutOutcome::Written
        };
        self.delete(&staging_key).await?;
        self.abort_all(&staging_key).await?;
        Ok(outcome)
    }

    async fn abort_upload(&self, upload: S3Upload) -> Result<(), SinkError> {
        self.abort(&upload.staging_key, &upload.upload_id).await?;
        self.abort_all(&upload.staging_key).await
    }

    async fn clean_up(&self, key: &str) -> Result<(), SinkError> {
        let staging_key = staging_key(key);
        self.abort_all(&staging_key).await?;
        self.delete(&staging_key).await
    }

    async fn delete(&self, key: &str) -> Result<(), SinkError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| failed("DeleteObject", key, e))?;
        Ok(())
    }
}

/// `CopySource` is `bucket/key`, URL-encoded: keys carry `=`.
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    key: &str,
    e: E,
) -> SinkError {
    SinkError {
        operation,
        key: key.to_string(),
        source: Box::new(AwsCallError::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_keys_stay_in_the_stream_folder() {
        assert_eq!(
            staging_key("webex/admin-audit/org=O/dt=2026-11-22/hour=10/a.ndjson.gz"),
            "webex/admin-audit/_incoming/org=O/dt=2026-11-22/hour=10/a.ndjson.gz"
        );
        assert_eq!(staging_key("odd"), "_incoming/odd");
    }

    #[test]
    fn copy_source_is_url_encoded() {
        assert_eq!(
            copy_source("b", "p/org=A+b/x y.gz"),
            "b/p/org%3DA%2Bb/x%20y.gz"
        );
    }
}
