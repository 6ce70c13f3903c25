//! The ids of events already written whose `created` is recent enough to come back in the next
//! window's overlap. Stored in the cursor item, so it is compact: 12 bytes an event.

use std::collections::HashMap;

use crate::event::EventKey;
use crate::time::Timestamp;

const FORMAT_VERSION: u8 = 1;
const ENTRY_BYTES: usize = 12;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentIds {
    created_by_key: HashMap<EventKey, Timestamp>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the cursor's recent-id digest is corrupt")]
pub struct DigestError;

impl RecentIds {
    pub fn contains(&self, key: EventKey) -> bool {
        self.created_by_key.contains_key(&key)
    }

    pub fn insert(&mut self, key: EventKey, created: Timestamp) {
        self.created_by_key.insert(key, created);
    }

    pub fn len(&self) -> usize {
        self.created_by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.created_by_key.is_empty()
    }

    /// Forgets events created before `horizon`: no later window can return them again.
    pub fn forget_before(&mut self, horizon: Timestamp) {
        self.created_by_key.retain(|_, created| *created >= horizon);
    }

    /// The digest once a window whose overlap horizon is `horizon` has written `recent` (its
    /// events created at or after the horizon).
    pub fn advanced(
        &self,
        horizon: Timestamp,
        recent: impl IntoIterator<Item = (EventKey, Timestamp)>,
    ) -> Self {
        let mut next = self.clone();
        next.forget_before(horizon);
        next.created_by_key.extend(recent);
        next
    }

    /// `version, base_ms (i64), then per event: key (u64), created - base (u32 ms)`, sorted so
    /// that the same set always encodes to the same bytes.
    pub fn encode(&self) -> Vec<u8> {
        let base = self.created_by_key.values().min().map_or(0, |t| t.millis());
        let mut entries: Vec<(EventKey, Timestamp)> =
            self.created_by_key.iter().map(|(k, t)| (*k, *t)).collect();
        entries.sort_unstable();
        let mut out = Vec::with_capacity(9 + entries.len() * ENTRY_BYTES);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&base.to_be_bytes());
        for (key, created) in entries {
            let offset = u32::try_from(created.millis() - base).unwrap_or(u32::MAX);
            out.extend_from_slice(&key.0.to_be_bytes());
            out.extend_from_slice(&offset.to_be_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DigestError> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        let (header, body) = bytes.split_at_checked(9).ok_or(DigestError)?;
        if header[0] != FORMAT_VERSION || body.len() % ENTRY_BYTES != 0 {
            return Err(DigestError);
        }
        let base = i64::from_be_bytes(header[1..9].try_into().map_err(|_| DigestError)?);
        let created_by_key = body
            .chunks_exact(ENTRY_BYTES)
            .map(|entry| {
                let key = u64::from_be_bytes(entry[..8].try_into().map_err(|_| DigestError)?);
                let offset = u32::from_be_bytes(entry[8..].try_into().map_err(|_| DigestError)?);
                Ok((
                    EventKey(key),
                    Timestamp::from_millis(base + i64::from(offset)),
                ))
            })
            .collect::<Result<_, DigestError>>()?;
        Ok(Self { created_by_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(entries: &[(&str, i64)]) -> RecentIds {
        let mut ids = RecentIds::default();
        for (id, ms) in entries {
            ids.insert(EventKey::of(id), Timestamp::from_millis(*ms));
        }
        ids
    }

    #[test]
    fn round_trips_through_bytes() {
        let cases = [
            vec![],
            vec![("a", 5)],
            vec![
                ("a", 1_795_000_000_000),
                ("b", 1_795_000_000_123),
                ("c", 1_795_000_900_000),
            ],
        ];
        for entries in cases {
            let ids = digest(&entries);
            let bytes = ids.encode();
            assert_eq!(bytes.len(), 9 + entries.len() * ENTRY_BYTES);
            assert_eq!(RecentIds::decode(&bytes).unwrap(), ids);
        }
    }

    #[test]
    fn encoding_is_deterministic() {
        let a = digest(&[("x", 10), ("y", 20), ("z", 30)]);
        let b = digest(&[("z", 30), ("x", 10), ("y", 20)]);
        assert_eq!(a.encode(), b.encode());
    }

    #[test]
    fn forgets_only_what_is_older_than_the_horizon() {
        let mut ids = digest(&[("old", 100), ("edge", 200), ("new", 300)]);
        ids.forget_before(Timestamp::from_millis(200));
        assert!(!ids.contains(EventKey::of("old")));
        assert!(ids.contains(EventKey::of("edge")));
        assert!(ids.contains(EventKey::of("new")));
    }

    #[test]
    fn rejects_corrupt_bytes() {
        let good = digest(&[("a", 1)]).encode();
        for bad in [&good[..5], &good[..good.len() - 1], &[9u8; 21][..]] {
            assert_eq!(RecentIds::decode(bad), Err(DigestError));
        }
    }
}
