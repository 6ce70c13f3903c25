//! What `webexctl` does for an operator, beside collecting: install an identity, make an
//! authorize link, show tokens and streams, test an identity. Results are plain data the CLI
//! prints as a table or JSON.

use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{DynamoStateStore, SecretsManagerStore};
use collector_core::cursor::{Cursor, CursorKey, Lane};
use collector_core::identity::IdentityUse;
use collector_core::oauth::{IdentitySecrets, STATE_TTL};
use collector_core::ports::{
    AccountInfo, Clock, OAuthStateStore, PendingAuthorisation, SecretStore, SourceError,
    StoreError, SystemClock,
};
use collector_core::secret::ClientSecret;
use collector_core::token_lock::{LockError, TokenLock, lock_owner};
use collector_core::tokens::{AuthorisedBy, IdentitySecret, TokenManager};
use collector_core::{IdentityName, Timestamp};
use serde::Serialize;
use tokio::time::Instant;
use webex_client::{RetryPolicy, WebexClient};

use crate::config::IdentitiesConfig;
use crate::document::{OrgIdProblem, check_org_id as check_one_org_id};
use crate::identities::UnknownIdentity;
use crate::wiring::WiringError;

/// How long `webexctl auth init` waits for a collector's refresh to release the token lock; a
/// refresh holds it at most `LOCK_TTL` (30 s).
const INIT_LOCK_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}; try again")]
    Lock(#[from] LockError),
    #[error("{0}")]
    Invalid(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    UnknownIdentity(#[from] UnknownIdentity),
    /// Webex, or the identity's token, refused or failed.
    #[error("{0}")]
    Webex(String),
}

#[derive(Debug, Serialize)]
pub struct AuthLink {
    pub identity: IdentityName,
    pub url: String,
    pub expires_at: Timestamp,
    /// Only this person can complete the link, when set.
    pub expected_email: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct IdentityStatus {
    pub identity: IdentityName,
    pub secret_id: String,
    /// `not installed`, `waiting for authorisation`, `authorised`, or why the secret is unreadable.
    pub state: String,
    pub org_id: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub refresh_token_expires_at: Option<Timestamp>,
    pub refresh_token_days_left: Option<i64>,
    /// Who completed the authorisation the tokens come from, and when.
    pub authorised_by: Option<AuthorisedBy>,
    pub authorised_at: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
pub struct AuthTest {
    pub identity: IdentityName,
    pub ok: bool,
    pub org_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    pub org_id: String,
    pub status: &'static str,
    pub committed_until: Option<Timestamp>,
    pub lag_seconds: Option<i64>,
    pub pending: bool,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<LastErrorView>,
    pub last_run: Option<collector_core::cursor::RunStats>,
    /// The unit's backfills (`webexctl backfill`), oldest range first.
    pub backfills: Vec<BackfillStatus>,
}

/// One backfill of a unit: its range, and how far its own cursor is.
#[derive(Debug, Serialize)]
pub struct BackfillStatus {
    pub from: Timestamp,
    pub to: Timestamp,
    /// `None`: the deployment's own prefix.
    pub prefix: Option<String>,
    /// `done`, `collecting` (resumed by the same command) or `error`.
    pub status: &'static str,
    pub committed_until: Option<Timestamp>,
    pub last_error: Option<LastErrorView>,
}

#[derive(Debug, Serialize)]
pub struct LastErrorView {
    pub kind: &'static str,
    /// Says what to change, for config errors.
    pub message: String,
    pub at: Timestamp,
}

#[derive(Debug)]
pub struct Operator<C = SystemClock> {
    config: IdentitiesConfig,
    state: Arc<DynamoStateStore>,
    secrets: IdentitySecrets<SecretsManagerStore>,
    webex: WebexClient,
    clock: Arc<C>,
}

impl Operator<SystemClock> {
    pub async fn from_env() -> Result<Self, WiringError> {
        let document = crate::document_location::load_from_env().await?;
        let config = IdentitiesConfig::from_env(document.as_ref())?;
        let sdk = aws_adapters::sdk_config().await;
        Self::new(config, &sdk, Arc::new(SystemClock))
    }
}

impl<C: Clock> Operator<C> {
    pub fn new(
        config: IdentitiesConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<C>,
    ) -> Result<Self, WiringError> {
        let webex = WebexClient::new(&config.webex_api_url, RetryPolicy::default())?;
        let secrets_client = aws_sdk_secretsmanager::Client::new(sdk);
        Ok(Self {
            state: Arc::new(DynamoStateStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.state_table,
            )),
            secrets: config.identities.secret_stores(&secrets_client),
            webex,
            clock,
            config,
        })
    }

    /// The secret store of the deployment's identity `name` and what its streams need, or an
    /// error that lists the identities there are.
    fn identity(
        &self,
        name: &IdentityName,
    ) -> Result<(&SecretsManagerStore, &IdentityUse), OperatorError> {
        self.secrets
            .get(name)
            .ok_or_else(|| self.config.identities.unknown(name.as_str()).into())
    }

    /// Stores an identity's client fields and organisation, under the identity's token lock over
    /// a fresh read, so a collector refreshing at the same moment neither loses its tokens nor
    /// puts the old client back. Tokens are kept only while the client and the organisation
    /// stay the same: another integration's or another org's tokens must not be used.
    pub async fn auth_init(
        &self,
        identity: &IdentityName,
        client_id: &str,
        client_secret: ClientSecret,
        redirect_uri: &str,
        org_id: Option<&str>,
    ) -> Result<(), OperatorError> {
        // An unknown name is refused before anything else, and nothing is locked for it.
        self.identity(identity)?;
        if client_id.trim().is_empty() || client_secret.secret().trim().is_empty() {
            return Err(OperatorError::Invalid(
                "the client id and the client secret must not be empty".into(),
            ));
        }
        check_redirect_uri(redirect_uri).map_err(|problem| {
            OperatorError::Invalid(format!(
                "the redirect URI {problem}; use the stack's CallbackUrl output"
            ))
        })?;
        let org_id = org_id.map(str::trim).filter(|o| !o.is_empty());
        if let Some(org_id) = org_id {
            check_org_id(org_id).map_err(OperatorError::Invalid)?;
        }
        let owner = lock_owner("auth-init");
        let deadline = Instant::now() + INIT_LOCK_WAIT;
        let mut lock =
            TokenLock::acquire(&*self.state, &*self.clock, identity, &owner, deadline).await?;
        let stored = self
            .init_holding_lock(
                &mut lock,
                identity,
                client_id,
                client_secret,
                redirect_uri,
                org_id,
            )
            .await;
        lock.release().await;
        stored
    }

    async fn init_holding_lock(
        &self,
        lock: &mut TokenLock<'_, DynamoStateStore, C>,
        identity: &IdentityName,
        client_id: &str,
        client_secret: ClientSecret,
        redirect_uri: &str,
        org_id: Option<&str>,
    ) -> Result<(), OperatorError> {
        let (store, used) = self.identity(identity)?;
        let (exists, previous) = match store.current().await {
            Ok(previous) => (previous.is_some(), previous),
            // A secret that does not parse is replaced whole.
            Err(StoreError::Invalid { .. }) => (true, None),
            Err(e) => return Err(e.into()),
        };
        let previous_org = previous
            .as_ref()
            .and_then(|p| p.org_id.clone())
            .filter(|o| !o.trim().is_empty());
        let Some(org_id) = org_id.map(str::to_string).or(previous_org) else {
            return Err(OperatorError::Invalid(format!(
                "the {identity} identity has no organisation id: pass --org-id ORG_ID or set \
                 WEBEX_ORG_ID (the stack's OrgId output); without it, anyone who opens an authorize \
                 link could install their own organisation"
            )));
        };
        let mut secret = match previous {
            Some(previous)
                if previous.client_id == client_id
                    && previous.org_id.as_deref() == Some(org_id.as_str()) =>
            {
                previous
            }
            _ => IdentitySecret::default(),
        };
        secret.client_id = client_id.to_string();
        secret.client_secret = client_secret;
        secret.redirect_uri = Some(redirect_uri.to_string());
        secret.scopes = Some(used.requested_scopes());
        secret.org_id = Some(org_id);
        secret.updated_at = Some(self.clock.now());
        if !lock.renew().await? {
            return Err(LockError::Lost(identity.clone()).into());
        }
        if exists {
            store.save(&secret).await?
        } else {
            store.create(&secret).await?
        }
        Ok(())
    }

    /// A one-time authorize link for the identity, valid for ten minutes, asking for every scope
    /// its streams need. Refused while the identity has no organisation: the callback could not
    /// check the account against one. With `expected_email`, only that person can complete it.
    pub async fn auth_url(
        &self,
        identity: &IdentityName,
        expected_email: Option<&str>,
    ) -> Result<AuthLink, OperatorError> {
        let expected_email = expected_email
            .map(|e| check_email(e).map_err(OperatorError::Invalid))
            .transpose()?;
        let (store, used) = self.identity(identity)?;
        let secret = store.load().await?;
        let redirect_uri = secret
            .redirect_uri
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                OperatorError::Invalid(format!(
                    "run `webexctl auth init --identity {identity}` first"
                ))
            })?;
        if secret.org_id.as_deref().is_none_or(|o| o.trim().is_empty()) {
            return Err(OperatorError::Invalid(format!(
                "the {identity} identity has no organisation id, so the callback could not check \
                 who authorises: set it with `webexctl auth init --identity {identity} --org-id \
                 ORG_ID` (or WEBEX_ORG_ID, the stack's OrgId output), then run this again"
            )));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| OperatorError::Random(e.to_string()))?;
        let state: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expires_at = self.clock.now().plus(STATE_TTL);
        // A partner administrator whose organisations are discovered also lists them.
        let scopes = used.requested_scopes();
        let pending = PendingAuthorisation {
            identity: identity.clone(),
            expected_email: expected_email.clone(),
            scopes: scopes.clone(),
        };
        self.state
            .put_oauth_state(&state, &pending, expires_at)
            .await?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &secret.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &scopes)
            .append_pair("state", &state)
            .finish();
        let base = self.config.webex_api_url.trim_end_matches('/');
        Ok(AuthLink {
            identity: identity.clone(),
            url: format!("{base}/authorize?{query}"),
            expires_at,
            expected_email,
        })
    }

    /// Every identity of the deployment, in its order.
    pub async fn auth_status(&self) -> Vec<IdentityStatus> {
        let mut rows = Vec::new();
        for identity in self.config.identities.iter() {
            let Some(store) = self.secrets.of(&identity.name) else {
                continue;
            };
            let mut row = IdentityStatus {
                identity: identity.name.clone(),
                secret_id: identity.secret_id.clone(),
                state: String::new(),
                org_id: None,
                access_token_expires_at: None,
                refresh_token_expires_at: None,
                refresh_token_days_left: None,
                authorised_by: None,
                authorised_at: None,
            };
            row.state = match store.current().await {
                Err(e) => format!("unreadable: {e}"),
                Ok(None) => "not installed".to_string(),
                Ok(Some(secret)) => {
                    row.org_id = secret.org_id.clone();
                    row.access_token_expires_at = secret.access_token_expires_at;
                    row.refresh_token_expires_at = secret.refresh_token_expires_at;
                    row.authorised_by = secret.authorised_by.clone();
                    row.authorised_at = secret.authorised_at;
                    row.refresh_token_days_left = secret
                        .refresh_token_expires_at
                        .map(|t| (t.millis() - self.clock.now().millis()) / 86_400_000);
                    match (secret.client_id.is_empty(), &secret.refresh_token) {
                        (true, _) => "not installed".to_string(),
                        (false, None) => "waiting for authorisation".to_string(),
                        (false, Some(_)) => "authorised".to_string(),
                    }
                }
            };
            rows.push(row);
        }
        rows
    }

    /// The token manager of the deployment's identity `name`, for one command's calls.
    #[allow(clippy::type_complexity)]
    fn tokens(
        &self,
        name: &IdentityName,
    ) -> Result<TokenManager<SecretsManagerStore, WebexClient, DynamoStateStore, C>, OperatorError>
    {
        let (store, _) = self.identity(name)?;
        Ok(TokenManager::new(
            name.clone(),
            store.clone(),
            self.webex.clone(),
            self.state.clone(),
            self.clock.clone(),
            Duration::from_secs(600),
        ))
    }

    /// One cheap authenticated call (`GET /people/me`), refreshing the token first if it must.
    pub async fn auth_test(&self, identity: &IdentityName) -> Result<AuthTest, OperatorError> {
        let tokens = self.tokens(identity)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let outcome = match tokens.access_token(deadline).await {
            Ok(token) => self
                .webex
                .account(&token, deadline)
                .await
                .map(|account| account.org_id)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        Ok(match outcome {
            Ok(org_id) => AuthTest {
                identity: identity.clone(),
                ok: true,
                message: format!("Webex accepted the {identity} identity's token"),
                org_id: Some(org_id),
            },
            Err(message) => AuthTest {
                identity: identity.clone(),
                ok: false,
                org_id: None,
                message,
            },
        })
    }

    /// One compliance event as Webex returns it (`GET /events/{id}`), read with `identity`'s
    /// token; `None` when Webex has no such event this identity may see.
    pub async fn event(
        &self,
        identity: &IdentityName,
        id: &str,
    ) -> Result<Option<Vec<u8>>, OperatorError> {
        let tokens = self.tokens(identity)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let token = tokens
            .access_token(deadline)
            .await
            .map_err(|e| OperatorError::Webex(format!("the {identity} identity's token: {e}")))?;
        self.webex
            .event(&token, id, deadline)
            .await
            .map(|found| found.map(|body| body.to_vec()))
            .map_err(|e| match e {
                SourceError::Forbidden { .. } | SourceError::Unauthorized => {
                    OperatorError::Webex(format!(
                        "Webex refused the {identity} identity ({e}): reading compliance events \
                         takes the spark-compliance:events_read scope of a compliance officer; \
                         use --identity with one that has it, or authorise this one with it"
                    ))
                }
                other => OperatorError::Webex(format!("Webex: {other}")),
            })
    }

    pub async fn stream_status(&self) -> Result<Vec<StreamStatus>, OperatorError> {
        let cursors = self.state.list_cursors().await?;
        Ok(status_rows(self.clock.now(), cursors))
    }
}

/// A row per unit, its backfills under it, sorted by stream and organisation.
fn status_rows(now: Timestamp, cursors: Vec<(CursorKey, Cursor)>) -> Vec<StreamStatus> {
    let (live, backfills): (Vec<_>, Vec<_>) = cursors
        .into_iter()
        .partition(|(key, _)| key.lane == Lane::Live);
    let mut rows: Vec<StreamStatus> = live
        .into_iter()
        .map(|(key, cursor)| StreamStatus {
            stream: key.stream,
            org_id: key.org_id,
            status: cursor.status.name(),
            committed_until: cursor.committed_until,
            lag_seconds: cursor
                .committed_until
                .map(|t| (now.millis() - t.millis()) / 1000),
            pending: !cursor.pending.is_empty(),
            last_success_at: cursor.last_success_at,
            last_error: cursor.last_error.map(LastErrorView::from),
            last_run: cursor.last_run,
            backfills: Vec::new(),
        })
        .collect();
    for (key, cursor) in backfills {
        let Lane::Backfill { from, to, prefix } = key.lane else {
            continue;
        };
        let done = cursor.committed_until.is_some_and(|at| at >= to);
        let backfill = BackfillStatus {
            from,
            to,
            prefix,
            status: if done { "done" } else { cursor.status.name() },
            committed_until: cursor.committed_until,
            last_error: cursor.last_error.map(LastErrorView::from),
        };
        let unit = rows
            .iter()
            .position(|r| r.stream == key.stream && r.org_id == key.org_id);
        match unit {
            Some(unit) => rows[unit].backfills.push(backfill),
            // Backfilled before the live unit's first run: a row of its own says so.
            None => rows.push(StreamStatus {
                stream: key.stream,
                org_id: key.org_id,
                status: NOT_STARTED,
                committed_until: None,
                lag_seconds: None,
                pending: false,
                last_success_at: None,
                last_error: None,
                last_run: None,
                backfills: vec![backfill],
            }),
        }
    }
    rows.sort_by(|a, b| (&a.stream, &a.org_id).cmp(&(&b.stream, &b.org_id)));
    for row in &mut rows {
        row.backfills.sort_by_key(|b| (b.from, b.to));
    }
    rows
}

/// The state of a unit whose live cursor does not exist yet (only its backfills do).
pub const NOT_STARTED: &str = "not started";

impl From<collector_core::cursor::LastError> for LastErrorView {
    fn from(e: collector_core::cursor::LastError) -> Self {
        Self {
            kind: e.kind.name(),
            message: e.message,
            at: e.at,
        }
    }
}

/// Where Webex may send the authorization code: https to a host, or http to this machine only
/// (a loopback address exactly, for local runs). Parsed, not matched by prefix:
/// `http://127.0.0.1.evil.example` starts like a loopback URL and is not one.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment (RFC 6749 §3.1.2)".into());
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(_)) => false,
        None => return Err("has no host".into()),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => {
            Err("must be https:// (http:// only to a loopback address such as 127.0.0.1)".into())
        }
        other => Err(format!("must be https://, not {other}:")),
    }
}

/// One Webex organisation id (base64 of `ciscospark://...`), by the rule the collector document
/// uses too: the stack's `OrgId` parameter may list several, an identity holds exactly one.
fn check_org_id(org_id: &str) -> Result<(), String> {
    check_one_org_id(org_id).map_err(|problem| match problem {
        OrgIdProblem::List => "--org-id takes one organisation id, not a list".into(),
        OrgIdProblem::NotAnId => "--org-id is not a Webex organisation id (base64 text)".into(),
    })
}

/// A plausible address, compared case-insensitively with the account's at the callback.
fn check_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if !plausible {
        return Err("--expect-email is not an email address".into());
    }
    Ok(email.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_lists_its_backfills_and_a_backfill_before_the_first_run_has_a_row() {
        let at = |text: &str| Timestamp::parse(&format!("2026-11-{text}Z")).unwrap();
        let backfill = |stream: &str, org: &str, from, to, prefix: Option<&str>| CursorKey {
            lane: Lane::Backfill {
                from: at(from),
                to: at(to),
                prefix: prefix.map(str::to_owned),
            },
            ..CursorKey::live(stream, org)
        };
        let until = |text| Cursor {
            committed_until: Some(at(text)),
            ..Cursor::default()
        };
        let cursors = vec![
            (
                backfill("admin-audit", "o1", "10T00:00:00", "12T00:00:00", None),
                until("12T00:00:00"),
            ),
            (CursorKey::live("admin-audit", "o1"), until("22T11:00:00")),
            (
                backfill(
                    "admin-audit",
                    "o1",
                    "01T00:00:00",
                    "10T00:00:00",
                    Some("redo/"),
                ),
                until("03T06:00:00"),
            ),
            (
                backfill(
                    "compliance-events",
                    "o1",
                    "01T00:00:00",
                    "02T00:00:00",
                    None,
                ),
                until("01T00:00:00"),
            ),
        ];
        let rows = status_rows(at("22T12:00:00"), cursors);
        let shown: Vec<_> = rows
            .iter()
            .map(|r| {
                let backfills: Vec<_> = r
                    .backfills
                    .iter()
                    .map(|b| (b.from.to_rfc3339(), b.prefix.clone(), b.status))
                    .collect();
                (r.stream.as_str(), r.status, r.lag_seconds, backfills)
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "admin-audit",
                    "collecting",
                    Some(3600),
                    vec![
                        (
                            "2026-11-01T00:00:00.000Z".to_string(),
                            Some("redo/".to_string()),
                            "collecting"
                        ),
                        ("2026-11-10T00:00:00.000Z".to_string(), None, "done"),
                    ]
                ),
                (
                    "compliance-events",
                    NOT_STARTED,
                    None,
                    vec![("2026-11-01T00:00:00.000Z".to_string(), None, "collecting")]
                ),
            ]
        );
    }

    #[test]
    fn only_https_or_a_loopback_http_redirect_passes() {
        let cases = [
            (
                "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/callback",
                true,
            ),
            ("https://example.com:8443/cb?x=1", true),
            ("http://127.0.0.1/oauth/callback", true),
            ("http://127.0.0.1:9/oauth/callback", true),
            ("http://127.1.2.3:8080/cb", true),
            ("http://[::1]:8080/cb", true),
            ("http://127.0.0.1.evil.example/cb", false),
            ("http://127.0.0.1@evil.example/cb", false),
            ("https://user:pw@example.com/cb", false),
            ("http://localhost.evil.example/cb", false),
            ("http://example.com/cb", false),
            ("http://10.0.0.1/cb", false),
            ("https://example.com/cb#frag", false),
            ("ftp://x/cb", false),
            ("javascript:alert(1)", false),
            ("//example.com/cb", false),
            ("127.0.0.1/cb", false),
            ("", false),
        ];
        for (uri, ok) in cases {
            assert_eq!(
                check_redirect_uri(uri).is_ok(),
                ok,
                "{uri}: {:?}",
                check_redirect_uri(uri)
            );
        }
    }

    #[test]
    fn an_org_id_is_one_base64_id() {
        assert!(check_org_id("Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn").is_ok());
        for bad in ["a,b", "org id", "org\u{1b}[31m", &"a".repeat(300)] {
            assert!(check_org_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expected_emails_must_look_like_addresses() {
        assert_eq!(
            check_email(" Alice@Example.com ").unwrap(),
            "Alice@Example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "a@b@example.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
