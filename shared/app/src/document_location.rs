//! Where a deployment's collector document lives: `COLLECTOR_CONFIG`, a local file, or
//! `s3://bucket/key` in AWS (the object `webexctl config push` writes, after validating it; the
//! template names it for every function). A missing object is no document: the environment
//! configures the deployment. A document that does not validate stops the functions at cold
//! start, with every mistake's key path, before anything is collected; see [`crate::live`] for
//! how a pushed change reaches running functions.

use std::path::PathBuf;

use crate::config::{ConfigError, Env};
use crate::document::Document;
use crate::wiring::WiringError;

/// The variable that names the document.
pub const VARIABLE: &str = "COLLECTOR_CONFIG";
/// Larger than any document of a few thousand organisations; a bigger object is not ours.
const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentLocation {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

/// What reading the document found.
#[derive(Debug)]
pub enum Fetched {
    /// Still the version read before.
    Unchanged,
    /// No object: the environment configures the deployment.
    Missing,
    /// The document, at `version` (S3's ETag; `None` for a file).
    Read {
        document: Document,
        version: Option<String>,
    },
}

/// A document that could not be read, or that does not validate.
#[derive(Debug, thiserror::Error)]
pub enum DocumentLoadError {
    #[error("{VARIABLE}: cannot read {location}: {reason}")]
    Read { location: String, reason: String },
    #[error("{VARIABLE}: {location} is not a valid collector document:\n{errors}")]
    Invalid {
        location: String,
        errors: crate::document::DocumentErrors,
    },
}

impl DocumentLocation {
    /// `s3://bucket/key`, or a file path.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let problem = |problem: &str| ConfigError {
            name: VARIABLE,
            problem: problem.to_string(),
        };
        if text.is_empty() {
            return Err(problem("is empty"));
        }
        match text.strip_prefix("s3://") {
            Some(rest) => match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Self::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                }),
                _ => Err(problem(&format!(
                    "{text:?} is not s3://BUCKET/KEY (or a file path)"
                ))),
            },
            None => Ok(Self::File(PathBuf::from(text))),
        }
    }

    /// The location named by `COLLECTOR_CONFIG`, if it is set.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        std::env::var(VARIABLE)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| Self::parse(&v))
            .transpose()
    }

    /// The document, unless it is still at version `known` (S3's ETag), which costs one
    /// HeadObject.
    pub async fn fetch(
        &self,
        s3: &aws_sdk_s3::Client,
        known: Option<&str>,
    ) -> Result<Fetched, DocumentLoadError> {
        if let (Self::S3 { bucket, key }, Some(known)) = (self, known) {
            match s3.head_object().bucket(bucket).key(key).send().await {
                Ok(head) if head.e_tag() == Some(known) => return Ok(Fetched::Unchanged),
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
                    return Ok(Fetched::Missing);
                }
                Err(e) => {
                    return Err(DocumentLoadError::Read {
                        location: self.to_string(),
                        reason: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                    });
                }
            }
        }
        let Some((text, version)) = self.read(s3).await? else {
            return Ok(Fetched::Missing);
        };
        let document = Document::parse(&text).map_err(|errors| DocumentLoadError::Invalid {
            location: self.to_string(),
            errors,
        })?;
        Ok(Fetched::Read { document, version })
    }

    /// The text and its version (S3's ETag); `None`: no such object.
    async fn read(
        &self,
        s3: &aws_sdk_s3::Client,
    ) -> Result<Option<(String, Option<String>)>, DocumentLoadError> {
        let failed = |reason: String| DocumentLoadError::Read {
            location: self.to_string(),
            reason,
        };
        let (bytes, version) = match self {
            Self::File(path) => (
                std::fs::read(path).map_err(|e| failed(e.to_string()))?,
                None,
            ),
            Self::S3 { bucket, key } => {
                let object = match s3.get_object().bucket(bucket).key(key).send().await {
                    Ok(object) => object,
                    Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                        return Ok(None);
                    }
                    Err(e) => {
                        return Err(failed(
                            aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                        ));
                    }
                };
                if object.content_length().unwrap_or(0) > MAX_DOCUMENT_BYTES as i64 {
                    return Err(failed(format!(
                        "more than a document may hold ({MAX_DOCUMENT_BYTES} bytes)"
                    )));
                }
                let version = object.e_tag().map(str::to_string);
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| failed(e.to_string()))?
                    .into_bytes()
                    .to_vec();
                (bytes, version)
            }
        };
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(failed(format!(
                "{} bytes, more than a document may hold ({MAX_DOCUMENT_BYTES})",
                bytes.len()
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| failed("not UTF-8 text".into()))?;
        Ok(Some((text, version)))
    }

    /// Writes a document's text (the caller has validated it) where the functions read it.
    pub async fn store(&self, text: &str, s3: &aws_sdk_s3::Client) -> Result<(), String> {
        match self {
            Self::File(path) => std::fs::write(path, text).map_err(|e| format!("{self}: {e}")),
            Self::S3 { bucket, key } => s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/toml")
                .body(text.as_bytes().to_vec().into())
                .send()
                .await
                .map(drop)
                .map_err(|e| format!("{self}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))),
        }
    }
}

/// The S3 client a document is read and written with: the standard AWS configuration, and
/// path-style addressing when `S3_FORCE_PATH_STYLE` says so (local emulators), read as
/// [`Config`](crate::config::Config) reads it (a value it refuses is refused there).
pub async fn s3_client_from_env() -> aws_sdk_s3::Client {
    let sdk = aws_adapters::sdk_config().await;
    let lookup = |name: &str| std::env::var(name).ok();
    let path_style = Env(&lookup).flag("S3_FORCE_PATH_STYLE").unwrap_or(false);
    aws_adapters::s3_client(&sdk, path_style)
}

/// The document `COLLECTOR_CONFIG` names, as read at start: the one place the functions and
/// `webexctl` locate and read it. Everything else takes the `Option<&Document>` read here.
#[derive(Debug)]
pub struct Opened {
    /// The document; `None`: the variable is not set, or its object is not there.
    pub document: Option<Document>,
    /// Its version (S3's ETag), to look for a change against.
    pub version: Option<String>,
    /// The S3 object to look at again before each invocation; a file is read once.
    pub watched: Option<(DocumentLocation, aws_sdk_s3::Client)>,
}

impl Opened {
    pub async fn from_env() -> Result<Self, WiringError> {
        let Some(location) = DocumentLocation::from_env()? else {
            return Ok(Self {
                document: None,
                version: None,
                watched: None,
            });
        };
        let s3 = s3_client_from_env().await;
        let (document, version) = match location.fetch(&s3, None).await? {
            Fetched::Read { document, version } => (Some(document), version),
            Fetched::Missing | Fetched::Unchanged => (None, None),
        };
        Ok(Self {
            document,
            version,
            watched: location.bucket().is_some().then_some((location, s3)),
        })
    }
}

/// The document `COLLECTOR_CONFIG` names, read once (`webexctl`'s commands).
pub async fn load_from_env() -> Result<Option<Document>, WiringError> {
    Ok(Opened::from_env().await?.document)
}

impl DocumentLocation {
    /// The bucket of a location in S3.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Self::S3 { bucket, .. } => Some(bucket),
            Self::File(_) => None,
        }
    }
}

impl std::fmt::Display for DocumentLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that is never sent anything: files are read without it.
    fn offline_s3() -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .build(),
        )
    }

    #[tokio::test]
    async fn a_files_errors_name_the_file_and_each_key_path() {
        let dir = std::env::temp_dir().join(format!("document-location-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fetch = |name: &str, text: Option<&str>| {
            let path = dir.join(name);
            if let Some(text) = text {
                std::fs::write(&path, text).unwrap();
            }
            let location = DocumentLocation::File(path);
            async move {
                (
                    location.to_string(),
                    location.fetch(&offline_s3(), None).await,
                )
            }
        };
        let good = r#"
[identities.admin]
kind = "webex_oauth"
secret = "webex/admin"

[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "admin"
orgs = ["Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn"]
"#;
        let (_, read) = fetch("good.toml", Some(good)).await;
        assert!(
            matches!(read, Ok(Fetched::Read { version: None, ref document }) if document.identities.len() == 1),
            "{read:?}"
        );
        let (bad, read) = fetch(
            "bad.toml",
            Some(&good.replace("[identities.admin]", "[identities.Admin]")),
        )
        .await;
        let said = read.unwrap_err().to_string();
        assert!(
            said.starts_with(VARIABLE) && said.contains(&bad) && said.contains("identities.Admin"),
            "{said}"
        );
        let (missing, read) = fetch("missing.toml", None).await;
        let said = read.unwrap_err().to_string();
        assert!(
            said.contains(&missing) && said.contains("No such file"),
            "{said}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_an_object_or_a_file() {
        assert_eq!(
            DocumentLocation::parse("s3://my-bucket/config/collector.toml"),
            Ok(DocumentLocation::S3 {
                bucket: "my-bucket".into(),
                key: "config/collector.toml".into()
            })
        );
        assert_eq!(
            DocumentLocation::parse(" ./collector.toml "),
            Ok(DocumentLocation::File("./collector.toml".into()))
        );
        for bad in ["s3://", "s3://bucket", "s3://bucket/", "s3:///key", ""] {
            let error = DocumentLocation::parse(bad).unwrap_err();
            assert_eq!(error.name, VARIABLE, "{bad}");
        }
    }
}
