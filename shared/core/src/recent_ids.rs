//! The ids of events already written whose `created` is recent enough to come back in the next
//! window's overlap: the digest a window hands to the next and the cursor keeps.
//!
//! A busy organisation puts a million events into one overlap, so the digest is kept the way it
//! is stored, as one byte buffer, 8 bytes an event: looked up in place, never decoded into a
//! hash set, and the next window's digest is written by one merge. Ids are grouped by the second
//! of their `created` (an event's `created` never changes, so a lookup searches one second) and
//! sorted within it; forgetting what the next overlap cannot return drops whole seconds.
//!
//! Layout (format 2, all big-endian):
//! `2u8, base second i64, second count u32`, then every id's key `u64`, then per second
//! `offset from base u32, end u32` (the number of ids up to and including this second). The
//! table comes last so that a merge writes the keys straight into the final buffer.

use bytes::{BufMut, Bytes, BytesMut};

use crate::event::EventKey;
use crate::time::Timestamp;

const FORMAT: u8 = 2;
/// Format 1, written by releases before 2026-12: `1u8, base ms i64`, then per event `key u64,
/// created - base u32 ms`. Still read, so that an upgrade carries the digest forward.
const LEGACY_FORMAT: u8 = 1;
const HEADER: usize = 13;
const SECOND_BYTES: usize = 8;
const KEY_BYTES: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentIds {
    bytes: Bytes,
    base: i64,
    seconds: usize,
}

impl Default for RecentIds {
    fn default() -> Self {
        Self::from_sorted(&mut Vec::new())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the cursor's recent-id digest is corrupt")]
pub struct DigestError;

impl RecentIds {
    /// Whether the event with this key and `created` has been written.
    pub fn contains(&self, key: EventKey, created: Timestamp) -> bool {
        let Some(index) = self.second_index(created.unix_seconds()) else {
            return false;
        };
        let (start, end) = self.key_range(index);
        let (mut low, mut high) = (start, end);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.key(middle).cmp(&key.0) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        false
    }

    pub fn len(&self) -> usize {
        self.ids()
    }

    pub fn is_empty(&self) -> bool {
        self.ids() == 0
    }

    /// The stored form (see the module's documentation).
    pub fn encoded(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The digest once a window whose overlap horizon is `horizon` has written `recent` (its
    /// events created at or after the horizon, in any order). Seconds wholly before the
    /// horizon are forgotten: no later window can return their events again. What is kept of
    /// a second the horizon cuts is harmless: those events were written.
    pub fn advanced(&self, horizon: Timestamp, mut recent: Vec<(EventKey, Timestamp)>) -> Self {
        let horizon_second = horizon.unix_seconds();
        let mut new: Vec<(i64, u64)> = recent
            .drain(..)
            .map(|(key, created)| (created.unix_seconds(), key.0))
            .filter(|(second, _)| *second >= horizon_second)
            .collect();
        drop(recent);
        new.sort_unstable();
        new.dedup();
        let kept = (0..self.seconds)
            .filter(|index| self.second(*index) >= horizon_second)
            .flat_map(|index| {
                let second = self.second(index);
                let (start, end) = self.key_range(index);
                (start..end).map(move |i| (second, i))
            })
            .map(|(second, i)| (second, self.key(i)));
        Self::merged(kept, new)
    }

    /// Reads the stored form, either format.
    pub fn decode(bytes: Bytes) -> Result<Self, DigestError> {
        match bytes.first() {
            None => Ok(Self::default()),
            Some(&FORMAT) => Self::checked(bytes),
            Some(&LEGACY_FORMAT) => Self::from_legacy(&bytes),
            Some(_) => Err(DigestError),
        }
    }

    fn checked(bytes: Bytes) -> Result<Self, DigestError> {
        let header = bytes.get(..HEADER).ok_or(DigestError)?;
        let base = i64::from_be_bytes(header[1..9].try_into().map_err(|_| DigestError)?);
        let seconds = u32::from_be_bytes(header[9..13].try_into().map_err(|_| DigestError)?);
        let ids = Self {
            bytes,
            base,
            seconds: seconds as usize,
        };
        let table = ids.seconds.checked_mul(SECOND_BYTES).ok_or(DigestError)?;
        if ids.bytes.len() < HEADER + table
            || ids.bytes.len() != HEADER + table + ids.ids() * KEY_BYTES
            // Seconds later and later, each holding ids (so the last end is the largest)...
            || !(0..ids.seconds).all(|i| {
                let (start, end) = ids.key_range(i);
                (i == 0 || ids.offset(i) > ids.offset(i - 1)) && start < end
            })
            // ...and keys sorted within each second.
            || !(0..ids.seconds).all(|i| {
                let (start, end) = ids.key_range(i);
                (start + 1..end).all(|k| ids.key(k - 1) < ids.key(k))
            })
        {
            return Err(DigestError);
        }
        Ok(ids)
    }

    fn from_legacy(bytes: &[u8]) -> Result<Self, DigestError> {
        const ENTRY: usize = 12;
        let (header, body) = bytes.split_at_checked(9).ok_or(DigestError)?;
        if body.len() % ENTRY != 0 {
            return Err(DigestError);
        }
        let base = i64::from_be_bytes(header[1..9].try_into().map_err(|_| DigestError)?);
        let mut entries: Vec<(i64, u64)> = body
            .chunks_exact(ENTRY)
            .map(|entry| {
                let key = u64::from_be_bytes(entry[..8].try_into().expect("8 bytes"));
                let offset = u32::from_be_bytes(entry[8..].try_into().expect("4 bytes"));
                let created = Timestamp::from_millis(base.saturating_add(i64::from(offset)));
                (created.unix_seconds(), key)
            })
            .collect();
        Ok(Self::from_sorted(&mut entries))
    }

    /// From `(second, key)` pairs in any order.
    fn from_sorted(entries: &mut Vec<(i64, u64)>) -> Self {
        entries.sort_unstable();
        entries.dedup();
        Self::merged(std::iter::empty(), std::mem::take(entries))
    }

    /// One digest from two sequences each sorted by `(second, key)`; a pair in both is kept
    /// once.
    fn merged(a: impl Iterator<Item = (i64, u64)>, b: Vec<(i64, u64)>) -> Self {
        let mut a = a.peekable();
        let mut b = b.into_iter().peekable();
        let mut bytes = BytesMut::with_capacity(HEADER + b.len() * KEY_BYTES);
        bytes.put_u8(FORMAT);
        // Base and second count are written once known.
        bytes.put_bytes(0, HEADER - 1);
        let mut table: Vec<(i64, u32)> = Vec::new();
        let mut ids: u32 = 0;
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (Some(x), Some(y)) if x > y => b.next(),
                (Some(_), Some(_)) => {
                    b.next();
                    a.next()
                }
                (Some(_), None) => a.next(),
                (None, _) => b.next(),
            };
            let Some((second, key)) = next else { break };
            bytes.put_u64(key);
            ids += 1;
            match table.last_mut() {
                Some((last, end)) if *last == second => *end = ids,
                _ => table.push((second, ids)),
            }
        }
        let base = table.first().map_or(0, |(second, _)| *second);
        bytes[1..9].copy_from_slice(&base.to_be_bytes());
        bytes[9..13].copy_from_slice(&(table.len() as u32).to_be_bytes());
        for (second, end) in &table {
            // Overlaps span minutes to hours; a digest never spans 136 years.
            bytes.put_u32(u32::try_from(second - base).unwrap_or(u32::MAX));
            bytes.put_u32(*end);
        }
        Self {
            bytes: bytes.freeze(),
            base,
            seconds: table.len(),
        }
    }

    fn ids(&self) -> usize {
        match self.seconds {
            0 => 0,
            n => self.end(n - 1),
        }
    }

    fn second_index(&self, second: i64) -> Option<usize> {
        let offset = u32::try_from(second.checked_sub(self.base)?).ok()?;
        let (mut low, mut high) = (0, self.seconds);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.offset(middle).cmp(&offset) {
                std::cmp::Ordering::Equal => return Some(middle),
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        None
    }

    fn second(&self, index: usize) -> i64 {
        self.base + i64::from(self.offset(index))
    }

    fn offset(&self, index: usize) -> u32 {
        self.u32_at(self.table_start() + index * SECOND_BYTES)
    }

    fn end(&self, index: usize) -> usize {
        self.u32_at(self.table_start() + index * SECOND_BYTES + 4) as usize
    }

    fn table_start(&self) -> usize {
        self.bytes.len() - self.seconds * SECOND_BYTES
    }

    fn key_range(&self, index: usize) -> (usize, usize) {
        let start = if index == 0 { 0 } else { self.end(index - 1) };
        (start, self.end(index).max(start))
    }

    fn key(&self, index: usize) -> u64 {
        let at = HEADER + index * KEY_BYTES;
        u64::from_be_bytes(self.bytes[at..at + KEY_BYTES].try_into().expect("8 bytes"))
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.bytes[at..at + 4].try_into().expect("4 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn digest(entries: &[(&str, i64)]) -> RecentIds {
        RecentIds::default().advanced(
            t(i64::MIN / 2),
            entries
                .iter()
                .map(|(id, ms)| (EventKey::of(id), t(*ms)))
                .collect(),
        )
    }

    #[test]
    fn round_trips_through_bytes() {
        let cases = [
            vec![],
            vec![("a", 5_000)],
            vec![
                ("a", 1_795_000_000_000),
                ("b", 1_795_000_000_123),
                ("c", 1_795_000_900_000),
                ("d", 1_795_000_900_999),
            ],
        ];
        for entries in cases {
            let ids = digest(&entries);
            assert_eq!(ids.len(), entries.len());
            let decoded = RecentIds::decode(ids.encoded()).unwrap();
            assert_eq!(decoded, ids);
            for (id, ms) in &entries {
                assert!(decoded.contains(EventKey::of(id), t(*ms)), "{id}");
            }
            assert!(!decoded.contains(EventKey::of("z"), t(1_795_000_000_000)));
        }
    }

    #[test]
    fn costs_eight_bytes_an_event_when_seconds_are_busy() {
        let entries: Vec<(EventKey, Timestamp)> = (0..100_000)
            .map(|i| {
                (
                    EventKey::of(&format!("e{i}")),
                    t(1_795_000_000_000 + i % 60_000),
                )
            })
            .collect();
        let ids = RecentIds::default().advanced(t(0), entries.clone());
        assert_eq!(ids.len(), 100_000);
        assert_eq!(
            ids.encoded().len(),
            HEADER + 60 * SECOND_BYTES + 100_000 * 8
        );
        assert!(entries.iter().all(|(k, c)| ids.contains(*k, *c)));
    }

    #[test]
    fn encoding_is_deterministic() {
        let a = digest(&[("x", 10_000), ("y", 20_000), ("z", 30_000)]);
        let b = digest(&[("z", 30_000), ("x", 10_000), ("y", 20_000), ("x", 10_000)]);
        assert_eq!(a.encoded(), b.encoded());
    }

    #[test]
    fn an_event_is_found_only_under_its_own_second() {
        let ids = digest(&[("a", 10_500)]);
        assert!(ids.contains(EventKey::of("a"), t(10_000)));
        assert!(ids.contains(EventKey::of("a"), t(10_999)));
        assert!(!ids.contains(EventKey::of("a"), t(11_000)));
        assert!(!ids.contains(EventKey::of("a"), t(-5_000_000)));
    }

    #[test]
    fn advancing_forgets_only_seconds_wholly_before_the_horizon() {
        let ids = digest(&[("old", 100_000), ("edge", 200_400), ("new", 300_000)]);
        let next = ids.advanced(t(200_500), vec![(EventKey::of("late"), t(250_000))]);
        assert!(!next.contains(EventKey::of("old"), t(100_000)));
        assert!(next.contains(EventKey::of("edge"), t(200_400)));
        assert!(next.contains(EventKey::of("new"), t(300_000)));
        assert!(next.contains(EventKey::of("late"), t(250_000)));
        assert_eq!(next.len(), 3);
        // A recent event written twice (adopted and refetched) is kept once.
        let again = next.advanced(t(200_500), vec![(EventKey::of("new"), t(300_000))]);
        assert_eq!(again, next);
    }

    #[test]
    fn reads_the_format_written_by_earlier_releases() {
        let base = 1_795_000_000_000_i64;
        let mut legacy = vec![LEGACY_FORMAT];
        legacy.extend_from_slice(&base.to_be_bytes());
        for (id, offset) in [("a", 0u32), ("b", 1_500), ("c", 900_000)] {
            legacy.extend_from_slice(&EventKey::of(id).0.to_be_bytes());
            legacy.extend_from_slice(&offset.to_be_bytes());
        }
        let ids = RecentIds::decode(Bytes::from(legacy)).unwrap();
        assert_eq!(ids.len(), 3);
        assert!(ids.contains(EventKey::of("a"), t(base)));
        assert!(ids.contains(EventKey::of("b"), t(base + 1_500)));
        assert!(ids.contains(EventKey::of("c"), t(base + 900_000)));
        assert_eq!(ids.encoded()[0], FORMAT);
    }

    #[test]
    fn rejects_corrupt_bytes() {
        let good = digest(&[("a", 1_000), ("b", 5_000)]).encoded();
        let mut unsorted = good.to_vec();
        // Both seconds claim to start at offset 0.
        let second_entry = unsorted.len() - SECOND_BYTES;
        unsorted[second_entry..second_entry + 4].copy_from_slice(&0u32.to_be_bytes());
        for bad in [
            &good[..5],
            &good[..good.len() - 1],
            &[9u8; 21][..],
            &[1u8, 0, 0][..],
            &unsorted[..],
        ] {
            assert_eq!(
                RecentIds::decode(Bytes::copy_from_slice(bad)),
                Err(DigestError)
            );
        }
    }
}
