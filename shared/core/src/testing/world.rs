//! A collector over the in-memory adapters, and what a test reads back from them.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::clock::ManualClock;
use super::faults::Faults;
use super::secret::{MemorySecret, StaticIssuer};
use super::sink::MemorySink;
use super::source::MemorySource;
use super::state::MemoryState;
use crate::collect::{Collector, DEFAULT_MAX_WINDOW_EVENTS, Settings, Unit, UnitOrg};
use crate::cursor::{Cursor, CursorKey};
use crate::identity::IdentityName;
use crate::ports::{Account, Clock};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::stream::{Filters, StreamSpec};
use crate::tokens::{IdentitySecret, TokenManager};
use crate::window::WindowPolicy;

pub type MemoryCollector = Collector<MemoryState, MemorySink, MemorySource, ManualClock>;

/// The organisation of a [`World`]'s secret.
pub const ORG_ID: &str = "ORG1";

/// Small windows and pages, so that a few dozen events make several of each: 10-minute
/// windows, 5 minutes of settle lag, 15 of overlap, an hour of initial look-back, pages of
/// 7, 3 windows in flight, no filters, and 64-byte parts: an object is uploaded in parts as
/// soon as gzip emits its first block (after some 16 KB of varied input, a few
/// [`super::ScriptedEvent::bulky`] events).
pub fn test_settings(spec: &StreamSpec) -> Settings {
    let minutes = |m: u64| Duration::from_secs(60 * m);
    Settings {
        policy: WindowPolicy {
            settle_lag: minutes(5),
            overlap: minutes(15),
            max_window: minutes(10),
            initial_lookback: minutes(60),
        },
        page_size: 7,
        key_prefix: "webex/".to_string(),
        part_size: 64,
        stop_reserve: Duration::from_secs(1),
        queries: spec.filter_queries(&Filters::default()),
        concurrent_windows: 3,
        max_window_events: DEFAULT_MAX_WINDOW_EVENTS,
        collector_version: "test",
        fields: Default::default(),
    }
}

/// One unit of work's world: the adapters sharing one [`Faults`] and one clock, and a way to
/// start collectors over them (each a fresh process, as a new Lambda would be).
#[derive(Debug)]
pub struct World {
    pub spec: StreamSpec,
    /// The API takes a start and no end (`request.start_only`): it answers up to now.
    pub start_only: bool,
    /// The preset's stream in the secret's organisation unless a test names others.
    pub unit: Unit,
    pub settings: Settings,
    pub clock: Arc<ManualClock>,
    pub faults: Arc<Faults>,
    pub state: Arc<MemoryState>,
    pub sink: MemorySink,
    pub source: MemorySource,
    pub secret: MemorySecret,
    pub issuer: StaticIssuer,
}

impl World {
    /// Everything empty but the identity's secret: authorised for [`ORG_ID`] with the stream's
    /// scope, its access token valid for an hour from the clock's `now`.
    pub fn new(spec: StreamSpec, settings: Settings, clock: Arc<ManualClock>) -> Self {
        let faults = Arc::new(Faults::default());
        let now = clock.now();
        let secret = IdentitySecret {
            client_id: "client".to_string(),
            client_secret: ClientSecret::new("client-secret"),
            redirect_uri: Some("https://callback.invalid/".to_string()),
            org_id: Some(ORG_ID.to_string()),
            scopes: Some(spec.scope.to_string()),
            refresh_token: Some(RefreshToken::new("first-refresh")),
            refresh_token_expires_at: Some(now.plus(Duration::from_secs(90 * 86_400))),
            access_token: Some(AccessToken::new("first-access")),
            access_token_expires_at: Some(now.plus(Duration::from_secs(3600))),
            ..IdentitySecret::default()
        };
        let account = Account {
            person_id: "PERSON1".to_string(),
            org_id: ORG_ID.to_string(),
            emails: vec!["admin@example.com".to_string()],
            display_name: None,
        };
        Self {
            spec,
            start_only: false,
            unit: Unit::of_secret(spec.id),
            settings,
            state: Arc::new(MemoryState::new(faults.clone())),
            sink: MemorySink::new(faults.clone()),
            source: MemorySource::new(clock.clone(), faults.clone()),
            secret: MemorySecret::new(secret, faults.clone()),
            issuer: StaticIssuer::new("refreshed", account, faults.clone()),
            clock,
            faults,
        }
    }

    /// Another unit of work beside this one (`spec`'s source as `unit`), sharing everything
    /// else: the state, the bucket, the source, the identity, the faults and the clock.
    pub fn beside(&self, spec: StreamSpec, unit: Unit, settings: Settings) -> Self {
        Self {
            spec,
            start_only: self.start_only,
            unit,
            settings,
            clock: self.clock.clone(),
            faults: self.faults.clone(),
            state: self.state.clone(),
            sink: self.sink.clone(),
            source: self.source.clone(),
            secret: self.secret.clone(),
            issuer: self.issuer.clone(),
        }
    }

    /// A collector over this world, as a freshly started process.
    pub fn collector(&self) -> MemoryCollector {
        let tokens = TokenManager::new(
            IdentityName::from_static(self.spec.default_identity),
            self.secret.clone(),
            self.issuer.clone(),
            self.state.clone(),
            self.clock.clone(),
            Duration::from_secs(600),
        );
        let mut source = self.spec.id.source();
        source.request.start_only = self.start_only;
        Collector::new(
            Arc::new(source),
            self.unit.clone(),
            self.settings.clone(),
            self.state.clone(),
            self.sink.clone(),
            self.source.clone(),
            Arc::new(tokens),
            self.clock.clone(),
        )
    }

    /// The organisation of the unit.
    pub fn org_id(&self) -> &str {
        match &self.unit.org {
            UnitOrg::OfSecret => ORG_ID,
            UnitOrg::Id(org) => org,
        }
    }

    pub fn key(&self) -> CursorKey {
        CursorKey::live(self.unit.stream.clone(), self.org_id().to_string())
    }

    /// The stored cursor.
    pub fn cursor(&self) -> Option<Cursor> {
        self.state.cursor(&self.key())
    }

    /// The keys of the unit's event objects (not its digests under `_state/`).
    pub fn event_object_keys(&self) -> Vec<String> {
        self.sink.keys_under(&format!(
            "{}{}/org={}/",
            self.settings.key_prefix,
            self.unit.stream,
            self.org_id()
        ))
    }

    /// The keys of the unit's digest objects.
    pub fn digest_object_keys(&self) -> Vec<String> {
        self.sink.keys_under(&format!(
            "{}{}/_state/org={}/",
            self.settings.key_prefix,
            self.unit.stream,
            self.org_id()
        ))
    }

    /// Every line of every event object, in key order.
    pub fn written_lines(&self) -> Vec<Bytes> {
        self.event_object_keys()
            .iter()
            .filter_map(|key| self.sink.object(key))
            .flat_map(|object| decode_lines(&object.body))
            .collect()
    }
}

/// The lines of a gzip NDJSON body (panics on a body that is not one: the test fails).
pub fn decode_lines(body: &[u8]) -> Vec<Bytes> {
    let mut text = Vec::new();
    let read = flate2::read::MultiGzDecoder::new(body).read_to_end(&mut text);
    assert!(read.is_ok(), "not gzip: {read:?}");
    assert!(
        text.is_empty() || text.ends_with(b"\n"),
        "the last line has no newline"
    );
    text.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(Bytes::copy_from_slice)
        .collect()
}
