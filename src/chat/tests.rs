//! Unit tests of the chat core: no sockets, time passed in.

use super::event::{HistoryError, HistoryLines, HistoryWhat};
use super::*;
use std::net::Ipv4Addr;

fn settings() -> ChatSettings {
    ChatSettings {
        grace: Duration::from_secs(120),
        replay_max: 3,
        rules: Arc::from("be kind"),
        max_schedules: 2,
        utc: true,
        history_enabled: false,
        ..ChatSettings::default()
    }
}

struct Harness {
    chat: Chat,
    out: Outbox,
    now: Now,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

impl Harness {
    fn new() -> Self {
        Harness {
            chat: Chat::new(settings()),
            out: Outbox::default(),
            now: Now {
                mono: Instant::now(),
                wall: 1_704_112_496_000,
            },
        }
    }

    fn connect(&mut self, conn: usize, from: IpAddr) {
        self.chat.connect(ConnId(conn), Peer { ip: from });
    }

    fn line(&mut self, conn: usize, text: &str) -> Vec<Output> {
        self.out.clear();
        self.chat.line(ConnId(conn), text, self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
        self.out.items.clone()
    }

    fn login(&mut self, conn: usize, nick: &str) {
        self.connect(conn, ip(conn as u8));
        let outs = self.line(conn, nick);
        assert!(
            outs.contains(&Output::LoggedIn { conn: ConnId(conn) }),
            "{outs:?}"
        );
    }

    /// The events delivered to `conn` by the last call, in order.
    fn delivered_to(&self, conn: usize) -> Vec<Event> {
        self.out
            .items
            .iter()
            .filter_map(|o| match o {
                Output::ToConn { conn: c, event } if c.0 == conn => Some(event.clone()),
                Output::ToMany { start, end, event }
                    if self.out.recipients[*start..*end].contains(&ConnId(conn)) =>
                {
                    Some(event.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn advance(&mut self, secs: u64) {
        self.now.mono += Duration::from_secs(secs);
        self.now.wall += secs * 1000;
        self.out.clear();
        self.chat.on_timer(self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
    }

    fn disconnect(&mut self, conn: usize) {
        self.out.clear();
        self.chat
            .disconnect(ConnId(conn), LostReason::Reset, self.now, &mut self.out);
    }
}

fn is_message(e: &Event, text: &str) -> bool {
    matches!(e, Event::Message { text: t, .. } if &**t == text)
}

#[test]
fn a_message_reaches_everyone_else_in_the_room_once() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.line(1, "hello");
    assert!(h.delivered_to(1).is_empty());
    for conn in [2, 3] {
        let got = h.delivered_to(conn);
        assert_eq!(got.len(), 1);
        assert!(is_message(&got[0], "hello"));
    }
    // One shared delivery, not one per recipient.
    assert_eq!(h.out.items.len(), 1);
}

#[test]
fn login_refusals_keep_the_connection_at_the_prompt() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.connect(2, ip(2));
    for (name, expect_lookalike) in [
        ("ALICE", Some(false)),
        ("\u{430}lice", Some(true)),
        ("a b", None),
    ] {
        let outs = h.line(2, name);
        match (&outs[0], expect_lookalike) {
            (
                Output::ToConn {
                    event: Event::Refused(Refusal::NickTaken { lookalike, .. }),
                    ..
                },
                Some(l),
            ) => assert_eq!(*lookalike, l, "{name}"),
            (
                Output::ToConn {
                    event: Event::Refused(Refusal::NickInvalid(_)),
                    ..
                },
                None,
            ) => {}
            other => panic!("{name}: {other:?}"),
        }
        assert!(matches!(
            outs[1],
            Output::ToConn {
                event: Event::Info(Info::NickPrompt),
                ..
            }
        ));
    }
    let outs = h.line(2, "bob");
    assert!(outs.contains(&Output::LoggedIn { conn: ConnId(2) }));
}

#[test]
fn a_lost_user_gets_missed_lines_on_reconnect_from_the_same_address() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.disconnect(1);
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Left {
            how: Departure::Lost { .. },
            ..
        }]
    ));
    h.line(2, "one");
    h.line(2, "two");
    h.connect(5, ip(1));
    h.line(5, "alice");
    let got = h.delivered_to(5);
    assert!(matches!(
        got[0],
        Event::Info(Info::Welcome { resumed: true, .. })
    ));
    assert_eq!(
        got[1],
        Event::Info(Info::MissedHeader { shown: 2, total: 2 })
    );
    assert!(is_message(&got[2], "one"));
    assert!(is_message(&got[3], "two"));
    assert_eq!(got[4], Event::Info(Info::MissedEnd));
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Reconnected { .. }]
    ));
    assert_eq!(h.chat.online(), 2);
}

#[test]
fn the_replay_is_bounded_and_says_how_much_was_missed() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.disconnect(1);
    for i in 0..5 {
        h.line(2, &format!("m{i}"));
    }
    h.connect(5, ip(1));
    h.line(5, "alice");
    let got = h.delivered_to(5);
    assert_eq!(
        got[1],
        Event::Info(Info::MissedHeader { shown: 3, total: 5 })
    );
    assert!(is_message(&got[2], "m2"));
    assert!(is_message(&got[4], "m4"));
}

#[test]
fn a_held_name_is_refused_from_another_address_without_the_key() {
    let mut h = Harness::new();
    h.login(1, "alice");
    let key = h
        .chat
        .sessions
        .iter()
        .next()
        .unwrap()
        .1
        .resume_key
        .to_string();
    h.disconnect(1);
    h.connect(7, ip(99));
    let outs = h.line(7, "alice");
    assert!(matches!(
        outs[0],
        Output::ToConn {
            event: Event::Refused(Refusal::NickHeld {
                wrong_key: false,
                ..
            }),
            ..
        }
    ));
    let outs = h.line(7, "alice 0000aaaabbbb");
    assert!(matches!(
        outs[0],
        Output::ToConn {
            event: Event::Refused(Refusal::NickHeld {
                wrong_key: true,
                ..
            }),
            ..
        }
    ));
    let outs = h.line(7, &format!("alice {key}"));
    assert!(outs.contains(&Output::LoggedIn { conn: ConnId(7) }));
}

#[test]
fn the_resume_key_takes_over_a_live_session() {
    let mut h = Harness::new();
    h.login(1, "alice");
    let key = h
        .chat
        .sessions
        .iter()
        .next()
        .unwrap()
        .1
        .resume_key
        .to_string();
    h.connect(2, ip(50));
    let outs = h.line(2, &format!("alice {key}"));
    assert!(outs.contains(&Output::Close {
        conn: ConnId(1),
        bye: Some(Bye::ResumedElsewhere)
    }));
    assert!(h.chat.is_logged_in(ConnId(2)));
    assert!(!h.chat.is_logged_in(ConnId(1)));
    assert_eq!(h.chat.online(), 1);
    // The old connection's later loss must not disturb the session.
    h.disconnect(1);
    assert!(h.out.items.is_empty());
    assert!(h.chat.is_logged_in(ConnId(2)));
}

#[test]
fn grace_expiry_frees_the_name_and_tells_the_room() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.disconnect(1);
    h.advance(119);
    assert!(h.out.items.is_empty());
    h.advance(1);
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Left {
            how: Departure::GraceExpired { grace_secs: 120 },
            ..
        }]
    ));
    h.connect(9, ip(77));
    let outs = h.line(9, "alice");
    assert!(outs.contains(&Output::LoggedIn { conn: ConnId(9) }));
}

#[test]
fn a_resumed_session_ignores_its_old_grace_timer() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.disconnect(1);
    h.advance(60);
    h.connect(3, ip(1));
    h.line(3, "alice");
    h.advance(60);
    assert!(h.out.items.is_empty());
    assert!(h.chat.is_logged_in(ConnId(3)));
}

#[test]
fn quit_frees_the_name_at_once_and_closes_with_a_goodbye() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    let outs = h.line(1, "/quit bye all");
    assert!(outs.contains(&Output::Close {
        conn: ConnId(1),
        bye: Some(Bye::Quit {
            nick: Arc::from("alice")
        })
    }));
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Left { how: Departure::Quit { message: Some(m) }, .. }] if &**m == "bye all"
    ));
    // Lines after /quit from the same connection count for nothing.
    assert!(h.line(1, "still here?").is_empty());
    h.disconnect(1);
    assert!(h.out.items.is_empty());
    h.connect(3, ip(3));
    assert!(h
        .line(3, "alice")
        .contains(&Output::LoggedIn { conn: ConnId(3) }));
}

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
fn control_characters_never_reach_the_room() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "\u{1b}[31mred\u{1b}[0m\u{7}");
    assert!(is_message(&h.delivered_to(2)[0], "red"));
    assert!(h.line(1, "\u{1b}[2J").is_empty());
}

fn refusal_of(outs: &[Output]) -> Option<Refusal> {
    outs.iter().find_map(|o| match o {
        Output::ToConn {
            event: Event::Refused(r),
            ..
        } => Some(r.clone()),
        _ => None,
    })
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
fn whispers_reach_only_the_target_and_wait_for_a_held_one() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.line(1, "/w BOB psst");
    assert!(matches!(&h.delivered_to(2)[..], [Event::Whisper { text, .. }] if &**text == "psst"));
    assert!(h.delivered_to(3).is_empty());
    assert!(matches!(
        &h.delivered_to(1)[..],
        [Event::Info(Info::WhisperSent { .. })]
    ));
    let outs = h.line(1, "/msg nobody hi");
    assert!(matches!(
        refusal_of(&outs),
        Some(Refusal::NoSuchUser { .. })
    ));
    h.disconnect(2);
    h.line(1, "/msg bob are you back?");
    assert!(matches!(
        &h.delivered_to(1)[..],
        [
            Event::Info(Info::WhisperSent { .. }),
            Event::Info(Info::WhisperHeld { .. })
        ]
    ));
    h.connect(9, ip(2));
    h.line(9, "bob");
    assert!(h
        .delivered_to(9)
        .iter()
        .any(|e| matches!(e, Event::Whisper { text, .. } if &**text == "are you back?")));
}

#[test]
fn renaming_frees_the_old_name_at_once() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    let outs = h.line(1, "/nick bob");
    assert!(matches!(refusal_of(&outs), Some(Refusal::NickTaken { .. })));
    h.line(1, "/nick alice2");
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Renamed { old, new, .. }] if &**old == "alice" && &**new == "alice2"
    ));
    h.connect(3, ip(3));
    assert!(h
        .line(3, "alice")
        .contains(&Output::LoggedIn { conn: ConnId(3) }));
}

#[test]
fn scheduled_messages_fire_on_time_and_can_be_cancelled() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/schedule +90s stand-up");
    h.line(1, "/schedule +2m coffee");
    let outs = h.line(1, "/schedule +3m too many");
    assert!(matches!(
        refusal_of(&outs),
        Some(Refusal::TooManySchedules { max: 2 })
    ));
    for bad in [
        "/schedule +0s x",
        "/schedule +25h x",
        "/schedule 24:00 x",
        "/schedule soon x",
    ] {
        assert!(
            matches!(refusal_of(&h.line(1, bad)), Some(Refusal::BadTime { .. })),
            "{bad}"
        );
    }
    h.line(1, "/unschedule 2");
    assert_eq!(
        h.chat.next_deadline(),
        Some(h.now.mono + Duration::from_secs(90))
    );
    h.advance(89);
    assert!(h.out.items.is_empty());
    h.line(1, "/quit");
    h.advance(1);
    assert!(matches!(
        &h.delivered_to(2)[..],
        [Event::Scheduled { text, from, .. }] if &**text == "stand-up" && &**from == "alice"
    ));
    h.advance(60);
    assert!(h.out.items.is_empty(), "the cancelled one never fires");
}

#[test]
fn kick_needs_an_operator_and_leaves_no_grace() {
    let mut h = Harness::new();
    h.login(1, "alice"); // first user of an empty server without an admin key: operator
    h.login(2, "bob");
    h.login(3, "carol");
    let outs = h.line(2, "/kick carol");
    assert_eq!(refusal_of(&outs), Some(Refusal::NotOperator));
    let outs = h.line(1, "/kick bob spamming");
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Close {
            conn: ConnId(2),
            bye: Some(Bye::Kicked { .. })
        }
    )));
    assert!(matches!(
        &h.delivered_to(3)[..],
        [Event::Left {
            how: Departure::Kicked { .. },
            ..
        }]
    ));
    // The session is gone: the name is free for anyone, from anywhere.
    h.connect(7, ip(77));
    assert!(h
        .line(7, "bob")
        .contains(&Output::LoggedIn { conn: ConnId(7) }));
}

#[test]
fn a_ban_keeps_the_name_and_the_address_out_until_it_expires() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/ban bob 5");
    h.connect(3, ip(2));
    let outs = h.line(3, "bobby");
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Close {
            bye: Some(Bye::Banned { minutes_left: 5 }),
            ..
        }
    )));
    h.connect(4, ip(44));
    let outs = h.line(4, "bob");
    assert!(matches!(
        refusal_of(&outs),
        Some(Refusal::NickBanned { .. })
    ));
    h.advance(5 * 60);
    assert!(h
        .line(4, "bob")
        .contains(&Output::LoggedIn { conn: ConnId(4) }));
}

#[test]
fn op_with_an_admin_key() {
    let mut h = Harness::new();
    h.chat.settings.admin_key = Some("sekrit".into());
    h.login(1, "alice");
    assert_eq!(
        refusal_of(&h.line(1, "/kick nobody")),
        Some(Refusal::NotOperator)
    );
    assert_eq!(refusal_of(&h.line(1, "/op wrong")), Some(Refusal::BadKey));
    assert!(matches!(
        &h.line(1, "/op sekrit")[..],
        [Output::ToConn {
            event: Event::Info(Info::NowOperator),
            ..
        }]
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

// ----- history -------------------------------------------------------------------------------

fn with_history() -> Harness {
    let mut h = Harness::new();
    h.chat.settings.history_enabled = true;
    h.chat.settings.backlog_lines = 10;
    h
}

fn stored(outs: &[Output]) -> Vec<Event> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Store(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn queries(outs: &[Output]) -> Vec<(usize, HistoryQuery)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Query { conn, query } => Some((conn.0, query.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn room_events_are_stored_with_ids_and_whispers_are_not() {
    let mut h = with_history();
    h.login(1, "alice");
    let login = h.line(2, "bob"); // not connected yet: nothing
    assert!(login.is_empty());
    h.connect(2, ip(2));
    let login = h.line(2, "bob");
    assert!(matches!(&stored(&login)[..], [Event::Joined { nick, .. }] if &**nick == "bob"));
    let said = h.line(1, "hello");
    assert_eq!(stored(&said).len(), 1);
    assert!(is_message(&stored(&said)[0], "hello"));
    assert!(stored(&h.line(1, "/msg bob psst")).is_empty());
    assert!(matches!(
        &stored(&h.line(1, "/me waves"))[..],
        [Event::Action { .. }]
    ));
    let moved = stored(&h.line(2, "/join games"));
    assert!(matches!(
        &moved[..],
        [Event::Left { how: Departure::Moved { .. }, id: a, .. }, Event::Joined { id: b, .. }] if a < b
    ));
}

#[test]
fn a_room_event_is_stored_even_with_nobody_to_hear_it() {
    let mut h = with_history();
    h.login(1, "alice");
    let said = h.line(1, "anyone?");
    assert_eq!(stored(&said).len(), 1);
    assert!(!said.iter().any(|o| matches!(o, Output::ToMany { .. })));
}

#[test]
fn login_and_join_ask_for_the_backlog_before_announcing_the_arrival() {
    let mut h = with_history();
    h.connect(1, ip(1));
    let outs = h.line(1, "alice");
    let query_at = outs
        .iter()
        .position(|o| matches!(o, Output::Query { .. }))
        .unwrap();
    let store_at = outs
        .iter()
        .position(|o| matches!(o, Output::Store(_)))
        .unwrap();
    assert!(query_at < store_at, "{outs:?}");
    assert_eq!(
        queries(&outs),
        [(
            1,
            HistoryQuery {
                room: Arc::from(LOBBY),
                what: HistoryWhat::Backlog { n: 10 }
            }
        )]
    );
    let outs = h.line(1, "/join Games");
    assert!(matches!(&queries(&outs)[..], [(1, q)] if &*q.room == "Games"));
    h.chat.settings.backlog_lines = 0;
    assert!(queries(&h.line(1, "/join lobby")).is_empty());
}

#[test]
fn history_and_search_commands_become_queries() {
    let mut h = with_history();
    h.login(1, "alice");
    let what = |h: &mut Harness, line: &str| {
        let outs = h.line(1, line);
        queries(&outs).pop().map(|(_, q)| q.what)
    };
    assert_eq!(what(&mut h, "/history"), Some(HistoryWhat::Last { n: 20 }));
    assert_eq!(what(&mut h, "/history 5"), Some(HistoryWhat::Last { n: 5 }));
    assert_eq!(
        what(&mut h, "/history 100000"),
        Some(HistoryWhat::Last { n: 500 })
    );
    assert_eq!(
        what(&mut h, "/history 99999999999999999999999"),
        Some(HistoryWhat::Last { n: 500 })
    );
    assert_eq!(
        what(&mut h, "/history 2024-01-01"),
        Some(HistoryWhat::Day {
            day: Arc::from("2024-01-01"),
            from: 1_704_067_200_000,
            to: 1_704_153_600_000,
            max: 500
        })
    );
    assert_eq!(
        what(&mut h, "/search \"release\" OR x"),
        Some(HistoryWhat::Search {
            words: Arc::from("\"release\" OR x"),
            max: 50
        })
    );
    assert!(matches!(
        refusal_of(&h.line(1, "/history 0")),
        Some(Refusal::Usage(_))
    ));
    for bad in ["/history 2024-02-30", "/history yesterday", "/history -3"] {
        assert_eq!(refusal_of(&h.line(1, bad)), Some(Refusal::BadDate), "{bad}");
    }
}

#[test]
fn without_history_nothing_is_stored_and_the_commands_say_so() {
    let mut h = Harness::new();
    h.login(1, "alice");
    assert!(stored(&h.line(1, "hello")).is_empty());
    assert_eq!(
        refusal_of(&h.line(1, "/history")),
        Some(Refusal::HistoryOff)
    );
    assert_eq!(
        refusal_of(&h.line(1, "/search x")),
        Some(Refusal::HistoryOff)
    );
}

fn old_message(at: u64, text: &str) -> Event {
    Event::Message {
        id: id::MsgId::first_at(at),
        at,
        room: Arc::from(LOBBY),
        from: Arc::from("bob"),
        text: Arc::from(text),
    }
}

fn answer(what: HistoryWhat, events: Vec<Event>) -> HistoryAnswer {
    let total = events.len();
    HistoryAnswer {
        query: HistoryQuery {
            room: Arc::from(LOBBY),
            what,
        },
        result: Ok(HistoryLines { events, total }),
    }
}

#[test]
fn an_answer_is_framed_and_dates_lines_from_other_days() {
    let mut h = with_history();
    h.login(1, "alice");
    let today = h.now.wall;
    let yesterday = today - 86_400_000;
    h.out.clear();
    let what = HistoryWhat::Last { n: 20 };
    let events = vec![old_message(yesterday, "old"), old_message(today, "new")];
    h.chat
        .history_answer(ConnId(1), answer(what.clone(), events), h.now, &mut h.out);
    let got = h.delivered_to(1);
    assert!(
        matches!(
            &got[..],
            [
                Event::Info(Info::HistoryStart {
                    shown: 2,
                    total: 2,
                    ..
                }),
                Event::Past { dated: true, .. },
                Event::Past { dated: false, .. },
                Event::Info(Info::HistoryEnd { .. }),
            ]
        ),
        "{got:?}"
    );
}

#[test]
fn a_long_answer_is_cut_to_the_output_budget_keeping_the_newest() {
    let mut h = with_history();
    h.chat.settings.history_budget = 10_000;
    h.login(1, "alice");
    let long = "x".repeat(1000);
    let events: Vec<Event> = (0..50)
        .map(|i| old_message(h.now.wall + i, &long))
        .collect();
    let newest = events.last().cloned().unwrap();
    h.out.clear();
    h.chat.history_answer(
        ConnId(1),
        answer(HistoryWhat::Last { n: 50 }, events),
        h.now,
        &mut h.out,
    );
    let got = h.delivered_to(1);
    let Event::Info(Info::HistoryStart { shown, total, .. }) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!((*shown, *total), (9, 50));
    assert_eq!(got.len(), 9 + 2);
    assert!(matches!(&got[9], Event::Past { event, .. } if **event == newest));
}

#[test]
fn empty_backlogs_failures_and_answers_for_departed_connections() {
    let mut h = with_history();
    h.login(1, "alice");
    h.out.clear();
    let backlog = HistoryWhat::Backlog { n: 10 };
    h.chat.history_answer(
        ConnId(1),
        answer(backlog.clone(), vec![]),
        h.now,
        &mut h.out,
    );
    assert!(h.out.items.is_empty(), "an empty backlog shows nothing");
    let failed = |what| HistoryAnswer {
        query: HistoryQuery {
            room: Arc::from(LOBBY),
            what,
        },
        result: Err(HistoryError::Failed),
    };
    h.chat
        .history_answer(ConnId(1), failed(backlog), h.now, &mut h.out);
    assert!(h.out.items.is_empty(), "a failed backlog is only logged");
    h.chat.history_answer(
        ConnId(1),
        failed(HistoryWhat::Last { n: 1 }),
        h.now,
        &mut h.out,
    );
    assert_eq!(
        refusal_of(&h.out.items.clone()),
        Some(Refusal::HistoryFailed)
    );
    h.out.clear();
    h.chat
        .disconnect(ConnId(1), LostReason::Closed, h.now, &mut h.out);
    h.out.clear();
    let events = vec![old_message(h.now.wall, "late")];
    h.chat.history_answer(
        ConnId(1),
        answer(HistoryWhat::Last { n: 1 }, events),
        h.now,
        &mut h.out,
    );
    assert!(h.out.items.is_empty());
}

// ----- shared files ---------------------------------------------------------------------------

fn file_settings(auto_accept_max: u64) -> ChatSettings {
    ChatSettings {
        max_file: 100,
        file_store: 250,
        file_ttl: Duration::from_secs(60),
        auto_accept_max,
        ..settings()
    }
}

impl Harness {
    fn with(settings: ChatSettings) -> Self {
        Harness {
            chat: Chat::new(settings),
            ..Harness::new()
        }
    }

    /// `/file NAME SIZE` from `conn`, then its bytes; returns what the bytes produced.
    fn upload(&mut self, conn: usize, name: &str, payload: &'static [u8]) -> Vec<Output> {
        let outs = self.line(conn, &format!("/file {name} {}", payload.len()));
        assert!(
            outs.contains(&Output::ReceiveFile {
                conn: ConnId(conn),
                size: payload.len() as u64,
                keep: crate::codec::file::Keep::Collect,
            }),
            "{outs:?}"
        );
        self.out.clear();
        let now = self.now;
        self.chat.file_received(
            ConnId(conn),
            bytes::Bytes::from_static(payload),
            now,
            &mut self.out,
        );
        self.out.items.clone()
    }

    fn file_notices_to(&self, conn: usize) -> Vec<FileNotice> {
        self.delivered_to(conn)
            .into_iter()
            .filter_map(|e| match e {
                Event::File(n) => Some(n),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_file_is_offered_to_the_room_and_taken_or_declined_per_user() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.upload(1, "../notes.txt", b"hello");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::Offered { id: 1, name, size: 5, pushed: false, .. }] if &**name == "notes.txt"
    ));
    assert!(matches!(
        &h.file_notices_to(1)[..],
        [FileNotice::OfferUp { id: 1, size: 5, .. }]
    ));
    h.line(2, "/files");
    assert!(
        matches!(&h.file_notices_to(2)[..], [FileNotice::List { entries }] if entries.len() == 1)
    );
    h.line(2, "/accept #1");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::Data { id: 1, payload, .. }] if &payload[..] == b"hello"
    ));
    h.line(3, "/decline 1");
    assert_eq!(h.file_notices_to(3), [FileNotice::Declined { id: 1 }]);
    assert!(matches!(
        &h.file_notices_to(1)[..],
        [FileNotice::DeclinedBy { id: 1, by, .. }] if &**by == "carol"
    ));
    h.line(3, "/files");
    assert!(
        matches!(&h.file_notices_to(3)[..], [FileNotice::List { entries }] if entries.is_empty())
    );
}

#[test]
fn refused_uploads_skip_their_bytes_unless_the_size_is_unknown() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    let outs = h.line(1, "/file big.bin 101");
    assert!(outs.contains(&Output::ReceiveFile {
        conn: ConnId(1),
        size: 101,
        keep: crate::codec::file::Keep::Discard,
    }));
    assert!(matches!(
        &h.file_notices_to(1)[..],
        [FileNotice::TooLarge {
            size: 101,
            max: 100,
            ..
        }]
    ));
    let outs = h.line(1, "/file .. 10");
    assert!(outs.contains(&Output::ReceiveFile {
        conn: ConnId(1),
        size: 10,
        keep: crate::codec::file::Keep::Discard,
    }));
    assert_eq!(h.file_notices_to(1), [FileNotice::BadName]);
    for bad in ["/file a.txt lots", "/file a.txt 0", "/file a.txt -5"] {
        let outs = h.line(1, bad);
        assert!(
            !outs.iter().any(|o| matches!(o, Output::ReceiveFile { .. })),
            "{bad}: {outs:?}"
        );
        assert!(matches!(
            &h.file_notices_to(1)[..],
            [FileNotice::BadSize { .. }]
        ));
    }
}

#[test]
fn offers_expire_and_the_oldest_are_evicted_for_new_ones() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.upload(1, "a.txt", &[b'a'; 100]);
    h.upload(1, "b.txt", &[b'b'; 100]);
    let outs = h.upload(1, "c.txt", &[b'c'; 100]);
    assert!(
        outs.iter().any(|o| matches!(
            o,
            Output::ToConn {
                event: Event::File(FileNotice::Evicted { id: 1, .. }),
                ..
            }
        )),
        "{outs:?}"
    );
    h.line(2, "/accept 1");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::NoSuchFile { .. }]
    ));
    h.advance(60);
    let expired: Vec<_> = h
        .file_notices_to(1)
        .into_iter()
        .filter(|n| matches!(n, FileNotice::Expired { .. }))
        .collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    h.line(2, "/accept 3");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::NoSuchFile { .. }]
    ));
    assert_eq!(h.chat.file_store_bytes(), 0);
}

#[test]
fn an_offer_belongs_to_its_room() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.upload(1, "a.txt", b"abc");
    h.line(2, "/join games");
    h.line(2, "/accept 1");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::OtherRoom { id: 1, room }] if &**room == "lobby"
    ));
}

#[test]
fn auto_accept_pushes_small_files_to_everyone_but_the_sender() {
    let mut h = Harness::with(file_settings(10));
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.upload(1, "small.txt", b"tiny");
    for conn in [2, 3] {
        let notices = h.file_notices_to(conn);
        assert!(
            matches!(
                &notices[..],
                [FileNotice::Offered { pushed: true, .. }, FileNotice::Data { payload, .. }] if &payload[..] == b"tiny"
            ),
            "{notices:?}"
        );
    }
    assert!(!h
        .file_notices_to(1)
        .iter()
        .any(|n| matches!(n, FileNotice::Data { .. })));
    // Above the threshold it is only offered.
    h.upload(1, "large.txt", &[b'x'; 11]);
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::Offered { pushed: false, .. }]
    ));
}

#[test]
fn a_sender_lost_mid_upload_offers_nothing() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/file a.txt 5");
    let now = h.now;
    h.chat
        .disconnect(ConnId(1), LostReason::Closed, now, &mut h.out);
    h.out.clear();
    h.chat.file_received(
        ConnId(1),
        bytes::Bytes::from_static(b"hello"),
        now,
        &mut h.out,
    );
    assert!(h.out.items.is_empty(), "{:?}", h.out.items);
    h.line(2, "/files");
    assert!(
        matches!(&h.file_notices_to(2)[..], [FileNotice::List { entries }] if entries.is_empty())
    );
}

#[test]
fn a_scheduled_message_for_a_room_that_emptied_is_reported_unsent() {
    let mut h = Harness::new();
    h.login(1, "alice");
    h.line(1, "/join games");
    h.line(1, "/schedule +1m anyone?");
    h.line(1, "/part");
    h.advance(60);
    assert!(matches!(
        &h.delivered_to(1)[..],
        [Event::Info(Info::ScheduleUnsent { id: 1, room })] if &**room == "games"
    ));
    assert_eq!(h.chat.stats.scheduled_sent, 0);
}

// ----- the word game and invitations ----------------------------------------------------------

fn game_settings() -> ChatSettings {
    let mut words = crate::chat::game::words::WordBank::default();
    words.add_text("pets\tcat\n").unwrap();
    ChatSettings {
        words: Arc::new(words),
        hint_interval: Duration::from_secs(10),
        invite_ttl: Duration::from_secs(60),
        ..settings()
    }
}

fn game_notices(h: &Harness, conn: usize) -> Vec<GameNotice> {
    h.delivered_to(conn)
        .into_iter()
        .filter_map(|e| match e {
            Event::Game(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[test]
fn a_round_is_won_by_the_first_matching_line_and_scored() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/game start PETS");
    assert!(matches!(
        &game_notices(&h, 2)[..],
        [GameNotice::Started { mask, letters: 3, .. }] if &**mask == "_ _ _"
    ));
    h.line(1, "/game start");
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::AlreadyRunning { .. }]
    ));
    h.advance(10);
    assert!(
        matches!(&game_notices(&h, 1)[..], [GameNotice::Hint { mask, .. }] if mask.matches('_').count() == 2)
    );
    // A wrong guess is only a chat line; the right one wins for everybody to see.
    h.line(2, "dog");
    assert!(game_notices(&h, 1).is_empty());
    h.line(2, " CAT! ");
    let seen_by_alice = h.delivered_to(1);
    assert!(matches!(&seen_by_alice[0], Event::Message { text, .. } if &**text == " CAT!"));
    assert!(matches!(
        &seen_by_alice[1],
        Event::Game(GameNotice::Won { nick, points: 66, secs: 10, .. }) if &**nick == "bob"
    ));
    h.line(1, "/score");
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::Leaderboard { entries, .. }] if entries.len() == 1 && entries[0].points == 66 && entries[0].wins == 1
    ));
    // The round is over: its timer does nothing, and "cat" is just chat.
    h.advance(10);
    assert!(game_notices(&h, 1).is_empty());
}

#[test]
fn a_round_nobody_guesses_times_out_after_its_hints() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice");
    h.line(1, "/game start");
    h.advance(10); // c _ _ (two letters remain hidden)
    h.advance(10); // c a _ (the last letter is never shown)
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::Hint { .. }]
    ));
    h.advance(10);
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::TimeUp { word, .. }] if &**word == "cat"
    ));
    h.line(1, "/game");
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::Status { round: None, .. }]
    ));
}

#[test]
fn only_the_starter_or_an_operator_stops_a_round() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice"); // operator: first user
    h.login(2, "bob");
    h.login(3, "carol");
    h.line(2, "/game start");
    h.line(3, "/game stop");
    assert!(matches!(&game_notices(&h, 3)[..], [GameNotice::NotYours { by }] if &**by == "bob"));
    h.line(1, "/game stop");
    assert!(
        matches!(&game_notices(&h, 3)[..], [GameNotice::Stopped { word, .. }] if &**word == "cat")
    );
    h.line(2, "/game stop");
    assert!(matches!(&game_notices(&h, 2)[..], [GameNotice::NoRound]));
    h.line(2, "/game start birds");
    assert!(matches!(
        &game_notices(&h, 2)[..],
        [GameNotice::NoSuchCategory { .. }]
    ));
}

fn invite_notices(h: &Harness, conn: usize) -> Vec<InviteNotice> {
    h.delivered_to(conn)
        .into_iter()
        .filter_map(|e| match e {
            Event::Invite(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[test]
fn invitations_are_accepted_declined_refused_and_expire() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/join games");
    h.line(1, "/invite bob");
    assert!(matches!(
        &invite_notices(&h, 2)[..],
        [InviteNotice::Invited { from, room, secs: 60 }] if &**from == "alice" && &**room == "games"
    ));
    h.line(2, "/accept-invite");
    assert!(h
        .delivered_to(2)
        .iter()
        .any(|e| matches!(e, Event::Info(Info::NowInRoom { room }) if &**room == "games")));
    assert!(matches!(
        &invite_notices(&h, 1)[..],
        [InviteNotice::Accepted { .. }]
    ));
    // Already there.
    h.line(1, "/invite bob");
    assert!(matches!(
        &invite_notices(&h, 1)[..],
        [InviteNotice::AlreadyThere { .. }]
    ));
    // Declined.
    h.line(1, "/invite bob lobby");
    h.line(2, "/decline-invite alice");
    assert!(
        matches!(&invite_notices(&h, 1)[..], [InviteNotice::Declined { by }] if &**by == "bob")
    );
    h.line(2, "/accept-invite");
    assert!(matches!(
        &invite_notices(&h, 2)[..],
        [InviteNotice::NoneFrom { nick: None }]
    ));
    // Expired.
    h.line(1, "/invite bob lobby");
    h.advance(60);
    assert!(matches!(
        &invite_notices(&h, 1)[..],
        [InviteNotice::Expired { .. }]
    ));
    h.line(2, "/accept-invite");
    assert!(matches!(
        &invite_notices(&h, 2)[..],
        [InviteNotice::NoneFrom { .. }]
    ));
    // Refused by setting, and unknown users.
    h.line(2, "/invites off");
    h.line(1, "/invite bob lobby");
    assert!(matches!(
        &invite_notices(&h, 1)[..],
        [InviteNotice::Refuses { .. }]
    ));
    h.line(1, "/invite nobody");
    assert!(matches!(
        &h.delivered_to(1)[..],
        [Event::Refused(Refusal::NoSuchUser { .. })]
    ));
}

#[path = "tests_presence.rs"]
mod presence;
