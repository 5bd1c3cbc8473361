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
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::chatlog::ChatLog;
use crate::conn::Conn;
use crate::downloads::{self, Download};
use crate::event::{Ev, Uploaded};
use crate::lines::{self, Kind};
use crate::output::Output;
use crate::prompt::Prompt;
use crate::proto::{FileHeader, Item};
use crate::style::clean;

mod files;
mod input;
mod server;

/// Lines typed while not logged in that are kept to send later; beyond it the oldest go.
const MAX_QUEUED: usize = 1000;

/// What the session is configured with.
pub struct Settings {
    pub server: String,
    /// `--tls`: how the server is verified.
    pub tls: Option<crate::tls::Tls>,
    pub nick: Option<String>,
    /// Canonical, existing.
    pub download_dir: PathBuf,
    /// 0: never accept automatically.
    pub accept_files: u64,
    pub log: Option<Option<PathBuf>>,
    /// A person at a terminal (ask again for a refused name; progress bars).
    pub interactive: bool,
    /// The line editor's prompt, updated with the nickname.
    pub prompt: Arc<Prompt>,
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

    fn connect(&mut self) -> std::io::Result<()> {
        self.gen += 1;
        let conn = Conn::open(
            &self.cfg.server,
            self.cfg.tls.as_ref(),
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
        // A login or a rename sent on this connection will not be answered: the editor, if it
        // waits for that answer, draws the prompt as it is.
        self.cfg.prompt.keep();
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
}

/// Whether `line` is the command `name` (case-insensitive), alone or with arguments.
fn is_command(line: &str, name: &str) -> bool {
    let word = line.trim_start().split(' ').next().unwrap_or("");
    word.eq_ignore_ascii_case(name)
}

/// Whether a typed line asks the server for a new name (`/nick NEW`, `/rename NEW`, as the server
/// reads them): its answer changes the prompt, so the editor waits for it before drawing the next
/// one. Without a name the server answers `! usage:` and the prompt stays.
pub fn is_rename(line: &str) -> bool {
    let (word, new) = line.split_once(' ').unwrap_or((line, ""));
    (word.eq_ignore_ascii_case("/nick") || word.eq_ignore_ascii_case("/rename"))
        && !new.trim().is_empty()
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

    #[test]
    fn a_rename_needs_the_command_word_and_a_name() {
        assert!(is_rename("/nick alice2"));
        assert!(is_rename("/NICK alice2"));
        assert!(is_rename("/rename 철수"));
        assert!(is_rename("/nick john smith")); // refused by the server, but answered
        for not in [
            "/nick",
            "/nick  ",
            "/nickname x",
            "//nick x",
            "nick x",
            "/msg bob /nick x",
        ] {
            assert!(!is_rename(not), "{not:?}");
        }
    }
}
