//! The chat core: sessions, nicknames, rooms, presence and reconnects, with no sockets in sight.
//!
//! The reactor reports what happened on connections (`connect`, `line`, `disconnect`) and when
//! time passes (`on_timer`); the core answers by appending `Output`s to an `Outbox`. Time is always
//! a parameter, so every rule here is tested without sockets or sleeps.
//!
//! A *session* is a logged-in user. It outlives its connection for the reconnect grace period:
//! while held, its nickname stays reserved and what its room says is kept for replay.

pub mod command;
pub mod event;
pub mod files;
pub mod help;
pub mod history;
pub mod id;
pub mod nick;
pub mod text;

pub mod game;
mod invariants;
mod invite;
mod ops;
mod presence;
mod rooms;
mod schedule;
mod share;
pub mod status;
mod talk;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::info;
use slab::Slab;

pub use crate::clock::Now;
use crate::timer::Timers;
use command::{Command, GameCommand};
pub use event::{
    Bye, Departure, Event, FileEntry, FileNotice, GameNotice, Info, InviteNotice, LostReason, Peer,
    PresenceSummary, Refusal, ScheduleEntry, ScoreEntry, UnixMillis, UserEntry,
};
pub use event::{HistoryAnswer, HistoryQuery};
use id::IdGen;

/// The room everybody starts in.
pub const LOBBY: &str = "lobby";

/// At most this many names are listed in the welcome; `/users` lists them all.
pub const WELCOME_NAMES_MAX: usize = 50;

/// Identifies a connection to the chat core (the reactor's slab key; never a mio token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);

/// One thing for the reactor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver `event` to one connection.
    ToConn { conn: ConnId, event: Event },
    /// Deliver `event` to the connections `recipients[start..end]` of the outbox: render it once,
    /// share the bytes.
    ToMany {
        start: usize,
        end: usize,
        event: Event,
    },
    /// The connection completed login: it gets the logged-in line limit.
    LoggedIn { conn: ConnId },
    /// Close the connection after what is queued (and the goodbye, if any) is written.
    Close { conn: ConnId, bye: Option<Bye> },
    /// The next `size` bytes from the connection are a file upload, not lines: collect them and
    /// hand them to `Chat::file_received`, or (when refused) read and drop them.
    ReceiveFile {
        conn: ConnId,
        size: u64,
        keep: crate::codec::file::Keep,
    },
    /// Keep this room event in the history (only emitted when history is on).
    Store(Event),
    /// Ask the history for lines; the answer comes back through `Chat::history_answer`.
    Query { conn: ConnId, query: HistoryQuery },
}

/// Where the core puts its outputs; owned by the caller and reused, so steady-state chat allocates
/// no vectors.
#[derive(Debug, Default)]
pub struct Outbox {
    pub items: Vec<Output>,
    pub recipients: Vec<ConnId>,
}

impl Outbox {
    pub fn clear(&mut self) {
        self.items.clear();
        self.recipients.clear();
    }

    fn send(&mut self, conn: ConnId, event: Event) {
        self.items.push(Output::ToConn { conn, event });
    }
}

/// The chat core's settings (a subset of the server's configuration).
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub grace: Duration,
    pub replay_max: usize,
    pub rules: Arc<str>,
    /// The node id in message ids; unique per node when several share storage.
    pub node_id: u16,
    /// `/schedule HH:MM` means UTC rather than server-local time.
    pub utc: bool,
    /// The key `/op` wants; `None` makes the first user of an empty server operator.
    pub admin_key: Option<String>,
    pub max_schedules: usize,
    pub schedule_horizon: Duration,
    /// Largest file one upload may carry.
    pub max_file: u64,
    /// Payload bytes held for open offers, all rooms together.
    pub file_store: usize,
    /// How long an offer stays open.
    pub file_ttl: Duration,
    /// Files up to this size are sent to the whole room at once (0: every file is offered).
    pub auto_accept_max: u64,
    /// The word game's lists.
    pub words: Arc<crate::chat::game::words::WordBank>,
    /// Time between the game's hints.
    pub hint_interval: Duration,
    /// How long an invitation stays open.
    pub invite_ttl: Duration,
    /// Room events are stored and `/history`, `/search` work (off with `--no-history`).
    pub history_enabled: bool,
    /// History lines shown on login and `/join` (`--backlog-lines`).
    pub backlog_lines: usize,
    /// Most bytes one history reply may queue for its asker: a quarter of `--max-queue`, so a
    /// reply of long lines is cut rather than getting its reader dropped for overflowing.
    pub history_budget: usize,
    /// Rooms with more members than this get presence summaries (`--presence-max-room`).
    pub presence_max_room: usize,
    /// How often a big room's presence summary goes out (`--presence-summary-secs`).
    pub presence_every: Duration,
}

impl Default for ChatSettings {
    /// The server's defaults.
    fn default() -> Self {
        ChatSettings::from_config(&crate::config::Config::for_tests())
    }
}

impl ChatSettings {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        ChatSettings {
            grace: cfg.grace(),
            replay_max: cfg.replay_max,
            rules: Arc::from(cfg.rules_text()),
            node_id: 0,
            utc: cfg.utc,
            admin_key: cfg.admin_key.clone().filter(|k| !k.is_empty()),
            max_schedules: cfg.max_schedules,
            schedule_horizon: Duration::from_secs(cfg.schedule_horizon),
            max_file: cfg.max_file,
            file_store: cfg.file_store,
            file_ttl: Duration::from_secs(cfg.file_ttl),
            auto_accept_max: cfg.auto_accept_max,
            words: Arc::new(crate::chat::game::words::WordBank::builtin()),
            hint_interval: Duration::from_secs(cfg.hint_interval.max(1)),
            invite_ttl: Duration::from_secs(cfg.invite_ttl),
            history_enabled: !cfg.no_history,
            backlog_lines: cfg.backlog_lines,
            history_budget: cfg.max_queue / 4,
            presence_max_room: usize::try_from(cfg.presence_max_room).unwrap_or(usize::MAX),
            presence_every: Duration::from_secs(cfg.presence_summary_secs),
        }
    }
}

/// Counters for the activity log and metrics.
#[derive(Debug, Default, Clone)]
pub struct ChatStats {
    pub logins: u64,
    pub resumes: u64,
    pub messages: u64,
    pub refused_logins: u64,
    pub grace_expired: u64,
    pub whispers: u64,
    pub kicks: u64,
    pub scheduled_sent: u64,
    pub files_offered: u64,
    pub files_refused: u64,
    pub files_sent: u64,
}

type SessionId = usize;
type RoomId = usize;

#[derive(Debug)]
struct Session {
    /// Unique for the server's lifetime (slab ids are reused): what schedules remember their author by.
    uid: u64,
    nick: Arc<str>,
    /// The nickname's collision key (see `nick::collision_key`).
    key: String,
    resume_key: Arc<str>,
    room: RoomId,
    /// Position in the room's member list, for O(1) removal.
    room_slot: usize,
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
    /// The last line the user typed, for `/whois` idle time.
    last_active: Instant,
}

#[derive(Debug)]
struct Held {
    until: Instant,
    missed: VecDeque<Event>,
    missed_total: usize,
}

impl Held {
    /// Keeps an event for replay, dropping the oldest beyond `max`.
    fn keep(&mut self, event: Event, max: usize) {
        self.missed_total += 1;
        if max == 0 {
            return;
        }
        if self.missed.len() >= max {
            self.missed.pop_front();
        }
        self.missed.push_back(event);
    }
}

#[derive(Debug)]
struct Room {
    name: Arc<str>,
    members: Vec<SessionId>,
    /// The topic and who set it.
    topic: Option<(Arc<str>, Arc<str>)>,
    topic_locked: bool,
    /// Joins and departures waiting for the room's next summary (a big room only).
    presence: Option<presence::PresenceBatch>,
}

#[derive(Debug, Clone, Copy)]
struct ConnEntry {
    ip: IpAddr,
    session: Option<SessionId>,
}

#[derive(Debug, Clone, Copy)]
enum ChatTimer {
    GraceEnds { session: SessionId, generation: u64 },
    ScheduleDue { id: u64 },
    OfferExpires { id: u64 },
    GameTick { room: RoomId, id: u64 },
    InviteExpires { id: u64 },
    PresenceDue { room: RoomId, serial: u64 },
}

/// The whole chat state of one server.
#[derive(Debug)]
pub struct Chat {
    settings: ChatSettings,
    conns: Vec<Option<ConnEntry>>,
    sessions: Slab<Session>,
    nicks: HashMap<String, SessionId>,
    rooms: Slab<Room>,
    room_by_key: HashMap<String, RoomId>,
    timers: Timers<ChatTimer>,
    ids: IdGen,
    live_sessions: usize,
    next_session_uid: u64,
    schedules: schedule::Schedules,
    bans: ops::Bans,
    offers: files::Offers,
    /// Uploads under way: the connection's next bytes are this file.
    uploads: HashMap<ConnId, share::Upload>,
    games: HashMap<RoomId, game::RoomGame>,
    next_game_id: u64,
    scores: game::Scoreboard,
    invitations: Vec<invite::Invitation>,
    next_invite_id: u64,
    next_presence_serial: u64,
    /// Users (by session uid) who refuse all invitations.
    invites_off: std::collections::HashSet<u64>,
    pub stats: ChatStats,
}

impl Chat {
    pub fn new(settings: ChatSettings) -> Self {
        let ids = IdGen::new(settings.node_id);
        let offers = files::Offers::new(settings.file_store, settings.file_ttl);
        Chat {
            settings,
            conns: Vec::new(),
            sessions: Slab::new(),
            nicks: HashMap::new(),
            rooms: Slab::new(),
            room_by_key: HashMap::new(),
            timers: Timers::new(),
            ids,
            live_sessions: 0,
            next_session_uid: 0,
            schedules: schedule::Schedules::default(),
            bans: ops::Bans::default(),
            offers,
            uploads: HashMap::new(),
            games: HashMap::new(),
            next_game_id: 0,
            scores: game::Scoreboard::default(),
            invitations: Vec::new(),
            next_invite_id: 0,
            next_presence_serial: 0,
            invites_off: std::collections::HashSet::new(),
            stats: ChatStats::default(),
        }
    }

    /// Minutes left of a ban on `ip`, if it is banned: such a connection is refused at once.
    pub fn address_banned(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        self.bans.address_banned(ip, now)
    }

    /// Users logged in with a live connection.
    pub fn online(&self) -> usize {
        self.live_sessions
    }

    /// Whether `conn` has completed login.
    pub fn is_logged_in(&self, conn: ConnId) -> bool {
        matches!(
            self.entry(conn),
            Some(ConnEntry {
                session: Some(_),
                ..
            })
        )
    }

    /// The earliest moment `on_timer` has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// A new connection from `peer`; it must log in with its first line.
    pub fn connect(&mut self, conn: ConnId, peer: Peer) {
        if self.conns.len() <= conn.0 {
            self.conns.resize(conn.0 + 1, None);
        }
        self.conns[conn.0] = Some(ConnEntry {
            ip: peer.ip,
            session: None,
        });
        self.uploads.remove(&conn);
    }

    /// One complete input line from `conn` (already decoded as UTF-8; cleaned here).
    pub fn line(&mut self, conn: ConnId, line: &str, now: Now, out: &mut Outbox) {
        let Some(entry) = self.entry(conn) else {
            return; // the connection is closing: nothing it says counts any more
        };
        let clean = text::sanitize(line);
        if clean.is_empty() {
            return;
        }
        match entry.session {
            None => self.login(conn, entry.ip, &clean, now, out),
            Some(session) => {
                self.sessions[session].last_active = now.mono;
                self.command(conn, session, command::parse(&clean), now, out);
            }
        }
    }

    /// The connection is gone (or being dropped) without `/quit`. A logged-in user's session is
    /// held for the grace period and the room is told. Calling it for an unknown or already
    /// detached connection does nothing.
    pub fn disconnect(&mut self, conn: ConnId, reason: LostReason, now: Now, out: &mut Outbox) {
        // A half-uploaded file is never offered.
        self.uploads.remove(&conn);
        let Some(entry) = self.conns.get_mut(conn.0).and_then(Option::take) else {
            return;
        };
        let Some(sid) = entry.session else {
            return;
        };
        self.live_sessions -= 1;
        let (room, nick) = {
            let s = &self.sessions[sid];
            (s.room, s.nick.clone())
        };
        info!("{nick} lost the connection ({reason:?})");
        let event = Event::Left {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name.clone(),
            nick,
            how: Departure::Lost { reason },
        };
        self.announce_presence(room, Some(sid), event, now, out);
        let until = now.mono + self.settings.grace;
        let s = &mut self.sessions[sid];
        s.conn = None;
        s.held = Some(Box::new(Held {
            until,
            missed: VecDeque::new(),
            missed_total: 0,
        }));
        self.timers.insert(
            until,
            ChatTimer::GraceEnds {
                session: sid,
                generation: s.generation,
            },
        );
    }

    /// Runs every timer due at `now`.
    pub fn on_timer(&mut self, now: Now, out: &mut Outbox) {
        while let Some(timer) = self.timers.pop_due(now.mono) {
            match timer {
                ChatTimer::GraceEnds {
                    session,
                    generation,
                } => self.grace_ends(session, generation, now, out),
                ChatTimer::ScheduleDue { id } => self.schedule_due(id, now, out),
                ChatTimer::OfferExpires { id } => self.offer_expires(id, now, out),
                ChatTimer::GameTick { room, id } => self.game_tick(room, id, now, out),
                ChatTimer::InviteExpires { id } => self.invite_expires(id, now, out),
                ChatTimer::PresenceDue { room, serial } => {
                    self.presence_due(room, serial, now, out)
                }
            }
        }
    }

    fn entry(&self, conn: ConnId) -> Option<ConnEntry> {
        self.conns.get(conn.0).copied().flatten()
    }

    fn login(&mut self, conn: ConnId, ip: IpAddr, line: &str, now: Now, out: &mut Outbox) {
        // "alice <key>" reclaims a held name; any other line with a space is a (bad) nickname, so
        // "john smith" is refused rather than silently becoming "john".
        let (name, key) = match line.split_once(' ') {
            Some((name, key)) if is_resume_key_shaped(key) => (name, Some(key)),
            _ => (line, None),
        };
        if let Some(minutes_left) = self.bans.address_banned(ip, now.mono) {
            info!("refused a login from banned address {ip}");
            self.conns[conn.0] = None;
            let bye = Some(Bye::Banned { minutes_left });
            out.items.push(Output::Close { conn, bye });
            return;
        }
        if let Err(why) = nick::validate(name) {
            return self.refuse_login(conn, Refusal::NickInvalid(why), out);
        }
        let collision = nick::collision_key(name);
        if let Some(minutes_left) = self.bans.name_banned(&collision, now.mono) {
            let nick = Arc::from(name);
            return self.refuse_login(conn, Refusal::NickBanned { nick, minutes_left }, out);
        }
        let Some(&sid) = self.nicks.get(&collision) else {
            return self.new_session(conn, ip, name, collision, now, out);
        };
        let s = &self.sessions[sid];
        let key_ok = key.is_some_and(|k| k == &*s.resume_key);
        match (s.conn, &s.held) {
            (None, Some(held)) => {
                if key_ok || s.ip == ip {
                    self.resume(conn, ip, sid, now, out);
                } else {
                    let refusal = Refusal::NickHeld {
                        nick: s.nick.clone(),
                        secs_left: held
                            .until
                            .saturating_duration_since(now.mono)
                            .as_secs()
                            .max(1),
                        wrong_key: key.is_some(),
                    };
                    self.refuse_login(conn, refusal, out);
                }
            }
            (Some(old), _) if key_ok => {
                // The old connection is probably dead and not yet noticed: the key holder takes over.
                info!(
                    "{} resumed from a new connection; closing the old one",
                    s.nick
                );
                if let Some(e) = self.conns.get_mut(old.0).and_then(Option::as_mut) {
                    e.session = None;
                }
                out.items.push(Output::Close {
                    conn: old,
                    bye: Some(Bye::ResumedElsewhere),
                });
                self.live_sessions -= 1;
                self.resume(conn, ip, sid, now, out);
            }
            _ => {
                let lookalike = s.nick.to_lowercase() != name.to_lowercase();
                let refusal = Refusal::NickTaken {
                    nick: Arc::from(name),
                    lookalike,
                };
                self.refuse_login(conn, refusal, out);
            }
        }
    }

    fn refuse_login(&mut self, conn: ConnId, refusal: Refusal, out: &mut Outbox) {
        self.stats.refused_logins += 1;
        out.send(conn, Event::Refused(refusal));
        out.send(conn, Event::Info(Info::NickPrompt));
    }

    fn new_session(
        &mut self,
        conn: ConnId,
        ip: IpAddr,
        name: &str,
        collision: String,
        now: Now,
        out: &mut Outbox,
    ) {
        let room = self.room_for(LOBBY);
        let nick: Arc<str> = Arc::from(name);
        // Without an admin key somebody must be able to moderate: the first user of an empty server.
        let op = self.settings.admin_key.is_none() && self.sessions.is_empty();
        self.next_session_uid += 1;
        let sid = self.sessions.insert(Session {
            uid: self.next_session_uid,
            op,
            away: None,
            last_active: now.mono,
            nick: nick.clone(),
            key: collision.clone(),
            resume_key: Arc::from(new_resume_key()),
            room,
            room_slot: 0,
            conn: Some(conn),
            ip,
            held: None,
            generation: 0,
        });
        self.nicks.insert(collision, sid);
        self.add_member(room, sid);
        self.attach(conn, sid);
        self.stats.logins += 1;
        info!("{nick} logged in from {ip}");
        out.items.push(Output::LoggedIn { conn });
        out.send(conn, Event::Info(self.welcome(sid, false)));
        self.ask_backlog(conn, sid, out);
        let event = Event::Joined {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name.clone(),
            nick,
        };
        self.announce_presence(room, Some(sid), event, now, out);
    }

    fn resume(&mut self, conn: ConnId, ip: IpAddr, sid: SessionId, now: Now, out: &mut Outbox) {
        let held = {
            let s = &mut self.sessions[sid];
            s.conn = Some(conn);
            s.ip = ip;
            s.generation += 1;
            s.held.take()
        };
        self.attach(conn, sid);
        self.stats.resumes += 1;
        let (room, nick) = (self.sessions[sid].room, self.sessions[sid].nick.clone());
        info!("{nick} reconnected from {ip}");
        out.items.push(Output::LoggedIn { conn });
        out.send(conn, Event::Info(self.welcome(sid, true)));
        // A takeover of a live session has nothing to replay and nothing to announce.
        let Some(held) = held else {
            return;
        };
        out.send(
            conn,
            Event::Info(Info::MissedHeader {
                shown: held.missed.len(),
                total: held.missed_total,
            }),
        );
        if held.missed_total > 0 {
            for event in held.missed {
                out.send(conn, event);
            }
            out.send(conn, Event::Info(Info::MissedEnd));
        }
        let event = Event::Reconnected {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name.clone(),
            nick,
        };
        self.announce_presence(room, Some(sid), event, now, out);
    }

    fn attach(&mut self, conn: ConnId, sid: SessionId) {
        if let Some(e) = self.conns.get_mut(conn.0).and_then(Option::as_mut) {
            e.session = Some(sid);
        }
        self.live_sessions += 1;
    }

    fn welcome(&self, sid: SessionId, resumed: bool) -> Info {
        let s = &self.sessions[sid];
        let online_total = self.live_sessions;
        // On a big server the welcome gives the count alone: collecting names would cost every
        // login O(users), so a crowd arriving would cost O(users²).
        let mut online: Vec<Arc<str>> = if online_total > self.settings.presence_max_room {
            Vec::new()
        } else {
            self.sessions
                .iter()
                .filter(|(_, s)| s.conn.is_some())
                .map(|(_, s)| s.nick.clone())
                .collect()
        };
        let room = &self.rooms[s.room];
        // Only the first names alphabetically are listed: select them in O(n), then sort those few.
        if online.len() > WELCOME_NAMES_MAX {
            online.select_nth_unstable_by(WELCOME_NAMES_MAX, |a, b| cmp_nicks(a, b));
            online.truncate(WELCOME_NAMES_MAX);
        }
        online.sort_by(|a, b| cmp_nicks(a, b));
        Info::Welcome {
            nick: s.nick.clone(),
            room: room.name.clone(),
            rules: self.settings.rules.clone(),
            resumed,
            topic: room.topic.as_ref().map(|(t, _)| t.clone()),
            online,
            online_total,
            op: s.op && !resumed,
            resume_key: s.resume_key.clone(),
            grace_secs: self.settings.grace.as_secs(),
        }
    }

    fn command(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        cmd: Command<'_>,
        now: Now,
        out: &mut Outbox,
    ) {
        match cmd {
            Command::Say(text) => {
                let room = self.sessions[sid].room;
                let event = Event::Message {
                    id: self.ids.next(now.wall),
                    at: now.wall,
                    room: self.rooms[room].name.clone(),
                    from: self.sessions[sid].nick.clone(),
                    text: Arc::from(text),
                };
                self.stats.messages += 1;
                self.broadcast(room, Some(sid), event, out);
                self.check_guess(sid, room, text, now, out);
            }
            Command::Me(text) => self.me(sid, text, now, out),
            Command::Whisper { to, text } => self.whisper(conn, sid, to, text, now, out),
            Command::Nick(new) => self.rename(conn, sid, new, now, out),
            Command::Away(message) => self.away(conn, sid, message, out),
            Command::Whois(nick) => self.whois(conn, nick, now, out),
            Command::Join(room) => self.join(conn, sid, room, now, out),
            Command::Part => self.join(conn, sid, LOBBY, now, out),
            Command::Rooms => self.list_rooms(conn, out),
            Command::Users => self.list_users(conn, sid, out),
            Command::Topic(None) => self.show_topic(conn, sid, out),
            Command::Topic(Some(text)) => self.set_topic(conn, sid, text, now, out),
            Command::TopicLock(locked) => self.lock_topic(conn, sid, locked, out),
            Command::Schedule { when, text } => self.schedule(conn, sid, when, text, now, out),
            Command::Schedules => self.list_schedules(conn, sid, now, out),
            Command::Unschedule(id) => self.unschedule(conn, sid, id, out),
            Command::Op(key) => self.op(conn, sid, key, out),
            Command::Kick { nick, reason } => self.kick(conn, sid, nick, reason, None, now, out),
            Command::Ban { nick, minutes } => self.ban(conn, sid, nick, minutes, now, out),
            Command::History(arg) => self.history(conn, sid, arg, out),
            Command::Search(words) => self.search(conn, sid, words, out),
            Command::Help(None) => out.send(conn, Event::Info(Info::Help)),
            Command::Help(Some(word)) => match help::find(word) {
                Some(entry) => out.send(conn, Event::Info(Info::HelpFor(entry))),
                None => out.send(
                    conn,
                    Event::Refused(Refusal::UnknownCommand {
                        command: Arc::from(word),
                    }),
                ),
            },
            Command::File { name, size } => self.start_upload(conn, sid, name, size, out),
            Command::Files => self.list_files(conn, sid, now, out),
            Command::Accept(id) => self.accept_file(conn, sid, id, out),
            Command::Game(GameCommand::Start(category)) => {
                self.game_start(conn, sid, category, now, out)
            }
            Command::Game(GameCommand::Stop) => self.game_stop(conn, sid, now, out),
            Command::Game(GameCommand::Status) => self.game_status(conn, sid, out),
            Command::Game(GameCommand::Categories) => self.game_categories(conn, out),
            Command::Score(nick) => self.score(conn, sid, nick, out),
            Command::Invite { nick, room } => self.invite(conn, sid, nick, room, now, out),
            Command::AcceptInvite(from) => self.accept_invite(conn, sid, from, now, out),
            Command::DeclineInvite(from) => self.decline_invite(conn, sid, from, out),
            Command::Invites(on) => self.set_invites(conn, sid, on, out),
            Command::Decline(id) => self.decline_file(conn, sid, id, out),
            Command::Quit(message) => self.quit(conn, sid, message, now, out),
            Command::Usage(name) => {
                let entry = help::find(name).expect("every command has a help entry");
                out.send(conn, Event::Refused(Refusal::Usage(entry)));
            }
            Command::Unknown(word) => out.send(
                conn,
                Event::Refused(Refusal::UnknownCommand {
                    command: Arc::from(word),
                }),
            ),
        }
    }

    /// The session a nickname names (live or held), by its collision key.
    fn find_session(&self, nick: &str) -> Option<SessionId> {
        self.nicks.get(&nick::collision_key(nick)).copied()
    }

    /// Delivers to one session: to its connection if live, into its replay if held.
    /// Returns false if it could not be delivered at all.
    fn deliver_to_session(&mut self, sid: SessionId, event: Event, out: &mut Outbox) -> bool {
        let replay_max = self.settings.replay_max;
        let s = &mut self.sessions[sid];
        if let Some(conn) = s.conn {
            out.send(conn, event);
            true
        } else if let Some(held) = &mut s.held {
            held.keep(event, replay_max);
            true
        } else {
            false
        }
    }

    fn quit(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        message: Option<&str>,
        now: Now,
        out: &mut Outbox,
    ) {
        let nick = self.sessions[sid].nick.clone();
        info!("{nick} quit ({})", message.unwrap_or(""));
        self.conns[conn.0] = None;
        self.live_sessions -= 1;
        out.items.push(Output::Close {
            conn,
            bye: Some(Bye::Quit { nick }),
        });
        let how = Departure::Quit {
            message: message.map(Arc::from),
        };
        self.end_session(sid, how, now, out);
    }

    fn grace_ends(&mut self, sid: SessionId, generation: u64, now: Now, out: &mut Outbox) {
        match self.sessions.get(sid) {
            Some(s) if s.generation == generation && s.held.is_some() => {}
            _ => return, // resumed, or the slot was reused: a stale timer
        }
        self.stats.grace_expired += 1;
        info!("{} did not reconnect in time", self.sessions[sid].nick);
        let how = Departure::GraceExpired {
            grace_secs: self.settings.grace.as_secs(),
        };
        self.end_session(sid, how, now, out);
    }

    /// Removes a session for good: frees its name, tells its room, drops an empty room.
    fn end_session(&mut self, sid: SessionId, how: Departure, now: Now, out: &mut Outbox) {
        let s = self.sessions.remove(sid);
        self.forget_invitations_of(s.uid);
        self.nicks.remove(&s.key);
        self.remove_member(s.room, s.room_slot);
        // Operator actions are announced on their own even in a big room.
        let kicked = matches!(how, Departure::Kicked { .. });
        let event = Event::Left {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[s.room].name.clone(),
            nick: s.nick,
            how,
        };
        if kicked {
            self.broadcast(s.room, None, event, out);
        } else {
            self.announce_presence(s.room, None, event, now, out);
        }
        self.drop_room_if_empty(s.room);
    }

    fn drop_room_if_empty(&mut self, room: RoomId) {
        if self.rooms[room].members.is_empty() {
            self.end_game_of(room);
            let room = self.rooms.remove(room);
            self.room_by_key.remove(&room_key(&room.name));
        }
    }

    /// Sends a room event to every live member of `room` but `except`, keeps it for members who
    /// are held for a reconnect (bounded by `replay_max`, oldest dropped first) and stores it in
    /// the room's history.
    fn broadcast(
        &mut self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        out: &mut Outbox,
    ) {
        if self.settings.history_enabled {
            // Every broadcast is a room event, and the room's history keeps them all.
            out.items.push(Output::Store(event.clone()));
        }
        self.deliver(room, except, event, out);
    }

    /// [`Chat::broadcast`] without storing: for lines that only summarise stored events.
    fn deliver(&mut self, room: RoomId, except: Option<SessionId>, event: Event, out: &mut Outbox) {
        let start = out.recipients.len();
        for &member in &self.rooms[room].members {
            if Some(member) == except {
                continue;
            }
            let s = &mut self.sessions[member];
            if let Some(conn) = s.conn {
                out.recipients.push(conn);
            } else if let Some(held) = &mut s.held {
                held.keep(event.clone(), self.settings.replay_max);
            }
        }
        let end = out.recipients.len();
        if end > start {
            out.items.push(Output::ToMany { start, end, event });
        }
    }

    fn room_for(&mut self, name: &str) -> RoomId {
        let key = room_key(name);
        if let Some(&id) = self.room_by_key.get(&key) {
            return id;
        }
        let id = self.rooms.insert(Room {
            name: Arc::from(name),
            members: Vec::new(),
            topic: None,
            topic_locked: false,
            presence: None,
        });
        self.room_by_key.insert(key, id);
        id
    }

    fn add_member(&mut self, room: RoomId, sid: SessionId) {
        let members = &mut self.rooms[room].members;
        self.sessions[sid].room = room;
        self.sessions[sid].room_slot = members.len();
        members.push(sid);
    }

    fn remove_member(&mut self, room: RoomId, slot: usize) {
        let members = &mut self.rooms[room].members;
        members.swap_remove(slot);
        if let Some(&moved) = members.get(slot) {
            self.sessions[moved].room_slot = slot;
        }
    }
}

/// The case-insensitive key of a room name (rooms and their history are matched by it).
pub fn room_key(name: &str) -> String {
    name.to_lowercase()
}

/// Case-insensitive order for user lists, ties broken by the exact text so the order is stable.
/// Compares lower-cased characters as they come, without allocating: sorting a big room's list
/// does O(n log n) comparisons.
fn cmp_nicks(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

const RESUME_KEY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RESUME_KEY_LEN: usize = 12;

fn is_resume_key_shaped(word: &str) -> bool {
    word.len() == RESUME_KEY_LEN && word.bytes().all(|b| RESUME_KEY_ALPHABET.contains(&b))
}

/// A resume key: 12 characters of Crockford's base32 (no i, l, o, u to misread), 60 random bits.
fn new_resume_key() -> String {
    let mut raw = [0u8; RESUME_KEY_LEN];
    getrandom::getrandom(&mut raw).expect("the OS random source failed");
    raw.iter()
        .map(|b| RESUME_KEY_ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

#[cfg(test)]
mod tests;
