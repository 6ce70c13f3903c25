//! How each personality behaves: credentials, tenants, limits and the switches for the ways the
//! real APIs misbehave. Held in `SimConfig::apis` at start and changeable while the simulator
//! runs (`Simulator::configure_apis`), so a test can rotate a key or drop a licence mid-run.

use std::time::Duration;

pub const DEFAULT_GRAPH_TENANT: &str = "6f1c2a34-8d5e-4b7a-9c0d-1e2f3a4b5c6d";
pub const DEFAULT_GRAPH_CLIENT_ID: &str = "0b8f5c2e-3a1d-4e6f-8a9b-7c6d5e4f3a2b";
pub const DEFAULT_GRAPH_CLIENT_SECRET: &str = "sim~graph~secret";
/// The only scope Graph's client-credentials flow takes for Microsoft Graph.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const DEFAULT_SECURE_ENDPOINT_CLIENT_ID: &str = "a1b2c3d4e5f6a7b8c9d0";
pub const DEFAULT_SECURE_ENDPOINT_API_KEY: &str = "sim-amp-api-key";
pub const DEFAULT_GENERAL_A_API_KEY: &str = "sim-gen-a-key";
pub const DEFAULT_GENERAL_B_USER: &str = "sim-gen-b-user";
pub const DEFAULT_GENERAL_B_PASSWORD: &str = "sim-gen-b-password";
pub const DEFAULT_GENERAL_C_CLIENT_ID: &str = "sim-gen-c-client";
pub const DEFAULT_GENERAL_C_CLIENT_SECRET: &str = "sim-gen-c-secret";

/// Every personality's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiConfig {
    pub graph: GraphConfig,
    pub secure_endpoint: SecureEndpointConfig,
    pub general_a: GeneralAConfig,
    pub general_b: GeneralBConfig,
    pub general_c: GeneralCConfig,
}

/// A request limit over a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub requests: u32,
    pub per: Duration,
}

/// One Entra tenant the Graph app may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphTenant {
    pub id: String,
    /// Entra ID P1 or P2: without it, sign-ins are refused with 403 (directory audits are not).
    pub premium: bool,
}

impl GraphTenant {
    pub fn new(id: impl Into<String>) -> GraphTenant {
        GraphTenant {
            id: id.into(),
            premium: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphConfig {
    /// The app registration's id and secret, valid in every tenant below.
    pub client_id: String,
    pub client_secret: String,
    /// Tenants with their licences; the first is the one `Simulator::generate_api` fills.
    pub tenants: Vec<GraphTenant>,
    /// `expires_in` of issued tokens, in sim-clock time (Entra: about an hour).
    pub token_ttl: Duration,
    /// Per (client id, tenant), in real time: Graph's identity and access reports allow five
    /// requests per ten seconds. `None`: no limit.
    pub throttle: Option<Throttle>,
    /// Whether a 429 carries `Retry-After`; Graph often leaves it out.
    pub retry_after: bool,
    /// false: the app lacks `AuditLog.Read.All` (or admin consent), so both endpoints answer
    /// 403 `Authorization_RequestDenied`.
    pub permission_granted: bool,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            client_id: DEFAULT_GRAPH_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_GRAPH_CLIENT_SECRET.to_owned(),
            tenants: vec![GraphTenant::new(DEFAULT_GRAPH_TENANT)],
            token_ttl: Duration::from_secs(3_599),
            throttle: Some(Throttle {
                requests: 5,
                per: Duration::from_secs(10),
            }),
            retry_after: true,
            permission_granted: true,
        }
    }
}

impl GraphConfig {
    pub(crate) fn tenant(&self, id: &str) -> Option<&GraphTenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    pub(crate) fn default_tenant(&self) -> &str {
        self.tenants
            .first()
            .map_or(DEFAULT_GRAPH_TENANT, |t| t.id.as_str())
    }
}

/// The two spellings of Secure Endpoint's rate-limit headers: the API reference says
/// `X-Rate-Limit-*`, its own example responses show `x-ratelimit-*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateLimitHeaders {
    /// `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset`.
    #[default]
    Dashed,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    Compact,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecureEndpointConfig {
    /// HTTP Basic user and password: the API client id and key.
    pub client_id: String,
    pub api_key: String,
    /// Requests per client id per hour of sim-clock time; beyond it, 429.
    pub hourly_budget: u32,
    pub headers: RateLimitHeaders,
}

impl Default for SecureEndpointConfig {
    fn default() -> Self {
        SecureEndpointConfig {
            client_id: DEFAULT_SECURE_ENDPOINT_CLIENT_ID.to_owned(),
            api_key: DEFAULT_SECURE_ENDPOINT_API_KEY.to_owned(),
            hourly_budget: 3_000,
            headers: RateLimitHeaders::Dashed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralAConfig {
    /// The `X-Api-Key` header's value.
    pub api_key: String,
    /// true: `next` is an absolute URL; false: a path with its query, relative to the host.
    pub absolute_next: bool,
}

impl Default for GeneralAConfig {
    fn default() -> Self {
        GeneralAConfig {
            api_key: DEFAULT_GENERAL_A_API_KEY.to_owned(),
            absolute_next: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralBConfig {
    pub username: String,
    /// Changing it is a key rotation: the old password is refused with 401 from then on.
    pub password: String,
}

impl Default for GeneralBConfig {
    fn default() -> Self {
        GeneralBConfig {
            username: DEFAULT_GENERAL_B_USER.to_owned(),
            password: DEFAULT_GENERAL_B_PASSWORD.to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralCConfig {
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of issued tokens, in sim-clock time.
    pub token_ttl: Duration,
    /// A cursor older than this (sim-clock time) is refused: 400 `cursor expired`.
    pub cursor_ttl: Duration,
}

impl Default for GeneralCConfig {
    fn default() -> Self {
        GeneralCConfig {
            client_id: DEFAULT_GENERAL_C_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_GENERAL_C_CLIENT_SECRET.to_owned(),
            token_ttl: Duration::from_secs(3_600),
            cursor_ttl: Duration::from_secs(600),
        }
    }
}
