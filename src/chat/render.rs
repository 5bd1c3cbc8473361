//! Turns events into protocol lines (PROTOCOL.md), in English or Korean.
//!
//! Rendering appends to a `BytesMut`, so a broadcast is formatted once and the frozen `Bytes`
//! is shared by every recipient's queue.

use std::cell::Cell;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use chrono::{Local, TimeZone, Timelike, Utc};

use super::event::{Bye, Departure, Event, Info, LostReason, Refusal, UnixMillis};
use crate::config::Lang;

/// At most this many names are listed in the welcome; `/users` lists them all.
pub const WELCOME_NAMES_MAX: usize = 50;

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

/// `write!` into a BytesMut cannot fail; this keeps the call sites short.
struct Out<'a>(&'a mut BytesMut);

impl std::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

macro_rules! line {
    ($buf:expr, $($arg:tt)*) => {{
        let _ = write!(Out($buf), $($arg)*);
        $buf.put_slice(b"\r\n");
    }};
}

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
            Event::Info(info) => self.info(buf, info),
            Event::Refused(refusal) => self.refusal(buf, refusal),
            Event::Bye(bye) => self.bye(buf, bye),
        }
    }

    fn notice(&self, buf: &mut BytesMut, at: UnixMillis) {
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
                online,
                online_total,
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
                    (false, false) => line!(buf, "-- {online_total} {users} online: {names}"),
                    (true, false) => line!(
                        buf,
                        "-- {online_total} {users} online: {names} and {more} more"
                    ),
                    (false, true) => line!(buf, "-- 접속자 {online_total}명: {names}"),
                    (true, true) => line!(buf, "-- 접속자 {online_total}명: {names} 외 {more}명"),
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
                for (i, u) in users.iter().enumerate() {
                    if i > 0 {
                        names.push_str(", ");
                    }
                    names.push_str(&u.nick);
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
        }
    }

    fn help(&self, buf: &mut BytesMut) {
        if self.ko() {
            line!(buf, "-- 명령어:");
            line!(buf, "--   /users (/who)        지금 방에 있는 사람과 인원");
            line!(buf, "--   /quit [메시지]       메시지를 남기고 나가기");
            line!(buf, "--   /help                이 도움말");
            line!(buf, "--   //text               /로 시작하는 메시지 보내기");
            line!(buf, "-- 그 밖의 줄은 방의 모두에게 보내집니다.");
            line!(buf, "-- 도움말 끝.");
        } else {
            line!(buf, "-- Commands:");
            line!(
                buf,
                "--   /users (/who)        who is in your room, and how many"
            );
            line!(
                buf,
                "--   /quit [message]      leave, with an optional message"
            );
            line!(buf, "--   /help                this help");
            line!(
                buf,
                "--   //text               send a message that starts with /"
            );
            line!(buf, "-- Any other line is sent to everyone in your room.");
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
        }
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
