//! The OAuth callback Lambda behind API Gateway (HTTP API, payload v2): the redirect from
//! Webex's consent page in, a small HTML page out. Every failure is a 4xx page that says what
//! happened and what to do; no page repeats a parameter of the request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{DynamoStateStore, SecretsManagerStore};
use collector_core::IdentityName;
use collector_core::oauth::{
    Authorised, CallbackError, CallbackParams, IdentitySecrets, callback_deadline,
    complete_authorisation,
};
use collector_core::ports::{Clock, SystemClock};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use webex_client::{RetryPolicy, WebexClient};

use crate::config::{ConfigError, IdentitiesConfig};
use crate::identities::Identities;
use crate::live::Live;
use crate::logging::{LogTarget, init_logging};

/// A browser is waiting: few, short attempts. The callback's deadline bounds them all (see
/// [`callback_deadline`]), so these only shape how the time is used.
const CALLBACK_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(300),
    max_delay: Duration::from_secs(2),
    request_timeout: Duration::from_secs(8),
};

/// The parts of an API Gateway payload v2 request the callback reads.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    #[serde(default)]
    pub raw_query_string: String,
    #[serde(default)]
    pub request_context: RequestContext,
}

impl HttpRequest {
    /// A request as API Gateway sends it for `method /oauth/callback?{raw_query}`.
    pub fn new(method: &str, raw_query: &str) -> Self {
        Self {
            raw_query_string: raw_query.to_string(),
            request_context: RequestContext {
                http: HttpContext {
                    method: method.to_string(),
                },
            },
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RequestContext {
    #[serde(default)]
    pub http: HttpContext,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct HttpContext {
    #[serde(default)]
    pub method: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status_code: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Debug)]
pub struct Callback<C = SystemClock> {
    state: DynamoStateStore,
    secrets: IdentitySecrets<SecretsManagerStore>,
    webex: WebexClient,
    clock: Arc<C>,
    /// Every identity's name, for the pages that say which to authorise.
    identities: Identities,
}

impl<C: Clock> Callback<C> {
    pub fn new(
        config: &IdentitiesConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, ConfigError> {
        let webex =
            WebexClient::new(&config.webex_api_url, CALLBACK_RETRY).map_err(|e| ConfigError {
                name: "WEBEX_API_URL",
                problem: e.to_string(),
            })?;
        let secrets_client = aws_sdk_secretsmanager::Client::new(sdk);
        Ok(Self {
            state: DynamoStateStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.state_table),
            secrets: config.identities.secret_stores(&secrets_client),
            webex,
            clock,
            identities: config.identities.clone(),
        })
    }

    /// One redirect: the page to show, before Lambda's deadline whatever Webex does.
    pub async fn handle(
        &self,
        event: LambdaEvent<HttpRequest>,
    ) -> Result<HttpResponse, std::convert::Infallible> {
        let now = Instant::now();
        // An invocation without a deadline (0) gets the callback's own budget.
        let remaining = (event.context.deadline != 0).then(|| {
            crate::lambda::deadline_of(event.context.deadline).saturating_duration_since(now)
        });
        let deadline = callback_deadline(now, remaining);
        let request = event.payload;
        if !request
            .request_context
            .http
            .method
            .eq_ignore_ascii_case("GET")
        {
            return Ok(page(
                405,
                "Not allowed",
                "This address only answers the redirect from Webex.",
                "",
            ));
        }
        let outcome = match parse_query(&request.raw_query_string) {
            Ok(params) => {
                complete_authorisation(
                    &params,
                    &self.state,
                    &self.secrets,
                    &self.webex,
                    &*self.clock,
                    deadline,
                )
                .await
            }
            Err(e) => Err(e),
        };
        Ok(match outcome {
            Ok(done) => {
                tracing::info!(identity = %done.identity, "identity authorised");
                authorised_page(&done)
            }
            Err(e) => {
                tracing::warn!(error = %e, "authorisation refused");
                failure_page(&e, &self.identities)
            }
        })
    }
}

/// The callback function's whole `main`.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    init_logging(LogTarget::Stdout);
    let sdk = aws_adapters::sdk_config().await;
    // The document's identities, followed as it changes: an identity added by a push can be
    // authorised at once.
    let live = Live::start(move |document| {
        let config = IdentitiesConfig::from_env(document)?;
        Ok(Callback::new(&config, &sdk, Arc::new(SystemClock))?)
    })
    .await?;
    let live = &live;
    lambda_runtime::run(lambda_runtime::service_fn(|event| async move {
        match live.get().await {
            Ok(callback) => callback.handle(event).await,
            Err(e) => {
                tracing::error!(error = %e, "the deployment's configuration is not valid");
                Ok(page(
                    500,
                    "Not configured",
                    "This deployment's collector document is not valid; its operator must mend it \
                     (webexctl config check).",
                    "",
                ))
            }
        }
    }))
    .await
}

/// `code`, `state` and `error` from the query; a parameter given twice is refused rather
/// than guessed at.
fn parse_query(raw: &str) -> Result<CallbackParams, CallbackError> {
    let mut params = CallbackParams::default();
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let (slot, label) = match name.as_ref() {
            "code" => (&mut params.code, "code"),
            "state" => (&mut params.state, "state"),
            "error" => (&mut params.error, "error"),
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(CallbackError::Malformed(label));
        }
    }
    Ok(params)
}

fn authorised_page(done: &Authorised) -> HttpResponse {
    let until = done
        .refresh_token_expires_at
        .map(|t| {
            format!(
                " The refresh token is valid until {} (UTC).",
                t.to_rfc3339()
            )
        })
        .unwrap_or_default();
    page(
        200,
        "Authorised",
        &format!("The {} identity is authorised.{until}", done.identity),
        &format!(
            "You can close this page. Collection starts with the next scheduled run; \
             `webexctl auth status` shows the tokens and `webexctl status` the streams. \
             Authorise again before the refresh token expires with `webexctl auth url --identity {}`.",
            done.identity
        ),
    )
}

/// The page of a refusal; `identities` are the deployment's, named when the refusal cannot
/// say which identity the link was for.
fn failure_page(e: &CallbackError, identities: &Identities) -> HttpResponse {
    let again = format!(
        "Create a new link with `webexctl auth url --identity NAME` (NAME one of {}) and open it.",
        identities.names()
    );
    let identity_again = |p: &IdentityName| {
        format!("Create a new link with `webexctl auth url --identity {p}` and open it.")
    };
    let (status, title, what, todo) = match e {
        CallbackError::MissingState | CallbackError::MissingCode | CallbackError::Malformed(_) => (
            400,
            "Incomplete link",
            "This page was opened without the parameters Webex adds.".to_string(),
            again.to_string(),
        ),
        CallbackError::UnknownState => (
            403,
            "Link expired or already used",
            "This authorisation link is unknown, older than 10 minutes, or was used already."
                .to_string(),
            again.to_string(),
        ),
        CallbackError::Denied(code) => (
            403,
            "Authorisation not granted",
            format!("Webex reported {code}: the integration was not given access."),
            format!("{again} Accept the requested access on the Webex page."),
        ),
        CallbackError::NotInstalled(p) => (
            409,
            "Identity not installed",
            format!("The {p} identity has no client id or redirect URI yet."),
            format!(
                "Run `webexctl auth init --identity {p}`, then `webexctl auth url --identity {p}`."
            ),
        ),
        CallbackError::CodeRefused(p) => (
            400,
            "Webex refused the code",
            "Webex did not accept this authorization code (expired, used, or for another client)."
                .to_string(),
            identity_again(p),
        ),
        CallbackError::WebexUnavailable | CallbackError::Storage(_) => (
            424,
            "Try again later",
            "Webex or the token store could not be reached; nothing was changed.".to_string(),
            again.to_string(),
        ),
        CallbackError::Busy(p) => (
            409,
            "Try again in a minute",
            format!(
                "The {p} identity's tokens were being refreshed and the authorisation could not be stored in time; nothing was changed."
            ),
            identity_again(p),
        ),
        CallbackError::NoOrg(p) => (
            409,
            "Organisation not set",
            format!(
                "The {p} identity has no organisation id, so the account that signed in cannot be checked; nothing was changed."
            ),
            format!(
                "Set it with `webexctl auth init --identity {p} --org-id ORG_ID` (the stack's OrgId output), then create a new link with `webexctl auth url --identity {p}`."
            ),
        ),
        CallbackError::WrongPerson(p) => (
            403,
            "Wrong person",
            "This link was made for another person; nothing was changed.".to_string(),
            format!(
                "The person the link was made for must open it, or an operator creates a new one with `webexctl auth url --identity {p} --expect-email ADDRESS`."
            ),
        ),
        CallbackError::IdentityChanged(p) => (
            409,
            "Identity changed",
            format!(
                "The {p} identity was installed again with another client while you authorised; nothing was changed."
            ),
            identity_again(p),
        ),
        CallbackError::OrgMismatch(p) => (
            403,
            "Wrong organisation",
            format!(
                "The account you signed in with belongs to another organisation than the {p} identity's."
            ),
            format!(
                "Sign in with an account of the configured organisation. {}",
                identity_again(p)
            ),
        ),
        CallbackError::MissingScope { identity, scope } => (
            403,
            "Missing permission",
            format!("The token lacks the {scope} scope that the {identity} identity needs."),
            format!(
                "Sign in as a user with that permission (a full administrator for the audits, a compliance officer for compliance events) \
                 and make sure the integration requests {scope}. {}",
                identity_again(identity)
            ),
        ),
    };
    page(status, title, &what, &todo)
}

fn page(status: u16, title: &str, what: &str, todo: &str) -> HttpResponse {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}</style>\
         </head><body><h1>{title}</h1><p>{what}</p><p>{todo}</p></body></html>",
        title = escape(title),
        what = escape(what),
        todo = escape(todo)
    );
    let headers = [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        // No scripts, no resources, and no framing: another site cannot overlay the page.
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
        // The page's own URL carries the code: it must not travel in a Referer.
        ("referrer-policy", "no-referrer"),
    ];
    HttpResponse {
        status_code: status,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_query_and_refuses_repeats() {
        let p = parse_query("code=abc&state=def&other=1").unwrap();
        assert_eq!(
            (p.code.as_deref(), p.state.as_deref(), p.error),
            (Some("abc"), Some("def"), None)
        );
        assert!(matches!(
            parse_query("state=a&state=b"),
            Err(CallbackError::Malformed("state"))
        ));
        assert_eq!(parse_query("").unwrap(), CallbackParams::default());
        assert_eq!(
            parse_query("error=access_denied").unwrap().error.as_deref(),
            Some("access_denied")
        );
    }

    #[test]
    fn pages_escape_what_they_show() {
        let p = page(400, "<t>", "a & b", "\"q\"");
        assert!(
            p.body.contains("&lt;t&gt;")
                && p.body.contains("a &amp; b")
                && p.body.contains("&quot;q&quot;")
        );
        assert_eq!(p.headers["referrer-policy"], "no-referrer");
    }

    #[test]
    fn no_page_can_be_framed_by_another_site() {
        for p in [
            page(200, "t", "w", "d"),
            failure_page(&CallbackError::UnknownState, &identities()),
        ] {
            let csp = &p.headers["content-security-policy"];
            let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
            assert!(directives.contains(&"frame-ancestors 'none'"), "{csp}");
            assert!(directives.contains(&"default-src 'none'"), "{csp}");
        }
    }

    fn identities() -> Identities {
        let env = [("ADMIN_SECRET_ID", "a"), ("COMPLIANCE_SECRET_ID", "c")];
        Identities::from_lookup(|name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    #[test]
    fn every_refusal_is_a_4xx() {
        let p = &IdentityName::parse("partner").unwrap();
        let refusals = [
            CallbackError::MissingState,
            CallbackError::Malformed("code"),
            CallbackError::UnknownState,
            CallbackError::MissingCode,
            CallbackError::Denied("access_denied"),
            CallbackError::NotInstalled(p.clone()),
            CallbackError::CodeRefused(p.clone()),
            CallbackError::WebexUnavailable,
            CallbackError::OrgMismatch(p.clone()),
            CallbackError::NoOrg(p.clone()),
            CallbackError::WrongPerson(p.clone()),
            CallbackError::IdentityChanged(p.clone()),
            CallbackError::Busy(p.clone()),
            CallbackError::MissingScope {
                identity: p.clone(),
                scope: "s",
            },
        ];
        for e in refusals {
            let page = failure_page(&e, &identities());
            let status = page.status_code;
            assert!((400..500).contains(&status), "{e}: {status}");
            // Each page names a `webexctl` command by identity: the one it was for, or the
            // deployment's.
            assert!(
                page.body.contains("--identity partner")
                    || page
                        .body
                        .contains("--identity NAME` (NAME one of admin, compliance)"),
                "{e}: {}",
                page.body
            );
            assert!(!page.body.contains("--profile"), "{e}: {}", page.body);
        }
    }
}
