//! The load generator, run as users run it: `reactor-chat-bench --spawn-server`, against the real
//! server and against Redis pub/sub (`--redis`), short and small, its JSON report checked. These
//! prove the bench counts what it should (every message accounted for, the server's flags
//! reported), not how fast anything is: speed is BENCHMARKS.md's business.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use reactor_chat_testkit::{bin, Server, TempDir, SERVER};
use serde_json::Value;

/// Runs the bench with `args` plus a short unpaced load, and returns its JSON report.
fn bench(args: &[&str]) -> Value {
    run_bench(
        args,
        &[
            "--clients",
            "20",
            "--rate",
            "0",
            "--inflight",
            "4",
            "--warmup",
            "200ms",
            "--duration",
            "1s",
        ],
    )
}

/// Runs the bench with `args` then `load`, in JSON and quiet, and returns its report.
fn run_bench(args: &[&str], load: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat-bench"))
        .args(args)
        .args(load)
        .args(["--json", "--quiet"])
        .output()
        .expect("run reactor-chat-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Every client got in, messages flowed, and none was lost, duplicated or reordered.
fn assert_every_message_accounted_for(report: &Value) {
    assert_eq!(report["connections"], 20, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["first_error"], Value::Null, "{report:#}");
    for field in ["lost", "duplicated", "out_of_order", "ack_timeouts"] {
        assert_eq!(report[field], 0, "{field}: {report:#}");
    }
    let sent = report["sent"].as_u64().unwrap();
    let delivered = report["delivered"].as_u64().unwrap();
    assert!(sent > 0, "{report:#}");
    // 20 clients in one room: every message reaches the 19 others, each exactly once.
    assert_eq!(delivered, sent * 19, "{report:#}");
    assert!(
        report["window_delivered"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(
        report["latency_us"]["count"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(report["server_cpu_pct"].as_f64().is_some(), "{report:#}");
    let steal = report["host_steal_pct"].as_f64().expect("host steal share");
    assert!((0.0..=100.0).contains(&steal), "{report:#}");
}

#[test]
fn the_bench_loads_reactor_chat_and_accounts_for_every_message() {
    let server = bin(SERVER);
    let report = bench(&["--spawn-server", server.to_str().unwrap()]);
    assert_every_message_accounted_for(&report);
    assert_eq!(report["scenario"]["protocol"], "reactor-chat");
    let flags = report["server"]["flags"].to_string();
    assert!(flags.contains(r#""--rate","0""#), "{flags}");
    // The server stores history: its storage thread's figures over the window, from /metrics
    // and from /proc.
    let history = &report["history"];
    assert!(history["stored"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(history["dropped"], 0, "{report:#}");
    assert!(history["us_per_line"].as_f64().is_some(), "{report:#}");
    assert!(
        report["storage_thread_cpu_pct"].as_f64().is_some(),
        "{report:#}"
    );
}

/// Needs redis-server (scripts/test.sh installs it).
#[test]
fn the_bench_drives_redis_pub_sub_the_same_way() {
    let redis = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("redis-server is not installed: scripts/test.sh installs it");
    let report = bench(&["--redis", "--spawn-server", redis]);
    assert_every_message_accounted_for(&report);
    assert_eq!(report["scenario"]["protocol"], "redis");
    let flags = report["server"]["flags"].to_string();
    assert!(flags.contains(r#""--save","""#), "{flags}");
}

/// A self-signed certificate for `localhost` (rcgen's default key, ECDSA P-256) written as
/// cert.pem and key.pem in `dir`, as the server's own TLS tests make theirs.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let paths = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&paths.0, cert.pem()).unwrap();
    std::fs::write(&paths.1, key.serialize_pem()).unwrap();
    paths
}

/// The server's count of completed TLS handshakes, from `/metrics` asked in clear text.
fn server_handshakes(addr: SocketAddr) -> u64 {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(reactor_chat_testkit::WAIT))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body.lines()
        .find_map(|l| l.strip_prefix("reactor_chat_tls_handshakes_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no TLS handshake count in /metrics:\n{body}")) as u64
}

#[test]
fn the_bench_loads_reactor_chat_over_tls_trusting_the_given_certificate() {
    let dir = TempDir::new("bench-tls");
    let (cert, key) = certificate(dir.path());
    let server = Server::builder()
        .args(["--tls-cert", cert.to_str().unwrap()])
        .args(["--tls-key", key.to_str().unwrap()])
        .args(["--rate", "0"])
        .start();
    let (addr, pid) = (server.addr.to_string(), server.pid().to_string());
    let report = bench(&[
        "--addr",
        &addr,
        "--server-pid",
        &pid,
        "--tls",
        "--ca",
        cert.to_str().unwrap(),
    ]);
    assert_every_message_accounted_for(&report);
    assert_eq!(report["scenario"]["tls"], true, "{report:#}");
    // Every client went through TLS: the server finished a handshake for each.
    assert!(server_handshakes(server.addr) >= 20, "{}", server.log());
}

#[test]
fn the_handshakes_preset_completes_full_handshakes_with_a_certificate_it_made() {
    let server = bin(SERVER);
    let report = run_bench(
        &["--spawn-server", server.to_str().unwrap(), "--tls"],
        &[
            "--preset",
            "handshakes",
            "--inflight",
            "8",
            "--warmup",
            "200ms",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["first_error"], Value::Null, "{report:#}");
    assert!(report["handshakes"].as_u64().unwrap() > 0, "{report:#}");
    assert!(
        report["server_cpu_us_per_handshake"].as_f64().unwrap() > 0.0,
        "{report:#}"
    );
    let flags = report["server_flags"].to_string();
    assert!(flags.contains("--tls-cert"), "{flags}");
}

#[test]
fn redis_mode_refuses_tls_and_says_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat-bench"))
        .args(["--redis", "--tls", "--addr", "127.0.0.1:1"])
        .output()
        .expect("run reactor-chat-bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--redis does not take --tls"), "{stderr}");
}

/// The bench's error for `flags`, which it must refuse before connecting anywhere.
fn refusal(flags: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat-bench"))
        .args(flags)
        .args(["--addr", "127.0.0.1:1"])
        .output()
        .expect("run reactor-chat-bench");
    assert!(!out.status.success(), "{flags:?} was not refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn irc_mode_refuses_redis_files_and_tls_and_says_why() {
    let stderr = refusal(&["--proto", "irc", "--redis"]);
    assert!(stderr.contains("--proto irc speaks IRC"), "{stderr}");
    let stderr = refusal(&["--proto", "irc", "--files", "5"]);
    assert!(stderr.contains("IRC servers relay no files"), "{stderr}");
    let stderr = refusal(&["--proto", "irc", "--preset", "filefanout"]);
    assert!(stderr.contains("IRC servers relay no files"), "{stderr}");
    let stderr = refusal(&["--proto", "irc", "--tls"]);
    assert!(stderr.contains("clear text only"), "{stderr}");
    let stderr = refusal(&["--proto", "irc", "--size", "1000"]);
    assert!(stderr.contains("512"), "{stderr}");
    let stderr = refusal(&["--proto", "smtp"]);
    assert!(stderr.contains("irc"), "the choices are named: {stderr}");
}
