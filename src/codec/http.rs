//! HTTP/1.1 request heads on the chat port, parsed incrementally with `httparse`.
//!
//! The chat port serves a few small GET resources (the web client, health, metrics, status) and
//! the WebSocket upgrade; none of them takes a body. So the decoder reads one request head at a
//! time, bounded in bytes and in header count while it is still partial, and refuses what it will
//! not serve (a body, an unknown method) with the status to answer, before reading any further.

use super::{CodecError, Decoded};

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 32;

/// One request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// Header names in lower case, values as sent (trimmed).
    pub headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header holds `token` among its comma-separated values, case-insensitively
    /// (`Connection: keep-alive, Upgrade`).
    pub fn header_has(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// A query parameter's raw value.
    pub fn query(&self, key: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Whether this is a WebSocket opening handshake (RFC 6455 §4.2.1).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == "GET"
            && self.header_has("upgrade", "websocket")
            && self.header_has("connection", "upgrade")
            && self.header("sec-websocket-key").is_some()
    }

    /// Whether the client wants the connection kept open after the response.
    pub fn keep_alive(&self) -> bool {
        !self.header_has("connection", "close")
    }
}

/// Incremental decoder of request heads.
#[derive(Debug)]
pub struct HttpDecoder {
    buf: Vec<u8>,
    max_head: usize,
}

impl HttpDecoder {
    /// A decoder for heads of at most `max_head` bytes. Allocates nothing until data comes.
    #[must_use]
    pub fn new(max_head: usize) -> Self {
        HttpDecoder {
            buf: Vec::new(),
            max_head,
        }
    }

    /// Bytes of a partial head held.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Decodes from `src` until one request head is complete or `src` runs out. On `Frame`, the
    /// bytes after the head (`src[consumed..]`) belong to whatever follows it (a next request, or
    /// WebSocket frames after an upgrade).
    ///
    /// # Errors
    ///
    /// [`CodecError::Http`] with the status to answer: 431 for a head over `max_head` bytes or
    /// [`MAX_HEADERS`] headers, 400 for a malformed head, 405 for a method other than GET or
    /// HEAD, 413 for a request with a body.
    pub fn decode(&mut self, src: &[u8]) -> Result<Decoded<HttpRequest>, CodecError> {
        let old = self.buf.len();
        // Only what could still belong to the head is copied: the limit holds while partial.
        let room = self.max_head.saturating_sub(old);
        self.buf.extend_from_slice(&src[..src.len().min(room)]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if self.buf.len() >= self.max_head {
                    return Err(http_error(431, "request head too large"));
                }
                return Ok(Decoded::Incomplete);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(http_error(431, "too many headers"))
            }
            Err(_) => return Err(http_error(400, "malformed request")),
        };
        let method = req.method.unwrap_or_default().to_string();
        let request = HttpRequest {
            target: req.path.unwrap_or("/").to_string(),
            headers: req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).trim().to_string(),
                    )
                })
                .collect(),
            method,
        };
        self.buf.clear();
        if request.method != "GET" && request.method != "HEAD" {
            return Err(http_error(405, "only GET and HEAD are served"));
        }
        let has_body = request.header("transfer-encoding").is_some()
            || request
                .header("content-length")
                .is_some_and(|v| v.trim() != "0");
        if has_body {
            return Err(http_error(413, "requests with a body are not served"));
        }
        // The head ends inside this call's bytes (a complete head would have parsed before).
        Ok(Decoded::Frame {
            frame: request,
            consumed: n - old,
        })
    }
}

fn http_error(status: u16, why: &'static str) -> CodecError {
    CodecError::Http { status, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &[u8] = b"GET /ws?room=lobby HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\
Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const AFTER: &[u8] = b"\x81\x85 frame bytes";

    /// Feeds `parts`; returns the request and the bytes after it.
    fn run(parts: &[&[u8]]) -> Result<(HttpRequest, Vec<u8>), CodecError> {
        let mut dec = HttpDecoder::new(1024);
        let mut request = None;
        let mut rest = Vec::new();
        for part in parts {
            if request.is_some() {
                rest.extend_from_slice(part);
                continue;
            }
            if let Decoded::Frame { frame, consumed } = dec.decode(part)? {
                request = Some(frame);
                rest.extend_from_slice(&part[consumed..]);
            }
        }
        Ok((request.expect("a complete request"), rest))
    }

    fn sample() -> Vec<u8> {
        [UPGRADE, AFTER].concat()
    }

    #[test]
    fn an_upgrade_request_parses_and_leaves_what_follows() {
        let (req, rest) = run(&[&sample()]).unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path(), "/ws");
        assert_eq!(req.query("room"), Some("lobby"));
        assert!(req.is_websocket_upgrade());
        assert!(req.keep_alive());
        assert_eq!(rest, AFTER);
    }

    #[test]
    fn every_two_way_split_matches_whole_input() {
        let input = sample();
        let whole = run(&[&input]).unwrap();
        for cut in 0..=input.len() {
            assert_eq!(
                run(&[&input[..cut], &input[cut..]]).unwrap(),
                whole,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn every_three_way_split_matches_whole_input() {
        let input = sample();
        let whole = run(&[&input]).unwrap();
        for a in (0..=input.len()).step_by(3) {
            for b in a..=input.len() {
                let got = run(&[&input[..a], &input[a..b], &input[b..]]).unwrap();
                assert_eq!(got, whole, "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_matches_whole_input() {
        let input = sample();
        let parts: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&parts).unwrap(), run(&[&input]).unwrap());
    }

    fn status_of(input: &[u8]) -> u16 {
        let mut dec = HttpDecoder::new(1024);
        match dec.decode(input) {
            Err(CodecError::Http { status, .. }) => status,
            other => panic!("expected an HTTP error, got {other:?}"),
        }
    }

    #[test]
    fn refusals_carry_their_status() {
        assert_eq!(status_of(b"POST / HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(
            status_of(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            413
        );
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"), 400);
        let many: String = (0..40).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            status_of(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            431
        );
    }

    #[test]
    fn a_head_that_never_ends_is_refused_at_the_limit_without_growing() {
        let mut dec = HttpDecoder::new(1024);
        assert_eq!(
            dec.decode(b"GET / HTTP/1.1\r\n").unwrap(),
            Decoded::Incomplete
        );
        let filler = vec![b'a'; 600];
        let mut result = Ok(Decoded::Incomplete);
        for _ in 0..3 {
            result = dec.decode(&filler);
            assert!(dec.buffered() <= 1024);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(CodecError::Http { status: 431, .. })));
    }

    #[test]
    fn pipelined_requests_come_out_one_at_a_time() {
        let two =
            b"GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
        let mut dec = HttpDecoder::new(1024);
        let Decoded::Frame { frame, consumed } = dec.decode(two).unwrap() else {
            panic!("first request")
        };
        assert_eq!(frame.path(), "/healthz");
        let Decoded::Frame { frame, .. } = dec.decode(&two[consumed..]).unwrap() else {
            panic!("second request")
        };
        assert_eq!(frame.path(), "/metrics");
        assert!(!frame.keep_alive());
    }
}
