//! The chat listener's other protocols: HTTP requests (the web client, `/healthz`, `/metrics`,
//! `/status`) and WebSocket connections that carry the line protocol to browsers; and the
//! metrics listener's requests (`/metrics`, `/status`, `/healthz` only).
//!
//! On a chat listener, `/metrics` and `/status` are answered only to loopback and
//! `--metrics-allow`, judged by the real client (`proxy::request_client`); others get `403`
//! saying how to allow them. A metrics listener answers whoever reaches it: its address is the
//! operator's choice. `/healthz` is open everywhere, for load balancers.
//!
//! A new connection is *sniffed*: until it is greeted, its first bytes are held while they could
//! still be an HTTP method and a space, such as `GET ` (which no nickname can start with,
//! nicknames having no spaces).
//! HTTP connections get one response and are closed; `GET /ws` upgrades to WebSocket, after which
//! every text message is one or more lines of the line protocol in each direction, and file
//! payloads travel as binary messages (PROTOCOL.md, "WebSocket").

use bytes::{Bytes, BytesMut};
use log::{debug, info};

use super::conn::Proto;
use super::{metrics, Reactor};
use crate::chat::{Bye, ConnId, Event, FileNotice, LostReason, Peer};
use crate::codec::http::{HttpDecoder, HttpRequest};
use crate::codec::websocket::{self, close_code, WsDecoder, WsMessage};
use crate::codec::{CodecError, Decoded};
use crate::config::ListenKind;

/// HTTP methods: a connection whose first bytes start with one is HTTP (only GET and HEAD are
/// served; the others get `405`).
const HTTP_METHODS: [&[u8]; 7] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
];

/// Whether `data`, a connection's first bytes, starts an HTTP request or may still (`GE`).
pub(super) fn may_be_http(data: &[u8]) -> bool {
    HTTP_METHODS
        .iter()
        .any(|m| data.starts_with(m) || m.starts_with(data))
}

/// The web client, embedded so the server needs no files and no network to serve it.
const INDEX_HTML: &str = include_str!("../../assets/index.html");
const APP_JS: &str = include_str!("../../assets/app.js");
const STYLE_CSS: &str = include_str!("../../assets/style.css");

pub(super) fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut buf = BytesMut::new();
    websocket::encode_close(code, reason, &mut buf);
    buf.freeze()
}

/// A complete HTTP response that closes the connection.
fn response(status: u16, content_type: &str, body: &[u8], head_only: bool) -> Bytes {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        416 => "Range Not Satisfiable",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    Bytes::from(out)
}

/// `Content-Disposition` for a download named `name` (already cleaned of path parts and control
/// characters): a plain ASCII `filename` for old clients, and the exact name as RFC 5987's
/// UTF-8 `filename*` (RFC 6266 §4.3).
fn content_disposition(name: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 5987's attr-char: what `filename*` may carry unescaped.
    const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

impl Reactor {
    /// The first bytes of a connection not yet greeted: HTTP, or the line protocol?
    pub(super) fn sniff(&mut self, key: usize, data: &[u8]) {
        let Proto::Sniffing(held) = &mut self.conns[key].proto else {
            return;
        };
        let mut all = std::mem::take(held);
        all.extend_from_slice(data);
        if self.clear_text_refused(key) && self.conns[key].tls.is_none() && !may_be_http(&all) {
            // Clear text where only TLS is served, its first bytes perhaps come in pieces
            // (`G`, `G`, `alice`): judged on all of them, not on the last read.
            return self.refuse_clear_text(key);
        }
        if super::proxy::may_be_header(&all) {
            // Not a trusted proxy's connection (those read their header first): a header would
            // claim another address. Held while it may still be one, as a method is.
            if all.len() >= 12 || all.starts_with(b"PROXY ") {
                return self.refuse_untrusted_header(key);
            }
            if !HTTP_METHODS.iter().any(|m| m.starts_with(&all)) && all.len() < 12 {
                self.conns[key].set_proto(Proto::Sniffing(all));
                return;
            }
        }
        if self.conns[key].via.is_irc_only() {
            self.start_irc(key);
            self.feed_stream(key, &all);
        } else if HTTP_METHODS.iter().any(|m| all.starts_with(m)) {
            self.start_http(key, &all);
        } else if super::irc::is_irc(&all) {
            self.start_irc(key);
            self.feed_stream(key, &all);
        } else if HTTP_METHODS.iter().any(|m| m.starts_with(&all)) || super::irc::may_be_irc(&all) {
            // "GE", "HEA", "NIC": too early to tell, and at most a few bytes to hold.
            self.conns[key].set_proto(Proto::Sniffing(all));
        } else if self.conns[key].via == ListenKind::Metrics {
            self.conns[key].greeted = true;
            self.conns[key].set_proto(Proto::Http(HttpDecoder::new(self.cfg.max_http_head)));
            let why =
                "this is a metrics listener: it speaks HTTP only (GET /metrics, /status, /healthz)";
            self.http_reply(key, 400, why, false);
        } else {
            // It spoke first; greet before answering so replies always follow the prompt.
            self.greet(key);
            self.feed_stream(key, &all);
        }
    }

    fn start_http(&mut self, key: usize, data: &[u8]) {
        let conn = &mut self.conns[key];
        conn.greeted = true; // no nickname prompt for a web request
        conn.set_proto(Proto::Http(HttpDecoder::new(self.cfg.max_http_head)));
        // Not a chat user (unless it upgrades to WebSocket).
        let now = self.now();
        self.chat
            .disconnect(ConnId(key), LostReason::Closed, now, &mut self.outbox);
        self.on_http_bytes(key, data);
    }

    pub(super) fn on_http_bytes(&mut self, key: usize, data: &[u8]) {
        let Proto::Http(decoder) = &mut self.conns[key].proto else {
            return;
        };
        match decoder.decode(data) {
            Ok(Decoded::Incomplete) => {}
            Ok(Decoded::Frame { frame, consumed }) => {
                self.on_request(key, frame, &data[consumed..])
            }
            Err(CodecError::Http { status, why }) => self.http_reply(key, status, why, false),
            Err(e) => self.http_reply(key, 400, &e.to_string(), false),
        }
    }

    fn on_request(&mut self, key: usize, req: HttpRequest, rest: &[u8]) {
        self.stats.http_requests += 1;
        // The path only: a query may hold the admin key (`/status?key=`) or a download key.
        debug!(peer:% = self.conns[key].peer, method:% = req.method, path = req.path(); "HTTP request");
        let head = req.method == "HEAD";
        if self.clear_text_refused(key) && self.conns[key].tls.is_none() {
            return self.redirect_to_https(key, &req, head);
        }
        let metrics_listener = self.conns[key].via == ListenKind::Metrics;
        let (status, ctype, body): (u16, &str, Vec<u8>) = match req.path() {
            "/metrics" | "/status" if !self.may_read_metrics(key, &req) => {
                self.metrics_refusal(key, &req)
            }
            "/healthz" => (200, "text/plain", self.health().into_bytes()),
            "/metrics" => (
                200,
                "text/plain; version=0.0.4",
                metrics::render(self).into_bytes(),
            ),
            "/status" => self.status_reply(&req),
            _ if metrics_listener => (
                404,
                "text/plain",
                b"not found: this is a metrics listener; it serves /metrics, /status and /healthz\n"
                    .to_vec(),
            ),
            "/ws" if req.is_websocket_upgrade() => return self.upgrade(key, &req, rest),
            "/ws" => (
                426,
                "text/plain",
                b"expected a WebSocket upgrade\n".to_vec(),
            ),
            "/" | "/index.html" => (200, "text/html; charset=utf-8", INDEX_HTML.into()),
            "/app.js" => (200, "text/javascript; charset=utf-8", APP_JS.into()),
            "/style.css" => (200, "text/css; charset=utf-8", STYLE_CSS.into()),
            path if path.starts_with("/files/") => return self.download(key, &req, head),
            _ => (404, "text/plain", b"not found\n".to_vec()),
        };
        let bytes = response(status, ctype, &body, head);
        self.queue_raw(key, bytes);
        self.end_http(key);
    }

    /// `--tls-only`: a clear-text request is sent to the same host and path over https (308, so
    /// a POST stays a POST).
    fn redirect_to_https(&mut self, key: usize, req: &HttpRequest, head: bool) {
        self.stats.tls_clear_refused += 1;
        let host = req
            .header("host")
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_string)
            .or_else(|| {
                self.conns[key]
                    .stream
                    .local_addr()
                    .ok()
                    .map(|a| a.to_string())
            })
            .unwrap_or_default();
        let location = format!("https://{host}{}", req.target);
        let body = format!("this server speaks only TLS: {location}\n");
        let mut bytes = format!(
            "HTTP/1.1 308 Permanent Redirect\r\nLocation: {location}\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        if !head {
            bytes.extend_from_slice(body.as_bytes());
        }
        self.queue_raw(key, Bytes::from(bytes));
        self.end_http(key);
    }

    /// `GET /files/ID/NAME?key=KEY`: an open offer's file, for telnet and nc users (who must not
    /// have raw bytes poured onto their terminal by `/accept`) and for browsers. `Range` requests
    /// (one range) resume a download; the payload is the one buffer the offer holds, queued as a
    /// file is, outside the per-connection caps.
    fn download(&mut self, key: usize, req: &HttpRequest, head: bool) {
        let id = req
            .path()
            .strip_prefix("/files/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| id.parse::<u64>().ok());
        let found = id.and_then(|id| self.chat.download(id, req.query("key").unwrap_or("")));
        let Some((name, payload)) = found else {
            let why = "no such file: the offer has ended, or the link is not its own";
            return self.http_reply(key, 404, why, head);
        };
        let len = payload.len() as u64;
        let range = match req
            .header("range")
            .map(http_range_header::parse_range_header)
        {
            // A range header that does not parse is ignored (RFC 9110 §14.2), as are several
            // ranges at once: the whole file is the answer.
            None | Some(Err(_)) => None,
            Some(Ok(ranges)) => match ranges.validate(len) {
                Ok(ranges) if ranges.len() == 1 => Some(ranges[0].clone()),
                Ok(_) => None,
                Err(_) => {
                    let refusal = format!(
                        "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    self.queue_raw(key, Bytes::from(refusal));
                    return self.end_http(key);
                }
            },
        };
        let (status, body, content_range) = match range {
            Some(r) => {
                let (start, end) = (*r.start(), *r.end());
                let body = payload.slice(start as usize..=end as usize);
                let content_range = format!("Content-Range: bytes {start}-{end}/{len}\r\n");
                (206, body, content_range)
            }
            None => (200, payload, String::new()),
        };
        let reason = if status == 206 {
            "Partial Content"
        } else {
            "OK"
        };
        let content_type = mime_guess::from_path(&*name).first_or_octet_stream();
        // Always an attachment, and sandboxed: a shared .html or .svg must never run as a page of
        // the chat's own origin.
        let head_bytes = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             {content_range}Accept-Ranges: bytes\r\nContent-Disposition: {}\r\n\
             Content-Security-Policy: sandbox\r\nX-Content-Type-Options: nosniff\r\n\
             Cache-Control: private, no-store\r\nConnection: close\r\n\r\n",
            body.len(),
            content_disposition(&name),
        );
        self.queue_raw(key, Bytes::from(head_bytes));
        if !head && !body.is_empty() {
            if let Some(conn) = self.conns.get_mut(key) {
                if conn.accepts_output() {
                    conn.out.push_file(body);
                    self.stats.files_out += 1;
                    self.pending_writes.add(key, &mut conn.write_listed);
                }
            }
        }
        self.end_http(key);
    }

    /// Whether the request may read `/metrics` and `/status`: anyone on a metrics listener; on
    /// a chat listener, loopback and `--metrics-allow` by the real client's address. A trusted
    /// proxy's request that names no client passes only if the proxy's own address is in
    /// `--metrics-allow`: being loopback, as a local proxy is, says nothing of its client.
    fn may_read_metrics(&self, key: usize, req: &HttpRequest) -> bool {
        let conn = &self.conns[key];
        if conn.via == ListenKind::Metrics {
            return true;
        }
        match self.request_client(key, req) {
            Some(ip) => self.cfg.metrics_allowed(ip),
            None => self
                .cfg
                .metrics_allow
                .iter()
                .any(|net| net.contains(&conn.peer.ip())),
        }
    }

    /// The `403` for `/metrics` or `/status` from a client not allowed them: why, and how to
    /// allow it.
    fn metrics_refusal(&mut self, key: usize, req: &HttpRequest) -> (u16, &'static str, Vec<u8>) {
        self.stats.metrics_refused += 1;
        let who = match self.request_client(key, req) {
            Some(ip) => format!("your address {ip} is not"),
            None => "a request through a trusted proxy that names no client is not".to_string(),
        };
        info!(peer:% = self.conns[key].peer, path = req.path(), who:% = who; "metrics refused: not allowed");
        let body = format!(
            "{} is served on this listener only to loopback and to --metrics-allow addresses; \
             {who}. Add its network to --metrics-allow (CIDR), or scrape a metrics listener \
             (--listen metrics=ADDRESS).\n",
            req.path()
        );
        (403, "text/plain", body.into_bytes())
    }

    /// `/status`: rooms and users as JSON, for operators: only with the admin key, given as
    /// `Authorization: Bearer KEY` or `?key=KEY`.
    fn status_reply(&self, req: &HttpRequest) -> (u16, &'static str, Vec<u8>) {
        // The configured key, or the one the server made at start.
        let Some(admin_key) = self.cfg.effective_admin_key() else {
            return (
                404,
                "text/plain",
                b"/status needs an admin key (there is none with --first-user-op)\n".to_vec(),
            );
        };
        let given = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| req.query("key"));
        if !given.is_some_and(|k| constant_time_eq(k.trim().as_bytes(), admin_key.as_bytes())) {
            return (403, "text/plain", b"wrong or missing admin key\n".to_vec());
        }
        let status = self.chat.status();
        let body = serde_json::to_vec_pretty(&status).unwrap_or_default();
        (200, "application/json", body)
    }

    /// A metrics listener's connection refused at accept (server full, too many from its
    /// address): the reason the line protocol's bye gives, as the `503` a scraper reports.
    pub(super) fn refuse_http(&mut self, key: usize, bye: Bye) {
        let body = self.render(&Event::Bye(bye));
        self.conns[key].set_proto(Proto::Http(HttpDecoder::new(self.cfg.max_http_head)));
        self.queue_raw(
            key,
            response(503, "text/plain; charset=utf-8", &body, false),
        );
    }

    fn http_reply(&mut self, key: usize, status: u16, why: &str, head: bool) {
        info!(peer:% = self.conns[key].peer, status, why; "HTTP error");
        let body = format!("{why}\n");
        self.queue_raw(key, response(status, "text/plain", body.as_bytes(), head));
        self.end_http(key);
    }

    fn end_http(&mut self, key: usize) {
        let close_at = self.clock.now() + self.cfg.linger();
        self.begin_close(key, close_at);
    }

    /// Answers the WebSocket handshake and makes the connection a chat connection.
    fn upgrade(&mut self, key: usize, req: &HttpRequest, rest: &[u8]) {
        if req.header("sec-websocket-version") != Some("13") {
            let body = b"only WebSocket version 13 is spoken\n";
            let mut bytes = response(426, "text/plain", body, false).to_vec();
            // RFC 6455 §4.4: say which version we speak.
            let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
            bytes.splice(at..at, b"\r\nSec-WebSocket-Version: 13".iter().copied());
            self.queue_raw(key, Bytes::from(bytes));
            return self.end_http(key);
        }
        // Behind a trusted HTTP proxy, the client is the one its Forwarded or X-Forwarded-For
        // names (the rightmost address that is not itself a trusted proxy). Headers that
        // disagree are refused: taken as the proxy's own connection, the client would escape
        // every per-address rule.
        match self.forwarded_client(key, req) {
            Ok(Some(ip)) => {
                if let Err(bye) = self.move_peer(key, ip) {
                    info!(ip:% = ip, through:% = self.conns[key].peer, bye = bye.code(); "refused");
                    return self.http_reply(key, 403, "refused for your address", false);
                }
            }
            Ok(None) => {}
            Err(why) => {
                let why = format!("the proxy's headers disagree: {why}");
                return self.http_reply(key, 400, &why, false);
            }
        }
        let accept = websocket::accept_key(req.header("sec-websocket-key").unwrap_or_default());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        self.queue_raw(key, Bytes::from(head));
        self.stats.ws_upgrades += 1;
        let max = self.cfg.max_line.max(self.cfg.max_file as usize);
        let peer = self.conns[key].peer;
        self.conns[key].set_proto(Proto::WebSocket(Box::new(WsDecoder::new(max))));
        self.chat.connect(ConnId(key), Peer { ip: peer.ip() });
        info!(peer:% = peer; "WebSocket");
        self.queue_event(key, &Event::Info(crate::chat::Info::Greeting));
        if !rest.is_empty() {
            self.on_ws_bytes(key, rest);
        }
    }

    pub(super) fn on_ws_bytes(&mut self, key: usize, mut data: &[u8]) {
        while !data.is_empty() {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            if !conn.accepts_output() {
                return;
            }
            let Proto::WebSocket(decoder) = &mut conn.proto else {
                return;
            };
            match decoder.decode(data) {
                Ok(Decoded::Incomplete) => return,
                Ok(Decoded::Frame { frame, consumed }) => {
                    data = &data[consumed..];
                    self.on_ws_message(key, frame);
                }
                Err(e) => {
                    let (code, why) = match e {
                        CodecError::WebSocket { close_code, why } => (close_code, why),
                        _ => (close_code::PROTOCOL_ERROR, "protocol error"),
                    };
                    info!(peer:% = self.conns[key].peer, code, why:% = why; "WebSocket error");
                    self.ws_close(key, code, why);
                    return;
                }
            }
        }
    }

    fn on_ws_message(&mut self, key: usize, message: WsMessage) {
        match message {
            WsMessage::Text(text) => {
                // One or more lines; the last needs no line ending.
                let mut bytes = text.into_bytes();
                if !bytes.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
                self.feed_stream(key, &bytes);
            }
            WsMessage::Binary(payload) => {
                // While flood control holds the connection, its `/file` line may be among the
                // held lines and opens the upload only when decoded: the bytes wait behind it,
                // in order, in the same held input.
                let conn = &self.conns[key];
                if conn.upload.is_some() || conn.paused {
                    self.feed_stream(key, &payload);
                } else {
                    let notice = FileNotice::UnexpectedBytes {
                        len: payload.len() as u64,
                    };
                    self.queue_event(key, &Event::File(notice));
                }
            }
            WsMessage::Ping(payload) => {
                let mut buf = BytesMut::new();
                websocket::encode_pong(&payload, &mut buf);
                self.queue_raw(key, buf.freeze());
            }
            WsMessage::Pong(_) => {}
            WsMessage::Close { .. } => self.ws_close(key, close_code::NORMAL, ""),
        }
    }

    /// Sends a close frame (once) and closes the connection after it is written.
    fn ws_close(&mut self, key: usize, code: u16, why: &str) {
        if !self.conns[key].ws_close_sent {
            self.queue_raw(key, close_frame(code, why));
            self.conns[key].ws_close_sent = true;
        }
        let close_at = self.clock.now() + self.cfg.linger();
        self.begin_close(key, close_at);
    }
}

/// Compares secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
