//! The cursor's digest (what the committed windows wrote that the next overlap may return),
//! kept in the cursor item while it is small and in an object beside the events when not.

use super::Collector;
use crate::cursor::{Cursor, CursorKey, DigestAt};
use crate::error::CollectError;
use crate::object::digest_key;
use crate::ports::{
    Clock, CursorStore, EventSource, LeaseStore, ObjectMeta, ObjectSink, PutOutcome, SinkError,
};
use crate::recent_ids::RecentIds;
use crate::time::Timestamp;

/// Digests up to this size stay in the cursor item. DynamoDB bills writes per KB and S3 per
/// request: at about 3 KB a write of either costs the same, and the item stays a few KB.
pub const INLINE_DIGEST_MAX: usize = 3 * 1024;

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    /// The digest `cursor` names. A digest object that is gone while the cursor has moved on
    /// means another run owns the work; gone while it has not is a storage failure.
    pub(super) async fn load_digest(
        &self,
        key: &CursorKey,
        cursor: &Cursor,
    ) -> Result<RecentIds, CollectError> {
        let object = match &cursor.digest {
            DigestAt::Inline(ids) => return Ok(ids.clone()),
            DigestAt::Object { key, .. } => key,
        };
        let Some(bytes) = self.sink.get(object).await? else {
            let now = self.state.load_cursor(key).await?;
            if now.is_none_or(|c| c.version != cursor.version) {
                return Err(CollectError::Conflict);
            }
            return Err(CollectError::Sink(SinkError {
                operation: "GetObject",
                key: object.clone(),
                source: "the cursor's digest object is missing (restore it from a previous \
                    version if the bucket keeps versions)"
                    .into(),
            }));
        };
        RecentIds::decode(bytes).map_err(|e| {
            CollectError::Sink(SinkError {
                operation: "GetObject",
                key: object.clone(),
                source: e.into(),
            })
        })
    }

    /// Where the digest after committing up to `until` is kept: in the item when small, else
    /// in a new object, written before the commit that names it.
    pub(super) async fn place_digest(
        &self,
        key: &CursorKey,
        until: Option<Timestamp>,
        ids: &RecentIds,
    ) -> Result<DigestAt, CollectError> {
        let bytes = ids.encoded();
        if bytes.len() <= INLINE_DIGEST_MAX {
            return Ok(DigestAt::Inline(ids.clone()));
        }
        let object = digest_key(
            self.prefix_of(key),
            &key.stream,
            &key.org_id,
            until,
            fastrand::u64(..),
        );
        let meta = ObjectMeta(vec![
            ("stream".into(), key.stream.clone()),
            ("org-id".into(), key.org_id.clone()),
            ("ids".into(), ids.len().to_string()),
        ]);
        match self.sink.put_if_absent(&object, bytes, &meta).await? {
            PutOutcome::Written => Ok(DigestAt::Object {
                key: object,
                ids: ids.len() as u64,
            }),
            PutOutcome::AlreadyExists => Err(CollectError::Sink(SinkError {
                operation: "PutObject",
                key: object,
                source: "a digest object with this random name exists already".into(),
            })),
        }
    }

    /// After a commit: the digest object the cursor named before is no longer read by anyone
    /// who can commit. Best effort: one left behind only costs its bytes.
    pub(super) async fn forget_digest(&self, replaced: Option<String>, cursor: &Cursor) {
        if let Some(old) = replaced
            && cursor.digest.object_key() != Some(old.as_str())
            && let Err(e) = self.sink.delete(&old).await
        {
            tracing::warn!(error = %e, "could not delete a digest no cursor names any more");
        }
    }
}
