//! One Glue database as the [`Catalog`] of the streams' tables (`webexctl config tables`).

use std::collections::BTreeMap;

use aws_sdk_glue::Client;
use aws_sdk_glue::types::{Column as GlueColumn, SerDeInfo, StorageDescriptor, TableInput};
use collector_core::ports::StoreError;
use collector_core::table::{Catalog, Column, Table};

use crate::sdk_error::unavailable;

#[derive(Clone, Debug)]
pub struct GlueCatalog {
    client: Client,
    database: String,
}

impl GlueCatalog {
    pub fn new(client: Client, database: impl Into<String>) -> Self {
        Self {
            client,
            database: database.into(),
        }
    }

    pub fn database(&self) -> &str {
        &self.database
    }
}

impl Catalog for GlueCatalog {
    async fn tables(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, StoreError> {
        let mut tables = BTreeMap::new();
        let mut next = None;
        loop {
            let page = self
                .client
                .get_tables()
                .database_name(&self.database)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| unavailable("Glue GetTables", e))?;
            for table in page.table_list() {
                let parameters = table.parameters().into_iter().flatten();
                tables.insert(
                    table.name().to_string(),
                    parameters.map(|(k, v)| (k.clone(), v.clone())).collect(),
                );
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => return Ok(tables),
            }
        }
    }

    async fn create(&self, table: &Table) -> Result<(), StoreError> {
        self.client
            .create_table()
            .database_name(&self.database)
            .table_input(input(table)?)
            .send()
            .await
            .map_err(|e| unavailable("Glue CreateTable", e))?;
        Ok(())
    }

    async fn replace(&self, table: &Table) -> Result<(), StoreError> {
        self.client
            .update_table()
            .database_name(&self.database)
            .table_input(input(table)?)
            .send()
            .await
            .map_err(|e| unavailable("Glue UpdateTable", e))?;
        Ok(())
    }
}

fn input(table: &Table) -> Result<TableInput, StoreError> {
    let columns = |columns: &[Column]| {
        columns
            .iter()
            .map(|c| {
                GlueColumn::builder()
                    .name(&c.name)
                    .r#type(&c.ty)
                    .comment(&c.comment)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let invalid = |e: aws_sdk_glue::error::BuildError| StoreError::Invalid {
        item: format!("Glue table {}", table.name),
        reason: e.to_string(),
    };
    let serde = SerDeInfo::builder()
        .serialization_library(table.format.serde())
        .set_parameters(Some(
            table
                .format
                .serde_parameters()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .build();
    let storage = StorageDescriptor::builder()
        .location(&table.location)
        .input_format("org.apache.hadoop.mapred.TextInputFormat")
        .output_format("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
        .serde_info(serde)
        .set_columns(Some(columns(&table.columns).map_err(invalid)?))
        .build();
    TableInput::builder()
        .name(&table.name)
        .description(&table.description)
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(table.parameters.clone().into_iter().collect()))
        .set_partition_keys(Some(columns(&table.partitions).map_err(invalid)?))
        .storage_descriptor(storage)
        .build()
        .map_err(invalid)
}
