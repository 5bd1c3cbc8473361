//! What the chat core says about the word game.

use std::sync::Arc;

use super::UnixMillis;
use crate::chat::id::MsgId;

/// One line of a leaderboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreEntry {
    pub nick: Arc<str>,
    pub points: u64,
    pub wins: u64,
}

/// What the chat core says about the word game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GameNotice {
    /// To the room: a round began.
    Started {
        at: UnixMillis,
        room: Arc<str>,
        by: Arc<str>,
        category: Arc<str>,
        mask: Arc<str>,
        letters: usize,
        hint_secs: u64,
    },
    /// To the room: one more letter.
    Hint {
        at: UnixMillis,
        room: Arc<str>,
        mask: Arc<str>,
    },
    /// To the room: somebody guessed it. Stored in the history: the scores are read from there.
    Won {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
        word: Arc<str>,
        points: u32,
        secs: u64,
    },
    /// To the room: nobody guessed it in time.
    TimeUp {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        word: Arc<str>,
    },
    /// To the room: the round was stopped.
    Stopped {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        by: Arc<str>,
        word: Arc<str>,
    },
    /// `/game` with no round running, or `/game status`.
    Status {
        room: Arc<str>,
        round: Option<(Arc<str>, Arc<str>)>,
    },
    /// `/game categories`.
    Categories {
        list: Vec<(Arc<str>, usize)>,
    },
    /// `/score`: the room's leaderboard, best first.
    Leaderboard {
        room: Arc<str>,
        entries: Vec<ScoreEntry>,
    },
    /// `/score NICK`.
    PlayerScore {
        room: Arc<str>,
        entry: ScoreEntry,
    },
    // Refusals.
    AlreadyRunning {
        room: Arc<str>,
    },
    NoRound,
    NoSuchCategory {
        name: Arc<str>,
    },
    /// Only the player who started the round, or an operator, may stop it.
    NotYours {
        by: Arc<str>,
    },
}
