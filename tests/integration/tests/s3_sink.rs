//! The S3 sink's multipart path under AWS faults, found by the soak: whatever the network does
//! to a call, no upload is left open in the bucket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use aws_adapters::S3Sink;
use bytes::Bytes;
use collector_core::ports::{ObjectMeta, ObjectSink, PutOutcome};
use integration_tests::fault_proxy::{Call, Fault};
use integration_tests::{Stack, StackOptions};

const KEY: &str = "webex/admin-audit/org=O/dt=2026-11-22/hour=10/admin-audit_a_b.ndjson.gz";

fn sink(stack: &Stack) -> S3Sink {
    S3Sink::new(
        aws_adapters::s3_client(&stack.collector_sdk, true),
        &stack.bucket,
    )
}

fn creates_upload(call: &Call) -> bool {
    call.method == "POST" && call.query.starts_with("uploads")
}

/// The first call that `matches` reaches S3, but its answer is lost: the SDK sends it again.
fn lose_first_answer(stack: &Stack, matches: fn(&Call) -> bool) -> Result<()> {
    let once = Arc::new(AtomicBool::new(false));
    stack
        .proxy
        .as_ref()
        .context("proxy")?
        .set_rule(move |call| {
            (matches(call) && !once.swap(true, Ordering::SeqCst)).then_some(Fault::LoseAnswer)
        });
    Ok(())
}

async fn faulty_stack() -> Result<Stack> {
    Stack::start(StackOptions {
        fault_proxy: true,
        ..StackOptions::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_created_twice_after_a_lost_answer_leaves_none_open_when_completed() -> Result<()>
{
    let stack = faulty_stack().await?;
    // GIVEN the answer to CreateMultipartUpload is lost after S3 created the upload
    lose_first_answer(&stack, creates_upload)?;
    let sink = sink(&stack);
    // WHEN the object is uploaded in (one, last and so small) part and completed
    let mut upload = sink.start_upload(KEY).await?;
    sink.upload_part(&mut upload, Bytes::from_static(b"part"))
        .await?;
    let outcome = sink.complete_upload(upload, &ObjectMeta::default()).await?;
    // THEN the object is there and no upload is left open, not even the one whose answer was lost
    assert_eq!(outcome, PutOutcome::Written);
    assert_eq!(stack.proxy.as_ref().context("proxy")?.injected().len(), 1);
    assert_eq!(stack.open_uploads().await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_created_twice_after_a_lost_answer_leaves_none_open_when_aborted() -> Result<()> {
    let stack = faulty_stack().await?;
    lose_first_answer(&stack, creates_upload)?;
    let sink = sink(&stack);
    let upload = sink.start_upload(KEY).await?;
    sink.abort_upload(upload).await?;
    assert_eq!(stack.open_uploads().await?, 0);
    Ok(())
}
