//! Access tokens of the client-credentials flows (Graph's Entra endpoint, General C's own):
//! who the token is for, until when by the sim clock. The Webex store (`tokens.rs`) holds
//! people, scopes and refresh tokens these flows do not have.

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::duration_ms;
use crate::rng::{alphanumeric, rng_for};

/// Which token endpoint issued a token: a Graph token is no good for General C.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Microsoft Graph, for this tenant.
    Graph {
        tenant: String,
    },
    GeneralC,
}

/// The holder of a valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientGrant {
    pub client_id: String,
    pub audience: Audience,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    Unknown,
    Expired,
}

#[derive(Debug)]
pub(crate) struct ClientTokens {
    seed: u64,
    minted: u64,
    held: HashMap<String, (ClientGrant, i64)>,
}

const CLIENT_TOKEN_TAG: u64 = 0xC11E_7700;

impl ClientTokens {
    pub(crate) fn new(seed: u64) -> ClientTokens {
        ClientTokens {
            seed,
            minted: 0,
            held: HashMap::new(),
        }
    }

    /// A new token valid for `ttl` of sim-clock time from `now_ms`. Graph's look like JWTs.
    pub(crate) fn issue(&mut self, grant: ClientGrant, now_ms: i64, ttl: Duration) -> String {
        self.minted += 1;
        let mut rng = rng_for(&[self.seed, CLIENT_TOKEN_TAG, self.minted]);
        let token = match grant.audience {
            Audience::Graph { .. } => format!(
                "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
                alphanumeric(&mut rng, 120),
                alphanumeric(&mut rng, 43)
            ),
            Audience::GeneralC => format!("gc_{}", alphanumeric(&mut rng, 40)),
        };
        let expires_at_ms = now_ms.saturating_add(duration_ms(ttl));
        self.held.insert(token.clone(), (grant, expires_at_ms));
        token
    }

    pub(crate) fn check(&self, token: &str, now_ms: i64) -> Result<&ClientGrant, TokenRefusal> {
        let (grant, expires_at_ms) = self.held.get(token).ok_or(TokenRefusal::Unknown)?;
        if now_ms >= *expires_at_ms {
            return Err(TokenRefusal::Expired);
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_by_the_sim_clock() {
        let mut tokens = ClientTokens::new(1);
        let grant = ClientGrant {
            client_id: "app".into(),
            audience: Audience::GeneralC,
        };
        let token = tokens.issue(grant.clone(), 1_000, Duration::from_secs(60));
        assert_eq!(tokens.check(&token, 60_999), Ok(&grant));
        assert_eq!(tokens.check(&token, 61_000), Err(TokenRefusal::Expired));
        assert_eq!(tokens.check("other", 0), Err(TokenRefusal::Unknown));
        let graph = ClientGrant {
            client_id: "app".into(),
            audience: Audience::Graph { tenant: "t".into() },
        };
        let jwt = tokens.issue(graph, 0, Duration::from_secs(1));
        assert!(jwt.starts_with("eyJ") && jwt.matches('.').count() == 2);
        assert_ne!(jwt, token);
    }
}
