//! A function's configuration over its whole life: built at cold start from its environment and
//! the collector document, and built again when an invocation finds the document in S3 changed
//! (`webexctl config push`), so that a push applies from the next invocation rather than the
//! next cold start, which may be hours away. No document in S3 (yet, or any more): the
//! environment alone configures the function. A file is read at cold start only.

use std::sync::Arc;

use crate::document::Document;
use crate::document_location::{DocumentLoadError, DocumentLocation, Fetched, Opened};
use crate::wiring::WiringError;

type Build<T> = Box<dyn Fn(Option<&Document>) -> Result<T, WiringError> + Send + Sync>;

pub struct Live<T> {
    /// The S3 object to look at again before each invocation.
    watched: Option<(DocumentLocation, aws_sdk_s3::Client)>,
    /// The version (ETag) the configuration was built from, and the configuration.
    current: tokio::sync::Mutex<(Option<String>, Arc<T>)>,
    build: Build<T>,
}

impl<T> Live<T> {
    /// Reads the document `COLLECTOR_CONFIG` names, if any, and builds the configuration
    /// from it (or from the environment alone). An error stops the function at cold start.
    pub async fn start(
        build: impl Fn(Option<&Document>) -> Result<T, WiringError> + Send + Sync + 'static,
    ) -> Result<Self, WiringError> {
        let Opened {
            document,
            version,
            watched,
        } = Opened::from_env().await?;
        let value = build(document.as_ref())?;
        Ok(Self {
            watched,
            current: tokio::sync::Mutex::new((version, Arc::new(value))),
            build: Box::new(build),
        })
    }

    /// The configuration for this invocation, rebuilt first when the document changed. A
    /// changed document that does not validate fails the invocation (nothing is collected
    /// with it) until it is mended; a document that cannot be read just now leaves the last
    /// one in charge.
    pub async fn get(&self) -> Result<Arc<T>, WiringError> {
        let mut current = self.current.lock().await;
        let Some((location, s3)) = &self.watched else {
            return Ok(current.1.clone());
        };
        match location.fetch(s3, current.0.as_deref()).await {
            Ok(Fetched::Unchanged) => {}
            Ok(Fetched::Missing) if current.0.is_none() => {}
            Ok(Fetched::Missing) => {
                *current = (None, Arc::new((self.build)(None)?));
                tracing::info!(%location, "the collector document is gone; the environment configures the function");
            }
            Ok(Fetched::Read { document, version }) => {
                *current = (version, Arc::new((self.build)(Some(&document))?));
                tracing::info!(%location, version = ?current.0, "the collector document changed; the function follows it");
            }
            Err(e @ DocumentLoadError::Read { .. }) => {
                tracing::warn!(error = %e, "the collector document cannot be read; going on with the one read before");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(current.1.clone())
    }
}

impl<T> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field(
                "watched",
                &self.watched.as_ref().map(|(location, _)| location),
            )
            .finish_non_exhaustive()
    }
}
