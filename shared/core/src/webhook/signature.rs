//! `X-Spark-Signature`: the hex HMAC-SHA1 of the raw body under the webhook's secret, compared
//! in constant time with the current secret and, during a rotation, the pending one.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::Refusal;
use crate::secret::SigningSecret;

/// The secrets a delivery may be signed with. While a rotation is under way Webex may sign
/// with either: the pending secret is accepted before Webex is told of it, and the old one is
/// dropped only after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningSecrets {
    pub current: SigningSecret,
    pub pending: Option<SigningSecret>,
}

/// Which of the secrets signed a delivery (for the metric of a rotation's progress).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedWith {
    Current,
    Pending,
}

/// An HMAC-SHA1 tag is 20 bytes: 40 hex digits.
const TAG_LEN: usize = 20;

impl SigningSecrets {
    /// Whether `header` is the signature of `body` under one of the secrets.
    pub fn verify(&self, body: &[u8], header: Option<&[u8]>) -> Result<SignedWith, Refusal> {
        let header = header.ok_or(Refusal::Unsigned)?;
        let tag = decode_hex(header.trim_ascii()).ok_or(Refusal::BadSignature)?;
        let candidates = [
            Some((&self.current, SignedWith::Current)),
            self.pending.as_ref().map(|p| (p, SignedWith::Pending)),
        ];
        // Both are checked whatever the first gives, so the time taken does not say which.
        let mut signed = None;
        for (secret, which) in candidates.into_iter().flatten() {
            if signs(secret, body, &tag) && signed.is_none() {
                signed = Some(which);
            }
        }
        signed.ok_or(Refusal::BadSignature)
    }
}

/// The signature of `body` under `secret`, as Webex writes it (lower-case hex).
pub fn sign(secret: &SigningSecret, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn signs(secret: &SigningSecret, body: &[u8], tag: &[u8; TAG_LEN]) -> bool {
    let mut mac = mac(secret);
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(tag).is_ok()
}

fn mac(secret: &SigningSecret) -> Hmac<Sha1> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha1> as KeyInit>::new_from_slice(secret.secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"))
}

fn decode_hex(text: &[u8]) -> Option<[u8; TAG_LEN]> {
    if text.len() != 2 * TAG_LEN {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut tag = [0; TAG_LEN];
    for (byte, pair) in tag.iter_mut().zip(text.chunks_exact(2)) {
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(current: &str, pending: Option<&str>) -> SigningSecrets {
        SigningSecrets {
            current: SigningSecret::new(current),
            pending: pending.map(SigningSecret::new),
        }
    }

    #[test]
    fn matches_an_hmac_sha1_computed_elsewhere() {
        // RFC 2202's test case 2.
        let signature = sign(&SigningSecret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(signature, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn accepts_the_current_and_the_pending_secret_and_nothing_else() {
        let body = br#"{"id":"w1","orgId":"o1","data":{}}"#;
        let keys = secrets("current-secret", Some("pending-secret"));
        let by = |secret: &str| sign(&SigningSecret::new(secret), body).into_bytes();

        assert_eq!(
            keys.verify(body, Some(&by("current-secret"))),
            Ok(SignedWith::Current)
        );
        assert_eq!(
            keys.verify(body, Some(&by("pending-secret"))),
            Ok(SignedWith::Pending)
        );
        let upper = by("current-secret").to_ascii_uppercase();
        assert_eq!(keys.verify(body, Some(&upper)), Ok(SignedWith::Current));
        let padded = [b" ".as_slice(), &by("current-secret"), b"\t"].concat();
        assert_eq!(keys.verify(body, Some(&padded)), Ok(SignedWith::Current));

        let refused = [
            by("another-webhook-secret"),
            by("current-secre"),
            by("current-secret")[..39].to_vec(),
            [by("current-secret"), b"00".to_vec()].concat(),
            by("current-secret")
                .iter()
                .map(|&c| if c == b'a' { b'g' } else { c })
                .collect(),
            b"sha1="
                .iter()
                .chain(&by("current-secret"))
                .copied()
                .collect(),
            Vec::new(),
        ];
        for header in refused {
            assert_eq!(
                keys.verify(body, Some(&header)),
                Err(Refusal::BadSignature),
                "{}",
                String::from_utf8_lossy(&header)
            );
        }
        assert_eq!(keys.verify(body, None), Err(Refusal::Unsigned));
        // Without a rotation under way, the old pending secret no longer signs.
        let after = secrets("pending-secret", None);
        assert_eq!(
            after.verify(body, Some(&by("current-secret"))),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn the_signature_is_of_the_bytes_received_not_of_the_json_they_hold() {
        let body = br#"{ "id": "w1", "orgId": "o1", "data": {"roomId": "r\u00e9"} }"#;
        let keys = secrets("s", None);
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        let signature = sign(&keys.current, &reserialised).into_bytes();
        assert_eq!(
            keys.verify(body, Some(&signature)),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            keys.verify(&reserialised, Some(&signature)),
            Ok(SignedWith::Current)
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let text = format!("{:?}", secrets("hunter2", Some("hunter3")));
        assert!(!text.contains("hunter"), "{text}");
    }
}
