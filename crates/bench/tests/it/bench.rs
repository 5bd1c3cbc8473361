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

/// The address of the server's second chat listener, `[::1]:PORT`, from its log: the harness
/// reads only the first address it prints.
fn ipv6_listener(server: &Server) -> String {
    server.wait_for_log("address=[::1]:");
    let log = server.log();
    let at = log.find("address=[::1]:").expect("logged") + "address=".len();
    log[at..]
        .split_whitespace()
        .next()
        .expect("an address")
        .to_string()
}

/// Two addresses of one server stand for two nodes of a cluster: every client reaches every
/// other whichever address it connected to, so nothing may be lost, and the report names both
/// addresses with the clients each got.
#[test]
fn the_bench_spreads_its_clients_over_every_address_given() {
    let server = Server::builder()
        .args(["--bind", "[::1]:0", "--rate", "0"])
        .start();
    let (v4, v6) = (server.addr.to_string(), ipv6_listener(&server));
    let pid = server.pid().to_string();
    let report = bench(&["--addr", &v4, "--addr", &v6, "--server-pid", &pid]);
    assert_every_message_accounted_for(&report);
    assert_eq!(
        report["server"]["addr"],
        format!("{v4}, {v6}"),
        "{report:#}"
    );
    let addresses = report["server"]["addresses"].as_array().expect("addresses");
    let spread: Vec<(&str, u64, u64)> = addresses
        .iter()
        .map(|a| {
            let figure = |name: &str| a[name].as_u64().expect(name);
            (
                a["addr"].as_str().unwrap(),
                figure("clients"),
                figure("logged_in"),
            )
        })
        .collect();
    assert_eq!(
        spread,
        [(v4.as_str(), 10, 10), (v6.as_str(), 10, 10)],
        "{report:#}"
    );
    // The server saw them come in on both listeners, not only the bench count them so.
    let from_v6 = server.log().matches("msg=connection peer=[::1]:").count();
    assert_eq!(from_v6, 10, "{}", server.log());
    // One process behind both: its figures are the report's, as with one address.
    assert_eq!(report["server"]["pid"], server.pid(), "{report:#}");
    assert_eq!(report["server_processes"], Value::Null, "{report:#}");
}

#[test]
fn several_addresses_are_refused_with_a_spawned_server() {
    let stderr = refusal(&["--spawn-server", "reactor-chat", "--addr", "127.0.0.1:2"]);
    assert!(
        stderr.contains("--spawn-server starts one server"),
        "{stderr}"
    );
}

/// Two separate servers, each with its pid: each one's CPU and memory, and their sum. Nobody
/// sends: two servers that are not one cluster share no room, so their lines would be lost.
#[test]
fn the_bench_reports_every_server_pid_given_and_their_sum() {
    let (a, b) = (Server::start(), Server::start());
    let (addr_a, addr_b) = (a.addr.to_string(), b.addr.to_string());
    let (pid_a, pid_b) = (a.pid().to_string(), b.pid().to_string());
    let report = run_bench(
        &[
            "--addr",
            &addr_a,
            "--addr",
            &addr_b,
            "--server-pid",
            &pid_a,
            "--server-pid",
            &pid_b,
        ],
        &[
            "--clients",
            "5",
            "--senders",
            "0",
            "--warmup",
            "0s",
            "--duration",
            "300ms",
        ],
    );
    assert_eq!(report["connections"], 5, "{report:#}");
    assert_eq!(report["server"]["pid"], Value::Null, "{report:#}");
    assert_eq!(
        report["server"]["pids"],
        serde_json::json!([a.pid(), b.pid()]),
        "{report:#}"
    );
    let clients: Vec<u64> = report["server"]["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| a["logged_in"].as_u64().unwrap())
        .collect();
    assert_eq!(clients, [3, 2], "{report:#}");
    let processes = report["server_processes"].as_array().expect("each process");
    let rss = |figures: &Value| figures["rss_kib"].as_u64().unwrap();
    assert_eq!(processes.len(), 2, "{report:#}");
    assert_eq!(processes[1]["pid"], b.pid(), "{report:#}");
    assert_eq!(
        rss(&report["server_memory"]),
        rss(&processes[0]["memory"]) + rss(&processes[1]["memory"]),
        "{report:#}"
    );
    let cpu = |figures: &Value| figures.as_f64().expect("a CPU figure");
    let sum = cpu(&processes[0]["cpu_pct"]) + cpu(&processes[1]["cpu_pct"]);
    assert!(
        (cpu(&report["server_cpu_pct"]) - sum).abs() < 1e-6,
        "{report:#}"
    );
}
