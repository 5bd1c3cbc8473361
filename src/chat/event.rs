//! What the chat core says: events as plain data.
//!
//! Nothing here knows about sockets or wire formats. Every event could be serialised and sent to
//! another node unchanged; `render` turns one into a protocol line (see PROTOCOL.md).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;

use super::help::HelpEntry;
use super::history::HistoryWhat;
use super::id::MsgId;

/// Milliseconds since the Unix epoch: wall-clock time as plain data.
pub type UnixMillis = u64;

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
    /// An operator's `/kick` or `/ban`.
    Kicked {
        by: Arc<str>,
        reason: Option<Arc<str>>,
    },
}

/// Why the server ends a connection; rendered as the `-- bye` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bye {
    Quit {
        nick: Arc<str>,
    },
    ServerFull {
        max: usize,
    },
    TooManyFromAddress {
        max: usize,
    },
    LoginTimeout {
        secs: u64,
    },
    PingTimeout {
        secs: u64,
    },
    ShuttingDown,
    ResumedElsewhere,
    Kicked {
        by: Arc<str>,
        reason: Option<Arc<str>>,
    },
    Banned {
        minutes_left: u64,
    },
    ExcessFlood,
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
        }
    }
}

impl Bye {
    /// Whether reconnecting makes sense after this goodbye.
    pub fn may_reconnect(&self) -> bool {
        match self {
            Bye::Quit { .. }
            | Bye::TooManyFromAddress { .. }
            | Bye::Kicked { .. }
            | Bye::Banned { .. }
            // The session lives on elsewhere; coming back would only take it back again.
            | Bye::ResumedElsewhere => false,
            Bye::ServerFull { .. }
            | Bye::LoginTimeout { .. }
            | Bye::PingTimeout { .. }
            | Bye::ShuttingDown
            | Bye::ExcessFlood => true,
        }
    }
}

/// Why a request was refused: rendered as `! code: text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NickInvalid(super::nick::NickError),
    NickTaken {
        nick: Arc<str>,
        lookalike: bool,
    },
    NickHeld {
        nick: Arc<str>,
        secs_left: u64,
        wrong_key: bool,
    },
    NickBanned {
        nick: Arc<str>,
        minutes_left: u64,
    },
    LineTooLong {
        max: usize,
    },
    InvalidUtf8,
    UnknownCommand {
        command: Arc<str>,
    },
    /// A command without the arguments it needs.
    Usage(&'static HelpEntry),
    NoSuchUser {
        nick: Arc<str>,
    },
    /// Whispering, kicking or banning yourself.
    BadTarget,
    AlreadyThere {
        room: Arc<str>,
    },
    BadRoom {
        max_chars: usize,
    },
    TopicLocked {
        room: Arc<str>,
    },
    NotOperator,
    BadKey,
    NoAdminKey,
    BadTime {
        horizon_secs: u64,
    },
    TooManySchedules {
        max: usize,
    },
    NoSuchSchedule {
        id: Arc<str>,
    },
    /// Flood control started delaying this connection's lines.
    Flood,
    /// `/history` or `/search` on a server started with `--no-history`.
    HistoryOff,
    /// The history could not be read (the store logged why).
    HistoryFailed,
    /// `/history` with something that is neither a count nor a `YYYY-MM-DD` date.
    BadDate,
}

/// One entry of a user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub nick: Arc<str>,
    pub op: bool,
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
    /// The sender's copy of a whisper.
    WhisperSent {
        to: Arc<str>,
        text: Arc<str>,
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
    /// `/topic` without text.
    Topic {
        room: Arc<str>,
        topic: Option<(Arc<str>, Arc<str>)>,
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

/// One line of a leaderboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreEntry {
    pub nick: Arc<str>,
    pub points: u64,
    pub wins: u64,
}

/// What the chat core says about the word game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GameNotice {
    /// To the room: a round began.
    Started {
        at: UnixMillis,
        room: Arc<str>,
        by: Arc<str>,
        category: Arc<str>,
        mask: Arc<str>,
        letters: usize,
        hint_secs: u64,
    },
    /// To the room: one more letter.
    Hint {
        at: UnixMillis,
        room: Arc<str>,
        mask: Arc<str>,
    },
    /// To the room: somebody guessed it. Stored in the history: the scores are read from there.
    Won {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        nick: Arc<str>,
        word: Arc<str>,
        points: u32,
        secs: u64,
    },
    /// To the room: nobody guessed it in time.
    TimeUp {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        word: Arc<str>,
    },
    /// To the room: the round was stopped.
    Stopped {
        id: MsgId,
        at: UnixMillis,
        room: Arc<str>,
        by: Arc<str>,
        word: Arc<str>,
    },
    /// `/game` with no round running, or `/game status`.
    Status {
        room: Arc<str>,
        round: Option<(Arc<str>, Arc<str>)>,
    },
    /// `/game categories`.
    Categories {
        list: Vec<(Arc<str>, usize)>,
    },
    /// `/score`: the room's leaderboard, best first.
    Leaderboard {
        room: Arc<str>,
        entries: Vec<ScoreEntry>,
    },
    /// `/score NICK`.
    PlayerScore {
        room: Arc<str>,
        entry: ScoreEntry,
    },
    // Refusals.
    AlreadyRunning {
        room: Arc<str>,
    },
    NoRound,
    NoSuchCategory {
        name: Arc<str>,
    },
    /// Only the player who started the round, or an operator, may stop it.
    NotYours {
        by: Arc<str>,
    },
}

/// What the chat core says about invitations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteNotice {
    /// To the invited user.
    Invited {
        from: Arc<str>,
        room: Arc<str>,
        secs: u64,
    },
    /// To the inviter.
    Sent { to: Arc<str>, room: Arc<str> },
    /// To the inviter.
    Accepted { by: Arc<str>, room: Arc<str> },
    /// To the inviter.
    Declined { by: Arc<str> },
    /// To the inviter: the invitation ran out.
    Expired { to: Arc<str>, room: Arc<str> },
    /// To the invited user who declined.
    YouDeclined { from: Arc<str> },
    /// `/invites on|off`.
    Setting { on: bool },
    // Refusals.
    /// The target refuses all invitations.
    Refuses { nick: Arc<str> },
    /// The target is already in that room.
    AlreadyThere { nick: Arc<str>, room: Arc<str> },
    /// `/accept-invite` or `/decline-invite` with nothing pending (from that nick).
    NoneFrom { nick: Option<Arc<str>> },
}

/// One entry of `/files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub id: u64,
    pub from: Arc<str>,
    pub name: Arc<str>,
    pub size: u64,
    pub secs_left: u64,
}

/// What the chat core says about shared files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileNotice {
    /// To the room: `from` offers a file (and, with auto-accept, is sending it to everyone).
    Offered {
        at: UnixMillis,
        room: Arc<str>,
        from: Arc<str>,
        id: u64,
        name: Arc<str>,
        size: u64,
        pushed: bool,
    },
    /// The file itself: a header line, then exactly `payload.len()` raw bytes. The payload is
    /// the one shared buffer every recipient's queue points at.
    Data {
        id: u64,
        from: Arc<str>,
        name: Arc<str>,
        payload: Bytes,
    },
    /// To the sender: the upload arrived and is offered.
    OfferUp {
        id: u64,
        name: Arc<str>,
        size: u64,
        room: Arc<str>,
        ttl_secs: u64,
    },
    /// To the sender: `by` said no thanks.
    DeclinedBy {
        id: u64,
        name: Arc<str>,
        by: Arc<str>,
    },
    /// To a user who declined.
    Declined { id: u64 },
    /// To the sender: the offer's lifetime ended.
    Expired { id: u64, name: Arc<str> },
    /// To the sender: the offer was dropped to make room for newer files.
    Evicted { id: u64, name: Arc<str> },
    /// `/files`.
    List { entries: Vec<FileEntry> },
    /// Refused before its bytes are read: over `--max-file` (or the whole store). The declared
    /// bytes are skipped.
    TooLarge { name: Arc<str>, size: u64, max: u64 },
    /// `/file` with a size that is not a positive number: nothing is skipped.
    BadSize { size: Arc<str> },
    /// A file name with nothing usable in it; the declared bytes are skipped.
    BadName,
    /// `/accept` or `/decline` of an id that is not open.
    NoSuchFile { id: Arc<str> },
    /// The offer belongs to another room.
    OtherRoom { id: u64, room: Arc<str> },
    /// Too many file bytes are still on their way to this connection.
    Busy { queued: u64 },
    /// Raw bytes (a WebSocket binary message) with no upload under way: ignored.
    UnexpectedBytes { len: u64 },
}

/// Who came and went in a big room since the last summary (see `Chat::announce_presence`).
/// Names are listed in the order they arrived, up to [`PresenceSummary::NAMES_SHOWN`]; the totals
/// count everybody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSummary {
    pub id: MsgId,
    pub at: UnixMillis,
    pub room: Arc<str>,
    /// Joined or reconnected.
    pub joined: Vec<Arc<str>>,
    pub joined_total: usize,
    /// Left, lost the connection, or went to another room.
    pub left: Vec<Arc<str>>,
    pub left_total: usize,
    /// Members of the room with a live connection when the summary was sent.
    pub members: usize,
}

impl PresenceSummary {
    /// Names a summary lists before "and N more".
    pub const NAMES_SHOWN: usize = 5;
}

impl Event {
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
