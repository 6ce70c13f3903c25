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

    /// The key an item key names, as [`CursorKey::item_key`] wrote it; `None` for any other
    /// item of the table (a lease, a token lock, a webhook claim). Stream names and
    /// organisation ids hold no `#`; a backfill's prefix may hold anything after its range.
    pub fn parse(item_key: &str) -> Option<Self> {
        let (kind, rest) = item_key.split_once('#')?;
        let mut parts = rest.splitn(3, '#');
        let (stream, org_id) = (parts.next()?, parts.next()?);
        let lane = match (kind, parts.next()) {
            ("cursor", None) => Lane::Live,
            ("backfill", Some(tag)) => {
                let mut parts = tag.splitn(3, '#');
                Lane::Backfill {
                    from: Timestamp::parse_compact(parts.next()?)?,
                    to: Timestamp::parse_compact(parts.next()?)?,
                    prefix: parts.next().map(str::to_owned),
                }
            }
            _ => return None,
        };
        Some(Self {
            lane,
            ..Self::live(stream, org_id)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_key_names_the_cursor_it_was_written_for_and_no_other_item() {
        let at = |text| Timestamp::parse(text).unwrap();
        let backfill = |prefix: Option<&str>| CursorKey {
            lane: Lane::Backfill {
                from: at("2026-10-01T00:00:00Z"),
                to: at("2026-10-02T12:30:00Z"),
                prefix: prefix.map(str::to_owned),
            },
            ..CursorKey::live(
                "compliance-events",
                "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8x",
            )
        };
        for key in [
            CursorKey::live("admin-audit", "-"),
            backfill(None),
            backfill(Some("redo/2026-10/")),
        ] {
            assert_eq!(CursorKey::parse(&key.item_key()), Some(key.clone()));
        }
        for other in [
            backfill(None).lease_key(),
            CursorKey::live("admin-audit", "o").lease_key(),
            "cursor#admin-audit".into(),
            "cursor#admin-audit#o#extra".into(),
            "backfill#s#o".into(),
            "backfill#s#o#20261001T000000Z".into(),
            "backfill#s#o#yesterday#today".into(),
            "webhook#0123abcd".into(),
        ] {
            assert_eq!(CursorKey::parse(&other), None, "{other}");
        }
    }
}
