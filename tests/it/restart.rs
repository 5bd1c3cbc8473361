//! What survives a restart besides history: bans (until they end), room topics and their locks,
//! the generated admin key, and operators coming back with their resume keys; what `--no-history`
//! still keeps, and `--ephemeral` writing nothing at all. Each test stops a server with SIGTERM and
//! starts another on the same `--data-dir`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{Client, Server, TempDir};
use crate::web::http;

fn data_dir(dir: &TempDir) -> String {
    dir.path().join("data").display().to_string()
}

/// A server on `dir`'s data directory (the first user is operator: the harness gives
/// `--first-user-op`), with short lingers so banned connections close at once.
fn start(dir: &TempDir, extra: &[&str]) -> Server {
    Server::builder()
        .args(["--data-dir", &data_dir(dir), "--linger-ms", "100"])
        .args(extra.iter().copied())
        .start()
}

/// SIGTERM and wait for a clean exit: what was kept must be committed by then.
fn stop(mut server: Server) {
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
}

/// Logs in with `line` (a name, or a name and a resume key) and returns the welcome block
/// (through the resume key line).
pub(crate) fn welcome(server: &Server, nick: &str, line: &str) -> (Client, Vec<String>) {
    let mut c = server.connect();
    c.nick = nick.to_string();
    c.send(line);
    let mut lines = Vec::new();
    loop {
        let line = c.next_line();
        let last = line.starts_with("-- Resume key: ");
        lines.push(line);
        if last {
            return (c, lines);
        }
    }
}

/// A login from the banned address (…7) is turned away at once.
fn expect_address_banned(server: &Server) {
    let mut again = server.connect_from(7);
    again.send("innocent");
    let lines = again.expect_closed();
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("-- bye final: you are banned for ")),
        "{lines:?}"
    );
}

fn resume_key(welcome: &[String]) -> String {
    welcome
        .last()
        .and_then(|l| l.strip_prefix("-- Resume key: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the resume key line")
        .to_string()
}

fn is_op(welcome: &[String]) -> bool {
    welcome.iter().any(|l| l == "-- You are now an operator.")
}

#[test]
fn bans_by_name_and_by_address_survive_a_restart_and_still_end() {
    let dir = TempDir::new("restart-bans");
    let server = start(&dir, &[]);
    let mut alice = server.login("alice");
    let mut mallory = server.connect_from(7);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    alice.send("/ban mallory 5");
    mallory.expect_closed();
    alice.expect_stamped("* mallory was kicked by alice (banned for 5 min)");
    stop(server);

    let server = start(&dir, &[]);
    // The address: turned away at once.
    expect_address_banned(&server);
    // The name, from anywhere.
    let mut other = server.connect_from(8);
    other.send("mallory");
    other.expect_prefix("! nick-banned: mallory is banned for ");
    stop(server);

    // Five minutes later (by the wall clock the ban was kept with), both are free again.
    let server = start(&dir, &["--clock-offset", "301"]);
    let mut back = server.connect_from(7);
    back.login("mallory");
}

#[test]
fn topics_and_topic_locks_survive_an_emptied_room_and_a_restart() {
    let dir = TempDir::new("restart-topics");
    let server = start(&dir, &[]);
    let mut alice = server.login("alice");
    alice.send("/topic welcome all");
    alice.expect_stamped("* alice set the topic: welcome all");
    alice.send("/join games");
    alice.expect_exact("-- 1 user in games: alice (op)");
    alice.send("/topic chess at 8");
    alice.expect_stamped("* alice set the topic: chess at 8");
    alice.send("/topiclock on");
    alice.expect_exact("-- The topic of games is now locked.");
    // games empties and closes; its topic and lock come back with its next member.
    alice.send("/part");
    alice.expect_exact("-- 1 user in lobby: alice (op)");
    let mut bob = server.login("bob");
    bob.send("/join games");
    bob.expect_exact("-- You are now in room games.");
    bob.expect_next("the topic", |l| l == "-- Topic: chess at 8");
    bob.send("/topic anarchy");
    bob.expect_prefix("! topic-locked: the topic of games is locked");
    stop(server);

    let server = start(&dir, &[]);
    let (mut carol, lines) = welcome(&server, "carol", "carol");
    assert!(
        lines.contains(&"-- Topic: welcome all".to_string()),
        "{lines:?}"
    );
    carol.send("/join games");
    carol.expect_exact("-- You are now in room games.");
    carol.expect_next("the topic", |l| l == "-- Topic: chess at 8");
    carol.send("/topic anarchy");
    carol.expect_prefix("! topic-locked: the topic of games is locked");
    carol.send("/topic");
    carol.expect_exact("-- Topic of games: chess at 8 (set by alice)");
}

#[test]
fn max_kept_topics_forgets_the_oldest_closed_rooms_topic() {
    let dir = TempDir::new("restart-topic-limit");
    let server = start(&dir, &["--max-kept-topics", "1"]);
    let mut alice = server.login("alice");
    for room in ["first", "second"] {
        alice.send(&format!("/join {room}"));
        alice.expect_exact(&format!("-- 1 user in {room}: alice (op)"));
        alice.send(&format!("/topic all about {room}"));
        alice.expect_stamped(&format!("* alice set the topic: all about {room}"));
    }
    // Leaving second closes it: now two closed rooms have topics, one too many.
    alice.send("/part");
    alice.expect_exact("-- 1 user in lobby: alice (op)");
    server.wait_for_log("msg=\"topic forgotten (--max-kept-topics)\" room=first");
    stop(server);

    let server = start(&dir, &["--max-kept-topics", "1"]);
    let mut bob = server.login("bob");
    bob.send("/join second");
    bob.expect_exact("-- You are now in room second.");
    bob.expect_next("the topic", |l| l == "-- Topic: all about second");
    bob.send("/join first");
    bob.expect_exact("-- You are now in room first.");
    bob.expect_next("no topic", |l| l == "-- 1 user in first: bob");
}

/// `GET path` on the chat port: the status code.
fn status_of(server: &Server, path: &str) -> u16 {
    http(server, &format!("GET {path} HTTP/1.1\r\n\r\n")).0
}

#[test]
fn without_a_key_one_is_generated_private_kept_and_never_logged() {
    let dir = TempDir::new("restart-admin-key");
    let server = Server::builder()
        .args(["--data-dir", &data_dir(&dir)])
        .without_first_user_op()
        .start();
    let file = Path::new(&data_dir(&dir)).join("admin-key");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(key.len() >= 40, "{key}");
    server.wait_for_log(&format!(
        "msg=\"operators: a new admin key (/op KEY; --admin-key chooses one)\" file={}",
        file.display()
    ));
    assert!(!server.log().contains(&key), "the key is never logged");
    // Being first makes nobody an operator; the key does.
    let (mut alice, lines) = welcome(&server, "alice", "alice");
    assert!(!is_op(&lines), "{lines:?}");
    alice.send("/op nope");
    alice.expect_prefix("! bad-key: ");
    alice.send(&format!("/op {key}"));
    alice.expect_exact("-- You are now an operator.");
    assert_eq!(status_of(&server, "/status?key=nope"), 403);
    assert_eq!(status_of(&server, &format!("/status?key={key}")), 200);
    stop(server);

    let server = Server::builder()
        .args(["--data-dir", &data_dir(&dir)])
        .without_first_user_op()
        .start();
    server.wait_for_log(&format!(
        "msg=\"operators: the admin key\" file={}",
        file.display()
    ));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        key,
        "the same key after a restart"
    );
    let (mut bob, lines) = welcome(&server, "bob", "bob");
    assert!(!is_op(&lines), "{lines:?}");
    bob.send(&format!("/op {key}"));
    bob.expect_exact("-- You are now an operator.");
    stop(server);

    // A copy of the key that others can read is refused, as --admin-key-file refuses one.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        .args(["--bind", "127.0.0.1:0", "--data-dir", &data_dir(&dir)])
        .env_remove("REACTOR_CHAT_ADMIN_KEY")
        .env_remove("STATE_DIRECTORY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("others may read it"), "{err}");
}

#[test]
fn with_first_user_op_the_first_user_is_operator_without_a_key() {
    let dir = TempDir::new("restart-first-user-op");
    let server = Server::builder()
        .args(["--data-dir", &data_dir(&dir), "--first-user-op"])
        .without_first_user_op()
        .start();
    let (_alice, lines) = welcome(&server, "alice", "alice");
    assert!(is_op(&lines), "{lines:?}");
    assert!(
        !Path::new(&data_dir(&dir)).join("admin-key").exists(),
        "no key is made with --first-user-op"
    );
}

#[test]
fn an_operator_reconnecting_with_its_key_after_a_restart_is_operator_again() {
    let dir = TempDir::new("restart-grants");
    let server = start(&dir, &["--admin-key", "k1"]);
    let (mut alice, lines) = welcome(&server, "alice", "alice");
    assert!(!is_op(&lines));
    let key = resume_key(&lines);
    alice.send("/op k1");
    alice.expect_exact("-- You are now an operator.");
    stop(server);

    let server = start(&dir, &["--admin-key", "k1", "--grace", "0"]);
    // The first to take the name, without the key or with a wrong one, is no operator.
    let wrong = if key == "abcdefghjkmn" {
        "abcdefghjkmp"
    } else {
        "abcdefghjkmn"
    };
    let (mut stranger, lines) = welcome(&server, "alice", &format!("alice {wrong}"));
    assert!(!is_op(&lines), "{lines:?}");
    stranger.send("/quit");
    stranger.expect_closed();
    let (mut stranger, lines) = welcome(&server, "alice", "alice");
    assert!(!is_op(&lines), "{lines:?}");
    stranger.send("/kick nobody");
    stranger.expect_prefix("! not-operator: ");
    stranger.send("/quit");
    stranger.expect_closed();
    // The operator's client, reconnecting as `alice KEY`, is operator again with the same key.
    let (mut alice, lines) = welcome(&server, "alice", &format!("alice {key}"));
    assert!(is_op(&lines), "{lines:?}");
    assert_eq!(resume_key(&lines), key);
    alice.send("/users");
    alice.expect_exact("-- 1 user in lobby: alice (op)");
    stop(server);

    // A new admin key voids the grant.
    let server = start(&dir, &["--admin-key", "k2"]);
    let (_alice, lines) = welcome(&server, "alice", &format!("alice {key}"));
    assert!(!is_op(&lines), "{lines:?}");
}

#[test]
fn no_history_keeps_no_lines_but_still_keeps_bans() {
    let dir = TempDir::new("restart-no-history");
    let server = start(&dir, &["--no-history"]);
    let mut alice = server.login("alice");
    let mut mallory = server.connect_from(7);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    alice.send("/ban mallory 5");
    mallory.expect_closed();
    alice.send("/history");
    alice.expect_prefix("! history-off: ");
    stop(server);

    let server = start(&dir, &["--no-history"]);
    expect_address_banned(&server);
    let mut bob = server.login("bob");
    bob.send("/search mallory");
    bob.expect_prefix("! history-off: ");
}

#[test]
fn ephemeral_writes_nothing_and_logs_its_key_once() {
    let dir = TempDir::new("restart-ephemeral");
    let server = Server::builder()
        .args(["--data-dir", &data_dir(&dir), "--ephemeral"])
        .without_first_user_op()
        .start();
    let needle = "(--ephemeral keeps it nowhere)\" admin_key=";
    server.wait_for_log(needle);
    let log = server.log();
    let key = log
        .lines()
        .find_map(|l| l.split_once(needle).map(|(_, key)| key.trim().to_string()))
        .expect("the key in the log");
    let mut alice = server.login("alice");
    alice.send(&format!("/op {key}"));
    alice.expect_exact("-- You are now an operator.");
    alice.send("/topic kept nowhere");
    alice.expect_stamped("* alice set the topic: kept nowhere");
    let mut mallory = server.connect_from(7);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    alice.send("/ban mallory 5");
    mallory.expect_closed();
    stop(server);
    assert!(
        !Path::new(&data_dir(&dir)).exists(),
        "--ephemeral created {}",
        data_dir(&dir)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[test]
fn a_grant_follows_a_rename_a_kick_takes_it_and_max_op_grants_bounds_them() {
    let dir = TempDir::new("restart-grant-life");
    let server = start(&dir, &["--admin-key", "k1"]);
    let mut keys = Vec::new();
    let mut clients = Vec::new();
    for nick in ["alice", "bob", "carol"] {
        let (mut c, lines) = welcome(&server, nick, nick);
        keys.push(resume_key(&lines));
        c.send("/op k1");
        c.expect_exact("-- You are now an operator.");
        clients.push(c);
    }
    let [alice, bob, _carol] = &mut clients[..] else {
        unreachable!()
    };
    alice.send("/nick alicia");
    alice.expect_prefix("-- You are now known as alicia");
    alice.nick = "alicia".into();
    alice.send("/kick bob");
    bob.expect_closed();
    stop(server);

    let server = start(&dir, &["--admin-key", "k1"]);
    let (_alicia, lines) = welcome(&server, "alicia", &format!("alicia {}", keys[0]));
    assert!(is_op(&lines), "the grant followed the rename: {lines:?}");
    let (_bob, lines) = welcome(&server, "bob", &format!("bob {}", keys[1]));
    assert!(
        !is_op(&lines),
        "a kicked operator is one no more: {lines:?}"
    );
    let (_carol, lines) = welcome(&server, "carol", &format!("carol {}", keys[2]));
    assert!(is_op(&lines), "{lines:?}");
    stop(server);

    // With room for one, the start keeps the newest grant (carol's), and a new operator pushes
    // it out.
    let server = start(&dir, &["--admin-key", "k1", "--max-op-grants", "1"]);
    let (mut dave, _) = welcome(&server, "dave", "dave");
    dave.send("/op k1");
    dave.expect_exact("-- You are now an operator.");
    server.wait_for_log("operator grant dropped (--max-op-grants)");
    stop(server);
    let server = start(&dir, &["--admin-key", "k1", "--max-op-grants", "1"]);
    let (_carol, lines) = welcome(&server, "carol", &format!("carol {}", keys[2]));
    assert!(!is_op(&lines), "{lines:?}");
}

#[test]
fn a_backup_restores_bans_and_topics_too() {
    let dir = TempDir::new("restart-backup");
    let server = start(&dir, &[]);
    let mut alice = server.login("alice");
    alice.send("/topic kept in the backup");
    alice.expect_stamped("* alice set the topic: kept in the backup");
    let mut mallory = server.connect_from(7);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    alice.send("/ban mallory 5");
    mallory.expect_closed();
    stop(server);
    let copy = dir.path().join("copy.sqlite3");
    let out = crate::history::backup(Path::new(&data_dir(&dir)), &copy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The restore recipe, into a fresh data directory.
    let restored = TempDir::new("restart-restored");
    let target = restored.path().join("data");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(&copy, target.join("history.sqlite3")).unwrap();
    let server = start(&restored, &[]);
    expect_address_banned(&server);
    let (_bob, lines) = welcome(&server, "bob", "bob");
    assert!(
        lines.contains(&"-- Topic: kept in the backup".to_string()),
        "{lines:?}"
    );
}

#[test]
fn a_reload_that_takes_the_configured_key_away_falls_back_to_the_generated_one() {
    let dir = TempDir::new("restart-reload-key");
    let config = dir.path().join("reactor-chat.toml");
    std::fs::write(&config, "").unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "configured-key\n").unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        &config,
        format!("admin-key-file = {:?}\n", key_file.display().to_string()),
    )
    .unwrap();
    let server = Server::builder()
        .args(["--data-dir", &data_dir(&dir)])
        .args(["--config", config.to_str().unwrap()])
        .without_first_user_op()
        .start();
    let mut alice = server.login("alice");
    std::fs::write(&config, "").unwrap();
    server.signal("HUP");
    server.wait_for_log("reload: the admin key is the generated one");
    let generated = std::fs::read_to_string(Path::new(&data_dir(&dir)).join("admin-key")).unwrap();
    alice.send(&format!("/op {}", generated.trim()));
    alice.expect_exact("-- You are now an operator.");
}
