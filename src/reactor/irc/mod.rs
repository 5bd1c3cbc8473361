//! IRC on the chat port: a connection whose first line is an IRC registration command (or any
//! connection of an `irc`/`ircs` listener) speaks IRC from then on (PROTOCOL.md, "IRC").
//!
//! Its bytes go through the same line decoder, flood control and limits as the line protocol's;
//! each line is parsed by `irc-proto` and handled here: registration (`CAP`, `PASS`, `NICK`,
//! `USER`) until the core logs it in with [`Chat::register`](crate::chat::Chat::register), then
//! every command as a [`Request`](crate::chat::Request) to the core ([`commands`]). What the core
//! answers is rendered by `render::irc`: for one connection here ([`Reactor::queue_irc_event`],
//! which reads the connection's nickname and open batch), for many once per capability set
//! (`Reactor::render_irc_broadcast`).
//!
//! A `PING` is answered after every reply to what came before it, history answers included: a
//! connection with history queries in flight has its `PONG`s held until they are answered.

mod commands;
mod register;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::conn::Proto;
use super::wire::Wire;
use super::Reactor;
use crate::chat::{Event, Info, Refusal};
use crate::render::irc::{Caps, Hosts, View};

/// Longest nickname an IRC client may propose before registration, in bytes (a longer one is
/// refused by the core's rules anyway; this only bounds what is held meanwhile).
const MAX_PENDING_NICK: usize = 128;
/// PONGs held for one connection while its history queries are answered; a client that sends
/// more PINGs than this meanwhile gets the extra ones answered at once.
const MAX_HELD_PONGS: usize = 8;

/// An IRC connection's state beside the reactor's (boxed in `Proto::Irc`).
#[derive(Debug, Default)]
pub struct IrcConn {
    /// The registered nickname, or `*` before registration.
    nick: String,
    /// What NICK asked for before registration.
    pending_nick: Option<String>,
    /// USER has been given.
    user: bool,
    /// PASS: a resume key that reclaims a held session from anywhere.
    pass: Option<String>,
    caps: Caps,
    /// CAP LS or REQ was sent and CAP END not yet: registration waits.
    negotiating: bool,
    registered: bool,
    /// The batch the replies being sent belong to, and the next batch's number.
    batch: Option<String>,
    next_batch: u32,
    /// History queries in flight, and the PONG tokens waiting for their answers.
    queries: u32,
    held_pongs: Vec<String>,
    /// The command being answered and its first parameter, for refusals that name it.
    answering: String,
}

impl IrcConn {
    pub fn new() -> Self {
        IrcConn {
            nick: "*".into(),
            ..IrcConn::default()
        }
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }
}

/// Whether a connection's first bytes may still be, or already are, the start of an IRC
/// registration line (a command in capitals and a space; PROTOCOL.md, "IRC").
pub(super) fn may_be_irc(data: &[u8]) -> bool {
    IRC_STARTS
        .iter()
        .any(|c| data.starts_with(c) || c.starts_with(data))
}

/// Whether a connection's first bytes start an IRC registration line.
pub(super) fn is_irc(data: &[u8]) -> bool {
    IRC_STARTS.iter().any(|c| data.starts_with(c))
}

/// The first words an IRC client (or a probe) sends. None can start a login line: a nickname
/// with a space is refused unless what follows is a resume key.
const IRC_STARTS: [&[u8]; 6] = [b"CAP ", b"NICK ", b"USER ", b"PASS ", b"PING ", b"QUIT "];

impl Hosts for crate::chat::Chat {
    fn ip_of(&self, nick: &str) -> Option<std::net::IpAddr> {
        self.address_of(nick)
    }
}

impl Reactor {
    /// Makes the connection an IRC one (its first line says so, or its listener speaks only IRC).
    pub(super) fn start_irc(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.greeted = true; // no nickname prompt: IRC clients speak first
        conn.set_proto(Proto::Irc(Box::new(IrcConn::new())));
        self.stats.irc_connections += 1;
    }

    /// The connection's IRC state.
    fn irc(&mut self, key: usize) -> Option<&mut IrcConn> {
        match &mut self.conns.get_mut(key)?.proto {
            Proto::Irc(irc) => Some(irc),
            _ => None,
        }
    }

    /// One line from an IRC connection.
    pub(super) fn on_irc_line(&mut self, key: usize, line: &str) {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return;
        }
        let message = match line.parse::<irc_proto::Message>() {
            Ok(m) => m,
            Err(_) => {
                let command = line.split(' ').next().unwrap_or(line).to_string();
                return self.irc_numeric(key, "421", &format!("{command} :Unknown command"));
            }
        };
        if let Some(irc) = self.irc(key) {
            irc.answering = answering(line);
        }
        if self.irc(key).is_some_and(|i| i.registered) {
            self.irc_command(key, message);
        } else {
            self.irc_registration(key, message);
        }
        if let Some(irc) = self.irc(key) {
            irc.answering.clear();
        }
    }

    /// A line that could not be decoded (too long): the refusal in IRC's words.
    pub(super) fn refuse_irc_line(&mut self, key: usize, refusal: Refusal) {
        self.queue_event(key, &Event::Refused(refusal));
    }

    /// A line that is not UTF-8: `FAIL <its command> INVALID_UTF8` (UTF8ONLY).
    pub(super) fn refuse_irc_invalid_utf8(&mut self, key: usize, command: Option<&str>) {
        if let Some(irc) = self.irc(key) {
            irc.answering = command.unwrap_or("*").to_ascii_uppercase();
        }
        self.queue_event(key, &Event::Refused(Refusal::InvalidUtf8));
        if let Some(irc) = self.irc(key) {
            irc.answering.clear();
        }
    }

    /// Queues one event for an IRC connection, rendered for it alone: its nickname (numerics
    /// name their target), the batch its replies are in, the command being answered.
    pub(super) fn queue_irc_event(&mut self, key: usize, event: &Event) {
        let Some(irc) = self.irc(key) else {
            return;
        };
        // A history reply or a replay opens a batch for its lines.
        let opens = matches!(
            event,
            Event::Info(Info::HistoryStart { .. } | Info::MissedHeader { total: 1.., .. })
        );
        if opens && irc.caps.has(Caps::BATCH) {
            irc.next_batch += 1;
            irc.batch = Some(format!("h{}", irc.next_batch));
        }
        let base = self.link_base_for(key, event);
        let mut buf = BytesMut::new();
        self.with_link_base(base, |r| {
            if let Proto::Irc(irc) = &r.conns[key].proto {
                let view = View {
                    caps: irc.caps,
                    me: &irc.nick,
                    batch: irc.batch.as_deref(),
                    command: &irc.answering,
                };
                r.irc_renderer
                    .render(&r.renderer, &r.chat, event, view, &mut buf);
            }
        });
        let irc = self.irc(key).expect("an IRC connection");
        match event {
            Event::Info(Info::Registered { nick, .. }) => {
                irc.registered = true;
                irc.nick = nick.to_string();
            }
            Event::Info(Info::NickChanged { nick }) => irc.nick = nick.to_string(),
            Event::Info(Info::MissedEnd | Info::HistoryEnd { .. }) => irc.batch = None,
            _ => {}
        }
        if !buf.is_empty() {
            self.queue_raw(key, buf.freeze());
        }
    }

    /// A numeric from the server to the connection (`:server 421 nick ...`).
    fn irc_numeric(&mut self, key: usize, code: &str, rest: &str) {
        let server = self.irc_renderer.server.clone();
        let Some(irc) = self.irc(key) else {
            return;
        };
        let line = format!(":{server} {code} {} {rest}\r\n", irc.nick);
        self.queue_raw(key, Bytes::from(line));
    }

    /// A line from the server as it is (`CAP`, `PONG`, `ERROR`).
    fn irc_raw(&mut self, key: usize, line: String) {
        self.queue_raw(key, Bytes::from(line));
    }

    /// Answers a PING now, or after the history answers still due before it.
    fn irc_pong(&mut self, key: usize, token: String) {
        let server = self.irc_renderer.server.clone();
        let Some(irc) = self.irc(key) else {
            return;
        };
        if irc.queries > 0 && irc.held_pongs.len() < MAX_HELD_PONGS {
            irc.held_pongs.push(token);
            return;
        }
        self.irc_raw(key, format!(":{server} PONG {server} :{token}\r\n"));
    }

    /// A history query went out for an IRC connection: its PONGs wait for the answer.
    pub(super) fn irc_query_sent(&mut self, key: usize) {
        if let Some(irc) = self.irc(key) {
            irc.queries += 1;
        }
    }

    /// A history answer for an IRC connection was delivered: held PONGs follow the last one.
    pub(super) fn irc_query_answered(&mut self, key: usize) {
        let server: Arc<str> = self.irc_renderer.server.clone();
        let Some(irc) = self.irc(key) else {
            return;
        };
        irc.queries = irc.queries.saturating_sub(1);
        if irc.queries > 0 {
            return;
        }
        let held = std::mem::take(&mut irc.held_pongs);
        for token in held {
            self.irc_raw(key, format!(":{server} PONG {server} :{token}\r\n"));
        }
    }

    /// Re-reads the connection's wire after its capabilities changed.
    fn irc_caps_changed(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if let Proto::Irc(irc) = &conn.proto {
            let caps = irc.caps;
            conn.set_wire(Wire::Irc(caps));
        }
    }
}

/// The command and its first parameter, as refusals name them (`NICK alice`, `JOIN #x`).
fn answering(line: &str) -> String {
    let line = match line.strip_prefix('@') {
        Some(rest) => rest.split_once(' ').map_or("", |(_, r)| r),
        None => line,
    };
    let line = match line.strip_prefix(':') {
        Some(rest) => rest.split_once(' ').map_or("", |(_, r)| r),
        None => line,
    };
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let command = words.next().unwrap_or("").to_ascii_uppercase();
    match words.next() {
        Some(first) => {
            let first: String = first
                .trim_start_matches(':')
                .chars()
                .take(MAX_PENDING_NICK)
                .collect();
            format!("{command} {first}")
        }
        None => command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_lines_are_told_from_login_lines() {
        for irc in [
            "CAP LS 302",
            "NICK alice",
            "USER a 0 * :A",
            "PASS x",
            "PING x",
            "QUIT :bye",
        ] {
            assert!(is_irc(irc.as_bytes()), "{irc}");
            for split in 1..irc.len() {
                assert!(may_be_irc(&irc.as_bytes()[..split]), "{irc} cut at {split}");
            }
        }
        for line in ["alice", "NICK", "nick alice", "CAPTAIN", "민수", "Nickname"] {
            assert!(!is_irc(line.as_bytes()), "{line}");
        }
        assert!(!may_be_irc(b"alice"));
        assert!(!may_be_irc(b"CAPT"));
    }

    #[test]
    fn the_answered_command_is_its_word_and_first_parameter() {
        assert_eq!(answering("nick alice"), "NICK alice");
        assert_eq!(answering("@a=b :src JOIN #x,#y key"), "JOIN #x,#y");
        assert_eq!(answering("PRIVMSG :hi"), "PRIVMSG hi");
        assert_eq!(answering("LIST"), "LIST");
    }
}
