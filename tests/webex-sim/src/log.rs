//! What the simulator served, so tests can assert on the traffic a client produced.

/// One request to an event endpoint, `people/me` or the event-category list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    pub method: String,
    /// Full path, e.g. `/v1/adminAudit/events`.
    pub path: String,
    /// The raw query string as the client sent it (no leading `?`).
    pub query: String,
    pub status: u16,
    /// The bearer token presented, if any.
    pub bearer: Option<String>,
    /// Ids of the events in the page, in page order; empty unless a complete page was sent
    /// (a `Truncated` page never reached the client whole).
    pub ids: Vec<String>,
    /// The injected failure, if any: a [`crate::Fault::name`], or `RateLimited` and
    /// `GatewayTimeout` for the configured limits.
    pub fault: Option<String>,
    /// Sim-clock time the request arrived.
    pub at_ms: i64,
}

/// One `POST /access_token`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequestLog {
    /// As sent; empty when missing.
    pub grant_type: String,
    pub status: u16,
    pub at_ms: i64,
}
