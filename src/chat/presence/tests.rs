//! Presence summaries in rooms over `--presence-max-room` (see `presence.rs`).

use crate::chat::nick::cmp_nicks;
use crate::chat::testing::*;
use crate::chat::*;

/// A room of up to three gets a line per arrival; a bigger one gets summaries every 5 s.
fn small_limit() -> ChatSettings {
    ChatSettings {
        presence_max_room: 3,
        presence_every: Duration::from_secs(5),
        ..settings()
    }
}

fn harness(settings: ChatSettings) -> Harness {
    let mut h = Harness::new();
    h.chat = Chat::new(settings);
    h
}

fn summaries(h: &Harness, conn: usize) -> Vec<PresenceSummary> {
    h.delivered_to(conn)
        .into_iter()
        .filter_map(|e| match e {
            Event::Presence(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn presence_lines(h: &Harness, conn: usize) -> usize {
    h.delivered_to(conn)
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Joined { .. } | Event::Left { .. } | Event::Reconnected { .. }
            )
        })
        .count()
}

fn names(list: &[Arc<str>]) -> Vec<&str> {
    list.iter().map(|n| &**n).collect()
}

#[test]
fn arrivals_in_a_big_room_become_one_summary() {
    let mut h = harness(small_limit());
    for (conn, nick) in [(1, "ann"), (2, "bob"), (3, "cid")] {
        h.login(conn, nick);
    }
    // The fourth member makes the room big: nobody gets a line for each of the next arrivals.
    for conn in 4..=12 {
        h.login(conn, &format!("user{conn}"));
        for member in 1..conn {
            assert_eq!(
                presence_lines(&h, member),
                0,
                "user{conn} announced to {member}"
            );
        }
    }
    h.advance(4);
    assert!(summaries(&h, 1).is_empty(), "not yet due");
    h.advance(1);
    let got = summaries(&h, 1);
    assert_eq!(got.len(), 1, "{:?}", h.out.items);
    let s = &got[0];
    assert_eq!(s.joined_total, 9);
    assert_eq!(
        names(&s.joined),
        ["user4", "user5", "user6", "user7", "user8"],
        "the first names, in arrival order"
    );
    assert_eq!((s.left_total, s.members), (0, 12));
    // Every member gets it, the arrivals included; then nothing more until something happens.
    for conn in 1..=12 {
        assert_eq!(summaries(&h, conn).len(), 1, "conn {conn}");
    }
    h.advance(10);
    assert!(h.out.items.is_empty());
}

#[test]
fn departures_and_returns_are_summarised_and_kicks_are_not() {
    let mut h = harness(small_limit());
    for conn in 1..=6 {
        h.login(conn, &format!("user{conn}"));
    }
    h.advance(5); // the arrivals' summary
    h.line(6, "/quit");
    h.disconnect(5);
    h.connect(15, ip(5));
    h.line(15, "user5"); // back from the same address: a reconnect
    assert_eq!(presence_lines(&h, 1), 0);
    h.line(1, "/kick user4 spam"); // user1, the first, is operator
    assert!(
        h.delivered_to(2).iter().any(
            |e| matches!(e, Event::Left { how: Departure::Kicked { .. }, nick, .. } if &**nick == "user4")
        ),
        "a kick is announced at once: {:?}",
        h.delivered_to(2)
    );
    h.advance(5);
    let got = summaries(&h, 2);
    assert_eq!(got.len(), 1);
    assert_eq!(names(&got[0].left), ["user6", "user5"]);
    assert_eq!(names(&got[0].joined), ["user5"]);
    assert_eq!(got[0].members, 4, "user1, user2, user3 and user5");
}

#[test]
fn a_pending_summary_keeps_order_after_the_room_shrinks() {
    let mut h = harness(small_limit());
    for conn in 1..=4 {
        h.login(conn, &format!("user{conn}"));
    }
    // The room is back to three, but a summary is pending: the departure joins it rather than
    // overtaking the arrival it follows.
    h.line(4, "/quit");
    assert_eq!(presence_lines(&h, 1), 0);
    h.advance(5);
    let got = summaries(&h, 1);
    assert_eq!(
        (got[0].joined_total, got[0].left_total, got[0].members),
        (1, 1, 3)
    );
    // With no summary pending, a small room is told line by line again.
    h.line(3, "/quit");
    assert_eq!(presence_lines(&h, 1), 1);
}

#[test]
fn every_event_is_still_stored_but_the_summary_is_not() {
    let mut h = harness(ChatSettings {
        history_enabled: true,
        ..small_limit()
    });
    for conn in 1..=3 {
        h.login(conn, &format!("user{conn}"));
    }
    h.login(4, "user4");
    let stored: Vec<_> = h
        .out
        .items
        .iter()
        .filter(|o| matches!(o, Output::Store(Event::Joined { .. })))
        .collect();
    assert_eq!(stored.len(), 1, "{:?}", h.out.items);
    h.advance(5);
    assert_eq!(summaries(&h, 1).len(), 1);
    assert!(
        !h.out.items.iter().any(|o| matches!(o, Output::Store(_))),
        "{:?}",
        h.out.items
    );
}

#[test]
fn a_held_user_gets_the_summary_in_the_replay() {
    let mut h = harness(small_limit());
    for conn in 1..=4 {
        h.login(conn, &format!("user{conn}"));
    }
    h.advance(5);
    h.disconnect(2);
    h.login(5, "user5");
    h.advance(5);
    h.connect(12, ip(2));
    h.line(12, "user2");
    let replayed = h.delivered_to(12);
    assert!(
        replayed
            .iter()
            .any(|e| matches!(e, Event::Presence(s) if names(&s.joined) == ["user5"])),
        "{replayed:?}"
    );
}

#[test]
fn a_summary_for_a_room_that_went_away_is_not_sent_to_its_successor() {
    let mut h = harness(small_limit());
    for conn in 1..=4 {
        h.login(conn, &format!("user{conn}"));
        h.line(conn, "/join games");
    }
    // games is big and has a summary pending; everybody leaves it, then a new room takes its slot.
    for conn in 1..=4 {
        h.line(conn, "/join lobby");
    }
    h.line(1, "/join chess");
    h.advance(5);
    assert!(
        summaries(&h, 1).iter().all(|s| &*s.room != "chess"),
        "{:?}",
        h.out.items
    );
}

#[test]
fn welcome_and_join_give_counts_not_names_in_big_rooms() {
    let mut h = harness(small_limit());
    for conn in 1..=3 {
        h.login(conn, &format!("user{conn}"));
    }
    h.login(4, "user4");
    let welcome = h.delivered_to(4).into_iter().find_map(|e| match e {
        Event::Info(Info::Welcome {
            online,
            online_total,
            ..
        }) => Some((online, online_total)),
        _ => None,
    });
    assert_eq!(welcome, Some((Vec::new(), 4)));
    h.line(4, "/join side");
    h.line(4, "/join lobby");
    assert!(
        h.delivered_to(4).contains(&Event::Info(Info::UserCount {
            room: Arc::from("lobby"),
            members: 4,
        })),
        "{:?}",
        h.delivered_to(4)
    );
    // /users still lists everybody.
    h.line(4, "/users");
    assert!(matches!(
        &h.delivered_to(4)[..],
        [Event::Info(Info::Users { users, .. })] if users.len() == 4
    ));
}

#[test]
fn user_lists_sort_case_blind_then_exactly() {
    let mut nicks = ["bob", "Alice", "alice2", "ALICE3", "Émile", "emil"];
    nicks.sort_by(|a, b| cmp_nicks(a, b));
    assert_eq!(nicks, ["Alice", "alice2", "ALICE3", "bob", "emil", "Émile"]);
}

#[test]
fn presence_faster_than_a_person_reads_is_summarised_in_a_small_room() {
    // Six lines a minute: one at once, then one every ten seconds.
    let mut h = harness(ChatSettings {
        presence_rate: 6,
        presence_max_room: 100,
        ..small_limit()
    });
    h.login(1, "ann");
    h.advance(10);
    h.login(2, "bob");
    assert_eq!(presence_lines(&h, 1), 1, "the first arrival is a line");
    h.connect(3, ip(3));
    h.line(3, "cid");
    assert_eq!(
        presence_lines(&h, 1),
        0,
        "the next, at once, waits for a summary"
    );
    h.disconnect(3);
    assert_eq!(presence_lines(&h, 1), 0);
    h.advance(5);
    let got = summaries(&h, 1);
    assert_eq!(got.len(), 1, "{:?}", h.out.items);
    assert_eq!((got[0].joined_total, got[0].left_total), (1, 1));
    // Once the allowance has refilled, a line is a line again.
    h.advance(10);
    h.login(4, "dee");
    assert_eq!(presence_lines(&h, 1), 1);
}
