//! What a protocol with commands of its own (IRC) asks of the core, as plain data: the line
//! protocol's lines are parsed by [`command`](super::command); an IRC message is translated into a
//! [`Request`] by the reactor's IRC layer, and its answers come back as the same events every
//! renderer reads.

use super::context::Cx;
use super::event::Refusal;
use super::{command, text, Chat, ConnId, Now, Outbox};

/// One request from a session that keeps rooms. Texts are as the client sent them; the core
/// cleans them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// A message (or `/me`) to a room; `echo`: the sender gets its own copy.
    Say {
        room: &'a str,
        text: &'a str,
        action: bool,
        echo: bool,
    },
    /// A whisper (or a `/me` whispered).
    Whisper {
        to: &'a str,
        text: &'a str,
        action: bool,
    },
    Join {
        room: &'a str,
    },
    Part {
        room: &'a str,
        message: Option<&'a str>,
    },
    Topic {
        room: &'a str,
        text: Option<&'a str>,
    },
    LockTopic {
        room: &'a str,
        locked: bool,
    },
    Names {
        room: &'a str,
    },
    List,
    Modes {
        room: &'a str,
    },
    Who {
        mask: &'a str,
    },
    Whois {
        nick: &'a str,
    },
    Kick {
        room: &'a str,
        nick: &'a str,
        reason: Option<&'a str>,
    },
    Away(Option<&'a str>),
    Nick(&'a str),
    Quit(Option<&'a str>),
    Online(Vec<&'a str>),
    Userhosts(Vec<&'a str>),
    /// The protocol checked the asker's operator credentials (IRC's OPER).
    BecomeOperator,
    /// A line-protocol command (`/history 20`), run in `room` if named, else in the session's
    /// current room.
    Command {
        room: Option<&'a str>,
        line: &'a str,
    },
}

impl Chat {
    /// Runs one request from `conn`'s session; a connection that has not logged in is ignored
    /// (its protocol logs it in with [`Chat::register`] first).
    pub fn request(&mut self, conn: ConnId, request: Request<'_>, now: Now, out: &mut Outbox) {
        let Some(sid) = self.sessions.session_of(conn) else {
            return;
        };
        self.sessions.touch(sid, now.mono);
        let mut cx = Cx {
            conn,
            sid,
            now,
            out,
        };
        let cx = &mut cx;
        let plain = |t: &str| text::sanitize(t).into_owned();
        match request {
            Request::Say {
                room,
                text,
                action,
                echo,
            } => {
                let text = text::sanitize_keeping_formatting(text);
                if !text.is_empty() {
                    self.say_in(cx, room, &text, action, echo);
                }
            }
            Request::Whisper { to, text, action } => {
                let text = text::sanitize_keeping_formatting(text);
                if text.is_empty() {
                    return;
                }
                if action {
                    // A whispered `/me` reads as one to its target on every protocol.
                    let nick = self.sessions[sid].nick().clone();
                    self.whisper(cx, to, &format!("* {nick} {text}"));
                } else {
                    self.whisper(cx, to, &text);
                }
            }
            Request::Join { room } => self.join_keeping(cx, room),
            Request::Part { room, message } => {
                let message = message.map(plain).filter(|m| !m.is_empty());
                self.part_one(cx, room, message.as_deref());
            }
            Request::Topic { room, text } => {
                let text = text.map(plain);
                self.topic_in(cx, room, text.as_deref());
            }
            Request::LockTopic { room, locked } => self.lock_topic_in(cx, room, locked),
            Request::Names { room } => self.names(cx, room),
            Request::List => self.list_all(cx),
            Request::Modes { room } => self.room_modes(cx, room),
            Request::Who { mask } => self.who(cx, mask),
            Request::Whois { nick } => self.whois_user(cx, nick),
            Request::Kick { room, nick, reason } => {
                let reason = reason.map(plain).filter(|r| !r.is_empty());
                self.kick_from_room(cx, room, nick, reason.as_deref());
            }
            Request::Away(message) => {
                // IRC's AWAY without a message clears it, even when none was set.
                let message = message.map(plain).filter(|m| !m.is_empty());
                match message {
                    Some(m) => self.away(cx, Some(&m)),
                    None if self.sessions[sid].away().is_some() => self.away(cx, None),
                    None => cx.info(super::Info::AwayCleared),
                }
            }
            Request::Nick(new) => self.rename(cx, new),
            Request::Quit(message) => {
                let message = message.map(plain).filter(|m| !m.is_empty());
                self.quit(cx, message.as_deref());
            }
            Request::Online(nicks) => self.online_of(cx, &nicks),
            Request::Userhosts(nicks) => self.userhosts(cx, &nicks),
            Request::BecomeOperator => self.become_op(cx),
            Request::Command { room, line } => self.command_in(cx, room, line),
        }
    }

    /// A line-protocol command from a session that keeps rooms, in the room it names or its
    /// current one.
    pub(super) fn command_in(&mut self, cx: &mut Cx<'_>, room: Option<&str>, line: &str) {
        let clean = text::sanitize(line);
        let cmd = command::parse(&clean);
        if let command::Command::File { .. } = cmd {
            // An upload's bytes follow its line raw; IRC cannot carry them.
            let command = "/file".into();
            return cx.refuse(Refusal::NotOverThisProtocol { command });
        }
        let room = match room {
            Some(name) => match self.rooms.find(name) {
                Some(r) if self.sessions[cx.sid].is_in(r) => Some(r),
                _ => {
                    let room = name.into();
                    return cx.refuse(Refusal::NotInRoom { room });
                }
            },
            None => self.sessions[cx.sid].current_room(),
        };
        match room {
            Some(room) => {
                self.sessions[cx.sid].focus(room);
                self.command(cx, cmd);
            }
            // Commands that need no room run anyway; the others are refused.
            None if needs_no_room(&cmd) => self.command(cx, cmd),
            None => cx.refuse(Refusal::NoRoomYet),
        }
    }
}

/// Commands that do not act on the current room.
fn needs_no_room(cmd: &command::Command<'_>) -> bool {
    use command::{Command as C, GameCommand as G};
    matches!(
        cmd,
        C::Help(_)
            | C::Rooms
            | C::Whois(_)
            | C::Whisper { .. }
            | C::Away(_)
            | C::Schedules
            | C::Unschedule(_)
            | C::Op(_)
            | C::Game(G::Categories)
            | C::AcceptInvite(_)
            | C::DeclineInvite(_)
            | C::Invites(_)
            | C::Quit(_)
            | C::Usage(_)
            | C::Unknown(_)
    )
}
