//! The IRC renderer: events into IRC lines (RFC 1459/2812 as modern clients read them, and the
//! IRCv3 extensions in [`caps`]), beside the line protocol's.
//!
//! Room events become what IRC clients display (`PRIVMSG`, `JOIN`, `PART`, `QUIT`, `KICK`,
//! `NICK`, `TOPIC`, `AWAY`) with the sender as `nick!nick@host`, the host cloaked ([`cloak`]);
//! replies become numerics ([`numeric`]); everything IRC has no form for (game, files, schedules,
//! presence summaries, help) is the line protocol's own sentence as a `NOTICE`, to the room for a
//! room event and to the user otherwise. A broadcast's bytes depend only on the recipient's
//! byte-changing capabilities (`Caps::broadcast_key`), so the reactor renders it once per
//! combination; a reply to one connection also reads that connection's nickname and open batch.

pub mod caps;
pub mod cloak;
mod numeric;

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use crate::chat::event::{Departure, Event, UnixMillis};
use crate::chat::text::without_formatting;
use crate::render::line::Renderer as LineRenderer;
use crate::render::texts::room as room_text;
pub use caps::Caps;
pub use cloak::Cloak;

/// Who an IRC line's source is: the address of a user by nickname, for its host. The chat core
/// answers for users online, and for users who left during the turn being rendered.
pub trait Hosts {
    fn ip_of(&self, nick: &str) -> Option<IpAddr>;
}

/// What a rendering may depend on besides the event: the recipient's capabilities, and for a
/// reply to one connection its nickname (numerics name their target), the batch its lines are
/// in, and the command being answered.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub caps: Caps,
    /// The recipient's nickname; `*` before it has one, and for broadcasts (whose bytes never
    /// name their recipient).
    pub me: &'a str,
    /// The batch a reply's lines belong to (history, replay), with `batch`.
    pub batch: Option<&'a str>,
    /// The command a refusal answers (`PRIVMSG` gets 404 where `TOPIC` gets 442).
    pub command: &'a str,
}

impl<'a> View<'a> {
    /// A broadcast's view: capabilities only.
    pub fn broadcast(caps: Caps) -> Self {
        View {
            caps,
            me: "*",
            batch: None,
            command: "",
        }
    }
}

/// The IRC renderer's settings.
#[derive(Debug)]
pub struct IrcRenderer {
    /// The server's name: the source of its numerics and notices (`--server-name`).
    pub server: Arc<str>,
    /// The network's name in ISUPPORT and the welcome (`--network-name`).
    pub network: Arc<str>,
    pub cloak: Cloak,
    /// The server's version, in 002 and 004.
    pub version: &'static str,
    /// The longest line a user may send, as TOPICLEN and AWAYLEN tell clients.
    pub max_text: usize,
    /// `--max-rooms-per-user`, as CHANLIMIT tells clients.
    pub max_rooms: usize,
    /// `--max-targets`, as MAXTARGETS tells clients.
    pub max_targets: usize,
}

/// `write!` into a BytesMut cannot fail.
struct Out<'a>(&'a mut BytesMut);

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends one IRC line and its `\r\n`.
macro_rules! irc_line {
    ($buf:expr, $($arg:tt)*) => {{
        let _ = write!(Out($buf), $($arg)*);
        $buf.put_slice(b"\r\n");
    }};
}
use irc_line;

impl IrcRenderer {
    /// Renders `event` for a recipient seen through `view`; nothing for an event IRC does not
    /// show that recipient (an away change without away-notify, a greeting).
    pub fn render(
        &self,
        line: &LineRenderer,
        hosts: &dyn Hosts,
        event: &Event,
        view: View<'_>,
        buf: &mut BytesMut,
    ) {
        match event {
            Event::Past { event, dated } => self.past(line, hosts, event, *dated, view, buf),
            Event::Info(info) => self.info(line, hosts, info, view, buf),
            Event::Refused(refusal) => self.refusal(line, refusal, view, buf),
            Event::Bye(_) => {
                let text = line_text(line, event);
                let text = text
                    .trim_end()
                    .trim_start_matches("bye final: ")
                    .trim_start_matches("bye reconnect: ");
                irc_line!(buf, "ERROR :Closing link: {text}");
            }
            _ => self.room_event(line, hosts, event, view, None, buf),
        }
    }

    /// A room event, live or (`at`) from the history with its original time.
    fn room_event(
        &self,
        line: &LineRenderer,
        hosts: &dyn Hosts,
        event: &Event,
        view: View<'_>,
        id_at: Option<UnixMillis>,
        buf: &mut BytesMut,
    ) {
        let at = id_at.or_else(|| event.at());
        let source = |nick: &str| Source {
            nick: nick.to_string(),
            host: self.host_of(hosts, nick),
        };
        match event {
            Event::Message {
                id,
                room,
                from,
                text,
                ..
            }
            | Event::Scheduled {
                id,
                room,
                from,
                text,
                ..
            } => {
                self.tags(buf, view, at, Some(id.0));
                irc_line!(buf, ":{} PRIVMSG #{room} :{text}", source(from));
            }
            Event::Action {
                id,
                room,
                from,
                text,
                ..
            } => {
                self.tags(buf, view, at, Some(id.0));
                irc_line!(
                    buf,
                    ":{} PRIVMSG #{room} :\u{1}ACTION {text}\u{1}",
                    source(from)
                );
            }
            Event::Whisper {
                id, from, to, text, ..
            } => {
                self.tags(buf, view, at, Some(id.0));
                match text
                    .strip_prefix("* ")
                    .and_then(|t| t.strip_prefix(&**from))
                {
                    Some(action) if action.starts_with(' ') => irc_line!(
                        buf,
                        ":{} PRIVMSG {to} :\u{1}ACTION {}\u{1}",
                        source(from),
                        &action[1..]
                    ),
                    _ => irc_line!(buf, ":{} PRIVMSG {to} :{text}", source(from)),
                }
            }
            Event::Joined { id, room, nick, .. } | Event::Reconnected { id, room, nick, .. } => {
                self.tags(buf, view, at, Some(id.0));
                irc_line!(buf, ":{} JOIN #{room}", source(nick));
            }
            Event::Left {
                id,
                room,
                nick,
                how,
                ..
            } => self.departure(line, buf, view, at, id.0, room, &source(nick), how, hosts),
            Event::Renamed { id, old, new, .. } => {
                self.tags(buf, view, at, Some(id.0));
                let host = self.host_of(hosts, new);
                irc_line!(buf, ":{old}!{old}@{host} NICK :{new}");
            }
            Event::TopicSet {
                id,
                room,
                by,
                topic,
                ..
            } => {
                self.tags(buf, view, at, Some(id.0));
                irc_line!(buf, ":{} TOPIC #{room} :{topic}", source(by));
            }
            Event::AwayChanged { nick, message, .. } => {
                if !view.caps.has(Caps::AWAY_NOTIFY) {
                    return;
                }
                match message {
                    Some(m) => irc_line!(buf, ":{} AWAY :{m}", source(nick)),
                    None => irc_line!(buf, ":{} AWAY", source(nick)),
                }
            }
            // What IRC has no command for: the line protocol's sentence, to the room.
            _ => {
                let target = event
                    .room()
                    .map_or_else(|| view.me.to_string(), |r| format!("#{r}"));
                self.notices(line, event, &target, view, at, buf);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn departure(
        &self,
        line: &LineRenderer,
        buf: &mut BytesMut,
        view: View<'_>,
        at: Option<UnixMillis>,
        id: u64,
        room: &str,
        source: &Source,
        how: &Departure,
        hosts: &dyn Hosts,
    ) {
        let lang = line.lang;
        match how {
            // The user quit the server: once per room it was in (a client sharing two rooms with
            // it reads the second QUIT of a nick it no longer knows, and ignores it).
            Departure::Quit { message } => {
                self.tags(buf, view, at, Some(id));
                irc_line!(
                    buf,
                    ":{source} QUIT :Quit: {}",
                    message.as_deref().unwrap_or("")
                );
            }
            Departure::Lost { reason } => {
                self.tags(buf, view, at, Some(id));
                let reason = room_text::lost_reason(lang, *reason);
                irc_line!(buf, ":{source} QUIT :{reason}");
            }
            // Its clients saw it QUIT when the connection was lost: nothing more to show.
            Departure::GraceExpired { .. } => {}
            Departure::Moved { to } => {
                self.tags(buf, view, at, Some(id));
                irc_line!(buf, ":{source} PART #{room} :#{to}");
            }
            Departure::Parted { message } => {
                self.tags(buf, view, at, Some(id));
                match message {
                    Some(m) => irc_line!(buf, ":{source} PART #{room} :{m}"),
                    None => irc_line!(buf, ":{source} PART #{room}"),
                }
            }
            Departure::Kicked { by, reason } => {
                self.tags(buf, view, at, Some(id));
                let by_host = self.host_of(hosts, by);
                let reason = reason.as_deref().unwrap_or(by);
                irc_line!(
                    buf,
                    ":{by}!{by}@{by_host} KICK #{room} {} :{reason}",
                    source.nick
                );
            }
        }
    }

    /// A history line: a message with server-time as it was live, with its original time;
    /// anything else (and every line without server-time) as the line protocol's stamped
    /// sentence in a NOTICE, so an old line never reads as new nor changes the client's state.
    fn past(
        &self,
        line: &LineRenderer,
        hosts: &dyn Hosts,
        event: &Event,
        dated: bool,
        view: View<'_>,
        buf: &mut BytesMut,
    ) {
        // Only what was said comes back as it was live: a past JOIN, KICK, NICK or TOPIC sent
        // as a command would change what the client holds now (its channels, names, topic).
        let said = matches!(
            event,
            Event::Message { .. } | Event::Action { .. } | Event::Scheduled { .. }
        );
        if said && view.caps.has(Caps::SERVER_TIME) {
            return self.room_event(line, hosts, event, view, event.at(), buf);
        }
        let past = Event::Past {
            event: Box::new(event.clone()),
            dated,
        };
        let target = event
            .room()
            .map_or_else(|| view.me.to_string(), |r| format!("#{r}"));
        self.notices(line, &past, &target, view, None, buf);
    }

    /// The line protocol's lines for `event`, each as a NOTICE from the server to `target`.
    fn notices(
        &self,
        line: &LineRenderer,
        event: &Event,
        target: &str,
        view: View<'_>,
        at: Option<UnixMillis>,
        buf: &mut BytesMut,
    ) {
        let text = line_text(line, event);
        for l in text.split("\r\n").filter(|l| !l.is_empty()) {
            self.tags(buf, view, at, None);
            irc_line!(buf, ":{} NOTICE {target} :{l}", self.server);
        }
    }

    /// The tags a line carries for this recipient: `time` (server-time), `msgid`
    /// (message-tags) and `batch` (batch, inside one).
    fn tags(&self, buf: &mut BytesMut, view: View<'_>, at: Option<UnixMillis>, id: Option<u64>) {
        let mut sep = '@';
        if let (Some(at), true) = (at, view.caps.has(Caps::SERVER_TIME)) {
            let _ = write!(Out(buf), "{sep}time={}", irc_time(at));
            sep = ';';
        }
        if view.caps.has(Caps::MESSAGE_TAGS) {
            if let Some(id) = id {
                let _ = write!(Out(buf), "{sep}msgid={id}");
                sep = ';';
            }
        }
        if let Some(batch) = view.batch {
            let _ = write!(Out(buf), "{sep}batch={batch}");
            sep = ';';
        }
        if sep == ';' {
            buf.put_u8(b' ');
        }
    }

    /// The host shown for a nickname's user: its cloak, or the server's name for a user the
    /// server no longer knows (a line from the history).
    fn host_of(&self, hosts: &dyn Hosts, nick: &str) -> String {
        match hosts.ip_of(nick) {
            Some(ip) => self.cloak.host(ip),
            None => format!("gone.{}", self.server),
        }
    }
}

/// A line's source: `nick!nick@host`.
struct Source {
    nick: String,
    host: String,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{0}!{0}@{1}", self.nick, self.host)
    }
}

/// The line protocol's text of an event without its framing: no `-- ` before a reply, no
/// `\r\n` at the end of the last line, IRC formatting taken out as for line users.
fn line_text(line: &LineRenderer, event: &Event) -> String {
    let mut buf = BytesMut::new();
    line.render(event, &mut buf);
    let text = String::from_utf8_lossy(&buf);
    let mut out = String::with_capacity(text.len());
    for l in text.split("\r\n").filter(|l| !l.is_empty()) {
        out.push_str(l.strip_prefix("-- ").unwrap_or(l));
        out.push_str("\r\n");
    }
    without_formatting(&out).into_owned()
}

/// An IRCv3 server-time: `2026-12-03T17:04:05.123Z`.
fn irc_time(at: UnixMillis) -> String {
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at as i64).unwrap_or_default();
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests;
