//! The Glue tables of a document's streams (`webexctl config tables`). The template cannot know
//! the streams a document names, so `webexctl` writes one table per stream the template has
//! none for, named by the stream (`entra-signins` → `entra_signins`): typed columns where the
//! source's items are known (Graph's signIn and directoryAudit, Secure Endpoint's event), one
//! `line` column otherwise; and `stream_fields`, the custom fields of every stream that writes
//! them on its lines (`fields_key`), whatever its source.

use std::collections::{BTreeMap, BTreeSet};

use collector_core::source::azure_graph::Resource;
use collector_core::table::{Column, Format, OURS, Table};

use crate::document::{Document, Orgs, Source, Stream};

/// The template's table of every other source's lines: it says where the deployment's objects
/// lie and from which date Athena projects them.
pub const RAW_TABLE: &str = "http_sources_raw";
/// The custom fields of every stream with `fields_key`.
pub const FIELDS_TABLE: &str = "stream_fields";

/// Where the deployment's objects lie and from which date Athena projects them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// `s3://BUCKET/`: the stack's events bucket.
    pub bucket: String,
    /// The stack's `OutputPrefix`.
    pub prefix: String,
    /// `projection.dt.range`: `YYYY-MM-DD,NOW`.
    pub dt_range: String,
}

const RAW_TEMPLATE_END: &str = "${stream}/org=${org}/dt=${dt}/hour=${hour}/";

impl Deployment {
    /// The deployment as its table [`RAW_TABLE`] describes it, from that table's parameters.
    pub fn of_raw_table(parameters: &BTreeMap<String, String>) -> Result<Self, String> {
        let parameter = |name: &str| {
            parameters
                .get(name)
                .ok_or_else(|| format!("table {RAW_TABLE} has no parameter {name}"))
        };
        let template = parameter("storage.location.template")?;
        let place = template
            .strip_suffix(RAW_TEMPLATE_END)
            .and_then(|place| place.strip_prefix("s3://"))
            .and_then(|place| place.split_once('/'))
            .ok_or_else(|| {
                format!(
                    "table {RAW_TABLE}: storage.location.template {template:?} is not \
                     s3://BUCKET/PREFIX{RAW_TEMPLATE_END}"
                )
            })?;
        Ok(Self {
            bucket: format!("s3://{}/", place.0),
            prefix: place.1.to_string(),
            dt_range: parameter("projection.dt.range")?.clone(),
        })
    }
}

/// The tables `document`'s streams need in `deployment`, or every reason they cannot be made.
pub fn tables(document: &Document, deployment: &Deployment) -> Result<Vec<Table>, Vec<String>> {
    let key_prefix = &document.collector.key_prefix;
    if *key_prefix != deployment.prefix {
        return Err(vec![format!(
            "collector.key_prefix is {key_prefix:?} and the deployment's OutputPrefix {:?} \
             (table {RAW_TABLE}): its tables would read no object; push the document to the \
             deployment it is for",
            deployment.prefix
        )]);
    }
    let mut problems = Vec::new();
    let mut tables = Vec::new();
    for (i, stream) in document.streams.iter().enumerate() {
        // The column is the key itself (the document allows only lower case).
        let key = stream.fields_key.clone();
        if let Some(key) = &key
            && !is_column_name(key)
        {
            problems.push(format!(
                "streams[{i}].fields_key: {key:?} is not a Glue column name (letters, digits \
                 and _): Athena could not read it"
            ));
            continue;
        }
        let Some((format, known)) = columns_of(stream) else {
            continue;
        };
        let mut columns: Vec<Column> = known
            .iter()
            .map(|(name, ty, comment)| Column::new(*name, *ty, *comment))
            .collect();
        if format == Format::Json
            && let Some(key) = key
        {
            if columns.iter().any(|c| c.name == key) {
                problems.push(format!(
                    "streams[{i}].fields_key: {key:?} is also a key of the {} items, so \
                     Athena would read the two as one column; choose another, e.g. \"collector\"",
                    stream.source.name()
                ));
                continue;
            }
            columns.push(Column::new(key, FIELDS_TYPE, "the stream's fields"));
        }
        tables.push(stream_table(stream, format, columns, deployment));
    }
    tables.extend(fields_table(document, deployment));
    if problems.is_empty() {
        Ok(tables)
    } else {
        Err(problems)
    }
}

/// The name of `stream`'s table.
pub fn table_name(stream: &str) -> String {
    stream.replace('-', "_")
}

const FIELDS_TYPE: &str = "map<string,string>";

fn is_column_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

type Known = &'static [(&'static str, &'static str, &'static str)];

/// How `stream`'s lines read, and the columns known for its source; `None` when the template
/// has a table for it (a Webex preset under its own name).
fn columns_of(stream: &Stream) -> Option<(Format, Known)> {
    match &stream.source {
        Source::Preset(id) if stream.name == id.name() => None,
        Source::AzureGraph {
            resource: Resource::SignIns,
            ..
        } => Some((Format::Json, SIGN_IN)),
        Source::AzureGraph {
            resource: Resource::DirectoryAudits,
            ..
        } => Some((Format::Json, DIRECTORY_AUDIT)),
        Source::SecureEndpoint { .. } => Some((Format::Json, SECURE_ENDPOINT_EVENT)),
        Source::Preset(_) | Source::Http(_) => Some((Format::Lines, LINE)),
    }
}

fn stream_table(
    stream: &Stream,
    format: Format,
    columns: Vec<Column>,
    deployment: &Deployment,
) -> Table {
    let place = format!("{}{}{}/", deployment.bucket, deployment.prefix, stream.name);
    let mut parameters = projection(deployment, org_projection([stream]));
    parameters.insert(
        "storage.location.template".into(),
        format!("{place}org=${{org}}/dt=${{dt}}/hour=${{hour}}/"),
    );
    if format == Format::Json {
        parameters.insert("classification".into(), "json".into());
    }
    parameters.insert(OURS.into(), stream.name.clone());
    Table {
        name: table_name(&stream.name),
        description: format!(
            "Events of the stream {} ({}), one row per event; written by webexctl config tables.",
            stream.name,
            stream.source.name()
        ),
        location: place,
        format,
        columns,
        partitions: vec![org_partition(), dt_partition(), hour_partition()],
        parameters,
    }
}

/// One table over every stream with `fields_key`: a `map<string,string>` column per key.
fn fields_table(document: &Document, deployment: &Deployment) -> Option<Table> {
    let streams: Vec<&Stream> = document
        .streams
        .iter()
        .filter(|s| s.fields_key.is_some())
        .collect();
    let keys: BTreeSet<String> = streams
        .iter()
        .filter_map(|s| s.fields_key.clone())
        .collect();
    if keys.is_empty() {
        return None;
    }
    let place = format!("{}{}", deployment.bucket, deployment.prefix);
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    let mut parameters = projection(deployment, org_projection(streams.iter().copied()));
    parameters.insert("projection.stream.type".into(), "enum".into());
    parameters.insert("projection.stream.values".into(), names.join(","));
    parameters.insert(
        "storage.location.template".into(),
        format!("{place}{RAW_TEMPLATE_END}"),
    );
    parameters.insert("classification".into(), "json".into());
    parameters.insert(OURS.into(), names.join(","));
    Some(Table {
        name: FIELDS_TABLE.into(),
        description: "The custom fields of every stream that writes them on its lines \
                      (fields_key), whatever its source; written by webexctl config tables."
            .into(),
        location: place,
        format: Format::Json,
        columns: keys
            .into_iter()
            .map(|key| Column::new(key, FIELDS_TYPE, "the stream's fields"))
            .collect(),
        partitions: vec![
            Column::new(
                "stream",
                "string",
                "the stream's name in the collector document",
            ),
            org_partition(),
            dt_partition(),
            hour_partition(),
        ],
        parameters,
    })
}

/// The organisation's projection: the listed ids, so a query need not name one; injected
/// (named in every query) when they are discovered at run time or an id holds a comma.
fn org_projection<'a>(streams: impl IntoIterator<Item = &'a Stream>) -> Option<String> {
    let mut ids = BTreeSet::new();
    for stream in streams {
        match &stream.orgs {
            Orgs::List(list) => ids.extend(list.iter().map(String::as_str)),
            Orgs::Discover => return None,
        }
    }
    let ids: Vec<&str> = ids.into_iter().collect();
    (!ids.iter().any(|id| id.contains(','))).then(|| ids.join(","))
}

fn projection(deployment: &Deployment, orgs: Option<String>) -> BTreeMap<String, String> {
    let mut parameters: BTreeMap<String, String> = [
        ("projection.enabled", "true"),
        ("projection.dt.type", "date"),
        ("projection.dt.format", "yyyy-MM-dd"),
        ("projection.dt.range", &deployment.dt_range),
        ("projection.dt.interval", "1"),
        ("projection.dt.interval.unit", "DAYS"),
        ("projection.hour.type", "integer"),
        ("projection.hour.range", "0,23"),
        ("projection.hour.digits", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    match orgs {
        Some(values) => {
            parameters.insert("projection.org.type".into(), "enum".into());
            parameters.insert("projection.org.values".into(), values);
        }
        None => {
            parameters.insert("projection.org.type".into(), "injected".into());
        }
    }
    parameters
}

fn org_partition() -> Column {
    Column::new(
        "org",
        "string",
        "the unit's organisation; - for a stream without organisations",
    )
}

fn dt_partition() -> Column {
    Column::new(
        "dt",
        "string",
        "UTC date of the collection window (YYYY-MM-DD)",
    )
}

fn hour_partition() -> Column {
    Column::new(
        "hour",
        "string",
        "UTC hour of the collection window (00-23)",
    )
}

const LINE: Known = &[(
    "line",
    "string",
    "the event, one JSON text as the API returned it",
)];

// Columns are the items' keys in lowercase (the JSON SerDe matches them without case); times
// stay strings, read with from_iso8601_timestamp(), because their precision varies.

/// Microsoft Graph v1.0 `signIn`.
const SIGN_IN: Known = &[
    ("id", "string", "sign-in id"),
    (
        "createddatetime",
        "string",
        "when it happened, ISO 8601 UTC",
    ),
    ("userdisplayname", "string", ""),
    ("userprincipalname", "string", ""),
    ("userid", "string", ""),
    ("appid", "string", "the application signed in to"),
    ("appdisplayname", "string", ""),
    ("ipaddress", "string", ""),
    ("clientappused", "string", ""),
    ("correlationid", "string", ""),
    (
        "conditionalaccessstatus",
        "string",
        "success, failure or notApplied",
    ),
    ("isinteractive", "boolean", ""),
    ("riskdetail", "string", ""),
    ("risklevelaggregated", "string", ""),
    ("risklevelduringsignin", "string", ""),
    ("riskstate", "string", ""),
    ("riskeventtypes", "array<string>", ""),
    ("riskeventtypes_v2", "array<string>", ""),
    ("resourcedisplayname", "string", ""),
    ("resourceid", "string", ""),
    (
        "status",
        "struct<errorcode:int,failurereason:string,additionaldetails:string>",
        "errorCode 0 is a success",
    ),
    (
        "devicedetail",
        "struct<deviceid:string,displayname:string,operatingsystem:string,browser:string,iscompliant:boolean,ismanaged:boolean,trusttype:string>",
        "",
    ),
    (
        "location",
        "struct<city:string,state:string,countryorregion:string,geocoordinates:struct<altitude:double,latitude:double,longitude:double>>",
        "",
    ),
    (
        "appliedconditionalaccesspolicies",
        "array<struct<id:string,displayname:string,enforcedgrantcontrols:array<string>,enforcedsessioncontrols:array<string>,result:string>>",
        "",
    ),
];

/// Microsoft Graph v1.0 `directoryAudit`.
const DIRECTORY_AUDIT: Known = &[
    ("id", "string", "audit record id"),
    ("category", "string", ""),
    ("correlationid", "string", ""),
    (
        "result",
        "string",
        "success, failure, timeout or unknownFutureValue",
    ),
    ("resultreason", "string", ""),
    ("activitydisplayname", "string", ""),
    (
        "activitydatetime",
        "string",
        "when it happened, ISO 8601 UTC",
    ),
    ("loggedbyservice", "string", ""),
    ("operationtype", "string", ""),
    (
        "initiatedby",
        "struct<app:struct<appid:string,displayname:string,serviceprincipalid:string,serviceprincipalname:string>,user:struct<id:string,displayname:string,userprincipalname:string,ipaddress:string>>",
        "the user or the application that acted",
    ),
    (
        "targetresources",
        "array<struct<id:string,displayname:string,type:string,userprincipalname:string,grouptype:string,modifiedproperties:array<struct<displayname:string,oldvalue:string,newvalue:string>>>>",
        "",
    ),
    (
        "additionaldetails",
        "array<struct<key:string,value:string>>",
        "",
    ),
];

/// Cisco Secure Endpoint `GET /v1/events` item. The id is above 2^53: `bigint` keeps every
/// digit, where a double would not.
const SECURE_ENDPOINT_EVENT: Known = &[
    ("id", "bigint", "event id, exact"),
    ("timestamp", "bigint", "when it happened, epoch seconds"),
    ("timestamp_nanoseconds", "bigint", ""),
    ("date", "string", "when it happened, ISO 8601 with offset"),
    ("event_type", "string", ""),
    ("event_type_id", "bigint", ""),
    ("detection", "string", ""),
    ("detection_id", "string", ""),
    ("connector_guid", "string", ""),
    ("group_guids", "array<string>", ""),
    ("severity", "string", ""),
    (
        "computer",
        "struct<connector_guid:string,hostname:string,external_ip:string,user:string,active:boolean,network_addresses:array<struct<ip:string,mac:string>>>",
        "",
    ),
    (
        "file",
        "struct<disposition:string,file_name:string,file_path:string,identity:struct<sha256:string,sha1:string,md5:string>,parent:struct<process_id:bigint,disposition:string,file_name:string,identity:struct<sha256:string,sha1:string,md5:string>>>",
        "",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r#"
[identities.entra]
kind = "oauth_client_credentials"
secret = "s/entra"
tenant = "contoso.onmicrosoft.com"

[identities.amp]
kind = "basic"
secret = "s/amp"

[[streams]]
name = "entra-signins"
source = "azure_graph"
identity = "entra"
resource = "auditLogs/signIns"
fields = { team = "secops" }
fields_key = "collector"

[[streams]]
name = "secure-endpoint"
source = "cisco_secure_endpoint"
identity = "amp"
region = "eu"
"#;

    fn deployment() -> Deployment {
        Deployment::of_raw_table(&BTreeMap::from([
            (
                "storage.location.template".to_string(),
                "s3://events/webex/${stream}/org=${org}/dt=${dt}/hour=${hour}/".to_string(),
            ),
            (
                "projection.dt.range".to_string(),
                "2025-01-01,NOW".to_string(),
            ),
        ]))
        .unwrap()
    }

    #[test]
    fn the_deployment_is_read_from_its_raw_table() {
        assert_eq!(
            deployment(),
            Deployment {
                bucket: "s3://events/".into(),
                prefix: "webex/".into(),
                dt_range: "2025-01-01,NOW".into(),
            }
        );
        let elsewhere = BTreeMap::from([
            (
                "storage.location.template".to_string(),
                "s3://events/x/".to_string(),
            ),
            (
                "projection.dt.range".to_string(),
                "2025-01-01,NOW".to_string(),
            ),
        ]);
        let error = Deployment::of_raw_table(&elsewhere).unwrap_err();
        assert!(error.contains("is not s3://BUCKET/PREFIX"), "{error}");
    }

    #[test]
    fn each_stream_gets_a_table_named_by_it_over_its_own_objects() {
        let document = Document::parse(DOCUMENT).unwrap();

        let tables = tables(&document, &deployment()).unwrap();

        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["entra_signins", "secure_endpoint", "stream_fields"]);
        let signins = &tables[0];
        assert_eq!(signins.location, "s3://events/webex/entra-signins/");
        assert_eq!(
            signins.parameters["storage.location.template"],
            "s3://events/webex/entra-signins/org=${org}/dt=${dt}/hour=${hour}/"
        );
        // A stream without organisations has one, "-": projected, so queries need not say it.
        assert_eq!(signins.parameters["projection.org.type"], "enum");
        assert_eq!(signins.parameters["projection.org.values"], "-");
        assert_eq!(signins.parameters[OURS], "entra-signins");
        assert_eq!(signins.format, Format::Json);
        let last = signins.columns.last().unwrap();
        assert_eq!(
            (last.name.as_str(), last.ty.as_str()),
            ("collector", FIELDS_TYPE)
        );
        // Without fields_key the stream has no fields column, and it is not in stream_fields.
        let endpoint = &tables[1];
        assert_eq!(
            endpoint.columns[0],
            Column::new("id", "bigint", "event id, exact")
        );
        assert!(!endpoint.columns.iter().any(|c| c.ty == FIELDS_TYPE));
        let fields = &tables[2];
        assert_eq!(fields.location, "s3://events/webex/");
        assert_eq!(
            fields.parameters["projection.stream.values"],
            "entra-signins"
        );
        assert_eq!(
            fields.columns,
            [Column::new("collector", FIELDS_TYPE, "the stream's fields")]
        );
    }

    #[test]
    fn a_document_for_another_prefix_or_a_fields_key_that_is_a_column_is_refused() {
        let other_prefix =
            Document::parse(&format!("[collector]\nkey_prefix = \"audit/\"\n{DOCUMENT}")).unwrap();
        let problems = tables(&other_prefix, &deployment()).unwrap_err();
        assert!(problems[0].contains("\"audit/\""), "{problems:?}");

        let clash = Document::parse(&format!(
            "{DOCUMENT}fields = {{ a = \"b\" }}\nfields_key = \"severity\"\n"
        ))
        .unwrap();
        let problems = tables(&clash, &deployment()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("streams[1].fields_key: \"severity\" is also a key"),
            "{problems:?}"
        );

        // The document allows `-` in a key; Athena does not in a column name.
        let hyphen = Document::parse(&DOCUMENT.replace("\"collector\"", "\"our-fields\"")).unwrap();
        let problems = tables(&hyphen, &deployment()).unwrap_err();
        assert!(
            problems[0].starts_with("streams[0].fields_key: \"our-fields\" is not a Glue column"),
            "{problems:?}"
        );
    }
}
