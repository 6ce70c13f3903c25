//! OAuth state: access tokens, refresh tokens and authorization codes, all timed by the sim
//! clock. Pure bookkeeping; the HTTP side is in `oauth_api.rs`.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::clock::duration_ms;
use crate::person::SimPerson;
use crate::rng::{alphanumeric, rng_for, uuid};

/// An authorization code is good for five minutes, as on Webex.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(300);

/// Who a valid access token belongs to and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The person who consented; `/people/me` describes them.
    pub person: SimPerson,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthError {
    Unknown,
    Expired,
}

/// Why a token request was refused; each maps to one OAuth error code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GrantError {
    /// `invalid_grant` (400): a person must authorise again.
    InvalidGrant(&'static str),
}

/// The success body of `POST /access_token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_token_expires_in: i64,
    pub token_type: &'static str,
}

#[derive(Debug)]
struct AccessToken {
    grant: Grant,
    expires_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Live,
    /// Replaced by a newer token (rotation) or revoked: refused from now on.
    Dead,
}

#[derive(Debug)]
struct RefreshToken {
    grant: Grant,
    expires_at_ms: i64,
    state: RefreshState,
}

#[derive(Debug)]
struct AuthCode {
    grant: Grant,
    redirect_uri: String,
    expires_at_ms: i64,
}

/// Token lifetimes and rotation, copied from the config.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lifetimes {
    pub access: Duration,
    pub refresh: Duration,
    pub rotate_refresh: bool,
}

#[derive(Debug)]
pub(crate) struct TokenStore {
    seed: u64,
    minted: u64,
    lifetimes: Lifetimes,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    /// Refresh tokens replaced under rotation: the refresh token and the access token the
    /// exchange answered with.
    replaced_by: HashMap<String, (String, String)>,
}

/// Mixed into seeds so codes and tokens come from different sequences.
const TOKEN_TAG: u64 = 0x70_6B_65_6E;

impl TokenStore {
    pub(crate) fn new(seed: u64, lifetimes: Lifetimes) -> TokenStore {
        TokenStore {
            seed,
            minted: 0,
            lifetimes,
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            replaced_by: HashMap::new(),
        }
    }

    /// A long, random-looking, deterministic token in the shape of Webex tokens
    /// (`<64 chars>_<cluster>_<org uuid>`), distinct enough to grep logs for.
    fn mint(&mut self) -> String {
        loop {
            self.minted += 1;
            let mut rng = rng_for(&[self.seed, TOKEN_TAG, self.minted]);
            let mut org = rng_for(&[self.seed, TOKEN_TAG]);
            let token = format!("{}_PF84_{}", alphanumeric(&mut rng, 64), uuid(&mut org));
            if !self.access.contains_key(&token)
                && !self.refresh.contains_key(&token)
                && !self.codes.contains_key(&token)
            {
                return token;
            }
        }
    }

    pub(crate) fn issue_access(&mut self, grant: Grant, now_ms: i64, ttl: Duration) -> String {
        let token = self.mint();
        self.access.insert(
            token.clone(),
            AccessToken {
                grant,
                expires_at_ms: now_ms.saturating_add(duration_ms(ttl)),
            },
        );
        token
    }

    pub(crate) fn issue_refresh(&mut self, grant: Grant, now_ms: i64) -> String {
        let token = self.mint();
        self.insert_refresh(token.clone(), grant, now_ms);
        token
    }

    /// Registers a refresh token chosen by the caller (the demo binary's `--refresh-token`).
    pub(crate) fn insert_refresh(&mut self, token: String, grant: Grant, now_ms: i64) {
        self.refresh.insert(
            token,
            RefreshToken {
                grant,
                expires_at_ms: now_ms.saturating_add(duration_ms(self.lifetimes.refresh)),
                state: RefreshState::Live,
            },
        );
    }

    pub(crate) fn authenticate(&self, token: &str, now_ms: i64) -> Result<&Grant, AuthError> {
        let access = self.access.get(token).ok_or(AuthError::Unknown)?;
        if now_ms >= access.expires_at_ms {
            return Err(AuthError::Expired);
        }
        Ok(&access.grant)
    }

    pub(crate) fn refresh_is_valid(&self, token: &str, now_ms: i64) -> bool {
        self.refresh
            .get(token)
            .is_some_and(|r| r.state == RefreshState::Live && now_ms < r.expires_at_ms)
    }

    /// What the exchange that rotated `token` out answered: (refresh token, access token).
    pub(crate) fn replacement_of(&self, token: &str) -> Option<(String, String)> {
        self.replaced_by.get(token).cloned()
    }

    pub(crate) fn revoke_all_refresh(&mut self) {
        for token in self.refresh.values_mut() {
            token.state = RefreshState::Dead;
        }
    }

    pub(crate) fn issue_code(&mut self, grant: Grant, redirect_uri: &str, now_ms: i64) -> String {
        let code = self.mint();
        self.codes.insert(
            code.clone(),
            AuthCode {
                grant,
                redirect_uri: redirect_uri.to_owned(),
                expires_at_ms: now_ms.saturating_add(duration_ms(CODE_TTL)),
            },
        );
        code
    }

    /// `grant_type=authorization_code`. A code works once: any attempt consumes it.
    pub(crate) fn exchange_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        now_ms: i64,
    ) -> Result<TokenResponse, GrantError> {
        let code = self.codes.remove(code).ok_or(GrantError::InvalidGrant(
            "The authorization code is invalid or was already used.",
        ))?;
        if now_ms >= code.expires_at_ms {
            return Err(GrantError::InvalidGrant(
                "The authorization code has expired.",
            ));
        }
        if code.grant.client_id != client_id {
            return Err(GrantError::InvalidGrant(
                "The authorization code was issued to another client.",
            ));
        }
        if code.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant(
                "redirect_uri does not match the one used in the authorization request.",
            ));
        }
        let refresh_token = self.issue_refresh(code.grant.clone(), now_ms);
        Ok(self.answer(code.grant, refresh_token, now_ms))
    }

    /// `grant_type=refresh_token`. Without rotation the same refresh token comes back, with its
    /// remaining lifetime; with rotation a new one does and the old one dies.
    pub(crate) fn exchange_refresh(
        &mut self,
        token: &str,
        client_id: &str,
        now_ms: i64,
    ) -> Result<TokenResponse, GrantError> {
        let refresh = self
            .refresh
            .get_mut(token)
            .ok_or(GrantError::InvalidGrant("The refresh token is invalid."))?;
        match refresh.state {
            RefreshState::Dead => {
                return Err(GrantError::InvalidGrant(
                    "The refresh token was revoked or replaced.",
                ));
            }
            RefreshState::Live if now_ms >= refresh.expires_at_ms => {
                return Err(GrantError::InvalidGrant("The refresh token has expired."));
            }
            RefreshState::Live => {}
        }
        if refresh.grant.client_id != client_id {
            return Err(GrantError::InvalidGrant(
                "The refresh token was issued to another client.",
            ));
        }
        let grant = refresh.grant.clone();
        if self.lifetimes.rotate_refresh {
            refresh.state = RefreshState::Dead;
            let new_token = self.issue_refresh(grant.clone(), now_ms);
            let answer = self.answer(grant, new_token, now_ms);
            self.replaced_by.insert(
                token.to_owned(),
                (answer.refresh_token.clone(), answer.access_token.clone()),
            );
            Ok(answer)
        } else {
            Ok(self.answer(grant, token.to_owned(), now_ms))
        }
    }

    fn answer(&mut self, grant: Grant, refresh_token: String, now_ms: i64) -> TokenResponse {
        let refresh_expires_at = self
            .refresh
            .get(&refresh_token)
            .map_or(now_ms, |r| r.expires_at_ms);
        let access_token = self.issue_access(grant, now_ms, self.lifetimes.access);
        TokenResponse {
            access_token,
            expires_in: duration_ms(self.lifetimes.access) / 1_000,
            refresh_token,
            refresh_token_expires_in: refresh_expires_at.saturating_sub(now_ms) / 1_000,
            token_type: "Bearer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn store(rotate_refresh: bool) -> TokenStore {
        TokenStore::new(
            1,
            Lifetimes {
                access: Duration::from_secs(14 * 86_400),
                refresh: Duration::from_secs(90 * 86_400),
                rotate_refresh,
            },
        )
    }

    fn grant(scope: &str) -> Grant {
        Grant {
            client_id: "c".into(),
            scopes: vec![scope.into()],
            person: SimPerson::new("a@example.com", "A", "ORG"),
        }
    }

    #[test]
    fn tokens_are_long_distinct_and_deterministic() {
        let (mut a, mut b) = (store(false), store(false));
        let t1 = a.issue_access(grant("s"), 0, Duration::from_secs(1));
        let t2 = a.issue_access(grant("s"), 0, Duration::from_secs(1));
        assert!(t1.len() > 80);
        assert_ne!(t1, t2);
        assert_eq!(b.issue_access(grant("s"), 0, Duration::from_secs(1)), t1);
    }

    #[test]
    fn access_tokens_expire_by_the_sim_clock() {
        let mut s = store(false);
        let token = s.issue_access(grant("s"), 1_000, Duration::from_secs(10));
        assert_eq!(s.authenticate(&token, 10_999), Ok(&grant("s")));
        assert_eq!(s.authenticate(&token, 11_000), Err(AuthError::Expired));
        assert_eq!(s.authenticate("nope", 0), Err(AuthError::Unknown));
    }

    #[test]
    fn refresh_without_rotation_returns_the_same_token() {
        let mut s = store(false);
        let refresh = s.issue_refresh(grant("scope-a"), 0);
        let answer = s.exchange_refresh(&refresh, "c", 10 * DAY_MS).unwrap();
        assert_eq!(answer.refresh_token, refresh);
        assert_eq!(answer.refresh_token_expires_in, 80 * 86_400);
        assert_eq!(answer.expires_in, 14 * 86_400);
        assert_eq!(
            s.authenticate(&answer.access_token, 10 * DAY_MS)
                .unwrap()
                .scopes,
            ["scope-a"]
        );
        assert!(s.exchange_refresh(&refresh, "c", 11 * DAY_MS).is_ok());
    }

    #[test]
    fn refresh_with_rotation_kills_the_old_token() {
        let mut s = store(true);
        let old = s.issue_refresh(grant("s"), 0);
        let answer = s.exchange_refresh(&old, "c", DAY_MS).unwrap();
        assert_ne!(answer.refresh_token, old);
        assert_eq!(answer.refresh_token_expires_in, 90 * 86_400);
        assert!(!s.refresh_is_valid(&old, DAY_MS));
        assert!(s.refresh_is_valid(&answer.refresh_token, DAY_MS));
        assert!(matches!(
            s.exchange_refresh(&old, "c", DAY_MS),
            Err(GrantError::InvalidGrant(_))
        ));
        assert_eq!(
            s.replacement_of(&old),
            Some((answer.refresh_token.clone(), answer.access_token))
        );
        assert_eq!(s.replacement_of(&answer.refresh_token), None);
    }

    #[test]
    fn refused_refreshes() {
        let mut s = store(false);
        let refresh = s.issue_refresh(grant("s"), 0);
        assert!(s.exchange_refresh(&refresh, "other", 0).is_err());
        assert!(s.exchange_refresh("unknown", "c", 0).is_err());
        assert!(
            s.exchange_refresh(&refresh, "c", 90 * DAY_MS).is_err(),
            "expired"
        );
        s.revoke_all_refresh();
        assert!(s.exchange_refresh(&refresh, "c", 0).is_err(), "revoked");
        assert!(!s.refresh_is_valid(&refresh, 0));
    }

    #[test]
    fn codes_are_one_time_and_checked() {
        let mut s = store(false);
        let code = s.issue_code(grant("s"), "https://cb", 0);
        assert!(s.exchange_code(&code, "c", "https://cb", 299_999).is_ok());
        assert!(
            s.exchange_code(&code, "c", "https://cb", 0).is_err(),
            "reused"
        );

        let code = s.issue_code(grant("s"), "https://cb", 0);
        assert!(
            s.exchange_code(&code, "c", "https://cb", 300_000).is_err(),
            "expired"
        );
        let code = s.issue_code(grant("s"), "https://cb", 0);
        assert!(
            s.exchange_code(&code, "c", "https://other", 0).is_err(),
            "redirect"
        );
        let code = s.issue_code(grant("s"), "https://cb", 0);
        assert!(
            s.exchange_code(&code, "x", "https://cb", 0).is_err(),
            "client"
        );
    }
}
