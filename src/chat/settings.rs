//! The chat core's settings (a subset of the server's configuration) and its counters.

use std::sync::Arc;
use std::time::Duration;

use super::game::words::WordBank;
use super::nick::ReservedNicks;
use super::room::recent::RecentLimits;

/// The chat core's settings (a subset of the server's configuration).
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub grace: Duration,
    /// Most lines a reconnect replays, and most lines a room keeps for replays.
    pub replay_max: usize,
    /// Most bytes of recent lines one room keeps (`--recent-bytes`).
    pub recent_bytes: usize,
    /// Rooms nobody is in whose recent lines are kept for their return (`--recent-rooms`).
    pub recent_rooms: usize,
    /// Most bytes of whispers and invitations kept for one held session (`--held-own-bytes`).
    pub held_own_bytes: usize,
    /// Most sessions held for a reconnect, from one address and in all (`--max-held-per-ip`,
    /// `--max-held`).
    pub max_held_per_ip: usize,
    pub max_held: usize,
    pub rules: Arc<str>,
    /// The node id in message ids; unique per node when several share storage.
    pub node_id: u16,
    /// `/schedule HH:MM` means UTC rather than server-local time.
    pub utc: bool,
    /// The key `/op` wants (configured or generated at start); `None` only with
    /// `--first-user-op` and no key, when `/op` is refused.
    pub admin_key: Option<String>,
    /// The first user of an empty server, with no operator kept from before, is operator
    /// (`--first-user-op`).
    pub first_user_op: bool,
    /// Most operator grants kept (`--max-op-grants`).
    pub max_op_grants: usize,
    /// Most closed rooms' topics kept (`--max-kept-topics`).
    pub max_kept_topics: usize,
    /// Names refused at login and `/nick` (`--reserved-nicks`), compiled once at start.
    pub reserved_nicks: Arc<ReservedNicks>,
    pub max_schedules: usize,
    pub schedule_horizon: Duration,
    /// Largest file one upload may carry.
    pub max_file: u64,
    /// Payload bytes held for open offers, all rooms together.
    pub file_store: usize,
    /// Uploads under way from one address and in all (`--max-uploads-per-ip`, `--max-uploads`).
    pub max_uploads_per_ip: usize,
    pub max_uploads: usize,
    /// How long an offer stays open.
    pub file_ttl: Duration,
    /// Files up to this size are sent to the whole room at once (0: every file is offered).
    pub auto_accept_max: u64,
    /// The word game's lists.
    pub words: Arc<WordBank>,
    /// Time between the game's hints.
    pub hint_interval: Duration,
    /// How long an invitation stays open.
    pub invite_ttl: Duration,
    /// Room events are stored and `/history`, `/search` work (off with `--no-history` and
    /// `--ephemeral`).
    pub history_enabled: bool,
    /// History lines shown on login and `/join` (`--backlog-lines`).
    pub backlog_lines: usize,
    /// Most bytes one history reply may queue for its asker: a quarter of `--max-queue`, so a
    /// reply of long lines is cut rather than getting its reader dropped for overflowing.
    pub history_budget: usize,
    /// Rooms with more members than this get presence summaries (`--presence-max-room`).
    pub presence_max_room: usize,
    /// Rooms a session that keeps rooms may be in at once (`--max-rooms-per-user`).
    pub max_rooms_per_user: usize,
    /// How often a big room's presence summary goes out (`--presence-summary-secs`).
    pub presence_every: Duration,
    /// Presence lines a room is shown one by one per minute before they are summarised
    /// (`--presence-rate`).
    pub presence_rate: u32,
    /// This node is one of a cluster (`--cluster`): the room events it originates are also
    /// published for the other nodes, and it is told theirs.
    pub cluster: bool,
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
            recent_bytes: cfg.recent_bytes,
            recent_rooms: cfg.recent_rooms,
            held_own_bytes: cfg.held_own_bytes,
            max_held_per_ip: cfg.max_held_per_ip,
            max_held: cfg.max_held,
            rules: Arc::from(cfg.rules_text()),
            node_id: cfg.node_id.unwrap_or(0),
            utc: cfg.utc,
            admin_key: cfg.effective_admin_key().map(str::to_string),
            first_user_op: cfg.first_user_op,
            max_op_grants: cfg.max_op_grants,
            max_kept_topics: cfg.max_kept_topics,
            reserved_nicks: Arc::new(cfg.reserved_nicks.clone()),
            max_schedules: cfg.max_schedules,
            schedule_horizon: Duration::from_secs(cfg.schedule_horizon),
            max_file: cfg.max_file,
            file_store: cfg.file_store,
            file_ttl: Duration::from_secs(cfg.file_ttl),
            max_uploads_per_ip: cfg.max_uploads_per_ip,
            max_uploads: cfg.max_uploads,
            auto_accept_max: cfg.auto_accept_max,
            words: Arc::new(WordBank::builtin()),
            hint_interval: Duration::from_secs(cfg.hint_interval.max(1)),
            invite_ttl: Duration::from_secs(cfg.invite_ttl),
            history_enabled: !cfg.no_history && !cfg.ephemeral,
            backlog_lines: cfg.backlog_lines,
            history_budget: cfg.max_queue / 4,
            presence_max_room: usize::try_from(cfg.presence_max_room).unwrap_or(usize::MAX),
            max_rooms_per_user: usize::try_from(cfg.max_rooms_per_user).unwrap_or(usize::MAX),
            presence_every: Duration::from_secs(cfg.presence_summary_secs),
            presence_rate: cfg.presence_rate,
            cluster: cfg.cluster.is_some(),
        }
    }

    /// What each room keeps of its recent lines.
    pub fn recent_limits(&self) -> RecentLimits {
        RecentLimits {
            lines: self.replay_max,
            bytes: self.recent_bytes,
        }
    }
}

/// Counters for the activity log and metrics.
#[derive(Debug, Default, Clone)]
pub struct ChatStats {
    pub logins: u64,
    /// Joins refused by --max-rooms-per-user.
    pub rooms_per_user_refused: u64,
    pub resumes: u64,
    pub messages: u64,
    pub refused_logins: u64,
    /// Logins and renames refused because the name is reserved for the server.
    pub reserved_nicks: u64,
    pub grace_expired: u64,
    /// Held sessions ended early because `--max-held-per-ip` or `--max-held` was reached.
    pub held_dropped: u64,
    pub whispers: u64,
    pub kicks: u64,
    pub scheduled_sent: u64,
    pub files_offered: u64,
    pub files_refused: u64,
    pub files_sent: u64,
    /// Closed rooms' topics forgotten past `--max-kept-topics`.
    pub topics_dropped: u64,
    /// Operator grants dropped past `--max-op-grants`.
    pub grants_dropped: u64,
    /// Sessions that moved here from another node of the cluster, and away to another.
    pub moved_in: u64,
    pub moved_away: u64,
}
