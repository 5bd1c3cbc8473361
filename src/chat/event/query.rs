//! History queries and answers: what the chat core asks of the storage thread and what comes
//! back, as plain data (the core never touches the disk).

use std::sync::Arc;

use super::{Event, UnixMillis};

/// What a history query asks for. Always about one room (the asker's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The room's name as shown; the store matches it case-insensitively.
    pub room: Arc<str>,
    pub what: HistoryWhat,
}

/// The kind of a history query, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryWhat {
    /// `/history [N]`: the last `n` lines, oldest first.
    Last { n: usize },
    /// `/history YYYY-MM-DD`: the first `max` lines with `from <= at < to`, oldest first.
    Day {
        day: Arc<str>,
        from: UnixMillis,
        to: UnixMillis,
        max: usize,
    },
    /// `/search [from:NICK] WORDS`: at most `max` lines whose text has every word, newest
    /// first; with `from`, only lines that user wrote (their nickname compared as nicknames
    /// are), and `words` may then be empty.
    Search {
        words: Arc<str>,
        from: Option<Arc<str>>,
        max: usize,
    },
    /// The last `n` lines, shown on login and `/join`; nothing is shown when there are none.
    Backlog { n: usize },
    /// `/score`: the room's best `top` game players. Answered with one leaderboard event.
    Leaderboard { top: usize },
    /// `/score NICK`: one player's game score in the room. Answered with one score event.
    Player { nick: Arc<str> },
}

/// The store's answer to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAnswer {
    pub query: HistoryQuery,
    pub result: Result<HistoryLines, HistoryError>,
}

/// Lines found, in the order they are to be shown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryLines {
    pub events: Vec<Event>,
    /// How many lines matched in all (more than `events.len()` when a limit cut the list).
    pub total: usize,
}

/// Why a query has no answer. The details are in the server's log, not for users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryError {
    Failed,
}
