//! The command reference shown by `/help`, in English and Korean. One table, so `/help` and
//! `/help COMMAND` cannot disagree.

use super::command;

/// One command's help.
#[derive(Debug, PartialEq, Eq)]
pub struct HelpEntry {
    /// The canonical name (see `command::canonical`).
    pub name: &'static str,
    /// Usage with aliases, e.g. `/msg NICK text (/whisper, /w)`.
    pub usage: &'static str,
    pub en: &'static str,
    pub ko: &'static str,
}

/// Every command, in the order `/help` lists them.
#[rustfmt::skip]
pub const COMMANDS: &[HelpEntry] = &[
    HelpEntry { name: "msg", usage: "/msg NICK text (/whisper, /w)", en: "whisper to one user, in any room", ko: "한 사람에게 귓속말 (어느 방에 있든)" },
    HelpEntry { name: "me", usage: "/me action", en: "tell the room what you do: * alice waves", ko: "행동을 방에 알리기: * alice waves" },
    HelpEntry { name: "nick", usage: "/nick NEW (/rename)", en: "change your nickname", ko: "대화명 바꾸기" },
    HelpEntry { name: "away", usage: "/away [message]", en: "mark yourself away; /away again to come back", ko: "자리 비움 표시, 다시 /away 하면 해제" },
    HelpEntry { name: "whois", usage: "/whois NICK", en: "a user's room, idle time and away state", ko: "사용자의 방, 대기 시간, 자리 비움 상태" },
    HelpEntry { name: "join", usage: "/join ROOM", en: "go to a room, creating it if new", ko: "방으로 이동 (없으면 새로 만듦)" },
    HelpEntry { name: "part", usage: "/part", en: "leave your room for the lobby", ko: "지금 방을 나가 lobby로 이동" },
    HelpEntry { name: "rooms", usage: "/rooms (/list)", en: "the rooms and how many are in each", ko: "방 목록과 인원" },
    HelpEntry { name: "users", usage: "/users (/who, /names)", en: "who is in your room", ko: "지금 방에 있는 사람" },
    HelpEntry { name: "topic", usage: "/topic [text]", en: "show or set your room's topic", ko: "방 주제 보기 또는 정하기" },
    HelpEntry { name: "topiclock", usage: "/topiclock on|off", en: "operators: lock or unlock the topic", ko: "운영자: 방 주제 잠금/해제" },
    HelpEntry { name: "schedule", usage: "/schedule HH:MM|+90s|+10m|+2h text", en: "send text to your room later", ko: "정한 시각에 방으로 메시지 보내기" },
    HelpEntry { name: "schedules", usage: "/schedules", en: "your pending scheduled messages", ko: "예약해 둔 메시지 목록" },
    HelpEntry { name: "unschedule", usage: "/unschedule ID", en: "cancel a scheduled message", ko: "예약 메시지 취소" },
    HelpEntry { name: "op", usage: "/op KEY", en: "become an operator with the admin key", ko: "관리자 키로 운영자 되기" },
    HelpEntry { name: "kick", usage: "/kick NICK [reason]", en: "operators: disconnect a user", ko: "운영자: 사용자 강퇴" },
    HelpEntry { name: "ban", usage: "/ban NICK [minutes]", en: "operators: kick and keep name and address out (default 10 min)", ko: "운영자: 강퇴하고 이름과 주소 차단 (기본 10분)" },
    HelpEntry { name: "file", usage: "/file NAME BYTES", en: "share a file with your room: send exactly BYTES raw bytes after this line", ko: "방에 파일 보내기: 이 줄 다음에 정확히 BYTES 바이트를 보냄" },
    HelpEntry { name: "files", usage: "/files", en: "the files offered to you, with their ids", ko: "받을 수 있는 파일 목록" },
    HelpEntry { name: "accept", usage: "/accept ID", en: "receive a file: a =file header line, then its bytes", ko: "파일 받기: =file 머리 줄 다음에 파일 바이트" },
    HelpEntry { name: "decline", usage: "/decline ID", en: "say no thanks to a file", ko: "파일 거절하기" },
    HelpEntry { name: "game", usage: "/game start [CATEGORY] | stop | categories", en: "a word-guessing round in your room: type the word to win", ko: "방에서 낱말 맞히기: 정답을 입력하면 이깁니다" },
    HelpEntry { name: "score", usage: "/score [NICK] (/scores)", en: "the room's game leaderboard, or one player's score", ko: "방의 게임 순위, 또는 한 사람의 점수" },
    HelpEntry { name: "invite", usage: "/invite NICK [ROOM]", en: "invite a user to your room (or ROOM)", ko: "사용자를 내 방(또는 ROOM)으로 초대" },
    HelpEntry { name: "accept-invite", usage: "/accept-invite [NICK]", en: "go where you were invited (the newest invitation, or NICK's)", ko: "초대받은 방으로 가기 (가장 최근, 또는 NICK의 초대)" },
    HelpEntry { name: "decline-invite", usage: "/decline-invite [NICK]", en: "say no to an invitation", ko: "초대 거절하기" },
    HelpEntry { name: "invites", usage: "/invites on|off", en: "take or refuse all invitations", ko: "초대를 모두 받기 또는 거절하기" },
    HelpEntry { name: "history", usage: "/history [N|YYYY-MM-DD]", en: "your room's last N lines (default 20, at most 500), or one day's", ko: "방의 최근 N줄 (기본 20, 최대 500), 또는 그날의 대화" },
    HelpEntry { name: "search", usage: "/search [from:NICK] WORDS", en: "find your room's past lines by words or from:NICK, newest first", ko: "방의 지난 대화를 낱말이나 from:대화명 으로 찾기 (최신순)" },
    HelpEntry { name: "help", usage: "/help [COMMAND] (/?)", en: "this help, or one command's", ko: "도움말, 또는 명령어 하나의 설명" },
    HelpEntry { name: "quit", usage: "/quit [message] (/exit, /bye)", en: "leave, with an optional message", ko: "메시지를 남기고 나가기" },
];

/// The help of one command, given its name or an alias, with or without the slash.
pub fn find(word: &str) -> Option<&'static HelpEntry> {
    let name = command::canonical(word)?;
    COMMANDS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_help_and_aliases_find_it() {
        for entry in COMMANDS {
            assert_eq!(find(entry.name), Some(entry));
        }
        assert_eq!(find("/w").map(|e| e.name), Some("msg"));
        assert_eq!(find("names").map(|e| e.name), Some("users"));
        assert_eq!(find("nosuch"), None);
    }
}
