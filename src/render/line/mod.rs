//! The line protocol's renderer: events into protocol lines (PROTOCOL.md), in English or Korean.
//!
//! Rendering appends to a `BytesMut`, so a broadcast is formatted once and the frozen `Bytes`
//! is shared by every recipient's queue.

use std::cell::Cell;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use chrono::{Local, TimeZone, Timelike, Utc};

use crate::chat::event::HistoryWhat;
use crate::chat::event::{
    Bye, Departure, Event, Info, LostReason, Refusal, ScheduleEntry, UnixMillis,
};
use crate::chat::help;
use crate::clock;
use crate::config::Lang;

mod files;
mod game;
mod presence;
#[cfg(test)]
mod snapshot;

pub use files::human_size;

/// Formats `[HH:MM]` stamps, caching the text for the current minute: local time lookups cost a
/// time-zone computation, and thousands of lines a second share one minute.
#[derive(Debug)]
pub struct Stamper {
    utc: bool,
    cache: Cell<(u64, [u8; 7])>,
}

impl Stamper {
    pub fn new(utc: bool) -> Self {
        Stamper {
            utc,
            cache: Cell::new((u64::MAX, *b"[00:00]")),
        }
    }

    /// The `[HH:MM]` text for a wall-clock time.
    pub fn stamp(&self, at: UnixMillis) -> [u8; 7] {
        let minute = at / 60_000;
        let (cached_minute, text) = self.cache.get();
        if cached_minute == minute {
            return text;
        }
        let secs = (at / 1000) as i64;
        let (h, m) = if self.utc {
            let t = Utc.timestamp_opt(secs, 0).single().unwrap_or_default();
            (t.hour(), t.minute())
        } else {
            match Local.timestamp_opt(secs, 0).single() {
                Some(t) => (t.hour(), t.minute()),
                None => (0, 0),
            }
        };
        let text = [
            b'[',
            b'0' + (h / 10) as u8,
            b'0' + (h % 10) as u8,
            b':',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b']',
        ];
        self.cache.set((minute, text));
        text
    }
}

/// Renders events in one language.
#[derive(Debug)]
pub struct Renderer {
    pub lang: Lang,
    pub stamper: Stamper,
}

/// `write!` into a BytesMut cannot fail; this keeps the call sites short. Shared with the
/// renderers of files and games (`files`, `game`).
pub(super) struct Out<'a>(pub(super) &'a mut BytesMut);

impl std::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends one formatted protocol line and its `\r\n`.
macro_rules! line {
    ($buf:expr, $($arg:tt)*) => {{
        let _ = write!(Out($buf), $($arg)*);
        $buf.put_slice(b"\r\n");
    }};
}
pub(super) use line;

impl Renderer {
    pub fn new(lang: Lang, utc: bool) -> Self {
        Renderer {
            lang,
            stamper: Stamper::new(utc),
        }
    }

    fn ko(&self) -> bool {
        self.lang == Lang::Ko
    }

    /// Appends the protocol line(s) for `event` to `buf`.
    pub fn render(&self, event: &Event, buf: &mut BytesMut) {
        match event {
            Event::Message { at, from, text, .. } => {
                buf.reserve(10 + from.len() + text.len());
                buf.put_slice(&self.stamper.stamp(*at));
                buf.put_u8(b' ');
                buf.put_slice(from.as_bytes());
                buf.put_slice(b": ");
                buf.put_slice(text.as_bytes());
                buf.put_slice(b"\r\n");
            }
            Event::Action { at, from, text, .. } => {
                self.notice(buf, *at);
                line!(buf, "{from} {text}");
            }
            Event::Whisper { at, from, text, .. } => {
                buf.put_slice(&self.stamper.stamp(*at));
                line!(buf, " *{from}* {text}");
            }
            Event::Scheduled { at, from, text, .. } => {
                buf.put_slice(&self.stamper.stamp(*at));
                if self.ko() {
                    line!(buf, " [{from}님의 예약 메시지] {text}");
                } else {
                    line!(buf, " [scheduled by {from}] {text}");
                }
            }
            Event::Renamed { at, old, new, .. } => {
                self.notice(buf, *at);
                if self.ko() {
                    line!(buf, "{old}님의 대화명이 {new}(으)로 바뀌었습니다");
                } else {
                    line!(buf, "{old} is now known as {new}");
                }
            }
            Event::TopicSet { at, by, topic, .. } => {
                self.notice(buf, *at);
                if self.ko() {
                    line!(buf, "{by}님이 주제를 정했습니다: {topic}");
                } else {
                    line!(buf, "{by} set the topic: {topic}");
                }
            }
            Event::Joined { at, nick, .. } => {
                self.notice(buf, *at);
                if self.ko() {
                    line!(buf, "{nick}님이 입장하셨습니다");
                } else {
                    line!(buf, "{nick} joined");
                }
            }
            Event::Reconnected { at, nick, .. } => {
                self.notice(buf, *at);
                if self.ko() {
                    line!(buf, "{nick}님이 재접속했습니다");
                } else {
                    line!(buf, "{nick} reconnected");
                }
            }
            Event::Left { at, nick, how, .. } => {
                self.notice(buf, *at);
                self.departure(buf, nick, how);
            }
            Event::Past { event, dated } => self.past(buf, event, *dated),
            Event::Info(info) => self.info(buf, info),
            Event::Refused(refusal) => self.refusal(buf, refusal),
            Event::Bye(bye) => self.bye(buf, bye),
            Event::File(notice) => self.file(buf, notice),
            Event::Game(notice) => self.game(buf, notice),
            Event::Presence(summary) => self.presence(buf, summary),
            Event::Invite(notice) => self.invite(buf, notice),
        }
    }

    /// A history line: rendered as it was live; a line from another day gets its date in the
    /// stamp, `[2024-05-17 12:34]`.
    fn past(&self, buf: &mut BytesMut, event: &Event, dated: bool) {
        let Some(at) = event.at().filter(|_| dated) else {
            return self.render(event, buf);
        };
        let mut live = BytesMut::new();
        self.render(event, &mut live);
        let day = clock::format_day(clock::day_of(at, self.stamper.utc));
        match live.strip_prefix(b"[") {
            Some(rest) => {
                buf.put_u8(b'[');
                buf.put_slice(day.as_bytes());
                buf.put_u8(b' ');
                buf.put_slice(rest);
            }
            None => buf.put_slice(&live),
        }
    }

    fn history_start(
        &self,
        buf: &mut BytesMut,
        room: &str,
        what: &HistoryWhat,
        shown: usize,
        total: usize,
    ) {
        let count = match (self.ko(), shown == total, total == 1) {
            (true, true, _) => format!("{total}줄"),
            (true, false, _) => format!("{shown}/{total}줄"),
            (false, true, true) => "1 line".to_string(),
            (false, true, false) => format!("{total} lines"),
            (false, false, _) => format!("{shown} of {total} lines"),
        };
        match (what, self.ko()) {
            (HistoryWhat::Last { .. }, false) => line!(buf, "-- History of {room} ({count}):"),
            (HistoryWhat::Last { .. }, true) => line!(buf, "-- {room} 방 기록 ({count}):"),
            (HistoryWhat::Day { day, .. }, false) => {
                line!(buf, "-- History of {room} on {day} ({count}):")
            }
            (HistoryWhat::Day { day, .. }, true) => {
                line!(buf, "-- {room} 방 {day} 기록 ({count}):")
            }
            (HistoryWhat::Search { words, .. }, false) => {
                line!(
                    buf,
                    "-- Search of {room} for \"{words}\" ({count}, newest first):"
                )
            }
            (HistoryWhat::Search { words, .. }, true) => {
                line!(buf, "-- {room} 방 \"{words}\" 검색 결과 ({count}, 최신순):")
            }
            (HistoryWhat::Backlog { .. }, false) => {
                line!(buf, "-- Recent lines in {room} ({count}):")
            }
            (HistoryWhat::Backlog { .. }, true) => line!(buf, "-- {room} 방 최근 대화 ({count}):"),
            // Scores are answered with their own lines, never framed as history.
            (HistoryWhat::Leaderboard { .. } | HistoryWhat::Player { .. }, _) => {}
        }
    }

    fn history_end(&self, buf: &mut BytesMut, what: &HistoryWhat) {
        match (what, self.ko()) {
            (HistoryWhat::Last { .. } | HistoryWhat::Day { .. }, false) => {
                line!(buf, "-- End of history.")
            }
            (HistoryWhat::Last { .. } | HistoryWhat::Day { .. }, true) => line!(buf, "-- 기록 끝."),
            (HistoryWhat::Search { .. }, false) => line!(buf, "-- End of search."),
            (HistoryWhat::Search { .. }, true) => line!(buf, "-- 검색 끝."),
            (HistoryWhat::Backlog { .. }, false) => line!(buf, "-- End of recent lines."),
            (HistoryWhat::Backlog { .. }, true) => line!(buf, "-- 최근 대화 끝."),
            (HistoryWhat::Leaderboard { .. } | HistoryWhat::Player { .. }, _) => {}
        }
    }

    /// The `[HH:MM] * ` that starts a room notice.
    pub(super) fn notice(&self, buf: &mut BytesMut, at: UnixMillis) {
        buf.put_slice(&self.stamper.stamp(at));
        buf.put_slice(b" * ");
    }

    fn departure(&self, buf: &mut BytesMut, nick: &str, how: &Departure) {
        match (how, self.ko()) {
            (Departure::Quit { message: Some(m) }, false) => line!(buf, "{nick} left ({m})"),
            (Departure::Quit { message: None }, false) => line!(buf, "{nick} left"),
            (Departure::Quit { message: Some(m) }, true) => {
                line!(buf, "{nick}님이 퇴장하셨습니다. ({m})")
            }
            (Departure::Quit { message: None }, true) => line!(buf, "{nick}님이 퇴장하셨습니다."),
            (Departure::Lost { reason }, false) => {
                line!(
                    buf,
                    "{nick} lost the connection ({})",
                    self.lost_reason(*reason)
                )
            }
            (Departure::Lost { reason }, true) => {
                line!(
                    buf,
                    "{nick}님이 접속이 끊겼습니다. ({})",
                    self.lost_reason(*reason)
                )
            }
            (Departure::GraceExpired { grace_secs }, false) => {
                line!(buf, "{nick} left (did not reconnect within {grace_secs} s)")
            }
            (Departure::GraceExpired { grace_secs }, true) => {
                line!(
                    buf,
                    "{nick}님이 퇴장하셨습니다. ({grace_secs}초 안에 재접속하지 않음)"
                )
            }
            (Departure::Moved { to }, false) => line!(buf, "{nick} went to room {to}"),
            (Departure::Moved { to }, true) => line!(buf, "{nick}님이 {to} 방으로 이동했습니다"),
            (Departure::Kicked { by, reason }, false) => match reason {
                Some(r) => line!(buf, "{nick} was kicked by {by} ({r})"),
                None => line!(buf, "{nick} was kicked by {by}"),
            },
            (Departure::Kicked { by, reason }, true) => match reason {
                Some(r) => line!(buf, "{nick}님이 {by}님에 의해 강퇴되었습니다. ({r})"),
                None => line!(buf, "{nick}님이 {by}님에 의해 강퇴되었습니다."),
            },
        }
    }

    fn lost_reason(&self, reason: LostReason) -> &'static str {
        match (reason, self.ko()) {
            (LostReason::Closed, false) => "connection closed",
            (LostReason::Reset, false) => "connection reset",
            (LostReason::ReadError, false) => "read error",
            (LostReason::WriteError, false) => "write error",
            (LostReason::PingTimeout, false) => "ping timeout",
            (LostReason::SendQueueExceeded, false) => "send queue exceeded",
            (LostReason::ExcessFlood, false) => "excess flood",
            (LostReason::ExcessFlood, true) => "도배 (excess flood)",
            (LostReason::Closed, true) => "연결 종료",
            (LostReason::Reset, true) => "연결 재설정",
            (LostReason::ReadError, true) => "읽기 오류",
            (LostReason::WriteError, true) => "쓰기 오류",
            (LostReason::PingTimeout, true) => "응답 시간 초과 (ping timeout)",
            (LostReason::SendQueueExceeded, true) => "전송 대기열 초과 (send queue exceeded)",
        }
    }

    fn info(&self, buf: &mut BytesMut, info: &Info) {
        let ko = self.ko();
        match info {
            Info::Greeting if ko => line!(
                buf,
                "-- reactor-chat에 오신 것을 환영합니다! 대화명을 입력하세요:"
            ),
            Info::Greeting => line!(buf, "-- Welcome to reactor-chat! Enter your nickname:"),
            Info::NickPrompt if ko => line!(buf, "-- 대화명을 입력하세요:"),
            Info::NickPrompt => line!(buf, "-- Enter your nickname:"),
            Info::Welcome {
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
            } => {
                match (resumed, ko) {
                    (false, false) => line!(buf, "-- Welcome, {nick}! You are in room {room}."),
                    (true, false) => line!(buf, "-- Welcome back, {nick}! You are in room {room}."),
                    (false, true) => {
                        line!(buf, "-- {nick}님, 환영합니다! 지금 {room} 방에 있습니다.")
                    }
                    (true, true) => line!(
                        buf,
                        "-- {nick}님, 다시 오셨군요! 지금 {room} 방에 있습니다."
                    ),
                }
                if !resumed {
                    if ko {
                        line!(buf, "-- 규칙: {rules}");
                        line!(buf, "-- 명령어 목록은 /help 를 입력하세요.");
                    } else {
                        line!(buf, "-- Rules: {rules}");
                        line!(buf, "-- Type /help for the commands.");
                    }
                }
                if let Some(topic) = topic {
                    self.info(
                        buf,
                        &Info::TopicOnJoin {
                            topic: topic.clone(),
                        },
                    );
                }
                let mut names = String::new();
                for (i, n) in online.iter().enumerate() {
                    if i > 0 {
                        names.push_str(", ");
                    }
                    names.push_str(n);
                }
                let more = online_total.saturating_sub(online.len());
                let users = if *online_total == 1 { "user" } else { "users" };
                match (more > 0, ko) {
                    // A big server lists no names (see `Chat::welcome`).
                    _ if online.is_empty() && !ko => {
                        line!(
                            buf,
                            "-- {online_total} {users} online (/users lists your room)"
                        )
                    }
                    _ if online.is_empty() => {
                        line!(
                            buf,
                            "-- 접속자 {online_total}명 (/users 로 방 접속자를 봅니다)"
                        )
                    }
                    (false, false) => line!(buf, "-- {online_total} {users} online: {names}"),
                    (true, false) => line!(
                        buf,
                        "-- {online_total} {users} online: {names} and {more} more"
                    ),
                    (false, true) => line!(buf, "-- 접속자 {online_total}명: {names}"),
                    (true, true) => line!(buf, "-- 접속자 {online_total}명: {names} 외 {more}명"),
                }
                if *op {
                    self.info(buf, &Info::NowOperator);
                }
                if ko {
                    line!(
                        buf,
                        "-- 재접속 키: {resume_key} (연결이 끊기면 {grace_secs}초 안에 \"{nick} {resume_key}\"(으)로 로그인하면 어느 주소에서든 대화명을 되찾습니다)"
                    );
                } else {
                    line!(
                        buf,
                        "-- Resume key: {resume_key} (if your connection drops, log in as \"{nick} {resume_key}\" within {grace_secs} s to reclaim your name from any address)"
                    );
                }
            }
            Info::MissedHeader { shown, total } => match (shown == total, *total == 0, ko) {
                (_, true, false) => line!(buf, "-- You missed nothing."),
                (_, true, true) => line!(buf, "-- 놓친 메시지가 없습니다."),
                (true, false, false) if *total == 1 => line!(buf, "-- You missed 1 line:"),
                (true, false, false) => line!(buf, "-- You missed {total} lines:"),
                (true, false, true) => line!(buf, "-- 놓친 메시지 {total}줄:"),
                (false, false, false) => line!(
                    buf,
                    "-- You missed {total} lines; here are the last {shown}:"
                ),
                (false, false, true) => line!(buf, "-- 놓친 메시지 {total}줄 중 최근 {shown}줄:"),
            },
            Info::MissedEnd if ko => line!(buf, "-- 놓친 메시지 끝."),
            Info::MissedEnd => line!(buf, "-- End of missed lines."),
            Info::Users { room, users } => {
                let mut names = String::new();
                let (op, away) = if ko {
                    ("운영자", "자리 비움")
                } else {
                    ("op", "away")
                };
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
                if ko {
                    line!(buf, "-- {room} 방 접속자 {}명: {names}", users.len());
                } else {
                    let count = users.len();
                    let noun = if count == 1 { "user" } else { "users" };
                    line!(buf, "-- {count} {noun} in {room}: {names}");
                }
            }
            Info::Help => self.help(buf),
            Info::HelpFor(entry) if ko => line!(buf, "-- {}: {}", entry.usage, entry.ko),
            Info::HelpFor(entry) => line!(buf, "-- {}: {}", entry.usage, entry.en),
            Info::UserCount { room, members } if ko => {
                line!(
                    buf,
                    "-- {room} 방 접속자 {members}명 (/users 로 목록을 봅니다)"
                )
            }
            Info::UserCount { room, members } => {
                line!(buf, "-- {members} users in {room} (/users lists them)")
            }
            Info::Rooms { rooms } => {
                let mut list = String::new();
                for (i, (name, count)) in rooms.iter().enumerate() {
                    if i > 0 {
                        list.push_str(", ");
                    }
                    let _ = write!(list, "{name} ({count})");
                }
                let n = rooms.len();
                match (ko, n == 1) {
                    (true, _) => line!(buf, "-- 방 {n}개: {list}"),
                    (false, true) => line!(buf, "-- 1 room: {list}"),
                    (false, false) => line!(buf, "-- {n} rooms: {list}"),
                }
            }
            Info::WhisperSent { to, text } => line!(buf, "-- -> *{to}* {text}"),
            Info::TargetAway { nick, message } if ko => {
                line!(buf, "-- {nick}님은 자리 비움: {message}")
            }
            Info::TargetAway { nick, message } => line!(buf, "-- {nick} is away: {message}"),
            Info::WhisperHeld { nick } if ko => {
                line!(
                    buf,
                    "-- {nick}님이 재접속 중입니다. 돌아오면 귓속말이 전달됩니다"
                )
            }
            Info::WhisperHeld { nick } => {
                line!(
                    buf,
                    "-- {nick} is reconnecting; your whisper will be delivered when they return"
                )
            }
            Info::NickChanged { nick } if ko => line!(buf, "-- 이제 대화명은 {nick}입니다."),
            Info::NickChanged { nick } => line!(buf, "-- You are now known as {nick}"),
            Info::AwaySet { message } if ko => {
                line!(buf, "-- 자리 비움으로 표시했습니다: {message}")
            }
            Info::AwaySet { message } => line!(buf, "-- You are marked away: {message}"),
            Info::AwayCleared if ko => line!(buf, "-- 자리 비움을 해제했습니다."),
            Info::AwayCleared => line!(buf, "-- You are no longer away."),
            Info::Whois {
                nick,
                room,
                idle_secs,
                away,
                op,
                reconnecting,
            } => {
                let idle = human_duration(*idle_secs);
                let mut text = if ko {
                    format!("-- {nick}: {room} 방, 대기 {idle}")
                } else {
                    format!("-- {nick}: room {room}, idle {idle}")
                };
                if let Some(message) = away {
                    let _ = write!(
                        text,
                        "{}{message}",
                        if ko { ", 자리 비움: " } else { ", away: " }
                    );
                }
                if *op {
                    text.push_str(if ko { ", 운영자" } else { ", operator" });
                }
                if *reconnecting {
                    text.push_str(if ko {
                        ", 재접속 대기 중"
                    } else {
                        ", reconnecting"
                    });
                }
                line!(buf, "{text}");
            }
            Info::NowInRoom { room } if ko => line!(buf, "-- 이제 {room} 방에 있습니다."),
            Info::NowInRoom { room } => line!(buf, "-- You are now in room {room}."),
            Info::TopicOnJoin { topic } if ko => line!(buf, "-- 주제: {topic}"),
            Info::TopicOnJoin { topic } => line!(buf, "-- Topic: {topic}"),
            Info::Topic { room, topic } => match (topic, ko) {
                (Some((t, by)), false) => line!(buf, "-- Topic of {room}: {t} (set by {by})"),
                (Some((t, by)), true) => line!(buf, "-- {room} 방 주제: {t} ({by}님이 정함)"),
                (None, false) => line!(buf, "-- {room} has no topic."),
                (None, true) => line!(buf, "-- {room} 방에는 주제가 없습니다."),
            },
            Info::TopicLock { room, locked } => match (locked, ko) {
                (true, false) => line!(buf, "-- The topic of {room} is now locked."),
                (false, false) => line!(buf, "-- The topic of {room} is now unlocked."),
                (true, true) => line!(buf, "-- {room} 방 주제를 잠갔습니다."),
                (false, true) => line!(buf, "-- {room} 방 주제 잠금을 풀었습니다."),
            },
            Info::ScheduleSet { entry } => {
                let (hhmm, inn) = (self.hhmm(entry.due), human_duration(entry.in_secs));
                let ScheduleEntry { id, room, text, .. } = entry;
                if ko {
                    line!(buf, "-- 예약 #{id}: {hhmm} ({inn} 후) {room} 방: {text}");
                } else {
                    line!(
                        buf,
                        "-- Scheduled #{id} for {hhmm} (in {inn}) in {room}: {text}"
                    );
                }
            }
            Info::ScheduleUnsent { id, room } if ko => line!(
                buf,
                "-- 예약 메시지 #{id}은(는) 보내지 못했습니다: {room} 방에 아무도 없습니다."
            ),
            Info::ScheduleUnsent { id, room } => line!(
                buf,
                "-- Scheduled message #{id} was not sent: nobody is in {room} any more."
            ),
            Info::ScheduleSent { id, room } if ko => {
                line!(buf, "-- 예약 메시지 #{id}을(를) {room} 방에 보냈습니다.")
            }
            Info::ScheduleSent { id, room } => {
                line!(buf, "-- Scheduled message #{id} was sent to {room}.")
            }
            Info::Schedules { entries } => {
                let n = entries.len();
                match (ko, n == 1) {
                    (true, _) => line!(buf, "-- 예약 메시지 {n}개:"),
                    (false, true) => line!(buf, "-- You have 1 scheduled message:"),
                    (false, false) => line!(buf, "-- You have {n} scheduled messages:"),
                }
                for e in entries {
                    let (hhmm, inn) = (self.hhmm(e.due), human_duration(e.in_secs));
                    if ko {
                        line!(
                            buf,
                            "--   #{} {hhmm} ({inn} 후) {}: {}",
                            e.id,
                            e.room,
                            e.text
                        );
                    } else {
                        line!(
                            buf,
                            "--   #{} {hhmm} (in {inn}) {}: {}",
                            e.id,
                            e.room,
                            e.text
                        );
                    }
                }
                if ko {
                    line!(buf, "-- 예약 메시지 끝.");
                } else {
                    line!(buf, "-- End of scheduled messages.");
                }
            }
            Info::Unscheduled { id } if ko => line!(buf, "-- #{id} 예약을 취소했습니다."),
            Info::Unscheduled { id } => line!(buf, "-- Cancelled #{id}."),
            Info::NowOperator if ko => line!(buf, "-- 이제 운영자입니다."),
            Info::NowOperator => line!(buf, "-- You are now an operator."),
            Info::HistoryStart {
                room,
                what,
                shown,
                total,
            } => self.history_start(buf, room, what, *shown, *total),
            Info::HistoryEnd { what } => self.history_end(buf, what),
        }
    }

    /// `HH:MM` of a wall-clock time, as the stamps show it.
    fn hhmm(&self, at: UnixMillis) -> String {
        let stamp = self.stamper.stamp(at);
        String::from_utf8_lossy(&stamp[1..6]).into_owned()
    }

    fn help(&self, buf: &mut BytesMut) {
        let ko = self.ko();
        line!(buf, "{}", if ko { "-- 명령어:" } else { "-- Commands:" });
        for entry in help::COMMANDS {
            let text = if ko { entry.ko } else { entry.en };
            line!(buf, "--   {:<40} {text}", entry.usage);
        }
        if ko {
            line!(buf, "--   {:<40} /로 시작하는 메시지 보내기", "//text");
            line!(
                buf,
                "-- 그 밖의 줄은 방의 모두에게 보내집니다. /help 명령어 로 자세히 볼 수 있습니다."
            );
            line!(buf, "-- 도움말 끝.");
        } else {
            line!(
                buf,
                "--   {:<40} send a message that starts with /",
                "//text"
            );
            line!(
                buf,
                "-- Any other line is sent to everyone in your room. /help COMMAND explains one."
            );
            line!(buf, "-- End of help.");
        }
    }

    fn refusal(&self, buf: &mut BytesMut, refusal: &Refusal) {
        let ko = self.ko();
        match refusal {
            Refusal::NickInvalid(why) => {
                let text = if ko { why.describe_ko() } else { why.describe_en() };
                line!(buf, "! nick-invalid: {text}");
            }
            Refusal::NickTaken { nick, lookalike } => match (lookalike, ko) {
                (false, false) => line!(buf, "! nick-taken: {nick} is already in use; choose another nickname"),
                (true, false) => line!(
                    buf,
                    "! nick-taken: {nick} looks the same as the name of a user who is present; choose another nickname"
                ),
                (false, true) => line!(buf, "! nick-taken: {nick}은(는) 이미 사용 중입니다. 다른 대화명을 고르세요"),
                (true, true) => line!(
                    buf,
                    "! nick-taken: {nick}은(는) 접속 중인 사용자의 이름과 똑같아 보입니다. 다른 대화명을 고르세요"
                ),
            },
            Refusal::NickHeld {
                nick,
                secs_left,
                wrong_key,
            } => match (wrong_key, ko) {
                (false, false) => line!(
                    buf,
                    "! nick-held: {nick} is reserved for {secs_left} s more for a user who lost the connection; reconnect from the same address or give the resume key (\"{nick} <key>\")"
                ),
                (true, false) => line!(
                    buf,
                    "! nick-held: wrong resume key for {nick}; the name stays reserved for {secs_left} s more"
                ),
                (false, true) => line!(
                    buf,
                    "! nick-held: {nick}은(는) 접속이 끊긴 사용자를 위해 {secs_left}초 더 예약되어 있습니다. 같은 주소에서 다시 접속하거나 재접속 키를 함께 입력하세요 (\"{nick} <키>\")"
                ),
                (true, true) => line!(
                    buf,
                    "! nick-held: {nick}의 재접속 키가 틀렸습니다. 이 이름은 {secs_left}초 더 예약되어 있습니다"
                ),
            },
            Refusal::LineTooLong { max } if ko => {
                line!(buf, "! line-too-long: {max}바이트보다 긴 줄은 버려졌습니다")
            }
            Refusal::LineTooLong { max } => {
                line!(buf, "! line-too-long: a line longer than {max} bytes was discarded")
            }
            Refusal::InvalidUtf8 if ko => line!(buf, "! invalid-utf8: UTF-8이 아닌 줄은 버려졌습니다"),
            Refusal::InvalidUtf8 => line!(buf, "! invalid-utf8: the line was not valid UTF-8 and was discarded"),
            Refusal::UnknownCommand { command } if ko => {
                line!(buf, "! unknown-command: {command}은(는) 없는 명령어입니다 (/help 로 목록을 보세요)")
            }
            Refusal::UnknownCommand { command } => {
                line!(buf, "! unknown-command: {command} is not a command (type /help for the list)")
            }
            Refusal::NickBanned { nick, minutes_left } if ko => {
                line!(buf, "! nick-banned: {nick}은(는) {minutes_left}분 더 사용할 수 없습니다")
            }
            Refusal::NickBanned { nick, minutes_left } => {
                line!(buf, "! nick-banned: {nick} is banned for {minutes_left} more min")
            }
            Refusal::Usage(entry) if ko => line!(buf, "! usage: {} ({})", entry.usage, entry.ko),
            Refusal::Usage(entry) => line!(buf, "! usage: {} ({})", entry.usage, entry.en),
            Refusal::NoSuchUser { nick } if ko => line!(buf, "! no-such-user: {nick}님은 접속해 있지 않습니다"),
            Refusal::NoSuchUser { nick } => line!(buf, "! no-such-user: {nick} is not here"),
            Refusal::BadTarget if ko => line!(buf, "! bad-target: 자기 자신에게는 할 수 없습니다"),
            Refusal::BadTarget => line!(buf, "! bad-target: you cannot do that to yourself"),
            Refusal::AlreadyThere { room } if ko => line!(buf, "! already-there: 이미 {room} 방에 있습니다"),
            Refusal::AlreadyThere { room } => line!(buf, "! already-there: you are already in {room}"),
            Refusal::BadRoom { max_chars } if ko => line!(
                buf,
                "! bad-room: 방 이름은 1~{max_chars}자의 글자, 숫자, _ - . 입니다"
            ),
            Refusal::BadRoom { max_chars } => line!(
                buf,
                "! bad-room: a room name has 1 to {max_chars} characters: letters, digits, _ - ."
            ),
            Refusal::TopicLocked { room } if ko => {
                line!(buf, "! topic-locked: {room} 방 주제는 잠겨 있어 운영자만 바꿀 수 있습니다")
            }
            Refusal::TopicLocked { room } => {
                line!(buf, "! topic-locked: the topic of {room} is locked; only operators can change it")
            }
            Refusal::NotOperator if ko => line!(buf, "! not-operator: 운영자만 할 수 있습니다"),
            Refusal::NotOperator => line!(buf, "! not-operator: only operators can do that"),
            Refusal::BadKey if ko => line!(buf, "! bad-key: 관리자 키가 틀렸습니다"),
            Refusal::BadKey => line!(buf, "! bad-key: that is not the admin key"),
            Refusal::NoAdminKey if ko => line!(
                buf,
                "! no-admin-key: 관리자 키가 설정되지 않았습니다. 빈 서버에 처음 들어온 사람이 운영자가 됩니다"
            ),
            Refusal::NoAdminKey => line!(
                buf,
                "! no-admin-key: this server has no admin key; the first user of an empty server is operator"
            ),
            Refusal::BadTime { horizon_secs } if ko => line!(
                buf,
                "! bad-time: 시각은 HH:MM, 또는 +90s, +10m, +2h 처럼 {} 이내로 적어 주세요",
                human_duration(*horizon_secs)
            ),
            Refusal::BadTime { horizon_secs } => line!(
                buf,
                "! bad-time: give HH:MM, or a delay such as +90s, +10m, +2h, at most {} ahead",
                human_duration(*horizon_secs)
            ),
            Refusal::TooManySchedules { max } if ko => {
                line!(buf, "! too-many-schedules: 예약 메시지는 {max}개까지입니다")
            }
            Refusal::TooManySchedules { max } => {
                line!(buf, "! too-many-schedules: you may have at most {max} pending scheduled messages")
            }
            Refusal::NoSuchSchedule { id } if ko => line!(buf, "! no-such-schedule: #{id} 예약이 없습니다"),
            Refusal::NoSuchSchedule { id } => {
                line!(buf, "! no-such-schedule: you have no scheduled message #{id}")
            }
            Refusal::Flood if ko => line!(buf, "! flood: 너무 빨리 보내고 있습니다. 메시지가 늦게 전달됩니다"),
            Refusal::Flood => line!(buf, "! flood: you are sending too fast; your lines are delayed"),
            Refusal::HistoryOff if ko => line!(buf, "! history-off: 이 서버는 대화 기록을 남기지 않습니다"),
            Refusal::HistoryOff => line!(buf, "! history-off: this server keeps no history"),
            Refusal::HistoryFailed if ko => {
                line!(buf, "! history-failed: 대화 기록을 읽지 못했습니다. 잠시 후 다시 시도하세요")
            }
            Refusal::HistoryFailed => {
                line!(buf, "! history-failed: the history could not be read; try again later")
            }
            Refusal::BadDate if ko => line!(
                buf,
                "! bad-date: 줄 수나 YYYY-MM-DD 형식의 날짜를 주세요 (예: /history 2024-05-17)"
            ),
            Refusal::BadDate => line!(
                buf,
                "! bad-date: give a count or a date as YYYY-MM-DD, e.g. /history 2024-05-17"
            ),
        }
    }

    fn bye(&self, buf: &mut BytesMut, bye: &Bye) {
        let how = if bye.may_reconnect() {
            "reconnect"
        } else {
            "final"
        };
        let ko = self.ko();
        let _ = write!(Out(buf), "-- bye {how}: ");
        match (bye, ko) {
            (Bye::Quit { nick }, false) => line!(buf, "goodbye, {nick}"),
            (Bye::Quit { nick }, true) => line!(buf, "안녕히 가세요, {nick}님"),
            (Bye::ServerFull { max }, false) => {
                line!(buf, "server full ({max} clients); try again later")
            }
            (Bye::ServerFull { max }, true) => line!(
                buf,
                "서버가 가득 찼습니다 ({max}명). 잠시 후 다시 시도하세요"
            ),
            (Bye::TooManyFromAddress { max }, false) => {
                line!(buf, "too many connections from your address ({max})")
            }
            (Bye::TooManyFromAddress { max }, true) => {
                line!(buf, "한 주소에서 접속할 수 있는 수({max})를 넘었습니다")
            }
            (Bye::LoginTimeout { secs }, false) => {
                line!(buf, "login timeout ({secs} s): send your nickname sooner")
            }
            (Bye::LoginTimeout { secs }, true) => line!(
                buf,
                "로그인 시간 초과 ({secs}초): 대화명을 더 빨리 보내세요"
            ),
            (Bye::PingTimeout { secs }, false) => {
                line!(buf, "ping timeout (no input for {secs} s)")
            }
            (Bye::PingTimeout { secs }, true) => {
                line!(buf, "응답 시간 초과 ({secs}초 동안 입력 없음)")
            }
            (Bye::ShuttingDown, false) => line!(buf, "server shutting down"),
            (Bye::ShuttingDown, true) => line!(buf, "서버가 종료됩니다"),
            (Bye::ResumedElsewhere, false) => {
                line!(buf, "your session was resumed from another connection")
            }
            (Bye::ResumedElsewhere, true) => line!(buf, "다른 연결에서 세션을 이어받았습니다"),
            (Bye::Kicked { by, reason }, false) => match reason {
                Some(r) => line!(buf, "kicked by {by} ({r})"),
                None => line!(buf, "kicked by {by}"),
            },
            (Bye::Kicked { by, reason }, true) => match reason {
                Some(r) => line!(buf, "{by}님이 강퇴했습니다 ({r})"),
                None => line!(buf, "{by}님이 강퇴했습니다"),
            },
            (Bye::Banned { minutes_left }, false) => {
                line!(buf, "you are banned for {minutes_left} more min")
            }
            (Bye::Banned { minutes_left }, true) => {
                line!(buf, "{minutes_left}분 동안 접속이 금지되었습니다")
            }
            (Bye::ExcessFlood, false) => line!(buf, "excess flood"),
            (Bye::ExcessFlood, true) => line!(buf, "도배로 연결을 끊습니다 (excess flood)"),
        }
    }
}

/// `45s`, `3m12s`, `1h20m`, `2d3h`: short, for people.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h{m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn render(lang: Lang, event: &Event) -> String {
        let r = Renderer::new(lang, true);
        let mut buf = BytesMut::new();
        r.render(event, &mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(4800), "1h20m");
        assert_eq!(human_duration(7200), "2h");
        assert_eq!(human_duration(86_400), "1d");
        assert_eq!(human_duration(97_200), "1d3h");
    }

    #[test]
    fn stamps_are_utc_minutes() {
        let s = Stamper::new(true);
        // 2024-01-01T12:34:56Z
        assert_eq!(&s.stamp(1_704_112_496_000), b"[12:34]");
        assert_eq!(&s.stamp(1_704_112_496_000 + 60_000), b"[12:35]");
    }

    #[test]
    fn message_and_presence_lines() {
        let at = 1_704_112_496_000;
        let msg = Event::Message {
            id: crate::chat::id::MsgId(1),
            at,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            text: Arc::from("hello"),
        };
        assert_eq!(render(Lang::En, &msg), "[12:34] alice: hello\r\n");
        let joined = Event::Joined {
            id: crate::chat::id::MsgId(2),
            at,
            room: Arc::from("lobby"),
            nick: Arc::from("alice"),
        };
        assert_eq!(render(Lang::En, &joined), "[12:34] * alice joined\r\n");
        assert_eq!(
            render(Lang::Ko, &joined),
            "[12:34] * alice님이 입장하셨습니다\r\n"
        );
        let lost = Event::Left {
            id: crate::chat::id::MsgId(3),
            at,
            room: Arc::from("lobby"),
            nick: Arc::from("bob"),
            how: Departure::Lost {
                reason: LostReason::SendQueueExceeded,
            },
        };
        assert_eq!(
            render(Lang::En, &lost),
            "[12:34] * bob lost the connection (send queue exceeded)\r\n"
        );
    }

    #[test]
    fn history_lines_are_framed_and_dated_when_not_from_today() {
        let at = 1_704_112_496_000; // 2024-01-01 12:34 UTC
        let msg = Event::Message {
            id: crate::chat::id::MsgId(1),
            at,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            text: Arc::from("hello"),
        };
        let past = |dated| Event::Past {
            event: Box::new(msg.clone()),
            dated,
        };
        assert_eq!(render(Lang::En, &past(false)), "[12:34] alice: hello\r\n");
        assert_eq!(
            render(Lang::En, &past(true)),
            "[2024-01-01 12:34] alice: hello\r\n"
        );
        let what = HistoryWhat::Last { n: 20 };
        let start = |shown, total| {
            Event::Info(Info::HistoryStart {
                room: Arc::from("lobby"),
                what: what.clone(),
                shown,
                total,
            })
        };
        assert_eq!(
            render(Lang::En, &start(20, 20)),
            "-- History of lobby (20 lines):\r\n"
        );
        assert_eq!(
            render(Lang::En, &start(1, 1)),
            "-- History of lobby (1 line):\r\n"
        );
        assert_eq!(
            render(Lang::En, &start(7, 20)),
            "-- History of lobby (7 of 20 lines):\r\n"
        );
        assert_eq!(
            render(Lang::Ko, &start(3, 3)),
            "-- lobby 방 기록 (3줄):\r\n"
        );
        let end = Event::Info(Info::HistoryEnd { what });
        assert_eq!(render(Lang::En, &end), "-- End of history.\r\n");
    }

    #[test]
    fn bye_lines_say_whether_to_reconnect() {
        assert_eq!(
            render(Lang::En, &Event::Bye(Bye::ShuttingDown)),
            "-- bye reconnect: server shutting down\r\n"
        );
        assert_eq!(
            render(
                Lang::Ko,
                &Event::Bye(Bye::Quit {
                    nick: Arc::from("철수")
                })
            ),
            "-- bye final: 안녕히 가세요, 철수님\r\n"
        );
    }
}
