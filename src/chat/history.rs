//! History as the chat core sees it: `/history`, `/search`, and the backlog shown on login and
//! `/join`.
//!
//! The core never touches the disk. It asks with `Output::Query` (and records room events with
//! `Output::Store`); the reactor hands both to the storage thread (`crate::storage`), and the
//! answer comes back through [`Chat::history_answer`] as plain data. So the rules here (limits,
//! dates, framing, the output budget) are unit-tested like the rest of the core, without a disk.

use std::sync::Arc;

use super::event::{HistoryAnswer, HistoryError, HistoryQuery, HistoryWhat};
use super::{Chat, ConnId, Event, Info, Now, Outbox, Output, Refusal, SessionId};
use crate::clock::{day_bounds, day_of, parse_day};

/// Lines `/history` shows without a count.
pub const HISTORY_DEFAULT: usize = 20;
/// Most lines one `/history` shows (by count or by date): a reply is a burst into one output
/// queue, and a screenful or two is what a person reads anyway.
pub const HISTORY_MAX: usize = 500;
/// Most lines one `/search` shows, newest first.
pub const SEARCH_MAX: usize = 50;

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
    pub(super) fn history(&mut self, conn: ConnId, sid: SessionId, arg: &str, out: &mut Outbox) {
        if !self.settings.history_enabled {
            return out.send(conn, Event::Refused(Refusal::HistoryOff));
        }
        let what = if arg.is_empty() {
            HistoryWhat::Last { n: HISTORY_DEFAULT }
        } else if arg.bytes().all(|b| b.is_ascii_digit()) {
            match arg.parse::<usize>() {
                Ok(0) => return self.usage(conn, "history", out),
                Ok(n) => HistoryWhat::Last {
                    n: n.min(HISTORY_MAX),
                },
                Err(_) => HistoryWhat::Last { n: HISTORY_MAX }, // more digits than a usize holds
            }
        } else {
            let Some((from, to)) =
                parse_day(arg).and_then(|day| day_bounds(day, self.settings.utc))
            else {
                return out.send(conn, Event::Refused(Refusal::BadDate));
            };
            HistoryWhat::Day {
                day: Arc::from(arg),
                from,
                to,
                max: HISTORY_MAX,
            }
        };
        self.ask_history(conn, sid, what, out);
    }

    /// `/search WORDS`.
    pub(super) fn search(&mut self, conn: ConnId, sid: SessionId, words: &str, out: &mut Outbox) {
        if !self.settings.history_enabled {
            return out.send(conn, Event::Refused(Refusal::HistoryOff));
        }
        let what = HistoryWhat::Search {
            words: Arc::from(words),
            max: SEARCH_MAX,
        };
        self.ask_history(conn, sid, what, out);
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
        let room = self.rooms[self.sessions[sid].room].name.clone();
        let query = HistoryQuery { room, what };
        out.items.push(Output::Query { conn, query });
    }

    fn usage(&mut self, conn: ConnId, name: &str, out: &mut Outbox) {
        let entry = super::help::find(name).expect("every command has a help entry");
        out.send(conn, Event::Refused(Refusal::Usage(entry)));
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
