//! History as the chat core sees it: `/history`, `/search`, and the backlog shown on login and
//! `/join`.
//!
//! The core never touches the disk. It asks with `Output::Query` (and records room events with
//! `Output::Store`); the reactor hands both to the storage thread (`crate::history`), and the
//! answer comes back through [`Chat::history_answer`] as plain data. So the rules here (limits,
//! dates, framing, the output budget) are unit-tested like the rest of the core, without a disk.

use std::sync::Arc;

use chrono::{Datelike, Local, NaiveDate, TimeZone, Utc};

use super::event::UnixMillis;
use super::{Chat, ConnId, Event, Info, Now, Outbox, Output, Refusal, SessionId};

/// Lines `/history` shows without a count.
pub const HISTORY_DEFAULT: usize = 20;
/// Most lines one `/history` shows (by count or by date): a reply is a burst into one output
/// queue, and a screenful or two is what a person reads anyway.
pub const HISTORY_MAX: usize = 500;
/// Most lines one `/search` shows, newest first.
pub const SEARCH_MAX: usize = 50;

/// What a history query asks for. Always about one room (the asker's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The room's name as shown; the store matches it case-insensitively.
    pub room: Arc<str>,
    pub what: HistoryWhat,
}

/// The kind of a history query, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryWhat {
    /// `/history [N]`: the last `n` lines, oldest first.
    Last { n: usize },
    /// `/history YYYY-MM-DD`: the first `max` lines with `from <= at < to`, oldest first.
    Day {
        day: Arc<str>,
        from: UnixMillis,
        to: UnixMillis,
        max: usize,
    },
    /// `/search WORDS`: at most `max` lines whose text has every word, newest first.
    Search { words: Arc<str>, max: usize },
    /// The last `n` lines, shown on login and `/join`; nothing is shown when there are none.
    Backlog { n: usize },
    /// `/score`: the room's best `top` game players. Answered with one leaderboard event.
    Leaderboard { top: usize },
    /// `/score NICK`: one player's game score in the room. Answered with one score event.
    Player { nick: Arc<str> },
}

/// The store's answer to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAnswer {
    pub query: HistoryQuery,
    pub result: Result<HistoryLines, HistoryError>,
}

/// Lines found, in the order they are to be shown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryLines {
    pub events: Vec<Event>,
    /// How many lines matched in all (more than `events.len()` when a limit cut the list).
    pub total: usize,
}

/// Why a query has no answer. The details are in the server's log, not for users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryError {
    Failed,
}

/// The calendar day of a wall-clock time, in UTC or the server's local time.
pub fn day_of(at: UnixMillis, utc: bool) -> NaiveDate {
    let ms = i64::try_from(at).unwrap_or(i64::MAX);
    if utc {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.date_naive())
    } else {
        Local
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.date_naive())
    }
    .unwrap_or_default()
}

/// `YYYY-MM-DD` of a day.
pub fn format_day(day: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
}

/// Parses a strict `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The wall-clock span `[from, to)` of a day, in Unix ms. Local midnight is taken at its first
/// occurrence (a daylight-saving change may make a day 23 or 25 hours long).
pub fn day_bounds(day: NaiveDate, utc: bool) -> Option<(UnixMillis, UnixMillis)> {
    let start = |d: NaiveDate| -> Option<UnixMillis> {
        let midnight = d.and_hms_opt(0, 0, 0)?;
        let ms = if utc {
            Utc.from_utc_datetime(&midnight).timestamp_millis()
        } else {
            Local
                .from_local_datetime(&midnight)
                .earliest()?
                .timestamp_millis()
        };
        u64::try_from(ms).ok()
    };
    Some((start(day)?, start(day.succ_opt()?)?))
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
    pub(super) fn history(&mut self, conn: ConnId, sid: SessionId, arg: &str, out: &mut Outbox) {
        if !self.settings.history {
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
        if !self.settings.history {
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
        if self.settings.history && self.settings.backlog_lines > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_strictly() {
        assert_eq!(
            parse_day("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        for bad in [
            "2023-02-29",
            "2024-2-01",
            "24-02-01",
            "2024-02-01x",
            "today",
            "2024-13-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_day_bounds_cover_one_day() {
        let day = parse_day("2024-01-01").unwrap();
        let (from, to) = day_bounds(day, true).unwrap();
        assert_eq!(from, 1_704_067_200_000);
        assert_eq!(to - from, 86_400_000);
        assert_eq!(day_of(from, true), day);
        assert_eq!(day_of(to - 1, true), day);
        assert_eq!(format_day(day_of(to, true)), "2024-01-02");
    }
}
