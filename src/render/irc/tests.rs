//! The IRC renderer's lines for the events both protocols share.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::BytesMut;

use super::*;
use crate::chat::event::{Departure, Event, Info, LostReason, Member};
use crate::chat::id::MsgId;
use crate::config::Lang;

struct OneHost;

impl Hosts for OneHost {
    fn ip_of(&self, nick: &str) -> Option<IpAddr> {
        (nick != "ghost").then(|| "192.0.2.1".parse().unwrap())
    }
}

fn renderer() -> (IrcRenderer, LineRenderer) {
    let irc = IrcRenderer {
        server: Arc::from("irc.test"),
        network: Arc::from("TestNet"),
        cloak: Cloak::new(b"k"),
        version: "0.1.0",
        max_text: 400,
        max_rooms: 50,
        max_targets: 4,
    };
    (irc, LineRenderer::new(Lang::En, true))
}

fn render(event: &Event, view: View<'_>) -> String {
    let (irc, line) = renderer();
    let mut buf = BytesMut::new();
    irc.render(&line, &OneHost, event, view, &mut buf);
    String::from_utf8(buf.to_vec()).unwrap()
}

fn host() -> String {
    Cloak::new(b"k").host("192.0.2.1".parse().unwrap())
}

const AT: u64 = 1_704_112_496_000;

fn message(text: &str) -> Event {
    Event::Message {
        id: MsgId(7),
        at: AT,
        room: Arc::from("lobby"),
        from: Arc::from("alice"),
        text: Arc::from(text),
    }
}

#[test]
fn a_message_is_a_privmsg_from_a_full_source_with_the_tags_asked_for() {
    let plain = render(&message("hi"), View::broadcast(Caps::default()));
    assert_eq!(
        plain,
        format!(":alice!alice@{} PRIVMSG #lobby :hi\r\n", host())
    );
    let tagged = render(
        &message("hi"),
        View::broadcast(Caps::SERVER_TIME.with(Caps::MESSAGE_TAGS)),
    );
    assert_eq!(
        tagged,
        format!(
            "@time=2024-01-01T12:34:56.000Z;msgid=7 :alice!alice@{} PRIVMSG #lobby :hi\r\n",
            host()
        )
    );
}

#[test]
fn room_events_are_the_irc_commands_clients_display() {
    let view = View::broadcast(Caps::default());
    let h = host();
    let action = Event::Action {
        id: MsgId(1),
        at: AT,
        room: Arc::from("lobby"),
        from: Arc::from("alice"),
        text: Arc::from("waves"),
    };
    assert_eq!(
        render(&action, view),
        format!(":alice!alice@{h} PRIVMSG #lobby :\u{1}ACTION waves\u{1}\r\n")
    );
    let left = |how| Event::Left {
        id: MsgId(2),
        at: AT,
        room: Arc::from("lobby"),
        nick: Arc::from("bob"),
        how,
    };
    assert_eq!(
        render(
            &left(Departure::Lost {
                reason: LostReason::PingTimeout
            }),
            view
        ),
        format!(":bob!bob@{h} QUIT :ping timeout\r\n")
    );
    assert_eq!(
        render(
            &left(Departure::Kicked {
                by: Arc::from("op"),
                reason: Some(Arc::from("spam"))
            }),
            view
        ),
        format!(":op!op@{h} KICK #lobby bob :spam\r\n")
    );
    assert_eq!(
        render(&left(Departure::Parted { message: None }), view),
        format!(":bob!bob@{h} PART #lobby\r\n")
    );
    assert_eq!(
        render(&left(Departure::GraceExpired { grace_secs: 60 }), view),
        ""
    );
    let away = Event::AwayChanged {
        room: Arc::from("lobby"),
        nick: Arc::from("bob"),
        message: Some(Arc::from("lunch")),
    };
    assert_eq!(render(&away, view), "");
    assert_eq!(
        render(&away, View::broadcast(Caps::AWAY_NOTIFY)),
        format!(":bob!bob@{h} AWAY :lunch\r\n")
    );
}

#[test]
fn a_history_line_keeps_its_time_or_reads_as_a_stamped_notice() {
    let past = Event::Past {
        event: Box::new(message("old")),
        dated: false,
    };
    let with_time = render(&past, View::broadcast(Caps::SERVER_TIME));
    assert!(
        with_time.starts_with("@time=2024-01-01T12:34:56.000Z :alice!"),
        "{with_time}"
    );
    let without = render(&past, View::broadcast(Caps::default()));
    assert_eq!(without, ":irc.test NOTICE #lobby :[12:34] alice: old\r\n");
}

#[test]
fn names_list_operators_and_hosts_as_asked() {
    let member = |nick: &str, room_op| Member {
        nick: Arc::from(nick),
        ip: "192.0.2.1".parse().unwrap(),
        op: false,
        room_op,
        away: false,
    };
    let info = Info::Entered {
        room: Arc::from("lobby"),
        topic: Some((Arc::from("welcome"), Arc::from("alice"))),
        topic_at: 5_000,
        members: vec![member("alice", true), member("민수", false)],
    };
    let view = View {
        caps: Caps::USERHOST_IN_NAMES,
        me: "민수",
        batch: None,
        command: "JOIN #lobby",
    };
    let h = host();
    assert_eq!(
        render(&Event::Info(info), view),
        format!(
            ":민수!민수@{h} JOIN #lobby\r\n\
             :irc.test 332 민수 #lobby :welcome\r\n\
             :irc.test 333 민수 #lobby alice 5\r\n\
             :irc.test 353 민수 = #lobby :@alice!alice@{h} 민수!민수@{h}\r\n\
             :irc.test 366 민수 #lobby :End of /NAMES list\r\n"
        )
    );
}

#[test]
fn line_users_formatting_never_reaches_them_but_irc_users_keep_it() {
    let coloured = message("\u{2}bold\u{2} \u{3}4red");
    let irc = render(&coloured, View::broadcast(Caps::default()));
    assert!(irc.ends_with("PRIVMSG #lobby :\u{2}bold\u{2} \u{3}4red\r\n"));
    let mut buf = BytesMut::new();
    LineRenderer::new(Lang::En, true).render(&coloured, &mut buf);
    assert_eq!(&buf[..], b"[12:34] alice: bold red\r\n");
}

#[test]
fn a_history_line_that_changed_state_never_changes_it_again() {
    let renamed = Event::Renamed {
        id: MsgId(1),
        at: AT,
        room: Arc::from("lobby"),
        old: Arc::from("bob"),
        new: Arc::from("bobby"),
    };
    let past = Event::Past {
        event: Box::new(renamed),
        dated: true,
    };
    let out = render(&past, View::broadcast(Caps::SERVER_TIME));
    assert!(!out.contains(" NICK "), "{out}");
    assert!(out.contains("NOTICE #lobby :[2024-01-01 12:34]"), "{out}");
}
