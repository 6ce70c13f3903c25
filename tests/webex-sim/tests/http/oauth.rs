//! The OAuth endpoints: token refresh, rotation, refusals and the authorization-code flow.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;
use webex_sim::{
    AUDIT_SCOPE, COMPLIANCE_SCOPE, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimConfig,
};

use crate::support::{Fixture, start};

const REDIRECT: &str = "https://collector.example.com/oauth/callback";

async fn refresh(f: &Fixture, refresh_token: &str) -> Response {
    f.client
        .post(f.url("/access_token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
}

async fn json(response: Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn assert_invalid_grant(response: Response) {
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let f = start(SimConfig::default()).await;
    let token = f.sim.issue_refresh_token(&[COMPLIANCE_SCOPE]);
    let response = refresh(&f, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json(response).await;
    assert_eq!(body["refresh_token"], token.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 14 * 86_400);
    assert_eq!(body["refresh_token_expires_in"], 90 * 86_400);

    // The new access token carries the refresh token's scopes, and only those.
    let access = body["access_token"].as_str().unwrap();
    assert!(access.len() > 60);
    assert_eq!(f.get("/events", access, &[]).await.status(), 200);
    let admin = f.admin_query(0, 1);
    assert_eq!(
        f.get("/adminAudit/events", access, &admin).await.status(),
        403
    );

    assert_eq!(refresh(&f, &token).await.status(), 200, "still valid");
    assert!(f.sim.refresh_token_is_valid(&token));
}

#[tokio::test]
async fn refresh_with_rotation_retires_the_old_token() {
    let f = start(SimConfig {
        rotate_refresh_tokens: true,
        ..SimConfig::default()
    })
    .await;
    let old = f.sim.issue_refresh_token(&[AUDIT_SCOPE]);
    let body = json(refresh(&f, &old).await).await;
    let new = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(!f.sim.refresh_token_is_valid(&old));
    assert!(f.sim.refresh_token_is_valid(&new));
    assert_invalid_grant(refresh(&f, &old).await).await;
    assert_eq!(refresh(&f, &new).await.status(), 200);
}

#[tokio::test]
async fn refused_refresh_tokens_get_invalid_grant() {
    let f = start(SimConfig::default()).await;
    assert_invalid_grant(refresh(&f, "never-issued").await).await;

    let expiring = f.sim.issue_refresh_token(&[AUDIT_SCOPE]);
    f.sim.advance(Duration::from_secs(90 * 86_400));
    assert_invalid_grant(refresh(&f, &expiring).await).await;

    let revoked = f.sim.issue_refresh_token(&[AUDIT_SCOPE]);
    f.sim.seed_refresh_token("seeded-token", &[AUDIT_SCOPE]);
    assert_eq!(refresh(&f, "seeded-token").await.status(), 200);
    f.sim.revoke_refresh_tokens();
    assert_invalid_grant(refresh(&f, &revoked).await).await;
    assert_invalid_grant(refresh(&f, "seeded-token").await).await;

    let log = f.sim.token_requests();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|r| r.grant_type == "refresh_token"));
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [400, 400, 200, 400, 400]
    );
}

#[tokio::test]
async fn wrong_client_is_invalid_client() {
    let f = start(SimConfig::default()).await;
    let token = f.sim.issue_refresh_token(&[AUDIT_SCOPE]);
    let response = f
        .client
        .post(f.url("/access_token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", "wrong"),
            ("refresh_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"], "invalid_client");
}

#[tokio::test]
async fn token_endpoint_takes_form_bodies_only() {
    let f = start(SimConfig::default()).await;
    let token = f.sim.issue_refresh_token(&[AUDIT_SCOPE]);
    let body = serde_json::json!({
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": token,
    });
    let response = f
        .client
        .post(f.url("/access_token"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["error"], "invalid_request");
    // The same fields as a query string on an empty form are not accepted either.
    let response = f
        .client
        .post(f.url("/access_token"))
        .query(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
        .form(&[("client_id", DEFAULT_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(refresh(&f, &token).await.status(), 200);
}

async fn authorize(f: &Fixture, extra: &[(&str, &str)]) -> Response {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "audit:events_read spark:kms"),
        ("state", "st/ate 1"),
    ];
    for (key, value) in extra {
        query.retain(|(k, _)| k != key);
        query.push((key, value));
    }
    f.client
        .get(f.url("/authorize"))
        .query(&query)
        .send()
        .await
        .unwrap()
}

/// The query parameters of the redirect's `Location`.
fn redirect_params(response: &Response) -> Vec<(String, String)> {
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    let (target, query) = location.split_once('?').unwrap();
    assert_eq!(target, REDIRECT);
    let url = reqwest::Url::parse(&format!("http://x/?{query}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn exchange_code(f: &Fixture, code: &str, redirect_uri: &str) -> Response {
    f.client
        .post(f.url("/access_token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn authorization_code_flow() {
    let f = start(SimConfig::default()).await;
    let params = redirect_params(&authorize(&f, &[]).await);
    assert_eq!(params[0].0, "code");
    assert_eq!(params[1], ("state".to_owned(), "st/ate 1".to_owned()));
    let code = params[0].1.clone();

    let response = exchange_code(&f, &code, REDIRECT).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    let access = body["access_token"].as_str().unwrap();
    let admin = f.admin_query(0, 1);
    assert_eq!(
        f.get("/adminAudit/events", access, &admin).await.status(),
        200
    );
    assert!(
        f.sim
            .refresh_token_is_valid(body["refresh_token"].as_str().unwrap())
    );

    assert_invalid_grant(exchange_code(&f, &code, REDIRECT).await).await;

    let code = redirect_params(&authorize(&f, &[]).await)[0].1.clone();
    assert_invalid_grant(exchange_code(&f, &code, "https://elsewhere.example.com/cb").await).await;

    let code = redirect_params(&authorize(&f, &[]).await)[0].1.clone();
    f.sim.advance(Duration::from_secs(300));
    assert_invalid_grant(exchange_code(&f, &code, REDIRECT).await).await;

    let grants: Vec<String> = f
        .sim
        .token_requests()
        .into_iter()
        .map(|r| r.grant_type)
        .collect();
    assert!(grants.iter().all(|g| g == "authorization_code"));
}

#[tokio::test]
async fn declined_and_broken_authorizations() {
    let f = start(SimConfig::default()).await;
    f.sim.deny_next_authorization();
    let params = redirect_params(&authorize(&f, &[]).await);
    assert_eq!(params[0], ("error".to_owned(), "access_denied".to_owned()));
    assert!(params.iter().any(|(k, _)| k == "error_description"));
    assert!(params.iter().any(|(k, v)| k == "state" && v == "st/ate 1"));
    // Only the next one.
    assert_eq!(redirect_params(&authorize(&f, &[]).await)[0].0, "code");

    for extra in [[("client_id", "stranger")], [("response_type", "token")]] {
        let response = authorize(&f, &extra).await;
        assert_eq!(response.status(), 400, "{extra:?}");
        assert!(response.headers().get("location").is_none());
    }
}
