//! What the chat core says: events as plain data.
//!
//! Nothing here knows about sockets or wire formats. Every event could be serialised and sent to
//! another node unchanged; `render` turns one into a protocol line (see PROTOCOL.md).

use std::net::IpAddr;
use std::sync::Arc;

use super::id::MsgId;

/// Milliseconds since the Unix epoch: wall-clock time as plain data.
pub type UnixMillis = u64;

/// Why a connection went away without `/quit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LostReason {
    /// The peer closed the connection (EOF).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Reading failed for another reason.
    ReadError,
    /// Writing failed.
    WriteError,
    /// No input for the idle timeout, or TCP keepalive gave up.
    PingTimeout,
    /// The client did not read its output and its queue passed a cap.
    SendQueueExceeded,
}

/// How a user left the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// `/quit [message]`.
    Quit { message: Option<Arc<str>> },
    /// The connection was lost; the name is held for the grace period.
    Lost { reason: LostReason },
    /// The grace period ended without a reconnect.
    GraceExpired { grace_secs: u64 },
}

/// Why the server ends a connection; rendered as the `-- bye` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bye {
    Quit { nick: Arc<str> },
    ServerFull { max: usize },
    TooManyFromAddress { max: usize },
    LoginTimeout { secs: u64 },
    PingTimeout { secs: u64 },
    ShuttingDown,
    ResumedElsewhere,
}

impl Bye {
    /// Whether reconnecting makes sense after this goodbye.
    pub fn may_reconnect(&self) -> bool {
        match self {
            Bye::Quit { .. } | Bye::TooManyFromAddress { .. } => false,
            Bye::ServerFull { .. }
            | Bye::LoginTimeout { .. }
            | Bye::PingTimeout { .. }
            | Bye::ShuttingDown
            | Bye::ResumedElsewhere => true,
        }
    }
}

/// Why a request was refused: rendered as `! code: text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NickInvalid(super::nick::NickError),
    NickTaken {
        nick: Arc<str>,
        lookalike: bool,
    },
    NickHeld {
        nick: Arc<str>,
        secs_left: u64,
        wrong_key: bool,
    },
    LineTooLong {
        max: usize,
    },
    InvalidUtf8,
    UnknownCommand {
        command: Arc<str>,
    },
}

/// One entry of a user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub nick: Arc<str>,
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
        online: Vec<Arc<str>>,
        online_total: usize,
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
    /// `/help`.
    Help,
}

/// Everything the chat core can ask to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A user's message to a room.
    Message {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        from: Arc<str>,
        text: Arc<str>,
    },
    Joined {
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
    },
    Reconnected {
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
    },
    Left {
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
        how: Departure,
    },
    Info(Info),
    Refused(Refusal),
    Bye(Bye),
}

/// Where a connection comes from, as the chat core needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub ip: IpAddr,
}
