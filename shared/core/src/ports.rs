//! What the core needs from the outside world. Adapters implement these in `aws-adapters` and
//! `webex-client`; tests may implement them with fakes for pure logic.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::cursor::{Cursor, CursorKey};
use crate::event::RawEvent;
use crate::secret::{AccessToken, ClientSecret, RefreshToken};
use crate::stream::{Profile, StreamSpec};
use crate::time::Timestamp;
use crate::tokens::ProfileSecret;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub trait Clock: Send + Sync {
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

/// DynamoDB in production: the cursor and the leases.
pub trait StateStore: Send + Sync {
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

    /// Takes the named lease for `owner` until `until` when it is free, expired at `now`, or
    /// already `owner`'s. `false` means someone else holds it.
    fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a one-time OAuth `state` for `profile`, valid until `expires_at`.
    fn put_oauth_state(
        &self,
        state: &str,
        profile: Profile,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Consumes an OAuth `state` atomically: the profile it was made for, or `None` when it is
    /// unknown, expired at `now` or already used. Of two concurrent takes, one gets it.
    fn take_oauth_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Profile>, StoreError>> + Send;

    /// Gives the lease back if `owner` still holds it.
    fn release_lease(
        &self,
        name: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Secrets Manager in production: one profile's OAuth secret.
pub trait SecretStore: Send + Sync {
    fn load(&self) -> impl Future<Output = Result<ProfileSecret, StoreError>> + Send;
    fn save(&self, secret: &ProfileSecret) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("{operation} {key} failed: {source}")]
pub struct SinkError {
    pub operation: &'static str,
    pub key: String,
    #[source]
    pub source: BoxError,
}

/// User metadata of an object, in the contract's names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta(pub Vec<(&'static str, String)>);

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
}

/// Where a page comes from: the stream's query (first page, or `offset` paging), or the URL
/// Webex gave in `Link rel="next"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageTarget {
    Query {
        params: Vec<(&'static str, String)>,
        offset: u32,
    },
    Link(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub target: PageTarget,
    /// Page size to ask for; the source lowers it when Webex answers 504.
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
}

/// The Webex event APIs.
pub trait EventSource: Send + Sync {
    fn fetch_page(
        &self,
        spec: &StreamSpec,
        token: &AccessToken,
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
    #[error("{0}")]
    Failed(String),
}

/// The Webex OAuth token endpoint.
pub trait TokenIssuer: Send + Sync {
    fn refresh(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        refresh_token: &RefreshToken,
    ) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;

    /// Exchanges an authorization code from the redirect for tokens.
    fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        code: &str,
        redirect_uri: &str,
    ) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;
}

/// Who a token belongs to (`GET /people/me`).
pub trait AccountInfo: Send + Sync {
    /// The organisation of the token's user.
    fn org_of(
        &self,
        token: &AccessToken,
    ) -> impl Future<Output = Result<String, SourceError>> + Send;
}
