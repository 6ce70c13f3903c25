//! `webexctl events get|list`: what Webex holds, read without writing anything, the quickest
//! way to tell a gap in Webex from a gap in the bucket.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use collector_app::StreamId;
use collector_app::operator::Operator;
use collector_app::units::{Selection, StreamUnits};
use collector_core::{IdentityName, Timestamp};

use crate::table;

/// The event as Webex returns it on standard output; exit status 1 when there is none.
pub async fn get(identity: &IdentityName, id: &str) -> Result<ExitCode> {
    let operator = Operator::from_env().await?;
    match operator.event(identity, id).await? {
        Some(body) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&body)?;
            out.write_all(b"\n")?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "webexctl: no such event (or not visible to the {identity} identity): {}",
                table::escape(id)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Each event of the range as Webex returns it, one per line on standard output, and how many
/// on standard error. Nothing is written to the bucket or the state table.
pub async fn list(
    stream: &str,
    org: Option<&str>,
    from: &str,
    to: &str,
    max: Option<u64>,
) -> Result<ExitCode> {
    let parse = |text: &str, flag: &str| {
        Timestamp::parse(text).with_context(|| {
            format!("{flag} {text:?} is not an RFC 3339 time (2026-12-01T00:00:00Z)")
        })
    };
    let (from, to) = (parse(from, "--from")?, parse(to, "--to")?);
    anyhow::ensure!(from < to, "--from must be before --to");
    let units = match StreamId::parse(stream) {
        Some(preset) => StreamUnits::from_env(preset).await?,
        None => {
            let mut units = StreamUnits::from_env(Selection::OtherSources).await?;
            anyhow::ensure!(
                units.keep_only(stream),
                "the collector document has no stream {stream:?} of another source"
            );
            units
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = None;
    let (unit, listed) = units
        .list(org, (from, to), max, deadline, |event| {
            if failed.is_none()
                && let Err(e) = out
                    .write_all(&event.json)
                    .and_then(|()| out.write_all(b"\n"))
            {
                failed = Some(e);
            }
        })
        .await?;
    out.flush()?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    eprintln!(
        "webexctl: {listed} event(s) of {} ({}) from {from} to {to}{}",
        unit.stream,
        table::escape(&match &unit.org {
            collector_core::UnitOrg::Id(id) => id.clone(),
            collector_core::UnitOrg::OfSecret => "the identity's organisation".into(),
        }),
        if max.is_some_and(|m| listed >= m) {
            " (stopped at --max)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
