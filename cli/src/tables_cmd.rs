//! The Glue tables of a document's streams, written to the deployment's database: what was
//! created or replaced, what was left alone and why. The deployment (bucket, prefix, first
//! projected date) is read from its template's table `http_sources_raw`, so the tables cannot
//! point anywhere the stack does not write.

use std::process::ExitCode;

use anyhow::Result;
use aws_adapters::GlueCatalog;
use collector_app::document::Document;
use collector_app::tables::{self, Deployment, RAW_TABLE};
use collector_core::table::{Catalog, keep};

use crate::table::escape;

/// The exit status when a table could not be written because a foreign one has its name.
const NOT_ALL_WRITTEN: u8 = 1;

pub async fn write(document: &Document, database: &str) -> Result<ExitCode> {
    let sdk = aws_adapters::sdk_config().await;
    let catalog = GlueCatalog::new(aws_adapters::glue_client(&sdk), database);
    let existing = catalog.tables().await?;
    let Some(raw) = existing.get(RAW_TABLE) else {
        anyhow::bail!(
            "the Glue database {} has no table {RAW_TABLE}: give the stack's GlueDatabase output \
             (GLUE_DATABASE or --database)",
            escape(database)
        );
    };
    let deployment = Deployment::of_raw_table(raw).map_err(anyhow::Error::msg)?;
    let wanted = match tables::tables(document, &deployment) {
        Ok(wanted) => wanted,
        Err(problems) => {
            for problem in &problems {
                eprintln!("error: {}", escape(problem));
            }
            eprintln!("no table was written");
            return Ok(ExitCode::from(2));
        }
    };
    let kept = keep(&catalog, &existing, &wanted).await?;
    let database = escape(database);
    for name in &kept.created {
        println!("created {database}.{name}");
    }
    for name in &kept.replaced {
        println!("replaced {database}.{name}");
    }
    for name in &kept.left {
        println!(
            "left {database}.{name}: its stream is no longer in the document; drop the table \
             (aws glue delete-table) when its objects are no longer read"
        );
    }
    if kept.foreign.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for name in &kept.foreign {
        eprintln!(
            "not written: {database}.{name} exists and was not written by webexctl (the \
             template's, or someone else's); rename the stream to give it a table"
        );
    }
    Ok(ExitCode::from(NOT_ALL_WRITTEN))
}
