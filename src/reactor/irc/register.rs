//! Registration: `CAP` negotiation (302, with cap-notify implied), `PASS`, `NICK` and `USER`,
//! until the core logs the connection in. Everything else before then is refused with 451.

use irc_proto::{CapSubCommand, Command, Message};

use super::MAX_PENDING_NICK;
use crate::chat::ConnId;
use crate::reactor::Reactor;
use crate::render::irc::Caps;

impl Reactor {
    /// A line before registration.
    pub(super) fn irc_registration(&mut self, key: usize, message: Message) {
        match message.command {
            Command::CAP(_, sub, arg, last) => self.irc_cap(key, sub, arg, last),
            Command::PASS(pass) => {
                if let Some(irc) = self.irc(key) {
                    irc.pass = Some(pass);
                }
            }
            Command::NICK(nick) => {
                if nick.is_empty() {
                    return self.irc_numeric(key, "431", ":No nickname given");
                }
                if let Some(irc) = self.irc(key) {
                    irc.pending_nick = Some(nick.chars().take(MAX_PENDING_NICK).collect());
                }
                self.irc_try_register(key);
            }
            Command::USER(..) => {
                if let Some(irc) = self.irc(key) {
                    irc.user = true;
                }
                self.irc_try_register(key);
            }
            Command::Raw(ref word, _) if word.eq_ignore_ascii_case("NICK") => {
                self.irc_numeric(key, "431", ":No nickname given");
            }
            Command::Raw(ref word, _) if word.eq_ignore_ascii_case("USER") => {
                self.irc_numeric(key, "461", "USER :Not enough parameters");
            }
            Command::PING(token, _) => self.irc_pong(key, token),
            Command::PONG(..) => {}
            Command::QUIT(_) => {
                self.irc_raw(key, "ERROR :Closing link: quit\r\n".into());
                let close_at = self.clock.now() + self.cfg.linger();
                self.begin_close(key, close_at);
            }
            _ => self.irc_numeric(key, "451", ":You have not registered"),
        }
    }

    /// `CAP LS|REQ|LIST|END` (before and after registration).
    pub(super) fn irc_cap(
        &mut self,
        key: usize,
        sub: CapSubCommand,
        arg: Option<String>,
        last: Option<String>,
    ) {
        let server = self.irc_renderer.server.clone();
        let Some(irc) = self.irc(key) else {
            return;
        };
        let nick = irc.nick.clone();
        match sub {
            CapSubCommand::LS => {
                if !irc.registered {
                    irc.negotiating = true;
                }
                // `CAP LS 302` implies cap-notify.
                if arg
                    .as_deref()
                    .is_some_and(|v| v.parse::<u32>().is_ok_and(|v| v >= 302))
                {
                    irc.caps = irc.caps.with(Caps::CAP_NOTIFY);
                    self.irc_caps_changed(key);
                }
                let offered: Vec<&str> = Caps::OFFERED.iter().map(|(n, _)| *n).collect();
                self.irc_raw(
                    key,
                    format!(":{server} CAP {nick} LS :{}\r\n", offered.join(" ")),
                );
            }
            CapSubCommand::LIST => {
                let caps = irc.caps;
                let on: Vec<&str> = Caps::OFFERED
                    .iter()
                    .filter(|(_, c)| caps.has(*c))
                    .map(|(n, _)| *n)
                    .collect();
                self.irc_raw(
                    key,
                    format!(":{server} CAP {nick} LIST :{}\r\n", on.join(" ")),
                );
            }
            CapSubCommand::REQ => {
                if !irc.registered {
                    irc.negotiating = true;
                }
                let asked = last.or(arg).unwrap_or_default();
                match requested(irc.caps, &asked) {
                    Some(caps) => {
                        irc.caps = caps;
                        self.irc_caps_changed(key);
                        self.irc_raw(key, format!(":{server} CAP {nick} ACK :{asked}\r\n"));
                    }
                    None => self.irc_raw(key, format!(":{server} CAP {nick} NAK :{asked}\r\n")),
                }
            }
            CapSubCommand::END => {
                irc.negotiating = false;
                self.irc_try_register(key);
            }
            _ => self.irc_numeric(
                key,
                "410",
                &format!("{} :Invalid CAP command", sub.to_str()),
            ),
        }
    }

    /// Registers once NICK and USER are in and capability negotiation is over.
    fn irc_try_register(&mut self, key: usize) {
        let Some(irc) = self.irc(key) else {
            return;
        };
        if irc.registered || irc.negotiating || !irc.user {
            return;
        }
        let Some(nick) = irc.pending_nick.clone() else {
            return;
        };
        let pass = irc.pass.clone();
        let now = self.now();
        self.chat
            .register(ConnId(key), &nick, pass.as_deref(), now, &mut self.outbox);
        self.apply_outbox();
    }
}

/// The capabilities after `CAP REQ :a -b c`, or `None` when any is not offered (a REQ is
/// taken whole or not at all).
fn requested(mut caps: Caps, asked: &str) -> Option<Caps> {
    for word in asked.split(' ').filter(|w| !w.is_empty()) {
        let (remove, name) = match word.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, word),
        };
        let cap = Caps::named(name)?;
        caps = if remove {
            caps.without(cap)
        } else {
            caps.with(cap)
        };
    }
    Some(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_taken_whole_or_not_at_all() {
        let caps = requested(Caps::default(), "server-time echo-message").unwrap();
        assert!(caps.has(Caps::SERVER_TIME) && caps.has(Caps::ECHO_MESSAGE));
        assert_eq!(requested(caps, "server-time sasl"), None);
        let less = requested(caps, "-echo-message").unwrap();
        assert!(!less.has(Caps::ECHO_MESSAGE) && less.has(Caps::SERVER_TIME));
    }
}
