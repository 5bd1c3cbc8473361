//! Logins, replays, held names, resume keys, the grace period and `/quit`.

use crate::chat::testing::*;
use crate::chat::*;

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
fn a_replay_merges_the_rooms_lines_and_whispers_in_the_order_they_came() {
    let mut h = Harness::with(ChatSettings {
        replay_max: 10,
        ..settings()
    });
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.disconnect(1);
    h.line(2, "one");
    h.line(3, "/msg alice psst");
    h.line(2, "two");
    h.connect(5, ip(1));
    h.line(5, "alice");
    let got = h.delivered_to(5);
    assert_eq!(
        got[1],
        Event::Info(Info::MissedHeader { shown: 3, total: 3 })
    );
    assert!(is_message(&got[2], "one"), "{got:?}");
    assert!(matches!(&got[3], Event::Whisper { text, .. } if &**text == "psst"));
    assert!(is_message(&got[4], "two"));
    // Its own loss, announced before it was held, is not in the replay.
    assert!(!got.iter().any(|e| matches!(e, Event::Left { .. })));
}

#[test]
fn held_sessions_lost_at_different_times_replay_from_their_own_moment() {
    let mut h = Harness::with(ChatSettings {
        presence_rate: 6000,
        ..settings()
    });
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.disconnect(1);
    h.line(3, "early");
    h.disconnect(2);
    h.line(3, "late");
    h.connect(5, ip(2));
    h.line(5, "bob");
    let bob = h.delivered_to(5);
    assert_eq!(
        bob[1],
        Event::Info(Info::MissedHeader { shown: 1, total: 1 })
    );
    assert!(is_message(&bob[2], "late"));
    h.connect(6, ip(1));
    h.line(6, "alice");
    let alice = h.delivered_to(6);
    // bob's loss and return came after alice's, so she missed them too: "early", bob lost,
    // "late", bob back.
    assert_eq!(
        alice[1],
        Event::Info(Info::MissedHeader { shown: 3, total: 4 })
    );
    assert!(is_message(&alice[3], "late"));
}

#[test]
fn whispers_kept_for_a_held_session_are_bounded_in_bytes() {
    let long = "w".repeat(100);
    let one = crate::chat::room::recent::weight(&Event::Whisper {
        id: id::MsgId(0),
        at: 0,
        from: Arc::from("bob"),
        to: Arc::from("alice"),
        text: Arc::from(long.as_str()),
    });
    let mut h = Harness::with(ChatSettings {
        replay_max: 10,
        held_own_bytes: one * 2,
        ..settings()
    });
    h.login(1, "alice");
    h.login(2, "bob");
    h.disconnect(1);
    for i in 0..5 {
        h.line(2, &format!("/msg alice {long}"));
        h.line(2, &format!("/msg alice {i}"));
    }
    h.connect(5, ip(1));
    h.line(5, "alice");
    let got = h.delivered_to(5);
    let Event::Info(Info::MissedHeader { shown, total }) = got[1] else {
        panic!("{got:?}");
    };
    assert_eq!(total, 10, "every whisper is counted");
    assert!(
        shown < 10,
        "only what fits in --held-own-bytes is kept: {shown}"
    );
    assert!(matches!(&got[1 + shown], Event::Whisper { text, .. } if &**text == "4"));
}

/// Settings with small held caps: two held sessions per address, three in all.
fn small_caps() -> ChatSettings {
    ChatSettings {
        max_held_per_ip: 2,
        max_held: 3,
        presence_rate: 6000,
        ..settings()
    }
}

#[test]
fn past_the_per_address_cap_the_oldest_held_session_from_it_ends() {
    let mut h = Harness::with(small_caps());
    h.login(1, "watcher");
    for conn in 2..5 {
        h.connect(conn, ip(9));
        h.line(conn, &format!("u{conn}"));
    }
    h.disconnect(2);
    h.disconnect(3);
    assert_eq!(h.chat.held(), 2);
    h.disconnect(4);
    h.chat.check_invariants().unwrap();
    assert_eq!(h.chat.held(), 2);
    assert_eq!(h.chat.stats.held_dropped, 1);
    let seen = h.delivered_to(1);
    assert!(
        seen.iter().any(|e| matches!(e, Event::Left { nick, how: Departure::GraceExpired { .. }, .. } if &**nick == "u2")),
        "{seen:?}"
    );
    // Its name is free; the later two are still held.
    h.connect(6, ip(7));
    assert!(h
        .line(6, "u2")
        .contains(&Output::LoggedIn { conn: ConnId(6) }));
    h.connect(7, ip(7));
    assert!(matches!(
        refusal_of(&h.line(7, "u3")),
        Some(Refusal::NickHeld { .. })
    ));
}

#[test]
fn past_the_total_cap_the_oldest_held_session_of_all_ends() {
    let mut h = Harness::with(small_caps());
    h.login(1, "watcher");
    for conn in 2..6 {
        h.login(conn, &format!("u{conn}"));
    }
    for conn in 2..6 {
        h.disconnect(conn);
        h.chat.check_invariants().unwrap();
    }
    assert_eq!(h.chat.held(), 3);
    h.connect(7, ip(8));
    assert!(h
        .line(7, "u2")
        .contains(&Output::LoggedIn { conn: ConnId(7) }));
    // A session that came back is not counted, and is not the next to go.
    h.connect(8, ip(3));
    h.line(8, "u3");
    h.login(9, "u9");
    h.disconnect(9);
    h.chat.check_invariants().unwrap();
    assert_eq!(h.chat.held(), 3, "u4, u5 and u9 are held");
    assert_eq!(h.chat.stats.held_dropped, 1);
}

#[test]
fn names_reserved_for_the_server_are_refused_at_login_and_the_prompt_repeats() {
    let mut h = Harness::new();
    h.connect(1, ip(1));
    for line in [
        "server",
        "SERVER",
        "Server",
        "Admin",
        "ROOT",
        "r00t",
        "admin_",
        "server2",
        "reactor_chat",
        "서버",
        "관리자1",
        // A resume line too: a reserved name is never held, so there is nothing to resume.
        "server 0000aaaabbbb",
    ] {
        let outs = h.line(1, line);
        let name = line.split(' ').next().unwrap();
        assert_eq!(
            outs,
            [
                Output::ToConn {
                    conn: ConnId(1),
                    event: Event::Refused(Refusal::NickReserved {
                        nick: Arc::from(name)
                    }),
                },
                Output::ToConn {
                    conn: ConnId(1),
                    event: Event::Info(Info::NickPrompt),
                },
            ],
            "{line}"
        );
    }
    assert_eq!(h.chat.stats.reserved_nicks, 12);
    assert_eq!(h.chat.stats.refused_logins, 12);
    // A reserved word inside a longer name is another name.
    let outs = h.line(1, "serverless");
    assert!(
        outs.contains(&Output::LoggedIn { conn: ConnId(1) }),
        "{outs:?}"
    );
    h.login(2, "rooty");
    h.login(3, "adminton");
}

#[test]
fn reserved_nicks_replaces_the_default_list_and_empty_reserves_nothing() {
    use clap::Parser as _;
    let with_flag = |value: &str| {
        let cfg = crate::config::Config::parse_from(["reactor-chat", "--reserved-nicks", value]);
        Harness::with(ChatSettings {
            reserved_nicks: ChatSettings::from_config(&cfg).reserved_nicks,
            ..settings()
        })
    };
    let mut h = with_flag("bot");
    h.login(1, "server");
    h.login(2, "admin");
    h.connect(3, ip(3));
    for name in ["bot", "Bot_2"] {
        let outs = h.line(3, name);
        assert!(
            matches!(refusal_of(&outs), Some(Refusal::NickReserved { .. })),
            "{name}: {outs:?}"
        );
    }
    let mut h = with_flag("");
    h.login(1, "server");
    h.login(2, "ROOT");
    h.login(3, "관리자");
}
