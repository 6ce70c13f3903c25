//! Response bodies that misbehave on purpose, for every API the simulator plays: cut short,
//! too large, endless, or lying about their length.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;

use crate::api_error::JSON;

/// A 200 page answer with `body`, declaring `length` when given (true or not).
pub(crate) fn page_response(body: Body, length: Option<u64>) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

const SPACES_CHUNK: usize = 64 * 1024;

/// Spaces in chunks of 64 KiB: `total` bytes of them, or without end. Nothing is held but one
/// chunk, shared by all.
pub(crate) fn spaces(total: Option<u64>) -> Body {
    Body::from_stream(spaces_stream(total))
}

fn spaces_stream(
    total: Option<u64>,
) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let chunk = Bytes::from(vec![b' '; SPACES_CHUNK]);
    futures_util::stream::unfold(total, move |left| {
        let chunk = chunk.clone();
        async move {
            match left {
                Some(0) => None,
                Some(left) => {
                    let n = left.min(SPACES_CHUNK as u64);
                    Some((Ok(chunk.slice(..n as usize)), Some(left - n)))
                }
                None => Some((Ok(chunk), None)),
            }
        }
    })
}

/// An empty page of `bytes` bytes in all: `{"items":[`, spaces, `]}`.
pub(crate) fn padded_page(bytes: u64) -> Body {
    use futures_util::StreamExt;
    const OPEN: &[u8] = b"{\"items\":[";
    const CLOSE: &[u8] = b"]}";
    let padding = bytes.saturating_sub((OPEN.len() + CLOSE.len()) as u64);
    let open = futures_util::stream::once(async { Ok(Bytes::from_static(OPEN)) });
    let close = futures_util::stream::once(async { Ok(Bytes::from_static(CLOSE)) });
    Body::from_stream(open.chain(spaces_stream(Some(padding))).chain(close))
}

/// Sends the first half of the page, then fails the body so the connection is cut mid-way:
/// the client sees a 200 with an incomplete body, as when a proxy drops the connection.
pub(crate) fn truncated_body(full: String) -> Body {
    let full = Bytes::from(full);
    let half = full.slice(..full.len() / 2);
    let chunks = futures_util::stream::unfold(0_u8, move |step| {
        let half = half.clone();
        async move {
            match step {
                0 => Some((Ok(half), 1)),
                1 => {
                    // Give the first chunk time to reach the socket before the abort.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let cut = io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "webex-sim Truncated fault",
                    );
                    Some((Err(cut), 2))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(chunks)
}
