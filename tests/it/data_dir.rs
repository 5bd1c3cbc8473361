//! One server per data directory: a second server on a `--data-dir` another live server holds
//! refuses to start and names it, and a server killed with SIGKILL leaves nothing behind that
//! stops the next one. `--ephemeral` and `backup` take no lock.

use crate::support::{run_to_exit, Server, TempDir, WAIT};

fn data_dir(dir: &TempDir) -> String {
    dir.path().join("data").display().to_string()
}

fn start(dir: &TempDir) -> Server {
    Server::builder()
        .args(["--data-dir", &data_dir(dir)])
        .start()
}

#[test]
fn a_second_server_on_a_data_dir_in_use_refuses_to_start_and_the_first_keeps_serving() {
    let dir = TempDir::new("data-dir-held");
    let first = start(&dir);
    let mut alice = first.login("alice");

    let out = run_to_exit(&["--data-dir", &data_dir(&dir)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let refusal = format!(
        "reactor-chat: cannot use data directory {}: another reactor-chat (pid {}) is using it; \
         give each server its own --data-dir",
        data_dir(&dir),
        first.pid()
    );
    assert!(err.lines().any(|l| l == refusal), "{err}");
    // In the log too, as other start-up errors are.
    assert!(
        err.contains("msg=\"stopped with an error\" error=\"cannot use data directory "),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it never listened");

    // The first server never noticed.
    let mut bob = first.login("bob");
    alice.expect_stamped("* bob joined");
    alice.send("still here");
    bob.expect_stamped("alice: still here");
}

#[test]
fn a_server_killed_with_sigkill_leaves_no_lock_behind() {
    let dir = TempDir::new("data-dir-killed");
    let mut first = start(&dir);
    let mut alice = first.login("alice");
    alice.send("before the crash");
    alice.sync();
    first.signal("KILL");
    first.wait_exit(WAIT);

    // At once: the kernel released the lock with the process.
    let second = start(&dir);
    let mut bob = second.login("bob");
    bob.send("after the crash");
    bob.sync();
    let lock = std::fs::read_to_string(dir.path().join("data").join("lock")).unwrap();
    assert_eq!(lock.trim(), second.pid().to_string(), "the holder's pid");
}

#[test]
fn an_ephemeral_server_and_a_backup_take_no_lock() {
    let dir = TempDir::new("data-dir-lock-free");
    let first = start(&dir);
    let mut alice = first.login("alice");
    alice.send("to back up");
    alice.sync();

    // --ephemeral writes nothing to the directory, so it may name one in use.
    let ephemeral = Server::builder()
        .args(["--data-dir", &data_dir(&dir), "--ephemeral"])
        .start();
    ephemeral.login("carol");

    let copy = dir.path().join("copy.sqlite3");
    let out = crate::history::backup(std::path::Path::new(&data_dir(&dir)), &copy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    alice.send("after the backup");
    alice.sync();
}
