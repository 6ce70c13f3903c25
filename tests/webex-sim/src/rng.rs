//! Deterministic randomness: every random choice is drawn from a generator seeded by mixing
//! the simulator seed with what the choice is for, so reruns give identical bytes.

use fastrand::Rng;

/// Mixes numbers into one well-spread seed (splitmix64 steps).
pub(crate) fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x9E37_79B9_7F4A_7C15, |acc, part| {
        splitmix64(acc ^ splitmix64(*part))
    })
}

pub(crate) fn rng_for(parts: &[u64]) -> Rng {
    Rng::with_seed(mix(parts))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a string hash that, unlike `std`'s default hasher, is stable across Rust releases.
pub(crate) fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |acc, byte| {
        (acc ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A version-4-looking UUID (lowercase hex with dashes).
pub(crate) fn uuid(rng: &mut Rng) -> String {
    let hex = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[rng.usize(..16)]))
            .collect()
    };
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        char::from(b"89ab"[rng.usize(..4)]),
        hex(rng, 3),
        hex(rng, 12)
    )
}

pub(crate) fn alphanumeric(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(CHARS[rng.usize(..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_depends_on_every_part_and_its_position() {
        assert_eq!(mix(&[1, 2, 3]), mix(&[1, 2, 3]));
        assert_ne!(mix(&[1, 2, 3]), mix(&[1, 2, 4]));
        assert_ne!(mix(&[1, 2]), mix(&[2, 1]));
        assert_ne!(mix(&[0]), mix(&[0, 0]));
    }

    #[test]
    fn uuids_look_like_uuids() {
        let mut rng = rng_for(&[7]);
        let id = uuid(&mut rng);
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid(&mut rng));
    }

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(hash_str(""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(hash_str("a"), 0xAF63_DC4C_8601_EC8C);
    }
}
