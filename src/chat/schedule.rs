//! Scheduled messages: `/schedule`, `/schedules`, `/unschedule`, and sending them when due.
//!
//! Each pending message is one entry in the chat core's timer heap; its due time becomes the
//! reactor's poll timeout. Nothing sleeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, Local, NaiveTime, TimeZone, Utc};

use super::context::Cx;
use super::event::{Event, Info, Refusal, ScheduleEntry, UnixMillis};
use super::{Chat, ChatTimer, Now, Outbox, SessionId};

#[derive(Debug)]
struct Schedule {
    /// The author's session uid: sessions come and go, the message goes out regardless.
    owner_uid: u64,
    owner_sid: SessionId,
    owner_nick: Arc<str>,
    /// The room's name as shown when it was scheduled; rooms are found again case-insensitively.
    room_name: Arc<str>,
    text: Arc<str>,
    due_mono: Instant,
    due_wall: UnixMillis,
}

/// Every pending scheduled message, by id.
#[derive(Debug, Default)]
pub struct Schedules {
    next_id: u64,
    pending: BTreeMap<u64, Schedule>,
}

impl Schedules {
    fn add(&mut self, schedule: Schedule) -> u64 {
        self.next_id += 1;
        self.pending.insert(self.next_id, schedule);
        self.next_id
    }

    /// How many messages the user with this uid has pending.
    fn count_of(&self, uid: u64) -> usize {
        self.pending.values().filter(|p| p.owner_uid == uid).count()
    }
}

/// Parses `+90s`, `+10m`, `+2h`, `+1h30m` (relative) or `HH:MM` (the next time the clock shows it,
/// in UTC or the server's zone) into a delay from `now_wall`.
pub fn parse_when(when: &str, now_wall: UnixMillis, utc: bool) -> Option<Duration> {
    if let Some(relative) = when.strip_prefix('+') {
        return parse_relative(relative);
    }
    let (h, m) = when.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let time = NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)?;
    let now_ms = i64::try_from(now_wall).ok()?;
    let due_ms = if utc {
        next_occurrence(&Utc, now_ms, time)?
    } else {
        next_occurrence(&Local, now_ms, time)?
    };
    Some(Duration::from_millis(u64::try_from(due_ms - now_ms).ok()?))
}

/// The first instant strictly after `now_ms` at which the zone's clock reads `time`, in Unix ms.
/// A time skipped by a daylight-saving jump falls on the next day that has it.
fn next_occurrence<Tz: TimeZone>(zone: &Tz, now_ms: i64, time: NaiveTime) -> Option<i64> {
    let now = zone.timestamp_millis_opt(now_ms).single()?;
    let today = now.date_naive();
    (0..3).find_map(|days| {
        let date = today.checked_add_days(Days::new(days))?;
        let candidate = zone.from_local_datetime(&date.and_time(time)).earliest()?;
        let ms = candidate.timestamp_millis();
        (ms > now_ms).then_some(ms)
    })
}

fn parse_relative(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return None; // a number without a unit
    }
    Some(Duration::from_secs(total))
}

impl Chat {
    /// `/schedule WHEN text`.
    pub(super) fn schedule(&mut self, cx: &mut Cx<'_>, when: &str, text: &str) {
        let now = cx.now;
        let horizon = self.settings.schedule_horizon;
        let delay =
            parse_when(when, now.wall, self.settings.utc).filter(|d| !d.is_zero() && *d <= horizon);
        let Some(delay) = delay else {
            let refusal = Refusal::BadTime {
                horizon_secs: horizon.as_secs(),
            };
            return cx.refuse(refusal);
        };
        let s = &self.sessions[cx.sid];
        if self.schedules.count_of(s.uid()) >= self.settings.max_schedules {
            let refusal = Refusal::TooManySchedules {
                max: self.settings.max_schedules,
            };
            return cx.refuse(refusal);
        }
        let schedule = Schedule {
            owner_uid: s.uid(),
            owner_sid: cx.sid,
            owner_nick: s.nick().clone(),
            room_name: self.rooms[s.room()].name().clone(),
            text: Arc::from(text),
            due_mono: now.mono + delay,
            due_wall: now.wall + delay.as_millis() as u64,
        };
        let due = schedule.due_mono;
        let id = self.schedules.add(schedule);
        let entry = entry_of(id, &self.schedules.pending[&id], now);
        self.timers.insert(due, ChatTimer::ScheduleDue { id });
        log::info!(nick:% = s.nick(), id, secs = delay.as_secs(); "scheduled a message");
        cx.info(Info::ScheduleSet { entry });
    }

    /// `/schedules`: the user's pending messages, soonest first.
    pub(super) fn list_schedules(&mut self, cx: &mut Cx<'_>) {
        let uid = self.sessions[cx.sid].uid();
        let mut entries: Vec<ScheduleEntry> = self
            .schedules
            .pending
            .iter()
            .filter(|(_, p)| p.owner_uid == uid)
            .map(|(&id, p)| entry_of(id, p, cx.now))
            .collect();
        entries.sort_by_key(|e| (e.due, e.id));
        cx.info(Info::Schedules { entries });
    }

    /// `/unschedule ID`: only the author's own.
    pub(super) fn unschedule(&mut self, cx: &mut Cx<'_>, id: &str) {
        let uid = self.sessions[cx.sid].uid();
        let found = id.parse::<u64>().ok().filter(|n| {
            self.schedules
                .pending
                .get(n)
                .is_some_and(|p| p.owner_uid == uid)
        });
        match found {
            Some(n) => {
                // The timer stays in the heap and finds nothing when it fires.
                self.schedules.pending.remove(&n);
                cx.info(Info::Unscheduled { id: n });
            }
            None => {
                let id = Arc::from(id);
                cx.refuse(Refusal::NoSuchSchedule { id });
            }
        }
    }

    /// Sends a due message to its room (all but the author), and confirms to the author.
    pub(super) fn schedule_due(&mut self, id: u64, now: Now, out: &mut Outbox) {
        let Some(schedule) = self.schedules.pending.remove(&id) else {
            return; // cancelled
        };
        let author = self
            .sessions
            .get(schedule.owner_sid)
            .filter(|s| s.uid() == schedule.owner_uid)
            .map(|_| schedule.owner_sid);
        let from = author.map_or(schedule.owner_nick, |sid| self.sessions[sid].nick().clone());
        let sent = match self.rooms.find(&schedule.room_name) {
            Some(room) => {
                let event = Event::Scheduled {
                    id: self.ids.next(now.wall),
                    at: now.wall,
                    room: self.rooms[room].name().clone(),
                    from,
                    text: schedule.text,
                };
                self.broadcast(room, author, event, out);
                true
            }
            // Empty rooms disappear; nobody is left to receive it, and the author should know.
            None => false,
        };
        if sent {
            self.stats.scheduled_sent += 1;
        }
        if let Some(conn) = author.and_then(|sid| self.sessions[sid].conn()) {
            let room = schedule.room_name;
            let info = if sent {
                Info::ScheduleSent { id, room }
            } else {
                Info::ScheduleUnsent { id, room }
            };
            out.send(conn, Event::Info(info));
        }
    }
}

fn entry_of(id: u64, s: &Schedule, now: Now) -> ScheduleEntry {
    ScheduleEntry {
        id,
        due: s.due_wall,
        in_secs: s.due_mono.saturating_duration_since(now.mono).as_secs(),
        room: s.room_name.clone(),
        text: s.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::testing::*;

    /// 2024-01-01T12:29:58Z.
    const NOON_ISH: UnixMillis = 1_704_112_198_000;

    #[test]
    fn relative_delays() {
        assert_eq!(parse_when("+90s", 0, true), Some(Duration::from_secs(90)));
        assert_eq!(parse_when("+10m", 0, true), Some(Duration::from_secs(600)));
        assert_eq!(parse_when("+2h", 0, true), Some(Duration::from_secs(7200)));
        assert_eq!(
            parse_when("+1h30m", 0, true),
            Some(Duration::from_secs(5400))
        );
        for bad in ["+", "+10", "+10x", "+s", "soon", "+99999999999999999999h"] {
            assert_eq!(parse_when(bad, 0, true), None, "{bad}");
        }
    }

    #[test]
    fn clock_times_are_the_next_occurrence() {
        assert_eq!(
            parse_when("12:30", NOON_ISH, true),
            Some(Duration::from_secs(2))
        );
        // 12:29 has just passed: tomorrow.
        assert_eq!(
            parse_when("12:29", NOON_ISH, true),
            Some(Duration::from_secs(24 * 3600 - 58))
        );
        assert_eq!(
            parse_when("0:00", NOON_ISH, true),
            Some(Duration::from_secs(41_402))
        );
        for bad in ["25:00", "12:60", "12:5", ":30", "1230", "ab:cd"] {
            assert_eq!(parse_when(bad, NOON_ISH, true), None, "{bad}");
        }
    }

    #[test]
    fn scheduled_messages_fire_on_time_and_can_be_cancelled() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.login(2, "bob");
        h.line(1, "/schedule +90s stand-up");
        h.line(1, "/schedule +2m coffee");
        let outs = h.line(1, "/schedule +3m too many");
        assert!(matches!(
            refusal_of(&outs),
            Some(Refusal::TooManySchedules { max: 2 })
        ));
        for bad in [
            "/schedule +0s x",
            "/schedule +25h x",
            "/schedule 24:00 x",
            "/schedule soon x",
        ] {
            assert!(
                matches!(refusal_of(&h.line(1, bad)), Some(Refusal::BadTime { .. })),
                "{bad}"
            );
        }
        h.line(1, "/unschedule 2");
        assert_eq!(
            h.chat.next_deadline(),
            Some(h.now.mono + Duration::from_secs(90))
        );
        h.advance(89);
        assert!(h.out.items.is_empty());
        h.line(1, "/quit");
        h.advance(1);
        assert!(matches!(
            &h.delivered_to(2)[..],
            [Event::Scheduled { text, from, .. }] if &**text == "stand-up" && &**from == "alice"
        ));
        h.advance(60);
        assert!(h.out.items.is_empty(), "the cancelled one never fires");
    }

    #[test]
    fn a_scheduled_message_for_a_room_that_emptied_is_reported_unsent() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.line(1, "/join games");
        h.line(1, "/schedule +1m anyone?");
        h.line(1, "/part");
        h.advance(60);
        assert!(matches!(
            &h.delivered_to(1)[..],
            [Event::Info(Info::ScheduleUnsent { id: 1, room })] if &**room == "games"
        ));
        assert_eq!(h.chat.stats.scheduled_sent, 0);
    }
}
