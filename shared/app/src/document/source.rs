//! Sources: how a stream reads one API. The Webex presets, the `azure_graph` and
//! `cisco_secure_endpoint` presets (filled-in `http` sources with their few keys), and
//! `source = "http"` with everything spelled out. All become one [`SourceSpec`], read by one
//! collection path.

use collector_core::StreamId;
use collector_core::source::SourceSpec;
use collector_core::source::azure_graph::{self, Resource};
use collector_core::source::secure_endpoint::{self, EventFilters};
use collector_core::stream::StreamSpec;

use super::IdentityKind;

/// How a stream reads its API.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A Webex preset, named by `source = "webex_admin_audit"`.
    Preset(StreamId),
    /// Microsoft Graph's audit logs (`source = "azure_graph"`).
    AzureGraph { resource: Resource, api_url: String },
    /// Cisco Secure Endpoint's events (`source = "cisco_secure_endpoint"`).
    SecureEndpoint {
        api_url: String,
        filters: EventFilters,
    },
    /// Any paged JSON API, described by the stream's `request`, `paging`, `items` and
    /// `rate_limit` tables.
    Http(Box<SourceSpec>),
}

/// The Webex preset names the document takes, and the stream each one reads.
pub const PRESETS: [(&str, StreamId); 3] = [
    ("webex_admin_audit", StreamId::AdminAudit),
    ("webex_security_audit", StreamId::SecurityAudit),
    ("webex_compliance_events", StreamId::ComplianceEvents),
];

pub const AZURE_GRAPH: &str = "azure_graph";
pub const SECURE_ENDPOINT: &str = "cisco_secure_endpoint";
pub const HTTP: &str = "http";

/// Every source name a document may use.
pub fn source_names() -> Vec<&'static str> {
    let mut names = vec![HTTP, AZURE_GRAPH, SECURE_ENDPOINT];
    names.extend(PRESETS.map(|(name, _)| name));
    names
}

impl Source {
    /// The Webex preset named `name`.
    pub fn preset(name: &str) -> Option<Self> {
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
            Source::AzureGraph { .. } => AZURE_GRAPH,
            Source::SecureEndpoint { .. } => SECURE_ENDPOINT,
            Source::Http(_) => HTTP,
        }
    }

    /// The Webex stream this source reads, if it is a Webex preset.
    pub fn webex(&self) -> Option<StreamId> {
        match self {
            Source::Preset(id) => Some(*id),
            _ => None,
        }
    }

    /// What the Webex-only rules need (scopes, filters, one organisation per token).
    pub fn webex_spec(&self) -> Option<StreamSpec> {
        self.webex().map(StreamId::spec)
    }

    /// The source as the collector reads it.
    pub fn spec(&self) -> SourceSpec {
        match self {
            Source::Preset(id) => id.source(),
            Source::AzureGraph { resource, api_url } => azure_graph::source(*resource, api_url),
            Source::SecureEndpoint { api_url, filters } => {
                secure_endpoint::source(api_url, filters)
            }
            Source::Http(spec) => (**spec).clone(),
        }
    }

    /// The largest page the API returns: a stream's `page_size` is at most this.
    pub fn max_page(&self) -> u32 {
        match self {
            Source::Http(spec) => spec.paging.max_size,
            other => other.spec().paging.max_size,
        }
    }

    /// The kind of identity the source reads with, by name, for messages; `None`: any kind
    /// but Webex's.
    pub fn reads_with(&self) -> Option<&'static str> {
        match self {
            Source::Preset(_) => Some("webex_oauth"),
            Source::AzureGraph { .. } => Some("oauth_client_credentials"),
            Source::SecureEndpoint { .. } => Some("basic"),
            Source::Http(_) => None,
        }
    }

    /// Whether an identity of `kind` can read this source.
    pub fn accepts(&self, kind: &IdentityKind) -> bool {
        match self.reads_with() {
            Some(name) => kind.name() == name,
            None => !matches!(kind, IdentityKind::WebexOauth),
        }
    }

    /// The names a deployment's role for this source covers (`infra/template.yaml`): its
    /// streams are named as the family or begin with it and `-` (`admin-audit`,
    /// `admin-audit-partner`, `entra-signins`). For a Webex preset its identities likewise
    /// after the preset's default identity (`admin`, `admin-partner`), so each function's
    /// role is scoped to its own cursors, objects, secrets and token locks, and the compliance
    /// identity stays out of reach of the audit functions. The other sources' identities are
    /// free (one Cisco key may serve a preset stream and an `http` one).
    pub fn families(&self) -> Families {
        match self {
            Source::Preset(id) => Families {
                stream: id.name(),
                identity: Some(id.spec().default_identity),
            },
            Source::AzureGraph { .. } => Families {
                stream: "entra",
                identity: None,
            },
            Source::SecureEndpoint { .. } => Families {
                stream: "secure-endpoint",
                identity: None,
            },
            Source::Http(_) => Families {
                stream: "http",
                identity: None,
            },
        }
    }

    /// The top-level keys of every event the source returns: a stream's `fields_key` must not
    /// overwrite one of them. From the API references' schemas (Webex `AuditEvent`,
    /// `SecurityAuditEvent`, `Event`; Graph `signIn`, `directoryAudit`; Secure Endpoint's
    /// event); for `http`, the first keys of its id and time paths.
    pub fn event_keys(&self) -> Vec<String> {
        let known: &[&str] = match self {
            Source::Preset(StreamId::AdminAudit | StreamId::SecurityAudit) => {
                &["id", "created", "data", "actorId", "actorOrgId"]
            }
            Source::Preset(StreamId::ComplianceEvents) => &[
                "id", "created", "data", "actorId", "orgId", "appId", "resource", "type",
            ],
            Source::AzureGraph { .. } => &[
                "id",
                "createdDateTime",
                "activityDateTime",
                "userId",
                "userPrincipalName",
                "appId",
                "ipAddress",
                "status",
                "initiatedBy",
                "targetResources",
            ],
            Source::SecureEndpoint { .. } => &[
                "id",
                "date",
                "timestamp",
                "timestamp_nanoseconds",
                "event_type",
                "event_type_id",
                "computer",
                "group_guids",
            ],
            Source::Http(spec) => {
                let items = spec.page.items();
                let mut keys: Vec<String> = Vec::new();
                let first = |path: &collector_core::json_path::JsonPath| match path.steps().first()
                {
                    Some(collector_core::json_path::Step::Name(name)) => Some(name.to_string()),
                    _ => None,
                };
                if let collector_core::page::EventId::Paths(paths) = &items.id {
                    keys.extend(paths.iter().filter_map(first));
                }
                keys.extend(first(&items.time));
                return keys;
            }
        };
        known.iter().map(|k| k.to_string()).collect()
    }
}

/// See [`Source::families`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Families {
    pub stream: &'static str,
    pub identity: Option<&'static str>,
}

impl Families {
    /// `name` is `family` itself, or begins with it and a separator (`-`, or `_` in identity
    /// names).
    pub fn holds(family: &str, name: &str) -> bool {
        name.strip_prefix(family)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_']))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_one_preset_and_back() {
        for id in StreamId::ALL {
            let source = Source::Preset(id);
            assert_eq!(Source::preset(source.name()), Some(source.clone()));
            assert_eq!(source.spec().webex, Some(id));
            assert!(source.event_keys().contains(&"id".to_string()));
        }
        assert_eq!(Source::preset("admin-audit"), None);
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
            ("compliance-events", Some("compliance"))
        );
    }
}
