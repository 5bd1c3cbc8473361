//! A registered IRC connection's commands, translated into requests to the chat core.
//!
//! `#room` is the room `room`. Commands IRC has and the line protocol has too are translated
//! (`PRIVMSG`, `JOIN`, `PART`, `TOPIC`, `KICK`, `AWAY`, `NICK`, `QUIT`, `WHOIS`...); a command
//! word that is a line-protocol command (`HISTORY 20`, `GAME start`, `SCHEDULE 5m hi`) runs as
//! that command, in the room its first parameter names (`HISTORY #lobby 20`) or the user's
//! current one (the room it last joined or spoke in); anything else is 421.

use irc_proto::{ChannelMode, Command, Message, Mode};

use crate::chat::{help, ConnId, Request};
use crate::reactor::Reactor;
use crate::render::irc::Caps;

/// CTCP's delimiter: `\x01ACTION waves\x01` is a `/me`.
const CTCP: char = '\u{1}';

impl Reactor {
    /// The comma-separated targets of a command, at most `--max-targets` of them; the others
    /// get 407.
    fn targets<'a>(&mut self, key: usize, list: &'a str) -> Vec<&'a str> {
        let max = self.irc_renderer.max_targets;
        let mut all: Vec<&str> = list.split(',').filter(|t| !t.is_empty()).collect();
        if all.len() > max {
            let extra = all.split_off(max).join(",");
            self.irc_numeric(
                key,
                "407",
                &format!("{extra} :Too many targets ({max} at most)"),
            );
        }
        all
    }

    /// Whether the connection still takes commands (not closing, not dropped).
    fn irc_open(&self, key: usize) -> bool {
        self.conns.get(key).is_some_and(|c| c.accepts_output())
    }

    /// One command from a registered IRC connection.
    pub(super) fn irc_command(&mut self, key: usize, message: Message) {
        let echo = self
            .irc(key)
            .is_some_and(|i| i.caps.has(Caps::ECHO_MESSAGE));
        match message.command {
            Command::PRIVMSG(targets, text) | Command::NOTICE(targets, text) => {
                self.irc_message(key, &targets, &text, echo);
            }
            Command::JOIN(rooms, _, _) => {
                if rooms == "0" {
                    // JOIN 0 leaves every room.
                    let rooms = self.chat.rooms_of(ConnId(key));
                    for room in rooms {
                        self.irc_request(
                            key,
                            Request::Part {
                                room: &room,
                                message: None,
                            },
                        );
                    }
                    return;
                }
                for room in self.targets(key, &rooms) {
                    if !self.irc_open(key) {
                        return;
                    }
                    match room.strip_prefix('#') {
                        Some(name) => self.irc_request(key, Request::Join { room: name }),
                        None => self.irc_numeric(key, "403", &format!("{room} :No such channel")),
                    }
                }
            }
            Command::PART(rooms, message) => {
                for room in self.targets(key, &rooms) {
                    let name = room.trim_start_matches('#');
                    let message = message.as_deref();
                    self.irc_request(
                        key,
                        Request::Part {
                            room: name,
                            message,
                        },
                    );
                }
            }
            Command::TOPIC(room, text) => {
                let room = room.trim_start_matches('#');
                let text = text.as_deref();
                self.irc_request(key, Request::Topic { room, text });
            }
            Command::NAMES(Some(rooms), _) => {
                for room in self.targets(key, &rooms) {
                    let room = room.trim_start_matches('#');
                    self.irc_request(key, Request::Names { room });
                }
            }
            Command::NAMES(None, _) => self.irc_numeric(key, "366", "* :End of /NAMES list"),
            Command::LIST(..) => self.irc_request(key, Request::List),
            Command::ChannelMODE(room, modes) => self.irc_channel_mode(key, &room, &modes),
            Command::UserMODE(nick, modes) => {
                let me = self.irc(key).map(|i| i.nick.clone()).unwrap_or_default();
                if !nick.eq_ignore_ascii_case(&me) {
                    return self.irc_numeric(key, "502", ":Can't change mode for other users");
                }
                // No user modes are kept: a client setting +i is told nothing changed.
                if modes.is_empty() {
                    self.irc_numeric(key, "221", "+");
                }
            }
            Command::WHO(Some(mask), _) => self.irc_request(key, Request::Who { mask: &mask }),
            Command::WHO(None, _) => self.irc_request(key, Request::Who { mask: "*" }),
            Command::WHOIS(_, nicks) => {
                for nick in self.targets(key, &nicks) {
                    self.irc_request(key, Request::Whois { nick });
                }
            }
            Command::KICK(rooms, nicks, reason) => {
                let room = rooms
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('#');
                for nick in self.targets(key, &nicks) {
                    let reason = reason.as_deref();
                    self.irc_request(key, Request::Kick { room, nick, reason });
                }
            }
            Command::AWAY(message) => {
                self.irc_request(key, Request::Away(message.as_deref()));
            }
            Command::NICK(nick) => self.irc_request(key, Request::Nick(&nick)),
            Command::QUIT(message) => self.irc_request(key, Request::Quit(message.as_deref())),
            // irc-proto 1.1 parses ISON as USERHOST: the command word tells them apart.
            Command::USERHOST(nicks) if !self.answering_is(key, "ISON") => {
                let nicks: Vec<&str> = nicks.iter().map(String::as_str).take(5).collect();
                self.irc_request(key, Request::Userhosts(nicks));
            }
            Command::ISON(nicks) | Command::USERHOST(nicks) => {
                let nicks: Vec<&str> = nicks
                    .iter()
                    .flat_map(|n| n.split(' '))
                    .filter(|n| !n.is_empty())
                    .take(100)
                    .collect();
                self.irc_request(key, Request::Online(nicks));
            }
            Command::PING(token, _) => self.irc_pong(key, token),
            Command::PONG(..) => {}
            Command::OPER(name, password) => self.irc_oper(key, &name, &password),
            Command::CAP(_, sub, arg, last) => self.irc_cap(key, sub, arg, last),
            Command::PASS(_) | Command::USER(..) => {
                self.irc_numeric(key, "462", ":You may not reregister");
            }
            Command::INVITE(nick, room) => {
                let line = format!("/invite {nick} {}", room.trim_start_matches('#'));
                self.irc_request(
                    key,
                    Request::Command {
                        room: None,
                        line: &line,
                    },
                );
            }
            Command::Raw(word, args) => self.irc_other(key, &word, &args),
            other => {
                // A command the parser typed but IRC's side does not serve (USERS, TIME, ...):
                // its word and parameters, as the line protocol may know it by that name.
                let text = String::from(&other);
                let (word, args) = split_parameters(text.trim_end());
                self.irc_other(key, word, &args);
            }
        }
    }

    /// PRIVMSG or NOTICE to rooms and users; CTCP ACTION is `/me`, other CTCP requests are
    /// not relayed (a line user would see their bytes).
    fn irc_message(&mut self, key: usize, targets: &str, text: &str, echo: bool) {
        if targets.is_empty() {
            return self.irc_numeric(key, "411", ":No recipient given (PRIVMSG)");
        }
        if text.is_empty() {
            return self.irc_numeric(key, "412", ":No text to send");
        }
        let (text, action) = match text.strip_prefix(CTCP) {
            Some(ctcp) => match ctcp.trim_end_matches(CTCP).strip_prefix("ACTION ") {
                Some(action) => (action, true),
                None => return,
            },
            None => (text, false),
        };
        for target in self.targets(key, targets) {
            if !self.irc_open(key) {
                return;
            }
            let request = match target.strip_prefix('#') {
                Some(room) => Request::Say {
                    room,
                    text,
                    action,
                    echo,
                },
                None => Request::Whisper {
                    to: target,
                    text,
                    action,
                },
            };
            self.irc_request(key, request);
        }
    }

    /// `MODE #room`: its modes; `MODE #room b`: its (empty) ban list, which clients ask for
    /// after every join; `MODE #room +t`/`-t`: the topic lock.
    fn irc_channel_mode(&mut self, key: usize, room: &str, modes: &[Mode<ChannelMode>]) {
        let name = room.trim_start_matches('#');
        if modes.is_empty() {
            return self.irc_request(key, Request::Modes { room: name });
        }
        for mode in modes {
            match mode {
                Mode::NoPrefix(ChannelMode::Ban) | Mode::Plus(ChannelMode::Ban, None) => {
                    // Bans are the server's (`/ban`), not a room's: the list is always empty.
                    self.irc_numeric(key, "368", &format!("{room} :End of channel ban list"));
                }
                Mode::Plus(ChannelMode::ProtectedTopic, _) => {
                    self.irc_request(
                        key,
                        Request::LockTopic {
                            room: name,
                            locked: true,
                        },
                    );
                }
                Mode::Minus(ChannelMode::ProtectedTopic, _) => {
                    self.irc_request(
                        key,
                        Request::LockTopic {
                            room: name,
                            locked: false,
                        },
                    );
                }
                other => {
                    let flag = other.flag();
                    let flag = flag.trim_start_matches(['+', '-']);
                    self.irc_numeric(
                        key,
                        "472",
                        &format!("{flag} :is not a mode reactor-chat keeps"),
                    );
                }
            }
        }
    }

    /// A command IRC's parser did not type: a line-protocol command by the same name runs as
    /// one; anything else is 421.
    fn irc_other(&mut self, key: usize, word: &str, args: &[String]) {
        let name = word.to_ascii_lowercase();
        if name == "tagmsg" {
            // Client-only tags (typing notices) are not relayed; nor are they an error.
            return;
        }
        if matches!(name.as_str(), "privmsg" | "notice") {
            // The parser types PRIVMSG only with both its parameters.
            return match args.len() {
                0 => self.irc_numeric(key, "411", &format!(":No recipient given ({word})")),
                _ => self.irc_numeric(key, "412", ":No text to send"),
            };
        }
        if WITH_PARAMETERS.contains(&name.as_str()) {
            let word = word.to_ascii_uppercase();
            return self.irc_numeric(key, "461", &format!("{word} :Not enough parameters"));
        }
        let known = help::find(&name).is_some() && !IRC_ONLY.contains(&name.as_str());
        if !known {
            return self.irc_numeric(key, "421", &format!("{word} :Unknown command"));
        }
        let (room, args) = match args.first().and_then(|a| a.strip_prefix('#')) {
            Some(room) => (Some(room), &args[1..]),
            None => (None, args),
        };
        let mut line = format!("/{name}");
        for arg in args {
            line.push(' ');
            line.push_str(arg);
        }
        self.irc_request(key, Request::Command { room, line: &line });
    }

    /// `OPER name password`: checked against `--irc-oper` credentials (argon2 hashes).
    fn irc_oper(&mut self, key: usize, name: &str, password: &str) {
        // An argon2 check costs tens of milliseconds of the one thread that serves everyone:
        // at most one per --oper-interval-ms, server-wide, so guessing cannot stall the chat.
        let now = self.clock.now();
        if now < self.oper_next {
            self.stats.oper_throttled += 1;
            return self.irc_numeric(key, "464", ":Too many OPER attempts: try again in a second");
        }
        self.oper_next = now + std::time::Duration::from_millis(self.cfg.oper_interval_ms);
        if self
            .cfg
            .irc_oper
            .iter()
            .any(|o| o.name == name && o.verifies(password))
        {
            self.irc_request(key, Request::BecomeOperator);
        } else {
            log::warn!(peer:% = self.conns[key].peer, name; "wrong OPER credentials");
            self.irc_numeric(key, "464", ":Password incorrect");
        }
    }

    /// Whether the command being answered is `word`.
    fn answering_is(&mut self, key: usize, word: &str) -> bool {
        self.irc(key)
            .is_some_and(|i| i.answering.split(' ').next() == Some(word))
    }

    /// Runs a request for the connection and applies what the core says.
    fn irc_request(&mut self, key: usize, request: Request<'_>) {
        let now = self.now();
        self.chat
            .request(ConnId(key), request, now, &mut self.outbox);
        self.apply_outbox();
    }
}

/// Line-protocol commands that are not run by name: IRC's JOIN and PART (translated above)
/// keep their IRC meaning. (`FILE` runs, to be told why an upload cannot travel over IRC.)
const IRC_ONLY: [&str; 2] = ["join", "part"];

/// IRC commands the parser leaves untyped when their parameters are missing: 461.
const WITH_PARAMETERS: [&str; 12] = [
    "join", "part", "topic", "kick", "nick", "user", "oper", "invite", "whois", "mode", "pass",
    "ping",
];

/// A command line's word and parameters (the last one after ` :` may hold spaces).
fn split_parameters(line: &str) -> (&str, Vec<String>) {
    let (head, trailing) = match line.split_once(" :") {
        Some((head, trailing)) => (head, Some(trailing)),
        None => (line, None),
    };
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let word = words.next().unwrap_or("");
    let mut args: Vec<String> = words.map(str::to_string).collect();
    args.extend(trailing.map(str::to_string));
    (word, args)
}

#[cfg(test)]
mod tests {
    use super::split_parameters;

    #[test]
    fn parameters_are_split_as_irc_splits_them() {
        assert_eq!(
            split_parameters("USERS #side"),
            ("USERS", vec!["#side".to_string()])
        );
        assert_eq!(
            split_parameters("GAME  start :two words"),
            ("GAME", vec!["start".to_string(), "two words".to_string()])
        );
        assert_eq!(split_parameters("TIME"), ("TIME", Vec::<String>::new()));
    }
}
