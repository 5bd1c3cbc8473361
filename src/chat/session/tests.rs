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
