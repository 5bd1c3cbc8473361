//! The tables of what the chat core keeps across restarts besides lines (`chat::kept`): bans,
//! room topics, operator grants. Changes are written as they come, in the storage thread's open
//! transaction; everything is read once at start, before that thread runs, and what no longer
//! holds (bans that ended, grants made under another admin key, topics past the limit) is
//! deleted then.

use std::net::IpAddr;
use std::sync::Arc;

use rusqlite::params;

use super::{Result, Store};
use crate::chat::kept::{Kept, KeptBan, KeptGrant, KeptState, KeptTopic};
use crate::chat::UnixMillis;

/// What the load keeps.
#[derive(Debug, Clone)]
pub struct KeptLimits {
    /// Now, in Unix milliseconds: bans that end by then are deleted.
    pub now: UnixMillis,
    /// The current admin key's fingerprint: grants made under another are deleted.
    pub fingerprint: String,
    /// `--max-kept-topics` and `--max-op-grants`: the newest are kept.
    pub topics: usize,
    pub grants: usize,
}

fn ms(value: UnixMillis) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn unix(value: i64) -> UnixMillis {
    u64::try_from(value).unwrap_or(0)
}

impl Store {
    /// Writes one change to what is kept.
    pub fn keep(&mut self, change: &Kept) -> Result<()> {
        let conn = &self.conn;
        match change {
            Kept::Ban(ban) => {
                conn.prepare_cached(
                    "INSERT INTO bans (name_key, ip, until_ms, by_nick, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    ban.name_key,
                    ban.ip.to_string(),
                    ms(ban.until),
                    &*ban.by,
                    ban.reason.as_deref()
                ])?;
            }
            Kept::Topic(t) => {
                let (topic, by) = match &t.topic {
                    Some((topic, by)) => (Some(&**topic), Some(&**by)),
                    None => (None, None),
                };
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO topics (room, name, topic, set_by, locked, changed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    t.room,
                    &*t.name,
                    topic,
                    by,
                    t.locked,
                    ms(t.changed)
                ])?;
            }
            Kept::TopicForgotten { room } => {
                conn.prepare_cached("DELETE FROM topics WHERE room = ?1")?
                    .execute(params![room])?;
            }
            Kept::Grant(g) => {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO op_grants (nick_key, key_hash, fingerprint, granted)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    g.nick_key,
                    g.key_hash,
                    g.fingerprint,
                    ms(g.granted)
                ])?;
            }
            Kept::GrantRevoked { nick_key } => {
                conn.prepare_cached("DELETE FROM op_grants WHERE nick_key = ?1")?
                    .execute(params![nick_key])?;
            }
            Kept::GrantMoved { from, to } => {
                conn.prepare_cached("DELETE FROM op_grants WHERE nick_key = ?2")?
                    .execute(params![from, to])?;
                conn.prepare_cached("UPDATE op_grants SET nick_key = ?2 WHERE nick_key = ?1")?
                    .execute(params![from, to])?;
            }
        }
        Ok(())
    }

    /// Everything kept that still holds, after deleting what does not (in one transaction).
    pub fn load_kept(&mut self, limits: &KeptLimits) -> Result<KeptState> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM bans WHERE until_ms <= ?1",
            params![ms(limits.now)],
        )?;
        tx.execute(
            "DELETE FROM op_grants WHERE fingerprint <> ?1",
            params![limits.fingerprint],
        )?;
        let keep_newest = |table: &str, order: &str, key: &str, n: usize| {
            // Our own table and column names, never user input.
            let sql = format!(
                "DELETE FROM {table} WHERE {key} NOT IN
                     (SELECT {key} FROM {table} ORDER BY {order} DESC LIMIT ?1)"
            );
            tx.execute(&sql, params![i64::try_from(n).unwrap_or(i64::MAX)])
        };
        keep_newest("topics", "changed", "room", limits.topics)?;
        keep_newest("op_grants", "granted", "nick_key", limits.grants)?;
        let mut state = KeptState::default();
        {
            let mut bans = tx.prepare(
                "SELECT name_key, ip, until_ms, by_nick, reason FROM bans ORDER BY rowid",
            )?;
            let rows = bans.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            for row in rows {
                let (name_key, ip, until, by, reason) = row?;
                // A row this server did not write is skipped, not a reason to refuse to start.
                let Ok(ip) = ip.parse::<IpAddr>() else {
                    continue;
                };
                state.bans.push(KeptBan {
                    name_key,
                    ip,
                    until: unix(until),
                    by: Arc::from(by),
                    reason: reason.map(Arc::from),
                });
            }
            let mut topics = tx.prepare(
                "SELECT room, name, topic, set_by, locked, changed FROM topics ORDER BY changed",
            )?;
            let rows = topics.query_map([], |r| {
                let topic: Option<String> = r.get(2)?;
                let by: Option<String> = r.get(3)?;
                Ok(KeptTopic {
                    room: r.get(0)?,
                    name: Arc::from(r.get::<_, String>(1)?),
                    topic: topic.map(|t| (Arc::from(t), Arc::from(by.unwrap_or_default()))),
                    locked: r.get(4)?,
                    changed: unix(r.get(5)?),
                })
            })?;
            for topic in rows {
                state.topics.push(topic?);
            }
            let mut grants = tx.prepare(
                "SELECT nick_key, key_hash, fingerprint, granted FROM op_grants ORDER BY granted",
            )?;
            let rows = grants.query_map([], |r| {
                Ok(KeptGrant {
                    nick_key: r.get(0)?,
                    key_hash: r.get(1)?,
                    fingerprint: r.get(2)?,
                    granted: unix(r.get(3)?),
                })
            })?;
            for grant in rows {
                state.grants.push(grant?);
            }
        }
        tx.commit()?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(now: UnixMillis) -> KeptLimits {
        KeptLimits {
            now,
            fingerprint: "key:1".into(),
            topics: 2,
            grants: 10,
        }
    }

    fn ban(name: &str, until: UnixMillis) -> Kept {
        Kept::Ban(KeptBan {
            name_key: name.into(),
            ip: "10.0.0.1".parse().unwrap(),
            until,
            by: "op".into(),
            reason: Some("spam".into()),
        })
    }

    fn topic(room: &str, changed: UnixMillis) -> Kept {
        Kept::Topic(KeptTopic {
            room: room.into(),
            name: room.to_uppercase().into(),
            topic: Some((format!("about {room}").into(), "alice".into())),
            locked: room == "a",
            changed,
        })
    }

    fn grant(nick: &str, fingerprint: &str, granted: UnixMillis) -> Kept {
        Kept::Grant(KeptGrant {
            nick_key: nick.into(),
            key_hash: format!("hash-{nick}"),
            fingerprint: fingerprint.into(),
            granted,
        })
    }

    #[test]
    fn bans_come_back_until_they_end_and_are_then_deleted() {
        let mut store = Store::open_in_memory().unwrap();
        store.keep(&ban("bob", 1_000)).unwrap();
        store.keep(&ban("eve", 5_000)).unwrap();
        let state = store.load_kept(&limits(2_000)).unwrap();
        assert_eq!(state.bans.len(), 1);
        assert_eq!(state.bans[0].name_key, "eve");
        assert_eq!(state.bans[0].reason.as_deref(), Some("spam"));
        let state = store.load_kept(&limits(6_000)).unwrap();
        assert!(state.bans.is_empty());
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM bans", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "ended bans are deleted, not only skipped");
    }

    #[test]
    fn topics_are_replaced_forgotten_and_the_newest_kept() {
        let mut store = Store::open_in_memory().unwrap();
        store.keep(&topic("a", 10)).unwrap();
        store.keep(&topic("b", 20)).unwrap();
        store.keep(&topic("c", 30)).unwrap();
        store.keep(&topic("a", 40)).unwrap(); // set again: now the newest
        let state = store.load_kept(&limits(0)).unwrap();
        let rooms: Vec<&str> = state.topics.iter().map(|t| t.room.as_str()).collect();
        assert_eq!(
            rooms,
            ["c", "a"],
            "oldest first, past --max-kept-topics dropped"
        );
        assert!(state.topics[1].locked);
        assert_eq!(&*state.topics[1].name, "A");
        store
            .keep(&Kept::TopicForgotten { room: "c".into() })
            .unwrap();
        let state = store.load_kept(&limits(0)).unwrap();
        assert_eq!(state.topics.len(), 1);
        // A lock alone is kept too.
        store
            .keep(&Kept::Topic(KeptTopic {
                room: "d".into(),
                name: "d".into(),
                topic: None,
                locked: true,
                changed: 50,
            }))
            .unwrap();
        let state = store.load_kept(&limits(0)).unwrap();
        assert!(state
            .topics
            .iter()
            .any(|t| t.room == "d" && t.locked && t.topic.is_none()));
    }

    #[test]
    fn grants_follow_renames_and_die_with_the_admin_key() {
        let mut store = Store::open_in_memory().unwrap();
        store.keep(&grant("alice", "key:1", 1)).unwrap();
        store.keep(&grant("bob", "key:1", 2)).unwrap();
        store.keep(&grant("old", "key:0", 3)).unwrap();
        store
            .keep(&Kept::GrantMoved {
                from: "alice".into(),
                to: "alicia".into(),
            })
            .unwrap();
        store
            .keep(&Kept::GrantRevoked {
                nick_key: "bob".into(),
            })
            .unwrap();
        let state = store.load_kept(&limits(0)).unwrap();
        assert_eq!(state.grants.len(), 1);
        assert_eq!(state.grants[0].nick_key, "alicia");
        assert_eq!(state.grants[0].key_hash, "hash-alice");
        let other = KeptLimits {
            fingerprint: "key:2".into(),
            ..limits(0)
        };
        assert!(store.load_kept(&other).unwrap().grants.is_empty());
        assert!(
            store.load_kept(&limits(0)).unwrap().grants.is_empty(),
            "a void grant is deleted"
        );
    }
}
