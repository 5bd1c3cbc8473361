//! What one user is told: the login, the welcome, answers to queries, the help and the frames
//! around history, missed lines and lists.

use super::texts;
use crate::chat::help::HelpEntry;
use crate::config::Lang;

/// One command's help sentence (the table itself lives with the commands, `chat::help`).
pub fn command_help(lang: Lang, entry: &HelpEntry) -> &'static str {
    match lang {
        Lang::En => entry.en,
        Lang::Ko => entry.ko,
    }
}

texts! {
    greeting() {
        en: "Welcome to reactor-chat! Enter your nickname:",
        ko: "reactor-chat에 오신 것을 환영합니다! 대화명을 입력하세요:",
    }
    nick_prompt() {
        en: "Enter your nickname:",
        ko: "대화명을 입력하세요:",
    }
    welcome(nick: &'a str, room: &'a str) {
        en: "Welcome, {nick}! You are in room {room}.",
        ko: "{nick}님, 환영합니다! 지금 {room} 방에 있습니다.",
    }
    welcome_back(nick: &'a str, room: &'a str) {
        en: "Welcome back, {nick}! You are in room {room}.",
        ko: "{nick}님, 다시 오셨군요! 지금 {room} 방에 있습니다.",
    }
    rules(rules: &'a str) {
        en: "Rules: {rules}",
        ko: "규칙: {rules}",
    }
    help_hint() {
        en: "Type /help for the commands.",
        ko: "명령어 목록은 /help 를 입력하세요.",
    }
    /// A big server lists no names (see `Chat::welcome`).
    online_unlisted(total: usize) {
        en: { total; 1 => "1 user online (/users lists your room)",
                     _ => "{total} users online (/users lists your room)" },
        ko: "접속자 {total}명 (/users 로 방 접속자를 봅니다)",
    }
    online(total: usize, names: &'a str) {
        en: { total; 1 => "1 user online: {names}", _ => "{total} users online: {names}" },
        ko: "접속자 {total}명: {names}",
    }
    online_more(total: usize, names: &'a str, more: usize) {
        en: { total; 1 => "1 user online: {names} and {more} more",
                     _ => "{total} users online: {names} and {more} more" },
        ko: "접속자 {total}명: {names} 외 {more}명",
    }
    resume_key(nick: &'a str, key: &'a str, grace_secs: u64) {
        en: "Resume key: {key} (if your connection drops, log in as \"{nick} {key}\" within {grace_secs} s to reclaim your name from any address)",
        ko: "재접속 키: {key} (연결이 끊기면 {grace_secs}초 안에 \"{nick} {key}\"(으)로 로그인하면 어느 주소에서든 대화명을 되찾습니다)",
    }
    now_operator() {
        en: "You are now an operator.",
        ko: "이제 운영자입니다.",
    }

    missed_nothing() {
        en: "You missed nothing.",
        ko: "놓친 메시지가 없습니다.",
    }
    missed(total: usize) {
        en: { total; 1 => "You missed 1 line:", _ => "You missed {total} lines:" },
        ko: "놓친 메시지 {total}줄:",
    }
    missed_last(total: usize, shown: usize) {
        en: "You missed {total} lines; here are the last {shown}:",
        ko: "놓친 메시지 {total}줄 중 최근 {shown}줄:",
    }
    missed_end() {
        en: "End of missed lines.",
        ko: "놓친 메시지 끝.",
    }

    users_in(room: &'a str, count: usize, names: &'a str) {
        en: { count; 1 => "1 user in {room}: {names}", _ => "{count} users in {room}: {names}" },
        ko: "{room} 방 접속자 {count}명: {names}",
    }
    /// Marks after a name in `/users`.
    user_op() {
        en: "op",
        ko: "운영자",
    }
    user_away() {
        en: "away",
        ko: "자리 비움",
    }
    user_count(room: &'a str, members: usize) {
        en: "{members} users in {room} (/users lists them)",
        ko: "{room} 방 접속자 {members}명 (/users 로 목록을 봅니다)",
    }
    rooms(n: usize, list: &'a str) {
        en: { n; 1 => "1 room: {list}", _ => "{n} rooms: {list}" },
        ko: "방 {n}개: {list}",
    }

    target_away(nick: &'a str, message: &'a str) {
        en: "{nick} is away: {message}",
        ko: "{nick}님은 자리 비움: {message}",
    }
    whisper_held(nick: &'a str) {
        en: "{nick} is reconnecting; your whisper will be delivered when they return",
        ko: "{nick}님이 재접속 중입니다. 돌아오면 귓속말이 전달됩니다",
    }
    nick_changed(nick: &'a str) {
        en: "You are now known as {nick}",
        ko: "이제 대화명은 {nick}입니다.",
    }
    away_set(message: &'a str) {
        en: "You are marked away: {message}",
        ko: "자리 비움으로 표시했습니다: {message}",
    }
    away_cleared() {
        en: "You are no longer away.",
        ko: "자리 비움을 해제했습니다.",
    }
    cluster_down() {
        en: "The link to the other servers is down: you can chat with users of this server, and users of the others will be back when it returns.",
        ko: "다른 서버와의 연결이 끊겼습니다. 이 서버의 사용자와는 계속 대화할 수 있고, 다른 서버의 사용자는 연결이 돌아오면 다시 보입니다.",
    }
    cluster_up() {
        en: "The link to the other servers is back.",
        ko: "다른 서버와의 연결이 다시 이어졌습니다.",
    }
    nick_collided(old: &'a str, new: &'a str) {
        en: "Another user of the cluster had the name {old} first (the servers lost touch for a while): you are {new} now.",
        ko: "{old} 이름은 다른 서버의 사용자가 먼저 쓰고 있었습니다(서버 사이 연결이 한동안 끊겼습니다). 이제 {new}입니다.",
    }
    replay_unavailable() {
        en: "Your session moved here from another server: what was said while you were away is not available here.",
        ko: "세션이 다른 서버에서 이곳으로 옮겨졌습니다. 자리를 비운 동안의 대화는 여기서 볼 수 없습니다.",
    }

    /// `/whois`: this, then each of the marks below that applies, joined by ", ".
    whois(nick: &'a str, room: &'a str, idle: &'a str) {
        en: "{nick}: room {room}, idle {idle}",
        ko: "{nick}: {room} 방, 대기 {idle}",
    }
    whois_away(message: &'a str) {
        en: "away: {message}",
        ko: "자리 비움: {message}",
    }
    whois_op() {
        en: "operator",
        ko: "운영자",
    }
    whois_reconnecting() {
        en: "reconnecting",
        ko: "재접속 대기 중",
    }

    registered(nick: &'a str) {
        en: "Welcome, {nick}. Join a room with /join ROOM.",
        ko: "{nick}님, 환영합니다. /join 방이름 으로 방에 들어가세요.",
    }
    left_room(room: &'a str) {
        en: "You left room {room}.",
        ko: "{room} 방에서 나왔습니다.",
    }
    online_of(names: &'a str) {
        en: "Online: {names}",
        ko: "접속 중: {names}",
    }
    now_in_room(room: &'a str) {
        en: "You are now in room {room}.",
        ko: "이제 {room} 방에 있습니다.",
    }
    topic_on_join(topic: &'a str) {
        en: "Topic: {topic}",
        ko: "주제: {topic}",
    }
    topic_of(room: &'a str, topic: &'a str, by: &'a str) {
        en: "Topic of {room}: {topic} (set by {by})",
        ko: "{room} 방 주제: {topic} ({by}님이 정함)",
    }
    no_topic(room: &'a str) {
        en: "{room} has no topic.",
        ko: "{room} 방에는 주제가 없습니다.",
    }
    topic_locked(room: &'a str) {
        en: "The topic of {room} is now locked.",
        ko: "{room} 방 주제를 잠갔습니다.",
    }
    topic_unlocked(room: &'a str) {
        en: "The topic of {room} is now unlocked.",
        ko: "{room} 방 주제 잠금을 풀었습니다.",
    }

    schedule_set(id: u64, hhmm: &'a str, within: &'a str, room: &'a str, text: &'a str) {
        en: "Scheduled #{id} for {hhmm} (in {within}) in {room}: {text}",
        ko: "예약 #{id}: {hhmm} ({within} 후) {room} 방: {text}",
    }
    schedule_unsent(id: u64, room: &'a str) {
        en: "Scheduled message #{id} was not sent: nobody is in {room} any more.",
        ko: "예약 메시지 #{id}은(는) 보내지 못했습니다: {room} 방에 아무도 없습니다.",
    }
    schedule_sent(id: u64, room: &'a str) {
        en: "Scheduled message #{id} was sent to {room}.",
        ko: "예약 메시지 #{id}을(를) {room} 방에 보냈습니다.",
    }
    schedules(n: usize) {
        en: { n; 1 => "You have 1 scheduled message:", _ => "You have {n} scheduled messages:" },
        ko: "예약 메시지 {n}개:",
    }
    schedule_entry(id: u64, hhmm: &'a str, within: &'a str, room: &'a str, text: &'a str) {
        en: "#{id} {hhmm} (in {within}) {room}: {text}",
        ko: "#{id} {hhmm} ({within} 후) {room}: {text}",
    }
    schedules_end() {
        en: "End of scheduled messages.",
        ko: "예약 메시지 끝.",
    }
    unscheduled(id: u64) {
        en: "Cancelled #{id}.",
        ko: "#{id} 예약을 취소했습니다.",
    }

    commands() {
        en: "Commands:",
        ko: "명령어:",
    }
    /// The help of `//text`, which is not a command.
    slash_text() {
        en: "send a message that starts with /",
        ko: "/로 시작하는 메시지 보내기",
    }
    help_footer() {
        en: "Any other line is sent to everyone in your room. /help COMMAND explains one.",
        ko: "그 밖의 줄은 방의 모두에게 보내집니다. /help 명령어 로 자세히 볼 수 있습니다.",
    }
    help_end() {
        en: "End of help.",
        ko: "도움말 끝.",
    }

    // The frames around `/history`, `/search` and the backlog; the count goes inside.
    all_lines(total: usize) {
        en: { total; 1 => "1 line", _ => "{total} lines" },
        ko: "{total}줄",
    }
    some_lines(shown: usize, total: usize) {
        en: "{shown} of {total} lines",
        ko: "{shown}/{total}줄",
    }
    history_of(room: &'a str, count: &'a str) {
        en: "History of {room} ({count}):",
        ko: "{room} 방 기록 ({count}):",
    }
    history_of_day(room: &'a str, day: &'a str, count: &'a str) {
        en: "History of {room} on {day} ({count}):",
        ko: "{room} 방 {day} 기록 ({count}):",
    }
    search_of(room: &'a str, words: &'a str, count: &'a str) {
        en: "Search of {room} for \"{words}\" ({count}, newest first):",
        ko: "{room} 방 \"{words}\" 검색 결과 ({count}, 최신순):",
    }
    search_of_from(room: &'a str, words: &'a str, from: &'a str, count: &'a str) {
        en: "Search of {room} for \"{words}\" from {from} ({count}, newest first):",
        ko: "{room} 방 {from}님의 \"{words}\" 검색 결과 ({count}, 최신순):",
    }
    search_from(room: &'a str, from: &'a str, count: &'a str) {
        en: "Search of {room} for lines from {from} ({count}, newest first):",
        ko: "{room} 방 {from}님의 글 검색 결과 ({count}, 최신순):",
    }
    backlog_of(room: &'a str, count: &'a str) {
        en: "Recent lines in {room} ({count}):",
        ko: "{room} 방 최근 대화 ({count}):",
    }
    history_end() {
        en: "End of history.",
        ko: "기록 끝.",
    }
    search_end() {
        en: "End of search.",
        ko: "검색 끝.",
    }
    backlog_end() {
        en: "End of recent lines.",
        ko: "최근 대화 끝.",
    }
}
