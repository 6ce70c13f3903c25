//! Failures recorded in the cursor, where `webexctl status` shows them.

use super::*;
use crate::collect::{Unit, UnitOrg};
use crate::cursor::Status;
use crate::error::ErrorKind;

#[tokio::test(start_paused = true)]
async fn one_units_403_is_recorded_in_its_cursor_as_a_config_error_with_the_fix() {
    // GIVEN the admin audit of two organisations; Webex refuses one of them
    let spec = StreamId::AdminAudit.spec();
    let refused = world_of(StreamId::AdminAudit, "12:00:00", |_| {});
    let unit = |org: &str| Unit {
        stream: "admin-audit".into(),
        org: UnitOrg::Id(org.into()),
    };
    let refused = refused.beside(spec, unit("ORG-A"), test_settings(&spec));
    let fine = refused.beside(spec, unit("ORG-B"), test_settings(&spec));
    refused.source.add(every(
        "e",
        at("11:00:00"),
        at("12:30:00"),
        Duration::from_secs(60),
    ));
    refused
        .source
        .set_forbidden_org("ORG-A", Some("The caller lacks the required role"));
    // WHEN both run
    let error = run(&refused).await.unwrap_err();
    run(&fine).await.unwrap();
    // THEN the refused one says what to change, in its cursor too
    let CollectError::Forbidden { message, fix, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(message, "The caller lacks the required role");
    assert_eq!(fix, spec.forbidden_fix);
    let cursor = refused.cursor().unwrap();
    assert_eq!(cursor.status, Status::Error);
    assert_eq!(cursor.consecutive_failures, 1);
    assert_eq!(cursor.committed_until, None);
    let last = cursor.last_error.unwrap();
    assert_eq!(last.kind, ErrorKind::Config);
    assert!(last.message.contains("HTTP 403"), "{}", last.message);
    assert!(
        last.message.contains(spec.forbidden_fix),
        "{}",
        last.message
    );
    assert!(refused.event_object_keys().is_empty());
    // AND the other unit is untouched by it
    let other = fine.cursor().unwrap();
    assert_eq!((other.status, other.last_error), (Status::Collecting, None));
    assert_exactly_once(&fine);
    // WHEN the role is granted, the next run collects and clears the status
    refused.source.set_forbidden_org("ORG-A", None);
    refused.clock.advance(2 * MINUTE);
    run(&refused).await.unwrap();
    let cursor = refused.cursor().unwrap();
    assert_eq!(
        (cursor.status, cursor.consecutive_failures),
        (Status::Collecting, 0)
    );
    assert_exactly_once(&refused);
}

#[tokio::test(start_paused = true)]
async fn a_token_webex_refuses_before_its_expiry_is_replaced_once_and_the_run_goes_on() {
    let world = world("12:00:00", |_| {});
    world.source.add(every(
        "e",
        at("11:00:00"),
        at("12:30:00"),
        Duration::from_secs(45),
    ));
    world.source.refuse_token("first-access");
    let summary = run(&world).await.unwrap();
    assert_eq!(summary.stopped, StopReason::CaughtUp);
    assert_eq!(world.faults.calls_named("refresh"), 1);
    let stored = world.secret.get();
    assert_eq!(
        stored.access_token.as_ref().map(|t| t.secret()),
        Some("refreshed-access")
    );
    assert_exactly_once(&world);
    // A replacement refused too is a person's problem, not a loop.
    world.source.refuse_token("refreshed-access");
    world.clock.advance(20 * MINUTE);
    let error = run(&world).await.unwrap_err();
    assert_eq!(error.kind(), crate::error::ErrorKind::Config, "{error}");
    assert_eq!(world.faults.calls_named("refresh"), 2);
}

/// `CollectError::OutOfTime` "never leaves a run as an error"; but when the run's first token
/// (`collect` asks for one before loading the cursor) cannot be had before the deadline, because
/// another writer holds the identity's token lock, `run` returns `Err(OutOfTime)` and records it
/// in the cursor as an upstream failure: three such runs in a row turn the unit's status to
/// `error` although nothing failed.
#[tokio::test(start_paused = true)]
async fn a_run_out_of_time_waiting_for_the_token_lock_stops_without_an_error() {
    // GIVEN an access token about to expire and the token lock held by another writer
    let world = world("12:00:00", |_| {});
    world.source.add(every(
        "e",
        at("11:00:00"),
        at("12:30:00"),
        Duration::from_secs(60),
    ));
    let mut secret = world.secret.get();
    secret.access_token_expires_at = Some(at("12:01:00"));
    world.secret.set(secret);
    world
        .state
        .take_over_lease("lock#token#compliance", "callback");
    // WHEN a run cannot get a token before its deadline
    let outcome = world
        .collector()
        .run(Instant::now() + Duration::from_secs(5))
        .await;
    // THEN it stops at the deadline, as a run does, and records no failure
    let summary = outcome.expect("stops without an error");
    assert_eq!(summary.stopped, StopReason::Deadline);
    let cursor = world.cursor().unwrap_or_default();
    assert_eq!((cursor.consecutive_failures, cursor.last_error), (0, None));
}
