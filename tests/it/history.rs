//! Chat history through the real binary: it survives restarts and crashes, `/history` by count
//! and by date, `/search`, the backlog on login and `/join`, retention, and `--no-history`.
//! Every server here gets its own temporary `--data-dir`, or a `STATE_DIRECTORY` standing for it.

use std::time::Duration;

use crate::support::{unstamp, Client, Server, TempDir};

/// A server keeping its history in `dir`, with flood control off so tests can send quickly.
fn server_in(dir: &TempDir, extra: &[&str]) -> Server {
    Server::builder()
        .args(["--data-dir", dir.path().to_str().unwrap(), "--rate", "0"])
        .args(extra.iter().copied())
        .start()
}

/// Sends `command` and returns the lines between its header (which must start with `header`)
/// and `end`, with the header itself first.
fn framed(client: &mut Client, command: &str, header: &str, end: &str) -> Vec<String> {
    client.send(command);
    let first = client.expect_prefix(header);
    let mut lines = vec![first];
    loop {
        let line = client.next_line();
        if line == end {
            return lines;
        }
        lines.push(line);
    }
}

fn history(client: &mut Client, command: &str) -> Vec<String> {
    framed(client, command, "-- History of ", "-- End of history.")
}

/// `/search WORDS` in the lobby: the header, then the lines found.
fn search(client: &mut Client, words: &str) -> Vec<String> {
    framed(
        client,
        &format!("/search {words}"),
        "-- Search of lobby for ",
        "-- End of search.",
    )
}

/// The part of a history line after its `[HH:MM] ` or `[YYYY-MM-DD HH:MM] ` stamp.
fn text_of(line: &str) -> &str {
    if let Some(rest) = unstamp(line) {
        return rest;
    }
    match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((stamp, rest)) if stamp.len() == 16 => rest,
        _ => line,
    }
}

/// SIGTERM and wait for a clean exit: everything queued must be committed by then.
fn stop(mut server: Server) {
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
}

const NASTY: &[&str] = &[
    "it's \"quoted\"; DROP TABLE lines; --",
    "'); DELETE FROM lines WHERE 1=1; --",
    "안녕하세요, 여러분! 내일 서울에서 만나요",
];

#[test]
fn history_survives_a_restart_verbatim_and_greets_with_a_backlog() {
    let dir = TempDir::new("history-restart");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    for text in NASTY {
        alice.send(text);
        bob.expect_stamped(&format!("alice: {text}"));
    }
    alice.send("/me waves");
    bob.expect_stamped("* alice waves");
    stop(server);

    let server = server_in(&dir, &[]);
    let mut carol = server.connect();
    carol.login("carol");
    // The welcome is followed by the last lines of the room.
    let header = carol.next_line();
    assert!(
        header.starts_with("-- Recent lines in lobby (") && header.ends_with(" lines):"),
        "{header:?}\n{}",
        carol.transcript()
    );
    let mut backlog = Vec::new();
    loop {
        let line = carol.next_line();
        if line == "-- End of recent lines." {
            break;
        }
        backlog.push(text_of(&line).to_string());
    }
    assert!(
        backlog.contains(&format!("alice: {}", NASTY[2])),
        "{backlog:?}"
    );

    let lines = history(&mut carol, "/history");
    let texts: Vec<&str> = lines[1..].iter().map(|l| text_of(l)).collect();
    for text in NASTY {
        let want = format!("alice: {text}");
        assert!(texts.contains(&want.as_str()), "{want:?} not in {lines:#?}");
    }
    assert!(texts.contains(&"* alice waves"), "{lines:#?}");
    assert!(
        texts.contains(&"* bob joined"),
        "presence is history too: {lines:#?}"
    );
    drop(server);
}

#[test]
fn without_a_data_dir_the_history_is_kept_in_systemds_state_directory() {
    let dir = TempDir::new("history-state-directory");
    let state = dir.path().join("state");
    let other = dir.path().join("other");
    // StateDirectory=reactor-chat other: systemd lists both, and the first is the data dir.
    let value = format!("{}:{}", state.display(), other.display());
    let start = || {
        Server::builder()
            .env("STATE_DIRECTORY", &value)
            .args(["--rate", "0"])
            .start()
    };
    let server = start();
    server.wait_for_log(&format!("file={}", state.join("history.sqlite3").display()));
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    alice.send("kept in the state directory");
    bob.expect_stamped("alice: kept in the state directory");
    stop(server);
    assert!(state.join("history.sqlite3").is_file());
    assert!(!other.exists(), "only the first directory is used");

    let server = start();
    let mut carol = server.login("carol");
    let _ = carol.sync();
    let lines = history(&mut carol, "/history");
    assert!(
        lines
            .iter()
            .any(|l| text_of(l) == "alice: kept in the state directory"),
        "{lines:#?}"
    );
}

#[test]
fn history_by_count_and_by_date_with_dates_on_older_lines() {
    let dir = TempDir::new("history-dates");
    // Two days ago (the clock offset shifts what the chat core believes the time is).
    let server = server_in(&dir, &["--utc", "--clock-offset", "-172800"]);
    let mut alice = server.login("alice");
    for i in 0..5 {
        alice.send(&format!("old line {i}"));
    }
    alice.sync();
    stop(server);
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).date_naive();
    let old_day = two_days_ago.format("%Y-%m-%d").to_string();

    let server = server_in(&dir, &["--utc"]);
    let mut alice = server.login("alice");
    let _ = alice.sync();
    alice.send("new line");
    alice.sync();
    let lines = history(&mut alice, "/history 3");
    assert_eq!(lines[0], "-- History of lobby (3 lines):", "{lines:#?}");
    assert!(lines[1].starts_with(&format!("[{old_day} ")), "{lines:#?}");
    assert_eq!(text_of(&lines[1]), "alice: old line 4");
    assert!(
        unstamp(&lines[3]).is_some(),
        "today's lines have no date: {lines:#?}"
    );
    assert_eq!(text_of(&lines[3]), "alice: new line");

    let day = history(&mut alice, &format!("/history {old_day}"));
    assert_eq!(
        day[0],
        format!("-- History of lobby on {old_day} (6 lines):"),
        "the five lines and alice's arrival: {day:#?}"
    );
    assert_eq!(text_of(&day[2]), "alice: old line 0");
    let empty = history(&mut alice, "/history 2001-02-03");
    assert_eq!(empty, ["-- History of lobby on 2001-02-03 (0 lines):"]);

    alice.send("/history 2024-02-30");
    alice.expect_prefix("! bad-date: ");
    alice.send("/history 0");
    alice.expect_prefix("! usage: /history");
    drop(server);
}

#[test]
fn search_finds_words_newest_first_and_takes_any_input() {
    let dir = TempDir::new("history-search");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    for text in [
        "deploy the release tonight",
        "lunch?",
        "the release is out",
        NASTY[0],
        NASTY[2],
    ] {
        alice.send(text);
    }
    alice.sync();
    let found = search(&mut alice, "release");
    assert_eq!(
        found[0],
        "-- Search of lobby for \"release\" (2 lines, newest first):"
    );
    assert_eq!(text_of(&found[1]), "alice: the release is out");
    assert_eq!(text_of(&found[2]), "alice: deploy the release tonight");
    assert_eq!(
        search(&mut alice, "서울").len(),
        2,
        "a Korean word finds its line"
    );
    // FTS5 syntax typed by a user is text, never an error.
    for words in ["\"quoted\"; DROP", "NEAR( OR -x", "*", "\"", "--"] {
        let found = search(&mut alice, words);
        assert!(
            found[0].starts_with("-- Search of lobby for "),
            "{found:#?}"
        );
    }
    let found = search(&mut alice, "\"quoted\"; DROP");
    assert_eq!(text_of(&found[1]), format!("alice: {}", NASTY[0]));
    alice.send("/search");
    alice.expect_prefix("! usage: /search");
    drop(server);
}

#[test]
fn search_from_a_user_finds_only_their_lines() {
    let dir = TempDir::new("history-search-from");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("the release is out");
    bob.send("release notes are up");
    bob.send("lunch?");
    alice.send("bob said release");
    alice.sync();
    bob.sync();
    let found = search(&mut alice, "from:bob");
    assert_eq!(
        found[0],
        "-- Search of lobby for lines from bob (2 lines, newest first):"
    );
    let texts: Vec<&str> = found[1..].iter().map(|l| text_of(l)).collect();
    assert_eq!(texts, ["bob: lunch?", "bob: release notes are up"]);
    let found = search(&mut alice, "release from:BOB");
    assert_eq!(
        found[0],
        "-- Search of lobby for \"release\" from BOB (1 line, newest first):"
    );
    assert_eq!(text_of(&found[1]), "bob: release notes are up");
    // The sender's name is not a word of the text: alice's line naming bob is not his.
    assert_eq!(search(&mut alice, "from:bob said").len(), 1);
    assert_eq!(search(&mut alice, "from:carol").len(), 1);
    alice.send("/search from:");
    alice.expect_prefix("! usage: /search");
    drop(server);
}

#[test]
fn joining_a_room_shows_its_backlog() {
    let dir = TempDir::new("history-join");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    alice.send("/join games");
    alice.expect_prefix("-- 1 user in games");
    alice.send("only in games");
    alice.send("/part");
    alice.expect_prefix("-- 1 user in lobby");
    let mut bob = server.login("bob");
    bob.send("/join games");
    // Messages first; the comings and goings among them folded into one line at the end.
    bob.expect_exact("-- Recent lines in games (2 lines):");
    bob.expect_where("alice's line", |l| text_of(l) == "alice: only in games");
    bob.expect_where("alice's arrival and departure", |l| {
        text_of(l) == "* 1 joined (alice); 1 left (alice); 1 here"
    });
    bob.expect_exact("-- End of recent lines.");
    drop(server);
}

#[test]
fn kill_9_loses_nothing_acknowledged_longer_than_flush_ms_ago() {
    const LINES: usize = 300;
    let dir = TempDir::new("history-kill");
    let server = server_in(&dir, &["--flush-ms", "100"]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    let batch: String = (0..LINES).map(|i| format!("line {i}\n")).collect();
    alice.write_raw(batch.as_bytes()).unwrap();
    // Acknowledged: the room has every line.
    bob.expect_stamped(&format!("alice: line {}", LINES - 1));
    // The durability promise is about time: wait well past --flush-ms, then crash. Well past:
    // with the whole suite running on two cores the storage thread (at a lower priority) and
    // the disk's fsync can each lag by hundreds of milliseconds, and this test checks what is
    // lost, not how fast it is stored.
    std::thread::sleep(Duration::from_secs(2));
    server.signal("KILL");
    drop(server);

    let server = server_in(&dir, &[]);
    let mut carol = server.login("carol");
    let lines = history(&mut carol, "/history 500");
    let survived = lines
        .iter()
        .filter(|l| text_of(l).starts_with("alice: line "))
        .count();
    assert_eq!(survived, LINES, "{lines:#?}");
    drop(server);
}

#[test]
fn retention_prunes_old_lines_at_start() {
    let dir = TempDir::new("history-prune");
    let server = server_in(&dir, &["--clock-offset", "-864000"]); // ten days ago
    let mut alice = server.login("alice");
    alice.send("ancient words");
    alice.sync();
    stop(server);
    let server = server_in(&dir, &["--history-days", "3"]);
    server.wait_for_log("pruned");
    let mut bob = server.login("bob");
    let lines = history(&mut bob, "/history");
    assert!(
        !lines.iter().any(|l| l.contains("ancient words")),
        "{lines:#?}"
    );
    drop(server);
}

#[test]
fn without_history_the_commands_say_so() {
    let server = Server::builder().arg("--no-history").start();
    let mut alice = server.login("alice");
    alice.send("/history");
    alice.expect_exact("! history-off: this server keeps no history");
    alice.send("/search x");
    alice.expect_exact("! history-off: this server keeps no history");
    alice.expect_quiet();
}

/// The server's CPU time (all threads) from /proc, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// With nothing to store the storage thread sleeps: it once spun on a deadline in the past when
/// no retention was set, taking a core from the relay. Not a speed limit: a sleeping server uses
/// next to no CPU on any machine, a spinning one a second per second of idling.
#[test]
fn an_idle_server_with_history_sleeps() {
    let dir = TempDir::new("history-idle");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    alice.send("hello");
    alice.sync();
    std::thread::sleep(Duration::from_millis(500)); // the batch commits
    let before = cpu_ticks(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(server.pid()) - before;
    // 2 s of idling is 200 ticks when spinning; allow a few for timers and the sweep.
    assert!(used < 40, "an idle server used {used} ticks of CPU in 2 s");
}

#[test]
fn a_scripts_backlogs_arrive_in_the_order_of_its_lines() {
    let dir = TempDir::new("history-order");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    alice.send("something to read");
    alice.sync();
    // As `printf 'dave\n/join dev\n/users\n' | nc -N` would: everything in one write.
    let mut dave = server.connect();
    dave.send_raw(b"dave\n/join dev\n/users\n");
    dave.expect_exact("-- Recent lines in lobby (2 lines):");
    dave.expect_next("alice's line", |l| text_of(l) == "alice: something to read");
    dave.expect_next("alice's arrival, folded", |l| {
        text_of(l) == "* 1 joined (alice); 2 here"
    });
    dave.expect_next("the end", |l| l == "-- End of recent lines.");
    // Only then the /join's reply, and /users after it: nothing waited for the disk.
    dave.expect_next("the /join", |l| l == "-- You are now in room dev.");
    dave.expect_where("the /users reply", |l| l.starts_with("-- 1 user in dev"));
    drop(server);
}

#[test]
fn a_reconnect_shows_the_room_as_it_was_left_then_what_was_missed() {
    let dir = TempDir::new("history-resume");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("before bob left");
    bob.expect_stamped("alice: before bob left");
    let key = bob.resume_key.clone().unwrap();
    bob.drop_connection();
    alice.expect_stamped("* bob lost the connection (connection closed)");
    alice.send("while bob was away");
    let mut back = server.connect();
    back.send(&format!("bob {key}"));
    back.expect_prefix("-- Welcome back, bob!");
    back.expect_prefix("-- Recent lines in lobby");
    back.expect_where("the line before", |l| {
        text_of(l) == "alice: before bob left"
    });
    back.expect_exact("-- End of recent lines.");
    back.expect_exact("-- You missed 1 line:");
    back.expect_stamped("alice: while bob was away");
    drop(server);
}

/// `reactor-chat --data-dir DATA backup COPY`, run to its end.
pub(crate) fn backup(data: &std::path::Path, copy: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        .arg("--data-dir")
        .arg(data)
        .arg("backup")
        .arg(copy)
        .output()
        .unwrap()
}

#[test]
fn a_backup_taken_while_chatting_restores_into_a_server_that_starts_on_it() {
    let dir = TempDir::new("history-backup");
    let server = server_in(&dir, &["--flush-ms", "20"]);
    let mut alice = server.login("alice");
    for i in 0..50 {
        alice.send(&format!("before the backup {i}"));
    }
    alice.sync();
    std::thread::sleep(Duration::from_millis(200)); // past --flush-ms: on disk
                                                    // The backup runs while alice keeps talking.
    let copy = dir.path().join("backup.sqlite3");
    let talker = std::thread::spawn(move || {
        for i in 0..200 {
            alice.send(&format!("during the backup {i}"));
        }
        alice
    });
    let out = backup(dir.path(), &copy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: usize = said
        .strip_prefix("backed up ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(lines >= 51, "{said}"); // the join and the 50 lines before the backup at least
    drop(talker.join().unwrap());
    // A second backup to the same file is refused rather than overwriting it.
    let again = backup(dir.path(), &copy);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    stop(server);
    // Restore: the copy as the history file of a fresh data directory.
    let restored = TempDir::new("history-restored");
    std::fs::copy(&copy, restored.path().join("history.sqlite3")).unwrap();
    let server = server_in(&restored, &[]);
    let mut bob = server.login("bob");
    let lines = history(&mut bob, "/history 500");
    for i in [0, 49] {
        let line = format!("alice: before the backup {i}");
        assert!(
            lines.iter().any(|l| text_of(l) == line),
            "{line} missing: {lines:#?}"
        );
    }
    drop(server);
}

/// The history counters on `/metrics`.
fn history_metrics(server: &Server) -> std::collections::HashMap<String, f64> {
    let (status, _, body) = crate::web::http(server, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, 200);
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("reactor_chat_history_"))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// The history counters once `done` holds of them, or after 10 s (the caller's asserts then
/// say what they were).
fn wait_for_metrics(
    server: &Server,
    done: impl Fn(&std::collections::HashMap<String, f64>) -> bool,
) -> std::collections::HashMap<String, f64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = history_metrics(server);
        if done(&m) || std::time::Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// 300 lines, "line {i} about needle" at i = 7, 57 .. 257 and "about hay" between (three blocks'
/// worth: two full, the rest in the open one).
fn send_needles(client: &mut Client) {
    for i in 0..300 {
        client.send(&format!(
            "line {i} about {}",
            if i % 50 == 7 { "needle" } else { "hay" }
        ));
    }
    client.sync();
}

#[test]
fn hundreds_of_lines_fill_blocks_that_are_searchable_at_once_and_counted_on_metrics() {
    let dir = TempDir::new("history-blocks");
    let server = server_in(&dir, &[]);
    let mut alice = server.login("alice");
    // At this pace the two full blocks are indexed at once.
    send_needles(&mut alice);
    let found = search(&mut alice, "needle");
    let texts: Vec<&str> = found[1..].iter().map(|l| text_of(l)).collect();
    assert_eq!(
        texts,
        [257, 207, 157, 107, 57, 7].map(|i| format!("alice: line {i} about needle"))
    );
    // Every line committed within --flush-ms, nothing left waiting or dropped.
    let metrics = wait_for_metrics(&server, |m| {
        m["reactor_chat_history_stored_lines_total"] >= 301.0
    });
    // alice's join and her 300 lines.
    assert_eq!(
        metrics["reactor_chat_history_stored_lines_total"], 301.0,
        "{metrics:?}"
    );
    assert_eq!(
        metrics["reactor_chat_history_waiting_lines"], 0.0,
        "{metrics:?}"
    );
    assert_eq!(
        metrics["reactor_chat_history_unindexed_lines"], 0.0,
        "{metrics:?}"
    );
    assert_eq!(
        metrics["reactor_chat_history_dropped_lines_total"], 0.0,
        "{metrics:?}"
    );
    assert!(
        metrics.contains_key("reactor_chat_history_cpu_seconds_total"),
        "{metrics:?}"
    );
    stop(server);
    // After a restart the open block goes on from its pieces, in order.
    let server = server_in(&dir, &[]);
    let mut bob = server.login("bob");
    bob.send("after the restart, a needle");
    bob.sync();
    let all = history(&mut bob, "/history 400");
    let texts: Vec<&str> = all[1..].iter().map(|l| text_of(l)).collect();
    let said: Vec<&&str> = texts.iter().filter(|t| t.contains(": ")).collect();
    assert_eq!(said.len(), 301, "{texts:#?}");
    assert_eq!(*said[0], "alice: line 0 about hay");
    assert_eq!(*said[299], "alice: line 299 about hay");
    assert_eq!(*said[300], "bob: after the restart, a needle");
    let found = search(&mut bob, "needle");
    assert_eq!(text_of(&found[1]), "bob: after the restart, a needle");
    assert_eq!(found.len(), 8);
}

#[test]
fn a_burst_leaves_indexing_for_later_and_search_finds_every_line_meanwhile() {
    let dir = TempDir::new("history-burst");
    // Any rate above one line a second counts as a burst here, and indexing waits for its end.
    let server = server_in(&dir, &["--index-defer-above", "1"]);
    let mut alice = server.login("alice");
    send_needles(&mut alice);
    let m = wait_for_metrics(&server, |m| {
        m["reactor_chat_history_stored_lines_total"] >= 301.0
    });
    // Two full blocks wait for the index; /search reads them directly.
    assert_eq!(m["reactor_chat_history_unindexed_lines"], 256.0, "{m:?}");
    assert_eq!(search(&mut alice, "needle").len(), 7);
    // Once a second or two passes without a burst, they are indexed.
    let m = wait_for_metrics(&server, |m| {
        m["reactor_chat_history_unindexed_lines"] == 0.0
    });
    assert_eq!(m["reactor_chat_history_unindexed_lines"], 0.0, "{m:?}");
    assert_eq!(search(&mut alice, "needle").len(), 7);
    drop(server);
    // --max-unindexed 100: past it, blocks are indexed during the burst too.
    let dir = TempDir::new("history-burst-cap");
    let server = server_in(
        &dir,
        &["--index-defer-above", "1", "--max-unindexed", "100"],
    );
    let mut bob = server.login("bob");
    send_needles(&mut bob);
    let m = wait_for_metrics(&server, |m| {
        m["reactor_chat_history_stored_lines_total"] >= 301.0
    });
    assert!(m["reactor_chat_history_unindexed_lines"] <= 128.0, "{m:?}");
}
