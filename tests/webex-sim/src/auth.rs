//! Bearer-token checks shared by every non-OAuth endpoint.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::api_error::{api_error, unauthorized};
use crate::encoding::unbase64_standard;
use crate::state::Shared;
use crate::tokens::Grant;

/// The token from `Authorization: Bearer <token>`; `None` for any other shape.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The user and password of `Authorization: Basic <base64(user:password)>`; `None` for any
/// other shape.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let decoded = String::from_utf8(unbase64_standard(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Why a request was not let in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// Missing, unknown or expired (by the sim clock) token: 401.
    Unauthorized,
    /// A valid token without this scope: 403 naming it.
    MissingScope(String),
}

impl AuthFailure {
    pub(crate) fn response(&self, tracking_id: &str) -> Response {
        match self {
            AuthFailure::Unauthorized => unauthorized(tracking_id),
            AuthFailure::MissingScope(scope) => api_error(
                StatusCode::FORBIDDEN,
                tracking_id,
                &format!("The access token is missing the required scope '{scope}'."),
            ),
        }
    }
}

/// The grant behind the bearer token, if it is valid and holds `scope` (when one is needed).
pub(crate) fn authorize(
    shared: &Shared,
    bearer: Option<&str>,
    scope: Option<&str>,
) -> Result<Grant, AuthFailure> {
    let token = bearer.ok_or(AuthFailure::Unauthorized)?;
    let now_ms = shared.clock.now_ms();
    let grant = shared
        .lock()
        .tokens
        .authenticate(token, now_ms)
        .cloned()
        .map_err(|_| AuthFailure::Unauthorized)?;
    match scope {
        Some(scope) if !grant.scopes.iter().any(|s| s == scope) => {
            Err(AuthFailure::MissingScope(scope.to_owned()))
        }
        _ => Ok(grant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_only_bearer_credentials() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("Bearer ", None),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers).as_deref(), expected, "{value}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_basic_credentials() {
        let cases = [
            ("Basic dXNlcjpwYTpzcw==", Some(("user", "pa:ss"))),
            ("basic dXNlcjo=", Some(("user", ""))),
            ("Basic dXNlcg==", None),
            ("Bearer dXNlcjpwYXNz", None),
            ("Basic !!!", None),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            let found = basic_credentials(&headers);
            let found = found.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
            assert_eq!(found, expected, "{value}");
        }
    }
}
