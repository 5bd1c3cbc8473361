//! HTTP and WebSocket on the chat port: the web client's files, `/healthz`, `/metrics`,
//! `/status`, refusals, and a non-browser WebSocket client chatting with a telnet-style user.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::support::{unstamp, Server, WAIT};

/// One plain HTTP/1.1 request; returns (status, headers, body).
pub(crate) fn http(server: &Server, request: &str) -> (u16, String, Vec<u8>) {
    http_to(server.addr, request.as_bytes())
}

/// One request's bytes (a PROXY header may come first) sent to `addr`; returns (status,
/// headers, body).
pub(crate) fn http_to(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

fn get(server: &Server, path: &str) -> (u16, String, Vec<u8>) {
    http(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"),
    )
}

#[test]
fn health_and_the_web_client_are_served() {
    let server = Server::start();
    let (status, head, body) = get(&server, "/healthz");
    assert_eq!((status, &body[..]), (200, &b"ok\n"[..]));
    assert!(head.contains("Connection: close"), "{head}");
    let (status, head, body) = get(&server, "/");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"), "{head}");
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("reactor-chat") && html.contains("app.js"),
        "{html}"
    );
    for asset in ["/app.js", "/style.css"] {
        let (status, _, body) = get(&server, asset);
        assert_eq!(status, 200, "{asset}");
        assert!(!body.is_empty(), "{asset}");
    }
    let (status, _, body) = http(&server, "HEAD / HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.len()), (200, 0));
}

#[test]
fn bad_requests_get_their_status() {
    let server = Server::start();
    assert_eq!(get(&server, "/nope").0, 404);
    assert_eq!(
        http(&server, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").0,
        405
    );
    assert_eq!(
        http(&server, "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").0,
        413
    );
    let huge = format!("GET / HTTP/1.1\r\nX-Filler: {}\r\n\r\n", "a".repeat(10_000));
    assert_eq!(http(&server, &huge).0, 431);
    // The limit is a flag: a 2 KiB head passes by default and is refused under --max-http-head 1024.
    let medium = format!(
        "GET /healthz HTTP/1.1\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(2000)
    );
    assert_eq!(http(&server, &medium).0, 200);
    let strict = Server::builder().args(["--max-http-head", "1024"]).start();
    assert_eq!(http(&strict, &medium).0, 431);
    assert_eq!(get(&server, "/ws").0, 426);
    // A chat user is not confused with HTTP: "GET" alone is a fine nickname.
    let mut get_user = server.connect();
    get_user.login("GET");
}

#[test]
fn metrics_count_what_happens() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("hello");
    bob.expect_stamped("alice: hello");
    let (status, head, body) = get(&server, "/metrics");
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let text = String::from_utf8(body).unwrap();
    for needle in [
        "reactor_chat_connections{protocol=\"line\"} 2",
        "reactor_chat_users_online 2",
        "reactor_chat_messages_in_total 1",
        "reactor_chat_rooms 1",
        "reactor_chat_loop_iterations_total",
        "reactor_chat_loop_busy_seconds_total",
        "reactor_chat_bytes_in_total",
        "reactor_chat_deliveries_total",
        "reactor_chat_queue_drops_total 0",
        "reactor_chat_file_offers_total 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    bob.reset();
    alice.expect_where("bob lost the connection", |l| {
        l.contains("bob lost the connection")
    });
    let text = String::from_utf8(get(&server, "/metrics").2).unwrap();
    assert!(
        text.contains("reactor_chat_disconnects_total{reason="),
        "{text}"
    );
}

#[test]
fn status_lists_rooms_and_users_for_the_admin_key_only() {
    let no_key = Server::start();
    assert_eq!(get(&no_key, "/status").0, 404);
    let server = Server::builder().args(["--admin-key", "s3cret"]).start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    alice.send("/join games");
    alice.expect_prefix("-- You are now in room games.");
    assert_eq!(get(&server, "/status").0, 403);
    assert_eq!(get(&server, "/status?key=wrong").0, 403);
    let (status, _, body) = http(
        &server,
        "GET /status HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n",
    );
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["users_online"], 2);
    let rooms: Vec<&str> = json["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(rooms, ["games", "lobby"]);
    assert_eq!(json["rooms"][0]["users"][0]["nick"], "alice");
    assert_eq!(get(&server, "/status?key=s3cret").0, 200);
}

/// A WebSocket user: every text message holds one or more protocol lines.
pub(crate) struct WsUser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    lines: std::collections::VecDeque<String>,
    binaries: std::collections::VecDeque<Vec<u8>>,
    seen: Vec<String>,
}

impl WsUser {
    fn connect(server: &Server) -> WsUser {
        WsUser::connect_with(server, &[]).expect("WebSocket handshake")
    }

    /// A WebSocket user whose handshake carries these extra headers (as a proxy adds them).
    pub(crate) fn connect_with(
        server: &Server,
        headers: &[(&'static str, &str)],
    ) -> Result<WsUser, Box<tungstenite::Error>> {
        use tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws", server.addr)
            .into_client_request()
            .map_err(Box::new)?;
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("a header value"));
        }
        let (ws, response) = tungstenite::connect(request).map_err(Box::new)?;
        assert_eq!(response.status(), 101);
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
        }
        Ok(WsUser {
            ws,
            lines: Default::default(),
            binaries: Default::default(),
            seen: Vec::new(),
        })
    }

    pub(crate) fn send(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).unwrap();
    }

    fn pump(&mut self) -> bool {
        match self.ws.read() {
            Ok(Message::Text(text)) => {
                assert!(text.ends_with("\r\n"), "a message of whole lines: {text:?}");
                for line in text.split_terminator("\r\n") {
                    self.seen.push(line.to_string());
                    self.lines.push_back(line.to_string());
                }
                true
            }
            Ok(Message::Binary(b)) => {
                self.binaries.push_back(b);
                true
            }
            Ok(_) => true,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(e) => panic!("WebSocket read: {e}; seen {:#?}", self.seen),
        }
    }

    pub(crate) fn expect(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            while let Some(line) = self.lines.pop_front() {
                if pred(&line) {
                    return line;
                }
            }
            assert!(
                Instant::now() < deadline,
                "never came; seen {:#?}",
                self.seen
            );
            self.pump();
        }
    }

    fn binary(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(b) = self.binaries.pop_front() {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "no binary message; seen {:#?}",
                self.seen
            );
            self.pump();
        }
    }
}

#[test]
fn a_websocket_user_and_a_telnet_user_chat_and_share_files() {
    let server = Server::start();
    let mut tcp = server.login("telnet_tom");
    let mut web = WsUser::connect(&server);
    web.expect(|l| l == "-- Welcome to reactor-chat! Enter your nickname:");
    web.send("웹_유저");
    web.expect(|l| l.starts_with("-- Resume key: "));
    tcp.expect_stamped("* 웹_유저 joined");
    web.send("hello from the browser");
    tcp.expect_stamped("웹_유저: hello from the browser");
    tcp.send("hello from the terminal");
    web.expect(|l| unstamp(l) == Some("telnet_tom: hello from the terminal"));
    // Several lines in one message, as a paste.
    web.send("/me waves\n/msg telnet_tom psst");
    tcp.expect_stamped("* 웹_유저 waves");
    tcp.expect_stamped("*웹_유저* psst");

    // A file from the terminal to the browser: a header line, then one binary message.
    tcp.send("/file notes.txt 6");
    tcp.send_raw(b"\x00\x01\xffhi\n");
    web.expect(|l| l.contains("offers the file notes.txt (6 B) as #1"));
    web.send("/accept 1");
    web.expect(|l| l == "=file 1 6 telnet_tom notes.txt");
    assert_eq!(web.binary(), b"\x00\x01\xffhi\n");

    // And from the browser: the /file line, then the bytes as a binary message.
    web.send("/file 사진.png 4");
    web.ws.send(Message::Binary(b"\x89PNG".to_vec())).unwrap();
    web.expect(|l| l.starts_with("-- Offered #2 사진.png (4 B)"));
    tcp.send("/accept 2");
    let (id, from, name, payload) = tcp.expect_file();
    assert_eq!(
        (id, from.as_str(), name.as_str(), &payload[..]),
        (2, "웹_유저", "사진.png", &b"\x89PNG"[..])
    );

    // Ping is answered; binary data without /file is refused with a reason.
    web.ws
        .send(Message::Ping(b"are you there".to_vec()))
        .unwrap();
    web.ws.send(Message::Binary(b"stray".to_vec())).unwrap();
    web.expect(|l| l.starts_with("! bad-file: 5 bytes of binary data came without a /file line"));

    // Leaving: the room sees it as for anyone else.
    web.send("/quit bye");
    web.expect(|l| l == "-- bye final: goodbye, 웹_유저");
    tcp.expect_stamped("* 웹_유저 left (bye)");
}

#[test]
fn a_websocket_protocol_error_closes_with_its_code() {
    let server = Server::start();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    // An unmasked client frame is a protocol error (RFC 6455 §5.1).
    stream.write_all(b"\x81\x02hi").unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{text}"
    );
    // The last frame is a close frame with code 1002.
    let close = raw
        .windows(4)
        .rposition(|w| w[0] == 0x88 && w[2] == 0x03 && w[3] == 0xea)
        .is_some();
    assert!(close, "no close 1002 in {raw:?}");
}

#[test]
fn a_websocket_text_fragment_that_cannot_be_utf8_closes_with_1007_at_once() {
    let server = Server::start();
    let mut tom = server.login("tom");
    let mut bob = WsUser::connect(&server);
    bob.send("bob");
    bob.expect(|l| l.starts_with("-- Resume key: "));
    tom.expect_stamped("* bob joined");
    let mut web = WsUser::connect(&server);
    web.send("alice");
    web.expect(|l| l.starts_with("-- Resume key: "));
    tom.expect_stamped("* alice joined");

    // The first fragment of a text message (FIN clear), broken by a byte no UTF-8 text holds.
    // The rest of the message is never sent: the server must answer this fragment, not wait.
    let first = Frame::message(
        b"\xed\x95\x9c\xff".to_vec(),
        OpCode::Data(Data::Text),
        false,
    );
    web.ws.send(Message::Frame(first)).unwrap();
    let deadline = Instant::now() + WAIT;
    let close = loop {
        match web.ws.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("expected a close frame, got {e}; seen {:#?}", web.seen),
        }
        assert!(
            Instant::now() < deadline,
            "no close frame while the message's final fragment is missing; seen {:#?}",
            web.seen
        );
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1007, "{close:?}");
    assert_eq!(close.reason, "text is not UTF-8");

    // The others in the room carry on.
    bob.send("still here");
    tom.expect_stamped("bob: still here");
    tom.send("so am I");
    bob.expect(|l| unstamp(l) == Some("tom: so am I"));
}

#[test]
fn shutdown_tells_websocket_users_and_closes_cleanly() {
    let mut server = Server::start();
    let mut web = WsUser::connect(&server);
    web.send("alice");
    web.expect(|l| l.starts_with("-- Resume key: "));
    server.signal("TERM");
    web.expect(|l| l == "-- bye reconnect: server shutting down");
    let deadline = Instant::now() + WAIT;
    loop {
        match web.ws.read() {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 1000);
                break;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("expected a close frame, got {e}"),
        }
        assert!(Instant::now() < deadline, "no close frame");
    }
    assert!(server.wait_exit(WAIT).success());
}

#[test]
fn a_file_sent_while_flood_control_holds_the_connection_is_still_received() {
    // The `/file` line is held back with the lines before it; the binary message that follows in
    // the same read must wait behind it, not be refused as bytes without a `/file` line.
    let server = Server::builder()
        .args(["--rate", "2", "--burst", "2"])
        .start();
    let mut tcp = server.login("tom");
    let mut web = WsUser::connect(&server);
    web.send("alice");
    web.expect(|l| l.starts_with("-- Resume key: "));
    tcp.expect_stamped("* alice joined");
    web.send("one\ntwo\nthree\n/file x.bin 3");
    web.ws.send(Message::Binary(b"abc".to_vec())).unwrap();
    web.send("after the file");
    web.expect(|l| l.starts_with("! flood: "));
    web.expect(|l| l.starts_with("-- Offered #1 x.bin (3 B)"));
    tcp.expect_stamped("alice: three");
    tcp.expect(" offers the file x.bin (3 B) as #1");
    tcp.expect_stamped("alice: after the file");
    assert!(
        !web.seen.iter().any(|l| l.starts_with("! bad-file")),
        "{:#?}",
        web.seen
    );
}
