//! One request to one of the other APIs, from arrival to the log: what every personality does
//! the same way (faults aimed at the API, slow and hanging answers, cut bodies, the request
//! log), so each personality's module holds only what is its own.

use axum::body::Body;
use axum::http::{HeaderValue, Uri, header};
use axum::response::Response;

use crate::apis::Api;
use crate::apis::errors::{FaultContext, fault_response};
use crate::apis::feeds::Item;
use crate::bodies::truncated_body;
use crate::faults::Fault;
use crate::log::{LogEntry, RATE_LIMITED, ServedIds};
use crate::state::Shared;

/// A page ready to send.
#[derive(Debug)]
pub(crate) struct Page {
    pub body: String,
    pub content_type: &'static str,
    /// The [`crate::ApiEvent::key`]s of its items, in order, for the log.
    pub keys: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    shared: &'a Shared,
    api: Api,
    method: &'static str,
    path: String,
    query: String,
    body: Option<String>,
    at_ms: i64,
    bearer: Option<String>,
    tenant: Option<String>,
    fault: Option<String>,
    truncate: bool,
}

impl<'a> Exchange<'a> {
    pub(crate) fn new(shared: &'a Shared, api: Api, method: &'static str, uri: &Uri) -> Self {
        Exchange {
            shared,
            api,
            method,
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            body: None,
            at_ms: shared.clock.now_ms(),
            bearer: None,
            tenant: None,
            fault: None,
            truncate: false,
        }
    }

    /// The request's JSON body, for the log.
    pub(crate) fn body(&mut self, body: &str) {
        self.body = Some(body.to_owned());
    }

    pub(crate) fn bearer(&mut self, token: Option<&str>) {
        self.bearer = token.map(str::to_owned);
    }

    pub(crate) fn tenant(&mut self, tenant: &str) {
        self.tenant = Some(tenant.to_owned());
    }

    /// The configured limit answered: logged as `RateLimited`, as on the Webex endpoints.
    pub(crate) fn rate_limited(&mut self) {
        self.fault = Some(RATE_LIMITED.to_owned());
    }

    /// The next fault for this API, if any. `Err` is the answer it replaces the page with;
    /// `Ok(Some)` is a fault the page must carry out (a `Link` one); `Slow` has waited, `Hang`
    /// never returns, `Truncated` is applied by [`Exchange::finish`].
    pub(crate) async fn fault(
        &mut self,
        graph_retry_after: bool,
    ) -> Result<Option<Fault>, Response> {
        let Some(fault) = self.shared.lock().faults.next_for(self.api) else {
            return Ok(None);
        };
        self.fault = Some(fault.name());
        match &fault {
            Fault::Slow(delay) => {
                tokio::time::sleep(*delay).await;
                return Ok(None);
            }
            Fault::Hang => {
                // Logged now: the client gives up before any answer, and its going away drops
                // this handler before `finish` could log it.
                self.shared.log(self.entry(0, None));
                std::future::pending::<()>().await;
            }
            Fault::Truncated => {
                self.truncate = true;
                return Ok(None);
            }
            _ => {}
        }
        let context = FaultContext {
            now_ms: self.shared.clock.now_ms(),
            graph_retry_after,
        };
        match fault_response(self.api, &fault, context) {
            Some(response) => Err(response),
            None => Ok(Some(fault)),
        }
    }

    /// The next-page URL a page carries: `next` as paging made it, or where a `Link` fault
    /// points instead (another host, this very request, the request before).
    pub(crate) fn next_link(&self, fault: Option<Fault>, next: Option<String>) -> Option<String> {
        match fault {
            Some(Fault::Link(url)) => Some(url),
            Some(Fault::LinkToSelf) => Some(self.own_url()),
            Some(Fault::LinkToPrevious) => self.previous_url().or(next),
            _ => next,
        }
    }

    /// The URL of the request logged before this one (a `LinkToPrevious` fault's target).
    fn previous_url(&self) -> Option<String> {
        let inner = self.shared.lock();
        let previous = inner.requests.entries().last()?;
        let query = if previous.query.is_empty() {
            String::new()
        } else {
            format!("?{}", previous.query)
        };
        Some(format!("{}{}{query}", self.shared.origin(), previous.path))
    }

    /// The URL of this very request (a `LinkToSelf` fault's target).
    pub(crate) fn own_url(&self) -> String {
        let query = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        format!("{}{}{query}", self.shared.origin(), self.path)
    }

    /// Sends the page (cut short under a `Truncated` fault) or another answer (a refusal, a
    /// token), and logs it.
    pub(crate) fn finish(self, outcome: Result<Page, Response>) -> Response {
        let (response, keys) = match outcome {
            Ok(page) => {
                let body = if self.truncate {
                    truncated_body(page.body)
                } else {
                    Body::from(page.body)
                };
                let mut response = Response::new(body);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(page.content_type),
                );
                // A cut page delivered no events.
                (response, (!self.truncate).then_some(page.keys))
            }
            Err(response) => (response, None),
        };
        let status = response.status();
        tracing::debug!(
            api = ?self.api,
            status = status.as_u16(),
            events = keys.as_ref().map_or(0, Vec::len),
            fault = self.fault.as_deref(),
            "served a page of another API"
        );
        self.shared.log(self.entry(status.as_u16(), keys));
        response
    }

    fn entry(&self, status: u16, keys: Option<Vec<String>>) -> LogEntry {
        LogEntry {
            method: self.method,
            path: self.path.clone(),
            query: self.query.clone(),
            body: self.body.clone(),
            status,
            bearer: self.bearer.clone(),
            org_id: self.tenant.clone(),
            served: keys.filter(|k| !k.is_empty()).map(ServedIds::Keys),
            fault: self.fault.clone(),
            at_ms: self.at_ms,
        }
    }
}

/// Logs a request that serves no events (a token request): its form is never logged.
pub(crate) fn record(shared: &Shared, uri: &Uri, response: &Response, tenant: Option<&str>) {
    shared.log(LogEntry {
        method: "POST",
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        body: None,
        status: response.status().as_u16(),
        bearer: None,
        org_id: tenant.map(str::to_owned),
        served: None,
        fault: None,
        at_ms: shared.clock.now_ms(),
    });
}

/// `text` as a JSON string literal, for bodies assembled around items kept as JSON text.
pub(crate) fn json_string(text: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

/// `,`-joined item JSON, verbatim.
pub(crate) fn joined(items: &[Item]) -> String {
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&item.json);
    }
    out
}

/// The log keys of a page's items.
pub(crate) fn keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|item| item.key.clone()).collect()
}
