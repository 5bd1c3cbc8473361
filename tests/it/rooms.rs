//! Rooms: `/join`, `/part`, `/rooms`, `/users`, topics and topic locks, and the isolation of
//! one room's traffic from another's.

use crate::support::{unstamp, Client, Server};

/// Logs in `nicks` in order; each one's join notice is read by those already there.
fn crowd<const N: usize>(server: &Server, nicks: [&str; N]) -> [Client; N] {
    let mut clients: Vec<Client> = Vec::new();
    for nick in nicks {
        let c = server.login(nick);
        for other in &mut clients {
            other.expect_stamped(&format!("* {nick} joined"));
        }
        clients.push(c);
    }
    match clients.try_into() {
        Ok(clients) => clients,
        Err(_) => unreachable!("one client per nick"),
    }
}

#[test]
fn join_moves_you_and_tells_both_rooms() {
    let server = Server::start();
    let [mut alice, mut bob, mut carol] = crowd(&server, ["alice", "bob", "carol"]);
    bob.send("/join games");
    bob.expect_next("the move", |l| l == "-- You are now in room games.");
    bob.expect_next("the user list", |l| l == "-- 1 user in games: bob");
    alice.expect_stamped("* bob went to room games");
    carol.expect_stamped("* bob went to room games");

    carol.send("/join games");
    carol.expect_next("the move", |l| l == "-- You are now in room games.");
    carol.expect_next("the user list", |l| l == "-- 2 users in games: bob, carol");
    bob.expect_stamped("* carol joined");
    alice.expect_stamped("* carol went to room games");

    carol.send("/join games");
    carol.expect_next("already-there", |l| {
        l == "! already-there: you are already in games"
    });
    bob.expect_quiet();
    alice.expect_quiet();
    alice.send("/join");
    alice.expect_next("a usage error", |l| l.starts_with("! usage: /join ROOM"));
}

#[test]
fn rooms_isolate_messages_and_presence() {
    let server = Server::start();
    let [mut alice, mut bob, mut carol, mut dave] =
        crowd(&server, ["alice", "bob", "carol", "dave"]);
    // alice and bob in games; carol and dave stay in the lobby.
    alice.send("/join games");
    alice.expect_exact("-- 1 user in games: alice (op)");
    bob.send("/join games");
    bob.expect_exact("-- 2 users in games: alice (op), bob");
    alice.expect_stamped("* bob joined");
    for c in [&mut carol, &mut dave] {
        c.expect_stamped("* alice went to room games");
        c.expect_stamped("* bob went to room games");
    }

    alice.send("game on");
    bob.expect_stamped("alice: game on");
    bob.send("/me rolls the dice");
    alice.expect_stamped("* bob rolls the dice");
    carol.send("lobby talk");
    dave.expect_stamped("carol: lobby talk");
    dave.send("/me yawns");
    carol.expect_stamped("* dave yawns");
    // The lobby's talk did not reach games.
    alice.expect_quiet();
    bob.expect_quiet();

    // A newcomer arrives in the lobby (games does not hear of it) and goes on to games.
    let mut erin = server.login("erin");
    for c in [&mut carol, &mut dave] {
        c.expect_stamped("* erin joined");
    }
    erin.send("/join games");
    erin.expect_exact("-- 3 users in games: alice (op), bob, erin");
    for c in [&mut carol, &mut dave] {
        c.expect_stamped("* erin went to room games");
    }
    for c in [&mut alice, &mut bob] {
        c.expect_next("erin's arrival in games", |l| {
            unstamp(l) == Some("* erin joined")
        });
    }

    // Presence in games: a rename, a topic, a departure.
    bob.send("/nick bobby");
    alice.expect_stamped("* bob is now known as bobby");
    alice.send("/topic dice only");
    alice.expect_stamped("* alice set the topic: dice only");
    erin.expect_stamped("* alice set the topic: dice only");
    erin.send("/quit gg");
    erin.expect_closed();
    alice.expect_stamped("* erin left (gg)");
    bob.expect_stamped("* erin left (gg)");

    // None of it reached the lobby.
    carol.expect_quiet();
    dave.expect_quiet();
}

#[test]
fn rooms_lists_counts_and_empty_rooms_disappear() {
    let server = Server::start();
    let [mut alice, mut bob, mut carol] = crowd(&server, ["alice", "bob", "carol"]);
    alice.send("/rooms");
    alice.expect_next("one room", |l| l == "-- 1 room: lobby (3)");
    bob.send("/join zoo");
    bob.expect_exact("-- 1 user in zoo: bob");
    carol.send("/join Games");
    carol.expect_exact("-- 1 user in Games: carol");
    alice.send("/list");
    alice.expect_exact("-- 3 rooms: Games (1), lobby (1), zoo (1)");
    // A member held for a reconnect is not counted, as `/users` does not list them; the room
    // stays while they may come back.
    bob.drop_connection();
    server.wait_for_log("msg=\"lost the connection\" nick=bob");
    alice.send("/rooms");
    alice.expect_exact("-- 3 rooms: Games (1), lobby (1), zoo (0)");
    // The last member leaving (here by /part) removes the room.
    carol.send("/part");
    carol.expect_next("the move", |l| l == "-- You are now in room lobby.");
    carol.expect_next("the user list", |l| {
        l == "-- 2 users in lobby: alice (op), carol"
    });
    alice.expect_stamped("* carol joined");
    alice.send("/rooms");
    alice.expect_exact("-- 2 rooms: lobby (2), zoo (0)");
    carol.send("/part");
    carol.expect_next("already-there", |l| {
        l == "! already-there: you are already in lobby"
    });
}

#[test]
fn users_and_its_aliases_list_only_your_room() {
    let server = Server::start();
    let [mut alice, mut bob, mut carol] = crowd(&server, ["alice", "bob", "carol"]);
    carol.send("/join den");
    carol.expect_exact("-- 1 user in den: carol");
    bob.send("/away");
    bob.expect_exact("-- You are marked away: away");
    for cmd in ["/users", "/who", "/names", "/USERS"] {
        alice.send(cmd);
        alice.expect_exact("-- 2 users in lobby: alice (op), bob (away)");
        carol.send(cmd);
        carol.expect_exact("-- 1 user in den: carol");
    }
}

#[test]
fn bad_room_names_are_refused() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let long = "r".repeat(33);
    for bad in ["a/b", "two words", "#chan", long.as_str()] {
        alice.send(&format!("/join {bad}"));
        alice.expect_next("bad-room", |l| {
            l == "! bad-room: a room name has 1 to 32 characters: letters, digits, _ - ."
        });
    }
    let longest = "r".repeat(32);
    alice.send(&format!("/join {longest}"));
    alice.expect_exact(&format!("-- You are now in room {longest}."));
    alice.send("/join 한국어방");
    alice.expect_exact("-- You are now in room 한국어방.");
    alice.send("/rooms");
    alice.expect_exact("-- 1 room: 한국어방 (1)");
}

#[test]
fn room_names_are_case_insensitive_and_keep_the_first_spelling() {
    let server = Server::start();
    let [mut alice, mut bob] = crowd(&server, ["alice", "bob"]);
    alice.send("/join Games");
    alice.expect_exact("-- You are now in room Games.");
    bob.send("/join GAMES");
    bob.expect_stamped("* alice went to room Games");
    bob.expect_next("the move", |l| l == "-- You are now in room Games.");
    bob.expect_next("the user list", |l| {
        l == "-- 2 users in Games: alice (op), bob"
    });
    alice.expect_stamped("* bob joined");
    alice.send("/join games");
    alice.expect_exact("! already-there: you are already in Games");
    bob.send("/part");
    bob.expect_exact("-- You are now in room lobby.");
    bob.send("/join LOBBY");
    bob.expect_exact("! already-there: you are already in lobby");
}

#[test]
fn topics_are_shown_set_and_shown_on_join() {
    let server = Server::start();
    let [mut alice, mut bob, mut carol] = crowd(&server, ["alice", "bob", "carol"]);
    alice.send("/join games");
    alice.expect_exact("-- 1 user in games: alice (op)");
    bob.send("/join games");
    bob.expect_exact("-- 2 users in games: alice (op), bob");
    alice.expect_stamped("* bob joined");
    bob.send("/topic");
    bob.expect_next("no topic", |l| l == "-- games has no topic.");
    // Anybody may set an unlocked topic; the whole room, the setter included, sees it.
    bob.send("/topic chess at 8");
    bob.expect_stamped("* bob set the topic: chess at 8");
    alice.expect_stamped("* bob set the topic: chess at 8");
    alice.send("/topic");
    alice.expect_next("the topic", |l| {
        l == "-- Topic of games: chess at 8 (set by bob)"
    });
    // Shown on join, between the move and the user list.
    carol.send("/join games");
    carol.expect_stamped("* alice went to room games");
    carol.expect_stamped("* bob went to room games");
    carol.expect_next("the move", |l| l == "-- You are now in room games.");
    carol.expect_next("the topic", |l| l == "-- Topic: chess at 8");
    carol.expect_next("the user list", |l| {
        l == "-- 3 users in games: alice (op), bob, carol"
    });
    // The lobby's topic is its own.
    carol.send("/part");
    carol.expect_exact("-- 1 user in lobby: carol");
    carol.send("/topic");
    carol.expect_next("no topic", |l| l == "-- lobby has no topic.");
    // And a new session in a room with a topic sees it in the welcome.
    carol.send("/topic welcome all");
    carol.expect_stamped("* carol set the topic: welcome all");
    let mut dave = server.connect();
    dave.nick = "dave".into();
    dave.send("dave");
    dave.expect_exact("-- Topic: welcome all");
    dave.expect_prefix("-- Resume key: ");
}

#[test]
fn topiclock_is_for_operators_and_binds_everybody_else() {
    let server = Server::start();
    let [mut alice, mut bob, mut carol] = crowd(&server, ["alice", "bob", "carol"]);
    bob.send("/topiclock on");
    bob.expect_next("not-operator", |l| {
        l == "! not-operator: only operators can do that"
    });
    alice.send("/topic be nice");
    alice.expect_stamped("* alice set the topic: be nice");
    alice.send("/topiclock on");
    alice.expect_next("locked", |l| l == "-- The topic of lobby is now locked.");
    bob.expect_stamped("* alice set the topic: be nice");
    bob.send("/topic anarchy");
    bob.expect_next("topic-locked", |l| {
        l == "! topic-locked: the topic of lobby is locked; only operators can change it"
    });
    // The operator still may.
    alice.send("/topic be very nice");
    alice.expect_stamped("* alice set the topic: be very nice");
    bob.expect_stamped("* alice set the topic: be very nice");
    carol.expect_stamped("* alice set the topic: be nice");
    carol.expect_stamped("* alice set the topic: be very nice");
    carol.send("/topic");
    carol.expect_exact("-- Topic of lobby: be very nice (set by alice)");
    // The lock is per room: games is not locked.
    carol.send("/join games");
    carol.expect_exact("-- 1 user in games: carol");
    carol.send("/topic free for all");
    carol.expect_stamped("* carol set the topic: free for all");
    alice.expect_stamped("* carol went to room games");
    alice.send("/topiclock off");
    alice.expect_exact("-- The topic of lobby is now unlocked.");
    bob.send("/topic anarchy");
    bob.expect_stamped("* bob set the topic: anarchy");
    bob.send("/topiclock maybe");
    bob.expect_next("a usage error", |l| {
        l.starts_with("! usage: /topiclock on|off")
    });
}
