//! Completing an OAuth authorisation. Webex's consent page redirects the browser back with a
//! code and the one-time `state` that `webexctl auth url` created; only a state taken from the
//! store (unknown, expired and used ones are refused) lets a code into an identity's secret, so
//! nobody without AWS access can plant tokens; a state naming an identity this deployment does
//! not have is as good as unknown. A link forwarded to the wrong person installs nothing
//! either: the account must belong to the identity's organisation (which must be set),
//! and to the person the link was made for when `webexctl auth url --expect-email` named one.
//! <https://developer.webex.com/docs/integrations>

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::identity::{IdentityName, IdentityUse};
use crate::ports::{
    Account, AccountInfo, Clock, EventSource, LeaseStore, OAuthStateStore, PageRequest, PageTarget,
    PendingAuthorisation, SecretStore, SourceError, StoreError, TokenError, TokenIssuer,
};
use crate::source::{Position, QueryBounds};
use crate::stream::StreamId;
use crate::time::Timestamp;
use crate::token_lock::{LockError, TokenLock, lock_owner};
use crate::tokens::AuthorisedBy;

/// How long an authorize link stays usable.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// Webex codes and our states are far shorter; anything longer is not ours.
const MAX_PARAM_LEN: usize = 1024;
/// The most a callback takes, whatever time Lambda gives it: a person is waiting at a browser,
/// and the function's timeout in the template is 15 s.
pub const CALLBACK_BUDGET: Duration = Duration::from_secs(14);
/// Kept back from Lambda's deadline to return the page.
const RESPONSE_RESERVE: Duration = Duration::from_secs(1);
/// Kept back from the Webex calls for the token store: take the lock, re-read, save, release.
const STORE_RESERVE: Duration = Duration::from_secs(4);
/// Kept back from waiting for the lock for re-reading and saving.
const SAVE_TIME: Duration = Duration::from_secs(2);

/// The query parameters of the redirect, as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("the request has no state parameter")]
    MissingState,
    #[error("the {0} parameter is malformed")]
    Malformed(&'static str),
    #[error("the state is unknown, expired or already used")]
    UnknownState,
    #[error("the request has no code parameter")]
    MissingCode,
    /// Webex redirected with `error=...` (e.g. the user declined); only known codes are kept.
    #[error("Webex reported {0}")]
    Denied(&'static str),
    #[error("the {0} identity is not installed (no client id or secret)")]
    NotInstalled(IdentityName),
    #[error("Webex refused the authorization code for the {0} identity")]
    CodeRefused(IdentityName),
    #[error("Webex could not be reached or failed")]
    WebexUnavailable,
    #[error("the account belongs to another organisation than the {0} identity's")]
    OrgMismatch(IdentityName),
    #[error("the {0} identity has no organisation id, so no account can be checked against it")]
    NoOrg(IdentityName),
    #[error("the link for the {0} identity was made for another person")]
    WrongPerson(IdentityName),
    #[error("the {0} identity was installed again (another client) during the authorisation")]
    IdentityChanged(IdentityName),
    #[error("the {0} identity's token lock stayed busy; nothing was stored")]
    Busy(IdentityName),
    #[error("the token lacks the {scope} scope the {identity} identity needs")]
    MissingScope {
        identity: IdentityName,
        scope: &'static str,
    },
    #[error("storing the tokens failed: {0}")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for CallbackError {
    fn from(e: StoreError) -> Self {
        CallbackError::Storage(e)
    }
}

impl From<LockError> for CallbackError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Busy(identity) | LockError::Lost(identity) => CallbackError::Busy(identity),
            LockError::Store(e) => CallbackError::Storage(e),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorised {
    pub identity: IdentityName,
    pub org_id: String,
    pub refresh_token_expires_at: Option<Timestamp>,
}

/// When the callback must have answered: Lambda's deadline less the time to return the page,
/// and never later than [`CALLBACK_BUDGET`] from `now`. `remaining` is `None` when the
/// invocation carries no deadline.
pub fn callback_deadline(now: Instant, remaining: Option<Duration>) -> Instant {
    let budget = remaining.map_or(CALLBACK_BUDGET, |r| {
        r.saturating_sub(RESPONSE_RESERVE).min(CALLBACK_BUDGET)
    });
    now + budget
}

/// The identities of a deployment: each one's secret store and what its streams need of its
/// token. Only these can be authorised.
#[derive(Clone, Debug)]
pub struct IdentitySecrets<Sec>(BTreeMap<IdentityName, (Sec, IdentityUse)>);

impl<Sec> IdentitySecrets<Sec> {
    /// The store and the use of `identity`, if the deployment has it.
    pub fn get(&self, identity: &IdentityName) -> Option<(&Sec, &IdentityUse)> {
        self.0.get(identity).map(|(store, used)| (store, used))
    }

    /// The secret store of `identity`, if the deployment has it.
    pub fn of(&self, identity: &IdentityName) -> Option<&Sec> {
        self.0.get(identity).map(|(store, _)| store)
    }
}

impl<Sec> FromIterator<(IdentityName, Sec, IdentityUse)> for IdentitySecrets<Sec> {
    fn from_iter<I: IntoIterator<Item = (IdentityName, Sec, IdentityUse)>>(items: I) -> Self {
        Self(
            items
                .into_iter()
                .map(|(name, store, used)| (name, (store, used)))
                .collect(),
        )
    }
}

/// States are 64 lowercase hex characters (`webexctl auth url` makes 32 random bytes).
pub fn is_well_formed_state(state: &str) -> bool {
    state.len() == 64
        && state
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Completes the authorisation the redirect carries, or says why not, by `deadline`: every
/// Webex call ends early enough to leave the token store its time. Writes nothing unless every
/// check passes, and then only under the identity's token lock, over a fresh read of the
/// secret, and only the fields an authorisation owns (tokens, scopes, who and when).
pub async fn complete_authorisation<St, Sec, W, Clk>(
    params: &CallbackParams,
    state_store: &St,
    secrets: &IdentitySecrets<Sec>,
    webex: &W,
    clock: &Clk,
    deadline: Instant,
) -> Result<Authorised, CallbackError>
where
    St: OAuthStateStore + LeaseStore,
    Sec: SecretStore,
    W: TokenIssuer + AccountInfo + EventSource,
    Clk: Clock,
{
    let state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(CallbackError::MissingState)?;
    if !is_well_formed_state(state) {
        return Err(CallbackError::Malformed("state"));
    }
    let code = match (&params.error, params.code.as_deref()) {
        (Some(_), _) | (None, None) => None,
        (None, Some("")) => None,
        (None, Some(code)) if code.len() > MAX_PARAM_LEN || !code.bytes().all(is_code_byte) => {
            return Err(CallbackError::Malformed("code"));
        }
        (None, Some(code)) => Some(code),
    };
    // Taken before anything else: from here on this state is spent, whatever happens.
    let pending = state_store
        .take_oauth_state(state, clock.now())
        .await?
        .ok_or(CallbackError::UnknownState)?;
    // A state of an identity this deployment does not have (any more) is as good as unknown.
    let identity = pending.identity.clone();
    let (store, used) = secrets.get(&identity).ok_or(CallbackError::UnknownState)?;
    if let Some(error) = &params.error {
        return Err(CallbackError::Denied(known_error(error)));
    }
    let code = code.ok_or(CallbackError::MissingCode)?;
    let secret = store.load().await?;
    let redirect_uri = secret.redirect_uri.clone().filter(|u| !u.is_empty());
    let (Some(redirect_uri), false) = (redirect_uri, secret.client_id.is_empty()) else {
        return Err(CallbackError::NotInstalled(identity));
    };
    // Without an organisation to compare with, any account that opens the link would do.
    let org_id = secret
        .org_id
        .clone()
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| CallbackError::NoOrg(identity.clone()))?;
    let webex_deadline = deadline.checked_sub(STORE_RESERVE).unwrap_or(deadline);
    let grant = webex
        .exchange_code(
            &secret.client_id,
            &secret.client_secret,
            code,
            &redirect_uri,
            webex_deadline,
        )
        .await
        .map_err(|e| match e {
            TokenError::InvalidGrant(_) | TokenError::InvalidClient(_) | TokenError::Refused(_) => {
                CallbackError::CodeRefused(identity.clone())
            }
            TokenError::Failed(_) => CallbackError::WebexUnavailable,
        })?;
    let account = webex
        .account(&grant.access_token, webex_deadline)
        .await
        .map_err(|_| CallbackError::WebexUnavailable)?;
    let authorised_by = check_account(&account, &org_id, &pending)?;
    check_scopes(
        webex,
        (&identity, used),
        &grant.access_token,
        &org_id,
        clock.now(),
        webex_deadline,
    )
    .await?;

    let owner = lock_owner("callback");
    let lock_deadline = deadline.checked_sub(SAVE_TIME).unwrap_or(deadline);
    let mut lock = TokenLock::acquire(state_store, clock, &identity, &owner, lock_deadline).await?;
    let stored = store_grant(
        &mut lock,
        (&identity, &pending.scopes),
        store,
        (&secret.client_id, &org_id),
        grant,
        authorised_by,
        clock,
    )
    .await;
    lock.release().await;
    let refresh_token_expires_at = stored?;
    Ok(Authorised {
        identity,
        org_id,
        refresh_token_expires_at,
    })
}

/// The account must be of the identity's organisation and, when the link named a person, be
/// that person: who it was is recorded with the tokens.
fn check_account(
    account: &Account,
    org_id: &str,
    pending: &PendingAuthorisation,
) -> Result<AuthorisedBy, CallbackError> {
    if account.org_id != org_id {
        return Err(CallbackError::OrgMismatch(pending.identity.clone()));
    }
    let email = match &pending.expected_email {
        Some(expected) => Some(
            account
                .email_matching(expected)
                .ok_or_else(|| CallbackError::WrongPerson(pending.identity.clone()))?
                .to_string(),
        ),
        None => account.emails.first().cloned(),
    };
    Ok(AuthorisedBy {
        email,
        person_id: account.person_id.clone(),
    })
}

/// Under the lock: a fresh read, the authorisation's own fields replaced, saved only while the
/// lock still holds. Whatever a collector refreshed meanwhile is replaced by the new grant, and
/// client fields an operator changed meanwhile are kept.
async fn store_grant<St, Sec, Clk>(
    lock: &mut TokenLock<'_, St, Clk>,
    (identity, scopes): (&IdentityName, &str),
    store: &Sec,
    (client_id, org_id): (&str, &str),
    grant: crate::ports::TokenGrant,
    authorised_by: AuthorisedBy,
    clock: &Clk,
) -> Result<Option<Timestamp>, CallbackError>
where
    St: LeaseStore,
    Sec: SecretStore,
    Clk: Clock,
{
    let mut secret = store.load().await?;
    // The code was exchanged with the client and checked against the organisation read
    // before: tokens of another client, or an account of another org, must not land here.
    if secret.client_id != client_id {
        return Err(CallbackError::IdentityChanged(identity.clone()));
    }
    if secret.org_id.as_deref() != Some(org_id) {
        return Err(CallbackError::OrgMismatch(identity.clone()));
    }
    let now = clock.now();
    secret.apply(grant, now);
    secret.scopes = Some(scopes.to_string());
    secret.authorised_by = Some(authorised_by);
    secret.authorised_at = Some(now);
    if !lock.renew().await? {
        return Err(LockError::Lost(identity.clone()).into());
    }
    store.save(&secret).await?;
    Ok(secret.refresh_token_expires_at)
}

/// Webex does not say which scopes a token got, so one smallest read of a stream per scope
/// the identity's streams need shows it: 403 means that scope is missing.
async fn check_scopes<W: EventSource>(
    webex: &W,
    (identity, used): (&IdentityName, &IdentityUse),
    token: &crate::secret::AccessToken,
    org_id: &str,
    now: Timestamp,
    deadline: Instant,
) -> Result<(), CallbackError> {
    for stream in used.probes() {
        check_scope(webex, (identity, stream), token, org_id, now, deadline).await?;
    }
    Ok(())
}

async fn check_scope<W: EventSource>(
    webex: &W,
    (identity, stream): (&IdentityName, StreamId),
    token: &crate::secret::AccessToken,
    org_id: &str,
    now: Timestamp,
    deadline: Instant,
) -> Result<(), CallbackError> {
    let probe = PageRequest {
        target: PageTarget::Query {
            bounds: QueryBounds {
                from: now.minus(Duration::from_secs(60)),
                to: now,
                org: org_id.to_string(),
                extra: Vec::new(),
            },
            position: Position::First,
        },
        max: 1,
    };
    let credential = crate::secret::Credential::Bearer(token.clone());
    match webex
        .fetch_page(&stream.source(), &credential, &probe, deadline)
        .await
    {
        Ok(_) => Ok(()),
        Err(SourceError::Forbidden { .. }) => Err(CallbackError::MissingScope {
            identity: identity.clone(),
            scope: stream.spec().scope,
        }),
        Err(_) => Err(CallbackError::WebexUnavailable),
    }
}

fn is_code_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// The OAuth error codes (RFC 6749 §4.1.2.1); anything else is reported generically, so the
/// page never repeats what an attacker put in the link.
fn known_error(error: &str) -> &'static str {
    const KNOWN: [&str; 7] = [
        "access_denied",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == error)
        .unwrap_or("an error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_states_are_well_formed() {
        let good = "0123456789abcdef".repeat(4);
        assert!(is_well_formed_state(&good));
        for bad in [
            "",
            "abc",
            &good.to_uppercase(),
            &format!("{good}0"),
            &"g".repeat(64),
            "<script>",
        ] {
            assert!(!is_well_formed_state(bad), "{bad}");
        }
    }

    #[test]
    fn the_callback_answers_before_lambda_stops_it_and_within_its_budget() {
        let now = Instant::now();
        let cases = [
            (None, CALLBACK_BUDGET),
            (Some(Duration::from_secs(15)), CALLBACK_BUDGET),
            (Some(Duration::from_secs(300)), CALLBACK_BUDGET),
            (Some(Duration::from_secs(10)), Duration::from_secs(9)),
            (Some(Duration::from_millis(500)), Duration::ZERO),
        ];
        for (remaining, budget) in cases {
            assert_eq!(
                callback_deadline(now, remaining),
                now + budget,
                "{remaining:?}"
            );
        }
    }

    #[test]
    fn only_the_identitys_org_and_the_named_person_pass() {
        let account = Account {
            person_id: "P1".into(),
            org_id: "ORG".into(),
            emails: vec!["alice@example.com".into(), "a.smith@example.com".into()],
            display_name: Some("Alice".into()),
        };
        let pending = |email: Option<&str>| PendingAuthorisation {
            identity: IdentityName::ADMIN,
            expected_email: email.map(str::to_string),
            scopes: IdentityUse::by_default(&IdentityName::ADMIN).requested_scopes(),
        };
        let by = |email: &str| AuthorisedBy {
            email: Some(email.into()),
            person_id: "P1".into(),
        };
        let passes = [
            (None, by("alice@example.com")),
            (Some("A.Smith@Example.com "), by("a.smith@example.com")),
        ];
        for (expected, recorded) in passes {
            assert_eq!(
                check_account(&account, "ORG", &pending(expected)).unwrap(),
                recorded
            );
        }
        assert!(matches!(
            check_account(&account, "OTHER", &pending(None)),
            Err(CallbackError::OrgMismatch(name)) if name == IdentityName::ADMIN
        ));
        for expected in ["bob@example.com", "alice@example.co", "", "alice"] {
            assert!(
                matches!(
                    check_account(&account, "ORG", &pending(Some(expected))),
                    Err(CallbackError::WrongPerson(ref name)) if *name == IdentityName::ADMIN
                ),
                "{expected}"
            );
        }
    }

    #[test]
    fn unknown_error_codes_are_not_repeated() {
        assert_eq!(known_error("access_denied"), "access_denied");
        assert_eq!(known_error("<b>pwned</b>"), "an error");
    }
}
