//! Replies and notices addressed to one connection.

use std::sync::Arc;

use super::query::HistoryWhat;
use super::UnixMillis;
use crate::chat::help::HelpEntry;

/// One entry of a user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub nick: Arc<str>,
    pub op: bool,
    pub away: bool,
}

/// One entry of `/schedules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    pub id: u64,
    pub due: UnixMillis,
    pub in_secs: u64,
    pub room: Arc<str>,
    pub text: Arc<str>,
}

/// A reply or notice addressed to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Info {
    /// The first prompt on a new connection.
    Greeting,
    /// The prompt repeated after a refused login line.
    NickPrompt,
    /// The welcome block after a login (or a resumed session).
    Welcome {
        nick: Arc<str>,
        room: Arc<str>,
        rules: Arc<str>,
        resumed: bool,
        topic: Option<Arc<str>>,
        online: Vec<Arc<str>>,
        online_total: usize,
        op: bool,
        resume_key: Arc<str>,
        grace_secs: u64,
    },
    /// The header of the missed-lines replay.
    MissedHeader {
        shown: usize,
        total: usize,
    },
    MissedEnd,
    /// `/users`.
    Users {
        room: Arc<str>,
        users: Vec<UserEntry>,
    },
    /// After `/join` into a room too big to list: how many are there (`/users` lists them).
    UserCount {
        room: Arc<str>,
        members: usize,
    },
    /// `/rooms`: names with member counts, sorted.
    Rooms {
        rooms: Vec<(Arc<str>, usize)>,
    },
    /// `/help`.
    Help,
    /// `/help COMMAND`.
    HelpFor(&'static HelpEntry),
    /// The sender's copy of a whisper.
    WhisperSent {
        to: Arc<str>,
        text: Arc<str>,
    },
    /// The whisper's target is away.
    TargetAway {
        nick: Arc<str>,
        message: Arc<str>,
    },
    /// The whisper's target is in the grace period: it will be delivered on return.
    WhisperHeld {
        nick: Arc<str>,
    },
    NickChanged {
        nick: Arc<str>,
    },
    AwaySet {
        message: Arc<str>,
    },
    AwayCleared,
    Whois {
        nick: Arc<str>,
        room: Arc<str>,
        idle_secs: u64,
        away: Option<Arc<str>>,
        op: bool,
        reconnecting: bool,
    },
    /// After `/join`.
    NowInRoom {
        room: Arc<str>,
    },
    /// The topic line shown on joining a room that has one.
    TopicOnJoin {
        topic: Arc<str>,
    },
    /// `/topic` without text.
    Topic {
        room: Arc<str>,
        topic: Option<(Arc<str>, Arc<str>)>,
    },
    TopicLock {
        room: Arc<str>,
        locked: bool,
    },
    ScheduleSet {
        entry: ScheduleEntry,
    },
    /// The scheduled message's room had emptied and disappeared: nobody received it.
    ScheduleUnsent {
        id: u64,
        room: Arc<str>,
    },
    ScheduleSent {
        id: u64,
        room: Arc<str>,
    },
    Schedules {
        entries: Vec<ScheduleEntry>,
    },
    Unscheduled {
        id: u64,
    },
    NowOperator,
    /// The header of a history reply: `shown` of `total` lines follow.
    HistoryStart {
        room: Arc<str>,
        what: HistoryWhat,
        shown: usize,
        total: usize,
    },
    /// The line that ends a history reply.
    HistoryEnd {
        what: HistoryWhat,
    },
}
