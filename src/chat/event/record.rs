//! A room event as a flat record and back: its id and time, a kind naming the event, and the
//! kind's sender, text and extra fields.
//!
//! It is the shape a room event has outside one server's memory: the history stores these
//! records (many to a row, see `storage::store::block`) and the cluster sends them to other nodes
//! (`render::cluster`). A kind a server does not know (a newer server's) decodes to nothing, so
//! servers of different versions can share a database or a cluster: a new event is a new kind,
//! never a change to an old one's fields.

use std::borrow::Cow;
use std::sync::Arc;

use super::{Departure, Event, GameNotice, LostReason};
use crate::chat::id::MsgId;

/// One record: a room event without its room (a block, or a cluster message, names the room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub id: u64,
    /// Unix milliseconds.
    pub at: u64,
    pub kind: Cow<'a, str>,
    pub sender: Cow<'a, str>,
    pub text: Cow<'a, str>,
    pub extra: Option<Cow<'a, str>>,
}

/// A room event's record and room, borrowed from the event.
pub struct RowData<'a> {
    pub id: MsgId,
    pub room: &'a str,
    pub at: u64,
    pub kind: &'static str,
    pub sender: &'a str,
    pub text: Cow<'a, str>,
    pub extra: Option<Cow<'a, str>>,
}

impl<'a> RowData<'a> {
    /// Its record.
    pub fn line(&self) -> Line<'_> {
        Line {
            id: self.id.0,
            at: self.at,
            kind: Cow::Borrowed(self.kind),
            sender: Cow::Borrowed(self.sender),
            text: Cow::Borrowed(&self.text),
            extra: self.extra.as_deref().map(Cow::Borrowed),
        }
    }

    /// The record of a room event; `None` for events that are not kept (addressed to one user,
    /// or only summarising others).
    pub fn of(event: &'a Event) -> Option<RowData<'a>> {
        let row =
            |id, room: &'a Arc<str>, at, kind, sender: &'a Arc<str>, text: Cow<'a, str>| RowData {
                id,
                room,
                at,
                kind,
                sender,
                text,
                extra: None,
            };
        Some(match event {
            Event::Message {
                id,
                at,
                room,
                from,
                text,
            } => row(*id, room, *at, "msg", from, Cow::Borrowed(text)),
            Event::Action {
                id,
                at,
                room,
                from,
                text,
            } => row(*id, room, *at, "me", from, Cow::Borrowed(text)),
            Event::Scheduled {
                id,
                at,
                room,
                from,
                text,
            } => row(*id, room, *at, "scheduled", from, Cow::Borrowed(text)),
            Event::Joined { id, at, room, nick } => {
                row(*id, room, *at, "join", nick, Cow::Borrowed(""))
            }
            Event::Reconnected { id, at, room, nick } => {
                row(*id, room, *at, "reconnect", nick, Cow::Borrowed(""))
            }
            Event::Renamed {
                id,
                at,
                room,
                old,
                new,
            } => row(*id, room, *at, "nick", old, Cow::Borrowed(new)),
            Event::TopicSet {
                id,
                at,
                room,
                by,
                topic,
            } => row(*id, room, *at, "topic", by, Cow::Borrowed(topic)),
            Event::Left {
                id,
                at,
                room,
                nick,
                how,
            } => match how {
                Departure::Quit { message } => row(
                    *id,
                    room,
                    *at,
                    "quit",
                    nick,
                    Cow::Borrowed(message.as_deref().unwrap_or("")),
                ),
                Departure::Lost { reason } => row(
                    *id,
                    room,
                    *at,
                    "lost",
                    nick,
                    Cow::Borrowed(reason_code(*reason)),
                ),
                Departure::GraceExpired { grace_secs } => row(
                    *id,
                    room,
                    *at,
                    "expired",
                    nick,
                    Cow::Owned(grace_secs.to_string()),
                ),
                Departure::Moved { to } => row(*id, room, *at, "moved", nick, Cow::Borrowed(to)),
                Departure::Parted { message } => row(
                    *id,
                    room,
                    *at,
                    "part",
                    nick,
                    Cow::Borrowed(message.as_deref().unwrap_or("")),
                ),
                Departure::Kicked { by, reason } => RowData {
                    extra: Some(Cow::Borrowed(by)),
                    ..row(
                        *id,
                        room,
                        *at,
                        "kick",
                        nick,
                        Cow::Borrowed(reason.as_deref().unwrap_or("")),
                    )
                },
            },
            // Round results: the scores are read from these rows ("points secs" in extra).
            Event::Game(GameNotice::Won {
                id,
                at,
                room,
                nick,
                word,
                points,
                secs,
            }) => RowData {
                extra: Some(Cow::Owned(format!("{points} {secs}"))),
                ..row(*id, room, *at, "game_won", nick, Cow::Borrowed(word))
            },
            Event::Game(GameNotice::TimeUp { id, at, room, word }) => RowData {
                id: *id,
                room,
                at: *at,
                kind: "game_timeup",
                sender: "",
                text: Cow::Borrowed(word),
                extra: None,
            },
            Event::Game(GameNotice::Stopped {
                id,
                at,
                room,
                by,
                word,
            }) => row(*id, room, *at, "game_stopped", by, Cow::Borrowed(word)),
            // Round starts and hints, file offers (their ids do not outlive the server), and
            // everything addressed to one user are not kept.
            // Presence summaries repeat the join and departure rows already stored.
            Event::Whisper { .. }
            | Event::Presence(_)
            | Event::Past { .. }
            | Event::Info(_)
            | Event::AwayChanged { .. }
            | Event::Refused(_)
            | Event::Bye(_)
            | Event::File(_)
            | Event::Game(_)
            | Event::Invite(_) => return None,
        })
    }
}

fn reason_code(reason: LostReason) -> &'static str {
    match reason {
        LostReason::Closed => "closed",
        LostReason::Reset => "reset",
        LostReason::ReadError => "read-error",
        LostReason::WriteError => "write-error",
        LostReason::PingTimeout => "ping-timeout",
        LostReason::SendQueueExceeded => "send-queue",
        LostReason::ExcessFlood => "flood",
        LostReason::NodeDown => "node-down",
    }
}

fn reason_of_code(code: &str) -> LostReason {
    match code {
        "reset" => LostReason::Reset,
        "read-error" => LostReason::ReadError,
        "write-error" => LostReason::WriteError,
        "ping-timeout" => LostReason::PingTimeout,
        "send-queue" => LostReason::SendQueueExceeded,
        "flood" => LostReason::ExcessFlood,
        "node-down" => LostReason::NodeDown,
        _ => LostReason::Closed,
    }
}

/// Rebuilds the event a line of `room` was stored from; `None` for a kind this server does not
/// know (a newer server's, sharing the file).
pub fn event_of_line(room: &Arc<str>, line: &Line<'_>) -> Option<Event> {
    let id = MsgId(line.id);
    let room = room.clone();
    let at = line.at;
    let sender: Arc<str> = Arc::from(&*line.sender);
    let text = &*line.text;
    let extra = line.extra.as_deref();
    let opt = |t: &str| (!t.is_empty()).then(|| Arc::from(t));
    let left = |how| Event::Left {
        id,
        at,
        room: room.clone(),
        nick: sender.clone(),
        how,
    };
    Some(match &*line.kind {
        "msg" => Event::Message {
            id,
            at,
            room,
            from: sender,
            text: Arc::from(text),
        },
        "me" => Event::Action {
            id,
            at,
            room,
            from: sender,
            text: Arc::from(text),
        },
        "scheduled" => Event::Scheduled {
            id,
            at,
            room,
            from: sender,
            text: Arc::from(text),
        },
        "join" => Event::Joined {
            id,
            at,
            room,
            nick: sender,
        },
        "reconnect" => Event::Reconnected {
            id,
            at,
            room,
            nick: sender,
        },
        "nick" => Event::Renamed {
            id,
            at,
            room,
            old: sender,
            new: Arc::from(text),
        },
        "topic" => Event::TopicSet {
            id,
            at,
            room,
            by: sender,
            topic: Arc::from(text),
        },
        "quit" => left(Departure::Quit { message: opt(text) }),
        "part" => left(Departure::Parted { message: opt(text) }),
        "lost" => left(Departure::Lost {
            reason: reason_of_code(text),
        }),
        "expired" => left(Departure::GraceExpired {
            grace_secs: text.parse().unwrap_or(0),
        }),
        "moved" => left(Departure::Moved {
            to: Arc::from(text),
        }),
        "kick" => left(Departure::Kicked {
            by: Arc::from(extra.unwrap_or_default()),
            reason: opt(text),
        }),
        "game_won" => {
            let extra = extra.unwrap_or_default();
            let mut parts = extra.split(' ').map(|n| n.parse().unwrap_or(0));
            Event::Game(GameNotice::Won {
                id,
                at,
                room,
                nick: sender,
                word: Arc::from(text),
                points: parts.next().unwrap_or(0) as u32,
                secs: parts.next().unwrap_or(0),
            })
        }
        "game_timeup" => Event::Game(GameNotice::TimeUp {
            id,
            at,
            room,
            word: Arc::from(text),
        }),
        "game_stopped" => Event::Game(GameNotice::Stopped {
            id,
            at,
            room,
            by: sender,
            word: Arc::from(text),
        }),
        _ => return None,
    })
}
