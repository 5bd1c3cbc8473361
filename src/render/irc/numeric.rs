//! Replies and refusals as IRC numerics (RFC 2812 §5, the Modern IRC Client Protocol's
//! numerics list), each from the server to the recipient's nickname. Replies IRC has no numeric
//! for are the line protocol's sentence as a NOTICE.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{irc_line, line_text, Caps, Hosts, IrcRenderer, Out, View};
use crate::chat::event::{Event, HistoryWhat, Info, Member, Refusal};
use crate::chat::nick::MAX_NICK_CHARS;
use crate::chat::MAX_ROOM_CHARS;
use crate::render::line::Renderer as LineRenderer;

/// Members per 353 line: a long list is cut to lines well under 512 bytes.
const NAMES_PER_LINE: usize = 12;

impl IrcRenderer {
    pub(super) fn info(
        &self,
        line: &LineRenderer,
        hosts: &dyn Hosts,
        info: &Info,
        view: View<'_>,
        buf: &mut BytesMut,
    ) {
        let (srv, me) = (&*self.server, view.me);
        match info {
            // IRC clients speak first: no prompts.
            Info::Greeting | Info::NickPrompt => {}
            Info::Registered {
                nick,
                rules,
                resumed,
                online_total,
                rooms_total,
                operators,
                op,
                resume_key,
                grace_secs,
            } => {
                let net = &self.network;
                let host = self.host_of(hosts, nick);
                irc_line!(
                    buf,
                    ":{srv} 001 {nick} :Welcome to the {net} network, {nick}!{nick}@{host}"
                );
                irc_line!(
                    buf,
                    ":{srv} 002 {nick} :Your host is {srv}, running reactor-chat {}",
                    self.version
                );
                irc_line!(
                    buf,
                    ":{srv} 003 {nick} :This server speaks IRC beside telnet and the web"
                );
                irc_line!(
                    buf,
                    ":{srv} 004 {nick} {srv} reactor-chat-{} io nt",
                    self.version
                );
                irc_line!(
                    buf,
                    ":{srv} 005 {nick} CHANTYPES=# PREFIX=(o)@ CHANMODES=b,,,nt NICKLEN={MAX_NICK_CHARS} CHANNELLEN={} TOPICLEN={} AWAYLEN={} KICKLEN={} :are supported by this server",
                    MAX_ROOM_CHARS + 1,
                    self.max_text,
                    self.max_text,
                    self.max_text,
                );
                irc_line!(
                    buf,
                    ":{srv} 005 {nick} NETWORK={net} CASEMAPPING=rfc8265 UTF8ONLY CHANLIMIT=#:{} MAXTARGETS={} MODES=1 :are supported by this server",
                    self.max_rooms,
                    self.max_targets
                );
                irc_line!(buf, ":{srv} 251 {nick} :There are {online_total} users and 0 invisible on 1 servers");
                irc_line!(buf, ":{srv} 252 {nick} {operators} :operator(s) online");
                irc_line!(buf, ":{srv} 254 {nick} {rooms_total} :channels formed");
                irc_line!(
                    buf,
                    ":{srv} 255 {nick} :I have {online_total} clients and 0 servers"
                );
                if rules.is_empty() {
                    irc_line!(buf, ":{srv} 422 {nick} :MOTD File is missing");
                } else {
                    irc_line!(buf, ":{srv} 375 {nick} :- {srv} Message of the day - ");
                    for l in rules.lines() {
                        irc_line!(buf, ":{srv} 372 {nick} :- {l}");
                    }
                    irc_line!(buf, ":{srv} 376 {nick} :End of /MOTD command.");
                }
                // The key that reclaims the session from anywhere (`PASS <key>`), as the line
                // protocol tells it.
                irc_line!(
                    buf,
                    ":{srv} NOTICE {nick} :Your resume key is {resume_key}: reconnect within {grace_secs} s with PASS {resume_key} to come back as {nick} from anywhere"
                );
                if *resumed {
                    irc_line!(buf, ":{srv} NOTICE {nick} :Welcome back, {nick}.");
                }
                if *op {
                    irc_line!(buf, ":{srv} 381 {nick} :You are now an IRC operator");
                }
            }
            Info::Entered {
                room,
                topic,
                topic_at,
                members,
            } => {
                let host = self.host_of(hosts, me);
                self.tags(buf, view, None, None);
                irc_line!(buf, ":{me}!{me}@{host} JOIN #{room}");
                if let Some((topic, by)) = topic {
                    irc_line!(buf, ":{srv} 332 {me} #{room} :{topic}");
                    irc_line!(buf, ":{srv} 333 {me} #{room} {by} {}", topic_at / 1000);
                }
                self.names(buf, view, room, members);
            }
            Info::Parted { room, message } => {
                let host = self.host_of(hosts, me);
                match message {
                    Some(m) => irc_line!(buf, ":{me}!{me}@{host} PART #{room} :{m}"),
                    None => irc_line!(buf, ":{me}!{me}@{host} PART #{room}"),
                }
            }
            Info::Members { room, members } => self.names(buf, view, room, members),
            Info::RoomList { rooms } => {
                irc_line!(buf, ":{srv} 321 {me} Channel :Users  Name");
                for (name, count, topic) in rooms {
                    irc_line!(
                        buf,
                        ":{srv} 322 {me} #{name} {count} :{}",
                        topic.as_deref().unwrap_or("")
                    );
                }
                irc_line!(buf, ":{srv} 323 {me} :End of /LIST");
            }
            Info::RoomModes {
                room,
                topic_locked,
                opened_at,
            } => {
                let modes = if *topic_locked { "+nt" } else { "+n" };
                irc_line!(buf, ":{srv} 324 {me} #{room} {modes}");
                irc_line!(buf, ":{srv} 329 {me} #{room} {}", opened_at / 1000);
            }
            Info::Topic {
                room,
                topic: Some((topic, by)),
                at,
            } => {
                irc_line!(buf, ":{srv} 332 {me} #{room} :{topic}");
                irc_line!(buf, ":{srv} 333 {me} #{room} {by} {}", at / 1000);
            }
            Info::Topic {
                room, topic: None, ..
            } => {
                irc_line!(buf, ":{srv} 331 {me} #{room} :No topic is set");
            }
            Info::Who {
                mask,
                users,
                reveal,
            } => {
                for (m, room) in users {
                    let host = self.shown_host(m, *reveal);
                    let channel = room
                        .as_ref()
                        .map_or_else(|| "*".to_string(), |r| format!("#{r}"));
                    let away = if m.away { 'G' } else { 'H' };
                    let flags = prefix(m);
                    let star = if m.op { "*" } else { "" };
                    irc_line!(
                        buf,
                        ":{srv} 352 {me} {channel} {0} {host} {srv} {0} {away}{star}{flags} :0 {0}",
                        m.nick
                    );
                }
                irc_line!(buf, ":{srv} 315 {me} {mask} :End of /WHO list");
            }
            Info::WhoisUser {
                member,
                rooms,
                idle_secs,
                signon,
                away,
                reconnecting,
                reveal,
            } => {
                let nick = &member.nick;
                let host = self.cloak.host(member.ip);
                irc_line!(buf, ":{srv} 311 {me} {nick} {nick} {host} * :{nick}");
                if !rooms.is_empty() {
                    let mut list = String::new();
                    for (i, (room, room_op)) in rooms.iter().enumerate() {
                        if i > 0 {
                            list.push(' ');
                        }
                        if *room_op || member.op {
                            list.push('@');
                        }
                        let _ = write!(list, "#{room}");
                    }
                    irc_line!(buf, ":{srv} 319 {me} {nick} :{list}");
                }
                irc_line!(buf, ":{srv} 312 {me} {nick} {srv} :{}", self.network);
                if member.op {
                    irc_line!(buf, ":{srv} 313 {me} {nick} :is an IRC operator");
                }
                if let Some(away) = away {
                    irc_line!(buf, ":{srv} 301 {me} {nick} :{away}");
                }
                if *reconnecting {
                    irc_line!(
                        buf,
                        ":{srv} NOTICE {me} :{nick} lost the connection and may come back"
                    );
                }
                if *reveal {
                    irc_line!(
                        buf,
                        ":{srv} 338 {me} {nick} {} :actually using host",
                        member.ip.to_canonical()
                    );
                }
                irc_line!(
                    buf,
                    ":{srv} 317 {me} {nick} {idle_secs} {} :seconds idle, signon time",
                    signon / 1000
                );
                irc_line!(buf, ":{srv} 318 {me} {nick} :End of /WHOIS list");
            }
            Info::Online { nicks } => {
                let mut list = String::new();
                for (i, n) in nicks.iter().enumerate() {
                    if i > 0 {
                        list.push(' ');
                    }
                    list.push_str(n);
                }
                irc_line!(buf, ":{srv} 303 {me} :{list}");
            }
            Info::Userhosts { users } => {
                let mut list = String::new();
                for (i, m) in users.iter().enumerate() {
                    if i > 0 {
                        list.push(' ');
                    }
                    let op = if m.op { "*" } else { "" };
                    let away = if m.away { '-' } else { '+' };
                    let _ = write!(list, "{0}{op}={away}{0}@{1}", m.nick, self.cloak.host(m.ip));
                }
                irc_line!(buf, ":{srv} 302 {me} :{list}");
            }
            Info::NickChanged { nick } => {
                let host = self.host_of(hosts, nick);
                irc_line!(buf, ":{me}!{me}@{host} NICK :{nick}");
            }
            Info::AwaySet { .. } => {
                irc_line!(buf, ":{srv} 306 {me} :You have been marked as being away");
            }
            Info::AwayCleared => {
                irc_line!(
                    buf,
                    ":{srv} 305 {me} :You are no longer marked as being away"
                );
            }
            Info::TargetAway { nick, message } => {
                irc_line!(buf, ":{srv} 301 {me} {nick} :{message}");
            }
            Info::WhisperSent { to, text, id, at } => {
                // The sender's copy exists only for clients that asked for it, as it was sent:
                // a whispered `/me` is a CTCP ACTION again.
                if view.caps.has(Caps::ECHO_MESSAGE) {
                    let host = self.host_of(hosts, me);
                    self.tags(buf, view, Some(*at), Some(id.0));
                    let action = text.strip_prefix("* ").and_then(|t| t.strip_prefix(me));
                    match action.and_then(|a| a.strip_prefix(' ')) {
                        Some(action) => irc_line!(
                            buf,
                            ":{me}!{me}@{host} PRIVMSG {to} :\u{1}ACTION {action}\u{1}"
                        ),
                        None => irc_line!(buf, ":{me}!{me}@{host} PRIVMSG {to} :{text}"),
                    }
                }
            }
            Info::NowOperator => irc_line!(buf, ":{srv} 381 {me} :You are now an IRC operator"),
            Info::MissedHeader { total: 0, .. } => {}
            Info::MissedHeader { .. } | Info::HistoryStart { .. } => {
                if let Some(batch) = view.batch {
                    let (kind, target) = match info {
                        Info::HistoryStart { room, .. } => ("chathistory", format!(" #{room}")),
                        _ => ("reactor-chat/missed", String::new()),
                    };
                    irc_line!(buf, "BATCH +{batch} {kind}{target}");
                }
                if !matches!(
                    info,
                    Info::HistoryStart {
                        what: HistoryWhat::Backlog { .. },
                        ..
                    }
                ) {
                    self.notices(
                        line,
                        &Event::Info(info.clone()),
                        me,
                        View {
                            batch: None,
                            ..view
                        },
                        None,
                        buf,
                    );
                }
            }
            Info::MissedEnd | Info::HistoryEnd { .. } => {
                if let Some(batch) = view.batch {
                    irc_line!(buf, "BATCH -{batch}");
                }
            }
            _ => self.notices(line, &Event::Info(info.clone()), me, view, None, buf),
        }
    }

    /// 353 lines (cut to a dozen names each) and the 366 that ends them.
    fn names(&self, buf: &mut BytesMut, view: View<'_>, room: &str, members: &[Member]) {
        let (srv, me) = (&*self.server, view.me);
        for chunk in members.chunks(NAMES_PER_LINE) {
            let mut list = String::new();
            for (i, m) in chunk.iter().enumerate() {
                if i > 0 {
                    list.push(' ');
                }
                list.push_str(prefix(m));
                list.push_str(&m.nick);
                if view.caps.has(Caps::USERHOST_IN_NAMES) {
                    let _ = write!(list, "!{}@{}", m.nick, self.cloak.host(m.ip));
                }
            }
            irc_line!(buf, ":{srv} 353 {me} = #{room} :{list}");
        }
        irc_line!(buf, ":{srv} 366 {me} #{room} :End of /NAMES list");
    }

    /// The host a list shows: the real address to an operator, the cloak to the others.
    fn shown_host(&self, m: &Member, reveal: bool) -> String {
        if reveal {
            m.ip.to_canonical().to_string()
        } else {
            self.cloak.host(m.ip)
        }
    }

    pub(super) fn refusal(
        &self,
        line: &LineRenderer,
        refusal: &Refusal,
        view: View<'_>,
        buf: &mut BytesMut,
    ) {
        let (srv, me) = (&*self.server, view.me);
        if view.command.split(' ').next() == Some("NOTICE") {
            // A NOTICE is never answered with an error, so two bots cannot loop on them.
            return;
        }
        let text = line_text(line, &Event::Refused(refusal.clone()));
        // "! code: sentence" → the sentence.
        let text = text.trim_end();
        let why = text.split_once(": ").map_or(text, |(_, t)| t);
        match refusal {
            Refusal::NickInvalid(_) | Refusal::NickReserved { .. } | Refusal::NickBanned { .. } => {
                let nick = match refusal {
                    Refusal::NickReserved { nick } | Refusal::NickBanned { nick, .. } => nick,
                    _ => view.command.split(' ').nth(1).unwrap_or("*"),
                };
                irc_line!(buf, ":{srv} 432 {me} {nick} :{why}");
            }
            Refusal::NickTaken { nick, .. } | Refusal::NickHeld { nick, .. } => {
                irc_line!(buf, ":{srv} 433 {me} {nick} :{why}");
            }
            // ERR_UNAVAILRESOURCE: the name may be free, but cannot be checked for now.
            Refusal::ClusterDown => {
                let nick = view.command.split(' ').nth(1).unwrap_or("*");
                irc_line!(buf, ":{srv} 437 {me} {nick} :{why}");
            }
            Refusal::NoSuchUser { nick } => irc_line!(buf, ":{srv} 401 {me} {nick} :{why}"),
            Refusal::NoSuchRoom { room } => irc_line!(buf, ":{srv} 403 {me} #{room} :{why}"),
            Refusal::NotInRoom { room } if is_message(view.command) => {
                irc_line!(buf, ":{srv} 404 {me} #{room} :{why}");
            }
            Refusal::NotInRoom { room } => irc_line!(buf, ":{srv} 442 {me} #{room} :{why}"),
            Refusal::TargetNotInRoom { nick, room } => {
                irc_line!(buf, ":{srv} 441 {me} {nick} #{room} :{why}");
            }
            Refusal::NotRoomOperator { room } | Refusal::TopicLocked { room } => {
                irc_line!(buf, ":{srv} 482 {me} #{room} :{why}");
            }
            Refusal::NotOperator => irc_line!(buf, ":{srv} 481 {me} :{why}"),
            Refusal::TooManyRooms { .. } => {
                let room = view.command.split(' ').nth(1).unwrap_or("*");
                irc_line!(buf, ":{srv} 405 {me} {room} :{why}");
            }
            Refusal::BadRoom { .. } => {
                let room = view.command.split(' ').nth(1).unwrap_or("*");
                irc_line!(buf, ":{srv} 479 {me} {room} :{why}");
            }
            Refusal::UnknownCommand { command } => {
                irc_line!(
                    buf,
                    ":{srv} 421 {me} {} :{why}",
                    command.trim_start_matches('/')
                );
            }
            Refusal::Usage(entry) => {
                irc_line!(buf, ":{srv} 461 {me} {} :{why}", entry.name.to_uppercase());
            }
            Refusal::LineTooLong { .. } => irc_line!(buf, ":{srv} 417 {me} :{why}"),
            Refusal::InvalidUtf8 => {
                let command = view
                    .command
                    .split(' ')
                    .next()
                    .filter(|c| !c.is_empty())
                    .unwrap_or("*");
                irc_line!(buf, "FAIL {command} INVALID_UTF8 :{why}");
            }
            // Joining a room one is in is no error on IRC.
            Refusal::AlreadyThere { .. } => {}
            _ => irc_line!(buf, ":{srv} NOTICE {me} :{text}"),
        }
    }
}

/// A member's prefix in a room: `@` for its operators and the server's (the one prefix there
/// is, so multi-prefix changes nothing).
fn prefix(m: &Member) -> &'static str {
    if m.op || m.room_op {
        "@"
    } else {
        ""
    }
}

/// Whether a command sends a message (refusals about its target are 404, not 442).
fn is_message(command: &str) -> bool {
    let word = command.split(' ').next().unwrap_or("");
    word.eq_ignore_ascii_case("PRIVMSG") || word.eq_ignore_ascii_case("NOTICE")
}

#[cfg(test)]
mod tests {
    use super::is_message;

    #[test]
    fn messages_are_told_from_other_commands() {
        assert!(is_message("PRIVMSG #a"));
        assert!(is_message("notice"));
        assert!(!is_message("TOPIC #a"));
    }
}
