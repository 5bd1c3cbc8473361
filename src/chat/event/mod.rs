//! What the chat core says: events as plain data.
//!
//! Nothing here knows about sockets or wire formats. Every event could be serialised and sent to
//! another node unchanged; each wire format has a renderer beside the others in `crate::render`
//! (the line protocol's is `render::line`, PROTOCOL.md).
//!
//! One file per family of events, as the renderers have: room events and departures here,
//! replies ([`reply`]), refusals and goodbyes ([`refusal`]), files ([`file`]), the game
//! ([`game`]), invitations ([`invite`]), presence summaries ([`presence`]), and the history
//! queries and answers the storage thread exchanges with the core ([`query`]).

pub mod file;
pub mod game;
pub mod invite;
pub mod presence;
pub mod query;
pub mod record;
pub mod refusal;
pub mod reply;

use std::net::IpAddr;
use std::sync::Arc;

pub use crate::clock::UnixMillis;
pub use file::{FileEntry, FileNotice};
pub use game::{GameNotice, ScoreEntry};
pub use invite::InviteNotice;
pub use presence::PresenceSummary;
pub use query::{HistoryAnswer, HistoryError, HistoryLines, HistoryQuery, HistoryWhat};
pub use refusal::{Bye, Refusal};
pub use reply::{Info, Member, ScheduleEntry, UserEntry};

use super::id::MsgId;

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
    /// The client kept sending faster than flood control allows.
    ExcessFlood,
    /// The user's node of the cluster stopped answering (it died, or lost Redis for longer
    /// than `--cluster-timeout`): told by the other nodes.
    NodeDown,
}

/// How a user left a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// `/quit [message]`.
    Quit { message: Option<Arc<str>> },
    /// The connection was lost; the name is held for the grace period.
    Lost { reason: LostReason },
    /// The grace period ended without a reconnect.
    GraceExpired { grace_secs: u64 },
    /// `/join` or `/part` to another room.
    Moved { to: Arc<str> },
    /// Left this room and kept its others (IRC's PART).
    Parted { message: Option<Arc<str>> },
    /// An operator's `/kick` or `/ban`.
    Kicked {
        by: Arc<str>,
        reason: Option<Arc<str>>,
    },
}

impl LostReason {
    /// A stable name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            LostReason::Closed => "closed",
            LostReason::Reset => "reset",
            LostReason::ReadError => "read_error",
            LostReason::WriteError => "write_error",
            LostReason::PingTimeout => "ping_timeout",
            LostReason::SendQueueExceeded => "send_queue_exceeded",
            LostReason::ExcessFlood => "excess_flood",
            LostReason::NodeDown => "node_down",
        }
    }
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
    /// `/me`.
    Action {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        from: Arc<str>,
        text: Arc<str>,
    },
    /// A scheduled message going out.
    Scheduled {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        from: Arc<str>,
        text: Arc<str>,
    },
    /// A whisper, as its target sees it.
    Whisper {
        id: MsgId,
        at: UnixMillis,
        from: Arc<str>,
        to: Arc<str>,
        text: Arc<str>,
    },
    Joined {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
    },
    Reconnected {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
    },
    Left {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
        how: Departure,
    },
    Renamed {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        old: Arc<str>,
        new: Arc<str>,
    },
    TopicSet {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        by: Arc<str>,
        topic: Arc<str>,
    },
    /// A user set or cleared an away message: shown only to clients that asked to see it (IRC's
    /// away-notify); never kept or stored.
    AwayChanged {
        room: Arc<str>,
        nick: Arc<str>,
        message: Option<Arc<str>>,
    },
    /// Joins and departures in a room over `--presence-max-room`, gathered into one line.
    Presence(PresenceSummary),
    /// A room event from the history (`/history`, `/search`, the backlog), shown as it was shown
    /// live; `dated` puts its date in the stamp because it is not from today.
    Past {
        event: Box<Event>,
        dated: bool,
    },
    Info(Info),
    Refused(Refusal),
    Bye(Bye),
    /// Everything about shared files (offers, deliveries, their replies and refusals).
    File(FileNotice),
    /// The word game in a room.
    Game(GameNotice),
    /// Invitations to a room.
    Invite(InviteNotice),
}

impl Event {
    /// The room a room event happened in; `None` for replies and events addressed to one user.
    pub fn room(&self) -> Option<&str> {
        match self {
            Event::Message { room, .. }
            | Event::Action { room, .. }
            | Event::Scheduled { room, .. }
            | Event::Joined { room, .. }
            | Event::Reconnected { room, .. }
            | Event::Left { room, .. }
            | Event::Renamed { room, .. }
            | Event::TopicSet { room, .. }
            | Event::AwayChanged { room, .. } => Some(room),
            Event::Presence(p) => Some(&p.room),
            Event::Past { event, .. } => event.room(),
            Event::File(crate::chat::FileNotice::Offered { room, .. }) => Some(room),
            Event::Game(
                GameNotice::Started { room, .. }
                | GameNotice::Hint { room, .. }
                | GameNotice::Won { room, .. }
                | GameNotice::TimeUp { room, .. }
                | GameNotice::Stopped { room, .. },
            ) => Some(room),
            _ => None,
        }
    }

    /// The wall-clock time of a room event; `None` for replies and goodbyes.
    pub fn at(&self) -> Option<UnixMillis> {
        match self {
            Event::Message { at, .. }
            | Event::Action { at, .. }
            | Event::Scheduled { at, .. }
            | Event::Whisper { at, .. }
            | Event::Joined { at, .. }
            | Event::Reconnected { at, .. }
            | Event::Left { at, .. }
            | Event::Renamed { at, .. }
            | Event::TopicSet { at, .. }
            | Event::Presence(PresenceSummary { at, .. }) => Some(*at),
            Event::Past { event, .. } => event.at(),
            Event::File(FileNotice::Offered { at, .. })
            | Event::Game(
                GameNotice::Started { at, .. }
                | GameNotice::Hint { at, .. }
                | GameNotice::Won { at, .. }
                | GameNotice::TimeUp { at, .. }
                | GameNotice::Stopped { at, .. },
            ) => Some(*at),
            Event::Info(_)
            | Event::AwayChanged { .. }
            | Event::Refused(_)
            | Event::Bye(_)
            | Event::File(_)
            | Event::Game(_)
            | Event::Invite(_) => None,
        }
    }
}

/// Where a connection comes from, as the chat core needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub ip: IpAddr,
}
