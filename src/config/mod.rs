//! Every flag and limit of the server, its default, and why it has that value; [`file`] loads
//! the same settings from a TOML file (`--config`).

pub mod admin_key;
pub mod file;
pub mod listen;
pub mod reload;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::chat::nick::{ReservedNicks, DEFAULT_RESERVED};
pub use listen::{ListenAddr, ListenKind, ListenSpec};

/// The language of every notice the server writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// English.
    En,
    /// Korean, with the presence wording of the chat programs our first users came from.
    Ko,
}

/// Whether connections from a trusted proxy must start with a PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProxyProtocol {
    /// A trusted proxy may send one (its health checks often do not).
    Optional,
    /// A connection from a trusted proxy without one is refused.
    Required,
}

/// How each line of the activity log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `time=… level=INFO msg="logged in" nick=alice`: key=value fields (logfmt).
    Text,
    /// One JSON object per line, the same fields as keys.
    Json,
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn to_filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Off => log::LevelFilter::Off,
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

/// reactor-chat: a multi-client chat server on one event loop, usable from telnet and nc.
///
/// Every limit below has a default a human user never notices; each one that trips is logged and
/// counted, and the client that tripped it is told why.
#[derive(Debug, Clone, Parser)]
#[command(name = "reactor-chat", version, about, long_about = None)]
pub struct Config {
    /// What to do instead of serving (nothing: serve).
    #[command(subcommand)]
    pub task: Option<Task>,

    /// A TOML file of settings: each key is a flag's name (`max-clients = 5000`); flags given on
    /// the command line override it. reactor-chat.example.toml lists every key.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration (the command line and --config) and exit: 0 if it is good.
    #[arg(long)]
    pub check_config: bool,

    /// Print the effective configuration (defaults included, secrets left out) as a file
    /// --config can load, and exit.
    #[arg(long)]
    pub print_config: bool,

    /// A chat listener's address (repeatable): `:PORT` is every interface (IPv6 and IPv4),
    /// `localhost:PORT` both 127.0.0.1 and ::1, or an IP and a port (`[::]:8080`). Default:
    /// 127.0.0.1:8080, unless --listen names a chat listener. Port 0 picks a free port; each
    /// address bound is printed on stdout, a chat listener's first.
    #[arg(long, value_name = "ADDRESS")]
    pub bind: Vec<ListenAddr>,

    /// A listener as KIND=ADDRESS (repeatable, in addition to --bind): `chat` (the line protocol,
    /// HTTP and WebSocket, in clear and, with --tls-cert, in TLS, as --bind), `tls` (the same
    /// inside TLS only, the 6697/443 convention; needs --tls-cert) or `metrics` (only /metrics,
    /// /status and /healthz over HTTP, to whoever reaches the address: bind it where only the
    /// scraper does). Addresses as for --bind. In a file: [[listen]] tables with `kind` and
    /// `address`.
    #[arg(long, value_name = "KIND=ADDRESS")]
    pub listen: Vec<ListenSpec>,

    /// Let several servers listen on one port and share its connections, the kernel choosing
    /// one per connection (SO_REUSEPORT, on every listener, metrics too). Every process on the
    /// port must set it, and all must run as the same user. Meant for the nodes of one
    /// cluster (--cluster), each with its own --data-dir: servers that are not one cluster are separate
    /// chats, each user meeting only those the kernel gave the same server.
    #[arg(long)]
    pub reuse_port: bool,

    /// Who may read /metrics and /status on a chat listener besides loopback: CIDR blocks,
    /// comma-separated (`10.0.0.0/8`). Judged by the real client address (behind a trusted
    /// proxy, the one it names), so a proxied Internet client is not taken for loopback. A
    /// metrics listener serves everyone who reaches it; /healthz is open everywhere.
    #[arg(long, value_delimiter = ',', value_name = "CIDR")]
    pub metrics_allow: Vec<ipnet::IpNet>,

    /// The certificate chain (PEM, the server's certificate first) that turns TLS on: a
    /// connection whose first byte starts a TLS handshake is served inside TLS, any other as
    /// before, so one port serves telnet, `https://`, `wss://` and `openssl s_client`. Needs
    /// --tls-key. Reloaded on SIGHUP (new handshakes take the new certificate).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC; Ed25519 in PKCS#8).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse clear text: a line user is told to connect with TLS, an HTTP request is sent to
    /// the same address over https://. Needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_only: bool,

    /// Seconds a TLS handshake may take from connect, whatever --login-timeout says: a client
    /// that opens a connection and never finishes its handshake is let go this soon.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub tls_handshake_timeout: u64,

    /// Most TLS handshakes under way at once (each holds a few tens of KiB and costs a key
    /// exchange); a ClientHello beyond it is refused at once. They also count as connections
    /// waiting to log in (--max-unregistered).
    #[arg(long, default_value_t = 256)]
    pub max_tls_handshakes: usize,

    /// Log level for the activity log (stderr, and --log-file).
    #[arg(long, value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// How log lines are written: `text` is key=value fields (`time=… level=INFO msg="logged in"
    /// nick=alice`), `json` one JSON object per line with the same fields.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Also write the activity log to this file (appended).
    #[arg(long)]
    pub log_file: Option<PathBuf>,

    /// Language of server notices.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: Lang,

    /// Show timestamps in UTC instead of the server's local time.
    #[arg(long)]
    pub utc: bool,

    /// The room rules shown in every welcome. Default: a short English or Korean text per --lang.
    #[arg(long)]
    pub rules: Option<String>,

    /// Most connections served at once (logged in or not). One more is told "server full" and
    /// closed. Default: what the process can hold, its open-files limit less a reserve for the
    /// server's own files and for refusals still being told why (an idle logged-in connection
    /// costs under 1 KiB, so descriptors are the real limit).
    #[arg(long)]
    pub max_clients: Option<usize>,

    /// Most connections that have not logged in yet, in all. When full, a new connection still
    /// gets in by displacing the oldest waiting connection of the address that holds the most of
    /// them, so idle connections cannot keep a real user out. Loopback addresses count too.
    #[arg(long, default_value_t = 1024)]
    pub max_unregistered: usize,

    /// Most connections that have not logged in yet from one address (loopback too): room for a
    /// browser's parallel requests and a few people behind one address typing their names.
    #[arg(long, default_value_t = 16)]
    pub max_unregistered_per_ip: usize,

    /// Most bytes queued for output across all connections. Past it, the connections furthest
    /// behind are dropped as slow readers until it is met again: --max-clients times --max-queue
    /// can exceed the machine's memory, this cannot.
    #[arg(long, default_value_t = 512 * 1024 * 1024)]
    pub max_output_memory: usize,

    /// Proxies whose connections may begin with a PROXY protocol header (v1 or v2, as HAProxy,
    /// nginx's stream module and load balancers send it) naming the real client, and whose
    /// Forwarded (RFC 7239) or X-Forwarded-For names it on HTTP and WebSocket requests (the
    /// rightmost address that is not itself a trusted proxy): CIDR blocks, comma-separated
    /// (`127.0.0.1/32,10.0.0.0/8`). Every per-address rule then uses the real address. From
    /// anyone else such a header is refused.
    #[arg(long, value_delimiter = ',', value_name = "CIDR")]
    pub trusted_proxy: Vec<ipnet::IpNet>,

    /// Whether a trusted proxy's connections must start with a PROXY header.
    #[arg(long, value_enum, default_value = "optional")]
    pub proxy_protocol: ProxyProtocol,

    /// Most connections from one IP address. Loopback addresses are exempt unless --limit-loopback,
    /// so local load tests can open thousands of connections.
    #[arg(long, default_value_t = 16)]
    pub max_per_ip: usize,

    /// Apply --max-per-ip to loopback addresses too.
    #[arg(long)]
    pub limit_loopback: bool,

    /// Longest line in bytes after login. Longer lines are refused and discarded without being buffered.
    #[arg(long, default_value_t = 4096)]
    pub max_line: usize,

    /// Longest line in bytes before login: a nickname needs few bytes, so unauthenticated peers get few.
    #[arg(long, default_value_t = 256)]
    pub max_login_line: usize,

    /// Seconds from connect to a completed login: time for a person to read the prompt and choose
    /// a name. Counted from connect, not reset by input; connections that dribble bytes
    /// (slowloris) cannot pile up because waiting connections have their own budget
    /// (--max-unregistered). Checked once a second.
    #[arg(long, default_value_t = 60)]
    pub login_timeout: u64,

    /// Seconds without any input after which a logged-in connection is dropped ("ping timeout").
    /// 0 disables it: people read chat without typing for hours; dead peers are found by TCP keepalive.
    #[arg(long, default_value_t = 0)]
    pub idle_timeout: u64,

    /// TCP keepalive idle seconds (probes every 10 s, 3 probes): how a pulled cable is noticed
    /// without bothering users who only read. 0 disables keepalive.
    #[arg(long, default_value_t = 60)]
    pub keepalive: u64,

    /// Seconds a lost user's nickname is held for them to reconnect and receive what they missed.
    #[arg(long, default_value_t = 120)]
    pub grace: u64,

    /// Most missed lines replayed to a user who reconnects, and most recent lines each room keeps
    /// for those replays (the oldest are dropped first). Each room keeps one copy, shared by all
    /// its members who are away.
    #[arg(long, default_value_t = 200)]
    pub replay_max: usize,

    /// Most bytes of recent lines one room keeps for replays (also bounded by --replay-max):
    /// 200 lines of the longest length fit in about 800 KiB, so long lines are dropped sooner.
    #[arg(long, default_value_t = 256 * 1024)]
    pub recent_bytes: usize,

    /// Rooms nobody is in whose recent lines are kept in memory (the most recently used), so
    /// whoever comes back sees them at once; also how many rooms' newest lines are loaded from
    /// the history at start. Each holds at most --recent-bytes.
    #[arg(long, default_value_t = 64)]
    pub recent_rooms: usize,

    /// Most bytes of whispers and invitations kept for one user who is away (also bounded by
    /// --replay-max lines): what is said to a held user alone is theirs to keep, so it is
    /// bounded per user.
    #[arg(long, default_value_t = 16 * 1024)]
    pub held_own_bytes: usize,

    /// Most sessions held for a reconnect from one address; past it, the address's oldest held
    /// session ends at once ("did not reconnect"). Applies to loopback addresses too. A household
    /// or office behind one address rarely loses more at once.
    #[arg(long, default_value_t = 32)]
    pub max_held_per_ip: usize,

    /// Most sessions held for a reconnect in all; past it, the oldest ends at once. A held session
    /// costs well under 2 KiB, so the default bounds them to about 20 MiB.
    #[arg(long, default_value_t = 10_000)]
    pub max_held: usize,

    /// Rooms one IRC user may be in at once (a line or browser user is always in one): every
    /// room a user holds keeps its recent lines in memory (--recent-bytes), so this bounds what
    /// one connection can make the server hold. A JOIN beyond it gets 405.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms_per_user: u64,

    /// Targets one IRC command may name (`PRIVMSG a,b,c`, `JOIN #a,#b`): a line costs its sender
    /// one flood-control token, so it must not fan out without bound. The others get 407.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub max_targets: u64,

    /// Least time between two IRC OPER password checks, server-wide, in milliseconds: an argon2
    /// check takes tens of milliseconds of the thread that serves everyone, so guessing must
    /// not stall the chat. An OPER sooner gets 464 unchecked.
    #[arg(long, default_value_t = 1000)]
    pub oper_interval_ms: u64,

    /// Rooms with more members than this get their joins, departures and reconnects as one summary
    /// line every --presence-summary-secs instead of a line each (thousands of arrivals would
    /// otherwise cost every member a line per arrival).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub presence_max_room: u64,

    /// Seconds between presence summaries in rooms over --presence-max-room.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub presence_summary_secs: u64,

    /// Joins, departures and reconnects a room is shown one by one per minute (up to a sixth of
    /// them at once); faster than that, as by a client that reconnects in a loop, they come as
    /// summaries as in big rooms. About as fast as a person reads them: a line a second.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub presence_rate: u32,

    /// Hard cap in bytes on one connection's output queue: a client over it is dropped at once.
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_queue: usize,

    /// Soft cap in bytes on one connection's output queue: a client over it for --soft-queue-secs is dropped.
    #[arg(long, default_value_t = 64 * 1024)]
    pub soft_queue: usize,

    /// How long a client may stay over --soft-queue before it is dropped.
    #[arg(long, default_value_t = 10)]
    pub soft_queue_secs: u64,

    /// Milliseconds to wait for a client to speak first before greeting it (HTTP clients speak first).
    #[arg(long, default_value_t = 250)]
    pub greet_delay_ms: u64,

    /// Milliseconds a refused or closing connection is kept half-closed so the peer reads its goodbye
    /// line instead of a reset.
    #[arg(long, default_value_t = 2000)]
    pub linger_ms: u64,

    /// Seconds to flush every queue on SIGINT/SIGTERM before exiting.
    #[arg(long, default_value_t = 5)]
    pub shutdown_timeout: u64,

    /// Listen backlog (the kernel caps it at net.core.somaxconn).
    #[arg(long, default_value_t = 1024)]
    pub backlog: i32,

    /// Most connections accepted per readiness event, so a connect storm cannot starve chat traffic.
    #[arg(long, default_value_t = 256)]
    pub accept_batch: usize,

    /// The key `/op KEY` wants (and `GET /status`). Without one (and without --admin-key-file),
    /// the server makes a random key on first start and keeps it in DATA_DIR/admin-key (mode
    /// 0600; the log says where, never the key), or, with --ephemeral, only in memory, logged once.
    #[arg(long, env = "REACTOR_CHAT_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// Read the admin key from this file's first line (kept out of argv, where other users of
    /// the machine can see it); the file must not be readable by others.
    #[arg(long, value_name = "FILE")]
    pub admin_key_file: Option<PathBuf>,

    /// The first user to log in to an empty server (no sessions and no operator kept from before
    /// a restart) becomes operator, without a key: for a private server. Off by default, as on a
    /// public server that user is whoever connects first.
    #[arg(long)]
    pub first_user_op: bool,

    /// Operators kept across restarts and reconnects (each by its nickname and a hash of its
    /// resume key), the oldest dropped first past this: a server has a few operators, and the
    /// list lives in memory and on disk.
    #[arg(long, default_value_t = 1000)]
    pub max_op_grants: usize,

    /// Nicknames nobody may take, comma-separated; the list replaces the default, and '' reserves
    /// nothing. A user's chat line is just `[12:34] nick: text`, so by default the names a user
    /// would take to pass for the server itself are reserved, in English and Korean. Each name
    /// also covers its case and look-alike variants and itself with separators and digits added
    /// (`Admin`, `r00t`, `server_2`); `*` matches any run of characters (`*serv`). Operators get
    /// no exemption: the server never speaks under a nickname, so nobody needs these names.
    #[arg(long, value_name = "NAMES", default_value = DEFAULT_RESERVED, value_parser = ReservedNicks::parse)]
    pub reserved_nicks: ReservedNicks,

    /// Most pending scheduled messages per user.
    #[arg(long, default_value_t = 20)]
    pub max_schedules: usize,

    /// Furthest a message may be scheduled ahead, in seconds (default 24 h).
    #[arg(long, default_value_t = 24 * 3600)]
    pub schedule_horizon: u64,

    /// Flood control: lines per second each connection may send (0 turns flood control off).
    /// Far above typing speed, so only scripts ever meet it.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,

    /// Flood control: lines a connection may send at once before the rate applies (a paste).
    #[arg(long, default_value_t = 40)]
    pub burst: u32,

    /// Flood control: seconds a client may stay held back before it is disconnected.
    #[arg(long, default_value_t = 30)]
    pub flood_kick_secs: u64,

    /// Largest file one upload may carry, in bytes. A bigger one is refused before its bytes are
    /// read (they are then skipped), so memory per upload stays bounded.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_file: u64,

    /// Bytes held for open file offers, all rooms together; the oldest offer is dropped to make
    /// room for a new one. Each payload is held once, however many people take it.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub file_store: usize,

    /// Most uploads under way at once from one address (each holds up to --max-file bytes until
    /// it completes); one more is refused before its bytes are read.
    #[arg(long, default_value_t = 2)]
    pub max_uploads_per_ip: usize,

    /// Most uploads under way at once in all: with --max-file, what uploads can hold in memory
    /// (64 MiB at the defaults).
    #[arg(long, default_value_t = 64)]
    pub max_uploads: usize,

    /// Seconds a file offer stays open for /accept.
    #[arg(long, default_value_t = 600)]
    pub file_ttl: u64,

    /// Files up to this many bytes are sent to everyone in the room at once instead of offered
    /// (the habit of older chat programs). 0 offers every file.
    #[arg(long, default_value_t = 0)]
    pub auto_accept_max: u64,

    /// The server's name as IRC clients see it: the source of its numerics and notices.
    #[arg(long, default_value = "reactor-chat", value_name = "NAME")]
    pub server_name: String,

    /// The network's name IRC clients show (ISUPPORT's NETWORK, the welcome).
    #[arg(long, default_value = "reactor-chat", value_name = "NAME")]
    pub network_name: String,

    /// IRC OPER credentials, NAME=HASH: a name and an argon2 hash of its password in PHC form
    /// (`reactor-chat hash-password` makes one from a password on standard input), never the
    /// password itself. Repeatable; a successful OPER makes the user an operator, as /op does.
    /// Reloaded on SIGHUP.
    #[arg(long, value_name = "NAME=HASH", value_parser = parse_irc_oper)]
    pub irc_oper: Vec<IrcOper>,

    /// The address users reach the chat port at, for the download links file offers carry
    /// (`https://chat.example.org` behind a proxy). Default: `http://` and the chat listener's
    /// address, or, with several chat sockets or one on every interface (:PORT, 0.0.0.0, ::),
    /// the address each user connected to.
    #[arg(long)]
    pub public_url: Option<String>,

    /// Longest HTTP request head on the chat port, in bytes (browsers send well under 4 KiB); a
    /// longer one gets `431` before more is read.
    #[arg(long, default_value_t = 8 * 1024)]
    pub max_http_head: usize,

    /// Seconds between the word game's hints (one more letter each time).
    #[arg(long, default_value_t = 15)]
    pub hint_interval: u64,

    /// More words for the game: a file of CATEGORY<TAB>WORD lines, added to the built-in lists.
    #[arg(long)]
    pub words: Option<PathBuf>,

    /// Seconds an invitation to a room stays open.
    #[arg(long, default_value_t = 120)]
    pub invite_ttl: u64,

    /// Shifts the server's wall clock by this many seconds (may be negative). For trying out and
    /// testing `/schedule HH:MM` without waiting for the real time; it does not touch timeouts.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub clock_offset: i64,

    /// Directory of the chat history database, which also keeps the bans, topics and operators
    /// across restarts, and of the generated admin key (created on first start). History is on
    /// by default so that /history works without any set-up. One server at a time: a server
    /// holds DATA_DIR/lock while it runs, and a second one on the directory refuses to start.
    /// When $STATE_DIRECTORY is set, as systemd sets it
    /// for a unit's StateDirectory=, that directory is the default (the first, if it lists several).
    #[arg(long, default_value = "./reactor-chat-data")]
    pub data_dir: PathBuf,

    /// Keep no chat history: no line is stored and /history, /search answer "history-off". Bans,
    /// topics, operators and the generated admin key are still kept in --data-dir.
    #[arg(long)]
    pub no_history: bool,

    /// Write nothing to disk at all: no --data-dir is created, no history, no bans, topics or
    /// operators kept across a restart; a generated admin key lives in memory and is logged once.
    #[arg(long)]
    pub ephemeral: bool,

    /// Topics (and topic locks) of rooms nobody is in that are kept, in memory and in --data-dir,
    /// for the room's return; the oldest set is dropped first past this. Anyone can make rooms,
    /// so this bounds what they can make the server keep (a topic costs well under 1 KiB).
    #[arg(long, default_value_t = 10_000)]
    pub max_kept_topics: usize,

    /// Most milliseconds between a line reaching its room and its commit to disk. Lines are
    /// committed in batches (one transaction each), so a crash (kill -9) loses at most this much.
    #[arg(long, default_value_t = 200)]
    pub flush_ms: u64,

    /// Delete history older than this many days (checked at start and hourly). 0 keeps everything.
    #[arg(long, default_value_t = 0)]
    pub history_days: u64,

    /// Most history lines waiting to be written (the storage thread behind a saturated CPU or a
    /// slow disk); past it, lines are not stored (counted and logged) rather than held in memory.
    #[arg(long, default_value_t = 500_000)]
    pub history_max_waiting: usize,

    /// Lines a second above which the search index waits for the burst to end (storing costs the
    /// relay a third as much meanwhile; /search still finds every line). 0: index at once, always.
    #[arg(long, default_value_t = 100_000)]
    pub index_defer_above: usize,

    /// Most stored lines left waiting for the search index during a burst; past it they are
    /// indexed during the burst too. Only rows on disk wait, no memory.
    #[arg(long, default_value_t = 4_000_000)]
    pub max_unindexed: usize,

    /// Most of a room's lines waiting for the search index that one /search reads (newest
    /// first); older waiting lines are found once indexed. Bounds a search's work in a burst.
    #[arg(long, default_value_t = 250_000)]
    pub search_max_unindexed: usize,

    /// Most lines one /search reads from the blocks the index returns before it answers with
    /// what it found (words each common but seldom in one line are in most blocks).
    #[arg(long, default_value_t = 20_000)]
    pub search_max_examined: usize,

    /// Lines of the room's history shown on login and on /join (0 shows none). Named apart from
    /// --backlog, which is the listen backlog.
    #[arg(long, default_value_t = 10)]
    pub backlog_lines: usize,

    /// Join a cluster of reactor-chat nodes through Redis (7 or later):
    /// redis://[user:password@]host[:port][/db]. Users of every node then share rooms. Without
    /// it nothing is shared and no Redis is needed.
    #[arg(long, value_name = "URL", value_parser = parse_cluster_url)]
    pub cluster: Option<String>,

    /// This node's id among the cluster's nodes (0 to 1023; message ids carry it). With
    /// --cluster it is claimed in Redis at start, and refused while a live node holds it; unset,
    /// the node claims a free one.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..1024))]
    pub node_id: Option<u16>,

    /// Seconds within which a cluster node that stops answering (killed, or cut off from
    /// Redis) has its users shown as lost on the other nodes and its node id freed. Nodes
    /// heartbeat every quarter of this.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub cluster_timeout: u64,

    /// Most bytes of commands queued for Redis; past it (Redis too slow to read them) room events
    /// are not sent to the other nodes, and are counted in reactor_chat_cluster_dropped_total.
    #[arg(long, default_value_t = 8 << 20)]
    pub cluster_max_queued: usize,

    /// The secret this node holds its claimed node id with (see `cluster::claim`): not a flag.
    #[arg(skip)]
    pub cluster_claim: Option<String>,

    /// The admin key the server made itself (see `admin_key::resolve`), when none is configured:
    /// not a flag, so a reload keeps it.
    #[arg(skip)]
    pub generated_admin_key: Option<String>,
}

/// `--cluster`'s value, checked as it is given (the link parses it again where it connects).
fn parse_cluster_url(value: &str) -> Result<String, String> {
    value
        .parse::<crate::cluster::redis::RedisUrl>()
        .map(|_| value.to_string())
}

/// The chat listener when none is given: loopback only, so a first start exposes nothing.
pub fn default_bind() -> ListenAddr {
    ListenAddr::Ip(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)))
}

/// The variable systemd sets to the directories of a unit's `StateDirectory=` (under /var/lib,
/// owned by the service's user): `--data-dir`'s default when it is set, so a unit needs no flag.
pub const STATE_DIRECTORY: &str = "STATE_DIRECTORY";

/// `--data-dir`'s default for `$STATE_DIRECTORY` holding `value`: its first directory (systemd
/// joins them with `:` when a unit names several), or `None` when it is unset or empty, which
/// leaves `./reactor-chat-data`. The value is a parameter, not read here, so tests need not
/// touch the process's environment.
pub fn data_dir_from_state_directory(value: Option<&OsStr>) -> Option<PathBuf> {
    let first = std::env::split_paths(value?).next()?;
    (!first.as_os_str().is_empty()).then_some(first)
}

/// Descriptors kept back from `--max-clients`' default: the listener, the poll, the signal pipe,
/// the storage thread's database files, the log file, with room to spare.
const RESERVED_FDS: u64 = 64;

/// A task the binary does instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Task {
    /// Copy the history database (in --data-dir, with the bans, topics and operators it keeps)
    /// to FILE, a consistent snapshot even while a server is running on it, then exit. Restore:
    /// stop the server, put the copy in place of DATA_DIR/history.sqlite3 (removing
    /// history.sqlite3-wal and -shm), start it. A generated admin key is DATA_DIR/admin-key:
    /// copy that file too.
    Backup {
        /// Where the copy goes; it must not exist yet.
        file: PathBuf,
    },
    /// Read a password from standard input (one line) and print its argon2 hash, for
    /// `--irc-oper NAME=HASH`, then exit: the password itself never goes into argv or a file.
    HashPassword,
}

impl Config {
    /// `--max-clients`, or by default what an open-files limit of `nofile` can hold: less the
    /// reserve and the refused connections that linger to read why (`refused_slack`).
    pub fn max_clients_for(&self, nofile: u64, refused_slack: usize) -> usize {
        self.max_clients.unwrap_or_else(|| {
            let held_back = RESERVED_FDS + refused_slack as u64;
            usize::try_from(nofile.saturating_sub(held_back).max(1)).unwrap_or(usize::MAX)
        })
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_timeout)
    }
    pub fn login_timeout(&self) -> Duration {
        Duration::from_secs(self.login_timeout)
    }
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout))
    }
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace)
    }
    pub fn cluster_timeout(&self) -> Duration {
        Duration::from_secs(self.cluster_timeout)
    }
    pub fn soft_queue_time(&self) -> Duration {
        Duration::from_secs(self.soft_queue_secs)
    }
    pub fn greet_delay(&self) -> Duration {
        Duration::from_millis(self.greet_delay_ms)
    }
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
    pub fn flood_kick(&self) -> Duration {
        Duration::from_secs(self.flood_kick_secs)
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }
    /// How long a history line may wait before its batch is committed (at least 1 ms).
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_ms.max(1))
    }
    /// How long history is kept, or `None` for ever.
    pub fn history_retention(&self) -> Option<Duration> {
        (self.history_days > 0).then(|| Duration::from_secs(self.history_days * 86_400))
    }

    /// The rules text shown at login.
    pub fn rules_text(&self) -> String {
        match (&self.rules, self.lang) {
            (Some(rules), _) => rules.clone(),
            (None, Lang::En) => "be kind; no flooding, no spam.".to_string(),
            (None, Lang::Ko) => "서로 존중해 주세요. 도배와 스팸은 금지입니다.".to_string(),
        }
    }

    /// The key `/op` and `GET /status` want: the configured one, else the generated one.
    pub fn effective_admin_key(&self) -> Option<&str> {
        self.admin_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .or(self.generated_admin_key.as_deref())
    }

    /// Whether anything is kept on disk (history, bans, topics, operators, the admin key).
    pub fn keeps_state(&self) -> bool {
        !self.ephemeral
    }

    /// Every listener: --bind's (chat) and --listen's, in that order, with 127.0.0.1:8080 when
    /// neither names a chat listener.
    pub fn listeners(&self) -> Vec<ListenSpec> {
        let mut all: Vec<ListenSpec> = self
            .bind
            .iter()
            .map(|&address| ListenSpec {
                kind: ListenKind::Chat,
                address,
            })
            .chain(self.listen.iter().copied())
            .collect();
        if !all.iter().any(|l| l.kind.is_chat()) {
            all.insert(
                0,
                ListenSpec {
                    kind: ListenKind::Chat,
                    address: default_bind(),
                },
            );
        }
        all
    }

    /// Whether `ip` may read /metrics and /status on a chat listener (loopback, --metrics-allow).
    pub fn metrics_allowed(&self, ip: std::net::IpAddr) -> bool {
        ip.is_loopback() || self.metrics_allow.iter().any(|net| net.contains(&ip))
    }

    /// Whether `ip` is a trusted proxy's address (`--trusted-proxy`).
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxy.iter().any(|net| net.contains(&ip))
    }

    /// A configuration with every default, for tests and benchmarks of the core.
    pub fn for_tests() -> Config {
        Config::parse_from(["reactor-chat"])
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::PathBuf;

    use super::data_dir_from_state_directory as from;

    #[test]
    fn the_state_directory_is_the_data_dir_default_and_its_first_entry_wins() {
        assert_eq!(
            from(Some(OsStr::new("/var/lib/reactor-chat"))),
            Some(PathBuf::from("/var/lib/reactor-chat"))
        );
        // StateDirectory=reactor-chat other: systemd joins the two with a colon.
        assert_eq!(
            from(Some(OsStr::new("/var/lib/reactor-chat:/var/lib/other"))),
            Some(PathBuf::from("/var/lib/reactor-chat"))
        );
        assert_eq!(from(None), None);
        assert_eq!(from(Some(OsStr::new(""))), None);
        assert_eq!(from(Some(OsStr::new(":/var/lib/other"))), None);
    }
}

/// One `--irc-oper`: an OPER name and the argon2 hash its password must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcOper {
    pub name: String,
    /// The PHC string (`$argon2id$v=19$...`), checked to parse when the flag is read.
    pub hash: String,
}

impl IrcOper {
    /// Whether `password` is this operator's.
    pub fn verifies(&self, password: &str) -> bool {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&self.hash).is_ok_and(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    }
}

impl std::fmt::Display for IrcOper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.hash)
    }
}

fn parse_irc_oper(text: &str) -> Result<IrcOper, String> {
    let (name, hash) = text
        .split_once('=')
        .ok_or("give NAME=HASH (make the hash with `reactor-chat hash-password`)")?;
    if name.is_empty() || name.contains(' ') {
        return Err("an OPER name is one word".into());
    }
    argon2::password_hash::PasswordHash::new(hash).map_err(|e| {
        format!("{e}: the hash is an argon2 PHC string, as `reactor-chat hash-password` prints")
    })?;
    Ok(IrcOper {
        name: name.to_string(),
        hash: hash.to_string(),
    })
}

/// An argon2id PHC hash of `password` with a random salt, for `--irc-oper`.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}
