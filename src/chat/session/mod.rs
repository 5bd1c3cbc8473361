//! Sessions: who is logged in, under which nickname, on which connection, and who is held for a
//! reconnect.
//!
//! A *session* is a logged-in user. It outlives its connection for the reconnect grace period:
//! while held, its nickname stays reserved and what its rooms say is kept for replay. The
//! connection table maps every connection the core knows (logged in or not) to its address and
//! session. [`login`] turns a connection's first line into a session (new, resumed or refused);
//! [`leave`] ends sessions and holds lost ones.

mod leave;
mod login;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use slab::Slab;
use smallvec::SmallVec;

use super::event::Event;
use super::nick;
use super::room::recent;
use super::settings::ChatSettings;
use super::{ConnId, RoomId, SessionId, UnixMillis};

/// A session's place in one room: the room, and where the session is in its member list (kept
/// by `Rooms`, which owns the lists, so that leaving a room is O(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub room: RoomId,
    pub(in crate::chat) slot: usize,
}

/// A logged-in user.
#[derive(Debug)]
pub struct Session {
    uid: u64,
    nick: Arc<str>,
    /// The nickname's collision key (see `nick::collision_key`).
    key: String,
    resume_key: Arc<str>,
    /// The rooms the session is in; the first is the one its plain lines go to. Inline for the
    /// usual one room, so a session costs no allocation for it.
    rooms: SmallVec<[Membership; 1]>,
    /// The live connection, or `None` while held for a reconnect.
    conn: Option<ConnId>,
    /// The address of the last connection: a reconnect by name alone must come from it.
    ip: IpAddr,
    /// Boxed: most sessions are never held, and every session would carry its size.
    held: Option<Box<Held>>,
    /// Bumped whenever the session is resumed, so a stale grace timer is ignored.
    generation: u64,
    op: bool,
    away: Option<Arc<str>>,
    /// When the user last typed a line, for `/whois` idle time.
    last_active: Instant,
    /// When the session began (its first login), for WHOIS's signon time.
    since: UnixMillis,
    /// Its protocol lets it sit in several rooms at once, and in none (IRC): a join keeps its
    /// other rooms and a part leaves one. Line-protocol and browser sessions are always in
    /// exactly one room, their current one. Follows the protocol of the connection it last
    /// logged in or resumed from.
    keeps_rooms: bool,
}

impl Session {
    /// Unique for the server's lifetime: what schedules, offers and invitations remember their
    /// users by (session ids are reused).
    pub fn uid(&self) -> u64 {
        self.uid
    }

    pub fn nick(&self) -> &Arc<str> {
        &self.nick
    }

    /// The room the session's plain lines go to: its first. Commands that act on the current
    /// room only run for a session in one (a session that keeps rooms may be in none: see
    /// [`Session::current_room`]).
    pub fn room(&self) -> RoomId {
        self.rooms[0].room
    }

    /// The current room, if the session is in any.
    pub fn current_room(&self) -> Option<RoomId> {
        self.rooms.first().map(|m| m.room)
    }

    /// Whether it is in `room`.
    pub fn is_in(&self, room: RoomId) -> bool {
        self.rooms.iter().any(|m| m.room == room)
    }

    /// Whether its protocol lets it sit in several rooms (and in none).
    pub fn keeps_rooms(&self) -> bool {
        self.keeps_rooms
    }

    pub(in crate::chat) fn set_keeps_rooms(&mut self, keeps: bool) {
        self.keeps_rooms = keeps;
    }

    /// Makes `room`, one of its rooms, its current one (the room a command without one acts on).
    pub(in crate::chat) fn focus(&mut self, room: RoomId) {
        if let Some(at) = self.rooms.iter().position(|m| m.room == room) {
            self.rooms[..=at].rotate_right(1);
        }
    }

    /// Every room the session is in, the current one first.
    pub fn memberships(&self) -> &[Membership] {
        &self.rooms
    }

    pub(super) fn memberships_mut(&mut self) -> &mut SmallVec<[Membership; 1]> {
        &mut self.rooms
    }

    /// The live connection, `None` while the session is held for a reconnect.
    pub fn conn(&self) -> Option<ConnId> {
        self.conn
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Seconds left of the reconnect grace, for a held session.
    pub fn held_secs_left(&self, now: Instant) -> Option<u64> {
        let held = self.held.as_ref()?;
        Some(held.until.saturating_duration_since(now).as_secs().max(1))
    }

    pub fn is_op(&self) -> bool {
        self.op
    }

    pub fn make_op(&mut self) {
        self.op = true;
    }

    pub fn away(&self) -> Option<&Arc<str>> {
        self.away.as_ref()
    }

    pub fn set_away(&mut self, message: Option<Arc<str>>) {
        self.away = message;
    }

    pub fn last_active(&self) -> Instant {
        self.last_active
    }

    /// When the session began.
    pub fn since(&self) -> UnixMillis {
        self.since
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The secret that resumes the session (and, for an operator, is what its grant keeps a
    /// hash of).
    pub fn resume_key(&self) -> &str {
        &self.resume_key
    }

    /// The nickname's collision key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Delivers to the session alone: to its connection if live, into its own kept lines if held
    /// (bounded by `keep`, oldest dropped first). Returns false if it could not be delivered.
    pub fn deliver(&mut self, event: Event, keep: KeepOwn, out: &mut super::Outbox) -> bool {
        if let Some(conn) = self.conn {
            out.send(conn, event);
            true
        } else if let Some(held) = &mut self.held {
            held.keep_own(event, keep);
            true
        } else {
            false
        }
    }
}

/// How a held session keeps a line said to it alone: its place in the delivery order, and the
/// limits on what one held session keeps (`--replay-max` lines, `--held-own-bytes`).
#[derive(Debug, Clone, Copy)]
pub struct KeepOwn {
    pub order: u64,
    pub lines: usize,
    pub bytes: usize,
}

/// What a held session keeps for its return. Its rooms' lines are not copied: it keeps where each
/// room's recent lines stood when it was lost, and its replay reads what came after from the
/// rooms. Only what was said to it alone (whispers, invitations) is its own.
#[derive(Debug)]
pub(in crate::chat) struct Held {
    until: Instant,
    /// Each room's recent-lines position when the session was lost.
    pub(in crate::chat) since: SmallVec<[(RoomId, u64); 1]>,
    /// Lines said to the session alone, with their place in the delivery order.
    pub(in crate::chat) own: VecDeque<(u64, Event)>,
    own_bytes: usize,
    /// Own lines missed in all, kept or not.
    pub(in crate::chat) own_total: usize,
}

impl Held {
    /// Keeps a line said to the session alone, dropping the oldest beyond the limits.
    fn keep_own(&mut self, event: Event, keep: KeepOwn) {
        self.own_total += 1;
        if keep.lines == 0 {
            return;
        }
        let weight = recent::weight(&event);
        while let Some((_, oldest)) = self.own.front() {
            if self.own.len() < keep.lines && self.own_bytes + weight <= keep.bytes {
                break;
            }
            self.own_bytes -= recent::weight(oldest);
            self.own.pop_front();
        }
        self.own_bytes += weight;
        self.own.push_back((keep.order, event));
    }
}

/// A session about to be made: its connection, its name, and the resume key it keeps: a new one,
/// or (an operator coming back by its grant) the one it gave.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub conn: ConnId,
    pub ip: IpAddr,
    pub nick: Arc<str>,
    /// The nickname's collision key.
    pub key: String,
    pub resume_key: Option<&'a str>,
    /// See `Session::keeps_rooms`.
    pub keeps_rooms: bool,
    /// When it logs in.
    pub at: UnixMillis,
}

/// A connection as the core knows it: where it comes from and, once logged in, its session.
#[derive(Debug, Clone, Copy)]
pub struct ConnEntry {
    pub ip: IpAddr,
    pub session: Option<SessionId>,
}

/// Every session, the nickname index, and the connection table.
#[derive(Debug, Default)]
pub struct Sessions {
    slab: Slab<Session>,
    /// Sessions by nickname collision key, live or held: a name is taken while either.
    by_key: HashMap<String, SessionId>,
    /// Sessions by their nickname exactly as spelled: what IRC's renderer looks a sender's
    /// address up by once per broadcast, where a collision key would cost a skeleton.
    by_nick: HashMap<Arc<str>, SessionId>,
    /// By connection id (the reactor's slab key, so a dense vector).
    conns: Vec<Option<ConnEntry>>,
    /// Sessions with a live connection.
    live: usize,
    /// Held sessions by the address they were lost from, oldest first (for `--max-held-per-ip`).
    held_by_ip: HashMap<IpAddr, VecDeque<SessionId>>,
    /// Held sessions in the order they were lost (for `--max-held`). Entries of sessions that
    /// have since come back or ended are left behind and skipped (each names the session's uid
    /// and generation), so a resume costs no search here; `compact_held_order` bounds them.
    held_order: VecDeque<HeldRef>,
    /// Sessions held for a reconnect.
    held: usize,
    next_uid: u64,
}

/// A held session as `Sessions::held_order` remembers it.
#[derive(Debug, Clone, Copy)]
struct HeldRef {
    sid: SessionId,
    uid: u64,
    generation: u64,
}

crate::chat::index_by_id!(Sessions, SessionId, Session);

impl Sessions {
    pub fn get(&self, sid: SessionId) -> Option<&Session> {
        self.slab.get(sid)
    }

    /// Sessions with a live connection.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Sessions held for a reconnect.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Every session, live or held.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (SessionId, &Session)> {
        self.slab.iter()
    }

    /// The session a nickname names (live or held), by its collision key.
    pub fn find(&self, nick: &str) -> Option<SessionId> {
        self.by_key.get(&nick::collision_key(nick)).copied()
    }

    /// The session holding a collision key.
    pub fn by_key(&self, key: &str) -> Option<SessionId> {
        self.by_key.get(key).copied()
    }

    /// The session with this uid, if it still exists.
    pub fn by_uid(&self, uid: u64) -> Option<&Session> {
        self.slab.iter().map(|(_, s)| s).find(|s| s.uid == uid)
    }

    /// The connection of the user with this uid, if still connected (offers and invitations
    /// outlive their senders).
    pub fn conn_of_uid(&self, uid: u64) -> Option<ConnId> {
        self.by_uid(uid).and_then(Session::conn)
    }

    /// Tells the user with this uid, if still connected (offers and invitations outlive their
    /// senders).
    pub fn tell_uid(&self, uid: u64, event: Event, out: &mut super::Outbox) {
        if let Some(conn) = self.conn_of_uid(uid) {
            out.send(conn, event);
        }
    }

    // ----- the connection table ----------------------------------------------------------------

    /// A new connection from `ip`, not logged in.
    pub fn connect(&mut self, conn: ConnId, ip: IpAddr) {
        if self.conns.len() <= conn.0 {
            self.conns.resize(conn.0 + 1, None);
        }
        self.conns[conn.0] = Some(ConnEntry { ip, session: None });
    }

    pub fn entry(&self, conn: ConnId) -> Option<ConnEntry> {
        self.conns.get(conn.0).copied().flatten()
    }

    /// The session logged in on `conn`.
    pub fn session_of(&self, conn: ConnId) -> Option<SessionId> {
        self.entry(conn).and_then(|e| e.session)
    }

    /// Forgets the connection; returns what it was.
    pub fn forget_conn(&mut self, conn: ConnId) -> Option<ConnEntry> {
        self.conns.get_mut(conn.0).and_then(Option::take)
    }

    /// The connection is closing for good (`/quit`, a kick): nothing it says counts any more, and
    /// its session no longer counts as live.
    pub fn close_conn(&mut self, conn: ConnId) {
        if let Some(slot) = self.conns.get_mut(conn.0) {
            *slot = None;
        }
        self.live -= 1;
    }

    /// Connects a session to `conn` (a login or a resume).
    fn attach(&mut self, conn: ConnId, sid: SessionId, ip: IpAddr) -> Option<Box<Held>> {
        if let Some(e) = self.conns.get_mut(conn.0).and_then(Option::as_mut) {
            e.session = Some(sid);
        }
        self.live += 1;
        let s = &mut self.slab[sid];
        let lost_from = s.ip;
        s.conn = Some(conn);
        s.ip = ip;
        s.generation += 1;
        let held = s.held.take();
        if held.is_some() {
            self.unhold(sid, lost_from);
        }
        held
    }

    /// A resume key took a live session over: its old connection lets go of it.
    pub fn detach_conn(&mut self, old: ConnId) {
        if let Some(e) = self.conns.get_mut(old.0).and_then(Option::as_mut) {
            e.session = None;
        }
        self.live -= 1;
    }

    /// Holds a session whose connection was lost, until `until`; returns the generation its grace
    /// timer must carry. Its replay positions are set by `start_replay_at` once its loss has been
    /// announced (so that its own departure is not in its replay).
    pub fn hold(&mut self, sid: SessionId, until: Instant) -> u64 {
        self.live -= 1;
        let s = &mut self.slab[sid];
        s.conn = None;
        s.held = Some(Box::new(Held {
            until,
            since: SmallVec::new(),
            own: VecDeque::new(),
            own_bytes: 0,
            own_total: 0,
        }));
        let held = HeldRef {
            sid,
            uid: s.uid,
            generation: s.generation,
        };
        self.held_by_ip.entry(s.ip).or_default().push_back(sid);
        self.held_order.push_back(held);
        self.held += 1;
        self.compact_held_order();
        held.generation
    }

    /// A held session left `room` (kicked from it): its replay no longer reads it.
    pub fn forget_replay_of(&mut self, sid: SessionId, room: RoomId) {
        if let Some(held) = &mut self.slab[sid].held {
            held.since.retain(|&mut (r, _)| r != room);
        }
    }

    /// Where a held session's replay starts in each of its rooms.
    pub fn start_replay_at(&mut self, sid: SessionId, since: SmallVec<[(RoomId, u64); 1]>) {
        if let Some(held) = &mut self.slab[sid].held {
            held.since = since;
        }
    }

    /// A held session is held no more (it came back, or it ended): the held counts forget it.
    fn unhold(&mut self, sid: SessionId, lost_from: IpAddr) {
        self.held -= 1;
        if let Some(queue) = self.held_by_ip.get_mut(&lost_from) {
            queue.retain(|&held| held != sid);
            if queue.is_empty() {
                self.held_by_ip.remove(&lost_from);
            }
        }
    }

    /// Whether a `held_order` entry still names a held session.
    fn is_current(&self, held: HeldRef) -> bool {
        self.slab.get(held.sid).is_some_and(|s| {
            s.uid == held.uid && s.generation == held.generation && s.held.is_some()
        })
    }

    /// Drops the entries of sessions that are no longer held once they outnumber the held ones,
    /// so sessions that come and go cannot grow the queue.
    fn compact_held_order(&mut self) {
        if self.held_order.len() > 2 * self.held + 64 {
            let order = std::mem::take(&mut self.held_order);
            self.held_order = order.into_iter().filter(|&h| self.is_current(h)).collect();
        }
    }

    /// The held session to end because a cap is passed: the oldest from `ip` when the address
    /// holds more than `per_ip`, else the oldest of all when more than `total` are held.
    pub fn over_held_caps(&mut self, ip: IpAddr, per_ip: usize, total: usize) -> Option<SessionId> {
        if let Some(queue) = self.held_by_ip.get(&ip) {
            if queue.len() > per_ip {
                return queue.front().copied();
            }
        }
        if self.held <= total {
            return None;
        }
        while let Some(oldest) = self.held_order.pop_front() {
            if self.is_current(oldest) {
                return Some(oldest.sid);
            }
        }
        None
    }

    /// Whether a grace timer set with `generation` still concerns a held session.
    pub fn grace_is_current(&self, sid: SessionId, generation: u64) -> bool {
        self.slab
            .get(sid)
            .is_some_and(|s| s.generation == generation && s.held.is_some())
    }

    // ----- sessions ----------------------------------------------------------------------------

    /// A new session, connected, in no room yet.
    pub fn insert(&mut self, new: NewSession<'_>, op: bool, now: Instant) -> SessionId {
        let NewSession {
            conn,
            ip,
            nick,
            key,
            resume_key,
            keeps_rooms,
            at,
        } = new;
        self.next_uid += 1;
        let sid = self.slab.insert(Session {
            uid: self.next_uid,
            op,
            away: None,
            last_active: now,
            nick,
            key: key.clone(),
            resume_key: resume_key.map_or_else(|| Arc::from(new_resume_key()), Arc::from),
            rooms: SmallVec::new(),
            conn: None,
            ip,
            held: None,
            generation: 0,
            keeps_rooms,
            since: at,
        });
        self.by_key.insert(key, sid);
        self.by_nick.insert(self.slab[sid].nick.clone(), sid);
        self.attach(conn, sid, ip);
        sid
    }

    /// The session whose nickname is exactly `nick`.
    pub fn by_nick(&self, nick: &str) -> Option<SessionId> {
        self.by_nick.get(nick).copied()
    }

    /// Removes a session for good and frees its name.
    pub fn remove(&mut self, sid: SessionId) -> Session {
        let s = self.slab.remove(sid);
        self.by_key.remove(&s.key);
        self.by_nick.remove(&s.nick);
        if s.held.is_some() {
            self.unhold(sid, s.ip);
        }
        s
    }

    /// Gives a session a new nickname (already checked to be free).
    pub fn rename(&mut self, sid: SessionId, new: Arc<str>, key: String) -> Arc<str> {
        let s = &mut self.slab[sid];
        let old = std::mem::replace(&mut s.nick, new.clone());
        let old_key = std::mem::replace(&mut s.key, key.clone());
        self.by_key.remove(&old_key);
        self.by_key.insert(key, sid);
        self.by_nick.remove(&old);
        self.by_nick.insert(new, sid);
        old
    }

    /// The user typed a line.
    pub fn touch(&mut self, sid: SessionId, now: Instant) {
        self.slab[sid].last_active = now;
    }

    /// The session's state against the invariants (for `Chat::check_invariants`).
    pub fn check(&self, settings: &ChatSettings) -> Result<(), String> {
        let mut keys = std::collections::HashSet::new();
        let mut live = 0;
        let mut held_by_ip: HashMap<IpAddr, usize> = HashMap::new();
        if self.by_nick.len() != self.slab.len() {
            return Err("the exact-nickname index has stale entries".into());
        }
        for (sid, s) in self.slab.iter() {
            if self.by_nick(&s.nick) != Some(sid) {
                return Err(format!(
                    "{} is missing from the exact-nickname index",
                    s.nick
                ));
            }
            match (s.conn, &s.held) {
                (Some(conn), None) => {
                    live += 1;
                    if self.session_of(conn) != Some(sid) {
                        return Err(format!("{}'s connection does not point back at it", s.nick));
                    }
                }
                (None, Some(held)) => {
                    *held_by_ip.entry(s.ip).or_default() += 1;
                    if held.own.len() > settings.replay_max {
                        return Err(format!("{} keeps more than --replay-max lines", s.nick));
                    }
                    let bytes: usize = held.own.iter().map(|(_, e)| recent::weight(e)).sum();
                    if bytes != held.own_bytes
                        || (bytes > settings.held_own_bytes && held.own.len() > 1)
                    {
                        return Err(format!("{} keeps {bytes} bytes of its own lines", s.nick));
                    }
                    let rooms: Vec<RoomId> = held.since.iter().map(|&(room, _)| room).collect();
                    let members: Vec<RoomId> = s.rooms.iter().map(|m| m.room).collect();
                    if rooms != members {
                        return Err(format!("{}'s replay positions are not its rooms", s.nick));
                    }
                }
                _ => return Err(format!("{} is both or neither connected and held", s.nick)),
            }
            if !keys.insert(s.key.clone()) {
                return Err(format!("two sessions share the name key of {}", s.nick));
            }
            if self.by_key.get(&s.key) != Some(&sid) {
                return Err(format!("{} is missing from the name index", s.nick));
            }
        }
        if self.by_key.len() != self.slab.len() {
            return Err("the name index has stale entries".into());
        }
        if live != self.live {
            return Err(format!(
                "{live} sessions are connected but the count says {}",
                self.live
            ));
        }
        let held: usize = held_by_ip.values().sum();
        if held != self.held {
            return Err(format!(
                "{held} sessions are held but the count says {}",
                self.held
            ));
        }
        for (ip, count) in &held_by_ip {
            if self.held_by_ip.get(ip).map_or(0, VecDeque::len) != *count {
                return Err(format!("the held sessions from {ip} are miscounted"));
            }
        }
        if self.held_by_ip.len() != held_by_ip.len() {
            return Err("the held sessions by address have stale entries".into());
        }
        if held > settings.max_held || held_by_ip.values().any(|&n| n > settings.max_held_per_ip) {
            return Err(format!("{held} held sessions pass a cap"));
        }
        for (i, entry) in self.conns.iter().enumerate() {
            if let Some(sid) = entry.and_then(|e| e.session) {
                if self.slab.get(sid).and_then(|s| s.conn) != Some(ConnId(i)) {
                    return Err(format!(
                        "connection {i} points at a session that is not its own"
                    ));
                }
            }
        }
        Ok(())
    }
}

use super::id::KEY_ALPHABET as RESUME_KEY_ALPHABET;
const RESUME_KEY_LEN: usize = 12;

fn is_resume_key_shaped(word: &str) -> bool {
    word.len() == RESUME_KEY_LEN && word.bytes().all(|b| RESUME_KEY_ALPHABET.contains(&b))
}

/// A resume key: 12 characters of Crockford's base32, 60 random bits.
fn new_resume_key() -> String {
    super::id::random_key(RESUME_KEY_LEN)
}
