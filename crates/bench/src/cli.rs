//! Command-line flags, the named presets, and the resolved [`Scenario`] a run follows.
//!
//! A preset fills in every scenario field; any flag given explicitly overrides it, so
//! `--preset saturate --duration 5s` is the saturate scenario, shorter.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Connections the bench opens at most: the process may hold 20,000 descriptors, and the spawned
/// server's pipe and the poll instance need a few.
pub const MAX_CONNECTIONS: usize = 19_000;
/// Longest message text: the server's default `--max-line` is 4096.
pub const MAX_SIZE: usize = 4000;

#[derive(Debug, Parser)]
#[command(
    name = "reactor-chat-bench",
    version,
    about = "Load clients for reactor-chat: many connections on one mio loop, per-sender order and loss checks, HDR latency."
)]
pub struct Args {
    /// Server to load (ignored with --spawn-server). Repeatable: client i connects to the
    /// (i mod n)th address. Several addresses must be nodes of one cluster, whose rooms span
    /// them, or one server reached several ways (127.0.0.1:PORT and [::1]:PORT of a server
    /// bound to localhost:PORT): every receiver is still owed every message sent to its room,
    /// so separate servers would show the lines that never crossed between them as lost.
    /// Clients of [::1] all come from ::1, and reactor-chat lets one address have 16 logging
    /// in at once: start it with --max-unregistered-per-ip above --max-pending.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: Vec<SocketAddr>,
    /// A named scenario; the flags below override its fields.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Connections opened and logged in before the load starts.
    #[arg(long)]
    pub clients: Option<usize>,
    /// How many of the clients send (the first N).
    #[arg(long)]
    pub senders: Option<usize>,
    /// Messages per second per sender; 0 sends as fast as the server takes them, with at most
    /// --inflight unacknowledged per sender.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Unpaced mode: messages a sender may have in flight (sent, not yet seen by its designated
    /// receiver). The handshakes preset: handshakes under way at once.
    #[arg(long)]
    pub inflight: Option<u32>,
    /// Bytes of message text (at least 29: the stamp).
    #[arg(long)]
    pub size: Option<usize>,
    /// Length of the measured window (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Load before measuring starts.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// New connections per second (0: as fast as they log in, at most --max-pending pending).
    #[arg(long)]
    pub connect_rate: Option<f64>,
    /// Connections opened and not yet logged in, at most (default 1,000; 256 with --tls, the
    /// server's cap on handshakes under way). ngIRCd takes 10: its listen backlog is 10, and
    /// connects past it have their SYNs dropped and retried seconds later.
    #[arg(long)]
    pub max_pending: Option<usize>,
    /// Spread clients over N rooms with /join (1: everybody stays in the lobby).
    #[arg(long)]
    pub rooms: Option<usize>,
    /// Mix in files: every Nth message of each sender is a file upload instead, which every
    /// other member of the room accepts (0: no files).
    #[arg(long)]
    pub files: Option<u64>,
    /// Bytes of each mixed-in file (--files).
    #[arg(long)]
    pub file_size: Option<usize>,
    /// Extra clients that connect and log in while the load runs (joinstorm).
    #[arg(long)]
    pub joiners: Option<usize>,
    /// Connections held open without ever logging in, from 100 loopback addresses, opened before
    /// the measurement (idleflood): what well-behaved users' latency is under such a flood.
    /// They never send a byte, so with --tls they are what they are in clear: connections
    /// that never start a handshake.
    #[arg(long)]
    pub idle_flood: Option<usize>,
    /// The server's pid, for its CPU time and resident memory from /proc. Repeatable, one per
    /// server process (in the order of their --addr; processes sharing one port with
    /// --reuse-port are several behind one address): the report gives each one's figures and
    /// their sum, and the CPU per delivery is the sum's.
    #[arg(long, value_name = "PID")]
    pub server_pid: Vec<u32>,
    /// Start this reactor-chat binary on 127.0.0.1:0 with load flags (--rate 0, --max-clients
    /// sized to the run) and stop it afterwards; implies --server-pid. One server: not with
    /// several --addr.
    #[arg(long)]
    pub spawn_server: Option<String>,
    /// An extra flag for the spawned server (repeatable), e.g. --server-arg=--max-queue=1048576
    /// (with --redis, a redis-server flag).
    #[arg(long, allow_hyphen_values = true)]
    pub server_arg: Vec<String>,
    /// What the clients speak. `line`: reactor-chat's line protocol. `irc`: IRC, to
    /// reactor-chat's IRC front end or any IRC server (crates/bench/peers/ has ngIRCd and
    /// InspIRCd configurations): NICK and USER, JOIN #r<room> (not in idle10k), PRIVMSG #r<room>,
    /// every PING answered. With --spawn-server, PATH is still reactor-chat; start another IRC
    /// server yourself and give --addr and --server-pid (crates/bench/scripts/irc-rounds.sh does).
    #[arg(long, value_enum, default_value = "line")]
    pub proto: Proto,
    /// The server is Redis, for side-by-side figures: each client subscribes to its room's
    /// channel and senders PUBLISH to it, on one RESP3 connection per client (HELLO 3). With
    /// --spawn-server, PATH is a redis-server binary, started with persistence off.
    #[arg(long)]
    pub redis: bool,
    /// Every connection (clients, joiners, file transfers, handshakes) through TLS. With
    /// --spawn-server the bench makes a throw-away self-signed certificate, starts the server
    /// with it and trusts only it; against another server give --ca.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: the PEM certificate(s) to trust (the server's own, or its CA).
    #[arg(long, value_name = "PEM", requires = "tls")]
    pub ca: Option<PathBuf>,
    /// With --tls: the name sent by SNI and checked against the certificate.
    #[arg(long, value_name = "NAME", requires = "tls", default_value = crate::tls::DEFAULT_NAME)]
    pub tls_name: String,
    /// Print the report as JSON on stdout (the progress line stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// What the clients speak (`--proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    /// reactor-chat's line protocol.
    Line,
    /// IRC (RFC 1459 registration, channels and PRIVMSG).
    Irc,
}

/// The questions the presets answer (see BENCHMARKS.md for their figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// 100 clients in one room, all sending 10 msg/s of 64 B: latency at a chat-like load.
    Room100,
    /// 100 clients in one room, all sending unpaced, 16 in flight each: peak deliveries/s.
    Saturate,
    /// 1,000 clients, one unpaced sender with 160 in flight: peak fan-out of one stream.
    Fanout1k,
    /// 10,000 idle logged-in connections: connect rate and server memory per connection.
    Idle10k,
    /// 20 chatters at 10 msg/s while 5,000 more log in: time until all are in, chatters' p99.
    Joinstorm,
    /// One 1 MiB file accepted by 200 receivers at once: fan-out throughput and server memory.
    Filefanout,
    /// 20 chatters at 10 msg/s while 2,000 connections from 100 addresses are held open without
    /// logging in: the chatters' latency under an idle-connection flood.
    Idleflood,
    /// Full TLS 1.3 handshakes, 64 under way at once (--inflight): connect, handshake,
    /// close_notify, close, again, for --duration; handshakes/s and CPU per handshake. Needs --tls.
    Handshakes,
}

/// Everything a run needs to know, presets and flags resolved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scenario {
    pub name: String,
    pub clients: usize,
    pub senders: usize,
    pub rate: f64,
    pub inflight: u32,
    pub size: usize,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    #[serde(serialize_with = "secs")]
    pub warmup: Duration,
    pub connect_rate: f64,
    /// Connections logging in at once, at most (`--max-pending`).
    pub max_pending: usize,
    pub rooms: usize,
    pub joiners: usize,
    pub idle_flood: usize,
    /// Every Nth message per sender is a file (0: none).
    pub files: u64,
    pub file_size: usize,
    /// What the server speaks.
    pub protocol: Protocol,
    /// Every connection inside TLS (`--tls`).
    pub tls: bool,
}

/// The server's protocol: reactor-chat's line protocol, IRC (`--proto irc`, to reactor-chat or
/// another IRC server), or Redis pub/sub for comparison (`--redis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    ReactorChat,
    Irc,
    Redis,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Scenario {
    fn preset(preset: Option<Preset>) -> Scenario {
        let base = Scenario {
            name: "custom".into(),
            clients: 100,
            senders: 100,
            rate: 10.0,
            inflight: 16,
            size: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            connect_rate: 0.0,
            max_pending: crate::driver::MAX_PENDING,
            rooms: 1,
            joiners: 0,
            idle_flood: 0,
            files: 0,
            file_size: 4096,
            protocol: Protocol::ReactorChat,
            tls: false,
        };
        let Some(preset) = preset else {
            return base;
        };
        let name = preset
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        match preset {
            Preset::Room100 => Scenario { name, ..base },
            Preset::Saturate => Scenario {
                name,
                rate: 0.0,
                ..base
            },
            Preset::Fanout1k => Scenario {
                name,
                clients: 1000,
                senders: 1,
                rate: 0.0,
                // As many deliveries in flight as `saturate` keeps (100 senders x 16, to 99 each):
                // with 16, one sender's round trip, not the server, set the pace.
                inflight: 160,
                ..base
            },
            Preset::Idle10k => Scenario {
                name,
                clients: 10_000,
                senders: 0,
                duration: Duration::from_secs(3),
                warmup: Duration::ZERO,
                ..base
            },
            Preset::Joinstorm => Scenario {
                name,
                clients: 20,
                senders: 20,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(60),
                connect_rate: 1000.0,
                joiners: 5000,
                ..base
            },
            Preset::Idleflood => Scenario {
                name,
                clients: 20,
                senders: 20,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(10),
                idle_flood: 2000,
                ..base
            },
            // `clients` is how many connections are under way at once; nobody sends.
            Preset::Handshakes => Scenario {
                name,
                clients: 64,
                senders: 0,
                duration: Duration::from_secs(5),
                warmup: Duration::from_secs(1),
                ..base
            },
            Preset::Filefanout => Scenario {
                name,
                clients: 200,
                senders: 1,
                size: 1024 * 1024,
                ..base
            },
        }
    }

    /// The scenario the flags ask for, or why it cannot run.
    pub fn from_args(args: &Args) -> Result<Scenario, String> {
        let mut s = Scenario::preset(args.preset);
        s.clients = args.clients.unwrap_or(s.clients);
        s.senders = args.senders.unwrap_or(s.senders.min(s.clients));
        s.rate = args.rate.unwrap_or(s.rate);
        s.inflight = args.inflight.unwrap_or(s.inflight);
        s.size = args.size.unwrap_or(s.size);
        s.duration = args.duration.unwrap_or(s.duration);
        s.warmup = args.warmup.unwrap_or(s.warmup);
        s.connect_rate = args.connect_rate.unwrap_or(s.connect_rate);
        s.rooms = args.rooms.unwrap_or(s.rooms);
        s.joiners = args.joiners.unwrap_or(s.joiners);
        s.idle_flood = args.idle_flood.unwrap_or(s.idle_flood);
        s.files = args.files.unwrap_or(s.files);
        s.file_size = args.file_size.unwrap_or(s.file_size);
        s.protocol = match (args.redis, args.proto) {
            (false, Proto::Line) => Protocol::ReactorChat,
            (false, Proto::Irc) => Protocol::Irc,
            (true, Proto::Line) => Protocol::Redis,
            (true, Proto::Irc) => {
                return Err("--redis speaks RESP to Redis; --proto irc speaks IRC: \
                            choose one of the two"
                    .into())
            }
        };
        s.tls = args.tls;
        let pending = if s.tls {
            crate::driver::MAX_PENDING_TLS
        } else {
            crate::driver::MAX_PENDING
        };
        s.max_pending = args.max_pending.unwrap_or(pending);
        if s.name == "handshakes" {
            // In flight is how many handshakes are under way at once, --clients as well.
            s.clients = args.inflight.map_or(s.clients, |n| n as usize);
            s.clients = args.clients.unwrap_or(s.clients);
            s.senders = 0;
        }
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.max_pending == 0 {
            return Err("--max-pending must be at least 1".into());
        }
        if self.senders > self.clients {
            return Err("--senders cannot exceed --clients".into());
        }
        if self.clients + self.joiners + self.idle_flood > MAX_CONNECTIONS {
            return Err(format!(
                "--clients, --joiners and --idle-flood together are limited to {MAX_CONNECTIONS} (open-files limit)"
            ));
        }
        if self.protocol == Protocol::Redis && (self.files > 0 || self.name == "filefanout") {
            return Err("Redis pub/sub has no files: --redis runs chat loads only".into());
        }
        if self.protocol == Protocol::Irc {
            self.validate_irc()?;
        }
        if self.tls && self.protocol == Protocol::Redis {
            return Err(
                "--redis does not take --tls: the bench speaks RESP to Redis in clear text \
                        only (compare reactor-chat over TLS with reactor-chat in clear)"
                    .into(),
            );
        }
        if self.name == "handshakes" && !self.tls {
            return Err("--preset handshakes measures TLS handshakes: add --tls".into());
        }
        if self.name == "handshakes" && self.clients > 1000 {
            // The server's --max-unregistered (1,024) counts handshakes under way.
            return Err("handshakes: at most 1000 under way at once (--inflight)".into());
        }
        if self.files > 0 && self.name == "filefanout" {
            return Err(
                "--files mixes files into a chat load; filefanout is a file load already".into(),
            );
        }
        // The server's default --max-file.
        if self.files > 0 && !(1..=1024 * 1024).contains(&self.file_size) {
            return Err("--file-size must be between 1 and 1048576 bytes".into());
        }
        if self.rooms == 0 || self.rooms > self.clients {
            return Err("--rooms must be between 1 and --clients".into());
        }
        // A chat line must fit the server's line cap; a file (filefanout) only its --max-file.
        if self.size > MAX_SIZE && self.name != "filefanout" {
            return Err(format!("--size is limited to {MAX_SIZE} bytes"));
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) || self.connect_rate < 0.0 {
            return Err("--rate and --connect-rate must be 0 or more".into());
        }
        if self.senders > 0 && self.rate == 0.0 {
            if self.inflight == 0 {
                return Err("--inflight must be at least 1".into());
            }
            if self.clients / self.rooms < 2 {
                return Err("unpaced senders need another client in their room to ack".into());
            }
        }
        Ok(())
    }

    /// What `--proto irc` cannot do, and why.
    fn validate_irc(&self) -> Result<(), String> {
        if self.files > 0 || self.name == "filefanout" {
            return Err(
                "IRC servers relay no files (DCC goes from client to client): \
                        --proto irc runs chat loads only, without --files"
                    .into(),
            );
        }
        if self.tls {
            return Err(
                "--proto irc runs in clear text only (compare reactor-chat over TLS \
                        with the line protocol)"
                    .into(),
            );
        }
        if self.size > crate::irc::MAX_SIZE {
            return Err(format!(
                "--proto irc: --size is limited to {} bytes (an IRC line, as the server \
                 relays it with its prefix, is at most 512)",
                crate::irc::MAX_SIZE
            ));
        }
        Ok(())
    }

    /// Whether IRC clients join a channel: only when somebody sends. With nobody sending
    /// (idle10k) they register and stay out of channels, so the server's memory per connection
    /// is that of a registered client alone.
    pub fn irc_joins(&self) -> bool {
        self.senders > 0
    }

    /// Whether senders are paced (`--rate` > 0) rather than bounded by acknowledgements.
    pub fn paced(&self) -> bool {
        self.rate > 0.0
    }
}

/// `10s`, `500ms`, `2m`, `1.5s`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 10s, 500ms, 2m)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(format!("unknown unit {unit:?} (ms, s, m)")),
    };
    if !(value >= 0.0 && value.is_finite()) || value * scale > 86_400.0 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["reactor-chat-bench"];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1h").is_err());
    }

    #[test]
    fn flags_override_presets() {
        let s = Scenario::from_args(&args(&["--preset", "saturate", "--duration", "5s"])).unwrap();
        assert_eq!(
            (s.clients, s.senders, s.rate, s.inflight),
            (100, 100, 0.0, 16)
        );
        assert_eq!(s.duration, Duration::from_secs(5));
        let s = Scenario::from_args(&args(&["--preset", "fanout1k"])).unwrap();
        assert_eq!((s.clients, s.senders, s.inflight), (1000, 1, 160));
        let s = Scenario::from_args(&args(&["--preset", "fanout1k", "--inflight", "16"])).unwrap();
        assert_eq!(s.inflight, 16);
        let s = Scenario::from_args(&args(&["--clients", "10"])).unwrap();
        assert_eq!(s.senders, 10, "senders default to at most the clients");
    }

    #[test]
    fn impossible_scenarios_are_refused() {
        assert!(Scenario::from_args(&args(&["--clients", "20000"])).is_err());
        assert!(
            Scenario::from_args(&args(&["--clients", "4", "--rooms", "4", "--rate", "0"])).is_err()
        );
        assert!(Scenario::from_args(&args(&["--senders", "101"])).is_err());
        assert!(Scenario::from_args(&args(&["--size", "9000"])).is_err());
        assert!(Scenario::from_args(&args(&["--redis", "--tls"])).is_err());
        assert!(Scenario::from_args(&args(&["--preset", "handshakes"])).is_err());
    }

    /// The message of the refusal of `flags`.
    fn refusal(flags: &[&str]) -> String {
        Scenario::from_args(&args(flags)).expect_err("refused")
    }

    #[test]
    fn irc_runs_the_chat_presets() {
        for preset in ["saturate", "room100", "idle10k", "fanout1k", "joinstorm"] {
            let s = Scenario::from_args(&args(&["--proto", "irc", "--preset", preset])).unwrap();
            assert_eq!(s.protocol, Protocol::Irc, "{preset}");
            assert_eq!(s.irc_joins(), preset != "idle10k", "{preset}");
        }
        let s = Scenario::from_args(&args(&["--proto", "line"])).unwrap();
        assert_eq!(s.protocol, Protocol::ReactorChat);
        let s = Scenario::from_args(&args(&["--proto", "irc", "--size", "400"])).unwrap();
        assert_eq!(s.size, crate::irc::MAX_SIZE);
    }

    #[test]
    fn logins_under_way_default_by_transport() {
        let s = Scenario::from_args(&args(&[])).unwrap();
        assert_eq!(s.max_pending, crate::driver::MAX_PENDING);
        let s = Scenario::from_args(&args(&["--tls"])).unwrap();
        assert_eq!(s.max_pending, crate::driver::MAX_PENDING_TLS);
        let s = Scenario::from_args(&args(&["--proto", "irc", "--max-pending", "10"])).unwrap();
        assert_eq!(s.max_pending, 10);
        assert!(Scenario::from_args(&args(&["--max-pending", "0"])).is_err());
    }

    #[test]
    fn irc_refuses_what_it_cannot_do_and_says_why() {
        let why = refusal(&["--proto", "irc", "--redis"]);
        assert!(why.contains("choose one"), "{why}");
        let why = refusal(&["--proto", "irc", "--files", "10"]);
        assert!(why.contains("without --files"), "{why}");
        let why = refusal(&["--proto", "irc", "--preset", "filefanout"]);
        assert!(why.contains("chat loads only"), "{why}");
        let why = refusal(&["--proto", "irc", "--tls"]);
        assert!(why.contains("clear text only"), "{why}");
        let why = refusal(&["--proto", "irc", "--preset", "handshakes", "--tls"]);
        assert!(why.contains("clear text only"), "{why}");
        let why = refusal(&["--proto", "irc", "--size", "401"]);
        assert!(why.contains("512"), "{why}");
        assert!(Args::try_parse_from(["reactor-chat-bench", "--proto", "resp"]).is_err());
    }

    #[test]
    fn handshakes_take_their_in_flight_from_inflight() {
        let s = Scenario::from_args(&args(&["--preset", "handshakes", "--tls"])).unwrap();
        assert_eq!((s.clients, s.senders, s.tls), (64, 0, true));
        let s = Scenario::from_args(&args(&[
            "--preset",
            "handshakes",
            "--tls",
            "--inflight",
            "8",
        ]))
        .unwrap();
        assert_eq!(s.clients, 8);
    }
}
