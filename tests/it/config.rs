//! The configuration file against the real binary: loading it, the command line overriding it,
//! a bad file refused with its line and key, and `--print-config` loading back.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::{Server, TempDir};

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

fn server_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
}

#[test]
fn the_file_sets_what_a_flag_would_and_the_command_line_wins() {
    let dir = TempDir::new("config-load");
    let file = write(&dir, "chat.toml", "rules = \"from the file\"\ngrace = 7\n");
    let server = Server::builder().arg(format!("--config={file}")).start();
    let alice = server.login("alice");
    assert!(
        alice.transcript().contains("-- Rules: from the file"),
        "{}",
        alice.transcript()
    );
    assert!(
        alice.transcript().contains("within 7 s"),
        "{}",
        alice.transcript()
    );
    let server = Server::builder()
        .arg(format!("--config={file}"))
        .args(["--rules", "from the command line"])
        .start();
    let bob = server.login("bob");
    assert!(bob.transcript().contains("-- Rules: from the command line"));
    assert!(bob.transcript().contains("within 7 s"));
}

#[test]
fn a_bad_file_is_refused_at_start_with_its_line_and_key() {
    let dir = TempDir::new("config-bad");
    let file = write(&dir, "chat.toml", "grace = 7\nmax-clientz = 10\n");
    let out = server_bin()
        .arg(format!("--config={file}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{file}:2: unknown key `max-clientz`")),
        "{err}"
    );
    let file = write(&dir, "value.toml", "lang = \"fr\"\n");
    let out = server_bin()
        .arg(format!("--config={file}"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{file}:1: lang: invalid value 'fr'")),
        "{err}"
    );
}

#[test]
fn print_config_is_a_file_that_check_config_accepts_and_that_runs_the_same() {
    let dir = TempDir::new("config-print");
    let out = server_bin()
        .args(["--print-config", "--grace", "9", "--lang", "ko"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("grace = 9\n") && printed.contains("lang = \"ko\"\n"),
        "{printed}"
    );
    let file = write(&dir, "printed.toml", &printed);
    let out = server_bin()
        .args([&format!("--config={file}"), "--check-config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("configuration OK: {file}\n")
    );
    // The printed file binds where --bind says, so the server started on it gets the test's
    // address from the command line, which overrides it.
    let server = Server::builder()
        .arg(format!("--config={file}"))
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .start();
    let alice = server.login("alice");
    assert!(alice.transcript().contains("9초"), "{}", alice.transcript());
}

#[test]
fn sighup_reloads_the_file_mid_chat_without_dropping_anyone() {
    let dir = TempDir::new("config-reload");
    let path = dir.path().join("chat.toml");
    let file = write(
        &dir,
        "chat.toml",
        "rules = \"the first rules\"\nmax-per-ip = 16\n",
    );
    let server = Server::builder()
        .arg(format!("--config={file}"))
        .args(["--limit-loopback", "--rate", "0"])
        .start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    std::fs::write(
        &path,
        "rules = \"the second rules\"\nmax-per-ip = 2\nrate = 5.0\nrecent-rooms = 5\n",
    )
    .unwrap();
    server.signal("HUP");
    server.wait_for_log(
        "msg=\"reloaded (flags on the command line keep their values)\" changed=rules,max-per-ip need_restart=recent-rooms",
    );
    // Nobody was dropped: the two chat on, and the lowered cap (two a address) cuts nobody off.
    alice.send("still here");
    bob.expect_stamped("alice: still here");
    // A new login reads the new rules; --rate stayed as the command line gave it (0: no flood
    // control), and the new cap applies to new connections: a third from alice and bob's
    // address is refused.
    let mut carol = server.connect_from(40);
    carol.login("carol");
    assert!(
        carol.transcript().contains("-- Rules: the second rules"),
        "{}",
        carol.transcript()
    );
    let mut dave = server.connect();
    dave.expect_prefix("-- bye final: too many connections from your address (2)");
    // A bad file changes nothing.
    std::fs::write(
        &path,
        "rules = \"the third rules\"\nmax-per-ip = \"many\"\n",
    )
    .unwrap();
    server.signal("HUP");
    server.wait_for_log("msg=\"reload refused, nothing changed\" why=");
    let mut erin = server.connect_from(50);
    erin.login("erin");
    erin.send("/quit");
    assert!(
        erin.transcript().contains("-- Rules: the second rules"),
        "{}",
        erin.transcript()
    );
    bob.send("and me");
    alice.expect_stamped("bob: and me");
}

#[test]
fn listen_tables_in_the_file_start_their_listeners_and_print_back() {
    let dir = TempDir::new("config-listen");
    let file = write(
        &dir,
        "chat.toml",
        "grace = 7\n\n[[listen]]\nkind = \"metrics\"\naddress = \"127.0.0.1:0\"\n",
    );
    let server = Server::builder().arg(format!("--config={file}")).start();
    server.wait_for_log("listening kind=metrics address=127.0.0.1:");
    server.login("alice");
    let out = server_bin()
        .args([&format!("--config={file}"), "--print-config"])
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.ends_with("\n[[listen]]\nkind = \"metrics\"\naddress = \"127.0.0.1:0\"\n"),
        "{printed}"
    );
    let again = write(&dir, "printed.toml", &printed);
    let server = Server::builder()
        .arg(format!("--config={again}"))
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .start();
    server.wait_for_log("listening kind=metrics address=127.0.0.1:");
    // A bad kind is named with the file and its line.
    let bad = write(
        &dir,
        "bad.toml",
        "grace = 7\n[[listen]]\nkind = \"gopher\"\naddress = \":70\"\n",
    );
    let out = server_bin()
        .arg(format!("--config={bad}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{bad}:3: listen: kind: unknown listener kind `gopher`"
        )),
        "{err}"
    );
}
