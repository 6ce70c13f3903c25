//! Which identities a deployment has, and what each one's token must allow (DESIGN §7): from
//! the collector document when there is one, otherwise from today's variables, which describe
//! two: `admin` (`ADMIN_SECRET_ID`, both audits) and `compliance`
//! (`COMPLIANCE_SECRET_ID`, compliance events).

use aws_adapters::SecretsManagerStore;
use collector_core::IdentityName;
use collector_core::identity::IdentityUse;
use collector_core::oauth::IdentitySecrets;

use crate::config::{ConfigError, Env};
use crate::document::{Document, IdentityKind, Orgs};

/// One identity of the deployment: where its credential is, and what its streams need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredIdentity {
    pub name: IdentityName,
    /// The Secrets Manager secret id (a name or an ARN).
    pub secret_id: String,
    /// The streams that read with it: its scopes follow from them.
    pub used: IdentityUse,
}

/// Every identity of a deployment, in the document's order (`admin`, then `compliance`,
/// without a document).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identities(Vec<ConfiguredIdentity>);

/// A name given on the command line that is not one of the deployment's identities.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity {name:?}; this deployment has {known}")]
pub struct UnknownIdentity {
    pub name: String,
    /// The names it has, comma-separated.
    pub known: String,
}

impl Identities {
    /// The identities of a deployment without a document: `ADMIN_SECRET_ID`,
    /// `COMPLIANCE_SECRET_ID` and `ORG_IDS`, read through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let admin = env.required("ADMIN_SECRET_ID")?;
        let compliance = env.required("COMPLIANCE_SECRET_ID")?;
        // Partner administrators' audits list the organisations they manage.
        let discover = env.optional("ORG_IDS").as_deref() == Some("discover");
        Ok(Self(vec![
            ConfiguredIdentity {
                used: IdentityUse::by_default(&IdentityName::ADMIN).discovering_orgs(discover),
                name: IdentityName::ADMIN,
                secret_id: admin,
            },
            ConfiguredIdentity {
                used: IdentityUse::by_default(&IdentityName::COMPLIANCE),
                name: IdentityName::COMPLIANCE,
                secret_id: compliance,
            },
        ]))
    }

    /// The document's Webex identities (the ones `webexctl auth` and the callback authorise),
    /// each with the streams that read with it.
    pub fn from_document(document: &Document) -> Self {
        Self(
            document
                .identities
                .iter()
                .filter(|identity| identity.kind == IdentityKind::WebexOauth)
                // A validated document's names pass the same rule.
                .filter_map(|identity| {
                    let name = IdentityName::parse(&identity.name).ok()?;
                    let mut used = IdentityUse::default();
                    for stream in document
                        .streams
                        .iter()
                        .filter(|s| s.identity == identity.name)
                    {
                        if let Some(id) = stream.source.webex() {
                            used.add(id, stream.orgs == Orgs::Discover);
                        }
                    }
                    Some(ConfiguredIdentity {
                        name,
                        secret_id: identity.secret.clone(),
                        used,
                    })
                })
                .collect(),
        )
    }

    /// Each identity's secret in Secrets Manager, with what its streams need.
    pub fn secret_stores(
        &self,
        client: &aws_sdk_secretsmanager::Client,
    ) -> IdentitySecrets<SecretsManagerStore> {
        self.0
            .iter()
            .map(|i| {
                let store = SecretsManagerStore::new(client.clone(), &i.secret_id);
                (i.name.clone(), store, i.used.clone())
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfiguredIdentity> {
        self.0.iter()
    }

    pub fn get(&self, name: &IdentityName) -> Option<&ConfiguredIdentity> {
        self.0.iter().find(|i| i.name == *name)
    }

    /// The identity called `name`, or an error that lists the ones there are.
    pub fn find(&self, name: &str) -> Result<&ConfiguredIdentity, UnknownIdentity> {
        self.0
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| self.unknown(name))
    }

    /// The error for a name that is not one of these identities.
    pub fn unknown(&self, name: &str) -> UnknownIdentity {
        UnknownIdentity {
            name: name.to_string(),
            known: self.names(),
        }
    }

    /// Every name, comma-separated.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|i| i.name.as_str()).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use collector_core::StreamId;

    use super::*;

    fn from_env(pairs: &[(&str, &str)]) -> Result<Identities, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Identities::from_lookup(|name| env.get(name).cloned())
    }

    fn scopes(identities: &Identities, name: &str) -> String {
        identities.find(name).unwrap().used.requested_scopes()
    }

    const ENV: [(&str, &str); 2] = [
        ("ADMIN_SECRET_ID", "webex/admin"),
        ("COMPLIANCE_SECRET_ID", "webex/compliance"),
    ];

    #[test]
    fn todays_variables_describe_the_admin_and_compliance_identities() {
        let identities = from_env(&ENV).unwrap();
        assert_eq!(identities.names(), "admin, compliance");
        let admin = identities.get(&IdentityName::ADMIN).unwrap();
        assert_eq!(admin.secret_id, "webex/admin");
        assert_eq!(
            admin.used.streams(),
            [StreamId::AdminAudit, StreamId::SecurityAudit]
        );
        assert_eq!(
            scopes(&identities, "admin"),
            "audit:events_read spark:people_read"
        );
        assert_eq!(
            scopes(&identities, "compliance"),
            "spark-compliance:events_read spark:people_read"
        );
        assert_eq!(
            identities.find("compliance").unwrap().secret_id,
            "webex/compliance"
        );
        for (missing, _) in ENV {
            let env: Vec<_> = ENV.into_iter().filter(|(k, _)| *k != missing).collect();
            assert_eq!(from_env(&env).unwrap_err().name, missing);
        }
    }

    #[test]
    fn discovering_organisations_adds_the_organizations_scope_to_admin_only() {
        let mut env = ENV.to_vec();
        env.push(("ORG_IDS", "discover"));
        let identities = from_env(&env).unwrap();
        assert_eq!(
            scopes(&identities, "admin"),
            "audit:events_read spark:people_read spark-admin:organizations_read"
        );
        assert_eq!(
            scopes(&identities, "compliance"),
            "spark-compliance:events_read spark:people_read"
        );
        env.pop();
        env.push((
            "ORG_IDS",
            "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn",
        ));
        assert_eq!(
            scopes(&from_env(&env).unwrap(), "admin"),
            "audit:events_read spark:people_read"
        );
    }

    const DOCUMENT: &str = r#"
[identities.admin-partner]
kind = "webex_oauth"
secret = "webex/partner"

[identities.compliance]
kind = "webex_oauth"
secret = "webex/compliance"

[identities.spare]
kind = "webex_oauth"
secret = "webex/spare"

[[streams]]
name = "admin-audit-partner"
source = "webex_admin_audit"
identity = "admin-partner"
orgs = ["Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn"]

[[streams]]
name = "security-audit-partner"
source = "webex_security_audit"
identity = "admin-partner"
orgs = "discover"

[[streams]]
name = "compliance-events"
source = "webex_compliance_events"
identity = "compliance"
orgs = ["Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn"]
"#;

    #[test]
    fn a_documents_identities_need_the_union_of_their_streams_scopes() {
        let identities = Identities::from_document(&Document::parse(DOCUMENT).unwrap());
        assert_eq!(identities.names(), "admin-partner, compliance, spare");
        let partner = identities.find("admin-partner").unwrap();
        assert_eq!(partner.secret_id, "webex/partner");
        assert_eq!(
            partner.used.streams(),
            [StreamId::AdminAudit, StreamId::SecurityAudit]
        );
        assert_eq!(
            scopes(&identities, "admin-partner"),
            "audit:events_read spark:people_read spark-admin:organizations_read",
            "one audit scope for both audits, and discover lists organisations"
        );
        assert_eq!(
            scopes(&identities, "compliance"),
            "spark-compliance:events_read spark:people_read"
        );
        assert_eq!(
            scopes(&identities, "spare"),
            "spark:people_read",
            "no stream reads with it yet"
        );
    }

    #[test]
    fn an_unknown_identity_is_refused_with_the_known_ones() {
        let identities = Identities::from_document(&Document::parse(DOCUMENT).unwrap());
        let err = identities.find("admin").unwrap_err();
        assert_eq!(err.known, "admin-partner, compliance, spare");
        assert_eq!(
            err.to_string(),
            "unknown identity \"admin\"; this deployment has admin-partner, compliance, spare"
        );
        assert!(
            from_env(&ENV)
                .unwrap()
                .find("admin-partner")
                .unwrap_err()
                .to_string()
                .ends_with("has admin, compliance")
        );
    }
}
