//! Identities (DESIGN §7): named credentials, each kept in a secret of its own and written
//! under a token lock of its own. A stream reads with one identity; what the identity's token
//! must allow follows from the streams that read with it.

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::stream::{ORGANIZATIONS_SCOPE, PEOPLE_READ_SCOPE, StreamId};

/// The longest identity name.
pub const MAX_IDENTITY_NAME_CHARS: usize = 63;

/// The rule for identity names, as error messages state it.
pub const IDENTITY_NAME_RULE: &str = "1 to 63 of a-z, 0-9, _ and -";

/// Whether `text` is an identity name: 1 to 63 of `a-z`, `0-9`, `_` and `-`. The one check for
/// `[identities.NAME]` in a document, `--identity` on the command line and a stored OAuth state.
pub const fn is_identity_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_IDENTITY_NAME_CHARS {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// A valid identity name: `admin`, `compliance`, `partner`. Also the suffix of the identity's
/// token lock (`lock#token#{name}`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityName(Cow<'static, str>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an identity name: {IDENTITY_NAME_RULE}")]
pub struct InvalidIdentityName(pub String);

impl IdentityName {
    /// The full administrator's identity of a deployment without a document (`ADMIN_SECRET_ID`):
    /// today's `admin` profile.
    pub const ADMIN: Self = Self::from_static("admin");
    /// The compliance officer's identity of a deployment without a document
    /// (`COMPLIANCE_SECRET_ID`): today's `compliance` profile.
    pub const COMPLIANCE: Self = Self::from_static("compliance");

    /// A name written in the code; checked when the compiler evaluates it in a constant.
    pub const fn from_static(name: &'static str) -> Self {
        assert!(is_identity_name(name), "not an identity name");
        Self(Cow::Borrowed(name))
    }

    pub fn parse(text: &str) -> Result<Self, InvalidIdentityName> {
        if is_identity_name(text) {
            Ok(Self(Cow::Owned(text.to_string())))
        } else {
            Err(InvalidIdentityName(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for IdentityName {
    type Err = InvalidIdentityName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for IdentityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IdentityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl AsRef<str> for IdentityName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for IdentityName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IdentityName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for IdentityName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What the streams that read with one identity need of its token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentityUse {
    /// In the order they were added, each once.
    streams: Vec<StreamId>,
    /// Whether one of them discovers its organisations (`GET /organizations`).
    discovers_orgs: bool,
}

impl IdentityUse {
    /// The streams that read with `identity` when no document names one: `admin` for both
    /// audits, `compliance` for compliance events.
    pub fn by_default(identity: &IdentityName) -> Self {
        let mut used = Self::default();
        for stream in StreamId::ALL {
            if *identity == stream.spec().default_identity {
                used.add(stream, false);
            }
        }
        used
    }

    /// `stream` reads with the identity; `discovers_orgs` when it lists its organisations.
    pub fn add(&mut self, stream: StreamId, discovers_orgs: bool) {
        if !self.streams.contains(&stream) {
            self.streams.push(stream);
        }
        self.discovers_orgs |= discovers_orgs;
    }

    pub fn discovering_orgs(mut self, discovers_orgs: bool) -> Self {
        self.discovers_orgs |= discovers_orgs;
        self
    }

    pub fn streams(&self) -> &[StreamId] {
        &self.streams
    }

    pub fn discovers_orgs(&self) -> bool {
        self.discovers_orgs
    }

    /// Every scope the token needs: the streams' own, each once, then reading the signed-in
    /// person (the callback learns the organisation from it), then listing organisations when
    /// a stream discovers them.
    pub fn scopes(&self) -> Vec<&'static str> {
        let mut scopes: Vec<&'static str> = Vec::new();
        for stream in &self.streams {
            let scope = stream.spec().scope;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.push(PEOPLE_READ_SCOPE);
        if self.discovers_orgs {
            scopes.push(ORGANIZATIONS_SCOPE);
        }
        scopes
    }

    /// What `webexctl auth url` asks Webex for, as the `scope` parameter takes it.
    pub fn requested_scopes(&self) -> String {
        self.scopes().join(" ")
    }

    /// One stream per scope the streams need (the first that needs it): reading each once with
    /// a new token shows whether Webex granted that scope.
    pub fn probes(&self) -> Vec<StreamId> {
        let mut probes: Vec<StreamId> = Vec::new();
        for stream in &self.streams {
            if !probes.iter().any(|p| p.spec().scope == stream.spec().scope) {
                probes.push(*stream);
            }
        }
        probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names_are_short_lowercase_words() {
        let good = [
            "admin",
            "compliance",
            "partner_2",
            "a",
            "x-y",
            &"a".repeat(63),
        ];
        for name in good {
            assert!(is_identity_name(name), "{name}");
            assert_eq!(IdentityName::parse(name).unwrap().as_str(), name);
        }
        let bad = [
            "",
            "Admin",
            "ad min",
            "admin#x",
            "adm.in",
            "ädmin",
            "admin\n",
            &"a".repeat(64),
        ];
        for name in bad {
            assert!(!is_identity_name(name), "{name:?}");
            let err = IdentityName::parse(name).unwrap_err();
            assert!(err.to_string().contains(IDENTITY_NAME_RULE), "{err}");
        }
    }

    #[test]
    fn the_names_of_todays_profiles_are_identity_names() {
        assert_eq!(IdentityName::ADMIN, "admin");
        assert_eq!(IdentityName::COMPLIANCE, "compliance");
        assert_eq!(
            IdentityName::parse("admin").unwrap(),
            IdentityName::ADMIN,
            "a parsed name equals the constant"
        );
        for stream in StreamId::ALL {
            assert!(is_identity_name(stream.spec().default_identity), "{stream}");
        }
        assert_eq!(
            serde_json::to_string(&IdentityName::ADMIN).unwrap(),
            "\"admin\""
        );
    }

    #[test]
    fn an_identity_needs_its_streams_scopes_once_and_the_people_scope() {
        let admin = IdentityUse::by_default(&IdentityName::ADMIN);
        assert_eq!(
            admin.streams(),
            [StreamId::AdminAudit, StreamId::SecurityAudit]
        );
        assert_eq!(
            admin.requested_scopes(),
            "audit:events_read spark:people_read"
        );
        assert_eq!(admin.probes(), [StreamId::AdminAudit]);
        assert_eq!(
            admin.clone().discovering_orgs(true).requested_scopes(),
            "audit:events_read spark:people_read spark-admin:organizations_read"
        );
        let compliance = IdentityUse::by_default(&IdentityName::COMPLIANCE);
        assert_eq!(
            compliance.requested_scopes(),
            "spark-compliance:events_read spark:people_read"
        );
        let mut both = IdentityUse::default();
        both.add(StreamId::ComplianceEvents, false);
        both.add(StreamId::SecurityAudit, true);
        both.add(StreamId::AdminAudit, false);
        assert_eq!(
            both.requested_scopes(),
            "spark-compliance:events_read audit:events_read spark:people_read \
             spark-admin:organizations_read"
        );
        assert_eq!(
            both.probes(),
            [StreamId::ComplianceEvents, StreamId::SecurityAudit]
        );
        let unused = IdentityUse::by_default(&IdentityName::parse("partner").unwrap());
        assert_eq!(unused.requested_scopes(), "spark:people_read");
        assert!(unused.probes().is_empty());
    }
}
