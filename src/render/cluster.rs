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

use crate::chat::cluster::{MovedSession, RemoteKick};
use crate::chat::event::record::{event_of_line, Line, RowData};
use crate::chat::event::{Event, Info, InviteNotice, Refusal};
use crate::chat::id::MsgId;
use crate::chat::kept::{Kept, KeptBan, KeptGrant, KeptTopic};

/// The first byte of every message.
const FORMAT: u8 = 1;

/// The second byte: what kind of message the postcard record after it is. A newer node's new
/// kind is a new number, which older nodes skip.
const ROOM_EVENT: u8 = 1;
const MEMBERS_LISTED: u8 = 2;
const WHISPER: u8 = 3;
const KICK: u8 = 4;
const TOLD: u8 = 5;
const SHARED: u8 = 6;
const MOVE_ASKED: u8 = 7;
const MOVE_ANSWERED: u8 = 8;
const WHOIS_ASKED: u8 = 9;
const REPLY: u8 = 10;
const INVITE: u8 = 11;
const AWAY: u8 = 12;

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

/// An operator of `node` kicks (or bans, `ban_ms` set) a user of the node it is sent to.
#[derive(Debug, Serialize, Deserialize)]
struct Kick<'a> {
    node: u16,
    #[serde(borrow)]
    by: Cow<'a, str>,
    #[serde(borrow)]
    target: Cow<'a, str>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    ban_ms: Option<u64>,
}

/// A room event for one user (`to`) of the node it is sent to, who is not in its room.
#[derive(Debug, Serialize, Deserialize)]
struct Told<'a> {
    node: u16,
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(borrow)]
    event: RoomEvent<'a>,
}

/// A change to what every node keeps, made on `node`. Rare: its strings are owned.
#[derive(Debug, Serialize, Deserialize)]
struct Shared {
    node: u16,
    change: Change,
}

/// A newer node's new kind of change is a new variant at the end, which older nodes skip.
#[derive(Debug, Serialize, Deserialize)]
enum Change {
    Ban {
        name_key: String,
        ip: std::net::IpAddr,
        until: u64,
        by: String,
        reason: Option<String>,
    },
    Topic {
        room: String,
        name: String,
        /// The topic and who set it.
        topic: Option<(String, String)>,
        locked: bool,
        changed: u64,
    },
    Grant {
        nick_key: String,
        key_hash: String,
        fingerprint: String,
        granted: u64,
    },
    GrantRevoked {
        nick_key: String,
    },
}

/// How many variants `Change` has.
const CHANGE_KINDS: u32 = 4;

/// `node` asks the node it is sent to for the session with collision key `key`, for a login
/// whose resume key hashes to `resume_hash`, and to hand its name's claim over as `value`.
#[derive(Debug, Serialize, Deserialize)]
struct MoveAsked<'a> {
    node: u16,
    serial: u64,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    resume_hash: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

/// `node`'s answer to the ask `serial`: the session it let go, or none. Rare: owned.
#[derive(Debug, Serialize, Deserialize)]
struct MoveAnswered {
    node: u16,
    serial: u64,
    session: Option<Moved>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Moved {
    nick: String,
    rooms: Vec<String>,
    op: bool,
    away: Option<String>,
}

/// The user `asker` of `node` asks `/whois` of the user `target` of the node it is sent to.
#[derive(Debug, Serialize, Deserialize)]
struct WhoisAsked<'a> {
    node: u16,
    #[serde(borrow)]
    asker: Cow<'a, str>,
    #[serde(borrow)]
    target: Cow<'a, str>,
}

/// An answer from `node` for the user `to` of the node it is sent to. Rare: owned.
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    node: u16,
    to: String,
    info: ReplyInfo,
}

/// The answers one node gives another's users; a newer node's new one is a variant at the
/// end, which older nodes skip.
#[derive(Debug, Serialize, Deserialize)]
enum ReplyInfo {
    Whois {
        nick: String,
        room: String,
        idle_secs: u64,
        away: Option<String>,
        op: bool,
        reconnecting: bool,
    },
    TargetAway {
        nick: String,
        message: String,
    },
    WhisperHeld {
        nick: String,
    },
    InviteSent {
        to: String,
        room: String,
    },
    InviteAccepted {
        by: String,
        room: String,
    },
    InviteDeclined {
        by: String,
    },
    InviteExpired {
        to: String,
        room: String,
    },
    InviteRefused {
        nick: String,
    },
    InviteAlreadyThere {
        nick: String,
        room: String,
    },
    /// The user a routed command named left the node a moment ago.
    NoSuchUser {
        nick: String,
    },
}

/// How many variants `ReplyInfo` has.
const REPLY_KINDS: u32 = 10;

/// The user `from` of `node` invites the user `target` of the node it is sent to to `room`.
#[derive(Debug, Serialize, Deserialize)]
struct Invite<'a> {
    node: u16,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    target: Cow<'a, str>,
    #[serde(borrow)]
    room: Cow<'a, str>,
}

/// A user of `node` in `room` set (`message`) or cleared an away message: a room event with no
/// record in the history (it is not kept), so a kind of its own.
#[derive(Debug, Serialize, Deserialize)]
struct Away<'a> {
    node: u16,
    #[serde(borrow)]
    room: Cow<'a, str>,
    #[serde(borrow)]
    nick: Cow<'a, str>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
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
    /// An operator of `node` kicks a user of this node.
    Kick {
        node: u16,
        kick: RemoteKick,
    },
    /// A room event for the user `to` of this node.
    Told {
        node: u16,
        to: Arc<str>,
        event: Event,
    },
    /// A change to the bans, topics or grants, made on `node`.
    Shared {
        node: u16,
        change: Kept,
    },
    /// `node` asks for a session of this node's (see [`encode_move_asked`]).
    MoveAsked {
        node: u16,
        serial: u64,
        key: String,
        resume_hash: String,
        value: String,
    },
    /// `node` answers this node's ask `serial`.
    MoveAnswered {
        node: u16,
        serial: u64,
        session: Option<MovedSession>,
    },
    /// The user `asker` of `node` asks `/whois` of the user `target` of this node.
    WhoisAsked {
        node: u16,
        asker: Arc<str>,
        target: Arc<str>,
    },
    /// An answer from `node` for the user `to` of this node (an `Event::Info` or an
    /// `Event::Invite`).
    Reply {
        node: u16,
        to: Arc<str>,
        event: Event,
    },
    /// The user `from` of `node` invites the user `target` of this node to `room`.
    Invite {
        node: u16,
        from: Arc<str>,
        target: Arc<str>,
        room: Arc<str>,
    },
}

impl Received {
    /// The node the message comes from.
    pub fn node(&self) -> u16 {
        match self {
            Received::RoomEvent { node, .. }
            | Received::MembersListed { node, .. }
            | Received::Whisper { node, .. }
            | Received::Kick { node, .. }
            | Received::Told { node, .. }
            | Received::Shared { node, .. }
            | Received::MoveAsked { node, .. }
            | Received::MoveAnswered { node, .. }
            | Received::WhoisAsked { node, .. }
            | Received::Reply { node, .. }
            | Received::Invite { node, .. } => *node,
        }
    }
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
    if let Event::AwayChanged {
        room,
        nick,
        message,
    } = event
    {
        let message = Away {
            node,
            room: Cow::Borrowed(room),
            nick: Cow::Borrowed(nick),
            message: message.as_deref().map(Cow::Borrowed),
        };
        append(AWAY, &message, buf);
        return true;
    }
    if matches!(event, Event::Game(_)) {
        return false;
    }
    let Some(row) = RowData::of(event) else {
        return false;
    };
    append(ROOM_EVENT, &room_event(node, &row), buf);
    true
}

fn room_event<'a>(node: u16, row: &'a RowData<'a>) -> RoomEvent<'a> {
    let line = row.line();
    RoomEvent {
        node,
        room: Cow::Borrowed(row.room),
        id: line.id,
        at: line.at,
        kind: line.kind,
        sender: line.sender,
        text: line.text,
        extra: line.extra,
    }
}

/// Appends the message for an operator's kick from `node`.
pub fn encode_kick(node: u16, kick: &RemoteKick, buf: &mut Vec<u8>) {
    let message = Kick {
        node,
        by: Cow::Borrowed(&kick.by),
        target: Cow::Borrowed(&kick.target),
        reason: kick.reason.as_deref().map(Cow::Borrowed),
        ban_ms: kick.ban_ms,
    };
    append(KICK, &message, buf);
}

/// Appends the message that shows room event `event` to the user `to` of another node; false
/// (nothing appended) for an event that is not a room event.
pub fn encode_told(node: u16, to: &str, event: &Event, buf: &mut Vec<u8>) -> bool {
    let Some(row) = RowData::of(event) else {
        return false;
    };
    let message = Told {
        node,
        to: Cow::Borrowed(to),
        event: room_event(node, &row),
    };
    append(TOLD, &message, buf);
    true
}

/// Appends the message for a change to what every node keeps, made on `node`; false (nothing
/// appended) for changes that are each node's own (a topic dropped past its cap) or shared as
/// others (a grant that follows a rename).
pub fn encode_shared(node: u16, change: &Kept, buf: &mut Vec<u8>) -> bool {
    let change = match change {
        Kept::Ban(b) => Change::Ban {
            name_key: b.name_key.clone(),
            ip: b.ip,
            until: b.until,
            by: b.by.to_string(),
            reason: b.reason.as_deref().map(str::to_string),
        },
        Kept::Topic(t) => Change::Topic {
            room: t.room.clone(),
            name: t.name.to_string(),
            topic: t
                .topic
                .as_ref()
                .map(|(text, by)| (text.to_string(), by.to_string())),
            locked: t.locked,
            changed: t.changed,
        },
        Kept::Grant(g) => Change::Grant {
            nick_key: g.nick_key.clone(),
            key_hash: g.key_hash.clone(),
            fingerprint: g.fingerprint.clone(),
            granted: g.granted,
        },
        Kept::GrantRevoked { nick_key } => Change::GrantRevoked {
            nick_key: nick_key.clone(),
        },
        Kept::GrantMoved { .. } | Kept::TopicForgotten { .. } => return false,
    };
    append(SHARED, &Shared { node, change }, buf);
    true
}

/// Appends `node`'s ask for the session with collision key `key` of the node it is sent to,
/// for a login whose resume key hashes to `resume_hash`; `value` is the claim the name's claim
/// is to become, and `serial` comes back with the answer.
pub fn encode_move_asked(
    node: u16,
    serial: u64,
    key: &str,
    resume_hash: &str,
    value: &str,
    buf: &mut Vec<u8>,
) {
    let message = MoveAsked {
        node,
        serial,
        key: Cow::Borrowed(key),
        resume_hash: Cow::Borrowed(resume_hash),
        value: Cow::Borrowed(value),
    };
    append(MOVE_ASKED, &message, buf);
}

/// Appends `node`'s answer to the ask `serial`: the session it let go, or `None`.
pub fn encode_move_answered(
    node: u16,
    serial: u64,
    session: Option<&MovedSession>,
    buf: &mut Vec<u8>,
) {
    let session = session.map(|m| Moved {
        nick: m.nick.to_string(),
        rooms: m.rooms.iter().map(|r| r.to_string()).collect(),
        op: m.op,
        away: m.away.as_deref().map(str::to_string),
    });
    let message = MoveAnswered {
        node,
        serial,
        session,
    };
    append(MOVE_ANSWERED, &message, buf);
}

/// Appends the `/whois` of the user `target`, from the user `asker` of `node`.
pub fn encode_whois_asked(node: u16, asker: &str, target: &str, buf: &mut Vec<u8>) {
    let message = WhoisAsked {
        node,
        asker: Cow::Borrowed(asker),
        target: Cow::Borrowed(target),
    };
    append(WHOIS_ASKED, &message, buf);
}

/// Appends the invitation from the user `from` of `node` to the user `target` of another.
pub fn encode_invite(node: u16, from: &str, target: &str, room: &str, buf: &mut Vec<u8>) {
    let message = Invite {
        node,
        from: Cow::Borrowed(from),
        target: Cow::Borrowed(target),
        room: Cow::Borrowed(room),
    };
    append(INVITE, &message, buf);
}

/// Appends `node`'s answer `event` for the user `to` of another node; false (nothing appended)
/// for an answer that does not cross nodes.
pub fn encode_reply(node: u16, to: &str, event: &Event, buf: &mut Vec<u8>) -> bool {
    let s = |text: &Arc<str>| text.to_string();
    let info = match event {
        Event::Invite(notice) => match notice {
            InviteNotice::Sent { to, room } => ReplyInfo::InviteSent {
                to: s(to),
                room: s(room),
            },
            InviteNotice::Accepted { by, room } => ReplyInfo::InviteAccepted {
                by: s(by),
                room: s(room),
            },
            InviteNotice::Declined { by } => ReplyInfo::InviteDeclined { by: s(by) },
            InviteNotice::Expired { to, room } => ReplyInfo::InviteExpired {
                to: s(to),
                room: s(room),
            },
            InviteNotice::Refuses { nick } => ReplyInfo::InviteRefused { nick: s(nick) },
            InviteNotice::AlreadyThere { nick, room } => ReplyInfo::InviteAlreadyThere {
                nick: s(nick),
                room: s(room),
            },
            _ => return false,
        },
        Event::Info(info) => match reply_of_info(info) {
            Some(reply) => reply,
            None => return false,
        },
        Event::Refused(Refusal::NoSuchUser { nick }) => ReplyInfo::NoSuchUser { nick: s(nick) },
        _ => return false,
    };
    let message = Reply {
        node,
        to: to.to_string(),
        info,
    };
    append(REPLY, &message, buf);
    true
}

fn reply_of_info(info: &Info) -> Option<ReplyInfo> {
    let info = match info {
        Info::Whois {
            nick,
            room,
            idle_secs,
            away,
            op,
            reconnecting,
        } => ReplyInfo::Whois {
            nick: nick.to_string(),
            room: room.to_string(),
            idle_secs: *idle_secs,
            away: away.as_deref().map(str::to_string),
            op: *op,
            reconnecting: *reconnecting,
        },
        Info::TargetAway { nick, message } => ReplyInfo::TargetAway {
            nick: nick.to_string(),
            message: message.to_string(),
        },
        Info::WhisperHeld { nick } => ReplyInfo::WhisperHeld {
            nick: nick.to_string(),
        },
        _ => return None,
    };
    Some(info)
}

fn event_of_reply(reply: ReplyInfo) -> Event {
    let a = Arc::<str>::from;
    let invite = Event::Invite;
    Event::Info(match reply {
        ReplyInfo::Whois {
            nick,
            room,
            idle_secs,
            away,
            op,
            reconnecting,
        } => Info::Whois {
            nick: Arc::from(nick),
            room: Arc::from(room),
            idle_secs,
            away: away.map(Arc::from),
            op,
            reconnecting,
        },
        ReplyInfo::TargetAway { nick, message } => Info::TargetAway {
            nick: Arc::from(nick),
            message: Arc::from(message),
        },
        ReplyInfo::WhisperHeld { nick } => Info::WhisperHeld { nick: a(nick) },
        ReplyInfo::InviteSent { to, room } => {
            return invite(InviteNotice::Sent {
                to: a(to),
                room: a(room),
            })
        }
        ReplyInfo::InviteAccepted { by, room } => {
            return invite(InviteNotice::Accepted {
                by: a(by),
                room: a(room),
            })
        }
        ReplyInfo::InviteDeclined { by } => return invite(InviteNotice::Declined { by: a(by) }),
        ReplyInfo::InviteExpired { to, room } => {
            return invite(InviteNotice::Expired {
                to: a(to),
                room: a(room),
            })
        }
        ReplyInfo::InviteRefused { nick } => {
            return invite(InviteNotice::Refuses { nick: a(nick) })
        }
        ReplyInfo::InviteAlreadyThere { nick, room } => {
            return invite(InviteNotice::AlreadyThere {
                nick: a(nick),
                room: a(room),
            })
        }
        ReplyInfo::NoSuchUser { nick } => {
            return Event::Refused(Refusal::NoSuchUser { nick: a(nick) })
        }
    })
}

fn kept_of(change: Change) -> Kept {
    match change {
        Change::Ban {
            name_key,
            ip,
            until,
            by,
            reason,
        } => Kept::Ban(KeptBan {
            name_key,
            ip,
            until,
            by: Arc::from(by),
            reason: reason.map(Arc::from),
        }),
        Change::Topic {
            room,
            name,
            topic,
            locked,
            changed,
        } => Kept::Topic(KeptTopic {
            room,
            name: Arc::from(name),
            topic: topic.map(|(text, by)| (Arc::from(text), Arc::from(by))),
            locked,
            changed,
        }),
        Change::Grant {
            nick_key,
            key_hash,
            fingerprint,
            granted,
        } => Kept::Grant(KeptGrant {
            nick_key,
            key_hash,
            fingerprint,
            granted,
        }),
        Change::GrantRevoked { nick_key } => Kept::GrantRevoked { nick_key },
    }
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

/// A room event's record back as the event.
fn event_of(m: RoomEvent<'_>) -> Result<Event, Skipped> {
    let line = Line {
        id: m.id,
        at: m.at,
        kind: m.kind,
        sender: m.sender,
        text: m.text,
        extra: m.extra,
    };
    event_of_line(&Arc::from(&*m.room), &line).ok_or(Skipped::Unknown)
}

/// Decodes one message.
pub fn decode(bytes: &[u8]) -> Result<Received, Skipped> {
    let damaged = |e: postcard::Error| Skipped::Damaged(e.to_string());
    match bytes {
        [FORMAT, ROOM_EVENT, rest @ ..] => {
            let m: RoomEvent<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::RoomEvent {
                node: m.node,
                event: event_of(m)?,
            })
        }
        [FORMAT, AWAY, rest @ ..] => {
            let m: Away<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            let event = Event::AwayChanged {
                room: Arc::from(&*m.room),
                nick: Arc::from(&*m.nick),
                message: m.message.as_deref().map(Arc::from),
            };
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
        [FORMAT, KICK, rest @ ..] => {
            let m: Kick<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            let kick = RemoteKick {
                by: Arc::from(&*m.by),
                target: Arc::from(&*m.target),
                reason: m.reason.as_deref().map(Arc::from),
                ban_ms: m.ban_ms,
            };
            Ok(Received::Kick { node: m.node, kick })
        }
        [FORMAT, TOLD, rest @ ..] => {
            let m: Told<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::Told {
                node: m.node,
                to: Arc::from(&*m.to),
                event: event_of(m.event)?,
            })
        }
        [FORMAT, SHARED, rest @ ..] => {
            // A kind of change this node does not know (postcard writes the variant's index
            // after the node) is a newer node's.
            let (_, after_node) = postcard::take_from_bytes::<u16>(rest).map_err(damaged)?;
            let (variant, _) = postcard::take_from_bytes::<u32>(after_node).map_err(damaged)?;
            if variant >= CHANGE_KINDS {
                return Err(Skipped::Unknown);
            }
            let m: Shared = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::Shared {
                node: m.node,
                change: kept_of(m.change),
            })
        }
        [FORMAT, MOVE_ASKED, rest @ ..] => {
            let m: MoveAsked<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::MoveAsked {
                node: m.node,
                serial: m.serial,
                key: m.key.into_owned(),
                resume_hash: m.resume_hash.into_owned(),
                value: m.value.into_owned(),
            })
        }
        [FORMAT, MOVE_ANSWERED, rest @ ..] => {
            let m: MoveAnswered = postcard::from_bytes(rest).map_err(damaged)?;
            let session = m.session.map(|s| MovedSession {
                node: m.node,
                nick: Arc::from(s.nick),
                rooms: s.rooms.into_iter().map(Arc::from).collect(),
                op: s.op,
                away: s.away.map(Arc::from),
            });
            Ok(Received::MoveAnswered {
                node: m.node,
                serial: m.serial,
                session,
            })
        }
        [FORMAT, WHOIS_ASKED, rest @ ..] => {
            let m: WhoisAsked<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::WhoisAsked {
                node: m.node,
                asker: Arc::from(&*m.asker),
                target: Arc::from(&*m.target),
            })
        }
        [FORMAT, REPLY, rest @ ..] => {
            // After the node, the recipient's name, then the answer's variant index.
            let (_, after_node) = postcard::take_from_bytes::<u16>(rest).map_err(damaged)?;
            let (_, after_to) = postcard::take_from_bytes::<&str>(after_node).map_err(damaged)?;
            let (variant, _) = postcard::take_from_bytes::<u32>(after_to).map_err(damaged)?;
            if variant >= REPLY_KINDS {
                return Err(Skipped::Unknown);
            }
            let m: Reply = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::Reply {
                node: m.node,
                to: Arc::from(m.to),
                event: event_of_reply(m.info),
            })
        }
        [FORMAT, INVITE, rest @ ..] => {
            let m: Invite<'_> = postcard::from_bytes(rest).map_err(damaged)?;
            Ok(Received::Invite {
                node: m.node,
                from: Arc::from(&*m.from),
                target: Arc::from(&*m.target),
                room: Arc::from(&*m.room),
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
            Event::AwayChanged {
                room: room.clone(),
                nick: s("민지"),
                message: Some(s("점심")),
            },
            Event::AwayChanged {
                room: room.clone(),
                nick: s("민지"),
                message: None,
            },
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
    fn messages_for_one_node_and_shared_changes_cross_whole_and_any_cut_is_an_error() {
        let kick = RemoteKick {
            by: s("운영자"),
            target: s("mallory"),
            reason: Some(s("banned for 5 min")),
            ban_ms: Some(300_000),
        };
        let told = room_events()
            .into_iter()
            .find(|e| matches!(e, Event::Left { .. }))
            .expect("a departure");
        let changes = [
            Kept::Ban(KeptBan {
                name_key: "mallory".into(),
                ip: "2001:db8::7".parse().unwrap(),
                until: 1_800_000_300_000,
                by: s("op"),
                reason: None,
            }),
            Kept::Topic(KeptTopic {
                room: "lobby".into(),
                name: s("Lobby"),
                topic: Some((s("주말 계획"), s("민지"))),
                locked: true,
                changed: 5,
            }),
            Kept::Grant(KeptGrant {
                nick_key: "alice".into(),
                key_hash: "h".into(),
                fingerprint: "f".into(),
                granted: 7,
            }),
            Kept::GrantRevoked {
                nick_key: "alice".into(),
            },
        ];
        let mut messages = Vec::new();
        let mut buf = Vec::new();
        encode_kick(4, &kick, &mut buf);
        messages.push((buf, Received::Kick { node: 4, kick }));
        let mut buf = Vec::new();
        assert!(encode_told(4, "alice", &told, &mut buf));
        messages.push((
            buf,
            Received::Told {
                node: 4,
                to: s("alice"),
                event: told,
            },
        ));
        for change in changes {
            let mut buf = Vec::new();
            assert!(encode_shared(4, &change, &mut buf), "{change:?}");
            messages.push((buf, Received::Shared { node: 4, change }));
        }
        let mut buf = Vec::new();
        encode_move_asked(4, 77, "alice", "hash", "4:abcdefgh alice", &mut buf);
        messages.push((
            buf,
            Received::MoveAsked {
                node: 4,
                serial: 77,
                key: "alice".into(),
                resume_hash: "hash".into(),
                value: "4:abcdefgh alice".into(),
            },
        ));
        let session = MovedSession {
            node: 4,
            nick: s("Alice"),
            rooms: vec![s("lobby"), s("게임방")],
            op: true,
            away: Some(s("lunch")),
        };
        let mut buf = Vec::new();
        encode_whois_asked(4, "민지", "bob", &mut buf);
        messages.push((
            buf,
            Received::WhoisAsked {
                node: 4,
                asker: s("민지"),
                target: s("bob"),
            },
        ));
        let replies = [
            Info::Whois {
                nick: s("bob"),
                room: s("게임방"),
                idle_secs: 61,
                away: Some(s("lunch")),
                op: true,
                reconnecting: false,
            },
            Info::TargetAway {
                nick: s("bob"),
                message: s("lunch"),
            },
            Info::WhisperHeld { nick: s("bob") },
        ];
        let invites = [
            InviteNotice::Sent {
                to: s("bob"),
                room: s("게임방"),
            },
            InviteNotice::Accepted {
                by: s("bob"),
                room: s("den"),
            },
            InviteNotice::Declined { by: s("bob") },
            InviteNotice::Expired {
                to: s("bob"),
                room: s("den"),
            },
            InviteNotice::Refuses { nick: s("bob") },
            InviteNotice::AlreadyThere {
                nick: s("bob"),
                room: s("den"),
            },
        ];
        let replies = replies
            .into_iter()
            .map(Event::Info)
            .chain(invites.into_iter().map(Event::Invite));
        for event in replies {
            let mut buf = Vec::new();
            assert!(encode_reply(4, "민지", &event, &mut buf), "{event:?}");
            messages.push((
                buf,
                Received::Reply {
                    node: 4,
                    to: s("민지"),
                    event,
                },
            ));
        }
        let mut buf = Vec::new();
        encode_invite(4, "민지", "bob", "게임방", &mut buf);
        messages.push((
            buf,
            Received::Invite {
                node: 4,
                from: s("민지"),
                target: s("bob"),
                room: s("게임방"),
            },
        ));
        let gone = Event::Refused(Refusal::NoSuchUser { nick: s("bob") });
        let mut buf = Vec::new();
        assert!(encode_reply(4, "민지", &gone, &mut buf));
        messages.push((
            buf,
            Received::Reply {
                node: 4,
                to: s("민지"),
                event: gone,
            },
        ));
        let away_cleared = Event::Info(Info::AwayCleared);
        assert!(!encode_reply(4, "a", &away_cleared, &mut Vec::new()));
        for session in [Some(session), None] {
            let mut buf = Vec::new();
            encode_move_answered(4, 78, session.as_ref(), &mut buf);
            messages.push((
                buf,
                Received::MoveAnswered {
                    node: 4,
                    serial: 78,
                    session,
                },
            ));
        }
        for (bytes, want) in messages {
            assert_eq!(origin(&bytes), Some(4));
            assert_eq!(decode(&bytes).as_ref(), Ok(&want));
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "{want:?} cut at {cut}");
            }
        }
        // Changes that are each node's own are not shared.
        let forgotten = Kept::TopicForgotten { room: "den".into() };
        assert!(!encode_shared(4, &forgotten, &mut Vec::new()));
        // A newer node's kind of change is skipped, not taken for damage.
        assert_eq!(decode(&[FORMAT, SHARED, 4, 99]), Err(Skipped::Unknown));
        assert_eq!(
            decode(&[FORMAT, REPLY, 4, 1, b'a', 99]),
            Err(Skipped::Unknown)
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
        assert_eq!(decode(&[FORMAT, 99, 0]), Err(Skipped::Unknown));
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
