//! The soak's seeded subset, run by every `make test` and so by CI: fixed seeds, so that a
//! failure here replays alone with `make soak SEED=<seed> SOAK_ARGS=--no-small-parts` (the
//! command each failure prints). `make soak` plays many more.

use anyhow::Result;
use integration_tests::soak::{SoakOptions, emulator_part_size, scenario_seed, soak};

/// The subset has SIGKILLed processes, abandoned runs, runs started at once, all three Webex
/// streams, the document's other sources and every kind of fault (asserted below).
const SUBSET_BASE_SEED: u64 = 20_261_122;
const SUBSET_SCENARIOS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_subset_of_the_fault_soak_loses_and_duplicates_nothing() -> Result<()> {
    // The collectors' debug logs for forty scenarios would cost more than the scenarios;
    // the soak checks everything else, and other tests check the logs for secrets.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("off"))
        .try_init();
    let seeds = (0..SUBSET_SCENARIOS)
        .map(|i| scenario_seed(SUBSET_BASE_SEED, i))
        .collect();
    let part_size = emulator_part_size();
    // `make soak` lets the emulator take small parts; without them here, a replay must not use
    // them either.
    let replay_args = if part_size.is_none() {
        " SOAK_ARGS=--no-small-parts"
    } else {
        ""
    };
    let options = SoakOptions {
        seeds,
        concurrency: 12,
        part_size,
    };
    let summary = soak(options, |outcome| {
        println!("{}", outcome.line());
        if !outcome.passed() {
            print!("{}", outcome.failure());
            println!("    replay: make soak SEED={}{replay_args}", outcome.seed);
        }
    })
    .await;
    println!("{}", summary.table());
    assert_eq!(
        (
            summary.lost,
            summary.duplicates,
            summary.foreign,
            summary.token_losses
        ),
        (0, 0, 0, 0),
        "(lost, duplicated, foreign, token losses)"
    );
    assert!(
        summary.passed(),
        "failed seeds: {:?} (replay each with `make soak SEED=<seed>{replay_args}`)",
        summary.failed
    );
    // The subset must exercise what the soak is for, or passing would prove little.
    assert_eq!(summary.scenarios, SUBSET_SCENARIOS);
    assert!(summary.expected > 10_000, "{}", summary.expected);
    assert!(summary.kills > 0, "no process was killed");
    assert!(summary.dropped > 0, "no run was abandoned");
    assert!(summary.concurrent > 0, "no runs started at once");
    assert!(
        summary.webex_faults.len() >= 8,
        "{:?}",
        summary.webex_faults
    );
    assert!(summary.aws_faults.len() >= 6, "{:?}", summary.aws_faults);
    for stream in collector_core::StreamId::ALL {
        assert!(
            summary.streams.contains_key(stream.name()),
            "{stream}: {:?}",
            summary.streams
        );
    }
    // And the document's other sources, several of their six streams.
    assert!(summary.other_sources >= 5, "{}", summary.other_sources);
    let sources = integration_tests::sources::STREAMS
        .iter()
        .filter(|(name, _)| summary.streams.contains_key(name))
        .count();
    assert!(sources >= 4, "{:?}", summary.streams);
    Ok(())
}

/// The soak forgives one kind of token loss only: Webex rotated the refresh token and the run
/// holding the answer was killed before storing it. This pins how that case is told apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_lost_in_flight_is_told_from_one_the_collector_lost() -> Result<()> {
    use integration_tests::soak::check::{TokenLoss, token_loss};
    use integration_tests::soak::play::Played;
    use integration_tests::{Stack, StackOptions};

    let stack = Stack::start(StackOptions {
        sim: webex_sim::SimConfig {
            rotate_refresh_tokens: true,
            ..webex_sim::SimConfig::default()
        },
        ..StackOptions::default()
    })
    .await?;
    let killed = Played {
        kills: 1,
        ..Played::default()
    };
    // GIVEN a refresh Webex answered (rotating the stored token) whose answer was never stored
    let stored = stack.secret("admin").await?["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let answer = reqwest::Client::new()
        .post(format!("{}/access_token", stack.sim.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", webex_sim::DEFAULT_CLIENT_ID),
            ("client_secret", webex_sim::DEFAULT_CLIENT_SECRET),
            ("refresh_token", stored.as_str()),
        ])
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let answer: serde_json::Value = serde_json::from_slice(&answer)?;
    // THEN it is a loss in flight when a run was killed, and the collector's fault otherwise
    assert_eq!(
        token_loss(&stack, "admin", &killed).await?,
        TokenLoss::KilledInFlight
    );
    assert!(matches!(
        token_loss(&stack, "admin", &Played::default()).await?,
        TokenLoss::Defect(_)
    ));
    // AND the collector's fault too when the unstored grant's access token was used
    let access = answer["access_token"].as_str().unwrap_or_default();
    reqwest::Client::new()
        .get(format!("{}/events", stack.sim.base_url()))
        .bearer_auth(access)
        .send()
        .await?;
    assert!(matches!(
        token_loss(&stack, "admin", &killed).await?,
        TokenLoss::Defect(_)
    ));
    Ok(())
}
