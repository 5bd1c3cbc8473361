//! rustls alone, in memory, as a reference for `--preset handshakes`: full TLS 1.3 handshakes
//! between a `ServerConnection` and a `ClientConnection` in one thread, no sockets, the way
//! rustls's own bench tool measures them (time spent inside each side's calls, counted apart),
//! with the server configured as reactor-chat configures it (ring, an ECDSA P-256 certificate
//! made by rcgen, ALPN `http/1.1`, rustls's defaults otherwise, which send two TLS 1.3 session
//! tickets after each handshake). Then the memory an established, idle server session holds.
//!
//! ```sh
//! cargo run --release -p reactor-chat-bench --example rustls_handshakes -- [HANDSHAKES] [SESSIONS]
//! ```

use std::io::{Read, Write};
use std::ops::DerefMut;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(4000);
    let sessions: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(made.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = Resumption::disabled();
    let client = Arc::new(client);

    for tickets in [server.send_tls13_tickets, 0] {
        let mut config = server.clone();
        config.send_tls13_tickets = tickets;
        let config = Arc::new(config);
        // A warm-up pass, then the measured one.
        handshakes(&config, &client, count / 10);
        let (s, c) = handshakes(&config, &client, count);
        println!(
            "{count} handshakes, {tickets} tickets each: server {:.1} us each ({:.0}/s of one core), client {:.1} us each ({:.0}/s)",
            per_us(s, count),
            f64::from(count) / s.as_secs_f64(),
            per_us(c, count),
            f64::from(count) / c.as_secs_f64(),
        );
    }

    let config = Arc::new(server);
    let before = rss_kib();
    let mut held = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let (server, _client) = pair(&config, &client);
        held.push(server);
    }
    let after = rss_kib();
    println!(
        "{sessions} established idle server sessions: {:.0} B each (RSS {before} -> {after} KiB)",
        (after - before) as f64 * 1024.0 / sessions as f64
    );
    drop(held);
}

fn per_us(d: Duration, n: u32) -> f64 {
    d.as_secs_f64() * 1e6 / f64::from(n)
}

/// `count` full handshakes; the time spent in the server's calls and in the client's.
fn handshakes(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    count: u32,
) -> (Duration, Duration) {
    let (mut in_server, mut in_client) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..count {
        let t = Instant::now();
        let mut s = ServerConnection::new(server.clone()).unwrap();
        in_server += t.elapsed();
        let t = Instant::now();
        let mut c = ClientConnection::new(client.clone(), name()).unwrap();
        in_client += t.elapsed();
        while s.is_handshaking() || c.is_handshaking() {
            let t = Instant::now();
            let flight = drain(&mut c);
            in_client += t.elapsed();
            let t = Instant::now();
            feed(&mut s, &flight);
            let back = drain(&mut s);
            in_server += t.elapsed();
            let t = Instant::now();
            feed(&mut c, &back);
            in_client += t.elapsed();
        }
    }
    (in_server, in_client)
}

/// An established pair, the tickets read by the client.
fn pair(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
) -> (ServerConnection, ClientConnection) {
    let mut s = ServerConnection::new(server.clone()).unwrap();
    let mut c = ClientConnection::new(client.clone(), name()).unwrap();
    for _ in 0..4 {
        let flight = drain(&mut c);
        feed(&mut s, &flight);
        let back = drain(&mut s);
        feed(&mut c, &back);
    }
    assert!(!s.is_handshaking() && !c.is_handshaking());
    // A line each way, as a logged-in chat user has sent and been sent.
    c.writer().write_all(b"alice\n").unwrap();
    let flight = drain(&mut c);
    feed(&mut s, &flight);
    let mut line = [0u8; 16];
    let _ = s.reader().read(&mut line);
    s.writer().write_all(b"-- Welcome, alice!\r\n").unwrap();
    let back = drain(&mut s);
    feed(&mut c, &back);
    (s, c)
}

fn name() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

fn drain<C, D>(conn: &mut C) -> Vec<u8>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
{
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn feed<C, D>(conn: &mut C, mut data: &[u8])
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
{
    while !data.is_empty() {
        conn.read_tls(&mut data).unwrap();
        conn.process_new_packets().unwrap();
    }
}

fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
