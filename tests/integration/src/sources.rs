//! The streams of the tests that do not read Webex: a collector document over the
//! simulator's Graph, Secure Endpoint and general APIs, one stream of each (and of each
//! family, none under the family's bare name), each with an identity of its own whose secret
//! holds only what the credential needs.

use anyhow::Result;
use serde_json::json;
use webex_sim::{
    Api, DEFAULT_GENERAL_A_API_KEY, DEFAULT_GENERAL_B_PASSWORD, DEFAULT_GENERAL_B_USER,
    DEFAULT_GENERAL_C_CLIENT_ID, DEFAULT_GENERAL_C_CLIENT_SECRET, DEFAULT_GRAPH_CLIENT_ID,
    DEFAULT_GRAPH_CLIENT_SECRET, DEFAULT_GRAPH_TENANT, DEFAULT_SECURE_ENDPOINT_API_KEY,
    DEFAULT_SECURE_ENDPOINT_CLIENT_ID,
};

/// The streams, and the simulated API each reads.
pub const STREAMS: [(&str, Api); 6] = [
    ("entra-signins", Api::GraphSignIns),
    ("entra-audits", Api::GraphDirectoryAudits),
    ("secure-endpoint-eu", Api::SecureEndpoint),
    ("http-acme", Api::GeneralA),
    ("http-logs", Api::GeneralB),
    ("http-search", Api::GeneralC),
];

/// Their identities: names of their own, as the validator allows for these sources.
pub const IDENTITIES: [&str; 5] = ["entra-contoso", "amp", "acme", "logs", "search"];

/// The windows of [`document`]'s streams.
pub const WINDOWS: &str = "settle_lag = \"2m\"\noverlap = \"15m\"\nmax_window = \"6h\"";

/// The document, each identity's secret named `{prefix}/{identity}`; the APIs at `origin`.
pub fn document(origin: &str, prefix: &str) -> String {
    let names: Vec<&str> = STREAMS.iter().map(|(name, _)| *name).collect();
    document_of(origin, prefix, &names, WINDOWS)
}

/// The document with only the streams `names`, each with the window keys `windows`; every
/// identity either way.
pub fn document_of(origin: &str, prefix: &str, names: &[&str], windows: &str) -> String {
    const STREAM: &str = "\n[[streams]]\n";
    let whole = whole_document(origin, prefix, windows);
    let mut blocks = whole.split(STREAM);
    let mut text = blocks.next().unwrap_or_default().to_string();
    for block in blocks {
        if names
            .iter()
            .any(|name| block.starts_with(&format!("name = \"{name}\"")))
        {
            text.push_str(STREAM);
            text.push_str(block);
        }
    }
    text
}

fn whole_document(origin: &str, prefix: &str, windows: &str) -> String {
    let tenant = DEFAULT_GRAPH_TENANT;
    format!(
        r#"
[identities.entra-contoso]
kind = "oauth_client_credentials"
secret = "{prefix}/entra-contoso"
token_url = "{origin}/login/{tenant}/oauth2/v2.0/token"
scope = "https://graph.microsoft.com/.default"
max_requests_per_minute = 600

[identities.amp]
kind = "basic"
secret = "{prefix}/amp"
max_requests_per_minute = 600

[identities.acme]
kind = "api_key"
secret = "{prefix}/acme"
header = "X-Api-Key"
max_requests_per_minute = 600

[identities.logs]
kind = "basic"
secret = "{prefix}/logs"
max_requests_per_minute = 600

[identities.search]
kind = "oauth_client_credentials"
secret = "{prefix}/search"
token_url = "{origin}/gen-c/oauth/token"
max_requests_per_minute = 600

[[streams]]
name = "entra-signins"
source = "azure_graph"
identity = "entra-contoso"
resource = "auditLogs/signIns"
api_url = "{origin}/graph/v1.0"
page_size = 50
{windows}

[[streams]]
name = "entra-audits"
source = "azure_graph"
identity = "entra-contoso"
resource = "auditLogs/directoryAudits"
api_url = "{origin}/graph/v1.0"
page_size = 50
{windows}

[[streams]]
name = "secure-endpoint-eu"
source = "cisco_secure_endpoint"
identity = "amp"
api_url = "{origin}/amp"
page_size = 100
{windows}
[[streams]]
name = "http-acme"
source = "http"
identity = "acme"
page_size = 40
{windows}

[streams.request]
url = "{origin}/gen-a/api/v2/audit"
query = {{ since = "{{from}}", until = "{{to}}" }}
time_format = "rfc3339_ms"

[streams.paging]
kind = "next_url"
next = "next"
size_param = "page_size"
max_size = 200

[streams.items]
path = "results"
id = "id"
time = "occurred_at"

[[streams]]
name = "http-logs"
source = "http"
identity = "logs"
{windows}

[streams.request]
url = "{origin}/gen-b/rest/logs"
query = {{ start = "{{from}}", end = "{{to}}" }}
time_format = "epoch_s"

[streams.paging]
kind = "offset"
size_param = "limit"
offset_param = "offset"
max_size = 500

[streams.items]
path = "$"
id = ["source", "seq"]
time = "timestamp"
time_format = "epoch_ms"

[[streams]]
name = "http-search"
source = "http"
identity = "search"
page_size = 60
{windows}

[streams.request]
method = "POST"
url = "{origin}/gen-c/v1/events/search"
body = {{ from = "{{from}}", to = "{{to}}", limit = "{{page_size}}", cursor = "{{cursor}}" }}
time_format = "rfc3339_ms"

[streams.paging]
kind = "cursor"
cursor = "meta.next_cursor"
has_more = "meta.has_more"
max_size = 200

[streams.items]
path = "data.events"
id_hash = true
time = "occurred_at"
"#,
    )
}

/// Each identity's secret.
pub async fn create_secrets(sdk: &aws_config::SdkConfig, prefix: &str) -> Result<()> {
    let values = [
        json!({"client_id": DEFAULT_GRAPH_CLIENT_ID, "client_secret": DEFAULT_GRAPH_CLIENT_SECRET}),
        json!({"id": DEFAULT_SECURE_ENDPOINT_CLIENT_ID, "key": DEFAULT_SECURE_ENDPOINT_API_KEY}),
        json!({"key": DEFAULT_GENERAL_A_API_KEY}),
        json!({"id": DEFAULT_GENERAL_B_USER, "key": DEFAULT_GENERAL_B_PASSWORD}),
        json!({"client_id": DEFAULT_GENERAL_C_CLIENT_ID, "client_secret": DEFAULT_GENERAL_C_CLIENT_SECRET}),
    ];
    for (identity, value) in IDENTITIES.into_iter().zip(values) {
        crate::aws::create_secret(sdk, &format!("{prefix}/{identity}"), &value).await?;
    }
    Ok(())
}
