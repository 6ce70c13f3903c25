//! What the simulator served, so tests can assert on the traffic a client produced.

use std::collections::BTreeMap;

use serde::Serialize;

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

/// Totals over the request log, without a copy of every entry (which holds every event id
/// served): what `webex-sim` prints when it stops, for `make bench`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestSummary {
    /// Requests to the event endpoints, the category list and `people/me`.
    pub requests: u64,
    /// How many of them got each status code.
    pub by_status: BTreeMap<u16, u64>,
    /// 429s that the configured rate limit answered (not scripted or random faults).
    pub rate_limited: u64,
    /// Events in complete pages sent.
    pub events_served: u64,
}

impl RequestSummary {
    pub(crate) fn of(requests: &[RequestLog]) -> RequestSummary {
        let mut summary = RequestSummary::default();
        for request in requests {
            summary.requests += 1;
            *summary.by_status.entry(request.status).or_default() += 1;
            summary.rate_limited += u64::from(request.fault.as_deref() == Some("RateLimited"));
            summary.events_served += request.ids.len() as u64;
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(status: u16, ids: usize, fault: Option<&str>) -> RequestLog {
        RequestLog {
            method: "GET".to_owned(),
            path: "/v1/events".to_owned(),
            query: String::new(),
            status,
            bearer: None,
            ids: (0..ids).map(|i| i.to_string()).collect(),
            fault: fault.map(str::to_owned),
            at_ms: 0,
        }
    }

    #[test]
    fn summary_counts_statuses_limits_and_events() {
        let summary = RequestSummary::of(&[
            request(200, 3, None),
            request(200, 2, Some("Slow")),
            request(429, 0, Some("RateLimited")),
            request(429, 0, Some("TooManyRequests")),
        ]);
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.by_status, BTreeMap::from([(200, 2), (429, 2)]));
        assert_eq!(summary.rate_limited, 1);
        assert_eq!(summary.events_served, 5);
    }
}
