//! Rooms: who is listed, what stays inside a room, empty rooms, topics.

use super::{valid_room_name, MAX_ROOM_CHARS};
use crate::chat::testing::*;
use crate::chat::*;

#[test]
fn users_lists_the_room_without_ghosts() {
    let mut h = Harness::new();
    h.login(1, "carol");
    h.login(2, "Bob");
    h.login(3, "alice");
    h.disconnect(1);
    h.line(2, "/who");
    match &h.delivered_to(2)[..] {
        [Event::Info(Info::Users { users, .. })] => {
            let names: Vec<&str> = users.iter().map(|u| &*u.nick).collect();
            assert_eq!(names, ["alice", "Bob"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rooms_isolate_traffic_and_empty_rooms_disappear() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.line(1, "/join games");
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Left { how: Departure::Moved { to }, .. }] if &**to == "games"
    ));
    h.line(3, "/join GAMES");
    assert!(matches!(&h.delivered_to(1)[..], [Event::Joined { .. }]));
    h.line(1, "in games");
    assert!(h.delivered_to(2).is_empty());
    assert!(is_message(&h.delivered_to(3)[0], "in games"));
    h.line(2, "in lobby");
    assert!(h.delivered_to(1).is_empty() && h.delivered_to(3).is_empty());
    assert_eq!(h.chat.rooms.len(), 2);
    h.line(1, "/part");
    h.line(3, "/part");
    assert_eq!(h.chat.rooms.len(), 1, "the empty room is gone");
    let outs = h.line(3, "/part");
    assert!(matches!(
        refusal_of(&outs),
        Some(Refusal::AlreadyThere { .. })
    ));
}

#[test]
fn topic_lock_is_for_operators() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    assert_eq!(
        refusal_of(&h.line(2, "/topiclock on")),
        Some(Refusal::NotOperator)
    );
    h.line(1, "/topiclock on");
    assert!(matches!(
        refusal_of(&h.line(2, "/topic mine")),
        Some(Refusal::TopicLocked { .. })
    ));
    h.line(1, "/topic Release day");
    assert!(
        matches!(&h.delivered_to(2)[..], [Event::TopicSet { topic, .. }] if &**topic == "Release day")
    );
}

#[test]
fn room_names() {
    for ok in ["games", "한국어방", "a", "dev-ops.2", "x_y"] {
        assert!(valid_room_name(ok), "{ok}");
    }
    let long = "r".repeat(MAX_ROOM_CHARS + 1);
    for bad in ["", "a/b", "two words", "#chan", "a\u{200b}b", long.as_str()] {
        assert!(!valid_room_name(bad), "{bad}");
    }
}

/// The line protocol keeps everyone in one room, but membership is a relation: a session in two
/// rooms hears both, leaves one without disturbing the other's member list, and its departure
/// is announced in every room it was in.
#[test]
fn a_session_in_two_rooms_hears_both_and_is_missed_in_both() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.line(3, "/join games");
    let alice = h.chat.sessions.session_of(ConnId(1)).unwrap();
    let games = h.chat.rooms.find("games").unwrap();
    // A session in several rooms is one whose protocol keeps rooms (IRC).
    h.chat.sessions[alice].set_keeps_rooms(true);
    h.chat.rooms.enter(games, alice, &mut h.chat.sessions, 0);
    h.chat.check_invariants().unwrap();
    assert_eq!(h.chat.rooms[games].members().len(), 2);

    h.line(3, "anyone for chess?");
    assert!(is_message(&h.delivered_to(1)[0], "anyone for chess?"));
    h.line(2, "hi");
    assert!(is_message(&h.delivered_to(1)[0], "hi"));
    assert!(h.delivered_to(3).is_empty(), "lobby stays out of games");

    h.disconnect(1);
    h.chat.check_invariants().unwrap();
    for (conn, room) in [(2, "lobby"), (3, "games")] {
        let got = h.delivered_to(conn);
        assert!(
            matches!(&got[..], [Event::Left { room: r, how: Departure::Lost { .. }, .. }] if &**r == room),
            "{conn}: {got:?}"
        );
    }
    h.advance(121);
    for (conn, room) in [(2, "lobby"), (3, "games")] {
        let got = h.delivered_to(conn);
        assert!(
            matches!(&got[..], [Event::Left { room: r, how: Departure::GraceExpired { .. }, .. }] if &**r == room),
            "{conn}: {got:?}"
        );
    }
}

#[test]
fn leaving_one_room_keeps_every_other_members_place() {
    let mut h = Harness::new();
    for (conn, nick) in [(1, "ann"), (2, "bob"), (3, "cid"), (4, "dee")] {
        h.login(conn, nick);
    }
    let sid = |h: &Harness, conn| h.chat.sessions.session_of(ConnId(conn)).unwrap();
    let side = h.chat.rooms.open("side");
    for conn in [2, 3, 4] {
        let s = sid(&h, conn);
        h.chat.sessions[s].set_keeps_rooms(true);
        h.chat.rooms.enter(side, s, &mut h.chat.sessions, 0);
    }
    // bob leaves both lists from their middles: the sessions moved into his places still point
    // at where they are now.
    let lobby = h.chat.rooms.find("lobby").unwrap();
    let bob = sid(&h, 2);
    h.chat.rooms.leave(side, bob, &mut h.chat.sessions);
    h.chat.check_invariants().unwrap();
    h.chat.rooms.leave(lobby, bob, &mut h.chat.sessions);
    h.chat.rooms.enter(side, bob, &mut h.chat.sessions, 0);
    h.chat.check_invariants().unwrap();
    assert_eq!(h.chat.rooms[lobby].members().len(), 3);
    assert_eq!(h.chat.rooms[side].members().len(), 3);
    assert_eq!(
        h.chat.sessions[bob].room(),
        side,
        "his only room is now his current one"
    );
}

#[test]
fn a_closed_rooms_topic_and_lock_come_back_when_it_opens_again() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/join games");
    let outs = h.line(1, "/topic chess at 8");
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Keep(kept::Kept::Topic(t)) if t.room == "games" && !t.locked
    )));
    let outs = h.line(1, "/topiclock on");
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Keep(kept::Kept::Topic(t)) if t.locked
    )));
    h.line(1, "/part");
    assert!(h.chat.rooms.find("games").is_none(), "the room closed");
    h.line(2, "/join GAMES");
    let room = h.chat.rooms.find("games").expect("open again");
    let room = &h.chat.rooms[room];
    assert_eq!(room.topic().map(|(t, _)| &**t), Some("chess at 8"));
    assert!(room.topic_locked());
}

#[test]
fn kept_topics_wait_for_their_rooms_and_the_oldest_is_forgotten_past_the_cap() {
    let mut h = Harness::with(ChatSettings {
        max_kept_topics: 1,
        ..settings()
    });
    let topic = |room: &str, changed| kept::KeptTopic {
        room: room.into(),
        name: room.into(),
        topic: Some((format!("about {room}").into(), "alice".into())),
        locked: false,
        changed,
    };
    h.chat.load_kept(
        kept::KeptState {
            topics: vec![topic("old", 1), topic("new", 2)],
            ..Default::default()
        },
        h.now,
    );
    h.login(1, "alice");
    h.line(1, "/join old");
    assert_eq!(
        h.chat.rooms[h.chat.rooms.find("old").unwrap()].topic(),
        None
    );
    h.line(1, "/join new");
    let outs = h.line(1, "/join other");
    assert!(
        !outs
            .iter()
            .any(|o| matches!(o, Output::Keep(kept::Kept::TopicForgotten { .. }))),
        "new had its topic back and kept it: {outs:?}"
    );
    let new = h.chat.rooms.find("new");
    assert!(new.is_none());
    // "new" closed with its topic: the only one kept. A second closed topic pushes it out.
    h.line(1, "/topic mine");
    let outs = h.line(1, "/join lobby");
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Keep(kept::Kept::TopicForgotten { room }) if room == "new"
    )));
}

#[test]
fn unlocking_a_room_without_a_topic_leaves_nothing_kept() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.line(1, "/join games");
    let outs = h.line(1, "/topiclock on");
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Keep(kept::Kept::Topic(t)) if t.locked && t.topic.is_none())));
    let outs = h.line(1, "/topiclock off");
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Keep(kept::Kept::TopicForgotten { room }) if room == "games"
    )));
}
