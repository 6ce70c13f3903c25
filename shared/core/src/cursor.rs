//! The per-stream, per-organisation progress record. It moves only after the data it covers is
//! in S3, and every write is conditional on the version read, so two runs can never both commit.

use std::time::Duration;

use crate::error::ErrorKind;
use crate::recent_ids::RecentIds;
use crate::time::Timestamp;
use crate::window::Window;

/// Identifies one cursor: a unit of work, one stream (by its name) in an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CursorKey {
    pub stream: String,
    pub org_id: String,
}

impl CursorKey {
    pub fn item_key(&self) -> String {
        format!("cursor#{}#{}", self.stream, self.org_id)
    }

    pub fn lease_key(&self) -> String {
        format!("lease#{}#{}", self.stream, self.org_id)
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
    /// What the committed windows wrote that the next overlap may return again.
    pub digest: DigestAt,
    /// After a window held more events than a window may, or did not fit in a run: the window
    /// length that did. Windows are no longer than this; it doubles back after quiet windows.
    pub window_limit: Option<Duration>,
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
            digest: DigestAt::Inline(RecentIds::default()),
            window_limit: None,
            version: 0,
            status: Status::Collecting,
            last_error: None,
            consecutive_failures: 0,
            last_success_at: None,
            last_run: None,
        }
    }
}

/// Where the cursor's digest is. DynamoDB's item limit and per-KB write cost must not depend on
/// how busy an organisation is, so a digest larger than a few KB lives in an object beside the
/// events, written before the commit that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestAt {
    Inline(RecentIds),
    Object { key: String, ids: u64 },
}

impl DigestAt {
    pub fn object_key(&self) -> Option<&str> {
        match self {
            DigestAt::Inline(_) => None,
            DigestAt::Object { key, .. } => Some(key),
        }
    }

    pub fn ids(&self) -> u64 {
        match self {
            DigestAt::Inline(ids) => ids.len() as u64,
            DigestAt::Object { ids, .. } => *ids,
        }
    }
}
