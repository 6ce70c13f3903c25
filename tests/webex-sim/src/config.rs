//! What a simulator instance looks like: its identity, clock, token lifetimes, ordering and
//! the switches that make it misbehave in the ways real Webex does.

use std::time::Duration;

use crate::apis::config::ApiConfig;

/// Org id of the simulated organisation (base64 of `ciscospark://us/ORGANIZATION/sim-org`).
pub const DEFAULT_ORG_ID: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn";
pub const DEFAULT_CLIENT_ID: &str = "sim-client-id";
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";
/// 2026-11-18T11:06:40.000Z, a fixed instant so manual-clock tests are reproducible.
pub const DEFAULT_START_MS: i64 = 1_795_000_000_000;
/// Webex access tokens live 14 days and refresh tokens 90 days.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// Scope needed for admin audit and security audit events.
pub const AUDIT_SCOPE: &str = "audit:events_read";
/// Scope needed for compliance events (`GET /events`).
pub const COMPLIANCE_SCOPE: &str = "spark-compliance:events_read";
/// Scope needed for `GET /organizations` (the organisations an administrator may see).
/// See <https://developer.webex.com/docs/api/v1/organizations>.
pub const ORGANIZATIONS_SCOPE: &str = "spark-admin:organizations_read";

/// One of the three event APIs the collector pulls from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    AdminAudit,
    SecurityAudit,
    ComplianceEvents,
}

impl Stream {
    pub const ALL: [Stream; 3] = [
        Stream::AdminAudit,
        Stream::SecurityAudit,
        Stream::ComplianceEvents,
    ];

    /// The collector's name for the stream (see DESIGN.md, section 1).
    pub fn name(self) -> &'static str {
        match self {
            Stream::AdminAudit => "admin-audit",
            Stream::SecurityAudit => "security-audit",
            Stream::ComplianceEvents => "compliance-events",
        }
    }

    /// Path below the `/v1` base URL.
    pub fn path(self) -> &'static str {
        match self {
            Stream::AdminAudit => "/adminAudit/events",
            Stream::SecurityAudit => "/admin/securityAudit/events",
            Stream::ComplianceEvents => "/events",
        }
    }

    pub fn required_scope(self) -> &'static str {
        match self {
            Stream::AdminAudit | Stream::SecurityAudit => AUDIT_SCOPE,
            Stream::ComplianceEvents => COMPLIANCE_SCOPE,
        }
    }

    /// Stable number mixed into seeds, so streams never share random sequences.
    pub(crate) fn tag(self) -> u64 {
        self.index() as u64 + 1
    }

    /// Position in [`Stream::ALL`], for per-stream arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Stream::AdminAudit => 0,
            Stream::SecurityAudit => 1,
            Stream::ComplianceEvents => 2,
        }
    }
}

/// The order in which events come back. Webex does not document one, so clients must treat
/// pages as unordered; `Shuffled` makes sure they do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// `created` descending, ties by id ascending.
    #[default]
    NewestFirst,
    /// A pseudo-random order fixed per query (seed and query parameters except paging ones).
    /// It is an order by a keyed hash of the event id, so the order of the events already held
    /// does not change when a late event appears: offset paging then repeats an event, never
    /// skips one, as with a real database ordering by an unindexed key.
    Shuffled,
}

/// Where "now" comes from. Tokens expiry, code expiry, late visibility and the compliance `to`
/// check all use this clock; rate limits, latency and slow faults use real time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Time stands still until the test moves it (`set_now_ms`, `advance`).
    Manual { start_ms: i64 },
    /// Wall-clock time; `set_now_ms` and `advance` are ignored.
    System,
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    /// The home organisation: the one whose administrator signs in unless a test says
    /// otherwise, and the one the single-org methods (`generate`, `events`, ...) act on.
    /// More organisations are added with `Simulator::add_org`.
    pub org_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub clock: ClockMode,
    /// Lifetime of issued access tokens, in sim-clock time.
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// false: a refresh answers with the same refresh token. true: it answers with a new one and
    /// the old one is refused with `invalid_grant` from then on.
    pub rotate_refresh_tokens: bool,
    pub order: Order,
    /// true: admin audit pages carry `Link: <...>; rel="next"`; false: clients must page by
    /// `offset` until a short page.
    pub admin_link_header: bool,
    /// Some(n): any event request with `max > n` gets 504 (Webex: "reduce max").
    pub max_without_gateway_timeout: Option<u32>,
    /// Real-time delay added to every event page.
    pub page_latency: Duration,
    /// Some(n): per client id, event requests beyond n within a sliding 60 s real-time window
    /// get 429 with `Retry-After`.
    pub rate_limit_per_minute: Option<u32>,
    /// false: no organisation has Pro Pack or the "Allow user authentication data" setting,
    /// so security audit requests get 403 even with the right scope. (One organisation at a
    /// time: `Simulator::refuse_org`.)
    pub security_audit_entitled: bool,
    /// The other APIs served beside Webex (Graph, Secure Endpoint, the general shapes).
    pub apis: ApiConfig,
    /// A path every route is served under, as another Webex deployment's base URL has one:
    /// `"/usgov"` serves `http://127.0.0.1:PORT/usgov/v1/...` and nothing at `/v1`. Empty: the
    /// root.
    pub mount: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            org_id: DEFAULT_ORG_ID.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            clock: ClockMode::Manual {
                start_ms: DEFAULT_START_MS,
            },
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
            rotate_refresh_tokens: false,
            order: Order::NewestFirst,
            admin_link_header: true,
            max_without_gateway_timeout: None,
            page_latency: Duration::ZERO,
            rate_limit_per_minute: None,
            security_audit_entitled: true,
            apis: ApiConfig::default(),
            mount: String::new(),
        }
    }
}
