//! Streams that do not read Webex: the presets `azure_graph` and `cisco_secure_endpoint`, the
//! `http` source spelled out, the identity kinds they read with, and each mistake named by its
//! key path.

use collector_core::page::EventId;
use collector_core::source::{Body, Method, PagingKind, Placeholder};
use collector_core::time_format::TimeFormat;

use super::*;

const IDENTITIES: &str = r#"
[identities.entra]
kind = "oauth_client_credentials"
secret = "sources/entra"
tenant = "contoso.onmicrosoft.com"

[identities.amp]
kind = "basic"
secret = "sources/amp"

[identities.acme]
kind = "api_key"
secret = "sources/acme"
header = "X-Api-Key"

[identities.logs]
kind = "basic"
secret = "sources/logs"

[identities.search]
kind = "oauth_client_credentials"
secret = "sources/search"
token_url = "https://auth.search.example/oauth/token"
scope = "events.read"
form = { audience = "https://api.search.example" }
client_auth = "basic"
"#;

const GRAPH: &str = r#"
[[streams]]
name = "entra-signins"
source = "azure_graph"
identity = "entra"
resource = "auditLogs/signIns"
"#;

const SECURE_ENDPOINT: &str = r#"
[[streams]]
name = "secure-endpoint"
source = "cisco_secure_endpoint"
identity = "amp"
region = "eu"
event_types = ["1090519054"]
"#;

/// The three `general` shapes of the simulator: a next URL and an API key; offset paging,
/// Basic, a bare array and a two-part id; a cursor in a JSON body and no ids at all.
const NEXT_URL: &str = r#"
[[streams]]
name = "http-acme"
source = "http"
identity = "acme"

[streams.request]
url = "https://api.acme.example/api/v2/audit"
query = { since = "{from}", until = "{to}" }
headers = { Accept = "application/json" }
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
"#;

const OFFSET: &str = r#"
[[streams]]
name = "http-logs"
source = "http"
identity = "logs"
page_size = 100

[streams.request]
url = "https://logs.example/rest/logs"
query = { start = "{from}", end = "{to}" }
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

[streams.rate_limit]
reset = ["X-RateLimit-Reset"]
remaining = ["X-RateLimit-Remaining"]
"#;

const CURSOR: &str = r#"
[[streams]]
name = "http-search"
source = "http"
identity = "search"

[streams.request]
method = "POST"
url = "https://api.search.example/v1/events/search"
body = { from = "{from}", to = "{to}", limit = "{page_size}", cursor = "{cursor}" }

[streams.paging]
kind = "cursor"
cursor = "meta.next_cursor"
has_more = "meta.has_more"
max_size = 1000

[streams.items]
path = "data.events"
id_hash = true
time = "at"
"#;

fn all() -> String {
    [IDENTITIES, GRAPH, SECURE_ENDPOINT, NEXT_URL, OFFSET, CURSOR].concat()
}

fn parse(text: &str) -> Document {
    Document::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn presets_and_http_streams_become_sources_the_collector_reads() {
    let document = parse(&all());
    let spec = |name: &str| document.stream(name).unwrap().source.spec();

    let graph = spec("entra-signins");
    assert_eq!(graph.name, "azure_graph");
    assert!(
        graph
            .request
            .url
            .to_string()
            .ends_with("/v1.0/auditLogs/signIns")
    );
    let entra = document.identity("entra").unwrap();
    let IdentityKind::OauthClientCredentials(endpoint) = &entra.kind else {
        panic!("{entra:?}");
    };
    assert_eq!(
        endpoint.token_url,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(
        endpoint.form,
        [(
            "scope".to_string(),
            "https://graph.microsoft.com/.default".to_string()
        )]
    );
    assert_eq!(entra.max_requests_per_minute, 60, "not Webex's 280");

    let amp = spec("secure-endpoint");
    assert!(
        amp.request
            .url
            .to_string()
            .starts_with("https://api.eu.amp.cisco.com/")
    );
    assert!(amp.request.start_only);
    assert!(
        amp.request
            .query
            .iter()
            .any(|(name, value)| name == "event_type[]" && value.to_string() == "1090519054")
    );

    let acme = spec("http-acme");
    assert_eq!(
        acme.display, "api.acme.example",
        "messages name the API's host"
    );
    assert_eq!(acme.paging.kind, PagingKind::NextUrl);
    assert_eq!(acme.paging.params.size.as_deref(), Some("page_size"));
    assert_eq!(acme.request.time_format, TimeFormat::Rfc3339Ms);
    assert_eq!(
        acme.describe(),
        "GET https://api.acme.example/api/v2/audit?since={from}&until={to} · next_url $.next · \
         items $.results · id $.id · time $.occurred_at (rfc3339)"
    );
    assert_eq!(
        document.identity("acme").unwrap().kind,
        IdentityKind::ApiKey {
            header: "X-Api-Key".into(),
            prefix: String::new()
        }
    );

    let logs = spec("http-logs");
    assert_eq!(logs.paging.kind, PagingKind::Offset);
    let EventId::Paths(parts) = &logs.page.items().id else {
        panic!("{:?}", logs.page.items().id);
    };
    assert_eq!(parts.len(), 2);
    assert_eq!(logs.rate_limit.retry_after, ["Retry-After"]);
    assert_eq!(logs.rate_limit.reset, ["X-RateLimit-Reset"]);
    assert_eq!(document.stream("http-logs").unwrap().window.page_size, 100);

    let search = spec("http-search");
    assert_eq!(search.request.method, Method::Post);
    assert!(matches!(search.request.body, Some(Body::Json(_))));
    assert!(search.request.uses(Placeholder::Cursor));
    assert_eq!(search.page.items().id, EventId::Hash);
    let IdentityKind::OauthClientCredentials(endpoint) = &document.identity("search").unwrap().kind
    else {
        panic!("not client credentials");
    };
    assert!(endpoint.basic_auth);
    assert_eq!(
        endpoint.form,
        [
            ("scope".to_string(), "events.read".to_string()),
            (
                "audience".to_string(),
                "https://api.search.example".to_string()
            )
        ]
    );

    // Without orgs, each of these streams is one unit under organisation "-".
    for stream in &document.streams {
        assert_eq!(
            stream.orgs,
            Orgs::List(vec![NO_ORG.to_string()]),
            "{}",
            stream.name
        );
    }
}

/// `all()` with `from` replaced by `to` once: one mistake in an otherwise valid document.
fn with(from: &str, to: &str) -> String {
    let text = all();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

#[test]
fn each_mistake_in_a_source_is_named_by_its_key_path() {
    // (what is wrong, the document, the path, words of the problem)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "a JSON path that does not parse",
            with(
                "id = [\"source\", \"seq\"]",
                "id = [\"source\", \"data.[0]\"]",
            ),
            "streams[3].items.id[1]",
            "\"data.[0]\" is not a JSON path",
        ),
        (
            "the Logz.io habit: a bare @ name",
            with("next = \"next\"", "next = \"@odata.nextLink\""),
            "streams[2].paging.next",
            "is not a JSON path",
        ),
        (
            "{from} never used",
            with(
                "query = { since = \"{from}\", until = \"{to}\" }",
                "query = { until = \"{to}\" }",
            ),
            "streams[2].request",
            "{from} is never used, so the API would not be asked for a window",
        ),
        (
            "{to} never used",
            with(
                "query = { start = \"{from}\", end = \"{to}\" }",
                "query = { start = \"{from}\" }",
            ),
            "streams[3].request",
            "{to} is never used, so every request reads up to the present",
        ),
        (
            "an unknown placeholder",
            with("since = \"{from}\"", "since = \"{form}\""),
            "streams[2].request.query.since",
            "unknown placeholder {form}",
        ),
        (
            "paging without a next path",
            with("next = \"next\"\n", ""),
            "streams[2].paging.next",
            "is required with kind = \"next_url\": the JSON path of the next page's URL",
        ),
        (
            "a paging key of another kind",
            with(
                "offset_param = \"offset\"",
                "offset_param = \"offset\"\nnext = \"next\"",
            ),
            "streams[3].paging.next",
            "is not used with kind = \"offset\"; remove it, or set kind = \"next_url\"",
        ),
        (
            "a size parameter without the largest page",
            with("max_size = 200\n", ""),
            "streams[2].paging.max_size",
            "is required when paging.size_param or {page_size} is used",
        ),
        (
            "an unknown preset",
            with("source = \"azure_graph\"", "source = \"azure_grpah\""),
            "streams[0].source",
            "unknown source \"azure_grpah\" (did you mean azure_graph?)",
        ),
        (
            "a preset key on another source",
            with(
                "region = \"eu\"",
                "region = \"eu\"\nresource = \"auditLogs/signIns\"",
            ),
            "streams[1].resource",
            "only azure_graph streams take resource",
        ),
        (
            "a resource Graph does not list",
            with(
                "resource = \"auditLogs/signIns\"",
                "resource = \"auditLogs/signins\"",
            ),
            "streams[0].resource",
            "\"auditLogs/signins\" is not one of auditLogs/signIns, auditLogs/directoryAudits",
        ),
        (
            "an identity of the wrong kind",
            with("identity = \"amp\"", "identity = \"acme\""),
            "streams[1].identity",
            "\"acme\" is an api_key identity; cisco_secure_endpoint reads with a basic identity",
        ),
        (
            "credentials in headers",
            with(
                "headers = { Accept = \"application/json\" }",
                "headers = { Authorization = \"Bearer x\" }",
            ),
            "streams[2].request.headers.Authorization",
            "credentials come from the stream's identity; remove this header",
        ),
        (
            "plain http off this machine",
            with("https://api.acme.example", "http://api.acme.example"),
            "streams[2].request.url",
            "must be https:// (http:// is accepted only for 127.0.0.1, ::1 and localhost)",
        ),
        (
            "an id and a hash",
            with("id_hash = true", "id_hash = true\nid = \"id\""),
            "streams[4].items",
            "set id or id_hash = true, not both",
        ),
        (
            "scope and resource",
            with(
                "scope = \"events.read\"",
                "scope = \"events.read\"\nresource = \"x\"",
            ),
            "identities.search.resource",
            "give scope or resource, not both",
        ),
        (
            "secret material in the form",
            with(
                "form = { audience = \"https://api.search.example\" }",
                "form = { client_secret = \"hunter2\" }",
            ),
            "identities.search.form.client_secret",
            "belongs in the identity's secret, not the document",
        ),
        (
            "a stream name outside its source's family",
            with("name = \"entra-signins\"", "name = \"signins\""),
            "streams[0].name",
            "\"signins\": an azure_graph stream is named \"entra\" or begins with \"entra-\"",
        ),
        (
            "an http stream without its items",
            with(
                "[streams.items]\npath = \"results\"\nid = \"id\"\ntime = \"occurred_at\"\n",
                "",
            ),
            "streams[2].items",
            "is required with source = \"http\": add a [streams.items] table",
        ),
        (
            "two organisations and no {org}",
            with(
                "identity = \"acme\"\n",
                "identity = \"acme\"\norgs = [\"eu\", \"us\"]\n",
            ),
            "streams[2].orgs",
            "2 organisations are listed but {org} is never used",
        ),
        (
            "a Webex filter on another source",
            with("region = \"eu\"", "region = \"eu\"\ntypes = [\"created\"]"),
            "streams[1].types",
            "only Webex streams take this filter, not cisco_secure_endpoint",
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, path, words) in &cases {
        let errors = match Document::parse(text) {
            Ok(_) => {
                failures.push(format!("{what}: accepted"));
                continue;
            }
            Err(errors) => errors,
        };
        let shown = errors.to_string();
        let at_path = errors.iter().any(|e| e.path.as_deref() == Some(*path));
        if !(errors.len() == 1 && at_path && shown.contains(words)) {
            failures.push(format!(
                "{what}: expected one error at {path} saying {words:?}, got:\n{shown}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    // A value that looks like a secret is never repeated back.
    let errors = Document::parse(&with(
        "form = { audience = \"https://api.search.example\" }",
        "form = { client_secret = \"hunter2\" }",
    ))
    .unwrap_err();
    assert!(!errors.to_string().contains("hunter2"), "{errors}");
}

/// The TOML blocks of `docs/sources.md` between two of its headings, as one document; a
/// placeholder of the Logz.io page (`<<AZURE_AD_TENANT_ID>>`) as a plain value.
fn blocks_between(start: &str, end: &str) -> String {
    let page = include_str!("../../../../docs/sources.md");
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no heading {start}"));
    let to = from
        + page[from..]
            .find(end)
            .unwrap_or_else(|| panic!("no heading {end}"));
    let mut text = String::new();
    let mut inside = false;
    for line in page[from..to].lines() {
        match (inside, line.trim_start()) {
            (false, "```toml") => inside = true,
            (true, "```") => inside = false,
            (true, _) => {
                let mut line = line.to_string();
                while let (Some(open), Some(close)) = (line.find("<<"), line.find(">>")) {
                    let name = line[open + 2..close].to_ascii_lowercase().replace('_', "-");
                    line.replace_range(open..close + 2, &name);
                }
                text.push_str(&line);
                text.push('\n');
            }
            _ => {}
        }
    }
    text
}

#[test]
fn the_examples_of_docs_sources_md_are_valid_documents() {
    for (start, end, streams) in [
        ("## Identities", "### Request:", 1),
        ("## Presets", "## Names, deployment", 2),
        (
            "## The Logz.io fetcher's examples",
            "## What `webexctl config check`",
            4,
        ),
    ] {
        let text = blocks_between(start, end);
        let document = Document::parse(&text).unwrap_or_else(|e| panic!("{start}:\n{e}\n{text}"));
        assert_eq!(document.streams.len(), streams, "{start}");
    }
}
