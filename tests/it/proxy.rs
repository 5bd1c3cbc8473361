//! Behind a proxy: the PROXY protocol (v1, v2) from a trusted address, and X-Forwarded-For on a
//! WebSocket, make the real client address the one every per-address rule sees; a header from
//! anyone else is refused.

use std::io::Write;

use crate::support::{Client, Server};
use crate::web::WsUser;

fn v1(ip: &str) -> Vec<u8> {
    format!("PROXY TCP4 {ip} 127.0.0.1 40000 8080\r\n").into_bytes()
}

fn v2(ip: [u8; 4]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&ip);
    h.extend_from_slice(&[127, 0, 0, 1, 0x9c, 0x40, 0x1f, 0x90]);
    h
}

/// A connection through the "proxy" (this test, on 127.0.0.1), its header sent first.
fn through_proxy(server: &Server, header: &[u8]) -> Client {
    let c = server.connect();
    (&mut c.stream()).write_all(header).unwrap();
    c
}

fn proxied_server(extra: &[&str]) -> Server {
    Server::builder()
        .args(["--trusted-proxy", "127.0.0.1/32", "--max-per-ip", "1"])
        .args(["--linger-ms", "200"])
        .args(extra.iter().copied())
        .start()
}

#[test]
fn a_trusted_proxys_header_gives_every_rule_the_real_address() {
    let server = proxied_server(&[]);
    let mut alice = through_proxy(&server, &v1("203.0.113.7"));
    alice.login("alice");
    server.wait_for_log("client=203.0.113.7");
    // --max-per-ip 1 counts the real address, not the proxy's.
    let mut again = through_proxy(&server, &v1("203.0.113.7"));
    again.expect_prefix("-- bye final: too many connections from your address (1)");
    let mut bob = through_proxy(&server, &v2([198, 51, 100, 9]));
    bob.login("bob");
    server.wait_for_log("client=198.51.100.9");
    // A held name is reclaimed from its own address only, not from anyone behind the proxy.
    alice.drop_connection();
    bob.expect_stamped("* alice lost the connection (connection closed)");
    let mut thief = through_proxy(&server, &v1("198.51.100.10"));
    thief.send("alice");
    thief.expect_prefix("! nick-held: ");
    drop(thief);
    let mut owner = through_proxy(&server, &v1("203.0.113.7"));
    owner.send("alice");
    owner.expect_prefix("-- Welcome back, alice!");
}

#[test]
fn a_header_from_an_untrusted_address_or_a_missing_one_when_required_is_refused() {
    let server = proxied_server(&[]);
    let mut forger = server.connect_from(2); // 127.0.0.2: not in --trusted-proxy
    forger.stream().write_all(&v1("10.9.8.7")).unwrap();
    forger.send("mallory");
    forger.expect_closed();
    server.wait_for_log("a PROXY header from an address not in --trusted-proxy");
    let strict = proxied_server(&["--proxy-protocol", "required"]);
    let mut bare = strict.connect();
    bare.send("dave");
    bare.expect_closed();
    strict.wait_for_log("no PROXY header (--proxy-protocol required)");
    // Without --proxy-protocol required, a trusted proxy's own connection needs no header.
    let mut plain = server.connect();
    plain.login("carol");
}

#[test]
fn x_forwarded_for_from_a_trusted_proxy_names_a_websocket_users_address() {
    let server = proxied_server(&[]);
    let mut web = WsUser::connect_with(&server, &[("x-forwarded-for", "192.0.2.1, 203.0.113.50")])
        .expect("the first from that address");
    web.send("webby");
    web.expect(|l| l.starts_with("-- Welcome, webby!"));
    server.wait_for_log("client=203.0.113.50");
    // The second from the same real address passes --max-per-ip 1: refused.
    let second = WsUser::connect_with(&server, &[("x-forwarded-for", "203.0.113.50")]);
    assert!(
        second.is_err(),
        "a second WebSocket from 203.0.113.50 was let in"
    );
    // From an untrusted peer the header means nothing.
    let untrusted = Server::builder()
        .args(["--max-per-ip", "1", "--limit-loopback"])
        .start();
    let mut one = WsUser::connect_with(&untrusted, &[("x-forwarded-for", "203.0.113.60")])
        .expect("the header is ignored");
    one.send("plain");
    one.expect(|l| l.starts_with("-- Welcome, plain!"));
    assert!(!untrusted.log().contains("through a trusted proxy"));
}

#[test]
fn forwarded_from_a_trusted_proxy_names_a_websocket_users_address() {
    let server = proxied_server(&["--log-level", "debug"]);
    // Two proxies: the client's own entry (left) is not believed past the rightmost
    // address that is not a trusted proxy.
    let chain = "for=192.0.2.1, for=\"[2001:db8::7]:4711\";proto=https, for=127.0.0.1";
    let mut web = WsUser::connect_with(&server, &[("forwarded", chain)])
        .expect("the first from that address");
    web.send("webby");
    web.expect(|l| l.starts_with("-- Welcome, webby!"));
    server.wait_for_log("client=2001:db8::7");
    // --max-per-ip 1 counts 2001:db8::7: a second from it is refused.
    let second = WsUser::connect_with(&server, &[("forwarded", "for=\"[2001:db8::7]\"")]);
    assert!(
        second.is_err(),
        "a second WebSocket from 2001:db8::7 was let in"
    );
    // A malformed header is ignored (logged), the connection judged as the proxy's.
    let mut odd = WsUser::connect_with(&server, &[("forwarded", "for=\"[2001:db8::7")])
        .expect("a malformed Forwarded is ignored");
    odd.send("odd");
    odd.expect(|l| l.starts_with("-- Welcome, odd!"));
    server.wait_for_log("Forwarded header ignored");
    // Forwarded and X-Forwarded-For together must name the same client: a proxy that writes
    // one passes the other on as the client sent it, so when they differ neither is believed.
    let both = [
        ("forwarded", "for=198.51.100.20"),
        ("x-forwarded-for", "198.51.100.20"),
    ];
    let mut agreed = WsUser::connect_with(&server, &both).expect("the headers agree");
    agreed.send("agreed");
    agreed.expect(|l| l.starts_with("-- Welcome, agreed!"));
    server.wait_for_log("client=198.51.100.20");
    let split = [
        ("forwarded", "for=198.51.100.30"),
        ("x-forwarded-for", "198.51.100.31"),
    ];
    assert!(WsUser::connect_with(&server, &split).is_err());
    server.wait_for_log(
        "the proxy's headers disagree: its Forwarded names 198.51.100.30 and its X-Forwarded-For 198.51.100.31",
    );
    // From an untrusted peer the header means nothing.
    let untrusted = Server::builder()
        .args(["--max-per-ip", "1", "--limit-loopback"])
        .start();
    let mut one = WsUser::connect_with(&untrusted, &[("forwarded", "for=203.0.113.60")])
        .expect("the header is ignored");
    one.send("plain");
    one.expect(|l| l.starts_with("-- Welcome, plain!"));
    assert!(!untrusted.log().contains("through a trusted proxy"));
}
