//! The three Webex event streams, described as data: one collector serves them all.

use std::fmt;

/// Reading the signed-in person (`GET /people/me`), which the callback uses to learn the
/// token's organisation: every identity's links ask for it.
pub const PEOPLE_READ_SCOPE: &str = "spark:people_read";

/// Listing the organisations a partner administrator manages (`GET /organizations`), for
/// streams whose organisations are discovered.
pub const ORGANIZATIONS_SCOPE: &str = "spark-admin:organizations_read";

/// How a stream's pages link to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// Follow `Link rel="next"` while Webex sends one.
    Link,
    /// Follow `Link rel="next"` when present, otherwise page by `offset` until a page comes back
    /// empty. Admin audit documents `offset` but not whether it sends `Link`; paging to the empty
    /// page is right either way, even if Webex silently caps `max` below what we asked for.
    LinkOrOffset,
}

/// Which filters a stream's API takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// `eventCategories`, a comma-separated list.
    Categories,
    /// One `resource` and one `type` per request.
    ResourcesAndTypes,
}

/// What a deployment narrows its streams to; empty lists mean everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub event_categories: Vec<String>,
    pub resources: Vec<String>,
    pub types: Vec<String>,
}

/// `resource` values of `GET /events`.
pub const COMPLIANCE_RESOURCES: [&str; 13] = [
    "attachmentActions",
    "businessTexts",
    "call_records",
    "convergedRecordings",
    "file_transcodings",
    "files",
    "meetingMessages",
    "meetings",
    "meetingTranscripts",
    "memberships",
    "messages",
    "rooms",
    "tabs",
];

/// `type` values of `GET /events`.
pub const COMPLIANCE_TYPES: [&str; 4] = ["created", "updated", "deleted", "ended"];

/// `EventCategory.LOGINS`, `logins` and `LOGINS` name one category; Webex takes `LOGINS`.
pub fn normalise_category(name: &str) -> String {
    let name = name.trim();
    name.strip_prefix("EventCategory.")
        .unwrap_or(name)
        .to_ascii_uppercase()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamId {
    AdminAudit,
    SecurityAudit,
    ComplianceEvents,
}

/// Everything that differs between streams. Documented at
/// <https://developer.webex.com/docs/api/v1/admin-audit-events>,
/// <https://developer.webex.com/docs/api/v1/security-audit-events> and
/// <https://developer.webex.com/docs/api/v1/events>.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    pub id: StreamId,
    /// Path below the API base URL.
    pub path: &'static str,
    pub from_param: &'static str,
    pub to_param: &'static str,
    /// Whether the request names the organisation (`orgId`); compliance events are org-wide
    /// by token.
    pub takes_org_id: bool,
    /// The largest `max` Webex accepts.
    pub max_page: u32,
    pub paging: Paging,
    /// The OAuth scope the source needs.
    pub scope: &'static str,
    /// The identity the stream reads with when no document names one (DESIGN §7):
    /// `ADMIN_SECRET_ID`'s `admin` or `COMPLIANCE_SECRET_ID`'s `compliance`.
    pub default_identity: &'static str,
    /// What to change when Webex answers 403.
    pub forbidden_fix: &'static str,
    pub filter_kind: FilterKind,
}

impl StreamSpec {
    /// The filter parameters of each request a window needs. Webex takes one `resource` and one
    /// `type` per compliance request, so each combination is a query of its own; their events
    /// go into the window's one object.
    pub fn filter_queries(&self, filters: &Filters) -> Vec<Vec<(&'static str, String)>> {
        match self.filter_kind {
            FilterKind::Categories if filters.event_categories.is_empty() => vec![Vec::new()],
            FilterKind::Categories => {
                let categories: Vec<String> = filters
                    .event_categories
                    .iter()
                    .map(|c| normalise_category(c))
                    .collect();
                vec![vec![("eventCategories", categories.join(","))]]
            }
            FilterKind::ResourcesAndTypes => {
                let one_or_all = |values: &[String]| -> Vec<Option<String>> {
                    if values.is_empty() {
                        vec![None]
                    } else {
                        values.iter().cloned().map(Some).collect()
                    }
                };
                let mut queries = Vec::new();
                for resource in one_or_all(&filters.resources) {
                    for kind in one_or_all(&filters.types) {
                        let mut params = Vec::new();
                        if let Some(resource) = &resource {
                            params.push(("resource", resource.clone()));
                            // Webex requires it with this resource, and knows only this value.
                            if resource == "convergedRecordings" {
                                params.push(("serviceType", "calling".to_string()));
                            }
                        }
                        if let Some(kind) = kind {
                            params.push(("type", kind));
                        }
                        queries.push(params);
                    }
                }
                queries
            }
        }
    }

    /// The environment variable of a filter this stream cannot apply, if one is set.
    pub fn unsupported_filter(&self, filters: &Filters) -> Option<&'static str> {
        match self.filter_kind {
            FilterKind::Categories if !filters.resources.is_empty() => Some("RESOURCES"),
            FilterKind::Categories if !filters.types.is_empty() => Some("TYPES"),
            FilterKind::ResourcesAndTypes if !filters.event_categories.is_empty() => {
                Some("EVENT_CATEGORIES")
            }
            _ => None,
        }
    }
}

impl StreamId {
    pub const ALL: [StreamId; 3] = [
        StreamId::AdminAudit,
        StreamId::SecurityAudit,
        StreamId::ComplianceEvents,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            StreamId::AdminAudit => "admin-audit",
            StreamId::SecurityAudit => "security-audit",
            StreamId::ComplianceEvents => "compliance-events",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub const fn spec(self) -> StreamSpec {
        match self {
            StreamId::AdminAudit => StreamSpec {
                id: self,
                path: "adminAudit/events",
                from_param: "from",
                to_param: "to",
                takes_org_id: true,
                max_page: 200,
                paging: Paging::LinkOrOffset,
                scope: "audit:events_read",
                default_identity: "admin",
                forbidden_fix: "authorise the stream's identity as a full administrator with the audit:events_read scope",
                filter_kind: FilterKind::Categories,
            },
            StreamId::SecurityAudit => StreamSpec {
                id: self,
                path: "admin/securityAudit/events",
                from_param: "startTime",
                to_param: "endTime",
                takes_org_id: true,
                max_page: 1000,
                paging: Paging::Link,
                scope: "audit:events_read",
                default_identity: "admin",
                forbidden_fix: "security audit events need Pro Pack and the organisation setting \
                    \"Allow user authentication data\" (Control Hub > Management > Organization \
                    Settings > Security), and an admin token with the audit:events_read scope",
                filter_kind: FilterKind::Categories,
            },
            StreamId::ComplianceEvents => StreamSpec {
                id: self,
                path: "events",
                from_param: "from",
                to_param: "to",
                takes_org_id: false,
                max_page: 1000,
                paging: Paging::Link,
                scope: "spark-compliance:events_read",
                default_identity: "compliance",
                forbidden_fix: "authorise the stream's identity as a compliance officer with the \
                    spark-compliance:events_read scope",
                filter_kind: FilterKind::ResourcesAndTypes,
            },
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for stream in StreamId::ALL {
            assert_eq!(StreamId::parse(stream.name()), Some(stream));
            assert_eq!(stream.spec().id, stream);
        }
        assert_eq!(StreamId::parse("admin_audit"), None);
    }

    #[test]
    fn filters_become_queries() {
        let f = |c: &[&str], r: &[&str], t: &[&str]| Filters {
            event_categories: c.iter().map(|s| s.to_string()).collect(),
            resources: r.iter().map(|s| s.to_string()).collect(),
            types: t.iter().map(|s| s.to_string()).collect(),
        };
        let q = |pairs: &[&[(&'static str, &str)]]| -> Vec<Vec<(&'static str, String)>> {
            pairs
                .iter()
                .map(|p| p.iter().map(|(k, v)| (*k, v.to_string())).collect())
                .collect()
        };
        let admin = StreamId::AdminAudit.spec();
        let compliance = StreamId::ComplianceEvents.spec();
        let cases = [
            (admin, f(&[], &[], &[]), q(&[&[]])),
            (
                admin,
                f(&["EventCategory.LOGINS", " logout "], &[], &[]),
                q(&[&[("eventCategories", "LOGINS,LOGOUT")]]),
            ),
            (compliance, f(&[], &[], &[]), q(&[&[]])),
            (
                compliance,
                f(&[], &["messages"], &[]),
                q(&[&[("resource", "messages")]]),
            ),
            (
                compliance,
                f(&[], &[], &["deleted"]),
                q(&[&[("type", "deleted")]]),
            ),
            (
                compliance,
                f(&[], &["messages", "rooms"], &["created", "deleted"]),
                q(&[
                    &[("resource", "messages"), ("type", "created")],
                    &[("resource", "messages"), ("type", "deleted")],
                    &[("resource", "rooms"), ("type", "created")],
                    &[("resource", "rooms"), ("type", "deleted")],
                ]),
            ),
            (
                compliance,
                f(&[], &["convergedRecordings"], &[]),
                q(&[&[
                    ("resource", "convergedRecordings"),
                    ("serviceType", "calling"),
                ]]),
            ),
        ];
        for (spec, filters, expected) in cases {
            assert_eq!(spec.filter_queries(&filters), expected, "{filters:?}");
        }
        assert_eq!(
            admin.unsupported_filter(&f(&[], &["messages"], &[])),
            Some("RESOURCES")
        );
        assert_eq!(
            compliance.unsupported_filter(&f(&["LOGINS"], &[], &[])),
            Some("EVENT_CATEGORIES")
        );
        assert_eq!(
            compliance.unsupported_filter(&f(&[], &["messages"], &["created"])),
            None
        );
    }

    #[test]
    fn page_limits_follow_the_api() {
        assert_eq!(StreamId::AdminAudit.spec().max_page, 200);
        assert_eq!(StreamId::SecurityAudit.spec().max_page, 1000);
        assert_eq!(StreamId::ComplianceEvents.spec().max_page, 1000);
    }
}
