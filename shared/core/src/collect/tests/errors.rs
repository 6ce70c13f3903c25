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
    let CollectError::Forbidden { message, fix } = &error else {
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
    assert!(last.message.contains(spec.forbidden_fix), "{}", last.message);
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
