//! Operators: `/op`, `/kick`, `/ban`, the ban list logins are checked against, and the grants
//! that make an operator's session an operator again when it logs in with its resume key after
//! a restart (or after its session ended).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::Cx;
use super::event::{Bye, Departure, Event, Info, Refusal};
use super::kept::{self, Kept, KeptBan, KeptGrant};
use super::{Chat, Now, Output};

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

    /// Adds a ban (or lengthens the one the name and address already have): one made here, or
    /// one another node of the cluster made.
    pub(in crate::chat) fn add(&mut self, ban: &KeptBan, now: Now) {
        let Some(left) = ban.until.checked_sub(now.wall).filter(|&ms| ms > 0) else {
            return;
        };
        // No ban is longer than `/ban` allows, whatever another node or the disk says.
        let left = Duration::from_millis(left.min(MAX_BAN_MINUTES * 60_000));
        let Some(until) = now.mono.checked_add(left) else {
            return;
        };
        self.list.retain(|b| b.until > now.mono);
        if let Some(same) = self
            .list
            .iter_mut()
            .find(|b| b.name_key == ban.name_key && b.ip == ban.ip)
        {
            same.until = same.until.max(until);
            return;
        }
        self.list.push(Ban {
            name_key: ban.name_key.clone(),
            ip: ban.ip,
            until,
        });
    }

    /// The kept bans, their wall-clock ends turned back into deadlines; those already over are
    /// dropped.
    pub fn load(&mut self, kept: Vec<KeptBan>, now: Now) {
        for ban in kept {
            self.add(&ban, now);
        }
    }
}

/// Operator grants by nickname key, at most `max` (the oldest dropped first). A server has a
/// few operators, so finding the oldest by a scan is enough.
#[derive(Debug, Default)]
pub struct Grants {
    by_key: HashMap<String, KeptGrant>,
    max: usize,
}

impl Grants {
    pub fn new(max: usize) -> Self {
        Grants {
            by_key: HashMap::new(),
            max,
        }
    }

    pub fn load(&mut self, kept: Vec<KeptGrant>) {
        for grant in kept {
            self.by_key.insert(grant.nick_key.clone(), grant);
        }
        while self.by_key.len() > self.max {
            self.drop_oldest();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    fn get(&self, nick_key: &str) -> Option<&KeptGrant> {
        self.by_key.get(nick_key)
    }

    fn drop_oldest(&mut self) -> Option<String> {
        let oldest = self
            .by_key
            .values()
            .min_by_key(|g| g.granted)
            .map(|g| g.nick_key.clone())?;
        self.by_key.remove(&oldest);
        Some(oldest)
    }

    /// Records a grant; returns the changes to keep (the grant, and any dropped to make room).
    pub(in crate::chat) fn grant(&mut self, grant: KeptGrant) -> Vec<Kept> {
        let mut changes = Vec::new();
        if self.max == 0 {
            return changes;
        }
        if !self.by_key.contains_key(&grant.nick_key) {
            while self.by_key.len() >= self.max {
                if let Some(nick_key) = self.drop_oldest() {
                    changes.push(Kept::GrantRevoked { nick_key });
                }
            }
        }
        self.by_key.insert(grant.nick_key.clone(), grant.clone());
        changes.push(Kept::Grant(grant));
        changes
    }

    pub(in crate::chat) fn revoke(&mut self, nick_key: &str) -> Option<Kept> {
        self.by_key.remove(nick_key).map(|g| Kept::GrantRevoked {
            nick_key: g.nick_key,
        })
    }

    pub(in crate::chat) fn rename(&mut self, from: &str, to: &str) -> Option<Kept> {
        let mut grant = self.by_key.remove(from)?;
        grant.nick_key = to.to_string();
        self.by_key.insert(to.to_string(), grant);
        Some(Kept::GrantMoved {
            from: from.to_string(),
            to: to.to_string(),
        })
    }

    /// Whether a login as `nick_key` with `resume_key` is a granted operator's; a grant made
    /// under another admin key is void, and is revoked (returned as the change to keep) unless
    /// `keep_foreign`: in a cluster, another node's grant may have been made under that node's
    /// key, and stays good there.
    fn check(
        &mut self,
        nick_key: &str,
        resume_key: &str,
        fingerprint: &str,
        keep_foreign: bool,
    ) -> (bool, Option<Kept>) {
        let Some(grant) = self.by_key.get(nick_key) else {
            return (false, None);
        };
        if grant.fingerprint != fingerprint {
            let revoked = if keep_foreign {
                None
            } else {
                self.revoke(nick_key)
            };
            return (false, revoked);
        }
        (grant.key_hash == kept::resume_key_hash(resume_key), None)
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
                log::info!(nick:% = s.nick(); "now an operator");
                self.record_grant(cx.sid, cx.now, cx.out);
                Event::Info(Info::NowOperator)
            }
            Some(_) => {
                log::warn!(nick:% = s.nick(); "wrong admin key");
                Event::Refused(Refusal::BadKey)
            }
        };
        cx.reply(reply);
    }

    /// A protocol checked the session's operator credentials (IRC's OPER): it is an operator as
    /// after `/op`, kept across restarts the same way.
    pub(super) fn become_op(&mut self, cx: &mut Cx<'_>) {
        let s = &mut self.sessions[cx.sid];
        s.make_op();
        log::info!(nick:% = s.nick(); "now an operator (credentials)");
        self.record_grant(cx.sid, cx.now, cx.out);
        cx.info(Info::NowOperator);
    }

    /// The admin key's fingerprint operators are granted under now.
    fn op_fingerprint(&self) -> String {
        kept::fingerprint(self.settings.admin_key.as_deref())
    }

    /// A session became operator: it stays one when it logs in again with its resume key.
    pub(super) fn record_grant(
        &mut self,
        sid: super::SessionId,
        now: Now,
        out: &mut super::Outbox,
    ) {
        let s = &self.sessions[sid];
        let grant = KeptGrant {
            nick_key: s.key().to_string(),
            key_hash: kept::resume_key_hash(s.resume_key()),
            fingerprint: self.op_fingerprint(),
            granted: now.wall,
        };
        for change in self.grants.grant(grant) {
            if let Kept::GrantRevoked { nick_key } = &change {
                log::info!(nick:% = nick_key; "operator grant dropped (--max-op-grants)");
                self.stats.grants_dropped += 1;
            }
            self.keep_and_share(change, out);
        }
    }

    /// Whether a new session for `nick_key`, logging in with `resume_key`, is a granted
    /// operator coming back.
    pub(super) fn granted_op(
        &mut self,
        nick_key: &str,
        resume_key: &str,
        out: &mut super::Outbox,
    ) -> bool {
        let fingerprint = self.op_fingerprint();
        let cluster = self.settings.cluster;
        let (granted, revoked) = self
            .grants
            .check(nick_key, resume_key, &fingerprint, cluster);
        if let Some(revoked) = revoked {
            log::info!(nick:% = nick_key; "operator grant void: the admin key changed");
            self.keep_and_share(revoked, out);
        }
        granted
    }

    /// Keeps a change to the bans or grants across a restart and, in a cluster, tells the
    /// other nodes of it, so that every node turns the same users away and knows the same
    /// operators. Changes other nodes made are kept without being told again
    /// (`Chat::shared_from_elsewhere`).
    pub(super) fn keep_and_share(&self, change: Kept, out: &mut super::Outbox) {
        let share = self.settings.cluster;
        if let (true, Kept::GrantMoved { from, to }) = (share, &change) {
            // The others are told that the old name's grant is void and the grant under its
            // new name, whole.
            let revoked = Kept::GrantRevoked {
                nick_key: from.clone(),
            };
            out.items.push(Output::Share(revoked));
            if let Some(grant) = self.grants.get(to) {
                out.items.push(Output::Share(Kept::Grant(grant.clone())));
            }
            return out.keep(change, false);
        }
        out.keep(change, share);
    }

    /// Whether a new session is the first of an empty server under `--first-user-op`: no
    /// session, and no operator granted before who may come back.
    pub(super) fn first_user_op(&self) -> bool {
        // In a cluster the server is every node: none may have users (as far as this node
        // can see; an operator's grant reaches every node at once). Looked at last: a login
        // on a busy node must not cost a walk over its rooms.
        self.settings.first_user_op
            && self.sessions.is_empty()
            && self.grants.is_empty()
            && self.online_elsewhere == 0
            && self.rooms.iter().all(|(_, r)| r.remote().next().is_none())
    }

    /// An operator renamed: the grant follows.
    pub(super) fn grant_follows_rename(&mut self, from: &str, to: &str, out: &mut super::Outbox) {
        if let Some(moved) = self.grants.rename(from, to) {
            self.keep_and_share(moved, out);
        }
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
            if self.settings.cluster && super::nick::validate(nick).is_ok() {
                // Perhaps a user of another node: the cluster link finds out.
                return self.kick_elsewhere(cx, nick, reason, ban);
            }
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::NoSuchUser { nick });
        };
        if target == cx.sid {
            return cx.refuse(Refusal::BadTarget);
        }
        let by = self.sessions[cx.sid].nick().clone();
        let how = Departure::Kicked {
            by,
            reason: reason.map(Arc::from),
        };
        // The rooms' kick reaches the kicker in any of them it shares with the target; a
        // kicker who is elsewhere is shown what the target's room saw.
        let kicker = &self.sessions[cx.sid];
        let shares_a_room = self.sessions[target]
            .memberships()
            .iter()
            .any(|m| kicker.is_in(m.room));
        if !shares_a_room {
            if let Some(seen) = self.departure_as_seen(target, &how, cx.now) {
                cx.reply(seen);
            }
        }
        self.kick_session(target, how, ban, cx.now, cx.out);
    }

    /// The `Left` event a kick makes in the target's current room, for a kicker who is not in
    /// it.
    pub(super) fn departure_as_seen(
        &mut self,
        target: super::SessionId,
        how: &Departure,
        now: Now,
    ) -> Option<Event> {
        let room = self.sessions[target].current_room()?;
        Some(Event::Left {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name().clone(),
            nick: self.sessions[target].nick().clone(),
            how: how.clone(),
        })
    }

    /// Ends a kicked session (`how` says by whom and why), banning its name and address first
    /// when `ban` gives a length; wherever the operator who kicked it is.
    pub(super) fn kick_session(
        &mut self,
        target: super::SessionId,
        how: Departure,
        ban: Option<Duration>,
        now: Now,
        out: &mut super::Outbox,
    ) {
        let Departure::Kicked { by, reason } = &how else {
            return;
        };
        let t = &self.sessions[target];
        log::info!(
            nick:% = t.nick(),
            by:% = by,
            reason = reason.as_deref().unwrap_or("");
            "kicked"
        );
        if let Some(length) = ban {
            let until = now
                .wall
                .saturating_add(u64::try_from(length.as_millis()).unwrap_or(u64::MAX));
            let ban = KeptBan {
                name_key: t.key().to_string(),
                ip: t.ip(),
                until,
                by: by.clone(),
                reason: reason.clone(),
            };
            self.bans.add(&ban, now);
            self.keep_and_share(Kept::Ban(ban), out);
        }
        // A kicked or banned operator is one no more, after a restart either.
        if let Some(revoked) = self.grants.revoke(self.sessions[target].key()) {
            self.keep_and_share(revoked, out);
        }
        if let Some(target_conn) = self.sessions[target].conn() {
            self.sessions.close_conn(target_conn);
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
        self.end_session(target, how, now, out);
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

    /// A fresh line session's resume key, from its welcome.
    fn resume_key_of(outs: &[Output]) -> String {
        outs.iter()
            .find_map(|o| match o {
                Output::ToConn {
                    event: Event::Info(Info::Welcome { resume_key, .. }),
                    ..
                } => Some(resume_key.to_string()),
                _ => None,
            })
            .expect("a welcome")
    }

    fn is_op_welcome(outs: &[Output]) -> bool {
        outs.iter().any(|o| {
            matches!(
                o,
                Output::ToConn {
                    event: Event::Info(Info::Welcome { op: true, .. }),
                    ..
                }
            )
        })
    }

    #[test]
    fn a_granted_operator_comes_back_with_its_key_and_a_stranger_does_not() {
        let mut h = Harness::new();
        h.chat.settings.admin_key = Some("sekrit".into());
        h.chat.settings.first_user_op = false;
        h.connect(1, ip(1));
        let key = resume_key_of(&h.line(1, "alice"));
        h.line(1, "/op sekrit");
        h.line(1, "/quit");
        h.disconnect(1);
        // The session is gone; the name with the key is an operator again, with the same key.
        h.connect(2, ip(2));
        let outs = h.line(2, &format!("alice {key}"));
        assert!(is_op_welcome(&outs), "{outs:?}");
        assert_eq!(resume_key_of(&outs), key);
        h.line(2, "/quit");
        h.disconnect(2);
        h.connect(3, ip(3));
        let outs = h.line(3, "alice");
        assert!(
            !is_op_welcome(&outs),
            "a stranger with the name is no operator"
        );
        h.line(3, "/quit");
        h.disconnect(3);
        // A new admin key voids the grant.
        h.chat.settings.admin_key = Some("other".into());
        h.connect(4, ip(4));
        let outs = h.line(4, &format!("alice {key}"));
        assert!(!is_op_welcome(&outs));
        assert!(outs
            .iter()
            .any(|o| matches!(o, Output::Keep(kept::Kept::GrantRevoked { .. }))));
    }

    #[test]
    fn first_user_op_is_not_given_while_an_operator_may_come_back() {
        let mut h = Harness::new();
        h.connect(1, ip(1));
        assert!(is_op_welcome(&h.line(1, "alice")));
        h.line(1, "/quit");
        h.disconnect(1);
        h.connect(2, ip(2));
        assert!(!is_op_welcome(&h.line(2, "bob")), "alice may come back");
    }

    #[test]
    fn a_grant_follows_a_rename_and_a_kick_takes_it_away() {
        let mut h = Harness::new();
        h.connect(1, ip(1));
        h.line(1, "alice");
        let outs = h.line(1, "/nick alicia");
        assert!(outs.iter().any(|o| matches!(
            o,
            Output::Keep(kept::Kept::GrantMoved { from, to }) if from == "alice" && to == "alicia"
        )));
        // Another operator kicks alicia: her grant goes.
        h.chat.settings.admin_key = Some("sekrit".into());
        h.login(2, "bob");
        h.line(2, "/op sekrit");
        let outs = h.line(2, "/kick alicia");
        assert!(outs.iter().any(|o| matches!(
            o,
            Output::Keep(kept::Kept::GrantRevoked { nick_key }) if nick_key == "alicia"
        )));
    }

    #[test]
    fn grants_past_the_cap_drop_the_oldest_and_a_regrant_takes_no_new_place() {
        let grant = |nick: &str, granted| kept::KeptGrant {
            nick_key: nick.into(),
            key_hash: "h".into(),
            fingerprint: "f".into(),
            granted,
        };
        let mut grants = super::Grants::new(2);
        assert_eq!(grants.grant(grant("a", 1)).len(), 1);
        assert_eq!(grants.grant(grant("b", 2)).len(), 1);
        assert_eq!(grants.grant(grant("a", 3)).len(), 1, "a again: no drop");
        let changes = grants.grant(grant("c", 4));
        assert_eq!(
            changes[0],
            kept::Kept::GrantRevoked {
                nick_key: "b".into()
            }
        );
        assert_eq!(changes.len(), 2);
        assert!(super::Grants::new(0).grant(grant("a", 1)).is_empty());
    }

    #[test]
    fn a_ban_no_node_could_make_is_held_to_the_longest_one() {
        let mut h = Harness::new();
        let now = h.now;
        let ban = |until| kept::KeptBan {
            name_key: nick::collision_key("bob"),
            ip: ip(9),
            until,
            by: "op".into(),
            reason: None,
        };
        // From another node or the disk: an end past any `Instant` (this panicked).
        h.chat.load_kept(
            kept::KeptState {
                bans: vec![ban(u64::MAX)],
                ..Default::default()
            },
            now,
        );
        assert_eq!(
            h.chat.address_banned(ip(9), now.mono),
            Some(super::MAX_BAN_MINUTES)
        );
    }

    #[test]
    fn a_kept_ban_comes_back_until_its_wall_clock_end() {
        let mut h = Harness::new();
        let now = h.now;
        h.chat.load_kept(
            kept::KeptState {
                bans: vec![
                    kept::KeptBan {
                        name_key: nick::collision_key("bob"),
                        ip: ip(9),
                        until: now.wall + 120_000,
                        by: "op".into(),
                        reason: None,
                    },
                    kept::KeptBan {
                        name_key: nick::collision_key("eve"),
                        ip: ip(8),
                        until: now.wall.saturating_sub(1),
                        by: "op".into(),
                        reason: None,
                    },
                ],
                ..Default::default()
            },
            now,
        );
        assert_eq!(h.chat.address_banned(ip(9), now.mono), Some(2));
        assert_eq!(h.chat.address_banned(ip(8), now.mono), None, "already over");
        h.advance(121);
        assert_eq!(h.chat.address_banned(ip(9), h.now.mono), None);
    }

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
        h.chat.settings.first_user_op = false;
        h.login(1, "alice");
        assert_eq!(
            refusal_of(&h.line(1, "/kick nobody")),
            Some(Refusal::NotOperator)
        );
        assert_eq!(refusal_of(&h.line(1, "/op wrong")), Some(Refusal::BadKey));
        let outs = h.line(1, "/op sekrit");
        assert!(outs.iter().any(|o| matches!(
            o,
            Output::ToConn {
                event: Event::Info(Info::NowOperator),
                ..
            }
        )));
        assert!(
            outs.iter()
                .any(|o| matches!(o, Output::Keep(kept::Kept::Grant(g)) if g.nick_key == "alice")),
            "the operator is kept for its return: {outs:?}"
        );
    }
}
