//! The load generator, run as users run it: `reactor-chat-bench --spawn-server`, against the real
//! server and against Redis pub/sub (`--redis`), short and small, its JSON report checked. These
//! prove the bench counts what it should (every message accounted for, the server's flags
//! reported), not how fast anything is: speed is BENCHMARKS.md's business.

use std::process::Command;

use reactor_chat_testkit::{bin, SERVER};
use serde_json::Value;

/// Runs the bench with `args` plus a short unpaced load, and returns its JSON report.
fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat-bench"))
        .args(args)
        .args([
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
            "--json",
            "--quiet",
        ])
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
