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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_protocol::resp3::types::{BytesFrame, Resp3Frame};

use super::redis::{Link, LinkEvent, LinkLimits, RedisUrl};
use crate::chat::cluster::claims::ClaimAnswer;
use crate::chat::cluster::RoomChange;
use crate::chat::event::Event;
use crate::chat::room_key;
use crate::chat::ConnId;
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

/// Refreshes this node's nickname claims (KEYS), taking again those that expired (a Redis
/// restart), and answers with the keys another node holds now. ARGV: the claims' time to live,
/// this node's prefix of a claim's value (`"N "`), then each key's value.
const REFRESH_CLAIMS_SCRIPT: &str = "\
local lost = {} \
for i, key in ipairs(KEYS) do \
  local held = redis.call('GET', key) \
  if not held then redis.call('SET', key, ARGV[i + 2], 'PX', ARGV[1]) \
  elseif string.sub(held, 1, #ARGV[2]) == ARGV[2] then redis.call('PEXPIRE', key, ARGV[1]) \
  else table.insert(lost, key) end \
end \
return lost";

/// Deletes a nickname claim if this node holds it (ARGV: its prefix of a claim's value).
const RELEASE_CLAIM_SCRIPT: &str = "\
local held = redis.call('GET', KEYS[1]) \
if held and string.sub(held, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end \
return 0";

/// Claims refreshed by one script call: a node with many users sends several.
const REFRESH_BATCH: usize = 256;

/// The channel of whispers to node `node`'s users.
fn direct_channel(node: u16) -> String {
    format!("rc:{{node:{node}}}:direct")
}

/// The key of a nickname's claim, by its collision key.
pub fn nick_key(key: &str) -> String {
    format!("rc:nick:{key}")
}

/// The set of live nodes, scored by when each was last seen.
const SEEN_KEY: &str = "rc:{nodes}:seen";

/// The key of node id `node`'s claim.
pub fn node_key(node: u16) -> String {
    format!("rc:{{nodes}}:node:{node}")
}

/// What the node asks of this node's chat core.
pub trait Local {
    /// Every room with local members, and the names of its live local members.
    fn rooms(&self) -> Vec<(Arc<str>, Vec<Arc<str>>)>;
    /// The collision key and name of every session here, live or held.
    fn claimed(&self) -> Vec<(String, Arc<str>)>;
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
    /// A whisper another node routed here.
    Whisper(Event),
    /// The link went down (`false`, once an outage) or came back (`true`).
    LinkChanged { up: bool },
    /// Another node holds this node's id now: this node must stop, its ids are no longer unique.
    IdLost,
    /// These nodes missed their heartbeats: their users are gone.
    NodesGone(Vec<u16>),
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
    },
    Refresh,
    WhisperTarget {
        conn: ConnId,
        whisper: Event,
    },
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
    /// The other nodes, and when this node last saw them among the live ones (by its own
    /// clock, and only while its link was up: an outage of its own says nothing of them).
    last_seen: HashMap<u16, Instant>,
    /// Nodes found gone and not seen since: their fields in a room's members are stale.
    gone: HashSet<u16>,
    /// Every room was listed again when the link came up: the first heartbeat, which finds
    /// Redis without this node if Redis restarted, need not list them once more.
    listed_since_up: bool,
    /// Users were told the link is down: they are told once per outage, however many attempts
    /// to reconnect fail, and told again when it is back.
    down_told: bool,
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
            last_seen: HashMap::new(),
            gone: HashSet::new(),
            listed_since_up: false,
            answered: Vec::new(),
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
                }
                self.rooms.insert(key, keys);
            } else if let Some(keys) = self.rooms.remove(&key) {
                if self.link.is_up() {
                    let _ = self.link.send(&[b"SUNSUBSCRIBE", &keys.channel], IGNORED);
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
        let Some(keys) = self.rooms.get(&room_key(room)) else {
            return;
        };
        let (channel, members) = (keys.channel.clone(), keys.members.clone());
        for nick in stale {
            let _ = self
                .link
                .send(&[b"HDEL", &members, nick.as_bytes()], IGNORED);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        wire::encode_members_listed(self.id, room, &mut buf);
        let _ = self.link.send(&[b"SPUBLISH", &channel, &buf], IGNORED);
        self.buf = buf;
    }

    /// Claims a nickname for `conn` (`key` its collision key); the answer comes as
    /// [`ToChat::Claimed`]. A claim holds the node's id and the name as spelled.
    pub fn claim(&mut self, conn: ConnId, claim: u64, key: String, nick: &str) {
        if !self.link.is_up() {
            self.answered.push(ToChat::Claimed {
                conn,
                claim,
                key,
                answer: ClaimAnswer::Unavailable,
            });
            return;
        }
        let redis_key = nick_key(&key);
        let value = format!("{} {nick}", self.id);
        let ttl = self.claim_ttl.as_millis().to_string();
        let tag = self.tag(Pending::Claim { conn, claim, key });
        let command: [&[u8]; 7] = [
            b"SET",
            redis_key.as_bytes(),
            value.as_bytes(),
            b"NX",
            b"GET",
            b"PX",
            ttl.as_bytes(),
        ];
        if self.link.send(&command, tag).is_err() {
            if let Some(Pending::Claim { conn, claim, key }) = self.pending.remove(&tag) {
                self.answered.push(ToChat::Claimed {
                    conn,
                    claim,
                    key,
                    answer: ClaimAnswer::Unavailable,
                });
            }
        }
    }

    /// Sends a whisper to the node that holds its target's name (`key` its collision key):
    /// the claim says which node, then the whisper goes to that node's channel.
    pub fn whisper(&mut self, conn: ConnId, key: &str, whisper: Event) {
        if !self.link.is_up() {
            // Nobody can be found while the link is down: as for a name nobody holds.
            self.answered.push(ToChat::WhisperRouted {
                conn,
                whisper,
                holder: None,
            });
            return;
        }
        let redis_key = nick_key(key);
        let tag = self.tag(Pending::WhisperTarget { conn, whisper });
        if self
            .link
            .send(&[b"GET", redis_key.as_bytes()], tag)
            .is_err()
        {
            if let Some(Pending::WhisperTarget { conn, whisper }) = self.pending.remove(&tag) {
                self.answered.push(ToChat::WhisperRouted {
                    conn,
                    whisper,
                    holder: None,
                });
            }
        }
    }

    /// Lets a name go (its session ended, or moved to another name).
    pub fn release(&mut self, key: &str) {
        let prefix = format!("{} ", self.id);
        let redis_key = nick_key(key);
        let _ = self.link.send(
            &[
                b"EVAL",
                RELEASE_CLAIM_SCRIPT.as_bytes(),
                b"1",
                redis_key.as_bytes(),
                prefix.as_bytes(),
            ],
            IGNORED,
        );
    }

    /// Keeps every local session's claim alive (with the heartbeat).
    fn refresh_claims(&mut self, claimed: &[(String, Arc<str>)]) {
        let ttl = self.claim_ttl.as_millis().to_string();
        let prefix = format!("{} ", self.id);
        for batch in claimed.chunks(REFRESH_BATCH) {
            let keys: Vec<String> = batch.iter().map(|(k, _)| nick_key(k)).collect();
            let values: Vec<String> = batch
                .iter()
                .map(|(_, nick)| format!("{} {nick}", self.id))
                .collect();
            let count = batch.len().to_string();
            let mut args: Vec<&[u8]> =
                vec![b"EVAL", REFRESH_CLAIMS_SCRIPT.as_bytes(), count.as_bytes()];
            args.extend(keys.iter().map(|k| k.as_bytes()));
            args.push(ttl.as_bytes());
            args.push(prefix.as_bytes());
            args.extend(values.iter().map(|v| v.as_bytes()));
            let tag = self.tag(Pending::Refresh);
            if self.link.send(&args, tag).is_err() {
                self.pending.remove(&tag);
            }
        }
    }

    /// The link came up: every room is subscribed and listed again (`local_rooms`: each room's
    /// live local members), and the claim refreshed.
    fn resync(&mut self, local_rooms: &[(Arc<str>, Vec<Arc<str>>)], now: Instant) {
        self.next_heartbeat = Some(now);
        let direct = direct_channel(self.id);
        let _ = self.link.send(&[b"SSUBSCRIBE", direct.as_bytes()], IGNORED);
        for (room, nicks) in local_rooms {
            let keys = RoomKeys::of(room);
            self.subscribe(&keys, nicks, true);
            self.rooms.insert(room_key(room), keys);
        }
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
        match (self.link.deadline(), heartbeat) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
        if self.link.is_up() && self.next_heartbeat.is_some_and(|at| at <= now) {
            self.heartbeat();
            self.refresh_claims(&local.claimed());
            self.next_heartbeat = Some(now + self.timeout / 4);
        }
    }

    /// Heartbeats come every quarter of the timeout, and a node missing for three quarters of
    /// it counts as gone: a dead node's users are lost everywhere within `--cluster-timeout`
    /// (three quarters, plus up to a quarter until the next node's heartbeat notices), while a
    /// live node may miss two heartbeats in a row without being taken for dead.
    fn heartbeat(&mut self) {
        let key = node_key(self.id);
        let ttl = self.timeout.as_millis().to_string();
        let gone_after = (self.timeout * 3 / 4).as_millis().to_string();
        let node = self.id.to_string();
        let tag = self.tag(Pending::Heartbeat);
        let sent = self.link.send(
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
                    self.listed_since_up = true;
                    // The other nodes' heartbeats were out of sight while the link was down:
                    // they count from now.
                    for seen in self.last_seen.values_mut() {
                        *seen = now;
                    }
                }
                LinkEvent::Down { error, retry_at } => {
                    let retry_ms = retry_at.saturating_duration_since(now).as_millis() as u64;
                    log::warn!(
                        redis:% = self.link.url(), error:% = error, retry_ms = retry_ms;
                        "cluster link down"
                    );
                    self.pending.clear();
                    if self.was_up && !self.down_told {
                        to_chat.push(ToChat::LinkChanged { up: false });
                        self.down_told = true;
                    }
                }
                LinkEvent::Reply { tag, reply } => {
                    self.reply(tag, reply, now, local, to_chat);
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
        local: &dyn Local,
        to_chat: &mut Vec<ToChat>,
    ) {
        let Some(pending) = self.pending.remove(&tag) else {
            if let BytesFrame::SimpleError { data, .. } = &reply {
                log::warn!(error:% = data; "Redis refused a cluster command");
            }
            return;
        };
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
            Pending::Claim { conn, claim, key } => {
                let answer = match &reply {
                    BytesFrame::Null => ClaimAnswer::Granted,
                    BytesFrame::BlobString { data, .. } => {
                        let held = String::from_utf8_lossy(data);
                        let (node, holder) = held.split_once(' ').unwrap_or(("", &held));
                        if node == self.id.to_string() {
                            // This node's own claim, left from a session that ended before
                            // its release went out (the link dropped): the new session
                            // takes it.
                            let value = format!("{} {}", self.id, holder);
                            let ttl = self.claim_ttl.as_millis().to_string();
                            let _ = self.link.send(
                                &[
                                    b"SET",
                                    nick_key(&key).as_bytes(),
                                    value.as_bytes(),
                                    b"PX",
                                    ttl.as_bytes(),
                                ],
                                IGNORED,
                            );
                            ClaimAnswer::Granted
                        } else {
                            ClaimAnswer::Taken {
                                holder: Arc::from(holder),
                            }
                        }
                    }
                    other => {
                        log::warn!(reply:? = other; "Redis refused a nickname claim");
                        ClaimAnswer::Unavailable
                    }
                };
                to_chat.push(ToChat::Claimed {
                    conn,
                    claim,
                    key,
                    answer,
                });
            }
            Pending::WhisperTarget { conn, whisper } => {
                let holder = match &reply {
                    BytesFrame::BlobString { data, .. } => {
                        let held = String::from_utf8_lossy(data);
                        held.split_once(' ').and_then(|(node, nick)| {
                            let node: u16 = node.parse().ok()?;
                            (node != self.id).then(|| (node, Arc::<str>::from(nick)))
                        })
                    }
                    _ => None,
                };
                let holder = holder.map(|(node, nick)| {
                    let mut buf = std::mem::take(&mut self.buf);
                    buf.clear();
                    wire::encode_whisper(self.id, &whisper, &mut buf);
                    let channel = direct_channel(node);
                    let _ = self
                        .link
                        .send(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED);
                    self.buf = buf;
                    nick
                });
                to_chat.push(ToChat::WhisperRouted {
                    conn,
                    whisper,
                    holder,
                });
            }
            Pending::Refresh => {
                if let BytesFrame::Array { data, .. } = reply {
                    if !data.is_empty() {
                        // Names another node claimed while this node's claims had lapsed (a
                        // partition longer than the claims' lifetime).
                        self.stats.claim_conflicts += data.len() as u64;
                        let keys: Vec<&str> = data.iter().filter_map(|f| f.as_str()).collect();
                        log::warn!(keys:? = keys; "nicknames held here are claimed by another node");
                    }
                }
            }
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

    /// The heartbeat's list of live nodes. A node not in it for three quarters of the timeout
    /// is gone; a gone node back in it (it was only cut off) has its users read again.
    fn nodes_seen(&mut self, live: &[u16], now: Instant, to_chat: &mut Vec<ToChat>) {
        let mut returned = false;
        for &node in live {
            self.last_seen.insert(node, now);
            returned |= self.gone.remove(&node);
        }
        let limit = self.timeout * 3 / 4;
        let mut gone: Vec<u16> = self
            .last_seen
            .iter()
            .filter(|&(_, &seen)| now.saturating_duration_since(seen) >= limit)
            .map(|(&node, _)| node)
            .collect();
        if !gone.is_empty() {
            gone.sort_unstable();
            log::warn!(nodes:? = gone; "cluster nodes gone (no heartbeat)");
            for node in &gone {
                self.last_seen.remove(node);
                self.gone.insert(*node);
            }
            to_chat.push(ToChat::NodesGone(gone));
        }
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
                .send(&[b"HDEL", &members, nick.as_bytes()], IGNORED);
        }
    }

    fn message(&mut self, payload: &[u8], wall: UnixMillis, to_chat: &mut Vec<ToChat>) {
        if wire::origin(payload) == Some(self.id) {
            return; // this node's own, back from its subscription: not even decoded
        }
        match wire::decode(payload) {
            Ok(
                Received::RoomEvent { node, .. }
                | Received::MembersListed { node, .. }
                | Received::Whisper { node, .. },
            ) if node == self.id => {} // this node's own, back from its subscription
            Ok(Received::Whisper { event, .. }) => to_chat.push(ToChat::Whisper(event)),
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

/// Publishes an encoded room event on its room's channel, and writes the membership change it
/// makes (a join, a departure, a rename) to the room's members. (A free function: it borrows
/// the node's link and a room's names at once.)
fn publish_to(
    link: &mut Link,
    stats: &mut ClusterStats,
    node: &str,
    keys: &RoomKeys,
    event: &Event,
    encoded: &[u8],
) {
    if link
        .send(&[b"SPUBLISH", &keys.channel, encoded], IGNORED)
        .is_err()
    {
        stats.dropped += 1;
        return;
    }
    stats.published += 1;
    let (members, node) = (&keys.members, node.as_bytes());
    match event {
        Event::Joined { nick, .. } | Event::Reconnected { nick, .. } => {
            let _ = link.send(&[b"HSET", members, nick.as_bytes(), node], IGNORED);
        }
        Event::Left { nick, .. } => {
            let _ = link.send(&[b"HDEL", members, nick.as_bytes()], IGNORED);
        }
        Event::Renamed { old, new, .. } => {
            let _ = link.send(&[b"HDEL", members, old.as_bytes()], IGNORED);
            let _ = link.send(&[b"HSET", members, new.as_bytes(), node], IGNORED);
        }
        _ => {}
    }
}
