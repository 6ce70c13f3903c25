//! `[identities.NAME]`: named credentials, each in a secret of its own.

use std::collections::HashMap;

use collector_core::identity::{IDENTITY_NAME_RULE, is_identity_name};
use toml::Spanned;
use toml::de::DeValue;

use super::errors::{Errors, key_path};
use super::raw::RawIdentity;
use super::read::read_table;
use super::validate::{Table, as_table};
use super::{Identity, IdentityKind, TokenEndpoint};
use crate::config::DEFAULT_MAX_REQUESTS_PER_MINUTE;

/// The pace of an identity that is not Webex's when the document sets none: most APIs allow
/// about a request a second.
const DEFAULT_OTHER_REQUESTS_PER_MINUTE: u32 = 60;
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
    let kind = kind_of(table, errors);
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
    let kind = kind?;
    let default_budget = match kind {
        IdentityKind::WebexOauth => DEFAULT_MAX_REQUESTS_PER_MINUTE as u32,
        _ => DEFAULT_OTHER_REQUESTS_PER_MINUTE,
    };
    Some(Identity {
        name: name.to_string(),
        kind,
        secret: secret?,
        max_requests_per_minute: budget.ok()?.map_or(default_budget, |n| n as u32),
    })
}

/// The keys only some kinds take, and which.
const KIND_KEYS: [(&str, &str); 8] = [
    ("token_url", "oauth_client_credentials"),
    ("tenant", "oauth_client_credentials"),
    ("scope", "oauth_client_credentials"),
    ("resource", "oauth_client_credentials"),
    ("form", "oauth_client_credentials"),
    ("client_auth", "oauth_client_credentials"),
    ("header", "api_key"),
    ("prefix", "api_key"),
];

/// Form fields that hold what the secret holds, or what the collector sets itself.
const FORM_SECRETS: [&str; 4] = ["client_secret", "password", "assertion", "client_assertion"];
const FORM_OURS: [&str; 4] = ["grant_type", "client_id", "scope", "resource"];

/// Headers an API key must not be sent as: they belong to the connection or the body.
const NOT_KEY_HEADERS: [&str; 6] = [
    "cookie",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "proxy-authorization",
];

fn kind_of(table: &Table<'_, RawIdentity>, errors: &mut Errors<'_>) -> Option<IdentityKind> {
    let raw = &table.read.value;
    let names = IdentityKind::NAMES.join(", ");
    let kind = table.required(errors, &raw.kind, "kind", &format!("one of {names}"))?;
    let text = kind.get_ref().as_str();
    if !IdentityKind::NAMES.contains(&text) {
        errors.at(
            &table.key("kind"),
            kind.span(),
            format!("unknown kind {text:?}; one of {names}"),
        );
        return None;
    }
    let present = [
        raw.token_url.as_ref().map(Spanned::span),
        raw.tenant.as_ref().map(Spanned::span),
        raw.scope.as_ref().map(Spanned::span),
        raw.resource.as_ref().map(Spanned::span),
        raw.form.as_ref().map(Spanned::span),
        raw.client_auth.as_ref().map(Spanned::span),
        raw.header.as_ref().map(Spanned::span),
        raw.prefix.as_ref().map(Spanned::span),
    ];
    let mut ok = true;
    for ((key, owner), span) in KIND_KEYS.iter().zip(present) {
        if let Some(span) = span
            && *owner != text
        {
            errors.at(
                &table.key(key),
                span,
                format!("is not used with kind = {text:?}; only {owner} identities take it"),
            );
            ok = false;
        }
    }
    let kind = match text {
        "webex_oauth" => Some(IdentityKind::WebexOauth),
        "basic" => Some(IdentityKind::Basic),
        "api_key" => api_key_of(table, errors),
        _ => token_endpoint_of(table, errors).map(IdentityKind::OauthClientCredentials),
    };
    kind.filter(|_| ok)
}

fn api_key_of(table: &Table<'_, RawIdentity>, errors: &mut Errors<'_>) -> Option<IdentityKind> {
    let raw = &table.read.value;
    let header = table.required(
        errors,
        &raw.header,
        "header",
        "the header that carries the key, e.g. header = \"X-Api-Key\"",
    )?;
    let name = header.get_ref();
    let is_token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let lower = name.to_ascii_lowercase();
    let problem = if !is_token {
        Some(format!("{name:?} is not an HTTP header name"))
    } else if NOT_KEY_HEADERS.contains(&lower.as_str()) {
        Some(format!(
            "{name:?} cannot carry a key; name the header the API reads it from"
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        errors.at(&table.key("header"), header.span(), problem);
        return None;
    }
    let prefix = match &raw.prefix {
        Some(prefix) if !prefix.get_ref().bytes().all(|b| (b' '..=b'~').contains(&b)) => {
            errors.at(
                &table.key("prefix"),
                prefix.span(),
                "must be printable ASCII: it goes into an HTTP header",
            );
            return None;
        }
        Some(prefix) => prefix.get_ref().clone(),
        None => String::new(),
    };
    Some(IdentityKind::ApiKey {
        header: name.clone(),
        prefix,
    })
}

/// Microsoft Entra's token endpoint of a tenant, and the scope Graph's reports need.
const ENTRA_TOKEN_URL: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn token_endpoint_of(
    table: &Table<'_, RawIdentity>,
    errors: &mut Errors<'_>,
) -> Option<TokenEndpoint> {
    let raw = &table.read.value;
    let mut ok = true;
    let (token_url, tenant) = match (&raw.token_url, &raw.tenant) {
        (Some(_), Some(tenant)) => {
            errors.at(
                &table.key("tenant"),
                tenant.span(),
                "give token_url or tenant, not both",
            );
            return None;
        }
        (Some(url), None) => match http_source::checked_url(url.get_ref()) {
            Ok(_) => (url.get_ref().clone(), None),
            Err(reason) => {
                errors.at(
                    &table.key("token_url"),
                    url.span(),
                    format!(
                        "{:?} {reason}",
                        http_source::without_password(url.get_ref())
                    ),
                );
                return None;
            }
        },
        (None, Some(tenant)) => {
            let text = tenant.get_ref();
            let valid = (1..=64).contains(&text.len())
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                errors.at(
                    &table.key("tenant"),
                    tenant.span(),
                    format!(
                        "{text:?} is not an Entra tenant: its id (a GUID) or its domain \
                         (contoso.onmicrosoft.com)"
                    ),
                );
                return None;
            }
            (
                ENTRA_TOKEN_URL.replace("{tenant}", text),
                Some(text.clone()),
            )
        }
        (None, None) => {
            if !table.read.rejected("token_url") && !table.read.rejected("tenant") {
                errors.at(
                    &table.key("token_url"),
                    table.span.clone(),
                    "is required: the token endpoint's URL, or tenant = \"…\" for Microsoft \
                     Entra",
                );
            }
            return None;
        }
    };
    let mut form = Vec::new();
    match (&raw.scope, &raw.resource) {
        (Some(_), Some(resource)) => {
            errors.at(
                &table.key("resource"),
                resource.span(),
                "give scope or resource, not both",
            );
            ok = false;
        }
        (Some(scope), None) => form.push(("scope".to_string(), scope.get_ref().clone())),
        (None, Some(resource)) => {
            form.push(("resource".to_string(), resource.get_ref().clone()));
        }
        (None, None) if tenant.is_some() => {
            form.push(("scope".to_string(), GRAPH_SCOPE.to_string()));
        }
        (None, None) => {}
    }
    if let Some(fields) = &raw.form {
        let path = table.key("form");
        for (name, value) in fields.get_ref() {
            let problem = if FORM_SECRETS.contains(&name.as_str()) {
                Some("belongs in the identity's secret, not the document")
            } else if FORM_OURS.contains(&name.as_str()) {
                Some("is sent by the collector (scope and resource have keys of their own)")
            } else {
                None
            };
            if let Some(problem) = problem {
                errors.at(&key_path(&path, name), value.span(), problem);
                ok = false;
            } else {
                form.push((name.clone(), value.get_ref().clone()));
            }
        }
    }
    let basic_auth = match &raw.client_auth {
        None => false,
        Some(auth) => match auth.get_ref().as_str() {
            "body" => false,
            "basic" => true,
            other => {
                errors.at(
                    &table.key("client_auth"),
                    auth.span(),
                    format!(
                        "{other:?} is not \"body\" (the client id and secret in the form) or \
                         \"basic\" (in HTTP Basic)"
                    ),
                );
                return None;
            }
        },
    };
    ok.then_some(TokenEndpoint {
        token_url,
        form,
        basic_auth,
        tenant,
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
