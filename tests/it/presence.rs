//! Presence: join, leave, lost connections, reconnects with the replay of missed lines, the grace
//! period, and reclaiming a held name without allowing a hijack.

use crate::support::Server;

#[test]
fn quit_says_goodbye_and_the_room_sees_the_message() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    bob.send("/quit see you tomorrow");
    bob.expect_exact("-- bye final: goodbye, bob");
    bob.expect_closed();
    alice.expect_stamped("* bob left (see you tomorrow)");
    // The name is free at once.
    let _bob2 = server.login("bob");
    alice.expect_stamped("* bob joined");
}

#[test]
fn a_lost_connection_is_announced_and_a_reconnect_replays_what_was_missed() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    bob.drop_connection();
    alice.expect_stamped("* bob lost the connection (connection closed)");
    let mut carol = server.login("carol");
    alice.expect_stamped("* carol joined");
    alice.send("are you there, bob?");
    carol.expect_stamped("alice: are you there, bob?");
    carol.send("he will be back");
    alice.expect_stamped("carol: he will be back");

    // Same address, name alone: the session comes back with what it missed, in order.
    let mut bob = server.connect();
    bob.send("bob");
    bob.expect_exact("-- Welcome back, bob! You are in room lobby.");
    bob.expect_exact("-- 3 users online: alice, bob, carol");
    bob.expect_prefix("-- Resume key: ");
    bob.expect_next("the replay header", |l| l == "-- You missed 3 lines:");
    bob.expect_next("carol's join", |l| {
        crate::support::unstamp(l) == Some("* carol joined")
    });
    bob.expect_next("alice's question", |l| {
        crate::support::unstamp(l) == Some("alice: are you there, bob?")
    });
    bob.expect_next("carol's answer", |l| {
        crate::support::unstamp(l) == Some("carol: he will be back")
    });
    bob.expect_next("the end of the replay", |l| l == "-- End of missed lines.");
    alice.expect_stamped("* bob reconnected");
    carol.expect_stamped("* bob reconnected");
    // And it chats again as before.
    bob.send("I'm back");
    alice.expect_stamped("bob: I'm back");
}

#[test]
fn a_reset_connection_is_announced_as_lost() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    bob.reset();
    alice.expect_where("bob lost the connection", |l| {
        l.contains("* bob lost the connection (connection")
    });
}

#[test]
fn the_name_is_freed_when_the_grace_period_ends() {
    let server = Server::builder().args(["--grace", "1"]).start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    bob.drop_connection();
    alice.expect_stamped("* bob lost the connection (connection closed)");
    alice.expect_stamped("* bob left (did not reconnect within 1 s)");
    // From another address, without a key: a fresh session now that the name is free.
    let mut other = server.connect_from(2);
    other.send("bob");
    other.expect_exact("-- Welcome, bob! You are in room lobby.");
}

#[test]
fn a_held_name_cannot_be_taken_from_another_address_without_the_key() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    let key = bob.resume_key.clone().expect("a resume key");
    alice.expect_stamped("* bob joined");
    alice.send("secret for bob");
    bob.drop_connection();
    alice.expect_stamped("* bob lost the connection (connection closed)");
    alice.send("another secret");

    let mut mallory = server.connect_from(7);
    mallory.send("bob");
    let refusal = mallory.expect_prefix("! ");
    assert!(
        refusal.starts_with("! nick-held: bob is reserved for"),
        "{refusal}"
    );
    mallory.expect_next("a new prompt", |l| l == "-- Enter your nickname:");
    mallory.send("bob 0123456789ab");
    let refusal = mallory.expect_prefix("! ");
    assert!(
        refusal.starts_with("! nick-held: wrong resume key for bob"),
        "{refusal}"
    );
    // A lookalike of the held name is no way in either.
    mallory.send("b\u{43e}b"); // Cyrillic о
    mallory.expect_prefix("! nick-held: bob is reserved for");
    let seen = mallory.sync_before_login();
    assert!(
        !seen.iter().any(|l| l.contains("secret")),
        "a stranger received the held session's lines: {seen:?}"
    );

    // The resume key works from any address, and brings the missed lines.
    let mut bob = server.connect_from(9);
    bob.send(&format!("bob {key}"));
    bob.expect_exact("-- Welcome back, bob! You are in room lobby.");
    bob.expect_exact("-- You missed 1 line:");
    bob.expect_stamped("alice: another secret");
    alice.expect_stamped("* bob reconnected");
}

#[test]
fn the_resume_key_takes_over_a_connection_not_yet_noticed_dead() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut old = server.login("bob");
    let key = old.resume_key.clone().expect("a resume key");
    alice.expect_stamped("* bob joined");
    let mut new = server.connect_from(3);
    new.send(&format!("bob {key}"));
    new.expect_exact("-- Welcome back, bob! You are in room lobby.");
    old.expect_exact("-- bye final: your session was resumed from another connection");
    old.expect_closed();
    new.send("still me");
    alice.expect_stamped("bob: still me");
    // No presence noise for a takeover.
    let seen = alice.sync();
    assert!(
        !seen.iter().any(|l| l.contains("* bob")),
        "unexpected presence notices: {seen:?}"
    );
}

#[test]
fn korean_presence_notices_with_lang_ko() {
    let server = Server::builder()
        .args(["--lang", "ko", "--grace", "1"])
        .start();
    let mut a = server.login("철수");
    let b = server.login("영희");
    a.expect_stamped("* 영희님이 입장하셨습니다");
    b.drop_connection();
    a.expect_where("a Korean lost notice", |l| {
        l.contains("영희님이 접속이 끊겼습니다.")
    });
    let mut b = server.connect();
    b.send("영희");
    a.expect_where("a Korean reconnect notice", |l| {
        l.contains("영희님이 재접속했습니다")
    });
    b.expect_prefix("-- 재접속 키: ");
    b.send("/quit");
    a.expect_where("a Korean leave notice", |l| {
        l.contains("영희님이 퇴장하셨습니다.")
    });
}

/// Above `--presence-max-room` members, arrivals and departures come as one summary line per
/// `--presence-summary-secs`; the welcome gives a count instead of names; kicks stay single lines.
#[test]
fn a_big_room_gets_presence_summaries() {
    let server = Server::builder()
        .args(["--presence-max-room", "2", "--presence-summary-secs", "1"])
        .start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    // The third member makes the room big: the welcome counts, and nobody is told one by one.
    let mut carol = server.connect();
    carol.send("carol");
    carol.expect_exact("-- Welcome, carol! You are in room lobby.");
    carol.expect_exact("-- 3 users online (/users lists your room)");
    let mut dave = server.login("dave");
    let erin = server.login("erin");
    erin.drop_connection();
    let summary = "* 3 joined (carol, dave, erin); 1 left (erin); 4 here";
    for client in [&mut alice, &mut bob, &mut carol, &mut dave] {
        // The first stamped line is the summary (before it, only the rest of a welcome).
        let first = loop {
            let line = client.next_line();
            if let Some(stamped) = crate::support::unstamp(&line) {
                break stamped.to_string();
            }
        };
        assert_eq!(first, summary, "{}", client.transcript());
        let stamped: Vec<String> = client
            .sync()
            .into_iter()
            .filter(|l| l.starts_with('['))
            .collect();
        assert!(stamped.is_empty(), "{}", client.transcript());
    }
    // /users still lists everybody; an operator's kick is announced at once.
    bob.send("/users");
    bob.expect_exact("-- 4 users in lobby: alice (op), bob, carol, dave");
    alice.send("/kick dave");
    bob.expect_stamped("* dave was kicked by alice");
    carol.expect_stamped("* dave was kicked by alice");
}
