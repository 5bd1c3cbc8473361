//! History as the chat core sees it: `/history`, `/search`, and the backlog shown on login and
//! `/join`.
//!
//! The core never touches the disk. The backlog and `/history N` come from the room's recent
//! lines (`room::recent`) whenever those can answer, at once and in order with everything else
//! the asker gets. Otherwise, and for `/history DATE` and `/search`, it asks with
//! `Output::Query` (and records room events with `Output::Store`); the reactor hands both to the
//! storage thread (`crate::storage`), and the answer comes back through [`Chat::history_answer`]
//! as plain data, after whatever the asker was sent meanwhile. So the rules here (limits, dates,
//! framing, the output budget) are unit-tested like the rest of the core, without a disk.
//!
//! A backlog shows the room's last messages first and folds the joins, departures and
//! reconnects among them into one summary line at its end: a backlog of arrivals tells a
//! newcomer nothing about the conversation.

use std::sync::Arc;

use super::context::Cx;
use super::event::{
    Departure, Event, HistoryAnswer, HistoryError, HistoryLines, HistoryQuery, HistoryWhat, Info,
    PresenceSummary, Refusal, UnixMillis,
};
use super::{Chat, ConnId, Now, Outbox, Output, RoomId, SessionId};
use crate::clock::{day_bounds, day_of, parse_day};

/// Lines `/history` shows without a count.
pub const HISTORY_DEFAULT: usize = 20;
/// Most lines one `/history` shows (by count or by date): a reply is a burst into one output
/// queue, and a screenful or two is what a person reads anyway.
pub const HISTORY_MAX: usize = 500;
/// Most lines one `/search` shows, newest first.
pub const SEARCH_MAX: usize = 50;

/// Splits `/search` arguments into the words and the one `from:NICK` among them. `None` for a
/// `from:` without a name, a second `from:`, or nothing to look for.
fn search_args(args: &str) -> Option<(String, Option<&str>)> {
    let mut from = None;
    let mut words = Vec::new();
    for word in args.split_whitespace() {
        match word.get(..5) {
            Some(prefix) if prefix.eq_ignore_ascii_case("from:") => {
                let nick = &word[5..];
                if nick.is_empty() || from.replace(nick).is_some() {
                    return None;
                }
            }
            _ => words.push(word),
        }
    }
    let words = words.join(" ");
    (!words.is_empty() || from.is_some()).then_some((words, from))
}

/// What one history line costs in the asker's output queue, roughly (stamp, names, text, CRLF).
fn line_cost(event: &Event) -> usize {
    match event {
        Event::Message { from, text, .. }
        | Event::Action { from, text, .. }
        | Event::Scheduled { from, text, .. } => 48 + from.len() + text.len(),
        Event::TopicSet { by, topic, .. } => 64 + by.len() + topic.len(),
        _ => 128,
    }
}

impl Chat {
    /// `/history [N | YYYY-MM-DD]`.
    pub(super) fn history(&mut self, cx: &mut Cx<'_>, arg: &str) {
        if !self.settings.history_enabled {
            return cx.refuse(Refusal::HistoryOff);
        }
        let what = if arg.is_empty() {
            HistoryWhat::Last { n: HISTORY_DEFAULT }
        } else if arg.bytes().all(|b| b.is_ascii_digit()) {
            match arg.parse::<usize>() {
                Ok(0) => return cx.usage("history"),
                Ok(n) => HistoryWhat::Last {
                    n: n.min(HISTORY_MAX),
                },
                Err(_) => HistoryWhat::Last { n: HISTORY_MAX }, // more digits than a usize holds
            }
        } else {
            let Some((from, to)) =
                parse_day(arg).and_then(|day| day_bounds(day, self.settings.utc))
            else {
                return cx.refuse(Refusal::BadDate);
            };
            HistoryWhat::Day {
                day: Arc::from(arg),
                from,
                to,
                max: HISTORY_MAX,
            }
        };
        if let HistoryWhat::Last { n } = what {
            let room = self.sessions[cx.sid].room();
            if let Some(events) = self.rooms[room].recent().last(n) {
                let name = self.rooms[room].name().clone();
                let total = events.len();
                let query = HistoryQuery { room: name, what };
                let lines = HistoryLines { events, total };
                return self.frame_history(cx.conn, query, lines, cx.now, cx.out);
            }
        }
        self.ask_history(cx.conn, cx.sid, what, cx.out);
    }

    /// `/search [from:NICK] WORDS`: a `from:` word (in any place) keeps the lines of one user.
    pub(super) fn search(&mut self, cx: &mut Cx<'_>, args: &str) {
        if !self.settings.history_enabled {
            return cx.refuse(Refusal::HistoryOff);
        }
        let Some((words, from)) = search_args(args) else {
            return cx.usage("search");
        };
        let what = HistoryWhat::Search {
            words: Arc::from(words.as_str()),
            from: from.map(Arc::from),
            max: SEARCH_MAX,
        };
        self.ask_history(cx.conn, cx.sid, what, cx.out);
    }

    /// Shows the backlog of the session's room, if history and the backlog are on. Called
    /// before the session's own arrival is announced, so the backlog does not end with it.
    pub(super) fn ask_backlog(&mut self, conn: ConnId, sid: SessionId, now: Now, out: &mut Outbox) {
        let room = self.sessions[sid].room();
        let end = self.rooms[room].recent().end();
        self.backlog_before(conn, sid, room, end, now, out);
    }

    /// The backlog of `room` as it stood at recent-lines position `before`: from the room's
    /// recent lines if they hold enough (or all there is), else from the disk.
    pub(super) fn backlog_before(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        room: RoomId,
        before: u64,
        now: Now,
        out: &mut Outbox,
    ) {
        if !self.settings.history_enabled || self.settings.backlog_lines == 0 {
            return;
        }
        let n = self.settings.backlog_lines.min(HISTORY_MAX);
        let recent = self.rooms[room].recent();
        let (lines, presence) = pick_backlog(recent.newest_before(before), n);
        if lines.len() < n && !recent.is_complete() {
            return self.ask_history(conn, sid, HistoryWhat::Backlog { n }, out);
        }
        let mut events: Vec<Event> = lines.into_iter().rev().cloned().collect();
        let name = self.rooms[room].name().clone();
        if let Some(summary) = presence.summary(self, room, now) {
            events.push(summary);
        }
        if events.is_empty() {
            return;
        }
        let total = events.len();
        let what = HistoryWhat::Backlog { n };
        let query = HistoryQuery { room: name, what };
        self.frame_history(conn, query, HistoryLines { events, total }, now, out);
    }

    fn ask_history(&mut self, conn: ConnId, sid: SessionId, what: HistoryWhat, out: &mut Outbox) {
        let room = self.rooms[self.sessions[sid].room()].name().clone();
        let query = HistoryQuery { room, what };
        out.items.push(Output::Query { conn, query });
    }

    /// The store answered a query `conn` made. Delivered framed (a header line, the lines, an end
    /// line), each line as it was shown live and with its date when it is not from today. A reply
    /// is cut to the output budget so that it can never overflow the asker's output queue.
    /// Answers for a connection that has logged out since are dropped.
    pub fn history_answer(
        &mut self,
        conn: ConnId,
        answer: HistoryAnswer,
        now: Now,
        out: &mut Outbox,
    ) {
        if !self.is_logged_in(conn) {
            return;
        }
        let HistoryAnswer { query, result } = answer;
        let lines = match result {
            Ok(lines) => lines,
            Err(HistoryError::Failed) => {
                // The backlog is a courtesy: a login does not begin with an error.
                if !matches!(query.what, HistoryWhat::Backlog { .. }) {
                    out.send(conn, Event::Refused(Refusal::HistoryFailed));
                }
                return;
            }
        };
        let mut lines = lines;
        if let HistoryWhat::Backlog { n } = query.what {
            // The disk keeps every event: fold the presence among them as the ring's backlog does.
            let (picked, presence) = pick_backlog(lines.events.iter().rev(), n);
            let mut events: Vec<Event> = picked.into_iter().rev().cloned().collect();
            if let Some(room) = self.rooms.find(&query.room) {
                events.extend(presence.summary(self, room, now));
            }
            lines.total = events.len();
            lines.events = events;
            if lines.events.is_empty() {
                return;
            }
        }
        if matches!(
            query.what,
            HistoryWhat::Leaderboard { .. } | HistoryWhat::Player { .. }
        ) {
            // Scores come as their own reply, not as history lines.
            for event in lines.events {
                out.send(conn, event);
            }
            return;
        }
        self.frame_history(conn, query, lines, now, out);
    }

    /// Sends a history reply framed (a header line, the lines, an end line), each line as it was
    /// shown live and with its date when it is not from today, cut to the output budget so that
    /// it can never overflow the asker's output queue.
    fn frame_history(
        &self,
        conn: ConnId,
        query: HistoryQuery,
        lines: HistoryLines,
        now: Now,
        out: &mut Outbox,
    ) {
        let HistoryQuery { room, what } = query;
        let HistoryLines { mut events, total } = lines;
        // Lists that end with the newest line lose their oldest lines to the budget; the others
        // (a day from its start, search results newest first) lose their last ones.
        let keep_end = matches!(what, HistoryWhat::Last { .. } | HistoryWhat::Backlog { .. });
        let mut spent = 0;
        let fits = |e: &Event, spent: &mut usize| {
            *spent += line_cost(e);
            *spent <= self.settings.history_budget
        };
        let shown = if keep_end {
            events
                .iter()
                .rev()
                .take_while(|e| fits(e, &mut spent))
                .count()
        } else {
            events.iter().take_while(|e| fits(e, &mut spent)).count()
        };
        if keep_end {
            events.drain(..events.len() - shown);
        } else {
            events.truncate(shown);
        }
        let total = total.max(shown);
        let today = day_of(now.wall, self.settings.utc);
        let utc = self.settings.utc;
        out.send(
            conn,
            Event::Info(Info::HistoryStart {
                room,
                what: what.clone(),
                shown,
                total,
            }),
        );
        for event in events {
            let dated = event.at().is_some_and(|at| day_of(at, utc) != today);
            let event = Box::new(event);
            out.send(conn, Event::Past { event, dated });
        }
        out.send(conn, Event::Info(Info::HistoryEnd { what }));
    }
}

/// A backlog's pick from lines newest first: up to `n` lines that are not presence, newest first,
/// and the presence met on the way (among or after them).
fn pick_backlog<'a>(
    newest_first: impl Iterator<Item = &'a Event>,
    n: usize,
) -> (Vec<&'a Event>, PresenceTally) {
    let mut lines = Vec::new();
    let mut presence = PresenceTally::default();
    for event in newest_first {
        if !presence.add(event) {
            lines.push(event);
            if lines.len() == n {
                break;
            }
        }
    }
    (lines, presence)
}

/// Joins, departures and reconnects gathered for a backlog's one summary line: who came and
/// who went, each name once.
#[derive(Debug, Default)]
struct PresenceTally {
    /// Names newest first as met.
    joined: Vec<Arc<str>>,
    left: Vec<Arc<str>>,
    /// People counted by earlier summaries beyond the names they listed.
    joined_unnamed: usize,
    left_unnamed: usize,
    newest: Option<UnixMillis>,
}

impl PresenceTally {
    /// Counts `event` if it is presence (an operator's kick is not: it is shown on its own, as
    /// live); false if it is not.
    fn add(&mut self, event: &Event) -> bool {
        let at = match event {
            Event::Joined { nick, at, .. } | Event::Reconnected { nick, at, .. } => {
                keep_name(&mut self.joined, nick);
                *at
            }
            Event::Left {
                how: Departure::Kicked { .. },
                ..
            } => return false,
            Event::Left { nick, at, .. } => {
                keep_name(&mut self.left, nick);
                *at
            }
            Event::Presence(s) => {
                self.joined_unnamed += s.joined_total.saturating_sub(s.joined.len());
                self.left_unnamed += s.left_total.saturating_sub(s.left.len());
                for nick in s.joined.iter().rev() {
                    keep_name(&mut self.joined, nick);
                }
                for nick in s.left.iter().rev() {
                    keep_name(&mut self.left, nick);
                }
                s.at
            }
            _ => return false,
        };
        self.newest.get_or_insert(at);
        true
    }

    /// The summary line, if any presence was met: the names in the order they came.
    fn summary(self, chat: &mut Chat, room: RoomId, now: Now) -> Option<Event> {
        let at = self.newest?;
        let r = &chat.rooms[room];
        let listed = |mut names: Vec<Arc<str>>| {
            names.reverse();
            names.truncate(PresenceSummary::NAMES_SHOWN);
            names
        };
        let (joined_total, left_total) = (
            self.joined.len() + self.joined_unnamed,
            self.left.len() + self.left_unnamed,
        );
        Some(Event::Presence(PresenceSummary {
            id: chat.ids.next(now.wall),
            at,
            room: r.name().clone(),
            joined: listed(self.joined),
            joined_total,
            left: listed(self.left),
            left_total,
            members: r.connected(&chat.sessions),
        }))
    }
}

/// Keeps a name met, once (a backlog holds at most a ring of lines, so the list is short).
fn keep_name(names: &mut Vec<Arc<str>>, nick: &Arc<str>) {
    if !names.contains(nick) {
        names.push(nick.clone());
    }
}

#[cfg(test)]
mod tests {
    //! What the history commands ask of the storage thread, and how answers are framed.

    use crate::chat::testing::*;
    use crate::chat::*;

    fn with_history() -> Harness {
        let mut h = Harness::new();
        h.chat.settings.history_enabled = true;
        h.chat.settings.backlog_lines = 10;
        h.chat.settings.replay_max = 200;
        h.chat.rooms = crate::chat::room::Rooms::new(true, 64, 10);
        h
    }

    /// History on, and `rooms` have older lines on disk than any ring holds (a restarted
    /// server): their backlogs and `/history N` must ask the disk.
    fn with_history_on_disk(rooms: &[&str]) -> Harness {
        let mut h = with_history();
        let on_disk = rooms.iter().map(|r| room_key(r)).collect();
        let limits = h.chat.settings.recent_limits();
        let from_disk = crate::chat::room::recent::RecentRooms {
            loaded: Vec::new(),
            on_disk,
        };
        h.chat.rooms.seed(from_disk, limits);
        h
    }

    /// The history replies to `conn` in an outbox, framed: (header, lines, end).
    fn framed(h: &Harness, conn: usize) -> Vec<Event> {
        h.delivered_to(conn)
            .into_iter()
            .skip_while(|e| !matches!(e, Event::Info(Info::HistoryStart { .. })))
            .take_while(|e| !matches!(e, Event::Info(Info::HistoryEnd { .. })))
            .skip(1)
            .map(|e| match e {
                Event::Past { event, .. } => *event,
                other => panic!("not a history line: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_new_rooms_backlog_comes_from_its_recent_lines_at_once_with_presence_folded() {
        let mut h = with_history();
        h.login(1, "alice");
        for i in 0..12 {
            h.line(1, &format!("line {i}"));
        }
        h.login(2, "bob");
        h.disconnect(2);
        h.advance(200); // bob's grace runs out: joined, lost, left
        h.login(3, "carol");
        let outs = h.out.items.clone();
        assert!(
            queries(&outs).is_empty(),
            "nothing waits for the disk: {outs:?}"
        );
        let shown = framed(&h, 3);
        assert_eq!(shown.len(), 11, "{shown:?}");
        assert!(is_message(&shown[0], "line 2"));
        assert!(is_message(&shown[9], "line 11"));
        let Event::Presence(summary) = &shown[10] else {
            panic!("{shown:?}");
        };
        assert_eq!(
            (summary.joined_total, summary.left_total),
            (1, 1),
            "bob, once each"
        );
        // The backlog came before the arrival was announced to the room.
        let backlog_at = outs
            .iter()
            .position(|o| {
                matches!(
                    o,
                    Output::ToConn {
                        event: Event::Info(Info::HistoryStart { .. }),
                        ..
                    }
                )
            })
            .unwrap();
        let store_at = outs
            .iter()
            .position(|o| matches!(o, Output::Store(Event::Joined { .. })))
            .unwrap();
        assert!(backlog_at < store_at);
        // /history N from the ring too.
        h.line(3, "/history 3");
        assert!(queries(&h.out.items).is_empty());
        assert_eq!(framed(&h, 3).len(), 3);
    }

    #[test]
    fn a_room_nobody_is_in_keeps_its_recent_lines_for_the_next_comer_within_recent_rooms() {
        let mut h = with_history();
        h.chat.rooms = crate::chat::room::Rooms::new(true, 1, 10);
        h.login(1, "alice");
        for room in ["attic", "cellar"] {
            h.line(1, &format!("/join {room}"));
            h.line(1, &format!("said in {room}"));
        }
        h.line(1, "/join lobby");
        // The cellar's ring is kept (the one --recent-rooms allows); the attic's was dropped, so
        // its backlog must come from the disk.
        h.line(1, "/join cellar");
        assert!(queries(&h.out.items).is_empty(), "{:?}", h.out.items);
        assert!(framed(&h, 1)
            .iter()
            .any(|e| is_message(e, "said in cellar")));
        let outs = h.line(1, "/join attic");
        assert!(matches!(&queries(&outs)[..], [(1, q)] if &*q.room == "attic"));
    }

    #[test]
    fn a_resumed_session_sees_the_backlog_up_to_where_it_left_then_what_it_missed() {
        let mut h = with_history();
        h.login(1, "alice");
        h.login(2, "bob");
        h.line(1, "before");
        h.disconnect(2);
        h.line(1, "while away");
        h.connect(5, ip(2));
        h.line(5, "bob");
        let got = h.delivered_to(5);
        let backlog = framed(&h, 5);
        assert!(backlog.iter().any(|e| is_message(e, "before")), "{got:?}");
        assert!(
            !backlog.iter().any(|e| is_message(e, "while away")),
            "{got:?}"
        );
        let missed_at = got
            .iter()
            .position(|e| matches!(e, Event::Info(Info::MissedHeader { .. })))
            .unwrap();
        assert!(is_message(&got[missed_at + 1], "while away"));
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
    fn login_and_join_ask_the_disk_for_the_backlog_of_rooms_with_older_lines() {
        let mut h = with_history_on_disk(&[LOBBY, "games"]);
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
        let mut h = with_history_on_disk(&[LOBBY]);
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
                from: None,
                max: 50
            })
        );
        assert_eq!(
            what(&mut h, "/search release FROM:Bob notes"),
            Some(HistoryWhat::Search {
                words: Arc::from("release notes"),
                from: Some(Arc::from("Bob")),
                max: 50
            })
        );
        assert_eq!(
            what(&mut h, "/search from:bob"),
            Some(HistoryWhat::Search {
                words: Arc::from(""),
                from: Some(Arc::from("bob")),
                max: 50
            })
        );
        for bad in ["/search from:", "/search from:a from:b x"] {
            assert!(
                matches!(refusal_of(&h.line(1, bad)), Some(Refusal::Usage(_))),
                "{bad}"
            );
        }
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
}
