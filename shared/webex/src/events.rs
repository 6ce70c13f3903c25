//! One compliance event by its id (`GET /events/{eventId}`), for `webexctl events get`.

use bytes::Bytes;
use collector_core::ports::SourceError;
use collector_core::secret::AccessToken;
use reqwest::Method;
use tokio::time::Instant;

use crate::WebexClient;
use crate::call::{Call, path_id};

/// An event is a few KB; a meeting's attendee list can make it larger.
const EVENT_CAP: usize = 4 * 1024 * 1024;

impl WebexClient {
    /// The event as Webex returns it, or `None` when Webex answers 404: no such event, or one
    /// this token may not see.
    pub async fn event(
        &self,
        token: &AccessToken,
        id: &str,
        deadline: Instant,
    ) -> Result<Option<Bytes>, SourceError> {
        let target = format!("events/{}", path_id(id)?);
        let call = Call {
            method: Method::GET,
            target: &target,
            json: None,
            cap: EVENT_CAP,
            what: "reading the event",
        };
        match self.call(&call, token, deadline).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(SourceError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
