//! What is said about the word game.

use super::texts;

texts! {
    started(by: &'a str, category: &'a str, letters: usize, mask: &'a str, hint_secs: u64) {
        en: "{by} started a word game: {category}, {letters} letters: {mask} (a letter every {hint_secs} s; type the answer to win)",
        ko: "{by}님이 낱말 맞히기를 시작했습니다: 분야 {category}, {letters}글자: {mask} ({hint_secs}초마다 한 글자씩 공개됩니다. 정답을 입력하세요)",
    }
    hint(mask: &'a str) {
        en: "hint: {mask}",
        ko: "힌트: {mask}",
    }
    won(nick: &'a str, word: &'a str, points: u32, took: &'a str) {
        en: "{nick} guessed it: {word} (+{points} points in {took})",
        ko: "{nick}님이 맞혔습니다: {word} (+{points}점, {took})",
    }
    time_up(word: &'a str) {
        en: "time is up! The word was {word}.",
        ko: "시간이 다 되었습니다! 정답은 {word}였습니다.",
    }
    stopped(by: &'a str, word: &'a str) {
        en: "{by} stopped the game. The word was {word}.",
        ko: "{by}님이 게임을 멈췄습니다. 정답은 {word}였습니다.",
    }
    running(room: &'a str, category: &'a str, mask: &'a str) {
        en: "A round is running in {room}: {category}, {mask}",
        ko: "{room} 방에서 게임 중입니다: {category}, {mask}",
    }
    not_running(room: &'a str) {
        en: "No round is running in {room}. /game start [CATEGORY] starts one.",
        ko: "{room} 방에서 진행 중인 게임이 없습니다. /game start [분야] 로 시작하세요.",
    }
    categories(list: &'a str) {
        en: "Categories: {list}",
        ko: "분야: {list}",
    }
    no_scores(room: &'a str) {
        en: "Nobody has scored in {room} yet.",
        ko: "{room} 방에는 아직 점수가 없습니다.",
    }
    leaderboard(room: &'a str) {
        en: "Leaderboard of {room}:",
        ko: "{room} 방 순위:",
    }
    rank(rank: usize, nick: &'a str, points: u64, wins: u64) {
        en: { wins; 1 => "{rank}. {nick} {points} points ({wins} win)",
                    _ => "{rank}. {nick} {points} points ({wins} wins)" },
        ko: "{rank}. {nick} {points}점 ({wins}승)",
    }
    leaderboard_end() {
        en: "End of leaderboard.",
        ko: "순위 끝.",
    }
    player_score(nick: &'a str, room: &'a str, points: u64, wins: u64) {
        en: { wins; 1 => "{nick} in {room}: {points} points, {wins} win",
                    _ => "{nick} in {room}: {points} points, {wins} wins" },
        ko: "{room} 방의 {nick}: {points}점, {wins}승",
    }

    already_running(room: &'a str) {
        en: "a round is already running in {room}; /game stop ends it",
        ko: "{room} 방에서 이미 게임 중입니다. /game stop 으로 멈출 수 있습니다",
    }
    no_round() {
        en: "no round is running here; /game start [CATEGORY] starts one",
        ko: "진행 중인 게임이 없습니다. /game start [분야] 로 시작하세요",
    }
    no_such_category(name: &'a str) {
        en: "{name} is not a category (/game categories lists them)",
        ko: "{name} 분야는 없습니다 (/game categories 로 목록을 보세요)",
    }
    not_yours(by: &'a str) {
        en: "only {by}, who started this round, or an operator can stop it",
        ko: "시작한 {by}님이나 운영자만 멈출 수 있습니다",
    }
}
