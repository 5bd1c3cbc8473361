//! Lines of the word game.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{line, refuse, reply, Out, Renderer};
use crate::chat::event::GameNotice;
use crate::render::human::human_duration;
use crate::render::texts::game as text;

impl Renderer {
    pub(super) fn game(&self, buf: &mut BytesMut, notice: &GameNotice) {
        let lang = self.lang;
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
                let started = text::started(lang, by, category, *letters, mask, *hint_secs);
                self.notice(buf, *at, started);
            }
            GameNotice::Hint { at, mask, .. } => self.notice(buf, *at, text::hint(lang, mask)),
            GameNotice::Won {
                at,
                nick,
                word,
                points,
                secs,
                ..
            } => {
                let took = human_duration(*secs);
                self.notice(buf, *at, text::won(lang, nick, word, *points, &took));
            }
            GameNotice::TimeUp { at, word, .. } => {
                self.notice(buf, *at, text::time_up(lang, word));
            }
            GameNotice::Stopped { at, by, word, .. } => {
                self.notice(buf, *at, text::stopped(lang, by, word));
            }
            GameNotice::Status {
                room,
                round: Some((category, mask)),
            } => reply(buf, text::running(lang, room, category, mask)),
            GameNotice::Status { room, round: None } => reply(buf, text::not_running(lang, room)),
            GameNotice::Categories { list } => {
                let names: Vec<String> = list.iter().map(|(n, c)| format!("{n} ({c})")).collect();
                reply(buf, text::categories(lang, &names.join(", ")));
            }
            GameNotice::Leaderboard { room, entries } if entries.is_empty() => {
                reply(buf, text::no_scores(lang, room));
            }
            GameNotice::Leaderboard { room, entries } => {
                reply(buf, text::leaderboard(lang, room));
                for (i, e) in entries.iter().enumerate() {
                    let rank = text::rank(lang, i + 1, &e.nick, e.points, e.wins);
                    line!(buf, "--   {rank}");
                }
                reply(buf, text::leaderboard_end(lang));
            }
            GameNotice::PlayerScore { room, entry } => reply(
                buf,
                text::player_score(lang, &entry.nick, room, entry.points, entry.wins),
            ),
            GameNotice::AlreadyRunning { room } => {
                refuse(buf, "game-running", text::already_running(lang, room));
            }
            GameNotice::NoRound => refuse(buf, "no-game", text::no_round(lang)),
            GameNotice::NoSuchCategory { name } => {
                refuse(buf, "no-such-category", text::no_such_category(lang, name));
            }
            GameNotice::NotYours { by } => refuse(buf, "not-yours", text::not_yours(lang, by)),
        }
    }
}
