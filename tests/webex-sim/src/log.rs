//! What the simulator served, so tests can assert on the traffic a client produced.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Stream;
use crate::render::event_id;

/// One request to an event endpoint, `people/me`, the organizations list, the
/// event-category list, or any endpoint of the other APIs (their token endpoints included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    pub method: String,
    /// Full path, e.g. `/v1/adminAudit/events`.
    pub path: String,
    /// The raw query string as the client sent it (no leading `?`).
    pub query: String,
    pub status: u16,
    /// The JSON body of a `POST` search (General C); never a token request's form.
    pub body: Option<String>,
    /// The bearer token presented, if any.
    pub bearer: Option<String>,
    /// The organisation an event request was for: the `orgId` it named (audit events), or the
    /// token's own org (compliance events); for Graph, the token's tenant. `None` for other
    /// requests, and for requests without a valid token.
    pub org_id: Option<String>,
    /// Ids of the events in the page, in page order; empty unless a complete page was sent
    /// (a `Truncated` page never reached the client whole). For the other APIs, the
    /// [`crate::ApiEvent::key`]s.
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

/// Totals over the request log, kept as requests are served (no copy of every entry, which
/// holds every event id served): what `webex-sim` prints when it stops, for `make bench`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestSummary {
    /// Requests to the event endpoints, the category list, `people/me` and the
    /// organizations list.
    pub requests: u64,
    /// How many of them got each status code.
    pub by_status: BTreeMap<u16, u64>,
    /// 429s that the configured rate limit answered (not scripted or random faults): zero
    /// means the client kept to the pace.
    pub rate_limited: u64,
    /// Events in complete pages sent.
    pub events_served: u64,
    /// The same per organisation.
    pub events_served_by_org: BTreeMap<String, u64>,
}

impl RequestSummary {
    fn add(&mut self, entry: &LogEntry) {
        self.requests += 1;
        *self.by_status.entry(entry.status).or_default() += 1;
        self.rate_limited += u64::from(entry.fault.as_deref() == Some(RATE_LIMITED));
        let served = entry.served.as_ref().map_or(0, |s| s.len() as u64);
        self.events_served += served;
        if let (Some(org_id), true) = (&entry.org_id, served > 0) {
            *self.events_served_by_org.entry(org_id.clone()).or_default() += served;
        }
    }
}

/// The `fault` of a 429 that the configured rate limit answered.
pub(crate) const RATE_LIMITED: &str = "RateLimited";

/// The events of a complete page. Webex events by UUID (16 bytes each rather than an id
/// string): the log of a million events served stays small. The other APIs' by key.
#[derive(Clone, Debug)]
pub(crate) enum ServedIds {
    Webex { stream: Stream, uuids: Vec<u128> },
    Keys(Vec<String>),
}

impl ServedIds {
    pub(crate) fn len(&self) -> usize {
        match self {
            ServedIds::Webex { uuids, .. } => uuids.len(),
            ServedIds::Keys(keys) => keys.len(),
        }
    }

    fn ids(&self) -> Vec<String> {
        match self {
            ServedIds::Webex { stream, uuids } => {
                uuids.iter().map(|uuid| event_id(*stream, *uuid)).collect()
            }
            ServedIds::Keys(keys) => keys.clone(),
        }
    }
}

/// A [`RequestLog`] as the simulator keeps it.
#[derive(Clone, Debug)]
pub(crate) struct LogEntry {
    pub method: &'static str,
    pub path: String,
    pub query: String,
    pub body: Option<String>,
    pub status: u16,
    pub bearer: Option<String>,
    pub org_id: Option<String>,
    pub served: Option<ServedIds>,
    pub fault: Option<String>,
    pub at_ms: i64,
}

impl LogEntry {
    pub(crate) fn to_public(&self) -> RequestLog {
        RequestLog {
            method: self.method.to_owned(),
            path: self.path.clone(),
            query: self.query.clone(),
            body: self.body.clone(),
            status: self.status,
            bearer: self.bearer.clone(),
            org_id: self.org_id.clone(),
            ids: self.served.as_ref().map_or_else(Vec::new, ServedIds::ids),
            fault: self.fault.clone(),
            at_ms: self.at_ms,
        }
    }
}

/// Every request served, and their totals.
#[derive(Debug, Default)]
pub(crate) struct RequestLogBook {
    entries: Vec<LogEntry>,
    summary: RequestSummary,
}

impl RequestLogBook {
    pub(crate) fn push(&mut self, entry: LogEntry) {
        self.summary.add(&entry);
        self.entries.push(entry);
    }

    pub(crate) fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    pub(crate) fn summary(&self) -> &RequestSummary {
        &self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(status: u16, ids: usize, fault: Option<&str>) -> LogEntry {
        LogEntry {
            method: "GET",
            path: "/v1/events".to_owned(),
            query: String::new(),
            body: None,
            status,
            bearer: None,
            org_id: Some("org".to_owned()),
            served: (ids > 0).then(|| ServedIds::Webex {
                stream: Stream::ComplianceEvents,
                uuids: (0..ids as u128).collect(),
            }),
            fault: fault.map(str::to_owned),
            at_ms: 0,
        }
    }

    #[test]
    fn summary_counts_statuses_limits_and_events() {
        let mut book = RequestLogBook::default();
        for entry in [
            request(200, 3, None),
            request(200, 2, Some("Slow")),
            request(429, 0, Some("RateLimited")),
            request(429, 0, Some("TooManyRequests")),
        ] {
            book.push(entry);
        }
        let summary = book.summary();
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.by_status, BTreeMap::from([(200, 2), (429, 2)]));
        assert_eq!(summary.rate_limited, 1);
        assert_eq!(summary.events_served, 5);
        assert_eq!(
            summary.events_served_by_org,
            BTreeMap::from([("org".to_owned(), 5)])
        );
        let public = book.entries()[0].to_public();
        assert_eq!(public.ids.len(), 3);
        assert!(
            public.ids[0].len() > 40,
            "a compliance id: {}",
            public.ids[0]
        );
    }
}
