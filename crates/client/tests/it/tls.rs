//! `reactor-chat-client --tls` against real TLS servers: `openssl s_server` with certificates
//! made for each test, and the real reactor-chat on a clear-text port. Each refusal must say
//! what is wrong in words a person can act on.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Server, TempDir, WAIT};

/// A certificate for `names`, valid now or (`expired`) only in 2020, written as NAME.pem and
/// NAME-key.pem.
fn certificate(dir: &Path, file: &str, names: &[&str], expired: bool) -> (PathBuf, PathBuf) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    // Each its own issuer name, as two authorities' certificates have.
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("reactor-chat test {file}"),
    );
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (
        dir.join(format!("{file}.pem")),
        dir.join(format!("{file}-key.pem")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// `openssl s_server` on a free loopback port with this certificate; killed on drop. What the
/// client sends comes out on its stdout (`-quiet`), line by line.
struct OpensslServer {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl OpensslServer {
    fn start(cert: &Path, key: &Path) -> OpensslServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server (scripts/test.sh installs openssl)");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            thread::sleep(Duration::from_millis(20));
        }
        OpensslServer { child, port, lines }
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the client to its end (its first connection fails, so it exits) with stdin closed.
fn client(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reactor-chat-client"));
    cmd.args(args)
        .args(["--name", "alice"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run reactor-chat-client")
}

fn refused_because(out: &Output, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(why), "wanted {why:?} in:\n{err}");
}

#[test]
fn tls_speaks_to_a_tls_server_that_has_a_trusted_certificate_for_the_name() {
    let dir = TempDir::new("tls-ok");
    let (cert, key) = certificate(dir.path(), "localhost", &["localhost"], false);
    let server = OpensslServer::start(&cert, &key);
    let mut child = Command::new(env!("CARGO_BIN_EXE_reactor-chat-client"))
        .arg(format!("tls://localhost:{}", server.port))
        .arg("--ca")
        .arg(&cert)
        .args(["--name", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The login line arrives decrypted on the other side.
    let line = server.lines.recv_timeout(WAIT);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(line.as_deref(), Ok("alice"));
}

#[test]
fn a_certificate_for_another_name_is_refused_naming_the_host() {
    let dir = TempDir::new("tls-name");
    let (cert, key) = certificate(dir.path(), "other", &["chat.example.org"], false);
    let server = OpensslServer::start(&cert, &key);
    let addr = format!("127.0.0.1:{}", server.port);
    let out = client(&["--tls", "--ca", cert.to_str().unwrap(), &addr], &[]);
    refused_because(&out, "the server's certificate is not for 127.0.0.1");
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let dir = TempDir::new("tls-expired");
    let (cert, key) = certificate(dir.path(), "old", &["localhost"], true);
    let server = OpensslServer::start(&cert, &key);
    let addr = format!("localhost:{}", server.port);
    let out = client(&["--ca", cert.to_str().unwrap(), &addr], &[]);
    refused_because(&out, "the server's certificate has expired");
}

#[test]
fn a_certificate_no_trusted_authority_signed_is_refused_with_a_pointer_to_ca() {
    let dir = TempDir::new("tls-issuer");
    let (cert, key) = certificate(dir.path(), "self", &["localhost"], false);
    let (stranger, _) = certificate(dir.path(), "stranger", &["localhost"], false);
    let server = OpensslServer::start(&cert, &key);
    let addr = format!("tls://localhost:{}", server.port);
    // The system's store, as rustls-native-certs reads it, is the stranger alone.
    let out = client(&[&addr], &[("SSL_CERT_FILE", &stranger)]);
    refused_because(&out, "not signed by an authority this machine trusts");
    refused_because(&out, "--ca FILE");
}

#[test]
fn a_clear_text_server_is_named_as_such() {
    let dir = TempDir::new("tls-clear");
    let (cert, _) = certificate(dir.path(), "any", &["localhost"], false);
    let server = Server::start();
    let addr = format!("tls://{}", server.addr);
    let out = client(&[&addr, "--ca", cert.to_str().unwrap()], &[]);
    refused_because(&out, "the server did not answer in TLS");
}

#[test]
fn tls_chats_through_the_real_server_with_a_clear_user() {
    let dir = TempDir::new("tls-real");
    let (cert, key) = certificate(dir.path(), "localhost", &["localhost"], false);
    let server = Server::builder()
        .args(["--tls-cert", cert.to_str().unwrap()])
        .args(["--tls-key", key.to_str().unwrap()])
        .start();
    let mut bob = server.login("bob");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reactor-chat-client"))
        .arg(format!("tls://localhost:{}", server.addr.port()))
        .arg("--ca")
        .arg(&cert)
        .args(["--name", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    bob.expect_stamped("* alice joined");
    let mut stdin = child.stdin.take().unwrap();
    use std::io::Write;
    stdin
        .write_all("안녕 from inside TLS\n".as_bytes())
        .unwrap();
    bob.expect_stamped("alice: 안녕 from inside TLS");
    bob.send("welcome");
    let out = child.stdout.take().unwrap();
    let line = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.ends_with("bob: welcome"));
    assert!(line.is_some());
    drop(stdin); // the end of input: the client quits
    assert!(child.wait().unwrap().success());
}
