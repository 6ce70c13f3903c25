//! One window's events as one gzip NDJSON object, streamed: events are compressed as they come
//! and leave memory in parts, so memory holds one part whatever the window's volume.

use std::borrow::Cow;
use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::ports::{ObjectMeta, ObjectSink, PutOutcome, SinkError};
use crate::time::Timestamp;
use crate::window::Window;

/// S3 needs parts of at least 5 MiB; objects below this size are written in one request.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// `{prefix}{stream}/org={orgId}/dt={YYYY-MM-DD}/hour={HH}/{stream}_{from}_{to}.ndjson.gz`
/// (DESIGN §4: downstream depends on it).
pub fn object_key(prefix: &str, stream: &str, org_id: &str, window: &Window) -> String {
    let (date, hour) = window.from.date_and_hour();
    let name = stream;
    format!(
        "{prefix}{name}/org={org_id}/dt={date}/hour={hour}/{name}_{}_{}.ndjson.gz",
        window.from.to_compact(),
        window.to.to_compact()
    )
}

/// The window an object key of [`object_key`] names; `None` for any other key.
pub fn window_of_key(key: &str) -> Option<Window> {
    let name = key.rsplit('/').next()?.strip_suffix(".ndjson.gz")?;
    let mut parts = name.rsplitn(3, '_');
    let to = Timestamp::parse_compact(parts.next()?)?;
    let from = Timestamp::parse_compact(parts.next()?)?;
    parts.next()?;
    (from < to).then_some(Window { from, to })
}

/// Where a cursor's digest lives when it is too large for the cursor item:
/// `{prefix}{stream}/_state/org={orgId}/recent-ids_{until}_{nonce}.bin`. In the stream's folder,
/// where its function may write; under `_state/`, which Athena and Glue do not read. The nonce
/// makes every digest a new object: one a cursor names is never overwritten.
pub fn digest_key(
    prefix: &str,
    stream: &str,
    org_id: &str,
    until: Option<Timestamp>,
    nonce: u64,
) -> String {
    let until = until.map_or_else(|| "start".to_string(), Timestamp::to_compact);
    format!("{prefix}{stream}/_state/org={org_id}/recent-ids_{until}_{nonce:016x}.bin")
}

pub fn object_meta(
    stream: &str,
    org_id: &str,
    window: &Window,
    events: u64,
    version: &str,
    fields: &CustomFields,
) -> ObjectMeta {
    let mut meta: Vec<(Cow<'static, str>, String)> = vec![
        ("stream".into(), stream.to_string()),
        ("org-id".into(), org_id.to_string()),
        ("window-from".into(), window.from.to_rfc3339()),
        ("window-to".into(), window.to.to_rfc3339()),
        ("event-count".into(), events.to_string()),
        ("collector-version".into(), version.to_string()),
    ];
    meta.extend(
        fields
            .fields
            .iter()
            .map(|(name, value)| (Cow::Owned(format!("field-{name}")), value.clone())),
    );
    ObjectMeta(meta)
}

/// A stream's custom fields (`fields` in the document): on every object as metadata
/// `field-{name}` (a prefix of their own, so no field can pass for a contract name), and, with
/// a line key, on every line as one object under that key, the event's own bytes otherwise
/// unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomFields {
    pub fields: Vec<(String, String)>,
    /// The key each line holds the fields under, if any.
    line_key: Option<String>,
    /// `{"key":{...},` to open each line with; `None`: lines exactly as Webex sent them.
    line_prefix: Option<Vec<u8>>,
}

impl CustomFields {
    pub fn new(fields: Vec<(String, String)>, line_key: Option<&str>) -> Self {
        let line_prefix = line_key.map(|key| {
            let object: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
                .collect();
            let mut prefix = b"{".to_vec();
            prefix.extend(
                serde_json::Value::String(key.to_string())
                    .to_string()
                    .bytes(),
            );
            prefix.push(b':');
            prefix.extend(serde_json::Value::Object(object).to_string().bytes());
            prefix
        });
        Self {
            fields,
            line_key: line_key.map(str::to_string),
            line_prefix,
        }
    }

    /// The key each line holds the fields under, if any: a line read back skips it.
    pub fn line_key(&self) -> Option<&str> {
        self.line_key.as_deref()
    }

    /// The line to write for an event's JSON object: the fields first, then the event's own
    /// members byte for byte. Anything but an object is written as it came.
    pub fn line<'a>(&self, json: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(prefix) = &self.line_prefix else {
            return Cow::Borrowed(json);
        };
        let start = json.iter().position(|b| !b.is_ascii_whitespace());
        let Some(members) = start.filter(|&i| json[i] == b'{').map(|i| &json[i + 1..]) else {
            return Cow::Borrowed(json);
        };
        let empty = members
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'}');
        let mut line = Vec::with_capacity(prefix.len() + json.len() + 1);
        line.extend_from_slice(prefix);
        if !empty {
            line.push(b',');
        }
        line.extend_from_slice(members);
        Cow::Owned(line)
    }
}

#[derive(Debug)]
pub struct ObjectWriter<'a, S: ObjectSink> {
    sink: &'a S,
    key: String,
    gzip: GzEncoder<Vec<u8>>,
    upload: Option<S::Upload>,
    part_size: usize,
    events: u64,
}

impl<'a, S: ObjectSink> ObjectWriter<'a, S> {
    pub fn new(sink: &'a S, key: String, part_size: usize) -> Self {
        let gzip = GzEncoder::new(Vec::with_capacity(64 * 1024), Compression::default());
        Self {
            sink,
            key,
            gzip,
            upload: None,
            part_size,
            events: 0,
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub async fn write(&mut self, json: &[u8]) -> Result<(), SinkError> {
        self.gzip
            .write_all(json)
            .and_then(|()| self.gzip.write_all(b"\n"))
            .map_err(|e| self.error("compress", e))?;
        self.events += 1;
        if self.gzip.get_ref().len() >= self.part_size {
            // The compressed bytes so far are a valid prefix of the one gzip stream; the parts
            // concatenate into it.
            let part = Bytes::from(std::mem::take(self.gzip.get_mut()));
            let upload = match self.upload.as_mut() {
                Some(upload) => upload,
                None => self.upload.insert(self.sink.start_upload(&self.key).await?),
            };
            self.sink.upload_part(upload, part).await?;
        }
        Ok(())
    }

    /// Makes the object appear at its key with `meta`; writes nothing for an empty window.
    pub async fn finish(self, meta: &ObjectMeta) -> Result<Option<PutOutcome>, SinkError> {
        let Self {
            sink,
            key,
            gzip,
            upload,
            events,
            ..
        } = self;
        if events == 0 {
            if let Some(upload) = upload {
                sink.abort_upload(upload).await?;
            }
            return Ok(None);
        }
        let tail = Bytes::from(gzip.finish().map_err(|e| SinkError {
            operation: "compress",
            key: key.clone(),
            source: e.into(),
        })?);
        let outcome = match upload {
            None => sink.put_if_absent(&key, tail, meta).await?,
            Some(mut upload) => {
                sink.upload_part(&mut upload, tail).await?;
                sink.complete_upload(upload, meta).await?
            }
        };
        Ok(Some(outcome))
    }

    pub async fn abort(self) -> Result<(), SinkError> {
        match self.upload {
            Some(upload) => self.sink.abort_upload(upload).await,
            None => Ok(()),
        }
    }

    fn error(&self, operation: &'static str, e: std::io::Error) -> SinkError {
        SinkError {
            operation,
            key: self.key.clone(),
            source: e.into(),
        }
    }
}

/// Calls `each` with the `(key, created)` of every line of an object written earlier (gzip
/// NDJSON), one line at a time, and returns the number of lines. `fields_key` is the member
/// custom fields open each line with, if they do.
pub fn read_back(
    body: &[u8],
    shape: &crate::page::PageShape,
    fields_key: Option<&str>,
    mut each: impl FnMut(crate::event::EventKey, Timestamp),
) -> Result<u64, String> {
    for_each_line(body, |line| {
        let (key, created) = shape
            .parse_line(line, fields_key)
            .map_err(|e| e.to_string())?;
        each(key, created);
        Ok(())
    })
}

/// Calls `each` with every line of a gzip NDJSON object, without its newline, one at a time;
/// the number of lines.
pub fn for_each_line(
    body: &[u8],
    mut each: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<u64, String> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(body));
    let mut line = Vec::new();
    let mut lines = 0;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("gzip: {e}"))?
            == 0
        {
            return Ok(lines);
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.is_empty() {
            continue;
        }
        each(text)?;
        lines += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        let window = Window {
            from: Timestamp::parse("2026-11-22T10:15:00Z").unwrap(),
            to: Timestamp::parse("2026-11-22T11:15:00Z").unwrap(),
        };
        assert_eq!(
            object_key("webex/", "admin-audit", "ORG1", &window),
            "webex/admin-audit/org=ORG1/dt=2026-11-22/hour=10/admin-audit_20261122T101500Z_20261122T111500Z.ndjson.gz"
        );
        assert_eq!(
            object_key("", "compliance-events", "O", &window),
            "compliance-events/org=O/dt=2026-11-22/hour=10/compliance-events_20261122T101500Z_20261122T111500Z.ndjson.gz"
        );
        let named = object_key("p/", "my_stream", "O", &window);
        assert_eq!(window_of_key(&named), Some(window));
        for other in [
            "p/my_stream/_state/org=O/recent-ids_20261122T111500Z_00000000000000aa.bin",
            "p/x/org=O/dt=2026-11-22/hour=10/x_20261122T111500Z_20261122T101500Z.ndjson.gz",
            "p/x/org=O/dt=2026-11-22/hour=10/20261122T101500Z_20261122T111500Z.ndjson.gz",
        ] {
            assert_eq!(window_of_key(other), None, "{other}");
        }
    }

    #[test]
    fn custom_fields_open_each_line_and_leave_the_event_bytes_alone() {
        let fields = vec![
            ("team".to_string(), "secops".to_string()),
            ("tier".to_string(), "a\"b".to_string()),
        ];
        let event = br#"{"id":"e1", "created":"2026-12-01T10:00:00.000Z","data":{"x":[1,2]}}"#;
        let on_lines = CustomFields::new(fields.clone(), Some("collector"));
        assert_eq!(
            std::str::from_utf8(&on_lines.line(event)).unwrap(),
            r#"{"collector":{"team":"secops","tier":"a\"b"},"id":"e1", "created":"2026-12-01T10:00:00.000Z","data":{"x":[1,2]}}"#
        );
        let line = on_lines.line(event);
        assert!(
            line.ends_with(&event[1..]),
            "the event's own bytes follow unchanged"
        );
        let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed["collector"]["tier"], "a\"b");
        assert_eq!(parsed["id"], "e1");
        // An empty object, leading blanks, and what is not an object at all.
        assert_eq!(
            &*on_lines.line(b" { }"),
            br#"{"collector":{"team":"secops","tier":"a\"b"} }"#
        );
        assert_eq!(&*on_lines.line(b"[1]"), b"[1]");
        // Without a line key, lines are exactly what came.
        let metadata_only = CustomFields::new(fields, None);
        assert!(matches!(metadata_only.line(event), Cow::Borrowed(_)));
    }

    #[test]
    fn custom_fields_are_metadata_under_a_prefix_of_their_own() {
        let window = Window {
            from: Timestamp::from_millis(0),
            to: Timestamp::from_millis(60_000),
        };
        let fields = CustomFields::new(vec![("stream".to_string(), "x".to_string())], None);
        let meta = object_meta("admin-audit", "O", &window, 3, "1.0", &fields);
        let names: Vec<&str> = meta.0.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(
            names,
            [
                "stream",
                "org-id",
                "window-from",
                "window-to",
                "event-count",
                "collector-version",
                "field-stream"
            ]
        );
        assert_eq!(
            meta.0[0].1, "admin-audit",
            "a field cannot replace a contract name"
        );
    }
}
