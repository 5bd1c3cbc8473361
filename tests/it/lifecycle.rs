//! The server's life: start-up, the activity log, `--help`, file descriptors, and graceful
//! shutdown on SIGTERM and SIGINT.

use std::process::Command;
use std::time::Duration;

use crate::support::{Client, Server, TempDir};

#[test]
fn sigterm_tells_everyone_flushes_and_exits_zero() {
    shutdown_on("TERM");
}

#[test]
fn sigint_tells_everyone_flushes_and_exits_zero() {
    shutdown_on("INT");
}

fn shutdown_on(signal: &str) {
    let mut server = Server::builder().args(["--rate", "0"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut lurker = server.connect(); // not logged in: told too
    lurker.expect_prefix("-- Welcome to reactor-chat!");
    // Queue a lot for bob right before the signal: it is all flushed before the goodbye.
    let batch: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    alice.write_raw(batch.as_bytes()).unwrap();
    bob.expect_stamped("alice: line 0");
    server.signal(signal);
    bob.expect_stamped("alice: line 1999");
    bob.expect_exact("-- bye reconnect: server shutting down");
    bob.expect_closed();
    alice.expect_exact("-- bye reconnect: server shutting down");
    alice.expect_closed();
    lurker.expect_exact("-- bye reconnect: server shutting down");
    lurker.expect_closed();
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    let log = server.log();
    assert!(
        log.contains(&format!(
            "msg=\"shutting down\" signal=SIG{signal} connections=3"
        )),
        "{log}"
    );
    // Every line is key=value fields, starting with an RFC 3339 time that has its offset.
    for line in log.lines() {
        let (time, rest) = line
            .strip_prefix("time=")
            .and_then(|l| l.split_once(' '))
            .unwrap_or_else(|| panic!("not a logfmt line: {line}"));
        assert!(is_rfc3339_with_offset(time), "{line}");
        assert!(
            rest.starts_with("level=") && rest.contains(" msg="),
            "{line}"
        );
    }
}

/// `2026-12-03T13:51:08.217+09:00`: a date, a time and an explicit offset.
fn is_rfc3339_with_offset(time: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(time).is_ok()
        && time.len() > 6
        && matches!(time.as_bytes()[time.len() - 6], b'+' | b'-')
}

#[test]
fn log_format_json_writes_one_object_per_line_with_the_events_fields() {
    let mut server = Server::builder().args(["--log-format", "json"]).start();
    let mut alice = server.login("alice");
    alice.send("/quit see you");
    alice.expect_closed();
    server.wait_for_log("\"msg\":\"quit\"");
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
    let log = server.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for line in &lines {
        assert!(
            is_rfc3339_with_offset(line["time"].as_str().unwrap()),
            "{line}"
        );
        assert!(
            line["level"].is_string() && line["msg"].is_string(),
            "{line}"
        );
    }
    let quit = lines.iter().find(|l| l["msg"] == "quit").unwrap();
    assert_eq!(quit["nick"], "alice");
    assert_eq!(quit["message"], "see you");
    let shutdown = lines.iter().find(|l| l["msg"] == "shutting down").unwrap();
    assert_eq!(shutdown["signal"], "SIGTERM");
    assert!(shutdown["connections"].is_u64(), "{shutdown}");
    // The statistics at the end are fields too, numbers in JSON.
    let stopped = lines.iter().find(|l| l["msg"] == "stopped").unwrap();
    assert_eq!(stopped["accepted"], 1, "{stopped}");
    assert!(stopped["bytes_in"].as_u64() > Some(0), "{stopped}");
}

#[test]
fn shutdown_does_not_wait_forever_for_a_client_that_never_reads() {
    let mut server = Server::builder()
        .args([
            "--rate",
            "0",
            "--shutdown-timeout",
            "1",
            "--max-queue",
            "100000000",
            "--soft-queue",
            "100000000",
        ])
        .start();
    let mut alice = server.login("alice");
    let stuck = {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&server.addr.into()).unwrap();
        let mut c = Client::connect_stream(socket.into());
        c.login("stuck");
        c
    };
    let batch = format!("{}\n", "z".repeat(1000)).repeat(4000);
    alice.write_raw(batch.as_bytes()).unwrap();
    alice.sync();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    drop(stuck);
}

#[test]
fn the_activity_log_goes_to_the_log_file_too() {
    let dir = TempDir::new("log");
    let path = dir.path().join("activity.log");
    let server = Server::builder()
        .args(["--log-file", path.to_str().unwrap()])
        .start();
    let mut alice = server.login("alice");
    alice.send("/quit");
    alice.expect_closed();
    server.wait_for_log("msg=quit nick=alice");
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("msg=\"logged in\" nick=alice") && text.contains("msg=quit nick=alice") {
            assert!(text.contains("open-files limit"), "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "log file: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let readme = include_str!("../../README.md");
    // Every flag the README's server table names is in --help, and the reverse. (The client's
    // flags have their own section and test.)
    let readme_flags: Vec<&str> = crate::support::readme_section(readme, "## Flags")
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| l[3..].split(['`', ' ']).next().unwrap())
        .collect();
    assert!(readme_flags.len() > 20, "{readme_flags:?}");
    crate::support::assert_flags_documented(&help, &readme_flags);
}

#[test]
fn file_descriptors_return_to_baseline_after_clients_leave() {
    let server = Server::builder().args(["--linger-ms", "100"]).start();
    let _first = server.login("first");
    let baseline = server.open_fds();
    let mut clients: Vec<Client> = (0..50).map(|i| server.login(&format!("c{i}"))).collect();
    assert!(server.open_fds() >= baseline + 50);
    for (i, c) in clients.drain(..).enumerate() {
        if i % 2 == 0 {
            let mut c = c;
            c.send("/quit");
            c.expect_closed();
        } else {
            c.reset();
        }
    }
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    while server.open_fds() > baseline {
        assert!(
            std::time::Instant::now() < deadline,
            "{} descriptors open, baseline {baseline}",
            server.open_fds()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A script that writes its lines and shuts down its sending side
/// (`printf 'bot\n/users\n/quit\n' | nc -N host port`) still reads: it gets its replies, and the
/// others see what it said. Without the final write on end of input it got nothing at all.
#[test]
fn a_client_that_half_closes_still_gets_its_replies() {
    use std::io::{Read, Write};
    let server = Server::start();
    let mut watcher = server.login("watcher");
    for ending in ["/users\n/quit\n", "/users\n"] {
        let mut script = std::net::TcpStream::connect(server.addr).unwrap();
        script
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        script
            .write_all(format!("bot\nhello from a script\n{ending}").as_bytes())
            .unwrap();
        script.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = String::new();
        script.read_to_string(&mut got).unwrap();
        assert!(got.contains("-- Welcome, bot!"), "{ending:?}: {got}");
        assert!(got.contains("2 users in lobby"), "{ending:?}: {got}");
        if ending.contains("/quit") {
            assert!(got.contains("-- bye final"), "{ending:?}: {got}");
        }
        watcher.expect_stamped("bot: hello from a script");
    }
}
