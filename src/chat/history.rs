//! History as the chat core sees it: `/history`, `/search`, and the backlog shown on login and
//! `/join`.
//!
//! The core never touches the disk. It asks with `Output::Query` (and records room events with
//! `Output::Store`); the reactor hands both to the storage thread (`crate::storage`), and the
//! answer comes back through [`Chat::history_answer`] as plain data. So the rules here (limits,
//! dates, framing, the output budget) are unit-tested like the rest of the core, without a disk.

use std::sync::Arc;

use super::context::Cx;
use super::event::{Event, HistoryAnswer, HistoryError, HistoryQuery, HistoryWhat, Info, Refusal};
use super::{Chat, ConnId, Now, Outbox, Output, SessionId};
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

    /// Asks for the backlog of the session's room, if history and the backlog are on. Called
    /// before the session's own arrival is announced, so the backlog does not end with it.
    pub(super) fn ask_backlog(&mut self, conn: ConnId, sid: SessionId, out: &mut Outbox) {
        if self.settings.history_enabled && self.settings.backlog_lines > 0 {
            let n = self.settings.backlog_lines.min(HISTORY_MAX);
            self.ask_history(conn, sid, HistoryWhat::Backlog { n }, out);
        }
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
        if lines.events.is_empty() && matches!(query.what, HistoryWhat::Backlog { .. }) {
            return;
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
        // Lists that end with the newest line lose their oldest lines to the budget; the others
        // (a day from its start, search results newest first) lose their last ones.
        let keep_end = matches!(
            query.what,
            HistoryWhat::Last { .. } | HistoryWhat::Backlog { .. }
        );
        let mut events = lines.events;
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
        let total = lines.total.max(shown);
        let today = day_of(now.wall, self.settings.utc);
        let utc = self.settings.utc;
        out.send(
            conn,
            Event::Info(Info::HistoryStart {
                room: query.room,
                what: query.what.clone(),
                shown,
                total,
            }),
        );
        for event in events {
            let dated = event.at().is_some_and(|at| day_of(at, utc) != today);
            let event = Box::new(event);
            out.send(conn, Event::Past { event, dated });
        }
        out.send(conn, Event::Info(Info::HistoryEnd { what: query.what }));
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
