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
}
