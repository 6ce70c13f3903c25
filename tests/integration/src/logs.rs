//! Captures every log line the collector emits in this test process, at debug level, so tests
//! can assert that no secret ever reaches a log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static CAPTURE: OnceLock<Buffer> = OnceLock::new();

/// Installs the capturing subscriber once per test process.
pub fn capture() {
    CAPTURE.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    });
}

/// Everything logged so far in this process.
pub fn captured() -> String {
    CAPTURE
        .get()
        .map(|b| {
            String::from_utf8_lossy(&b.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
        })
        .unwrap_or_default()
}

/// Fails when any of `secrets` appears in `text`.
pub fn assert_free_of(text: &str, secrets: &[String], what: &str) {
    assert!(
        !text.is_empty() || what != "captured logs",
        "no log lines were captured: the check would prove nothing"
    );
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !text.contains(secret.as_str()),
            "a secret ({}...) appears in {what}",
            &secret[..4]
        );
    }
}
