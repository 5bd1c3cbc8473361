//! Refusals (`! code: text`) and goodbyes (`-- bye ...`).

use std::sync::Arc;

use crate::chat::help::HelpEntry;
use crate::chat::nick::NickError;

/// Why the server ends a connection; rendered as the `-- bye` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bye {
    Quit {
        nick: Arc<str>,
    },
    ServerFull {
        max: usize,
    },
    TooManyFromAddress {
        max: usize,
    },
    /// The address already has `--max-unregistered-per-ip` connections that have not logged in.
    TooManyWaitingFromAddress {
        max: usize,
    },
    /// `--max-unregistered` is full: a connection that has not logged in made way for a newcomer
    /// (or the newcomer's own address holds the most of them).
    TooManyWaiting,
    LoginTimeout {
        secs: u64,
    },
    PingTimeout {
        secs: u64,
    },
    ShuttingDown,
    ResumedElsewhere,
    Kicked {
        by: Arc<str>,
        reason: Option<Arc<str>>,
    },
    Banned {
        minutes_left: u64,
    },
    ExcessFlood,
    /// `--tls-only` and a clear-text connection.
    TlsOnly,
}

impl Bye {
    /// A stable name for the log (`bye=server_full`); the numbers a goodbye carries are the
    /// limits the log line names beside it.
    pub fn code(&self) -> &'static str {
        match self {
            Bye::Quit { .. } => "quit",
            Bye::ServerFull { .. } => "server_full",
            Bye::TooManyFromAddress { .. } => "too_many_from_address",
            Bye::TooManyWaitingFromAddress { .. } => "too_many_waiting_from_address",
            Bye::TooManyWaiting => "too_many_waiting",
            Bye::LoginTimeout { .. } => "login_timeout",
            Bye::PingTimeout { .. } => "ping_timeout",
            Bye::ShuttingDown => "shutting_down",
            Bye::ResumedElsewhere => "resumed_elsewhere",
            Bye::Kicked { .. } => "kicked",
            Bye::Banned { .. } => "banned",
            Bye::ExcessFlood => "excess_flood",
            Bye::TlsOnly => "tls_only",
        }
    }

    /// Whether reconnecting makes sense after this goodbye.
    pub fn may_reconnect(&self) -> bool {
        match self {
            Bye::Quit { .. }
            | Bye::TooManyFromAddress { .. }
            | Bye::Kicked { .. }
            | Bye::Banned { .. }
            // Coming back in clear text would be refused again.
            | Bye::TlsOnly
            // The session lives on elsewhere; coming back would only take it back again.
            | Bye::ResumedElsewhere => false,
            Bye::ServerFull { .. }
            | Bye::TooManyWaitingFromAddress { .. }
            | Bye::TooManyWaiting
            | Bye::LoginTimeout { .. }
            | Bye::PingTimeout { .. }
            | Bye::ShuttingDown
            | Bye::ExcessFlood => true,
        }
    }
}

/// Why a request was refused: rendered as `! code: text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NickInvalid(NickError),
    NickTaken {
        nick: Arc<str>,
        lookalike: bool,
    },
    NickHeld {
        nick: Arc<str>,
        secs_left: u64,
        wrong_key: bool,
    },
    NickBanned {
        nick: Arc<str>,
        minutes_left: u64,
    },
    /// The name is reserved for the server (`--reserved-nicks`).
    NickReserved {
        nick: Arc<str>,
    },
    /// A cluster node cannot make sure a name is free while its link to the other servers is
    /// down: logins and renames wait until it is back.
    ClusterDown,
    LineTooLong {
        max: usize,
    },
    InvalidUtf8,
    UnknownCommand {
        command: Arc<str>,
    },
    /// A command without the arguments it needs.
    Usage(&'static HelpEntry),
    NoSuchUser {
        nick: Arc<str>,
    },
    /// Whispering, kicking or banning yourself.
    BadTarget,
    AlreadyThere {
        room: Arc<str>,
    },
    BadRoom {
        max_chars: usize,
    },
    TopicLocked {
        room: Arc<str>,
    },
    NotOperator,
    BadKey,
    NoAdminKey,
    BadTime {
        horizon_secs: u64,
    },
    TooManySchedules {
        max: usize,
    },
    NoSuchSchedule {
        id: Arc<str>,
    },
    /// Flood control started delaying this connection's lines.
    Flood,
    /// `/history` or `/search` on a server started with `--no-history`.
    HistoryOff,
    /// The history could not be read (the store logged why).
    HistoryFailed,
    /// `/history` with something that is neither a count nor a `YYYY-MM-DD` date.
    BadDate,
    /// A request about a room that does not exist.
    NoSuchRoom {
        room: Arc<str>,
    },
    /// A request about a room the asker is not in.
    NotInRoom {
        room: Arc<str>,
    },
    /// Kicking someone from a room they are not in.
    TargetNotInRoom {
        nick: Arc<str>,
        room: Arc<str>,
    },
    /// Only the room's operators (and the server's) may do this.
    NotRoomOperator {
        room: Arc<str>,
    },
    /// A command that acts on "the current room" from a session that is in none.
    NoRoomYet,
    /// A join beyond `--max-rooms-per-user`.
    TooManyRooms {
        max: usize,
    },
    /// A command the asker's protocol cannot carry (a file upload over IRC).
    NotOverThisProtocol {
        command: Arc<str>,
    },
}
