//! One bounded reader for every Webex response body: memory is bounded by the cap whatever
//! Webex (or anything posing as it) sends, a declared `Content-Length` over the cap is refused
//! before a byte is read, and a body that never ends is cut off at the cap.

use bytes::{Bytes, BytesMut};

/// An event page. Webex pages hold at most 1000 events of a few KB: a few MB.
pub const EVENT_PAGE_CAP: usize = 32 * 1024 * 1024;
/// A token endpoint answer: two tokens, two lifetimes and the scopes; a few hundred bytes.
pub const TOKEN_CAP: usize = 64 * 1024;
/// `GET /people/me`: one person (names, emails, phone numbers, roles, licenses); a few KB.
pub const PERSON_CAP: usize = 256 * 1024;
/// A partner's organisations: thousands at a few hundred bytes each.
pub const ORGANIZATIONS_CAP: usize = 8 * 1024 * 1024;
/// An error body: only its `message` and `trackingId` are used.
pub const ERROR_BODY_CAP: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over the cap: `read` is what was read before stopping (0 when the declared length gave
    /// it away), never more than the cap.
    #[error("{} body over the {} cap ({})", what, size(*cap), over(*declared, *read))]
    TooLarge {
        what: &'static str,
        cap: usize,
        declared: Option<u64>,
        read: usize,
    },
    /// The connection failed or timed out mid-body.
    #[error("{what} body cut off: {source}")]
    Cut {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
}

/// Reads `response`'s body, at most `cap` bytes of it; `what` names the body in errors
/// ("event page", "token answer").
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
    what: &'static str,
) -> Result<Bytes, BodyError> {
    let declared = response.content_length();
    if let Some(length) = declared
        && length > cap as u64
    {
        return Err(BodyError::TooLarge {
            what,
            cap,
            declared,
            read: 0,
        });
    }
    // A declared length within the cap is allocated once; otherwise the buffer grows as the
    // chunks come, up to the cap.
    let mut body = BytesMut::with_capacity(declared.map_or(0, |l| l as usize));
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(body.freeze()),
            Err(source) => return Err(BodyError::Cut { what, source }),
        };
        if chunk.len() > cap - body.len() {
            return Err(BodyError::TooLarge {
                what,
                cap,
                declared,
                read: body.len(),
            });
        }
        body.extend_from_slice(&chunk);
    }
}

fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

fn over(declared: Option<u64>, read: usize) -> String {
    match declared {
        Some(length) if read == 0 => format!("Content-Length: {length}; nothing read"),
        _ => format!("stopped reading after {read} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Answers one request on 127.0.0.1 with `head` then `body_chunks` copies of `chunk`
    /// (`None`: forever, until the client goes away). Returns the URL and how many body bytes
    /// the server managed to write.
    async fn serve_once(
        head: String,
        chunk: Vec<u8>,
        body_chunks: Option<usize>,
    ) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            if socket.write_all(head.as_bytes()).await.is_err() {
                return 0;
            }
            let mut written = 0;
            let mut sent = 0;
            while body_chunks.is_none_or(|n| sent < n) {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
                written += chunk.len();
                sent += 1;
            }
            written
        });
        (url, server)
    }

    async fn get(url: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_whole() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n".to_string();
        let (url, server) = serve_once(head, b"0123456789".to_vec(), Some(1)).await;
        let body = read_capped(get(&url).await, 10, "test").await.unwrap();
        assert_eq!(&body[..], b"0123456789");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_declared_length_over_the_cap_is_refused_before_reading() {
        // 2 GiB declared; the server would send it if asked.
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 2147483648\r\nconnection: close\r\n\r\n"
            .to_string();
        let (url, server) = serve_once(head, vec![b'x'; 64 * 1024], Some(32 * 1024)).await;
        let error = read_capped(get(&url).await, 1024 * 1024, "event page")
            .await
            .unwrap_err();
        match &error {
            BodyError::TooLarge {
                declared,
                read,
                cap,
                ..
            } => {
                assert_eq!(
                    (*declared, *read, *cap),
                    (Some(2_147_483_648), 0, 1024 * 1024)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            error.to_string(),
            "event page body over the 1 MiB cap (Content-Length: 2147483648; nothing read)"
        );
        server.abort();
    }

    #[tokio::test]
    async fn an_endless_chunked_body_stops_at_the_cap() {
        // One HTTP chunk of 16 KiB, repeated until the client hangs up.
        let mut chunk = format!("{:x}\r\n", 16 * 1024).into_bytes();
        chunk.extend(std::iter::repeat_n(b' ', 16 * 1024));
        chunk.extend(b"\r\n");
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_string();
        let (url, server) = serve_once(head, chunk, None).await;
        let cap = 1024 * 1024;
        let error = read_capped(get(&url).await, cap, "event page")
            .await
            .unwrap_err();
        match &error {
            BodyError::TooLarge {
                declared: None,
                read,
                ..
            } => assert!(*read <= cap && *read > cap / 2, "read {read}"),
            other => panic!("{other:?}"),
        }
        assert!(
            error
                .to_string()
                .starts_with("event page body over the 1 MiB cap (stopped reading after "),
            "{error}"
        );
        // The client hung up: the endless server stops too, having sent a bounded amount
        // (what the socket buffers held beyond the cap).
        let written = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server noticed the client left")
            .unwrap();
        assert!(written < 64 * cap, "the server wrote {written} bytes");
    }

    #[tokio::test]
    async fn a_body_longer_than_declared_by_nobody_is_cut_at_the_cap() {
        // No length, no chunking: the body ends when the connection closes.
        let head = "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_string();
        let (url, server) = serve_once(head, vec![b'x'; 1024], Some(2048)).await;
        let error = read_capped(get(&url).await, 1024 * 1024, "token answer")
            .await
            .unwrap_err();
        assert!(
            matches!(error, BodyError::TooLarge { read, .. } if read <= 1024 * 1024),
            "{error:?}"
        );
        server.abort();
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(EVENT_PAGE_CAP), "32 MiB");
        assert_eq!(size(TOKEN_CAP), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
