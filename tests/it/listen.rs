//! Several listeners: chat and metrics listeners side by side, addresses as people type them
//! (`:PORT`, `localhost:PORT`), /metrics on a chat listener only for loopback and
//! --metrics-allow, judged by the real client behind a trusted proxy, and servers sharing one
//! port with --reuse-port.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use crate::support::{Client, Server};
use crate::web::http_to;

/// The addresses the server says it listens on for `kind` (its "listening" log lines), once
/// `count` of them are logged.
pub(crate) fn listening(server: &Server, kind: &str, count: usize) -> Vec<SocketAddr> {
    let marker = format!("listening kind={kind} address=");
    let found = || -> Vec<SocketAddr> {
        server
            .log()
            .lines()
            .filter_map(|l| l.split_once(&marker))
            .map(|(_, addr)| addr.trim().parse().expect("an address"))
            .collect()
    };
    server.wait_for_log(&marker);
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    while found().len() < count && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let all = found();
    assert_eq!(all.len(), count, "{}", server.log());
    all
}

/// Whether this host has ::1 (a container may have no IPv6).
fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http_to(addr, format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes());
    (status, String::from_utf8_lossy(&body).to_string())
}

/// A request through "a proxy" on 127.0.0.1 whose PROXY v1 header says the client is `ip`.
fn get_as(addr: SocketAddr, ip: &str, path: &str) -> (u16, String) {
    let request = format!("PROXY TCP4 {ip} 127.0.0.1 40000 8080\r\nGET {path} HTTP/1.1\r\n\r\n");
    let (status, _, body) = http_to(addr, request.as_bytes());
    (status, String::from_utf8_lossy(&body).to_string())
}

#[test]
fn a_metrics_listener_serves_only_metrics_and_the_chat_stays_on_its_own() {
    let server = Server::builder()
        .args(["--listen", "metrics=127.0.0.1:0"])
        .args(["--trusted-proxy", "127.0.0.1/32"])
        .start();
    let chat = listening(&server, "chat", 1);
    assert_eq!(
        chat,
        [server.addr],
        "stdout's first line is the chat listener"
    );
    let metrics = listening(&server, "metrics", 1)[0];
    assert_ne!(metrics, server.addr);
    let (status, body) = get(metrics, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("reactor_chat_users_online"), "{body}");
    assert_eq!(get(metrics, "/healthz"), (200, "ok\n".to_string()));
    // Served to whoever reaches it: its address is the operator's choice.
    assert_eq!(get_as(metrics, "203.0.113.7", "/metrics").0, 200);
    for path in ["/", "/ws", "/app.js", "/files/1/x?key=y"] {
        assert_eq!(get(metrics, path).0, 404, "{path}");
    }
    // A line-protocol login is refused there, with no greeting.
    let mut nc = Client::connect(metrics);
    nc.send("alice");
    let lines = nc.expect_closed();
    assert!(
        lines.first().is_some_and(|l| l.starts_with("HTTP/1.1 400")),
        "{lines:?}"
    );
    assert!(!nc.transcript().contains("nickname"), "{}", nc.transcript());
    // The chat listener is the chat.
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("hello");
    bob.expect("alice: hello");
}

#[test]
fn localhost_is_a_chat_listener_on_both_loopbacks() {
    let server = Server::builder().bind("localhost:0").start();
    let expected = if has_ipv6_loopback() { 2 } else { 1 };
    let chat = listening(&server, "chat", expected);
    assert_eq!(chat[0], server.addr);
    assert!(server.addr.ip().is_loopback() && server.addr.is_ipv4());
    let mut alice = server.login("alice");
    if expected == 2 {
        assert_eq!(
            chat[1],
            SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], server.addr.port()))
        );
        let mut bob = Client::connect(chat[1]);
        bob.login("bob");
        bob.send("over ::1");
        alice.expect("bob: over ::1");
    }
}

#[test]
fn every_interface_is_reached_on_ipv4_and_ipv6_loopback_as_the_address_it_is() {
    let server = Server::builder()
        .bind(":0")
        .args(["--max-per-ip", "1", "--limit-loopback"])
        .start();
    let port = server.addr.port();
    assert_eq!(listening(&server, "chat", 1).len(), 1);
    let mut alice = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    alice.login("alice");
    // An IPv4 client of the dual-stack socket is 127.0.0.1, not ::ffff:127.0.0.1: its rules
    // (here --max-per-ip) are 127.0.0.1's.
    server.wait_for_log("msg=connection peer=127.0.0.1:");
    let mut again = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    again.expect_prefix("-- bye final: too many connections from your address (1)");
    if has_ipv6_loopback() {
        let mut bob = Client::connect(SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port)));
        bob.login("bob");
        bob.send("via v6");
        alice.expect("bob: via v6");
    }
}

#[test]
fn a_bind_that_fails_or_is_not_an_address_is_named() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    // --ephemeral: a server started here must not write ./reactor-chat-data, nor be refused it
    // while another test's server holds it.
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        .args(["--ephemeral", "--listen", &format!("metrics={addr}")])
        .args(["--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on metrics={addr} ({addr}): ")),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        .args(["--ephemeral", "--bind", "chat.example.org:80"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`chat.example.org:80` is not an address to listen on"),
        "{err}"
    );
}

#[test]
fn metrics_on_a_chat_listener_are_for_loopback_and_allowed_real_addresses_only() {
    // Plain loopback: served, as before.
    let plain = Server::start();
    assert_eq!(get(plain.addr, "/metrics").0, 200);
    // Behind a trusted proxy on 127.0.0.1, the client it names is judged, not the proxy.
    let proxied = Server::builder()
        .args(["--trusted-proxy", "127.0.0.1/32"])
        .start();
    let (status, body) = get_as(proxied.addr, "203.0.113.7", "/metrics");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("203.0.113.7") && body.contains("--metrics-allow"),
        "{body}"
    );
    assert_eq!(get_as(proxied.addr, "203.0.113.7", "/status").0, 403);
    assert_eq!(get_as(proxied.addr, "203.0.113.7", "/healthz").0, 200);
    // The same through an HTTP proxy's Forwarded header.
    let forwarded = b"GET /metrics HTTP/1.1\r\nForwarded: for=203.0.113.7\r\n\r\n";
    assert_eq!(http_to(proxied.addr, forwarded).0, 403);
    // A proxy that sets X-Forwarded-For and passes on the client's own Forwarded: the two
    // disagree, and neither makes the client loopback.
    let spoofed = b"GET /metrics HTTP/1.1\r\nForwarded: for=127.0.0.1\r\n\
                    X-Forwarded-For: 203.0.113.7\r\n\r\n";
    assert_eq!(http_to(proxied.addr, spoofed).0, 403);
    // A trusted proxy's request that names nobody may be anyone's.
    let (status, body) = get(proxied.addr, "/metrics");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("names no client"), "{body}");
    // A client the proxy names as loopback is loopback.
    assert_eq!(get_as(proxied.addr, "127.0.0.1", "/metrics").0, 200);
    let refused = get(proxied.addr, "/metrics");
    assert_eq!(refused.0, 403);
    let metrics = String::from_utf8_lossy(
        &http_to(
            proxied.addr,
            b"PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\nGET /metrics HTTP/1.1\r\n\r\n",
        )
        .2,
    )
    .to_string();
    assert!(
        metrics.contains("reactor_chat_metrics_refused_total 6"),
        "{metrics}"
    );
    // --metrics-allow lets that network in.
    let allowed = Server::builder()
        .args(["--trusted-proxy", "127.0.0.1/32"])
        .args(["--metrics-allow", "198.51.100.0/24,203.0.113.0/24"])
        .start();
    let (status, body) = get_as(allowed.addr, "203.0.113.7", "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("reactor_chat_users_online"), "{body}");
    assert_eq!(get_as(allowed.addr, "192.0.2.1", "/metrics").0, 403);
}

#[test]
fn a_shutdown_closes_every_listener() {
    let mut server = Server::builder()
        .bind("localhost:0")
        .args(["--listen", "metrics=127.0.0.1:0"])
        .start();
    let metrics = listening(&server, "metrics", 1)[0];
    let chat = listening(&server, "chat", 1 + usize::from(has_ipv6_loopback()));
    // A user with nothing to say keeps the server in its shutdown until it has read its bye.
    let mut alice = server.login("alice");
    server.signal("TERM");
    alice.expect_prefix("-- bye");
    server.wait_for_log("shutting down");
    for addr in chat.iter().chain([&metrics]) {
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{addr} still accepts after the shutdown began"
        );
    }
    assert!(server.wait_exit(crate::support::WAIT).success());
}

#[test]
fn a_full_server_tells_a_scraper_why_in_http() {
    let server = Server::builder()
        .args(["--listen", "metrics=127.0.0.1:0", "--max-clients", "1"])
        .start();
    let metrics = listening(&server, "metrics", 1)[0];
    let _alice = server.login("alice");
    // The line protocol's refusal, as a 503 a scraper reports rather than a line it cannot read.
    let (status, body) = get(metrics, "/metrics");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("-- bye reconnect: server full (1 clients)"),
        "{body}"
    );
}

#[test]
fn a_malformed_forwarded_beside_an_x_forwarded_for_names_nobody() {
    // A proxy that appends its hop to the client's own `Forwarded: x` makes the whole header
    // malformed; the client's X-Forwarded-For, passed on untouched, must not decide alone.
    let proxied = Server::builder()
        .args(["--trusted-proxy", "127.0.0.1/32"])
        .start();
    let appended = b"GET /metrics HTTP/1.1\r\nForwarded: x, for=203.0.113.7\r\n\
                     X-Forwarded-For: 127.0.0.1\r\n\r\n";
    assert_eq!(crate::web::http_to(proxied.addr, appended).0, 403);
    // A PROXY header that names no address (v1 UNKNOWN) is no loopback client either.
    let unknown = b"PROXY UNKNOWN\r\nGET /metrics HTTP/1.1\r\n\r\n";
    assert_eq!(crate::web::http_to(proxied.addr, unknown).0, 403);
}

/// A port nobody listens on: bound by the system's choice, then let go.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How many of `nicks` the server logged in, by its activity log.
fn logged_in(server: &Server, nicks: &[String]) -> usize {
    let log = server.log();
    nicks
        .iter()
        .filter(|nick| log.contains(&format!("msg=\"logged in\" nick={nick} ")))
        .count()
}

/// A server asked to bind `addr`, which is taken, exits with the error naming the chat listener,
/// the address and why, and never says it listens.
fn assert_refused_as_taken(args: &[&str], addr: &str) {
    let mut all = vec!["--ephemeral", "--bind", addr];
    all.extend(args);
    let out = crate::support::run_to_exit(&all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let named = format!("reactor-chat: cannot listen on chat={addr} ({addr}): ");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&named) && l.contains("in use")),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
}

#[test]
fn servers_with_reuse_port_share_one_port_and_each_is_given_connections() {
    let shared = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let addr = shared.to_string();
    let start = || Server::builder().bind(&addr).arg("--reuse-port").start();
    let (first, second) = (start(), start());
    assert_eq!((first.addr, second.addr), (shared, shared));
    // The kernel picks a server by the connection's addresses and ports: 40 connections from
    // as many ports all go to one of the two about once in 2^39 runs.
    let nicks: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
    let _users: Vec<Client> = nicks
        .iter()
        .map(|nick| {
            let mut user = Client::connect(shared);
            user.login(nick);
            user
        })
        .collect();
    // Each login was answered, so it is logged: wait only for the log readers to catch up.
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    let counts = loop {
        let counts = (logged_in(&first, &nicks), logged_in(&second, &nicks));
        if counts.0 + counts.1 == nicks.len() || std::time::Instant::now() >= deadline {
            break counts;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(counts.0 + counts.1, nicks.len(), "{counts:?}");
    assert!(
        counts.0 > 0 && counts.1 > 0,
        "one server got them all: {counts:?}"
    );
    // Every process on the port must ask for it: one that does not is refused.
    assert_refused_as_taken(&[], &addr);
}

#[test]
fn without_reuse_port_a_second_server_on_a_taken_port_is_refused() {
    let first = Server::start();
    let addr = first.addr.to_string();
    assert_refused_as_taken(&[], &addr);
    // Asking for it alone is not enough: the server holding the port did not.
    assert_refused_as_taken(&["--reuse-port"], &addr);
    let mut alice = first.login("alice");
    let mut bob = first.login("bob");
    alice.send("still here");
    bob.expect("alice: still here");
}
