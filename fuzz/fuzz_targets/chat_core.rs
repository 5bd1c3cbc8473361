//! The chat core driven like a server would drive it, from several simulated clients: connects,
//! lines (free text and commands), disconnects, readers that stop reading, and time passing.
//!
//! The input is a script, one step per line, so seeds are written by hand and crashes read:
//! `+N` connects client N (0-5; `+N.K` from address 10.0.0.K), `-N` drops it, `~N` reads all its
//! output, `@S` lets S seconds pass, and `N text` sends a line from client N. Anything else is
//! a line from client 0. A line `N !X ...` is a request as the IRC layer makes them, from a
//! session that keeps rooms: `!R nick` registers, `!J room`, `!P room`, `!S room text`,
//! `!M nick text`, `!K room nick`, `!T room text`, `!N nick`, `!A [message]`, `!O` (OPER), `!C
//! room|- line` (a line command in a room), `!W mask`, `!I nick` (WHOIS).
//!
//! After every step: the core's own invariants hold (room lists, sessions and indexes agree;
//! nicknames unique; live count right), nothing is delivered to a connection the server already
//! let go, every output renders, and output queues stay within their caps (a connection over
//! them is dropped, as the reactor does).
#![no_main]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use reactor_chat::render::irc::{Caps, Cloak, Hosts, IrcRenderer, View};
use reactor_chat::render::line::Renderer;
use reactor_chat::chat::{Chat, ChatSettings, ConnId, LostReason, Now, Outbox, Output, Peer, Request};
use reactor_chat::codec::file::Keep;
use reactor_chat::config::Lang;
use reactor_chat::reactor::outqueue::{OutQueue, QueueLimits, QueueVerdict};

const CONNS: u8 = 6;

enum Op {
    Connect { conn: u8, ip: u8 },
    Line { conn: u8, text: String },
    Disconnect { conn: u8 },
    /// The client reads everything queued for it.
    Drain { conn: u8 },
    Tick { secs: u8 },
}

/// One script line as a step.
fn parse_op(line: &str) -> Op {
    let num = |s: &str| s.trim().parse::<u8>().ok();
    if let Some(rest) = line.strip_prefix('+') {
        let (conn, ip) = rest.split_once('.').unwrap_or((rest, "1"));
        if let (Some(conn), Some(ip)) = (num(conn), num(ip)) {
            return Op::Connect { conn, ip };
        }
    }
    if let Some(conn) = line.strip_prefix('-').and_then(num) {
        return Op::Disconnect { conn };
    }
    if let Some(conn) = line.strip_prefix('~').and_then(num) {
        return Op::Drain { conn };
    }
    if let Some(secs) = line.strip_prefix('@').and_then(num) {
        return Op::Tick { secs };
    }
    match line.split_once(' ').map(|(c, t)| (num(c), t)) {
        Some((Some(conn), text)) => Op::Line {
            conn,
            text: text.to_string(),
        },
        _ => Op::Line {
            conn: 0,
            text: line.to_string(),
        },
    }
}

struct Sim {
    chat: Chat,
    out: Outbox,
    now: Now,
    renderer: Renderer,
    irc: IrcRenderer,
    render_buf: BytesMut,
    queues: HashMap<u8, OutQueue>,
    connected: HashSet<u8>,
    limits: QueueLimits,
}

impl Sim {
    fn new() -> Sim {
        let mut words = reactor_chat::chat::game::words::WordBank::default();
        words.add_text("pets\tcat\n").unwrap();
        let settings = ChatSettings {
            grace: Duration::from_secs(20),
            replay_max: 4,
            max_file: 8,
            file_store: 20,
            words: Arc::new(words),
            hint_interval: Duration::from_secs(3),
            // Six clients can make a room "big": summaries get exercised too.
            presence_max_room: 3,
            presence_every: Duration::from_secs(4),
            // Small caps, so held sessions end early, rooms drop their oldest recent lines,
            // whispers to held users are cut, small rooms summarise and uploads are refused.
            max_held_per_ip: 2,
            max_held: 3,
            recent_bytes: 600,
            held_own_bytes: 300,
            presence_rate: 6,
            max_uploads: 2,
            max_uploads_per_ip: 1,
            // An operator among the clients (the first to log in), so kicks, bans, topic locks
            // and their kept state are exercised too.
            first_user_op: true,
            ..ChatSettings::default()
        };
        Sim {
            chat: Chat::new(settings),
            out: Outbox::default(),
            now: Now {
                mono: Instant::now(),
                wall: 1_704_112_496_000,
            },
            renderer: Renderer::new(Lang::En, true),
            irc: IrcRenderer {
                server: Arc::from("fuzz.test"),
                network: Arc::from("fuzz"),
                cloak: Cloak::new(b"fuzz"),
                version: "0",
                max_text: 512,
                max_rooms: 3,
                max_targets: 4,
            },
            render_buf: BytesMut::new(),
            queues: HashMap::new(),
            connected: HashSet::new(),
            limits: QueueLimits {
                hard: 4096,
                soft: 2048,
                soft_for: Duration::from_secs(5),
            },
        }
    }

    /// Applies the outbox as the reactor would, checking every delivery goes to a connection
    /// that was connected when the step began.
    fn apply(&mut self, before: &HashSet<u8>) {
        let out = std::mem::take(&mut self.out);
        let mut closing = Vec::new();
        let mut uploads = Vec::new();
        for item in &out.items {
            let (targets, event) = match item {
                Output::ToConn { conn, event } => (vec![*conn], event),
                Output::ToMany { start, end, event } => (out.recipients[*start..*end].to_vec(), event),
                Output::Close { conn, .. } => {
                    closing.push(*conn);
                    continue;
                }
                Output::ReceiveFile { conn, size, keep } => {
                    if *keep == Keep::Collect {
                        uploads.push((*conn, *size));
                    }
                    continue;
                }
                _ => continue,
            };
            // Every event renders for IRC too, with every capability set.
            for caps in 0..8u16 {
                let view = View { caps: Caps(caps | 0xf8), me: "me", batch: Some("b1"), command: "PRIVMSG x" };
                self.irc.render(&self.renderer, &self.chat as &dyn Hosts, event, view, &mut self.render_buf);
                self.render_buf.clear();
            }
            self.renderer.render(event, &mut self.render_buf);
            let bytes: Bytes = self.render_buf.split().freeze();
            for conn in targets {
                let c = conn.0 as u8;
                assert!(before.contains(&c), "delivered to connection {c}, which was gone: {event:?}");
                let queue = self.queues.entry(c).or_default();
                queue.push(bytes.clone());
                if queue.check(&self.limits, self.now.mono) != QueueVerdict::Ok {
                    closing.push(conn);
                }
            }
        }
        let mut recycled = out;
        recycled.clear();
        self.out = recycled;
        for (conn, size) in uploads {
            if self.connected.contains(&(conn.0 as u8)) {
                let payload = Bytes::from(vec![b'x'; size as usize]);
                let before = self.connected.clone();
                self.chat.file_received(conn, payload, self.now, &mut self.out);
                self.apply(&before);
            }
        }
        for conn in closing {
            self.drop_conn(conn.0 as u8, LostReason::SendQueueExceeded);
        }
    }

    /// A request as the IRC layer makes them (see the module doc).
    fn request(&mut self, conn: ConnId, script: &str) {
        let (op, rest) = script.split_at(script.char_indices().nth(1).map_or(script.len(), |(i, _)| i));
        let rest = rest.trim_start();
        let (first, second) = rest.split_once(' ').unwrap_or((rest, ""));
        let opt = |s: &'_ str| (!s.is_empty()).then_some(s.to_string());
        let (first, second, rest) = (first.to_string(), second.to_string(), rest.to_string());
        let request = match op {
            "R" => return self.chat.register(conn, &first, opt(&second).as_deref(), self.now, &mut self.out),
            "J" => Request::Join { room: &first },
            "P" => Request::Part { room: &first, message: None },
            "S" => Request::Say { room: &first, text: &second, action: second.len() % 2 == 1, echo: true },
            "M" => Request::Whisper { to: &first, text: &second, action: false },
            "K" => Request::Kick { room: &first, nick: &second, reason: None },
            "T" => Request::Topic { room: &first, text: opt(&second).as_deref().map(|_| second.as_str()) },
            "N" => Request::Nick(&first),
            "A" => Request::Away(opt(&rest).as_deref().map(|_| rest.as_str())),
            "O" => Request::BecomeOperator,
            "C" => Request::Command { room: (first != "-").then_some(first.as_str()), line: &second },
            "W" => Request::Who { mask: &first },
            "I" => Request::Whois { nick: &first },
            "L" => Request::List,
            "X" => Request::Quit(None),
            _ => Request::Names { room: &first },
        };
        self.chat.request(conn, request, self.now, &mut self.out);
    }

    fn drop_conn(&mut self, c: u8, reason: LostReason) {
        if self.connected.remove(&c) {
            self.queues.remove(&c);
            let before = self.connected.clone();
            self.chat.disconnect(ConnId(usize::from(c)), reason, self.now, &mut self.out);
            self.apply(&before);
        }
    }

    fn step(&mut self, op: Op) {
        let before = self.connected.clone();
        match op {
            Op::Connect { conn, ip } => {
                let c = conn % CONNS;
                if self.connected.insert(c) {
                    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, ip % 3));
                    self.chat.connect(ConnId(usize::from(c)), Peer { ip });
                }
            }
            Op::Line { conn, text } => {
                let c = conn % CONNS;
                if self.connected.contains(&c) {
                    let id = ConnId(usize::from(c));
                    match text.strip_prefix('!') {
                        Some(request) => self.request(id, request),
                        None => self.chat.line(id, &text, self.now, &mut self.out),
                    }
                    self.apply(&before);
                }
            }
            Op::Disconnect { conn } => self.drop_conn(conn % CONNS, LostReason::Closed),
            Op::Drain { conn } => {
                if let Some(q) = self.queues.get_mut(&(conn % CONNS)) {
                    q.clear();
                }
            }
            Op::Tick { secs } => {
                let d = Duration::from_secs(u64::from(secs % 30));
                self.now.mono += d;
                self.now.wall += d.as_millis() as u64;
                self.chat.on_timer(self.now, &mut self.out);
                self.apply(&before);
            }
        }
        if let Err(broken) = self.chat.check_invariants() {
            panic!("invariant broken: {broken}");
        }
        for q in self.queues.values() {
            assert!(q.len() <= self.limits.hard, "a queue passed its hard cap");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let script = String::from_utf8_lossy(data);
    let mut sim = Sim::new();
    for line in script.lines().take(400) {
        sim.step(parse_op(line));
    }
});
