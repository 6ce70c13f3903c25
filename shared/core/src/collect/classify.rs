//! What a failed request means for the run: the decision, and the fix a person reads.

use crate::error::CollectError;
use crate::identity::IdentityName;
use crate::ports::SourceError;
use crate::source::SourceSpec;

/// `stream` is the unit's stream name, as the person reading the message knows it; `identity`
/// the identity it reads with.
pub(super) fn classify(
    source: &SourceSpec,
    stream: &str,
    identity: &IdentityName,
    e: SourceError,
) -> CollectError {
    let who = &source.display;
    match e {
        SourceError::OutOfTime => CollectError::OutOfTime,
        SourceError::Forbidden { message } => CollectError::Forbidden {
            who: who.clone(),
            message,
            fix: source.forbidden_fix.clone().unwrap_or_else(|| {
                format!("give identity {identity} (stream {stream}) access to it")
            }),
        },
        SourceError::Unauthorized if source.webex.is_some() => CollectError::Config(format!(
            "{who} refused a freshly refreshed token of the {stream} stream's identity; authorise it again with `webexctl auth url`"
        )),
        SourceError::Unauthorized => CollectError::Config(format!(
            "{who} refused identity {identity}'s fresh credentials for the {stream} stream (HTTP \
             401); check what its secret holds and the permissions the API gives it"
        )),
        SourceError::Rejected { status, message } => CollectError::Config(format!(
            "{who} rejected the {stream} request (HTTP {status}): {message}; check the stream's settings"
        )),
        SourceError::Refused { name, message, fix } => CollectError::Forbidden {
            who: who.clone(),
            message: format!("{name}: {message} (stream {stream}, identity {identity})"),
            fix,
        },
        SourceError::Misshapen(problem) => CollectError::Config(format!(
            "{who}'s answer to the {stream} stream is not shaped as its items settings say: \
             {problem}; check the stream's items (path, id, time)"
        )),
        upstream @ (SourceError::Exhausted { .. } | SourceError::Unacceptable(_)) => {
            CollectError::Upstream(upstream)
        }
    }
}
