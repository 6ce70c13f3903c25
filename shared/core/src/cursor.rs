//! The per-stream, per-organisation progress record. It moves only after the data it covers is
//! in S3, and every write is conditional on the version read, so two runs can never both commit.

use crate::error::ErrorKind;
use crate::recent_ids::RecentIds;
use crate::stream::StreamId;
use crate::time::Timestamp;
use crate::window::Window;

/// Identifies one cursor: a stream in an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CursorKey {
    pub stream: StreamId,
    pub org_id: String,
}

impl CursorKey {
    pub fn item_key(&self) -> String {
        format!("cursor#{}#{}", self.stream.name(), self.org_id)
    }

    pub fn lease_key(&self) -> String {
        format!("lease#{}#{}", self.stream.name(), self.org_id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Collecting,
    Error,
}

impl Status {
    pub const fn name(self) -> &'static str {
        match self {
            Status::Collecting => "collecting",
            Status::Error => "error",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Status::Collecting, Status::Error]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    pub kind: ErrorKind,
    pub message: String,
    pub at: Timestamp,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunStats {
    pub events: u64,
    pub pages: u64,
    pub windows: u64,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub committed_until: Option<Timestamp>,
    /// The windows started and not yet committed, oldest first. A retry reuses them exactly,
    /// so their object keys are the same; only a prefix of them can have an object.
    pub pending: Vec<Window>,
    pub recent_ids: RecentIds,
    /// 0 for a cursor never stored; every store write increments it.
    pub version: u64,
    pub status: Status,
    pub last_error: Option<LastError>,
    pub consecutive_failures: u32,
    pub last_success_at: Option<Timestamp>,
    pub last_run: Option<RunStats>,
}

impl Default for Cursor {
    fn default() -> Self {
        Self {
            committed_until: None,
            pending: Vec::new(),
            recent_ids: RecentIds::default(),
            version: 0,
            status: Status::Collecting,
            last_error: None,
            consecutive_failures: 0,
            last_success_at: None,
            last_run: None,
        }
    }
}
