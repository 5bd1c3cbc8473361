//! Talking to people: `/msg` and its aliases, `/me`, `/nick`, `/away` and `/whois`.

use crate::support::{unstamp, Client, Server};

/// alice, bob and carol in the lobby, each past the others' join notices. alice, the first user
/// of a server without an admin key, is its operator.
fn trio(server: &Server) -> (Client, Client, Client) {
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    let carol = server.login("carol");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");
    (alice, bob, carol)
}

/// Splits a `/whois` reply `-- NICK: room ROOM, idle 3m12s, ...` into the part before the idle
/// time and the part after it, checking the idle time reads like `45s`, `3m12s` or `1h20m`.
fn whois_without_idle(client: &Client, line: &str) -> (String, String) {
    let Some((head, rest)) = line.split_once(", idle ") else {
        client.fail(&format!("not a /whois reply: {line:?}"));
    };
    let (idle, tail) = rest.split_at(rest.find(',').unwrap_or(rest.len()));
    let well_formed = !idle.is_empty()
        && idle.starts_with(|c: char| c.is_ascii_digit())
        && idle.ends_with(['s', 'm', 'h', 'd'])
        && idle
            .chars()
            .all(|c| c.is_ascii_digit() || "smhd".contains(c));
    if !well_formed {
        client.fail(&format!("bad idle time {idle:?} in {line:?}"));
    }
    (head.to_string(), tail.to_string())
}

#[test]
fn whispers_reach_only_their_target_with_every_alias() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    // expect_next throughout: each side gets exactly the one line, nothing before it.
    for (i, cmd) in ["/msg", "/whisper", "/w", "/MSG"].iter().enumerate() {
        alice.send(&format!("{cmd} bob psst {i}"));
        let whisper = format!("*alice* psst {i}");
        bob.expect_next("the whisper", |l| unstamp(l) == Some(whisper.as_str()));
        let confirmation = format!("-- -> *bob* psst {i}");
        alice.expect_next("the confirmation", |l| l == confirmation);
    }
    // The target's name is matched case-insensitively; the confirmation shows its real spelling.
    bob.send("/w ALICE back at you");
    alice.expect_next("the whisper", |l| unstamp(l) == Some("*bob* back at you"));
    bob.expect_next("the confirmation", |l| l == "-- -> *alice* back at you");
    alice.expect_quiet();
    bob.expect_quiet();
    carol.expect_quiet();
}

#[test]
fn whispers_cross_rooms() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.send("/join games");
    bob.expect_exact("-- You are now in room games.");
    alice.expect_stamped("* bob went to room games");
    carol.expect_stamped("* bob went to room games");
    alice.send("/msg bob are you in games?");
    bob.expect_stamped("*alice* are you in games?");
    alice.expect_next("the confirmation", |l| l == "-- -> *bob* are you in games?");
    carol.expect_quiet();
}

#[test]
fn whisper_errors() {
    let server = Server::start();
    let (mut alice, mut bob, _carol) = trio(&server);
    alice.send("/msg nobody hello?");
    alice.expect_next("the no-such-user error", |l| {
        l == "! no-such-user: nobody is not here"
    });
    alice.send("/msg alice talking to myself");
    alice.expect_next("the bad-target error", |l| l.starts_with("! bad-target: "));
    // A user who quit is absent, not reconnecting.
    bob.send("/quit");
    bob.expect_closed();
    alice.expect_stamped("* bob left");
    alice.send("/w bob still there?");
    alice.expect_next("the no-such-user error", |l| {
        l == "! no-such-user: bob is not here"
    });
    // Without text it is a usage error, not a whisper of nothing.
    alice.send("/msg carol");
    alice.expect_next("a usage error", |l| {
        l.starts_with("! usage: /msg NICK text")
    });
    alice.expect_quiet();
}

#[test]
fn whisper_to_an_away_user_returns_the_away_message() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.send("/away out to lunch");
    bob.expect_exact("-- You are marked away: out to lunch");
    alice.send("/msg bob ping");
    bob.expect_stamped("*alice* ping");
    alice.expect_next("the confirmation", |l| l == "-- -> *bob* ping");
    alice.expect_next("the away message", |l| l == "-- bob is away: out to lunch");
    // Back: whispers no longer answer with the away message.
    bob.send("/away");
    bob.expect_exact("-- You are no longer away.");
    alice.send("/msg bob ping again");
    bob.expect_stamped("*alice* ping again");
    alice.expect_next("the confirmation", |l| l == "-- -> *bob* ping again");
    alice.expect_quiet();
    carol.expect_quiet();
}

#[test]
fn whisper_to_a_reconnecting_user_is_delivered_when_they_return() {
    let server = Server::start();
    let (mut alice, bob, mut carol) = trio(&server);
    bob.drop_connection();
    alice.expect_stamped("* bob lost the connection (connection closed)");
    carol.expect_stamped("* bob lost the connection (connection closed)");
    alice.send("/msg bob are you back?");
    alice.expect_next("the confirmation", |l| l == "-- -> *bob* are you back?");
    alice.expect_next("the held notice", |l| {
        l == "-- bob is reconnecting; your whisper will be delivered when they return"
    });
    // Same address, same name: the session resumes and the whisper is replayed.
    let mut bob = server.connect();
    bob.nick = "bob".into();
    bob.send("bob");
    bob.expect_exact("-- Welcome back, bob! You are in room lobby.");
    bob.expect_prefix("-- Resume key: ");
    bob.expect_next("the replay header", |l| l == "-- You missed 1 line:");
    bob.expect_next("the whisper", |l| {
        unstamp(l) == Some("*alice* are you back?")
    });
    bob.expect_next("the end of the replay", |l| l == "-- End of missed lines.");
    alice.expect_stamped("* bob reconnected");
    carol.expect_stamped("* bob reconnected");
    bob.expect_quiet();
    carol.expect_quiet();
}

#[test]
fn me_is_an_action_for_the_room() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    alice.send("/me waves at everyone");
    bob.expect_stamped("* alice waves at everyone");
    carol.expect_stamped("* alice waves at everyone");
    alice.expect_quiet();
    alice.send("/me");
    alice.expect_next("a usage error", |l| l.starts_with("! usage: /me action"));
}

#[test]
fn nick_renames_and_frees_the_old_name_at_once() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    alice.send("/nick alice2");
    alice.expect_exact("-- You are now known as alice2");
    bob.expect_stamped("* alice is now known as alice2");
    carol.expect_stamped("* alice is now known as alice2");
    // The alias, and messages under the new name.
    bob.send("/rename robert");
    bob.expect_exact("-- You are now known as robert");
    alice.expect_stamped("* bob is now known as robert");
    carol.expect_stamped("* bob is now known as robert");
    alice.send("still me");
    carol.expect_stamped("alice2: still me");
    // The old names are free for anybody.
    let mut newcomer = server.login("alice");
    carol.expect_stamped("* alice joined");
    newcomer.send("/users");
    newcomer.expect_exact("-- 4 users in lobby: alice, alice2 (op), carol, robert");
    carol.send("/msg bob hello?");
    carol.expect_exact("! no-such-user: bob is not here");
    carol.send("/msg robert hello!");
    bob.expect_stamped("*carol* hello!");
    alice.expect_stamped("* alice joined");
    alice.expect_quiet();
}

#[test]
fn nick_refusals() {
    let server = Server::start();
    let (mut alice, mut bob, carol) = trio(&server);
    alice.send("/nick bob");
    alice.expect_next("nick-taken", |l| {
        l == "! nick-taken: bob is already in use; choose another nickname"
    });
    alice.send("/nick BOB");
    alice.expect_next("nick-taken", |l| l.starts_with("! nick-taken: BOB "));
    alice.send("/nick bad!name");
    alice.expect_next("nick-invalid", |l| l.starts_with("! nick-invalid: "));
    // A name with a space is refused as at login, not silently cut to its first word.
    alice.send("/nick john smith");
    alice.expect_next("nick-invalid", |l| l.starts_with("! nick-invalid: "));
    alice.send(&format!("/nick {}", "x".repeat(25)));
    alice.expect_next("nick-invalid", |l| l.starts_with("! nick-invalid: "));
    // Nothing changed: the room heard of no rename.
    bob.expect_quiet();
    // A name held for a user who lost the connection.
    carol.drop_connection();
    alice.expect_stamped("* carol lost the connection (connection closed)");
    bob.expect_stamped("* carol lost the connection (connection closed)");
    alice.send("/nick carol");
    alice.expect_next("nick-held", |l| l.starts_with("! nick-held: carol "));
    bob.expect_quiet();
    alice.send("/whois alice");
    alice.expect_prefix("-- alice: room lobby, ");
}

#[test]
fn away_is_shown_in_users_and_cleared() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    // expect_next throughout: away state is private, the room is not told of it.
    bob.send("/away");
    bob.expect_next("away", |l| l == "-- You are marked away: away");
    carol.send("/away back in 5");
    carol.expect_next("away", |l| l == "-- You are marked away: back in 5");
    alice.send("/away");
    alice.expect_next("away", |l| l == "-- You are marked away: away");
    alice.send("/who");
    alice.expect_next("the list", |l| {
        l == "-- 3 users in lobby: alice (op, away), bob (away), carol (away)"
    });
    bob.send("/away");
    bob.expect_next("back", |l| l == "-- You are no longer away.");
    bob.send("/names");
    bob.expect_next("the list", |l| {
        l == "-- 3 users in lobby: alice (op, away), bob, carol (away)"
    });
    alice.expect_quiet();
    bob.expect_quiet();
    carol.expect_quiet();
}

#[test]
fn whois_shows_room_idle_away_operator_and_reconnecting() {
    let server = Server::start();
    let (mut alice, mut bob, mut carol) = trio(&server);
    bob.send("/join games");
    bob.expect_exact("-- You are now in room games.");
    bob.send("/away brb");
    bob.expect_exact("-- You are marked away: brb");

    carol.send("/whois bob");
    let line = carol.expect_prefix("-- bob: ");
    let (head, tail) = whois_without_idle(&carol, &line);
    assert_eq!(
        (head.as_str(), tail.as_str()),
        ("-- bob: room games", ", away: brb")
    );

    carol.send("/whois ALICE");
    let line = carol.expect_prefix("-- alice: ");
    let (head, tail) = whois_without_idle(&carol, &line);
    assert_eq!(
        (head.as_str(), tail.as_str()),
        ("-- alice: room lobby", ", operator")
    );

    carol.send("/whois carol");
    let line = carol.expect_prefix("-- carol: ");
    let (head, tail) = whois_without_idle(&carol, &line);
    assert_eq!((head.as_str(), tail.as_str()), ("-- carol: room lobby", ""));

    // carol goes to games to see bob lose the connection there.
    carol.send("/join games");
    carol.expect_exact("-- 2 users in games: bob (away), carol");
    bob.expect_stamped("* carol joined");
    bob.drop_connection();
    carol.expect_stamped("* bob lost the connection (connection closed)");
    alice.expect_stamped("* bob went to room games");
    alice.send("/whois bob");
    let line = alice.expect_prefix("-- bob: ");
    let (head, tail) = whois_without_idle(&alice, &line);
    assert_eq!(
        (head.as_str(), tail.as_str()),
        ("-- bob: room games", ", away: brb, reconnecting")
    );

    alice.send("/whois nobody");
    alice.expect_next("no-such-user", |l| {
        l == "! no-such-user: nobody is not here"
    });
    alice.send("/whois");
    alice.expect_next("a usage error", |l| l.starts_with("! usage: /whois NICK"));
}
