//! TLS on the chat port (`--tls-cert`): the same rooms for clear and encrypted users, through
//! the real `openssl s_client`, a rustls line client, HTTPS and a `wss://` WebSocket; the
//! handshake's deadline and budget; `--tls-only`; certificates reloaded on SIGHUP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::support::{Client, Server, TempDir, WAIT};

/// A self-signed certificate for `localhost` and 127.0.0.1, written as FILE.pem and
/// FILE-key.pem in `dir`.
fn certificate(dir: &Path, file: &str) -> (PathBuf, PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("reactor-chat test {file}"),
    );
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let paths = (
        dir.join(format!("{file}.pem")),
        dir.join(format!("{file}-key.pem")),
    );
    std::fs::write(&paths.0, cert.pem()).unwrap();
    std::fs::write(&paths.1, key.serialize_pem()).unwrap();
    paths
}

/// A server with TLS on, its certificate in a directory of its own.
struct TlsServer {
    server: Server,
    cert: PathBuf,
    key: PathBuf,
    _dir: TempDir,
}

fn tls_server(extra: &[&str]) -> TlsServer {
    let dir = TempDir::new("tls");
    let (cert, key) = certificate(dir.path(), "server");
    let server = Server::builder()
        .args(["--tls-cert", cert.to_str().unwrap()])
        .args(["--tls-key", key.to_str().unwrap()])
        .args(["--rate", "0"])
        .args(extra.iter().copied())
        .start();
    TlsServer {
        server,
        cert,
        key,
        _dir: dir,
    }
}

fn client_config(ca: &Path, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Opens a TLS connection to `addr` trusting `ca` and finishes the handshake.
fn tls_connect(addr: SocketAddr, ca: &Path, alpn: &[&[u8]]) -> std::io::Result<Tls> {
    let conn = ClientConnection::new(
        client_config(ca, alpn),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(WAIT))?;
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// A user of the line protocol inside TLS.
struct TlsUser {
    reader: BufReader<Tls>,
    seen: Vec<String>,
}

impl TlsUser {
    fn connect(addr: SocketAddr, ca: &Path) -> TlsUser {
        TlsUser {
            reader: BufReader::new(tls_connect(addr, ca, &[]).expect("a TLS connection")),
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let tls = self.reader.get_mut();
        tls.write_all(format!("{line}\n").as_bytes()).unwrap();
        tls.flush().unwrap();
    }

    /// Reads lines until one contains `needle`.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    let line = line.trim_end().to_string();
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!("reading {needle:?}: {e}; seen {:?}", self.seen),
            }
        }
        panic!("no line with {needle:?}; seen {:?}", self.seen);
    }

    fn login(addr: SocketAddr, ca: &Path, nick: &str) -> TlsUser {
        let mut user = TlsUser::connect(addr, ca);
        user.expect("nickname");
        user.send(nick);
        user.expect(&format!("-- Welcome, {nick}"));
        user
    }
}

#[test]
fn openssl_s_client_and_a_clear_user_chat_in_the_same_room() {
    let tls = tls_server(&[]);
    let mut bob = tls.server.login("bob");
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect"])
        .arg(tls.server.addr.to_string())
        .args(["-servername", "localhost", "-CAfile"])
        .arg(&tls.cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client (scripts/test.sh installs openssl)");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut read_until = |needle: &str| -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "s_client ended before {needle:?}"
            );
            if line.contains(needle) {
                return line;
            }
        }
    };
    read_until("nickname");
    stdin.write_all("alice\n".as_bytes()).unwrap();
    read_until("-- Welcome, alice");
    bob.expect_stamped("* alice joined");
    stdin.write_all("안녕, 암호 속에서\n".as_bytes()).unwrap();
    bob.expect_stamped("alice: 안녕, 암호 속에서");
    bob.send("hello alice");
    read_until("bob: hello alice");
    let _ = child.kill();
    let _ = child.wait();
    let log = tls.server.log();
    assert!(log.contains("msg=\"TLS established\""), "{log}");
    assert!(log.contains("sni=localhost"), "{log}");
}

#[test]
fn https_serves_the_page_and_health_and_agrees_on_http_1_1() {
    let tls = tls_server(&[]);
    let mut stream = tls_connect(tls.server.addr, &tls.cert, &[b"h2", b"http/1.1"]).unwrap();
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nok\n"), "{response}");

    let mut stream = tls_connect(tls.server.addr, &tls.cert, &[]).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    let _ = stream.read_to_string(&mut page);
    assert!(page.contains("<title>"), "{page}");
}

#[test]
fn a_wss_websocket_chats_with_a_clear_user() {
    let tls = tls_server(&[]);
    let mut bob = tls.server.login("bob");
    let stream = tls_connect(tls.server.addr, &tls.cert, &[b"http/1.1"]).unwrap();
    let url = format!("wss://localhost:{}/ws", tls.server.addr.port());
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("the wss handshake");
    ws.send(tungstenite::Message::text("carol")).unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + WAIT;
    while !seen.contains("-- Welcome, carol") {
        assert!(Instant::now() < deadline, "{seen}");
        if let tungstenite::Message::Text(text) = ws.read().unwrap() {
            seen.push_str(&text);
        }
    }
    bob.expect_stamped("* carol joined");
    ws.send(tungstenite::Message::text("over wss")).unwrap();
    bob.expect_stamped("carol: over wss");
}

#[test]
fn a_tls_user_gets_https_download_links_and_the_file_inside_tls() {
    let tls = tls_server(&[]);
    let mut alice = TlsUser::login(tls.server.addr, &tls.cert, "alice");
    let mut carol = tls.server.login("carol");
    let mut bob = tls.server.login("bob");
    bob.send_raw(b"/file notes.txt 5\nhello");
    let offer = alice.expect("notes.txt");
    assert!(
        offer.contains(&format!("https://{}/files/", tls.server.addr)),
        "{offer}"
    );
    let offer_clear = carol.expect("notes.txt");
    assert!(
        offer_clear.contains(&format!("http://{}/files/", tls.server.addr)),
        "{offer_clear}"
    );
    // The https link serves the file inside TLS.
    let at = offer.find("https://").unwrap();
    let link = offer[at..].split_whitespace().next().unwrap();
    let path = &link[link.find("/files/").unwrap()..];
    let mut stream = tls_connect(tls.server.addr, &tls.cert, &[]).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello"), "{response}");
}

#[test]
fn quit_inside_tls_ends_with_close_notify() {
    let tls = tls_server(&[]);
    let mut alice = TlsUser::login(tls.server.addr, &tls.cert, "alice");
    alice.send("/quit bye");
    alice.expect("-- bye final");
    // The end of the stream is close_notify, not a bare end of the TCP connection (which
    // rustls reports as an error).
    let mut rest = String::new();
    let end = alice.reader.read_to_string(&mut rest);
    assert!(end.is_ok(), "{end:?} after {rest:?}");
}

#[test]
fn a_stalled_handshake_ends_at_its_own_deadline_before_the_login_timeout() {
    let tls = tls_server(&["--tls-handshake-timeout", "1", "--login-timeout", "60"]);
    let mut stalled = TcpStream::connect(tls.server.addr).unwrap();
    stalled.set_read_timeout(Some(WAIT)).unwrap();
    // A ClientHello cut short: the handshake starts and never finishes.
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    assert_eq!(stalled.read(&mut buf).unwrap_or(0), 0, "closed");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "well before 60 s"
    );
    tls.server.wait_for_log("msg=\"TLS handshake timeout\"");
}

#[test]
fn the_handshake_budget_refuses_a_third_and_chat_goes_on() {
    let tls = tls_server(&["--max-tls-handshakes", "2"]);
    let hello_start: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
    let _stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(tls.server.addr).unwrap();
            s.write_all(hello_start).unwrap();
            s
        })
        .collect();
    let mut bob = tls.server.login("bob");
    let mut third = TcpStream::connect(tls.server.addr).unwrap();
    third.set_read_timeout(Some(WAIT)).unwrap();
    third.write_all(hello_start).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(third.read(&mut buf).unwrap_or(0), 0, "closed at once");
    tls.server
        .wait_for_log("TLS handshake refused: too many under way");
    bob.send("/users");
    bob.expect("bob");
    // Once the stalled handshakes are gone, their places are free again.
    drop(_stalled);
    let deadline = Instant::now() + WAIT;
    while tls_connect(tls.server.addr, &tls.cert, &[]).is_err() {
        assert!(Instant::now() < deadline, "the places never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tls_only_tells_a_telnet_user_and_redirects_a_browser() {
    let tls = tls_server(&["--tls-only", "--tls-handshake-timeout", "2"]);
    // A telnet says nothing until prompted: it is told at the handshake deadline (a TLS client
    // may be that slow to speak).
    let mut telnet = Client::connect(tls.server.addr);
    telnet.expect_exact(
        "-- bye final: this server speaks only TLS: connect with TLS (reactor-chat-client --tls, openssl s_client, https://)",
    );
    telnet.expect_closed();
    let mut nc = Client::connect(tls.server.addr);
    nc.send("alice");
    nc.expect_prefix("-- bye final: this server speaks only TLS");
    let mut http = TcpStream::connect(tls.server.addr).unwrap();
    http.write_all(b"GET /room?x=1 HTTP/1.1\r\nHost: chat.example.org:8080\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    let _ = http.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 308 "), "{response}");
    assert!(
        response.contains("\r\nLocation: https://chat.example.org:8080/room?x=1\r\n"),
        "{response}"
    );
    // Inside TLS all is as usual.
    TlsUser::login(tls.server.addr, &tls.cert, "alice");
}

#[test]
fn sighup_takes_a_new_certificate_for_new_handshakes_and_drops_nobody() {
    let tls = tls_server(&[]);
    let old = tls._dir.path().join("old.pem");
    std::fs::copy(&tls.cert, &old).unwrap();
    let mut alice = TlsUser::login(tls.server.addr, &tls.cert, "alice");
    // A renewed certificate in the same files.
    let (new_cert, new_key) = certificate(tls._dir.path(), "renewed");
    std::fs::copy(&new_cert, &tls.cert).unwrap();
    std::fs::copy(&new_key, &tls.key).unwrap();
    tls.server.signal("HUP");
    tls.server.wait_for_log("msg=\"reloaded");
    let mut bob = TlsUser::login(tls.server.addr, &new_cert, "bob");
    assert!(
        tls_connect(tls.server.addr, &old, &[]).is_err(),
        "the old certificate is no longer served"
    );
    alice.send("still here");
    bob.expect("alice: still here");
    // A broken file at reload: logged, the renewed certificate stays.
    std::fs::write(&tls.cert, "not a certificate\n").unwrap();
    tls.server.signal("HUP");
    tls.server
        .wait_for_log("TLS certificate not reloaded; the old one stays");
    TlsUser::login(tls.server.addr, &new_cert, "carol");
}

#[test]
fn a_bad_certificate_file_at_start_is_an_error_naming_it() {
    let dir = TempDir::new("tls-bad");
    let (_, key) = certificate(dir.path(), "server");
    let bad = dir.path().join("broken.pem");
    std::fs::write(&bad, "garbage\n").unwrap();
    // --ephemeral: a server started here must not write ./reactor-chat-data, nor be refused it
    // while another test's server holds it.
    let out = Command::new(crate::support::bin(crate::support::SERVER))
        .args(["--bind", "127.0.0.1:0", "--ephemeral"])
        .arg("--tls-cert")
        .arg(&bad)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: no PEM certificate in it", bad.display())),
        "{err}"
    );
}

/// What an idle user inside TLS costs the server, beside one in clear: printed (run with
/// `--nocapture`), and bounded. rustls keeps a session's buffers between records; the bound
/// is what makes `--max-clients` TLS users fit in memory.
#[test]
fn an_idle_tls_user_costs_a_bounded_amount_of_memory() {
    const USERS: usize = 400;
    let tls = tls_server(&[
        "--presence-max-room",
        "10",
        "--max-unregistered-per-ip",
        "1000",
    ]);
    let baseline = tls.server.rss_kib();
    // Each sends its name at once (the server greets a client that speaks first at once).
    let mut clear: Vec<Client> = (0..USERS)
        .map(|i| {
            let mut c = Client::connect(tls.server.addr);
            c.send(&format!("c{i}"));
            c
        })
        .collect();
    for (i, c) in clear.iter_mut().enumerate() {
        c.expect(&format!("-- Welcome, c{i}!"));
    }
    let with_clear = tls.server.rss_kib();
    let mut encrypted: Vec<TlsUser> = (0..USERS)
        .map(|i| {
            let mut u = TlsUser::connect(tls.server.addr, &tls.cert);
            u.send(&format!("t{i}"));
            u
        })
        .collect();
    for (i, u) in encrypted.iter_mut().enumerate() {
        u.expect(&format!("-- Welcome, t{i}!"));
    }
    // Everyone has read a line since, so every session is past its handshake and idle.
    clear[0].send("/users");
    clear[0].expect("users in lobby");
    let with_tls = tls.server.rss_kib();
    let per_clear = (with_clear.saturating_sub(baseline)) * 1024 / USERS as u64;
    let per_tls = (with_tls.saturating_sub(with_clear)) * 1024 / USERS as u64;
    println!(
        "idle users: clear {per_clear} B each, TLS {per_tls} B each \
         (RSS {baseline} -> {with_clear} -> {with_tls} KiB, {USERS} of each)"
    );
    assert!(per_tls < 96 * 1024, "an idle TLS user costs {per_tls} B");
    encrypted[0].send("/quit");
    clear.clear();
    encrypted.clear();
}

#[test]
fn no_greeting_delay_is_refused_with_tls_as_it_would_greet_before_the_handshake() {
    let dir = TempDir::new("tls-greet");
    let (cert, key) = certificate(dir.path(), "server");
    let out = Command::new(crate::support::bin(crate::support::SERVER))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--ephemeral",
            "--greet-delay-ms",
            "0",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--greet-delay-ms 0 greets before a TLS client"),
        "{err}"
    );
}

/// A ClientHello, as a real client's first flight.
fn client_hello(ca: &Path) -> Vec<u8> {
    let mut conn = ClientConnection::new(
        client_config(ca, &[]),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).unwrap();
    }
    hello
}

#[test]
fn a_flood_of_client_hellos_costs_chat_nothing_and_memory_stays_bounded() {
    const FLOOD: usize = 300;
    let tls = tls_server(&[
        "--max-tls-handshakes",
        "64",
        "--tls-handshake-timeout",
        "2",
        "--max-unregistered-per-ip",
        "1000",
    ]);
    let mut alice = tls.server.login("alice");
    let mut bob = TlsUser::login(tls.server.addr, &tls.cert, "bob");
    let rss_before = tls.server.rss_kib();
    let hello = client_hello(&tls.cert);
    // Each sends a whole ClientHello and never reads the server's answer nor answers it.
    let mut flood: Vec<TcpStream> = Vec::new();
    for i in 0..FLOOD {
        let mut s = TcpStream::connect(tls.server.addr).unwrap();
        s.write_all(&hello).unwrap();
        flood.push(s);
        if i % 50 == 0 {
            alice.send(&format!("line {i}"));
        }
    }
    // Nobody lost a line meanwhile, in either direction.
    for i in (0..FLOOD).step_by(50) {
        bob.expect(&format!("alice: line {i}"));
    }
    bob.send("still fine");
    alice.expect_stamped("bob: still fine");
    let rss_during = tls.server.rss_kib();
    // The handshakes past the budget were refused at once; the rest end at their deadline.
    tls.server
        .wait_for_log("TLS handshake refused: too many under way");
    tls.server.wait_for_log("msg=\"TLS handshake timeout\"");
    let grown = rss_during.saturating_sub(rss_before);
    println!("{FLOOD} stalled ClientHellos: RSS {rss_before} -> {rss_during} KiB (+{grown})");
    assert!(
        grown < 32 * 1024,
        "the flood grew the server by {grown} KiB"
    );
    drop(flood);
}

#[test]
fn a_tls_listener_serves_only_tls_beside_a_chat_port_that_serves_both() {
    let dir = TempDir::new("tls-listener");
    let (cert, key) = certificate(dir.path(), "server");
    let server = Server::builder()
        .args(["--tls-cert", cert.to_str().unwrap()])
        .args(["--tls-key", key.to_str().unwrap()])
        .args(["--listen", "tls=127.0.0.1:0"])
        .start();
    server.wait_for_log("msg=listening kind=tls address=127.0.0.1:");
    let log = server.log();
    let tls_addr: SocketAddr = log
        .lines()
        .find_map(|l| l.split_once("msg=listening kind=tls address="))
        .map(|(_, a)| a.trim().parse().unwrap())
        .unwrap();
    // On the tls listener: TLS works, clear text is told to use TLS.
    let mut alice = TlsUser::login(tls_addr, &cert, "alice");
    let mut nc = Client::connect(tls_addr);
    nc.send("mallory");
    nc.expect_prefix("-- bye final: this server speaks only TLS");
    // On the chat listener both work, into the same rooms.
    let mut bob = server.login("bob");
    alice.expect("* bob joined");
    let mut carol = TlsUser::login(server.addr, &cert, "carol");
    bob.expect_stamped("* carol joined");
    carol.send("hello from 8080 inside TLS");
    alice.expect("carol: hello from 8080 inside TLS");
}

#[test]
fn an_ircs_listener_speaks_irc_inside_tls_and_refuses_clear_text() {
    let dir = TempDir::new("ircs-listener");
    let (cert, key) = certificate(dir.path(), "server");
    let server = Server::builder()
        .args(["--tls-cert", cert.to_str().unwrap()])
        .args(["--tls-key", key.to_str().unwrap()])
        .args(["--listen", "ircs=127.0.0.1:0"])
        .start();
    let ircs = crate::listen::listening(&server, "ircs", 1)[0];
    let mut bob = TlsUser::connect(ircs, &cert);
    bob.send("NICK bob");
    bob.send("USER bob 0 * :bob");
    bob.expect(" 001 bob :Welcome");
    bob.send("JOIN #lobby");
    bob.expect(" 366 bob #lobby ");
    let mut alice = server.login("alice");
    bob.expect(":alice!alice@");
    alice.send("hello over 6697");
    bob.expect(" PRIVMSG #lobby :hello over 6697");
    // Clear text on it is refused, in IRC's words, whatever it says.
    let mut clear = Client::connect(ircs);
    clear.send("NICK mallory");
    clear.expect_prefix("ERROR :Closing link: this server speaks only TLS");
    clear.expect_closed();
}

#[test]
fn a_tls_listener_without_a_certificate_is_refused_at_start() {
    let out = Command::new(crate::support::bin(crate::support::SERVER))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--ephemeral",
            "--listen",
            "tls=127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a tls listener needs a certificate"), "{err}");
}

#[test]
fn a_bad_record_right_after_finished_gives_its_handshake_slot_back() {
    let tls = tls_server(&["--max-tls-handshakes", "1"]);
    let mut conn = ClientConnection::new(
        client_config(&tls.cert, &[]),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut sock = TcpStream::connect(tls.server.addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    while conn.is_handshaking() {
        conn.read_tls(&mut sock).unwrap();
        conn.process_new_packets().unwrap();
    }
    // The client's Finished and a record the server cannot decrypt, in one write: rustls ends
    // the handshake and fails the read in the same call.
    let mut last = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut last).unwrap();
    }
    last.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x20]);
    last.extend_from_slice(&[0u8; 32]);
    sock.write_all(&last).unwrap();
    tls.server.wait_for_log("msg=\"TLS error\"");
    drop(sock);
    // The one slot is free again: a proper handshake gets in.
    let deadline = Instant::now() + WAIT;
    loop {
        match tls_connect(tls.server.addr, &tls.cert, &[]) {
            Ok(_) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "a slot leaked: {e}\n{}",
                tls.server.log()
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tls_only_judges_clear_text_on_all_its_first_bytes_not_the_last_piece() {
    let tls = tls_server(&["--tls-only"]);
    let mut sock = TcpStream::connect(tls.server.addr).unwrap();
    sock.set_nodelay(true).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    // `G` alone may start `GET `; `GG` cannot.
    for piece in [&b"G"[..], b"G", b"alice\n"] {
        sock.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("this server speaks only TLS"), "{text}");
    assert!(!text.contains("Welcome"), "{text}");
}

#[test]
fn tls_only_waits_for_a_slow_client_hello_and_tells_a_silent_telnet_at_the_deadline() {
    let tls = tls_server(&["--tls-only", "--tls-handshake-timeout", "2"]);
    // A TLS client that waits longer than the greeting delay before its ClientHello.
    let conn = ClientConnection::new(
        client_config(&tls.cert, &[]),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(tls.server.addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut telnet = Client::connect(tls.server.addr);
    std::thread::sleep(Duration::from_millis(600));
    let mut slow = StreamOwned::new(conn, sock);
    while slow.conn.is_handshaking() {
        slow.conn
            .complete_io(&mut slow.sock)
            .expect("the slow client's handshake");
    }
    // The silent one is told at the handshake deadline, not at the greeting delay.
    telnet.expect_prefix("-- bye final: this server speaks only TLS");
}

#[test]
fn the_server_answers_a_clients_close_notify_with_its_own() {
    let tls = tls_server(&[]);
    let mut alice = TlsUser::login(tls.server.addr, &tls.cert, "alice");
    let tls_stream = alice.reader.get_mut();
    tls_stream.conn.send_close_notify();
    tls_stream.flush().unwrap();
    while tls_stream.conn.wants_write() {
        tls_stream.conn.write_tls(&mut tls_stream.sock).unwrap();
    }
    let mut rest = String::new();
    let end = alice.reader.read_to_string(&mut rest);
    assert!(
        end.is_ok(),
        "{end:?} after {rest:?}: the server closed without close_notify"
    );
}
