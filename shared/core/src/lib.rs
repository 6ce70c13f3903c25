//! The domain of the collector, with no AWS or HTTP in it: which streams exist, how a run chooses
//! its windows, what a cursor holds, how tokens are kept fresh, and the collect use case that ties
//! them together over the ports in [`ports`].

pub mod collect;
pub mod credentials;
pub mod cursor;
pub mod error;
pub mod event;
pub mod identity;
pub mod json_find;
pub mod json_path;
pub mod oauth;
pub mod object;
pub mod page;
pub mod ports;
pub mod recent_ids;
pub mod secret;
pub mod source;
pub mod stream;
pub mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod time_format;
pub mod token_lock;
pub mod tokens;
pub mod webhook;
pub mod window;

pub use collect::{Collector, RunSummary, Settings, StopReason, Unit, UnitOrg};
pub use error::{CollectError, ErrorKind};
pub use identity::IdentityName;
pub use stream::{StreamId, StreamSpec};
pub use time::Timestamp;
