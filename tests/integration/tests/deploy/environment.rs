//! Which environment variables each function reads at cold start, asked of its own config
//! reader, and the check of a function's template environment against them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use collector_app::document::Document;
use collector_app::document_location::DocumentLocation;
use collector_app::registrar::RegistrarConfig;
use collector_app::units::{Selection, StreamUnits};
use collector_app::webhooks::{ReceiverConfig, WriterConfig};
use collector_app::{Config, IdentitiesConfig, StreamId, WiringError, build_collector};
use collector_core::ports::SystemClock;

/// Read by the functions but rightly left unset on AWS.
pub const LOCAL_ONLY: [(&str, &str); 2] = [
    (
        "S3_FORCE_PATH_STYLE",
        "path-style S3 addressing is for local emulators",
    ),
    (
        "PAGE_SIZE",
        "the API's largest page is right on AWS; smaller ones only cost requests",
    ),
];

/// Where the collector document is. Every function reads it at cold start, from the process
/// environment rather than through the config readers below (`document_location::Opened::from_env`
/// in `live::Live::start`, which both `lambda::serve` and `callback::serve` start with); on AWS it
/// must name an S3 object, the template's `ConfigBucket`. The template's other variables are
/// checked as a new stack reads them: no document pushed yet, so they configure the function.
/// Except `http-sources`'s: without a document it has nothing to collect (and does not start),
/// so its variables are checked as a stack with [`SOURCES_DOCUMENT`] pushed reads them.
const DOCUMENT: &str = collector_app::document_location::VARIABLE;

/// Read by every collector's config reader, but said by the document for each stream that does
/// not read Webex (`units::stream_config`, `wiring::Parts::of_source`): the `http-sources`
/// function, whose streams are always a document's, rightly leaves them unset.
const DOCUMENT_SAYS: [(&str, &str); 7] = [
    (
        "TOKEN_SECRET_ID",
        "each stream's identity names its own secret",
    ),
    ("WEBEX_API_URL", "its sources' URLs are their own"),
    (
        "SETTLE_LAG_SECONDS",
        "a stream's settle_lag (the document's default where it sets none)",
    ),
    ("OVERLAP_SECONDS", "a stream's overlap"),
    ("MAX_WINDOW_SECONDS", "a stream's max_window"),
    ("MAX_WINDOW_EVENTS", "a stream's max_window_events"),
    (
        "MAX_REQUESTS_PER_MINUTE",
        "its identity's max_requests_per_minute",
    ),
];

/// A deployment's document with a stream of each source `http-sources` collects, each read with
/// an identity of its own whose secret is `{stack}/sources/{identity}`.
const SOURCES_DOCUMENT: &str = r#"
[identities.entra]
kind = "oauth_client_credentials"
secret = "webex-events/sources/entra"
tenant = "contoso.onmicrosoft.com"

[identities.amp]
kind = "basic"
secret = "webex-events/sources/amp"

[identities.acme]
kind = "api_key"
secret = "webex-events/sources/acme"
header = "X-Api-Key"

[[streams]]
name = "entra-signins"
source = "azure_graph"
identity = "entra"
resource = "auditLogs/signIns"

[[streams]]
name = "secure-endpoint"
source = "cisco_secure_endpoint"
identity = "amp"
region = "eu"

[[streams]]
name = "http-acme"
source = "http"
identity = "acme"

[streams.request]
url = "https://api.acme.example/api/v2/audit"
query = { since = "{from}", until = "{to}" }
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

/// A valid value of each stream filter: set on a stream that cannot apply it, it is refused.
const FILTER_SAMPLES: [(&str, &str); 5] = [
    ("EVENT_CATEGORIES", "LOGINS"),
    ("RESOURCES", "messages"),
    ("TYPES", "created"),
    ("ORG_IDS", "discover"),
    (
        "FANOUT_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/123456789012/queue",
    ),
];

/// What reading `env` at cold start asks for, and whether it configures the function.
#[derive(Debug)]
pub struct ColdStart {
    pub read: BTreeSet<String>,
    pub outcome: Result<(), String>,
}

/// The variables the function built from `crate_name` reads, given `env`; `None` for a crate
/// this test does not know how to start.
pub fn cold_start(crate_name: &str, env: &BTreeMap<String, String>) -> Option<ColdStart> {
    let asked = RefCell::new(BTreeSet::from([DOCUMENT.to_string()]));
    let document = document_location(env);
    let lookup = |name: &str| {
        asked.borrow_mut().insert(name.to_string());
        // The object it names is not there yet: the variables configure the function.
        (name != DOCUMENT).then(|| env.get(name).cloned()).flatten()
    };
    let outcome = match (selection_of(crate_name), crate_name) {
        (Some(selection), _) => {
            let outcome = Config::from_lookup(lookup)
                .map_err(WiringError::from)
                .and_then(|config| collector(selection, &config))
                .map_err(|e| e.to_string())
                .and(document);
            let mut read = asked.take();
            if selection == Selection::OtherSources {
                for (name, _) in DOCUMENT_SAYS {
                    read.remove(name);
                }
            }
            for (name, value) in FILTER_SAMPLES {
                if read.contains(name) && !takes(selection, env, name, value) {
                    read.remove(name);
                }
            }
            return Some(ColdStart { read, outcome });
        }
        (None, "oauth-callback") => IdentitiesConfig::from_lookup(lookup, None)
            .map(drop)
            .map_err(|e| e.to_string())
            .and(document),
        // The webhook functions read no document: what they need is in their variables and
        // their secret.
        (None, "webhook-receiver") => {
            asked.borrow_mut().remove(DOCUMENT);
            ReceiverConfig::from_lookup(lookup)
                .map(drop)
                .map_err(|e| e.to_string())
        }
        (None, "webhook-registrar") => RegistrarConfig::from_lookup(lookup, None)
            .map(drop)
            .map_err(|e| e.to_string())
            .and(document),
        (None, "webhook-writer") => {
            asked.borrow_mut().remove(DOCUMENT);
            WriterConfig::from_lookup(lookup)
                .map(drop)
                .map_err(|e| e.to_string())
        }
        (None, _) => return None,
    };
    Some(ColdStart {
        read: asked.take(),
        outcome,
    })
}

/// Whether `env`'s document location is one a Lambda can read: an S3 object. Unset, the
/// check of the variables reports it missing.
fn document_location(env: &BTreeMap<String, String>) -> Result<(), String> {
    let Some(text) = env.get(DOCUMENT) else {
        return Ok(());
    };
    match DocumentLocation::parse(text) {
        Ok(location) if location.bucket().is_some() => Ok(()),
        Ok(location) => Err(format!(
            "{DOCUMENT}: {location} is a file, which a Lambda does not have; s3://BUCKET/KEY"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// What the function built from `crate_name` collects, if it is a collector: one Webex preset's
/// streams, or (`http-sources`) every stream of the document that does not read Webex.
pub fn selection_of(crate_name: &str) -> Option<Selection> {
    match StreamId::parse(crate_name) {
        Some(stream) => Some(Selection::Webex(stream)),
        None => (crate_name == Selection::OtherSources.name()).then_some(Selection::OtherSources),
    }
}

/// Whether the function accepts the filter `name` (setting it on a stream that cannot apply it,
/// or beside a document, which says it per stream, is refused).
fn takes(selection: Selection, env: &BTreeMap<String, String>, name: &str, value: &str) -> bool {
    let mut env = env.clone();
    env.insert(name.to_string(), value.to_string());
    let refused = Config::from_lookup(|n| env.get(n).cloned())
        .map_err(WiringError::from)
        .and_then(|config| collector(selection, &config));
    !matches!(refused, Err(WiringError::Config(e)) if e.name == name)
}

/// What a cold start builds: a Webex preset's collector from the variables alone, or the units
/// of `http-sources` from the variables and [`SOURCES_DOCUMENT`].
fn collector(selection: Selection, config: &Config) -> Result<(), WiringError> {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(crate::template::REGION))
        .build();
    match selection {
        Selection::Webex(stream) => {
            build_collector(stream, config, &sdk, Arc::new(SystemClock)).map(drop)
        }
        Selection::OtherSources => {
            let document = Document::parse(SOURCES_DOCUMENT)
                .unwrap_or_else(|e| panic!("the sample document of the sources: {e}"));
            StreamUnits::configured(
                selection,
                config,
                Some(&document),
                &sdk,
                Arc::new(SystemClock),
            )
            .map(drop)
        }
    }
}

/// What is wrong with `env` (the template's, for the function built from `crate_name`): a
/// variable the function reads that is not set, one set that it does not read, or values it
/// refuses.
pub fn check_environment(crate_name: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let Some(start) = cold_start(crate_name, env) else {
        return vec![format!(
            "{crate_name}: no config reader known; add it to environment::cold_start"
        )];
    };
    let local_only: BTreeSet<&str> = LOCAL_ONLY.iter().map(|(name, _)| *name).collect();
    let mut problems = Vec::new();
    for name in &start.read {
        if !env.contains_key(name) && !local_only.contains(name.as_str()) {
            problems.push(format!(
                "{crate_name} reads {name}, which the template does not set"
            ));
        }
    }
    for name in env.keys() {
        if !start.read.contains(name) {
            problems.push(format!(
                "{crate_name} is set {name}, which it does not read"
            ));
        }
    }
    if let Err(e) = start.outcome {
        problems.push(format!("{crate_name} refuses the template's values: {e}"));
    }
    problems
}
