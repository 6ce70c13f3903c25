//! `webexctl`: the operator command line. Each command is a thin shell over `collector-app`:
//! parse, call, print (a table for people, `--json` for scripts).

mod backfill_cmd;
mod config_cmd;
mod events_cmd;
mod table;
mod tables_cmd;
mod webhooks_cmd;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use collector_app::operator::Operator;
use collector_app::units::{Selection, StreamUnits};
use collector_app::{LogTarget, StreamId, init_logging, return_large_buffers_to_the_system};
use collector_core::IdentityName;
use collector_core::secret::ClientSecret;
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "webexctl",
    version,
    about = "Operate webex-events-to-s3: collect, authorise, inspect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one collector once, exactly as its Lambda would, configured by the same environment
    /// variables; prints one JSON summary line.
    Collect {
        /// admin-audit, security-audit or compliance-events (every stream of that preset), or
        /// the name of a collector document's stream of another source (azure_graph,
        /// cisco_secure_endpoint, http).
        #[arg(long)]
        stream: String,
        /// Only this organisation (one of ORG_IDS, or discovered); every one otherwise.
        #[arg(long, value_name = "ORG_ID")]
        org: Option<String>,
        /// Stands in for the Lambda deadline: the run stops cleanly before it (at most a day).
        #[arg(long, default_value_t = 840, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        deadline_seconds: u64,
    },
    /// Install and authorise the OAuth identities (needs STATE_TABLE, and ADMIN_SECRET_ID and
    /// COMPLIANCE_SECRET_ID, or COLLECTOR_CONFIG naming a collector document).
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Per unit of work (stream and organisation): state, lag, last success, last error and its
    /// fix, last run; then per stream, its units summed.
    Status(StatusArgs),
    /// The collector document (TOML: identities, sources, streams).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What Webex holds, read without writing anything: is a gap Webex's or ours?
    #[command(subcommand)]
    Events(EventsCommand),
    /// Re-read a range from Webex and compare with the bucket: ids missing, twice, or extra.
    /// Exit status 0 when every event is there once; otherwise 8 + 1 (missing) + 2 (twice) +
    /// 4 (extra).
    Verify {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        output: Output,
    },
    /// Collect a past range the live unit never covered (before its first window), or again
    /// under another --prefix, from this machine with the deployment's variables: its own
    /// cursor and lease, so it resumes where a killed or stopped run left it (run it again with
    /// the same arguments) and never races the live unit. A range whose events may be in the
    /// prefix's objects already is refused. Progress: a bar on a terminal, a line per window
    /// otherwise; --json prints one summary.
    Backfill {
        #[command(flatten)]
        range: Range,
        /// Write the objects under this prefix (a folder, e.g. backfill/) instead of the
        /// deployment's OUTPUT_PREFIX.
        #[arg(long)]
        prefix: Option<String>,
        /// How long one run holds the backfill's lease before the next begins: a killed
        /// backfill can be resumed this long after.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(8..=900))]
        run_seconds: u64,
        #[command(flatten)]
        output: Output,
    },
    /// The organisation's Webex webhooks of ours (WEBHOOK_SECRET_ID, WEBHOOK_TARGET_URL,
    /// WEBHOOK_RESOURCES; the stack's outputs), as the scheduled registrar keeps them.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

#[derive(Subcommand)]
enum EventsCommand {
    /// One compliance event as Webex returns it (`GET /events/{eventId}`).
    Get {
        /// The event's id.
        id: String,
        /// The identity to read it with (spark-compliance:events_read).
        #[arg(long = "identity", value_name = "NAME", default_value = "compliance", value_parser = parse_identity)]
        identity: IdentityName,
    },
    /// Every event of a stream's range as Webex returns it, one per line, with the stream's
    /// filters, paging and retries; written nowhere.
    List {
        #[command(flatten)]
        range: Range,
        /// Stop after this many events.
        #[arg(long)]
        max: Option<u64>,
    },
}

/// One unit's range of a stream.
#[derive(Args)]
struct Range {
    /// admin-audit, security-audit, compliance-events, or a document's stream.
    #[arg(long)]
    stream: String,
    /// The organisation, when the stream has several.
    #[arg(long, value_name = "ORG_ID")]
    org: Option<String>,
    /// Start of the range (RFC 3339), inclusive.
    #[arg(long)]
    from: String,
    /// End of the range (RFC 3339), exclusive.
    #[arg(long)]
    to: String,
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Ours as Webex has them, what is missing, and every period one was off (a gap: its
    /// events came only through the polled streams). Exit status 1 while one is not right.
    Status(Output),
    /// Create what is missing, repair what drifted, re-enable what Webex disabled (after its
    /// 5-minute hold-off), delete duplicates; webhooks not ours are never touched.
    Sync(Output),
    /// A new signing secret: the receiver accepts it first, then every webhook of ours gets
    /// it; the old one is accepted for an hour more.
    Rotate(Output),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a document: print its units of work (stream, organisation) and a summary per
    /// stream, or every mistake with its key path and line (exit status 2).
    Check {
        /// The document, e.g. infra/collector.sample.toml.
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Validate a document, then write it where the functions read it (COLLECTOR_CONFIG:
    /// s3://BUCKET/KEY, the stack's CollectorConfig output). They read it at their next cold
    /// start; an invalid document is never written.
    Push {
        file: PathBuf,
        /// Then write the streams' Glue tables too, as `config tables` does.
        #[arg(long)]
        tables: bool,
        #[command(flatten)]
        glue: Glue,
    },
    /// Validate a document, then write a Glue table for each of its streams that the template
    /// has none for, named by the stream (entra-signins: entra_signins), and `stream_fields`
    /// for the streams with fields_key. Tables not written by webexctl are never changed.
    Tables {
        file: PathBuf,
        #[command(flatten)]
        glue: Glue,
    },
}

#[derive(Args)]
struct Glue {
    /// The Glue database: the stack's GlueDatabase output.
    #[arg(long, env = "GLUE_DATABASE", value_name = "NAME")]
    database: Option<String>,
}

impl Glue {
    fn database(&self) -> Result<&str> {
        self.database.as_deref().context(
            "no Glue database: set GLUE_DATABASE or --database to the stack's GlueDatabase output",
        )
    }
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Store an identity's client id, redirect URI and org id; the client secret is read from
    /// standard input (or a prompt), never from the command line.
    Init {
        #[command(flatten)]
        identity: Identity,
        #[arg(long)]
        client_id: String,
        /// The stack's CallbackUrl output.
        #[arg(long)]
        redirect_uri: String,
        /// Your Webex organisation id (the stack's OrgId output). Required the first time: only
        /// an account of this organisation can authorise the identity.
        #[arg(long, env = "WEBEX_ORG_ID")]
        org_id: Option<String>,
    },
    /// Print a one-time authorize link (valid 10 minutes) for a person to open.
    Url {
        #[command(flatten)]
        identity: Identity,
        /// Only the Webex user with this email address can complete the link.
        #[arg(long, value_name = "ADDRESS")]
        expect_email: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Per identity: authorised or not, by whom and when, token expiry, refresh-token days left.
    Status(Output),
    /// Make one cheap authenticated Webex call with the identity's token.
    Test {
        #[command(flatten)]
        identity: Identity,
        #[command(flatten)]
        output: Output,
    },
}

/// Which identity a command is for; `--profile` is its name from before identities.
#[derive(Args)]
struct Identity {
    /// The identity: admin or compliance, or one of the collector document's
    /// (`[identities.NAME]`).
    #[arg(long = "identity", alias = "profile", value_name = "NAME", value_parser = parse_identity)]
    name: IdentityName,
}

#[derive(Args)]
struct Output {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StatusArgs {
    /// Only this stream's units.
    #[arg(long)]
    stream: Option<String>,
    /// Only this organisation's units.
    #[arg(long, value_name = "ORG_ID")]
    org: Option<String>,
    #[command(flatten)]
    output: Output,
}

fn parse_identity(name: &str) -> Result<IdentityName, String> {
    IdentityName::parse(name).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    return_large_buffers_to_the_system();
    init_logging(LogTarget::Stderr);
    let outcome = match Cli::parse().command {
        Command::Collect {
            stream,
            org,
            deadline_seconds,
        } => collect(&stream, org.as_deref(), deadline_seconds).await,
        Command::Auth(command) => auth(command).await,
        Command::Status(args) => status(args).await,
        Command::Config(ConfigCommand::Check { file, output }) => {
            config_cmd::check(&file, output.json)
        }
        Command::Config(ConfigCommand::Push { file, tables, glue }) => {
            async {
                // Asked before the document is written, so that a push is all or nothing.
                let database = if tables { Some(glue.database()?) } else { None };
                config_cmd::push(&file, database).await
            }
            .await
        }
        Command::Config(ConfigCommand::Tables { file, glue }) => {
            async { config_cmd::tables(&file, glue.database()?).await }.await
        }
        Command::Events(EventsCommand::Get { id, identity }) => {
            events_cmd::get(&identity, &id).await
        }
        Command::Events(EventsCommand::List { range, max }) => events_cmd::list(&range, max).await,
        Command::Verify { range, output } => events_cmd::verify(&range, &output).await,
        Command::Backfill {
            range,
            prefix,
            run_seconds,
            output,
        } => backfill_cmd::backfill(&range, prefix, run_seconds, &output).await,
        Command::Webhooks(WebhooksCommand::Status(output)) => webhooks_cmd::status(&output).await,
        Command::Webhooks(WebhooksCommand::Sync(output)) => {
            webhooks_cmd::sync(&output, false).await
        }
        Command::Webhooks(WebhooksCommand::Rotate(output)) => {
            webhooks_cmd::sync(&output, true).await
        }
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            // Errors can carry text from Webex or from a stored item: escaped, like every cell.
            eprintln!("webexctl: {}", table::escape(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Every unit of the stream (or the one `--org`), a few at a time: one JSON summary line per
/// unit that ran; a line on standard error per unit that failed.
async fn collect(stream: &str, org: Option<&str>, deadline_seconds: u64) -> Result<ExitCode> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(deadline_seconds);
    let units = match StreamId::parse(stream) {
        Some(preset) => StreamUnits::from_env(preset).await?,
        None => {
            let mut units = StreamUnits::from_env(Selection::OtherSources).await?;
            if !units.keep_only(stream) {
                let presets: Vec<_> = StreamId::ALL.iter().map(|s| s.name()).collect();
                anyhow::bail!(
                    "the collector document has no stream {stream:?} of another source; Webex \
                     streams are collected by their preset: {}",
                    presets.join(", ")
                );
            }
            units
        }
    };
    let failed = |kind: &str, org: Option<&str>, error: &str| {
        let org = org
            .map(|o| format!(" ({})", table::escape(o)))
            .unwrap_or_default();
        eprintln!("webexctl: {kind} error{org}: {}", table::escape(error));
    };
    let list = match units.units(org, deadline).await {
        Ok(list) => list,
        Err(e) => {
            failed(e.kind().name(), None, &e.to_string());
            return Ok(ExitCode::FAILURE);
        }
    };
    let single = list.len() == 1;
    let outcome = units.run(list, deadline).await;
    for summary in &outcome.done {
        println!("{}", serde_json::to_string(summary)?);
    }
    for failure in &outcome.failed {
        failed(
            failure.kind,
            (!single).then_some(failure.org_id.as_str()),
            &failure.error,
        );
    }
    if !outcome.not_reached.is_empty() {
        eprintln!(
            "webexctl: {} organisation(s) not reached before the deadline",
            outcome.not_reached.len()
        );
    }
    Ok(
        if outcome.failed.is_empty() && outcome.not_reached.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

async fn auth(command: AuthCommand) -> Result<ExitCode> {
    let operator = Operator::from_env().await?;
    match command {
        AuthCommand::Init {
            identity: Identity { name },
            client_id,
            redirect_uri,
            org_id,
        } => {
            let secret = read_client_secret()?;
            operator
                .auth_init(&name, &client_id, secret, &redirect_uri, org_id.as_deref())
                .await?;
            println!("{name} identity installed; next: webexctl auth url --identity {name}");
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Url {
            identity: Identity { name },
            expect_email,
            output,
        } => {
            let link = operator.auth_url(&name, expect_email.as_deref()).await?;
            print(&output, &link, || {
                let who = link
                    .expected_email
                    .as_deref()
                    .map_or("the Webex user".to_string(), |e| {
                        format!("{e} (only they can)")
                    });
                format!(
                    "Open this link as {who} to authorise the {} identity (valid until {}):\n{}",
                    link.identity, link.expires_at, link.url
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Status(output) => {
            let rows = operator.auth_status().await;
            print(&output, &rows, || {
                table::render(
                    &[
                        "IDENTITY",
                        "STATE",
                        "AUTHORISED BY",
                        "AUTHORISED AT",
                        "ACCESS EXPIRES",
                        "REFRESH EXPIRES",
                        "DAYS LEFT",
                        "SECRET",
                    ],
                    rows.iter().map(|r| {
                        vec![
                            r.identity.to_string(),
                            r.state.clone(),
                            r.authorised_by.as_ref().map_or("-".into(), |by| {
                                by.email.clone().unwrap_or_else(|| by.person_id.clone())
                            }),
                            table::time(r.authorised_at),
                            table::time(r.access_token_expires_at),
                            table::time(r.refresh_token_expires_at),
                            r.refresh_token_days_left
                                .map_or("-".into(), |d| d.to_string()),
                            r.secret_id.clone(),
                        ]
                    }),
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Test {
            identity: Identity { name },
            output,
        } => {
            let test = operator.auth_test(&name).await?;
            print(&output, &test, || {
                let org = test
                    .org_id
                    .as_deref()
                    .map(|o| format!(" (org {})", table::escape(o)))
                    .unwrap_or_default();
                format!(
                    "{}: {}{org}",
                    if test.ok { "ok" } else { "FAILED" },
                    table::escape(&test.message)
                )
            })?;
            Ok(if test.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

async fn status(args: StatusArgs) -> Result<ExitCode> {
    let operator = Operator::from_env().await?;
    let mut rows = operator.stream_status().await?;
    rows.retain(|r| {
        args.stream.as_ref().is_none_or(|s| *s == r.stream)
            && args.org.as_ref().is_none_or(|o| *o == r.org_id)
    });
    let output = args.output;
    print(&output, &rows, || {
        let mut text = table::render(
            &[
                "STREAM",
                "ORG",
                "STATE",
                "LAG",
                "COMMITTED UNTIL",
                "LAST SUCCESS",
                "LAST RUN",
            ],
            rows.iter().map(|r| {
                vec![
                    r.stream.clone(),
                    table::short(&r.org_id),
                    r.status.to_string(),
                    r.lag_seconds.map_or("-".into(), table::duration),
                    table::time(r.committed_until),
                    table::time(r.last_success_at),
                    r.last_run.map_or("-".into(), |run| {
                        format!("{} events, {} windows", run.events, run.windows)
                    }),
                ]
            }),
        );
        text.push_str(&per_stream(&rows));
        for row in rows.iter() {
            let unit = format!("\n{} {}", row.stream, table::short(&row.org_id));
            if let Some(e) = &row.last_error {
                text.push_str(&format!("{unit} {}", last_error(e)));
            }
            for backfill in &row.backfills {
                let under = backfill.prefix.as_ref();
                text.push_str(&format!(
                    "{unit} backfill {} to {}{}: {}",
                    backfill.from,
                    backfill.to,
                    under.map_or(String::new(), |p| format!(" under {p}")),
                    match (backfill.status, backfill.committed_until) {
                        ("collecting", Some(at)) => format!("collected up to {at}"),
                        (status, _) => status.to_string(),
                    }
                ));
                if let Some(e) = &backfill.last_error {
                    text.push_str(&format!("; {}", last_error(e)));
                }
            }
        }
        text.push_str(&match std::env::var("DASHBOARD_URL") {
            Ok(url) if !url.trim().is_empty() => format!("\ndashboard: {}", table::escape(&url)),
            _ => "\ndashboard: set DASHBOARD_URL to the stack's DashboardUrl output to see its link here"
                .to_string(),
        });
        text
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `last error (kind, at): message`, Webex's words escaped like every table cell.
fn last_error(e: &collector_app::operator::LastErrorView) -> String {
    format!(
        "last error ({}, {}): {}",
        e.kind,
        e.at,
        table::escape(&e.message)
    )
}

/// Each stream's units summed: how many, how many in error, the largest lag, the events of
/// their last runs.
fn per_stream(rows: &[collector_app::operator::StreamStatus]) -> String {
    let mut streams: Vec<&str> = rows.iter().map(|r| r.stream.as_str()).collect();
    streams.dedup();
    let mut text = String::new();
    for stream in streams {
        let units: Vec<_> = rows.iter().filter(|r| r.stream == stream).collect();
        let in_error = units.iter().filter(|r| r.status == "error").count();
        let lag = units.iter().filter_map(|r| r.lag_seconds).max();
        let events: u64 = units
            .iter()
            .filter_map(|r| r.last_run)
            .map(|r| r.events)
            .sum();
        text.push_str(&format!(
            "\n{stream}: {} unit(s), {in_error} in error, largest lag {}, {events} events in their last runs",
            units.len(),
            lag.map_or("-".into(), table::duration),
        ));
    }
    text
}

fn print<T: Serialize>(output: &Output, value: &T, human: impl FnOnce() -> String) -> Result<()> {
    if output.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

/// From a prompt without echo on a terminal, else the first line of standard input: never from
/// the command line, where it would land in shell history and process lists.
fn read_client_secret() -> Result<ClientSecret> {
    let secret = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("client secret: ").context("reading the client secret")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the client secret from standard input")?;
        line
    };
    Ok(ClientSecret::new(secret.trim()))
}
