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

use crate::{Output, Range, print, table};

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
pub async fn list(range: &Range, max: Option<u64>) -> Result<ExitCode> {
    let (from, to) = times(range)?;
    let units = units_of(&range.stream).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = None;
    let (unit, listed) = units
        .list(range.org.as_deref(), (from, to), max, deadline, |event| {
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

/// Exit status of `verify`: 0 when the bucket holds the range exactly once; otherwise 8 plus 1
/// for ids missing, 2 for ids twice, 4 for ids the source does not return (9 to 15).
pub async fn verify(range: &Range, output: &Output) -> Result<ExitCode> {
    let (from, to) = times(range)?;
    let units = units_of(&range.stream).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    let verdict = units
        .verify(range.org.as_deref(), (from, to), deadline)
        .await?;
    print(output, &verdict, || {
        let mut text = format!(
            "{} ({}) from {from} to {to}: Webex returns {} event(s), the bucket holds {} line(s)",
            verdict.stream,
            table::escape(&verdict.org_id),
            verdict.listed,
            verdict.stored
        );
        for (what, ids) in [
            ("missing from the bucket", &verdict.missing),
            ("in the bucket twice", &verdict.twice),
            ("in the bucket, not returned by Webex", &verdict.extra),
        ] {
            if !ids.is_empty() {
                text.push_str(&format!("\n{} {what}:", ids.len()));
                for id in ids {
                    text.push_str(&format!("\n  {}", table::escape(id)));
                }
            }
        }
        if verdict.complete() {
            text.push_str("\nevery event exactly once");
        }
        text
    })?;
    let code = u8::from(!verdict.missing.is_empty())
        | u8::from(!verdict.twice.is_empty()) << 1
        | u8::from(!verdict.extra.is_empty()) << 2;
    Ok(if code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(8 | code)
    })
}

pub fn times(range: &Range) -> Result<(Timestamp, Timestamp)> {
    let parse = |text: &str, flag: &str| {
        Timestamp::parse(text).with_context(|| {
            format!("{flag} {text:?} is not an RFC 3339 time (2026-12-01T00:00:00Z)")
        })
    };
    let (from, to) = (parse(&range.from, "--from")?, parse(&range.to, "--to")?);
    anyhow::ensure!(from < to, "--from must be before --to");
    Ok((from, to))
}

/// The units of `stream`: a Webex preset's, or a document's stream of another source.
pub async fn units_of(stream: &str) -> Result<StreamUnits> {
    Ok(match StreamId::parse(stream) {
        Some(preset) => StreamUnits::from_env(preset).await?,
        None => {
            let mut units = StreamUnits::from_env(Selection::OtherSources).await?;
            anyhow::ensure!(
                units.keep_only(stream),
                "the collector document has no stream {stream:?} of another source"
            );
            units
        }
    })
}
