//! What IAM authorises for each AWS call the fault proxy saw, per the service authorization
//! reference: the action, the resource ARN and the condition keys the template relies on.
//! Physical names of the test's resources are replaced by the template's logical ids (and its
//! secrets by the ARNs the template's would have), so the requests compare with `Template`'s
//! symbolic ARNs.

use std::collections::BTreeMap;

use integration_tests::fault_proxy::Forwarded;

use crate::iam::Request;
use crate::template::{ACCOUNT, REGION};

/// The test's resources and the logical ids they stand for.
pub struct Names {
    /// Bucket name → logical id.
    pub buckets: BTreeMap<String, String>,
    pub table: String,
    /// Secret name → the ARN it stands for (`template::secret_arn` of the deployed name).
    pub secrets: BTreeMap<String, String>,
    /// Queue URL → logical id.
    pub queues: BTreeMap<String, String>,
}

/// Logical ids of the buckets and the table in the template.
pub const EVENTS_BUCKET: &str = "EventsBucket";
pub const CONFIG_BUCKET: &str = "ConfigBucket";
pub const STATE_TABLE: &str = "StateTable";

pub fn requests(forwarded: &Forwarded, names: &Names) -> Result<Vec<Request>, String> {
    let call = &forwarded.call;
    if let Some(operation) = call.target.strip_prefix("DynamoDB_20120810.") {
        return dynamodb(operation, &call.body_text(), names);
    }
    if let Some(operation) = call.target.strip_prefix("secretsmanager.") {
        return secrets_manager(operation, &call.body_text(), names);
    }
    if let Some(operation) = call.target.strip_prefix("AmazonSQS.") {
        return sqs(operation, &call.body_text(), names);
    }
    if call.target.is_empty() {
        return s3(forwarded, names);
    }
    Err(format!("unknown service of {}", call.target))
}

fn dynamodb(operation: &str, body: &str, names: &Names) -> Result<Vec<Request>, String> {
    let body: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if body["TableName"] != names.table.as_str() {
        return Err(format!(
            "{operation} on another table: {}",
            body["TableName"]
        ));
    }
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STATE_TABLE}");
    let mut request = Request::new(&format!("dynamodb:{operation}"), table);
    // The partition key of the item the call reads or writes.
    let item = body.get("Key").or_else(|| body.get("Item"));
    if let Some(pk) = item.and_then(|i| i["pk"]["S"].as_str()) {
        request = request.with("dynamodb:LeadingKeys", pk);
    }
    Ok(vec![request])
}

fn secrets_manager(operation: &str, body: &str, names: &Names) -> Result<Vec<Request>, String> {
    let body: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let id = body["SecretId"].as_str().unwrap_or_default();
    let arn = names
        .secrets
        .get(id)
        .ok_or_else(|| format!("{operation} on an unknown secret {id}"))?;
    Ok(vec![Request::new(
        &format!("secretsmanager:{operation}"),
        arn.clone(),
    )])
}

fn sqs(operation: &str, body: &str, names: &Names) -> Result<Vec<Request>, String> {
    let body: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let url = body["QueueUrl"].as_str().unwrap_or_default();
    let logical = names
        .queues
        .get(url)
        .ok_or_else(|| format!("{operation} on an unknown queue {url}"))?;
    // A batch is authorised as its single action.
    let action = operation.strip_suffix("Batch").unwrap_or(operation);
    Ok(vec![Request::new(
        &format!("sqs:{action}"),
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{logical}"),
    )])
}

fn s3(forwarded: &Forwarded, names: &Names) -> Result<Vec<Request>, String> {
    let call = &forwarded.call;
    // Path-style: /bucket/key.
    let path = call.path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) if !key.is_empty() => (bucket, Some(percent_decode(key))),
        Some((bucket, _)) => (bucket, None),
        None => (path, None),
    };
    let logical = names
        .buckets
        .get(bucket)
        .ok_or_else(|| format!("S3 call on another bucket: {bucket}"))?;
    let query = query(&call.query);
    let has = |name: &str| query.contains_key(name);
    let operation = match (call.method.as_str(), &key) {
        ("HEAD", Some(_)) => "HeadObject",
        ("GET", Some(_)) if has("uploadId") => "ListParts",
        ("GET", Some(_)) => "GetObject",
        ("GET", None) if has("uploads") => "ListMultipartUploads",
        ("GET", None) if query.get("list-type").map(String::as_str) == Some("2") => "ListObjectsV2",
        ("GET", None) => "ListObjects",
        ("PUT", Some(_)) if !call.copy_source.is_empty() && has("partNumber") => "UploadPartCopy",
        ("PUT", Some(_)) if !call.copy_source.is_empty() => "CopyObject",
        ("PUT", Some(_)) if has("partNumber") && has("uploadId") => "UploadPart",
        ("PUT", Some(_)) => "PutObject",
        ("POST", Some(_)) if has("uploads") => "CreateMultipartUpload",
        ("POST", Some(_)) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", Some(_)) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", Some(_)) => "DeleteObject",
        _ => {
            return Err(format!(
                "unmapped S3 call {} {}?{}",
                call.method, call.path, call.query
            ));
        }
    };
    // The SDK names most operations itself: the mapping above must agree with it.
    if let Some(named) = query.get("x-id")
        && named != operation
    {
        return Err(format!(
            "mapped {named} as {operation}: {}?{}",
            call.path, call.query
        ));
    }
    let bucket_arn = format!("arn:aws:s3:::{logical}");
    let object = |key: &str| format!("{bucket_arn}/{key}");
    let key = key.unwrap_or_default();
    let mut requests = match operation {
        "GetObject" | "HeadObject" => vec![Request::new("s3:GetObject", object(&key))],
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            vec![Request::new("s3:PutObject", object(&key))]
        }
        "CopyObject" => {
            let source = percent_decode(call.copy_source.trim_start_matches('/'));
            let (source_bucket, source_key) = source.split_once('/').unwrap_or((&source, ""));
            if source_bucket != bucket {
                return Err(format!("copy from another bucket: {source_bucket}"));
            }
            vec![
                Request::new("s3:PutObject", object(&key)),
                Request::new("s3:GetObject", object(source_key)),
            ]
        }
        "AbortMultipartUpload" => vec![Request::new("s3:AbortMultipartUpload", object(&key))],
        "DeleteObject" => vec![Request::new("s3:DeleteObject", object(&key))],
        "ListMultipartUploads" => {
            let mut r = Request::new("s3:ListBucketMultipartUploads", bucket_arn.clone());
            if let Some(prefix) = query.get("prefix") {
                r = r.with("s3:prefix", prefix.clone());
            }
            vec![r]
        }
        "ListObjectsV2" | "ListObjects" => {
            vec![Request::new("s3:ListBucket", bucket_arn.clone()).with(
                "s3:prefix",
                query.get("prefix").cloned().unwrap_or_default(),
            )]
        }
        other => return Err(format!("no IAM mapping for S3 {other}")),
    };
    // S3 answers a read of a missing key with 404 only to a caller that may list the bucket
    // (with the key as s3:prefix); to others with 403, which a run cannot tell from "forbidden".
    if matches!(operation, "GetObject" | "HeadObject") && forwarded.status == 404 {
        requests.push(Request::new("s3:ListBucket", bucket_arn).with("s3:prefix", key));
    }
    Ok(requests)
}

fn query(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
