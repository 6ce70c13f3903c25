//! `webex-sim`: a deterministic simulator of the Webex REST API parts the collector uses, for
//! tests (in-process, through [`Simulator`]) and for the local demo (the `webex-sim` binary).
//!
//! Faithful to the OpenAPI subset in `shared/webex-api/openapi-subset.json`: OAuth authorize
//! and token endpoints (form bodies only, expiring tokens, optional refresh-token rotation,
//! `invalid_grant`), the admin audit, security audit and compliance event endpoints with their
//! real parameter names, limits and paging, unordered pages, late-arriving events, and
//! switchable faults (429/423 with `Retry-After`, 5xx, 504 for a large `max`, slow and
//! truncated responses, 401 for expired tokens).
//!
//! Many organisations: the home org and registered customer orgs each hold their own events;
//! partner administrators see the orgs they manage (`GET /organizations`, `orgId`), compliance
//! tokens their own org; any org can be made to refuse event requests with 403.
//!
//! Other APIs, on the same port under their own prefixes (module `apis`, `Api`): Microsoft
//! Graph sign-ins and directory audits with Entra client credentials, Cisco Secure Endpoint
//! events, and three generic shapes (next URL + API key, offset + Basic, cursor in a JSON body
//! + client credentials), each with its real envelope, limits, errors and misbehaviour.
//!
//! Choices where Webex is silent (see each module): event windows are `[from, to)`; a cursor
//! pins visibility to its first page's "now" while offset paging does not; `actorId` filters
//! and an `offset` on the cursor-paged endpoints are refused with 400.

mod api_error;
mod apis;
mod auth;
mod bodies;
mod catalog;
mod clock;
mod config;
mod encoding;
mod event_api;
mod event_query;
mod events;
mod faults;
mod log;
mod oauth_api;
mod orgs;
mod orgs_api;
mod paging;
mod people_api;
mod person;
mod query;
mod ratelimit;
mod render;
mod rng;
mod selection;
mod server;
mod simulator;
mod state;
mod timefmt;
mod tokens;
mod webhooks_api;

pub use apis::config::{
    ApiConfig, DEFAULT_GENERAL_A_API_KEY, DEFAULT_GENERAL_B_PASSWORD, DEFAULT_GENERAL_B_USER,
    DEFAULT_GENERAL_C_CLIENT_ID, DEFAULT_GENERAL_C_CLIENT_SECRET, DEFAULT_GRAPH_CLIENT_ID,
    DEFAULT_GRAPH_CLIENT_SECRET, DEFAULT_GRAPH_TENANT, DEFAULT_SECURE_ENDPOINT_API_KEY,
    DEFAULT_SECURE_ENDPOINT_CLIENT_ID, GRAPH_SCOPE, GeneralAConfig, GeneralBConfig, GeneralCConfig,
    GraphConfig, GraphTenant, RateLimitHeaders, SecureEndpointConfig, Throttle,
};
pub use apis::{Api, ApiEvent};
pub use config::{
    AUDIT_SCOPE, COMPLIANCE_SCOPE, ClockMode, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID, DEFAULT_START_MS, ORGANIZATIONS_SCOPE, Order, SimConfig, Stream,
};
pub use events::{GenerateSpec, SimEvent};
pub use faults::Fault;
pub use log::{RequestLog, RequestSummary, TokenRequestLog};
pub use orgs::{SimOrg, org_id_for};
pub use person::SimPerson;
pub use simulator::Simulator;
pub use timefmt::{format_ms, parse_ms};
pub use webhooks_api::{Posted, SimWebhook, sign as sign_delivery};
