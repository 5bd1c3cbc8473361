//! Protocol lines of the word game and of invitations, in English or Korean.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{human_duration, line, Out, Renderer};
use crate::chat::event::{GameNotice, InviteNotice};
use crate::config::Lang;

impl Renderer {
    pub(super) fn game(&self, buf: &mut BytesMut, notice: &GameNotice) {
        let ko = self.lang == Lang::Ko;
        match notice {
            GameNotice::Started {
                at,
                by,
                category,
                mask,
                letters,
                hint_secs,
                ..
            } => {
                self.notice(buf, *at);
                if ko {
                    line!(buf, "{by}님이 낱말 맞히기를 시작했습니다: 분야 {category}, {letters}글자: {mask} ({hint_secs}초마다 한 글자씩 공개됩니다. 정답을 입력하세요)");
                } else {
                    line!(buf, "{by} started a word game: {category}, {letters} letters: {mask} (a letter every {hint_secs} s; type the answer to win)");
                }
            }
            GameNotice::Hint { at, mask, .. } => {
                self.notice(buf, *at);
                if ko {
                    line!(buf, "힌트: {mask}");
                } else {
                    line!(buf, "hint: {mask}");
                }
            }
            GameNotice::Won {
                at,
                nick,
                word,
                points,
                secs,
                ..
            } => {
                self.notice(buf, *at);
                let took = human_duration(*secs);
                if ko {
                    line!(buf, "{nick}님이 맞혔습니다: {word} (+{points}점, {took})");
                } else {
                    line!(
                        buf,
                        "{nick} guessed it: {word} (+{points} points in {took})"
                    );
                }
            }
            GameNotice::TimeUp { at, word, .. } => {
                self.notice(buf, *at);
                if ko {
                    line!(buf, "시간이 다 되었습니다! 정답은 {word}였습니다.");
                } else {
                    line!(buf, "time is up! The word was {word}.");
                }
            }
            GameNotice::Stopped { at, by, word, .. } => {
                self.notice(buf, *at);
                if ko {
                    line!(buf, "{by}님이 게임을 멈췄습니다. 정답은 {word}였습니다.");
                } else {
                    line!(buf, "{by} stopped the game. The word was {word}.");
                }
            }
            GameNotice::Status { room, round } => match (round, ko) {
                (Some((category, mask)), false) => {
                    line!(buf, "-- A round is running in {room}: {category}, {mask}")
                }
                (Some((category, mask)), true) => {
                    line!(buf, "-- {room} 방에서 게임 중입니다: {category}, {mask}")
                }
                (None, false) => line!(
                    buf,
                    "-- No round is running in {room}. /game start [CATEGORY] starts one."
                ),
                (None, true) => line!(
                    buf,
                    "-- {room} 방에서 진행 중인 게임이 없습니다. /game start [분야] 로 시작하세요."
                ),
            },
            GameNotice::Categories { list } => {
                let names: Vec<String> = list.iter().map(|(n, c)| format!("{n} ({c})")).collect();
                if ko {
                    line!(buf, "-- 분야: {}", names.join(", "));
                } else {
                    line!(buf, "-- Categories: {}", names.join(", "));
                }
            }
            GameNotice::Leaderboard { room, entries } => {
                if entries.is_empty() {
                    if ko {
                        line!(buf, "-- {room} 방에는 아직 점수가 없습니다.");
                    } else {
                        line!(buf, "-- Nobody has scored in {room} yet.");
                    }
                    return;
                }
                if ko {
                    line!(buf, "-- {room} 방 순위:");
                } else {
                    line!(buf, "-- Leaderboard of {room}:");
                }
                for (i, e) in entries.iter().enumerate() {
                    let rank = i + 1;
                    if ko {
                        line!(buf, "--   {rank}. {} {}점 ({}승)", e.nick, e.points, e.wins);
                    } else {
                        let wins = if e.wins == 1 { "win" } else { "wins" };
                        line!(
                            buf,
                            "--   {rank}. {} {} points ({} {wins})",
                            e.nick,
                            e.points,
                            e.wins
                        );
                    }
                }
                if ko {
                    line!(buf, "-- 순위 끝.");
                } else {
                    line!(buf, "-- End of leaderboard.");
                }
            }
            GameNotice::PlayerScore { room, entry } => {
                if ko {
                    line!(
                        buf,
                        "-- {room} 방의 {}: {}점, {}승",
                        entry.nick,
                        entry.points,
                        entry.wins
                    );
                } else {
                    let wins = if entry.wins == 1 { "win" } else { "wins" };
                    line!(
                        buf,
                        "-- {} in {room}: {} points, {} {wins}",
                        entry.nick,
                        entry.points,
                        entry.wins
                    );
                }
            }
            GameNotice::AlreadyRunning { room } if ko => line!(
                buf,
                "! game-running: {room} 방에서 이미 게임 중입니다. /game stop 으로 멈출 수 있습니다"
            ),
            GameNotice::AlreadyRunning { room } => line!(
                buf,
                "! game-running: a round is already running in {room}; /game stop ends it"
            ),
            GameNotice::NoRound if ko => line!(
                buf,
                "! no-game: 진행 중인 게임이 없습니다. /game start [분야] 로 시작하세요"
            ),
            GameNotice::NoRound => line!(
                buf,
                "! no-game: no round is running here; /game start [CATEGORY] starts one"
            ),
            GameNotice::NoSuchCategory { name } if ko => line!(
                buf,
                "! no-such-category: {name} 분야는 없습니다 (/game categories 로 목록을 보세요)"
            ),
            GameNotice::NoSuchCategory { name } => line!(
                buf,
                "! no-such-category: {name} is not a category (/game categories lists them)"
            ),
            GameNotice::NotYours { by } if ko => line!(
                buf,
                "! not-yours: 시작한 {by}님이나 운영자만 멈출 수 있습니다"
            ),
            GameNotice::NotYours { by } => line!(
                buf,
                "! not-yours: only {by}, who started this round, or an operator can stop it"
            ),
        }
    }

    pub(super) fn invite(&self, buf: &mut BytesMut, notice: &InviteNotice) {
        let ko = self.lang == Lang::Ko;
        match notice {
            InviteNotice::Invited { from, room, secs } => {
                let within = human_duration(*secs);
                if ko {
                    line!(buf, "-- {from}님이 {room} 방으로 초대했습니다: 가려면 /accept-invite {from}, 거절하려면 /decline-invite {from} ({within} 안에)");
                } else {
                    line!(buf, "-- {from} invites you to room {room}: /accept-invite {from} to go there, /decline-invite {from} to say no (within {within})");
                }
            }
            InviteNotice::Sent { to, room } if ko => {
                line!(buf, "-- {to}님을 {room} 방으로 초대했습니다.")
            }
            InviteNotice::Sent { to, room } => line!(buf, "-- Invited {to} to {room}."),
            InviteNotice::Accepted { by, room } if ko => {
                line!(buf, "-- {by}님이 {room} 방 초대를 받아들였습니다.")
            }
            InviteNotice::Accepted { by, room } => {
                line!(buf, "-- {by} accepted your invitation to {room}.")
            }
            InviteNotice::Declined { by } if ko => line!(buf, "-- {by}님이 초대를 거절했습니다."),
            InviteNotice::Declined { by } => line!(buf, "-- {by} declined your invitation."),
            InviteNotice::Expired { to, room } if ko => {
                line!(buf, "-- {to}님에게 보낸 {room} 방 초대가 만료되었습니다.")
            }
            InviteNotice::Expired { to, room } => {
                line!(buf, "-- Your invitation of {to} to {room} expired.")
            }
            InviteNotice::YouDeclined { from } if ko => {
                line!(buf, "-- {from}님의 초대를 거절했습니다.")
            }
            InviteNotice::YouDeclined { from } => {
                line!(buf, "-- Declined {from}'s invitation.")
            }
            InviteNotice::Setting { on: true } if ko => line!(buf, "-- 이제 초대를 받습니다."),
            InviteNotice::Setting { on: true } => line!(buf, "-- You now take invitations."),
            InviteNotice::Setting { on: false } if ko => {
                line!(buf, "-- 이제 모든 초대를 거절합니다.")
            }
            InviteNotice::Setting { on: false } => {
                line!(buf, "-- You now refuse all invitations.")
            }
            InviteNotice::Refuses { nick } if ko => {
                line!(buf, "! invites-off: {nick}님은 초대를 받지 않습니다")
            }
            InviteNotice::Refuses { nick } => {
                line!(buf, "! invites-off: {nick} does not take invitations")
            }
            InviteNotice::AlreadyThere { nick, room } if ko => {
                line!(buf, "! already-there: {nick}님은 이미 {room} 방에 있습니다")
            }
            InviteNotice::AlreadyThere { nick, room } => {
                line!(buf, "! already-there: {nick} is already in {room}")
            }
            InviteNotice::NoneFrom { nick: Some(nick) } if ko => {
                line!(buf, "! no-invitation: {nick}님에게서 받은 초대가 없습니다")
            }
            InviteNotice::NoneFrom { nick: Some(nick) } => {
                line!(buf, "! no-invitation: you have no invitation from {nick}")
            }
            InviteNotice::NoneFrom { nick: None } if ko => {
                line!(buf, "! no-invitation: 받은 초대가 없습니다")
            }
            InviteNotice::NoneFrom { nick: None } => {
                line!(buf, "! no-invitation: you have no invitation")
            }
        }
    }
}
