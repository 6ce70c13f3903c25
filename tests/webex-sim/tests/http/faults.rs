//! Injected failures as a client meets them.

use std::time::{Duration, Instant};

use webex_sim::{DEFAULT_START_MS, Fault, GenerateSpec, SimConfig, Stream};

use crate::support::{DAY_MS, error_message, start};

const NOW: i64 = DEFAULT_START_MS;

#[tokio::test]
async fn retry_after_on_429_and_423() {
    let f = start(SimConfig::default()).await;
    f.sim.push_faults([
        Fault::TooManyRequests { retry_after_s: 7 },
        Fault::Locked { retry_after_s: 3 },
    ]);
    let query = f.admin_query(NOW - DAY_MS, NOW);
    for (status, retry_after) in [(429, "7"), (423, "3"), (200, "")] {
        let response = f.get("/adminAudit/events", &f.admin, &query).await;
        assert_eq!(response.status(), status);
        let header = response.headers().get("retry-after");
        assert_eq!(
            header.map(|h| h.to_str().unwrap()).unwrap_or(""),
            retry_after
        );
    }
    let faults: Vec<Option<String>> = f.sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [Some("TooManyRequests".into()), Some("Locked".into()), None]
    );
}

#[tokio::test]
async fn faults_wait_for_an_authenticated_request() {
    let f = start(SimConfig::default()).await;
    f.sim.push_faults([Fault::ServerError(503)]);
    let response = f.get("/events", "not-a-token", &[]).await;
    assert_eq!(response.status(), 401);
    let response = f.get("/events", &f.compliance, &[]).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("trackingid"));
    assert!(error_message(response).await.contains("Try again later"));
}

#[tokio::test]
async fn truncated_body_is_really_incomplete() {
    let f = start(SimConfig::default()).await;
    f.sim.generate(
        Stream::ComplianceEvents,
        GenerateSpec::new(50, NOW - DAY_MS, NOW),
    );
    f.sim.push_faults([Fault::Truncated]);
    let response = f.get("/events", &f.compliance, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        response.bytes().await.is_err(),
        "the body must not complete"
    );

    let log = f.sim.requests();
    assert_eq!(log[0].fault.as_deref(), Some("Truncated"));
    assert!(log[0].ids.is_empty(), "a cut page delivered no events");

    // The next request is whole again.
    let response = f.get("/events", &f.compliance, &[]).await;
    let body = response.text().await.unwrap();
    assert_eq!(crate::support::item_ids(&body).len(), 50);
}

#[tokio::test]
async fn expired_fault_gateway_limit_and_slow_pages() {
    let f = start(SimConfig {
        max_without_gateway_timeout: Some(50),
        ..SimConfig::default()
    })
    .await;
    let response = f
        .get("/events", &f.compliance, &[("max", "51".into())])
        .await;
    assert_eq!(response.status(), 504);
    let response = f
        .get("/events", &f.compliance, &[("max", "50".into())])
        .await;
    assert_eq!(response.status(), 200);

    // The limit applies to the effective max: the default of 100 is over it too.
    assert_eq!(f.get("/events", &f.compliance, &[]).await.status(), 504);

    f.sim.push_faults([
        Fault::Expired,
        Fault::GatewayTimeout,
        Fault::Slow(Duration::from_millis(300)),
    ]);
    let small = [("max", "50".to_owned())];
    assert_eq!(f.get("/events", &f.compliance, &small).await.status(), 401);
    assert_eq!(f.get("/events", &f.compliance, &small).await.status(), 504);
    let started = Instant::now();
    assert_eq!(f.get("/events", &f.compliance, &small).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let faults: Vec<Option<String>> = f.sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some("GatewayTimeout".into()),
            None,
            Some("GatewayTimeout".into()),
            Some("Expired".into()),
            Some("GatewayTimeout".into()),
            Some("Slow".into())
        ]
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let f = start(SimConfig {
        rate_limit_per_minute: Some(2),
        ..SimConfig::default()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(f.get("/events", &f.compliance, &[]).await.status(), 200);
    }
    let response = f.get("/events", &f.compliance, &[]).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(f.sim.requests()[2].fault.as_deref(), Some("RateLimited"));
}

#[tokio::test]
async fn random_faults_are_reproducible_and_clearable() {
    let statuses = |seed| async move {
        let f = start(SimConfig::default()).await;
        f.sim.set_random_faults(
            seed,
            0.5,
            vec![Fault::ServerError(502), Fault::Locked { retry_after_s: 1 }],
        );
        let mut statuses = Vec::new();
        for _ in 0..16 {
            statuses.push(f.get("/events", &f.compliance, &[]).await.status().as_u16());
        }
        f.sim.clear_faults();
        assert_eq!(f.get("/events", &f.compliance, &[]).await.status(), 200);
        f.sim.stop().await;
        statuses
    };
    let first = statuses(11).await;
    assert_eq!(first, statuses(11).await);
    assert!(
        first.contains(&200) && first.iter().any(|s| *s != 200),
        "{first:?}"
    );
}

#[tokio::test]
async fn a_hanging_request_is_logged_and_never_answered() {
    let f = start(SimConfig::default()).await;
    f.sim.push_faults([Fault::Hang]);
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        f.get("/events", &f.compliance, &[]),
    )
    .await;
    assert!(hung.is_err(), "a hanging request got an answer");
    // The next request is served as usual.
    assert_eq!(f.get("/events", &f.compliance, &[]).await.status(), 200);
    let logged: Vec<(u16, Option<String>)> = f
        .sim
        .requests()
        .into_iter()
        .map(|r| (r.status, r.fault))
        .collect();
    assert_eq!(logged, [(0, Some("Hang".into())), (200, None)]);
}
