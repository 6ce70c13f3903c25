//! The document as its author meets it: one mistake at a time with the exact key path it is
//! reported at, several at once in document order, and a valid document's units of work.

use std::time::Duration;

use collector_core::StreamId;

use super::*;

const ORG_A: &str =
    "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8xZWI2NWZkZi05NjQzLTQxN2YtOTk3NC1hZDcyY2FlMGUxMGY";
const ORG_B: &str =
    "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8yYjdjOGEwZS0zZjRkLTRlNmEtOWMxYi01ZDhlN2Y2YTliMGM";

const IDENTITIES: &str = r#"
[identities.admin-partner]
kind = "webex_oauth"
secret = "webex/partner"

[identities.compliance]
kind = "webex_oauth"
secret = "webex/compliance"
"#;

/// A valid document whose second stream (`streams[1]`) is `stream`, and whose first is a
/// valid admin audit stream called `admin-audit`.
fn with_stream(stream: &str) -> String {
    format!(
        r#"{IDENTITIES}
[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "admin-partner"
orgs = "discover"

[[streams]]
{stream}
"#
    )
}

/// A valid admin audit stream with `extra` keys; a key of `extra` replaces the valid one.
fn admin(extra: &str) -> String {
    with_stream(&replacing(
        &format!(
            "name = \"admin-audit-two\"\nsource = \"webex_admin_audit\"\nidentity = \"admin-partner\"\n\
             orgs = [\"{ORG_A}\"]"
        ),
        extra,
    ))
}

/// A valid compliance stream with `extra` keys.
fn compliance(extra: &str) -> String {
    with_stream(&replacing(
        "name = \"compliance-events\"\nsource = \"webex_compliance_events\"\n\
         identity = \"compliance\"",
        extra,
    ))
}

/// The `key = value` lines of `base` whose key `extra` does not set, then `extra`.
fn replacing(base: &str, extra: &str) -> String {
    let key = |line: &str| line.split('=').next().unwrap_or("").trim().to_string();
    let set: Vec<String> = extra.lines().map(key).collect();
    let mut lines: Vec<&str> = base.lines().filter(|l| !set.contains(&key(l))).collect();
    lines.extend(extra.lines());
    lines.join("\n")
}

fn errors_of(text: &str) -> DocumentErrors {
    match Document::parse(text) {
        Ok(document) => panic!("accepted:\n{text}\n{document:#?}"),
        Err(errors) => errors,
    }
}

#[test]
fn the_helpers_make_valid_documents() {
    for text in [
        with_stream(
            "name = \"security-audit\"\nsource = \"webex_security_audit\"\nidentity = \"admin-partner\"\norgs = \"discover\"",
        ),
        admin(""),
        // Metadata `field-stream`: no clash with the contract's `stream`.
        admin("fields = { stream = \"x\" }"),
        compliance(&format!("orgs = [\"{ORG_A}\"]")),
    ] {
        if let Err(errors) = Document::parse(&text) {
            panic!("{errors}\n{text}");
        }
    }
}

#[test]
fn each_mistake_is_reported_at_its_key_path() {
    let orgs = format!("orgs = [\"{ORG_A}\"]");
    // (what is wrong, the document, the path, words of the problem)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "unknown top-level key",
            format!("colector = {{ key_prefix = \"x/\" }}\n{}", admin("")),
            "colector",
            "unknown key (did you mean collector?); expected one of collector, identities, streams",
        ),
        (
            "unknown key in a stream",
            admin("evry = \"5m\""),
            "streams[1].evry",
            "unknown key (did you mean every?); expected one of name, source, identity, orgs,",
        ),
        (
            "unknown key in an identity",
            format!(
                "{}\n[identities.extra]\nkind = \"webex_oauth\"\nsecret = \"x\"\nscope = \"a\"\n",
                admin("")
            ),
            "identities.extra.scope",
            "is not used with kind = \"webex_oauth\"; only oauth_client_credentials identities take it",
        ),
        (
            "unknown key in the collector table",
            format!("[collector]\nprefix = \"x/\"\n{}", admin("")),
            "collector.prefix",
            "expected one of key_prefix",
        ),
        (
            "unknown identity",
            admin("identity = \"partnr\""),
            "streams[1].identity",
            "no identity \"partnr\" (defined: admin-partner, compliance)",
        ),
        (
            "bad org id",
            admin(&format!("orgs = [\"{ORG_A}\", \"abc d\"]")),
            "streams[1].orgs[1]",
            "\"abc d\" is not a Webex organisation id (base64 of ciscospark://…/ORGANIZATION/…)",
        ),
        (
            "several org ids in one item",
            admin(&format!("orgs = [\"{ORG_A},{ORG_B}\"]")),
            "streams[1].orgs[0]",
            "holds several ids",
        ),
        (
            "duplicate org id",
            admin(&format!("orgs = [\"{ORG_A}\", \"{ORG_B}\", \"{ORG_A}\"]")),
            "streams[1].orgs[2]",
            "is already listed at orgs[0]",
        ),
        (
            "an org id without its brackets",
            admin(&format!("orgs = \"{ORG_A}\"")),
            "streams[1].orgs",
            "a list is written in brackets",
        ),
        (
            "no orgs at all",
            admin("orgs = []"),
            "streams[1].orgs",
            "is empty",
        ),
        (
            "interval in the wrong format",
            admin("every = \"5 minutes\""),
            "streams[1].every",
            "\"5 minutes\" is not a duration; write a whole number and a unit (s, m, h or d), e.g. \"90s\"",
        ),
        (
            "interval too short",
            admin("every = \"30s\""),
            "streams[1].every",
            "30s is less than the minimum, 1m",
        ),
        (
            "interval too long",
            admin("every = \"2d\""),
            "streams[1].every",
            "2d is more than the maximum, 1d",
        ),
        (
            "duplicate stream name",
            admin("name = \"admin-audit\""),
            "streams[1].name",
            "\"admin-audit\" is already the name of streams[0]",
        ),
        (
            "bad stream name",
            admin("name = \"Admin_Audit\""),
            "streams[1].name",
            "is not a stream name: 1 to 63 of a-z, 0-9 and -",
        ),
        (
            "stream name outside its source's family",
            admin("name = \"partner-audit\""),
            "streams[1].name",
            "\"partner-audit\": a webex_admin_audit stream is named \"admin-audit\" or begins with \"admin-audit-\"",
        ),
        (
            "identity outside the stream's family",
            format!(
                "{}\n[identities.compliance-legal]\nkind = \"webex_oauth\"\nsecret = \"legal\"\n",
                admin("identity = \"compliance-legal\"")
            ),
            "streams[1].identity",
            "\"compliance-legal\" cannot read a webex_admin_audit stream: its identity is named \"admin\" or begins with \"admin-\"",
        ),
        (
            "stream name too long",
            admin(&format!("name = \"{}\"", "a".repeat(64))),
            "streams[1].name",
            "is not a stream name",
        ),
        (
            "unknown source",
            admin("source = \"webex_admin\""),
            "streams[1].source",
            "unknown source \"webex_admin\"; one of http, azure_graph, cisco_secure_endpoint, webex_admin_audit, webex_security_audit, webex_compliance_events",
        ),
        (
            "missing source",
            with_stream(&format!(
                "name = \"x\"\nidentity = \"admin-partner\"\n{orgs}"
            )),
            "streams[1].source",
            "is required; one of http, azure_graph, cisco_secure_endpoint, webex_admin_audit",
        ),
        (
            "client credentials without a token endpoint",
            format!(
                "{}\n[identities.entra]\nkind = \"oauth_client_credentials\"\nsecret = \"entra\"\n",
                admin("")
            ),
            "identities.entra.token_url",
            "is required: the token endpoint's URL, or tenant = \"…\" for Microsoft Entra",
        ),
        (
            "unknown identity kind",
            format!(
                "{}\n[identities.x]\nkind = \"oauth\"\nsecret = \"x\"\n",
                admin("")
            ),
            "identities.x.kind",
            "unknown kind \"oauth\"; one of webex_oauth, oauth_client_credentials, basic, api_key",
        ),
        (
            "bad identity name",
            format!(
                "{}\n[identities.Partner]\nkind = \"webex_oauth\"\nsecret = \"x\"\n",
                admin("")
            ),
            "identities.Partner",
            "is not an identity name",
        ),
        (
            "two identities on one secret",
            format!(
                "{}\n[identities.again]\nkind = \"webex_oauth\"\nsecret = \"webex/partner\"\n",
                admin("")
            ),
            "identities.again.secret",
            "\"webex/partner\" is already the secret of identities.admin-partner",
        ),
        (
            "identity budget out of range",
            format!(
                "{}\n[identities.x]\nkind = \"webex_oauth\"\nsecret = \"x\"\nmax_requests_per_minute = 0\n",
                admin("")
            ),
            "identities.x.max_requests_per_minute",
            "0 is outside 1..=6000",
        ),
        (
            "filter the source does not take",
            admin("resources = [\"messages\"]"),
            "streams[1].resources",
            "webex_admin_audit does not take this filter; it takes event_categories",
        ),
        (
            "categories on compliance events",
            compliance(&format!("{orgs}\nevent_categories = [\"LOGINS\"]")),
            "streams[1].event_categories",
            "webex_compliance_events does not take this filter; it takes resources and types",
        ),
        (
            "unknown compliance resource",
            compliance(&format!("{orgs}\nresources = [\"messages\", \"chats\"]")),
            "streams[1].resources[1]",
            "\"chats\" is not a compliance resource; one of attachmentActions,",
        ),
        (
            "unknown compliance type",
            compliance(&format!("{orgs}\ntypes = [\"exploded\"]")),
            "streams[1].types[0]",
            "is not a compliance event type; one of created, updated, deleted, ended",
        ),
        (
            "one category twice",
            admin("event_categories = [\"LOGINS\", \"EventCategory.logins\"]"),
            "streams[1].event_categories[1]",
            "is already listed at event_categories[0]",
        ),
        (
            "compliance events discovering organisations",
            compliance("orgs = \"discover\""),
            "streams[1].orgs",
            "webex_compliance_events cannot discover organisations",
        ),
        (
            "compliance events for two organisations",
            compliance(&format!("orgs = [\"{ORG_A}\", \"{ORG_B}\"]")),
            "streams[1].orgs",
            "list that one organisation, not 2",
        ),
        (
            "bad fields key",
            admin("fields = { Team = \"secops\" }"),
            "streams[1].fields.Team",
            "\"Team\" is not a field name",
        ),
        (
            "a field value S3 cannot carry",
            admin("fields = { team = \"sécops\" }"),
            "streams[1].fields.team",
            "must be printable ASCII",
        ),
        (
            "fields too large for S3 metadata",
            admin(&format!("fields = {{ a = \"{}\" }}", "x".repeat(1100))),
            "streams[1].fields",
            "at most 1024 fit",
        ),
        (
            "fields_key replacing an event key",
            admin("fields = { team = \"x\" }\nfields_key = \"id\""),
            "streams[1].fields_key",
            "\"id\" is a key of every webex_admin_audit event",
        ),
        (
            "fields_key replacing created",
            admin("fields = { team = \"x\" }\nfields_key = \"created\""),
            "streams[1].fields_key",
            "\"created\" is a key of every webex_admin_audit event",
        ),
        (
            "fields_key without fields",
            admin("fields_key = \"collector\""),
            "streams[1].fields_key",
            "the stream has no fields",
        ),
        (
            "page larger than the source returns",
            admin("page_size = 500"),
            "streams[1].page_size",
            "500 is outside 1..=200, the largest page webex_admin_audit returns",
        ),
        (
            "page of nothing",
            admin("page_size = 0"),
            "streams[1].page_size",
            "0 is outside 1..=200",
        ),
        (
            "count split too small",
            admin("max_window_events = 10"),
            "streams[1].max_window_events",
            "10 is less than the minimum, 1000",
        ),
        (
            "overlap of nothing",
            admin("overlap = \"0s\""),
            "streams[1].overlap",
            "0s is less than the minimum, 1s",
        ),
        (
            "type error: a number for an interval",
            admin("every = 5"),
            "streams[1].every",
            "invalid type: integer `5`, expected a duration in quotes, e.g. \"90s\"",
        ),
        (
            "type error inside a list",
            admin(&format!("orgs = [\"{ORG_A}\", 5]")),
            "streams[1].orgs[1]",
            "invalid type: integer `5`, expected a string",
        ),
        (
            "type error: a table for orgs",
            admin("orgs = { all = true }"),
            "streams[1].orgs",
            "expected \"discover\" or a list of Webex organisation ids",
        ),
        (
            "type error: a string for a page size",
            admin("page_size = \"100\""),
            "streams[1].page_size",
            "invalid type: string \"100\"",
        ),
        (
            "type error: a number for a field",
            admin("fields = { team = 5 }"),
            "streams[1].fields.team",
            "invalid type: integer `5`",
        ),
        (
            "type error: identities as a list",
            format!("identities = [1]\n{}", admin("").replace(IDENTITIES, "")),
            "identities",
            "expected a table of identities: [identities.NAME], found an array",
        ),
        (
            "bad key prefix",
            format!("[collector]\nkey_prefix = \"logs\"\n{}", admin("")),
            "collector.key_prefix",
            "\"logs\" must be empty or end with \"/\"",
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, path, words) in &cases {
        let errors = errors_of(text);
        let shown = errors.to_string();
        let one = errors.len() == 1;
        let at_path = errors.iter().any(|e| e.path.as_deref() == Some(*path));
        if !(one && at_path && shown.contains(words)) {
            failures.push(format!(
                "{what}: expected one error at {path} saying {words:?}, got:\n{shown}"
            ));
        }
        assert!(
            shown.contains(&format!("{path}: ")),
            "{what}: the message does not start with its path: {shown}"
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn a_syntax_error_names_its_line_and_column() {
    let errors = errors_of("[identities.admin-partner]\nkind = \"webex_oauth\nsecret = \"x\"\n");
    assert_eq!(errors.len(), 1);
    let error = &errors.0[0];
    assert_eq!((error.path.as_deref(), error.line), (None, Some(2)));
    assert!(error.to_string().starts_with("line 2, column "), "{error}");
    // TOML itself refuses a key written twice.
    let errors = errors_of(&admin("every = \"5m\"\nevery = \"6m\""));
    assert!(errors.to_string().contains("duplicate key"), "{errors}");
}

#[test]
fn every_mistake_is_reported_in_document_order() {
    let text = format!(
        r#"
[identities.admin-partner]
kind = "oauth"
secret = "webex/partner"
colour = "blue"

[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "partnr"
orgs = ["{ORG_A}", "not an id"]
every = 5
page_size = 999

[[streams]]
name = "admin-audit"
source = "webex_nothing"
identity = "admin-partner"
orgs = "discover"
evry = "5m"
overlap = "a while"

[[streams]]
identity = "admin-partner"
orgs = []
"#
    );
    let errors = errors_of(&text);
    let paths: Vec<&str> = errors.iter().filter_map(|e| e.path.as_deref()).collect();
    assert_eq!(
        paths,
        [
            "identities.admin-partner.kind",
            "identities.admin-partner.colour",
            "streams[0].identity",
            "streams[0].orgs[1]",
            "streams[0].every",
            "streams[0].page_size",
            "streams[1].name",
            "streams[1].source",
            "streams[1].evry",
            "streams[1].overlap",
            "streams[2].name",
            "streams[2].source",
            "streams[2].orgs",
        ],
        "\n{errors}"
    );
    let lines: Vec<usize> = errors.iter().filter_map(|e| e.line).collect();
    assert!(lines.is_sorted(), "{lines:?}");
    assert_eq!(errors.to_string().lines().count(), paths.len());
    // The identity is defined, if wrongly: its streams are not also told it is missing.
    assert!(!errors.to_string().contains("no identity \"admin-partner\""));
}

#[test]
fn a_valid_document_resolves_its_units_of_work() {
    let text = format!(
        r#"
[collector]
key_prefix = ""

[identities.admin-partner]
kind = "webex_oauth"
secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:webex/partner-AbCdEf"
max_requests_per_minute = 120

[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "admin-partner"
orgs = ["{ORG_A}", "{ORG_B}"]
event_categories = ["EventCategory.LOGINS"]
fields = {{ team = "secops" }}
fields_key = "collector"

[[streams]]
name = "security-audit"
source = "webex_security_audit"
identity = "admin-partner"
orgs = "discover"
every = "90s"
settle_lag = "0s"
overlap = "1h"
max_window = "6h"
page_size = 500
max_window_events = 50000
"#
    );
    let document = Document::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(document.collector.key_prefix, "");
    let partner = document.identity("admin-partner").unwrap();
    assert_eq!(partner.kind, IdentityKind::WebexOauth);
    assert_eq!(partner.max_requests_per_minute, 120);

    let admin = document.stream("admin-audit").unwrap();
    assert_eq!(admin.source, Source::Preset(StreamId::AdminAudit));
    assert_eq!(admin.every, DEFAULT_EVERY);
    assert_eq!(admin.filters.event_categories, ["EventCategory.LOGINS"]);
    assert_eq!(admin.fields_key.as_deref(), Some("collector"));
    assert_eq!(admin.fields["team"], "secops");
    assert_eq!(
        admin.window,
        WindowSettings {
            settle_lag: Duration::from_secs(300),
            overlap: Duration::from_secs(900),
            max_window: Duration::from_secs(3600),
            page_size: 200,
            max_window_events: None,
            initial_lookback: None,
        }
    );
    let security = document.stream("security-audit").unwrap();
    assert_eq!(security.every, Duration::from_secs(90));
    assert_eq!(
        security.window,
        WindowSettings {
            settle_lag: Duration::ZERO,
            overlap: Duration::from_secs(3600),
            max_window: Duration::from_secs(6 * 3600),
            page_size: 500,
            max_window_events: Some(50_000),
            initial_lookback: None,
        }
    );

    let units: Vec<(&str, UnitOrg<'_>)> = document
        .units()
        .into_iter()
        .map(|u| (u.stream.name.as_str(), u.org))
        .collect();
    assert_eq!(
        units,
        [
            ("admin-audit", UnitOrg::Id(ORG_A)),
            ("admin-audit", UnitOrg::Id(ORG_B)),
            (
                "security-audit",
                UnitOrg::Discover {
                    identity: "admin-partner"
                }
            ),
        ]
    );
}

#[test]
fn the_sample_is_valid_and_shows_every_key() {
    let text = include_str!("../../../../infra/collector.sample.toml");
    let document = Document::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let units: Vec<(&str, &str, &str, String)> = document
        .units()
        .iter()
        .map(|u| {
            let org = match u.org {
                UnitOrg::Id(id) => id.to_string(),
                UnitOrg::Discover { identity } => format!("discover via {identity}"),
            };
            (
                u.stream.name.as_str(),
                u.stream.source.name(),
                u.stream.identity.as_str(),
                org,
            )
        })
        .collect();
    assert_eq!(
        units,
        [
            (
                "admin-audit-partner",
                "webex_admin_audit",
                "admin-partner",
                "discover via admin-partner".to_string()
            ),
            (
                "security-audit",
                "webex_security_audit",
                "admin",
                ORG_A.to_string()
            ),
            (
                "security-audit",
                "webex_security_audit",
                "admin",
                ORG_B.to_string()
            ),
            (
                "compliance-events",
                "webex_compliance_events",
                "compliance",
                ORG_A.to_string()
            ),
            ("entra-signins", "azure_graph", "entra", "-".to_string()),
            (
                "secure-endpoint",
                "cisco_secure_endpoint",
                "amp",
                "-".to_string()
            ),
            ("http-acme", "http", "acme", "-".to_string()),
            ("http-logs", "http", "amp", "eu".to_string()),
            ("http-logs", "http", "amp", "us".to_string()),
            ("http-search", "http", "search", "-".to_string()),
        ]
    );
    let names: Vec<&str> = document
        .identities
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "admin",
            "compliance",
            "admin-partner",
            "entra",
            "amp",
            "acme",
            "search",
            "legacy"
        ]
    );
    // Every key the document takes appears in the sample, so that it documents them all (a
    // stream's sub-tables as [streams.KEY]).
    for keys in [
        read::keys_of::<raw::RawCollector>(),
        read::keys_of::<raw::RawIdentity>(),
        read::keys_of::<raw::RawStream>(),
        read::keys_of::<raw::RawRequest>(),
        read::keys_of::<raw::RawPaging>(),
        read::keys_of::<raw::RawItems>(),
        read::keys_of::<raw::RawRateLimit>(),
    ] {
        for key in keys {
            assert!(
                text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(&format!("{key} = ")) || l == format!("[streams.{key}]")
                }),
                "the sample does not show {key}"
            );
        }
    }
}

#[test]
fn a_file_is_named_in_its_errors() {
    let missing = std::env::temp_dir().join("no-such-dir-webex/collector.toml");
    let error = Document::load(&missing).unwrap_err();
    assert!(matches!(error, LoadError::Read { .. }));
    assert!(
        error
            .to_string()
            .contains("no-such-dir-webex/collector.toml"),
        "{error}"
    );
}
