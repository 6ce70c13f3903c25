//! `webexctl webhooks status|sync|rotate`: the registrar run by hand, with the deployment's
//! variables (WEBHOOK_SECRET_ID, WEBHOOK_TARGET_URL, WEBHOOK_RESOURCES, and the identities').

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use collector_app::registrar::{Registrar, RegistrarConfig, StatusReport, SyncReport};
use collector_core::Timestamp;
use collector_core::ports::SystemClock;
use collector_core::webhook::registrar::Gap;

use crate::{Output, print, table};

async fn registrar() -> Result<Registrar> {
    let document = collector_app::document_location::load_from_env().await?;
    let config = RegistrarConfig::from_lookup(|name| std::env::var(name).ok(), document.as_ref())?;
    let sdk = aws_adapters::sdk_config().await;
    Ok(Registrar::new(config, &sdk, Arc::new(SystemClock))?)
}

/// Exit status 1 while a webhook of ours is off, missing or aimed elsewhere.
pub async fn status(output: &Output) -> Result<ExitCode> {
    let report = registrar().await?.status().await?;
    print(output, &report, || status_text(&report))?;
    let healthy = report.missing.is_empty()
        && report
            .webhooks
            .iter()
            .all(|w| w.status == "active" && w.target_ok);
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Exit status 1 when a step failed (the scheduled run tries again).
pub async fn sync(output: &Output, rotate: bool) -> Result<ExitCode> {
    let registrar = registrar().await?;
    let report = if rotate {
        registrar.rotate().await?
    } else {
        registrar.sync().await?
    };
    print(output, &report, || sync_text(&report, rotate))?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn status_text(report: &StatusReport) -> String {
    let mut text = format!(
        "organisation {}, target {}\n",
        table::escape(&report.org_id),
        table::escape(&report.target_url)
    );
    text.push_str(&table::render(
        &["WEBHOOK", "RESOURCE:EVENT", "STATUS", "TARGET", "OFF SINCE"],
        report.webhooks.iter().map(|w| {
            vec![
                w.id.clone(),
                w.what.clone(),
                w.status.clone(),
                if w.target_ok { "ours" } else { "ELSEWHERE" }.into(),
                w.off_since.clone().unwrap_or_else(|| "-".into()),
            ]
        }),
    ));
    for missing in &report.missing {
        text.push_str(&format!(
            "\nmissing: {} (webexctl webhooks sync creates it)",
            table::escape(missing)
        ));
    }
    text.push_str(&format!(
        "\n{} webhook(s) of others, left alone",
        report.foreign
    ));
    if let Some(rotation) = &report.rotation {
        text.push_str(&format!("\nsecret rotation: {rotation}"));
    }
    text.push_str(&gaps_text(&report.gaps));
    text
}

fn sync_text(report: &SyncReport, rotated: bool) -> String {
    let mut text = format!(
        "organisation {}: {} webhook(s) of ours; created {}, repaired {}, deleted {}, waiting \
         out Webex's hold-off {}; {} of others left alone",
        table::escape(&report.org_id),
        report.ours,
        report.created.len(),
        report.repaired.len(),
        report.deleted.len(),
        report.waiting.len(),
        report.foreign
    );
    if rotated {
        text.push_str(
            "\nnew signing secret on every webhook of ours; the old one is accepted for an hour",
        );
    }
    for step in &report.failed {
        text.push_str(&format!("\nfailed: {}", table::escape(step)));
    }
    text.push_str(&gaps_text(&report.new_gaps));
    text
}

/// Each period a webhook of ours was off: its events of then came only through the polls.
fn gaps_text(gaps: &[Gap]) -> String {
    let mut text = String::new();
    for gap in gaps {
        text.push_str(&format!(
            "\ngap: {} ({}) was off from {} to {}",
            table::escape(&gap.webhook),
            table::escape(&gap.what),
            Timestamp::from_millis(gap.from_ms).to_rfc3339(),
            Timestamp::from_millis(gap.to_ms).to_rfc3339()
        ));
    }
    text
}
