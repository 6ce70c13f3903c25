//! A hostile upstream (issue 13, items 2 and 6): whatever Webex, or anything answering in its
//! place, sends (an absurd `Retry-After`, a body without end, a `Link` elsewhere or in a
//! circle) ends a run cleanly with an upstream error naming what was wrong: no panic, no wait
//! past the deadline, no lease left held, no upload left open, nothing committed for the
//! window, no request (so no token) sent anywhere but the stream's own endpoint. The next run
//! completes, every event exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use collector_app::{Config, StreamCollector, run_once};
use collector_core::{CollectError, ErrorKind, IdentityName, RunSummary, StopReason, StreamId};
use integration_tests::stack::{SimTime, sim_org_id};
use integration_tests::{Stack, StackOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use webex_sim::{Fault, GenerateSpec, SimEvent, Simulator};

/// Paged by `Link` (a cursor), so every link variant meets the collector.
const STREAM: StreamId = StreamId::ComplianceEvents;
const HOUR: i64 = 3_600_000;
/// Each run's deadline: far longer than a run of these few events needs, far shorter than
/// anything an absurd `Retry-After` asks for.
const RUN_BUDGET: Duration = Duration::from_secs(20);
const MIB: u64 = 1024 * 1024;

/// A stack whose whole first day is one window of `count` events, fetched `page_size` at a
/// time, one window at a time, without the request budget slowing the test.
async fn start(page_size: u32, count: usize) -> Result<(Stack, Vec<SimEvent>)> {
    let options = StackOptions {
        env: vec![
            ("SETTLE_LAG_SECONDS", "120".into()),
            ("OVERLAP_SECONDS", "900".into()),
            ("MAX_WINDOW_SECONDS", "172800".into()),
            ("INITIAL_LOOKBACK_DAYS", "1".into()),
            ("BACKFILL_WINDOWS", "1".into()),
            ("MAX_REQUESTS_PER_MINUTE", "6000".into()),
            ("PAGE_SIZE", page_size.to_string()),
        ],
        ..StackOptions::default()
    };
    let stack = Stack::start(options).await?;
    let now = stack.sim.now_ms();
    let events = stack.sim.generate(
        webex_sim::Stream::ComplianceEvents,
        GenerateSpec::new(count, now - 23 * HOUR, now - HOUR / 6),
    );
    Ok((stack, events))
}

/// One run on a task of its own, so that a panic shows as one, with the run's deadline
/// `RUN_BUDGET` away; it must end by then.
async fn run_guarded(
    collector: StreamCollector<SimTime>,
) -> Result<Result<RunSummary, CollectError>> {
    let started = Instant::now();
    let deadline = started + RUN_BUDGET;
    let run = tokio::spawn(async move { run_once(&collector, deadline).await });
    let joined = tokio::time::timeout(RUN_BUDGET + Duration::from_secs(5), run)
        .await
        .context("the run went on past its deadline")?;
    let result = match joined {
        Ok(result) => result,
        Err(e) if e.is_panic() => bail!("the run panicked: {e}"),
        Err(e) => bail!("the run's task failed: {e}"),
    };
    ensure!(
        started.elapsed() <= RUN_BUDGET,
        "the run took {:?}, past its deadline",
        started.elapsed()
    );
    Ok(result)
}

async fn run(stack: &Stack) -> Result<Result<RunSummary, CollectError>> {
    run_guarded(stack.collector(STREAM)?).await
}

/// The stream's lease item, if one is held.
async fn lease(stack: &Stack) -> Result<Option<String>> {
    let key =
        collector_core::cursor::CursorKey::live(STREAM.name().to_string(), sim_org_id(&stack.sim));
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(key.lease_key()),
        )
        .consistent_read(true)
        .send()
        .await
        .context("read the lease")?;
    Ok(item.item().map(|i| format!("{i:?}")))
}

/// The run failed as an upstream failure naming `what`, and left the stream as it found it:
/// nothing committed, no upload open, the lease given back. Returns the error's text.
async fn assert_failed_cleanly(
    stack: &Stack,
    result: Result<RunSummary, CollectError>,
    what: &str,
) -> Result<String> {
    let error = match result {
        Ok(summary) => bail!("the run should have failed naming {what:?}; it ended {summary:?}"),
        Err(e) => e,
    };
    let message = error.to_string();
    ensure!(
        error.kind() == ErrorKind::Upstream,
        "not an upstream error: {message}"
    );
    ensure!(message.contains(what), "{message:?} does not name {what:?}");
    let cursor = stack.cursor(STREAM).await?.unwrap_or_default();
    ensure!(
        cursor.committed_until.is_none(),
        "the window was committed after: {message}"
    );
    ensure!(
        cursor
            .last_error
            .as_ref()
            .is_some_and(|e| e.message == message),
        "the cursor does not record the error"
    );
    ensure!(
        stack.open_uploads().await? == 0,
        "an upload was left open after: {message}"
    );
    ensure!(
        lease(stack).await?.is_none(),
        "the lease outlived the failed run: {message}"
    );
    Ok(message)
}

/// The next run, with Webex behaving again, completes: every event exactly once.
async fn assert_next_run_completes(
    stack: &Stack,
    collector: StreamCollector<SimTime>,
    events: &[SimEvent],
) -> Result<()> {
    stack.sim.clear_faults();
    let summary = run_guarded(collector).await??;
    ensure!(
        summary.stopped == StopReason::CaughtUp,
        "the next run was turned away or stopped early: {summary:?}"
    );
    stack.assert_all_landed_once(STREAM, events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_retry_after_neither_panics_nor_blocks_the_stream() -> Result<()> {
    // (status, Retry-After, what the run's error names; `None`: the value is unreadable, so the
    // run backs off by itself and completes)
    let cases: [(u16, &str, Option<&str>); 5] = [
        (
            429,
            "18446744073709551615",
            Some("HTTP 429 with Retry-After: 18446744073709551615, beyond the 60-minute wait"),
        ),
        (429, "-1", None),
        (
            429,
            "Fri, 31 Dec 9999 23:59:59 GMT",
            Some("Retry-After: Fri, 31 Dec 9999 23:59:59 GMT, beyond the 60-minute wait"),
        ),
        (429, "in a while; maybe", None),
        (
            503,
            "99999999999999999999999999999999",
            Some("HTTP 503 with Retry-After: 99999999999999999999999999999999, beyond"),
        ),
    ];
    for (status, value, refused) in cases {
        let (stack, events) = start(50, 120).await?;
        // GIVEN Webex answers one request with this status and Retry-After
        stack.sim.push_faults([Fault::RetryAfterText {
            status,
            value: value.to_string(),
        }]);
        // WHEN the collector runs
        let first = run(&stack)
            .await
            .with_context(|| format!("Retry-After: {value}"))?;
        // THEN it fails cleanly, naming the value, or backs off and completes
        match refused {
            Some(what) => {
                assert_failed_cleanly(&stack, first, what)
                    .await
                    .with_context(|| format!("Retry-After: {value}"))?;
            }
            None => {
                let summary = first.with_context(|| format!("Retry-After: {value}"))?;
                ensure!(
                    summary.stopped == StopReason::CaughtUp,
                    "{value}: {summary:?}"
                );
                let retried = stack
                    .sim
                    .requests()
                    .iter()
                    .filter(|r| r.fault.as_deref() == Some("RetryAfterText"))
                    .count();
                ensure!(retried == 1, "{value}: the fault was met {retried} times");
            }
        }
        // AND the stream completes exactly once
        assert_next_run_completes(&stack, stack.collector(STREAM)?, &events)
            .await
            .with_context(|| format!("Retry-After: {value}"))?;
    }
    Ok(())
}

/// The byte count in "stopped reading after N bytes".
fn bytes_read(message: &str) -> Option<u64> {
    let rest = &message[message.find("stopped reading after ")? + "stopped reading after ".len()..];
    rest.split(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_without_end_or_over_its_cap_is_cut_off_and_nothing_is_committed() -> Result<()> {
    let cap = webex_client::EVENT_PAGE_CAP as u64;
    // One event a page: no smaller page can be asked for, so the cap ends the window at once.
    let (stack, events) = start(1, 12).await?;
    let cases = [
        (
            "a page 1 MiB over the cap, chunked",
            Fault::OversizedPage { bytes: cap + MIB },
        ),
        ("a page without end", Fault::EndlessPage),
        (
            "Content-Length: 2 GiB",
            Fault::DeclaredLength(2 * 1024 * MIB),
        ),
    ];
    for (name, fault) in cases {
        // GIVEN Webex answers the first page with this body
        stack.sim.push_faults([fault]);
        // WHEN the collector runs
        let first = run(&stack).await.context(name)?;
        // THEN the window fails with an upstream error naming the cap, having held no more of
        // the body than the cap
        let message = assert_failed_cleanly(&stack, first, "event page body over the 32 MiB cap")
            .await
            .context(name)?;
        ensure!(
            message.contains("even for one event a page"),
            "{name}: {message}"
        );
        if name.starts_with("Content-Length") {
            ensure!(
                message.contains("Content-Length: 2147483648; nothing read"),
                "{name}: refused only after reading: {message}"
            );
        } else {
            let read = bytes_read(&message).with_context(|| format!("{name}: {message}"))?;
            ensure!(
                read <= cap && read > cap / 2,
                "{name}: the reader held {read} bytes"
            );
        }
    }
    // AND the next run completes
    assert_next_run_completes(&stack, stack.collector(STREAM)?, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_its_cap_once_is_asked_for_again_in_smaller_pages() -> Result<()> {
    let (stack, events) = start(50, 120).await?;
    // GIVEN the first page's body is over the cap
    stack.sim.push_faults([Fault::OversizedPage {
        bytes: webex_client::EVENT_PAGE_CAP as u64 + MIB,
    }]);
    // WHEN the collector runs
    let summary = run(&stack).await??;
    // THEN it asks for half as many events, as after a 504, and completes
    ensure!(summary.stopped == StopReason::CaughtUp, "{summary:?}");
    let requests = stack.sim.requests();
    ensure!(
        requests[0].fault.as_deref() == Some("OversizedPage")
            && requests[0].query.contains("max=50"),
        "{:?}",
        requests[0]
    );
    ensure!(
        requests[1].fault.is_none() && requests[1].query.contains("max=25"),
        "the retry did not ask for fewer events: {:?}",
        requests[1]
    );
    stack.assert_all_landed_once(STREAM, &events).await
}

/// A listener that stands for another origin: it only counts who connects.
struct Elsewhere {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Elsewhere {
    async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Ok(Self {
            port,
            connections,
            task,
        })
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_away_from_the_stream_or_back_to_a_fetched_page_is_never_followed() -> Result<()>
{
    let (stack, events) = start(30, 120).await?;
    let evil = Elsewhere::start().await?;
    let (sim, port) = (stack.sim.base_url(), stack.sim.port());
    let here = |fault| vec![fault];
    // (what, the first page's faults, what the error names, event requests the run makes)
    let cases: Vec<(&str, Vec<Fault>, String, usize)> = vec![
        (
            "another host",
            here(Fault::Link(format!(
                "http://localhost:{}/v1/events?cursor=x",
                evil.port
            ))),
            "another host (localhost)".into(),
            1,
        ),
        (
            "another scheme",
            here(Fault::Link(format!(
                "https://127.0.0.1:{port}/v1/events?cursor=x"
            ))),
            "leads to https:// instead of http://".into(),
            1,
        ),
        (
            "the API's address as a user name",
            here(Fault::Link(format!(
                "http://127.0.0.1:{port}@127.0.0.1:{}/v1/events",
                evil.port
            ))),
            "carries a user name or password".into(),
            1,
        ),
        (
            "a user name",
            here(Fault::Link(format!(
                "http://user@127.0.0.1:{port}/v1/events"
            ))),
            "carries a user name or password".into(),
            1,
        ),
        (
            "protocol-relative",
            here(Fault::Link(format!("//127.0.0.1:{}/v1/events", evil.port))),
            "is not an absolute URL".into(),
            1,
        ),
        (
            "another port",
            here(Fault::Link(format!(
                "http://127.0.0.1:{}/v1/events",
                evil.port
            ))),
            format!("another port ({})", evil.port),
            1,
        ),
        (
            "another path: people",
            here(Fault::Link(format!("{sim}/people/me"))),
            "leads to /v1/people/me instead of the stream's /v1/events".into(),
            1,
        ),
        (
            "another path: the token endpoint",
            here(Fault::Link(format!("{sim}/access_token"))),
            "leads to /v1/access_token instead of the stream's /v1/events".into(),
            1,
        ),
        (
            "the page itself",
            here(Fault::LinkToSelf),
            "leads back to the page it came with".into(),
            1,
        ),
        (
            // Page 1, page 2 linking back to page 1, which links to page 2 again.
            "a circle",
            vec![Fault::Slow(Duration::ZERO), Fault::LinkToPrevious],
            "leads back to a page of this query already fetched".into(),
            3,
        ),
    ];
    for (name, faults, what, requests) in cases {
        let before = stack.sim.requests().len();
        // GIVEN the first page's Link points there
        stack.sim.push_faults(faults);
        // WHEN the collector runs
        let first = run(&stack).await.context(name)?;
        // THEN it fails cleanly, naming the link's fault, without following it
        assert_failed_cleanly(&stack, first, &what)
            .await
            .context(name)?;
        let made = &stack.sim.requests()[before..];
        ensure!(
            made.len() == requests,
            "{name}: {} requests reached the simulator: {made:?}",
            made.len()
        );
        ensure!(
            made.iter().all(|r| r.path == "/v1/events"),
            "{name}: a request left the event endpoint: {made:?}"
        );
        ensure!(
            evil.connections.load(Ordering::SeqCst) == 0,
            "{name}: a request (and its token) went to another origin"
        );
    }
    // AND nothing but the events was stored once Webex behaves
    assert_next_run_completes(&stack, stack.collector(STREAM)?, &events).await?;
    ensure!(
        stack.sim.requests().iter().all(|r| r.path == "/v1/events"),
        "a request left the event endpoint"
    );
    ensure!(evil.connections.load(Ordering::SeqCst) == 0);
    Ok(())
}

/// Stands in front of the simulator as "Webex": forwards every request to it (`Link`s
/// rewritten to point here), except that answers to one path can be replaced by an oversized
/// one, for the calls the simulator's fault list does not reach (the token endpoint,
/// `/people/me`).
struct Front {
    base_url: String,
    state: Arc<FrontState>,
    task: JoinHandle<()>,
}

struct FrontState {
    sim_base: String,
    own_base: String,
    http: reqwest::Client,
    /// The path whose answers are replaced, and by how many bytes.
    oversize: Mutex<Option<(String, u64)>>,
    oversized_served: AtomicUsize,
}

impl Front {
    async fn start(sim: &Simulator) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let state = Arc::new(FrontState {
            sim_base: sim.base_url(),
            own_base: base_url.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            oversize: Mutex::new(None),
            oversized_served: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base_url,
            state,
            task,
        })
    }

    /// Answers to `path` become 200s of `bytes` bytes (chunked, no `Content-Length`).
    fn oversize(&self, path: &str, bytes: u64) {
        *self
            .state
            .oversize
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((path.to_string(), bytes));
    }

    fn behave(&self) {
        *self
            .state
            .oversize
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn oversized_served(&self) -> usize {
        self.state.oversized_served.load(Ordering::SeqCst)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(front): State<Arc<FrontState>>, request: Request) -> Response {
    let oversize = front
        .oversize
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some((path, bytes)) = oversize
        && request.uri().path() == path
    {
        front.oversized_served.fetch_add(1, Ordering::SeqCst);
        return oversized(bytes);
    }
    match pass_on(&front, request).await {
        Ok(response) => response,
        Err(e) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(format!("front: {e:#}")))
            .unwrap_or_default(),
    }
}

/// `{"x":"` and spaces: JSON that never closes, `bytes` long, 64 KiB at a time.
fn oversized(bytes: u64) -> Response {
    let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
    let head = futures_util_once(bytes::Bytes::from_static(b"{\"x\":\""));
    let body = futures_util::stream::unfold(bytes, move |left| {
        let chunk = chunk.clone();
        async move {
            (left > 0).then(|| {
                let n = left.min(chunk.len() as u64);
                (Ok::<_, std::io::Error>(chunk.slice(..n as usize)), left - n)
            })
        }
    });
    let mut response = Response::new(Body::from_stream(futures_util::StreamExt::chain(
        head, body,
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn futures_util_once(
    bytes: bytes::Bytes,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::once(async move { Ok(bytes) })
}

async fn pass_on(front: &FrontState, request: Request) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024).await?;
    let origin = front.sim_base.trim_end_matches("/v1");
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = front
        .http
        .request(parts.method, format!("{origin}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !matches!(
            name,
            &header::HOST | &header::CONTENT_LENGTH | &header::CONNECTION
        ) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if matches!(
            name,
            &header::CONTENT_LENGTH | &header::TRANSFER_ENCODING | &header::CONNECTION
        ) {
            continue;
        }
        if name == header::LINK {
            let link = value.to_str()?.replace(&front.sim_base, &front.own_base);
            response = response.header(name, link);
        } else {
            response = response.header(name, value);
        }
    }
    Ok(response.body(Body::from(answer.bytes().await?))?)
}

/// The collector for `STREAM` with Webex at `api_url`.
fn collector_at(stack: &Stack, api_url: &str) -> Result<StreamCollector<SimTime>> {
    let mut env = stack.stream_env(STREAM);
    env.insert("WEBEX_API_URL".into(), api_url.to_string());
    let config = Config::from_lookup(|name| env.get(name).cloned())?;
    stack.collector_with(STREAM, &config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_answer_over_its_cap_fails_the_run_cleanly_and_the_next_run_completes() -> Result<()>
{
    let (stack, events) = start(50, 120).await?;
    let front = Front::start(&stack.sim).await?;
    // GIVEN the token endpoint answers the collector's refresh with 4 MiB
    front.oversize("/v1/access_token", 4 * MIB);
    // WHEN the collector runs (its secret holds no access token yet, so it refreshes first)
    let first = run_guarded(collector_at(&stack, &front.base_url)?).await?;
    // THEN it fails cleanly, naming the cap
    let message =
        assert_failed_cleanly(&stack, first, "token answer body over the 64 KiB cap").await?;
    let read = bytes_read(&message).with_context(|| message.clone())?;
    ensure!(read <= 64 * 1024, "the reader held {read} bytes");
    ensure!(
        front.oversized_served() == 1,
        "the answer was asked for again"
    );
    // AND the next run, the token endpoint behaving, completes with the same refresh token
    front.behave();
    assert_next_run_completes(&stack, collector_at(&stack, &front.base_url)?, &events).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_people_me_answer_over_its_cap_is_refused_and_the_secret_is_untouched() -> Result<()> {
    let stack = Stack::start(StackOptions {
        authorised: false,
        ..StackOptions::default()
    })
    .await?;
    let front = Front::start(&stack.sim).await?;
    let operator = stack.operator()?;
    stack.install("admin").await?;
    let before = stack.secret("admin").await?;
    // GIVEN /people/me answers with 4 MiB
    front.oversize("/v1/people/me", 4 * MIB);
    let mut env = stack.identities_env();
    env.insert("WEBEX_API_URL".into(), front.base_url.clone());
    let callback = collector_app::callback::Callback::new(
        &collector_app::IdentitiesConfig::from_lookup(|n| env.get(n).cloned(), None)?,
        &stack.collector_sdk,
        Arc::new(SimTime(stack.sim.clone())),
    )?;
    // WHEN a person consents and Webex redirects to the callback
    let link = operator.auth_url(&IdentityName::ADMIN, None).await?;
    let query = stack.consent(&link.url).await?;
    let started = Instant::now();
    let page = callback
        .handle(lambda_runtime::LambdaEvent::new(
            collector_app::callback::HttpRequest::new("GET", &query),
            lambda_runtime::Context::default(),
        ))
        .await?;
    // THEN the callback refuses within its time, without storing anything
    ensure!(
        started.elapsed() < Duration::from_secs(15),
        "the callback took {:?}",
        started.elapsed()
    );
    ensure!(front.oversized_served() >= 1, "people/me was not asked");
    ensure!(
        (400..500).contains(&page.status_code),
        "not a 4xx refusal of an answer over the cap: {}",
        page.body
    );
    ensure!(stack.secret("admin").await? == before, "the secret changed");
    // AND a second consent, Webex behaving, authorises
    front.behave();
    let link = operator.auth_url(&IdentityName::ADMIN, None).await?;
    let query = stack.consent(&link.url).await?;
    let page = stack.call_back(&query).await?;
    ensure!(page.status_code == 200, "{}", page.body);
    ensure!(
        stack.secret("admin").await?["refresh_token"].is_string(),
        "no refresh token stored"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_retry_after_on_the_callbacks_scope_probe_neither_panics_nor_overruns()
-> Result<()> {
    let stack = Stack::start(StackOptions {
        authorised: false,
        ..StackOptions::default()
    })
    .await?;
    let operator = stack.operator()?;
    stack.install("admin").await?;
    let values = [
        "18446744073709551615",
        "-1",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "garbage",
    ];
    for value in values {
        let before = stack.secret("admin").await?;
        let requests_before = stack.sim.requests().len();
        // GIVEN the callback's scope probe (its one event request) meets this Retry-After
        stack.sim.push_faults([Fault::RetryAfterText {
            status: 429,
            value: value.to_string(),
        }]);
        let link = operator.auth_url(&IdentityName::ADMIN, None).await?;
        let query = stack.consent(&link.url).await?;
        // WHEN Webex redirects to the callback
        let started = Instant::now();
        let page = stack.call_back(&query).await.context(value)?;
        // THEN it answers within its time (a panic would have failed the test here): an
        // unreadable value is backed off and the grant stored; an absurd one is refused
        // without storing anything
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "{value}: the callback took {:?}",
            started.elapsed()
        );
        let probed = stack.sim.requests()[requests_before..]
            .iter()
            .filter(|r| r.fault.as_deref() == Some("RetryAfterText"))
            .count();
        ensure!(
            probed == 1,
            "{value}: the probe met the fault {probed} times"
        );
        stack.sim.clear_faults();
        let absurd = value.starts_with("18446") || value.starts_with("Fri");
        if absurd {
            ensure!(
                (400..500).contains(&page.status_code),
                "{value}: not a 4xx refusal ({})",
                page.body
            );
            ensure!(
                stack.secret("admin").await? == before,
                "{value}: the secret changed"
            );
        } else {
            ensure!(page.status_code == 200, "{value}: {}", page.body);
        }
    }
    // AND a consent with Webex behaving authorises
    let link = operator.auth_url(&IdentityName::ADMIN, None).await?;
    let query = stack.consent(&link.url).await?;
    let page = stack.call_back(&query).await?;
    ensure!(page.status_code == 200, "{}", page.body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_api_url_off_this_machine_is_refused_naming_webex_api_url() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let urls = [
        ("http://webexapis.com/v1", false),
        ("http://127.0.0.1.evil.example/v1", false),
        ("https://webexapis.com/v1", true),
        ("http://localhost:9/v1", true),
    ];
    for (url, accepted) in urls {
        match (collector_at(&stack, url), accepted) {
            (Ok(_), true) => {}
            (Err(e), false) => {
                let message = format!("{e:#}");
                ensure!(
                    message.contains("WEBEX_API_URL") && message.contains("https://"),
                    "{url}: {message}"
                );
            }
            (Ok(_), false) => bail!("{url} was accepted"),
            (Err(e), true) => bail!("{url} was refused: {e:#}"),
        }
    }
    Ok(())
}
