//! SDK errors print as "service error" by themselves; this keeps the error as the source and
//! displays its full context (code and message), which is what an operator needs.

use std::error::Error;
use std::fmt;

use collector_core::ports::StoreError;

#[derive(Debug)]
pub struct AwsCallError(Box<dyn Error + Send + Sync>);

impl AwsCallError {
    pub fn new<E: Error + Send + Sync + 'static>(e: E) -> Self {
        Self(Box::new(e))
    }
}

impl fmt::Display for AwsCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", aws_sdk_s3::error::DisplayErrorContext(&*self.0))
    }
}

impl Error for AwsCallError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.0)
    }
}

/// A store call that failed in AWS, with its operation named.
pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    e: E,
) -> StoreError {
    StoreError::Unavailable {
        operation,
        source: Box::new(AwsCallError::new(e)),
    }
}
