//! The reactor: one thread, one `mio::Poll`, every socket.
//!
//! # One loop turn, in order
//! Each step is one call in [`Reactor::run`], the method named after the step.
//! 1. **Poll** (`poll_events`) with a timeout taken from the nearest deadline (zero when work is
//!    left over).
//! 2. **Dispatch** (`dispatch`) each event by token: a listening socket accepts (a bounded batch;
//!    each socket has its own token and batch), the signal source starts a shutdown, a connection reads until a short read, `WouldBlock` or its
//!    per-turn budget, decoding lines and handing them to the chat core; writable readiness puts
//!    it on the write list.
//! 3. **Leftover reads** (`leftover_reads`): connections that hit the read budget last turn read
//!    again (edge-triggered readiness will not wake them twice).
//! 4. **Leftover accepts** (`leftover_accepts`): each listening socket whose accept batch ran out
//!    accepts again, for the same reason.
//! 5. **Timers** (`run_timers`): the reactor's (greeting, close deadlines, flood control's pauses,
//!    accept pause) and the chat core's (reconnect grace), then the once-a-second sweep (login and
//!    idle timeouts, soft-queue limits).
//! 6. **Flush** (`flush_pending`): the open broadcast block is sealed, then every connection with
//!    queued output writes it with vectored writes, up to a budget.
//! 7. **Reap** (`reap`): connections marked dead are told to the chat core (whose notices are
//!    queued for the next flush) and removed. Nothing is freed in the middle of the work above.
//! 8. **Storage** (`send_to_storage`): the room events, kept-state changes and queries the chat
//!    core produced this turn go to the storage thread as one batch (one channel send per turn,
//!    never a wait on the disk).
//!    Its answers come back through a `mio::Waker` (token `STORAGE`) and are handed to the chat
//!    core in step 2.
//!
//! 9. **Cluster** (`flush_cluster`, with `--cluster`): rooms opened and closed in the turn are
//!    subscribed and let go, and the room events for other nodes are written to Redis. It also
//!    runs before step 6, so a room's subscription goes out before its first member hears of
//!    the room. What Redis sends (token `CLUSTER`) is handed to the chat core in step 2.
//!
//! After the last step, a shutdown whose connections have all closed ends the loop
//! (`finish_if_shut_down`).
//!
//! Output from the chat core is applied as soon as the core returns: a broadcast is rendered once
//! per wire format among its recipients, the line protocol's bytes after the turn's earlier
//! broadcasts in the open block ([`broadcast`]), and the same bytes are queued for each recipient,
//! lengthening its last queue entry when it already holds the line before. Queue limits are
//! checked as it is queued, against the time the turn began; a connection over them is only
//! *marked* dead and removed in step 7.
//!
//! # Where each step lives
//! `listen.rs` (binding the listeners, their tokens), `accept.rs` (accept batches, admission and
//! refusals; `admission.rs` the budget of connections still waiting to log in), `read.rs`
//! (readiness, reads, the ready-to-read list, decoding, the greeting), `flood.rs` (the token bucket) and `throttle.rs`
//! (the pauses it causes), `output.rs` (the chat core's outbox, queueing, output caps), `wire.rs`
//! (each wire format's bytes for one event), `write.rs` (the write list and flushing), `close.rs`
//! (closing, reaping, goodbyes, shutdown), `timers.rs` (timers and the sweep), `storage.rs` (the
//! storage thread's link), `web.rs` (HTTP and WebSocket, the metrics listener's requests),
//! `proxy.rs` (real client addresses behind a proxy); `conn.rs` is one connection,
//! `outqueue.rs` its output queue, `worklist.rs` the lists of connections with work left in the
//! turn. `net.rs` is the seam to the operating system (`mio`'s sockets and poller, the clock):
//! the server runs on the real ones, the tests also on the simulated kernel of `sim/`.

mod accept;
mod admission;
pub mod broadcast;
mod close;
mod cluster;
pub mod conn;
pub mod flood;
pub mod irc;
mod listen;
pub mod metrics;
pub mod net;
mod output;
pub mod outqueue;
mod proxy;
mod read;
mod reload;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod storage;
mod throttle;
mod timers;
mod tls;
mod web;
mod wire;
mod worklist;
mod write;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::{Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::chat::game::words::WordBank;
use crate::chat::{Chat, ChatSettings, Now, Outbox};
use crate::config::{Config, ListenAddr, ListenKind};
use crate::render::line::Renderer;
use crate::storage::store::Store;
use crate::storage::Storage;
use crate::timer::Timers;
use broadcast::BroadcastBuf;
use conn::Conn;
use flood::FloodLimits;
pub use metrics::ReactorStats;
use net::{Clock, Events, Listener, Poller, Readiness};
use outqueue::QueueLimits;
use timers::{ReactorTimer, SWEEP_EVERY};
use worklist::WorkList;

// The listening sockets' tokens are `listen::token(i)`, below these.
const SIGNALS: Token = Token(usize::MAX - 2);
const STORAGE: Token = Token(usize::MAX - 3);

/// The server: its listeners, their connections and the chat core, driven by one poll loop.
pub struct Reactor {
    cfg: Config,
    poll: Poller,
    /// The listening sockets, registered with `listen::token(index)`; empty once shutting down.
    listeners: Vec<listen::Bound>,
    /// SIGINT and SIGTERM; none in a simulation, which has no signals.
    signals: Option<Signals>,
    /// Every `Instant` the reactor reads, and the wall clock it gives the chat core.
    clock: Clock,
    conns: Slab<Conn>,
    chat: Chat,
    /// The storage thread, unless nothing is kept on disk (`--ephemeral`).
    storage: Option<Storage>,
    /// This node's link to the cluster (`--cluster`).
    cluster: Option<Box<crate::cluster::node::Node>>,
    /// Rooms opened and closed in the turn, for the cluster link (a reused buffer).
    room_changes: Vec<crate::chat::cluster::RoomChange>,
    outbox: Outbox,
    renderer: Renderer,
    /// IRC's renderer, beside the line protocol's.
    irc_renderer: crate::render::irc::IrcRenderer,
    /// When the next IRC OPER password may be checked (see `irc::commands`).
    oper_next: Instant,
    /// IRC connections told of a user's QUIT or NICK while applying the current outbox, so one
    /// sharing several of the user's rooms is told once (see `output::once_per_user`).
    told_once: std::collections::HashSet<(usize, std::sync::Arc<str>)>,
    render_buf: BytesMut,
    /// Broadcast lines, rendered back to back so a recipient's run of them is one slice.
    broadcast: BroadcastBuf,
    scratch: Vec<u8>,
    limits: QueueLimits,
    /// Most file payload bytes queued to one connection before further files are refused.
    file_backlog: usize,
    flood: FloodLimits,
    /// `--clock-offset` in milliseconds, applied to the wall clock the chat core sees.
    clock_offset_ms: i64,
    timers: Timers<ReactorTimer>,
    per_ip: HashMap<IpAddr, usize>,
    /// Connections counted against --max-clients.
    served: usize,
    /// `--max-clients`, or what the open-files limit holds (see `Config::max_clients_for`).
    max_clients: usize,
    /// Bytes queued for output across all connections (their own, without shared file
    /// payloads), against `--max-output-memory`.
    output_bytes: usize,
    /// Connections that have not logged in yet, against `--max-unregistered`.
    unregistered: admission::Unregistered,
    /// Download links start with the address each user connected to (several chat sockets or
    /// one on every interface, and no `--public-url`); otherwise with `renderer.link_base`.
    links_per_conn: bool,
    /// When the current loop turn began: the time output caps are checked against, so queueing a
    /// line reads no clock per recipient.
    turn_began: Instant,
    /// Connections with output to write this turn (step 6).
    pending_writes: WorkList,
    /// Connections that stopped reading at their budget, read again in step 3.
    ready_reads: WorkList,
    doomed: Vec<usize>,
    /// Some listener's accept batch ran out (`listen::Bound::more` says which).
    accept_more: bool,
    accept_paused: bool,
    next_sweep: Instant,
    shutting_down: bool,
    next_serial: u64,
    /// `--tls-cert`'s configuration (replaced on reload; sessions keep the one they began with).
    tls_config: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// TLS handshakes under way, against `--max-tls-handshakes`.
    tls_handshakes: usize,
    /// Plaintext of the read being decrypted (kept for its capacity).
    tls_plain: Vec<u8>,
    pub stats: ReactorStats,
}

/// `--tls-cert` and `--tls-key` read into a configuration, or `None` without them; a bad file
/// is an error naming it.
/// The IRC renderer for `cfg`: its names, and cloaks keyed by the admin key (or a random key
/// for a server with none, whose cloaks then last as long as the process).
fn irc_renderer(cfg: &Config) -> crate::render::irc::IrcRenderer {
    let secret = match cfg.effective_admin_key() {
        Some(key) => key.as_bytes().to_vec(),
        None => {
            let mut random = [0u8; 32];
            let _ = getrandom::getrandom(&mut random);
            random.to_vec()
        }
    };
    crate::render::irc::IrcRenderer {
        server: std::sync::Arc::from(cfg.server_name.as_str()),
        network: std::sync::Arc::from(cfg.network_name.as_str()),
        cloak: crate::render::irc::Cloak::new(&secret),
        version: env!("CARGO_PKG_VERSION"),
        max_text: cfg.max_line,
        max_rooms: usize::try_from(cfg.max_rooms_per_user).unwrap_or(usize::MAX),
        max_targets: usize::try_from(cfg.max_targets).unwrap_or(usize::MAX),
    }
}

fn load_tls(cfg: &Config) -> io::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
    let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) else {
        return Ok(None);
    };
    let config = crate::tls::load(cert, key).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("TLS certificate: {e}"))
    })?;
    log::info!(cert:% = cert.display(), key:% = key.display(); "TLS on");
    Ok(Some(config))
}

/// The operating system a reactor runs on: real sockets, or the simulation's.
struct Parts {
    poll: Poller,
    /// Each listening socket with the kind and address of its listener.
    listeners: Vec<(ListenKind, ListenAddr, Listener)>,
    signals: Option<Signals>,
    clock: Clock,
    storage: Option<Storage>,
    /// The word game's words when already loaded (the simulation starts thousands of
    /// reactors); otherwise loaded from `--words`.
    words: Option<std::sync::Arc<WordBank>>,
    /// What the rooms' recent lines start from (read from the history before its thread runs).
    from_disk: crate::chat::RecentRooms,
    /// The bans, topics and operators kept from before (read likewise).
    kept: crate::chat::kept::KeptState,
    cluster: Option<Box<crate::cluster::node::Node>>,
}

/// The present as the chat core sees it at start (`--clock-offset` applied to the wall clock).
fn wall_now(cfg: &Config) -> Now {
    let now = Now::system();
    Now {
        wall: now
            .wall
            .saturating_add_signed(cfg.clock_offset.saturating_mul(1000)),
        ..now
    }
}

/// What the load of kept state keeps: bans not yet over, grants of the admin key in use, the
/// newest topics and grants within their limits.
fn kept_limits(cfg: &Config) -> crate::storage::store::KeptLimits {
    crate::storage::store::KeptLimits {
        now: wall_now(cfg).wall,
        fingerprint: crate::chat::kept::fingerprint(cfg.effective_admin_key()),
        topics: cfg.max_kept_topics,
        grants: cfg.max_op_grants,
    }
}

impl Reactor {
    /// Binds the listening sockets (SO_REUSEADDR, SO_REUSEPORT with `--reuse-port`, the
    /// configured backlog) and sets up the loop, keeping nothing on disk (see `bind_with_store`).
    pub fn bind(cfg: Config) -> io::Result<Reactor> {
        Reactor::bind_with_store(cfg, None)
    }

    /// As `bind`, and starts the storage thread on `store`: with one, the bans, topics and
    /// operators kept in it come back, and history is on unless `--no-history`; without one
    /// nothing is kept.
    pub fn bind_with_store(cfg: Config, mut store: Option<Store>) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let options = listen::Options {
            backlog: cfg.backlog,
            reuse_port: cfg.reuse_port,
        };
        let listeners = listen::bind_all(&cfg.listeners(), options)?;
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        // The rooms' recent lines start from the history, so the first backlogs and `/history N`
        // after a restart come from memory too (read here, before the storage thread owns it).
        let mut from_disk = match &mut store {
            Some(store) if !cfg.no_history => store
                .recent_rooms(cfg.recent_rooms, cfg.replay_max)
                .map_err(|e| io::Error::other(e.to_string()))?,
            _ => crate::chat::RecentRooms::default(),
        };
        let kept = match &mut store {
            Some(store) => store
                .load_kept(&kept_limits(&cfg))
                .map_err(|e| io::Error::other(e.to_string()))?,
            None => crate::chat::kept::KeptState::default(),
        };
        if !kept.bans.is_empty() || !kept.topics.is_empty() || !kept.grants.is_empty() {
            log::info!(
                bans = kept.bans.len(),
                topics = kept.topics.len(),
                operators = kept.grants.len();
                "kept from before"
            );
        }
        if let Some(keep) = cfg.history_retention() {
            // The storage thread prunes these from the disk as it starts: memory must not
            // show them either.
            let wall = Now::system()
                .wall
                .saturating_add_signed(cfg.clock_offset.saturating_mul(1000));
            let cutoff = crate::storage::store::cutoff(wall, keep);
            for (_, events, _) in &mut from_disk.loaded {
                events.retain(|e| e.at().is_some_and(|at| at >= cutoff));
            }
        }
        let storage = storage::start(store, &cfg, &poll)?;
        let cluster = cluster::node(&cfg)?;
        let parts = Parts {
            poll: Poller::Mio(poll),
            listeners: listeners
                .into_iter()
                .map(|(kind, asked, l)| (kind, asked, Listener::Tcp(l)))
                .collect(),
            signals: Some(signals),
            clock: Clock::System,
            storage,
            words: None,
            from_disk,
            kept,
            cluster,
        };
        Reactor::assemble(cfg, parts)
    }

    /// The reactor on the operating system `parts` stand for: registers the listeners, sets up
    /// the limits and the chat core.
    fn assemble(cfg: Config, parts: Parts) -> io::Result<Reactor> {
        let Parts {
            poll,
            listeners,
            signals,
            clock,
            storage,
            words,
            from_disk,
            kept,
            cluster,
        } = parts;
        let mut bound = Vec::with_capacity(listeners.len());
        for (index, (kind, asked, mut listener)) in listeners.into_iter().enumerate() {
            poll.registry()
                .register(&mut listener, listen::token(index), Interest::READABLE)?;
            // The port actually bound (an address may ask for port 0).
            let addr = listener.local_addr()?;
            bound.push(listen::Bound {
                kind,
                asked,
                addr,
                listener,
                more: false,
            });
        }
        let limits = QueueLimits {
            hard: cfg.max_queue,
            soft: cfg.soft_queue,
            soft_for: cfg.soft_queue_time(),
        };
        let flood = FloodLimits {
            rate: cfg.rate.max(0.0),
            burst: f64::from(cfg.burst),
            kick_after: cfg.flood_kick(),
        };
        let mut chat_settings = ChatSettings::from_config(&cfg);
        chat_settings.history_enabled = storage.is_some() && !cfg.no_history;
        chat_settings.words = match words {
            Some(words) => words,
            None => std::sync::Arc::new(
                WordBank::load(cfg.words.as_deref())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            ),
        };
        let tls_config = load_tls(&cfg)?;
        let mut chat = Chat::new(chat_settings);
        chat.load_recent(from_disk);
        chat.load_kept(kept, wall_now(&cfg));
        let nofile = rlimit::Resource::NOFILE
            .get()
            .map_or(1024, |(soft, _)| soft);
        let max_clients = cfg.max_clients_for(nofile, accept::REFUSED_SLACK);
        log::info!(
            max_clients,
            from = if cfg.max_clients.is_some() { "--max-clients" } else { "open-files limit" },
            open_files = nofile,
            max_unregistered = cfg.max_unregistered.min(max_clients);
            "serving"
        );
        let mut renderer = Renderer::new(cfg.lang, cfg.utc);
        let links_per_conn = match (&cfg.public_url, listen::common_link_base(&bound)) {
            (Some(url), _) => {
                renderer.link_base = std::sync::Arc::from(url.trim_end_matches('/'));
                false
            }
            // With TLS a link's scheme follows the connection's (https inside TLS).
            (None, Some(base)) if tls_config.is_none() => {
                renderer.link_base = std::sync::Arc::from(base);
                false
            }
            (None, _) => true,
        };
        Ok(Reactor {
            chat,
            links_per_conn,
            storage,
            cluster,
            room_changes: Vec::new(),
            flood,
            clock_offset_ms: cfg.clock_offset.saturating_mul(1000),
            renderer,
            irc_renderer: irc_renderer(&cfg),
            oper_next: clock.now(),
            told_once: std::collections::HashSet::new(),
            poll,
            listeners: bound,
            signals,
            conns: Slab::new(),
            outbox: Outbox::default(),
            render_buf: BytesMut::new(),
            broadcast: BroadcastBuf::new(),
            turn_began: clock.now(),
            scratch: vec![0; read::READ_CHUNK],
            limits,
            // Four of the largest files: room for a few at once, bounded whatever a client does.
            file_backlog: usize::try_from(cfg.max_file.saturating_mul(4)).unwrap_or(usize::MAX),
            timers: Timers::new(),
            per_ip: HashMap::new(),
            served: 0,
            max_clients,
            output_bytes: 0,
            unregistered: admission::Unregistered::new(
                cfg.max_unregistered,
                cfg.max_unregistered_per_ip,
            ),
            pending_writes: WorkList::default(),
            ready_reads: WorkList::default(),
            doomed: Vec::new(),
            accept_more: false,
            accept_paused: false,
            next_sweep: clock.now() + SWEEP_EVERY,
            clock,
            shutting_down: false,
            next_serial: 0,
            tls_config,
            tls_handshakes: 0,
            tls_plain: Vec::new(),
            stats: ReactorStats::default(),
            cfg,
        })
    }

    /// The first chat listener's address as bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners
            .iter()
            .find(|b| b.kind.is_chat())
            .map(|b| b.addr)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// Every listening socket's kind and address as bound, chat listeners first (in the order
    /// they were given), then the others.
    pub fn listening(&self) -> Vec<(ListenKind, SocketAddr)> {
        let mut all: Vec<_> = self.listeners.iter().map(|b| (b.kind, b.addr)).collect();
        all.sort_by_key(|&(kind, _)| !kind.is_chat());
        all
    }

    /// Runs until a shutdown signal has been handled and every connection is flushed or timed out.
    /// One pass of the loop is the loop turn of the module's docs, a call a step.
    pub fn run(&mut self) -> io::Result<()> {
        self.join_cluster()?;
        let mut events = self.poll.events(1024);
        while !self.turn(&mut events)? {}
        Ok(())
    }

    /// One loop turn; true once a shutdown has ended the loop.
    fn turn(&mut self, events: &mut Events) -> io::Result<bool> {
        if !self.poll_events(events)? {
            return Ok(false); // a signal interrupted the wait: nothing happened yet
        }
        self.dispatch(events);
        self.leftover_reads();
        self.leftover_accepts();
        self.run_timers();
        // Before the turn's output reaches users: a room's subscription is on its way to Redis
        // before its first member is told they are in it.
        self.flush_cluster();
        self.flush_pending();
        self.reap();
        self.send_to_storage();
        self.flush_cluster();
        self.stats.busy += self.clock.now().saturating_duration_since(self.turn_began);
        Ok(self.finish_if_shut_down())
    }

    /// Waits for events until the nearest deadline and starts the turn's clock; false when a
    /// signal interrupted the wait.
    fn poll_events(&mut self, events: &mut Events) -> io::Result<bool> {
        let timeout = self.poll_timeout();
        match self.poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        }
        self.stats.loop_turns += 1;
        self.turn_began = self.clock.now();
        Ok(true)
    }

    /// Hands each event to its owner by token.
    fn dispatch(&mut self, events: &Events) {
        match events {
            Events::Mio(events) => events.iter().for_each(|e| self.dispatch_one(e)),
            #[cfg(any(test, feature = "sim"))]
            Events::Sim(events) => events.iter().for_each(|e| self.dispatch_one(e)),
        }
    }

    #[inline]
    fn dispatch_one(&mut self, event: &impl Readiness) {
        match event.token() {
            SIGNALS => self.on_signal(),
            STORAGE => self.on_storage_answers(),
            cluster::CLUSTER => self.on_cluster_ready(),
            token => match listen::index(token, self.listeners.len()) {
                Some(index) => self.accept_batch(index),
                None => self.on_readiness(token.0, event),
            },
        }
    }

    /// The time given to the chat core: the monotonic clock, and the wall clock moved by
    /// `--clock-offset`.
    fn now(&self) -> Now {
        Now {
            mono: self.clock.now(),
            wall: self
                .clock
                .wall()
                .saturating_add_signed(self.clock_offset_ms),
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.pending_writes.is_empty() || !self.ready_reads.is_empty() || self.accept_more {
            return Some(Duration::ZERO);
        }
        let mut next = self.next_sweep;
        let storage = self.storage.as_ref().and_then(|h| h.next_send());
        for deadline in [
            self.timers.next_deadline(),
            self.chat.next_deadline(),
            storage,
            self.cluster_deadline(),
        ]
        .into_iter()
        .flatten()
        {
            next = next.min(deadline);
        }
        Some(next.saturating_duration_since(self.clock.now()))
    }
}
