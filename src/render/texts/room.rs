//! What a room sees: notices of who came, went and changed, and the scheduled-message frame.

use std::fmt::Display;

use super::texts;
use crate::chat::event::LostReason;

texts! {
    scheduled_by(from: &'a str, text: &'a str) {
        en: "[scheduled by {from}] {text}",
        ko: "[{from}님의 예약 메시지] {text}",
    }
    renamed(old: &'a str, new: &'a str) {
        en: "{old} is now known as {new}",
        ko: "{old}님의 대화명이 {new}(으)로 바뀌었습니다",
    }
    topic_set(by: &'a str, topic: &'a str) {
        en: "{by} set the topic: {topic}",
        ko: "{by}님이 주제를 정했습니다: {topic}",
    }
    joined(nick: &'a str) {
        en: "{nick} joined",
        ko: "{nick}님이 입장하셨습니다",
    }
    reconnected(nick: &'a str) {
        en: "{nick} reconnected",
        ko: "{nick}님이 재접속했습니다",
    }
    quit(nick: &'a str) {
        en: "{nick} left",
        ko: "{nick}님이 퇴장하셨습니다.",
    }
    parted(nick: &'a str) {
        en: "{nick} left the room",
        ko: "{nick}님이 방을 나가셨습니다.",
    }
    parted_saying(nick: &'a str, message: &'a str) {
        en: "{nick} left the room ({message})",
        ko: "{nick}님이 방을 나가셨습니다. ({message})",
    }
    quit_saying(nick: &'a str, message: &'a str) {
        en: "{nick} left ({message})",
        ko: "{nick}님이 퇴장하셨습니다. ({message})",
    }
    lost(nick: &'a str, reason: impl Display + 'a) {
        en: "{nick} lost the connection ({reason})",
        ko: "{nick}님이 접속이 끊겼습니다. ({reason})",
    }
    grace_expired(nick: &'a str, grace_secs: u64) {
        en: "{nick} left (did not reconnect within {grace_secs} s)",
        ko: "{nick}님이 퇴장하셨습니다. ({grace_secs}초 안에 재접속하지 않음)",
    }
    moved(nick: &'a str, to: &'a str) {
        en: "{nick} went to room {to}",
        ko: "{nick}님이 {to} 방으로 이동했습니다",
    }
    kicked(nick: &'a str, by: &'a str) {
        en: "{nick} was kicked by {by}",
        ko: "{nick}님이 {by}님에 의해 강퇴되었습니다.",
    }
    kicked_for(nick: &'a str, by: &'a str, reason: &'a str) {
        en: "{nick} was kicked by {by} ({reason})",
        ko: "{nick}님이 {by}님에 의해 강퇴되었습니다. ({reason})",
    }

    /// Why a connection was lost, inside `lost`.
    lost_reason(reason: LostReason) {
        en: { reason;
            LostReason::Closed => "connection closed",
            LostReason::Reset => "connection reset",
            LostReason::ReadError => "read error",
            LostReason::WriteError => "write error",
            LostReason::PingTimeout => "ping timeout",
            LostReason::SendQueueExceeded => "send queue exceeded",
            LostReason::ExcessFlood => "excess flood",
            LostReason::NodeDown => "their server stopped answering",
        },
        ko: { reason;
            LostReason::Closed => "연결 종료",
            LostReason::Reset => "연결 재설정",
            LostReason::ReadError => "읽기 오류",
            LostReason::WriteError => "쓰기 오류",
            LostReason::PingTimeout => "응답 시간 초과 (ping timeout)",
            LostReason::SendQueueExceeded => "전송 대기열 초과 (send queue exceeded)",
            LostReason::ExcessFlood => "도배 (excess flood)",
            LostReason::NodeDown => "접속한 서버가 응답하지 않음",
        },
    }

    /// One part of a big room's presence summary: who joined, or who left; `more` is how many
    /// are not named.
    presence_part(joined: bool, total: usize, names: &'a str, more: usize) {
        en: { (joined, more);
            (true, 0) => "{total} joined ({names})",
            (true, _) => "{total} joined ({names} and {more} more)",
            (false, 0) => "{total} left ({names})",
            (false, _) => "{total} left ({names} and {more} more)",
        },
        ko: { (joined, more);
            (true, 0) => "{total}명 입장 ({names})",
            (true, _) => "{total}명 입장 ({names} 외 {more}명)",
            (false, 0) => "{total}명 퇴장 ({names})",
            (false, _) => "{total}명 퇴장 ({names} 외 {more}명)",
        },
    }
    members_here(members: usize) {
        en: "{members} here",
        ko: "현재 {members}명",
    }
}
