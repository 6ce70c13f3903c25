//! Completing an OAuth authorisation. Webex's consent page redirects the browser back with a
//! code and the one-time `state` that `webexctl auth url` created; only a state taken from the
//! store (unknown, expired and used ones are refused) lets a code into a profile's secret, so
//! nobody without AWS access can plant tokens.
//! <https://developer.webex.com/docs/integrations>

use std::time::Duration;

use tokio::time::Instant;

use crate::ports::{
    AccountInfo, Clock, EventSource, PageRequest, PageTarget, SecretStore, SourceError, StateStore,
    StoreError, TokenError, TokenIssuer,
};
use crate::stream::{Profile, StreamId};
use crate::time::Timestamp;

/// How long an authorize link stays usable.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// Webex codes and our states are far shorter; anything longer is not ours.
const MAX_PARAM_LEN: usize = 1024;
/// The callback answers a browser: Webex gets this long in all.
const WEBEX_BUDGET: Duration = Duration::from_secs(15);

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
    #[error("the {} profile is not installed (no client id or secret)", .0.name())]
    NotInstalled(Profile),
    #[error("Webex refused the authorization code for the {} profile", .0.name())]
    CodeRefused(Profile),
    #[error("Webex could not be reached or failed")]
    WebexUnavailable,
    #[error("the account belongs to another organisation than the {} profile's", .0.name())]
    OrgMismatch(Profile),
    #[error("the token lacks the {scope} scope the {} profile needs", .profile.name())]
    MissingScope {
        profile: Profile,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorised {
    pub profile: Profile,
    pub org_id: String,
    pub refresh_token_expires_at: Option<Timestamp>,
}

/// The secret store of each profile.
#[derive(Debug)]
pub struct ProfileSecrets<Sec> {
    pub admin: Sec,
    pub compliance: Sec,
}

impl<Sec> ProfileSecrets<Sec> {
    pub fn of(&self, profile: Profile) -> &Sec {
        match profile {
            Profile::Admin => &self.admin,
            Profile::Compliance => &self.compliance,
        }
    }
}

/// States are 64 lowercase hex characters (`webexctl auth url` makes 32 random bytes).
pub fn is_well_formed_state(state: &str) -> bool {
    state.len() == 64
        && state
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Completes the authorisation the redirect carries, or says why not. Writes nothing unless
/// every check passes.
pub async fn complete_authorisation<St, Sec, W, Clk>(
    params: &CallbackParams,
    state_store: &St,
    secrets: &ProfileSecrets<Sec>,
    webex: &W,
    clock: &Clk,
) -> Result<Authorised, CallbackError>
where
    St: StateStore,
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
    let profile = state_store
        .take_oauth_state(state, clock.now())
        .await?
        .ok_or(CallbackError::UnknownState)?;
    if let Some(error) = &params.error {
        return Err(CallbackError::Denied(known_error(error)));
    }
    let code = code.ok_or(CallbackError::MissingCode)?;
    let store = secrets.of(profile);
    let mut secret = store.load().await?;
    let redirect_uri = secret.redirect_uri.clone().filter(|u| !u.is_empty());
    let (Some(redirect_uri), false) = (redirect_uri, secret.client_id.is_empty()) else {
        return Err(CallbackError::NotInstalled(profile));
    };
    let grant = webex
        .exchange_code(
            &secret.client_id,
            &secret.client_secret,
            code,
            &redirect_uri,
        )
        .await
        .map_err(|e| match e {
            TokenError::InvalidGrant(_) | TokenError::InvalidClient(_) => {
                CallbackError::CodeRefused(profile)
            }
            TokenError::Failed(_) => CallbackError::WebexUnavailable,
        })?;
    let org_id = webex
        .org_of(&grant.access_token)
        .await
        .map_err(|_| CallbackError::WebexUnavailable)?;
    if secret
        .org_id
        .as_deref()
        .is_some_and(|expected| !expected.is_empty() && expected != org_id)
    {
        return Err(CallbackError::OrgMismatch(profile));
    }
    check_scope(webex, profile, &grant.access_token, &org_id, clock.now()).await?;
    secret.apply(grant, clock.now());
    secret.org_id = Some(org_id.clone());
    secret.scopes = Some(profile.requested_scopes());
    store.save(&secret).await?;
    Ok(Authorised {
        profile,
        org_id,
        refresh_token_expires_at: secret.refresh_token_expires_at,
    })
}

/// Webex does not say which scopes a token got, so one smallest read of the profile's first
/// stream shows it: 403 means the scope is missing.
async fn check_scope<W: EventSource>(
    webex: &W,
    profile: Profile,
    token: &crate::secret::AccessToken,
    org_id: &str,
    now: Timestamp,
) -> Result<(), CallbackError> {
    let stream = match profile {
        Profile::Admin => StreamId::AdminAudit,
        Profile::Compliance => StreamId::ComplianceEvents,
    };
    let spec = stream.spec();
    let mut params = Vec::new();
    if spec.takes_org_id {
        params.push(("orgId", org_id.to_string()));
    }
    params.push((
        spec.from_param,
        now.minus(Duration::from_secs(60)).to_rfc3339(),
    ));
    params.push((spec.to_param, now.to_rfc3339()));
    let probe = PageRequest {
        target: PageTarget::Query { params, offset: 0 },
        max: 1,
    };
    match webex
        .fetch_page(&spec, token, &probe, Instant::now() + WEBEX_BUDGET)
        .await
    {
        Ok(_) => Ok(()),
        Err(SourceError::Forbidden { .. }) => Err(CallbackError::MissingScope {
            profile,
            scope: profile.scope(),
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
    fn unknown_error_codes_are_not_repeated() {
        assert_eq!(known_error("access_denied"), "access_denied");
        assert_eq!(known_error("<b>pwned</b>"), "an error");
    }
}
