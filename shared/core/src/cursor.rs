//! The per-stream, per-organisation progress record. It moves only after the data it covers is
//! in S3, and every write is conditional on the version read, so two runs can never both commit.

use std::time::Duration;

use crate::error::ErrorKind;
use crate::recent_ids::RecentIds;
use crate::time::Timestamp;
use crate::window::Window;

/// Identifies one cursor: a unit of work, one stream (by its name) in an organisation, live or
/// a backfill of a past range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CursorKey {
    pub stream: String,
    pub org_id: String,
    pub lane: Lane,
}

/// Which of a unit's cursors: the live one the schedule moves forward, or a backfill's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lane {
    #[default]
    Live,
    /// `webexctl backfill`: the events created in `[from, to)`, under `prefix` (`None`: the
    /// deployment's own), with a cursor and a lease of its own, so that it resumes after a
    /// kill and never races the live unit.
    Backfill {
        from: Timestamp,
        to: Timestamp,
        prefix: Option<String>,
    },
}

impl CursorKey {
    pub fn live(stream: impl Into<String>, org_id: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            org_id: org_id.into(),
            lane: Lane::Live,
        }
    }

    /// `cursor#{stream}#{org}` for the live unit; a backfill's is `backfill#{stream}#{org}#…`,
    /// apart from the cursors `webexctl status` lists and a live run reads.
    pub fn item_key(&self) -> String {
        match &self.lane {
            Lane::Live => format!("cursor#{}#{}", self.stream, self.org_id),
            Lane::Backfill { .. } => format!(
                "{}{}",
                Self::backfills_of(&self.stream, &self.org_id),
                self.lane_tag()
            ),
        }
    }

    pub fn lease_key(&self) -> String {
        match &self.lane {
            Lane::Live => format!("lease#{}#{}", self.stream, self.org_id),
            Lane::Backfill { .. } => format!("lease#{}", self.item_key()),
        }
    }

    /// The start of the item key of every backfill of a unit.
    pub fn backfills_of(stream: &str, org_id: &str) -> String {
        format!("backfill#{stream}#{org_id}#")
    }

    /// `{from}#{to}` or `{from}#{to}#{prefix}`, compact times, for a backfill's item key.
    fn lane_tag(&self) -> String {
        match &self.lane {
            Lane::Live => String::new(),
            Lane::Backfill { from, to, prefix } => {
                let mut tag = format!("{}#{}", from.to_compact(), to.to_compact());
                if let Some(prefix) = prefix {
                    tag.push('#');
                    tag.push_str(prefix);
                }
                tag
            }
        }
    }

    /// The lane of a backfill's item key, as [`CursorKey::item_key`] wrote it.
    pub fn backfill_lane(item_key: &str, stream: &str, org_id: &str) -> Option<Lane> {
        let tag = item_key.strip_prefix(&Self::backfills_of(stream, org_id))?;
        let mut parts = tag.splitn(3, '#');
        let from = Timestamp::parse_compact(parts.next()?)?;
        let to = Timestamp::parse_compact(parts.next()?)?;
        let prefix = parts.next().map(str::to_owned);
        Some(Lane::Backfill { from, to, prefix })
    }

    /// The end a backfill's windows stop at; `None` for the live cursor, which follows now.
    pub fn until(&self) -> Option<Timestamp> {
        match &self.lane {
            Lane::Live => None,
            Lane::Backfill { to, .. } => Some(*to),
        }
    }

    /// The earliest event time a backfill may write: nothing before its range is read, not
    /// even the overlap a window reaches back for late events (no window of it is before).
    pub fn since(&self) -> Option<Timestamp> {
        match &self.lane {
            Lane::Live => None,
            Lane::Backfill { from, .. } => Some(*from),
        }
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
