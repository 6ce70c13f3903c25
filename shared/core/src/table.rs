//! The Glue tables that read streams' objects: the reader's side of the object layout, and the
//! one rule for keeping them in a catalogue that others share. A table we made carries
//! [`OURS`]; any other table is never changed, whatever its name, and a table of ours whose
//! stream has left the document is reported, never deleted (its objects are still there).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use crate::ports::StoreError;

/// The table parameter that marks a table as written by `webexctl`; its value says for what.
pub const OURS: &str = "webex_events_to_s3.for";

/// One Glue table over objects of the layout `{location}…/dt=…/hour=…/`, read through
/// partition projection (no crawler, no partitions to add).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub description: String,
    /// `s3://BUCKET/PREFIX…/`, where every object of the table lies.
    pub location: String,
    pub format: Format,
    pub columns: Vec<Column>,
    pub partitions: Vec<Column>,
    /// Projection and the rest, with [`OURS`] among them.
    pub parameters: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// As Glue spells it: `string`, `array<struct<id:string>>`, ...
    pub ty: String,
    pub comment: String,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: impl Into<String>, comment: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ty: ty.into(),
            comment: comment.into(),
        }
    }
}

/// How a line becomes a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Hive JSON SerDe: one column per key, matched without case.
    Json,
    /// The text SerDe: the whole line is the one column, for the JSON functions.
    Lines,
}

impl Format {
    pub const fn serde(self) -> &'static str {
        match self {
            Format::Json => "org.apache.hive.hcatalog.data.JsonSerDe",
            Format::Lines => "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        }
    }

    /// The SerDe's parameters: for lines, the field delimiter `\001` (`serialization.format`
    /// 1), a byte that JSON text never holds unescaped, so a line is never cut.
    pub fn serde_parameters(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::Json => &[],
            Format::Lines => &[("serialization.format", "1")],
        }
    }
}

/// A database's tables as [`keep`] needs them.
pub trait Catalog: Send + Sync {
    /// Every table of the database, by name, with its parameters.
    fn tables(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, BTreeMap<String, String>>, StoreError>> + Send;

    fn create(&self, table: &Table) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn replace(&self, table: &Table) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What [`keep`] did, by table name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Kept {
    pub created: Vec<String>,
    pub replaced: Vec<String>,
    /// Wanted, but a table of that name is someone else's: left as it is.
    pub foreign: Vec<String>,
    /// Ours, for a stream the document no longer has: left in place.
    pub left: Vec<String>,
}

/// Creates each of `tables` that is missing and replaces each that is ours, so that a
/// column or projection changed in the document takes effect; touches nothing else.
/// `existing` is the catalogue's [`Catalog::tables`], read once by the caller.
pub async fn keep(
    catalog: &impl Catalog,
    existing: &BTreeMap<String, BTreeMap<String, String>>,
    tables: &[Table],
) -> Result<Kept, StoreError> {
    let mut kept = Kept::default();
    for table in tables {
        match existing.get(&table.name) {
            None => {
                catalog.create(table).await?;
                kept.created.push(table.name.clone());
            }
            Some(parameters) if parameters.contains_key(OURS) => {
                catalog.replace(table).await?;
                kept.replaced.push(table.name.clone());
            }
            Some(_) => kept.foreign.push(table.name.clone()),
        }
    }
    let wanted: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    kept.left = existing
        .iter()
        .filter(|(name, parameters)| {
            parameters.contains_key(OURS) && !wanted.contains(name.as_str())
        })
        .map(|(name, _)| name.clone())
        .collect();
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<BTreeMap<String, Table>>);

    impl Catalog for Memory {
        async fn tables(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, StoreError> {
            let tables = self.0.lock().unwrap();
            Ok(tables
                .iter()
                .map(|(name, t)| (name.clone(), t.parameters.clone()))
                .collect())
        }

        async fn create(&self, table: &Table) -> Result<(), StoreError> {
            let previous = self
                .0
                .lock()
                .unwrap()
                .insert(table.name.clone(), table.clone());
            assert!(previous.is_none(), "created over {}", table.name);
            Ok(())
        }

        async fn replace(&self, table: &Table) -> Result<(), StoreError> {
            let previous = self
                .0
                .lock()
                .unwrap()
                .insert(table.name.clone(), table.clone());
            assert!(previous.is_some(), "replaced a missing {}", table.name);
            Ok(())
        }
    }

    fn table(name: &str, ours: bool, comment: &str) -> Table {
        let mut parameters = BTreeMap::from([("classification".into(), "json".into())]);
        if ours {
            parameters.insert(OURS.into(), name.into());
        }
        Table {
            name: name.into(),
            description: String::new(),
            location: format!("s3://b/webex/{name}/"),
            format: Format::Json,
            columns: vec![Column::new("id", "string", comment)],
            partitions: vec![],
            parameters,
        }
    }

    #[tokio::test]
    async fn creates_the_missing_replaces_ours_and_leaves_every_other_table_alone() {
        let catalog = Memory::default();
        for t in [
            table("entra_signins", true, "old"),
            table("admin_audit", false, "the template's"),
            table("gone_stream", true, "a stream no longer in the document"),
            table("someone_elses", false, "not ours"),
        ] {
            catalog.0.lock().unwrap().insert(t.name.clone(), t);
        }
        let wanted = [
            table("entra_signins", true, "new"),
            table("http_acme", true, "new"),
            table("admin_audit", true, "ours would replace the template's"),
        ];

        let existing = catalog.tables().await.unwrap();
        let kept = keep(&catalog, &existing, &wanted).await.unwrap();

        assert_eq!(
            kept,
            Kept {
                created: vec!["http_acme".into()],
                replaced: vec!["entra_signins".into()],
                foreign: vec!["admin_audit".into()],
                left: vec!["gone_stream".into()],
            }
        );
        let tables = catalog.0.lock().unwrap();
        assert_eq!(tables["entra_signins"], wanted[0]);
        assert_eq!(tables["http_acme"], wanted[1]);
        assert_eq!(
            tables["admin_audit"],
            table("admin_audit", false, "the template's")
        );
        assert!(tables.contains_key("gone_stream") && tables.contains_key("someone_elses"));
    }
}
