//! Operators: `/op`, `/kick`, `/ban`, and the ban list logins are checked against.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Bye, Chat, ConnId, Departure, Event, Info, Now, Outbox, Output, Refusal, SessionId};

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
pub(super) struct Bans {
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
    pub(super) fn address_banned(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        self.list
            .iter()
            .filter(|b| b.ip == ip && b.until > now)
            .map(|b| minutes_left(b.until, now))
            .max()
    }

    pub(super) fn name_banned(&self, name_key: &str, now: Instant) -> Option<u64> {
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
    pub(super) fn op(&mut self, conn: ConnId, sid: SessionId, key: &str, out: &mut Outbox) {
        let reply = match &self.settings.admin_key {
            None => Event::Refused(Refusal::NoAdminKey),
            Some(admin) if same_key(admin, key) => {
                self.sessions[sid].op = true;
                log::info!("{} is now an operator", self.sessions[sid].nick);
                Event::Info(Info::NowOperator)
            }
            Some(_) => {
                log::warn!("{} gave a wrong admin key", self.sessions[sid].nick);
                Event::Refused(Refusal::BadKey)
            }
        };
        out.send(conn, reply);
    }

    /// `/kick`, and the kick half of `/ban` (`ban` set). The target's session ends at once: a
    /// kicked user gets no reconnect grace.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn kick(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        nick: &str,
        reason: Option<&str>,
        ban: Option<Duration>,
        now: Now,
        out: &mut Outbox,
    ) {
        if !self.sessions[sid].op {
            return out.send(conn, Event::Refused(Refusal::NotOperator));
        }
        let Some(target) = self.find_session(nick) else {
            let nick = Arc::from(nick);
            return out.send(conn, Event::Refused(Refusal::NoSuchUser { nick }));
        };
        if target == sid {
            return out.send(conn, Event::Refused(Refusal::BadTarget));
        }
        let by = self.sessions[sid].nick.clone();
        let reason: Option<Arc<str>> = reason.map(Arc::from);
        let t = &self.sessions[target];
        log::info!(
            "{} was kicked by {by} ({})",
            t.nick,
            reason.as_deref().unwrap_or("")
        );
        if let Some(length) = ban {
            self.bans
                .add(t.key.clone(), t.ip, now.mono + length, now.mono);
        }
        let (target_conn, target_room) = (t.conn, t.room);
        if let Some(target_conn) = target_conn {
            self.conns[target_conn.0] = None;
            self.live_sessions -= 1;
            let bye = Some(Bye::Kicked {
                by: by.clone(),
                reason: reason.clone(),
            });
            out.items.push(Output::Close {
                conn: target_conn,
                bye,
            });
        }
        self.stats.kicks += 1;
        let how = Departure::Kicked { by, reason };
        if self.sessions[sid].room != target_room {
            // The kicker is elsewhere: show them what the target's room saw.
            let event = Event::Left {
                id: self.ids.next(now.wall),
                at: now.wall,
                room: self.rooms[target_room].name.clone(),
                nick: self.sessions[target].nick.clone(),
                how: how.clone(),
            };
            out.send(conn, event);
        }
        self.end_session(target, how, now, out);
    }

    pub(super) fn ban(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        nick: &str,
        minutes: Option<&str>,
        now: Now,
        out: &mut Outbox,
    ) {
        let minutes = match minutes.map(str::parse::<u64>) {
            None => Some(DEFAULT_BAN_MINUTES),
            Some(Ok(m)) if (1..=MAX_BAN_MINUTES).contains(&m) => Some(m),
            Some(_) => None,
        };
        let Some(minutes) = minutes else {
            let entry = super::help::find("ban").expect("ban has help");
            return out.send(conn, Event::Refused(Refusal::Usage(entry)));
        };
        let reason = format!("banned for {minutes} min");
        let length = Duration::from_secs(minutes * 60);
        self.kick(conn, sid, nick, Some(&reason), Some(length), now, out);
    }
}
