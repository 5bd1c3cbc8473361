//! Operators: `/op`, `/kick`, `/ban`, and the ban list logins are checked against.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::Cx;
use super::event::{Bye, Departure, Event, Info, Refusal};
use super::{Chat, Output};

/// A ban's length when `/ban` gives none.
pub const DEFAULT_BAN_MINUTES: u64 = 10;
/// The longest ban `/ban` accepts: a week.
pub const MAX_BAN_MINUTES: u64 = 7 * 24 * 60;

#[derive(Debug)]
struct Ban {
    name_key: String,
    ip: IpAddr,
    until: Instant,
}

/// Names and addresses kept out for a while. Short-lived and few, so a list is enough.
#[derive(Debug, Default)]
pub struct Bans {
    list: Vec<Ban>,
}

fn minutes_left(until: Instant, now: Instant) -> u64 {
    until
        .saturating_duration_since(now)
        .as_secs()
        .div_ceil(60)
        .max(1)
}

impl Bans {
    pub fn address_banned(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        self.list
            .iter()
            .filter(|b| b.ip == ip && b.until > now)
            .map(|b| minutes_left(b.until, now))
            .max()
    }

    pub fn name_banned(&self, name_key: &str, now: Instant) -> Option<u64> {
        self.list
            .iter()
            .filter(|b| b.name_key == name_key && b.until > now)
            .map(|b| minutes_left(b.until, now))
            .max()
    }

    fn add(&mut self, name_key: String, ip: IpAddr, until: Instant, now: Instant) {
        self.list.retain(|b| b.until > now);
        self.list.push(Ban {
            name_key,
            ip,
            until,
        });
    }
}

/// Compares keys in time independent of where they differ, so `/op` cannot be used to guess the
/// admin key byte by byte.
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Chat {
    /// `/op KEY`: the admin key makes the user an operator.
    pub(super) fn op(&mut self, cx: &mut Cx<'_>, key: &str) {
        let s = &mut self.sessions[cx.sid];
        let reply = match &self.settings.admin_key {
            None => Event::Refused(Refusal::NoAdminKey),
            Some(admin) if same_key(admin, key) => {
                s.make_op();
                log::info!("{} is now an operator", s.nick());
                Event::Info(Info::NowOperator)
            }
            Some(_) => {
                log::warn!("{} gave a wrong admin key", s.nick());
                Event::Refused(Refusal::BadKey)
            }
        };
        cx.reply(reply);
    }

    /// `/kick`, and the kick half of `/ban` (`ban` set). The target's session ends at once: a
    /// kicked user gets no reconnect grace.
    pub(super) fn kick(
        &mut self,
        cx: &mut Cx<'_>,
        nick: &str,
        reason: Option<&str>,
        ban: Option<Duration>,
    ) {
        if !self.sessions[cx.sid].is_op() {
            return cx.refuse(Refusal::NotOperator);
        }
        let Some(target) = self.sessions.find(nick) else {
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::NoSuchUser { nick });
        };
        if target == cx.sid {
            return cx.refuse(Refusal::BadTarget);
        }
        let now = cx.now;
        let by = self.sessions[cx.sid].nick().clone();
        let reason: Option<Arc<str>> = reason.map(Arc::from);
        let t = &self.sessions[target];
        log::info!(
            "{} was kicked by {by} ({})",
            t.nick(),
            reason.as_deref().unwrap_or("")
        );
        if let Some(length) = ban {
            self.bans
                .add(t.key().to_string(), t.ip(), now.mono + length, now.mono);
        }
        let (target_conn, target_room) = (t.conn(), t.room());
        if let Some(target_conn) = target_conn {
            self.sessions.close_conn(target_conn);
            let bye = Some(Bye::Kicked {
                by: by.clone(),
                reason: reason.clone(),
            });
            cx.out.items.push(Output::Close {
                conn: target_conn,
                bye,
            });
        }
        self.stats.kicks += 1;
        let how = Departure::Kicked { by, reason };
        if self.sessions[cx.sid].room() != target_room {
            // The kicker is elsewhere: show them what the target's room saw.
            let event = Event::Left {
                id: self.ids.next(now.wall),
                at: now.wall,
                room: self.rooms[target_room].name().clone(),
                nick: self.sessions[target].nick().clone(),
                how: how.clone(),
            };
            cx.reply(event);
        }
        self.end_session(target, how, now, cx.out);
    }

    /// `/ban NICK [minutes]`: a kick that keeps the name and the address out for a while.
    pub(super) fn ban(&mut self, cx: &mut Cx<'_>, nick: &str, minutes: Option<&str>) {
        let minutes = match minutes.map(str::parse::<u64>) {
            None => Some(DEFAULT_BAN_MINUTES),
            Some(Ok(m)) if (1..=MAX_BAN_MINUTES).contains(&m) => Some(m),
            Some(_) => None,
        };
        let Some(minutes) = minutes else {
            return cx.usage("ban");
        };
        let reason = format!("banned for {minutes} min");
        let length = Duration::from_secs(minutes * 60);
        self.kick(cx, nick, Some(&reason), Some(length));
    }
}

#[cfg(test)]
mod tests {
    //! Operators: `/op`, `/kick`, `/ban`.

    use crate::chat::testing::*;
    use crate::chat::*;

    #[test]
    fn kick_needs_an_operator_and_leaves_no_grace() {
        let mut h = Harness::new();
        h.login(1, "alice"); // first user of an empty server without an admin key: operator
        h.login(2, "bob");
        h.login(3, "carol");
        let outs = h.line(2, "/kick carol");
        assert_eq!(refusal_of(&outs), Some(Refusal::NotOperator));
        let outs = h.line(1, "/kick bob spamming");
        assert!(outs.iter().any(|o| matches!(
            o,
            Output::Close {
                conn: ConnId(2),
                bye: Some(Bye::Kicked { .. })
            }
        )));
        assert!(matches!(
            &h.delivered_to(3)[..],
            [Event::Left {
                how: Departure::Kicked { .. },
                ..
            }]
        ));
        // The session is gone: the name is free for anyone, from anywhere.
        h.connect(7, ip(77));
        assert!(h
            .line(7, "bob")
            .contains(&Output::LoggedIn { conn: ConnId(7) }));
    }

    #[test]
    fn a_ban_keeps_the_name_and_the_address_out_until_it_expires() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.login(2, "bob");
        h.line(1, "/ban bob 5");
        h.connect(3, ip(2));
        let outs = h.line(3, "bobby");
        assert!(outs.iter().any(|o| matches!(
            o,
            Output::Close {
                bye: Some(Bye::Banned { minutes_left: 5 }),
                ..
            }
        )));
        h.connect(4, ip(44));
        let outs = h.line(4, "bob");
        assert!(matches!(
            refusal_of(&outs),
            Some(Refusal::NickBanned { .. })
        ));
        h.advance(5 * 60);
        assert!(h
            .line(4, "bob")
            .contains(&Output::LoggedIn { conn: ConnId(4) }));
    }

    #[test]
    fn op_with_an_admin_key() {
        let mut h = Harness::new();
        h.chat.settings.admin_key = Some("sekrit".into());
        h.login(1, "alice");
        assert_eq!(
            refusal_of(&h.line(1, "/kick nobody")),
            Some(Refusal::NotOperator)
        );
        assert_eq!(refusal_of(&h.line(1, "/op wrong")), Some(Refusal::BadKey));
        assert!(matches!(
            &h.line(1, "/op sekrit")[..],
            [Output::ToConn {
                event: Event::Info(Info::NowOperator),
                ..
            }]
        ));
    }
}
