//! `webex-sim`: the simulator as a process, for `make demo` and `make bench`. Uses the system
//! clock, generates events over the last few days (late ones keep arriving in real time) for
//! the home org and any customer orgs, prints one line with its base URL when ready, serves
//! until SIGTERM or Ctrl-C, then prints one line with the totals of what it served
//! (`webex-sim summary {json}`).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use webex_sim::{
    AUDIT_SCOPE, Api, COMPLIANCE_SCOPE, ClockMode, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID, GenerateSpec, ORGANIZATIONS_SCOPE, Order, SimConfig, SimOrg, Simulator, Stream,
};

#[derive(Debug, Parser)]
#[command(
    name = "webex-sim",
    version,
    about = "A deterministic Webex API simulator for tests and demos"
)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The home org: its administrator owns the `--refresh-token` tokens.
    #[arg(long, default_value = DEFAULT_ORG_ID)]
    org_id: String,
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// A refresh token to accept, as PROFILE=TOKEN with PROFILE `admin` (scopes
    /// audit:events_read and spark-admin:organizations_read) or `compliance` (scope
    /// spark-compliance:events_read), of the home org's administrator. Repeatable.
    #[arg(long = "refresh-token", value_name = "PROFILE=TOKEN")]
    refresh_tokens: Vec<String>,
    /// Events generated per stream, for the home org and for each customer org.
    #[arg(long, default_value_t = 500)]
    events: usize,
    /// Customer orgs managed by the home org's administrator, who is then a partner
    /// administrator: `GET /organizations` lists them and audit requests may name them.
    /// Customer K (1..=N) has the id `base64("ciscospark://us/ORGANIZATION/sim-customer-KKK")`
    /// (KKK zero-padded to 3 digits) and the name `Sim Customer KKK`.
    #[arg(long, default_value_t = 0)]
    orgs: u32,
    /// A burst of this many more events per stream, for one org, all created within the last
    /// `--burst-seconds` before the end of the history.
    #[arg(long, default_value_t = 0)]
    burst_events: usize,
    /// How long the burst lasts.
    #[arg(long, default_value_t = 300)]
    burst_seconds: u64,
    /// The org of the burst: 0 for the home org, K for customer K.
    #[arg(long, default_value_t = 0)]
    burst_org: u32,
    /// The streams that get events (comma-separated names, e.g. `compliance-events`); the
    /// others stay empty.
    #[arg(long, value_delimiter = ',', value_parser = parse_stream, default_value = "admin-audit,security-audit,compliance-events")]
    streams: Vec<Stream>,
    /// The events are spread over this many days before the end below.
    #[arg(long, default_value_t = 2.0)]
    days: f64,
    /// The events end this many seconds before now, so a collector with a settle lag sees
    /// them all at once (a backlog rather than a live stream).
    #[arg(long, default_value_t = 0)]
    end_offset_seconds: u64,
    /// Share of events that become visible only after they were created.
    #[arg(long, default_value_t = 0.05)]
    late_fraction: f64,
    /// Share of events that share their timestamp with another event.
    #[arg(long, default_value_t = 0.05)]
    shared_fraction: f64,
    /// Longest delay before a late event becomes visible.
    #[arg(long, default_value_t = 600)]
    max_lateness_seconds: u64,
    #[arg(long, value_enum, default_value_t = OrderArg::Newest)]
    order: OrderArg,
    /// Every refresh returns a new refresh token and retires the old one.
    #[arg(long)]
    rotate_refresh_tokens: bool,
    #[arg(long)]
    access_token_ttl_seconds: Option<u64>,
    /// Real-time delay added to every event page.
    #[arg(long, default_value_t = 0)]
    page_latency_ms: u64,
    /// Per client id, event requests beyond this many within a sliding minute get 429 with
    /// `Retry-After`, as Webex's own limit does. No limit when absent.
    #[arg(long)]
    rate_limit_per_minute: Option<u32>,
    /// Events generated for each of the other APIs served beside Webex (Graph sign-ins and
    /// directory audits, Secure Endpoint, general A, B and C; their default credentials), over
    /// the same days as the Webex events. They answer with none when 0.
    #[arg(long, default_value_t = 0)]
    api_events: usize,
    /// The other APIs that get `--api-events` (comma-separated names, e.g. `graph-signins`);
    /// all six by default.
    #[arg(long, value_delimiter = ',', value_parser = parse_api)]
    apis: Vec<Api>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OrderArg {
    Newest,
    Shuffled,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seeded = args
        .refresh_tokens
        .iter()
        .map(|spec| parse_refresh_token(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !(args.days.is_finite() && args.days > 0.0) {
        bail!(
            "--days must be a positive number of days, got {}",
            args.days
        );
    }
    if args.burst_org > args.orgs {
        bail!(
            "--burst-org {} names a customer org, but --orgs makes only {}",
            args.burst_org,
            args.orgs
        );
    }
    if args.burst_events > 0 && args.burst_seconds == 0 {
        bail!("--burst-seconds must be positive for a burst");
    }

    let defaults = SimConfig::default();
    let config = SimConfig {
        seed: args.seed,
        org_id: args.org_id,
        client_id: args.client_id,
        client_secret: args.client_secret,
        clock: ClockMode::System,
        access_token_ttl: args
            .access_token_ttl_seconds
            .map_or(defaults.access_token_ttl, Duration::from_secs),
        rotate_refresh_tokens: args.rotate_refresh_tokens,
        order: match args.order {
            OrderArg::Newest => Order::NewestFirst,
            OrderArg::Shuffled => Order::Shuffled,
        },
        page_latency: Duration::from_millis(args.page_latency_ms),
        rate_limit_per_minute: args.rate_limit_per_minute,
        ..defaults
    };
    let home = config.org_id.clone();
    let sim = Simulator::start_on(config, args.port).await?;
    for (token, scopes) in &seeded {
        sim.seed_refresh_token(token, scopes);
    }
    let customers: Vec<SimOrg> = (1..=args.orgs).map(SimOrg::customer).collect();
    for org in &customers {
        sim.add_org(org.clone());
    }
    if !customers.is_empty() {
        sim.set_managed_orgs(&sim.admin(), customers.iter().map(|o| o.id.clone()));
    }

    let to_ms = sim.now_ms() - (args.end_offset_seconds as i64).saturating_mul(1000);
    let from_ms = to_ms - (args.days * 86_400_000.0) as i64;
    let history = GenerateSpec {
        count: args.events,
        from_ms,
        to_ms,
        shared_timestamp_fraction: args.shared_fraction,
        late_fraction: args.late_fraction,
        max_lateness: Duration::from_secs(args.max_lateness_seconds),
    };
    let burst = GenerateSpec {
        count: args.burst_events,
        from_ms: to_ms - (args.burst_seconds as i64).saturating_mul(1000),
        ..history.clone()
    };
    let burst_org = match args.burst_org {
        0 => home.clone(),
        k => SimOrg::customer(k).id,
    };
    let orgs = std::iter::once(home).chain(customers.into_iter().map(|o| o.id));
    for org_id in orgs {
        for stream in Stream::ALL.into_iter().filter(|s| args.streams.contains(s)) {
            sim.add_events_for_org(&org_id, stream, history.clone());
            if org_id == burst_org && burst.count > 0 {
                sim.add_events_for_org(&org_id, stream, burst.clone());
            }
        }
    }

    if args.api_events > 0 {
        let spec = GenerateSpec {
            count: args.api_events,
            ..history.clone()
        };
        for api in Api::ALL
            .into_iter()
            .filter(|a| args.apis.is_empty() || args.apis.contains(a))
        {
            sim.generate_api(api, spec.clone());
        }
    }

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "webex-sim listening on {}", sim.base_url())?;
    stdout.flush()?;
    drop(stdout);

    shutdown_signal().await?;
    let summary = serde_json::to_string(&sim.request_summary())
        .context("cannot serialise the request summary")?;
    sim.stop().await;
    println!("webex-sim summary {summary}");
    Ok(())
}

fn parse_stream(name: &str) -> Result<Stream, String> {
    Stream::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = Stream::ALL.iter().map(|s| s.name()).collect();
            format!(
                "unknown stream '{name}', expected one of {}",
                names.join(", ")
            )
        })
}

fn parse_api(name: &str) -> Result<Api, String> {
    Api::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = Api::ALL.iter().map(|a| a.name()).collect();
            format!("unknown API '{name}', expected one of {}", names.join(", "))
        })
}

/// The token and the scopes the profile's administrator granted: `admin` may read audit
/// events and list the orgs it manages (`orgs = "discover"`).
fn parse_refresh_token(spec: &str) -> anyhow::Result<(String, &'static [&'static str])> {
    let (profile, token) = spec
        .split_once('=')
        .with_context(|| "--refresh-token takes PROFILE=TOKEN, e.g. admin=abc".to_owned())?;
    let scopes: &'static [&'static str] = match profile {
        "admin" => &[AUDIT_SCOPE, ORGANIZATIONS_SCOPE],
        "compliance" => &[COMPLIANCE_SCOPE],
        other => bail!("--refresh-token profile must be admin or compliance, got '{other}'"),
    };
    if token.is_empty() {
        bail!("--refresh-token {profile}= needs a token after '='");
    }
    Ok((token.to_owned(), scopes))
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn refresh_token_flags_name_a_profile() {
        assert_eq!(
            parse_refresh_token("admin=abc=def").unwrap(),
            (
                "abc=def".to_owned(),
                &[AUDIT_SCOPE, ORGANIZATIONS_SCOPE][..]
            )
        );
        assert_eq!(
            parse_refresh_token("compliance=x").unwrap().1,
            [COMPLIANCE_SCOPE]
        );
        for bad in ["admin", "admin=", "other=x", "=x"] {
            assert!(parse_refresh_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_parse() {
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "webex-sim",
            "--refresh-token",
            "admin=a",
            "--refresh-token",
            "compliance=c",
            "--order",
            "shuffled",
            "--events",
            "3",
        ])
        .unwrap();
        assert_eq!(args.refresh_tokens.len(), 2);
        assert!(matches!(args.order, OrderArg::Shuffled));
        assert_eq!(args.events, 3);
        assert_eq!(args.streams, Stream::ALL);
        assert_eq!(args.rate_limit_per_minute, None);

        let args = Args::try_parse_from([
            "webex-sim",
            "--streams",
            "compliance-events,admin-audit",
            "--page-latency-ms",
            "200",
            "--rate-limit-per-minute",
            "300",
            "--end-offset-seconds",
            "900",
        ])
        .unwrap();
        assert_eq!(args.streams, [Stream::ComplianceEvents, Stream::AdminAudit]);
        assert_eq!(args.page_latency_ms, 200);
        assert_eq!(args.rate_limit_per_minute, Some(300));
        assert_eq!(args.end_offset_seconds, 900);
        assert_eq!(args.api_events, 0);
        let args = Args::try_parse_from(["webex-sim", "--api-events", "250"]).unwrap();
        assert_eq!(args.api_events, 250);
        assert!(Args::try_parse_from(["webex-sim", "--streams", "chats"]).is_err());
        assert_eq!((args.orgs, args.burst_events, args.burst_org), (0, 0, 0));

        let args = Args::try_parse_from([
            "webex-sim",
            "--orgs",
            "20",
            "--burst-events",
            "1000000",
            "--burst-seconds",
            "180",
            "--burst-org",
            "3",
        ])
        .unwrap();
        assert_eq!(
            (
                args.orgs,
                args.burst_events,
                args.burst_seconds,
                args.burst_org
            ),
            (20, 1_000_000, 180, 3)
        );
    }
}
