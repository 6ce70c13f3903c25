//! Sources: how a stream reads one API. Today only the three Webex presets; the `http` source
//! (everything spelled out) comes next, as a second variant of [`Source`] beside `Preset`.

use collector_core::StreamId;
use collector_core::stream::StreamSpec;

/// How a stream reads its API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A known API with its quirks filled in, named by `source = "webex_admin_audit"`.
    Preset(StreamId),
}

/// The preset names the document takes, and the stream each one reads.
pub const PRESETS: [(&str, StreamId); 3] = [
    ("webex_admin_audit", StreamId::AdminAudit),
    ("webex_security_audit", StreamId::SecurityAudit),
    ("webex_compliance_events", StreamId::ComplianceEvents),
];

impl Source {
    /// The source named `name` in a document.
    pub fn parse(name: &str) -> Option<Self> {
        PRESETS
            .iter()
            .find(|(preset, _)| *preset == name)
            .map(|(_, id)| Source::Preset(*id))
    }

    /// The name a document gives this source.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Preset(id) => PRESETS
                .iter()
                .find(|(_, preset)| preset == id)
                .map_or("", |(name, _)| name),
        }
    }

    /// What the collector needs to know about the API: paging, limits, filters.
    pub fn spec(&self) -> StreamSpec {
        match self {
            Source::Preset(id) => id.spec(),
        }
    }

    /// The names a deployment's role for this source covers (`infra/template.yaml`): its
    /// streams are named as the preset's stream or begin with it and `-` (`admin-audit`,
    /// `admin-audit-partner`), its identities likewise after the preset's default identity
    /// (`admin`, `admin-partner`). So each function's role is scoped to its own cursors,
    /// objects, secrets and token locks, and the compliance identity stays out of reach of
    /// the audit functions.
    pub fn families(&self) -> Families {
        match self {
            Source::Preset(id) => Families {
                stream: id.name(),
                identity: id.spec().default_identity,
            },
        }
    }

    /// The top-level keys of every event the source returns: a stream's `fields_key` must not
    /// overwrite one of them. From the schemas of the Webex API reference (`AuditEvent`,
    /// `SecurityAuditEvent`, `Event`).
    pub fn event_keys(&self) -> &'static [&'static str] {
        match self {
            Source::Preset(StreamId::AdminAudit | StreamId::SecurityAudit) => {
                &["id", "created", "data", "actorId", "actorOrgId"]
            }
            Source::Preset(StreamId::ComplianceEvents) => &[
                "id", "created", "data", "actorId", "orgId", "appId", "resource", "type",
            ],
        }
    }
}

/// See [`Source::families`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Families {
    pub stream: &'static str,
    pub identity: &'static str,
}

impl Families {
    /// `name` is `family` itself, or begins with it and a separator (`-`, or `_` in identity
    /// names).
    pub fn holds(family: &str, name: &str) -> bool {
        name.strip_prefix(family)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_']))
    }
}

/// The names of every source a document may use, for error messages.
pub(super) fn source_names() -> String {
    PRESETS.map(|(name, _)| name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_one_preset_and_back() {
        for id in StreamId::ALL {
            let source = Source::Preset(id);
            assert_eq!(Source::parse(source.name()), Some(source));
            assert_eq!(source.spec().id, id);
            assert!(source.event_keys().contains(&"id"));
        }
        assert_eq!(Source::parse("admin-audit"), None);
    }

    #[test]
    fn a_family_holds_its_own_name_and_names_that_continue_it_after_a_separator() {
        assert!(Families::holds("admin-audit", "admin-audit"));
        assert!(Families::holds("admin-audit", "admin-audit-partner"));
        assert!(Families::holds("admin", "admin_eu"));
        assert!(!Families::holds("admin-audit", "admin-auditor"));
        assert!(!Families::holds("admin", "administrator"));
        assert!(!Families::holds("admin-audit", "partner-admin-audit"));
        let compliance = Source::Preset(StreamId::ComplianceEvents).families();
        assert_eq!(
            (compliance.stream, compliance.identity),
            ("compliance-events", "compliance")
        );
    }
}
