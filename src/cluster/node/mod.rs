//! This node's part of the cluster: what it tells Redis and what it makes of Redis's answers.
//!
//! # What is in Redis
//! Every key and channel of a room carries the room's key as a hash tag (`{lobby}`), so all of a
//! room lives in one slot and a move to Redis Cluster needs no change of layout:
//! - `rc:{ROOM}:events`, a sharded pub/sub channel (`SPUBLISH`/`SSUBSCRIBE`): the room events
//!   that happen on any node, each encoded once (`render::cluster`). A node subscribes only to
//!   rooms it has members in, and fans each event out to them itself, so Redis does O(nodes)
//!   work for a line, never O(members).
//! - `rc:{ROOM}:members`, a hash of nickname to node id: the room's users on every node. Each
//!   node writes its own users' fields as they join, leave and rename, and reads the hash when it
//!   opens the room (its first local member came in).
//! - `rc:{node:N}:direct`: whispers and operators' kicks for node N's users, and room events
//!   for one of them (an operator shown the kick they made).
//! - `rc:{shared}:changes`, a channel every node subscribes to, and `rc:{shared}:kept`, a hash
//!   of the same messages by what each is about (`ban:NAME:ADDRESS`, `topic:ROOM`,
//!   `grant:NAME`): the bans, topics and operator grants every node keeps the same. A node reads
//!   the hash when its link comes up, after sending what changed here while it was down.
//! - `rc:{nodes}:rooms:N`, the set of the rooms node N has members in (see `rooms`), and
//!   `rc:{nodes}:online`, each node's count of connected users: `/rooms` and the welcome's
//!   count of who is online are the cluster's.
//! - `rc:{nodes}:node:N`: node id N's claim (see `claim`), refreshed by a heartbeat every quarter
//!   of `--cluster-timeout`; `rc:{nodes}:seen`, a sorted set of node ids by when Redis last saw
//!   their heartbeat. A node missing from it for three quarters of the timeout is gone: each
//!   node that had its users in a room tells its members they lost the connection.
//!
//! # When the link is down
//! Local chat goes on; room events for other nodes are dropped (counted) rather than queued,
//! since pub/sub is at-most-once anyway and a replay after the outage would arrive out of place.
//! When the link is back, the node subscribes again, writes its members again (removing its
//! fields for users who left meanwhile), tells the other nodes it did so, and reads each room's
//! members again. What was said across nodes during the outage is not replayed.

mod claims;
mod moves;
mod rooms;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_protocol::resp3::types::{BytesFrame, Resp3Frame};

use super::redis::{Link, LinkEvent, LinkLimits, RedisUrl};
use crate::chat::cluster::claims::ClaimAnswer;
use crate::chat::cluster::{RemoteKick, RoomChange};
use crate::chat::event::Event;
use crate::chat::kept::Kept;
use crate::chat::ConnId;
use crate::chat::{room_key, LOBBY};
use crate::clock::UnixMillis;
use crate::render::cluster::{self as wire, Received, Skipped};

/// The heartbeat: refreshes the node's claim if it still holds it (or takes it again if it
/// expired, as when Redis restarted without its data), records that Redis saw the node now, and
/// answers with whether Redis had the node among the live ones before (it had not after a
/// restart of Redis, or once the node missed heartbeats for too long), then the live nodes.
/// -1 when another node holds the claim now.
///
/// KEYS: the claim, the set of nodes by the time they were last seen (Redis's own clock, so the
/// nodes' clocks need not agree). ARGV: the claim's secret, its time to live and the time after
/// which a node is dropped from the set (milliseconds), the node's id.
pub(super) const HEARTBEAT_SCRIPT: &str = "\
local held = redis.call('GET', KEYS[1]) \
if held == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
elseif not held then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
else return -1 end \
local t = redis.call('TIME') \
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3])) \
local known = redis.call('ZSCORE', KEYS[2], ARGV[4]) and 1 or 0 \
redis.call('ZADD', KEYS[2], now, ARGV[4]) \
local live = redis.call('ZRANGE', KEYS[2], 0, -1) \
table.insert(live, 1, known) \
return live";

/// The channel of whispers to node `node`'s users.
fn direct_channel(node: u16) -> String {
    format!("rc:{{node:{node}}}:direct")
}

/// The channel every node subscribes to for changes to what all of them keep: bans, topics,
/// operator grants.
const SHARED_CHANNEL: &str = "rc:{shared}:changes";
/// The hash of everything shared (the changes' messages, by what each is about), read by a
/// node when its link comes up.
const SHARED_KEY: &str = "rc:{shared}:kept";
/// Changes made here while the link is down wait for it, up to this many (the oldest dropped).
const MAX_UNSHARED: usize = 1024;

/// The field of `change` in the shared hash, and whether the change removes it. A revoked
/// grant stays as its revocation, so a node whose link was down when it was revoked revokes
/// it too when it reads the hash; an unlocked room without a topic, or a topic dropped past
/// `--max-kept-topics`, leaves nothing.
fn shared_field(change: &Kept) -> Option<(String, bool)> {
    match change {
        Kept::Ban(b) => Some((format!("ban:{}:{}", b.name_key, b.ip), false)),
        Kept::Topic(t) => Some((format!("topic:{}", t.room), t.topic.is_none() && !t.locked)),
        Kept::TopicForgotten { room } => Some((format!("topic:{room}"), true)),
        Kept::Grant(g) => Some((format!("grant:{}", g.nick_key), false)),
        Kept::GrantRevoked { nick_key } => Some((format!("grant:{nick_key}"), false)),
        Kept::GrantMoved { .. } => None,
    }
}

/// The set of live nodes, scored by when each was last seen.
const SEEN_KEY: &str = "rc:{nodes}:seen";
/// Each node's count of connected users, by node id, written with its heartbeat.
const ONLINE_KEY: &str = "rc:{nodes}:online";

pub use claims::nick_key;

/// The key of node id `node`'s claim.
pub fn node_key(node: u16) -> String {
    format!("rc:{{nodes}}:node:{node}")
}

/// What the node asks of this node's chat core.
pub trait Local {
    /// Every room with local members, and the names of its live local members.
    fn rooms(&self) -> Vec<(Arc<str>, Vec<Arc<str>>)>;
    /// Users connected here.
    fn online(&self) -> usize;
}

/// What the node has for the chat core, from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToChat {
    /// A room event from another node.
    Event { node: u16, event: Event },
    /// The users other nodes have in `room`.
    Members {
        room: Arc<str>,
        members: Vec<(Arc<str>, u16)>,
    },
    /// After the link came back: this node's fields in `room`'s members as Redis still has them;
    /// the reactor answers with [`Node::relist`].
    Relist { room: Arc<str>, ours: Vec<Arc<str>> },
    /// Redis answered the nickname claim `claim` of `conn` (for the name with collision key
    /// `key`).
    Claimed {
        conn: ConnId,
        claim: u64,
        key: String,
        answer: ClaimAnswer,
    },
    /// A whisper from `conn` was sent to the node holding its target (`holder`, the target's
    /// name as that node spells it), or could not be, nobody holding the name.
    WhisperRouted {
        conn: ConnId,
        whisper: Event,
        holder: Option<Arc<str>>,
    },
    /// A whisper a user of node `node` sent a user of this one.
    Whisper { node: u16, event: Event },
    /// A `/whois` from `conn` (the user `asker`) was sent to the node holding `target`, or
    /// could not be.
    WhoisRouted {
        conn: ConnId,
        asker: Arc<str>,
        target: Arc<str>,
        holder: Option<Arc<str>>,
    },
    /// The user `asker` of node `node` asks `/whois` of the user `target` of this node.
    WhoisAsked {
        node: u16,
        asker: Arc<str>,
        target: Arc<str>,
    },
    /// An answer another node sent the user `to` of this one.
    Replied { to: Arc<str>, event: Event },
    /// An `/invite` from `conn` (the user `from`) was sent to the node holding `target`, or
    /// could not be.
    InviteRouted {
        conn: ConnId,
        from: Arc<str>,
        target: Arc<str>,
        holder: Option<Arc<str>>,
    },
    /// The user `from` of node `node` invites the user `target` of this node to `room`.
    Invited {
        node: u16,
        from: Arc<str>,
        target: Arc<str>,
        room: Arc<str>,
    },
    /// A kick from `conn` was sent to the node holding its target (`holder`, as above), or
    /// could not be.
    KickRouted {
        conn: ConnId,
        kick: RemoteKick,
        holder: Option<Arc<str>>,
    },
    /// An operator of node `node` kicks a user of this node.
    Kick { node: u16, kick: RemoteKick },
    /// A room event for the user `to` of this node (an operator shown the kick they made).
    Told { to: Arc<str>, event: Event },
    /// Changes to the bans, topics or grants that other nodes made; when the link comes up,
    /// everything Redis holds of them.
    Shared(Vec<Kept>),
    /// The claim of the session with collision key `key` is node `node`'s now (see `moves`):
    /// the session is let go, and the reactor answers with [`Node::answer_move`].
    HandedOver {
        node: u16,
        serial: u64,
        key: String,
        value: String,
        resume_hash: String,
    },
    /// Node `node` asks for the session with collision key `key`, for a login whose resume
    /// key hashes to `resume_hash`; the reactor answers with [`Node::hand_over`].
    MoveAsked {
        node: u16,
        serial: u64,
        key: String,
        resume_hash: String,
        value: String,
    },
    /// The link went down (`false`, once an outage) or came back (`true`).
    LinkChanged { up: bool },
    /// Another node holds this node's id now: this node must stop, its ids are no longer unique.
    IdLost,
    /// These nodes missed their heartbeats: their users are gone.
    NodesGone(Vec<u16>),
    /// Users connected to the other live nodes, as their last heartbeats said.
    OnlineElsewhere(usize),
    /// The session here with the name of collision key `key` lost it to an earlier claim of
    /// another node's user (after a partition): it must be renamed.
    NameLost { key: String },
    /// `/rooms` from `conn`: the rooms other nodes have members in and not this one, with
    /// their counts of users.
    RoomsListed {
        conn: ConnId,
        rooms: Vec<(Arc<str>, usize)>,
    },
}

/// What a reply is the answer to.
#[derive(Debug)]
enum Pending {
    Members {
        room: Arc<str>,
        resync: bool,
    },
    Heartbeat,
    Claim {
        conn: ConnId,
        claim: u64,
        key: String,
        /// The claim's value, if granted.
        value: String,
        /// The hash of the resume key the login gave: a name another node holds is asked of
        /// it (see `moves`).
        resume: Option<String>,
    },
    /// Taking over a claim an earlier process with this node id left.
    TakeOver {
        conn: ConnId,
        claim: u64,
        key: String,
        value: String,
        holder: Arc<str>,
    },
    Refresh,
    /// Looking up the node that holds a whisper's or kick's target.
    Route {
        conn: ConnId,
        routed: Routed,
    },
    /// Reading everything shared.
    Shared,
    /// Reading every node's count of connected users.
    Online,
    /// Reading a node's rooms, and counting a room's members, for a `/rooms`.
    RoomsOf {
        listing: u64,
    },
    RoomCount {
        listing: u64,
        room: String,
    },
    /// Handing a name's claim over to the node a session moves to (see `moves`).
    HandOver {
        to: u16,
        serial: u64,
        key: String,
        value: String,
        resume_hash: String,
    },
}

/// What goes to the node that holds a name.
#[derive(Debug)]
enum Routed {
    Whisper(Event),
    Kick(RemoteKick),
    Whois {
        asker: Arc<str>,
        target: Arc<str>,
    },
    Invite {
        from: Arc<str>,
        target: Arc<str>,
        room: Arc<str>,
    },
}

impl Routed {
    /// The answer for the sender: sent to `holder`, or to nobody.
    fn answer(self, conn: ConnId, holder: Option<Arc<str>>) -> ToChat {
        match self {
            Routed::Whisper(whisper) => ToChat::WhisperRouted {
                conn,
                whisper,
                holder,
            },
            Routed::Kick(kick) => ToChat::KickRouted { conn, kick, holder },
            Routed::Whois { asker, target } => ToChat::WhoisRouted {
                conn,
                asker,
                target,
                holder,
            },
            Routed::Invite { from, target, .. } => ToChat::InviteRouted {
                conn,
                from,
                target,
                holder,
            },
        }
    }
}

/// A subscribed room's names in Redis, made once.
#[derive(Debug)]
struct RoomKeys {
    room: Arc<str>,
    channel: Vec<u8>,
    members: Vec<u8>,
}

impl RoomKeys {
    fn of(room: &Arc<str>) -> RoomKeys {
        let key = room_key(room);
        RoomKeys {
            room: room.clone(),
            channel: format!("rc:{{{key}}}:events").into_bytes(),
            members: format!("rc:{{{key}}}:members").into_bytes(),
        }
    }
}

/// The cluster's figures for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterStats {
    pub published: u64,
    /// Room events not sent because the link was down or its queue full.
    pub dropped: u64,
    pub received: u64,
    /// Messages from other nodes this node could not read (a newer node's, or damaged).
    pub skipped: u64,
    /// Milliseconds between received events' times and their arrival, summed.
    pub lag_ms_sum: u64,
    /// Names of local sessions that another node claimed while this node's claims had lapsed.
    pub claim_conflicts: u64,
}

/// This node in the cluster.
pub struct Node {
    id: u16,
    /// The secret the node's claim holds (see `claim`).
    secret: String,
    /// Node ids are claimed for this long; the heartbeat renews them every quarter of it.
    timeout: Duration,
    link: Link,
    /// Rooms with local members, by room key.
    rooms: HashMap<String, RoomKeys>,
    pending: HashMap<u64, Pending>,
    next_tag: u64,
    next_heartbeat: Option<Instant>,
    /// The link has been up once: losing it is told to users (a node that never reached Redis
    /// after its claim has nothing to tell).
    was_up: bool,
    /// The other nodes among the live ones at the last heartbeat (and, while none is judged,
    /// those seen since).
    live: HashSet<u16>,
    /// Nodes found gone and not seen since: their fields in a room's members are stale.
    gone: HashSet<u16>,
    /// Every room was listed again when the link came up: the first heartbeat, which finds
    /// Redis without this node if Redis restarted, need not list them once more.
    listed_since_up: bool,
    /// Users were told the link is down: they are told once per outage, however many attempts
    /// to reconnect fail, and told again when it is back.
    down_told: bool,
    /// Before this, a node missing from the live ones is not judged gone (see `nodes_seen`).
    judge_after: Instant,
    /// When the heartbeat awaiting its answer was sent.
    heartbeat_sent: Option<Instant>,
    /// Rooms that closed here while the link was down: this node's fields in their members may
    /// be left in Redis, and are looked at when it is back.
    closed_while_down: HashSet<Arc<str>>,
    /// The nickname claims this node holds, by collision key, with their exact values (see
    /// `claims`).
    held: HashMap<String, String>,
    /// Claims let go while the link was down, by key, with their values.
    unreleased: HashMap<String, String>,
    /// Logins waiting for another node to let a session go to this one, by serial.
    moving: HashMap<u64, (Instant, moves::Moving)>,
    /// `/rooms` being read, by serial.
    listings: HashMap<u64, rooms::Listing>,
    next_listing: u64,
    next_move: u64,
    /// Asks that timed out, by serial, with the claim they would have held: a late answer's
    /// claim is let go.
    moves_given_up: std::collections::VecDeque<(u64, String, String)>,
    /// Changes to share that were made while the link was down, sent when it is back.
    unshared: std::collections::VecDeque<Kept>,
    /// Claims answered without Redis (the link is down), given to the chat core at the next
    /// step.
    answered: Vec<ToChat>,
    /// A claim's time to live: the timeout and the reconnect grace, so the names of a node that
    /// died stay held as long as one lost connection's would.
    claim_ttl: Duration,
    /// Scratch for encoding, and for the link's events.
    buf: Vec<u8>,
    link_events: Vec<LinkEvent>,
    pub stats: ClusterStats,
}

/// Replies nobody waits for (publishes, membership writes) carry this tag.
const IGNORED: u64 = 0;

impl Node {
    pub fn new(
        url: RedisUrl,
        id: u16,
        secret: String,
        timeout: Duration,
        grace: Duration,
        max_queued: usize,
        token: mio::Token,
    ) -> Node {
        // Back-off tops out at a quarter of the timeout, so a node back from an outage of
        // Redis heartbeats before the others take it for gone.
        let defaults = LinkLimits::default();
        let limits = LinkLimits {
            max_queued_bytes: max_queued,
            backoff_max: defaults.backoff_max.min(timeout / 4),
            backoff_min: defaults.backoff_min.min(timeout / 4),
            ..defaults
        };
        // Serials of asks start where an earlier process with this id would not have been,
        // so a late answer to it is never taken for one of this process's.
        let first_move = secret
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(7) ^ u64::from(b))
            << 20;
        Node {
            id,
            secret,
            timeout,
            link: Link::new(url, limits, token),
            rooms: HashMap::new(),
            pending: HashMap::new(),
            next_tag: IGNORED + 1,
            next_heartbeat: None,
            was_up: false,
            down_told: false,
            live: HashSet::new(),
            gone: HashSet::new(),
            listed_since_up: false,
            answered: Vec::new(),
            unshared: std::collections::VecDeque::new(),
            moving: HashMap::new(),
            listings: HashMap::new(),
            next_listing: 0,
            next_move: first_move,
            moves_given_up: std::collections::VecDeque::new(),
            held: HashMap::new(),
            unreleased: HashMap::new(),
            heartbeat_sent: None,
            judge_after: Instant::now(),
            closed_while_down: HashSet::new(),
            claim_ttl: timeout + grace,
            buf: Vec::new(),
            link_events: Vec::new(),
            stats: ClusterStats::default(),
        }
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn is_up(&self) -> bool {
        self.link.is_up()
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Sends a room event that happened here to the room's other nodes, and keeps the room's
    /// members in Redis up to date with it. A room need not be subscribed to be published to: a
    /// room opened this turn is subscribed at the end of it (`rooms_changed`), after its first
    /// member's join went out.
    pub fn publish(&mut self, event: &Event) {
        let Some(room) = event.room() else {
            return;
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if wire::encode_event(self.id, event, &mut buf) {
            // The room's names are made once, when it is subscribed; a room not subscribed yet
            // (opened this turn) has them made for this event.
            let made;
            let keys = match self.rooms.get(&room_key(room)) {
                Some(keys) => keys,
                None => {
                    made = RoomKeys::of(&Arc::from(room));
                    &made
                }
            };
            let node = self.id.to_string();
            publish_to(&mut self.link, &mut self.stats, &node, keys, event, &buf);
        }
        self.buf = buf;
    }

    /// Rooms opened here are subscribed and their members read; closed ones are let go.
    pub fn rooms_changed(&mut self, changes: &[RoomChange]) {
        for change in changes {
            let key = room_key(&change.room);
            if change.open {
                let keys = RoomKeys::of(&change.room);
                if self.link.is_up() {
                    self.subscribe(&keys, &[], false);
                    self.room_listed(&change.room, true);
                }
                self.closed_while_down.remove(&keys.room);
                self.rooms.insert(key, keys);
            } else if let Some(keys) = self.rooms.remove(&key) {
                if !self.link.is_up() {
                    // Its last members' departures did not reach Redis.
                    self.closed_while_down.insert(keys.room.clone());
                } else {
                    self.room_listed(&keys.room, false);
                    if key != LOBBY {
                        // The lobby stays subscribed (see `resync`).
                        let _ = self.link.send(&[b"SUNSUBSCRIBE", &keys.channel], IGNORED);
                    }
                }
            }
        }
    }

    /// Subscribes to a room's events, writes its live local members, and reads the others.
    fn subscribe(&mut self, keys: &RoomKeys, local: &[Arc<str>], resync: bool) {
        let _ = self.link.send(&[b"SSUBSCRIBE", &keys.channel], IGNORED);
        let node = self.id.to_string();
        for nick in local {
            let _ = self.link.send(
                &[b"HSET", &keys.members, nick.as_bytes(), node.as_bytes()],
                IGNORED,
            );
        }
        self.read_members(keys, resync);
    }

    /// Reads a room's members; `resync`: this node's own fields are checked too.
    fn read_members(&mut self, keys: &RoomKeys, resync: bool) {
        let tag = self.tag(Pending::Members {
            room: keys.room.clone(),
            resync,
        });
        if self.link.send(&[b"HGETALL", &keys.members], tag).is_err() {
            self.pending.remove(&tag);
        }
    }

    /// After the link came back: removes this node's fields of users no longer in `room` here,
    /// and tells the other nodes the room's members are listed again.
    pub fn relist(&mut self, room: &str, stale: &[Arc<str>]) {
        // The room may have closed here meanwhile (or during the outage): its names are made.
        let RoomKeys {
            channel, members, ..
        } = RoomKeys::of(&Arc::from(room));
        for nick in stale {
            let _ = self
                .link
                .send_control(&[b"HDEL", &members, nick.as_bytes()], IGNORED);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        wire::encode_members_listed(self.id, room, &mut buf);
        let _ = self.link.send(&[b"SPUBLISH", &channel, &buf], IGNORED);
        self.buf = buf;
    }

    /// Sends a whisper to the node that holds its target's name (`key` its collision key):
    /// the claim says which node, then the whisper goes to that node's channel.
    pub fn whisper(&mut self, conn: ConnId, key: &str, whisper: Event) {
        self.route(conn, key, Routed::Whisper(whisper));
    }

    /// Asks `/whois` of the node that holds its target's name, as for a whisper.
    pub fn whois(&mut self, conn: ConnId, key: &str, asker: Arc<str>, target: Arc<str>) {
        self.route(conn, key, Routed::Whois { asker, target });
    }

    /// Sends an invitation to the node that holds its target's name, as for a whisper.
    pub fn invite(
        &mut self,
        conn: ConnId,
        key: &str,
        from: Arc<str>,
        target: Arc<str>,
        room: Arc<str>,
    ) {
        self.route(conn, key, Routed::Invite { from, target, room });
    }

    /// Sends the user `to` of node `node` an answer.
    pub fn reply_to(&mut self, node: u16, to: &str, event: &Event) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if wire::encode_reply(self.id, to, event, &mut buf) {
            let channel = direct_channel(node);
            let _ = self
                .link
                .send(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED);
        }
        self.buf = buf;
    }

    /// Sends an operator's kick to the node that holds its target's name, as for a whisper.
    pub fn kick(&mut self, conn: ConnId, key: &str, kick: RemoteKick) {
        self.route(conn, key, Routed::Kick(kick));
    }

    fn route(&mut self, conn: ConnId, key: &str, routed: Routed) {
        if !self.link.is_up() {
            // Nobody can be found while the link is down: as for a name nobody holds.
            self.answered.push(routed.answer(conn, None));
            return;
        }
        let redis_key = nick_key(key);
        let tag = self.tag(Pending::Route { conn, routed });
        if self
            .link
            .send(&[b"GET", redis_key.as_bytes()], tag)
            .is_err()
        {
            if let Some(Pending::Route { conn, routed }) = self.pending.remove(&tag) {
                self.answered.push(routed.answer(conn, None));
            }
        }
    }

    /// The claim of a routed message's target was read: the message goes to the node holding
    /// it, and the sender is answered.
    fn routed(&mut self, conn: ConnId, routed: Routed, reply: &BytesFrame) -> ToChat {
        let holder = match reply {
            BytesFrame::BlobString { data, .. } => {
                let value = String::from_utf8_lossy(data);
                let h = claims::holder(&value);
                let node: Option<u16> = h.node.parse().ok();
                node.filter(|&n| n != self.id)
                    .map(|n| (n, Arc::<str>::from(h.nick)))
            }
            _ => None,
        };
        let Some((node, nick)) = holder else {
            return routed.answer(conn, None);
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        match &routed {
            Routed::Whisper(whisper) => {
                wire::encode_whisper(self.id, whisper, &mut buf);
            }
            Routed::Kick(kick) => wire::encode_kick(self.id, kick, &mut buf),
            Routed::Whois { asker, target } => {
                wire::encode_whois_asked(self.id, asker, target, &mut buf);
            }
            Routed::Invite { from, target, room } => {
                wire::encode_invite(self.id, from, target, room, &mut buf);
            }
        }
        let channel = direct_channel(node);
        // A kick is an operator's order: sent whatever the queue holds, like state.
        let _ = match routed {
            Routed::Kick(_) => self
                .link
                .send_control(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED),
            Routed::Whisper(_) | Routed::Whois { .. } | Routed::Invite { .. } => self
                .link
                .send(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED),
        };
        self.buf = buf;
        routed.answer(conn, Some(nick))
    }

    /// Shows a room event to the user `to` of node `node`.
    pub fn tell(&mut self, node: u16, to: &str, event: &Event) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if wire::encode_told(self.id, to, event, &mut buf) {
            let channel = direct_channel(node);
            let _ = self
                .link
                .send(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED);
        }
        self.buf = buf;
    }

    /// A change to the bans, topics or grants made here: written to the shared hash and
    /// published to every node; kept until the link is back if it is down.
    pub fn share(&mut self, change: Kept) {
        if !self.link.is_up() {
            if self.unshared.len() >= MAX_UNSHARED {
                if let Some(lost) = self.unshared.pop_front() {
                    log::warn!(change = lost.kind(); "a change to share dropped: too many while the link is down");
                }
            }
            self.unshared.push_back(change);
            return;
        }
        let Some((field, removed)) = shared_field(&change) else {
            return;
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let told = wire::encode_shared(self.id, &change, &mut buf);
        // The hash first, as for a room's members: a node that reads it meanwhile gets the
        // change from one or the other, or both (applying it twice changes nothing).
        let key = SHARED_KEY.as_bytes();
        let _ = if removed || !told {
            self.link
                .send_control(&[b"HDEL", key, field.as_bytes()], IGNORED)
        } else {
            self.link
                .send_control(&[b"HSET", key, field.as_bytes(), &buf], IGNORED)
        };
        if told {
            let _ = self
                .link
                .send_control(&[b"SPUBLISH", SHARED_CHANNEL.as_bytes(), &buf], IGNORED);
        }
        self.buf = buf;
    }

    /// Everything shared, as Redis holds it: bans that ended are left out, and removed.
    fn shared_replied(&mut self, reply: BytesFrame, wall: UnixMillis, to_chat: &mut Vec<ToChat>) {
        let BytesFrame::Map { data, .. } = reply else {
            return;
        };
        let mut changes = Vec::with_capacity(data.len());
        for (field, value) in data {
            let BytesFrame::BlobString { data: bytes, .. } = &value else {
                continue;
            };
            match wire::decode(bytes) {
                Ok(Received::Shared {
                    change: Kept::Ban(ban),
                    ..
                }) if ban.until <= wall => {
                    if let Some(field) = field.as_str() {
                        let _ = self.link.send_control(
                            &[b"HDEL", SHARED_KEY.as_bytes(), field.as_bytes()],
                            IGNORED,
                        );
                    }
                }
                Ok(Received::Shared { change, .. }) => changes.push(change),
                _ => self.stats.skipped += 1,
            }
        }
        if !changes.is_empty() {
            to_chat.push(ToChat::Shared(changes));
        }
    }

    /// The link came up: every room is subscribed and listed again (`local_rooms`: each room's
    /// live local members), and the claim refreshed.
    fn resync(&mut self, local_rooms: &[(Arc<str>, Vec<Arc<str>>)], now: Instant) {
        // The heartbeat first: a node judging liveness meanwhile sees this one live before it
        // sees its members written again.
        if self.heartbeat_sent.is_none() {
            self.heartbeat();
            self.heartbeat_sent = Some(now);
            self.next_heartbeat = Some(now + self.timeout / 4);
        }
        self.release_leftovers();
        for room in std::mem::take(&mut self.closed_while_down) {
            if !self.rooms.contains_key(&room_key(&room)) {
                self.read_members(&RoomKeys::of(&room), true);
            }
        }
        let direct = direct_channel(self.id);
        let _ = self.link.send(&[b"SSUBSCRIBE", direct.as_bytes()], IGNORED);
        // The lobby, everyone's first room, is subscribed whether or not anyone is in it here:
        // a room's subscription reaches Redis a moment after its first member is told they
        // are in, and a line said on another node in that moment would pass that member by.
        // Every node has lobby members but for moments, so this costs nothing.
        let lobby = RoomKeys::of(&Arc::from(LOBBY));
        let _ = self.link.send(&[b"SSUBSCRIBE", &lobby.channel], IGNORED);
        // What every node keeps: this node's changes made while the link was down first, so
        // that the hash read after them has them.
        let _ = self
            .link
            .send_control(&[b"SSUBSCRIBE", SHARED_CHANNEL.as_bytes()], IGNORED);
        for change in std::mem::take(&mut self.unshared) {
            self.share(change);
        }
        let tag = self.tag(Pending::Shared);
        if self
            .link
            .send_control(&[b"HGETALL", SHARED_KEY.as_bytes()], tag)
            .is_err()
        {
            self.pending.remove(&tag);
        }
        for (room, nicks) in local_rooms {
            let keys = RoomKeys::of(room);
            self.subscribe(&keys, nicks, true);
            self.rooms.insert(room_key(room), keys);
        }
        let names: Vec<Arc<str>> = local_rooms.iter().map(|(room, _)| room.clone()).collect();
        self.relist_rooms(&names);
    }

    fn tag(&mut self, pending: Pending) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.insert(tag, pending);
        tag
    }

    /// Readiness on the link's socket.
    pub fn on_ready(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        wall: UnixMillis,
        local: &dyn Local,
        to_chat: &mut Vec<ToChat>,
    ) {
        let mut events = std::mem::take(&mut self.link_events);
        self.link.on_ready(registry, now, &mut events);
        self.handle(&mut events, now, wall, local, to_chat);
        self.link_events = events;
    }

    /// When [`Node::on_timer`] is next needed.
    pub fn deadline(&self) -> Option<Instant> {
        if !self.answered.is_empty() {
            return Some(Instant::now());
        }
        let heartbeat = self.next_heartbeat.filter(|_| self.link.is_up());
        [self.link.deadline(), heartbeat, self.moves_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Reconnects when due, and sends the heartbeat.
    pub fn on_timer(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        wall: UnixMillis,
        local: &dyn Local,
        to_chat: &mut Vec<ToChat>,
    ) {
        let mut events = std::mem::take(&mut self.link_events);
        if self.link.deadline().is_some_and(|at| at <= now) {
            self.link.on_timer(registry, now, &mut events);
        }
        self.handle(&mut events, now, wall, local, to_chat);
        self.link_events = events;
        self.moves_due(now, to_chat);
        if self.link.is_up() && self.next_heartbeat.is_some_and(|at| at <= now) {
            if self.heartbeat_sent.is_some() {
                // The last heartbeat got no answer in a quarter of the timeout: Redis stopped
                // answering on a connection that stays open (a half-open connection, a
                // stopped process). The link is made again.
                let error = format!(
                    "Redis did not answer the heartbeat within {} ms",
                    (self.timeout / 4).as_millis()
                );
                let mut events = std::mem::take(&mut self.link_events);
                self.link.drop_connection(registry, now, error, &mut events);
                self.handle(&mut events, now, wall, local, to_chat);
                self.link_events = events;
                return;
            }
            self.heartbeat();
            self.tell_online(local.online());
            self.keep_rooms_alive();
            self.refresh_claims();
            self.heartbeat_sent = Some(now);
            self.next_heartbeat = Some(now + self.timeout / 4);
        }
    }

    /// Heartbeats come every quarter of the timeout, and Redis drops a node from the live ones
    /// half the timeout after its last: a dead node's users are lost everywhere within
    /// `--cluster-timeout` (a half, plus up to a quarter until each node's next heartbeat
    /// notices), a live node may miss one heartbeat without being taken for dead, and a dead
    /// node is missing from the live ones for a quarter of the timeout at least before its id's
    /// claim ends and a new process may take it, so every node notices it went.
    fn heartbeat(&mut self) {
        let key = node_key(self.id);
        let ttl = self.timeout.as_millis().to_string();
        let gone_after = (self.timeout / 2).as_millis().to_string();
        let node = self.id.to_string();
        let tag = self.tag(Pending::Heartbeat);
        let sent = self.link.send_control(
            &[
                b"EVAL",
                HEARTBEAT_SCRIPT.as_bytes(),
                b"2",
                key.as_bytes(),
                SEEN_KEY.as_bytes(),
                self.secret.as_bytes(),
                ttl.as_bytes(),
                gone_after.as_bytes(),
                node.as_bytes(),
            ],
            tag,
        );
        if sent.is_err() {
            self.pending.remove(&tag);
        }
    }

    /// Writes this node's count of connected users and reads every node's (after the
    /// heartbeat, whose answer says which nodes are live).
    fn tell_online(&mut self, here: usize) {
        let (node, here) = (self.id.to_string(), here.to_string());
        let key = ONLINE_KEY.as_bytes();
        let _ = self
            .link
            .send_control(&[b"HSET", key, node.as_bytes(), here.as_bytes()], IGNORED);
        let tag = self.tag(Pending::Online);
        if self.link.send_control(&[b"HGETALL", key], tag).is_err() {
            self.pending.remove(&tag);
        }
    }

    /// Every node's count of connected users: the live other nodes' are summed for the chat
    /// core; a gone node's is removed.
    fn online_replied(&mut self, reply: BytesFrame, to_chat: &mut Vec<ToChat>) {
        let BytesFrame::Map { data, .. } = reply else {
            return;
        };
        let mut elsewhere = 0usize;
        for (field, value) in &data {
            let (Some(node), Some(count)) = (
                field.as_str().and_then(|f| f.parse::<u16>().ok()),
                value.as_str().and_then(|v| v.parse::<usize>().ok()),
            ) else {
                continue;
            };
            if self.live.contains(&node) {
                elsewhere += count;
            } else if self.gone.contains(&node) {
                let node = node.to_string();
                let _ = self
                    .link
                    .send_control(&[b"HDEL", ONLINE_KEY.as_bytes(), node.as_bytes()], IGNORED);
            }
        }
        to_chat.push(ToChat::OnlineElsewhere(elsewhere));
    }

    /// Writes what was queued this turn.
    pub fn flush(
        &mut self,
        registry: &mio::Registry,
        now: Instant,
        wall: UnixMillis,
        local: &dyn Local,
        to_chat: &mut Vec<ToChat>,
    ) {
        let mut events = std::mem::take(&mut self.link_events);
        self.link.flush(registry, now, &mut events);
        self.handle(&mut events, now, wall, local, to_chat);
        self.link_events = events;
    }

    fn handle(
        &mut self,
        events: &mut Vec<LinkEvent>,
        now: Instant,
        wall: UnixMillis,
        local: &dyn Local,
        to_chat: &mut Vec<ToChat>,
    ) {
        to_chat.append(&mut self.answered);
        for event in events.drain(..) {
            match event {
                LinkEvent::Up => {
                    log::info!(redis:% = self.link.url(), node = self.id; "cluster link up");
                    if self.down_told {
                        to_chat.push(ToChat::LinkChanged { up: true });
                        self.down_told = false;
                    }
                    self.was_up = true;
                    self.resync(&local.rooms(), now);
                    self.tell_online(local.online());
                    self.listed_since_up = true;
                    // The other nodes' heartbeats were out of sight while the link was down,
                    // and after a restart of Redis they are not in its list until they
                    // reconnect: none is judged gone for half the timeout.
                    self.judge_after = now + self.timeout / 2;
                }
                LinkEvent::Down { error, retry_at } => {
                    let retry_ms = retry_at.saturating_duration_since(now).as_millis() as u64;
                    log::warn!(
                        redis:% = self.link.url(), error:% = error, retry_ms = retry_ms;
                        "cluster link down"
                    );
                    self.heartbeat_sent = None;
                    // What was awaited is lost with the connection: a login waiting for its
                    // claim, a whisper waiting for its target, are answered as for a link
                    // that is down, rather than never.
                    for (_, pending) in self.pending.drain() {
                        match pending {
                            Pending::Claim {
                                conn, claim, key, ..
                            }
                            | Pending::TakeOver {
                                conn, claim, key, ..
                            } => to_chat.push(ToChat::Claimed {
                                conn,
                                claim,
                                key,
                                answer: ClaimAnswer::Unavailable,
                            }),
                            Pending::Route { conn, routed } => {
                                to_chat.push(routed.answer(conn, None));
                            }
                            Pending::Members { .. }
                            | Pending::Heartbeat
                            | Pending::Refresh
                            | Pending::Shared
                            | Pending::Online
                            | Pending::RoomsOf { .. }
                            | Pending::RoomCount { .. }
                            | Pending::HandOver { .. } => {}
                        }
                    }
                    self.moves_lost(to_chat);
                    self.listings_lost(to_chat);
                    if self.was_up && !self.down_told {
                        to_chat.push(ToChat::LinkChanged { up: false });
                        self.down_told = true;
                    }
                }
                LinkEvent::Reply { tag, reply } => {
                    self.reply(tag, reply, now, wall, local, to_chat);
                }
                LinkEvent::Message { payload, .. } => self.message(&payload, wall, to_chat),
                LinkEvent::Push(_) => {}
            }
        }
    }

    fn reply(
        &mut self,
        tag: u64,
        reply: BytesFrame,
        now: Instant,
        wall: UnixMillis,
        local: &dyn Local,
        to_chat: &mut Vec<ToChat>,
    ) {
        let Some(pending) = self.pending.remove(&tag) else {
            if let BytesFrame::SimpleError { data, .. } = &reply {
                log::warn!(error:% = data; "Redis refused a cluster command");
            }
            return;
        };
        if matches!(pending, Pending::Heartbeat) {
            self.heartbeat_sent = None; // answered: the link is alive
        }
        match pending {
            Pending::Heartbeat => match reply {
                BytesFrame::Number { data: -1, .. } => {
                    log::error!(node = self.id; "another node holds this node's id now");
                    to_chat.push(ToChat::IdLost);
                }
                BytesFrame::Array { data, .. } => {
                    let known = matches!(data.first(), Some(BytesFrame::Number { data: 1, .. }));
                    let live: Vec<u16> = data
                        .iter()
                        .skip(1)
                        .filter_map(|f| f.as_str().and_then(|v| v.parse().ok()))
                        .filter(|&n| n != self.id)
                        .collect();
                    self.nodes_seen(&live, now, to_chat);
                    if !known && !self.listed_since_up {
                        // Redis had lost this node (it restarted, or the node missed its
                        // heartbeats): the others may have dropped its users, so they are
                        // listed again.
                        log::warn!(node = self.id; "Redis had lost this node: listing its users again");
                        self.resync(&local.rooms(), now);
                    }
                    self.listed_since_up = false;
                }
                other => log::warn!(reply:? = other; "an unexpected answer to the heartbeat"),
            },
            Pending::Claim {
                conn,
                claim,
                key,
                value,
                resume,
            } => self.claim_replied(conn, claim, key, value, resume, &reply, to_chat),
            Pending::HandOver {
                to,
                serial,
                key,
                value,
                resume_hash,
            } => self.handed_over(to, serial, key, value, resume_hash, &reply, to_chat),
            Pending::TakeOver {
                conn,
                claim,
                key,
                value,
                holder,
            } => self.take_over_replied(conn, claim, key, value, holder, &reply, to_chat),
            Pending::Route { conn, routed } => {
                let answer = self.routed(conn, routed, &reply);
                to_chat.push(answer);
            }
            Pending::Shared => self.shared_replied(reply, wall, to_chat),
            Pending::Online => self.online_replied(reply, to_chat),
            Pending::RoomsOf { listing } => self.rooms_of_replied(listing, &reply, to_chat),
            Pending::RoomCount { listing, room } => {
                self.room_count_replied(listing, &room, &reply, to_chat);
            }
            Pending::Refresh => self.refresh_replied(&reply, to_chat),
            Pending::Members { room, resync } => {
                let BytesFrame::Map { data, .. } = reply else {
                    return;
                };
                let room_members = RoomKeys::of(&room).members;
                let mut members = Vec::with_capacity(data.len());
                let mut ours = Vec::new();
                for (field, value) in data {
                    let (Some(nick), Some(node)) = (
                        field.as_str(),
                        value.as_str().and_then(|v| v.parse::<u16>().ok()),
                    ) else {
                        continue;
                    };
                    if node == self.id {
                        ours.push(Arc::from(nick));
                    } else if self.gone.contains(&node) {
                        // A gone node's field: nobody is there; tidy it up.
                        let _ = self
                            .link
                            .send(&[b"HDEL", &room_members, nick.as_bytes()], IGNORED);
                    } else {
                        members.push((Arc::from(nick), node));
                    }
                }
                to_chat.push(ToChat::Members {
                    room: room.clone(),
                    members,
                });
                if resync {
                    to_chat.push(ToChat::Relist { room, ours });
                }
            }
        }
    }

    /// The heartbeat's list of live nodes (those Redis saw within half the timeout). A node
    /// that was in it and is not any more is gone; a gone node back in it (it was only cut
    /// off) has its users read again.
    fn nodes_seen(&mut self, live: &[u16], now: Instant, to_chat: &mut Vec<ToChat>) {
        let mut returned = false;
        for &node in live {
            returned |= self.gone.remove(&node);
        }
        if now >= self.judge_after {
            let mut gone: Vec<u16> = self
                .live
                .iter()
                .filter(|node| !live.contains(node))
                .copied()
                .collect();
            if !gone.is_empty() {
                gone.sort_unstable();
                log::warn!(nodes:? = gone; "cluster nodes gone (no heartbeat)");
                self.gone.extend(gone.iter().copied());
                to_chat.push(ToChat::NodesGone(gone));
            }
            self.live.clear();
        }
        // Until judged, a node missing now stays among those expected back.
        self.live.extend(live.iter().copied());
        if returned {
            let rooms: Vec<RoomKeys> = self.rooms.values().map(|k| RoomKeys::of(&k.room)).collect();
            for keys in rooms {
                self.read_members(&keys, false);
            }
        }
    }

    /// Removes a gone node's users from `room`'s members in Redis (every node that had them in
    /// a room does it; removing twice is harmless).
    pub fn forget_members(&mut self, room: &str, nicks: &[Arc<str>]) {
        let members = RoomKeys::of(&Arc::from(room)).members;
        for nick in nicks {
            let _ = self
                .link
                .send_control(&[b"HDEL", &members, nick.as_bytes()], IGNORED);
        }
    }

    fn message(&mut self, payload: &[u8], wall: UnixMillis, to_chat: &mut Vec<ToChat>) {
        if wire::origin(payload) == Some(self.id) {
            return; // this node's own, back from its subscription: not even decoded
        }
        match wire::decode(payload) {
            // This node's own, back from its subscription.
            Ok(received) if received.node() == self.id => {}
            Ok(Received::Whisper { node, event }) => to_chat.push(ToChat::Whisper { node, event }),
            Ok(Received::WhoisAsked {
                node,
                asker,
                target,
            }) => to_chat.push(ToChat::WhoisAsked {
                node,
                asker,
                target,
            }),
            Ok(Received::Reply { to, event, .. }) => to_chat.push(ToChat::Replied { to, event }),
            Ok(Received::Invite {
                node,
                from,
                target,
                room,
            }) => to_chat.push(ToChat::Invited {
                node,
                from,
                target,
                room,
            }),
            Ok(Received::Kick { node, kick }) => to_chat.push(ToChat::Kick { node, kick }),
            Ok(Received::Told { to, event, .. }) => to_chat.push(ToChat::Told { to, event }),
            Ok(Received::Shared { change, .. }) => to_chat.push(ToChat::Shared(vec![change])),
            Ok(Received::MoveAsked {
                node,
                serial,
                key,
                resume_hash,
                value,
            }) => to_chat.push(ToChat::MoveAsked {
                node,
                serial,
                key,
                resume_hash,
                value,
            }),
            Ok(Received::MoveAnswered {
                node,
                serial,
                session,
            }) => self.move_answered(node, serial, session, to_chat),
            Ok(Received::RoomEvent { node, event }) => {
                self.stats.received += 1;
                if let Some(at) = event.at() {
                    self.stats.lag_ms_sum += wall.saturating_sub(at);
                }
                to_chat.push(ToChat::Event { node, event });
            }
            Ok(Received::MembersListed { room, .. }) => {
                if let Some(keys) = self.rooms.get(&room_key(&room)) {
                    let keys = RoomKeys::of(&keys.room);
                    self.read_members(&keys, false);
                }
            }
            Err(Skipped::Unknown) => self.stats.skipped += 1,
            Err(Skipped::Damaged(why)) => {
                self.stats.skipped += 1;
                log::debug!(error:% = why; "a damaged cluster message");
            }
        }
    }
}

/// Writes the membership change a room event makes (a join, a departure, a rename) to the
/// room's members, then publishes the encoded event on the room's channel. (A free function: it borrows
/// the node's link and a room's names at once.)
fn publish_to(
    link: &mut Link,
    stats: &mut ClusterStats,
    node: &str,
    keys: &RoomKeys,
    event: &Event,
    encoded: &[u8],
) {
    // The members first: a node that opens the room between the two reads the hash after the
    // write and gets the event after its subscription, so it sees the change once, whatever
    // the interleaving. Members are state, written whatever the queue holds.
    let (members, node) = (&keys.members, node.as_bytes());
    match event {
        Event::Joined { nick, .. } | Event::Reconnected { nick, .. } => {
            let _ = link.send_control(&[b"HSET", members, nick.as_bytes(), node], IGNORED);
        }
        Event::Left { nick, .. } => {
            let _ = link.send_control(&[b"HDEL", members, nick.as_bytes()], IGNORED);
        }
        Event::Renamed { old, new, .. } => {
            let _ = link.send_control(&[b"HDEL", members, old.as_bytes()], IGNORED);
            let _ = link.send_control(&[b"HSET", members, new.as_bytes(), node], IGNORED);
        }
        _ => {}
    }
    if link
        .send(&[b"SPUBLISH", &keys.channel, encoded], IGNORED)
        .is_err()
    {
        stats.dropped += 1;
        return;
    }
    stats.published += 1;
}

#[cfg(test)]
mod tests {
    use super::shared_field;
    use crate::chat::kept::{Kept, KeptTopic};

    #[test]
    fn a_revocation_stays_in_the_shared_hash_and_what_is_left_of_a_topic_goes() {
        let revoked = Kept::GrantRevoked {
            nick_key: "alice".into(),
        };
        // Kept as the revocation, for a node whose link was down when it happened.
        assert_eq!(shared_field(&revoked), Some(("grant:alice".into(), false)));
        let topic = |topic: Option<(&str, &str)>, locked| {
            Kept::Topic(KeptTopic {
                room: "den".into(),
                name: "Den".into(),
                topic: topic.map(|(t, by)| (t.into(), by.into())),
                locked,
                changed: 1,
            })
        };
        assert_eq!(
            shared_field(&topic(Some(("plans", "bob")), false)),
            Some(("topic:den".into(), false))
        );
        assert_eq!(
            shared_field(&topic(None, true)),
            Some(("topic:den".into(), false))
        );
        assert_eq!(
            shared_field(&topic(None, false)),
            Some(("topic:den".into(), true))
        );
        let forgotten = Kept::TopicForgotten { room: "den".into() };
        assert_eq!(shared_field(&forgotten), Some(("topic:den".into(), true)));
        let moved = Kept::GrantMoved {
            from: "a".into(),
            to: "b".into(),
        };
        assert_eq!(shared_field(&moved), None);
    }
}
