//! Why something was refused, and why a connection is being closed.

use std::fmt::{self, Display};

use super::{texts, Text};
use crate::chat::nick::{NickError, MAX_NICK_CHARS};
use crate::config::Lang;

texts! {
    // Why a nickname is not valid (see `nick_invalid`); the character comes as `Shown` or as
    // its `CodePoint`, never raw.
    nick_empty() {
        en: "a nickname needs at least one character",
        ko: "닉네임은 한 글자 이상이어야 합니다",
    }
    nick_too_long() {
        en: "a nickname has at most {MAX_NICK_CHARS} characters",
        ko: "닉네임은 최대 {MAX_NICK_CHARS}자까지 쓸 수 있습니다",
    }
    nick_space(code_point: impl Display + 'a) {
        en: "spaces ({code_point}) are not allowed in nicknames",
        ko: "닉네임에는 공백({code_point})을 쓸 수 없습니다",
    }
    nick_invisible(code_point: impl Display + 'a) {
        en: "the invisible character {code_point} is not allowed in nicknames",
        ko: "보이지 않는 문자({code_point})는 닉네임에 쓸 수 없습니다",
    }
    nick_not_allowed(shown: impl Display + 'a) {
        en: "{shown} is not allowed: use letters, digits, _ - . [ ] {{ }} \\ | ^ `",
        ko: "{shown} 문자는 쓸 수 없습니다: 글자, 숫자, _ - . [ ] {{ }} \\ | ^ ` 만 쓸 수 있습니다",
    }

    nick_taken(nick: &'a str) {
        en: "{nick} is already in use; choose another nickname",
        ko: "{nick}은(는) 이미 사용 중입니다. 다른 대화명을 고르세요",
    }
    nick_lookalike(nick: &'a str) {
        en: "{nick} looks the same as the name of a user who is present; choose another nickname",
        ko: "{nick}은(는) 접속 중인 사용자의 이름과 똑같아 보입니다. 다른 대화명을 고르세요",
    }
    nick_held(nick: &'a str, secs_left: u64) {
        en: "{nick} is reserved for {secs_left} s more for a user who lost the connection; reconnect from the same address or give the resume key (\"{nick} <key>\")",
        ko: "{nick}은(는) 접속이 끊긴 사용자를 위해 {secs_left}초 더 예약되어 있습니다. 같은 주소에서 다시 접속하거나 재접속 키를 함께 입력하세요 (\"{nick} <키>\")",
    }
    wrong_resume_key(nick: &'a str, secs_left: u64) {
        en: "wrong resume key for {nick}; the name stays reserved for {secs_left} s more",
        ko: "{nick}의 재접속 키가 틀렸습니다. 이 이름은 {secs_left}초 더 예약되어 있습니다",
    }
    nick_banned(nick: &'a str, minutes_left: u64) {
        en: "{nick} is banned for {minutes_left} more min",
        ko: "{nick}은(는) {minutes_left}분 더 사용할 수 없습니다",
    }
    nick_reserved(nick: &'a str) {
        en: "{nick} is reserved for the server; choose another nickname",
        ko: "{nick}은(는) 서버용으로 예약된 이름입니다. 다른 대화명을 고르세요",
    }
    cluster_down() {
        en: "the link to the other servers is down, so no name can be checked for now; try again in a moment",
        ko: "다른 서버와의 연결이 끊겨 지금은 이름을 확인할 수 없습니다. 잠시 후 다시 시도하세요",
    }
    line_too_long(max: usize) {
        en: "a line longer than {max} bytes was discarded",
        ko: "{max}바이트보다 긴 줄은 버려졌습니다",
    }
    invalid_utf8() {
        en: "the line was not valid UTF-8 and was discarded",
        ko: "UTF-8이 아닌 줄은 버려졌습니다",
    }
    unknown_command(command: &'a str) {
        en: "{command} is not a command (type /help for the list)",
        ko: "{command}은(는) 없는 명령어입니다 (/help 로 목록을 보세요)",
    }
    no_such_user(nick: &'a str) {
        en: "{nick} is not here",
        ko: "{nick}님은 접속해 있지 않습니다",
    }
    bad_target() {
        en: "you cannot do that to yourself",
        ko: "자기 자신에게는 할 수 없습니다",
    }
    already_there(room: &'a str) {
        en: "you are already in {room}",
        ko: "이미 {room} 방에 있습니다",
    }
    bad_room(max_chars: usize) {
        en: "a room name has 1 to {max_chars} characters: letters, digits, _ - .",
        ko: "방 이름은 1~{max_chars}자의 글자, 숫자, _ - . 입니다",
    }
    topic_locked(room: &'a str) {
        en: "the topic of {room} is locked; only operators can change it",
        ko: "{room} 방 주제는 잠겨 있어 운영자만 바꿀 수 있습니다",
    }
    not_operator() {
        en: "only operators can do that",
        ko: "운영자만 할 수 있습니다",
    }
    bad_key() {
        en: "that is not the admin key",
        ko: "관리자 키가 틀렸습니다",
    }
    no_admin_key() {
        en: "this server has no admin key (--first-user-op): the first user of an empty server is operator",
        ko: "이 서버에는 관리자 키가 없습니다(--first-user-op). 빈 서버에 처음 들어온 사람이 운영자가 됩니다",
    }
    bad_time(horizon: &'a str) {
        en: "give HH:MM, or a delay such as +90s, +10m, +2h, at most {horizon} ahead",
        ko: "시각은 HH:MM, 또는 +90s, +10m, +2h 처럼 {horizon} 이내로 적어 주세요",
    }
    too_many_schedules(max: usize) {
        en: "you may have at most {max} pending scheduled messages",
        ko: "예약 메시지는 {max}개까지입니다",
    }
    no_such_schedule(id: &'a str) {
        en: "you have no scheduled message #{id}",
        ko: "#{id} 예약이 없습니다",
    }
    flood() {
        en: "you are sending too fast; your lines are delayed",
        ko: "너무 빨리 보내고 있습니다. 메시지가 늦게 전달됩니다",
    }
    history_off() {
        en: "this server keeps no history",
        ko: "이 서버는 대화 기록을 남기지 않습니다",
    }
    history_failed() {
        en: "the history could not be read; try again later",
        ko: "대화 기록을 읽지 못했습니다. 잠시 후 다시 시도하세요",
    }
    bad_date() {
        en: "give a count or a date as YYYY-MM-DD, e.g. /history 2024-05-17",
        ko: "줄 수나 YYYY-MM-DD 형식의 날짜를 주세요 (예: /history 2024-05-17)",
    }
    no_such_room(room: &'a str) {
        en: "there is no room {room}",
        ko: "{room} 방은 없습니다",
    }
    not_in_room(room: &'a str) {
        en: "you are not in room {room}",
        ko: "{room} 방에 있지 않습니다",
    }
    target_not_in_room(nick: &'a str, room: &'a str) {
        en: "{nick} is not in room {room}",
        ko: "{nick}님은 {room} 방에 없습니다",
    }
    not_room_operator(room: &'a str) {
        en: "only operators of {room} may do that",
        ko: "{room} 방 운영자만 할 수 있습니다",
    }
    too_many_rooms(max: usize) {
        en: "you are in {max} rooms, the most one user may be in; leave one first",
        ko: "이미 {max}개 방에 있습니다(한 사용자가 들어갈 수 있는 최대). 먼저 방 하나를 나가세요",
    }
    no_room_yet() {
        en: "join a room first",
        ko: "먼저 방에 들어가세요",
    }
    not_over_this_protocol(command: &'a str) {
        en: "{command} is not available over this protocol",
        ko: "이 프로토콜에서는 {command} 명령을 쓸 수 없습니다",
    }

    // Goodbyes: why the server closes the connection.
    goodbye(nick: &'a str) {
        en: "goodbye, {nick}",
        ko: "안녕히 가세요, {nick}님",
    }
    server_full(max: usize) {
        en: "server full ({max} clients); try again later",
        ko: "서버가 가득 찼습니다 ({max}명). 잠시 후 다시 시도하세요",
    }
    too_many_from_address(max: usize) {
        en: "too many connections from your address ({max})",
        ko: "한 주소에서 접속할 수 있는 수({max})를 넘었습니다",
    }
    too_many_waiting_from_address(max: usize) {
        en: "too many connections from your address waiting to log in ({max}); log in on one of them first",
        ko: "한 주소에서 로그인을 기다리는 접속 수({max})를 넘었습니다. 먼저 다른 접속에서 로그인하세요",
    }
    too_many_waiting() {
        en: "too many connections are waiting to log in; try again in a moment",
        ko: "로그인을 기다리는 접속이 너무 많습니다. 잠시 후 다시 시도하세요",
    }
    login_timeout(secs: u64) {
        en: "login timeout ({secs} s): send your nickname sooner",
        ko: "로그인 시간 초과 ({secs}초): 대화명을 더 빨리 보내세요",
    }
    idle_timeout(secs: u64) {
        en: "ping timeout (no input for {secs} s)",
        ko: "응답 시간 초과 ({secs}초 동안 입력 없음)",
    }
    shutting_down() {
        en: "server shutting down",
        ko: "서버가 종료됩니다",
    }
    resumed_elsewhere() {
        en: "your session was resumed from another connection",
        ko: "다른 연결에서 세션을 이어받았습니다",
    }
    kicked_by(by: &'a str) {
        en: "kicked by {by}",
        ko: "{by}님이 강퇴했습니다",
    }
    kicked_by_for(by: &'a str, reason: &'a str) {
        en: "kicked by {by} ({reason})",
        ko: "{by}님이 강퇴했습니다 ({reason})",
    }
    banned(minutes_left: u64) {
        en: "you are banned for {minutes_left} more min",
        ko: "{minutes_left}분 동안 접속이 금지되었습니다",
    }
    flooded_out() {
        en: "excess flood",
        ko: "도배로 연결을 끊습니다 (excess flood)",
    }
    tls_only() {
        en: "this server speaks only TLS: connect with TLS (reactor-chat-client --tls, openssl s_client, https://)",
        ko: "이 서버는 TLS로만 접속할 수 있습니다 (reactor-chat-client --tls, openssl s_client, https://)",
    }
}

/// Why a nickname is not valid, in `lang`.
pub fn nick_invalid(lang: Lang, why: NickError) -> impl Display {
    Text::new(move |f: &mut fmt::Formatter<'_>| match why {
        NickError::Empty => write!(f, "{}", nick_empty(lang)),
        NickError::TooLong => write!(f, "{}", nick_too_long(lang)),
        NickError::Invisible(c) if c.is_whitespace() => {
            write!(f, "{}", nick_space(lang, CodePoint(c)))
        }
        NickError::Invisible(c) => write!(f, "{}", nick_invisible(lang, CodePoint(c))),
        NickError::NotAllowed(c) => write!(f, "{}", nick_not_allowed(lang, Shown(c))),
    })
}

/// In English, as errors are shown in logs and tests; users read it in their language through
/// [`nick_invalid`].
impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", nick_invalid(Lang::En, *self))
    }
}

/// `U+200B`: the only safe way to name a character that cannot be seen.
struct CodePoint(char);

impl Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U+{:04X}", self.0 as u32)
    }
}

/// A refused character as the user can recognise it; control characters are never echoed raw,
/// since this text goes back over the wire.
struct Shown(char);

impl Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_control() {
            CodePoint(self.0).fmt(f)
        } else {
            write!(f, "'{}'", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en(why: NickError) -> String {
        nick_invalid(Lang::En, why).to_string()
    }

    fn ko(why: NickError) -> String {
        nick_invalid(Lang::Ko, why).to_string()
    }

    #[test]
    fn nick_errors_name_the_problem() {
        assert_eq!(
            en(NickError::TooLong),
            "a nickname has at most 24 characters"
        );
        assert_eq!(
            en(NickError::Invisible('\u{200B}')),
            "the invisible character U+200B is not allowed in nicknames"
        );
        assert_eq!(
            en(NickError::NotAllowed('@')),
            "'@' is not allowed: use letters, digits, _ - . [ ] { } \\ | ^ `"
        );
        assert!(en(NickError::NotAllowed('\u{1}')).starts_with("U+0001 "));
        assert!(ko(NickError::Invisible('\u{200B}')).contains("U+200B"));
        assert!(ko(NickError::TooLong).contains("24"));
        for err in [
            NickError::Empty,
            NickError::TooLong,
            NickError::Invisible(' '),
            NickError::Invisible('\u{3164}'),
            NickError::NotAllowed('@'),
            NickError::NotAllowed('\u{7f}'),
        ] {
            for text in [en(err), ko(err), err.to_string()] {
                assert!(!text.is_empty());
                assert!(!text.chars().any(char::is_control), "{text:?}");
            }
        }
    }
}
