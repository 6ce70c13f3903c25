//! S3 in memory: objects appear whole, multipart uploads are held aside until completed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::faults::Faults;
use super::lock;
use crate::ports::{ObjectMeta, ObjectSink, PutOutcome, SinkError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Bytes,
    pub meta: ObjectMeta,
}

/// An upload in progress, as [`ObjectSink::start_upload`] returns it.
#[derive(Debug)]
pub struct MemoryUpload {
    id: u64,
    key: String,
}

#[derive(Debug, Default)]
struct Bucket {
    objects: BTreeMap<String, StoredObject>,
    /// id → (key, parts so far)
    uploads: HashMap<u64, (String, Vec<Bytes>)>,
    next_upload: u64,
}

/// [`ObjectSink`] in memory; clones share the bucket. Call names for [`Faults`]: the trait
/// methods' (`get`, `put_if_absent`, `start_upload`, `upload_part`, `complete_upload`,
/// `abort_upload`, `clean_up`, `delete`).
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    bucket: Arc<Mutex<Bucket>>,
    faults: Arc<Faults>,
}

impl MemorySink {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            bucket: Arc::default(),
            faults,
        }
    }

    /// Every object's key, in order.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.bucket).objects.keys().cloned().collect()
    }

    /// The keys that start with `prefix`.
    pub fn keys_under(&self, prefix: &str) -> Vec<String> {
        lock(&self.bucket)
            .objects
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, _)| key.clone())
            .collect()
    }

    pub fn object(&self, key: &str) -> Option<StoredObject> {
        lock(&self.bucket).objects.get(key).cloned()
    }

    /// Every object, in key order.
    pub fn objects(&self) -> Vec<(String, StoredObject)> {
        lock(&self.bucket)
            .objects
            .iter()
            .map(|(key, object)| (key.clone(), object.clone()))
            .collect()
    }

    /// Places an object without counting a call (as another writer would have).
    pub fn insert(&self, key: &str, body: Bytes, meta: ObjectMeta) {
        lock(&self.bucket)
            .objects
            .insert(key.to_string(), StoredObject { body, meta });
    }

    /// The keys of the uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> Vec<String> {
        let mut keys: Vec<String> = lock(&self.bucket)
            .uploads
            .values()
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        keys
    }
}

impl crate::ports::ObjectListing for MemorySink {
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        Ok(self.keys_under(prefix))
    }
}

impl ObjectSink for MemorySink {
    type Upload = MemoryUpload;

    async fn get(&self, key: &str) -> Result<Option<Bytes>, SinkError> {
        let call = self.faults.enter("get");
        call.before().map_err(|e| e.sink(key))?;
        let body = lock(&self.bucket).objects.get(key).map(|o| o.body.clone());
        call.after().map_err(|e| e.sink(key))?;
        Ok(body)
    }

    async fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, SinkError> {
        let call = self.faults.enter("put_if_absent");
        call.before().map_err(|e| e.sink(key))?;
        let outcome = put(&mut lock(&self.bucket), key, body, meta);
        call.after().map_err(|e| e.sink(key))?;
        Ok(outcome)
    }

    async fn start_upload(&self, key: &str) -> Result<MemoryUpload, SinkError> {
        let call = self.faults.enter("start_upload");
        call.before().map_err(|e| e.sink(key))?;
        let id = {
            let mut bucket = lock(&self.bucket);
            bucket.next_upload += 1;
            let id = bucket.next_upload;
            bucket.uploads.insert(id, (key.to_string(), Vec::new()));
            id
        };
        call.after().map_err(|e| e.sink(key))?;
        Ok(MemoryUpload {
            id,
            key: key.to_string(),
        })
    }

    async fn upload_part(&self, upload: &mut MemoryUpload, body: Bytes) -> Result<(), SinkError> {
        let call = self.faults.enter("upload_part");
        call.before().map_err(|e| e.sink(&upload.key))?;
        match lock(&self.bucket).uploads.get_mut(&upload.id) {
            Some((_, parts)) => parts.push(body),
            None => return Err(no_such_upload("upload_part", upload)),
        }
        call.after().map_err(|e| e.sink(&upload.key))
    }

    async fn complete_upload(
        &self,
        upload: MemoryUpload,
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, SinkError> {
        let call = self.faults.enter("complete_upload");
        call.before().map_err(|e| e.sink(&upload.key))?;
        let outcome = {
            let mut bucket = lock(&self.bucket);
            let Some((key, parts)) = bucket.uploads.remove(&upload.id) else {
                return Err(no_such_upload("complete_upload", &upload));
            };
            put(&mut bucket, &key, parts.concat().into(), meta)
        };
        call.after().map_err(|e| e.sink(&upload.key))?;
        Ok(outcome)
    }

    async fn abort_upload(&self, upload: MemoryUpload) -> Result<(), SinkError> {
        let call = self.faults.enter("abort_upload");
        call.before().map_err(|e| e.sink(&upload.key))?;
        lock(&self.bucket).uploads.remove(&upload.id);
        call.after().map_err(|e| e.sink(&upload.key))
    }

    async fn clean_up(&self, key: &str) -> Result<(), SinkError> {
        let call = self.faults.enter("clean_up");
        call.before().map_err(|e| e.sink(key))?;
        lock(&self.bucket).uploads.retain(|_, (k, _)| k != key);
        call.after().map_err(|e| e.sink(key))
    }

    async fn delete(&self, key: &str) -> Result<(), SinkError> {
        let call = self.faults.enter("delete");
        call.before().map_err(|e| e.sink(key))?;
        lock(&self.bucket).objects.remove(key);
        call.after().map_err(|e| e.sink(key))
    }
}

/// `If-None-Match: *`: an existing object is never replaced.
fn put(bucket: &mut Bucket, key: &str, body: Bytes, meta: &ObjectMeta) -> PutOutcome {
    if bucket.objects.contains_key(key) {
        return PutOutcome::AlreadyExists;
    }
    bucket.objects.insert(
        key.to_string(),
        StoredObject {
            body,
            meta: meta.clone(),
        },
    );
    PutOutcome::Written
}

fn no_such_upload(operation: &'static str, upload: &MemoryUpload) -> SinkError {
    SinkError {
        operation,
        key: upload.key.clone(),
        source: "NoSuchUpload: the upload was aborted or completed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_appears_whole_when_completed_and_never_replaces_an_object() {
        let sink = MemorySink::default();
        let meta = ObjectMeta::default();
        let mut upload = sink.start_upload("k").await.unwrap();
        sink.upload_part(&mut upload, Bytes::from_static(b"ab"))
            .await
            .unwrap();
        assert_eq!(sink.get("k").await.unwrap(), None, "out of sight");
        assert_eq!(sink.open_uploads(), ["k"]);
        let mut second = sink.start_upload("k").await.unwrap();
        sink.upload_part(&mut upload, Bytes::from_static(b"c"))
            .await
            .unwrap();
        assert_eq!(
            sink.complete_upload(upload, &meta).await.unwrap(),
            PutOutcome::Written
        );
        assert_eq!(sink.get("k").await.unwrap().as_deref(), Some(&b"abc"[..]));
        sink.upload_part(&mut second, Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(
            sink.complete_upload(second, &meta).await.unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(
            sink.put_if_absent("k", Bytes::from_static(b"y"), &meta)
                .await
                .unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(sink.get("k").await.unwrap().as_deref(), Some(&b"abc"[..]));
        assert!(sink.open_uploads().is_empty());
    }

    #[tokio::test]
    async fn clean_up_ends_the_uploads_of_one_key() {
        let sink = MemorySink::default();
        let mut left = sink.start_upload("a").await.unwrap();
        let _other = sink.start_upload("b").await.unwrap();
        sink.clean_up("a").await.unwrap();
        assert_eq!(sink.open_uploads(), ["b"]);
        assert!(
            sink.upload_part(&mut left, Bytes::from_static(b"x"))
                .await
                .is_err(),
            "an upload cleaned up is gone"
        );
        sink.delete("absent").await.unwrap();
    }
}
