//! The session: one thread that owns the connection state and reacts to events.
//!
//! Everything the client does passes through [`Session::handle`] as an [`Ev`]: a line or file
//! chunk from the reader thread, the connection closing, an upload finishing, a line typed (or
//! read from stdin), the end of input. One owner and one queue means no locks around the
//! nickname, the resume key or the download in progress, and events of a connection already
//! given up on are recognised by their generation and ignored.
//!
//! The life of a session: connect → send the login line (`NICK`, or `NICK KEY` once the server has
//! given a resume key) → the `-- Resume key:` line ends the welcome: logged in, typed lines queued
//! meanwhile are sent → ... → the connection drops: wait (back-off with jitter), connect again and
//! log in with the key, which reclaims the name and brings the replay of what was missed. A
//! `bye final` (or a takeover by another connection holding the key), `/quit`, or the end of
//! input ends it.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::chatlog::ChatLog;
use crate::conn::{Conn, Uploaded};
use crate::downloads::{self, Download};
use crate::lines::{self, Kind};
use crate::output::Output;
use crate::proto::{FileHeader, Item};
use crate::style::clean;

/// Lines typed while not logged in that are kept to send later; beyond it the oldest go.
const MAX_QUEUED: usize = 1000;

/// Everything the session reacts to.
#[derive(Debug)]
pub enum Ev {
    /// Something the server sent on connection `gen`.
    Net { gen: u64, item: Item },
    /// Connection `gen` is closed.
    Closed { gen: u64, why: String },
    /// A frame of the progress bar of an upload on connection `gen`.
    Progress { gen: u64, frame: String },
    /// An upload on connection `gen` ended.
    Uploaded { gen: u64, done: Uploaded },
    /// A line the user typed (or stdin gave).
    Input(String),
    /// No more input (Ctrl-D, or the end of stdin).
    InputEof,
}

/// What the session is configured with.
pub struct Settings {
    pub server: String,
    pub nick: Option<String>,
    /// Canonical, existing.
    pub download_dir: PathBuf,
    /// 0: never accept automatically.
    pub accept_files: u64,
    pub log: Option<Option<PathBuf>>,
    /// A person at a terminal (ask again for a refused name; progress bars).
    pub interactive: bool,
    /// The line editor's prompt, updated with the nickname.
    pub prompt: Arc<Mutex<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Offline,
    LoggingIn,
    Chatting,
}

/// A file being received.
enum Incoming {
    Save(FileHeader, Download),
    Skip,
}

pub struct Session {
    cfg: Settings,
    out: Output,
    tx: Sender<Ev>,
    rx: Receiver<Ev>,
    conn: Option<Conn>,
    gen: u64,
    phase: Phase,
    /// The name to log in with, then the current name.
    nick: Option<String>,
    nick_from_input: bool,
    login_sent: bool,
    key: Option<String>,
    ever_logged_in: bool,
    queued: VecDeque<String>,
    input_done: bool,
    quitting: bool,
    /// Set by a `bye` after which coming back makes no sense: the exit status.
    stop: Option<i32>,
    retry_at: Option<Instant>,
    backoff: Backoff,
    incoming: Option<Incoming>,
    /// Offers accepted automatically: id -> offering nick.
    auto: HashMap<u64, String>,
    exit: Option<i32>,
}

impl Session {
    pub fn new(cfg: Settings, mut out: Output) -> Session {
        let (tx, rx) = mpsc::channel();
        if cfg.log.is_some() {
            out.hold_for_log();
        }
        Session {
            nick: cfg.nick.clone(),
            cfg,
            out,
            tx,
            rx,
            conn: None,
            gen: 0,
            phase: Phase::Offline,
            nick_from_input: false,
            login_sent: false,
            key: None,
            ever_logged_in: false,
            queued: VecDeque::new(),
            input_done: false,
            quitting: false,
            stop: None,
            retry_at: None,
            backoff: Backoff::default(),
            incoming: None,
            auto: HashMap::new(),
            exit: None,
        }
    }

    /// Where input threads send their lines.
    pub fn sender(&self) -> Sender<Ev> {
        self.tx.clone()
    }

    /// Runs until the session ends; returns the process exit status.
    pub fn run(mut self) -> i32 {
        if let Err(e) = self.connect() {
            self.out
                .status(&format!("cannot connect to {}: {e}", self.cfg.server));
            return 1;
        }
        loop {
            if let Some(code) = self.exit {
                return code;
            }
            let ev = match self.retry_at {
                Some(at) => match self
                    .rx
                    .recv_timeout(at.saturating_duration_since(Instant::now()))
                {
                    Ok(ev) => ev,
                    Err(RecvTimeoutError::Timeout) => {
                        self.retry_at = None;
                        self.reconnect();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return 1,
                },
                None => match self.rx.recv() {
                    Ok(ev) => ev,
                    Err(_) => return 1,
                },
            };
            self.handle(ev);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Net { gen, item } if gen == self.gen => self.on_item(item),
            Ev::Closed { gen, why } if gen == self.gen => self.on_closed(&why),
            Ev::Uploaded { gen, done } if gen == self.gen => self.on_uploaded(done),
            Ev::Progress { gen, frame } if gen == self.gen => self.out.progress(&frame),
            Ev::Net { .. } | Ev::Closed { .. } | Ev::Uploaded { .. } | Ev::Progress { .. } => {}
            Ev::Input(line) => self.on_input(line),
            Ev::InputEof => self.on_input_eof(),
        }
    }

    // ---- connection ----

    fn connect(&mut self) -> std::io::Result<()> {
        self.gen += 1;
        let conn = Conn::open(
            &self.cfg.server,
            self.gen,
            self.tx.clone(),
            self.cfg.interactive,
        )?;
        self.conn = Some(conn);
        self.phase = Phase::LoggingIn;
        self.login_sent = false;
        if self.nick.is_some() {
            self.send_login();
        }
        Ok(())
    }

    fn reconnect(&mut self) {
        match self.connect() {
            Ok(()) => {
                let who = self.nick.clone().unwrap_or_default();
                self.out.status(&format!(
                    "connected to {}; logging in {who}",
                    self.cfg.server
                ));
            }
            Err(e) => self.retry_later(&e.to_string()),
        }
    }

    fn retry_later(&mut self, why: &str) {
        let delay = self.backoff.next_delay();
        self.retry_at = Some(Instant::now() + delay);
        self.out.status(&format!(
            "disconnected ({why}); reconnecting in {:.1} s (attempt {})",
            delay.as_secs_f64(),
            self.backoff.attempts()
        ));
    }

    /// The login line: the name, and the resume key once the server has given one.
    fn login_line(nick: &str, key: Option<&str>) -> String {
        match key {
            Some(key) => format!("{nick} {key}"),
            None => nick.to_string(),
        }
    }

    fn send_login(&mut self) {
        let (Some(conn), Some(nick)) = (&self.conn, &self.nick) else {
            return;
        };
        conn.send_line(&Self::login_line(nick, self.key.as_deref()));
        self.login_sent = true;
    }

    fn send(&mut self, line: &str) {
        if let Some(conn) = &self.conn {
            conn.send_line(line);
        }
    }

    fn on_closed(&mut self, why: &str) {
        self.conn = None;
        self.phase = Phase::Offline;
        self.login_sent = false;
        if let Some(Incoming::Save(h, d)) = self.incoming.take() {
            self.out.status(&format!(
                "file #{} {} from {} was cut off ({} of {} bytes); the partial file is removed",
                h.id, h.name, h.from, d.written, h.size
            ));
            d.abandon();
        }
        if self.quitting {
            self.exit = Some(0);
        } else if let Some(code) = self.stop {
            self.out
                .status("the server ended the session; not reconnecting");
            self.exit = Some(code);
        } else if self.input_done && self.queued.is_empty() {
            self.exit = Some(0);
        } else {
            self.retry_later(why);
        }
    }

    // ---- what the server sends ----

    fn on_item(&mut self, item: Item) {
        match item {
            Item::Line(line) => self.on_line(&line),
            Item::FileStart(header) => self.on_file_start(header),
            Item::FileData(bytes) => self.on_file_data(&bytes),
            Item::FileEnd => self.on_file_end(),
        }
    }

    fn on_line(&mut self, line: &str) {
        self.out.server(line, self.nick.as_deref());
        if let Kind::Bye { is_final, text } = lines::classify(line) {
            if lines::is_taken_over(text) {
                self.out.status(
                    "another connection took this session over with its resume key; \
                     reconnecting would take it back, so this client stops",
                );
                self.stop = Some(1);
            } else if is_final {
                self.stop = Some(i32::from(!self.quitting));
            }
            return;
        }
        match self.phase {
            Phase::LoggingIn => self.on_login_line(line),
            Phase::Chatting => self.on_chat_line(line),
            Phase::Offline => {}
        }
    }

    fn on_login_line(&mut self, line: &str) {
        if lines::is_login_refusal(line) {
            self.on_refused();
        } else if let Some(nick) = lines::welcome_nick(line) {
            self.nick = Some(nick.to_string());
        } else if let Some(key) = lines::resume_key(line) {
            self.key = Some(key.to_string());
            self.on_logged_in();
        } else if !self.login_sent && self.nick.is_none() && line.starts_with("-- ") {
            if let Some(next) = self.next_queued_nick() {
                self.nick = Some(next);
                self.send_login();
            }
        }
    }

    fn on_refused(&mut self) {
        self.login_sent = false;
        self.key = None;
        let refused = self.nick.take().unwrap_or_default();
        if !self.cfg.interactive && !self.nick_from_input {
            self.out
                .status(&format!("the server refused the nickname {refused}"));
            self.exit = Some(1);
            return;
        }
        if let Some(next) = self.next_queued_nick() {
            self.nick = Some(next);
            self.send_login();
        } else if self.cfg.interactive {
            self.set_prompt("nickname> ");
            self.out.status("type another nickname");
        }
    }

    /// In a pipe, the next stdin line after a refused name is the next name to try.
    fn next_queued_nick(&mut self) -> Option<String> {
        if self.cfg.interactive || !self.nick_from_input {
            return None;
        }
        let next = self.queued.pop_front()?;
        Some(next.trim().to_string())
    }

    fn on_logged_in(&mut self) {
        self.phase = Phase::Chatting;
        self.backoff.reset();
        let nick = self.nick.clone().unwrap_or_default();
        self.set_prompt(&format!("{nick}> "));
        if self.ever_logged_in {
            self.out.status(&format!("reconnected as {nick}"));
        }
        self.ever_logged_in = true;
        self.open_log(&nick);
        while self.phase == Phase::Chatting {
            let Some(line) = self.queued.pop_front() else {
                break;
            };
            self.dispatch(line);
        }
        if self.input_done && !self.quitting && self.phase == Phase::Chatting {
            self.send("/quit");
            self.quitting = true;
        }
    }

    fn open_log(&mut self, nick: &str) {
        if self.out.has_log() {
            return;
        }
        let path = match &self.cfg.log {
            None => return,
            Some(Some(path)) => path.clone(),
            Some(None) => ChatLog::default_path(nick),
        };
        self.cfg.log = None; // one attempt, at the first login
        match ChatLog::open(&path) {
            Ok(log) => {
                self.out.set_log(log);
                self.out
                    .status(&format!("logging the conversation to {}", path.display()));
            }
            Err(e) => {
                self.out.no_log();
                self.out
                    .status(&format!("cannot open the log {}: {e}", path.display()));
            }
        }
    }

    fn on_chat_line(&mut self, line: &str) {
        if let Some(nick) = lines::renamed_to(line) {
            self.nick = Some(nick.to_string());
            self.set_prompt(&format!("{nick}> "));
        } else if let Some(key) = lines::resume_key(line) {
            self.key = Some(key.to_string());
        } else if let Some(offer) = lines::offer(line) {
            let limit = self.cfg.accept_files;
            if limit > 0 && offer.max_bytes <= limit {
                self.send(&format!("/accept {}", offer.id));
                self.auto.insert(offer.id, offer.from.clone());
                self.out.status(&format!(
                    "accepting #{} {} from {} (--accept-files {limit})",
                    offer.id, offer.name, offer.from
                ));
            } else {
                self.out.status(&format!(
                    "type /accept {} to save {} in {}",
                    offer.id,
                    offer.name,
                    self.cfg.download_dir.display()
                ));
            }
        }
    }

    // ---- files received ----

    fn on_file_start(&mut self, h: FileHeader) {
        if let Some(from) = self.auto.remove(&h.id) {
            // The offer line could have been forged with /me: check what actually arrived.
            if h.size > self.cfg.accept_files || !from.eq_ignore_ascii_case(&h.from) {
                self.out.status(&format!(
                    "file #{} from {} ({} bytes) is not what was offered as #{} by {from} \
                     within --accept-files; its bytes are skipped",
                    h.id, h.from, h.size, h.id
                ));
                self.incoming = Some(Incoming::Skip);
                return;
            }
        }
        let me = self.nick.clone().unwrap_or_default();
        let name = downloads::file_name(&me, &h.from, &h.name);
        self.incoming = Some(match Download::create(&self.cfg.download_dir, &name) {
            Ok(d) => Incoming::Save(h, d),
            Err(e) => {
                self.out.status(&format!(
                    "cannot save file #{} from {}: {e}; its bytes are skipped",
                    h.id, h.from
                ));
                Incoming::Skip
            }
        });
    }

    fn on_file_data(&mut self, bytes: &[u8]) {
        let Some(Incoming::Save(_, d)) = &mut self.incoming else {
            return;
        };
        if let Err(e) = d.write(bytes) {
            let msg = format!(
                "cannot write {}: {e}; the rest is skipped",
                d.path.display()
            );
            if let Some(Incoming::Save(_, d)) = self.incoming.replace(Incoming::Skip) {
                d.abandon();
            }
            self.out.status(&msg);
        }
    }

    fn on_file_end(&mut self) {
        if let Some(Incoming::Save(h, d)) = self.incoming.take() {
            match d.finish() {
                Ok(path) => self.out.status(&format!(
                    "saved #{} {} from {} ({} bytes) as {}",
                    h.id,
                    clean(&h.name),
                    h.from,
                    h.size,
                    path.display()
                )),
                Err(e) => self.out.status(&format!("cannot save file #{}: {e}", h.id)),
            }
        }
    }

    fn on_uploaded(&mut self, done: Uploaded) {
        match done.result {
            Ok(took) => self.out.end_progress(&format!(
                "sent {} ({} bytes) in {:.1} s",
                done.name,
                done.size,
                took.as_secs_f64()
            )),
            Err(e) => self
                .out
                .end_progress(&format!("sending {} failed: {e}", done.name)),
        }
    }

    // ---- what the user types ----

    fn on_input(&mut self, line: String) {
        if self.nick.is_none() && self.phase != Phase::Chatting {
            let nick = line.trim();
            if nick.is_empty() {
                return;
            }
            self.nick = Some(nick.to_string());
            self.nick_from_input = true;
            if self.phase == Phase::LoggingIn {
                self.send_login();
            }
            return;
        }
        if self.phase == Phase::Chatting {
            self.dispatch(line);
            return;
        }
        if self.conn.is_none() && is_command(&line, "/quit") {
            self.exit = Some(0);
            return;
        }
        if self.queued.len() >= MAX_QUEUED {
            self.queued.pop_front();
        }
        self.queued.push_back(line);
        if self.cfg.interactive && self.queued.len() == 1 && self.ever_logged_in {
            self.out
                .status("not connected; what you type is sent once logged in again");
        }
    }

    fn on_input_eof(&mut self) {
        self.input_done = true;
        match self.phase {
            Phase::Chatting if self.queued.is_empty() && !self.quitting => {
                self.send("/quit");
                self.quitting = true;
            }
            Phase::Chatting => {}
            _ if self.cfg.interactive || self.queued.is_empty() && self.ever_logged_in => {
                self.exit = Some(0);
            }
            _ if self.nick.is_none() => {
                self.out.status("no nickname given");
                self.exit = Some(1);
            }
            _ => {} // log in first, send what is queued, then quit
        }
    }

    /// A line typed while logged in: the client's own commands, or straight to the server.
    fn dispatch(&mut self, line: String) {
        if line.trim().is_empty() {
            return;
        }
        if is_command(&line, "/send") {
            self.upload(line.trim_start()[5..].trim());
        } else if is_command(&line, "/reconnect") {
            self.gen += 1; // forget the old connection's events
            self.conn = None;
            self.phase = Phase::Offline;
            self.backoff.reset();
            self.reconnect();
        } else {
            if is_command(&line, "/help") {
                self.help();
            } else if is_command(&line, "/quit") {
                self.quitting = true;
            } else if !line.starts_with('/') || line.starts_with("//") {
                let me = self.nick.clone().unwrap_or_default();
                self.out.own(&me, line.strip_prefix('/').unwrap_or(&line));
            }
            self.send(&line);
        }
    }

    fn help(&mut self) {
        let dir = self.cfg.download_dir.display().to_string();
        for line in [
            "reactor-chat-client commands:".to_string(),
            "  /send PATH       share a file with your room (streamed from disk)".into(),
            "  /reconnect       drop the connection and log in again now".into(),
            "  /quit [message]  leave (Ctrl-D too)".into(),
            format!("  files you /accept are saved in {dir} as To<me>_From<sender>_<name>"),
            "  every other line goes to the server unchanged; its commands follow:".into(),
        ] {
            self.out.status(&line);
        }
    }

    fn upload(&mut self, arg: &str) {
        let path = arg
            .strip_prefix('"')
            .and_then(|a| a.strip_suffix('"'))
            .unwrap_or(arg);
        if path.is_empty() {
            self.out.status("usage: /send PATH");
            return;
        }
        let opened = File::open(path).and_then(|f| f.metadata().map(|m| (f, m)));
        let (file, meta) = match opened {
            Ok(ok) => ok,
            Err(e) => {
                self.out.status(&format!("cannot send {path}: {e}"));
                return;
            }
        };
        if !meta.is_file() || meta.len() == 0 {
            self.out.status(&format!(
                "cannot send {path}: not a file with something in it"
            ));
            return;
        }
        let name = PathBuf::from(path)
            .file_name()
            .map(|n| clean(&n.to_string_lossy()).trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "file".into());
        if let Some(conn) = &self.conn {
            conn.send_file(file, name.clone(), meta.len());
            self.out
                .status(&format!("sending {name} ({} bytes)", meta.len()));
        }
    }

    fn set_prompt(&self, prompt: &str) {
        if let Ok(mut p) = self.cfg.prompt.lock() {
            *p = prompt.to_string();
        }
    }
}

/// Whether `line` is the command `name` (case-insensitive), alone or with arguments.
fn is_command(line: &str, name: &str) -> bool {
    let word = line.trim_start().split(' ').next().unwrap_or("");
    word.eq_ignore_ascii_case(name)
}

/// How long the interactive front end waits for the last lines to be drawn before it exits.
pub const DRAIN: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_line_carries_the_key_once_known() {
        assert_eq!(Session::login_line("alice", None), "alice");
        assert_eq!(
            Session::login_line("alice", Some("3kq9x2m7c0ve")),
            "alice 3kq9x2m7c0ve"
        );
    }

    #[test]
    fn client_commands_are_words_not_prefixes() {
        assert!(is_command("/send a.txt", "/send"));
        assert!(is_command("/SEND a.txt", "/send"));
        assert!(is_command("/quit", "/quit"));
        assert!(!is_command("/sender x", "/send"));
        assert!(!is_command("//send x", "/send"));
        assert!(!is_command("send x", "/send"));
    }
}
