//! Replies and notices addressed to one connection.

use std::net::IpAddr;
use std::sync::Arc;

use super::query::HistoryWhat;
use super::UnixMillis;
use crate::chat::help::HelpEntry;
use crate::chat::id::MsgId;

/// One entry of a user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub nick: Arc<str>,
    pub op: bool,
    pub away: bool,
}

/// A member of a room as clients that list rooms' members with their addresses see it (IRC's
/// NAMES, WHO, USERHOST). The address is the renderer's to show or cloak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub nick: Arc<str>,
    pub ip: IpAddr,
    /// A server operator (an operator in every room).
    pub op: bool,
    /// An operator of the room the list is about (its first member, or made one there).
    pub room_op: bool,
    pub away: bool,
}

/// One entry of `/schedules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    pub id: u64,
    pub due: UnixMillis,
    pub in_secs: u64,
    pub room: Arc<str>,
    pub text: Arc<str>,
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
        topic: Option<Arc<str>>,
        online: Vec<Arc<str>>,
        online_total: usize,
        op: bool,
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
    /// After `/join` into a room too big to list: how many are there (`/users` lists them).
    UserCount {
        room: Arc<str>,
        members: usize,
    },
    /// `/rooms`: names with member counts, sorted.
    Rooms {
        rooms: Vec<(Arc<str>, usize)>,
    },
    /// `/help`.
    Help,
    /// `/help COMMAND`.
    HelpFor(&'static HelpEntry),
    /// The sender's copy of a whisper, with the whisper's id and time (IRC's echo-message
    /// shows them).
    WhisperSent {
        to: Arc<str>,
        text: Arc<str>,
        id: MsgId,
        at: UnixMillis,
    },
    /// The whisper's target is away.
    TargetAway {
        nick: Arc<str>,
        message: Arc<str>,
    },
    /// The whisper's target is in the grace period: it will be delivered on return.
    WhisperHeld {
        nick: Arc<str>,
    },
    NickChanged {
        nick: Arc<str>,
    },
    AwaySet {
        message: Arc<str>,
    },
    AwayCleared,
    /// The cluster link went down (users of other nodes are out of reach; chat here goes on) or
    /// came back.
    ClusterLink {
        up: bool,
    },
    /// A session resumed on another node of the cluster than the one it was on: the lines it
    /// missed were there, and are not replayed.
    ReplayUnavailable,
    /// The user's name was another user's first (two nodes granted it while cut off from each
    /// other): the user is `new` now.
    NickCollided {
        old: Arc<str>,
        new: Arc<str>,
    },
    Whois {
        nick: Arc<str>,
        room: Arc<str>,
        idle_secs: u64,
        away: Option<Arc<str>>,
        op: bool,
        reconnecting: bool,
    },
    /// After `/join`.
    NowInRoom {
        room: Arc<str>,
    },
    /// The topic line shown on joining a room that has one.
    TopicOnJoin {
        topic: Arc<str>,
    },
    /// `/topic` without text; `at`: when the topic was set.
    Topic {
        room: Arc<str>,
        topic: Option<(Arc<str>, Arc<str>)>,
        at: UnixMillis,
    },
    TopicLock {
        room: Arc<str>,
        locked: bool,
    },
    ScheduleSet {
        entry: ScheduleEntry,
    },
    /// The scheduled message's room had emptied and disappeared: nobody received it.
    ScheduleUnsent {
        id: u64,
        room: Arc<str>,
    },
    ScheduleSent {
        id: u64,
        room: Arc<str>,
    },
    Schedules {
        entries: Vec<ScheduleEntry>,
    },
    Unscheduled {
        id: u64,
    },
    NowOperator,
    /// The header of a history reply: `shown` of `total` lines follow.
    HistoryStart {
        room: Arc<str>,
        what: HistoryWhat,
        shown: usize,
        total: usize,
    },
    /// The line that ends a history reply.
    HistoryEnd {
        what: HistoryWhat,
    },

    // ----- for sessions that keep several rooms (IRC) ------------------------------------------
    /// A session that keeps several rooms has logged in (or resumed): it is in no room yet, or
    /// in the rooms it kept.
    Registered {
        nick: Arc<str>,
        rules: Arc<str>,
        resumed: bool,
        online_total: usize,
        rooms_total: usize,
        operators: usize,
        op: bool,
        resume_key: Arc<str>,
        grace_secs: u64,
    },
    /// The asker is now in `room` (a join that kept its other rooms, or a resume): the room's
    /// topic and members.
    Entered {
        room: Arc<str>,
        topic: Option<(Arc<str>, Arc<str>)>,
        topic_at: UnixMillis,
        members: Vec<Member>,
    },
    /// The asker left `room` (and is still in its others).
    Parted {
        room: Arc<str>,
        message: Option<Arc<str>>,
    },
    /// A room's members, with their addresses (IRC's NAMES).
    Members {
        room: Arc<str>,
        members: Vec<Member>,
    },
    /// Every room with its count of connected members and its topic (IRC's LIST).
    RoomList {
        rooms: Vec<(Arc<str>, usize, Option<Arc<str>>)>,
    },
    /// A room's settings (IRC's channel modes): whether its topic is locked, since when it exists.
    RoomModes {
        room: Arc<str>,
        topic_locked: bool,
        opened_at: UnixMillis,
    },
    /// Users matching a WHO query; `reveal`: the asker is an operator and sees real addresses.
    Who {
        mask: Arc<str>,
        users: Vec<(Member, Option<Arc<str>>)>,
        reveal: bool,
    },
    /// `WHOIS`: one user, every room it is in.
    WhoisUser {
        member: Member,
        rooms: Vec<(Arc<str>, bool)>,
        idle_secs: u64,
        /// When the session began.
        signon: UnixMillis,
        away: Option<Arc<str>>,
        reconnecting: bool,
        reveal: bool,
    },
    /// Which of the asked names are online (IRC's ISON).
    Online {
        nicks: Vec<Arc<str>>,
    },
    /// The asked users with their addresses (IRC's USERHOST).
    Userhosts {
        users: Vec<Member>,
    },
}
