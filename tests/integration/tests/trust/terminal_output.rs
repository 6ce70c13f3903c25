//! What `webexctl` prints reaches a terminal, which obeys the control characters in it: an
//! upstream error text (or an org id) carrying an escape sequence could recolour, rewrite or
//! clear the operator's screen, or forge a line. `webexctl status` shows them escaped.

use anyhow::Result;
use aws_adapters::DynamoStateStore;
use collector_core::cursor::{Cursor, CursorKey, LastError, Status};
use collector_core::ports::CursorStore;
use collector_core::{ErrorKind, StreamId, Timestamp};
use integration_tests::cli::{self, webexctl};
use integration_tests::{Stack, StackOptions};

/// Sets the window title, rings the bell, returns to the start of the line to overwrite it,
/// and starts a forged line.
const HOSTILE_MESSAGE: &str =
    "webex said: \u{1b}]0;pwned\u{7}\u{1b}[2J\rall streams healthy\nadmin-audit collecting";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webex_error_text_cannot_drive_the_operators_terminal() -> Result<()> {
    // GIVEN a stream whose last error, worded by Webex, carries terminal control sequences, and
    // a cursor whose org id does too
    let stack = Stack::start(StackOptions::default()).await?;
    let store = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table);
    let now = Timestamp::from_millis(stack.sim.now_ms());
    let failing = Cursor {
        committed_until: Some(now),
        version: 1,
        status: Status::Error,
        last_error: Some(LastError {
            kind: ErrorKind::Upstream,
            message: HOSTILE_MESSAGE.to_string(),
            at: now,
        }),
        consecutive_failures: 3,
        ..Cursor::default()
    };
    let org_id = integration_tests::stack::sim_org_id(&stack.sim);
    store
        .save_cursor(
            &CursorKey::live(StreamId::AdminAudit.name().to_string(), org_id),
            &failing,
        )
        .await?;
    store
        .save_cursor(
            &CursorKey::live(
                StreamId::SecurityAudit.name().to_string(),
                "\u{1b}[31morg\u{7}",
            ),
            &Cursor {
                version: 1,
                ..Cursor::default()
            },
        )
        .await?;
    // WHEN the operator looks at the streams
    let status = webexctl(&cli::env(&stack), &["status"], "").await?;
    // THEN every control character is shown as a visible escape, not obeyed
    assert!(status.ok, "webexctl status failed: {}", status.all());
    let out = &status.stdout;
    for (c, name) in [('\u{1b}', "ESC"), ('\u{7}', "BEL"), ('\r', "CR")] {
        assert!(!out.contains(c), "{name} reached the terminal: {out:?}");
    }
    assert!(
        out.contains(
            "webex said: \\e]0;pwned\\x07\\e[2J\\rall streams healthy\\nadmin-audit collecting"
        ),
        "the error is not shown escaped on its own line: {out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("admin-audit collecting")),
        "the error's newline forged a line: {out}"
    );
    assert!(
        out.contains("\\e[31morg\\x07"),
        "the org id is not shown escaped: {out}"
    );
    Ok(())
}
