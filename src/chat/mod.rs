//! The chat core: sessions, rooms, and everything people do in them, with no sockets in sight.
//!
//! The reactor reports what happened on connections ([`Chat::connect`], [`Chat::line`],
//! [`Chat::disconnect`], [`Chat::file_received`], [`Chat::history_answer`]) and when time passes
//! ([`Chat::on_timer`]); the core answers by appending [`Output`]s to an [`Outbox`], each carrying
//! plain-data [`event`]s that the wire formats (`crate::render`) turn into bytes. The core never
//! formats a protocol line. Time is always a parameter, so every rule here is tested without
//! sockets or sleeps.
//!
//! # One module per feature
//! Each feature owns its state (fields private to it) and its commands, with its tests beside it:
//! - [`session`]: logins, resume keys, the reconnect grace, departures; the connection table.
//! - [`room`]: rooms and their membership, delivery of room events, `/join`, `/users`, topics.
//! - [`presence`]: joins and departures in big rooms gathered into summaries.
//! - [`talk`]: messages, `/me`, whispers, renames, away, `/whois`.
//! - [`ops`]: operators, kicks and bans, and the grants that keep operators across restarts.
//! - [`files`]: file offers and their store, uploads, `/accept`.
//! - [`invite`]: invitations to rooms.
//! - [`game`]: the word game (rules, word lists, rounds and scores).
//! - [`schedule`]: scheduled messages.
//! - [`history`]: `/history`, `/search` and the backlog, answered by the storage thread.
//! - [`cluster`]: the room events and members of a cluster's other nodes.
//!
//! Beside them: [`command`] parses a line, [`help`] is the command reference, [`nick`] and
//! [`text`] validate and clean what users type, [`id`] makes message ids, [`status`] is the
//! operators' snapshot, [`kept`] what survives a restart (bans, topics, operators) and [`invariants`] what must always hold. A command runs with a [`Cx`]
//! (who asked, when, and where answers go).

pub mod cluster;
pub mod command;
pub mod event;
pub mod files;
pub mod game;
pub mod help;
pub mod history;
pub mod id;
pub mod kept;
pub mod nick;
pub mod status;
pub mod text;

mod channels;
mod context;
mod invariants;
mod invite;
mod ops;
mod outbox;
mod presence;
pub mod request;
mod room;
mod schedule;
mod session;
mod settings;
mod talk;

#[cfg(test)]
mod testing;

use std::net::IpAddr;
use std::time::Instant;

use crate::timer::Timers;
use command::{Command, GameCommand};
use context::Cx;
use id::IdGen;
use room::Rooms;
use session::Sessions;

pub use crate::clock::Now;
pub use event::{
    Bye, Departure, Event, FileEntry, FileNotice, GameNotice, HistoryAnswer, HistoryQuery, Info,
    InviteNotice, LostReason, Member, Peer, PresenceSummary, Refusal, ScheduleEntry, ScoreEntry,
    UnixMillis, UserEntry,
};
pub use outbox::{Outbox, Output};
pub use request::Request;
pub use room::recent::RecentRooms;
pub use room::{room_key, valid_room_name, MAX_ROOM_CHARS};
pub use settings::{ChatSettings, ChatStats};

/// The room everybody starts in.
pub const LOBBY: &str = "lobby";

/// At most this many names are listed in the welcome; `/users` lists them all.
pub const WELCOME_NAMES_MAX: usize = 50;

/// Identifies a connection to the chat core (the reactor's slab key; never a mio token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);

/// A session's key in the core (reused after the session ends; a session's uid is not).
type SessionId = usize;

/// A room's key in the core (reused after the room is gone).
type RoomId = usize;

/// `collection[id]` for a collection of the core that keeps its items in a `slab` field: an id
/// the core holds always names a live item, so a missing one is a bug, as with a slice.
macro_rules! index_by_id {
    ($collection:ty, $id:ty, $item:ty) => {
        impl std::ops::Index<$id> for $collection {
            type Output = $item;

            fn index(&self, id: $id) -> &$item {
                &self.slab[id]
            }
        }

        impl std::ops::IndexMut<$id> for $collection {
            fn index_mut(&mut self, id: $id) -> &mut $item {
                &mut self.slab[id]
            }
        }
    };
}
use index_by_id;

/// The core's timers; each carries what it needs to tell a stale firing from a current one.
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
    sessions: Sessions,
    rooms: Rooms,
    presence: presence::Presence,
    timers: Timers<ChatTimer>,
    ids: IdGen,
    schedules: schedule::Schedules,
    bans: ops::Bans,
    grants: ops::Grants,
    files: files::Files,
    games: game::Games,
    invites: invite::Invites,
    /// Logins and renames waiting for the cluster to grant their names.
    claims: cluster::claims::Claims,
    /// Nicknames and addresses of sessions that ended since the outbox was last applied: its
    /// lines about them (a QUIT, a KICK) still show their hosts ([`Chat::address_of`]).
    departed: Vec<(std::sync::Arc<str>, IpAddr)>,
    /// The delivery order of lines kept for replays (rooms' recent lines, held sessions' own
    /// lines): a replay from several sources is merged by it.
    order: u64,
    /// Users connected to the cluster's other nodes, as their last heartbeats said.
    online_elsewhere: usize,
    pub stats: ChatStats,
}

impl Chat {
    pub fn new(settings: ChatSettings) -> Self {
        let mut rooms = Rooms::new(
            settings.history_enabled,
            settings.recent_rooms,
            settings.max_kept_topics,
        );
        if settings.cluster {
            rooms.track_changes();
        }
        Chat {
            ids: IdGen::new(settings.node_id),
            files: files::Files::new(settings.file_store, settings.file_ttl),
            sessions: Sessions::default(),
            grants: ops::Grants::new(settings.max_op_grants),
            rooms,
            settings,
            presence: presence::Presence::default(),
            timers: Timers::new(),
            schedules: schedule::Schedules::default(),
            bans: ops::Bans::default(),
            games: game::Games::default(),
            invites: invite::Invites::default(),
            claims: cluster::claims::Claims::default(),
            order: 0,
            online_elsewhere: 0,
            departed: Vec::new(),
            stats: ChatStats::default(),
        }
    }

    /// The next place in the delivery order of kept lines.
    fn next_order(&mut self) -> u64 {
        self.order += 1;
        self.order
    }

    /// How a line said to one session alone is kept if the session is held.
    fn keep_own(&mut self) -> session::KeepOwn {
        session::KeepOwn {
            order: self.next_order(),
            lines: self.settings.replay_max,
            bytes: self.settings.held_own_bytes,
        }
    }

    /// Starts the rooms' recent lines from what the history holds (at start, before serving).
    pub fn load_recent(&mut self, from_disk: RecentRooms) {
        let limits = self.settings.recent_limits();
        self.rooms.seed(from_disk, limits);
    }

    /// Starts the bans, topics and operator grants from what was kept (at start, before
    /// serving; every room is empty then, so every topic waits for its room to open).
    pub fn load_kept(&mut self, kept: kept::KeptState, now: Now) {
        self.bans.load(kept.bans, now);
        self.rooms.load_topics(kept.topics);
        self.grants.load(kept.grants);
    }

    /// A reload's settings. What the core's structures were built with (ring sizes, the file
    /// store's cap, history on or off) is the same in them: `config::reload` keeps those until
    /// a restart.
    pub fn replace_settings(&mut self, settings: ChatSettings) {
        self.settings = settings;
    }

    /// The word game's lists in use.
    pub fn words(&self) -> std::sync::Arc<game::words::WordBank> {
        self.settings.words.clone()
    }

    /// Sessions held for a reconnect.
    pub fn held(&self) -> usize {
        self.sessions.held()
    }

    /// What every room's recent lines weigh together (see `room::recent::weight`).
    pub fn recent_bytes(&self) -> usize {
        self.rooms.iter().map(|(_, r)| r.recent().bytes()).sum()
    }

    /// Minutes left of a ban on `ip`, if it is banned: such a connection is refused at once.
    pub fn address_banned(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        self.bans.address_banned(ip, now)
    }

    /// The address of the user called `nick` (online, held, or gone since the outbox was last
    /// applied): what IRC shows, cloaked, as its host.
    pub fn address_of(&self, nick: &str) -> Option<IpAddr> {
        if let Some(sid) = self.sessions.by_nick(nick) {
            return Some(self.sessions[sid].ip());
        }
        self.departed
            .iter()
            .rev()
            .find(|(n, _)| &**n == nick)
            .map(|&(_, ip)| ip)
    }

    /// Forgets the departed kept for the outbox just applied.
    pub fn forget_departed(&mut self) {
        self.departed.clear();
    }

    /// The names of the rooms `conn`'s session is in.
    pub fn rooms_of(&self, conn: ConnId) -> Vec<String> {
        let Some(sid) = self.sessions.session_of(conn) else {
            return Vec::new();
        };
        self.sessions[sid]
            .memberships()
            .iter()
            .map(|m| self.rooms[m.room].name().to_string())
            .collect()
    }

    /// Users logged in with a live connection.
    pub fn online(&self) -> usize {
        self.sessions.live()
    }

    /// Whether `conn` has completed login.
    pub fn is_logged_in(&self, conn: ConnId) -> bool {
        self.sessions.session_of(conn).is_some()
    }

    /// Payload bytes held for open file offers.
    pub fn file_store_bytes(&self) -> usize {
        self.files.store_bytes()
    }

    /// The earliest moment `on_timer` has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// A new connection from `peer`; it must log in with its first line.
    pub fn connect(&mut self, conn: ConnId, peer: Peer) {
        self.sessions.connect(conn, peer.ip);
        self.files.upload_ended(conn);
    }

    /// One complete input line from `conn` (already decoded as UTF-8; cleaned here).
    pub fn line(&mut self, conn: ConnId, line: &str, now: Now, out: &mut Outbox) {
        let Some(entry) = self.sessions.entry(conn) else {
            return; // the connection is closing: nothing it says counts any more
        };
        let clean = text::sanitize(line);
        if clean.is_empty() {
            return;
        }
        match entry.session {
            None => self.login(conn, entry.ip, &clean, now, out),
            Some(sid) => {
                self.sessions.touch(sid, now.mono);
                let mut cx = Cx {
                    conn,
                    sid,
                    now,
                    out,
                };
                if self.sessions[sid].keeps_rooms() {
                    // In no room, or in several: run as its protocol's requests run.
                    return self.command_in(&mut cx, None, &clean);
                }
                self.command(&mut cx, command::parse(&clean));
            }
        }
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

    /// Hands a logged-in user's command to the feature it belongs to.
    fn command(&mut self, cx: &mut Cx<'_>, cmd: Command<'_>) {
        match cmd {
            Command::Say(text) => self.say(cx, text),
            Command::Me(text) => self.me(cx, text),
            Command::Whisper { to, text } => self.whisper(cx, to, text),
            Command::Nick(new) => self.rename(cx, new),
            Command::Away(message) => self.away(cx, message),
            Command::Whois(nick) => self.whois(cx, nick),
            Command::Join(room) => self.join(cx, room),
            Command::Part => self.join(cx, LOBBY),
            Command::Rooms => self.list_rooms(cx),
            Command::Users => self.list_users(cx),
            Command::Topic(None) => self.show_topic(cx),
            Command::Topic(Some(text)) => self.set_topic(cx, text),
            Command::TopicLock(locked) => self.lock_topic(cx, locked),
            Command::Schedule { when, text } => self.schedule(cx, when, text),
            Command::Schedules => self.list_schedules(cx),
            Command::Unschedule(id) => self.unschedule(cx, id),
            Command::Op(key) => self.op(cx, key),
            Command::Kick { nick, reason } => self.kick(cx, nick, reason, None),
            Command::Ban { nick, minutes } => self.ban(cx, nick, minutes),
            Command::History(arg) => self.history(cx, arg),
            Command::Search(words) => self.search(cx, words),
            Command::Help(None) => cx.info(Info::Help),
            Command::Help(Some(word)) => match help::find(word) {
                Some(entry) => cx.info(Info::HelpFor(entry)),
                None => cx.refuse(Refusal::UnknownCommand {
                    command: word.into(),
                }),
            },
            Command::File { name, size } => self.start_upload(cx, name, size),
            Command::Files => self.list_files(cx),
            Command::Accept(id) => self.accept_file(cx, id),
            Command::Decline(id) => self.decline_file(cx, id),
            Command::Game(GameCommand::Start(category)) => self.game_start(cx, category),
            Command::Game(GameCommand::Stop) => self.game_stop(cx),
            Command::Game(GameCommand::Status) => self.game_status(cx),
            Command::Game(GameCommand::Categories) => self.game_categories(cx),
            Command::Score(nick) => self.score(cx, nick),
            Command::Invite { nick, room } => self.invite(cx, nick, room),
            Command::AcceptInvite(from) => self.accept_invite(cx, from),
            Command::DeclineInvite(from) => self.decline_invite(cx, from),
            Command::Invites(on) => self.set_invites(cx, on),
            Command::Quit(message) => self.quit(cx, message),
            Command::Usage(name) => cx.usage(name),
            Command::Unknown(word) => cx.refuse(Refusal::UnknownCommand {
                command: word.into(),
            }),
        }
    }
}
