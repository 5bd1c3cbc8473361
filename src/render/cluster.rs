//! The cluster's wire format: what one node publishes on Redis for the others, beside the line
//! protocol and IRC.
//!
//! A message is a format byte, a kind byte, then one postcard record of that kind. A room event
//! travels as the flat record the history stores (`chat::event::record`): one encoding per event,
//! whatever the number of nodes or members, and the same rule for new versions. A newer node's
//! new event is a new record kind, which older nodes decode to nothing and skip; a new kind of
//! message is a new kind byte, which older nodes skip too. So nodes of two versions can run side
//! by side during a rolling upgrade. A change that cannot follow that rule takes a new format
//! byte, and nodes skip messages of a format they do not know.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chat::event::record::{event_of_line, Line, RowData};
use crate::chat::event::Event;
use crate::chat::id::MsgId;

/// The first byte of every message.
const FORMAT: u8 = 1;

/// The second byte: what kind of message the postcard record after it is. A newer node's new
/// kind is a new number, which older nodes skip.
const ROOM_EVENT: u8 = 1;
const MEMBERS_LISTED: u8 = 2;
const WHISPER: u8 = 3;

/// A room event that happened on `node`, as the history's record and its room.
#[derive(Debug, Serialize, Deserialize)]
struct RoomEvent<'a> {
    node: u16,
    #[serde(borrow)]
    room: Cow<'a, str>,
    id: u64,
    at: u64,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    sender: Cow<'a, str>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow)]
    extra: Option<Cow<'a, str>>,
}

/// `node` listed its members of `room` in Redis again (after its link came back): the other
/// nodes read the room's membership again.
#[derive(Debug, Serialize, Deserialize)]
struct MembersListed<'a> {
    node: u16,
    #[serde(borrow)]
    room: Cow<'a, str>,
}

/// A whisper from a user of `node` to a user of the node it is sent to.
#[derive(Debug, Serialize, Deserialize)]
struct Whisper<'a> {
    node: u16,
    id: u64,
    at: u64,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// A message from another node, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    RoomEvent {
        node: u16,
        event: Event,
    },
    MembersListed {
        node: u16,
        room: Arc<str>,
    },
    /// An `Event::Whisper` for a user of this node.
    Whisper {
        node: u16,
        event: Event,
    },
}

/// Why a message was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A newer node's: an unknown format, kind of message or kind of event.
    Unknown,
    /// Not a message of this format at all.
    Damaged(String),
}

/// Appends the message for a room event that happened on `node`; false (and nothing appended)
/// for events other nodes are not sent: those addressed to one user, summaries of others, and
/// the word game's, whose rounds are each node's own (another node's members could not play).
pub fn encode_event(node: u16, event: &Event, buf: &mut Vec<u8>) -> bool {
    if matches!(event, Event::Game(_)) {
        return false;
    }
    let Some(row) = RowData::of(event) else {
        return false;
    };
    let line = row.line();
    let message = RoomEvent {
        node,
        room: Cow::Borrowed(row.room),
        id: line.id,
        at: line.at,
        kind: line.kind,
        sender: line.sender,
        text: line.text,
        extra: line.extra,
    };
    append(ROOM_EVENT, &message, buf);
    true
}

/// Appends the message that `node` listed its members of `room` again.
pub fn encode_members_listed(node: u16, room: &str, buf: &mut Vec<u8>) {
    append(
        MEMBERS_LISTED,
        &MembersListed {
            node,
            room: Cow::Borrowed(room),
        },
        buf,
    );
}

/// Appends the message for a whisper (an `Event::Whisper`) from a user of `node`; false for
/// any other event.
pub fn encode_whisper(node: u16, event: &Event, buf: &mut Vec<u8>) -> bool {
    let Event::Whisper {
        id,
        at,
        from,
        to,
        text,
    } = event
    else {
        return false;
    };
    let message = Whisper {
        node,
        id: id.0,
        at: *at,
        from: Cow::Borrowed(from),
        to: Cow::Borrowed(to),
        text: Cow::Borrowed(text),
    };
    append(WHISPER, &message, buf);
    true
}

fn append(kind: u8, message: &impl Serialize, buf: &mut Vec<u8>) {
    buf.push(FORMAT);
    buf.push(kind);
    let encoded = postcard::to_extend(message, std::mem::take(buf))
        .expect("a message of strings and integers always encodes");
    *buf = encoded;
}

/// The node a message comes from, read without decoding the rest (every kind starts with it):
/// a node's own messages come back to it from its subscriptions, and are skipped at once.
pub fn origin(bytes: &[u8]) -> Option<u16> {
    match bytes {
        [FORMAT, _, rest @ ..] => postcard::take_from_bytes::<u16>(rest).ok().map(|(n, _)| n),
        _ => None,
    }
}

/// Decodes one message.
pub fn decode(bytes: &[u8]) -> Result<Received, Skipped> {
    let damaged = |e: postcard::Error| Skipped::Damaged(e.to_string());
    match bytes {
        [FORMAT, ROOM_EVENT, rest @ ..] => {
            let m: RoomEvent<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            let line = Line {
                id: m.id,
                at: m.at,
                kind: m.kind,
                sender: m.sender,
                text: m.text,
                extra: m.extra,
            };
            let event = event_of_line(&Arc::from(&*m.room), &line).ok_or(Skipped::Unknown)?;
            Ok(Received::RoomEvent {
                node: m.node,
                event,
            })
        }
        [FORMAT, MEMBERS_LISTED, rest @ ..] => {
            let m: MembersListed<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::MembersListed {
                node: m.node,
                room: Arc::from(&*m.room),
            })
        }
        [FORMAT, WHISPER, rest @ ..] => {
            let m: Whisper<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            let event = Event::Whisper {
                id: MsgId(m.id),
                at: m.at,
                from: Arc::from(&*m.from),
                to: Arc::from(&*m.to),
                text: Arc::from(&*m.text),
            };
            Ok(Received::Whisper {
                node: m.node,
                event,
            })
        }
        [FORMAT, _, ..] => Err(Skipped::Unknown),
        [_, ..] => Err(Skipped::Unknown),
        [] => Err(Skipped::Damaged("an empty message".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::event::{Departure, LostReason};

    fn s(text: &str) -> Arc<str> {
        Arc::from(text)
    }

    fn room_events() -> Vec<Event> {
        let (id, at, room) = (MsgId(77 << 22), 1_800_000_000_123, s("lobby"));
        let left = |how| Event::Left {
            id,
            at,
            room: room.clone(),
            nick: s("민지"),
            how,
        };
        vec![
            Event::Message {
                id,
                at,
                room: room.clone(),
                from: s("alice"),
                text: s("안녕하세요, hello"),
            },
            Event::Action {
                id,
                at,
                room: room.clone(),
                from: s("alice"),
                text: s("waves"),
            },
            Event::Joined {
                id,
                at,
                room: room.clone(),
                nick: s("bob"),
            },
            Event::Renamed {
                id,
                at,
                room: room.clone(),
                old: s("bob"),
                new: s("bobby"),
            },
            Event::TopicSet {
                id,
                at,
                room: room.clone(),
                by: s("bob"),
                topic: s("weekend plans"),
            },
            left(Departure::Quit { message: None }),
            left(Departure::Lost {
                reason: LostReason::PingTimeout,
            }),
            left(Departure::Kicked {
                by: s("op"),
                reason: Some(s("spam")),
            }),
            left(Departure::Moved { to: s("games") }),
        ]
    }

    #[test]
    fn room_events_cross_unchanged_with_their_node() {
        for event in room_events() {
            let mut buf = Vec::new();
            assert!(encode_event(513, &event, &mut buf), "{event:?}");
            assert_eq!(
                decode(&buf),
                Ok(Received::RoomEvent { node: 513, event }),
                "{buf:?}"
            );
            assert_eq!(origin(&buf), Some(513));
        }
        let whisper = Event::Whisper {
            id: MsgId(5),
            at: 6,
            from: s("민지"),
            to: s("bob"),
            text: s("psst"),
        };
        let mut buf = Vec::new();
        assert!(encode_whisper(3, &whisper, &mut buf));
        assert_eq!(
            decode(&buf),
            Ok(Received::Whisper {
                node: 3,
                event: whisper
            })
        );
        let mut buf = Vec::new();
        encode_members_listed(9, "games", &mut buf);
        assert_eq!(
            decode(&buf),
            Ok(Received::MembersListed {
                node: 9,
                room: s("games")
            })
        );
    }

    #[test]
    fn events_for_one_user_and_the_game_are_not_sent() {
        let whisper = Event::Whisper {
            id: MsgId(1),
            at: 1,
            from: s("a"),
            to: s("b"),
            text: s("psst"),
        };
        let won = Event::Game(crate::chat::event::GameNotice::Won {
            id: MsgId(2),
            at: 2,
            room: s("lobby"),
            nick: s("a"),
            word: s("apple"),
            points: 3,
            secs: 4,
        });
        for event in [whisper, won] {
            let mut buf = Vec::new();
            assert!(!encode_event(1, &event, &mut buf), "{event:?}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_newer_nodes_messages_are_skipped_and_damage_is_named() {
        let mut buf = Vec::new();
        encode_event(1, &room_events()[0], &mut buf);
        // A new format byte.
        let mut newer = buf.clone();
        newer[0] = FORMAT + 1;
        assert_eq!(decode(&newer), Err(Skipped::Unknown));
        // A new kind of message.
        assert_eq!(decode(&[FORMAT, 4, 0]), Err(Skipped::Unknown));
        // A new kind of event, in a message this node knows.
        let message = RoomEvent {
            node: 1,
            room: Cow::Borrowed("lobby"),
            id: 1,
            at: 1,
            kind: Cow::Borrowed("poll"),
            sender: Cow::Borrowed("a"),
            text: Cow::Borrowed("?"),
            extra: None,
        };
        let mut poll = Vec::new();
        append(ROOM_EVENT, &message, &mut poll);
        assert_eq!(decode(&poll), Err(Skipped::Unknown));
        // Every truncation is an error, never a panic or a wrong event.
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
    }
}
