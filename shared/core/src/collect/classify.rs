//! What a failed request means for the run: the decision, and the fix a person reads.

use crate::error::CollectError;
use crate::ports::SourceError;
use crate::stream::StreamSpec;

pub(super) fn classify(spec: &StreamSpec, e: SourceError) -> CollectError {
    match e {
        SourceError::OutOfTime => CollectError::OutOfTime,
        SourceError::Forbidden { message } => CollectError::Forbidden {
            message,
            fix: spec.forbidden_fix.to_string(),
        },
        SourceError::Unauthorized => CollectError::Config(format!(
            "Webex refused a freshly refreshed token of the {} stream's identity; authorise it again with `webexctl auth url`",
            spec.id.name()
        )),
        SourceError::Rejected { status, message } => CollectError::Config(format!(
            "Webex rejected the {} request (HTTP {status}): {message}; check the stream's settings",
            spec.id.name()
        )),
        upstream @ (SourceError::Exhausted { .. } | SourceError::Unacceptable(_)) => {
            CollectError::Upstream(upstream)
        }
    }
}
