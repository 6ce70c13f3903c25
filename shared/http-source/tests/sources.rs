//! The generic adapter against the simulator's other APIs, over real HTTP: each paging kind,
//! each credential kind, rate-limit headers, refusals, and ids beyond 2^53. A small driver
//! here follows pages as the core's collect does (first request, then each page's next, drop
//! what lies outside the window, a seen set, loops refused); the end-to-end runs through the
//! collector and S3 are the integration suite's.

// Helpers outside `#[test]` functions are test code too: a panic is how they report failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use collector_core::event::{EventKey, RawEvent};
use collector_core::json_path::JsonPath;
use collector_core::page::{EventId, HintPaths, Items, PageShape};
use collector_core::ports::{EventSource, PageRequest, PageTarget, SourceError};
use collector_core::secret::{AccessToken, ApiKey, Credential};
use collector_core::source::{
    Body, BodyValue, ErrorMessage, Method, Paging, PagingKind, PagingParams, Position, QueryBounds,
    Quirks, RateLimitHeaders, RequestTemplate, SourceSpec, Template, azure_graph, secure_endpoint,
};
use collector_core::time::Timestamp;
use collector_core::time_format::TimeFormat;
use http_source::{HttpSource, RequestBudget, RetryPolicy};
use tokio::time::Instant;
use webex_sim::{
    Api, ApiEvent, DEFAULT_GENERAL_A_API_KEY, DEFAULT_GENERAL_B_PASSWORD, DEFAULT_GENERAL_B_USER,
    DEFAULT_GRAPH_TENANT, DEFAULT_SECURE_ENDPOINT_API_KEY, DEFAULT_SECURE_ENDPOINT_CLIENT_ID,
    DEFAULT_START_MS, Fault, GenerateSpec, GraphTenant, SimConfig, Simulator,
};

const NOW: i64 = DEFAULT_START_MS;
const HOUR_MS: i64 = 3_600_000;

/// Short waits, so that retried faults cost milliseconds.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    }
}

async fn sim() -> Simulator {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    // Graph's real limit (5 requests in 10 s) would make every test wait; the tests that are
    // about throttling turn it back on.
    sim.configure_apis(|apis| apis.graph.throttle = None);
    sim
}

fn path(p: &str) -> JsonPath {
    JsonPath::parse(p).unwrap()
}

fn t(text: &str) -> Template {
    Template::parse(text).unwrap()
}

fn spec(count: usize) -> GenerateSpec {
    GenerateSpec {
        shared_timestamp_fraction: 0.4,
        ..GenerateSpec::new(count, NOW - HOUR_MS, NOW - 60_000)
    }
}

fn bounds(from_ms: i64, to_ms: i64) -> QueryBounds {
    QueryBounds {
        from: Timestamp::from_millis(from_ms),
        to: Timestamp::from_millis(to_ms),
        org: "-".to_string(),
        extra: Vec::new(),
    }
}

/// What a window's query read.
struct Read {
    /// Each event in the window once, in the order read.
    events: Vec<RawEvent>,
    pages: usize,
    /// Events read again (offset paging over a list that grew at its head).
    repeats: usize,
}

/// Counts only: a failed test printing every event says nothing.
impl std::fmt::Debug for Read {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Read {{ events: {}, pages: {}, repeats: {} }}",
            self.events.len(),
            self.pages,
            self.repeats
        )
    }
}

/// Every page of one query, as the core's `fetch_range` reads them.
async fn read_window(
    http: &HttpSource,
    source: &SourceSpec,
    credential: &Credential,
    bounds: QueryBounds,
    page_size: u32,
) -> Result<Read, SourceError> {
    let (from, to) = (bounds.from, bounds.to);
    let mut next = Some(PageRequest {
        target: PageTarget::Query {
            bounds,
            position: Position::First,
        },
        max: page_size,
    });
    let mut followed = HashSet::new();
    let mut seen = HashSet::new();
    let mut read = Read {
        events: Vec::new(),
        pages: 0,
        repeats: 0,
    };
    while let Some(request) = next.take() {
        let again = match &request.target {
            PageTarget::Link(link) => !followed.insert(link.clone()),
            PageTarget::Query {
                position: Position::Cursor(token),
                ..
            } => !followed.insert(token.clone()),
            PageTarget::Query { .. } => false,
        };
        if again {
            return Err(SourceError::Unacceptable("paging would loop".to_string()));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let page = http
            .fetch_page(source, credential, &request, deadline)
            .await?;
        read.pages += 1;
        for event in page.events {
            if event.created < from || event.created >= to {
                continue;
            }
            if seen.insert(event.key) {
                read.events.push(event);
            } else {
                read.repeats += 1;
            }
        }
        next = page.next;
    }
    Ok(read)
}

/// The simulator's events in `[from, to)`, as text, sorted; and what was read, the same way.
fn compare(
    expected: &[ApiEvent],
    from_ms: i64,
    to_ms: i64,
    read: &Read,
) -> (Vec<String>, Vec<String>) {
    let mut want: Vec<String> = expected
        .iter()
        .filter(|e| e.time_ms >= from_ms && e.time_ms < to_ms)
        .map(|e| e.json.clone())
        .collect();
    want.sort();
    let mut got: Vec<String> = read
        .events
        .iter()
        .map(|e| String::from_utf8(e.json.to_vec()).unwrap())
        .collect();
    got.sort();
    (want, got)
}

fn graph_token(sim: &Simulator) -> Credential {
    Credential::Bearer(AccessToken::new(
        sim.issue_graph_token(DEFAULT_GRAPH_TENANT),
    ))
}

fn graph_url(sim: &Simulator) -> String {
    // The simulator serves Graph under /graph/v1.0; the preset appends the resource.
    format!("{}/graph/v1.0", sim.origin())
}

#[tokio::test]
async fn graph_sign_ins_and_directory_audits_are_read_once_byte_for_byte() {
    let sim = sim().await;
    let http = HttpSource::new(None, quick()).unwrap();
    let credential = graph_token(&sim);
    for (api, resource) in [
        (Api::GraphSignIns, azure_graph::Resource::SignIns),
        (
            Api::GraphDirectoryAudits,
            azure_graph::Resource::DirectoryAudits,
        ),
    ] {
        let generated = sim.generate_api(api, spec(640));
        let source = azure_graph::source(resource, &graph_url(&sim));
        // A window inside the hour, so that events at both bounds and shared times are cut.
        let (from, to) = (NOW - 50 * 60_000, NOW - 10 * 60_000);
        // Faults on the way: a 5xx, a cut-off body, and a 429 without Retry-After.
        sim.configure_apis(|apis| apis.graph.retry_after = false);
        sim.push_api_faults(
            api,
            [
                Fault::ServerError(503),
                Fault::Truncated,
                Fault::TooManyRequests { retry_after_s: 1 },
            ],
        );
        let read = read_window(&http, &source, &credential, bounds(from, to), 100)
            .await
            .unwrap();
        let (want, got) = compare(&generated, from, to, &read);
        assert!(
            want.len() > 300,
            "{api:?}: a window of substance ({})",
            want.len()
        );
        assert_eq!(got, want, "{api:?}: every event once, byte for byte");
        assert!(
            read.pages >= 4,
            "{api:?}: paged by @odata.nextLink ({})",
            read.pages
        );
        // Newest first, as Graph lists them.
        let times: Vec<Timestamp> = read.events.iter().map(|e| e.created).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{api:?}");
    }
}

#[tokio::test]
async fn graph_names_the_licence_error_and_a_refused_token() {
    let sim = sim().await;
    sim.configure_apis(|apis| {
        apis.graph.tenants = vec![GraphTenant {
            id: DEFAULT_GRAPH_TENANT.to_string(),
            premium: false,
        }]
    });
    let http = HttpSource::new(None, quick()).unwrap();
    let credential = graph_token(&sim);
    let signins = azure_graph::source(azure_graph::Resource::SignIns, &graph_url(&sim));
    let e = read_window(
        &http,
        &signins,
        &credential,
        bounds(NOW - HOUR_MS, NOW),
        100,
    )
    .await
    .unwrap_err();
    let SourceError::Refused { name, message, fix } = &e else {
        panic!("a named refusal, not {e:?}");
    };
    assert_eq!(name, "licence");
    assert!(message.contains("premium license"), "{message}");
    assert!(fix.contains("P1 or P2"), "{fix}");
    // Directory audits need no licence.
    let audits = azure_graph::source(azure_graph::Resource::DirectoryAudits, &graph_url(&sim));
    sim.generate_api(Api::GraphDirectoryAudits, spec(10));
    read_window(&http, &audits, &credential, bounds(NOW - HOUR_MS, NOW), 100)
        .await
        .unwrap();
    // A token Graph does not know: 401, for the collector to fetch another once.
    let stranger = Credential::Bearer(AccessToken::new("not-a-token"));
    let e = read_window(&http, &audits, &stranger, bounds(NOW - HOUR_MS, NOW), 100)
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Unauthorized), "{e:?}");
}

#[tokio::test]
async fn graph_throttling_without_retry_after_holds_the_identitys_budget() {
    let sim = sim().await;
    sim.configure_apis(|apis| {
        apis.graph.retry_after = false;
        apis.graph.throttle = Some(webex_sim::Throttle {
            requests: 2,
            per: Duration::from_millis(300),
        });
    });
    let generated = sim.generate_api(Api::GraphSignIns, spec(500));
    // Backoff that outlasts the throttle's window within its attempts, as a Graph client's must.
    let patient = RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(60),
        max_delay: Duration::from_millis(400),
        request_timeout: Duration::from_secs(5),
    };
    let http = HttpSource::new(None, patient)
        .unwrap()
        .with_budget(RequestBudget::per_minute(6000));
    let source = azure_graph::source(azure_graph::Resource::SignIns, &graph_url(&sim));
    let read = read_window(
        &http,
        &source,
        &graph_token(&sim),
        bounds(NOW - HOUR_MS, NOW),
        50,
    )
    .await
    .unwrap();
    let (want, got) = compare(&generated, NOW - HOUR_MS, NOW, &read);
    assert_eq!(got, want);
    let limited = sim.requests().iter().filter(|r| r.status == 429).count();
    assert!(limited > 0, "the throttle was met");
}

/// Secure Endpoint as the simulator serves it, under `/amp`.
fn secure_endpoint_at(sim: &Simulator) -> SourceSpec {
    secure_endpoint::source(
        &format!("{}/amp", sim.origin()),
        &secure_endpoint::EventFilters::default(),
    )
}

/// The simulator's API client with `key`.
fn secure_endpoint_key(key: &str) -> Credential {
    Credential::Basic {
        id: DEFAULT_SECURE_ENDPOINT_CLIENT_ID.to_string(),
        key: ApiKey::new(key),
    }
}

#[tokio::test]
async fn secure_endpoint_keeps_big_ids_as_text_and_reads_from_the_start_only() {
    let sim = sim().await;
    let generated = sim.generate_api(Api::SecureEndpoint, spec(700));
    let http = HttpSource::new(None, quick()).unwrap();
    let source = secure_endpoint_at(&sim);
    let credential = secure_endpoint_key(DEFAULT_SECURE_ENDPOINT_API_KEY);
    let (from, to) = (NOW - 45 * 60_000, NOW - 15 * 60_000);
    sim.push_api_faults(
        Api::SecureEndpoint,
        [Fault::ServerError(500), Fault::Truncated],
    );
    let read = read_window(&http, &source, &credential, bounds(from, to), 100)
        .await
        .unwrap();
    let (want, got) = compare(&generated, from, to, &read);
    assert!(want.len() > 200);
    assert_eq!(got, want, "every event once, byte for byte");
    // The ids are beyond 2^53, and each event's key is its id's digits.
    for event in &read.events {
        let text = std::str::from_utf8(&event.json).unwrap();
        let digits = text
            .split("\"id\":")
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next())
            .unwrap();
        assert!(digits.parse::<u64>().unwrap() > 1 << 53, "{digits}");
        assert_eq!(event.key, EventKey::of(digits));
    }
    // No end bound was sent: the API reads up to now, and what lies after the window is ours
    // to drop.
    let first = &sim.requests()[0];
    assert!(
        first.query.contains("start_date=") && !first.query.contains("end"),
        "{}",
        first.query
    );
}

#[tokio::test]
async fn secure_endpoint_offsets_repeat_what_arrives_meanwhile_and_the_seen_set_drops_it() {
    let sim = sim().await;
    sim.generate_api(Api::SecureEndpoint, spec(300));
    let http = HttpSource::new(None, quick()).unwrap();
    let source = secure_endpoint_at(&sim);
    let credential = secure_endpoint_key(DEFAULT_SECURE_ENDPOINT_API_KEY);
    // The first page, then new events at the head, then the rest.
    let first = PageRequest {
        target: PageTarget::Query {
            bounds: bounds(NOW - HOUR_MS, NOW),
            position: Position::First,
        },
        max: 100,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = http
        .fetch_page(&source, &credential, &first, deadline)
        .await
        .unwrap();
    sim.generate_api(
        Api::SecureEndpoint,
        GenerateSpec::new(7, NOW - 30_000, NOW - 1_000),
    );
    let mut seen: HashSet<EventKey> = page.events.iter().map(|e| e.key).collect();
    let mut repeats = 0;
    let mut next = page.next;
    while let Some(request) = next.take() {
        let page = http
            .fetch_page(&source, &credential, &request, deadline)
            .await
            .unwrap();
        for event in page.events {
            if !seen.insert(event.key) {
                repeats += 1;
            }
        }
        next = page.next;
    }
    assert_eq!(
        repeats, 7,
        "each new event pushed one old one onto the next page"
    );
    // The new ones sit at the head, before the offsets read: the next run's to read.
    assert_eq!(seen.len(), 300);
}

#[tokio::test]
async fn secure_endpoint_rate_limit_headers_hold_requests_until_the_reset() {
    let sim = sim().await;
    sim.configure_apis(|apis| apis.secure_endpoint.hourly_budget = 2);
    sim.generate_api(Api::SecureEndpoint, spec(300));
    let http = HttpSource::new(None, quick())
        .unwrap()
        .with_budget(RequestBudget::per_minute(6000));
    let source = secure_endpoint_at(&sim);
    let credential = secure_endpoint_key(DEFAULT_SECURE_ENDPOINT_API_KEY);
    // Two requests, the second answered with no requests left: the run ends for want of time
    // (the reset is most of an hour away) without sending a third that would earn a 429.
    let e = read_window(&http, &source, &credential, bounds(NOW - HOUR_MS, NOW), 100)
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::OutOfTime), "{e:?}");
    let sent = sim.requests().len();
    assert_eq!(sent, 2, "no request after the budget was spent");
    // A wrong key is 401, for the collector to read the secret again once.
    let wrong = secure_endpoint_key("wrong");
    let fresh = HttpSource::new(None, quick()).unwrap();
    let e = read_window(&fresh, &source, &wrong, bounds(NOW - HOUR_MS, NOW), 100)
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Unauthorized), "{e:?}");
}

/// General A: a next URL in the page (relative or absolute), an API key header.
fn general_a(sim: &Simulator) -> SourceSpec {
    SourceSpec {
        name: "http".to_string(),
        display: "the API".to_string(),
        request: RequestTemplate {
            method: Method::Get,
            url: Template::text(sim.api_url(Api::GeneralA)),
            query: vec![("since".into(), t("{from}")), ("until".into(), t("{to}"))],
            headers: vec![("Accept".into(), t("application/json"))],
            body: None,
            time_format: TimeFormat::Rfc3339Ms,
            start_only: false,
        },
        paging: Paging {
            kind: PagingKind::NextUrl,
            params: PagingParams {
                size: Some("page_size".into()),
                ..PagingParams::default()
            },
            max_size: 200,
        },
        page: PageShape::new(
            Items {
                path: path("results"),
                missing_is_empty: false,
                id: EventId::Paths(vec![path("id")]),
                time: path("occurred_at"),
                time_format: TimeFormat::Rfc3339,
            },
            HintPaths {
                next: Some(path("next")),
                ..HintPaths::default()
            },
        ),
        rate_limit: RateLimitHeaders::standard(),
        refusals: Vec::new(),
        forbidden_fix: None,
        error_message: ErrorMessage::common(),
        quirks: Quirks::default(),
        webex: None,
    }
}

#[tokio::test]
async fn a_next_url_and_an_api_key_read_every_event_once_and_refuse_other_hosts_and_loops() {
    let sim = sim().await;
    let generated = sim.generate_api(Api::GeneralA, spec(450));
    let http = HttpSource::new(None, quick()).unwrap();
    let source = general_a(&sim);
    let key = Credential::Header {
        name: "X-Api-Key".into(),
        value: ApiKey::new(DEFAULT_GENERAL_A_API_KEY),
    };
    for absolute in [false, true] {
        sim.configure_apis(|apis| apis.general_a.absolute_next = absolute);
        sim.push_api_faults(
            Api::GeneralA,
            [
                Fault::TooManyRequests { retry_after_s: 0 },
                Fault::ServerError(503),
            ],
        );
        let read = read_window(&http, &source, &key, bounds(NOW - HOUR_MS, NOW), 60)
            .await
            .unwrap();
        let (want, got) = compare(&generated, NOW - HOUR_MS, NOW, &read);
        assert_eq!(got, want, "absolute next: {absolute}");
        assert!(read.pages >= 8);
    }
    sim.push_api_faults(
        Api::GeneralA,
        [Fault::Link("http://evil.example/gen-a/api/v2/audit".into())],
    );
    let e = read_window(&http, &source, &key, bounds(NOW - HOUR_MS, NOW), 60)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the API's next page URL leads to another host"),
        "{e}"
    );
    sim.push_api_faults(Api::GeneralA, [Fault::LinkToSelf]);
    let e = read_window(&http, &source, &key, bounds(NOW - HOUR_MS, NOW), 60)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("leads back to the page it came with"),
        "{e}"
    );
    // The key never appears in what the adapter says.
    let wrong = Credential::Header {
        name: "X-Api-Key".into(),
        value: ApiKey::new("hunter2-wrong"),
    };
    let e = read_window(&http, &source, &wrong, bounds(NOW - HOUR_MS, NOW), 60)
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Unauthorized));
    assert!(!format!("{e:?} {e}").contains("hunter2"));
}

#[tokio::test]
async fn offsets_page_to_the_empty_page_when_the_server_caps_the_size_and_two_fields_are_the_id() {
    let sim = sim().await;
    let generated = sim.generate_api(Api::GeneralB, spec(333));
    let http = HttpSource::new(None, quick()).unwrap();
    let source = SourceSpec {
        request: RequestTemplate {
            url: Template::text(sim.api_url(Api::GeneralB)),
            query: vec![("start".into(), t("{from}")), ("end".into(), t("{to}"))],
            headers: Vec::new(),
            time_format: TimeFormat::EpochS,
            ..general_a(&sim).request
        },
        paging: Paging {
            kind: PagingKind::Offset,
            params: PagingParams {
                size: Some("limit".into()),
                offset: Some("offset".into()),
                cursor: None,
            },
            max_size: 500,
        },
        page: PageShape::new(
            Items {
                path: path("$"),
                missing_is_empty: false,
                id: EventId::Paths(vec![path("source"), path("seq")]),
                time: path("timestamp"),
                time_format: TimeFormat::EpochMs,
            },
            HintPaths::default(),
        ),
        ..general_a(&sim)
    };
    let credential = Credential::Basic {
        id: DEFAULT_GENERAL_B_USER.to_string(),
        key: ApiKey::new(DEFAULT_GENERAL_B_PASSWORD),
    };
    sim.push_api_faults(Api::GeneralB, [Fault::ServerError(502)]);
    let read = read_window(&http, &source, &credential, bounds(NOW - HOUR_MS, NOW), 500)
        .await
        .unwrap();
    let (want, got) = compare(&generated, NOW - HOUR_MS, NOW, &read);
    assert_eq!(got, want);
    // 333 at 100 a page (the server's cap, not our 500), then the empty page that ends it.
    assert_eq!(read.pages, 5);
}

#[tokio::test]
async fn a_cursor_in_a_json_body_reads_items_without_ids_by_their_bytes() {
    let sim = sim().await;
    let generated = sim.generate_api(Api::GeneralC, spec(420));
    let http = HttpSource::new(None, quick()).unwrap();
    let body = BodyValue::Object(vec![
        ("from".into(), BodyValue::Text(t("{from}"))),
        ("to".into(), BodyValue::Text(t("{to}"))),
        ("limit".into(), BodyValue::Text(t("{page_size}"))),
        ("cursor".into(), BodyValue::Text(t("{cursor}"))),
    ]);
    let source = SourceSpec {
        request: RequestTemplate {
            method: Method::Post,
            url: Template::text(sim.api_url(Api::GeneralC)),
            query: Vec::new(),
            headers: Vec::new(),
            body: Some(Body::Json(body)),
            time_format: TimeFormat::Rfc3339Ms,
            start_only: false,
        },
        paging: Paging {
            kind: PagingKind::Cursor,
            params: PagingParams::default(),
            max_size: 200,
        },
        page: PageShape::new(
            Items {
                path: path("data.events"),
                missing_is_empty: false,
                id: EventId::Hash,
                time: path("occurred_at"),
                time_format: TimeFormat::Rfc3339,
            },
            HintPaths {
                cursor: Some(path("meta.next_cursor")),
                has_more: Some(path("meta.has_more")),
                ..HintPaths::default()
            },
        ),
        ..general_a(&sim)
    };
    let credential = Credential::Bearer(AccessToken::new(sim.issue_general_c_token()));
    sim.push_api_faults(Api::GeneralC, [Fault::TooManyRequests { retry_after_s: 0 }]);
    let read = read_window(&http, &source, &credential, bounds(NOW - HOUR_MS, NOW), 100)
        .await
        .unwrap();
    let (want, got) = compare(&generated, NOW - HOUR_MS, NOW, &read);
    assert_eq!(got, want);
    assert!(read.pages >= 5);
    // A cursor handed back again: the driver (as the core) refuses to page in a circle.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = PageRequest {
        target: PageTarget::Query {
            bounds: bounds(NOW - HOUR_MS, NOW),
            position: Position::First,
        },
        max: 100,
    };
    let page = http
        .fetch_page(&source, &credential, &first, deadline)
        .await
        .unwrap();
    let second = page.next.expect("more pages");
    sim.push_api_faults(Api::GeneralC, [Fault::LinkToSelf]);
    let page = http
        .fetch_page(&source, &credential, &second, deadline)
        .await
        .unwrap();
    assert_eq!(
        page.next.map(|next| next.target),
        Some(second.target),
        "the same cursor back"
    );
}

#[tokio::test]
async fn client_credentials_are_fetched_once_kept_and_a_wrong_secret_named_without_it() {
    use http_source::client_credentials::{ClientAuth, ClientCredentials, TokenRequest};
    let sim = sim().await;
    sim.generate_api(Api::GraphSignIns, spec(50));
    let http = HttpSource::new(None, quick()).unwrap();
    let request = |secret: &str| TokenRequest {
        token_url: sim.graph_token_url(DEFAULT_GRAPH_TENANT),
        identity: "entra".to_string(),
        client_id: webex_sim::DEFAULT_GRAPH_CLIENT_ID.to_string(),
        client_secret: collector_core::secret::ClientSecret::new(secret),
        form: vec![("scope".to_string(), webex_sim::GRAPH_SCOPE.to_string())],
        auth: ClientAuth::Body,
    };
    let tokens = ClientCredentials::new(
        http.clone(),
        request(webex_sim::DEFAULT_GRAPH_CLIENT_SECRET),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = tokens.token(deadline).await.unwrap();
    let again = tokens.token(deadline).await.unwrap();
    assert_eq!(first, again, "kept while it is good");
    let token_requests = || {
        sim.requests()
            .iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .count()
    };
    assert_eq!(token_requests(), 1);
    let source = azure_graph::source(azure_graph::Resource::SignIns, &graph_url(&sim));
    read_window(
        &http,
        &source,
        &Credential::Bearer(first.clone()),
        bounds(NOW - HOUR_MS, NOW),
        100,
    )
    .await
    .unwrap();
    // Refused before its time: another, once, however many windows ask.
    let replaced = tokens.replace_rejected(&first, deadline).await.unwrap();
    assert_ne!(replaced, first);
    assert_eq!(
        tokens.replace_rejected(&first, deadline).await.unwrap(),
        replaced
    );
    assert_eq!(token_requests(), 2);
    let wrong = ClientCredentials::new(http, request("hunter2-wrong")).unwrap();
    let e = wrong.token(deadline).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(
        matches!(e, collector_core::ports::TokenError::InvalidClient(_)),
        "{shown}"
    );
    assert!(shown.contains("identity entra"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
