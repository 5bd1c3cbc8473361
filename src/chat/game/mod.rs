//! The word game in a room: `/game start [CATEGORY]`, `/game stop`, `/game categories`,
//! `/score [NICK]`, hints on the core's timers, and guesses read from ordinary chat lines.
//!
//! One round per room at a time. The quiz master lives here: a round's hint timer reveals a
//! letter every `--hint-interval`; one interval after the last hint the time is up. A guess is an
//! ordinary chat line (everyone else sees it as usual); the first line that matches wins.

pub mod round;
pub mod words;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use log::info;

use super::context::Cx;
use super::event::{Event, GameNotice, HistoryQuery, HistoryWhat, ScoreEntry};
use super::room::room_key;
use super::{Chat, ChatTimer, Now, Outbox, Output, RoomId, SessionId};
use round::Round;

/// The rounds running, one per room at most, and the scores of a server without history.
#[derive(Debug, Default)]
pub struct Games {
    rounds: HashMap<RoomId, RoomGame>,
    next_id: u64,
    scores: Scoreboard,
}

impl Games {
    /// The room is gone: so is its round.
    pub fn room_closed(&mut self, room: RoomId) {
        self.rounds.remove(&room);
    }
}

/// A round running in a room.
#[derive(Debug)]
struct RoomGame {
    /// Tells this round's timers from a later round's in the same room.
    id: u64,
    round: Round,
    started: Instant,
    by_uid: u64,
    by_nick: Arc<str>,
}

/// Scores by room and player (nickname, case-insensitively), for a server without history; with
/// history the scores are read from the database.
#[derive(Debug, Default)]
struct Scoreboard {
    rooms: HashMap<String, HashMap<String, ScoreEntry>>,
}

impl Scoreboard {
    fn record_win(&mut self, room: &str, nick: &Arc<str>, points: u32) {
        let entry = self
            .rooms
            .entry(room_key(room))
            .or_default()
            .entry(nick.to_lowercase())
            .or_insert_with(|| ScoreEntry {
                nick: nick.clone(),
                points: 0,
                wins: 0,
            });
        entry.nick = nick.clone();
        entry.points += u64::from(points);
        entry.wins += 1;
    }

    /// The room's best players, best first (ties by name).
    fn leaderboard(&self, room: &str, top: usize) -> Vec<ScoreEntry> {
        let mut entries: Vec<ScoreEntry> = self
            .rooms
            .get(&room_key(room))
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default();
        entries.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.nick.cmp(&b.nick)));
        entries.truncate(top);
        entries
    }

    fn player(&self, room: &str, nick: &str) -> Option<ScoreEntry> {
        self.rooms
            .get(&room_key(room))?
            .get(&nick.to_lowercase())
            .cloned()
    }
}

/// How many players `/score` lists.
const LEADERBOARD_SIZE: usize = 10;

fn random_u64() -> u64 {
    let mut raw = [0u8; 8];
    // Without the OS's randomness the game still runs, just predictably.
    let _ = getrandom::getrandom(&mut raw);
    u64::from_le_bytes(raw)
}

impl Chat {
    /// `/game start [CATEGORY]`.
    pub(super) fn game_start(&mut self, cx: &mut Cx<'_>, category: Option<&str>) {
        let s = &self.sessions[cx.sid];
        let room = s.room();
        let room_name = self.rooms[room].name().clone();
        if self.games.rounds.contains_key(&room) {
            let notice = GameNotice::AlreadyRunning { room: room_name };
            return cx.reply(Event::Game(notice));
        }
        let Some((category, word)) = self.settings.words.pick(category, random_u64()) else {
            let name = Arc::from(category.unwrap_or(""));
            return cx.reply(Event::Game(GameNotice::NoSuchCategory { name }));
        };
        self.games.next_id += 1;
        let id = self.games.next_id;
        let round = Round::new(category.clone(), word);
        let by = s.nick().clone();
        info!(by:% = by, room:% = room_name, category:% = category; "word game started");
        let started = GameNotice::Started {
            at: cx.now.wall,
            room: room_name,
            by: by.clone(),
            category,
            mask: Arc::from(round.mask()),
            letters: round.letters(),
            hint_secs: self.settings.hint_interval.as_secs(),
        };
        let game = RoomGame {
            id,
            round,
            started: cx.now.mono,
            by_uid: s.uid(),
            by_nick: by,
        };
        self.games.rounds.insert(room, game);
        self.timers.insert(
            cx.now.mono + self.settings.hint_interval,
            ChatTimer::GameTick { room, id },
        );
        self.broadcast(room, None, Event::Game(started), cx.out);
    }

    /// `/game stop`: the player who started the round, or an operator.
    pub(super) fn game_stop(&mut self, cx: &mut Cx<'_>) {
        let s = &self.sessions[cx.sid];
        let room = s.room();
        let Some(game) = self.games.rounds.get(&room) else {
            return cx.reply(Event::Game(GameNotice::NoRound));
        };
        if game.by_uid != s.uid() && !s.is_op() {
            let by = game.by_nick.clone();
            return cx.reply(Event::Game(GameNotice::NotYours { by }));
        }
        let game = self.games.rounds.remove(&room).expect("checked above");
        let notice = GameNotice::Stopped {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            room: self.rooms[room].name().clone(),
            by: s.nick().clone(),
            word: game.round.word,
        };
        self.broadcast(room, None, Event::Game(notice), cx.out);
    }

    /// `/game` or `/game status`.
    pub(super) fn game_status(&mut self, cx: &mut Cx<'_>) {
        let room = self.sessions[cx.sid].room();
        let round = self
            .games
            .rounds
            .get(&room)
            .map(|g| (g.round.category.clone(), Arc::from(g.round.mask())));
        let room = self.rooms[room].name().clone();
        cx.reply(Event::Game(GameNotice::Status { room, round }));
    }

    /// `/game categories`.
    pub(super) fn game_categories(&mut self, cx: &mut Cx<'_>) {
        let list = self.settings.words.categories();
        cx.reply(Event::Game(GameNotice::Categories { list }));
    }

    /// `/score [NICK]`: the room's leaderboard, or one player's score in the room.
    pub(super) fn score(&mut self, cx: &mut Cx<'_>, nick: Option<&str>) {
        let room = self.rooms[self.sessions[cx.sid].room()].name().clone();
        if self.settings.history_enabled {
            // The scores live in the history, so they survive restarts: ask the storage thread.
            let what = match nick {
                None => HistoryWhat::Leaderboard {
                    top: LEADERBOARD_SIZE,
                },
                Some(nick) => HistoryWhat::Player {
                    nick: Arc::from(nick),
                },
            };
            let query = HistoryQuery { room, what };
            let conn = cx.conn;
            cx.out.items.push(Output::Query { conn, query });
            return;
        }
        let scores = &self.games.scores;
        let notice = match nick {
            None => GameNotice::Leaderboard {
                entries: scores.leaderboard(&room, LEADERBOARD_SIZE),
                room,
            },
            Some(nick) => GameNotice::PlayerScore {
                entry: scores.player(&room, nick).unwrap_or(ScoreEntry {
                    nick: Arc::from(nick),
                    points: 0,
                    wins: 0,
                }),
                room,
            },
        };
        cx.reply(Event::Game(notice));
    }

    /// A round's timer: one more letter, or the time is up.
    pub(super) fn game_tick(&mut self, room: RoomId, id: u64, now: Now, out: &mut Outbox) {
        let Some(game) = self.games.rounds.get_mut(&room).filter(|g| g.id == id) else {
            return; // won, stopped, or the room is gone: a stale timer
        };
        let room_name = self.rooms[room].name().clone();
        if game.round.reveal(random_u64()) {
            let notice = GameNotice::Hint {
                at: now.wall,
                room: room_name,
                mask: Arc::from(game.round.mask()),
            };
            self.timers.insert(
                now.mono + self.settings.hint_interval,
                ChatTimer::GameTick { room, id },
            );
            self.broadcast(room, None, Event::Game(notice), out);
            return;
        }
        let game = self.games.rounds.remove(&room).expect("present above");
        info!(room:% = room_name, word:% = game.round.word; "word game: time is up");
        let notice = GameNotice::TimeUp {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: room_name,
            word: game.round.word,
        };
        self.broadcast(room, None, Event::Game(notice), out);
    }

    /// Called for every chat line: the first line that guesses the room's word wins the round.
    pub(super) fn check_guess(
        &mut self,
        sid: SessionId,
        room: RoomId,
        text: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(game) = self.games.rounds.get(&room) else {
            return;
        };
        if !game.round.is_guess(text) {
            return;
        }
        let game = self.games.rounds.remove(&room).expect("present above");
        let points = game.round.points();
        let nick = self.sessions[sid].nick().clone();
        let room_name = self.rooms[room].name().clone();
        let secs = now.mono.saturating_duration_since(game.started).as_secs();
        info!(room:% = room_name, nick:% = nick, points; "word game won");
        self.games.scores.record_win(&room_name, &nick, points);
        let notice = GameNotice::Won {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: room_name,
            nick,
            word: game.round.word,
            points,
            secs,
        };
        self.broadcast(room, None, Event::Game(notice), out);
    }
}
