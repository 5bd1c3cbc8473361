//! Replies to one user (`-- `): the login and welcome, answers to queries, `/help`, and the
//! frames around missed lines, lists and history.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use unicode_width::UnicodeWidthStr;

use super::{line, reply, Out, Renderer};
use crate::chat::event::{HistoryWhat, Info, ScheduleEntry};
use crate::chat::help;
use crate::render::human::human_duration;
use crate::render::texts::reply as text;

/// `/help` fits a terminal this wide (telnet's default), in every language.
const HELP_COLUMNS: usize = 80;
/// The help's indent, then the usage column; a longer usage gets a line of its own.
const HELP_INDENT: &str = "--   ";
const USAGE_COLUMNS: usize = 25;

/// One command of `/help`: its usage, then its description wrapped at spaces into the column
/// beside it, measured in terminal columns (a Hangul syllable takes two).
fn help_entry(buf: &mut BytesMut, usage: &str, text: &str) {
    let text_at = HELP_INDENT.len() + USAGE_COLUMNS + 2;
    let room = HELP_COLUMNS - text_at;
    let mut lines = wrap(text, room).into_iter();
    if usage.width() > USAGE_COLUMNS {
        line!(buf, "{HELP_INDENT}{usage}");
    } else {
        let first = lines.next().unwrap_or_default();
        let pad = USAGE_COLUMNS - usage.width();
        line!(buf, "{HELP_INDENT}{usage}{:pad$}  {first}", "");
    }
    for rest in lines {
        line!(buf, "{:text_at$}{rest}", "--");
    }
}

/// Words of `text` gathered into lines of at most `columns` terminal columns (a longer word
/// stands alone on its line).
fn wrap(text: &str, columns: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.width() + 1 + word.width() > columns {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

impl Renderer {
    pub(super) fn info(&self, buf: &mut BytesMut, info: &Info) {
        let lang = self.lang;
        match info {
            Info::Greeting => reply(buf, text::greeting(lang)),
            Info::NickPrompt => reply(buf, text::nick_prompt(lang)),
            Info::Welcome { .. } => self.welcome(buf, info),
            Info::MissedHeader { total: 0, .. } => reply(buf, text::missed_nothing(lang)),
            Info::MissedHeader { shown, total } if shown == total => {
                reply(buf, text::missed(lang, *total));
            }
            Info::MissedHeader { shown, total } => {
                reply(buf, text::missed_last(lang, *total, *shown));
            }
            Info::MissedEnd => reply(buf, text::missed_end(lang)),
            Info::Users { room, users } => {
                let (op, away) = (text::user_op(lang), text::user_away(lang));
                let mut names = String::new();
                for (i, u) in users.iter().enumerate() {
                    if i > 0 {
                        names.push_str(", ");
                    }
                    names.push_str(&u.nick);
                    let _ = match (u.op, u.away) {
                        (true, true) => write!(names, " ({op}, {away})"),
                        (true, false) => write!(names, " ({op})"),
                        (false, true) => write!(names, " ({away})"),
                        (false, false) => Ok(()),
                    };
                }
                reply(buf, text::users_in(lang, room, users.len(), &names));
            }
            Info::Help => self.help(buf),
            Info::HelpFor(entry) => {
                line!(
                    buf,
                    "-- {}: {}",
                    entry.usage,
                    text::command_help(lang, entry)
                );
            }
            Info::UserCount { room, members } => {
                reply(buf, text::user_count(lang, room, *members));
            }
            Info::Rooms { rooms } => {
                let mut list = String::new();
                for (i, (name, count)) in rooms.iter().enumerate() {
                    if i > 0 {
                        list.push_str(", ");
                    }
                    let _ = write!(list, "{name} ({count})");
                }
                reply(buf, text::rooms(lang, rooms.len(), &list));
            }
            Info::WhisperSent { to, text, .. } => line!(buf, "-- -> *{to}* {text}"),
            Info::TargetAway { nick, message } => {
                reply(buf, text::target_away(lang, nick, message));
            }
            Info::WhisperHeld { nick } => reply(buf, text::whisper_held(lang, nick)),
            Info::NickChanged { nick } => reply(buf, text::nick_changed(lang, nick)),
            Info::AwaySet { message } => reply(buf, text::away_set(lang, message)),
            Info::AwayCleared => reply(buf, text::away_cleared(lang)),
            Info::ClusterLink { up: false } => reply(buf, text::cluster_down(lang)),
            Info::ClusterLink { up: true } => reply(buf, text::cluster_up(lang)),
            Info::ReplayUnavailable => reply(buf, text::replay_unavailable(lang)),
            Info::NickCollided { old, new } => reply(buf, text::nick_collided(lang, old, new)),
            Info::Whois {
                nick,
                room,
                idle_secs,
                away,
                op,
                reconnecting,
            } => {
                let idle = human_duration(*idle_secs);
                let _ = write!(Out(buf), "-- {}", text::whois(lang, nick, room, &idle));
                if let Some(message) = away {
                    let _ = write!(Out(buf), ", {}", text::whois_away(lang, message));
                }
                if *op {
                    let _ = write!(Out(buf), ", {}", text::whois_op(lang));
                }
                if *reconnecting {
                    let _ = write!(Out(buf), ", {}", text::whois_reconnecting(lang));
                }
                buf.put_slice(b"\r\n");
            }
            Info::NowInRoom { room } => reply(buf, text::now_in_room(lang, room)),
            Info::TopicOnJoin { topic } => reply(buf, text::topic_on_join(lang, topic)),
            Info::Topic {
                room,
                topic: Some((topic, by)),
                ..
            } => reply(buf, text::topic_of(lang, room, topic, by)),
            Info::Topic {
                room, topic: None, ..
            } => reply(buf, text::no_topic(lang, room)),
            Info::TopicLock { room, locked: true } => reply(buf, text::topic_locked(lang, room)),
            Info::TopicLock {
                room,
                locked: false,
            } => reply(buf, text::topic_unlocked(lang, room)),
            Info::ScheduleSet { entry } => {
                let (hhmm, within) = (self.stamper.hhmm(entry.due), human_duration(entry.in_secs));
                let ScheduleEntry { id, room, text, .. } = entry;
                reply(
                    buf,
                    text::schedule_set(lang, *id, &hhmm, &within, room, text),
                );
            }
            Info::ScheduleUnsent { id, room } => {
                reply(buf, text::schedule_unsent(lang, *id, room));
            }
            Info::ScheduleSent { id, room } => reply(buf, text::schedule_sent(lang, *id, room)),
            Info::Schedules { entries } => {
                reply(buf, text::schedules(lang, entries.len()));
                for e in entries {
                    let (hhmm, within) = (self.stamper.hhmm(e.due), human_duration(e.in_secs));
                    let entry = text::schedule_entry(lang, e.id, &hhmm, &within, &e.room, &e.text);
                    line!(buf, "--   {entry}");
                }
                reply(buf, text::schedules_end(lang));
            }
            Info::Unscheduled { id } => reply(buf, text::unscheduled(lang, *id)),
            Info::NowOperator => reply(buf, text::now_operator(lang)),
            Info::HistoryStart {
                room,
                what,
                shown,
                total,
            } => self.history_start(buf, room, what, *shown, *total),
            Info::HistoryEnd { what } => self.history_end(buf, what),
            // What sessions that keep several rooms are told; their protocol (IRC) has its own
            // renderer, and these lines are the line protocol's reading of the same events.
            Info::Registered { nick, .. } => reply(buf, text::registered(lang, nick)),
            Info::Entered { room, topic, .. } => {
                reply(buf, text::now_in_room(lang, room));
                if let Some((topic, _)) = topic {
                    reply(buf, text::topic_on_join(lang, topic));
                }
            }
            Info::Parted { room, .. } => reply(buf, text::left_room(lang, room)),
            Info::Members { room, members } => {
                let names = join_names(members.iter().map(|m| &*m.nick));
                reply(buf, text::users_in(lang, room, members.len(), &names));
            }
            Info::RoomList { rooms } => {
                let mut list = String::new();
                for (i, (name, count, _)) in rooms.iter().enumerate() {
                    if i > 0 {
                        list.push_str(", ");
                    }
                    let _ = write!(list, "{name} ({count})");
                }
                reply(buf, text::rooms(lang, rooms.len(), &list));
            }
            Info::RoomModes {
                room,
                topic_locked: true,
                ..
            } => reply(buf, text::topic_locked(lang, room)),
            Info::RoomModes { room, .. } => reply(buf, text::topic_unlocked(lang, room)),
            Info::Who { users, .. } => {
                let names = join_names(users.iter().map(|(m, _)| &*m.nick));
                reply(buf, text::online_of(lang, &names));
            }
            Info::WhoisUser {
                member,
                rooms,
                idle_secs,
                ..
            } => {
                let idle = human_duration(*idle_secs);
                let room = rooms.first().map_or("", |(r, _)| r);
                reply(buf, text::whois(lang, &member.nick, room, &idle));
            }
            Info::Online { nicks } => {
                let names = join_names(nicks.iter().map(|n| &**n));
                reply(buf, text::online_of(lang, &names));
            }
            Info::Userhosts { users } => {
                let names = join_names(users.iter().map(|m| &*m.nick));
                reply(buf, text::online_of(lang, &names));
            }
        }
    }

    fn welcome(&self, buf: &mut BytesMut, welcome: &Info) {
        let Info::Welcome {
            nick,
            room,
            rules,
            resumed,
            topic,
            online,
            online_total,
            op,
            resume_key,
            grace_secs,
        } = welcome
        else {
            return;
        };
        let lang = self.lang;
        if *resumed {
            reply(buf, text::welcome_back(lang, nick, room));
        } else {
            reply(buf, text::welcome(lang, nick, room));
            reply(buf, text::rules(lang, rules));
            reply(buf, text::help_hint(lang));
        }
        if let Some(topic) = topic {
            reply(buf, text::topic_on_join(lang, topic));
        }
        let names = online.join(", ");
        let total = *online_total;
        match total.saturating_sub(online.len()) {
            // A big server lists no names (see `Chat::welcome`).
            _ if online.is_empty() => reply(buf, text::online_unlisted(lang, total)),
            0 => reply(buf, text::online(lang, total, &names)),
            more => reply(buf, text::online_more(lang, total, &names, more)),
        }
        if *op {
            reply(buf, text::now_operator(lang));
        }
        reply(buf, text::resume_key(lang, nick, resume_key, *grace_secs));
    }

    fn help(&self, buf: &mut BytesMut) {
        let lang = self.lang;
        reply(buf, text::commands(lang));
        for entry in help::COMMANDS {
            help_entry(buf, entry.usage, text::command_help(lang, entry));
        }
        help_entry(buf, "//text", &text::slash_text(lang).to_string());
        reply(buf, text::help_footer(lang));
        reply(buf, text::help_end(lang));
    }

    fn history_start(
        &self,
        buf: &mut BytesMut,
        room: &str,
        what: &HistoryWhat,
        shown: usize,
        total: usize,
    ) {
        let lang = self.lang;
        let count = if shown == total {
            text::all_lines(lang, total).to_string()
        } else {
            text::some_lines(lang, shown, total).to_string()
        };
        match what {
            HistoryWhat::Last { .. } => reply(buf, text::history_of(lang, room, &count)),
            HistoryWhat::Day { day, .. } => {
                reply(buf, text::history_of_day(lang, room, day, &count));
            }
            HistoryWhat::Search {
                words, from: None, ..
            } => reply(buf, text::search_of(lang, room, words, &count)),
            HistoryWhat::Search {
                words,
                from: Some(from),
                ..
            } if words.is_empty() => reply(buf, text::search_from(lang, room, from, &count)),
            HistoryWhat::Search {
                words,
                from: Some(from),
                ..
            } => reply(buf, text::search_of_from(lang, room, words, from, &count)),
            HistoryWhat::Backlog { .. } => reply(buf, text::backlog_of(lang, room, &count)),
            // Scores are answered with their own lines, never framed as history.
            HistoryWhat::Leaderboard { .. } | HistoryWhat::Player { .. } => {}
        }
    }

    fn history_end(&self, buf: &mut BytesMut, what: &HistoryWhat) {
        let lang = self.lang;
        match what {
            HistoryWhat::Last { .. } | HistoryWhat::Day { .. } => {
                reply(buf, text::history_end(lang));
            }
            HistoryWhat::Search { .. } => reply(buf, text::search_end(lang)),
            HistoryWhat::Backlog { .. } => reply(buf, text::backlog_end(lang)),
            HistoryWhat::Leaderboard { .. } | HistoryWhat::Player { .. } => {}
        }
    }
}

/// Names separated by commas.
fn join_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, name) in names.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_counts_terminal_columns_and_never_splits_a_word() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
        // Five Hangul syllables are ten columns.
        assert_eq!(wrap("가나다라마 바", 10), ["가나다라마", "바"]);
        assert_eq!(wrap("", 10), [""]);
    }
}
