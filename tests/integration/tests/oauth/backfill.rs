//! `webexctl backfill` as an operator runs it: a past range before the live unit's first
//! window, killed twice (SIGKILL) and resumed, then exactly once with what the live unit wrote;
//! the live range refused with what to do instead; a bar on a terminal only.

use tokio::io::{AsyncBufReadExt, BufReader};

use super::*;
use collector_core::cursor::{CursorKey, Lane};
use collector_core::ports::CursorStore;
use integration_tests::cli;

const PROGRESS_LINE: &str = "backfill compliance-events: up to ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_twice_resumes_and_every_event_is_stored_once() -> Result<()> {
    // GIVEN six days of events, the live unit caught up over the last three (its look-back)
    let hour = 3_600_000;
    let start_of = |now: i64| (now - 6 * 24 * hour) / hour * hour;
    let (stack, events, env) =
        caught_up(1_500, |now| (start_of(now) - 2 * hour, now - 600_000)).await?;
    let stream = StreamId::ComplianceEvents;
    let now = stack.sim.now_ms();
    let start = start_of(now);
    let from = Timestamp::from_millis(start);
    let backfill = |from: &Timestamp, to: &Timestamp, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "backfill",
            "--stream",
            "compliance-events",
            "--from",
            &from.to_rfc3339(),
            "--to",
            &to.to_rfc3339(),
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };

    let key = |from: Timestamp, to: Timestamp| CursorKey {
        lane: Lane::Backfill {
            from,
            to,
            prefix: None,
        },
        ..CursorKey::live(stream.name(), org_id(&stack))
    };
    let store = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), &stack.table);

    // WHEN the operator asks for a range that runs into the live unit's
    let over_to = Timestamp::from_millis(now - hour).floor_second();
    let over = backfill(&from, &over_to, &[]);
    let refused = cli::webexctl(&env, &as_strs(&over), "").await?;
    // THEN it is refused, saying where the live unit begins and how to write it elsewhere,
    // its claim on the range taken back
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(store.load_cursor(&key(from, over_to)).await?.is_none());
    let live_first = stack
        .objects(stream)
        .await?
        .iter()
        .filter_map(|o| Timestamp::parse(o.metadata.get("window-from")?).ok())
        .min()
        .context("the live unit's objects")?;
    let live_since = live_first.minus(Duration::from_secs(900));
    assert!(
        refused.stderr.contains(&format!("--to {live_since}"))
            && refused.stderr.contains("--prefix backfill/"),
        "{}",
        refused.stderr
    );

    // WHEN the range up to there is backfilled, the process killed twice part way
    let args = backfill(&from, &live_since, &["--run-seconds", "8"]);
    let mut piped = Vec::new();
    for kill_after in [6, 6] {
        let mut child = tokio::process::Command::new(integration_tests::webexctl_path()?)
            .args(&args)
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let (mut printed, mut windows) = (String::new(), 0);
        while let Some(line) = lines.next_line().await? {
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with(PROGRESS_LINE) {
                windows += 1;
                if windows == kill_after {
                    child.start_kill()?;
                    break;
                }
            }
        }
        let status = child.wait().await?;
        assert_eq!(status.code(), None, "not killed part way:\n{printed}");
        piped.push(printed);
    }
    let part_way = store
        .load_cursor(&key(from, live_since))
        .await?
        .context("the backfill's cursor")?;
    assert!(
        part_way
            .committed_until
            .is_some_and(|at| at > from && at < live_since),
        "the kills did not leave the range part done: {part_way:?}"
    );
    // AND `webexctl status` says how far it is
    let status = cli::webexctl(&env, &["status"], "").await?;
    let at = part_way.committed_until.context("part way")?;
    assert!(
        status.stdout.contains(&format!(
            " backfill {from} to {live_since}: collected up to {at}"
        )),
        "{}",
        status.all()
    );
    // AND it is run again to the end, its first page linking to another host
    stack.sim.push_faults([webex_sim::Fault::Link(
        "https://elsewhere.invalid/v1/events".into(),
    )]);
    let mut last = args.clone();
    last.push("--json".into());
    let done = cli::webexctl(&env, &as_strs(&last), "").await?;
    assert!(done.ok, "{}", done.all());
    let summary: serde_json::Value = serde_json::from_str(&done.stdout)?;
    assert_eq!(summary["done"], true, "{summary}");
    assert_eq!(summary["to"], live_since.to_rfc3339(), "{summary}");
    // THEN the run that met it is given up and the next one goes on
    assert!(
        done.stderr.contains("webexctl: a run failed (")
            && done.stderr.contains("); trying again in 5s"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains(PROGRESS_LINE),
        "--json printed progress: {}",
        done.stderr
    );

    // WHEN the two hours before it are backfilled on a terminal
    let (code, terminal) = cli::webexctl_on_terminal(
        &env,
        &as_strs(&backfill(
            &Timestamp::from_millis(start - 2 * hour),
            &from,
            &[],
        )),
    )
    .await?;
    // THEN the terminal shows the bar, redrawn in place; a pipe gets plain lines
    assert_eq!(code, Some(0), "{terminal}");
    assert!(
        terminal.contains("\r\u{1b}[2Kcompliance-events [")
            && terminal.contains("windows")
            && terminal.contains("events")
            && terminal.contains("/s  ETA "),
        "no progress bar on the terminal: {terminal:?}"
    );
    assert!(terminal.contains(": done; "), "{terminal:?}");
    for printed in &piped {
        assert!(printed.contains(PROGRESS_LINE), "{printed}");
        assert!(
            !printed.contains(['\r', '\u{1b}']) && !printed.contains("ETA"),
            "a bar reached a pipe: {printed:?}"
        );
    }

    // AND every event of the six days and two hours is in the bucket once, byte for byte
    let objects = stack.objects(stream).await?;
    integration_tests::verify::assert_exactly_once(&objects, &events);
    assert_eq!(stack.open_uploads().await?, 0);
    // AND `webexctl status` lists both backfills of the unit, done
    let status = cli::webexctl(&env, &["status", "--json"], "").await?;
    let rows: serde_json::Value = serde_json::from_str(&status.stdout)?;
    let row = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["stream"] == stream.name()))
        .context("the unit's row")?;
    let ranges: Vec<(&str, &str, &str)> = row["backfills"]
        .as_array()
        .context("backfills")?
        .iter()
        .map(|b| {
            let text = |field: &str| b[field].as_str().unwrap_or("?");
            (text("from"), text("to"), text("status"))
        })
        .collect();
    let earlier = Timestamp::from_millis(start - 2 * hour).to_rfc3339();
    let (from, live_since) = (from.to_rfc3339(), live_since.to_rfc3339());
    assert_eq!(
        ranges,
        [
            (earlier.as_str(), from.as_str(), "done"),
            (from.as_str(), live_since.as_str(), "done")
        ],
        "{row}"
    );
    Ok(())
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
