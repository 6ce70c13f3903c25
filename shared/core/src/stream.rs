//! The three Webex event streams, described as data: one collector serves them all.

use std::fmt;

/// Which OAuth identity a stream reads with; one secret per profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    Admin,
    Compliance,
}

impl Profile {
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Admin => "admin",
            Profile::Compliance => "compliance",
        }
    }

    /// The OAuth scope the profile's streams need.
    pub const fn scope(self) -> &'static str {
        match self {
            Profile::Admin => "audit:events_read",
            Profile::Compliance => "spark-compliance:events_read",
        }
    }
}

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
    pub profile: Profile,
    /// What to change when Webex answers 403.
    pub forbidden_fix: &'static str,
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
                profile: Profile::Admin,
                forbidden_fix: "authorise the admin profile as a full administrator with the audit:events_read scope",
            },
            StreamId::SecurityAudit => StreamSpec {
                id: self,
                path: "admin/securityAudit/events",
                from_param: "startTime",
                to_param: "endTime",
                takes_org_id: true,
                max_page: 1000,
                paging: Paging::Link,
                profile: Profile::Admin,
                forbidden_fix: "security audit events need Pro Pack and the organisation setting \
                    \"Allow user authentication data\" (Control Hub > Management > Organization \
                    Settings > Security), and an admin token with the audit:events_read scope",
            },
            StreamId::ComplianceEvents => StreamSpec {
                id: self,
                path: "events",
                from_param: "from",
                to_param: "to",
                takes_org_id: false,
                max_page: 1000,
                paging: Paging::Link,
                profile: Profile::Compliance,
                forbidden_fix: "authorise the compliance profile as a compliance officer with the \
                    spark-compliance:events_read scope",
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
    fn page_limits_follow_the_api() {
        assert_eq!(StreamId::AdminAudit.spec().max_page, 200);
        assert_eq!(StreamId::SecurityAudit.spec().max_page, 1000);
        assert_eq!(StreamId::ComplianceEvents.spec().max_page, 1000);
    }
}
