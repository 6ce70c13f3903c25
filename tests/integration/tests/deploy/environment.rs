//! Which environment variables each function reads at cold start, asked of its own config
//! reader, and the check of a function's template environment against them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use collector_app::document_location::DocumentLocation;
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
const DOCUMENT: &str = collector_app::document_location::VARIABLE;

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
    let outcome = match (StreamId::parse(crate_name), crate_name) {
        (Some(stream), _) => {
            let outcome = Config::from_lookup(lookup)
                .map_err(WiringError::from)
                .and_then(|config| collector(stream, &config).map(drop))
                .map_err(|e| e.to_string())
                .and(document);
            let mut read = asked.take();
            for (name, value) in FILTER_SAMPLES {
                if read.contains(name) && !stream_takes(stream, env, name, value) {
                    read.remove(name);
                }
            }
            return Some(ColdStart { read, outcome });
        }
        (None, "oauth-callback") => IdentitiesConfig::from_lookup(lookup, None)
            .map(drop)
            .map_err(|e| e.to_string())
            .and(document),
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

/// Whether `stream` accepts the filter `name` (setting it on another stream is refused).
fn stream_takes(stream: StreamId, env: &BTreeMap<String, String>, name: &str, value: &str) -> bool {
    let mut env = env.clone();
    env.insert(name.to_string(), value.to_string());
    let refused = Config::from_lookup(|n| env.get(n).cloned())
        .map_err(WiringError::from)
        .and_then(|config| collector(stream, &config).map(drop));
    !matches!(refused, Err(WiringError::Config(e)) if e.name == name)
}

fn collector(stream: StreamId, config: &Config) -> Result<(), WiringError> {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(crate::template::REGION))
        .build();
    build_collector(stream, config, &sdk, Arc::new(SystemClock)).map(drop)
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
