//! `[identities.NAME]`: named credentials, each in a secret of its own.

use std::collections::HashMap;

use collector_core::identity::{IDENTITY_NAME_RULE, is_identity_name};
use toml::Spanned;
use toml::de::DeValue;

use super::errors::{Errors, key_path};
use super::raw::RawIdentity;
use super::read::read_table;
use super::validate::{Table, as_table};
use super::{Identity, IdentityKind};
use crate::config::DEFAULT_MAX_REQUESTS_PER_MINUTE;

/// Kinds DESIGN §7 names that a later version supports: refused with a clearer word than
/// "unknown".
const LATER_KINDS: [&str; 3] = ["oauth_client_credentials", "basic", "api_key"];
/// As `MAX_REQUESTS_PER_MINUTE` of the environment.
const MAX_REQUESTS_PER_MINUTE: i64 = 6000;

/// Each identity by name, `None` beside the name of one that failed its checks; `None` if
/// `identities` is not a table.
pub(super) fn read_identities(
    value: &Spanned<DeValue<'_>>,
    errors: &mut Errors<'_>,
) -> Option<Vec<(String, Option<Identity>)>> {
    let table = as_table(
        "identities",
        value,
        "a table of identities: [identities.NAME]",
        errors,
    )?;
    // Two identities on one secret would refresh one rotating token under two locks.
    let mut secrets: HashMap<String, String> = HashMap::new();
    let mut identities = Vec::new();
    for (key, value) in table {
        let name: &str = key.get_ref();
        let path = key_path("identities", name);
        let mut identity = None;
        // The rule `--identity` and the token lock's item name follow too.
        if !is_identity_name(name) {
            errors.at(
                &path,
                key.span(),
                format!("{name:?} is not an identity name: {IDENTITY_NAME_RULE}"),
            );
        } else if let Some(table) = as_table(&path, value, "a table: [identities.NAME]", errors) {
            identity =
                read_table::<RawIdentity>(&path, value.span(), table, errors).and_then(|read| {
                    let table = Table {
                        path: path.clone(),
                        span: value.span(),
                        read: &read,
                    };
                    identity_of(name, &table, &mut secrets, errors)
                });
        }
        identities.push((name.to_string(), identity));
    }
    Some(identities)
}

fn identity_of(
    name: &str,
    table: &Table<'_, RawIdentity>,
    secrets: &mut HashMap<String, String>,
    errors: &mut Errors<'_>,
) -> Option<Identity> {
    let raw = &table.read.value;
    let supported = IdentityKind::SUPPORTED.map(|k| k.name()).join(", ");
    let kind = table
        .required(
            errors,
            &raw.kind,
            "kind",
            &format!("supported: {supported}"),
        )
        .and_then(|kind| {
            let text = kind.get_ref();
            let found = IdentityKind::SUPPORTED
                .into_iter()
                .find(|k| k.name() == text);
            if found.is_none() {
                let problem = if LATER_KINDS.contains(&text.as_str()) {
                    format!("kind {text:?} is not supported yet; supported: {supported}")
                } else {
                    format!("unknown kind {text:?}; supported: {supported}")
                };
                errors.at(&table.key("kind"), kind.span(), problem);
            }
            found
        });
    let secret = table
        .required(
            errors,
            &raw.secret,
            "secret",
            "the Secrets Manager secret id (name or ARN), e.g. secret = \"webex/partner\"",
        )
        .and_then(|secret| {
            let text = secret.get_ref();
            let path = table.key("secret");
            if !is_secret_id(text) {
                errors.at(
                    &path,
                    secret.span(),
                    format!(
                        "{text:?} is not a Secrets Manager secret id: a name of 1 to 512 of \
                         A-Z, a-z, 0-9 and /_+=.@- or an arn:…:secretsmanager:… ARN"
                    ),
                );
                return None;
            }
            if let Some(first) = secrets.get(text.as_str()) {
                errors.at(
                    &path,
                    secret.span(),
                    format!(
                        "{text:?} is already the secret of {first}: each identity needs its own \
                         (one rotating refresh token, one lock)"
                    ),
                );
                return None;
            }
            secrets.insert(text.clone(), key_path("identities", name));
            Some(text.clone())
        });
    let budget = table.number(
        errors,
        &raw.max_requests_per_minute,
        "max_requests_per_minute",
        (1, MAX_REQUESTS_PER_MINUTE),
        "",
    );
    Some(Identity {
        name: name.to_string(),
        kind: kind?,
        secret: secret?,
        max_requests_per_minute: budget
            .ok()?
            .map_or(DEFAULT_MAX_REQUESTS_PER_MINUTE as u32, |n| n as u32),
    })
}

fn is_secret_id(text: &str) -> bool {
    if text.starts_with("arn:") {
        return text.len() <= 2048
            && text.contains(":secretsmanager:")
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    }
    (1..=512).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}
