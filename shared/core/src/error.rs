//! What can end a run, sorted by what the operator (or the next run) must do about it.

use crate::identity::IdentityName;
use crate::ports::{SinkError, SourceError, StoreError, TokenError};

/// The decision a failure calls for; recorded in the cursor and in metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A person must change something (configuration, authorisation, a Webex setting).
    Config,
    /// Webex failed or was unreachable past our retries; the next run tries again.
    Upstream,
    /// An AWS service failed past the SDK's retries; the next run tries again.
    Storage,
    /// Another run owns the work; nothing to do.
    Conflict,
}

impl ErrorKind {
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Storage => "storage",
            ErrorKind::Conflict => "conflict",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            ErrorKind::Config,
            ErrorKind::Upstream,
            ErrorKind::Storage,
            ErrorKind::Conflict,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(
        "the {identity} identity must be authorised again: Webex refused its refresh token \
         ({reason}); run `webexctl auth url --identity {identity}` and open the link"
    )]
    ReauthorizationNeeded {
        identity: IdentityName,
        reason: String,
    },
    #[error(
        "the {identity} identity is not authorised yet: install it with `webexctl auth init \
         --identity {identity}` (once), then run `webexctl auth url --identity {identity}` and \
         open the link"
    )]
    NotAuthorized { identity: IdentityName },
    #[error("{who} refused access (HTTP 403): {message}; {fix}")]
    Forbidden {
        /// Who refused ("Webex").
        who: String,
        message: String,
        fix: String,
    },
    #[error("configuration error: {0}")]
    Config(String),
    /// An operator's request that would break a promise (a backfill over what is collected
    /// already): the message says what to do instead.
    #[error("refused: {0}")]
    Refused(String),
    #[error("the API request failed: {0}")]
    Upstream(#[source] SourceError),
    #[error("the token endpoint failed: {0}")]
    TokenEndpoint(#[source] TokenError),
    #[error("state store failed: {0}")]
    Store(#[source] StoreError),
    #[error("object store failed: {0}")]
    Sink(#[source] SinkError),
    #[error("another run changed the cursor first; it owns the work")]
    Conflict,
    /// The deadline is too close to go on; never leaves a run as an error.
    #[error("the run's deadline is too close to go on")]
    OutOfTime,
    /// The window holds more events than a window may: it is split, never reported.
    #[error("the window holds more than {0} events")]
    WindowTooDense(u64),
    /// A window in flight was given up because the run stops (an earlier window failed);
    /// the error that stopped the run is the one reported.
    #[error("the window was given up because the run stops")]
    GivenUp,
}

impl CollectError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CollectError::ReauthorizationNeeded { .. }
            | CollectError::NotAuthorized { .. }
            | CollectError::Forbidden { .. }
            | CollectError::Config(_)
            | CollectError::Refused(_) => ErrorKind::Config,
            CollectError::Upstream(_)
            | CollectError::TokenEndpoint(_)
            | CollectError::OutOfTime
            | CollectError::WindowTooDense(_)
            | CollectError::GivenUp => ErrorKind::Upstream,
            CollectError::Store(StoreError::Conflict) | CollectError::Conflict => {
                ErrorKind::Conflict
            }
            CollectError::Store(_) | CollectError::Sink(_) => ErrorKind::Storage,
        }
    }
}

impl From<StoreError> for CollectError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => CollectError::Conflict,
            other => CollectError::Store(other),
        }
    }
}

impl From<SinkError> for CollectError {
    fn from(e: SinkError) -> Self {
        CollectError::Sink(e)
    }
}
