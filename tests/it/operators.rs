//! Operators: who becomes one, `/op`, `/kick` and `/ban`.

use crate::support::{Client, Server};

/// Logs in and returns the whole welcome block (through the resume key line).
fn login_welcome(server: &Server, nick: &str) -> (Client, Vec<String>) {
    crate::restart::welcome(server, nick, nick)
}

#[test]
fn the_first_user_of_an_empty_server_is_operator() {
    let server = Server::start();
    let (mut alice, welcome) = login_welcome(&server, "alice");
    let n = welcome.len();
    assert!(n >= 2, "{welcome:?}");
    assert_eq!(welcome[n - 2], "-- You are now an operator.", "{welcome:?}");
    let key = welcome[n - 1]
        .strip_prefix("-- Resume key: ")
        .and_then(|l| l.split_whitespace().next())
        .expect("the resume key line")
        .to_string();
    let (mut bob, welcome) = login_welcome(&server, "bob");
    assert!(
        !welcome.iter().any(|l| l.contains("operator")),
        "{welcome:?}"
    );
    alice.expect_stamped("* bob joined");
    bob.send("/users");
    bob.expect_exact("-- 2 users in lobby: alice (op), bob");
    // Without a key configured, /op cannot make anyone else an operator.
    bob.send("/op letmein");
    bob.expect_next("no-admin-key", |l| {
        l == "! no-admin-key: this server has no admin key (--first-user-op): the first user of an empty server is operator"
    });
    bob.send("/users");
    bob.expect_exact("-- 2 users in lobby: alice (op), bob");
    // The server empties (alice quits, bob quits), but alice may come back with her resume
    // key: the next user to arrive is not operator.
    alice.send("/quit");
    alice.expect_closed();
    bob.send("/quit");
    bob.expect_closed();
    let (mut carol, welcome) = login_welcome(&server, "carol");
    assert!(
        !welcome.iter().any(|l| l.contains("operator")),
        "{welcome:?}"
    );
    let (_alice, welcome) = login_welcome(&server, &format!("alice {key}"));
    assert!(
        welcome.contains(&"-- You are now an operator.".to_string()),
        "{welcome:?}"
    );
    carol.expect_stamped("* alice joined");
}

#[test]
fn op_with_the_admin_key() {
    let server = Server::builder().args(["--admin-key", "s3cret"]).start();
    let (mut alice, welcome) = login_welcome(&server, "alice");
    assert!(
        !welcome.iter().any(|l| l.contains("operator")),
        "with an admin key nobody is operator by default: {welcome:?}"
    );
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    alice.send("/kick bob");
    alice.expect_next("not-operator", |l| {
        l == "! not-operator: only operators can do that"
    });
    alice.send("/op wrong");
    alice.expect_next("bad-key", |l| l == "! bad-key: that is not the admin key");
    alice.send("/op s3cre");
    alice.expect_next("bad-key", |l| l.starts_with("! bad-key: "));
    alice.send("/op s3cret");
    alice.expect_next("op", |l| l == "-- You are now an operator.");
    bob.send("/users");
    bob.expect_exact("-- 2 users in lobby: alice (op), bob");
    alice.send("/op");
    alice.expect_next("a usage error", |l| l.starts_with("! usage: /op KEY"));
    bob.expect_quiet();
}

#[test]
fn the_admin_key_can_come_from_the_environment() {
    let server = Server::builder()
        .env("REACTOR_CHAT_ADMIN_KEY", "from-env")
        .start();
    let mut alice = server.login("alice");
    alice.send("/users");
    alice.expect_exact("-- 1 user in lobby: alice");
    alice.send("/op s3cret");
    alice.expect_next("bad-key", |l| l.starts_with("! bad-key: "));
    alice.send("/op from-env");
    alice.expect_next("op", |l| l == "-- You are now an operator.");
    alice.send("/users");
    alice.expect_exact("-- 1 user in lobby: alice (op)");
}

#[test]
fn kick_disconnects_and_tells_the_room() {
    let server = Server::builder().args(["--linger-ms", "100"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    let mut carol = server.login("carol");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");

    alice.send("/kick bob spamming the room");
    let last = bob.expect_closed();
    assert_eq!(
        last.last().map(String::as_str),
        Some("-- bye final: kicked by alice (spamming the room)"),
        "{last:?}"
    );
    alice.expect_stamped("* bob was kicked by alice (spamming the room)");
    carol.expect_stamped("* bob was kicked by alice (spamming the room)");

    // No reason: none shown. A kicked user in another room: that room is told, and so is the
    // operator, who could not otherwise see it happen.
    let mut dave = server.login("dave");
    alice.expect_stamped("* dave joined");
    carol.expect_stamped("* dave joined");
    dave.send("/join den");
    dave.expect_exact("-- 1 user in den: dave");
    carol.send("/join den");
    carol.expect_exact("-- 2 users in den: carol, dave");
    alice.expect_stamped("* dave went to room den");
    alice.expect_stamped("* carol went to room den");
    alice.send("/kick DAVE");
    let last = dave.expect_closed();
    assert_eq!(
        last.last().map(String::as_str),
        Some("-- bye final: kicked by alice"),
        "{last:?}"
    );
    carol.expect_stamped("* dave was kicked by alice");
    alice.expect_stamped("* dave was kicked by alice");

    alice.send("/kick nobody");
    alice.expect_next("no-such-user", |l| {
        l == "! no-such-user: nobody is not here"
    });
    alice.send("/kick alice");
    alice.expect_next("bad-target", |l| l.starts_with("! bad-target: "));
    alice.send("/kick");
    alice.expect_next("a usage error", |l| l.starts_with("! usage: /kick NICK"));
    carol.expect_quiet();
}

#[test]
fn a_kicked_user_cannot_reclaim_the_session() {
    let server = Server::builder().args(["--linger-ms", "100"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    let mut carol = server.login("carol");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");
    carol.send("are you there bob?");
    bob.expect_stamped("carol: are you there bob?");
    alice.send("/kick bob");
    bob.expect_closed();
    carol.expect_stamped("* bob was kicked by alice");
    carol.send("said after the kick");
    alice.expect_stamped("carol: said after the kick");
    // Same name, same address, even with the resume key: a new session, nothing replayed.
    let key = bob.resume_key.clone().expect("bob had a resume key");
    let mut bob2 = server.connect();
    bob2.nick = "bob".into();
    bob2.send(&format!("bob {key}"));
    let welcome = bob2.expect_where("the welcome", |l| {
        l.starts_with("-- Welcome") && !l.starts_with("-- Welcome to")
    });
    assert_eq!(welcome, "-- Welcome, bob! You are in room lobby.");
    let rest = bob2.expect_prefix("-- Resume key: ");
    assert!(
        !rest.contains(&key),
        "a kicked session's key was reused: {rest}"
    );
    carol.expect_stamped("* bob joined");
    alice.expect_stamped("* bob joined");
    bob2.expect_quiet();
    carol.expect_quiet();
    alice.expect_quiet();
}

#[test]
fn non_operators_cannot_kick_or_ban() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    for cmd in [
        "/kick alice",
        "/kick alice bye",
        "/ban alice",
        "/ban alice 5",
        "/topiclock on",
    ] {
        bob.send(cmd);
        bob.expect_next("not-operator", |l| {
            l == "! not-operator: only operators can do that"
        });
    }
    bob.send("/kick nobody");
    bob.expect_next("not-operator", |l| l.starts_with("! not-operator: "));
    alice.expect_quiet();
}

#[test]
fn ban_keeps_the_name_and_the_address_out() {
    let server = Server::builder().args(["--linger-ms", "100"]).start();
    let mut alice = server.login("alice");
    // mallory comes from another address, so banning it leaves 127.0.0.1 alone.
    let mut mallory = server.connect_from(7);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");

    alice.send("/ban mallory 5");
    let last = mallory.expect_closed();
    assert_eq!(
        last.last().map(String::as_str),
        Some("-- bye final: kicked by alice (banned for 5 min)"),
        "{last:?}"
    );
    alice.expect_stamped("* mallory was kicked by alice (banned for 5 min)");
    bob.expect_stamped("* mallory was kicked by alice (banned for 5 min)");

    // The address: any login line from it is turned away.
    let mut again = server.connect_from(7);
    again.send("innocent");
    let lines = again.expect_closed();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-- bye final: you are banned for 5 more min"),
        "{lines:?}"
    );
    // The name, from any address, in any spelling that collides with it.
    let mut other = server.connect_from(8);
    for name in ["mallory", "MALLORY"] {
        other.send(name);
        // (The first line is answered after the greeting.)
        other.expect_exact(&format!("! nick-banned: {name} is banned for 5 more min"));
        other.expect_next("the prompt", |l| l == "-- Enter your nickname:");
    }
    other.login("trudy");
    // Nor can a present user take the name.
    bob.send("/nick mallory");
    bob.expect_exact("! nick-banned: mallory is banned for 5 more min");
    // 127.0.0.1 is not banned.
    let _carol = server.login("carol");
    alice.expect_stamped("* trudy joined");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");

    // Bad lengths.
    for bad in ["/ban bob 0", "/ban bob soon", "/ban bob 999999"] {
        alice.send(bad);
        alice.expect_next("a usage error", |l| l.starts_with("! usage: /ban NICK"));
    }
    bob.expect_quiet();
}

#[test]
fn ban_defaults_to_ten_minutes() {
    let server = Server::builder().args(["--linger-ms", "100"]).start();
    let mut alice = server.login("alice");
    let mut mallory = server.connect_from(9);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    alice.send("/ban mallory");
    let last = mallory.expect_closed();
    assert_eq!(
        last.last().map(String::as_str),
        Some("-- bye final: kicked by alice (banned for 10 min)"),
        "{last:?}"
    );
    let mut again = server.connect_from(9);
    again.send("mallory2");
    let lines = again.expect_closed();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-- bye final: you are banned for 10 more min"),
        "{lines:?}"
    );
}
