//! What the core needs from the outside world. Adapters implement these in `aws-adapters` and
//! `webex-client`; tests may implement them with fakes for pure logic.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::cursor::{Cursor, CursorKey};
use crate::event::RawEvent;
use crate::identity::IdentityName;
use crate::secret::{AccessToken, ClientSecret, Credential, RefreshToken};
use crate::source::{Position, QueryBounds, SourceSpec};
use crate::time::Timestamp;
use crate::tokens::IdentitySecret;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the object-safe store ports return: boxed, so that a holder need not know the store.
pub type StoreFuture<'a, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// `'static`: a clock is shared by every part of a process (`Arc`), never borrowed.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conditional write lost: the item changed since it was read")]
    Conflict,
    #[error("{operation} failed: {source}")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{item} is not usable: {reason}")]
    Invalid { item: String, reason: String },
}

/// DynamoDB in production: one cursor per unit of work.
pub trait CursorStore: Send + Sync {
    fn load_cursor(
        &self,
        key: &CursorKey,
    ) -> impl Future<Output = Result<Option<Cursor>, StoreError>> + Send;

    /// Stores `cursor` only if the stored version is `cursor.version - 1` (absent when 1).
    fn save_cursor(
        &self,
        key: &CursorKey,
        cursor: &Cursor,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the cursor only if its stored version is `version` (`Conflict` otherwise): a
    /// backfill refused after it was created takes its claim back.
    fn delete_cursor(
        &self,
        key: &CursorKey,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every backfill cursor of one unit, for a new backfill to check its range against.
    fn backfills(
        &self,
        stream: &str,
        org_id: &str,
    ) -> impl Future<Output = Result<Vec<(CursorKey, Cursor)>, StoreError>> + Send;
}

/// DynamoDB in production: named leases (a unit's run, an identity's token lock).
pub trait LeaseStore: Send + Sync {
    /// Takes the named lease for `owner` until `until` when it is free, expired at `now`, or
    /// already `owner`'s. `false` means someone else holds it.
    fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Extends the named lease to `until` only if `owner` still holds it (no one took it over
    /// after it expired). `false` means it was lost: whatever was done under it must not be
    /// saved.
    fn renew_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the lease back if `owner` still holds it.
    fn release_lease(
        &self,
        name: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// DynamoDB in production: the one-time `state` of each authorize link.
pub trait OAuthStateStore: Send + Sync {
    /// Records a one-time OAuth `state` for an authorisation, valid until `expires_at`.
    fn put_oauth_state(
        &self,
        state: &str,
        pending: &PendingAuthorisation,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Consumes an OAuth `state` atomically: the authorisation it was made for, or `None` when
    /// it is unknown, expired at `now` or already used. Of two concurrent takes, one gets it.
    fn take_oauth_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<PendingAuthorisation>, StoreError>> + Send;
}

/// What an authorize link was made for, kept with its one-time `state` until the callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuthorisation {
    /// The identity whose secret the authorisation fills.
    pub identity: IdentityName,
    /// `webexctl auth url --expect-email`: only this person may complete the link (compared
    /// case-insensitively with the addresses Webex lists for the account).
    pub expected_email: Option<String>,
    /// The scopes the link asked for (Webex does not say which a token got): recorded in the
    /// secret with the tokens.
    pub scopes: String,
}

/// The request pace one identity shares across every process that reads with it (DynamoDB in
/// production): Webex limits requests per client and token, not per process, so concurrent
/// invocations take their turns from one schedule. Object safe, so the HTTP client can hold one
/// without knowing the store.
pub trait PaceLedger: Send + Sync + std::fmt::Debug {
    /// Reserves `span_ms` of `key`'s schedule: the reservation starts at the later of `now_ms`
    /// and the end of the last one (epoch milliseconds), which is returned; the schedule then
    /// ends `span_ms` after it. Atomic against every other process.
    fn reserve<'a>(&'a self, key: &'a str, now_ms: i64, span_ms: i64) -> StoreFuture<'a, i64>;

    /// Gives back the unused end of the last reservation: the schedule of `key` ends at
    /// `to_ms` instead of `from_ms`, if it still ends at `from_ms`. `false`: someone reserved
    /// after it, and the turns are still the caller's.
    fn give_back<'a>(&'a self, key: &'a str, from_ms: i64, to_ms: i64) -> StoreFuture<'a, bool>;
}

/// When each stream is next due for a scheduled run (DynamoDB in production), shared by every
/// invocation: a stream runs on its own interval (`every`), whatever its function's schedule.
pub trait DueLedger: Send + Sync + std::fmt::Debug {
    /// Whether `stream` is due at `now_ms` (epoch milliseconds): it never ran, or its last
    /// interval has ended. `true` starts the next one, ending `interval_ms` later; of the
    /// processes asking at once, one is told `true`.
    fn claim<'a>(&'a self, stream: &'a str, now_ms: i64, interval_ms: i64)
    -> StoreFuture<'a, bool>;

    /// Gives back the claim that `claim` with the same arguments took, so `stream` is due again
    /// at once: the run it was claimed for did not do its work. A claim taken since (by another
    /// process, once this one's interval had ended) is left alone.
    fn release<'a>(&'a self, stream: &'a str, now_ms: i64, interval_ms: i64)
    -> StoreFuture<'a, ()>;
}

/// Secrets Manager in production: one identity's OAuth secret.
pub trait SecretStore: Send + Sync {
    fn load(&self) -> impl Future<Output = Result<IdentitySecret, StoreError>> + Send;
    fn save(&self, secret: &IdentitySecret) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A writer's claim on one webhook delivery: the object it is to be in, and until when that
/// writer holds it (after which another may take it over).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryClaim {
    pub object: String,
    pub until: Timestamp,
}

/// DynamoDB in production: one item per delivery, keyed by the digest of its body.
pub trait ClaimStore: Send + Sync {
    fn claim_of(
        &self,
        digest: &str,
    ) -> impl Future<Output = Result<Option<DeliveryClaim>, StoreError>> + Send;

    /// Records `claim` on `digest` if the stored claim is `replacing` (`None`: there is none);
    /// [`StoreError::Conflict`] otherwise.
    fn put_claim(
        &self,
        digest: &str,
        claim: &DeliveryClaim,
        replacing: Option<&DeliveryClaim>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("{operation} {key} failed: {source}")]
pub struct SinkError {
    pub operation: &'static str,
    pub key: String,
    #[source]
    pub source: BoxError,
}

/// User metadata of an object, in the contract's names (and a stream's custom fields as
/// `field-{name}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta(pub Vec<(std::borrow::Cow<'static, str>, String)>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    /// An object was already at the key (a crashed or concurrent run wrote this window).
    AlreadyExists,
}

/// S3 in production. Objects appear whole or not at all: a large object is uploaded in parts
/// out of sight and appears at its key in one step.
pub trait ObjectSink: Send + Sync {
    type Upload: Send;

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, SinkError>> + Send;

    fn put_if_absent(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send;

    fn start_upload(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Self::Upload, SinkError>> + Send;

    fn upload_part(
        &self,
        upload: &mut Self::Upload,
        body: Bytes,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    fn complete_upload(
        &self,
        upload: Self::Upload,
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send;

    fn abort_upload(
        &self,
        upload: Self::Upload,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Removes what a killed run may have left behind for `key` (unfinished uploads).
    fn clean_up(&self, key: &str) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Deletes the object at `key` (a digest no cursor names any more); absent is fine.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// The keys under a prefix of the bucket the sink writes: what `verify` reads back. Apart from
/// [`ObjectSink`] so that a run, which never lists, cannot start to.
pub trait ObjectListing: Send + Sync {
    fn keys(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, SinkError>> + Send;
}

/// Where a page comes from: the query's own request (its first page, or a later one at an
/// offset or with a cursor), or a next page's URL the source gave (a `Link` header, or a URL in
/// the page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageTarget {
    Query {
        bounds: QueryBounds,
        position: Position,
    },
    Link(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub target: PageTarget,
    /// Page size to ask for; the source lowers it when a page is too large to build or read.
    pub max: u32,
}

#[derive(Debug)]
pub struct Page {
    pub events: Vec<RawEvent>,
    pub next: Option<PageRequest>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the access token was refused (HTTP 401)")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { message: String },
    #[error("HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("gave up after {attempts} attempts; last: {last}")]
    Exhausted { attempts: u32, last: String },
    #[error("the run's deadline is too close for another request")]
    OutOfTime,
    /// An answer the source's description names as a configuration error of its own
    /// (Graph's licence error): `name: message`, and what to do.
    #[error("{name}: {message}")]
    Refused {
        name: String,
        message: String,
        fix: String,
    },
    /// A page that is not shaped as the source's description says (no items where it says they
    /// are, an item without its id): the description is wrong, or the API changed.
    #[error("{0}")]
    Misshapen(String),
    /// The API answered something we refuse to act on (a `Retry-After` beyond what we accept, a
    /// body over its cap, a `Link` away from the stream's endpoint or back to a page already
    /// fetched): an upstream failure, so nothing is committed and the next run tries again.
    #[error("{0}")]
    Unacceptable(String),
}

/// The APIs events come from, each described by its [`SourceSpec`].
pub trait EventSource: Send + Sync {
    fn fetch_page(
        &self,
        source: &SourceSpec,
        credential: &Credential,
        request: &PageRequest,
        deadline: Instant,
    ) -> impl Future<Output = Result<Page, SourceError>> + Send;
}

#[derive(Debug)]
pub struct TokenGrant {
    pub access_token: AccessToken,
    pub access_expires_in: Duration,
    pub refresh_token: RefreshToken,
    pub refresh_expires_in: Duration,
    pub scopes: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The refresh token or code is no longer accepted: a person must authorise again.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("invalid_client: {0} (check client_id and client_secret)")]
    InvalidClient(String),
    /// The endpoint refused the request as configured (its scope, resource or form): a
    /// person must change the configuration.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// The Webex OAuth token endpoint. Every request ends by `deadline`, retries included: a
/// caller holding a lock or answering a browser cannot wait longer than it has.
pub trait TokenIssuer: Send + Sync {
    fn refresh(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        refresh_token: &RefreshToken,
        deadline: Instant,
    ) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;

    /// Exchanges an authorization code from the redirect for tokens.
    fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        code: &str,
        redirect_uri: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;
}

/// The person a token belongs to, as `GET /people/me` describes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Webex's person id.
    pub person_id: String,
    pub org_id: String,
    /// Every address Webex lists for the person.
    pub emails: Vec<String>,
    pub display_name: Option<String>,
}

impl Account {
    /// The person's address that is `address`, ignoring case (people type addresses as they
    /// like; Webex keeps them lowercase).
    pub fn email_matching(&self, address: &str) -> Option<&str> {
        let address = address.trim();
        self.emails
            .iter()
            .find(|e| e.eq_ignore_ascii_case(address))
            .map(String::as_str)
    }
}

/// Who a token belongs to (`GET /people/me`).
pub trait AccountInfo: Send + Sync {
    /// The person behind the token; the request ends by `deadline`.
    fn account(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> impl Future<Output = Result<Account, SourceError>> + Send;
}

/// The organisations a token may read (`GET /organizations`): its own, and for a partner
/// administrator every customer organisation it manages.
pub trait OrgDirectory: Send + Sync {
    fn organizations(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<String>, SourceError>> + Send;
}
