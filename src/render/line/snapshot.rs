//! Every line the line renderer can send, in both languages, pinned byte for byte.
//!
//! `samples()` holds one event for every branch of the renderer (every variant, every optional
//! part, singular and plural); the rendered text of all of them is compared with
//! `snapshot.txt`. A change to any sentence shows up here as a diff to review: PROTOCOL.md
//! promises programs the codes and frames, and people the wording. After a deliberate change,
//! `UPDATE_SNAPSHOT=1 cargo test --lib render::line::snapshot` rewrites the file.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::Renderer;
use crate::chat::event::*;
use crate::chat::help;
use crate::chat::id::MsgId;
use crate::chat::nick::NickError;
use crate::config::Lang;

/// 2024-01-01 12:34:56 UTC.
const AT: UnixMillis = 1_704_112_496_000;

fn s(text: &str) -> Arc<str> {
    Arc::from(text)
}

fn room_events() -> Vec<Event> {
    let id = MsgId(1);
    let (room, nick) = (s("lobby"), s("alice"));
    let left = |how| Event::Left {
        id,
        at: AT,
        room: room.clone(),
        nick: nick.clone(),
        how,
    };
    let mut events = vec![
        Event::Message {
            id,
            at: AT,
            room: room.clone(),
            from: nick.clone(),
            text: s("hello 안녕"),
        },
        Event::Action {
            id,
            at: AT,
            room: room.clone(),
            from: nick.clone(),
            text: s("waves"),
        },
        Event::Scheduled {
            id,
            at: AT,
            room: room.clone(),
            from: nick.clone(),
            text: s("standup"),
        },
        Event::Whisper {
            id,
            at: AT,
            from: nick.clone(),
            to: s("bob"),
            text: s("psst"),
        },
        Event::Joined {
            id,
            at: AT,
            room: room.clone(),
            nick: nick.clone(),
        },
        Event::Reconnected {
            id,
            at: AT,
            room: room.clone(),
            nick: nick.clone(),
        },
        Event::Renamed {
            id,
            at: AT,
            room: room.clone(),
            old: nick.clone(),
            new: s("alicia"),
        },
        Event::TopicSet {
            id,
            at: AT,
            room: room.clone(),
            by: nick.clone(),
            topic: s("release day"),
        },
        left(Departure::Quit { message: None }),
        left(Departure::Quit {
            message: Some(s("lunch")),
        }),
        left(Departure::GraceExpired { grace_secs: 120 }),
        left(Departure::Moved { to: s("games") }),
        left(Departure::Kicked {
            by: s("op"),
            reason: None,
        }),
        left(Departure::Kicked {
            by: s("op"),
            reason: Some(s("spam")),
        }),
    ];
    for reason in [
        LostReason::Closed,
        LostReason::Reset,
        LostReason::ReadError,
        LostReason::WriteError,
        LostReason::PingTimeout,
        LostReason::SendQueueExceeded,
        LostReason::ExcessFlood,
        LostReason::NodeDown,
    ] {
        events.push(left(Departure::Lost { reason }));
    }
    let presence = |joined: &[&str], joined_total, left: &[&str], left_total| {
        Event::Presence(PresenceSummary {
            id,
            at: AT,
            room: room.clone(),
            joined: joined.iter().map(|n| s(n)).collect(),
            joined_total,
            left: left.iter().map(|n| s(n)).collect(),
            left_total,
            members: 5012,
        })
    };
    events.push(presence(&["a", "b"], 2, &[], 0));
    events.push(presence(&["a", "b", "c", "d", "e"], 37, &["x"], 1));
    events.push(presence(&[], 0, &["x", "y", "z", "v", "w"], 9));
    let message = events[0].clone();
    events.push(Event::Past {
        event: Box::new(message.clone()),
        dated: false,
    });
    events.push(Event::Past {
        event: Box::new(message),
        dated: true,
    });
    events
}

fn welcome(resumed: bool, topic: bool, online: &[&str], online_total: usize, op: bool) -> Event {
    Event::Info(Info::Welcome {
        nick: s("alice"),
        room: s("lobby"),
        rules: s("be kind"),
        resumed,
        topic: topic.then(|| s("release day")),
        online: online.iter().map(|n| s(n)).collect(),
        online_total,
        op,
        resume_key: s("k3y"),
        grace_secs: 120,
    })
}

fn replies() -> Vec<Event> {
    let room = s("lobby");
    let user = |nick: &str, op, away| UserEntry {
        nick: s(nick),
        op,
        away,
    };
    let schedule = |id| ScheduleEntry {
        id,
        due: AT + 600_000,
        in_secs: 600,
        room: room.clone(),
        text: s("standup"),
    };
    let whois = |away: Option<&str>, op, reconnecting| Info::Whois {
        nick: s("bob"),
        room: room.clone(),
        idle_secs: 4800,
        away: away.map(s),
        op,
        reconnecting,
    };
    let mut infos = vec![
        Info::Greeting,
        Info::NickPrompt,
        Info::MissedHeader { shown: 0, total: 0 },
        Info::MissedHeader { shown: 1, total: 1 },
        Info::MissedHeader { shown: 7, total: 7 },
        Info::MissedHeader {
            shown: 5,
            total: 40,
        },
        Info::MissedEnd,
        Info::Users {
            room: room.clone(),
            users: vec![user("alice", false, false)],
        },
        Info::Users {
            room: room.clone(),
            users: vec![
                user("alice", true, true),
                user("bob", true, false),
                user("철수", false, true),
                user("dave", false, false),
            ],
        },
        Info::UserCount {
            room: room.clone(),
            members: 5012,
        },
        Info::Rooms {
            rooms: vec![(room.clone(), 3)],
        },
        Info::Rooms {
            rooms: vec![(room.clone(), 3), (s("games"), 1)],
        },
        Info::Help,
        Info::HelpFor(help::find("msg").expect("msg has help")),
        Info::WhisperSent {
            to: s("bob"),
            text: s("psst"),
            id: crate::chat::id::MsgId(9),
            at: 0,
        },
        Info::TargetAway {
            nick: s("bob"),
            message: s("lunch"),
        },
        Info::WhisperHeld { nick: s("bob") },
        Info::NickChanged { nick: s("alicia") },
        Info::AwaySet {
            message: s("lunch"),
        },
        Info::AwayCleared,
        Info::ClusterLink { up: false },
        Info::ClusterLink { up: true },
        Info::ReplayUnavailable,
        Info::NickCollided {
            old: s("alice"),
            new: s("alice-7k3p"),
        },
        whois(None, false, false),
        whois(Some("lunch"), true, true),
        whois(None, true, false),
        whois(None, false, true),
        Info::NowInRoom { room: room.clone() },
        Info::TopicOnJoin {
            topic: s("release day"),
        },
        Info::Topic {
            room: room.clone(),
            topic: Some((s("release day"), s("alice"))),
            at: 0,
        },
        Info::Topic {
            room: room.clone(),
            topic: None,
            at: 0,
        },
        Info::TopicLock {
            room: room.clone(),
            locked: true,
        },
        Info::TopicLock {
            room: room.clone(),
            locked: false,
        },
        Info::ScheduleSet { entry: schedule(3) },
        Info::ScheduleUnsent {
            id: 3,
            room: room.clone(),
        },
        Info::ScheduleSent {
            id: 3,
            room: room.clone(),
        },
        Info::Schedules {
            entries: vec![schedule(3)],
        },
        Info::Schedules {
            entries: vec![schedule(3), schedule(4)],
        },
        Info::Schedules { entries: vec![] },
        Info::Unscheduled { id: 3 },
        Info::NowOperator,
    ];
    let whats = [
        HistoryWhat::Last { n: 20 },
        HistoryWhat::Day {
            day: s("2024-05-17"),
            from: 0,
            to: 1,
            max: 100,
        },
        HistoryWhat::Search {
            words: s("release"),
            from: None,
            max: 100,
        },
        HistoryWhat::Search {
            words: s("release"),
            from: Some(s("bob")),
            max: 100,
        },
        HistoryWhat::Search {
            words: s(""),
            from: Some(s("bob")),
            max: 100,
        },
        HistoryWhat::Backlog { n: 10 },
        HistoryWhat::Leaderboard { top: 10 },
        HistoryWhat::Player { nick: s("bob") },
    ];
    for what in whats {
        for (shown, total) in [(1, 1), (20, 20), (7, 20)] {
            infos.push(Info::HistoryStart {
                room: room.clone(),
                what: what.clone(),
                shown,
                total,
            });
        }
        infos.push(Info::HistoryEnd { what });
    }
    let mut events = vec![
        welcome(false, false, &["alice"], 1, false),
        welcome(false, true, &["alice", "bob"], 2, true),
        welcome(true, false, &["alice", "bob"], 9, false),
        welcome(true, true, &[], 5012, false),
    ];
    events.extend(infos.into_iter().map(Event::Info));
    events
}

fn refusals() -> Vec<Event> {
    let nick = s("alice");
    let mut refusals: Vec<Refusal> = [
        NickError::Empty,
        NickError::TooLong,
        NickError::Invisible(' '),
        NickError::Invisible('\u{200B}'),
        NickError::NotAllowed('@'),
        NickError::NotAllowed('\u{1}'),
    ]
    .into_iter()
    .map(Refusal::NickInvalid)
    .collect();
    for lookalike in [false, true] {
        refusals.push(Refusal::NickTaken {
            nick: nick.clone(),
            lookalike,
        });
    }
    for wrong_key in [false, true] {
        refusals.push(Refusal::NickHeld {
            nick: nick.clone(),
            secs_left: 90,
            wrong_key,
        });
    }
    refusals.extend([
        Refusal::NickBanned {
            nick: nick.clone(),
            minutes_left: 5,
        },
        Refusal::NickReserved { nick: s("server") },
        Refusal::ClusterDown,
        Refusal::LineTooLong { max: 4096 },
        Refusal::InvalidUtf8,
        Refusal::UnknownCommand {
            command: s("/frob"),
        },
        Refusal::Usage(help::find("msg").expect("msg has help")),
        Refusal::NoSuchUser { nick: s("bob") },
        Refusal::BadTarget,
        Refusal::AlreadyThere { room: s("lobby") },
        Refusal::BadRoom { max_chars: 32 },
        Refusal::TopicLocked { room: s("lobby") },
        Refusal::NotOperator,
        Refusal::BadKey,
        Refusal::NoAdminKey,
        Refusal::BadTime {
            horizon_secs: 86_400,
        },
        Refusal::TooManySchedules { max: 10 },
        Refusal::NoSuchSchedule { id: s("9") },
        Refusal::Flood,
        Refusal::HistoryOff,
        Refusal::HistoryFailed,
        Refusal::BadDate,
    ]);
    let byes = [
        Bye::Quit { nick: nick.clone() },
        Bye::ServerFull { max: 10_000 },
        Bye::TooManyFromAddress { max: 20 },
        Bye::TooManyWaitingFromAddress { max: 16 },
        Bye::TooManyWaiting,
        Bye::LoginTimeout { secs: 10 },
        Bye::PingTimeout { secs: 300 },
        Bye::ShuttingDown,
        Bye::ResumedElsewhere,
        Bye::Kicked {
            by: s("op"),
            reason: None,
        },
        Bye::Kicked {
            by: s("op"),
            reason: Some(s("spam")),
        },
        Bye::Banned { minutes_left: 5 },
        Bye::ExcessFlood,
        Bye::TlsOnly,
    ];
    let mut events: Vec<Event> = refusals.into_iter().map(Event::Refused).collect();
    events.extend(byes.into_iter().map(Event::Bye));
    events
}

fn files() -> Vec<Event> {
    let (from, name, room) = (s("alice"), s("a.png"), s("lobby"));
    let offered = |pushed| FileNotice::Offered {
        at: AT,
        room: room.clone(),
        from: from.clone(),
        id: 7,
        name: name.clone(),
        size: 2048,
        pushed,
        key: s("k3y"),
    };
    let entry = |id, size| FileEntry {
        id,
        from: from.clone(),
        name: name.clone(),
        size,
        secs_left: 90,
    };
    let notices = [
        offered(false),
        offered(true),
        FileNotice::Data {
            id: 7,
            from: from.clone(),
            name: s("my notes.txt"),
            payload: Bytes::from_static(b"12345"),
        },
        FileNotice::OfferUp {
            id: 7,
            name: name.clone(),
            size: 3 << 20,
            room: room.clone(),
            ttl_secs: 600,
        },
        FileNotice::DeclinedBy {
            id: 7,
            name: name.clone(),
            by: s("bob"),
        },
        FileNotice::Declined { id: 7 },
        FileNotice::Expired {
            id: 7,
            name: name.clone(),
        },
        FileNotice::Evicted {
            id: 7,
            name: name.clone(),
        },
        FileNotice::List { entries: vec![] },
        FileNotice::List {
            entries: vec![entry(1, 10)],
        },
        FileNotice::List {
            entries: vec![entry(1, 10), entry(2, 5 << 30)],
        },
        FileNotice::TooLarge {
            name: name.clone(),
            size: 9_000_000,
            max: 8_000_000,
        },
        FileNotice::UploadsBusy {
            name: name.clone(),
            max: 1,
            per_address: true,
        },
        FileNotice::UploadsBusy {
            name: name.clone(),
            max: 2,
            per_address: true,
        },
        FileNotice::UploadsBusy {
            name: name.clone(),
            max: 64,
            per_address: false,
        },
        FileNotice::BadSize { size: s("lots") },
        FileNotice::BadName,
        FileNotice::NoSuchFile { id: s("9") },
        FileNotice::OtherRoom {
            id: 7,
            room: s("games"),
        },
        FileNotice::Busy { queued: 1536 },
        FileNotice::UnexpectedBytes { len: 12 },
    ];
    notices.into_iter().map(Event::File).collect()
}

fn games_and_invitations() -> Vec<Event> {
    let (id, room) = (MsgId(1), s("lobby"));
    let score = |wins| ScoreEntry {
        nick: s("bob"),
        points: 42,
        wins,
    };
    let games = [
        GameNotice::Started {
            at: AT,
            room: room.clone(),
            by: s("alice"),
            category: s("fruit"),
            mask: s("_ _ _ _ _"),
            letters: 5,
            hint_secs: 20,
        },
        GameNotice::Hint {
            at: AT,
            room: room.clone(),
            mask: s("a _ _ _ _"),
        },
        GameNotice::Won {
            id,
            at: AT,
            room: room.clone(),
            nick: s("bob"),
            word: s("apple"),
            points: 3,
            secs: 75,
        },
        GameNotice::TimeUp {
            id,
            at: AT,
            room: room.clone(),
            word: s("apple"),
        },
        GameNotice::Stopped {
            id,
            at: AT,
            room: room.clone(),
            by: s("alice"),
            word: s("apple"),
        },
        GameNotice::Status {
            room: room.clone(),
            round: Some((s("fruit"), s("a _ _ _ _"))),
        },
        GameNotice::Status {
            room: room.clone(),
            round: None,
        },
        GameNotice::Categories {
            list: vec![(s("fruit"), 30), (s("animals"), 25)],
        },
        GameNotice::Leaderboard {
            room: room.clone(),
            entries: vec![],
        },
        GameNotice::Leaderboard {
            room: room.clone(),
            entries: vec![score(1), score(4)],
        },
        GameNotice::PlayerScore {
            room: room.clone(),
            entry: score(1),
        },
        GameNotice::PlayerScore {
            room: room.clone(),
            entry: score(2),
        },
        GameNotice::AlreadyRunning { room: room.clone() },
        GameNotice::NoRound,
        GameNotice::NoSuchCategory { name: s("cars") },
        GameNotice::NotYours { by: s("alice") },
    ];
    let (alice, bob) = (s("alice"), s("bob"));
    let invites = [
        InviteNotice::Invited {
            from: alice.clone(),
            room: room.clone(),
            secs: 300,
        },
        InviteNotice::Sent {
            to: bob.clone(),
            room: room.clone(),
        },
        InviteNotice::Accepted {
            by: bob.clone(),
            room: room.clone(),
        },
        InviteNotice::Declined { by: bob.clone() },
        InviteNotice::Expired {
            to: bob.clone(),
            room: room.clone(),
        },
        InviteNotice::YouDeclined { from: alice },
        InviteNotice::Setting { on: true },
        InviteNotice::Setting { on: false },
        InviteNotice::Refuses { nick: bob.clone() },
        InviteNotice::AlreadyThere {
            nick: bob.clone(),
            room,
        },
        InviteNotice::NoneFrom { nick: Some(bob) },
        InviteNotice::NoneFrom { nick: None },
    ];
    let mut events: Vec<Event> = games.into_iter().map(Event::Game).collect();
    events.extend(invites.into_iter().map(Event::Invite));
    events
}

fn samples() -> Vec<Event> {
    let mut events = room_events();
    events.extend(replies());
    events.extend(refusals());
    events.extend(files());
    events.extend(games_and_invitations());
    events
}

/// Every sample in both languages, each introduced by a `## ` line naming it so a diff points
/// at the event.
fn rendered() -> String {
    let mut text = String::new();
    for lang in [Lang::En, Lang::Ko] {
        let renderer = Renderer::new(lang, true);
        for event in samples() {
            let mut buf = BytesMut::new();
            renderer.render(&event, &mut buf);
            let name = format!("{event:?}");
            let name: String = name.chars().take(100).collect();
            text.push_str(&format!("## {lang:?} {name}\n"));
            text.push_str(std::str::from_utf8(&buf).expect("lines are UTF-8"));
        }
    }
    text
}

#[test]
fn every_line_is_as_pinned() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/render/line/snapshot.txt");
    let now = rendered();
    if std::env::var_os("UPDATE_SNAPSHOT").is_some() {
        std::fs::write(path, &now).expect("snapshot written");
        return;
    }
    let pinned = std::fs::read_to_string(path).expect("snapshot.txt exists");
    if now != pinned {
        let first = now
            .lines()
            .zip(pinned.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(now.lines().count().min(pinned.lines().count()));
        panic!(
            "rendered lines differ from snapshot.txt from line {}:\n  now:    {:?}\n  pinned: {:?}",
            first + 1,
            now.lines().nth(first),
            pinned.lines().nth(first)
        );
    }
}
