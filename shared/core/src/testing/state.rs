//! DynamoDB's items in memory: cursors, leases, OAuth states and webhook delivery claims, with
//! the same conditions as the DynamoDB adapter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::faults::Faults;
use super::lock;
use crate::cursor::{Cursor, CursorKey, DigestAt, Lane};
use crate::ports::{
    ClaimStore, CursorStore, DeliveryClaim, DueLedger, LeaseStore, OAuthStateStore,
    PendingAuthorisation, StoreError, StoreFuture,
};
use crate::time::Timestamp;

#[derive(Debug, Default)]
struct Items {
    cursors: HashMap<String, Cursor>,
    /// Every cursor saved through the port, per item, in order.
    saved: HashMap<String, Vec<Cursor>>,
    /// The cursor a test put in place, per item.
    placed: HashMap<String, Cursor>,
    /// name → (owner, expires)
    leases: HashMap<String, (String, Timestamp)>,
    /// state → (what it was made for, expires)
    oauth_states: HashMap<String, (PendingAuthorisation, Timestamp)>,
    /// stream → when it is next due (epoch ms)
    due: HashMap<String, i64>,
    /// The encoded size of the largest digest a save put in a cursor item.
    largest_inline_digest: usize,
    /// delivery digest → claim
    claims: HashMap<String, DeliveryClaim>,
}

/// [`CursorStore`], [`LeaseStore`], [`OAuthStateStore`], [`DueLedger`] and [`ClaimStore`] in
/// memory. Call names for [`Faults`]: the trait methods' (`load_cursor`, `save_cursor`,
/// `acquire_lease`, ...).
#[derive(Debug, Default)]
pub struct MemoryState {
    items: Mutex<Items>,
    faults: Arc<Faults>,
}

impl MemoryState {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            items: Mutex::default(),
            faults,
        }
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// The stored cursor of `key`, without counting a call.
    pub fn cursor(&self, key: &CursorKey) -> Option<Cursor> {
        lock(&self.items).cursors.get(&key.item_key()).cloned()
    }

    /// Every cursor of `key` saved through the port, oldest first.
    pub fn saved_cursors(&self, key: &CursorKey) -> Vec<Cursor> {
        lock(&self.items)
            .saved
            .get(&key.item_key())
            .cloned()
            .unwrap_or_default()
    }

    /// Stores `cursor` as it is (version included), as an earlier release would have.
    pub fn put_cursor(&self, key: &CursorKey, cursor: Cursor) {
        let mut items = lock(&self.items);
        items.placed.insert(key.item_key(), cursor.clone());
        items.cursors.insert(key.item_key(), cursor);
    }

    /// The cursor a test put in place with [`Self::put_cursor`], if any.
    pub fn placed_cursor(&self, key: &CursorKey) -> Option<Cursor> {
        lock(&self.items).placed.get(&key.item_key()).cloned()
    }

    /// The encoded size of the stored cursor's digest when it is in the item; `None` when the
    /// digest is in an object or there is no cursor.
    pub fn inline_digest_len(&self, key: &CursorKey) -> Option<usize> {
        match self.cursor(key)?.digest {
            DigestAt::Inline(ids) => Some(ids.encoded().len()),
            DigestAt::Object { .. } => None,
        }
    }

    /// The encoded size of the largest digest any save put in a cursor item (the item's size
    /// and write cost follow it).
    pub fn largest_inline_digest_saved(&self) -> usize {
        lock(&self.items).largest_inline_digest
    }

    /// Who holds the named lease, expired or not.
    pub fn lease_holder(&self, name: &str) -> Option<String> {
        lock(&self.items)
            .leases
            .get(name)
            .map(|(owner, _)| owner.clone())
    }

    /// When the named lease expires.
    pub fn lease_expiry(&self, name: &str) -> Option<Timestamp> {
        lock(&self.items).leases.get(name).map(|(_, until)| *until)
    }

    /// What another writer does once a lease has expired: takes it over (for good).
    pub fn take_over_lease(&self, name: &str, owner: &str) {
        lock(&self.items).leases.insert(
            name.to_string(),
            (owner.to_string(), Timestamp::from_millis(i64::MAX / 2)),
        );
    }

    /// OAuth states not yet taken (expired ones included).
    pub fn oauth_states(&self) -> usize {
        lock(&self.items).oauth_states.len()
    }
}

impl CursorStore for MemoryState {
    async fn load_cursor(&self, key: &CursorKey) -> Result<Option<Cursor>, StoreError> {
        let call = self.faults.enter("load_cursor");
        call.before().map_err(|e| e.store())?;
        let cursor = self.cursor(key);
        call.after().map_err(|e| e.store())?;
        Ok(cursor)
    }

    async fn save_cursor(&self, key: &CursorKey, cursor: &Cursor) -> Result<(), StoreError> {
        let call = self.faults.enter("save_cursor");
        call.before().map_err(|e| e.store())?;
        {
            let mut items = lock(&self.items);
            let stored = items.cursors.get(&key.item_key()).map(|c| c.version);
            // As DynamoDB's condition: absent for the first write, else the version read.
            let expected = (cursor.version > 1).then(|| cursor.version - 1);
            if stored != expected {
                return Err(StoreError::Conflict);
            }
            if let DigestAt::Inline(ids) = &cursor.digest {
                items.largest_inline_digest = items.largest_inline_digest.max(ids.encoded().len());
            }
            items.cursors.insert(key.item_key(), cursor.clone());
            items
                .saved
                .entry(key.item_key())
                .or_default()
                .push(cursor.clone());
        }
        call.after().map_err(|e| e.store())
    }

    async fn delete_cursor(&self, key: &CursorKey, version: u64) -> Result<(), StoreError> {
        let call = self.faults.enter("delete_cursor");
        call.before().map_err(|e| e.store())?;
        {
            let mut items = lock(&self.items);
            let stored = items.cursors.get(&key.item_key()).map(|c| c.version);
            if stored != Some(version) {
                return Err(StoreError::Conflict);
            }
            items.cursors.remove(&key.item_key());
        }
        call.after().map_err(|e| e.store())
    }

    async fn backfills(
        &self,
        stream: &str,
        org_id: &str,
    ) -> Result<Vec<(CursorKey, Cursor)>, StoreError> {
        let call = self.faults.enter("backfills");
        call.before().map_err(|e| e.store())?;
        let found = lock(&self.items)
            .cursors
            .iter()
            .filter_map(|(item, cursor)| {
                let key = CursorKey::parse(item)?;
                let theirs = key.stream == stream && key.org_id == org_id;
                (theirs && key.lane != Lane::Live).then(|| (key, cursor.clone()))
            })
            .collect();
        call.after().map_err(|e| e.store())?;
        Ok(found)
    }
}

impl ClaimStore for MemoryState {
    async fn claim_of(&self, digest: &str) -> Result<Option<DeliveryClaim>, StoreError> {
        let call = self.faults.enter("claim_of");
        call.before().map_err(|e| e.store())?;
        let claim = lock(&self.items).claims.get(digest).cloned();
        call.after().map_err(|e| e.store())?;
        Ok(claim)
    }

    async fn put_claim(
        &self,
        digest: &str,
        claim: &DeliveryClaim,
        replacing: Option<&DeliveryClaim>,
    ) -> Result<(), StoreError> {
        let call = self.faults.enter("put_claim");
        call.before().map_err(|e| e.store())?;
        {
            let mut items = lock(&self.items);
            if items.claims.get(digest) != replacing {
                return Err(StoreError::Conflict);
            }
            items.claims.insert(digest.to_string(), claim.clone());
        }
        call.after().map_err(|e| e.store())
    }
}

impl LeaseStore for MemoryState {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let call = self.faults.enter("acquire_lease");
        call.before().map_err(|e| e.store())?;
        let free = {
            let mut items = lock(&self.items);
            let free = items
                .leases
                .get(name)
                .is_none_or(|(held_by, expires)| *expires < now || held_by == owner);
            if free {
                items
                    .leases
                    .insert(name.to_string(), (owner.to_string(), until));
            }
            free
        };
        call.after().map_err(|e| e.store())?;
        Ok(free)
    }

    async fn renew_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let call = self.faults.enter("renew_lease");
        call.before().map_err(|e| e.store())?;
        let renewed = match lock(&self.items).leases.get_mut(name) {
            Some((held_by, expires)) if held_by == owner => {
                *expires = until;
                true
            }
            _ => false,
        };
        call.after().map_err(|e| e.store())?;
        Ok(renewed)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let call = self.faults.enter("release_lease");
        call.before().map_err(|e| e.store())?;
        {
            let mut items = lock(&self.items);
            if items
                .leases
                .get(name)
                .is_some_and(|(held_by, _)| held_by == owner)
            {
                items.leases.remove(name);
            }
        }
        call.after().map_err(|e| e.store())
    }
}

impl OAuthStateStore for MemoryState {
    async fn put_oauth_state(
        &self,
        state: &str,
        pending: &PendingAuthorisation,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let call = self.faults.enter("put_oauth_state");
        call.before().map_err(|e| e.store())?;
        {
            let mut items = lock(&self.items);
            if items.oauth_states.contains_key(state) {
                return Err(StoreError::Conflict);
            }
            items
                .oauth_states
                .insert(state.to_string(), (pending.clone(), expires_at));
        }
        call.after().map_err(|e| e.store())
    }

    async fn take_oauth_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingAuthorisation>, StoreError> {
        let call = self.faults.enter("take_oauth_state");
        call.before().map_err(|e| e.store())?;
        let taken = {
            let mut items = lock(&self.items);
            match items.oauth_states.get(state) {
                Some((_, expires)) if *expires > now => {
                    items.oauth_states.remove(state).map(|(pending, _)| pending)
                }
                _ => None,
            }
        };
        call.after().map_err(|e| e.store())?;
        Ok(taken)
    }
}

impl DueLedger for MemoryState {
    fn claim<'a>(
        &'a self,
        stream: &'a str,
        now_ms: i64,
        interval_ms: i64,
    ) -> StoreFuture<'a, bool> {
        let mut items = lock(&self.items);
        let due = items.due.get(stream).is_none_or(|next| *next <= now_ms);
        if due {
            items.due.insert(stream.to_string(), now_ms + interval_ms);
        }
        Box::pin(std::future::ready(Ok(due)))
    }

    fn release<'a>(
        &'a self,
        stream: &'a str,
        now_ms: i64,
        interval_ms: i64,
    ) -> StoreFuture<'a, ()> {
        let mut items = lock(&self.items);
        if items.due.get(stream) == Some(&(now_ms + interval_ms)) {
            items.due.remove(stream);
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{IdentityName, IdentityUse};

    fn key() -> CursorKey {
        CursorKey::live("admin-audit", "ORG")
    }

    fn at(version: u64) -> Cursor {
        Cursor {
            version,
            ..Cursor::default()
        }
    }

    #[tokio::test]
    async fn a_cursor_is_saved_only_over_the_version_it_was_read_at() {
        let state = MemoryState::default();
        let cases = [
            ("a second cursor that skipped a version", 2, false),
            ("the first write", 1, true),
            ("the first write again", 1, false),
            ("a stale write", 2, true),
            ("the same version twice", 2, false),
            ("a version ahead", 4, false),
            ("the next version", 3, true),
        ];
        for (name, version, saved) in cases {
            let outcome = state.save_cursor(&key(), &at(version)).await;
            assert_eq!(outcome.is_ok(), saved, "{name}: {outcome:?}");
            if let Err(e) = outcome {
                assert!(matches!(e, StoreError::Conflict), "{name}: {e:?}");
            }
        }
        assert_eq!(state.cursor(&key()).map(|c| c.version), Some(3));
        assert_eq!(state.load_cursor(&key()).await.unwrap(), Some(at(3)));
    }

    #[tokio::test]
    async fn a_lease_is_held_until_it_expires_or_is_given_back() {
        let state = MemoryState::default();
        let t = Timestamp::from_millis;
        assert!(state.acquire_lease("l", "a", t(100), t(0)).await.unwrap());
        assert!(!state.acquire_lease("l", "b", t(200), t(50)).await.unwrap());
        assert!(
            state.acquire_lease("l", "a", t(150), t(60)).await.unwrap(),
            "its own"
        );
        assert!(state.renew_lease("l", "a", t(300)).await.unwrap());
        assert!(!state.renew_lease("l", "b", t(300)).await.unwrap());
        state.release_lease("l", "b").await.unwrap();
        assert_eq!(
            state.lease_holder("l").as_deref(),
            Some("a"),
            "not b's to give"
        );
        assert!(
            state.acquire_lease("l", "b", t(400), t(301)).await.unwrap(),
            "expired"
        );
        assert!(
            !state.renew_lease("l", "a", t(500)).await.unwrap(),
            "taken over"
        );
        state.release_lease("l", "b").await.unwrap();
        assert_eq!(state.lease_holder("l"), None);
    }

    #[tokio::test]
    async fn an_oauth_state_is_taken_once_and_only_before_it_expires() {
        let state = MemoryState::default();
        let t = Timestamp::from_millis;
        let pending = PendingAuthorisation {
            identity: IdentityName::ADMIN,
            expected_email: None,
            scopes: IdentityUse::by_default(&IdentityName::ADMIN).requested_scopes(),
        };
        state.put_oauth_state("s1", &pending, t(100)).await.unwrap();
        state.put_oauth_state("s2", &pending, t(100)).await.unwrap();
        assert_eq!(
            state.take_oauth_state("s1", t(99)).await.unwrap(),
            Some(pending)
        );
        assert_eq!(
            state.take_oauth_state("s1", t(99)).await.unwrap(),
            None,
            "used"
        );
        assert_eq!(
            state.take_oauth_state("s2", t(100)).await.unwrap(),
            None,
            "expired"
        );
        assert_eq!(
            state.take_oauth_state("s3", t(0)).await.unwrap(),
            None,
            "unknown"
        );
    }

    #[tokio::test]
    async fn injected_faults_answer_unavailable() {
        let state = MemoryState::default();
        state.faults().fail_call(1, super::super::Effect::After);
        let outcome = state.save_cursor(&key(), &at(1)).await;
        assert!(matches!(outcome, Err(StoreError::Unavailable { .. })));
        assert_eq!(state.cursor(&key()), Some(at(1)), "written, answer lost");
    }
}
