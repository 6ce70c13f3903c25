//! Events as raw bytes. Each event is kept exactly as its source sent it; only its id and time
//! are read (by `page`), because the cursor needs them.

use bytes::Bytes;

use crate::time::Timestamp;

/// A stable 64-bit digest of an event id. Stable across processes and releases (it is stored
/// in the cursor), so it is FNV-1a with a final avalanche, not the standard library's hasher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(pub u64);

impl EventKey {
    pub fn of(id: &str) -> Self {
        Self::of_bytes(id.as_bytes())
    }

    pub fn of_bytes(id: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in id {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // splitmix64 finaliser: FNV alone clusters on ids that differ only at the end.
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        Self(h ^ (h >> 31))
    }
}

#[derive(Clone, Debug)]
pub struct RawEvent {
    /// The event's JSON exactly as received, without a trailing newline.
    pub json: Bytes,
    pub key: EventKey,
    pub created: Timestamp,
}

/// NDJSON needs each event on one line. Raw newlines can only be insignificant whitespace in
/// JSON (inside strings they must be escaped), so removing them keeps the event intact; the
/// common, compact case shares the body's bytes without copying.
pub(crate) fn one_line(body: &Bytes, json: &str) -> Bytes {
    if json.bytes().any(|b| b == b'\n' || b == b'\r') {
        Bytes::from(
            json.bytes()
                .filter(|b| *b != b'\n' && *b != b'\r')
                .collect::<Vec<u8>>(),
        )
    } else {
        body.slice_ref(json.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_stable_and_distinct() {
        // Pinned: the cursor stores these, so a change here would re-emit recent events.
        assert_eq!(EventKey::of("a"), EventKey(0x02c0_bdbf_4814_20f8));
        assert_ne!(EventKey::of("event-1"), EventKey::of("event-2"));
        let keys: std::collections::HashSet<_> = (0..100_000)
            .map(|i| EventKey::of(&format!("id-{i}")))
            .collect();
        assert_eq!(keys.len(), 100_000);
    }
}
