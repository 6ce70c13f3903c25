//! The non-Webex personalities: APIs of other vendors (Microsoft Graph audit logs, Cisco Secure
//! Endpoint events) and three generic shapes a configured `http` source must cope with, served
//! beside the Webex API on the same port, each under its own path prefix. They share the
//! simulator's clock, seed, fault queue and request log; the facts they follow are in
//! `docs/design/http-source.md` §8, §9 and §12.
//!
//! | personality | prefix | paging | order |
//! |---|---|---|---|
//! | [`Api::GraphSignIns`], [`Api::GraphDirectoryAudits`] | `/graph/v1.0`, token at `/login` | `@odata.nextLink` with `$skiptoken` | newest first |
//! | [`Api::SecureEndpoint`] | `/amp/v1` | `offset`, `metadata.links.next` | newest first |
//! | [`Api::GeneralA`] | `/gen-a/api/v2` | `next` URL with `page_token` | oldest first |
//! | [`Api::GeneralB`] | `/gen-b/rest` | `offset` | shuffled |
//! | [`Api::GeneralC`] | `/gen-c` | `cursor` in a JSON body | shuffled |

pub(crate) mod client_tokens;
pub(crate) mod config;
mod errors;
mod exchange;
pub(crate) mod feeds;
mod general_a;
mod general_b;
mod general_c;
mod graph;
mod graph_filter;
mod items;
mod secure_endpoint;
pub(crate) mod snapshots;
mod times;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Shared;

/// Every personality's routes. Graph's list paths are also served in the lower case its own
/// `@odata.nextLink` uses.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/login/{tenant}/oauth2/v2.0/token", post(graph::token))
        .route("/graph/v1.0/auditLogs/signIns", get(graph::sign_ins))
        .route("/graph/v1.0/auditLogs/signins", get(graph::sign_ins))
        .route(
            "/graph/v1.0/auditLogs/directoryAudits",
            get(graph::directory_audits),
        )
        .route(
            "/graph/v1.0/auditLogs/directoryaudits",
            get(graph::directory_audits),
        )
        .route("/amp/v1/events", get(secure_endpoint::events))
        .route("/gen-a/api/v2/audit", get(general_a::audit))
        .route("/gen-b/rest/logs", get(general_b::logs))
        .route("/gen-c/oauth/token", post(general_c::token))
        .route("/gen-c/v1/events/search", post(general_c::search))
}

/// One simulated endpoint of another API: what events are generated for, faults are aimed
/// at and requests are logged under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    /// `GET /graph/v1.0/auditLogs/signIns`.
    GraphSignIns,
    /// `GET /graph/v1.0/auditLogs/directoryAudits`.
    GraphDirectoryAudits,
    /// `GET /amp/v1/events`.
    SecureEndpoint,
    /// `GET /gen-a/api/v2/audit`: next URL, API key header.
    GeneralA,
    /// `GET /gen-b/rest/logs`: offset paging, HTTP Basic.
    GeneralB,
    /// `POST /gen-c/v1/events/search`: cursor in the body, client-credentials token.
    GeneralC,
}

impl Api {
    pub const ALL: [Api; 6] = [
        Api::GraphSignIns,
        Api::GraphDirectoryAudits,
        Api::SecureEndpoint,
        Api::GeneralA,
        Api::GeneralB,
        Api::GeneralC,
    ];

    /// The endpoint's path on the simulator, as the API's documentation spells it.
    pub fn path(self) -> &'static str {
        match self {
            Api::GraphSignIns => "/graph/v1.0/auditLogs/signIns",
            Api::GraphDirectoryAudits => "/graph/v1.0/auditLogs/directoryAudits",
            Api::SecureEndpoint => "/amp/v1/events",
            Api::GeneralA => "/gen-a/api/v2/audit",
            Api::GeneralB => "/gen-b/rest/logs",
            Api::GeneralC => "/gen-c/v1/events/search",
        }
    }

    /// Its name on `webex-sim`'s command line (`--apis`).
    pub fn name(self) -> &'static str {
        match self {
            Api::GraphSignIns => "graph-signins",
            Api::GraphDirectoryAudits => "graph-directory-audits",
            Api::SecureEndpoint => "secure-endpoint",
            Api::GeneralA => "general-a",
            Api::GeneralB => "general-b",
            Api::GeneralC => "general-c",
        }
    }

    /// Graph's two resources hold events per tenant.
    pub fn is_graph(self) -> bool {
        matches!(self, Api::GraphSignIns | Api::GraphDirectoryAudits)
    }

    /// Stable number mixed into seeds, so APIs never share random sequences (and never those
    /// of the Webex streams, tagged 1 to 3).
    pub(crate) fn tag(self) -> u64 {
        match self {
            Api::GraphSignIns => 101,
            Api::GraphDirectoryAudits => 102,
            Api::SecureEndpoint => 103,
            Api::GeneralA => 104,
            Api::GeneralB => 105,
            Api::GeneralC => 106,
        }
    }
}

/// One generated event of another API, as a test checks it against what a collector wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiEvent {
    pub api: Api,
    /// The Graph tenant the event belongs to; empty for the other APIs.
    pub tenant: String,
    /// What identifies the event: its `id` (Graph GUIDs, Secure Endpoint's digits, General
    /// A's strings); `{source}/{seq}` for General B, whose items have no id field; the JSON
    /// itself for General C, whose items have no identity but their bytes.
    pub key: String,
    /// When it happened, in Unix milliseconds (sub-millisecond digits dropped).
    pub time_ms: i64,
    /// It is served only once the sim clock reaches this instant (late arrival).
    pub visible_at_ms: i64,
    /// The compact JSON of the item exactly as every page serves it.
    pub json: String,
}
