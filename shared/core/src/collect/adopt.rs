//! An object an earlier run wrote for a window it did not commit (it crashed, or lost a race):
//! what counts is what that object holds, read back line by line.

use super::Collector;
use crate::error::CollectError;
use crate::event::EventKey;
use crate::object::read_back;
use crate::ports::{Clock, CursorStore, EventSource, LeaseStore, ObjectSink};
use crate::time::Timestamp;

/// What an existing object holds, for the commit and the digest.
#[derive(Debug)]
pub(super) struct Existing {
    pub events: u64,
    /// Its events that the next window's overlap may return again.
    pub recent: Vec<(EventKey, Timestamp)>,
}

impl<St, Sk, Src, Clk> Collector<St, Sk, Src, Clk>
where
    St: CursorStore + LeaseStore,
    Sk: ObjectSink,
    Src: EventSource,
    Clk: Clock,
{
    /// What the object at `object_key` holds, if there is one.
    pub(super) async fn read_existing(
        &self,
        object_key: &str,
        horizon: Timestamp,
    ) -> Result<Option<Existing>, CollectError> {
        let Some(body) = self.sink.get(object_key).await? else {
            return Ok(None);
        };
        let mut recent = Vec::new();
        // Read as the stream's own items, custom fields skipped: a key is what it was written as.
        let shape = &self.spec.page;
        let fields_key = self.settings.fields.line_key();
        let events = read_back(&body, shape, fields_key, |key, created| {
            if created >= horizon {
                recent.push((key, created));
            }
        })
        .map_err(|reason| {
            CollectError::Config(format!(
                "object {object_key} exists but cannot be read back ({reason}); move it aside"
            ))
        })?;
        tracing::debug!(
            key = object_key,
            events,
            "adopting an object written by an earlier run"
        );
        Ok(Some(Existing { events, recent }))
    }
}
